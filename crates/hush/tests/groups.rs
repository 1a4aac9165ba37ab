//! Groups through the client API over `MemoryStore`: who gets the sender key, who can
//! read after leaving, and who may post. The adversaries: a removed member, the thief of
//! a replaced device whose address was given again, a non-member who learned the
//! distribution id, and a member who asks for a resend before being removed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::collections::BTreeSet;

use hush::store::MemoryStore;
use hush::{Address, Device, DistributionId, Envelope, Error, GroupSend, ReceivedKind};
use hush_core::IdentityKeyPair;
use rand_chacha::ChaCha20Rng;

mod support;
use support::*;

/// The members every test group has, as the receiving apps know them.
const MEMBERS: [&str; 3] = ["alice", "bob", "carol"];

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
            .decrypt_group(sender.address(), message, &MEMBERS, NOW)
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
            .decrypt_group(bob[2].address(), &sent.group_message, &MEMBERS, NOW)
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
        alice[0].decrypt_group(bob[2].address(), &again.group_message, &MEMBERS, NOW),
        Err(Error::UntrustedDevice {
            address: addr("bob", 3)
        })
        .map(|()| unreachable_group())
    );
}

fn unreachable_group() -> hush::GroupReceived {
    unreachable!("only used to type an Err")
}

/// Hands every distribution envelope of `sent` to its device (those in `devices`; the
/// others are skipped), expecting each to store `sender`'s chain.
fn distribute(devices: &[&Dev], sender: &Dev, sent: &GroupSend, rng: &mut ChaCha20Rng) {
    for e in &sent.distributions {
        let Some(device) = devices.iter().find(|d| d.address() == &e.to) else {
            continue;
        };
        let got = device
            .decrypt(sender.address(), e.message_type, &e.body, NOW, rng)
            .unwrap();
        assert!(matches!(got.kind, ReceivedKind::GroupDistribution { .. }));
    }
}

/// `sender` sends `text` to `group` with `members`, fetching the bundles it asks for, and
/// hands the distributions to `devices`.
fn group_send(
    sender: &Dev,
    group: DistributionId,
    members: &[&str],
    text: &[u8],
    devices: &[&Dev],
    server: &mut Server,
    rng: &mut ChaCha20Rng,
) -> Result<GroupSend, Error> {
    let plan = sender.prepare_group_send(group, members, NOW)?;
    let bundles = server.bundles(&plan.need_bundles);
    let sent = sender.send_group(group, members, text, &as_refs(&bundles), NOW, rng)?;
    distribute(devices, sender, &sent, rng);
    Ok(sent)
}

/// Bob's primary replaces companion `device_id` with a new device under the same id (a
/// new identity key, prekeys on the server). Returns the new device; the old one stays
/// with the thief.
fn replace_companion(
    bob: &[Dev],
    device_id: u32,
    server: &mut Server,
    rng: &mut ChaCha20Rng,
) -> Dev {
    bob[0].remove_companion(device_id, NOW, rng).unwrap();
    let identity = IdentityKeyPair::generate(rng);
    let user = bob[0].address().name().to_owned();
    let new = Device::create_companion(
        MemoryStore::new(),
        &user,
        device_id,
        identity,
        *bob[0].account_key(),
        rng,
    )
    .unwrap();
    let entry = new.membership_entry(NOW, rng).unwrap();
    let list = bob[0].add_companion(entry, NOW, rng).unwrap();
    new.accept_device_list(&user, &list, NOW).unwrap();
    let upload = new.generate_prekeys(&small_batch(), NOW, rng).unwrap();
    server.upload(&new, &upload, rng);
    new
}

