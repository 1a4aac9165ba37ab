//! The store contract, run on every store: [`MemoryStore`], and with the `sqlite`
//! feature [`SqliteStore`] in memory and on disk, with and without encryption at rest.
//! Each test body is generic over `S: Store`; the `stores!` macro instantiates it once
//! per store.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod store_common;

use hush::Error;
use hush::store::{
    DeviceListStore, IdentityStore, LocalAccount, MemoryStore, PreKeyStore, SenderKeyStore,
    SessionStore, Store, Transaction,
};
use store_common::{Fixtures, address};

/// Builds a fresh store of each kind and runs `body` on it.
macro_rules! stores {
    ($($name:ident => $body:path;)*) => {
        mod memory {
            $(#[test]
            fn $name() {
                $body(&hush::store::MemoryStore::new());
            })*
        }

        #[cfg(feature = "sqlite")]
        mod sqlite_plain {
            $(#[test]
            fn $name() {
                $body(&hush::store::SqliteStore::open_in_memory(None).unwrap());
            })*
        }

        #[cfg(feature = "sqlite")]
        mod sqlite_encrypted {
            $(#[test]
            fn $name() {
                let key = hush::store::AtRestKey::new([7; 32]);
                $body(&hush::store::SqliteStore::open_in_memory(Some(key)).unwrap());
            })*
        }

        #[cfg(feature = "sqlite")]
        mod sqlite_file_encrypted {
            $(#[test]
            fn $name() {
                let dir = tempfile::tempdir().unwrap();
                let key = hush::store::AtRestKey::new([9; 32]);
                let path = dir.path().join("device.db");
                $body(&hush::store::SqliteStore::open(&path, Some(key)).unwrap());
            })*
        }
    };
}

stores! {
    identity_round_trip => super::identity_round_trip;
    prekeys_round_trip => super::prekeys_round_trip;
    sessions_round_trip => super::sessions_round_trip;
    peers_match_per_device_reads => super::peers_match_per_device_reads;
    sessions_shrink_and_grow => super::sessions_shrink_and_grow;
    sender_keys_round_trip => super::sender_keys_round_trip;
    device_lists_round_trip => super::device_lists_round_trip;
    dropping_discards => super::dropping_discards;
    commit_makes_visible => super::commit_makes_visible;
    reads_see_own_writes => super::reads_see_own_writes;
    concurrent_increments => super::concurrent_increments;
}

fn account_bytes(account: &LocalAccount) -> Vec<u8> {
    account.encode().unwrap().to_vec()
}

fn identity_round_trip<S: Store>(store: &S) {
    let f = Fixtures::new(1);
    let bob = address("bob", 1);
    let mut tx = store.transaction().unwrap();
    assert!(tx.local_account().unwrap().is_none());
    assert!(tx.remote_identity(&bob).unwrap().is_none());
    tx.set_local_account(&f.account()).unwrap();
    tx.set_remote_identity(&bob, &f.peer_identity).unwrap();
    tx.commit().unwrap();

    let mut tx = store.transaction().unwrap();
    let account = tx.local_account().unwrap().unwrap();
    assert_eq!(account_bytes(&account), account_bytes(&f.account()));
    assert_eq!(account.user, "alice");
    assert_eq!(account.device_id, 2);
    assert_eq!(account.registration_id, 4321);
    assert_eq!(account.identity.identity_key(), f.identity.identity_key());
    assert_eq!(tx.remote_identity(&bob).unwrap(), Some(f.peer_identity));
    // Another device of the same user, and the same device id of another user, are
    // other rows.
    assert!(tx.remote_identity(&address("bob", 2)).unwrap().is_none());
    assert!(tx.remote_identity(&address("bobby", 1)).unwrap().is_none());
    // By key: the committed row, and this transaction's own writes.
    assert_eq!(
        tx.addresses_with_identity(&f.peer_identity).unwrap(),
        vec![bob.clone()]
    );
    tx.set_remote_identity(&address("alice", 3), &f.peer_identity)
        .unwrap();
    assert_eq!(
        tx.addresses_with_identity(&f.peer_identity).unwrap(),
        [address("alice", 3), bob.clone()]
    );
    // Replacing.
    tx.set_remote_identity(&bob, &f.identity.identity_key())
        .unwrap();
    assert_eq!(
        tx.remote_identity(&bob).unwrap(),
        Some(f.identity.identity_key())
    );
    assert_eq!(
        tx.addresses_with_identity(&f.peer_identity).unwrap(),
        [address("alice", 3)]
    );
    assert_eq!(
        tx.addresses_with_identity(&f.identity.identity_key())
            .unwrap(),
        vec![bob.clone()]
    );
    tx.commit().unwrap();
    // A dropped transaction's writes are not found.
    let mut tx = store.transaction().unwrap();
    tx.set_remote_identity(&address("carol", 1), &f.identity.identity_key())
        .unwrap();
    drop(tx);
    let mut tx = store.transaction().unwrap();
    assert_eq!(
        tx.addresses_with_identity(&f.identity.identity_key())
            .unwrap(),
        [bob]
    );
}

