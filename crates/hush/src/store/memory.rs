//! The in-memory store: every table a `BTreeMap` of encodings behind one mutex.
//!
//! A [`MemoryTransaction`] holds the mutex for its whole life (so transactions are
//! serialised, as the [`Store`] contract asks) and stages its writes in an overlay of
//! its own; [`Transaction::commit`] applies the overlay, dropping the transaction throws
//! it away. Values are kept as their byte encodings — the same ones the SQLite store
//! writes — so both stores run the same decode paths; secret encodings are
//! `Zeroizing` and wiped when replaced, removed or discarded.
//!
//! The store has no bound of its own: it holds what the protocol lets a device
//! accumulate (one session per remote device, the prekeys the device generated, one
//! sender-key record per sender and distribution), like any database would.

use std::collections::BTreeMap;
use std::ops::RangeBounds;
use std::sync::{Mutex, MutexGuard, PoisonError};

use hush_core::curve::PUBLIC_KEY_LENGTH;
use hush_core::{IdentityKey, PublicKey};
use hush_group::{DISTRIBUTION_ID_LENGTH, DistributionId, SenderKeyRecord, SenderKeyTracker};
use hush_prekey::{KemPreKeyRecord, PreKeyIdAllocator, PreKeyRecord, SignedPreKeyRecord};
use hush_ratchet::SessionRecord;
use zeroize::Zeroizing;

use super::{
    DeviceListStore, IdentityStore, LocalAccount, PreKeyStore, SenderKeyStore, SessionStore, Store,
    Transaction, codec,
};
use crate::Address;
use crate::error::Result;

type Secret = Zeroizing<Vec<u8>>;
type DeviceKey = (String, u32);
type LastResortKey = (u32, u32, [u8; PUBLIC_KEY_LENGTH]);
type SenderKeyKey = (DeviceKey, [u8; DISTRIBUTION_ID_LENGTH]);

/// Declares the committed tables and the matching overlay of staged changes, so a new
/// table cannot be added to one and forgotten in the other.
macro_rules! tables {
    ($($field:ident: $key:ty => $value:ty,)*) => {
        /// The committed state.
        #[derive(Default)]
        struct Tables {
            $($field: BTreeMap<$key, $value>,)*
        }

        /// A transaction's staged writes: `Some` puts, `None` deletes.
        #[derive(Default)]
        struct Staging {
            $($field: Staged<$key, $value>,)*
        }

        impl Staging {
            fn apply(self, tables: &mut Tables) {
                $(self.$field.apply(&mut tables.$field);)*
            }
        }
    };
}

tables! {
    account: () => Secret,
    identities: DeviceKey => [u8; PUBLIC_KEY_LENGTH],
    signed_prekeys: u32 => Secret,
    one_time_prekeys: u32 => Secret,
    kem_prekeys: u32 => (bool, Secret),
    allocator: () => Vec<u8>,
    last_resort_uses: LastResortKey => (),
    sessions: DeviceKey => Secret,
    sender_keys: SenderKeyKey => Secret,
    trackers: [u8; DISTRIBUTION_ID_LENGTH] => Vec<u8>,
    own_device_list: () => Vec<u8>,
    device_lists: String => Vec<u8>,
    seen_offers: () => Vec<u8>,
}

/// The staged changes to one table.
struct Staged<K, V> {
    changes: BTreeMap<K, Option<V>>,
}

impl<K, V> Default for Staged<K, V> {
    fn default() -> Self {
        Self {
            changes: BTreeMap::new(),
        }
    }
}

impl<K: Ord + Clone, V> Staged<K, V> {
    fn get<'s>(&'s self, base: &'s BTreeMap<K, V>, key: &K) -> Option<&'s V> {
        match self.changes.get(key) {
            Some(change) => change.as_ref(),
            None => base.get(key),
        }
    }

    fn put(&mut self, key: K, value: V) {
        self.changes.insert(key, Some(value));
    }

    fn remove(&mut self, key: K) {
        self.changes.insert(key, None);
    }

