//! Decoder robustness: the two message decoders and the session record decoder on real
//! values, every truncation, bit flips, crafted over-limit counts and random bytes.
//! Nothing may panic; whatever decodes re-encodes stably.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] fns: a failed unwrap or index is a failed test"
)]

mod common;

use common::{Conversation, Side, expect_prekey, expect_signal};
use hush_core::KemKeyType;
use hush_ratchet::{
    CiphertextMessage, Error, PreKeySignalMessage, RECORD_FORMAT_VERSION, SessionRecord,
    SignalMessage,
};
use hush_test_support::test_rng;
use hush_x3dh::{AgreementMode, TrustAll};
use proptest::prelude::*;
use rand_core::Rng;

/// Real messages of every kind: first messages in PQXDH (Kyber and ML-KEM, with and
/// without a one-time prekey) and classic X3DH, and session messages of both versions.
fn real_messages() -> Vec<CiphertextMessage> {
    let mut out = Vec::new();
    let variants = [
        (AgreementMode::Pqxdh, KemKeyType::Kyber1024, true),
        (AgreementMode::Pqxdh, KemKeyType::MlKem1024, false),
        (AgreementMode::ClassicX3dh, KemKeyType::Kyber1024, true),
        (AgreementMode::ClassicX3dh, KemKeyType::Kyber1024, false),
    ];
    for (seed, (mode, kem, one_time)) in (30..).zip(variants) {
        let mut c = Conversation::with(seed, mode, kem, one_time);
        let first = c.send(Side::Alice, b"first");
        c.receive(Side::Bob, &first).unwrap();
        out.push(first);
        out.push(c.send(Side::Bob, b""));
        out.push(c.send(Side::Bob, &[9; 1000]));
    }
    out
}

/// A record with everything in it: a current session with several receiving chains and
/// skipped keys, and archived sessions, one of them still pending (with a KEM ciphertext
/// and a one-time prekey id).
fn rich_record() -> SessionRecord {
    let mut c = Conversation::established(40);
    for round in 0..3u8 {
        // Never delivered: Alice keeps its key as skipped.
        let _skipped = c.send(Side::Bob, &[round]);
        c.exchange(Side::Bob, &[round, 1]);
        c.exchange(Side::Alice, &[round, 2]);
    }
    // Two pending sessions (with and without a one-time prekey) ...
    c.alice_initiates(true);
    c.alice_initiates(false);
    // ... archived again when a message on the old, acknowledged session promotes it.
    let _skipped = c.send(Side::Bob, b"skipped");
    let on_old = c.send(Side::Bob, b"old");
    c.receive(Side::Alice, &on_old).unwrap();
    assert_eq!(c.alice_record.archived_sessions(), 2);
    c.alice_record
}

#[test]
fn messages_round_trip_through_their_decoders() {
    for message in real_messages() {
        let bytes = message.encode();
        let again = CiphertextMessage::decode(message.message_type(), bytes).unwrap();
        assert_eq!(again, message);
        assert_eq!(again.encode(), bytes);
        match &message {
            CiphertextMessage::Signal(signal) => {
                let decoded = SignalMessage::decode(bytes).unwrap();
                assert_eq!(decoded.counter(), signal.counter());
                assert_eq!(decoded.ratchet_key(), signal.ratchet_key());
                assert_eq!(decoded.body(), signal.body());
                // Type confusion is refused, not misread.
                assert!(PreKeySignalMessage::decode(bytes).is_err());
            }
            CiphertextMessage::PreKey(prekey) => {
                let decoded = PreKeySignalMessage::decode(bytes).unwrap();
                assert_eq!(decoded.message(), prekey.message());
                assert_eq!(decoded.kem_ciphertext(), prekey.kem_ciphertext());
                assert_eq!(decoded.pre_key_id(), prekey.pre_key_id());
                assert!(SignalMessage::decode(bytes).is_err());
            }
        }
        assert!(CiphertextMessage::decode(4, bytes).is_err());
    }
}

