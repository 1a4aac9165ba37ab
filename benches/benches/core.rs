//! The primitive floor: what every hush protocol operation is built from, measured on
//! `hush-core`'s public API. Results and the machine they came from are in
//! `docs/PERFORMANCE.md`.
//!
//! ```text
//! cargo bench -p hush-benches --bench core -- --warm-up-time 1 --measurement-time 3
//! ```

#![allow(
    clippy::unwrap_used,
    reason = "bench set-up: inputs are made valid here, a failure should stop the run"
)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hush_core::cipher::{Aes256GcmKey, aes256_cbc_decrypt, aes256_cbc_encrypt};
use hush_core::kdf::{HmacSha256Key, hkdf_sha256, hmac_sha256};
use hush_core::xeddsa::{BatchItem, verify_batch};
use hush_core::{
    Fingerprint, IdentityKey, KemKeyPair, KemKeyType, KemPublicKey, PrivateKey, Signature,
    VerifyingKey,
};
use hush_test_support::test_rng;

/// The message signed in the XEdDSA benches. What hush signs is small: a signed prekey is
/// 33 bytes.
const MESSAGE: &[u8; 64] = &[0x5a; 64];

/// Signatures in one batch.
const BATCH: usize = 100;

fn xeddsa(c: &mut Criterion) {
    let mut rng = test_rng(1);
    let key = PrivateKey::generate(&mut rng);
    let public = key.public_key();
    let signature = key.sign(MESSAGE, &mut rng);
    let verifying = VerifyingKey::new(&public);
    assert!(verifying.verify(MESSAGE, &signature));

    let mut group = c.benchmark_group("xeddsa");
    group.bench_function("sign", |b| {
        b.iter(|| key.sign(black_box(MESSAGE), &mut rng))
    });
    group.bench_function("verify (PublicKey::verify)", |b| {
        b.iter(|| public.verify(black_box(MESSAGE), black_box(&signature)));
    });
    group.bench_function("verify (VerifyingKey::verify)", |b| {
        b.iter(|| verifying.verify(black_box(MESSAGE), black_box(&signature)));
    });
    group.bench_function("VerifyingKey::new", |b| {
        b.iter(|| VerifyingKey::new(black_box(&public)))
    });
    group.finish();
}

/// `BATCH` signatures over distinct messages, by one key or by `BATCH` keys.
fn batch_inputs(distinct_keys: bool) -> (Vec<VerifyingKey>, Vec<Vec<u8>>, Vec<Signature>) {
    let mut rng = test_rng(2);
    let one = PrivateKey::generate(&mut rng);
    let signers: Vec<PrivateKey> = (0..BATCH)
        .map(|_| {
            if distinct_keys {
                PrivateKey::generate(&mut rng)
            } else {
                one.clone()
            }
        })
        .collect();
    let messages: Vec<Vec<u8>> = (0..BATCH)
        .map(|i| [MESSAGE.as_slice(), &i.to_le_bytes()].concat())
        .collect();
    let signatures = signers
        .iter()
        .zip(&messages)
        .map(|(key, message)| key.sign(message, &mut rng))
        .collect();
    let keys = signers
        .iter()
        .map(|key| VerifyingKey::new(&key.public_key()))
        .collect();
    (keys, messages, signatures)
}

fn xeddsa_batch(c: &mut Criterion) {
    let mut group = c.benchmark_group("xeddsa batch of 100");
    group.sample_size(20);
    group.throughput(Throughput::Elements(BATCH as u64));
    for (label, distinct) in [("one key", false), ("100 keys", true)] {
        let (keys, messages, signatures) = batch_inputs(distinct);
        let items: Vec<BatchItem<'_>> = keys
            .iter()
            .zip(&messages)
            .zip(&signatures)
            .map(|((key, message), signature)| BatchItem {
                key,
                message,
                signature,
            })
            .collect();
        let mut rng = test_rng(3);
        assert!(verify_batch(&items, &mut rng).all_valid());
        group.bench_function(format!("verify_batch, {label}"), |b| {
            b.iter(|| verify_batch(black_box(&items), &mut rng));
        });
        group.bench_function(format!("100 x VerifyingKey::verify, {label}"), |b| {
            b.iter(|| {
                items
                    .iter()
                    .all(|item| item.key.verify(black_box(item.message), item.signature))
            });
        });
    }
    group.finish();
}

fn x25519(c: &mut Criterion) {
    let mut rng = test_rng(4);
    let ours = PrivateKey::generate(&mut rng);
    let theirs = PrivateKey::generate(&mut rng).public_key();
    let mut group = c.benchmark_group("x25519");
    group.bench_function("agree", |b| {
        b.iter(|| ours.agree(black_box(&theirs)).unwrap())
    });
    group.bench_function("PrivateKey::generate", |b| {
        b.iter(|| PrivateKey::generate(&mut rng))
    });
    group.finish();
}

