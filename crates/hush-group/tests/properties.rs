//! Properties: decode(encode(x)) == x for both messages and the record, and a receiver
//! under reordering and duplication decrypts every genuine message exactly once.

// Helpers outside `#[test]` functions build fixed inputs: a failure there is a test failure.
// Hand-built wire bytes truncate small lengths and ids to bytes on purpose.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

use hush_group::{
    DistributionId, Error, SenderKeyDistributionMessage, SenderKeyMessage, SenderKeyRecord,
};
use hush_test_support::test_rng;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn messages_round_trip(
        id in any::<[u8; 16]>(),
        seed in any::<u64>(),
        skip in 0..20usize,
        plaintext in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let id = DistributionId::from_bytes(id);
        let mut rng = test_rng(seed);
        let mut sender = SenderKeyRecord::new(id);
        let first = sender.create_distribution(&mut rng);
        for _ in 0..skip {
            sender.encrypt(b"", &mut rng).unwrap();
        }
        let skdm = sender.create_distribution(&mut rng);
        prop_assert_eq!(skdm.chain_id(), first.chain_id());
        let decoded = SenderKeyDistributionMessage::decode(skdm.as_bytes()).unwrap();
        prop_assert_eq!(&decoded, &skdm);
        prop_assert_eq!(
            (decoded.distribution_id(), decoded.chain_id(), decoded.iteration(), decoded.signing_key()),
            (id, skdm.chain_id(), skip as u32, skdm.signing_key())
        );

        let message = sender.encrypt(&plaintext, &mut rng).unwrap();
        let decoded = SenderKeyMessage::decode(message.as_bytes()).unwrap();
        prop_assert_eq!(&decoded, &message);
        prop_assert_eq!(decoded.iteration(), skip as u32);
        prop_assert_eq!(decoded.ciphertext().len(), (plaintext.len() / 16 + 1) * 16);

        let mut receiver = SenderKeyRecord::new(id);
        receiver.process_distribution(&decoded_skdm(&skdm)).unwrap();
        prop_assert_eq!(&*receiver.decrypt(&decoded).unwrap(), &plaintext[..]);
    }

    #[test]
    fn reordered_and_duplicated_delivery(
        seed in any::<u64>(),
        count in 1..30usize,
        order in proptest::collection::vec(any::<prop::sample::Index>(), 1..60),
    ) {
        let id = DistributionId::from_bytes([9; 16]);
        let mut rng = test_rng(seed);
        let mut sender = SenderKeyRecord::new(id);
        let skdm = sender.create_distribution(&mut rng);
        let messages: Vec<_> = (0..count)
            .map(|i| sender.encrypt(format!("message {i}").as_bytes(), &mut rng).unwrap())
            .collect();

        let mut receiver = SenderKeyRecord::new(id);
        receiver.process_distribution(&skdm).unwrap();
        let mut seen = vec![false; count];
        for index in order.iter().map(|i| i.index(count)) {
            let before = receiver.encode();
            match receiver.decrypt(&messages[index]) {
                Ok(plaintext) => {
                    prop_assert!(!seen[index], "message {} decrypted twice", index);
                    let expected = format!("message {index}");
                    prop_assert_eq!(&*plaintext, expected.as_bytes());
                    seen[index] = true;
                }
                Err(Error::DuplicateMessage { iteration, .. }) => {
                    prop_assert!(seen[index]);
                    prop_assert_eq!(iteration as usize, index);
                    prop_assert_eq!(receiver.encode(), before);
                }
                Err(other) => prop_assert!(false, "unexpected {}", other),
            }
            // The record round-trips at every step.
            let encoded = receiver.encode();
            prop_assert_eq!(SenderKeyRecord::decode(&encoded).unwrap().encode(), encoded);
        }
        // Whatever was not delivered yet still decrypts.
        for (index, message) in messages.iter().enumerate() {
            if !seen[index] {
                let expected = format!("message {index}");
                prop_assert_eq!(&*receiver.decrypt(message).unwrap(), expected.as_bytes());
            }
        }
    }

    #[test]
    fn records_round_trip(
        seeds in proptest::collection::vec(any::<u64>(), 1..8),
        sends in proptest::collection::vec(0..5usize, 0..12),
    ) {
        let id = DistributionId::from_bytes([5; 16]);
        // A receiver holding several senders' chains (more than fit: eviction), with
        // skipped keys, and our own chain in another record.
        let mut receiver = SenderKeyRecord::new(id);
        let mut senders = Vec::new();
        for seed in &seeds {
            let mut sender = SenderKeyRecord::new(id);
            let skdm = sender.create_distribution(&mut test_rng(*seed));
            receiver.process_distribution(&skdm).unwrap();
            senders.push(sender);
        }
        let mut rng = test_rng(0);
        let mut sent = Vec::new();
        for which in sends {
            let sender = &mut senders[which % seeds.len()];
            sent.push(sender.encrypt(b"x", &mut rng).unwrap());
        }
        for message in sent.iter().step_by(2) {
            let _ = receiver.decrypt(message);
        }
        for record in [&receiver, &senders[0]] {
            let encoded = record.encode();
            let decoded = SenderKeyRecord::decode(&encoded).unwrap();
            prop_assert_eq!(decoded.encode(), encoded.clone());
            prop_assert_eq!(decoded.chain_ids().collect::<Vec<_>>(), record.chain_ids().collect::<Vec<_>>());
            prop_assert_eq!(decoded.sending_chain_id(), record.sending_chain_id());
        }
    }
}

fn decoded_skdm(skdm: &SenderKeyDistributionMessage) -> SenderKeyDistributionMessage {
    SenderKeyDistributionMessage::decode(skdm.as_bytes()).unwrap()
}
