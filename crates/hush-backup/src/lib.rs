//! # hush-backup
//!
//! End-to-end encrypted backups of a user's message history: the history leaves the
//! device only encrypted under a key the server never sees.
//!
//! - [`BackupKey`]: 256 random bits, with a public [`BackupId`] and per-purpose subkeys
//!   derived by HKDF-SHA256 under labelled info strings.
//! - [`RecoveryCode`]: the key as 64 Crockford base32 characters (the key plus a CRC-64
//!   checksum) that the user writes down; a mistyped character is reported as a typo,
//!   not as a wrong key.
//! - [`PasswordWrappedKey`]: the key wrapped for local storage under a password
//!   (Argon2id with stored, versioned, bounded parameters, then AES-256-GCM).
//! - The backup stream ([`Encryptor`], [`Decryptor`], [`BackupWriter`], [`BackupReader`],
//!   and the sans-IO [`StreamHeader`], [`ChunkSealer`], [`ChunkOpener`]): an
//!   authenticated header, then fixed-size AES-256-GCM chunks in the STREAM construction,
//!   so truncation, reordering, duplication and appending are all detected; archives of
//!   any size in constant memory over [`std::io::Read`] / [`std::io::Write`].
//!
//! Byte layouts, labels, limits, the reasoning behind the recovery-code checksum, and the
//! error every malformation gives are in `docs/wire/backup.md`.
//!
//! It is **not** an archive format (it encrypts one byte stream; what is in it is the
//! caller's business), not a transport, and not a key escrow: lose the recovery code and
//! the password, and the backups are gone.
//!
//! ## Threat model
//!
//! The server (or cloud drive) that stores backups is trusted with nothing but
//! availability. It sees the stream header — the key's public [`BackupId`], a random
//! salt, the chunk size — and the stream's length, which reveals the plaintext length to
//! within one chunk. It never sees the backup key, its recovery code or a password, and
//! whatever it changes, drops, reorders, repeats or appends is detected at restore, with
//! the failure named (wrong key, corrupted chunk *N*, truncated, trailing data). A
//! restore never hands unauthenticated plaintext to the caller.
//!
//! The recovery code carries the full 256-bit key: whoever reads it can decrypt every
//! backup made with that key. A [`PasswordWrappedKey`] is as strong as its password
//! against offline guessing, slowed by Argon2id; it is meant for storage on the user's
//! own device, not on the server. Chunk plaintext, keys and recovery codes are wiped
//! from hush's buffers when dropped; bytes the caller copies out are the caller's.
//!
//! ## The password vault
//!
//! With the feature `vault`, the `vault` module (wire format and flows in
//! `docs/wire/vault.md`) keeps the backup key in a vault (an HSM in production) that
//! releases it only to a client that proves knowledge of the password through OPAQUE:
//! the vault never learns the password, its stored records cannot be used to test guesses
//! offline, and after 10 failed logins (configurable) the record is destroyed for good.
//! The key is stored wrapped under the client's OPAQUE export key, so the vault never
//! sees it either. Stores: in memory, or SQLite with the feature `vault-sqlite`.
//!
//! ## Example
//!
//! ```
//! # fn main() -> hush_backup::Result<()> {
//! use hush_backup::{BackupKey, Decryptor, Encryptor, RecoveryCode};
//!
//! let mut rng = hush_core::rng::os_rng();
//! let key = BackupKey::generate(&mut rng);
//!
//! // Show the user their recovery code: 16 groups of 4 characters.
//! let shown = key.recovery_code().to_grouped_string();
//! assert_eq!(shown.len(), 79);
//!
//! // Later, they type it back (case, spaces and dashes do not matter).
//! let typed = shown.to_lowercase().replace(' ', "-");
//! let restored_key = BackupKey::from_recovery_code(&RecoveryCode::parse(&typed)?);
//! assert_eq!(restored_key, key);
//!
//! // Encrypt some history, then restore it with the key from the recovery code.
//! let history = b"alice: hi\nbob: hello\n".repeat(1000);
//! let mut backup = Vec::new();
//! let summary = Encryptor::new(&key).encrypt(&mut rng, &history[..], &mut backup)?;
//! assert_eq!(summary.plaintext_bytes, history.len() as u64);
//!
//! let mut restored = Vec::new();
//! Decryptor::new(&restored_key).decrypt(&backup[..], &mut restored)?;
//! assert_eq!(restored, history);
//!
//! // A flipped bit anywhere is caught.
//! backup[200] ^= 1;
//! let failed = Decryptor::new(&key).decrypt(&backup[..], &mut Vec::new());
//! assert_eq!(failed, Err(hush_backup::Error::CorruptedChunk { index: 0 }));
//! # Ok(())
//! # }
//! ```
//!
//! ## Features
//!
//! - `vault`: the OPAQUE password vault.
//! - `vault-sqlite`: a SQLite store for the vault.

#![forbid(unsafe_code)]

pub mod error;
pub mod key;
pub mod limits;
pub mod password;
pub mod recovery;
pub mod stream;
#[cfg(feature = "vault")]
pub mod vault;

pub use error::{Error, Result};
pub use key::{BackupId, BackupKey};
pub use password::{Argon2Params, PasswordWrappedKey};
pub use recovery::RecoveryCode;
pub use stream::{
    BackupReader, BackupWriter, ChunkOpener, ChunkSealer, Decryptor, Encryptor, Progress,
    StreamHeader, StreamSummary,
};
