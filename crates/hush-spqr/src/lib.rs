//! # hush-spqr
//!
//! The Sparse Post-Quantum Ratchet (SPQR) for [hush](https://example.invalid/hush),
//! byte-compatible with libsignal v0.101.0 (spqr v1.5.3): the third ratchet of Signal's
//! "triple ratchet", which gives a session fresh ML-KEM-768 secrets as it goes and turns
//! them into one 32-byte key per message.
//!
//! What it is:
//!
//! - [`SpqrState`]: one session's SPQR state — version negotiation, the **ML-KEM braid**
//!   (eleven states, [`BraidState`], that run one ML-KEM-768 exchange per epoch with the
//!   roles swapping every epoch, authenticated by a MAC chain started from the session's
//!   auth key) and the **chain** (per epoch and direction a KDF chain that hands out the
//!   per-message keys, keeping keys of late messages within [`ChainParams`]' limits).
//! - [`Payload`]: the `pq_ratchet` bytes each message carries (libsignal's format:
//!   `docs/wire/spqr-message.md`).
//! - [`erasure`]: the GF(2^16) erasure code that cuts the braid's large messages (a
//!   1152-byte key, a 960-byte ciphertext) into 32-byte chunks, one per message, any `n`
//!   of which rebuild the whole, so lost messages only delay an epoch.
//!
//! What it is not: a Double Ratchet. It knows nothing of chains of message keys, ratchet
//! keys or ciphertexts; `hush-ratchet` drives it once per message and mixes its key into
//! the Double Ratchet's message keys (as the HKDF salt of `WhisperMessageKeys`). It does
//! no I/O and reads no clock; its only randomness comes from the caller's
//! [`rand_core::CryptoRng`], drawn in libsignal's order and sizes, so libsignal's recorded
//! sessions replay byte for byte (`tests/vectors.rs`, 612 messages).
//!
//! Specifications: Signal's [announcement and overview](https://signal.org/blog/spqr/),
//! the [ML-KEM Braid specification](https://signal.org/docs/specifications/mlkembraid/),
//! the [Double Ratchet specification](https://signal.org/docs/specifications/doubleratchet/)
//! (revision 4 describes the triple ratchet) and Galois' [annotated docs-to-code
//! notes](https://galoisinc.github.io/libsignal-docs-and-models/Signal-Protocols-Annotated/SPQR-___-Docs-to-Code/).
//! Where they leave a detail open (labels, encodings, the erasure code, the state
//! machine's handling of late or repeated chunks), libsignal's behaviour is the reference,
//! pinned by its vectors.
//!
//! ## Driving it: plan, then apply
//!
//! Every step is split in two. [`SpqrState::plan_send`] and [`SpqrState::plan_recv`]
//! take `&self`, change nothing, and return a plan holding the payload and key and only
//! the *change* the step makes (a new chain counter and seed, a chunk to store, a braid
//! transition) — never a copy of the state. [`SpqrState::apply_send`] and
//! [`SpqrState::apply_recv`] move that change in; they cannot fail for a plan the same
//! state made with nothing applied since (they answer [`Error::StalePlan`] otherwise and
//! change nothing). A receiver plans, uses the key to authenticate and decrypt the
//! message, and applies only if that worked: a refused message leaves the state
//! byte-identical. [`SpqrState::send`] and [`SpqrState::recv`] do both steps at once.
//!
//! ## Example
//!
//! ```
//! use hush_spqr::{ChainParams, Direction, SpqrState, Version};
//!
//! let mut rng = hush_core::rng::os_rng();
//! // Both sides start from the auth key their PQXDH agreement derived
//! // (`hush_x3dh::SessionSecrets::spqr_auth_key`).
//! let auth_key = [0x42; 32];
//! let new = |direction| {
//!     SpqrState::new(&auth_key, direction, Version::V1, Version::V1, ChainParams::default())
//! };
//! let (mut alice, mut bob) = (new(Direction::A2B)?, new(Direction::B2A)?);
//!
//! // Messages alternate until both sides hold the first epoch's ML-KEM secret.
//! while alice.chain_epoch() < 1 || bob.chain_epoch() < 1 {
//!     let sent = alice.send(&mut rng)?;
//!     // The receiver plans, checks the message with the key, then applies.
//!     let plan = bob.plan_recv(sent.payload())?;
//!     assert!(plan.message_key() == sent.message_key());
//!     bob.apply_recv(plan)?;
//!
//!     let sent = bob.send(&mut rng)?;
//!     assert!(alice.recv(sent.payload())?.as_ref() == sent.message_key());
//! }
//!
//! // A replayed or tampered payload is refused and changes nothing.
//! let sent = alice.send(&mut rng)?;
//! bob.recv(sent.payload())?;
//! let stored = bob.encode();
//! assert!(bob.recv(sent.payload()).is_err());
//! assert_eq!(*bob.encode(), *stored);
//!
//! // States are stored in hush's own format and come back the same.
//! let reloaded = SpqrState::decode(&stored)?;
//! assert_eq!(*reloaded.encode(), *stored);
//! # Ok::<(), hush_spqr::Error>(())
//! ```
//!
//! ## Storage
//!
//! [`SpqrState::encode`] / [`SpqrState::decode`] use hush's own compact, versioned format
//! (`docs/wire/spqr-state.md`), not libsignal's protobuf: about a third of libsignal's
//! size, because the braid keeps its ML-KEM secrets as the randomness they expand from
//! and recomputes the expansion the one time per epoch it is needed. Decoding treats the
//! bytes as untrusted: every length and count is bounded and every invariant checked.
//!
//! ## Features
//!
//! None.

#![forbid(unsafe_code)]

mod braid;
mod chain;
mod codec;
mod config;
pub mod erasure;
mod error;
mod kem;
mod keys;
pub mod limits;
mod payload;
mod state;

pub use braid::BraidState;
pub use codec::STATE_FORMAT_VERSION;
pub use config::{ChainParams, Direction, Version};
pub use error::{Error, Result};
pub use keys::MessageKey;
pub use payload::{EncodedPayload, MAX_PAYLOAD_LEN, PAYLOAD_VERSION, Payload, PayloadKind};
pub use state::{RecvPlan, SendPlan, Sent, SpqrState};
