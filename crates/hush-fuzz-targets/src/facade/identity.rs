//! Identity changes: a companion replaced by a new device under its device id, the
//! other devices accepting the new identity, and the replaced device kept by a thief who
//! tries to read and to post under its old address.

use std::collections::BTreeSet;

use hush::store::MemoryStore;
use hush::{Address, Device, GenerateRequest, ReceivedKind};
use hush_core::IdentityKeyPair;
use hush_group::SenderKeyMessage;
use hush_prekey::{DeviceKeys, UploadPolicy, validate_upload};

use super::fixture::{fixture, snapshot};
use super::model::{Body, Expect, InFlight, Run, Thief, accept};
use super::{
    NOW, SLOTS, USERS, address, bug, is_primary, must, primary_of, slot_of, user_name, user_of,
};

/// Most replacements one run makes: each costs a new identity, a prekey upload and, for
/// every device that talks to the new one, a key agreement.
pub(super) const MAX_REPLACEMENTS: usize = 2;

impl Run {
    /// The primary of `slot`'s user replaces the companion at `slot` with a new device
    /// under the same device id (removing the old one from the list first if it is
    /// on it): a new identity key, a new store, new prekeys on the server. Every other
    /// device accepts the new list; with `everyone_accepts` every other device also
    /// accepts the new identity at once, otherwise each must
    /// ([`Run::accept_identity`]) before it can send to it or read it. The old device
    /// becomes a [`Thief`].
    pub(super) fn replace_companion(&mut self, slot: usize, everyone_accepts: bool) {
        if is_primary(slot) || self.thieves.len() >= MAX_REPLACEMENTS {
            return;
        }
        let Some(device_id) = SLOTS.get(slot).map(|s| s.1) else {
            return;
        };
        let user = user_of(slot);
        let primary = primary_of(user);
        self.ensure(primary);
        self.ensure(slot);
        let identity = IdentityKeyPair::generate(&mut self.rng);
        let key = identity.identity_key();
        let was_linked = self.is_linked(slot);
        let (list, new, entry) = {
            let Self { devices, rng, .. } = self;
            let primary_device = devices
                .get(primary)
                .and_then(Option::as_ref)
                .unwrap_or_else(|| bug("primary not made"));
            if was_linked {
                must(
                    "unlink the replaced device",
                    primary_device.remove_companion(device_id, NOW, rng),
                );
            }
            let new = must(
                "create the replacement",
                Device::create_companion(
                    MemoryStore::new(),
                    user_name(user),
                    device_id,
                    identity,
                    *primary_device.account_key(),
                    rng,
                ),
            );
            let entry = must("entry", new.membership_entry(NOW, rng));
            let list = must(
                "link the replacement",
                primary_device.add_companion(entry, NOW, rng),
            );
            (list, new, entry)
        };
        let old_gen = self.gen_of(slot);
        if let (Some(linked), Some(generation), Some(current), Some(listed)) = (
            self.linked.get_mut(slot),
            self.generation.get_mut(slot),
            self.keys.get_mut(slot),
            self.entries.get_mut(slot),
        ) {
            *linked = true;
            *generation = old_gen + 1;
            *current = key;
            *listed = Some(entry);
        }
        // The primary linked the new device itself: it expects the new key at once.
        self.accepted.insert((primary, slot), old_gen + 1);
        if let Some(own) = self.lists.get_mut(user) {
            own.clone_from(&list);
        }
        // The new device takes every user's list, and records the identity every other
        // address has now.
        for (u, signed) in self.lists.iter().enumerate().take(USERS.len()) {
            accept(&new, u, signed, &self.list_of(u));
        }
        for other in (0..SLOTS.len()).filter(|&other| other != slot) {
            must(
                "record an identity",
                new.accept_identity(&address(other), &self.key_of(other)),
            );
            self.accepted.insert((slot, other), self.gen_of(other));
        }
        // Its prekeys replace the old device's on the server.
        let mut request = GenerateRequest::default();
        request.one_time_prekeys = 1;
        request.kem_prekeys = 1;
        let upload = must(
            "replacement prekeys",
            new.generate_prekeys(&request, NOW, &mut self.rng),
        );
        let validated =
            validate_upload(&key, &upload, &UploadPolicy::default(), NOW, &mut self.rng)
                .unwrap_or_else(|e| bug(&format!("replacement upload: {e:?}")));
        let mut keys = DeviceKeys::new(new.registration_id(), device_id, key)
            .unwrap_or_else(|e| bug(&format!("replacement keys: {e:?}")));
        keys.apply_upload(&validated)
            .unwrap_or_else(|e| bug(&format!("apply replacement upload: {e:?}")));
        if let Some(server) = self.server.get_mut(slot) {
            *server = keys;
        }
        let old = self
            .devices
            .get_mut(slot)
            .and_then(|place| place.replace(new))
            .unwrap_or_else(|| bug("replaced device not made"));
        let mut seen = self.generation;
        if let Some(own) = seen.get_mut(slot) {
            *own = old_gen;
        }
        self.thieves.push(Thief {
            slot,
            generation: old_gen,
            device: old,
            seen,
            decrypted: BTreeSet::new(),
        });
        // The new device holds no chains, no tracker, and received nothing yet.
        self.chains.retain(|&(to, _, _), _| to != slot);
        self.given.retain(|&(from, _), _| from != slot);
        self.tracked.retain(|&(device, _), _| device != slot);
        if let Some(received) = self.received.get_mut(slot) {
            received.clear();
        }
        self.broadcast_list(user, list, &[primary, slot]);
        if everyone_accepts {
            for other in (0..SLOTS.len()).filter(|&other| other != slot) {
                self.accept_identity(other, slot);
            }
        }
    }

