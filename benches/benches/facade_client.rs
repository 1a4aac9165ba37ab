//! The `hush` facade's client (`hush::Device`) against the protocol work it wraps.
//!
//! - **Fan-out**: one 1 KiB message from Alice to Bob, who has 5 devices, while Alice has
//!   3 other devices of her own: 8 pairwise encryptions (5 direct, 3 sent transcripts),
//!   all sessions established and acknowledged, in one store transaction. Measured with
//!   `MemoryStore`, with `SqliteStore` in memory (SQLite's CPU cost without the disk), and
//!   with `SqliteStore` on a file with the default `synchronous = FULL` (one fsync per
//!   send), with `synchronous = NORMAL`, and with `NORMAL` plus `SqliteOptions::exclusive`.
//!   The files are in a directory under `std::env::temp_dir()` (set `TMPDIR` to measure
//!   another disk), removed when the bench ends. The comparison is the 8
//!   `SessionRecord::encrypt` calls alone on the same
//!   sessions, records already in memory: no store, no device list, no framing.
//! - **Group send**: one 1 KiB message to a group of 100 members with 2 devices each,
//!   sender keys already distributed (so no pairwise message is needed): reading 100
//!   verified device lists, the tracker and the sender-key record, one sender-key
//!   encryption and signature, writing back. The comparison is the one
//!   `SenderKeyRecord::encrypt` alone.
//!
//! Results: `docs/PERFORMANCE.md`.
//!
//! ```text
//! cargo bench -p hush-benches --bench facade_client -- --warm-up-time 1 --measurement-time 3
//! ```

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "bench set-up: inputs are made valid here, a failure should stop the run"
)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use hush::store::{
    MemoryStore, SessionStore, SqliteOptions, SqliteStore, Store, Synchronous, Transaction,
};
use hush::{Address, Device, DistributionId, GenerateRequest};
use hush_core::IdentityKeyPair;
use hush_core::rng::CryptoRng;
use hush_group::SenderKeyRecord;
use hush_prekey::{DeviceKeys, UploadPolicy, validate_upload};
use hush_test_support::test_rng;
use hush_x3dh::TrustAll;

const NOW: u64 = 1_700_000_000_000;

/// The measured plaintext: 1 KiB.
const PLAINTEXT: &[u8; 1024] = &[0x61; 1024];

/// Prekeys on the "server", one `DeviceKeys` per device.
#[derive(Default)]
struct Server {
    keys: BTreeMap<Address, DeviceKeys>,
}

impl Server {
    fn register<S: Store>(&mut self, device: &Device<S>, rng: &mut impl CryptoRng) {
        let mut request = GenerateRequest::default();
        request.one_time_prekeys = 1;
        request.kem_prekeys = 0;
        let upload = device.generate_prekeys(&request, NOW, rng).unwrap();
        let validated = validate_upload(
            &device.identity_key(),
            &upload,
            &UploadPolicy::default(),
            NOW,
            rng,
        )
        .unwrap();
        let mut keys = DeviceKeys::new(
            device.registration_id(),
            device.address().device_id(),
            device.identity_key(),
        )
        .unwrap();
        keys.apply_upload(&validated).unwrap();
        self.keys.insert(device.address().clone(), keys);
    }

    fn bundles(&mut self, addresses: &[Address]) -> Vec<(Address, Vec<u8>)> {
        addresses
            .iter()
            .map(|a| {
                let choice = self.keys.get_mut(a).unwrap().take_bundle().unwrap();
                (a.clone(), choice.bundle().encode())
            })
            .collect()
    }
}

fn refs(bundles: &[(Address, Vec<u8>)]) -> Vec<(Address, &[u8])> {
    bundles
        .iter()
        .map(|(a, b)| (a.clone(), b.as_slice()))
        .collect()
}

/// Adds companions 2..=`devices` to `primary`'s account (each on its own `MemoryStore`)
/// and returns them, every one holding the final list and registered with `server`.
fn companions<S: Store>(
    primary: &Device<S>,
    devices: u32,
    server: &mut Server,
    rng: &mut impl CryptoRng,
) -> Vec<Device<MemoryStore>> {
    let user = primary.address().name().to_owned();
    let mut out = Vec::new();
    let mut list = primary.own_device_list().unwrap();
    for device_id in 2..=devices {
        let identity = IdentityKeyPair::generate(rng);
        let companion = Device::create_companion(
            MemoryStore::new(),
            &user,
            device_id,
            identity,
            *primary.account_key(),
            rng,
        )
        .unwrap();
        let entry = companion.membership_entry(NOW, rng).unwrap();
        list = primary.add_companion(entry, NOW, rng).unwrap();
        out.push(companion);
    }
    for companion in &out {
        companion.accept_device_list(&user, &list, NOW).unwrap();
        server.register(companion, rng);
    }
    out
}

