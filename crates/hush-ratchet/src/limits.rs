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

/// Archived sessions kept in a record besides the current one.
pub const MAX_ARCHIVED_SESSIONS: usize = 40;

/// How long a session whose first message was never answered may still be used to
/// send. After that, encryption fails with [`crate::Error::SessionExpired`] and the app
/// fetches a fresh bundle.
pub const MAX_UNACKNOWLEDGED_SESSION_AGE: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// Largest serialised session record accepted by [`crate::SessionRecord::decode`]. A
/// record at every other limit (41 sessions, 5 chains, 2 000 skipped keys each) is
/// about 15 MB; anything larger is not a record hush wrote.
pub const MAX_RECORD_SIZE: usize = 16 * 1024 * 1024;
