//! # hush-ratchet
//!
//! One-to-one sessions: the [Double Ratchet] on top of PQXDH (`hush-x3dh`), in
//! libsignal's exact wire format — [`SignalMessage`] and [`PreKeySignalMessage`], message
//! version 4, SPQR off — and a [`SessionRecord`] that holds the current session plus
//! archived ones, serialised in hush's own versioned format
//! (`docs/wire/session-record.md`).
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
//! use hush_ratchet::{CiphertextMessage, LocalIdentity, RemoteBundle, SessionRecord};
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
//! let mut alice_record = SessionRecord::new();
//! let alice_local = LocalIdentity { identity: &alice, registration_id: 1 };
//! alice_record.initiate(alice_local, &bundle, AgreementMode::Pqxdh, &TrustAll, now, &mut rng)?;
//! let first = alice_record.encrypt(b"hello Bob", &TrustAll, now)?;
//!
//! let CiphertextMessage::PreKey(first) = first else { unreachable!() };
//! let mut bob_record = SessionRecord::new();
//! let bob_local = LocalIdentity { identity: &bob, registration_id: 2 };
//! let keys = ResponderPreKeys { signed_prekey: &signed, one_time_prekey: None, kem_prekey: Some(kem.secret_key()) };
//! let got = bob_record.decrypt_prekey(&first, bob_local, Some(keys), AgreementMode::Pqxdh, &TrustAll, &mut rng)?;
//! assert_eq!(got.plaintext.as_slice(), b"hello Bob");
//!
//! // Records are saved between messages.
//! let saved = bob_record.encode();
//! let mut bob_record = SessionRecord::decode(&saved)?;
//! let reply = bob_record.encrypt(b"hi Alice", &TrustAll, now)?;
//! let CiphertextMessage::Signal(reply) = reply else { unreachable!() };
//! assert_eq!(alice_record.decrypt(&reply, &TrustAll, &mut rng)?.as_slice(), b"hi Alice");
//! # Ok::<(), hush_ratchet::Error>(())
//! ```

#![forbid(unsafe_code)]

mod codec;
mod error;
mod keys;
pub mod limits;
mod message;
mod record;
mod reuse;
mod state;
mod wire;

pub use error::{Error, Result};
pub use message::{
    CiphertextMessage, MAC_LENGTH, PQXDH_MESSAGE_VERSION, PreKeySignalMessage, SignalMessage,
    X3DH_MESSAGE_VERSION,
};
pub use record::{
    LocalIdentity, PreKeyDecrypted, RECORD_FORMAT_VERSION, RemoteBundle, SessionRecord,
};
pub use reuse::LastResortReuseGuard;
