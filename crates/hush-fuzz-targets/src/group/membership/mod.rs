//! `group_membership`: a sender's membership bookkeeping ([`SenderKeyTracker`]) and the
//! binding of received chains to the identity that distributed them, across identity
//! changes, driven by the input.
//!
//! # The cast
//!
//! A **hub** (the sender whose tracker is driven; it also receives) and four addresses,
//! bob.1, bob.2, carol.1 and carol.2. An address is held by one identity at a time: its
//! first identity key, then up to two others (a new device given the same device id, or
//! an account restored under a new key). The identity an address had before is a
//! **thief**: it keeps its records, still processes the distribution messages on their
//! way to it, reads what it can and posts under its old address. Identity keys are made
//! once, from fixed seeds.
//!
//! Each identity has a record of the hub's chains and, once it posts, a chain of its
//! own. The hub has its own record, its tracker, and per address a record of the chains
//! received from it, each bound to the identity key that distributed it
//! ([`SenderKeyRecord::process_distribution_from`]).
//!
//! # The script
//!
//! Up to [`MAX_MEMBERSHIP_OPS`] operations, an opcode byte (modulo 16) then argument
//! bytes (0 once the input runs out). An address is a byte modulo 4; "an identity of an
//! address" is a byte modulo the number of identities it has had (so thieves too):
//!
//! - 0 `add_device` (address) with the key its identity has now;
//! - 1 `remove_device` (address); 2 `remove_member` (bob, carol, or dave who never is one);
//! - 3 `set_devices` with a subset (mask; with the top bit, one address twice with two
//!   keys, which must be refused and change nothing);
//! - 4 a new identity key at an address (address, whether the tracker is told at once by
//!   `add_device` or only by the next `set_devices`);
//! - 5, 15 a send (length, mask): the tracker learns any pending key change by
//!   `set_devices` (as `hush`'s `send_group` does), `prepare_send`, the plan's
//!   distribution message goes on its way to every listed identity, the listed devices
//!   picked by the mask are reported delivered at once (the others later, or never), then
//!   a message is encrypted;
//! - 6 a late `mark_delivered` for a listing not yet reported (index) — also after the
//!   device was removed or its address taken;
//! - 7 `resend_requested` (address, whether the device really lost its record or lies);
//! - 8 an identity processes a distribution message on its way to it (address, identity,
//!   index; may repeat);
//! - 9 an identity decrypts a hub message (address, identity, index, whether it presents
//!   the wrong distributor key);
//! - 10 an identity posts (address, identity, length, whether it starts a new chain):
//!   its distribution message goes on its way to the hub;
//! - 11 the hub processes a distribution message from an identity (index), which the
//!   pairwise layer refuses (skipped here) once another identity holds the address;
//! - 12 the hub decrypts a post under the address its author had, or under another one
//!   (index, misattribution);
//! - 13 store and reload the tracker, an identity's record or a hub record;
//! - 14 the hub loses its own record and starts from an empty one.
//!
//! # The oracle
//!
//! An adversarial model, like the proptest `tracker_keeps_its_promises` in
//! `crates/hush-group/tests/tracker.rs`: an identity **may know** a hub chain from the
//! moment a send plan lists it, whether or not its delivery is ever reported, and a
//! resend request makes it forget nothing. When it leaves (removed, or its address taken
//! by another key) every chain it may know is **compromised**. Checked throughout:
//!
//! - **Who reads**: a hub message decrypts at an identity only if the identity was a
//!   member when it was sent, so no identity that left while it may know a chain reads
//!   a message sent on it later; and no send uses a compromised chain. A message must
//!   decrypt, once, at every identity that processed its chain's distribution message
//!   (at an iteration not after the message's, not evicted since); otherwise it is
//!   refused exactly as the model says (`NoSenderKeyState`, `DuplicateMessage`, or
//!   `DistributorMismatch` when the identity presents another distributor key).
//! - **Plans**: a plan lists exactly the member devices not reported delivered on the
//!   current chain (all of them on a new chain); the chain changes only when a device
//!   that may know it left or the record was lost. The tracker's members (with keys),
//!   chain, delivered and exposed devices and pending rotation are exactly the model's;
//!   `add_device` reports a change exactly when the address is new or has another key;
//!   `mark_delivered` is true exactly for a listing of the current member on the
//!   current chain while no rotation is pending.
//! - **Who posts**: a post decrypts at the hub only under its author's address, while
//!   its author still holds it, once the hub processed its chain's distribution. A
//!   thief's post is refused with `DistributorMismatch` while the hub still holds the
//!   thief's chain, `NoSenderKeyState` once it was dropped (the new identity's
//!   distribution drops chains bound to other keys) or never held; a misattributed post
//!   with `NoSenderKeyState`.
//! - Every refusal leaves the record byte-identical; the tracker round-trips through
//!   its encoding after every step, and a reloaded record encodes to the same bytes.
//!
//! # Layout
//!
//! This file holds the cast, the model and the checks made after every step;
//! `sender.rs` the tracker's operations and the hub's sends; `receive.rs` reading and
//! posting; `tests.rs` scripted runs, which are the seed corpus.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use hush_core::{IdentityKey, IdentityKeyPair};
use hush_group::limits::MAX_SENDER_KEY_STATES;
use hush_group::{
    DeviceAddress, DistributionId, SenderKeyDistributionMessage, SenderKeyMessage, SenderKeyRecord,
    SenderKeyTracker,
};
use hush_test_support::test_rng;
use rand_chacha::ChaCha20Rng;

