//! One-to-one sessions (`hush-x3dh`, `hush-ratchet`) against their floors.
//!
//! Three operations, as issue 4 states its speed goals:
//!
//! - (a) an established session, steady state in one direction: Alice encrypts 100 bytes,
//!   Bob decodes and decrypts them, and (in the goal's variant) both records are
//!   serialised afterwards;
//! - (b) a message that starts a new DH ratchet step (ping-pong, so every message does);
//! - (c) session setup: Alice processes Bob's bundle and encrypts her first message, Bob
//!   decodes and decrypts it.
//!
//! The *floor* of each is the primitive work it cannot avoid, run here through
//! `hush-core`'s public API with inputs of the same sizes, in the same criterion run:
//!
//! - (a) per message, sender: one keyed HMAC state used twice (message key seed, next
//!   chain key), HKDF-SHA256 32 -> 80 bytes, AES-256-CBC encryption of 100 bytes, the
//!   message MAC (HMAC-SHA256 over both identity keys and the serialised message); the
//!   receiver the same with decryption.
//! - (b) (a) plus, on the receiver: 2 X25519, 2 HKDF 32 -> 64 ("WhisperRatchet"), 1 X25519
//!   key generation.
//! - (c) initiator: 2 XEdDSA verifications (signed prekey, KEM prekey), 2 key generations
//!   (base key, first ratchet key), 5 X25519 (DH1-DH4 with a one-time prekey, the first
//!   ratchet step), Kyber1024 encapsulation, HKDF to 96 bytes, the ratchet HKDF, the (a)
//!   sender work; responder: 4 X25519, Kyber1024 decapsulation, HKDF to 96 bytes, and the
//!   (b) receiver work.
//!
//! A fourth group, (d), measures what a *forged* message costs its receiver at worst
//! (issue 16, item 12): a record with the current session and the 40 archived ones
//! allowed, and messages with a 16-byte body and a MAC of zeros whose counter is 25 000
//! (the largest forward jump; 68 bytes on the wire) or 3 (66 bytes), with a ratchet key
//! that no session knows or that every session knows. Each is rejected without changing the record, so the same
//! record serves every iteration.
//!
//! Sessions run SPQR (the default policy, as libsignal v0.101): every message also
//! takes an SPQR chain step and carries a payload, and some start or finish an ML-KEM-768
//! step of the braid. The floors are the Double Ratchet's; `benches/spqr.rs` has SPQR's
//! own steps against theirs. `record_sizes` prints the session record sizes after 1 000
//! alternating and 1 000 one-way messages.
//!
//! Results and their ratios are in `docs/PERFORMANCE.md` (section "Sessions").
//!
//! ```text
//! cargo bench -p hush-benches --bench session -- --warm-up-time 1 --measurement-time 3
//! ```

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "bench set-up: inputs are made valid here, a failure should stop the run"
)]

use std::hint::black_box;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use hush_core::cipher::{aes256_cbc_decrypt, aes256_cbc_encrypt};
use hush_core::kdf::{HmacSha256Key, hkdf_sha256};
use hush_core::rng::{CryptoRng, Rng};
use hush_core::{IdentityKeyPair, KemKeyPair, KemKeyType, KeyPair, PrivateKey};
use hush_ratchet::{
    CiphertextMessage, LocalIdentity, PreKeySignalMessage, RemoteBundle, SessionOptions,
    SessionRecord, SignalMessage, SpqrPolicy,
};
use hush_test_support::test_rng;
use hush_x3dh::{AgreementMode, PeerPreKeys, ResponderPreKeys, TrustAll};

/// The plaintext of every measured message: 100 bytes.
const PLAINTEXT: &[u8; 100] = &[0x61; 100];

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// Bob and the prekeys he published.
struct Bob {
    identity: IdentityKeyPair,
    signed: KeyPair,
    one_time: KeyPair,
    kem: KemKeyPair,
    bundle: RemoteBundle,
}

