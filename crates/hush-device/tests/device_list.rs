//! Signed device lists: the primary's list, the contact's verifier, and the attacks a
//! server can try (rollback, equivocation, re-signing, adding a device, listing one
//! account's device under another). The layout and every signature are checked against
//! `docs/wire/device-list.md` by parsing the bytes here by offsets and verifying with
//! hush-core alone.

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
    CheckedDeviceList, DeviceEntry, DeviceList, DeviceListPolicy, DeviceListV1, Error,
    KnownDeviceLists, SignedDeviceList, sign_membership,
};
use hush_test_support::test_rng;
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;

const NOW: u64 = 1_700_000_000_000;
/// Bytes per entry (`docs/wire/device-list.md`): id 4, key 33, key index 4, added 8,
/// membership signature 64.
const ENTRY: usize = 113;

/// A companion with a fresh key, consenting to be `device_id` of `account` as `user`.
fn companion_of(
    rng: &mut ChaCha20Rng,
    account: &IdentityKey,
    user: &[u8],
    device_id: u32,
) -> DeviceEntry {
    let device = IdentityKeyPair::generate(rng);
    DeviceEntry {
        device_id,
        identity_key: device.identity_key(),
        key_index: 1,
        added_at_ms: NOW + u64::from(device_id),
        membership_signature: sign_membership(&device, account, user, device_id, rng).unwrap(),
    }
}

fn companion(a: &mut Account, device_id: u32) -> DeviceEntry {
    let account = a.key.identity_key();
    companion_of(&mut a.rng, &account, b"alice", device_id)
}

struct Account {
    rng: ChaCha20Rng,
    key: IdentityKeyPair,
    list: DeviceList,
}

fn new_list(key: &IdentityKeyPair, policy: DeviceListPolicy, rng: &mut ChaCha20Rng) -> DeviceList {
    DeviceList::new(key.identity_key(), b"alice", key, 1, NOW, policy, rng).unwrap()
}

fn account(seed: u64, companions: u32) -> Account {
    let mut rng = test_rng(seed);
    let key = IdentityKeyPair::generate(&mut rng);
    let list = new_list(&key, DeviceListPolicy::default(), &mut rng);
    let mut a = Account { rng, key, list };
    for _ in 0..companions {
        let id = a.list.next_device_id();
        let entry = companion(&mut a, id);
        a.list.add_companion(entry).unwrap();
    }
    a
}

/// The membership-signed bytes, written out from the document.
fn membership_bytes(account: &IdentityKey, user: &[u8], device_id: u32) -> Vec<u8> {
    [
        &[0x06, 0x03][..],
        &account.encode(),
        &device_id.to_be_bytes(),
        &[user.len() as u8],
        user,
    ]
    .concat()
}

fn sign(a: &mut Account, at: u64) -> Vec<u8> {
    a.list.sign(&a.key, at, &mut a.rng).unwrap().encode()
}

