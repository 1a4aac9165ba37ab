//! `device_lists.json`: signed device lists, their generator and runner.

use std::path::Path;

use hush_core::{IdentityKey, IdentityKeyPair};
use hush_device::{DeviceEntry, DeviceList, DeviceListPolicy, KnownDeviceLists, SignedDeviceList};
use hush_test_support::test_rng;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    ACCOUNT_PREFIX, Generated, NOW_MS, Report, draw, entry_json, expect, expect_bytes, flip, head,
    hex_field, key_pair, number, outcome, read_json, tail, text, with_byte,
};

/// Fourteen days, the default companion expiry.
const COMPANION_EXPIRY_MS: u64 = 1_209_600_000;
const LIST_PREFIX: [u8; 2] = [0x06, 0x02];
const MEMBERSHIP_PREFIX: [u8; 2] = [0x06, 0x03];

// ---------------------------------------------------------------------------------------
// Device lists.

/// One entry, for this module's own list writer.
#[derive(Clone)]
struct Entry {
    device_id: u32,
    identity_key: Vec<u8>,
    key_index: u32,
    added_at_ms: u64,
    membership_signature: [u8; 64],
}

impl From<&DeviceEntry> for Entry {
    fn from(e: &DeviceEntry) -> Self {
        Self {
            device_id: e.device_id,
            identity_key: e.identity_key.encode().to_vec(),
            key_index: e.key_index,
            added_at_ms: e.added_at_ms,
            membership_signature: *e.membership_signature.as_bytes(),
        }
    }
}

/// List bytes laid out by this module (`docs/wire/device-list.md`, version 2), with the
/// count taken from `entries` unless `count` says otherwise.
fn write_list(
    account: &[u8],
    version: u64,
    signed_at_ms: u64,
    entries: &[Entry],
    count: Option<u8>,
) -> Vec<u8> {
    let mut out = vec![2];
    out.extend_from_slice(account);
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&signed_at_ms.to_be_bytes());
    out.push(count.unwrap_or_else(|| u8::try_from(entries.len()).unwrap_or(u8::MAX)));
    for e in entries {
        out.extend_from_slice(&e.device_id.to_be_bytes());
        out.extend_from_slice(&e.identity_key);
        out.extend_from_slice(&e.key_index.to_be_bytes());
        out.extend_from_slice(&e.added_at_ms.to_be_bytes());
        out.extend_from_slice(&e.membership_signature);
    }
    out
}

/// A membership signature made by this module: `signer` over `06 03 || account key ||
/// device id || user id length || user id`.
fn membership(
    signer: &IdentityKeyPair,
    account: &IdentityKey,
    user: &[u8],
    device_id: u32,
    rng: &mut impl hush_core::rng::CryptoRng,
) -> [u8; 64] {
    let bytes = [
        &MEMBERSHIP_PREFIX[..],
        &account.encode(),
        &device_id.to_be_bytes(),
        &[u8::try_from(user.len()).unwrap_or(u8::MAX)],
        user,
    ]
    .concat();
    *signer.sign(&bytes, rng).as_bytes()
}

fn sign_list(
    signer: &IdentityKeyPair,
    prefix: &[u8],
    list: &[u8],
    rng: &mut impl hush_core::rng::CryptoRng,
) -> Vec<u8> {
    let signature = signer.sign(&[prefix, list].concat(), rng);
    [list, signature.as_bytes()].concat()
}

