//! Record internals: limits at their edges, eviction, and the record decoder's checks.
//! Tests that need only the public API are in `tests/`.

// The limits are small constants; converting them for loops cannot truncate.
#![allow(clippy::cast_possible_truncation)]

use hush_test_support::test_rng;

use super::*;

fn id() -> DistributionId {
    DistributionId::from_bytes([7; 16])
}

/// A sender with a fresh chain, and a receiver that processed its distribution message.
fn sender_and_receiver(
    seed: u64,
) -> (
    SenderKeyRecord,
    SenderKeyRecord,
    SenderKeyDistributionMessage,
) {
    let mut rng = test_rng(seed);
    let mut sender = SenderKeyRecord::new(id());
    let skdm = sender.create_distribution(&mut rng);
    let mut receiver = SenderKeyRecord::new(id());
    receiver.process_distribution(&skdm).unwrap();
    (sender, receiver, skdm)
}

fn advance(mut chain: ChainKey, steps: u32) -> ChainKey {
    for _ in 0..steps {
        chain = chain.next().unwrap();
    }
    chain
}

/// The sender's message at `iteration` (its chain jumped there), leaving `sender` as is.
fn message_at(sender: &SenderKeyRecord, iteration: u32, plaintext: &[u8]) -> SenderKeyMessage {
    let mut jumped = sender.clone();
    let state = jumped.states.front_mut().unwrap();
    let start = state.chain_key.iteration();
    state.chain_key = advance(state.chain_key.clone(), iteration - start);
    jumped
        .encrypt(plaintext, &mut test_rng(u64::from(iteration)))
        .unwrap()
}

fn front(record: &SenderKeyRecord) -> &SenderKeyState {
    record.states.front().unwrap()
}

#[test]
fn forward_jump_of_exactly_the_limit_is_accepted() {
    let (sender, mut receiver, _) = sender_and_receiver(1);
    let message = message_at(&sender, MAX_FORWARD_JUMP, b"far");
    assert_eq!(&*receiver.decrypt(&message).unwrap(), b"far");
    let state = front(&receiver);
    assert_eq!(state.chain_key.iteration(), MAX_FORWARD_JUMP + 1);
    assert_eq!(state.skipped.len(), MAX_SKIPPED_MESSAGE_KEYS);
    assert_eq!(
        state.skipped.front().unwrap().iteration(),
        MAX_FORWARD_JUMP - 2_000
    );
    assert_eq!(
        state.skipped.back().unwrap().iteration(),
        MAX_FORWARD_JUMP - 1
    );
}

#[test]
fn forward_jump_beyond_the_limit_is_refused_without_change() {
    let (sender, mut receiver, _) = sender_and_receiver(2);
    let message = message_at(&sender, MAX_FORWARD_JUMP + 1, b"too far");
    let before = receiver.encode();
    assert_eq!(
        receiver.decrypt(&message).unwrap_err(),
        Error::TooFarInFuture {
            chain_id: message.chain_id(),
            iteration: MAX_FORWARD_JUMP + 1,
            next_expected: 0
        }
    );
    assert_eq!(receiver.encode(), before);
}

#[test]
fn skipped_keys_keep_the_newest_and_match_a_naive_chain() {
    let (sender, mut receiver, skdm) = sender_and_receiver(3);
    let message = message_at(&sender, 2_500, b"2500");
    assert_eq!(&*receiver.decrypt(&message).unwrap(), b"2500");

    // The stored seeds are exactly those of iterations 500..2500 of the chain.
    let mut chain = advance(skdm.chain_key(), 500);
    for stored in &front(&receiver).skipped {
        let (seed, next) = chain.step().unwrap();
        assert_eq!(stored.iteration(), seed.iteration());
        assert_eq!(stored.seed(), seed.seed());
        chain = next;
    }
    assert_eq!(chain.iteration(), 2_500);

    // Iteration 499's key was discarded: it reads as a duplicate, as in libsignal.
    let old = message_at(&sender, 499, b"499");
    let before = receiver.encode();
    assert_eq!(
        receiver.decrypt(&old).unwrap_err(),
        Error::DuplicateMessage {
            chain_id: skdm.chain_id(),
            iteration: 499
        }
    );
    assert_eq!(receiver.encode(), before);
    // Iteration 500 is still there, once.
    let kept = message_at(&sender, 500, b"500");
    assert_eq!(&*receiver.decrypt(&kept).unwrap(), b"500");
    assert_eq!(front(&receiver).skipped.len(), MAX_SKIPPED_MESSAGE_KEYS - 1);
    assert!(matches!(
        receiver.decrypt(&kept),
        Err(Error::DuplicateMessage { .. })
    ));
}

