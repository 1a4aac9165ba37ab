//! hush's own device vectors (`test-vectors/device/`, written by `hush vectors generate`):
//! `hush-device` must reproduce every recorded byte and verdict, and the independent
//! Python checker (`check_device_vectors.py`, written from the wire documents) must compute
//! the same keys, plaintexts and verdicts from the bytes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] fns: a failed unwrap or panic is a failed test"
)]

use std::collections::BTreeMap;

use hush_core::{IdentityKeyPair, PrivateKey};
use hush_device::{
    CompanionAssignment, CompanionLinking, Countersignature, DeviceListPolicy, DeviceListV1,
    KnownDeviceLists, LinkingMessage, LinkingOffer, PrimaryLinking, SeenOffers, SignedDeviceList,
};
use hush_test_support::ReplayRng;
use serde_json::Value;

fn dir() -> String {
    format!("{}/../../test-vectors/device", env!("CARGO_MANIFEST_DIR"))
}

fn load(name: &str) -> Value {
    let path = format!("{}/{name}", dir());
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
        .unwrap()
}

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn key_pair(v: &Value) -> IdentityKeyPair {
    IdentityKeyPair::from(PrivateKey::from_bytes(unhex(v).try_into().unwrap()))
}

fn replay(v: &Value) -> ReplayRng {
    ReplayRng::new(unhex(v))
}

fn name<T>(result: &hush_device::Result<T>) -> String {
    match result {
        Ok(_) => "ok".to_owned(),
        Err(e) => format!("{e:?}"),
    }
}

