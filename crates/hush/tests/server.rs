//! `hush::server`: the prekey directory, device lists and the mailbox, through the
//! public API.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use hush::server::{
    DeviceLists, DirectoryLimits, Envelope, Mailbox, MailboxLimits, MessageId, PreKeyDirectory,
    Registration,
};
use hush::{Address, Error};
use hush_core::IdentityKeyPair;
use hush_device::{DeviceList, DeviceListPolicy};
use hush_prekey::{
    GenerateRequest, Issue, KeyKind, PreKeyBundle, PreKeyIdAllocator, PreKeyUpload, Problem,
    UploadError, UploadPolicy, generate_prekeys, upload_for,
};
use hush_test_support::test_rng;

const NOW: u64 = 1_700_000_000_000;

fn addr(name: &str, device: u32) -> Address {
    Address::new(name, device).unwrap()
}

/// An upload with `one_time` one-time EC and `kem` one-time KEM prekeys, plus a signed
/// and a last-resort KEM prekey if `base`.
fn upload(
    identity: &IdentityKeyPair,
    ids: &mut PreKeyIdAllocator,
    base: bool,
    one_time: usize,
    kem: usize,
    seed: u64,
) -> Vec<u8> {
    let mut request = if base {
        GenerateRequest::default()
    } else {
        GenerateRequest::one_time_only(0, 0)
    };
    request.one_time_prekeys = one_time;
    request.kem_prekeys = kem;
    let records = generate_prekeys(identity, ids, &request, NOW, &mut test_rng(seed)).unwrap();
    upload_for(identity, &records).encode()
}

struct Phone {
    address: Address,
    identity: IdentityKeyPair,
    ids: PreKeyIdAllocator,
}

fn registered(directory: &PreKeyDirectory, name: &str, device: u32, seed: u64) -> Phone {
    let identity = IdentityKeyPair::generate(&mut test_rng(seed));
    let address = addr(name, device);
    assert_eq!(
        directory
            .register_device(&address, 1000 + device, identity.identity_key())
            .unwrap(),
        Registration::New
    );
    Phone {
        address,
        identity,
        ids: PreKeyIdAllocator::new(),
    }
}

/// Uploads a signed prekey, a last-resort KEM prekey and `count` one-time prekeys of
/// each kind for `phone`, so that bundles can be made for it.
fn stock(directory: &PreKeyDirectory, phone: &mut Phone, count: usize, seed: u64) {
    let bytes = upload(&phone.identity, &mut phone.ids, true, count, count, seed);
    directory
        .upload(
            &phone.address,
            &phone.identity.identity_key(),
            &bytes,
            NOW,
            &mut test_rng(seed),
        )
        .unwrap();
}

// ---------------------------------------------------------------- prekey directory

#[test]
fn upload_is_accepted_and_counted() {
    let directory = PreKeyDirectory::new();
    let mut bob = registered(&directory, "bob", 1, 1);
    let bytes = upload(&bob.identity, &mut bob.ids, true, 3, 2, 2);
    let summary = directory
        .upload(
            &bob.address,
            &bob.identity.identity_key(),
            &bytes,
            NOW,
            &mut test_rng(3),
        )
        .unwrap();
    assert_eq!(summary.one_time_prekeys_uploaded, 3);
    assert_eq!(summary.kem_prekeys_uploaded, 2);
    assert!(summary.signed_prekey_id.is_some());
    assert!(summary.last_resort_kem_prekey_id.is_some());
    assert_eq!(summary.counts.one_time_prekeys, 3);
    assert_eq!(summary.counts.kem_prekeys, 2);
    assert_eq!(summary.counts.signed_prekey_id, summary.signed_prekey_id);

    // A top-up appends.
    let more = upload(&bob.identity, &mut bob.ids, false, 4, 1, 4);
    let summary = directory
        .upload(
            &bob.address,
            &bob.identity.identity_key(),
            &more,
            NOW,
            &mut test_rng(5),
        )
        .unwrap();
    assert_eq!(summary.signed_prekey_id, None);
    assert_eq!(summary.counts.one_time_prekeys, 7);
    assert_eq!(summary.counts.kem_prekeys, 3);
    assert_eq!(directory.counts(&bob.address).unwrap(), summary.counts);
}

#[test]
fn rejected_upload_lists_every_problem_and_stores_nothing() {
    let directory = PreKeyDirectory::new();
    let mut bob = registered(&directory, "bob", 1, 10);
    let good = upload(&bob.identity, &mut bob.ids, true, 2, 3, 11);
    let decoded = PreKeyUpload::decode(&good, &UploadPolicy::default()).unwrap();

    // Give KEM prekey #2 the signature of #0, and the signed prekey that of KEM #1.
    let kem = decoded.kem_prekeys();
    let bad_kem = hush_prekey::KemPreKey::new(
        kem[2].id(),
        kem[2].timestamp_ms(),
        kem[2].public_key().clone(),
        *kem[0].signature(),
    )
    .unwrap();
    let signed = decoded.signed_prekey().unwrap();
    let bad_signed = hush_prekey::SignedPreKey::new(
        signed.id(),
        signed.timestamp_ms(),
        *signed.public_key(),
        *kem[1].signature(),
    )
    .unwrap();
    let tampered = PreKeyUpload::new(
        *decoded.identity_key(),
        Some(bad_signed),
        decoded.one_time_prekeys().to_vec(),
        vec![kem[0].clone(), kem[1].clone(), bad_kem],
        decoded.last_resort_kem_prekey().cloned(),
    )
    .encode();

    let before = directory.counts(&bob.address).unwrap();
    let err = directory
        .upload(
            &bob.address,
            &bob.identity.identity_key(),
            &tampered,
            NOW,
            &mut test_rng(12),
        )
        .unwrap_err();
    let Error::Upload(UploadError::Rejected { problems }) = err else {
        panic!("expected a rejected upload, got {err:?}");
    };
    assert_eq!(
        problems,
        vec![
            Problem {
                kind: KeyKind::SignedPreKey,
                position: None,
                id: Some(signed.id()),
                issue: Issue::BadSignature,
            },
            Problem {
                kind: KeyKind::KemPreKey,
                position: Some(2),
                id: Some(kem[2].id()),
                issue: Issue::BadSignature,
            },
        ]
    );
    assert_eq!(directory.counts(&bob.address).unwrap(), before);
    assert_eq!(before.one_time_prekeys, 0);

    // The untampered upload still goes through.
    directory
        .upload(
            &bob.address,
            &bob.identity.identity_key(),
            &good,
            NOW,
            &mut test_rng(13),
        )
        .unwrap();
}

