//! The one error type of `hush-group`.

use crate::distribution_id::DistributionId;
use crate::limits::MAX_FORWARD_JUMP;

/// Everything that can go wrong in `hush-group`.
///
/// Variants name what the caller can act on. None carries key material or plaintext. A
/// bad signature and a ciphertext that does not decrypt collapse into
/// [`Error::DecryptionFailed`], so a forger learns nothing from which check failed; the
/// signature is checked before the record is consulted about the iteration, so a forged
/// message cannot probe which iterations were already received either.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bytes that do not decode as the named structure: too short, bad protobuf, a
    /// missing or mis-sized field, a record that breaks its own invariants.
    #[error("malformed {0}")]
    Malformed(&'static str),

    /// A message or record with a version this implementation does not speak. For a
    /// message it is the high nibble of the version byte (libsignal's message version,
    /// 3 today); for a record or tracker, the leading format byte.
    #[error("unknown version {0}")]
    UnknownVersion(u8),

    /// The record holds no chain `chain_id` of this sender for `distribution_id`: the
    /// sender's distribution message never arrived, was for another chain (the sender
    /// rotated), or the chain was evicted.
    ///
    /// The app knows the sender's address (it picked the record by it). To recover it
    /// asks that sender device to resend its distribution message: in Signal this is a
    /// `DecryptionErrorMessage` naming the sender, the message's timestamp and this
    /// `distribution_id`; the sender then marks the device in its
    /// [`crate::SenderKeyTracker`] with
    /// [`resend_requested`](crate::SenderKeyTracker::resend_requested), so its next send
    /// includes a fresh distribution message. Keep the undecryptable message if it should
    /// be retried once the distribution message has been processed.
    #[error("no sender key state for distribution {distribution_id}, chain {chain_id}")]
    NoSenderKeyState {
        /// The message's distribution id.
        distribution_id: DistributionId,
        /// The message's chain id, to tell whether a later distribution message fits.
        chain_id: u32,
    },

    /// The message's chain was distributed by another identity key than the one its
    /// sender presents now ([`crate::SenderKeyRecord::decrypt_from`]): the device at the
    /// sender's address was replaced, or the account restored under a new key, and the
    /// message was made with the old device's chain. Refuse it; a genuine new device
    /// sends its own distribution message.
    #[error("sender key chain {chain_id} of {distribution_id} was distributed by another identity")]
    DistributorMismatch {
        /// The message's distribution id.
        distribution_id: DistributionId,
        /// The message's chain id.
        chain_id: u32,
    },

    /// Encryption was asked of a record that holds no chain of our own (no
    /// [`crate::SenderKeyRecord::create_distribution`] yet, or a
    /// [`crate::SenderKeyRecord::rotate`] since).
    #[error("no sending chain for distribution {distribution_id}")]
    NoSendingChain {
        /// The record's distribution id.
        distribution_id: DistributionId,
    },

    /// The message was already decrypted, or its key was discarded because more than
    /// [`crate::limits::MAX_SKIPPED_MESSAGE_KEYS`] later iterations had been skipped
    /// (libsignal reports both the same way).
    #[error("duplicate message: chain {chain_id}, iteration {iteration}")]
    DuplicateMessage {
        /// The chain.
        chain_id: u32,
        /// The message's iteration.
        iteration: u32,
    },

    /// The message is more than [`MAX_FORWARD_JUMP`] iterations ahead of the chain.
    #[error(
        "message iteration {iteration} is more than {} ahead of {next_expected}",
        MAX_FORWARD_JUMP
    )]
    TooFarInFuture {
        /// The chain.
        chain_id: u32,
        /// The message's iteration.
        iteration: u32,
        /// The next iteration the chain expected.
        next_expected: u32,
    },

    /// The signature did not verify or the ciphertext did not decrypt. Deliberately says
    /// no more.
    #[error("decryption failed")]
    DecryptionFailed,

    /// A message or distribution message for one distribution id was given to the record
    /// of another. The app looks up records by the message's
    /// [`distribution_id`](crate::SenderKeyMessage::distribution_id).
    #[error("distribution id {actual} given to the record of {expected}")]
    WrongDistribution {
        /// The record's distribution id.
        expected: DistributionId,
        /// The message's.
        actual: DistributionId,
    },

    /// The chain reached iteration 2^32 - 1 and cannot step further. A sender rotates
    /// ([`crate::SenderKeyRecord::rotate`]); a receiver needs the sender's new chain.
    #[error("sender key chain exhausted")]
    ChainExhausted,

    /// A [`crate::SenderKeyTracker`] already follows
    /// [`crate::limits::MAX_TRACKED_DEVICES`] devices.
    #[error("too many devices")]
    TooManyDevices,
}

/// Result with [`Error`].
pub type Result<T> = core::result::Result<T, Error>;
