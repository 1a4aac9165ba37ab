//! hush's own prekey vectors (`test-vectors/prekey/`): `prekey_bundles.json` and
//! `prekey_uploads.json`, valid and invalid examples of the formats in
//! `docs/wire/prekeys.md` with the verdict each must get.
//!
//! The generators make every key from seeded RNGs, so regenerating gives identical files.
//! Invalid examples are written with a small protobuf writer of this module's own, not
//! with `hush-prekey`'s encoder. The runners decode each example with `hush-prekey` and
//! compare its verdict with the file's. The verdicts are cross-checked independently by
//! `test-vectors/prekey/check_prekey_vectors.py` (plain Python: its own protobuf reader,
//! Ed25519/XEdDSA verification and Kyber coefficient check), which
//! `crates/hush-prekey/tests/vectors.rs` runs.

use std::fmt::Write as _;
use std::path::Path;

use hush_core::{IdentityKeyPair, KemKeyType, PrivateKey};
use hush_prekey::{
    Error, GenerateRequest, PreKeyBundle, PreKeyBundleParts, PreKeyIdAllocator, PreKeyUpload,
    UploadError, UploadPolicy, generate_prekeys, upload_for, validate_upload,
};
use hush_test_support::test_rng;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Generated, Report, expect, read_json, unhex};

/// The clock of every upload vector unless a case says otherwise.
const NOW_MS: u64 = 1_700_000_000_000;
const DAY_MS: u64 = 86_400_000;

// ---------------------------------------------------------------------------------------
// A protobuf writer of this module's own.

