//! The sender's membership bookkeeping: never re-send needlessly, never forget a new
//! device, rotate when a device that may know the chain leaves (removed, or its address
//! taken by another identity key, or after lying about a lost key); and its storage
//! format.

// Helpers outside `#[test]` functions build fixed inputs: a failure there is a test failure.
// Hand-built wire bytes truncate small lengths and ids to bytes on purpose.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

use std::collections::{BTreeMap, BTreeSet};

use hush_core::{IdentityKey, IdentityKeyPair};
use hush_group::limits::{MAX_DEVICE_NAME_LEN, MAX_TRACKED_DEVICES};
use hush_group::{
    DeviceAddress, DistributionId, Error, SenderKeyDistributionMessage, SenderKeyRecord,
    SenderKeyTracker,
};
use hush_test_support::test_rng;
use proptest::prelude::*;

fn id() -> DistributionId {
    DistributionId::from_bytes([3; 16])
}

fn device(name: &str, device_id: u32) -> DeviceAddress {
    DeviceAddress::new(name, device_id).unwrap()
}

/// The identity key generation `generation` of the device at `name.device_id` has.
fn key_of(name: &str, device_id: u32, generation: u32) -> IdentityKey {
    let seed = name.bytes().fold(
        u64::from(device_id) << 32 | u64::from(generation),
        |s, b| s.wrapping_mul(31).wrapping_add(u64::from(b)),
    );
    IdentityKeyPair::generate(&mut test_rng(seed)).identity_key()
}

/// A device and its (first) identity key.
fn member_of(name: &str, device_id: u32) -> (DeviceAddress, IdentityKey) {
    (device(name, device_id), key_of(name, device_id, 0))
}

/// Adds `name.device_id` with its first identity key.
fn add(tracker: &mut SenderKeyTracker, name: &str, device_id: u32) -> bool {
    let (device, key) = member_of(name, device_id);
    tracker.add_device(device, key).unwrap()
}

/// Sends the plan's distribution message to every device it lists, returning them.
fn deliver_all(
    tracker: &mut SenderKeyTracker,
    record: &mut SenderKeyRecord,
    seed: u64,
) -> (SenderKeyDistributionMessage, Vec<DeviceAddress>) {
    let plan = tracker.prepare_send(record, &mut test_rng(seed)).unwrap();
    let chain_id = plan.distribution_message().chain_id();
    for device in plan.devices_needing_distribution() {
        assert!(tracker.mark_delivered(device, chain_id));
    }
    (
        plan.distribution_message().clone(),
        plan.devices_needing_distribution().to_vec(),
    )
}

#[test]
fn device_addresses_are_checked() {
    assert_eq!(
        DeviceAddress::new("", 1).unwrap_err(),
        Error::Malformed("device name")
    );
    let long = "x".repeat(MAX_DEVICE_NAME_LEN + 1);
    assert_eq!(
        DeviceAddress::new(long, 1).unwrap_err(),
        Error::Malformed("device name")
    );
    let ok = DeviceAddress::new("x".repeat(MAX_DEVICE_NAME_LEN), 7).unwrap();
    assert_eq!(ok.device_id(), 7);
    assert_eq!(device("bob", 2).to_string(), "bob.2");
    assert_eq!(format!("{:?}", device("bob", 2)), "DeviceAddress(bob.2)");
}

