//! A stateful target over the `hush` facade: three accounts exchanging pairwise and group
//! messages through a model network that drops, reorders, duplicates and misroutes
//! envelopes, while companions are linked and unlinked.
//!
//! # The cast
//!
//! A fixture built once (fixed seed) holds eight device slots, each a [`hush::Device`] over
//! a `hush::store::MemoryStore`: alice.1, alice.2, alice.3, bob.1, bob.2,
//! bob.3, carol.1, carol.2. Device 1 of each user is its primary. alice.2 and bob.2 start
//! on their account's device list; alice.3, bob.3 and carol.2 are spare companions
//! (`Device::create_companion`) not on the list, so the cast starts as alice (2 devices),
//! bob (2) and carol (1). Every device has accepted every user's current signed list and
//! uploaded a small batch of prekeys (a signed prekey, one one-time EC prekey, one
//! one-time KEM prekey, a last-resort KEM prekey) to a model server that hands out
//! bundles (`hush_prekey::DeviceKeys`), so later bundles carry only the last-resort keys.
//!
//! Key agreement and signatures dominate the cost of a run, so the fixture does the
//! expensive part once: every two devices on the lists at the start already have one
//! session, used in both directions; and while the spares were briefly linked, every
//! device sent once to every user with nothing to or from a spare delivered. So each
//! spare and each other device have each started a session with the other, neither
//! answered: first messages (`PreKeySignalMessage`s, prekey consumption, the last-resort
//! key) and simultaneous initiation still happen in the runs, the sending side having
//! paid for key agreement once. A run makes a device from the fixture the first time it
//! touches it, by copying the fixture store record by record into a fresh `MemoryStore`
//! (and having it accept the lists it missed), and seeds its RNG from the first four
//! input bytes.
//!
//! # The script
//!
//! The remaining bytes are operations (at most [`MAX_FACADE_OPS`]), an opcode byte then
//! argument bytes, read whether or not the operation can run:
//!
//! - send a 1:1 message from a device to a user (`prepare_send`, bundles fetched for the
//!   devices it names, `encrypt`): one envelope per device of the recipient's list plus
//!   one sent transcript per other device on the sender's own list;
//! - send to one of two groups (`prepare_group_send`, `send_group`) with the group's
//!   current member users: the distribution envelopes and one copy of the group message
//!   per member device go into the devices' queues;
//! - toggle a user's membership of a group (on removal, one device also calls
//!   `remove_group_member`);
//! - link or unlink a companion: the primary calls `add_companion` / `remove_companion`,
//!   and every other device accepts the new signed list (`accept_device_list`) at once;
//! - deliver the oldest envelope queued for a device, or the one at an index; drop one;
//!   deliver again one the device already decrypted; deliver a queued envelope to another
//!   device (misrouted); deliver one naming another sender device.
//!
//! After the script, everything still queued is delivered, oldest first.
//!
//! # The oracle
//!
//! Checked on every step (a failed check panics):
//!
//! - **No panic** in the facade, and every send, link, unlink, list acceptance and group
//!   change succeeds.
//! - **Fan-out**: a 1:1 send produces exactly one envelope per device of the recipient's
//!   current list and per other device of the sender's own list (the model's lists, which
//!   every device has accepted); each is a direct message or, for the sender's own
//!   devices, a transcript naming the recipient. A group send's distribution envelopes go
//!   to exactly the member devices the sending device has not yet given its current chain
//!   (all member devices after a new chain), and the chain must be new whenever a device
//!   that was given the previous chain is no longer a member device.
//! - **Authenticity**: a pairwise envelope that decrypts was delivered to the device it was
//!   made for, naming the device that made it, and yields exactly the content sent (same
//!   kind, plaintext, transcript recipient, or group). A group message that decrypts was
//!   named with its real sender and the receiver was one of its member devices when it
//!   was sent (a device removed from the group never reads the chain used after its
//!   removal).
//! - **At most once**: each genuine envelope (and each group message) decrypts at most
//!   once per device; a second delivery is refused.
//! - **Delivery**: a genuine pairwise envelope delivered to its device, naming its sender,
//!   while the sender is on its user's current list, must decrypt the first time, in any
//!   order. The only tolerated failure is `Session(DecryptionFailed)` once that receiver
//!   has decrypted at least `hush_ratchet::limits::MAX_RECEIVER_CHAINS` later envelopes
//!   from the same sender (its receiving chain may then have been dropped, as the ratchet
//!   documents). From a sender not on its user's current list it must fail with
//!   `UntrustedDevice`. A group message must decrypt at a device exactly when the model
//!   says the device holds its chain from that sender: it decrypted a distribution of
//!   that chain, whose iteration (the first one it held) is not after the message's, and
//!   fewer than `hush_group::limits::MAX_SENDER_KEY_STATES` newer chains of the same
//!   sender and group replaced it since; and the sender is on its current list.
//! - **No state lost on refusal**: every delivery the model allows to fail, when it fails,
//!   leaves the receiving device's store unchanged, compared as encodings: its own list
//!   and every user's list, per address of the cast the recorded identity, the session
//!   and both groups' sender-key records, the session device listings, both group
//!   trackers, the prekey id allocator, and the prekeys by their id listings and the
//!   one-time count. Not compared: the account and the prekey records' contents (a
//!   delivery can only delete prekeys, which the listings show, and decoding each
//!   private key costs a scalar multiplication) and the last-resort-use table (the store
//!   traits cannot list it).
//!
//! Not modelled: time (everything happens at one instant, so no expiry), prekey rotation,
//! identity changes, the server mailbox (the queues here stand in for it).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::OnceLock;

