//! Sealed sender v2: one AES-256-GCM-SIV encryption of the content for many recipients,
//! with 48 bytes of key material per recipient identity key.
//!
//! ```text
//! M     = 32 random bytes (libsignal's random::<[u8; 32]>(): low bytes of 32 u32 draws)
//! e     = HKDF(ikm M, info "Sealed Sender v2: r (2023-08)"), 32 bytes, as a private key
//! K     = HKDF(ikm M, info "Sealed Sender v2: K"), 32 bytes
//! C_i   = M xor HKDF(ikm DH(e, R_i) || e.pub || R_i, info "Sealed Sender v2: DH"), 32 bytes
//! AT_i  = HKDF(ikm DH(S, R_i) || e.pub || C_i || S || R_i,
//!              info "Sealed Sender v2: DH-sender"), first 16 bytes
//! body  = AES-256-GCM-SIV(K, nonce 0, no AAD, content) || tag (16)
//! ```
//!
//! HKDF is HKDF-SHA256 without salt; public keys inside the KDF inputs are 33 bytes
//! (type byte first), `e.pub` on the wire is 32. `SentMessage` and `ReceivedMessage`
//! layouts are in `docs/wire/sealed-sender.md` and [`crate::SentMessage`].

use aes_gcm_siv::Aes256GcmSiv;
use aes_gcm_siv::aead::{AeadInOut, KeyInit};
use hush_core::kdf::hkdf_sha256_zero_salt_parts;
use hush_core::rng::{CryptoRng, low_bytes_of_u32_draws};
use hush_core::{IdentityKey, IdentityKeyPair, PrivateKey, PublicKey, ServiceId};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::certificate::DeviceId;
use crate::content::UnidentifiedSenderMessageContent;
use crate::error::{Error, Result};
use crate::limits::{MAX_DEVICES, MAX_RECIPIENTS, MAX_REGISTRATION_ID};

/// The version byte of a `SentMessage` hush writes: required version 2, current
/// version 3 (recipients as 17-byte service ids).
pub const SENT_VERSION_BYTE: u8 = 0x23;

/// The version byte of libsignal's first `SentMessage` form (recipients as 16-byte
/// ACIs), still accepted by [`crate::SentMessage::parse`].
pub const SENT_UUID_VERSION_BYTE: u8 = 0x22;

/// The version byte of a `ReceivedMessage` (the format has not changed since v2.2).
pub const RECEIVED_VERSION_BYTE: u8 = 0x22;

const LABEL_R: &[u8] = b"Sealed Sender v2: r (2023-08)";
const LABEL_K: &[u8] = b"Sealed Sender v2: K";
const LABEL_DH: &[u8] = b"Sealed Sender v2: DH";
const LABEL_DH_SENDER: &[u8] = b"Sealed Sender v2: DH-sender";

/// Length of `C_i`.
pub(crate) const KEY_LEN: usize = 32;
/// Length of `AT_i`.
pub(crate) const TAG_LEN: usize = 16;
/// Length of `e.pub` on the wire.
pub(crate) const EPHEMERAL_LEN: usize = 32;
/// Length of the AES-GCM-SIV tag.
pub(crate) const AEAD_TAG_LEN: usize = 16;

/// One recipient device of a multi-recipient send.
///
/// Devices that share an identity key (every device of a libsignal account) get one
/// entry of key material between them; a device with its own identity key (a hush
/// linked device) gets its own. See [`seal`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// The recipient account.
    pub service_id: ServiceId,
    /// The device.
    pub device_id: DeviceId,
    /// The device's registration id (at most 0x3fff), which the server checks against
    /// the device it routes to.
    pub registration_id: u16,
    /// The identity key the device is reached under.
    pub identity_key: IdentityKey,
}

/// The secrets derived from `M`: the ephemeral key pair and the AEAD key.
struct MessageKeys {
    ephemeral: PrivateKey,
    key: Zeroizing<[u8; 32]>,
}

impl MessageKeys {
    fn derive(m: &[u8; 32]) -> Result<Self> {
        let mut r = Zeroizing::new([0u8; 32]);
        let mut key = Zeroizing::new([0u8; 32]);
        hkdf_sha256_zero_salt_parts(m, &[LABEL_R], r.as_mut())
            .map_err(|_| Error::DecryptionFailed)?;
        hkdf_sha256_zero_salt_parts(m, &[LABEL_K], key.as_mut())
            .map_err(|_| Error::DecryptionFailed)?;
        Ok(Self {
            ephemeral: PrivateKey::from_bytes(*r),
            key,
        })
    }
}

