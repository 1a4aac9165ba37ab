//! Signed device lists: the primary's list, the contact's verifier, and the attacks a
//! server can try (rollback, equivocation, re-signing, adding a device). The layout is
//! checked against `docs/wire/device-list.md` by parsing it here by offsets.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    reason = "tests"
)]

use hush_core::{IdentityKey, IdentityKeyPair, Signature};
use hush_device::limits::{DEFAULT_COMPANION_EXPIRY_MS, MAX_DEVICES_PARSED};
use hush_device::{
    CheckedDeviceList, DeviceEntry, DeviceList, DeviceListPolicy, Error, KnownDeviceLists,
    SignedDeviceList,
};
use hush_test_support::test_rng;
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;

const NOW: u64 = 1_700_000_000_000;

fn companion(rng: &mut ChaCha20Rng, device_id: u32) -> DeviceEntry {
    DeviceEntry {
        device_id,
        identity_key: IdentityKeyPair::generate(rng).identity_key(),
        key_index: 1,
        added_at_ms: NOW + u64::from(device_id),
    }
}

struct Account {
    rng: ChaCha20Rng,
    key: IdentityKeyPair,
    list: DeviceList,
}

fn account(seed: u64, companions: u32) -> Account {
    let mut rng = test_rng(seed);
    let key = IdentityKeyPair::generate(&mut rng);
    let mut list = DeviceList::new(
        key.identity_key(),
        key.identity_key(),
        1,
        NOW,
        DeviceListPolicy::default(),
    );
    for _ in 0..companions {
        let id = list.next_device_id();
        list.add_companion(companion(&mut rng, id)).unwrap();
    }
    Account { rng, key, list }
}

fn sign(a: &mut Account, at: u64) -> Vec<u8> {
    a.list.sign(&a.key, at, &mut a.rng).unwrap().encode()
}

#[test]
fn add_remove_and_versions() {
    let mut a = account(1, 0);
    assert_eq!(a.list.version(), 1);
    assert_eq!(a.list.next_device_id(), 2);
    let c2 = companion(&mut a.rng, 2);
    a.list.add_companion(c2).unwrap();
    assert_eq!(a.list.version(), 2);
    let c3 = companion(&mut a.rng, 3);
    a.list.add_companion(c3).unwrap();
    assert_eq!(a.list.version(), 3);
    assert_eq!(a.list.next_device_id(), 4);
    assert_eq!(
        a.list.add_companion(c3).unwrap_err(),
        Error::DuplicateDevice(3)
    );
    let same_key = DeviceEntry { device_id: 9, ..c3 };
    assert_eq!(
        a.list.add_companion(same_key).unwrap_err(),
        Error::DuplicateDevice(9)
    );
    let as_primary = companion(&mut a.rng, 1);
    assert_eq!(
        a.list.add_companion(as_primary).unwrap_err(),
        Error::DuplicateDevice(1)
    );
    assert_eq!(
        a.list.version(),
        3,
        "refused changes do not bump the version"
    );

    assert_eq!(a.list.remove(2).unwrap(), c2);
    assert_eq!(a.list.version(), 4);
    assert_eq!(a.list.remove(2).unwrap_err(), Error::UnknownDevice);
    assert_eq!(a.list.remove(1).unwrap_err(), Error::CannotRemovePrimary);
    let ids: Vec<u32> = a.list.devices().iter().map(|d| d.device_id).collect();
    assert_eq!(ids, [1, 3]);

    // Signing twice at one version bumps the version for the second signature.
    let first = SignedDeviceList::decode(&sign(&mut a, NOW)).unwrap();
    assert_eq!(first.version(), 4);
    let second = SignedDeviceList::decode(&sign(&mut a, NOW + 1)).unwrap();
    assert_eq!(second.version(), 5);

    // The primary rebuilds its list from its last signed list.
    let mut rebuilt = DeviceList::from_signed(&second, DeviceListPolicy::default());
    assert_eq!(rebuilt.devices(), a.list.devices());
    let third = rebuilt.sign(&a.key, NOW + 2, &mut a.rng).unwrap();
    assert_eq!(third.version(), 6);

    let other = IdentityKeyPair::generate(&mut a.rng);
    assert_eq!(
        a.list.sign(&other, NOW, &mut a.rng).unwrap_err(),
        Error::WrongIdentityKey
    );
}