#[test]
fn upload_for_another_identity_or_device_is_refused() {
    let directory = PreKeyDirectory::new();
    let mut bob = registered(&directory, "bob", 1, 20);
    let mallory = IdentityKeyPair::generate(&mut test_rng(21));
    let mut ids = PreKeyIdAllocator::new();
    let by_mallory = upload(&mallory, &mut ids, true, 1, 1, 22);

    // The authenticated key is not the registered one.
    let err = directory
        .upload(
            &bob.address,
            &mallory.identity_key(),
            &by_mallory,
            NOW,
            &mut test_rng(23),
        )
        .unwrap_err();
    assert_eq!(
        err,
        Error::IdentityChanged {
            address: bob.address.clone(),
            identity_key: mallory.identity_key(),
        }
    );

    // Mallory's upload presented for Bob: validated against Bob's key, never its own.
    let err = directory
        .upload(
            &bob.address,
            &bob.identity.identity_key(),
            &by_mallory,
            NOW,
            &mut test_rng(24),
        )
        .unwrap_err();
    let Error::Upload(UploadError::Rejected { problems }) = err else {
        panic!("expected a rejected upload, got {err:?}");
    };
    assert!(problems.contains(&Problem {
        kind: KeyKind::IdentityKey,
        position: None,
        id: None,
        issue: Issue::IdentityMismatch,
    }));
    assert!(problems.iter().any(|p| p.issue == Issue::BadSignature));

    // Structural failures come through as the upload error.
    let err = directory
        .upload(
            &bob.address,
            &bob.identity.identity_key(),
            &[],
            NOW,
            &mut test_rng(25),
        )
        .unwrap_err();
    assert_eq!(err, Error::Upload(UploadError::Empty));
    let err = directory
        .upload(
            &bob.address,
            &bob.identity.identity_key(),
            &[0x7f, 1, 2],
            NOW,
            &mut test_rng(26),
        )
        .unwrap_err();
    assert_eq!(err, Error::Upload(UploadError::UnsupportedVersion(0x7f)));

    // An unregistered device.
    let good = upload(&bob.identity, &mut bob.ids, true, 1, 1, 27);
    let stranger = addr("bob", 9);
    let err = directory
        .upload(
            &stranger,
            &bob.identity.identity_key(),
            &good,
            NOW,
            &mut test_rng(28),
        )
        .unwrap_err();
    assert_eq!(err, Error::UnknownDevice { address: stranger });
}

#[test]
fn bundles_consume_one_time_keys_then_fall_back_to_last_resort() {
    let directory = PreKeyDirectory::new();
    let mut bob = registered(&directory, "bob", 3, 30);
    let bytes = upload(&bob.identity, &mut bob.ids, true, 2, 2, 31);
    let summary = directory
        .upload(
            &bob.address,
            &bob.identity.identity_key(),
            &bytes,
            NOW,
            &mut test_rng(32),
        )
        .unwrap();
    let uploaded = PreKeyUpload::decode(&bytes, &UploadPolicy::default()).unwrap();
    let one_time_ids: Vec<u32> = uploaded.one_time_prekeys().iter().map(|k| k.id()).collect();
    let kem_ids: Vec<u32> = uploaded.kem_prekeys().iter().map(|k| k.id()).collect();
    let last_resort = summary.last_resort_kem_prekey_id.unwrap();

    let mut seen = Vec::new();
    for round in 0..4 {
        let handout = directory.take_bundle(&bob.address).unwrap();
        let bundle = PreKeyBundle::decode(&handout.bundle).unwrap();
        bundle.verify_signatures().unwrap();
        assert_eq!(bundle.identity_key(), &bob.identity.identity_key());
        assert_eq!(bundle.registration_id(), 1003);
        assert_eq!(bundle.device_id(), 3);
        assert_eq!(Some(bundle.signed_prekey_id()), summary.signed_prekey_id);
        let one_time = bundle.one_time_prekey().map(hush_prekey::OneTimePreKey::id);
        seen.push((one_time, bundle.kem_prekey_id()));
        assert_eq!(handout.used_one_time_prekey, round < 2);
        assert_eq!(handout.used_last_resort, round >= 2);
        assert_eq!(
            handout.counts.one_time_prekeys,
            2_usize.saturating_sub(round + 1)
        );
        assert_eq!(
            handout.counts.kem_prekeys,
            2_usize.saturating_sub(round + 1)
        );
    }
    assert_eq!(
        seen,
        vec![
            (Some(one_time_ids[0]), kem_ids[0]),
            (Some(one_time_ids[1]), kem_ids[1]),
            (None, last_resort),
            (None, last_resort),
        ]
    );
}

#[test]
fn bundle_needs_signed_and_kem_prekeys_and_consumes_nothing_on_error() {
    let directory = PreKeyDirectory::new();
    let mut bob = registered(&directory, "bob", 1, 40);
    assert_eq!(
        directory.bundle(&bob.address).unwrap_err(),
        Error::PreKey(hush_prekey::Error::NoSignedPreKey)
    );
    // One-time keys alone as a first upload: refused (every sender would fail with
    // NoSignedPreKey), and nothing is stored.
    let only = upload(&bob.identity, &mut bob.ids, false, 2, 0, 41);
    assert_eq!(
        directory
            .upload(
                &bob.address,
                &bob.identity.identity_key(),
                &only,
                NOW,
                &mut test_rng(42),
            )
            .unwrap_err(),
        Error::PreKey(hush_prekey::Error::IncompleteFirstUpload("signed prekey"))
    );
    assert_eq!(
        directory.bundle(&bob.address).unwrap_err(),
        Error::PreKey(hush_prekey::Error::NoSignedPreKey)
    );
    assert_eq!(directory.counts(&bob.address).unwrap().one_time_prekeys, 0);
    assert_eq!(
        directory.bundle(&addr("nobody", 1)).unwrap_err(),
        Error::UnknownDevice {
            address: addr("nobody", 1)
        }
    );
}

#[test]
fn bundles_for_user_cover_every_ready_device() {
    let directory = PreKeyDirectory::new();
    let mut phones: Vec<Phone> = (1..=3)
        .map(|d| registered(&directory, "carol", d, 50 + u64::from(d)))
        .collect();
    for phone in &mut phones[..2] {
        let seed = 60 + u64::from(phone.address.device_id());
        stock(&directory, phone, 1, seed);
    }
    let bundles = directory.bundles_for_user("carol").unwrap();
    let addresses: Vec<&Address> = bundles.iter().map(|(a, _)| a).collect();
    assert_eq!(addresses, vec![&phones[0].address, &phones[1].address]);
    for ((address, bytes), phone) in bundles.iter().zip(&phones) {
        let bundle = PreKeyBundle::decode(bytes).unwrap();
        assert_eq!(bundle.identity_key(), &phone.identity.identity_key());
        assert_eq!(bundle.device_id(), address.device_id());
        assert!(bundle.one_time_prekey().is_some());
    }
    assert_eq!(
        directory
            .counts(&phones[0].address)
            .unwrap()
            .one_time_prekeys,
        0
    );
    assert_eq!(
        directory.devices("carol").unwrap(),
        phones.iter().map(|p| p.address.clone()).collect::<Vec<_>>()
    );
    assert_eq!(
        directory.bundles_for_user("dave").unwrap_err(),
        Error::UnknownUser
    );
}