#[test]
fn never_resends_needlessly_and_never_forgets_a_new_device() {
    let mut record = SenderKeyRecord::new(id());
    let mut tracker = SenderKeyTracker::new(id());
    add(&mut tracker, "bob", 1);
    add(&mut tracker, "carol", 1);

    let (first, sent) = deliver_all(&mut tracker, &mut record, 1);
    assert_eq!(sent, [device("bob", 1), device("carol", 1)]);
    // Nothing changed: nobody needs it again, and no chain was drawn anew.
    let (again, sent) = deliver_all(&mut tracker, &mut record, 2);
    assert!(sent.is_empty());
    assert_eq!(again.chain_id(), first.chain_id());

    // A new device of an existing member, and a new member: exactly they need it.
    assert!(add(&mut tracker, "bob", 2));
    assert!(!add(&mut tracker, "bob", 2));
    add(&mut tracker, "dave", 1);
    assert_eq!(
        tracker.devices_needing_distribution(),
        [device("bob", 2), device("dave", 1)]
    );
    let (later, sent) = deliver_all(&mut tracker, &mut record, 3);
    assert_eq!(sent, [device("bob", 2), device("dave", 1)]);
    assert_eq!(later.chain_id(), first.chain_id());
    assert!(!tracker.rotation_pending());
    assert_eq!(tracker.delivered().count(), 4);
}

#[test]
fn a_device_not_yet_delivered_stays_on_the_list() {
    let mut record = SenderKeyRecord::new(id());
    let mut tracker = SenderKeyTracker::new(id());
    add(&mut tracker, "bob", 1);
    add(&mut tracker, "carol", 1);
    let plan = tracker.prepare_send(&mut record, &mut test_rng(1)).unwrap();
    // Only bob's copy went out (carol's send failed).
    tracker.mark_delivered(&device("bob", 1), plan.distribution_message().chain_id());
    let plan = tracker.prepare_send(&mut record, &mut test_rng(2)).unwrap();
    assert_eq!(plan.devices_needing_distribution(), [device("carol", 1)]);
}

#[test]
fn removing_a_holder_rotates_and_everyone_left_needs_the_new_chain() {
    let mut record = SenderKeyRecord::new(id());
    let mut tracker = SenderKeyTracker::new(id());
    for (name, device_id) in [("bob", 1), ("bob", 2), ("carol", 1)] {
        add(&mut tracker, name, device_id);
    }
    let (first, _) = deliver_all(&mut tracker, &mut record, 1);

    assert!(tracker.remove_device(&device("bob", 2)));
    assert!(tracker.rotation_pending());
    assert_eq!(
        tracker.devices_needing_distribution(),
        [device("bob", 1), device("carol", 1)]
    );
    // A late delivery report for the retired chain counts for nothing.
    assert!(!tracker.mark_delivered(&device("carol", 1), first.chain_id()));

    let (second, sent) = deliver_all(&mut tracker, &mut record, 2);
    assert_ne!(second.chain_id(), first.chain_id());
    assert_ne!(second.signing_key(), first.signing_key());
    assert_eq!(record.sending_chain_id(), Some(second.chain_id()));
    assert_eq!(sent, [device("bob", 1), device("carol", 1)]);
    assert!(!tracker.rotation_pending());
    // And a delivery report for the old chain after the rotation still counts for nothing.
    tracker.resend_requested(&device("carol", 1));
    assert!(!tracker.mark_delivered(&device("carol", 1), first.chain_id()));
    assert_eq!(tracker.devices_needing_distribution(), [device("carol", 1)]);
}

#[test]
fn removing_a_member_removes_all_its_devices_and_rotates() {
    let mut record = SenderKeyRecord::new(id());
    let mut tracker = SenderKeyTracker::new(id());
    for (name, device_id) in [("bob", 1), ("bob", 2), ("carol", 1)] {
        add(&mut tracker, name, device_id);
    }
    let (first, _) = deliver_all(&mut tracker, &mut record, 1);
    assert!(tracker.remove_member("bob"));
    assert_eq!(
        tracker
            .members()
            .map(|(d, _)| d.clone())
            .collect::<Vec<_>>(),
        [device("carol", 1)]
    );
    let (second, sent) = deliver_all(&mut tracker, &mut record, 2);
    assert_ne!(second.chain_id(), first.chain_id());
    assert_eq!(sent, [device("carol", 1)]);
}

