//! Linking a laptop to Alice's phone, handing over recent history, and multi-device
//! fan-out afterwards.
//!
//! 1. The laptop (no account yet) starts linking and shows an offer as a QR code.
//! 2. The phone (the primary) scans it and answers with a linking message, relayed by
//!    the server.
//! 3. The laptop checks the account's signature, creates its device and returns a
//!    countersignature.
//! 4. The phone checks it and signs a new version of the account's device list, naming
//!    the laptop; the server stores the list and every device learns it.
//! 5. The phone sends recent history over a key only this linking has.
//!
//! Then the laptop writes to Bob, who refuses it until he has fetched Alice's new
//! device list; Alice's phone gets a copy ("sent transcript"); Bob's answer reaches
//! both of Alice's devices.
//!
//! Run it with `cargo run -p hush --example linking`.

use hush::server::{DeviceLists, Mailbox, PreKeyDirectory};
use hush::store::MemoryStore;
use hush::{Address, CompanionLink, Device, Error, GenerateRequest, ReceivedKind};
use hush_core::rng::CryptoRng;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const NOW: u64 = 1_700_000_000_000;

struct Server {
    directory: PreKeyDirectory,
    device_lists: DeviceLists,
    mailbox: Mailbox,
}

type Dev = Device<MemoryStore>;

fn main() -> Result<()> {
    let mut rng = hush_core::rng::os_rng();
    let server = Server {
        directory: PreKeyDirectory::new(),
        device_lists: DeviceLists::new(),
        mailbox: Mailbox::new(),
    };
    let phone = Device::create_account(MemoryStore::new(), "alice", NOW, &mut rng)?;
    let bob = Device::create_account(MemoryStore::new(), "bob", NOW, &mut rng)?;
    for device in [&phone, &bob] {
        let user = device.address().name();
        server
            .device_lists
            .register_account(user, *device.account_key())?;
        server
            .device_lists
            .upload(user, &device.own_device_list()?)?;
        publish_prekeys(&server, device, &mut rng)?;
    }
    // Before linking: Bob and Alice's phone know each other's (version 1) lists.
    bob.accept_device_list("alice", &phone.own_device_list()?, NOW)?;
    phone.accept_device_list("bob", &bob.own_device_list()?, NOW)?;

    // 1. The laptop starts linking. `relay-42` names the server channel the phone
    //    answers on; the QR text holds the linking secret, so it is only ever shown.
    let offer = CompanionLink::start(b"relay-42", NOW, &mut rng)?;
    let qr_text = offer.offer_qr_text();
    println!(
        "laptop shows a QR code ({} characters of Base45)",
        qr_text.len()
    );

    // 2. The phone scans it and answers.
    let (pending, linking_message) = phone.accept_companion(&qr_text, NOW + 5_000, &mut rng)?;
    assert_eq!(pending.device_id(), 2);

    // 3. The laptop checks the answer and becomes device 2 of "alice": the user id and
    //    device id come from the phone's signature, not from the server.
    let linked = offer.finish(MemoryStore::new(), &linking_message, NOW + 6_000, &mut rng)?;
    let laptop = linked.device;
    assert_eq!(laptop.address(), &Address::new("alice", 2)?);
    assert_eq!(laptop.account_key(), phone.account_key());

    // 4. The phone checks the countersignature and signs a new device list.
    let done = phone.finish_companion(pending, &linked.countersignature, NOW + 7_000, &mut rng)?;
    assert_eq!(done.entry.identity_key, laptop.identity_key());
    let list = server.device_lists.upload("alice", &done.device_list)?;
    assert_eq!(list.version(), 2);
    let own = laptop.accept_device_list("alice", &done.device_list, NOW)?;
    assert_eq!(own.len(), 2);
    publish_prekeys(&server, &laptop, &mut rng)?;
    println!(
        "{} linked; the device list is at version {}",
        laptop.address(),
        list.version()
    );

    // 5. History: both sides hold the same key, bound to this linking.
    let history = b"bob: are we still on for Friday?\nalice: yes!\n".repeat(100);
    let mut stream = Vec::new();
    done.history
        .send(&mut rng, history.as_slice(), &mut stream, None, |_| {})?;
    let mut received = Vec::new();
    let summary = linked
        .history
        .receive(stream.as_slice(), &mut received, None, |_| {})?;
    assert_eq!(received, history);
    println!(
        "laptop received {} bytes of history",
        summary.plaintext_bytes
    );

    // The laptop learns Bob's list and writes to him first. Bob still holds Alice's
    // version 1 list, which does not name the laptop: he refuses the message until he
    // has fetched and verified the new list, then decrypts the same bytes again.
    let bob_list = server.device_lists.fetch("bob").ok_or("no list")?;
    laptop.accept_device_list("bob", &bob_list, NOW)?;
    let sent = send(&server, &laptop, "bob", b"Hi from my new laptop!", &mut rng)?;
    assert_eq!(sent, 2); // Bob's phone, and a copy for Alice's phone
    let waiting = server.mailbox.fetch(bob.address(), 10);
    let first = waiting.first().ok_or("nothing for bob")?;
    let refused = bob.decrypt(
        &first.sender,
        first.message_type,
        &first.body,
        NOW,
        &mut rng,
    );
    assert!(matches!(
        refused,
        Err(Error::UntrustedDevice { ref address }) if *address == first.sender
    ));
    println!(
        "bob refused a message from {} (not on his copy of alice's list)",
        first.sender
    );
    let alice_list = server.device_lists.fetch("alice").ok_or("no list")?;
    bob.accept_device_list("alice", &alice_list, NOW)?;
    assert_eq!(
        receive(&server, &bob, &mut rng)?,
        ["direct from alice.2: Hi from my new laptop!"]
    );
    assert_eq!(
        receive(&server, &phone, &mut rng)?,
        ["sent by alice.2 to bob: Hi from my new laptop!"]
    );
    println!("after fetching alice's new list bob read it; alice's phone got a copy");

    // Bob answers: one envelope per device of Alice's.
    let sent = send(&server, &bob, "alice", b"Welcome, laptop.", &mut rng)?;
    assert_eq!(sent, 2);
    for device in [&phone, &laptop] {
        let got = receive(&server, device, &mut rng)?;
        assert_eq!(got, ["direct from bob.1: Welcome, laptop."]);
    }
    println!("bob's answer reached both of alice's devices");
    Ok(())
}

