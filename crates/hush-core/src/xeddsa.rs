//! XEdDSA signatures over Curve25519 keys, byte-compatible with libsignal.
//!
//! Signing follows the [XEdDSA specification] with libsignal's encoding: the sign bit of
//! the signer's Edwards public key travels in the top bit of the signature's last byte,
//! and 64 random bytes from the caller's RNG feed the nonce hash.
//!
//! Verification is libsignal's equation, made strict about encodings: the public key's
//! u-coordinate must be canonical (below 2^255 - 19), `s` must be a canonical scalar
//! (below the group order), and `R` must be the canonical encoding of the recomputed
//! point. A signature made by libsignal always meets these rules; only hand-crafted
//! malleated forms are refused where libsignal would accept them.
//!
//! [XEdDSA specification]: https://signal.org/docs/specifications/xeddsa/

use core::fmt;
use std::collections::BTreeMap;

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::curve::{PrivateKey, PublicKey};
use crate::error::{Error, Result};
use crate::rng::CryptoRng;

/// Length of an XEdDSA signature.
pub const SIGNATURE_LENGTH: usize = 64;

/// The prefix of the nonce hash: 0xfe followed by 31 bytes of 0xff (the XEdDSA spec's
/// `hash_1` domain separator, 2^256 - 2 in little-endian).
const NONCE_HASH_PREFIX: [u8; 32] = {
    let mut prefix = [0xff; 32];
    prefix[0] = 0xfe;
    prefix
};

/// A 64-byte XEdDSA signature: `R` (32 bytes), then `s` with the signer's sign bit in the
/// top bit of the last byte.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature([u8; SIGNATURE_LENGTH]);