#[test]
fn removing_a_device_that_never_held_the_key_does_not_rotate() {
    let mut record = SenderKeyRecord::new(id());
    let mut tracker = SenderKeyTracker::new(id());
    add(&mut tracker, "bob", 1);
    let (first, _) = deliver_all(&mut tracker, &mut record, 1);
    add(&mut tracker, "eve", 1);
    assert!(!tracker.remove_device(&device("eve", 1)));
    assert!(!tracker.remove_member("nobody"));
    let (second, sent) = deliver_all(&mut tracker, &mut record, 2);
    assert_eq!(second.chain_id(), first.chain_id());
    assert!(sent.is_empty());
}

#[test]
fn set_devices_reconciles_additions_and_removals() {
    let mut record = SenderKeyRecord::new(id());
    let mut tracker = SenderKeyTracker::new(id());
    assert!(
        !tracker
            .set_devices([member_of("bob", 1), member_of("carol", 1)])
            .unwrap()
    );
    let (first, _) = deliver_all(&mut tracker, &mut record, 1);
    // Only an addition: no rotation, only the new device.
    assert!(
        !tracker
            .set_devices([
                member_of("bob", 1),
                member_of("carol", 1),
                member_of("dave", 1)
            ])
            .unwrap()
    );
    assert_eq!(tracker.devices_needing_distribution(), [device("dave", 1)]);
    // A holder missing from the list: rotation.
    assert!(
        tracker
            .set_devices([member_of("carol", 1), member_of("dave", 1)])
            .unwrap()
    );
    let (second, sent) = deliver_all(&mut tracker, &mut record, 2);
    assert_ne!(second.chain_id(), first.chain_id());
    assert_eq!(sent, [device("carol", 1), device("dave", 1)]);
}

#[test]
fn a_lost_or_replaced_record_means_nobody_holds_its_chain() {
    let mut tracker = SenderKeyTracker::new(id());
    add(&mut tracker, "bob", 1);
    let mut record = SenderKeyRecord::new(id());
    deliver_all(&mut tracker, &mut record, 1);
    // The app lost its record and starts from an empty one.
    let mut fresh = SenderKeyRecord::new(id());
    let plan = tracker.prepare_send(&mut fresh, &mut test_rng(2)).unwrap();
    assert_eq!(plan.devices_needing_distribution(), [device("bob", 1)]);
}

#[test]
fn resend_requests_put_a_device_back_on_the_list() {
    let mut record = SenderKeyRecord::new(id());
    let mut tracker = SenderKeyTracker::new(id());
    add(&mut tracker, "bob", 1);
    let (first, _) = deliver_all(&mut tracker, &mut record, 1);
    tracker.resend_requested(&device("bob", 1));
    assert!(!tracker.rotation_pending());
    let (again, sent) = deliver_all(&mut tracker, &mut record, 2);
    assert_eq!(sent, [device("bob", 1)]);
    assert_eq!(again.chain_id(), first.chain_id());
}

/// A member asks for a resend (it "lost" the key), then is removed: it was given the
/// current chain, so the removal must rotate, by every way of removing it.
#[test]
fn a_member_removed_after_asking_for_a_resend_still_forces_a_rotation() {
    for how in 0..3 {
        let mut record = SenderKeyRecord::new(id());
        let mut tracker = SenderKeyTracker::new(id());
        add(&mut tracker, "bob", 1);
        add(&mut tracker, "mallory", 1);
        deliver_all(&mut tracker, &mut record, 1);
        tracker.resend_requested(&device("mallory", 1));
        let rotating = match how {
            0 => tracker.remove_device(&device("mallory", 1)),
            1 => tracker.remove_member("mallory"),
            _ => tracker.set_devices([member_of("bob", 1)]).unwrap(),
        };
        assert!(
            rotating,
            "removal #{how} after a resend request did not rotate"
        );
    }
}

