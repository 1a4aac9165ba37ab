//! hush's own backup vectors (`test-vectors/backup/`): `backup_recovery_codes.json`,
//! `backup_streams.json` and `backup_password_wraps.json`, valid and invalid examples of
//! the formats in `docs/wire/backup.md` with the result each must get.
//!
//! The generators make every key, salt and plaintext from seeded RNGs or fixed patterns,
//! so regenerating gives identical files; damaged examples are cut and patched here, byte
//! by byte, from valid ones. The runners put every example through `hush-backup`
//! (decoding, decrypting, and re-encrypting valid ones with the recorded salt replayed),
//! recompute the recorded HKDF outputs with `hush-core`, and recompute each recorded
//! Argon2id output with the `argon2` crate. Everything downstream of Argon2 is
//! cross-checked independently by `test-vectors/backup/check_backup_vectors.py` (plain
//! Python, written from the document), which `crates/hush-backup/tests/vectors.rs` runs.

use std::path::Path;

use hush_backup::stream::HEADER_LENGTH;
use hush_backup::{
    Argon2Params, BackupKey, Decryptor, Encryptor, Error, PasswordWrappedKey, RecoveryCode,
};
use hush_core::kdf::{hkdf_sha256_parts, hmac_sha256};
use hush_test_support::{ReplayRng, test_rng};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Generated, Report, expect, expect_bytes, read_json, unhex};

/// HKDF info label of the per-stream keys (`docs/wire/backup.md`), followed by the
/// stream's context.
const ENCRYPTION_LABEL: &[u8] = b"hush backup v1 encryption";

/// Bytes of HKDF output per stream: AES key (32), nonce prefix (7), header key (32).
const STREAM_OKM_LENGTH: usize = 71;

/// The fields a case uses to name the error it expects: the variant of
/// `hush_backup::Error` in `error`, and that variant's detail, if any, under the
/// variant's own field name (`version` for `UnknownVersion`, `what` for the label of
/// `Malformed` and `InvalidParameters`).
const ERROR_FIELDS: &[&str] = &[
    "error",
    "index",
    "chunks_read",
    "version",
    "what",
    "position",
    "found",
];

/// An error as the files write it.
fn error_fields(error: &Error) -> Value {
    match error {
        Error::Malformed(what) => json!({ "error": "Malformed", "what": what }),
        Error::NotABackup => json!({ "error": "NotABackup" }),
        Error::UnknownVersion(version) => json!({ "error": "UnknownVersion", "version": version }),
        Error::WrongKey => json!({ "error": "WrongKey" }),
        Error::HeaderAuthentication => json!({ "error": "HeaderAuthentication" }),
        Error::CorruptedChunk { index } => json!({ "error": "CorruptedChunk", "index": index }),
        Error::Truncated { chunks_read } => {
            json!({ "error": "Truncated", "chunks_read": chunks_read })
        }
        Error::TrailingData => json!({ "error": "TrailingData" }),
        Error::StreamTooLong => json!({ "error": "StreamTooLong" }),
        Error::WrongPassword => json!({ "error": "WrongPassword" }),
        Error::RecoveryCodeLength { found } => {
            json!({ "error": "RecoveryCodeLength", "found": found })
        }
        Error::RecoveryCodeCharacter { position } => {
            json!({ "error": "RecoveryCodeCharacter", "position": position })
        }
        Error::RecoveryCodeTypo => json!({ "error": "RecoveryCodeTypo" }),
        Error::InvalidParameters(what) => json!({ "error": "InvalidParameters", "what": what }),
        other => json!({ "error": "unexpected", "what": other.to_string() }),
    }
}

/// `case` with the fields of `error` added (for the generators).
fn with_error(mut case: Value, error: &Error) -> Result<Value, String> {
    let fields = error_fields(error);
    if fields.get("error") == Some(&json!("unexpected")) {
        return Err(format!("no vector name for the error {error}"));
    }
    if let (Value::Object(case), Value::Object(fields)) = (&mut case, fields) {
        case.extend(fields);
    }
    Ok(case)
}

/// The error a case expects: its [`ERROR_FIELDS`].
fn expected_error(case: &Value) -> Result<Value, String> {
    let mut fields = Map::new();
    for name in ERROR_FIELDS {
        if let Some(value) = case.get(*name) {
            fields.insert((*name).to_owned(), value.clone());
        }
    }
    expect(fields.contains_key("error"), || "no field error".to_owned())?;
    Ok(Value::Object(fields))
}

/// `Ok` if `result` failed with exactly the error `case` names.
fn expect_error<T>(case: &Value, result: Result<T, Error>) -> Result<(), String> {
    let want = expected_error(case)?;
    match result {
        Ok(_) => Err(format!("hush accepted it, expected {want}")),
        Err(error) => {
            let got = error_fields(&error);
            expect(got == want, || format!("hush gave {got}, expected {want}"))
        }
    }
}

fn text<'a>(case: &'a Value, field: &str) -> Result<&'a str, String> {
    case.get(field)
        .and_then(Value::as_str)
        .ok_or(format!("no field {field}"))
}

fn bytes(case: &Value, field: &str) -> Result<Vec<u8>, String> {
    unhex(field, text(case, field)?)
}

fn number(case: &Value, field: &str) -> Result<u32, String> {
    case.get(field)
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or(format!("no u32 field {field}"))
}

