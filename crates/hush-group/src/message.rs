//! The two sender-key messages, in libsignal's wire form.
//!
//! Both start with a version byte, `(3 << 4) | 3 = 0x33`, followed by a protobuf
//! (libsignal's `wire.proto`):
//!
//! | message | field 1 | 2 | 3 | 4 | 5 | then |
//! |---|---|---|---|---|---|---|
//! | [`SenderKeyMessage`] | distribution id (16 B) | chain id | iteration | ciphertext | — | 64-byte XEdDSA signature over everything before it |
//! | [`SenderKeyDistributionMessage`] | distribution id (16 B) | chain id | iteration | chain key (32 B) | signing key (33 B) | — |
//!
//! Decoding checks the version and every field and keeps the bytes as received: the
//! signature covers them, and a message re-sent or stored round-trips unchanged.

use core::fmt;

use hush_core::xeddsa::SIGNATURE_LENGTH;
use hush_core::{PrivateKey, PublicKey, Signature};
use prost::Message as _;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::chain::{CHAIN_KEY_LENGTH, ChainKey};
use crate::distribution_id::DistributionId;
use crate::error::{Error, Result};
use crate::wire;

/// The sender-key message version hush speaks, as libsignal v0.91 does.
pub const SENDER_KEY_MESSAGE_VERSION: u8 = 3;

/// Shortest distribution message libsignal accepts: version byte plus room for a chain
/// key and a public key.
const MIN_DISTRIBUTION_MESSAGE_LEN: usize = 1 + 32 + 32;

/// Reads and checks the version byte, returning the rest.
fn split_version<'a>(bytes: &'a [u8], what: &'static str) -> Result<(u8, &'a [u8])> {
    let (&version_byte, rest) = bytes.split_first().ok_or(Error::Malformed(what))?;
    let version = version_byte >> 4;
    if version != SENDER_KEY_MESSAGE_VERSION {
        return Err(Error::UnknownVersion(version));
    }
    Ok((version, rest))
}

/// One group message: encrypted once by the sender, signed with the chain's signing key,
/// and fanned out to every member by the server.
///
/// Made by [`crate::SenderKeyRecord::encrypt`]; read with [`SenderKeyMessage::decode`],
/// whose [`distribution_id`](Self::distribution_id) (with the sender's address) tells the
/// app which [`crate::SenderKeyRecord`] decrypts it.
#[derive(Clone, PartialEq, Eq)]
pub struct SenderKeyMessage {
    message_version: u8,
    distribution_id: DistributionId,
    chain_id: u32,
    iteration: u32,
    ciphertext: Vec<u8>,
    serialized: Vec<u8>,
}

impl SenderKeyMessage {
    const WHAT: &'static str = "sender key message";

