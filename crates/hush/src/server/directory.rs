//! The server's prekey directory: per device, the identity key and registration id it
//! registered with, and its stored public prekeys.

use core::fmt;
use std::collections::BTreeMap;
use std::sync::Mutex;

use hush_core::IdentityKey;
use hush_core::rng::CryptoRng;
use hush_prekey::{BundleChoice, DeviceKeys, UploadPolicy, ValidatedUpload, validate_upload};

use super::{Registration, lock};
use crate::Address;
use crate::error::{Error, Result};
use crate::limits::{
    DEFAULT_MAX_DEVICES_PER_USER, MAX_STORED_KEM_PREKEYS, MAX_STORED_ONE_TIME_PREKEYS,
};

/// Bounds of a [`PreKeyDirectory`]. `Default` takes them from [`crate::limits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DirectoryLimits {
    /// Most devices one user may register
    /// ([`DEFAULT_MAX_DEVICES_PER_USER`] by default).
    pub max_devices_per_user: usize,
    /// Most users, if bounded (`None`, unbounded, by default: a real server bounds
    /// accounts elsewhere).
    pub max_users: Option<usize>,
    /// Most one-time EC prekeys stored per device ([`MAX_STORED_ONE_TIME_PREKEYS`]).
    pub max_stored_one_time_prekeys: usize,
    /// Most one-time KEM prekeys stored per device ([`MAX_STORED_KEM_PREKEYS`]).
    pub max_stored_kem_prekeys: usize,
}

impl Default for DirectoryLimits {
    fn default() -> Self {
        Self {
            max_devices_per_user: DEFAULT_MAX_DEVICES_PER_USER,
            max_users: None,
            max_stored_one_time_prekeys: MAX_STORED_ONE_TIME_PREKEYS,
            max_stored_kem_prekeys: MAX_STORED_KEM_PREKEYS,
        }
    }
}

/// How many prekeys the server holds for one device: what a client compares with its
/// `hush_prekey::RotationPolicy` to decide whether to upload more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PreKeyCounts {
    /// One-time EC prekeys left.
    pub one_time_prekeys: usize,
    /// One-time KEM prekeys left.
    pub kem_prekeys: usize,
    /// The id of the stored signed EC prekey, if any.
    pub signed_prekey_id: Option<u32>,
    /// The id of the stored last-resort KEM prekey, if any.
    pub last_resort_kem_prekey_id: Option<u32>,
}

impl PreKeyCounts {
    fn of(keys: &DeviceKeys) -> Self {
        Self {
            one_time_prekeys: keys.one_time_prekey_count(),
            kem_prekeys: keys.kem_prekey_count(),
            signed_prekey_id: keys.signed_prekey().map(hush_prekey::SignedPreKey::id),
            last_resort_kem_prekey_id: keys
                .last_resort_kem_prekey()
                .map(hush_prekey::KemPreKey::id),
        }
    }
}

/// What [`PreKeyDirectory::upload`] stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadSummary {
    /// The id of the signed EC prekey the upload installed, if it carried one.
    pub signed_prekey_id: Option<u32>,
    /// The id of the last-resort KEM prekey the upload installed, if it carried one.
    pub last_resort_kem_prekey_id: Option<u32>,
    /// How many one-time EC prekeys the upload carried.
    pub one_time_prekeys_uploaded: usize,
    /// How many one-time KEM prekeys the upload carried.
    pub kem_prekeys_uploaded: usize,
    /// What the server holds for the device afterwards.
    pub counts: PreKeyCounts,
}

/// One bundle handed out by [`PreKeyDirectory::take_bundle`], with what it used up.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BundleHandout {
    /// The encoded `hush_prekey::PreKeyBundle` (see `docs/wire/prekeys.md`).
    pub bundle: Vec<u8>,
    /// Whether the bundle carries a one-time EC prekey (which the server deleted).
    pub used_one_time_prekey: bool,
    /// Whether the bundle fell back to the last-resort KEM prekey (no one-time KEM
    /// prekey was left).
    pub used_last_resort: bool,
    /// What the server holds for the device afterwards.
    pub counts: PreKeyCounts,
}

