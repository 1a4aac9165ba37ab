//! `PreKeyBundle`: what a server hands out so that someone can start a session with one
//! device.

use hush_core::{IdentityKey, KemPublicKey, PublicKey, Signature};

use crate::codec::{self, check_id, decode_body, invalid, seal};
use crate::error::{Error, Result};
use crate::keys::OneTimePreKey;
use crate::limits::{MAX_BUNDLE_BYTES, MAX_DEVICE_ID};
use crate::wire;

const WHAT: &str = "prekey bundle";

/// The parts of a [`PreKeyBundle`], for [`PreKeyBundle::new`] and
/// [`PreKeyBundle::into_parts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreKeyBundleParts {
    /// The device's registration id.
    pub registration_id: u32,
    /// The device id, `1..=`[`MAX_DEVICE_ID`].
    pub device_id: u32,
    /// The account's identity key.
    pub identity_key: IdentityKey,
    /// The signed EC prekey's id.
    pub signed_prekey_id: u32,
    /// The signed EC prekey.
    pub signed_prekey: PublicKey,
    /// The identity key's signature over the 33-byte serialised signed prekey.
    pub signed_prekey_signature: Signature,
    /// A one-time EC prekey, if the server had one left.
    pub one_time_prekey: Option<OneTimePreKey>,
    /// The KEM prekey's id (one-time or last-resort).
    pub kem_prekey_id: u32,
    /// The KEM prekey.
    pub kem_prekey: KemPublicKey,
    /// The identity key's signature over the typed serialised KEM prekey.
    pub kem_prekey_signature: Signature,
}

/// A prekey bundle for one device: registration and device ids, identity key, signed EC
/// prekey, optional one-time EC prekey, signed KEM prekey. What a PQXDH initiator needs.
///
/// Decoding checks the format, not the signatures: the initiator calls
/// [`PreKeyBundle::verify_signatures`] (as libsignal's `process_prekey_bundle` does)
/// before using the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreKeyBundle {
    parts: PreKeyBundleParts,
}

impl PreKeyBundle {
    /// Assembles a bundle.
    ///
    /// # Errors
    ///
    /// [`Error::DeviceIdOutOfRange`] unless the device id is in `1..=`[`MAX_DEVICE_ID`];
    /// [`Error::IdOutOfRange`] if a prekey id is above [`crate::limits::MAX_PREKEY_ID`].
    pub fn new(parts: PreKeyBundleParts) -> Result<Self> {
        if !(1..=MAX_DEVICE_ID).contains(&parts.device_id) {
            return Err(Error::DeviceIdOutOfRange(parts.device_id));
        }
        check_id("signed prekey", parts.signed_prekey_id)?;
        check_id("KEM prekey", parts.kem_prekey_id)?;
        Ok(Self { parts })
    }

    /// The device's registration id.
    #[must_use]
    pub const fn registration_id(&self) -> u32 {
        self.parts.registration_id
    }

    /// The device id.
    #[must_use]
    pub const fn device_id(&self) -> u32 {
        self.parts.device_id
    }

    /// The account's identity key.
    #[must_use]
    pub const fn identity_key(&self) -> &IdentityKey {
        &self.parts.identity_key
    }

    /// The signed EC prekey's id.
    #[must_use]
    pub const fn signed_prekey_id(&self) -> u32 {
        self.parts.signed_prekey_id
    }

    /// The signed EC prekey.
    #[must_use]
    pub const fn signed_prekey(&self) -> &PublicKey {
        &self.parts.signed_prekey
    }

    /// The signature over the signed EC prekey.
    #[must_use]
    pub const fn signed_prekey_signature(&self) -> &Signature {
        &self.parts.signed_prekey_signature
    }

    /// The one-time EC prekey, if any.
    #[must_use]
    pub const fn one_time_prekey(&self) -> Option<&OneTimePreKey> {
        self.parts.one_time_prekey.as_ref()
    }

    /// The KEM prekey's id.
    #[must_use]
    pub const fn kem_prekey_id(&self) -> u32 {
        self.parts.kem_prekey_id
    }

    /// The KEM prekey.
    #[must_use]
    pub const fn kem_prekey(&self) -> &KemPublicKey {
        &self.parts.kem_prekey
    }

