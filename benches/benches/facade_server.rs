//! `hush::server`: the mailbox's deliver + fetch + acknowledge round trip (one message,
//! batches, an 8-device fan-out, and several threads at once), and the prekey
//! directory's bundle handout and upload.
//!
//! ```text
//! cargo bench -p hush-benches --bench facade_server -- --warm-up-time 1 --measurement-time 3
//! ```

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "bench set-up: inputs are made valid here, a failure should stop the run"
)]

use std::hint::black_box;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use hush::Address;
use hush::server::{Mailbox, MessageId, PreKeyDirectory};
use hush_core::IdentityKeyPair;
use hush_prekey::{GenerateRequest, PreKeyIdAllocator, generate_prekeys, upload_for};
use hush_test_support::test_rng;

const NOW_MS: u64 = 1_700_000_000_000;
const BODY: usize = 1024;

fn addr(name: &str, device: u32) -> Address {
    Address::new(name, device).unwrap()
}

/// One message through the mailbox: deliver, fetch, acknowledge (receipt queued),
/// take the receipt.
fn round_trip(mailbox: &Mailbox, from: &Address, to: &Address, body: &[u8]) {
    mailbox.deliver(to, from, 2, body.to_vec(), NOW_MS).unwrap();
    let got = mailbox.fetch(to, 1);
    mailbox.acknowledge(to, &[got[0].id]);
    black_box(mailbox.take_receipts(from, 1));
}

fn mailbox(c: &mut Criterion) {
    let body = vec![0x5a_u8; BODY];
    let alice = addr("alice", 1);
    let bob = addr("bob", 1);
    let mut group = c.benchmark_group("facade_server/mailbox");

    let mailbox = Mailbox::new();
    group.throughput(Throughput::Elements(1));
    group.bench_function("deliver+fetch+ack 1 KiB", |b| {
        b.iter(|| round_trip(&mailbox, &alice, &bob, black_box(&body)));
    });

    group.throughput(Throughput::Elements(100));
    group.bench_function("deliver 100, fetch+ack 100 (1 KiB)", |b| {
        b.iter(|| {
            for _ in 0..100 {
                mailbox
                    .deliver(&bob, &alice, 2, body.clone(), NOW_MS)
                    .unwrap();
            }
            let got = mailbox.fetch(&bob, 100);
            let ids: Vec<MessageId> = got.iter().map(|e| e.id).collect();
            assert_eq!(mailbox.acknowledge(&bob, &ids), 100);
            black_box(mailbox.take_receipts(&alice, 100));
        });
    });

    // The issue's fan-out: 5 devices of the recipient plus 3 own other devices.
    let devices: Vec<Address> = (1..=5)
        .map(|d| addr("bob", d))
        .chain((2..=4).map(|d| addr("alice", d)))
        .collect();
    group.throughput(Throughput::Elements(8));
    group.bench_function("fan-out to 8 devices, each fetch+ack (1 KiB)", |b| {
        b.iter(|| {
            let batch = devices
                .iter()
                .map(|d| (d.clone(), 2, body.clone()))
                .collect();
            mailbox.deliver_many(&alice, batch, NOW_MS).unwrap();
            for device in &devices {
                let got = mailbox.fetch(device, 10);
                mailbox.acknowledge(device, &[got[0].id]);
            }
            black_box(mailbox.take_receipts(&alice, 10));
        });
    });

    // Several threads, each its own sender and recipient (spread over the shards).
    for threads in [1_u32, 2, 4] {
        group.throughput(Throughput::Elements(u64::from(threads)));
        group.bench_function(format!("deliver+fetch+ack 1 KiB, {threads} threads"), |b| {
            let mailbox = Arc::new(Mailbox::new());
            b.iter_custom(|iters| {
                let start = Instant::now();
                let handles: Vec<_> = (0..threads)
                    .map(|t| {
                        let mailbox = Arc::clone(&mailbox);
                        let body = body.clone();
                        thread::spawn(move || {
                            let from = addr("sender", t + 1);
                            let to = addr("recipient", t + 1);
                            for _ in 0..iters {
                                round_trip(&mailbox, &from, &to, &body);
                            }
                        })
                    })
                    .collect();
                for handle in handles {
                    handle.join().unwrap();
                }
                start.elapsed()
            });
        });
    }
    group.finish();
}

fn directory(c: &mut Criterion) {
    let mut rng = test_rng(7);
    let identity = IdentityKeyPair::generate(&mut rng);
    let bob = addr("bob", 1);
    // A full upload: signed prekey, 100 one-time EC, 100 Kyber1024, last resort.
    let full = upload_for(
        &identity,
        &generate_prekeys(
            &identity,
            &mut PreKeyIdAllocator::new(),
            &GenerateRequest::default(),
            NOW_MS,
            &mut rng,
        )
        .unwrap(),
    )
    .encode();
    let key = identity.identity_key();
    let directory = PreKeyDirectory::new();
    directory.register_device(&bob, 1, key).unwrap();
    directory
        .upload(&bob, &key, &full, NOW_MS, &mut rng)
        .unwrap();

    let mut group = c.benchmark_group("facade_server/directory");
    // Only the handouts are timed; re-uploading the same keys (consumed ones come back)
    // when they run out is not.
    group.bench_function("bundle handout (one-time keys)", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                if directory.counts(&bob).unwrap().kem_prekeys == 0 {
                    directory
                        .upload(&bob, &key, &full, NOW_MS, &mut rng)
                        .unwrap();
                }
                let start = Instant::now();
                black_box(directory.bundle(&bob).unwrap());
                timed += start.elapsed();
            }
            timed
        });
    });

    let last_resort = PreKeyDirectory::new();
    last_resort.register_device(&bob, 1, key).unwrap();
    last_resort
        .upload(&bob, &key, &full, NOW_MS, &mut rng)
        .unwrap();
    while last_resort.counts(&bob).unwrap().kem_prekeys > 0 {
        last_resort.bundle(&bob).unwrap();
    }
    group.bench_function("bundle handout (last resort)", |b| {
        b.iter(|| black_box(last_resort.bundle(&bob).unwrap()));
    });

    // Five devices of one user, each with keys.
    let carol = PreKeyDirectory::new();
    for d in 1..=5 {
        let address = addr("carol", d);
        carol.register_device(&address, d, key).unwrap();
        carol
            .upload(&address, &key, &full, NOW_MS, &mut rng)
            .unwrap();
    }
    group.bench_function("bundles_for_user (5 devices)", |b| {
        b.iter(|| black_box(carol.bundles_for_user("carol").unwrap()));
    });

    group.sample_size(10);
    group.bench_function("upload full (validate + store)", |b| {
        b.iter_batched(
            || {
                let fresh = PreKeyDirectory::new();
                fresh.register_device(&bob, 1, key).unwrap();
                fresh
            },
            |fresh| fresh.upload(&bob, &key, &full, NOW_MS, &mut rng).unwrap(),
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group!(benches, mailbox, directory);
criterion_main!(benches);