fn key(case: &Value) -> Result<BackupKey, String> {
    let raw = bytes(case, "key")?;
    let raw: [u8; 32] = raw
        .as_slice()
        .try_into()
        .map_err(|_| format!("field key: {} bytes, expected 32", raw.len()))?;
    Ok(BackupKey::from_bytes(raw))
}

fn contents(file: &Value) -> Result<String, String> {
    Ok(serde_json::to_string_pretty(file).map_err(|e| e.to_string())? + "\n")
}

/// A file's `valid` and `invalid` arrays; `None` (after recording the failure) if the
/// file is unusable.
fn read_cases(path: &Path, report: &mut Report) -> Option<(Vec<Value>, Vec<Value>)> {
    #[derive(Deserialize)]
    struct File {
        valid: Vec<Value>,
        invalid: Vec<Value>,
    }
    match read_json::<File>(path) {
        Ok(file) if file.valid.is_empty() || file.invalid.is_empty() => {
            report.unreadable(path, "needs valid and invalid cases");
            None
        }
        Ok(file) => Some((file.valid, file.invalid)),
        Err(what) => {
            report.unreadable(path, &what);
            None
        }
    }
}

/// Runs `run` on every case of a file, labelled `valid N (name)` / `invalid N (name)`.
fn run_all(
    path: &Path,
    report: &mut Report,
    valid: &[Value],
    invalid: &[Value],
    run_valid: fn(&Value) -> Result<(), String>,
    run_invalid: fn(&Value) -> Result<(), String>,
) {
    for (kind, cases, run) in [
        ("valid", valid, run_valid),
        ("invalid", invalid, run_invalid),
    ] {
        for (index, case) in cases.iter().enumerate() {
            let name = case.get("name").and_then(Value::as_str).unwrap_or("?");
            report.case(path, &format!("{kind} {index} ({name})"), run(case));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Recovery codes.

/// `backup_recovery_codes.json`.
pub(crate) fn generate_recovery_codes() -> Result<Generated, String> {
    let mut keys = vec![
        ("all_zero", BackupKey::from_bytes([0; 32])),
        ("all_ff", BackupKey::from_bytes([0xff; 32])),
        (
            "counting",
            BackupKey::from_bytes(core::array::from_fn(|i| u8::try_from(i).unwrap_or(0))),
        ),
    ];
    for (name, seed) in [("random_1", 301), ("random_2", 302), ("random_3", 303)] {
        keys.push((name, BackupKey::generate(&mut test_rng(seed))));
    }
    let key_cases: Vec<Value> = keys
        .iter()
        .map(|(name, key)| {
            json!({
                "name": name,
                "key": hex::encode(*key.to_bytes()),
                "recovery_code": key.recovery_code().to_grouped_string().as_str(),
                "backup_id": key.id().to_string(),
            })
        })
        .collect();

    let (_, subject) = keys.get(3).ok_or("no key")?;
    let shown = subject.recovery_code().to_grouped_string().to_string();
    let compact: String = shown.chars().filter(|c| *c != ' ').collect();
    // One character replaced by another of the alphabet.
    let retyped = |at: usize| -> String {
        compact
            .chars()
            .enumerate()
            .map(|(i, c)| match (i == at, c) {
                (false, c) => c,
                (true, 'A') => 'B',
                (true, _) => 'A',
            })
            .collect()
    };
    let mut swapped: Vec<char> = compact.chars().collect();
    let at = (0..63)
        .find(|&i| swapped.get(i) != swapped.get(i + 1))
        .ok_or("no two different neighbours")?;
    swapped.swap(at, at + 1);
    let swapped: String = swapped.into_iter().collect();
    let head = |n: usize| compact.chars().take(n).collect::<String>();
    let tail = |n: usize| compact.chars().skip(n).collect::<String>();

    let valid_texts: Vec<(&str, String)> = vec![
        ("grouped", shown.clone()),
        ("compact", compact.clone()),
        (
            "lower_case_with_dashes",
            shown.to_lowercase().replace(' ', "-"),
        ),
        (
            "tabs_newlines_and_padding",
            format!(" \r\n{}\n", shown.replace(' ', "\t")),
        ),
        (
            "misread_o_and_l",
            compact.replace('0', "o").replace('1', "L"),
        ),
        ("misread_i", compact.replace('1', "i")),
        (
            "uneven_grouping",
            format!(
                "{}--{} {}",
                head(3),
                tail(3).get(..20).unwrap_or(""),
                tail(23)
            ),
        ),
    ];
    let mut valid = Vec::new();
    for (name, text) in valid_texts {
        let code = RecoveryCode::parse(&text).map_err(|e| format!("{name}: {e}"))?;
        let parsed = BackupKey::from_recovery_code(&code);
        if parsed != *subject {
            return Err(format!("{name}: parsed to another key"));
        }
        valid.push(json!({ "name": name, "text": text, "key": hex::encode(*parsed.to_bytes()) }));
    }

    let invalid_texts: Vec<(&str, String)> = vec![
        ("typo_in_key", retyped(10)),
        ("typo_across_key_and_checksum", retyped(51)),
        ("typo_in_checksum", retyped(60)),
        ("neighbours_swapped", swapped),
        ("letter_u", format!("{}U", head(63))),
        ("non_ascii_letter", format!("{}\u{e9}{}", head(5), tail(6))),
        ("non_breaking_space", shown.replacen(' ', "\u{a0}", 2)),
        ("punctuation_before_short_length", format!("{}.", head(20))),
        ("underscore_separator", shown.replace(' ', "_")),
        ("too_short", head(60)),
        ("too_long", format!("{compact}0")),
        ("empty", String::new()),
        ("separators_only", "---- \t ----".to_owned()),
    ];
    let mut invalid = Vec::new();
    for (name, text) in invalid_texts {
        let error = match RecoveryCode::parse(&text) {
            Ok(_) => return Err(format!("{name}: parsed")),
            Err(e) => e,
        };
        invalid.push(with_error(json!({ "name": name, "text": text }), &error)?);
    }

    let file = json!({
        "description": "hush recovery codes (docs/wire/backup.md): backup keys with their recovery code as shown and their backup id; texts that RecoveryCode::parse accepts, with the key; texts it refuses, with the error (a hush_backup::Error variant and its detail)",
        "format_version": 1,
        "keys": key_cases,
        "valid": valid,
        "invalid": invalid,
    });
    Ok(Generated {
        contents: contents(&file)?,
        readme_section: RECOVERY_README.to_owned(),
    })
}

const RECOVERY_README: &str = "\
Recovery codes (`docs/wire/backup.md`). `keys`: backup keys with their `recovery_code` as shown \
(16 groups of 4 Crockford base32 characters: the key and its CRC-64/XZ, little-endian) and \
their public `backup_id` (HKDF-SHA256, 32 hex digits). `valid`: texts `RecoveryCode::parse` \
accepts (any case, spaces, tabs, newlines, dashes, `O`/`I`/`L` read as `0`/`1`/`1`), with the key \
they give. `invalid`: texts it refuses, with the error: `error` names the `hush_backup::Error` \
variant (`RecoveryCodeCharacter` with `position`, the index in characters of the first \
character outside the alphabet; `RecoveryCodeLength` with `found`, the number of significant \
characters; `RecoveryCodeTypo` for a checksum mismatch: a mistyped character, two swapped \
neighbours, or a typo in the checksum characters).

Made by `hush vectors generate` from fixed and seeded keys. `hush vectors check` computes every \
key's code and id with `hush-backup` and parses every text with `RecoveryCode::parse`. \
**Cross-checked independently** by `check_backup_vectors.py` (Python 3, no packages, written \
from `docs/wire/backup.md` on top of `../tools/hushpy.py`'s self-tested CRC-64/XZ, Crockford \
base32 and HKDF), which computes every code, id, parsed key and error again from the bytes and \
the text. `crates/hush-backup/tests/vectors.rs` runs the script.";

/// Checks `backup_recovery_codes.json`.
pub(crate) fn check_recovery_codes(path: &Path, report: &mut Report) {
    #[derive(Deserialize)]
    struct Keys {
        keys: Vec<Value>,
    }
    let Some((valid, invalid)) = read_cases(path, report) else {
        return;
    };
    match read_json::<Keys>(path) {
        Ok(file) if !file.keys.is_empty() => {
            for (index, case) in file.keys.iter().enumerate() {
                let name = case.get("name").and_then(Value::as_str).unwrap_or("?");
                report.case(path, &format!("key {index} ({name})"), run_key(case));
            }
        }
        Ok(_) => report.unreadable(path, "holds no keys"),
        Err(what) => report.unreadable(path, &what),
    }
    run_all(
        path,
        report,
        &valid,
        &invalid,
        run_valid_code,
        run_invalid_code,
    );
}

fn run_key(case: &Value) -> Result<(), String> {
    let key = key(case)?;
    let shown = key.recovery_code().to_grouped_string();
    let want = text(case, "recovery_code")?;
    expect(shown.as_str() == want, || {
        format!(
            "recovery code: hush gave {}, expected {want}",
            shown.as_str()
        )
    })?;
    let id = key.id().to_string();
    let want = text(case, "backup_id")?;
    expect(id == want, || {
        format!("backup id: hush gave {id}, expected {want}")
    })?;
    let parsed = RecoveryCode::parse(text(case, "recovery_code")?)
        .map_err(|e| format!("hush cannot parse the code: {e}"))?;
    expect(BackupKey::from_recovery_code(&parsed) == key, || {
        "the code parses to another key".to_owned()
    })
}

fn run_valid_code(case: &Value) -> Result<(), String> {
    let code =
        RecoveryCode::parse(text(case, "text")?).map_err(|e| format!("hush refused it: {e}"))?;
    expect_bytes(
        "key",
        &*BackupKey::from_recovery_code(&code).to_bytes(),
        &bytes(case, "key")?,
    )
}

fn run_invalid_code(case: &Value) -> Result<(), String> {
    expect_error(case, RecoveryCode::parse(text(case, "text")?))
}

// ---------------------------------------------------------------------------------------
// Streams.

/// A plaintext of `len` bytes from a fixed pattern.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| u8::try_from((i * 7 + 3) % 251).unwrap_or(0))
        .collect()
}

/// `bytes` with `new` written at `at` (unchanged if it does not fit).
fn patch(mut bytes: Vec<u8>, at: usize, new: &[u8]) -> Vec<u8> {
    if let Some(slot) = bytes.get_mut(at..at + new.len()) {
        slot.copy_from_slice(new);
    }
    bytes
}

/// `bytes` with the low bit of byte `at` flipped.
fn flip(mut bytes: Vec<u8>, at: usize) -> Vec<u8> {
    if let Some(b) = bytes.get_mut(at) {
        *b ^= 0x01;
    }
    bytes
}

/// 32 bytes from the seeded RNG (drawn as a backup key, so that this module need not
/// name `rand_core`'s traits).
fn seeded_bytes(seed: u64) -> [u8; 32] {
    *BackupKey::generate(&mut test_rng(seed)).to_bytes()
}

/// Encrypts `plaintext` with `salt` as the stream's salt: the salt is replayed as the
/// only output of the RNG, which the encryptor must draw exactly once.
fn encrypt(
    key: &BackupKey,
    context: &[u8],
    chunk_size: u32,
    plaintext: &[u8],
    salt: &[u8],
) -> Result<Vec<u8>, String> {
    let mut rng = ReplayRng::new(salt.to_vec());
    let mut out = Vec::new();
    Encryptor::new(key)
        .context(context)
        .chunk_size(chunk_size)
        .map_err(|e| format!("chunk size {chunk_size}: {e}"))?
        .encrypt(&mut rng, plaintext, &mut out)
        .map_err(|e| format!("hush could not encrypt: {e}"))?;
    expect(rng.remaining() == 0 && !rng.overrun(), || {
        format!(
            "the encryptor did not draw exactly the {}-byte salt",
            salt.len()
        )
    })?;
    Ok(out)
}

fn decrypt(key: &BackupKey, context: &[u8], stream: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    Decryptor::new(key)
        .context(context)
        .decrypt(stream, &mut out)
        .map(|_| out)
}

/// The per-stream HKDF output as the document defines it: AES key, nonce prefix,
/// header key.
fn stream_okm(key: &[u8], salt: &[u8], context: &[u8]) -> Result<[u8; STREAM_OKM_LENGTH], String> {
    let mut okm = [0u8; STREAM_OKM_LENGTH];
    hkdf_sha256_parts(salt, key, &[ENCRYPTION_LABEL, context], &mut okm)
        .map_err(|e| format!("hkdf: {e}"))?;
    Ok(okm)
}

/// `backup_streams.json`.
pub(crate) fn generate_streams() -> Result<Generated, String> {
    let key = BackupKey::generate(&mut test_rng(401));
    let other_key = BackupKey::generate(&mut test_rng(402));
    let transcript = b"link transcript".as_slice();

    let mut valid = Vec::new();
    for (name, context, chunk_size, len, seed) in [
        ("empty_plaintext", b"".as_slice(), 1024, 0, 411),
        ("one_byte", b"", 1024, 1, 412),
        ("one_byte_short_of_a_chunk", b"", 1024, 1023, 413),
        ("exactly_one_chunk", b"", 1024, 1024, 414),
        ("one_byte_over_a_chunk", b"", 1024, 1025, 415),
        ("three_chunks", b"", 1024, 2100, 416),
        ("chunk_size_not_a_power_of_two", b"", 1500, 3200, 417),
        ("with_context", transcript, 2048, 3000, 418),
    ] {
        let plaintext = pattern(len);
        let salt = seeded_bytes(seed);
        let stream = encrypt(&key, context, chunk_size, &plaintext, &salt)?;
        if decrypt(&key, context, &stream).as_deref() != Ok(&plaintext[..]) {
            return Err(format!("{name}: does not decrypt"));
        }
        let okm = stream_okm(&*key.to_bytes(), &salt, context)?;
        valid.push(json!({
            "name": name,
            "key": hex::encode(*key.to_bytes()),
            "backup_id": key.id().to_string(),
            "context": hex::encode(context),
            "chunk_size": chunk_size,
            "salt": hex::encode(salt),
            "aes_key": hex::encode(okm.get(..32).unwrap_or_default()),
            "nonce_prefix": hex::encode(okm.get(32..39).unwrap_or_default()),
            "header_key": hex::encode(okm.get(39..).unwrap_or_default()),
            "plaintext": hex::encode(&plaintext),
            "stream": hex::encode(&stream),
        }));
    }

    // Damage is done to one stream of three chunks (1024, 1024 and 52 bytes).
    let base = encrypt(&key, b"", 1024, &pattern(2100), &seeded_bytes(421))?;
    let foreign = encrypt(&key, b"", 1024, &pattern(2100), &seeded_bytes(422))?;
    let whole = encrypt(&key, b"", 1024, &pattern(2048), &seeded_bytes(423))?;
    let record = 1024 + 16;
    let chunk = |stream: &[u8], i: usize| -> Vec<u8> {
        let start = HEADER_LENGTH + i * record;
        stream
            .get(start..(start + record).min(stream.len()))
            .unwrap_or_default()
            .to_vec()
    };
    let header = base.get(..HEADER_LENGTH).unwrap_or_default().to_vec();
    let chunks = |order: &[usize]| -> Vec<u8> {
        let mut out = header.clone();
        for &i in order {
            out.extend(chunk(&base, i));
        }
        out
    };
    let cut = |stream: &[u8], len: usize| stream.get(..len).unwrap_or_default().to_vec();
    let patched = |stream: &[u8], at: usize, new: &[u8]| patch(stream.to_vec(), at, new);
    let flipped = |stream: &[u8], at: usize| flip(stream.to_vec(), at);
    let chunk_size = |size: u32| patched(&base, 57, &size.to_be_bytes());
    let appended = |extra: usize| [&base[..], &vec![0u8; extra]].concat();
    let last = base.len();
    let last_record = last - HEADER_LENGTH - 2 * record;

    let invalid_cases: Vec<(&str, &BackupKey, &[u8], Vec<u8>)> = vec![
        ("empty", &key, b"", Vec::new()),
        ("magic_prefix_only", &key, b"", cut(&base, 4)),
        ("magic_only", &key, b"", cut(&base, 8)),
        (
            "zip_file",
            &key,
            b"",
            b"PK\x03\x04\x14\x00\x00\x00".to_vec(),
        ),
        ("magic_flipped", &key, b"", flipped(&base, 3)),
        ("version_2", &key, b"", patched(&base, 8, &[2])),
        (
            "version_0_and_cut_after_it",
            &key,
            b"",
            patched(&cut(&base, 9), 8, &[0]),
        ),
        ("cut_inside_the_header", &key, b"", cut(&base, 50)),
        ("header_only", &key, b"", cut(&base, HEADER_LENGTH)),
        ("chunk_size_zero", &key, b"", chunk_size(0)),
        ("chunk_size_below_minimum", &key, b"", chunk_size(1023)),
        (
            "chunk_size_above_maximum",
            &key,
            b"",
            chunk_size(4 * 1024 * 1024 + 1),
        ),
        (
            "chunk_size_changed_within_bounds",
            &key,
            b"",
            chunk_size(2048),
        ),
        ("wrong_key", &other_key, b"", base.clone()),
        ("backup_id_flipped", &key, b"", flipped(&base, 12)),
        ("salt_flipped", &key, b"", flipped(&base, 30)),
        ("header_tag_flipped", &key, b"", flipped(&base, 70)),
        ("wrong_context", &key, transcript, base.clone()),
        (
            "chunk_0_flipped",
            &key,
            b"",
            flipped(&base, HEADER_LENGTH + 5),
        ),
        (
            "chunk_1_tag_flipped",
            &key,
            b"",
            flipped(&base, HEADER_LENGTH + 2 * record - 1),
        ),
        ("last_chunk_flipped", &key, b"", flipped(&base, last - 1)),
        ("chunks_0_and_1_swapped", &key, b"", chunks(&[1, 0, 2])),
        ("chunk_0_repeated", &key, b"", chunks(&[0, 0, 1, 2])),
        ("chunk_1_dropped", &key, b"", chunks(&[0, 2])),
        ("last_chunk_dropped", &key, b"", chunks(&[0, 1])),
        ("cut_after_chunk_0", &key, b"", chunks(&[0])),
        (
            "cut_inside_chunk_1",
            &key,
            b"",
            cut(&base, HEADER_LENGTH + record + 100),
        ),
        (
            "cut_to_10_bytes_of_the_last_chunk",
            &key,
            b"",
            cut(&base, HEADER_LENGTH + 2 * record + 10),
        ),
        ("bytes_appended", &key, b"", appended(20)),
        (
            "bytes_appended_up_to_a_full_record",
            &key,
            b"",
            appended(record - last_record),
        ),
        (
            "chunk_1_from_another_stream",
            &key,
            b"",
            [
                header.clone(),
                chunk(&base, 0),
                chunk(&foreign, 1),
                chunk(&base, 2),
            ]
            .concat(),
        ),
        (
            "empty_last_chunk_dropped",
            &key,
            b"",
            cut(&whole, whole.len() - 16),
        ),
        (
            "empty_last_chunk_flipped",
            &key,
            b"",
            flipped(&whole, whole.len() - 1),
        ),
    ];
    let mut invalid = Vec::new();
    for (name, case_key, context, stream) in invalid_cases {
        let error = match decrypt(case_key, context, &stream) {
            Ok(_) => return Err(format!("{name}: decrypted")),
            Err(e) => e,
        };
        let case = json!({
            "name": name,
            "key": hex::encode(*case_key.to_bytes()),
            "context": hex::encode(context),
            "stream": hex::encode(&stream),
        });
        invalid.push(with_error(case, &error)?);
    }

    let file = json!({
        "description": "hush backup streams, version 1 (docs/wire/backup.md): valid streams with the key, context, chunk size, salt, derived keys and plaintext; damaged streams with the error Decryptor::decrypt must give (a hush_backup::Error variant and its detail)",
        "format_version": 1,
        "valid": valid,
        "invalid": invalid,
    });
    Ok(Generated {
        contents: contents(&file)?,
        readme_section: STREAMS_README.to_owned(),
    })
}

const STREAMS_README: &str = "\
Backup streams, version 1 (`docs/wire/backup.md`). `valid`: streams with the backup `key`, its \
`backup_id`, the `context` (hex, often empty), the `chunk_size`, the header's `salt`, the three \
per-stream values HKDF derives (`aes_key`, `nonce_prefix`, `header_key`), the `plaintext` and \
the whole `stream` (header and chunks). They cover an empty plaintext, plaintexts one byte \
short of, equal to and one byte over a chunk (a multiple of the chunk size ends with an empty \
last chunk), three chunks, a chunk size that is not a power of two, and a context. `invalid`: \
damaged streams, each with the key and context to decrypt with and the error: `error` names \
the `hush_backup::Error` variant (`NotABackup`; `Truncated` with `chunks_read`; \
`UnknownVersion` with `version`; `Malformed` with `what`; `WrongKey`; `HeaderAuthentication`; \
`CorruptedChunk` with `index`), covering every header check in its documented order and every \
kind of chunk damage (altered, swapped, repeated, dropped, foreign, cut at and inside a chunk, \
bytes appended).

Made by `hush vectors generate` from seeded keys and salts. `hush vectors check` decrypts every \
stream with `hush-backup`'s `Decryptor`, encrypts every valid plaintext again with the recorded \
salt (replayed as the RNG's output) and requires the same bytes, and recomputes the HKDF outputs \
and the header tag with `hush-core`. **Cross-checked independently** by \
`check_backup_vectors.py` (Python 3, no packages, written from `docs/wire/backup.md` on top of \
`../tools/hushpy.py`'s self-tested AES-256-GCM, HMAC and HKDF), which derives the keys, checks \
the header tag, opens every chunk with its STREAM nonce and computes each damaged stream's error \
from the bytes. `crates/hush-backup/tests/vectors.rs` runs the script.";

/// Checks `backup_streams.json`.
pub(crate) fn check_streams(path: &Path, report: &mut Report) {
    if let Some((valid, invalid)) = read_cases(path, report) {
        run_all(
            path,
            report,
            &valid,
            &invalid,
            run_valid_stream,
            run_invalid_stream,
        );
    }
}

fn run_valid_stream(case: &Value) -> Result<(), String> {
    let key = key(case)?;
    let context = bytes(case, "context")?;
    let salt = bytes(case, "salt")?;
    let plaintext = bytes(case, "plaintext")?;
    let stream = bytes(case, "stream")?;
    let id = key.id().to_string();
    let want = text(case, "backup_id")?;
    expect(id == want, || {
        format!("backup id: hush gave {id}, expected {want}")
    })?;
    let got = decrypt(&key, &context, &stream).map_err(|e| format!("hush refused it: {e}"))?;
    expect_bytes("plaintext", &got, &plaintext)?;
    let again = encrypt(
        &key,
        &context,
        number(case, "chunk_size")?,
        &plaintext,
        &salt,
    )?;
    expect_bytes("stream encrypted again with the salt", &again, &stream)?;
    let okm = stream_okm(&*key.to_bytes(), &salt, &context)?;
    let (aes_key, rest) = okm.split_at(32);
    let (nonce_prefix, header_key) = rest.split_at(7);
    expect_bytes("aes_key", aes_key, &bytes(case, "aes_key")?)?;
    expect_bytes("nonce_prefix", nonce_prefix, &bytes(case, "nonce_prefix")?)?;
    expect_bytes("header_key", header_key, &bytes(case, "header_key")?)?;
    let body = stream.get(..61).ok_or("stream shorter than a header")?;
    let tag = stream
        .get(61..HEADER_LENGTH)
        .ok_or("stream shorter than a header")?;
    expect_bytes(
        "header tag (HMAC of the header under header_key)",
        &*hmac_sha256(header_key, body),
        tag,
    )
}

fn run_invalid_stream(case: &Value) -> Result<(), String> {
    expect_error(
        case,
        decrypt(
            &key(case)?,
            &bytes(case, "context")?,
            &bytes(case, "stream")?,
        ),
    )
}

// ---------------------------------------------------------------------------------------
// Password-wrapped keys.

/// Argon2id (version 0x13, 32-byte output) straight from the `argon2` crate, to check
/// the outputs the file records for the Python cross-check, which cannot run Argon2.
fn argon2id(params: Argon2Params, password: &[u8], salt: &[u8]) -> Result<[u8; 32], String> {
    let p = argon2::Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        Some(32),
    )
    .map_err(|e| format!("argon2 parameters: {e}"))?;
    let mut out = [0u8; 32];
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, p)
        .hash_password_into(password, salt, &mut out)
        .map_err(|e| format!("argon2: {e}"))?;
    Ok(out)
}

