//! Server and sender certificates, their issuing, and their validation against trust
//! roots.
//!
//! A trust root (held by the service operator, its public key compiled into apps)
//! signs server certificates; a server key named by a server certificate signs sender
//! certificates, which bind an account's ACI, optional phone number and device id to that
//! device's identity key until an expiry time. Formats: libsignal's `sealed_sender.proto`
//! (`docs/wire/sealed-sender.md`).

use core::fmt;

use hush_core::rng::CryptoRng;
use hush_core::{
    IdentityKey, PrivateKey, PublicKey, ServiceId, ServiceIdKind, Signature, VerifyingKey,
};
use prost::Message;

use crate::error::{Error, Result};
use crate::limits::{
    MAX_CERTIFICATE_LEN, MAX_DEVICE_ID, MAX_KNOWN_SERVER_CERTIFICATES, MAX_TRUST_ROOTS,
};
use crate::wire;

/// Server key ids no certificate may carry. libsignal v0.101 lists exactly this one,
/// kept for testing its revocation logic; no production server certificate has been
/// revoked.
pub const REVOKED_SERVER_KEY_IDS: &[u32] = &[0xDEAD_C357];

/// A device id as sealed sender carries it: 1 to 127 (libsignal's `DeviceId`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId(u8);

impl DeviceId {
    /// A device id.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidDeviceId`] outside 1..=127.
    pub fn new(id: u32) -> Result<Self> {
        match u8::try_from(id) {
            Ok(byte @ 1..=MAX_DEVICE_ID) => Ok(Self(byte)),
            _ => Err(Error::InvalidDeviceId(id)),
        }
    }

    /// The id.
    #[must_use]
    pub const fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u32> for DeviceId {
    type Error = Error;

    fn try_from(id: u32) -> Result<Self> {
        Self::new(id)
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A server certificate: a server key and its id, signed by a trust root.
///
/// Keeps the bytes it was decoded from (the signature covers the inner part). Not secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerCertificate {
    serialized: Vec<u8>,
    certificate: Vec<u8>,
    signature: Signature,
    key_id: u32,
    key: PublicKey,
}

impl ServerCertificate {
    /// Issues a certificate for the server key `key` under `key_id`, signed by the
    /// trust root's private key (64 random bytes from `rng`, as libsignal draws them).
    ///
    /// Issuing a revoked id is allowed (libsignal allows it; such a certificate never
    /// validates): tests and revocation drills need one.
    pub fn issue<R: CryptoRng + ?Sized>(
        key_id: u32,
        key: &PublicKey,
        trust_root: &PrivateKey,
        rng: &mut R,
    ) -> Self {
        let certificate = wire::ServerCertificateInner {
            id: Some(key_id),
            key: Some(key.encode().to_vec()),
        }
        .encode_to_vec();
        let signature = trust_root.sign(&certificate, rng);
        let serialized = wire::ServerCertificate {
            certificate: Some(certificate.clone()),
            signature: Some(signature.to_bytes().to_vec()),
        }
        .encode_to_vec();
        Self {
            serialized,
            certificate,
            signature,
            key_id,
            key: *key,
        }
    }

    /// Decodes a serialised `ServerCertificate`. Checks the structure only; a
    /// [`CertificateValidator`] checks the signature.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] for bad protobuf, a missing field, a key that is not a
    /// 33-byte Curve25519 key, or a signature that is not 64 bytes; [`Error::TooMany`]
    /// for more than [`MAX_CERTIFICATE_LEN`] bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "server certificate";
        check_len(bytes)?;
        let outer = wire::ServerCertificate::decode(bytes).map_err(|_| Error::Malformed(WHAT))?;
        let (Some(certificate), Some(signature)) = (outer.certificate, outer.signature) else {
            return Err(Error::Malformed(WHAT));
        };
        let inner = wire::ServerCertificateInner::decode(certificate.as_slice())
            .map_err(|_| Error::Malformed(WHAT))?;
        let (Some(key_id), Some(key)) = (inner.id, inner.key) else {
            return Err(Error::Malformed(WHAT));
        };
        Ok(Self {
            serialized: bytes.to_vec(),
            certificate,
            signature: Signature::decode(&signature).map_err(|_| Error::Malformed(WHAT))?,
            key_id,
            key: PublicKey::decode(&key).map_err(|_| Error::Malformed(WHAT))?,
        })
    }

    /// The serialised certificate.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.serialized
    }

    /// The server key's id.
    #[must_use]
    pub const fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The server key, which signs sender certificates.
    #[must_use]
    pub const fn key(&self) -> &PublicKey {
        &self.key
    }

    /// The signed inner bytes (`ServerCertificate.Certificate`).
    #[must_use]
    pub fn signed_bytes(&self) -> &[u8] {
        &self.certificate
    }

