//! Refusals through the public API: tampered chunks (header MAC, ciphertext MAC, an
//! encapsulation key that does not match its header), epochs out of range, malformed and
//! over-limit payloads, replays, jump and out-of-order limits, version negotiation, and
//! plans applied where they do not belong. Every refusal must leave the state
//! byte-identical (checked by `common::Party::receive`).

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests: a failed unwrap or index is a failed test"
)]

mod common;

use common::{Party, exchange, kind, pair, pair_with, tamper_chunk};
use hush_spqr::{
    BraidState, ChainParams, Direction, Error, Payload, PayloadKind, SpqrState, Version,
};

/// Delivers every message of a lockstep conversation, but first offers each payload of
/// type `target`, with one bit of its chunk flipped, to a copy of the receiver. Returns
/// the errors those copies gave (a copy that accepted a non-completing bad chunk is
/// dropped). The real parties only ever see genuine payloads.
fn tamper_each(target: fn(&PayloadKind) -> bool, rounds: usize) -> Vec<Error> {
    let (mut alice, mut bob) = pair(5);
    let mut errors = Vec::new();
    for round in 0..rounds {
        let (sender, receiver) = if round % 2 == 0 {
            (&mut alice, &mut bob)
        } else {
            (&mut bob, &mut alice)
        };
        let message = sender.send();
        if target(&kind(&message.payload)) {
            let bad = tamper_chunk(&message.payload).unwrap();
            let mut copy = Party {
                state: receiver.state.clone(),
                rng: receiver.rng.clone(),
            };
            if let Err(error) = copy.receive(&bad) {
                errors.push(error);
            }
        }
        assert_eq!(receiver.receive(&message.payload).unwrap(), message.key);
    }
    assert!(
        alice.state.chain_epoch() >= 2,
        "the conversation completed epochs"
    );
    errors
}

#[test]
fn tampered_header_fails_its_mac() {
    let errors = tamper_each(|k| matches!(k, PayloadKind::Hdr(_)), 400);
    // Every epoch's completing header chunk was tampered once.
    assert!(errors.len() >= 3, "{errors:?}");
    assert!(
        errors.iter().all(|e| *e == Error::AuthenticationFailed),
        "{errors:?}"
    );
}

#[test]
fn tampered_ciphertext_fails_its_mac() {
    let errors = tamper_each(|k| matches!(k, PayloadKind::Ct2(_)), 400);
    assert!(errors.len() >= 2, "{errors:?}");
    assert!(
        errors.iter().all(|e| *e == Error::AuthenticationFailed),
        "{errors:?}"
    );
}

#[test]
fn tampered_first_ciphertext_is_caught_by_the_ciphertext_mac() {
    // ct1 carries no MAC of its own: a bad ct1 chunk is taken, and the ciphertext MAC
    // (over ct1 and ct2) refuses the epoch when ct2 completes.
    let (mut alice, mut bob) = pair(14);
    let mut tampered = false;
    for round in 0..400 {
        let m = alice.send();
        assert_eq!(bob.receive(&m.payload).unwrap(), m.key);
        let m = bob.send();
        if !tampered && matches!(kind(&m.payload), PayloadKind::Ct1(_)) && round > 0 {
            assert!(alice.receive(&tamper_chunk(&m.payload).unwrap()).is_ok());
            tampered = true;
            continue;
        }
        match alice.receive(&m.payload) {
            Ok(key) => assert_eq!(key, m.key),
            Err(error) => {
                assert!(tampered);
                assert_eq!(error, Error::AuthenticationFailed);
                assert_eq!(alice.braid(), BraidState::EkSentCt1Received);
                return;
            }
        }
    }
    panic!("the tampered ciphertext was never refused");
}

#[test]
fn tampered_encapsulation_key_is_erroneous_data() {
    let errors = tamper_each(
        |k| matches!(k, PayloadKind::Ek(_) | PayloadKind::EkCt1Ack(_)),
        400,
    );
    assert!(errors.len() >= 2, "{errors:?}");
    assert!(
        errors.iter().all(|e| *e == Error::ErroneousData),
        "{errors:?}"
    );
}

