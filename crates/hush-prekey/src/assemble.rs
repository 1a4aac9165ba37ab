//! Server-side bundle assembly: which stored keys go into the next bundle, and which of
//! them the server must then delete. No storage here: the caller loads the keys, calls
//! in, and deletes exactly what [`BundleChoice`] says was consumed.

use std::collections::VecDeque;

use hush_core::IdentityKey;

use crate::bundle::{PreKeyBundle, PreKeyBundleParts};
use crate::error::{Error, Result};
use crate::keys::{KemPreKey, OneTimePreKey, SignedPreKey};
use crate::limits::MAX_DEVICE_ID;
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
    /// (ids wrap after 2^24 - 1 allocations).
    ///
    /// # Errors
    ///
    /// [`Error::IdentityMismatch`] if the upload is for another identity; nothing is
    /// changed then.
    pub fn apply_upload(&mut self, upload: &ValidatedUpload) -> Result<()> {
        if *upload.identity_key() != self.identity_key {
            return Err(Error::IdentityMismatch);
        }
        if let Some(signed) = upload.signed_prekey() {
            self.signed_prekey = Some(*signed);
        }
        if let Some(last_resort) = upload.last_resort_kem_prekey() {
            self.last_resort_kem_prekey = Some(last_resort.clone());
        }
        for key in upload.one_time_prekeys() {
            self.one_time_prekeys.retain(|k| k.id() != key.id());
            self.one_time_prekeys.push_back(*key);
        }
        for key in upload.kem_prekeys() {
            self.kem_prekeys.retain(|k| k.id() != key.id());
            self.kem_prekeys.push_back(key.clone());
        }
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