/// `HKDF(DH || e.pub || R, "Sealed Sender v2: DH")`, the pad that hides `M` in `C_i`.
fn key_pad(
    shared: &[u8; 32],
    ephemeral: &[u8; 33],
    recipient: &[u8; 33],
) -> Result<Zeroizing<[u8; 32]>> {
    let mut ikm = Zeroizing::new([0u8; 32 + 33 + 33]);
    let (a, rest) = ikm.split_at_mut(32);
    let (b, c) = rest.split_at_mut(33);
    a.copy_from_slice(shared);
    b.copy_from_slice(ephemeral);
    c.copy_from_slice(recipient);
    let mut pad = Zeroizing::new([0u8; 32]);
    hkdf_sha256_zero_salt_parts(ikm.as_ref(), &[LABEL_DH], pad.as_mut())
        .map_err(|_| Error::DecryptionFailed)?;
    Ok(pad)
}

/// `AT_i`: `HKDF(DH(S, R) || e.pub || C || S || R, "Sealed Sender v2: DH-sender")[..16]`.
fn auth_tag(
    shared: &[u8; 32],
    ephemeral: &[u8; 33],
    encrypted_key: &[u8; 32],
    sender: &[u8; 33],
    recipient: &[u8; 33],
) -> Result<[u8; TAG_LEN]> {
    let mut ikm = Zeroizing::new(Vec::with_capacity(32 + 33 + 32 + 33 + 33));
    ikm.extend_from_slice(shared);
    ikm.extend_from_slice(ephemeral);
    ikm.extend_from_slice(encrypted_key);
    ikm.extend_from_slice(sender);
    ikm.extend_from_slice(recipient);
    let mut tag = [0u8; TAG_LEN];
    hkdf_sha256_zero_salt_parts(&ikm, &[LABEL_DH_SENDER], &mut tag)
        .map_err(|_| Error::DecryptionFailed)?;
    Ok(tag)
}

