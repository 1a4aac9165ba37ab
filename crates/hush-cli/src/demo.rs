//! `hush demo`: a whole story through the `hush` facade, in one process.
//!
//! Every device keeps its state in its own SQLite file in a temporary directory; the
//! server is the reference in-process one (`hush::server`: prekey directory, device
//! lists, mailbox), and every message travels through its mailbox (deliver, fetch,
//! acknowledge). Alice (phone), Bob and Carol talk; Alice links a laptop by a QR code and
//! hands it her recent history; the three share a group, Carol leaves and the sender keys
//! rotate; Alice backs up her history under a recovery code and restores it on a new
//! phone. Each step is one plain line, followed by what the server could see (sizes of
//! ciphertexts, never plaintext) and the checks it made; the demo exits 0 only if every
//! check held.
//!
//! Pairwise sessions run the post-quantum ratchet (SPQR), as libsignal v0.101 does: the
//! server view says which messages carried a chunk of its ML-KEM-768 exchange.
//!
//! Mailbox message types: 2 and 3 are pairwise ciphertexts (libsignal's numbers), 7 a
//! group ciphertext (libsignal's sender-key type), and [`HISTORY_STREAM`] this app's own
//! type for a history hand-off stream.

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write as _};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use hush::backup::{BackupKey, RecoveryCode};
use hush::server::{DeviceLists, Mailbox, PreKeyDirectory, Registration};
use hush::store::SqliteStore;
use hush::{
    Address, CompanionLink, Device, DistributionId, GenerateRequest, ReceivedKind, SendPlan,
};
use hush_core::Fingerprint;
use hush_core::rng::{CryptoRng, os_rng};
use hush_device::SignedDeviceList;
use hush_device::render::OfferQr;

/// Safety numbers as Signal apps compute them today: version 2, 5200 hash iterations.
const FINGERPRINT_VERSION: u32 = 2;
const FINGERPRINT_ITERATIONS: u32 = 5200;

/// The mailbox message type of a group ciphertext (libsignal's `SenderKey` type).
const GROUP_MESSAGE: u8 = 7;
/// The mailbox message type this app gives a history hand-off stream.
const HISTORY_STREAM: u8 = 0x48;

/// How many one-time EC and KEM prekeys each device publishes.
const PREKEYS: usize = 8;

type Dev = Device<SqliteStore>;
type Outcome<T> = Result<T, Box<dyn StdError>>;

/// Counts the checks and prints each one.
#[derive(Debug, Default)]
pub(crate) struct Checks {
    held: u32,
    failed: u32,
}

impl Checks {
    pub(crate) fn check(&mut self, held: bool, what: &str) {
        if held {
            self.held += 1;
            println!("  ok    {what}");
        } else {
            self.failed += 1;
            println!("  FAIL  {what}");
        }
    }

    fn error(&mut self, what: &str, error: &dyn StdError) {
        self.failed += 1;
        println!("  FAIL  {what}: {error}");
    }
}

/// What a device found in its mailbox, decrypted.
#[derive(Debug)]
enum Got {
    Direct { from: Address, text: String },
    Transcript { to_user: String, text: String },
    Distribution,
    Group { from: Address, text: String },
    History { stream: Vec<u8> },
}

/// The reference server, in process.
struct Server {
    directory: PreKeyDirectory,
    lists: DeviceLists,
    mailbox: Mailbox,
}

struct Story<R> {
    server: Server,
    checks: Checks,
    rng: R,
    now: u64,
    dir: tempfile::TempDir,
    /// Every plaintext sent, to check the server never saw one.
    plaintexts: Vec<Vec<u8>>,
    leaked: bool,
    envelopes_seen: usize,
    bytes_seen: usize,
    /// Pairwise messages relayed, and how many carried a post-quantum ratchet (SPQR)
    /// payload, and a chunk of an ML-KEM exchange in it.
    pairwise_seen: usize,
    pairwise_with_spqr: usize,
    spqr_chunks_seen: usize,
    /// Alice's chat history as her app keeps it (one line per message).
    alice_history: Vec<String>,
    /// Each group's members, as the apps keep them (the demo's apps agree on them).
    group_members: BTreeMap<DistributionId, Vec<String>>,
}

