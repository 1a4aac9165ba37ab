//! `SignalMessage` and `PreKeySignalMessage` in libsignal's exact wire form.
//!
//! Both start with a version byte, `(message_version << 4) | current_version`; hush reads
//! the high nibble as the message version, as libsignal does. A `SignalMessage` ends with
//! an 8-byte MAC: the first 8 bytes of HMAC-SHA256 under the message's MAC key over the
//! sender's identity key, the receiver's identity key (33 bytes each) and everything
//! before the MAC, so the SPQR payload (`pq_ratchet`, field 5) and the `addresses`
//! (field 6) are authenticated with the rest.

use prost::Message;

use hush_core::kdf::{HmacSha256Key, constant_time_eq};
use hush_core::{IdentityKey, KemCiphertext, PublicKey, ServiceId};

use crate::error::{Error, Result};
use crate::wire;

/// The message version of PQXDH sessions: what libsignal speaks today.
pub const PQXDH_MESSAGE_VERSION: u8 = 4;
/// The message version of classic X3DH sessions (hush-to-hush only, opt-in).
pub const X3DH_MESSAGE_VERSION: u8 = 3;
/// Length of the truncated MAC at the end of a `SignalMessage`.
pub const MAC_LENGTH: usize = 8;

fn version_byte(version: u8) -> u8 {
    (version << 4) | PQXDH_MESSAGE_VERSION
}

fn check_version(byte: u8) -> Result<u8> {
    let version = byte >> 4;
    if version < X3DH_MESSAGE_VERSION {
        return Err(Error::LegacyVersion(version));
    }
    if version > PQXDH_MESSAGE_VERSION {
        return Err(Error::UnknownVersion(version));
    }
    Ok(version)
}

/// Length of the `addresses` field: two service ids in fixed-width binary form (17
/// bytes each), each followed by its device id (1 byte).
pub const ADDRESSES_LENGTH: usize = 36;

/// One end of a session as the `addresses` field names it: a service id and a device id
/// libsignal can represent (1 to 127).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ServiceAddress {
    service_id: ServiceId,
    device_id: u8,
}

impl ServiceAddress {
    /// Largest device id libsignal accepts.
    pub const MAX_DEVICE_ID: u32 = 127;

    /// An address, if `device_id` is one libsignal can represent (1 to
    /// [`ServiceAddress::MAX_DEVICE_ID`]).
    #[must_use]
    pub fn new(service_id: ServiceId, device_id: u32) -> Option<Self> {
        if device_id == 0 || device_id > Self::MAX_DEVICE_ID {
            return None;
        }
        let device_id = u8::try_from(device_id).ok()?;
        Some(Self {
            service_id,
            device_id,
        })
    }

    /// Parses an address name (see [`ServiceId::parse`]) and takes the device id; `None`
    /// if the name is not a service id or the device id is out of range.
    #[must_use]
    pub fn parse(name: &str, device_id: u32) -> Option<Self> {
        Self::new(ServiceId::parse(name)?, device_id)
    }

    /// The service id.
    #[must_use]
    pub const fn service_id(&self) -> &ServiceId {
        &self.service_id
    }

    /// The device id.
    #[must_use]
    pub const fn device_id(&self) -> u8 {
        self.device_id
    }
}

/// The names of a session's two ends, when both are service ids: what libsignal
/// v0.101 writes into the `addresses` field of a first message, and checks on receipt.
///
/// Pass `None` wherever a call takes `Option<SessionAddresses>` when either name is not
/// a service id (libsignal's rule): first messages then carry no `addresses`, and a
/// received message that carries them is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionAddresses {
    /// This device.
    pub local: ServiceAddress,
    /// The peer device.
    pub remote: ServiceAddress,
}

impl SessionAddresses {
    /// The 36 bytes of the `addresses` field of a message from `sender` to `recipient`.
    fn field(sender: &ServiceAddress, recipient: &ServiceAddress) -> [u8; ADDRESSES_LENGTH] {
        let mut out = [0u8; ADDRESSES_LENGTH];
        let (sender_id, recipient_id) = (
            sender.service_id.fixed_width_binary(),
            recipient.service_id.fixed_width_binary(),
        );
        let parts = [
            sender_id.as_slice(),
            &[sender.device_id],
            recipient_id.as_slice(),
            &[recipient.device_id],
        ];
        let mut at = 0usize;
        for part in parts {
            if let Some(target) = out.get_mut(at..at + part.len()) {
                target.copy_from_slice(part);
            }
            at += part.len();
        }
        out
    }

