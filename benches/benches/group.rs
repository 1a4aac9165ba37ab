//! Sender-key group messaging (`hush-group`): encrypt and decrypt of a 1 KiB message, a
//! decrypt after a gap of 2 000 skipped iterations, and record storage. Results are in
//! `docs/PERFORMANCE.md`.
//!
//! ```text
//! cargo bench -p hush-benches --bench group -- --warm-up-time 1 --measurement-time 3
//! ```

#![allow(
    clippy::unwrap_used,
    reason = "bench set-up: inputs are made valid here, a failure should stop the run"
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use hush_group::{DistributionId, SenderKeyMessage, SenderKeyRecord};
use hush_test_support::test_rng;

/// The group message body measured: 1 KiB.
const PLAINTEXT: &[u8; 1024] = &[0x42; 1024];

/// In-order messages made up front for the decrypt bench; the receiver starts over (outside
/// the timing) when they run out.
const POOL: usize = 2_048;

/// The gap of the skipped-iterations bench.
const GAP: usize = 2_000;

fn id() -> DistributionId {
    DistributionId::from_bytes([0x61; 16])
}

/// A sender and a receiver that processed its distribution message.
fn pair() -> (SenderKeyRecord, SenderKeyRecord) {
    let mut rng = test_rng(1);
    let mut sender = SenderKeyRecord::new(id());
    let skdm = sender.create_distribution(&mut rng);
    let mut receiver = SenderKeyRecord::new(id());
    receiver.process_distribution(&skdm).unwrap();
    (sender, receiver)
}

fn encrypt(c: &mut Criterion) {
    let (mut sender, _) = pair();
    let mut rng = test_rng(2);
    let mut group = c.benchmark_group("group");
    group.throughput(Throughput::Bytes(PLAINTEXT.len() as u64));
    group.bench_function("encrypt 1 KiB", |b| {
        b.iter(|| sender.encrypt(black_box(PLAINTEXT), &mut rng).unwrap())
    });
    group.finish();
}

fn decrypt(c: &mut Criterion) {
    let (mut sender, receiver) = pair();
    let mut rng = test_rng(3);
    let messages: Vec<Vec<u8>> = (0..POOL)
        .map(|_| sender.encrypt(PLAINTEXT, &mut rng).unwrap().into_bytes())
        .collect();

    let mut group = c.benchmark_group("group");
    group.throughput(Throughput::Bytes(PLAINTEXT.len() as u64));
    // Wire bytes in, plaintext out, the receiver's record updated: what an app does per
    // message (storing the record aside).
    group.bench_function("decrypt 1 KiB in order", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut remaining = iters;
            while remaining > 0 {
                let mut record = receiver.clone();
                let run = usize::try_from(remaining).unwrap_or(POOL).min(POOL);
                let start = Instant::now();
                for bytes in messages.iter().take(run) {
                    let message = SenderKeyMessage::decode(black_box(bytes)).unwrap();
                    black_box(record.decrypt(&message).unwrap());
                }
                total += start.elapsed();
                remaining -= run as u64;
            }
            total
        })
    });

    // The same with the message already decoded: the cost of verification, the chain
    // step and AES alone.
    let decoded: Vec<SenderKeyMessage> = messages
        .iter()
        .map(|bytes| SenderKeyMessage::decode(bytes).unwrap())
        .collect();
    group.bench_function("decrypt 1 KiB in order (decoded message)", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut remaining = iters;
            while remaining > 0 {
                let mut record = receiver.clone();
                let run = usize::try_from(remaining).unwrap_or(POOL).min(POOL);
                let start = Instant::now();
                for message in decoded.iter().take(run) {
                    black_box(record.decrypt(black_box(message)).unwrap());
                }
                total += start.elapsed();
                remaining -= run as u64;
            }
            total
        })
    });
    group.finish();
}

fn decrypt_after_gap(c: &mut Criterion) {
    let (mut sender, receiver) = pair();
    let mut rng = test_rng(4);
    for _ in 0..GAP {
        sender.encrypt(b"", &mut rng).unwrap();
    }
    let message = sender.encrypt(PLAINTEXT, &mut rng).unwrap();
    assert_eq!(message.iteration() as usize, GAP);

    let mut group = c.benchmark_group("group");
    group.bench_function("decrypt 1 KiB after a gap of 2000", |b| {
        b.iter_batched(
            || receiver.clone(),
            |mut record| {
                let plaintext = record.decrypt(black_box(&message)).unwrap();
                (record, plaintext)
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn record(c: &mut Criterion) {
    let (mut sender, small) = pair();
    let mut rng = test_rng(5);
    for _ in 0..GAP {
        sender.encrypt(b"", &mut rng).unwrap();
    }
    // A receiver that skipped 2 000 iterations: the largest a state gets.
    let mut full = small.clone();
    full.decrypt(&sender.encrypt(b"", &mut rng).unwrap())
        .unwrap();
    let small_bytes = small.encode();
    let full_bytes = full.encode();

    let mut group = c.benchmark_group("group record");
    group.bench_function("encode (one chain)", |b| {
        b.iter(|| black_box(&small).encode())
    });
    group.bench_function("decode (one chain)", |b| {
        b.iter(|| SenderKeyRecord::decode(black_box(&small_bytes)).unwrap())
    });
    group.bench_function("encode (2000 skipped keys)", |b| {
        b.iter(|| black_box(&full).encode())
    });
    group.bench_function("decode (2000 skipped keys)", |b| {
        b.iter(|| SenderKeyRecord::decode(black_box(&full_bytes)).unwrap())
    });
    group.finish();
    println!(
        "record sizes: one chain {} bytes, with 2000 skipped keys {} bytes",
        small_bytes.len(),
        full_bytes.len()
    );
}

criterion_group!(benches, encrypt, decrypt, decrypt_after_gap, record);
criterion_main!(benches);
