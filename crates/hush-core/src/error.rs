//! The one error type of `hush-core`.

/// Everything that can go wrong in `hush-core`.
///
/// Variants name what the caller can act on. None of them carries key material or
/// plaintext, and decryption failures collapse into [`Error::DecryptionFailed`] so that
/// an attacker learns nothing from which check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A serialised key started with a type byte this kind of key does not use.
    #[error("unknown key type byte {0:#04x}")]
    UnknownKeyType(u8),
    /// An input had the wrong length.
    #[error("{what} must be {expected} bytes, got {actual}")]
    BadLength {
        /// What was being decoded.
        what: &'static str,
        /// The length required.
        expected: usize,
        /// The length given.
        actual: usize,
    },
    /// A public key decoded but is not a valid key (e.g. a KEM key whose coefficients are
    /// not reduced).
    #[error("invalid {0}")]
    InvalidKey(&'static str),
    /// A protobuf structure could not be decoded or lacked a required field.
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// A Diffie-Hellman agreement produced the all-zero output: the peer's public key has
    /// small order. The agreement contributes nothing secret and is refused.
    #[error("key agreement with a small-order public key")]
    NonContributory,
    /// A ciphertext did not authenticate or was not well formed. Deliberately says no more.
    #[error("decryption failed")]
    DecryptionFailed,
    /// A KDF was asked for more output than it can produce.
    #[error("KDF output of {0} bytes is out of range")]
    KdfOutputLength(usize),
    /// A KEM ciphertext was used with a key of another KEM type.
    #[error("KEM type mismatch")]
    KemTypeMismatch,
    /// Two scannable fingerprints of different versions were compared.
    #[error("fingerprint version mismatch: ours {ours}, theirs {theirs}")]
    FingerprintVersionMismatch {
        /// The version of the local fingerprint.
        ours: u32,
        /// The version of the scanned fingerprint.
        theirs: u32,
    },
    /// A fingerprint was requested with an unsupported version or iteration count.
    #[error("unsupported fingerprint parameter: {0}")]
    FingerprintParameter(&'static str),
    /// A MAC tag length outside what hush accepts.
    #[error("MAC tag length {0} is out of range")]
    MacLength(usize),
}

/// Result with [`Error`].
pub type Result<T> = core::result::Result<T, Error>;
