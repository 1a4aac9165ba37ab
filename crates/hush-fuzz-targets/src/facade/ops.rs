//! The operations a script runs, and how its bytes pick them.

use std::collections::{BTreeSet, VecDeque};

use hush::{Address, Error};
use hush_group::SenderKeyMessage;

use super::fixture::fixture;
use super::model::{Body, Expect, InFlight, Run, accept, made};
use super::{
    GROUP_COUNT, NOW, SLOTS, USERS, bug, is_primary, must, primary_of, slot_of, user_name, user_of,
};

/// Reads the fuzzer's bytes one at a time; 0 once they run out.
pub(super) struct Script<'a> {
    pub(super) rest: &'a [u8],
}

impl Script<'_> {
    fn byte(&mut self) -> u8 {
        match self.rest.split_first() {
            Some((&first, rest)) => {
                self.rest = rest;
                first
            }
            None => 0,
        }
    }

    fn slot(&mut self) -> usize {
        usize::from(self.byte()) % SLOTS.len()
    }
}

impl Run {
    fn send(&mut self, from: usize, to_user: usize, extra: u8) {
        let id = self.take_id();
        let mut plaintext = format!("#{id} from {from}").into_bytes();
        plaintext.resize(plaintext.len() + usize::from(extra % 48), b'.');
        let name = user_name(to_user);
        self.ensure(from);
        let own_user = user_of(from);
        let mut expected: BTreeSet<usize> = self
            .list_of(own_user)
            .into_iter()
            .filter(|&s| s != from)
            .collect();
        if to_user != own_user {
            expected.extend(self.list_of(to_user));
        }
        let plan = {
            let Self { devices, rng, .. } = self;
            must(
                "prepare send",
                made(devices, from).prepare_send(name, NOW, rng),
            )
        };
        let bundles = self.bundles(&plan.need_bundles);
        let refs: Vec<(Address, &[u8])> = bundles
            .iter()
            .map(|(a, b)| (a.clone(), b.as_slice()))
            .collect();
        let result = {
            let Self { devices, rng, .. } = self;
            let device = made(devices, from);
            device.encrypt(name, &plaintext, &refs, NOW, rng)
        };
        // A device whose identity changed (replaced under its device id) and that the
        // sender has not accepted yet stops the whole send.
        let unaccepted = self.unaccepted(from, expected.iter().copied());
        if !unaccepted.is_empty() {
            self.expect_identity_changed("send", &result.map(|_| ()), &unaccepted);
            return;
        }
        let envelopes = must("encrypt", result);
        let got: BTreeSet<usize> = envelopes.iter().map(|e| slot_of(&e.to)).collect();
        assert_eq!(got, expected, "fan-out reached the wrong devices");
        assert_eq!(got.len(), envelopes.len(), "two envelopes for one device");
        for envelope in envelopes {
            let to = slot_of(&envelope.to);
            let expect = if user_of(to) == own_user {
                Expect::Transcript {
                    to_user,
                    plaintext: plaintext.clone(),
                }
            } else {
                Expect::Direct(plaintext.clone())
            };
            let id = self.take_id();
            self.push(InFlight {
                id,
                from,
                from_gen: self.gen_of(from),
                to,
                to_gen: self.gen_of(to),
                body: Body::Pairwise {
                    message_type: envelope.message_type,
                    bytes: envelope.body,
                    expect,
                },
            });
        }
    }

    /// `result` must be `IdentityChanged` for one of `unaccepted`, with the key it has
    /// now.
    fn expect_identity_changed(
        &self,
        what: &str,
        result: &Result<(), Error>,
        unaccepted: &BTreeSet<usize>,
    ) {
        match result {
            Err(Error::IdentityChanged {
                address,
                identity_key,
            }) => {
                let slot = slot_of(address);
                assert!(
                    unaccepted.contains(&slot),
                    "{what}: IdentityChanged for {address}, which was accepted"
                );
                assert_eq!(
                    *identity_key,
                    self.key_of(slot),
                    "{what}: IdentityChanged with another key"
                );
            }
            other => bug(&format!(
                "{what}: {other:?}, but the identities of {unaccepted:?} changed unaccepted"
            )),
        }
    }