#[test]
fn a_refused_header_chunk_can_come_again_genuine() {
    let (mut alice, mut bob) = pair(1);
    let chunks: Vec<_> = (0..3).map(|_| alice.send()).collect();
    assert_eq!(bob.receive(&chunks[0].payload).unwrap(), chunks[0].key);
    assert_eq!(bob.receive(&chunks[1].payload).unwrap(), chunks[1].key);
    bob.refuses(
        &tamper_chunk(&chunks[2].payload).unwrap(),
        &Error::AuthenticationFailed,
    );
    assert_eq!(bob.braid(), BraidState::NoHeaderReceived);
    assert_eq!(bob.receive(&chunks[2].payload).unwrap(), chunks[2].key);
    assert_eq!(bob.braid(), BraidState::HeaderReceived);
}

#[test]
fn epochs_out_of_range() {
    let (mut alice, mut bob) = pair(2);
    exchange(&mut alice, &mut bob);
    // Bob is at epoch 1; a message of epoch 3 cannot exist yet.
    let ahead = Payload::new(3, 1, PayloadKind::None).unwrap().encode();
    bob.refuses(ahead.as_bytes(), &Error::EpochOutOfRange { epoch: 3 });
    // Epoch 2 is out of range too, except for a ciphertext side that has sent ct2.
    let next = Payload::new(2, 1, PayloadKind::Ct1Ack).unwrap().encode();
    bob.refuses(next.as_bytes(), &Error::EpochOutOfRange { epoch: 2 });
}

#[test]
fn replays_are_duplicates() {
    let (mut alice, mut bob) = pair(3);
    let first = alice.send();
    let second = alice.send();
    assert_eq!(bob.receive(&second.payload).unwrap(), second.key);
    assert_eq!(bob.receive(&first.payload).unwrap(), first.key);
    for message in [&first, &second] {
        let index = Payload::decode(&message.payload).unwrap().index();
        bob.refuses(
            &message.payload,
            &Error::DuplicateMessage { epoch: 0, index },
        );
    }
}

#[test]
fn malformed_payloads_are_refused() {
    let (_, mut bob) = pair(4);
    let mut long_chunk_index = vec![1, 1, 1, 1, 0x80, 0x80, 0x04];
    long_chunk_index.extend([0; 32]);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![1], "truncated varint"),
        (vec![1, 0, 1, 0], "epoch 0"),
        (vec![1, 1, 1], "missing type"),
        (vec![1, 1, 1, 9], "unknown message type"),
        (vec![1, 1, 1, 1, 0, 1, 2, 3], "truncated chunk"),
        (long_chunk_index, "chunk index beyond 65535"),
        (
            vec![1, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0x10, 0],
            "index beyond u32",
        ),
        (
            [vec![1], vec![0x80; 10], vec![0]].concat(),
            "varint longer than 10 bytes",
        ),
    ];
    for (payload, reason) in cases {
        bob.refuses(&payload, &Error::MalformedPayload(reason));
    }
}

#[test]
fn jumps_and_stored_keys_are_bounded() {
    let params = ChainParams::new(10, 3).unwrap();
    let (mut alice, mut bob) = pair_with(6, params);
    let messages: Vec<_> = (0..16).map(|_| alice.send()).collect();
    // Index 12 is 12 ahead of a chain at 0.
    bob.refuses(
        &messages[11].payload,
        &Error::TooFarAhead {
            index: 12,
            jump: 12,
        },
    );
    // Index 10 is within the jump; keys 7, 8 and 9 are kept, older ones are not.
    assert_eq!(bob.receive(&messages[9].payload).unwrap(), messages[9].key);
    bob.refuses(
        &messages[5].payload,
        &Error::MessageKeyTrimmed { epoch: 0, index: 6 },
    );
    assert_eq!(bob.receive(&messages[7].payload).unwrap(), messages[7].key);
    bob.refuses(
        &messages[7].payload,
        &Error::DuplicateMessage { epoch: 0, index: 8 },
    );
    // Moving on to 16 keeps 13..=15 and trims 9.
    assert_eq!(
        bob.receive(&messages[15].payload).unwrap(),
        messages[15].key
    );
    bob.refuses(
        &messages[8].payload,
        &Error::MessageKeyTrimmed { epoch: 0, index: 9 },
    );
    for i in [12, 13, 14] {
        assert_eq!(bob.receive(&messages[i].payload).unwrap(), messages[i].key);
    }
    bob.reload();
    assert!(ChainParams::new(0, 1).is_err());
    assert!(ChainParams::new(1, 0).is_err());
    assert!(ChainParams::new(1, hush_spqr::limits::MAX_OOO_KEYS_CEILING + 1).is_err());
    assert_eq!(ChainParams::self_session().max_jump(), u32::MAX);
}

