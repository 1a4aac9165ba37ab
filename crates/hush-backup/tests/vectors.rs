//! hush's own backup vectors (`test-vectors/backup/`, written by `hush vectors generate`):
//! `hush-backup` must give every recorded result, the recorded Argon2id outputs must be
//! what the `argon2` crate computes, and the independent Python checker
//! (`check_backup_vectors.py`, written from `docs/wire/backup.md` on the self-tested
//! primitives of `test-vectors/tools/hushpy.py`) must compute the same results from the
//! bytes — and must notice when a recorded result is wrong.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] fns: a failed unwrap or panic is a failed test"
)]

use std::collections::BTreeSet;
use std::path::Path;

use hush_backup::{
    Argon2Params, BackupKey, Decryptor, Encryptor, Error, PasswordWrappedKey, RecoveryCode,
};
use hush_test_support::ReplayRng;
use serde_json::{Value, json};

fn dir() -> String {
    format!("{}/../../test-vectors/backup", env!("CARGO_MANIFEST_DIR"))
}

fn load(name: &str) -> Value {
    let path = format!("{}/{name}", dir());
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
        .unwrap()
}

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn cases<'a>(file: &'a Value, kind: &str) -> &'a Vec<Value> {
    let cases = file[kind].as_array().unwrap();
    assert!(!cases.is_empty(), "no {kind} cases");
    cases
}

fn key_of(case: &Value) -> BackupKey {
    BackupKey::from_bytes(unhex(&case["key"]).try_into().unwrap())
}

/// An error as the files write it: the variant's name and its detail.
fn error_fields(error: &Error) -> Value {
    match error {
        Error::Malformed(what) => json!({ "error": "Malformed", "what": what }),
        Error::NotABackup => json!({ "error": "NotABackup" }),
        Error::UnknownVersion(v) => json!({ "error": "UnknownVersion", "version": v }),
        Error::WrongKey => json!({ "error": "WrongKey" }),
        Error::HeaderAuthentication => json!({ "error": "HeaderAuthentication" }),
        Error::CorruptedChunk { index } => json!({ "error": "CorruptedChunk", "index": index }),
        Error::Truncated { chunks_read } => {
            json!({ "error": "Truncated", "chunks_read": chunks_read })
        }
        Error::WrongPassword => json!({ "error": "WrongPassword" }),
        Error::RecoveryCodeLength { found } => {
            json!({ "error": "RecoveryCodeLength", "found": found })
        }
        Error::RecoveryCodeCharacter { position } => {
            json!({ "error": "RecoveryCodeCharacter", "position": position })
        }
        Error::RecoveryCodeTypo => json!({ "error": "RecoveryCodeTypo" }),
        Error::InvalidParameters(what) => json!({ "error": "InvalidParameters", "what": what }),
        other => panic!("no vector name for {other:?}"),
    }
}

/// The error a case records.
fn expected_error(case: &Value) -> Value {
    let mut fields = serde_json::Map::new();
    for name in [
        "error",
        "index",
        "chunks_read",
        "version",
        "what",
        "position",
        "found",
    ] {
        if let Some(v) = case.get(name) {
            fields.insert(name.to_owned(), v.clone());
        }
    }
    Value::Object(fields)
}

fn error_names(cases: &[Value]) -> BTreeSet<String> {
    cases
        .iter()
        .map(|c| c["error"].as_str().unwrap().to_owned())
        .collect()
}

fn decrypt(key: &BackupKey, context: &[u8], stream: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    Decryptor::new(key)
        .context(context)
        .decrypt(stream, &mut out)
        .map(|_| out)
}

fn argon2id(params: Argon2Params, password: &[u8], salt: &[u8]) -> Vec<u8> {
    let p = argon2::Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        Some(32),
    )
    .unwrap();
    let mut out = [0u8; 32];
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, p)
        .hash_password_into(password, salt, &mut out)
        .unwrap();
    out.to_vec()
}