#[test]
fn skipped_keys_over_several_jumps_stay_bounded_and_ascending() {
    let (sender, mut receiver, _) = sender_and_receiver(4);
    for iteration in [1_500, 3_000, 3_001, 4_200] {
        receiver
            .decrypt(&message_at(&sender, iteration, b"x"))
            .unwrap();
        let skipped = &front(&receiver).skipped;
        assert!(skipped.len() <= MAX_SKIPPED_MESSAGE_KEYS);
        assert!(
            skipped
                .iter()
                .zip(skipped.iter().skip(1))
                .all(|(a, b)| a.iteration() < b.iteration())
        );
    }
    // Stored: 0..1500, 1501..3000, 3002..4200 (3 198 keys); the newest 2 000 start at
    // 1501 + (1 198 - 501) = 2198.
    assert_eq!(front(&receiver).skipped.front().unwrap().iteration(), 2_198);
}

#[test]
fn chain_exhaustion_is_an_error_not_a_panic() {
    let mut rng = test_rng(5);
    let mut sender = SenderKeyRecord::new(id());
    let skdm = sender.create_distribution(&mut rng);
    let last_key = [9; 32];
    sender.states.front_mut().unwrap().chain_key = ChainKey::new(u32::MAX, last_key);
    let before = sender.encode();
    assert_eq!(
        sender.encrypt(b"x", &mut rng).unwrap_err(),
        Error::ChainExhausted
    );
    assert_eq!(sender.encode(), before);

    // A receiver told (by a distribution message) that the chain is at its last
    // iteration cannot decrypt there either.
    let at_end = SenderKeyDistributionMessage::new(
        3,
        id(),
        skdm.chain_id(),
        &ChainKey::new(u32::MAX, last_key),
        *skdm.signing_key(),
    );
    let mut receiver = SenderKeyRecord::new(id());
    receiver.process_distribution(&at_end).unwrap();
    let signing = front(&sender).signing_private.clone().unwrap();
    let message = SenderKeyMessage::new_signed(
        3,
        id(),
        skdm.chain_id(),
        u32::MAX,
        vec![0; 16],
        &signing,
        &mut rng,
    );
    let before = receiver.encode();
    assert_eq!(
        receiver.decrypt(&message).unwrap_err(),
        Error::ChainExhausted
    );
    assert_eq!(receiver.encode(), before);
}

#[test]
fn a_version_other_than_the_chains_is_refused() {
    let (mut sender, mut receiver, _) = sender_and_receiver(6);
    let message = sender.encrypt(b"v", &mut test_rng(0)).unwrap();
    receiver.states.front_mut().unwrap().message_version = 4;
    assert_eq!(
        receiver.decrypt(&message).unwrap_err(),
        Error::UnknownVersion(3)
    );
}

#[test]
fn full_record_evicts_the_oldest_chain() {
    let mut receiver = SenderKeyRecord::new(id());
    let mut chain_ids = Vec::new();
    for seed in 0..=MAX_SENDER_KEY_STATES as u64 {
        let skdm = SenderKeyRecord::new(id()).create_distribution(&mut test_rng(100 + seed));
        receiver.process_distribution(&skdm).unwrap();
        chain_ids.push(skdm.chain_id());
    }
    let held: Vec<u32> = receiver.chain_ids().collect();
    let expected: Vec<u32> = chain_ids
        .iter()
        .rev()
        .take(MAX_SENDER_KEY_STATES)
        .copied()
        .collect();
    assert_eq!(held, expected);
}

#[test]
fn same_chain_id_with_another_key_replaces_the_chain() {
    let (_, mut receiver, skdm) = sender_and_receiver(7);
    let other_key = PrivateKey::generate(&mut test_rng(8)).public_key();
    let impostor = SenderKeyDistributionMessage::new(
        3,
        id(),
        skdm.chain_id(),
        &ChainKey::new(0, [1; 32]),
        other_key,
    );
    receiver.process_distribution(&impostor).unwrap();
    assert_eq!(receiver.states.len(), 1);
    assert_eq!(front(&receiver).signing_public, other_key);
}

#[test]
fn processing_moves_a_known_chain_to_the_front_unchanged() {
    let (mut first_sender, mut receiver, first) = sender_and_receiver(9);
    let message = first_sender.encrypt(b"one", &mut test_rng(1)).unwrap();
    receiver.decrypt(&message).unwrap();
    let second = SenderKeyRecord::new(id()).create_distribution(&mut test_rng(10));
    receiver.process_distribution(&second).unwrap();
    assert_eq!(
        receiver.chain_ids().collect::<Vec<_>>(),
        [second.chain_id(), first.chain_id()]
    );

    receiver.process_distribution(&first).unwrap();
    assert_eq!(
        receiver.chain_ids().collect::<Vec<_>>(),
        [first.chain_id(), second.chain_id()]
    );
    // Not rewound: iteration 0 is still a duplicate.
    assert_eq!(front(&receiver).chain_key.iteration(), 1);
}