fn prekeys_round_trip<S: Store>(store: &S) {
    let f = Fixtures::new(2);
    let mut tx = store.transaction().unwrap();
    assert!(tx.signed_prekey(5).unwrap().is_none());
    assert_eq!(tx.one_time_prekey_count().unwrap(), 0);
    assert!(tx.prekey_id_allocator().unwrap().is_none());
    tx.put_signed_prekey(&f.signed).unwrap();
    tx.put_one_time_prekey(&f.one_time).unwrap();
    tx.put_kem_prekey(&f.kem_last_resort).unwrap();
    tx.put_kem_prekey(&f.kem).unwrap();
    tx.set_prekey_id_allocator(&f.allocator).unwrap();
    assert!(!tx.last_resort_used(12, 5, &f.base_key).unwrap());
    tx.record_last_resort_use(12, 5, &f.base_key).unwrap();
    tx.record_last_resort_use(12, 5, &f.base_key).unwrap();
    tx.commit().unwrap();

    let mut tx = store.transaction().unwrap();
    assert_eq!(tx.signed_prekey(5).unwrap().unwrap(), f.signed);
    assert_eq!(tx.signed_prekey_ids().unwrap(), vec![5]);
    assert_eq!(tx.one_time_prekey(9).unwrap().unwrap(), f.one_time);
    assert_eq!(tx.one_time_prekey_count().unwrap(), 1);
    assert_eq!(
        *tx.kem_prekey(11).unwrap().unwrap().encode(),
        *f.kem.encode()
    );
    let last_resort = tx.kem_prekey(12).unwrap().unwrap();
    assert!(last_resort.is_last_resort());
    assert_eq!(*last_resort.encode(), *f.kem_last_resort.encode());
    assert_eq!(tx.kem_prekey_ids().unwrap(), vec![(11, false), (12, true)]);
    assert_eq!(tx.prekey_id_allocator().unwrap(), Some(f.allocator));
    assert!(tx.last_resort_used(12, 5, &f.base_key).unwrap());
    assert!(!tx.last_resort_used(12, 6, &f.base_key).unwrap());
    assert!(!tx.last_resort_used(11, 5, &f.base_key).unwrap());
    assert!(
        !tx.last_resort_used(12, 5, &f.signed.key_pair().public_key())
            .unwrap()
    );

    tx.remove_signed_prekey(5).unwrap();
    tx.remove_one_time_prekey(9).unwrap();
    tx.remove_kem_prekey(11).unwrap();
    // Removing what is absent is not an error.
    tx.remove_signed_prekey(5).unwrap();
    tx.remove_one_time_prekey(1000).unwrap();
    tx.remove_kem_prekey(1000).unwrap();
    tx.commit().unwrap();

    let mut tx = store.transaction().unwrap();
    assert!(tx.signed_prekey(5).unwrap().is_none());
    assert!(tx.signed_prekey_ids().unwrap().is_empty());
    assert!(tx.one_time_prekey(9).unwrap().is_none());
    assert_eq!(tx.one_time_prekey_count().unwrap(), 0);
    assert!(tx.kem_prekey(11).unwrap().is_none());
    assert_eq!(tx.kem_prekey_ids().unwrap(), vec![(12, true)]);
}

