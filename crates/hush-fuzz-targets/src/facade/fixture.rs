//! The fixture every run starts from (built once), copying it into a run's devices,
//! and the store snapshots the oracle compares.

use std::sync::OnceLock;

use hush::store::{
    DeviceListStore, IdentityStore, MemoryStore, PreKeyStore, SenderKeyStore, SessionStore, Store,
    Transaction,
};
use hush::{Address, Device, DeviceEntry, DistributionId, GenerateRequest};
use hush_core::IdentityKeyPair;
use hush_prekey::{DeviceKeys, PreKeyUpload, UploadPolicy, validate_upload};
use hush_test_support::test_rng;
use rand_chacha::ChaCha20Rng;

use super::{
    Dev, ESTABLISHING, GROUP_COUNT, NOW, SLOTS, USERS, address, bug, is_primary, must, primary_of,
    slot_of, start_linked, user_name, user_of,
};

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
pub(super) struct Fixture {
    pub(super) devices: Vec<Dev>,
    /// Per slot: the one-time EC prekey ids it uploaded (for snapshots).
    pub(super) one_time_ids: Vec<Vec<u32>>,
    /// Per slot: the server's copy of its public prekeys.
    pub(super) server: Vec<DeviceKeys>,
    /// Per slot: its entry on its account's list (companions only).
    pub(super) entries: Vec<Option<DeviceEntry>>,
    pub(super) groups: [DistributionId; GROUP_COUNT],
}

pub(super) fn fixture() -> &'static Fixture {
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
pub(super) fn copy_store(from: &MemoryStore, to: &MemoryStore, one_time_ids: &[u32]) {
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
pub(super) fn snapshot(store: &MemoryStore, groups: &[DistributionId]) -> Vec<Vec<u8>> {
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
