//! Checking signed device lists: the signatures ([`CheckedDeviceList`]), the history a
//! contact remembers ([`KnownDeviceLists`]), and what a checked list answers
//! ([`VerifiedDeviceList`]).

use std::collections::BTreeMap;

use hush_core::IdentityKey;
use hush_core::kdf::hmac_sha256;

use super::{
    DeviceEntry, DeviceListPolicy, DeviceListV1, KNOWN_LISTS_VERSION, ListBody, PRIMARY_DEVICE_ID,
    SignedDeviceList,
};
use crate::codec::{Reader, check_version};
use crate::error::{Error, Result};
use crate::labels;
use crate::limits::{MAX_ACCOUNT_ADDRESS_LEN, MAX_KNOWN_ACCOUNTS};

/// A signed device list whose structure, signatures and companion count are checked
/// for one user id, not yet compared with what a [`KnownDeviceLists`] remembers: the
/// first half of [`KnownDeviceLists::verify`], which needs no access to that memory. A
/// server that keeps the memory behind a lock runs this half (the signature checks)
/// outside it and hands the result to [`KnownDeviceLists::remember`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CheckedDeviceList {
    list: SignedDeviceList,
    user_id: Vec<u8>,
}

impl CheckedDeviceList {
    /// Decodes `bytes` as the device list of `user_id` and checks, in order: the
    /// signature by the list's account key; every entry's membership signature over
    /// (account key, `user_id`, its device id); `policy`'s companion maximum. That is
    /// 1 + (number of devices) signature verifications.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`]`("account address")` for an empty `user_id` or one longer
    /// than [`MAX_ACCOUNT_ADDRESS_LEN`]; the errors of [`SignedDeviceList::decode`];
    /// [`Error::BadSignature`] (the account signature, or a membership signature: a
    /// device listed under an account or a user id it did not consent to);
    /// [`Error::TooManyCompanions`].
    pub fn new(bytes: &[u8], user_id: &[u8], policy: &DeviceListPolicy) -> Result<Self> {
        check_address(user_id)?;
        let list = SignedDeviceList::decode(bytes)?;
        if !list.signature_valid() {
            return Err(Error::BadSignature);
        }
        let account = &list.body.account;
        if !list
            .body
            .entries
            .iter()
            .all(|entry| entry.membership_valid(account, user_id))
        {
            return Err(Error::BadSignature);
        }
        check_companions(&list, policy)?;
        Ok(Self {
            list,
            user_id: user_id.to_vec(),
        })
    }

    /// The account key that signed the list.
    #[must_use]
    pub const fn account_identity(&self) -> &IdentityKey {
        self.list.account_identity()
    }

    /// The user id the list was checked for.
    #[must_use]
    pub fn user_id(&self) -> &[u8] {
        &self.user_id
    }

    /// The list's version.
    #[must_use]
    pub const fn version(&self) -> u64 {
        self.list.body.version
    }

    /// Uses the list without comparing it with a [`KnownDeviceLists`]: its signatures
    /// are checked, its history (rollback, equivocation, account-key change) is not.
    ///
    /// Only for a list whose history was checked when it was stored: a device re-reads
    /// the lists it verified and kept in its own store (the facade checks their
    /// signatures again on every read, so a list written into the store by someone else
    /// is refused, but a list it stored itself needs no second history check). Never
    /// for a list from the network: use [`KnownDeviceLists::verify`].
    #[must_use]
    pub fn assume_history_checked(self, policy: DeviceListPolicy) -> VerifiedDeviceList {
        VerifiedDeviceList {
            body: self.list.body,
            user_id: self.user_id,
            policy,
        }
    }
}

fn check_companions(list: &SignedDeviceList, policy: &DeviceListPolicy) -> Result<()> {
    let max = policy.companion_limit();
    if list.body.entries.len().saturating_sub(1) > max {
        return Err(Error::TooManyCompanions { max });
    }
    Ok(())
}

/// A device list whose signatures (for its user id) and history a [`KnownDeviceLists`]
/// has checked.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VerifiedDeviceList {
    pub(super) body: ListBody,
    pub(super) user_id: Vec<u8>,
    pub(super) policy: DeviceListPolicy,
}

