//! The linking protocol: the companion's offer, the primary's linking message, the
//! companion's countersignature, and the two state machines.
//!
//! ```text
//! companion                         relay                          primary
//! CompanionLinking::new ── QR code (LinkingOffer) ─────────────────────▶ scan
//!                                                  PrimaryLinking::accept
//!   ◀──────────────────────── LinkingMessage ──────────────────────────
//! CompanionLinking::receive
//!   ─────────────────────── Countersignature ─────────────────────────▶
//!                                                  PrimaryLinking::finish
//! ```
//!
//! Byte layouts, labels and the order of checks: `docs/wire/linking.md`.

use core::fmt;

use hush_core::cipher::Aes256GcmKey;
use hush_core::kdf::{HmacSha256Key, hkdf_sha256_array, hkdf_sha256_parts, hmac_sha256};
use hush_core::rng::CryptoRng;
use hush_core::{
    IdentityKey, IdentityKeyPair, KeyPair, PrivateKey, PublicKey, SharedSecret, Signature,
};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::codec::{Reader, check_version};
use crate::device_list::{DeviceEntry, PRIMARY_DEVICE_ID, sign_membership};
use crate::error::{Error, Result};
use crate::history::{HistoryHandOff, HistoryKey, TranscriptHash};
use crate::labels;
use crate::limits::{
    LINKING_GRACE_MS, MAX_ACCOUNT_ADDRESS_LEN, MAX_OFFER_LIFETIME_MS, MAX_SERVER_REFERENCE_LEN,
};
use crate::offer::{LinkingOffer, LinkingSecret, MAX_OFFER_LEN};
use crate::seen::{SeenOffers, latest_expiry};

/// Version byte of [`LinkingMessage`] and [`Countersignature`] (2: the metadata names
/// the user id, the countersignature carries the membership signature).
pub const MESSAGE_VERSION: u8 = 2;

/// Version byte of serialised linking states.
pub const STATE_VERSION: u8 = 2;

/// State tag: companion waiting for the linking message.
const TAG_COMPANION: u8 = 0x01;
/// State tag: primary waiting for the countersignature.
const TAG_PRIMARY: u8 = 0x02;

/// Both AEAD keys are used for exactly one message, so the nonce is fixed.
const NONCE: [u8; 12] = [0u8; 12];

const GCM_TAG: usize = 16;
const SIG: usize = 64;
const KEY33: usize = 33;
/// Metadata without the reference and user id bytes: device id 4, key index 4,
/// timestamp 8, reference length 1, user id length 1.
const METADATA_FIXED_LEN: usize = 4 + 4 + 8 + 1 + 1;

/// Shortest linking message on the wire (a 1-byte reference and a 1-byte user id).
pub const MIN_LINKING_MESSAGE_LEN: usize =
    1 + 32 + KEY33 + METADATA_FIXED_LEN + 1 + 1 + SIG + 32 + GCM_TAG;
/// Longest linking message on the wire.
pub const MAX_LINKING_MESSAGE_LEN: usize =
    MIN_LINKING_MESSAGE_LEN - 2 + MAX_SERVER_REFERENCE_LEN + MAX_ACCOUNT_ADDRESS_LEN;

/// Length of a countersignature on the wire: version, the encrypted device and
/// membership signatures, tag.
pub const COUNTERSIGNATURE_LEN: usize = 1 + 2 * SIG + GCM_TAG;

/// What the primary tells the companion about its place in the account; signed by the
/// account key and countersigned by the companion.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LinkingMetadata {
    /// The device id the primary assigned to the companion (never 0 or 1).
    pub device_id: u32,
    /// The account's key index (identity-key generation) the companion joins under.
    pub key_index: u32,
    /// When the primary accepted the offer (ms since the Unix epoch).
    pub timestamp_ms: u64,
    /// The server reference copied from the offer (1 to 64 bytes).
    pub server_reference: Vec<u8>,
    /// The account's user id (1 to [`MAX_ACCOUNT_ADDRESS_LEN`] bytes): the companion
    /// becomes device `device_id` of this user, whatever the server says.
    pub user_id: Vec<u8>,
}

