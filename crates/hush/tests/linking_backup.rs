//! Linking a companion (`CompanionLink`, `Device::accept_companion` /
//! `finish_companion`), the history hand-off, and backup / restore, end to end through
//! the reference server types.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use hush::backup::{self, BACKUP_CONTEXT_LABEL, BackupKey, RecoveryCode};
use hush::server::{DeviceLists, PreKeyDirectory};
use hush::store::MemoryStore;
#[cfg(feature = "sqlite")]
use hush::store::SqliteStore;
use hush::{Address, CompanionLink, Device, Error, GenerateRequest, ReceivedKind};
use hush_test_support::test_rng;
use rand_chacha::ChaCha20Rng;

const NOW: u64 = 1_700_000_000_000;

type Dev = Device<MemoryStore>;

struct Server {
    directory: PreKeyDirectory,
    lists: DeviceLists,
}

impl Server {
    fn new() -> Self {
        Self {
            directory: PreKeyDirectory::new(),
            lists: DeviceLists::new(),
        }
    }

    /// Registers `device`, uploads a few prekeys, and (for a primary) the account and
    /// its device list.
    fn publish(&self, device: &Dev, rng: &mut ChaCha20Rng) {
        self.directory
            .register_device(
                device.address(),
                device.registration_id(),
                device.identity_key(),
            )
            .unwrap();
        let mut request = GenerateRequest::default();
        request.one_time_prekeys = 3;
        request.kem_prekeys = 3;
        let upload = device.generate_prekeys(&request, NOW, rng).unwrap();
        self.directory
            .upload(device.address(), &device.identity_key(), &upload, NOW, rng)
            .unwrap();
        if device.address().device_id() == 1 {
            self.lists
                .register_account(device.address().name(), *device.account_key())
                .unwrap();
            self.lists
                .upload(device.address().name(), &device.own_device_list().unwrap())
                .unwrap();
        }
    }

    fn bundles(&self, addresses: &[Address]) -> Vec<(Address, Vec<u8>)> {
        addresses
            .iter()
            .map(|a| (a.clone(), self.directory.bundle(a).unwrap()))
            .collect()
    }
}

fn send(
    server: &Server,
    from: &Dev,
    to_user: &str,
    text: &[u8],
    rng: &mut ChaCha20Rng,
) -> Vec<hush::Envelope> {
    let plan = from.prepare_send(to_user, NOW, rng).unwrap();
    let bundles = server.bundles(&plan.need_bundles);
    let refs: Vec<(Address, &[u8])> = bundles
        .iter()
        .map(|(a, b)| (a.clone(), b.as_slice()))
        .collect();
    from.encrypt(to_user, text, &refs, NOW, rng).unwrap()
}

/// Links a companion to `primary` and returns it with both sides' history keys.
fn link(
    primary: &Dev,
    rng: &mut ChaCha20Rng,
) -> (Dev, hush::LinkHistory, hush::LinkHistory, Vec<u8>) {
    let companion = CompanionLink::start(b"relay-7", NOW, rng).unwrap();
    let qr = companion.offer_qr_text();
    let (pending, message) = primary.accept_companion(&qr, NOW + 1_000, rng).unwrap();
    assert_eq!(pending.device_id(), 2);
    let linked = companion
        .finish(MemoryStore::new(), &message, NOW + 2_000, rng)
        .unwrap();
    let done = primary
        .finish_companion(pending, &linked.countersignature, NOW + 3_000, rng)
        .unwrap();
    assert_eq!(done.entry.device_id, 2);
    assert_eq!(done.entry.identity_key, linked.device.identity_key());
    (
        linked.device,
        done.history,
        linked.history,
        done.device_list,
    )
}

