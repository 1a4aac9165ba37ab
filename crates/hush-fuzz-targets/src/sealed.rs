//! Targets for `hush-sealed`: the two certificate decoders, opening v1 messages and v2
//! `ReceivedMessage`s, and the server's parse and split of v2 `SentMessage`s.
//!
//! A fixed service (trust root, server key), a sender (Alice, with a certificate) and a
//! recipient (Bob) come from [`fixture`]; [`seeds`] seals genuine messages with them, so
//! the seed corpus holds messages that open, and mutations of them exercise every check
//! after the first MAC. Opening must never panic; when it succeeds the certificate must
//! be Alice's (nobody else holds the fixed server key) and must validate again.

use std::sync::OnceLock;

use hush_core::{IdentityKeyPair, KeyPair, ServiceId};
use hush_sealed::{
    CertificateValidator, ContentHint, ContentType, Destination, DeviceId, Error,
    SenderCertificate, SenderCertificateFields, SentMessage, ServerCertificate,
    UnidentifiedSenderMessageContent,
};
use hush_test_support::test_rng;

/// The validation time every target uses, milliseconds since the Unix epoch.
pub const NOW_MS: u64 = 1_700_000_000_000;

/// The fixed parties and service of the sealed-sender targets.
#[derive(Debug)]
pub struct Fixture {
    /// The trust root's key pair.
    pub trust_root: KeyPair,
    /// The server key's pair.
    pub server_key: KeyPair,
    /// The server certificate (key id 7).
    pub server_certificate: ServerCertificate,
    /// Alice's identity.
    pub alice: IdentityKeyPair,
    /// Alice's certificate (device 1, valid until a day after [`NOW_MS`]).
    pub alice_certificate: SenderCertificate,
    /// Bob's identity (the recipient every open target decrypts as).
    pub bob: IdentityKeyPair,
    /// Carol's two linked devices, each with its own identity key.
    pub carol: [IdentityKeyPair; 2],
    /// Trusts the root; knows the server certificate.
    pub validator: CertificateValidator,
}

/// The service ids of Alice, Bob and Carol.
#[must_use]
pub fn service_ids() -> [ServiceId; 3] {
    [
        ServiceId::aci([0xa1; 16]),
        ServiceId::aci([0xb0; 16]),
        ServiceId::aci([0xc0; 16]),
    ]
}

/// The fixture, made once from `test_rng` seeds.
///
/// # Panics
///
/// Never with the fixed inputs (issuing a certificate fails only for bad arguments).
#[must_use]
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut rng = test_rng(0x5ea1);
        let trust_root = KeyPair::generate(&mut rng);
        let server_key = KeyPair::generate(&mut rng);
        let server_certificate = ServerCertificate::issue(
            7,
            &server_key.public_key(),
            trust_root.private_key(),
            &mut rng,
        );
        let alice = IdentityKeyPair::generate(&mut rng);
        let [alice_id, ..] = service_ids();
        let fields = SenderCertificateFields {
            sender: alice_id,
            sender_e164: Some("+14155550100".to_owned()),
            device_id: device(1),
            identity_key: alice.identity_key(),
            expiration_ms: NOW_MS + 86_400_000,
        };
        let alice_certificate = SenderCertificate::issue(
            &fields,
            &server_certificate,
            server_key.private_key(),
            &mut rng,
        )
        .unwrap_or_else(|e| unexpected("issuing the fixed certificate", &e));
        let bob = IdentityKeyPair::generate(&mut rng);
        let carol = [
            IdentityKeyPair::generate(&mut rng),
            IdentityKeyPair::generate(&mut rng),
        ];
        let mut validator = CertificateValidator::new(&trust_root.public_key());
        validator
            .add_server_certificate(server_certificate.clone())
            .unwrap_or_else(|e| unexpected("adding the fixed server certificate", &e));
        Fixture {
            trust_root,
            server_key,
            server_certificate,
            alice,
            alice_certificate,
            bob,
            carol,
            validator,
        }
    })
}