    /// The keys in `range` that exist after the staged changes, with their values,
    /// ascending.
    fn range<R: RangeBounds<K> + Clone>(&self, base: &BTreeMap<K, V>, range: R) -> Vec<(K, bool)>
    where
        V: HasFlag,
    {
        let mut merged: BTreeMap<K, bool> = base
            .range(range.clone())
            .map(|(k, v)| (k.clone(), v.flag()))
            .collect();
        for (key, change) in self.changes.range(range) {
            match change {
                Some(value) => merged.insert(key.clone(), value.flag()),
                None => merged.remove(key),
            };
        }
        merged.into_iter().collect()
    }

    fn apply(self, base: &mut BTreeMap<K, V>) {
        for (key, change) in self.changes {
            match change {
                Some(value) => base.insert(key, value),
                None => base.remove(&key),
            };
        }
    }
}

/// The one bit of a value the id listings report (the KEM last-resort flag).
trait HasFlag {
    fn flag(&self) -> bool {
        false
    }
}

impl HasFlag for Secret {}
impl HasFlag for (bool, Secret) {
    fn flag(&self) -> bool {
        self.0
    }
}

/// A store that lives in memory and is gone when dropped: for tests, and for apps that
/// persist a device some other way.
///
/// ```
/// use hush::store::{IdentityStore, MemoryStore, Store, Transaction};
///
/// let store = MemoryStore::new();
/// let mut tx = store.transaction()?;
/// assert!(tx.local_account()?.is_none());
/// tx.commit()?;
/// # Ok::<(), hush::Error>(())
/// ```
#[derive(Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

impl core::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

impl Store for MemoryStore {
    type Transaction<'a> = MemoryTransaction<'a>;

    fn transaction(&self) -> Result<MemoryTransaction<'_>> {
        // A panic while the lock was held cannot have left the tables half written:
        // they change only in `Staging::apply`, which does nothing that panics. So a
        // poisoned lock still guards consistent tables.
        let tables = self.tables.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(MemoryTransaction {
            tables,
            staged: Staging::default(),
        })
    }
}

/// A transaction on a [`MemoryStore`]: holds the store's lock until committed or
/// dropped.
pub struct MemoryTransaction<'a> {
    tables: MutexGuard<'a, Tables>,
    staged: Staging,
}

impl core::fmt::Debug for MemoryTransaction<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MemoryTransaction").finish_non_exhaustive()
    }
}

impl Transaction for MemoryTransaction<'_> {
    fn commit(self) -> Result<()> {
        let Self { mut tables, staged } = self;
        staged.apply(&mut tables);
        Ok(())
    }
}

/// Reads a value of `table` through the overlay and decodes it.
macro_rules! read {
    ($self:ident, $table:ident, $key:expr, $decode:expr) => {
        $self
            .staged
            .$table
            .get(&$self.tables.$table, &$key)
            .map(|value| $decode(value))
            .transpose()
    };
}

impl IdentityStore for MemoryTransaction<'_> {
    fn local_account(&mut self) -> Result<Option<LocalAccount>> {
        read!(self, account, (), |v: &Secret| codec::account(v))
    }

    fn set_local_account(&mut self, account: &LocalAccount) -> Result<()> {
        self.staged.account.put((), account.encode()?);
        Ok(())
    }

    fn remote_identity(&mut self, address: &Address) -> Result<Option<IdentityKey>> {
        read!(
            self,
            identities,
            codec::device_key(address),
            |v: &[u8; 33]| { codec::identity_key(v) }
        )
    }

    fn set_remote_identity(&mut self, address: &Address, key: &IdentityKey) -> Result<()> {
        self.staged
            .identities
            .put(codec::device_key(address), key.encode());
        Ok(())
    }

    fn addresses_with_identity(&mut self, key: &IdentityKey) -> Result<Vec<Address>> {
        let wanted = key.encode();
        let staged = &self.staged.identities.changes;
        let committed = self
            .tables
            .identities
            .iter()
            .filter(|(device, _)| !staged.contains_key(*device))
            .filter(|(_, stored)| **stored == wanted)
            .map(|(device, _)| device);
        let written = staged
            .iter()
            .filter(|(_, change)| change.as_ref() == Some(&wanted))
            .map(|(device, _)| device);
        let mut found: Vec<&DeviceKey> = committed.chain(written).collect();
        found.sort_unstable();
        found
            .into_iter()
            .map(|(name, device_id)| Address::new(name.as_str(), *device_id).map_err(Into::into))
            .collect()
    }
}

