//! hush's own device vectors (`test-vectors/device/`): `linking.json` and
//! `device_lists.json`, for the formats in `docs/wire/linking.md` and
//! `docs/wire/device-list.md`.
//!
//! The generators draw every key and random input from seeded RNGs and feed them to
//! `hush-device` through a [`ReplayRng`](hush_test_support::ReplayRng), so the files record the random inputs and
//! regenerate identically. The malformed and forged inputs are built by this module's own
//! code from hush-core primitives (its own labels, its own sealing of linking messages and
//! countersignatures, its own device-list writer); each of those writers must reproduce
//! `hush-device`'s bytes for the valid inputs first. The runners replay every valid
//! transcript through `hush-device` and compare every byte, and run every invalid case
//! through the API step it names, comparing the error. Independent cross-check:
//! `test-vectors/device/check_device_vectors.py` (plain Python), which
//! `crates/hush-device/tests/vectors.rs` runs.

mod linking;
mod lists;
mod lists_v1;

use std::collections::BTreeMap;

use hush_core::{IdentityKeyPair, PrivateKey};
use hush_device::DeviceEntry;
use serde_json::{Value, json};

use super::{Generated, Report, expect, expect_bytes, read_json, unhex};

pub(crate) use linking::{check_linking, generate_linking};
pub(crate) use lists::{check_device_lists, generate_device_lists};
pub(crate) use lists_v1::{check_device_lists_v1, generate_device_lists_v1};

/// The clock every vector starts from.
const NOW_MS: u64 = 1_700_000_000_000;

/// The account-signature prefix, written out from `docs/wire/linking.md` (not imported).
const ACCOUNT_PREFIX: [u8; 2] = [0x06, 0x00];

/// The name a file records for an error: its `Debug` form, e.g. `Malformed("base45")`,
/// `Rollback { seen: 3, received: 2 }`, `HistoryStream(WrongKey)`.
fn error_name(error: &hush_device::Error) -> String {
    format!("{error:?}")
}

fn outcome<T>(result: &Result<T, hush_device::Error>) -> String {
    result.as_ref().map_or_else(error_name, |_| "ok".to_owned())
}

fn key_pair(bytes: [u8; 32]) -> IdentityKeyPair {
    IdentityKeyPair::from(PrivateKey::from_bytes(bytes))
}

fn draw<const N: usize>(rng: &mut impl hush_core::rng::Rng) -> [u8; N] {
    let mut out = [0u8; N];
    rng.fill_bytes(&mut out);
    out
}

fn tail(bytes: &[u8], from: usize) -> &[u8] {
    bytes.get(from..).unwrap_or_default()
}

fn head(bytes: &[u8], to: usize) -> &[u8] {
    bytes.get(..to).unwrap_or_default()
}

fn with_byte(bytes: &[u8], at: usize, value: u8) -> Vec<u8> {
    let mut out = bytes.to_vec();
    if let Some(b) = out.get_mut(at) {
        *b = value;
    }
    out
}

fn flip(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    if let Some(b) = out.get_mut(at) {
        *b ^= 0x01;
    }
    out
}

fn sub(bytes: &[u8], from: usize, to: usize) -> Result<&[u8], String> {
    bytes
        .get(from..to)
        .ok_or_else(|| format!("{} bytes, need {to}", bytes.len()))
}

fn arr32(bytes: &[u8]) -> Result<[u8; 32], String> {
    bytes
        .try_into()
        .map_err(|_| format!("{} bytes, expected 32", bytes.len()))
}

fn by_name(cases: &[Value]) -> BTreeMap<String, Value> {
    cases
        .iter()
        .filter_map(|c| {
            c.get("name")
                .and_then(Value::as_str)
                .map(|n| (n.to_owned(), c.clone()))
        })
        .collect()
}

fn text<'a>(case: &'a Value, field: &str) -> Result<&'a str, String> {
    case.get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("no field {field}"))
}

fn number(case: &Value, field: &str) -> Result<u64, String> {
    case.get(field)
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("no field {field}"))
}

fn hex_field(case: &Value, field: &str) -> Result<Vec<u8>, String> {
    unhex(field, text(case, field)?)
}

fn entry_json(entry: &DeviceEntry) -> Value {
    json!({
        "device_id": entry.device_id,
        "identity_key": hex::encode(entry.identity_key.encode()),
        "key_index": entry.key_index,
        "added_at_ms": entry.added_at_ms,
        "membership_signature": hex::encode(entry.membership_signature.as_bytes()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_self_consistent() {
        let linking = generate_linking().unwrap();
        assert_eq!(linking.contents, generate_linking().unwrap().contents);
        let lists = generate_device_lists().unwrap();
        assert_eq!(lists.contents, generate_device_lists().unwrap().contents);

        let dir = std::env::temp_dir().join(format!("hush-device-vectors-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let linking_path = dir.join("linking.json");
        let lists_path = dir.join("device_lists.json");
        std::fs::write(&linking_path, &linking.contents).unwrap();
        std::fs::write(&lists_path, &lists.contents).unwrap();
        let mut report = Report::default();
        check_linking(&linking_path, &mut report);
        check_device_lists(&lists_path, &mut report);
        assert_eq!(report.failed, 0);
        assert!(report.passed >= 80, "{}", report.passed);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_changed_byte_fails_the_runner() {
        let linking = generate_linking().unwrap();
        let mut file: Value = serde_json::from_str(&linking.contents).unwrap();
        let hash = file["valid"][0]["transcript_hash"]
            .as_str()
            .unwrap()
            .to_owned();
        let last = if hash.ends_with('0') { "1" } else { "0" };
        file["valid"][0]["transcript_hash"] = json!(format!("{}{last}", &hash[..63]));
        file["invalid"][0]["error"] = json!("Expired");
        let dir =
            std::env::temp_dir().join(format!("hush-device-vectors-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("linking.json");
        std::fs::write(&path, file.to_string()).unwrap();
        let mut report = Report::default();
        check_linking(&path, &mut report);
        assert_eq!(report.failed, 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