    /// The trust root's signature.
    #[must_use]
    pub const fn signature(&self) -> &Signature {
        &self.signature
    }

    /// Checks the revocation list, then the signature under every root in `roots` (all
    /// of them, whatever the first answers, so the time does not tell which matched).
    fn check(&self, roots: &[VerifyingKey]) -> Result<()> {
        if REVOKED_SERVER_KEY_IDS.contains(&self.key_id) {
            return Err(Error::RevokedServerCertificate(self.key_id));
        }
        let mut any = false;
        for root in roots {
            any |= root.verify(&self.certificate, &self.signature);
        }
        if any {
            Ok(())
        } else {
            Err(Error::UntrustedCertificate)
        }
    }
}

impl fmt::Debug for ServerCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerCertificate")
            .field("key_id", &self.key_id)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// How a sender certificate names the server certificate whose key signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signer {
    /// The server certificate itself (field 5; what libsignal and hush issue).
    Embedded(ServerCertificate),
    /// The id of a server certificate the recipient already holds (field 8). libsignal
    /// compiles three in (Signal's staging and production certificates and a test one);
    /// hush compiles none in: a [`CertificateValidator`] resolves the id among the server
    /// certificates the app gave it with [`CertificateValidator::add_server_certificate`],
    /// and refuses an id it does not hold ([`Error::UnknownServerCertificate`]).
    Reference(u32),
}

/// What a sender certificate says about its sender, for [`SenderCertificate::issue`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderCertificateFields {
    /// The sender's account id: an ACI.
    pub sender: ServiceId,
    /// The sender's phone number, if the service discloses it.
    pub sender_e164: Option<String>,
    /// The sender device.
    pub device_id: DeviceId,
    /// The sender device's identity key.
    pub identity_key: IdentityKey,
    /// Expiry, milliseconds since the Unix epoch: the certificate is valid up to and
    /// including this time.
    pub expiration_ms: u64,
}

/// A sender certificate: an account's ACI, optional phone number, device id and the
/// device's identity key, with an expiry, signed by a server key.
///
/// Keeps the bytes it was decoded from (the signature covers the inner part). Not secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SenderCertificate {
    serialized: Vec<u8>,
    certificate: Vec<u8>,
    signature: Signature,
    fields: SenderCertificateFields,
    signer: Signer,
}

impl SenderCertificate {
    /// Issues a certificate (the server's side), signed by `server_key`, the private key
    /// of `signer` (64 random bytes from `rng`, as libsignal draws them). The certificate
    /// embeds `signer` and writes the ACI as text, as libsignal does.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] if `server_key` is not the key `signer` certifies, or the
    /// sender is a PNI (sealed sender is sent from accounts, named by their ACI);
    /// [`Error::TooMany`] if the certificate would exceed [`MAX_CERTIFICATE_LEN`].
    pub fn issue<R: CryptoRng + ?Sized>(
        fields: &SenderCertificateFields,
        signer: &ServerCertificate,
        server_key: &PrivateKey,
        rng: &mut R,
    ) -> Result<Self> {
        if server_key.public_key() != *signer.key() {
            return Err(Error::InvalidKey(
                "server key: not the one its certificate names",
            ));
        }
        if fields.sender.kind() != ServiceIdKind::Aci {
            return Err(Error::InvalidKey("sender: a PNI"));
        }
        let certificate = wire::SenderCertificateInner {
            sender_e164: fields.sender_e164.clone(),
            sender_device: Some(u32::from(fields.device_id.get())),
            expires: Some(fields.expiration_ms),
            identity_key: Some(fields.identity_key.encode().to_vec()),
            signer: Some(wire::Signer::Certificate(signer.as_bytes().to_vec())),
            sender_uuid: Some(wire::SenderUuid::UuidString(fields.sender.to_string())),
        }
        .encode_to_vec();
        // Checked before signing, so that an oversized request costs no signature.
        if certificate.len().saturating_add(80) > MAX_CERTIFICATE_LEN {
            return Err(Error::TooMany {
                what: "sender certificate bytes",
                limit: MAX_CERTIFICATE_LEN,
            });
        }
        let signature = server_key.sign(&certificate, rng);
        let serialized = wire::SenderCertificate {
            certificate: Some(certificate.clone()),
            signature: Some(signature.to_bytes().to_vec()),
        }
        .encode_to_vec();
        Ok(Self {
            serialized,
            certificate,
            signature,
            fields: fields.clone(),
            signer: Signer::Embedded(signer.clone()),
        })
    }