fn run_python(directory: &Path) -> (bool, String) {
    let script = format!("{}/check_backup_vectors.py", dir());
    let output = std::process::Command::new("python3")
        .arg(&script)
        .arg(directory)
        .output()
        .expect("python3 is needed to cross-check the backup vectors");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn python_cross_check_agrees_with_every_recorded_result() {
    let (ok, out) = run_python(Path::new(&dir()));
    assert!(ok, "{out}");
    let last = out.lines().last().unwrap_or_default();
    let passed: u32 = last.split(' ').next().unwrap().parse().unwrap();
    assert!(last.ends_with("passed, 0 failed") && passed >= 100, "{out}");
}

#[test]
fn python_cross_check_notices_wrong_records() {
    let tmp = tempfile::tempdir().unwrap();
    let mut codes = load("backup_recovery_codes.json");
    let mut streams = load("backup_streams.json");
    let mut wraps = load("backup_password_wraps.json");
    // One wrong record per file: a parse error position, a chunk index, an Argon2 output.
    let character = codes["invalid"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["error"] == "RecoveryCodeCharacter")
        .unwrap();
    character["position"] = json!(character["position"].as_u64().unwrap() + 1);
    let corrupted = streams["invalid"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["error"] == "CorruptedChunk")
        .unwrap();
    corrupted["index"] = json!(corrupted["index"].as_u64().unwrap() + 1);
    let mut output = unhex(&wraps["valid"][0]["argon2id_output"]);
    output[0] ^= 1;
    wraps["valid"][0]["argon2id_output"] = json!(hex::encode(output));
    for (name, file) in [
        ("backup_recovery_codes.json", &codes),
        ("backup_streams.json", &streams),
        ("backup_password_wraps.json", &wraps),
    ] {
        std::fs::write(tmp.path().join(name), file.to_string()).unwrap();
    }
    let (ok, out) = run_python(tmp.path());
    assert!(!ok, "{out}");
    let fails: Vec<&str> = out.lines().filter(|l| l.starts_with("FAIL")).collect();
    for file in [
        "backup_recovery_codes.json",
        "backup_streams.json",
        "backup_password_wraps.json",
    ] {
        assert!(fails.iter().any(|l| l.contains(file)), "{out}");
    }
}

#[test]
fn recovery_codes_get_the_recorded_results() {
    let file = load("backup_recovery_codes.json");
    for case in cases(&file, "keys") {
        let key = key_of(case);
        assert_eq!(
            key.recovery_code().to_grouped_string().as_str(),
            case["recovery_code"].as_str().unwrap()
        );
        assert_eq!(key.id().to_string(), case["backup_id"].as_str().unwrap());
        let parsed = RecoveryCode::parse(case["recovery_code"].as_str().unwrap()).unwrap();
        assert_eq!(BackupKey::from_recovery_code(&parsed), key);
    }
    for case in cases(&file, "valid") {
        let parsed = RecoveryCode::parse(case["text"].as_str().unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", case["name"]));
        assert_eq!(BackupKey::from_recovery_code(&parsed), key_of(case));
    }
    let invalid = cases(&file, "invalid");
    for case in invalid {
        let error = RecoveryCode::parse(case["text"].as_str().unwrap())
            .map(|_| ())
            .expect_err(case["name"].as_str().unwrap());
        assert_eq!(
            error_fields(&error),
            expected_error(case),
            "{}",
            case["name"]
        );
    }
    assert_eq!(
        error_names(invalid),
        [
            "RecoveryCodeCharacter",
            "RecoveryCodeLength",
            "RecoveryCodeTypo"
        ]
        .map(String::from)
        .into()
    );
}

#[test]
fn streams_get_the_recorded_results() {
    let file = load("backup_streams.json");
    for case in cases(&file, "valid") {
        let name = case["name"].as_str().unwrap();
        let key = key_of(case);
        let context = unhex(&case["context"]);
        let stream = unhex(&case["stream"]);
        let plaintext = unhex(&case["plaintext"]);
        assert_eq!(
            decrypt(&key, &context, &stream).as_deref(),
            Ok(&plaintext[..]),
            "{name}"
        );
        // Encrypting again with the recorded salt gives the same bytes.
        let mut rng = ReplayRng::new(unhex(&case["salt"]));
        let mut again = Vec::new();
        Encryptor::new(&key)
            .context(&context)
            .chunk_size(u32::try_from(case["chunk_size"].as_u64().unwrap()).unwrap())
            .unwrap()
            .encrypt(&mut rng, &plaintext[..], &mut again)
            .unwrap();
        assert_eq!(again, stream, "{name}");
        assert_eq!(rng.remaining(), 0, "{name}");
        assert!(!rng.overrun(), "{name}");
    }
    let invalid = cases(&file, "invalid");
    for case in invalid {
        let error = decrypt(
            &key_of(case),
            &unhex(&case["context"]),
            &unhex(&case["stream"]),
        )
        .expect_err(case["name"].as_str().unwrap());
        assert_eq!(
            error_fields(&error),
            expected_error(case),
            "{}",
            case["name"]
        );
    }
    assert_eq!(
        error_names(invalid),
        [
            "CorruptedChunk",
            "HeaderAuthentication",
            "Malformed",
            "NotABackup",
            "Truncated",
            "UnknownVersion",
            "WrongKey",
        ]
        .map(String::from)
        .into()
    );
}

#[test]
fn password_wraps_get_the_recorded_results() {
    let file = load("backup_password_wraps.json");
    for case in cases(&file, "valid") {
        let name = case["name"].as_str().unwrap();
        let encoded = unhex(&case["wrapped"]);
        let password = unhex(&case["password"]);
        let salt = unhex(&case["salt"]);
        let wrapped = PasswordWrappedKey::decode(&encoded).unwrap();
        let params = Argon2Params {
            memory_kib: u32::try_from(case["memory_kib"].as_u64().unwrap()).unwrap(),
            iterations: u32::try_from(case["iterations"].as_u64().unwrap()).unwrap(),
            parallelism: u32::try_from(case["parallelism"].as_u64().unwrap()).unwrap(),
        };
        assert_eq!(wrapped.params(), params, "{name}");
        assert_eq!(
            argon2id(params, &password, &salt),
            unhex(&case["argon2id_output"]),
            "{name}"
        );
        let key = wrapped.unwrap(&password).unwrap();
        assert_eq!(key, key_of(case), "{name}");
        let mut rng = ReplayRng::new(salt);
        let again = PasswordWrappedKey::wrap(&key, &password, params, &mut rng).unwrap();
        assert_eq!(again.encode(), encoded, "{name}");
        assert_eq!(rng.remaining(), 0, "{name}");
    }
    let invalid = cases(&file, "invalid");
    for case in invalid {
        let name = case["name"].as_str().unwrap();
        let encoded = unhex(&case["wrapped"]);
        let error = if case.get("password").is_some() {
            let password = unhex(&case["password"]);
            let wrapped = PasswordWrappedKey::decode(&encoded).unwrap();
            assert_eq!(
                argon2id(wrapped.params(), &password, &encoded[13..29]),
                unhex(&case["argon2id_output"]),
                "{name}"
            );
            wrapped.unwrap(&password).map(|_| ()).expect_err(name)
        } else {
            PasswordWrappedKey::decode(&encoded)
                .map(|_| ())
                .expect_err(name)
        };
        assert_eq!(error_fields(&error), expected_error(case), "{name}");
    }
    assert_eq!(
        error_names(invalid),
        [
            "InvalidParameters",
            "Malformed",
            "UnknownVersion",
            "WrongPassword"
        ]
        .map(String::from)
        .into()
    );
}
