//! Targets for `hush-group`: the two libsignal message decoders, hush's record and
//! tracker decoders, a stateful target with one sender and two receivers
//! ([`group_interaction`]), and one over a sender's membership bookkeeping across
//! identity changes ([`group_membership`], in `group/membership.rs`).
//!
//! The messages keep the bytes they were decoded from (the signature covers them), so the
//! message targets check `decode(bytes(decode(x))) == decode(x)` and that the kept bytes
//! are the input. The record and tracker are protobuf-based: their targets check that
//! a decoded value re-encodes to bytes that decode to the same value, and that encoding
//! is stable from then on.

use std::sync::OnceLock;

use hush_group::limits::{MAX_SENDER_KEY_STATES, MAX_SKIPPED_MESSAGE_KEYS};
use hush_group::{
    DistributionId, Error, SenderKeyDistributionMessage, SenderKeyMessage, SenderKeyRecord,
    SenderKeyTracker,
};
use hush_test_support::test_rng;

mod membership;

pub use membership::{MAX_MEMBERSHIP_OPS, group_membership};

/// The distribution id of the fixed sender whose messages [`sender_key_message`] tries
/// to decrypt (and whose messages the seed corpus holds).
pub const FIXED_DISTRIBUTION_ID: [u8; 16] = [0x11; 16];

/// The seed of the fixed sender's RNG (`hush_test_support::test_rng`).
pub const FIXED_SENDER_SEED: u64 = 0x5e4d;

/// Most operations one [`group_interaction`] input runs, to keep each run short.
pub const MAX_INTERACTION_OPS: usize = 64;

/// The fixed sender of [`sender_key_message`]: its record right after
/// `create_distribution`, and its distribution message.
#[must_use]
pub fn fixed_sender() -> (SenderKeyRecord, SenderKeyDistributionMessage) {
    let mut record = SenderKeyRecord::new(DistributionId::from_bytes(FIXED_DISTRIBUTION_ID));
    let skdm = record.create_distribution(&mut test_rng(FIXED_SENDER_SEED));
    (record, skdm)
}

/// A receiver that processed the fixed sender's distribution message.
fn fixed_receiver() -> &'static SenderKeyRecord {
    static RECEIVER: OnceLock<SenderKeyRecord> = OnceLock::new();
    RECEIVER.get_or_init(|| {
        let (_, skdm) = fixed_sender();
        let mut receiver = SenderKeyRecord::new(skdm.distribution_id());
        if let Err(error) = receiver.process_distribution(&skdm) {
            unexpected("processing the fixed distribution message", &error);
        }
        receiver
    })
}

/// `SenderKeyMessage::decode`: a decoded message keeps the input as its bytes, decodes
/// from them to the same message, and is then given to a receiver of the fixed sender.
/// Decryption may fail (almost every input is not the fixed sender's), but must leave
/// the record byte-identical when it does, and a success must be one of the sender's
/// iterations decrypted once.
pub fn sender_key_message(data: &[u8]) {
    let Ok(message) = SenderKeyMessage::decode(data) else {
        return;
    };
    assert_eq!(message.as_bytes(), data, "message does not keep its bytes");
    let again = SenderKeyMessage::decode(message.as_bytes());
    assert!(
        again.as_ref().is_ok_and(|again| *again == message),
        "message does not round-trip"
    );
    assert_eq!(message.message_version(), 3);

    let mut receiver = fixed_receiver().clone();
    let before = receiver.encode();
    match receiver.decrypt(&message) {
        Ok(_) => {
            // Only the fixed sender's own messages get here; the same one again is a
            // duplicate.
            let after = receiver.encode();
            assert!(
                matches!(
                    receiver.decrypt(&message),
                    Err(Error::DuplicateMessage { .. })
                ),
                "a decrypted message decrypted twice"
            );
            assert_eq!(
                receiver.encode(),
                after,
                "a refused duplicate changed the record"
            );
        }
        Err(_) => assert_eq!(
            receiver.encode(),
            before,
            "a refused message changed the record"
        ),
    }
}