/// A device listed in a send plan may get the chain as soon as the plan exists: removed
/// before the app reports the delivery, it must still force a rotation.
#[test]
fn a_device_removed_between_plan_and_delivery_forces_a_rotation() {
    let mut record = SenderKeyRecord::new(id());
    let mut tracker = SenderKeyTracker::new(id());
    add(&mut tracker, "bob", 1);
    add(&mut tracker, "mallory", 1);
    let plan = tracker.prepare_send(&mut record, &mut test_rng(1)).unwrap();
    let chain_id = plan.distribution_message().chain_id();
    assert!(tracker.mark_delivered(&device("bob", 1), chain_id));
    // The distribution for mallory.1 is on its way; mallory is removed before the app
    // calls mark_delivered for it.
    assert!(tracker.remove_member("mallory"), "no rotation");
    assert!(!tracker.mark_delivered(&device("mallory", 1), chain_id));
    let old_chain = record.sending_chain_id();
    tracker.prepare_send(&mut record, &mut test_rng(2)).unwrap();
    assert_ne!(record.sending_chain_id(), old_chain);
}

#[test]
fn non_members_and_wrong_records_are_refused() {
    let mut tracker = SenderKeyTracker::new(id());
    let mut record = SenderKeyRecord::new(id());
    let (first, _) = deliver_all(&mut tracker, &mut record, 1);
    assert!(!tracker.mark_delivered(&device("stranger", 1), first.chain_id()));
    assert_eq!(tracker.delivered().count(), 0);

    let mut other = SenderKeyRecord::new(DistributionId::from_bytes([4; 16]));
    let before = tracker.clone();
    assert_eq!(
        tracker
            .prepare_send(&mut other, &mut test_rng(0))
            .unwrap_err(),
        Error::WrongDistribution {
            expected: id(),
            actual: DistributionId::from_bytes([4; 16])
        }
    );
    assert_eq!(tracker, before);
    assert!(other.is_empty());
}

#[test]
fn device_count_is_bounded() {
    let mut tracker = SenderKeyTracker::new(id());
    // One key for all: the bound is on devices, whatever their keys.
    let key = key_of("m", 0, 0);
    let devices: Vec<_> = (0..MAX_TRACKED_DEVICES as u32)
        .map(|i| (device("m", i), key))
        .collect();
    tracker.set_devices(devices.clone()).unwrap();
    assert_eq!(
        tracker.add_device(device("m", u32::MAX), key).unwrap_err(),
        Error::TooManyDevices
    );
    assert!(!tracker.add_device(device("m", 0), key).unwrap());
    let before = tracker.clone();
    let too_many = devices.into_iter().chain([(device("n", 0), key)]);
    assert_eq!(
        tracker.set_devices(too_many).unwrap_err(),
        Error::TooManyDevices
    );
    assert_eq!(tracker, before);
    assert_eq!(
        SenderKeyTracker::decode(&tracker.encode()).unwrap(),
        tracker
    );
}

#[test]
fn tracker_decoder_checks_framing() {
    let mut tracker = SenderKeyTracker::new(id());
    add(&mut tracker, "bob", 1);
    let bytes = tracker.encode();
    assert_eq!(SenderKeyTracker::decode(&bytes).unwrap(), tracker);
    assert_eq!(
        SenderKeyTracker::decode(&[]).unwrap_err(),
        Error::Malformed("sender key tracker")
    );
    let mut other = bytes.clone();
    other[0] = 9;
    assert_eq!(
        SenderKeyTracker::decode(&other).unwrap_err(),
        Error::UnknownVersion(9)
    );
    assert!(SenderKeyTracker::decode(&bytes[..bytes.len() - 1]).is_err());
}

// Hand-written tracker bytes, to break invariants the API never breaks.
fn device_proto(name: &str, device_id: u32) -> Vec<u8> {
    let mut out = vec![0x0a, name.len() as u8];
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(&[0x10, device_id as u8]);
    out
}

fn field(out: &mut Vec<u8>, tag: u8, inner: &[u8]) {
    out.extend_from_slice(&[tag, inner.len() as u8]);
    out.extend_from_slice(inner);
}

