//! hush-core against the vectors libsignal v0.91.0 produced (`test-vectors/libsignal/`).

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers outside #[test] fns: a failed unwrap is a failed test"
)]

use hush_core::kem::{KemCiphertext, KemKeyPair, KemKeyType, KemPublicKey, KemSecretKey};
use hush_core::{Fingerprint, IdentityKey, PrivateKey, PublicKey, ScannableFingerprint, Signature};
use hush_test_support::ReplayRng;
use serde::Deserialize;

fn load<T: for<'de> Deserialize<'de>>(name: &str) -> T {
    let path = format!(
        "{}/../../test-vectors/libsignal/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

#[derive(Deserialize)]
struct XeddsaFile {
    cases: Vec<XeddsaCase>,
}

#[derive(Deserialize, Debug)]
struct XeddsaCase {
    id: u32,
    private_key: Option<String>,
    public_key: String,
    public_key_serialized: String,
    message: String,
    random: Option<String>,
    signature: String,
    valid: bool,
}

#[test]
fn xeddsa_verdicts_and_signatures_match_libsignal() {
    let file: XeddsaFile = load("xeddsa.json");
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

#[derive(Deserialize)]
struct FingerprintFile {
    cases: Vec<FingerprintCase>,
}

#[derive(Deserialize)]
struct FingerprintCase {
    version: u32,
    iterations: u32,
    local_identifier: String,
    local_identity_key: String,
    remote_identifier: String,
    remote_identity_key: String,
    displayable: String,
    scannable_local: String,
    scannable_remote: String,
    compare_local_vs_remote: bool,
}

#[test]
fn fingerprints_match_libsignal() {
    let file: FingerprintFile = load("fingerprint.json");
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

#[derive(Deserialize)]
struct KemFile {
    cases: Vec<KemCase>,
}

#[derive(Deserialize)]
struct KemCase {
    key_type: String,
    keygen_rng: String,
    public: String,
    secret: String,
    encapsulate_rng: String,
    ciphertext: String,
    shared_secret: String,
}

#[test]
fn kyber1024_matches_libsignal() {
    let file: KemFile = load("kem_kyber1024.json");
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