#[test]
fn reregistration_replaces_the_record_and_its_keys() {
    let directory = PreKeyDirectory::new();
    let mut bob = registered(&directory, "bob", 1, 70);
    let bytes = upload(&bob.identity, &mut bob.ids, true, 2, 2, 71);
    directory
        .upload(
            &bob.address,
            &bob.identity.identity_key(),
            &bytes,
            NOW,
            &mut test_rng(72),
        )
        .unwrap();
    assert_eq!(
        directory
            .register_device(&bob.address, 1001, bob.identity.identity_key())
            .unwrap(),
        Registration::Unchanged
    );
    assert_eq!(directory.counts(&bob.address).unwrap().one_time_prekeys, 2);

    let reinstalled = IdentityKeyPair::generate(&mut test_rng(73));
    assert_eq!(
        directory
            .register_device(&bob.address, 1001, reinstalled.identity_key())
            .unwrap(),
        Registration::Replaced
    );
    let counts = directory.counts(&bob.address).unwrap();
    assert_eq!(
        (counts.one_time_prekeys, counts.signed_prekey_id),
        (0, None)
    );
    assert_eq!(
        directory.registration(&bob.address).unwrap(),
        (1001, reinstalled.identity_key())
    );
    // The old identity can no longer upload.
    let err = directory
        .upload(
            &bob.address,
            &bob.identity.identity_key(),
            &bytes,
            NOW,
            &mut test_rng(74),
        )
        .unwrap_err();
    assert_eq!(
        err,
        Error::IdentityChanged {
            address: bob.address.clone(),
            identity_key: bob.identity.identity_key(),
        }
    );
    assert!(directory.remove_device(&bob.address));
    assert!(!directory.remove_device(&bob.address));
    assert_eq!(directory.user_count(), 0);
}

#[test]
fn directory_bounds_give_typed_errors() {
    let mut limits = DirectoryLimits::default();
    limits.max_devices_per_user = 2;
    limits.max_users = Some(2);
    limits.max_stored_one_time_prekeys = 3;
    limits.max_stored_kem_prekeys = 3;
    let directory = PreKeyDirectory::with_config(UploadPolicy::default(), limits);
    let key = IdentityKeyPair::generate(&mut test_rng(80)).identity_key();

    directory.register_device(&addr("a", 1), 1, key).unwrap();
    directory.register_device(&addr("a", 2), 1, key).unwrap();
    assert_eq!(
        directory
            .register_device(&addr("a", 3), 1, key)
            .unwrap_err(),
        Error::TooManyDevices { max: 2 }
    );
    directory.register_device(&addr("b", 1), 1, key).unwrap();
    assert_eq!(
        directory
            .register_device(&addr("c", 1), 1, key)
            .unwrap_err(),
        Error::ServerFull { max: 2 }
    );
    assert_eq!(
        directory
            .register_device(&addr("b", 200), 1, key)
            .unwrap_err(),
        Error::PreKey(hush_prekey::Error::DeviceIdOutOfRange(200))
    );
    assert_eq!(directory.user_count(), 2);

    // Stored one-time keys: 2 fit, 2 more would make 4 > 3, refused whole.
    let mut bob = registered(&PreKeyDirectory::new(), "x", 1, 81);
    let directory = PreKeyDirectory::with_config(UploadPolicy::default(), limits);
    directory
        .register_device(&bob.address, 1, bob.identity.identity_key())
        .unwrap();
    let first = upload(&bob.identity, &mut bob.ids, true, 2, 2, 82);
    directory
        .upload(
            &bob.address,
            &bob.identity.identity_key(),
            &first,
            NOW,
            &mut test_rng(83),
        )
        .unwrap();
    let second = upload(&bob.identity, &mut bob.ids, false, 2, 0, 84);
    let err = directory
        .upload(
            &bob.address,
            &bob.identity.identity_key(),
            &second,
            NOW,
            &mut test_rng(85),
        )
        .unwrap_err();
    assert_eq!(
        err,
        Error::PreKey(hush_prekey::Error::TooMany {
            what: "stored one-time prekeys",
            limit: 3,
            actual: 4
        })
    );
    assert_eq!(directory.counts(&bob.address).unwrap().one_time_prekeys, 2);
    // Re-uploading the same ids replaces them: the bound counts distinct keys.
    directory
        .upload(
            &bob.address,
            &bob.identity.identity_key(),
            &first,
            NOW,
            &mut test_rng(86),
        )
        .unwrap();
    assert_eq!(directory.counts(&bob.address).unwrap().one_time_prekeys, 2);
}

// ---------------------------------------------------------------- device lists

#[test]
fn a_device_off_the_list_is_pruned_from_directory_and_mailbox() {
    let directory = PreKeyDirectory::new();
    let mailbox = Mailbox::new();
    let mut phones: Vec<Phone> = (1..=3)
        .map(|d| registered(&directory, "erin", d, 130 + u64::from(d)))
        .collect();
    for phone in &mut phones {
        let seed = 140 + u64::from(phone.address.device_id());
        stock(&directory, phone, 2, seed);
    }
    let sender = addr("frank", 1);
    mailbox
        .deliver_many(
            &sender,
            phones
                .iter()
                .map(|p| (p.address.clone(), 2, b"hi".to_vec()))
                .collect(),
            NOW,
        )
        .unwrap();
    // Device 2 answered something before it was removed: a receipt waits for it.
    let to_two = mailbox
        .deliver(&phones[1].address, &sender, 2, b"more".to_vec(), NOW)
        .unwrap();
    let from_two = mailbox
        .deliver(&sender, &phones[1].address, 2, b"reply".to_vec(), NOW)
        .unwrap();
    assert_eq!(mailbox.acknowledge(&sender, &[from_two]), 1);
    assert_eq!(mailbox.queue_count(), 3);

    // The account's new list keeps devices 1 and 3.
    let dropped = directory.retain_devices("erin", &[1, 3, 7]).unwrap();
    assert_eq!(dropped, vec![phones[1].address.clone()]);
    assert_eq!(
        directory.devices("erin").unwrap(),
        vec![phones[0].address.clone(), phones[2].address.clone()]
    );
    let handed: Vec<Address> = directory
        .bundles_for_user("erin")
        .unwrap()
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    assert_eq!(
        handed,
        vec![phones[0].address.clone(), phones[2].address.clone()]
    );
    assert_eq!(
        directory.bundle(&phones[1].address).unwrap_err(),
        Error::UnknownDevice {
            address: phones[1].address.clone()
        }
    );
    // Pruning again, or an unknown user, removes nothing.
    assert!(
        directory
            .retain_devices("erin", &[1, 3])
            .unwrap()
            .is_empty()
    );
    assert!(directory.retain_devices("nobody", &[]).unwrap().is_empty());

    for address in &dropped {
        assert_eq!(mailbox.remove_device(address), 2);
        assert_eq!(mailbox.remove_device(address), 0);
    }
    assert!(mailbox.fetch(&phones[1].address, 10).is_empty());
    assert!(mailbox.take_receipts(&phones[1].address, 10).is_empty());
    assert_eq!(mailbox.queue_count(), 2);
    // The other devices' messages are untouched; acknowledging the removed device's
    // message is a no-op now.
    assert_eq!(
        bodies(&mailbox.fetch(&phones[0].address, 10)),
        vec![&b"hi"[..]]
    );
    assert_eq!(mailbox.acknowledge(&phones[1].address, &[to_two]), 0);

    // The last devices go: the user is gone from the directory.
    assert_eq!(directory.retain_devices("erin", &[]).unwrap().len(), 2);
    assert_eq!(directory.user_count(), 0);
}

/// A list of `user` holding only its primary, `account` itself, at key index `key_index`.
fn new_list(account: &IdentityKeyPair, user: &str, key_index: u32) -> DeviceList {
    let policy = DeviceListPolicy::default();
    let key = account.identity_key();
    let mut rng = test_rng(u64::from(key_index));
    DeviceList::new(
        key,
        user.as_bytes(),
        account,
        key_index,
        NOW,
        policy,
        &mut rng,
    )
    .unwrap()
}

fn signed_list(list: &mut DeviceList, account: &IdentityKeyPair, at: u64) -> Vec<u8> {
    list.sign(account, at, &mut test_rng(at)).unwrap().encode()
}