fn varint(mut value: u64, out: &mut Vec<u8>) {
    loop {
        let low = u8::try_from(value & 0x7f).unwrap_or(0);
        value >>= 7;
        if value == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

fn put_varint(number: u64, value: u64, out: &mut Vec<u8>) {
    if value != 0 {
        varint(number << 3, out);
        varint(value, out);
    }
}

fn put_bytes(number: u64, value: &[u8], out: &mut Vec<u8>) {
    varint((number << 3) | 2, out);
    varint(value.len() as u64, out);
    out.extend_from_slice(value);
}

fn put_nonempty(number: u64, value: &[u8], out: &mut Vec<u8>) {
    if !value.is_empty() {
        put_bytes(number, value, out);
    }
}

#[derive(Clone)]
struct Entry {
    id: u32,
    key: Vec<u8>,
    signature: Vec<u8>,
    timestamp_ms: u64,
}

impl Entry {
    fn encode(&self, signed: bool) -> Vec<u8> {
        let mut out = Vec::new();
        put_varint(1, u64::from(self.id), &mut out);
        put_nonempty(2, &self.key, &mut out);
        if signed {
            put_nonempty(3, &self.signature, &mut out);
            put_varint(4, self.timestamp_ms, &mut out);
        }
        out
    }
}

#[derive(Clone)]
struct Upload {
    identity_key: Vec<u8>,
    signed_prekey: Option<Entry>,
    one_time_prekeys: Vec<Entry>,
    kem_prekeys: Vec<Entry>,
    last_resort: Option<Entry>,
}

impl Upload {
    fn from_library(upload: &PreKeyUpload) -> Self {
        let kem = |k: &hush_prekey::KemPreKey| Entry {
            id: k.id(),
            key: k.public_key().encode(),
            signature: k.signature().to_bytes().to_vec(),
            timestamp_ms: k.timestamp_ms(),
        };
        Self {
            identity_key: upload.identity_key().encode().to_vec(),
            signed_prekey: upload.signed_prekey().map(|k| Entry {
                id: k.id(),
                key: k.public_key().encode().to_vec(),
                signature: k.signature().to_bytes().to_vec(),
                timestamp_ms: k.timestamp_ms(),
            }),
            one_time_prekeys: upload
                .one_time_prekeys()
                .iter()
                .map(|k| Entry {
                    id: k.id(),
                    key: k.public_key().encode().to_vec(),
                    signature: Vec::new(),
                    timestamp_ms: 0,
                })
                .collect(),
            kem_prekeys: upload.kem_prekeys().iter().map(kem).collect(),
            last_resort: upload.last_resort_kem_prekey().map(kem),
        }
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = vec![1];
        put_nonempty(1, &self.identity_key, &mut out);
        if let Some(entry) = &self.signed_prekey {
            put_bytes(2, &entry.encode(true), &mut out);
        }
        for entry in &self.one_time_prekeys {
            put_bytes(3, &entry.encode(false), &mut out);
        }
        for entry in &self.kem_prekeys {
            put_bytes(4, &entry.encode(true), &mut out);
        }
        if let Some(entry) = &self.last_resort {
            put_bytes(5, &entry.encode(true), &mut out);
        }
        out
    }
}

// ---------------------------------------------------------------------------------------
// Verdict names shared by the files, the runners and the Python cross-check.

/// The verdict of `validate_upload` as the file writes it.
fn upload_verdict(result: &Result<hush_prekey::ValidatedUpload, UploadError>) -> Value {
    match result {
        Ok(upload) => json!({
            "verdict": "valid",
            "summary": {
                "signed_prekey_id": upload.signed_prekey().map(|k| k.id()),
                "one_time_prekey_ids": upload.one_time_prekeys().iter().map(|k| k.id()).collect::<Vec<_>>(),
                "kem_prekey_ids": upload.kem_prekeys().iter().map(|k| k.id()).collect::<Vec<_>>(),
                "last_resort_kem_prekey_id": upload.last_resort_kem_prekey().map(|k| k.id()),
            },
        }),
        Err(UploadError::Rejected { problems }) => json!({
            "verdict": "rejected",
            "problems": problems.iter().map(|p| json!({
                "kind": p.kind.code(),
                "position": p.position,
                "id": p.id,
                "issue": p.issue.code(),
            })).collect::<Vec<_>>(),
        }),
        Err(error) => json!({ "verdict": upload_error_name(error) }),
    }
}

const fn upload_error_name(error: &UploadError) -> &'static str {
    match error {
        UploadError::Empty => "empty",
        UploadError::TooLarge { .. } => "too_large",
        UploadError::UnsupportedVersion(_) => "unsupported_version",
        UploadError::Truncated => "truncated",
        UploadError::Malformed(_) => "malformed",
        UploadError::TooManyKeys { .. } => "too_many_keys",
        UploadError::Rejected { .. } => "rejected",
        _ => "unknown",
    }
}

const fn bundle_error_name(error: &Error) -> &'static str {
    match error {
        Error::Empty(_) => "empty",
        Error::TooLarge { .. } => "too_large",
        Error::UnsupportedVersion { .. } => "unsupported_version",
        Error::Truncated(_) => "truncated",
        Error::Malformed { .. } => "malformed",
        Error::InvalidField { .. } => "invalid_field",
        Error::IdOutOfRange { .. } => "id_out_of_range",
        Error::DeviceIdOutOfRange(_) => "device_id_out_of_range",
        _ => "unknown",
    }
}

// ---------------------------------------------------------------------------------------
// Uploads.

/// Policy fields a case may override; the rest are `UploadPolicy::default()`.
#[derive(Deserialize, Default, Clone, Copy)]
#[serde(deny_unknown_fields)]
struct PolicyOverrides {
    max_upload_bytes: Option<usize>,
    max_one_time_prekeys: Option<usize>,
    max_kem_prekeys: Option<usize>,
}

impl PolicyOverrides {
    fn policy(self) -> UploadPolicy {
        let mut policy = UploadPolicy::default();
        if let Some(v) = self.max_upload_bytes {
            policy.max_upload_bytes = v;
        }
        if let Some(v) = self.max_one_time_prekeys {
            policy.max_one_time_prekeys = v;
        }
        if let Some(v) = self.max_kem_prekeys {
            policy.max_kem_prekeys = v;
        }
        policy
    }
}

struct Device {
    identity: IdentityKeyPair,
    upload: Upload,
}