fn sessions_round_trip<S: Store>(store: &S) {
    let f = Fixtures::new(3);
    let mut tx = store.transaction().unwrap();
    assert!(tx.session(&address("bob", 1)).unwrap().is_none());
    tx.put_session(&address("bob", 3), &f.session).unwrap();
    tx.put_session(&address("bob", 1), &f.other_session)
        .unwrap();
    tx.put_session(&address("bobby", 2), &f.session).unwrap();
    tx.put_session(&address("bo", 7), &f.session).unwrap();
    tx.commit().unwrap();

    let mut tx = store.transaction().unwrap();
    let read = tx.session(&address("bob", 3)).unwrap().unwrap();
    assert_eq!(*read.encode(), *f.session.encode());
    let read = tx.session(&address("bob", 1)).unwrap().unwrap();
    assert_eq!(*read.encode(), *f.other_session.encode());
    assert!(tx.session(&address("bob", 2)).unwrap().is_none());
    assert_eq!(tx.session_devices("bob").unwrap(), vec![1, 3]);
    assert_eq!(tx.session_devices("bobby").unwrap(), vec![2]);
    assert!(tx.session_devices("b").unwrap().is_empty());

    // Replace, then remove.
    tx.put_session(&address("bob", 3), &f.other_session)
        .unwrap();
    let read = tx.session(&address("bob", 3)).unwrap().unwrap();
    assert_eq!(*read.encode(), *f.other_session.encode());
    tx.remove_session(&address("bob", 1)).unwrap();
    tx.remove_session(&address("bob", 1)).unwrap();
    assert_eq!(tx.session_devices("bob").unwrap(), vec![3]);
    tx.commit().unwrap();

    let mut tx = store.transaction().unwrap();
    assert!(tx.session(&address("bob", 1)).unwrap().is_none());
    assert_eq!(tx.session_devices("bob").unwrap(), vec![3]);
}

/// `Transaction::peers` (which `SqliteStore` answers with its own queries) returns what
/// the per-device reads return, in the order asked, duplicates and absent devices
/// included, and only for the user asked.
fn peers_match_per_device_reads<S: Store>(store: &S) {
    let f = Fixtures::new(7);
    let mut tx = store.transaction().unwrap();
    assert!(tx.peers("bob", &[]).unwrap().is_empty());
    tx.set_remote_identity(&address("bob", 1), &f.peer_identity)
        .unwrap();
    tx.put_session(&address("bob", 1), &f.session).unwrap();
    tx.set_remote_identity(&address("bob", 2), &f.identity.identity_key())
        .unwrap();
    tx.put_session(&address("bob", 3), &f.other_session)
        .unwrap();
    // Same device ids under other users that share a prefix with "bob".
    tx.set_remote_identity(&address("bobby", 4), &f.peer_identity)
        .unwrap();
    tx.put_session(&address("bobby", 4), &f.session).unwrap();
    tx.put_session(&address("bo", 5), &f.session).unwrap();
    tx.commit().unwrap();

    let mut tx = store.transaction().unwrap();
    let ids = [3, 1, 4, 2, 5, 1];
    let peers = tx.peers("bob", &ids).unwrap();
    assert_eq!(peers.len(), ids.len());
    for (id, peer) in ids.iter().zip(&peers) {
        let at = address("bob", *id);
        assert_eq!(peer.identity, tx.remote_identity(&at).unwrap(), "{id}");
        assert_eq!(
            peer.session.as_ref().map(|r| r.encode().to_vec()),
            tx.session(&at).unwrap().map(|r| r.encode().to_vec()),
            "{id}"
        );
    }
    // What was written, spelled out (so the comparison above is not empty-vs-empty).
    assert_eq!(peers[1].identity, Some(f.peer_identity));
    assert_eq!(
        *peers[1].session.as_ref().unwrap().encode(),
        *f.session.encode()
    );
    assert_eq!(peers[3].identity, Some(f.identity.identity_key()));
    assert!(peers[3].session.is_none());
    assert!(peers[0].identity.is_none());
    assert_eq!(
        *peers[0].session.as_ref().unwrap().encode(),
        *f.other_session.encode()
    );
    assert!(peers[2].identity.is_none() && peers[2].session.is_none());
    assert!(peers[4].identity.is_none() && peers[4].session.is_none());
    assert!(tx.peers("", &[1]).is_err());
}

