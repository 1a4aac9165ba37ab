//! # hush-core
//!
//! The foundation of [hush](https://example.invalid/hush): keys in libsignal's wire
//! forms, XEdDSA signatures, KEMs, the KDF/MAC/cipher helpers every hush protocol shares,
//! and safety-number fingerprints.
//!
//! What it is:
//!
//! - [`curve`]: Curve25519 [`PublicKey`] (33 bytes, type byte `0x05`), [`PrivateKey`],
//!   [`KeyPair`] and X25519 agreement that refuses small-order peers.
//! - [`identity`]: [`IdentityKey`] and [`IdentityKeyPair`], with libsignal's protobuf form
//!   of the pair.
//! - [`xeddsa`]: signatures byte-compatible with libsignal
//!   ([XEdDSA](https://signal.org/docs/specifications/xeddsa/)), strict verification, and
//!   batch verification for servers.
//! - [`kem`]: Kyber1024 (type `0x08`) and ML-KEM-1024 (type `0x0a`).
//! - [`kdf`] and [`cipher`]: HKDF-SHA256, HMAC-SHA256, AES-256-CBC/PKCS#7, AES-256-GCM.
//! - [`fingerprint`]: 60-digit and scannable safety numbers, versions 1 and 2.
//!
//! What it is not: a protocol. Prekeys, sessions, groups, backups and linked devices live
//! in the crates above it (see `docs/ARCHITECTURE.md`). It does no I/O and reads no clock;
//! randomness always comes from the caller's [`rand_core::CryptoRng`] ([`rng::os_rng`] is
//! the default source), so recorded libsignal conversations can be replayed byte for byte.
//!
//! Secrets (private keys, shared secrets, KEM secret keys) are wiped on drop, are never
//! `Copy`, never appear in `Debug` output, and compare in constant time. No input makes
//! any function panic.
//!
//! ## Example
//!
//! ```
//! use hush_core::{Fingerprint, IdentityKeyPair, rng::os_rng};
//!
//! let mut rng = os_rng();
//! let alice = IdentityKeyPair::generate(&mut rng);
//! let bob = IdentityKeyPair::generate(&mut rng);
//!
//! // Sign with XEdDSA, verify from the 33-byte wire form.
//! let signature = alice.sign(b"hello", &mut rng);
//! let alice_public = hush_core::IdentityKey::decode(&alice.identity_key().encode())?;
//! assert!(alice_public.verify(b"hello", &signature));
//!
//! // Both sides compute the same safety number.
//! let (a, b) = (alice.identity_key(), bob.identity_key());
//! let seen_by_alice = Fingerprint::new(2, 5200, b"alice", &a, b"bob", &b)?;
//! let seen_by_bob = Fingerprint::new(2, 5200, b"bob", &b, b"alice", &a)?;
//! assert_eq!(seen_by_alice.displayable().to_string(), seen_by_bob.displayable().to_string());
//! assert!(seen_by_alice.scannable().compare(seen_by_bob.scannable())?);
//! # Ok::<(), hush_core::Error>(())
//! ```
//!
//! ## Features
//!
//! - `hazmat`: the [`hazmat`] module, low-level entry points for conformance runners.

#![forbid(unsafe_code)]

pub mod cipher;
pub mod curve;
mod error;
pub mod fingerprint;
#[cfg(feature = "hazmat")]
pub mod hazmat;
pub mod identity;
pub mod kdf;
pub mod kem;
pub mod limits;
pub mod rng;
pub mod service_id;
mod wire;
pub mod xeddsa;

pub use curve::{KeyPair, PrivateKey, PublicKey, SharedSecret};
pub use error::{Error, Result};
pub use fingerprint::{DisplayableFingerprint, Fingerprint, ScannableFingerprint};
pub use identity::{IdentityKey, IdentityKeyPair};
pub use kem::{KemCiphertext, KemKeyPair, KemKeyType, KemPublicKey, KemSecretKey, KemSharedSecret};
pub use service_id::{ServiceId, ServiceIdKind};
pub use xeddsa::{Signature, VerifyingKey};