#[test]
fn max_companions_default_is_four() {
    let mut a = account(2, 4);
    let id = a.list.next_device_id();
    let fifth = companion(&mut a.rng, id);
    assert_eq!(
        a.list.check_room().unwrap_err(),
        Error::TooManyCompanions { max: 4 }
    );
    assert_eq!(
        a.list.add_companion(fifth).unwrap_err(),
        Error::TooManyCompanions { max: 4 }
    );
    // A contact with the default policy refuses a list that a laxer primary signed.
    let mut lax = DeviceList::new(
        a.key.identity_key(),
        a.key.identity_key(),
        1,
        NOW,
        DeviceListPolicy {
            max_companions: 8,
            ..DeviceListPolicy::default()
        },
    );
    for id in 2..=6 {
        lax.add_companion(companion(&mut a.rng, id)).unwrap();
    }
    let bytes = lax.sign(&a.key, NOW, &mut a.rng).unwrap().encode();
    let mut contact = KnownDeviceLists::new(DeviceListPolicy::default());
    assert_eq!(
        contact.verify(b"alice", &bytes).unwrap_err(),
        Error::TooManyCompanions { max: 4 }
    );
    assert!(contact.is_empty());
}

#[test]
fn layout_matches_the_doc_and_the_signature_covers_prefix_and_list() {
    let mut a = account(3, 2);
    let wire = sign(&mut a, NOW + 5);
    let entries = 3;
    assert_eq!(wire.len(), 51 + entries * 49 + 64);
    assert_eq!(wire[0], 1);
    assert_eq!(
        IdentityKey::decode(&wire[1..34]).unwrap(),
        a.key.identity_key()
    );
    assert_eq!(u64::from_be_bytes(wire[34..42].try_into().unwrap()), 3);
    assert_eq!(
        u64::from_be_bytes(wire[42..50].try_into().unwrap()),
        NOW + 5
    );
    assert_eq!(wire[50] as usize, entries);
    for (i, device) in a.list.devices().iter().enumerate() {
        let e = &wire[51 + i * 49..51 + (i + 1) * 49];
        assert_eq!(
            u32::from_be_bytes(e[..4].try_into().unwrap()),
            device.device_id
        );
        assert_eq!(IdentityKey::decode(&e[4..37]).unwrap(), device.identity_key);
        assert_eq!(
            u32::from_be_bytes(e[37..41].try_into().unwrap()),
            device.key_index
        );
        assert_eq!(
            u64::from_be_bytes(e[41..49].try_into().unwrap()),
            device.added_at_ms
        );
    }
    let (list, sig) = wire.split_at(wire.len() - 64);
    let sig = Signature::decode(sig).unwrap();
    let key = a.key.identity_key();
    assert!(key.verify(&[&[0x06, 0x02][..], list].concat(), &sig));
    assert!(!key.verify(list, &sig));
    assert!(!key.verify(&[&[0x06, 0x00][..], list].concat(), &sig));
    assert_eq!(SignedDeviceList::decode(&wire).unwrap().encode(), wire);
}

#[test]
fn contact_refuses_rollback_and_accepts_the_same_list_again() {
    let mut a = account(4, 1);
    let v2 = sign(&mut a, NOW);
    let id = a.list.next_device_id();
    a.list.add_companion(companion(&mut a.rng, id)).unwrap();
    let v3 = sign(&mut a, NOW + 1);
    let mut contact = KnownDeviceLists::new(DeviceListPolicy::default());
    assert_eq!(contact.verify(b"alice", &v3).unwrap().version(), 3);
    let before = contact.encode();
    assert_eq!(
        contact.verify(b"alice", &v2).unwrap_err(),
        Error::Rollback {
            seen: 3,
            received: 2
        }
    );
    assert_eq!(contact.encode(), before, "nothing remembered on error");
    // The same bytes again are fine; so is a restored verifier.
    contact.verify(b"alice", &v3).unwrap();
    let mut restored = KnownDeviceLists::decode(&before, DeviceListPolicy::default()).unwrap();
    assert_eq!(restored, contact);
    assert_eq!(
        restored.verify(b"alice", &v2).unwrap_err(),
        Error::Rollback {
            seen: 3,
            received: 2
        }
    );
    // A different address is independent.
    assert_eq!(restored.verify(b"bob", &v2).unwrap().version(), 2);
}

