//! Signed device lists: the primary's list of the account's devices, signed with the
//! account key, and the contact-side verifier that refuses rollback, equivocation and
//! identity changes. Layout: `docs/wire/device-list.md`.

use std::collections::BTreeMap;

use hush_core::kdf::hmac_sha256;
use hush_core::rng::CryptoRng;
use hush_core::{IdentityKey, IdentityKeyPair, Signature, VerifyingKey};

use crate::codec::{Reader, check_version};
use crate::error::{Error, Result};
use crate::labels;
use crate::limits::{
    DEFAULT_COMPANION_EXPIRY_MS, DEFAULT_MAX_COMPANIONS, MAX_ACCOUNT_ADDRESS_LEN,
    MAX_COMPANIONS_PARSED, MAX_DEVICES_PARSED, MAX_KNOWN_ACCOUNTS,
};

/// The primary's device id. Companions get 2 and up.
pub const PRIMARY_DEVICE_ID: u32 = 1;

/// Version byte of the device list bytes.
pub const DEVICE_LIST_VERSION: u8 = 1;

/// Version byte of a serialised [`KnownDeviceLists`].
pub const KNOWN_LISTS_VERSION: u8 = 1;

/// List bytes before the entries: version 1, account key 33, list version 8,
/// signed-at 8, count 1.
const HEADER_LEN: usize = 1 + 33 + 8 + 8 + 1;
/// One entry: device id 4, identity key 33, key index 4, added-at 8.
const ENTRY_LEN: usize = 4 + 33 + 4 + 8;
const SIGNATURE_LEN: usize = 64;

/// One device of an account.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DeviceEntry {
    /// The device id: [`PRIMARY_DEVICE_ID`] for the primary, 2 and up for companions.
    pub device_id: u32,
    /// The device's own identity key.
    pub identity_key: IdentityKey,
    /// The account key index the device was linked under.
    pub key_index: u32,
    /// When the device was added (ms since the Unix epoch).
    pub added_at_ms: u64,
}

impl DeviceEntry {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.device_id.to_be_bytes());
        out.extend_from_slice(&self.identity_key.encode());
        out.extend_from_slice(&self.key_index.to_be_bytes());
        out.extend_from_slice(&self.added_at_ms.to_be_bytes());
    }

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Self {
            device_id: r.u32()?,
            identity_key: r.identity_key()?,
            key_index: r.u32()?,
            added_at_ms: r.u64()?,
        })
    }
}

/// Limits on companions, applied by the primary when adding and by contacts when
/// verifying.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DeviceListPolicy {
    /// Most companions an account may have (default 4; at most
    /// [`MAX_COMPANIONS_PARSED`] can ever be encoded).
    pub max_companions: usize,
    /// Companions stop receiving once the list was signed longer ago than this
    /// (default 14 days): the primary has not been seen.
    pub companion_expiry_ms: u64,
}

impl Default for DeviceListPolicy {
    fn default() -> Self {
        Self {
            max_companions: DEFAULT_MAX_COMPANIONS,
            companion_expiry_ms: DEFAULT_COMPANION_EXPIRY_MS,
        }
    }
}

impl DeviceListPolicy {
    fn companion_limit(&self) -> usize {
        self.max_companions.min(MAX_COMPANIONS_PARSED)
    }
}

/// The primary's mutable device list.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DeviceList {
    account: IdentityKey,
    version: u64,
    last_signed_version: u64,
    entries: Vec<DeviceEntry>,
    policy: DeviceListPolicy,
}

impl DeviceList {
    /// A list holding only the primary (device 1), at version 1.
    #[must_use]
    pub fn new(
        account: IdentityKey,
        primary_identity: IdentityKey,
        key_index: u32,
        now_ms: u64,
        policy: DeviceListPolicy,
    ) -> Self {
        Self {
            account,
            version: 1,
            last_signed_version: 0,
            entries: vec![DeviceEntry {
                device_id: PRIMARY_DEVICE_ID,
                identity_key: primary_identity,
                key_index,
                added_at_ms: now_ms,
            }],
            policy,
        }
    }

