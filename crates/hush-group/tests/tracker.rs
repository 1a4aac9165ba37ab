//! The sender's membership bookkeeping: never re-send needlessly, never forget a new
//! device, rotate on removal; and its storage format.

// Helpers outside `#[test]` functions build fixed inputs: a failure there is a test failure.
// Hand-built wire bytes truncate small lengths and ids to bytes on purpose.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

use std::collections::{BTreeMap, BTreeSet};

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
    tracker.add_device(device("bob", 1)).unwrap();
    tracker.add_device(device("carol", 1)).unwrap();

    let (first, sent) = deliver_all(&mut tracker, &mut record, 1);
    assert_eq!(sent, [device("bob", 1), device("carol", 1)]);
    // Nothing changed: nobody needs it again, and no chain was drawn anew.
    let (again, sent) = deliver_all(&mut tracker, &mut record, 2);
    assert!(sent.is_empty());
    assert_eq!(again.chain_id(), first.chain_id());

    // A new device of an existing member, and a new member: exactly they need it.
    assert!(tracker.add_device(device("bob", 2)).unwrap());
    assert!(!tracker.add_device(device("bob", 2)).unwrap());
    tracker.add_device(device("dave", 1)).unwrap();
    assert_eq!(
        tracker.devices_needing_distribution(),
        [device("bob", 2), device("dave", 1)]
    );
    let (later, sent) = deliver_all(&mut tracker, &mut record, 3);
    assert_eq!(sent, [device("bob", 2), device("dave", 1)]);
    assert_eq!(later.chain_id(), first.chain_id());
    assert!(!tracker.rotation_pending());
    assert_eq!(tracker.holders().count(), 4);
}

#[test]
fn a_device_not_yet_delivered_stays_on_the_list() {
    let mut record = SenderKeyRecord::new(id());
    let mut tracker = SenderKeyTracker::new(id());
    tracker.add_device(device("bob", 1)).unwrap();
    tracker.add_device(device("carol", 1)).unwrap();
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
        tracker.add_device(device(name, device_id)).unwrap();
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
        tracker.add_device(device(name, device_id)).unwrap();
    }
    let (first, _) = deliver_all(&mut tracker, &mut record, 1);
    assert!(tracker.remove_member("bob"));
    assert_eq!(
        tracker.members().cloned().collect::<Vec<_>>(),
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
    tracker.add_device(device("bob", 1)).unwrap();
    let (first, _) = deliver_all(&mut tracker, &mut record, 1);
    tracker.add_device(device("eve", 1)).unwrap();
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
            .set_devices([device("bob", 1), device("carol", 1)])
            .unwrap()
    );
    let (first, _) = deliver_all(&mut tracker, &mut record, 1);
    // Only an addition: no rotation, only the new device.
    assert!(
        !tracker
            .set_devices([device("bob", 1), device("carol", 1), device("dave", 1)])
            .unwrap()
    );
    assert_eq!(tracker.devices_needing_distribution(), [device("dave", 1)]);
    // A holder missing from the list: rotation.
    assert!(
        tracker
            .set_devices([device("carol", 1), device("dave", 1)])
            .unwrap()
    );
    let (second, sent) = deliver_all(&mut tracker, &mut record, 2);
    assert_ne!(second.chain_id(), first.chain_id());
    assert_eq!(sent, [device("carol", 1), device("dave", 1)]);
}

#[test]
fn a_lost_or_replaced_record_means_nobody_holds_its_chain() {
    let mut tracker = SenderKeyTracker::new(id());
    tracker.add_device(device("bob", 1)).unwrap();
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
    tracker.add_device(device("bob", 1)).unwrap();
    let (first, _) = deliver_all(&mut tracker, &mut record, 1);
    tracker.resend_requested(&device("bob", 1));
    assert!(!tracker.rotation_pending());
    let (again, sent) = deliver_all(&mut tracker, &mut record, 2);
    assert_eq!(sent, [device("bob", 1)]);
    assert_eq!(again.chain_id(), first.chain_id());
}

