//! The facade's plaintext framing: what goes inside every pairwise (1:1) ciphertext the
//! client sends. Layout, limits and errors: `docs/wire/content.md`.
//!
//! ```text
//! version (1 byte, 0x01) | kind (1 byte) | kind-specific fields
//! kind 0x01 direct message:          plaintext (the rest)
//! kind 0x02 sent transcript:         to-user length (1 byte) | to-user (UTF-8) | plaintext (the rest)
//! kind 0x03 sender-key distribution: SenderKeyDistributionMessage bytes (the rest)
//! ```

use core::fmt;

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::limits::{
    MAX_CONTENT_LEN, MAX_DISTRIBUTION_MESSAGE_LEN, MAX_PLAINTEXT_LEN, MAX_USER_LEN,
};

/// The version byte every content starts with.
pub const CONTENT_VERSION: u8 = 1;

/// Kind byte of [`Content::Direct`].
pub const KIND_DIRECT: u8 = 0x01;
/// Kind byte of [`Content::SentTranscript`].
pub const KIND_SENT_TRANSCRIPT: u8 = 0x02;
/// Kind byte of [`Content::SenderKeyDistribution`].
pub const KIND_SENDER_KEY_DISTRIBUTION: u8 = 0x03;

/// The plaintext of one pairwise message, before encryption / after decryption.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Content {
    /// A message from one user to another (every device of the recipient gets a copy).
    Direct {
        /// The application's message.
        plaintext: Zeroizing<Vec<u8>>,
    },
    /// A copy of a message this account sent, for the sender's own other devices.
    SentTranscript {
        /// The user the message was sent to.
        to_user: String,
        /// The application's message.
        plaintext: Zeroizing<Vec<u8>>,
    },
    /// A sender-key distribution message (`hush_group::SenderKeyDistributionMessage`
    /// bytes), handing out the sender's chain for a group.
    SenderKeyDistribution {
        /// The distribution message's wire bytes.
        message: Vec<u8>,
    },
}

impl fmt::Debug for Content {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Plaintexts are the user's messages: never in logs.
        match self {
            Self::Direct { plaintext } => f
                .debug_struct("Direct")
                .field("plaintext_len", &plaintext.len())
                .finish_non_exhaustive(),
            Self::SentTranscript { to_user, plaintext } => f
                .debug_struct("SentTranscript")
                .field("to_user", to_user)
                .field("plaintext_len", &plaintext.len())
                .finish_non_exhaustive(),
            Self::SenderKeyDistribution { message } => f
                .debug_struct("SenderKeyDistribution")
                .field("message_len", &message.len())
                .finish_non_exhaustive(),
        }
    }
}

impl Content {
    /// The wire form (`docs/wire/content.md`). It holds the plaintext, so it is wiped on
    /// drop.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a plaintext longer than [`MAX_PLAINTEXT_LEN`], a
    /// `to_user` that is empty or longer than [`MAX_USER_LEN`], or a distribution message
    /// that is empty or longer than [`MAX_DISTRIBUTION_MESSAGE_LEN`].
    pub fn encode(&self) -> Result<Zeroizing<Vec<u8>>> {
        match self {
            Self::Direct { plaintext } => encode_direct(plaintext),
            Self::SentTranscript { to_user, plaintext } => {
                encode_sent_transcript(to_user, plaintext)
            }
            Self::SenderKeyDistribution { message } => encode_distribution(message),
        }
    }

