//! Targets for `hush-ratchet`: its two message decoders, its session record decoder, and
//! a stateful two-party conversation driven by the fuzzer.
//!
//! All of them share one deterministic fixture (seeded keys and RNG): Alice has
//! initiated a PQXDH session with Bob, and the fixture keeps the genuine messages that
//! were sent but not yet delivered. The decoder targets do not stop at decoding: what
//! decodes is also handed to a copy of the receiver's record. A rejected message must leave
//! that record byte-identical, and an accepted one must be a genuine message (the fuzzer
//! cannot forge a MAC), decrypting to its plaintext. [`seed_corpus`] lists real messages
//! and records made from the same fixture, written to `fuzz/corpus/` by the ignored test
//! in `tests/ratchet_corpus.rs`.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hush_core::{IdentityKeyPair, KemKeyPair, KemKeyType, KeyPair, PublicKey};
use hush_ratchet::limits::MAX_RECEIVER_CHAINS;
use hush_ratchet::{
    CiphertextMessage, Error, LocalIdentity, PreKeySignalMessage, RemoteBundle, SessionRecord,
    SignalMessage,
};
use hush_test_support::test_rng;
use hush_x3dh::{AgreementMode, PeerPreKeys, ResponderPreKeys, TrustAll};

/// The signed prekey id of the fixture's bundle.
const SIGNED_ID: u32 = 1;
/// The one-time prekey id.
const ONE_TIME_ID: u32 = 2;
/// The KEM prekey id.
const KEM_ID: u32 = 3;
/// The most operations [`ratchet_interaction`] runs for one input.
pub const MAX_INTERACTION_OPS: usize = 256;

/// A message that was sent, with its plaintext.
#[derive(Clone)]
struct Genuine {
    bytes: Vec<u8>,
    plaintext: Vec<u8>,
}

/// The fixed cast: Alice and Bob, Bob's prekeys, records at interesting points, and the
/// genuine messages the decoder targets recognise.
struct Fixture {
    bob: IdentityKeyPair,
    signed: KeyPair,
    one_time: KeyPair,
    kem: KemKeyPair,
    /// Alice right after `initiate`: her session is pending.
    alice_start: SessionRecord,
    /// Bob after taking Alice's first message (he has the session).
    bob_after_first: SessionRecord,
    /// Alice's first messages (same base key), not delivered to an empty record.
    first_messages: Vec<Genuine>,
    /// Bob in an established session, and Alice's messages he has not received yet: two
    /// on a chain he has, one opening a new chain.
    bob_established: SessionRecord,
    undelivered: Vec<Genuine>,
    /// A message Bob already decrypted (a replay).
    delivered: Genuine,
    /// Alice at the end, and Alice after re-initiating (an archived session).
    alice_end: SessionRecord,
    alice_archived: SessionRecord,
}

fn start_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build_fixture)
}

#[track_caller]
fn must<T>(what: &str, result: Result<T, Error>) -> T {
    match result {
        Ok(value) => value,
        Err(error) => unexpected(what, &error),
    }
}

#[track_caller]
fn unexpected(what: &str, error: &Error) -> ! {
    #[expect(clippy::panic, reason = "a fuzz target reports a bug by panicking")]
    {
        panic!("{what}: unexpected error {error:?}")
    }
}

#[track_caller]
fn bug(what: &str) -> ! {
    #[expect(clippy::panic, reason = "a fuzz target reports a bug by panicking")]
    {
        panic!("{what}")
    }
}

fn bundle(
    bob: &IdentityKeyPair,
    signed: &KeyPair,
    one_time: &KeyPair,
    kem: &KemKeyPair,
    rng: &mut rand_chacha::ChaCha20Rng,
) -> RemoteBundle {
    let kem_public = kem.public_key().clone();
    let kem_signature = bob.sign(&kem_public.encode(), rng);
    RemoteBundle {
        registration_id: 2,
        signed_prekey_id: SIGNED_ID,
        one_time_prekey_id: Some(ONE_TIME_ID),
        kem_prekey_id: Some(KEM_ID),
        prekeys: PeerPreKeys {
            identity_key: bob.identity_key(),
            signed_prekey: signed.public_key(),
            signed_prekey_signature: bob.sign(&signed.public_key().encode(), rng),
            one_time_prekey: Some(one_time.public_key()),
            kem_prekey: Some((kem_public, kem_signature)),
        },
    }
}

