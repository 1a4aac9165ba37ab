//! Server-side bundle assembly: which stored keys go into the next bundle, and which of
//! them the server must then delete. No storage here: the caller loads the keys, calls
//! in, and deletes exactly what [`BundleChoice`] says was consumed.

use std::collections::{HashSet, VecDeque};

use hush_core::IdentityKey;

use crate::bundle::{PreKeyBundle, PreKeyBundleParts};
use crate::error::{Error, Result};
use crate::keys::{KemPreKey, OneTimePreKey, SignedPreKey};
use crate::limits::{MAX_DEVICE_ID, MAX_STORED_KEM_PREKEYS, MAX_STORED_ONE_TIME_PREKEYS};
use crate::validate::ValidatedUpload;

/// A bundle and what making it used up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleChoice {
    bundle: PreKeyBundle,
    consumed_one_time_prekey: Option<u32>,
    consumed_kem_prekey: Option<u32>,
}

impl BundleChoice {
    /// The bundle to hand out.
    #[must_use]
    pub const fn bundle(&self) -> &PreKeyBundle {
        &self.bundle
    }

    /// The bundle, by value.
    #[must_use]
    pub fn into_bundle(self) -> PreKeyBundle {
        self.bundle
    }

    /// The id of the one-time EC prekey the bundle used, which the server must delete;
    /// `None` if none was left.
    #[must_use]
    pub const fn consumed_one_time_prekey(&self) -> Option<u32> {
        self.consumed_one_time_prekey
    }

    /// The id of the one-time KEM prekey the bundle used, which the server must delete;
    /// `None` if the bundle carries the last-resort KEM prekey, which stays.
    #[must_use]
    pub const fn consumed_kem_prekey(&self) -> Option<u32> {
        self.consumed_kem_prekey
    }

    /// Whether the bundle fell back to the last-resort KEM prekey.
    #[must_use]
    pub const fn used_last_resort(&self) -> bool {
        self.consumed_kem_prekey.is_none()
    }
}

/// Chooses a bundle from one device's stored keys: the signed prekey, the first of the
/// one-time EC prekeys if there is one, and the first one-time KEM prekey, or else the
/// last-resort KEM prekey. Pure: the caller passes the keys it loaded and deletes what
/// the returned [`BundleChoice`] consumed.
///
/// # Errors
///
/// [`Error::NoSignedPreKey`], [`Error::NoKemPreKey`] (neither a one-time nor a
/// last-resort KEM prekey), and the errors of [`PreKeyBundle::new`].
pub fn assemble_bundle(
    registration_id: u32,
    device_id: u32,
    identity_key: &IdentityKey,
    signed_prekey: Option<&SignedPreKey>,
    one_time_prekey: Option<&OneTimePreKey>,
    kem_prekey: Option<&KemPreKey>,
    last_resort_kem_prekey: Option<&KemPreKey>,
) -> Result<BundleChoice> {
    let signed = signed_prekey.ok_or(Error::NoSignedPreKey)?;
    let (kem, consumed_kem_prekey) = match (kem_prekey, last_resort_kem_prekey) {
        (Some(kem), _) => (kem, Some(kem.id())),
        (None, Some(last_resort)) => (last_resort, None),
        (None, None) => return Err(Error::NoKemPreKey),
    };
    let bundle = PreKeyBundle::new(PreKeyBundleParts {
        registration_id,
        device_id,
        identity_key: *identity_key,
        signed_prekey_id: signed.id(),
        signed_prekey: *signed.public_key(),
        signed_prekey_signature: *signed.signature(),
        one_time_prekey: one_time_prekey.copied(),
        kem_prekey_id: kem.id(),
        kem_prekey: kem.public_key().clone(),
        kem_prekey_signature: *kem.signature(),
    })?;
    Ok(BundleChoice {
        bundle,
        consumed_one_time_prekey: one_time_prekey.map(OneTimePreKey::id),
        consumed_kem_prekey,
    })
}

/// One device's stored public prekeys, in memory: a server that keeps them this way
/// applies validated uploads and takes bundles from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceKeys {
    registration_id: u32,
    device_id: u32,
    identity_key: IdentityKey,
    signed_prekey: Option<SignedPreKey>,
    one_time_prekeys: VecDeque<OneTimePreKey>,
    kem_prekeys: VecDeque<KemPreKey>,
    last_resort_kem_prekey: Option<KemPreKey>,
}

impl DeviceKeys {
    /// A device with no prekeys yet.
    ///
    /// # Errors
    ///
    /// [`Error::DeviceIdOutOfRange`] unless `device_id` is in `1..=`[`MAX_DEVICE_ID`].
    pub fn new(registration_id: u32, device_id: u32, identity_key: IdentityKey) -> Result<Self> {
        if !(1..=MAX_DEVICE_ID).contains(&device_id) {
            return Err(Error::DeviceIdOutOfRange(device_id));
        }
        Ok(Self {
            registration_id,
            device_id,
            identity_key,
            signed_prekey: None,
            one_time_prekeys: VecDeque::new(),
            kem_prekeys: VecDeque::new(),
            last_resort_kem_prekey: None,
        })
    }

