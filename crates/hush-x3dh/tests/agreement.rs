//! `initiate` / `respond` through the public API: agreement in every mode, checked
//! against the secret recomputed here from the specifications' formula; every refusal
//! (signatures, missing or mismatched KEM parts, trust, small-order keys, KEM types).
//!
//! The recomputation uses only `hush-core` primitives and the published constants:
//! X3DH (<https://signal.org/docs/specifications/x3dh/>, section 2.2) and PQXDH
//! (<https://signal.org/docs/specifications/pqxdh/>): `KDF(F || DH1 || DH2 || DH3 [|| DH4]
//! [|| SS])` with `F` = 32 bytes of 0xff, HKDF-SHA256 with a zero-filled 32-byte salt, and
//! libsignal's info strings (`"WhisperText"`, and for PQXDH
//! `"WhisperText_X25519_SHA-256_CRYSTALS-KYBER-1024"` whichever KEM the prekey uses).
//! The first 32 output bytes are the root key, the next 32 the chain key. (PQXDH with a
//! Kyber prekey is also checked byte for byte against libsignal's recorded sessions in
//! `hush-ratchet`'s `libsignal_sessions` test.)

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] fns: a failed unwrap is a failed test"
)]

use std::cell::RefCell;

use hush_core::kdf::hkdf_sha256;
use hush_core::rng::CryptoRng;
use hush_core::{
    IdentityKey, IdentityKeyPair, KemKeyPair, KemKeyType, KeyPair, PrivateKey, PublicKey, Signature,
};
use hush_test_support::test_rng;
use hush_x3dh::{
    AgreementMode, Error, PeerPreKeys, ResponderPreKeys, Trust, TrustAll, initiate,
    require_trusted, respond,
};

/// The responder and what it publishes.
struct Bob {
    identity: IdentityKeyPair,
    signed: KeyPair,
    one_time: KeyPair,
    kem: KemKeyPair,
}

impl Bob {
    fn generate<R: CryptoRng + ?Sized>(kem_type: KemKeyType, rng: &mut R) -> Self {
        Self {
            identity: IdentityKeyPair::generate(rng),
            signed: KeyPair::generate(rng),
            one_time: KeyPair::generate(rng),
            kem: KemKeyPair::generate(kem_type, rng),
        }
    }

    fn bundle<R: CryptoRng + ?Sized>(
        &self,
        with_kem: bool,
        with_one_time: bool,
        rng: &mut R,
    ) -> PeerPreKeys {
        PeerPreKeys {
            identity_key: self.identity.identity_key(),
            signed_prekey: self.signed.public_key(),
            signed_prekey_signature: self.identity.sign(&self.signed.public_key().encode(), rng),
            one_time_prekey: with_one_time.then(|| self.one_time.public_key()),
            kem_prekey: with_kem.then(|| {
                let public = self.kem.public_key().clone();
                let signature = self.identity.sign(&public.encode(), rng);
                (public, signature)
            }),
        }
    }

    fn prekeys(&self, with_kem: bool, with_one_time: bool) -> ResponderPreKeys<'_> {
        ResponderPreKeys {
            signed_prekey: &self.signed,
            one_time_prekey: with_one_time.then_some(&self.one_time),
            kem_prekey: with_kem.then(|| self.kem.secret_key()),
        }
    }
}

/// Root key, chain key and (PQXDH) SPQR auth key by the specifications' formula.
fn expected_secrets(
    parts: &[&[u8]],
    mode: AgreementMode,
) -> ([u8; 32], [u8; 32], Option<[u8; 32]>) {
    let mut ikm = vec![0xff; 32];
    for part in parts {
        ikm.extend_from_slice(part);
    }
    let (info, len): (&[u8], usize) = match mode {
        AgreementMode::Pqxdh => (b"WhisperText_X25519_SHA-256_CRYSTALS-KYBER-1024", 96),
        _ => (b"WhisperText", 64),
    };
    let mut okm = vec![0u8; len];
    hkdf_sha256(&[0u8; 32], &ikm, info, &mut okm).unwrap();
    (
        okm[..32].try_into().unwrap(),
        okm[32..64].try_into().unwrap(),
        (len == 96).then(|| okm[64..96].try_into().unwrap()),
    )
}