/// Format 1: members by address only.
fn tracker_v1_bytes(
    members: &[(&str, u32)],
    chain_id: Option<u8>,
    holders: &[(&str, u32)],
    rotation: bool,
) -> Vec<u8> {
    let mut out = vec![1, 0x0a, 16];
    out.extend_from_slice(&[3; 16]);
    for (name, device_id) in members {
        field(&mut out, 0x12, &device_proto(name, *device_id));
    }
    if let Some(chain_id) = chain_id {
        out.extend_from_slice(&[0x18, chain_id]);
    }
    for (name, device_id) in holders {
        field(&mut out, 0x22, &device_proto(name, *device_id));
    }
    if rotation {
        out.extend_from_slice(&[0x28, 1]);
    }
    out
}

/// Format 2: members with identity keys (`key` bytes as given), delivered devices and
/// devices that may know the chain without having it delivered.
fn tracker_v2_bytes(
    members: &[(&str, u32, &[u8])],
    chain_id: Option<u8>,
    delivered: &[(&str, u32)],
    rotation: bool,
    undelivered: &[(&str, u32)],
) -> Vec<u8> {
    let mut out = vec![2, 0x0a, 16];
    out.extend_from_slice(&[3; 16]);
    for (name, device_id, key) in members {
        let mut inner = device_proto(name, *device_id);
        field(&mut inner, 0x1a, key);
        field(&mut out, 0x12, &inner);
    }
    if let Some(chain_id) = chain_id {
        out.extend_from_slice(&[0x18, chain_id]);
    }
    for (name, device_id) in delivered {
        field(&mut out, 0x22, &device_proto(name, *device_id));
    }
    if rotation {
        out.extend_from_slice(&[0x28, 1]);
    }
    for (name, device_id) in undelivered {
        field(&mut out, 0x32, &device_proto(name, *device_id));
    }
    out
}

#[test]
fn tracker_decoder_checks_invariants() {
    let (a, b) = (key_of("a", 1, 0).encode(), key_of("b", 1, 0).encode());
    let ok = tracker_v2_bytes(
        &[("a", 1, &a), ("b", 1, &b)],
        Some(5),
        &[("a", 1)],
        false,
        &[("b", 1)],
    );
    let decoded = SenderKeyTracker::decode(&ok).unwrap();
    assert_eq!(decoded.chain_id(), Some(5));
    assert_eq!(decoded.exposed().count(), 2);
    assert_eq!(
        decoded.delivered().cloned().collect::<Vec<_>>(),
        [device("a", 1)]
    );
    assert_eq!(
        decoded.identity_key(&device("b", 1)),
        Some(&key_of("b", 1, 0))
    );
    assert_eq!(decoded.encode(), ok);

    let what = Error::Malformed("sender key tracker");
    let bad_key = [0x07; 33];
    for (case, bytes) in [
        (
            "members out of order",
            tracker_v2_bytes(&[("b", 1, &b), ("a", 1, &a)], None, &[], false, &[]),
        ),
        (
            "member twice",
            tracker_v2_bytes(&[("a", 1, &a), ("a", 1, &a)], None, &[], false, &[]),
        ),
        (
            "bad identity key",
            tracker_v2_bytes(&[("a", 1, &bad_key)], None, &[], false, &[]),
        ),
        (
            "missing identity key",
            tracker_v2_bytes(&[("a", 1, &[])], None, &[], false, &[]),
        ),
        (
            "delivered not a member",
            tracker_v2_bytes(&[("a", 1, &a)], Some(5), &[("b", 1)], false, &[]),
        ),
        (
            "exposed not a member",
            tracker_v2_bytes(&[("a", 1, &a)], Some(5), &[], false, &[("b", 1)]),
        ),
        (
            "delivered and undelivered",
            tracker_v2_bytes(&[("a", 1, &a)], Some(5), &[("a", 1)], false, &[("a", 1)]),
        ),
        (
            "delivered without a chain",
            tracker_v2_bytes(&[("a", 1, &a)], None, &[("a", 1)], false, &[]),
        ),
        (
            "exposed while rotating",
            tracker_v2_bytes(&[("a", 1, &a)], Some(5), &[], true, &[("a", 1)]),
        ),
    ] {
        assert_eq!(
            SenderKeyTracker::decode(&bytes).unwrap_err(),
            what,
            "{case}"
        );
    }
    assert_eq!(
        SenderKeyTracker::decode(&tracker_v2_bytes(&[("", 1, &a)], None, &[], false, &[]))
            .unwrap_err(),
        Error::Malformed("device name")
    );
}

