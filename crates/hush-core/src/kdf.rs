//! HKDF-SHA256 and HMAC-SHA256: the one implementation of each that every hush protocol
//! calls.

use core::fmt;
use std::sync::OnceLock;

use hmac::{KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::limits::{MAX_HKDF_OUTPUT_LEN, MIN_MAC_TAG_LEN};

type HmacSha256State = hmac::Hmac<Sha256>;

/// Compiles only if every hash and MAC state hush-core keeps wipes itself when dropped:
/// the `zeroize` features of `sha2` and `hmac` (root `Cargo.toml`) must stay on. Without
/// them a dropped [`HmacSha256Key`] leaves its keyed inner and outer SHA-256 states (as
/// good as the key for computing MACs: a chain key, a MAC key) in freed memory, and so do
/// the SHA-512 states XEdDSA hashes its nonce secret through.
///
/// `hmac::Hmac` has no `ZeroizeOnDrop` of its own, so its parts are checked: the two
/// keyed SHA-256 cores and the block buffer it holds, and the `CtOutput` its
/// finalisation returns.
const _: () = {
    const fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    wiped_on_drop::<Sha256>();
    wiped_on_drop::<sha2::Sha512>();
    wiped_on_drop::<<Sha256 as hmac::EagerHash>::Core>();
    wiped_on_drop::<hmac::digest::block_api::Buffer<hmac::block_api::HmacCore<Sha256>>>();
    wiped_on_drop::<hmac::digest::CtOutput<HmacSha256State>>();
};

/// Length of an HMAC-SHA256 output.
pub const MAC_LENGTH: usize = 32;

/// HKDF-SHA256 (RFC 5869) extract-and-expand into `okm`. An empty `salt` means the
/// all-zero salt, as RFC 5869 specifies for an absent one.
///
/// # Errors
///
/// [`Error::KdfOutputLength`] if `okm` is longer than 255 * 32 bytes.
pub fn hkdf_sha256(salt: &[u8], ikm: &[u8], info: &[u8], okm: &mut [u8]) -> Result<()> {
    hkdf_sha256_parts(salt, ikm, &[info], okm)
}

/// HKDF-SHA256 with `info` given in parts (concatenated), so callers need not build a
/// buffer.
///
/// Written here on top of [`HmacSha256Key`] rather than taken from the `hkdf` crate:
/// `hkdf` 0.13 has no `zeroize` feature and drops the pseudorandom key and each output
/// block `T(i)` without wiping them. Here both live in wiping buffers.
///
/// # Errors
///
/// [`Error::KdfOutputLength`] if `okm` is longer than 255 * 32 bytes.
pub fn hkdf_sha256_parts(salt: &[u8], ikm: &[u8], info: &[&[u8]], okm: &mut [u8]) -> Result<()> {
    if okm.len() > MAX_HKDF_OUTPUT_LEN {
        return Err(Error::KdfOutputLength(okm.len()));
    }
    // Extract (RFC 5869 section 2.2): an absent salt is HashLen zero bytes.
    let prk = if salt.is_empty() {
        HmacSha256Key::new(&[0u8; MAC_LENGTH]).mac(ikm)
    } else {
        HmacSha256Key::new(salt).mac(ikm)
    };
    hkdf_expand(prk.as_slice(), info, okm)
}

/// HKDF-SHA256's expand step (RFC 5869 section 2.3) from a pseudorandom key:
/// `T(i) = HMAC(PRK, T(i - 1) || info || i)`, `i` from 1. `okm` is at most 255 * 32
/// bytes (checked by the callers).
fn hkdf_expand(prk: &[u8], info: &[&[u8]], okm: &mut [u8]) -> Result<()> {
    let expander = HmacSha256Key::new(prk);
    let okm_len = okm.len();
    let mut previous: Option<Zeroizing<[u8; MAC_LENGTH]>> = None;
    for (index, block) in okm.chunks_mut(MAC_LENGTH).enumerate() {
        // At most 255 blocks, checked by the callers.
        let counter =
            u8::try_from(index.saturating_add(1)).map_err(|_| Error::KdfOutputLength(okm_len))?;
        let mut state = expander.state.clone();
        if let Some(previous) = &previous {
            state.update(previous.as_slice());
        }
        for part in info {
            state.update(part);
        }
        state.update(&[counter]);
        let t = finish(state);
        let take = t
            .get(..block.len())
            .ok_or(Error::KdfOutputLength(okm_len))?;
        block.copy_from_slice(take);
        previous = Some(t);
    }
    Ok(())
}

/// Finalises an HMAC state into a wiping buffer. `CtOutput` wipes itself on drop;
/// `into_bytes` would return an unwiped copy, so the bytes are copied out of it instead.
fn finish(state: HmacSha256State) -> Zeroizing<[u8; MAC_LENGTH]> {
    let output = state.finalize();
    let mut tag = Zeroizing::new([0u8; MAC_LENGTH]);
    tag.copy_from_slice(output.as_bytes());
    tag
}

/// HKDF-SHA256 with the all-zero salt (which is also what an absent salt means), `info`
/// given in parts.
///
/// The output equals [`hkdf_sha256_parts`] with an empty salt. The HMAC state keyed with
/// the zero salt is computed once and kept, so each call skips the two SHA-256
/// compressions of keying the extract step (about a fifth of a 64-byte derivation):
/// worth it for KDFs that run once per message, such as SPQR's chain step.
///
/// # Errors
///
/// [`Error::KdfOutputLength`] if `okm` is longer than 255 * 32 bytes.
pub fn hkdf_sha256_zero_salt_parts(ikm: &[u8], info: &[&[u8]], okm: &mut [u8]) -> Result<()> {
    static ZERO_SALT: OnceLock<HmacSha256State> = OnceLock::new();
    if okm.len() > MAX_HKDF_OUTPUT_LEN {
        return Err(Error::KdfOutputLength(okm.len()));
    }
    let mut extract = ZERO_SALT
        .get_or_init(|| HmacSha256Key::new(&[0; MAC_LENGTH]).state)
        .clone();
    extract.update(ikm);
    let prk = finish(extract);
    hkdf_expand(prk.as_slice(), info, okm)
}

/// HKDF-SHA256 into a fixed-size array that is wiped when dropped.
///
/// # Errors
///
/// [`Error::KdfOutputLength`] if `N` is larger than 255 * 32.
pub fn hkdf_sha256_array<const N: usize>(
    salt: &[u8],
    ikm: &[u8],
    info: &[u8],
) -> Result<Zeroizing<[u8; N]>> {
    let mut out = Zeroizing::new([0u8; N]);
    hkdf_sha256(salt, ikm, info, out.as_mut())?;
    Ok(out)
}

/// An HMAC-SHA256 key with its inner and outer pads already absorbed.
///
/// Keying costs two SHA-256 compressions; a chain step that computes two MACs under one
/// key (libsignal's message-key and next-chain-key seeds) pays that once by keying a
/// `HmacSha256Key` and calling [`HmacSha256Key::mac`] twice.
#[derive(Clone)]
pub struct HmacSha256Key {
    state: HmacSha256State,
}

impl HmacSha256Key {
    /// Keys HMAC-SHA256 with `key` (any length, as RFC 2104 allows).
    #[must_use]
    pub fn new(key: &[u8]) -> Self {
        // HMAC accepts keys of every length, so `new_from_slice` cannot fail; fall back
        // to hashing through the `Mac` trait's behaviour for long keys regardless.
        let state = match <HmacSha256State as KeyInit>::new_from_slice(key) {
            Ok(state) => state,
            Err(_) => <HmacSha256State as KeyInit>::new(&Default::default()),
        };
        Self { state }
    }

    /// The MAC of `data`, wiped when dropped (chain keys are made this way).
    #[must_use]
    pub fn mac(&self, data: &[u8]) -> Zeroizing<[u8; MAC_LENGTH]> {
        self.mac_parts(&[data])
    }

    /// The MAC of the concatenation of `parts`.
    #[must_use]
    pub fn mac_parts(&self, parts: &[&[u8]]) -> Zeroizing<[u8; MAC_LENGTH]> {
        let mut state = self.state.clone();
        for part in parts {
            state.update(part);
        }
        finish(state)
    }

    /// Checks `tag` against the MAC of the concatenation of `parts` in constant time.
    /// `tag` may be truncated to any length from 8 to 32 bytes; its prefix is compared.
    ///
    /// # Errors
    ///
    /// [`Error::MacLength`] for a tag shorter than 8 or longer than 32 bytes.
    pub fn verify_parts(&self, parts: &[&[u8]], tag: &[u8]) -> Result<bool> {
        if !(MIN_MAC_TAG_LEN..=MAC_LENGTH).contains(&tag.len()) {
            return Err(Error::MacLength(tag.len()));
        }
        let full = self.mac_parts(parts);
        let prefix = full.get(..tag.len()).ok_or(Error::MacLength(tag.len()))?;
        Ok(prefix.ct_eq(tag).into())
    }
}

impl fmt::Debug for HmacSha256Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HmacSha256Key").finish_non_exhaustive()
    }
}

