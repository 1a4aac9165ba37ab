//! Every numeric limit `hush-spqr` enforces, in one place.
//!
//! The chain defaults are libsignal's (`rust/protocol/src/consts.rs`, passed to SPQR as
//! its chain parameters); a state that keeps them accepts exactly the messages
//! libsignal's would. The rest bound our own formats so that no input makes hush
//! allocate or loop without limit.

/// Default largest forward jump within one chain epoch: a message whose key index is more
/// than this far past the last key derived on the receiving side is refused
/// ([`crate::Error::TooFarAhead`]) before any key is derived. libsignal's
/// `MAX_FORWARD_JUMPS`.
pub const DEFAULT_MAX_JUMP: u32 = 25_000;

/// Forward jump for a session with oneself (another device of the same account), where
/// libsignal allows any jump: `u32::MAX`. See [`crate::ChainParams::self_session`].
pub const SELF_SESSION_MAX_JUMP: u32 = u32::MAX;

/// Default number of keys kept for out-of-order messages per receiving chain epoch:
/// keys for indices more than this far behind the newest are discarded
/// ([`crate::Error::MessageKeyTrimmed`]). libsignal's `MAX_MESSAGE_KEYS`.
pub const DEFAULT_MAX_OOO_KEYS: u32 = 2_000;

/// The largest `max_ooo_keys` a [`crate::ChainParams`] may ask for. Stored keys cost 36
/// bytes each and up to three chain epochs keep them, so this caps a state at about
/// 3.5 MB of stored keys.
pub const MAX_OOO_KEYS_CEILING: u32 = 32_768;

/// Chain epochs a state keeps at once: the one before the sending epoch (late messages
/// of the previous epoch still decrypt), the sending epoch, and one epoch ahead of it
/// (the epoch a ciphertext side has just created). libsignal keeps the same window.
pub const MAX_CHAIN_EPOCHS: usize = 3;

/// Most chunks [`crate::erasure`] accepts per message (2 KiB). SPQR's largest message,
/// the encapsulation key, has 36.
pub const MAX_CODE_CHUNKS: usize = 64;

/// Longest LEB128 varint accepted in a payload: 10 bytes, enough for any `u64` (and
/// libsignal's decoder reads no further).
pub const MAX_VARINT_LEN: usize = 10;

/// Largest encoded [`crate::SpqrState`] accepted by [`crate::SpqrState::decode`]: three
/// chain epochs of [`MAX_OOO_KEYS_CEILING`] stored keys plus the braid's largest state,
/// with room to spare. Checked before parsing.
pub const MAX_STATE_LEN: usize = 4 * 1024 * 1024;
