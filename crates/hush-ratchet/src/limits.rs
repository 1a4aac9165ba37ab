//! Every numeric limit `hush-ratchet` enforces, in one place. The values are libsignal's,
//! so that hush and libsignal peers agree on which messages are still decryptable.

use core::time::Duration;

/// Receiver chains kept per session; adding one more drops the oldest.
pub const MAX_RECEIVER_CHAINS: usize = 5;

/// Skipped message keys kept per receiver chain; storing one more drops the oldest.
pub const MAX_SKIPPED_MESSAGE_KEYS: usize = 2_000;

/// Largest forward jump in one chain: a message whose counter is more than this far
/// ahead of the chain is rejected without deriving anything.
pub const MAX_FORWARD_JUMP: u32 = 25_000;

/// Largest sum of forward jumps over all the sessions one decryption tries (hush's own
/// bound; issue 16, item 12). A record holds up to 41 sessions and a message with a
/// ratchet key none of them knows starts a new chain in each; without this bound a
/// forged 68-byte message with counter 25 000 made the receiver run 41 key agreements and
/// 41 x 25 001 chain steps before the last MAC check failed. With it, one decryption runs
/// at most `MAX_TOTAL_FORWARD_JUMP` + 41 chain steps (each session tried steps once to
/// reach its message key) and at most 41 key agreements (only sessions that do not know
/// the ratchet key run one), whatever the message says: the cost of the worst forged
/// message against a record with a single session, plus the key agreements.
///
/// Equal to [`MAX_FORWARD_JUMP`], so a genuine message up to that far ahead of the first
/// session tried still decrypts, as in libsignal. What hush refuses and libsignal does
/// not: a message whose own session needs more than the jumps of the sessions tried
/// before it left over (sessions that know the message's ratchet key are tried first, so
/// this takes a new chain whose first message to arrive is numbered in the thousands,
/// in an archived session).
pub const MAX_TOTAL_FORWARD_JUMP: u32 = MAX_FORWARD_JUMP;

/// Archived sessions kept in a record besides the current one.
pub const MAX_ARCHIVED_SESSIONS: usize = 40;

/// How long a session whose first message was never answered may still be used to
/// send. After that, encryption fails with [`crate::Error::SessionExpired`] and the app
/// fetches a fresh bundle.
pub const MAX_UNACKNOWLEDGED_SESSION_AGE: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// Largest serialised session record accepted by [`crate::SessionRecord::decode`]. A
/// record at every other limit (41 sessions, 5 chains, 2 000 skipped keys each) is
/// about 15 MB of Double Ratchet state, and each session's SPQR state with libsignal's
/// chain limits (2 000 stored keys in each of at most three chain epochs) adds up to
/// about 220 KB more: about 24 MB in all. Anything larger is not a record hush wrote.
pub const MAX_RECORD_SIZE: usize = 32 * 1024 * 1024;