    fn send_group(&mut self, from: usize, group: usize, extra: u8) {
        let fx = fixture();
        let Some(&distribution) = fx.groups.get(group) else {
            return;
        };
        let member_users = self.member_users(group);
        let members: Vec<&str> = member_users.iter().map(|&u| user_name(u)).collect();
        let id = self.take_id();
        let mut plaintext = format!("group {group} #{id} from {from}").into_bytes();
        plaintext.resize(plaintext.len() + usize::from(extra % 48), b'.');
        self.ensure(from);
        let own_user = user_of(from);
        let mut member_devices: BTreeSet<usize> = self
            .list_of(own_user)
            .into_iter()
            .filter(|&s| s != from)
            .collect();
        for &user in &member_users {
            if user != own_user {
                member_devices.extend(self.list_of(user));
            }
        }
        // Every member device's identity is checked, whether or not it needs the
        // sender key: a replaced device not accepted yet stops the send.
        let unaccepted = self.unaccepted(from, member_devices.iter().copied());
        let prepared = self
            .dev(from)
            .prepare_group_send(distribution, &members, NOW);
        if !unaccepted.is_empty() {
            self.expect_identity_changed("prepare group send", &prepared.map(|_| ()), &unaccepted);
            let refused = {
                let Self { devices, rng, .. } = self;
                made(devices, from)
                    .send_group(distribution, &members, &plaintext, &[], NOW, rng)
                    .map(|_| ())
            };
            self.expect_identity_changed("group send", &refused, &unaccepted);
            return;
        }
        let plan = must("prepare group send", prepared);
        let bundles = self.bundles(&plan.need_bundles);
        let refs: Vec<(Address, &[u8])> = bundles
            .iter()
            .map(|(a, b)| (a.clone(), b.as_slice()))
            .collect();
        let sent = {
            let Self { devices, rng, .. } = self;
            let device = made(devices, from);
            must(
                "group send",
                device.send_group(distribution, &members, &plaintext, &refs, NOW, rng),
            )
        };
        // Users the sender's tracker held who are no longer members: their chains are
        // gone from the sender's store.
        let others: BTreeSet<usize> = member_users
            .iter()
            .copied()
            .filter(|&u| u != own_user)
            .collect();
        let previous = self.tracked.insert((from, group), others.clone());
        for gone in previous.unwrap_or_default().difference(&others) {
            self.forget_chains(from, group, *gone);
        }
        let message = SenderKeyMessage::decode(&sent.group_message)
            .unwrap_or_else(|e| bug(&format!("own group message: {e:?}")));
        let (chain, iteration) = (message.chain_id(), message.iteration());
        // Member identities: a device replaced under its device id is another member.
        let intended = self.with_gen(member_devices.iter().copied());
        let distributed = self.with_gen(sent.distributions.iter().map(|e| slot_of(&e.to)));
        assert_eq!(
            distributed.len(),
            sent.distributions.len(),
            "two distributions for one device"
        );
        let expected = match self.given.get(&(from, group)) {
            Some((previous, given)) => {
                if !given.is_subset(&intended) {
                    assert_ne!(
                        *previous, chain,
                        "a device that was given the chain left the group (or its address \
                         took another identity) but the chain did not change"
                    );
                }
                if *previous == chain {
                    intended.difference(given).copied().collect()
                } else {
                    intended.clone()
                }
            }
            None => intended.clone(),
        };
        assert_eq!(
            distributed, expected,
            "distributions to the wrong member devices"
        );
        let entry = self
            .given
            .entry((from, group))
            .or_insert_with(|| (chain, BTreeSet::new()));
        if entry.0 != chain {
            *entry = (chain, BTreeSet::new());
        }
        entry.1.extend(distributed.iter().copied());
        let from_gen = self.gen_of(from);
        for envelope in sent.distributions {
            let id = self.take_id();
            let to = slot_of(&envelope.to);
            self.push(InFlight {
                id,
                from,
                from_gen,
                to,
                to_gen: self.gen_of(to),
                body: Body::Pairwise {
                    message_type: envelope.message_type,
                    bytes: envelope.body,
                    expect: Expect::Distribution {
                        group,
                        chain,
                        iteration,
                    },
                },
            });
        }
        let copy = |to: usize, to_gen: usize| InFlight {
            id,
            from,
            from_gen,
            to,
            to_gen,
            body: Body::Group {
                bytes: sent.group_message.clone(),
                group,
                chain,
                iteration,
                plaintext: plaintext.clone(),
                intended: intended.clone(),
            },
        };
        self.group_log.push(copy(from, from_gen));
        for &(to, to_gen) in &intended {
            self.push(copy(to, to_gen));
        }
    }

