//! Recovery codes: a backup key written as 64 Crockford base32 characters with a CRC-64
//! checksum, so that a mistyped character is reported as a typo rather than as a wrong key.
//!
//! Layout (see `docs/wire/backup.md`): the 40 bytes `key (32) || CRC-64/XZ(key) (8,
//! little-endian)`, read as 320 bits most significant bit first, 5 bits per character.

use core::fmt;
use core::str::FromStr;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Error, Result};
use crate::key::BACKUP_KEY_LENGTH;

/// Characters in a recovery code (spaces and dashes not counted).
pub const RECOVERY_CODE_CHARS: usize = 64;

/// Characters per group in [`RecoveryCode::to_grouped_string`].
pub const RECOVERY_CODE_GROUP: usize = 4;

/// Bytes the code encodes: the key and its 8-byte checksum.
const CODE_BYTES: usize = BACKUP_KEY_LENGTH + 8;

/// CRC-64/XZ's polynomial 0x42F0E1EBA9EA3693, bit-reversed for the reflected algorithm.
const CRC64_XZ_REFLECTED: u64 = 0xC96C_5795_D787_0F42;

/// CRC-64/XZ (reflected, initial value and final xor all ones). Branch-free per bit, as
/// the input is a secret key.
pub(crate) fn crc64_xz(data: &[u8]) -> u64 {
    let mut crc = u64::MAX;
    for byte in data {
        crc ^= u64::from(*byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (CRC64_XZ_REFLECTED & mask);
        }
    }
    !crc
}

/// All ones if `lo <= x <= hi`, else zero, without a branch on `x` (a character of a
/// secret code).
const fn in_range(x: u8, lo: u8, hi: u8) -> u8 {
    // x - lo and hi - x, widened: bit 15 is set exactly when the difference is negative.
    let below = (x as u16).wrapping_sub(lo as u16) >> 15;
    let above = (hi as u16).wrapping_sub(x as u16) >> 15;
    // 0 inside the range, 1 outside; 0 - 1 wraps to all ones.
    let outside = ((below | above) & 1).to_le_bytes()[0];
    outside.wrapping_sub(1)
}

/// The 5-bit value of one character, or `None` if it is not in the alphabet. Lower case
/// is accepted; `O` reads as 0 and `I`, `L` as 1, as Crockford specifies.
///
/// The characters are the secret key, so the code has no branch and no table index on
/// which valid character it is: every range of the alphabet is tested with masks, and
/// only the final valid / invalid answer (which a typed code reveals anyway) is a branch.
fn decode_char(ch: char) -> Option<u8> {
    // Non-ASCII is never valid (and its code point is not part of a valid code).
    let byte = u8::try_from(u32::from(ch)).ok()?;
    let upper = byte ^ (in_range(byte, b'a', b'z') & 0x20);
    let mut value = 0u8;
    let mut valid = 0u8;
    for (lo, hi, base) in [
        (b'0', b'9', 0),
        (b'A', b'H', 10),
        (b'J', b'K', 18),
        (b'M', b'N', 20),
        (b'P', b'T', 22),
        (b'V', b'Z', 27),
        (b'O', b'O', 0),
        (b'I', b'I', 1),
        (b'L', b'L', 1),
    ] {
        let hit = in_range(upper, lo, hi);
        value |= hit & upper.wrapping_sub(lo).wrapping_add(base);
        valid |= hit;
    }
    (valid != 0).then_some(value)
}

/// The character of a 5-bit value (`value < 32`), without a branch or a table lookup on
/// it: `'0' + value`, plus 7 to jump from the digits to `A`, plus one for each of I, L, O
/// and U the value has passed.
fn encode_char(value: u8) -> u8 {
    let value = value & 31;
    let at_least = |k: u8| in_range(value, k, 31) & 1;
    b'0' + value + 7 * at_least(10) + at_least(18) + at_least(20) + at_least(22) + at_least(27)
}

/// A backup key as the user writes it down: 64 characters in 16 groups of 4.
///
/// Holds the key (its checksum is computed when shown and checked when parsed); wiped on
/// drop; no `Display`, and a `Debug` that shows nothing. Get one from
/// [`crate::BackupKey::recovery_code`] or [`RecoveryCode::parse`], and the key back with
/// [`crate::BackupKey::from_recovery_code`].
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct RecoveryCode {
    key: [u8; BACKUP_KEY_LENGTH],
}

impl RecoveryCode {
    pub(crate) fn from_key_bytes(key: &[u8; BACKUP_KEY_LENGTH]) -> Self {
        Self { key: *key }
    }

    pub(crate) fn key_bytes(&self) -> &[u8; BACKUP_KEY_LENGTH] {
        &self.key
    }

