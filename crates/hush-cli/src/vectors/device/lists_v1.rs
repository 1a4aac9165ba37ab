//! `device_lists_v1.json`: signed device lists in format 1 (before membership
//! signatures), as hush wrote them before format 2. Frozen: the file is the one
//! `hush vectors generate` wrote at commit a8baea6, kept unchanged because stores written
//! then hold such lists; `generate` writes it back as it is. The runner checks what
//! hush-device still does with format 1 (`DeviceListV1`, `KnownDeviceLists::verify_v1`):
//! decode, signature, companion maximum, and the verifier's memory (rollback,
//! equivocation, identity change). Format-1 lists are never sent to, so `send_checks`
//! is not run.

use std::path::Path;

use hush_device::{DeviceEntryV1, DeviceListPolicy, DeviceListV1, KnownDeviceLists};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Generated, Report, expect, expect_bytes, hex_field, number, outcome, read_json, text};

/// The file as hush wrote it at a8baea6.
const FROZEN: &str = include_str!("../../../../../test-vectors/device/device_lists_v1.json");

/// `device_lists_v1.json`: the frozen file, unchanged.
pub(crate) fn generate_device_lists_v1() -> Result<Generated, String> {
    Ok(Generated {
        contents: FROZEN.to_owned(),
        readme_section: README.to_owned(),
    })
}

const README: &str = "\
Signed device lists in format 1 (`docs/wire/device-list.md`, \"Format 1\": 49-byte entries \
without membership signatures, version byte 1), as stores written before format 2 hold them. \
**Frozen**: written by `hush vectors generate` at commit a8baea6 (when format 1 was current, \
under the name `device_lists.json`) and kept unchanged; `hush vectors generate` writes it back as \
it is. The fields are those of `device_lists.json` then: `valid`, `invalid` (verified for the \
address `alice`) and `sequences`. `hush vectors check` runs them through `DeviceListV1::decode` \
and `KnownDeviceLists::verify_v1` (what hush still does with a format-1 list: carry its account \
key and version over); `send_checks` are not run, since a format-1 list is never sent to. \
**Cross-checked independently** by `check_device_vectors.py`, which parses format 1 by the \
documented offsets, verifies the signatures and keeps its own per-address memory.";

fn entry_json_v1(entry: &DeviceEntryV1) -> Value {
    json!({
        "device_id": entry.device_id,
        "identity_key": hex::encode(entry.identity_key.encode()),
        "key_index": entry.key_index,
        "added_at_ms": entry.added_at_ms,
    })
}

fn check_valid(case: &Value, policy: DeviceListPolicy) -> Result<(), String> {
    let bytes = hex_field(case, "signed_list")?;
    let list = DeviceListV1::decode(&bytes).map_err(|e| format!("hush refused it: {e}"))?;
    expect(list.encode() == bytes, || "re-encoding differs".to_owned())?;
    KnownDeviceLists::new(policy)
        .verify_v1(b"vectors", &bytes)
        .map_err(|e| format!("hush refused it: {e}"))?;
    expect_bytes(
        "account_identity_key",
        &list.account_identity().encode(),
        &hex_field(case, "account_identity_key")?,
    )?;
    expect(list.version() == number(case, "version")?, || {
        format!("version: hush gave {}", list.version())
    })?;
    expect(list.signed_at_ms() == number(case, "signed_at_ms")?, || {
        format!("signed_at_ms: hush gave {}", list.signed_at_ms())
    })?;
    let devices: Vec<Value> = list.devices().iter().map(entry_json_v1).collect();
    expect(case.get("devices") == Some(&json!(devices)), || {
        "devices differ".to_owned()
    })
}

fn check_sequence(case: &Value, policy: DeviceListPolicy) -> Result<(), String> {
    let mut verifier = KnownDeviceLists::new(policy);
    let steps = case
        .get("steps")
        .and_then(Value::as_array)
        .ok_or("no field steps")?;
    for (index, step) in steps.iter().enumerate() {
        let got = outcome(&verifier.verify_v1(
            text(step, "address")?.as_bytes(),
            &hex_field(step, "signed_list")?,
        ));
        let want = text(step, "result")?;
        expect(got == want, || {
            format!("step {index}: hush gave {got}, expected {want}")
        })?;
    }
    Ok(())
}

/// Checks `device_lists_v1.json`.
pub(crate) fn check_device_lists_v1(path: &Path, report: &mut Report) {
    #[derive(Deserialize)]
    struct PolicyFields {
        max_companions: usize,
        companion_expiry_ms: u64,
    }
    #[derive(Deserialize)]
    struct File {
        policy: PolicyFields,
        valid: Vec<Value>,
        invalid: Vec<Value>,
        sequences: Vec<Value>,
    }
    let file: File = match read_json(path) {
        Ok(file) => file,
        Err(what) => return report.unreadable(path, &what),
    };
    if file.valid.is_empty() || file.invalid.is_empty() || file.sequences.is_empty() {
        return report.unreadable(path, "needs valid, invalid and sequence cases");
    }
    let policy = DeviceListPolicy {
        max_companions: file.policy.max_companions,
        companion_expiry_ms: file.policy.companion_expiry_ms,
    };
    let name_of = |case: &Value| {
        case.get("name")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned()
    };
    for (index, case) in file.valid.iter().enumerate() {
        report.case(
            path,
            &format!("valid {index} ({})", name_of(case)),
            check_valid(case, policy),
        );
    }
    for (index, case) in file.invalid.iter().enumerate() {
        let result = hex_field(case, "signed_list").and_then(|bytes| {
            let got = outcome(&KnownDeviceLists::new(policy).verify_v1(b"alice", &bytes));
            let want = text(case, "error")?;
            expect(got == want, || format!("hush gave {got}, expected {want}"))
        });
        report.case(
            path,
            &format!("invalid {index} ({})", name_of(case)),
            result,
        );
    }
    for (index, case) in file.sequences.iter().enumerate() {
        report.case(
            path,
            &format!("sequence {index} ({})", name_of(case)),
            check_sequence(case, policy),
        );
    }
}
