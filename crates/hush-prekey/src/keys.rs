//! The public halves of prekeys, as they travel in uploads and bundles.
//!
//! Signatures follow libsignal: the signed EC prekey's signature is an XEdDSA signature
//! by the identity key over the 33-byte serialised public key (type byte `0x05` first);
//! a KEM prekey's signature is over the serialised KEM public key, type byte (`0x08`
//! Kyber1024, `0x0a` ML-KEM-1024) included.

use hush_core::{IdentityKey, KemPublicKey, PublicKey, Signature};

use crate::codec::check_id;
use crate::error::Result;

/// The public half of a signed EC prekey: id, creation time, key and the identity key's
/// signature over the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignedPreKey {
    id: u32,
    timestamp_ms: u64,
    public_key: PublicKey,
    signature: Signature,
}

impl SignedPreKey {
    /// Assembles a signed prekey. The signature is not checked here; see
    /// [`SignedPreKey::verify`].
    ///
    /// # Errors
    ///
    /// [`crate::Error::IdOutOfRange`] if `id` is above [`crate::limits::MAX_PREKEY_ID`].
    pub const fn new(
        id: u32,
        timestamp_ms: u64,
        public_key: PublicKey,
        signature: Signature,
    ) -> Result<Self> {
        match check_id("signed prekey", id) {
            Ok(id) => Ok(Self {
                id,
                timestamp_ms,
                public_key,
                signature,
            }),
            Err(e) => Err(e),
        }
    }

    /// For callers that checked `id` already.
    pub(crate) const fn new_checked(
        id: u32,
        timestamp_ms: u64,
        public_key: PublicKey,
        signature: Signature,
    ) -> Self {
        Self {
            id,
            timestamp_ms,
            public_key,
            signature,
        }
    }

    /// The prekey id.
    #[must_use]
    pub const fn id(&self) -> u32 {
        self.id
    }

    /// When the key was made, in milliseconds since the Unix epoch.
    #[must_use]
    pub const fn timestamp_ms(&self) -> u64 {
        self.timestamp_ms
    }

    /// The public key.
    #[must_use]
    pub const fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// The identity key's signature over the 33-byte serialised public key.
    #[must_use]
    pub const fn signature(&self) -> &Signature {
        &self.signature
    }

    /// Whether the signature verifies under `identity_key`.
    #[must_use]
    pub fn verify(&self, identity_key: &IdentityKey) -> bool {
        identity_key.verify(&self.public_key.encode(), &self.signature)
    }
}

/// The public half of a one-time EC prekey.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OneTimePreKey {
    id: u32,
    public_key: PublicKey,
}

impl OneTimePreKey {
    /// Assembles a one-time prekey.
    ///
    /// # Errors
    ///
    /// [`crate::Error::IdOutOfRange`] if `id` is above [`crate::limits::MAX_PREKEY_ID`].
    pub const fn new(id: u32, public_key: PublicKey) -> Result<Self> {
        match check_id("one-time prekey", id) {
            Ok(id) => Ok(Self { id, public_key }),
            Err(e) => Err(e),
        }
    }

    /// For callers that checked `id` already.
    pub(crate) const fn new_checked(id: u32, public_key: PublicKey) -> Self {
        Self { id, public_key }
    }

    /// The prekey id.
    #[must_use]
    pub const fn id(&self) -> u32 {
        self.id
    }

    /// The public key.
    #[must_use]
    pub const fn public_key(&self) -> &PublicKey {
        &self.public_key
    }
}

/// The public half of a signed KEM prekey (one-time or last-resort).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KemPreKey {
    id: u32,
    timestamp_ms: u64,
    public_key: KemPublicKey,
    signature: Signature,
}

impl KemPreKey {
    /// Assembles a KEM prekey. The signature is not checked here; see
    /// [`KemPreKey::verify`].
    ///
    /// # Errors
    ///
    /// [`crate::Error::IdOutOfRange`] if `id` is above [`crate::limits::MAX_PREKEY_ID`].
    pub fn new(
        id: u32,
        timestamp_ms: u64,
        public_key: KemPublicKey,
        signature: Signature,
    ) -> Result<Self> {
        let id = check_id("KEM prekey", id)?;
        Ok(Self {
            id,
            timestamp_ms,
            public_key,
            signature,
        })
    }

    /// For callers that checked `id` already.
    pub(crate) const fn new_checked(
        id: u32,
        timestamp_ms: u64,
        public_key: KemPublicKey,
        signature: Signature,
    ) -> Self {
        Self {
            id,
            timestamp_ms,
            public_key,
            signature,
        }
    }

    /// The prekey id.
    #[must_use]
    pub const fn id(&self) -> u32 {
        self.id
    }

    /// When the key was made, in milliseconds since the Unix epoch.
    #[must_use]
    pub const fn timestamp_ms(&self) -> u64 {
        self.timestamp_ms
    }

    /// The KEM public key.
    #[must_use]
    pub const fn public_key(&self) -> &KemPublicKey {
        &self.public_key
    }

    /// The identity key's signature over the typed serialised KEM public key.
    #[must_use]
    pub const fn signature(&self) -> &Signature {
        &self.signature
    }

    /// Whether the signature verifies under `identity_key`.
    #[must_use]
    pub fn verify(&self, identity_key: &IdentityKey) -> bool {
        identity_key.verify(&self.public_key.encode(), &self.signature)
    }
}