    /// `device` accepts the identity `other` has now (after an `IdentityChanged`).
    pub(super) fn accept_identity(&mut self, device: usize, other: usize) {
        if device == other {
            return;
        }
        self.ensure(device);
        must(
            "accept identity",
            self.dev(device)
                .accept_identity(&address(other), &self.key_of(other)),
        );
        self.accepted.insert((device, other), self.gen_of(other));
    }

    /// The addresses whose identity changed during the run.
    pub(super) fn replaced(&self) -> Vec<usize> {
        (0..SLOTS.len()).filter(|&s| self.gen_of(s) > 0).collect()
    }

    /// Thief `index` posts to `group` under its old address, as its stale store allows
    /// (a send that fails is simply not made): the group message goes to every other
    /// address, its distribution messages where it addressed them. None of it may
    /// decrypt anywhere.
    pub(super) fn thief_posts(&mut self, index: usize, group: usize, extra: u8) {
        let fx = fixture();
        let (Some(&distribution), Some(thief)) = (fx.groups.get(group), self.thieves.get(index))
        else {
            return;
        };
        let (slot, from_gen, seen) = (thief.slot, thief.generation, thief.seen);
        let member_users = self.member_users(group);
        let members: Vec<&str> = member_users.iter().map(|&u| user_name(u)).collect();
        let Ok(plan) = thief.device.prepare_group_send(distribution, &members, NOW) else {
            return;
        };
        let id = self.take_id();
        let mut plaintext = format!("thief {slot}.{from_gen} group {group} #{id}").into_bytes();
        plaintext.resize(plaintext.len() + usize::from(extra % 48), b'.');
        let bundles = self.bundles(&plan.need_bundles);
        let refs: Vec<(Address, &[u8])> = bundles
            .iter()
            .map(|(a, b)| (a.clone(), b.as_slice()))
            .collect();
        let sent = {
            let Self { thieves, rng, .. } = self;
            let Some(thief) = thieves.get(index) else {
                return;
            };
            thief
                .device
                .send_group(distribution, &members, &plaintext, &refs, NOW, rng)
        };
        let Ok(sent) = sent else {
            return;
        };
        let message = SenderKeyMessage::decode(&sent.group_message)
            .unwrap_or_else(|e| bug(&format!("a thief's group message: {e:?}")));
        let (chain, iteration) = (message.chain_id(), message.iteration());
        for envelope in sent.distributions {
            let id = self.take_id();
            let to = slot_of(&envelope.to);
            self.push(InFlight {
                id,
                from: slot,
                from_gen,
                to,
                to_gen: seen.get(to).copied().unwrap_or(0),
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
            from: slot,
            from_gen,
            to,
            to_gen,
            body: Body::Group {
                bytes: sent.group_message.clone(),
                group,
                chain,
                iteration,
                plaintext: plaintext.clone(),
                intended: BTreeSet::new(),
            },
        };
        self.group_log.push(copy(slot, from_gen));
        for to in (0..SLOTS.len()).filter(|&to| to != slot) {
            let item = copy(to, self.gen_of(to));
            self.push(item);
        }
    }

    /// Thief `index` tries to read `item` (claimed from its sender). It may read only
    /// what was made for it before it was replaced: a pairwise envelope made for its
    /// identity, a group message sent while it was a member device. Once each; a
    /// refusal leaves its store unchanged.
    pub(super) fn thief_reads(&mut self, index: usize, item: &InFlight) {
        let members: Vec<&str> = match &item.body {
            Body::Group { group, .. } => self
                .member_users(*group)
                .into_iter()
                .map(user_name)
                .collect(),
            Body::Pairwise { .. } => Vec::new(),
        };
        let groups = &fixture().groups;
        let Self { thieves, rng, .. } = self;
        let Some(thief) = thieves.get_mut(index) else {
            return;
        };
        let before = snapshot(thief.device.store(), groups);
        let already = thief.decrypted.contains(&item.id);
        let from = address(item.from);
        let refused = match &item.body {
            Body::Pairwise {
                message_type,
                bytes,
                expect,
            } => match thief.device.decrypt(&from, *message_type, bytes, NOW, rng) {
                Ok(received) => {
                    assert!(
                        item.to == thief.slot && item.to_gen == thief.generation,
                        "#{}: the replaced {} read an envelope made for {} (generation {})",
                        item.id,
                        address(thief.slot),
                        address(item.to),
                        item.to_gen
                    );
                    assert!(!already, "#{}: a thief decrypted twice", item.id);
                    assert_eq!(received.from, from, "wrong sender reported");
                    check_text(item.id, &received.kind, expect);
                    None
                }
                Err(error) => Some(format!("{error:?}")),
            },
            Body::Group {
                bytes,
                plaintext,
                intended,
                ..
            } => match thief.device.decrypt_group(&from, bytes, &members, NOW) {
                Ok(received) => {
                    assert!(
                        intended.contains(&(thief.slot, thief.generation)),
                        "group #{}: the replaced {} read a message sent after it was replaced \
                         (or never to it)",
                        item.id,
                        address(thief.slot)
                    );
                    assert!(!already, "group #{}: a thief decrypted twice", item.id);
                    assert_eq!(received.plaintext.as_slice(), plaintext.as_slice());
                    None
                }
                Err(error) => Some(format!("{error:?}")),
            },
        };
        match refused {
            None => {
                thief.decrypted.insert(item.id);
            }
            Some(error) => assert!(
                before == snapshot(thief.device.store(), groups),
                "#{}: a refusal changed a thief's store ({error})",
                item.id
            ),
        }
    }
}

/// What a thief read is what was sent.
fn check_text(id: u64, kind: &ReceivedKind, expect: &Expect) {
    let (got, sent) = match (kind, expect) {
        (ReceivedKind::Direct { plaintext }, Expect::Direct(sent))
        | (
            ReceivedKind::SentTranscript { plaintext, .. },
            Expect::Transcript {
                plaintext: sent, ..
            },
        ) => (plaintext.as_slice(), sent.as_slice()),
        (ReceivedKind::GroupDistribution { .. }, Expect::Distribution { .. }) => return,
        (kind, expect) => bug(&format!("#{id}: received {kind:?}, sent {expect:?}")),
    };
    assert_eq!(got, sent, "#{id}: wrong text");
}