/// `verify` in two steps (`CheckedDeviceList::new` outside a lock, `remember` inside)
/// remembers and refuses exactly what `verify` does, and the second step re-applies its
/// own memory's companion maximum.
#[test]
fn checking_then_remembering_is_verifying() {
    let mut a = account(14, 2);
    let v1 = sign(&mut a, NOW);
    let v2 = sign(&mut a, NOW + 1);
    let policy = DeviceListPolicy::default();
    let mut one_step = KnownDeviceLists::new(policy);
    let mut two_steps = KnownDeviceLists::new(policy);
    let checked = CheckedDeviceList::new(&v2, &policy).unwrap();
    let version = checked.version();
    assert_eq!(
        CheckedDeviceList::new(&v1, &policy).unwrap().version(),
        version - 1
    );
    assert_eq!(checked.account_identity(), &a.key.identity_key());
    assert_eq!(
        two_steps.remember(b"alice", checked).unwrap(),
        one_step.verify(b"alice", &v2).unwrap()
    );
    assert_eq!(two_steps, one_step);
    assert_eq!(
        two_steps
            .remember(b"alice", CheckedDeviceList::new(&v1, &policy).unwrap())
            .unwrap_err(),
        Error::Rollback {
            seen: version,
            received: version - 1
        }
    );
    assert_eq!(
        two_steps
            .remember(b"", CheckedDeviceList::new(&v2, &policy).unwrap())
            .unwrap_err(),
        Error::Malformed("account address")
    );
    assert_eq!(two_steps, one_step, "nothing remembered on error");

    // The signature is checked in the first step.
    let mut forged = v2.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    assert_eq!(
        CheckedDeviceList::new(&forged, &policy).unwrap_err(),
        Error::BadSignature
    );
    // A list checked under a laxer policy is held to the memory's own.
    let strict = DeviceListPolicy {
        max_companions: 1,
        ..policy
    };
    let mut strict_memory = KnownDeviceLists::new(strict);
    assert_eq!(
        CheckedDeviceList::new(&v2, &strict).unwrap_err(),
        Error::TooManyCompanions { max: 1 }
    );
    assert_eq!(
        strict_memory
            .remember(b"alice", CheckedDeviceList::new(&v2, &policy).unwrap())
            .unwrap_err(),
        Error::TooManyCompanions { max: 1 }
    );
    assert!(strict_memory.is_empty());
}

#[test]
fn same_version_different_contents_is_equivocation() {
    let mut a = account(5, 1);
    let mut fork = a.list.clone();
    let id = a.list.next_device_id();
    a.list.add_companion(companion(&mut a.rng, id)).unwrap();
    fork.add_companion(companion(&mut a.rng, id)).unwrap();
    assert_eq!(a.list.version(), fork.version());
    let one = sign(&mut a, NOW);
    let other = fork.sign(&a.key, NOW, &mut a.rng).unwrap().encode();
    let mut contact = KnownDeviceLists::new(DeviceListPolicy::default());
    contact.verify(b"alice", &one).unwrap();
    assert_eq!(
        contact.verify(b"alice", &other).unwrap_err(),
        Error::Equivocation { version: 3 }
    );
    // The same list bytes with a fresh (randomised) signature are not equivocation.
    let (list, _) = one.split_at(one.len() - 64);
    let resigned = a.key.sign(&[&[0x06, 0x02][..], list].concat(), &mut a.rng);
    let again = [list, resigned.as_bytes()].concat();
    assert_ne!(again, one);
    contact.verify(b"alice", &again).unwrap();
}

