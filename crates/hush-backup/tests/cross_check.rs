//! Cross-check against an independent implementation: `check_backup.py`, written from
//! `docs/wire/backup.md` with the stdlib-only primitives of `test-vectors/tools/hushpy.py`
//! (themselves checked against published answers), recomputes every recovery code, key
//! id, stream decryption (or the failure class of a damaged stream) and password unwrap
//! that this test records from the Rust implementation.
//!
//! The Argon2id step of the password wrap is the one thing Python's standard library
//! cannot do: the test computes it with the `argon2` crate directly (and
//! `password::tests::argon2id_reference_vector` pins hush's use of Argon2id to the
//! reference implementation's test vector).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    reason = "tests"
)]

use hush_backup::stream::HEADER_LENGTH;
use hush_backup::{
    Argon2Params, BackupKey, Decryptor, Encryptor, Error, PasswordWrappedKey, RecoveryCode,
};
use hush_test_support::test_rng;
use serde_json::{Value, json};

fn plaintext(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

fn stream_verdict(result: Result<Vec<u8>, Error>) -> Value {
    match result {
        Ok(plain) => json!(["ok", hex::encode(plain)]),
        Err(Error::NotABackup) => json!(["not_a_backup", null]),
        Err(Error::Truncated { chunks_read }) => json!(["truncated", chunks_read]),
        Err(Error::UnknownVersion(v)) => json!(["unknown_version", v]),
        Err(Error::Malformed(what)) => json!(["malformed", what]),
        Err(Error::WrongKey) => json!(["wrong_key", null]),
        Err(Error::HeaderAuthentication) => json!(["header_authentication", null]),
        Err(Error::CorruptedChunk { index }) => json!(["corrupted", index]),
        Err(other) => panic!("no Python class for {other:?}"),
    }
}

fn decrypt(key: &BackupKey, context: &[u8], backup: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    Decryptor::new(key)
        .context(context)
        .decrypt(backup, &mut out)
        .map(|_| out)
}

fn encrypt(key: &BackupKey, context: &[u8], chunk: u32, data: &[u8], seed: u64) -> Vec<u8> {
    let mut out = Vec::new();
    Encryptor::new(key)
        .context(context)
        .chunk_size(chunk)
        .unwrap()
        .encrypt(&mut test_rng(seed), data, &mut out)
        .unwrap();
    out
}

fn argon2id(params: Argon2Params, password: &[u8], salt: &[u8]) -> [u8; 32] {
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
    out
}

fn cases() -> Value {
    // Keys, their recovery codes and ids.
    let mut keys_list = vec![
        BackupKey::from_bytes([0; 32]),
        BackupKey::from_bytes([0xff; 32]),
        BackupKey::from_bytes(core::array::from_fn(|i| i as u8)),
    ];
    keys_list.extend((0..5).map(|seed| BackupKey::generate(&mut test_rng(seed))));
    let keys: Vec<Value> = keys_list
        .iter()
        .map(|key| {
            json!({
                "key": hex::encode(*key.to_bytes()),
                "recovery_code": key.recovery_code().to_grouped_string().as_str(),
                "id": key.id().to_string(),
            })
        })
        .collect();

    // Recovery-code parsing, valid and not.
    let shown = keys_list[3].recovery_code().to_grouped_string().to_string();
    let compact: String = shown.chars().filter(|c| *c != ' ').collect();
    let mut typo = compact.clone().into_bytes();
    typo[10] = if typo[10] == b'A' { b'B' } else { b'A' };
    let mut swapped = compact.clone().into_bytes();
    let at = (0..63).find(|&i| swapped[i] != swapped[i + 1]).unwrap();
    swapped.swap(at, at + 1);
    let texts = vec![
        shown.clone(),
        shown.to_lowercase().replace(' ', "-"),
        format!(" {}\n", shown.replace(' ', "\t")),
        compact.replace('0', "o").replace('1', "L"),
        compact.replace('1', "i"),
        String::from_utf8(typo).unwrap(),
        String::from_utf8(swapped).unwrap(),
        format!("{}U", &compact[..63]),
        format!("é{}", &compact[1..]),
        compact[..60].to_owned(),
        format!("{compact}0"),
        String::new(),
    ];
    let recovery_parse: Vec<Value> = texts
        .iter()
        .map(|text| {
            let verdict = match RecoveryCode::parse(text) {
                Ok(code) => json!([
                    "ok",
                    hex::encode(*BackupKey::from_recovery_code(&code).to_bytes())
                ]),
                Err(Error::RecoveryCodeCharacter { position }) => json!(["character", position]),
                Err(Error::RecoveryCodeLength { found }) => json!(["length", found]),
                Err(Error::RecoveryCodeTypo) => json!(["typo", null]),
                Err(other) => panic!("{other:?}"),
            };
            json!({ "text": text, "verdict": verdict })
        })
        .collect();

    // Streams, valid and damaged.
    let key = BackupKey::generate(&mut test_rng(100));
    let other = BackupKey::generate(&mut test_rng(101));
    let mut streams = Vec::new();
    let mut add = |name: &str, key: &BackupKey, context: &[u8], backup: &[u8]| {
        streams.push(json!({
            "name": name,
            "key": hex::encode(*key.to_bytes()),
            "context": hex::encode(context),
            "backup": hex::encode(backup),
            "verdict": stream_verdict(decrypt(key, context, backup)),
        }));
    };
    for (i, len) in [0usize, 1, 1023, 1024, 1025, 3000].into_iter().enumerate() {
        let backup = encrypt(&key, b"", 1024, &plaintext(len), i as u64);
        add(&format!("{len} bytes"), &key, b"", &backup);
    }
    let bound = encrypt(&key, b"link transcript", 2048, &plaintext(5000), 7);
    add("context, 2 KiB chunks", &key, b"link transcript", &bound);
    add("wrong context", &key, b"link transcripT", &bound);
    add("wrong key", &other, b"link transcript", &bound);
    let base = encrypt(&key, b"", 1024, &plaintext(3000), 8);
    let record = 1024 + 16;
    add(
        "cut at a chunk boundary",
        &key,
        b"",
        &base[..HEADER_LENGTH + 2 * record],
    );
    add(
        "cut inside chunk 1",
        &key,
        b"",
        &base[..HEADER_LENGTH + record + 100],
    );
    add("cut inside the header", &key, b"", &base[..50]);
    let mut swapped = base.clone();
    swapped.copy_within(
        HEADER_LENGTH..HEADER_LENGTH + record,
        HEADER_LENGTH + record,
    );
    swapped[HEADER_LENGTH..HEADER_LENGTH + record]
        .copy_from_slice(&base[HEADER_LENGTH + record..HEADER_LENGTH + 2 * record]);
    add("chunks 0 and 1 swapped", &key, b"", &swapped);
    for (name, at) in [
        ("magic", 0),
        ("version", 8),
        ("id", 12),
        ("salt", 30),
        ("chunk size (in bounds)", 59),
        ("chunk size (out of bounds)", 57),
        ("tag", 70),
        ("chunk 1", HEADER_LENGTH + record + 5),
        ("last chunk", base.len() - 1),
    ] {
        let mut flipped = base.clone();
        flipped[at] ^= if at == 57 { 0x40 } else { 0x01 };
        add(&format!("flipped {name}"), &key, b"", &flipped);
    }
    let mut appended = base.clone();
    appended.extend_from_slice(&[0; 20]);
    add("bytes appended", &key, b"", &appended);

    // Password-wrapped keys, with the Argon2id output for Python to use.
    let small = Argon2Params {
        memory_kib: 7 * 1024,
        iterations: 5,
        parallelism: 1,
    };
    let wrapped = PasswordWrappedKey::wrap(&key, b"hunter2", small, &mut test_rng(9)).unwrap();
    let encoded = wrapped.encode();
    let salt = &encoded[13..29];
    let mut password = Vec::new();
    let mut add_pw = |name: &str, encoded: &[u8], params: Argon2Params, pw: &[u8]| {
        let verdict = match PasswordWrappedKey::decode(encoded).unwrap().unwrap(pw) {
            Ok(k) => json!(["ok", {
                "key": hex::encode(*k.to_bytes()),
                "params": [params.memory_kib, params.iterations, params.parallelism],
                "salt": hex::encode(&encoded[13..29]),
            }]),
            Err(Error::WrongPassword) => json!(["wrong_password", null]),
            Err(other) => panic!("{other:?}"),
        };
        password.push(json!({
            "name": name,
            "encoded": hex::encode(encoded),
            "kek": hex::encode(argon2id(params, pw, &encoded[13..29])),
            "verdict": verdict,
        }));
    };
    add_pw("valid", &encoded, small, b"hunter2");
    add_pw("wrong password", &encoded, small, b"hunter3");
    let mut more = encoded.clone();
    more[8] = 6;
    let more_params = Argon2Params {
        iterations: 6,
        ..small
    };
    add_pw("iterations raised", &more, more_params, b"hunter2");
    let mut flipped = encoded.clone();
    flipped[40] ^= 1;
    add_pw("ciphertext flipped", &flipped, small, b"hunter2");
    assert_eq!(salt.len(), 16);

    json!({
        "keys": keys,
        "recovery_parse": recovery_parse,
        "streams": streams,
        "password": password,
    })
}

#[test]
fn python_checker_agrees() {
    let cases = cases();
    // Every class is represented, so the checker is not agreeing with nothing.
    let verdicts: Vec<&str> = cases["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["verdict"][0].as_str().unwrap())
        .collect();
    for class in [
        "ok",
        "not_a_backup",
        "truncated",
        "unknown_version",
        "malformed",
        "wrong_key",
        "header_authentication",
        "corrupted",
    ] {
        assert!(verdicts.contains(&class), "{class} missing");
    }

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backup_cases.json");
    std::fs::write(&path, serde_json::to_string_pretty(&cases).unwrap()).unwrap();
    let script = format!("{}/tests/check_backup.py", env!("CARGO_MANIFEST_DIR"));
    let output = std::process::Command::new("python3")
        .arg(&script)
        .arg(&path)
        .output()
        .expect("python3 is needed for the independent cross-check");
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