use super::{FIXED_DISTRIBUTION_ID, unexpected};

mod receive;
mod sender;

/// Most operations one [`group_membership`] input runs.
pub const MAX_MEMBERSHIP_OPS: usize = 96;

/// The addresses: (name, device id).
const ADDRESSES: [(&str, u32); 4] = [("bob", 1), ("bob", 2), ("carol", 1), ("carol", 2)];
/// The names `remove_member` is given: the members', and one that never is a member.
const NAMES: [&str; 3] = ["bob", "carol", "dave"];
/// Identities per address: its first one and up to two that take the address over.
const GENERATIONS: usize = 3;
/// The seed of the hub's RNG.
const HUB_SEED: u64 = 0x6875_6221;

#[track_caller]
fn bug(what: &str) -> ! {
    #[expect(clippy::panic, reason = "a fuzz target reports a bug by panicking")]
    {
        panic!("{what}")
    }
}

/// The keys and addresses of the cast, made once.
struct Cast {
    hub: IdentityKey,
    addresses: Vec<DeviceAddress>,
    /// Per address, per generation: the identity key.
    identities: Vec<[IdentityKey; GENERATIONS]>,
}

fn cast() -> &'static Cast {
    static CAST: OnceLock<Cast> = OnceLock::new();
    CAST.get_or_init(|| {
        let key = |seed: u64| IdentityKeyPair::generate(&mut test_rng(seed)).identity_key();
        let mut addresses = Vec::new();
        let mut identities = Vec::new();
        for (seed, (name, device_id)) in (0u64..).zip(ADDRESSES) {
            match DeviceAddress::new(name, device_id) {
                Ok(address) => addresses.push(address),
                Err(error) => unexpected("a cast address", &error),
            }
            let base = 0x1d00 + seed * 16;
            identities.push([key(base), key(base + 1), key(base + 2)]);
        }
        Cast {
            hub: key(0x1d_0b),
            addresses,
            identities,
        }
    })
}

fn address(slot: usize) -> &'static DeviceAddress {
    cast()
        .addresses
        .get(slot)
        .unwrap_or_else(|| bug("an address outside the cast"))
}

fn key(slot: usize, generation: usize) -> IdentityKey {
    cast()
        .identities
        .get(slot)
        .and_then(|keys| keys.get(generation))
        .copied()
        .unwrap_or_else(|| bug("an identity outside the cast"))
}

