//! The `pq_ratchet` payload: the bytes SPQR adds to every message (libsignal's
//! `SignalMessage` field 5). Layout in `docs/wire/spqr-message.md`.
//!
//! ```text
//! version:u8 (= 1)  epoch:varint (>= 1)  index:varint (<= u32::MAX)  type:u8 (0..=6)
//! [chunk_index:varint (<= 65535)  chunk:[32]]      ; types 1, 2, 3, 5, 6
//! ```
//!
//! Varints are unsigned LEB128. An empty payload means "no SPQR" (version 0).
//!
//! Decoding accepts what libsignal (spqr v1.5.3) accepts: trailing bytes after the parsed
//! message are ignored (spqr keeps them for future extensions), varints may be
//! non-minimal, and a tenth varint byte contributes only its lowest bit (the bits that
//! would go beyond 64 are dropped, as spqr's decoder drops them). Encoding is canonical:
//! minimal varints, no trailing bytes. So `decode(encode(p)) == p` for every payload, and
//! `encode(decode(b))` equals `b` exactly when `b` was canonical.

use core::fmt;

use crate::erasure::{CHUNK_LEN, Chunk};
use crate::error::{Error, Result};
use crate::limits::MAX_VARINT_LEN;

/// The version byte of an SPQR V1 payload.
pub const PAYLOAD_VERSION: u8 = 1;

/// Longest canonical payload: version, 10-byte epoch, 5-byte index, type, 3-byte chunk
/// index, chunk.
pub const MAX_PAYLOAD_LEN: usize = 1 + MAX_VARINT_LEN + 5 + 1 + 3 + CHUNK_LEN;

/// What one payload carries for the braid (the ML-KEM exchange).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PayloadKind {
    /// Nothing (type 0).
    None,
    /// A chunk of the ML-KEM header and its MAC (type 1).
    Hdr(Chunk),
    /// A chunk of the encapsulation key (type 2).
    Ek(Chunk),
    /// A chunk of the encapsulation key that also acknowledges the first ciphertext
    /// (type 3).
    EkCt1Ack(Chunk),
    /// An acknowledgement of the first ciphertext (type 4).
    Ct1Ack,
    /// A chunk of the first ciphertext (type 5).
    Ct1(Chunk),
    /// A chunk of the second ciphertext and the ciphertext MAC (type 6).
    Ct2(Chunk),
}

impl PayloadKind {
    /// The type byte.
    #[must_use]
    pub const fn type_byte(&self) -> u8 {
        match self {
            Self::None => 0,
            Self::Hdr(_) => 1,
            Self::Ek(_) => 2,
            Self::EkCt1Ack(_) => 3,
            Self::Ct1Ack => 4,
            Self::Ct1(_) => 5,
            Self::Ct2(_) => 6,
        }
    }

    /// The chunk, for the types that carry one.
    #[must_use]
    pub const fn chunk(&self) -> Option<&Chunk> {
        match self {
            Self::Hdr(c) | Self::Ek(c) | Self::EkCt1Ack(c) | Self::Ct1(c) | Self::Ct2(c) => Some(c),
            Self::None | Self::Ct1Ack => None,
        }
    }
}

/// A decoded SPQR V1 payload.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Payload {
    epoch: u64,
    index: u32,
    kind: PayloadKind,
}

impl Payload {
    /// A payload for SCKA epoch `epoch` (at least 1), chain key `index` (0 = no key).
    ///
    /// # Errors
    ///
    /// [`Error::MalformedPayload`] for epoch 0.
    pub const fn new(epoch: u64, index: u32, kind: PayloadKind) -> Result<Self> {
        if epoch == 0 {
            return Err(Error::MalformedPayload("epoch 0"));
        }
        Ok(Self { epoch, index, kind })
    }

    /// The sender's SCKA epoch. The message key comes from chain epoch `epoch - 1`.
    #[must_use]
    pub const fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The index of the chain key used for this message (0: none).
    #[must_use]
    pub const fn index(&self) -> u32 {
        self.index
    }

    /// What the payload carries for the braid.
    #[must_use]
    pub const fn kind(&self) -> &PayloadKind {
        &self.kind
    }

