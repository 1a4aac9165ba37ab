//! The client API end to end over `MemoryStore`: Alice (2 devices) and Bob (3 devices)
//! exchange messages through a tiny in-test "server" (bundles from `hush-prekey`'s
//! `DeviceKeys`, envelopes handed over by hand).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::collections::BTreeSet;

use hush::{Address, DistributionId, Envelope, Error, ReceivedKind};
use rand_chacha::ChaCha20Rng;

mod support;
use support::*;

#[test]
fn groups_distribute_only_to_devices_lacking_the_chain() {
    let World {
        mut rng,
        mut server,
        alice,
        bob,
    } = world(10);
    let mut carol = account("carol", 0, &mut server, &mut rng);
    learn(&alice, &carol);
    learn(&carol, &alice);
    learn(&carol, &bob);
    let group = DistributionId::generate(&mut rng);
    let sender = &alice[0];
    let mut all: Vec<&Dev> = alice.iter().chain(&bob).collect();
    all.push(&carol[0]);

    let deliver = |all: &[&Dev], envelopes: &[Envelope], rng: &mut ChaCha20Rng| {
        for e in envelopes {
            let got = find(all, &e.to)
                .decrypt(sender.address(), e.message_type, &e.body, NOW, rng)
                .unwrap();
            assert_eq!(
                got.kind,
                ReceivedKind::GroupDistribution {
                    distribution_id: group
                }
            );
        }
    };
    let read = |all: &[&Dev], to: &Address, message: &[u8]| {
        find(all, to)
            .decrypt_group(sender.address(), message, NOW)
            .map(|g| g.plaintext.to_vec())
    };

    // First send: every member device (Bob's three, Alice's other) lacks the chain.
    let plan = sender.prepare_group_send(group, &["bob"], NOW).unwrap();
    assert_eq!(plan.need_bundles.len(), 4);
    let bundles = server.bundles(&plan.need_bundles);
    let first = sender
        .send_group(group, &["bob"], b"g1", &as_refs(&bundles), NOW, &mut rng)
        .unwrap();
    let to: BTreeSet<_> = first.distributions.iter().map(|e| e.to.clone()).collect();
    assert_eq!(
        to,
        [
            addr("alice", 2),
            addr("bob", 1),
            addr("bob", 2),
            addr("bob", 3)
        ]
        .into_iter()
        .collect()
    );
    deliver(&all, &first.distributions, &mut rng);
    for device in &to {
        assert_eq!(read(&all, device, &first.group_message).unwrap(), b"g1");
    }

    // Second send: nobody needs it again.
    let second = sender
        .send_group(group, &["bob"], b"g2", &[], NOW, &mut rng)
        .unwrap();
    assert!(second.distributions.is_empty());
    assert_eq!(
        read(&all, &addr("bob", 2), &second.group_message).unwrap(),
        b"g2"
    );

    // Carol joins: only her device gets the distribution message.
    let plan = sender
        .prepare_group_send(group, &["bob", "carol"], NOW)
        .unwrap();
    assert_eq!(plan.need_bundles, vec![addr("carol", 1)]);
    let bundles = server.bundles(&plan.need_bundles);
    let third = sender
        .send_group(
            group,
            &["bob", "carol"],
            b"g3",
            &as_refs(&bundles),
            NOW,
            &mut rng,
        )
        .unwrap();
    assert_eq!(
        third
            .distributions
            .iter()
            .map(|e| e.to.clone())
            .collect::<Vec<_>>(),
        vec![addr("carol", 1)]
    );
    deliver(&all, &third.distributions, &mut rng);
    assert_eq!(
        read(&all, &addr("carol", 1), &third.group_message).unwrap(),
        b"g3"
    );
    assert_eq!(
        read(&all, &addr("bob", 3), &third.group_message).unwrap(),
        b"g3"
    );

    // Bob is removed: the chain rotates; the remaining devices get the new one, Bob's
    // devices cannot read the next message.
    assert!(sender.remove_group_member(group, "bob").unwrap());
    let fourth = sender
        .send_group(group, &["carol"], b"g4", &[], NOW, &mut rng)
        .unwrap();
    assert_eq!(
        fourth
            .distributions
            .iter()
            .map(|e| e.to.clone())
            .collect::<BTreeSet<_>>(),
        [addr("alice", 2), addr("carol", 1)].into_iter().collect()
    );
    deliver(&all, &fourth.distributions, &mut rng);
    assert_eq!(
        read(&all, &addr("carol", 1), &fourth.group_message).unwrap(),
        b"g4"
    );
    assert_eq!(
        read(&all, &addr("alice", 2), &fourth.group_message).unwrap(),
        b"g4"
    );
    for id in 1..=3 {
        let bob = addr("bob", id);
        let store_before = snapshot(
            find(&all, &bob).store(),
            &[sender.address().clone()],
            &["alice"],
            &[group],
            &[],
        );
        assert!(matches!(
            read(&all, &bob, &fourth.group_message),
            Err(Error::Group(hush_group::Error::NoSenderKeyState { .. }))
        ));
        let store_after = snapshot(
            find(&all, &bob).store(),
            &[sender.address().clone()],
            &["alice"],
            &[group],
            &[],
        );
        assert_eq!(store_before, store_after);
    }

    // Leaving a member out of the list does the same as removing it.
    let fifth = sender
        .send_group(group, &[], b"g5", &[], NOW, &mut rng)
        .unwrap();
    assert_eq!(
        fifth
            .distributions
            .iter()
            .map(|e| e.to.clone())
            .collect::<Vec<_>>(),
        vec![addr("alice", 2)]
    );
    deliver(&all, &fifth.distributions, &mut rng);
    assert!(read(&all, &addr("carol", 1), &fifth.group_message).is_err());
    assert_eq!(
        read(&all, &addr("alice", 2), &fifth.group_message).unwrap(),
        b"g5"
    );
    drop(carol.pop());
}

#[test]
fn group_message_from_a_device_off_the_list_is_refused() {
    let World {
        mut rng,
        mut server,
        alice,
        bob,
    } = world(11);
    let group = DistributionId::generate(&mut rng);
    let plan = bob[2].prepare_group_send(group, &["alice"], NOW).unwrap();
    let bundles = server.bundles(&plan.need_bundles);
    let sent = bob[2]
        .send_group(group, &["alice"], b"hi", &as_refs(&bundles), NOW, &mut rng)
        .unwrap();
    let e = sent
        .distributions
        .iter()
        .find(|e| e.to == addr("alice", 1))
        .unwrap();
    alice[0]
        .decrypt(bob[2].address(), e.message_type, &e.body, NOW, &mut rng)
        .unwrap();
    assert_eq!(
        alice[0]
            .decrypt_group(bob[2].address(), &sent.group_message, NOW)
            .unwrap()
            .plaintext
            .as_slice(),
        b"hi"
    );
    // Bob removes device 3; Alice learns the new list.
    bob[0].remove_companion(3, NOW, &mut rng).unwrap();
    learn(&alice, &bob);
    let again = bob[2]
        .send_group(group, &["alice"], b"still here", &[], NOW, &mut rng)
        .unwrap();
    assert_eq!(
        alice[0].decrypt_group(bob[2].address(), &again.group_message, NOW),
        Err(Error::UntrustedDevice {
            address: addr("bob", 3)
        })
        .map(|()| unreachable_group())
    );
}

fn unreachable_group() -> hush::GroupReceived {
    unreachable!("only used to type an Err")
}