/// Alice (on `store`) with 3 other devices, Bob with 5, every session between Alice's
/// sending device and the 8 others established and acknowledged.
fn fan_out_world<S: Store>(store: S) -> Device<S> {
    let mut rng = test_rng(1);
    let mut server = Server::default();
    let alice = Device::create_account(store, "alice", NOW, &mut rng).unwrap();
    server.register(&alice, &mut rng);
    let alice_others = companions(&alice, 4, &mut server, &mut rng);
    let bob = Device::create_account(MemoryStore::new(), "bob", NOW, &mut rng).unwrap();
    server.register(&bob, &mut rng);
    let mut bobs = companions(&bob, 5, &mut server, &mut rng);
    bobs.insert(0, bob);
    let alice_list = alice.own_device_list().unwrap();
    let bob_list = bobs[0].own_device_list().unwrap();
    alice.accept_device_list("bob", &bob_list, NOW).unwrap();
    for device in &bobs {
        device
            .accept_device_list("alice", &alice_list, NOW)
            .unwrap();
    }

    let plan = alice.prepare_send("bob", NOW, &mut rng).unwrap();
    assert_eq!(plan.need_bundles.len(), 8);
    let bundles = server.bundles(&plan.need_bundles);
    let envelopes = alice
        .encrypt("bob", b"hello", &refs(&bundles), NOW, &mut rng)
        .unwrap();
    for envelope in &envelopes {
        let index = usize::try_from(envelope.to.device_id()).unwrap();
        let device = match envelope.to.name() {
            "bob" => &bobs[index - 1],
            _ => &alice_others[index - 2],
        };
        reply(device, envelope, &alice, &mut server, &mut rng);
    }
    // Every session is acknowledged now: the next fan-out is 8 normal messages.
    let probe = alice.encrypt("bob", b"probe", &[], NOW, &mut rng).unwrap();
    assert!(probe.iter().all(|e| e.message_type == 2));
    alice
}

/// A receiving device decrypts Alice's first message and answers it (every device of
/// both accounts gets the answer; Alice's sending device takes hers), so that Alice's
/// session is acknowledged.
fn reply<S: Store>(
    device: &Device<MemoryStore>,
    envelope: &hush::Envelope,
    alice: &Device<S>,
    server: &mut Server,
    rng: &mut impl CryptoRng,
) {
    device
        .decrypt(
            alice.address(),
            envelope.message_type,
            &envelope.body,
            NOW,
            rng,
        )
        .unwrap();
    let plan = device.prepare_send("alice", NOW, rng).unwrap();
    let bundles = server.bundles(&plan.need_bundles);
    let answers = device
        .encrypt("alice", b"ack", &refs(&bundles), NOW, rng)
        .unwrap();
    let to_alice = answers.iter().find(|e| e.to == *alice.address()).unwrap();
    alice
        .decrypt(
            device.address(),
            to_alice.message_type,
            &to_alice.body,
            NOW,
            rng,
        )
        .unwrap();
}

fn sqlite_file(dir: &Path, name: &str) -> SqliteStore {
    sqlite_file_with(dir, name, SqliteOptions::new())
}

fn sqlite_file_with(dir: &Path, name: &str, options: SqliteOptions) -> SqliteStore {
    SqliteStore::open_with(dir.join(format!("{name}.db")), None, options).unwrap()
}