/// `SenderKeyDistributionMessage::decode`: a decoded message keeps the input as its
/// bytes and decodes from them to the same message; processing it into an empty record
/// of its distribution id succeeds, a second time changes nothing, and the record
/// round-trips through its encoding.
pub fn sender_key_distribution_message(data: &[u8]) {
    let Ok(skdm) = SenderKeyDistributionMessage::decode(data) else {
        return;
    };
    assert_eq!(
        skdm.as_bytes(),
        data,
        "distribution message does not keep its bytes"
    );
    let again = SenderKeyDistributionMessage::decode(skdm.as_bytes());
    assert!(
        again.as_ref().is_ok_and(|again| *again == skdm),
        "distribution message does not round-trip"
    );

    let mut record = SenderKeyRecord::new(skdm.distribution_id());
    if let Err(error) = record.process_distribution(&skdm) {
        unexpected("processing a decoded distribution message", &error);
    }
    let encoded = record.encode();
    if let Err(error) = record.process_distribution(&skdm) {
        unexpected("processing a distribution message twice", &error);
    }
    assert_eq!(
        record.encode(),
        encoded,
        "processing twice changed the record"
    );
    assert_eq!(record.chain_ids().collect::<Vec<_>>(), [skdm.chain_id()]);
    assert_eq!(
        record.sending_chain_id(),
        None,
        "a received chain counts as ours"
    );
    check_record_round_trip(&record);
}

/// `SenderKeyRecord::decode`: a decoded record re-encodes to bytes that decode to a
/// record with the same encoding. Then, on copies: creating a distribution message and
/// encrypting must not panic, and succeed when the record has a chain of its own (unless
/// that chain is at its last iteration).
pub fn sender_key_record(data: &[u8]) {
    let Ok(record) = SenderKeyRecord::decode(data) else {
        return;
    };
    assert!(record.chain_ids().len() <= MAX_SENDER_KEY_STATES);
    check_record_round_trip(&record);

    let mut sender = record.clone();
    let had_own_chain = sender.sending_chain_id();
    let skdm = sender.create_distribution(&mut test_rng(1));
    if let Some(chain_id) = had_own_chain {
        assert_eq!(skdm.chain_id(), chain_id, "an existing chain was replaced");
    }
    assert_eq!(sender.sending_chain_id(), Some(skdm.chain_id()));
    match sender.encrypt(data, &mut test_rng(2)) {
        Ok(message) => {
            assert_eq!(message.chain_id(), skdm.chain_id());
            assert_eq!(message.iteration(), skdm.iteration());
        }
        Err(Error::ChainExhausted) => assert_eq!(skdm.iteration(), u32::MAX),
        Err(error) => unexpected("encrypting on a record's own chain", &error),
    }
    check_record_round_trip(&sender);
}

/// `SenderKeyTracker::decode`: a decoded tracker re-encodes to bytes that decode to the
/// same tracker, and its encoding is stable.
pub fn sender_key_tracker(data: &[u8]) {
    let Ok(tracker) = SenderKeyTracker::decode(data) else {
        return;
    };
    let encoded = tracker.encode();
    let again = SenderKeyTracker::decode(&encoded);
    assert!(
        again.as_ref().is_ok_and(|again| *again == tracker),
        "tracker does not round-trip"
    );
    if let Ok(again) = again {
        assert_eq!(again.encode(), encoded, "tracker encoding is not stable");
    }
    for device in tracker.exposed().chain(tracker.delivered()) {
        assert!(
            tracker.identity_key(device).is_some(),
            "a non-member knows the chain"
        );
    }
    assert!(
        tracker
            .delivered()
            .all(|device| tracker.exposed().any(|exposed| exposed == device)),
        "a delivered device not counted as knowing the chain"
    );
}

fn check_record_round_trip(record: &SenderKeyRecord) {
    let encoded = record.encode();
    match SenderKeyRecord::decode(&encoded) {
        Ok(again) => {
            assert_eq!(*again.encode(), *encoded, "record encoding is not stable");
            assert!(
                again.chain_ids().eq(record.chain_ids()),
                "record chains differ"
            );
            assert_eq!(again.sending_chain_id(), record.sending_chain_id());
        }
        Err(error) => unexpected("decoding an encoded record", &error),
    }
}

/// A message the sender made, with what the model knows about it.
struct Sent {
    bytes: Vec<u8>,
    plaintext: Vec<u8>,
    chain_id: u32,
    iteration: u32,
    /// Whether each receiver has decrypted it.
    delivered: [bool; 2],
}