#[test]
fn device_lists_refuse_rollback_equivocation_and_foreign_keys() {
    let lists = DeviceLists::new();
    let account = IdentityKeyPair::generate(&mut test_rng(90));
    let bytes_for_unknown = {
        let mut list = new_list(&account, "alice", 1);
        signed_list(&mut list, &account, NOW)
    };
    assert_eq!(
        lists.upload("alice", &bytes_for_unknown).unwrap_err(),
        Error::UnknownUser
    );
    // The signature is checked first (outside the lock), whoever the user is.
    let mut forged = bytes_for_unknown.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    assert_eq!(
        lists.upload("alice", &forged).unwrap_err(),
        Error::Device(hush_device::Error::BadSignature)
    );
    assert_eq!(
        lists
            .register_account("alice", account.identity_key())
            .unwrap(),
        Registration::New
    );

    let mut list = new_list(&account, "alice", 1);
    let v1 = signed_list(&mut list, &account, NOW);
    let v2 = signed_list(&mut list, &account, NOW + 1);
    assert_eq!(lists.upload("alice", &v1).unwrap().version(), 1);
    assert_eq!(lists.upload("alice", &v1).unwrap().version(), 1); // idempotent
    assert_eq!(lists.upload("alice", &v2).unwrap().version(), 2);
    assert_eq!(
        lists.upload("alice", &v1).unwrap_err(),
        Error::Device(hush_device::Error::Rollback {
            seen: 2,
            received: 1
        })
    );
    // Another version-2 list with other contents.
    let mut other = new_list(&account, "alice", 7);
    let _ = signed_list(&mut other, &account, NOW);
    let other_v2 = signed_list(&mut other, &account, NOW + 5);
    assert_eq!(
        lists.upload("alice", &other_v2).unwrap_err(),
        Error::Device(hush_device::Error::Equivocation { version: 2 })
    );

    // Signed by someone else's account key.
    let mallory = IdentityKeyPair::generate(&mut test_rng(91));
    let mut forged = new_list(&mallory, "alice", 1);
    for _ in 0..5 {
        let _ = signed_list(&mut forged, &mallory, NOW);
    }
    let forged_v6 = signed_list(&mut forged, &mallory, NOW);
    assert_eq!(
        lists.upload("alice", &forged_v6).unwrap_err(),
        Error::Device(hush_device::Error::IdentityChanged)
    );

    // A broken signature, and bytes that are no list at all.
    let mut v3 = {
        let _ = &v2;
        signed_list(&mut list, &account, NOW + 2)
    };
    let last = v3.len() - 1;
    v3[last] ^= 1;
    assert_eq!(
        lists.upload("alice", &v3).unwrap_err(),
        Error::Device(hush_device::Error::BadSignature)
    );
    assert!(matches!(
        lists.upload("alice", &[2, 2, 3]).unwrap_err(),
        Error::Device(hush_device::Error::Malformed(_))
    ));
    // A format-1 list (before membership signatures) is refused by its version.
    assert!(matches!(
        lists.upload("alice", &[1, 2, 3]).unwrap_err(),
        Error::Device(hush_device::Error::UnknownVersion(1))
    ));
    assert!(matches!(
        lists.upload("alice", &[9]).unwrap_err(),
        Error::Device(hush_device::Error::UnknownVersion(9))
    ));

    // Nothing of that changed what is stored.
    assert_eq!(lists.fetch("alice"), Some(v2));
    assert_eq!(lists.version("alice"), Some(2));
}

#[test]
fn a_fan_out_must_address_exactly_the_listed_devices() {
    let lists = DeviceLists::new();
    let mut rng = test_rng(150);
    let account = IdentityKeyPair::generate(&mut rng);
    lists
        .register_account("alice", account.identity_key())
        .unwrap();
    let mut list = new_list(&account, "alice", 1);
    for device_id in [2, 3] {
        let device = IdentityKeyPair::generate(&mut rng);
        let membership_signature = hush_device::sign_membership(
            &device,
            &account.identity_key(),
            b"alice",
            device_id,
            &mut rng,
        )
        .unwrap();
        list.add_companion(hush_device::DeviceEntry {
            device_id,
            identity_key: device.identity_key(),
            key_index: 1,
            added_at_ms: NOW,
            membership_signature,
        })
        .unwrap();
    }
    // The same list is nobody else's: its devices consented to be Alice's.
    lists
        .register_account("mallory", account.identity_key())
        .unwrap();
    assert_eq!(
        lists.upload("mallory", &signed_list(&mut list.clone(), &account, NOW)),
        Err(Error::Device(hush_device::Error::BadSignature))
    );
    lists
        .upload("alice", &signed_list(&mut list, &account, NOW))
        .unwrap();
    let bob = addr("bob", 1);
    let mismatch = |missing: Vec<u32>, extra: Vec<u32>| Error::MismatchedDevices {
        user: "alice".to_owned(),
        missing,
        extra,
    };

    lists.check_fan_out(&bob, "alice", &[3, 1, 2], NOW).unwrap();
    assert_eq!(
        lists.check_fan_out(&bob, "alice", &[1, 3], NOW),
        Err(mismatch(vec![2], vec![]))
    );
    assert_eq!(
        lists.check_fan_out(&bob, "alice", &[1, 2, 3, 4], NOW),
        Err(mismatch(vec![], vec![4]))
    );
    assert_eq!(
        lists.check_fan_out(&bob, "alice", &[1, 2, 2, 3], NOW),
        Err(mismatch(vec![], vec![2]))
    );
    assert_eq!(
        lists.check_fan_out(&bob, "alice", &[], NOW),
        Err(mismatch(vec![1, 2, 3], vec![]))
    );
    // Alice's own other devices, from her laptop: not the laptop itself.
    let laptop = addr("alice", 2);
    lists.check_fan_out(&laptop, "alice", &[1, 3], NOW).unwrap();
    assert_eq!(
        lists.check_fan_out(&laptop, "alice", &[1, 2, 3], NOW),
        Err(mismatch(vec![], vec![2]))
    );
    // Once the list is older than the companion expiry, only the primary is a target,
    // as for the clients.
    let later = NOW + DeviceListPolicy::default().companion_expiry_ms + 1;
    lists.check_fan_out(&bob, "alice", &[1], later).unwrap();
    assert_eq!(
        lists.check_fan_out(&bob, "alice", &[1, 2, 3], later),
        Err(mismatch(vec![], vec![2, 3]))
    );
    assert_eq!(
        lists.check_fan_out(&bob, "carol", &[1], NOW),
        Err(Error::UnknownUser)
    );
}

#[test]
fn a_new_account_key_starts_the_history_afresh() {
    let lists = DeviceLists::new();
    let old = IdentityKeyPair::generate(&mut test_rng(100));
    lists.register_account("bob", old.identity_key()).unwrap();
    let mut list = new_list(&old, "bob", 1);
    for at in 0..3 {
        lists
            .upload("bob", &signed_list(&mut list, &old, NOW + at))
            .unwrap();
    }
    assert_eq!(lists.version("bob"), Some(3));

    let new = IdentityKeyPair::generate(&mut test_rng(101));
    assert_eq!(
        lists.register_account("bob", new.identity_key()).unwrap(),
        Registration::Replaced
    );
    assert_eq!(lists.fetch("bob"), None);
    assert_eq!(lists.account_key("bob"), Some(new.identity_key()));
    // Version 1 under the new key is not a rollback; the old key's lists are refused.
    let mut fresh = new_list(&new, "bob", 1);
    assert_eq!(
        lists
            .upload("bob", &signed_list(&mut fresh, &new, NOW))
            .unwrap()
            .version(),
        1
    );
    assert_eq!(
        lists
            .upload("bob", &signed_list(&mut list, &old, NOW + 9))
            .unwrap_err(),
        Error::Device(hush_device::Error::IdentityChanged)
    );
}