/// HMAC-SHA256 of `data` under `key`, wiped when dropped.
#[must_use]
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> Zeroizing<[u8; MAC_LENGTH]> {
    HmacSha256Key::new(key).mac(data)
}

/// Checks a (possibly truncated) HMAC-SHA256 tag in constant time.
///
/// # Errors
///
/// [`Error::MacLength`] for a tag shorter than 8 or longer than 32 bytes.
pub fn verify_hmac_sha256(key: &[u8], data: &[u8], tag: &[u8]) -> Result<bool> {
    HmacSha256Key::new(key).verify_parts(&[data], tag)
}

/// Constant-time equality of two byte strings (lengths are compared in variable time:
/// they are public).
#[must_use]
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn rfc5869_case_1() {
        let mut okm = [0u8; 42];
        hkdf_sha256(
            &unhex("000102030405060708090a0b0c"),
            &[0x0b; 22],
            &unhex("f0f1f2f3f4f5f6f7f8f9"),
            &mut okm,
        )
        .unwrap();
        assert_eq!(
            hex::encode(okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        );
    }

    /// RFC 5869 A.2: long inputs, 82 bytes of output (three blocks, the last partial).
    #[test]
    fn rfc5869_case_2() {
        let ikm: Vec<u8> = (0x00..=0x4f).collect();
        let salt: Vec<u8> = (0x60..=0xaf).collect();
        let info: Vec<u8> = (0xb0..=0xff).collect();
        let mut okm = [0u8; 82];
        hkdf_sha256(&salt, &ikm, &info, &mut okm).unwrap();
        assert_eq!(
            hex::encode(okm),
            "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c\
             59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71\
             cc30c58179ec3e87c14c01d5c1f3434f1d87"
        );
        // Info in parts is info concatenated.
        let mut parts = [0u8; 82];
        let (a, b) = info.split_at(17);
        hkdf_sha256_parts(&salt, &ikm, &[a, &[], b], &mut parts).unwrap();
        assert_eq!(parts, okm);
    }

    /// RFC 5869 A.3: empty salt and info.
    #[test]
    fn rfc5869_case_3() {
        let mut okm = [0u8; 42];
        hkdf_sha256(&[], &[0x0b; 22], &[], &mut okm).unwrap();
        assert_eq!(
            hex::encode(okm),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
        );
        // The largest output is accepted.
        let mut longest = vec![0u8; MAX_HKDF_OUTPUT_LEN];
        hkdf_sha256(&[], b"ikm", b"", &mut longest).unwrap();
    }

    #[test]
    fn zero_salt_variant_matches_the_general_one() {
        for (ikm, info) in [
            (&b""[..], &[&b""[..]][..]),
            (&[0x0b; 22][..], &[&b"f0f1"[..], b"f2"][..]),
            (
                &[7; 100][..],
                &[&b"Signal PQ Ratchet V1 Chain Next"[..]][..],
            ),
        ] {
            for len in [0, 32, 64, 96, 255 * 32] {
                let (mut a, mut b, mut c) = (vec![0u8; len], vec![0u8; len], vec![0u8; len]);
                hkdf_sha256_zero_salt_parts(ikm, info, &mut a).unwrap();
                hkdf_sha256_parts(&[], ikm, info, &mut b).unwrap();
                hkdf_sha256_parts(&[0; 32], ikm, info, &mut c).unwrap();
                assert_eq!((&a, &a), (&b, &c));
            }
        }
        // RFC 5869 test case 3 (zero-length salt and info).
        let mut okm = [0u8; 42];
        hkdf_sha256_zero_salt_parts(&[0x0b; 22], &[], &mut okm).unwrap();
        assert_eq!(
            hex::encode(okm),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
        );
        let mut long = vec![0u8; MAX_HKDF_OUTPUT_LEN + 1];
        assert_eq!(
            hkdf_sha256_zero_salt_parts(b"ikm", &[], &mut long),
            Err(Error::KdfOutputLength(8161))
        );
    }

    #[test]
    fn hkdf_refuses_too_much_output() {
        let mut okm = vec![0u8; MAX_HKDF_OUTPUT_LEN + 1];
        assert_eq!(
            hkdf_sha256(&[], b"ikm", b"", &mut okm),
            Err(Error::KdfOutputLength(8161))
        );
    }

    #[test]
    fn rfc4231_case_2() {
        let tag = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(*tag),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(verify_hmac_sha256(b"Jefe", b"what do ya want for nothing?", &tag[..8]).unwrap());
        let mut bad = *tag;
        bad[3] ^= 1;
        assert!(!verify_hmac_sha256(b"Jefe", b"what do ya want for nothing?", &bad).unwrap());
        assert_eq!(
            verify_hmac_sha256(b"Jefe", b"", &tag[..7]),
            Err(Error::MacLength(7))
        );
    }

    #[test]
    fn parts_equal_concatenation() {
        let key = HmacSha256Key::new(&[9; 32]);
        assert_eq!(*key.mac_parts(&[b"ab", b"", b"cd"]), *key.mac(b"abcd"));
    }
}