/// One sender, two receivers, and a network that reorders, duplicates, truncates and
/// flips bits, driven by the input. Each step reads an operation byte and its operands:
///
/// - `0`: the sender encrypts a plaintext (length byte, then that many bytes).
/// - `1`: a message (index byte) reaches a receiver (byte, low bit).
/// - `2`: a message reaches a receiver with one bit flipped (position bytes).
/// - `3`: a message reaches a receiver truncated (length byte).
/// - `4`: the sender rotates and both receivers process the new distribution message.
/// - `5`: a receiver stores and reloads its record.
/// - `6`: a receiver processes the current distribution message again.
///
/// Checked throughout: nothing panics; a genuine message always decrypts for a receiver
/// that holds its chain and has not decrypted it (at most [`MAX_SKIPPED_MESSAGE_KEYS`]
/// behind), and is refused as a duplicate when it has; a damaged message never yields
/// anything but the genuine plaintext; every refusal leaves the record byte-identical;
/// reloading a record changes nothing; reprocessing a distribution message changes nothing.
pub fn group_interaction(data: &[u8]) {
    let id = DistributionId::from_bytes(FIXED_DISTRIBUTION_ID);
    let mut rng = test_rng(FIXED_SENDER_SEED);
    let mut sender = SenderKeyRecord::new(id);
    let mut skdm = sender.create_distribution(&mut rng);
    let mut receivers = [SenderKeyRecord::new(id), SenderKeyRecord::new(id)];
    for receiver in &mut receivers {
        if let Err(error) = receiver.process_distribution(&skdm) {
            unexpected("processing the first distribution message", &error);
        }
    }
    // Chains the receivers hold, newest first (they process every distribution message).
    let mut chains = vec![skdm.chain_id()];
    let mut sent: Vec<Sent> = Vec::new();
    let mut input = data.iter().copied();
    let mut next = move || input.next();

    for _ in 0..MAX_INTERACTION_OPS {
        let Some(op) = next() else { break };
        match op % 7 {
            0 => {
                let len = usize::from(next().unwrap_or(0) % 64);
                let plaintext: Vec<u8> = (0..len).map(|_| next().unwrap_or(0)).collect();
                match sender.encrypt(&plaintext, &mut rng) {
                    Ok(message) => sent.push(Sent {
                        chain_id: message.chain_id(),
                        iteration: message.iteration(),
                        bytes: message.into_bytes(),
                        plaintext,
                        delivered: [false; 2],
                    }),
                    Err(error) => unexpected("encrypting", &error),
                }
            }
            1..=3 => {
                let (Some(which), Some(to), Some(a), Some(b)) = (next(), next(), next(), next())
                else {
                    break;
                };
                if sent.is_empty() {
                    continue;
                }
                let index = usize::from(which) % sent.len();
                let r = usize::from(to & 1);
                let Some(message) = sent.get(index) else {
                    continue;
                };
                let position = usize::from(u16::from_le_bytes([a, b]));
                let bytes = match op % 7 {
                    1 => message.bytes.clone(),
                    2 => {
                        let mut flipped = message.bytes.clone();
                        let len = flipped.len();
                        if let Some(byte) = flipped.get_mut(position / 8 % len.max(1)) {
                            *byte ^= 1 << (position % 8);
                        }
                        flipped
                    }
                    _ => {
                        let len = position % message.bytes.len().max(1);
                        message.bytes.get(..len).unwrap_or_default().to_vec()
                    }
                };
                let genuine = bytes == message.bytes;
                let held = chains.contains(&message.chain_id);
                // Keys of skipped iterations are kept for the newest
                // MAX_SKIPPED_MESSAGE_KEYS iterations at least; older ones may be dropped.
                let newest_seen = sent
                    .iter()
                    .filter(|m| m.chain_id == message.chain_id && m.delivered.get(r) == Some(&true))
                    .map(|m| m.iteration)
                    .max();
                let window = u32::try_from(MAX_SKIPPED_MESSAGE_KEYS).unwrap_or(u32::MAX);
                let within_window = newest_seen
                    .is_none_or(|newest| newest.saturating_sub(message.iteration) <= window);
                let expect = Expect {
                    genuine,
                    held,
                    must_decrypt: held && within_window,
                };
                let (Some(message), Some(receiver)) = (sent.get_mut(index), receivers.get_mut(r))
                else {
                    continue;
                };
                deliver(receiver, &bytes, message, r, expect);
            }
            4 => {
                sender.rotate();
                skdm = sender.create_distribution(&mut rng);
                chains.insert(0, skdm.chain_id());
                chains.truncate(MAX_SENDER_KEY_STATES);
                for receiver in &mut receivers {
                    if let Err(error) = receiver.process_distribution(&skdm) {
                        unexpected("processing a new distribution message", &error);
                    }
                }
            }
            5 => {
                let Some(receiver) = receivers.get_mut(usize::from(next().unwrap_or(0) & 1)) else {
                    continue;
                };
                let encoded = receiver.encode();
                match SenderKeyRecord::decode(&encoded) {
                    Ok(reloaded) => {
                        assert_eq!(*reloaded.encode(), *encoded, "reloading changed the record");
                        *receiver = reloaded;
                    }
                    Err(error) => unexpected("reloading a record", &error),
                }
            }
            _ => {
                let Some(receiver) = receivers.get_mut(usize::from(next().unwrap_or(0) & 1)) else {
                    continue;
                };
                let before = receiver.encode();
                if let Err(error) = receiver.process_distribution(&skdm) {
                    unexpected("reprocessing the distribution message", &error);
                }
                // The current chain is already first in both records.
                assert_eq!(receiver.encode(), before, "reprocessing changed the record");
            }
        }
    }
}