fn device(
    seed: u64,
    one_time: usize,
    kem: usize,
    kem_key_type: KemKeyType,
) -> Result<Device, String> {
    let mut rng = test_rng(seed);
    let identity = IdentityKeyPair::generate(&mut rng);
    let mut request = GenerateRequest::default();
    request.one_time_prekeys = one_time;
    request.kem_prekeys = kem;
    request.kem_key_type = kem_key_type;
    let records = generate_prekeys(
        &identity,
        &mut PreKeyIdAllocator::new(),
        &request,
        NOW_MS,
        &mut rng,
    )
    .map_err(|e| e.to_string())?;
    let upload = upload_for(&identity, &records);
    let ours = Upload::from_library(&upload);
    // This module's writer and hush-prekey's encoder agree byte for byte.
    if ours.encode() != upload.encode() {
        return Err("the vector writer and hush-prekey disagree on a valid upload".into());
    }
    Ok(Device {
        identity,
        upload: ours,
    })
}

/// `prekey_uploads.json`.
pub(crate) fn generate_uploads() -> Result<Generated, String> {
    let base = device(101, 3, 2, KemKeyType::Kyber1024)?;
    let ml_kem = device(102, 1, 1, KemKeyType::MlKem1024)?;
    let other = IdentityKeyPair::from(PrivateKey::from_bytes([0x42; 32]));
    let account = hex::encode(base.identity.identity_key().encode());
    let good = base.upload.encode();

    let mut cases: Vec<(String, String, Vec<u8>, u64, Value)> = Vec::new();
    let mut add = |name: &str, account: &str, bytes: Vec<u8>, now_ms: u64, policy: Value| {
        cases.push((name.to_owned(), account.to_owned(), bytes, now_ms, policy));
    };
    let mutated = |edit: &dyn Fn(&mut Upload)| {
        let mut upload = base.upload.clone();
        edit(&mut upload);
        upload.encode()
    };

    add(
        "full_small_kyber1024",
        &account,
        good.clone(),
        NOW_MS,
        json!({}),
    );
    add(
        "ml_kem_1024",
        &hex::encode(ml_kem.identity.identity_key().encode()),
        ml_kem.upload.encode(),
        NOW_MS,
        json!({}),
    );
    add(
        "one_time_keys_only",
        &account,
        mutated(&|u| {
            u.signed_prekey = None;
            u.kem_prekeys.clear();
            u.last_resort = None;
        }),
        NOW_MS,
        json!({}),
    );
    add("empty", &account, Vec::new(), NOW_MS, json!({}));
    add(
        "unsupported_version",
        &account,
        [&[2u8][..], good.get(1..).unwrap_or_default()].concat(),
        NOW_MS,
        json!({}),
    );
    add(
        "too_large",
        &account,
        good.clone(),
        NOW_MS,
        json!({ "max_upload_bytes": good.len() - 1 }),
    );
    add(
        "truncated_inside_a_key",
        &account,
        good.get(..good.len().saturating_sub(10))
            .unwrap_or_default()
            .to_vec(),
        NOW_MS,
        json!({}),
    );
    add(
        "garbage_unknown_field",
        &account,
        [&good[..], &[0x30, 0x01]].concat(),
        NOW_MS,
        json!({}),
    );
    add(
        "garbage_bytes",
        &account,
        vec![1, 0xff, 0xff, 0x07, 0x00, 0x13],
        NOW_MS,
        json!({}),
    );
    add(
        "too_many_one_time_prekeys",
        &account,
        good.clone(),
        NOW_MS,
        json!({ "max_one_time_prekeys": 2 }),
    );
    add(
        "duplicate_ids",
        &account,
        mutated(&|u| {
            if let (Some(first), Some(third)) = (
                u.one_time_prekeys.first().map(|e| e.id),
                u.one_time_prekeys.get_mut(2),
            ) {
                third.id = first;
            }
            if let (Some(lr), Some(kem)) = (u.last_resort.as_mut(), u.kem_prekeys.first()) {
                lr.id = kem.id;
            }
        }),
        NOW_MS,
        json!({}),
    );
    add(
        "id_out_of_range",
        &account,
        mutated(&|u| {
            if let Some(e) = u.one_time_prekeys.get_mut(1) {
                e.id = 0x0100_0000;
            }
        }),
        NOW_MS,
        json!({}),
    );
    add(
        "wrong_key_types_and_lengths",
        &account,
        mutated(&|u| {
            if let Some(e) = u
                .one_time_prekeys
                .first_mut()
                .and_then(|e| e.key.first_mut())
            {
                *e = 0x08;
            }
            if let Some(e) = u.one_time_prekeys.get_mut(1) {
                e.key.pop();
            }
            if let Some(e) = u.kem_prekeys.first_mut().and_then(|e| e.key.first_mut()) {
                *e = 0x05;
            }
            if let Some(e) = u.signed_prekey.as_mut() {
                e.signature.truncate(60);
            }
        }),
        NOW_MS,
        json!({}),
    );
    add(
        "unreduced_kem_key",
        &account,
        mutated(&|u| {
            if let Some(e) = u.kem_prekeys.get_mut(1) {
                if let Some(b) = e.key.get_mut(1) {
                    *b = 0xff;
                }
                if let Some(b) = e.key.get_mut(2) {
                    *b |= 0x0f;
                }
            }
        }),
        NOW_MS,
        json!({}),
    );
    add(
        "bad_signatures",
        &account,
        mutated(&|u| {
            if let Some(b) = u
                .signed_prekey
                .as_mut()
                .and_then(|e| e.signature.get_mut(3))
            {
                *b ^= 0x01;
            }
            let swapped: Vec<Vec<u8>> = u
                .kem_prekeys
                .iter()
                .rev()
                .map(|e| e.signature.clone())
                .collect();
            for (e, s) in u.kem_prekeys.iter_mut().zip(swapped) {
                e.signature = s;
            }
        }),
        NOW_MS,
        json!({}),
    );
    add(
        "identity_mismatch",
        &hex::encode(other.identity_key().encode()),
        good.clone(),
        NOW_MS,
        json!({}),
    );
    add(
        "timestamps_in_the_future",
        &account,
        good.clone(),
        NOW_MS - 2 * DAY_MS,
        json!({}),
    );
    add(
        "timestamps_too_old",
        &account,
        good.clone(),
        NOW_MS + 31 * DAY_MS,
        json!({}),
    );
    add(
        "no_keys",
        &account,
        mutated(&|u| {
            u.signed_prekey = None;
            u.one_time_prekeys.clear();
            u.kem_prekeys.clear();
            u.last_resort = None;
        }),
        NOW_MS,
        json!({}),
    );
    add(
        "missing_identity_key",
        &account,
        mutated(&|u| u.identity_key.clear()),
        NOW_MS,
        json!({}),
    );

    let mut valid = Vec::new();
    let mut invalid = Vec::new();
    for (name, account, bytes, now_ms, policy) in cases {
        let overrides: PolicyOverrides =
            serde_json::from_value(policy.clone()).map_err(|e| e.to_string())?;
        let key = hush_core::IdentityKey::decode(&unhex("identity_key", &account)?)
            .map_err(|e| e.to_string())?;
        let result = validate_upload(&key, &bytes, &overrides.policy(), now_ms, &mut test_rng(0));
        let mut case = json!({
            "name": name,
            "identity_key": account,
            "now_ms": now_ms,
            "policy": policy,
            "upload": hex::encode(&bytes),
        });
        let verdict = upload_verdict(&result);
        if let (Value::Object(case), Value::Object(verdict)) = (&mut case, verdict) {
            case.extend(verdict);
        }
        if result.is_ok() {
            valid.push(case)
        } else {
            invalid.push(case)
        }
    }
    let file = json!({
        "description": "hush PreKeyUpload v1 vectors (docs/wire/prekeys.md): each upload with the account's identity key, the server clock (ms) and policy overrides (others: UploadPolicy::default()), and the verdict validate_upload must give",
        "format_version": 1,
        "default_policy": {
            "max_upload_bytes": UploadPolicy::default().max_upload_bytes,
            "max_one_time_prekeys": UploadPolicy::default().max_one_time_prekeys,
            "max_kem_prekeys": UploadPolicy::default().max_kem_prekeys,
            "max_clock_skew_ms": UploadPolicy::default().max_clock_skew_ms,
            "max_key_age_ms": UploadPolicy::default().max_key_age_ms,
        },
        "valid": valid,
        "invalid": invalid,
    });
    let contents = serde_json::to_string_pretty(&file).map_err(|e| e.to_string())? + "\n";
    Ok(Generated {
        contents,
        readme_section: UPLOADS_README.to_owned(),
    })
}

