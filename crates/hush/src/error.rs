//! `hush::Error`: every failure of the facade, with each protocol crate's error kept
//! whole inside it.

use hush_core::IdentityKey;
use hush_group::DistributionId;

use crate::Address;

/// Everything that can go wrong through the facade.
///
/// Errors from the protocol crates arrive wrapped, kind intact (`Error::Session(
/// hush_ratchet::Error::DuplicateMessage)` is still a duplicate). The variants of the
/// facade's own name what an app shows a person or acts on. None carries key material or
/// plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Keys, signatures and primitives (`hush-core`).
    #[error(transparent)]
    Core(#[from] hush_core::Error),
    /// Prekeys, bundles and uploads (`hush-prekey`).
    #[error(transparent)]
    PreKey(#[from] hush_prekey::Error),
    /// Key agreement (`hush-x3dh`).
    #[error(transparent)]
    KeyAgreement(#[from] hush_x3dh::Error),
    /// Sessions and their messages (`hush-ratchet`).
    #[error(transparent)]
    Session(#[from] hush_ratchet::Error),
    /// Sender keys and group messages (`hush-group`).
    #[error(transparent)]
    Group(#[from] hush_group::Error),
    /// Backups, recovery codes and the vault (`hush-backup`).
    #[error(transparent)]
    Backup(#[from] hush_backup::Error),
    /// Linking and device lists (`hush-device`).
    #[error(transparent)]
    Device(#[from] hush_device::Error),

    /// The store failed, or holds a value that does not decode. The payload says which
    /// operation; the store's own error is not exposed.
    #[error("store: {0}")]
    Store(&'static str),

    /// The store's schema was written by a newer version of hush (`found` is above the
    /// newest version this one knows, `supported`). Nothing was changed; upgrade hush.
    #[error("store schema version {found} is newer than the supported {supported}")]
    StoreVersionTooNew {
        /// The schema version recorded in the store.
        found: u32,
        /// The newest schema version this build can read.
        supported: u32,
    },

    /// The at-rest key given to open the store is not the one it was created with.
    #[error("wrong at-rest key for this store")]
    WrongAtRestKey,

    /// The store encrypts its secrets at rest and was opened without an at-rest key.
    #[error("this store is encrypted at rest: an at-rest key is needed")]
    AtRestKeyRequired,

    /// An at-rest key was given for a store created without encryption at rest.
    #[error("this store is not encrypted at rest: open it without an at-rest key")]
    StoreNotEncrypted,

    /// The store holds no account: create or restore one first.
    #[error("no account on this device")]
    NoAccount,

    /// `address` presented an identity key other than the one recorded for it. Nothing
    /// was sent to or accepted from it; show the person the new safety number (from
    /// `identity_key`), and call `Device::accept_identity` with it if they accept it.
    #[error("the identity of {address} changed")]
    IdentityChanged {
        /// The device whose identity changed.
        address: Address,
        /// The identity key it presents now (its device list's, or the message's).
        identity_key: IdentityKey,
    },

    /// A message came from, or would go to, a device that is not on its user's verified
    /// device list.
    #[error("{address} is not on its user's verified device list")]
    UntrustedDevice {
        /// The device.
        address: Address,
    },

    /// A group message came from a device whose user is not among the group's members
    /// (never was, or was removed): it is refused, whatever chain it carries.
    #[error("{address} is not a member of group {distribution_id}")]
    NotGroupMember {
        /// The sending device.
        address: Address,
        /// The group.
        distribution_id: DistributionId,
    },

    /// Sending needs a session with `address`, and no prekey bundle for it was given:
    /// fetch one from the server and send again.
    #[error("no session with {address} and no prekey bundle for it")]
    MissingBundle {
        /// The device that needs a bundle.
        address: Address,
    },

    /// A device list (or a first message) gives a device an identity key this device has
    /// recorded for `address`, a device of another user (or this device's own key, or
    /// one of this account's): one device cannot belong to two users. Nothing was stored.
    /// A server that lists one account's device under another cannot get its messages
    /// read as the other's; if it happens after a reinstall, the app decides which user
    /// the device belongs to.
    #[error("the identity key is already {address}'s")]
    DeviceKeyOfAnotherUser {
        /// The device the key is recorded for.
        address: Address,
    },

    /// `Device::accept_changed_device_list` was given a list signed by the account key
    /// already stored for its user: that is no account-key change (it may be a rollback
    /// or an equivocation `Device::accept_device_list` refused). Nothing was stored.
    #[error("the device list is signed by the account key already known for its user")]
    AccountKeyUnchanged,

    /// There is no verified device list for the user: fetch it from the server first.
    #[error("no verified device list for this user")]
    NoDeviceList,

    /// An argument the app passed is out of range (a name too long, a count too big).
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),

    /// Client: the store already holds an account; open it with `Device::open`.
    #[error("the store already holds an account")]
    AccountExists,

    /// Client: a message decrypted, but its content (`docs/wire/content.md`) is not well
    /// formed, or is of a kind its sender may not send (a sent transcript from another
    /// account). Nothing was committed.
    #[error("malformed message content: {0}")]
    MalformedContent(&'static str),

    /// Client: a message decrypted, but its content has a version this library does not
    /// know (a newer sender). Nothing was committed.
    #[error("unknown message content version {0}")]
    UnknownContentVersion(u8),

    /// Server: a prekey upload was refused (`hush_prekey::validate_upload`), with every
    /// problem it found in [`hush_prekey::UploadError::Rejected`]. Nothing was stored.
    #[error(transparent)]
    Upload(#[from] hush_prekey::UploadError),

    /// Server: `address` has not been registered with the server (no identity key, no
    /// registration id on record).
    #[error("{address} is not registered")]
    UnknownDevice {
        /// The device.
        address: Address,
    },

    /// Server: no account key is registered for the user.
    #[error("no account is registered for this user")]
    UnknownUser,

    /// Server: the user already has the most devices allowed.
    #[error("too many devices for one user (at most {max})")]
    TooManyDevices {
        /// The bound.
        max: usize,
    },

    /// Server: the most users (or mailbox devices) allowed are already stored.
    #[error("server full (at most {max})")]
    ServerFull {
        /// The bound.
        max: usize,
    },

    /// Server: `address`'s mailbox queue has no room (message count or total bytes) for
    /// what was delivered. Nothing was enqueued; retry once the device has fetched and
    /// acknowledged.
    #[error("the queue of {address} is full")]
    QueueFull {
        /// The device whose queue is full.
        address: Address,
    },

    /// Server: a fan-out to `user` did not address exactly the devices on the user's
    /// current list (`hush::server::DeviceLists::check_fan_out`). Nothing was
    /// delivered; the sender fetches the list again, accepts it and sends again.
    #[error(
        "the devices addressed for {user} do not match the current list (missing {missing:?}, not expected {extra:?})"
    )]
    MismatchedDevices {
        /// The recipient user.
        user: String,
        /// Device ids on the list that were not addressed.
        missing: Vec<u32>,
        /// Device ids addressed that are not on the list (or the sender itself), or
        /// that were addressed more than once.
        extra: Vec<u32>,
    },

    /// Server: a message body longer than the mailbox accepts.
    #[error("message body is {len} bytes, more than the limit of {max}")]
    BodyTooLarge {
        /// The body's length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;
