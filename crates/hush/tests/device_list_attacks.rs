//! Device lists and linking under attack, through the facade (issue 16, items 5, 6, 7,
//! 9 and 15): a malicious server relabelling messages and lists, a server lying to a
//! companion about its user id, a thief who can write the store's file, an app that
//! calls the wrong acceptance method, and an account whose companions must keep
//! receiving while it is in use.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use hush::server::PreKeyDirectory;
use hush::store::{DeviceListStore, IdentityStore, MemoryStore, Store, Transaction};
use hush::{Address, CompanionLink, Device, DeviceEntry, Envelope, Error, GenerateRequest};
use hush_core::{IdentityKey, IdentityKeyPair, Signature};
use hush_device::SignedDeviceList;
use hush_test_support::test_rng;
use rand_chacha::ChaCha20Rng;

const NOW: u64 = 1_700_000_000_000;

type Dev<S = MemoryStore> = Device<S>;

fn addr(user: &str, id: u32) -> Address {
    Address::new(user, id).unwrap()
}

/// Registers `device` with the directory and uploads a few prekeys.
fn publish<S: Store>(directory: &PreKeyDirectory, device: &Dev<S>, rng: &mut ChaCha20Rng) {
    directory
        .register_device(
            device.address(),
            device.registration_id(),
            device.identity_key(),
        )
        .unwrap();
    let mut request = GenerateRequest::default();
    request.one_time_prekeys = 4;
    request.kem_prekeys = 4;
    let upload = device.generate_prekeys(&request, NOW, rng).unwrap();
    directory
        .upload(device.address(), &device.identity_key(), &upload, NOW, rng)
        .unwrap();
}

/// Encrypts `text` from `from` to `user` at `now`, fetching the bundles it needs.
fn send<S: Store>(
    directory: &PreKeyDirectory,
    from: &Dev<S>,
    user: &str,
    text: &[u8],
    now: u64,
    rng: &mut ChaCha20Rng,
) -> Result<Vec<Envelope>, Error> {
    let plan = from.prepare_send(user, now, rng)?;
    let bundles: Vec<(Address, Vec<u8>)> = plan
        .need_bundles
        .iter()
        .map(|a| (a.clone(), directory.bundle(a).unwrap()))
        .collect();
    let refs: Vec<(Address, &[u8])> = bundles
        .iter()
        .map(|(a, b)| (a.clone(), b.as_slice()))
        .collect();
    from.encrypt(user, text, &refs, now, rng)
}

/// A companion device of `user` (device `device_id`, account of `primary`), set up
/// without linking, and its device-list entry.
fn companion(primary: &Dev, device_id: u32, rng: &mut ChaCha20Rng) -> (Dev, DeviceEntry) {
    let device = Device::create_companion(
        MemoryStore::new(),
        primary.address().name(),
        device_id,
        IdentityKeyPair::generate(rng),
        *primary.account_key(),
        rng,
    )
    .unwrap();
    let entry = device.membership_entry(NOW, rng).unwrap();
    (device, entry)
}

/// The identity key pair a device keeps in its store (what a thief of the device, or
/// of its unencrypted store, has).
fn identity_of(device: &Dev) -> IdentityKeyPair {
    let mut tx = device.store().transaction().unwrap();
    tx.local_account().unwrap().unwrap().identity
}

/// A signed device list laid out by hand (`docs/wire/device-list.md`): version 2,
/// the account key, list version, signed-at, then each entry with the membership
/// signature given, signed by `account`.
fn write_list(
    account: &IdentityKeyPair,
    version: u64,
    entries: &[DeviceEntry],
    rng: &mut ChaCha20Rng,
) -> Vec<u8> {
    let mut list = vec![2u8];
    list.extend_from_slice(&account.identity_key().encode());
    list.extend_from_slice(&version.to_be_bytes());
    list.extend_from_slice(&NOW.to_be_bytes());
    list.push(u8::try_from(entries.len()).unwrap());
    for e in entries {
        list.extend_from_slice(&e.device_id.to_be_bytes());
        list.extend_from_slice(&e.identity_key.encode());
        list.extend_from_slice(&e.key_index.to_be_bytes());
        list.extend_from_slice(&e.added_at_ms.to_be_bytes());
        list.extend_from_slice(e.membership_signature.as_bytes());
    }
    let signature: Signature = account.sign(&[&[0x06, 0x02][..], &list].concat(), rng);
    [list.as_slice(), signature.as_bytes()].concat()
}