    fn toggle_member(&mut self, group: usize, user: usize, by: usize) {
        let fx = fixture();
        let Some(&distribution) = fx.groups.get(group) else {
            return;
        };
        let Some(flag) = self.members.get_mut(group).and_then(|m| m.get_mut(user)) else {
            return;
        };
        *flag = !*flag;
        if !*flag {
            self.ensure(by);
            must(
                "remove group member",
                self.dev(by)
                    .remove_group_member(distribution, user_name(user)),
            );
            self.forget_chains(by, group, user);
            if let Some(tracked) = self.tracked.get_mut(&(by, group)) {
                tracked.remove(&user);
            }
        }
    }

    fn toggle_link(&mut self, slot: usize) {
        if is_primary(slot) {
            return;
        }
        let user = user_of(slot);
        let primary = primary_of(user);
        let Some(&Some(entry)) = self.entries.get(slot) else {
            return;
        };
        self.ensure(primary);
        let list = {
            let Self {
                devices,
                rng,
                linked,
                ..
            } = self;
            let device = made(devices, primary);
            let flag = linked.get_mut(slot).unwrap_or_else(|| bug("slot"));
            let list = if *flag {
                device.remove_companion(entry.device_id, NOW, rng)
            } else {
                device.add_companion(entry, NOW, rng)
            };
            *flag = !*flag;
            must("link or unlink", list)
        };
        self.broadcast_list(user, list, &[primary]);
    }

    /// `user`'s new signed list: every device but `skip` accepts it (a device not made
    /// yet when it is made).
    pub(super) fn broadcast_list(&mut self, user: usize, list: Vec<u8>, skip: &[usize]) {
        let expected: BTreeSet<usize> = self.list_of(user);
        for other in 0..SLOTS.len() {
            if skip.contains(&other) {
                continue;
            }
            match self.devices.get(other).and_then(Option::as_ref) {
                Some(device) => accept(device, user, &list, &expected),
                None => {
                    if let Some(pending) = self.pending.get_mut(other) {
                        pending.push((user, list.clone(), expected.clone()));
                    }
                }
            }
        }
        if let Some(current) = self.lists.get_mut(user) {
            *current = list;
        }
    }

