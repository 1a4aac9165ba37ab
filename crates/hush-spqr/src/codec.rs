//! hush's storage format for [`SpqrState`], version 1 (`docs/wire/spqr-state.md`).
//!
//! Fixed-width big-endian integers, no per-field allocation on the way out, and on the
//! way in every count bounded before anything is allocated and every invariant the state
//! machine relies on checked, so that a decoded state behaves like one that was never
//! stored.

use std::collections::VecDeque;

use zeroize::Zeroizing;

use crate::braid::{
    Braid, CT1_CHUNKS, CT2_CHUNKS, CT2_MESSAGE_LEN, Common, EK_CHUNKS, HEADER_CHUNKS,
    HEADER_MESSAGE_LEN,
};
use crate::chain::{Chain, Link, RecvHalf, SendHalf, StoredKey};
use crate::config::{ChainParams, Direction, Version};
use crate::erasure::{CHUNK_LEN, Chunk, Decoder};
use crate::error::{Error, Result};
use crate::kem::{CT1_LEN, EK_LEN, EncapsRandomness, HEADER_LEN, KeySeed};
use crate::keys::{Authenticator, KEY_LEN, Secret32};
use crate::limits::{MAX_CHAIN_EPOCHS, MAX_STATE_LEN};
use crate::state::{ChainSlot, Inner, SpqrState, V1State};

/// The leading byte of an encoded [`SpqrState`].
pub const STATE_FORMAT_VERSION: u8 = 1;

const FLAG_B2A: u8 = 1;
const FLAG_NEGOTIATING: u8 = 1 << 1;
const FLAG_MIN_V1: u8 = 1 << 2;
const FLAG_CHAIN: u8 = 1 << 3;
const KNOWN_FLAGS: u8 = FLAG_B2A | FLAG_NEGOTIATING | FLAG_MIN_V1 | FLAG_CHAIN;

/// The braid state tags: libsignal's order of the eleven states.
mod tag {
    pub(super) const KEYS_UNSAMPLED: u8 = 0;
    pub(super) const KEYS_SAMPLED: u8 = 1;
    pub(super) const HEADER_SENT: u8 = 2;
    pub(super) const CT1_RECEIVED: u8 = 3;
    pub(super) const EK_SENT_CT1_RECEIVED: u8 = 4;
    pub(super) const NO_HEADER_RECEIVED: u8 = 5;
    pub(super) const HEADER_RECEIVED: u8 = 6;
    pub(super) const CT1_SAMPLED: u8 = 7;
    pub(super) const EK_RECEIVED_CT1_SAMPLED: u8 = 8;
    pub(super) const CT1_ACKNOWLEDGED: u8 = 9;
    pub(super) const CT2_SAMPLED: u8 = 10;
}

struct Writer(Zeroizing<Vec<u8>>);

impl Writer {
    fn u8(&mut self, value: u8) {
        self.0.push(value);
    }
    fn u16(&mut self, value: u16) {
        self.0.extend_from_slice(&value.to_be_bytes());
    }
    fn u32(&mut self, value: u32) {
        self.0.extend_from_slice(&value.to_be_bytes());
    }
    fn u64(&mut self, value: u64) {
        self.0.extend_from_slice(&value.to_be_bytes());
    }
    fn bytes(&mut self, value: &[u8]) {
        self.0.extend_from_slice(value);
    }
    fn decoder(&mut self, decoder: &Decoder) {
        let held = decoder.held();
        // A decoder holds fewer chunks than its message has (at most 35).
        self.u8(u8::try_from(held.len()).unwrap_or(u8::MAX));
        for chunk in held {
            self.u16(chunk.index());
            self.bytes(chunk.data());
        }
    }
}

