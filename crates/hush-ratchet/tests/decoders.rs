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

use common::{Conversation, Side, expect_prekey, expect_signal, signal_of};
use hush_core::KemKeyType;
use hush_ratchet::{
    CiphertextMessage, Error, PreKeySignalMessage, RECORD_FORMAT_VERSION, SessionRecord,
    SignalMessage,
};
use hush_ratchet::{SessionOptions, SpqrPolicy};
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
            // The one prefix that decodes: a `SignalMessage` cut 8 bytes after its last
            // field before the SPQR payload (those 8 bytes read as the MAC). It has lost
            // the payload, and its MAC cannot verify.
            match CiphertextMessage::decode(message.message_type(), &bytes[..len]) {
                Err(_) => {}
                Ok(CiphertextMessage::Signal(prefix)) => {
                    let original = signal_of(&message);
                    assert!(!original.pq_ratchet().is_empty() && prefix.pq_ratchet().is_empty());
                    assert_eq!(prefix.body(), original.body());
                }
                Ok(_) => panic!(
                    "type {} prefix of {len}/{} bytes decoded",
                    message.message_type(),
                    bytes.len()
                ),
            }
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
    assert_eq!(RECORD_FORMAT_VERSION, 2);
    let empty = SessionRecord::decode(&[2, 0, 0]).unwrap();
    assert!(!empty.has_current_session());
    assert_eq!(*empty.encode(), [2, 0, 0]);
    // Format 1 still decodes, and is written back as format 2.
    assert_eq!(
        *SessionRecord::decode(&[1, 0, 0]).unwrap().encode(),
        [2, 0, 0]
    );
    assert_eq!(invalid(&[0, 0, 0]), "unknown format version");
    assert_eq!(invalid(&[3, 0, 0]), "unknown format version");
    assert_eq!(invalid(&[2, 2, 0]), "bad flag");
    assert_eq!(invalid(&[2, 0, 41]), "too many archived sessions");
    assert_eq!(invalid(&[2, 0, 40]), "truncated");
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
    let mut too_large = vec![2, 0, 0];
    too_large.resize(hush_ratchet::limits::MAX_RECORD_SIZE + 1, 0);
    assert_eq!(invalid(&too_large), "too large");

    // The SPQR state closes the session: its length (u32), then the state. Bob's
    // record has one session and no archive, so the state ends one byte before the end
    // (the archived count).
    let spqr_len = spqr_state_len(&bytes);
    let spqr_at = bytes.len() - 1 - spqr_len;
    let len_u32 = u32::try_from(spqr_len).unwrap();
    let mut huge = bytes.to_vec();
    huge[spqr_at - 4..spqr_at].copy_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(invalid(&huge), "SPQR state too large");
    let mut longer = bytes.to_vec();
    longer[spqr_at - 4..spqr_at].copy_from_slice(&(len_u32 + 2).to_be_bytes());
    assert_eq!(invalid(&longer), "truncated");
    let mut shorter = bytes.to_vec();
    shorter[spqr_at - 4..spqr_at].copy_from_slice(&(len_u32 - 1).to_be_bytes());
    assert_eq!(invalid(&shorter), "bad SPQR state");
    let mut damaged = bytes.to_vec();
    damaged[spqr_at] ^= 0xff;
    assert_eq!(invalid(&damaged), "bad SPQR state");
}

/// The length of the SPQR state of a record holding one session and no archive, read
/// from the layout: the u32 before it says how long it is, and it is followed by the
/// archived count; search for the length that fits.
fn spqr_state_len(record: &[u8]) -> usize {
    (1..record.len() - 5)
        .find(|&len| {
            let at = record.len() - 1 - len;
            u32::from_be_bytes(record[at - 4..at].try_into().unwrap()) as usize == len
        })
        .expect("a length prefix")
}

/// A record of the format before SPQR (1) decodes, as sessions without SPQR: it is the
/// format-2 record of a session without SPQR with the format byte set to 1 and the SPQR
/// state (length and bytes) taken out. Under the policy that allows sessions without SPQR
/// it keeps working both ways; under the default policy encrypting on it is refused with
/// `SpqrRequired`, and nothing changes.
#[test]
fn format_one_records_decode_as_sessions_without_spqr() {
    let options = SessionOptions::new(SpqrPolicy::Off);
    let mut c = Conversation::established_with(45, options);
    let to_format_one = |record: &SessionRecord| {
        let bytes = record.encode();
        let len = spqr_state_len(&bytes);
        let mut old = bytes[..bytes.len() - 1 - len - 4].to_vec();
        old.push(*bytes.last().unwrap());
        old[0] = 1;
        old
    };
    let alice_old = to_format_one(&c.alice_record);
    let bob_old = to_format_one(&c.bob_record);
    c.alice_record = SessionRecord::decode(&alice_old).unwrap();
    c.bob_record = SessionRecord::decode(&bob_old).unwrap();
    assert_eq!(c.alice_record.current_runs_spqr(), Some(false));
    // Written back as format 2, the same record.
    assert_eq!(to_format_one(&c.alice_record), alice_old);

    // The default policy refuses to use it: start a new session instead.
    let before = c.alice_record.encode();
    let refused = c
        .alice_record
        .encrypt(
            b"x",
            SessionOptions::default(),
            &TrustAll,
            c.now,
            &mut c.rng,
        )
        .unwrap_err();
    assert_eq!(refused, Error::SpqrRequired);
    assert_eq!(c.alice_record.encode(), before);

    // The policy that allows sessions without SPQR keeps it working.
    c.options = SessionOptions::new(SpqrPolicy::Allowed);
    c.exchange(Side::Alice, b"after the upgrade");
    c.exchange(Side::Bob, b"still talking");
    let message = c.send(Side::Alice, b"no payload");
    assert!(signal_of(&message).pq_ratchet().is_empty());
    // A message of it is refused under the default policy, record unchanged.
    c.options = SessionOptions::default();
    assert_eq!(c.rejects(Side::Bob, &message), Error::SpqrRequired);
}

/// A record decoded from bytes behaves like the original: both continue the
/// conversation identically (same ciphertexts).
#[test]
fn a_decoded_record_continues_like_the_original() {
    let c = Conversation::established(44);
    let mut original = c.alice_record.clone();
    let mut decoded = SessionRecord::decode(&original.encode()).unwrap();
    for plaintext in [&b"one"[..], b"two", b""] {
        let a = original
            .encrypt(
                plaintext,
                SessionOptions::default(),
                &TrustAll,
                c.now,
                &mut test_rng(5),
            )
            .unwrap();
        let b = decoded
            .encrypt(
                plaintext,
                SessionOptions::default(),
                &TrustAll,
                c.now,
                &mut test_rng(5),
            )
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(expect_signal(&a).counter(), expect_signal(&b).counter());
    }
    let fresh = Conversation::new(45);
    let mut original = fresh.alice_record.clone();
    let mut decoded = SessionRecord::decode(&original.encode()).unwrap();
    let a = original
        .encrypt(
            b"first",
            SessionOptions::default(),
            &TrustAll,
            fresh.now,
            &mut test_rng(6),
        )
        .unwrap();
    let b = decoded
        .encrypt(
            b"first",
            SessionOptions::default(),
            &TrustAll,
            fresh.now,
            &mut test_rng(6),
        )
        .unwrap();
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
