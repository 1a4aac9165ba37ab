//! The model: what was sent, what each device holds, and the run's devices.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use hush::store::MemoryStore;
use hush::{Address, Device, DeviceEntry};
use hush_core::IdentityKey;
use hush_prekey::DeviceKeys;
use hush_ratchet::limits::MAX_RECEIVER_CHAINS;
use hush_test_support::test_rng;
use rand_chacha::ChaCha20Rng;

use super::fixture::{copy_store, fixture, snapshot};
use super::{
    Dev, GROUP_COUNT, NOW, SLOTS, USERS, bug, must, primary_of, slot_of, user_name, user_of,
};

/// What a pairwise envelope carries, as the sender meant it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(super) enum Expect {
    Direct(Vec<u8>),
    Transcript {
        to_user: usize,
        plaintext: Vec<u8>,
    },
    Distribution {
        group: usize,
        chain: u32,
        iteration: u32,
    },
}

/// An envelope in a device's queue.
#[derive(Clone, Debug)]
pub(super) enum Body {
    Pairwise {
        message_type: u8,
        bytes: Vec<u8>,
        expect: Expect,
    },
    Group {
        bytes: Vec<u8>,
        group: usize,
        chain: u32,
        iteration: u32,
        plaintext: Vec<u8>,
        /// The member devices when it was sent: (slot, generation).
        intended: BTreeSet<(usize, usize)>,
    },
}

#[derive(Clone, Debug)]
pub(super) struct InFlight {
    /// Unique per send; increasing in send order (a group message's copies share it).
    pub(super) id: u64,
    pub(super) from: usize,
    /// The generation of the identity that made it (see [`Run::generation`]): a thief's
    /// envelopes carry the generation it had.
    pub(super) from_gen: usize,
    pub(super) to: usize,
    /// The generation of the identity it was made for.
    pub(super) to_gen: usize,
    pub(super) body: Body,
}

/// A device replaced under its device id, kept by whoever has it: it keeps its store
/// and tries to read and to post under its old address.
pub(super) struct Thief {
    pub(super) slot: usize,
    pub(super) generation: usize,
    pub(super) device: Dev,
    /// Per slot: the generation its store knows (the one each slot had when it was
    /// replaced), which its envelopes are made for.
    pub(super) seen: [usize; SLOTS.len()],
    /// Ids of what it decrypted.
    pub(super) decrypted: BTreeSet<u64>,
}

/// A sender's current chain for a group and the member identities (slot, generation)
/// it gave that chain.
pub(super) type Given = (u32, BTreeSet<(usize, usize)>);

/// A chain a device holds from a sender: (chain, first iteration held, generation of
/// the identity that distributed it).
pub(super) type HeldChain = (u32, u32, usize);

/// A list a device not made yet has to accept: (user, signed list, the devices it names).
pub(super) type PendingList = (usize, Vec<u8>, BTreeSet<usize>);

pub(super) struct Run {
    /// Per slot: the device, made from the fixture the first time it is needed.
    pub(super) devices: Vec<Option<Dev>>,
    /// Per slot not made yet: the lists it has to accept when it is made, with the
    /// devices each must name.
    pub(super) pending: Vec<Vec<PendingList>>,
    pub(super) server: Vec<DeviceKeys>,
    pub(super) linked: [bool; SLOTS.len()],
    pub(super) members: [[bool; USERS.len()]; GROUP_COUNT],
    pub(super) queues: Vec<VecDeque<InFlight>>,
    /// Per slot: what it decrypted (for duplicate deliveries).
    pub(super) received: Vec<Vec<InFlight>>,
    /// (receiver, envelope or group message id) that decrypted.
    pub(super) decrypted: BTreeSet<(usize, u64)>,
    /// (receiver, sender) → ids of the pairwise envelopes that decrypted.
    pub(super) pair_decrypts: BTreeMap<(usize, usize), Vec<u64>>,
    /// (receiver, sender, group) → chains held, newest first.
    pub(super) chains: BTreeMap<(usize, usize, usize), Vec<HeldChain>>,
    /// (sender, group) → the current chain and the devices (slot, generation) it was
    /// given.
    pub(super) given: BTreeMap<(usize, usize), Given>,
    /// (device, group) → the other users the device's sender-key tracker holds as
    /// members (those of its last group send, less those it removed since).
    pub(super) tracked: BTreeMap<(usize, usize), BTreeSet<usize>>,
    /// Per slot: which identity holds it, 0 for the fixture's and one more per
    /// replacement.
    pub(super) generation: [usize; SLOTS.len()],
    /// Per slot: the identity key it has now.
    pub(super) keys: Vec<IdentityKey>,
    /// (device, other slot) → the generation of the other slot's identity the device
    /// recorded (0 when absent: every fixture device recorded every fixture identity).
    pub(super) accepted: BTreeMap<(usize, usize), usize>,
    /// Per user: its current signed list.
    pub(super) lists: Vec<Vec<u8>>,
    /// Per slot: its entry on its account's list (companions only), with the key it has
    /// now.
    pub(super) entries: Vec<Option<DeviceEntry>>,
    /// Replaced devices.
    pub(super) thieves: Vec<Thief>,
    /// Every group message sent (one copy each), for deliveries to anyone.
    pub(super) group_log: Vec<InFlight>,
    pub(super) rng: ChaCha20Rng,
    pub(super) next_id: u64,
}