/// What the model expects of one delivery.
struct Expect {
    /// The bytes are the message as sent.
    genuine: bool,
    /// The receiver holds the message's chain.
    held: bool,
    /// The receiver must still have the message's key (if it has not used it).
    must_decrypt: bool,
}

/// Delivers `bytes` (the genuine message, or a damaged copy) to receiver `r`.
fn deliver(
    receiver: &mut SenderKeyRecord,
    bytes: &[u8],
    message: &mut Sent,
    r: usize,
    expect: Expect,
) {
    let before = receiver.encode();
    let already = message.delivered.get(r).copied().unwrap_or(false);
    let outcome = SenderKeyMessage::decode(bytes).and_then(|parsed| receiver.decrypt(&parsed));
    match outcome {
        Ok(plaintext) => {
            assert_eq!(*plaintext, message.plaintext, "decrypted to something else");
            assert!(!already, "decrypted twice");
            assert!(expect.held, "decrypted a message of an evicted chain");
            if let Some(flag) = message.delivered.get_mut(r) {
                *flag = true;
            }
        }
        Err(error) => {
            assert_eq!(receiver.encode(), before, "a refusal changed the record");
            if expect.genuine {
                match error {
                    Error::DuplicateMessage {
                        chain_id,
                        iteration,
                    } => {
                        assert!(
                            already || !expect.must_decrypt,
                            "a new message refused as a duplicate"
                        );
                        assert_eq!((chain_id, iteration), (message.chain_id, message.iteration));
                    }
                    Error::NoSenderKeyState { chain_id, .. } => {
                        assert!(!expect.held, "a held chain was not found");
                        assert_eq!(chain_id, message.chain_id);
                    }
                    other => unexpected("decrypting a genuine message", &other),
                }
            }
        }
    }
}

#[track_caller]
fn unexpected(what: &str, error: &Error) -> ! {
    #[expect(clippy::panic, reason = "a fuzz target reports a bug by panicking")]
    {
        panic!("{what}: unexpected error {error:?}")
    }
}

/// `DistributionId` from its 16 bytes and from its UUID text (what the interop peer and
/// apps parse from untrusted JSON): no panic; whatever parses prints back as the same
/// id, lowercase and hyphenated, and that text parses to the same id again.
pub fn distribution_id(data: &[u8]) {
    if let Ok(id) = DistributionId::decode(data) {
        assert_eq!(id.as_bytes().as_slice(), data, "bytes do not round-trip");
        let text = id.to_string();
        assert_eq!(
            text.parse::<DistributionId>().ok(),
            Some(id),
            "text does not round-trip"
        );
    }
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    if let Ok(id) = text.parse::<DistributionId>() {
        let printed = id.to_string();
        assert_eq!(
            printed,
            text.to_ascii_lowercase(),
            "parsed text prints differently"
        );
        assert_eq!(
            printed.parse::<DistributionId>().ok(),
            Some(id),
            "printed text does not parse back"
        );
    }
}

