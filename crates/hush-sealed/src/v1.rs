//! Sealed sender v1: one recipient, two layers of AES-256-CTR with truncated
//! HMAC-SHA256.
//!
//! ```text
//! e                  = fresh key pair (32 random bytes)
//! chain, ck_e, mk_e  = HKDF(salt "UnidentifiedDelivery" || recipient || e.pub,
//!                          DH(e, recipient)), 96 bytes
//! encrypted_static   = CTR(ck_e, sender identity key (33)) || HMAC(mk_e, ..)[..10]
//! _, ck_s, mk_s      = HKDF(salt chain || encrypted_static, DH(sender, recipient)), 96 bytes
//! encrypted_message  = CTR(ck_s, content) || HMAC(mk_s, ..)[..10]
//! message            = 0x11 || protobuf {1: e.pub (33), 2: encrypted_static,
//!                                        3: encrypted_message}
//! ```
//!
//! CTR is AES-256 with a 32-bit big-endian counter from an all-zero block.

use aes::Aes256;
use aes::cipher::{KeyIvInit, StreamCipher};
use hush_core::kdf::{HmacSha256Key, hkdf_sha256_parts};
use hush_core::rng::CryptoRng;
use hush_core::{IdentityKey, IdentityKeyPair, KeyPair, PrivateKey, PublicKey};
use prost::Message;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::content::UnidentifiedSenderMessageContent;
use crate::error::{Error, Result};
use crate::wire;

/// The version byte v1 messages carry: required version 1, current version 1.
pub const V1_VERSION_BYTE: u8 = 0x11;

/// Length of the truncated HMAC-SHA256 tag after each ciphertext.
const MAC_LEN: usize = 10;

/// The salt prefix of the first key derivation.
const SALT_PREFIX: &[u8] = b"UnidentifiedDelivery";

/// Length of `encrypted_static`: a 33-byte identity key and its tag.
const ENCRYPTED_STATIC_LEN: usize = 33 + MAC_LEN;

type Ctr = ctr::Ctr32BE<Aes256>;

/// Chain, cipher and MAC key of one layer (96 bytes of HKDF output), wiped on drop.
struct LayerKeys(Zeroizing<[u8; 96]>);

impl LayerKeys {
    fn derive(salt: &[&[u8]], shared: &[u8; 32]) -> Result<Self> {
        let salt: Zeroizing<Vec<u8>> = Zeroizing::new(salt.concat());
        let mut okm = Zeroizing::new([0u8; 96]);
        hkdf_sha256_parts(&salt, shared, &[], okm.as_mut()).map_err(|_| Error::DecryptionFailed)?;
        Ok(Self(okm))
    }

    /// One of the three 32-byte keys, borrowed from the wiping buffer.
    fn part(&self, index: usize) -> &[u8; 32] {
        const ZERO: [u8; 32] = [0; 32];
        self.0
            .get(index * 32..index * 32 + 32)
            .and_then(|part| part.try_into().ok())
            .unwrap_or(&ZERO)
    }

    fn chain_key(&self) -> &[u8; 32] {
        self.part(0)
    }

    fn cipher_key(&self) -> &[u8; 32] {
        self.part(1)
    }

    fn mac_key(&self) -> &[u8; 32] {
        self.part(2)
    }

    /// `CTR(cipher key, plaintext) || HMAC(mac key, ciphertext)[..10]`.
    fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(plaintext.len() + MAC_LEN);
        out.extend_from_slice(plaintext);
        Ctr::new(self.cipher_key().into(), &[0u8; 16].into()).apply_keystream(&mut out);
        let tag = HmacSha256Key::new(self.mac_key()).mac(&out);
        out.extend_from_slice(tag.get(..MAC_LEN).unwrap_or_default());
        out
    }

    /// Checks the tag, then decrypts. Any failure is [`Error::DecryptionFailed`].
    fn open(&self, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let split = sealed
            .len()
            .checked_sub(MAC_LEN)
            .ok_or(Error::DecryptionFailed)?;
        let (ciphertext, tag) = sealed.split_at(split);
        let good = HmacSha256Key::new(self.mac_key())
            .verify_parts(&[ciphertext], tag)
            .map_err(|_| Error::DecryptionFailed)?;
        if !good {
            return Err(Error::DecryptionFailed);
        }
        let mut out = Zeroizing::new(ciphertext.to_vec());
        Ctr::new(self.cipher_key().into(), &[0u8; 16].into()).apply_keystream(&mut out);
        Ok(out)
    }
}

