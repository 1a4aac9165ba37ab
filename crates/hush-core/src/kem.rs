//! Key encapsulation: Kyber1024 (NIST round 3, libsignal key type `0x08`) and
//! ML-KEM-1024 (FIPS 203, key type `0x0a`), both from `libcrux-ml-kem`.
//!
//! Public keys, secret keys and ciphertexts travel with their type byte in front, as in
//! libsignal. Randomness is drawn the way libsignal draws it (see
//! [`KemKeyPair::generate`] and [`KemPublicKey::encapsulate`]) so recorded sessions
//! replay.

use core::fmt;

use libcrux_ml_kem::mlkem1024;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Error, Result};
use crate::rng::{CryptoRng, low_bytes_of_u32_draws};

/// Length of a KEM public key without its type byte (both KEMs).
pub const KEM_PUBLIC_KEY_LENGTH: usize = 1568;
/// Length of a KEM secret key without its type byte (both KEMs).
pub const KEM_SECRET_KEY_LENGTH: usize = 3168;
/// Length of a KEM ciphertext without its type byte (both KEMs).
pub const KEM_CIPHERTEXT_LENGTH: usize = 1568;
/// Length of a KEM shared secret.
pub const KEM_SHARED_SECRET_LENGTH: usize = 32;
/// Length of the key generation seed (`d || z`).
pub const KEM_KEYGEN_SEED_LENGTH: usize = 64;
/// Length of the encapsulation randomness (`m`).
pub const KEM_ENCAPSULATION_SEED_LENGTH: usize = 32;

/// Which KEM a key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum KemKeyType {
    /// Kyber1024 as submitted to NIST round 3; what libsignal's PQXDH uses today.
    Kyber1024,
    /// ML-KEM-1024 as standardised in FIPS 203.
    MlKem1024,
}

impl KemKeyType {
    /// The type byte in front of serialised keys and ciphertexts.
    #[must_use]
    pub const fn type_byte(self) -> u8 {
        match self {
            Self::Kyber1024 => 0x08,
            Self::MlKem1024 => 0x0a,
        }
    }

    /// The key type for a type byte.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownKeyType`] for any other byte.
    pub const fn from_type_byte(byte: u8) -> Result<Self> {
        match byte {
            0x08 => Ok(Self::Kyber1024),
            0x0a => Ok(Self::MlKem1024),
            other => Err(Error::UnknownKeyType(other)),
        }
    }
}

fn split_typed<'a, const N: usize>(
    bytes: &'a [u8],
    what: &'static str,
) -> Result<(KemKeyType, &'a [u8; N])> {
    let (&type_byte, rest) = bytes.split_first().ok_or(Error::BadLength {
        what,
        expected: N + 1,
        actual: 0,
    })?;
    let key_type = KemKeyType::from_type_byte(type_byte)?;
    let body: &[u8; N] = rest.try_into().map_err(|_| Error::BadLength {
        what,
        expected: N + 1,
        actual: bytes.len(),
    })?;
    Ok((key_type, body))
}

fn join_typed(key_type: KemKeyType, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 1);
    out.push(key_type.type_byte());
    out.extend_from_slice(body);
    out
}

/// A KEM public key (encapsulation key).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KemPublicKey {
    key_type: KemKeyType,
    bytes: Box<[u8; KEM_PUBLIC_KEY_LENGTH]>,
}