use hush::store::{
    DeviceListStore, IdentityStore, MemoryStore, PreKeyStore, SenderKeyStore, SessionStore, Store,
    Transaction,
};
use hush::{Address, Device, DeviceEntry, DistributionId, Error, GenerateRequest, ReceivedKind};
use hush_core::IdentityKeyPair;
use hush_group::SenderKeyMessage;
use hush_group::limits::MAX_SENDER_KEY_STATES;
use hush_prekey::{DeviceKeys, PreKeyUpload, UploadPolicy, validate_upload};
use hush_ratchet::limits::MAX_RECEIVER_CHAINS;
use hush_test_support::test_rng;
use rand_chacha::ChaCha20Rng;

/// The one instant everything happens at (milliseconds since the Unix epoch).
const NOW: u64 = 1_700_000_000_000;
/// The most operations [`facade_interaction`] runs for one input.
pub const MAX_FACADE_OPS: usize = 96;
/// The users.
const USERS: [&str; 3] = ["alice", "bob", "carol"];
/// Every device slot: (user index, device id, on its account's list at the start).
const SLOTS: [(usize, u32, bool); 8] = [
    (0, 1, true),
    (0, 2, true),
    (0, 3, false),
    (1, 1, true),
    (1, 2, true),
    (1, 3, false),
    (2, 1, true),
    (2, 2, false),
];
/// The fixture's sends, (sender slot, recipient user), each delivered at once: after
/// them every two devices on the lists at the start have one session, used both ways.
const ESTABLISHING: [(usize, usize); 10] = [
    (0, 1),
    (3, 0),
    (1, 1),
    (4, 0),
    (6, 0),
    (6, 1),
    (0, 2),
    (1, 2),
    (3, 2),
    (4, 2),
];
/// How many groups there are.
const GROUP_COUNT: usize = 2;

type Dev = Device<MemoryStore>;

#[track_caller]
fn bug(what: &str) -> ! {
    #[expect(clippy::panic, reason = "a fuzz target reports a bug by panicking")]
    {
        panic!("{what}")
    }
}

#[track_caller]
fn must<T>(what: &str, result: Result<T, Error>) -> T {
    match result {
        Ok(value) => value,
        Err(error) => bug(&format!("{what}: unexpected error {error:?}")),
    }
}

fn user_of(slot: usize) -> usize {
    SLOTS.get(slot).map_or(0, |s| s.0)
}

fn user_name(user: usize) -> &'static str {
    USERS.get(user).copied().unwrap_or("alice")
}

fn address(slot: usize) -> Address {
    let (user, id, _) = SLOTS.get(slot).copied().unwrap_or((0, 1, true));
    must(
        "address",
        Address::new(user_name(user), id).map_err(Error::from),
    )
}

fn slot_of(address: &Address) -> usize {
    (0..SLOTS.len())
        .find(|&slot| self::address(slot) == *address)
        .unwrap_or_else(|| bug("an address outside the cast"))
}

fn is_primary(slot: usize) -> bool {
    SLOTS.get(slot).is_some_and(|s| s.1 == 1)
}

fn primary_of(user: usize) -> usize {
    (0..SLOTS.len())
        .find(|&slot| user_of(slot) == user && is_primary(slot))
        .unwrap_or(0)
}

fn start_linked(slot: usize) -> bool {
    SLOTS.get(slot).is_some_and(|s| s.2)
}

