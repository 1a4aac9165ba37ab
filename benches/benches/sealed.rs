//! Sealed sender (`hush-sealed`): v1 seal and open of a 1 KiB content, v2 sends to 10
//! devices of 5 accounts and 100 devices of 50 accounts (devices sharing their account's
//! identity key, as libsignal's), the same sends to hush linked devices with their own
//! keys, the server split against copying its output, one recipient's v2 open, and the
//! floors: the key agreements, KDFs, ciphers and the certificate check. Results and the
//! floors' sums are in `docs/PERFORMANCE.md`.
//!
//! ```text
//! cargo bench -p hush-benches --bench sealed -- --warm-up-time 1 --measurement-time 3
//! ```

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "bench set-up: inputs are made valid here, a failure should stop the run"
)]

use std::hint::black_box;

use aes::cipher::{KeyIvInit, StreamCipher};
use aes_gcm_siv::Aes256GcmSiv;
use aes_gcm_siv::aead::{AeadInOut, KeyInit};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use hush_core::kdf::{HmacSha256Key, hkdf_sha256_parts, hkdf_sha256_zero_salt_parts};
use hush_core::{IdentityKeyPair, KeyPair, PrivateKey, ServiceId};
use hush_sealed::{
    CertificateValidator, ContentHint, ContentType, Destination, DeviceId, SenderCertificate,
    SenderCertificateFields, SentMessage, ServerCertificate, UnidentifiedSenderMessageContent,
};
use hush_test_support::test_rng;

const NOW: u64 = 1_700_000_000_000;

/// The inner message measured: 1 KiB.
const INNER: &[u8; 1024] = &[0x42; 1024];

struct World {
    validator: CertificateValidator,
    uncached: CertificateValidator,
    alice: IdentityKeyPair,
    bob: IdentityKeyPair,
    content: UnidentifiedSenderMessageContent,
    certificate: SenderCertificate,
}

fn world() -> World {
    let mut rng = test_rng(1);
    let root = KeyPair::generate(&mut rng);
    let server = KeyPair::generate(&mut rng);
    let server_certificate =
        ServerCertificate::issue(1, &server.public_key(), root.private_key(), &mut rng);
    let alice = IdentityKeyPair::generate(&mut rng);
    let certificate = SenderCertificate::issue(
        &SenderCertificateFields {
            sender: ServiceId::aci([0xa1; 16]),
            sender_e164: Some("+14155550100".to_owned()),
            device_id: DeviceId::new(1).unwrap(),
            identity_key: alice.identity_key(),
            expiration_ms: NOW + 86_400_000,
        },
        &server_certificate,
        server.private_key(),
        &mut rng,
    )
    .unwrap();
    let content = UnidentifiedSenderMessageContent::new(
        ContentType::Whisper,
        certificate.clone(),
        INNER.to_vec(),
        ContentHint::Default,
        None,
    )
    .unwrap();
    let uncached = CertificateValidator::new(&root.public_key());
    let mut validator = uncached.clone();
    validator
        .add_server_certificate(server_certificate)
        .unwrap();
    World {
        validator,
        uncached,
        alice,
        bob: IdentityKeyPair::generate(&mut rng),
        content,
        certificate,
    }
}

/// `users` accounts of `devices_per_user` devices: one identity key per account
/// (libsignal's model) or one per device (hush's linked devices).
fn destinations(users: usize, devices_per_user: usize, key_per_device: bool) -> Vec<Destination> {
    let mut rng = test_rng(7);
    let mut out = Vec::new();
    for user in 0..users {
        let account_key = IdentityKeyPair::generate(&mut rng);
        let mut uuid = [0u8; 16];
        uuid[..8].copy_from_slice(&(user as u64).to_be_bytes());
        for device in 0..devices_per_user {
            let identity_key = if key_per_device {
                IdentityKeyPair::generate(&mut rng).identity_key()
            } else {
                account_key.identity_key()
            };
            out.push(Destination {
                service_id: ServiceId::aci(uuid),
                device_id: DeviceId::new(u32::try_from(device + 1).unwrap()).unwrap(),
                registration_id: 1000 + u16::try_from(device).unwrap(),
                identity_key,
            });
        }
    }
    out
}

