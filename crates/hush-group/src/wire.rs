//! Private protobuf structures. Callers never see these: every public type is built from
//! them by a conversion that checks every field.
//!
//! The two messages follow libsignal's `wire.proto` (proto2, every field `optional`, so a
//! zero iteration is still written). The record and tracker structures are hush's own;
//! `docs/wire/sender-key-record.md` describes them.

use core::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// libsignal's `SenderKeyMessage` (`wire.proto`).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SenderKeyMessage {
    /// The 16-byte distribution id.
    #[prost(bytes = "vec", optional, tag = "1")]
    pub(crate) distribution_uuid: Option<Vec<u8>>,
    /// The chain id.
    #[prost(uint32, optional, tag = "2")]
    pub(crate) chain_id: Option<u32>,
    /// The chain iteration that produced the message key.
    #[prost(uint32, optional, tag = "3")]
    pub(crate) iteration: Option<u32>,
    /// The AES-256-CBC ciphertext.
    #[prost(bytes = "vec", optional, tag = "4")]
    pub(crate) ciphertext: Option<Vec<u8>>,
}

/// libsignal's `SenderKeyDistributionMessage` (`wire.proto`). Holds a chain key: wiped
/// on drop, never printed.
#[derive(Clone, PartialEq, prost::Message, Zeroize, ZeroizeOnDrop)]
#[prost(skip_debug)]
pub(crate) struct SenderKeyDistributionMessage {
    /// The 16-byte distribution id.
    #[prost(bytes = "vec", optional, tag = "1")]
    pub(crate) distribution_uuid: Option<Vec<u8>>,
    /// The chain id.
    #[prost(uint32, optional, tag = "2")]
    pub(crate) chain_id: Option<u32>,
    /// The iteration of `chain_key`.
    #[prost(uint32, optional, tag = "3")]
    pub(crate) iteration: Option<u32>,
    /// The 32-byte chain key.
    #[prost(bytes = "vec", optional, tag = "4")]
    pub(crate) chain_key: Option<Vec<u8>>,
    /// The 33-byte signing public key.
    #[prost(bytes = "vec", optional, tag = "5")]
    pub(crate) signing_key: Option<Vec<u8>>,
}

/// hush's sender-key record, format version 1 (after the format byte).
#[derive(Clone, PartialEq, prost::Message, Zeroize, ZeroizeOnDrop)]
#[prost(skip_debug)]
pub(crate) struct RecordV1 {
    /// The 16-byte distribution id.
    #[prost(bytes = "vec", tag = "1")]
    pub(crate) distribution_id: Vec<u8>,
    /// States, newest first.
    #[prost(message, repeated, tag = "2")]
    pub(crate) states: Vec<StateV1>,
}

/// One chain in a [`RecordV1`].
#[derive(Clone, PartialEq, prost::Message, Zeroize, ZeroizeOnDrop)]
#[prost(skip_debug)]
pub(crate) struct StateV1 {
    /// The message version the chain speaks (3).
    #[prost(uint32, tag = "1")]
    pub(crate) message_version: u32,
    /// The chain id.
    #[prost(uint32, tag = "2")]
    pub(crate) chain_id: u32,
    /// The iteration of `chain_key`: the next message's.
    #[prost(uint32, tag = "3")]
    pub(crate) iteration: u32,
    /// The 32-byte chain key.
    #[prost(bytes = "vec", tag = "4")]
    pub(crate) chain_key: Vec<u8>,
    /// The 33-byte signing public key.
    #[prost(bytes = "vec", tag = "5")]
    pub(crate) signing_public: Vec<u8>,
    /// The 32-byte signing private key of our own chains; empty otherwise.
    #[prost(bytes = "vec", tag = "6")]
    pub(crate) signing_private: Vec<u8>,
    /// Stored keys of skipped iterations, ascending.
    #[prost(message, repeated, tag = "7")]
    pub(crate) skipped_keys: Vec<SkippedKeyV1>,
    /// Format 2, received chains: the 33-byte identity key of the device that
    /// distributed the chain; empty when unknown.
    #[prost(bytes = "vec", tag = "8")]
    pub(crate) distributor: Vec<u8>,
}

/// One stored message-key seed in a [`StateV1`].
#[derive(Clone, PartialEq, prost::Message, Zeroize, ZeroizeOnDrop)]
#[prost(skip_debug)]
pub(crate) struct SkippedKeyV1 {
    /// The iteration.
    #[prost(uint32, tag = "1")]
    pub(crate) iteration: u32,
    /// The 32-byte message-key seed.
    #[prost(bytes = "vec", tag = "2")]
    pub(crate) seed: Vec<u8>,
}

/// hush's sender-key tracker, format version 1 (after the format byte).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TrackerV1 {
    /// The 16-byte distribution id.
    #[prost(bytes = "vec", tag = "1")]
    pub(crate) distribution_id: Vec<u8>,
    /// The member devices, ascending.
    #[prost(message, repeated, tag = "2")]
    pub(crate) members: Vec<DeviceV1>,
    /// The chain `holders` refers to; absent before the first distribution message.
    #[prost(uint32, optional, tag = "3")]
    pub(crate) chain_id: Option<u32>,
    /// The member devices that hold chain `chain_id`, ascending.
    #[prost(message, repeated, tag = "4")]
    pub(crate) holders: Vec<DeviceV1>,
    /// Whether the next send must start a new chain.
    #[prost(bool, tag = "5")]
    pub(crate) rotation_pending: bool,
}

/// hush's sender-key tracker, format version 2 (after the format byte).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TrackerV2 {
    /// The 16-byte distribution id.
    #[prost(bytes = "vec", tag = "1")]
    pub(crate) distribution_id: Vec<u8>,
    /// The member devices with their identity keys, ascending.
    #[prost(message, repeated, tag = "2")]
    pub(crate) members: Vec<MemberV2>,
    /// The chain the device lists refer to; absent before the first distribution message.
    #[prost(uint32, optional, tag = "3")]
    pub(crate) chain_id: Option<u32>,
    /// Members handed chain `chain_id` that did not ask for it again, ascending.
    #[prost(message, repeated, tag = "4")]
    pub(crate) delivered: Vec<DeviceV1>,
    /// Whether the next send must start a new chain.
    #[prost(bool, tag = "5")]
    pub(crate) rotation_pending: bool,
    /// Members that may know chain `chain_id` and are not in `delivered`, ascending.
    #[prost(message, repeated, tag = "6")]
    pub(crate) undelivered_exposed: Vec<DeviceV1>,
}

/// A member of a [`TrackerV2`]: its address and identity key.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub(crate) struct MemberV2 {
    /// The address name (UTF-8).
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    /// The device id.
    #[prost(uint32, tag = "2")]
    pub(crate) device_id: u32,
    /// The 33-byte identity key.
    #[prost(bytes = "vec", tag = "3")]
    pub(crate) identity_key: Vec<u8>,
}

/// A device address in a [`TrackerV1`] or [`TrackerV2`].
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub(crate) struct DeviceV1 {
    /// The address name (UTF-8).
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    /// The device id.
    #[prost(uint32, tag = "2")]
    pub(crate) device_id: u32,
}

macro_rules! redacted_debug {
    ($($name:ident),*) => {$(
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name)).finish_non_exhaustive()
            }
        }
    )*};
}

redacted_debug!(
    SenderKeyDistributionMessage,
    RecordV1,
    StateV1,
    SkippedKeyV1
);
