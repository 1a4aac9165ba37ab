//! Every bound the facade enforces, in one place, each with the reason for its value.
//!
//! The server side ([`crate::server`]) reads its defaults from here; each bound can be
//! lowered (or raised) per instance through the server types' `Limits` structs.

// ---- server: prekey directory ----

/// Default most devices one user may register with a [`crate::server::PreKeyDirectory`]:
/// the primary plus [`hush_device::limits::MAX_COMPANIONS_PARSED`] companions, the most a
/// signed device list can name.
pub const DEFAULT_MAX_DEVICES_PER_USER: usize = hush_device::limits::MAX_DEVICES_PARSED;

/// Most one-time EC prekeys a [`crate::server::PreKeyDirectory`] stores for one device:
/// `hush-prekey`'s own cap on `DeviceKeys`, which also bounds a directory configured
/// higher. An upload that would push the stored count above it is refused whole.
pub const MAX_STORED_ONE_TIME_PREKEYS: usize = hush_prekey::limits::MAX_STORED_ONE_TIME_PREKEYS;

/// Most one-time KEM prekeys a [`crate::server::PreKeyDirectory`] stores for one device
/// (a Kyber1024 key is 1 569 bytes, so about 1.5 MiB per device at most); `hush-prekey`'s
/// own cap, as above.
pub const MAX_STORED_KEM_PREKEYS: usize = hush_prekey::limits::MAX_STORED_KEM_PREKEYS;

// ---- server: device lists ----

/// Default most users a [`crate::server::DeviceLists`] keeps: what one
/// [`hush_device::KnownDeviceLists`] can remember.
pub const DEFAULT_MAX_DEVICE_LIST_USERS: usize = hush_device::limits::MAX_KNOWN_ACCOUNTS;

// ---- server: mailbox ----

/// Default largest message body the [`crate::server::Mailbox`] accepts, in bytes
/// (256 KiB: a message body is a ciphertext of a text or of an attachment pointer;
/// attachments themselves do not travel through the mailbox).
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;

/// Default most messages waiting in one device's queue: a phone offline for a few
/// days in a few busy groups stays well under it.
pub const DEFAULT_MAX_QUEUE_MESSAGES: usize = 10_000;

/// Default most body bytes waiting in one device's queue (32 MiB).
pub const DEFAULT_MAX_QUEUE_BYTES: usize = 32 * 1024 * 1024;

/// Default most delivery receipts waiting for one sender device; past it the oldest
/// receipt is dropped (receipts are advisory).
pub const DEFAULT_MAX_PENDING_RECEIPTS: usize = 10_000;

/// Default most devices (queue owners, and receipt holders, counted apart) one
/// [`crate::server::Mailbox`] tracks at once. Empty queues do not count.
pub const DEFAULT_MAX_MAILBOX_DEVICES: usize = 1_000_000;

/// Most envelopes one [`crate::server::Mailbox::fetch`] returns, whatever the caller
/// asks for.
pub const MAX_FETCH: usize = 1_000;

/// Most recipients one [`crate::server::Mailbox::deliver_many`] accepts: a group of
/// `hush-group`'s [`hush_group::limits::MAX_TRACKED_DEVICES`] devices.
pub const MAX_FAN_OUT: usize = hush_group::limits::MAX_TRACKED_DEVICES;

// ---- client ----

/// The longest user id (address name) the client accepts, in bytes: what a contact's
/// [`hush_device::KnownDeviceLists`] accepts as an account address
/// ([`hush_device::limits::MAX_ACCOUNT_ADDRESS_LEN`]), so every account's device list
/// can be verified by its contacts.
pub const MAX_USER_LEN: usize = hush_device::limits::MAX_ACCOUNT_ADDRESS_LEN;

/// How long after the primary signed its device list it signs it again, unchanged, when
/// [`crate::Device::refresh_device_list`] (or [`crate::Device::prepare_send`]) runs: 1 day.
/// Contacts stop sending to an account's companions once its list is older than the
/// companion expiry (`hush_device::DeviceListPolicy::companion_expiry_ms`, 14 days: "the
/// primary has not been seen"); a primary in use refreshes it long before, so a lost
/// upload or a contact that fetches lists rarely still has 13 days to catch up.
pub const DEVICE_LIST_REFRESH_MS: u64 = 24 * 60 * 60 * 1000;

/// How many users' checked device lists a [`crate::Device`] keeps in memory (each the
/// stored bytes and the list they verified to, at most about 4 KiB): a send reads the
/// recipient's and this account's own stored list, and checking one again costs one XEdDSA
/// verification per device plus one; kept, a list is checked once while its bytes stay the
/// same. Past the bound the user with the first name in order makes room.
pub const MAX_CHECKED_LISTS: usize = 256;

/// The longest application plaintext one pairwise or group message carries (248 KiB):
/// with the content framing (`docs/wire/content.md`), the ratchet's padding and MAC and
/// a first message's PQXDH fields (under 2 KiB), every envelope stays under the
/// mailbox's [`DEFAULT_MAX_BODY_BYTES`].
pub const MAX_PLAINTEXT_LEN: usize = 248 * 1024;

/// The longest sender-key distribution message a content may carry. libsignal's is
/// about 100 bytes (version byte, distribution id, chain id, iteration, 32-byte chain
/// key, 33-byte signing key); the bound leaves room for protobuf field overhead.
pub const MAX_DISTRIBUTION_MESSAGE_LEN: usize = 512;

/// The longest content (`docs/wire/content.md`) the client parses: version, kind,
/// to-user length and a to-user of [`MAX_USER_LEN`], then [`MAX_PLAINTEXT_LEN`].
pub const MAX_CONTENT_LEN: usize = 3 + MAX_USER_LEN + MAX_PLAINTEXT_LEN;
