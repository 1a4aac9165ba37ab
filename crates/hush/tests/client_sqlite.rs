//! The client over `SqliteStore` on a file: a device closed and reopened keeps its
//! account, prekeys and sessions, and a refused message changes nothing on disk.

#![cfg(feature = "sqlite")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use hush::store::{MemoryStore, PreKeyStore, SessionStore, SqliteStore, Store};
use hush::{Device, Error, GenerateRequest, ReceivedKind};
use hush_prekey::{DeviceKeys, UploadPolicy, validate_upload};
use hush_test_support::test_rng;

const NOW: u64 = 1_700_000_000_000;

fn plaintext(kind: &ReceivedKind) -> &[u8] {
    match kind {
        ReceivedKind::Direct { plaintext } => plaintext,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_reopened_device_keeps_its_state() {
    let mut rng = test_rng(31);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bob.db");

    let alice = Device::create_account(MemoryStore::new(), "alice", NOW, &mut rng).unwrap();
    let (bob_key, bundle, bob_list) = {
        let bob = Device::create_account(
            SqliteStore::open(&path, None).unwrap(),
            "bob",
            NOW,
            &mut rng,
        )
        .unwrap();
        let mut request = GenerateRequest::default();
        request.one_time_prekeys = 2;
        request.kem_prekeys = 2;
        let upload = bob.generate_prekeys(&request, NOW, &mut rng).unwrap();
        let validated = validate_upload(
            &bob.identity_key(),
            &upload,
            &UploadPolicy::default(),
            NOW,
            &mut rng,
        )
        .unwrap();
        let mut keys = DeviceKeys::new(bob.registration_id(), 1, bob.identity_key()).unwrap();
        keys.apply_upload(&validated).unwrap();
        let bundle = keys.take_bundle().unwrap().bundle().encode();
        bob.accept_device_list("alice", &alice.own_device_list().unwrap(), NOW)
            .unwrap();
        (bob.identity_key(), bundle, bob.own_device_list().unwrap())
    };
    alice.accept_device_list("bob", &bob_list, NOW).unwrap();
    let bob_address = hush::Address::new("bob", 1).unwrap();
    let first = alice
        .encrypt(
            "bob",
            b"one",
            &[(bob_address.clone(), &bundle)],
            NOW,
            &mut rng,
        )
        .unwrap();
    let second = alice.encrypt("bob", b"two", &[], NOW, &mut rng).unwrap();

    // Reopen: same identity, prekeys on disk.
    let bob = Device::open(SqliteStore::open(&path, None).unwrap()).unwrap();
    assert_eq!(bob.identity_key(), bob_key);
    assert_eq!(bob.address(), &bob_address);
    let count = |bob: &Device<SqliteStore>| {
        bob.store()
            .transaction()
            .unwrap()
            .one_time_prekey_count()
            .unwrap()
    };
    assert_eq!(count(&bob), 2);

    // A tampered first message: refused, nothing written.
    let mut tampered = first[0].body.clone();
    let at = tampered.len() - 2;
    tampered[at] ^= 1;
    assert!(
        bob.decrypt(alice.address(), 3, &tampered, NOW, &mut rng)
            .is_err()
    );
    assert_eq!(count(&bob), 2);
    assert!(
        bob.store()
            .transaction()
            .unwrap()
            .session(alice.address())
            .unwrap()
            .is_none()
    );

    let got = bob
        .decrypt(
            alice.address(),
            first[0].message_type,
            &first[0].body,
            NOW,
            &mut rng,
        )
        .unwrap();
    assert_eq!(plaintext(&got.kind), b"one");
    assert_eq!(count(&bob), 1);
    drop(bob);

    // Reopen again: the session survived; the second message decrypts, a replay does not.
    let bob = Device::open(SqliteStore::open(&path, None).unwrap()).unwrap();
    let got = bob
        .decrypt(
            alice.address(),
            second[0].message_type,
            &second[0].body,
            NOW,
            &mut rng,
        )
        .unwrap();
    assert_eq!(plaintext(&got.kind), b"two");
    assert!(matches!(
        bob.decrypt(
            alice.address(),
            second[0].message_type,
            &second[0].body,
            NOW,
            &mut rng
        ),
        Err(Error::Session(hush_ratchet::Error::DuplicateMessage { .. }))
    ));
    // And creating a second account on the same file is refused.
    assert!(matches!(
        Device::create_account(
            SqliteStore::open(&path, None).unwrap(),
            "bob",
            NOW,
            &mut rng
        ),
        Err(Error::AccountExists)
    ));
}