    /// Parses the wire form.
    ///
    /// # Errors
    ///
    /// [`Error::MalformedContent`]`("empty")` for no bytes;
    /// [`Error::UnknownContentVersion`] for a first byte other than [`CONTENT_VERSION`];
    /// [`Error::MalformedContent`] for input longer than [`MAX_CONTENT_LEN`]
    /// (`"too long"`), a missing or unknown kind (`"kind"`), a plaintext longer than
    /// [`MAX_PLAINTEXT_LEN`] (`"plaintext too long"`), a to-user that is empty, longer
    /// than [`MAX_USER_LEN`], cut short or not UTF-8 (`"to-user"`), a distribution
    /// message that is empty or longer than [`MAX_DISTRIBUTION_MESSAGE_LEN`]
    /// (`"distribution message"`).
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let (&version, rest) = bytes
            .split_first()
            .ok_or(Error::MalformedContent("empty"))?;
        if version != CONTENT_VERSION {
            return Err(Error::UnknownContentVersion(version));
        }
        if bytes.len() > MAX_CONTENT_LEN {
            return Err(Error::MalformedContent("too long"));
        }
        let (&kind, body) = rest.split_first().ok_or(Error::MalformedContent("kind"))?;
        match kind {
            KIND_DIRECT => Ok(Self::Direct {
                plaintext: plaintext(body)?,
            }),
            KIND_SENT_TRANSCRIPT => {
                let (&len, body) = body
                    .split_first()
                    .ok_or(Error::MalformedContent("to-user"))?;
                let len = usize::from(len);
                if len == 0 || len > MAX_USER_LEN {
                    return Err(Error::MalformedContent("to-user"));
                }
                let (to_user, body) = body
                    .split_at_checked(len)
                    .ok_or(Error::MalformedContent("to-user"))?;
                let to_user = core::str::from_utf8(to_user)
                    .map_err(|_| Error::MalformedContent("to-user"))?;
                Ok(Self::SentTranscript {
                    to_user: to_user.to_owned(),
                    plaintext: plaintext(body)?,
                })
            }
            KIND_SENDER_KEY_DISTRIBUTION => {
                if body.is_empty() || body.len() > MAX_DISTRIBUTION_MESSAGE_LEN {
                    return Err(Error::MalformedContent("distribution message"));
                }
                Ok(Self::SenderKeyDistribution {
                    message: body.to_vec(),
                })
            }
            _ => Err(Error::MalformedContent("kind")),
        }
    }
}

fn plaintext(body: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    if body.len() > MAX_PLAINTEXT_LEN {
        return Err(Error::MalformedContent("plaintext too long"));
    }
    Ok(Zeroizing::new(body.to_vec()))
}

fn check_plaintext(plaintext: &[u8]) -> Result<()> {
    if plaintext.len() > MAX_PLAINTEXT_LEN {
        return Err(Error::InvalidArgument(
            "plaintext longer than MAX_PLAINTEXT_LEN",
        ));
    }
    Ok(())
}

/// The framing of a direct message, without building a [`Content`] first.
pub(crate) fn encode_direct(plaintext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    check_plaintext(plaintext)?;
    let mut out = Zeroizing::new(Vec::with_capacity(2 + plaintext.len()));
    out.extend_from_slice(&[CONTENT_VERSION, KIND_DIRECT]);
    out.extend_from_slice(plaintext);
    Ok(out)
}

/// The framing of a sent transcript.
pub(crate) fn encode_sent_transcript(
    to_user: &str,
    plaintext: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    check_plaintext(plaintext)?;
    let len = u8::try_from(to_user.len())
        .ok()
        .filter(|&len| len != 0 && usize::from(len) <= MAX_USER_LEN)
        .ok_or(Error::InvalidArgument(
            "user name empty or longer than MAX_USER_LEN",
        ))?;
    let mut out = Zeroizing::new(Vec::with_capacity(3 + to_user.len() + plaintext.len()));
    out.extend_from_slice(&[CONTENT_VERSION, KIND_SENT_TRANSCRIPT, len]);
    out.extend_from_slice(to_user.as_bytes());
    out.extend_from_slice(plaintext);
    Ok(out)
}

