//! # hush
//!
//! (Crate documentation to be written: the facade — stores, the client API, the server
//! API.)

#![forbid(unsafe_code)]

mod client;
pub mod error;
pub mod limits;
pub mod server;
pub mod store;

pub use client::{
    Content, Device, DeviceEntry, DistributionId, Envelope, GenerateRequest, GroupReceived,
    GroupSend, PreKeyCounts, Received, ReceivedKind, RotationPolicy, SendPlan, content,
};
pub use error::{Error, Result};

/// A device of a user: the user's address name and a device id (libsignal's
/// `ProtocolAddress`). The same type `hush-group` uses.
pub use hush_group::DeviceAddress as Address;