fn v1(c: &mut Criterion) {
    let w = world();
    let mut rng = test_rng(2);
    let recipient = w.bob.identity_key();
    let sealed = hush_sealed::seal_v1(&w.content, &w.alice, &recipient, &mut rng).unwrap();
    let mut group = c.benchmark_group("sealed v1");
    group.bench_function("seal 1 KiB", |b| {
        b.iter(|| {
            hush_sealed::seal_v1(black_box(&w.content), &w.alice, &recipient, &mut rng).unwrap()
        })
    });
    group.bench_function("open 1 KiB, server certificate cached", |b| {
        b.iter(|| hush_sealed::open(black_box(&sealed), &w.bob, &w.validator, NOW).unwrap())
    });
    group.bench_function("open 1 KiB, server certificate not cached", |b| {
        b.iter(|| hush_sealed::open(black_box(&sealed), &w.bob, &w.uncached, NOW).unwrap())
    });
    group.bench_function("seal + open 1 KiB", |b| {
        b.iter(|| {
            let sealed =
                hush_sealed::seal_v1(black_box(&w.content), &w.alice, &recipient, &mut rng)
                    .unwrap();
            hush_sealed::open(&sealed, &w.bob, &w.validator, NOW).unwrap()
        })
    });
    group.finish();
}

fn v2(c: &mut Criterion) {
    let w = world();
    let mut rng = test_rng(3);
    let mut group = c.benchmark_group("sealed v2");
    for (users, devices, own_keys, name) in [
        (
            5,
            2,
            false,
            "send to 10 devices of 5 accounts (shared keys)",
        ),
        (
            50,
            2,
            false,
            "send to 100 devices of 50 accounts (shared keys)",
        ),
        (
            5,
            2,
            true,
            "send to 10 linked devices of 5 accounts (own keys)",
        ),
    ] {
        let destinations = destinations(users, devices, own_keys);
        group.bench_function(name, |b| {
            b.iter(|| {
                hush_sealed::seal_v2(
                    black_box(&w.content),
                    &w.alice,
                    &destinations,
                    &[],
                    &mut rng,
                )
                .unwrap()
            })
        });
    }
    group.sample_size(20);
    let destinations = destinations(50, 2, true);
    group.bench_function(
        "send to 100 linked devices of 50 accounts (own keys)",
        |b| {
            b.iter(|| {
                hush_sealed::seal_v2(
                    black_box(&w.content),
                    &w.alice,
                    &destinations,
                    &[],
                    &mut rng,
                )
                .unwrap()
            })
        },
    );
    group.finish();

    let mut group = c.benchmark_group("sealed v2 server");
    let destinations = destinations_with_bob(&w);
    let sent = hush_sealed::seal_v2(&w.content, &w.alice, &destinations, &[], &mut rng).unwrap();
    group.bench_function("split of 100 devices / 50 accounts", |b| {
        b.iter(|| {
            let parsed = SentMessage::parse(black_box(&sent)).unwrap();
            let split = parsed.split();
            black_box(&split);
            split.len()
        })
    });
    group.bench_function(
        "split as parts (parse, then each entry's three slices)",
        |b| {
            b.iter(|| {
                let parsed = SentMessage::parse(black_box(&sent)).unwrap();
                let parts: Vec<_> = parsed
                    .recipients()
                    .filter_map(|r| r.received_message_parts().map(|p| (r.devices(), p)))
                    .collect();
                black_box(&parts);
                parts.len()
            })
        },
    );
    group.bench_function("parse only", |b| {
        b.iter(|| {
            SentMessage::parse(black_box(&sent))
                .unwrap()
                .recipients()
                .len()
        })
    });
    // The floor: producing the same 50 ReceivedMessages from offsets known in advance.
    let parsed = SentMessage::parse(&sent).unwrap();
    let ranges: Vec<_> = parsed
        .recipients()
        .map(|r| r.key_material_range().unwrap())
        .collect();
    let shared = parsed.shared_bytes_offset();
    group.bench_function("copy the split's output bytes", |b| {
        b.iter(|| {
            let sent = black_box(&sent);
            ranges
                .iter()
                .map(|range| {
                    let mut out = Vec::with_capacity(1 + range.len() + sent.len() - shared);
                    out.push(0x22);
                    out.extend_from_slice(&sent[range.clone()]);
                    out.extend_from_slice(&sent[shared..]);
                    out
                })
                .collect::<Vec<_>>()
        })
    });
    group.bench_function("copy the SentMessage", |b| {
        b.iter(|| black_box(&sent).to_vec())
    });
    let received = parsed.split().remove(0).message;
    group.finish();

    let mut group = c.benchmark_group("sealed v2 recipient");
    group.bench_function("open 1 KiB, server certificate cached", |b| {
        b.iter(|| hush_sealed::open(black_box(&received), &w.bob, &w.validator, NOW).unwrap())
    });
    group.finish();
}

