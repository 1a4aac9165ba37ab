//! The choices a session makes when it starts SPQR.

use crate::error::{Error, Result};
use crate::limits::{
    DEFAULT_MAX_JUMP, DEFAULT_MAX_OOO_KEYS, MAX_OOO_KEYS_CEILING, SELF_SESSION_MAX_JUMP,
};

/// Which side of the session a state belongs to. It decides which of the two chain seeds
/// is the sending one and who starts the first ML-KEM exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The session's initiator (Alice, who processed the prekey bundle). Starts as the
    /// encapsulation-key side.
    A2B,
    /// The responder (Bob). Starts as the ciphertext side.
    B2A,
}

impl Direction {
    /// The other side.
    #[must_use]
    pub const fn other(self) -> Self {
        match self {
            Self::A2B => Self::B2A,
            Self::B2A => Self::A2B,
        }
    }
}

/// An SPQR protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// No SPQR: empty payloads, no keys (a Double Ratchet without the post-quantum part).
    V0,
    /// SPQR version 1: the ML-KEM-768 braid and its chain.
    V1,
}

/// Limits of the receiving chains: how far a message may jump ahead, and how many keys
/// of skipped messages are kept.
///
/// The defaults are libsignal's. [`ChainParams::self_session`] is what libsignal uses for
/// a session with another device of the same account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainParams {
    max_jump: u32,
    max_ooo_keys: u32,
}

impl ChainParams {
    /// Limits of `max_jump` (at least 1) and `max_ooo_keys` (1 to
    /// [`MAX_OOO_KEYS_CEILING`]).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParams`] outside those ranges.
    pub const fn new(max_jump: u32, max_ooo_keys: u32) -> Result<Self> {
        if max_jump == 0 {
            return Err(Error::InvalidParams("max_jump must be at least 1"));
        }
        if max_ooo_keys == 0 || max_ooo_keys > MAX_OOO_KEYS_CEILING {
            return Err(Error::InvalidParams("max_ooo_keys out of range"));
        }
        Ok(Self {
            max_jump,
            max_ooo_keys,
        })
    }

    /// libsignal's parameters for a session with oneself: any forward jump.
    #[must_use]
    pub const fn self_session() -> Self {
        Self {
            max_jump: SELF_SESSION_MAX_JUMP,
            max_ooo_keys: DEFAULT_MAX_OOO_KEYS,
        }
    }

    /// Largest accepted distance between the last derived key and a message's key index.
    #[must_use]
    pub const fn max_jump(&self) -> u32 {
        self.max_jump
    }

    /// How many keys behind the newest are kept for late messages.
    #[must_use]
    pub const fn max_ooo_keys(&self) -> u32 {
        self.max_ooo_keys
    }
}

impl Default for ChainParams {
    /// libsignal's: a jump of at most [`DEFAULT_MAX_JUMP`], [`DEFAULT_MAX_OOO_KEYS`] kept.
    fn default() -> Self {
        Self {
            max_jump: DEFAULT_MAX_JUMP,
            max_ooo_keys: DEFAULT_MAX_OOO_KEYS,
        }
    }
}
