//! Replays libsignal v0.101's sealed-sender vectors
//! (`test-vectors/libsignal-v0101/sealed_sender.json`, a verbatim copy of
//! `../shared/vectors/libsignal-v0101/sealed_sender.json`; its README describes every
//! field and libsignal's draw order).
//!
//! Every expected value comes from the file: certificates re-issued from the recorded
//! signature randomness, v1 messages re-sealed from the recorded ephemeral draw, v2
//! `SentMessage`s re-sealed from the recorded `M` draw, the server split compared with
//! what libsignal's server code handed each recipient, and libsignal's errors mapped to
//! hush's typed ones.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap or index is a failed test"
)]

use std::collections::BTreeMap;

use hush_core::{IdentityKey, IdentityKeyPair, KeyPair, PrivateKey, PublicKey, ServiceId};
use hush_sealed::{
    CertificateValidator, ContentHint, ContentType, Destination, DeviceId, Error, SealedVersion,
    SenderCertificate, SentMessage, ServerCertificate, Signer, UnidentifiedSenderMessageContent,
};
use hush_test_support::ReplayRng;
use serde::Deserialize;

const FILE: &str = "test-vectors/libsignal-v0101/sealed_sender.json";

fn load() -> Vectors {
    let text = include_str!("../../../test-vectors/libsignal-v0101/sealed_sender.json");
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{FILE}: {e}"))
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

#[derive(Deserialize)]
struct Vectors {
    now_ms: u64,
    trust_root: Pair,
    wrong_trust_root: Pair,
    server_key: Pair,
    key_setup_rng: String,
    server_certificate: ServerCert,
    server_certificate_rng: String,
    revoked_server_certificate: ServerCert,
    sender_certificates: SenderCerts,
    parties: Parties,
    v1: Vec<V1>,
    v1_negative: Vec<V1Negative>,
    v2: Vec<V2>,
}

#[derive(Deserialize)]
struct Pair {
    private: String,
    public: String,
}

impl Pair {
    fn key_pair(&self) -> KeyPair {
        let pair = KeyPair::from(PrivateKey::decode(&unhex(&self.private)).unwrap());
        assert_eq!(
            pair.public_key().encode().to_vec(),
            unhex(&self.public),
            "{FILE}: key pair"
        );
        pair
    }

    fn public(&self) -> PublicKey {
        PublicKey::decode(&unhex(&self.public)).unwrap()
    }
}

#[derive(Deserialize)]
struct ServerCert {
    serialized: String,
    certificate: String,
    signature: String,
    key_id: u32,
    key: String,
}

#[derive(Deserialize)]
struct SenderCerts {
    alice: SenderCert,
    alice_creation_rng: String,
    alice_expired: SenderCert,
    alice_signed_by_revoked_server_key: SenderCert,
    bob: SenderCert,
    bob_creation_rng: String,
}

#[derive(Deserialize, Clone)]
struct SenderCert {
    serialized: String,
    certificate: String,
    signature: String,
    sender_uuid: String,
    sender_e164: Option<String>,
    sender_device_id: u32,
    expiration_ms: u64,
    identity_key: String,
    signer_key_id: u32,
}

#[derive(Deserialize)]
struct Parties {
    alice: Party,
    bob: Party,
    others: Vec<Party>,
    excluded_uuid: String,
}

#[derive(Deserialize)]
struct Party {
    uuid: String,
    device_id: u32,
    registration_id: u16,
    identity_key_pair: Pair,
}

impl Party {
    fn identity(&self) -> IdentityKeyPair {
        IdentityKeyPair::from(self.identity_key_pair.key_pair().private_key().clone())
    }
}

#[derive(Deserialize)]
struct Usmc {
    serialized: String,
    msg_type: u8,
    sender_certificate: String,
    contents: String,
    content_hint: u32,
    group_id: Option<String>,
}

#[derive(Deserialize)]
struct Who {
    uuid: String,
    device_id: u32,
}

#[derive(Deserialize)]
struct V1 {
    name: String,
    sender: Who,
    recipient: Who,
    content_hint: u32,
    group_id: Option<String>,
    usmc: Usmc,
    ephemeral_private: String,
    ephemeral_public: String,
    sealed: String,
    sealed_fields: SealedFields,
    encrypt_rng: String,
    encrypt_rng_draws: Vec<String>,
    decrypt: V1Decrypt,
}

#[derive(Deserialize)]
struct SealedFields {
    version_byte: u8,
    ephemeral_public: String,
    encrypted_static: String,
    encrypted_message: String,
}

#[derive(Deserialize)]
struct V1Decrypt {
    timestamp_ms: u64,
    local_uuid: String,
    result: V1Result,
}

#[derive(Deserialize)]
struct V1Result {
    sender_uuid: String,
    sender_e164: Option<String>,
    device_id: u32,
}

#[derive(Deserialize)]
struct V1Negative {
    name: String,
    sealed: String,
    genuine_sealed: String,
    encrypt_rng: String,
    trust_root_public: String,
    timestamp_ms: u64,
    local_uuid: String,
    error: String,
    error_variant: String,
}

#[derive(Deserialize)]
struct V2 {
    name: String,
    usmc: Usmc,
    destinations: Vec<Who>,
    excluded: Vec<String>,
    sent: String,
    sent_version_byte: u8,
    encrypt_rng: String,
    encrypt_rng_draws: Vec<String>,
    shared_bytes_offset: usize,
    recipients: Vec<V2Recipient>,
    negative: Vec<V2Negative>,
}

#[derive(Deserialize)]
struct V2Recipient {
    service_id: String,
    service_id_fixed_width_binary: String,
    devices: Vec<V2Device>,
    key_material_range: [usize; 2],
    received: Option<String>,
    decryptions: Vec<V2Decryption>,
}

#[derive(Deserialize)]
struct V2Device {
    device_id: u32,
    registration_id: u16,
}

#[derive(Deserialize)]
struct V2Decryption {
    device_id: u32,
    registration_id: u16,
    msg_type: u8,
    usmc_matches: bool,
    sender_uuid: String,
    sender_e164: Option<String>,
    sender_device_id: u32,
}

#[derive(Deserialize)]
struct V2Negative {
    name: String,
    opened_by: String,
    received: String,
    error: String,
}

/// Size in bytes of one recorded draw (`fill(n)` or `u32 xN`).
fn draw_len(draw: &str) -> usize {
    if let Some(n) = draw.strip_prefix("fill(").and_then(|s| s.strip_suffix(')')) {
        n.parse().unwrap()
    } else if let Some(n) = draw.strip_prefix("u32 x") {
        4 * n.parse::<usize>().unwrap()
    } else {
        panic!("{FILE}: unknown draw {draw}")
    }
}

fn service_id(text: &str) -> ServiceId {
    ServiceId::parse(text).unwrap_or_else(|| panic!("{FILE}: bad service id {text}"))
}

/// Every party by (uuid, device).
fn parties(v: &Vectors) -> BTreeMap<(String, u32), &Party> {
    let mut out = BTreeMap::new();
    for party in [&v.parties.alice, &v.parties.bob]
        .into_iter()
        .chain(&v.parties.others)
    {
        out.insert((party.uuid.clone(), party.device_id), party);
    }
    out
}

fn validator(v: &Vectors) -> CertificateValidator {
    CertificateValidator::new(&v.trust_root.public())
}

/// The sender certificate vector with these serialised bytes.
fn sender_cert_vector<'a>(v: &'a Vectors, serialized: &str) -> &'a SenderCert {
    let c = &v.sender_certificates;
    [
        &c.alice,
        &c.bob,
        &c.alice_expired,
        &c.alice_signed_by_revoked_server_key,
    ]
    .into_iter()
    .find(|cert| cert.serialized == serialized)
    .unwrap_or_else(|| panic!("{FILE}: unknown sender certificate"))
}