const UPLOADS_README: &str = "\
Prekey uploads (`PreKeyUpload` v1, `docs/wire/prekeys.md`): `valid` and `invalid` examples, each \
with the account's identity key, the server's clock `now_ms`, policy overrides (all other limits \
are `UploadPolicy::default()`, listed in `default_policy`) and the verdict: `valid` with a \
summary of key ids, `rejected` with every problem (`kind`, `position`, `id`, `issue`), or the \
structural error (`empty`, `too_large`, `unsupported_version`, `truncated`, `malformed`, \
`too_many_keys`).

Made by `hush vectors generate` from seeded RNGs (identical on every run). Valid uploads come \
from `hush-prekey`'s generator; each invalid one is the valid upload re-written by the \
generator's own protobuf writer with one kind of damage. The verdicts were recorded from \
`hush-prekey` and are **cross-checked independently** by `check_prekey_vectors.py` (Python 3, \
no packages): its own protobuf reader, its own Ed25519 arithmetic for the XEdDSA signatures \
(Montgomery-to-Edwards conversion, strict `s` and `R` checks), its own Kyber coefficient check, \
and its own reading of the rules in `docs/wire/prekeys.md` compute every verdict again. \
`crates/hush-prekey/tests/vectors.rs` runs the script.";

/// Checks `prekey_uploads.json`.
pub(crate) fn check_uploads(path: &Path, report: &mut Report) {
    #[derive(Deserialize)]
    struct File {
        valid: Vec<Value>,
        invalid: Vec<Value>,
    }
    let file: File = match read_json(path) {
        Ok(file) => file,
        Err(what) => return report.unreadable(path, &what),
    };
    if file.valid.is_empty() || file.invalid.is_empty() {
        return report.unreadable(path, "needs valid and invalid cases");
    }
    for (index, case) in file.valid.iter().chain(&file.invalid).enumerate() {
        let name = case.get("name").and_then(Value::as_str).unwrap_or("?");
        report.case(path, &format!("case {index} ({name})"), run_upload(case));
    }
}

