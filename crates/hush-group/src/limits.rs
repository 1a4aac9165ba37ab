//! Every numeric limit `hush-group` enforces, in one place.
//!
//! The first three are libsignal's (`rust/protocol/src/consts.rs`); a record that keeps
//! them behaves like libsignal's towards every sender. The rest bound our own formats and
//! the membership tracker, so that no input can make hush allocate or loop without limit.

/// Most sender-key states (chains) kept per sender and distribution id, newest first.
/// Processing a distribution message when the record is full evicts the oldest chain.
pub const MAX_SENDER_KEY_STATES: usize = 5;

/// Most skipped message keys stored per state. Once a forward jump or a run of lost
/// messages exceeds it, the keys of the oldest skipped iterations are discarded: those
/// messages then fail as [`crate::Error::DuplicateMessage`], as in libsignal.
pub const MAX_SKIPPED_MESSAGE_KEYS: usize = 2_000;

/// Largest accepted distance between the next expected iteration of a chain and the
/// iteration of an incoming message. A message further ahead is refused with
/// [`crate::Error::TooFarInFuture`] before any key is derived.
pub const MAX_FORWARD_JUMP: u32 = 25_000;

/// Largest encoded [`crate::SenderKeyRecord`] accepted by
/// [`crate::SenderKeyRecord::decode`]. A full record (5 states of 2 000 skipped keys of
/// about 40 bytes) is about 400 KB; the bound leaves room and is checked before parsing.
pub const MAX_RECORD_LEN: usize = 512 * 1024;

/// Most member devices one [`crate::SenderKeyTracker`] follows (Signal groups hold at
/// most 1 000 members, each with a handful of devices).
pub const MAX_TRACKED_DEVICES: usize = 10_000;

/// Longest device name (the service id or other address string) a
/// [`crate::DeviceAddress`] may carry, in bytes.
pub const MAX_DEVICE_NAME_LEN: usize = 256;

/// Largest encoded [`crate::SenderKeyTracker`] accepted by
/// [`crate::SenderKeyTracker::decode`]: enough for [`MAX_TRACKED_DEVICES`] members with
/// names of [`MAX_DEVICE_NAME_LEN`] bytes and their 33-byte identity keys (at most 302
/// bytes each), each also listed once as delivered or exposed (at most 268 bytes).
pub const MAX_TRACKER_LEN: usize = MAX_TRACKED_DEVICES * (2 * MAX_DEVICE_NAME_LEN + 80) + 64;
