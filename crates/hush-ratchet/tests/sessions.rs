//! Session behaviour under reordering and at every limit: out-of-order delivery, the
//! skipped-key and receiver-chain caps, archived sessions and their promotion, the
//! archive cap, and retransmitted first messages.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] fns: a failed unwrap or index is a failed test"
)]

mod common;

use common::{Conversation, ONE_TIME_ID, Side, expect_prekey, expect_signal, signal_of};
use hush_core::IdentityKeyPair;
use hush_ratchet::limits::{MAX_ARCHIVED_SESSIONS, MAX_RECEIVER_CHAINS, MAX_SKIPPED_MESSAGE_KEYS};
use hush_ratchet::{
    CiphertextMessage, Error, PreKeySignalMessage, SessionOptions, SessionRecord, SpqrPolicy,
};
use hush_test_support::test_rng;
use hush_x3dh::TrustAll;

fn text(i: usize) -> Vec<u8> {
    format!("message {i}").into_bytes()
}

/// Messages arrive in any order within a chain and across ratchet steps: Bob gets some
/// of Alice's first chain, answers, gets her second chain, then the rest of the first
/// chain; Alice does the same with Bob's chains. Every message decrypts once, to its
/// plaintext.
#[test]
fn out_of_order_within_and_across_ratchet_steps() {
    let mut c = Conversation::established(20);
    let first_chain: Vec<_> = (0..6).map(|i| c.send(Side::Alice, &text(i))).collect();
    for i in [3, 1] {
        assert_eq!(
            c.receive(Side::Bob, &first_chain[i]).unwrap().as_slice(),
            text(i)
        );
    }
    let bob_chain: Vec<_> = (10..14).map(|i| c.send(Side::Bob, &text(i))).collect();
    assert_eq!(
        c.receive(Side::Alice, &bob_chain[2]).unwrap().as_slice(),
        text(12)
    );
    // Alice's second chain (she has seen Bob's new ratchet key).
    let second_chain: Vec<_> = (20..24).map(|i| c.send(Side::Alice, &text(i))).collect();
    assert_ne!(
        signal_of(&second_chain[0]).ratchet_key(),
        signal_of(&first_chain[0]).ratchet_key()
    );
    for i in [2, 0] {
        assert_eq!(
            c.receive(Side::Bob, &second_chain[i]).unwrap().as_slice(),
            text(20 + i)
        );
    }
    // Bob's third chain, Alice's third chain.
    let bob_later: Vec<_> = (30..33).map(|i| c.send(Side::Bob, &text(i))).collect();
    assert_eq!(
        c.receive(Side::Alice, &bob_later[1]).unwrap().as_slice(),
        text(31)
    );
    let third_chain: Vec<_> = (40..42).map(|i| c.send(Side::Alice, &text(i))).collect();
    assert_eq!(
        c.receive(Side::Bob, &third_chain[1]).unwrap().as_slice(),
        text(41)
    );
    // Now the stragglers of every older chain, in scrambled order.
    for i in [5, 0, 4, 2] {
        assert_eq!(
            c.receive(Side::Bob, &first_chain[i]).unwrap().as_slice(),
            text(i)
        );
    }
    for i in [3, 1] {
        assert_eq!(
            c.receive(Side::Bob, &second_chain[i]).unwrap().as_slice(),
            text(20 + i)
        );
    }
    assert_eq!(
        c.receive(Side::Bob, &third_chain[0]).unwrap().as_slice(),
        text(40)
    );
    for i in [3, 0, 1] {
        assert_eq!(
            c.receive(Side::Alice, &bob_chain[i]).unwrap().as_slice(),
            text(10 + i)
        );
    }
    for i in [2, 0] {
        assert_eq!(
            c.receive(Side::Alice, &bob_later[i]).unwrap().as_slice(),
            text(30 + i)
        );
    }
    // And every one of them only once.
    for message in first_chain.iter().chain(&second_chain).chain(&third_chain) {
        let counter = signal_of(message).counter();
        assert_eq!(
            c.rejects(Side::Bob, message),
            Error::DuplicateMessage { counter }
        );
    }
    for message in bob_chain.iter().chain(&bob_later) {
        let counter = signal_of(message).counter();
        assert_eq!(
            c.rejects(Side::Alice, message),
            Error::DuplicateMessage { counter }
        );
    }
}

