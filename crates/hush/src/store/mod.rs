//! Where a device keeps its state: traits, and two implementations ([`MemoryStore`] and,
//! with the `sqlite` feature, `SqliteStore`).
//!
//! # One transaction per state change
//!
//! Everything a device remembers goes through a [`Transaction`]: the facade begins one,
//! reads what a message needs (a session record, a prekey, a sender key), computes the new
//! state, writes it back and commits. Nothing is visible before [`Transaction::commit`];
//! dropping a transaction uncommitted discards every write, so a failed decrypt, an error
//! half way through a fan-out or a crash leaves the store as it was before the message.
//! Transactions of one store are serialised: two threads decrypting for the same device
//! cannot both consume one one-time prekey.
//!
//! # Synchronous, and why
//!
//! The traits are synchronous. The protocol crates under them are synchronous state
//! machines with no I/O; SQLite (the store most apps use) is a synchronous library; and
//! the guarantee above needs the read, the computation and the write inside one
//! transaction, which an `async` trait would hold open across `.await` points (and across
//! executors). An async app calls the facade from a blocking context —
//! `tokio::task::spawn_blocking`, or one dedicated thread per device that owns the
//! [`crate::Device`] and receives work over a channel — exactly as it would call rusqlite.
//! A message costs microseconds of CPU plus one store commit; see `docs/ARCHITECTURE.md`
//! and `examples/async_tokio.rs`.
//!
//! # Typed, and encoded inside
//!
//! The traits speak the protocol crates' types (`SessionRecord`, `SignedPreKeyRecord`,
//! ...). Implementations keep them as their versioned byte encodings (each type's
//! `encode`/`decode`), so a store holds exactly what the wire docs describe and can
//! encrypt secret values at rest without knowing what they are.

use hush_core::{IdentityKey, IdentityKeyPair, PublicKey};
use hush_group::{DistributionId, SenderKeyRecord, SenderKeyTracker};
use hush_prekey::{KemPreKeyRecord, PreKeyIdAllocator, PreKeyRecord, SignedPreKeyRecord};
use hush_ratchet::SessionRecord;

use crate::Address;
use crate::error::Result;

mod codec;
pub mod limits;
mod memory;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use codec::LOCAL_ACCOUNT_FORMAT_VERSION;
pub use memory::{MemoryStore, MemoryTransaction};
#[cfg(feature = "sqlite")]
pub use sqlite::{
    AtRestKey, SCHEMA_VERSION, SqliteOptions, SqliteStore, SqliteTransaction, Synchronous,
};

/// A device's whole state, as one transactional store.
pub trait Store: Send + Sync {
    /// A transaction on this store.
    type Transaction<'a>: Transaction
    where
        Self: 'a;

    /// Begins a transaction. It sees the committed state plus its own writes; other
    /// transactions wait until it commits or is dropped.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] if the storage cannot begin one.
    fn transaction(&self) -> Result<Self::Transaction<'_>>;
}

/// Reads and writes of one transaction: every per-kind store trait, plus commit.
pub trait Transaction:
    IdentityStore + PreKeyStore + SessionStore + SenderKeyStore + DeviceListStore
{
    /// Makes every write of this transaction durable and visible at once. Dropping the
    /// transaction instead discards them.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] if the storage cannot commit; nothing was written then.
    fn commit(self) -> Result<()>;

    /// For each of `device_ids` of `user`, in that order: the identity recorded for it
    /// and its session record — what a send to those devices reads.
    ///
    /// The provided method asks [`IdentityStore::remote_identity`] and
    /// [`SessionStore::session`] once per device; a store may answer in fewer round
    /// trips but must return the same. (`SqliteStore` answers from its row cache, or reads
    /// the user's identities in one query and where the user's session records are once
    /// per transaction.)
    ///
    /// # Errors
    ///
    /// [`crate::Error::InvalidArgument`] for a bad user or device id;
    /// [`crate::Error::Store`] on a storage failure or a stored value that does not
    /// decode.
    fn peers(&mut self, user: &str, device_ids: &[u32]) -> Result<Vec<Peer>> {
        device_ids
            .iter()
            .map(|&device_id| {
                let address = Address::new(user, device_id)?;
                Ok(Peer {
                    identity: self.remote_identity(&address)?,
                    session: self.session(&address)?,
                })
            })
            .collect()
    }
}

/// What a store holds about one remote device: [`Transaction::peers`].
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Peer {
    /// The identity key recorded for the device ([`IdentityStore::remote_identity`]).
    pub identity: Option<IdentityKey>,
    /// Its session record ([`SessionStore::session`]).
    pub session: Option<SessionRecord>,
}

impl Peer {
    /// A peer with this recorded identity and session (for stores that implement
    /// [`Transaction::peers`] themselves).
    #[must_use]
    pub const fn new(identity: Option<IdentityKey>, session: Option<SessionRecord>) -> Self {
        Self { identity, session }
    }
}