impl Run {
    pub(super) fn new(seed: u64) -> Self {
        let fx = fixture();
        let mut linked = [false; SLOTS.len()];
        for (flag, slot) in linked.iter_mut().zip(SLOTS) {
            *flag = slot.2;
        }
        Self {
            devices: (0..SLOTS.len()).map(|_| None).collect(),
            pending: vec![Vec::new(); SLOTS.len()],
            server: fx.server.clone(),
            linked,
            members: [[true; USERS.len()]; GROUP_COUNT],
            queues: vec![VecDeque::new(); SLOTS.len()],
            received: vec![Vec::new(); SLOTS.len()],
            decrypted: BTreeSet::new(),
            tracked: BTreeMap::new(),
            pair_decrypts: BTreeMap::new(),
            chains: BTreeMap::new(),
            given: BTreeMap::new(),
            generation: [0; SLOTS.len()],
            keys: fx.devices.iter().map(Device::identity_key).collect(),
            accepted: BTreeMap::new(),
            lists: (0..USERS.len())
                .map(|user| {
                    let primary = fx
                        .devices
                        .get(primary_of(user))
                        .unwrap_or_else(|| bug("no primary"));
                    must("own list", primary.own_device_list())
                })
                .collect(),
            entries: fx.entries.clone(),
            thieves: Vec::new(),
            group_log: Vec::new(),
            rng: test_rng(seed),
            next_id: 0,
        }
    }

    /// Makes the device of `slot` from the fixture, if not made yet: its store is a
    /// record-by-record copy of the fixture's, then it accepts the lists it missed.
    pub(super) fn ensure(&mut self, slot: usize) {
        let Some(place) = self.devices.get_mut(slot) else {
            bug("slot out of range");
        };
        if place.is_some() {
            return;
        }
        let fx = fixture();
        let (Some(device), Some(ids)) = (fx.devices.get(slot), fx.one_time_ids.get(slot)) else {
            bug("slot out of range");
        };
        let copy = MemoryStore::new();
        copy_store(device.store(), &copy, ids);
        let device = place.insert(must("open", Device::open(copy)));
        let pending = self.pending.get_mut(slot).map(std::mem::take);
        for (user, list, expected) in pending.unwrap_or_default() {
            accept(device, user, &list, &expected);
        }
    }

    /// The device of `slot`, which must have been made ([`Run::ensure`]).
    pub(super) fn dev(&self, slot: usize) -> &Dev {
        self.devices
            .get(slot)
            .and_then(Option::as_ref)
            .unwrap_or_else(|| bug("device not made"))
    }

    pub(super) fn is_linked(&self, slot: usize) -> bool {
        self.linked.get(slot).copied().unwrap_or(false)
    }

    /// The devices on `user`'s current list.
    pub(super) fn list_of(&self, user: usize) -> BTreeSet<usize> {
        (0..SLOTS.len())
            .filter(|&s| user_of(s) == user && self.is_linked(s))
            .collect()
    }

