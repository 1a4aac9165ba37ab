//! `PreKeyBundle` decoding and the server's bundle assembly.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    reason = "test helpers outside #[test] fns: a failed unwrap or panic is a failed test"
)]

mod common;

use common::{NOW_MS, field_bytes, field_varint, fixture};
use hush_core::{IdentityKeyPair, Signature};
use hush_prekey::limits::{MAX_BUNDLE_BYTES, MAX_DEVICE_ID};
use hush_prekey::{
    DeviceKeys, Error, GenerateRequest, PreKeyBundle, PreKeyBundleParts, PreKeyIdAllocator,
    UploadPolicy, assemble_bundle, generate_prekeys, upload_for, validate_upload,
};
use hush_test_support::test_rng;

fn parts(with_one_time: bool) -> (IdentityKeyPair, PreKeyBundleParts) {
    let f = fixture(40, 1, 1);
    let upload = f.upload;
    let signed = upload.signed_prekey().unwrap();
    let kem = &upload.kem_prekeys()[0];
    let parts = PreKeyBundleParts {
        registration_id: 4242,
        device_id: 3,
        identity_key: f.identity.identity_key(),
        signed_prekey_id: signed.id(),
        signed_prekey: *signed.public_key(),
        signed_prekey_signature: *signed.signature(),
        one_time_prekey: with_one_time.then(|| upload.one_time_prekeys()[0]),
        kem_prekey_id: kem.id(),
        kem_prekey: kem.public_key().clone(),
        kem_prekey_signature: *kem.signature(),
    };
    (f.identity, parts)
}

/// The bundle written field by field by the test (docs/wire/prekeys.md), independently
/// of the crate's encoder.
fn hand_encode(parts: &PreKeyBundleParts) -> Vec<u8> {
    let mut out = vec![1];
    field_varint(1, u64::from(parts.registration_id), &mut out);
    field_varint(2, u64::from(parts.device_id), &mut out);
    field_bytes(3, &parts.identity_key.encode(), &mut out);
    field_varint(4, u64::from(parts.signed_prekey_id), &mut out);
    field_bytes(5, &parts.signed_prekey.encode(), &mut out);
    field_bytes(6, parts.signed_prekey_signature.as_bytes(), &mut out);
    if let Some(k) = &parts.one_time_prekey {
        field_varint(7, u64::from(k.id()), &mut out);
        field_bytes(8, &k.public_key().encode(), &mut out);
    }
    field_varint(9, u64::from(parts.kem_prekey_id), &mut out);
    field_bytes(10, &parts.kem_prekey.encode(), &mut out);
    field_bytes(11, parts.kem_prekey_signature.as_bytes(), &mut out);
    out
}

#[test]
fn bundles_round_trip_and_match_an_independent_encoder() {
    for with_one_time in [true, false] {
        let (_, parts) = parts(with_one_time);
        let bundle = PreKeyBundle::new(parts.clone()).unwrap();
        let bytes = bundle.encode();
        assert_eq!(bytes, hand_encode(&parts));
        assert!(bytes.len() < MAX_BUNDLE_BYTES);
        let decoded = PreKeyBundle::decode(&bytes).unwrap();
        assert_eq!(decoded, bundle);
        decoded.verify_signatures().unwrap();
        assert_eq!(decoded.into_parts(), parts);
    }
}

#[test]
fn a_one_time_prekey_with_id_zero_is_still_present() {
    let (_, mut parts) = parts(true);
    let key = *parts.one_time_prekey.unwrap().public_key();
    parts.one_time_prekey = Some(hush_prekey::OneTimePreKey::new(0, key).unwrap());
    let bundle = PreKeyBundle::new(parts).unwrap();
    let decoded = PreKeyBundle::decode(&bundle.encode()).unwrap();
    assert_eq!(decoded.one_time_prekey().map(|k| k.id()), Some(0));
}

