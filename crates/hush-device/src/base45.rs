//! Base45 (RFC 9285), the text form of the linking offer: its 45 characters are exactly
//! the QR alphanumeric set, so a QR code stores 2 bytes of offer in 3 characters of 5.5
//! bits each instead of 8-bit bytes.

use crate::error::{Error, Result};

/// The Base45 alphabet, value 0 to 44 (RFC 9285, table 1).
const ALPHABET: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

fn symbol(value: u32) -> char {
    // `value` is always below 45 here; fall back to '0' rather than index out of range.
    ALPHABET
        .get(usize::try_from(value).unwrap_or(0))
        .map_or('0', |&b| char::from(b))
}

fn value_of(c: u8) -> Result<u32> {
    ALPHABET
        .iter()
        .position(|&a| a == c)
        .and_then(|p| u32::try_from(p).ok())
        .ok_or(Error::Malformed("base45"))
}

/// Encodes `bytes` as Base45 text.
#[must_use]
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(2) * 3);
    for pair in bytes.chunks(2) {
        match *pair {
            [a, b] => {
                let n = u32::from(a) * 256 + u32::from(b);
                out.push(symbol(n % 45));
                out.push(symbol(n / 45 % 45));
                out.push(symbol(n / 2025));
            }
            [a] => {
                let n = u32::from(a);
                out.push(symbol(n % 45));
                out.push(symbol(n / 45));
            }
            _ => {}
        }
    }
    out
}

/// Decodes Base45 text.
///
/// # Errors
///
/// [`Error::Malformed`]`("base45")` for a character outside the alphabet, a text whose
/// length leaves one character over (length mod 3 == 1), or a group whose value does not
/// fit (a triple above 65535, a final pair above 255).
pub fn decode(text: &str) -> Result<Vec<u8>> {
    let text = text.as_bytes();
    if text.len() % 3 == 1 {
        return Err(Error::Malformed("base45"));
    }
    let mut out = Vec::with_capacity(text.len() / 3 * 2 + 1);
    for group in text.chunks(3) {
        match *group {
            [c, d, e] => {
                let n = value_of(c)? + value_of(d)? * 45 + value_of(e)? * 2025;
                let n = u16::try_from(n).map_err(|_| Error::Malformed("base45"))?;
                out.extend_from_slice(&n.to_be_bytes());
            }
            [c, d] => {
                let n = value_of(c)? + value_of(d)? * 45;
                out.push(u8::try_from(n).map_err(|_| Error::Malformed("base45"))?);
            }
            _ => return Err(Error::Malformed("base45")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The examples of RFC 9285 sections 4.1 to 4.3.
    #[test]
    fn rfc9285_examples() {
        for (bytes, text) in [
            (&b"AB"[..], "BB8"),
            (b"Hello!!", "%69 VD92EX0"),
            (b"base-45", "UJCLQE7W581"),
            (b"ietf!", "QED8WEX0"),
        ] {
            assert_eq!(encode(bytes), text);
            assert_eq!(decode(text).unwrap(), bytes);
        }
        assert_eq!(encode(b""), "");
        assert_eq!(decode("").unwrap(), b"");
    }

    /// RFC 9285 section 6: "GGW" is 65535 + 1 and must fail, as must characters
    /// outside the alphabet and a dangling character.
    #[test]
    fn rfc9285_decode_errors() {
        assert_eq!(decode("FGW").unwrap(), [0xff, 0xff]);
        for bad in [
            "GGW",
            "ZZZ",
            "QED8WEX0a",
            "QED8WEX",
            "abc",
            "A",
            "BB8B",
            "U:",
            "é0",
        ] {
            assert_eq!(decode(bad), Err(Error::Malformed("base45")), "{bad}");
        }
        // The largest final pair is 255 = "U5"; 256 = "V5" must fail.
        assert_eq!(decode("U5").unwrap(), [0xff]);
        assert_eq!(decode("V5"), Err(Error::Malformed("base45")));
    }

    proptest::proptest! {
        #[test]
        fn round_trips(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let text = encode(&bytes);
            proptest::prop_assert_eq!(text.len(), bytes.len() / 2 * 3 + bytes.len() % 2 * 2);
            proptest::prop_assert_eq!(decode(&text).unwrap(), bytes);
        }
    }
}
