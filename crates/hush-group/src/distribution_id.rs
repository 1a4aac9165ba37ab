//! The distribution id: the UUID that names one sender's key for one group.

use core::fmt;
use core::str::FromStr;

use crate::error::{Error, Result};

/// Length of a distribution id on the wire.
pub const DISTRIBUTION_ID_LENGTH: usize = 16;

/// A distribution id: 16 bytes (a UUID) that the sender chooses per group and that every
/// [`crate::SenderKeyMessage`] and [`crate::SenderKeyDistributionMessage`] carries.
///
/// Together with the sender's address it is the key under which an app stores a
/// [`crate::SenderKeyRecord`]. It is public: it travels in clear inside every message.
///
/// It prints and parses as a hyphenated UUID (`d1a6c4e5-0b8f-4c5e-9f3a-2b7d8e9f0a11`), as
/// libsignal's API and the interop protocol write it.
///
/// ```
/// use hush_group::DistributionId;
///
/// let id: DistributionId = "0F0E0D0C-0B0A-4908-8706-050403020100".parse()?;
/// assert_eq!(id.as_bytes()[0], 0x0f);
/// assert_eq!(id.to_string(), "0f0e0d0c-0b0a-4908-8706-050403020100");
/// # Ok::<(), hush_group::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DistributionId([u8; DISTRIBUTION_ID_LENGTH]);

impl DistributionId {
    /// Wraps 16 bytes. Every value is a valid id (libsignal does not check the UUID
    /// version or variant bits either).
    #[must_use]
    pub const fn from_bytes(bytes: [u8; DISTRIBUTION_ID_LENGTH]) -> Self {
        Self(bytes)
    }

    /// Draws a fresh random (version 4) id from `rng`: 16 bytes in one draw, then the
    /// version and variant bits set as RFC 9562 asks.
    pub fn generate<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0u8; DISTRIBUTION_ID_LENGTH];
        rng.fill_bytes(&mut bytes);
        if let Some(b) = bytes.get_mut(6) {
            *b = (*b & 0x0f) | 0x40;
        }
        if let Some(b) = bytes.get_mut(8) {
            *b = (*b & 0x3f) | 0x80;
        }
        Self(bytes)
    }

    /// Reads an id from a slice.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] unless `bytes` is 16 bytes long.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        bytes
            .try_into()
            .map(Self)
            .map_err(|_| Error::Malformed("distribution id"))
    }

    /// The 16 bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; DISTRIBUTION_ID_LENGTH] {
        &self.0
    }
}

impl fmt::Display for DistributionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for DistributionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DistributionId({self})")
    }
}

impl FromStr for DistributionId {
    type Err = Error;

    /// Parses the hyphenated UUID form (36 characters, hex digits in either case).
    fn from_str(text: &str) -> Result<Self> {
        let text = text.as_bytes();
        if text.len() != 36 {
            return Err(Error::Malformed("distribution id"));
        }
        let mut out = [0u8; DISTRIBUTION_ID_LENGTH];
        let mut digits = text.iter().enumerate().filter_map(|(i, &c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                (c != b'-').then_some(None)
            } else {
                Some(hex_value(c))
            }
        });
        for byte in &mut out {
            let high = digits
                .next()
                .flatten()
                .ok_or(Error::Malformed("distribution id"))?;
            let low = digits
                .next()
                .flatten()
                .ok_or(Error::Malformed("distribution id"))?;
            *byte = (high << 4) | low;
        }
        if digits.next().is_some() {
            return Err(Error::Malformed("distribution id"));
        }
        Ok(Self(out))
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let id: DistributionId = "d1a6c4e5-0b8f-4c5e-9f3a-2b7d8e9f0a11".parse().unwrap();
        assert_eq!(
            hex::encode(id.as_bytes()),
            "d1a6c4e50b8f4c5e9f3a2b7d8e9f0a11"
        );
        assert_eq!(id.to_string(), "d1a6c4e5-0b8f-4c5e-9f3a-2b7d8e9f0a11");
        assert_eq!(
            format!("{id:?}"),
            "DistributionId(d1a6c4e5-0b8f-4c5e-9f3a-2b7d8e9f0a11)"
        );
    }

    #[test]
    fn refuses_bad_text() {
        for bad in [
            "",
            "d1a6c4e50b8f4c5e9f3a2b7d8e9f0a11",
            "d1a6c4e5-0b8f-4c5e-9f3a-2b7d8e9f0a1",
            "d1a6c4e5-0b8f-4c5e-9f3a-2b7d8e9f0a111",
            "d1a6c4e5x0b8f-4c5e-9f3a-2b7d8e9f0a11",
            "d1a6c4e5-0b8f-4c5e-9f3a-2b7d8e9f0a1g",
            "d1a6c4e-50b8f-4c5e-9f3a-2b7d8e9f0a11",
            "d1a6c4e5-0b8f-4c5e-9f3a-2b7d8e9f0aé",
        ] {
            assert_eq!(
                bad.parse::<DistributionId>(),
                Err(Error::Malformed("distribution id")),
                "{bad}"
            );
        }
    }

    #[test]
    fn generated_ids_are_version_4() {
        let mut rng = hush_test_support::test_rng(1);
        let id = DistributionId::generate(&mut rng);
        assert_eq!(id.as_bytes()[6] >> 4, 4);
        assert_eq!(id.as_bytes()[8] >> 6, 0b10);
        assert_ne!(id, DistributionId::generate(&mut rng));
    }
}
