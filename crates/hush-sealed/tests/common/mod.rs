//! A small service and some parties for the integration tests.

#![allow(
    dead_code,
    missing_docs,
    clippy::unwrap_used,
    reason = "shared by several test files, each using part of it; a failed unwrap is a failed test"
)]

use hush_core::{IdentityKeyPair, KeyPair, ServiceId};
use hush_sealed::{
    CertificateValidator, ContentHint, ContentType, Destination, DeviceId, SenderCertificate,
    SenderCertificateFields, ServerCertificate, UnidentifiedSenderMessageContent,
};
use hush_test_support::test_rng;

pub(crate) const NOW: u64 = 1_700_000_000_000;
pub(crate) const EXPIRY: u64 = NOW + 86_400_000;

pub(crate) struct Service {
    pub(crate) root: KeyPair,
    pub(crate) server: KeyPair,
    pub(crate) server_certificate: ServerCertificate,
    pub(crate) validator: CertificateValidator,
}

pub(crate) fn service(seed: u64) -> Service {
    let mut rng = test_rng(seed);
    let root = KeyPair::generate(&mut rng);
    let server = KeyPair::generate(&mut rng);
    let server_certificate =
        ServerCertificate::issue(42, &server.public_key(), root.private_key(), &mut rng);
    Service {
        validator: CertificateValidator::new(&root.public_key()),
        root,
        server,
        server_certificate,
    }
}

pub(crate) fn aci(byte: u8) -> ServiceId {
    ServiceId::aci([byte; 16])
}

pub(crate) fn device(id: u32) -> DeviceId {
    DeviceId::new(id).unwrap()
}

pub(crate) fn identity(seed: u64) -> IdentityKeyPair {
    IdentityKeyPair::generate(&mut test_rng(seed))
}

impl Service {
    pub(crate) fn certificate(
        &self,
        sender: ServiceId,
        device_id: u32,
        identity: &IdentityKeyPair,
        expiry: u64,
    ) -> SenderCertificate {
        SenderCertificate::issue(
            &SenderCertificateFields {
                sender,
                sender_e164: Some("+14155550123".to_owned()),
                device_id: device(device_id),
                identity_key: identity.identity_key(),
                expiration_ms: expiry,
            },
            &self.server_certificate,
            self.server.private_key(),
            &mut test_rng(99),
        )
        .unwrap()
    }
}

pub(crate) fn content(
    certificate: SenderCertificate,
    contents: &[u8],
) -> UnidentifiedSenderMessageContent {
    UnidentifiedSenderMessageContent::new(
        ContentType::SenderKey,
        certificate,
        contents.to_vec(),
        ContentHint::Implicit,
        Some(vec![7; 32]),
    )
    .unwrap()
}

pub(crate) fn destination(
    service_id: ServiceId,
    device_id: u32,
    registration_id: u16,
    identity: &IdentityKeyPair,
) -> Destination {
    Destination {
        service_id,
        device_id: device(device_id),
        registration_id,
        identity_key: identity.identity_key(),
    }
}