#[test]
fn device_list_bounds() {
    let lists = DeviceLists::with_config(DeviceListPolicy::default(), 1);
    let key = IdentityKeyPair::generate(&mut test_rng(110)).identity_key();
    assert_eq!(
        lists.register_account("", key).unwrap_err(),
        Error::InvalidArgument("user name")
    );
    assert_eq!(
        lists.register_account(&"u".repeat(65), key).unwrap_err(),
        Error::InvalidArgument("user name")
    );
    lists.register_account(&"u".repeat(64), key).unwrap();
    assert_eq!(
        lists.register_account("second", key).unwrap_err(),
        Error::ServerFull { max: 1 }
    );
    assert!(lists.remove_account(&"u".repeat(64)));
    lists.register_account("second", key).unwrap();
}

// ---------------------------------------------------------------- mailbox

fn limits(messages: usize, bytes: usize) -> MailboxLimits {
    let mut limits = MailboxLimits::default();
    limits.max_queue_messages = messages;
    limits.max_queue_bytes = bytes;
    limits
}

fn bodies(envelopes: &[Envelope]) -> Vec<&[u8]> {
    envelopes.iter().map(|e| e.body.as_slice()).collect()
}

#[test]
fn messages_stay_until_acknowledged_and_receipts_follow() {
    let mailbox = Mailbox::new();
    let (alice, carol, bob) = (addr("alice", 1), addr("carol", 1), addr("bob", 1));
    let a1 = mailbox
        .deliver(&bob, &alice, 3, b"a1".to_vec(), NOW)
        .unwrap();
    let c1 = mailbox
        .deliver(&bob, &carol, 2, b"c1".to_vec(), NOW + 1)
        .unwrap();
    let a2 = mailbox
        .deliver(&bob, &alice, 2, b"a2".to_vec(), NOW + 2)
        .unwrap();
    assert!(a1 < c1 && c1 < a2);

    let first = mailbox.fetch(&bob, 2);
    assert_eq!(bodies(&first), vec![&b"a1"[..], b"c1"]);
    assert_eq!(
        (
            first[0].id,
            &first[0].sender,
            first[0].message_type,
            first[0].received_at_ms
        ),
        (a1, &alice, 3, NOW)
    );
    // Fetching again returns the same, unacknowledged messages.
    assert_eq!(mailbox.fetch(&bob, 2), first);
    assert_eq!(mailbox.fetch(&bob, 100).len(), 3);
    assert_eq!(mailbox.fetch(&bob, 0), vec![]);

    // Acknowledge out of order, with an unknown id and someone else's id mixed in.
    let stranger = mailbox
        .deliver(&carol, &alice, 2, b"x".to_vec(), NOW)
        .unwrap();
    assert_eq!(
        mailbox.acknowledge(&bob, &[c1, MessageId::new(999_999), stranger]),
        1
    );
    assert_eq!(bodies(&mailbox.fetch(&bob, 10)), vec![&b"a1"[..], b"a2"]);
    assert_eq!(mailbox.acknowledge(&bob, &[c1]), 0); // again: nothing, no second receipt
    assert_eq!(mailbox.acknowledge(&bob, &[a2, a1]), 2);
    assert!(mailbox.fetch(&bob, 10).is_empty());
    assert_eq!(mailbox.queue_stats(&bob).messages, 0);

    let receipts = mailbox.take_receipts(&alice, 10);
    let got: Vec<(MessageId, &Address)> = receipts
        .iter()
        .map(|r| (r.message_id, &r.recipient))
        .collect();
    assert_eq!(got, vec![(a2, &bob), (a1, &bob)]);
    assert!(mailbox.take_receipts(&alice, 10).is_empty());
    let receipts = mailbox.take_receipts(&carol, 10);
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0].message_id, c1);
    // carol's message to... carol's own queue still holds the stranger message.
    assert_eq!(mailbox.queue_stats(&carol).messages, 1);
}

#[test]
fn queue_bounds_give_queue_full_and_nothing_is_enqueued() {
    let mailbox = Mailbox::with_limits(limits(3, 10));
    let (alice, bob) = (addr("alice", 1), addr("bob", 1));
    let full = Error::QueueFull {
        address: bob.clone(),
    };
    // By bytes: 4 + 4 fit, 4 more would make 12 > 10.
    let first = mailbox.deliver(&bob, &alice, 2, vec![1; 4], NOW).unwrap();
    mailbox.deliver(&bob, &alice, 2, vec![2; 4], NOW).unwrap();
    assert_eq!(
        mailbox
            .deliver(&bob, &alice, 2, vec![3; 4], NOW)
            .unwrap_err(),
        full
    );
    // By count: a 3rd small one fits, a 4th does not.
    mailbox.deliver(&bob, &alice, 2, vec![4; 1], NOW).unwrap();
    assert_eq!(
        mailbox.deliver(&bob, &alice, 2, vec![], NOW).unwrap_err(),
        full
    );
    let stats = mailbox.queue_stats(&bob);
    assert_eq!((stats.messages, stats.bytes), (3, 9));
    // Acknowledging makes room again.
    assert_eq!(mailbox.acknowledge(&bob, &[first]), 1);
    mailbox.deliver(&bob, &alice, 2, vec![5], NOW).unwrap();
    assert_eq!(
        bodies(&mailbox.fetch(&bob, 10)),
        vec![&[2_u8; 4][..], &[4][..], &[5][..]]
    );
    // A body larger than a whole queue can never fit it: the queue is full for it. Only
    // past the body limit is it too large.
    assert_eq!(
        mailbox
            .deliver(&addr("carol", 1), &alice, 2, vec![0; 11], NOW)
            .unwrap_err(),
        Error::QueueFull {
            address: addr("carol", 1)
        }
    );
    let mut small = MailboxLimits::default();
    small.max_body_bytes = 5;
    let mailbox = Mailbox::with_limits(small);
    assert_eq!(
        mailbox
            .deliver(&bob, &alice, 2, vec![0; 6], NOW)
            .unwrap_err(),
        Error::BodyTooLarge { len: 6, max: 5 }
    );
    mailbox.deliver(&bob, &alice, 2, vec![0; 5], NOW).unwrap();
}