impl LinkingMetadata {
    /// The signed byte form: device id u32, key index u32, timestamp u64 (all
    /// big-endian), reference length u8, reference, user id length u8, user id.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            METADATA_FIXED_LEN + self.server_reference.len() + self.user_id.len(),
        );
        out.extend_from_slice(&self.device_id.to_be_bytes());
        out.extend_from_slice(&self.key_index.to_be_bytes());
        out.extend_from_slice(&self.timestamp_ms.to_be_bytes());
        // Both lengths are checked (at most 64) on every path that builds metadata.
        out.push(u8::try_from(self.server_reference.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(&self.server_reference);
        out.push(u8::try_from(self.user_id.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(&self.user_id);
        out
    }

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        const WHAT: &str = "linking metadata";
        let device_id = r.u32()?;
        let key_index = r.u32()?;
        let timestamp_ms = r.u64()?;
        let len = usize::from(r.u8()?);
        if len == 0 || len > MAX_SERVER_REFERENCE_LEN {
            return Err(Error::Malformed(WHAT));
        }
        let server_reference = r.take(len)?.to_vec();
        let len = usize::from(r.u8()?);
        if len == 0 || len > MAX_ACCOUNT_ADDRESS_LEN {
            return Err(Error::Malformed(WHAT));
        }
        let user_id = r.take(len)?.to_vec();
        if device_id == 0 || device_id == PRIMARY_DEVICE_ID {
            return Err(Error::Malformed(WHAT));
        }
        Ok(Self {
            device_id,
            key_index,
            timestamp_ms,
            server_reference,
            user_id,
        })
    }
}

fn account_signed_bytes(metadata: &[u8], companion: &IdentityKey) -> Vec<u8> {
    [
        &labels::ACCOUNT_SIGNATURE_PREFIX[..],
        metadata,
        &companion.encode(),
    ]
    .concat()
}

fn device_signed_bytes(metadata: &[u8], companion: &IdentityKey, account: &IdentityKey) -> Vec<u8> {
    [
        &labels::DEVICE_SIGNATURE_PREFIX[..],
        metadata,
        &companion.encode(),
        &account.encode(),
    ]
    .concat()
}

/// The keys both sides derive from the X25519 agreement.
struct MessageKeys {
    message_key: Zeroizing<[u8; 32]>,
    mac_key: Zeroizing<[u8; 32]>,
}

fn message_keys(offer: &LinkingOffer, shared: &SharedSecret) -> Result<MessageKeys> {
    let salt = offer.public_hash();
    let message_key = hkdf_sha256_array(&salt, shared.as_bytes(), labels::LINKING_MESSAGE_KEY)
        .map_err(|_| Error::Tampered)?;
    let mac_key = hkdf_sha256_array(&salt, &offer.secret.0, labels::LINKING_MAC_KEY)
        .map_err(|_| Error::Tampered)?;
    Ok(MessageKeys {
        message_key,
        mac_key,
    })
}

/// The keys derived once the transcript is fixed.
struct TranscriptKeys {
    transcript: TranscriptHash,
    countersign_key: Zeroizing<[u8; 32]>,
    history_key: HistoryKey,
}

fn transcript_keys(
    offer: &LinkingOffer,
    message: &[u8],
    shared: &SharedSecret,
) -> Result<TranscriptKeys> {
    let offer_bytes = offer.encode();
    let transcript = TranscriptHash(
        *HmacSha256Key::new(labels::TRANSCRIPT_HASH).mac_parts(&[&offer_bytes, message]),
    );
    let countersign_key = hkdf_sha256_array(
        &transcript.0,
        shared.as_bytes(),
        labels::COUNTERSIGNATURE_KEY,
    )
    .map_err(|_| Error::Tampered)?;
    let mut history = Zeroizing::new([0u8; 32]);
    hkdf_sha256_parts(
        &transcript.0,
        &[shared.as_bytes().as_slice(), &offer.secret.0].concat(),
        &[labels::HISTORY_KEY],
        history.as_mut(),
    )
    .map_err(|_| Error::Tampered)?;
    Ok(TranscriptKeys {
        transcript,
        countersign_key,
        history_key: HistoryKey(*history),
    })
}

fn mac_input(offer: &LinkingOffer, header: &[u8], body: &[u8]) -> Vec<u8> {
    [offer.encode().as_slice(), header, body].concat()
}

/// The primary's answer to an offer, sent to the companion through the relay: the
/// primary's ephemeral public key and an AES-256-GCM ciphertext.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LinkingMessage {
    ephemeral: PublicKey,
    ciphertext: Vec<u8>,
}