    /// Decodes a V1 payload.
    ///
    /// # Errors
    ///
    /// [`Error::MalformedPayload`] for an empty payload, another version byte, or any
    /// field that does not parse (see the module documentation for what is accepted).
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut reader = Reader { bytes, at: 0 };
        if reader.byte("empty payload")? != PAYLOAD_VERSION {
            return Err(Error::MalformedPayload("not a version 1 payload"));
        }
        let epoch = reader.varint()?;
        if epoch == 0 {
            return Err(Error::MalformedPayload("epoch 0"));
        }
        let index = u32::try_from(reader.varint()?)
            .map_err(|_| Error::MalformedPayload("index beyond u32"))?;
        let kind = match reader.byte("missing type")? {
            0 => PayloadKind::None,
            1 => PayloadKind::Hdr(reader.chunk()?),
            2 => PayloadKind::Ek(reader.chunk()?),
            3 => PayloadKind::EkCt1Ack(reader.chunk()?),
            4 => PayloadKind::Ct1Ack,
            5 => PayloadKind::Ct1(reader.chunk()?),
            6 => PayloadKind::Ct2(reader.chunk()?),
            _ => return Err(Error::MalformedPayload("unknown message type")),
        };
        // Trailing bytes are ignored, as libsignal ignores them.
        Ok(Self { epoch, index, kind })
    }

    /// The canonical encoding.
    #[must_use]
    pub fn encode(&self) -> EncodedPayload {
        let mut out = EncodedPayload {
            bytes: [0; MAX_PAYLOAD_LEN],
            len: 0,
        };
        out.push(PAYLOAD_VERSION);
        out.varint(self.epoch);
        out.varint(u64::from(self.index));
        out.push(self.kind.type_byte());
        if let Some(chunk) = self.kind.chunk() {
            out.varint(u64::from(chunk.index()));
            for &byte in chunk.data() {
                out.push(byte);
            }
        }
        out
    }
}

/// An encoded payload, without a heap allocation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct EncodedPayload {
    bytes: [u8; MAX_PAYLOAD_LEN],
    len: usize,
}

impl EncodedPayload {
    /// The empty payload (version 0: no SPQR).
    #[must_use]
    pub const fn empty() -> Self {
        Self {
            bytes: [0; MAX_PAYLOAD_LEN],
            len: 0,
        }
    }

    /// The bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }

    fn push(&mut self, byte: u8) {
        if let Some(slot) = self.bytes.get_mut(self.len) {
            *slot = byte;
            self.len += 1;
        }
    }

    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.push(0x80 | (value & 0x7F) as u8);
            value >>= 7;
        }
        self.push((value & 0x7F) as u8);
    }
}

impl AsRef<[u8]> for EncodedPayload {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl fmt::Debug for EncodedPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EncodedPayload(")?;
        for byte in self.as_bytes() {
            write!(f, "{byte:02x}")?;
        }
        write!(f, ")")
    }
}

/// What a received `pq_ratchet` field is, before the state looks at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Incoming {
    /// No SPQR: an empty payload, or one whose version byte is 0.
    V0,
    /// A version byte above 1: a newer protocol, ignored (libsignal ignores it too).
    Newer,
    /// A version 1 payload, not yet parsed.
    V1,
}

