//! `hush::Error`: every failure of the facade, with each protocol crate's error kept
//! whole inside it.

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

    /// The store holds no account: create or restore one first.
    #[error("no account on this device")]
    NoAccount,

    /// `address` presented an identity key other than the one recorded for it. Nothing
    /// was sent to or accepted from it; show the person the new safety number, and call
    /// `Device::accept_identity` if they accept it.
    #[error("the identity of {address} changed")]
    IdentityChanged {
        /// The device whose identity changed.
        address: Address,
    },

    /// A message came from, or would go to, a device that is not on its user's verified
    /// device list.
    #[error("{address} is not on its user's verified device list")]
    UntrustedDevice {
        /// The device.
        address: Address,
    },

    /// Sending needs a session with `address`, and no prekey bundle for it was given:
    /// fetch one from the server and send again.
    #[error("no session with {address} and no prekey bundle for it")]
    MissingBundle {
        /// The device that needs a bundle.
        address: Address,
    },

    /// There is no verified device list for the user: fetch it from the server first.
    #[error("no verified device list for this user")]
    NoDeviceList,

    /// An argument the app passed is out of range (a name too long, a count too big).
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;