impl SpqrState {
    /// The state in hush's storage format (version [`STATE_FORMAT_VERSION`], described
    /// in `docs/wire/spqr-state.md`). The bytes hold secrets and are wiped when dropped.
    #[must_use]
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Writer(Zeroizing::new(Vec::with_capacity(self.encoded_len_hint())));
        out.u8(STATE_FORMAT_VERSION);
        match self.inner() {
            Inner::V0 => out.u8(0),
            Inner::V1(v1) => {
                out.u8(1);
                encode_v1(&mut out, v1);
            }
        }
        out.0
    }

    fn encoded_len_hint(&self) -> usize {
        match self.inner() {
            Inner::V0 => 2,
            Inner::V1(v1) => 2 + v1_len(v1),
        }
    }

    /// Decodes a state written by [`SpqrState::encode`].
    ///
    /// The input is treated as untrusted: its length is bounded
    /// ([`crate::limits::MAX_STATE_LEN`]), every count is checked before allocating, and
    /// every invariant the state machine relies on is checked (see the format document).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownStateFormat`] for another leading byte, [`Error::InvalidState`]
    /// for anything else that is wrong, including trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_STATE_LEN {
            return Err(Error::InvalidState("too long"));
        }
        let mut reader = Reader { bytes, at: 0 };
        let format = reader.u8()?;
        if format != STATE_FORMAT_VERSION {
            return Err(Error::UnknownStateFormat(format));
        }
        let inner = match reader.u8()? {
            0 => Inner::V0,
            1 => Inner::V1(Box::new(decode_v1(&mut reader)?)),
            _ => return Err(Error::InvalidState("unknown version")),
        };
        if reader.at != bytes.len() {
            return Err(Error::InvalidState("trailing bytes"));
        }
        Ok(Self::from_inner(inner))
    }
}

/// The exact length [`encode_v1`] writes, so that the (wiped) buffer is allocated once
/// and only as large as needed.
fn v1_len(v1: &V1State) -> usize {
    let decoder = |d: &Decoder| 1 + d.held().len() * (2 + CHUNK_LEN);
    let chain = match &v1.chain {
        ChainSlot::Pending(_) => KEY_LEN,
        ChainSlot::Ready(chain) => {
            8 + 8
                + KEY_LEN
                + 1
                + chain
                    .links
                    .iter()
                    .map(|link| {
                        1 + link.send.as_ref().map_or(0, |_| 4 + KEY_LEN)
                            + 4
                            + KEY_LEN
                            + 4
                            + link.recv.stored.len() * (4 + KEY_LEN)
                    })
                    .sum::<usize>()
        }
    };
    let braid = match &v1.braid {
        Braid::KeysUnsampled(_) => 0,
        Braid::KeysSampled { .. } => 64 + HEADER_MESSAGE_LEN + 2,
        Braid::HeaderSent { ct1, .. } => 64 + EK_LEN + 2 + decoder(ct1),
        Braid::Ct1Received { .. } => 64 + EK_LEN + 2 + CT1_LEN,
        Braid::EkSentCt1Received { ct2, .. } => 64 + CT1_LEN + decoder(ct2),
        Braid::NoHeaderReceived { header, .. } => decoder(header),
        Braid::HeaderReceived { .. } => HEADER_LEN,
        Braid::Ct1Sampled { ek, .. } => HEADER_LEN + 32 + CT1_LEN + 2 + decoder(ek),
        Braid::EkReceivedCt1Sampled { .. } => CT1_LEN + 2 + CT2_MESSAGE_LEN,
        Braid::Ct1Acknowledged { ek, .. } => HEADER_LEN + 32 + CT1_LEN + decoder(ek),
        Braid::Ct2Sampled { .. } => CT2_MESSAGE_LEN + 2,
    };
    1 + 4 + 4 + chain + 1 + 8 + 2 * KEY_LEN + braid
}

fn encode_v1(out: &mut Writer, v1: &V1State) {
    let mut flags = 0;
    if v1.direction == Direction::B2A {
        flags |= FLAG_B2A;
    }
    if let Some(min) = v1.negotiating {
        flags |= FLAG_NEGOTIATING;
        if min >= Version::V1 {
            flags |= FLAG_MIN_V1;
        }
    }
    if matches!(v1.chain, ChainSlot::Ready(_)) {
        flags |= FLAG_CHAIN;
    }
    out.u8(flags);
    out.u32(v1.params.max_jump());
    out.u32(v1.params.max_ooo_keys());
    match &v1.chain {
        ChainSlot::Pending(auth_key) => out.bytes(auth_key.as_bytes()),
        ChainSlot::Ready(chain) => encode_chain(out, chain),
    }
    encode_braid(out, &v1.braid);
}