fn send(record: &mut SessionRecord, plaintext: &[u8]) -> Genuine {
    let message = must(
        "fixture encrypt",
        record.encrypt(plaintext, &TrustAll, start_time()),
    );
    Genuine {
        bytes: message.encode().to_vec(),
        plaintext: plaintext.to_vec(),
    }
}

fn build_fixture() -> Fixture {
    let mut rng = test_rng(0x4855_5348);
    let alice = IdentityKeyPair::generate(&mut rng);
    let bob = IdentityKeyPair::generate(&mut rng);
    let signed = KeyPair::generate(&mut rng);
    let one_time = KeyPair::generate(&mut rng);
    let kem = KemKeyPair::generate(KemKeyType::Kyber1024, &mut rng);
    let alice_local = LocalIdentity {
        identity: &alice,
        registration_id: 1,
    };
    let bundle = bundle(&bob, &signed, &one_time, &kem, &mut rng);

    let mut alice_record = SessionRecord::new();
    must(
        "fixture initiate",
        alice_record.initiate(
            alice_local,
            &bundle,
            AgreementMode::Pqxdh,
            &TrustAll,
            start_time(),
            &mut rng,
        ),
    );
    let alice_start = alice_record.clone();
    let first_messages = vec![
        send(&mut alice_record, b"first"),
        send(&mut alice_record, b"first, again"),
    ];

    let mut bob_record = SessionRecord::new();
    let keys = ResponderPreKeys {
        signed_prekey: &signed,
        one_time_prekey: Some(&one_time),
        kem_prekey: Some(kem.secret_key()),
    };
    let bob_local = LocalIdentity {
        identity: &bob,
        registration_id: 2,
    };
    let first = first_messages
        .first()
        .map(|m| m.bytes.as_slice())
        .unwrap_or_default();
    let first = must("fixture first message", PreKeySignalMessage::decode(first));
    must(
        "fixture first decrypt",
        bob_record.decrypt_prekey(
            &first,
            bob_local,
            Some(keys),
            AgreementMode::Pqxdh,
            &TrustAll,
            &mut rng,
        ),
    );
    let bob_after_first = bob_record.clone();

    let deliver =
        |record: &mut SessionRecord, message: &Genuine, rng: &mut rand_chacha::ChaCha20Rng| {
            let message = must("fixture decode", SignalMessage::decode(&message.bytes));
            must("fixture decrypt", record.decrypt(&message, &TrustAll, rng));
        };
    let answer = send(&mut bob_record, b"answer");
    deliver(&mut alice_record, &answer, &mut rng);
    let delivered = send(&mut alice_record, b"delivered");
    let on_chain = vec![
        send(&mut alice_record, b"undelivered one"),
        send(&mut alice_record, &[0x55; 40]),
    ];
    deliver(&mut bob_record, &delivered, &mut rng);
    let step = send(&mut bob_record, b"makes Alice step");
    deliver(&mut alice_record, &step, &mut rng);
    let mut undelivered = on_chain;
    undelivered.push(send(&mut alice_record, b"opens a new chain"));

    let alice_end = alice_record.clone();
    must(
        "fixture re-initiate",
        alice_record.initiate(
            alice_local,
            &bundle,
            AgreementMode::Pqxdh,
            &TrustAll,
            start_time(),
            &mut rng,
        ),
    );
    Fixture {
        bob,
        signed,
        one_time,
        kem,
        alice_start,
        bob_after_first,
        first_messages,
        bob_established: bob_record,
        undelivered,
        delivered,
        alice_end,
        alice_archived: alice_record,
    }
}

impl Fixture {
    fn bob_local(&self) -> LocalIdentity<'_> {
        LocalIdentity {
            identity: &self.bob,
            registration_id: 2,
        }
    }

    /// Bob's prekeys, looked up the way an app would: by the ids the message names,
    /// except that every id finds Bob's only key of that kind.
    fn prekeys_for(&self, message: &PreKeySignalMessage) -> ResponderPreKeys<'_> {
        ResponderPreKeys {
            signed_prekey: &self.signed,
            one_time_prekey: message.pre_key_id().map(|_| &self.one_time),
            kem_prekey: message.kem_pre_key_id().map(|_| self.kem.secret_key()),
        }
    }
}

