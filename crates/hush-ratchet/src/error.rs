//! The one error type of `hush-ratchet`.

/// Everything that can go wrong with a session.
///
/// A failed decryption leaves the session record exactly as it was, whatever the variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The message is not well formed (bad protobuf, missing field, bad key encoding).
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// The message's version is newer than hush speaks.
    #[error("unknown message version {0}")]
    UnknownVersion(u8),
    /// The message's version is older than hush accepts (pre-X3DH or, in
    /// libsignal-compatible mode, pre-PQXDH).
    #[error("legacy message version {0}")]
    LegacyVersion(u8),
    /// There is no session to encrypt with, or none that the message belongs to.
    #[error("no session")]
    NoSession,
    /// The session's first message was never answered and it is older than
    /// [`crate::limits::MAX_UNACKNOWLEDGED_SESSION_AGE`]: fetch a new bundle.
    #[error("session expired before it was acknowledged")]
    SessionExpired,
    /// This message was already decrypted.
    #[error("duplicate message (counter {counter})")]
    DuplicateMessage {
        /// The message's counter.
        counter: u32,
    },
    /// The message is more than [`crate::limits::MAX_FORWARD_JUMP`] ahead of its chain,
    /// or further ahead than what the sessions tried before it left of one decryption's
    /// [`crate::limits::MAX_TOTAL_FORWARD_JUMP`].
    #[error("message is {jump} steps ahead of its chain")]
    TooFarAhead {
        /// How far ahead it is.
        jump: u32,
    },
    /// The chain reached index 2^32 - 1 and cannot step further: a sender cannot encrypt
    /// there (the peer's next DH ratchet step starts a new chain), a receiver cannot
    /// decrypt a message numbered 2^32 - 1. Nothing changed.
    #[error("chain exhausted")]
    ChainExhausted,
    /// The policy requires the post-quantum ratchet (SPQR) and this session or message
    /// has none: encrypting on a stored session without SPQR (start a new session from
    /// a fresh bundle), or a message that carries no SPQR payload (a peer that runs no
    /// SPQR, which libsignal v0.101 refuses as well). Nothing changed.
    #[error("the post-quantum ratchet is required and this session or message has none")]
    SpqrRequired,
    /// The message did not authenticate or decrypt. Deliberately says no more.
    #[error("decryption failed")]
    DecryptionFailed,
    /// A first message names prekeys the caller did not supply.
    #[error(
        "prekeys needed: signed {signed_prekey_id}, one-time {one_time_prekey_id:?}, KEM {kem_prekey_id:?}"
    )]
    MissingPreKeys {
        /// The signed prekey id named by the message.
        signed_prekey_id: u32,
        /// The one-time prekey id, if any.
        one_time_prekey_id: Option<u32>,
        /// The KEM prekey id, if any.
        kem_prekey_id: Option<u32>,
    },
    /// The caller's trust decision refused the remote identity.
    #[error("remote identity is not trusted")]
    UntrustedIdentity,
    /// The remote identity differs from the one known for this peer.
    #[error("remote identity has changed")]
    IdentityChanged,
    /// A first message reuses a base key with a last-resort KEM prekey it was already
    /// used with: a replay (see [`crate::LastResortReuseGuard`]).
    #[error("base key already used with this last-resort KEM prekey")]
    ReusedBaseKey,
    /// A stored session record is not well formed.
    #[error("invalid session record: {0}")]
    InvalidRecord(&'static str),
    /// Key agreement failed.
    #[error(transparent)]
    Agreement(hush_x3dh::Error),
    /// A primitive failed.
    #[error(transparent)]
    Core(#[from] hush_core::Error),
}

impl From<hush_x3dh::Error> for Error {
    fn from(error: hush_x3dh::Error) -> Self {
        match error {
            hush_x3dh::Error::UntrustedIdentity => Self::UntrustedIdentity,
            hush_x3dh::Error::IdentityChanged => Self::IdentityChanged,
            other => Self::Agreement(other),
        }
    }
}

/// Result with [`Error`].
pub type Result<T> = core::result::Result<T, Error>;
