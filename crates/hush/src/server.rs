//! The server side of hush: what a server keeps for its users, in process, as a model a
//! server team copies (and a test double for clients).
//!
//! The server is not trusted with anything secret, nor for the authenticity of what it
//! relays: clients verify prekey bundles and device lists themselves. What the server
//! owes them is hygiene (store only well-formed, correctly signed, non-rolled-back data,
//! so a bug or a stale replica cannot serve garbage) and reliable store-and-forward.
//!
//! - [`PreKeyDirectory`]: per device, the identity key and registration id it
//!   registered with and its public prekeys. Uploads are validated with
//!   `hush_prekey::validate_upload` (batch signature verification; a rejected upload
//!   comes back as [`Error::Upload`] listing every problem); bundles are handed out one
//!   at a time, consuming one one-time EC and one one-time KEM prekey each and falling
//!   back to the last-resort KEM prekey; [`PreKeyCounts`] tell a client when to top up.
//! - [`DeviceLists`]: each user's latest signed device list, accepted only if signed by
//!   the account key registered for the user and not a rollback or an equivocation
//!   (`hush_device::KnownDeviceLists`); clients fetch lists from here, and
//!   [`DeviceLists::check_fan_out`] tells a sender with a stale list which devices its
//!   send missed or should not have addressed.
//! - [`Mailbox`]: per-device FIFO queues; messages stay until the device acknowledges
//!   them, then are deleted and a [`Receipt`] goes to the sender; fan-out to several
//!   devices is all or nothing; queues are bounded ([`Error::QueueFull`]). Correct under
//!   concurrent senders and consumers.
//!
//! The three are independent; a server wires them. When [`DeviceLists::upload`] accepts
//! a list that no longer names a device, [`PreKeyDirectory::retain_devices`] forgets its
//! registration and prekeys and [`Mailbox::remove_device`] its queue.
//!
//! Every type here is `Send + Sync` with `&self` methods, holds everything in memory,
//! does no I/O and reads no clock (`now_ms` comes in) — a real server puts the same
//! rules in front of its database. Who a request comes from (the `sender` of a message,
//! the device an upload is for) is the server's authentication layer's business; these
//! types take it as given. Bounds are in [`crate::limits`] and each type's `Limits`.
//!
//! No wire format is defined here: envelopes, receipts and acknowledgements travel in
//! whatever transport the server uses. Prekey bundles and uploads use
//! `docs/wire/prekeys.md`, device lists `docs/wire/device-list.md`.
//!
//! ```
//! use hush::Address;
//! use hush::server::{DeviceLists, Mailbox, PreKeyDirectory};
//!
//! // One of each, shared by every request handler (e.g. in an `Arc`).
//! let directory = PreKeyDirectory::new();
//! let device_lists = DeviceLists::new();
//! let mailbox = Mailbox::new();
//!
//! let alice = Address::new("alice", 1)?;
//! let bob = Address::new("bob", 1)?;
//! let id = mailbox.deliver(&bob, &alice, 2, b"ciphertext".to_vec(), 1_700_000_000_000)?;
//! assert_eq!(mailbox.fetch(&bob, 10)[0].id, id);
//! # let _ = (directory, device_lists);
//! # Ok::<(), hush::Error>(())
//! ```

use std::sync::{Mutex, MutexGuard, PoisonError};

mod device_lists;
mod directory;
mod mailbox;

pub use device_lists::DeviceLists;
pub use directory::{BundleHandout, DirectoryLimits, PreKeyCounts, PreKeyDirectory, UploadSummary};
pub use mailbox::{Envelope, Mailbox, MailboxLimits, MessageId, QueueStats, Receipt};

#[cfg(doc)]
use crate::Error;

/// What registering a device or an account did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Registration {
    /// Nothing was registered under this name before.
    New,
    /// The same keys were registered already; nothing changed.
    Unchanged,
    /// Different keys were registered before (a reinstall, a re-created account); they
    /// were replaced, and everything stored under them was dropped.
    Replaced,
}

/// Locks `mutex`, recovering from poisoning: no code of this module panics while
/// holding a lock (nothing in the critical sections can), so a poisoned lock still
/// guards consistent data.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_types_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<PreKeyDirectory>();
        check::<DeviceLists>();
        check::<Mailbox>();
    }
}
