//! Identity keys: the long-term Curve25519 key of a device, and libsignal's protobuf
//! form of the key pair.

use core::fmt;

use prost::Message;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::curve::{PrivateKey, PublicKey};
use crate::error::{Error, Result};
use crate::rng::CryptoRng;
use crate::wire;
use crate::xeddsa::Signature;

/// A device's long-term public identity key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdentityKey(PublicKey);

impl IdentityKey {
    /// Wraps a public key.
    #[must_use]
    pub const fn new(public_key: PublicKey) -> Self {
        Self(public_key)
    }

    /// Decodes the 33-byte serialised form.
    ///
    /// # Errors
    ///
    /// As [`PublicKey::decode`].
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        PublicKey::decode(bytes).map(Self)
    }

    /// The 33-byte serialised form.
    #[must_use]
    pub fn encode(&self) -> [u8; crate::curve::PUBLIC_KEY_LENGTH] {
        self.0.encode()
    }

    /// The underlying public key.
    #[must_use]
    pub const fn public_key(&self) -> &PublicKey {
        &self.0
    }

    /// Checks an XEdDSA signature made with this identity.
    #[must_use]
    pub fn verify(&self, message: &[u8], signature: &Signature) -> bool {
        self.0.verify(message, signature)
    }
}

impl From<PublicKey> for IdentityKey {
    fn from(public_key: PublicKey) -> Self {
        Self(public_key)
    }
}

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("IdentityKey").field(&self.0).finish()
    }
}

/// A device's identity key pair.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct IdentityKeyPair {
    private_key: PrivateKey,
}

impl IdentityKeyPair {
    /// Draws a fresh identity (32 bytes from `rng`).
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self {
            private_key: PrivateKey::generate(rng),
        }
    }

    /// The public identity key.
    #[must_use]
    pub const fn identity_key(&self) -> IdentityKey {
        IdentityKey(self.private_key.public_key())
    }

    /// The private key.
    #[must_use]
    pub const fn private_key(&self) -> &PrivateKey {
        &self.private_key
    }

    /// Signs `message` with the identity key (XEdDSA, 64 random bytes from `rng`).
    pub fn sign<R: CryptoRng + ?Sized>(&self, message: &[u8], rng: &mut R) -> Signature {
        self.private_key.sign(message, rng)
    }

    /// libsignal's protobuf form (`IdentityKeyPairStructure`), wiped when dropped.
    #[must_use]
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut structure = wire::IdentityKeyPairStructure {
            public_key: self.identity_key().encode().to_vec(),
            private_key: self.private_key.to_bytes().to_vec(),
        };
        let out = Zeroizing::new(structure.encode_to_vec());
        structure.zeroize();
        out
    }

    /// Decodes libsignal's protobuf form.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] for bad protobuf, the errors of [`PublicKey::decode`] and
    /// [`PrivateKey::decode`], and [`Error::InvalidKey`] if the public key is not the
    /// private key's.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut structure = wire::IdentityKeyPairStructure::decode(bytes)
            .map_err(|_| Error::Malformed("identity key pair"))?;
        let result = Self::from_structure(&structure);
        structure.zeroize();
        result
    }

    fn from_structure(structure: &wire::IdentityKeyPairStructure) -> Result<Self> {
        let public_key = PublicKey::decode(&structure.public_key)?;
        let private_key = PrivateKey::decode(&structure.private_key)?;
        if private_key.public_key() != public_key {
            return Err(Error::InvalidKey("identity key pair"));
        }
        Ok(Self { private_key })
    }
}

impl From<PrivateKey> for IdentityKeyPair {
    fn from(private_key: PrivateKey) -> Self {
        Self { private_key }
    }
}

impl fmt::Debug for IdentityKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { private_key } = self;
        f.debug_struct("IdentityKeyPair")
            .field("identity_key", &IdentityKey(private_key.public_key()))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_round_trips_and_rejects_mismatch() {
        let pair = IdentityKeyPair::from(PrivateKey::from_bytes([5; 32]));
        let bytes = pair.encode();
        assert_eq!(IdentityKeyPair::decode(&bytes).unwrap(), pair);

        let other = IdentityKeyPair::from(PrivateKey::from_bytes([6; 32]));
        let mixed = wire::IdentityKeyPairStructure {
            public_key: other.identity_key().encode().to_vec(),
            private_key: pair.private_key().to_bytes().to_vec(),
        }
        .encode_to_vec();
        assert_eq!(
            IdentityKeyPair::decode(&mixed),
            Err(Error::InvalidKey("identity key pair"))
        );
        assert_eq!(
            IdentityKeyPair::decode(&[0xff]),
            Err(Error::Malformed("identity key pair"))
        );
        assert!(matches!(
            IdentityKeyPair::decode(&[]),
            Err(Error::BadLength { .. })
        ));
    }
}