impl LinkingMessage {
    /// The wire form: version, ephemeral key (32 bytes), ciphertext with tag.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(33 + self.ciphertext.len());
        out.push(MESSAGE_VERSION);
        out.extend_from_slice(self.ephemeral.as_montgomery_bytes());
        out.extend_from_slice(&self.ciphertext);
        out
    }

    /// Decodes the wire form (structure only; [`CompanionLinking::receive`] checks the
    /// contents).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownVersion`] for a version byte other than [`MESSAGE_VERSION`];
    /// [`Error::Malformed`]`("linking message")` for an empty input, a length outside
    /// [`MIN_LINKING_MESSAGE_LEN`]..=[`MAX_LINKING_MESSAGE_LEN`], or an ephemeral key
    /// that is not canonical (top bit set, or not below 2^255 - 19).
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "linking message";
        check_version(bytes, MESSAGE_VERSION, WHAT)?;
        if !(MIN_LINKING_MESSAGE_LEN..=MAX_LINKING_MESSAGE_LEN).contains(&bytes.len()) {
            return Err(Error::Malformed(WHAT));
        }
        let mut r = Reader::new(bytes, WHAT);
        r.u8()?;
        let ephemeral = PublicKey::from_montgomery_bytes(r.array()?);
        if !ephemeral.is_canonical() {
            return Err(Error::Malformed(WHAT));
        }
        let ciphertext = r.rest().to_vec();
        Ok(Self {
            ephemeral,
            ciphertext,
        })
    }

    fn header(&self) -> [u8; 33] {
        let mut h = [0u8; 33];
        let (v, k) = h.split_at_mut(1);
        v.copy_from_slice(&[MESSAGE_VERSION]);
        k.copy_from_slice(self.ephemeral.as_montgomery_bytes());
        h
    }
}

/// The companion's countersignature, sent back to the primary: its device signature
/// and its membership signature, encrypted under a key only the two linking parties
/// have.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Countersignature {
    sealed: [u8; 2 * SIG + GCM_TAG],
}

impl Countersignature {
    /// The wire form: version byte, then the 144-byte sealed signatures.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        [&[MESSAGE_VERSION][..], &self.sealed].concat()
    }

    /// Decodes the wire form.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownVersion`] for a version byte other than [`MESSAGE_VERSION`];
    /// [`Error::Malformed`]`("countersignature")` unless the input is
    /// [`COUNTERSIGNATURE_LEN`] bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "countersignature";
        check_version(bytes, MESSAGE_VERSION, WHAT)?;
        let mut r = Reader::new(bytes, WHAT);
        r.u8()?;
        let sealed = r.array()?;
        r.finish()?;
        Ok(Self { sealed })
    }
}

