//! The demo's protocol chapters: a session started from a server-validated bundle, and a
//! group message, each showing what the server could see.

use std::fmt::Display;
use std::time::SystemTime;

use hush_core::rng::CryptoRng;
use hush_core::{IdentityKeyPair, KemKeyType};
use hush_group::{DistributionId, SenderKeyDistributionMessage, SenderKeyMessage, SenderKeyRecord};
use hush_prekey::{
    DeviceKeys, GenerateRequest, PreKeyBundle, PreKeyIdAllocator, PreKeyRecords, UploadPolicy,
    generate_prekeys, upload_for, validate_upload,
};
use hush_ratchet::{CiphertextMessage, LocalIdentity, RemoteBundle, SessionRecord};
use hush_x3dh::{AgreementMode, ResponderPreKeys, TrustAll};

use crate::demo::Checks;

fn millis(now: SystemTime) -> u64 {
    now.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn server_sees(what: &str, bytes: &[u8]) {
    println!(
        "   server sees: {what}, {} bytes, no plaintext",
        bytes.len()
    );
}

/// Bob publishes prekeys through the server; Alice starts a session; they talk.
/// Returns both records, for the group chapter.
pub(crate) fn session(
    checks: &mut Checks,
    alice: &IdentityKeyPair,
    bob: &IdentityKeyPair,
    rng: &mut (impl CryptoRng + ?Sized),
) -> Option<(SessionRecord, SessionRecord)> {
    let now = SystemTime::now();
    let mut request = GenerateRequest::default();
    request.one_time_prekeys = 5;
    request.kem_prekeys = 5;
    request.kem_key_type = KemKeyType::Kyber1024;
    let records = match generate_prekeys(
        bob,
        &mut PreKeyIdAllocator::default(),
        &request,
        millis(now),
        rng,
    ) {
        Ok(records) => records,
        Err(e) => return checks.failed("Bob generating prekeys", e),
    };
    let upload = upload_for(bob, &records).encode();
    println!(
        "   Bob uploads a signed prekey, 5 one-time prekeys, 5 Kyber1024 prekeys and a last-resort one ({} bytes).",
        upload.len()
    );
    let validated = match validate_upload(
        &bob.identity_key(),
        &upload,
        &UploadPolicy::default(),
        millis(now),
        rng,
    ) {
        Ok(validated) => validated,
        Err(e) => return checks.failed("the server validating Bob's upload", e),
    };
    checks.check(true, &format!("the server accepts the upload: {validated}"));
    let mut forged = upload.clone();
    if let Some(byte) = forged.last_mut() {
        *byte ^= 1;
    }
    checks.check(
        validate_upload(
            &bob.identity_key(),
            &forged,
            &UploadPolicy::default(),
            millis(now),
            rng,
        )
        .is_err(),
        "an upload with one flipped bit is refused",
    );
    let bundle = match DeviceKeys::new(2, 1, bob.identity_key()).and_then(|mut device| {
        device
            .apply_upload(&validated)
            .and_then(|()| device.take_bundle())
    }) {
        Ok(choice) => choice.bundle().encode(),
        Err(e) => return checks.failed("the server assembling a bundle", e),
    };
    println!(
        "   The server hands Alice a bundle for Bob ({} bytes) and deletes the one-time prekey in it.",
        bundle.len()
    );

    let bundle = match PreKeyBundle::decode(&bundle) {
        Ok(bundle) => bundle,
        Err(e) => return checks.failed("Alice decoding the bundle", e),
    };
    let mut alice_record = SessionRecord::new();
    let alice_local = LocalIdentity {
        identity: alice,
        registration_id: 1,
    };
    if let Err(e) = alice_record.initiate(
        alice_local,
        &RemoteBundle::from(&bundle),
        AgreementMode::Pqxdh,
        &TrustAll,
        now,
        rng,
    ) {
        return checks.failed("Alice starting a session (PQXDH)", e);
    }
    let hello = b"Hi Bob, it's Alice. Lunch?";
    let first = match alice_record.encrypt(hello, &TrustAll, now) {
        Ok(CiphertextMessage::PreKey(first)) => first,
        Ok(_) => return checks.failed("Alice's first message", "it is not a PreKeySignalMessage"),
        Err(e) => return checks.failed("Alice encrypting", e),
    };
    server_sees("a PreKeySignalMessage (type 3)", first.encode());
    let mut bob_record = SessionRecord::new();
    let bob_local = LocalIdentity {
        identity: bob,
        registration_id: 2,
    };
    let outcome = match responder_keys(&records, &first) {
        Some(keys) => bob_record.decrypt_prekey(
            &first,
            bob_local,
            Some(keys),
            AgreementMode::Pqxdh,
            &TrustAll,
            rng,
        ),
        None => return checks.failed("Bob finding the prekeys the message names", "not found"),
    };
    match outcome {
        Ok(got) => checks.check(
            got.plaintext.as_slice() == hello,
            "Bob reads Alice's first message",
        ),
        Err(e) => return checks.failed("Bob decrypting", e),
    }

    // A short conversation, one message delivered late.
    let mut replies = Vec::new();
    for text in [
        "Sure. 12:30?",
        "At the usual place.",
        "(running 5 minutes late)",
    ] {
        match bob_record.encrypt(text.as_bytes(), &TrustAll, now) {
            Ok(CiphertextMessage::Signal(m)) => replies.push((text, m)),
            Ok(_) => return checks.failed("Bob's reply", "not a SignalMessage"),
            Err(e) => return checks.failed("Bob encrypting", e),
        }
    }
    if let Some((_, m)) = replies.first() {
        server_sees("a SignalMessage (type 2)", m.encode());
    }
    replies.rotate_left(1);
    let mut all_read = true;
    for (text, message) in &replies {
        all_read &= alice_record
            .decrypt(message, &TrustAll, rng)
            .is_ok_and(|p| p.as_slice() == text.as_bytes());
    }
    checks.check(
        all_read,
        "Alice reads Bob's three replies, one of them delivered out of order",
    );
    if let Some((_, message)) = replies.first() {
        let before = alice_record.encode();
        let replay = alice_record.decrypt(message, &TrustAll, rng);
        checks.check(
            matches!(replay, Err(hush_ratchet::Error::DuplicateMessage { .. }))
                && alice_record.encode() == before,
            "a replayed message is refused as a duplicate and changes nothing",
        );
        let mut tampered = message.encode().to_vec();
        if let Some(byte) = tampered.get_mut(40) {
            *byte ^= 0x10;
        }
        let refused = hush_ratchet::SignalMessage::decode(&tampered)
            .map_or(true, |m| alice_record.decrypt(&m, &TrustAll, rng).is_err());
        checks.check(
            refused && alice_record.encode() == before,
            "a tampered message is refused and changes nothing",
        );
    }
    Some((alice_record, bob_record))
}

fn responder_keys<'a>(
    records: &'a PreKeyRecords,
    message: &hush_ratchet::PreKeySignalMessage,
) -> Option<ResponderPreKeys<'a>> {
    let signed = records
        .signed_prekeys()
        .iter()
        .find(|r| r.id() == message.signed_pre_key_id())?;
    let one_time = match message.pre_key_id() {
        Some(id) => Some(
            records
                .one_time_prekeys()
                .iter()
                .find(|r| r.id() == id)?
                .key_pair(),
        ),
        None => None,
    };
    let kem = records
        .kem_prekeys()
        .iter()
        .find(|r| Some(r.id()) == message.kem_pre_key_id())?;
    Some(ResponderPreKeys {
        signed_prekey: signed.key_pair(),
        one_time_prekey: one_time,
        kem_prekey: Some(kem.key_pair().secret_key()),
    })
}