/// Who this device is: its account, its own identity, and its place in the account.
pub struct LocalAccount {
    /// The account's user id (the address name other users send to).
    pub user: String,
    /// This device's id within the account: 1 for the primary, 2.. for companions.
    pub device_id: u32,
    /// This device's registration id (libsignal's, 14 bits).
    pub registration_id: u32,
    /// This device's identity key pair: its sessions and prekeys are under this key.
    pub identity: IdentityKeyPair,
    /// The account identity key, which signs the account's device list. On the primary
    /// it is `identity`'s public key.
    pub account_key: IdentityKey,
}

impl core::fmt::Debug for LocalAccount {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let Self {
            user,
            device_id,
            registration_id,
            identity,
            account_key,
        } = self;
        f.debug_struct("LocalAccount")
            .field("user", user)
            .field("device_id", device_id)
            .field("registration_id", registration_id)
            .field("identity_key", &identity.identity_key())
            .field("account_key", account_key)
            .finish_non_exhaustive()
    }
}

/// This device's identity and the identities it has seen for other devices.
pub trait IdentityStore {
    /// This device's account, if one was created or restored.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] on a storage failure or a stored value that does not decode.
    fn local_account(&mut self) -> Result<Option<LocalAccount>>;

    /// Sets this device's account.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] on a storage failure.
    fn set_local_account(&mut self, account: &LocalAccount) -> Result<()>;

    /// The identity key last accepted for `address`.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] on a storage failure or a stored value that does not decode.
    fn remote_identity(&mut self, address: &Address) -> Result<Option<IdentityKey>>;

    /// Records `key` as the identity of `address` (first use, or after the app accepted
    /// a change).
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] on a storage failure.
    fn set_remote_identity(&mut self, address: &Address, key: &IdentityKey) -> Result<()>;

    /// Every address whose recorded identity is `key`, in increasing order (name, then
    /// device id), this transaction's own writes included. The facade asks it before it
    /// accepts a device list or records an identity, to refuse one identity key under two
    /// users. `SqliteStore` answers from an index on the key (schema version 4).
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] on a storage failure or a stored value that does not decode.
    fn addresses_with_identity(&mut self, key: &IdentityKey) -> Result<Vec<Address>>;
}

/// This device's prekeys (private halves) and their bookkeeping.
pub trait PreKeyStore {
    /// The signed prekey `id`.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] on a storage failure or a stored value that does not decode.
    fn signed_prekey(&mut self, id: u32) -> Result<Option<SignedPreKeyRecord>>;

    /// Stores (or replaces) a signed prekey.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] on a storage failure.
    fn put_signed_prekey(&mut self, record: &SignedPreKeyRecord) -> Result<()>;

    /// Deletes the signed prekey `id` (absent is not an error).
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] on a storage failure.
    fn remove_signed_prekey(&mut self, id: u32) -> Result<()>;

    /// The ids of every stored signed prekey, ascending.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] on a storage failure.
    fn signed_prekey_ids(&mut self) -> Result<Vec<u32>>;

    /// The one-time prekey `id`.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] on a storage failure or a stored value that does not decode.
    fn one_time_prekey(&mut self, id: u32) -> Result<Option<PreKeyRecord>>;

    /// Stores a one-time prekey.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] on a storage failure.
    fn put_one_time_prekey(&mut self, record: &PreKeyRecord) -> Result<()>;

    /// Deletes the one-time prekey `id` (absent is not an error).
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] on a storage failure.
    fn remove_one_time_prekey(&mut self, id: u32) -> Result<()>;

    /// How many one-time prekeys are stored.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] on a storage failure.
    fn one_time_prekey_count(&mut self) -> Result<usize>;

    /// The KEM prekey `id`, one-time or last resort (the record says which).
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] on a storage failure or a stored value that does not decode.
    fn kem_prekey(&mut self, id: u32) -> Result<Option<KemPreKeyRecord>>;

    /// Stores (or replaces) a KEM prekey.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] on a storage failure.
    fn put_kem_prekey(&mut self, record: &KemPreKeyRecord) -> Result<()>;

    /// Deletes the KEM prekey `id` (absent is not an error).
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] on a storage failure.
    fn remove_kem_prekey(&mut self, id: u32) -> Result<()>;

    /// The ids of every stored KEM prekey, ascending, with whether each is last resort.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] on a storage failure.
    fn kem_prekey_ids(&mut self) -> Result<Vec<(u32, bool)>>;

    /// The prekey id allocator's state, if prekeys were ever generated.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] on a storage failure or a stored value that does not decode.
    fn prekey_id_allocator(&mut self) -> Result<Option<PreKeyIdAllocator>>;

    /// Saves the prekey id allocator's state.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] on a storage failure.
    fn set_prekey_id_allocator(&mut self, allocator: &PreKeyIdAllocator) -> Result<()>;

    /// Whether `base_key` already started a session with this last-resort KEM prekey
    /// and signed prekey (libsignal's reuse rule; see `hush_ratchet::LastResortReuseGuard`).
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] on a storage failure.
    fn last_resort_used(
        &mut self,
        kem_prekey_id: u32,
        signed_prekey_id: u32,
        base_key: &PublicKey,
    ) -> Result<bool>;

    /// Remembers that `base_key` started a session with this last-resort KEM prekey and
    /// signed prekey.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] on a storage failure.
    fn record_last_resort_use(
        &mut self,
        kem_prekey_id: u32,
        signed_prekey_id: u32,
        base_key: &PublicKey,
    ) -> Result<()>;
}