/// What the companion learns when linking succeeds.
#[derive(Debug)]
pub struct LinkedAccount {
    /// The account identity key that signed the linking.
    pub account_identity: IdentityKey,
    /// The signed metadata (device id, key index, timestamp, server reference, user
    /// id): the companion is device `metadata.device_id` of user `metadata.user_id`.
    pub metadata: LinkingMetadata,
    /// The account signature over (0x0600, metadata, companion identity key).
    pub account_signature: Signature,
    /// The companion's own signature over (0x0601, metadata, companion key, account
    /// key), as sent in the countersignature.
    pub device_signature: Signature,
    /// The companion's [membership signature](crate::sign_membership) over (account
    /// key, user id, device id), as sent in the countersignature: it goes into the
    /// companion's device-list entry.
    pub membership_signature: Signature,
    /// Key and binding for receiving the history hand-off.
    pub history: HistoryHandOff,
}

/// What the primary learns when linking succeeds.
#[derive(Debug)]
pub struct LinkedCompanion {
    /// The entry to add to the device list ([`crate::DeviceList::add_companion`]), with
    /// the companion's verified membership signature.
    pub entry: DeviceEntry,
    /// The signed metadata.
    pub metadata: LinkingMetadata,
    /// The companion's verified device signature.
    pub device_signature: Signature,
    /// Key and binding for sending the history hand-off.
    pub history: HistoryHandOff,
}

/// The companion's side, waiting for the primary's linking message.
///
/// Holds the offer's ephemeral private key and linking secret: wiped on drop, never
/// printed, encoded only into a [`Zeroizing`] buffer.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct CompanionLinking {
    ephemeral: KeyPair,
    offer: LinkingOffer,
}

impl CompanionLinking {
    /// Starts linking: draws the ephemeral key (32 bytes) and the linking secret (32
    /// bytes) from `rng`, and builds the offer, valid until `now_ms + lifetime_ms`
    /// inclusive.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`]`("server reference")` for an empty reference or one longer
    /// than [`MAX_SERVER_REFERENCE_LEN`]; [`Error::Malformed`]`("offer lifetime")` for a
    /// lifetime of 0, above [`MAX_OFFER_LIFETIME_MS`], or one that overflows the clock.
    pub fn new<R: CryptoRng + ?Sized>(
        rng: &mut R,
        companion_identity: IdentityKey,
        server_reference: &[u8],
        now_ms: u64,
        lifetime_ms: u64,
    ) -> Result<Self> {
        if server_reference.is_empty() || server_reference.len() > MAX_SERVER_REFERENCE_LEN {
            return Err(Error::Malformed("server reference"));
        }
        if lifetime_ms == 0 || lifetime_ms > MAX_OFFER_LIFETIME_MS {
            return Err(Error::Malformed("offer lifetime"));
        }
        let expires_at_ms = now_ms
            .checked_add(lifetime_ms)
            .ok_or(Error::Malformed("offer lifetime"))?;
        let ephemeral = KeyPair::generate(rng);
        let mut secret = LinkingSecret([0u8; 32]);
        rng.fill_bytes(&mut secret.0);
        let offer = LinkingOffer {
            ephemeral: ephemeral.public_key(),
            secret,
            companion_identity,
            expires_at_ms,
            server_reference: server_reference.to_vec(),
        };
        Ok(Self { ephemeral, offer })
    }

    /// The offer to show as a QR code.
    #[must_use]
    pub const fn offer(&self) -> &LinkingOffer {
        &self.offer
    }