/// A tracker stored by format 1 cannot tell its members from devices that took their
/// addresses: it comes back with no members and, if it handed out a chain, a rotation
/// pending, so the next send replaces the chain for everyone. Its bytes are still checked.
#[test]
fn format_1_trackers_migrate_to_a_rotation() {
    let old = tracker_v1_bytes(&[("a", 1), ("b", 1)], Some(5), &[("a", 1)], false);
    let migrated = SenderKeyTracker::decode(&old).unwrap();
    assert_eq!(migrated.members().count(), 0);
    assert!(migrated.rotation_pending());
    assert_eq!(
        SenderKeyTracker::decode(&migrated.encode()).unwrap(),
        migrated
    );
    let never_sent =
        SenderKeyTracker::decode(&tracker_v1_bytes(&[("a", 1)], None, &[], false)).unwrap();
    assert!(!never_sent.rotation_pending());

    // The next send with the members' keys distributes a new chain to all of them.
    let mut tracker = migrated;
    let mut record = SenderKeyRecord::new(id());
    let old_chain = record.create_distribution(&mut test_rng(1)).chain_id();
    tracker
        .set_devices([member_of("a", 1), member_of("b", 1)])
        .unwrap();
    let plan = tracker.prepare_send(&mut record, &mut test_rng(2)).unwrap();
    assert_ne!(plan.distribution_message().chain_id(), old_chain);
    assert_eq!(
        plan.devices_needing_distribution(),
        [device("a", 1), device("b", 1)]
    );

    let what = Error::Malformed("sender key tracker");
    for (case, bytes) in [
        (
            "members out of order",
            tracker_v1_bytes(&[("b", 1), ("a", 1)], None, &[], false),
        ),
        (
            "holder not a member",
            tracker_v1_bytes(&[("a", 1)], Some(5), &[("b", 1)], false),
        ),
        (
            "holders while rotating",
            tracker_v1_bytes(&[("a", 1)], Some(5), &[("a", 1)], true),
        ),
    ] {
        assert_eq!(
            SenderKeyTracker::decode(&bytes).unwrap_err(),
            what,
            "{case}"
        );
    }
}

/// The same address under another identity key is another member: a replaced device
/// given its old id again (or an account restored under a new key) makes the chain
/// rotate, by `add_device` and by `set_devices`, and the new device gets the new chain.
#[test]
fn a_new_identity_key_at_a_known_address_rotates() {
    for by_set in [false, true] {
        let mut record = SenderKeyRecord::new(id());
        let mut tracker = SenderKeyTracker::new(id());
        add(&mut tracker, "bob", 1);
        add(&mut tracker, "bob", 2);
        let (first, _) = deliver_all(&mut tracker, &mut record, 1);
        let replaced = key_of("bob", 2, 1);
        let rotating = if by_set {
            tracker
                .set_devices([member_of("bob", 1), (device("bob", 2), replaced)])
                .unwrap()
        } else {
            assert!(tracker.add_device(device("bob", 2), replaced).unwrap());
            tracker.rotation_pending()
        };
        assert!(
            rotating,
            "a new key at bob.2 did not rotate (by_set {by_set})"
        );
        assert_eq!(tracker.identity_key(&device("bob", 2)), Some(&replaced));
        let (second, sent) = deliver_all(&mut tracker, &mut record, 2);
        assert_ne!(second.chain_id(), first.chain_id());
        assert_eq!(sent, [device("bob", 1), device("bob", 2)]);
    }
    // A new key at an address that never saw the chain forces nothing.
    let mut record = SenderKeyRecord::new(id());
    let mut tracker = SenderKeyTracker::new(id());
    add(&mut tracker, "bob", 1);
    deliver_all(&mut tracker, &mut record, 1);
    add(&mut tracker, "carol", 1);
    assert!(
        tracker
            .add_device(device("carol", 1), key_of("carol", 1, 1))
            .unwrap()
    );
    assert!(!tracker.rotation_pending());
    // The same address twice with two keys is refused, and changes nothing.
    let before = tracker.clone();
    assert_eq!(
        tracker
            .set_devices([member_of("bob", 1), (device("bob", 1), key_of("bob", 1, 1))])
            .unwrap_err(),
        Error::Malformed("one device address with two identity keys")
    );
    assert_eq!(tracker, before);
}