/// Offsets in a password-wrapped key (`docs/wire/backup.md`).
const SALT_RANGE: core::ops::Range<usize> = 13..29;

/// The parameters written in an encoding (no bounds check), for recording Argon2
/// outputs of encodings whose parameters were changed.
fn encoded_params(encoded: &[u8]) -> Result<Argon2Params, String> {
    let field = |at: usize| -> Result<u32, String> {
        encoded
            .get(at..at + 4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_be_bytes)
            .ok_or_else(|| "wrapped key too short".to_owned())
    };
    Ok(Argon2Params {
        memory_kib: field(1)?,
        iterations: field(5)?,
        parallelism: field(9)?,
    })
}

fn wrap(
    key: &BackupKey,
    password: &[u8],
    params: Argon2Params,
    salt: &[u8],
) -> Result<Vec<u8>, String> {
    let mut rng = ReplayRng::new(salt.to_vec());
    let wrapped = PasswordWrappedKey::wrap(key, password, params, &mut rng)
        .map_err(|e| format!("hush could not wrap: {e}"))?;
    expect(rng.remaining() == 0 && !rng.overrun(), || {
        "wrap did not draw exactly the 16-byte salt".to_owned()
    })?;
    Ok(wrapped.encode())
}

/// `backup_password_wraps.json`.
pub(crate) fn generate_password_wraps() -> Result<Generated, String> {
    let key = BackupKey::generate(&mut test_rng(501));
    let cheapest = Argon2Params {
        memory_kib: 7 * 1024,
        iterations: 5,
        parallelism: 1,
    };
    let salt = |seed: u64| seeded_bytes(seed).get(..16).unwrap_or_default().to_vec();
    let record = |name: &str, encoded: &[u8], password: &[u8]| -> Result<Value, String> {
        let params = encoded_params(encoded)?;
        let salt = encoded.get(SALT_RANGE).ok_or("wrapped key too short")?;
        Ok(json!({
            "name": name,
            "password": hex::encode(password),
            "argon2id_output": hex::encode(argon2id(params, password, salt)?),
            "wrapped": hex::encode(encoded),
        }))
    };

    let mut valid = Vec::new();
    let mut first = Vec::new();
    for (name, password, params, seed) in [
        ("ascii_password", b"hunter2".as_slice(), cheapest, 511),
        (
            "utf8_password_two_lanes",
            "correct horse battery staple \u{2603}".as_bytes(),
            Argon2Params {
                parallelism: 2,
                ..cheapest
            },
            512,
        ),
        (
            "empty_password_one_pass",
            b"",
            Argon2Params {
                memory_kib: 35 * 1024,
                iterations: 1,
                parallelism: 1,
            },
            513,
        ),
    ] {
        let salt = salt(seed);
        let encoded = wrap(&key, password, params, &salt)?;
        let unwrapped = PasswordWrappedKey::decode(&encoded)
            .and_then(|w| w.unwrap(password))
            .map_err(|e| format!("{name}: {e}"))?;
        if unwrapped != key {
            return Err(format!("{name}: unwraps to another key"));
        }
        let mut case = record(name, &encoded, password)?;
        if let Value::Object(fields) = &mut case {
            fields.extend([
                ("memory_kib".to_owned(), json!(params.memory_kib)),
                ("iterations".to_owned(), json!(params.iterations)),
                ("parallelism".to_owned(), json!(params.parallelism)),
                ("salt".to_owned(), json!(hex::encode(&salt))),
                ("key".to_owned(), json!(hex::encode(*key.to_bytes()))),
            ]);
        }
        valid.push(case);
        if first.is_empty() {
            first = encoded;
        }
    }

    let patched = |at: usize, new: &[u8]| patch(first.clone(), at, new);
    let flipped = |at: usize| flip(first.clone(), at);
    let u32_at = |at: usize, value: u32| patched(at, &value.to_be_bytes());
    let hunter2 = b"hunter2".as_slice();

    // Encodings that decode but do not unwrap with the password given.
    let refused: Vec<(&str, Vec<u8>, &[u8])> = vec![
        ("wrong_password", first.clone(), b"hunter3"),
        ("password_with_a_newline", first.clone(), b"hunter2\n"),
        ("memory_raised", u32_at(1, 8 * 1024), hunter2),
        ("iterations_raised", u32_at(5, 6), hunter2),
        ("parallelism_raised", u32_at(9, 2), hunter2),
        ("salt_flipped", flipped(20), hunter2),
        ("ciphertext_flipped", flipped(40), hunter2),
        ("tag_flipped", flipped(76), hunter2),
    ];
    // Encodings that do not decode.
    let undecodable: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("version_0", patched(0, &[0])),
        ("version_2", patched(0, &[2])),
        (
            "version_2_and_short",
            patched(0, &[2]).get(..10).unwrap_or_default().to_vec(),
        ),
        (
            "one_byte_short",
            first.get(..76).unwrap_or_default().to_vec(),
        ),
        ("one_byte_long", [&first[..], &[0]].concat()),
        ("memory_below_minimum", u32_at(1, 7 * 1024 - 1)),
        ("memory_above_maximum", u32_at(1, 256 * 1024 + 1)),
        ("memory_one_gib", u32_at(1, 1024 * 1024)),
        ("iterations_zero", u32_at(5, 0)),
        ("iterations_above_maximum", u32_at(5, 101)),
        ("parallelism_zero", u32_at(9, 0)),
        ("parallelism_above_maximum", u32_at(9, 17)),
        ("work_below_minimum", u32_at(5, 4)),
        // 7 MiB x 100 passes: every field within its bound, 700 MiB x passes in all.
        ("work_above_maximum", u32_at(5, 100)),
        // 256 MiB (the most memory) x 3 passes: 768 MiB x passes.
        (
            "memory_at_maximum_work_above_maximum",
            patch(u32_at(1, 256 * 1024), 5, &3u32.to_be_bytes()),
        ),
        (
            "memory_and_iterations_out_of_bounds",
            patch(u32_at(1, 0), 5, &0u32.to_be_bytes()),
        ),
    ];
    let mut invalid = Vec::new();
    for (name, encoded, password) in refused {
        let error = match PasswordWrappedKey::decode(&encoded) {
            Err(e) => return Err(format!("{name}: does not decode: {e}")),
            Ok(wrapped) => match wrapped.unwrap(password) {
                Ok(_) => return Err(format!("{name}: unwraps")),
                Err(e) => e,
            },
        };
        invalid.push(with_error(record(name, &encoded, password)?, &error)?);
    }
    for (name, encoded) in undecodable {
        let error = match PasswordWrappedKey::decode(&encoded) {
            Ok(_) => return Err(format!("{name}: decodes")),
            Err(e) => e,
        };
        let case = json!({ "name": name, "wrapped": hex::encode(&encoded) });
        invalid.push(with_error(case, &error)?);
    }

    let file = json!({
        "description": "hush password-wrapped backup keys, version 1 (docs/wire/backup.md): valid wraps with the password (hex), Argon2id parameters, salt, Argon2id output and key; invalid ones with the error (a hush_backup::Error variant and its detail) that PasswordWrappedKey::decode, or unwrap with the password given, must give",
        "format_version": 1,
        "valid": valid,
        "invalid": invalid,
    });
    Ok(Generated {
        contents: contents(&file)?,
        readme_section: PASSWORD_README.to_owned(),
    })
}

