//! The one error type of `hush-spqr`.

/// Everything that can go wrong in `hush-spqr`.
///
/// Variants name what the caller can act on; none carries key material. A header or
/// ciphertext MAC that does not verify is [`Error::AuthenticationFailed`] without saying
/// which. Every error from [`crate::SpqrState::plan_recv`] means the message is refused
/// and the state is unchanged (nothing is changed before
/// [`crate::SpqrState::apply_recv`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A `pq_ratchet` payload that does not parse: too short, an epoch of 0, an index
    /// beyond `u32`, an unknown message type, a chunk index beyond 65 535, an over-long
    /// varint. The reason is a short static text.
    #[error("malformed SPQR payload: {0}")]
    MalformedPayload(&'static str),

    /// A stored state that does not decode or breaks one of its invariants.
    #[error("invalid SPQR state: {0}")]
    InvalidState(&'static str),

    /// A stored state whose leading format byte this version does not know.
    #[error("unknown SPQR state format {0}")]
    UnknownStateFormat(u8),

    /// [`crate::erasure`] was asked to code a message whose length is not a positive
    /// multiple of 32 bytes of at most [`crate::limits::MAX_CODE_CHUNKS`] chunks.
    #[error("erasure code cannot take a message of {0} bytes")]
    InvalidCodeLength(usize),

    /// [`crate::ChainParams`] outside what the chain supports (a zero, or
    /// `max_ooo_keys` above [`crate::limits::MAX_OOO_KEYS_CEILING`]).
    #[error("invalid chain parameters: {0}")]
    InvalidParams(&'static str),

    /// The message belongs to an SPQR epoch this state cannot process: one ahead of what
    /// the peer could have reached, or a chain epoch no longer kept.
    #[error("SPQR epoch {epoch} out of range")]
    EpochOutOfRange {
        /// The epoch the message named.
        epoch: u64,
    },

    /// The peer's ML-KEM header or ciphertext did not authenticate. Deliberately says
    /// no more.
    #[error("SPQR authentication failed")]
    AuthenticationFailed,

    /// The peer's encapsulation key does not match the header it authenticated earlier:
    /// the peer sent inconsistent data.
    #[error("SPQR encapsulation key does not match its header")]
    ErroneousData,

    /// The peer sent no SPQR payload (version 0) while this state requires SPQR
    /// (minimum version 1) and was still negotiating. libsignal v0.101 refuses such peers
    /// the same way.
    #[error("peer does not meet the minimum SPQR version")]
    MinimumVersion,

    /// The peer sent no SPQR payload after both sides had settled on SPQR.
    #[error("SPQR version changed after negotiation")]
    VersionMismatch,

    /// The key of this (epoch, index) was already handed out: a replayed message.
    #[error("SPQR key {index} of epoch {epoch} already used")]
    DuplicateMessage {
        /// The chain epoch.
        epoch: u64,
        /// The key index.
        index: u32,
    },

    /// The key of this (epoch, index) was discarded: more than `max_ooo_keys` later keys
    /// had been derived.
    #[error("SPQR key {index} of epoch {epoch} no longer kept")]
    MessageKeyTrimmed {
        /// The chain epoch.
        epoch: u64,
        /// The key index.
        index: u32,
    },

    /// The key index is more than `max_jump` ahead of the receiving chain.
    #[error("SPQR key index {index} is {jump} ahead of the receiving chain")]
    TooFarAhead {
        /// The key index the message named.
        index: u32,
        /// How far ahead of the last derived key it is.
        jump: u32,
    },

    /// A sending chain reached index 2^32 - 1 within one epoch and cannot step further.
    #[error("SPQR sending chain exhausted")]
    ChainExhausted,

    /// A plan was applied to a state other than the one that made it, or after another
    /// plan was applied to that state. A caller bug; the state is unchanged.
    #[error("SPQR plan does not belong to this state")]
    StalePlan,

    /// An error from the primitives (never expected: every KDF output here has a fixed,
    /// valid length).
    #[error(transparent)]
    Core(#[from] hush_core::Error),
}

/// Result with [`Error`].
pub type Result<T> = core::result::Result<T, Error>;
