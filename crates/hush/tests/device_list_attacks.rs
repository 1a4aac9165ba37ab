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

use hush::store::{DeviceListStore, MemoryStore, Store};
use hush::{Address, Device, Error};
use hush_core::IdentityKeyPair;
use hush_device::DeviceEntry;
use hush_test_support::test_rng;

const NOW: u64 = 1_700_000_000_000;

fn addr(user: &str, id: u32) -> Address {
    Address::new(user, id).unwrap()
}

/// Item 15: after a rollback error, calling `accept_changed_device_list` (meant for an
/// account-key change) must not accept the older list.
#[test]
fn accept_changed_device_list_refuses_a_list_of_the_same_account_key() {
    let mut rng = test_rng(1501);
    let alice = Device::create_account(MemoryStore::new(), "alice", NOW, &mut rng).unwrap();
    let bob = Device::create_account(MemoryStore::new(), "bob", NOW, &mut rng).unwrap();
    let laptop = IdentityKeyPair::generate(&mut rng);
    let v1 = bob.own_device_list().unwrap();
    let v2 = bob
        .add_companion(
            DeviceEntry {
                device_id: 2,
                identity_key: laptop.identity_key(),
                key_index: 1,
                added_at_ms: NOW,
            },
            NOW,
            &mut rng,
        )
        .unwrap();
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
        alice.prepare_send("bob", NOW).unwrap().need_bundles,
        [addr("bob", 1), addr("bob", 2)]
    );
}