    /// Parses a recovery code as typed by a user.
    ///
    /// Case does not matter; ASCII whitespace and dashes are ignored wherever they are;
    /// `O` reads as `0` and `I`, `L` as `1`.
    ///
    /// # Errors
    ///
    /// - [`Error::RecoveryCodeCharacter`] for the first character that is none of the
    ///   above (including `U`), with its index among the characters of `text` (from 0).
    /// - [`Error::RecoveryCodeLength`] if there are not exactly 64 significant characters.
    /// - [`Error::RecoveryCodeTypo`] if the checksum does not match: some character was
    ///   mistyped. Every single wrong character and every swap of two neighbours is
    ///   caught this way (see `docs/wire/backup.md`).
    pub fn parse(text: &str) -> Result<Self> {
        let mut values = Zeroizing::new([0u8; RECOVERY_CODE_CHARS]);
        let mut found = 0usize;
        for (position, ch) in text.chars().enumerate() {
            if ch == '-' || ch.is_ascii_whitespace() {
                continue;
            }
            let value = decode_char(ch).ok_or(Error::RecoveryCodeCharacter { position })?;
            if let Some(slot) = values.get_mut(found) {
                *slot = value;
            }
            found = found.saturating_add(1);
        }
        if found != RECOVERY_CODE_CHARS {
            return Err(Error::RecoveryCodeLength { found });
        }

        // Eight characters (40 bits) make five bytes.
        let mut bytes = Zeroizing::new([0u8; CODE_BYTES]);
        for (group, out) in values.chunks_exact(8).zip(bytes.chunks_exact_mut(5)) {
            let mut acc = Zeroizing::new(0u64);
            for value in group {
                *acc = (*acc << 5) | u64::from(*value);
            }
            let be = Zeroizing::new(acc.to_be_bytes());
            out.copy_from_slice(be.get(3..).ok_or(Error::Malformed("recovery code"))?);
        }

        let (key, check) = bytes.split_at(BACKUP_KEY_LENGTH);
        let key: [u8; BACKUP_KEY_LENGTH] = key
            .try_into()
            .map_err(|_| Error::Malformed("recovery code"))?;
        let code = Self { key };
        let expected = crc64_xz(&code.key).to_le_bytes();
        if bool::from(expected.ct_eq(check)) {
            Ok(code)
        } else {
            Err(Error::RecoveryCodeTypo)
        }
    }

    /// The code as shown to the user: 16 groups of 4 upper-case characters separated by
    /// single spaces (79 characters). Wiped when dropped.
    #[must_use]
    pub fn to_grouped_string(&self) -> Zeroizing<String> {
        let mut bytes = Zeroizing::new([0u8; CODE_BYTES]);
        let (key, check) = bytes.split_at_mut(BACKUP_KEY_LENGTH);
        key.copy_from_slice(&self.key);
        check.copy_from_slice(&crc64_xz(&self.key).to_le_bytes());

        let capacity = RECOVERY_CODE_CHARS + RECOVERY_CODE_CHARS / RECOVERY_CODE_GROUP - 1;
        let mut out = Zeroizing::new(String::with_capacity(capacity));
        let mut written = 0usize;
        for group in bytes.chunks_exact(5) {
            let mut acc = Zeroizing::new(0u64);
            for byte in group {
                *acc = (*acc << 8) | u64::from(*byte);
            }
            for shift in (0..8).rev() {
                if written > 0 && written.is_multiple_of(RECOVERY_CODE_GROUP) {
                    out.push(' ');
                }
                let value = (*acc >> (5 * shift)).to_le_bytes()[0] & 31;
                out.push(char::from(encode_char(value)));
                written += 1;
            }
        }
        out
    }
}

impl FromStr for RecoveryCode {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        Self::parse(text)
    }
}

impl ConstantTimeEq for RecoveryCode {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.key.ct_eq(&other.key)
    }
}

impl PartialEq for RecoveryCode {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for RecoveryCode {}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { key: _ } = self;
        f.debug_struct("RecoveryCode").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Crockford's base32 alphabet: digits and upper-case letters without I, L, O and U.
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

    #[test]
    fn crc64_xz_check_value() {
        // The CRC catalogue's check value for CRC-64/XZ.
        assert_eq!(crc64_xz(b"123456789"), 0x995D_C9BB_DF19_39FA);
        // The empty input gives 0 (init and xorout cancel).
        assert_eq!(crc64_xz(b""), 0);
    }

    /// The mask-based codec against the alphabet table and Crockford's aliases, for
    /// every byte and a few non-ASCII characters.
    #[test]
    fn character_codec_matches_the_alphabet() {
        for (value, &ch) in (0u8..).zip(ALPHABET.iter()) {
            assert_eq!(encode_char(value), ch, "{value}");
        }
        for byte in 0..=u8::MAX {
            let upper = byte.to_ascii_uppercase();
            let expected = match upper {
                b'O' => Some(0),
                b'I' | b'L' => Some(1),
                _ => (0u8..)
                    .zip(ALPHABET.iter())
                    .find(|(_, a)| **a == upper)
                    .map(|(v, _)| v),
            };
            assert_eq!(decode_char(char::from(byte)), expected, "{byte:#04x}");
        }
        for ch in ['é', 'Ａ', '٣', '\u{10FFFF}', '\u{130}'] {
            assert_eq!(decode_char(ch), None, "{ch}");
        }
    }

    #[test]
    fn reflected_polynomial_is_the_bit_reversal() {
        assert_eq!(CRC64_XZ_REFLECTED, 0x42F0_E1EB_A9EA_3693u64.reverse_bits());
    }
}
