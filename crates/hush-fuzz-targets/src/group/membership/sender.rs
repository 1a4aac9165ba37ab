//! The hub's side of membership: the tracker's operations and sends, each with the
//! checks the model makes of it.

use hush_core::IdentityKey;
use hush_group::{DeviceAddress, Error, SenderKeyRecord};

use super::{
    ADDRESSES, GENERATIONS, HubMessage, Membership, Script, address, bug, distribution_id, key,
    slot_of,
};
use crate::group::unexpected;

impl Membership {
    pub(super) fn add_device(&mut self, slot: usize) {
        let current = self.slot(slot).current;
        let was = self.slot(slot).member;
        let changed = self
            .tracker
            .add_device(address(slot).clone(), key(slot, current))
            .unwrap_or_else(|e| unexpected("add_device", &e));
        assert_eq!(
            changed,
            was != Some(current),
            "add_device misreported a change"
        );
        if let Some(old) = was.filter(|&old| old != current) {
            self.leave(slot, old);
        }
        self.slot_mut(slot).member = Some(current);
    }

    pub(super) fn remove_device(&mut self, slot: usize) {
        let pending = self.tracker.remove_device(address(slot));
        assert_eq!(pending, self.tracker.rotation_pending());
        if let Some(generation) = self.slot(slot).member {
            self.leave(slot, generation);
        }
    }

    pub(super) fn remove_member(&mut self, name: &str) {
        let before = self.tracker.clone();
        let pending = self.tracker.remove_member(name);
        assert_eq!(pending, self.tracker.rotation_pending());
        let mut anyone = false;
        for slot in 0..ADDRESSES.len() {
            if address(slot).name() == name
                && let Some(generation) = self.slot(slot).member
            {
                self.leave(slot, generation);
                anyone = true;
            }
        }
        if !anyone {
            assert!(
                self.tracker == before,
                "removing a non-member changed the tracker"
            );
        }
    }

    pub(super) fn set_devices(&mut self, mask: u8) {
        let listed: Vec<usize> = (0..ADDRESSES.len())
            .filter(|slot| mask & (1 << slot) != 0)
            .collect();
        let mut devices: Vec<(DeviceAddress, IdentityKey)> = listed
            .iter()
            .map(|&slot| (address(slot).clone(), key(slot, self.slot(slot).current)))
            .collect();
        if mask & 0x80 != 0
            && let Some(&first) = listed.first()
        {
            // The same address again with another key: refused, nothing changes.
            let other = (self.slot(first).current + 1) % GENERATIONS;
            devices.push((address(first).clone(), key(first, other)));
            let before = self.tracker.clone();
            let refused = self.tracker.set_devices(devices);
            assert!(
                matches!(refused, Err(Error::Malformed(_))),
                "one address with two keys: {refused:?}"
            );
            assert!(
                self.tracker == before,
                "a refused set_devices changed the tracker"
            );
            return;
        }
        let pending = self
            .tracker
            .set_devices(devices)
            .unwrap_or_else(|e| unexpected("set_devices", &e));
        assert_eq!(pending, self.tracker.rotation_pending());
        self.apply_set(&listed);
    }

    /// The model side of a `set_devices` with `listed` at their current keys.
    pub(super) fn apply_set(&mut self, listed: &[usize]) {
        for slot in 0..ADDRESSES.len() {
            let current = self.slot(slot).current;
            let member = self.slot(slot).member;
            if let Some(old) = member
                && (!listed.contains(&slot) || old != current)
            {
                self.leave(slot, old);
            }
            if listed.contains(&slot) {
                self.slot_mut(slot).member = Some(current);
            }
        }
    }

    pub(super) fn new_identity(&mut self, slot: usize, tell_now: bool) {
        let next = self.slot(slot).current + 1;
        if next >= GENERATIONS {
            return;
        }
        self.slot_mut(slot).current = next;
        if tell_now && self.slot(slot).member.is_some() {
            self.add_device(slot);
        }
    }