#[test]
fn fan_out_is_all_or_nothing() {
    let mailbox = Mailbox::with_limits(limits(2, 1000));
    let alice = addr("alice", 1);
    let (b1, b2, a2) = (addr("bob", 1), addr("bob", 2), addr("alice", 2));
    mailbox
        .deliver(&b2, &alice, 2, b"old".to_vec(), NOW)
        .unwrap();
    mailbox
        .deliver(&b2, &alice, 2, b"old".to_vec(), NOW)
        .unwrap();
    let err = mailbox
        .deliver_many(
            &alice,
            vec![
                (b1.clone(), 3, b"to b1".to_vec()),
                (a2.clone(), 3, b"to a2".to_vec()),
                (b2.clone(), 3, b"to b2".to_vec()),
            ],
            NOW,
        )
        .unwrap_err();
    assert_eq!(
        err,
        Error::QueueFull {
            address: b2.clone()
        }
    );
    assert!(mailbox.fetch(&b1, 10).is_empty());
    assert!(mailbox.fetch(&a2, 10).is_empty());
    assert_eq!(mailbox.queue_count(), 1);

    // A recipient named twice needs room for both.
    let err = mailbox
        .deliver_many(
            &alice,
            vec![
                (b1.clone(), 3, b"x".to_vec()),
                (b1.clone(), 3, b"y".to_vec()),
                (b1.clone(), 3, b"z".to_vec()),
            ],
            NOW,
        )
        .unwrap_err();
    assert_eq!(
        err,
        Error::QueueFull {
            address: b1.clone()
        }
    );
    assert!(mailbox.fetch(&b1, 10).is_empty());

    // After b2 acknowledges, the same fan-out goes through, ids in input order.
    let old: Vec<MessageId> = mailbox.fetch(&b2, 10).iter().map(|e| e.id).collect();
    mailbox.acknowledge(&b2, &old);
    let ids = mailbox
        .deliver_many(
            &alice,
            vec![
                (b1.clone(), 3, b"to b1".to_vec()),
                (a2.clone(), 3, b"to a2".to_vec()),
                (b2.clone(), 3, b"to b2".to_vec()),
            ],
            NOW,
        )
        .unwrap();
    assert_eq!(ids.len(), 3);
    for (id, (to, body)) in ids
        .iter()
        .zip([(&b1, &b"to b1"[..]), (&a2, b"to a2"), (&b2, b"to b2")])
    {
        let got = mailbox.fetch(to, 10);
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].id, got[0].body.as_slice()), (*id, body));
    }
    assert_eq!(mailbox.deliver_many(&alice, vec![], NOW).unwrap(), vec![]);
    let mut big = MailboxLimits::default();
    big.max_body_bytes = 3;
    let mailbox = Mailbox::with_limits(big);
    assert_eq!(
        mailbox
            .deliver_many(
                &alice,
                vec![(b1.clone(), 2, vec![0; 3]), (b2, 2, vec![0; 4])],
                NOW
            )
            .unwrap_err(),
        Error::BodyTooLarge { len: 4, max: 3 }
    );
    assert!(mailbox.fetch(&b1, 10).is_empty());
}

#[test]
fn device_and_receipt_bounds() {
    let mut limits = MailboxLimits::default();
    limits.max_devices = 2;
    limits.max_pending_receipts = 2;
    let mailbox = Mailbox::with_limits(limits);
    let alice = addr("alice", 1);
    let (r1, r2, r3) = (addr("r", 1), addr("r", 2), addr("r", 3));
    mailbox.deliver(&r1, &alice, 2, vec![1], NOW).unwrap();
    mailbox.deliver(&r2, &alice, 2, vec![2], NOW).unwrap();
    assert_eq!(
        mailbox.deliver(&r3, &alice, 2, vec![3], NOW).unwrap_err(),
        Error::ServerFull { max: 2 }
    );
    assert_eq!(
        mailbox
            .deliver_many(
                &alice,
                vec![(r1.clone(), 2, vec![4]), (r3.clone(), 2, vec![5])],
                NOW
            )
            .unwrap_err(),
        Error::ServerFull { max: 2 }
    );
    assert_eq!(mailbox.fetch(&r1, 10).len(), 1);
    // An emptied queue frees its slot.
    let ids: Vec<MessageId> = mailbox.fetch(&r2, 10).iter().map(|e| e.id).collect();
    mailbox.acknowledge(&r2, &ids);
    mailbox.deliver(&r3, &alice, 2, vec![3], NOW).unwrap();

    // Three receipts for alice with room for two: the oldest is dropped.
    let mut sent = Vec::new();
    for n in 0..3 {
        sent.push(mailbox.deliver(&r1, &alice, 2, vec![n], NOW).unwrap());
    }
    let all: Vec<MessageId> = mailbox.fetch(&r1, 10).iter().map(|e| e.id).collect();
    assert_eq!(mailbox.acknowledge(&r1, &all), 4);
    let receipts: Vec<MessageId> = mailbox
        .take_receipts(&alice, 10)
        .iter()
        .map(|r| r.message_id)
        .collect();
    assert_eq!(receipts, sent[1..].to_vec());
    // Alice had r2's receipt, then four more came (r1's first message and `sent`):
    // five for room for two.
    assert_eq!(mailbox.receipts_dropped(), 3);
}

/// Set when a thread of a concurrent test panics, so the others stop waiting for it
/// and the test fails instead of hanging.
struct AbortOnPanic(Arc<AtomicBool>);