    /// The signature over the KEM prekey.
    #[must_use]
    pub const fn kem_prekey_signature(&self) -> &Signature {
        &self.parts.kem_prekey_signature
    }

    /// The parts, by value.
    #[must_use]
    pub fn into_parts(self) -> PreKeyBundleParts {
        self.parts
    }

    /// Checks both signatures against the bundle's identity key.
    ///
    /// # Errors
    ///
    /// [`Error::BadSignature`] naming the first key whose signature fails.
    pub fn verify_signatures(&self) -> Result<()> {
        let parts = &self.parts;
        if !parts.identity_key.verify(
            &parts.signed_prekey.encode(),
            &parts.signed_prekey_signature,
        ) {
            return Err(Error::BadSignature("signed prekey"));
        }
        if !parts
            .identity_key
            .verify(&parts.kem_prekey.encode(), &parts.kem_prekey_signature)
        {
            return Err(Error::BadSignature("KEM prekey"));
        }
        Ok(())
    }

    /// The wire form: [`crate::limits::FORMAT_VERSION`] then the `PreKeyBundle` protobuf.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let parts = &self.parts;
        seal(&wire::PreKeyBundle {
            registration_id: parts.registration_id,
            device_id: parts.device_id,
            identity_key: parts.identity_key.encode().to_vec(),
            signed_prekey_id: parts.signed_prekey_id,
            signed_prekey: parts.signed_prekey.encode().to_vec(),
            signed_prekey_signature: parts.signed_prekey_signature.as_bytes().to_vec(),
            one_time_prekey_id: parts.one_time_prekey.map(|k| k.id()),
            one_time_prekey: parts
                .one_time_prekey
                .map(|k| k.public_key().encode().to_vec())
                .unwrap_or_default(),
            kem_prekey_id: parts.kem_prekey_id,
            kem_prekey: parts.kem_prekey.encode(),
            kem_prekey_signature: parts.kem_prekey_signature.as_bytes().to_vec(),
        })
    }

    /// Decodes the wire form. Signatures are not checked (see
    /// [`PreKeyBundle::verify_signatures`]).
    ///
    /// # Errors
    ///
    /// [`Error::TooLarge`] beyond [`MAX_BUNDLE_BYTES`] (checked first), [`Error::Empty`],
    /// [`Error::UnsupportedVersion`], [`Error::Truncated`], [`Error::Malformed`] (bad
    /// framing, an unknown or repeated field, a one-time prekey id without its key or the
    /// reverse), [`Error::InvalidField`] naming the key or signature that failed to
    /// decode, and the errors of [`PreKeyBundle::new`].
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let (body, _) = codec::open(bytes, WHAT, MAX_BUNDLE_BYTES, &wire::BUNDLE_FIELDS)?;
        let bundle: wire::PreKeyBundle = decode_body(body, WHAT)?;
        let one_time_prekey = match (bundle.one_time_prekey_id, bundle.one_time_prekey.is_empty()) {
            (None, true) => None,
            (Some(id), false) => {
                let key = PublicKey::decode(&bundle.one_time_prekey)
                    .map_err(invalid(WHAT, "one-time prekey"))?;
                Some(OneTimePreKey::new(id, key)?)
            }
            _ => {
                return Err(Error::Malformed {
                    what: WHAT,
                    reason: "one-time prekey id and key must come together",
                });
            }
        };
        Self::new(PreKeyBundleParts {
            registration_id: bundle.registration_id,
            device_id: bundle.device_id,
            identity_key: IdentityKey::decode(&bundle.identity_key)
                .map_err(invalid(WHAT, "identity key"))?,
            signed_prekey_id: bundle.signed_prekey_id,
            signed_prekey: PublicKey::decode(&bundle.signed_prekey)
                .map_err(invalid(WHAT, "signed prekey"))?,
            signed_prekey_signature: Signature::decode(&bundle.signed_prekey_signature)
                .map_err(invalid(WHAT, "signed prekey signature"))?,
            one_time_prekey,
            kem_prekey_id: bundle.kem_prekey_id,
            kem_prekey: KemPublicKey::decode(&bundle.kem_prekey)
                .map_err(invalid(WHAT, "KEM prekey"))?,
            kem_prekey_signature: Signature::decode(&bundle.kem_prekey_signature)
                .map_err(invalid(WHAT, "KEM prekey signature"))?,
        })
    }
}
