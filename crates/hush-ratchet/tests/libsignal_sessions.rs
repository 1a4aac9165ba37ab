//! Replays every scenario of libsignal's `session.json`, v0.91.0's (SPQR off) and
//! v0.101.0's (SPQR on): every ciphertext hush produces must equal libsignal's byte for
//! byte, every decryption must return the recorded plaintext, and every operation must
//! draw exactly the recorded random bytes (encryption draws only SPQR's bytes).
//!
//! v0.101.0 runs SPQR with minimum version 1: both sides use [`SpqrPolicy::Required`],
//! with their address names as [`SessionAddresses`] when both are service ids (the
//! `service_id_addresses` scenario). v0.91.0 ran no SPQR: the initiator uses
//! [`SpqrPolicy::Off`] (no payloads, so its bytes are libsignal's) and the responder
//! [`SpqrPolicy::Allowed`] (it offers SPQR, sees a peer without it and turns it off, so
//! its answers carry no payload either).

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
use hush_ratchet::{
    CiphertextMessage, LocalIdentity, RemoteBundle, ServiceAddress, SessionAddresses,
    SessionOptions, SessionRecord, SpqrPolicy,
};
use hush_test_support::ReplayRng;
use hush_test_support::libsignal::session::{File, Message, Pair, Party, Scenario};
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
    address: Option<ServiceAddress>,
    options: SessionOptions,
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
            address: party
                .name
                .as_deref()
                .and_then(|name| ServiceAddress::parse(name, party.device_id.unwrap_or(1))),
            options: SessionOptions::default(),
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