    /// Rebuilds the primary's list from the last list it signed (after decoding it);
    /// the next change or signature moves to a higher version. The signature is not
    /// checked: use this only on the primary's own stored list.
    #[must_use]
    pub fn from_signed(signed: &SignedDeviceList, policy: DeviceListPolicy) -> Self {
        Self {
            account: signed.body.account,
            version: signed.body.version,
            last_signed_version: signed.body.version,
            entries: signed.body.entries.clone(),
            policy,
        }
    }

    /// The current version.
    #[must_use]
    pub const fn version(&self) -> u64 {
        self.version
    }

    /// The entries, primary first, in increasing device-id order.
    #[must_use]
    pub fn devices(&self) -> &[DeviceEntry] {
        &self.entries
    }

    /// The id to give the next companion: one more than the highest on the list.
    #[must_use]
    pub fn next_device_id(&self) -> u32 {
        self.entries
            .iter()
            .map(|e| e.device_id)
            .max()
            .unwrap_or(PRIMARY_DEVICE_ID)
            .saturating_add(1)
    }

    /// Checks that one more companion fits the policy.
    ///
    /// # Errors
    ///
    /// [`Error::TooManyCompanions`].
    pub fn check_room(&self) -> Result<()> {
        let max = self.policy.companion_limit();
        if self.entries.len().saturating_sub(1) >= max {
            return Err(Error::TooManyCompanions { max });
        }
        Ok(())
    }

    fn bump(&mut self) -> Result<()> {
        self.version = self
            .version
            .checked_add(1)
            .ok_or(Error::Malformed("device list version"))?;
        Ok(())
    }

    /// Adds a companion (typically [`crate::LinkedCompanion::entry`]) and bumps the
    /// version.
    ///
    /// # Errors
    ///
    /// [`Error::TooManyCompanions`]; [`Error::DuplicateDevice`] if the id (or the
    /// identity key) is already on the list, or the id is 0 or 1.
    pub fn add_companion(&mut self, entry: DeviceEntry) -> Result<()> {
        self.check_room()?;
        if entry.device_id == 0
            || entry.device_id == PRIMARY_DEVICE_ID
            || self
                .entries
                .iter()
                .any(|e| e.device_id == entry.device_id || e.identity_key == entry.identity_key)
        {
            return Err(Error::DuplicateDevice(entry.device_id));
        }
        self.bump()?;
        let at = self
            .entries
            .iter()
            .position(|e| e.device_id > entry.device_id)
            .unwrap_or(self.entries.len());
        self.entries.insert(at, entry);
        Ok(())
    }

    /// Removes a companion and bumps the version.
    ///
    /// # Errors
    ///
    /// [`Error::CannotRemovePrimary`] for device 1; [`Error::UnknownDevice`] if the id
    /// is not on the list.
    pub fn remove(&mut self, device_id: u32) -> Result<DeviceEntry> {
        if device_id == PRIMARY_DEVICE_ID {
            return Err(Error::CannotRemovePrimary);
        }
        let at = self
            .entries
            .iter()
            .position(|e| e.device_id == device_id)
            .ok_or(Error::UnknownDevice)?;
        self.bump()?;
        Ok(self.entries.remove(at))
    }