/// Decrypts `message` with a copy of `record`: a failure must leave the copy
/// byte-identical; a success is returned with the plaintext.
fn try_decrypt(record: &SessionRecord, message: &SignalMessage) -> Option<Vec<u8>> {
    let mut copy = record.clone();
    let before = copy.encode();
    match copy.decrypt(message, &TrustAll, &mut test_rng(0)) {
        Ok(plaintext) => Some(plaintext.to_vec()),
        Err(_) => {
            assert_eq!(
                copy.encode(),
                before,
                "a rejected message changed the record"
            );
            None
        }
    }
}

/// `SignalMessage::decode`: a decoded message re-encodes to the input and decodes to the
/// same value, agrees with `CiphertextMessage::decode(2, ..)`, and is then given to Bob's
/// established record, which must reject it unchanged unless it is one of the genuine
/// undelivered messages byte for byte (then it decrypts to that plaintext). A replay of a
/// delivered message is a duplicate.
pub fn signal_message(data: &[u8]) {
    let Ok(message) = SignalMessage::decode(data) else {
        assert!(
            CiphertextMessage::decode(2, data).is_err(),
            "decoders disagree"
        );
        return;
    };
    assert_eq!(
        message.encode(),
        data,
        "signal message re-encodes differently"
    );
    assert_eq!(
        SignalMessage::decode(message.encode()).as_ref(),
        Ok(&message),
        "signal message does not round-trip"
    );
    assert_eq!(
        CiphertextMessage::decode(2, data),
        Ok(CiphertextMessage::Signal(message.clone())),
        "decoders disagree"
    );
    assert!((3..=4).contains(&message.version()));
    let fx = fixture();
    let genuine = fx.undelivered.iter().find(|g| g.bytes == data);
    match (try_decrypt(&fx.bob_established, &message), genuine) {
        (Some(plaintext), Some(genuine)) => {
            assert_eq!(plaintext, genuine.plaintext, "wrong plaintext");
        }
        (Some(_), None) => bug("a message that was never sent decrypted"),
        (None, Some(_)) => bug("a genuine message did not decrypt"),
        (None, None) => {}
    }
    if data == fx.delivered.bytes {
        let mut copy = fx.bob_established.clone();
        let replay = copy.decrypt(&message, &TrustAll, &mut test_rng(0));
        assert!(
            matches!(replay, Err(Error::DuplicateMessage { .. })),
            "replay: {replay:?}"
        );
    }
}

/// `PreKeySignalMessage::decode`: a decoded message re-encodes to the input and decodes
/// to the same value, and agrees with `CiphertextMessage::decode(3, ..)`. It is then
/// given to Bob twice: with an empty record (a new session, prekeys looked up by the ids
/// it names) and with the record that already has Alice's session (a retransmission).
/// Rejection leaves the record unchanged; acceptance needs the genuine inner message,
/// base key and identity of one of Alice's first messages, and yields its plaintext (the
/// fields nothing authenticates, such as the registration id, may differ).
pub fn prekey_signal_message(data: &[u8]) {
    let Ok(message) = PreKeySignalMessage::decode(data) else {
        assert!(
            CiphertextMessage::decode(3, data).is_err(),
            "decoders disagree"
        );
        return;
    };
    assert_eq!(
        message.encode(),
        data,
        "prekey message re-encodes differently"
    );
    assert_eq!(
        PreKeySignalMessage::decode(message.encode()).as_ref(),
        Ok(&message),
        "prekey message does not round-trip"
    );
    assert_eq!(
        CiphertextMessage::decode(3, data),
        Ok(CiphertextMessage::PreKey(message.clone())),
        "decoders disagree"
    );
    assert_eq!(message.message().version(), message.version());
    let fx = fixture();
    for start in [&SessionRecord::new(), &fx.bob_after_first] {
        let mut record = start.clone();
        let before = record.encode();
        let keys = fx.prekeys_for(&message);
        let result = record.decrypt_prekey(
            &message,
            fx.bob_local(),
            Some(keys),
            AgreementMode::Pqxdh,
            &TrustAll,
            &mut test_rng(0),
        );
        match result {
            Err(_) => assert_eq!(
                record.encode(),
                before,
                "a rejected first message changed the record"
            ),
            Ok(done) => {
                let genuine = fx.first_messages.iter().find_map(|g| {
                    let original = PreKeySignalMessage::decode(&g.bytes).ok()?;
                    let same = original.message() == message.message()
                        && original.base_key() == message.base_key()
                        && original.identity_key() == message.identity_key();
                    same.then_some(g)
                });
                let Some(genuine) = genuine else {
                    bug("a first message that was never sent decrypted");
                };
                assert_eq!(
                    done.plaintext.as_slice(),
                    genuine.plaintext,
                    "wrong plaintext"
                );
            }
        }
    }
}