impl Bob {
    fn new() -> Self {
        let mut rng = test_rng(1);
        let identity = IdentityKeyPair::generate(&mut rng);
        let signed = KeyPair::generate(&mut rng);
        let one_time = KeyPair::generate(&mut rng);
        let kem = KemKeyPair::generate(KemKeyType::Kyber1024, &mut rng);
        let bundle = RemoteBundle {
            registration_id: 2,
            signed_prekey_id: 1,
            one_time_prekey_id: Some(2),
            kem_prekey_id: Some(3),
            prekeys: PeerPreKeys {
                identity_key: identity.identity_key(),
                signed_prekey: signed.public_key(),
                signed_prekey_signature: identity.sign(&signed.public_key().encode(), &mut rng),
                one_time_prekey: Some(one_time.public_key()),
                kem_prekey: Some((
                    kem.public_key().clone(),
                    identity.sign(&kem.public_key().encode(), &mut rng),
                )),
            },
        };
        Self {
            identity,
            signed,
            one_time,
            kem,
            bundle,
        }
    }

    fn local(&self) -> LocalIdentity<'_> {
        LocalIdentity {
            identity: &self.identity,
            registration_id: 2,
        }
    }

    fn prekeys(&self) -> ResponderPreKeys<'_> {
        ResponderPreKeys {
            signed_prekey: &self.signed,
            one_time_prekey: Some(&self.one_time),
            kem_prekey: Some(self.kem.secret_key()),
        }
    }
}

fn alice_identity() -> IdentityKeyPair {
    IdentityKeyPair::generate(&mut test_rng(2))
}

std::thread_local! {
    /// The options `set_up`, `send` and `established` use: SPQR required (the default)
    /// unless a "SPQR off" row sets [`SpqrPolicy::Off`] around its set-up and run.
    static OPTIONS: std::cell::Cell<SessionOptions> = std::cell::Cell::new(SessionOptions::default());
}

fn options() -> SessionOptions {
    OPTIONS.with(std::cell::Cell::get)
}

/// Runs `f` with sessions under `policy`.
fn with_policy<T>(policy: SpqrPolicy, f: impl FnOnce() -> T) -> T {
    let before = OPTIONS.with(|o| o.replace(SessionOptions::new(policy)));
    let out = f();
    OPTIONS.with(|o| o.set(before));
    out
}

/// Session setup as measured in (c): returns both records and the first message.
fn set_up<R: CryptoRng + ?Sized>(
    alice: &IdentityKeyPair,
    bob: &Bob,
    rng: &mut R,
) -> (SessionRecord, SessionRecord, usize) {
    let mut alice_record = SessionRecord::new();
    let local = LocalIdentity {
        identity: alice,
        registration_id: 1,
    };
    alice_record
        .initiate(
            local,
            &bob.bundle,
            AgreementMode::Pqxdh,
            options(),
            &TrustAll,
            now(),
            rng,
        )
        .unwrap();
    let first = alice_record
        .encrypt(black_box(PLAINTEXT), options(), &TrustAll, now(), rng)
        .unwrap();
    let first = PreKeySignalMessage::decode(black_box(first.encode())).unwrap();
    let mut bob_record = SessionRecord::new();
    let done = bob_record
        .decrypt_prekey(
            &first,
            bob.local(),
            Some(bob.prekeys()),
            AgreementMode::Pqxdh,
            options(),
            &TrustAll,
            rng,
        )
        .unwrap();
    (alice_record, bob_record, done.plaintext.len())
}

/// Sends `PLAINTEXT` from `sender` to `receiver` through the wire bytes.
fn send<R: CryptoRng + ?Sized>(
    sender: &mut SessionRecord,
    receiver: &mut SessionRecord,
    rng: &mut R,
) -> usize {
    let message = sender
        .encrypt(black_box(PLAINTEXT), options(), &TrustAll, now(), rng)
        .unwrap();
    let CiphertextMessage::Signal(message) = message else {
        panic!("not established")
    };
    let message = SignalMessage::decode(black_box(message.encode())).unwrap();
    receiver
        .decrypt(&message, options(), &TrustAll, rng)
        .unwrap()
        .len()
}

