//! The one error type of `hush-backup`.
//!
//! Every variant carries only small typed values (an index, a length, a position), never
//! key material, plaintext, or text copied from the input, so its `Display` is safe to
//! log and to show to the user.

/// Everything that can go wrong in `hush-backup`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bytes that do not decode as the named structure (wrong length, a field out of
    /// range).
    #[error("malformed {0}")]
    Malformed(&'static str),

    /// The password vault failed; the nested error says how.
    #[cfg(feature = "vault")]
    #[error("vault: {0}")]
    Vault(#[from] crate::vault::VaultError),

    /// The input does not start with the backup stream's magic bytes: it is not a hush
    /// backup (or its first bytes were damaged).
    #[error("not a hush backup (bad magic bytes)")]
    NotABackup,

    /// A version byte this build does not know.
    #[error("unknown format version {0}")]
    UnknownVersion(u8),

    /// The backup was made with a different backup key: the key id in its header is not
    /// the id of the key given.
    #[error("this backup was made with a different key")]
    WrongKey,

    /// The stream header's tag does not verify: the header was altered, or the context
    /// given at decryption differs from the one used at encryption.
    #[error("backup header failed authentication (tampered header or different context)")]
    HeaderAuthentication,

    /// Chunk `index` (counting from 0) did not authenticate: it was altered, reordered,
    /// duplicated, carries the wrong last-chunk flag, or the stream was cut inside it.
    #[error("backup chunk {index} is corrupted")]
    CorruptedChunk {
        /// The chunk's position in the stream, from 0.
        index: u64,
    },

    /// The stream ended before its final chunk: `chunks_read` chunks authenticated, and
    /// the input ended at a chunk boundary (or inside the header, with `chunks_read` 0).
    #[error("backup is truncated after {chunks_read} chunks")]
    Truncated {
        /// How many chunks authenticated before the input ended.
        chunks_read: u64,
    },

    /// Bytes follow the final chunk.
    #[error("data after the end of the backup")]
    TrailingData,

    /// The underlying reader or writer failed with this kind of error.
    #[error("i/o error: {0}")]
    Io(std::io::ErrorKind),

    /// The stream has more chunks than the 32-bit chunk counter can number (2^32).
    #[error("stream too long for the chunk counter")]
    StreamTooLong,

    /// The password does not unwrap the key (or the wrapped key was altered).
    #[error("wrong password")]
    WrongPassword,

    /// A recovery code must have 64 characters (not counting spaces and dashes).
    #[error("a recovery code has 64 characters, found {found}")]
    RecoveryCodeLength {
        /// How many significant characters the text had.
        found: usize,
    },

    /// A character that is not in the recovery-code alphabet, at `position` (counting
    /// characters of the text as given, from 0).
    #[error("invalid character at position {position} of the recovery code")]
    RecoveryCodeCharacter {
        /// Index of the character (not byte) in the text as given, from 0.
        position: usize,
    },

    /// The recovery code's checksum does not match: a character was mistyped.
    #[error("the recovery code has a typo (checksum mismatch)")]
    RecoveryCodeTypo,

    /// A parameter outside its allowed range, or an API used out of order (named).
    #[error("invalid parameters: {0}")]
    InvalidParameters(&'static str),
}

impl From<std::io::Error> for Error {
    fn from(error: std::io::Error) -> Self {
        Self::Io(error.kind())
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;
