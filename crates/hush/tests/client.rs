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

use hush::store::{IdentityStore, MemoryStore, PreKeyStore, SessionStore, Store, Transaction};
use hush::{Address, Device, Envelope, Error, PreKeyCounts, ReceivedKind, RotationPolicy};
use hush_core::IdentityKeyPair;
use hush_prekey::{PreKeyUpload, UploadPolicy};
use hush_test_support::test_rng;
use rand_chacha::ChaCha20Rng;

mod support;
use support::*;

#[test]
fn fan_out_reaches_every_device_exactly_once_and_replies_work() {
    let World {
        mut rng,
        mut server,
        alice,
        bob,
    } = world(1);
    let plan = alice[0].prepare_send("bob", NOW, &mut rng).unwrap();
    let expected: BTreeSet<Address> = [addr("bob", 1), addr("bob", 2), addr("bob", 3)]
        .into_iter()
        .chain([addr("alice", 2)])
        .collect();
    assert_eq!(
        plan.need_bundles.iter().cloned().collect::<BTreeSet<_>>(),
        expected
    );
    let envelopes = send(&alice[0], "bob", b"hello Bob", &mut server, &mut rng);
    assert_eq!(envelopes.len(), 4);
    assert_eq!(
        envelopes
            .iter()
            .map(|e| e.to.clone())
            .collect::<BTreeSet<_>>(),
        expected
    );
    let all = all(&alice, &bob);
    let from = alice[0].address().clone();
    for envelope in &envelopes {
        assert_eq!(envelope.message_type, 3, "first messages");
        let to = find(&all, &envelope.to);
        let got = to
            .decrypt(&from, envelope.message_type, &envelope.body, NOW, &mut rng)
            .unwrap();
        assert_eq!(got.from, from);
        match &got.kind {
            ReceivedKind::Direct { plaintext } => {
                assert_eq!(envelope.to.name(), "bob");
                assert_eq!(plaintext.as_slice(), b"hello Bob");
            }
            ReceivedKind::SentTranscript { to_user, plaintext } => {
                assert_eq!(envelope.to, addr("alice", 2));
                assert_eq!(to_user, "bob");
                assert_eq!(plaintext.as_slice(), b"hello Bob");
            }
            other => panic!("unexpected {other:?}"),
        }
        // Exactly once: the same envelope again is a duplicate.
        let again = to.decrypt(&from, envelope.message_type, &envelope.body, NOW, &mut rng);
        assert!(
            matches!(
                again,
                Err(Error::Session(hush_ratchet::Error::DuplicateMessage { .. }))
            ),
            "{again:?}"
        );
    }

    // Bob's second device replies: Alice's two devices and Bob's other two get it.
    let reply = send(&bob[1], "alice", b"hi Alice", &mut server, &mut rng);
    assert_eq!(
        reply.iter().map(|e| e.to.clone()).collect::<BTreeSet<_>>(),
        [
            addr("alice", 1),
            addr("alice", 2),
            addr("bob", 1),
            addr("bob", 3)
        ]
        .into_iter()
        .collect()
    );
    for envelope in &reply {
        let to = find(&all, &envelope.to);
        let got = to
            .decrypt(
                bob[1].address(),
                envelope.message_type,
                &envelope.body,
                NOW,
                &mut rng,
            )
            .unwrap();
        assert_eq!(text(&got.kind), b"hi Alice");
        // The session with alice.1 existed (alice.1 started it): a normal message.
        if envelope.to == addr("alice", 1) {
            assert_eq!(envelope.message_type, 2);
        }
    }

    // Alice needs no bundle now, and bob.2 (who answered) gets a normal message.
    assert!(
        alice[0]
            .prepare_send("bob", NOW, &mut rng)
            .unwrap()
            .need_bundles
            .is_empty()
    );
    let second = alice[0]
        .encrypt("bob", b"again", &[], NOW, &mut rng)
        .unwrap();
    assert_eq!(second.len(), 4);
    for envelope in &second {
        if envelope.to == addr("bob", 2) {
            assert_eq!(envelope.message_type, 2);
        }
        let to = find(&all, &envelope.to);
        let got = to
            .decrypt(&from, envelope.message_type, &envelope.body, NOW, &mut rng)
            .unwrap();
        assert_eq!(text(&got.kind), b"again");
    }
}