#[test]
fn a_linked_companion_receives_messages_and_history() {
    let mut rng = test_rng(90);
    let server = Server::new();
    let alice = Dev::create_account(MemoryStore::new(), "alice", NOW, &mut rng).unwrap();
    let bob = Dev::create_account(MemoryStore::new(), "bob", NOW, &mut rng).unwrap();
    server.publish(&alice, &mut rng);
    server.publish(&bob, &mut rng);
    let version_before = server.lists.version("alice").unwrap();

    let (laptop, primary_history, companion_history, list) = link(&alice, &mut rng);
    assert_eq!(laptop.address(), &Address::new("alice", 2).unwrap());
    assert_eq!(laptop.account_key(), alice.account_key());
    assert_ne!(laptop.identity_key(), alice.identity_key());
    assert_eq!(alice.own_device_list().unwrap(), list);

    // The new list is a new version, accepted by the server and by the companion.
    server.lists.upload("alice", &list).unwrap();
    assert_eq!(server.lists.version("alice"), Some(version_before + 1));
    let own = laptop.accept_device_list("alice", &list, NOW).unwrap();
    assert_eq!(own.len(), 2);
    server.publish(&laptop, &mut rng);

    // Bob sends to Alice: both of her devices get it.
    bob.accept_device_list("alice", &server.lists.fetch("alice").unwrap(), NOW)
        .unwrap();
    alice
        .accept_device_list("bob", &server.lists.fetch("bob").unwrap(), NOW)
        .unwrap();
    laptop
        .accept_device_list("bob", &server.lists.fetch("bob").unwrap(), NOW)
        .unwrap();
    let envelopes = send(&server, &bob, "alice", b"hello both", &mut rng);
    assert_eq!(envelopes.len(), 2);
    for (device, envelope) in [(&alice, &envelopes[0]), (&laptop, &envelopes[1])] {
        assert_eq!(&envelope.to, device.address());
        let received = device
            .decrypt(
                bob.address(),
                envelope.message_type,
                &envelope.body,
                NOW,
                &mut rng,
            )
            .unwrap();
        let ReceivedKind::Direct { plaintext } = received.kind else {
            panic!("not direct")
        };
        assert_eq!(plaintext.as_slice(), b"hello both");
    }

    // History hand-off: the primary's stream decrypts on the companion.
    let history = b"bob: hi\nalice: hello\n".repeat(5_000);
    let mut stream = Vec::new();
    let sent = primary_history
        .send(&mut rng, &history[..], &mut stream, None, |_| {})
        .unwrap();
    assert_eq!(sent.plaintext_bytes, history.len() as u64);
    assert!(!stream.windows(20).any(|w| w == &history[..20]));
    let mut received = Vec::new();
    companion_history
        .receive(&stream[..], &mut received, None, |_| {})
        .unwrap();
    assert_eq!(received, history);

    // A stream from another linking does not decrypt.
    let (_other, other_primary, _, _) = link(
        &Dev::create_account(MemoryStore::new(), "carol", NOW, &mut rng).unwrap(),
        &mut rng,
    );
    let mut foreign = Vec::new();
    other_primary
        .send(&mut rng, &b"not yours"[..], &mut foreign, None, |_| {})
        .unwrap();
    let mut out = Vec::new();
    let err = companion_history
        .receive(&foreign[..], &mut out, None, |_| {})
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Device(hush_device::Error::HistoryStream(
                hush_backup::Error::WrongKey | hush_backup::Error::HeaderAuthentication
            ))
        ),
        "{err:?}"
    );
    assert!(out.is_empty());
}

#[test]
fn an_offer_is_answered_once() {
    let mut rng = test_rng(91);
    let alice = Dev::create_account(MemoryStore::new(), "alice", NOW, &mut rng).unwrap();
    let companion = CompanionLink::start(b"relay", NOW, &mut rng).unwrap();
    let qr = companion.offer_qr_text();
    alice.accept_companion(&qr, NOW, &mut rng).unwrap();
    assert_eq!(
        alice.accept_companion(&qr, NOW + 1, &mut rng).unwrap_err(),
        Error::Device(hush_device::Error::Replayed)
    );
    // An expired offer is refused too.
    let late = CompanionLink::start(b"relay", NOW, &mut rng).unwrap();
    assert_eq!(
        alice
            .accept_companion(&late.offer_qr_text(), NOW + 10 * 60_000, &mut rng)
            .unwrap_err(),
        Error::Device(hush_device::Error::Expired)
    );
}

