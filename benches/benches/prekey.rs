//! `hush-prekey`: server-side validation of a full prekey upload (batch and one-by-one
//! signature checks), and bundle decoding and encoding. Results are in
//! `docs/PERFORMANCE.md` ("Prekeys").
//!
//! ```text
//! cargo bench -p hush-benches --bench prekey -- --warm-up-time 1 --measurement-time 3
//! ```

#![allow(
    clippy::unwrap_used,
    reason = "bench set-up: inputs are made valid here, a failure should stop the run"
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hush_core::xeddsa::{BatchItem, verify_batch};
use hush_core::{IdentityKeyPair, KemPublicKey, Signature, VerifyingKey};
use hush_prekey::{
    DeviceKeys, GenerateRequest, PreKeyBundle, PreKeyIdAllocator, SignatureCheck, UploadPolicy,
    generate_prekeys, upload_for, validate_upload,
};
use hush_test_support::test_rng;

const NOW_MS: u64 = 1_700_000_000_000;

fn prekeys(c: &mut Criterion) {
    let mut rng = test_rng(1);
    let identity = IdentityKeyPair::generate(&mut rng);
    // The full upload of the issue: 1 signed EC prekey, 100 one-time EC prekeys, 100 signed
    // Kyber1024 prekeys and 1 last-resort Kyber1024 prekey.
    let records = generate_prekeys(
        &identity,
        &mut PreKeyIdAllocator::new(),
        &GenerateRequest::default(),
        NOW_MS,
        &mut rng,
    )
    .unwrap();
    let bytes = upload_for(&identity, &records).encode();
    let key = identity.identity_key();
    let batch = UploadPolicy::default();
    let mut single = UploadPolicy::default();
    single.signature_check = SignatureCheck::OneByOne;
    let validated = validate_upload(&key, &bytes, &batch, NOW_MS, &mut rng).unwrap();

    let mut group = c.benchmark_group("prekey");
    group.sample_size(30);
    group.bench_function("validate full upload (batch)", |b| {
        b.iter(|| validate_upload(&key, black_box(&bytes), &batch, NOW_MS, &mut rng).unwrap());
    });
    group.bench_function("validate full upload (one by one)", |b| {
        b.iter(|| validate_upload(&key, black_box(&bytes), &single, NOW_MS, &mut rng).unwrap());
    });
    group.bench_function("decode full upload (format only)", |b| {
        b.iter(|| hush_prekey::PreKeyUpload::decode(black_box(&bytes), &batch).unwrap());
    });
    group.finish();

    // Where the batch validation's time goes: the same 102 signatures checked by
    // `verify_batch` alone, over the real messages (one 33-byte EC key, 101 typed 1569-byte
    // Kyber keys) and over 33-byte messages, to separate hashing from curve arithmetic.
    let verifying = VerifyingKey::new(key.public_key());
    let upload = validated.upload();
    let mut messages: Vec<Vec<u8>> = vec![
        upload
            .signed_prekey()
            .unwrap()
            .public_key()
            .encode()
            .to_vec(),
    ];
    let mut signatures = vec![*upload.signed_prekey().unwrap().signature()];
    for kem in upload
        .kem_prekeys()
        .iter()
        .chain(upload.last_resort_kem_prekey())
    {
        messages.push(kem.public_key().encode());
        signatures.push(*kem.signature());
    }
    let short: Vec<Vec<u8>> = (0..messages.len())
        .map(|i| vec![u8::try_from(i).unwrap(); 33])
        .collect();
    let short_signatures: Vec<Signature> =
        short.iter().map(|m| identity.sign(m, &mut rng)).collect();
    let items: Vec<BatchItem<'_>> = messages
        .iter()
        .zip(&signatures)
        .map(|(message, signature)| BatchItem {
            key: &verifying,
            message,
            signature,
        })
        .collect();
    let short_items: Vec<BatchItem<'_>> = short
        .iter()
        .zip(&short_signatures)
        .map(|(message, signature)| BatchItem {
            key: &verifying,
            message,
            signature,
        })
        .collect();
    assert!(verify_batch(&items, &mut rng).all_valid());
    assert!(verify_batch(&short_items, &mut rng).all_valid());
    let kem_keys: Vec<&[u8]> = messages.iter().skip(1).map(Vec::as_slice).collect();
    let mut group = c.benchmark_group("prekey breakdown");
    group.sample_size(30);
    group.bench_function("verify_batch 102 signatures, upload messages", |b| {
        b.iter(|| verify_batch(black_box(&items), &mut rng));
    });
    group.bench_function("verify_batch 102 signatures, 33-byte messages", |b| {
        b.iter(|| verify_batch(black_box(&short_items), &mut rng));
    });
    group.bench_function("KemPublicKey::decode x101", |b| {
        b.iter(|| {
            for k in &kem_keys {
                black_box(KemPublicKey::decode(black_box(k)).unwrap());
            }
        });
    });
    group.finish();

    let mut device = DeviceKeys::new(1, 1, key).unwrap();
    device.apply_upload(&validated).unwrap();
    let bundle = device.take_bundle().unwrap().into_bundle();
    let bundle_bytes = bundle.encode();
    let mut group = c.benchmark_group("prekey bundle");
    group.bench_function("decode", |b| {
        b.iter(|| PreKeyBundle::decode(black_box(&bundle_bytes)).unwrap())
    });
    group.bench_function("encode", |b| b.iter(|| black_box(&bundle).encode()));
    group.bench_function("verify signatures", |b| {
        b.iter(|| black_box(&bundle).verify_signatures().unwrap())
    });
    group.finish();
}

criterion_group!(benches, prekeys);
criterion_main!(benches);