    /// The field as this device writes it (sender = local).
    pub(crate) fn outgoing(&self) -> [u8; ADDRESSES_LENGTH] {
        Self::field(&self.local, &self.remote)
    }

    /// The field as this device expects it in a received message (sender = remote).
    pub(crate) fn incoming(&self) -> [u8; ADDRESSES_LENGTH] {
        Self::field(&self.remote, &self.local)
    }

    /// Whether the two ends are the same account: the same service id (libsignal's
    /// `is_same_account` also requires the same identity key, which the caller checks).
    pub(crate) fn same_service_id(&self) -> bool {
        self.local.service_id == self.remote.service_id
    }
}

/// A message inside an established session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalMessage {
    version: u8,
    ratchet_key: PublicKey,
    counter: u32,
    previous_counter: u32,
    ciphertext: Vec<u8>,
    pq_ratchet: Vec<u8>,
    addresses: Option<Vec<u8>>,
    serialized: Vec<u8>,
}

impl SignalMessage {
    /// Decodes and checks the structure (not the MAC, which needs session keys).
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] for a short message, bad protobuf, a missing field or a bad
    /// ratchet key; [`Error::LegacyVersion`] / [`Error::UnknownVersion`].
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let (&first, _) = bytes
            .split_first()
            .ok_or(Error::Malformed("signal message"))?;
        let version = check_version(first)?;
        let body_end = bytes
            .len()
            .checked_sub(MAC_LENGTH)
            .filter(|&end| end >= 1)
            .ok_or(Error::Malformed("signal message"))?;
        let body = bytes
            .get(1..body_end)
            .ok_or(Error::Malformed("signal message"))?;
        let proto =
            wire::SignalMessage::decode(body).map_err(|_| Error::Malformed("signal message"))?;
        let ratchet_key = proto
            .ratchet_key
            .ok_or(Error::Malformed("signal message"))?;
        let ratchet_key =
            PublicKey::decode(&ratchet_key).map_err(|_| Error::Malformed("ratchet key"))?;
        Ok(Self {
            version,
            ratchet_key,
            counter: proto.counter.ok_or(Error::Malformed("signal message"))?,
            previous_counter: proto.previous_counter.unwrap_or(0),
            ciphertext: proto.ciphertext.ok_or(Error::Malformed("signal message"))?,
            pq_ratchet: proto.pq_ratchet.unwrap_or_default(),
            addresses: proto.addresses,
            serialized: bytes.to_vec(),
        })
    }

    /// Builds and MACs a message (sender side).
    #[allow(clippy::too_many_arguments)] // each argument is one wire field
    pub(crate) fn new(
        version: u8,
        mac_key: &[u8; 32],
        ratchet_key: PublicKey,
        counter: u32,
        previous_counter: u32,
        ciphertext: Vec<u8>,
        pq_ratchet: &[u8],
        addresses: Option<[u8; ADDRESSES_LENGTH]>,
        sender_identity: &IdentityKey,
        receiver_identity: &IdentityKey,
    ) -> Self {
        let proto = wire::SignalMessage {
            ratchet_key: Some(ratchet_key.encode().to_vec()),
            counter: Some(counter),
            previous_counter: Some(previous_counter),
            ciphertext: Some(ciphertext),
            pq_ratchet: (!pq_ratchet.is_empty()).then(|| pq_ratchet.to_vec()),
            addresses: addresses.map(|a| a.to_vec()),
        };
        let mut serialized = Vec::with_capacity(1 + proto.encoded_len() + MAC_LENGTH);
        serialized.push(version_byte(version));
        // Writing into a Vec cannot run out of space.
        let _ = proto.encode(&mut serialized);
        let mac = compute_mac(mac_key, sender_identity, receiver_identity, &serialized);
        serialized.extend_from_slice(&mac);
        Self {
            version,
            ratchet_key,
            counter,
            previous_counter,
            ciphertext: proto.ciphertext.unwrap_or_default(),
            pq_ratchet: proto.pq_ratchet.unwrap_or_default(),
            addresses: proto.addresses,
            serialized,
        }
    }

    /// After the MAC check: whether the `addresses` field, if the message carries one,
    /// names the sender and this device as `addresses` says (libsignal's rule: a message
    /// without the field is accepted; one with it is refused unless both names are
    /// service ids and the bytes match). Compared in constant time.
    pub(crate) fn addresses_match(&self, addresses: Option<&SessionAddresses>) -> bool {
        match (&self.addresses, addresses) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(carried), Some(expected)) => constant_time_eq(carried, &expected.incoming()),
        }
    }

    /// Checks the MAC in constant time.
    pub(crate) fn verify_mac(
        &self,
        mac_key: &[u8; 32],
        sender_identity: &IdentityKey,
        receiver_identity: &IdentityKey,
    ) -> bool {
        let split = self.serialized.len().saturating_sub(MAC_LENGTH);
        let (body, mac) = self.serialized.split_at(split);
        HmacSha256Key::new(mac_key)
            .verify_parts(
                &[&sender_identity.encode(), &receiver_identity.encode(), body],
                mac,
            )
            .unwrap_or(false)
    }

    /// The message version (3 or 4).
    #[must_use]
    pub const fn version(&self) -> u8 {
        self.version
    }

    /// The sender's current ratchet public key.
    #[must_use]
    pub const fn ratchet_key(&self) -> &PublicKey {
        &self.ratchet_key
    }

    /// The message's index in its sending chain.
    #[must_use]
    pub const fn counter(&self) -> u32 {
        self.counter
    }

    /// The length of the sender's previous sending chain.
    #[must_use]
    pub const fn previous_counter(&self) -> u32 {
        self.previous_counter
    }

    /// The AES-CBC body.
    #[must_use]
    pub fn body(&self) -> &[u8] {
        &self.ciphertext
    }

    /// The SPQR payload (field 5, `pq_ratchet`): empty when the sender runs no SPQR.
    #[must_use]
    pub fn pq_ratchet(&self) -> &[u8] {
        &self.pq_ratchet
    }

    /// The `addresses` field (field 6), if the message carries one: the sender's and the
    /// recipient's service ids and device ids, only ever in the message inside a first
    /// message.
    #[must_use]
    pub fn addresses(&self) -> Option<&[u8]> {
        self.addresses.as_deref()
    }

    /// The full wire bytes.
    #[must_use]
    pub fn encode(&self) -> &[u8] {
        &self.serialized
    }
}