fn encode_chain(out: &mut Writer, chain: &Chain) {
    out.u64(chain.current_epoch);
    out.u64(chain.send_epoch);
    out.bytes(chain.next_root.as_bytes());
    // At most MAX_CHAIN_EPOCHS links.
    out.u8(u8::try_from(chain.links.len()).unwrap_or(u8::MAX));
    for link in &chain.links {
        match &link.send {
            Some(send) => {
                out.u8(1);
                out.u32(send.counter);
                out.bytes(send.seed.as_bytes());
            }
            None => out.u8(0),
        }
        out.u32(link.recv.counter);
        out.bytes(link.recv.seed.as_bytes());
        // At most max_ooo_keys (bounded by MAX_OOO_KEYS_CEILING) stored keys.
        out.u32(u32::try_from(link.recv.stored.len()).unwrap_or(u32::MAX));
        for stored in &link.recv.stored {
            out.u32(stored.index);
            out.bytes(&stored.key);
        }
    }
}

fn encode_braid(out: &mut Writer, braid: &Braid) {
    let common = braid.common();
    let tag = match braid {
        Braid::KeysUnsampled(_) => tag::KEYS_UNSAMPLED,
        Braid::KeysSampled { .. } => tag::KEYS_SAMPLED,
        Braid::HeaderSent { .. } => tag::HEADER_SENT,
        Braid::Ct1Received { .. } => tag::CT1_RECEIVED,
        Braid::EkSentCt1Received { .. } => tag::EK_SENT_CT1_RECEIVED,
        Braid::NoHeaderReceived { .. } => tag::NO_HEADER_RECEIVED,
        Braid::HeaderReceived { .. } => tag::HEADER_RECEIVED,
        Braid::Ct1Sampled { .. } => tag::CT1_SAMPLED,
        Braid::EkReceivedCt1Sampled { .. } => tag::EK_RECEIVED_CT1_SAMPLED,
        Braid::Ct1Acknowledged { .. } => tag::CT1_ACKNOWLEDGED,
        Braid::Ct2Sampled { .. } => tag::CT2_SAMPLED,
    };
    out.u8(tag);
    out.u64(common.epoch);
    out.bytes(common.auth.root().as_bytes());
    out.bytes(common.auth.mac_key().as_bytes());
    match braid {
        Braid::KeysUnsampled(_) => {}
        Braid::KeysSampled {
            seed,
            header,
            next_chunk,
            ..
        } => {
            out.bytes(seed.as_bytes());
            out.bytes(&header[..]);
            out.u16(*next_chunk);
        }
        Braid::HeaderSent {
            seed,
            ek,
            next_chunk,
            ct1,
            ..
        } => {
            out.bytes(seed.as_bytes());
            out.bytes(&ek[..]);
            out.u16(*next_chunk);
            out.decoder(ct1);
        }
        Braid::Ct1Received {
            seed,
            ek,
            next_chunk,
            ct1,
            ..
        } => {
            out.bytes(seed.as_bytes());
            out.bytes(&ek[..]);
            out.u16(*next_chunk);
            out.bytes(&ct1[..]);
        }
        Braid::EkSentCt1Received { seed, ct1, ct2, .. } => {
            out.bytes(seed.as_bytes());
            out.bytes(&ct1[..]);
            out.decoder(ct2);
        }
        Braid::NoHeaderReceived { header, .. } => out.decoder(header),
        Braid::HeaderReceived { header, .. } => out.bytes(&header[..]),
        Braid::Ct1Sampled {
            header,
            randomness,
            ct1,
            next_chunk,
            ek,
            ..
        } => {
            out.bytes(&header[..]);
            out.bytes(randomness.as_bytes());
            out.bytes(&ct1[..]);
            out.u16(*next_chunk);
            out.decoder(ek);
        }
        Braid::EkReceivedCt1Sampled {
            ct1,
            next_chunk,
            ct2,
            ..
        } => {
            out.bytes(&ct1[..]);
            out.u16(*next_chunk);
            out.bytes(&ct2[..]);
        }
        Braid::Ct1Acknowledged {
            header,
            randomness,
            ct1,
            ek,
            ..
        } => {
            out.bytes(&header[..]);
            out.bytes(randomness.as_bytes());
            out.bytes(&ct1[..]);
            out.decoder(ek);
        }
        Braid::Ct2Sampled {
            ct2, next_chunk, ..
        } => {
            out.bytes(&ct2[..]);
            out.u16(*next_chunk);
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8]> {
        let end = self
            .at
            .checked_add(len)
            .ok_or(Error::InvalidState("truncated"))?;
        let out = self
            .bytes
            .get(self.at..end)
            .ok_or(Error::InvalidState("truncated"))?;
        self.at = end;
        Ok(out)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        self.take(N)?
            .try_into()
            .map_err(|_| Error::InvalidState("truncated"))
    }
    fn boxed<const N: usize>(&mut self) -> Result<Box<[u8; N]>> {
        let mut out = Box::new([0u8; N]);
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(u8::from_be_bytes(self.array()?))
    }
    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.array()?))
    }
    fn secret(&mut self) -> Result<Secret32> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        bytes.copy_from_slice(self.take(KEY_LEN)?);
        Ok(Secret32::from_bytes(*bytes))
    }
    fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.at)
    }
    /// A decoder for a message of `chunks` chunks: a count below `chunks`, then distinct
    /// chunks.
    fn decoder(&mut self, chunks: u16) -> Result<Decoder> {
        let count = self.u8()?;
        if u16::from(count) >= chunks {
            return Err(Error::InvalidState("decoder holds too many chunks"));
        }
        let mut held = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            let index = self.u16()?;
            held.push(Chunk::new(index, self.array::<CHUNK_LEN>()?));
        }
        Decoder::from_held(chunks, held).ok_or(Error::InvalidState("decoder holds a chunk twice"))
    }
}