impl BundleHandout {
    fn new(choice: &BundleChoice, counts: PreKeyCounts) -> Self {
        Self {
            bundle: choice.bundle().encode(),
            used_one_time_prekey: choice.consumed_one_time_prekey().is_some(),
            used_last_resort: choice.used_last_resort(),
            counts,
        }
    }
}

struct DeviceRecord {
    identity_key: IdentityKey,
    registration_id: u32,
    /// Bumped whenever the record is replaced, so that an upload validated against an
    /// older registration is not applied to a newer one.
    generation: u64,
    keys: DeviceKeys,
}

#[derive(Default)]
struct Directory {
    users: BTreeMap<String, BTreeMap<u32, DeviceRecord>>,
    next_generation: u64,
}

/// The server's per-device prekey state: for each [`Address`], the identity key and
/// registration id the device registered with, and its stored public prekeys (a
/// [`hush_prekey::DeviceKeys`]).
///
/// - [`register_device`](Self::register_device) records (or replaces) a device.
/// - [`upload`](Self::upload) validates an upload with [`hush_prekey::validate_upload`]
///   (batch signature verification, every problem listed) against the registered
///   identity key and stores it.
/// - [`bundle`](Self::bundle) / [`take_bundle`](Self::take_bundle) hand out one
///   `PreKeyBundle`, deleting the one-time EC and KEM prekeys it used (the last-resort
///   KEM prekey stays and is reused once the one-time ones run out);
///   [`bundles_for_user`](Self::bundles_for_user) does so for every device of a user.
/// - [`counts`](Self::counts) tells a client when to top up.
///
/// Thread-safe: every method takes `&self`. Upload validation (the expensive part) runs
/// outside the lock; an upload is applied only if the device was not re-registered in
/// the meantime. Bounded by [`DirectoryLimits`].
///
/// ```
/// use hush::Address;
/// use hush::server::{PreKeyDirectory, Registration};
/// use hush_core::{IdentityKeyPair, rng::os_rng};
/// use hush_prekey::{GenerateRequest, PreKeyBundle, PreKeyIdAllocator, generate_prekeys, upload_for};
///
/// let mut rng = os_rng();
/// let now_ms = 1_700_000_000_000;
/// let directory = PreKeyDirectory::new();
///
/// // Bob's phone registers, then uploads prekeys.
/// let bob = Address::new("bob", 1)?;
/// let identity = IdentityKeyPair::generate(&mut rng);
/// let registered = directory.register_device(&bob, 4242, identity.identity_key())?;
/// assert_eq!(registered, Registration::New);
/// let mut request = GenerateRequest::default(); // signed + last-resort keys, and:
/// request.one_time_prekeys = 2;
/// request.kem_prekeys = 2;
/// let records =
///     generate_prekeys(&identity, &mut PreKeyIdAllocator::new(), &request, now_ms, &mut rng)?;
/// let upload = upload_for(&identity, &records).encode();
/// let summary = directory.upload(&bob, &identity.identity_key(), &upload, now_ms, &mut rng)?;
/// assert_eq!(summary.counts.one_time_prekeys, 2);
///
/// // Alice fetches a bundle for Bob's phone: one one-time key of each kind is gone.
/// let bytes = directory.bundle(&bob)?;
/// let bundle = PreKeyBundle::decode(&bytes)?;
/// bundle.verify_signatures()?;
/// assert_eq!(bundle.registration_id(), 4242);
/// assert_eq!(directory.counts(&bob)?.one_time_prekeys, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct PreKeyDirectory {
    policy: UploadPolicy,
    limits: DirectoryLimits,
    inner: Mutex<Directory>,
}

impl Default for PreKeyDirectory {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for PreKeyDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            policy,
            limits,
            inner,
        } = self;
        f.debug_struct("PreKeyDirectory")
            .field("policy", policy)
            .field("limits", limits)
            .field("users", &lock(inner).users.len())
            .finish_non_exhaustive()
    }
}

impl PreKeyDirectory {
    /// An empty directory with the default [`UploadPolicy`] and [`DirectoryLimits`].
    #[must_use]
    pub fn new() -> Self {
        Self::with_config(UploadPolicy::default(), DirectoryLimits::default())
    }

