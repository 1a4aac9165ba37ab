//! `session.json`: whole conversations replayed from the random bytes libsignal drew —
//! libsignal v0.101.0's (SPQR on, `"spqr": true` at the top) or v0.91.0's (SPQR off).
//!
//! For each scenario, hush rebuilds both parties from the recorded keys, runs the
//! initiator's bundle processing on the recorded bytes, then plays the script: in each
//! group the sender encrypts its messages in send order, delivered or not (each must
//! equal libsignal's ciphertext byte for byte — with SPQR, its `pq_ratchet` payload and
//! `addresses` included — and draw exactly the recorded bytes), and the receiver decrypts
//! the delivered ones in list order (each must give the recorded plaintext and draw
//! exactly the recorded bytes). A re-initiation (`reinit`) is replayed before its group
//! (or the next group with messages). Records are saved and reloaded after every
//! decryption. One case per bundle processing and per encryption and decryption.
//!
//! Policies: v0.101 requires SPQR, so both sides use `SpqrPolicy::Required`, with their
//! address names as `SessionAddresses` when both are service ids. v0.91 ran none: the
//! initiator uses `SpqrPolicy::Off` (its messages carry no payload, as libsignal's) and
//! the responder `SpqrPolicy::Allowed` (it offers SPQR, meets a peer without it, and
//! turns it off).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hush_core::{IdentityKeyPair, KemKeyPair, KeyPair, PrivateKey, Signature};
use hush_ratchet::{
    CiphertextMessage, LocalIdentity, RemoteBundle, ServiceAddress, SessionAddresses,
    SessionOptions, SessionRecord, SpqrPolicy,
};
use hush_test_support::ReplayRng;
use hush_test_support::libsignal::session::{File, Message, Pair, Party, Scenario};
use hush_x3dh::{AgreementMode, PeerPreKeys, ResponderPreKeys, TrustAll};

use super::{Report, expect, expect_bytes, read_json, unhex};

/// The fixed clock libsignal's harness used.
const RECORDED_NOW_SECS: u64 = 1_700_000_000;

/// A party's keys as hush holds them, and its record for the other party.
struct Side {
    identity: IdentityKeyPair,
    registration_id: u32,
    prekeys: Option<PublishedPreKeys>,
    record: SessionRecord,
    address: Option<ServiceAddress>,
    options: SessionOptions,
}

/// What a party published for the other to start a session with.
struct PublishedPreKeys {
    signed_id: u32,
    signed: KeyPair,
    signed_signature: Signature,
    one_time: Option<(u32, KeyPair)>,
    kem_id: u32,
    kem: KemKeyPair,
    kem_signature: Signature,
}

fn private_key(field: &str, pair: &Pair) -> Result<PrivateKey, String> {
    PrivateKey::decode(&unhex(field, &pair.private)?).map_err(|e| format!("{field}: {e}"))
}

fn published(party: &Party) -> Result<Option<PublishedPreKeys>, String> {
    let (Some(signed), Some(kyber)) = (&party.signed_prekey, &party.kyber_prekey) else {
        return Ok(None);
    };
    let signature = |field: &str, text: &str| {
        Signature::decode(&unhex(field, text)?).map_err(|e| format!("{field}: {e}"))
    };
    let one_time = match &party.one_time_prekey {
        Some(key) => Some((
            key.id,
            KeyPair::from(private_key("one_time_prekey", &key.key_pair)?),
        )),
        None => None,
    };
    Ok(Some(PublishedPreKeys {
        signed_id: signed.id,
        signed: KeyPair::from(private_key("signed_prekey", &signed.key_pair)?),
        signed_signature: signature("signed_prekey.signature", &signed.signature)?,
        one_time,
        kem_id: kyber.id,
        kem: KemKeyPair::decode(
            &unhex("kyber.public", &kyber.public)?,
            &unhex("kyber.secret", &kyber.secret)?,
        )
        .map_err(|e| format!("kyber prekey: {e}"))?,
        kem_signature: signature("kyber.signature", &kyber.signature)?,
    }))
}

