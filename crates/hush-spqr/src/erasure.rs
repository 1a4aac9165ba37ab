//! SPQR's erasure code: a message cut into 32-byte chunks so that any `n` distinct chunks
//! give it back, where `n` is the message length over 32.
//!
//! The message is read as big-endian 16-bit symbols in GF(2^16) (reduction polynomial
//! x^16 + x^12 + x^3 + x + 1, `0x1100B`). Symbol `j` is the value of polynomial `j mod 16`
//! at `x = j / 16`, so a message of `n` chunks defines 16 polynomials of degree below `n`. Chunk `k` holds the 16 polynomials'
//! values at `x = k`, each as two big-endian bytes. Chunks `0..n` are therefore the
//! message itself (the code is systematic) and chunk `k >= n` is each polynomial's
//! Lagrange interpolation evaluated at `k`. A sender hands out chunks `0, 1, 2, ...`, one
//! per message; a receiver decodes once it holds `n` distinct indices.
//!
//! Everything here works on public data (the chunks are sent in the clear inside the
//! authenticated message), so the arithmetic is plain code; it happens to have no
//! data-dependent branches or table lookups anyway.
//!
//! [`encode_chunk`] and [`Decoder`] are public so that other implementations can be
//! tested against this one; the ratchet uses them internally with the four SPQR message
//! sizes (3, 36, 30 and 5 chunks).

mod gf;

use core::fmt;

use crate::error::{Error, Result};
use crate::limits::MAX_CODE_CHUNKS;

/// Bytes in one chunk.
pub const CHUNK_LEN: usize = 32;

/// Field elements (polynomials) per chunk.
const SYMBOLS: usize = CHUNK_LEN / 2;

/// One chunk of an erasure-coded message: its index and 32 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Chunk {
    index: u16,
    data: [u8; CHUNK_LEN],
}

impl Chunk {
    /// A chunk with the given index and bytes.
    #[must_use]
    pub const fn new(index: u16, data: [u8; CHUNK_LEN]) -> Self {
        Self { index, data }
    }

    /// The chunk index (the x coordinate every symbol of the chunk is evaluated at).
    #[must_use]
    pub const fn index(&self) -> u16 {
        self.index
    }

    /// The 32 bytes: 16 big-endian field elements.
    #[must_use]
    pub const fn data(&self) -> &[u8; CHUNK_LEN] {
        &self.data
    }
}

impl fmt::Debug for Chunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Public wire data: printing it helps debugging and leaks nothing.
        let Self { index, data } = self;
        write!(f, "Chunk({index}, ")?;
        for byte in data {
            write!(f, "{byte:02x}")?;
        }
        write!(f, ")")
    }
}

/// How many chunks a message of `len` bytes has, if the code accepts that length: a
/// positive multiple of [`CHUNK_LEN`] of at most [`MAX_CODE_CHUNKS`] chunks.
fn chunk_count(len: usize) -> Option<usize> {
    let count = len / CHUNK_LEN;
    (len.is_multiple_of(CHUNK_LEN) && (1..=MAX_CODE_CHUNKS).contains(&count)).then_some(count)
}

/// Chunk `index` of `message`.
///
/// # Errors
///
/// [`Error::InvalidCodeLength`] unless the message length is a positive multiple of 32
/// bytes of at most [`MAX_CODE_CHUNKS`] chunks.
pub fn encode_chunk(message: &[u8], index: u16) -> Result<Chunk> {
    let count = chunk_count(message.len()).ok_or(Error::InvalidCodeLength(message.len()))?;
    Ok(Chunk::new(index, chunk_at(message, count, index)))
}

/// The systematic code's Lagrange denominators for `count` points at `0..count`,
/// inverted: `w_i = 1 / prod_{j != i} (i - j)`. Computed at compile time for the four
/// sizes SPQR uses.
#[allow(
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    reason = "compile-time tables: i < N, and N (at most 36 here) fits in 16 bits; a bad \
              index would fail the build"
)]
const fn systematic_weights<const N: usize>() -> [u16; N] {
    let mut out = [0u16; N];
    let mut i = 0;
    while i < N {
        let mut denominator = 1u16;
        let mut j = 0;
        while j < N {
            if j != i {
                // Indices below MAX_CODE_CHUNKS fit in 16 bits.
                denominator = gf::mul_const(denominator, (i ^ j) as u16);
            }
            j += 1;
        }
        out[i] = gf::inv(denominator);
        i += 1;
    }
    out
}

