//! The password vault: the backup key held by a vault that releases it only to someone
//! who knows the password, and destroys it after too many wrong guesses.
//!
//! This is the scheme of WhatsApp's end-to-end encrypted backups: the client and the vault
//! (an HSM in production) run OPAQUE, an augmented password-authenticated key exchange
//! (draft-irtf-cfrg-opaque, implemented by the `opaque-ke` crate), so
//!
//! - the vault never learns the password, not even at registration;
//! - the vault's records do not let anyone test a guess offline: checking a guess needs
//!   the OPRF key, which only the vault's [`VaultServerSetup`] can compute, so every guess
//!   is an online login that the vault counts;
//! - a successful login gives both sides a fresh session key, and the client an export
//!   key that the vault never sees.
//!
//! The backup key is stored wrapped under the export key (AES-256-GCM under
//! HKDF-SHA256(export key, "hush backup v1 vault wrapping")), and a successful login
//! releases it sealed again under a key derived from the session key: neither the vault
//! nor anyone watching the connection sees the backup key.
//!
//! The vault counts every login it starts as a failure until it succeeds, in the same
//! store transaction that checks the limit, before it sends any response; after
//! [`VaultConfig::attempt_limit`] failures (default 10) the record is destroyed for good.
//!
//! Ciphersuite: OPRF ristretto255-SHA512, key exchange 3DH over ristretto255 with
//! SHA-512, Argon2id as the key-stretching function (parameters chosen by the client,
//! default 19 MiB / 2 passes / 1 lane).
//!
//! Flows, byte layouts and the counter rules: `docs/wire/vault.md`.
//!
//! ```
//! use hush_backup::BackupKey;
//! use hush_backup::vault::{KsfParams, MemoryVaultStore, Vault, VaultClient, VaultConfig};
//! # fn main() -> Result<(), hush_backup::vault::VaultError> {
//! let mut rng = hush_core::rng::os_rng();
//! let vault = Vault::open(MemoryVaultStore::new(), VaultConfig::default(), &mut rng)?;
//! // Tiny Argon2id parameters keep the example fast; use `KsfParams::default()` for real.
//! let client = VaultClient::new(KsfParams::new(64, 1, 1)?);
//! let key = BackupKey::generate(&mut rng);
//!
//! // Registration: three messages.
//! let (registration, request) = client.register(b"correct horse", &mut rng)?;
//! let response = vault.registration_response(b"alice", &request, &mut rng)?;
//! let upload = registration.finish(&response, &key, &mut rng)?;
//! vault.register(b"alice", &upload)?;
//!
//! // Login: the vault releases the key, which only the client can open.
//! let (login, request) = VaultClient::login(b"correct horse", &mut rng)?;
//! let (state, response) = vault.login_start(b"alice", &request, &mut rng)?;
//! let (finalization, session) = login.finish(&response)?;
//! let release = vault.login_finish(b"alice", state, &finalization, 1_700_000_000_000)?;
//! assert!(session.open(&release)? == key);
//! # Ok(())
//! # }
//! ```

mod client;
pub mod error;
pub mod limits;
pub mod messages;
mod server;
#[cfg(feature = "vault-sqlite")]
mod sqlite;
mod store;
mod suite;

pub use client::{ClientLogin, ClientRegistration, PasswordChange, VaultClient, VaultSession};
pub use error::VaultError;
pub use server::{
    LOGIN_STATE_LEN, SERVER_SETUP_LEN, Vault, VaultConfig, VaultLoginState, VaultServerSetup,
};
#[cfg(feature = "vault-sqlite")]
pub use sqlite::SqliteVaultStore;
pub use store::{EntryChange, MemoryVaultStore, VaultEntry, VaultRecord, VaultStore};
pub use suite::KsfParams;

use zeroize::Zeroizing;

/// OPAQUE's application context, bound into the key exchange on both sides.
pub(crate) const OPAQUE_CONTEXT: &[u8] = b"hush vault v1 opaque";
/// HKDF info for the key that seals the release, from the session key.
pub(crate) const RELEASE_INFO: &[u8] = b"hush vault v1 release";
/// HKDF info for the update-authorization MAC key, from the session key.
pub(crate) const UPDATE_INFO: &[u8] = b"hush vault v1 update";
/// HKDF info for the key that makes fake credential nonces of unknown users, from the
/// server setup.
pub(crate) const DUMMY_NONCE_INFO: &[u8] = b"hush vault v1 dummy credential";
/// AES-GCM associated data of the wrapped backup key.
pub(crate) const WRAPPED_KEY_AAD: &[u8] = b"hush vault v1 wrapped key";

/// OPAQUE's credential identifier: the user id followed by the record's 32-byte
/// credential nonce (fixed length, so the split is unambiguous).
pub(crate) fn credential_identifier(user_id: &[u8], nonce: &[u8; 32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(user_id.len() + nonce.len());
    out.extend_from_slice(user_id);
    out.extend_from_slice(nonce);
    out
}

/// A 32-byte key from the OPAQUE session key: HKDF-SHA256, empty salt, `info`.
pub(crate) fn session_subkey(
    session_key: &[u8],
    info: &[u8],
) -> Result<Zeroizing<[u8; 32]>, VaultError> {
    hush_core::kdf::hkdf_sha256_array::<32>(&[], session_key, info)
        .map_err(|_| VaultError::Internal("hkdf"))
}
