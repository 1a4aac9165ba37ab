//! Every way a message can be rejected, and for each one that the receiver's record is
//! byte-identical afterwards (compute-then-commit), that the error names the right
//! class, and that the genuine message still decrypts once the forgeries are gone.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] fns: a failed unwrap or index is a failed test"
)]

mod common;

use common::{
    Conversation, DAY, KEM_ID, ONE_TIME_ID, SIGNED_ID, Side, expect_prekey, expect_signal,
    signal_of,
};
use hush_core::{IdentityKey, KemKeyPair, KemKeyType, KemSecretKey, KeyPair};
use hush_ratchet::limits::MAX_FORWARD_JUMP;
use hush_ratchet::{
    CiphertextMessage, Error, MAC_LENGTH, PreKeySignalMessage, SessionRecord, SignalMessage,
};
use hush_ratchet::{SessionOptions, SpqrPolicy};
use hush_test_support::test_rng;
use hush_x3dh::{AgreementMode, ResponderPreKeys, Trust, TrustAll};
use rand_core::Rng;

/// Where `needle` sits in `haystack` (it must occur exactly once).
fn find(haystack: &[u8], needle: &[u8]) -> std::ops::Range<usize> {
    let starts: Vec<usize> = haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(starts.len(), 1, "expected exactly one occurrence");
    starts[0]..starts[0] + needle.len()
}

fn flipped(bytes: &[u8], position: usize, bit: u8) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[position] ^= 1 << bit;
    out
}

// ---------------------------------------------------------------------------------------
// Bad MAC / corrupted messages
// ---------------------------------------------------------------------------------------

/// One bit flipped anywhere in a `SignalMessage` (version byte, protobuf fields, body or
/// MAC) is rejected: the MAC covers every byte. Flips inside the AES body and the MAC keep
/// the structure intact, so those must fail as `DecryptionFailed` (no oracle); elsewhere
/// the decoder may already refuse. Checked both for a message that opens a new receiving
/// chain and for one on an existing chain.
#[test]
fn a_bit_flip_anywhere_in_a_signal_message_is_rejected_without_changing_the_record() {
    for existing_chain in [false, true] {
        let mut c = Conversation::established(1);
        if existing_chain {
            c.exchange(Side::Alice, b"opens the chain");
        }
        let message = c.send(Side::Alice, &[0x5a; 100]);
        let signal = expect_signal(&message);
        let bytes = message.encode().to_vec();
        let body = find(&bytes, signal.body());
        let mac = bytes.len() - MAC_LENGTH..bytes.len();
        let mut decryption_failures = 0;
        for position in 0..bytes.len() {
            for bit in [0, 4, 7] {
                let error = c.rejects_bytes(Side::Bob, 2, &flipped(&bytes, position, bit));
                if body.contains(&position) || mac.contains(&position) {
                    assert_eq!(error, Error::DecryptionFailed, "byte {position} bit {bit}");
                }
                if error == Error::DecryptionFailed {
                    decryption_failures += 1;
                }
            }
        }
        // Not everything is caught by the decoder: most flips reach the MAC check.
        assert!(decryption_failures > (body.len() + MAC_LENGTH) * 3);
        assert_eq!(
            c.receive(Side::Bob, &message).unwrap().as_slice(),
            &[0x5a; 100]
        );
    }
}

/// Receives a possibly corrupted first message the way an app would: the prekeys are
/// looked up by the ids it names (here: Bob's only keys, whatever the ids say).
fn receive_first_message(c: &mut Conversation, bytes: &[u8]) -> Result<Vec<u8>, Error> {
    let message = PreKeySignalMessage::decode(bytes)?;
    let keys = ResponderPreKeys {
        signed_prekey: &c.bob.signed,
        one_time_prekey: message.pre_key_id().map(|_| &c.bob.one_time),
        kem_prekey: Some(c.bob.kem.secret_key()),
    };
    c.bob_record
        .decrypt_prekey(
            &message,
            c.bob.local(),
            Some(keys),
            c.mode,
            SessionOptions::default(),
            &TrustAll,
            &mut c.rng,
        )
        .map(|done| done.plaintext.to_vec())
}