const WEIGHTS_3: [u16; 3] = systematic_weights::<3>();
const WEIGHTS_5: [u16; 5] = systematic_weights::<5>();
const WEIGHTS_30: [u16; 30] = systematic_weights::<30>();
const WEIGHTS_36: [u16; 36] = systematic_weights::<36>();

/// Barycentric weights `w_i = 1 / prod_{j != i} (x_i - x_j)` of the points `xs`, into
/// `out` (same length).
fn barycentric_weights(xs: &[u16], out: &mut [u16]) {
    for (i, (&xi, slot)) in xs.iter().zip(out.iter_mut()).enumerate() {
        let mut denominator = 1u16;
        for (j, &xj) in xs.iter().enumerate() {
            if i != j {
                denominator = gf::mul(denominator, xi ^ xj);
            }
        }
        *slot = denominator;
    }
    batch_invert(out);
}

/// Inverts every (non-zero) element of `values` in place with one field inversion
/// (Montgomery's trick).
fn batch_invert(values: &mut [u16]) {
    let mut prefix = [0u16; MAX_CODE_CHUNKS];
    let mut running = 1u16;
    for (value, slot) in values.iter().zip(prefix.iter_mut()) {
        *slot = running;
        running = gf::mul(running, *value);
    }
    let mut inverse = gf::inv(running);
    for (value, before) in values.iter_mut().zip(prefix.iter()).rev() {
        let original = *value;
        *value = gf::mul(inverse, *before);
        inverse = gf::mul(inverse, original);
    }
}

/// The Lagrange basis at `t` for the points `xs` with inverted denominators `weights`:
/// `out[i] = w_i * prod_{j != i} (t - x_j)`, from prefix and suffix products (no
/// inversion; `t` may be one of the points).
fn lagrange_at(xs: &[u16], weights: &[u16], t: u16, out: &mut [u16]) {
    let count = xs.len().min(weights.len()).min(out.len());
    let out = out.get_mut(..count).unwrap_or_default();
    let xs = xs.get(..count).unwrap_or_default();
    let weights = weights.get(..count).unwrap_or_default();
    let mut running = 1u16;
    for (slot, &x) in out.iter_mut().zip(xs) {
        *slot = running;
        running = gf::mul(running, t ^ x);
    }
    let mut running = 1u16;
    for ((slot, &x), &w) in out.iter_mut().zip(xs).zip(weights).rev() {
        *slot = gf::mul(gf::mul(*slot, running), w);
        running = gf::mul(running, t ^ x);
    }
}

/// `sum_i basis[i] * rows[i]`, symbol by symbol: one output chunk from `rows` (chunks of
/// 32 bytes) and their Lagrange coefficients.
fn combine<'a>(rows: impl Iterator<Item = &'a [u8]>, basis: &[u16]) -> [u8; CHUNK_LEN] {
    // Carry-less products are summed (XORed) unreduced, two symbols per multiplication,
    // and reduced once per symbol.
    let mut sums = [0u32; SYMBOLS];
    for (row, &coefficient) in rows.zip(basis) {
        for (pair, sum) in row.chunks_exact(4).zip(sums.chunks_exact_mut(2)) {
            if let ([a0, a1, b0, b1], [first, second]) = (pair, sum) {
                let (x, y) = gf::clmul2(
                    u16::from_be_bytes([*a0, *a1]),
                    u16::from_be_bytes([*b0, *b1]),
                    coefficient,
                );
                *first ^= x;
                *second ^= y;
            }
        }
    }
    let mut out = [0u8; CHUNK_LEN];
    for (pair, sum) in out.chunks_exact_mut(2).zip(sums) {
        pair.copy_from_slice(&gf::reduce(sum).to_be_bytes());
    }
    out
}

