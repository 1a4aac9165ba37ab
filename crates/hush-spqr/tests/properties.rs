//! Properties: the erasure code decodes from any `n` distinct chunks and from no fewer;
//! payloads and states round-trip and decoding them never panics; two parties under loss,
//! reordering and duplication agree on every key and keep completing epochs.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests: a failed unwrap or index is a failed test"
)]

mod common;

use common::{Message, pair};
use hush_spqr::erasure::{Chunk, Decoder, encode_chunk};
use hush_spqr::{Error, Payload, PayloadKind, SpqrState};
use proptest::prelude::*;

fn kind_strategy() -> impl Strategy<Value = PayloadKind> {
    (0u8..7, any::<u16>(), any::<[u8; 32]>()).prop_map(|(t, index, data)| {
        let chunk = Chunk::new(index, data);
        match t {
            0 => PayloadKind::None,
            1 => PayloadKind::Hdr(chunk),
            2 => PayloadKind::Ek(chunk),
            3 => PayloadKind::EkCt1Ack(chunk),
            4 => PayloadKind::Ct1Ack,
            5 => PayloadKind::Ct1(chunk),
            _ => PayloadKind::Ct2(chunk),
        }
    })
}

/// Delivers a genuine message: it must give the sender's key, unless it is so late that
/// its chain epoch is no longer kept (two or more epochs behind the receiver's newest).
fn deliver(me: &mut common::Party, message: &Message) -> Result<(), TestCaseError> {
    match me.receive(&message.payload) {
        Ok(key) => prop_assert_eq!(key, message.key),
        Err(Error::EpochOutOfRange { epoch }) => {
            prop_assert!(
                epoch + 2 <= me.state.chain_epoch(),
                "epoch {} refused",
                epoch
            );
        }
        Err(error) => prop_assert!(false, "genuine message refused: {}", error),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_n_distinct_chunks_decode_and_fewer_do_not(
        count in prop::sample::select(vec![1usize, 3, 5, 30, 36, 64]),
        message_seed in any::<u64>(),
        indices in prop::collection::btree_set(any::<u16>(), 64..=64),
        order_seed in any::<u64>(),
        duplicates in 0usize..4,
    ) {
        let mut state = message_seed | 1;
        let message: Vec<u8> = (0..count * 32)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[0]
            })
            .collect();
        // `count` distinct indices in a seeded order, with some repeated.
        let mut chosen: Vec<u16> = indices.into_iter().take(count).collect();
        let mut shuffle = order_seed;
        for i in (1..chosen.len()).rev() {
            shuffle = shuffle.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let j = usize::try_from(shuffle >> 33).unwrap() % (i + 1);
            chosen.swap(i, j);
        }
        let mut decoder = Decoder::new(message.len()).unwrap();
        let mut decoded = None;
        for (position, &index) in chosen.iter().enumerate() {
            let chunk = encode_chunk(&message, index).unwrap();
            if position + 1 < count {
                prop_assert!(decoder.decode_with(&chunk).is_none(), "decoded from {} chunks", position + 1);
                prop_assert!(decoder.add(&chunk));
                for _ in 0..duplicates.min(position + 1) {
                    // A chunk already held, again: still not enough.
                    let again = encode_chunk(&message, chosen[0]).unwrap();
                    prop_assert!(decoder.decode_with(&again).is_none());
                    prop_assert!(decoder.add(&again));
                }
                prop_assert_eq!(decoder.held().len(), position + 1);
            } else {
                decoded = decoder.decode_with(&chunk);
            }
        }
        prop_assert_eq!(decoded.as_deref(), Some(&message[..]));
    }

    #[test]
    fn payloads_round_trip(epoch in 1u64.., index in any::<u32>(), kind in kind_strategy()) {
        let payload = Payload::new(epoch, index, kind).unwrap();
        let bytes = payload.encode();
        prop_assert_eq!(Payload::decode(bytes.as_bytes()).unwrap(), payload);
    }

    #[test]
    fn payload_decoding_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(payload) = Payload::decode(&bytes) {
            let again = Payload::decode(payload.encode().as_bytes()).unwrap();
            prop_assert_eq!(again, payload);
        }
    }

    #[test]
    fn lossy_reordering_network_agrees_on_every_key(
        seed in any::<u64>(),
        ops in prop::collection::vec((0u8..100, any::<u16>()), 200..400),
    ) {
        let (mut alice, mut bob) = pair(seed);
        let mut to_bob: Vec<Message> = Vec::new();
        let mut to_alice: Vec<Message> = Vec::new();
        let mut delivered = 0;
        for (op, pick) in ops {
            let alice_turn = pick % 2 == 0;
            let (me, inbox, outbox) = if alice_turn {
                (&mut alice, &mut to_alice, &mut to_bob)
            } else {
                (&mut bob, &mut to_bob, &mut to_alice)
            };
            match op {
                0..=39 => {
                    let message = me.send();
                    if op >= 5 {
                        outbox.push(message); // 1 in 8 sends is lost
                    }
                }
                40..=94 if !inbox.is_empty() => {
                    let at = usize::from(pick / 2) % inbox.len();
                    let at = if op < 70 { 0 } else { at }; // mostly in order
                    let message = inbox.remove(at);
                    deliver(me, &message)?;
                    delivered += 1;
                    if op >= 90 && me.receive(&message.payload).is_err() {
                        // Refused again (checked by `receive`: nothing changed).
                    } else if op >= 90 {
                        prop_assert!(false, "a message was accepted twice");
                    }
                }
                95..=99 => me.reload(),
                _ => {}
            }
        }
        prop_assert!(delivered > 0);
        // Then a clean lockstep run: the braid must still complete epochs.
        let start = alice.state.chain_epoch().min(bob.state.chain_epoch());
        for m in to_bob.drain(..) {
            deliver(&mut bob, &m)?;
        }
        for m in to_alice.drain(..) {
            deliver(&mut alice, &m)?;
        }
        for _ in 0..200 {
            common::exchange(&mut alice, &mut bob);
        }
        prop_assert!(alice.state.chain_epoch().min(bob.state.chain_epoch()) >= start + 2);
    }

    #[test]
    fn state_decoding_never_panics_and_round_trips(
        seed in any::<u64>(),
        rounds in 0usize..200,
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let (mut alice, mut bob) = pair(seed);
        for _ in 0..rounds / 2 {
            common::exchange(&mut alice, &mut bob);
        }
        if rounds % 2 == 1 {
            let _ = alice.send();
        }
        for state in [&alice.state, &bob.state] {
            let bytes = state.encode();
            let mut mutated = bytes.to_vec();
            for (at, mask) in &flips {
                let i = at.index(mutated.len());
                mutated[i] ^= mask;
            }
            for input in [&mutated[..], &bytes[..cut.index(bytes.len())]] {
                if let Ok(decoded) = SpqrState::decode(input) {
                    let encoded = decoded.encode();
                    prop_assert_eq!(&*SpqrState::decode(&encoded).unwrap().encode(), &*encoded);
                }
            }
        }
    }
}
