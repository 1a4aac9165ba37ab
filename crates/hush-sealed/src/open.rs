//! The recipient's side: opening a v1 message or a v2 `ReceivedMessage`.

use core::fmt;

use hush_core::{IdentityKeyPair, ServiceId};

use crate::certificate::{CertificateValidator, DeviceId, SenderCertificate};
use crate::content::{ContentHint, ContentType, UnidentifiedSenderMessageContent};
use crate::error::{Error, Result};
use crate::limits::MAX_SEALED_MESSAGE_LEN;
use crate::{v1, v2};

/// Which version of sealed sender a message used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SealedVersion {
    /// One recipient, AES-256-CTR layers (version byte 0x11).
    V1,
    /// Multi-recipient, AES-256-GCM-SIV (a `ReceivedMessage`, version byte 0x22).
    V2,
}

/// A sealed message that decrypted, whose sender certificate validated and names the
/// identity key the message was sealed with.
///
/// **The sender is still only claimed.** The certificate proves the service vouched for
/// that (account, device, identity key), and the sealing proves the sender holds that
/// identity key, but the content is a session or group message that has not been
/// decrypted yet. Decrypt [`OpenedMessage::contents`] through the session (or sender
/// key) of [`OpenedMessage::sender_certificate`]'s sender and device, as
/// [`OpenedMessage::content_type`] says, and report the sender only if that succeeds
/// (libsignal's `sealed_sender_decrypt` does the same). Refuse messages from yourself
/// ([`OpenedMessage::is_from`] with your own ACI, phone number and device), as libsignal
/// does (`SealedSenderSelfSend`).
#[derive(Clone, PartialEq, Eq)]
pub struct OpenedMessage {
    version: SealedVersion,
    content: UnidentifiedSenderMessageContent,
}

impl OpenedMessage {
    /// The version the message used.
    #[must_use]
    pub const fn version(&self) -> SealedVersion {
        self.version
    }

    /// The validated sender certificate.
    #[must_use]
    pub const fn sender_certificate(&self) -> &SenderCertificate {
        self.content.sender_certificate()
    }

    /// The inner message's type.
    #[must_use]
    pub const fn content_type(&self) -> ContentType {
        self.content.content_type()
    }

    /// The inner message, to decrypt through the session path.
    #[must_use]
    pub fn contents(&self) -> &[u8] {
        self.content.contents()
    }

    /// The content hint.
    #[must_use]
    pub const fn content_hint(&self) -> ContentHint {
        self.content.content_hint()
    }

    /// The group id, if any.
    #[must_use]
    pub fn group_id(&self) -> Option<&[u8]> {
        self.content.group_id()
    }

    /// The whole decrypted content.
    #[must_use]
    pub const fn content(&self) -> &UnidentifiedSenderMessageContent {
        &self.content
    }

    /// Whether the sender is the device (`aci` or `e164`, and `device_id`): libsignal
    /// refuses such a message as a self-send.
    #[must_use]
    pub fn is_from(&self, aci: &ServiceId, e164: Option<&str>, device_id: DeviceId) -> bool {
        let certificate = self.sender_certificate();
        let same_account = certificate.sender() == aci
            || matches!((e164, certificate.sender_e164()), (Some(a), Some(b)) if a == b);
        same_account && certificate.device_id() == device_id
    }

    /// The content, consuming the message.
    #[must_use]
    pub fn into_content(self) -> UnidentifiedSenderMessageContent {
        self.content
    }
}

impl fmt::Debug for OpenedMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenedMessage")
            .field("version", &self.version)
            .field("content", &self.content)
            .finish()
    }
}

/// Opens a sealed message addressed to `recipient`: a v1 message or a v2
/// `ReceivedMessage`, told apart by the version byte's high nibble (the version
/// required to read it): 1 is v1, 2 is v2, as in libsignal. Then checks the sender
/// certificate with `validator` at `now_ms` (milliseconds since the Unix epoch).
///
/// Unlike libsignal, which also reads a high nibble of 0 as v1, hush refuses it
/// ([`Error::UnknownVersion`]`(0)`): libsignal never wrote such a byte.
///
/// # Errors
///
/// [`Error::Malformed`] for an empty or badly framed message or content;
/// [`Error::TooMany`] beyond [`MAX_SEALED_MESSAGE_LEN`] bytes;
/// [`Error::UnknownVersion`] for another high nibble; [`Error::DecryptionFailed`] when it
/// does not decrypt under `recipient`'s key (whatever the reason);
/// [`Error::SenderIdentityMismatch`] when the certificate's identity key is not the one
/// the message was sealed with; the errors of [`CertificateValidator::validate`].
pub fn open(
    message: &[u8],
    recipient: &IdentityKeyPair,
    validator: &CertificateValidator,
    now_ms: u64,
) -> Result<OpenedMessage> {
    let (&version, body) = message
        .split_first()
        .ok_or(Error::Malformed("sealed sender message"))?;
    if message.len() > MAX_SEALED_MESSAGE_LEN {
        return Err(Error::TooMany {
            what: "sealed message bytes",
            limit: MAX_SEALED_MESSAGE_LEN,
        });
    }
    let (version, content) = match version >> 4 {
        1 => (SealedVersion::V1, v1::open(body, recipient)?),
        2 => (SealedVersion::V2, v2::open(body, recipient)?),
        other => return Err(Error::UnknownVersion(other)),
    };
    validator.validate(content.sender_certificate(), now_ms)?;
    Ok(OpenedMessage { version, content })
}