fn kdf(c: &mut Criterion) {
    let salt = [1u8; 32];
    let ikm = [2u8; 32];
    let key = [3u8; 32];
    let data = [4u8; 32];
    let prepared = HmacSha256Key::new(&key);
    let mut group = c.benchmark_group("kdf");
    group.bench_function("hkdf_sha256 32 -> 80 bytes", |b| {
        let mut okm = [0u8; 80];
        b.iter(|| {
            hkdf_sha256(
                black_box(&salt),
                black_box(&ikm),
                b"WhisperRatchet",
                &mut okm,
            )
        });
    });
    group.bench_function("hmac_sha256 of 32 bytes (keyed each time)", |b| {
        b.iter(|| hmac_sha256(black_box(&key), black_box(&data)));
    });
    group.bench_function("HmacSha256Key::mac of 32 bytes (pre-keyed)", |b| {
        b.iter(|| prepared.mac(black_box(&data)));
    });
    group.finish();

    // Long input: the cost is the SHA-256 compression function, so this is SHA-256
    // throughput (1024 blocks of data, plus two blocks of padding and outer hash).
    let long = vec![5u8; 64 * 1024];
    let mut group = c.benchmark_group("sha256 throughput");
    group.throughput(Throughput::Bytes(long.len() as u64));
    group.bench_function("HmacSha256Key::mac of 64 KiB", |b| {
        b.iter(|| prepared.mac(black_box(&long)));
    });
    group.finish();
}

fn cipher(c: &mut Criterion) {
    let key = [6u8; 32];
    let iv = [7u8; 16];
    let mut group = c.benchmark_group("aes-256-cbc");
    for len in [100usize, 1024] {
        let plaintext = vec![8u8; len];
        let ciphertext = aes256_cbc_encrypt(&key, &iv, &plaintext);
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(format!("encrypt {len} B"), |b| {
            b.iter(|| aes256_cbc_encrypt(&key, &iv, black_box(&plaintext)));
        });
        group.bench_function(format!("decrypt {len} B"), |b| {
            b.iter(|| aes256_cbc_decrypt(&key, &iv, black_box(&ciphertext)).unwrap());
        });
    }
    group.finish();

    let gcm = Aes256GcmKey::new(&key);
    let nonce = [9u8; 12];
    let plaintext = vec![10u8; 1024];
    let sealed = gcm.seal(&nonce, b"aad", &plaintext);
    let mut group = c.benchmark_group("aes-256-gcm");
    group.throughput(Throughput::Bytes(1024));
    group.bench_function("seal 1 KiB", |b| {
        b.iter(|| gcm.seal(&nonce, b"aad", black_box(&plaintext)))
    });
    group.bench_function("open 1 KiB", |b| {
        b.iter(|| gcm.open(&nonce, b"aad", black_box(&sealed)).unwrap());
    });
    group.bench_function("Aes256GcmKey::new", |b| {
        b.iter(|| Aes256GcmKey::new(black_box(&key)))
    });
    group.finish();
}

fn kem(c: &mut Criterion) {
    let mut rng = test_rng(5);
    for (label, key_type) in [
        ("kyber1024", KemKeyType::Kyber1024),
        ("ml-kem-1024", KemKeyType::MlKem1024),
    ] {
        let pair = KemKeyPair::generate(key_type, &mut rng);
        let public = pair.public_key();
        let encoded = public.encode();
        let (ciphertext, shared) = public.encapsulate(&mut rng);
        assert_eq!(pair.secret_key().decapsulate(&ciphertext).unwrap(), shared);
        let mut group = c.benchmark_group(label);
        group.bench_function("generate", |b| {
            b.iter(|| KemKeyPair::generate(key_type, &mut rng))
        });
        group.bench_function("encapsulate", |b| b.iter(|| public.encapsulate(&mut rng)));
        group.bench_function("decapsulate", |b| {
            b.iter(|| {
                pair.secret_key()
                    .decapsulate(black_box(&ciphertext))
                    .unwrap()
            });
        });
        group.bench_function("KemPublicKey::decode (with modulus check)", |b| {
            b.iter(|| KemPublicKey::decode(black_box(&encoded)).unwrap());
        });
        group.finish();
    }
}

fn fingerprint(c: &mut Criterion) {
    let mut rng = test_rng(6);
    let local = IdentityKey::new(PrivateKey::generate(&mut rng).public_key());
    let remote = IdentityKey::new(PrivateKey::generate(&mut rng).public_key());
    let local_id = [0x11u8; 16];
    let remote_id = [0x22u8; 16];
    let mut group = c.benchmark_group("fingerprint");
    group.sample_size(20);
    group.bench_function(
        "Fingerprint::new, version 2, 5200 iterations (both sides)",
        |b| {
            b.iter(|| Fingerprint::new(2, 5200, &local_id, &local, &remote_id, &remote).unwrap());
        },
    );
    group.finish();
}

criterion_group!(
    benches,
    xeddsa,
    xeddsa_batch,
    x25519,
    kdf,
    cipher,
    kem,
    fingerprint
);
criterion_main!(benches);
