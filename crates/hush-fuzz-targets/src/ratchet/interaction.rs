//! The stateful two-party target: a conversation scripted by the fuzzer's bytes, with
//! SPQR on, checked against a model of what must decrypt.

use hush_core::PublicKey;
use hush_ratchet::limits::MAX_RECEIVER_CHAINS;
use hush_ratchet::{CiphertextMessage, Error, SessionRecord};
use hush_test_support::test_rng;
use hush_x3dh::{AgreementMode, TrustAll};

std::thread_local! {
    /// The newest SPQR epoch of the last [`interact`] run on this thread (for tests).
    pub(super) static NEWEST_SPQR_EPOCH: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

use super::{MAX_INTERACTION_OPS, bug, fixture, must, start_time};

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
    /// The SPQR (braid) epoch its payload names.
    spqr_epoch: u64,
    id: usize,
}

/// One party: its record, the sending chains it opened receiving chains for (oldest
/// first), what is in flight to it and what it already decrypted.
struct Party {
    record: SessionRecord,
    chains: Vec<PublicKey>,
    inbox: Vec<InFlight>,
    received: Vec<InFlight>,
    /// The newest SPQR epoch this party sent or decrypted a payload of.
    newest_spqr_epoch: u64,
}

impl Party {
    /// Whether the SPQR chain may no longer hold the key of a message of `epoch`: it
    /// keeps three chain epochs around the one it sends in, so a message two or more
    /// epochs behind the newest this party has seen may be refused.
    fn spqr_epoch_gone(&self, epoch: u64) -> bool {
        epoch.saturating_add(2) <= self.newest_spqr_epoch
    }

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
        let rng = &mut self.rng;
        let party = match from {
            Who::Alice => &mut self.alice,
            Who::Bob => &mut self.bob,
        };
        if !party.record.has_current_session() {
            return; // Bob cannot speak before Alice's first message reached him.
        }
        let mut plaintext = format!("{from:?} #{id} ").into_bytes();
        plaintext.resize(plaintext.len() + usize::from(extra % 64), b'.');
        let options = if from == Who::Alice {
            super::alice_options()
        } else {
            super::bob_options()
        };
        let message = must(
            "encrypt",
            party
                .record
                .encrypt(&plaintext, options, &TrustAll, start_time(), rng),
        );
        let signal = match &message {
            CiphertextMessage::Signal(message) => message,
            CiphertextMessage::PreKey(message) => message.message(),
        };
        let spqr_epoch = match hush_spqr::Payload::decode(signal.pq_ratchet()) {
            Ok(payload) => payload.epoch(),
            Err(_) => bug("a message without a valid SPQR payload"),
        };
        party.newest_spqr_epoch = party.newest_spqr_epoch.max(spqr_epoch);
        let sent = InFlight {
            message_type: message.message_type(),
            bytes: message.encode().to_vec(),
            plaintext,
            ratchet_key: *signal.ratchet_key(),
            counter: signal.counter(),
            spqr_epoch,
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
        let options = match to {
            Who::Alice => super::alice_options(),
            Who::Bob => super::bob_options(),
        };
        match (to, message) {
            (_, CiphertextMessage::Signal(message)) => record
                .decrypt(&message, options, &TrustAll, rng)
                .map(|p| p.to_vec()),
            (Who::Bob, CiphertextMessage::PreKey(message)) => record
                .decrypt_prekey(
                    &message,
                    fx.bob_local(),
                    Some(fx.prekeys_for(&message)),
                    AgreementMode::Pqxdh,
                    options,
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
        let dropped = self.party(to).dropped(&sent.ratchet_key)
            || self.party(to).spqr_epoch_gone(sent.spqr_epoch);
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
            party.newest_spqr_epoch = party.newest_spqr_epoch.max(sent.spqr_epoch);
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
/// SPQR runs (required, as by default) with its payload in every message: besides a
/// dropped receiving chain, the one reason a genuine message may fail is an SPQR epoch
/// two or more behind the newest its receiver has seen (the SPQR chain keeps three).
pub fn ratchet_interaction(data: &[u8]) {
    let _ = interact(data);
}

/// Runs [`ratchet_interaction`]'s script and returns the ids of the messages that
/// decrypted, in order.
pub(super) fn interact(data: &[u8]) -> Vec<usize> {
    let fx = fixture();
    let mut run = Interaction {
        alice: Party {
            record: fx.alice_start.clone(),
            chains: vec![fx.signed.public_key()],
            inbox: Vec::new(),
            received: Vec::new(),
            newest_spqr_epoch: 0,
        },
        bob: Party {
            record: SessionRecord::new(),
            chains: Vec::new(),
            inbox: Vec::new(),
            received: Vec::new(),
            newest_spqr_epoch: 0,
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
    let newest = run.alice.newest_spqr_epoch.max(run.bob.newest_spqr_epoch);
    NEWEST_SPQR_EPOCH.with(|cell| cell.set(newest));
    let mut ids = run.decrypted.clone();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), run.decrypted.len(), "a message decrypted twice");
    run.decrypted
}