/// `SessionRecord::decode`: a decoded record encodes to bytes that decode and encode to
/// the same bytes (the first encoding may differ from the input only where decoding
/// normalises, e.g. re-clamping a private key). The decoded record then encrypts (or
/// fails without changing) and is given one of Alice's genuine messages to Bob: it
/// decrypts to the right plaintext or fails without changing the record.
pub fn session_record(data: &[u8]) {
    let Ok(record) = SessionRecord::decode(data) else {
        return;
    };
    let once = record.encode();
    let again = must(
        "re-decoding an encoded record",
        SessionRecord::decode(&once),
    );
    assert_eq!(again.encode(), once, "record encoding is not stable");

    let fx = fixture();
    let mut sender = record.clone();
    for at in [
        start_time(),
        start_time() + Duration::from_secs(40 * 24 * 60 * 60),
    ] {
        let before = sender.encode();
        if sender.encrypt(b"fuzz", &TrustAll, at).is_err() {
            assert_eq!(
                sender.encode(),
                before,
                "a failed encrypt changed the record"
            );
        }
    }
    for genuine in &fx.undelivered {
        let message = must("fixture message", SignalMessage::decode(&genuine.bytes));
        if let Some(plaintext) = try_decrypt(&record, &message) {
            assert_eq!(plaintext, genuine.plaintext, "wrong plaintext");
        }
    }
}

/// One side of [`ratchet_interaction`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Who {
    Alice,
    Bob,
}

/// A message in flight, with what the model knows about it.
#[derive(Clone)]
struct InFlight {
    message_type: u8,
    bytes: Vec<u8>,
    plaintext: Vec<u8>,
    ratchet_key: PublicKey,
    counter: u32,
    id: usize,
}

/// One party: its record, the sending chains it opened receiving chains for (oldest
/// first), what is in flight to it and what it already decrypted.
struct Party {
    record: SessionRecord,
    chains: Vec<PublicKey>,
    inbox: Vec<InFlight>,
    received: Vec<InFlight>,
}

impl Party {
    /// Whether the receiving chain for `key` was dropped for newer ones.
    fn dropped(&self, key: &PublicKey) -> bool {
        self.chains
            .iter()
            .position(|k| k == key)
            .is_some_and(|i| i.saturating_add(MAX_RECEIVER_CHAINS) < self.chains.len())
    }
}

struct Interaction {
    alice: Party,
    bob: Party,
    rng: rand_chacha::ChaCha20Rng,
    next_id: usize,
    decrypted: Vec<usize>,
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

    fn wide(&mut self) -> usize {
        usize::from(u16::from_le_bytes([self.byte(), self.byte()]))
    }
}

/// How a delivery must end, according to the model.
enum Expect {
    /// A new genuine message: decrypts (unless its chain was dropped).
    Genuine,
    /// A message already decrypted: a duplicate (or a failure once its chain is gone).
    Replay,
    /// A damaged copy: fails, except that a first message damaged only in fields nothing
    /// authenticates may decrypt as the original.
    Damaged,
}

impl Interaction {
    fn party(&mut self, who: Who) -> &mut Party {
        match who {
            Who::Alice => &mut self.alice,
            Who::Bob => &mut self.bob,
        }
    }