#[test]
fn only_the_primary_links_and_bad_countersignatures_change_nothing() {
    let mut rng = test_rng(92);
    let alice = Dev::create_account(MemoryStore::new(), "alice", NOW, &mut rng).unwrap();
    let list_before = alice.own_device_list().unwrap();
    let companion = CompanionLink::start(b"relay", NOW, &mut rng).unwrap();
    let (pending, message) = alice
        .accept_companion(&companion.offer_qr_text(), NOW, &mut rng)
        .unwrap();
    let linked = companion
        .finish(MemoryStore::new(), &message, NOW, &mut rng)
        .unwrap();
    let mut forged = linked.countersignature.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    assert_eq!(
        alice
            .finish_companion(pending, &forged, NOW, &mut rng)
            .unwrap_err(),
        Error::Device(hush_device::Error::Tampered)
    );
    assert_eq!(alice.own_device_list().unwrap(), list_before);

    // The companion cannot link further devices.
    let another = CompanionLink::start(b"relay", NOW, &mut rng).unwrap();
    assert!(matches!(
        linked
            .device
            .accept_companion(&another.offer_qr_text(), NOW, &mut rng),
        Err(Error::InvalidArgument(_))
    ));
}

#[cfg(feature = "sqlite")]
#[test]
fn a_tampered_linking_message_creates_no_companion() {
    let mut rng = test_rng(93);
    let alice = Dev::create_account(MemoryStore::new(), "alice", NOW, &mut rng).unwrap();
    let companion = CompanionLink::start(b"relay", NOW, &mut rng).unwrap();
    let (_pending, mut message) = alice
        .accept_companion(&companion.offer_qr_text(), NOW, &mut rng)
        .unwrap();
    let last = message.len() - 1;
    message[last] ^= 1;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("laptop.db");
    let err = companion
        .finish(
            SqliteStore::open(&path, None).unwrap(),
            &message,
            NOW,
            &mut rng,
        )
        .unwrap_err();
    assert_eq!(err, Error::Device(hush_device::Error::Tampered));
    let reopened = SqliteStore::open(&path, None).unwrap();
    assert_eq!(Device::open(reopened).unwrap_err(), Error::NoAccount);
}

#[test]
fn backups_round_trip_and_are_bound_to_key_and_user() {
    let mut rng = test_rng(94);
    let alice = Dev::create_account(MemoryStore::new(), "alice", NOW, &mut rng).unwrap();
    let key = BackupKey::generate(&mut rng);
    let history = b"alice -> bob: lunch?\n".repeat(10_000);
    let mut file = Vec::new();
    let mut progress_calls = 0;
    let summary = alice
        .back_up_history(&key, &history[..], &mut file, &mut rng, |_| {
            progress_calls += 1;
        })
        .unwrap();
    assert_eq!(summary.plaintext_bytes, history.len() as u64);
    assert!(progress_calls >= 1);
    assert!(!file.windows(21).any(|w| w == &history[..21]));

    // The recovery code, typed back, restores it.
    let code = key.recovery_code().to_grouped_string();
    let typed = BackupKey::from_recovery_code(&RecoveryCode::parse(&code).unwrap());
    let mut restored = Vec::new();
    backup::restore("alice", &typed, &file[..], &mut restored, |_| {}).unwrap();
    assert_eq!(restored, history);

    // Another key, another user, a cut file: refused, nothing written.
    let other = BackupKey::generate(&mut rng);
    let mut out = Vec::new();
    assert_eq!(
        backup::restore("alice", &other, &file[..], &mut out, |_| {}).unwrap_err(),
        Error::Backup(hush_backup::Error::WrongKey)
    );
    assert_eq!(
        backup::restore("mallory", &key, &file[..], &mut out, |_| {}).unwrap_err(),
        Error::Backup(hush_backup::Error::HeaderAuthentication)
    );
    assert!(out.is_empty());
    let cut = &file[..file.len() - 1];
    assert!(matches!(
        backup::restore("alice", &key, cut, &mut Vec::new(), |_| {}).unwrap_err(),
        Error::Backup(_)
    ));

    // The context is the documented label, a zero byte and the user id: a stream made
    // directly with hush-backup under that context restores.
    let mut context = BACKUP_CONTEXT_LABEL.to_vec();
    context.push(0);
    context.extend_from_slice(b"alice");
    let mut direct = Vec::new();
    hush_backup::Encryptor::new(&key)
        .context(&context)
        .encrypt(&mut rng, &b"made by hand"[..], &mut direct)
        .unwrap();
    let mut out = Vec::new();
    backup::restore("alice", &key, &direct[..], &mut out, |_| {}).unwrap();
    assert_eq!(out, b"made by hand");
}