fn decode_v1(reader: &mut Reader<'_>) -> Result<V1State> {
    let flags = reader.u8()?;
    if flags & !KNOWN_FLAGS != 0 {
        return Err(Error::InvalidState("unknown flags"));
    }
    let direction = if flags & FLAG_B2A != 0 {
        Direction::B2A
    } else {
        Direction::A2B
    };
    let negotiating = match (flags & FLAG_NEGOTIATING != 0, flags & FLAG_MIN_V1 != 0) {
        (false, false) => None,
        (false, true) => return Err(Error::InvalidState("minimum version without negotiation")),
        (true, false) => Some(Version::V0),
        (true, true) => Some(Version::V1),
    };
    let params = ChainParams::new(reader.u32()?, reader.u32()?)
        .map_err(|_| Error::InvalidState("chain parameters"))?;
    let chain = if flags & FLAG_CHAIN != 0 {
        ChainSlot::Ready(decode_chain(reader, direction, params)?)
    } else {
        // libsignal starts the chain late only with minimum version 0 during negotiation.
        if negotiating != Some(Version::V0) {
            return Err(Error::InvalidState("chain missing"));
        }
        ChainSlot::Pending(reader.secret()?)
    };
    let braid = decode_braid(reader)?;
    check_consistency(direction, &chain, &braid)?;
    Ok(V1State {
        direction,
        params,
        negotiating,
        chain,
        braid,
    })
}