const PASSWORD_README: &str = "\
Password-wrapped backup keys, version 1 (`docs/wire/backup.md`). `valid`: 77-byte encodings \
(`wrapped`) with the `password` (hex of its UTF-8 bytes), the Argon2id parameters \
(`memory_kib`, `iterations`, `parallelism`) and `salt` they hold, `argon2id_output` (the \
32-byte wrapping key) and the `key` they unwrap to. The parameters are the cheapest the \
crate accepts (7 MiB x 5 passes, also with 2 lanes) and the 35 MiB x 1 pass that meets the \
work floor exactly. `invalid`: encodings that decode but do not unwrap with the `password` \
given (each with the `argon2id_output` of that password under the encoding's own parameters \
and salt: a wrong password, a changed parameter, a flipped salt, ciphertext or tag bit), and \
encodings `PasswordWrappedKey::decode` refuses before any hashing, each with the error: \
`error` names the `hush_backup::Error` variant (`WrongPassword`; `UnknownVersion` with \
`version`; `Malformed` with `what`; `InvalidParameters` with `what`, naming the first \
parameter out of bounds in the documented order). The work bound is shown from both sides \
(`work_below_minimum`; `work_above_maximum`, 7 MiB x 100 passes with every field within its \
own bound; `memory_at_maximum_work_above_maximum`, 256 MiB x 3 passes), and 1 GiB \
(`memory_one_gib`), which the bounds allowed before issue 16, is refused as memory. The \
documented `argon2 memory per lane` \
bound cannot be reached by an encoding within the other bounds (7 MiB is far above 8 KiB x 16 \
lanes), so no case shows it.