fn flip(signature: &Signature, byte: usize) -> Signature {
    let mut bytes = signature.to_bytes();
    bytes[byte] ^= 0x01;
    Signature::from_bytes(bytes)
}

/// Every mode (PQXDH with Kyber1024, PQXDH with ML-KEM-1024, classic X3DH), with and
/// without a one-time prekey: both sides derive the same secrets, equal to the formula's;
/// the initiator's randomness is drawn as documented (32 bytes for the base key, then the
/// KEM encapsulation), which is how the test recovers the base key and KEM secret.
#[test]
fn both_sides_agree_in_every_mode_and_match_the_formula() {
    let variants = [
        (AgreementMode::Pqxdh, KemKeyType::Kyber1024),
        (AgreementMode::Pqxdh, KemKeyType::MlKem1024),
        (AgreementMode::ClassicX3dh, KemKeyType::Kyber1024),
    ];
    for (seed, (mode, kem_type)) in (1..).zip(variants) {
        for one_time in [false, true] {
            let pq = mode == AgreementMode::Pqxdh;
            let mut rng = test_rng(seed);
            let alice = IdentityKeyPair::generate(&mut rng);
            let bob = Bob::generate(kem_type, &mut rng);
            let bundle = bob.bundle(pq, one_time, &mut rng);

            let mut shadow = rng.clone();
            let started = initiate(&alice, &bundle, mode, &TrustAll, &mut rng).unwrap();
            let base = PrivateKey::generate(&mut shadow);
            assert_eq!(
                base.public_key(),
                started.base_key(),
                "the base key is the first draw"
            );
            let kem_secret = pq.then(|| {
                let (ciphertext, secret) = bob.kem.public_key().encapsulate(&mut shadow);
                assert_eq!(
                    Some(&ciphertext),
                    started.kem_ciphertext(),
                    "then the encapsulation"
                );
                assert_eq!(ciphertext.key_type(), kem_type);
                secret
            });
            assert_eq!(started.kem_ciphertext().is_some(), pq);

            let finished = respond(
                &bob.identity,
                &bob.prekeys(pq, one_time),
                &alice.identity_key(),
                &started.base_key(),
                started.kem_ciphertext(),
                mode,
                &TrustAll,
            )
            .unwrap();
            assert!(
                started.secrets() == &finished,
                "{mode:?} {kem_type:?} one-time {one_time}"
            );

            let dh1 = alice.private_key().agree(&bob.signed.public_key()).unwrap();
            let dh2 = base
                .agree(bob.identity.identity_key().public_key())
                .unwrap();
            let dh3 = base.agree(&bob.signed.public_key()).unwrap();
            let dh4 = base.agree(&bob.one_time.public_key()).unwrap();
            let mut parts: Vec<&[u8]> = vec![dh1.as_bytes(), dh2.as_bytes(), dh3.as_bytes()];
            if one_time {
                parts.push(dh4.as_bytes());
            }
            if let Some(secret) = &kem_secret {
                parts.push(secret.as_bytes());
            }
            let (root, chain, spqr) = expected_secrets(&parts, mode);
            assert_eq!(finished.root_key(), &root);
            assert_eq!(finished.chain_key(), &chain);
            assert_ne!(root, chain);
            // PQXDH's third 32 bytes are SPQR's auth key, on both sides; classic X3DH
            // derives none.
            assert_eq!(finished.spqr_auth_key(), spqr.as_ref());
            assert_eq!(started.secrets().spqr_auth_key(), spqr.as_ref());
            assert_eq!(spqr.is_some(), pq);
        }
    }
}