fn decode_chain(
    reader: &mut Reader<'_>,
    direction: Direction,
    params: ChainParams,
) -> Result<Chain> {
    let current_epoch = reader.u64()?;
    let send_epoch = reader.u64()?;
    let next_root = reader.secret()?;
    let count = usize::from(reader.u8()?);
    if !(1..=MAX_CHAIN_EPOCHS).contains(&count) {
        return Err(Error::InvalidState("chain epoch count"));
    }
    // The links cover current - count + 1 ..= current; the sending epoch is one of them
    // (or the one after the first, when only the epoch before it was kept).
    let first_epoch = current_epoch
        .checked_sub(u64::try_from(count - 1).unwrap_or(u64::MAX))
        .ok_or(Error::InvalidState("more chain epochs than exist"))?;
    if send_epoch > current_epoch || send_epoch < first_epoch {
        return Err(Error::InvalidState("sending epoch not kept"));
    }
    if send_epoch.saturating_sub(first_epoch) > 1 {
        return Err(Error::InvalidState(
            "too many epochs kept before the sending epoch",
        ));
    }
    let max_ooo = params.max_ooo_keys();
    let mut links = VecDeque::with_capacity(count);
    for epoch in first_epoch..=current_epoch {
        let send = match reader.u8()? {
            0 => None,
            1 => Some(SendHalf {
                counter: reader.u32()?,
                seed: reader.secret()?,
            }),
            _ => return Err(Error::InvalidState("bad sending-half flag")),
        };
        if send.is_some() != (epoch >= send_epoch) {
            return Err(Error::InvalidState(
                "sending half kept for the wrong epochs",
            ));
        }
        let counter = reader.u32()?;
        let seed = reader.secret()?;
        let stored_count = reader.u32()?;
        if stored_count > max_ooo || stored_count > counter {
            return Err(Error::InvalidState("too many stored keys"));
        }
        let stored_count = usize::try_from(stored_count)
            .map_err(|_| Error::InvalidState("too many stored keys"))?;
        if stored_count.saturating_mul(4 + KEY_LEN) > reader.remaining() {
            return Err(Error::InvalidState("truncated"));
        }
        let horizon = counter.saturating_sub(max_ooo);
        let mut stored = VecDeque::with_capacity(stored_count);
        let mut previous: Option<u32> = None;
        for _ in 0..stored_count {
            let index = reader.u32()?;
            let key = reader.array::<KEY_LEN>()?;
            let key = StoredKey { index, key };
            if index >= counter || index < horizon || previous.is_some_and(|p| p >= index) {
                return Err(Error::InvalidState("stored key out of order or range"));
            }
            previous = Some(index);
            stored.push_back(key);
        }
        links.push_back(Link {
            send,
            recv: RecvHalf {
                counter,
                seed,
                stored,
            },
        });
    }
    Ok(Chain {
        direction,
        params,
        current_epoch,
        send_epoch,
        next_root,
        links,
    })
}

fn decode_braid(reader: &mut Reader<'_>) -> Result<Braid> {
    let tag = reader.u8()?;
    let epoch = reader.u64()?;
    if epoch == 0 {
        return Err(Error::InvalidState("braid epoch 0"));
    }
    let root = reader.secret()?;
    let mac = reader.secret()?;
    let common = Common {
        epoch,
        auth: Authenticator::from_parts(root, mac),
    };
    let seed = |reader: &mut Reader<'_>| -> Result<KeySeed> {
        let bytes = Zeroizing::new(reader.array::<64>()?);
        Ok(KeySeed::from_bytes(*bytes))
    };
    let randomness = |reader: &mut Reader<'_>| -> Result<EncapsRandomness> {
        let bytes = Zeroizing::new(reader.array::<32>()?);
        Ok(EncapsRandomness::from_bytes(*bytes))
    };
    Ok(match tag {
        tag::KEYS_UNSAMPLED => Braid::KeysUnsampled(common),
        tag::KEYS_SAMPLED => Braid::KeysSampled {
            common,
            seed: seed(reader)?,
            header: reader.boxed::<HEADER_MESSAGE_LEN>()?,
            next_chunk: reader.u16()?,
        },
        tag::HEADER_SENT => Braid::HeaderSent {
            common,
            seed: seed(reader)?,
            ek: reader.boxed::<EK_LEN>()?,
            next_chunk: reader.u16()?,
            ct1: reader.decoder(CT1_CHUNKS)?,
        },
        tag::CT1_RECEIVED => Braid::Ct1Received {
            common,
            seed: seed(reader)?,
            ek: reader.boxed::<EK_LEN>()?,
            next_chunk: reader.u16()?,
            ct1: reader.boxed::<CT1_LEN>()?,
        },
        tag::EK_SENT_CT1_RECEIVED => Braid::EkSentCt1Received {
            common,
            seed: seed(reader)?,
            ct1: reader.boxed::<CT1_LEN>()?,
            ct2: reader.decoder(CT2_CHUNKS)?,
        },
        tag::NO_HEADER_RECEIVED => Braid::NoHeaderReceived {
            common,
            header: reader.decoder(HEADER_CHUNKS)?,
        },
        tag::HEADER_RECEIVED => Braid::HeaderReceived {
            common,
            header: reader.boxed::<HEADER_LEN>()?,
        },
        tag::CT1_SAMPLED => Braid::Ct1Sampled {
            common,
            header: reader.boxed::<HEADER_LEN>()?,
            randomness: randomness(reader)?,
            ct1: reader.boxed::<CT1_LEN>()?,
            next_chunk: reader.u16()?,
            ek: reader.decoder(EK_CHUNKS)?,
        },
        tag::EK_RECEIVED_CT1_SAMPLED => Braid::EkReceivedCt1Sampled {
            common,
            ct1: reader.boxed::<CT1_LEN>()?,
            next_chunk: reader.u16()?,
            ct2: reader.boxed::<CT2_MESSAGE_LEN>()?,
        },
        tag::CT1_ACKNOWLEDGED => Braid::Ct1Acknowledged {
            common,
            header: reader.boxed::<HEADER_LEN>()?,
            randomness: randomness(reader)?,
            ct1: reader.boxed::<CT1_LEN>()?,
            ek: reader.decoder(EK_CHUNKS)?,
        },
        tag::CT2_SAMPLED => Braid::Ct2Sampled {
            common,
            ct2: reader.boxed::<CT2_MESSAGE_LEN>()?,
            next_chunk: reader.u16()?,
        },
        _ => return Err(Error::InvalidState("unknown braid state")),
    })
}