impl Drop for AbortOnPanic {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

/// Fails the calling thread if another one failed, or if nothing finished in time (a
/// liveness guard far above the test's running time, not a timing assertion).
fn keep_going(abort: &AtomicBool, deadline: Instant) {
    assert!(!abort.load(Ordering::SeqCst), "another thread failed");
    assert!(
        Instant::now() < deadline,
        "no progress: lost messages or a deadlock"
    );
}

/// Many senders deliver (singly and in fan-outs) to shared recipients while one
/// consumer per recipient fetches and acknowledges: no loss, no duplicate, per-sender
/// order kept per recipient, bounds never exceeded, ids unique, one receipt each.
#[test]
fn concurrent_senders_and_consumers() {
    const SENDERS: u32 = 8;
    const PER_SENDER: u32 = 1000;
    const RECIPIENTS: u32 = 3;
    const MAX_MESSAGES: usize = 16;
    const MAX_BYTES: usize = 16 * 12;
    let mut limits = limits(MAX_MESSAGES, MAX_BYTES);
    limits.max_pending_receipts = usize::MAX;
    let mailbox = Arc::new(Mailbox::with_limits(limits));
    let recipients: Vec<Address> = (1..=RECIPIENTS).map(|d| addr("shared", d)).collect();
    let start = Arc::new(Barrier::new((SENDERS + RECIPIENTS) as usize));
    let abort = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_secs(120);

    // Each message body: sender (4 bytes), sequence (4 bytes), padding to vary sizes.
    let body = |sender: u32, seq: u32| {
        let mut body = sender.to_be_bytes().to_vec();
        body.extend_from_slice(&seq.to_be_bytes());
        body.resize(8 + (seq % 5) as usize, 0xAA);
        body
    };

    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let mailbox = Arc::clone(&mailbox);
            let recipients = recipients.clone();
            let start = Arc::clone(&start);
            let abort = Arc::clone(&abort);
            thread::spawn(move || {
                let _guard = AbortOnPanic(Arc::clone(&abort));
                let me = addr("sender", s + 1);
                start.wait();
                let mut ids = Vec::new();
                let mut receipts = Vec::new();
                for seq in 0..PER_SENDER {
                    // Odd senders fan out to every recipient; even ones send to one.
                    loop {
                        let result = if s % 2 == 1 {
                            let batch = recipients
                                .iter()
                                .map(|r| (r.clone(), 2, body(s, seq)))
                                .collect();
                            mailbox.deliver_many(&me, batch, NOW)
                        } else {
                            let to = &recipients[(seq % RECIPIENTS) as usize];
                            mailbox
                                .deliver(to, &me, 2, body(s, seq), NOW)
                                .map(|id| vec![id])
                        };
                        match result {
                            Ok(new) => {
                                ids.extend(new);
                                break;
                            }
                            Err(Error::QueueFull { .. }) => {
                                keep_going(&abort, deadline);
                                receipts.extend(mailbox.take_receipts(&me, 100));
                                thread::yield_now();
                            }
                            Err(e) => panic!("unexpected {e:?}"),
                        }
                    }
                }
                (me, ids, receipts)
            })
        })
        .collect();

    let expected_per_recipient: Vec<usize> = (0..RECIPIENTS)
        .map(|r| {
            (0..SENDERS)
                .map(|s| {
                    if s % 2 == 1 {
                        PER_SENDER as usize
                    } else {
                        (0..PER_SENDER).filter(|q| q % RECIPIENTS == r).count()
                    }
                })
                .sum()
        })
        .collect();

    let consumers: Vec<_> = recipients
        .iter()
        .cloned()
        .zip(expected_per_recipient.clone())
        .map(|(me, expected)| {
            let mailbox = Arc::clone(&mailbox);
            let start = Arc::clone(&start);
            let abort = Arc::clone(&abort);
            thread::spawn(move || {
                let _guard = AbortOnPanic(Arc::clone(&abort));
                start.wait();
                let mut got: Vec<Envelope> = Vec::new();
                let mut round = 0_u32;
                while got.len() < expected {
                    keep_going(&abort, deadline);
                    let stats = mailbox.queue_stats(&me);
                    assert!(stats.messages <= MAX_MESSAGES && stats.bytes <= MAX_BYTES);
                    let batch = mailbox.fetch(&me, 7);
                    assert!(batch.len() <= 7);
                    // Acknowledge only some of them each time: the rest must come back.
                    round += 1;
                    let take = if round.is_multiple_of(3) {
                        batch.len() / 2
                    } else {
                        batch.len()
                    };
                    let acked: Vec<MessageId> = batch[..take].iter().map(|e| e.id).collect();
                    assert_eq!(mailbox.acknowledge(&me, &acked), acked.len());
                    got.extend(batch.into_iter().take(take));
                    if take == 0 {
                        thread::yield_now();
                    }
                }
                (me, got)
            })
        })
        .collect();

    let sent: Vec<(Address, Vec<MessageId>, Vec<hush::server::Receipt>)> =
        senders.into_iter().map(|h| h.join().unwrap()).collect();
    let received: Vec<(Address, Vec<Envelope>)> =
        consumers.into_iter().map(|h| h.join().unwrap()).collect();

    let mut all_ids = BTreeSet::new();
    for ((me, got), expected) in received.iter().zip(&expected_per_recipient) {
        assert_eq!(got.len(), *expected, "{me}: lost or extra messages");
        assert!(mailbox.fetch(me, 10).is_empty());
        // Per sender, sequence numbers strictly increase: order kept, no duplicate.
        let mut last: BTreeMap<u32, u32> = BTreeMap::new();
        for envelope in got {
            assert!(all_ids.insert(envelope.id), "id {} seen twice", envelope.id);
            let s = u32::from_be_bytes(envelope.body[..4].try_into().unwrap());
            let seq = u32::from_be_bytes(envelope.body[4..8].try_into().unwrap());
            assert_eq!(envelope.sender, addr("sender", s + 1));
            assert_eq!(envelope.body, body(s, seq));
            if let Some(prev) = last.insert(s, seq) {
                assert!(seq > prev, "{me}: sender {s} sent {prev} then {seq}");
            }
        }
        // Ids increase along the queue.
        assert!(got.windows(2).all(|w| w[0].id < w[1].id));
    }
    let sent_ids: BTreeSet<MessageId> = sent
        .iter()
        .flat_map(|(_, ids, _)| ids.iter().copied())
        .collect();
    assert_eq!(
        sent_ids, all_ids,
        "delivered ids are exactly the ids handed to senders"
    );

    // Every acknowledged message produced exactly one receipt for its sender.
    for (me, ids, mut receipts) in sent {
        // A call returns at most `MAX_FETCH`; how many are left depends on how many the
        // sender took while sending.
        loop {
            let more = mailbox.take_receipts(&me, usize::MAX);
            if more.is_empty() {
                break;
            }
            receipts.extend(more);
        }
        let mut got: Vec<MessageId> = receipts.iter().map(|r| r.message_id).collect();
        got.sort_unstable();
        let mut want = ids.clone();
        want.sort_unstable();
        assert_eq!(got, want, "{me}: receipts");
    }
    assert_eq!(mailbox.receipts_dropped(), 0);
    assert_eq!(mailbox.queue_count(), 0);
}