fn check_certificate_fields(name: &str, decoded: &SenderCertificate, expected: &SenderCert) {
    assert_eq!(decoded.as_bytes(), unhex(&expected.serialized), "{name}");
    assert_eq!(
        decoded.signed_bytes(),
        unhex(&expected.certificate),
        "{name}"
    );
    assert_eq!(
        decoded.signature().to_bytes().to_vec(),
        unhex(&expected.signature),
        "{name}"
    );
    assert_eq!(
        decoded.sender(),
        &service_id(&expected.sender_uuid),
        "{name}"
    );
    assert_eq!(decoded.sender().to_string(), expected.sender_uuid, "{name}");
    assert_eq!(
        decoded.sender_e164(),
        expected.sender_e164.as_deref(),
        "{name}"
    );
    assert_eq!(
        u32::from(decoded.device_id().get()),
        expected.sender_device_id,
        "{name}"
    );
    assert_eq!(decoded.expiration_ms(), expected.expiration_ms, "{name}");
    assert_eq!(
        decoded.identity_key().encode().to_vec(),
        unhex(&expected.identity_key),
        "{name}"
    );
    match decoded.signer() {
        Signer::Embedded(server) => assert_eq!(server.key_id(), expected.signer_key_id, "{name}"),
        Signer::Reference(id) => panic!("{name}: unexpected reference to {id}"),
    }
}