/// The braid and the chain move together: the side that encapsulates adds epoch `e` to
/// its chain when it sends `ct1`, the side that decapsulates when it has `ct2`. A state
/// where they disagree would make the chain refuse the braid's epoch secret later.
fn check_consistency(direction: Direction, chain: &ChainSlot, braid: &Braid) -> Result<()> {
    let epoch = braid.epoch();
    let state = braid.state();
    // The initiator holds the encapsulation key in odd epochs, the responder in even ones.
    let ek_side_epoch = match direction {
        Direction::A2B => !epoch.is_multiple_of(2),
        Direction::B2A => epoch.is_multiple_of(2),
    };
    if state.is_ek_side() != ek_side_epoch {
        return Err(Error::InvalidState("braid side does not match the epoch"));
    }
    let has_secret = matches!(
        braid,
        Braid::Ct1Sampled { .. }
            | Braid::EkReceivedCt1Sampled { .. }
            | Braid::Ct1Acknowledged { .. }
            | Braid::Ct2Sampled { .. }
    );
    let expected_chain_epoch = if has_secret { epoch } else { epoch - 1 };
    match chain {
        ChainSlot::Ready(chain) => {
            if chain.current_epoch != expected_chain_epoch {
                return Err(Error::InvalidState("chain epoch does not match the braid"));
            }
        }
        ChainSlot::Pending(_) => {
            // Before anything was received only the first states of epoch 1 exist.
            let fresh = match braid {
                Braid::KeysUnsampled(_) | Braid::KeysSampled { .. } => true,
                Braid::NoHeaderReceived { header, .. } => header.held().is_empty(),
                _ => false,
            };
            if epoch != 1 || !fresh {
                return Err(Error::InvalidState("braid ahead of a chain not started"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hush_test_support::test_rng;

    /// The length computed up front is the length written, in every braid state.
    #[test]
    fn length_is_exact_in_every_state() {
        let new = |direction| {
            SpqrState::new(
                &[3; 32],
                direction,
                Version::V1,
                Version::V1,
                ChainParams::default(),
            )
            .unwrap()
        };
        let (mut alice, mut bob) = (new(Direction::A2B), new(Direction::B2A));
        let mut rng = test_rng(4);
        let mut seen = std::collections::HashSet::new();
        for i in 0..400 {
            let (sender, receiver) = if i % 3 == 0 {
                (&mut bob, &mut alice)
            } else {
                (&mut alice, &mut bob)
            };
            let sent = sender.send(&mut rng).unwrap();
            // Every fifth message is lost, so stored keys appear too.
            if i % 5 != 4 {
                receiver.recv(sent.payload()).unwrap();
            }
            for state in [&alice, &bob] {
                assert_eq!(state.encode().len(), state.encoded_len_hint());
                seen.insert(state.braid_state().unwrap());
            }
        }
        assert_eq!(seen.len(), 11, "every state visited: {seen:?}");
        assert_eq!(SpqrState::disabled().encode().len(), 2);
    }
}