/// The responder must use the same prekeys: leaving out the one-time prekey, or using
/// another KEM key of the same type, gives different secrets (the ratchet's first MAC
/// then fails); nothing here can tell, so `respond` succeeds.
#[test]
fn mismatched_responder_prekeys_give_different_secrets() {
    let mut rng = test_rng(10);
    let alice = IdentityKeyPair::generate(&mut rng);
    let bob = Bob::generate(KemKeyType::Kyber1024, &mut rng);
    let started = initiate(
        &alice,
        &bob.bundle(true, true, &mut rng),
        AgreementMode::Pqxdh,
        &TrustAll,
        &mut rng,
    )
    .unwrap();
    let other_kem = KemKeyPair::generate(KemKeyType::Kyber1024, &mut rng);
    let respond_with = |prekeys: &ResponderPreKeys<'_>| {
        respond(
            &bob.identity,
            prekeys,
            &alice.identity_key(),
            &started.base_key(),
            started.kem_ciphertext(),
            AgreementMode::Pqxdh,
            &TrustAll,
        )
        .unwrap()
    };
    assert!(respond_with(&bob.prekeys(true, true)) == *started.secrets());
    assert!(respond_with(&bob.prekeys(true, false)) != *started.secrets());
    let wrong_kem = ResponderPreKeys {
        kem_prekey: Some(other_kem.secret_key()),
        ..bob.prekeys(true, true)
    };
    assert!(respond_with(&wrong_kem) != *started.secrets());
}

/// A signed-prekey signature that does not verify under the bundle's identity key is
/// refused in both modes: a flipped bit, a signature by another identity, a signature
/// over another key. The KEM prekey's signature likewise, including one over the key's
/// bytes without the type byte.
#[test]
fn bad_prekey_signatures_are_refused() {
    let mut rng = test_rng(11);
    let alice = IdentityKeyPair::generate(&mut rng);
    let bob = Bob::generate(KemKeyType::Kyber1024, &mut rng);
    let mallory = IdentityKeyPair::generate(&mut rng);
    let good = bob.bundle(true, true, &mut rng);
    let (kem_public, kem_signature) = good.kem_prekey.clone().unwrap();

    let bad_signed = [
        flip(&good.signed_prekey_signature, 0),
        flip(&good.signed_prekey_signature, 63),
        mallory.sign(&bob.signed.public_key().encode(), &mut rng),
        bob.identity
            .sign(&bob.one_time.public_key().encode(), &mut rng),
        bob.identity
            .sign(bob.signed.public_key().as_montgomery_bytes(), &mut rng),
    ];
    for signature in bad_signed {
        for (mode, with_kem) in [
            (AgreementMode::Pqxdh, true),
            (AgreementMode::ClassicX3dh, false),
        ] {
            let mut bundle = good.clone();
            bundle.signed_prekey_signature = signature;
            if !with_kem {
                bundle.kem_prekey = None;
            }
            let error = initiate(&alice, &bundle, mode, &TrustAll, &mut rng).unwrap_err();
            assert_eq!(error, Error::BadSignedPreKeySignature);
        }
    }

    let typed = kem_public.encode();
    let bad_kem = [
        flip(&kem_signature, 5),
        mallory.sign(&typed, &mut rng),
        bob.identity.sign(&typed[1..], &mut rng),
        good.signed_prekey_signature,
    ];
    for signature in bad_kem {
        let mut bundle = good.clone();
        bundle.kem_prekey = Some((kem_public.clone(), signature));
        let error =
            initiate(&alice, &bundle, AgreementMode::Pqxdh, &TrustAll, &mut rng).unwrap_err();
        assert_eq!(error, Error::BadKemPreKeySignature);
    }
    // A KEM key swapped for another one under the original signature.
    let other = KemKeyPair::generate(KemKeyType::Kyber1024, &mut rng);
    let mut bundle = good.clone();
    bundle.kem_prekey = Some((other.public_key().clone(), kem_signature));
    let error = initiate(&alice, &bundle, AgreementMode::Pqxdh, &TrustAll, &mut rng).unwrap_err();
    assert_eq!(error, Error::BadKemPreKeySignature);
    assert!(initiate(&alice, &good, AgreementMode::Pqxdh, &TrustAll, &mut rng).is_ok());
}

