//! Checks that need the crate's internals: a message sealed with an identity key other
//! than its certificate's (which the public API refuses to make) is refused on opening.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap or index is a failed test"
)]

use hush_core::{IdentityKeyPair, KeyPair, ServiceId};
use hush_test_support::test_rng;

use crate::{
    CertificateValidator, ContentHint, ContentType, Destination, DeviceId, Error,
    SenderCertificate, SenderCertificateFields, ServerCertificate,
    UnidentifiedSenderMessageContent, open, v1, v2,
};

const NOW: u64 = 1_700_000_000_000;

struct Setup {
    validator: CertificateValidator,
    alice: IdentityKeyPair,
    mallory: IdentityKeyPair,
    bob: IdentityKeyPair,
    content: UnidentifiedSenderMessageContent,
}

fn setup() -> Setup {
    let mut rng = test_rng(41);
    let root = KeyPair::generate(&mut rng);
    let server = KeyPair::generate(&mut rng);
    let server_certificate =
        ServerCertificate::issue(1, &server.public_key(), root.private_key(), &mut rng);
    let alice = IdentityKeyPair::generate(&mut rng);
    let certificate = SenderCertificate::issue(
        &SenderCertificateFields {
            sender: ServiceId::aci([1; 16]),
            sender_e164: None,
            device_id: DeviceId::new(1).unwrap(),
            identity_key: alice.identity_key(),
            expiration_ms: NOW + 1,
        },
        &server_certificate,
        server.private_key(),
        &mut rng,
    )
    .unwrap();
    let content = UnidentifiedSenderMessageContent::new(
        ContentType::Whisper,
        certificate,
        b"inner".to_vec(),
        ContentHint::Default,
        None,
    )
    .unwrap();
    Setup {
        validator: CertificateValidator::new(&root.public_key()),
        alice,
        mallory: IdentityKeyPair::generate(&mut rng),
        bob: IdentityKeyPair::generate(&mut rng),
        content,
    }
}

#[test]
fn v1_sealed_by_another_identity_is_refused() {
    let s = setup();
    let mut rng = test_rng(1);
    assert_eq!(
        v1::seal(&s.content, &s.mallory, &s.bob.identity_key(), &mut rng),
        Err(Error::SenderIdentityMismatch)
    );
    // Mallory puts Alice's certificate into a message she seals herself.
    let forged =
        v1::seal_unchecked(&s.content, &s.mallory, &s.bob.identity_key(), &mut rng).unwrap();
    assert_eq!(
        open(&forged, &s.bob, &s.validator, NOW).unwrap_err(),
        Error::SenderIdentityMismatch
    );
    // The same content sealed by Alice opens.
    let genuine = v1::seal(&s.content, &s.alice, &s.bob.identity_key(), &mut rng).unwrap();
    assert!(open(&genuine, &s.bob, &s.validator, NOW).is_ok());
}

#[test]
fn v2_sealed_by_another_identity_is_refused() {
    let s = setup();
    let mut rng = test_rng(2);
    let destinations = [Destination {
        service_id: ServiceId::aci([2; 16]),
        device_id: DeviceId::new(1).unwrap(),
        registration_id: 7,
        identity_key: s.bob.identity_key(),
    }];
    assert_eq!(
        v2::seal(&s.content, &s.mallory, &destinations, &[], &mut rng),
        Err(Error::SenderIdentityMismatch)
    );
    let forged = v2::seal_unchecked(&s.content, &s.mallory, &destinations, &[], &mut rng).unwrap();
    let received = crate::SentMessage::parse(&forged)
        .unwrap()
        .split()
        .remove(0)
        .message;
    // The AES-GCM-SIV layer opens (Mallory knows M); the authentication tag, computed
    // with Alice's key from the certificate, does not match.
    assert_eq!(
        open(&received, &s.bob, &s.validator, NOW).unwrap_err(),
        Error::SenderIdentityMismatch
    );
}
