//! The one error type of `hush-backup`.

/// Everything that can go wrong in `hush-backup`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bytes that do not decode as the named structure.
    #[error("malformed {0}")]
    Malformed(&'static str),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;