/// Item 5: Mallory lists Alice's device key as `mallory.2`; the server relabels Alice's
/// message to Bob as coming from `mallory.2`. Bob must not read it as Mallory's.
#[test]
fn a_device_key_listed_under_another_account_is_refused() {
    let mut rng = test_rng(501);
    let directory = PreKeyDirectory::new();
    let alice = Device::create_account(MemoryStore::new(), "alice", NOW, &mut rng).unwrap();
    let bob = Device::create_account(MemoryStore::new(), "bob", NOW, &mut rng).unwrap();
    let mallory = Device::create_account(MemoryStore::new(), "mallory", NOW, &mut rng).unwrap();
    publish(&directory, &bob, &mut rng);
    alice
        .accept_device_list("bob", &bob.own_device_list().unwrap(), NOW)
        .unwrap();
    bob.accept_device_list("mallory", &mallory.own_device_list().unwrap(), NOW)
        .unwrap();

    // Alice's (public) entry, with her device's consent to be alice.1.
    let alice_list = SignedDeviceList::decode(&alice.own_device_list().unwrap()).unwrap();
    let alice_entry = alice_list.devices()[0];
    let stolen = DeviceEntry {
        device_id: 2,
        ..alice_entry
    };
    // Mallory's primary refuses to sign it in...
    assert_eq!(
        mallory.add_companion(stolen, NOW, &mut rng),
        Err(Error::Device(hush_device::Error::BadSignature))
    );
    // ...so Mallory (or the server) lays the list out by hand and signs it with
    // Mallory's account key.
    let mallory_list = SignedDeviceList::decode(&mallory.own_device_list().unwrap()).unwrap();
    let forged = write_list(
        &identity_of(&mallory),
        2,
        &[mallory_list.devices()[0], stolen],
        &mut rng,
    );
    assert_eq!(
        bob.accept_device_list("mallory", &forged, NOW),
        Err(Error::Device(hush_device::Error::BadSignature))
    );

    // Alice writes to Bob; the server delivers it as from mallory.2.
    let envelopes = send(
        &directory,
        &alice,
        "bob",
        b"for Bob, from Alice",
        NOW,
        &mut rng,
    )
    .unwrap();
    let to_bob = &envelopes[0];
    assert_eq!(
        bob.decrypt(
            &addr("mallory", 2),
            to_bob.message_type,
            &to_bob.body,
            NOW,
            &mut rng,
        ),
        Err(Error::UntrustedDevice {
            address: addr("mallory", 2)
        })
    );
    // Bob reads it as what it is once he has Alice's list.
    bob.accept_device_list("alice", &alice.own_device_list().unwrap(), NOW)
        .unwrap();
    let read = bob
        .decrypt(
            alice.address(),
            to_bob.message_type,
            &to_bob.body,
            NOW,
            &mut rng,
        )
        .unwrap();
    assert_eq!(read.from, addr("alice", 1));
}

