//! Private records against the records libsignal v0.91.0 wrote (`test-vectors/libsignal/
//! session.json`): decoding gives the keys the vector lists, re-encoding gives libsignal's
//! bytes, and hush's versioned form is the version byte followed by those bytes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    reason = "test helpers outside #[test] fns: a failed unwrap or panic is a failed test"
)]

use hush_core::{IdentityKey, KemKeyPair, PrivateKey, PublicKey, Signature};
use hush_prekey::{KemPreKeyRecord, PreKeyRecord, SignedPreKeyRecord};
use serde_json::Value;

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

#[test]
fn records_match_libsignal_byte_for_byte() {
    let path = format!(
        "{}/../../test-vectors/libsignal/session.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut prekey_sets = Vec::new();
    for scenario in file["scenarios"].as_array().unwrap() {
        prekey_sets.push((
            scenario["name"].as_str().unwrap().to_owned(),
            scenario["bob"].clone(),
        ));
        for reinit in scenario["reinit"].as_array().into_iter().flatten() {
            let mut responder = reinit["responder_prekeys"].clone();
            if responder.get("identity_key_pair").is_none() {
                responder["identity_key_pair"] = scenario["alice"]["identity_key_pair"].clone();
            }
            prekey_sets.push((format!("{} reinit", scenario["name"]), responder));
        }
    }
    assert!(prekey_sets.len() >= 5);
    let (mut signed_count, mut one_time_count, mut kem_count) = (0, 0, 0);
    for (name, keys) in &prekey_sets {
        let identity = IdentityKey::decode(&unhex(&keys["identity_key_pair"]["public"])).unwrap();

        let spk = &keys["signed_prekey"];
        let bytes = unhex(&spk["record"]);
        let record = SignedPreKeyRecord::decode_libsignal(&bytes).unwrap();
        assert_eq!(
            u64::from(record.id()),
            spk["id"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            record.timestamp_ms(),
            spk["timestamp"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            record.key_pair().public_key(),
            PublicKey::decode(&unhex(&spk["key_pair"]["public"])).unwrap()
        );
        assert_eq!(
            record.key_pair().private_key(),
            &PrivateKey::decode(&unhex(&spk["key_pair"]["private"])).unwrap()
        );
        assert_eq!(
            record.signature(),
            &Signature::decode(&unhex(&spk["signature"])).unwrap()
        );
        assert!(record.public().verify(&identity), "{name}");
        assert_eq!(
            record.encode_libsignal().as_slice(),
            bytes.as_slice(),
            "{name}"
        );
        let ours = record.encode();
        assert_eq!(ours[0], 1);
        assert_eq!(&ours[1..], bytes.as_slice());
        assert_eq!(SignedPreKeyRecord::decode(&ours).unwrap(), record);
        signed_count += 1;

        if let Some(opk) = keys["one_time_prekey"].as_object() {
            let bytes = unhex(&opk["record"]);
            let record = PreKeyRecord::decode_libsignal(&bytes).unwrap();
            assert_eq!(u64::from(record.id()), opk["id"].as_u64().unwrap());
            assert_eq!(
                record.key_pair().public_key(),
                PublicKey::decode(&unhex(&opk["key_pair"]["public"])).unwrap()
            );
            assert_eq!(
                record.encode_libsignal().as_slice(),
                bytes.as_slice(),
                "{name}"
            );
            assert_eq!(PreKeyRecord::decode(&record.encode()).unwrap(), record);
            one_time_count += 1;
        }

        let kyber = &keys["kyber_prekey"];
        let bytes = unhex(&kyber["record"]);
        let record = KemPreKeyRecord::decode_libsignal(&bytes, false).unwrap();
        assert_eq!(u64::from(record.id()), kyber["id"].as_u64().unwrap());
        assert_eq!(record.timestamp_ms(), kyber["timestamp"].as_u64().unwrap());
        let pair = KemKeyPair::decode(&unhex(&kyber["public"]), &unhex(&kyber["secret"])).unwrap();
        assert_eq!(record.key_pair().public_key(), pair.public_key());
        assert_eq!(
            record.key_pair().secret_key().encode(),
            pair.secret_key().encode()
        );
        assert!(record.public().verify(&identity), "{name}");
        assert_eq!(
            record.encode_libsignal().as_slice(),
            bytes.as_slice(),
            "{name}"
        );
        // As a last-resort key, hush's form adds field 16 (varint 1) at the end, which
        // libsignal ignores; libsignal's form never carries it.
        let last_resort = KemPreKeyRecord::decode_libsignal(&bytes, true).unwrap();
        let ours = last_resort.encode();
        assert_eq!(&ours[1..ours.len() - 3], bytes.as_slice());
        assert_eq!(&ours[ours.len() - 3..], &[0x80, 0x01, 0x01]);
        assert!(KemPreKeyRecord::decode(&ours).unwrap().is_last_resort());
        assert!(KemPreKeyRecord::decode_libsignal(&ours[1..], true).is_err());
        assert_eq!(last_resort.encode_libsignal().as_slice(), bytes.as_slice());
        kem_count += 1;
    }
    assert!(
        signed_count >= 5 && one_time_count >= 4 && kem_count >= 5,
        "{signed_count} {one_time_count} {kem_count}"
    );
}
