//! Replays every scenario of libsignal's `session.json`: every ciphertext hush produces
//! must equal libsignal's byte for byte, every decryption must return the recorded
//! plaintext, and every operation must draw exactly the recorded random bytes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] fns: a failed unwrap or index is a failed test"
)]

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hush_core::{IdentityKeyPair, KemKeyPair, KeyPair, PrivateKey, Signature};
use hush_ratchet::{CiphertextMessage, LocalIdentity, RemoteBundle, SessionRecord};
use hush_test_support::ReplayRng;
use hush_test_support::libsignal::session::{File, Message, Pair, Party};
use hush_x3dh::{AgreementMode, PeerPreKeys, ResponderPreKeys, TrustAll};

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn private(pair: &Pair) -> PrivateKey {
    PrivateKey::decode(&unhex(&pair.private)).unwrap()
}

/// One side of the conversation: identity, prekeys it published, its record for the peer.
struct Side {
    identity: IdentityKeyPair,
    registration_id: u32,
    signed: Option<(u32, KeyPair)>,
    one_time: Option<(u32, KeyPair)>,
    kyber: Option<(u32, KemKeyPair)>,
    record: SessionRecord,
}

impl Side {
    fn new(party: &Party) -> Self {
        let identity = IdentityKeyPair::from(private(&party.identity_key_pair));
        if let Some(serialized) = &party.identity_key_pair.serialized_pair {
            assert_eq!(hex::encode(identity.encode().as_slice()), *serialized);
        }
        let mut side = Self {
            identity,
            registration_id: party.registration_id,
            signed: None,
            one_time: None,
            kyber: None,
            record: SessionRecord::new(),
        };
        side.publish(party);
        side
    }

    fn publish(&mut self, party: &Party) {
        self.signed = party
            .signed_prekey
            .as_ref()
            .map(|s| (s.id, KeyPair::from(private(&s.key_pair))));
        self.one_time = party
            .one_time_prekey
            .as_ref()
            .map(|s| (s.id, KeyPair::from(private(&s.key_pair))));
        self.kyber = party.kyber_prekey.as_ref().map(|k| {
            (
                k.id,
                KemKeyPair::decode(&unhex(&k.public), &unhex(&k.secret)).unwrap(),
            )
        });
    }
}

fn bundle(of: &Side, party: &Party) -> RemoteBundle {
    let signed = party.signed_prekey.as_ref().unwrap();
    let kyber = party.kyber_prekey.as_ref().unwrap();
    let (_, signed_pair) = of.signed.as_ref().unwrap();
    let (_, kem_pair) = of.kyber.as_ref().unwrap();
    RemoteBundle {
        registration_id: of.registration_id,
        signed_prekey_id: signed.id,
        one_time_prekey_id: of.one_time.as_ref().map(|(id, _)| *id),
        kem_prekey_id: Some(kyber.id),
        prekeys: PeerPreKeys {
            identity_key: of.identity.identity_key(),
            signed_prekey: signed_pair.public_key(),
            signed_prekey_signature: Signature::decode(&unhex(&signed.signature)).unwrap(),
            one_time_prekey: of.one_time.as_ref().map(|(_, k)| k.public_key()),
            kem_prekey: Some((
                kem_pair.public_key().clone(),
                Signature::decode(&unhex(&kyber.signature)).unwrap(),
            )),
        },
    }
}

fn initiate(
    initiator: &mut Side,
    responder: &Side,
    responder_party: &Party,
    rng_hex: &str,
    now: SystemTime,
) {
    let bundle = bundle(responder, responder_party);
    let mut rng = ReplayRng::new(unhex(rng_hex));
    let local = LocalIdentity {
        identity: &initiator.identity,
        registration_id: initiator.registration_id,
    };
    initiator
        .record
        .initiate(
            local,
            &bundle,
            AgreementMode::Pqxdh,
            &TrustAll,
            now,
            &mut rng,
        )
        .unwrap();
    assert_eq!(
        rng.remaining(),
        0,
        "process_bundle must draw exactly the recorded bytes"
    );
    assert!(!rng.overrun());
}

