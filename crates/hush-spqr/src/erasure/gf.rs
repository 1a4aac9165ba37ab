//! Arithmetic in GF(2^16) with the reduction polynomial x^16 + x^12 + x^3 + x + 1
//! (`0x1100B`), the field SPQR's erasure code works in.
//!
//! Addition is XOR. Multiplication is a carry-less product followed by a reduction; the
//! carry-less product uses integer multiplications of operands with "holes" (bits four
//! apart), so it has no table lookups and no branches. The values multiplied here are
//! public (they are the chunks that travel on the wire), so side channels are not the
//! reason; the reason is that this is simple, small and fast enough without a 256 KiB
//! log/antilog table.

/// The carry-less (polynomial over GF(2)) product of `a` and `b`: up to 31 bits.
///
/// Each operand is split into four parts holding every fourth bit. An integer product
/// of two parts sums at most four one-bit products at each position, so no carry ever
/// reaches the next position of the same residue (four places up); keeping only the
/// positions of the right residue from each XOR of products gives the carry-less result.
#[inline]
pub(crate) const fn clmul(a: u16, b: u16) -> u32 {
    const M0: u32 = 0x1111;
    const M1: u32 = 0x2222;
    const M2: u32 = 0x4444;
    const M3: u32 = 0x8888;
    let (a, b) = (a as u32, b as u32);
    let (a0, a1, a2, a3) = (a & M0, a & M1, a & M2, a & M3);
    let (b0, b1, b2, b3) = (b & M0, b & M1, b & M2, b & M3);
    let c0 = (a0 * b0) ^ (a1 * b3) ^ (a2 * b2) ^ (a3 * b1);
    let c1 = (a0 * b1) ^ (a1 * b0) ^ (a2 * b3) ^ (a3 * b2);
    let c2 = (a0 * b2) ^ (a1 * b1) ^ (a2 * b0) ^ (a3 * b3);
    let c3 = (a0 * b3) ^ (a1 * b2) ^ (a2 * b1) ^ (a3 * b0);
    (c0 & 0x1111_1111) | (c1 & 0x2222_2222) | (c2 & 0x4444_4444) | (c3 & 0x8888_8888)
}

/// Folds `value` (up to 32 bits) once: h·x^16 becomes h·(x^12 + x^3 + x + 1), which
/// lowers the degree by at least four.
const fn fold(value: u32) -> u32 {
    let high = value >> 16;
    (value & 0xFFFF) ^ high ^ (high << 1) ^ (high << 3) ^ (high << 12)
}

/// Reduces a value of up to 32 bits by folding (four folds bring degree 31 below 16).
const fn reduce_by_folding(mut value: u32) -> u32 {
    let mut round = 0;
    while round < 4 {
        value = fold(value);
        round += 1;
    }
    value
}

/// `b·x^24 mod p` and `b·x^16 mod p` for every byte `b`: reduction is linear, so a value
/// reduces byte by byte from the top.
#[allow(
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    reason = "compile-time table: b < 256 indexes a 256-entry array and fits in 32 bits"
)]
const fn reduction_table(shift: u32) -> [u16; 256] {
    let mut out = [0u16; 256];
    let mut b = 0;
    while b < 256 {
        // Folding leaves 16 bits (see above); the mask only says so.
        out[b] = (reduce_by_folding((b as u32) << shift) & 0xFFFF) as u16;
        b += 1;
    }
    out
}

const REDUCE_24: [u16; 256] = reduction_table(24);
const REDUCE_16: [u16; 256] = reduction_table(16);

/// Reduces a value of up to 32 bits modulo the field polynomial: the top byte, then the
/// next, through [`REDUCE_24`] and [`REDUCE_16`].
#[inline]
pub(crate) fn reduce(value: u32) -> u16 {
    let [top, next, high, low] = value.to_be_bytes();
    let value = u32::from_be_bytes([0, next, high, low])
        ^ u32::from(REDUCE_24.get(usize::from(top)).copied().unwrap_or(0));
    let [_, _, high, low] = value.to_be_bytes();
    let next = value.to_be_bytes()[1];
    u16::from_be_bytes([high, low]) ^ REDUCE_16.get(usize::from(next)).copied().unwrap_or(0)
}

/// [`reduce`] for compile-time use.
#[allow(
    clippy::cast_possible_truncation,
    reason = "the mask keeps 16 bits, which is all four folds leave"
)]
pub(crate) const fn reduce_const(value: u32) -> u16 {
    (reduce_by_folding(value) & 0xFFFF) as u16
}

/// The product of `a` and `b` in the field.
#[inline]
pub(crate) fn mul(a: u16, b: u16) -> u16 {
    reduce(clmul(a, b))
}

/// [`mul`] for compile-time use.
pub(crate) const fn mul_const(a: u16, b: u16) -> u16 {
    reduce_const(clmul(a, b))
}