#[test]
fn signatures_are_checked_on_request() {
    let (_, mut parts) = parts(false);
    std::mem::swap(
        &mut parts.signed_prekey_signature,
        &mut parts.kem_prekey_signature,
    );
    let bundle = PreKeyBundle::decode(&PreKeyBundle::new(parts.clone()).unwrap().encode()).unwrap();
    assert_eq!(
        bundle.verify_signatures(),
        Err(Error::BadSignature("signed prekey"))
    );
    let (_, good) = self::parts(false);
    parts.signed_prekey_signature = good.signed_prekey_signature;
    parts.kem_prekey_signature = Signature::from_bytes([0; 64]);
    assert_eq!(
        PreKeyBundle::new(parts).unwrap().verify_signatures(),
        Err(Error::BadSignature("KEM prekey"))
    );
}

#[test]
fn bad_bundles_get_specific_errors() {
    let (_, parts) = parts(true);
    let good = hand_encode(&parts);
    const WHAT: &str = "prekey bundle";
    assert_eq!(PreKeyBundle::decode(&[]), Err(Error::Empty(WHAT)));
    assert_eq!(
        PreKeyBundle::decode(&vec![1; MAX_BUNDLE_BYTES + 1]),
        Err(Error::TooLarge {
            what: WHAT,
            limit: MAX_BUNDLE_BYTES,
            actual: MAX_BUNDLE_BYTES + 1
        })
    );
    let mut wrong_version = good.clone();
    wrong_version[0] = 9;
    assert_eq!(
        PreKeyBundle::decode(&wrong_version),
        Err(Error::UnsupportedVersion {
            what: WHAT,
            version: 9
        })
    );
    assert_eq!(
        PreKeyBundle::decode(&good[..good.len() - 1]),
        Err(Error::Truncated(WHAT))
    );
    let mut unknown = good.clone();
    field_varint(12, 1, &mut unknown);
    assert!(matches!(
        PreKeyBundle::decode(&unknown),
        Err(Error::Malformed {
            reason: "unknown field",
            ..
        })
    ));
    let mut repeated = good.clone();
    field_varint(1, 1, &mut repeated);
    assert!(matches!(
        PreKeyBundle::decode(&repeated),
        Err(Error::Malformed {
            reason: "singular field appears twice",
            ..
        })
    ));

    // Field-level errors, each built by the hand encoder with one field changed.
    let check = |edit: &dyn Fn(&mut PreKeyBundleParts) -> Vec<u8>, expected: Error| {
        let mut p = parts.clone();
        let bytes = edit(&mut p);
        assert_eq!(PreKeyBundle::decode(&bytes), Err(expected));
    };
    check(
        &|p| {
            p.device_id = 0;
            hand_encode(p)
        },
        Error::DeviceIdOutOfRange(0),
    );
    check(
        &|p| {
            p.device_id = MAX_DEVICE_ID + 1;
            hand_encode(p)
        },
        Error::DeviceIdOutOfRange(MAX_DEVICE_ID + 1),
    );
    check(
        &|p| {
            p.signed_prekey_id = 1 << 24;
            hand_encode(p)
        },
        Error::IdOutOfRange {
            what: "signed prekey",
            id: 1 << 24,
        },
    );
    // A one-time id without its key.
    check(
        &|p| {
            let mut out = hand_encode(&PreKeyBundleParts {
                one_time_prekey: None,
                ..p.clone()
            });
            field_varint(7, 5, &mut out);
            out
        },
        Error::Malformed {
            what: WHAT,
            reason: "one-time prekey id and key must come together",
        },
    );
    // A KEM key where the signed prekey belongs.
    let mut swapped = vec![1];
    field_varint(1, 1, &mut swapped);
    field_varint(2, 1, &mut swapped);
    field_bytes(3, &parts.identity_key.encode(), &mut swapped);
    field_bytes(5, &parts.kem_prekey.encode(), &mut swapped);
    assert_eq!(
        PreKeyBundle::decode(&swapped),
        Err(Error::InvalidField {
            what: WHAT,
            field: "signed prekey",
            error: hush_core::Error::UnknownKeyType(0x08)
        })
    );
    // A short KEM signature.
    let mut short = hand_encode(&parts);
    short.truncate(short.len() - 66);
    field_bytes(11, &[0; 63], &mut short);
    assert!(matches!(
        PreKeyBundle::decode(&short),
        Err(Error::InvalidField {
            field: "KEM prekey signature",
            ..
        })
    ));
}