/// At most 2 000 skipped keys are kept per chain. A jump of 2 001 on a new chain keeps
/// the keys of counters 1..=2 000, so counter 0 is gone; it reports `DuplicateMessage`
/// (its key is behind the chain and not stored: libsignal's answer too) and changes
/// nothing. Later jumps on the same chain push the oldest stored keys out. (SPQR off: its
/// chain keeps 2 000 keys of its own, numbered across the Double Ratchet's chains, and
/// with SPQR on the older of the two windows decides, as in libsignal.)
#[test]
fn skipped_keys_are_capped_per_chain() {
    let cap = MAX_SKIPPED_MESSAGE_KEYS;
    assert_eq!(cap, 2_000);
    let mut c = Conversation::established_with(21, SessionOptions::new(SpqrPolicy::Off));
    // Alice's new chain, which Bob has not seen yet.
    let chain: Vec<_> = (0..cap + 20)
        .map(|i| c.send(Side::Alice, &text(i)))
        .collect();
    assert_eq!(
        c.receive(Side::Bob, &chain[cap + 1]).unwrap().as_slice(),
        text(cap + 1)
    );
    assert_eq!(
        c.rejects(Side::Bob, &chain[0]),
        Error::DuplicateMessage { counter: 0 }
    );
    assert_eq!(c.receive(Side::Bob, &chain[1]).unwrap().as_slice(), text(1));
    assert_eq!(
        c.receive(Side::Bob, &chain[cap]).unwrap().as_slice(),
        text(cap)
    );
    // Stored now: 2..=1 999 (1 998 keys). Skipping 2 002..=2 009 adds 8: the 6 oldest
    // (2..=7) are dropped.
    assert_eq!(
        c.receive(Side::Bob, &chain[cap + 10]).unwrap().as_slice(),
        text(cap + 10)
    );
    for (counter, message) in (2u32..).zip(&chain[2..8]) {
        assert_eq!(
            c.rejects(Side::Bob, message),
            Error::DuplicateMessage { counter }
        );
    }
    for i in [8, 9, 1_000, cap - 1, cap + 2, cap + 9, cap + 11] {
        assert_eq!(
            c.receive(Side::Bob, &chain[i]).unwrap().as_slice(),
            text(i),
            "counter {i}"
        );
    }
}

/// Bob keeps 5 receiving chains. Alice opens 6 chains after the session is set up,
/// holding one message back on each; after the sixth, the held-back message of the
/// oldest of those no longer decrypts (its chain was dropped: `DecryptionFailed`, record
/// unchanged) while the other five do.
#[test]
fn receiver_chains_are_capped_at_five() {
    assert_eq!(MAX_RECEIVER_CHAINS, 5);
    let mut c = Conversation::established(22);
    let mut held = Vec::new();
    for round in 0..=MAX_RECEIVER_CHAINS {
        let opener = c.send(Side::Alice, b"opens a chain");
        held.push(c.send(Side::Alice, &text(round)));
        c.receive(Side::Bob, &opener).unwrap();
        c.exchange(Side::Bob, b"makes Alice step");
    }
    let chains: std::collections::BTreeSet<_> =
        held.iter().map(|m| *signal_of(m).ratchet_key()).collect();
    assert_eq!(chains.len(), MAX_RECEIVER_CHAINS + 1);
    assert_eq!(c.rejects(Side::Bob, &held[0]), Error::DecryptionFailed);
    for (round, message) in held.iter().enumerate().skip(1) {
        assert_eq!(
            c.receive(Side::Bob, message).unwrap().as_slice(),
            text(round)
        );
    }
}