/// 100 devices of 50 accounts, Bob's account first.
fn destinations_with_bob(w: &World) -> Vec<Destination> {
    let mut out = destinations(50, 2, false);
    for destination in out.iter_mut().take(2) {
        destination.identity_key = w.bob.identity_key();
    }
    out
}

fn floors(c: &mut Criterion) {
    let w = world();
    let mut rng = test_rng(4);
    let private = PrivateKey::generate(&mut rng);
    let peer = PrivateKey::generate(&mut rng).public_key();
    let mut group = c.benchmark_group("sealed floors");
    group.bench_function("X25519 agreement", |b| {
        b.iter(|| private.agree(black_box(&peer)).unwrap())
    });
    group.bench_function("key generation (fixed-base)", |b| {
        b.iter(|| KeyPair::generate(&mut rng))
    });
    // `PrivateKey::agree` takes the Edwards form for points on the curve (a square root
    // to decompress, dalek's vector-backend multiplication, one inversion back). For
    // comparison, the Montgomery ladder it used before issue 19 (and x25519-dalek uses):
    // the same output.
    let scalar = *private.to_bytes();
    let peer_u = curve25519_dalek::MontgomeryPoint(*peer.as_montgomery_bytes());
    assert_eq!(
        peer_u.mul_clamped(scalar).to_bytes(),
        *private.agree(&peer).unwrap().as_bytes()
    );
    group.bench_function("X25519 by the Montgomery ladder", |b| {
        b.iter(|| black_box(&peer_u).mul_clamped(scalar))
    });
    let other = PrivateKey::generate(&mut rng);
    group.bench_function("two X25519 with one peer key (agree_pair)", |b| {
        b.iter(|| private.agree_pair(&other, black_box(&peer)).unwrap())
    });
    group.bench_function("HKDF-SHA256 96 bytes, 86-byte salt", |b| {
        let salt = [7u8; 86];
        b.iter(|| {
            let mut okm = [0u8; 96];
            hkdf_sha256_parts(black_box(&salt), &[1; 32], &[], &mut okm).unwrap();
            okm
        })
    });
    group.bench_function("HKDF-SHA256 32 bytes, no salt, 98-byte ikm", |b| {
        b.iter(|| {
            let mut okm = [0u8; 32];
            hkdf_sha256_zero_salt_parts(black_box(&[1; 98]), &[b"Sealed Sender v2: DH"], &mut okm)
                .unwrap();
            okm
        })
    });
    let content = w.content.as_bytes().to_vec();
    group.bench_function("AES-256-CTR + HMAC-SHA256 of the 1 KiB content", |b| {
        b.iter_batched_ref(
            || content.clone(),
            |buffer| {
                ctr::Ctr32BE::<aes::Aes256>::new(&[1u8; 32].into(), &[0u8; 16].into())
                    .apply_keystream(buffer);
                HmacSha256Key::new(&[2; 32]).mac(buffer)
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("AES-256-GCM-SIV seal of the 1 KiB content", |b| {
        b.iter_batched_ref(
            || content.clone(),
            |buffer| {
                Aes256GcmSiv::new(&[3u8; 32].into())
                    .encrypt_inout_detached(&Default::default(), &[], buffer.as_mut_slice().into())
                    .unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("decode the content (with its certificate)", |b| {
        b.iter(|| UnidentifiedSenderMessageContent::decode(black_box(&content)).unwrap())
    });
    group.bench_function("certificate check, server certificate cached", |b| {
        b.iter(|| {
            w.validator
                .validate(black_box(&w.certificate), NOW)
                .unwrap()
        })
    });
    group.bench_function("certificate check, not cached", |b| {
        b.iter(|| w.uncached.validate(black_box(&w.certificate), NOW).unwrap())
    });
    group.finish();
}

criterion_group!(benches, v1, v2, floors);
criterion_main!(benches);