/// A fixture send from `from` to `to_user`, with bundles from the model server; every
/// envelope between two devices on the lists at the start is delivered at once.
fn fixture_send(
    devices: &[Dev],
    server: &mut [DeviceKeys],
    from: usize,
    to_user: usize,
    rng: &mut ChaCha20Rng,
) {
    let Some(device) = devices.get(from) else {
        bug("slot");
    };
    let name = user_name(to_user);
    let plan = must("prepare send", device.prepare_send(name, NOW, rng));
    let bundles: Vec<(Address, Vec<u8>)> = plan
        .need_bundles
        .iter()
        .map(|a| {
            let keys = server.get_mut(slot_of(a)).unwrap_or_else(|| bug("slot"));
            let bundle = keys
                .take_bundle()
                .unwrap_or_else(|e| bug(&format!("take bundle: {e:?}")));
            (a.clone(), bundle.bundle().encode())
        })
        .collect();
    let refs: Vec<(Address, &[u8])> = bundles
        .iter()
        .map(|(a, b)| (a.clone(), b.as_slice()))
        .collect();
    let envelopes = must(
        "fixture send",
        device.encrypt(name, b"hello", &refs, NOW, rng),
    );
    for envelope in envelopes {
        let to = slot_of(&envelope.to);
        if !start_linked(to) || !start_linked(from) {
            continue;
        }
        let Some(receiver) = devices.get(to) else {
            bug("slot");
        };
        must(
            "fixture decrypt",
            receiver.decrypt(
                device.address(),
                envelope.message_type,
                &envelope.body,
                NOW,
                rng,
            ),
        );
    }
}

/// Links (`link`) or unlinks the companion of `slot` in the fixture; every other device
/// accepts the new list.
fn change_fixture_list(
    devices: &[Dev],
    entries: &[Option<DeviceEntry>],
    slot: usize,
    link: bool,
    rng: &mut ChaCha20Rng,
) {
    let user = user_of(slot);
    let (Some(primary), Some(Some(entry))) = (devices.get(primary_of(user)), entries.get(slot))
    else {
        bug("slot");
    };
    let list = if link {
        must("link", primary.add_companion(*entry, NOW, rng))
    } else {
        must(
            "unlink",
            primary.remove_companion(entry.device_id, NOW, rng),
        )
    };
    for (other, device) in devices.iter().enumerate() {
        if other != primary_of(user) {
            must(
                "accept list",
                device.accept_device_list(user_name(user), &list, NOW),
            );
        }
    }
}

/// The fixture every run starts from.
struct Fixture {
    devices: Vec<Dev>,
    /// Per slot: the one-time EC prekey ids it uploaded (for snapshots).
    one_time_ids: Vec<Vec<u32>>,
    /// Per slot: the server's copy of its public prekeys.
    server: Vec<DeviceKeys>,
    /// Per slot: its entry on its account's list (companions only).
    entries: Vec<Option<DeviceEntry>>,
    groups: [DistributionId; GROUP_COUNT],
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build_fixture)
}

fn build_fixture() -> Fixture {
    let mut rng = test_rng(0x4641_4341);
    let mut devices: Vec<Dev> = Vec::new();
    let mut entries = Vec::new();
    for &(user, device_id, linked) in &SLOTS {
        let name = user_name(user);
        if device_id == 1 {
            devices.push(must(
                "create account",
                Device::create_account(MemoryStore::new(), name, NOW, &mut rng),
            ));
            entries.push(None);
            continue;
        }
        let primary = devices
            .get(primary_of(user))
            .unwrap_or_else(|| bug("primary comes first"));
        let identity = IdentityKeyPair::generate(&mut rng);
        let account_key = *primary.account_key();
        let companion = must(
            "create companion",
            Device::create_companion(
                MemoryStore::new(),
                name,
                device_id,
                identity,
                account_key,
                &mut rng,
            ),
        );
        let entry = must("entry", companion.membership_entry(NOW, &mut rng));
        if linked {
            must("link", primary.add_companion(entry, NOW, &mut rng));
        }
        devices.push(companion);
        entries.push(Some(entry));
    }
    for (user, name) in USERS.iter().enumerate() {
        let Some(primary) = devices.get(primary_of(user)) else {
            bug("no primary");
        };
        let list = must("own list", primary.own_device_list());
        for (slot, device) in devices.iter().enumerate() {
            if slot != primary_of(user) {
                must("accept list", device.accept_device_list(name, &list, NOW));
            }
        }
    }
    let mut request = GenerateRequest::default();
    request.one_time_prekeys = 1;
    request.kem_prekeys = 1;
    let mut one_time_ids = Vec::new();
    let mut server = Vec::new();
    for device in &devices {
        let upload = must(
            "generate prekeys",
            device.generate_prekeys(&request, NOW, &mut rng),
        );
        let policy = UploadPolicy::default();
        let validated = validate_upload(&device.identity_key(), &upload, &policy, NOW, &mut rng)
            .unwrap_or_else(|e| bug(&format!("upload: {e:?}")));
        let mut keys = DeviceKeys::new(
            device.registration_id(),
            device.address().device_id(),
            device.identity_key(),
        )
        .unwrap_or_else(|e| bug(&format!("device keys: {e:?}")));
        keys.apply_upload(&validated)
            .unwrap_or_else(|e| bug(&format!("apply upload: {e:?}")));
        let decoded = PreKeyUpload::decode(&upload, &policy)
            .unwrap_or_else(|e| bug(&format!("upload decode: {e:?}")));
        one_time_ids.push(decoded.one_time_prekeys().iter().map(|k| k.id()).collect());
        server.push(keys);
    }
    // Sessions between the devices on the lists at the start.
    for &(from, to_user) in &ESTABLISHING {
        fixture_send(&devices, &mut server, from, to_user, &mut rng);
    }
    // The spare companions, linked for a moment: every device sends to every user, and
    // what goes to or from a spare is never delivered. So each spare and each other
    // device have started a session with each other (both ways, neither answered):
    // first messages and simultaneous initiation happen in the runs without the cost of
    // key agreement on the sending side.
    let spares: Vec<usize> = (0..SLOTS.len())
        .filter(|&s| !is_primary(s) && !start_linked(s))
        .collect();
    for &spare in &spares {
        change_fixture_list(&devices, &entries, spare, true, &mut rng);
    }
    for from in 0..SLOTS.len() {
        for to_user in 0..USERS.len() {
            fixture_send(&devices, &mut server, from, to_user, &mut rng);
        }
    }
    for &spare in &spares {
        change_fixture_list(&devices, &entries, spare, false, &mut rng);
    }
    let groups = [
        DistributionId::generate(&mut rng),
        DistributionId::generate(&mut rng),
    ];
    Fixture {
        devices,
        one_time_ids,
        server,
        entries,
        groups,
    }
}

