//! `UnidentifiedSenderMessageContent`: what both versions of sealed sender encrypt.

use core::fmt;

use prost::Message;

use crate::certificate::SenderCertificate;
use crate::error::{Error, Result};
use crate::limits::MAX_CONTENT_LEN;
use crate::wire;

/// The type of the inner message a sealed message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentType {
    /// A `PreKeySignalMessage` (the first messages of a session).
    PreKey,
    /// A `SignalMessage` ("Whisper").
    Whisper,
    /// A `SenderKeyMessage` (a group message).
    SenderKey,
    /// A `PlaintextContent` (e.g. a decryption error message).
    Plaintext,
}

impl ContentType {
    /// The value in the `type` field of the protobuf (1, 2, 7, 8).
    #[must_use]
    pub const fn proto_value(self) -> i32 {
        match self {
            Self::PreKey => 1,
            Self::Whisper => 2,
            Self::SenderKey => 7,
            Self::Plaintext => 8,
        }
    }

    /// The type from the protobuf field's value, if it is one of the four.
    #[must_use]
    pub const fn from_proto_value(value: i32) -> Option<Self> {
        match value {
            1 => Some(Self::PreKey),
            2 => Some(Self::Whisper),
            7 => Some(Self::SenderKey),
            8 => Some(Self::Plaintext),
            _ => None,
        }
    }

    /// libsignal's `CiphertextMessageType` number of the inner message (3 PreKey,
    /// 2 Whisper, 7 SenderKey, 8 Plaintext), which differs from the protobuf value for
    /// PreKey only.
    #[must_use]
    pub const fn ciphertext_message_type(self) -> u8 {
        match self {
            Self::PreKey => 3,
            Self::Whisper => 2,
            Self::SenderKey => 7,
            Self::Plaintext => 8,
        }
    }
}

/// How the recipient should treat a message it cannot decrypt (libsignal's
/// `ContentHint`). Unknown values are kept as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentHint {
    /// The sender will not resend: show an error at once. Not written on the wire.
    Default,
    /// The sender will try to resend: delay error UI (1).
    Resendable,
    /// Sent implicitly (typing indicator, receipt): show no error (2).
    Implicit,
    /// Any other value, kept (never 0, 1 or 2).
    Unknown(u32),
}

impl ContentHint {
    /// The number (0 for [`ContentHint::Default`]).
    #[must_use]
    pub const fn to_u32(self) -> u32 {
        match self {
            Self::Default => 0,
            Self::Resendable => 1,
            Self::Implicit => 2,
            Self::Unknown(value) => value,
        }
    }
}

impl From<u32> for ContentHint {
    fn from(value: u32) -> Self {
        match value {
            0 => Self::Default,
            1 => Self::Resendable,
            2 => Self::Implicit,
            other => Self::Unknown(other),
        }
    }
}

/// The sealed plaintext: the inner message, its type, the sender certificate, a content
/// hint and an optional group id (libsignal's `UnidentifiedSenderMessageContent`,
/// protobuf `UnidentifiedSenderMessage.Message`).
///
/// Keeps the bytes it was decoded from or encoded to: sealing encrypts exactly those.
/// An empty group id is the same as none (libsignal writes neither).
#[derive(Clone, PartialEq, Eq)]
pub struct UnidentifiedSenderMessageContent {
    serialized: Vec<u8>,
    content_type: ContentType,
    sender: SenderCertificate,
    contents: Vec<u8>,
    content_hint: ContentHint,
    group_id: Option<Vec<u8>>,
}

impl UnidentifiedSenderMessageContent {
    /// Builds and encodes the content, as libsignal's
    /// `UnidentifiedSenderMessageContent::new` does (the default hint and an empty group
    /// id are left out).
    ///
    /// # Errors
    ///
    /// [`Error::TooMany`] if the encoding exceeds [`MAX_CONTENT_LEN`].
    pub fn new(
        content_type: ContentType,
        sender: SenderCertificate,
        contents: Vec<u8>,
        content_hint: ContentHint,
        group_id: Option<Vec<u8>>,
    ) -> Result<Self> {
        let group_id = group_id.filter(|id| !id.is_empty());
        let wire = wire::UnidentifiedSenderMessageContent {
            r#type: Some(content_type.proto_value()),
            sender_certificate: Some(sender.as_bytes().to_vec()),
            content: Some(contents.clone()),
            // The enum is an int32 on the wire: values above i32::MAX are written as
            // negative numbers, as libsignal's `as i32` does.
            #[expect(
                clippy::cast_possible_wrap,
                reason = "libsignal's encoding of large hints"
            )]
            content_hint: match content_hint {
                ContentHint::Default => None,
                other => Some(other.to_u32() as i32),
            },
            group_id: group_id.clone(),
        };
        if wire.encoded_len() > MAX_CONTENT_LEN {
            return Err(Error::TooMany {
                what: "content bytes",
                limit: MAX_CONTENT_LEN,
            });
        }
        Ok(Self {
            serialized: wire.encode_to_vec(),
            content_type,
            sender,
            contents,
            content_hint,
            group_id,
        })
    }

    /// Decodes the content.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] for bad protobuf, a missing type, certificate or content, a
    /// type other than the four, or a bad sender certificate; [`Error::TooMany`] beyond
    /// [`MAX_CONTENT_LEN`] bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "sealed sender content";
        if bytes.len() > MAX_CONTENT_LEN {
            return Err(Error::TooMany {
                what: "content bytes",
                limit: MAX_CONTENT_LEN,
            });
        }
        let wire = wire::UnidentifiedSenderMessageContent::decode(bytes)
            .map_err(|_| Error::Malformed(WHAT))?;
        let (Some(content_type), Some(sender), Some(contents)) =
            (wire.r#type, wire.sender_certificate, wire.content)
        else {
            return Err(Error::Malformed(WHAT));
        };
        let content_type =
            ContentType::from_proto_value(content_type).ok_or(Error::Malformed(WHAT))?;
        #[expect(
            clippy::cast_sign_loss,
            reason = "libsignal reads the int32 back `as u32`"
        )]
        let content_hint = wire
            .content_hint
            .map_or(ContentHint::Default, |raw| ContentHint::from(raw as u32));
        Ok(Self {
            serialized: bytes.to_vec(),
            content_type,
            sender: SenderCertificate::decode(&sender)?,
            contents,
            content_hint,
            group_id: wire.group_id.filter(|id| !id.is_empty()),
        })
    }

    /// The encoded content.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.serialized
    }

    /// The inner message's type.
    #[must_use]
    pub const fn content_type(&self) -> ContentType {
        self.content_type
    }

    /// The sender certificate (not yet validated, unless this came from
    /// [`crate::open`]).
    #[must_use]
    pub const fn sender_certificate(&self) -> &SenderCertificate {
        &self.sender
    }

    /// The inner message.
    #[must_use]
    pub fn contents(&self) -> &[u8] {
        &self.contents
    }

    /// The content hint.
    #[must_use]
    pub const fn content_hint(&self) -> ContentHint {
        self.content_hint
    }

    /// The group id, if any.
    #[must_use]
    pub fn group_id(&self) -> Option<&[u8]> {
        self.group_id.as_deref()
    }
}

impl fmt::Debug for UnidentifiedSenderMessageContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnidentifiedSenderMessageContent")
            .field("content_type", &self.content_type)
            .field("sender", &self.sender)
            .field("contents_len", &self.contents.len())
            .field("content_hint", &self.content_hint)
            .field("group_id_len", &self.group_id.as_ref().map(Vec::len))
            .finish_non_exhaustive()
    }
}