/// A session record replaced by a much shorter one (`SqliteStore` deletes and
/// re-inserts the row then) or a longer one reads back as written, in the same
/// transaction and after commit, and touches no other row.
fn sessions_shrink_and_grow<S: Store>(store: &S) {
    let f = Fixtures::new(8);
    // An initiated, unanswered session (it carries the pending first message).
    let long = &f.session;
    let short = hush_ratchet::SessionRecord::default();
    assert!(long.encode().len() > short.encode().len() + 1024);
    let (bob, carol) = (address("bob", 1), address("carol", 1));
    let mut tx = store.transaction().unwrap();
    tx.put_session(&carol, &f.other_session).unwrap();
    for (round, record) in [long, &short, long, &f.other_session, &short]
        .into_iter()
        .enumerate()
    {
        tx.put_session(&bob, record).unwrap();
        let read = tx.session(&bob).unwrap().unwrap();
        assert_eq!(*read.encode(), *record.encode(), "round {round}");
    }
    tx.commit().unwrap();
    let mut tx = store.transaction().unwrap();
    assert_eq!(
        *tx.session(&bob).unwrap().unwrap().encode(),
        *short.encode()
    );
    assert_eq!(
        *tx.session(&carol).unwrap().unwrap().encode(),
        *f.other_session.encode()
    );
    assert_eq!(tx.session_devices("bob").unwrap(), vec![1]);
    // Shrinking, then dropping the transaction, keeps the long record.
    tx.put_session(&bob, long).unwrap();
    tx.commit().unwrap();
    let mut tx = store.transaction().unwrap();
    tx.put_session(&bob, &short).unwrap();
    drop(tx);
    let mut tx = store.transaction().unwrap();
    assert_eq!(*tx.session(&bob).unwrap().unwrap().encode(), *long.encode());
}

fn sender_keys_round_trip<S: Store>(store: &S) {
    let f = Fixtures::new(4);
    let me = address("alice", 2);
    let other = hush_group::DistributionId::from_bytes([1; 16]);
    let mut tx = store.transaction().unwrap();
    assert!(tx.sender_key(&me, f.distribution_id).unwrap().is_none());
    assert!(tx.sender_key_tracker(f.distribution_id).unwrap().is_none());
    tx.put_sender_key(&me, f.distribution_id, &f.sender_key)
        .unwrap();
    tx.put_sender_key_tracker(f.distribution_id, &f.tracker)
        .unwrap();
    tx.commit().unwrap();

    let mut tx = store.transaction().unwrap();
    let read = tx.sender_key(&me, f.distribution_id).unwrap().unwrap();
    assert_eq!(*read.encode(), *f.sender_key.encode());
    assert!(tx.sender_key(&me, other).unwrap().is_none());
    assert!(
        tx.sender_key(&address("alice", 3), f.distribution_id)
            .unwrap()
            .is_none()
    );
    let tracker = tx.sender_key_tracker(f.distribution_id).unwrap().unwrap();
    assert_eq!(tracker.encode(), f.tracker.encode());
    assert!(tx.sender_key_tracker(other).unwrap().is_none());

    // Removal: only that sender's record for that distribution id; an uncommitted one
    // leaves it in place; removing what is not there is harmless.
    tx.put_sender_key(&me, other, &f.sender_key).unwrap();
    tx.commit().unwrap();
    let mut tx = store.transaction().unwrap();
    tx.remove_sender_key(&me, f.distribution_id).unwrap();
    assert!(tx.sender_key(&me, f.distribution_id).unwrap().is_none());
    drop(tx);
    let mut tx = store.transaction().unwrap();
    assert!(tx.sender_key(&me, f.distribution_id).unwrap().is_some());
    tx.remove_sender_key(&me, f.distribution_id).unwrap();
    tx.remove_sender_key(&address("nobody", 1), f.distribution_id)
        .unwrap();
    tx.commit().unwrap();
    let mut tx = store.transaction().unwrap();
    assert!(tx.sender_key(&me, f.distribution_id).unwrap().is_none());
    assert!(tx.sender_key(&me, other).unwrap().is_some());
    assert!(tx.sender_key_tracker(f.distribution_id).unwrap().is_some());
}