/// Appends `value` as a protobuf varint.
fn push_varint(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let low = u8::try_from(value & 0x7f).unwrap_or_default();
        value >>= 7;
        if value == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

/// Seals `content` once for every destination device (libsignal's
/// `sealed_sender_multi_recipient_encrypt`) and returns the `SentMessage` for the server.
/// Draws 32 `u32`s from `rng` (libsignal's `random::<[u8; 32]>()`); everything else is
/// derived.
///
/// Destinations are grouped by (service id, identity key), in the order each group first
/// appears, and each group becomes one recipient entry with its devices in input order.
/// For libsignal accounts (all devices share the account's identity key) that is one
/// entry per account, byte for byte what libsignal writes when each account's devices
/// are listed together. A hush account whose linked devices have their own identity
/// keys gets one entry per device key, under the same service id; [`crate::SentMessage`]
/// routes each entry's key material to that entry's devices. `excluded` service ids are
/// listed after the recipients with no devices (libsignal's excluded recipients: group
/// members the server should know were left out).
///
/// # Errors
///
/// [`Error::SenderIdentityMismatch`] if `sender` is not the identity in `content`'s
/// certificate; [`Error::InvalidRecipients`] for no destinations, a (service id, device)
/// listed twice, a service id both excluded and a destination, or excluded twice;
/// [`Error::InvalidRegistrationId`] above 0x3fff; [`Error::TooMany`] beyond
/// [`MAX_RECIPIENTS`] entries or [`MAX_DEVICES`] devices; [`Error::InvalidKey`] for a
/// recipient identity key of small order.
pub fn seal<R: CryptoRng + ?Sized>(
    content: &UnidentifiedSenderMessageContent,
    sender: &IdentityKeyPair,
    destinations: &[Destination],
    excluded: &[ServiceId],
    rng: &mut R,
) -> Result<Vec<u8>> {
    if sender.identity_key() != *content.sender_certificate().identity_key() {
        return Err(Error::SenderIdentityMismatch);
    }
    seal_unchecked(content, sender, destinations, excluded, rng)
}

/// [`seal`] without the check that `sender` is the certificate's identity: for tests of
/// the recipient's check.
pub(crate) fn seal_unchecked<R: CryptoRng + ?Sized>(
    content: &UnidentifiedSenderMessageContent,
    sender: &IdentityKeyPair,
    destinations: &[Destination],
    excluded: &[ServiceId],
    rng: &mut R,
) -> Result<Vec<u8>> {
    let sender_public = sender.identity_key();
    let groups = group_destinations(destinations, excluded)?;

    let m = Zeroizing::new(low_bytes_of_u32_draws::<32, R>(rng));
    let keys = MessageKeys::derive(&m)?;
    let ephemeral_public = keys.ephemeral.public_key();
    let ephemeral_bytes = ephemeral_public.encode();
    let sender_bytes = sender_public.encode();

    let content_bytes = content.as_bytes();
    let entries_len: usize = groups
        .iter()
        .map(|g| 17 + 3 * g.devices.len() + KEY_LEN + TAG_LEN)
        .sum();
    let mut out = Vec::with_capacity(
        1 + 10
            + entries_len
            + 18 * excluded.len()
            + EPHEMERAL_LEN
            + content_bytes.len()
            + AEAD_TAG_LEN,
    );
    out.push(SENT_VERSION_BYTE);
    push_varint(&mut out, (groups.len() + excluded.len()) as u64);

    for group in &groups {
        out.extend_from_slice(&group.service_id.fixed_width_binary());
        let last = group.devices.len().saturating_sub(1);
        for (index, device) in group.devices.iter().enumerate() {
            let mut registration = device.registration_id;
            if index < last {
                registration |= 0x8000;
            }
            out.push(device.device_id.get());
            out.extend_from_slice(&registration.to_be_bytes());
        }
        let recipient = group.identity_key.public_key();
        let recipient_bytes = recipient.encode();
        let bad_recipient = |_| Error::InvalidKey("recipient identity key: small order");
        // Both agreements are with the recipient's key: one call decodes it once.
        let (shared, sender_shared) = keys
            .ephemeral
            .agree_pair(sender.private_key(), recipient)
            .map_err(bad_recipient)?;
        let pad = key_pad(shared.as_bytes(), &ephemeral_bytes, &recipient_bytes)?;
        let mut encrypted_key = [0u8; KEY_LEN];
        for ((out, m), p) in encrypted_key.iter_mut().zip(m.iter()).zip(pad.iter()) {
            *out = m ^ p;
        }
        let tag = auth_tag(
            sender_shared.as_bytes(),
            &ephemeral_bytes,
            &encrypted_key,
            &sender_bytes,
            &recipient_bytes,
        )?;
        out.extend_from_slice(&encrypted_key);
        out.extend_from_slice(&tag);
    }
    for service_id in excluded {
        out.extend_from_slice(&service_id.fixed_width_binary());
        out.push(0);
    }

    out.extend_from_slice(ephemeral_public.as_montgomery_bytes());
    let body_start = out.len();
    out.extend_from_slice(content_bytes);
    let cipher = Aes256GcmSiv::new((&*keys.key).into());
    let body = out.get_mut(body_start..).unwrap_or_default();
    let tag = cipher
        .encrypt_inout_detached(&Default::default(), &[], body.into())
        .map_err(|_| Error::TooMany {
            what: "content bytes",
            limit: crate::limits::MAX_CONTENT_LEN,
        })?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// One recipient entry to write.
struct Group<'a> {
    service_id: ServiceId,
    identity_key: IdentityKey,
    devices: Vec<&'a Destination>,
}

fn group_destinations<'a>(
    destinations: &'a [Destination],
    excluded: &[ServiceId],
) -> Result<Vec<Group<'a>>> {
    if destinations.is_empty() {
        return Err(Error::InvalidRecipients("no destinations"));
    }
    if destinations.len() > MAX_DEVICES {
        return Err(Error::TooMany {
            what: "destination devices",
            limit: MAX_DEVICES,
        });
    }
    // Every (service id, device) once; no excluded service id twice or among the
    // destinations. Sorted keys, so the check is O(n log n) and allocation-bounded.
    let mut keys: Vec<([u8; 17], u8)> = destinations
        .iter()
        .map(|d| (d.service_id.fixed_width_binary(), d.device_id.get()))
        .chain(excluded.iter().map(|s| (s.fixed_width_binary(), 0)))
        .collect();
    keys.sort_unstable();
    for pair in keys.windows(2) {
        if let [(a_id, a_device), (b_id, b_device)] = pair
            && a_id == b_id
            && (a_device == b_device || *a_device == 0)
        {
            return Err(Error::InvalidRecipients(
                if *a_device == 0 && *b_device == 0 {
                    "a service id excluded twice"
                } else if *a_device == 0 {
                    "a service id both excluded and a destination"
                } else {
                    "a device listed twice"
                },
            ));
        }
    }
    let mut groups: Vec<Group<'a>> = Vec::new();
    for destination in destinations {
        if destination.registration_id > MAX_REGISTRATION_ID {
            return Err(Error::InvalidRegistrationId(u32::from(
                destination.registration_id,
            )));
        }
        // Destinations of one group are almost always adjacent: look at the last group
        // first, then the rest.
        let found = groups.iter_mut().rev().find(|g| {
            g.service_id == destination.service_id && g.identity_key == destination.identity_key
        });
        match found {
            Some(group) => group.devices.push(destination),
            None => groups.push(Group {
                service_id: destination.service_id,
                identity_key: destination.identity_key,
                devices: vec![destination],
            }),
        }
    }
    if groups.len() + excluded.len() > MAX_RECIPIENTS {
        return Err(Error::TooMany {
            what: "recipient entries",
            limit: MAX_RECIPIENTS,
        });
    }
    Ok(groups)
}