fn run_upload(case: &Value) -> Result<(), String> {
    let text = |field: &str| {
        case.get(field)
            .and_then(Value::as_str)
            .ok_or(format!("no field {field}"))
    };
    let key = hush_core::IdentityKey::decode(&unhex("identity_key", text("identity_key")?)?)
        .map_err(|e| format!("identity_key: {e}"))?;
    let bytes = unhex("upload", text("upload")?)?;
    let now_ms = case
        .get("now_ms")
        .and_then(Value::as_u64)
        .ok_or("no field now_ms")?;
    let overrides: PolicyOverrides =
        serde_json::from_value(case.get("policy").cloned().unwrap_or(json!({})))
            .map_err(|e| format!("policy: {e}"))?;
    let result = validate_upload(
        &key,
        &bytes,
        &overrides.policy(),
        now_ms,
        &mut hush_core::rng::os_rng(),
    );
    let got = upload_verdict(&result);
    for field in ["verdict", "summary", "problems"] {
        let want = case.get(field);
        expect(got.get(field) == want, || {
            format!(
                "{field}: hush gave {}, expected {}",
                show(got.get(field)),
                show(want)
            )
        })?;
    }
    Ok(())
}

fn show(value: Option<&Value>) -> String {
    value.map_or_else(|| "nothing".to_owned(), Value::to_string)
}

// ---------------------------------------------------------------------------------------
// Bundles.

fn bundle_fields(parts: &PreKeyBundleParts) -> Value {
    json!({
        "registration_id": parts.registration_id,
        "device_id": parts.device_id,
        "identity_key": hex::encode(parts.identity_key.encode()),
        "signed_prekey_id": parts.signed_prekey_id,
        "signed_prekey": hex::encode(parts.signed_prekey.encode()),
        "signed_prekey_signature": hex::encode(parts.signed_prekey_signature.as_bytes()),
        "one_time_prekey_id": parts.one_time_prekey.map(|k| k.id()),
        "one_time_prekey": parts.one_time_prekey.map(|k| hex::encode(k.public_key().encode())),
        "kem_prekey_id": parts.kem_prekey_id,
        "kem_prekey": hex::encode(parts.kem_prekey.encode()),
        "kem_prekey_signature": hex::encode(parts.kem_prekey_signature.as_bytes()),
    })
}