fn slot_of(device: &DeviceAddress) -> usize {
    cast()
        .addresses
        .iter()
        .position(|a| a == device)
        .unwrap_or_else(|| bug("a device outside the cast"))
}

fn distribution_id() -> DistributionId {
    DistributionId::from_bytes(FIXED_DISTRIBUTION_ID)
}

/// One identity: a key an address had or has.
struct Identity {
    /// Its record of the hub's chains.
    inbox: SenderKeyRecord,
    /// The hub chains the model says `inbox` holds: (chain, first iteration), newest first.
    held: Vec<(u32, u32)>,
    /// Hub distribution messages on their way to it (a plan listed it).
    on_the_way: Vec<SenderKeyDistributionMessage>,
    /// Indexes into the hub's messages it decrypted (since it last lost its record).
    decrypted: BTreeSet<usize>,
    /// Hub chains it may know: those of every plan that listed it.
    knows: BTreeSet<u32>,
    /// Its own chain, once it posted.
    outbox: Option<SenderKeyRecord>,
    rng: ChaCha20Rng,
}

/// A chain the hub received from an address, as the model sees it.
#[derive(Clone, Copy)]
struct Held {
    chain: u32,
    first: u32,
    /// The generation of the identity that distributed it.
    generation: usize,
}

/// One address as the hub sees it.
struct Slot {
    /// The generation of the identity that holds the address now.
    current: usize,
    /// The generation the tracker holds as a member, if the address is a member (another
    /// than `current` until the tracker learns of a new key).
    member: Option<usize>,
    /// Hub chains this member was reported delivered (cleared when it asks again or
    /// leaves).
    handed: BTreeSet<u32>,
    /// The hub's record of the chains received from this address.
    inbox: SenderKeyRecord,
    /// What `inbox` holds, newest first.
    held: Vec<Held>,
}

/// A message the hub sent.
struct HubMessage {
    message: SenderKeyMessage,
    plaintext: Vec<u8>,
    /// The member identities (address, generation) when it was sent.
    readers: BTreeSet<(usize, usize)>,
}

/// A message an identity posted.
struct Post {
    slot: usize,
    generation: usize,
    message: SenderKeyMessage,
    plaintext: Vec<u8>,
}

/// Reads the fuzzer's bytes; 0 once they run out.
struct Script<'a> {
    rest: &'a [u8],
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
        usize::from(self.byte()) % ADDRESSES.len()
    }

    fn pick(&mut self, len: usize) -> Option<usize> {
        let byte = usize::from(self.byte());
        (len > 0).then(|| byte % len)
    }

    fn plaintext(&mut self, tag: &str) -> Vec<u8> {
        let mut plaintext = tag.as_bytes().to_vec();
        plaintext.resize(plaintext.len() + usize::from(self.byte() % 32), b'.');
        plaintext
    }
}

struct Membership {
    record: SenderKeyRecord,
    tracker: SenderKeyTracker,
    rng: ChaCha20Rng,
    slots: Vec<Slot>,
    /// Per address, per generation.
    identities: Vec<Vec<Identity>>,
    /// Identities' distribution messages on their way to the hub: (address, generation,
    /// message).
    to_hub: Vec<(usize, usize, SenderKeyDistributionMessage)>,
    /// Hub chains an identity that left may know.
    compromised: BTreeSet<u32>,
    /// The chain of the last plan.
    last_chain: Option<u32>,
    /// The hub lost its record since the last plan.
    record_lost: bool,
    /// Plan listings not reported delivered yet: (address, generation, chain).
    reports: Vec<(usize, usize, u32)>,
    sent: Vec<HubMessage>,
    posts: Vec<Post>,
    /// Indexes of the posts the hub decrypted.
    hub_decrypted: BTreeSet<usize>,
}