    /// Signs the list with the account key at `now_ms` (the "primary last seen" time
    /// contacts use for companion expiry). Every signature covers its own version: if
    /// this version was already signed, the version is bumped first.
    ///
    /// # Errors
    ///
    /// [`Error::WrongIdentityKey`] if `account` is not the list's account key.
    pub fn sign<R: CryptoRng + ?Sized>(
        &mut self,
        account: &IdentityKeyPair,
        now_ms: u64,
        rng: &mut R,
    ) -> Result<SignedDeviceList> {
        if account.identity_key() != self.account {
            return Err(Error::WrongIdentityKey);
        }
        if self.last_signed_version >= self.version {
            self.bump()?;
        }
        let body = ListBody {
            account: self.account,
            version: self.version,
            signed_at_ms: now_ms,
            entries: self.entries.clone(),
        };
        let bytes = body.encode();
        let signature = account.sign(&signed_bytes(&bytes), rng);
        self.last_signed_version = self.version;
        Ok(SignedDeviceList {
            body,
            bytes,
            signature,
        })
    }
}

fn signed_bytes(list_bytes: &[u8]) -> Vec<u8> {
    [&labels::DEVICE_LIST_SIGNATURE_PREFIX[..], list_bytes].concat()
}

#[derive(Clone, PartialEq, Eq, Debug)]
struct ListBody {
    account: IdentityKey,
    version: u64,
    signed_at_ms: u64,
    entries: Vec<DeviceEntry>,
}

impl ListBody {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.entries.len() * ENTRY_LEN);
        out.push(DEVICE_LIST_VERSION);
        out.extend_from_slice(&self.account.encode());
        out.extend_from_slice(&self.version.to_be_bytes());
        out.extend_from_slice(&self.signed_at_ms.to_be_bytes());
        out.push(u8::try_from(self.entries.len()).unwrap_or(u8::MAX));
        for e in &self.entries {
            e.write(&mut out);
        }
        out
    }
}

/// A device list with the account's signature, as the server stores and contacts fetch
/// it. Decoding checks structure only; [`KnownDeviceLists::verify`] checks the
/// signature and history.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SignedDeviceList {
    body: ListBody,
    bytes: Vec<u8>,
    signature: Signature,
}

impl SignedDeviceList {
    /// The wire form: list bytes, then the 64-byte signature.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        [self.bytes.as_slice(), self.signature.as_bytes()].concat()
    }

    /// Decodes the wire form.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownVersion`]; [`Error::Malformed`]`("device list")` for a count of 0
    /// or above [`MAX_DEVICES_PARSED`], a length that does not match the count, a bad
    /// identity key, a first entry that is not device 1, device ids not strictly
    /// increasing, or two entries with the same identity key.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "device list";
        check_version(bytes, DEVICE_LIST_VERSION, WHAT)?;
        let mut r = Reader::new(bytes, WHAT);
        r.u8()?;
        let account = r.identity_key()?;
        let version = r.u64()?;
        let signed_at_ms = r.u64()?;
        let count = usize::from(r.u8()?);
        if count == 0
            || count > MAX_DEVICES_PARSED
            || r.remaining() != count * ENTRY_LEN + SIGNATURE_LEN
        {
            return Err(Error::Malformed(WHAT));
        }
        let mut entries: Vec<DeviceEntry> = Vec::with_capacity(count);
        for _ in 0..count {
            let entry = DeviceEntry::read(&mut r)?;
            let ordered = match entries.last() {
                None => entry.device_id == PRIMARY_DEVICE_ID,
                Some(prev) => prev.device_id < entry.device_id,
            };
            if !ordered || entries.iter().any(|e| e.identity_key == entry.identity_key) {
                return Err(Error::Malformed(WHAT));
            }
            entries.push(entry);
        }
        let list_len = bytes.len().saturating_sub(SIGNATURE_LEN);
        let signature = r.signature()?;
        r.finish()?;
        let list_bytes = bytes.get(..list_len).ok_or(Error::Malformed(WHAT))?;
        Ok(Self {
            body: ListBody {
                account,
                version,
                signed_at_ms,
                entries,
            },
            bytes: list_bytes.to_vec(),
            signature,
        })
    }

    /// The account key the list claims to be signed by.
    #[must_use]
    pub const fn account_identity(&self) -> &IdentityKey {
        &self.body.account
    }

    /// The list version.
    #[must_use]
    pub const fn version(&self) -> u64 {
        self.body.version
    }

    /// The devices, primary first.
    #[must_use]
    pub fn devices(&self) -> &[DeviceEntry] {
        &self.body.entries
    }

    /// When the primary signed the list (ms since the Unix epoch). Not verified.
    #[must_use]
    pub const fn signed_at_ms(&self) -> u64 {
        self.body.signed_at_ms
    }

    /// Treats this list as verified without checking its signature or its history
    /// again, to use [`VerifiedDeviceList::devices_to_send`] and
    /// [`VerifiedDeviceList::check_device`] on it.
    ///
    /// Only for a list this device already verified — through
    /// [`KnownDeviceLists::verify`], or because it signed the list itself — and kept in
    /// its own store since (the facade re-reads verified lists on every send, and a
    /// signature check per recipient would cost more than the encryption). Never call it
    /// on bytes that came from the network.
    #[must_use]
    pub fn assume_verified(self, policy: DeviceListPolicy) -> VerifiedDeviceList {
        VerifiedDeviceList {
            body: self.body,
            policy,
        }
    }

    fn signature_valid(&self) -> bool {
        VerifyingKey::new(self.body.account.public_key())
            .verify(&signed_bytes(&self.bytes), &self.signature)
    }

    fn digest(&self) -> [u8; 32] {
        *hmac_sha256(labels::DEVICE_LIST_DIGEST, &self.bytes)
    }
}