    pub(super) fn send(&mut self, script: &mut Script<'_>) {
        let plaintext = script.plaintext("hub");
        let mask = script.byte();
        // The app hands the tracker the members' keys before a send.
        let stale = self
            .slots
            .iter()
            .any(|s| s.member.is_some_and(|m| m != s.current));
        if stale {
            let listed: Vec<usize> = self.members().map(|(slot, _)| slot).collect();
            let devices: Vec<(DeviceAddress, IdentityKey)> = listed
                .iter()
                .map(|&slot| (address(slot).clone(), key(slot, self.slot(slot).current)))
                .collect();
            self.tracker
                .set_devices(devices)
                .unwrap_or_else(|e| unexpected("set_devices before a send", &e));
            self.apply_set(&listed);
        }
        let plan = self
            .tracker
            .prepare_send(&mut self.record, &mut self.rng)
            .unwrap_or_else(|e| unexpected("prepare_send", &e));
        let distribution = plan.distribution_message().clone();
        let chain = distribution.chain_id();
        assert!(
            !self.compromised.contains(&chain),
            "sending on chain {chain}, which a device that left may know"
        );
        let new_chain = self.last_chain != Some(chain);
        if let Some(previous) = self.last_chain.filter(|_| new_chain) {
            assert!(
                self.record_lost || self.compromised.contains(&previous),
                "chain {previous} replaced though no device that may know it left"
            );
        }
        let listed: Vec<usize> = plan
            .devices_needing_distribution()
            .iter()
            .map(slot_of)
            .collect();
        let expected: Vec<usize> = self
            .members()
            .filter(|&(slot, _)| new_chain || !self.slot(slot).handed.contains(&chain))
            .map(|(slot, _)| slot)
            .collect();
        assert_eq!(listed, expected, "the plan lists the wrong devices");
        for (index, &slot) in listed.iter().enumerate() {
            let generation = self
                .slot(slot)
                .member
                .unwrap_or_else(|| bug("a listed non-member"));
            let identity = self.identity_mut(slot, generation);
            identity.knows.insert(chain);
            identity.on_the_way.push(distribution.clone());
            if mask & (1 << (index % 8)) != 0 {
                assert!(
                    self.tracker.mark_delivered(address(slot), chain),
                    "a listed member's delivery was not counted"
                );
                self.slot_mut(slot).handed.insert(chain);
            } else {
                self.reports.push((slot, generation, chain));
            }
        }
        let message = self
            .record
            .encrypt(&plaintext, &mut self.rng)
            .unwrap_or_else(|e| unexpected("encrypting", &e));
        assert_eq!(message.chain_id(), chain);
        let readers = self.members().collect();
        self.sent.push(HubMessage {
            message,
            plaintext,
            readers,
        });
        self.last_chain = Some(chain);
        self.record_lost = false;
    }

    pub(super) fn late_report(&mut self, script: &mut Script<'_>) {
        let Some(index) = script.pick(self.reports.len()) else {
            return;
        };
        let (slot, generation, chain) = self.reports.remove(index);
        let counted = self.tracker.mark_delivered(address(slot), chain);
        let expected = self.last_chain == Some(chain)
            && self.slot(slot).member == Some(generation)
            && !self.compromised.contains(&chain);
        assert_eq!(
            counted, expected,
            "mark_delivered({slot}, generation {generation}, chain {chain})"
        );
        if counted {
            self.slot_mut(slot).handed.insert(chain);
        }
    }

    pub(super) fn resend_requested(&mut self, slot: usize, honest: bool) {
        self.tracker.resend_requested(address(slot));
        self.slot_mut(slot).handed.clear();
        if honest {
            let current = self.slot(slot).current;
            let identity = self.identity_mut(slot, current);
            identity.inbox = SenderKeyRecord::new(distribution_id());
            identity.held.clear();
            identity.decrypted.clear();
        }
    }
}