/// The server's `DeviceLists::check_fan_out` passes every send of a device that holds
/// the current lists, and tells one holding a stale list which devices it missed or
/// should drop; after accepting the list it fetches again, the send passes.
#[test]
fn a_stale_sender_learns_from_the_server_which_devices_it_missed() {
    let World {
        mut rng,
        mut server,
        alice,
        bob,
    } = world(70);
    let lists = hush::server::DeviceLists::new();
    for devices in [&alice, &bob] {
        let user = devices[0].address().name();
        lists
            .register_account(user, *devices[0].account_key())
            .unwrap();
        lists
            .upload(user, &devices[0].own_device_list().unwrap())
            .unwrap();
    }
    let check = |from: &Dev, envelopes: &[Envelope]| -> Result<(), Error> {
        for user in ["alice", "bob"] {
            let ids: Vec<u32> = envelopes
                .iter()
                .filter(|e| e.to.name() == user)
                .map(|e| e.to.device_id())
                .collect();
            lists.check_fan_out(from.address(), user, &ids, NOW)?;
        }
        Ok(())
    };
    for from in all(&alice, &bob) {
        let to = if from.address().name() == "alice" {
            "bob"
        } else {
            "alice"
        };
        check(from, &send(from, to, b"in sync", &mut server, &mut rng)).unwrap();
    }

    // Bob links device 4; the server has the new list, Alice's phone does not yet.
    let identity = IdentityKeyPair::generate(&mut rng);
    let tablet = Device::create_companion(
        MemoryStore::new(),
        "bob",
        4,
        identity,
        *bob[0].account_key(),
        &mut rng,
    )
    .unwrap();
    let entry = tablet.membership_entry(NOW, &mut rng).unwrap();
    let with_tablet = bob[0].add_companion(entry, NOW, &mut rng).unwrap();
    tablet.accept_device_list("bob", &with_tablet, NOW).unwrap();
    let upload = tablet
        .generate_prekeys(&small_batch(), NOW, &mut rng)
        .unwrap();
    server.upload(&tablet, &upload, &mut rng);
    lists.upload("bob", &with_tablet).unwrap();
    let stale = send(&alice[0], "bob", b"stale", &mut server, &mut rng);
    assert_eq!(
        check(&alice[0], &stale),
        Err(Error::MismatchedDevices {
            user: "bob".to_owned(),
            missing: vec![4],
            extra: vec![],
        })
    );
    // Alice's phone fetches the list, accepts it and sends again.
    let fetched = lists.fetch("bob").unwrap();
    alice[0].accept_device_list("bob", &fetched, NOW).unwrap();
    let fresh = send(&alice[0], "bob", b"fresh", &mut server, &mut rng);
    check(&alice[0], &fresh).unwrap();
    assert!(fresh.iter().any(|e| e.to == addr("bob", 4)));

    // Bob removes device 2: a sender still holding the old list addresses it.
    let without_two = bob[0].remove_companion(2, NOW, &mut rng).unwrap();
    lists.upload("bob", &without_two).unwrap();
    assert_eq!(
        check(
            &alice[0],
            &send(&alice[0], "bob", b"stale", &mut server, &mut rng)
        ),
        Err(Error::MismatchedDevices {
            user: "bob".to_owned(),
            missing: vec![],
            extra: vec![2],
        })
    );
    alice[0]
        .accept_device_list("bob", &lists.fetch("bob").unwrap(), NOW)
        .unwrap();
    check(
        &alice[0],
        &send(&alice[0], "bob", b"fresh", &mut server, &mut rng),
    )
    .unwrap();
}

#[test]
fn missing_bundle_stops_the_whole_send() {
    let World {
        mut rng,
        mut server,
        alice,
        ..
    } = world(2);
    let before = snap(&server, &alice[0]);
    let mut bundles = server.bundles(&[addr("bob", 1), addr("bob", 2), addr("alice", 2)]);
    let result = alice[0].encrypt("bob", b"x", &as_refs(&bundles), NOW, &mut rng);
    assert_eq!(
        result,
        Err(Error::MissingBundle {
            address: addr("bob", 3)
        })
    );
    assert_eq!(snap(&server, &alice[0]), before);
    bundles.extend(server.bundles(&[addr("bob", 3)]));
    assert_eq!(
        alice[0]
            .encrypt("bob", b"x", &as_refs(&bundles), NOW, &mut rng)
            .unwrap()
            .len(),
        4
    );
}

