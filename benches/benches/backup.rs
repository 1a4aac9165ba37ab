//! The backup stream's throughput against its floor, raw AES-256-GCM, and the cost of a
//! password wrap with the default Argon2id parameters. The stream target is
//! 1 GB/s or more for encrypt and for decrypt on one core. Results and the machine they
//! came from are in `docs/PERFORMANCE.md`.
//!
//! ```text
//! cargo bench -p hush-benches --bench backup -- --quick
//! ```

#![allow(
    clippy::unwrap_used,
    reason = "bench set-up: inputs are made valid here, a failure should stop the run"
)]

use std::hint::black_box;
use std::io;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hush_backup::{Argon2Params, BackupKey, Decryptor, Encryptor, PasswordWrappedKey};
use hush_core::cipher::Aes256GcmKey;
use hush_test_support::test_rng;

/// Plaintext per stream benchmark.
const STREAM_BYTES: usize = 64 * 1024 * 1024;

/// The chunk sizes measured: the default and two larger ones.
const CHUNK_SIZES: [u32; 3] = [64 * 1024, 256 * 1024, 1024 * 1024];

fn raw_gcm(c: &mut Criterion) {
    let key = Aes256GcmKey::new(&[7; 32]);
    let mut buffer = vec![0x5a_u8; 64 * 1024];
    let mut group = c.benchmark_group("backup floor");
    group.throughput(Throughput::Bytes(buffer.len() as u64));
    group.bench_function("aes-256-gcm seal_in_place 64 KiB", |b| {
        b.iter(|| key.seal_in_place(black_box(&[1; 12]), &[], black_box(&mut buffer)));
    });
    group.finish();
}

fn stream(c: &mut Criterion) {
    let key = BackupKey::generate(&mut test_rng(1));
    let plaintext = vec![0x5a_u8; STREAM_BYTES];
    let mut group = c.benchmark_group("backup stream 64 MiB");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(STREAM_BYTES as u64));
    for chunk in CHUNK_SIZES {
        let label = format!("{} KiB chunks", chunk / 1024);
        group.bench_function(format!("encrypt, {label}"), |b| {
            let mut rng = test_rng(2);
            b.iter(|| {
                Encryptor::new(&key)
                    .chunk_size(chunk)
                    .unwrap()
                    .encrypt(&mut rng, black_box(&plaintext[..]), io::sink())
                    .unwrap()
            });
        });
        let mut backup = Vec::with_capacity(STREAM_BYTES + STREAM_BYTES / 1024);
        Encryptor::new(&key)
            .chunk_size(chunk)
            .unwrap()
            .encrypt(&mut test_rng(3), &plaintext[..], &mut backup)
            .unwrap();
        group.bench_function(format!("decrypt, {label}"), |b| {
            b.iter(|| {
                Decryptor::new(&key)
                    .decrypt(black_box(&backup[..]), io::sink())
                    .unwrap()
            });
        });
    }
    group.finish();
}

/// Wrapping and unwrapping a backup key under a password with the default Argon2id
/// parameters (19 MiB, 2 iterations, 1 lane): the cost a guess costs an attacker per
/// candidate, and what a user waits for.
fn password_wrap(c: &mut Criterion) {
    let key = BackupKey::generate(&mut test_rng(4));
    let params = Argon2Params::default();
    let wrapped = PasswordWrappedKey::wrap(&key, b"hunter2", params, &mut test_rng(5)).unwrap();
    let mut group = c.benchmark_group("password wrap (Argon2id default)");
    group.sample_size(10);
    group.bench_function("wrap", |b| {
        b.iter(|| PasswordWrappedKey::wrap(&key, b"hunter2", params, &mut test_rng(6)).unwrap())
    });
    group.bench_function("unwrap", |b| {
        b.iter(|| wrapped.unwrap(black_box(b"hunter2")).unwrap())
    });
    group.finish();
}

criterion_group!(benches, raw_gcm, stream, password_wrap);
criterion_main!(benches);
