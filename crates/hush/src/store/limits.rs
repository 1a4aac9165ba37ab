//! Bounds on what the stores read back, checked before anything is allocated.
//!
//! The protocol crates bound their own records (`SessionRecord::decode`,
//! `SenderKeyRecord::decode`, ...); these are the bounds of the stores' own encodings.
//! See `docs/wire/store.md`.

/// The longest account user id, in bytes: the same bound as an address name
/// (`hush_group`'s `MAX_DEVICE_NAME_LEN`).
pub const MAX_ACCOUNT_USER_LEN: usize = 256;

/// The longest identity key pair encoding a local account may hold, in bytes (libsignal's
/// protobuf form of a 33-byte public and a 32-byte private key is 69 bytes).
pub const MAX_IDENTITY_KEY_PAIR_LEN: usize = 128;

/// The longest local account encoding: version, user id, ids, key pair and account key.
pub const MAX_LOCAL_ACCOUNT_LEN: usize =
    1 + 2 + MAX_ACCOUNT_USER_LEN + 4 + 4 + 2 + MAX_IDENTITY_KEY_PAIR_LEN + 33;

/// The longest stored session record (sealed, when the store is encrypted) that
/// `SqliteStore` keeps in its user's `user_sessions` row rather than in a row of its own,
/// in bytes. A session record is a few hundred bytes once its first message is answered;
/// while it still carries that pending message (about 1.9 KB with PQXDH), or once it has
/// grown (skipped message keys, archived sessions), it gets a row of its own, so that
/// writing one of a user's sessions never rewrites another's long record.
pub const MAX_INLINE_SESSION_LEN: usize = 1024;

/// The most session records of one user that `SqliteStore` keeps in the user's
/// `user_sessions` row; records of further devices get rows of their own.
pub const MAX_INLINE_SESSIONS: usize = 16;

/// The longest `user_sessions` row value, in bytes. A record that would take the row
/// past it gets a row of its own instead: with the user's name (at most 256 bytes) the
/// row then fits in one 4 KiB SQLite page, so writing it never rewrites overflow pages.
pub const MAX_USER_SESSIONS_LEN: usize = 3584;