    /// Checks the primary's linking message and countersigns it.
    ///
    /// Checks, in order: deadline (offer expiry plus [`LINKING_GRACE_MS`]), that
    /// `identity` is the key in the offer, the AEAD, the linking-secret MAC, that the
    /// server reference matches the offer, the account signature. The state is consumed
    /// either way; keep [`CompanionLinking::encode`] to retry after a forged message.
    ///
    /// # Errors
    ///
    /// [`Error::Expired`] after the deadline; [`Error::WrongIdentityKey`];
    /// [`Error::Tampered`] if the message does not decrypt (or its reference differs);
    /// [`Error::Malformed`] for decrypted contents that do not parse;
    /// [`Error::WrongLinkingSecret`] if the MAC fails; [`Error::BadSignature`] if the
    /// account signature does not verify.
    pub fn receive<R: CryptoRng + ?Sized>(
        self,
        message: &LinkingMessage,
        identity: &IdentityKeyPair,
        now_ms: u64,
        rng: &mut R,
    ) -> Result<(LinkedAccount, Countersignature)> {
        let offer = &self.offer;
        if now_ms > offer.expires_at_ms.saturating_add(LINKING_GRACE_MS) {
            return Err(Error::Expired);
        }
        if identity.identity_key() != offer.companion_identity {
            return Err(Error::WrongIdentityKey);
        }
        let shared = self
            .ephemeral
            .private_key()
            .agree(&message.ephemeral)
            .map_err(|_| Error::Tampered)?;
        let keys = message_keys(offer, &shared)?;
        let header = message.header();
        let plaintext = Aes256GcmKey::new(&keys.message_key)
            .open(&NONCE, &header, &message.ciphertext)
            .map_err(|_| Error::Tampered)?;

        const WHAT: &str = "linking message contents";
        let mut r = Reader::new(&plaintext, WHAT);
        let account_identity = r.identity_key()?;
        let metadata = LinkingMetadata::read(&mut r).map_err(|_| Error::Malformed(WHAT))?;
        let account_signature = r.signature()?;
        let signed_len = plaintext.len().saturating_sub(r.remaining());
        let mac: [u8; 32] = r.array()?;
        r.finish()?;
        let body = plaintext.get(..signed_len).ok_or(Error::Malformed(WHAT))?;
        let mac_ok = HmacSha256Key::new(keys.mac_key.as_ref())
            .verify_parts(&[&mac_input(offer, &header, body)], &mac)
            .unwrap_or(false);
        if !mac_ok {
            return Err(Error::WrongLinkingSecret);
        }
        if metadata.server_reference != offer.server_reference {
            return Err(Error::Tampered);
        }
        let metadata_bytes = metadata.encode();
        let companion = offer.companion_identity;
        if !account_identity.verify(
            &account_signed_bytes(&metadata_bytes, &companion),
            &account_signature,
        ) {
            return Err(Error::BadSignature);
        }

        let tk = transcript_keys(offer, &message.encode(), &shared)?;
        let device_signature = identity.sign(
            &device_signed_bytes(&metadata_bytes, &companion, &account_identity),
            rng,
        );
        let membership_signature = sign_membership(
            identity,
            &account_identity,
            &metadata.user_id,
            metadata.device_id,
            rng,
        )?;
        let sealed_vec = Aes256GcmKey::new(&tk.countersign_key).seal(
            &NONCE,
            &[MESSAGE_VERSION],
            &[
                &device_signature.as_bytes()[..],
                &membership_signature.as_bytes()[..],
            ]
            .concat(),
        );
        let sealed: [u8; 2 * SIG + GCM_TAG] = sealed_vec
            .as_slice()
            .try_into()
            .map_err(|_| Error::Tampered)?;
        let linked = LinkedAccount {
            account_identity,
            metadata,
            account_signature,
            device_signature,
            membership_signature,
            history: HistoryHandOff::new(tk.history_key, tk.transcript),
        };
        Ok((linked, Countersignature { sealed }))
    }

