//! `session.json` (libsignal v0.91.0, SPQR off): whole conversations replayed from the
//! random bytes libsignal drew.
//!
//! For each scenario, hush rebuilds both parties from the recorded keys, runs the
//! initiator's bundle processing on the recorded bytes, then plays the script: in each
//! group the sender encrypts its messages in send order (each must equal libsignal's
//! ciphertext byte for byte) and the receiver decrypts them in delivery order (each must
//! give the recorded plaintext and draw exactly the recorded bytes). A re-initiation
//! (`reinit`) is replayed before its group. Records are saved and reloaded after every
//! decryption. One case per bundle processing and per message.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hush_core::{IdentityKeyPair, KemKeyPair, KeyPair, PrivateKey, Signature};
use hush_ratchet::{CiphertextMessage, LocalIdentity, RemoteBundle, SessionRecord};
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
            &TrustAll,
            now,
            &mut rng,
        )
        .map_err(|e| format!("process bundle: {e}"))?;
    drew_exactly(&rng, "process bundle")
}

fn decrypt(receiver: &mut Side, message: &Message) -> Result<(), String> {
    let bytes = unhex("ciphertext", &message.ciphertext)?;
    let mut rng = ReplayRng::new(unhex("receiver_rng", &message.receiver_rng)?);
    let decoded =
        CiphertextMessage::decode(message.type_id, &bytes).map_err(|e| format!("decode: {e}"))?;
    let plaintext = match decoded {
        CiphertextMessage::Signal(m) => receiver.record.decrypt(&m, &TrustAll, &mut rng),
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
    let produced = sender
        .record
        .encrypt(&unhex("plaintext", &message.plaintext)?, &TrustAll, now)
        .map_err(|e| format!("encrypt: {e}"))?;
    expect(produced.message_type() == message.type_id, || {
        format!(
            "hush produced message type {}, libsignal {}",
            produced.message_type(),
            message.type_id
        )
    })?;
    expect_bytes(
        "ciphertext",
        produced.encode(),
        &unhex("ciphertext", &message.ciphertext)?,
    )
}

fn scenario(path: &Path, report: &mut Report, scenario: &Scenario) {
    let name = &scenario.name;
    let now = UNIX_EPOCH + Duration::from_secs(RECORDED_NOW_SECS);
    let sides = Side::new(&scenario.alice).and_then(|a| Ok((a, Side::new(&scenario.bob)?)));
    let (mut alice, mut bob) = match sides {
        Ok(sides) => sides,
        Err(what) => return report.case(path, &format!("{name} setup"), Err(what)),
    };
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
    for (group, delivered) in groups {
        for reinit in scenario.reinit.iter().filter(|r| r.before_group == group) {
            let outcome = if reinit.initiator == "bob" {
                published(&reinit.responder_prekeys).and_then(|keys| {
                    alice.prekeys = keys;
                    initiate(&mut bob, &alice, &reinit.process_bundle_rng, now)
                })
            } else {
                Err(format!("unknown initiator {}", reinit.initiator))
            };
            report.case(
                path,
                &format!("{name} reinit before group {group}"),
                outcome,
            );
        }
        let from_alice = delivered.first().is_some_and(|m| m.sender == "alice");
        let (sender, receiver) = if from_alice {
            (&mut alice, &mut bob)
        } else {
            (&mut bob, &mut alice)
        };
        let mut in_send_order = delivered.clone();
        in_send_order.sort_by_key(|m| m.send_seq);
        for message in &in_send_order {
            report.case(
                path,
                &format!("{name} encrypt seq {}", message.send_seq),
                encrypt(sender, message, now),
            );
        }
        for message in &delivered {
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
                scenario(path, report, s);
            }
        }
        Err(what) => report.unreadable(path, &what),
    }
}