/// A signed device list whose structure, signature and companion count are checked,
/// not yet compared with what a [`KnownDeviceLists`] remembers: the first half of
/// [`KnownDeviceLists::verify`], which needs no access to that memory. A server that
/// keeps the memory behind a lock runs this half (the signature check) outside it and
/// hands the result to [`KnownDeviceLists::remember`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CheckedDeviceList {
    list: SignedDeviceList,
}

impl CheckedDeviceList {
    /// Decodes `bytes` and checks the signature by the list's account key and
    /// `policy`'s companion maximum.
    ///
    /// # Errors
    ///
    /// The errors of [`SignedDeviceList::decode`]; [`Error::BadSignature`];
    /// [`Error::TooManyCompanions`].
    pub fn new(bytes: &[u8], policy: &DeviceListPolicy) -> Result<Self> {
        let list = SignedDeviceList::decode(bytes)?;
        if !list.signature_valid() {
            return Err(Error::BadSignature);
        }
        check_companions(&list, policy)?;
        Ok(Self { list })
    }

    /// The account key that signed the list.
    #[must_use]
    pub const fn account_identity(&self) -> &IdentityKey {
        self.list.account_identity()
    }

    /// The list's version.
    #[must_use]
    pub const fn version(&self) -> u64 {
        self.list.body.version
    }
}

fn check_companions(list: &SignedDeviceList, policy: &DeviceListPolicy) -> Result<()> {
    let max = policy.companion_limit();
    if list.body.entries.len().saturating_sub(1) > max {
        return Err(Error::TooManyCompanions { max });
    }
    Ok(())
}

/// A device list whose signature and history a [`KnownDeviceLists`] has checked.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VerifiedDeviceList {
    body: ListBody,
    policy: DeviceListPolicy,
}

impl VerifiedDeviceList {
    /// The account key that signed the list.
    #[must_use]
    pub const fn account_identity(&self) -> &IdentityKey {
        &self.body.account
    }

    /// The list version.
    #[must_use]
    pub const fn version(&self) -> u64 {
        self.body.version
    }

    /// When the primary signed the list (ms since the Unix epoch).
    #[must_use]
    pub const fn signed_at_ms(&self) -> u64 {
        self.body.signed_at_ms
    }

    /// Every device on the list, primary first.
    #[must_use]
    pub fn devices(&self) -> &[DeviceEntry] {
        &self.body.entries
    }