    /// Runs one operation: the opcode byte modulo 17 picks it, then its argument bytes
    /// (a slot is a byte modulo 8, an index a byte modulo the length of what it picks
    /// from):
    /// 0, 1 send (sender slot, recipient user, padding); 2 group send (sender slot,
    /// group, padding); 3 toggle group membership (group, user, device that records a
    /// removal); 4 link or unlink (companion slot; primaries are skipped); 5, 6 deliver
    /// the oldest queued (slot); 7 deliver at an index (slot, index); 8 drop (slot,
    /// index); 9 deliver again something already decrypted (slot, index); 10 misroute
    /// (queue slot, index, slot offset 1..=7); 11 name another sender (slot, index,
    /// sender offset 1..=7); 12 replace a companion under its device id (companion
    /// index, flags: bit 0 set when every other device accepts the new identity at
    /// once); 13 a device accepts a changed identity (slot, index among the replaced
    /// addresses); 14 a thief posts to a group (thief index, group, padding); 15 a thief
    /// tries to read (thief index, source: even for an envelope queued for its old
    /// address, odd for a group message from the log, index); 16 a group message from
    /// the log delivered to any device, member or not (slot, index).
    pub(super) fn step(&mut self, script: &mut Script<'_>) {
        let op = script.byte();
        match op % 17 {
            0 | 1 => {
                let from = script.slot();
                let to_user = usize::from(script.byte()) % USERS.len();
                let extra = script.byte();
                self.send(from, to_user, extra);
            }
            2 => {
                let from = script.slot();
                let group = usize::from(script.byte()) % GROUP_COUNT;
                let extra = script.byte();
                self.send_group(from, group, extra);
            }
            3 => {
                let group = usize::from(script.byte()) % GROUP_COUNT;
                let user = usize::from(script.byte()) % USERS.len();
                let by = script.slot();
                self.toggle_member(group, user, by);
            }
            4 => {
                let slot = script.slot();
                self.toggle_link(slot);
            }
            5 | 6 => {
                let at = script.slot();
                if let Some(item) = self.queues.get_mut(at).and_then(VecDeque::pop_front) {
                    self.deliver(&item, at, item.from);
                }
            }
            7 => {
                let at = script.slot();
                let pick = script.byte();
                if let Some(item) = take(self.queues.get_mut(at), pick) {
                    self.deliver(&item, at, item.from);
                }
            }
            8 => {
                let at = script.slot();
                let pick = script.byte();
                let _ = take(self.queues.get_mut(at), pick);
            }
            9 => {
                let at = script.slot();
                let pick = script.byte();
                let item = self.received.get(at).and_then(|list| {
                    let len = list.len();
                    (len > 0)
                        .then(|| list.get(usize::from(pick) % len))
                        .flatten()
                });
                if let Some(item) = item.cloned() {
                    self.deliver(&item, at, item.from);
                }
            }
            10 => {
                let from_queue = script.slot();
                let pick = script.byte();
                let shift = 1 + usize::from(script.byte()) % (SLOTS.len() - 1);
                if let Some(item) = peek(self.queues.get(from_queue), pick) {
                    self.deliver(&item, (from_queue + shift) % SLOTS.len(), item.from);
                }
            }
            11 => {
                let at = script.slot();
                let pick = script.byte();
                let shift = 1 + usize::from(script.byte()) % (SLOTS.len() - 1);
                if let Some(item) = peek(self.queues.get(at), pick) {
                    self.deliver(&item, at, (item.from + shift) % SLOTS.len());
                }
            }
            12 => {
                let companions: Vec<usize> = (0..SLOTS.len()).filter(|&s| !is_primary(s)).collect();
                let pick = usize::from(script.byte());
                let everyone_accepts = script.byte() & 1 == 1;
                if let Some(&slot) = companions.get(pick % companions.len().max(1)) {
                    self.replace_companion(slot, everyone_accepts);
                }
            }
            13 => {
                let device = script.slot();
                let pick = usize::from(script.byte());
                let replaced = self.replaced();
                if let Some(&other) = replaced.get(pick % replaced.len().max(1)) {
                    self.accept_identity(device, other);
                }
            }
            14 => {
                let pick = usize::from(script.byte());
                let group = usize::from(script.byte()) % GROUP_COUNT;
                let extra = script.byte();
                if !self.thieves.is_empty() {
                    self.thief_posts(pick % self.thieves.len(), group, extra);
                }
            }
            15 => {
                let pick = usize::from(script.byte());
                let source = script.byte();
                let index = script.byte();
                let Some(thief) = self
                    .thieves
                    .len()
                    .checked_sub(1)
                    .map(|last| pick % (last + 1))
                else {
                    return;
                };
                let slot = self.thieves.get(thief).map_or(0, |t| t.slot);
                let item = if source & 1 == 0 {
                    peek(self.queues.get(slot), index)
                } else {
                    pick_from(&self.group_log, index)
                };
                if let Some(item) = item {
                    self.thief_reads(thief, &item);
                }
            }
            _ => {
                let at = script.slot();
                let index = script.byte();
                if let Some(item) = pick_from(&self.group_log, index) {
                    self.deliver(&item, at, item.from);
                }
            }
        }
    }
}

/// Removes the `pick`-th (modulo the length) queued envelope, if there is one.
fn take(queue: Option<&mut VecDeque<InFlight>>, pick: u8) -> Option<InFlight> {
    let queue = queue?;
    if queue.is_empty() {
        return None;
    }
    queue.remove(usize::from(pick) % queue.len())
}

/// A copy of the `pick`-th (modulo the length) item of `items`.
fn pick_from(items: &[InFlight], pick: u8) -> Option<InFlight> {
    let len = items.len();
    (len > 0)
        .then(|| items.get(usize::from(pick) % len))
        .flatten()
        .cloned()
}

/// A copy of the `pick`-th (modulo the length) queued envelope, left in the queue.
fn peek(queue: Option<&VecDeque<InFlight>>, pick: u8) -> Option<InFlight> {
    let queue = queue?;
    if queue.is_empty() {
        return None;
    }
    queue.get(usize::from(pick) % queue.len()).cloned()
}