fn compute_mac(
    mac_key: &[u8; 32],
    sender_identity: &IdentityKey,
    receiver_identity: &IdentityKey,
    body: &[u8],
) -> [u8; MAC_LENGTH] {
    let full = HmacSha256Key::new(mac_key).mac_parts(&[
        &sender_identity.encode(),
        &receiver_identity.encode(),
        body,
    ]);
    let mut mac = [0u8; MAC_LENGTH];
    mac.copy_from_slice(full.get(..MAC_LENGTH).unwrap_or(&[0; MAC_LENGTH]));
    mac
}

/// The first message(s) of a session: the key agreement's public parts around a
/// [`SignalMessage`]. Sent until the other side answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreKeySignalMessage {
    version: u8,
    registration_id: u32,
    pre_key_id: Option<u32>,
    signed_pre_key_id: u32,
    kem_pre_key_id: Option<u32>,
    kem_ciphertext: Option<KemCiphertext>,
    base_key: PublicKey,
    identity_key: IdentityKey,
    message: SignalMessage,
    serialized: Vec<u8>,
}

impl PreKeySignalMessage {
    /// Decodes and checks the structure.
    ///
    /// A version-4 message must carry a KEM prekey id and ciphertext; a version-3 one
    /// must not. The inner message must have the same version.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`], [`Error::LegacyVersion`], [`Error::UnknownVersion`].
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let (&first, body) = bytes
            .split_first()
            .ok_or(Error::Malformed("prekey message"))?;
        let version = check_version(first)?;
        let proto = wire::PreKeySignalMessage::decode(body)
            .map_err(|_| Error::Malformed("prekey message"))?;
        let missing = Error::Malformed("prekey message");
        let base_key = PublicKey::decode(proto.base_key.as_deref().ok_or(missing.clone())?)
            .map_err(|_| Error::Malformed("base key"))?;
        let identity_key =
            IdentityKey::decode(proto.identity_key.as_deref().ok_or(missing.clone())?)
                .map_err(|_| Error::Malformed("identity key"))?;
        let message = SignalMessage::decode(proto.message.as_deref().ok_or(missing.clone())?)?;
        if message.version != version {
            return Err(Error::Malformed("prekey message"));
        }
        let (kem_pre_key_id, kem_ciphertext) =
            match (version, proto.kyber_pre_key_id, proto.kyber_ciphertext) {
                (PQXDH_MESSAGE_VERSION, Some(id), Some(ciphertext)) => (
                    Some(id),
                    Some(
                        KemCiphertext::decode(&ciphertext)
                            .map_err(|_| Error::Malformed("KEM ciphertext"))?,
                    ),
                ),
                (X3DH_MESSAGE_VERSION, None, None) => (None, None),
                _ => return Err(missing),
            };
        Ok(Self {
            version,
            registration_id: proto.registration_id.unwrap_or(0),
            pre_key_id: proto.pre_key_id,
            signed_pre_key_id: proto.signed_pre_key_id.ok_or(missing)?,
            kem_pre_key_id,
            kem_ciphertext,
            base_key,
            identity_key,
            message,
            serialized: bytes.to_vec(),
        })
    }

    #[allow(clippy::too_many_arguments)] // each argument is one wire field
    pub(crate) fn new(
        version: u8,
        registration_id: u32,
        pre_key_id: Option<u32>,
        signed_pre_key_id: u32,
        kem: Option<(u32, KemCiphertext)>,
        base_key: PublicKey,
        identity_key: IdentityKey,
        message: SignalMessage,
    ) -> Self {
        let (kem_pre_key_id, kem_ciphertext) = match kem {
            Some((id, ciphertext)) => (Some(id), Some(ciphertext)),
            None => (None, None),
        };
        let proto = wire::PreKeySignalMessage {
            pre_key_id,
            base_key: Some(base_key.encode().to_vec()),
            identity_key: Some(identity_key.encode().to_vec()),
            message: Some(message.serialized.clone()),
            registration_id: Some(registration_id),
            signed_pre_key_id: Some(signed_pre_key_id),
            kyber_pre_key_id: kem_pre_key_id,
            kyber_ciphertext: kem_ciphertext.as_ref().map(KemCiphertext::encode),
        };
        let mut serialized = Vec::with_capacity(1 + proto.encoded_len());
        serialized.push(version_byte(version));
        let _ = proto.encode(&mut serialized);
        Self {
            version,
            registration_id,
            pre_key_id,
            signed_pre_key_id,
            kem_pre_key_id,
            kem_ciphertext,
            base_key,
            identity_key,
            message,
            serialized,
        }
    }

    /// The message version (3 or 4).
    #[must_use]
    pub const fn version(&self) -> u8 {
        self.version
    }

    /// The sender's registration id.
    #[must_use]
    pub const fn registration_id(&self) -> u32 {
        self.registration_id
    }

    /// The one-time prekey the sender used, if any.
    #[must_use]
    pub const fn pre_key_id(&self) -> Option<u32> {
        self.pre_key_id
    }

    /// The signed prekey the sender used.
    #[must_use]
    pub const fn signed_pre_key_id(&self) -> u32 {
        self.signed_pre_key_id
    }

    /// The KEM prekey the sender used (PQXDH).
    #[must_use]
    pub const fn kem_pre_key_id(&self) -> Option<u32> {
        self.kem_pre_key_id
    }

    /// The KEM ciphertext (PQXDH).
    #[must_use]
    pub const fn kem_ciphertext(&self) -> Option<&KemCiphertext> {
        self.kem_ciphertext.as_ref()
    }

    /// The sender's base key.
    #[must_use]
    pub const fn base_key(&self) -> &PublicKey {
        &self.base_key
    }

    /// The sender's identity key.
    #[must_use]
    pub const fn identity_key(&self) -> &IdentityKey {
        &self.identity_key
    }

    /// The inner message.
    #[must_use]
    pub const fn message(&self) -> &SignalMessage {
        &self.message
    }

    /// The full wire bytes.
    #[must_use]
    pub fn encode(&self) -> &[u8] {
        &self.serialized
    }
}

/// What `encrypt` produces: either kind of message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CiphertextMessage {
    /// A message in an acknowledged session (wire type 2).
    Signal(SignalMessage),
    /// A message of a session the other side has not answered yet (wire type 3).
    PreKey(PreKeySignalMessage),
}

impl CiphertextMessage {
    /// libsignal's message type number: 2 for `SignalMessage`, 3 for
    /// `PreKeySignalMessage`.
    #[must_use]
    pub const fn message_type(&self) -> u8 {
        match self {
            Self::Signal(_) => 2,
            Self::PreKey(_) => 3,
        }
    }

    /// The wire bytes.
    #[must_use]
    pub fn encode(&self) -> &[u8] {
        match self {
            Self::Signal(message) => message.encode(),
            Self::PreKey(message) => message.encode(),
        }
    }

    /// Decodes wire bytes given libsignal's message type number.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] for an unknown type, else the decoder's errors.
    pub fn decode(message_type: u8, bytes: &[u8]) -> Result<Self> {
        match message_type {
            2 => SignalMessage::decode(bytes).map(Self::Signal),
            3 => PreKeySignalMessage::decode(bytes).map(Self::PreKey),
            _ => Err(Error::Malformed("message type")),
        }
    }
}