fn device_with(seed: u64, one_time: usize, kem: usize) -> (DeviceKeys, Vec<u32>, Vec<u32>, u32) {
    let mut rng = test_rng(seed);
    let identity = IdentityKeyPair::generate(&mut rng);
    let mut request = GenerateRequest::default();
    request.one_time_prekeys = one_time;
    request.kem_prekeys = kem;
    let records = generate_prekeys(
        &identity,
        &mut PreKeyIdAllocator::new(),
        &request,
        NOW_MS,
        &mut rng,
    )
    .unwrap();
    let bytes = upload_for(&identity, &records).encode();
    let validated = validate_upload(
        &identity.identity_key(),
        &bytes,
        &UploadPolicy::default(),
        NOW_MS,
        &mut rng,
    )
    .unwrap();
    let mut device = DeviceKeys::new(7, 1, identity.identity_key()).unwrap();
    device.apply_upload(&validated).unwrap();
    let one_time_ids = records.one_time_prekeys().iter().map(|r| r.id()).collect();
    let kem_ids = records
        .kem_prekeys()
        .iter()
        .filter(|r| !r.is_last_resort())
        .map(|r| r.id())
        .collect();
    let last_resort = records.newest_last_resort_kem_prekey().unwrap().id();
    (device, one_time_ids, kem_ids, last_resort)
}

#[test]
fn bundles_consume_one_time_keys_then_fall_back() {
    let (mut device, one_time_ids, kem_ids, last_resort) = device_with(50, 2, 3);
    let mut seen = Vec::new();
    for round in 0..5 {
        let choice = device.take_bundle().unwrap();
        let bundle = PreKeyBundle::decode(&choice.bundle().encode()).unwrap();
        bundle.verify_signatures().unwrap();
        assert_eq!(bundle.registration_id(), 7);
        // One-time EC keys run out after two bundles: later bundles have none.
        assert_eq!(
            choice.consumed_one_time_prekey(),
            one_time_ids.get(round).copied()
        );
        assert_eq!(
            bundle.one_time_prekey().map(|k| k.id()),
            one_time_ids.get(round).copied()
        );
        // KEM one-time keys run out after three: then the last-resort key, never consumed.
        match kem_ids.get(round) {
            Some(&id) => {
                assert_eq!(choice.consumed_kem_prekey(), Some(id));
                assert_eq!(bundle.kem_prekey_id(), id);
                assert!(!choice.used_last_resort());
            }
            None => {
                assert_eq!(choice.consumed_kem_prekey(), None);
                assert_eq!(bundle.kem_prekey_id(), last_resort);
                assert!(choice.used_last_resort());
            }
        }
        seen.push(choice);
    }
    assert_eq!(device.one_time_prekey_count(), 0);
    assert_eq!(device.kem_prekey_count(), 0);
    assert_eq!(
        device.last_resort_kem_prekey().map(|k| k.id()),
        Some(last_resort)
    );
}

#[test]
fn failures_leave_stored_keys_alone() {
    let mut rng = test_rng(51);
    let identity = IdentityKeyPair::generate(&mut rng);
    let mut device = DeviceKeys::new(1, 2, identity.identity_key()).unwrap();
    assert_eq!(device.take_bundle(), Err(Error::NoSignedPreKey));

    // A signed prekey, one-time EC keys and one one-time KEM key, no last-resort KEM key:
    // the first bundle takes the KEM key; the next is refused, and the EC key it would
    // have used is not consumed.
    let records = generate_prekeys(
        &identity,
        &mut PreKeyIdAllocator::new(),
        &GenerateRequest::one_time_only(2, 0),
        NOW_MS,
        &mut rng,
    )
    .unwrap();
    let mut request = GenerateRequest::one_time_only(0, 1);
    request.signed_prekey = true;
    let signed = generate_prekeys(
        &identity,
        &mut PreKeyIdAllocator::new(),
        &request,
        NOW_MS,
        &mut rng,
    )
    .unwrap();
    for r in [&signed, &records] {
        let bytes = upload_for(&identity, r).encode();
        let v = validate_upload(
            &identity.identity_key(),
            &bytes,
            &UploadPolicy::default(),
            NOW_MS,
            &mut rng,
        )
        .unwrap();
        device.apply_upload(&v).unwrap();
    }
    assert!(device.take_bundle().is_ok());
    let before = device.clone();
    assert_eq!(device.one_time_prekey_count(), 1);
    assert_eq!(device.take_bundle(), Err(Error::NoKemPreKey));
    assert_eq!(device, before);

    // An upload for another identity is refused without change.
    let other = IdentityKeyPair::generate(&mut rng);
    let other_records = generate_prekeys(
        &other,
        &mut PreKeyIdAllocator::new(),
        &GenerateRequest::one_time_only(1, 0),
        NOW_MS,
        &mut rng,
    )
    .unwrap();
    let bytes = upload_for(&other, &other_records).encode();
    let v = validate_upload(
        &other.identity_key(),
        &bytes,
        &UploadPolicy::default(),
        NOW_MS,
        &mut rng,
    )
    .unwrap();
    assert_eq!(device.apply_upload(&v), Err(Error::IdentityMismatch));
    assert_eq!(device, before);
    assert!(matches!(
        DeviceKeys::new(1, 0, identity.identity_key()),
        Err(Error::DeviceIdOutOfRange(0))
    ));
}