fn publish_prekeys<R: CryptoRng>(server: &Server, device: &Dev, rng: &mut R) -> Result<()> {
    server.directory.register_device(
        device.address(),
        device.registration_id(),
        device.identity_key(),
    )?;
    let mut request = GenerateRequest::default();
    request.one_time_prekeys = 5;
    request.kem_prekeys = 5;
    let upload = device.generate_prekeys(&request, NOW, rng)?;
    server
        .directory
        .upload(device.address(), &device.identity_key(), &upload, NOW, rng)?;
    Ok(())
}

/// Sends `text` to `user` (and copies to the sender's own other devices); returns how
/// many envelopes went out.
fn send<R: CryptoRng>(
    server: &Server,
    from: &Dev,
    user: &str,
    text: &[u8],
    rng: &mut R,
) -> Result<usize> {
    let plan = from.prepare_send(user, NOW, rng)?;
    // On a primary whose device list was due for a refresh, the plan carries it, signed
    // again: upload it, or contacts stop writing to its companions after 14 days.
    if let Some(list) = &plan.device_list {
        server.device_lists.upload(from.address().name(), list)?;
    }
    let mut bundles: Vec<(Address, Vec<u8>)> = Vec::new();
    for address in plan.need_bundles {
        let bundle = server.directory.bundle(&address)?;
        bundles.push((address, bundle));
    }
    let bundles: Vec<(Address, &[u8])> = bundles
        .iter()
        .map(|(a, b)| (a.clone(), b.as_slice()))
        .collect();
    let envelopes = from.encrypt(user, text, &bundles, NOW, rng)?;
    let count = envelopes.len();
    let messages = envelopes
        .into_iter()
        .map(|e| (e.to, e.message_type, e.body))
        .collect();
    server.mailbox.deliver_many(from.address(), messages, NOW)?;
    Ok(count)
}

/// Decrypts and acknowledges what waits for `device`, described as lines.
fn receive<R: CryptoRng>(server: &Server, device: &Dev, rng: &mut R) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    for envelope in server.mailbox.fetch(device.address(), 100) {
        let received = device.decrypt(
            &envelope.sender,
            envelope.message_type,
            &envelope.body,
            NOW,
            rng,
        )?;
        server.mailbox.acknowledge(device.address(), &[envelope.id]);
        let line = match received.kind {
            ReceivedKind::Direct { plaintext } => format!(
                "direct from {}: {}",
                received.from,
                String::from_utf8_lossy(&plaintext)
            ),
            ReceivedKind::SentTranscript { to_user, plaintext } => format!(
                "sent by {} to {to_user}: {}",
                received.from,
                String::from_utf8_lossy(&plaintext)
            ),
            other => return Err(format!("unexpected message: {other:?}").into()),
        };
        lines.push(line);
    }
    Ok(lines)
}