impl Signature {
    /// Wraps 64 bytes. Every value is accepted here; verification judges it.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; SIGNATURE_LENGTH]) -> Self {
        Self(bytes)
    }

    /// Reads a signature from a slice.
    ///
    /// # Errors
    ///
    /// [`Error::BadLength`] unless `bytes` is 64 bytes long.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        bytes.try_into().map(Self).map_err(|_| Error::BadLength {
            what: "signature",
            expected: SIGNATURE_LENGTH,
            actual: bytes.len(),
        })
    }

    /// The 64 bytes.
    #[must_use]
    pub const fn to_bytes(&self) -> [u8; SIGNATURE_LENGTH] {
        self.0
    }

    /// The 64 bytes, borrowed.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; SIGNATURE_LENGTH] {
        &self.0
    }

    fn split(&self) -> ([u8; 32], [u8; 32], u8) {
        let mut r = [0u8; 32];
        let mut s = [0u8; 32];
        let (r_part, s_part) = self.0.split_at(32);
        r.copy_from_slice(r_part);
        s.copy_from_slice(s_part);
        let sign = s[31] >> 7;
        s[31] &= 0x7f;
        (r, s, sign)
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature(")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

impl PrivateKey {
    /// Signs `message`, drawing 64 random bytes from `rng` (libsignal's single draw).
    pub fn sign<R: CryptoRng + ?Sized>(&self, message: &[u8], rng: &mut R) -> Signature {
        let mut random = Zeroizing::new([0u8; 64]);
        rng.fill_bytes(random.as_mut());
        let scalar_bytes = self.scalar_bytes();
        let a = Zeroizing::new(Scalar::from_bytes_mod_order(*scalar_bytes));
        let edwards_public = self.edwards_public();

        let r = Zeroizing::new(scalar_from_hash(
            Sha512::new()
                .chain_update(NONCE_HASH_PREFIX)
                .chain_update(scalar_bytes)
                .chain_update(message)
                .chain_update(random.as_slice()),
        ));
        let big_r = EdwardsPoint::mul_base(&r).compress();
        let h = challenge(&big_r, &edwards_public, message);
        let s = h * *a + *r;

        let mut out = [0u8; SIGNATURE_LENGTH];
        let (r_part, s_part) = out.split_at_mut(32);
        r_part.copy_from_slice(big_r.as_bytes());
        s_part.copy_from_slice(s.as_bytes());
        let sign_bit = edwards_public.as_bytes()[31] & 0x80;
        if let Some(last) = out.last_mut() {
            *last = (*last & 0x7f) | sign_bit;
        }
        Signature(out)
    }
}

impl PublicKey {
    /// Checks an XEdDSA signature over `message`. For many checks with the same key,
    /// build a [`VerifyingKey`] once.
    #[must_use]
    pub fn verify(&self, message: &[u8], signature: &Signature) -> bool {
        VerifyingKey::new(self).verify(message, signature)
    }
}

/// A public key decoded once into the Edwards form that verification needs, so that
/// checking many signatures by one key (a sender key, an identity key on a server) does
/// not redo the Montgomery-to-Edwards conversion each time.
#[derive(Clone)]
pub struct VerifyingKey {
    public: PublicKey,
    /// `None` when the key is not canonical or has no Edwards form: every check fails.
    edwards: Option<EdwardsForms>,
}

#[derive(Clone)]
struct EdwardsForms {
    /// The point for sign bits 0 and 1, and their compressed encodings.
    points: [EdwardsPoint; 2],
    compressed: [CompressedEdwardsY; 2],
}

impl VerifyingKey {
    /// Decodes `public` for verification.
    #[must_use]
    pub fn new(public: &PublicKey) -> Self {
        let edwards = if public.is_canonical() {
            public.montgomery().to_edwards(0).map(|even| {
                let odd = -even;
                EdwardsForms {
                    points: [even, odd],
                    compressed: [even.compress(), odd.compress()],
                }
            })
        } else {
            None
        };
        Self {
            public: *public,
            edwards,
        }
    }

    /// The key this was made from.
    #[must_use]
    pub const fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// Checks an XEdDSA signature over `message`.
    #[must_use]
    pub fn verify(&self, message: &[u8], signature: &Signature) -> bool {
        let (r, s, sign) = signature.split();
        let Some(forms) = &self.edwards else {
            return false;
        };
        let (point, compressed) = forms.select(sign);
        verify_edwards(point, compressed, &r, &s, message)
    }
}

impl EdwardsForms {
    fn select(&self, sign: u8) -> (&EdwardsPoint, &CompressedEdwardsY) {
        let [even, odd] = &self.points;
        let [even_c, odd_c] = &self.compressed;
        if sign == 0 {
            (even, even_c)
        } else {
            (odd, odd_c)
        }
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("public", &self.public)
            .field("usable", &self.edwards.is_some())
            .finish()
    }
}

impl From<&PublicKey> for VerifyingKey {
    fn from(public: &PublicKey) -> Self {
        Self::new(public)
    }
}

fn challenge(r: &CompressedEdwardsY, a: &CompressedEdwardsY, message: &[u8]) -> Scalar {
    scalar_from_hash(
        Sha512::new()
            .chain_update(r.as_bytes())
            .chain_update(a.as_bytes())
            .chain_update(message),
    )
}

/// Reduces a SHA-512 digest modulo the group order.
fn scalar_from_hash(hash: Sha512) -> Scalar {
    let mut wide = Zeroizing::new([0u8; 64]);
    wide.copy_from_slice(&hash.finalize());
    Scalar::from_bytes_mod_order_wide(&wide)
}

/// The cofactorless Edwards verification equation shared by XEdDSA and the Ed25519
/// conformance wrapper: `R == [s]B - [h]A`, with `s` canonical and `R` compared as bytes
/// (so a non-canonical `R` never matches).
pub(crate) fn verify_edwards(
    a: &EdwardsPoint,
    a_compressed: &CompressedEdwardsY,
    r: &[u8; 32],
    s: &[u8; 32],
    message: &[u8],
) -> bool {
    let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(*s)) else {
        return false;
    };
    let h = challenge(&CompressedEdwardsY(*r), a_compressed, message);
    let recomputed = EdwardsPoint::vartime_double_scalar_mul_basepoint(&h, &-a, &s).compress();
    recomputed.as_bytes().ct_eq(r).into()
}

/// One signature to check in [`verify_batch`].
#[derive(Debug, Clone, Copy)]
pub struct BatchItem<'a> {
    /// The signer's key.
    pub key: &'a VerifyingKey,
    /// The signed message.
    pub message: &'a [u8],
    /// The signature.
    pub signature: &'a Signature,
}

