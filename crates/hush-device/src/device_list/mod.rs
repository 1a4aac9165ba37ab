//! Signed device lists: the primary's list of the account's devices, signed with the
//! account key, each entry carrying the device's own membership signature, and the
//! contact-side verifier that refuses rollback, equivocation and identity changes.
//! Layout: `docs/wire/device-list.md`.

mod v1;
mod verify;

use hush_core::kdf::hmac_sha256;
use hush_core::rng::CryptoRng;
use hush_core::{IdentityKey, IdentityKeyPair, Signature, VerifyingKey};

use crate::codec::{Reader, check_version};
use crate::error::{Error, Result};
use crate::labels;
use crate::limits::{
    DEFAULT_COMPANION_EXPIRY_MS, DEFAULT_MAX_COMPANIONS, MAX_COMPANIONS_PARSED, MAX_DEVICES_PARSED,
};

pub use v1::{DeviceEntryV1, DeviceListV1};
pub use verify::{CheckedDeviceList, KnownDeviceLists, VerifiedDeviceList};

use verify::check_address;

/// The primary's device id. Companions get 2 and up.
pub const PRIMARY_DEVICE_ID: u32 = 1;

/// Version byte of the device list bytes (format 2: entries carry membership
/// signatures). Format 1 is read only by [`DeviceListV1`].
pub const DEVICE_LIST_VERSION: u8 = 2;

/// Version byte of a format-1 device list ([`DeviceListV1`]).
pub const DEVICE_LIST_V1_VERSION: u8 = 1;

/// Version byte of a serialised [`KnownDeviceLists`].
pub const KNOWN_LISTS_VERSION: u8 = 1;

/// List bytes before the entries: version 1, account key 33, list version 8,
/// signed-at 8, count 1.
const HEADER_LEN: usize = 1 + 33 + 8 + 8 + 1;
/// One format-1 entry: device id 4, identity key 33, key index 4, added-at 8.
const ENTRY_V1_LEN: usize = 4 + 33 + 4 + 8;
/// One entry: the format-1 fields, then the membership signature 64.
const ENTRY_LEN: usize = ENTRY_V1_LEN + SIGNATURE_LEN;
const SIGNATURE_LEN: usize = 64;

/// The bytes a device signs to consent to being `device_id` of the account of
/// `account` under the user id `user_id`: `06 03 || account key (33) || device id (u32
/// BE) || user id length (u8) || user id`.
fn membership_signed_bytes(account: &IdentityKey, user_id: &[u8], device_id: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + 33 + 4 + 1 + user_id.len());
    out.extend_from_slice(&labels::MEMBERSHIP_SIGNATURE_PREFIX);
    out.extend_from_slice(&account.encode());
    out.extend_from_slice(&device_id.to_be_bytes());
    // The user id was checked to be at most MAX_ACCOUNT_ADDRESS_LEN bytes.
    out.push(u8::try_from(user_id.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(user_id);
    out
}

/// A device's **membership signature**: with its own identity key, it consents to being
/// device `device_id` of the account whose key is `account`, under the user id
/// `user_id` (`docs/wire/device-list.md`). Every entry of a device list carries one, so
/// a list cannot name a device (an identity key) that did not agree to belong to that
/// account and user: a server cannot list Alice's device key under Mallory's account.
/// A companion makes it during linking ([`crate::CompanionLinking::receive`]); the
/// primary for itself in [`DeviceList::new`].
///
/// # Errors
///
/// [`Error::Malformed`]`("account address")` for an empty user id or one longer than
/// [`MAX_ACCOUNT_ADDRESS_LEN`](crate::limits::MAX_ACCOUNT_ADDRESS_LEN).
pub fn sign_membership<R: CryptoRng + ?Sized>(
    device: &IdentityKeyPair,
    account: &IdentityKey,
    user_id: &[u8],
    device_id: u32,
    rng: &mut R,
) -> Result<Signature> {
    check_address(user_id)?;
    Ok(device.sign(&membership_signed_bytes(account, user_id, device_id), rng))
}

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
    /// The device's [membership signature](sign_membership) over (account key, user id,
    /// device id), by `identity_key`.
    pub membership_signature: Signature,
}