/// A bundle written field by field with this module's writer.
fn write_bundle(fields: &[(u64, BundleValue)]) -> Vec<u8> {
    let mut out = vec![1];
    for (number, value) in fields {
        match value {
            BundleValue::Int(v) => {
                varint(number << 3, &mut out);
                varint(*v, &mut out);
            }
            BundleValue::Bytes(b) => put_bytes(*number, b, &mut out),
        }
    }
    out
}

/// A bundle as a list of (field number, value), in writing order.
type Fields = Vec<(u64, BundleValue)>;

#[derive(Clone)]
enum BundleValue {
    Int(u64),
    Bytes(Vec<u8>),
}

fn bundle_field_list(parts: &PreKeyBundleParts) -> Vec<(u64, BundleValue)> {
    use BundleValue::{Bytes, Int};
    let mut fields = vec![
        (1, Int(u64::from(parts.registration_id))),
        (2, Int(u64::from(parts.device_id))),
        (3, Bytes(parts.identity_key.encode().to_vec())),
        (4, Int(u64::from(parts.signed_prekey_id))),
        (5, Bytes(parts.signed_prekey.encode().to_vec())),
        (6, Bytes(parts.signed_prekey_signature.as_bytes().to_vec())),
    ];
    if let Some(k) = &parts.one_time_prekey {
        fields.push((7, Int(u64::from(k.id()))));
        fields.push((8, Bytes(k.public_key().encode().to_vec())));
    }
    fields.push((9, Int(u64::from(parts.kem_prekey_id))));
    fields.push((10, Bytes(parts.kem_prekey.encode())));
    fields.push((11, Bytes(parts.kem_prekey_signature.as_bytes().to_vec())));
    // proto3: zero integers are not written, except the optional one-time prekey id.
    fields.retain(|(n, v)| *n == 7 || !matches!(v, Int(0)));
    fields
}

fn bundle_parts(
    seed: u64,
    with_one_time: bool,
    kem_key_type: KemKeyType,
) -> Result<PreKeyBundleParts, String> {
    let device = device(seed, 1, 1, kem_key_type)?;
    let bytes = device.upload.encode();
    let upload = validate_upload(
        &device.identity.identity_key(),
        &bytes,
        &UploadPolicy::default(),
        NOW_MS,
        &mut test_rng(0),
    )
    .map_err(|e| e.to_string())?;
    let signed = upload.signed_prekey().ok_or("no signed prekey")?;
    let kem = upload.kem_prekeys().first().ok_or("no KEM prekey")?;
    Ok(PreKeyBundleParts {
        registration_id: 12_345,
        device_id: 2,
        identity_key: device.identity.identity_key(),
        signed_prekey_id: signed.id(),
        signed_prekey: *signed.public_key(),
        signed_prekey_signature: *signed.signature(),
        one_time_prekey: if with_one_time {
            upload.one_time_prekeys().first().copied()
        } else {
            None
        },
        kem_prekey_id: kem.id(),
        kem_prekey: kem.public_key().clone(),
        kem_prekey_signature: *kem.signature(),
    })
}