/// Opens a `ReceivedMessage` body (after the version byte): recovers `M`, checks that it
/// re-derives the message's ephemeral key, decrypts, and checks the authentication tag
/// against the sender certificate's identity key. The certificate itself is checked by
/// the caller.
pub(crate) fn open(
    body: &[u8],
    recipient: &IdentityKeyPair,
) -> Result<UnidentifiedSenderMessageContent> {
    const WHAT: &str = "sealed sender v2 message";
    let (encrypted_key, rest) = body
        .split_first_chunk::<KEY_LEN>()
        .ok_or(Error::Malformed(WHAT))?;
    let (tag, rest) = rest
        .split_first_chunk::<TAG_LEN>()
        .ok_or(Error::Malformed(WHAT))?;
    let (ephemeral, ciphertext) = rest
        .split_first_chunk::<EPHEMERAL_LEN>()
        .ok_or(Error::Malformed(WHAT))?;
    if ciphertext.len() < AEAD_TAG_LEN {
        return Err(Error::Malformed(WHAT));
    }
    let ephemeral = PublicKey::from_montgomery_bytes(*ephemeral);
    let ephemeral_bytes = ephemeral.encode();
    let own = recipient.private_key();
    let own_bytes = recipient.identity_key().encode();

    let shared = own.agree(&ephemeral).map_err(|_| Error::DecryptionFailed)?;
    let pad = key_pad(shared.as_bytes(), &ephemeral_bytes, &own_bytes)?;
    let mut m = Zeroizing::new([0u8; 32]);
    for ((out, c), p) in m.iter_mut().zip(encrypted_key.iter()).zip(pad.iter()) {
        *out = c ^ p;
    }
    let keys = MessageKeys::derive(&m)?;
    let derived = keys.ephemeral.public_key();
    if !bool::from(
        derived
            .as_montgomery_bytes()
            .ct_eq(ephemeral.as_montgomery_bytes()),
    ) {
        return Err(Error::DecryptionFailed);
    }

    let (sealed, aead_tag) = ciphertext.split_at(ciphertext.len() - AEAD_TAG_LEN);
    let aead_tag: [u8; AEAD_TAG_LEN] = aead_tag.try_into().map_err(|_| Error::Malformed(WHAT))?;
    let mut plaintext = Zeroizing::new(sealed.to_vec());
    Aes256GcmSiv::new((&*keys.key).into())
        .decrypt_inout_detached(
            &Default::default(),
            &[],
            plaintext.as_mut_slice().into(),
            &aead_tag.into(),
        )
        .map_err(|_| Error::DecryptionFailed)?;
    let content = UnidentifiedSenderMessageContent::decode(&plaintext)?;

    let sender = content.sender_certificate().identity_key();
    let shared = own
        .agree(sender.public_key())
        .map_err(|_| Error::SenderIdentityMismatch)?;
    let expected = auth_tag(
        shared.as_bytes(),
        &ephemeral_bytes,
        encrypted_key,
        &sender.encode(),
        &own_bytes,
    )?;
    if !bool::from(expected.ct_eq(tag)) {
        return Err(Error::SenderIdentityMismatch);
    }
    Ok(content)
}
