//! # hush-prekey
//!
//! Prekeys for [hush](https://example.invalid/hush): the keys a device publishes so that
//! others can start [PQXDH](https://signal.org/docs/specifications/pqxdh/) sessions with
//! it while it is offline.
//!
//! What it is, for the two sides that handle prekeys:
//!
//! - **Clients**: [`generate_prekeys`] makes identity-signed EC prekeys, one-time EC
//!   prekeys and signed Kyber1024 / ML-KEM-1024 prekeys (one-time and last-resort), with
//!   ids from a [`PreKeyIdAllocator`] (libsignal's 24-bit id space, wrapping, state
//!   serialisable); [`upload_for`] turns them into a [`PreKeyUpload`]; the private
//!   [`SignedPreKeyRecord`], [`PreKeyRecord`] and [`KemPreKeyRecord`] (and the set
//!   [`PreKeyRecords`]) have a versioned encoding and libsignal's record encoding;
//!   [`RotationPolicy`] says when to rotate, how many keys to replenish and which old
//!   signed keys to delete.
//! - **Servers**: [`validate_upload`] accepts only well-formed uploads signed by the
//!   account's identity key, reporting every [`Problem`] precisely enough for the client
//!   to fix; [`assemble_bundle`] / [`DeviceKeys::take_bundle`] choose the next
//!   [`PreKeyBundle`] and say which one-time keys it consumed.
//!
//! The [`PreKeyBundle`] and [`PreKeyUpload`] wire formats are hush's own (libsignal has
//! none): a version byte then a protobuf message, documented with field numbers and
//! limits in `docs/wire/prekeys.md`. Signatures are libsignal's: XEdDSA by the identity
//! key over the 33-byte serialised EC key, or over the typed serialised KEM key.
//!
//! What it is not: a session. The PQXDH handshake that consumes a [`PreKeyBundle`]
//! lives in the crate above; storage and transport are the caller's. Like every hush
//! protocol crate it does no I/O and reads no clock: randomness comes from the caller's
//! [`CryptoRng`](hush_core::rng::CryptoRng) and time is passed in as milliseconds since the Unix epoch
//! (`now_ms`, `timestamp_ms`). No input makes any function panic, and sizes and counts
//! are checked before anything is allocated (see [`limits`]).
//!
//! ## Example
//!
//! ```
//! use hush_core::{IdentityKeyPair, rng::os_rng};
//! use hush_prekey::{
//!     DeviceKeys, GenerateRequest, PreKeyBundle, PreKeyIdAllocator, UploadPolicy,
//!     generate_prekeys, upload_for, validate_upload,
//! };
//!
//! let mut rng = os_rng();
//! let now_ms = 1_700_000_000_000;
//!
//! // The device: an identity, then a batch of prekeys and the upload announcing them.
//! let identity = IdentityKeyPair::generate(&mut rng);
//! let mut ids = PreKeyIdAllocator::new();
//! let mut request = GenerateRequest::default();
//! request.one_time_prekeys = 5;
//! request.kem_prekeys = 5;
//! let records = generate_prekeys(&identity, &mut ids, &request, now_ms, &mut rng)?;
//! let upload_bytes = upload_for(&identity, &records).encode();
//!
//! // The server: validate against the account's identity key, store, hand out a bundle.
//! let policy = UploadPolicy::default();
//! let account_key = identity.identity_key();
//! let upload = validate_upload(&account_key, &upload_bytes, &policy, now_ms, &mut rng)?;
//! let mut device = DeviceKeys::new(1234, 1, account_key)?;
//! device.apply_upload(&upload)?;
//! let choice = device.take_bundle()?;
//! assert_eq!(choice.consumed_one_time_prekey(), Some(1)); // the server deletes it
//! let bundle_bytes = choice.bundle().encode();
//!
//! // The initiator: decode and check the bundle before using it.
//! let bundle = PreKeyBundle::decode(&bundle_bytes)?;
//! bundle.verify_signatures()?;
//! assert_eq!(bundle.identity_key(), &account_key);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Features
//!
//! None.

#![forbid(unsafe_code)]

mod assemble;
mod bundle;
mod codec;
mod error;
mod generate;
mod ids;
mod keys;
pub mod limits;
mod record;
mod rotation;
mod scan;
mod upload;
mod validate;
mod wire;

pub use assemble::{BundleChoice, DeviceKeys, assemble_bundle};
pub use bundle::{PreKeyBundle, PreKeyBundleParts};
pub use error::{Error, Issue, KeyKind, Problem, Result, UploadError};
pub use generate::{GenerateRequest, generate_prekeys, upload_for};
pub use ids::{IdSpace, PreKeyIdAllocator};
pub use keys::{KemPreKey, OneTimePreKey, SignedPreKey};
pub use record::{KemPreKeyRecord, PreKeyRecord, PreKeyRecords, SignedPreKeyRecord};
pub use rotation::RotationPolicy;
pub use upload::PreKeyUpload;
pub use validate::{SignatureCheck, UploadPolicy, ValidatedUpload, validate_upload};
