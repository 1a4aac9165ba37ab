//! Crash safety of the SQLite store: a child process (this test binary, re-executed
//! with `HUSH_STORE_CRASH_DB` set) commits transactions in a loop, each rewriting
//! several rows that must stay mutually consistent; the parent kills it with SIGKILL at
//! random moments, reopens the database and checks every invariant. Several rounds run
//! on one database, so each round also starts from a database a kill left behind.
//!
//! Each transaction `n -> n + 1` (with `n` read from the counter row):
//! - sets the counter row (a device list, `"counter"`) to `n + 1`;
//! - writes session record `RECORDS[(n + 1) % K]` for each of `DEVICES` devices;
//! - deletes one-time prekey `n + 1` and stores one-time prekey `n + 2`;
//! - stores the prekey id allocator having allocated `n + 1` signed prekey ids.
//!
//! So after any crash: every session decodes and equals `RECORDS[counter % K]`, the only
//! one-time prekey is `counter + 1`, and the allocator agrees with the counter.

#![cfg(feature = "sqlite")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod store_common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use hush::store::{
    AtRestKey, DeviceListStore, PreKeyStore, SessionStore, SqliteStore, Store, Transaction,
};
use hush_core::IdentityKeyPair;
use hush_prekey::{IdSpace, PreKeyIdAllocator, PreKeyRecord};
use hush_ratchet::SessionRecord;
use hush_test_support::test_rng;
use hush_x3dh::AgreementMode;
use rand_core::Rng;
use store_common::{address, initiated, session_to};

const ENV: &str = "HUSH_STORE_CRASH_DB";
const DEVICES: u32 = 4;
const K: usize = 3;
const ROUNDS: usize = 8;

fn at_rest_key() -> AtRestKey {
    AtRestKey::new([0x5a; 32])
}

/// The `K` session records the writer cycles through (the same in parent and child:
/// seeded): one long (a pending PQXDH first message, in rows of `sessions`) and two
/// short (in the user's `user_sessions` row), so transactions move the four records
/// from one table to the other and back, and rewrite them in place.
fn records() -> Vec<SessionRecord> {
    let mut rng = test_rng(42);
    let me = IdentityKeyPair::generate(&mut rng);
    let peer = IdentityKeyPair::generate(&mut rng);
    vec![
        session_to(&me, &peer, 1, &mut rng),
        initiated(&me, &peer, AgreementMode::ClassicX3dh, 1, &mut rng),
        initiated(&me, &peer, AgreementMode::ClassicX3dh, 2, &mut rng),
    ]
}

fn one_time_prekey(id: u32) -> PreKeyRecord {
    let mut rng = test_rng(u64::from(id));
    PreKeyRecord::generate(id, &mut rng).unwrap()
}

fn allocator_after(n: u64) -> PreKeyIdAllocator {
    let mut allocator = PreKeyIdAllocator::default();
    for _ in 0..n {
        allocator.allocate(IdSpace::SignedPreKey);
    }
    allocator
}

fn counter<T: Transaction>(tx: &mut T) -> u64 {
    tx.device_list("counter")
        .unwrap()
        .map_or(0, |bytes| u64::from_be_bytes(bytes.try_into().unwrap()))
}

/// One transaction `n -> n + 1`.
fn step(store: &SqliteStore, records: &[SessionRecord]) -> u64 {
    let mut tx = store.transaction().unwrap();
    let n = counter(&mut tx);
    let next = n + 1;
    tx.set_device_list("counter", &next.to_be_bytes()).unwrap();
    let record = &records[usize::try_from(next).unwrap() % K];
    for device in 1..=DEVICES {
        tx.put_session(&address("peer", device), record).unwrap();
    }
    let id = u32::try_from(next).unwrap();
    tx.remove_one_time_prekey(id).unwrap();
    tx.put_one_time_prekey(&one_time_prekey(id + 1)).unwrap();
    let mut allocator = tx.prekey_id_allocator().unwrap().unwrap_or_default();
    allocator.allocate(IdSpace::SignedPreKey);
    tx.set_prekey_id_allocator(&allocator).unwrap();
    tx.commit().unwrap();
    next
}

/// The writer: runs only when re-executed by [`killed_writers_leave_consistent_state`].
#[test]
#[ignore = "helper process of killed_writers_leave_consistent_state"]
fn crash_writer_child() {
    let Some(path) = std::env::var_os(ENV) else {
        return;
    };
    let records = records();
    let store = SqliteStore::open(&path, Some(at_rest_key())).unwrap();
    let n = step(&store, &records);
    // Tell the parent we are writing, then write until killed.
    println!("committed {n}");
    loop {
        step(&store, &records);
    }
}

/// Checks every invariant; returns the counter.
fn check(path: &Path, records: &[SessionRecord]) -> u64 {
    let store = SqliteStore::open(path, Some(at_rest_key())).unwrap();
    let mut tx = store.transaction().unwrap();
    let n = counter(&mut tx);
    let expected = records[usize::try_from(n).unwrap() % K].encode();
    let devices = tx.session_devices("peer").unwrap();
    if n == 0 {
        assert!(devices.is_empty());
        assert_eq!(tx.one_time_prekey_count().unwrap(), 0);
        assert!(tx.prekey_id_allocator().unwrap().is_none());
        return n;
    }
    assert_eq!(devices, (1..=DEVICES).collect::<Vec<_>>(), "counter {n}");
    for device in 1..=DEVICES {
        let record = tx.session(&address("peer", device)).unwrap().unwrap();
        assert_eq!(*record.encode(), *expected, "counter {n}, device {device}");
    }
    let id = u32::try_from(n).unwrap() + 1;
    assert_eq!(tx.one_time_prekey_count().unwrap(), 1, "counter {n}");
    assert_eq!(
        tx.one_time_prekey(id).unwrap().unwrap(),
        one_time_prekey(id),
        "counter {n}"
    );
    assert_eq!(
        tx.prekey_id_allocator().unwrap(),
        Some(allocator_after(n)),
        "counter {n}"
    );
    n
}

#[test]
fn killed_writers_leave_consistent_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let records = records();
    let exe = std::env::current_exe().unwrap();
    let mut rng = hush_core::rng::os_rng();
    let mut previous = check(&path, &records);
    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .args(["--ignored", "--exact", "crash_writer_child", "--nocapture"])
            .env(ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Wait until the child has committed at least once this round, then let it run
        // a random while (0-150 ms) and kill it mid-stream.
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        loop {
            let line = lines
                .next()
                .expect("the writer exited before committing")
                .unwrap();
            if line.starts_with("committed") {
                break;
            }
        }
        std::thread::sleep(Duration::from_micros(u64::from(rng.next_u32() % 150_000)));
        child.kill().unwrap();
        child.wait().unwrap();
        drop(lines);

        let n = check(&path, &records);
        assert!(
            n > previous,
            "round {round}: no progress ({previous} -> {n})"
        );
        println!("round {round}: killed at counter {n}");
        previous = n;
    }
    // After all that, the writer's transactions simply continue.
    let store = SqliteStore::open(&path, Some(at_rest_key())).unwrap();
    assert_eq!(step(&store, &records), previous + 1);
    drop(store);
    assert_eq!(check(&path, &records), previous + 1);
}