    /// Decodes a serialised `SenderCertificate`. Checks the structure only; a
    /// [`CertificateValidator`] checks signatures and expiry.
    ///
    /// Stricter than libsignal, which takes any text as the sender's UUID: the ACI must
    /// be a hyphenated UUID (either case) or 16 bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] for bad protobuf, a missing field, a device id outside
    /// 1..=127, a sender that is not an ACI, an identity key that is not a 33-byte
    /// Curve25519 key, a signature that is not 64 bytes, or a bad embedded server
    /// certificate; [`Error::TooMany`] for more than [`MAX_CERTIFICATE_LEN`] bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "sender certificate";
        check_len(bytes)?;
        let outer = wire::SenderCertificate::decode(bytes).map_err(|_| Error::Malformed(WHAT))?;
        let (Some(certificate), Some(signature)) = (outer.certificate, outer.signature) else {
            return Err(Error::Malformed(WHAT));
        };
        let inner = wire::SenderCertificateInner::decode(certificate.as_slice())
            .map_err(|_| Error::Malformed(WHAT))?;
        let (Some(device), Some(expiration_ms), Some(identity_key), Some(signer), Some(uuid)) = (
            inner.sender_device,
            inner.expires,
            inner.identity_key,
            inner.signer,
            inner.sender_uuid,
        ) else {
            return Err(Error::Malformed(WHAT));
        };
        let sender = match uuid {
            wire::SenderUuid::UuidString(text) => ServiceId::parse(&text),
            wire::SenderUuid::UuidBytes(bytes) => <[u8; 16]>::try_from(bytes.as_slice())
                .ok()
                .map(ServiceId::aci),
        }
        .filter(|id| id.kind() == ServiceIdKind::Aci)
        .ok_or(Error::Malformed(WHAT))?;
        let signer = match signer {
            wire::Signer::Certificate(bytes) => {
                Signer::Embedded(ServerCertificate::decode(&bytes)?)
            }
            wire::Signer::Id(id) => Signer::Reference(id),
        };
        Ok(Self {
            serialized: bytes.to_vec(),
            certificate,
            signature: Signature::decode(&signature).map_err(|_| Error::Malformed(WHAT))?,
            fields: SenderCertificateFields {
                sender,
                sender_e164: inner.sender_e164,
                device_id: DeviceId::new(device).map_err(|_| Error::Malformed(WHAT))?,
                identity_key: IdentityKey::decode(&identity_key)
                    .map_err(|_| Error::Malformed(WHAT))?,
                expiration_ms,
            },
            signer,
        })
    }

    /// The serialised certificate.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.serialized
    }

    /// The sender's ACI.
    #[must_use]
    pub const fn sender(&self) -> &ServiceId {
        &self.fields.sender
    }

    /// The sender's phone number, if present.
    #[must_use]
    pub fn sender_e164(&self) -> Option<&str> {
        self.fields.sender_e164.as_deref()
    }

    /// The sender device.
    #[must_use]
    pub const fn device_id(&self) -> DeviceId {
        self.fields.device_id
    }

    /// The sender device's identity key.
    #[must_use]
    pub const fn identity_key(&self) -> &IdentityKey {
        &self.fields.identity_key
    }

    /// Expiry, milliseconds since the Unix epoch (valid up to and including it).
    #[must_use]
    pub const fn expiration_ms(&self) -> u64 {
        self.fields.expiration_ms
    }

    /// Every field at once.
    #[must_use]
    pub const fn fields(&self) -> &SenderCertificateFields {
        &self.fields
    }

    /// The server certificate that signed it, or its id.
    #[must_use]
    pub const fn signer(&self) -> &Signer {
        &self.signer
    }

    /// The signed inner bytes (`SenderCertificate.Certificate`).
    #[must_use]
    pub fn signed_bytes(&self) -> &[u8] {
        &self.certificate
    }

    /// The server key's signature.
    #[must_use]
    pub const fn signature(&self) -> &Signature {
        &self.signature
    }
}

impl fmt::Debug for SenderCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SenderCertificate")
            .field("fields", &self.fields)
            .field("signer", &self.signer)
            .finish_non_exhaustive()
    }
}

fn check_len(bytes: &[u8]) -> Result<()> {
    if bytes.len() > MAX_CERTIFICATE_LEN {
        return Err(Error::TooMany {
            what: "certificate bytes",
            limit: MAX_CERTIFICATE_LEN,
        });
    }
    Ok(())
}

/// A server certificate checked against the roots, with its key ready for verification.
#[derive(Clone)]
struct KnownServer {
    certificate: ServerCertificate,
    verifying_key: VerifyingKey,
}

/// The trust roots a recipient accepts, and the server certificates it has already
/// checked against them.
///
/// [`CertificateValidator::validate`] checks a sender certificate as libsignal's
/// `validate_with_trust_roots` does, in the same order: the server certificate (not
/// revoked, signed by one of the roots), the sender certificate's signature by the
/// server key, then the expiry. A server certificate given to
/// [`CertificateValidator::add_server_certificate`] is checked once, there; a sender
/// certificate embedding exactly those bytes (or naming its id) then costs one signature
/// check with a key already decoded, instead of two checks and a key decoding. Clients
/// add the server certificate of their own sender certificate, which is the one nearly
/// every incoming message embeds.
#[derive(Clone)]
pub struct CertificateValidator {
    roots: Vec<VerifyingKey>,
    known: Vec<KnownServer>,
}