    /// The serialised state (`docs/wire/linking.md`), wiped when dropped.
    #[must_use]
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(2 + 32 + MAX_OFFER_LEN));
        out.push(STATE_VERSION);
        out.push(TAG_COMPANION);
        out.extend_from_slice(self.ephemeral.private_key().to_bytes().as_ref());
        out.extend_from_slice(&self.offer.encode());
        out
    }

    /// Decodes a state made by [`CompanionLinking::encode`].
    ///
    /// # Errors
    ///
    /// [`Error::UnknownVersion`]; [`Error::UnexpectedState`] for a state of another
    /// kind; [`Error::Malformed`]`("companion state")` for a truncated state, an
    /// unclamped private key, or one whose private key does not match the offer; the errors of [`LinkingOffer::decode`].
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "companion state";
        check_version(bytes, STATE_VERSION, WHAT)?;
        let mut r = Reader::new(bytes, WHAT);
        r.u8()?;
        if r.u8()? != TAG_COMPANION {
            return Err(Error::UnexpectedState);
        }
        let private = Zeroizing::new(r.array::<32>()?);
        let offer = LinkingOffer::decode(r.rest())?;
        let ephemeral = KeyPair::from(PrivateKey::from_bytes(*private));
        // One encoding per state: the stored scalar must already be clamped.
        let canonical = ephemeral.private_key().to_bytes();
        if !hush_core::kdf::constant_time_eq(canonical.as_ref(), private.as_ref())
            || ephemeral.public_key() != offer.ephemeral
        {
            return Err(Error::Malformed(WHAT));
        }
        Ok(Self { ephemeral, offer })
    }
}

impl fmt::Debug for CompanionLinking {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            ephemeral: _,
            offer,
        } = self;
        f.debug_struct("CompanionLinking")
            .field("offer", offer)
            .finish_non_exhaustive()
    }
}

/// Which device the primary assigns to the companion it is linking.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CompanionAssignment {
    /// The account's user id (1 to [`MAX_ACCOUNT_ADDRESS_LEN`] bytes), signed into the
    /// linking metadata: the companion takes it from there.
    pub user_id: Vec<u8>,
    /// The companion's device id (2 or more; 1 is the primary).
    pub device_id: u32,
    /// The account's key index.
    pub key_index: u32,
}

/// The primary's side, waiting for the companion's countersignature.
///
/// Holds the countersignature and history keys: wiped on drop, never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct PrimaryLinking {
    countersign_key: [u8; 32],
    history_key: HistoryKey,
    #[zeroize(skip)]
    transcript: TranscriptHash,
    deadline_ms: u64,
    #[zeroize(skip)]
    companion: IdentityKey,
    #[zeroize(skip)]
    account: IdentityKey,
    #[zeroize(skip)]
    metadata: LinkingMetadata,
}