fn device_lists_round_trip<S: Store>(store: &S) {
    let mut tx = store.transaction().unwrap();
    assert!(tx.own_device_list().unwrap().is_none());
    assert!(tx.device_list("bob").unwrap().is_none());
    tx.set_own_device_list(b"own list v1").unwrap();
    tx.set_device_list("bob", b"bob list v1").unwrap();
    tx.set_device_list("carol", b"carol list").unwrap();
    tx.commit().unwrap();

    let mut tx = store.transaction().unwrap();
    assert_eq!(tx.own_device_list().unwrap().unwrap(), b"own list v1");
    assert_eq!(tx.device_list("bob").unwrap().unwrap(), b"bob list v1");
    tx.set_own_device_list(b"own list v2").unwrap();
    tx.set_device_list("bob", b"bob list v2").unwrap();
    tx.commit().unwrap();

    let mut tx = store.transaction().unwrap();
    assert_eq!(tx.own_device_list().unwrap().unwrap(), b"own list v2");
    assert_eq!(tx.device_list("bob").unwrap().unwrap(), b"bob list v2");
    assert_eq!(tx.device_list("carol").unwrap().unwrap(), b"carol list");
    assert!(tx.device_list("dave").unwrap().is_none());

    // The answered linking offers: one value, replaced, discarded with its transaction.
    assert!(tx.seen_offers().unwrap().is_none());
    tx.set_seen_offers(b"seen v1").unwrap();
    assert_eq!(tx.seen_offers().unwrap().unwrap(), b"seen v1");
    tx.commit().unwrap();
    let mut tx = store.transaction().unwrap();
    assert_eq!(tx.seen_offers().unwrap().unwrap(), b"seen v1");
    tx.set_seen_offers(b"seen v2").unwrap();
    drop(tx);
    let mut tx = store.transaction().unwrap();
    assert_eq!(tx.seen_offers().unwrap().unwrap(), b"seen v1");
    assert_eq!(tx.own_device_list().unwrap().unwrap(), b"own list v2");
}

/// Writes one value of every kind.
fn write_everything<T: Transaction>(tx: &mut T, f: &Fixtures) {
    tx.set_local_account(&f.account()).unwrap();
    tx.set_remote_identity(&address("bob", 1), &f.peer_identity)
        .unwrap();
    tx.put_signed_prekey(&f.signed).unwrap();
    tx.put_one_time_prekey(&f.one_time).unwrap();
    tx.put_kem_prekey(&f.kem).unwrap();
    tx.set_prekey_id_allocator(&f.allocator).unwrap();
    tx.record_last_resort_use(12, 5, &f.base_key).unwrap();
    tx.put_session(&address("bob", 1), &f.session).unwrap();
    tx.put_sender_key(&address("alice", 2), f.distribution_id, &f.sender_key)
        .unwrap();
    tx.put_sender_key_tracker(f.distribution_id, &f.tracker)
        .unwrap();
    tx.set_own_device_list(b"own").unwrap();
    tx.set_device_list("bob", b"bob").unwrap();
}

/// Whether any value of [`write_everything`] is visible.
fn anything_visible<T: Transaction>(tx: &mut T, f: &Fixtures) -> bool {
    tx.local_account().unwrap().is_some()
        || tx.remote_identity(&address("bob", 1)).unwrap().is_some()
        || tx.signed_prekey(5).unwrap().is_some()
        || !tx.signed_prekey_ids().unwrap().is_empty()
        || tx.one_time_prekey(9).unwrap().is_some()
        || tx.one_time_prekey_count().unwrap() != 0
        || tx.kem_prekey(11).unwrap().is_some()
        || !tx.kem_prekey_ids().unwrap().is_empty()
        || tx.prekey_id_allocator().unwrap().is_some()
        || tx.last_resort_used(12, 5, &f.base_key).unwrap()
        || tx.session(&address("bob", 1)).unwrap().is_some()
        || !tx.session_devices("bob").unwrap().is_empty()
        || tx
            .sender_key(&address("alice", 2), f.distribution_id)
            .unwrap()
            .is_some()
        || tx.sender_key_tracker(f.distribution_id).unwrap().is_some()
        || tx.own_device_list().unwrap().is_some()
        || tx.device_list("bob").unwrap().is_some()
}