fn device(id: u32) -> DeviceId {
    DeviceId::new(id).unwrap_or_else(|e| unexpected("a fixed device id", &e))
}

/// Genuine messages from Alice: a v1 message to Bob, and a v2 `SentMessage` to Bob's two
/// devices (one identity key), Carol's two linked devices (one key each) and one
/// excluded recipient.
#[derive(Debug, Clone)]
pub struct Seeds {
    /// The v1 message to Bob.
    pub v1: Vec<u8>,
    /// The v2 `SentMessage`.
    pub sent: Vec<u8>,
    /// Bob's `ReceivedMessage` from it.
    pub received: Vec<u8>,
}

/// Seals the seed messages (deterministic).
#[must_use]
pub fn seeds() -> Seeds {
    let f = fixture();
    let mut rng = test_rng(0x5eed);
    let content = UnidentifiedSenderMessageContent::new(
        ContentType::Whisper,
        f.alice_certificate.clone(),
        b"an inner session message".to_vec(),
        ContentHint::Resendable,
        Some(vec![0x99; 32]),
    )
    .unwrap_or_else(|e| unexpected("the seed content", &e));
    let v1 = hush_sealed::seal_v1(&content, &f.alice, &f.bob.identity_key(), &mut rng)
        .unwrap_or_else(|e| unexpected("the v1 seed", &e));
    let [_, bob, carol] = service_ids();
    let [carol_1, carol_2] = &f.carol;
    let destinations = [
        (bob, 1, 100, f.bob.identity_key()),
        (bob, 2, 200, f.bob.identity_key()),
        (carol, 1, 300, carol_1.identity_key()),
        (carol, 2, 400, carol_2.identity_key()),
    ]
    .map(
        |(service_id, id, registration_id, identity_key)| Destination {
            service_id,
            device_id: device(id),
            registration_id,
            identity_key,
        },
    );
    let sent = hush_sealed::seal_v2(
        &content,
        &f.alice,
        &destinations,
        &[ServiceId::pni([0xee; 16])],
        &mut rng,
    )
    .unwrap_or_else(|e| unexpected("the v2 seed", &e));
    let received = SentMessage::parse(&sent)
        .ok()
        .and_then(|parsed| {
            parsed
                .recipients()
                .next()
                .and_then(|r| r.received_message())
        })
        .unwrap_or_default();
    Seeds { v1, sent, received }
}

/// `ServerCertificate::decode`: a decoded certificate keeps the input as its bytes and
/// decodes from them to the same value; validating it never panics, and only the
/// fixture's own certificate bytes can validate (nobody else holds the root's key).
pub fn sealed_server_certificate(data: &[u8]) {
    let Ok(certificate) = ServerCertificate::decode(data) else {
        return;
    };
    assert_eq!(
        certificate.as_bytes(),
        data,
        "certificate does not keep its bytes"
    );
    assert_eq!(
        ServerCertificate::decode(certificate.as_bytes()).as_ref(),
        Ok(&certificate),
        "certificate does not round-trip"
    );
    let f = fixture();
    if f.validator
        .validate_server_certificate(&certificate)
        .is_ok()
    {
        assert_eq!(
            certificate.signed_bytes(),
            f.server_certificate.signed_bytes(),
            "a server certificate nobody signed validated"
        );
    }
}

/// `SenderCertificate::decode`: as [`sealed_server_certificate`]; a certificate that
/// validates must carry the fixture's signed bytes.
pub fn sealed_sender_certificate(data: &[u8]) {
    let Ok(certificate) = SenderCertificate::decode(data) else {
        return;
    };
    assert_eq!(
        certificate.as_bytes(),
        data,
        "certificate does not keep its bytes"
    );
    assert_eq!(
        SenderCertificate::decode(certificate.as_bytes()).as_ref(),
        Ok(&certificate),
        "certificate does not round-trip"
    );
    let f = fixture();
    match f.validator.validate(&certificate, NOW_MS) {
        Ok(()) => assert_eq!(
            certificate.signed_bytes(),
            f.alice_certificate.signed_bytes(),
            "a sender certificate nobody signed validated"
        ),
        Err(
            Error::UntrustedCertificate
            | Error::ExpiredCertificate { .. }
            | Error::RevokedServerCertificate(_)
            | Error::UnknownServerCertificate(_),
        ) => {}
        Err(other) => unexpected("validating a decoded certificate", &other),
    }
}