#[test]
fn a_replaced_device_under_a_reused_id_is_asked_about_and_loses_the_group() {
    let World {
        mut rng,
        mut server,
        alice,
        bob,
    } = world(20);
    let group = DistributionId::generate(&mut rng);
    let everyone: Vec<&Dev> = alice.iter().chain(&bob).collect();
    group_send(
        &alice[0],
        group,
        &["bob"],
        b"before",
        &everyone,
        &mut server,
        &mut rng,
    )
    .unwrap();

    // Bob's laptop (bob.3) is stolen; the new one gets device id 3 again.
    let thief = &bob[2];
    let laptop = replace_companion(&bob, 3, &mut server, &mut rng);
    learn(&alice, &bob);
    learn(std::slice::from_ref(&laptop), &alice);

    // Alice's next group send must not go out as if nothing happened: bob.3 now presents
    // another identity key, exactly as a pairwise send would report.
    let refused = group_send(
        &alice[0],
        group,
        &["bob"],
        b"x",
        &everyone,
        &mut server,
        &mut rng,
    );
    assert!(
        matches!(&refused, Err(Error::IdentityChanged { address, .. }) if *address == addr("bob", 3)),
        "{refused:?}"
    );
    alice[0]
        .accept_identity(&addr("bob", 3), &laptop.identity_key())
        .unwrap();

    // Accepted: the chain rotates, the new laptop gets it, the stolen one cannot read.
    let devices: Vec<&Dev> = alice.iter().chain(&bob[..2]).chain([&laptop]).collect();
    let sent = group_send(
        &alice[0],
        group,
        &["bob"],
        b"after",
        &devices,
        &mut server,
        &mut rng,
    )
    .unwrap();
    let to: BTreeSet<Address> = sent.distributions.iter().map(|e| e.to.clone()).collect();
    assert!(
        to.contains(&addr("bob", 3)),
        "the new laptop got no sender key"
    );
    assert!(to.contains(&addr("bob", 1)), "the chain did not rotate");
    assert_eq!(
        laptop
            .decrypt_group(alice[0].address(), &sent.group_message, &MEMBERS, NOW)
            .unwrap()
            .plaintext
            .as_slice(),
        b"after"
    );
    assert!(matches!(
        thief.decrypt_group(alice[0].address(), &sent.group_message, &MEMBERS, NOW),
        Err(Error::Group(hush_group::Error::NoSenderKeyState { .. }))
    ));
}

#[test]
fn an_account_key_change_rotates_the_group() {
    let World {
        mut rng,
        mut server,
        alice,
        bob,
    } = world(21);
    let group = DistributionId::generate(&mut rng);
    let everyone: Vec<&Dev> = alice.iter().chain(&bob).collect();
    group_send(
        &alice[0],
        group,
        &["bob"],
        b"before",
        &everyone,
        &mut server,
        &mut rng,
    )
    .unwrap();

    // Bob restores under a new account key; the old devices stay with a thief. Alice is
    // shown the change and accepts it.
    let new_bob = account("bob", 2, &mut server, &mut rng);
    learn(&new_bob, &alice);
    let list = new_bob[0].own_device_list().unwrap();
    assert!(alice[0].accept_device_list("bob", &list, NOW).is_err());
    alice[0]
        .accept_changed_device_list("bob", &list, NOW)
        .unwrap();

    let devices: Vec<&Dev> = alice.iter().chain(&new_bob).collect();
    let sent = group_send(
        &alice[0],
        group,
        &["bob"],
        b"after",
        &devices,
        &mut server,
        &mut rng,
    )
    .unwrap();
    let to: BTreeSet<Address> = sent.distributions.iter().map(|e| e.to.clone()).collect();
    for id in 1..=3 {
        assert!(to.contains(&addr("bob", id)), "bob.{id} got no sender key");
        assert_eq!(
            new_bob[usize::try_from(id - 1).unwrap()]
                .decrypt_group(alice[0].address(), &sent.group_message, &MEMBERS, NOW)
                .unwrap()
                .plaintext
                .as_slice(),
            b"after"
        );
        assert!(
            bob[usize::try_from(id - 1).unwrap()]
                .decrypt_group(alice[0].address(), &sent.group_message, &MEMBERS, NOW)
                .is_err(),
            "old bob.{id} still reads the group"
        );
    }
}