    /// Decodes and checks a message's wire bytes. The signature is checked later, by the
    /// record that holds the sender's signing key.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownVersion`] if the version byte's high nibble is not 3;
    /// [`Error::Malformed`] if the bytes are shorter than a version byte and a signature,
    /// the protobuf does not decode, or a field is missing or the distribution id is not
    /// 16 bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        if bytes.len() < 1 + SIGNATURE_LENGTH {
            return Err(Error::Malformed(Self::WHAT));
        }
        let (message_version, rest) = split_version(bytes, Self::WHAT)?;
        let proto_len = rest.len().saturating_sub(SIGNATURE_LENGTH);
        let proto = rest.get(..proto_len).ok_or(Error::Malformed(Self::WHAT))?;
        let wire =
            wire::SenderKeyMessage::decode(proto).map_err(|_| Error::Malformed(Self::WHAT))?;
        let (Some(uuid), Some(chain_id), Some(iteration), Some(ciphertext)) = (
            wire.distribution_uuid,
            wire.chain_id,
            wire.iteration,
            wire.ciphertext,
        ) else {
            return Err(Error::Malformed(Self::WHAT));
        };
        let distribution_id =
            DistributionId::decode(&uuid).map_err(|_| Error::Malformed(Self::WHAT))?;
        Ok(Self {
            message_version,
            distribution_id,
            chain_id,
            iteration,
            ciphertext,
            serialized: bytes.to_vec(),
        })
    }

    /// Builds and signs a message; draws 64 bytes from `rng` for the signature.
    pub(crate) fn new_signed<R: rand_core::CryptoRng + ?Sized>(
        message_version: u8,
        distribution_id: DistributionId,
        chain_id: u32,
        iteration: u32,
        ciphertext: Vec<u8>,
        signing_key: &PrivateKey,
        rng: &mut R,
    ) -> Self {
        let proto = wire::SenderKeyMessage {
            distribution_uuid: Some(distribution_id.as_bytes().to_vec()),
            chain_id: Some(chain_id),
            iteration: Some(iteration),
            ciphertext: Some(ciphertext),
        };
        let encoded = proto.encode_to_vec();
        let mut serialized = Vec::with_capacity(1 + encoded.len() + SIGNATURE_LENGTH);
        serialized.push((message_version << 4) | SENDER_KEY_MESSAGE_VERSION);
        serialized.extend_from_slice(&encoded);
        let signature = signing_key.sign(&serialized, rng);
        serialized.extend_from_slice(signature.as_bytes());
        let ciphertext = proto.ciphertext.unwrap_or_default();
        Self {
            message_version,
            distribution_id,
            chain_id,
            iteration,
            ciphertext,
            serialized,
        }
    }

    /// The message version (3).
    #[must_use]
    pub const fn message_version(&self) -> u8 {
        self.message_version
    }

    /// The distribution id: with the sender's address, the key of the record that
    /// decrypts this message.
    #[must_use]
    pub const fn distribution_id(&self) -> DistributionId {
        self.distribution_id
    }

    /// The sender's chain.
    #[must_use]
    pub const fn chain_id(&self) -> u32 {
        self.chain_id
    }

    /// The message's position in the chain.
    #[must_use]
    pub const fn iteration(&self) -> u32 {
        self.iteration
    }

    /// The AES-256-CBC ciphertext.
    #[must_use]
    pub fn ciphertext(&self) -> &[u8] {
        &self.ciphertext
    }

    /// The wire bytes: version byte, protobuf, signature.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.serialized
    }

    /// The wire bytes, by value.
    #[must_use]
    pub fn into_bytes(self) -> Vec<u8> {
        self.serialized
    }

    /// The part the signature covers, and the signature.
    pub(crate) fn signed_part_and_signature(&self) -> Result<(&[u8], Signature)> {
        let split = self.serialized.len().saturating_sub(SIGNATURE_LENGTH);
        let (signed, signature) = self
            .serialized
            .split_at_checked(split)
            .ok_or(Error::Malformed(Self::WHAT))?;
        Ok((
            signed,
            Signature::decode(signature).map_err(|_| Error::Malformed(Self::WHAT))?,
        ))
    }
}

impl AsRef<[u8]> for SenderKeyMessage {
    fn as_ref(&self) -> &[u8] {
        &self.serialized
    }
}

impl fmt::Debug for SenderKeyMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            message_version,
            distribution_id,
            chain_id,
            iteration,
            ciphertext,
            serialized: _,
        } = self;
        f.debug_struct("SenderKeyMessage")
            .field("message_version", message_version)
            .field("distribution_id", distribution_id)
            .field("chain_id", chain_id)
            .field("iteration", iteration)
            .field("ciphertext_len", &ciphertext.len())
            .finish_non_exhaustive()
    }
}

/// A sender's chain, as handed to each group member over a pairwise session: the chain
/// key at the current iteration and the signing public key.
///
/// Made by [`crate::SenderKeyRecord::create_distribution`]; read with
/// [`SenderKeyDistributionMessage::decode`] and applied with
/// [`crate::SenderKeyRecord::process_distribution`].
///
/// It carries the chain key, which decrypts every later message of the chain: send it
/// only inside an end-to-end encrypted pairwise session. It is wiped on drop, its `Debug`
/// output shows no key, and equality is constant-time.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SenderKeyDistributionMessage {
    #[zeroize(skip)]
    message_version: u8,
    #[zeroize(skip)]
    distribution_id: DistributionId,
    #[zeroize(skip)]
    chain_id: u32,
    #[zeroize(skip)]
    iteration: u32,
    chain_key: [u8; CHAIN_KEY_LENGTH],
    #[zeroize(skip)]
    signing_key: PublicKey,
    serialized: Vec<u8>,
}

impl SenderKeyDistributionMessage {
    const WHAT: &'static str = "sender key distribution message";