/// The framing of a sender-key distribution message.
pub(crate) fn encode_distribution(message: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    if message.is_empty() || message.len() > MAX_DISTRIBUTION_MESSAGE_LEN {
        return Err(Error::InvalidArgument("distribution message length"));
    }
    let mut out = Zeroizing::new(Vec::with_capacity(2 + message.len()));
    out.extend_from_slice(&[CONTENT_VERSION, KIND_SENDER_KEY_DISTRIBUTION]);
    out.extend_from_slice(message);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_are_as_documented() {
        // Hand-assembled from docs/wire/content.md.
        let direct = Content::Direct {
            plaintext: Zeroizing::new(b"hi".to_vec()),
        };
        assert_eq!(direct.encode().unwrap().as_slice(), [1, 1, b'h', b'i']);
        let transcript = Content::SentTranscript {
            to_user: "bob".into(),
            plaintext: Zeroizing::new(b"yo".to_vec()),
        };
        assert_eq!(
            transcript.encode().unwrap().as_slice(),
            [1, 2, 3, b'b', b'o', b'b', b'y', b'o']
        );
        let distribution = Content::SenderKeyDistribution {
            message: vec![0x33, 9],
        };
        assert_eq!(distribution.encode().unwrap().as_slice(), [1, 3, 0x33, 9]);
        for content in [direct, transcript, distribution] {
            let bytes = content.encode().unwrap();
            assert_eq!(Content::decode(&bytes).unwrap(), content);
        }
        // An empty direct message is allowed.
        assert_eq!(
            Content::decode(&[1, 1]).unwrap(),
            Content::Direct {
                plaintext: Zeroizing::new(Vec::new())
            }
        );
    }

    #[test]
    fn malformations_give_the_documented_errors() {
        let m = Error::MalformedContent;
        assert_eq!(Content::decode(&[]), Err(m("empty")));
        assert_eq!(
            Content::decode(&[2, 1]),
            Err(Error::UnknownContentVersion(2))
        );
        assert_eq!(Content::decode(&[0]), Err(Error::UnknownContentVersion(0)));
        assert_eq!(Content::decode(&[1]), Err(m("kind")));
        assert_eq!(Content::decode(&[1, 0]), Err(m("kind")));
        assert_eq!(Content::decode(&[1, 4, 1]), Err(m("kind")));
        assert_eq!(Content::decode(&[1, 2]), Err(m("to-user")));
        assert_eq!(Content::decode(&[1, 2, 0]), Err(m("to-user")));
        assert_eq!(Content::decode(&[1, 2, 3, b'a', b'b']), Err(m("to-user")));
        assert_eq!(Content::decode(&[1, 2, 1, 0xff]), Err(m("to-user")));
        let mut long = vec![1, 2, 65];
        long.extend_from_slice(&[b'a'; 65]);
        assert_eq!(Content::decode(&long), Err(m("to-user")));
        assert_eq!(Content::decode(&[1, 3]), Err(m("distribution message")));
        let mut big = vec![1, 3];
        big.resize(2 + MAX_DISTRIBUTION_MESSAGE_LEN + 1, 7);
        assert_eq!(Content::decode(&big), Err(m("distribution message")));
        let mut huge = vec![1, 1];
        huge.resize(2 + MAX_PLAINTEXT_LEN + 1, 0);
        assert_eq!(Content::decode(&huge), Err(m("plaintext too long")));
        huge.resize(MAX_CONTENT_LEN + 1, 0);
        assert_eq!(Content::decode(&huge), Err(m("too long")));
        // Encoding refuses what decoding would refuse.
        let too_long = Content::Direct {
            plaintext: Zeroizing::new(vec![0; MAX_PLAINTEXT_LEN + 1]),
        };
        assert!(matches!(too_long.encode(), Err(Error::InvalidArgument(_))));
        let no_user = Content::SentTranscript {
            to_user: String::new(),
            plaintext: Zeroizing::new(Vec::new()),
        };
        assert!(matches!(no_user.encode(), Err(Error::InvalidArgument(_))));
    }

    #[test]
    fn debug_hides_plaintext() {
        let c = Content::SentTranscript {
            to_user: "bob".into(),
            plaintext: Zeroizing::new(b"secret words".to_vec()),
        };
        assert_eq!(
            format!("{c:?}"),
            r#"SentTranscript { to_user: "bob", plaintext_len: 12, .. }"#
        );
    }
}