/// Chunk `index` of a message of `count` chunks (`message.len() == count * 32`, checked
/// by the caller).
pub(crate) fn chunk_at(message: &[u8], count: usize, index: u16) -> [u8; CHUNK_LEN] {
    let start = usize::from(index).saturating_mul(CHUNK_LEN);
    if usize::from(index) < count {
        let mut out = [0u8; CHUNK_LEN];
        if let Some(systematic) = message.get(start..start.saturating_add(CHUNK_LEN)) {
            out.copy_from_slice(systematic);
        }
        return out;
    }
    let mut xs = [0u16; MAX_CODE_CHUNKS];
    let mut weights = [0u16; MAX_CODE_CHUNKS];
    let count = count.min(MAX_CODE_CHUNKS);
    for (i, x) in (0u16..).zip(xs.iter_mut().take(count)) {
        *x = i;
    }
    let xs = xs.get(..count).unwrap_or_default();
    let weights = match count {
        3 => &WEIGHTS_3[..],
        5 => &WEIGHTS_5[..],
        30 => &WEIGHTS_30[..],
        36 => &WEIGHTS_36[..],
        _ => {
            let slot = weights.get_mut(..count).unwrap_or_default();
            barycentric_weights(xs, slot);
            slot
        }
    };
    let mut basis = [0u16; MAX_CODE_CHUNKS];
    let basis = basis.get_mut(..count).unwrap_or_default();
    lagrange_at(xs, weights, index, basis);
    combine(message.chunks_exact(CHUNK_LEN), basis)
}

/// Collects chunks of one message until it can be decoded.
///
/// It keeps at most `n - 1` distinct chunks (`n` = chunks in the message): the `n`-th
/// distinct index completes the message, which [`Decoder::decode_with`] returns. A chunk
/// whose index is already held replaces the held one (libsignal keeps the latest copy
/// too); honest senders never send two different chunks under one index.
#[derive(Clone, PartialEq, Eq)]
pub struct Decoder {
    /// Chunks in the message.
    needed: u16,
    /// Distinct chunks held, fewer than `needed`, in arrival order.
    held: Vec<Chunk>,
}

impl Decoder {
    /// A decoder for a message of `message_len` bytes.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCodeLength`] unless `message_len` is a positive multiple of 32 of
    /// at most [`MAX_CODE_CHUNKS`] chunks.
    pub fn new(message_len: usize) -> Result<Self> {
        let needed = chunk_count(message_len).ok_or(Error::InvalidCodeLength(message_len))?;
        let needed = u16::try_from(needed).map_err(|_| Error::InvalidCodeLength(message_len))?;
        Ok(Self {
            needed,
            held: Vec::new(),
        })
    }

    /// A decoder for one of the fixed SPQR sizes (`count` between 1 and
    /// [`MAX_CODE_CHUNKS`], checked by the caller's constants).
    pub(crate) fn for_chunks(count: u16) -> Self {
        Self {
            needed: count,
            held: Vec::new(),
        }
    }

    /// A decoder holding `held` (from a stored state). `None` if the chunks are not
    /// distinct or there are `count` or more of them.
    pub(crate) fn from_held(count: u16, held: Vec<Chunk>) -> Option<Self> {
        if held.len() >= usize::from(count) {
            return None;
        }
        for (i, chunk) in held.iter().enumerate() {
            if held.iter().skip(i + 1).any(|c| c.index == chunk.index) {
                return None;
            }
        }
        Some(Self {
            needed: count,
            held,
        })
    }

    /// The number of chunks the message has.
    #[must_use]
    pub const fn needed(&self) -> usize {
        self.needed as usize
    }

    /// The chunks held, in arrival order.
    #[must_use]
    pub fn held(&self) -> &[Chunk] {
        &self.held
    }

    /// The message, if `chunk` completes it. Changes nothing: a caller that needs
    /// to check the message before accepting it keeps the decoder as it was.
    #[must_use]
    pub fn decode_with(&self, chunk: &Chunk) -> Option<Vec<u8>> {
        let replaces = self.held.iter().any(|c| c.index == chunk.index);
        if replaces || self.held.len().saturating_add(1) < self.needed() {
            return None;
        }
        Some(self.decode_points(chunk))
    }

    /// Adds `chunk` if it does not complete the message (replacing a held chunk of the
    /// same index). Returns whether it was taken: `false` means it completes the message,
    /// and [`Decoder::decode_with`] gives the message.
    pub fn add(&mut self, chunk: &Chunk) -> bool {
        if let Some(held) = self.held.iter_mut().find(|c| c.index == chunk.index) {
            *held = *chunk;
            return true;
        }
        if self.held.len().saturating_add(1) >= self.needed() {
            return false;
        }
        self.held.push(*chunk);
        true
    }