    /// Decodes and checks a distribution message's wire bytes.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownVersion`] if the version byte's high nibble is not 3;
    /// [`Error::Malformed`] if the bytes are shorter than 65 (libsignal's bound), the
    /// protobuf does not decode, a field is missing, the distribution id is not 16 bytes,
    /// the chain key not 32, or the signing key not a 33-byte Curve25519 public key.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        if bytes.len() < MIN_DISTRIBUTION_MESSAGE_LEN {
            return Err(Error::Malformed(Self::WHAT));
        }
        let (message_version, rest) = split_version(bytes, Self::WHAT)?;
        let wire = wire::SenderKeyDistributionMessage::decode(rest)
            .map_err(|_| Error::Malformed(Self::WHAT))?;
        let (Some(uuid), Some(chain_id), Some(iteration), Some(chain_key), Some(signing_key)) = (
            wire.distribution_uuid.as_deref(),
            wire.chain_id,
            wire.iteration,
            wire.chain_key.as_deref(),
            wire.signing_key.as_deref(),
        ) else {
            return Err(Error::Malformed(Self::WHAT));
        };
        let distribution_id =
            DistributionId::decode(uuid).map_err(|_| Error::Malformed(Self::WHAT))?;
        let chain_key: [u8; CHAIN_KEY_LENGTH] = chain_key
            .try_into()
            .map_err(|_| Error::Malformed(Self::WHAT))?;
        let signing_key =
            PublicKey::decode(signing_key).map_err(|_| Error::Malformed(Self::WHAT))?;
        Ok(Self {
            message_version,
            distribution_id,
            chain_id,
            iteration,
            chain_key,
            signing_key,
            serialized: bytes.to_vec(),
        })
    }

    /// Builds the message for a chain.
    pub(crate) fn new(
        message_version: u8,
        distribution_id: DistributionId,
        chain_id: u32,
        chain_key: &ChainKey,
        signing_key: PublicKey,
    ) -> Self {
        let proto = wire::SenderKeyDistributionMessage {
            distribution_uuid: Some(distribution_id.as_bytes().to_vec()),
            chain_id: Some(chain_id),
            iteration: Some(chain_key.iteration()),
            chain_key: Some(chain_key.key().to_vec()),
            signing_key: Some(signing_key.encode().to_vec()),
        };
        let encoded = Zeroizing::new(proto.encode_to_vec());
        let mut serialized = Vec::with_capacity(1 + encoded.len());
        serialized.push((message_version << 4) | SENDER_KEY_MESSAGE_VERSION);
        serialized.extend_from_slice(&encoded);
        Self {
            message_version,
            distribution_id,
            chain_id,
            iteration: chain_key.iteration(),
            chain_key: *chain_key.key(),
            signing_key,
            serialized,
        }
    }

    /// The message version (3).
    #[must_use]
    pub const fn message_version(&self) -> u8 {
        self.message_version
    }

    /// The distribution id the chain belongs to.
    #[must_use]
    pub const fn distribution_id(&self) -> DistributionId {
        self.distribution_id
    }

    /// The chain id.
    #[must_use]
    pub const fn chain_id(&self) -> u32 {
        self.chain_id
    }

    /// The iteration of the chain key: the first message the receiver can decrypt.
    #[must_use]
    pub const fn iteration(&self) -> u32 {
        self.iteration
    }

    /// The sender's signing public key for this chain.
    #[must_use]
    pub const fn signing_key(&self) -> &PublicKey {
        &self.signing_key
    }

    /// The chain key, for the record that processes the message.
    pub(crate) fn chain_key(&self) -> ChainKey {
        ChainKey::new(self.iteration, self.chain_key)
    }

    /// The wire bytes. They contain the chain key: encrypt them for each recipient.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.serialized
    }
}

impl PartialEq for SenderKeyDistributionMessage {
    fn eq(&self, other: &Self) -> bool {
        self.serialized.ct_eq(&other.serialized).into()
    }
}

impl Eq for SenderKeyDistributionMessage {}

impl fmt::Debug for SenderKeyDistributionMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            message_version,
            distribution_id,
            chain_id,
            iteration,
            chain_key: _,
            signing_key,
            serialized: _,
        } = self;
        f.debug_struct("SenderKeyDistributionMessage")
            .field("message_version", message_version)
            .field("distribution_id", distribution_id)
            .field("chain_id", chain_id)
            .field("iteration", iteration)
            .field("signing_key", signing_key)
            .finish_non_exhaustive()
    }
}