impl KemPublicKey {
    /// Decodes a typed public key and checks it (FIPS 203's modulus check: every
    /// coefficient reduced). Keys made by libsignal or any honest party always pass.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownKeyType`], [`Error::BadLength`] (1569 bytes with type byte), or
    /// [`Error::InvalidKey`] if the key fails the check.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let (key_type, body) = split_typed::<KEM_PUBLIC_KEY_LENGTH>(bytes, "KEM public key")?;
        let key = mlkem1024::MlKem1024PublicKey::from(*body);
        if !mlkem1024::validate_public_key(&key) {
            return Err(Error::InvalidKey("KEM public key"));
        }
        Ok(Self {
            key_type,
            bytes: Box::new(*body),
        })
    }

    /// The typed serialised form (1569 bytes).
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        join_typed(self.key_type, self.bytes.as_slice())
    }

    /// Which KEM this key is for.
    #[must_use]
    pub const fn key_type(&self) -> KemKeyType {
        self.key_type
    }

    /// Encapsulates a fresh shared secret to this key.
    ///
    /// Draws the 32-byte message as libsignal does: 32 `next_u32` calls, keeping the low
    /// byte of each (rand 0.9's `random::<[u8; 32]>()`).
    pub fn encapsulate<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
    ) -> (KemCiphertext, KemSharedSecret) {
        let seed = Zeroizing::new(low_bytes_of_u32_draws::<KEM_ENCAPSULATION_SEED_LENGTH, R>(
            rng,
        ));
        self.encapsulate_with_seed(&seed)
    }

    pub(crate) fn encapsulate_with_seed(
        &self,
        seed: &[u8; KEM_ENCAPSULATION_SEED_LENGTH],
    ) -> (KemCiphertext, KemSharedSecret) {
        let key = mlkem1024::MlKem1024PublicKey::from(*self.bytes);
        let (ciphertext, shared) = match self.key_type {
            KemKeyType::Kyber1024 => libcrux_ml_kem::kyber1024::encapsulate(&key, *seed),
            KemKeyType::MlKem1024 => mlkem1024::encapsulate(&key, *seed),
        };
        let ciphertext: [u8; KEM_CIPHERTEXT_LENGTH] = ciphertext.into();
        (
            KemCiphertext {
                key_type: self.key_type,
                bytes: Box::new(ciphertext),
            },
            KemSharedSecret(shared),
        )
    }
}

impl fmt::Debug for KemPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KemPublicKey")
            .field("key_type", &self.key_type)
            .finish_non_exhaustive()
    }
}

/// A KEM secret key (decapsulation key). Wiped on drop, never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct KemSecretKey {
    #[zeroize(skip)]
    key_type: KemKeyType,
    bytes: Box<[u8; KEM_SECRET_KEY_LENGTH]>,
}

impl KemSecretKey {
    /// Decodes a typed secret key.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownKeyType`] or [`Error::BadLength`] (3169 bytes with type byte).
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let (key_type, body) = split_typed::<KEM_SECRET_KEY_LENGTH>(bytes, "KEM secret key")?;
        Ok(Self {
            key_type,
            bytes: Box::new(*body),
        })
    }

    /// The typed serialised form (3169 bytes), wiped when dropped.
    #[must_use]
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(join_typed(self.key_type, self.bytes.as_slice()))
    }

    /// Which KEM this key is for.
    #[must_use]
    pub const fn key_type(&self) -> KemKeyType {
        self.key_type
    }

    /// Recovers the shared secret from `ciphertext`. A wrong but well-formed ciphertext
    /// yields an unrelated secret (implicit rejection), as both KEMs specify.
    ///
    /// # Errors
    ///
    /// [`Error::KemTypeMismatch`] if the ciphertext is for the other KEM.
    pub fn decapsulate(&self, ciphertext: &KemCiphertext) -> Result<KemSharedSecret> {
        if ciphertext.key_type != self.key_type {
            return Err(Error::KemTypeMismatch);
        }
        let key = mlkem1024::MlKem1024PrivateKey::from(*self.bytes);
        let ct = mlkem1024::MlKem1024Ciphertext::from(*ciphertext.bytes);
        let shared = match self.key_type {
            KemKeyType::Kyber1024 => libcrux_ml_kem::kyber1024::decapsulate(&key, &ct),
            KemKeyType::MlKem1024 => mlkem1024::decapsulate(&key, &ct),
        };
        Ok(KemSharedSecret(shared))
    }
}

impl fmt::Debug for KemSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KemSecretKey")
            .field("key_type", &self.key_type)
            .finish_non_exhaustive()
    }
}

/// A KEM key pair.
#[derive(Clone)]
pub struct KemKeyPair {
    public_key: KemPublicKey,
    secret_key: KemSecretKey,
}