/// An established session: Bob has answered, and Alice has sent once on her new chain
/// (so Bob has the receiving chain the steady-state messages use).
fn established() -> (SessionRecord, SessionRecord) {
    let bob = Bob::new();
    let alice = alice_identity();
    let mut rng = test_rng(3);
    let (mut alice_record, mut bob_record, _) = set_up(&alice, &bob, &mut rng);
    send(&mut bob_record, &mut alice_record, &mut rng);
    send(&mut alice_record, &mut bob_record, &mut rng);
    (alice_record, bob_record)
}

/// The wire size of a `SignalMessage` carrying `PLAINTEXT`, without its MAC: what the MAC
/// covers after the two identity keys.
fn mac_input_len() -> usize {
    let (mut alice, _) = established();
    alice
        .encrypt(
            PLAINTEXT,
            SessionOptions::default(),
            &TrustAll,
            now(),
            &mut test_rng(5),
        )
        .unwrap()
        .encode()
        .len()
        - hush_ratchet::MAC_LENGTH
}

/// The inputs of the per-message floor work.
struct FloorInputs {
    chain_key: [u8; 32],
    identities: [u8; 66],
    body: Vec<u8>,
    ciphertext: Vec<u8>,
    cipher_key: [u8; 32],
    iv: [u8; 16],
}

impl FloorInputs {
    fn new() -> Self {
        let mut rng = test_rng(4);
        let mut chain_key = [0u8; 32];
        rng.fill_bytes(&mut chain_key);
        let mut identities = [0u8; 66];
        rng.fill_bytes(&mut identities);
        let mut body = vec![0u8; mac_input_len()];
        rng.fill_bytes(&mut body);
        let (cipher_key, iv) = ([7u8; 32], [9u8; 16]);
        let ciphertext = aes256_cbc_encrypt(&cipher_key, &iv, PLAINTEXT);
        Self {
            chain_key,
            identities,
            body,
            ciphertext,
            cipher_key,
            iv,
        }
    }

    /// Chain step (one keyed HMAC, two MACs) and message keys (HKDF 32 -> 80).
    fn chain_and_keys(&self) -> [u8; 80] {
        let mac = HmacSha256Key::new(&self.chain_key);
        let seed = mac.mac(&[0x01]);
        black_box(mac.mac(&[0x02]));
        let mut keys = [0u8; 80];
        hkdf_sha256(&[], seed.as_slice(), b"WhisperMessageKeys", &mut keys).unwrap();
        keys
    }

    fn message_mac(&self, keys: &[u8; 80]) -> bool {
        let tag = HmacSha256Key::new(&keys[32..64]).mac_parts(&[&self.identities, &self.body]);
        black_box(tag[0]) != 0xff
    }

    /// The sender's work for one message.
    fn send(&self) {
        let keys = self.chain_and_keys();
        black_box(aes256_cbc_encrypt(
            &self.cipher_key,
            &self.iv,
            black_box(PLAINTEXT),
        ));
        black_box(self.message_mac(&keys));
    }

    /// The receiver's work for one message in an existing chain.
    fn receive(&self) {
        let keys = self.chain_and_keys();
        black_box(self.message_mac(&keys));
        black_box(
            aes256_cbc_decrypt(&self.cipher_key, &self.iv, black_box(&self.ciphertext)).unwrap(),
        );
    }
}

/// The DH ratchet step's extra primitive work on the receiver: a new receiving chain
/// (X25519 + HKDF 64), a new ratchet key, a new sending chain (X25519 + HKDF 64).
struct StepInputs {
    ours: PrivateKey,
    theirs: hush_core::PublicKey,
    root: [u8; 32],
}

impl StepInputs {
    fn new() -> Self {
        let mut rng = test_rng(5);
        Self {
            ours: PrivateKey::generate(&mut rng),
            theirs: PrivateKey::generate(&mut rng).public_key(),
            root: [3; 32],
        }
    }

