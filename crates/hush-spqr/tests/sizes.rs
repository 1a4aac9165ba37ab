//! Stored state sizes at two reference points, against libsignal's.
//!
//! libsignal's figures are the lengths of spqr v1.5.3's serialised state (the
//! `pq_ratchet_state` field of a libsignal session record) after the same conversations,
//! measured once with spqr built from its v1.5.3 source:
//!
//! | conversation | Alice | Bob |
//! |---|---|---|
//! | 1000 messages, strictly alternating (Alice first) | 5685 | 5096 |
//! | 1000 messages from Alice, all received by Bob | 3928 | 303 |
//!
//! (The largest state seen along the alternating run was 6327 bytes.) hush's states must
//! stay at or below these, and below libsignal's largest along the way; the figures are
//! printed with `--nocapture`.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns: a failed unwrap is a failed test"
)]

use hush_spqr::{ChainParams, Direction, SpqrState, Version};
use hush_test_support::test_rng;

fn pair() -> (SpqrState, SpqrState) {
    let key = [7u8; 32];
    let new = |direction| {
        SpqrState::new(
            &key,
            direction,
            Version::V1,
            Version::V1,
            ChainParams::default(),
        )
        .unwrap()
    };
    (new(Direction::A2B), new(Direction::B2A))
}

#[test]
fn alternating_thousand() {
    let (mut alice, mut bob) = pair();
    let mut rng = test_rng(9);
    let mut largest = 0;
    for i in 0..1000 {
        let (sender, receiver) = if i % 2 == 0 {
            (&mut alice, &mut bob)
        } else {
            (&mut bob, &mut alice)
        };
        let sent = sender.send(&mut rng).unwrap();
        let key = receiver.recv(sent.payload()).unwrap();
        assert!(key.as_ref() == sent.message_key());
        largest = largest.max(alice.encode().len()).max(bob.encode().len());
    }
    let (a, b) = (alice.encode().len(), bob.encode().len());
    println!(
        "1000 alternating: alice {a} bytes ({}), bob {b} bytes ({}), largest {largest}",
        alice.braid_state().unwrap(),
        bob.braid_state().unwrap()
    );
    assert!(alice.chain_epoch() >= 10, "several epochs completed");
    assert!(a <= 5685 && b <= 5096, "larger than libsignal's: {a}, {b}");
    assert!(largest <= 6327, "largest {largest} above libsignal's");
}

#[test]
fn one_way_thousand() {
    let (mut alice, mut bob) = pair();
    let mut rng = test_rng(9);
    for _ in 0..1000 {
        let sent = alice.send(&mut rng).unwrap();
        let key = bob.recv(sent.payload()).unwrap();
        assert!(key.as_ref() == sent.message_key());
    }
    let (a, b) = (alice.encode().len(), bob.encode().len());
    println!("1000 one-way: alice {a} bytes, bob {b} bytes");
    assert!(a <= 3928 && b <= 303, "larger than libsignal's: {a}, {b}");
}
