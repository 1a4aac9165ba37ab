//! Replays every scenario of libsignal v0.101.0's `session.json`
//! (`test-vectors/libsignal-v0101/`) through `hush-spqr`.
//!
//! For each scenario the SPQR auth key comes from PQXDH, run with `hush-x3dh` on the
//! scenario's recorded keys and random bytes (both sides, which must agree). Alice starts
//! as A2B, Bob as B2A, both at version 1 with minimum version 1, as v0.101 does. Then, in
//! the file's replay order (groups in turn; in a group the sender sends every message in
//! `send_seq` order, then the receiver receives the delivered ones in list order):
//!
//! - the sender's `send`, fed the recorded `sender_rng` through `ReplayRng`, must produce
//!   exactly `fields.pq_ratchet` and `spqr_message_key`, and draw exactly the recorded
//!   bytes;
//! - the receiver's `recv` of a delivered payload must give the same key;
//! - after each step the party's chain epoch and braid state must be
//!   `sender_spqr_after` / `receiver_spqr_after`;
//! - the state must survive `encode` / `decode` after each step.
//!
//! A `reinit` (Bob starting a new session) runs PQXDH again before its group, and both
//! sides start new SPQR states from the new auth key with the roles swapped (Bob is then
//! the initiator, A2B).
//!
//! Expected values come only from the file. A failure names the scenario, the message
//! (`send_seq`) and the field.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] fns: a failed unwrap or index is a failed test"
)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use hush_core::{IdentityKeyPair, KemKeyPair, KeyPair, PrivateKey, Signature};
use hush_spqr::{ChainParams, Direction, SpqrState, Version};
use hush_test_support::ReplayRng;
use hush_x3dh::{AgreementMode, PeerPreKeys, ResponderPreKeys, TrustAll};
use serde::Deserialize;

#[derive(Deserialize)]
struct File {
    scenarios: Vec<Scenario>,
}

#[derive(Deserialize)]
struct Scenario {
    name: String,
    alice: Party,
    bob: Party,
    messages: Vec<Message>,
    #[serde(default)]
    reinit: Vec<Reinit>,
    spqr_summary: Summary,
}

#[derive(Deserialize)]
struct Summary {
    final_epoch_alice: u64,
    final_epoch_bob: u64,
}

#[derive(Deserialize)]
struct Party {
    identity_key_pair: Pair,
    signed_prekey: Option<SignedPreKey>,
    one_time_prekey: Option<OneTimePreKey>,
    kyber_prekey: Option<KyberPreKey>,
    process_bundle_rng: Option<String>,
}

#[derive(Deserialize)]
struct Pair {
    private: String,
}

#[derive(Deserialize)]
struct SignedPreKey {
    key_pair: Pair,
    signature: String,
}

#[derive(Deserialize)]
struct OneTimePreKey {
    key_pair: Pair,
}

#[derive(Deserialize)]
struct KyberPreKey {
    public: String,
    secret: String,
    signature: String,
}

#[derive(Deserialize)]
struct Reinit {
    before_group: u32,
    initiator: String,
    responder_prekeys: Party,
    process_bundle_rng: String,
}

#[derive(Deserialize)]
struct Message {
    send_seq: u32,
    group: u32,
    sender: String,
    delivered: bool,
    fields: Fields,
    spqr_message_key: String,
    sender_rng: String,
    sender_spqr_after: After,
    receiver_spqr_after: Option<After>,
}

#[derive(Deserialize)]
struct Fields {
    pq_ratchet: String,
    pre_key_id: Option<u32>,
}

#[derive(Deserialize)]
struct After {
    epoch: u64,
    state: String,
}

fn vectors_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../test-vectors/libsignal-v0101/session.json")
}