    fn ratchet<R: CryptoRng + ?Sized>(&self, rng: &mut R) {
        let mut okm = [0u8; 64];
        let shared = self.ours.agree(&self.theirs).unwrap();
        hkdf_sha256(&self.root, shared.as_bytes(), b"WhisperRatchet", &mut okm).unwrap();
        let fresh = PrivateKey::generate(rng);
        let shared = fresh.agree(&self.theirs).unwrap();
        let mut next = [0u8; 64];
        hkdf_sha256(&okm[..32], shared.as_bytes(), b"WhisperRatchet", &mut next).unwrap();
        black_box(next);
    }
}

fn established_session(c: &mut Criterion) {
    let floor = FloorInputs::new();
    let mut group = c.benchmark_group("session (a) established, 100 B");

    let (mut alice, mut bob) = established();
    let mut rng = test_rng(10);
    group.bench_function("encrypt + decrypt + encode both records", |b| {
        b.iter(|| {
            black_box(send(&mut alice, &mut bob, &mut rng));
            black_box(alice.encode());
            black_box(bob.encode());
        })
    });
    let (mut alice, mut bob) = established();
    let mut rng = test_rng(10);
    group.bench_function("encrypt + decrypt", |b| {
        b.iter(|| black_box(send(&mut alice, &mut bob, &mut rng)))
    });
    with_policy(SpqrPolicy::Off, || {
        let (mut alice, mut bob) = established();
        let mut rng = test_rng(10);
        group.bench_function("encrypt + decrypt, SPQR off", |b| {
            b.iter(|| black_box(send(&mut alice, &mut bob, &mut rng)))
        });
    });
    group.bench_function("floor", |b| {
        b.iter(|| {
            floor.send();
            floor.receive();
        })
    });
    group.finish();
}

fn ratchet_step(c: &mut Criterion) {
    let floor = FloorInputs::new();
    let step = StepInputs::new();
    let mut group = c.benchmark_group("session (b) new DH ratchet step, 100 B");

    for serialise in [false, true] {
        let (mut alice, mut bob) = established();
        let mut rng = test_rng(10);
        let mut alice_turn = false;
        let name = if serialise {
            "encrypt + decrypt + encode both records"
        } else {
            "encrypt + decrypt"
        };
        group.bench_function(name, |b| {
            b.iter(|| {
                alice_turn = !alice_turn;
                let (sender, receiver) = if alice_turn {
                    (&mut alice, &mut bob)
                } else {
                    (&mut bob, &mut alice)
                };
                black_box(send(sender, receiver, &mut rng));
                if serialise {
                    black_box(alice.encode());
                    black_box(bob.encode());
                }
            })
        });
    }
    with_policy(SpqrPolicy::Off, || {
        let (mut alice, mut bob) = established();
        let mut rng = test_rng(10);
        let mut alice_turn = false;
        group.bench_function("encrypt + decrypt, SPQR off", |b| {
            b.iter(|| {
                alice_turn = !alice_turn;
                let (sender, receiver) = if alice_turn {
                    (&mut alice, &mut bob)
                } else {
                    (&mut bob, &mut alice)
                };
                black_box(send(sender, receiver, &mut rng))
            })
        });
    });
    let mut rng = test_rng(6);
    group.bench_function("floor", |b| {
        b.iter(|| {
            floor.send();
            floor.receive();
            step.ratchet(&mut rng);
        })
    });
    group.finish();
}

