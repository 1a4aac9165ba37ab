//! `hush::store`: one transaction that loads and stores 8 session records (the store
//! work of a fan-out to 5 devices of a contact plus 3 own devices), on the memory store
//! and on SQLite — on tmpfs and on disk, `synchronous = FULL` and `NORMAL`, with and
//! without encryption at rest — next to a transaction that writes one small row (the
//! cost of a commit by itself) and to the 8 record decodes and encodes alone.
//!
//! ```text
//! cargo bench -p hush-benches --bench store -- --quick
//! ```

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "bench set-up: inputs are made valid here, a failure should stop the run"
)]

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use hush::Address;
use hush::store::{
    AtRestKey, DeviceListStore, MemoryStore, SessionStore, SqliteOptions, SqliteStore, Store,
    Synchronous, Transaction,
};
use hush_core::{IdentityKeyPair, KemKeyPair, KemKeyType, KeyPair};
use hush_ratchet::{LocalIdentity, RemoteBundle, SessionOptions, SessionRecord};
use hush_test_support::test_rng;
use hush_x3dh::{AgreementMode, PeerPreKeys, TrustAll};

const DEVICES: u32 = 8;

/// A session as a sender holds it after initiating (PQXDH) and sending a few messages.
fn session(seed: u64) -> SessionRecord {
    let mut rng = test_rng(seed);
    let me = IdentityKeyPair::generate(&mut rng);
    let peer = IdentityKeyPair::generate(&mut rng);
    let signed = KeyPair::generate(&mut rng);
    let kem = KemKeyPair::generate(KemKeyType::Kyber1024, &mut rng);
    let kem_public = kem.public_key().clone();
    let kem_signature = peer.sign(&kem_public.encode(), &mut rng);
    let bundle = RemoteBundle {
        registration_id: 1,
        signed_prekey_id: 1,
        one_time_prekey_id: None,
        kem_prekey_id: Some(1),
        prekeys: PeerPreKeys {
            identity_key: peer.identity_key(),
            signed_prekey: signed.public_key(),
            signed_prekey_signature: peer.sign(&signed.public_key().encode(), &mut rng),
            one_time_prekey: None,
            kem_prekey: Some((kem_public, kem_signature)),
        },
    };
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut record = SessionRecord::new();
    let local = LocalIdentity {
        identity: &me,
        registration_id: 2,
    };
    record
        .initiate(
            local,
            &bundle,
            AgreementMode::Pqxdh,
            SessionOptions::default(),
            &TrustAll,
            now,
            &mut rng,
        )
        .unwrap();
    for _ in 0..3 {
        record
            .encrypt(
                b"hello",
                SessionOptions::default(),
                &TrustAll,
                now,
                &mut rng,
            )
            .unwrap();
    }
    record
}

fn addresses() -> Vec<Address> {
    (1..=DEVICES)
        .map(|i| {
            let user = if i <= 5 { "bob" } else { "alice" };
            Address::new(user, i).unwrap()
        })
        .collect()
}

fn fill<S: Store>(store: &S, addresses: &[Address], record: &SessionRecord) {
    let mut tx = store.transaction().unwrap();
    for address in addresses {
        tx.put_session(address, record).unwrap();
    }
    tx.commit().unwrap();
}

/// Loads every session and stores a new version of it in one transaction, as a
/// fan-out does (`next` differs from what is stored: SQLite skips writing bytes equal to
/// what a row holds, which would make the commit free).
fn fan_out_transaction<S: Store>(store: &S, addresses: &[Address], next: &SessionRecord) {
    let mut tx = store.transaction().unwrap();
    for address in addresses {
        let record = tx.session(address).unwrap().unwrap();
        black_box(&record);
        tx.put_session(address, next).unwrap();
    }
    tx.commit().unwrap();
}

/// A transaction that writes one small row (a new value every time).
fn one_row_transaction<S: Store>(store: &S, n: &mut u64) {
    *n += 1;
    let mut tx = store.transaction().unwrap();
    tx.set_device_list("bench", &n.to_be_bytes()).unwrap();
    tx.commit().unwrap();
}

fn bench_store<S: Store>(c: &mut Criterion, name: &str, store: &S) {
    let addresses = addresses();
    let versions = [session(1), session(2)];
    fill(store, &addresses, &versions[0]);
    c.bench_function(&format!("store/{name}/8 session loads+stores"), |b| {
        let mut i = 0usize;
        b.iter(|| {
            i = i.wrapping_add(1);
            fan_out_transaction(store, &addresses, &versions[i % 2]);
        });
    });
    c.bench_function(&format!("store/{name}/1 small row"), |b| {
        let mut n = 0;
        b.iter(|| one_row_transaction(store, &mut n));
    });
}

fn sqlite(dir: &Path, key: Option<AtRestKey>, synchronous: Synchronous) -> SqliteStore {
    let options = SqliteOptions::new().synchronous(synchronous);
    SqliteStore::open_with(dir.join("bench.db"), key, options).unwrap()
}

fn stores(c: &mut Criterion) {
    let record = session(1);
    println!("session record: {} bytes", record.encode().len());
    c.bench_function("store/8 session decodes+encodes (no store)", |b| {
        let bytes = record.encode();
        b.iter(|| {
            for _ in 0..DEVICES {
                let decoded = SessionRecord::decode(black_box(&bytes)).unwrap();
                black_box(decoded.encode());
            }
        });
    });

    bench_store(c, "memory", &MemoryStore::new());

    let key = || Some(AtRestKey::new([7; 32]));
    let tmpfs = Path::new("/dev/shm");
    if tmpfs.is_dir() {
        for (name, key) in [
            ("sqlite tmpfs FULL", None),
            ("sqlite tmpfs FULL at-rest", key()),
        ] {
            let dir = tempfile::tempdir_in(tmpfs).unwrap();
            bench_store(c, name, &sqlite(dir.path(), key, Synchronous::Full));
        }
    }
    // Cargo's scratch directory for benches, under `target/`: on the build disk, and
    // ignored by git should a run be killed before it removes its files.
    let disk = Path::new(env!("CARGO_TARGET_TMPDIR"));
    for (name, key, synchronous) in [
        ("sqlite disk FULL", None, Synchronous::Full),
        ("sqlite disk FULL at-rest", key(), Synchronous::Full),
        ("sqlite disk NORMAL at-rest", key(), Synchronous::Normal),
    ] {
        let dir = tempfile::tempdir_in(disk).unwrap();
        bench_store(c, name, &sqlite(dir.path(), key, synchronous));
    }
}

criterion_group!(benches, stores);
criterion_main!(benches);