impl Side {
    fn new(party: &Party) -> Result<Self, String> {
        Ok(Self {
            identity: IdentityKeyPair::from(private_key("identity", &party.identity_key_pair)?),
            registration_id: party.registration_id,
            prekeys: published(party)?,
            record: SessionRecord::new(),
            address: party
                .name
                .as_deref()
                .and_then(|name| ServiceAddress::parse(name, party.device_id.unwrap_or(1))),
            options: SessionOptions::default(),
        })
    }

    fn bundle(&self) -> Result<RemoteBundle, String> {
        let keys = self
            .prekeys
            .as_ref()
            .ok_or("the responder published no prekeys")?;
        Ok(RemoteBundle {
            registration_id: self.registration_id,
            signed_prekey_id: keys.signed_id,
            one_time_prekey_id: keys.one_time.as_ref().map(|(id, _)| *id),
            kem_prekey_id: Some(keys.kem_id),
            prekeys: PeerPreKeys {
                identity_key: self.identity.identity_key(),
                signed_prekey: keys.signed.public_key(),
                signed_prekey_signature: keys.signed_signature,
                one_time_prekey: keys.one_time.as_ref().map(|(_, key)| key.public_key()),
                kem_prekey: Some((keys.kem.public_key().clone(), keys.kem_signature)),
            },
        })
    }
}

fn drew_exactly(rng: &ReplayRng, what: &str) -> Result<(), String> {
    expect(!rng.overrun(), || {
        format!("{what} drew more random bytes than libsignal")
    })?;
    expect(rng.remaining() == 0, || {
        format!(
            "{what} drew {} fewer random bytes than libsignal",
            rng.remaining()
        )
    })
}

/// Both sides' options for a session `initiator` starts (see the module docs).
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
    rng_hex: &str,
    now: SystemTime,
) -> Result<(), String> {
    let bundle = responder.bundle()?;
    let mut rng = ReplayRng::new(unhex("process_bundle_rng", rng_hex)?);
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
        .map_err(|e| format!("process bundle: {e}"))?;
    drew_exactly(&rng, "process bundle")
}

fn decrypt(receiver: &mut Side, message: &Message) -> Result<(), String> {
    let bytes = unhex("ciphertext", &message.ciphertext)?;
    let receiver_rng = message
        .receiver_rng
        .as_deref()
        .ok_or("a delivered message without receiver_rng")?;
    let mut rng = ReplayRng::new(unhex("receiver_rng", receiver_rng)?);
    let decoded =
        CiphertextMessage::decode(message.type_id, &bytes).map_err(|e| format!("decode: {e}"))?;
    let options = receiver.options;
    let plaintext = match decoded {
        CiphertextMessage::Signal(m) => receiver.record.decrypt(&m, options, &TrustAll, &mut rng),
        CiphertextMessage::PreKey(m) if receiver.record.has_session_for(&m) => {
            let local = LocalIdentity {
                identity: &receiver.identity,
                registration_id: receiver.registration_id,
            };
            receiver
                .record
                .decrypt_prekey(
                    &m,
                    local,
                    None,
                    AgreementMode::Pqxdh,
                    options,
                    &TrustAll,
                    &mut rng,
                )
                .map(|outcome| outcome.plaintext)
        }
        CiphertextMessage::PreKey(m) => {
            let keys = receiver
                .prekeys
                .as_ref()
                .ok_or("no prekeys to answer a first message")?;
            let one_time = match (m.pre_key_id(), &keys.one_time) {
                (Some(id), Some((stored, key))) if id == *stored => Some(key),
                (None, _) => None,
                _ => return Err("message names a one-time prekey that was not published".into()),
            };
            let prekeys = ResponderPreKeys {
                signed_prekey: &keys.signed,
                one_time_prekey: one_time,
                kem_prekey: Some(keys.kem.secret_key()),
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
                    Some(prekeys),
                    AgreementMode::Pqxdh,
                    options,
                    &TrustAll,
                    &mut rng,
                )
                .map(|outcome| outcome.plaintext)
        }
    }
    .map_err(|e| format!("decrypt: {e}"))?;
    expect_bytes(
        "plaintext",
        &plaintext,
        &unhex("plaintext", &message.plaintext)?,
    )?;
    drew_exactly(&rng, "decrypt")?;
    let saved = receiver.record.encode();
    receiver.record = SessionRecord::decode(&saved).map_err(|e| format!("record reload: {e}"))?;
    Ok(())
}