/// PQXDH requires the KEM parts on both sides; classic X3DH refuses them. Each
/// combination has its own error.
#[test]
fn kem_parts_must_match_the_mode() {
    let mut rng = test_rng(12);
    let alice = IdentityKeyPair::generate(&mut rng);
    let bob = Bob::generate(KemKeyType::Kyber1024, &mut rng);
    let with_kem = bob.bundle(true, false, &mut rng);
    let without_kem = bob.bundle(false, false, &mut rng);

    assert_eq!(
        initiate(
            &alice,
            &without_kem,
            AgreementMode::Pqxdh,
            &TrustAll,
            &mut rng
        )
        .unwrap_err(),
        Error::MissingKemPreKey
    );
    assert_eq!(
        initiate(
            &alice,
            &with_kem,
            AgreementMode::ClassicX3dh,
            &TrustAll,
            &mut rng
        )
        .unwrap_err(),
        Error::ModeMismatch
    );

    let pq = initiate(&alice, &with_kem, AgreementMode::Pqxdh, &TrustAll, &mut rng).unwrap();
    let classic = initiate(
        &alice,
        &without_kem,
        AgreementMode::ClassicX3dh,
        &TrustAll,
        &mut rng,
    )
    .unwrap();
    let respond_to = |base: &PublicKey, ciphertext, prekeys: ResponderPreKeys<'_>, mode| {
        respond(
            &bob.identity,
            &prekeys,
            &alice.identity_key(),
            base,
            ciphertext,
            mode,
            &TrustAll,
        )
    };
    // PQXDH responder: no ciphertext, or no KEM secret key.
    assert_eq!(
        respond_to(
            &classic.base_key(),
            None,
            bob.prekeys(true, false),
            AgreementMode::Pqxdh
        )
        .unwrap_err(),
        Error::MissingKemPreKey
    );
    assert_eq!(
        respond_to(
            &pq.base_key(),
            pq.kem_ciphertext(),
            bob.prekeys(false, false),
            AgreementMode::Pqxdh
        )
        .unwrap_err(),
        Error::MissingKemPreKey
    );
    // Classic responder given a ciphertext.
    assert_eq!(
        respond_to(
            &pq.base_key(),
            pq.kem_ciphertext(),
            bob.prekeys(true, false),
            AgreementMode::ClassicX3dh
        )
        .unwrap_err(),
        Error::ModeMismatch
    );
    // Classic responder that happens to hold a KEM key ignores it.
    let finished = respond_to(
        &classic.base_key(),
        None,
        bob.prekeys(true, false),
        AgreementMode::ClassicX3dh,
    )
    .unwrap();
    assert!(finished == *classic.secrets());
    assert!(
        AgreementMode::default() == AgreementMode::Pqxdh,
        "libsignal's mode is the default"
    );
}

/// A ciphertext for one KEM cannot be opened with a key of the other.
#[test]
fn kem_types_must_agree() {
    let mut rng = test_rng(13);
    let alice = IdentityKeyPair::generate(&mut rng);
    let bob = Bob::generate(KemKeyType::MlKem1024, &mut rng);
    let kyber = KemKeyPair::generate(KemKeyType::Kyber1024, &mut rng);
    let started = initiate(
        &alice,
        &bob.bundle(true, false, &mut rng),
        AgreementMode::Pqxdh,
        &TrustAll,
        &mut rng,
    )
    .unwrap();
    let prekeys = ResponderPreKeys {
        kem_prekey: Some(kyber.secret_key()),
        ..bob.prekeys(true, false)
    };
    let error = respond(
        &bob.identity,
        &prekeys,
        &alice.identity_key(),
        &started.base_key(),
        started.kem_ciphertext(),
        AgreementMode::Pqxdh,
        &TrustAll,
    )
    .unwrap_err();
    assert_eq!(error, Error::Core(hush_core::Error::KemTypeMismatch));
}