#[test]
fn key_setup_draws_make_the_recorded_keys() {
    let v = load();
    let mut rng = ReplayRng::new(unhex(&v.key_setup_rng));
    for (name, pair) in [
        ("trust_root", &v.trust_root),
        ("server_key", &v.server_key),
        ("wrong_trust_root", &v.wrong_trust_root),
    ] {
        let drawn = KeyPair::generate(&mut rng);
        assert_eq!(drawn, pair.key_pair(), "{FILE}: {name}");
    }
    assert_eq!(rng.remaining(), 0);
}

#[test]
fn server_certificates() {
    let v = load();
    let expected = &v.server_certificate;
    let mut rng = ReplayRng::new(unhex(&v.server_certificate_rng));
    let issued = ServerCertificate::issue(
        expected.key_id,
        &v.server_key.public(),
        v.trust_root.key_pair().private_key(),
        &mut rng,
    );
    assert_eq!((rng.remaining(), rng.overrun()), (0, false));
    assert_eq!(
        issued.as_bytes(),
        unhex(&expected.serialized),
        "{FILE}: server_certificate"
    );

    for (name, cert) in [
        ("server_certificate", expected),
        ("revoked_server_certificate", &v.revoked_server_certificate),
    ] {
        let decoded = ServerCertificate::decode(&unhex(&cert.serialized)).unwrap();
        assert_eq!(decoded.key_id(), cert.key_id, "{name}");
        assert_eq!(decoded.key().encode().to_vec(), unhex(&cert.key), "{name}");
        assert_eq!(decoded.signed_bytes(), unhex(&cert.certificate), "{name}");
        assert_eq!(
            decoded.signature().to_bytes().to_vec(),
            unhex(&cert.signature),
            "{name}"
        );
        assert_eq!(decoded.as_bytes(), unhex(&cert.serialized), "{name}");
    }
    assert_eq!(v.revoked_server_certificate.key_id, 0xDEAD_C357);

    let server = ServerCertificate::decode(&unhex(&expected.serialized)).unwrap();
    let revoked =
        ServerCertificate::decode(&unhex(&v.revoked_server_certificate.serialized)).unwrap();
    let good = validator(&v);
    assert_eq!(good.validate_server_certificate(&server), Ok(()));
    assert_eq!(
        good.validate_server_certificate(&revoked),
        Err(Error::RevokedServerCertificate(0xDEAD_C357))
    );
    // The revoked one is otherwise well signed: the revocation list alone refuses it.
    assert!(
        v.trust_root
            .public()
            .verify(revoked.signed_bytes(), revoked.signature())
    );
    let wrong = CertificateValidator::new(&v.wrong_trust_root.public());
    assert_eq!(
        wrong.validate_server_certificate(&server),
        Err(Error::UntrustedCertificate)
    );
    // Any of several roots will do.
    let both = CertificateValidator::with_trust_roots(&[
        v.wrong_trust_root.public(),
        v.trust_root.public(),
    ])
    .unwrap();
    assert_eq!(both.validate_server_certificate(&server), Ok(()));
}