/// Runs the demo.
pub(crate) fn run() -> ExitCode {
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => {
            println!("  FAIL  cannot create a temporary directory: {e}");
            return ExitCode::from(1);
        }
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1_700_000_000_000, |d| {
            u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
        });
    let mut story = Story {
        server: Server {
            directory: PreKeyDirectory::new(),
            lists: DeviceLists::new(),
            mailbox: Mailbox::new(),
        },
        checks: Checks::default(),
        rng: os_rng(),
        now,
        dir,
        plaintexts: Vec::new(),
        leaked: false,
        envelopes_seen: 0,
        pairwise_seen: 0,
        pairwise_with_spqr: 0,
        spqr_chunks_seen: 0,
        bytes_seen: 0,
        alice_history: Vec::new(),
        group_members: BTreeMap::new(),
    };
    if let Err(e) = story.play() {
        story.checks.error("the story stopped", e.as_ref());
    }
    let checks = story.checks;
    println!();
    if checks.failed == 0 {
        println!("All {} checks held.", checks.held);
        ExitCode::SUCCESS
    } else {
        println!(
            "{} of {} checks FAILED.",
            checks.failed,
            checks.held + checks.failed
        );
        ExitCode::from(1)
    }
}

impl<R: CryptoRng> Story<R> {
    fn tick(&mut self) -> u64 {
        self.now = self.now.saturating_add(1_000);
        self.now
    }

    fn open(&self, name: &str) -> Outcome<SqliteStore> {
        Ok(SqliteStore::open(self.dir.path().join(name), None)?)
    }

    fn step(&mut self, line: &str) {
        println!();
        println!("{line}");
        self.tick();
    }

    /// Registers `device` with the server and uploads its prekeys (and, for a primary,
    /// the account key and the signed device list).
    fn publish(&mut self, device: &Dev) -> Outcome<Registration> {
        let registration = self.server.directory.register_device(
            device.address(),
            device.registration_id(),
            device.identity_key(),
        )?;
        let mut request = GenerateRequest::default();
        request.one_time_prekeys = PREKEYS;
        request.kem_prekeys = PREKEYS;
        let upload = device.generate_prekeys(&request, self.now, &mut self.rng)?;
        self.server.directory.upload(
            device.address(),
            &device.identity_key(),
            &upload,
            self.now,
            &mut self.rng,
        )?;
        if device.address().device_id() == 1 {
            let user = device.address().name();
            self.server
                .lists
                .register_account(user, *device.account_key())?;
            self.server.lists.upload(user, &device.own_device_list()?)?;
        }
        Ok(registration)
    }

    /// `device` fetches `user`'s signed device list from the server and verifies it.
    fn fetch_list(&mut self, device: &Dev, user: &str) -> Outcome<Vec<Address>> {
        let list = self.server.lists.fetch(user).ok_or("no device list")?;
        Ok(device.accept_device_list(user, &list, self.now)?)
    }

    fn bundles(&self, plan: &SendPlan) -> Outcome<Vec<(Address, Vec<u8>)>> {
        let mut out = Vec::with_capacity(plan.need_bundles.len());
        for address in &plan.need_bundles {
            out.push((address.clone(), self.server.directory.bundle(address)?));
        }
        Ok(out)
    }

    /// Hands messages to the mailbox, printing what the server sees.
    fn deliver(&mut self, from: &Address, messages: Vec<(Address, u8, Vec<u8>)>) -> Outcome<()> {
        let mut seen = Vec::with_capacity(messages.len());
        for (to, kind, body) in &messages {
            // A pairwise message shows the server its SPQR payload's size, not its keys.
            let spqr = match hush_ratchet::CiphertextMessage::decode(*kind, body) {
                Ok(hush_ratchet::CiphertextMessage::Signal(m)) => Some(m.pq_ratchet().len()),
                Ok(hush_ratchet::CiphertextMessage::PreKey(m)) => {
                    Some(m.message().pq_ratchet().len())
                }
                Err(_) => None,
            };
            let note = match spqr {
                Some(len) => {
                    self.pairwise_seen += 1;
                    if len > 0 {
                        self.pairwise_with_spqr += 1;
                    }
                    // 37 bytes and up carry a 32-byte chunk; 4 bytes carry none.
                    if len > 32 {
                        self.spqr_chunks_seen += 1;
                        ", with a post-quantum ratchet chunk"
                    } else if len > 0 {
                        ", post-quantum ratchet on, no chunk in this one"
                    } else {
                        ", without post-quantum ratchet"
                    }
                }
                None => "",
            };
            seen.push(format!("{to} (type {kind}, {} bytes{note})", body.len()));
            self.envelopes_seen += 1;
            self.bytes_seen += body.len();
            if self
                .plaintexts
                .iter()
                .any(|p| body.windows(p.len()).any(|w| w == p.as_slice()))
            {
                self.leaked = true;
            }
        }
        println!("   the server sees from {from}: {}", seen.join(", "));
        self.server.mailbox.deliver_many(from, messages, self.now)?;
        Ok(())
    }