impl PrimaryLinking {
    /// Answers a scanned offer: checks it, records it in `seen`, signs the metadata with
    /// the account key and builds the encrypted linking message. Draws the primary's
    /// ephemeral key (32 bytes) and 64 bytes for the signature from `rng`.
    ///
    /// # Errors
    ///
    /// [`Error::Expired`] if `now_ms` is past the offer's expiry;
    /// [`Error::Malformed`]`("offer lifetime")` if the offer expires later than `now_ms`
    /// plus [`MAX_OFFER_LIFETIME_MS`] plus
    /// [`MAX_OFFER_CLOCK_SKEW_MS`](crate::limits::MAX_OFFER_CLOCK_SKEW_MS) (a hand-made,
    /// long-lived offer: a companion never makes one); [`Error::Replayed`] if `seen`
    /// already holds the offer; [`Error::Malformed`]`("companion device id")` for
    /// device id 0 or 1; [`Error::Malformed`]`("offer ephemeral key")` for a small-order
    /// ephemeral key; [`Error::Malformed`]`("account address")` for an empty user id or
    /// one longer than [`MAX_ACCOUNT_ADDRESS_LEN`]; [`Error::SeenOffersFull`].
    pub fn accept<R: CryptoRng + ?Sized>(
        offer: &LinkingOffer,
        account: &IdentityKeyPair,
        assignment: &CompanionAssignment,
        seen: &mut SeenOffers,
        now_ms: u64,
        rng: &mut R,
    ) -> Result<(Self, LinkingMessage)> {
        if now_ms > offer.expires_at_ms {
            return Err(Error::Expired);
        }
        if offer.expires_at_ms > latest_expiry(now_ms) {
            return Err(Error::Malformed("offer lifetime"));
        }
        if seen.contains(&offer.id()) {
            return Err(Error::Replayed);
        }
        if assignment.device_id == 0 || assignment.device_id == PRIMARY_DEVICE_ID {
            return Err(Error::Malformed("companion device id"));
        }
        if assignment.user_id.is_empty() || assignment.user_id.len() > MAX_ACCOUNT_ADDRESS_LEN {
            return Err(Error::Malformed("account address"));
        }
        let ephemeral = KeyPair::generate(rng);
        let shared = ephemeral
            .private_key()
            .agree(&offer.ephemeral)
            .map_err(|_| Error::Malformed("offer ephemeral key"))?;
        let keys = message_keys(offer, &shared)?;
        let metadata = LinkingMetadata {
            device_id: assignment.device_id,
            key_index: assignment.key_index,
            timestamp_ms: now_ms,
            server_reference: offer.server_reference.clone(),
            user_id: assignment.user_id.clone(),
        };
        let metadata_bytes = metadata.encode();
        let account_identity = account.identity_key();
        let signature = account.sign(
            &account_signed_bytes(&metadata_bytes, &offer.companion_identity),
            rng,
        );
        let mut plaintext = Zeroizing::new(Vec::with_capacity(MAX_LINKING_MESSAGE_LEN));
        plaintext.extend_from_slice(&account_identity.encode());
        plaintext.extend_from_slice(&metadata_bytes);
        plaintext.extend_from_slice(signature.as_bytes());
        let mut header = [0u8; 33];
        if let Some((v, k)) = header.split_first_mut() {
            *v = MESSAGE_VERSION;
            k.copy_from_slice(ephemeral.public_key().as_montgomery_bytes());
        }
        let mac = hmac_sha256(
            keys.mac_key.as_ref(),
            &mac_input(offer, &header, &plaintext),
        );
        plaintext.extend_from_slice(mac.as_ref());
        let ciphertext = Aes256GcmKey::new(&keys.message_key).seal(&NONCE, &header, &plaintext);
        let message = LinkingMessage {
            ephemeral: ephemeral.public_key(),
            ciphertext,
        };
        let tk = transcript_keys(offer, &message.encode(), &shared)?;
        seen.insert(offer.id(), offer.expires_at_ms, now_ms)?;
        let state = Self {
            countersign_key: *tk.countersign_key,
            history_key: tk.history_key,
            transcript: tk.transcript,
            deadline_ms: offer.expires_at_ms.saturating_add(LINKING_GRACE_MS),
            companion: offer.companion_identity,
            account: account_identity,
            metadata,
        };
        Ok((state, message))
    }

    /// The device id assigned to the companion (its linking metadata's).
    #[must_use]
    pub const fn companion_device_id(&self) -> u32 {
        self.metadata.device_id
    }

    /// Checks the companion's countersignature and completes linking.
    ///
    /// # Errors
    ///
    /// [`Error::Expired`] after the offer's expiry plus [`LINKING_GRACE_MS`];
    /// [`Error::Tampered`] if the countersignature does not decrypt (including one made
    /// for another linking); [`Error::BadSignature`] if the device signature or the
    /// membership signature is not the offer's companion key's (over this linking's
    /// metadata; over the account key, user id and device id).
    pub fn finish(
        self,
        countersignature: &Countersignature,
        now_ms: u64,
    ) -> Result<LinkedCompanion> {
        if now_ms > self.deadline_ms {
            return Err(Error::Expired);
        }
        let signatures = Aes256GcmKey::new(&self.countersign_key)
            .open(&NONCE, &[MESSAGE_VERSION], &countersignature.sealed)
            .map_err(|_| Error::Tampered)?;
        let (device, membership) = signatures.split_at_checked(SIG).ok_or(Error::Tampered)?;
        let device_signature = Signature::decode(device).map_err(|_| Error::Tampered)?;
        let membership_signature = Signature::decode(membership).map_err(|_| Error::Tampered)?;
        let metadata_bytes = self.metadata.encode();
        if !self.companion.verify(
            &device_signed_bytes(&metadata_bytes, &self.companion, &self.account),
            &device_signature,
        ) {
            return Err(Error::BadSignature);
        }
        let entry = DeviceEntry {
            device_id: self.metadata.device_id,
            identity_key: self.companion,
            key_index: self.metadata.key_index,
            added_at_ms: self.metadata.timestamp_ms,
            membership_signature,
        };
        if !entry.membership_valid(&self.account, &self.metadata.user_id) {
            return Err(Error::BadSignature);
        }
        Ok(LinkedCompanion {
            entry,
            metadata: self.metadata.clone(),
            device_signature,
            history: HistoryHandOff::new(self.history_key.clone(), self.transcript),
        })
    }