fn list_json(
    name: &str,
    user: &str,
    signed: &SignedDeviceList,
    checks: &[u64],
) -> Result<Value, String> {
    let bytes = signed.encode();
    let mut verifier = KnownDeviceLists::new(DeviceListPolicy::default());
    let verified = verifier
        .verify(user.as_bytes(), &bytes)
        .map_err(|e| format!("{name}: {e}"))?;
    Ok(json!({
        "name": name,
        "user_id": user,
        "signed_list": hex::encode(&bytes),
        "account_identity_key": hex::encode(signed.account_identity().encode()),
        "version": signed.version(),
        "signed_at_ms": verified.signed_at_ms(),
        "devices": signed.devices().iter().map(entry_json).collect::<Vec<_>>(),
        "send_checks": checks.iter().map(|&now| json!({
            "now_ms": now,
            "device_ids": verified.devices_to_send(now).iter().map(|e| e.device_id).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    }))
}

/// A companion with a fresh key that consents to be `device_id` of `list`'s account.
fn companion(
    rng: &mut impl hush_core::rng::CryptoRng,
    list: &DeviceList,
    account: &IdentityKey,
    device_id: u32,
    at: u64,
) -> Result<DeviceEntry, String> {
    let device = IdentityKeyPair::generate(rng);
    let membership_signature =
        hush_device::sign_membership(&device, account, list.user_id(), device_id, rng)
            .map_err(|e| e.to_string())?;
    Ok(DeviceEntry {
        device_id,
        identity_key: device.identity_key(),
        key_index: 1,
        added_at_ms: at,
        membership_signature,
    })
}

/// A list of `user` under `account` holding only its primary (key `primary`).
fn new_list(
    user: &[u8],
    account: &IdentityKeyPair,
    primary: &IdentityKeyPair,
    key_index: u32,
    policy: DeviceListPolicy,
    rng: &mut impl hush_core::rng::CryptoRng,
) -> Result<DeviceList, String> {
    DeviceList::new(
        account.identity_key(),
        user,
        primary,
        key_index,
        NOW_MS,
        policy,
        rng,
    )
    .map_err(|e| e.to_string())
}

/// `entries` with the membership signature of entry `index` replaced by `signature`.
fn with_consent(entries: &[Entry], index: usize, signature: [u8; 64]) -> Vec<Entry> {
    let mut changed = entries.to_vec();
    if let Some(e) = changed.get_mut(index) {
        e.membership_signature = signature;
    }
    changed
}

/// Lists one contact verifies in order: (account address, signed list).
type Steps = Vec<(String, Vec<u8>)>;

/// `device_lists.json`.
pub(crate) fn generate_device_lists() -> Result<Generated, String> {
    let mut rng = test_rng(501);
    let alice = key_pair(draw(&mut rng));
    let alice_phone = key_pair(draw(&mut rng));
    let bob = key_pair(draw(&mut rng));
    let mallory = key_pair(draw(&mut rng));
    let policy = DeviceListPolicy::default();
    let roomy = DeviceListPolicy {
        max_companions: 16,
        ..policy
    };
    let err = |e: hush_device::Error| e.to_string();

    // Alice's lists as her primary changes them. Her phone's key is not the account key.
    let alice_key = alice.identity_key();
    let mut list = new_list(b"alice", &alice, &alice_phone, 1, policy, &mut rng)?;
    let v1 = list.sign(&alice, NOW_MS, &mut rng).map_err(err)?;
    let desktop = companion(
        &mut rng,
        &list,
        &alice_key,
        list.next_device_id(),
        NOW_MS + 1_000,
    )?;
    let before_desktop = list.clone();
    list.add_companion(desktop).map_err(err)?;
    let v2 = list.sign(&alice, NOW_MS + 2_000, &mut rng).map_err(err)?;
    let v2_resigned = SignedDeviceList::decode(&sign_list(
        &alice,
        &LIST_PREFIX,
        head(&v2.encode(), v2.encode().len() - 64),
        &mut rng,
    ))
    .map_err(err)?;
    let mut fork = before_desktop;
    let forked = companion(&mut rng, &fork, &alice_key, 2, NOW_MS + 1_500)?;
    fork.add_companion(forked).map_err(err)?;
    let v2_fork = fork.sign(&alice, NOW_MS + 2_500, &mut rng).map_err(err)?;
    let tablet = companion(
        &mut rng,
        &list,
        &alice_key,
        list.next_device_id(),
        NOW_MS + 3_000,
    )?;
    list.add_companion(tablet).map_err(err)?;
    let v3 = list.sign(&alice, NOW_MS + 4_000, &mut rng).map_err(err)?;
    list.remove(2).map_err(err)?;
    let v4 = list.sign(&alice, NOW_MS + 5_000, &mut rng).map_err(err)?;
    // Bob's account key is also his primary's key.
    let mut bobs = new_list(b"bob", &bob, &bob, 3, policy, &mut rng)?;
    let bob_v1 = bobs.sign(&bob, NOW_MS, &mut rng).map_err(err)?;
    // A user id of the longest length.
    let long_user = "a".repeat(64);
    let mut longs = new_list(long_user.as_bytes(), &bob, &bob, 1, policy, &mut rng)?;
    let long_v1 = longs.sign(&bob, NOW_MS, &mut rng).map_err(err)?;
    // Mallory's list claiming Alice's address.
    let mut mallorys = new_list(b"alice", &mallory, &mallory, 1, policy, &mut rng)?;
    for _ in 0..5 {
        mallorys.sign(&mallory, NOW_MS, &mut rng).map_err(err)?;
    }
    let mallory_v6 = mallorys
        .sign(&mallory, NOW_MS + 6_000, &mut rng)
        .map_err(err)?;
    // Five companions: within the parser's limit, beyond the default policy.
    let mut crowded = new_list(b"alice", &alice, &alice_phone, 1, roomy, &mut rng)?;
    for _ in 0..5 {
        let entry = companion(
            &mut rng,
            &crowded,
            &alice_key,
            crowded.next_device_id(),
            NOW_MS + 10,
        )?;
        crowded.add_companion(entry).map_err(err)?;
    }
    let crowded_signed = crowded.sign(&alice, NOW_MS + 20, &mut rng).map_err(err)?;
    let mut full = new_list(b"alice", &alice, &alice_phone, 1, roomy, &mut rng)?;
    for _ in 0..4 {
        let entry = companion(
            &mut rng,
            &full,
            &alice_key,
            full.next_device_id(),
            NOW_MS + 10,
        )?;
        full.add_companion(entry).map_err(err)?;
    }
    let four = full.sign(&alice, NOW_MS + 30, &mut rng).map_err(err)?;

    // This module's writer agrees with hush-device on every valid list.
    for signed in [
        &v1,
        &v2,
        &v3,
        &v4,
        &bob_v1,
        &long_v1,
        &crowded_signed,
        &four,
    ] {
        let bytes = signed.encode();
        let entries: Vec<Entry> = signed.devices().iter().map(Entry::from).collect();
        let signed_at = u64::from_be_bytes(
            bytes
                .get(42..50)
                .and_then(|b| b.try_into().ok())
                .ok_or("short list")?,
        );
        let ours = write_list(
            &signed.account_identity().encode(),
            signed.version(),
            signed_at,
            &entries,
            None,
        );
        expect_bytes("list bytes", &ours, head(&bytes, bytes.len() - 64))?;
    }

    let day = 86_400_000;
    let valid = vec![
        list_json("primary_only", "alice", &v1, &[NOW_MS, NOW_MS + 30 * day])?,
        list_json(
            "one_companion",
            "alice",
            &v2,
            &[
                NOW_MS + 2_000,
                NOW_MS + 2_000 + COMPANION_EXPIRY_MS,
                NOW_MS + 2_001 + COMPANION_EXPIRY_MS,
            ],
        )?,
        list_json(
            "two_companions",
            "alice",
            &v3,
            &[NOW_MS + 5_000, NOW_MS + 15 * day],
        )?,
        list_json("companion_removed", "alice", &v4, &[NOW_MS + 5_000])?,
        list_json("account_key_is_the_primary_key", "bob", &bob_v1, &[NOW_MS])?,
        list_json("longest_user_id", &long_user, &long_v1, &[NOW_MS])?,
        list_json("four_companions", "alice", &four, &[NOW_MS + 30])?,
    ];

    // Malformed and forged lists, each verified by a fresh contact.
    let good = v3.encode();
    let good_list = head(&good, good.len() - 64);
    let alice_key_bytes = alice_key.encode();
    let entries: Vec<Entry> = v3.devices().iter().map(Entry::from).collect();
    let signed_at = NOW_MS + 4_000;
    let mut invalid_lists: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("version_1", [&[1u8][..], tail(&good, 1)].concat()),
        ("version_3", [&[3u8][..], tail(&good, 1)].concat()),
        ("header_only", head(&good, 51).to_vec()),
        ("truncated", head(&good, good.len() - 1).to_vec()),
        ("trailing_byte", [&good[..], &[0u8][..]].concat()),
        ("account_key_type_6", with_byte(&good, 1, 6)),
        ("signature_flipped", flip(&good, good.len() - 10)),
        ("list_bytes_changed", flip(&good, 51 + 113 + 45)),
        (
            "signed_without_prefix",
            sign_list(&alice, &[], good_list, &mut rng),
        ),
        (
            "signed_with_the_account_signature_prefix",
            sign_list(&alice, &ACCOUNT_PREFIX, good_list, &mut rng),
        ),
        (
            "signed_by_another_key",
            sign_list(&mallory, &LIST_PREFIX, good_list, &mut rng),
        ),
        ("five_companions", crowded_signed.encode()),
    ];
    // Membership signatures: each entry's consent must be its device's, for this
    // account key, user id and device id (a device listed under another account).
    let desktop_index = 1;
    let desktop_key = key_pair(draw(&mut rng));
    let mut flipped = entries
        .get(desktop_index)
        .ok_or("no desktop")?
        .membership_signature;
    if let Some(b) = flipped.get_mut(5) {
        *b ^= 0x01;
    }
    let consents = [
        (
            "entry_membership_signature_flipped",
            with_consent(&entries, desktop_index, flipped),
        ),
        (
            "entry_membership_by_another_key",
            with_consent(
                &entries,
                desktop_index,
                membership(&desktop_key, &alice_key, b"alice", 2, &mut rng),
            ),
        ),
        (
            "entry_membership_of_the_primary_copied",
            with_consent(
                &entries,
                desktop_index,
                entries.first().ok_or("no primary")?.membership_signature,
            ),
        ),
    ];
    for (name, changed) in consents {
        let list = write_list(&alice_key_bytes, 9, signed_at, &changed, None);
        invalid_lists.push((name, sign_list(&alice, &LIST_PREFIX, &list, &mut rng)));
    }
    let mut with_entries = |name: &'static str, entries: Vec<Entry>, count: Option<u8>| {
        let list = write_list(&alice_key_bytes, 9, signed_at, &entries, count);
        invalid_lists.push((name, sign_list(&alice, &LIST_PREFIX, &list, &mut rng)));
    };
    with_entries("count_0", Vec::new(), None);
    with_entries("count_says_2_holds_3", entries.clone(), Some(2));
    let mut eighteen = entries.clone();
    for id in 4..=18u32 {
        eighteen.push(Entry {
            device_id: id,
            identity_key: key_pair([u8::try_from(id).unwrap_or(0); 32])
                .identity_key()
                .encode()
                .to_vec(),
            key_index: 1,
            added_at_ms: NOW_MS,
            membership_signature: [0; 64],
        });
    }
    with_entries("eighteen_devices", eighteen, None);
    let mut no_primary = entries.clone();
    no_primary.remove(0);
    with_entries("first_entry_not_device_1", no_primary, None);
    let mut swapped = entries.clone();
    swapped.swap(1, 2);
    with_entries("device_ids_not_increasing", swapped, None);
    let mut same_id = entries.clone();
    if let Some(e) = same_id.get_mut(2) {
        e.device_id = 2;
    }
    with_entries("device_id_twice", same_id, None);
    let mut same_key = entries.clone();
    if let (Some(key), Some(e)) = (
        entries.get(1).map(|e| e.identity_key.clone()),
        same_key.get_mut(2),
    ) {
        e.identity_key = key;
    }
    with_entries("identity_key_twice", same_key, None);
    let mut bad_type = entries.clone();
    if let Some(b) = bad_type.get_mut(1).and_then(|e| e.identity_key.first_mut()) {
        *b = 6;
    }
    with_entries("entry_key_type_6", bad_type, None);

    // Issue 16, item 5: lists that put one account's device under another user.
    let mut addressed: Vec<(&str, &str, Vec<u8>)> = invalid_lists
        .into_iter()
        .map(|(name, bytes)| (name, "alice", bytes))
        .collect();
    addressed.push(("alices_list_as_another_users", "mallory", good.clone()));
    let mallory_key = mallory.identity_key();
    let mut mallory_alone = new_list(b"mallory", &mallory, &mallory, 1, policy, &mut rng)?;
    let mallory_primary = mallory_alone
        .sign(&mallory, NOW_MS, &mut rng)
        .map_err(err)?;
    let stolen = Entry {
        device_id: 2,
        ..entries.get(desktop_index).ok_or("no desktop")?.clone()
    };
    let with_stolen = [
        Entry::from(mallory_primary.devices().first().ok_or("no primary")?),
        stolen,
    ];
    let forged = write_list(&mallory_key.encode(), 2, NOW_MS, &with_stolen, None);
    addressed.push((
        "another_accounts_device_listed",
        "mallory",
        sign_list(&mallory, &LIST_PREFIX, &forged, &mut rng),
    ));
    let mut invalid = Vec::new();
    for (name, address, bytes) in addressed {
        let got = outcome(&KnownDeviceLists::new(policy).verify(address.as_bytes(), &bytes));
        if got == "ok" {
            return Err(format!("device list case {name} verified"));
        }
        invalid.push(json!({
            "name": name,
            "address": address,
            "signed_list": hex::encode(&bytes),
            "error": got,
        }));
    }

    // Sequences one contact sees.
    let a = |l: &SignedDeviceList| ("alice".to_owned(), l.encode());
    let to = |address: &str, bytes: Vec<u8>| (address.to_owned(), bytes);
    let sequences_plan: Vec<(&str, Steps)> = vec![
        (
            "versions_grow",
            vec![a(&v1), a(&v2), a(&v2), a(&v2_resigned), a(&v3), a(&v4)],
        ),
        ("versions_may_be_skipped", vec![a(&v1), a(&v4)]),
        ("rollback", vec![a(&v3), a(&v2), a(&v1), a(&v3), a(&v4)]),
        ("equivocation", vec![a(&v2), a(&v2_fork), a(&v2), a(&v3)]),
        (
            "identity_change",
            vec![a(&v2), to("alice", mallory_v6.encode()), a(&v3)],
        ),
        (
            "addresses_are_separate",
            vec![
                a(&v3),
                to("bob", bob_v1.encode()),
                to("mallory", mallory_v6.encode()),
                to("bob", v1.encode()),
                to("mallory", mallory_primary.encode()),
                a(&v4),
            ],
        ),
        (
            "errors_leave_no_trace",
            vec![
                to("alice", flip(&v3.encode(), 200)),
                a(&v1),
                to("alice", crowded_signed.encode()),
                a(&v2),
            ],
        ),
        (
            "account_address_bounds",
            vec![
                to("", v1.encode()),
                to(&"a".repeat(64), long_v1.encode()),
                to(&"a".repeat(65), long_v1.encode()),
            ],
        ),
    ];
    let mut sequences = Vec::new();
    for (name, steps) in sequences_plan {
        let mut verifier = KnownDeviceLists::new(policy);
        let steps: Vec<Value> = steps
            .iter()
            .map(|(address, bytes)| {
                json!({
                    "address": address,
                    "signed_list": hex::encode(bytes),
                    "result": outcome(&verifier.verify(address.as_bytes(), bytes)),
                })
            })
            .collect();
        sequences.push(json!({ "name": name, "steps": steps }));
    }

    let file = json!({
        "description": "hush signed device list vectors (docs/wire/device-list.md): valid signed lists with their fields and the devices a contact may send to at given times; invalid lists with the error a fresh KnownDeviceLists gives; sequences of lists one contact verifies in order, with each result (Rust Debug form of the error, or ok)",
        "format_version": 2,
        "policy": { "max_companions": policy.max_companions, "companion_expiry_ms": policy.companion_expiry_ms },
        "valid": valid,
        "invalid": invalid,
        "sequences": sequences,
    });
    let contents = serde_json::to_string_pretty(&file).map_err(|e| e.to_string())? + "\n";
    Ok(Generated {
        contents,
        readme_section: LISTS_README.to_owned(),
    })
}

const LISTS_README: &str = "\
Signed device lists in format 2 (`docs/wire/device-list.md`: each entry carries its device's \
membership signature over the account key, user id and device id), all verified under the \
default policy listed in `policy` (4 companions, 14-day companion expiry). `valid`: signed lists \
with the `user_id` they are verified for, the account key, version, signing time and entries \
(membership signatures included) spelled out, and `send_checks` (the device ids a contact may \
send to at a given time: companions drop out once the list is older than the expiry). \
`invalid`: lists a fresh contact must refuse for the `address` given, with the error \
(`Malformed(\"device list\")`, `UnknownVersion(1)` for format 1, `BadSignature` for changed \
bytes, a wrong or missing `06 02` prefix, another signer, an entry whose membership signature \
is not its device's for this account and user (a device listed under another account: issue 16, \
item 5), or a list verified for another user; `TooManyCompanions { max: 4 }`). `sequences`: \
lists one contact verifies in order for account addresses, with each result: \
`Rollback { seen, received }`, `Equivocation { version }`, `IdentityChanged`, `BadSignature`, \
`Malformed(\"account address\")`, or `ok`; a refused list leaves nothing behind.

Made by `hush vectors generate` from seeded RNGs with hush-device's `DeviceList`; malformed and \
forged lists are laid out and signed by the generator's own writer (hush-core XEdDSA), which \
must first reproduce hush-device's bytes for every valid list. `hush vectors check` decodes and \
verifies every list with hush-device. **Cross-checked independently** by \
`check_device_vectors.py`, which parses each list by the documented offsets, verifies the \
XEdDSA signatures (the account's and every membership signature) and keeps its own per-address \
memory (version and HMAC digest) to compute every verdict. \
`crates/hush-device/tests/vectors.rs` runs the script.";