#[test]
fn server_cannot_add_a_device_or_resign_the_list() {
    let mut a = account(6, 1);
    let genuine = sign(&mut a, NOW);
    let mut contact = KnownDeviceLists::new(DeviceListPolicy::default());
    contact.verify(b"alice", &genuine).unwrap();

    // The server appends its own device to the list bytes and bumps the version.
    let server = IdentityKeyPair::generate(&mut a.rng);
    let mut list = genuine[..genuine.len() - 64].to_vec();
    list[34..42].copy_from_slice(&9u64.to_be_bytes());
    list[50] += 1;
    list.extend_from_slice(&7u32.to_be_bytes());
    list.extend_from_slice(&server.identity_key().encode());
    list.extend_from_slice(&1u32.to_be_bytes());
    list.extend_from_slice(&NOW.to_be_bytes());
    // Keeping the genuine signature: refused.
    let kept = [list.as_slice(), &genuine[genuine.len() - 64..]].concat();
    assert_eq!(
        contact.verify(b"alice", &kept).unwrap_err(),
        Error::BadSignature
    );
    // Re-signed by the server's key while claiming the account key: refused.
    let sig = server.sign(&[&[0x06, 0x02][..], &list].concat(), &mut a.rng);
    let resigned = [list.as_slice(), sig.as_bytes()].concat();
    assert_eq!(
        contact.verify(b"alice", &resigned).unwrap_err(),
        Error::BadSignature
    );
    // Re-signed by the server's key under the server's key: an identity change.
    list[1..34].copy_from_slice(&server.identity_key().encode());
    let sig = server.sign(&[&[0x06, 0x02][..], &list].concat(), &mut a.rng);
    let swapped = [list.as_slice(), sig.as_bytes()].concat();
    assert_eq!(
        contact.verify(b"alice", &swapped).unwrap_err(),
        Error::IdentityChanged
    );
    assert_eq!(contact.version_seen(b"alice"), Some(2));

    // After the user accepts the change, the new identity is trusted on first use.
    contact.forget(b"alice");
    assert_eq!(contact.verify(b"alice", &swapped).unwrap().version(), 9);
}

#[test]
fn unknown_devices_and_companion_expiry() {
    let mut a = account(7, 2);
    let wire = sign(&mut a, NOW);
    let mut contact = KnownDeviceLists::new(DeviceListPolicy::default());
    let verified = contact.verify(b"alice", &wire).unwrap();
    assert_eq!(verified.signed_at_ms(), NOW);
    let devices = a.list.devices().to_vec();
    assert_eq!(verified.devices(), devices.as_slice());

    let fresh = NOW + DEFAULT_COMPANION_EXPIRY_MS;
    assert_eq!(verified.devices_to_send(fresh), devices);
    let stale = fresh + 1;
    assert_eq!(verified.devices_to_send(stale), devices[..1].to_vec());
    let c = devices[1];
    assert_eq!(
        verified
            .check_device(c.device_id, &c.identity_key, fresh)
            .unwrap(),
        &c
    );
    assert_eq!(
        verified
            .check_device(c.device_id, &c.identity_key, stale)
            .unwrap_err(),
        Error::CompanionExpired
    );
    verified
        .check_device(1, &a.key.identity_key(), stale)
        .unwrap();
    // Not on the list, or on it with another key.
    assert_eq!(
        verified.check_device(9, &c.identity_key, NOW).unwrap_err(),
        Error::UnknownDevice
    );
    let stranger = IdentityKeyPair::generate(&mut a.rng).identity_key();
    assert_eq!(
        verified
            .check_device(c.device_id, &stranger, NOW)
            .unwrap_err(),
        Error::UnknownDevice
    );
    // A shorter policy expiry.
    let mut strict = KnownDeviceLists::new(DeviceListPolicy {
        companion_expiry_ms: 1_000,
        ..DeviceListPolicy::default()
    });
    let v = strict.verify(b"alice", &wire).unwrap();
    assert_eq!(v.devices_to_send(NOW + 1_001).len(), 1);
    assert_eq!(v.devices_to_send(NOW + 1_000).len(), 3);
}