    /// The serialised state (`docs/wire/linking.md`), wiped when dropped.
    #[must_use]
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(2 + 96 + 8 + 66 + 100));
        out.push(STATE_VERSION);
        out.push(TAG_PRIMARY);
        out.extend_from_slice(&self.countersign_key);
        out.extend_from_slice(&self.history_key.0);
        out.extend_from_slice(&self.transcript.0);
        out.extend_from_slice(&self.deadline_ms.to_be_bytes());
        out.extend_from_slice(&self.companion.encode());
        out.extend_from_slice(&self.account.encode());
        out.extend_from_slice(&self.metadata.encode());
        out
    }

    /// Decodes a state made by [`PrimaryLinking::encode`].
    ///
    /// # Errors
    ///
    /// [`Error::UnknownVersion`]; [`Error::UnexpectedState`] for a state of another
    /// kind; [`Error::Malformed`]`("primary state")` for a truncated state, bad keys,
    /// trailing bytes; [`Error::Malformed`]`("linking metadata")` for bad metadata.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "primary state";
        check_version(bytes, STATE_VERSION, WHAT)?;
        let mut r = Reader::new(bytes, WHAT);
        r.u8()?;
        if r.u8()? != TAG_PRIMARY {
            return Err(Error::UnexpectedState);
        }
        let countersign_key = r.array()?;
        let history_key = HistoryKey(r.array()?);
        let transcript = TranscriptHash(r.array()?);
        let deadline_ms = r.u64()?;
        let companion = r.identity_key()?;
        let account = r.identity_key()?;
        let metadata = LinkingMetadata::read(&mut r)?;
        r.finish()?;
        Ok(Self {
            countersign_key,
            history_key,
            transcript,
            deadline_ms,
            companion,
            account,
            metadata,
        })
    }
}

impl fmt::Debug for PrimaryLinking {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            countersign_key: _,
            history_key: _,
            transcript: _,
            deadline_ms,
            companion,
            account,
            metadata,
        } = self;
        f.debug_struct("PrimaryLinking")
            .field("deadline_ms", deadline_ms)
            .field("companion", companion)
            .field("account", account)
            .field("metadata", metadata)
            .finish_non_exhaustive()
    }
}

/// Either linking state, for code that stores states without knowing which side it is.
#[derive(Debug)]
#[allow(clippy::large_enum_variant, reason = "states are short-lived")]
pub enum LinkingState {
    /// A companion waiting for the linking message.
    Companion(CompanionLinking),
    /// A primary waiting for the countersignature.
    Primary(PrimaryLinking),
}

impl LinkingState {
    /// Decodes either kind of state by its tag byte.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownVersion`]; [`Error::UnexpectedState`] for an unknown tag; the
    /// errors of the two `decode`s.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        check_version(bytes, STATE_VERSION, "linking state")?;
        match bytes.get(1) {
            Some(&TAG_COMPANION) => CompanionLinking::decode(bytes).map(Self::Companion),
            Some(&TAG_PRIMARY) => PrimaryLinking::decode(bytes).map(Self::Primary),
            Some(_) => Err(Error::UnexpectedState),
            None => Err(Error::Malformed("linking state")),
        }
    }

    /// The serialised state.
    #[must_use]
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        match self {
            Self::Companion(c) => c.encode(),
            Self::Primary(p) => p.encode(),
        }
    }
}