    fn companions_fresh(&self, now_ms: u64) -> bool {
        now_ms.saturating_sub(self.body.signed_at_ms) <= self.policy.companion_expiry_ms
    }

    /// The devices that may receive messages at `now_ms`: the primary always; the
    /// companions only while the list is no older than the policy's companion expiry.
    #[must_use]
    pub fn devices_to_send(&self, now_ms: u64) -> Vec<DeviceEntry> {
        let fresh = self.companions_fresh(now_ms);
        self.body
            .entries
            .iter()
            .filter(|e| e.device_id == PRIMARY_DEVICE_ID || fresh)
            .copied()
            .collect()
    }

    /// Checks that a device (id and identity key) may receive at `now_ms`.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownDevice`] if no entry has this id and key;
    /// [`Error::CompanionExpired`] for a companion of a stale list.
    pub fn check_device(
        &self,
        device_id: u32,
        identity_key: &IdentityKey,
        now_ms: u64,
    ) -> Result<&DeviceEntry> {
        let entry = self
            .body
            .entries
            .iter()
            .find(|e| e.device_id == device_id && e.identity_key == *identity_key)
            .ok_or(Error::UnknownDevice)?;
        if entry.device_id != PRIMARY_DEVICE_ID && !self.companions_fresh(now_ms) {
            return Err(Error::CompanionExpired);
        }
        Ok(entry)
    }
}

