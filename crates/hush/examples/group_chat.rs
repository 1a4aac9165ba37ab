//! A group of three: one encryption per group message, sender keys handed out through
//! pairwise sessions, and a new sender key after a member leaves.
//!
//! Alice, Bob and Carol (one device each) are in a group. Alice's first group send
//! distributes her sender key to Bob's and Carol's devices (pairwise messages, started
//! from prekey bundles), then encrypts the text once; the server fans that one
//! ciphertext out. A second send distributes nothing. Then Carol is removed: Alice's
//! next send starts a new chain, only Bob gets it, and Carol cannot read what follows.
//!
//! Run it with `cargo run -p hush --example group_chat`.

use hush::server::{DeviceLists, Mailbox, PreKeyDirectory};
use hush::store::MemoryStore;
use hush::{Address, Device, DistributionId, Error, GenerateRequest, ReceivedKind};
use hush_core::rng::CryptoRng;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const NOW: u64 = 1_700_000_000_000;

/// The message type the app gives group ciphertexts in the mailbox (libsignal's number
/// for a sender-key message). Pairwise messages use 2 and 3; the mailbox reads none of
/// them, the receiving app uses it to pick `decrypt` or `decrypt_group`.
const GROUP_MESSAGE_TYPE: u8 = 7;

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
    let alice = sign_up(&server, "alice", &mut rng)?;
    let bob = sign_up(&server, "bob", &mut rng)?;
    let carol = sign_up(&server, "carol", &mut rng)?;
    // Everyone verifies everyone's device list.
    for (device, others) in [
        (&alice, ["bob", "carol"]),
        (&bob, ["alice", "carol"]),
        (&carol, ["alice", "bob"]),
    ] {
        for user in others {
            let list = server.device_lists.fetch(user).ok_or("no device list")?;
            device.accept_device_list(user, &list, NOW)?;
        }
    }

    // The group is named by a random distribution id the app shares with its members.
    let group = DistributionId::generate(&mut rng);
    let members = ["alice", "bob", "carol"];

    // First send: Bob's and Carol's devices lack Alice's sender key and have no session.
    let plan = alice.prepare_group_send(group, &members, NOW)?;
    assert_eq!(plan.need_bundles.len(), 2);
    let sent = send_group(
        &server,
        &alice,
        group,
        &members,
        b"Welcome, both of you!",
        &mut rng,
    )?;
    assert_eq!(sent, 2);
    for reader in [&bob, &carol] {
        assert_eq!(
            receive(&server, reader, &members, &mut rng)?,
            ["Welcome, both of you!"]
        );
    }
    println!("first group message: {sent} sender-key distributions, then one ciphertext");

    // Second send: everyone holds the chain, so no distribution at all.
    let sent = send_group(&server, &alice, group, &members, b"Meeting at 3.", &mut rng)?;
    assert_eq!(sent, 0);
    for reader in [&bob, &carol] {
        assert_eq!(
            receive(&server, reader, &members, &mut rng)?,
            ["Meeting at 3."]
        );
    }
    println!("second group message: no distribution needed");

    // Carol leaves. She held the current chain, so it must rotate.
    let rotation = alice.remove_group_member(group, "carol")?;
    assert!(rotation);
    let members = ["alice", "bob"];
    let sent = send_group(
        &server,
        &alice,
        group,
        &members,
        b"Carol has left.",
        &mut rng,
    )?;
    assert_eq!(sent, 1);
    assert_eq!(
        receive(&server, &bob, &members, &mut rng)?,
        ["Carol has left."]
    );
    println!("after removing carol: a new chain, distributed to bob only");

    // Even if Carol got the new group ciphertext, she could not read it.
    let message = alice.send_group(group, &members, b"Just us now.", &[], NOW, &mut rng)?;
    assert!(message.distributions.is_empty());
    let refused = carol.decrypt_group(alice.address(), &message.group_message, &members, NOW);
    assert!(matches!(refused, Err(Error::Group(_))));
    let read = bob.decrypt_group(alice.address(), &message.group_message, &members, NOW)?;
    assert_eq!(read.plaintext.as_slice(), b"Just us now.");
    println!(
        "carol cannot read the new chain ({}), bob can",
        refused.err().ok_or("no error")?
    );
    Ok(())
}

fn sign_up<R: CryptoRng>(server: &Server, user: &str, rng: &mut R) -> Result<Dev> {
    let device = Device::create_account(MemoryStore::new(), user, NOW, rng)?;
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
    let mut request = GenerateRequest::default();
    request.one_time_prekeys = 5;
    request.kem_prekeys = 5;
    let upload = device.generate_prekeys(&request, NOW, rng)?;
    server
        .directory
        .upload(device.address(), &device.identity_key(), &upload, NOW, rng)?;
    Ok(device)
}

/// One group send through the server: the distributions (pairwise), then the group
/// ciphertext to every member device. Returns how many distributions went out.
fn send_group<R: CryptoRng>(
    server: &Server,
    from: &Dev,
    group: DistributionId,
    members: &[&str],
    text: &[u8],
    rng: &mut R,
) -> Result<usize> {
    let plan = from.prepare_group_send(group, members, NOW)?;
    let mut bundles: Vec<(Address, Vec<u8>)> = Vec::new();
    for address in plan.need_bundles {
        let bundle = server.directory.bundle(&address)?;
        bundles.push((address, bundle));
    }
    let bundles: Vec<(Address, &[u8])> = bundles
        .iter()
        .map(|(a, b)| (a.clone(), b.as_slice()))
        .collect();
    let sent = from.send_group(group, members, text, &bundles, NOW, rng)?;
    let count = sent.distributions.len();
    let mut messages: Vec<(Address, u8, Vec<u8>)> = sent
        .distributions
        .into_iter()
        .map(|e| (e.to, e.message_type, e.body))
        .collect();
    // The server fans the one group ciphertext out to every member device; the app
    // knows them from the verified device lists.
    for user in members.iter().filter(|&&u| u != from.address().name()) {
        for address in server.directory.devices(user)? {
            messages.push((address, GROUP_MESSAGE_TYPE, sent.group_message.clone()));
        }
    }
    server.mailbox.deliver_many(from.address(), messages, NOW)?;
    Ok(count)
}

/// Everything waiting for `device`: distributions are stored silently, texts returned.
/// `members` is the group's member list as the app keeps it (a real app finds the group
/// by `hush::group_distribution_id` first); group messages from anyone else are refused.
fn receive<R: CryptoRng>(
    server: &Server,
    device: &Dev,
    members: &[&str],
    rng: &mut R,
) -> Result<Vec<String>> {
    let mut texts = Vec::new();
    for envelope in server.mailbox.fetch(device.address(), 100) {
        if envelope.message_type == GROUP_MESSAGE_TYPE {
            let read = device.decrypt_group(&envelope.sender, &envelope.body, members, NOW)?;
            texts.push(String::from_utf8(read.plaintext.to_vec())?);
        } else {
            let received = device.decrypt(
                &envelope.sender,
                envelope.message_type,
                &envelope.body,
                NOW,
                rng,
            )?;
            let ReceivedKind::GroupDistribution { .. } = received.kind else {
                return Err(format!("unexpected pairwise message: {:?}", received.kind).into());
            };
        }
        server.mailbox.acknowledge(device.address(), &[envelope.id]);
    }
    Ok(texts)
}