#[cfg(feature = "sqlite")]
#[test]
fn a_restore_re_creates_the_account_with_new_keys() {
    let mut rng = test_rng(95);
    let server = Server::new();
    let alice = Dev::create_account(MemoryStore::new(), "alice", NOW, &mut rng).unwrap();
    let bob = Dev::create_account(MemoryStore::new(), "bob", NOW, &mut rng).unwrap();
    server.publish(&alice, &mut rng);
    server.publish(&bob, &mut rng);
    bob.accept_device_list("alice", &alice.own_device_list().unwrap(), NOW)
        .unwrap();

    let key = BackupKey::generate(&mut rng);
    let mut file = Vec::new();
    alice
        .back_up_history(&key, &b"old chats"[..], &mut file, &mut rng, |_| {})
        .unwrap();

    // A store that already holds an account is refused before anything is decrypted.
    let dir = tempfile::tempdir().unwrap();
    let taken = dir.path().join("taken.db");
    Device::create_account(
        SqliteStore::open(&taken, None).unwrap(),
        "bob",
        NOW,
        &mut rng,
    )
    .unwrap();
    let mut out = Vec::new();
    assert_eq!(
        Device::restore_account(
            SqliteStore::open(&taken, None).unwrap(),
            "alice",
            &key,
            &file[..],
            &mut out,
            NOW,
            &mut rng,
            |_| {}
        )
        .unwrap_err(),
        Error::AccountExists
    );
    assert!(out.is_empty());

    // A wrong key creates nothing.
    let empty = dir.path().join("empty.db");
    let wrong = BackupKey::generate(&mut rng);
    assert!(
        Device::restore_account(
            SqliteStore::open(&empty, None).unwrap(),
            "alice",
            &wrong,
            &file[..],
            &mut out,
            NOW,
            &mut rng,
            |_| {}
        )
        .is_err()
    );
    assert!(out.is_empty());
    assert_eq!(
        Device::open(SqliteStore::open(&empty, None).unwrap()).unwrap_err(),
        Error::NoAccount
    );

    let (fresh, summary) = Dev::restore_account(
        MemoryStore::new(),
        "alice",
        &key,
        &file[..],
        &mut out,
        NOW + 1,
        &mut rng,
        |_| {},
    )
    .unwrap();
    assert_eq!(out, b"old chats");
    assert_eq!(summary.plaintext_bytes, 9);
    assert_eq!(fresh.address(), alice.address());
    assert_ne!(fresh.identity_key(), alice.identity_key());
    assert_ne!(fresh.account_key(), alice.account_key());

    // The server replaces the registration; Bob sees the account key change and accepts
    // it, then talks to the restored device.
    server.publish(&fresh, &mut rng);
    let list = server.lists.fetch("alice").unwrap();
    assert_eq!(
        bob.accept_device_list("alice", &list, NOW + 2).unwrap_err(),
        Error::Device(hush_device::Error::IdentityChanged)
    );
    bob.accept_changed_device_list("alice", &list, NOW + 2)
        .unwrap();
    fresh
        .accept_device_list("bob", &server.lists.fetch("bob").unwrap(), NOW + 2)
        .unwrap();
    let envelopes = send(&server, &bob, "alice", b"welcome back", &mut rng);
    assert_eq!(envelopes.len(), 1);
    let received = fresh
        .decrypt(
            bob.address(),
            envelopes[0].message_type,
            &envelopes[0].body,
            NOW + 3,
            &mut rng,
        )
        .unwrap();
    let ReceivedKind::Direct { plaintext } = received.kind else {
        panic!("not direct")
    };
    assert_eq!(plaintext.as_slice(), b"welcome back");
}

