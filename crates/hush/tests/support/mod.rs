//! Helpers shared by the client tests: a tiny in-test "server" (bundles from
//! `hush-prekey`'s `DeviceKeys`), accounts with companions, and store snapshots.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code,
    reason = "test helpers; each test binary uses a part of them"
)]

use std::collections::BTreeMap;

use hush::store::{
    DeviceListStore, IdentityStore, MemoryStore, PreKeyStore, SenderKeyStore, SessionStore, Store,
};
use hush::{Address, Device, DistributionId, Envelope, GenerateRequest, ReceivedKind};
use hush_core::{IdentityKey, IdentityKeyPair};
use hush_prekey::{DeviceKeys, PreKeyUpload, UploadPolicy, validate_upload};
use hush_test_support::test_rng;
use rand_chacha::ChaCha20Rng;

pub(crate) const NOW: u64 = 1_700_000_000_000;
pub(crate) const DAY: u64 = 24 * 60 * 60 * 1000;

pub(crate) type Dev = Device<MemoryStore>;

pub(crate) fn addr(user: &str, id: u32) -> Address {
    Address::new(user, id).unwrap()
}

/// The server side of the test: each device's prekeys, and the one-time prekey ids each
/// upload announced (to look them up in the device's store).
#[derive(Default)]
pub(crate) struct Server {
    pub(crate) keys: BTreeMap<Address, DeviceKeys>,
    pub(crate) one_time_ids: BTreeMap<Address, Vec<u32>>,
    pub(crate) kem_ids: BTreeMap<Address, Vec<u32>>,
    identities: BTreeMap<Address, IdentityKey>,
}

impl Server {
    pub(crate) fn upload(&mut self, device: &Dev, upload: &[u8], rng: &mut ChaCha20Rng) {
        let address = device.address().clone();
        let policy = UploadPolicy::default();
        let validated = validate_upload(&device.identity_key(), upload, &policy, NOW, rng).unwrap();
        // A device registering again under its address with another identity key (a
        // replaced device) starts over, as a server's re-registration does.
        if self.identities.get(&address) != Some(&device.identity_key()) {
            self.keys.remove(&address);
            self.identities
                .insert(address.clone(), device.identity_key());
        }
        let keys = self.keys.entry(address.clone()).or_insert_with(|| {
            DeviceKeys::new(
                device.registration_id(),
                address.device_id(),
                device.identity_key(),
            )
            .unwrap()
        });
        keys.apply_upload(&validated).unwrap();
        let decoded = PreKeyUpload::decode(upload, &policy).unwrap();
        self.one_time_ids
            .entry(address.clone())
            .or_default()
            .extend(decoded.one_time_prekeys().iter().map(|k| k.id()));
        let kem = self.kem_ids.entry(address).or_default();
        kem.extend(decoded.kem_prekeys().iter().map(|k| k.id()));
        kem.extend(decoded.last_resort_kem_prekey().map(|k| k.id()));
    }

    pub(crate) fn bundle(&mut self, address: &Address) -> Vec<u8> {
        self.keys
            .get_mut(address)
            .unwrap()
            .take_bundle()
            .unwrap()
            .bundle()
            .encode()
    }

    pub(crate) fn bundles(&mut self, addresses: &[Address]) -> Vec<(Address, Vec<u8>)> {
        addresses
            .iter()
            .map(|a| (a.clone(), self.bundle(a)))
            .collect()
    }
}

pub(crate) fn as_refs(bundles: &[(Address, Vec<u8>)]) -> Vec<(Address, &[u8])> {
    bundles
        .iter()
        .map(|(a, b)| (a.clone(), b.as_slice()))
        .collect()
}

pub(crate) fn small_batch() -> GenerateRequest {
    let mut request = GenerateRequest::default();
    request.one_time_prekeys = 4;
    request.kem_prekeys = 2;
    request
}

/// A primary and `companions` companions (device ids 2..), each with prekeys on the
/// server, every device holding the account's final list.
pub(crate) fn account(
    user: &str,
    companions: u32,
    server: &mut Server,
    rng: &mut ChaCha20Rng,
) -> Vec<Dev> {
    let primary = Device::create_account(MemoryStore::new(), user, NOW, rng).unwrap();
    let mut devices = vec![primary];
    let mut list = devices[0].own_device_list().unwrap();
    for device_id in 2..2 + companions {
        let identity = IdentityKeyPair::generate(rng);
        let companion = Device::create_companion(
            MemoryStore::new(),
            user,
            device_id,
            identity,
            *devices[0].account_key(),
            rng,
        )
        .unwrap();
        let entry = companion.membership_entry(NOW, rng).unwrap();
        list = devices[0].add_companion(entry, NOW, rng).unwrap();
        devices.push(companion);
    }
    for device in &devices[1..] {
        device.accept_device_list(user, &list, NOW).unwrap();
    }
    for device in &devices {
        let upload = device.generate_prekeys(&small_batch(), NOW, rng).unwrap();
        server.upload(device, &upload, rng);
    }
    devices
}

