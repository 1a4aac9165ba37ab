//! # hush-x3dh
//!
//! Key agreement for starting a hush session: [PQXDH] (X25519 plus a Kyber1024 or
//! ML-KEM-1024 prekey), byte-compatible with libsignal, and classic [X3DH] for deployments
//! that control both ends and opt in explicitly.
//!
//! The initiator ([`initiate`]) checks the bundle's two prekey signatures, draws its base
//! key and encapsulates to the KEM prekey; the responder ([`respond`]) recomputes the same
//! secret from its prekeys. Both end with the same [`SessionSecrets`]: the first root key
//! and chain key of the Double Ratchet (`hush-ratchet`) and, in PQXDH, the auth key the
//! Sparse Post-Quantum Ratchet starts from (`hush-spqr`). Randomness comes from the
//! caller's RNG in libsignal's order (base key, then KEM encapsulation), so recorded
//! libsignal sessions replay.
//!
//! Whether a remote identity is trusted is the caller's decision, made through
//! [`IdentityTrust`]; a changed identity is its own error.
//!
//! [PQXDH]: https://signal.org/docs/specifications/pqxdh/
//! [X3DH]: https://signal.org/docs/specifications/x3dh/
//!
//! ## Example
//!
//! ```
//! use hush_core::{IdentityKeyPair, KeyPair, KemKeyPair, KemKeyType, rng::os_rng};
//! use hush_x3dh::{AgreementMode, PeerPreKeys, ResponderPreKeys, TrustAll, initiate, respond};
//!
//! let mut rng = os_rng();
//! let (alice, bob) = (IdentityKeyPair::generate(&mut rng), IdentityKeyPair::generate(&mut rng));
//! let signed = KeyPair::generate(&mut rng);
//! let kem = KemKeyPair::generate(KemKeyType::Kyber1024, &mut rng);
//! let signed_signature = bob.sign(&signed.public_key().encode(), &mut rng);
//! let kem_signature = bob.sign(&kem.public_key().encode(), &mut rng);
//!
//! let bundle = PeerPreKeys {
//!     identity_key: bob.identity_key(),
//!     signed_prekey: signed.public_key(),
//!     signed_prekey_signature: signed_signature,
//!     one_time_prekey: None,
//!     kem_prekey: Some((kem.public_key().clone(), kem_signature)),
//! };
//! let started = initiate(&alice, &bundle, AgreementMode::Pqxdh, &TrustAll, &mut rng)?;
//!
//! let finished = respond(
//!     &bob,
//!     &ResponderPreKeys { signed_prekey: &signed, one_time_prekey: None, kem_prekey: Some(kem.secret_key()) },
//!     &alice.identity_key(),
//!     &started.base_key(),
//!     started.kem_ciphertext(),
//!     AgreementMode::Pqxdh,
//!     &TrustAll,
//! )?;
//! assert!(started.secrets() == &finished);
//! # Ok::<(), hush_x3dh::Error>(())
//! ```

#![forbid(unsafe_code)]

mod agreement;
mod error;
mod trust;

pub use agreement::{
    AgreementMode, Initiated, PeerPreKeys, ResponderPreKeys, SessionSecrets, initiate, respond,
};
pub use error::{Error, Result};
pub use trust::{IdentityTrust, Trust, TrustAll, require_trusted};