/// The multiplicative inverse of `a` (a^(2^16 - 2)); zero for zero.
pub(crate) const fn inv(a: u16) -> u16 {
    // a^(2^16 - 2) = a^(2 + 4 + ... + 2^15): square 15 times, multiplying the squares.
    let mut square = mul_const(a, a);
    let mut result = square;
    let mut step = 1;
    while step < 15 {
        square = mul_const(square, square);
        result = mul_const(result, square);
        step += 1;
    }
    result
}

/// Two carry-less products at once: `(a1 ⊗ b, a2 ⊗ b)`, with the two `a` in 32-bit lanes
/// of one 64-bit word (each product has at most 31 bits, so the lanes never meet).
#[inline]
pub(crate) const fn clmul2(first: u16, second: u16, b: u16) -> (u32, u32) {
    const M0: u64 = 0x0000_1111_0000_1111;
    const M1: u64 = M0 << 1;
    const M2: u64 = M0 << 2;
    const M3: u64 = M0 << 3;
    let a = (first as u64) | ((second as u64) << 32);
    let b = b as u64;
    let (a0, a1, a2, a3) = (a & M0, a & M1, a & M2, a & M3);
    let (b0, b1, b2, b3) = (b & 0x1111, b & 0x2222, b & 0x4444, b & 0x8888);
    let c0 = (a0 * b0) ^ (a1 * b3) ^ (a2 * b2) ^ (a3 * b1);
    let c1 = (a0 * b1) ^ (a1 * b0) ^ (a2 * b3) ^ (a3 * b2);
    let c2 = (a0 * b2) ^ (a1 * b1) ^ (a2 * b0) ^ (a3 * b3);
    let c3 = (a0 * b3) ^ (a1 * b2) ^ (a2 * b1) ^ (a3 * b0);
    let c = (c0 & 0x1111_1111_1111_1111)
        | (c1 & 0x2222_2222_2222_2222)
        | (c2 & 0x4444_4444_4444_4444)
        | (c3 & 0x8888_8888_8888_8888);
    ((c & 0xFFFF_FFFF) as u32, (c >> 32) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bit-by-bit multiplication, the textbook way, as an independent reference.
    fn slow_mul(a: u16, b: u16) -> u16 {
        let mut a = u32::from(a);
        let mut b = b;
        let mut out = 0u32;
        while b != 0 {
            if b & 1 == 1 {
                out ^= a;
            }
            b >>= 1;
            a <<= 1;
            if a & 0x1_0000 != 0 {
                a ^= 0x1100B;
            }
        }
        u16::try_from(out).unwrap()
    }

    #[test]
    fn multiplication_matches_the_textbook_method() {
        let samples = [
            0u16, 1, 2, 3, 0x8000, 0xFFFF, 0x1234, 0xABCD, 0x100B, 0x0F0F, 0xF0F0, 0x7FFF,
        ];
        for &a in &samples {
            for &b in &samples {
                assert_eq!(mul(a, b), slow_mul(a, b), "{a:#x} * {b:#x}");
            }
        }
        // A pseudo-random sweep.
        let mut x = 0x9E37_79B9u32;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let (a, b) = (
                u16::try_from(x & 0xFFFF).unwrap(),
                u16::try_from(x >> 16).unwrap(),
            );
            assert_eq!(mul(a, b), slow_mul(a, b), "{a:#x} * {b:#x}");
        }
    }

    #[test]
    fn table_and_folding_reductions_agree() {
        let mut x = 0x2545_F491u32;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            assert_eq!(reduce(x), reduce_const(x), "{x:#x}");
        }
        assert_eq!(reduce(u32::MAX), reduce_const(u32::MAX));
    }

    #[test]
    fn paired_products_match_single_ones() {
        let mut x = 0x1234_5678u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let [a, b, c, ..] = x.to_le_bytes().map(u16::from);
            let (a, b, c) = (a | (b << 8), c ^ (b << 5), b.rotate_left(7) ^ a);
            assert_eq!(clmul2(a, b, c), (clmul(a, c), clmul(b, c)));
        }
        assert_eq!(
            clmul2(0xFFFF, 0xFFFF, 0xFFFF),
            (clmul(0xFFFF, 0xFFFF), clmul(0xFFFF, 0xFFFF))
        );
    }

    #[test]
    fn x_to_the_16_reduces_to_the_polynomial_tail() {
        // x^15 * x = x^16 = x^12 + x^3 + x + 1.
        assert_eq!(mul(0x8000, 2), 0x100B);
        assert_eq!(mul_const(0x8000, 2), 0x100B);
    }

    #[test]
    fn inverses() {
        assert_eq!(inv(0), 0);
        assert_eq!(inv(1), 1);
        for a in (1..=u16::MAX).step_by(97) {
            assert_eq!(mul(a, inv(a)), 1, "{a:#x}");
        }
        assert_eq!(mul(0xFFFF, inv(0xFFFF)), 1);
    }
}