    fn send(&mut self, from: Who, extra: u8) {
        let id = self.next_id;
        let party = self.party(from);
        if !party.record.has_current_session() {
            return; // Bob cannot speak before Alice's first message reached him.
        }
        let mut plaintext = format!("{from:?} #{id} ").into_bytes();
        plaintext.resize(plaintext.len() + usize::from(extra % 64), b'.');
        let message = must(
            "encrypt",
            party.record.encrypt(&plaintext, &TrustAll, start_time()),
        );
        let signal = match &message {
            CiphertextMessage::Signal(message) => message,
            CiphertextMessage::PreKey(message) => message.message(),
        };
        let sent = InFlight {
            message_type: message.message_type(),
            bytes: message.encode().to_vec(),
            plaintext,
            ratchet_key: *signal.ratchet_key(),
            counter: signal.counter(),
            id,
        };
        self.next_id = self.next_id.saturating_add(1);
        let to = if from == Who::Alice {
            Who::Bob
        } else {
            Who::Alice
        };
        self.party(to).inbox.push(sent);
    }

    /// `to` receives `bytes` as a message of `message_type`.
    fn receive(&mut self, to: Who, message_type: u8, bytes: &[u8]) -> Result<Vec<u8>, Error> {
        let fx = fixture();
        let message = CiphertextMessage::decode(message_type, bytes)?;
        let rng = &mut self.rng;
        let record = match to {
            Who::Alice => &mut self.alice.record,
            Who::Bob => &mut self.bob.record,
        };
        match (to, message) {
            (_, CiphertextMessage::Signal(message)) => {
                record.decrypt(&message, &TrustAll, rng).map(|p| p.to_vec())
            }
            (Who::Bob, CiphertextMessage::PreKey(message)) => record
                .decrypt_prekey(
                    &message,
                    fx.bob_local(),
                    Some(fx.prekeys_for(&message)),
                    AgreementMode::Pqxdh,
                    &TrustAll,
                    rng,
                )
                .map(|done| done.plaintext.to_vec()),
            (Who::Alice, CiphertextMessage::PreKey(_)) => bug("Bob sent a first message"),
        }
    }

    /// Delivers `bytes` (the message `sent`, intact or damaged) to `to` and checks the
    /// outcome against the model. Returns whether `sent` now counts as received.
    fn deliver(&mut self, to: Who, sent: &InFlight, bytes: &[u8], expect: &Expect) -> bool {
        let before = self.party(to).record.encode();
        let dropped = self.party(to).dropped(&sent.ratchet_key);
        let result = self.receive(to, sent.message_type, bytes);
        let accepted = match (&result, expect) {
            (Ok(plaintext), Expect::Genuine) => {
                assert!(
                    !dropped,
                    "#{}: decrypted on a chain that was dropped",
                    sent.id
                );
                assert_eq!(*plaintext, sent.plaintext, "#{}: wrong plaintext", sent.id);
                true
            }
            (Err(error), Expect::Genuine) => {
                assert!(dropped, "#{}: genuine message failed: {error:?}", sent.id);
                assert_eq!(*error, Error::DecryptionFailed);
                false
            }
            (Ok(_), Expect::Replay) => bug("a replayed message decrypted again"),
            (Err(error), Expect::Replay) => {
                if dropped {
                    assert_eq!(*error, Error::DecryptionFailed);
                } else {
                    assert_eq!(
                        *error,
                        Error::DuplicateMessage {
                            counter: sent.counter
                        }
                    );
                }
                false
            }
            (Ok(plaintext), Expect::Damaged) => {
                assert_eq!(
                    sent.message_type, 3,
                    "#{}: a damaged session message decrypted",
                    sent.id
                );
                assert_eq!(*plaintext, sent.plaintext, "#{}: wrong plaintext", sent.id);
                true
            }
            (Err(_), Expect::Damaged) => false,
        };
        let party = self.party(to);
        if accepted {
            if !party.chains.contains(&sent.ratchet_key) {
                party.chains.push(sent.ratchet_key);
            }
            party.received.push(sent.clone());
            self.decrypted.push(sent.id);
        } else {
            assert_eq!(
                party.record.encode(),
                before,
                "#{}: a rejected message changed the record",
                sent.id
            );
        }
        accepted
    }

    fn round_trip_records(&mut self) {
        for party in [&mut self.alice, &mut self.bob] {
            let bytes = party.record.encode();
            let decoded = must("decoding an encoded record", SessionRecord::decode(&bytes));
            assert_eq!(decoded.encode(), bytes, "record does not round-trip");
            party.record = decoded;
        }
    }

