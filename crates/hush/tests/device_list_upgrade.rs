//! Stores written before device-list format 2 hold format-1 lists (no membership
//! signatures): what the facade keeps of them, and how an account moves to format 2
//! (`docs/wire/store.md`, "Device lists stored in format 1").

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use hush::store::{DeviceListStore, IdentityStore, MemoryStore, Store, Transaction};
use hush::{Address, Device, Error};
use hush_core::{IdentityKey, IdentityKeyPair};
use hush_device::SignedDeviceList;
use hush_test_support::test_rng;
use rand_chacha::ChaCha20Rng;

const NOW: u64 = 1_700_000_000_000;

fn addr(user: &str, id: u32) -> Address {
    Address::new(user, id).unwrap()
}

/// A format-1 signed list laid out by `docs/wire/device-list.md` ("Format 1"): version
/// byte 1, 49-byte entries, the account signature over `06 02 || list bytes`.
fn format_1(
    account: &IdentityKeyPair,
    version: u64,
    devices: &[(u32, IdentityKey)],
    rng: &mut ChaCha20Rng,
) -> Vec<u8> {
    let mut list = vec![1u8];
    list.extend_from_slice(&account.identity_key().encode());
    list.extend_from_slice(&version.to_be_bytes());
    list.extend_from_slice(&NOW.to_be_bytes());
    list.push(u8::try_from(devices.len()).unwrap());
    for (id, key) in devices {
        list.extend_from_slice(&id.to_be_bytes());
        list.extend_from_slice(&key.encode());
        list.extend_from_slice(&1u32.to_be_bytes());
        list.extend_from_slice(&NOW.to_be_bytes());
    }
    let signature = account.sign(&[&[0x06, 0x02][..], &list].concat(), rng);
    [list.as_slice(), signature.as_bytes()].concat()
}

fn identity_of(device: &Device<MemoryStore>) -> IdentityKeyPair {
    let mut tx = device.store().transaction().unwrap();
    tx.local_account().unwrap().unwrap().identity
}

/// Another user's format-1 list: not sent to, but its account key and version carry over
/// to the user's first format-2 list.
#[test]
fn a_contacts_format_1_list_carries_its_key_and_version_over() {
    let mut rng = test_rng(71);
    let alice = Device::create_account(MemoryStore::new(), "alice", NOW, &mut rng).unwrap();
    let bob = Device::create_account(MemoryStore::new(), "bob", NOW, &mut rng).unwrap();
    let bob_key = identity_of(&bob);
    let laptop = IdentityKeyPair::generate(&mut rng).identity_key();
    let old = format_1(
        &bob_key,
        5,
        &[(1, bob.identity_key()), (2, laptop)],
        &mut rng,
    );
    {
        let mut tx = alice.store().transaction().unwrap();
        tx.set_device_list("bob", &old).unwrap();
        tx.commit().unwrap();
    }
    // Nothing is sent to a format-1 list: the app fetches the current one.
    assert_eq!(
        alice.prepare_send("bob", NOW, &mut rng).unwrap_err(),
        Error::NoDeviceList
    );
    // Bob's upgraded list (his primary re-signed it in format 2, at a higher version).
    for _ in 0..5 {
        bob.add_companion(
            Device::create_companion(
                MemoryStore::new(),
                "bob",
                2,
                IdentityKeyPair::generate(&mut rng),
                *bob.account_key(),
                &mut rng,
            )
            .unwrap()
            .membership_entry(NOW, &mut rng)
            .unwrap(),
            NOW,
            &mut rng,
        )
        .unwrap();
        bob.remove_companion(2, NOW, &mut rng).unwrap();
    }
    let current = bob.own_device_list().unwrap();
    assert!(SignedDeviceList::decode(&current).unwrap().version() > 5);
    // A list of another account key is still an account-key change...
    let mallory = Device::create_account(MemoryStore::new(), "bob", NOW, &mut rng).unwrap();
    assert_eq!(
        alice.accept_device_list("bob", &mallory.own_device_list().unwrap(), NOW),
        Err(Error::Device(hush_device::Error::IdentityChanged))
    );
    // Bob's own list, newer than the stored one and under the same key, is accepted.
    assert_eq!(
        alice.accept_device_list("bob", &current, NOW).unwrap(),
        [addr("bob", 1)]
    );
}

/// A contact's format-1 list of version 5 refuses the user's format-2 list of version 3.
#[test]
fn a_format_2_list_older_than_the_stored_format_1_list_is_a_rollback() {
    let mut rng = test_rng(72);
    let alice = Device::create_account(MemoryStore::new(), "alice", NOW, &mut rng).unwrap();
    let bob = Device::create_account(MemoryStore::new(), "bob", NOW, &mut rng).unwrap();
    let old = format_1(&identity_of(&bob), 5, &[(1, bob.identity_key())], &mut rng);
    {
        let mut tx = alice.store().transaction().unwrap();
        tx.set_device_list("bob", &old).unwrap();
        tx.commit().unwrap();
    }
    assert_eq!(
        alice.accept_device_list("bob", &bob.own_device_list().unwrap(), NOW),
        Err(Error::Device(hush_device::Error::Rollback {
            seen: 5,
            received: 1
        }))
    );
}

/// The primary's own format-1 list becomes the primary alone in format 2, at a higher
/// version, on its first send plan (or refresh, or change); the old companions are not
/// carried over.
#[test]
fn a_primarys_format_1_list_is_rebuilt_without_its_companions() {
    let mut rng = test_rng(73);
    let phone = Device::create_account(MemoryStore::new(), "alice", NOW, &mut rng).unwrap();
    let old_laptop = IdentityKeyPair::generate(&mut rng).identity_key();
    let old = format_1(
        &identity_of(&phone),
        7,
        &[(1, phone.identity_key()), (2, old_laptop)],
        &mut rng,
    );
    {
        let mut tx = phone.store().transaction().unwrap();
        tx.set_own_device_list(&old).unwrap();
        tx.commit().unwrap();
    }
    // The phone's first send plan rebuilds it (a format-1 list is due for a refresh): the
    // primary alone, signed as version 8, newer than what contacts hold. The old laptop is
    // not sent to.
    let bob = Device::create_account(MemoryStore::new(), "bob", NOW, &mut rng).unwrap();
    phone
        .accept_device_list("bob", &bob.own_device_list().unwrap(), NOW)
        .unwrap();
    assert!(phone.device_list_refresh_due(NOW).unwrap());
    let plan = phone.prepare_send("bob", NOW, &mut rng).unwrap();
    assert_eq!(plan.need_bundles, [addr("bob", 1)]);
    let rebuilt = SignedDeviceList::decode(&plan.device_list.unwrap()).unwrap();
    assert_eq!(rebuilt.version(), 8);
    assert_eq!(rebuilt.devices().len(), 1);
    assert_eq!(phone.own_device_list().unwrap(), rebuilt.encode());
    // A new laptop joins at version 9.
    let new_laptop = Device::create_companion(
        MemoryStore::new(),
        "alice",
        2,
        IdentityKeyPair::generate(&mut rng),
        *phone.account_key(),
        &mut rng,
    )
    .unwrap();
    let entry = new_laptop.membership_entry(NOW, &mut rng).unwrap();
    let list = phone.add_companion(entry, NOW, &mut rng).unwrap();
    let list = SignedDeviceList::decode(&list).unwrap();
    assert_eq!(list.version(), 9);
    let keys: Vec<IdentityKey> = list.devices().iter().map(|d| d.identity_key).collect();
    assert_eq!(keys, [phone.identity_key(), new_laptop.identity_key()]);
    assert!(!keys.contains(&old_laptop));
}