    /// An empty directory that validates uploads under `policy` and keeps `limits`.
    #[must_use]
    pub fn with_config(policy: UploadPolicy, limits: DirectoryLimits) -> Self {
        Self {
            policy,
            limits,
            inner: Mutex::new(Directory::default()),
        }
    }

    /// The upload policy.
    #[must_use]
    pub const fn policy(&self) -> &UploadPolicy {
        &self.policy
    }

    /// Records `address` with its identity key and registration id, as the server's
    /// (authenticated) registration endpoint would.
    ///
    /// Registering the same key and registration id again changes nothing
    /// ([`Registration::Unchanged`]). A different key or registration id (a reinstall)
    /// replaces the record and drops every prekey stored under the old one
    /// ([`Registration::Replaced`]).
    ///
    /// # Errors
    ///
    /// [`Error::PreKey`]`(DeviceIdOutOfRange)` unless the device id is in
    /// `1..=`[`hush_prekey::limits::MAX_DEVICE_ID`]; [`Error::TooManyDevices`] when
    /// the user already has [`DirectoryLimits::max_devices_per_user`] devices;
    /// [`Error::ServerFull`] when a new user would exceed
    /// [`DirectoryLimits::max_users`].
    pub fn register_device(
        &self,
        address: &Address,
        registration_id: u32,
        identity_key: IdentityKey,
    ) -> Result<Registration> {
        let keys = DeviceKeys::new(registration_id, address.device_id(), identity_key)?;
        let mut inner = lock(&self.inner);
        let generation = inner.next_generation;
        let existing = inner.users.get(address.name());
        if let Some(max) = self.limits.max_users
            && existing.is_none()
            && inner.users.len() >= max
        {
            return Err(Error::ServerFull { max });
        }
        let device_count = existing.map_or(0, BTreeMap::len);
        let outcome = match existing.and_then(|devices| devices.get(&address.device_id())) {
            Some(record)
                if record.identity_key == identity_key
                    && record.registration_id == registration_id =>
            {
                return Ok(Registration::Unchanged);
            }
            Some(_) => Registration::Replaced,
            None if device_count >= self.limits.max_devices_per_user => {
                return Err(Error::TooManyDevices {
                    max: self.limits.max_devices_per_user,
                });
            }
            None => Registration::New,
        };
        inner
            .users
            .entry(address.name().to_owned())
            .or_default()
            .insert(
                address.device_id(),
                DeviceRecord {
                    identity_key,
                    registration_id,
                    generation,
                    keys,
                },
            );
        inner.next_generation = generation.wrapping_add(1);
        Ok(outcome)
    }

    /// Forgets `address` and every prekey stored for it. Returns whether it was
    /// registered.
    pub fn remove_device(&self, address: &Address) -> bool {
        let mut inner = lock(&self.inner);
        let Some(devices) = inner.users.get_mut(address.name()) else {
            return false;
        };
        let removed = devices.remove(&address.device_id()).is_some();
        if devices.is_empty() {
            inner.users.remove(address.name());
        }
        removed
    }

    /// Forgets every registered device of `user` whose id is not in `keep`, with its
    /// prekeys, and returns their addresses in device-id order.
    ///
    /// A server calls this when [`DeviceLists::upload`](super::DeviceLists::upload)
    /// accepts a new list for `user`, with the ids on that list: a companion the
    /// account removed then gets no more bundles handed out (clients would not use
    /// them: they set up sessions only with devices on a list they verified, but a
    /// stale registration still costs one-time keys and storage).
    ///
    /// # Errors
    ///
    /// None in practice: an [`Error::Group`] if a stored name no longer makes an
    /// [`Address`] (nothing is removed then).
    pub fn retain_devices(&self, user: &str, keep: &[u32]) -> Result<Vec<Address>> {
        let mut inner = lock(&self.inner);
        let Some(devices) = inner.users.get_mut(user) else {
            return Ok(Vec::new());
        };
        let dropped = devices
            .keys()
            .filter(|id| !keep.contains(id))
            .map(|&id| Ok(Address::new(user, id)?))
            .collect::<Result<Vec<_>>>()?;
        devices.retain(|id, _| keep.contains(id));
        if devices.is_empty() {
            inner.users.remove(user);
        }
        Ok(dropped)
    }