/// Item 15: after a rollback error, calling `accept_changed_device_list` (meant for an
/// account-key change) must not accept the older list.
#[test]
fn accept_changed_device_list_refuses_a_list_of_the_same_account_key() {
    let mut rng = test_rng(1501);
    let alice = Device::create_account(MemoryStore::new(), "alice", NOW, &mut rng).unwrap();
    let bob = Device::create_account(MemoryStore::new(), "bob", NOW, &mut rng).unwrap();
    let (_laptop, entry) = companion(&bob, 2, &mut rng);
    let v1 = bob.own_device_list().unwrap();
    let v2 = bob.add_companion(entry, NOW, &mut rng).unwrap();
    alice.accept_device_list("bob", &v2, NOW).unwrap();
    // The server serves the old list: a rollback.
    assert!(matches!(
        alice.accept_device_list("bob", &v1, NOW),
        Err(Error::Device(hush_device::Error::Rollback { .. }))
    ));
    let stored = {
        let mut tx = alice.store().transaction().unwrap();
        tx.device_list("bob").unwrap()
    };
    // The app wrongly treats it as an account-key change.
    assert_eq!(
        alice.accept_changed_device_list("bob", &v1, NOW),
        Err(Error::AccountKeyUnchanged)
    );
    {
        let mut tx = alice.store().transaction().unwrap();
        assert_eq!(tx.device_list("bob").unwrap(), stored);
    }
    assert_eq!(
        alice
            .prepare_send("bob", NOW, &mut rng)
            .unwrap()
            .need_bundles,
        [addr("bob", 1), addr("bob", 2)]
    );
}

/// Item 6: the server tells the new companion which user it joined. Whatever it says,
/// the laptop is `alice.2`, as the account signed: the user id comes from the signed
/// linking metadata, and the laptop refuses Alice's devices relabelled as Carol's.
#[test]
fn a_companion_takes_its_user_id_from_the_signed_linking() {
    let mut rng = test_rng(601);
    let phone = Device::create_account(MemoryStore::new(), "alice", NOW, &mut rng).unwrap();
    let link = CompanionLink::start(b"relay-1", NOW, &mut rng).unwrap();
    let (pending, message) = phone
        .accept_companion(&link.offer_qr_text(), NOW, &mut rng)
        .unwrap();
    // `finish` takes no user id: there is nothing for the server to lie about.
    let linked = link
        .finish(MemoryStore::new(), &message, NOW, &mut rng)
        .unwrap();
    let laptop = linked.device;
    assert_eq!(laptop.address(), &addr("alice", 2));
    let done = phone
        .finish_companion(pending, &linked.countersignature, NOW, &mut rng)
        .unwrap();
    // Alice's list served as Carol's own list: its devices consented to be Alice's.
    assert!(
        laptop
            .accept_device_list("carol", &done.device_list, NOW)
            .is_err()
    );
    laptop
        .accept_device_list("alice", &done.device_list, NOW)
        .unwrap();
    assert_eq!(
        laptop
            .prepare_send("alice", NOW, &mut rng)
            .unwrap()
            .need_bundles,
        [addr("alice", 1)]
    );
}

/// Appends an entry for `device` (its own consent included) to a stored signed list,
/// leaving the account signature as it was: what someone who can write the store but
/// holds no account key can do.
fn append_entry(signed: &[u8], entry: &DeviceEntry) -> Vec<u8> {
    let (list, signature) = signed.split_at(signed.len() - 64);
    let mut list = list.to_vec();
    list[50] += 1;
    list.extend_from_slice(&entry.device_id.to_be_bytes());
    list.extend_from_slice(&entry.identity_key.encode());
    list.extend_from_slice(&entry.key_index.to_be_bytes());
    list.extend_from_slice(&entry.added_at_ms.to_be_bytes());
    list.extend_from_slice(entry.membership_signature.as_bytes());
    [list.as_slice(), signature].concat()
}

/// A thief's device that consents to be `user.9` of the account of `account_key`.
fn thiefs_device(
    user: &str,
    account_key: IdentityKey,
    rng: &mut ChaCha20Rng,
) -> (Dev, DeviceEntry) {
    let device = Device::create_companion(
        MemoryStore::new(),
        user,
        9,
        IdentityKeyPair::generate(rng),
        account_key,
        rng,
    )
    .unwrap();
    let entry = device.membership_entry(NOW, rng).unwrap();
    (device, entry)
}