/// `prekey_bundles.json`.
pub(crate) fn generate_bundles() -> Result<Generated, String> {
    use BundleValue::{Bytes, Int};
    let with_one_time = bundle_parts(201, true, KemKeyType::Kyber1024)?;
    let without_one_time = bundle_parts(202, false, KemKeyType::Kyber1024)?;
    let ml_kem = bundle_parts(203, true, KemKeyType::MlKem1024)?;
    let mut bad_signature = with_one_time.clone();
    bad_signature.kem_prekey_signature = bad_signature.signed_prekey_signature;

    let mut valid = Vec::new();
    for (name, parts) in [
        ("with_one_time_prekey", &with_one_time),
        ("without_one_time_prekey", &without_one_time),
        ("ml_kem_1024", &ml_kem),
        ("kem_signature_does_not_verify", &bad_signature),
    ] {
        let bundle = PreKeyBundle::new(parts.clone()).map_err(|e| e.to_string())?;
        let bytes = bundle.encode();
        if bytes != write_bundle(&bundle_field_list(parts)) {
            return Err("the vector writer and hush-prekey disagree on a bundle".into());
        }
        let mut case = json!({
            "name": name,
            "bundle": hex::encode(&bytes),
            "signatures_valid": bundle.verify_signatures().is_ok(),
        });
        if let (Value::Object(case), Value::Object(fields)) = (&mut case, bundle_fields(parts)) {
            case.extend(fields);
        }
        valid.push(case);
    }

    let good = bundle_field_list(&with_one_time);
    let edited = |edit: &dyn Fn(&mut Fields)| {
        let mut fields = good.clone();
        edit(&mut fields);
        write_bundle(&fields)
    };
    let set = |fields: &mut Fields, number: u64, value: BundleValue| {
        for (n, v) in fields.iter_mut() {
            if *n == number {
                *v = value.clone();
            }
        }
    };
    let good_bytes = write_bundle(&good);
    let invalid_cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("too_large", vec![1; 4097]),
        (
            "unsupported_version",
            [&[0u8][..], good_bytes.get(1..).unwrap_or_default()].concat(),
        ),
        (
            "truncated",
            good_bytes
                .get(..good_bytes.len().saturating_sub(1))
                .unwrap_or_default()
                .to_vec(),
        ),
        ("unknown_field", [&good_bytes[..], &[0x60, 0x01]].concat()),
        ("repeated_field", [&good_bytes[..], &[0x08, 0x01]].concat()),
        (
            "one_time_id_without_key",
            edited(&|f| f.retain(|(n, _)| *n != 8)),
        ),
        ("device_id_zero", edited(&|f| f.retain(|(n, _)| *n != 2))),
        ("device_id_too_large", edited(&|f| set(f, 2, Int(128)))),
        (
            "signed_prekey_id_out_of_range",
            edited(&|f| set(f, 4, Int(0x0100_0000))),
        ),
        (
            "identity_key_wrong_type",
            edited(&|f| {
                let mut key = with_one_time.identity_key.encode().to_vec();
                if let Some(b) = key.first_mut() {
                    *b = 0x06;
                }
                set(f, 3, Bytes(key));
            }),
        ),
        (
            "signed_prekey_is_a_kem_key",
            edited(&|f| set(f, 5, Bytes(with_one_time.kem_prekey.encode()))),
        ),
        (
            "kem_prekey_is_an_ec_key",
            edited(&|f| set(f, 10, Bytes(with_one_time.signed_prekey.encode().to_vec()))),
        ),
        (
            "kem_prekey_unreduced",
            edited(&|f| {
                let mut key = with_one_time.kem_prekey.encode();
                if let Some(b) = key.get_mut(1) {
                    *b = 0xff;
                }
                if let Some(b) = key.get_mut(2) {
                    *b |= 0x0f;
                }
                set(f, 10, Bytes(key));
            }),
        ),
        (
            "short_signature",
            edited(&|f| set(f, 11, Bytes(vec![0; 63]))),
        ),
    ];
    let mut invalid = Vec::new();
    for (name, bytes) in invalid_cases {
        let error = match PreKeyBundle::decode(&bytes) {
            Ok(_) => return Err(format!("bundle case {name} decoded")),
            Err(e) => bundle_error_name(&e),
        };
        invalid.push(json!({ "name": name, "bundle": hex::encode(&bytes), "error": error }));
    }
    let file = json!({
        "description": "hush PreKeyBundle v1 vectors (docs/wire/prekeys.md): valid bundles with their fields and whether both signatures verify, and invalid ones with the error PreKeyBundle::decode must give",
        "format_version": 1,
        "valid": valid,
        "invalid": invalid,
    });
    let contents = serde_json::to_string_pretty(&file).map_err(|e| e.to_string())? + "\n";
    Ok(Generated {
        contents,
        readme_section: BUNDLES_README.to_owned(),
    })
}

const BUNDLES_README: &str = "\
Prekey bundles (`PreKeyBundle` v1, `docs/wire/prekeys.md`): `valid` bundles with every field \
spelled out and `signatures_valid` (whether both XEdDSA signatures verify under the bundle's \
identity key; one case carries a well-formed signature of the wrong key), and `invalid` ones \
with the error `PreKeyBundle::decode` must give (`empty`, `too_large`, `unsupported_version`, \
`truncated`, `malformed`, `invalid_field`, `id_out_of_range`, `device_id_out_of_range`).