#[test]
fn a_device_not_on_the_list_never_receives_and_is_refused() {
    let World {
        mut rng,
        mut server,
        alice,
        bob,
    } = world(3);
    // A device claiming to be bob.4, never added to Bob's list.
    let rogue_identity = IdentityKeyPair::generate(&mut rng);
    let rogue = Device::create_companion(
        MemoryStore::new(),
        "bob",
        4,
        rogue_identity,
        *bob[0].account_key(),
        &mut rng,
    )
    .unwrap();
    let upload = rogue
        .generate_prekeys(&small_batch(), NOW, &mut rng)
        .unwrap();
    server.upload(&rogue, &upload, &mut rng);
    rogue
        .accept_device_list("bob", &bob[0].own_device_list().unwrap(), NOW)
        .unwrap();
    learn(std::slice::from_ref(&rogue), &alice);

    // Alice never sends to it.
    let plan = alice[0].prepare_send("bob", NOW, &mut rng).unwrap();
    assert!(!plan.need_bundles.contains(&addr("bob", 4)));
    let envelopes = send(&alice[0], "bob", b"hi", &mut server, &mut rng);
    assert!(envelopes.iter().all(|e| e.to != addr("bob", 4)));

    // Its messages are refused, and change nothing.
    let from_rogue = send(&rogue, "alice", b"trust me", &mut server, &mut rng);
    let to_alice = from_rogue
        .iter()
        .find(|e| e.to == addr("alice", 1))
        .unwrap();
    let before = snap(&server, &alice[0]);
    let got = alice[0].decrypt(
        rogue.address(),
        to_alice.message_type,
        &to_alice.body,
        NOW,
        &mut rng,
    );
    assert_eq!(
        got,
        Err(Error::UntrustedDevice {
            address: addr("bob", 4)
        })
    );
    assert_eq!(snap(&server, &alice[0]), before);

    // A message from bob.1's session presented as coming from bob.2 is refused too.
    let genuine = send(&bob[0], "alice", b"from 1", &mut server, &mut rng);
    let e = genuine.iter().find(|e| e.to == addr("alice", 1)).unwrap();
    let got = alice[0].decrypt(&addr("bob", 2), e.message_type, &e.body, NOW, &mut rng);
    assert_eq!(
        got,
        Err(Error::UntrustedDevice {
            address: addr("bob", 2)
        })
    );
    assert_eq!(snap(&server, &alice[0]), before);

    // A user whose list was never accepted: NoDeviceList, nothing stored.
    let mut carol = account("carol", 0, &mut server, &mut rng);
    learn(&carol, &alice);
    let from_carol = send(&carol[0], "alice", b"hey", &mut server, &mut rng);
    let e = from_carol
        .iter()
        .find(|e| e.to == addr("alice", 1))
        .unwrap();
    let got = alice[0].decrypt(carol[0].address(), e.message_type, &e.body, NOW, &mut rng);
    assert_eq!(got, Err(Error::NoDeviceList));
    assert_eq!(snap(&server, &alice[0]), before);
    // After accepting Carol's list the same bytes decrypt.
    learn(&alice[..1], &carol[..]);
    let got = alice[0]
        .decrypt(carol[0].address(), e.message_type, &e.body, NOW, &mut rng)
        .unwrap();
    assert_eq!(text(&got.kind), b"hey");
    // A sent transcript from another account is refused.
    drop(carol.pop());
}

#[test]
fn failed_decrypts_leave_the_store_unchanged() {
    let World {
        mut rng,
        mut server,
        alice,
        bob,
    } = world(4);
    let from = alice[0].address().clone();
    let first = send(&alice[0], "bob", b"one", &mut server, &mut rng);
    let e = first
        .iter()
        .find(|e| e.to == addr("bob", 1))
        .unwrap()
        .clone();
    let bob1 = &bob[0];

    // Tampered first message (would consume prekeys if it were accepted), garbage, a
    // wrong type.
    let before = snap(&server, bob1);
    let mut tampered = e.body.clone();
    let last = tampered.len() - 3;
    tampered[last] ^= 1;
    for (message_type, body) in [
        (3, tampered.clone()),
        (3, vec![0x44; 40]),
        (2, vec![]),
        (2, e.body.clone()),
        (7, e.body.clone()),
        (3, e.body[..e.body.len() - 1].to_vec()),
    ] {
        assert!(
            bob1.decrypt(&from, message_type, &body, NOW, &mut rng)
                .is_err()
        );
        assert_eq!(snap(&server, bob1), before, "type {message_type}");
    }
    bob1.decrypt(&from, e.message_type, &e.body, NOW, &mut rng)
        .unwrap();
    assert_ne!(snap(&server, bob1), before);

    // Replay, and a tampered normal message, after the session exists.
    let after = snap(&server, bob1);
    assert!(
        bob1.decrypt(&from, e.message_type, &e.body, NOW, &mut rng)
            .is_err()
    );
    assert_eq!(snap(&server, bob1), after);
    let reply = send(bob1, "alice", b"ack", &mut server, &mut rng);
    let to_alice = reply.iter().find(|e| e.to == from).unwrap();
    alice[0]
        .decrypt(
            bob1.address(),
            to_alice.message_type,
            &to_alice.body,
            NOW,
            &mut rng,
        )
        .unwrap();
    let normal = send(&alice[0], "bob", b"two", &mut server, &mut rng);
    let n = normal.iter().find(|e| e.to == addr("bob", 1)).unwrap();
    assert_eq!(n.message_type, 2);
    let before = snap(&server, bob1);
    for i in [0, n.body.len() / 2, n.body.len() - 1] {
        let mut body = n.body.clone();
        body[i] ^= 0x80;
        assert!(bob1.decrypt(&from, 2, &body, NOW, &mut rng).is_err());
        assert_eq!(snap(&server, bob1), before);
    }
    let got = bob1.decrypt(&from, 2, &n.body, NOW, &mut rng).unwrap();
    assert_eq!(text(&got.kind), b"two");
    assert_eq!(
        bob1.decrypt(&from, 2, &n.body, NOW, &mut rng),
        Err(Error::Session(hush_ratchet::Error::DuplicateMessage {
            // Bob's reply ratcheted Alice onto a new chain: her next message is its first.
            counter: 0
        }))
    );
}