#[test]
fn sender_certificates_reissue_and_validate() {
    let v = load();
    let server = ServerCertificate::decode(&unhex(&v.server_certificate.serialized)).unwrap();
    let certs = &v.sender_certificates;
    for (name, expected, rng) in [
        ("alice", &certs.alice, &certs.alice_creation_rng),
        ("bob", &certs.bob, &certs.bob_creation_rng),
    ] {
        let decoded = SenderCertificate::decode(&unhex(&expected.serialized)).unwrap();
        check_certificate_fields(name, &decoded, expected);
        let mut rng = ReplayRng::new(unhex(rng));
        let issued = SenderCertificate::issue(
            decoded.fields(),
            &server,
            v.server_key.key_pair().private_key(),
            &mut rng,
        )
        .unwrap();
        assert_eq!((rng.remaining(), rng.overrun()), (0, false), "{name}");
        assert_eq!(
            issued.as_bytes(),
            unhex(&expected.serialized),
            "{FILE}: sender_certificates.{name}"
        );
        assert_eq!(issued, decoded, "{name}");
    }
    for (name, expected) in [
        ("alice_expired", &certs.alice_expired),
        (
            "alice_signed_by_revoked_server_key",
            &certs.alice_signed_by_revoked_server_key,
        ),
    ] {
        check_certificate_fields(
            name,
            &SenderCertificate::decode(&unhex(&expected.serialized)).unwrap(),
            expected,
        );
    }

    let now = v.now_ms;
    let alice = SenderCertificate::decode(&unhex(&certs.alice.serialized)).unwrap();
    let bob = SenderCertificate::decode(&unhex(&certs.bob.serialized)).unwrap();
    let expired = SenderCertificate::decode(&unhex(&certs.alice_expired.serialized)).unwrap();
    let revoked =
        SenderCertificate::decode(&unhex(&certs.alice_signed_by_revoked_server_key.serialized))
            .unwrap();
    let mut cached = validator(&v);
    cached.add_server_certificate(server.clone()).unwrap();
    for validator in [validator(&v), cached] {
        assert_eq!(validator.validate(&alice, now), Ok(()));
        assert_eq!(validator.validate(&bob, now), Ok(()));
        // Valid up to and including the expiry.
        assert_eq!(
            validator.validate(&alice, certs.alice.expiration_ms),
            Ok(())
        );
        assert_eq!(
            validator.validate(&alice, certs.alice.expiration_ms + 1),
            Err(Error::ExpiredCertificate {
                expiration_ms: certs.alice.expiration_ms,
                now_ms: certs.alice.expiration_ms + 1
            })
        );
        assert_eq!(
            validator.validate(&expired, now),
            Err(Error::ExpiredCertificate {
                expiration_ms: 1_699_999_999_999,
                now_ms: now
            })
        );
        assert_eq!(
            validator.validate(&revoked, now),
            Err(Error::RevokedServerCertificate(0xDEAD_C357))
        );
    }
    let wrong = CertificateValidator::new(&v.wrong_trust_root.public());
    assert_eq!(
        wrong.validate(&alice, now),
        Err(Error::UntrustedCertificate)
    );
    let mut wrong = wrong;
    assert_eq!(
        wrong.add_server_certificate(server),
        Err(Error::UntrustedCertificate)
    );
}

fn content_type(msg_type: u8) -> ContentType {
    match msg_type {
        3 => ContentType::PreKey,
        2 => ContentType::Whisper,
        7 => ContentType::SenderKey,
        8 => ContentType::Plaintext,
        other => panic!("{FILE}: msg_type {other}"),
    }
}