impl DeviceEntry {
    /// Whether the membership signature is `identity_key`'s over (`account`, `user_id`,
    /// `device_id`).
    #[must_use]
    pub fn membership_valid(&self, account: &IdentityKey, user_id: &[u8]) -> bool {
        self.identity_key.verify(
            &membership_signed_bytes(account, user_id, self.device_id),
            &self.membership_signature,
        )
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.device_id.to_be_bytes());
        out.extend_from_slice(&self.identity_key.encode());
        out.extend_from_slice(&self.key_index.to_be_bytes());
        out.extend_from_slice(&self.added_at_ms.to_be_bytes());
        out.extend_from_slice(self.membership_signature.as_bytes());
    }

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Self {
            device_id: r.u32()?,
            identity_key: r.identity_key()?,
            key_index: r.u32()?,
            added_at_ms: r.u64()?,
            membership_signature: r.signature()?,
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

/// The primary's mutable device list for one account (account key and user id).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DeviceList {
    account: IdentityKey,
    user_id: Vec<u8>,
    version: u64,
    last_signed_version: u64,
    entries: Vec<DeviceEntry>,
    policy: DeviceListPolicy,
}

impl DeviceList {
    /// A list holding only the primary (device 1), at version 1, for the account of
    /// `account` under `user_id`. The primary's entry is signed by `primary` (its
    /// [membership signature](sign_membership)); `primary` may be the account key pair
    /// itself. Draws 64 bytes from `rng`.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`]`("account address")` for an empty user id or one longer than
    /// [`MAX_ACCOUNT_ADDRESS_LEN`](crate::limits::MAX_ACCOUNT_ADDRESS_LEN).
    pub fn new<R: CryptoRng + ?Sized>(
        account: IdentityKey,
        user_id: &[u8],
        primary: &IdentityKeyPair,
        key_index: u32,
        now_ms: u64,
        policy: DeviceListPolicy,
        rng: &mut R,
    ) -> Result<Self> {
        let membership_signature =
            sign_membership(primary, &account, user_id, PRIMARY_DEVICE_ID, rng)?;
        Ok(Self {
            account,
            user_id: user_id.to_vec(),
            version: 1,
            last_signed_version: 0,
            entries: vec![DeviceEntry {
                device_id: PRIMARY_DEVICE_ID,
                identity_key: primary.identity_key(),
                key_index,
                added_at_ms: now_ms,
                membership_signature,
            }],
            policy,
        })
    }

    /// Rebuilds the primary's list from the last list it signed, verified (the primary
    /// re-reads its own stored list through [`CheckedDeviceList::new`]); the next
    /// change or signature moves to a higher version.
    #[must_use]
    pub fn from_verified(verified: &VerifiedDeviceList, policy: DeviceListPolicy) -> Self {
        Self {
            account: verified.body.account,
            user_id: verified.user_id.clone(),
            version: verified.body.version,
            last_signed_version: verified.body.version,
            entries: verified.body.entries.clone(),
            policy,
        }
    }

    /// The primary's list in this format, made from the format-1 list it signed last
    /// (what a store written by an earlier version holds): the primary alone, its entry
    /// signed anew by `primary` for `user_id`, at the format-1 list's version (the next
    /// signature moves to a higher one, so contacts see no rollback). The companions are
    /// dropped: a format-1 entry carries no membership signature, and only the companion
    /// can make one, so each companion links again. Draws 64 bytes from `rng`.
    ///
    /// # Errors
    ///
    /// [`Error::WrongIdentityKey`] if `primary` is not the format-1 list's device 1;
    /// [`Error::Malformed`]`("account address")` for a bad user id.
    pub fn from_v1<R: CryptoRng + ?Sized>(
        v1: &DeviceListV1,
        user_id: &[u8],
        primary: &IdentityKeyPair,
        policy: DeviceListPolicy,
        rng: &mut R,
    ) -> Result<Self> {
        let first = v1.primary();
        if first.identity_key != primary.identity_key() {
            return Err(Error::WrongIdentityKey);
        }
        let mut list = Self::new(
            v1.account,
            user_id,
            primary,
            first.key_index,
            first.added_at_ms,
            policy,
            rng,
        )?;
        list.version = v1.version;
        list.last_signed_version = v1.version;
        Ok(list)
    }

