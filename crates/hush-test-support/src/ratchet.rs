//! Byte-level helpers for `hush-ratchet` tests and benches: messages an attacker writes by
//! hand, and session records moved to the ends of their chains. Written from the formats
//! (libsignal's `SignalMessage` protobuf; `docs/wire/session-record.md`), not from the
//! crate, so they can make what the crate's own API never would.

/// Offset of `sender_chain_index` inside an encoded session: version, two registration
/// ids, three 33-byte keys, the root key, `previous_counter`, the sender ratchet's private
/// (32) and public (33) key, the sender chain key.
const SENDER_CHAIN_INDEX: usize = 1 + 4 + 4 + 33 * 3 + 32 + 4 + 32 + 33 + 32;

/// A `SignalMessage` as it travels: the version byte (`version` in both nibbles, as
/// libsignal writes it), the protobuf with the ratchet key (33 bytes), counter, previous
/// counter and ciphertext, then an 8-byte MAC. Nothing in it needs a key: it is what a
/// forger sends. With a 16-byte ciphertext, counter 25 000 and previous counter 0 it is
/// 68 bytes long.
#[must_use]
pub fn signal_message(
    version: u8,
    ratchet_key: &[u8; 33],
    counter: u32,
    previous_counter: u32,
    ciphertext: &[u8],
    mac: [u8; 8],
) -> Vec<u8> {
    let mut out = vec![(version << 4) | (version & 0x0f)];
    // Field 1, length-delimited: the ratchet key.
    out.push(0x0a);
    varint(&mut out, 33);
    out.extend_from_slice(ratchet_key);
    // Fields 2 and 3, varints.
    out.push(0x10);
    varint(&mut out, u64::from(counter));
    out.push(0x18);
    varint(&mut out, u64::from(previous_counter));
    // Field 4, length-delimited: the ciphertext.
    out.push(0x22);
    varint(&mut out, ciphertext.len() as u64);
    out.extend_from_slice(ciphertext);
    out.extend_from_slice(&mac);
    out
}

/// [`signal_message`] with a `pq_ratchet` field (field 5, written when not empty) and an
/// `addresses` field (field 6, when given), built the same independent way.
#[allow(clippy::too_many_arguments)] // each argument is one wire field
#[must_use]
pub fn signal_message_with(
    version: u8,
    ratchet_key: &[u8; 33],
    counter: u32,
    previous_counter: u32,
    ciphertext: &[u8],
    pq_ratchet: &[u8],
    addresses: Option<&[u8]>,
    mac: [u8; 8],
) -> Vec<u8> {
    let mut out = signal_message(
        version,
        ratchet_key,
        counter,
        previous_counter,
        ciphertext,
        mac,
    );
    out.truncate(out.len() - 8);
    if !pq_ratchet.is_empty() {
        out.push(0x2a);
        varint(&mut out, pq_ratchet.len() as u64);
        out.extend_from_slice(pq_ratchet);
    }
    if let Some(addresses) = addresses {
        out.push(0x32);
        varint(&mut out, addresses.len() as u64);
        out.extend_from_slice(addresses);
    }
    out.extend_from_slice(&mac);
    out
}

fn varint(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let low = u8::try_from(value & 0x7f).unwrap_or(0);
        value >>= 7;
        if value == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

/// Where the current session of an encoded record starts, if it has one.
fn current_session(record: &[u8]) -> Option<usize> {
    (record.get(1) == Some(&1)).then_some(2)
}

/// Sets the current session's sending chain index in an encoded session record (format
/// version 1), leaving its chain key as it is. Returns `None` if the record has no
/// current session or is too short.
#[must_use]
pub fn with_sender_chain_index(record: &[u8], index: u32) -> Option<Vec<u8>> {
    let at = current_session(record)?.checked_add(SENDER_CHAIN_INDEX)?;
    let mut out = record.to_vec();
    out.get_mut(at..at.checked_add(4)?)?
        .copy_from_slice(&index.to_be_bytes());
    Some(out)
}

/// Sets the chain index of the current session's receiving chain for `ratchet_key` (33
/// bytes) in an encoded session record, leaving its chain key as it is. Returns `None` if
/// there is no such chain or the record is malformed.
#[must_use]
pub fn with_receiver_chain_index(
    record: &[u8],
    ratchet_key: &[u8; 33],
    index: u32,
) -> Option<Vec<u8>> {
    let mut at = current_session(record)?
        .checked_add(SENDER_CHAIN_INDEX)?
        .checked_add(4)?;
    let chains = *record.get(at)?;
    at = at.checked_add(1)?;
    for _ in 0..chains {
        let key = record.get(at..at.checked_add(33)?)?;
        let index_at = at.checked_add(33 + 32)?;
        let skipped_at = index_at.checked_add(4)?;
        let skipped = record.get(skipped_at..skipped_at.checked_add(2)?)?;
        let skipped = usize::from(u16::from_be_bytes([*skipped.first()?, *skipped.get(1)?]));
        if key == ratchet_key {
            let mut out = record.to_vec();
            out.get_mut(index_at..index_at.checked_add(4)?)?
                .copy_from_slice(&index.to_be_bytes());
            return Some(out);
        }
        at = skipped_at
            .checked_add(2)?
            .checked_add(skipped.checked_mul(36)?)?;
    }
    None
}

/// An SPQR payload (`pq_ratchet`) of type None, written from libsignal's format
/// (`docs/wire/spqr-message.md`): version 1, the epoch and key index as LEB128 varints,
/// type byte 0. What a forger puts in a message to make the receiver derive SPQR key
/// `index` of chain epoch `epoch - 1`.
#[must_use]
pub fn spqr_none_payload(epoch: u64, index: u32) -> Vec<u8> {
    let mut out = vec![1];
    varint(&mut out, epoch);
    varint(&mut out, u64::from(index));
    out.push(0);
    out
}