impl PreKeyStore for MemoryTransaction<'_> {
    fn signed_prekey(&mut self, id: u32) -> Result<Option<SignedPreKeyRecord>> {
        read!(self, signed_prekeys, id, |v: &Secret| codec::signed_prekey(
            v
        ))
    }

    fn put_signed_prekey(&mut self, record: &SignedPreKeyRecord) -> Result<()> {
        self.staged.signed_prekeys.put(record.id(), record.encode());
        Ok(())
    }

    fn remove_signed_prekey(&mut self, id: u32) -> Result<()> {
        self.staged.signed_prekeys.remove(id);
        Ok(())
    }

    fn signed_prekey_ids(&mut self) -> Result<Vec<u32>> {
        let ids = self
            .staged
            .signed_prekeys
            .range(&self.tables.signed_prekeys, ..);
        Ok(ids.into_iter().map(|(id, _)| id).collect())
    }

    fn one_time_prekey(&mut self, id: u32) -> Result<Option<PreKeyRecord>> {
        read!(self, one_time_prekeys, id, |v: &Secret| {
            codec::one_time_prekey(v)
        })
    }

    fn put_one_time_prekey(&mut self, record: &PreKeyRecord) -> Result<()> {
        self.staged
            .one_time_prekeys
            .put(record.id(), record.encode());
        Ok(())
    }

    fn remove_one_time_prekey(&mut self, id: u32) -> Result<()> {
        self.staged.one_time_prekeys.remove(id);
        Ok(())
    }

    fn one_time_prekey_count(&mut self) -> Result<usize> {
        let ids = self
            .staged
            .one_time_prekeys
            .range(&self.tables.one_time_prekeys, ..);
        Ok(ids.len())
    }

    fn kem_prekey(&mut self, id: u32) -> Result<Option<KemPreKeyRecord>> {
        read!(self, kem_prekeys, id, |v: &(bool, Secret)| {
            codec::kem_prekey(&v.1)
        })
    }

    fn put_kem_prekey(&mut self, record: &KemPreKeyRecord) -> Result<()> {
        self.staged
            .kem_prekeys
            .put(record.id(), (record.is_last_resort(), record.encode()));
        Ok(())
    }

    fn remove_kem_prekey(&mut self, id: u32) -> Result<()> {
        self.staged.kem_prekeys.remove(id);
        Ok(())
    }

    fn kem_prekey_ids(&mut self) -> Result<Vec<(u32, bool)>> {
        Ok(self.staged.kem_prekeys.range(&self.tables.kem_prekeys, ..))
    }

    fn prekey_id_allocator(&mut self) -> Result<Option<PreKeyIdAllocator>> {
        read!(self, allocator, (), |v: &Vec<u8>| codec::allocator(v))
    }

    fn set_prekey_id_allocator(&mut self, allocator: &PreKeyIdAllocator) -> Result<()> {
        self.staged.allocator.put((), allocator.encode().to_vec());
        Ok(())
    }

    fn last_resort_used(
        &mut self,
        kem_prekey_id: u32,
        signed_prekey_id: u32,
        base_key: &PublicKey,
    ) -> Result<bool> {
        let key = (kem_prekey_id, signed_prekey_id, codec::public_key(base_key));
        Ok(self
            .staged
            .last_resort_uses
            .get(&self.tables.last_resort_uses, &key)
            .is_some())
    }

    fn record_last_resort_use(
        &mut self,
        kem_prekey_id: u32,
        signed_prekey_id: u32,
        base_key: &PublicKey,
    ) -> Result<()> {
        let key = (kem_prekey_id, signed_prekey_id, codec::public_key(base_key));
        self.staged.last_resort_uses.put(key, ());
        Ok(())
    }
}