/// Decodes the recorded content, checks its fields, and checks that building it from
/// those fields gives the recorded bytes.
fn check_usmc(name: &str, usmc: &Usmc) -> UnidentifiedSenderMessageContent {
    let bytes = unhex(&usmc.serialized);
    let decoded = UnidentifiedSenderMessageContent::decode(&bytes).unwrap();
    assert_eq!(
        decoded.content_type(),
        content_type(usmc.msg_type),
        "{name}"
    );
    assert_eq!(
        decoded.content_type().ciphertext_message_type(),
        usmc.msg_type,
        "{name}"
    );
    assert_eq!(
        decoded.sender_certificate().as_bytes(),
        unhex(&usmc.sender_certificate),
        "{name}"
    );
    assert_eq!(decoded.contents(), unhex(&usmc.contents), "{name}");
    assert_eq!(
        decoded.content_hint(),
        ContentHint::from(usmc.content_hint),
        "{name}"
    );
    assert_eq!(decoded.content_hint().to_u32(), usmc.content_hint, "{name}");
    assert_eq!(decoded.group_id().map(hex::encode), usmc.group_id, "{name}");
    let built = UnidentifiedSenderMessageContent::new(
        content_type(usmc.msg_type),
        SenderCertificate::decode(&unhex(&usmc.sender_certificate)).unwrap(),
        unhex(&usmc.contents),
        ContentHint::from(usmc.content_hint),
        usmc.group_id.as_deref().map(unhex),
    )
    .unwrap();
    assert_eq!(built.as_bytes(), bytes, "{FILE}: {name}: usmc.serialized");
    assert_eq!(built, decoded, "{name}");
    decoded
}

#[test]
fn v1_messages_seal_and_open_byte_for_byte() {
    let v = load();
    let parties = parties(&v);
    let validator = validator(&v);
    assert_eq!(v.v1.len(), 7);
    for m in &v.v1 {
        let name = format!("{FILE}: v1 {}", m.name);
        let sender = parties[&(m.sender.uuid.clone(), m.sender.device_id)];
        let recipient = parties[&(m.recipient.uuid.clone(), m.recipient.device_id)];
        let content = check_usmc(&name, &m.usmc);
        assert_eq!(content.content_hint().to_u32(), m.content_hint, "{name}");
        assert_eq!(content.group_id().map(hex::encode), m.group_id, "{name}");

        // The ephemeral key is the last draw; the ones before it are the inner
        // message_encrypt's (SPQR), not sealed sender's.
        let rng = unhex(&m.encrypt_rng);
        let last = draw_len(m.encrypt_rng_draws.last().unwrap());
        assert_eq!(
            m.encrypt_rng_draws.last().map(String::as_str),
            Some("fill(32)"),
            "{name}"
        );
        let ephemeral = PrivateKey::from_bytes(rng[rng.len() - last..].try_into().unwrap());
        assert_eq!(
            ephemeral.public_key().encode().to_vec(),
            unhex(&m.ephemeral_public),
            "{name}"
        );
        assert_eq!(
            ephemeral.to_bytes().to_vec(),
            unhex(&m.ephemeral_private),
            "{name}"
        );

        let mut replay = ReplayRng::new(rng[rng.len() - last..].to_vec());
        let sealed = hush_sealed::seal_v1(
            &content,
            &sender.identity(),
            &recipient.identity().identity_key(),
            &mut replay,
        )
        .unwrap();
        assert_eq!((replay.remaining(), replay.overrun()), (0, false), "{name}");
        assert_eq!(hex::encode(&sealed), m.sealed, "{name}: sealed");

        // The recorded fields, found in the bytes.
        let f = &m.sealed_fields;
        assert_eq!(sealed[0], f.version_byte, "{name}");
        assert_eq!(f.version_byte, 0x11);
        let text = hex::encode(&sealed);
        for (field, value, len) in [
            ("ephemeral_public", &f.ephemeral_public, 33),
            ("encrypted_static", &f.encrypted_static, 43),
        ] {
            assert_eq!(value.len() / 2, len, "{name}: {field}");
            assert!(text.contains(value.as_str()), "{name}: {field}");
        }
        assert!(
            text.ends_with(&f.encrypted_message),
            "{name}: encrypted_message"
        );
        assert_eq!(
            f.encrypted_message.len() / 2,
            m.usmc.serialized.len() / 2 + 10,
            "{name}"
        );

        assert_eq!(m.decrypt.local_uuid, m.recipient.uuid, "{name}");
        let opened = hush_sealed::open(
            &unhex(&m.sealed),
            &recipient.identity(),
            &validator,
            m.decrypt.timestamp_ms,
        )
        .unwrap();
        assert_eq!(opened.version(), SealedVersion::V1, "{name}");
        assert_eq!(opened.content(), &content, "{name}");
        assert_eq!(
            opened.content().as_bytes(),
            unhex(&m.usmc.serialized),
            "{name}"
        );
        let certificate = opened.sender_certificate();
        assert_eq!(
            certificate.sender().to_string(),
            m.decrypt.result.sender_uuid,
            "{name}"
        );
        assert_eq!(
            certificate.sender_e164(),
            m.decrypt.result.sender_e164.as_deref(),
            "{name}"
        );
        assert_eq!(
            u32::from(certificate.device_id().get()),
            m.decrypt.result.device_id,
            "{name}"
        );
        check_certificate_fields(
            &name,
            certificate,
            sender_cert_vector(&v, &m.usmc.sender_certificate),
        );
        assert!(!opened.is_from(
            &service_id(&m.recipient.uuid),
            None,
            DeviceId::new(m.recipient.device_id).unwrap()
        ));
        assert!(opened.is_from(certificate.sender(), None, certificate.device_id()));
    }
}