/// One step of the property test below.
#[derive(Debug, Clone)]
enum Op {
    Add(u8, u8),
    Remove(u8, u8),
    RemoveMember(u8),
    Send {
        deliver_mask: u8,
    },
    ResendRequested(u8, u8),
    /// The device at this address is replaced by one with a new identity key.
    NewKey(u8, u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..4u8, 1..3u8).prop_map(|(m, d)| Op::Add(m, d)),
        (0..4u8, 1..3u8).prop_map(|(m, d)| Op::Remove(m, d)),
        (0..4u8).prop_map(Op::RemoveMember),
        any::<u8>().prop_map(|deliver_mask| Op::Send { deliver_mask }),
        (0..4u8, 1..3u8).prop_map(|(m, d)| Op::ResendRequested(m, d)),
        (0..4u8, 1..3u8).prop_map(|(m, d)| Op::NewKey(m, d)),
    ]
}

fn member(m: u8, d: u8) -> DeviceAddress {
    device(&format!("member-{m}"), u32::from(d))
}

fn member_key(m: u8, d: u8, generation: u32) -> IdentityKey {
    key_of(&format!("member-{m}"), u32::from(d), generation)
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    /// Against an adversarial model: which identity may know which chain. A device listed
    /// in a plan may know the chain whether or not its delivery is reported; a device
    /// that asks for a resend does not forget what it had. No device that left (removed,
    /// or replaced by another identity key at its address) while it may know a chain
    /// ever sees a message on that chain; every current member can read every message
    /// sent to it.
    #[test]
    fn tracker_keeps_its_promises(ops in proptest::collection::vec(op(), 1..40)) {
        let mut record = SenderKeyRecord::new(id());
        let mut tracker = SenderKeyTracker::new(id());
        // The identity each member address has now (its key generation).
        let mut members: BTreeMap<DeviceAddress, u32> = BTreeMap::new();
        // What each current identity may know (chain ids), and what it was handed.
        let mut knows: BTreeMap<DeviceAddress, BTreeSet<u32>> = BTreeMap::new();
        let mut handed: BTreeMap<DeviceAddress, BTreeSet<u32>> = BTreeMap::new();
        // Chains an identity that left may know: never to be sent on again.
        let mut compromised: BTreeSet<u32> = BTreeSet::new();
        let mut previous_plan_chain: Option<u32> = None;
        for (step, op) in ops.into_iter().enumerate() {
            let mut left: Vec<DeviceAddress> = Vec::new();
            match op {
                Op::Add(m, d) => {
                    let generation = *members.get(&member(m, d)).unwrap_or(&0);
                    tracker.add_device(member(m, d), member_key(m, d, generation)).unwrap();
                    members.insert(member(m, d), generation);
                }
                Op::NewKey(m, d) => {
                    if let Some(generation) = members.get_mut(&member(m, d)) {
                        *generation += 1;
                        tracker.add_device(member(m, d), member_key(m, d, *generation)).unwrap();
                        left.push(member(m, d));
                    }
                }
                Op::Remove(m, d) => {
                    tracker.remove_device(&member(m, d));
                    if members.remove(&member(m, d)).is_some() {
                        left.push(member(m, d));
                    }
                }
                Op::RemoveMember(m) => {
                    tracker.remove_member(&format!("member-{m}"));
                    for d in 1..3 {
                        if members.remove(&member(m, d)).is_some() {
                            left.push(member(m, d));
                        }
                    }
                }
                Op::ResendRequested(m, d) => {
                    // It says it lost its state; it may be lying.
                    handed.remove(&member(m, d));
                    tracker.resend_requested(&member(m, d));
                }
                Op::Send { deliver_mask } => {
                    let plan = tracker.prepare_send(&mut record, &mut test_rng(step as u64)).unwrap();
                    let chain = plan.distribution_message().chain_id();
                    prop_assert!(!compromised.contains(&chain), "sent on a chain a device that left may know");
                    // Never re-send needlessly: nobody listed was handed this chain
                    // (unless it asked again), and the chain stays while nothing forces it.
                    for device in plan.devices_needing_distribution() {
                        prop_assert!(members.contains_key(device));
                        prop_assert!(!handed.get(device).is_some_and(|h| h.contains(&chain)),
                            "{device} listed again for chain {chain}");
                    }
                    if let Some(previous) = previous_plan_chain
                        && previous != chain
                    {
                        prop_assert!(compromised.contains(&previous));
                    }
                    previous_plan_chain = Some(chain);
                    for (index, device) in plan.devices_needing_distribution().iter().enumerate() {
                        // Listed: it may get the chain whatever the app reports.
                        knows.entry(device.clone()).or_default().insert(chain);
                        if deliver_mask & (1 << (index % 8)) != 0 {
                            tracker.mark_delivered(device, chain);
                            handed.entry(device.clone()).or_default().insert(chain);
                        }
                    }
                    // Never forget a device: every member was handed the chain or is
                    // listed by the next plan.
                    let listed: BTreeSet<_> = tracker.devices_needing_distribution().into_iter().collect();
                    for device in members.keys() {
                        let has = handed.get(device).is_some_and(|h| h.contains(&chain));
                        prop_assert!(has || listed.contains(device), "{device} forgotten");
                    }
                }
            }
            for device in left {
                compromised.extend(knows.remove(&device).unwrap_or_default());
                handed.remove(&device);
            }
            prop_assert_eq!(SenderKeyTracker::decode(&tracker.encode()).unwrap(), tracker.clone());
        }
    }
}

