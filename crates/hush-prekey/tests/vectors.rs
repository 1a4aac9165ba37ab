//! hush's own prekey vectors (`test-vectors/prekey/`, written by `hush vectors generate`):
//! `hush-prekey` must give every recorded verdict, and the independent Python checker
//! (`check_prekey_vectors.py`: its own protobuf reader, Ed25519 arithmetic and Kyber check)
//! must compute the same verdicts from the bytes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    reason = "test helpers outside #[test] fns: a failed unwrap or panic is a failed test"
)]

use hush_core::IdentityKey;
use hush_prekey::{Error, PreKeyBundle, UploadError, UploadPolicy, validate_upload};
use hush_test_support::test_rng;
use serde_json::{Value, json};

fn dir() -> String {
    format!("{}/../../test-vectors/prekey", env!("CARGO_MANIFEST_DIR"))
}

fn load(name: &str) -> Value {
    let path = format!("{}/{name}", dir());
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
        .unwrap()
}

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

#[test]
fn python_cross_check_agrees_with_every_recorded_verdict() {
    let script = format!("{}/check_prekey_vectors.py", dir());
    let output = std::process::Command::new("python3")
        .arg(&script)
        .arg(dir())
        .output()
        .expect("python3 is needed to cross-check the prekey vectors");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.ends_with("passed, 0 failed") && !last.starts_with("0 passed"),
        "{stdout}"
    );
}

#[test]
fn uploads_get_the_recorded_verdicts() {
    let file = load("prekey_uploads.json");
    let cases: Vec<&Value> = file["valid"]
        .as_array()
        .unwrap()
        .iter()
        .chain(file["invalid"].as_array().unwrap())
        .collect();
    assert!(cases.len() >= 20);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let mut policy = UploadPolicy::default();
        if let Some(v) = case["policy"]["max_upload_bytes"].as_u64() {
            policy.max_upload_bytes = usize::try_from(v).unwrap();
        }
        if let Some(v) = case["policy"]["max_one_time_prekeys"].as_u64() {
            policy.max_one_time_prekeys = usize::try_from(v).unwrap();
        }
        if let Some(v) = case["policy"]["max_kem_prekeys"].as_u64() {
            policy.max_kem_prekeys = usize::try_from(v).unwrap();
        }
        let key = IdentityKey::decode(&unhex(&case["identity_key"])).unwrap();
        let result = validate_upload(
            &key,
            &unhex(&case["upload"]),
            &policy,
            case["now_ms"].as_u64().unwrap(),
            &mut test_rng(1),
        );
        let verdict = match &result {
            Ok(upload) => {
                let summary = json!({
                    "signed_prekey_id": upload.signed_prekey().map(|k| k.id()),
                    "one_time_prekey_ids": upload.one_time_prekeys().iter().map(|k| k.id()).collect::<Vec<_>>(),
                    "kem_prekey_ids": upload.kem_prekeys().iter().map(|k| k.id()).collect::<Vec<_>>(),
                    "last_resort_kem_prekey_id": upload.last_resort_kem_prekey().map(|k| k.id()),
                });
                assert_eq!(case["summary"], summary, "{name}");
                "valid"
            }
            Err(UploadError::Rejected { problems }) => {
                let got: Vec<Value> = problems
                    .iter()
                    .map(|p| json!({"kind": p.kind.code(), "position": p.position, "id": p.id, "issue": p.issue.code()}))
                    .collect();
                assert_eq!(case["problems"], Value::Array(got), "{name}");
                "rejected"
            }
            Err(UploadError::Empty) => "empty",
            Err(UploadError::TooLarge { .. }) => "too_large",
            Err(UploadError::UnsupportedVersion(_)) => "unsupported_version",
            Err(UploadError::Truncated) => "truncated",
            Err(UploadError::Malformed(_)) => "malformed",
            Err(UploadError::TooManyKeys { .. }) => "too_many_keys",
            Err(other) => panic!("{name}: {other:?}"),
        };
        assert_eq!(case["verdict"], verdict, "{name}");
    }
}

#[test]
fn bundles_get_the_recorded_verdicts() {
    let file = load("prekey_bundles.json");
    for case in file["valid"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let bytes = unhex(&case["bundle"]);
        let bundle = PreKeyBundle::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            bundle.verify_signatures().is_ok(),
            case["signatures_valid"].as_bool().unwrap(),
            "{name}"
        );
        assert_eq!(
            hex::encode(bundle.identity_key().encode()),
            case["identity_key"],
            "{name}"
        );
        assert_eq!(
            hex::encode(bundle.kem_prekey().encode()),
            case["kem_prekey"],
            "{name}"
        );
        assert_eq!(
            bundle.one_time_prekey().map(|k| k.id()),
            case["one_time_prekey_id"]
                .as_u64()
                .map(|v| u32::try_from(v).unwrap())
        );
        assert_eq!(bundle.encode(), bytes, "{name}");
    }
    for case in file["invalid"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let error = PreKeyBundle::decode(&unhex(&case["bundle"])).expect_err(name);
        let class = match error {
            Error::Empty(_) => "empty",
            Error::TooLarge { .. } => "too_large",
            Error::UnsupportedVersion { .. } => "unsupported_version",
            Error::Truncated(_) => "truncated",
            Error::Malformed { .. } => "malformed",
            Error::InvalidField { .. } => "invalid_field",
            Error::IdOutOfRange { .. } => "id_out_of_range",
            Error::DeviceIdOutOfRange(_) => "device_id_out_of_range",
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!(case["error"], class, "{name}");
    }
}