fn session_setup(c: &mut Criterion) {
    let bob = Bob::new();
    let alice = alice_identity();
    let floor = FloorInputs::new();
    let step = StepInputs::new();
    let mut group = c.benchmark_group("session (c) setup, PQXDH with one-time prekey");
    group.sample_size(50);

    let mut rng = test_rng(7);
    group.bench_function("initiate + first encrypt + decrypt_prekey", |b| {
        b.iter(|| black_box(set_up(&alice, &bob, &mut rng)))
    });
    with_policy(SpqrPolicy::Off, || {
        group.bench_function("initiate + first encrypt + decrypt_prekey, SPQR off", |b| {
            b.iter(|| black_box(set_up(&alice, &bob, &mut rng)))
        });
    });

    // The floor's inputs: the bundle's signed messages as bytes, Bob's keys, a base key.
    let signed_bytes = bob.signed.public_key().encode();
    let (kem_public, kem_signature) = bob.bundle.prekeys.kem_prekey.clone().unwrap();
    let kem_bytes = kem_public.encode();
    let bob_identity = bob.identity.identity_key();
    let signed_signature = bob.bundle.prekeys.signed_prekey_signature;
    let kem_secret = bob.kem.secret_key().clone();
    let alice_private = alice.private_key().clone();
    let alice_public = *alice.identity_key().public_key();
    let mut rng = test_rng(8);
    let (ciphertext, _) = kem_public.encapsulate(&mut rng);
    let their_base = PrivateKey::generate(&mut rng).public_key();
    let mut ikm = [0xffu8; 192];
    group.bench_function("floor", |b| {
        b.iter(|| {
            // Initiator.
            assert!(bob_identity.verify(black_box(&signed_bytes), &signed_signature));
            assert!(bob_identity.verify(black_box(&kem_bytes), &kem_signature));
            let base = PrivateKey::generate(&mut rng);
            let dh = [
                alice_private.agree(&bob.signed.public_key()).unwrap(),
                base.agree(bob_identity.public_key()).unwrap(),
                base.agree(&bob.signed.public_key()).unwrap(),
                base.agree(&bob.one_time.public_key()).unwrap(),
            ];
            for (i, shared) in dh.iter().enumerate() {
                ikm[32 * (i + 1)..32 * (i + 2)].copy_from_slice(shared.as_bytes());
            }
            let (_, kem_shared) = kem_public.encapsulate(&mut rng);
            ikm[160..].copy_from_slice(kem_shared.as_bytes());
            let mut okm = [0u8; 96];
            hkdf_sha256(
                &[],
                &ikm,
                b"WhisperText_X25519_SHA-256_CRYSTALS-KYBER-1024",
                &mut okm,
            )
            .unwrap();
            let ratchet = PrivateKey::generate(&mut rng);
            let shared = ratchet.agree(&bob.signed.public_key()).unwrap();
            let mut chain = [0u8; 64];
            hkdf_sha256(&okm[..32], shared.as_bytes(), b"WhisperRatchet", &mut chain).unwrap();
            floor.send();

            // Responder.
            let signed = bob.signed.private_key();
            let dh = [
                signed.agree(&alice_public).unwrap(),
                bob.identity.private_key().agree(&their_base).unwrap(),
                signed.agree(&their_base).unwrap(),
                bob.one_time.private_key().agree(&their_base).unwrap(),
            ];
            for (i, shared) in dh.iter().enumerate() {
                ikm[32 * (i + 1)..32 * (i + 2)].copy_from_slice(shared.as_bytes());
            }
            let kem_shared = kem_secret.decapsulate(&ciphertext).unwrap();
            ikm[160..].copy_from_slice(kem_shared.as_bytes());
            hkdf_sha256(
                &[],
                &ikm,
                b"WhisperText_X25519_SHA-256_CRYSTALS-KYBER-1024",
                &mut okm,
            )
            .unwrap();
            step.ratchet(&mut rng);
            floor.receive();
            black_box(okm);
        })
    });
    group.finish();
}

/// Pieces of the operations above, to see where time over the floor goes.
/// The current session and [`hush_ratchet::limits::MAX_ARCHIVED_SESSIONS`] archived
/// ones, all started from Bob's one bundle (so all know his signed prekey as a ratchet
/// key), and that signed prekey.
fn full_record() -> (SessionRecord, hush_core::PublicKey) {
    let bob = Bob::new();
    let alice = alice_identity();
    let mut rng = test_rng(12);
    let mut record = SessionRecord::new();
    for _ in 0..=hush_ratchet::limits::MAX_ARCHIVED_SESSIONS {
        let local = LocalIdentity {
            identity: &alice,
            registration_id: 1,
        };
        record
            .initiate(
                local,
                &bob.bundle,
                AgreementMode::Pqxdh,
                SessionOptions::default(),
                &TrustAll,
                now(),
                &mut rng,
            )
            .unwrap();
    }
    (record, bob.signed.public_key())
}

