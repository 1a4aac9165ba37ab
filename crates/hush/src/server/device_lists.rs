//! The server's copy of each user's signed device list.

use core::fmt;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use hush_core::IdentityKey;
use hush_device::{
    CheckedDeviceList, DeviceListPolicy, KnownDeviceLists, VerifiedDeviceList,
    limits::MAX_ACCOUNT_ADDRESS_LEN,
};

use super::{Registration, lock};
use crate::Address;
use crate::error::{Error, Result};
use crate::limits::DEFAULT_MAX_DEVICE_LIST_USERS;

struct Lists {
    /// The account key each user registered with.
    accounts: BTreeMap<String, IdentityKey>,
    /// The latest accepted list of each user, as uploaded and as verified.
    lists: BTreeMap<String, (Vec<u8>, VerifiedDeviceList)>,
    /// Highest version and digest seen per user: refuses rollback and equivocation.
    known: KnownDeviceLists,
}

/// Each user's latest signed device list, as the server stores it and clients fetch it.
///
/// An upload is accepted only if it is signed by the account key registered for the
/// user ([`register_account`](Self::register_account)), its version is not lower than
/// the stored one, and a list of the same version is byte-identical
/// ([`hush_device::KnownDeviceLists`] does the checking). Clients do not trust the
/// server and verify every list themselves; this is hygiene (a server that stores only
/// valid, monotonic lists cannot be used to serve a stale one by mistake) and the place
/// clients fetch lists from.
///
/// Thread-safe (`&self` methods, one lock). An upload checks the list's signature before
/// taking the lock, so fetches never wait for a signature check. Users are
/// bounded (default [`DEFAULT_MAX_DEVICE_LIST_USERS`]) and a user name is 1 to
/// [`MAX_ACCOUNT_ADDRESS_LEN`] bytes.
///
/// ```
/// use hush::server::DeviceLists;
/// use hush_core::{IdentityKeyPair, rng::os_rng};
/// use hush_device::{DeviceList, DeviceListPolicy};
///
/// let mut rng = os_rng();
/// let now_ms = 1_700_000_000_000;
/// let account = IdentityKeyPair::generate(&mut rng);
/// let lists = DeviceLists::new();
/// lists.register_account("alice", account.identity_key())?;
///
/// // Alice's primary signs its list (just itself, version 1) and uploads it.
/// let policy = DeviceListPolicy::default();
/// let key = account.identity_key();
/// let mut list = DeviceList::new(key, b"alice", &account, 1, now_ms, policy, &mut rng)?;
/// let v1 = list.sign(&account, now_ms, &mut rng)?.encode();
/// let verified = lists.upload("alice", &v1)?;
/// assert_eq!(verified.version(), 1);
/// assert_eq!(lists.fetch("alice").as_deref(), Some(v1.as_slice()));
///
/// // Signing again (on a change, or to refresh "last seen") gives a higher version,
/// // which replaces the stored list; the older one can no longer be uploaded.
/// let v2 = list.sign(&account, now_ms + 1, &mut rng)?.encode();
/// assert_eq!(lists.upload("alice", &v2)?.version(), 2);
/// assert!(lists.upload("alice", &v1).is_err());
/// // Its devices consented to be Alice's: the list is no one else's.
/// lists.register_account("mallory", account.identity_key())?;
/// assert!(lists.upload("mallory", &v2).is_err());
/// # Ok::<(), hush::Error>(())
/// ```
pub struct DeviceLists {
    max_users: usize,
    /// The same policy as `inner.known`'s, for the checks made outside the lock.
    policy: DeviceListPolicy,
    inner: Mutex<Lists>,
}

impl Default for DeviceLists {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for DeviceLists {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            max_users,
            policy: _,
            inner,
        } = self;
        f.debug_struct("DeviceLists")
            .field("max_users", max_users)
            .field("users", &lock(inner).accounts.len())
            .finish_non_exhaustive()
    }
}

impl DeviceLists {
    /// No users yet, at most [`DEFAULT_MAX_DEVICE_LIST_USERS`] of them, and the default
    /// [`DeviceListPolicy`] (companion maximum).
    #[must_use]
    pub fn new() -> Self {
        Self::with_config(DeviceListPolicy::default(), DEFAULT_MAX_DEVICE_LIST_USERS)
    }

    /// No users yet; lists checked under `policy`; at most `max_users` users (capped at
    /// [`DEFAULT_MAX_DEVICE_LIST_USERS`], what the underlying [`KnownDeviceLists`] holds).
    #[must_use]
    pub fn with_config(policy: DeviceListPolicy, max_users: usize) -> Self {
        Self {
            max_users: max_users.min(DEFAULT_MAX_DEVICE_LIST_USERS),
            policy,
            inner: Mutex::new(Lists {
                accounts: BTreeMap::new(),
                lists: BTreeMap::new(),
                known: KnownDeviceLists::new(policy),
            }),
        }
    }

    /// Records `user`'s account key, as the server's (authenticated) account
    /// registration would. The same key again changes nothing. A different key (the
    /// account was re-created) replaces it and forgets the stored list and its version
    /// history: the next list, signed by the new key, starts afresh.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for an empty user name or one longer than
    /// [`MAX_ACCOUNT_ADDRESS_LEN`] bytes; [`Error::ServerFull`] when a new user would
    /// exceed the bound.
    pub fn register_account(&self, user: &str, account_key: IdentityKey) -> Result<Registration> {
        check_user(user)?;
        let mut inner = lock(&self.inner);
        match inner.accounts.get(user) {
            Some(key) if *key == account_key => Ok(Registration::Unchanged),
            Some(_) => {
                inner.known.forget(user.as_bytes());
                inner.lists.remove(user);
                inner.accounts.insert(user.to_owned(), account_key);
                Ok(Registration::Replaced)
            }
            None if inner.accounts.len() >= self.max_users => Err(Error::ServerFull {
                max: self.max_users,
            }),
            None => {
                inner.accounts.insert(user.to_owned(), account_key);
                Ok(Registration::New)
            }
        }
    }

