//! # hush
//!
//! End-to-end encrypted messaging for apps and servers: the one crate a client or a
//! server embeds. It puts the protocol crates under one API — prekeys (`hush-prekey`),
//! PQXDH session setup (`hush-x3dh`), the Double Ratchet (`hush-ratchet`), sender-key
//! groups (`hush-group`), linked devices and signed device lists (`hush-device`),
//! backups (`hush-backup`) — and adds what they leave to the caller: where state is
//! kept, whom a message goes to, and what a server must check.
//!
//! Three parts:
//!
//! - **Stores** ([`store`]): where a device keeps its state, behind the [`store::Store`]
//!   trait. Every state change (one message sent or received, one prekey batch, one
//!   device list) is one transaction: a failed decrypt or a crash leaves nothing half
//!   written. Two implementations: [`store::MemoryStore`], and `store::SqliteStore`
//!   (feature `sqlite`, WAL, schema migrations, optional encryption at rest). The
//!   traits are synchronous; an async app calls them from a blocking thread (see the
//!   `store` module docs and `examples/async_tokio.rs`).
//! - **Client** ([`Device`]): one device of an account. Create or restore an account,
//!   generate and rotate prekeys, accept verified device lists, encrypt to every device
//!   of a user and to this account's own other devices, decrypt from any of them, send
//!   and receive group messages, link companions ([`CompanionLink`]), back up history
//!   ([`backup`]). Errors a person should see are typed: [`Error::IdentityChanged`],
//!   [`Error::UntrustedDevice`], [`Error::NoDeviceList`], [`Error::MissingBundle`].
//! - **Server** ([`server`]): what a server keeps, as an in-process model to copy —
//!   prekey upload validation and bundle hand-out ([`server::PreKeyDirectory`]), signed
//!   device lists with rollback refused ([`server::DeviceLists`]), and a bounded
//!   store-and-forward mailbox with delivery receipts ([`server::Mailbox`]).
//!
//! Randomness (`&mut impl CryptoRng`) and the time (milliseconds since the Unix epoch)
//! are always passed in; [`hush_core::rng::os_rng`] is the usual source.
//!
//! # Example
//!
//! Alice sends Bob one message through the reference server.
//!
//! ```
//! use hush::server::{Mailbox, PreKeyDirectory};
//! use hush::store::MemoryStore;
//! use hush::{Device, GenerateRequest, ReceivedKind};
//!
//! let mut rng = hush_core::rng::os_rng();
//! let now = 1_700_000_000_000; // ms since the Unix epoch
//! let (directory, mailbox) = (PreKeyDirectory::new(), Mailbox::new());
//!
//! let alice = Device::create_account(MemoryStore::new(), "alice", now, &mut rng)?;
//! let bob = Device::create_account(MemoryStore::new(), "bob", now, &mut rng)?;
//!
//! // Bob registers and publishes prekeys.
//! directory.register_device(bob.address(), bob.registration_id(), bob.identity_key())?;
//! let mut request = GenerateRequest::default();
//! request.one_time_prekeys = 10;
//! request.kem_prekeys = 10;
//! let upload = bob.generate_prekeys(&request, now, &mut rng)?;
//! directory.upload(bob.address(), &bob.identity_key(), &upload, now, &mut rng)?;
//!
//! // Each side verifies the other's signed device list (fetched from the server in a
//! // real app): it says which devices a user has, and their identity keys.
//! alice.accept_device_list("bob", &bob.own_device_list()?, now)?;
//! bob.accept_device_list("alice", &alice.own_device_list()?, now)?;
//!
//! // Alice needs a bundle for each of Bob's devices she has no session with.
//! let plan = alice.prepare_send("bob", now, &mut rng)?;
//! let mut bundles = Vec::new();
//! for address in &plan.need_bundles {
//!     bundles.push((address.clone(), directory.bundle(address)?));
//! }
//! let bundles: Vec<_> = bundles.iter().map(|(a, b)| (a.clone(), b.as_slice())).collect();
//! let envelopes = alice.encrypt("bob", b"Hello, Bob!", &bundles, now, &mut rng)?;
//! for envelope in envelopes {
//!     mailbox.deliver(&envelope.to, alice.address(), envelope.message_type, envelope.body, now)?;
//! }
//!
//! // Bob fetches, decrypts, then acknowledges (which deletes the message).
//! for message in mailbox.fetch(bob.address(), 100) {
//!     let received = bob.decrypt(&message.sender, message.message_type, &message.body, now, &mut rng)?;
//!     mailbox.acknowledge(bob.address(), &[message.id]);
//!     let ReceivedKind::Direct { plaintext } = received.kind else { unreachable!() };
//!     assert_eq!(plaintext.as_slice(), b"Hello, Bob!");
//! }
//! assert_eq!(mailbox.take_receipts(alice.address(), 10).len(), 1);
//! # Ok::<(), hush::Error>(())
//! ```
//!
//! # Further reading
//!
//! - `docs/GUIDE.md`: a walk through the whole API, in the order an app uses it.
//! - `crates/hush/examples/`: runnable programs (`cargo run -p hush --example NAME`):
//!   `two_party_chat`, `server_uploads`, `group_chat`, `backup_restore`, `linking`,
//!   `async_tokio`.
//! - `docs/wire/content.md`: the plaintext framing inside every pairwise message;
//!   `docs/wire/store.md`: what the SQLite store keeps; the other `docs/wire/` files
//!   cover the protocol crates' formats.
//! - `docs/ARCHITECTURE.md`: why the stores are synchronous, and the layering.
//!
//! # Features
//!
//! - `sqlite` (default): `store::SqliteStore`, over rusqlite with a bundled SQLite.
//!   Without it the crate has no C dependency and only [`store::MemoryStore`].

#![forbid(unsafe_code)]

mod client;
pub mod error;
pub mod limits;
pub mod server;
pub mod store;

pub use client::{
    CompanionLink, CompanionLinked, Content, Device, DeviceEntry, DistributionId, Envelope,
    GenerateRequest, GroupReceived, GroupSend, LinkHistory, LinkedDevice, PendingCompanion,
    PreKeyCounts, Received, ReceivedKind, RotationPolicy, SAFETY_NUMBER_ITERATIONS,
    SAFETY_NUMBER_VERSION, SafetyNumber, SendPlan, backup, content, group_distribution_id,
};
pub use error::{Error, Result};
/// Randomness: the operating system's generator, and the trait every call that draws
/// takes (`&mut impl CryptoRng`).
pub use hush_core::rng::{CryptoRng, os_rng};
/// Keys an app handles: a device's identity key pair and the public keys it shows.
pub use hush_core::{IdentityKey, IdentityKeyPair};

/// The protocol crates' error types, as [`Error`] wraps them (`Error::Session`,
/// `Error::Group`, ...): match on their variants to tell causes apart without adding the
/// crates to an app's dependencies.
pub mod errors {
    pub use hush_backup::Error as BackupError;
    pub use hush_core::Error as CoreError;
    pub use hush_device::Error as DeviceError;
    pub use hush_group::Error as GroupError;
    pub use hush_prekey::Error as PreKeyError;
    pub use hush_prekey::UploadError;
    pub use hush_ratchet::Error as SessionError;
    pub use hush_x3dh::Error as KeyAgreementError;
}

/// A device of a user: the user's address name and a device id (libsignal's
/// `ProtocolAddress`). The same type `hush-group` uses.
pub use hush_group::DeviceAddress as Address;
