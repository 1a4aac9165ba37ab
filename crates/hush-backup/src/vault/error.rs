//! The vault's nested error enum, carried by [`crate::Error::Vault`].

/// Everything that can go wrong in the password vault, on either side.
///
/// Wrong passwords and failed authentications collapse into [`VaultError::InvalidLogin`];
/// failed decryptions into [`VaultError::Decryption`]. Neither says more, so neither is an
/// oracle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// The message or stored value does not start with the one version byte this code
    /// speaks (see `docs/wire/vault.md`).
    #[error("unknown vault format version {0}")]
    UnknownVersion(u8),
    /// The message's type byte is not the one the decoder expects (for example a
    /// credential request handed to the registration decoder).
    #[error("unexpected vault message type {found} (expected {expected})")]
    UnexpectedType {
        /// The type byte the decoder wanted.
        expected: u8,
        /// The type byte found.
        found: u8,
    },
    /// The input has the wrong total length for the named message.
    #[error("{message}: length {found}, expected {expected}")]
    Length {
        /// Which structure.
        message: &'static str,
        /// The length the structure has.
        expected: usize,
        /// The length found.
        found: usize,
    },
    /// A field of the named structure does not decode (a bad group element, an unknown
    /// flag value, an out-of-range number).
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// A user id outside `MIN_USER_ID_LEN..=MAX_USER_ID_LEN` bytes.
    #[error("user id of {0} bytes is out of bounds")]
    UserIdLength(usize),
    /// Argon2id parameters outside the bounds in [`crate::vault::limits`].
    #[error("key-stretching parameters out of bounds: {0}")]
    KsfParams(&'static str),
    /// A vault configuration value out of bounds.
    #[error("vault configuration out of bounds: {0}")]
    Config(&'static str),
    /// The login did not authenticate: wrong password, unknown user, a tampered message,
    /// or a record replaced since the login started. No further detail, by design.
    #[error("login failed")]
    InvalidLogin,
    /// A sealed value (released key, wrapped key) did not authenticate.
    #[error("decryption failed")]
    Decryption,
    /// `register` for a user id that already has a record.
    #[error("user is already registered")]
    AlreadyRegistered,
    /// The record was destroyed after too many failed logins. It is gone for good: no
    /// password releases the key any more, and the user id cannot register again until an
    /// operator calls `Vault::forget`.
    #[error("vault record destroyed after too many failed attempts")]
    Destroyed,
    /// An update (password change, key rotation) without a valid, unused, unexpired update
    /// authorization from a login that just succeeded.
    #[error("update not authorized")]
    Unauthorized,
    /// The store failed (I/O, a poisoned lock, a corrupt or unknown schema).
    #[error("vault store failure: {0}")]
    Store(&'static str),
    /// A failure inside OPAQUE or Argon2 that valid input cannot cause.
    #[error("internal vault error: {0}")]
    Internal(&'static str),
}