/// Whether every value of [`write_everything`] is visible.
fn everything_visible<T: Transaction>(tx: &mut T, f: &Fixtures) -> bool {
    tx.local_account().unwrap().is_some()
        && tx.remote_identity(&address("bob", 1)).unwrap().is_some()
        && tx.signed_prekey(5).unwrap().is_some()
        && tx.signed_prekey_ids().unwrap() == [5]
        && tx.one_time_prekey(9).unwrap().is_some()
        && tx.one_time_prekey_count().unwrap() == 1
        && tx.kem_prekey(11).unwrap().is_some()
        && tx.kem_prekey_ids().unwrap() == [(11, false)]
        && tx.prekey_id_allocator().unwrap().is_some()
        && tx.last_resort_used(12, 5, &f.base_key).unwrap()
        && tx.session(&address("bob", 1)).unwrap().is_some()
        && tx.session_devices("bob").unwrap() == [1]
        && tx
            .sender_key(&address("alice", 2), f.distribution_id)
            .unwrap()
            .is_some()
        && tx.sender_key_tracker(f.distribution_id).unwrap().is_some()
        && tx.own_device_list().unwrap().is_some()
        && tx.device_list("bob").unwrap().is_some()
}

fn dropping_discards<S: Store>(store: &S) {
    let f = Fixtures::new(5);
    {
        let mut tx = store.transaction().unwrap();
        write_everything(&mut tx, &f);
        assert!(everything_visible(&mut tx, &f));
        // Dropped here, uncommitted.
    }
    let mut tx = store.transaction().unwrap();
    assert!(!anything_visible(&mut tx, &f));
    drop(tx);

    // Deletes are discarded too.
    let mut tx = store.transaction().unwrap();
    write_everything(&mut tx, &f);
    tx.commit().unwrap();
    {
        let mut tx = store.transaction().unwrap();
        tx.remove_session(&address("bob", 1)).unwrap();
        tx.remove_one_time_prekey(9).unwrap();
        tx.remove_signed_prekey(5).unwrap();
        tx.remove_kem_prekey(11).unwrap();
        assert!(tx.session(&address("bob", 1)).unwrap().is_none());
    }
    let mut tx = store.transaction().unwrap();
    assert!(everything_visible(&mut tx, &f));
}

fn commit_makes_visible<S: Store>(store: &S) {
    let f = Fixtures::new(6);
    let mut tx = store.transaction().unwrap();
    write_everything(&mut tx, &f);
    tx.commit().unwrap();
    let mut tx = store.transaction().unwrap();
    assert!(everything_visible(&mut tx, &f));
}

fn reads_see_own_writes<S: Store>(store: &S) {
    let f = Fixtures::new(7);
    let mut tx = store.transaction().unwrap();
    write_everything(&mut tx, &f);
    tx.commit().unwrap();

    // Deleted then re-added in one transaction; added then deleted.
    let mut tx = store.transaction().unwrap();
    tx.remove_session(&address("bob", 1)).unwrap();
    tx.put_session(&address("bob", 1), &f.other_session)
        .unwrap();
    tx.put_session(&address("bob", 4), &f.other_session)
        .unwrap();
    tx.remove_session(&address("bob", 4)).unwrap();
    tx.put_session(&address("bob", 2), &f.other_session)
        .unwrap();
    assert_eq!(tx.session_devices("bob").unwrap(), vec![1, 2]);
    let read = tx.session(&address("bob", 1)).unwrap().unwrap();
    assert_eq!(*read.encode(), *f.other_session.encode());
    tx.commit().unwrap();
    let mut tx = store.transaction().unwrap();
    assert_eq!(tx.session_devices("bob").unwrap(), vec![1, 2]);
    assert!(tx.session(&address("bob", 4)).unwrap().is_none());
}

