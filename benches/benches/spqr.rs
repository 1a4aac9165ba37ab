//! The Sparse Post-Quantum Ratchet (`hush-spqr`), step by step.
//!
//! - the erasure code: a systematic chunk (a copy), a computed chunk of each SPQR message
//!   size (3, 5, 30 and 36 chunks), and decoding the 36-chunk encapsulation key from
//!   computed chunks only (the worst case);
//! - the incremental ML-KEM-768 operations, called on `libcrux-ml-kem` directly with the
//!   calls `hush-spqr` makes: key generation from a seed, `encapsulate1`,
//!   `encapsulate2`, decapsulation, the key-against-header check;
//! - the chain step's KDF (HKDF-SHA256, 32 -> 64 bytes) through `hush-core`;
//! - a send and a receive on an existing chain, planned and applied, in the two steady
//!   states SPQR spends its time in: one-way (the sender sends header chunks of a sampled
//!   key, the receiver holds the header), and a strict alternation averaged over whole
//!   epochs (ML-KEM work included), with and without storing both states after each
//!   message.
//!
//! ```text
//! cargo bench -p hush-benches --bench spqr -- --warm-up-time 1 --measurement-time 3
//! ```

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "bench set-up: inputs are made valid here, a failure should stop the run"
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hush_core::kdf::hkdf_sha256_parts;
use hush_spqr::erasure::{Decoder, encode_chunk};
use hush_spqr::{ChainParams, Direction, SpqrState, Version};
use hush_test_support::test_rng;
use libcrux_ml_kem::mlkem768::incremental;
use rand_chacha::ChaCha20Rng;

fn message(len: usize) -> Vec<u8> {
    (0..len).map(|i| u8::try_from(i % 251).unwrap()).collect()
}

fn erasure(c: &mut Criterion) {
    let mut group = c.benchmark_group("spqr/erasure");
    let ek = message(1152);
    group.bench_function("systematic chunk", |b| {
        b.iter(|| encode_chunk(black_box(&ek), black_box(7)).unwrap());
    });
    for chunks in [3usize, 5, 30, 36] {
        let m = message(chunks * 32);
        let index = u16::try_from(chunks + 3).unwrap();
        group.bench_function(format!("computed chunk of {chunks}"), |b| {
            b.iter(|| encode_chunk(black_box(&m), black_box(index)).unwrap());
        });
    }
    let computed: Vec<_> = (36u16..72).map(|k| encode_chunk(&ek, k).unwrap()).collect();
    group.bench_function("decode 36 computed chunks", |b| {
        b.iter(|| {
            let mut decoder = Decoder::new(1152).unwrap();
            for chunk in &computed[..35] {
                decoder.add(chunk);
            }
            decoder.decode_with(&computed[35]).unwrap()
        });
    });
    group.finish();
}

fn ml_kem(c: &mut Criterion) {
    let mut group = c.benchmark_group("spqr/ml-kem-768 incremental");
    let seed = [3u8; 64];
    group.bench_function("key generation from seed", |b| {
        b.iter(|| {
            let mut pair = [0u8; incremental::key_pair_compressed_len()];
            incremental::generate_key_pair_compressed(black_box(seed), &mut pair);
            pair
        });
    });
    let mut pair = [0u8; incremental::key_pair_compressed_len()];
    incremental::generate_key_pair_compressed(seed, &mut pair);
    let header: [u8; 64] = pair[2304..2368].try_into().unwrap();
    let ek: [u8; 1152] = pair[1152..2304].try_into().unwrap();
    group.bench_function("encapsulate1", |b| {
        b.iter(|| {
            let mut state = [0u8; incremental::encaps_state_len()];
            let mut shared = [0u8; 32];
            incremental::encapsulate1(black_box(&header), [9; 32], &mut state, &mut shared).unwrap()
        });
    });
    let mut state = [0u8; incremental::encaps_state_len()];
    let mut shared = [0u8; 32];
    let ct1 = incremental::encapsulate1(&header, [9; 32], &mut state, &mut shared).unwrap();
    group.bench_function("encapsulate2", |b| {
        b.iter(|| incremental::encapsulate2(black_box(&state), &ek));
    });
    let ct2 = incremental::encapsulate2(&state, &ek);
    group.bench_function("decapsulate", |b| {
        b.iter(|| incremental::decapsulate_compressed_key(black_box(&pair), &ct1, &ct2));
    });
    group.bench_function("key matches header", |b| {
        b.iter(|| incremental::validate_pk_bytes(black_box(&header), &ek).is_ok());
    });
    group.finish();
}

fn chain_step(c: &mut Criterion) {
    let seed = [5u8; 32];
    c.bench_function("spqr/chain step KDF (HKDF-SHA256 32 -> 64)", |b| {
        b.iter(|| {
            let mut okm = [0u8; 64];
            hkdf_sha256_parts(
                &[],
                black_box(&seed),
                &[&7u32.to_be_bytes(), b"Signal PQ Ratchet V1 Chain Next"],
                &mut okm,
            )
            .unwrap();
            okm
        });
    });
}

struct Party {
    state: SpqrState,
    rng: ChaCha20Rng,
}

fn party(direction: Direction, seed: u64) -> Party {
    Party {
        state: SpqrState::new(
            &[1; 32],
            direction,
            Version::V1,
            Version::V1,
            ChainParams::default(),
        )
        .unwrap(),
        rng: test_rng(seed),
    }
}

/// One message from `from` to `to`: plan, apply, receive, apply; optionally stores and
/// reloads both states as an app persisting its session records would.
fn message_once(from: &mut Party, to: &mut Party, store: bool) {
    let plan = from.state.plan_send(&mut from.rng).unwrap();
    let received = to.state.plan_recv(plan.payload()).unwrap();
    assert!(received.message_key() == plan.message_key());
    from.state.apply_send(plan).unwrap();
    to.state.apply_recv(received).unwrap();
    if store {
        from.state = SpqrState::decode(&from.state.encode()).unwrap();
        to.state = SpqrState::decode(&to.state.encode()).unwrap();
    }
}

fn send_recv(c: &mut Criterion) {
    let mut group = c.benchmark_group("spqr/send+recv");
    for store in [false, true] {
        let suffix = if store { ", states stored" } else { "" };
        let (mut alice, mut bob) = (party(Direction::A2B, 1), party(Direction::B2A, 2));
        for _ in 0..10 {
            message_once(&mut alice, &mut bob, false);
        }
        group.bench_function(format!("one-way{suffix}"), |b| {
            b.iter(|| message_once(&mut alice, &mut bob, store));
        });
        let (mut alice, mut bob) = (party(Direction::A2B, 3), party(Direction::B2A, 4));
        let mut turn = false;
        group.bench_function(format!("alternating, averaged over epochs{suffix}"), |b| {
            b.iter(|| {
                turn = !turn;
                if turn {
                    message_once(&mut alice, &mut bob, store);
                } else {
                    message_once(&mut bob, &mut alice, store);
                }
            });
        });
    }
    group.finish();
}

criterion_group!(benches, erasure, ml_kem, chain_step, send_recv);
criterion_main!(benches);
