//! The one error type of `hush-device`.

/// Everything that can go wrong in `hush-device`.
///
/// No variant carries key material or text copied from the input. Failures of the
/// AEAD that protects linking messages collapse into [`Error::Tampered`]; a message that
/// decrypts but whose linking-secret MAC fails is [`Error::WrongLinkingSecret`] (see
/// `docs/wire/linking.md` for why telling them apart leaks nothing).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bytes that do not decode as the named structure.
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// A version byte this build does not know.
    #[error("unknown version {0}")]
    UnknownVersion(u8),
    /// The linking offer (or the linking step that depends on it) is past its deadline.
    #[error("linking offer expired")]
    Expired,
    /// The primary has already answered this linking offer.
    #[error("linking offer already used")]
    Replayed,
    /// The replay set is full of unexpired offers; try again after some expire.
    #[error("too many linking offers in flight (at most {max})")]
    SeenOffersFull {
        /// The bound, [`crate::limits::MAX_SEEN_OFFERS`].
        max: usize,
    },
    /// The linking message decrypted, but its MAC under the linking secret did not
    /// verify: the sender does not know the secret from the QR code.
    #[error("linking message not made with this offer's linking secret")]
    WrongLinkingSecret,
    /// A linking message or countersignature did not authenticate. Deliberately says
    /// no more.
    #[error("linking message tampered with")]
    Tampered,
    /// An account, device or device-list signature did not verify.
    #[error("bad signature")]
    BadSignature,
    /// Serialised state of another kind or step than the one asked for.
    #[error("unexpected linking state")]
    UnexpectedState,
    /// The identity key pair given does not match the one the state or list was made for.
    #[error("identity key pair does not match")]
    WrongIdentityKey,
    /// Adding a companion would exceed the policy's maximum.
    #[error("too many companion devices (at most {max})")]
    TooManyCompanions {
        /// The policy maximum.
        max: usize,
    },
    /// A device id is already on the list.
    #[error("device {0} is already on the list")]
    DuplicateDevice(u32),
    /// The primary (device 1) cannot be removed from its own list.
    #[error("the primary device cannot be removed")]
    CannotRemovePrimary,
    /// A device list older than one already seen for the account.
    #[error("device list rollback: seen version {seen}, received {received}")]
    Rollback {
        /// Highest version seen before.
        seen: u64,
        /// Version received.
        received: u64,
    },
    /// A device list with the same version as one already seen but different contents.
    #[error("two different device lists with version {version}")]
    Equivocation {
        /// The version both lists carry.
        version: u64,
    },
    /// A device list signed by another account key than the one seen before.
    #[error("account identity key changed")]
    IdentityChanged,
    /// A device that is not on the verified device list (or has another identity key).
    #[error("device not on the signed device list")]
    UnknownDevice,
    /// A companion on the list, but the list is older than the companion expiry: the
    /// primary has not been seen for too long.
    #[error("companion expired: primary not seen recently")]
    CompanionExpired,
    /// The history hand-off stream failed.
    #[error("history stream: {0}")]
    HistoryStream(hush_backup::Error),
    /// A QR code could not be built or rendered.
    #[error("QR rendering failed: {0}")]
    Render(&'static str),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;
