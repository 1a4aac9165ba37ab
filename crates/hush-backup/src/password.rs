//! A backup key wrapped under a password for local storage: Argon2id with stored,
//! versioned parameters, then AES-256-GCM.
//!
//! Encoding (77 bytes, see `docs/wire/backup.md`):
//!
//! ```text
//! version (1) = 1 | memory_kib (u32 BE) | iterations (u32 BE) | parallelism (u32 BE)
//!   | salt (16) | AES-256-GCM(wrapped key) (32) | tag (16)
//! ```
//!
//! The GCM key is Argon2id(password, salt) with the stored parameters; the nonce is 12 zero
//! bytes (each salt, hence each GCM key, seals exactly one message); the AAD is the first
//! 29 bytes (version, parameters, salt).

use core::fmt;

use argon2::{Algorithm, Argon2, Params, Version};
use hush_core::cipher::{Aes256GcmKey, GCM_NONCE_LENGTH, GCM_TAG_LENGTH};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::key::{BACKUP_KEY_LENGTH, BackupKey};
use crate::limits::{
    DEFAULT_ARGON2_ITERATIONS, DEFAULT_ARGON2_MEMORY_KIB, DEFAULT_ARGON2_PARALLELISM,
    MAX_ARGON2_ITERATIONS, MAX_ARGON2_MEMORY_KIB, MAX_ARGON2_PARALLELISM, MAX_ARGON2_WORK,
    MIN_ARGON2_ITERATIONS, MIN_ARGON2_MEMORY_KIB, MIN_ARGON2_PARALLELISM, MIN_ARGON2_WORK,
};

/// The only password-wrap format version.
pub const PASSWORD_WRAP_VERSION: u8 = 1;

/// Length of the random Argon2 salt.
pub const PASSWORD_SALT_LENGTH: usize = 16;

/// Length of the authenticated header: version, three parameters, salt.
const HEADER_LENGTH: usize = 1 + 4 + 4 + 4 + PASSWORD_SALT_LENGTH;

/// Length of an encoded [`PasswordWrappedKey`].
pub const PASSWORD_WRAPPED_KEY_LENGTH: usize = HEADER_LENGTH + BACKUP_KEY_LENGTH + GCM_TAG_LENGTH;

/// Argon2id cost parameters, stored with each wrapped key.
///
/// [`Default`] is OWASP's recommendation: 19 MiB, 2 iterations, 1 lane. Every value is
/// checked against the bounds in [`crate::limits`] before any hashing, both when wrapping
/// and when decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Argon2Params {
    /// Memory cost in KiB.
    pub memory_kib: u32,
    /// Number of passes over the memory.
    pub iterations: u32,
    /// Number of lanes.
    pub parallelism: u32,
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self {
            memory_kib: DEFAULT_ARGON2_MEMORY_KIB,
            iterations: DEFAULT_ARGON2_ITERATIONS,
            parallelism: DEFAULT_ARGON2_PARALLELISM,
        }
    }
}

impl Argon2Params {
    /// Checks the parameters against the bounds in [`crate::limits`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameters`] naming the first parameter out of bounds: memory
    /// outside 7 MiB..=256 MiB, iterations outside 1..=100, parallelism outside 1..=16,
    /// memory x iterations outside [`MIN_ARGON2_WORK`]..=[`MAX_ARGON2_WORK`] (512 MiB x
    /// passes, what a phone can afford per attempt), or memory below 8 KiB per lane
    /// (Argon2's own floor).
    pub fn validate(&self) -> Result<()> {
        let Self {
            memory_kib,
            iterations,
            parallelism,
        } = *self;
        if !(MIN_ARGON2_MEMORY_KIB..=MAX_ARGON2_MEMORY_KIB).contains(&memory_kib) {
            return Err(Error::InvalidParameters("argon2 memory"));
        }
        if !(MIN_ARGON2_ITERATIONS..=MAX_ARGON2_ITERATIONS).contains(&iterations) {
            return Err(Error::InvalidParameters("argon2 iterations"));
        }
        if !(MIN_ARGON2_PARALLELISM..=MAX_ARGON2_PARALLELISM).contains(&parallelism) {
            return Err(Error::InvalidParameters("argon2 parallelism"));
        }
        let work = u64::from(memory_kib) * u64::from(iterations);
        if !(MIN_ARGON2_WORK..=MAX_ARGON2_WORK).contains(&work) {
            return Err(Error::InvalidParameters(
                "argon2 work (memory x iterations)",
            ));
        }
        if u64::from(memory_kib) < 8 * u64::from(parallelism) {
            return Err(Error::InvalidParameters("argon2 memory per lane"));
        }
        Ok(())
    }

    /// Argon2id (version 0x13, 32-byte output, no secret, no associated data) of
    /// `password` and `salt` under these parameters, which are validated first.
    fn derive(&self, password: &[u8], salt: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
        self.validate()?;
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
            .map_err(|_| Error::InvalidParameters("argon2"))?;
        let mut out = Zeroizing::new([0u8; 32]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(password, salt, out.as_mut())
            .map_err(|_| Error::InvalidParameters("argon2"))?;
        Ok(out)
    }
}

/// A [`BackupKey`] encrypted under a key derived from a password (Argon2id), with the
/// parameters and salt needed to derive it again. Public data: it holds no secret in the
/// clear, but its strength is the password's.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordWrappedKey {
    params: Argon2Params,
    salt: [u8; PASSWORD_SALT_LENGTH],
    sealed: [u8; BACKUP_KEY_LENGTH + GCM_TAG_LENGTH],
}