fn check_valid_list(case: &Value, policy: DeviceListPolicy) -> Result<(), String> {
    let bytes = hex_field(case, "signed_list")?;
    let signed = SignedDeviceList::decode(&bytes).map_err(|e| format!("hush refused it: {e}"))?;
    expect(signed.encode() == bytes, || {
        "re-encoding differs".to_owned()
    })?;
    let verified = KnownDeviceLists::new(policy)
        .verify(text(case, "user_id")?.as_bytes(), &bytes)
        .map_err(|e| format!("hush refused it: {e}"))?;
    expect_bytes(
        "account_identity_key",
        &verified.account_identity().encode(),
        &hex_field(case, "account_identity_key")?,
    )?;
    expect(verified.version() == number(case, "version")?, || {
        format!("version: hush gave {}", verified.version())
    })?;
    expect(
        verified.signed_at_ms() == number(case, "signed_at_ms")?,
        || format!("signed_at_ms: hush gave {}", verified.signed_at_ms()),
    )?;
    let devices: Vec<Value> = verified.devices().iter().map(entry_json).collect();
    expect(case.get("devices") == Some(&json!(devices)), || {
        "devices differ".to_owned()
    })?;
    for check in case
        .get("send_checks")
        .and_then(Value::as_array)
        .ok_or("no field send_checks")?
    {
        let now = number(check, "now_ms")?;
        let ids: Vec<u32> = verified
            .devices_to_send(now)
            .iter()
            .map(|e| e.device_id)
            .collect();
        expect(check.get("device_ids") == Some(&json!(ids)), || {
            format!("devices_to_send({now}): hush gave {ids:?}")
        })?;
    }
    Ok(())
}

fn check_sequence(case: &Value, policy: DeviceListPolicy) -> Result<(), String> {
    let mut verifier = KnownDeviceLists::new(policy);
    let steps = case
        .get("steps")
        .and_then(Value::as_array)
        .ok_or("no field steps")?;
    for (index, step) in steps.iter().enumerate() {
        let got = outcome(&verifier.verify(
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

/// Checks `device_lists.json`.
pub(crate) fn check_device_lists(path: &Path, report: &mut Report) {
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
            check_valid_list(case, policy),
        );
    }
    for (index, case) in file.invalid.iter().enumerate() {
        let result = hex_field(case, "signed_list").and_then(|bytes| {
            let address = text(case, "address")?;
            let got = outcome(&KnownDeviceLists::new(policy).verify(address.as_bytes(), &bytes));
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