impl KemKeyPair {
    /// Generates a key pair.
    ///
    /// Draws the 64-byte seed `d || z` as libsignal does: 64 `next_u32` calls, keeping
    /// the low byte of each (rand 0.9's `random::<[u8; 64]>()`).
    pub fn generate<R: CryptoRng + ?Sized>(key_type: KemKeyType, rng: &mut R) -> Self {
        let seed = Zeroizing::new(low_bytes_of_u32_draws::<KEM_KEYGEN_SEED_LENGTH, R>(rng));
        Self::from_seed(key_type, &seed)
    }

    /// Deterministic key generation from the 64-byte seed `d || z`.
    #[must_use]
    pub fn from_seed(key_type: KemKeyType, seed: &[u8; KEM_KEYGEN_SEED_LENGTH]) -> Self {
        let pair = match key_type {
            KemKeyType::Kyber1024 => libcrux_ml_kem::kyber1024::generate_key_pair(*seed),
            KemKeyType::MlKem1024 => mlkem1024::generate_key_pair(*seed),
        };
        let public_key = KemPublicKey {
            key_type,
            bytes: Box::new(*pair.pk()),
        };
        let secret_key = KemSecretKey {
            key_type,
            bytes: Box::new(*pair.sk()),
        };
        Self {
            public_key,
            secret_key,
        }
    }

    /// Rebuilds a pair from its two serialised halves.
    ///
    /// # Errors
    ///
    /// Whatever decoding either half returns; [`Error::KemTypeMismatch`] if the halves
    /// are of different KEMs; [`Error::InvalidKey`] if the public key is not the one
    /// stored inside the secret key.
    pub fn decode(public_key: &[u8], secret_key: &[u8]) -> Result<Self> {
        let public_key = KemPublicKey::decode(public_key)?;
        let secret_key = KemSecretKey::decode(secret_key)?;
        if public_key.key_type != secret_key.key_type {
            return Err(Error::KemTypeMismatch);
        }
        // FIPS 203 and Kyber both store the encapsulation key right after the
        // 1536-byte decryption key inside the secret key.
        let embedded = secret_key
            .bytes
            .get(1536..1536 + KEM_PUBLIC_KEY_LENGTH)
            .ok_or(Error::InvalidKey("KEM secret key"))?;
        if !bool::from(embedded.ct_eq(public_key.bytes.as_slice())) {
            return Err(Error::InvalidKey("KEM key pair"));
        }
        Ok(Self {
            public_key,
            secret_key,
        })
    }

    /// The public half.
    #[must_use]
    pub const fn public_key(&self) -> &KemPublicKey {
        &self.public_key
    }

    /// The secret half.
    #[must_use]
    pub const fn secret_key(&self) -> &KemSecretKey {
        &self.secret_key
    }
}

impl fmt::Debug for KemKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            public_key,
            secret_key: _,
        } = self;
        f.debug_struct("KemKeyPair")
            .field("public_key", public_key)
            .finish_non_exhaustive()
    }
}

/// A KEM ciphertext.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KemCiphertext {
    key_type: KemKeyType,
    bytes: Box<[u8; KEM_CIPHERTEXT_LENGTH]>,
}

impl KemCiphertext {
    /// Decodes a typed ciphertext.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownKeyType`] or [`Error::BadLength`] (1569 bytes with type byte).
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let (key_type, body) = split_typed::<KEM_CIPHERTEXT_LENGTH>(bytes, "KEM ciphertext")?;
        Ok(Self {
            key_type,
            bytes: Box::new(*body),
        })
    }

    /// The typed serialised form (1569 bytes).
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        join_typed(self.key_type, self.bytes.as_slice())
    }

    /// Which KEM made this ciphertext.
    #[must_use]
    pub const fn key_type(&self) -> KemKeyType {
        self.key_type
    }
}

impl fmt::Debug for KemCiphertext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KemCiphertext")
            .field("key_type", &self.key_type)
            .finish_non_exhaustive()
    }
}

/// A 32-byte KEM shared secret. Wiped on drop, never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct KemSharedSecret([u8; KEM_SHARED_SECRET_LENGTH]);

impl KemSharedSecret {
    /// The secret bytes, to feed a KDF.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; KEM_SHARED_SECRET_LENGTH] {
        &self.0
    }
}

impl PartialEq for KemSharedSecret {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for KemSharedSecret {}

impl fmt::Debug for KemSharedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KemSharedSecret").finish_non_exhaustive()
    }
}