impl Incoming {
    pub(crate) fn of(bytes: &[u8]) -> Self {
        match bytes.first() {
            None | Some(0) => Self::V0,
            Some(&PAYLOAD_VERSION) => Self::V1,
            Some(_) => Self::Newer,
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn byte(&mut self, what: &'static str) -> Result<u8> {
        let byte = *self
            .bytes
            .get(self.at)
            .ok_or(Error::MalformedPayload(what))?;
        self.at += 1;
        Ok(byte)
    }

    /// An unsigned LEB128 varint of at most [`MAX_VARINT_LEN`] bytes. Bits beyond the
    /// 64th are dropped (spqr's decoder shifts them out).
    fn varint(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for shift in (0..MAX_VARINT_LEN).map(|i| 7 * i) {
            let byte = self.byte("truncated varint")?;
            let bits = u64::from(byte & 0x7F);
            value |= bits
                .checked_shl(u32::try_from(shift).unwrap_or(u32::MAX))
                .unwrap_or(0);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Error::MalformedPayload("varint longer than 10 bytes"))
    }

    fn chunk(&mut self) -> Result<Chunk> {
        let index = u16::try_from(self.varint()?)
            .map_err(|_| Error::MalformedPayload("chunk index beyond 65535"))?;
        let end = self
            .at
            .checked_add(CHUNK_LEN)
            .ok_or(Error::MalformedPayload("truncated chunk"))?;
        let data = self
            .bytes
            .get(self.at..end)
            .and_then(|d| <[u8; CHUNK_LEN]>::try_from(d).ok())
            .ok_or(Error::MalformedPayload("truncated chunk"))?;
        self.at = end;
        Ok(Chunk::new(index, data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn libsignal_first_header_chunk() {
        // ping_pong message 0 of test-vectors/libsignal-v0101/session.json.
        let bytes =
            hex("0101010100992ce38c452514288d5b090c3c2448f734aaa8af6d18fd57fad4a483a9a82c48");
        let payload = Payload::decode(&bytes).unwrap();
        assert_eq!(payload.epoch(), 1);
        assert_eq!(payload.index(), 1);
        let PayloadKind::Hdr(chunk) = payload.kind() else {
            panic!("expected a header chunk")
        };
        assert_eq!(chunk.index(), 0);
        assert_eq!(payload.encode().as_bytes(), &bytes[..]);
    }

    #[test]
    fn varints() {
        // 300 = 0xAC 0x02.
        let payload = Payload::new(300, u32::MAX, PayloadKind::Ct1Ack).unwrap();
        let encoded = payload.encode();
        assert_eq!(
            encoded.as_bytes(),
            &[1, 0xAC, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 4]
        );
        assert_eq!(Payload::decode(encoded.as_bytes()).unwrap(), payload);
        let max = Payload::new(u64::MAX, 0, PayloadKind::None).unwrap();
        assert_eq!(max.encode().as_bytes().len(), 1 + 10 + 1 + 1);
        assert_eq!(Payload::decode(max.encode().as_bytes()).unwrap(), max);
    }

    #[test]
    fn accepts_what_libsignal_accepts() {
        // Non-minimal varints and trailing bytes.
        let loose = [1, 0x81, 0x00, 0x80, 0x80, 0x00, 0, 0xDE, 0xAD];
        let payload = Payload::decode(&loose).unwrap();
        assert_eq!((payload.epoch(), payload.index()), (1, 0));
        assert_eq!(payload.encode().as_bytes(), &[1, 1, 0, 0]);
        // A tenth varint byte keeps only its lowest bit.
        let mut ten = vec![1];
        ten.extend([0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7F]);
        ten.extend([0, 0]);
        assert_eq!(Payload::decode(&ten).unwrap().epoch(), 1 | (1 << 63));
    }

    #[test]
    fn refuses_what_libsignal_refuses() {
        let cases: &[(&[u8], &str)] = &[
            (&[], "empty payload"),
            (&[2, 1, 1, 0], "not a version 1 payload"),
            (&[1], "truncated varint"),
            (&[1, 0, 1, 0], "epoch 0"),
            (&[1, 1, 0x80, 0x80, 0x80, 0x80, 0x10, 0], "index beyond u32"),
            (&[1, 1, 1], "missing type"),
            (&[1, 1, 1, 7], "unknown message type"),
            (&[1, 1, 1, 1, 0], "truncated chunk"),
            (&[1, 1, 1, 5, 0x80, 0x80, 0x04], "chunk index beyond 65535"),
            (
                &[
                    1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0,
                ],
                "varint longer than 10 bytes",
            ),
        ];
        for (bytes, reason) in cases {
            assert_eq!(
                Payload::decode(bytes),
                Err(Error::MalformedPayload(reason)),
                "{bytes:02x?}"
            );
        }
        // Chunk index 65535 is the largest accepted.
        let mut last = vec![1, 1, 1, 6, 0xFF, 0xFF, 0x03];
        last.extend([7; 32]);
        assert_eq!(
            Payload::decode(&last)
                .unwrap()
                .kind()
                .chunk()
                .unwrap()
                .index(),
            65535
        );
    }
}