/// Copies every record a fixture store holds (no sender keys yet) into `to`.
fn copy_store(from: &MemoryStore, to: &MemoryStore, one_time_ids: &[u32]) {
    let mut read = must("read", from.transaction());
    let mut write = must("write", to.transaction());
    let account = must("account", read.local_account()).unwrap_or_else(|| bug("no account"));
    must("account", write.set_local_account(&account));
    if let Some(own) = must("own list", read.own_device_list()) {
        must("own list", write.set_own_device_list(&own));
    }
    for user in USERS {
        if let Some(list) = must("list", read.device_list(user)) {
            must("list", write.set_device_list(user, &list));
        }
    }
    for slot in 0..SLOTS.len() {
        let peer = address(slot);
        if let Some(key) = must("identity", read.remote_identity(&peer)) {
            must("identity", write.set_remote_identity(&peer, &key));
        }
        if let Some(record) = must("session", read.session(&peer)) {
            must("session", write.put_session(&peer, &record));
        }
    }
    for id in must("signed ids", read.signed_prekey_ids()) {
        if let Some(record) = must("signed", read.signed_prekey(id)) {
            must("signed", write.put_signed_prekey(&record));
        }
    }
    for (id, _) in must("kem ids", read.kem_prekey_ids()) {
        if let Some(record) = must("kem", read.kem_prekey(id)) {
            must("kem", write.put_kem_prekey(&record));
        }
    }
    if let Some(ids) = must("allocator", read.prekey_id_allocator()) {
        must("allocator", write.set_prekey_id_allocator(&ids));
    }
    for &id in one_time_ids {
        if let Some(record) = must("one-time", read.one_time_prekey(id)) {
            must("one-time", write.put_one_time_prekey(&record));
        }
    }
    must("commit", write.commit());
}

/// Every record of a device's store the oracle compares, as bytes: the lists, and per
/// address of the cast the recorded identity, the session and both groups' sender-key
/// records; both trackers; the id allocator; and the prekeys by their id listings and
/// the one-time count. (Prekey records and the account are not decoded here: decoding a
/// private key derives its public key, a scalar multiplication per record, which would
/// dominate the fuzz loop. A delivery can only delete prekeys, which the listings show.)
fn snapshot(store: &MemoryStore, groups: &[DistributionId]) -> Vec<Vec<u8>> {
    let mut tx = must("snapshot", store.transaction());
    let mut out = vec![must("own list", tx.own_device_list()).unwrap_or_default()];
    for user in USERS {
        out.push(must("list", tx.device_list(user)).unwrap_or_default());
        out.push(
            must("session devices", tx.session_devices(user))
                .iter()
                .flat_map(|d| d.to_be_bytes())
                .collect(),
        );
    }
    for slot in 0..SLOTS.len() {
        let peer = address(slot);
        out.push(
            must("identity", tx.remote_identity(&peer))
                .map(|k| k.encode().to_vec())
                .unwrap_or_default(),
        );
        out.push(
            must("session", tx.session(&peer))
                .map(|r| r.encode().to_vec())
                .unwrap_or_default(),
        );
        for group in groups {
            out.push(
                must("sender key", tx.sender_key(&peer, *group))
                    .map(|r| r.encode().to_vec())
                    .unwrap_or_default(),
            );
        }
    }
    for group in groups {
        out.push(
            must("tracker", tx.sender_key_tracker(*group))
                .map(|t| t.encode())
                .unwrap_or_default(),
        );
    }
    out.push(
        must("signed ids", tx.signed_prekey_ids())
            .iter()
            .flat_map(|id| id.to_be_bytes())
            .collect(),
    );
    out.push(
        must("kem ids", tx.kem_prekey_ids())
            .iter()
            .flat_map(|&(id, last_resort)| {
                let mut bytes = id.to_be_bytes().to_vec();
                bytes.push(u8::from(last_resort));
                bytes
            })
            .collect(),
    );
    out.push(
        must("count", tx.one_time_prekey_count())
            .to_be_bytes()
            .to_vec(),
    );
    out.push(
        must("allocator", tx.prekey_id_allocator())
            .map(|a| a.encode().to_vec())
            .unwrap_or_default(),
    );
    out
}