#[test]
fn the_previous_epochs_keys_stay_available() {
    let (mut alice, mut bob) = pair(7);
    // A message of chain epoch 0 held back while the conversation completes epoch 1 and
    // moves on to sending in epoch 1.
    let late = alice.send();
    let mut rounds = 0;
    while alice.state.chain_epoch() < 2 || bob.state.chain_epoch() < 2 {
        exchange(&mut alice, &mut bob);
        rounds += 1;
        assert!(rounds < 400);
    }
    // Bob now sends in chain epoch 1 or 2 and keeps the epoch before: 0 may be gone.
    let result = bob.receive(&late.payload);
    let late_epoch = Payload::decode(&late.payload).unwrap().epoch() - 1;
    match result {
        Ok(key) => assert_eq!(key, late.key),
        Err(error) => assert_eq!(error, Error::EpochOutOfRange { epoch: late_epoch }),
    }
    // One epoch back is always kept: a message sent just before the last epoch change.
    let (mut alice, mut bob) = pair(8);
    let mut held = None;
    for _ in 0..400 {
        let epoch_before = alice.state.chain_epoch();
        let m = alice.send();
        if held.is_none() && bob.state.chain_epoch() == 1 && epoch_before == 0 {
            held = Some(m);
        } else {
            assert_eq!(bob.receive(&m.payload).unwrap(), m.key);
        }
        let m = bob.send();
        assert_eq!(alice.receive(&m.payload).unwrap(), m.key);
        if alice.state.chain_epoch() >= 2 {
            break;
        }
    }
    let held = held.unwrap();
    assert_eq!(bob.receive(&held.payload).unwrap(), held.key);
}

#[test]
fn version_zero_peer_is_refused_when_spqr_is_required() {
    let (_, mut bob) = pair(9);
    bob.refuses(&[], &Error::MinimumVersion);
    // A version byte of 0 with anything after it is version 0 too.
    bob.refuses(&[0, 1, 2], &Error::MinimumVersion);
    assert_eq!(bob.state.negotiating(), Some(Version::V1));
}

#[test]
fn version_zero_peer_turns_spqr_off_when_allowed() {
    let params = ChainParams::default();
    let mut alice = Party::new(Direction::A2B, Version::V1, Version::V0, params, 1);
    let mut old = Party::new(Direction::B2A, Version::V0, Version::V0, params, 2);
    // With minimum version 0 nothing is keyed before the peer has been heard from.
    let first = alice.send();
    assert_eq!(first.key, None);
    assert_eq!(Payload::decode(&first.payload).unwrap().index(), 0);
    // The old peer ignores SPQR payloads and sends none.
    assert_eq!(old.receive(&first.payload).unwrap(), None);
    let reply = old.send();
    assert!(reply.payload.is_empty() && reply.key.is_none());
    assert_eq!(alice.receive(&reply.payload).unwrap(), None);
    assert_eq!(alice.state.version(), Version::V0);
    alice.reload();
    let after = alice.send();
    assert!(after.payload.is_empty() && after.key.is_none());
    // A V0 state ignores everything, even garbage.
    assert_eq!(alice.receive(&[1, 2, 3]).unwrap(), None);
}

#[test]
fn version_zero_after_negotiation_is_a_mismatch() {
    let (mut alice, mut bob) = pair(10);
    exchange(&mut alice, &mut bob);
    assert_eq!(bob.state.negotiating(), None);
    bob.refuses(&[], &Error::VersionMismatch);
}