fn load() -> File {
    let path = vectors_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn private(pair: &Pair) -> PrivateKey {
    PrivateKey::decode(&unhex(&pair.private)).unwrap()
}

/// Runs PQXDH between `initiator` (its identity, the bytes its bundle processing drew)
/// and `responder` (its published prekeys), on both sides, and returns the SPQR auth key
/// they agree on. `one_time_used` says whether the first message named the one-time
/// prekey.
fn auth_key(
    initiator: &IdentityKeyPair,
    initiator_rng: &str,
    responder: &Party,
    one_time_used: bool,
) -> [u8; 32] {
    let responder_identity = IdentityKeyPair::from(private(&responder.identity_key_pair));
    let signed = responder.signed_prekey.as_ref().unwrap();
    let signed_pair = KeyPair::from(private(&signed.key_pair));
    let one_time = responder
        .one_time_prekey
        .as_ref()
        .filter(|_| one_time_used)
        .map(|k| KeyPair::from(private(&k.key_pair)));
    let kyber = responder.kyber_prekey.as_ref().unwrap();
    let kem = KemKeyPair::decode(&unhex(&kyber.public), &unhex(&kyber.secret)).unwrap();
    let bundle = PeerPreKeys {
        identity_key: responder_identity.identity_key(),
        signed_prekey: signed_pair.public_key(),
        signed_prekey_signature: Signature::decode(&unhex(&signed.signature)).unwrap(),
        one_time_prekey: one_time.as_ref().map(KeyPair::public_key),
        kem_prekey: Some((
            kem.public_key().clone(),
            Signature::decode(&unhex(&kyber.signature)).unwrap(),
        )),
    };
    let mut rng = ReplayRng::new(unhex(initiator_rng));
    let started = hush_x3dh::initiate(
        initiator,
        &bundle,
        AgreementMode::Pqxdh,
        &TrustAll,
        &mut rng,
    )
    .unwrap();
    assert!(
        !rng.overrun(),
        "PQXDH drew more than libsignal's bundle processing"
    );
    let finished = hush_x3dh::respond(
        &responder_identity,
        &ResponderPreKeys {
            signed_prekey: &signed_pair,
            one_time_prekey: one_time.as_ref(),
            kem_prekey: Some(kem.secret_key()),
        },
        &initiator.identity_key(),
        &started.base_key(),
        started.kem_ciphertext(),
        AgreementMode::Pqxdh,
        &TrustAll,
    )
    .unwrap();
    assert!(started.secrets() == &finished, "both sides of PQXDH agree");
    *finished.spqr_auth_key().unwrap()
}

fn spqr(auth_key: &[u8; 32], direction: Direction) -> SpqrState {
    SpqrState::new(
        auth_key,
        direction,
        Version::V1,
        Version::V1,
        ChainParams::default(),
    )
    .unwrap()
}

/// Checks a party's state against the recorded one, and that it survives storage.
fn check_after(state: &mut SpqrState, after: &After, context: &str) {
    assert_eq!(
        state.braid_state().map(|s| s.name()),
        Some(after.state.as_str()),
        "{context}: braid state"
    );
    assert_eq!(state.chain_epoch(), after.epoch, "{context}: chain epoch");
    let encoded = state.encode();
    let decoded = SpqrState::decode(&encoded).unwrap_or_else(|e| panic!("{context}: decode: {e}"));
    assert_eq!(
        &*decoded.encode(),
        &*encoded,
        "{context}: encode/decode round trip"
    );
    *state = decoded;
}

#[test]
fn every_scenario_replays_byte_for_byte() {
    let file = load();
    assert_eq!(file.scenarios.len(), 8);
    let mut sent = 0;
    let mut received = 0;
    for scenario in &file.scenarios {
        let name = &scenario.name;
        let alice_identity = IdentityKeyPair::from(private(&scenario.alice.identity_key_pair));
        let bob_identity = IdentityKeyPair::from(private(&scenario.bob.identity_key_pair));
        let first = scenario.messages.iter().min_by_key(|m| m.send_seq).unwrap();
        let key = auth_key(
            &alice_identity,
            scenario.alice.process_bundle_rng.as_deref().unwrap(),
            &scenario.bob,
            first.fields.pre_key_id.is_some(),
        );
        let mut alice = spqr(&key, Direction::A2B);
        let mut bob = spqr(&key, Direction::B2A);

        let mut groups: BTreeMap<u32, Vec<&Message>> = BTreeMap::new();
        for message in &scenario.messages {
            groups.entry(message.group).or_default().push(message);
        }
        let mut reinits_done = 0;
        for (group, in_delivery_order) in groups {
            // A re-initiation happens before its group (or the first group after it, if
            // its own group has no messages).
            while let Some(reinit) = scenario
                .reinit
                .get(reinits_done)
                .filter(|r| r.before_group <= group)
            {
                reinits_done += 1;
                assert_eq!(reinit.initiator, "bob");
                let first_new = scenario
                    .messages
                    .iter()
                    .filter(|m| m.group >= reinit.before_group && m.sender == "bob")
                    .min_by_key(|m| m.send_seq)
                    .unwrap();
                let key = auth_key(
                    &bob_identity,
                    &reinit.process_bundle_rng,
                    &reinit.responder_prekeys,
                    first_new.fields.pre_key_id.is_some(),
                );
                bob = spqr(&key, Direction::A2B);
                alice = spqr(&key, Direction::B2A);
            }
            let sender_name = in_delivery_order[0].sender.as_str();
            let (sender, receiver) = if sender_name == "alice" {
                (&mut alice, &mut bob)
            } else {
                (&mut bob, &mut alice)
            };
            let mut in_send_order = in_delivery_order.clone();
            in_send_order.sort_by_key(|m| m.send_seq);
            for message in &in_send_order {
                let context = format!(
                    "{name} send_seq {} (sent by {sender_name})",
                    message.send_seq
                );
                let mut rng = ReplayRng::new(unhex(&message.sender_rng));
                let plan = sender
                    .plan_send(&mut rng)
                    .unwrap_or_else(|e| panic!("{context}: send: {e}"));
                assert_eq!(
                    hex::encode(plan.payload()),
                    message.fields.pq_ratchet,
                    "{context}: pq_ratchet"
                );
                assert_eq!(
                    plan.message_key().map(|k| hex::encode(k.as_bytes())),
                    Some(message.spqr_message_key.clone()),
                    "{context}: spqr_message_key (send)"
                );
                assert!(!rng.overrun(), "{context}: sender drew more than libsignal");
                assert_eq!(
                    rng.remaining(),
                    0,
                    "{context}: sender drew less than libsignal"
                );
                sender.apply_send(plan).unwrap();
                check_after(
                    sender,
                    &message.sender_spqr_after,
                    &format!("{context}: sender_spqr_after"),
                );
                sent += 1;
            }
            for message in in_delivery_order.iter().filter(|m| m.delivered) {
                let context = format!("{name} send_seq {} (received)", message.send_seq);
                let payload = unhex(&message.fields.pq_ratchet);
                let before = receiver.encode();
                let plan = receiver
                    .plan_recv(&payload)
                    .unwrap_or_else(|e| panic!("{context}: recv: {e}"));
                assert_eq!(
                    &*receiver.encode(),
                    &*before,
                    "{context}: planning changed the state"
                );
                assert_eq!(
                    plan.message_key().map(|k| hex::encode(k.as_bytes())),
                    Some(message.spqr_message_key.clone()),
                    "{context}: spqr_message_key (recv)"
                );
                receiver.apply_recv(plan).unwrap();
                let after = message.receiver_spqr_after.as_ref().unwrap();
                check_after(receiver, after, &format!("{context}: receiver_spqr_after"));
                // The same payload again is a replay.
                let again = receiver.encode();
                assert!(
                    receiver.plan_recv(&payload).is_err(),
                    "{context}: replay accepted"
                );
                assert_eq!(
                    &*receiver.encode(),
                    &*again,
                    "{context}: refused replay changed the state"
                );
                received += 1;
            }
        }
        assert_eq!(
            alice.chain_epoch(),
            scenario.spqr_summary.final_epoch_alice,
            "{name}: final epoch (alice)"
        );
        assert_eq!(
            bob.chain_epoch(),
            scenario.spqr_summary.final_epoch_bob,
            "{name}: final epoch (bob)"
        );
    }
    assert_eq!(sent, 612, "messages sent");
    assert_eq!(received, 612 - 14, "messages received");
}
