//! Encryption at rest of the SQLite store's secret columns: the app's key, the keys
//! derived from it, and the sealing of a value to its table and row
//! (`docs/wire/store.md`, "Encryption at rest").

use hush_core::cipher::Aes256GcmKey;
use hush_core::kdf::hkdf_sha256_array;
use hush_core::rng::{Rng, os_rng};
use hush_group::DistributionId;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::Address;
use crate::error::{Error, Result};

/// HKDF info of the key that seals secret columns.
const COLUMN_KEY_INFO: &[u8] = b"hush store v1 column key";
/// HKDF info of the check value that tells a right at-rest key from a wrong one.
const KEY_CHECK_INFO: &[u8] = b"hush store v1 key check";
/// Length of the per-database HKDF salt.
pub(super) const SALT_LENGTH: usize = 32;
/// Length of the AES-GCM nonce in front of every sealed value.
const NONCE_LENGTH: usize = 12;
/// `meta.at_rest` of a database without encryption at rest.
pub(super) const AT_REST_NONE: u8 = 0;
/// `meta.at_rest` of a database whose secret columns are sealed (AES-256-GCM).
pub(super) const AT_REST_AES256_GCM: u8 = 1;

/// An application-supplied key under which a [`SqliteStore`](super::SqliteStore)
/// encrypts every secret column (identity key pair, prekeys, sessions, sender keys). 32
/// bytes, wiped on drop.
///
/// Where it comes from is the app's business: the platform keystore, a key derived
/// from a passphrase, a hardware-backed key. Losing it loses the device's state.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct AtRestKey([u8; 32]);

impl AtRestKey {
    /// Wraps 32 key bytes.
    #[must_use]
    pub const fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A fresh random key from `rng`.
    pub fn generate<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Copies the key out, wiped when dropped (to hand it to a keystore).
    #[must_use]
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0)
    }
}

impl core::fmt::Debug for AtRestKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let Self(_) = self;
        f.debug_struct("AtRestKey").finish_non_exhaustive()
    }
}

/// A derived 32-byte secret, wiped on drop.
pub(super) type Derived = Zeroizing<[u8; 32]>;

/// The column key and the key check value of `key` under `salt`.
pub(super) fn derive(key: &AtRestKey, salt: &[u8]) -> Result<(Derived, Derived)> {
    let column = hkdf_sha256_array::<32>(salt, &key.0, COLUMN_KEY_INFO)?;
    let check = hkdf_sha256_array::<32>(salt, &key.0, KEY_CHECK_INFO)?;
    Ok((column, check))
}

/// Seals and opens secret column values (AES-256-GCM, random nonce, AAD binding the
/// value to its table and row).
pub(super) struct Sealer {
    pub(super) cipher: Aes256GcmKey,
}

/// Where a secret value lives: its table and its row key (the AAD of its seal).
pub(super) struct Row<'k> {
    pub(super) table: &'static str,
    pub(super) key: RowKey<'k>,
}

/// A row key, encoded into the AAD as `docs/wire/store.md` says.
pub(super) enum RowKey<'k> {
    /// The table's single row.
    Single,
    /// A prekey id.
    Id(u32),
    /// A device.
    Device(&'k Address),
    /// A device and a distribution id.
    SenderKey(&'k Address, DistributionId),
}

impl Row<'_> {
    fn aad(&self) -> Vec<u8> {
        let mut aad = Vec::with_capacity(1 + self.table.len() + 2 + 256 + 4 + 16);
        // Table names are short ASCII constants.
        aad.push(u8::try_from(self.table.len()).unwrap_or(u8::MAX));
        aad.extend_from_slice(self.table.as_bytes());
        let mut device = |address: &Address| {
            let name = address.name().as_bytes();
            aad.extend_from_slice(&u16::try_from(name.len()).unwrap_or(u16::MAX).to_be_bytes());
            aad.extend_from_slice(name);
            aad.extend_from_slice(&address.device_id().to_be_bytes());
        };
        match self.key {
            RowKey::Single => {}
            RowKey::Id(id) => aad.extend_from_slice(&id.to_be_bytes()),
            RowKey::Device(address) => device(address),
            RowKey::SenderKey(address, distribution_id) => {
                device(address);
                aad.extend_from_slice(distribution_id.as_bytes());
            }
        }
        aad
    }
}

/// Seals `plaintext` for `row` when the store is encrypted; hands it back as is
/// otherwise (no unwiped copy of a secret encoding is made either way).
pub(super) fn seal(
    sealer: Option<&Sealer>,
    row: &Row<'_>,
    plaintext: Zeroizing<Vec<u8>>,
) -> Zeroizing<Vec<u8>> {
    let Some(sealer) = sealer else {
        return plaintext;
    };
    let mut nonce = [0u8; NONCE_LENGTH];
    os_rng().fill_bytes(&mut nonce);
    let mut out = Vec::with_capacity(NONCE_LENGTH + plaintext.len() + 16);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&plaintext);
    let (_, body) = out.split_at_mut(NONCE_LENGTH);
    let tag = sealer.cipher.seal_in_place(&nonce, &row.aad(), body);
    out.extend_from_slice(&tag);
    Zeroizing::new(out)
}

/// Opens a stored secret value of `row` and decodes it with `decode`.
pub(super) fn open<T>(
    sealer: Option<&Sealer>,
    row: &Row<'_>,
    stored: &[u8],
    decode: impl FnOnce(&[u8]) -> Result<T>,
) -> Result<T> {
    let Some(sealer) = sealer else {
        return decode(stored);
    };
    let (nonce, sealed) = stored
        .split_first_chunk::<NONCE_LENGTH>()
        .ok_or(Error::Store("sealed value does not open"))?;
    let plaintext = sealer
        .cipher
        .open(nonce, &row.aad(), sealed)
        .map_err(|_| Error::Store("sealed value does not open"))?;
    decode(&plaintext)
}

pub(super) const ACCOUNT_ROW: Row<'static> = Row {
    table: "local_account",
    key: RowKey::Single,
};

pub(super) fn session_row(address: &Address) -> Row<'_> {
    Row {
        table: "sessions",
        key: RowKey::Device(address),
    }
}