    /// `from` sends `text` to `to_user` (all of that user's devices, and `from`'s own
    /// other devices).
    fn send(&mut self, from: &Dev, to_user: &str, text: &str) -> Outcome<usize> {
        self.plaintexts.push(text.as_bytes().to_vec());
        let plan = from.prepare_send(to_user, self.now, &mut self.rng)?;
        if let Some(list) = &plan.device_list {
            self.server.lists.upload(from.address().name(), list)?;
        }
        let bundles = self.bundles(&plan)?;
        let refs: Vec<(Address, &[u8])> = bundles
            .iter()
            .map(|(a, b)| (a.clone(), b.as_slice()))
            .collect();
        let envelopes = from.encrypt(to_user, text.as_bytes(), &refs, self.now, &mut self.rng)?;
        // Before relaying, the server checks that the fan-out covers exactly the devices
        // on each user's current list.
        for user in [to_user, from.address().name()] {
            let ids: Vec<u32> = envelopes
                .iter()
                .filter(|e| e.to.name() == user)
                .map(|e| e.to.device_id())
                .collect();
            self.server
                .lists
                .check_fan_out(from.address(), user, &ids, self.now)?;
        }
        let count = envelopes.len();
        self.deliver(
            from.address(),
            envelopes
                .into_iter()
                .map(|e| (e.to, e.message_type, e.body))
                .collect(),
        )?;
        Ok(count)
    }