/// Opens `message` as Bob and checks what a success means.
fn open_as_bob(message: &[u8]) {
    let f = fixture();
    match hush_sealed::open(message, &f.bob, &f.validator, NOW_MS) {
        Ok(opened) => {
            let certificate = opened.sender_certificate();
            assert_eq!(
                certificate.identity_key(),
                &f.alice.identity_key(),
                "opened a message from someone other than the fixed sender"
            );
            assert_eq!(f.validator.validate(certificate, NOW_MS), Ok(()));
            let again = UnidentifiedSenderMessageContent::decode(opened.content().as_bytes());
            assert_eq!(
                again.as_ref(),
                Ok(opened.content()),
                "content does not round-trip"
            );
        }
        Err(
            Error::Malformed(_)
            | Error::DecryptionFailed
            | Error::SenderIdentityMismatch
            | Error::UnknownVersion(_)
            | Error::TooMany { .. }
            | Error::UntrustedCertificate
            | Error::ExpiredCertificate { .. }
            | Error::RevokedServerCertificate(_)
            | Error::UnknownServerCertificate(_),
        ) => {}
        Err(other) => unexpected("opening", &other),
    }
}

/// `open` of a v1 message to Bob: `0x11 || data`.
pub fn sealed_v1_open(data: &[u8]) {
    open_as_bob(&[&[hush_sealed::V1_VERSION_BYTE], data].concat());
}

/// `open` of a v2 `ReceivedMessage` to Bob: `0x22 || data`.
pub fn sealed_received_open(data: &[u8]) {
    open_as_bob(&[&[hush_sealed::RECEIVED_VERSION_BYTE], data].concat());
}

/// `SentMessage::parse` and `split`: every delivery is `0x22 || C || AT || shared
/// bytes` from its entry's range, no device appears twice under one service id,
/// excluded entries get nothing; Bob's deliveries are opened.
pub fn sealed_sent_message(data: &[u8]) {
    let Ok(parsed) = SentMessage::parse(data) else {
        return;
    };
    assert_eq!(parsed.as_bytes(), data);
    let shared = parsed.shared_bytes();
    assert!(shared.len() >= 48, "shared bytes too short");
    assert_eq!(
        data.get(parsed.shared_bytes_offset()..),
        Some(shared),
        "shared bytes are not the tail"
    );
    let mut seen = Vec::new();
    let mut deliveries = 0usize;
    for recipient in parsed.recipients() {
        if recipient.is_excluded() {
            assert!(recipient.devices().is_empty());
            assert!(recipient.received_message().is_none());
            continue;
        }
        deliveries += 1;
        assert!(
            !recipient.devices().is_empty(),
            "a listed recipient without devices"
        );
        for device in recipient.devices() {
            assert!(device.registration_id <= 0x3fff);
            seen.push((recipient.service_id(), device.device_id));
        }
        let range = recipient.key_material_range();
        let key_material = range.and_then(|r| data.get(r));
        assert_eq!(key_material.map(<[u8]>::len), Some(48));
        let expected = [
            &[hush_sealed::RECEIVED_VERSION_BYTE][..],
            key_material.unwrap_or_default(),
            shared,
        ]
        .concat();
        assert_eq!(recipient.received_message(), Some(expected));
    }
    let total = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), total, "a device listed twice");
    let split = parsed.split();
    assert_eq!(split.len(), deliveries);
    let [_, bob, _] = service_ids();
    for delivery in split.iter().filter(|d| d.service_id == bob) {
        open_as_bob(&delivery.message);
    }
}

#[track_caller]
fn unexpected(what: &str, error: &Error) -> ! {
    #[expect(clippy::panic, reason = "a fuzz target reports a bug by panicking")]
    {
        panic!("{what}: unexpected error {error:?}")
    }
}