fn forged_message(c: &mut Criterion) {
    use hush_ratchet::limits::MAX_FORWARD_JUMP;
    use hush_test_support::ratchet::{signal_message_with, spqr_none_payload};

    let (mut record, known) = full_record();
    let unknown = KeyPair::generate(&mut test_rng(99)).public_key();
    // Each carries an SPQR payload naming key `counter + 1` of the peer's first SPQR
    // chain epoch, so every session tried derives SPQR keys too.
    let forged_spqr = |key: &hush_core::PublicKey, counter: u32, spqr_index: u32| {
        let payload = spqr_none_payload(1, spqr_index);
        let bytes = signal_message_with(
            4,
            &key.encode(),
            counter,
            0,
            &[0; 16],
            &payload,
            None,
            [0; 8],
        );
        SignalMessage::decode(&bytes).unwrap()
    };
    let forged = |key: &hush_core::PublicKey, counter: u32| {
        forged_spqr(
            key,
            counter,
            counter.saturating_add(1).min(MAX_FORWARD_JUMP),
        )
    };
    let cases = [
        (
            "ratchet key every session knows, counter 3, SPQR key 25 000",
            forged_spqr(&known, 3, MAX_FORWARD_JUMP),
        ),
        (
            "unknown ratchet key, counter 25 000",
            forged(&unknown, MAX_FORWARD_JUMP),
        ),
        (
            "ratchet key every session knows, counter 25 000",
            forged(&known, MAX_FORWARD_JUMP),
        ),
        ("unknown ratchet key, counter 3", forged(&unknown, 3)),
    ];
    let mut group = c.benchmark_group("session (d) forged message, 41 sessions");
    group.sample_size(10);
    let mut rng = test_rng(0);
    for (name, message) in &cases {
        group.bench_function(*name, |b| {
            b.iter(|| {
                record
                    .decrypt(
                        black_box(message),
                        SessionOptions::default(),
                        &TrustAll,
                        &mut rng,
                    )
                    .unwrap_err()
            })
        });
    }
    group.finish();
}