    /// The registered devices of `user`, in device-id order.
    ///
    /// # Errors
    ///
    /// None in practice: an [`Error::Group`] if a stored name no longer makes an
    /// [`Address`].
    pub fn devices(&self, user: &str) -> Result<Vec<Address>> {
        let inner = lock(&self.inner);
        inner
            .users
            .get(user)
            .into_iter()
            .flat_map(BTreeMap::keys)
            .map(|&id| Ok(Address::new(user, id)?))
            .collect()
    }

    /// The registration id and identity key `address` registered with.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownDevice`] if `address` is not registered.
    pub fn registration(&self, address: &Address) -> Result<(u32, IdentityKey)> {
        self.with_record(address, |record| {
            Ok((record.registration_id, record.identity_key))
        })
    }

    /// Validates `upload_bytes` (an encoded `hush_prekey::PreKeyUpload`) from
    /// `address` and stores its keys.
    ///
    /// `identity_key` is the device identity key the server's authentication layer
    /// vouches for on this request; it must be the one `address` registered with, and
    /// the upload is validated against it (never against the upload's own claim). Its
    /// signed and last-resort keys replace the stored ones; its one-time keys are
    /// appended (a key with the id of a stored one replaces it). All or nothing.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownDevice`] if `address` is not registered;
    /// [`Error::IdentityChanged`] if `identity_key` is not its registered key (or the
    /// device was re-registered while the upload was being validated);
    /// [`Error::Upload`] with the [`hush_prekey::UploadError`] (for a rejected upload,
    /// [`hush_prekey::UploadError::Rejected`] lists every problem);
    /// [`Error::PreKey`]`(TooMany { .. })` if the device would then hold more
    /// one-time prekeys of a kind than [`DirectoryLimits`] allows. Nothing is stored on
    /// error.
    pub fn upload<R: CryptoRng + ?Sized>(
        &self,
        address: &Address,
        identity_key: &IdentityKey,
        upload_bytes: &[u8],
        now_ms: u64,
        rng: &mut R,
    ) -> Result<UploadSummary> {
        let generation = self.with_record(address, |record| {
            if record.identity_key == *identity_key {
                Ok(record.generation)
            } else {
                Err(Error::IdentityChanged {
                    address: address.clone(),
                    identity_key: *identity_key,
                })
            }
        })?;
        // The expensive part, outside the lock.
        let upload = validate_upload(identity_key, upload_bytes, &self.policy, now_ms, rng)?;
        let limits = self.limits;
        self.with_record_mut(address, |record| {
            if record.generation != generation {
                return Err(Error::IdentityChanged {
                    address: address.clone(),
                    identity_key: *identity_key,
                });
            }
            apply_bounded(&mut record.keys, &upload, &limits)?;
            Ok(UploadSummary {
                signed_prekey_id: upload.signed_prekey().map(hush_prekey::SignedPreKey::id),
                last_resort_kem_prekey_id: upload
                    .last_resort_kem_prekey()
                    .map(hush_prekey::KemPreKey::id),
                one_time_prekeys_uploaded: upload.one_time_prekeys().len(),
                kem_prekeys_uploaded: upload.kem_prekeys().len(),
                counts: PreKeyCounts::of(&record.keys),
            })
        })
    }

    /// Hands out the next encoded `PreKeyBundle` for `address`: its signed prekey, its
    /// oldest one-time EC prekey if any is left, and its oldest one-time KEM prekey, or
    /// else its last-resort KEM prekey. The one-time keys used are deleted.
    ///
    /// # Errors
    ///
    /// As [`take_bundle`](Self::take_bundle).
    pub fn bundle(&self, address: &Address) -> Result<Vec<u8>> {
        Ok(self.take_bundle(address)?.bundle)
    }

