//! # hush-spqr
//!
//! The Sparse Post-Quantum Ratchet (SPQR). Docs to follow.

#![forbid(unsafe_code)]

mod braid;
mod chain;
mod codec;
mod config;
pub mod erasure;
mod error;
mod kem;
mod keys;
pub mod limits;
mod payload;
mod state;

pub use braid::BraidState;
pub use codec::STATE_FORMAT_VERSION;
pub use config::{ChainParams, Direction, Version};
pub use error::{Error, Result};
pub use keys::MessageKey;
pub use payload::{EncodedPayload, MAX_PAYLOAD_LEN, PAYLOAD_VERSION, Payload, PayloadKind};
pub use state::{RecvPlan, SendPlan, Sent, SpqrState};