#[test]
fn every_prefix_of_a_message_is_an_error() {
    for message in real_messages() {
        let bytes = message.encode();
        for len in 0..bytes.len() {
            assert!(
                CiphertextMessage::decode(message.message_type(), &bytes[..len]).is_err(),
                "type {} prefix of {len}/{} bytes decoded",
                message.message_type(),
                bytes.len()
            );
        }
    }
}

#[test]
fn bit_flipped_messages_never_panic_and_what_decodes_round_trips() {
    let mut rng = test_rng(41);
    for message in real_messages() {
        let bytes = message.encode();
        for _ in 0..500 {
            let mut flipped = bytes.to_vec();
            let at = usize::try_from(rng.next_u32()).unwrap() % flipped.len();
            flipped[at] ^= 1 << (rng.next_u32() % 8);
            if let Ok(decoded) = CiphertextMessage::decode(message.message_type(), &flipped) {
                assert_eq!(
                    CiphertextMessage::decode(message.message_type(), decoded.encode()).unwrap(),
                    decoded
                );
            }
        }
    }
}

#[test]
fn every_prefix_of_a_record_is_an_error() {
    let record = rich_record();
    let bytes = record.encode();
    assert!(
        bytes.len() > 3_000,
        "the record should hold KEM ciphertexts: {} bytes",
        bytes.len()
    );
    for len in 0..bytes.len() {
        assert!(
            matches!(
                SessionRecord::decode(&bytes[..len]),
                Err(Error::InvalidRecord(_))
            ),
            "prefix of {len} bytes"
        );
    }
    let mut extended = bytes.to_vec();
    extended.push(0);
    assert_eq!(
        SessionRecord::decode(&extended).unwrap_err(),
        Error::InvalidRecord("trailing bytes")
    );
    assert_eq!(SessionRecord::decode(&bytes).unwrap().encode(), bytes);
}

/// Random bit flips and byte overwrites in a real record: no panic; a record that still
/// decodes encodes to bytes that decode to the same bytes again (a flipped private key
/// may be re-clamped once, so the first re-encoding can differ from the input).
#[test]
fn damaged_records_never_panic_and_what_decodes_is_stable() {
    let bytes = rich_record().encode();
    let mut rng = test_rng(42);
    let mut decoded = 0;
    for round in 0..4_000 {
        let mut damaged = bytes.to_vec();
        for _ in 0..1 + round % 3 {
            let at = usize::try_from(rng.next_u32()).unwrap() % damaged.len();
            if round % 2 == 0 {
                damaged[at] ^= 1 << (rng.next_u32() % 8);
            } else {
                damaged[at] = u8::try_from(rng.next_u32() & 0xff).unwrap();
            }
        }
        if let Ok(record) = SessionRecord::decode(&damaged) {
            decoded += 1;
            let once = record.encode();
            let twice = SessionRecord::decode(&once).unwrap().encode();
            assert_eq!(once, twice);
        }
    }
    // Most single-byte damage lands in key material and still decodes: the round trip
    // above really ran.
    assert!(decoded > 1_000, "{decoded}");
}

