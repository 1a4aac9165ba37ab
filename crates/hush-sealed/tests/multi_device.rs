//! v2 with both device models at once: libsignal accounts, whose devices share the
//! account's identity key (one recipient entry per account, as in libsignal), and hush
//! accounts whose linked devices each have their own identity key (one entry per device
//! key, the service id repeated). `docs/wire/sealed-sender.md` gives the reasons.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap or index is a failed test"
)]

mod common;

use common::{NOW, aci, content, destination, identity, service};
use hush_sealed::{Error, SentMessage};
use hush_test_support::test_rng;

#[test]
fn every_device_of_both_models_opens_its_copy() {
    let service = service(1);
    let alice = identity(10);
    let content = content(
        service.certificate(aci(0xa1), 1, &alice, common::EXPIRY),
        b"group message",
    );
    // Bob: a libsignal account, two devices, one identity key.
    let bob = identity(20);
    // Dave: a hush account, three linked devices, each with its own identity key.
    let dave = [identity(31), identity(32), identity(33)];
    let destinations = [
        destination(aci(0xb0), 1, 11, &bob),
        destination(aci(0xb0), 2, 12, &bob),
        destination(aci(0xd0), 1, 41, &dave[0]),
        destination(aci(0xd0), 2, 42, &dave[1]),
        destination(aci(0xd0), 3, 43, &dave[2]),
    ];
    let sent = hush_sealed::seal_v2(
        &content,
        &alice,
        &destinations,
        &[aci(0xee)],
        &mut test_rng(3),
    )
    .unwrap();
    let parsed = SentMessage::parse(&sent).unwrap();

    // One entry for Bob, one per Dave device, then the excluded recipient.
    let entries: Vec<(u8, Vec<u8>)> = parsed
        .recipients()
        .map(|r| {
            (
                r.service_id().uuid()[0],
                r.devices().iter().map(|d| d.device_id.get()).collect(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            (0xb0, vec![1, 2]),
            (0xd0, vec![1]),
            (0xd0, vec![2]),
            (0xd0, vec![3]),
            (0xee, vec![])
        ]
    );

    let deliveries = parsed.split();
    assert_eq!(deliveries.len(), 4);
    // Bob's two devices share one ReceivedMessage and both open it.
    assert_eq!(deliveries[0].devices.len(), 2);
    assert_eq!(deliveries[0].devices[1].registration_id, 12);
    let opened = hush_sealed::open(&deliveries[0].message, &bob, &service.validator, NOW).unwrap();
    assert_eq!(opened.content(), &content);
    // Each Dave device opens its own entry's message, and no other device's.
    for (index, device_key) in dave.iter().enumerate() {
        let delivery = &deliveries[1 + index];
        assert_eq!(delivery.service_id, aci(0xd0));
        assert_eq!(delivery.devices.len(), 1);
        assert_eq!(
            u32::from(delivery.devices[0].device_id.get()),
            u32::try_from(index + 1).unwrap()
        );
        let opened =
            hush_sealed::open(&delivery.message, device_key, &service.validator, NOW).unwrap();
        assert_eq!(opened.content(), &content);
        for (other, other_key) in dave.iter().enumerate() {
            if other != index {
                assert_eq!(
                    hush_sealed::open(&delivery.message, other_key, &service.validator, NOW)
                        .unwrap_err(),
                    Error::DecryptionFailed
                );
            }
        }
    }
}

/// Why hush's split keeps entries apart: libsignal's server merges entries of one
/// service id and gives every device the first entry's key material. With per-device
/// keys only the first device could open that.
#[test]
fn libsignals_merged_routing_would_not_reach_linked_devices() {
    let service = service(2);
    let alice = identity(10);
    let content = content(
        service.certificate(aci(0xa1), 1, &alice, common::EXPIRY),
        b"hello",
    );
    let dave = [identity(31), identity(32)];
    let sent = hush_sealed::seal_v2(
        &content,
        &alice,
        &[
            destination(aci(0xd0), 1, 1, &dave[0]),
            destination(aci(0xd0), 2, 2, &dave[1]),
        ],
        &[],
        &mut test_rng(4),
    )
    .unwrap();
    let parsed = SentMessage::parse(&sent).unwrap();
    let first_entry = parsed
        .recipients()
        .next()
        .unwrap()
        .received_message()
        .unwrap();
    assert!(hush_sealed::open(&first_entry, &dave[0], &service.validator, NOW).is_ok());
    assert_eq!(
        hush_sealed::open(&first_entry, &dave[1], &service.validator, NOW).unwrap_err(),
        Error::DecryptionFailed
    );
    // hush's split gives device 2 the second entry, which it opens.
    let split = parsed.split();
    assert!(hush_sealed::open(&split[1].message, &dave[1], &service.validator, NOW).is_ok());
}

/// A service id repeated with the same key material (what libsignal writes when a
/// caller lists one account's devices apart): both ways of routing give every device the
/// same bytes, and hush's grouping writes one entry when given the same input.
#[test]
fn repeated_entries_with_one_identity_key_route_the_same_either_way() {
    let service = service(3);
    let alice = identity(10);
    let content = content(
        service.certificate(aci(0xa1), 1, &alice, common::EXPIRY),
        b"hi",
    );
    let bob = identity(20);
    let carol = identity(21);
    let destinations = [
        destination(aci(0xb0), 1, 1, &bob),
        destination(aci(0xc0), 1, 3, &carol),
        destination(aci(0xb0), 2, 2, &bob),
    ];
    // hush groups Bob's devices into one entry even when they are not adjacent.
    let sent =
        hush_sealed::seal_v2(&content, &alice, &destinations, &[], &mut test_rng(5)).unwrap();
    let parsed = SentMessage::parse(&sent).unwrap();
    assert_eq!(parsed.recipients().len(), 2);
    let bob_message = parsed.split().remove(0).message;

    // Rewrite it the way libsignal would have: Bob (device 1), Carol, Bob (device 2),
    // Bob's key material written twice.
    let bob_entry = parsed.recipients().next().unwrap();
    let carol_entry = parsed.recipients().nth(1).unwrap();
    let key = |r: &hush_sealed::SentRecipient<'_>| sent[r.key_material_range().unwrap()].to_vec();
    let mut rewritten = vec![0x23, 3];
    rewritten.extend(aci(0xb0).fixed_width_binary());
    rewritten.extend([1, 0, 1]);
    rewritten.extend(key(&bob_entry));
    rewritten.extend(aci(0xc0).fixed_width_binary());
    rewritten.extend([1, 0, 3]);
    rewritten.extend(key(&carol_entry));
    rewritten.extend(aci(0xb0).fixed_width_binary());
    rewritten.extend([2, 0, 2]);
    rewritten.extend(key(&bob_entry));
    rewritten.extend(parsed.shared_bytes());
    let reparsed = SentMessage::parse(&rewritten).unwrap();
    let split = reparsed.split();
    assert_eq!(split.len(), 3);
    assert_eq!(split[0].message, bob_message);
    assert_eq!(split[2].message, bob_message);
    assert!(hush_sealed::open(&split[2].message, &bob, &service.validator, NOW).is_ok());
}