Made by `hush vectors generate` from a seeded key and seeded salts. **Argon2id is checked in \
two halves.** Python's standard library cannot run Argon2id at these sizes, so \
`hush vectors check` recomputes every recorded `argon2id_output` with the `argon2` crate (and \
`hush-backup`'s unit tests pin its Argon2id to the reference implementation's published test \
vector), decodes and unwraps every encoding with `hush-backup`, and wraps every valid key again \
with the recorded salt replayed, requiring the same bytes. Everything downstream of Argon2 is \
**cross-checked independently** by `check_backup_vectors.py` (Python 3, no packages, written \
from `docs/wire/backup.md` on top of `../tools/hushpy.py`'s self-tested AES-256-GCM): it \
decodes every encoding and checks the bounds itself, then opens the key with the recorded \
Argon2id output, the zero nonce and the header as associated data, and computes every \
verdict from the bytes. `crates/hush-backup/tests/vectors.rs` runs the script.";

/// Checks `backup_password_wraps.json`.
pub(crate) fn check_password_wraps(path: &Path, report: &mut Report) {
    if let Some((valid, invalid)) = read_cases(path, report) {
        run_all(
            path,
            report,
            &valid,
            &invalid,
            run_valid_wrap,
            run_invalid_wrap,
        );
    }
}