    /// The user id the list is for.
    #[must_use]
    pub fn user_id(&self) -> &[u8] {
        &self.user_id
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
    /// identity key) is already on the list, or the id is 0 or 1;
    /// [`Error::BadSignature`] if the entry's membership signature is not its device's
    /// over this list's account key, user id and the entry's device id.
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
        if !entry.membership_valid(&self.account, &self.user_id) {
            return Err(Error::BadSignature);
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
struct ListBody<E = DeviceEntry> {
    account: IdentityKey,
    version: u64,
    signed_at_ms: u64,
    entries: Vec<E>,
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

    /// Decodes the wire form (format 2; a format-1 list is read by
    /// [`DeviceListV1::decode`]).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownVersion`] (`UnknownVersion(1)` for a format-1 list);
    /// [`Error::Malformed`]`("device list")` for a count of 0 or above
    /// [`MAX_DEVICES_PARSED`], a length that does not match the count, a bad identity
    /// key, a first entry that is not device 1, device ids not strictly increasing, or
    /// two entries with the same identity key.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let (body, bytes, signature) =
            decode_signed(bytes, DEVICE_LIST_VERSION, DeviceEntry::read)?;
        Ok(Self {
            body,
            bytes,
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

    fn signature_valid(&self) -> bool {
        signature_valid(&self.body.account, &self.bytes, &self.signature)
    }

    fn digest(&self) -> [u8; 32] {
        *hmac_sha256(labels::DEVICE_LIST_DIGEST, &self.bytes)
    }
}

fn signature_valid(account: &IdentityKey, list_bytes: &[u8], signature: &Signature) -> bool {
    VerifyingKey::new(account.public_key()).verify(&signed_bytes(list_bytes), signature)
}

/// Decodes a signed list of format `version` whose entries `read_entry` reads: the
/// body, the list bytes (without the signature) and the signature.
fn decode_signed<E: Entry>(
    bytes: &[u8],
    version: u8,
    read_entry: impl Fn(&mut Reader<'_>) -> Result<E>,
) -> Result<(ListBody<E>, Vec<u8>, Signature)> {
    const WHAT: &str = "device list";
    check_version(bytes, version, WHAT)?;
    let mut r = Reader::new(bytes, WHAT);
    r.u8()?;
    let account = r.identity_key()?;
    let list_version = r.u64()?;
    let signed_at_ms = r.u64()?;
    let count = usize::from(r.u8()?);
    if count == 0 || count > MAX_DEVICES_PARSED || r.remaining() != count * E::LEN + SIGNATURE_LEN {
        return Err(Error::Malformed(WHAT));
    }
    let mut entries: Vec<E> = Vec::with_capacity(count);
    for _ in 0..count {
        let entry = read_entry(&mut r)?;
        let ordered = match entries.last() {
            None => entry.device_id() == PRIMARY_DEVICE_ID,
            Some(prev) => prev.device_id() < entry.device_id(),
        };
        if !ordered
            || entries
                .iter()
                .any(|e| e.identity_key() == entry.identity_key())
        {
            return Err(Error::Malformed(WHAT));
        }
        entries.push(entry);
    }
    let list_len = bytes.len().saturating_sub(SIGNATURE_LEN);
    let signature = r.signature()?;
    r.finish()?;
    let list_bytes = bytes.get(..list_len).ok_or(Error::Malformed(WHAT))?;
    Ok((
        ListBody {
            account,
            version: list_version,
            signed_at_ms,
            entries,
        },
        list_bytes.to_vec(),
        signature,
    ))
}

/// What the decoder needs of an entry of either format.
trait Entry {
    /// Bytes per entry.
    const LEN: usize;
    fn device_id(&self) -> u32;
    fn identity_key(&self) -> &IdentityKey;
}

impl Entry for DeviceEntry {
    const LEN: usize = ENTRY_LEN;
    fn device_id(&self) -> u32 {
        self.device_id
    }
    fn identity_key(&self) -> &IdentityKey {
        &self.identity_key
    }
}
