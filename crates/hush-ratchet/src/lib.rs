//! # hush-ratchet
//!
//! One-to-one sessions: the [Double Ratchet] on top of PQXDH (`hush-x3dh`), with the
//! Sparse Post-Quantum Ratchet (SPQR, `hush-spqr`) beside it — libsignal v0.101's "triple
//! ratchet" — in libsignal's exact wire format: [`SignalMessage`] (with its `pq_ratchet`
//! and `addresses` fields) and [`PreKeySignalMessage`], message version 4; and a
//! [`SessionRecord`] that holds the current session plus archived ones, each with its
//! SPQR state, serialised in hush's own versioned format (`docs/wire/session-record.md`).
//!
//! Per message, SPQR hands out a 32-byte key that becomes the HKDF salt of the Double
//! Ratchet's message keys, and a payload the message carries (chunks of the ML-KEM-768
//! exchanges that give a session fresh post-quantum secrets as it goes). Whether sessions
//! run it is a [`SpqrPolicy`] passed in [`SessionOptions`]: by default it is required, as
//! libsignal v0.101 requires it; [`SpqrPolicy::Allowed`] also talks to peers without it
//! (libsignal v0.91), [`SpqrPolicy::Off`] starts sessions without it. When both ends are
//! named by service ids, [`SessionAddresses`] in the options put them into first
//! messages and check them on receipt, as libsignal does. Replaying libsignal v0.101's
//! recorded sessions byte for byte is a test (`tests/libsignal_sessions.rs`).
//!
//! Everything is sans-IO: bytes, keys, the caller's RNG and the current time go in;
//! bytes and plaintexts come out. Decryption is compute-then-commit: a message that fails
//! for any reason (bad MAC, duplicate, too far ahead, garbage) leaves the record exactly
//! as it was. Limits (5 receiver chains, 2 000 skipped keys per chain, forward jumps of
//! at most 25 000, 40 archived sessions, 30 days for an unanswered session) are in
//! [`limits`].
//!
//! What a message can make its receiver compute is bounded per decryption, not per
//! session: the forward jumps of all the sessions one decryption tries add up to at most
//! [`limits::MAX_TOTAL_FORWARD_JUMP`], so any message costs at most 25 041 chain steps
//! and 41 key agreements, however many archived sessions the record holds
//! (`docs/ARCHITECTURE.md`, "What a forged message costs"). A chain stops at index
//! 2^32 - 1 ([`Error::ChainExhausted`]) rather than wrap.
//!
//! [Double Ratchet]: https://signal.org/docs/specifications/doubleratchet/
//!
//! ## Example
//!
//! ```
//! use std::time::SystemTime;
//! use hush_core::{IdentityKeyPair, KemKeyPair, KemKeyType, KeyPair, rng::os_rng};
//! use hush_ratchet::{CiphertextMessage, LocalIdentity, RemoteBundle, SessionOptions, SessionRecord};
//! use hush_x3dh::{AgreementMode, PeerPreKeys, ResponderPreKeys, TrustAll};
//!
//! let mut rng = os_rng();
//! let now = SystemTime::now();
//! let (alice, bob) = (IdentityKeyPair::generate(&mut rng), IdentityKeyPair::generate(&mut rng));
//! // Bob's prekeys, as his server would hand them out.
//! let signed = KeyPair::generate(&mut rng);
//! let kem = KemKeyPair::generate(KemKeyType::Kyber1024, &mut rng);
//! let bundle = RemoteBundle {
//!     registration_id: 2,
//!     signed_prekey_id: 1,
//!     one_time_prekey_id: None,
//!     kem_prekey_id: Some(1),
//!     prekeys: PeerPreKeys {
//!         identity_key: bob.identity_key(),
//!         signed_prekey: signed.public_key(),
//!         signed_prekey_signature: bob.sign(&signed.public_key().encode(), &mut rng),
//!         one_time_prekey: None,
//!         kem_prekey: Some((kem.public_key().clone(), bob.sign(&kem.public_key().encode(), &mut rng))),
//!     },
//! };
//!
//! // SPQR required (libsignal v0.101's rule), no service-id addresses.
//! let options = SessionOptions::default();
//!
//! let mut alice_record = SessionRecord::new();
//! let alice_local = LocalIdentity { identity: &alice, registration_id: 1 };
//! alice_record.initiate(alice_local, &bundle, AgreementMode::Pqxdh, options, &TrustAll, now, &mut rng)?;
//! let first = alice_record.encrypt(b"hello Bob", options, &TrustAll, now, &mut rng)?;
//!
//! let CiphertextMessage::PreKey(first) = first else { unreachable!() };
//! assert!(!first.message().pq_ratchet().is_empty(), "every message carries SPQR's part");
//! let mut bob_record = SessionRecord::new();
//! let bob_local = LocalIdentity { identity: &bob, registration_id: 2 };
//! let keys = ResponderPreKeys { signed_prekey: &signed, one_time_prekey: None, kem_prekey: Some(kem.secret_key()) };
//! let got = bob_record.decrypt_prekey(&first, bob_local, Some(keys), AgreementMode::Pqxdh, options, &TrustAll, &mut rng)?;
//! assert_eq!(got.plaintext.as_slice(), b"hello Bob");
//!
//! // Records are saved between messages.
//! let saved = bob_record.encode();
//! let mut bob_record = SessionRecord::decode(&saved)?;
//! let reply = bob_record.encrypt(b"hi Alice", options, &TrustAll, now, &mut rng)?;
//! let CiphertextMessage::Signal(reply) = reply else { unreachable!() };
//! assert_eq!(alice_record.decrypt(&reply, options, &TrustAll, &mut rng)?.as_slice(), b"hi Alice");
//! # Ok::<(), hush_ratchet::Error>(())
//! ```

#![forbid(unsafe_code)]

mod codec;
mod error;
mod keys;
pub mod limits;
mod message;
mod policy;
mod record;
mod reuse;
mod state;
mod wire;

pub use error::{Error, Result};
pub use message::{
    ADDRESSES_LENGTH, CiphertextMessage, MAC_LENGTH, PQXDH_MESSAGE_VERSION, PreKeySignalMessage,
    ServiceAddress, SessionAddresses, SignalMessage, X3DH_MESSAGE_VERSION,
};
pub use policy::{SessionOptions, SpqrPolicy};
pub use record::{
    LocalIdentity, PreKeyDecrypted, RECORD_FORMAT_VERSION, RemoteBundle, SessionRecord,
};
pub use reuse::LastResortReuseGuard;