#[test]
fn add_remove_and_versions() {
    let mut a = account(1, 0);
    assert_eq!(a.list.version(), 1);
    assert_eq!(a.list.next_device_id(), 2);
    let c2 = companion(&mut a, 2);
    a.list.add_companion(c2).unwrap();
    assert_eq!(a.list.version(), 2);
    let c3 = companion(&mut a, 3);
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
    let as_primary = companion(&mut a, 1);
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

    // The primary rebuilds its list from its last signed list, verified.
    let policy = DeviceListPolicy::default();
    let verified = CheckedDeviceList::new(&second.encode(), b"alice", &policy)
        .unwrap()
        .assume_history_checked(policy);
    let mut rebuilt = DeviceList::from_verified(&verified, policy);
    assert_eq!(rebuilt.user_id(), b"alice");
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
    let fifth = companion(&mut a, id);
    assert_eq!(
        a.list.check_room().unwrap_err(),
        Error::TooManyCompanions { max: 4 }
    );
    assert_eq!(
        a.list.add_companion(fifth).unwrap_err(),
        Error::TooManyCompanions { max: 4 }
    );
    // A contact with the default policy refuses a list that a laxer primary signed.
    let lax_policy = DeviceListPolicy {
        max_companions: 8,
        ..DeviceListPolicy::default()
    };
    let mut lax = new_list(&a.key, lax_policy, &mut a.rng);
    for id in 2..=6 {
        let entry = companion(&mut a, id);
        lax.add_companion(entry).unwrap();
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
    assert_eq!(wire.len(), 51 + entries * ENTRY + 64);
    assert_eq!(wire[0], 2);
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
    let account = a.key.identity_key();
    for (i, device) in a.list.devices().iter().enumerate() {
        let e = &wire[51 + i * ENTRY..51 + (i + 1) * ENTRY];
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
        // The membership signature: by the entry's key, over 06 03 || account key ||
        // device id || user id length || user id.
        let membership = Signature::decode(&e[49..113]).unwrap();
        assert_eq!(membership, device.membership_signature);
        let key = IdentityKey::decode(&e[4..37]).unwrap();
        let id = u32::from_be_bytes(e[..4].try_into().unwrap());
        assert!(key.verify(&membership_bytes(&account, b"alice", id), &membership));
        assert!(!key.verify(&membership_bytes(&account, b"alicf", id), &membership));
        assert!(!key.verify(&membership_bytes(&account, b"alice", id + 1), &membership));
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
    let entry = companion(&mut a, id);
    a.list.add_companion(entry).unwrap();
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
    // A different address is independent (a list relabelled for another user fails
    // its membership signatures, so the other address is Alice's list under her own
    // name in a second verifier's memory).
    assert_eq!(
        restored.verify(b"bob", &v2).unwrap_err(),
        Error::BadSignature
    );
    let mut fresh = KnownDeviceLists::new(DeviceListPolicy::default());
    assert_eq!(fresh.verify(b"alice", &v2).unwrap().version(), 2);
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
    let checked = CheckedDeviceList::new(&v2, b"alice", &policy).unwrap();
    let version = checked.version();
    assert_eq!(
        CheckedDeviceList::new(&v1, b"alice", &policy)
            .unwrap()
            .version(),
        version - 1
    );
    assert_eq!(checked.account_identity(), &a.key.identity_key());
    assert_eq!(checked.user_id(), b"alice");
    assert_eq!(
        two_steps.remember(checked).unwrap(),
        one_step.verify(b"alice", &v2).unwrap()
    );
    assert_eq!(two_steps, one_step);
    assert_eq!(
        two_steps
            .remember(CheckedDeviceList::new(&v1, b"alice", &policy).unwrap())
            .unwrap_err(),
        Error::Rollback {
            seen: version,
            received: version - 1
        }
    );
    assert_eq!(
        CheckedDeviceList::new(&v2, b"", &policy).unwrap_err(),
        Error::Malformed("account address")
    );
    assert_eq!(two_steps, one_step, "nothing remembered on error");

    // The signatures are checked in the first step: the account's, and every device's
    // membership for the user id given.
    let mut forged = v2.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    assert_eq!(
        CheckedDeviceList::new(&forged, b"alice", &policy).unwrap_err(),
        Error::BadSignature
    );
    assert_eq!(
        CheckedDeviceList::new(&v2, b"bob", &policy).unwrap_err(),
        Error::BadSignature
    );
    // A list checked under a laxer policy is held to the memory's own.
    let strict = DeviceListPolicy {
        max_companions: 1,
        ..policy
    };
    let mut strict_memory = KnownDeviceLists::new(strict);
    assert_eq!(
        CheckedDeviceList::new(&v2, b"alice", &strict).unwrap_err(),
        Error::TooManyCompanions { max: 1 }
    );
    assert_eq!(
        strict_memory
            .remember(CheckedDeviceList::new(&v2, b"alice", &policy).unwrap())
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
    let one_entry = companion(&mut a, id);
    let fork_entry = companion(&mut a, id);
    a.list.add_companion(one_entry).unwrap();
    fork.add_companion(fork_entry).unwrap();
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

    // The server appends its own device to the list bytes and bumps the version; its
    // device consents to being alice.7.
    let server = IdentityKeyPair::generate(&mut a.rng);
    let account = a.key.identity_key();
    let membership = server.sign(&membership_bytes(&account, b"alice", 7), &mut a.rng);
    let mut list = genuine[..genuine.len() - 64].to_vec();
    list[34..42].copy_from_slice(&9u64.to_be_bytes());
    list[50] += 1;
    list.extend_from_slice(&7u32.to_be_bytes());
    list.extend_from_slice(&server.identity_key().encode());
    list.extend_from_slice(&1u32.to_be_bytes());
    list.extend_from_slice(&NOW.to_be_bytes());
    list.extend_from_slice(membership.as_bytes());
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
    // Re-signed by the server's key under the server's key: the entries' membership
    // signatures name the account key, so the list is refused...
    list[1..34].copy_from_slice(&server.identity_key().encode());
    let sig = server.sign(&[&[0x06, 0x02][..], &list].concat(), &mut a.rng);
    let swapped = [list.as_slice(), sig.as_bytes()].concat();
    assert_eq!(
        contact.verify(b"alice", &swapped).unwrap_err(),
        Error::BadSignature
    );
    // ...unless the server lists only devices that consented to its key: an identity
    // change.
    let mut list = list[..51].to_vec();
    list[50] = 1;
    list.extend_from_slice(&1u32.to_be_bytes());
    list.extend_from_slice(&server.identity_key().encode());
    list.extend_from_slice(&1u32.to_be_bytes());
    list.extend_from_slice(&NOW.to_be_bytes());
    let own = server.sign(
        &membership_bytes(&server.identity_key(), b"alice", 1),
        &mut a.rng,
    );
    list.extend_from_slice(own.as_bytes());
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
    for version in [1, 3] {
        let mut other = wire.clone();
        other[0] = version;
        assert_eq!(
            SignedDeviceList::decode(&other),
            Err(Error::UnknownVersion(version))
        );
    }
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
    let (c2, c3) = (51 + ENTRY, 51 + 2 * ENTRY);
    let mut swapped = wire.clone();
    let (e2, e3) = (wire[c2..c3].to_vec(), wire[c3..c3 + ENTRY].to_vec());
    swapped[c2..c3].copy_from_slice(&e3);
    swapped[c3..c3 + ENTRY].copy_from_slice(&e2);
    assert_eq!(SignedDeviceList::decode(&swapped), m);
    // Two entries with one identity key.
    let mut dup = wire.clone();
    let key = wire[55..88].to_vec();
    dup[c2 + 4..c2 + 37].copy_from_slice(&key);
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
    let mut long = account(18, 0);
    let long_user = [b'a'; 64];
    long.list = DeviceList::new(
        long.key.identity_key(),
        &long_user,
        &long.key,
        1,
        NOW,
        DeviceListPolicy::default(),
        &mut long.rng,
    )
    .unwrap();
    let long_wire = sign(&mut long, NOW);
    contact.verify(&long_user, &long_wire).unwrap();
    contact.verify(b"alice", &wire).unwrap();
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
        contact.verify(b"alice", &wire).unwrap();
        let state = contact.encode();
        let back = KnownDeviceLists::decode(&state, DeviceListPolicy::default()).unwrap();
        prop_assert_eq!(back.encode(), state);
    }
}

#[test]
fn a_list_re_checked_from_the_store_matches_what_verify_gives() {
    let mut a = account(77, 2);
    let wire = sign(&mut a, NOW + 1_000);
    let policy = DeviceListPolicy::default();
    let mut contact = KnownDeviceLists::new(policy);
    let verified = contact.verify(b"alice", &wire).unwrap();
    let decoded = SignedDeviceList::decode(&wire).unwrap();
    assert_eq!(decoded.signed_at_ms(), NOW + 1_000);
    let stored = CheckedDeviceList::new(&wire, b"alice", &policy)
        .unwrap()
        .assume_history_checked(policy);
    assert_eq!(stored, verified);
    assert_eq!(stored.user_id(), b"alice");
    // Companion expiry still applies to a list taken from the store.
    let late = NOW + 1_000 + DEFAULT_COMPANION_EXPIRY_MS + 1;
    assert_eq!(stored.devices_to_send(NOW + 2_000).len(), 3);
    assert_eq!(stored.devices_to_send(late).len(), 1);
    let c2 = stored.devices()[1];
    assert_eq!(
        stored.check_device(2, &c2.identity_key, late),
        Err(Error::CompanionExpired)
    );
}

/// Issue 16, item 5: Mallory lists Alice's device key as `mallory.2`, so that a server
/// relabelling Alice's messages as `mallory.2`'s gets them read as Mallory's. Every
/// entry must carry its device's consent to that account, user id and device id.
#[test]
fn a_device_cannot_be_listed_under_another_account_without_its_consent() {
    let mut alice = account(55, 1);
    let alice_wire = sign(&mut alice, NOW);
    let alice_laptop = alice.list.devices()[1];
    let mut mallory = account(56, 0);
    mallory.list = DeviceList::new(
        mallory.key.identity_key(),
        b"mallory",
        &mallory.key,
        1,
        NOW,
        DeviceListPolicy::default(),
        &mut mallory.rng,
    )
    .unwrap();
    let mallory_key = mallory.key.identity_key();
    let policy = DeviceListPolicy::default();

    // The primary refuses to sign in a device whose consent is for another account.
    let stolen = DeviceEntry {
        device_id: 2,
        ..alice_laptop
    };
    assert_eq!(
        mallory.list.add_companion(stolen).unwrap_err(),
        Error::BadSignature
    );
    // A list laid out by hand and signed by Mallory's account key is refused by
    // contacts: the copied membership signature is over Alice's account and user id.
    let mut list = sign(&mut mallory, NOW);
    list.truncate(list.len() - 64);
    list[50] = 2;
    list.extend_from_slice(&2u32.to_be_bytes());
    list.extend_from_slice(&alice_laptop.identity_key.encode());
    list.extend_from_slice(&1u32.to_be_bytes());
    list.extend_from_slice(&NOW.to_be_bytes());
    list.extend_from_slice(alice_laptop.membership_signature.as_bytes());
    let sig = mallory
        .key
        .sign(&[&[0x06, 0x02][..], &list].concat(), &mut mallory.rng);
    let forged = [list.as_slice(), sig.as_bytes()].concat();
    let mut bob = KnownDeviceLists::new(policy);
    assert_eq!(
        bob.verify(b"mallory", &forged).unwrap_err(),
        Error::BadSignature
    );
    // Alice's own list relabelled as Mallory's: refused too (the server's relabelling
    // of a whole account).
    assert_eq!(
        bob.verify(b"mallory", &alice_wire).unwrap_err(),
        Error::BadSignature
    );
    assert!(bob.is_empty(), "nothing remembered");
    bob.verify(b"alice", &alice_wire).unwrap();

    // What linking gives a device that really joins Mallory's account is accepted.
    let mut rng = test_rng(57);
    let joined = companion_of(&mut rng, &mallory_key, b"mallory", 2);
    mallory.list.add_companion(joined).unwrap();
    let honest = sign(&mut mallory, NOW + 1);
    assert_eq!(bob.verify(b"mallory", &honest).unwrap().devices().len(), 2);
}

/// A format-1 list (what stores written before membership signatures hold), laid out
/// by `docs/wire/device-list.md` ("Format 1"): 49-byte entries, version byte 1.
fn format_1_list(
    account: &IdentityKeyPair,
    version: u64,
    devices: &[(u32, IdentityKey)],
    rng: &mut ChaCha20Rng,
) -> Vec<u8> {
    let mut list = vec![1u8];
    list.extend_from_slice(&account.identity_key().encode());
    list.extend_from_slice(&version.to_be_bytes());
    list.extend_from_slice(&NOW.to_be_bytes());
    list.push(devices.len() as u8);
    for (id, key) in devices {
        list.extend_from_slice(&id.to_be_bytes());
        list.extend_from_slice(&key.encode());
        list.extend_from_slice(&1u32.to_be_bytes());
        list.extend_from_slice(&NOW.to_be_bytes());
    }
    let sig = account.sign(&[&[0x06, 0x02][..], &list].concat(), rng);
    [list.as_slice(), sig.as_bytes()].concat()
}

/// Format-1 lists are never sent to, but what they established carries over: the
/// account key (trust on first use) and the version (no rollback). A primary rebuilds
/// its own list from one, alone, at that version.
#[test]
fn format_1_lists_carry_their_account_key_and_version_over() {
    let mut a = account(60, 0);
    let laptop = IdentityKeyPair::generate(&mut a.rng).identity_key();
    let v1 = format_1_list(
        &a.key,
        5,
        &[(1, a.key.identity_key()), (2, laptop)],
        &mut a.rng,
    );
    assert_eq!(v1.len(), 51 + 2 * 49 + 64);
    assert_eq!(SignedDeviceList::decode(&v1), Err(Error::UnknownVersion(1)));
    let decoded = DeviceListV1::decode(&v1).unwrap();
    assert_eq!(decoded.version(), 5);
    assert_eq!(decoded.devices()[1].identity_key, laptop);
    assert_eq!(
        DeviceListV1::decode(&sign(&mut a, NOW)),
        Err(Error::UnknownVersion(2))
    );

    let policy = DeviceListPolicy::default();
    let mut contact = KnownDeviceLists::new(policy);
    let mut flipped = v1.clone();
    *flipped.last_mut().unwrap() ^= 1;
    assert_eq!(
        contact.verify_v1(b"alice", &flipped).unwrap_err(),
        Error::BadSignature
    );
    assert!(contact.is_empty());
    contact.verify_v1(b"alice", &v1).unwrap();
    assert_eq!(contact.version_seen(b"alice"), Some(5));

    // The primary's own list in format 2: alone, at version 5, signed next as 6.
    let mut rebuilt = DeviceList::from_v1(&decoded, b"alice", &a.key, policy, &mut a.rng).unwrap();
    assert_eq!(rebuilt.version(), 5);
    assert_eq!(rebuilt.devices().len(), 1);
    let other = IdentityKeyPair::generate(&mut a.rng);
    assert_eq!(
        DeviceList::from_v1(&decoded, b"alice", &other, policy, &mut a.rng).unwrap_err(),
        Error::WrongIdentityKey
    );
    let older = {
        let mut at_4 = new_list(&a.key, policy, &mut a.rng);
        for _ in 0..3 {
            at_4.sign(&a.key, NOW, &mut a.rng).unwrap();
        }
        at_4.sign(&a.key, NOW, &mut a.rng).unwrap().encode()
    };
    assert_eq!(
        contact.verify(b"alice", &older).unwrap_err(),
        Error::Rollback {
            seen: 5,
            received: 4
        }
    );
    let v6 = rebuilt.sign(&a.key, NOW + 1, &mut a.rng).unwrap().encode();
    let verified = contact.verify(b"alice", &v6).unwrap();
    assert_eq!(verified.version(), 6);
    assert_eq!(verified.devices().len(), 1);
    // Another account key after a format-1 list is an identity change.
    let mut b = account(61, 0);
    let other_key = sign(&mut b, NOW);
    let mut fresh = KnownDeviceLists::new(policy);
    fresh.verify_v1(b"alice", &v1).unwrap();
    assert_eq!(
        fresh.verify(b"alice", &other_key).unwrap_err(),
        Error::IdentityChanged
    );
}