/// What a pairwise envelope carries, as the sender meant it.
#[derive(Clone, PartialEq, Eq, Debug)]
enum Expect {
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
enum Body {
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
        /// The member devices when it was sent.
        intended: BTreeSet<usize>,
    },
}

#[derive(Clone, Debug)]
struct InFlight {
    /// Unique per send; increasing in send order (a group message's copies share it).
    id: u64,
    from: usize,
    to: usize,
    body: Body,
}

/// Reads the fuzzer's bytes one at a time; 0 once they run out.
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
        usize::from(self.byte()) % SLOTS.len()
    }
}

/// A list a device not made yet has to accept: (user, signed list, the devices it names).
type PendingList = (usize, Vec<u8>, BTreeSet<usize>);

struct Run {
    /// Per slot: the device, made from the fixture the first time it is needed.
    devices: Vec<Option<Dev>>,
    /// Per slot not made yet: the lists it has to accept when it is made, with the
    /// devices each must name.
    pending: Vec<Vec<PendingList>>,
    server: Vec<DeviceKeys>,
    linked: [bool; SLOTS.len()],
    members: [[bool; USERS.len()]; GROUP_COUNT],
    queues: Vec<VecDeque<InFlight>>,
    /// Per slot: what it decrypted (for duplicate deliveries).
    received: Vec<Vec<InFlight>>,
    /// (receiver, envelope or group message id) that decrypted.
    decrypted: BTreeSet<(usize, u64)>,
    /// (receiver, sender) → ids of the pairwise envelopes that decrypted.
    pair_decrypts: BTreeMap<(usize, usize), Vec<u64>>,
    /// (receiver, sender, group) → chains held, newest first, with the first iteration.
    chains: BTreeMap<(usize, usize, usize), Vec<(u32, u32)>>,
    /// (sender, group) → the current chain and the devices it was given.
    given: BTreeMap<(usize, usize), (u32, BTreeSet<usize>)>,
    rng: ChaCha20Rng,
    next_id: u64,
}

