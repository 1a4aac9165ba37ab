//! # hush-group
//!
//! Sender-key group messaging for [hush](https://example.invalid/hush), wire-compatible
//! with libsignal: a group message is encrypted once, signed, and fanned out by the
//! server; every member holds the sender's chain and decrypts it.
//!
//! What it is:
//!
//! - [`SenderKeyDistributionMessage`] and [`SenderKeyMessage`]: libsignal's two wire
//!   formats (version 3, protobuf fields of libsignal's `wire.proto`, a 64-byte XEdDSA
//!   signature over the serialised group message), as validated public types.
//! - [`SenderKeyRecord`]: every chain of one sender for one [`DistributionId`], up to
//!   [`limits::MAX_SENDER_KEY_STATES`], with skipped message keys (at most
//!   [`limits::MAX_SKIPPED_MESSAGE_KEYS`] per chain) and a bound on forward jumps
//!   ([`limits::MAX_FORWARD_JUMP`]). It creates our own chain, encrypts, processes
//!   distribution messages and decrypts. Every failed call leaves it byte-identical.
//! - [`SenderKeyTracker`]: the sender's membership bookkeeping that libsignal leaves to
//!   apps: which member devices hold the current chain, who needs the distribution
//!   message before the next send, and when a removal forces a new chain.
//! - [`Error::NoSenderKeyState`] carries what a receiver needs to ask for a resend.
//!
//! What it is not: a transport or a store. It does no I/O: the app stores records
//! ([`SenderKeyRecord::encode`]) under (sender address, distribution id) and sends
//! distribution messages over pairwise sessions (the sessions crate), group messages
//! through its server. Randomness comes only from the caller's
//! [`rand_core::CryptoRng`], drawn in libsignal's order, so a conversation recorded from
//! libsignal replays byte for byte. It does not authenticate the sender's identity: that
//! comes from the pairwise session that carried the distribution message (and, in
//! Signal, from sealed sender).
//!
//! ## Format
//!
//! Signal has published no specification of sender keys. The format here is libsignal's
//! (`rust/protocol/src/sender_keys.rs`, `group_cipher.rs`, `proto/wire.proto`, v0.91),
//! learned from its source and checked byte for byte against messages libsignal recorded
//! (`test-vectors/libsignal/sender_key.json`): chain step HMAC-SHA256 with `0x01`
//! (message-key seed) and `0x02` (next chain key), message keys by HKDF-SHA256 with info
//! `WhisperGroup` (IV then AES-256 key), AES-256-CBC with PKCS#7, signatures by
//! [XEdDSA](https://signal.org/docs/specifications/xeddsa/). The record and tracker
//! storage formats are hush's own, versioned, and described in
//! `docs/wire/sender-key-record.md`.
//!
//! ## Example
//!
//! ```
//! use hush_group::{DistributionId, SenderKeyDistributionMessage, SenderKeyMessage, SenderKeyRecord};
//!
//! let mut rng = hush_core::rng::os_rng();
//! let distribution_id = DistributionId::generate(&mut rng);
//!
//! // Alice starts her chain; the distribution message goes to Bob over their pairwise
//! // session.
//! let mut alice = SenderKeyRecord::new(distribution_id);
//! let distribution = alice.create_distribution(&mut rng);
//! let wire = distribution.as_bytes().to_vec();
//!
//! // Bob keeps one record per (sender address, distribution id).
//! let received = SenderKeyDistributionMessage::decode(&wire)?;
//! let mut bob_has_alice = SenderKeyRecord::new(received.distribution_id());
//! bob_has_alice.process_distribution(&received)?;
//!
//! // Alice encrypts once; the server fans the bytes out.
//! let message = alice.encrypt(b"lunch at noon?", &mut rng)?;
//! let bytes = message.as_bytes().to_vec();
//!
//! // Bob reads the distribution id to find the record, then decrypts.
//! let incoming = SenderKeyMessage::decode(&bytes)?;
//! assert_eq!(incoming.distribution_id(), distribution_id);
//! assert_eq!(&*bob_has_alice.decrypt(&incoming)?, b"lunch at noon?");
//!
//! // A replay is refused, and the record is unchanged by the refusal.
//! let before = bob_has_alice.encode();
//! assert!(matches!(
//!     bob_has_alice.decrypt(&incoming),
//!     Err(hush_group::Error::DuplicateMessage { iteration: 0, .. })
//! ));
//! assert_eq!(bob_has_alice.encode(), before);
//! # Ok::<(), hush_group::Error>(())
//! ```
//!
//! [`SenderKeyTracker`] shows the sender's side of membership changes.
//!
//! ## Storage and lookup
//!
//! An app keeps records as libsignal's `SenderKeyStore` does, under (sender address,
//! distribution id), and writes a record back after every call that succeeded:
//!
//! | app step | call |
//! |---|---|
//! | start (or re-share) our chain for a group | load or create `SenderKeyRecord::new(id)` under (our address, id); [`SenderKeyRecord::create_distribution`] |
//! | a distribution message arrives from `sender` | [`SenderKeyDistributionMessage::decode`]; load or create the record under (`sender`, [`distribution_id`](SenderKeyDistributionMessage::distribution_id)); [`SenderKeyRecord::process_distribution`] |
//! | send to the group | [`SenderKeyTracker::prepare_send`] (or `create_distribution`), then [`SenderKeyRecord::encrypt`] on our record |
//! | a group message arrives from `sender` | [`SenderKeyMessage::decode`]; load or create the record under (`sender`, [`distribution_id`](SenderKeyMessage::distribution_id)); [`SenderKeyRecord::decrypt`] |
//!
//! A record created empty for an unknown sender makes `decrypt` answer
//! [`Error::NoSenderKeyState`], which says what to ask the sender for.
//!
//! ## Features
//!
//! None.

#![forbid(unsafe_code)]

mod chain;
mod distribution_id;
mod error;
pub mod limits;
mod message;
mod record;
mod tracker;
mod wire;

pub use distribution_id::{DISTRIBUTION_ID_LENGTH, DistributionId};
pub use error::{Error, Result};
pub use message::{SENDER_KEY_MESSAGE_VERSION, SenderKeyDistributionMessage, SenderKeyMessage};
pub use record::{RECORD_FORMAT_VERSION, SenderKeyRecord};
pub use tracker::{DeviceAddress, SendPlan, SenderKeyTracker, TRACKER_FORMAT_VERSION};
