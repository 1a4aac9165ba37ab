//! Vault storage: the [`VaultStore`] trait, the stored record format, and the in-memory
//! store.

use core::fmt;
use std::collections::HashMap;
use std::sync::Mutex;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::vault::error::VaultError;
use crate::vault::messages::{
    Fields, HEADER_LEN, NONCE_LEN, NewRegistration, VERSION, WRAPPED_KEY_LEN,
};
use crate::vault::suite::KSF_PARAMS_LEN;

/// Type byte of a stored active record.
pub(crate) const TYPE_RECORD_ACTIVE: u8 = 0x20;
/// Type byte of a stored tombstone.
pub(crate) const TYPE_RECORD_DESTROYED: u8 = 0x21;

const UPDATE_AUTH_LEN: usize = 32 + 8;
const ACTIVE_BASE_LEN: usize = HEADER_LEN
    + NONCE_LEN
    + KSF_PARAMS_LEN
    + crate::vault::messages::OPAQUE_UPLOAD_LEN
    + WRAPPED_KEY_LEN
    + 4
    + 1;

/// The one-time authorization a successful login leaves behind for a password change or
/// key rotation: an HMAC key derived from the session key, and when it was issued.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct UpdateAuth {
    pub(crate) key: [u8; 32],
    #[zeroize(skip)]
    pub(crate) issued_at_ms: u64,
}

/// What the vault keeps for one registered user.
///
/// Holds the OPAQUE registration record (client public key, masking key, envelope: about
/// as sensitive as a password hash, but useless for testing guesses without the vault's
/// OPRF key), the backup key wrapped under the client's OPAQUE export key (which the vault
/// never sees), the failed-attempt counter and, after a successful login, a short-lived
/// update authorization. Wiped on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct VaultRecord {
    pub(crate) registration: NewRegistration,
    pub(crate) wrapped_key: [u8; WRAPPED_KEY_LEN],
    #[zeroize(skip)]
    pub(crate) failed_attempts: u32,
    pub(crate) update_auth: Option<UpdateAuth>,
}

impl VaultRecord {
    /// Logins started since the last success (each counts as failed until it succeeds).
    #[must_use]
    pub fn failed_attempts(&self) -> u32 {
        self.failed_attempts
    }

    /// The Argon2id parameters the client registered with.
    #[must_use]
    pub fn ksf_params(&self) -> crate::vault::KsfParams {
        self.registration.ksf
    }

    /// Whether an unused update authorization is stored (it may have expired).
    #[must_use]
    pub fn has_update_authorization(&self) -> bool {
        self.update_auth.is_some()
    }
}

impl fmt::Debug for VaultRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            registration,
            wrapped_key: _,
            failed_attempts,
            update_auth,
        } = self;
        f.debug_struct("VaultRecord")
            .field("ksf", &registration.ksf)
            .field("failed_attempts", failed_attempts)
            .field("has_update_authorization", &update_auth.is_some())
            .finish_non_exhaustive()
    }
}

/// A user id's state in the store.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum VaultEntry {
    /// A registered user.
    Active(Box<VaultRecord>),
    /// A tombstone: the record was destroyed after too many failed logins. It refuses
    /// logins and re-registration until an operator removes it with `Vault::forget`.
    Destroyed,
}

impl VaultEntry {
    /// The stored form (see `docs/wire/vault.md`, "Stored values"). Wiped on drop.
    #[must_use]
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(ACTIVE_BASE_LEN + UPDATE_AUTH_LEN));
        out.push(VERSION);
        match self {
            Self::Destroyed => out.push(TYPE_RECORD_DESTROYED),
            Self::Active(record) => {
                out.push(TYPE_RECORD_ACTIVE);
                record.registration.write(&mut out);
                out.extend_from_slice(&record.wrapped_key);
                out.extend_from_slice(&record.failed_attempts.to_be_bytes());
                match &record.update_auth {
                    None => out.push(0),
                    Some(auth) => {
                        out.push(1);
                        out.extend_from_slice(&auth.key);
                        out.extend_from_slice(&auth.issued_at_ms.to_be_bytes());
                    }
                }
            }
        }
        out
    }

    /// Decodes the stored form.
    ///
    /// # Errors
    ///
    /// [`VaultError::UnknownVersion`], [`VaultError::Length`] or
    /// [`VaultError::Malformed`] (also for an unknown type byte), or
    /// [`VaultError::KsfParams`].
    pub fn decode(bytes: &[u8]) -> Result<Self, VaultError> {
        let name = "vault record";
        let mut f = Fields(bytes, name);
        let version = f.byte().map_err(|_| VaultError::Length {
            message: name,
            expected: HEADER_LEN,
            found: bytes.len(),
        })?;
        if version != VERSION {
            return Err(VaultError::UnknownVersion(version));
        }
        match f.byte()? {
            TYPE_RECORD_DESTROYED => {
                f.end()?;
                Ok(Self::Destroyed)
            }
            TYPE_RECORD_ACTIVE => {
                let expected = match bytes.get(ACTIVE_BASE_LEN - 1) {
                    Some(1) => ACTIVE_BASE_LEN + UPDATE_AUTH_LEN,
                    _ => ACTIVE_BASE_LEN,
                };
                if bytes.len() != expected {
                    return Err(VaultError::Length {
                        message: name,
                        expected,
                        found: bytes.len(),
                    });
                }
                let registration = NewRegistration::read(&mut f)?;
                let wrapped_key = f.array()?;
                let failed_attempts = u32::from_be_bytes(f.array()?);
                let update_auth = match f.byte()? {
                    0 => None,
                    1 => Some(UpdateAuth {
                        key: f.array()?,
                        issued_at_ms: u64::from_be_bytes(f.array()?),
                    }),
                    _ => return Err(VaultError::Malformed("vault record update flag")),
                };
                f.end()?;
                Ok(Self::Active(Box::new(VaultRecord {
                    registration,
                    wrapped_key,
                    failed_attempts,
                    update_auth,
                })))
            }
            _ => Err(VaultError::Malformed("vault record type")),
        }
    }
}