#[test]
fn non_members_and_wrong_records_are_refused() {
    let mut tracker = SenderKeyTracker::new(id());
    let mut record = SenderKeyRecord::new(id());
    let (first, _) = deliver_all(&mut tracker, &mut record, 1);
    assert!(!tracker.mark_delivered(&device("stranger", 1), first.chain_id()));
    assert_eq!(tracker.holders().count(), 0);

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
    let devices: Vec<_> = (0..MAX_TRACKED_DEVICES as u32)
        .map(|i| device("m", i))
        .collect();
    tracker.set_devices(devices.clone()).unwrap();
    assert_eq!(
        tracker.add_device(device("m", u32::MAX)).unwrap_err(),
        Error::TooManyDevices
    );
    assert!(!tracker.add_device(device("m", 0)).unwrap());
    let before = tracker.clone();
    let too_many = devices.into_iter().chain([device("n", 0)]);
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
    tracker.add_device(device("bob", 1)).unwrap();
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

// Hand-written tracker bytes (format 1), to break invariants the API never breaks.
fn device_proto(name: &str, device_id: u32) -> Vec<u8> {
    let mut out = vec![0x0a, name.len() as u8];
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(&[0x10, device_id as u8]);
    out
}

fn tracker_bytes(
    members: &[(&str, u32)],
    chain_id: Option<u8>,
    holders: &[(&str, u32)],
    rotation: bool,
) -> Vec<u8> {
    let mut out = vec![1, 0x0a, 16];
    out.extend_from_slice(&[3; 16]);
    for (name, device_id) in members {
        let inner = device_proto(name, *device_id);
        out.extend_from_slice(&[0x12, inner.len() as u8]);
        out.extend_from_slice(&inner);
    }
    if let Some(chain_id) = chain_id {
        out.extend_from_slice(&[0x18, chain_id]);
    }
    for (name, device_id) in holders {
        let inner = device_proto(name, *device_id);
        out.extend_from_slice(&[0x22, inner.len() as u8]);
        out.extend_from_slice(&inner);
    }
    if rotation {
        out.extend_from_slice(&[0x28, 1]);
    }
    out
}

#[test]
fn tracker_decoder_checks_invariants() {
    let ok = tracker_bytes(&[("a", 1), ("b", 1)], Some(5), &[("a", 1)], false);
    let decoded = SenderKeyTracker::decode(&ok).unwrap();
    assert_eq!(decoded.chain_id(), Some(5));
    assert_eq!(decoded.encode(), ok);

    let what = Error::Malformed("sender key tracker");
    for (case, bytes) in [
        (
            "members out of order",
            tracker_bytes(&[("b", 1), ("a", 1)], None, &[], false),
        ),
        (
            "member twice",
            tracker_bytes(&[("a", 1), ("a", 1)], None, &[], false),
        ),
        (
            "holder not a member",
            tracker_bytes(&[("a", 1)], Some(5), &[("b", 1)], false),
        ),
        (
            "holders without a chain",
            tracker_bytes(&[("a", 1)], None, &[("a", 1)], false),
        ),
        (
            "holders while rotating",
            tracker_bytes(&[("a", 1)], Some(5), &[("a", 1)], true),
        ),
    ] {
        assert_eq!(
            SenderKeyTracker::decode(&bytes).unwrap_err(),
            what,
            "{case}"
        );
    }
    assert_eq!(
        SenderKeyTracker::decode(&tracker_bytes(&[("", 1)], None, &[], false)).unwrap_err(),
        Error::Malformed("device name")
    );
}

/// One step of the property test below.
#[derive(Debug, Clone)]
enum Op {
    Add(u8, u8),
    Remove(u8, u8),
    RemoveMember(u8),
    Send { deliver_mask: u8 },
    ResendRequested(u8, u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..4u8, 1..3u8).prop_map(|(m, d)| Op::Add(m, d)),
        (0..4u8, 1..3u8).prop_map(|(m, d)| Op::Remove(m, d)),
        (0..4u8).prop_map(Op::RemoveMember),
        any::<u8>().prop_map(|deliver_mask| Op::Send { deliver_mask }),
        (0..4u8, 1..3u8).prop_map(|(m, d)| Op::ResendRequested(m, d)),
    ]
}