/// The outcome of [`verify_batch`]: which signatures failed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BatchVerdict {
    invalid: Vec<usize>,
}

impl BatchVerdict {
    /// Whether every signature verified.
    #[must_use]
    pub fn all_valid(&self) -> bool {
        self.invalid.is_empty()
    }

    /// The positions, in input order, of the signatures that did not verify.
    #[must_use]
    pub fn invalid(&self) -> &[usize] {
        &self.invalid
    }
}

/// Checks many signatures at once, for servers.
///
/// Signatures that fail a cheap structural check (key, `s` or `R` encoding) are marked
/// invalid straight away. The rest are checked together with one multi-scalar
/// multiplication under random 128-bit weights drawn from `rng`; keys that appear more
/// than once (an identity key signing a whole upload) are folded into one term. If that
/// combined equation fails, each remaining signature is checked on its own, so the
/// verdict names exactly the ones [`VerifyingKey::verify`] rejects.
///
/// The combined check agrees with one-by-one verification except with probability
/// 2^-128, with one documented exception: a key holder can deliberately build signatures
/// whose `R` carries a small-order component. One-by-one verification rejects those; the
/// combined check lets a set of them through with probability up to 1/2. No XEdDSA
/// signer (libsignal included) produces such signatures, and they can only be made for
/// the crafter's own key. See `docs/xeddsa.md`.
pub fn verify_batch<R: CryptoRng + ?Sized>(items: &[BatchItem<'_>], rng: &mut R) -> BatchVerdict {
    struct Candidate {
        index: usize,
        r_point: EdwardsPoint,
    }

    let mut invalid = Vec::new();
    let mut candidates: Vec<Candidate> = Vec::with_capacity(items.len());
    let mut scalars: Vec<Scalar> = Vec::with_capacity(items.len() + 2);
    // Folded key terms, keyed by the sign-0 compressed key.
    let mut key_terms: BTreeMap<[u8; 32], (EdwardsPoint, Scalar)> = BTreeMap::new();
    let mut basepoint_scalar = Scalar::ZERO;

    for (index, item) in items.iter().enumerate() {
        let (r, s, sign) = item.signature.split();
        let Some(forms) = &item.key.edwards else {
            invalid.push(index);
            continue;
        };
        let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(s)) else {
            invalid.push(index);
            continue;
        };
        let r_compressed = CompressedEdwardsY(r);
        let Some(r_point) = r_compressed
            .decompress()
            .filter(|p| p.compress() == r_compressed)
        else {
            invalid.push(index);
            continue;
        };
        let (_, a_compressed) = forms.select(sign);
        let h = challenge(&r_compressed, a_compressed, item.message);
        let z = random_weight(rng);
        scalars.push(z);
        basepoint_scalar -= z * s;
        // [h]A for sign 1 is -[h]A_even.
        let weight = if sign == 0 { z * h } else { -(z * h) };
        let [even, _] = &forms.points;
        let [even_c, _] = &forms.compressed;
        key_terms
            .entry(even_c.to_bytes())
            .and_modify(|(_, w)| *w += weight)
            .or_insert((*even, weight));
        candidates.push(Candidate { index, r_point });
    }

    if !candidates.is_empty() {
        let mut points: Vec<EdwardsPoint> = candidates.iter().map(|c| c.r_point).collect();
        for (point, weight) in key_terms.values() {
            points.push(*point);
            scalars.push(*weight);
        }
        points.push(ED25519_BASEPOINT_POINT);
        scalars.push(basepoint_scalar);
        let combined = EdwardsPoint::vartime_multiscalar_mul(&scalars, &points);
        if !combined.is_identity() {
            for candidate in &candidates {
                if let Some(item) = items.get(candidate.index)
                    && !item.key.verify(item.message, item.signature)
                {
                    invalid.push(candidate.index);
                }
            }
        }
    }
    invalid.sort_unstable();
    BatchVerdict { invalid }
}

fn random_weight<R: CryptoRng + ?Sized>(rng: &mut R) -> Scalar {
    let mut bytes = [0u8; 32];
    if let Some(low) = bytes.get_mut(..16) {
        rng.fill_bytes(low);
    }
    Scalar::from_bytes_mod_order(bytes)
}

#[cfg(test)]
mod tests;