#[test]
fn assemble_bundle_is_pure() {
    let f = fixture(52, 1, 1);
    let u = &f.upload;
    let choice = assemble_bundle(
        9,
        4,
        u.identity_key(),
        u.signed_prekey(),
        None,
        None,
        u.last_resort_kem_prekey(),
    )
    .unwrap();
    assert_eq!(choice.consumed_one_time_prekey(), None);
    assert!(choice.used_last_resort());
    assert_eq!(
        choice.bundle().kem_prekey_id(),
        u.last_resort_kem_prekey().unwrap().id()
    );
    assert_eq!(choice.into_bundle().device_id(), 4);
}

/// Validates `records`' upload for `identity`.
fn validated(
    identity: &IdentityKeyPair,
    records: &hush_prekey::PreKeyRecords,
) -> hush_prekey::ValidatedUpload {
    let bytes = upload_for(identity, records).encode();
    validate_upload(
        &identity.identity_key(),
        &bytes,
        &UploadPolicy::default(),
        NOW_MS,
        &mut test_rng(0),
    )
    .unwrap()
}

/// Issue 16, item 17: `DeviceKeys` stores at most `MAX_STORED_ONE_TIME_PREKEYS` one-time
/// EC keys and `MAX_STORED_KEM_PREKEYS` one-time KEM keys. An upload that would go over is
/// refused whole, naming the count it would have made, and changes nothing; one whose keys
/// replace stored keys of the same id (ids wrap) is accepted at the cap, the replaced keys
/// taking their place at the back of the queue with their new public keys.
#[test]
fn stored_one_time_keys_are_capped_and_replaced_by_id() {
    use hush_prekey::limits::{MAX_STORED_KEM_PREKEYS, MAX_STORED_ONE_TIME_PREKEYS};
    assert_eq!(MAX_STORED_ONE_TIME_PREKEYS, 1000);
    assert_eq!(MAX_STORED_KEM_PREKEYS, 1000);
    let mut rng = test_rng(52);
    let identity = IdentityKeyPair::generate(&mut rng);
    let mut device = DeviceKeys::new(1, 1, identity.identity_key()).unwrap();
    let batch = |ids: &mut PreKeyIdAllocator, one_time: usize, kem: usize, rng: &mut _| {
        generate_prekeys(
            &identity,
            ids,
            &GenerateRequest::one_time_only(one_time, kem),
            NOW_MS,
            rng,
        )
        .unwrap()
    };

    // A signed and a last-resort key first (from their own id space), so bundles can be
    // taken; then ten batches of 100 fill both queues exactly.
    let mut request = GenerateRequest::one_time_only(0, 0);
    request.signed_prekey = true;
    request.last_resort_kem_prekey = true;
    let mut other_ids = PreKeyIdAllocator::with_random_start(&mut rng);
    let keys = generate_prekeys(&identity, &mut other_ids, &request, NOW_MS, &mut rng).unwrap();
    device.apply_upload(&validated(&identity, &keys)).unwrap();
    let mut ids = PreKeyIdAllocator::new();
    for _ in 0..10 {
        let records = batch(&mut ids, 100, 100, &mut rng);
        device
            .apply_upload(&validated(&identity, &records))
            .unwrap();
    }
    assert_eq!(device.one_time_prekey_count(), MAX_STORED_ONE_TIME_PREKEYS);
    assert_eq!(device.kem_prekey_count(), MAX_STORED_KEM_PREKEYS);

    // One more EC key, or one more KEM key, is one too many: refused, nothing changed.
    let before = device.clone();
    let one_more_ec = batch(&mut ids.clone(), 1, 0, &mut rng);
    assert_eq!(
        device.apply_upload(&validated(&identity, &one_more_ec)),
        Err(Error::TooMany {
            what: "stored one-time prekeys",
            limit: MAX_STORED_ONE_TIME_PREKEYS,
            actual: MAX_STORED_ONE_TIME_PREKEYS + 1,
        })
    );
    assert_eq!(device, before);
    let one_more_kem = batch(&mut ids.clone(), 0, 1, &mut rng);
    assert_eq!(
        device.apply_upload(&validated(&identity, &one_more_kem)),
        Err(Error::TooMany {
            what: "stored KEM prekeys",
            limit: MAX_STORED_KEM_PREKEYS,
            actual: MAX_STORED_KEM_PREKEYS + 1,
        })
    );
    assert_eq!(device, before);

    // A batch reusing the first 100 ids (a fresh allocator starts at 1 again) replaces
    // those keys: still at the cap, accepted, and they move to the back.
    let again = batch(&mut PreKeyIdAllocator::new(), 100, 0, &mut rng);
    device.apply_upload(&validated(&identity, &again)).unwrap();
    assert_eq!(device.one_time_prekey_count(), MAX_STORED_ONE_TIME_PREKEYS);
    let first = device.take_bundle().unwrap();
    assert_eq!(first.consumed_one_time_prekey(), Some(101));
    for _ in 0..899 {
        device.take_bundle().unwrap();
    }
    let replaced = device.take_bundle().unwrap();
    assert_eq!(replaced.consumed_one_time_prekey(), Some(1));
    assert_eq!(
        replaced.bundle().one_time_prekey().map(|k| *k.public_key()),
        Some(*again.one_time_prekeys()[0].public().public_key()),
    );
}