fn fan_out(c: &mut Criterion) {
    let files = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("facade_fan_out_1KiB_5+3");
    let mut rng = test_rng(2);

    let memory = fan_out_world(MemoryStore::new());
    group.bench_function("memory_store", |b| {
        b.iter(|| {
            black_box(
                memory
                    .encrypt("bob", PLAINTEXT, &[], NOW, &mut rng)
                    .unwrap(),
            )
        });
    });

    let sqlite_memory = fan_out_world(SqliteStore::open_in_memory(None).unwrap());
    group.bench_function("sqlite_in_memory", |b| {
        b.iter(|| {
            black_box(
                sqlite_memory
                    .encrypt("bob", PLAINTEXT, &[], NOW, &mut rng)
                    .unwrap(),
            )
        });
    });

    let sqlite = fan_out_world(sqlite_file(files.path(), "fan-out"));
    group.bench_function("sqlite_file_sync_full", |b| {
        b.iter(|| {
            black_box(
                sqlite
                    .encrypt("bob", PLAINTEXT, &[], NOW, &mut rng)
                    .unwrap(),
            )
        });
    });

    let normal = fan_out_world(sqlite_file_with(
        files.path(),
        "fan-out-normal",
        SqliteOptions::new().synchronous(Synchronous::Normal),
    ));
    group.bench_function("sqlite_file_sync_normal", |b| {
        b.iter(|| {
            black_box(
                normal
                    .encrypt("bob", PLAINTEXT, &[], NOW, &mut rng)
                    .unwrap(),
            )
        });
    });

    let exclusive = fan_out_world(sqlite_file_with(
        files.path(),
        "fan-out-exclusive",
        SqliteOptions::new()
            .synchronous(Synchronous::Normal)
            .exclusive(true),
    ));
    group.bench_function("sqlite_file_sync_normal_exclusive", |b| {
        b.iter(|| {
            black_box(
                exclusive
                    .encrypt("bob", PLAINTEXT, &[], NOW, &mut rng)
                    .unwrap(),
            )
        });
    });

    // The floor: the same 8 sessions' encrypt calls, records in memory.
    let mut records = Vec::new();
    {
        let mut tx = memory.store().transaction().unwrap();
        for (user, ids) in [("bob", 1..=5), ("alice", 2..=4)] {
            for id in ids {
                let address = Address::new(user, id).unwrap();
                records.push(tx.session(&address).unwrap().unwrap());
            }
        }
        tx.commit().unwrap();
    }
    assert_eq!(records.len(), 8);
    let now = UNIX_EPOCH + Duration::from_millis(NOW);
    let framed = [&[1u8, 1][..], PLAINTEXT].concat();
    let mut rng = test_rng(5);
    let options = hush_ratchet::SessionOptions::default();
    group.bench_function("raw_8_session_encrypts", |b| {
        b.iter(|| {
            for record in &mut records {
                black_box(
                    record
                        .encrypt(&framed, options, &TrustAll, now, &mut rng)
                        .unwrap(),
                );
            }
        });
    });
    group.finish();
}

/// A sender with no other device, 100 members of 2 devices each, and a first group send
/// that distributed the sender key to all 200 member devices.
fn group_world<S: Store>(store: S) -> (Device<S>, DistributionId, Vec<String>) {
    let mut rng = test_rng(3);
    let mut server = Server::default();
    let sender = Device::create_account(store, "sender", NOW, &mut rng).unwrap();
    let mut members = Vec::new();
    for i in 0..100 {
        let user = format!("member-{i:03}");
        let primary = Device::create_account(MemoryStore::new(), &user, NOW, &mut rng).unwrap();
        server.register(&primary, &mut rng);
        companions(&primary, 2, &mut server, &mut rng);
        sender
            .accept_device_list(&user, &primary.own_device_list().unwrap(), NOW)
            .unwrap();
        members.push(user);
    }
    let group = DistributionId::generate(&mut rng);
    let names: Vec<&str> = members.iter().map(String::as_str).collect();
    let plan = sender.prepare_group_send(group, &names, NOW).unwrap();
    assert_eq!(plan.need_bundles.len(), 200);
    let bundles = server.bundles(&plan.need_bundles);
    let first = sender
        .send_group(group, &names, b"hello", &refs(&bundles), NOW, &mut rng)
        .unwrap();
    assert_eq!(first.distributions.len(), 200);
    (sender, group, members)
}

fn group_send(c: &mut Criterion) {
    let files = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("facade_group_send_1KiB_100x2");
    group.sample_size(30);
    let mut rng = test_rng(4);

    let (memory, id, members) = group_world(MemoryStore::new());
    let names: Vec<&str> = members.iter().map(String::as_str).collect();
    group.bench_function("memory_store", |b| {
        b.iter(|| {
            let sent = memory
                .send_group(id, &names, PLAINTEXT, &[], NOW, &mut rng)
                .unwrap();
            assert!(sent.distributions.is_empty());
            black_box(sent)
        });
    });

    let (sqlite, id, members) = group_world(sqlite_file(files.path(), "group"));
    let names: Vec<&str> = members.iter().map(String::as_str).collect();
    group.bench_function("sqlite_file_sync_full", |b| {
        b.iter(|| {
            black_box(
                sqlite
                    .send_group(id, &names, PLAINTEXT, &[], NOW, &mut rng)
                    .unwrap(),
            )
        });
    });

    // The floor: one sender-key encryption (with its signature).
    let mut record = SenderKeyRecord::new(id);
    record.create_distribution(&mut rng);
    group.bench_function("raw_one_sender_key_encrypt", |b| {
        b.iter(|| black_box(record.encrypt(PLAINTEXT, &mut rng).unwrap()));
    });
    group.finish();
}

criterion_group!(benches, fan_out, group_send);
criterion_main!(benches);