#[test]
fn malformed_lists() {
    let mut a = account(8, 2);
    let wire = sign(&mut a, NOW);
    let m = Err(Error::Malformed("device list"));
    assert_eq!(SignedDeviceList::decode(&[]), m);
    let mut v2 = wire.clone();
    v2[0] = 2;
    assert_eq!(SignedDeviceList::decode(&v2), Err(Error::UnknownVersion(2)));
    assert_eq!(SignedDeviceList::decode(&wire[..wire.len() - 1]), m);
    assert_eq!(
        SignedDeviceList::decode(&[wire.as_slice(), &[0]].concat()),
        m
    );
    let mut zero = wire[..51].to_vec();
    zero[50] = 0;
    zero.extend_from_slice(&[0; 64]);
    assert_eq!(SignedDeviceList::decode(&zero), m);
    let mut too_many = wire.clone();
    too_many[50] = (MAX_DEVICES_PARSED + 1) as u8;
    assert_eq!(SignedDeviceList::decode(&too_many), m);
    // First entry not the primary.
    let mut not_primary = wire.clone();
    not_primary[51..55].copy_from_slice(&5u32.to_be_bytes());
    assert_eq!(SignedDeviceList::decode(&not_primary), m);
    // Device ids out of order (swap the two companions).
    let mut swapped = wire.clone();
    let (e2, e3) = (wire[100..149].to_vec(), wire[149..198].to_vec());
    swapped[100..149].copy_from_slice(&e3);
    swapped[149..198].copy_from_slice(&e2);
    assert_eq!(SignedDeviceList::decode(&swapped), m);
    // Two entries with one identity key.
    let mut dup = wire.clone();
    let key = wire[55..88].to_vec();
    dup[104..137].copy_from_slice(&key);
    assert_eq!(SignedDeviceList::decode(&dup), m);
    // A bad key type byte.
    let mut bad_key = wire.clone();
    bad_key[1] = 0x07;
    assert_eq!(SignedDeviceList::decode(&bad_key), m);
    // Address bounds.
    let mut contact = KnownDeviceLists::new(DeviceListPolicy::default());
    assert_eq!(
        contact.verify(b"", &wire).unwrap_err(),
        Error::Malformed("account address")
    );
    assert_eq!(
        contact.verify(&[b'a'; 65], &wire).unwrap_err(),
        Error::Malformed("account address")
    );
    contact.verify(&[b'a'; 64], &wire).unwrap();
    // Verifier state decoding.
    let state = contact.encode();
    let p = DeviceListPolicy::default();
    let k = Err(Error::Malformed("known device lists"));
    assert_eq!(KnownDeviceLists::decode(&state[..state.len() - 1], p), k);
    assert_eq!(
        KnownDeviceLists::decode(&[state.as_slice(), &[0]].concat(), p),
        k
    );
    assert_eq!(KnownDeviceLists::decode(&[1, 0xff, 0xff, 0xff, 0xff], p), k);
    assert_eq!(
        KnownDeviceLists::decode(&[9], p),
        Err(Error::UnknownVersion(9))
    );
}

proptest! {
    #[test]
    fn signed_lists_round_trip(companions in 0u32..=4, seed in any::<u64>(), at in any::<u64>()) {
        let mut a = account(seed, companions);
        let wire = sign(&mut a, at);
        let decoded = SignedDeviceList::decode(&wire).unwrap();
        prop_assert_eq!(decoded.encode(), wire.clone());
        prop_assert_eq!(decoded.devices(), a.list.devices());
        let mut contact = KnownDeviceLists::new(DeviceListPolicy::default());
        contact.verify(b"x", &wire).unwrap();
        let state = contact.encode();
        let back = KnownDeviceLists::decode(&state, DeviceListPolicy::default()).unwrap();
        prop_assert_eq!(back.encode(), state);
    }
}

#[test]
fn assume_verified_matches_what_verify_gives() {
    let mut a = account(77, 2);
    let wire = sign(&mut a, NOW + 1_000);
    let policy = DeviceListPolicy::default();
    let mut contact = KnownDeviceLists::new(policy);
    let verified = contact.verify(b"alice", &wire).unwrap();
    let decoded = SignedDeviceList::decode(&wire).unwrap();
    assert_eq!(decoded.signed_at_ms(), NOW + 1_000);
    let assumed = decoded.assume_verified(policy);
    assert_eq!(assumed, verified);
    // Companion expiry still applies to a list taken from the store.
    let late = NOW + 1_000 + DEFAULT_COMPANION_EXPIRY_MS + 1;
    assert_eq!(assumed.devices_to_send(NOW + 2_000).len(), 3);
    assert_eq!(assumed.devices_to_send(late).len(), 1);
    let c2 = assumed.devices()[1];
    assert_eq!(
        assumed.check_device(2, &c2.identity_key, late),
        Err(Error::CompanionExpired)
    );
}