impl CertificateValidator {
    /// A validator trusting one root.
    #[must_use]
    pub fn new(trust_root: &PublicKey) -> Self {
        Self {
            roots: vec![VerifyingKey::new(trust_root)],
            known: Vec::new(),
        }
    }

    /// A validator trusting any of `trust_roots` (libsignal's
    /// `validate_with_trust_roots`), e.g. during a root rotation.
    ///
    /// # Errors
    ///
    /// [`Error::TooMany`] for none or more than [`MAX_TRUST_ROOTS`] roots.
    pub fn with_trust_roots(trust_roots: &[PublicKey]) -> Result<Self> {
        if trust_roots.is_empty() || trust_roots.len() > MAX_TRUST_ROOTS {
            return Err(Error::TooMany {
                what: "trust roots (and at least one)",
                limit: MAX_TRUST_ROOTS,
            });
        }
        Ok(Self {
            roots: trust_roots.iter().map(VerifyingKey::new).collect(),
            known: Vec::new(),
        })
    }

    /// Checks `certificate` against the roots and remembers it: for sender
    /// certificates that embed it (checked faster) and for those that name it by id.
    /// A certificate with the id of one already held replaces it.
    ///
    /// # Errors
    ///
    /// [`Error::RevokedServerCertificate`], [`Error::UntrustedCertificate`] as
    /// [`CertificateValidator::validate_server_certificate`]; [`Error::TooMany`] when
    /// [`MAX_KNOWN_SERVER_CERTIFICATES`] are held already.
    pub fn add_server_certificate(&mut self, certificate: ServerCertificate) -> Result<()> {
        certificate.check(&self.roots)?;
        let verifying_key = VerifyingKey::new(certificate.key());
        let known = KnownServer {
            certificate,
            verifying_key,
        };
        if let Some(slot) = self
            .known
            .iter_mut()
            .find(|k| k.certificate.key_id == known.certificate.key_id)
        {
            *slot = known;
            return Ok(());
        }
        if self.known.len() >= MAX_KNOWN_SERVER_CERTIFICATES {
            return Err(Error::TooMany {
                what: "known server certificates",
                limit: MAX_KNOWN_SERVER_CERTIFICATES,
            });
        }
        self.known.push(known);
        Ok(())
    }

    /// Checks a server certificate: its key id is not revoked and one of the roots
    /// signed it.
    ///
    /// # Errors
    ///
    /// [`Error::RevokedServerCertificate`] or [`Error::UntrustedCertificate`].
    pub fn validate_server_certificate(&self, certificate: &ServerCertificate) -> Result<()> {
        certificate.check(&self.roots)
    }

    /// Checks a sender certificate at `now_ms` (milliseconds since the Unix epoch).
    ///
    /// # Errors
    ///
    /// In this order: [`Error::UnknownServerCertificate`] for an id reference the
    /// validator does not hold; [`Error::RevokedServerCertificate`] or
    /// [`Error::UntrustedCertificate`] for the server certificate;
    /// [`Error::UntrustedCertificate`] if the server key did not sign the sender
    /// certificate; [`Error::ExpiredCertificate`] if `now_ms` is after its expiry.
    pub fn validate(&self, certificate: &SenderCertificate, now_ms: u64) -> Result<()> {
        let fresh;
        let server_key = match &certificate.signer {
            Signer::Reference(id) => self
                .known
                .iter()
                .find(|k| k.certificate.key_id == *id)
                .map(|k| &k.verifying_key)
                .ok_or(Error::UnknownServerCertificate(*id))?,
            Signer::Embedded(server) => {
                match self
                    .known
                    .iter()
                    .find(|k| k.certificate.serialized == server.serialized)
                {
                    Some(known) => &known.verifying_key,
                    None => {
                        server.check(&self.roots)?;
                        fresh = VerifyingKey::new(server.key());
                        &fresh
                    }
                }
            }
        };
        if !server_key.verify(&certificate.certificate, &certificate.signature) {
            return Err(Error::UntrustedCertificate);
        }
        if now_ms > certificate.fields.expiration_ms {
            return Err(Error::ExpiredCertificate {
                expiration_ms: certificate.fields.expiration_ms,
                now_ms,
            });
        }
        Ok(())
    }
}

impl fmt::Debug for CertificateValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateValidator")
            .field("roots", &self.roots.len())
            .field(
                "known_server_key_ids",
                &self
                    .known
                    .iter()
                    .map(|k| k.certificate.key_id)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}
