//! hush-group against the sender-key conversations libsignal v0.91.0 recorded
//! (`test-vectors/libsignal/sender_key.json`; schema in that directory's README).
//!
//! The sender side is rebuilt from the recorded random bytes through the real API and
//! must reproduce every byte libsignal wrote; the receiver side must read libsignal's
//! messages in libsignal's delivery order and refuse the duplicate.

// Helpers outside `#[test]` functions load fixed files: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::panic, clippy::cast_possible_truncation)]

use hush_core::{PrivateKey, PublicKey};
use hush_group::{
    DistributionId, Error, SenderKeyDistributionMessage, SenderKeyMessage, SenderKeyRecord,
};
use hush_test_support::ReplayRng;
use hush_test_support::libsignal::sender_key::{File, Message};

fn load() -> File {
    hush_test_support::libsignal::load("sender_key.json").unwrap()
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

#[test]
fn vectors_are_the_expected_set() {
    let file = load();
    assert_eq!(file.sessions.len(), 2);
    for session in &file.sessions {
        assert!(session.messages_in_delivery_order.len() >= 10);
        assert!(session.duplicate_of_iteration_3_rejected);
        // The chain key is the low byte of each of the 32 u32 draws after the chain id's
        // (README: random::<[u8; 32]>()), and the signing key the last 32 bytes.
        let rng = unhex(&session.skdm.creation_rng);
        assert_eq!(rng.len(), 164);
        let low_bytes: Vec<u8> = rng[4..132].iter().step_by(4).copied().collect();
        assert_eq!(hex::encode(low_bytes), session.skdm.chain_key);
        let private = PrivateKey::decode(&unhex(&session.signing_key_private)).unwrap();
        assert_eq!(
            private.public_key(),
            PublicKey::decode(&unhex(&session.skdm.signing_key)).unwrap()
        );
    }
}

#[test]
fn sender_reproduces_libsignal_byte_for_byte() {
    for session in load().sessions {
        let id: DistributionId = session.distribution_id.parse().unwrap();
        let mut record = SenderKeyRecord::new(id);

        let mut rng = ReplayRng::new(unhex(&session.skdm.creation_rng));
        let skdm = record.create_distribution(&mut rng);
        assert_eq!(
            (rng.remaining(), rng.overrun()),
            (0, false),
            "{id}: creation draws"
        );
        assert_eq!(
            hex::encode(skdm.as_bytes()),
            session.skdm.serialized,
            "{id}: SKDM bytes"
        );
        assert_eq!(skdm.chain_id(), session.skdm.chain_id);
        assert_eq!(skdm.iteration(), session.skdm.iteration);
        assert_eq!(skdm.message_version(), session.skdm.message_version);
        assert_eq!(
            hex::encode(skdm.signing_key().encode()),
            session.skdm.signing_key
        );
        assert_eq!(record.sending_chain_id(), Some(session.skdm.chain_id));

        // A later call returns the same chain without drawing.
        let mut empty = ReplayRng::new(Vec::new());
        assert_eq!(record.create_distribution(&mut empty), skdm);
        assert!(!empty.overrun());

        let mut by_iteration: Vec<&Message> = session.messages_in_delivery_order.iter().collect();
        by_iteration.sort_by_key(|m| m.iteration);
        for (expected_iteration, message) in by_iteration.iter().enumerate() {
            assert_eq!(
                message.iteration as usize, expected_iteration,
                "{id}: iterations 0..n"
            );
            let mut rng = ReplayRng::new(unhex(&message.sender_rng));
            let encrypted = record
                .encrypt(&unhex(&message.plaintext), &mut rng)
                .unwrap();
            assert_eq!(
                (rng.remaining(), rng.overrun()),
                (0, false),
                "{id}: encrypt draws"
            );
            assert_eq!(
                hex::encode(encrypted.as_bytes()),
                message.serialized,
                "{id} iteration {}: message bytes",
                message.iteration
            );
            assert_eq!(hex::encode(encrypted.ciphertext()), message.ciphertext);
            assert_eq!(encrypted.chain_id(), message.chain_id);
            assert_eq!(encrypted.iteration(), message.iteration);
        }
        // The distribution message now carries the current iteration, as libsignal's.
        let later = record.create_distribution(&mut ReplayRng::new(Vec::new()));
        assert_eq!(later.iteration(), by_iteration.len() as u32);
        assert_eq!(later.chain_id(), skdm.chain_id());
    }
}

#[test]
fn receiver_decrypts_libsignal_messages_in_delivery_order() {
    for session in load().sessions {
        let skdm = SenderKeyDistributionMessage::decode(&unhex(&session.skdm.serialized)).unwrap();
        assert_eq!(skdm.distribution_id().to_string(), session.distribution_id);
        assert_eq!(skdm.chain_id(), session.skdm.chain_id);
        assert_eq!(skdm.iteration(), session.skdm.iteration);
        assert_eq!(hex::encode(skdm.as_bytes()), session.skdm.serialized);

        let mut record = SenderKeyRecord::new(skdm.distribution_id());
        record.process_distribution(&skdm).unwrap();

        let mut decrypted = Vec::new();
        for message in &session.messages_in_delivery_order {
            let bytes = unhex(&message.serialized);
            let parsed = SenderKeyMessage::decode(&bytes).unwrap();
            assert_eq!(parsed.as_bytes(), &bytes[..]);
            assert_eq!(parsed.distribution_id(), skdm.distribution_id());
            assert_eq!(parsed.chain_id(), message.chain_id);
            assert_eq!(parsed.iteration(), message.iteration);
            assert_eq!(parsed.message_version(), message.message_version);
            assert_eq!(hex::encode(parsed.ciphertext()), message.ciphertext);
            let before = record.encode();
            match record.decrypt(&parsed) {
                Ok(plaintext) => {
                    assert!(message.decrypts, "{message:?} should not decrypt");
                    assert_eq!(hex::encode(&*plaintext), message.plaintext, "{message:?}");
                    decrypted.push(message.iteration);
                }
                Err(e) => {
                    assert!(!message.decrypts, "{message:?}: {e}");
                    assert_eq!(record.encode(), before);
                }
            }
        }
        assert!(!decrypted.contains(&session.never_delivered_iteration));

        // The duplicate of iteration 3 is refused as a duplicate, changing nothing.
        let third = session
            .messages_in_delivery_order
            .iter()
            .find(|m| m.iteration == 3)
            .unwrap();
        let duplicate = SenderKeyMessage::decode(&unhex(&third.serialized)).unwrap();
        let before = record.encode();
        assert_eq!(
            record.decrypt(&duplicate).unwrap_err(),
            Error::DuplicateMessage {
                chain_id: session.skdm.chain_id,
                iteration: 3
            }
        );
        assert_eq!(record.encode(), before);
    }
}