#[test]
fn the_thief_of_a_replaced_device_cannot_post_under_its_address() {
    let World {
        mut rng,
        mut server,
        alice,
        bob,
    } = world(22);
    let group = DistributionId::generate(&mut rng);
    // bob.3 (the laptop) posts to the group; Alice holds its chain.
    let alices: Vec<&Dev> = alice.iter().collect();
    let first = group_send(
        &bob[2],
        group,
        &["alice"],
        b"from the laptop",
        &alices,
        &mut server,
        &mut rng,
    )
    .unwrap();
    assert!(
        alice[0]
            .decrypt_group(bob[2].address(), &first.group_message, &MEMBERS, NOW)
            .is_ok()
    );

    // The laptop is stolen and replaced under the same id; Alice accepts the new key.
    let thief = &bob[2];
    let laptop = replace_companion(&bob, 3, &mut server, &mut rng);
    learn(&alice, &bob);
    learn(std::slice::from_ref(&laptop), &alice);
    alice[0]
        .accept_identity(&addr("bob", 3), &laptop.identity_key())
        .unwrap();

    // The thief posts with the old chain, labelled bob.3 (its address, which the server
    // believes): Alice must refuse it.
    let forged = thief
        .send_group(group, &["alice"], b"pay me", &[], NOW, &mut rng)
        .unwrap();
    assert!(forged.distributions.is_empty());
    let outcome = alice[0].decrypt_group(thief.address(), &forged.group_message, &MEMBERS, NOW);
    assert!(
        matches!(outcome, Err(Error::UntrustedDevice { ref address }) if *address == addr("bob", 3)),
        "{outcome:?}"
    );
}

#[test]
fn a_removed_member_cannot_post_to_the_group() {
    let World {
        mut rng,
        mut server,
        alice,
        bob,
    } = world(23);
    let carol = account("carol", 0, &mut server, &mut rng);
    learn(&alice, &carol);
    learn(&carol, &alice);
    let group = DistributionId::generate(&mut rng);
    let alices: Vec<&Dev> = alice.iter().collect();
    let first = group_send(
        &carol[0],
        group,
        &["alice"],
        b"hello",
        &alices,
        &mut server,
        &mut rng,
    )
    .unwrap();
    assert!(
        alice[0]
            .decrypt_group(carol[0].address(), &first.group_message, &MEMBERS, NOW)
            .is_ok()
    );

    // Alice removes Carol from the group: Carol's chain is forgotten, and what she posts
    // next is refused.
    alice[0].remove_group_member(group, "carol").unwrap();
    let later = carol[0]
        .send_group(group, &["alice"], b"still here", &[], NOW, &mut rng)
        .unwrap();
    let remaining = ["alice", "bob"];
    let outcome = alice[0].decrypt_group(carol[0].address(), &later.group_message, &remaining, NOW);
    assert!(
        matches!(outcome, Err(Error::NotGroupMember { ref address, distribution_id })
            if *address == addr("carol", 1) && distribution_id == group),
        "{outcome:?}"
    );
    // An app whose member list lags behind still refuses: the chain itself is gone.
    let stale = alice[0].decrypt_group(carol[0].address(), &later.group_message, &MEMBERS, NOW);
    assert!(
        matches!(
            stale,
            Err(Error::Group(hush_group::Error::NoSenderKeyState { .. }))
        ),
        "{stale:?}"
    );
    drop(bob);
}

#[test]
fn a_non_member_who_learned_the_distribution_id_cannot_post() {
    let World {
        mut rng,
        mut server,
        alice,
        bob,
    } = world(24);
    let dave = account("dave", 0, &mut server, &mut rng);
    learn(&alice, &dave);
    learn(&dave, &alice);
    // Alice and Bob's group; Dave saw a group message, so he knows its distribution id.
    let group = DistributionId::generate(&mut rng);
    let everyone: Vec<&Dev> = alice.iter().chain(&bob).collect();
    let sent = group_send(
        &alice[0],
        group,
        &["bob"],
        b"hi",
        &everyone,
        &mut server,
        &mut rng,
    )
    .unwrap();
    assert_eq!(
        hush::group_distribution_id(&sent.group_message).unwrap(),
        group
    );

    // Dave distributes a chain for that id to Alice (she stores it, as for anyone she has
    // a session with) and posts.
    let alices: Vec<&Dev> = alice.iter().collect();
    let forged = group_send(
        &dave[0],
        group,
        &["alice"],
        b"I'm in",
        &alices,
        &mut server,
        &mut rng,
    )
    .unwrap();
    let members = ["alice", "bob"];
    let outcome = alice[0].decrypt_group(dave[0].address(), &forged.group_message, &members, NOW);
    assert!(
        matches!(outcome, Err(Error::NotGroupMember { ref address, .. }) if *address == addr("dave", 1)),
        "{outcome:?}"
    );
}