/// A first upload that would leave the device unable to hand out a bundle is refused
/// (every sender would fail with `NoSignedPreKey` or `NoKemPreKey`), and stores nothing;
/// once a signed and a KEM prekey are stored, later uploads of one-time keys alone are
/// fine.
#[test]
fn an_incomplete_first_upload_is_refused() {
    let mut rng = test_rng(61);
    let identity = IdentityKeyPair::generate(&mut rng);
    let mut device = DeviceKeys::new(1, 1, identity.identity_key()).unwrap();
    let mut ids = PreKeyIdAllocator::with_random_start(&mut rng);
    let mut make = |request: &GenerateRequest, rng: &mut _| {
        validated(
            &identity,
            &generate_prekeys(&identity, &mut ids, request, NOW_MS, rng).unwrap(),
        )
    };
    let one_time_only = make(&GenerateRequest::one_time_only(3, 3), &mut rng);
    assert_eq!(
        device.apply_upload(&one_time_only).unwrap_err(),
        Error::IncompleteFirstUpload("signed prekey")
    );
    let mut signed_only = GenerateRequest::one_time_only(2, 0);
    signed_only.signed_prekey = true;
    let signed_only = make(&signed_only, &mut rng);
    assert_eq!(
        device.apply_upload(&signed_only).unwrap_err(),
        Error::IncompleteFirstUpload("KEM prekey")
    );
    assert_eq!(device.one_time_prekey_count(), 0);
    assert_eq!(device.take_bundle().unwrap_err(), Error::NoSignedPreKey);

    let mut first = GenerateRequest::one_time_only(0, 1);
    first.signed_prekey = true;
    device.apply_upload(&make(&first, &mut rng)).unwrap();
    device.apply_upload(&one_time_only).unwrap();
    assert_eq!(device.one_time_prekey_count(), 3);
    assert!(device.take_bundle().is_ok());
}