/// Bit flips in a `PreKeySignalMessage`. Flips in what the key agreement and the MAC
/// cover (base key, identity key, KEM ciphertext, inner message) are rejected and leave
/// Bob's record unchanged, both when the message would start a new session and when it
/// is a retransmission for a session Bob has (then the KEM ciphertext is not used: the
/// session is found by base key and identity, so only those and the inner message
/// count). Flips elsewhere touch fields nothing
/// authenticates (registration id, prekey ids, protobuf framing): those are either
/// rejected with the record unchanged or decrypt to the genuine plaintext.
#[test]
fn bit_flips_in_a_prekey_message_are_rejected_without_changing_the_record() {
    for retransmission in [false, true] {
        let mut c = Conversation::new(2);
        let first = c.send(Side::Alice, b"first message");
        let message = c.send(Side::Alice, b"second first message");
        if retransmission {
            assert_eq!(
                c.receive(Side::Bob, &first).unwrap().as_slice(),
                b"first message"
            );
        }
        let prekey = expect_prekey(&message);
        let bytes = message.encode().to_vec();
        let covered = [
            find(&bytes, &prekey.base_key().encode()),
            find(&bytes, &prekey.identity_key().encode()),
            find(&bytes, &prekey.kem_ciphertext().unwrap().encode()),
            find(&bytes, prekey.message().encode()),
        ];
        let saved = c.bob_record.clone();
        let mut tried = 0;
        for position in 0..bytes.len() {
            let in_kem = covered[2].contains(&position);
            // The KEM ciphertext is 1569 bytes; a sample of it is enough.
            if in_kem && position % 17 != 0 && position != covered[2].start {
                continue;
            }
            let is_covered = covered
                .iter()
                .enumerate()
                .any(|(i, range)| range.contains(&position) && !(retransmission && i == 2));
            let corrupted = flipped(&bytes, position, u8::try_from(position % 8).unwrap());
            let before = c.bob_record.encode();
            let result = receive_first_message(&mut c, &corrupted);
            tried += 1;
            match result {
                Err(_) => assert_eq!(
                    c.bob_record.encode(),
                    before,
                    "byte {position}: record changed"
                ),
                Ok(plaintext) => {
                    assert!(
                        !is_covered,
                        "byte {position} (retransmission: {retransmission}): a flip in an authenticated field was accepted"
                    );
                    assert_eq!(plaintext, b"second first message");
                    c.bob_record = saved.clone();
                }
            }
        }
        assert!(tried > 200);
        assert_eq!(
            receive_first_message(&mut c, &bytes).unwrap(),
            b"second first message"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Replays
// ---------------------------------------------------------------------------------------

/// A message delivered twice is `DuplicateMessage` the second time, whether its key was
/// the chain's next one, a skipped one, or sits on an older receiving chain; a
/// retransmitted first message that was already decrypted is a duplicate too.
#[test]
fn replays_are_duplicates_and_change_nothing() {
    let mut c = Conversation::new(3);
    let first = c.send(Side::Alice, b"first");
    c.receive(Side::Bob, &first).unwrap();
    assert_eq!(
        c.rejects(Side::Bob, &first),
        Error::DuplicateMessage { counter: 0 }
    );

    c.exchange(Side::Bob, b"answer");
    let m1 = c.send(Side::Alice, b"one");
    let m2 = c.send(Side::Alice, b"two");
    let m3 = c.send(Side::Alice, b"three");
    // In order: the chain's next key.
    c.receive(Side::Bob, &m1).unwrap();
    assert_eq!(
        c.rejects(Side::Bob, &m1),
        Error::DuplicateMessage { counter: 0 }
    );
    // Out of order: m3 first leaves m2's key skipped; using it removes it.
    c.receive(Side::Bob, &m3).unwrap();
    assert_eq!(
        c.rejects(Side::Bob, &m3),
        Error::DuplicateMessage { counter: 2 }
    );
    c.receive(Side::Bob, &m2).unwrap();
    assert_eq!(
        c.rejects(Side::Bob, &m2),
        Error::DuplicateMessage { counter: 1 }
    );

    // After a ratchet step the old chain is no longer the newest; replays still say
    // duplicate.
    c.exchange(Side::Bob, b"step");
    c.exchange(Side::Alice, b"new chain");
    for (message, counter) in [(&m1, 0), (&m2, 1), (&m3, 2)] {
        assert_eq!(
            c.rejects(Side::Bob, message),
            Error::DuplicateMessage { counter }
        );
    }
    assert_eq!(
        c.rejects(Side::Bob, &first),
        Error::DuplicateMessage { counter: 0 }
    );
}

// ---------------------------------------------------------------------------------------
// Too far ahead
// ---------------------------------------------------------------------------------------

/// Encrypts `count` messages from `from`, keeping only those whose counter is in `keep`.
fn send_many(c: &mut Conversation, from: Side, count: u32, keep: &[u32]) -> Vec<CiphertextMessage> {
    let mut kept = Vec::new();
    for _ in 0..count {
        let message = c.send(from, b"far");
        if keep.contains(&signal_of(&message).counter()) {
            kept.push(message);
        }
    }
    assert_eq!(kept.len(), keep.len());
    kept
}

/// On a chain Bob already has (at index 1), a counter 25 001 ahead is `TooFarAhead` and
/// changes nothing; 25 000 ahead decrypts. (SPQR off: its own chain's limit is tested
/// below.)
#[test]
fn a_jump_over_the_limit_on_an_existing_chain_is_too_far_ahead() {
    let mut c = Conversation::established_with(4, SessionOptions::new(SpqrPolicy::Off));
    c.exchange(Side::Alice, b"chain index 0");
    let limit = MAX_FORWARD_JUMP;
    assert_eq!(limit, 25_000);
    // Bob's chain now stands at index 1.
    let kept = send_many(&mut c, Side::Alice, limit + 2, &[limit + 1, limit + 2]);
    let (at_limit, over) = (&kept[0], &kept[1]);
    assert_eq!(
        c.rejects(Side::Bob, over),
        Error::TooFarAhead { jump: limit + 1 }
    );
    assert_eq!(c.receive(Side::Bob, at_limit).unwrap().as_slice(), b"far");
    // From the new position the same message is one step ahead.
    assert_eq!(c.receive(Side::Bob, over).unwrap().as_slice(), b"far");
}

/// The first message Alice sees on a new chain of Bob's: counter 25 001 is `TooFarAhead`
/// (rejected before any ratchet step is committed), 25 000 decrypts.
#[test]
fn a_jump_over_the_limit_on_a_new_chain_is_too_far_ahead() {
    let mut c = Conversation::established_with(5, SessionOptions::new(SpqrPolicy::Off));
    // Bob's answer was on his first chain; Alice's reply makes him step again.
    c.exchange(Side::Alice, b"make Bob step");
    let limit = MAX_FORWARD_JUMP;
    let kept = send_many(&mut c, Side::Bob, limit + 2, &[limit, limit + 1]);
    let (at_limit, over) = (&kept[0], &kept[1]);
    assert_eq!(
        c.rejects(Side::Alice, over),
        Error::TooFarAhead { jump: limit + 1 }
    );
    assert_eq!(c.receive(Side::Alice, at_limit).unwrap().as_slice(), b"far");
    assert_eq!(c.receive(Side::Alice, over).unwrap().as_slice(), b"far");
}

/// With SPQR on, the SPQR chain has its own limit, libsignal's: a message whose SPQR key
/// is more than 25 000 past the last one its receiver derived is refused. Its keys are
/// numbered across the Double Ratchet's chains and start at 1, so in one chain the
/// combined limit is a Double Ratchet jump of 24 999 — what libsignal v0.101 accepts too.
/// The refused message changes nothing and the one at the limit decrypts.
#[test]
fn a_jump_over_the_spqr_limit_is_too_far_ahead() {
    let mut c = Conversation::established(6);
    c.exchange(Side::Alice, b"chain index 0");
    let limit = MAX_FORWARD_JUMP;
    // Bob's Double Ratchet chain stands at index 1, his SPQR chain at key 2.
    let kept = send_many(&mut c, Side::Alice, limit + 1, &[limit, limit + 1]);
    let (at_limit, over) = (&kept[0], &kept[1]);
    assert_eq!(
        c.rejects(Side::Bob, over),
        Error::TooFarAhead { jump: limit + 1 }
    );
    assert_eq!(c.receive(Side::Bob, at_limit).unwrap().as_slice(), b"far");
    assert_eq!(c.receive(Side::Bob, over).unwrap().as_slice(), b"far");
}

// ---------------------------------------------------------------------------------------
// The ends of a chain (issue 16, item 18)
// ---------------------------------------------------------------------------------------

/// A chain's index never wraps: a sending chain at 2^32 - 1 refuses to encrypt
/// (`ChainExhausted`, record unchanged), and a message numbered 2^32 - 1 is refused the
/// same way by its receiver, as `hush-group` refuses its last iteration. The index before
/// it still works both ways, and the peer's next message (a DH ratchet step) gives the
/// sender a fresh chain.
#[test]
fn a_chain_at_its_last_index_is_exhausted_instead_of_wrapping() {
    use hush_test_support::ratchet::{
        signal_message_with, spqr_none_payload, with_receiver_chain_index, with_sender_chain_index,
    };
    let mut c = Conversation::established(40);
    c.exchange(Side::Alice, b"a new chain of Alice's");
    let message = c.send(Side::Alice, b"both sides at one index");
    let ratchet_key = signal_of(&message).ratchet_key().encode();
    c.receive(Side::Bob, &message).unwrap();

    // Alice's sending chain and Bob's receiving chain hold the same key at the same
    // index; move both to 2^32 - 2 (the keys stay, so the two still agree).
    let last = u32::MAX;
    c.alice_record = SessionRecord::decode(
        &with_sender_chain_index(&c.record_bytes(Side::Alice), last - 1).unwrap(),
    )
    .unwrap();
    c.bob_record = SessionRecord::decode(
        &with_receiver_chain_index(&c.record_bytes(Side::Bob), &ratchet_key, last - 1).unwrap(),
    )
    .unwrap();

    // 2^32 - 2 is the last counter a message can carry.
    let second_last = c.send(Side::Alice, b"the last one");
    assert_eq!(signal_of(&second_last).counter(), last - 1);
    assert_eq!(
        c.receive(Side::Bob, &second_last).unwrap().as_slice(),
        b"the last one"
    );

    // Alice's chain now stands at 2^32 - 1: no message there, and nothing changes.
    let before = c.record_bytes(Side::Alice);
    let refused = c
        .alice_record
        .encrypt(
            b"one too many",
            SessionOptions::default(),
            &TrustAll,
            c.now,
            &mut c.rng,
        )
        .unwrap_err();
    assert_eq!(refused, Error::ChainExhausted);
    assert_eq!(c.record_bytes(Side::Alice), before);

    // Bob's chain stands there too: a message numbered 2^32 - 1 (a forgery: no genuine
    // sender can make one) is refused before any MAC is computed, record unchanged.
    let payload = spqr_none_payload(1, 1_000);
    let forged = signal_message_with(4, &ratchet_key, last, 0, &[0; 16], &payload, None, [0; 8]);
    assert_eq!(
        c.rejects_bytes(Side::Bob, 2, &forged),
        Error::ChainExhausted
    );

    // Bob's answer makes Alice take a DH ratchet step: a new sending chain at 0.
    c.exchange(Side::Bob, b"here is a new ratchet key");
    let fresh = c.send(Side::Alice, b"from a new chain");
    assert_eq!(signal_of(&fresh).counter(), 0);
    assert_eq!(
        c.receive(Side::Bob, &fresh).unwrap().as_slice(),
        b"from a new chain"
    );
}

// ---------------------------------------------------------------------------------------
// Versions, garbage, truncation
// ---------------------------------------------------------------------------------------

/// Every message version other than 3 and 4 in the high nibble is refused by the
/// decoder with the version named; a version-3 `SignalMessage` in a version-4 session
/// fails to decrypt; a first message whose outer and inner versions differ is malformed.
#[test]
fn unknown_and_legacy_versions_are_refused() {
    let mut c = Conversation::new(6);
    let first = c.send(Side::Alice, b"first");
    for version in 0u8..16 {
        let expected = match version {
            0..=2 => Error::LegacyVersion(version),
            3 | 4 => continue,
            _ => Error::UnknownVersion(version),
        };
        let mut bytes = first.encode().to_vec();
        bytes[0] = (version << 4) | (bytes[0] & 0x0f);
        assert_eq!(
            c.rejects_bytes(Side::Bob, 3, &bytes),
            expected,
            "prekey message, version {version}"
        );
    }
    let mut outer_three = first.encode().to_vec();
    outer_three[0] = 0x34;
    assert!(matches!(
        c.rejects_bytes(Side::Bob, 3, &outer_three),
        Error::Malformed(_)
    ));

    c.receive(Side::Bob, &first).unwrap();
    c.exchange(Side::Bob, b"answer");
    let message = c.send(Side::Alice, b"second");
    assert_eq!(message.encode()[0], 0x44);
    for version in 0u8..16 {
        let expected = match version {
            0..=2 => Error::LegacyVersion(version),
            3 => Error::DecryptionFailed,
            4 => continue,
            _ => Error::UnknownVersion(version),
        };
        let mut bytes = message.encode().to_vec();
        bytes[0] = (version << 4) | (bytes[0] & 0x0f);
        assert_eq!(
            c.rejects_bytes(Side::Bob, 2, &bytes),
            expected,
            "signal message, version {version}"
        );
    }
    assert_eq!(
        c.receive(Side::Bob, &message).unwrap().as_slice(),
        b"second"
    );
}

/// Every strict prefix of a genuine message of either kind is refused by the decoder (a
/// decode error, not a panic), and the record does not change.
#[test]
fn every_truncation_is_a_decode_error() {
    let mut c = Conversation::new(7);
    let first = c.send(Side::Alice, b"first");
    for len in 0..first.encode().len() {
        let prefix = &first.encode()[..len];
        assert!(
            PreKeySignalMessage::decode(prefix).is_err(),
            "prefix of {len} bytes decoded"
        );
        c.rejects_bytes(Side::Bob, 3, prefix);
    }
    c.receive(Side::Bob, &first).unwrap();
    c.exchange(Side::Bob, b"answer");
    let message = c.send(Side::Alice, &[7; 100]);
    for len in 0..message.encode().len() {
        // A prefix that ends where a field of the protobuf ends (before the SPQR payload,
        // 8 bytes on) still decodes, its last 8 bytes taken for the MAC, and fails the MAC
        // check; every other prefix fails to decode. Either way the record is unchanged.
        let prefix = &message.encode()[..len];
        c.rejects_bytes(Side::Bob, 2, prefix);
    }
    assert_eq!(
        c.receive(Side::Bob, &message).unwrap().as_slice(),
        &[7; 100]
    );
}

/// Random bytes, with and without a plausible version byte, of many lengths, as either
/// message type, are refused and change nothing. So are trailing bytes after a genuine
/// message (the MAC no longer sits at the end).
#[test]
fn garbage_is_refused() {
    let mut c = Conversation::established(8);
    let mut rng = test_rng(80);
    for round in 0..400usize {
        let len = round % 200;
        let mut bytes = vec![0u8; len];
        rng.fill_bytes(&mut bytes);
        if round % 2 == 0 && len > 0 {
            bytes[0] = 0x44;
        }
        let message_type = if round % 3 == 0 { 3 } else { 2 };
        c.rejects_bytes(Side::Bob, message_type, &bytes);
    }
    assert!(matches!(
        c.rejects_bytes(Side::Bob, 1, &[0x44; 64]),
        Error::Malformed(_)
    ));
    let message = c.send(Side::Alice, b"genuine");
    let mut extended = message.encode().to_vec();
    extended.push(0);
    c.rejects_bytes(Side::Bob, 2, &extended);
    assert_eq!(
        c.receive(Side::Bob, &message).unwrap().as_slice(),
        b"genuine"
    );
}

// ---------------------------------------------------------------------------------------
// No session, wrong session, wrong or missing prekeys
// ---------------------------------------------------------------------------------------

/// A `SignalMessage` for a record with no session at all is `NoSession`; for a record
/// whose sessions are with someone else it does not decrypt. Neither record changes.
#[test]
fn a_signal_message_without_its_session_is_refused() {
    let mut c = Conversation::established(9);
    let message = c.send(Side::Alice, b"for Bob");

    let mut empty = SessionRecord::new();
    let before = empty.encode();
    let signal = expect_signal(&message);
    assert_eq!(
        empty.decrypt(
            signal,
            SessionOptions::default(),
            &TrustAll,
            &mut test_rng(1)
        ),
        Err(Error::NoSession)
    );
    assert_eq!(empty.encode(), before);

    let mut other = Conversation::established(10);
    other.exchange(Side::Alice, b"Bob has several chains");
    assert_eq!(other.rejects(Side::Bob, &message), Error::DecryptionFailed);
    // A first message meant for the first Bob, delivered to the other one (same prekey
    // ids, different keys), does not decrypt either.
    let mut fresh = Conversation::new(11);
    let first = fresh.send(Side::Alice, b"first");
    assert_eq!(other.rejects(Side::Bob, &first), Error::DecryptionFailed);

    assert_eq!(
        c.receive(Side::Bob, &message).unwrap().as_slice(),
        b"for Bob"
    );
}

fn keys<'a>(
    signed_prekey: &'a KeyPair,
    one_time_prekey: Option<&'a KeyPair>,
    kem_prekey: Option<&'a KemSecretKey>,
) -> ResponderPreKeys<'a> {
    ResponderPreKeys {
        signed_prekey,
        one_time_prekey,
        kem_prekey,
    }
}

/// Decrypts `message` as Bob with `keys`, checks that Bob's record did not change, and
/// returns the error.
fn refused_with_keys(
    c: &mut Conversation,
    message: &PreKeySignalMessage,
    keys: Option<ResponderPreKeys<'_>>,
) -> Error {
    let before = c.bob_record.encode();
    let result = c.bob_record.decrypt_prekey(
        message,
        c.bob.local(),
        keys,
        c.mode,
        SessionOptions::default(),
        &TrustAll,
        &mut c.rng,
    );
    assert_eq!(c.bob_record.encode(), before, "record changed");
    result.expect_err("decrypted with the wrong prekeys")
}

/// A first message with the wrong private prekeys supplied (any one of signed, one-time
/// or KEM; or a KEM key of the other type) is refused and changes nothing, both for an
/// empty record and for one that holds a session. `None` is `MissingPreKeys` naming the
/// ids; leaving out a one-time prekey the message names is `MissingPreKeys` too.
#[test]
fn wrong_or_missing_prekeys_are_refused() {
    let mut c = Conversation::new(12);
    let first = c.send(Side::Alice, b"first");
    let first = expect_prekey(&first).clone();
    let mut rng = test_rng(120);
    let wrong_signed = KeyPair::generate(&mut rng);
    let wrong_one_time = KeyPair::generate(&mut rng);
    let wrong_kyber = KemKeyPair::generate(KemKeyType::Kyber1024, &mut rng);
    let mlkem = KemKeyPair::generate(KemKeyType::MlKem1024, &mut rng);

    for with_existing_session in [false, true] {
        if with_existing_session {
            // Bob holds a session with someone else.
            let mut other = Conversation::new(13);
            let other_first = other.send(Side::Alice, b"other");
            other.receive(Side::Bob, &other_first).unwrap();
            c.bob_record = other.bob_record.clone();
        }
        let signed = c.bob.signed.clone();
        let one_time = c.bob.one_time.clone();
        let kem = c.bob.kem.secret_key().clone();
        let cases = [
            keys(&wrong_signed, Some(&one_time), Some(&kem)),
            keys(&signed, Some(&wrong_one_time), Some(&kem)),
            keys(&signed, Some(&one_time), Some(wrong_kyber.secret_key())),
        ];
        for wrong in cases {
            assert_eq!(
                refused_with_keys(&mut c, &first, Some(wrong)),
                Error::DecryptionFailed
            );
        }
        // An ML-KEM secret key for a Kyber ciphertext: the KEM types disagree.
        let error = refused_with_keys(
            &mut c,
            &first,
            Some(keys(&signed, Some(&one_time), Some(mlkem.secret_key()))),
        );
        assert!(matches!(error, Error::Agreement(_)), "{error:?}");
        let missing = Error::MissingPreKeys {
            signed_prekey_id: SIGNED_ID,
            one_time_prekey_id: Some(ONE_TIME_ID),
            kem_prekey_id: Some(KEM_ID),
        };
        // No KEM secret for a PQXDH message names the keys it needs.
        let error = refused_with_keys(&mut c, &first, Some(keys(&signed, Some(&one_time), None)));
        assert_eq!(error, missing);

        assert_eq!(refused_with_keys(&mut c, &first, None), missing);
        assert_eq!(
            refused_with_keys(&mut c, &first, Some(keys(&signed, None, Some(&kem)))),
            missing
        );
        assert!(!c.bob_record.has_session_for(&first));
    }
    // With the right keys it decrypts.
    let right = c.bob.prekeys_for(&first);
    let done = c
        .bob_record
        .decrypt_prekey(
            &first,
            c.bob.local(),
            Some(right),
            c.mode,
            SessionOptions::default(),
            &TrustAll,
            &mut c.rng,
        )
        .unwrap();
    assert_eq!(done.plaintext.as_slice(), b"first");
    assert!(done.new_session);
    assert_eq!(done.used_one_time_prekey, Some(ONE_TIME_ID));
    assert_eq!(done.used_kem_prekey, Some(KEM_ID));
    assert_eq!(done.signed_prekey_id, SIGNED_ID);
    assert_eq!(done.base_key, *first.base_key());
    assert_eq!(c.bob_record.archived_sessions(), 1);
}

// ---------------------------------------------------------------------------------------
// Identity trust
// ---------------------------------------------------------------------------------------

/// A trust decision that answers `decision` for `who` and `Trusted` for anyone else, so
/// the tests also check that the right identity is asked about.
fn distrust(who: IdentityKey, decision: Trust) -> impl Fn(&IdentityKey) -> Trust {
    move |identity: &IdentityKey| {
        if *identity == who {
            decision
        } else {
            Trust::Trusted
        }
    }
}

/// An untrusted and a changed identity are distinct errors, on every path that asks
/// (initiating, encrypting, a first message, a message in a session), and none of them
/// changes a record.
#[test]
fn untrusted_and_changed_identities_are_distinct_errors_and_change_nothing() {
    let mut c = Conversation::new(14);
    let alice_identity = c.alice.identity.identity_key();
    let bob_identity = c.bob.identity.identity_key();
    let first = c.send(Side::Alice, b"first");
    let first = expect_prekey(&first).clone();

    for (decision, expected) in [
        (Trust::Untrusted, Error::UntrustedIdentity),
        (Trust::Changed, Error::IdentityChanged),
    ] {
        // Bob, receiving Alice's first message.
        let trust = distrust(alice_identity, decision);
        let before = c.bob_record.encode();
        let keys = c.bob.prekeys_for(&first);
        let result = c.bob_record.decrypt_prekey(
            &first,
            c.bob.local(),
            Some(keys),
            c.mode,
            SessionOptions::default(),
            &trust,
            &mut c.rng,
        );
        assert_eq!(result.unwrap_err(), expected);
        assert_eq!(c.bob_record.encode(), before);

        // Alice, encrypting to a Bob she no longer trusts.
        let before = c.alice_record.encode();
        let trust = distrust(bob_identity, decision);
        assert_eq!(
            c.alice_record
                .encrypt(b"x", SessionOptions::default(), &trust, c.now, &mut c.rng)
                .unwrap_err(),
            expected
        );
        assert_eq!(c.alice_record.encode(), before);

        // Alice, initiating a new session from Bob's bundle.
        let bundle = c.bob.bundle(c.mode, true, &mut c.rng);
        let result = c.alice_record.initiate(
            c.alice.local(),
            &bundle,
            c.mode,
            SessionOptions::default(),
            &trust,
            c.now,
            &mut c.rng,
        );
        assert_eq!(result.unwrap_err(), expected);
        assert_eq!(c.alice_record.encode(), before);
    }
    // A retransmission of the first message (same base key), sent before Bob answers.
    let retransmitted = c.send(Side::Alice, b"again");
    let retransmitted = expect_prekey(&retransmitted).clone();
    c.receive(Side::Bob, &CiphertextMessage::PreKey(first.clone()))
        .unwrap();
    assert!(c.bob_record.has_session_for(&retransmitted));
    c.exchange(Side::Bob, b"answer");

    // Established session: a retransmission and a session message from a distrusted
    // Alice.
    let message = c.send(Side::Alice, b"in session");
    assert_eq!(message.message_type(), 2);
    for (decision, expected) in [
        (Trust::Untrusted, Error::UntrustedIdentity),
        (Trust::Changed, Error::IdentityChanged),
    ] {
        let trust = distrust(alice_identity, decision);
        let before = c.bob_record.encode();
        let result = c.bob_record.decrypt_prekey(
            &retransmitted,
            c.bob.local(),
            None,
            c.mode,
            SessionOptions::default(),
            &trust,
            &mut c.rng,
        );
        assert_eq!(result.unwrap_err(), expected);
        let signal = signal_of(&message);
        assert_eq!(
            c.bob_record
                .decrypt(signal, SessionOptions::default(), &trust, &mut c.rng)
                .unwrap_err(),
            expected
        );
        assert_eq!(c.bob_record.encode(), before);
    }
    assert_eq!(
        c.receive(Side::Bob, &message).unwrap().as_slice(),
        b"in session"
    );
    let done = c
        .bob_record
        .decrypt_prekey(
            &retransmitted,
            c.bob.local(),
            None,
            c.mode,
            SessionOptions::default(),
            &TrustAll,
            &mut c.rng,
        )
        .unwrap();
    assert_eq!(done.plaintext.as_slice(), b"again");
}

// ---------------------------------------------------------------------------------------
// Classic X3DH
// ---------------------------------------------------------------------------------------

/// A classic X3DH first message (version 3) never reaches a PQXDH responder, and a PQXDH
/// one is refused by a classic responder; initiating in one mode with a bundle for the
/// other is refused too. Nothing changes in any of these.
#[test]
fn classic_and_pqxdh_never_mix() {
    let mut c = Conversation::with(15, AgreementMode::ClassicX3dh, KemKeyType::Kyber1024, true);
    let first = c.send(Side::Alice, b"classic");
    assert_eq!(first.encode()[0], 0x34);
    assert_eq!(expect_prekey(&first).kem_ciphertext(), None);
    c.mode = AgreementMode::Pqxdh;
    assert_eq!(c.rejects(Side::Bob, &first), Error::LegacyVersion(3));
    // Even if Bob would have a KEM key to offer.
    let before = c.bob_record.encode();
    let message = expect_prekey(&first);
    let keys = ResponderPreKeys {
        signed_prekey: &c.bob.signed,
        one_time_prekey: Some(&c.bob.one_time),
        kem_prekey: Some(c.bob.kem.secret_key()),
    };
    let result = c.bob_record.decrypt_prekey(
        message,
        c.bob.local(),
        Some(keys),
        AgreementMode::Pqxdh,
        SessionOptions::default(),
        &TrustAll,
        &mut c.rng,
    );
    assert_eq!(result.unwrap_err(), Error::LegacyVersion(3));
    assert_eq!(c.bob_record.encode(), before);

    let mut p = Conversation::new(16);
    let pq_first = p.send(Side::Alice, b"pq");
    p.mode = AgreementMode::ClassicX3dh;
    assert_eq!(p.rejects(Side::Bob, &pq_first), Error::UnknownVersion(4));

    // Initiating: classic mode with a KEM prekey in the bundle, PQXDH without one.
    let before = p.alice_record.encode();
    let with_kem = p.bob.bundle(AgreementMode::Pqxdh, false, &mut p.rng);
    let without_kem = p.bob.bundle(AgreementMode::ClassicX3dh, false, &mut p.rng);
    let local = p.alice.local();
    let result = p.alice_record.initiate(
        local,
        &with_kem,
        AgreementMode::ClassicX3dh,
        SessionOptions::default(),
        &TrustAll,
        p.now,
        &mut p.rng,
    );
    assert_eq!(
        result.unwrap_err(),
        Error::Agreement(hush_x3dh::Error::ModeMismatch)
    );
    let result = p.alice_record.initiate(
        local,
        &without_kem,
        AgreementMode::Pqxdh,
        SessionOptions::default(),
        &TrustAll,
        p.now,
        &mut p.rng,
    );
    assert_eq!(
        result.unwrap_err(),
        Error::Agreement(hush_x3dh::Error::MissingKemPreKey)
    );
    // A bundle whose KEM key has no id.
    let mut no_id = with_kem.clone();
    no_id.kem_prekey_id = None;
    let result = p.alice_record.initiate(
        local,
        &no_id,
        AgreementMode::Pqxdh,
        SessionOptions::default(),
        &TrustAll,
        p.now,
        &mut p.rng,
    );
    assert_eq!(
        result.unwrap_err(),
        Error::Agreement(hush_x3dh::Error::MissingKemPreKey)
    );
    assert_eq!(p.alice_record.encode(), before);
}

/// When both sides opt in, classic X3DH runs a whole conversation: version-3 messages
/// both ways, several ratchet steps, out-of-order delivery, records saved and loaded.
#[test]
fn classic_x3dh_end_to_end_when_both_sides_opt_in() {
    for one_time in [false, true] {
        let mut c = Conversation::with(
            17,
            AgreementMode::ClassicX3dh,
            KemKeyType::Kyber1024,
            one_time,
        );
        let first = c.send(Side::Alice, b"classic hello");
        assert_eq!(first.encode()[0], 0x34);
        assert_eq!(
            expect_prekey(&first).pre_key_id(),
            one_time.then_some(ONE_TIME_ID)
        );
        assert_eq!(expect_prekey(&first).kem_pre_key_id(), None);
        assert_eq!(
            c.receive(Side::Bob, &first).unwrap().as_slice(),
            b"classic hello"
        );
        for round in 0..4u8 {
            let late = c.send(Side::Bob, &[round; 3]);
            c.exchange(Side::Bob, &[round; 5]);
            assert_eq!(
                c.receive(Side::Alice, &late).unwrap().as_slice(),
                &[round; 3]
            );
            let reply = c.send(Side::Alice, &[round; 7]);
            assert_eq!(reply.message_type(), 2);
            assert_eq!(reply.encode()[0], 0x34);
            assert_eq!(
                c.receive(Side::Bob, &reply).unwrap().as_slice(),
                &[round; 7]
            );
            c.alice_record = SessionRecord::decode(&c.alice_record.encode()).unwrap();
            c.bob_record = SessionRecord::decode(&c.bob_record.encode()).unwrap();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Expiry
// ---------------------------------------------------------------------------------------

/// An unanswered session still encrypts 29 days (and exactly 30 days) after it was
/// created, but not one millisecond later (`SessionExpired`, record unchanged); once the
/// peer has answered it never expires.
#[test]
fn unacknowledged_sessions_expire_after_thirty_days() {
    let mut c = Conversation::new(18);
    let start = c.now;
    let encrypt_at = |record: &mut SessionRecord, at| {
        record.encrypt(
            b"late",
            SessionOptions::default(),
            &TrustAll,
            at,
            &mut test_rng(9),
        )
    };
    let mut probe = c.alice_record.clone();
    assert_eq!(
        encrypt_at(&mut probe, start + 29 * DAY)
            .unwrap()
            .message_type(),
        3
    );
    let mut probe = c.alice_record.clone();
    assert!(encrypt_at(&mut probe, start + 30 * DAY).is_ok());
    for late in [
        30 * DAY + std::time::Duration::from_millis(1),
        31 * DAY,
        3650 * DAY,
    ] {
        let before = c.alice_record.encode();
        assert_eq!(
            encrypt_at(&mut c.alice_record, start + late).unwrap_err(),
            Error::SessionExpired
        );
        assert_eq!(c.alice_record.encode(), before);
    }
    // Expiry survives saving: the creation time is in the record.
    let mut reloaded = SessionRecord::decode(&c.alice_record.encode()).unwrap();
    assert_eq!(
        encrypt_at(&mut reloaded, start + 31 * DAY).unwrap_err(),
        Error::SessionExpired
    );

    // Bob answers (late, but Alice can still decrypt) and the session no longer expires.
    let first = c.send(Side::Alice, b"first");
    c.receive(Side::Bob, &first).unwrap();
    c.exchange(Side::Bob, b"answer");
    for late in [31 * DAY, 3650 * DAY] {
        let message = encrypt_at(&mut c.alice_record, start + late).unwrap();
        assert_eq!(message.message_type(), 2);
        assert_eq!(c.receive(Side::Bob, &message).unwrap().as_slice(), b"late");
    }
    // The responder's session was never pending.
    assert!(encrypt_at(&mut c.bob_record, start + 3650 * DAY).is_ok());
}

/// ML-KEM-1024 prekeys work through whole sessions, with and without a one-time prekey,
/// and the first message carries an ML-KEM ciphertext.
#[test]
fn ml_kem_1024_sessions_work_end_to_end() {
    for one_time in [false, true] {
        let mut c = Conversation::with(19, AgreementMode::Pqxdh, KemKeyType::MlKem1024, one_time);
        let first = c.send(Side::Alice, b"ml-kem");
        let prekey = expect_prekey(&first);
        assert_eq!(
            prekey.kem_ciphertext().unwrap().key_type(),
            KemKeyType::MlKem1024
        );
        assert_eq!(prekey.pre_key_id(), one_time.then_some(ONE_TIME_ID));
        assert_eq!(c.receive(Side::Bob, &first).unwrap().as_slice(), b"ml-kem");
        c.exchange(Side::Bob, b"answer");
        c.exchange(Side::Alice, b"and again");
        // A Kyber key cannot open an ML-KEM ciphertext.
        let mut d = Conversation::with(19, AgreementMode::Pqxdh, KemKeyType::MlKem1024, one_time);
        let first = d.send(Side::Alice, b"ml-kem");
        let kyber = KemKeyPair::generate(KemKeyType::Kyber1024, &mut test_rng(190));
        let (signed, one_time_key) = (d.bob.signed.clone(), d.bob.one_time.clone());
        let wrong = keys(
            &signed,
            one_time.then_some(&one_time_key),
            Some(kyber.secret_key()),
        );
        let error = refused_with_keys(&mut d, expect_prekey(&first), Some(wrong));
        assert!(matches!(error, Error::Agreement(_)), "{error:?}");
    }
}

/// A rejected message draws no randomness (nothing is generated before the MAC checks
/// out), and a genuine one that opens a receiving chain draws exactly the 32 bytes of
/// the new ratchet key, as documented.
#[test]
fn rejected_messages_draw_no_randomness() {
    let mut c = Conversation::established(20);
    let message = c.send(Side::Alice, b"opens a chain");
    let bytes = message.encode();
    let signal = expect_signal(&message);
    for position in [bytes.len() - 1, bytes.len() / 2, 5] {
        let forged = SignalMessage::decode(&flipped(bytes, position, 1));
        let Ok(forged) = forged else { continue };
        let mut rng = hush_test_support::ReplayRng::new(Vec::new());
        let before = c.bob_record.encode();
        assert!(
            c.bob_record
                .decrypt(&forged, SessionOptions::default(), &TrustAll, &mut rng)
                .is_err()
        );
        assert!(
            !rng.overrun(),
            "byte {position}: a rejected message drew randomness"
        );
        assert_eq!(c.bob_record.encode(), before);
    }
    let mut rng = hush_test_support::ReplayRng::new(vec![0x42; 32]);
    let plaintext = c
        .bob_record
        .decrypt(signal, SessionOptions::default(), &TrustAll, &mut rng)
        .unwrap();
    assert_eq!(plaintext.as_slice(), b"opens a chain");
    assert_eq!((rng.remaining(), rng.overrun()), (0, false));
    // A message on an existing chain draws nothing.
    let next = c.send(Side::Alice, b"same chain");
    let mut rng = hush_test_support::ReplayRng::new(Vec::new());
    c.bob_record
        .decrypt(
            expect_signal(&next),
            SessionOptions::default(),
            &TrustAll,
            &mut rng,
        )
        .unwrap();
    assert!(!rng.overrun());
}

// ---------------------------------------------------------------------------------------
// The post-quantum ratchet (SPQR) part of a message (issue 17)
// ---------------------------------------------------------------------------------------

/// `message` with its SPQR payload replaced by `payload` and its MAC kept: what a
/// forger who cannot compute a MAC sends.
fn with_payload(message: &SignalMessage, payload: &[u8]) -> Vec<u8> {
    let wire = message.encode();
    let mac: [u8; MAC_LENGTH] = wire[wire.len() - MAC_LENGTH..].try_into().unwrap();
    hush_test_support::ratchet::signal_message_with(
        message.version(),
        &message.ratchet_key().encode(),
        message.counter(),
        message.previous_counter(),
        message.body(),
        payload,
        message.addresses(),
        mac,
    )
}

/// Every damage to the SPQR payload of a genuine message is refused with the record
/// byte-identical (`rejects` checks it), whether SPQR refuses it before the MAC (an epoch
/// the receiver cannot be in, a malformed payload, a key index too far ahead, a missing
/// payload under the default policy) or the MAC does (a changed chunk, index or type); a
/// replay is a duplicate. The genuine message decrypts afterwards.
#[test]
fn damaged_spqr_payloads_are_refused_and_change_nothing() {
    let mut c = Conversation::established(50);
    // Bob is the ciphertext side: after a few messages Alice's payloads carry chunks of
    // her ML-KEM header.
    let message = c.send(Side::Alice, b"with a header chunk");
    let signal = expect_signal(&message).clone();
    let payload = signal.pq_ratchet().to_vec();
    assert!(payload.len() > 32, "a chunk: {}", hex::encode(&payload));
    assert_eq!(payload[0], 1, "version 1");

    let mut wrong_epoch = payload.clone();
    wrong_epoch[1] = 5;
    let mut changed_chunk = payload.clone();
    *changed_chunk.last_mut().unwrap() ^= 1;
    let mut changed_index = payload.clone();
    changed_index[2] ^= 1;
    let mut changed_type = payload.clone();
    changed_type[3] = 5; // Ct1 instead of Hdr
    let far_index = hush_test_support::ratchet::spqr_none_payload(1, 30_000);
    let cases: [(&str, Vec<u8>, Option<Error>); 7] = [
        ("wrong epoch", wrong_epoch, None),
        (
            "changed chunk",
            changed_chunk,
            Some(Error::DecryptionFailed),
        ),
        ("changed index", changed_index, None),
        ("changed type", changed_type, None),
        (
            "truncated",
            payload[..3].to_vec(),
            Some(Error::DecryptionFailed),
        ),
        (
            "key index too far ahead",
            far_index,
            Some(Error::TooFarAhead { jump: 29_999 }),
        ),
        ("no payload", Vec::new(), Some(Error::SpqrRequired)),
    ];
    for (what, damaged, expected) in cases {
        let error = c.rejects_bytes(Side::Bob, 2, &with_payload(&signal, &damaged));
        if let Some(expected) = expected {
            assert_eq!(error, expected, "{what}");
        }
    }
    assert_eq!(
        c.receive(Side::Bob, &message).unwrap().as_slice(),
        b"with a header chunk"
    );
    // A replay of it, and of it with another payload, is refused unchanged.
    assert_eq!(
        c.rejects(Side::Bob, &message),
        Error::DuplicateMessage {
            counter: signal.counter()
        }
    );
}

/// The `addresses` field of a first message (libsignal v0.101): produced when both ends
/// are named by service ids, and checked after the MAC. A receiver that sees other
/// addresses, or has none to compare, refuses the message with the record unchanged
/// (as a failed MAC); the one with the right addresses accepts it. A message without the
/// field is accepted whatever the receiver's addresses.
#[test]
fn first_message_addresses_are_produced_and_checked() {
    use hush_ratchet::{ServiceAddress, SessionAddresses};
    let alice = ServiceAddress::parse("e6c1a6f1-8d7b-4d35-9a48-6a4b5f1f0a01", 1).unwrap();
    let bob = ServiceAddress::parse("0c3a1b8e-52a4-4e0f-8b1d-2f6a9e7c4b02", 2).unwrap();
    let bob_pni = ServiceAddress::parse("PNI:0c3a1b8e-52a4-4e0f-8b1d-2f6a9e7c4b02", 2).unwrap();
    let alice_view = SessionAddresses {
        local: alice,
        remote: bob,
    };
    let mut c = Conversation::new(51);
    c.options = SessionOptions::default().with_addresses(Some(alice_view));
    let first = c.send(Side::Alice, b"to bob's aci");
    let carried = expect_prekey(&first)
        .message()
        .addresses()
        .unwrap()
        .to_vec();
    // Alice's service id and device, then Bob's: written out from the names.
    let mut expected = vec![0x00];
    expected.extend(hex::decode("e6c1a6f18d7b4d359a486a4b5f1f0a01").unwrap());
    expected.push(1);
    expected.push(0x00);
    expected.extend(hex::decode("0c3a1b8e52a44e0f8b1d2f6a9e7c4b02").unwrap());
    expected.push(2);
    assert_eq!(carried, expected);

    for wrong in [
        None,
        Some(SessionAddresses {
            local: bob_pni,
            remote: alice,
        }),
        Some(SessionAddresses {
            local: bob,
            remote: ServiceAddress::parse("e6c1a6f1-8d7b-4d35-9a48-6a4b5f1f0a01", 3).unwrap(),
        }),
    ] {
        c.options = SessionOptions::default().with_addresses(wrong);
        assert_eq!(c.rejects(Side::Bob, &first), Error::DecryptionFailed);
    }
    c.options = SessionOptions::default().with_addresses(Some(SessionAddresses {
        local: bob,
        remote: alice,
    }));
    assert_eq!(
        c.receive(Side::Bob, &first).unwrap().as_slice(),
        b"to bob's aci"
    );
    // Answers are SignalMessages: they carry no addresses.
    let answer = c.send(Side::Bob, b"answer");
    assert!(expect_signal(&answer).addresses().is_none());

    // Without service-id names nothing is sent, and nothing is checked.
    let mut plain = Conversation::new(52);
    let first = plain.send(Side::Alice, b"no names");
    assert!(expect_prekey(&first).message().addresses().is_none());
    plain.options = SessionOptions::default().with_addresses(Some(SessionAddresses {
        local: bob,
        remote: alice,
    }));
    assert_eq!(
        plain.receive(Side::Bob, &first).unwrap().as_slice(),
        b"no names"
    );
}

/// A first message of a peer that runs no SPQR (libsignal v0.91 without SPQR, hush under
/// `Off`) is refused under the default policy with `SpqrRequired` and nothing changes
/// (libsignal v0.101 refuses it too); under `Allowed` it is accepted and the session
/// settles on no SPQR.
#[test]
fn a_peer_without_spqr_is_refused_unless_allowed() {
    let mut c = Conversation::configured(
        53,
        AgreementMode::Pqxdh,
        KemKeyType::Kyber1024,
        true,
        SessionOptions::new(SpqrPolicy::Off),
    );
    let first = c.send(Side::Alice, b"from an old peer");
    assert!(expect_prekey(&first).message().pq_ratchet().is_empty());
    c.options = SessionOptions::default();
    assert_eq!(c.rejects(Side::Bob, &first), Error::SpqrRequired);
    assert!(!c.bob_record.has_current_session());
    c.options = SessionOptions::new(SpqrPolicy::Allowed);
    assert_eq!(
        c.receive(Side::Bob, &first).unwrap().as_slice(),
        b"from an old peer"
    );
    assert_eq!(c.bob_record.current_runs_spqr(), Some(false));
    let answer = c.send(Side::Bob, b"no SPQR either");
    assert!(expect_signal(&answer).pq_ratchet().is_empty());
}

/// Under the default policy, a record holding a session without SPQR (archived) and one
/// with it (current): a message of the old session is refused as `SpqrRequired` (no
/// session may take it), a forgery with an SPQR payload is refused as the sessions that
/// tried it say (`DecryptionFailed`), and neither changes the record.
#[test]
fn the_policy_error_is_reported_only_when_no_session_could_try() {
    let mut c = Conversation::established_with(54, SessionOptions::new(SpqrPolicy::Off));
    let old = c.send(Side::Bob, b"from the session without SPQR");
    c.options = SessionOptions::default();
    c.alice_initiates(true);
    assert_eq!(c.alice_record.archived_sessions(), 1);
    assert_eq!(c.rejects(Side::Alice, &old), Error::SpqrRequired);
    let signal = expect_signal(&old);
    let forged = with_payload(signal, &hush_test_support::ratchet::spqr_none_payload(1, 1));
    assert_eq!(
        c.rejects_bytes(Side::Alice, 2, &forged),
        Error::DecryptionFailed
    );
}
