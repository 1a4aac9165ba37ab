//! hush-core against the vectors libsignal v0.91.0 produced (`test-vectors/libsignal/`).

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers outside #[test] fns: a failed unwrap is a failed test"
)]

use hush_core::kem::{KemCiphertext, KemKeyPair, KemKeyType, KemPublicKey, KemSecretKey};
use hush_core::{Fingerprint, IdentityKey, PrivateKey, PublicKey, ScannableFingerprint, Signature};
use hush_test_support::ReplayRng;
use hush_test_support::libsignal::{Cases, fingerprint, kem, xeddsa};

fn load<T: serde::de::DeserializeOwned>(name: &str) -> T {
    hush_test_support::libsignal::load(name).unwrap()
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

#[test]
fn xeddsa_verdicts_and_signatures_match_libsignal() {
    let file: Cases<xeddsa::Case> = load("xeddsa.json");
    assert!(file.cases.len() >= 20);
    for case in &file.cases {
        let key = PublicKey::decode(&unhex(&case.public_key_serialized)).unwrap();
        assert_eq!(
            hex::encode(key.as_montgomery_bytes()),
            case.public_key,
            "case {case:?}"
        );
        let signature = Signature::decode(&unhex(&case.signature)).unwrap();
        let message = unhex(&case.message);
        assert_eq!(
            key.verify(&message, &signature),
            case.valid,
            "xeddsa.json case {}",
            case.id
        );

        if let (Some(private), Some(random)) = (&case.private_key, &case.random) {
            let private = PrivateKey::decode(&unhex(private)).unwrap();
            assert_eq!(private.public_key(), key, "case {}", case.id);
            let mut rng = ReplayRng::new(unhex(random));
            let resigned = private.sign(&message, &mut rng);
            assert_eq!(rng.remaining(), 0);
            assert_eq!(
                resigned, signature,
                "xeddsa.json case {}: re-signature differs",
                case.id
            );
        }
    }
}

#[test]
fn fingerprints_match_libsignal() {
    let file: Cases<fingerprint::Case> = load("fingerprint.json");
    for (index, case) in file.cases.iter().enumerate() {
        let local_key = IdentityKey::decode(&unhex(&case.local_identity_key)).unwrap();
        let remote_key = IdentityKey::decode(&unhex(&case.remote_identity_key)).unwrap();
        let (local_id, remote_id) = (
            unhex(&case.local_identifier),
            unhex(&case.remote_identifier),
        );
        let local = Fingerprint::new(
            case.version,
            case.iterations,
            &local_id,
            &local_key,
            &remote_id,
            &remote_key,
        )
        .unwrap();
        let remote = Fingerprint::new(
            case.version,
            case.iterations,
            &remote_id,
            &remote_key,
            &local_id,
            &local_key,
        )
        .unwrap();
        assert_eq!(
            local.displayable().to_string(),
            case.displayable,
            "case {index}"
        );
        assert_eq!(
            remote.displayable().to_string(),
            case.displayable,
            "case {index}"
        );
        assert_eq!(
            hex::encode(local.scannable().encode()),
            case.scannable_local,
            "case {index}"
        );
        assert_eq!(
            hex::encode(remote.scannable().encode()),
            case.scannable_remote,
            "case {index}"
        );
        let scanned = ScannableFingerprint::decode(&unhex(&case.scannable_remote)).unwrap();
        assert_eq!(
            local.scannable().compare(&scanned).unwrap(),
            case.compare_local_vs_remote,
            "case {index}"
        );
    }
}

#[test]
fn kyber1024_matches_libsignal() {
    let file: Cases<kem::Case> = load("kem_kyber1024.json");
    for (index, case) in file.cases.iter().enumerate() {
        assert_eq!(case.key_type, "Kyber1024");
        let mut rng = ReplayRng::new(unhex(&case.keygen_rng));
        let pair = KemKeyPair::generate(KemKeyType::Kyber1024, &mut rng);
        assert_eq!(rng.remaining(), 0);
        assert_eq!(
            hex::encode(pair.public_key().encode()),
            case.public,
            "case {index}"
        );
        assert_eq!(
            hex::encode(pair.secret_key().encode().as_slice()),
            case.secret,
            "case {index}"
        );

        let public = KemPublicKey::decode(&unhex(&case.public)).unwrap();
        let mut rng = ReplayRng::new(unhex(&case.encapsulate_rng));
        let (ciphertext, shared) = public.encapsulate(&mut rng);
        assert_eq!(rng.remaining(), 0);
        assert_eq!(
            hex::encode(ciphertext.encode()),
            case.ciphertext,
            "case {index}"
        );
        assert_eq!(
            hex::encode(shared.as_bytes()),
            case.shared_secret,
            "case {index}"
        );

        let secret = KemSecretKey::decode(&unhex(&case.secret)).unwrap();
        let recovered = secret
            .decapsulate(&KemCiphertext::decode(&unhex(&case.ciphertext)).unwrap())
            .unwrap();
        assert_eq!(
            hex::encode(recovered.as_bytes()),
            case.shared_secret,
            "case {index}"
        );
        KemKeyPair::decode(&unhex(&case.public), &unhex(&case.secret)).unwrap();
    }
}
