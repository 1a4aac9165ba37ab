//! The backup key, its public id, and the HKDF labels of every key derived from it.

use core::fmt;

use hush_core::kdf::hkdf_sha256;
use rand_core::CryptoRng;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::recovery::RecoveryCode;

/// Length of a backup key in bytes.
pub const BACKUP_KEY_LENGTH: usize = 32;

/// Length of a [`BackupId`] in bytes.
pub const BACKUP_ID_LENGTH: usize = 16;

/// HKDF info label of the per-backup stream keys (followed by the caller's context).
pub(crate) const ENCRYPTION_INFO: &[u8] = b"hush backup v1 encryption";

/// HKDF info label of the public backup id.
pub(crate) const ID_INFO: &[u8] = b"hush backup v1 id";

/// HKDF info label of the key the password vault wraps with (derived from the OPAQUE
/// export key by the `vault` module).
#[cfg_attr(
    not(feature = "vault"),
    allow(dead_code, reason = "used by the vault feature")
)]
pub(crate) const VAULT_WRAPPING_INFO: &[u8] = b"hush backup v1 vault wrapping";

/// A backup key: 256 random bits from which every backup's keys are derived.
///
/// The server never sees it. The user keeps it as its [`RecoveryCode`] or wrapped under
/// a password ([`crate::PasswordWrappedKey`]). Wiped on drop; compared in constant time;
/// its `Debug` shows only the public [`BackupId`].
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct BackupKey {
    bytes: [u8; BACKUP_KEY_LENGTH],
}

impl BackupKey {
    /// A new random key.
    #[must_use]
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0u8; BACKUP_KEY_LENGTH];
        rng.fill_bytes(&mut bytes);
        Self { bytes }
    }

    /// The key with these bytes.
    #[must_use]
    pub fn from_bytes(bytes: [u8; BACKUP_KEY_LENGTH]) -> Self {
        Self { bytes }
    }

    /// The key's bytes, wiped when the wrapper drops.
    #[must_use]
    pub fn to_bytes(&self) -> Zeroizing<[u8; BACKUP_KEY_LENGTH]> {
        Zeroizing::new(self.bytes)
    }

    /// The key's public id: HKDF-SHA256 with no salt and info `"hush backup v1 id"`,
    /// 16 bytes. Every backup made with the key carries it in its header, so a restore
    /// with another key fails as [`crate::Error::WrongKey`] before any decryption.
    #[must_use]
    pub fn id(&self) -> BackupId {
        let mut id = [0u8; BACKUP_ID_LENGTH];
        // 16 bytes is far below HKDF's output limit, so this cannot fail.
        if hkdf_sha256(&[], &self.bytes, ID_INFO, &mut id).is_err() {
            id = [0u8; BACKUP_ID_LENGTH];
        }
        BackupId(id)
    }

    /// The key as a recovery code to show the user.
    #[must_use]
    pub fn recovery_code(&self) -> RecoveryCode {
        RecoveryCode::from_key_bytes(&self.bytes)
    }

    /// The key a (checksum-verified) recovery code holds.
    #[must_use]
    pub fn from_recovery_code(code: &RecoveryCode) -> Self {
        Self {
            bytes: *code.key_bytes(),
        }
    }

    /// The raw key bytes, for derivations inside the crate.
    pub(crate) fn as_bytes(&self) -> &[u8; BACKUP_KEY_LENGTH] {
        &self.bytes
    }
}

impl ConstantTimeEq for BackupKey {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.bytes.ct_eq(&other.bytes)
    }
}

impl PartialEq for BackupKey {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for BackupKey {}

impl fmt::Debug for BackupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { bytes: _ } = self;
        f.debug_struct("BackupKey")
            .field("id", &self.id())
            .finish_non_exhaustive()
    }
}

/// The public id of a [`BackupKey`] (see [`BackupKey::id`]). Shown as 32 lower-case hex
/// digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BackupId([u8; BACKUP_ID_LENGTH]);

impl BackupId {
    /// The id with these bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; BACKUP_ID_LENGTH]) -> Self {
        Self(bytes)
    }

    /// The id's bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; BACKUP_ID_LENGTH] {
        &self.0
    }
}

impl fmt::Display for BackupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for BackupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BackupId({self})")
    }
}