#[test]
fn one_time_prekeys_are_consumed_exactly_once() {
    let World {
        mut rng,
        mut server,
        alice,
        bob,
    } = world(5);
    let count = |d: &Dev| {
        let mut tx = d.store().transaction().unwrap();
        (
            tx.one_time_prekey_count().unwrap(),
            tx.kem_prekey_ids().unwrap().len(),
        )
    };
    let bob1 = &bob[0];
    assert_eq!(count(bob1), (4, 3));
    let mut bundle_ids = Vec::new();
    for sender in &alice {
        let plan = sender.prepare_send("bob", NOW, &mut rng).unwrap();
        let bundles = server.bundles(&plan.need_bundles);
        let b1 = hush_prekey::PreKeyBundle::decode(
            &bundles
                .iter()
                .find(|(a, _)| *a == addr("bob", 1))
                .unwrap()
                .1,
        )
        .unwrap();
        let one_time = b1.one_time_prekey().unwrap().id();
        bundle_ids.push((one_time, b1.kem_prekey_id()));
        let envelopes = sender
            .encrypt("bob", b"x", &as_refs(&bundles), NOW, &mut rng)
            .unwrap();
        let e = envelopes.iter().find(|e| e.to == addr("bob", 1)).unwrap();
        bob1.decrypt(sender.address(), 3, &e.body, NOW, &mut rng)
            .unwrap();
        let mut tx = bob1.store().transaction().unwrap();
        assert!(tx.one_time_prekey(one_time).unwrap().is_none());
        assert!(tx.kem_prekey(b1.kem_prekey_id()).unwrap().is_none());
        drop(tx);
        // A second copy of the same first message consumes nothing more.
        assert!(
            bob1.decrypt(sender.address(), 3, &e.body, NOW, &mut rng)
                .is_err()
        );
    }
    assert_ne!(bundle_ids[0], bundle_ids[1]);
    assert_eq!(count(bob1), (2, 1));
}

#[test]
fn last_resort_first_message_is_refused_the_second_time() {
    let World {
        mut rng,
        mut server,
        alice,
        bob,
    } = world(6);
    // Drain bob.1's one-time keys on the server: the next bundle has none and carries
    // the last-resort KEM key.
    for _ in 0..4 {
        server.bundle(&addr("bob", 1));
    }
    let bundle = server.bundle(&addr("bob", 1));
    let decoded = hush_prekey::PreKeyBundle::decode(&bundle).unwrap();
    assert!(decoded.one_time_prekey().is_none());
    let mut bundles = vec![(addr("bob", 1), bundle)];
    bundles.extend(server.bundles(&[addr("bob", 2), addr("bob", 3), addr("alice", 2)]));
    let envelopes = alice[0]
        .encrypt("bob", b"lr", &as_refs(&bundles), NOW, &mut rng)
        .unwrap();
    let e = envelopes.iter().find(|e| e.to == addr("bob", 1)).unwrap();
    let bob1 = &bob[0];
    let from = alice[0].address().clone();
    bob1.decrypt(&from, 3, &e.body, NOW, &mut rng).unwrap();
    // The last-resort key stays.
    let mut tx = bob1.store().transaction().unwrap();
    assert!(tx.kem_prekey(decoded.kem_prekey_id()).unwrap().is_some());
    // Forget the session, as if it had been archived away: the replay must still fail.
    tx.remove_session(&from).unwrap();
    tx.commit().unwrap();
    assert_eq!(
        bob1.decrypt(&from, 3, &e.body, NOW, &mut rng),
        Err(Error::Session(hush_ratchet::Error::ReusedBaseKey))
    );
}