#[test]
fn minimum_version_zero_peers_settle_on_spqr() {
    let params = ChainParams::default();
    let mut alice = Party::new(Direction::A2B, Version::V1, Version::V0, params, 1);
    let mut bob = Party::new(Direction::B2A, Version::V1, Version::V0, params, 2);
    let a1 = alice.send();
    let b1 = bob.send();
    assert_eq!((a1.key, b1.key), (None, None));
    alice.reload();
    assert_eq!(bob.receive(&a1.payload).unwrap(), None);
    assert_eq!(alice.receive(&b1.payload).unwrap(), None);
    assert_eq!(alice.state.negotiating(), None);
    // From now on every message is keyed.
    for _ in 0..100 {
        let m = alice.send();
        assert!(m.key.is_some());
        assert_eq!(bob.receive(&m.payload).unwrap(), m.key);
        let m = bob.send();
        assert!(m.key.is_some());
        assert_eq!(alice.receive(&m.payload).unwrap(), m.key);
    }
    assert!(alice.state.chain_epoch() >= 1);
}

#[test]
fn newer_versions_are_ignored() {
    let (_, mut bob) = pair(11);
    let before = bob.state.encode();
    assert_eq!(bob.receive(&[2, 1, 1, 0]).unwrap(), None);
    assert_eq!(*bob.state.encode(), *before, "not even negotiation changes");
    assert_eq!(bob.state.negotiating(), Some(Version::V1));
}

#[test]
fn plans_apply_only_to_their_state() {
    let (mut alice, mut bob) = pair(12);
    let m = alice.send();
    let plan = bob.state.plan_recv(&m.payload).unwrap();
    let other_plan = bob.state.plan_recv(&m.payload).unwrap();
    // Another state, even an identical-looking one, refuses it.
    let mut other = SpqrState::decode(&bob.state.encode()).unwrap();
    let before = other.encode();
    assert_eq!(other.apply_recv(plan), Err(Error::StalePlan));
    assert_eq!(*other.encode(), *before);
    // The state that made it takes it once; a second plan made before that is stale.
    let plan = bob.state.plan_recv(&m.payload).unwrap();
    bob.state.apply_recv(plan).unwrap();
    let before = bob.state.encode();
    assert_eq!(bob.state.apply_recv(other_plan), Err(Error::StalePlan));
    assert_eq!(*bob.state.encode(), *before);
    // Sends alike.
    let plan = alice.state.plan_send(&mut alice.rng).unwrap();
    let again = alice.state.plan_send(&mut alice.rng).unwrap();
    alice.state.apply_send(plan).unwrap();
    assert_eq!(alice.state.apply_send(again), Err(Error::StalePlan));
}

#[test]
fn a_dropped_send_plan_is_a_lost_message() {
    let (mut alice, mut bob) = pair(13);
    let plan = alice.state.plan_send(&mut alice.rng).unwrap();
    drop(plan);
    let m = alice.send();
    assert_eq!(bob.receive(&m.payload).unwrap(), m.key);
}

#[test]
fn a_bounded_plan_refuses_jumps_over_its_bound_and_reports_its_steps() {
    let (mut alice, mut bob) = pair(13);
    // Alice sends five; Bob sees only the fifth: a jump of 5 from his chain's start.
    let sent: Vec<_> = (0..5).map(|_| alice.send()).collect();
    let last = &sent[4].payload;
    let before = bob.state.encode();
    assert_eq!(
        bob.state.plan_recv_bounded(last, 4).unwrap_err(),
        Error::TooFarAhead { index: 5, jump: 5 }
    );
    assert_eq!(*bob.state.encode(), *before);
    let plan = bob.state.plan_recv_bounded(last, 5).unwrap();
    assert_eq!(plan.chain_steps(), 5);
    assert_eq!(plan.message_key().map(|k| *k.as_bytes()), sent[4].key);
    bob.state.apply_recv(plan).unwrap();
    // A stored key costs no step, whatever the bound.
    let plan = bob.state.plan_recv_bounded(&sent[1].payload, 0).unwrap();
    assert_eq!(plan.chain_steps(), 0);
    assert_eq!(plan.message_key().map(|k| *k.as_bytes()), sent[1].key);
}
