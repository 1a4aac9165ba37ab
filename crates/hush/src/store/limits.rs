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