    /// Runs one operation. Its argument bytes are read whether or not it can run, so a
    /// script means the same thing whatever state it meets.
    fn step(&mut self, script: &mut Script<'_>) {
        let op = script.byte();
        let to = if op & 0x80 == 0 { Who::Bob } else { Who::Alice };
        match op & 0x07 {
            code @ (0 | 1) => {
                let extra = script.byte();
                self.send(if code == 0 { Who::Alice } else { Who::Bob }, extra);
            }
            2 | 3 => {
                let pick = script.byte();
                if let Some(sent) = take(&mut self.party(to).inbox, pick) {
                    self.deliver(to, &sent, &sent.bytes, &Expect::Genuine);
                }
            }
            4 => {
                let pick = script.byte();
                if let Some(sent) = take(&mut self.party(to).received, pick) {
                    self.deliver(to, &sent, &sent.bytes, &Expect::Replay);
                    self.party(to).received.push(sent);
                }
            }
            code @ (5 | 6) => {
                let pick = script.byte();
                let at = script.wide();
                let bit = if code == 5 { script.byte() % 8 } else { 0 };
                if let Some(sent) = take(&mut self.party(to).inbox, pick) {
                    let mut damaged = sent.bytes.clone();
                    if code == 5 {
                        let position = at % damaged.len().max(1);
                        if let Some(byte) = damaged.get_mut(position) {
                            *byte ^= 1 << bit;
                        }
                    } else {
                        damaged.truncate(at % damaged.len().max(1));
                    }
                    if !self.deliver(to, &sent, &damaged, &Expect::Damaged) {
                        self.party(to).inbox.push(sent);
                    }
                }
            }
            _ => {
                let pick = script.byte();
                let _ = take(&mut self.party(to).inbox, pick);
            }
        }
    }
}

/// Removes the `pick`-th (modulo the length) entry, if there is one.
fn take(queue: &mut Vec<InFlight>, pick: u8) -> Option<InFlight> {
    if queue.is_empty() {
        return None;
    }
    let index = usize::from(pick) % queue.len();
    Some(queue.remove(index))
}

/// A two-party conversation scripted by the fuzzer's bytes.
///
/// Alice starts from the fixture's freshly initiated session (her first message is a
/// `PreKeySignalMessage`), Bob from an empty record with his prekeys at hand. Each
/// operation takes an opcode byte (low 3 bits: Alice sends, Bob sends, deliver, deliver,
/// replay, deliver a bit-flipped copy, deliver a truncated copy, drop; the high bit
/// picks the receiver) and a few argument bytes; at most [`MAX_INTERACTION_OPS`] run, then
/// everything still in flight is delivered in order. Checked throughout: every genuine
/// message decrypts exactly once, to its plaintext, unless its sending chain is no longer
/// among the receiver's newest [`MAX_RECEIVER_CHAINS`] (then it fails); replays are
/// `DuplicateMessage`; damaged copies fail (a first message damaged only where nothing
/// authenticates may decrypt as the original); every failure leaves the receiver's record
/// byte-identical; both records round-trip through `encode`/`decode` after every step.
pub fn ratchet_interaction(data: &[u8]) {
    let _ = interact(data);
}

/// Runs [`ratchet_interaction`]'s script and returns the ids of the messages that
/// decrypted, in order.
fn interact(data: &[u8]) -> Vec<usize> {
    let fx = fixture();
    let mut run = Interaction {
        alice: Party {
            record: fx.alice_start.clone(),
            chains: vec![fx.signed.public_key()],
            inbox: Vec::new(),
            received: Vec::new(),
        },
        bob: Party {
            record: SessionRecord::new(),
            chains: Vec::new(),
            inbox: Vec::new(),
            received: Vec::new(),
        },
        rng: test_rng(1),
        next_id: 0,
        decrypted: Vec::new(),
    };
    let mut script = Script { rest: data };
    let mut ops = 0;
    while !script.rest.is_empty() && ops < MAX_INTERACTION_OPS {
        run.step(&mut script);
        run.round_trip_records();
        ops += 1;
    }
    for to in [Who::Bob, Who::Alice] {
        for sent in std::mem::take(&mut run.party(to).inbox) {
            run.deliver(to, &sent, &sent.bytes, &Expect::Genuine);
        }
    }
    let mut ids = run.decrypted.clone();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), run.decrypted.len(), "a message decrypted twice");
    run.decrypted
}

