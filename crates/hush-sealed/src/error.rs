//! The one error type of `hush-sealed`.

/// Everything that can go wrong in `hush-sealed`.
///
/// Variants name what the caller can act on. None carries key material, plaintext or
/// anything copied from the input beyond small numbers. Every way a sealed message can
/// fail to decrypt (a bad MAC in either v1 layer, a v2 key that does not re-derive, an
/// AES-GCM-SIV tag, a small-order ephemeral key) collapses into
/// [`Error::DecryptionFailed`], so that a sender of forged messages learns nothing from
/// which check refused them.
///
/// Certificate problems are told apart ([`Error::UntrustedCertificate`],
/// [`Error::RevokedServerCertificate`], [`Error::ExpiredCertificate`], ...): they are
/// found only after the message decrypted, so they reveal nothing its sender did not
/// already know, and an app shows them differently (an expired certificate is routine,
/// an untrusted one is an attack or a misconfiguration). libsignal answers all of them
/// with one `InvalidSealedSenderMessage("trust root validation failed")`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bytes that do not decode as the named structure: bad protobuf, a missing or
    /// mis-sized field, a truncated or overlong message, trailing bytes.
    #[error("malformed {0}")]
    Malformed(&'static str),

    /// A sealed message whose version byte names a major version this crate does not
    /// read: the high nibble (1 for v1, 2 for v2), as libsignal reports it
    /// (`UnknownSealedSenderVersion`). For a v2 `SentMessage` it is the whole byte.
    #[error("unknown sealed sender version {0}")]
    UnknownVersion(u8),

    /// The message did not decrypt. Deliberately says no more.
    #[error("decryption failed")]
    DecryptionFailed,

    /// The sender identity key the message was sealed with is not the one in its sender
    /// certificate: in v1 the decrypted static key differs from the certificate's key, in
    /// v2 the authentication tag does not match the certificate's key. Someone who can
    /// decrypt the message (for v2: any recipient) put another sender's certificate in
    /// it. When sealing: the sender's identity key pair is not the certificate's.
    #[error("the sealing identity key is not the sender certificate's")]
    SenderIdentityMismatch,

    /// A certificate's signature does not verify: the server certificate is not signed
    /// by any trusted root, or the sender certificate not by the server key.
    #[error("certificate not signed by a trusted key")]
    UntrustedCertificate,

    /// The server certificate's key id is on the revocation list
    /// ([`crate::REVOKED_SERVER_KEY_IDS`]).
    #[error("server certificate {0:#x} is revoked")]
    RevokedServerCertificate(u32),

    /// The sender certificate names its server certificate by an id (libsignal's field
    /// 8) that the [`crate::CertificateValidator`] does not know.
    #[error("unknown server certificate id {0:#x}")]
    UnknownServerCertificate(u32),

    /// The sender certificate expired before the validation time.
    #[error("sender certificate expired at {expiration_ms} ms (validated at {now_ms} ms)")]
    ExpiredCertificate {
        /// The certificate's expiry, milliseconds since the Unix epoch.
        expiration_ms: u64,
        /// The validation time.
        now_ms: u64,
    },

    /// A device id outside 1..=127 (libsignal's `DeviceId` range; `0` marks an excluded
    /// recipient in a v2 `SentMessage`).
    #[error("invalid device id {0}")]
    InvalidDeviceId(u32),

    /// A registration id that does not fit in 14 bits, the width v2 gives it.
    #[error("invalid registration id {0}")]
    InvalidRegistrationId(u32),

    /// A key given by the caller that cannot be used: a recipient identity key of small
    /// order (the key agreement would be all zeros), a sender certificate for a PNI.
    #[error("invalid {0}")]
    InvalidKey(&'static str),

    /// A multi-recipient send that cannot be encoded as asked: no recipients, one device
    /// listed twice, a service id both excluded and a recipient.
    #[error("invalid recipients: {0}")]
    InvalidRecipients(&'static str),

    /// More of something than [`crate::limits`] allows.
    #[error("too many {what} (at most {limit})")]
    TooMany {
        /// What there are too many of.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
}

/// Result with [`Error`].
pub type Result<T> = core::result::Result<T, Error>;