impl Membership {
    fn new() -> Self {
        let id = distribution_id();
        let slots = (0..ADDRESSES.len())
            .map(|_| Slot {
                current: 0,
                member: None,
                handed: BTreeSet::new(),
                inbox: SenderKeyRecord::new(id),
                held: Vec::new(),
            })
            .collect();
        let identities = (0u64..)
            .take(ADDRESSES.len())
            .map(|slot| {
                (0u64..)
                    .take(GENERATIONS)
                    .map(|generation| Identity {
                        inbox: SenderKeyRecord::new(id),
                        held: Vec::new(),
                        on_the_way: Vec::new(),
                        decrypted: BTreeSet::new(),
                        knows: BTreeSet::new(),
                        outbox: None,
                        rng: test_rng(0x1d_0000 + slot * 16 + generation),
                    })
                    .collect()
            })
            .collect();
        Self {
            record: SenderKeyRecord::new(id),
            tracker: SenderKeyTracker::new(id),
            rng: test_rng(HUB_SEED),
            slots,
            identities,
            to_hub: Vec::new(),
            compromised: BTreeSet::new(),
            last_chain: None,
            record_lost: false,
            reports: Vec::new(),
            sent: Vec::new(),
            posts: Vec::new(),
            hub_decrypted: BTreeSet::new(),
        }
    }

    fn slot(&self, slot: usize) -> &Slot {
        self.slots.get(slot).unwrap_or_else(|| bug("slot"))
    }

    fn slot_mut(&mut self, slot: usize) -> &mut Slot {
        self.slots.get_mut(slot).unwrap_or_else(|| bug("slot"))
    }

    fn identity(&self, slot: usize, generation: usize) -> &Identity {
        self.identities
            .get(slot)
            .and_then(|g| g.get(generation))
            .unwrap_or_else(|| bug("identity"))
    }

    fn identity_mut(&mut self, slot: usize, generation: usize) -> &mut Identity {
        self.identities
            .get_mut(slot)
            .and_then(|g| g.get_mut(generation))
            .unwrap_or_else(|| bug("identity"))
    }

    /// Reads an address, then one of the identities it has had.
    fn any_identity(&self, script: &mut Script<'_>) -> (usize, usize) {
        let slot = script.slot();
        let generation = usize::from(script.byte()) % (self.slot(slot).current + 1);
        (slot, generation)
    }