#[test]
fn bundle_with_another_identity_is_refused() {
    let World {
        mut rng,
        mut server,
        alice,
        ..
    } = world(7);
    let mut mallory = account("mallory", 0, &mut server, &mut rng);
    let before = snap(&server, &alice[0]);
    let mut bundles = server.bundles(&[addr("bob", 2), addr("bob", 3), addr("alice", 2)]);
    // Mallory's bundle (device id 1, her identity) offered as bob.1's.
    bundles.push((addr("bob", 1), server.bundle(&addr("mallory", 1))));
    assert_eq!(
        alice[0].encrypt("bob", b"x", &as_refs(&bundles), NOW, &mut rng),
        Err(Error::UntrustedDevice {
            address: addr("bob", 1)
        })
    );
    // bob.2's bundle offered as bob.1's: wrong device id.
    let last = bundles.len() - 1;
    bundles[last].1 = server.bundle(&addr("bob", 2));
    assert!(matches!(
        alice[0].encrypt("bob", b"x", &as_refs(&bundles), NOW, &mut rng),
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(snap(&server, &alice[0]), before);
    drop(mallory.pop());
}

#[test]
fn identity_changes_surface_and_commit_nothing() {
    let World {
        mut rng,
        mut server,
        alice,
        bob,
    } = world(8);
    // Sessions both ways between alice.1 and bob.3.
    let first = send(&alice[0], "bob", b"one", &mut server, &mut rng);
    let e = first.iter().find(|e| e.to == addr("bob", 3)).unwrap();
    bob[2]
        .decrypt(alice[0].address(), 3, &e.body, NOW, &mut rng)
        .unwrap();

    // Bob's primary replaces device 3 with a new device (new identity key) under the
    // same id; Alice accepts the new list (same account key, higher version).
    let new_identity = IdentityKeyPair::generate(&mut rng);
    let new3 = Device::create_companion(
        MemoryStore::new(),
        "bob",
        3,
        new_identity,
        *bob[0].account_key(),
        &mut rng,
    )
    .unwrap();
    bob[0].remove_companion(3, NOW, &mut rng).unwrap();
    let entry = new3.membership_entry(NOW, &mut rng).unwrap();
    let new_key = entry.identity_key;
    let list = bob[0].add_companion(entry, NOW, &mut rng).unwrap();
    new3.accept_device_list("bob", &list, NOW).unwrap();
    let upload = new3
        .generate_prekeys(&small_batch(), NOW, &mut rng)
        .unwrap();
    server.keys.remove(&addr("bob", 3));
    server.upload(&new3, &upload, &mut rng);
    learn(&alice, &bob);
    learn(std::slice::from_ref(&new3), &alice);

    // Sending: refused for bob.3, nothing stored.
    let before = snap(&server, &alice[0]);
    let bundles = server.bundles(&[addr("bob", 3)]);
    let changed = Err(Error::IdentityChanged {
        address: addr("bob", 3),
        identity_key: new3.identity_key(),
    });
    assert_eq!(
        alice[0].encrypt("bob", b"two", &as_refs(&bundles), NOW, &mut rng),
        changed
    );
    assert_eq!(snap(&server, &alice[0]), before);

    // Receiving from the new device: refused, nothing stored.
    let from_new = send(&new3, "alice", b"new me", &mut server, &mut rng);
    let e = from_new.iter().find(|e| e.to == addr("alice", 1)).unwrap();
    assert_eq!(
        alice[0].decrypt(new3.address(), 3, &e.body, NOW, &mut rng),
        changed
            .clone()
            .map(|_: Vec<Envelope>| unreachable_received())
    );
    assert_eq!(snap(&server, &alice[0]), before);

    // The person accepts: both directions work.
    alice[0].accept_identity(&addr("bob", 3), &new_key).unwrap();
    let got = alice[0]
        .decrypt(new3.address(), 3, &e.body, NOW, &mut rng)
        .unwrap();
    assert_eq!(text(&got.kind), b"new me");
    let out = alice[0]
        .encrypt("bob", b"welcome", &[], NOW, &mut rng)
        .unwrap();
    let e = out.iter().find(|e| e.to == addr("bob", 3)).unwrap();
    let got = new3
        .decrypt(alice[0].address(), e.message_type, &e.body, NOW, &mut rng)
        .unwrap();
    assert_eq!(text(&got.kind), b"welcome");
}

fn unreachable_received() -> hush::Received {
    unreachable!("only used to type an Err")
}

#[test]
fn account_key_change_is_refused_until_accepted() {
    let World {
        mut rng,
        server,
        alice,
        bob,
    } = world(9);
    // Bob reinstalls: a new account key signs a new list.
    let mut other_server = Server::default();
    let new_bob = account("bob", 0, &mut other_server, &mut rng);
    let list = new_bob[0].own_device_list().unwrap();
    let before = snap(&server, &alice[0]);
    assert_eq!(
        alice[0].accept_device_list("bob", &list, NOW),
        Err(Error::Device(hush_device::Error::IdentityChanged))
    );
    assert_eq!(snap(&server, &alice[0]), before);
    // Rollback: an older list of the old account is refused too.
    let old = bob[0].own_device_list().unwrap();
    bob[0].remove_companion(2, NOW, &mut rng).unwrap();
    learn(&alice, &bob);
    assert!(matches!(
        alice[0].accept_device_list("bob", &old, NOW),
        Err(Error::Device(hush_device::Error::Rollback { .. }))
    ));
    // Accepting the change.
    let to = alice[0]
        .accept_changed_device_list("bob", &list, NOW)
        .unwrap();
    assert_eq!(to, vec![addr("bob", 1)]);
    assert_eq!(
        alice[0]
            .prepare_send("bob", NOW, &mut rng)
            .unwrap()
            .need_bundles,
        vec![addr("bob", 1), addr("alice", 2)]
    );
}

#[test]
fn prekey_rotation_follows_the_policy() {
    let mut rng = test_rng(12);
    let device = Device::create_account(MemoryStore::new(), "dora", NOW, &mut rng).unwrap();
    let mut policy = RotationPolicy::default();
    policy.one_time_low_water = 2;
    policy.one_time_target = 3;
    let counts = PreKeyCounts {
        one_time: 5,
        kem: 5,
    };
    // No keys at all: a signed prekey and a last-resort KEM key are due.
    let first = device
        .rotate_prekeys(&policy, counts, NOW, &mut rng)
        .unwrap()
        .unwrap();
    let upload = PreKeyUpload::decode(&first, &UploadPolicy::default()).unwrap();
    assert!(upload.signed_prekey().is_some());
    assert!(upload.last_resort_kem_prekey().is_some());
    assert!(upload.one_time_prekeys().is_empty());
    let first_signed = upload.signed_prekey().unwrap().id();
    // Nothing due a day later with enough one-time keys on the server.
    assert_eq!(
        device
            .rotate_prekeys(&policy, counts, NOW + DAY, &mut rng)
            .unwrap(),
        None
    );
    // Server running low: replenish up to the target, no new signed key.
    let low = PreKeyCounts {
        one_time: 1,
        kem: 0,
    };
    let refill = device
        .rotate_prekeys(&policy, low, NOW + DAY, &mut rng)
        .unwrap()
        .unwrap();
    let upload = PreKeyUpload::decode(&refill, &UploadPolicy::default()).unwrap();
    assert!(upload.signed_prekey().is_none());
    assert_eq!(upload.one_time_prekeys().len(), 2);
    assert_eq!(upload.kem_prekeys().len(), 3);
    // Two days on: a new signed key; the old one is kept for the grace period...
    let rotated = device
        .rotate_prekeys(&policy, counts, NOW + 2 * DAY, &mut rng)
        .unwrap()
        .unwrap();
    let upload = PreKeyUpload::decode(&rotated, &UploadPolicy::default()).unwrap();
    assert_ne!(upload.signed_prekey().unwrap().id(), first_signed);
    let ids = |d: &Dev| {
        d.store()
            .transaction()
            .unwrap()
            .signed_prekey_ids()
            .unwrap()
    };
    assert_eq!(ids(&device).len(), 2);
    // ...and deleted once it is over (the rotation then also makes a new key).
    device
        .rotate_prekeys(&policy, counts, NOW + 40 * DAY, &mut rng)
        .unwrap();
    let left = ids(&device);
    assert!(!left.contains(&first_signed), "{left:?}");
}

#[test]
fn accounts_open_and_refuse_bad_arguments() {
    let mut rng = test_rng(13);
    assert!(matches!(
        Device::open(MemoryStore::new()),
        Err(Error::NoAccount)
    ));
    assert!(matches!(
        Device::create_account(MemoryStore::new(), "", NOW, &mut rng),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        Device::create_account(MemoryStore::new(), &"x".repeat(65), NOW, &mut rng),
        Err(Error::InvalidArgument(_))
    ));
    let device = Device::create_account(MemoryStore::new(), "erin", NOW, &mut rng).unwrap();
    let key = device.identity_key();
    assert_eq!(*device.account_key(), key);
    assert_eq!(device.address(), &addr("erin", 1));
    assert!((1..=16_380).contains(&device.registration_id()));
    let debug = format!("{device:?}");
    assert!(
        debug.starts_with("Device { address: DeviceAddress(erin.1), identity_key: "),
        "{debug}"
    );
    assert!(debug.ends_with(", .. }"), "{debug}");
    // Reopening the same store gives the same device.
    let store = MemoryStore::new();
    let created = Device::create_account(store, "fred", NOW, &mut rng).unwrap();
    let key = created.identity_key();
    let list = created.own_device_list().unwrap();
    // A store moves into its device; simulate reopening through a fresh device on a
    // store that already has an account.
    let mut tx = created.store().transaction().unwrap();
    assert!(tx.local_account().unwrap().is_some());
    drop(tx);
    assert_eq!(
        hush_device::SignedDeviceList::decode(&list)
            .unwrap()
            .devices()[0]
            .identity_key,
        key
    );
    assert!(matches!(
        created.encrypt("nobody", b"x", &[], NOW, &mut rng),
        Err(Error::NoDeviceList)
    ));
    assert!(matches!(
        created.encrypt(
            "fred",
            &vec![0; hush::limits::MAX_PLAINTEXT_LEN + 1],
            &[],
            NOW,
            &mut rng
        ),
        Err(Error::InvalidArgument(_))
    ));
    // A companion refuses an own-account list signed by another account key.
    let stranger = Device::create_companion(
        MemoryStore::new(),
        "fred",
        2,
        IdentityKeyPair::generate(&mut rng),
        key,
        &mut rng,
    )
    .unwrap();
    let other = Device::create_account(MemoryStore::new(), "fred", NOW, &mut rng).unwrap();
    assert_eq!(
        stranger.accept_device_list("fred", &other.own_device_list().unwrap(), NOW),
        Err(Error::Device(hush_device::Error::IdentityChanged))
    );
    assert!(matches!(
        stranger.own_device_list(),
        Err(Error::NoDeviceList)
    ));
    assert_eq!(
        stranger.accept_device_list("fred", &list, NOW).unwrap(),
        vec![addr("fred", 1)]
    );
    let entry = stranger.membership_entry(NOW, &mut rng).unwrap();
    assert!(matches!(
        stranger.add_companion(entry, NOW, &mut rng),
        Err(Error::InvalidArgument(_))
    ));
    // A note to self with no other device sends nothing.
    assert!(
        created
            .encrypt("fred", b"note", &[], NOW, &mut rng)
            .unwrap()
            .is_empty()
    );
}

/// One message in flight: who sent it, the envelope, and what the receiver must see.
struct InFlight {
    from: Address,
    envelope: Envelope,
    text: Vec<u8>,
    transcript: bool,
}

fn shuffle<T>(items: &mut [T], rng: &mut ChaCha20Rng) {
    use rand_core::Rng as _;
    for i in (1..items.len()).rev() {
        let j = usize::try_from(rng.next_u64() % (i as u64 + 1)).unwrap();
        items.swap(i, j);
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(12))]

    /// Random sends between Alice's 2 and Bob's 3 devices, delivered in random order,
    /// some late, some never: every delivered message decrypts exactly once to what was
    /// sent, every second copy is refused, and nothing is lost for later messages.
    #[test]
    fn random_sends_and_deliveries_are_exactly_once(
        seed in 100u64..10_000,
        rounds in proptest::collection::vec(
            (
                proptest::collection::vec(0usize..5, 1..4),
                proptest::collection::vec(0u8..4, 12),
            ),
            1..4,
        ),
    ) {
        let World { mut rng, mut server, alice, bob } = world(seed);
        let devices = all(&alice, &bob);
        let mut pool: Vec<InFlight> = Vec::new();
        let mut counter = 0u32;
        let mut delivered = 0usize;
        for (senders, actions) in &rounds {
            for &s in senders {
                let sender = devices[s];
                let to_user = if sender.address().name() == "alice" { "bob" } else { "alice" };
                counter += 1;
                let text = format!("message {counter}").into_bytes();
                for envelope in send(sender, to_user, &text, &mut server, &mut rng) {
                    let transcript = envelope.to.name() == sender.address().name();
                    pool.push(InFlight {
                        from: sender.address().clone(),
                        envelope,
                        text: text.clone(),
                        transcript,
                    });
                }
            }
            shuffle(&mut pool, &mut rng);
            let mut kept = Vec::new();
            for (i, message) in pool.drain(..).enumerate() {
                match actions[i % actions.len()] {
                    0 => kept.push(message),
                    1 => {} // lost
                    _ => {
                        deliver_twice(&devices, &message, &mut rng);
                        delivered += 1;
                    }
                }
            }
            pool = kept;
        }
        for message in &pool {
            deliver_twice(&devices, message, &mut rng);
            delivered += 1;
        }
        proptest::prop_assert!(delivered <= usize::try_from(counter).unwrap() * 4);
    }
}

fn deliver_twice(devices: &[&Dev], message: &InFlight, rng: &mut ChaCha20Rng) {
    let to = find(devices, &message.envelope.to);
    let e = &message.envelope;
    let got = to
        .decrypt(&message.from, e.message_type, &e.body, NOW, rng)
        .unwrap();
    assert_eq!(got.from, message.from);
    assert_eq!(text(&got.kind), message.text);
    assert_eq!(
        matches!(got.kind, ReceivedKind::SentTranscript { .. }),
        message.transcript
    );
    assert!(
        to.decrypt(&message.from, e.message_type, &e.body, NOW, rng)
            .is_err()
    );
}

/// The primary that replaces a companion under its old device id linked the new device
/// itself: its own sends (sent transcripts) go to the new device at once, with no
/// identity change to accept; other devices of the account still ask.
#[test]
fn a_primary_sends_to_the_companion_it_just_linked_under_a_reused_id() {
    let World {
        mut rng,
        mut server,
        alice,
        bob,
    } = world(30);
    send(&bob[0], "alice", b"before", &mut server, &mut rng);
    send(&bob[1], "alice", b"before, too", &mut server, &mut rng);
    bob[0].remove_companion(3, NOW, &mut rng).unwrap();
    let new3 = Device::create_companion(
        MemoryStore::new(),
        "bob",
        3,
        IdentityKeyPair::generate(&mut rng),
        *bob[0].account_key(),
        &mut rng,
    )
    .unwrap();
    let entry = new3.membership_entry(NOW, &mut rng).unwrap();
    let list = bob[0].add_companion(entry, NOW, &mut rng).unwrap();
    new3.accept_device_list("bob", &list, NOW).unwrap();
    let upload = new3
        .generate_prekeys(&small_batch(), NOW, &mut rng)
        .unwrap();
    server.upload(&new3, &upload, &mut rng);
    learn(&alice, &bob);
    bob[1].accept_device_list("bob", &list, NOW).unwrap();

    let envelopes = send(&bob[0], "alice", b"after", &mut server, &mut rng);
    assert!(envelopes.iter().any(|e| e.to == addr("bob", 3)));
    let plan = bob[1].prepare_send("alice", NOW, &mut rng).unwrap();
    let bundles = server.bundles(&plan.need_bundles);
    let other = bob[1].encrypt("alice", b"x", &as_refs(&bundles), NOW, &mut rng);
    assert!(
        matches!(other, Err(Error::IdentityChanged { ref address, .. }) if *address == addr("bob", 3)),
        "{other:?}"
    );
}

/// Safety numbers cover the account keys: every device of both accounts shows the same
/// digits, linking a device changes nothing, and a restore under a new account key does.
#[test]
fn safety_numbers_are_per_account_and_change_with_the_account_key() {
    let World {
        mut rng,
        mut server,
        alice,
        bob,
    } = world(31);
    let digits = alice[0].safety_number("bob").unwrap().digits();
    assert_eq!(digits.len(), 60);
    assert!(digits.bytes().all(|b| b.is_ascii_digit()));
    for device in &alice {
        assert_eq!(device.safety_number("bob").unwrap().digits(), digits);
    }
    for device in &bob {
        let theirs = device.safety_number("alice").unwrap();
        assert_eq!(theirs.digits(), digits);
        assert!(
            alice[1]
                .safety_number("bob")
                .unwrap()
                .matches_scanned(&theirs.scannable())
                .unwrap()
        );
    }
    // A scan of another conversation does not match.
    let carol = account("carol", 0, &mut server, &mut rng);
    learn(&carol, &alice);
    let other = carol[0].safety_number("alice").unwrap();
    assert!(
        !alice[0]
            .safety_number("bob")
            .unwrap()
            .matches_scanned(&other.scannable())
            .unwrap()
    );
    // Bob restores under a new account key: the number changes once Alice accepts it.
    let new_bob = account("bob", 0, &mut server, &mut rng);
    alice[0]
        .accept_changed_device_list("bob", &new_bob[0].own_device_list().unwrap(), NOW)
        .unwrap();
    assert_ne!(alice[0].safety_number("bob").unwrap().digits(), digits);
    // Nothing to compare with oneself, or with a user whose list is unknown.
    assert!(matches!(
        alice[0].safety_number("alice"),
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(
        alice[0].safety_number("dave").unwrap_err(),
        Error::NoDeviceList
    );
}

/// Sessions run the post-quantum ratchet by default: every envelope carries an SPQR
/// payload. A device whose policy turns SPQR off is refused by one that requires it (as
/// libsignal v0.101 refuses a peer without SPQR), with nothing stored; under the policy
/// that allows sessions without SPQR the same first message is accepted and the session
/// works both ways.
#[test]
fn sessions_run_spqr_by_default_and_the_policy_is_a_knob() {
    let World {
        mut rng,
        mut server,
        mut alice,
        mut bob,
    } = world(81);
    assert_eq!(alice[0].spqr_policy(), hush_ratchet::SpqrPolicy::Required);
    let inner = |envelope: &Envelope| match hush_ratchet::CiphertextMessage::decode(
        envelope.message_type,
        &envelope.body,
    )
    .unwrap()
    {
        hush_ratchet::CiphertextMessage::Signal(m) => m,
        hush_ratchet::CiphertextMessage::PreKey(m) => m.message().clone(),
    };
    for envelope in send(&alice[0], "bob", b"post-quantum", &mut server, &mut rng) {
        assert!(!inner(&envelope).pq_ratchet().is_empty());
    }

    bob[1].set_spqr_policy(hush_ratchet::SpqrPolicy::Off);
    let envelopes = send(&bob[1], "alice", b"no SPQR here", &mut server, &mut rng);
    let to_alice = envelopes.iter().find(|e| e.to == addr("alice", 2)).unwrap();
    assert!(inner(to_alice).pq_ratchet().is_empty());
    let from = bob[1].address().clone();
    let before = snap(&server, &alice[1]);
    let refused = alice[1].decrypt(&from, to_alice.message_type, &to_alice.body, NOW, &mut rng);
    assert!(
        matches!(
            refused,
            Err(Error::Session(hush_ratchet::Error::SpqrRequired))
        ),
        "{refused:?}"
    );
    assert_eq!(snap(&server, &alice[1]), before);

    alice[1].set_spqr_policy(hush_ratchet::SpqrPolicy::Allowed);
    let got = alice[1]
        .decrypt(&from, to_alice.message_type, &to_alice.body, NOW, &mut rng)
        .unwrap();
    assert_eq!(text(&got.kind), b"no SPQR here");
    let reply = send(&alice[1], "bob", b"fine, without", &mut server, &mut rng);
    let to_bob = reply.iter().find(|e| e.to == from).unwrap();
    assert!(inner(to_bob).pq_ratchet().is_empty());
    let got = bob[1]
        .decrypt(
            alice[1].address(),
            to_bob.message_type,
            &to_bob.body,
            NOW,
            &mut rng,
        )
        .unwrap();
    assert_eq!(text(&got.kind), b"fine, without");
}