impl PasswordWrappedKey {
    /// Wraps `key` under `password` with a fresh random salt.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameters`] if `params` are outside the bounds of
    /// [`Argon2Params::validate`] (checked before hashing).
    pub fn wrap<R: CryptoRng + ?Sized>(
        key: &BackupKey,
        password: &[u8],
        params: Argon2Params,
        rng: &mut R,
    ) -> Result<Self> {
        params.validate()?;
        let mut salt = [0u8; PASSWORD_SALT_LENGTH];
        rng.fill_bytes(&mut salt);
        let kek = params.derive(password, &salt)?;
        let mut wrapped = Self {
            params,
            salt,
            sealed: [0u8; BACKUP_KEY_LENGTH + GCM_TAG_LENGTH],
        };
        let header = wrapped.header();
        let (body, tag_out) = wrapped.sealed.split_at_mut(BACKUP_KEY_LENGTH);
        body.copy_from_slice(key.as_bytes());
        let tag = Aes256GcmKey::new(&kek).seal_in_place(&[0u8; GCM_NONCE_LENGTH], &header, body);
        tag_out.copy_from_slice(&tag);
        Ok(wrapped)
    }

    /// Derives the wrapping key from `password` and decrypts the backup key.
    ///
    /// # Errors
    ///
    /// [`Error::WrongPassword`] if the password is wrong or any byte of the wrapped key
    /// was altered; [`Error::InvalidParameters`] if the parameters are out of bounds
    /// (impossible for a value from [`PasswordWrappedKey::decode`]).
    pub fn unwrap(&self, password: &[u8]) -> Result<BackupKey> {
        let kek = self.params.derive(password, &self.salt)?;
        let header = self.header();
        let (body, tag) = self.sealed.split_at(BACKUP_KEY_LENGTH);
        let tag: &[u8; GCM_TAG_LENGTH] = tag.try_into().map_err(|_| Error::WrongPassword)?;
        let mut key = Zeroizing::new([0u8; BACKUP_KEY_LENGTH]);
        key.copy_from_slice(body);
        Aes256GcmKey::new(&kek)
            .open_in_place(&[0u8; GCM_NONCE_LENGTH], &header, key.as_mut(), tag)
            .map_err(|_| Error::WrongPassword)?;
        Ok(BackupKey::from_bytes(*key))
    }

    /// The Argon2id parameters the key is wrapped with.
    #[must_use]
    pub fn params(&self) -> Argon2Params {
        self.params
    }

    /// The authenticated header: version, parameters, salt.
    fn header(&self) -> [u8; HEADER_LENGTH] {
        let mut out = [0u8; HEADER_LENGTH];
        let fields = [
            &[PASSWORD_WRAP_VERSION][..],
            &self.params.memory_kib.to_be_bytes(),
            &self.params.iterations.to_be_bytes(),
            &self.params.parallelism.to_be_bytes(),
            &self.salt,
        ];
        let mut at = 0;
        for field in fields {
            if let Some(slot) = out.get_mut(at..at + field.len()) {
                slot.copy_from_slice(field);
            }
            at += field.len();
        }
        out
    }

    /// The 77-byte encoding.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(PASSWORD_WRAPPED_KEY_LENGTH);
        out.extend_from_slice(&self.header());
        out.extend_from_slice(&self.sealed);
        out
    }

    /// Decodes and bounds-checks a wrapped key. Runs no Argon2: a hostile encoding is
    /// rejected here, before [`PasswordWrappedKey::unwrap`] could spend memory or time.
    ///
    /// # Errors
    ///
    /// - [`Error::Malformed`] for empty input or a length other than 77 bytes;
    /// - [`Error::UnknownVersion`] if the first byte is not 1 (checked first);
    /// - [`Error::InvalidParameters`] if the parameters are out of bounds.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let (&version, rest) = bytes
            .split_first()
            .ok_or(Error::Malformed("password-wrapped key"))?;
        if version != PASSWORD_WRAP_VERSION {
            return Err(Error::UnknownVersion(version));
        }
        if bytes.len() != PASSWORD_WRAPPED_KEY_LENGTH {
            return Err(Error::Malformed("password-wrapped key length"));
        }
        let malformed = || Error::Malformed("password-wrapped key");
        let (memory, rest) = rest.split_first_chunk::<4>().ok_or_else(malformed)?;
        let (iterations, rest) = rest.split_first_chunk::<4>().ok_or_else(malformed)?;
        let (parallelism, rest) = rest.split_first_chunk::<4>().ok_or_else(malformed)?;
        let (salt, rest) = rest
            .split_first_chunk::<PASSWORD_SALT_LENGTH>()
            .ok_or_else(malformed)?;
        let sealed: [u8; BACKUP_KEY_LENGTH + GCM_TAG_LENGTH] =
            rest.try_into().map_err(|_| malformed())?;
        let params = Argon2Params {
            memory_kib: u32::from_be_bytes(*memory),
            iterations: u32::from_be_bytes(*iterations),
            parallelism: u32::from_be_bytes(*parallelism),
        };
        params.validate()?;
        Ok(Self {
            params,
            salt: *salt,
            sealed,
        })
    }
}

impl fmt::Debug for PasswordWrappedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            params,
            salt: _,
            sealed: _,
        } = self;
        f.debug_struct("PasswordWrappedKey")
            .field("params", params)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_reference_vector() {
        // The reference implementation's test vector (phc-winner-argon2 src/test.c):
        // Argon2id v0x13, m = 2^16 KiB, t = 2, p = 1, "password", "somesalt".
        let params = Argon2Params {
            memory_kib: 1 << 16,
            iterations: 2,
            parallelism: 1,
        };
        let out = params.derive(b"password", b"somesalt").unwrap();
        assert_eq!(
            hex::encode(*out),
            "09316115d5cf24ed5a15a31a3ba326e5cf32edc24702987c02b6566f61913cf7"
        );
    }
}