/// libsignal's answer for each negative case, as hush's typed error.
fn expected_v1_error(case: &V1Negative) -> Error {
    match (
        case.name.as_str(),
        case.error_variant.as_str(),
        case.error.as_str(),
    ) {
        (
            "expired_certificate",
            "InvalidSealedSenderMessage",
            "invalid sealed sender message: trust root validation failed",
        ) => Error::ExpiredCertificate {
            expiration_ms: 1_699_999_999_999,
            now_ms: case.timestamp_ms,
        },
        (
            "decrypted_after_expiry",
            "InvalidSealedSenderMessage",
            "invalid sealed sender message: trust root validation failed",
        ) => Error::ExpiredCertificate {
            expiration_ms: 1_702_592_000_000,
            now_ms: case.timestamp_ms,
        },
        (
            "wrong_trust_root",
            "InvalidSealedSenderMessage",
            "invalid sealed sender message: trust root validation failed",
        ) => Error::UntrustedCertificate,
        (
            "revoked_server_key_id",
            "InvalidSealedSenderMessage",
            "invalid sealed sender message: trust root validation failed",
        ) => Error::RevokedServerCertificate(0xDEAD_C357),
        (
            "tampered_ephemeral_public" | "tampered_encrypted_static",
            "InvalidSealedSenderMessage",
            "invalid sealed sender message: failed to decrypt sealed sender v1 message key",
        )
        | (
            "tampered_encrypted_message",
            "InvalidSealedSenderMessage",
            "invalid sealed sender message: failed to decrypt sealed sender v1 message contents",
        ) => Error::DecryptionFailed,
        (
            "unknown_version_byte",
            "UnknownSealedSenderVersion",
            "unknown sealed sender message version 5",
        ) => Error::UnknownVersion(5),
        other => panic!("{FILE}: v1_negative case not mapped: {other:?}"),
    }
}