/// Both sides' options for a session `initiator` starts: see the module docs.
fn set_options(spqr: bool, initiator: &mut Side, responder: &mut Side) {
    let (initiator_policy, responder_policy) = if spqr {
        (SpqrPolicy::Required, SpqrPolicy::Required)
    } else {
        (SpqrPolicy::Off, SpqrPolicy::Allowed)
    };
    let addresses = |local: &Side, remote: &Side| match (local.address, remote.address) {
        (Some(local), Some(remote)) => Some(SessionAddresses { local, remote }),
        _ => None,
    };
    initiator.options =
        SessionOptions::new(initiator_policy).with_addresses(addresses(initiator, responder));
    responder.options =
        SessionOptions::new(responder_policy).with_addresses(addresses(responder, initiator));
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
            initiator.options,
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

fn replay(file: &File, spqr: bool) -> usize {
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut total = 0;
    for scenario in &file.scenarios {
        total += replay_scenario(scenario, spqr, now);
    }
    total
}

fn replay_scenario(scenario: &Scenario, spqr: bool, now: SystemTime) -> usize {
    let name = &scenario.name;
    let mut total = 0;
    let mut alice = Side::new(&scenario.alice);
    let mut bob = Side::new(&scenario.bob);
    set_options(spqr, &mut alice, &mut bob);
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
    let mut reinits_done = 0;
    for (group, listed) in groups {
        // A re-initiation runs before its group, or before the next group that has
        // messages (v0.101's file names a group with none).
        let due = scenario.reinit.iter().filter(|r| r.before_group <= group);
        for reinit in due.skip(reinits_done) {
            reinits_done += 1;
            assert_eq!(reinit.initiator, "bob");
            alice.publish(&reinit.responder_prekeys);
            set_options(spqr, &mut bob, &mut alice);
            initiate(
                &mut bob,
                &alice,
                &reinit.responder_prekeys,
                &reinit.process_bundle_rng,
                now,
            );
        }
        let sender_name = &listed[0].sender;
        let (sender, receiver) = if sender_name == "alice" {
            (&mut alice, &mut bob)
        } else {
            (&mut bob, &mut alice)
        };
        // The sender encrypts the group in send order (delivered or not) ...
        let mut in_send_order = listed.clone();
        in_send_order.sort_by_key(|m| m.send_seq);
        for message in &in_send_order {
            let seq = message.send_seq;
            let mut rng = ReplayRng::new(unhex(message.sender_rng.as_deref().unwrap_or("")));
            let produced = sender
                .record
                .encrypt(
                    &unhex(&message.plaintext),
                    sender.options,
                    &TrustAll,
                    now,
                    &mut rng,
                )
                .unwrap();
            assert_eq!(produced.message_type(), message.type_id, "{name} seq {seq}");
            assert_eq!(
                hex::encode(produced.encode()),
                message.ciphertext,
                "{name} seq {seq}: ciphertext differs from libsignal's"
            );
            assert_eq!(
                (rng.remaining(), rng.overrun()),
                (0, false),
                "{name} seq {seq}: the sender must draw exactly the recorded bytes"
            );
            if let Some(fields) = &message.fields {
                let inner = match &produced {
                    CiphertextMessage::Signal(m) => m,
                    CiphertextMessage::PreKey(m) => m.message(),
                };
                assert_eq!(
                    hex::encode(inner.pq_ratchet()),
                    fields.pq_ratchet.clone().unwrap_or_default(),
                    "{name} seq {seq}: pq_ratchet"
                );
                assert_eq!(
                    inner.addresses().map(hex::encode),
                    fields.addresses,
                    "{name} seq {seq}: addresses"
                );
            }
        }
        // ... then the receiver decrypts the delivered ones in list order.
        for message in listed.iter().filter(|m| m.delivered) {
            let seq = message.send_seq;
            let mut rng = ReplayRng::new(unhex(message.receiver_rng.as_deref().unwrap()));
            let bytes = unhex(&message.ciphertext);
            let options = receiver.options;
            let plaintext = match CiphertextMessage::decode(message.type_id, &bytes).unwrap() {
                CiphertextMessage::Signal(m) => receiver
                    .record
                    .decrypt(&m, options, &TrustAll, &mut rng)
                    .unwrap(),
                CiphertextMessage::PreKey(m) => {
                    let signed = receiver.signed.as_ref().unwrap();
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
                    // Only a new session needs the prekeys (a retransmission finds its
                    // own; after a re-initiation the old ones are gone).
                    let keys = (!receiver.record.has_session_for(&m)).then(|| {
                        assert_eq!(m.signed_pre_key_id(), signed.0);
                        ResponderPreKeys {
                            signed_prekey: &signed.1,
                            one_time_prekey: one_time,
                            kem_prekey: Some(kem.secret_key()),
                        }
                    });
                    let local = LocalIdentity {
                        identity: &receiver.identity,
                        registration_id: receiver.registration_id,
                    };
                    receiver
                        .record
                        .decrypt_prekey(
                            &m,
                            local,
                            keys,
                            AgreementMode::Pqxdh,
                            options,
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
                "{name} seq {seq}"
            );
            assert_eq!(
                (rng.remaining(), rng.overrun()),
                (0, false),
                "{name} seq {seq}: the receiver must draw exactly the recorded bytes"
            );
            // Records survive a save/load after every message.
            let saved = receiver.record.encode();
            receiver.record = SessionRecord::decode(&saved).unwrap();
            assert_eq!(receiver.record.encode().as_slice(), saved.as_slice());
            total += 1;
        }
    }
    total
}

#[test]
fn every_v091_scenario_replays_byte_for_byte_without_spqr() {
    let file: File = hush_test_support::libsignal::load("session.json").unwrap();
    assert!(!file.spqr);
    assert_eq!(file.scenarios.len(), 5);
    assert_eq!(replay(&file, false), 47);
}

#[test]
fn every_v0101_scenario_replays_byte_for_byte_with_spqr() {
    let dir = hush_test_support::libsignal::v0101_vectors_dir();
    let file: File = hush_test_support::libsignal::load_from(&dir, "session.json").unwrap();
    assert!(file.spqr);
    assert_eq!(file.scenarios.len(), 8);
    let messages: usize = file.scenarios.iter().map(|s| s.messages.len()).sum();
    let undelivered = file
        .scenarios
        .iter()
        .flat_map(|s| &s.messages)
        .filter(|m| !m.delivered)
        .count();
    assert_eq!((messages, undelivered), (612, 14));
    assert_eq!(replay(&file, true), 612 - 14);
}