/// Alice starts a new session while Bob, who never saw it, keeps sending on the old
/// one: Alice decrypts through the archived session, which becomes current again (her
/// next message is a plain `SignalMessage` in that session, which Bob reads).
#[test]
fn archived_sessions_decrypt_and_are_promoted() {
    let mut c = Conversation::established(23);
    c.alice_initiates(false);
    assert_eq!(c.alice_record.archived_sessions(), 1);
    assert_eq!(c.send(Side::Alice, b"new session").message_type(), 3);

    let from_old = c.send(Side::Bob, b"still on the old session");
    assert_eq!(
        c.receive(Side::Alice, &from_old).unwrap().as_slice(),
        b"still on the old session"
    );
    assert_eq!(c.alice_record.archived_sessions(), 1);
    let reply = c.send(Side::Alice, b"back on the old session");
    assert_eq!(
        reply.message_type(),
        2,
        "the old, acknowledged session is current again"
    );
    assert_eq!(
        c.receive(Side::Bob, &reply).unwrap().as_slice(),
        b"back on the old session"
    );

    // The other way round, on Bob's side: Bob takes a new session's first message,
    // archiving the old session; a message Alice sent on the old one before she
    // re-initiated still decrypts, and the old session is current for Bob again. His
    // answer on it reaches Alice through her archive.
    let mut d = Conversation::established(24);
    let old = d.send(Side::Alice, b"old session, sent before");
    d.alice_initiates(true);
    let first_new = d.send(Side::Alice, b"new session");
    d.receive(Side::Bob, &first_new).unwrap();
    assert_eq!(d.bob_record.archived_sessions(), 1);
    assert_eq!(
        d.receive(Side::Bob, &old).unwrap().as_slice(),
        b"old session, sent before"
    );
    let answer = d.send(Side::Bob, b"answer on the old one");
    assert_eq!(answer.message_type(), 2);
    assert_eq!(
        d.receive(Side::Alice, &answer).unwrap().as_slice(),
        b"answer on the old one"
    );
    let next = d.send(Side::Alice, b"old one again");
    assert_eq!(next.message_type(), 2);
    assert_eq!(
        d.receive(Side::Bob, &next).unwrap().as_slice(),
        b"old one again"
    );
}

/// A record keeps at most 40 archived sessions. After 40 re-initiations the first
/// session is the oldest archived one and still decrypts; after 41 it has been dropped
/// and its messages no longer decrypt (record unchanged). The archive survives
/// encode/decode.
#[test]
fn archive_keeps_forty_sessions() {
    assert_eq!(MAX_ARCHIVED_SESSIONS, 40);
    let mut c = Conversation::established(25);
    for _ in 0..MAX_ARCHIVED_SESSIONS {
        c.alice_initiates(false);
    }
    assert_eq!(c.alice_record.archived_sessions(), MAX_ARCHIVED_SESSIONS);
    let decoded = SessionRecord::decode(&c.alice_record.encode()).unwrap();
    assert_eq!(decoded.archived_sessions(), MAX_ARCHIVED_SESSIONS);
    assert_eq!(decoded.encode(), c.alice_record.encode());

    let on_first_session = c.send(Side::Bob, b"first session");
    let mut probe = c.alice_record.clone();
    let signal = expect_signal(&on_first_session);
    assert_eq!(
        probe
            .decrypt(
                signal,
                SessionOptions::default(),
                &TrustAll,
                &mut test_rng(1)
            )
            .unwrap()
            .as_slice(),
        b"first session"
    );

    c.alice_initiates(false);
    assert_eq!(c.alice_record.archived_sessions(), MAX_ARCHIVED_SESSIONS);
    assert_eq!(
        c.rejects(Side::Alice, &on_first_session),
        Error::DecryptionFailed
    );
}