/// Seals `content` for one recipient identity key (libsignal's
/// `sealed_sender_encrypt_from_usmc`). Draws 32 bytes from `rng` for the ephemeral key.
///
/// # Errors
///
/// [`Error::SenderIdentityMismatch`] if `sender` is not the identity in `content`'s
/// certificate; [`Error::InvalidKey`] if `recipient` has small order.
pub fn seal<R: CryptoRng + ?Sized>(
    content: &UnidentifiedSenderMessageContent,
    sender: &IdentityKeyPair,
    recipient: &IdentityKey,
    rng: &mut R,
) -> Result<Vec<u8>> {
    if sender.identity_key() != *content.sender_certificate().identity_key() {
        return Err(Error::SenderIdentityMismatch);
    }
    seal_unchecked(content, sender, recipient, rng)
}

/// [`seal`] without the check that `sender` is the certificate's identity: for tests of
/// the recipient's check.
pub(crate) fn seal_unchecked<R: CryptoRng + ?Sized>(
    content: &UnidentifiedSenderMessageContent,
    sender: &IdentityKeyPair,
    recipient: &IdentityKey,
    rng: &mut R,
) -> Result<Vec<u8>> {
    let sender_public = sender.identity_key();
    let ephemeral = KeyPair::generate(rng);
    let ephemeral_public = ephemeral.public_key().encode();
    let recipient_bytes = recipient.encode();
    let bad_recipient = |_| Error::InvalidKey("recipient identity key: small order");

    // Both agreements are with the recipient's key: one call decodes it once.
    let (ephemeral_shared, static_shared) = ephemeral
        .private_key()
        .agree_pair(sender.private_key(), recipient.public_key())
        .map_err(bad_recipient)?;
    let ephemeral_keys = LayerKeys::derive(
        &[SALT_PREFIX, &recipient_bytes, &ephemeral_public],
        ephemeral_shared.as_bytes(),
    )?;
    let encrypted_static = ephemeral_keys.seal(&sender_public.encode());

    let static_keys = LayerKeys::derive(
        &[ephemeral_keys.chain_key(), &encrypted_static],
        static_shared.as_bytes(),
    )?;
    let encrypted_message = static_keys.seal(content.as_bytes());

    let body = wire::UnidentifiedSenderMessage {
        ephemeral_public: Some(ephemeral_public.to_vec()),
        encrypted_static: Some(encrypted_static),
        encrypted_message: Some(encrypted_message),
    };
    let mut out = Vec::with_capacity(1 + body.encoded_len());
    out.push(V1_VERSION_BYTE);
    body.encode(&mut out)
        .map_err(|_| Error::Malformed("sealed sender v1 message"))?;
    Ok(out)
}

/// Decrypts a v1 message body (after the version byte) and checks that the sender
/// certificate names the identity key the message was sealed with. The certificate
/// itself is checked by the caller.
pub(crate) fn open(
    body: &[u8],
    recipient: &IdentityKeyPair,
) -> Result<UnidentifiedSenderMessageContent> {
    const WHAT: &str = "sealed sender v1 message";
    let wire = wire::UnidentifiedSenderMessage::decode(body).map_err(|_| Error::Malformed(WHAT))?;
    let (Some(ephemeral_public), Some(encrypted_static), Some(encrypted_message)) = (
        wire.ephemeral_public,
        wire.encrypted_static,
        wire.encrypted_message,
    ) else {
        return Err(Error::Malformed(WHAT));
    };
    let ephemeral = PublicKey::decode(&ephemeral_public).map_err(|_| Error::Malformed(WHAT))?;
    if encrypted_static.len() != ENCRYPTED_STATIC_LEN || encrypted_message.len() < MAC_LEN {
        return Err(Error::Malformed(WHAT));
    }
    let own: &PrivateKey = recipient.private_key();
    let own_public = recipient.identity_key().encode();

    let shared = own.agree(&ephemeral).map_err(|_| Error::DecryptionFailed)?;
    let ephemeral_keys = LayerKeys::derive(
        &[SALT_PREFIX, &own_public, &ephemeral.encode()],
        shared.as_bytes(),
    )?;
    let static_key = ephemeral_keys.open(&encrypted_static)?;
    // The MAC held: the sender wrote these bytes. A bad key type is the sender's error.
    let sender = PublicKey::decode(&static_key).map_err(|_| Error::Malformed(WHAT))?;

    let shared = own.agree(&sender).map_err(|_| Error::DecryptionFailed)?;
    let static_keys = LayerKeys::derive(
        &[ephemeral_keys.chain_key(), &encrypted_static],
        shared.as_bytes(),
    )?;
    let plaintext = static_keys.open(&encrypted_message)?;
    let content = UnidentifiedSenderMessageContent::decode(&plaintext)?;

    let claimed = content.sender_certificate().identity_key().encode();
    if !bool::from(claimed.ct_eq(&sender.encode())) {
        return Err(Error::SenderIdentityMismatch);
    }
    Ok(content)
}