/// Trust is asked about the peer's identity on both sides; `Untrusted` and `Changed` are
/// distinct errors; a closure works as an `IdentityTrust`.
#[test]
fn trust_decisions_are_the_callers() {
    let mut rng = test_rng(14);
    let alice = IdentityKeyPair::generate(&mut rng);
    let bob = Bob::generate(KemKeyType::Kyber1024, &mut rng);
    let bundle = bob.bundle(true, true, &mut rng);
    let started = initiate(&alice, &bundle, AgreementMode::Pqxdh, &TrustAll, &mut rng).unwrap();

    for (decision, expected) in [
        (Trust::Untrusted, Error::UntrustedIdentity),
        (Trust::Changed, Error::IdentityChanged),
    ] {
        let asked = RefCell::new(Vec::new());
        let trust = |identity: &IdentityKey| {
            asked.borrow_mut().push(*identity);
            decision
        };
        assert_eq!(
            initiate(&alice, &bundle, AgreementMode::Pqxdh, &trust, &mut rng).unwrap_err(),
            expected
        );
        let error = respond(
            &bob.identity,
            &bob.prekeys(true, true),
            &alice.identity_key(),
            &started.base_key(),
            started.kem_ciphertext(),
            AgreementMode::Pqxdh,
            &trust,
        )
        .unwrap_err();
        assert_eq!(error, expected);
        assert_eq!(
            *asked.borrow(),
            [bob.identity.identity_key(), alice.identity_key()]
        );
        assert_eq!(
            require_trusted(&trust, &alice.identity_key()),
            Err(expected)
        );
    }
    let trusted = |_: &IdentityKey| Trust::Trusted;
    assert_eq!(require_trusted(&trusted, &alice.identity_key()), Ok(()));
    assert_eq!(require_trusted(&TrustAll, &alice.identity_key()), Ok(()));
    assert_ne!(Error::UntrustedIdentity, Error::IdentityChanged);
}

/// Small-order keys make an X25519 output all zero; hush refuses them wherever they
/// appear: a (validly signed) signed prekey, a one-time prekey, the base key.
#[test]
fn small_order_keys_are_refused() {
    let mut rng = test_rng(15);
    let alice = IdentityKeyPair::generate(&mut rng);
    let bob = Bob::generate(KemKeyType::Kyber1024, &mut rng);
    let zero = PublicKey::from_montgomery_bytes([0; 32]);
    let one = {
        let mut u = [0u8; 32];
        u[0] = 1;
        PublicKey::from_montgomery_bytes(u)
    };
    for small in [zero, one] {
        let mut bundle = bob.bundle(true, true, &mut rng);
        bundle.signed_prekey = small;
        bundle.signed_prekey_signature = bob.identity.sign(&small.encode(), &mut rng);
        let error =
            initiate(&alice, &bundle, AgreementMode::Pqxdh, &TrustAll, &mut rng).unwrap_err();
        assert_eq!(error, Error::Core(hush_core::Error::NonContributory));

        let mut bundle = bob.bundle(true, true, &mut rng);
        bundle.one_time_prekey = Some(small);
        let error =
            initiate(&alice, &bundle, AgreementMode::Pqxdh, &TrustAll, &mut rng).unwrap_err();
        assert_eq!(error, Error::Core(hush_core::Error::NonContributory));

        let started = initiate(
            &alice,
            &bob.bundle(true, false, &mut rng),
            AgreementMode::Pqxdh,
            &TrustAll,
            &mut rng,
        )
        .unwrap();
        let error = respond(
            &bob.identity,
            &bob.prekeys(true, false),
            &alice.identity_key(),
            &small,
            started.kem_ciphertext(),
            AgreementMode::Pqxdh,
            &TrustAll,
        )
        .unwrap_err();
        assert_eq!(error, Error::Core(hush_core::Error::NonContributory));
    }
}

/// Secrets never show in `Debug`.
#[test]
fn debug_output_shows_no_secrets() {
    let mut rng = test_rng(16);
    let alice = IdentityKeyPair::generate(&mut rng);
    let bob = Bob::generate(KemKeyType::Kyber1024, &mut rng);
    let started = initiate(
        &alice,
        &bob.bundle(true, false, &mut rng),
        AgreementMode::Pqxdh,
        &TrustAll,
        &mut rng,
    )
    .unwrap();
    assert_eq!(format!("{:?}", started.secrets()), "SessionSecrets { .. }");
    let shown = format!("{started:?}");
    assert!(
        shown.starts_with("Initiated { base_key: PublicKey(05"),
        "{shown}"
    );
    assert!(shown.ends_with("kem: Some(Kyber1024), .. }"), "{shown}");
    let (secrets, base_key, ciphertext) = started.into_parts();
    assert_eq!(secrets.root_key().len(), 32);
    assert_eq!(base_key.encode()[0], 0x05);
    assert!(ciphertext.is_some());
}