impl Run {
    fn new(seed: u64) -> Self {
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
            pair_decrypts: BTreeMap::new(),
            chains: BTreeMap::new(),
            given: BTreeMap::new(),
            rng: test_rng(seed),
            next_id: 0,
        }
    }

    /// Makes the device of `slot` from the fixture, if not made yet: its store is a
    /// record-by-record copy of the fixture's, then it accepts the lists it missed.
    fn ensure(&mut self, slot: usize) {
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
    fn dev(&self, slot: usize) -> &Dev {
        self.devices
            .get(slot)
            .and_then(Option::as_ref)
            .unwrap_or_else(|| bug("device not made"))
    }

    fn is_linked(&self, slot: usize) -> bool {
        self.linked.get(slot).copied().unwrap_or(false)
    }

    /// The devices on `user`'s current list.
    fn list_of(&self, user: usize) -> BTreeSet<usize> {
        (0..SLOTS.len())
            .filter(|&s| user_of(s) == user && self.is_linked(s))
            .collect()
    }

    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id = self.next_id.saturating_add(1);
        id
    }

    fn bundles(&mut self, need: &[Address]) -> Vec<(Address, Vec<u8>)> {
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

    fn push(&mut self, item: InFlight) {
        if let Some(queue) = self.queues.get_mut(item.to) {
            queue.push_back(item);
        }
    }

    fn send(&mut self, from: usize, to_user: usize, extra: u8) {
        let id = self.take_id();
        let mut plaintext = format!("#{id} from {from}").into_bytes();
        plaintext.resize(plaintext.len() + usize::from(extra % 48), b'.');
        let name = user_name(to_user);
        self.ensure(from);
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
        let envelopes = {
            let Self { devices, rng, .. } = self;
            let device = made(devices, from);
            must("encrypt", device.encrypt(name, &plaintext, &refs, NOW, rng))
        };
        let own_user = user_of(from);
        let mut expected: BTreeSet<usize> = self
            .list_of(own_user)
            .into_iter()
            .filter(|&s| s != from)
            .collect();
        if to_user != own_user {
            expected.extend(self.list_of(to_user));
        }
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
                to,
                body: Body::Pairwise {
                    message_type: envelope.message_type,
                    bytes: envelope.body,
                    expect,
                },
            });
        }
    }

    fn send_group(&mut self, from: usize, group: usize, extra: u8) {
        let fx = fixture();
        let Some(&distribution) = fx.groups.get(group) else {
            return;
        };
        let members: Vec<&str> = (0..USERS.len())
            .filter(|&u| self.members.get(group).and_then(|m| m.get(u)) == Some(&true))
            .map(user_name)
            .collect();
        let id = self.take_id();
        let mut plaintext = format!("group {group} #{id} from {from}").into_bytes();
        plaintext.resize(plaintext.len() + usize::from(extra % 48), b'.');
        self.ensure(from);
        let plan = must(
            "prepare group send",
            self.dev(from)
                .prepare_group_send(distribution, &members, NOW),
        );
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
        let message = SenderKeyMessage::decode(&sent.group_message)
            .unwrap_or_else(|e| bug(&format!("own group message: {e:?}")));
        let (chain, iteration) = (message.chain_id(), message.iteration());
        let own_user = user_of(from);
        let mut intended: BTreeSet<usize> = self
            .list_of(own_user)
            .into_iter()
            .filter(|&s| s != from)
            .collect();
        for user in 0..USERS.len() {
            if user != own_user && self.members.get(group).and_then(|m| m.get(user)) == Some(&true)
            {
                intended.extend(self.list_of(user));
            }
        }
        let distributed: BTreeSet<usize> =
            sent.distributions.iter().map(|e| slot_of(&e.to)).collect();
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
                        "a device left the group but the chain did not change"
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
        for envelope in sent.distributions {
            let id = self.take_id();
            self.push(InFlight {
                id,
                from,
                to: slot_of(&envelope.to),
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
        for &to in &intended {
            self.push(InFlight {
                id,
                from,
                to,
                body: Body::Group {
                    bytes: sent.group_message.clone(),
                    group,
                    chain,
                    iteration,
                    plaintext: plaintext.clone(),
                    intended: intended.clone(),
                },
            });
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
        }
    }

    fn toggle_link(&mut self, slot: usize) {
        if is_primary(slot) {
            return;
        }
        let user = user_of(slot);
        let primary = primary_of(user);
        let fx = fixture();
        let Some(Some(entry)) = fx.entries.get(slot) else {
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
                device.add_companion(*entry, NOW, rng)
            };
            *flag = !*flag;
            must("link or unlink", list)
        };
        let expected: BTreeSet<usize> = self.list_of(user);
        for other in 0..SLOTS.len() {
            if other == primary {
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
    }

    /// Whether `to`'s receiving chain for `item` may have been dropped: it decrypted at
    /// least `MAX_RECEIVER_CHAINS` later envelopes from the same sender.
    fn may_be_dropped(&self, to: usize, item: &InFlight) -> bool {
        self.pair_decrypts
            .get(&(to, item.from))
            .is_some_and(|ids| ids.iter().filter(|&&i| i > item.id).count() >= MAX_RECEIVER_CHAINS)
    }

    /// Whether `to` holds the chain of a group message from `from`.
    fn holds(&self, to: usize, from: usize, group: usize, chain: u32, iteration: u32) -> bool {
        self.chains.get(&(to, from, group)).is_some_and(|held| {
            held.iter()
                .any(|&(c, first)| c == chain && first <= iteration)
        })
    }

    fn snapshot(&mut self, slot: usize) -> Vec<Vec<u8>> {
        self.ensure(slot);
        snapshot(self.dev(slot).store(), &fixture().groups)
    }

    /// Delivers `item` to device `at`, claiming it came from `claimed`, and checks the
    /// outcome against the model.
    fn deliver(&mut self, item: &InFlight, at: usize, claimed: usize) {
        self.ensure(at);
        let already = self.decrypted.contains(&(at, item.id));
        let sender_listed = self.is_linked(item.from);
        let genuine = claimed == item.from && !already;
        match &item.body {
            Body::Pairwise {
                message_type,
                bytes,
                expect,
            } => {
                let must_decrypt =
                    genuine && at == item.to && sender_listed && !self.may_be_dropped(at, item);
                let before = (!must_decrypt).then(|| self.snapshot(at));
                let result = {
                    let Self { devices, rng, .. } = self;
                    made(devices, at).decrypt(&address(claimed), *message_type, bytes, NOW, rng)
                };
                match result {
                    Ok(received) => {
                        assert!(!already, "#{}: decrypted twice", item.id);
                        assert_eq!(at, item.to, "#{}: a misrouted envelope decrypted", item.id);
                        assert_eq!(
                            claimed, item.from,
                            "#{}: decrypted under another sender",
                            item.id
                        );
                        assert!(
                            sender_listed,
                            "#{}: accepted from an unlisted device",
                            item.id
                        );
                        assert_eq!(received.from, address(item.from), "wrong sender reported");
                        self.check_content(at, item, &received.kind, expect);
                        self.decrypted.insert((at, item.id));
                        self.pair_decrypts
                            .entry((at, item.from))
                            .or_default()
                            .push(item.id);
                        if let Some(list) = self.received.get_mut(at) {
                            list.push(item.clone());
                        }
                    }
                    Err(error) => {
                        if must_decrypt {
                            bug(&format!(
                                "#{}: genuine envelope refused: {error:?}",
                                item.id
                            ));
                        }
                        if genuine && at == item.to {
                            if sender_listed {
                                assert_eq!(
                                    error,
                                    Error::Session(hush_ratchet::Error::DecryptionFailed),
                                    "#{}: an old envelope failed otherwise",
                                    item.id
                                );
                            } else {
                                assert!(
                                    matches!(error, Error::UntrustedDevice { .. }),
                                    "#{}: unlisted sender refused with {error:?}",
                                    item.id
                                );
                            }
                        }
                        if let Some(before) = before {
                            assert!(
                                before == self.snapshot(at),
                                "#{}: a refused envelope changed the store ({error:?})",
                                item.id
                            );
                        }
                    }
                }
            }
            Body::Group {
                bytes,
                group,
                chain,
                iteration,
                plaintext,
                intended,
            } => {
                let must_decrypt = genuine
                    && sender_listed
                    && self.holds(at, item.from, *group, *chain, *iteration);
                let before = (!must_decrypt).then(|| self.snapshot(at));
                let result = self.dev(at).decrypt_group(&address(claimed), bytes, NOW);
                match result {
                    Ok(received) => {
                        assert!(!already, "group #{}: decrypted twice", item.id);
                        assert_eq!(claimed, item.from, "group #{}: another sender", item.id);
                        assert!(
                            intended.contains(&at),
                            "group #{}: read by a device that was not a member",
                            item.id
                        );
                        assert!(
                            must_decrypt,
                            "group #{}: decrypted without the chain",
                            item.id
                        );
                        assert_eq!(received.plaintext.as_slice(), plaintext.as_slice());
                        let fx = fixture();
                        assert_eq!(Some(&received.distribution_id), fx.groups.get(*group));
                        self.decrypted.insert((at, item.id));
                        if let Some(list) = self.received.get_mut(at) {
                            list.push(item.clone());
                        }
                    }
                    Err(error) => {
                        if must_decrypt {
                            bug(&format!("group #{}: refused: {error:?}", item.id));
                        }
                        if let Some(before) = before {
                            assert!(
                                before == self.snapshot(at),
                                "group #{}: a refused message changed the store ({error:?})",
                                item.id
                            );
                        }
                    }
                }
            }
        }
    }

    fn check_content(&mut self, at: usize, item: &InFlight, kind: &ReceivedKind, expect: &Expect) {
        match (kind, expect) {
            (ReceivedKind::Direct { plaintext }, Expect::Direct(sent)) => {
                assert_eq!(
                    plaintext.as_slice(),
                    sent.as_slice(),
                    "#{}: wrong text",
                    item.id
                );
            }
            (
                ReceivedKind::SentTranscript { to_user, plaintext },
                Expect::Transcript {
                    to_user: sent_to,
                    plaintext: sent,
                },
            ) => {
                assert_eq!(
                    to_user,
                    user_name(*sent_to),
                    "#{}: wrong transcript",
                    item.id
                );
                assert_eq!(
                    plaintext.as_slice(),
                    sent.as_slice(),
                    "#{}: wrong text",
                    item.id
                );
            }
            (
                ReceivedKind::GroupDistribution { distribution_id },
                Expect::Distribution {
                    group,
                    chain,
                    iteration,
                },
            ) => {
                let fx = fixture();
                assert_eq!(Some(distribution_id), fx.groups.get(*group));
                let held = self.chains.entry((at, item.from, *group)).or_default();
                let first = match held.iter().position(|&(c, _)| c == *chain) {
                    Some(i) => held.remove(i).1,
                    None => *iteration,
                };
                held.insert(0, (*chain, first));
                held.truncate(MAX_SENDER_KEY_STATES);
            }
            (kind, expect) => bug(&format!("#{}: received {kind:?}, sent {expect:?}", item.id)),
        }
    }

    /// Runs one operation: the opcode byte modulo 12 picks it, then its argument bytes
    /// (a slot is a byte modulo 8, an index a byte modulo the queue's length):
    /// 0, 1 send (sender slot, recipient user, padding); 2 group send (sender slot,
    /// group, padding); 3 toggle group membership (group, user, device that records a
    /// removal); 4 link or unlink (companion slot; primaries are skipped); 5, 6 deliver
    /// the oldest queued (slot); 7 deliver at an index (slot, index); 8 drop (slot,
    /// index); 9 deliver again something already decrypted (slot, index); 10 misroute
    /// (queue slot, index, slot offset 1..=7); 11 name another sender (slot, index,
    /// sender offset 1..=7).
    fn step(&mut self, script: &mut Script<'_>) {
        let op = script.byte();
        match op % 12 {
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
            _ => {
                let at = script.slot();
                let pick = script.byte();
                let shift = 1 + usize::from(script.byte()) % (SLOTS.len() - 1);
                if let Some(item) = peek(self.queues.get(at), pick) {
                    self.deliver(&item, at, (item.from + shift) % SLOTS.len());
                }
            }
        }
    }
}

/// The device of `slot`, which must have been made.
fn made(devices: &[Option<Dev>], slot: usize) -> &Dev {
    devices
        .get(slot)
        .and_then(Option::as_ref)
        .unwrap_or_else(|| bug("device not made"))
}

/// `device` accepts `user`'s new list, which must name the devices `expected`.
fn accept(device: &Dev, user: usize, list: &[u8], expected: &BTreeSet<usize>) {
    let to = must(
        "accept new list",
        device.accept_device_list(user_name(user), list, NOW),
    );
    let got: BTreeSet<usize> = to.iter().map(slot_of).collect();
    assert_eq!(got, *expected, "accepted list names the wrong devices");
}

/// Removes the `pick`-th (modulo the length) queued envelope, if there is one.
fn take(queue: Option<&mut VecDeque<InFlight>>, pick: u8) -> Option<InFlight> {
    let queue = queue?;
    if queue.is_empty() {
        return None;
    }
    queue.remove(usize::from(pick) % queue.len())
}

/// A copy of the `pick`-th (modulo the length) queued envelope, left in the queue.
fn peek(queue: Option<&VecDeque<InFlight>>, pick: u8) -> Option<InFlight> {
    let queue = queue?;
    if queue.is_empty() {
        return None;
    }
    queue.get(usize::from(pick) % queue.len()).cloned()
}

/// Three accounts over the `hush` facade, scripted by the fuzzer's bytes (see the
/// module documentation for the cast, the script and the oracle).
pub fn facade_interaction(data: &[u8]) {
    let _ = interact(data);
}

/// Runs [`facade_interaction`]'s script; returns how many deliveries decrypted.
fn interact(data: &[u8]) -> usize {
    let (seed, rest) = data.split_at(data.len().min(4));
    let mut seed_bytes = [0; 4];
    for (to, from) in seed_bytes.iter_mut().zip(seed) {
        *to = *from;
    }
    let mut run = Run::new(u64::from(u32::from_le_bytes(seed_bytes)));
    let mut script = Script { rest };
    let mut ops = 0;
    while !script.rest.is_empty() && ops < MAX_FACADE_OPS {
        run.step(&mut script);
        ops += 1;
    }
    for at in 0..SLOTS.len() {
        while let Some(item) = run.queues.get_mut(at).and_then(VecDeque::pop_front) {
            run.deliver(&item, at, item.from);
        }
    }
    run.decrypted.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conversation_runs() {
        // seed, then: alice.1 → bob, bob.2 → alice, group send, link alice.3,
        // deliver everything at the end.
        // 3 + 3 envelopes, then 4 distributions and 4 copies of the group message.
        assert_eq!(
            interact(&[1, 0, 0, 0, 0, 0, 1, 0, 1, 4, 0, 0, 2, 0, 0, 0, 4, 2]),
            14
        );
    }

    #[test]
    fn a_linked_spare_takes_first_messages_once() {
        // Link alice.3; bob.1 sends to alice (alice.1, alice.2, alice.3, bob.2); alice.3
        // takes its first message, refuses it again, alice.2 refuses alice.1's copy.
        assert_eq!(
            interact(&[0, 0, 0, 0, 4, 2, 0, 3, 0, 0, 5, 2, 9, 2, 0, 10, 0, 0, 0]),
            4
        );
    }

    #[test]
    fn an_unlinked_device_is_refused_everywhere() {
        // Unlink alice.2, which then sends to bob: bob.1, bob.2 and alice.1 refuse it.
        assert_eq!(interact(&[0, 0, 0, 0, 4, 1, 0, 1, 1, 0]), 0);
    }
}