#[test]
fn v1_negative_cases_give_the_matching_errors() {
    let v = load();
    let bob = v.parties.bob.identity();
    assert_eq!(v.v1_negative.len(), 8);
    for case in &v.v1_negative {
        let name = format!("{FILE}: v1_negative {}", case.name);
        assert_eq!(case.local_uuid, v.parties.bob.uuid, "{name}");
        let case_validator =
            CertificateValidator::new(&PublicKey::decode(&unhex(&case.trust_root_public)).unwrap());
        let result = hush_sealed::open(
            &unhex(&case.sealed),
            &bob,
            &case_validator,
            case.timestamp_ms,
        );
        assert_eq!(result.unwrap_err(), expected_v1_error(case), "{name}");

        // The untampered message decrypts; where its certificate can validate (under
        // the real root, before its expiry: the wrong-root case only validates under
        // another root), re-sealing its content with the recorded ephemeral draw gives
        // it back.
        let genuine = unhex(&case.genuine_sealed);
        match hush_sealed::open(&genuine, &bob, &validator(&v), v.now_ms - 1) {
            Ok(opened) => {
                let mut rng = ReplayRng::new(unhex(&case.encrypt_rng));
                let resealed = hush_sealed::seal_v1(
                    opened.content(),
                    &v.parties.alice.identity(),
                    &bob.identity_key(),
                    &mut rng,
                )
                .unwrap();
                assert_eq!(resealed, genuine, "{name}: genuine_sealed");
            }
            Err(error) => assert_eq!(
                (case.name.as_str(), error),
                (
                    "revoked_server_key_id",
                    Error::RevokedServerCertificate(0xDEAD_C357)
                ),
                "{name}"
            ),
        }
    }
}