/// Decodes a case's encoding and checks its recorded Argon2id output with the `argon2`
/// crate.
fn decode_and_check_argon2(case: &Value) -> Result<(PasswordWrappedKey, Vec<u8>), String> {
    let encoded = bytes(case, "wrapped")?;
    let password = bytes(case, "password")?;
    let wrapped =
        PasswordWrappedKey::decode(&encoded).map_err(|e| format!("hush cannot decode it: {e}"))?;
    let salt = encoded.get(SALT_RANGE).ok_or("wrapped key too short")?;
    expect_bytes(
        "argon2id_output (recomputed with the argon2 crate)",
        &argon2id(wrapped.params(), &password, salt)?,
        &bytes(case, "argon2id_output")?,
    )?;
    Ok((wrapped, password))
}

fn run_valid_wrap(case: &Value) -> Result<(), String> {
    let (wrapped, password) = decode_and_check_argon2(case)?;
    let params = Argon2Params {
        memory_kib: number(case, "memory_kib")?,
        iterations: number(case, "iterations")?,
        parallelism: number(case, "parallelism")?,
    };
    expect(wrapped.params() == params, || {
        format!("parameters: hush read {:?}", wrapped.params())
    })?;
    let key = wrapped
        .unwrap(&password)
        .map_err(|e| format!("hush cannot unwrap it: {e}"))?;
    expect_bytes("key", &*key.to_bytes(), &bytes(case, "key")?)?;
    let salt = bytes(case, "salt")?;
    let again = wrap(&key, &password, params, &salt)?;
    expect_bytes(
        "wrapped again with the salt",
        &again,
        &bytes(case, "wrapped")?,
    )
}

fn run_invalid_wrap(case: &Value) -> Result<(), String> {
    if case.get("password").is_some() {
        let (wrapped, password) = decode_and_check_argon2(case)?;
        expect_error(case, wrapped.unwrap(&password))
    } else {
        expect_error(case, PasswordWrappedKey::decode(&bytes(case, "wrapped")?))
    }
}