    /// Forgets `user`: account key, list and version history. Returns whether the user
    /// was registered.
    pub fn remove_account(&self, user: &str) -> bool {
        let mut inner = lock(&self.inner);
        inner.known.forget(user.as_bytes());
        inner.lists.remove(user);
        inner.accounts.remove(user).is_some()
    }

    /// Verifies and stores a signed device list `user` uploaded (the encoding of a
    /// [`SignedDeviceList`](hush_device::SignedDeviceList)), returning it verified.
    ///
    /// Checks, in order: the user name; the bytes decode, the signature by the list's
    /// account key, every entry's membership signature for `user` (a device listed
    /// under an account or a user it did not consent to is refused) and the companion
    /// maximum ([`CheckedDeviceList::new`], before taking the lock); then
    /// the user is registered, the list names the registered account key, and
    /// [`KnownDeviceLists::remember`]: the version not lower than the stored one, and a
    /// list of the same version only with the same bytes (re-uploading the stored list
    /// is accepted). Nothing is stored on error.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for an empty user name or one longer than
    /// [`MAX_ACCOUNT_ADDRESS_LEN`] bytes; [`Error::Device`] with
    /// `Malformed`/`UnknownVersion` for bytes that do not decode (`UnknownVersion(1)`
    /// for a format-1 list), `BadSignature` or `TooManyCompanions`; [`Error::UnknownUser`] if no account key
    /// is registered for `user`; [`Error::Device`] with `IdentityChanged` for a list of
    /// another account key, `Rollback { seen, received }` or `Equivocation { version }`.
    pub fn upload(&self, user: &str, bytes: &[u8]) -> Result<VerifiedDeviceList> {
        check_user(user)?;
        // Structure and signatures outside the lock.
        let checked = CheckedDeviceList::new(bytes, user.as_bytes(), &self.policy)?;
        let mut inner = lock(&self.inner);
        let registered = inner.accounts.get(user).ok_or(Error::UnknownUser)?;
        if checked.account_identity() != registered {
            return Err(Error::Device(hush_device::Error::IdentityChanged));
        }
        let verified = inner.known.remember(checked)?;
        inner
            .lists
            .insert(user.to_owned(), (bytes.to_vec(), verified.clone()));
        Ok(verified)
    }

    /// The latest accepted list of `user`, as uploaded, if any.
    #[must_use]
    pub fn fetch(&self, user: &str) -> Option<Vec<u8>> {
        lock(&self.inner)
            .lists
            .get(user)
            .map(|(bytes, _)| bytes.clone())
    }

    /// Checks that a fan-out from `sender` to `user` addresses exactly the devices a
    /// client holding `user`'s latest list sends to at `now_ms`
    /// ([`VerifiedDeviceList::devices_to_send`]: the primary, and the companions while
    /// the list is fresh), less `sender` itself when it is one of `user`'s devices, each
    /// once. A server calls it before [`Mailbox::deliver_many`](super::Mailbox::deliver_many),
    /// once per user the fan-out goes to, so that a sender with a stale list learns
    /// which devices it missed or should drop instead of silently leaving a new device
    /// out (or filling a removed device's queue).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownUser`] if no list is stored for `user`;
    /// [`Error::MismatchedDevices`] with the ids left out and the ids that should not
    /// have been addressed (or were addressed twice): the sender's client fetches the
    /// list again ([`fetch`](Self::fetch)), accepts it and sends again.
    pub fn check_fan_out(
        &self,
        sender: &Address,
        user: &str,
        device_ids: &[u32],
        now_ms: u64,
    ) -> Result<()> {
        let expected: BTreeSet<u32> = {
            let inner = lock(&self.inner);
            let (_, list) = inner.lists.get(user).ok_or(Error::UnknownUser)?;
            list.devices_to_send(now_ms)
                .iter()
                .map(|entry| entry.device_id)
                .filter(|&id| sender.name() != user || id != sender.device_id())
                .collect()
        };
        let mut addressed = BTreeSet::new();
        let mut extra = BTreeSet::new();
        for &id in device_ids {
            if !addressed.insert(id) || !expected.contains(&id) {
                extra.insert(id);
            }
        }
        let missing: Vec<u32> = expected.difference(&addressed).copied().collect();
        if missing.is_empty() && extra.is_empty() {
            return Ok(());
        }
        Err(Error::MismatchedDevices {
            user: user.to_owned(),
            missing,
            extra: extra.into_iter().collect(),
        })
    }

    /// The version of `user`'s latest accepted list, if any.
    #[must_use]
    pub fn version(&self, user: &str) -> Option<u64> {
        lock(&self.inner).known.version_seen(user.as_bytes())
    }

    /// The account key registered for `user`, if any.
    #[must_use]
    pub fn account_key(&self, user: &str) -> Option<IdentityKey> {
        lock(&self.inner).accounts.get(user).copied()
    }
}

fn check_user(user: &str) -> Result<()> {
    if user.is_empty() || user.len() > MAX_ACCOUNT_ADDRESS_LEN {
        return Err(Error::InvalidArgument("user name"));
    }
    Ok(())
}