/// Many threads take bundles from one device at once: every one-time key goes out
/// exactly once, and once they are gone everyone gets the last-resort KEM prekey.
#[test]
fn concurrent_bundle_handout_consumes_each_key_once() {
    const THREADS: usize = 6;
    const EACH: usize = 10;
    let directory = Arc::new(PreKeyDirectory::new());
    let mut bob = registered(&directory, "bob", 1, 120);
    let bytes = upload(&bob.identity, &mut bob.ids, true, 40, 40, 121);
    let summary = directory
        .upload(
            &bob.address,
            &bob.identity.identity_key(),
            &bytes,
            NOW,
            &mut test_rng(122),
        )
        .unwrap();
    let last_resort = summary.last_resort_kem_prekey_id.unwrap();
    let start = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let directory = Arc::clone(&directory);
            let address = bob.address.clone();
            let start = Arc::clone(&start);
            thread::spawn(move || {
                start.wait();
                (0..EACH)
                    .map(|_| {
                        let bundle =
                            PreKeyBundle::decode(&directory.bundle(&address).unwrap()).unwrap();
                        (
                            bundle.one_time_prekey().map(hush_prekey::OneTimePreKey::id),
                            bundle.kem_prekey_id(),
                        )
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let all: Vec<(Option<u32>, u32)> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let one_time: Vec<u32> = all.iter().filter_map(|(o, _)| *o).collect();
    let kem: Vec<u32> = all
        .iter()
        .map(|(_, k)| *k)
        .filter(|k| *k != last_resort)
        .collect();
    assert_eq!(one_time.len(), 40);
    assert_eq!(one_time.iter().collect::<BTreeSet<_>>().len(), 40);
    assert_eq!(kem.len(), 40);
    assert_eq!(kem.iter().collect::<BTreeSet<_>>().len(), 40);
    assert_eq!(
        all.iter().filter(|(_, k)| *k == last_resort).count(),
        THREADS * EACH - 40
    );
    let counts = directory.counts(&bob.address).unwrap();
    assert_eq!((counts.one_time_prekeys, counts.kem_prekeys), (0, 0));
}

// ---------------------------------------------------------------- mailbox model

mod model {
    //! The mailbox against a plain reference model written from its documented rules,
    //! over random operation sequences with small limits.

    use std::collections::VecDeque;

    use proptest::prelude::*;

    use super::*;

    const DEVICES: usize = 3;
    const MAX_MESSAGES: usize = 4;
    const MAX_BYTES: usize = 12;
    const MAX_RECEIPTS: usize = 3;
    const MAX_DEVICES: usize = 2;

    #[derive(Debug, Clone)]
    enum Op {
        Deliver {
            to: usize,
            from: usize,
            len: usize,
        },
        DeliverMany {
            from: usize,
            to: Vec<(usize, usize)>,
        },
        Fetch {
            who: usize,
            max: usize,
        },
        /// Acknowledge the messages at these positions of the model's queue (positions
        /// past its end stand for unknown ids).
        Ack {
            who: usize,
            positions: Vec<usize>,
        },
        TakeReceipts {
            who: usize,
            max: usize,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..DEVICES, 0..DEVICES, 0..6_usize).prop_map(|(to, from, len)| Op::Deliver {
                to,
                from,
                len
            }),
            (
                0..DEVICES,
                prop::collection::vec((0..DEVICES, 0..6_usize), 0..4)
            )
                .prop_map(|(from, to)| Op::DeliverMany { from, to }),
            (0..DEVICES, 0..6_usize).prop_map(|(who, max)| Op::Fetch { who, max }),
            (0..DEVICES, prop::collection::vec(0..6_usize, 0..4))
                .prop_map(|(who, positions)| Op::Ack { who, positions }),
            (0..DEVICES, 0..5_usize).prop_map(|(who, max)| Op::TakeReceipts { who, max }),
        ]
    }

    /// (id, sender, body)
    type Message = (u64, usize, Vec<u8>);

    struct Model {
        queues: Vec<VecDeque<Message>>,
        /// (message id, recipient) per sender.
        receipts: Vec<VecDeque<(u64, usize)>>,
        next_id: u64,
        dropped: u64,
    }

    impl Model {
        fn live_queues(&self) -> usize {
            self.queues.iter().filter(|q| !q.is_empty()).count()
        }

        fn room(&self, to: usize, count: usize, bytes: usize) -> bool {
            let queue = &self.queues[to];
            queue.len() + count <= MAX_MESSAGES
                && queue.iter().map(|m| m.2.len()).sum::<usize>() + bytes <= MAX_BYTES
        }

        fn push(&mut self, to: usize, from: usize, body: Vec<u8>) -> u64 {
            let id = self.next_id;
            self.next_id += 1;
            self.queues[to].push_back((id, from, body));
            id
        }

        fn receipt(&mut self, sender: usize, id: u64, recipient: usize) {
            let holders = self.receipts.iter().filter(|r| !r.is_empty()).count();
            let waiting = &mut self.receipts[sender];
            if waiting.is_empty() && holders >= MAX_DEVICES {
                self.dropped += 1;
                return;
            }
            if waiting.len() >= MAX_RECEIPTS {
                waiting.pop_front();
                self.dropped += 1;
            }
            waiting.push_back((id, recipient));
        }
    }

    fn body(len: usize, tag: u64) -> Vec<u8> {
        (0..len)
            .map(|i| tag.to_le_bytes()[0].wrapping_add(i.to_le_bytes()[0]))
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn mailbox_matches_the_model(ops in prop::collection::vec(op(), 1..60)) {
            let mut limits = MailboxLimits::default();
            limits.max_queue_messages = MAX_MESSAGES;
            limits.max_queue_bytes = MAX_BYTES;
            limits.max_pending_receipts = MAX_RECEIPTS;
            limits.max_devices = MAX_DEVICES;
            let mailbox = Mailbox::with_limits(limits);
            let device = |i: usize| addr("d", u32::try_from(i).unwrap() + 1);
            let mut model = Model {
                queues: vec![VecDeque::new(); DEVICES],
                receipts: vec![VecDeque::new(); DEVICES],
                next_id: 1,
                dropped: 0,
            };
            for (step, op) in ops.into_iter().enumerate() {
                let tag = step as u64;
                match op {
                    Op::Deliver { to, from, len } => {
                        let got = mailbox.deliver(&device(to), &device(from), 2, body(len, tag), tag);
                        let want = if !model.room(to, 1, len) {
                            Err(Error::QueueFull { address: device(to) })
                        } else if model.queues[to].is_empty() && model.live_queues() >= MAX_DEVICES {
                            Err(Error::ServerFull { max: MAX_DEVICES })
                        } else {
                            Ok(MessageId::new(model.push(to, from, body(len, tag))))
                        };
                        prop_assert_eq!(got, want);
                    }
                    Op::DeliverMany { from, to } => {
                        let batch = to.iter().map(|&(t, len)| (device(t), 3, body(len, tag))).collect();
                        let got = mailbox.deliver_many(&device(from), batch, tag);
                        // First recipient (in order) lacking room, counting all of its messages.
                        let full = to.iter().find(|&&(t, _)| {
                            let mine = to.iter().filter(|(u, _)| *u == t);
                            let count = mine.clone().count();
                            let bytes = mine.map(|(_, l)| l).sum();
                            !model.room(t, count, bytes)
                        });
                        let mut new: Vec<usize> = to.iter().map(|(t, _)| *t).filter(|&t| model.queues[t].is_empty()).collect();
                        new.sort_unstable();
                        new.dedup();
                        let want = if let Some(&(t, _)) = full {
                            Err(Error::QueueFull { address: device(t) })
                        } else if model.live_queues() + new.len() > MAX_DEVICES {
                            Err(Error::ServerFull { max: MAX_DEVICES })
                        } else {
                            Ok(to.iter().map(|&(t, len)| MessageId::new(model.push(t, from, body(len, tag)))).collect())
                        };
                        prop_assert_eq!(got, want);
                    }
                    Op::Fetch { who, max } => {
                        let got: Vec<(u64, Address, Vec<u8>)> = mailbox
                            .fetch(&device(who), max)
                            .into_iter()
                            .map(|e| (e.id.get(), e.sender, e.body))
                            .collect();
                        let want: Vec<(u64, Address, Vec<u8>)> = model.queues[who]
                            .iter()
                            .take(max)
                            .map(|(id, from, body)| (*id, device(*from), body.clone()))
                            .collect();
                        prop_assert_eq!(got, want);
                    }
                    Op::Ack { who, positions } => {
                        let ids: Vec<MessageId> = positions
                            .iter()
                            .map(|&p| MessageId::new(model.queues[who].get(p).map_or(1_000_000 + p as u64, |m| m.0)))
                            .collect();
                        let got = mailbox.acknowledge(&device(who), &ids);
                        let mut deleted = Vec::new();
                        for id in &ids {
                            if let Some(at) = model.queues[who].iter().position(|m| m.0 == id.get()) {
                                deleted.push(model.queues[who].remove(at).unwrap());
                            }
                        }
                        for (id, from, _) in &deleted {
                            model.receipt(*from, *id, who);
                        }
                        prop_assert_eq!(got, deleted.len());
                    }
                    Op::TakeReceipts { who, max } => {
                        let got: Vec<(u64, Address)> = mailbox
                            .take_receipts(&device(who), max)
                            .into_iter()
                            .map(|r| (r.message_id.get(), r.recipient))
                            .collect();
                        let take = max.min(model.receipts[who].len());
                        let want: Vec<(u64, Address)> = model.receipts[who]
                            .drain(..take)
                            .map(|(id, to)| (id, device(to)))
                            .collect();
                        prop_assert_eq!(got, want);
                    }
                }
                prop_assert_eq!(mailbox.receipts_dropped(), model.dropped);
                prop_assert_eq!(mailbox.queue_count(), model.live_queues());
                for who in 0..DEVICES {
                    let stats = mailbox.queue_stats(&device(who));
                    prop_assert_eq!(stats.messages, model.queues[who].len());
                    prop_assert_eq!(stats.bytes, model.queues[who].iter().map(|m| m.2.len()).sum::<usize>());
                }
            }
        }
    }
}