/// One session record per remote device.
pub trait SessionStore {
    /// The session record for `address`.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] on a storage failure or a stored value that does not decode.
    fn session(&mut self, address: &Address) -> Result<Option<SessionRecord>>;

    /// Stores (or replaces) the session record for `address`.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] on a storage failure.
    fn put_session(&mut self, address: &Address, record: &SessionRecord) -> Result<()>;

    /// Deletes the session record for `address` (absent is not an error).
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] on a storage failure.
    fn remove_session(&mut self, address: &Address) -> Result<()>;

    /// The device ids of `user` that have a session record, ascending.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] on a storage failure.
    fn session_devices(&mut self, user: &str) -> Result<Vec<u32>>;
}

/// Sender keys: every sender's chains this device holds, and this device's own
/// distribution bookkeeping.
pub trait SenderKeyStore {
    /// The sender-key record of `sender` for `distribution_id` (this device's own chain
    /// when `sender` is this device).
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] on a storage failure or a stored value that does not decode.
    fn sender_key(
        &mut self,
        sender: &Address,
        distribution_id: DistributionId,
    ) -> Result<Option<SenderKeyRecord>>;

    /// Stores (or replaces) a sender-key record.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] on a storage failure.
    fn put_sender_key(
        &mut self,
        sender: &Address,
        distribution_id: DistributionId,
        record: &SenderKeyRecord,
    ) -> Result<()>;

    /// Deletes the sender-key record of `sender` for `distribution_id`, if any (the sender
    /// left the group: its chain must not decrypt anything more).
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] on a storage failure.
    fn remove_sender_key(
        &mut self,
        sender: &Address,
        distribution_id: DistributionId,
    ) -> Result<()>;

    /// This device's membership bookkeeping for its own chain of `distribution_id`.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] on a storage failure or a stored value that does not decode.
    fn sender_key_tracker(
        &mut self,
        distribution_id: DistributionId,
    ) -> Result<Option<SenderKeyTracker>>;

    /// Stores (or replaces) the bookkeeping for `distribution_id`.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] on a storage failure.
    fn put_sender_key_tracker(
        &mut self,
        distribution_id: DistributionId,
        tracker: &SenderKeyTracker,
    ) -> Result<()>;
}

/// Device lists: the account's own list, and the verified lists of other users.
///
/// A store keeps the bytes it is given and hands them back; it need not authenticate
/// them. The facade treats what it reads as untrusted: it checks every stored list's
/// signatures again when it reads it (`docs/wire/store.md`, "Device lists are checked when
/// read"), so a store that returns other bytes (a file someone wrote to, a bug) makes
/// sends and decrypts fail with `Error::Store`, never adds a device.
pub trait DeviceListStore {
    /// The account's own signed device list (`hush_device::SignedDeviceList` encoding):
    /// the primary's latest signature, or the one a companion last received.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] on a storage failure.
    fn own_device_list(&mut self) -> Result<Option<Vec<u8>>>;

    /// Stores the account's own signed device list.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] on a storage failure.
    fn set_own_device_list(&mut self, signed: &[u8]) -> Result<()>;

    /// The last signed device list of `user` that this device verified and stored (its
    /// `SignedDeviceList` encoding), as stored: the facade checks it again on reading.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] on a storage failure.
    fn device_list(&mut self, user: &str) -> Result<Option<Vec<u8>>>;

    /// Stores a signed device list of `user` that was verified against the stored one.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] on a storage failure.
    fn set_device_list(&mut self, user: &str, signed: &[u8]) -> Result<()>;

    /// On a primary: the linking offers it has answered and that have not expired
    /// (`hush_device::SeenOffers` encoding), so an offer is answered once even across a
    /// restart.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] on a storage failure.
    fn seen_offers(&mut self) -> Result<Option<Vec<u8>>>;

    /// Stores the answered linking offers.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Store`] on a storage failure.
    fn set_seen_offers(&mut self, seen: &[u8]) -> Result<()>;
}