    pub(super) fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id = self.next_id.saturating_add(1);
        id
    }

    pub(super) fn bundles(&mut self, need: &[Address]) -> Vec<(Address, Vec<u8>)> {
        need.iter()
            .map(|a| {
                let keys = self
                    .server
                    .get_mut(slot_of(a))
                    .unwrap_or_else(|| bug("no server keys"));
                let bundle = keys
                    .take_bundle()
                    .unwrap_or_else(|e| bug(&format!("take bundle: {e:?}")));
                (a.clone(), bundle.bundle().encode())
            })
            .collect()
    }

    pub(super) fn push(&mut self, item: InFlight) {
        if let Some(queue) = self.queues.get_mut(item.to) {
            queue.push_back(item);
        }
    }

    /// The users `group` has now.
    pub(super) fn member_users(&self, group: usize) -> BTreeSet<usize> {
        (0..USERS.len())
            .filter(|&u| self.members.get(group).and_then(|m| m.get(u)) == Some(&true))
            .collect()
    }

    /// `device` forgets the chains `user`'s devices distributed for `group` (it removed
    /// the user from the group).
    pub(super) fn forget_chains(&mut self, device: usize, group: usize, user: usize) {
        self.chains
            .retain(|&(to, from, g), _| !(to == device && g == group && user_of(from) == user));
    }

    /// Whether `to`'s receiving chain for `item` may have been dropped: it decrypted at
    /// least `MAX_RECEIVER_CHAINS` later envelopes from the same sender.
    pub(super) fn may_be_dropped(&self, to: usize, item: &InFlight) -> bool {
        self.pair_decrypts
            .get(&(to, item.from))
            .is_some_and(|ids| ids.iter().filter(|&&i| i > item.id).count() >= MAX_RECEIVER_CHAINS)
    }

    /// Whether `to` holds the chain of a group message from `from`, distributed by the
    /// identity `from` has now.
    pub(super) fn holds(
        &self,
        to: usize,
        from: usize,
        group: usize,
        chain: u32,
        iteration: u32,
    ) -> bool {
        let now = self.gen_of(from);
        self.chains.get(&(to, from, group)).is_some_and(|held| {
            held.iter()
                .any(|&(c, first, by)| c == chain && first <= iteration && by == now)
        })
    }

    /// Whether `to` holds `chain` from `from` at all, and from which generation.
    pub(super) fn held_by(
        &self,
        to: usize,
        from: usize,
        group: usize,
        chain: u32,
    ) -> Option<usize> {
        self.chains
            .get(&(to, from, group))
            .and_then(|held| held.iter().find(|&&(c, _, _)| c == chain))
            .map(|&(_, _, by)| by)
    }

    /// The generation of the identity that holds `slot` now.
    pub(super) fn gen_of(&self, slot: usize) -> usize {
        self.generation.get(slot).copied().unwrap_or(0)
    }

    /// The identity key `slot` has now.
    pub(super) fn key_of(&self, slot: usize) -> IdentityKey {
        self.keys
            .get(slot)
            .copied()
            .unwrap_or_else(|| bug("slot out of range"))
    }

    /// Whether `device` recorded the identity `other` has now.
    pub(super) fn has_accepted(&self, device: usize, other: usize) -> bool {
        self.accepted.get(&(device, other)).copied().unwrap_or(0) == self.gen_of(other)
    }

    /// The devices of `slots` whose current identity `device` has not recorded: a send
    /// to them reports `IdentityChanged` until it accepts them.
    pub(super) fn unaccepted(
        &self,
        device: usize,
        slots: impl IntoIterator<Item = usize>,
    ) -> BTreeSet<usize> {
        slots
            .into_iter()
            .filter(|&other| !self.has_accepted(device, other))
            .collect()
    }

    /// `slots` with the generation each has now.
    pub(super) fn with_gen(
        &self,
        slots: impl IntoIterator<Item = usize>,
    ) -> BTreeSet<(usize, usize)> {
        slots.into_iter().map(|s| (s, self.gen_of(s))).collect()
    }

    pub(super) fn snapshot(&mut self, slot: usize) -> Vec<Vec<u8>> {
        self.ensure(slot);
        snapshot(self.dev(slot).store(), &fixture().groups)
    }
}

/// The device of `slot`, which must have been made.
pub(super) fn made(devices: &[Option<Dev>], slot: usize) -> &Dev {
    devices
        .get(slot)
        .and_then(Option::as_ref)
        .unwrap_or_else(|| bug("device not made"))
}

/// `device` accepts `user`'s new list, which must name the devices `expected`.
pub(super) fn accept(device: &Dev, user: usize, list: &[u8], expected: &BTreeSet<usize>) {
    let to = must(
        "accept new list",
        device.accept_device_list(user_name(user), list, NOW),
    );
    let got: BTreeSet<usize> = to.iter().map(slot_of).collect();
    assert_eq!(got, *expected, "accepted list names the wrong devices");
}
