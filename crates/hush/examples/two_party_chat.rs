//! Two people, one device each, chatting through the reference server.
//!
//! Alice and Bob each create an account (a [`Device`] over a [`MemoryStore`]), register
//! with the server, publish prekeys and their signed device list. Alice's first message
//! starts a session from a prekey bundle the server hands out; Bob replies over the
//! session that message created; a few more messages go back and forth. Every message
//! travels through the server's [`Mailbox`] and is acknowledged, which sends the sender
//! a delivery receipt.
//!
//! Run it with `cargo run -p hush --example two_party_chat`.

use hush::server::{DeviceLists, Mailbox, PreKeyDirectory};
use hush::store::MemoryStore;
use hush::{Address, Device, Error, GenerateRequest, ReceivedKind};
use hush_core::rng::CryptoRng;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The clock: every call takes the time as milliseconds since the Unix epoch.
const NOW: u64 = 1_700_000_000_000;

/// What the server keeps; a real server puts the same rules in front of its database.
struct Server {
    directory: PreKeyDirectory,
    device_lists: DeviceLists,
    mailbox: Mailbox,
}

fn main() -> Result<()> {
    let mut rng = hush_core::rng::os_rng();
    let server = Server {
        directory: PreKeyDirectory::new(),
        device_lists: DeviceLists::new(),
        mailbox: Mailbox::new(),
    };

    let alice = sign_up(&server, "alice", &mut rng)?;
    let bob = sign_up(&server, "bob", &mut rng)?;
    println!("alice is {}, bob is {}", alice.address(), bob.address());

    // Alice fetches and verifies Bob's device list: it is the only source of the
    // devices a message goes to, and of the identity key each must present. (Bob does
    // not know Alice's list yet: he fetches it when her first message arrives.)
    learn_device_list(&server, &alice, "bob")?;

    // The first message: no session yet, so Alice needs a bundle for Bob's device.
    let plan = alice.prepare_send("bob", NOW, &mut rng)?;
    assert_eq!(plan.need_bundles, [bob.address().clone()]);
    let without_bundle = alice.encrypt("bob", b"hi", &[], NOW, &mut rng);
    assert!(matches!(
        without_bundle,
        Err(Error::MissingBundle { ref address }) if address == bob.address()
    ));
    send(&server, &alice, "bob", b"Hi Bob, it's Alice.", &mut rng)?;
    let got = receive(&server, &bob, &mut rng)?;
    assert_eq!(got, [b"Hi Bob, it's Alice.".to_vec()]);
    println!(
        "bob read: {}",
        String::from_utf8_lossy(got.concat().as_slice())
    );

    // The reply needs no bundle: Bob's session came from Alice's first message.
    assert!(
        bob.prepare_send("alice", NOW, &mut rng)?
            .need_bundles
            .is_empty()
    );
    send(&server, &bob, "alice", b"Hello Alice!", &mut rng)?;
    let got = receive(&server, &alice, &mut rng)?;
    assert_eq!(got, [b"Hello Alice!".to_vec()]);
    println!(
        "alice read: {}",
        String::from_utf8_lossy(got.concat().as_slice())
    );

    // A few more, some queued back to back before the other side fetches.
    let lines: [&[u8]; 3] = [
        b"Lunch tomorrow?",
        b"12:30 at the usual place.",
        b"Bring the book.",
    ];
    for line in lines {
        send(&server, &alice, "bob", line, &mut rng)?;
    }
    let got = receive(&server, &bob, &mut rng)?;
    assert_eq!(got, lines.map(<[u8]>::to_vec));
    send(&server, &bob, "alice", b"See you there.", &mut rng)?;
    assert_eq!(
        receive(&server, &alice, &mut rng)?,
        [b"See you there.".to_vec()]
    );
    println!(
        "bob read {} queued messages in order; alice got the answer",
        got.len()
    );

    // Acknowledged messages were deleted and turned into receipts for their senders.
    let receipts = server.mailbox.take_receipts(alice.address(), 100);
    assert_eq!(receipts.len(), 4);
    assert!(receipts.iter().all(|r| r.recipient == *bob.address()));
    assert_eq!(server.mailbox.queue_stats(bob.address()).messages, 0);
    println!("alice has {} delivery receipts from bob", receipts.len());

    // Bob's first message consumed one one-time prekey of each kind on the server.
    let counts = server.directory.counts(bob.address())?;
    assert_eq!((counts.one_time_prekeys, counts.kem_prekeys), (9, 9));
    println!(
        "the server still holds {} one-time prekeys for bob",
        counts.one_time_prekeys
    );
    Ok(())
}