Made by `hush vectors generate` from seeded RNGs. The generator writes each bundle a second time \
with its own protobuf writer and requires the same bytes as `hush-prekey`'s encoder; invalid \
bundles are written only by that writer. **Cross-checked independently** by \
`check_prekey_vectors.py` (Python 3, no packages), which decodes every bundle with its own \
protobuf reader, compares each field with the values listed, verifies the signatures with its \
own Ed25519 arithmetic, and computes each invalid bundle's error class from the rules in \
`docs/wire/prekeys.md`. `crates/hush-prekey/tests/vectors.rs` runs the script.";

/// Checks `prekey_bundles.json`.
pub(crate) fn check_bundles(path: &Path, report: &mut Report) {
    #[derive(Deserialize)]
    struct File {
        valid: Vec<Value>,
        invalid: Vec<Value>,
    }
    let file: File = match read_json(path) {
        Ok(file) => file,
        Err(what) => return report.unreadable(path, &what),
    };
    if file.valid.is_empty() || file.invalid.is_empty() {
        return report.unreadable(path, "needs valid and invalid cases");
    }
    for (index, case) in file.valid.iter().enumerate() {
        let name = case.get("name").and_then(Value::as_str).unwrap_or("?");
        report.case(
            path,
            &format!("valid {index} ({name})"),
            run_valid_bundle(case),
        );
    }
    for (index, case) in file.invalid.iter().enumerate() {
        let name = case.get("name").and_then(Value::as_str).unwrap_or("?");
        report.case(
            path,
            &format!("invalid {index} ({name})"),
            run_invalid_bundle(case),
        );
    }
}

fn run_valid_bundle(case: &Value) -> Result<(), String> {
    let bytes = unhex(
        "bundle",
        case.get("bundle")
            .and_then(Value::as_str)
            .ok_or("no field bundle")?,
    )?;
    let bundle = PreKeyBundle::decode(&bytes).map_err(|e| format!("hush refused it: {e}"))?;
    let want_valid = case
        .get("signatures_valid")
        .and_then(Value::as_bool)
        .ok_or("no field signatures_valid")?;
    expect(bundle.verify_signatures().is_ok() == want_valid, || {
        format!("signatures_valid: hush says {}", !want_valid)
    })?;
    let fields = bundle_fields(&bundle.clone().into_parts());
    let mut mismatches = String::new();
    if let Value::Object(fields) = &fields {
        for (name, value) in fields {
            if case.get(name) != Some(value) {
                let _ = write!(mismatches, " {name}");
            }
        }
    }
    expect(mismatches.is_empty(), || {
        format!("fields differ:{mismatches}")
    })?;
    expect(bundle.encode() == bytes, || {
        "re-encoding differs".to_owned()
    })
}

fn run_invalid_bundle(case: &Value) -> Result<(), String> {
    let bytes = unhex(
        "bundle",
        case.get("bundle")
            .and_then(Value::as_str)
            .ok_or("no field bundle")?,
    )?;
    let want = case
        .get("error")
        .and_then(Value::as_str)
        .ok_or("no field error")?;
    match PreKeyBundle::decode(&bytes) {
        Ok(_) => Err(format!("hush accepted it, expected {want}")),
        Err(e) => expect(bundle_error_name(&e) == want, || {
            format!("hush said {e}, expected {want}")
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_self_consistent() {
        let first = generate_uploads().unwrap();
        let second = generate_uploads().unwrap();
        assert_eq!(first.contents, second.contents);
        let bundles = generate_bundles().unwrap();
        assert_eq!(bundles.contents, generate_bundles().unwrap().contents);

        let dir = std::env::temp_dir().join(format!("hush-prekey-vectors-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let uploads_path = dir.join("prekey_uploads.json");
        let bundles_path = dir.join("prekey_bundles.json");
        std::fs::write(&uploads_path, &first.contents).unwrap();
        std::fs::write(&bundles_path, &bundles.contents).unwrap();
        let mut report = Report::default();
        check_uploads(&uploads_path, &mut report);
        check_bundles(&bundles_path, &mut report);
        assert_eq!(report.failed, 0);
        assert!(report.passed >= 35, "{}", report.passed);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