    /// As [`bundle`](Self::bundle), also saying what the bundle used and what is left.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownDevice`] if `address` is not registered;
    /// [`Error::PreKey`]`(NoSignedPreKey)` or `(NoKemPreKey)` if the device has not
    /// uploaded a signed prekey, or has neither a one-time nor a last-resort KEM prekey.
    /// Nothing is consumed on error.
    pub fn take_bundle(&self, address: &Address) -> Result<BundleHandout> {
        let (choice, counts) = self.with_record_mut(address, |record| {
            let choice = record.keys.take_bundle()?;
            Ok((choice, PreKeyCounts::of(&record.keys)))
        })?;
        // Encoding needs no lock.
        Ok(BundleHandout::new(&choice, counts))
    }

    /// A bundle for every registered device of `user` that can make one, in device-id
    /// order, consuming one-time keys as [`bundle`](Self::bundle) does. Devices that
    /// have not uploaded enough to make a bundle (no signed prekey, no KEM prekey) are
    /// left out: the client reports them as missing a bundle.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownUser`] if `user` has no registered device.
    pub fn bundles_for_user(&self, user: &str) -> Result<Vec<(Address, Vec<u8>)>> {
        let choices = {
            let mut inner = lock(&self.inner);
            let devices = inner.users.get_mut(user).ok_or(Error::UnknownUser)?;
            devices
                .iter_mut()
                .filter_map(|(&id, record)| record.keys.take_bundle().ok().map(|c| (id, c)))
                .collect::<Vec<_>>()
        };
        choices
            .into_iter()
            .map(|(id, choice)| Ok((Address::new(user, id)?, choice.bundle().encode())))
            .collect()
    }

    /// What the server holds for `address`.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownDevice`] if `address` is not registered.
    pub fn counts(&self, address: &Address) -> Result<PreKeyCounts> {
        self.with_record(address, |record| Ok(PreKeyCounts::of(&record.keys)))
    }

    /// How many users have at least one registered device.
    #[must_use]
    pub fn user_count(&self) -> usize {
        lock(&self.inner).users.len()
    }

    fn with_record<T>(
        &self,
        address: &Address,
        f: impl FnOnce(&DeviceRecord) -> Result<T>,
    ) -> Result<T> {
        let inner = lock(&self.inner);
        let record = inner
            .users
            .get(address.name())
            .and_then(|devices| devices.get(&address.device_id()))
            .ok_or_else(|| Error::UnknownDevice {
                address: address.clone(),
            })?;
        f(record)
    }

    fn with_record_mut<T>(
        &self,
        address: &Address,
        f: impl FnOnce(&mut DeviceRecord) -> Result<T>,
    ) -> Result<T> {
        let mut inner = lock(&self.inner);
        let record = inner
            .users
            .get_mut(address.name())
            .and_then(|devices| devices.get_mut(&address.device_id()))
            .ok_or_else(|| Error::UnknownDevice {
                address: address.clone(),
            })?;
        f(record)
    }
}

/// Applies `upload` unless the device would then hold more one-time keys than allowed.
/// Only when the plain sum could exceed a bound (an upload may replace keys of the same
/// id) is the upload tried on a copy first.
fn apply_bounded(
    keys: &mut DeviceKeys,
    upload: &ValidatedUpload,
    limits: &DirectoryLimits,
) -> Result<()> {
    let may_exceed = keys
        .one_time_prekey_count()
        .saturating_add(upload.one_time_prekeys().len())
        > limits.max_stored_one_time_prekeys
        || keys
            .kem_prekey_count()
            .saturating_add(upload.kem_prekeys().len())
            > limits.max_stored_kem_prekeys;
    if !may_exceed {
        keys.apply_upload(upload)?;
        return Ok(());
    }
    let mut trial = keys.clone();
    trial.apply_upload(upload)?;
    check_count(
        "stored one-time prekeys",
        trial.one_time_prekey_count(),
        limits.max_stored_one_time_prekeys,
    )?;
    check_count(
        "stored KEM prekeys",
        trial.kem_prekey_count(),
        limits.max_stored_kem_prekeys,
    )?;
    *keys = trial;
    Ok(())
}

const fn check_count(what: &'static str, actual: usize, limit: usize) -> Result<()> {
    if actual > limit {
        return Err(Error::PreKey(hush_prekey::Error::TooMany {
            what,
            limit,
            actual,
        }));
    }
    Ok(())
}