/// Seed inputs for the ratchet targets, made from the fixture: `(target, file name,
/// bytes)`. Real messages (delivered and not), real records (pending, established, with
/// an archived session), and a few interaction scripts.
#[must_use]
pub fn seed_corpus() -> Vec<(&'static str, String, Vec<u8>)> {
    let fx = fixture();
    let mut out = Vec::new();
    for (i, genuine) in fx.undelivered.iter().enumerate() {
        out.push((
            "signal_message",
            format!("undelivered-{i}"),
            genuine.bytes.clone(),
        ));
    }
    out.push((
        "signal_message",
        "delivered".to_owned(),
        fx.delivered.bytes.clone(),
    ));
    for (i, genuine) in fx.first_messages.iter().enumerate() {
        out.push((
            "prekey_signal_message",
            format!("first-{i}"),
            genuine.bytes.clone(),
        ));
    }
    for (name, record) in [
        ("alice-pending", &fx.alice_start),
        ("bob-after-first", &fx.bob_after_first),
        ("bob-established", &fx.bob_established),
        ("alice-established", &fx.alice_end),
        ("alice-with-archive", &fx.alice_archived),
    ] {
        out.push(("session_record", name.to_owned(), record.encode().to_vec()));
    }
    // Alice sends, Bob receives, Bob answers, Alice receives; then reordering, a replay,
    // damage and drops.
    let scripts: [(&str, Vec<u8>); 3] = [
        (
            "ping-pong",
            vec![0, 5, 2, 0, 1, 9, 0x82, 0, 0, 1, 2, 0, 1, 2, 0x82, 0],
        ),
        (
            "reorder-replay",
            vec![
                0, 1, 0, 2, 0, 3, 2, 2, 2, 0, 4, 0, 1, 4, 1, 5, 0x83, 1, 2, 0, 0x84, 0, 0, 7, 7, 0,
                1, 0,
            ],
        ),
        (
            "damage",
            vec![
                0, 1, 0, 2, 5, 0, 40, 0, 3, 6, 1, 10, 0, 2, 0, 1, 0, 0x85, 0, 7, 0, 1, 0x86, 0, 5,
                0, 0x82, 0, 0x87, 0,
            ],
        ),
    ];
    for (name, script) in scripts {
        out.push(("ratchet_interaction", name.to_owned(), script));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixture_is_what_the_targets_assume() {
        let fx = fixture();
        assert!(fx.alice_start.has_current_session());
        assert_eq!(fx.first_messages.len(), 2);
        assert_eq!(fx.undelivered.len(), 3);
        assert_eq!(fx.alice_archived.archived_sessions(), 1);
        // Deterministic: built twice, the same bytes.
        let again = build_fixture();
        assert_eq!(again.bob_established.encode(), fx.bob_established.encode());
        assert!(
            again
                .undelivered
                .iter()
                .zip(&fx.undelivered)
                .all(|(a, b)| a.bytes == b.bytes)
        );
    }

    /// Every seed runs through its target: the genuine undelivered messages decrypt (the
    /// targets would panic otherwise) and the scripts really deliver messages.
    #[test]
    fn seeds_exercise_the_success_paths() {
        for (target, _, bytes) in seed_corpus() {
            let Some(run) = crate::target(target) else {
                bug("unregistered ratchet target")
            };
            run(&bytes);
        }
        let scripts: Vec<_> = seed_corpus()
            .into_iter()
            .filter(|(target, _, _)| *target == "ratchet_interaction")
            .collect();
        let decrypted: Vec<usize> = scripts
            .iter()
            .map(|(_, _, script)| interact(script).len())
            .collect();
        // ping-pong: all 4; reorder-replay: 7 sent, 1 dropped; damage: 3 sent, all arrive.
        assert_eq!(decrypted, [4, 6, 3]);
        // A run that ends with messages in flight delivers them at the end.
        assert_eq!(interact(&[0, 0, 0, 1, 0, 2]).len(), 3);
        assert!(interact(&[]).is_empty());
    }
}