/// What a [`VaultStore::transact`] closure asks the store to do with the entry.
#[derive(Debug)]
#[non_exhaustive]
pub enum EntryChange {
    /// Leave the entry as it is.
    Keep,
    /// Insert or replace the entry.
    Put(VaultEntry),
    /// Remove the entry (no tombstone).
    Delete,
}

/// Where the vault keeps its server setup and its records.
///
/// Every method is one atomic transaction. [`VaultStore::transact`] is the heart of the
/// attempt limit: the vault reads an entry, decides (check the counter, bump it, destroy
/// the record) and writes back inside one call, and the store must make sure no other
/// `transact` on the same user id, from any thread or process, interleaves with it.
/// Otherwise concurrent guesses could all pass the check before any of them is counted.
pub trait VaultStore: Send + Sync {
    /// The stored server setup (see [`crate::vault::VaultServerSetup::to_bytes`]), if
    /// any.
    ///
    /// The setup holds the OPRF seed and the vault's private key: whoever has it and the
    /// records can run offline guesses. Protect it at rest (in production: keep it in
    /// hardware, as WhatsApp's HSM-based vault does; this crate's stores keep it in memory
    /// or in the SQLite file).
    ///
    /// # Errors
    ///
    /// [`VaultError::Store`] if the store cannot be read.
    fn server_setup(&self) -> Result<Option<Zeroizing<Vec<u8>>>, VaultError>;

    /// Stores `setup` unless a setup is already stored, and returns the one that is
    /// stored afterwards (so that of two vaults opening a fresh store at once, both end up
    /// with the same setup).
    ///
    /// # Errors
    ///
    /// [`VaultError::Store`] if the store cannot be written.
    fn init_server_setup(&self, setup: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError>;

    /// Reads the entry of `user_id`, hands it to `f`, applies the change `f` returns and
    /// returns `f`'s result, all in one transaction.
    ///
    /// # Errors
    ///
    /// [`VaultError::Store`] if the store fails (then no change is applied), or the
    /// error of decoding a corrupt stored entry.
    fn transact<R>(
        &self,
        user_id: &[u8],
        f: impl FnOnce(Option<VaultEntry>) -> (EntryChange, R),
    ) -> Result<R, VaultError>;

    /// The entry of `user_id`, read in its own transaction.
    ///
    /// # Errors
    ///
    /// As [`VaultStore::transact`].
    fn entry(&self, user_id: &[u8]) -> Result<Option<VaultEntry>, VaultError> {
        self.transact(user_id, |entry| (EntryChange::Keep, entry))
    }
}

/// A [`VaultStore`] in memory, behind one mutex: for tests, and for vaults whose state
/// lives elsewhere (an HSM's own storage).
#[derive(Default)]
pub struct MemoryVaultStore {
    inner: Mutex<MemoryInner>,
}

#[derive(Default)]
struct MemoryInner {
    setup: Option<Zeroizing<Vec<u8>>>,
    entries: HashMap<Vec<u8>, VaultEntry>,
}

impl MemoryVaultStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, MemoryInner>, VaultError> {
        self.inner
            .lock()
            .map_err(|_| VaultError::Store("memory store lock poisoned"))
    }

    /// Every stored entry in its stored form (without the user ids), as someone who stole
    /// the store would see it (for tests and audits).
    ///
    /// # Errors
    ///
    /// [`VaultError::Store`] if the lock is poisoned.
    pub fn dump(&self) -> Result<Vec<Zeroizing<Vec<u8>>>, VaultError> {
        let inner = self.lock()?;
        Ok(inner.entries.values().map(VaultEntry::encode).collect())
    }
}

impl fmt::Debug for MemoryVaultStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries = self.inner.lock().map(|inner| inner.entries.len()).ok();
        f.debug_struct("MemoryVaultStore")
            .field("entries", &entries)
            .finish_non_exhaustive()
    }
}

impl VaultStore for MemoryVaultStore {
    fn server_setup(&self) -> Result<Option<Zeroizing<Vec<u8>>>, VaultError> {
        Ok(self.lock()?.setup.clone())
    }

    fn init_server_setup(&self, setup: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let mut inner = self.lock()?;
        Ok(inner
            .setup
            .get_or_insert_with(|| Zeroizing::new(setup.to_vec()))
            .clone())
    }

    fn transact<R>(
        &self,
        user_id: &[u8],
        f: impl FnOnce(Option<VaultEntry>) -> (EntryChange, R),
    ) -> Result<R, VaultError> {
        let mut inner = self.lock()?;
        let (change, result) = f(inner.entries.get(user_id).cloned());
        match change {
            EntryChange::Keep => {}
            EntryChange::Put(entry) => {
                inner.entries.insert(user_id.to_vec(), entry);
            }
            EntryChange::Delete => {
                inner.entries.remove(user_id);
            }
        }
        Ok(result)
    }
}

/// A shared store: several vaults (or threads) over one store.
impl<T: VaultStore + ?Sized> VaultStore for std::sync::Arc<T> {
    fn server_setup(&self) -> Result<Option<Zeroizing<Vec<u8>>>, VaultError> {
        (**self).server_setup()
    }

    fn init_server_setup(&self, setup: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        (**self).init_server_setup(setup)
    }

    fn transact<R>(
        &self,
        user_id: &[u8],
        f: impl FnOnce(Option<VaultEntry>) -> (EntryChange, R),
    ) -> Result<R, VaultError> {
        (**self).transact(user_id, f)
    }
}