/// An address says whether its name is a service id, as libsignal parses address
/// names: a hyphenated UUID is an ACI, `PNI:` and one a PNI; anything else is not.
#[test]
fn device_addresses_know_service_ids() {
    use hush_core::ServiceIdKind;
    let aci = DeviceAddress::new("e6c1a6f1-8d7b-4d35-9a48-6a4b5f1f0a01", 1).unwrap();
    let id = aci.service_id().unwrap();
    assert_eq!(id.kind(), ServiceIdKind::Aci);
    assert_eq!(id.uuid()[..4], [0xe6, 0xc1, 0xa6, 0xf1]);
    let pni = DeviceAddress::new("PNI:e6c1a6f1-8d7b-4d35-9a48-6a4b5f1f0a01", 2).unwrap();
    assert_eq!(pni.service_id().unwrap().kind(), ServiceIdKind::Pni);
    assert_eq!(pni.service_id().unwrap().uuid(), id.uuid());
    for name in [
        "alice",
        "e6c1a6f18d7b4d359a486a4b5f1f0a01",
        "pni:e6c1a6f1-8d7b-4d35-9a48-6a4b5f1f0a01",
    ] {
        assert!(
            DeviceAddress::new(name, 1).unwrap().service_id().is_none(),
            "{name}"
        );
    }
}