#[cfg(test)]
mod tests {
    //! Seeds for the group targets. The hush-made ones are written by the ignored test
    //! `write_group_seed_corpus`
    //! (`cargo test -p hush-fuzz-targets --lib -- --ignored write_group_seed_corpus`);
    //! libsignal's come from `test-vectors/libsignal/sender_key.json`.

    use std::fs;
    use std::path::PathBuf;

    use hush_group::DeviceAddress;

    use super::*;

    fn corpus(target: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../fuzz/corpus")
            .join(target)
    }

    /// Two messages of the fixed sender, its distribution message, and records and a
    /// tracker in several states.
    fn hush_seeds() -> Vec<(&'static str, &'static str, Vec<u8>)> {
        let (mut sender, skdm) = fixed_sender();
        let mut rng = test_rng(7);
        let first = sender.encrypt(b"first", &mut rng).unwrap();
        let second = sender
            .encrypt(b"second, a little longer than a block", &mut rng)
            .unwrap();
        let mut receiver = fixed_receiver().clone();
        let fourth = {
            let mut ahead = sender.clone();
            ahead.encrypt(b"3", &mut rng).unwrap();
            ahead.encrypt(b"4", &mut rng).unwrap()
        };
        receiver.decrypt(&fourth).unwrap();

        let id = DistributionId::from_bytes(FIXED_DISTRIBUTION_ID);
        let mut tracker = SenderKeyTracker::new(id);
        for (name, device) in [("alice", 2), ("bob", 1), ("bob", 2)] {
            let key = hush_core::IdentityKeyPair::generate(&mut rng).identity_key();
            tracker
                .add_device(DeviceAddress::new(name, device).unwrap(), key)
                .unwrap();
        }
        let mut own = sender.clone();
        let plan = tracker.prepare_send(&mut own, &mut rng).unwrap();
        tracker.mark_delivered(
            &DeviceAddress::new("bob", 1).unwrap(),
            plan.distribution_message().chain_id(),
        );
        let mut rotating = tracker.clone();
        rotating.remove_member("bob");

        vec![
            ("sender_key_message", "fixed-0", first.as_bytes().to_vec()),
            ("sender_key_message", "fixed-1", second.as_bytes().to_vec()),
            (
                "sender_key_distribution_message",
                "fixed",
                skdm.as_bytes().to_vec(),
            ),
            ("sender_key_record", "sender", sender.encode().to_vec()),
            (
                "sender_key_record",
                "receiver-with-skipped-keys",
                receiver.encode().to_vec(),
            ),
            (
                "sender_key_record",
                "empty",
                SenderKeyRecord::new(id).encode().to_vec(),
            ),
            ("sender_key_tracker", "one-holder", tracker.encode()),
            ("sender_key_tracker", "rotation-pending", rotating.encode()),
        ]
        .into_iter()
        .chain(
            membership::tests::seeds()
                .into_iter()
                .map(|(name, bytes, _)| ("group_membership", name, bytes)),
        )
        .collect()
    }

    #[test]
    #[ignore = "writes the seed corpus; run by hand after changing the seeds"]
    fn write_group_seed_corpus() {
        for (target, name, bytes) in hush_seeds() {
            fs::create_dir_all(corpus(target)).unwrap();
            fs::write(corpus(target).join(name), bytes).unwrap();
        }
    }

    #[test]
    fn committed_hush_seeds_are_current() {
        for (target, name, bytes) in hush_seeds() {
            let path = corpus(target).join(name);
            let committed = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(
                committed,
                bytes,
                "{} is stale: run write_group_seed_corpus",
                path.display()
            );
        }
    }

    #[test]
    fn fixed_sender_seeds_decrypt() {
        for name in ["fixed-0", "fixed-1"] {
            let bytes = fs::read(corpus("sender_key_message").join(name)).unwrap();
            let message = SenderKeyMessage::decode(&bytes).unwrap();
            assert!(fixed_receiver().clone().decrypt(&message).is_ok(), "{name}");
        }
    }

    #[test]
    fn interaction_seeds_run() {
        for entry in fs::read_dir(corpus("group_interaction")).unwrap() {
            group_interaction(&fs::read(entry.unwrap().path()).unwrap());
        }
    }
}