/// Alice shares her sender key with Bob over their session and writes to the group once.
pub(crate) fn group(
    checks: &mut Checks,
    sessions: &mut (SessionRecord, SessionRecord),
    rng: &mut (impl CryptoRng + ?Sized),
) {
    let (alice_record, bob_record) = sessions;
    let now = SystemTime::now();
    let id = DistributionId::generate(rng);
    let mut alice_chain = SenderKeyRecord::new(id);
    let distribution = alice_chain.create_distribution(rng);
    println!(
        "   Alice creates her sender key for group {id} and sends it to Bob inside their session."
    );
    let carried = match alice_record.encrypt(distribution.as_bytes(), &TrustAll, now) {
        Ok(CiphertextMessage::Signal(m)) => m,
        Ok(_) => {
            return checks.fail_quietly(
                "carrying the distribution message",
                "unexpected message type",
            );
        }
        Err(e) => return checks.fail_quietly("carrying the distribution message", e),
    };
    server_sees("a SignalMessage (type 2)", carried.encode());
    let mut bob_has_alice = SenderKeyRecord::new(id);
    let processed = bob_record
        .decrypt(&carried, &TrustAll, rng)
        .map_err(|e| e.to_string())
        .and_then(|bytes| SenderKeyDistributionMessage::decode(&bytes).map_err(|e| e.to_string()))
        .and_then(|m| {
            bob_has_alice
                .process_distribution(&m)
                .map_err(|e| e.to_string())
        });
    checks.check(processed.is_ok(), "Bob stores Alice's sender key");
    let text = b"Welcome to the group!";
    let sent = match alice_chain.encrypt(text, rng) {
        Ok(message) => message,
        Err(e) => return checks.fail_quietly("Alice encrypting to the group", e),
    };
    server_sees("one SenderKeyMessage for every member", sent.as_bytes());
    let read = SenderKeyMessage::decode(sent.as_bytes())
        .map_err(|e| e.to_string())
        .and_then(|m| bob_has_alice.decrypt(&m).map_err(|e| e.to_string()));
    checks.check(
        read.is_ok_and(|p| p.as_slice() == text),
        "Bob reads the group message",
    );
}

impl Checks {
    /// Records a step that could not run and ends the chapter.
    fn failed<T>(&mut self, what: &str, error: impl Display) -> Option<T> {
        self.fail_quietly(what, error);
        None
    }

    /// Records a step that could not run.
    fn fail_quietly(&mut self, what: &str, error: impl Display) {
        self.check(false, &format!("{what}: {error}"));
    }
}