    /// The member identity of each member address, as the tracker holds them.
    fn members(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(slot, s)| s.member.map(|generation| (slot, generation)))
    }

    /// The member `(slot, generation)` left the group (removed, or its address taken by
    /// another key): every chain it may know is compromised.
    fn leave(&mut self, slot: usize, generation: usize) {
        let knows = self.identity(slot, generation).knows.clone();
        self.compromised.extend(knows);
        let s = self.slot_mut(slot);
        s.member = None;
        s.handed.clear();
    }

    fn step(&mut self, script: &mut Script<'_>) {
        match script.byte() % 16 {
            0 => {
                let slot = script.slot();
                self.add_device(slot);
            }
            1 => {
                let slot = script.slot();
                self.remove_device(slot);
            }
            2 => {
                let name = NAMES
                    .get(usize::from(script.byte()) % NAMES.len())
                    .copied()
                    .unwrap_or("dave");
                self.remove_member(name);
            }
            3 => {
                let mask = script.byte();
                self.set_devices(mask);
            }
            4 => {
                let slot = script.slot();
                let tell_now = script.byte() & 1 == 0;
                self.new_identity(slot, tell_now);
            }
            6 => self.late_report(script),
            7 => {
                let slot = script.slot();
                let honest = script.byte() & 1 == 1;
                self.resend_requested(slot, honest);
            }
            8 => self.process_at_identity(script),
            9 => self.decrypt_at_identity(script),
            10 => self.post(script),
            11 => self.process_at_hub(script),
            12 => self.decrypt_at_hub(script),
            13 => self.reload(script),
            14 => {
                self.record = SenderKeyRecord::new(distribution_id());
                self.record_lost = true;
            }
            _ => self.send(script),
        }
    }

    /// The tracker is exactly what the model says, and round-trips through its encoding.
    fn check_tracker(&self) {
        let tracker = &self.tracker;
        let members: Vec<(DeviceAddress, IdentityKey)> = self
            .members()
            .map(|(slot, generation)| (address(slot).clone(), key(slot, generation)))
            .collect();
        assert!(
            tracker.members().map(|(a, k)| (a.clone(), *k)).eq(members),
            "the tracker's members differ from the model's"
        );
        assert_eq!(tracker.chain_id(), self.last_chain, "the tracker's chain");
        let rotating = self
            .last_chain
            .is_some_and(|chain| self.compromised.contains(&chain));
        assert_eq!(
            tracker.rotation_pending(),
            rotating,
            "a rotation pending exactly when a device that may know the chain left"
        );
        let (exposed, delivered): (Vec<usize>, Vec<usize>) = match self.last_chain {
            Some(chain) if !rotating => (
                self.members()
                    .filter(|&(s, g)| self.identity(s, g).knows.contains(&chain))
                    .map(|(s, _)| s)
                    .collect(),
                self.members()
                    .filter(|&(s, _)| self.slot(s).handed.contains(&chain))
                    .map(|(s, _)| s)
                    .collect(),
            ),
            _ => (Vec::new(), Vec::new()),
        };
        assert_eq!(
            tracker.exposed().map(slot_of).collect::<Vec<_>>(),
            exposed,
            "the devices that may know the chain"
        );
        assert_eq!(
            tracker.delivered().map(slot_of).collect::<Vec<_>>(),
            delivered,
            "the devices handed the chain"
        );
        let encoded = tracker.encode();
        match SenderKeyTracker::decode(&encoded) {
            Ok(again) => {
                assert!(again == *tracker, "the tracker does not round-trip");
                assert_eq!(again.encode(), encoded, "tracker encoding is not stable");
            }
            Err(error) => unexpected("decoding an encoded tracker", &error),
        }
    }
}

/// The model side of processing a hub distribution message: a held chain keeps the
/// iteration it was first held from and moves to the front; at most
/// [`MAX_SENDER_KEY_STATES`] chains are kept.
fn hold(held: &mut Vec<(u32, u32)>, distribution: &SenderKeyDistributionMessage) {
    let chain = distribution.chain_id();
    let first = match held.iter().position(|&(c, _)| c == chain) {
        Some(position) => held.remove(position).1,
        None => distribution.iteration(),
    };
    held.insert(0, (chain, first));
    held.truncate(MAX_SENDER_KEY_STATES);
}

/// Stores and reloads a record, which must come back with the same encoding.
fn reload(record: &mut SenderKeyRecord) {
    let encoded = record.encode();
    match SenderKeyRecord::decode(&encoded) {
        Ok(again) => {
            assert!(again.encode() == encoded, "reloading changed the record");
            *record = again;
        }
        Err(error) => unexpected("reloading a record", &error),
    }
}

/// A hub's tracker over four addresses whose identities change, their records, thieves
/// keeping replaced identities' records, resend requests that may lie and removals
/// between a plan and its delivery report, scripted by the input (see the module
/// documentation for the cast, the script and the oracle).
pub fn group_membership(data: &[u8]) {
    let _ = run(data);
}

/// Runs [`group_membership`]'s script; returns how many hub messages and posts
/// decrypted.
fn run(data: &[u8]) -> usize {
    let mut model = Membership::new();
    let mut script = Script { rest: data };
    let mut ops = 0;
    while !script.rest.is_empty() && ops < MAX_MEMBERSHIP_OPS {
        model.step(&mut script);
        model.check_tracker();
        ops += 1;
    }
    model
        .identities
        .iter()
        .flatten()
        .map(|identity| identity.decrypted.len())
        .sum::<usize>()
        + model.hub_decrypted.len()
}

#[cfg(test)]
pub(super) mod tests;