    /// Decodes from the held chunks plus `extra` (exactly `needed` distinct chunks).
    fn decode_points(&self, extra: &Chunk) -> Vec<u8> {
        let count = self.needed().min(MAX_CODE_CHUNKS);
        let points: Vec<&Chunk> = self
            .held
            .iter()
            .chain(core::iter::once(extra))
            .take(count)
            .collect();
        let mut xs = [0u16; MAX_CODE_CHUNKS];
        for (x, chunk) in xs.iter_mut().zip(&points) {
            *x = chunk.index;
        }
        let xs = xs.get(..points.len()).unwrap_or_default();
        let mut weights = [0u16; MAX_CODE_CHUNKS];
        let mut weights_ready = false;
        let mut basis = [0u16; MAX_CODE_CHUNKS];
        let mut out = vec![0u8; count.saturating_mul(CHUNK_LEN)];
        for (target, slot) in (0u16..).zip(out.chunks_exact_mut(CHUNK_LEN)) {
            if let Some(chunk) = points.iter().find(|c| c.index == target) {
                slot.copy_from_slice(&chunk.data);
                continue;
            }
            let weights = weights.get_mut(..xs.len()).unwrap_or_default();
            if !weights_ready {
                barycentric_weights(xs, weights);
                weights_ready = true;
            }
            let basis = basis.get_mut(..xs.len()).unwrap_or_default();
            lagrange_at(xs, weights, target, basis);
            slot.copy_from_slice(&combine(points.iter().map(|c| &c.data[..]), basis));
        }
        out
    }
}

impl fmt::Debug for Decoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { needed, held } = self;
        f.debug_struct("Decoder")
            .field("needed", needed)
            .field("held", &held.iter().map(Chunk::index).collect::<Vec<_>>())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(count: usize, seed: u8) -> Vec<u8> {
        (0..count * CHUNK_LEN)
            .map(|i| {
                u8::try_from(i % 251)
                    .unwrap()
                    .wrapping_mul(31)
                    .wrapping_add(seed)
            })
            .collect()
    }

    #[test]
    fn systematic_chunks_are_the_message() {
        let m = message(3, 7);
        for k in 0..3u16 {
            let chunk = encode_chunk(&m, k).unwrap();
            assert_eq!(&chunk.data()[..], &m[usize::from(k) * 32..][..32]);
        }
    }

    #[test]
    fn precomputed_weights_match_the_general_formula() {
        for (count, table) in [
            (3, &WEIGHTS_3[..]),
            (5, &WEIGHTS_5[..]),
            (30, &WEIGHTS_30[..]),
            (36, &WEIGHTS_36[..]),
        ] {
            let xs: Vec<u16> = (0..count).collect();
            let mut general = vec![0u16; xs.len()];
            barycentric_weights(&xs, &mut general);
            assert_eq!(general, table, "{count} chunks");
        }
    }

    #[test]
    fn any_n_chunks_decode() {
        for count in [1usize, 2, 3, 5, 30, 36] {
            let m = message(count, u8::try_from(count).unwrap());
            // Only non-systematic chunks, in reverse order.
            let mut decoder = Decoder::new(m.len()).unwrap();
            let n = u16::try_from(count).unwrap();
            let mut decoded = None;
            for k in (n..2 * n).rev() {
                let chunk = encode_chunk(&m, k).unwrap();
                match decoder.decode_with(&chunk) {
                    Some(out) => {
                        decoded = Some(out);
                        break;
                    }
                    None => assert!(decoder.add(&chunk)),
                }
            }
            assert_eq!(decoded.unwrap(), m, "{count} chunks");
        }
    }

    #[test]
    fn duplicates_do_not_count() {
        let m = message(3, 1);
        let mut decoder = Decoder::new(96).unwrap();
        let c5 = encode_chunk(&m, 5).unwrap();
        assert!(decoder.add(&c5));
        assert!(decoder.decode_with(&c5).is_none());
        assert!(decoder.add(&c5));
        assert_eq!(decoder.held().len(), 1);
        let c0 = encode_chunk(&m, 0).unwrap();
        assert!(decoder.add(&c0));
        let c9 = encode_chunk(&m, 9).unwrap();
        assert_eq!(decoder.decode_with(&c9).unwrap(), m);
    }

    #[test]
    fn lengths_are_checked() {
        assert_eq!(encode_chunk(&[], 0), Err(Error::InvalidCodeLength(0)));
        assert_eq!(encode_chunk(&[0; 33], 0), Err(Error::InvalidCodeLength(33)));
        assert!(Decoder::new(MAX_CODE_CHUNKS * 32).is_ok());
        assert_eq!(
            Decoder::new((MAX_CODE_CHUNKS + 1) * 32).unwrap_err(),
            Error::InvalidCodeLength((MAX_CODE_CHUNKS + 1) * 32)
        );
    }
}