impl VerifiedDeviceList {
    /// The account key that signed the list.
    #[must_use]
    pub const fn account_identity(&self) -> &IdentityKey {
        &self.body.account
    }

    /// The user id the list was verified for: every entry's membership signature names
    /// it.
    #[must_use]
    pub fn user_id(&self) -> &[u8] {
        &self.user_id
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

pub(super) fn check_address(address: &[u8]) -> Result<()> {
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

    /// Verifies a signed device list fetched for `address` (the account's user id) and
    /// remembers it.
    ///
    /// The first list for an address is trusted on first use (its account key is
    /// remembered). Checks, in order: structure, signature by the list's account key,
    /// every entry's membership signature for `address`, policy maximum, same account
    /// key as remembered, version not lower, same version only with the same bytes.
    /// Nothing is remembered on error.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`]`("account address")` for an empty address or one longer
    /// than [`MAX_ACCOUNT_ADDRESS_LEN`]; the errors of [`SignedDeviceList::decode`];
    /// [`Error::BadSignature`]; [`Error::TooManyCompanions`]; [`Error::IdentityChanged`];
    /// [`Error::Rollback`]; [`Error::Equivocation`]; [`Error::Malformed`]`("known
    /// device lists full")` when [`MAX_KNOWN_ACCOUNTS`] accounts are remembered.
    pub fn verify(&mut self, address: &[u8], bytes: &[u8]) -> Result<VerifiedDeviceList> {
        let checked = CheckedDeviceList::new(bytes, address, &self.policy)?;
        self.remember(checked)
    }

    /// The second half of [`verify`](Self::verify), for a list
    /// [`CheckedDeviceList::new`] checked for a user id: the companion maximum again
    /// (under this memory's policy), then, for that user id, same account key as
    /// remembered, version not lower, same version only with the same bytes; remembers
    /// the list. Nothing is remembered on error.
    ///
    /// # Errors
    ///
    /// As [`verify`](Self::verify), less the decoding and signature errors.
    pub fn remember(&mut self, checked: CheckedDeviceList) -> Result<VerifiedDeviceList> {
        let CheckedDeviceList { list, user_id } = checked;
        check_companions(&list, &self.policy)?;
        self.check_and_insert(
            &user_id,
            list.body.account,
            list.body.version,
            list.digest(),
        )?;
        Ok(VerifiedDeviceList {
            body: list.body,
            user_id,
            policy: self.policy,
        })
    }

    /// Verifies a format-1 list (before membership signatures; what stores written by
    /// earlier versions hold) for `address` and remembers its account key, version and
    /// digest, with the checks of [`verify`](Self::verify) (less the membership
    /// signatures, which format 1 lacks). The next list of `address`, in format 2, is
    /// then checked against it: same account key, no lower version. Returns the list,
    /// which is not to be sent to (see [`DeviceListV1`]).
    ///
    /// # Errors
    ///
    /// As [`verify`](Self::verify), with the decoding errors of
    /// [`DeviceListV1::decode`].
    pub fn verify_v1(&mut self, address: &[u8], bytes: &[u8]) -> Result<DeviceListV1> {
        check_address(address)?;
        let list = DeviceListV1::decode(bytes)?;
        list.check(&self.policy)?;
        let digest = *hmac_sha256(labels::DEVICE_LIST_DIGEST, &list.bytes);
        self.check_and_insert(address, list.account, list.version, digest)?;
        Ok(list)
    }

    fn check_and_insert(
        &mut self,
        address: &[u8],
        account: IdentityKey,
        version: u64,
        digest: [u8; 32],
    ) -> Result<()> {
        check_address(address)?;
        match self.accounts.get(address) {
            Some(known) => {
                if known.account != account {
                    return Err(Error::IdentityChanged);
                }
                if version < known.version {
                    return Err(Error::Rollback {
                        seen: known.version,
                        received: version,
                    });
                }
                if version == known.version
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
                account,
                version,
                digest,
            },
        );
        Ok(())
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