fn check_address(address: &[u8]) -> Result<()> {
    if address.is_empty() || address.len() > MAX_ACCOUNT_ADDRESS_LEN {
        return Err(Error::Malformed("account address"));
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Known {
    account: IdentityKey,
    version: u64,
    digest: [u8; 32],
}

/// A contact's memory of other accounts' device lists: per account address, the
/// account key, the highest version seen and a digest of that version's bytes.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct KnownDeviceLists {
    accounts: BTreeMap<Vec<u8>, Known>,
    policy: DeviceListPolicy,
}

impl KnownDeviceLists {
    /// Remembers nothing yet.
    #[must_use]
    pub const fn new(policy: DeviceListPolicy) -> Self {
        Self {
            accounts: BTreeMap::new(),
            policy,
        }
    }

    /// How many accounts are remembered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    /// Whether no account is remembered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    /// The highest version seen for `address`.
    #[must_use]
    pub fn version_seen(&self, address: &[u8]) -> Option<u64> {
        self.accounts.get(address).map(|k| k.version)
    }

    /// Forgets `address` (after the user accepted an identity change); the next list
    /// for it is trusted on first use again.
    pub fn forget(&mut self, address: &[u8]) {
        self.accounts.remove(address);
    }

    /// Verifies a signed device list fetched for `address` and remembers it.
    ///
    /// The first list for an address is trusted on first use (its account key is
    /// remembered). Checks, in order: structure, signature by the list's account key,
    /// policy maximum, same account key as remembered, version not lower, same version
    /// only with the same bytes. Nothing is remembered on error.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`]`("account address")` for an empty address or one longer
    /// than [`MAX_ACCOUNT_ADDRESS_LEN`]; the errors of [`SignedDeviceList::decode`];
    /// [`Error::BadSignature`]; [`Error::TooManyCompanions`]; [`Error::IdentityChanged`];
    /// [`Error::Rollback`]; [`Error::Equivocation`]; [`Error::Malformed`]`("known
    /// device lists full")` when [`MAX_KNOWN_ACCOUNTS`] accounts are remembered.
    pub fn verify(&mut self, address: &[u8], bytes: &[u8]) -> Result<VerifiedDeviceList> {
        check_address(address)?;
        let checked = CheckedDeviceList::new(bytes, &self.policy)?;
        self.remember(address, checked)
    }

    /// The second half of [`verify`](Self::verify), for a list
    /// [`CheckedDeviceList::new`] checked: the companion maximum again (under this
    /// memory's policy), then same account key as remembered, version not lower, same
    /// version only with the same bytes; remembers the list. Nothing is remembered on
    /// error.
    ///
    /// # Errors
    ///
    /// As [`verify`](Self::verify), less the decoding and signature errors.
    pub fn remember(
        &mut self,
        address: &[u8],
        checked: CheckedDeviceList,
    ) -> Result<VerifiedDeviceList> {
        check_address(address)?;
        let CheckedDeviceList { list } = checked;
        check_companions(&list, &self.policy)?;
        let digest = list.digest();
        match self.accounts.get(address) {
            Some(known) => {
                if known.account != list.body.account {
                    return Err(Error::IdentityChanged);
                }
                if list.body.version < known.version {
                    return Err(Error::Rollback {
                        seen: known.version,
                        received: list.body.version,
                    });
                }
                if list.body.version == known.version
                    && !hush_core::kdf::constant_time_eq(&known.digest, &digest)
                {
                    return Err(Error::Equivocation {
                        version: known.version,
                    });
                }
            }
            None if self.accounts.len() >= MAX_KNOWN_ACCOUNTS => {
                return Err(Error::Malformed("known device lists full"));
            }
            None => {}
        }
        self.accounts.insert(
            address.to_vec(),
            Known {
                account: list.body.account,
                version: list.body.version,
                digest,
            },
        );
        Ok(VerifiedDeviceList {
            body: list.body,
            policy: self.policy,
        })
    }

    /// The serialised form: version, count u32 BE, then per account (in increasing
    /// address order) address length u8, address, account key 33, version u64 BE,
    /// digest 32.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(5 + self.accounts.len() * 100);
        out.push(KNOWN_LISTS_VERSION);
        out.extend_from_slice(
            &u32::try_from(self.accounts.len())
                .unwrap_or(u32::MAX)
                .to_be_bytes(),
        );
        for (address, known) in &self.accounts {
            out.push(u8::try_from(address.len()).unwrap_or(u8::MAX));
            out.extend_from_slice(address);
            out.extend_from_slice(&known.account.encode());
            out.extend_from_slice(&known.version.to_be_bytes());
            out.extend_from_slice(&known.digest);
        }
        out
    }

    /// Decodes [`KnownDeviceLists::encode`]'s form, to be used with `policy`.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownVersion`]; [`Error::Malformed`]`("known device lists")` for a
    /// count above [`MAX_KNOWN_ACCOUNTS`] or beyond what the input can hold, an empty or
    /// over-long address, addresses not strictly increasing, a bad key, trailing bytes.
    pub fn decode(bytes: &[u8], policy: DeviceListPolicy) -> Result<Self> {
        const WHAT: &str = "known device lists";
        const MIN_ENTRY: usize = 1 + 1 + 33 + 8 + 32;
        check_version(bytes, KNOWN_LISTS_VERSION, WHAT)?;
        let mut r = Reader::new(bytes, WHAT);
        r.u8()?;
        let count = usize::try_from(r.u32()?).map_err(|_| Error::Malformed(WHAT))?;
        if count > MAX_KNOWN_ACCOUNTS || count > r.remaining() / MIN_ENTRY {
            return Err(Error::Malformed(WHAT));
        }
        let mut accounts = BTreeMap::new();
        let mut last: Option<&[u8]> = None;
        for _ in 0..count {
            let len = usize::from(r.u8()?);
            if len == 0 || len > MAX_ACCOUNT_ADDRESS_LEN {
                return Err(Error::Malformed(WHAT));
            }
            let address = r.take(len)?;
            if last.is_some_and(|l| l >= address) {
                return Err(Error::Malformed(WHAT));
            }
            last = Some(address);
            let known = Known {
                account: r.identity_key()?,
                version: r.u64()?,
                digest: r.array()?,
            };
            accounts.insert(address.to_vec(), known);
        }
        r.finish()?;
        Ok(Self { accounts, policy })
    }
}