/// Creates an account, registers it with the server, and publishes its signed device
/// list and a batch of prekeys.
fn sign_up<R: CryptoRng>(server: &Server, user: &str, rng: &mut R) -> Result<Device<MemoryStore>> {
    let device = Device::create_account(MemoryStore::new(), user, NOW, rng)?;
    // Registration: the server's authentication layer vouches for these keys.
    server.directory.register_device(
        device.address(),
        device.registration_id(),
        device.identity_key(),
    )?;
    server
        .device_lists
        .register_account(user, *device.account_key())?;
    server
        .device_lists
        .upload(user, &device.own_device_list()?)?;

    // The default is a full batch (100 one-time prekeys of each kind); fewer here.
    let mut request = GenerateRequest::default();
    request.one_time_prekeys = 10;
    request.kem_prekeys = 10;
    let upload = device.generate_prekeys(&request, NOW, rng)?;
    server
        .directory
        .upload(device.address(), &device.identity_key(), &upload, NOW, rng)?;
    Ok(device)
}

/// `device` fetches `user`'s signed device list from the server and verifies it.
fn learn_device_list(server: &Server, device: &Device<MemoryStore>, user: &str) -> Result<()> {
    let list = server
        .device_lists
        .fetch(user)
        .ok_or("no device list on the server")?;
    let devices = device.accept_device_list(user, &list, NOW)?;
    assert!(!devices.is_empty());
    Ok(())
}

/// Encrypts `text` to every device of `user` (fetching the bundles the send needs) and
/// hands the envelopes to the mailbox, all or nothing.
fn send<R: CryptoRng>(
    server: &Server,
    from: &Device<MemoryStore>,
    user: &str,
    text: &[u8],
    rng: &mut R,
) -> Result<()> {
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
    let messages = envelopes
        .into_iter()
        .map(|e| (e.to, e.message_type, e.body))
        .collect();
    server.mailbox.deliver_many(from.address(), messages, NOW)?;
    Ok(())
}

/// Fetches, decrypts and acknowledges everything waiting for `device`; returns the texts.
fn receive<R: CryptoRng>(
    server: &Server,
    device: &Device<MemoryStore>,
    rng: &mut R,
) -> Result<Vec<Vec<u8>>> {
    let mut texts = Vec::new();
    for envelope in server.mailbox.fetch(device.address(), 100) {
        let from = &envelope.sender;
        let received = match device.decrypt(from, envelope.message_type, &envelope.body, NOW, rng) {
            // A user whose device list this device never accepted: fetch and verify it,
            // then decrypt the same bytes again (the failed attempt stored nothing).
            Err(Error::NoDeviceList) => {
                learn_device_list(server, device, from.name())?;
                println!("{} fetched {}'s device list", device.address(), from.name());
                device.decrypt(from, envelope.message_type, &envelope.body, NOW, rng)?
            }
            other => other?,
        };
        // Acknowledge only after the decrypt committed: a crash before this line means
        // the server delivers the message again.
        server.mailbox.acknowledge(device.address(), &[envelope.id]);
        match received.kind {
            ReceivedKind::Direct { plaintext } => texts.push(plaintext.to_vec()),
            other => return Err(format!("unexpected message: {other:?}").into()),
        }
    }
    Ok(texts)
}