#[test]
fn every_scenario_replays_byte_for_byte() {
    let file: File = hush_test_support::libsignal::load("session.json").unwrap();
    assert_eq!(file.scenarios.len(), 5);
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut total = 0;
    for scenario in &file.scenarios {
        let name = &scenario.name;
        let mut alice = Side::new(&scenario.alice);
        let mut bob = Side::new(&scenario.bob);
        initiate(
            &mut alice,
            &bob,
            &scenario.bob,
            scenario.alice.process_bundle_rng.as_deref().unwrap(),
            now,
        );

        let mut groups: BTreeMap<u32, Vec<&Message>> = BTreeMap::new();
        for message in &scenario.messages {
            groups.entry(message.group).or_default().push(message);
        }
        for (group, delivered) in groups {
            for reinit in scenario.reinit.iter().filter(|r| r.before_group == group) {
                assert_eq!(reinit.initiator, "bob");
                alice.publish(&reinit.responder_prekeys);
                initiate(
                    &mut bob,
                    &alice,
                    &reinit.responder_prekeys,
                    &reinit.process_bundle_rng,
                    now,
                );
            }
            let sender_name = &delivered[0].sender;
            let (sender, receiver) = if sender_name == "alice" {
                (&mut alice, &mut bob)
            } else {
                (&mut bob, &mut alice)
            };
            // The sender encrypts the group in send order ...
            let mut in_send_order = delivered.clone();
            in_send_order.sort_by_key(|m| m.send_seq);
            for message in &in_send_order {
                let produced = sender
                    .record
                    .encrypt(&unhex(&message.plaintext), &TrustAll, now)
                    .unwrap();
                assert_eq!(
                    produced.message_type(),
                    message.type_id,
                    "{name} seq {}",
                    message.send_seq
                );
                assert_eq!(
                    hex::encode(produced.encode()),
                    message.ciphertext,
                    "{name} seq {}: ciphertext differs from libsignal's",
                    message.send_seq
                );
            }
            // ... then the receiver decrypts in delivery order.
            for message in &delivered {
                let mut rng = ReplayRng::new(unhex(&message.receiver_rng));
                let bytes = unhex(&message.ciphertext);
                let plaintext = match CiphertextMessage::decode(message.type_id, &bytes).unwrap() {
                    CiphertextMessage::Signal(m) => {
                        receiver.record.decrypt(&m, &TrustAll, &mut rng).unwrap()
                    }
                    CiphertextMessage::PreKey(m) => {
                        let signed = receiver.signed.as_ref().unwrap();
                        assert_eq!(m.signed_pre_key_id(), signed.0);
                        let one_time = match m.pre_key_id() {
                            Some(id) => {
                                let (stored, key) = receiver.one_time.as_ref().unwrap();
                                assert_eq!(id, *stored);
                                Some(key)
                            }
                            None => None,
                        };
                        let (kem_id, kem) = receiver.kyber.as_ref().unwrap();
                        assert_eq!(m.kem_pre_key_id(), Some(*kem_id));
                        let keys = ResponderPreKeys {
                            signed_prekey: &signed.1,
                            one_time_prekey: one_time,
                            kem_prekey: Some(kem.secret_key()),
                        };
                        let local = LocalIdentity {
                            identity: &receiver.identity,
                            registration_id: receiver.registration_id,
                        };
                        receiver
                            .record
                            .decrypt_prekey(
                                &m,
                                local,
                                Some(keys),
                                AgreementMode::Pqxdh,
                                &TrustAll,
                                &mut rng,
                            )
                            .unwrap()
                            .plaintext
                    }
                };
                assert_eq!(
                    hex::encode(plaintext.as_slice()),
                    message.plaintext,
                    "{name} seq {}",
                    message.send_seq
                );
                assert_eq!(
                    rng.remaining(),
                    0,
                    "{name} seq {}: receiver drew fewer bytes than libsignal",
                    message.send_seq
                );
                assert!(
                    !rng.overrun(),
                    "{name} seq {}: receiver drew more bytes than libsignal",
                    message.send_seq
                );
                // Records survive a save/load after every message.
                let saved = receiver.record.encode();
                receiver.record = SessionRecord::decode(&saved).unwrap();
                assert_eq!(receiver.record.encode().as_slice(), saved.as_slice());
                total += 1;
            }
        }
    }
    assert_eq!(total, 47);
}