/// Item 7: a thief who can write the (encrypted) SQLite file adds `alice.9` to Alice's
/// own list and `bob.9` to Bob's, through a raw SQLite connection; nothing Alice sends may
/// go to either. Stored lists are checked again when read: a tampered one is a store
/// error, not a list to send to.
#[cfg(feature = "sqlite")]
#[test]
fn devices_written_into_the_stored_lists_get_nothing() {
    use hush::store::{AtRestKey, SqliteStore};

    let mut rng = test_rng(701);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alice.db");
    let directory = PreKeyDirectory::new();
    let at_rest = || AtRestKey::new([7; 32]);
    let alice = Device::create_account(
        SqliteStore::open(&path, Some(at_rest())).unwrap(),
        "alice",
        NOW,
        &mut rng,
    )
    .unwrap();
    publish(&directory, &alice, &mut rng);
    let bob = Device::create_account(MemoryStore::new(), "bob", NOW, &mut rng).unwrap();
    publish(&directory, &bob, &mut rng);
    alice
        .accept_device_list("bob", &bob.own_device_list().unwrap(), NOW)
        .unwrap();
    send(&directory, &alice, "bob", b"before", NOW, &mut rng).unwrap();
    let alice_key = *alice.account_key();
    drop(alice);

    let (alice_nine, alice_nine_entry) = thiefs_device("alice", alice_key, &mut rng);
    let (bob_nine, bob_nine_entry) = thiefs_device("bob", *bob.account_key(), &mut rng);
    publish(&directory, &alice_nine, &mut rng);
    publish(&directory, &bob_nine, &mut rng);

    // With the file: one entry more in each stored list.
    let raw = rusqlite::Connection::open(&path).unwrap();
    let own: Vec<u8> = raw
        .query_row("SELECT signed FROM own_device_list", [], |r| r.get(0))
        .unwrap();
    raw.execute(
        "UPDATE own_device_list SET signed = ?1",
        [append_entry(&own, &alice_nine_entry)],
    )
    .unwrap();
    let bobs: Vec<u8> = raw
        .query_row(
            "SELECT signed FROM device_lists WHERE user = 'bob'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    raw.execute(
        "UPDATE device_lists SET signed = ?1 WHERE user = 'bob'",
        [append_entry(&bobs, &bob_nine_entry)],
    )
    .unwrap();
    drop(raw);

    let alice = Device::open(SqliteStore::open(&path, Some(at_rest())).unwrap()).unwrap();
    let sent = send(&directory, &alice, "bob", b"after", NOW, &mut rng);
    if let Ok(envelopes) = &sent {
        let to: Vec<&Address> = envelopes.iter().map(|e| &e.to).collect();
        panic!("sent to the devices the thief wrote into the store: {to:?}");
    }
    assert_eq!(
        sent.unwrap_err(),
        Error::Store("stored device list does not verify")
    );
    // Bob's list alone tampered, Alice's own restored: still refused.
    let mut tx = alice.store().transaction().unwrap();
    tx.set_own_device_list(&own).unwrap();
    tx.commit().unwrap();
    assert_eq!(
        alice.prepare_send("bob", NOW, &mut rng).unwrap_err(),
        Error::Store("stored device list does not verify")
    );
    // Nor is anything read from bob.9.
    bob_nine.accept_device_list("alice", &own, NOW).unwrap();
    let from_nine = send(&directory, &bob_nine, "alice", b"hi", NOW, &mut rng).unwrap();
    let to_alice = from_nine.iter().find(|e| e.to == addr("alice", 1)).unwrap();
    assert_eq!(
        alice.decrypt(
            &addr("bob", 9),
            to_alice.message_type,
            &to_alice.body,
            NOW,
            &mut rng
        ),
        Err(Error::Store("stored device list does not verify"))
    );
}