fn record_bytes(record: &wire::RecordV1) -> Vec<u8> {
    let mut out = vec![RECORD_FORMAT_VERSION];
    out.extend_from_slice(&record.encode_to_vec());
    out
}

/// A valid record in wire form: our own chain plus a received chain with skipped keys.
fn valid_wire_record() -> wire::RecordV1 {
    let (sender, mut receiver, _) = sender_and_receiver(11);
    receiver.decrypt(&message_at(&sender, 3, b"3")).unwrap();
    let mut own_record = SenderKeyRecord::new(id());
    own_record.create_distribution(&mut test_rng(13));
    let mut states: Vec<wire::StateV1> = receiver
        .states
        .iter()
        .map(SenderKeyState::to_wire)
        .collect();
    states.extend(own_record.states.iter().map(SenderKeyState::to_wire));
    wire::RecordV1 {
        distribution_id: id().as_bytes().to_vec(),
        states,
    }
}

#[test]
fn record_decoder_accepts_what_it_writes() {
    let wire = valid_wire_record();
    let bytes = record_bytes(&wire);
    let record = SenderKeyRecord::decode(&bytes).unwrap();
    assert_eq!(*record.encode(), bytes);
    assert_eq!(record.states.len(), 2);
    assert_eq!(front(&record).skipped.len(), 3);
    assert!(record.states.back().unwrap().is_ours());
}

#[test]
fn record_decoder_refuses_broken_invariants() {
    type Mutation = fn(&mut wire::RecordV1);
    let cases: &[(&str, Mutation)] = &[
        ("short distribution id", |r| r.distribution_id.truncate(15)),
        ("too many states", |r| {
            let extra: Vec<_> = (0..5u32)
                .map(|i| {
                    let mut s = r.states[0].clone();
                    s.chain_id = 1_000 + i;
                    s
                })
                .collect();
            r.states.extend(extra);
        }),
        ("duplicate chain id", |r| {
            let chain_id = r.states[0].chain_id;
            r.states[1].chain_id = chain_id;
        }),
        ("message version", |r| r.states[0].message_version = 2),
        ("short chain key", |r| r.states[0].chain_key.truncate(31)),
        ("public key type", |r| r.states[0].signing_public[0] = 0x06),
        ("short public key", |r| {
            r.states[0].signing_public.truncate(32)
        }),
        ("short private key", |r| {
            r.states[1].signing_private.truncate(31)
        }),
        ("private key of another public key", |r| {
            let other = r.states[0].signing_public.clone();
            r.states[1].signing_public = other;
        }),
        ("skipped keys not ascending", |r| {
            r.states[0].skipped_keys.swap(0, 1)
        }),
        ("skipped key repeated", |r| {
            let again = r.states[0].skipped_keys[0].clone();
            r.states[0].skipped_keys.insert(0, again);
        }),
        ("skipped key at the chain's iteration", |r| {
            let iteration = r.states[0].iteration;
            r.states[0].skipped_keys.push(wire::SkippedKeyV1 {
                iteration,
                seed: vec![0; 32],
            });
        }),
        ("short skipped seed", |r| {
            r.states[0].skipped_keys[1].seed.truncate(31)
        }),
        ("too many skipped keys", |r| {
            let state = &mut r.states[0];
            state.iteration = 5_000;
            state.skipped_keys = (0..=MAX_SKIPPED_MESSAGE_KEYS as u32)
                .map(|iteration| wire::SkippedKeyV1 {
                    iteration,
                    seed: vec![1; 32],
                })
                .collect();
        }),
    ];
    for (what, mutate) in cases {
        let mut wire = valid_wire_record();
        mutate(&mut wire);
        assert!(
            matches!(
                SenderKeyRecord::decode(&record_bytes(&wire)),
                Err(Error::Malformed(_))
            ),
            "{what}"
        );
    }
}

#[test]
fn record_decoder_refuses_bad_framing() {
    let good = record_bytes(&valid_wire_record());
    assert_eq!(
        SenderKeyRecord::decode(&[]).unwrap_err(),
        Error::Malformed("sender key record")
    );
    let mut other_format = good.clone();
    other_format[0] = 3;
    assert_eq!(
        SenderKeyRecord::decode(&other_format).unwrap_err(),
        Error::UnknownVersion(3)
    );
    assert!(matches!(
        SenderKeyRecord::decode(&good[..good.len() - 1]),
        Err(Error::Malformed(_))
    ));
    let mut huge = good;
    huge.resize(MAX_RECORD_LEN + 1, 0);
    assert_eq!(
        SenderKeyRecord::decode(&huge).unwrap_err(),
        Error::Malformed("sender key record")
    );
    // A record with no state is valid (a receiver before any distribution message).
    let empty = SenderKeyRecord::new(id());
    assert!(SenderKeyRecord::decode(&empty.encode()).unwrap().is_empty());
}

