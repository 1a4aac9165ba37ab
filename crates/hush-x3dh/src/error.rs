//! The one error type of `hush-x3dh`.

/// Everything that can go wrong in key agreement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The signed prekey's signature does not verify under the bundle's identity key.
    #[error("signed prekey signature is invalid")]
    BadSignedPreKeySignature,
    /// The KEM prekey's signature does not verify under the bundle's identity key.
    #[error("KEM prekey signature is invalid")]
    BadKemPreKeySignature,
    /// PQXDH (libsignal-compatible mode) needs a KEM prekey and ciphertext; none was given.
    #[error("PQXDH requires a KEM prekey")]
    MissingKemPreKey,
    /// Classic X3DH was asked for, but a KEM part was present (or the other way round).
    #[error("agreement mode does not match the message")]
    ModeMismatch,
    /// The caller's trust decision refused the remote identity.
    #[error("remote identity is not trusted")]
    UntrustedIdentity,
    /// The remote identity differs from the one the caller knew for this peer.
    #[error("remote identity has changed")]
    IdentityChanged,
    /// An error from the primitives (small-order key, KEM type mismatch).
    #[error(transparent)]
    Core(#[from] hush_core::Error),
}

/// Result with [`Error`].
pub type Result<T> = core::result::Result<T, Error>;