    /// The members of `group` as the apps know them.
    fn members_of(&self, group: DistributionId) -> Vec<&str> {
        self.group_members
            .get(&group)
            .map(|members| members.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// `from` sends `text` to a group: the sender-key distributions it needs go
    /// pairwise, then one group ciphertext to every other device of the members.
    /// Returns the devices that got a distribution and the group ciphertext.
    fn send_group(
        &mut self,
        from: &Dev,
        group: DistributionId,
        members: &[&str],
        text: &str,
    ) -> Outcome<(Vec<Address>, Vec<u8>)> {
        self.plaintexts.push(text.as_bytes().to_vec());
        self.group_members
            .insert(group, members.iter().map(|&m| m.to_owned()).collect());
        let plan = from.prepare_group_send(group, members, self.now)?;
        let bundles = self.bundles(&plan)?;
        let refs: Vec<(Address, &[u8])> = bundles
            .iter()
            .map(|(a, b)| (a.clone(), b.as_slice()))
            .collect();
        let sent = from.send_group(
            group,
            members,
            text.as_bytes(),
            &refs,
            self.now,
            &mut self.rng,
        )?;
        let distributed: Vec<Address> = sent.distributions.iter().map(|e| e.to.clone()).collect();
        if !sent.distributions.is_empty() {
            self.deliver(
                from.address(),
                sent.distributions
                    .into_iter()
                    .map(|e| (e.to, e.message_type, e.body))
                    .collect(),
            )?;
        }
        // The server fans the one ciphertext out to every device of every member.
        let mut fan_out = Vec::new();
        for user in members {
            let list = self.server.lists.fetch(user).ok_or("no device list")?;
            for entry in SignedDeviceList::decode(&list)?.devices() {
                let to = Address::new(*user, entry.device_id)?;
                if to != *from.address() {
                    fan_out.push((to, GROUP_MESSAGE, sent.group_message.clone()));
                }
            }
        }
        self.deliver(from.address(), fan_out)?;
        Ok((distributed, sent.group_message))
    }

    /// `device` fetches its mailbox, decrypts everything and acknowledges it. A sender
    /// not on a list this device holds (a new user, a new device) makes it fetch that
    /// user's list and try again.
    fn inbox(&mut self, device: &Dev) -> Outcome<Vec<Got>> {
        let envelopes = self.server.mailbox.fetch(device.address(), 100);
        let mut got = Vec::with_capacity(envelopes.len());
        let mut ids = Vec::with_capacity(envelopes.len());
        for envelope in envelopes {
            ids.push(envelope.id);
            let from = envelope.sender.clone();
            let item = match envelope.message_type {
                HISTORY_STREAM => Got::History {
                    stream: envelope.body,
                },
                GROUP_MESSAGE => {
                    // The app finds the group by the distribution id the message names.
                    let group = hush::group_distribution_id(&envelope.body)?;
                    let members = self.members_of(group);
                    let message =
                        device.decrypt_group(&from, &envelope.body, &members, self.now)?;
                    Got::Group {
                        from,
                        text: String::from_utf8_lossy(&message.plaintext).into_owned(),
                    }
                }
                kind => {
                    let first =
                        device.decrypt(&from, kind, &envelope.body, self.now, &mut self.rng);
                    let received = match first {
                        Err(hush::Error::NoDeviceList | hush::Error::UntrustedDevice { .. }) => {
                            self.fetch_list(device, from.name())?;
                            device.decrypt(&from, kind, &envelope.body, self.now, &mut self.rng)?
                        }
                        other => other?,
                    };
                    match received.kind {
                        ReceivedKind::Direct { plaintext } => Got::Direct {
                            from,
                            text: String::from_utf8_lossy(&plaintext).into_owned(),
                        },
                        ReceivedKind::SentTranscript { to_user, plaintext } => Got::Transcript {
                            to_user,
                            text: String::from_utf8_lossy(&plaintext).into_owned(),
                        },
                        ReceivedKind::GroupDistribution { .. } => Got::Distribution,
                        _ => return Err("an unknown kind of message".into()),
                    }
                }
            };
            got.push(item);
        }
        self.server.mailbox.acknowledge(device.address(), &ids);
        Ok(got)
    }

    /// `device`'s inbox holds exactly one direct message from `from`, `text`.
    fn expect_direct(&mut self, device: &Dev, from: &Address, text: &str) -> Outcome<()> {
        let got = self.inbox(device)?;
        let held = matches!(got.as_slice(),
            [Got::Direct { from: f, text: t }] if f == from && t == text);
        self.checks.check(
            held,
            &format!("{} reads {from}'s message: {text:?}", device.address()),
        );
        Ok(())
    }

    /// `device`'s inbox holds group messages (and perhaps distributions); returns the
    /// group texts with their senders.
    fn group_texts(&mut self, device: &Dev) -> Outcome<Vec<(Address, String)>> {
        Ok(self
            .inbox(device)?
            .into_iter()
            .filter_map(|g| match g {
                Got::Group { from, text } => Some((from, text)),
                _ => None,
            })
            .collect())
    }

    #[allow(clippy::too_many_lines, reason = "one story, told in order")]
    fn play(&mut self) -> Outcome<()> {
        println!(
            "Every device keeps its state in SQLite files under {}.",
            self.dir.path().display()
        );

        self.step(
            "1. Alice (on her phone), Bob and Carol each create an account and publish their keys.",
        );
        let now = self.now;
        let alice = Dev::create_account(self.open("alice-phone.db")?, "alice", now, &mut self.rng)?;
        let bob = Dev::create_account(self.open("bob.db")?, "bob", now, &mut self.rng)?;
        let carol = Dev::create_account(self.open("carol.db")?, "carol", now, &mut self.rng)?;
        for device in [&alice, &bob, &carol] {
            let registration = self.publish(device)?;
            let counts = self.server.directory.counts(device.address())?;
            self.checks.check(
                registration == Registration::New && counts.one_time_prekeys == PREKEYS,
                &format!(
                    "the server registered {} with {} one-time prekeys",
                    device.address(),
                    counts.one_time_prekeys
                ),
            );
        }

        self.step("2. Each fetches the others' signed device lists and checks the signatures.");
        for (device, users) in [
            (&alice, ["bob", "carol"]),
            (&bob, ["alice", "carol"]),
            (&carol, ["alice", "bob"]),
        ] {
            for user in users {
                let devices = self.fetch_list(device, user)?;
                self.checks.check(
                    devices.len() == 1,
                    &format!("{} trusts {user}'s list of one device", device.address()),
                );
            }
        }

        self.step("3. Alice and Bob compare safety numbers in person.");
        let seen_by_alice = safety_number(&alice, &bob)?;
        let seen_by_bob = safety_number(&bob, &alice)?;
        println!("   Alice's screen: {seen_by_alice}");
        println!("   Bob's screen:   {seen_by_bob}");
        self.checks.check(
            seen_by_alice == seen_by_bob,
            "both screens show the same 60 digits",
        );

        self.step(
            "4. Alice writes to Bob; the first message starts a session from his prekey bundle.",
        );
        let text = "Hi Bob! Lunch on Friday?";
        self.send(&alice, "bob", text)?;
        self.alice_history.push(format!("alice: {text}"));
        self.expect_direct(&bob, alice.address(), text)?;
        let receipts = self.server.mailbox.take_receipts(alice.address(), 10);
        self.checks.check(
            receipts.len() == 1 && receipts.iter().all(|r| r.recipient == *bob.address()),
            "Alice gets a delivery receipt once Bob acknowledged",
        );

        self.step("5. Bob answers, and Carol writes to Alice.");
        let text = "Friday works. The usual place?";
        self.send(&bob, "alice", text)?;
        self.alice_history.push(format!("bob: {text}"));
        self.expect_direct(&alice, bob.address(), text)?;
        let text = "Can I join you two on Friday?";
        self.send(&carol, "alice", text)?;
        self.alice_history.push(format!("carol: {text}"));
        self.expect_direct(&alice, carol.address(), text)?;

        self.step("6. Alice links her laptop: it shows a QR code, her phone scans it.");
        let link = CompanionLink::start(b"demo-relay-1", self.now, &mut self.rng)?;
        let qr = OfferQr::new(link.offer())?;
        println!("{}", qr.render_unicode().as_str());
        let scanned = link.offer_qr_text();
        let (pending, message) =
            alice.accept_companion(scanned.as_str(), self.now, &mut self.rng)?;
        println!(
            "   the server relays the phone's linking message ({} bytes, encrypted)",
            message.len()
        );
        let now = self.now;
        let linked = link.finish(self.open("alice-laptop.db")?, &message, now, &mut self.rng)?;
        println!(
            "   the server relays the laptop's countersignature ({} bytes, encrypted)",
            linked.countersignature.len()
        );
        let done =
            alice.finish_companion(pending, &linked.countersignature, self.now, &mut self.rng)?;
        let laptop = linked.device;
        let version = self
            .server
            .lists
            .upload("alice", &done.device_list)?
            .version();
        self.checks.check(
            version == 2,
            "Alice's phone signed version 2 of her device list, and the server accepted it",
        );
        let own = self.fetch_list(&laptop, "alice")?;
        self.checks.check(
            own.len() == 2 && laptop.address() == &Address::new("alice", 2)?,
            "the laptop is alice.2 and trusts the list that names both devices",
        );
        self.checks.check(
            laptop.account_key() == alice.account_key()
                && laptop.identity_key() != alice.identity_key(),
            "the laptop shares Alice's account key and has its own identity key",
        );
        self.publish(&laptop)?;
        for user in ["bob", "carol"] {
            self.fetch_list(&laptop, user)?;
        }

        self.step("7. Alice's phone sends her recent history to the laptop, encrypted for this link only.");
        let history = self.alice_history.join("\n").into_bytes();
        let mut stream = Vec::new();
        done.history
            .send(&mut self.rng, history.as_slice(), &mut stream, None, |_| {})?;
        self.deliver(
            alice.address(),
            vec![(laptop.address().clone(), HISTORY_STREAM, stream)],
        )?;
        let got = self.inbox(&laptop)?;
        let mut restored = Vec::new();
        if let [Got::History { stream }] = got.as_slice() {
            linked
                .history
                .receive(stream.as_slice(), &mut restored, None, |_| {})?;
        }
        self.checks.check(
            restored == history,
            &format!(
                "the laptop shows the same {} messages as the phone",
                self.alice_history.len()
            ),
        );

        self.step(
            "8. Bob and Carol see Alice's new list; Bob's next message reaches both her devices.",
        );
        for device in [&bob, &carol] {
            let devices = self.fetch_list(device, "alice")?;
            self.checks.check(
                devices.len() == 2,
                &format!("{} now sends to Alice's two devices", device.address()),
            );
        }
        let text = "See you both at noon.";
        let count = self.send(&bob, "alice", text)?;
        self.checks
            .check(count == 2, "Bob's message went out as two envelopes");
        self.expect_direct(&alice, bob.address(), text)?;
        self.expect_direct(&laptop, bob.address(), text)?;
        self.alice_history.push(format!("bob: {text}"));

        self.step("9. Alice answers from the laptop; her phone gets a copy of what she sent.");
        let text = "Perfect, booking a table.";
        self.send(&laptop, "bob", text)?;
        self.alice_history.push(format!("alice: {text}"));
        self.expect_direct(&bob, laptop.address(), text)?;
        let got = self.inbox(&alice)?;
        self.checks.check(
            matches!(got.as_slice(),
                [Got::Transcript { to_user, text: t }] if to_user == "bob" && t == text),
            "Alice's phone shows the message her laptop sent to Bob",
        );

        self.step("10. Alice starts a group with Bob and Carol: sender keys go out pairwise, then one ciphertext for all.");
        let group = DistributionId::generate(&mut self.rng);
        let members = ["alice", "bob", "carol"];
        let text = "Friday lunch group: who's in?";
        let (distributed, _) = self.send_group(&alice, group, &members, text)?;
        self.alice_history.push(format!("alice (group): {text}"));
        self.checks.check(
            distributed.len() == 3,
            "the phone's sender key went to the 3 other devices (laptop, Bob, Carol)",
        );
        for device in [&bob, &carol, &laptop] {
            let texts = self.group_texts(device)?;
            self.checks.check(
                texts == [(alice.address().clone(), text.to_owned())],
                &format!("{} reads the group message", device.address()),
            );
        }
        let text = "Me! And Carol said yes too.";
        let (distributed, _) = self.send_group(&bob, group, &members, text)?;
        self.alice_history.push(format!("bob (group): {text}"));
        self.checks.check(
            distributed.len() == 3,
            "Bob's sender key went to Alice's phone and laptop and to Carol",
        );
        for device in [&alice, &laptop, &carol] {
            let texts = self.group_texts(device)?;
            self.checks.check(
                texts == [(bob.address().clone(), text.to_owned())],
                &format!("{} reads Bob's group message", device.address()),
            );
        }
        let text = "Table for three at noon.";
        let (distributed, _) = self.send_group(&alice, group, &members, text)?;
        self.alice_history.push(format!("alice (group): {text}"));
        self.checks.check(
            distributed.is_empty(),
            "Alice's next group message needs no new sender key: one ciphertext only",
        );
        for device in [&bob, &carol, &laptop] {
            let texts = self.group_texts(device)?;
            self.checks.check(
                texts == [(alice.address().clone(), text.to_owned())],
                &format!("{} reads it", device.address()),
            );
        }

        self.step("11. Carol leaves the group; Alice's and Bob's sender keys rotate.");
        let remaining = ["alice", "bob"];
        let text = "Carol can't make it after all.";
        let (distributed, message) = self.send_group(&alice, group, &remaining, text)?;
        self.alice_history.push(format!("alice (group): {text}"));
        self.checks.check(
            distributed.len() == 2 && !distributed.iter().any(|a| a.name() == "carol"),
            "Alice's phone made a new sender key and gave it to Bob and her laptop only",
        );
        for device in [&bob, &laptop] {
            let texts = self.group_texts(device)?;
            self.checks.check(
                texts == [(alice.address().clone(), text.to_owned())],
                &format!("{} reads the message under the new key", device.address()),
            );
        }
        self.checks.check(
            carol
                .decrypt_group(alice.address(), &message, &remaining, self.now)
                .is_err(),
            "even handed the ciphertext, Carol cannot read it",
        );
        bob.remove_group_member(group, "carol")?;
        let text = "Noted, see you Friday.";
        let (distributed, message) = self.send_group(&bob, group, &remaining, text)?;
        self.checks.check(
            distributed.len() == 2 && !distributed.iter().any(|a| a.name() == "carol"),
            "Bob's key rotated too, and Carol was left out",
        );
        for device in [&alice, &laptop] {
            let texts = self.group_texts(device)?;
            self.checks.check(
                texts == [(bob.address().clone(), text.to_owned())],
                &format!("{} reads Bob's message under his new key", device.address()),
            );
        }
        self.checks.check(
            carol
                .decrypt_group(bob.address(), &message, &remaining, self.now)
                .is_err(),
            "and Carol cannot read Bob's either",
        );
        self.alice_history.push(format!("bob (group): {text}"));

        self.step(
            "12. Alice backs up her history to a file, under a recovery code she writes down.",
        );
        let key = BackupKey::generate(&mut self.rng);
        let code = key.recovery_code().to_grouped_string();
        println!("   recovery code: {}", code.as_str());
        let history = self.alice_history.join("\n").into_bytes();
        let path = self.dir.path().join("alice-backup.hush");
        {
            let mut writer = BufWriter::new(File::create(&path)?);
            alice.back_up_history(&key, history.as_slice(), &mut writer, &mut self.rng, |_| {})?;
            writer.flush()?;
        }
        let file = std::fs::read(&path)?;
        println!(
            "   the backup file: {} bytes for {} bytes of history",
            file.len(),
            history.len()
        );
        self.checks.check(
            !self
                .plaintexts
                .iter()
                .any(|p| file.windows(p.len()).any(|w| w == p.as_slice())),
            "the backup file holds no message in the clear",
        );

        self.step(
            "13. Alice's phone is lost; on a new phone she types her recovery code and restores.",
        );
        drop(alice);
        let typed = RecoveryCode::parse(&code.to_lowercase())?;
        let key = BackupKey::from_recovery_code(&typed);
        let mut restored = Vec::new();
        let now = self.now;
        let (alice, _) = Dev::restore_account(
            self.open("alice-new-phone.db")?,
            "alice",
            &key,
            BufReader::new(File::open(&path)?),
            &mut restored,
            now,
            &mut self.rng,
            |_| {},
        )?;
        self.checks.check(
            restored == history,
            &format!(
                "the new phone shows all {} messages",
                self.alice_history.len()
            ),
        );
        let registration = self.publish(&alice)?;
        self.checks.check(
            registration == Registration::Replaced,
            "the new phone has a new identity key: the server replaced the old registration",
        );

        self.step(
            "14. Bob's app notices Alice's new key and asks him to check; then they talk again.",
        );
        let list = self.server.lists.fetch("alice").ok_or("no device list")?;
        let refused = bob.accept_device_list("alice", &list, self.now);
        self.checks.check(
            matches!(
                refused,
                Err(hush::Error::Device(hush_device::Error::IdentityChanged))
            ),
            "Bob's app refuses Alice's new account key until Bob accepts it",
        );
        let changed = safety_number(&bob, &alice)?;
        println!("   Bob's new safety number with Alice: {changed}");
        self.checks.check(
            changed != seen_by_bob,
            "the safety number changed, so Bob knows to compare again",
        );
        bob.accept_changed_device_list("alice", &list, self.now)?;
        self.fetch_list(&alice, "bob")?;
        let text = "Welcome back, Alice!";
        let count = self.send(&bob, "alice", text)?;
        self.checks.check(
            count == 1,
            "Bob now sends to the new phone only (the laptop must be linked again)",
        );
        self.expect_direct(&alice, bob.address(), text)?;

        self.step("15. What the server held.");
        println!(
            "   {} envelopes, {} bytes of ciphertext in all; {} of the {} pairwise messages \
             carried a chunk of a post-quantum (ML-KEM-768) ratchet exchange",
            self.envelopes_seen, self.bytes_seen, self.spqr_chunks_seen, self.pairwise_seen
        );
        self.checks.check(
            self.pairwise_seen > 0 && self.pairwise_with_spqr == self.pairwise_seen,
            "every pairwise message ran the post-quantum ratchet (SPQR), as libsignal v0.101 requires",
        );
        self.checks.check(
            !self.leaked,
            "no envelope the server relayed contained a message in the clear",
        );
        self.checks.check(
            self.server.mailbox.queue_count() == 0,
            "every message was fetched and acknowledged: the mailbox is empty",
        );
        drop(laptop);
        Ok(())
    }
}

/// The safety number `local` sees for `remote`, as 12 blocks of 5 digits.
fn safety_number(local: &Dev, remote: &Dev) -> Outcome<String> {
    let fingerprint = Fingerprint::new(
        FINGERPRINT_VERSION,
        FINGERPRINT_ITERATIONS,
        local.address().name().as_bytes(),
        local.account_key(),
        remote.address().name().as_bytes(),
        remote.account_key(),
    )?;
    Ok(grouped(&fingerprint.displayable().to_string()))
}

/// 60 digits as Signal shows them: 12 blocks of 5.
fn grouped(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 5);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && i % 5 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_of_five() {
        assert_eq!(grouped("1234567890123"), "12345 67890 123");
        let sixty = "0123456789".repeat(6);
        assert_eq!(grouped(&sixty).split(' ').count(), 12);
    }
}