fn encrypt(sender: &mut Side, message: &Message, now: SystemTime) -> Result<(), String> {
    let sender_rng = message.sender_rng.as_deref().unwrap_or_default();
    let mut rng = ReplayRng::new(unhex("sender_rng", sender_rng)?);
    let produced = sender
        .record
        .encrypt(
            &unhex("plaintext", &message.plaintext)?,
            sender.options,
            &TrustAll,
            now,
            &mut rng,
        )
        .map_err(|e| format!("encrypt: {e}"))?;
    expect(produced.message_type() == message.type_id, || {
        format!(
            "hush produced message type {}, libsignal {}",
            produced.message_type(),
            message.type_id
        )
    })?;
    if let Some(fields) = &message.fields {
        let inner = match &produced {
            CiphertextMessage::Signal(m) => m,
            CiphertextMessage::PreKey(m) => m.message(),
        };
        let pq_ratchet = fields.pq_ratchet.as_deref().unwrap_or_default();
        expect_bytes(
            "pq_ratchet",
            inner.pq_ratchet(),
            &unhex("pq_ratchet", pq_ratchet)?,
        )?;
        let addresses = match &fields.addresses {
            Some(text) => Some(unhex("addresses", text)?),
            None => None,
        };
        expect(inner.addresses() == addresses.as_deref(), || {
            format!(
                "addresses differ: hush gave {:?}, expected {:?}",
                inner.addresses().map(hex::encode),
                fields.addresses
            )
        })?;
    }
    expect_bytes(
        "ciphertext",
        produced.encode(),
        &unhex("ciphertext", &message.ciphertext)?,
    )?;
    drew_exactly(&rng, "encrypt")
}

fn scenario(path: &Path, report: &mut Report, scenario: &Scenario, spqr: bool) {
    let name = &scenario.name;
    let now = UNIX_EPOCH + Duration::from_secs(RECORDED_NOW_SECS);
    let sides = Side::new(&scenario.alice).and_then(|a| Ok((a, Side::new(&scenario.bob)?)));
    let (mut alice, mut bob) = match sides {
        Ok(sides) => sides,
        Err(what) => return report.case(path, &format!("{name} setup"), Err(what)),
    };
    set_options(spqr, &mut alice, &mut bob);
    let rng = scenario
        .alice
        .process_bundle_rng
        .as_deref()
        .unwrap_or_default();
    let started = initiate(&mut alice, &bob, rng, now);
    let ok = started.is_ok();
    report.case(
        path,
        &format!("{name} alice processes bob's bundle"),
        started,
    );
    if !ok {
        return;
    }
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
            let outcome = if reinit.initiator == "bob" {
                published(&reinit.responder_prekeys).and_then(|keys| {
                    alice.prekeys = keys;
                    set_options(spqr, &mut bob, &mut alice);
                    initiate(&mut bob, &alice, &reinit.process_bundle_rng, now)
                })
            } else {
                Err(format!("unknown initiator {}", reinit.initiator))
            };
            report.case(
                path,
                &format!("{name} reinit before group {}", reinit.before_group),
                outcome,
            );
        }
        let from_alice = listed.first().is_some_and(|m| m.sender == "alice");
        let (sender, receiver) = if from_alice {
            (&mut alice, &mut bob)
        } else {
            (&mut bob, &mut alice)
        };
        let mut in_send_order = listed.clone();
        in_send_order.sort_by_key(|m| m.send_seq);
        for message in &in_send_order {
            report.case(
                path,
                &format!("{name} encrypt seq {}", message.send_seq),
                encrypt(sender, message, now),
            );
        }
        for message in listed.iter().filter(|m| m.delivered) {
            report.case(
                path,
                &format!("{name} decrypt seq {}", message.send_seq),
                decrypt(receiver, message),
            );
        }
    }
}

/// Checks `session.json`.
pub(crate) fn check(path: &Path, report: &mut Report) {
    match read_json::<File>(path) {
        Ok(file) if file.scenarios.is_empty() => report.unreadable(path, "holds no scenarios"),
        Ok(file) => {
            for s in &file.scenarios {
                scenario(path, report, s, file.spqr);
            }
        }
        Err(what) => report.unreadable(path, &what),
    }
}