    /// Stores what `upload` holds: its signed and last-resort keys replace the stored
    /// ones; its one-time keys are appended, each replacing a stored key of the same id
    /// (ids wrap after 2^24 - 1 allocations). At most [`MAX_STORED_ONE_TIME_PREKEYS`]
    /// one-time EC keys and [`MAX_STORED_KEM_PREKEYS`] one-time KEM keys are kept. The
    /// work is linear in the stored and uploaded keys, however often uploads repeat.
    ///
    /// # Errors
    ///
    /// [`Error::IdentityMismatch`] if the upload is for another identity;
    /// [`Error::IncompleteFirstUpload`] if the device would have no signed prekey, or no
    /// KEM prekey at all, afterwards (a first upload of one-time keys only: every sender
    /// would fail); [`Error::TooMany`] if storing its one-time keys would leave more than
    /// the limit of a kind (`actual` is the count it would have left). Nothing is changed
    /// then.
    pub fn apply_upload(&mut self, upload: &ValidatedUpload) -> Result<()> {
        if *upload.identity_key() != self.identity_key {
            return Err(Error::IdentityMismatch);
        }
        if self.signed_prekey.is_none() && upload.signed_prekey().is_none() {
            return Err(Error::IncompleteFirstUpload("signed prekey"));
        }
        let kem_after = self.last_resort_kem_prekey.is_some()
            || upload.last_resort_kem_prekey().is_some()
            || !self.kem_prekeys.is_empty()
            || !upload.kem_prekeys().is_empty();
        if !kem_after {
            return Err(Error::IncompleteFirstUpload("KEM prekey"));
        }
        // Check both kinds before changing either.
        let one_time = Replacement::plan(
            &self.one_time_prekeys,
            upload.one_time_prekeys(),
            OneTimePreKey::id,
            "stored one-time prekeys",
            MAX_STORED_ONE_TIME_PREKEYS,
        )?;
        let kem = Replacement::plan(
            &self.kem_prekeys,
            upload.kem_prekeys(),
            KemPreKey::id,
            "stored KEM prekeys",
            MAX_STORED_KEM_PREKEYS,
        )?;
        if let Some(signed) = upload.signed_prekey() {
            self.signed_prekey = Some(*signed);
        }
        if let Some(last_resort) = upload.last_resort_kem_prekey() {
            self.last_resort_kem_prekey = Some(last_resort.clone());
        }
        one_time.apply(&mut self.one_time_prekeys, OneTimePreKey::id);
        kem.apply(&mut self.kem_prekeys, KemPreKey::id);
        Ok(())
    }

    /// Makes the next bundle and removes the one-time keys it used (oldest first). The
    /// last-resort KEM prekey stays.
    ///
    /// # Errors
    ///
    /// As [`assemble_bundle`]; nothing is removed then.
    pub fn take_bundle(&mut self) -> Result<BundleChoice> {
        let choice = assemble_bundle(
            self.registration_id,
            self.device_id,
            &self.identity_key,
            self.signed_prekey.as_ref(),
            self.one_time_prekeys.front(),
            self.kem_prekeys.front(),
            self.last_resort_kem_prekey.as_ref(),
        )?;
        if choice.consumed_one_time_prekey.is_some() {
            self.one_time_prekeys.pop_front();
        }
        if choice.consumed_kem_prekey.is_some() {
            self.kem_prekeys.pop_front();
        }
        Ok(choice)
    }

    /// How many one-time EC prekeys are left: what a client asks before replenishing.
    #[must_use]
    pub fn one_time_prekey_count(&self) -> usize {
        self.one_time_prekeys.len()
    }

    /// How many one-time KEM prekeys are left.
    #[must_use]
    pub fn kem_prekey_count(&self) -> usize {
        self.kem_prekeys.len()
    }

    /// The stored signed prekey.
    #[must_use]
    pub const fn signed_prekey(&self) -> Option<&SignedPreKey> {
        self.signed_prekey.as_ref()
    }

    /// The stored last-resort KEM prekey.
    #[must_use]
    pub const fn last_resort_kem_prekey(&self) -> Option<&KemPreKey> {
        self.last_resort_kem_prekey.as_ref()
    }
}

/// The one-time keys of one kind an upload adds, checked against the stored ones: each
/// replaces a stored key of the same id (found through a set, not a scan per key). A
/// validated upload has no repeated id; if one did, its last key of that id would win.
struct Replacement<'a, K> {
    /// The uploaded keys to append, in upload order, one per id.
    fresh: Vec<&'a K>,
    /// Their ids.
    ids: HashSet<u32>,
}

impl<'a, K: Clone> Replacement<'a, K> {
    /// Refuses with [`Error::TooMany`] if the stored keys whose ids `new` does not
    /// reuse, plus `new`, would be more than `limit`.
    fn plan(
        stored: &VecDeque<K>,
        new: &'a [K],
        id: fn(&K) -> u32,
        what: &'static str,
        limit: usize,
    ) -> Result<Self> {
        let mut ids = HashSet::with_capacity(new.len());
        let mut fresh: Vec<&K> = new.iter().rev().filter(|key| ids.insert(id(key))).collect();
        fresh.reverse();
        let kept = stored.iter().filter(|key| !ids.contains(&id(key))).count();
        let actual = kept.saturating_add(fresh.len());
        if actual > limit {
            return Err(Error::TooMany {
                what,
                limit,
                actual,
            });
        }
        Ok(Self { fresh, ids })
    }

    fn apply(self, stored: &mut VecDeque<K>, id: fn(&K) -> u32) {
        stored.retain(|key| !self.ids.contains(&id(key)));
        stored.extend(self.fresh.into_iter().cloned());
    }
}