/// A first message Alice repeats until Bob answers (same base key) decrypts without
/// prekeys once Bob has the session: `has_session_for` is true, `new_session` false and
/// no prekey is reported as used. It still does after Bob archived that session.
#[test]
fn retransmitted_first_messages_need_no_prekeys() {
    let mut c = Conversation::new(26);
    let first = c.send(Side::Alice, b"first");
    let second = c.send(Side::Alice, b"second");
    let third = c.send(Side::Alice, b"third");
    let (first, second, third) = (
        expect_prekey(&first).clone(),
        expect_prekey(&second).clone(),
        expect_prekey(&third).clone(),
    );
    assert_eq!(first.base_key(), second.base_key());
    assert!(!c.bob_record.has_session_for(&first));

    let keys = c.bob.prekeys_for(&first);
    let done = c
        .bob_record
        .decrypt_prekey(
            &first,
            c.bob.local(),
            Some(keys),
            c.mode,
            SessionOptions::default(),
            &TrustAll,
            &mut c.rng,
        )
        .unwrap();
    assert!(done.new_session);
    assert_eq!(done.used_one_time_prekey, Some(ONE_TIME_ID));

    assert!(c.bob_record.has_session_for(&second));
    let done = c
        .bob_record
        .decrypt_prekey(
            &second,
            c.bob.local(),
            None,
            c.mode,
            SessionOptions::default(),
            &TrustAll,
            &mut c.rng,
        )
        .unwrap();
    assert_eq!(done.plaintext.as_slice(), b"second");
    assert!(!done.new_session);
    assert_eq!(
        (done.used_one_time_prekey, done.used_kem_prekey),
        (None, None)
    );
    assert_eq!(done.base_key, *first.base_key());

    // Alice re-initiates and Bob takes the new session, archiving the first one; the
    // retransmission still finds it there.
    c.alice_initiates(false);
    let new_first = c.send(Side::Alice, b"new session");
    c.receive(Side::Bob, &new_first).unwrap();
    assert_eq!(c.bob_record.archived_sessions(), 1);
    assert!(c.bob_record.has_session_for(&third));
    let done = c
        .bob_record
        .decrypt_prekey(
            &third,
            c.bob.local(),
            None,
            c.mode,
            SessionOptions::default(),
            &TrustAll,
            &mut c.rng,
        )
        .unwrap();
    assert_eq!(done.plaintext.as_slice(), b"third");
    assert!(!done.new_session);
    assert_eq!(
        c.rejects(Side::Bob, &CiphertextMessage::PreKey(second.clone())),
        Error::DuplicateMessage { counter: 1 }
    );
}

/// A retransmission is matched by base key *and* identity: the same message with the
/// identity key swapped for another valid one is not taken for Bob's session (nothing
/// authenticates that field in a retransmission), so without prekeys it is
/// `MissingPreKeys` and with them it does not decrypt. Bob's record never changes.
#[test]
fn a_retransmission_with_a_swapped_identity_is_not_the_same_session() {
    let mut c = Conversation::new(28);
    let first = c.send(Side::Alice, b"first");
    let again = c.send(Side::Alice, b"again");
    c.receive(Side::Bob, &first).unwrap();

    let mallory = IdentityKeyPair::generate(&mut test_rng(280)).identity_key();
    let original = expect_prekey(&again).identity_key().encode();
    let bytes = again.encode();
    let at = bytes.windows(33).position(|w| w == original).unwrap();
    let mut swapped = bytes.to_vec();
    swapped[at..at + 33].copy_from_slice(&mallory.encode());
    let swapped = PreKeySignalMessage::decode(&swapped).unwrap();
    assert_eq!(*swapped.identity_key(), mallory);
    assert_eq!(swapped.base_key(), expect_prekey(&again).base_key());

    assert!(!c.bob_record.has_session_for(&swapped));
    let before = c.bob_record.encode();
    let asked = std::cell::RefCell::new(Vec::new());
    let trust = |identity: &hush_core::IdentityKey| {
        asked.borrow_mut().push(*identity);
        hush_x3dh::Trust::Trusted
    };
    let result = c.bob_record.decrypt_prekey(
        &swapped,
        c.bob.local(),
        None,
        c.mode,
        SessionOptions::default(),
        &trust,
        &mut c.rng,
    );
    assert!(
        matches!(result, Err(Error::MissingPreKeys { .. })),
        "{result:?}"
    );
    let keys = c.bob.prekeys_for(&swapped);
    let result = c.bob_record.decrypt_prekey(
        &swapped,
        c.bob.local(),
        Some(keys),
        c.mode,
        SessionOptions::default(),
        &trust,
        &mut c.rng,
    );
    assert_eq!(result.unwrap_err(), Error::DecryptionFailed);
    // Only the new session's agreement asked, and about the identity the message names.
    assert_eq!(*asked.borrow(), [mallory]);
    assert_eq!(c.bob_record.encode(), before);
    assert_eq!(c.receive(Side::Bob, &again).unwrap().as_slice(), b"again");
}