/// Both sides' linking states survive `encode` / `decode` between steps (an app that
/// restarts while waiting), and bad states are typed errors.
#[test]
fn linking_states_serialise_between_steps() {
    let mut rng = test_rng(97);
    let alice = Dev::create_account(MemoryStore::new(), "alice", NOW, &mut rng).unwrap();
    let companion = CompanionLink::start(b"relay-9", NOW, &mut rng).unwrap();
    let qr = companion.offer_qr_text();
    let companion_state = companion.encode();
    let identity = companion.offer().companion_identity().encode();
    drop(companion);

    let (pending, message) = alice.accept_companion(&qr, NOW + 1_000, &mut rng).unwrap();
    let pending_state = pending.encode();
    drop(pending);

    let companion = CompanionLink::decode(&companion_state).unwrap();
    assert_eq!(companion.offer().companion_identity().encode(), identity);
    assert_eq!(*companion.encode(), *companion_state);
    let linked = companion
        .finish(MemoryStore::new(), &message, NOW + 2_000, &mut rng)
        .unwrap();

    let pending = hush::PendingCompanion::decode(&pending_state).unwrap();
    assert_eq!(pending.device_id(), 2);
    assert_eq!(*pending.encode(), *pending_state);
    let done = alice
        .finish_companion(pending, &linked.countersignature, NOW + 3_000, &mut rng)
        .unwrap();
    assert_eq!(done.entry.identity_key, linked.device.identity_key());
    assert_eq!(done.history, linked.history);

    // Bad states.
    let malformed = |what| Error::Device(hush_device::Error::Malformed(what));
    assert_eq!(companion_state[0], 2, "facade state version");
    for version in [1, 3] {
        let mut wrong_version = companion_state.to_vec();
        wrong_version[0] = version;
        assert_eq!(
            CompanionLink::decode(&wrong_version).unwrap_err(),
            Error::Device(hush_device::Error::UnknownVersion(version))
        );
    }
    for len in [0, 1, 2, 40, companion_state.len() - 1] {
        assert!(
            CompanionLink::decode(&companion_state[..len]).is_err(),
            "{len}"
        );
    }
    for len in [0, 1, 2, 40, pending_state.len() - 1] {
        assert!(
            hush::PendingCompanion::decode(&pending_state[..len]).is_err(),
            "{len}"
        );
    }
    // One side's state is not the other's.
    assert!(hush::PendingCompanion::decode(&companion_state).is_err());
    assert!(CompanionLink::decode(&pending_state).is_err());
    // A companion state whose identity is not the offer's.
    let other = CompanionLink::start(b"relay-9", NOW, &mut rng).unwrap();
    let other_state = other.encode();
    let head = 2 + usize::from(companion_state[1]);
    let spliced = [&other_state[..head], &companion_state[head..]].concat();
    assert_eq!(
        CompanionLink::decode(&spliced).unwrap_err(),
        malformed("companion link")
    );
    // Debug prints no secret.
    let shown = format!("{:?}", CompanionLink::decode(&companion_state).unwrap());
    assert!(!shown.contains("private"));
}

/// The primary records answered offers in its store: after a restart (the device
/// reopened from its SQLite file) the same offer is still refused as a replay, a new one
/// is answered, and expired entries are dropped when the next offer is answered.
#[cfg(feature = "sqlite")]
#[test]
fn an_offer_is_answered_once_across_a_restart() {
    let mut rng = test_rng(98);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    let alice = Device::create_account(
        SqliteStore::open(&path, None).unwrap(),
        "alice",
        NOW,
        &mut rng,
    )
    .unwrap();
    let companion = CompanionLink::start(b"relay", NOW, &mut rng).unwrap();
    let qr = companion.offer_qr_text();
    alice.accept_companion(&qr, NOW, &mut rng).unwrap();
    drop(alice);

    let alice = Device::open(SqliteStore::open(&path, None).unwrap()).unwrap();
    assert_eq!(
        alice.accept_companion(&qr, NOW + 1, &mut rng).unwrap_err(),
        Error::Device(hush_device::Error::Replayed)
    );
    let another = CompanionLink::start(b"relay", NOW, &mut rng).unwrap();
    alice
        .accept_companion(&another.offer_qr_text(), NOW + 2, &mut rng)
        .unwrap();
    let stored = |alice: &Device<SqliteStore>| {
        use hush::store::{DeviceListStore, Store};
        let mut tx = alice.store().transaction().unwrap();
        hush_device::SeenOffers::decode(&tx.seen_offers().unwrap().unwrap()).unwrap()
    };
    assert_eq!(stored(&alice).len(), 2);
    // Long after both expired, a third offer leaves only itself recorded.
    let later = NOW + 60 * 60_000;
    let third = CompanionLink::start(b"relay", later, &mut rng).unwrap();
    alice
        .accept_companion(&third.offer_qr_text(), later, &mut rng)
        .unwrap();
    assert_eq!(stored(&alice).len(), 1);
}