#[test]
fn python_cross_check_agrees_with_every_recorded_value() {
    let script = format!("{}/check_device_vectors.py", dir());
    let output = std::process::Command::new("python3")
        .arg(&script)
        .arg(dir())
        .output()
        .expect("python3 is needed to cross-check the device vectors");
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
fn python_cross_check_notices_a_changed_value() {
    let tmp = std::env::temp_dir().join(format!("hush-device-vectors-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let mut linking = load("linking.json");
    let key = linking["valid"][0]["history_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let changed = format!(
        "{}{}",
        &key[..63],
        if key.ends_with('0') { '1' } else { '0' }
    );
    linking["valid"][0]["history_key"] = Value::String(changed);
    let mut lists = load("device_lists.json");
    lists["invalid"][0]["error"] = Value::String("BadSignature".into());
    std::fs::write(tmp.join("linking.json"), linking.to_string()).unwrap();
    std::fs::write(tmp.join("device_lists.json"), lists.to_string()).unwrap();
    std::fs::copy(
        format!("{}/device_lists_v1.json", dir()),
        tmp.join("device_lists_v1.json"),
    )
    .unwrap();
    let output = std::process::Command::new("python3")
        .arg(format!("{}/check_device_vectors.py", dir()))
        .arg(&tmp)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&tmp).unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    assert!(stdout.contains("history_key"), "{stdout}");
    assert!(
        stdout.lines().last().unwrap().ends_with("passed, 2 failed"),
        "{stdout}"
    );
}

/// Replays one valid transcript through the crate and compares every recorded byte.
fn replay_transcript(case: &Value) -> PrimaryLinking {
    let label = case["name"].as_str().unwrap();
    let account = key_pair(&case["account_private_key"]);
    let companion = key_pair(&case["companion_private_key"]);
    let mut rng = replay(&case["companion_random"]);
    let linking = CompanionLinking::new(
        &mut rng,
        companion.identity_key(),
        &unhex(&case["server_reference"]),
        case["created_at_ms"].as_u64().unwrap(),
        case["lifetime_ms"].as_u64().unwrap(),
    )
    .unwrap();
    assert_eq!(rng.remaining(), 0, "{label}");
    assert_eq!(
        linking.offer().encode().to_vec(),
        unhex(&case["offer"]),
        "{label}"
    );
    assert_eq!(
        linking.offer().to_qr_text().as_str(),
        case["qr_text"].as_str().unwrap()
    );
    assert_eq!(
        linking.encode().to_vec(),
        unhex(&case["companion_state"]),
        "{label}"
    );

    let offer = LinkingOffer::from_qr_text(case["qr_text"].as_str().unwrap()).unwrap();
    let mut rng = replay(&case["primary_random"]);
    let assignment = CompanionAssignment {
        user_id: unhex(&case["user_id"]),
        device_id: u32::try_from(case["device_id"].as_u64().unwrap()).unwrap(),
        key_index: u32::try_from(case["key_index"].as_u64().unwrap()).unwrap(),
    };
    let accepted_at = case["accepted_at_ms"].as_u64().unwrap();
    let (primary, message) = PrimaryLinking::accept(
        &offer,
        &account,
        &assignment,
        &mut SeenOffers::new(),
        accepted_at,
        &mut rng,
    )
    .unwrap();
    assert_eq!(rng.remaining(), 0, "{label}");
    assert_eq!(message.encode(), unhex(&case["linking_message"]), "{label}");

    let mut rng = replay(&case["countersign_random"]);
    let (linked, countersignature) = linking
        .receive(
            &message,
            &companion,
            case["received_at_ms"].as_u64().unwrap(),
            &mut rng,
        )
        .unwrap();
    assert_eq!(
        countersignature.encode(),
        unhex(&case["countersignature"]),
        "{label}"
    );
    assert_eq!(
        linked.metadata.encode(),
        unhex(&case["metadata"]),
        "{label}"
    );
    assert_eq!(
        linked.account_signature.as_bytes().to_vec(),
        unhex(&case["account_signature"])
    );
    assert_eq!(
        linked.device_signature.as_bytes().to_vec(),
        unhex(&case["device_signature"])
    );
    assert_eq!(
        linked.membership_signature.as_bytes().to_vec(),
        unhex(&case["membership_signature"])
    );
    assert_eq!(linked.metadata.user_id, unhex(&case["user_id"]), "{label}");
    assert_eq!(
        linked.history.transcript_hash().as_bytes().to_vec(),
        unhex(&case["transcript_hash"])
    );
    assert_eq!(
        linked.history.key().to_bytes().to_vec(),
        unhex(&case["history_key"])
    );
    let mut restored = Vec::new();
    linked
        .history
        .receive(
            unhex(&case["history_stream"]).as_slice(),
            &mut restored,
            None,
            |_| {},
        )
        .unwrap();
    assert_eq!(restored, unhex(&case["history_plaintext"]), "{label}");

    let added = primary
        .clone()
        .finish(&countersignature, case["finished_at_ms"].as_u64().unwrap())
        .unwrap();
    assert_eq!(added.history, linked.history);
    assert_eq!(added.entry.device_id, assignment.device_id);
    assert_eq!(added.entry.identity_key, companion.identity_key());
    assert_eq!(added.entry.added_at_ms, accepted_at);
    assert_eq!(
        added.entry.membership_signature,
        linked.membership_signature
    );
    primary
}

#[test]
fn linking_transcripts_replay_byte_for_byte() {
    let file = load("linking.json");
    let valid = file["valid"].as_array().unwrap();
    assert!(valid.len() >= 3);
    for case in valid {
        replay_transcript(case);
    }
}

#[test]
fn invalid_linking_inputs_get_the_recorded_errors() {
    let file = load("linking.json");
    let valid: BTreeMap<&str, &Value> = file["valid"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c))
        .collect();
    let invalid = file["invalid"].as_array().unwrap();
    assert!(invalid.len() >= 50);
    for case in invalid {
        let label = case["name"].as_str().unwrap();
        let base = case.get("base").map(|b| valid[b.as_str().unwrap()]);
        let now = case["now_ms"].as_u64().unwrap_or(0);
        let got = match case["step"].as_str().unwrap() {
            "parse_offer_text" => name(&LinkingOffer::from_qr_text(
                case["qr_text"].as_str().unwrap(),
            )),
            "parse_offer" => name(&LinkingOffer::decode(&unhex(&case["offer"]))),
            "parse_linking_message" => {
                name(&LinkingMessage::decode(&unhex(&case["linking_message"])))
            }
            "parse_countersignature" => {
                name(&Countersignature::decode(&unhex(&case["countersignature"])))
            }
            "accept" => {
                let base = base.unwrap();
                let offer = LinkingOffer::decode(&unhex(&case["offer"])).unwrap();
                let mut seen = SeenOffers::new();
                if !case["seen_offer_ids"].as_array().unwrap().is_empty() {
                    seen.insert(offer.id(), offer.expires_at_ms(), now).unwrap();
                }
                let assignment = CompanionAssignment {
                    user_id: unhex(case.get("user_id").unwrap_or(&base["user_id"])),
                    device_id: u32::try_from(case["device_id"].as_u64().unwrap()).unwrap(),
                    key_index: 1,
                };
                name(&PrimaryLinking::accept(
                    &offer,
                    &key_pair(&base["account_private_key"]),
                    &assignment,
                    &mut seen,
                    now,
                    &mut hush_core::rng::os_rng(),
                ))
            }
            "receive" => {
                let base = base.unwrap();
                let state = [
                    &[2u8, 1][..],
                    &unhex(&base["companion_ephemeral_private"]),
                    &unhex(&base["offer"]),
                ]
                .concat();
                let linking = CompanionLinking::decode(&state).unwrap();
                let identity = key_pair(
                    case.get("identity_private_key")
                        .unwrap_or(&base["companion_private_key"]),
                );
                let message = LinkingMessage::decode(&unhex(&case["linking_message"])).unwrap();
                name(&linking.receive(&message, &identity, now, &mut hush_core::rng::os_rng()))
            }
            "finish" => {
                let primary = replay_transcript(base.unwrap());
                let countersignature =
                    Countersignature::decode(&unhex(&case["countersignature"])).unwrap();
                name(&primary.finish(&countersignature, now))
            }
            "history" => {
                let base = base.unwrap();
                let state = [
                    &[2u8, 1][..],
                    &unhex(&base["companion_ephemeral_private"]),
                    &unhex(&base["offer"]),
                ]
                .concat();
                let (linked, _) = CompanionLinking::decode(&state)
                    .unwrap()
                    .receive(
                        &LinkingMessage::decode(&unhex(&base["linking_message"])).unwrap(),
                        &key_pair(&base["companion_private_key"]),
                        base["received_at_ms"].as_u64().unwrap(),
                        &mut hush_core::rng::os_rng(),
                    )
                    .unwrap();
                let mut out = Vec::new();
                let result = linked.history.receive(
                    unhex(&case["history_stream"]).as_slice(),
                    &mut out,
                    None,
                    |_| {},
                );
                if result.is_err() {
                    assert!(
                        out.len() < unhex(&base["history_plaintext"]).len(),
                        "{label}: a failed hand-off wrote everything"
                    );
                }
                name(&result)
            }
            other => panic!("{label}: unknown step {other}"),
        };
        assert_eq!(got, case["error"].as_str().unwrap(), "{label}");
    }
}

#[test]
fn device_lists_get_the_recorded_verdicts() {
    let file = load("device_lists.json");
    let policy = DeviceListPolicy::default();
    assert_eq!(
        file["policy"]["max_companions"].as_u64(),
        Some(u64::try_from(policy.max_companions).unwrap())
    );
    assert_eq!(
        file["policy"]["companion_expiry_ms"].as_u64(),
        Some(policy.companion_expiry_ms)
    );
    for case in file["valid"].as_array().unwrap() {
        let label = case["name"].as_str().unwrap();
        let bytes = unhex(&case["signed_list"]);
        assert_eq!(SignedDeviceList::decode(&bytes).unwrap().encode(), bytes);
        let verified = KnownDeviceLists::new(policy)
            .verify(case["user_id"].as_str().unwrap().as_bytes(), &bytes)
            .unwrap();
        assert_eq!(
            verified.version(),
            case["version"].as_u64().unwrap(),
            "{label}"
        );
        assert_eq!(
            verified.signed_at_ms(),
            case["signed_at_ms"].as_u64().unwrap()
        );
        let devices = case["devices"].as_array().unwrap();
        assert_eq!(verified.devices().len(), devices.len(), "{label}");
        for (entry, want) in verified.devices().iter().zip(devices) {
            assert_eq!(
                u64::from(entry.device_id),
                want["device_id"].as_u64().unwrap()
            );
            assert_eq!(
                entry.identity_key.encode().to_vec(),
                unhex(&want["identity_key"])
            );
            assert_eq!(
                entry.membership_signature.as_bytes().to_vec(),
                unhex(&want["membership_signature"])
            );
        }
        for check in case["send_checks"].as_array().unwrap() {
            let ids: Vec<u64> = verified
                .devices_to_send(check["now_ms"].as_u64().unwrap())
                .iter()
                .map(|e| u64::from(e.device_id))
                .collect();
            let want: Vec<u64> = check["device_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect();
            assert_eq!(ids, want, "{label}");
        }
    }
    for case in file["invalid"].as_array().unwrap() {
        let address = case["address"].as_str().unwrap().as_bytes();
        let got =
            name(&KnownDeviceLists::new(policy).verify(address, &unhex(&case["signed_list"])));
        assert_eq!(got, case["error"].as_str().unwrap(), "{}", case["name"]);
    }
    for case in file["sequences"].as_array().unwrap() {
        let mut contact = KnownDeviceLists::new(policy);
        for (index, step) in case["steps"].as_array().unwrap().iter().enumerate() {
            let got = name(&contact.verify(
                step["address"].as_str().unwrap().as_bytes(),
                &unhex(&step["signed_list"]),
            ));
            assert_eq!(
                got,
                step["result"].as_str().unwrap(),
                "{} step {index}",
                case["name"]
            );
        }
    }
}

/// The frozen format-1 lists (what stores written before format 2 hold): `DeviceListV1`
/// and `KnownDeviceLists::verify_v1` give the recorded verdicts.
#[test]
fn format_1_device_lists_get_the_recorded_verdicts() {
    let file = load("device_lists_v1.json");
    let policy = DeviceListPolicy::default();
    for case in file["valid"].as_array().unwrap() {
        let label = case["name"].as_str().unwrap();
        let bytes = unhex(&case["signed_list"]);
        let list = DeviceListV1::decode(&bytes).unwrap();
        assert_eq!(list.encode(), bytes, "{label}");
        assert_eq!(list.version(), case["version"].as_u64().unwrap(), "{label}");
        assert_eq!(
            SignedDeviceList::decode(&bytes),
            Err(hush_device::Error::UnknownVersion(1))
        );
        KnownDeviceLists::new(policy)
            .verify_v1(b"vectors", &bytes)
            .unwrap();
    }
    for case in file["invalid"].as_array().unwrap() {
        let got =
            name(&KnownDeviceLists::new(policy).verify_v1(b"alice", &unhex(&case["signed_list"])));
        assert_eq!(got, case["error"].as_str().unwrap(), "{}", case["name"]);
    }
    for case in file["sequences"].as_array().unwrap() {
        let mut contact = KnownDeviceLists::new(policy);
        for (index, step) in case["steps"].as_array().unwrap().iter().enumerate() {
            let got = name(&contact.verify_v1(
                step["address"].as_str().unwrap().as_bytes(),
                &unhex(&step["signed_list"]),
            ));
            assert_eq!(
                got,
                step["result"].as_str().unwrap(),
                "{} step {index}",
                case["name"]
            );
        }
    }
}