/// Item 7, through the store traits: any `Store` (here `MemoryStore`) may hand back a
/// list someone else wrote; the facade checks it again, whichever store it is.
#[test]
fn a_tampered_list_from_any_store_is_refused() {
    let mut rng = test_rng(702);
    let alice = Device::create_account(MemoryStore::new(), "alice", NOW, &mut rng).unwrap();
    let bob = Device::create_account(MemoryStore::new(), "bob", NOW, &mut rng).unwrap();
    alice
        .accept_device_list("bob", &bob.own_device_list().unwrap(), NOW)
        .unwrap();
    let (_, nine) = thiefs_device("alice", *alice.account_key(), &mut rng);
    let own = alice.own_device_list().unwrap();
    {
        let mut tx = alice.store().transaction().unwrap();
        tx.set_own_device_list(&append_entry(&own, &nine)).unwrap();
        tx.commit().unwrap();
    }
    assert_eq!(
        alice.prepare_send("bob", NOW, &mut rng).unwrap_err(),
        Error::Store("stored device list does not verify")
    );
    // Another account's valid list stored as Alice's own: refused too.
    {
        let mut tx = alice.store().transaction().unwrap();
        tx.set_own_device_list(&bob.own_device_list().unwrap())
            .unwrap();
        tx.commit().unwrap();
    }
    assert_eq!(
        alice.prepare_send("bob", NOW, &mut rng).unwrap_err(),
        Error::Store("stored device list does not verify")
    );
}

/// Item 5, second half: one identity key under two users. Even with a membership
/// signature (the key's owner consented, or the key is stolen), a list naming a key this
/// device has recorded for another user is refused, and so is a first message from an
/// address whose key is recorded for another user.
#[test]
fn a_key_known_under_another_user_is_refused() {
    let mut rng = test_rng(502);
    let directory = PreKeyDirectory::new();
    let alice = Device::create_account(MemoryStore::new(), "alice", NOW, &mut rng).unwrap();
    let bob = Device::create_account(MemoryStore::new(), "bob", NOW, &mut rng).unwrap();
    let mallory = Device::create_account(MemoryStore::new(), "mallory", NOW, &mut rng).unwrap();
    publish(&directory, &bob, &mut rng);
    alice
        .accept_device_list("bob", &bob.own_device_list().unwrap(), NOW)
        .unwrap();
    bob.accept_device_list("alice", &alice.own_device_list().unwrap(), NOW)
        .unwrap();
    // Bob hears from Alice: he records alice.1's key.
    let hello = send(&directory, &alice, "bob", b"hello", NOW, &mut rng).unwrap();
    bob.decrypt(
        alice.address(),
        hello[0].message_type,
        &hello[0].body,
        NOW,
        &mut rng,
    )
    .unwrap();

    // Alice's device key (stolen, or misused by its owner) consents to be mallory.2.
    let alice_key = identity_of(&alice);
    let consent =
        hush_device::sign_membership(&alice_key, mallory.account_key(), b"mallory", 2, &mut rng)
            .unwrap();
    let entry = DeviceEntry {
        device_id: 2,
        identity_key: alice.identity_key(),
        key_index: 1,
        added_at_ms: NOW,
        membership_signature: consent,
    };
    let list = mallory.add_companion(entry, NOW, &mut rng).unwrap();
    assert_eq!(
        bob.accept_device_list("mallory", &list, NOW),
        Err(Error::DeviceKeyOfAnotherUser {
            address: addr("alice", 1)
        })
    );
    // Nor can the key be accepted for mallory.2 by hand.
    assert_eq!(
        bob.accept_identity(&addr("mallory", 2), &alice.identity_key()),
        Err(Error::DeviceKeyOfAnotherUser {
            address: addr("alice", 1)
        })
    );

    // Carol accepted Mallory's list before she heard from Alice: the key is recorded
    // when Alice's first message arrives, and the relabelled second one is refused.
    let carol = Device::create_account(MemoryStore::new(), "carol", NOW, &mut rng).unwrap();
    publish(&directory, &carol, &mut rng);
    carol.accept_device_list("mallory", &list, NOW).unwrap();
    carol
        .accept_device_list("alice", &alice.own_device_list().unwrap(), NOW)
        .unwrap();
    alice
        .accept_device_list("carol", &carol.own_device_list().unwrap(), NOW)
        .unwrap();
    let first = send(&directory, &alice, "carol", b"one", NOW, &mut rng).unwrap();
    carol
        .decrypt(
            alice.address(),
            first[0].message_type,
            &first[0].body,
            NOW,
            &mut rng,
        )
        .unwrap();
    let second = send(&directory, &alice, "carol", b"two", NOW, &mut rng).unwrap();
    assert_eq!(
        carol.decrypt(
            &addr("mallory", 2),
            second[0].message_type,
            &second[0].body,
            NOW,
            &mut rng
        ),
        Err(Error::DeviceKeyOfAnotherUser {
            address: addr("alice", 1)
        })
    );
    // And a contact's list naming Carol's own key is refused.
    let eve = Device::create_account(MemoryStore::new(), "eve", NOW, &mut rng).unwrap();
    let own_key =
        hush_device::sign_membership(&identity_of(&carol), eve.account_key(), b"eve", 3, &mut rng)
            .unwrap();
    let with_carol = eve
        .add_companion(
            DeviceEntry {
                device_id: 3,
                identity_key: carol.identity_key(),
                key_index: 1,
                added_at_ms: NOW,
                membership_signature: own_key,
            },
            NOW,
            &mut rng,
        )
        .unwrap();
    assert_eq!(
        carol.accept_device_list("eve", &with_carol, NOW),
        Err(Error::DeviceKeyOfAnotherUser {
            address: addr("carol", 1)
        })
    );
}