fn member(m: u8, d: u8) -> DeviceAddress {
    device(&format!("member-{m}"), u32::from(d))
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    /// Against a plain model: which device holds which chain (as the devices see it).
    /// No device that left while holding a chain ever receives a message on that chain;
    /// every current member can read every message sent to it.
    #[test]
    fn tracker_keeps_its_promises(ops in proptest::collection::vec(op(), 1..40)) {
        let mut record = SenderKeyRecord::new(id());
        let mut tracker = SenderKeyTracker::new(id());
        // What each device actually holds (chain ids handed to it).
        let mut holds: BTreeMap<DeviceAddress, BTreeSet<u32>> = BTreeMap::new();
        let mut members: BTreeSet<DeviceAddress> = BTreeSet::new();
        // Devices removed after holding a chain: that chain must never be sent on again.
        let mut compromised: BTreeSet<u32> = BTreeSet::new();
        let mut previous_plan_chain: Option<u32> = None;
        for (step, op) in ops.into_iter().enumerate() {
            match op {
                Op::Add(m, d) => {
                    tracker.add_device(member(m, d)).unwrap();
                    members.insert(member(m, d));
                }
                Op::Remove(m, d) => {
                    tracker.remove_device(&member(m, d));
                    if members.remove(&member(m, d)) {
                        compromised.extend(holds.remove(&member(m, d)).unwrap_or_default());
                    }
                }
                Op::RemoveMember(m) => {
                    tracker.remove_member(&format!("member-{m}"));
                    for d in 1..3 {
                        if members.remove(&member(m, d)) {
                            compromised.extend(holds.remove(&member(m, d)).unwrap_or_default());
                        }
                    }
                }
                Op::ResendRequested(m, d) => {
                    // The device lost its state.
                    holds.remove(&member(m, d));
                    tracker.resend_requested(&member(m, d));
                }
                Op::Send { deliver_mask } => {
                    let plan = tracker.prepare_send(&mut record, &mut test_rng(step as u64)).unwrap();
                    let chain = plan.distribution_message().chain_id();
                    prop_assert!(!compromised.contains(&chain), "sent on a chain a removed device holds");
                    // Never re-send needlessly: nobody listed already holds this chain
                    // (unless it asked again), and the chain stays while nothing forces it.
                    for device in plan.devices_needing_distribution() {
                        prop_assert!(members.contains(device));
                        prop_assert!(!holds.get(device).is_some_and(|h| h.contains(&chain)),
                            "{device} listed again for chain {chain}");
                    }
                    if let Some(previous) = previous_plan_chain
                        && previous != chain
                    {
                        prop_assert!(compromised.contains(&previous));
                    }
                    previous_plan_chain = Some(chain);
                    for (index, device) in plan.devices_needing_distribution().iter().enumerate() {
                        if deliver_mask & (1 << (index % 8)) != 0 {
                            tracker.mark_delivered(device, chain);
                            holds.entry(device.clone()).or_default().insert(chain);
                        }
                    }
                    // Never forget a device: every member either holds the chain or is
                    // listed by the next plan.
                    let listed: BTreeSet<_> = tracker.devices_needing_distribution().into_iter().collect();
                    for device in &members {
                        let has = holds.get(device).is_some_and(|h| h.contains(&chain));
                        prop_assert!(has || listed.contains(device), "{device} forgotten");
                    }
                }
            }
            prop_assert_eq!(SenderKeyTracker::decode(&tracker.encode()).unwrap(), tracker.clone());
        }
    }
}