fn identity(seed: u64) -> IdentityKey {
    hush_core::IdentityKeyPair::generate(&mut test_rng(seed)).identity_key()
}

/// A chain bound to the device that distributed it: a thief who kept a replaced device's
/// chain cannot post under the address the new device (another identity key) took.
#[test]
fn a_chain_decrypts_only_from_the_identity_that_distributed_it() {
    let (old_laptop, new_laptop) = (identity(1), identity(2));
    let mut rng = test_rng(3);
    let mut thief = SenderKeyRecord::new(id());
    let skdm = thief.create_distribution(&mut rng);
    let mut receiver = SenderKeyRecord::new(id());
    receiver
        .process_distribution_from(&skdm, &old_laptop)
        .unwrap();
    let first = thief.encrypt(b"before", &mut rng).unwrap();
    assert_eq!(
        &*receiver.decrypt_from(&first, &old_laptop).unwrap(),
        b"before"
    );

    // The address now belongs to the new laptop: the old chain is refused, unchanged.
    let forged = thief.encrypt(b"pay me", &mut rng).unwrap();
    let before = receiver.encode();
    assert_eq!(
        receiver.decrypt_from(&forged, &new_laptop).unwrap_err(),
        Error::DistributorMismatch {
            distribution_id: id(),
            chain_id: skdm.chain_id(),
        }
    );
    assert_eq!(*receiver.encode(), *before);

    // The new laptop distributes its own chain: the old one is dropped with it, so even a
    // message naming the old key finds nothing.
    let mut laptop = SenderKeyRecord::new(id());
    let new_skdm = laptop.create_distribution(&mut test_rng(4));
    receiver
        .process_distribution_from(&new_skdm, &new_laptop)
        .unwrap();
    assert_eq!(
        receiver.chain_ids().collect::<Vec<_>>(),
        [new_skdm.chain_id()]
    );
    assert!(matches!(
        receiver.decrypt_from(&forged, &old_laptop),
        Err(Error::NoSenderKeyState { .. })
    ));
    let genuine = laptop.encrypt(b"hi", &mut test_rng(5)).unwrap();
    assert_eq!(
        &*receiver.decrypt_from(&genuine, &new_laptop).unwrap(),
        b"hi"
    );

    // The binding survives encoding.
    let reloaded = SenderKeyRecord::decode(&receiver.encode()).unwrap();
    assert_eq!(front(&reloaded).distributor, Some(new_laptop));
}

/// A chain stored without its distributor (libsignal's way, or format 1) is not trusted
/// for a bound decrypt: the app asks for the distribution message again.
#[test]
fn an_unbound_chain_asks_for_a_resend() {
    let (sender, mut receiver, _) = sender_and_receiver(21);
    let message = message_at(&sender, 0, b"x");
    let before = receiver.encode();
    assert!(matches!(
        receiver.decrypt_from(&message, &identity(22)),
        Err(Error::NoSenderKeyState { .. })
    ));
    assert_eq!(*receiver.encode(), *before);
    // Format 1 bytes still decode, unbound.
    let mut old = record_bytes(&valid_wire_record());
    old[0] = RECORD_FORMAT_V1;
    let decoded = SenderKeyRecord::decode(&old).unwrap();
    assert!(decoded.states.iter().all(|s| s.distributor.is_none()));
    assert_eq!(*decoded.encode(), *record_bytes(&valid_wire_record()));
}

#[test]
fn record_decoder_checks_distributors() {
    let bound = |wire: &mut wire::RecordV1, which: usize| {
        wire.states[which].distributor = identity(31).encode().to_vec();
    };
    let mut ok = valid_wire_record();
    bound(&mut ok, 0);
    let record = SenderKeyRecord::decode(&record_bytes(&ok)).unwrap();
    assert_eq!(front(&record).distributor, Some(identity(31)));

    let what = Error::Malformed("sender key record state");
    let mut on_our_own = valid_wire_record();
    bound(&mut on_our_own, 1);
    assert_eq!(
        SenderKeyRecord::decode(&record_bytes(&on_our_own)).unwrap_err(),
        what
    );
    let mut bad_key = valid_wire_record();
    bad_key.states[0].distributor = vec![0x05; 32];
    assert_eq!(
        SenderKeyRecord::decode(&record_bytes(&bad_key)).unwrap_err(),
        what
    );
    let mut in_format_1 = record_bytes(&ok);
    in_format_1[0] = RECORD_FORMAT_V1;
    assert_eq!(SenderKeyRecord::decode(&in_format_1).unwrap_err(), what);
}