/// Decrypts, at every device of `readers` that `envelopes` address, its envelope from
/// `from`; returns the plaintexts read.
fn deliver(
    envelopes: &[Envelope],
    from: &Dev,
    readers: &[&Dev],
    now: u64,
    rng: &mut ChaCha20Rng,
) -> Vec<Vec<u8>> {
    let mut read = Vec::new();
    for reader in readers {
        if let Some(e) = envelopes.iter().find(|e| e.to == *reader.address()) {
            let got = reader
                .decrypt(from.address(), e.message_type, &e.body, now, rng)
                .unwrap();
            match got.kind {
                hush::ReceivedKind::Direct { plaintext }
                | hush::ReceivedKind::SentTranscript { plaintext, .. } => {
                    read.push(plaintext.to_vec());
                }
                other => panic!("not a text: {other:?}"),
            }
        }
    }
    read
}

/// Item 9: Alice uses her phone and her laptop every day for 30 days; the laptop must keep
/// receiving Bob's messages the whole time, though nobody links or removes a device. The
/// phone's send plans hand over its refreshed list, which the app uploads. (A primary
/// idle for longer than the companion expiry still stops its companions receiving: that
/// is what the expiry is for.)
#[test]
fn companions_of_an_account_in_daily_use_keep_receiving() {
    const DAY: u64 = 24 * 60 * 60 * 1000;
    let mut rng = test_rng(901);
    let directory = PreKeyDirectory::new();
    let lists = hush::server::DeviceLists::new();
    let phone = Device::create_account(MemoryStore::new(), "alice", NOW, &mut rng).unwrap();
    let bob = Device::create_account(MemoryStore::new(), "bob", NOW, &mut rng).unwrap();
    for device in [&phone, &bob] {
        let user = device.address().name();
        lists.register_account(user, *device.account_key()).unwrap();
        lists
            .upload(user, &device.own_device_list().unwrap())
            .unwrap();
        publish(&directory, device, &mut rng);
    }
    let link = CompanionLink::start(b"relay-9", NOW, &mut rng).unwrap();
    let (pending, message) = phone
        .accept_companion(&link.offer_qr_text(), NOW, &mut rng)
        .unwrap();
    let linked = link
        .finish(MemoryStore::new(), &message, NOW, &mut rng)
        .unwrap();
    let laptop = linked.device;
    let done = phone
        .finish_companion(pending, &linked.countersignature, NOW, &mut rng)
        .unwrap();
    lists.upload("alice", &done.device_list).unwrap();
    publish(&directory, &laptop, &mut rng);
    for device in [&phone, &laptop] {
        device
            .accept_device_list("alice", &lists.fetch("alice").unwrap(), NOW)
            .unwrap();
        device
            .accept_device_list("bob", &lists.fetch("bob").unwrap(), NOW)
            .unwrap();
    }

    bob.accept_device_list("alice", &lists.fetch("alice").unwrap(), NOW)
        .unwrap();

    // A send as an app does it: the plan's bundles, and the refreshed list uploaded.
    let write = |from: &Dev, to: &str, text: &[u8], now: u64, rng: &mut ChaCha20Rng| {
        let plan = from.prepare_send(to, now, rng).unwrap();
        if let Some(list) = &plan.device_list {
            lists.upload(from.address().name(), list).unwrap();
        }
        let bundles: Vec<(Address, Vec<u8>)> = plan
            .need_bundles
            .iter()
            .map(|a| (a.clone(), directory.bundle(a).unwrap()))
            .collect();
        let refs: Vec<(Address, &[u8])> = bundles
            .iter()
            .map(|(a, b)| (a.clone(), b.as_slice()))
            .collect();
        from.encrypt(to, text, &refs, now, rng).unwrap()
    };
    for day in 1..=30 {
        let now = NOW + day * DAY;
        // The phone writes to Bob (its laptop gets a copy).
        let morning = write(&phone, "bob", b"morning", now, &mut rng);
        deliver(&morning, &phone, &[&bob, &laptop], now, &mut rng);
        // Bob answers, with Alice's latest list from the server.
        bob.accept_device_list("alice", &lists.fetch("alice").unwrap(), now)
            .unwrap();
        let hello = write(&bob, "alice", b"hello", now, &mut rng);
        let read = deliver(&hello, &bob, &[&laptop], now, &mut rng);
        assert_eq!(
            read,
            [b"hello".to_vec()],
            "day {day}: the laptop read nothing"
        );
        deliver(&hello, &bob, &[&phone], now, &mut rng);
        // The laptop answers too (the phone gets a copy).
        let evening = write(&laptop, "bob", b"evening", now, &mut rng);
        deliver(&evening, &laptop, &[&bob, &phone], now, &mut rng);
    }

    // The phone stays idle for 15 days: Bob no longer writes to the laptop, as designed.
    let idle = NOW + 45 * DAY + 1;
    bob.accept_device_list("alice", &lists.fetch("alice").unwrap(), idle)
        .unwrap();
    assert_eq!(
        bob.prepare_send("alice", idle, &mut rng)
            .unwrap()
            .need_bundles,
        Vec::<Address>::new()
    );
    let to: Vec<Address> = write(&bob, "alice", b"anyone?", idle, &mut rng)
        .into_iter()
        .map(|e| e.to)
        .collect();
    assert_eq!(to, [addr("alice", 1)]);
    // Back in use, the phone refreshes the list (here without a send) and the laptop is
    // written to again.
    assert!(phone.device_list_refresh_due(idle).unwrap());
    let refreshed = phone.refresh_device_list(idle, &mut rng).unwrap().unwrap();
    lists.upload("alice", &refreshed).unwrap();
    assert!(!phone.device_list_refresh_due(idle + 1).unwrap());
    assert_eq!(phone.refresh_device_list(idle + 1, &mut rng).unwrap(), None);
    assert_eq!(laptop.refresh_device_list(idle, &mut rng).unwrap(), None);
    bob.accept_device_list("alice", &lists.fetch("alice").unwrap(), idle)
        .unwrap();
    let to: Vec<Address> = write(&bob, "alice", b"welcome back", idle, &mut rng)
        .into_iter()
        .map(|e| e.to)
        .collect();
    assert_eq!(to, [addr("alice", 1), addr("alice", 2)]);
}
