//! # hush-sealed
//!
//! Sealed sender for [hush](https://example.invalid/hush), wire-compatible with
//! libsignal v0.101: messages whose sender the server cannot see. The sender's identity
//! travels inside the encryption, vouched for by a certificate the service issued; the
//! server routes by recipient only.
//!
//! What it is:
//!
//! - Certificates: [`ServerCertificate`] (a server key and id, signed by a trust root)
//!   and [`SenderCertificate`] (an ACI, optional phone number, device id, identity key
//!   and expiry, signed by a server key), with the server's side
//!   ([`ServerCertificate::issue`], [`SenderCertificate::issue`]) and the recipient's
//!   ([`CertificateValidator`]: one or more trust roots, libsignal's revocation list,
//!   expiry, and server certificates checked once and kept with their keys decoded).
//! - [`UnidentifiedSenderMessageContent`]: what is sealed (the inner session or group
//!   message, its [`ContentType`], the sender certificate, a [`ContentHint`], an
//!   optional group id).
//! - v1, one recipient: [`seal_v1`].
//! - v2, many recipients: [`seal_v2`] writes a `SentMessage` for the server, which
//!   [`SentMessage::parse`] checks and [`SentMessage::split`]s into one
//!   `ReceivedMessage` per recipient entry, with the devices (and registration ids) it
//!   goes to.
//! - [`open`]: the recipient's side for both versions; it decrypts, checks that the
//!   certificate names the identity key the message was sealed with, and validates the
//!   certificate. The result, [`OpenedMessage`], still has to be decrypted through the
//!   session path: only then is the sender known.
//!
//! What it is not: the session layer. The inner messages are `hush-ratchet` or
//! `hush-group` messages that the caller encrypts before sealing and decrypts after
//! opening. It does no I/O and reads no clock (times are milliseconds since the Unix
//! epoch, passed in); randomness comes from the caller's [`rand_core::CryptoRng`], drawn
//! as libsignal draws it, so libsignal's recorded messages replay byte for byte
//! (`test-vectors/libsignal-v0101/sealed_sender.json`).
//!
//! Linked devices: libsignal's v2 has one entry of key material per account, because a
//! Signal account's devices share one identity key. hush's linked devices each have
//! their own; [`seal_v2`] writes one entry per distinct (service id, identity key), and
//! the split routes each entry to its own devices. The formats, derivations and this
//! decision are in `docs/wire/sealed-sender.md`.
//!
//! ## Example
//!
//! ```
//! use hush_core::{IdentityKeyPair, KeyPair, ServiceId};
//! use hush_sealed::{
//!     CertificateValidator, ContentHint, ContentType, Destination, DeviceId,
//!     SenderCertificate, SenderCertificateFields, SentMessage, ServerCertificate,
//!     UnidentifiedSenderMessageContent,
//! };
//!
//! let mut rng = hush_core::rng::os_rng();
//! let now_ms = 1_700_000_000_000;
//!
//! // The service: a trust root (its public key is in every app) certifies a server
//! // key, which certifies Alice's device for a day.
//! let trust_root = KeyPair::generate(&mut rng);
//! let server_key = KeyPair::generate(&mut rng);
//! let server_certificate =
//!     ServerCertificate::issue(1, &server_key.public_key(), trust_root.private_key(), &mut rng);
//! let alice = IdentityKeyPair::generate(&mut rng);
//! let alice_aci = ServiceId::parse("9d0652a3-dcc3-4d11-975f-74d61598733f").unwrap();
//! let certificate = SenderCertificate::issue(
//!     &SenderCertificateFields {
//!         sender: alice_aci,
//!         sender_e164: None,
//!         device_id: DeviceId::new(1)?,
//!         identity_key: alice.identity_key(),
//!         expiration_ms: now_ms + 86_400_000,
//!     },
//!     &server_certificate,
//!     server_key.private_key(),
//!     &mut rng,
//! )?;
//!
//! // Alice seals a (session-encrypted) message for Bob's two devices and Carol's.
//! let bob = IdentityKeyPair::generate(&mut rng);
//! let carol = IdentityKeyPair::generate(&mut rng);
//! let content = UnidentifiedSenderMessageContent::new(
//!     ContentType::Whisper,
//!     certificate,
//!     b"<a SignalMessage>".to_vec(),
//!     ContentHint::Resendable,
//!     None,
//! )?;
//! let bob_aci = ServiceId::parse("796abedb-ca4e-4f18-8803-1fde5b921f9f").unwrap();
//! let carol_aci = ServiceId::parse("3f0f4734-e331-4434-bd4f-6d8f6ea6dcc5").unwrap();
//! let destination = |service_id, device, registration_id, identity_key| -> hush_sealed::Result<_> {
//!     Ok(Destination { service_id, device_id: DeviceId::new(device)?, registration_id, identity_key })
//! };
//! let sent = hush_sealed::seal_v2(
//!     &content,
//!     &alice,
//!     &[
//!         destination(bob_aci, 1, 1111, bob.identity_key())?,
//!         destination(bob_aci, 2, 2222, bob.identity_key())?,
//!         destination(carol_aci, 1, 3333, carol.identity_key())?,
//!     ],
//!     &[],
//!     &mut rng,
//! )?;
//!
//! // The server splits it without learning the sender.
//! let parsed = SentMessage::parse(&sent)?;
//! let deliveries = parsed.split();
//! assert_eq!(deliveries.len(), 2);
//! assert_eq!(deliveries[0].service_id, bob_aci);
//! assert_eq!(deliveries[0].devices.len(), 2);
//!
//! // Bob opens his copy; the certificate is validated against the trust root.
//! let mut validator = CertificateValidator::new(&trust_root.public_key());
//! validator.add_server_certificate(server_certificate.clone())?; // optional: faster
//! let opened = hush_sealed::open(&deliveries[0].message, &bob, &validator, now_ms)?;
//! assert_eq!(opened.sender_certificate().sender(), &alice_aci);
//! assert_eq!(opened.contents(), b"<a SignalMessage>");
//! // Next: decrypt opened.contents() with the session of (alice_aci, device 1), and only
//! // then show Alice as the sender.
//!
//! // v1 for one recipient works the same way.
//! let sealed = hush_sealed::seal_v1(opened.content(), &alice, &carol.identity_key(), &mut rng)?;
//! let opened = hush_sealed::open(&sealed, &carol, &validator, now_ms)?;
//! assert_eq!(opened.content_hint(), ContentHint::Resendable);
//!
//! // Carol cannot open Bob's copy.
//! assert_eq!(
//!     hush_sealed::open(&deliveries[0].message, &carol, &validator, now_ms).unwrap_err(),
//!     hush_sealed::Error::DecryptionFailed,
//! );
//! # Ok::<(), hush_sealed::Error>(())
//! ```
//!
//! ## Features
//!
//! None.

#![forbid(unsafe_code)]

mod certificate;
mod content;
mod error;
pub mod limits;
mod open;
mod sent;
mod v1;
mod v2;
mod wire;

#[cfg(test)]
mod tests;

pub use certificate::{
    CertificateValidator, DeviceId, REVOKED_SERVER_KEY_IDS, SenderCertificate,
    SenderCertificateFields, ServerCertificate, Signer,
};
pub use content::{ContentHint, ContentType, UnidentifiedSenderMessageContent};
pub use error::{Error, Result};
pub use open::{OpenedMessage, SealedVersion, open};
pub use sent::{Delivery, RecipientDevice, SentMessage, SentRecipient};
pub use v1::{V1_VERSION_BYTE, seal as seal_v1};
pub use v2::{
    Destination, RECEIVED_VERSION_BYTE, SENT_UUID_VERSION_BYTE, SENT_VERSION_BYTE, seal as seal_v2,
};