/// Every device of `readers` accepts `writer`'s list.
pub(crate) fn learn(readers: &[Dev], writer: &[Dev]) {
    let user = writer[0].address().name().to_owned();
    let list = writer[0].own_device_list().unwrap();
    for reader in readers {
        reader.accept_device_list(&user, &list, NOW).unwrap();
    }
}

pub(crate) fn find<'d>(devices: &'d [&'d Dev], to: &Address) -> &'d Dev {
    devices.iter().copied().find(|d| d.address() == to).unwrap()
}

pub(crate) fn text(kind: &ReceivedKind) -> Vec<u8> {
    match kind {
        ReceivedKind::Direct { plaintext } => plaintext.to_vec(),
        ReceivedKind::SentTranscript { plaintext, .. } => plaintext.to_vec(),
        other => panic!("not a text: {other:?}"),
    }
}

/// Sends `plaintext` from `from` to `user`, fetching the bundles the plan asks for.
pub(crate) fn send(
    from: &Dev,
    user: &str,
    plaintext: &[u8],
    server: &mut Server,
    rng: &mut ChaCha20Rng,
) -> Vec<Envelope> {
    let plan = from.prepare_send(user, NOW, rng).unwrap();
    let bundles = server.bundles(&plan.need_bundles);
    from.encrypt(user, plaintext, &as_refs(&bundles), NOW, rng)
        .unwrap()
}

/// Every record a device's store holds about the given peers, groups and prekey ids,
/// as bytes: equal snapshots mean the store did not change.
pub(crate) fn snapshot<S: Store>(
    store: &S,
    peers: &[Address],
    users: &[&str],
    groups: &[DistributionId],
    prekey_ids: &[u32],
) -> Vec<Vec<u8>> {
    let mut tx = store.transaction().unwrap();
    let mut out = Vec::new();
    let account = tx.local_account().unwrap().unwrap();
    out.push(account.identity.encode().to_vec());
    out.push(account.user.as_bytes().to_vec());
    out.push(account.account_key.encode().to_vec());
    out.push(tx.own_device_list().unwrap().unwrap_or_default());
    for user in users {
        out.push(tx.device_list(user).unwrap().unwrap_or_default());
        out.push(
            tx.session_devices(user)
                .unwrap()
                .iter()
                .flat_map(|d| d.to_be_bytes())
                .collect(),
        );
    }
    let own = Address::new(account.user.as_str(), account.device_id).unwrap();
    for peer in peers.iter().chain([&own]) {
        out.push(
            tx.remote_identity(peer)
                .unwrap()
                .map(|k| k.encode().to_vec())
                .unwrap_or_default(),
        );
        out.push(
            tx.session(peer)
                .unwrap()
                .map(|r| r.encode().to_vec())
                .unwrap_or_default(),
        );
        for group in groups {
            out.push(
                tx.sender_key(peer, *group)
                    .unwrap()
                    .map(|r| r.encode().to_vec())
                    .unwrap_or_default(),
            );
        }
    }
    for group in groups {
        out.push(
            tx.sender_key_tracker(*group)
                .unwrap()
                .map(|t| t.encode())
                .unwrap_or_default(),
        );
    }
    for id in tx.signed_prekey_ids().unwrap() {
        out.push(tx.signed_prekey(id).unwrap().unwrap().encode().to_vec());
    }
    for (id, _) in tx.kem_prekey_ids().unwrap() {
        out.push(tx.kem_prekey(id).unwrap().unwrap().encode().to_vec());
    }
    for &id in prekey_ids {
        out.push(
            tx.one_time_prekey(id)
                .unwrap()
                .map(|r| r.encode().to_vec())
                .unwrap_or_default(),
        );
    }
    out.push(tx.one_time_prekey_count().unwrap().to_be_bytes().to_vec());
    out.push(
        tx.prekey_id_allocator()
            .unwrap()
            .map(|a| a.encode().to_vec())
            .unwrap_or_default(),
    );
    out
}

pub(crate) struct World {
    pub(crate) rng: ChaCha20Rng,
    pub(crate) server: Server,
    pub(crate) alice: Vec<Dev>,
    pub(crate) bob: Vec<Dev>,
}

pub(crate) fn world(seed: u64) -> World {
    let mut rng = test_rng(seed);
    let mut server = Server::default();
    let alice = account("alice", 1, &mut server, &mut rng);
    let bob = account("bob", 2, &mut server, &mut rng);
    learn(&alice, &bob);
    learn(&bob, &alice);
    World {
        rng,
        server,
        alice,
        bob,
    }
}

pub(crate) fn all<'a>(alice: &'a [Dev], bob: &'a [Dev]) -> Vec<&'a Dev> {
    alice.iter().chain(bob).collect()
}

/// Every peer any test uses.
pub(crate) fn peers() -> Vec<Address> {
    let mut out = vec![
        addr("alice", 1),
        addr("alice", 2),
        addr("carol", 1),
        addr("mallory", 1),
    ];
    out.extend((1..=4).map(|id| addr("bob", id)));
    out
}

pub(crate) fn snap(server: &Server, device: &Dev) -> Vec<Vec<u8>> {
    let ids = server.one_time_ids[device.address()].clone();
    snapshot(
        device.store(),
        &peers(),
        &["alice", "bob", "carol"],
        &[],
        &ids,
    )
}