/// Counts over their limits and unknown flags or versions are refused before anything
/// is allocated for them. The offsets follow the record layout in `record.rs`: format
/// version, current-session flag, then the session (version 1, two registration ids 8,
/// three public keys 99, root key 32, previous counter 4, sender ratchet private key 32
/// and public key 33, sender chain key 32 and index 4: 245 bytes) and its receiver chain
/// count.
#[test]
fn crafted_records_over_the_limits_are_refused() {
    let invalid = |bytes: &[u8]| match SessionRecord::decode(bytes) {
        Err(Error::InvalidRecord(why)) => why,
        other => panic!("expected InvalidRecord, got {other:?}"),
    };
    assert_eq!(RECORD_FORMAT_VERSION, 1);
    let empty = SessionRecord::decode(&[1, 0, 0]).unwrap();
    assert!(!empty.has_current_session());
    assert_eq!(*empty.encode(), [1, 0, 0]);
    assert_eq!(invalid(&[2, 0, 0]), "unknown format version");
    assert_eq!(invalid(&[1, 2, 0]), "bad flag");
    assert_eq!(invalid(&[1, 0, 41]), "too many archived sessions");
    assert_eq!(invalid(&[1, 0, 40]), "truncated");
    assert_eq!(invalid(&[]), "truncated");

    let c = Conversation::established(43);
    let bytes = c.bob_record.encode();
    const CHAINS: usize = 2 + 245;
    assert_eq!(bytes[CHAINS], 1, "Bob has one receiving chain");
    let mut six = bytes.to_vec();
    six[CHAINS] = 6;
    assert_eq!(invalid(&six), "too many receiver chains");
    // The first chain's skipped-key count: after ratchet key 33, chain key 32, index 4.
    let skipped = CHAINS + 1 + 33 + 32 + 4;
    assert_eq!(bytes[skipped..skipped + 2], [0, 0]);
    let mut over = bytes.to_vec();
    over[skipped..skipped + 2].copy_from_slice(&2_001u16.to_be_bytes());
    assert_eq!(invalid(&over), "too many skipped keys");
    let mut more_than_present = bytes.to_vec();
    more_than_present[skipped..skipped + 2].copy_from_slice(&100u16.to_be_bytes());
    assert_eq!(invalid(&more_than_present), "too many skipped keys");
    let mut session_version = bytes.to_vec();
    session_version[2] = 5;
    assert_eq!(invalid(&session_version), "bad session version");
    let mut too_large = vec![1, 0, 0];
    too_large.resize(hush_ratchet::limits::MAX_RECORD_SIZE + 1, 0);
    assert_eq!(invalid(&too_large), "too large");
}

/// A record decoded from bytes behaves like the original: both continue the
/// conversation identically (same ciphertexts).
#[test]
fn a_decoded_record_continues_like_the_original() {
    let c = Conversation::established(44);
    let mut original = c.alice_record.clone();
    let mut decoded = SessionRecord::decode(&original.encode()).unwrap();
    for plaintext in [&b"one"[..], b"two", b""] {
        let a = original.encrypt(plaintext, &TrustAll, c.now).unwrap();
        let b = decoded.encrypt(plaintext, &TrustAll, c.now).unwrap();
        assert_eq!(a, b);
        assert_eq!(expect_signal(&a).counter(), expect_signal(&b).counter());
    }
    let fresh = Conversation::new(45);
    let mut original = fresh.alice_record.clone();
    let mut decoded = SessionRecord::decode(&original.encode()).unwrap();
    let a = original.encrypt(b"first", &TrustAll, fresh.now).unwrap();
    let b = decoded.encrypt(b"first", &TrustAll, fresh.now).unwrap();
    assert_eq!(expect_prekey(&a), expect_prekey(&b));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    /// Arbitrary bytes, with a plausible version byte in front half the time: the
    /// message decoders never panic, and what decodes re-decodes to the same value.
    #[test]
    fn message_decoders_take_any_bytes(mut bytes in prop::collection::vec(any::<u8>(), 0..300), versioned: bool) {
        if versioned && !bytes.is_empty() {
            bytes[0] = 0x44;
        }
        if let Ok(message) = SignalMessage::decode(&bytes) {
            prop_assert_eq!(SignalMessage::decode(message.encode()).unwrap(), message);
        }
        if let Ok(message) = PreKeySignalMessage::decode(&bytes) {
            prop_assert_eq!(PreKeySignalMessage::decode(message.encode()).unwrap(), message);
        }
    }

    /// Arbitrary bytes after a valid format version: the record decoder never panics.
    #[test]
    fn record_decoder_takes_any_bytes(mut bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if !bytes.is_empty() {
            bytes[0] = RECORD_FORMAT_VERSION;
        }
        if let Ok(record) = SessionRecord::decode(&bytes) {
            let once = record.encode();
            prop_assert_eq!(SessionRecord::decode(&once).unwrap().encode(), once);
        }
    }
}