#[test]
fn v2_send_split_and_open_byte_for_byte() {
    let v = load();
    let parties = parties(&v);
    let validator = validator(&v);
    let alice = v.parties.alice.identity();
    assert_eq!(v.v2.len(), 2);
    for m in &v.v2 {
        let name = format!("{FILE}: v2 {}", m.name);
        let content = check_usmc(&name, &m.usmc);
        let destinations: Vec<Destination> = m
            .destinations
            .iter()
            .map(|d| {
                let party = parties[&(d.uuid.clone(), d.device_id)];
                Destination {
                    service_id: service_id(&d.uuid),
                    device_id: DeviceId::new(d.device_id).unwrap(),
                    registration_id: party.registration_id,
                    identity_key: party.identity().identity_key(),
                }
            })
            .collect();
        let excluded: Vec<ServiceId> = m.excluded.iter().map(|s| service_id(s)).collect();
        for id in &excluded {
            assert_eq!(
                *id.uuid(),
                *service_id(&v.parties.excluded_uuid).uuid(),
                "{name}"
            );
        }

        assert_eq!(m.encrypt_rng_draws, ["u32 x32"], "{name}");
        let mut rng = ReplayRng::new(unhex(&m.encrypt_rng));
        let sent =
            hush_sealed::seal_v2(&content, &alice, &destinations, &excluded, &mut rng).unwrap();
        assert_eq!((rng.remaining(), rng.overrun()), (0, false), "{name}");
        assert_eq!(hex::encode(&sent), m.sent, "{name}: sent");
        assert_eq!(sent[0], m.sent_version_byte, "{name}");

        // The server's side, on the recorded bytes.
        let sent = unhex(&m.sent);
        let parsed = SentMessage::parse(&sent).unwrap();
        assert_eq!(parsed.version(), 0x23, "{name}");
        assert_eq!(
            parsed.shared_bytes_offset(),
            m.shared_bytes_offset,
            "{name}"
        );
        assert_eq!(parsed.recipients().len(), m.recipients.len(), "{name}");
        let deliveries = parsed.split();
        let mut delivered = deliveries.iter();
        for (recipient, expected) in parsed.recipients().zip(&m.recipients) {
            let rname = format!("{name}: recipient {}", expected.service_id);
            assert_eq!(
                recipient.service_id(),
                service_id(&expected.service_id),
                "{rname}"
            );
            assert_eq!(
                recipient.service_id().to_string(),
                expected.service_id,
                "{rname}"
            );
            assert_eq!(
                recipient.service_id().fixed_width_binary().to_vec(),
                unhex(&expected.service_id_fixed_width_binary),
                "{rname}"
            );
            let devices: Vec<(u32, u16)> = recipient
                .devices()
                .iter()
                .map(|d| (u32::from(d.device_id.get()), d.registration_id))
                .collect();
            let expected_devices: Vec<(u32, u16)> = expected
                .devices
                .iter()
                .map(|d| (d.device_id, d.registration_id))
                .collect();
            assert_eq!(devices, expected_devices, "{rname}");
            match &expected.received {
                None => {
                    assert!(recipient.is_excluded(), "{rname}");
                    assert_eq!(expected.key_material_range, [0, 0], "{rname}");
                    assert_eq!(recipient.key_material_range(), None, "{rname}");
                    assert_eq!(recipient.received_message(), None, "{rname}");
                }
                Some(received) => {
                    let [start, end] = expected.key_material_range;
                    assert_eq!(recipient.key_material_range(), Some(start..end), "{rname}");
                    assert_eq!(
                        hex::encode(recipient.received_message().unwrap()),
                        *received,
                        "{rname}: received"
                    );
                    let delivery = delivered.next().unwrap();
                    assert_eq!(delivery.service_id, recipient.service_id(), "{rname}");
                    assert_eq!(delivery.devices, recipient.devices(), "{rname}");
                    assert_eq!(hex::encode(&delivery.message), *received, "{rname}: split");
                }
            }
            // Every device of the recipient opens the same ReceivedMessage.
            assert_eq!(
                expected.decryptions.len(),
                expected.devices.len(),
                "{rname}"
            );
            for decryption in &expected.decryptions {
                let party = parties[&(expected.service_id.clone(), decryption.device_id)];
                assert_eq!(party.registration_id, decryption.registration_id, "{rname}");
                assert!(decryption.usmc_matches, "{rname}");
                let opened = hush_sealed::open(
                    &unhex(expected.received.as_ref().unwrap()),
                    &party.identity(),
                    &validator,
                    v.now_ms,
                )
                .unwrap();
                assert_eq!(opened.version(), SealedVersion::V2, "{rname}");
                assert_eq!(opened.content(), &content, "{rname}");
                assert_eq!(
                    opened.content_type().ciphertext_message_type(),
                    decryption.msg_type,
                    "{rname}"
                );
                let certificate = opened.sender_certificate();
                assert_eq!(
                    certificate.sender().to_string(),
                    decryption.sender_uuid,
                    "{rname}"
                );
                assert_eq!(
                    certificate.sender_e164(),
                    decryption.sender_e164.as_deref(),
                    "{rname}"
                );
                assert_eq!(
                    u32::from(certificate.device_id().get()),
                    decryption.sender_device_id,
                    "{rname}"
                );
            }
        }
        assert!(delivered.next().is_none(), "{name}");
        assert_eq!(parsed.excluded().collect::<Vec<_>>(), excluded, "{name}");

        for case in &m.negative {
            let cname = format!("{name}: negative {}", case.name);
            let opener = parties[&(case.opened_by.clone(), 1)];
            let expected = match (case.name.as_str(), case.error.as_str()) {
                ("received_message_of_another_recipient", e)
                    if e.starts_with(
                        "invalid sealed sender message: derived ephemeral key did not match",
                    ) =>
                {
                    Error::DecryptionFailed
                }
                ("tampered_shared_ciphertext", e)
                    if e.starts_with(
                        "invalid sealed sender message: failed to decrypt inner message",
                    ) =>
                {
                    Error::DecryptionFailed
                }
                other => panic!("{cname}: not mapped: {other:?}"),
            };
            let result = hush_sealed::open(
                &unhex(&case.received),
                &opener.identity(),
                &validator,
                v.now_ms,
            );
            assert_eq!(result.unwrap_err(), expected, "{cname}");
        }
    }
}

#[test]
fn identity_keys_of_the_parties_are_what_the_file_says() {
    // Devices of one account share the account's identity key (the libsignal model the
    // vectors use), which is what makes v2 write one entry per account.
    let v = load();
    let mut by_uuid: BTreeMap<&str, Vec<IdentityKey>> = BTreeMap::new();
    for party in &v.parties.others {
        by_uuid
            .entry(&party.uuid)
            .or_default()
            .push(party.identity().identity_key());
    }
    assert_eq!(by_uuid.len(), 2);
    for keys in by_uuid.values() {
        assert!(keys.windows(2).all(|w| w[0] == w[1]));
    }
}