impl HasFlag for () {}
impl HasFlag for Vec<u8> {}
impl HasFlag for [u8; PUBLIC_KEY_LENGTH] {}

impl SessionStore for MemoryTransaction<'_> {
    fn session(&mut self, address: &Address) -> Result<Option<SessionRecord>> {
        read!(self, sessions, codec::device_key(address), |v: &Secret| {
            codec::session(v)
        })
    }

    fn put_session(&mut self, address: &Address, record: &SessionRecord) -> Result<()> {
        self.staged
            .sessions
            .put(codec::device_key(address), record.encode());
        Ok(())
    }

    fn remove_session(&mut self, address: &Address) -> Result<()> {
        self.staged.sessions.remove(codec::device_key(address));
        Ok(())
    }

    fn session_devices(&mut self, user: &str) -> Result<Vec<u32>> {
        let range = (user.to_owned(), 0)..=(user.to_owned(), u32::MAX);
        let keys = self.staged.sessions.range(&self.tables.sessions, range);
        Ok(keys.into_iter().map(|((_, device), _)| device).collect())
    }
}

impl SenderKeyStore for MemoryTransaction<'_> {
    fn sender_key(
        &mut self,
        sender: &Address,
        distribution_id: DistributionId,
    ) -> Result<Option<SenderKeyRecord>> {
        let key = (
            codec::device_key(sender),
            codec::distribution_id(distribution_id),
        );
        read!(self, sender_keys, key, |v: &Secret| codec::sender_key(v))
    }

    fn put_sender_key(
        &mut self,
        sender: &Address,
        distribution_id: DistributionId,
        record: &SenderKeyRecord,
    ) -> Result<()> {
        let key = (
            codec::device_key(sender),
            codec::distribution_id(distribution_id),
        );
        self.staged.sender_keys.put(key, record.encode());
        Ok(())
    }

    fn remove_sender_key(
        &mut self,
        sender: &Address,
        distribution_id: DistributionId,
    ) -> Result<()> {
        let key = (
            codec::device_key(sender),
            codec::distribution_id(distribution_id),
        );
        self.staged.sender_keys.remove(key);
        Ok(())
    }

    fn sender_key_tracker(
        &mut self,
        distribution_id: DistributionId,
    ) -> Result<Option<SenderKeyTracker>> {
        let key = codec::distribution_id(distribution_id);
        read!(self, trackers, key, |v: &Vec<u8>| codec::tracker(v))
    }

    fn put_sender_key_tracker(
        &mut self,
        distribution_id: DistributionId,
        tracker: &SenderKeyTracker,
    ) -> Result<()> {
        let key = codec::distribution_id(distribution_id);
        self.staged.trackers.put(key, tracker.encode());
        Ok(())
    }
}

impl DeviceListStore for MemoryTransaction<'_> {
    fn own_device_list(&mut self) -> Result<Option<Vec<u8>>> {
        Ok(self
            .staged
            .own_device_list
            .get(&self.tables.own_device_list, &())
            .cloned())
    }

    fn set_own_device_list(&mut self, signed: &[u8]) -> Result<()> {
        self.staged.own_device_list.put((), signed.to_vec());
        Ok(())
    }

    fn device_list(&mut self, user: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .staged
            .device_lists
            .get(&self.tables.device_lists, &user.to_owned())
            .cloned())
    }

    fn set_device_list(&mut self, user: &str, signed: &[u8]) -> Result<()> {
        self.staged
            .device_lists
            .put(user.to_owned(), signed.to_vec());
        Ok(())
    }

    fn seen_offers(&mut self) -> Result<Option<Vec<u8>>> {
        Ok(self
            .staged
            .seen_offers
            .get(&self.tables.seen_offers, &())
            .cloned())
    }

    fn set_seen_offers(&mut self, seen: &[u8]) -> Result<()> {
        self.staged.seen_offers.put((), seen.to_vec());
        Ok(())
    }
}