/// Threads doing read-modify-write increments of one counter, each in its own
/// transaction, never lose an update: transactions are serialised.
fn concurrent_increments<S: Store>(store: &S) {
    const THREADS: u64 = 4;
    const ROUNDS: u64 = 40;
    let read = |tx: &mut S::Transaction<'_>| -> u64 {
        tx.device_list("counter")
            .unwrap()
            .map_or(0, |bytes| u64::from_be_bytes(bytes.try_into().unwrap()))
    };
    std::thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                for _ in 0..ROUNDS {
                    let mut tx = store.transaction().unwrap();
                    let n = read(&mut tx);
                    // Give another thread every chance to interleave.
                    std::thread::yield_now();
                    tx.set_device_list("counter", &(n + 1).to_be_bytes())
                        .unwrap();
                    tx.commit().unwrap();
                }
            });
        }
    });
    let mut tx = store.transaction().unwrap();
    assert_eq!(read(&mut tx), THREADS * ROUNDS);
}

#[test]
fn local_account_encoding_is_checked() {
    let f = Fixtures::new(8);
    let account = f.account();
    let bytes = account.encode().unwrap();
    let decoded = LocalAccount::decode(&bytes).unwrap();
    assert_eq!(*decoded.encode().unwrap(), *bytes);

    // Layout, written out by hand from docs/wire/store.md.
    let mut expected = vec![1u8, 0, 5];
    expected.extend_from_slice(b"alice");
    expected.extend_from_slice(&2u32.to_be_bytes());
    expected.extend_from_slice(&4321u32.to_be_bytes());
    let pair = f.identity.encode();
    expected.extend_from_slice(&u16::try_from(pair.len()).unwrap().to_be_bytes());
    expected.extend_from_slice(&pair);
    expected.extend_from_slice(&f.peer_identity.encode());
    assert_eq!(*bytes, expected);

    let bad: Result<(), Error> = Err(Error::Store("local account"));
    // Every truncation, trailing bytes, a wrong version, a zero-length user.
    for len in 0..bytes.len() {
        assert_eq!(LocalAccount::decode(&bytes[..len]).map(|_| ()), bad);
    }
    let mut long = bytes.to_vec();
    long.push(0);
    assert_eq!(LocalAccount::decode(&long).map(|_| ()), bad);
    let mut version = bytes.to_vec();
    version[0] = 2;
    assert_eq!(LocalAccount::decode(&version).map(|_| ()), bad);
    let mut empty_user = vec![1u8, 0, 0];
    empty_user.extend_from_slice(&bytes[8..]);
    assert_eq!(LocalAccount::decode(&empty_user).map(|_| ()), bad);
    let mut not_utf8 = bytes.to_vec();
    not_utf8[3] = 0xff;
    assert_eq!(LocalAccount::decode(&not_utf8).map(|_| ()), bad);

    // A private key not in the form the key pair encodes (top bit of the clamped
    // scalar set): the same account, a second encoding, refused.
    let mut unclamped = bytes.to_vec();
    let private_last = 8 + 8 + 2 + pair.len() - 1;
    assert_eq!(unclamped[private_last] & 0xc0, 0x40);
    unclamped[private_last] |= 0x80;
    assert_eq!(LocalAccount::decode(&unclamped).map(|_| ()), bad);

    // An empty user id cannot be encoded.
    let mut nameless = f.account();
    nameless.user = String::new();
    assert_eq!(
        nameless.encode().map(|_| ()),
        Err(Error::InvalidArgument("account user id length"))
    );
    let mut long_name = f.account();
    long_name.user = "x".repeat(hush::store::limits::MAX_ACCOUNT_USER_LEN + 1);
    assert!(long_name.encode().is_err());
    long_name.user = "x".repeat(hush::store::limits::MAX_ACCOUNT_USER_LEN);
    let bytes = long_name.encode().unwrap();
    assert_eq!(LocalAccount::decode(&bytes).unwrap().user, long_name.user);
}

#[test]
fn memory_store_debug_shows_nothing() {
    let store = MemoryStore::new();
    assert_eq!(format!("{store:?}"), "MemoryStore { .. }");
    let tx = store.transaction().unwrap();
    assert_eq!(format!("{tx:?}"), "MemoryTransaction { .. }");
}