fn probes(c: &mut Criterion) {
    let (alice, bob) = established();
    let mut group = c.benchmark_group("session probes");
    group.bench_function("SessionRecord::encode (established, Alice)", |b| {
        b.iter(|| black_box(&alice).encode())
    });
    group.bench_function("SessionRecord::encode (established, Bob)", |b| {
        b.iter(|| black_box(&bob).encode())
    });
    let bytes = alice.encode();
    group.bench_function("SessionRecord::decode (established, Alice)", |b| {
        b.iter(|| SessionRecord::decode(black_box(&bytes)).unwrap())
    });
    // A full archive: the current session plus 40 archived (pending) ones.
    let mut full = alice.clone();
    let bob_keys = Bob::new();
    let alice_keys = alice_identity();
    let mut rng = test_rng(12);
    for _ in 0..hush_ratchet::limits::MAX_ARCHIVED_SESSIONS {
        let local = LocalIdentity {
            identity: &alice_keys,
            registration_id: 1,
        };
        full.initiate(
            local,
            &bob_keys.bundle,
            AgreementMode::Pqxdh,
            SessionOptions::default(),
            &TrustAll,
            now(),
            &mut rng,
        )
        .unwrap();
    }
    let full_bytes = full.encode();
    group.bench_function("SessionRecord::encode (41 sessions)", |b| {
        b.iter(|| black_box(&full).encode())
    });
    group.bench_function("SessionRecord::decode (41 sessions)", |b| {
        b.iter(|| SessionRecord::decode(black_box(&full_bytes)).unwrap())
    });
    group.bench_function("SessionRecord::clone (established, Alice)", |b| {
        b.iter(|| black_box(&alice).clone())
    });
    let mut sender = alice.clone();
    let opts = SessionOptions::default();
    let message = sender
        .encrypt(PLAINTEXT, opts, &TrustAll, now(), &mut rng)
        .unwrap();
    group.bench_function("SignalMessage::decode (100 B)", |b| {
        b.iter(|| SignalMessage::decode(black_box(message.encode())).unwrap())
    });
    let mut encrypt_rng = test_rng(11);
    group.bench_function("encrypt 100 B only", |b| {
        b.iter_batched(
            || alice.clone(),
            |mut record| {
                black_box(
                    record
                        .encrypt(PLAINTEXT, opts, &TrustAll, now(), &mut encrypt_rng)
                        .unwrap(),
                )
            },
            BatchSize::SmallInput,
        )
    });
    let mut receiver = bob.clone();
    let mut rng = test_rng(9);
    receiver
        .decrypt(
            &SignalMessage::decode(message.encode()).unwrap(),
            opts,
            &TrustAll,
            &mut rng,
        )
        .unwrap();
    let in_order = sender
        .encrypt(PLAINTEXT, opts, &TrustAll, now(), &mut rng)
        .unwrap();
    let mut decrypt_rng = test_rng(0);
    group.bench_function("decode + decrypt 100 B only", |b| {
        b.iter_batched(
            || receiver.clone(),
            |mut record| {
                let message = SignalMessage::decode(black_box(in_order.encode())).unwrap();
                black_box(
                    record
                        .decrypt(&message, opts, &TrustAll, &mut decrypt_rng)
                        .unwrap(),
                )
            },
            BatchSize::SmallInput,
        )
    });
    let floor = FloorInputs::new();
    group.bench_function("floor (a), sender only", |b| b.iter(|| floor.send()));
    group.bench_function("floor (a), receiver only", |b| b.iter(|| floor.receive()));
    group.bench_function("PrivateKey::generate", |b| {
        b.iter(|| PrivateKey::generate(&mut rng))
    });
    let ours = PrivateKey::generate(&mut rng);
    let theirs = PrivateKey::generate(&mut rng).public_key();
    group.bench_function("PrivateKey::agree (X25519)", |b| {
        b.iter(|| ours.agree(black_box(&theirs)).unwrap())
    });
    group.finish();
}

/// The session record sizes the issue compares with libsignal's: the sender's record
/// after 1 000 alternating messages (one each way in turn, so every message is a DH
/// ratchet step and the braid runs its epochs) and after 1 000 one-way messages. The
/// size swings with where the braid stands, so the range over the last 100 messages is
/// printed too. Not a timing: printed once, at the start of the run.
fn record_sizes(_: &mut Criterion) {
    let (mut alice, mut bob) = established();
    let mut rng = test_rng(20);
    let mut alternating = Vec::new();
    for i in 0..1_000 {
        if i % 2 == 0 {
            send(&mut alice, &mut bob, &mut rng);
            alternating.push(alice.encode().len());
        } else {
            send(&mut bob, &mut alice, &mut rng);
            alternating.push(bob.encode().len());
        }
    }
    let (mut alice, mut bob) = established();
    let mut one_way = Vec::new();
    for _ in 0..1_000 {
        send(&mut alice, &mut bob, &mut rng);
        one_way.push(alice.encode().len());
    }
    let last = |sizes: &[usize]| {
        let tail = &sizes[sizes.len() - 100..];
        (
            *sizes.last().unwrap(),
            *tail.iter().min().unwrap(),
            *tail.iter().max().unwrap(),
        )
    };
    let (a, a_min, a_max) = last(&alternating);
    let (o, o_min, o_max) = last(&one_way);
    println!(
        "record size, sender, after 1 000 alternating messages: {a} bytes \
         (last 100: {a_min}..{a_max}); after 1 000 one-way messages: {o} bytes \
         (last 100: {o_min}..{o_max}); receiver after one-way: {} bytes",
        bob.encode().len()
    );
}

criterion_group!(
    benches,
    record_sizes,
    established_session,
    ratchet_step,
    session_setup,
    forged_message,
    probes
);
criterion_main!(benches);
