//! Curve25519 keys in libsignal's wire form, and X25519 agreement.
//!
//! A public key travels as 33 bytes: the type byte [`DJB_KEY_TYPE`] followed by the
//! 32-byte Montgomery u-coordinate. A private key is a 32-byte clamped scalar.

use core::fmt;

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::montgomery::MontgomeryPoint;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Error, Result};
use crate::rng::CryptoRng;

/// The type byte libsignal puts in front of a Curve25519 public key.
pub const DJB_KEY_TYPE: u8 = 0x05;

/// Length of a serialised public key: type byte plus 32 bytes.
pub const PUBLIC_KEY_LENGTH: usize = 33;

/// Length of a private key.
pub const PRIVATE_KEY_LENGTH: usize = 32;

/// A Curve25519 public key (Montgomery form), as libsignal uses for identity keys,
/// prekeys, ratchet keys and sender signing keys.
///
/// Public keys are not secret: this type is `Copy` and compares in variable time.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Zeroize)]
pub struct PublicKey {
    u: [u8; 32],
}

impl PublicKey {
    /// Builds a key from the bare 32-byte u-coordinate. Every value is accepted, as in
    /// libsignal and RFC 7748; signature verification later rejects non-canonical ones.
    #[must_use]
    pub const fn from_montgomery_bytes(u: [u8; 32]) -> Self {
        Self { u }
    }

    /// Decodes the 33-byte serialised form.
    ///
    /// # Errors
    ///
    /// [`Error::BadLength`] unless `bytes` is exactly 33 bytes long (libsignal tolerates
    /// trailing bytes; hush does not), [`Error::UnknownKeyType`] unless the first byte is
    /// [`DJB_KEY_TYPE`].
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let (&key_type, rest) = bytes.split_first().ok_or(Error::BadLength {
            what: "public key",
            expected: PUBLIC_KEY_LENGTH,
            actual: 0,
        })?;
        if key_type != DJB_KEY_TYPE {
            return Err(Error::UnknownKeyType(key_type));
        }
        let u: [u8; 32] = rest.try_into().map_err(|_| Error::BadLength {
            what: "public key",
            expected: PUBLIC_KEY_LENGTH,
            actual: bytes.len(),
        })?;
        Ok(Self { u })
    }

    /// The 33-byte serialised form.
    #[must_use]
    pub fn encode(&self) -> [u8; PUBLIC_KEY_LENGTH] {
        let mut out = [0u8; PUBLIC_KEY_LENGTH];
        let (head, tail) = out.split_at_mut(1);
        head.copy_from_slice(&[DJB_KEY_TYPE]);
        tail.copy_from_slice(&self.u);
        out
    }

    /// The bare 32-byte u-coordinate.
    #[must_use]
    pub const fn as_montgomery_bytes(&self) -> &[u8; 32] {
        &self.u
    }

    /// Whether the u-coordinate is the canonical encoding of a field element (below
    /// 2^255 - 19).
    #[must_use]
    pub fn is_canonical(&self) -> bool {
        let [.., last] = self.u;
        if last & 0x80 != 0 {
            return false;
        }
        // Values in [2^255 - 19, 2^255) are 0xed..0xff, then thirty 0xff, then 0x7f.
        let [first, middle @ .., _] = &self.u;
        !(last == 0x7f && *first >= 0xed && middle.iter().all(|&b| b == 0xff))
    }

    pub(crate) fn montgomery(&self) -> MontgomeryPoint {
        MontgomeryPoint(self.u)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey(")?;
        for b in self.encode() {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// A Curve25519 private key: a clamped scalar.
///
/// Wiped on drop, never `Copy`, never printed. The public key and the Edwards form used
/// for XEdDSA signing are computed once, when the key is made.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct PrivateKey {
    scalar: [u8; 32],
    #[zeroize(skip)]
    public: PublicKey,
    /// The Edwards form XEdDSA signs with; `None` for a pair rebuilt from storage by
    /// [`KeyPair::from_stored`], where it is computed when the key first signs.
    #[zeroize(skip)]
    edwards_public: Option<CompressedEdwardsY>,
}

impl PrivateKey {
    /// Draws a fresh key: 32 bytes from `rng` (libsignal's single draw), then clamped.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(bytes.as_mut());
        Self::from_bytes(*bytes)
    }

    /// Builds a key from 32 bytes, clamping them as X25519 does. Every input is valid.
    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let mut scalar = Zeroizing::new(bytes);
        clamp(&mut scalar);
        let point = EdwardsPoint::mul_base_clamped(*scalar);
        Self {
            scalar: *scalar,
            public: PublicKey::from_montgomery_bytes(point.to_montgomery().to_bytes()),
            edwards_public: Some(point.compress()),
        }
    }

    /// Decodes a 32-byte private key.
    ///
    /// # Errors
    ///
    /// [`Error::BadLength`] unless `bytes` is 32 bytes long.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let array: [u8; 32] = bytes.try_into().map_err(|_| Error::BadLength {
            what: "private key",
            expected: PRIVATE_KEY_LENGTH,
            actual: bytes.len(),
        })?;
        let array = Zeroizing::new(array);
        Ok(Self::from_bytes(*array))
    }

    /// The clamped scalar, in a wrapper that wipes it when dropped.
    #[must_use]
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.scalar)
    }

    /// The matching public key.
    #[must_use]
    pub const fn public_key(&self) -> PublicKey {
        self.public
    }

    /// X25519 agreement with `their_public`.
    ///
    /// # Errors
    ///
    /// [`Error::NonContributory`] when the output is all zero, i.e. `their_public` has
    /// small order.
    pub fn agree(&self, their_public: &PublicKey) -> Result<SharedSecret> {
        let shared = Zeroizing::new(x25519(&self.scalar, their_public));
        if bool::from(shared.ct_eq(&[0u8; 32])) {
            return Err(Error::NonContributory);
        }
        Ok(SharedSecret(*shared))
    }

    /// Two X25519 agreements with one peer key, `(self, their_public)` and
    /// `(other, their_public)`, for less than two calls to [`PrivateKey::agree`]: the
    /// peer's point is decoded once and both results converted back with one inversion.
    /// Sealed sender needs exactly this (an ephemeral and an identity key, both against
    /// a recipient's identity key).
    ///
    /// # Errors
    ///
    /// [`Error::NonContributory`] when either output is all zero (`their_public` has
    /// small order; then both are).
    pub fn agree_pair(
        &self,
        other: &Self,
        their_public: &PublicKey,
    ) -> Result<(SharedSecret, SharedSecret)> {
        let (first, second) = match their_public.montgomery().to_edwards(0) {
            Some(point) => {
                let mut products = [
                    point.mul_clamped(self.scalar),
                    point.mul_clamped(other.scalar),
                ];
                let [first, second] = match <[MontgomeryPoint; 2]>::try_from(
                    EdwardsPoint::to_montgomery_batch(&products),
                ) {
                    Ok(both) => both,
                    Err(_) => [products[0].to_montgomery(), products[1].to_montgomery()],
                };
                products.zeroize();
                (
                    Zeroizing::new(first.to_bytes()),
                    Zeroizing::new(second.to_bytes()),
                )
            }
            None => (
                Zeroizing::new(x25519(&self.scalar, their_public)),
                Zeroizing::new(x25519(&other.scalar, their_public)),
            ),
        };
        if bool::from(first.ct_eq(&[0u8; 32]) | second.ct_eq(&[0u8; 32])) {
            return Err(Error::NonContributory);
        }
        Ok((SharedSecret(*first), SharedSecret(*second)))
    }

    pub(crate) const fn scalar_bytes(&self) -> &[u8; 32] {
        &self.scalar
    }

    pub(crate) fn edwards_public(&self) -> CompressedEdwardsY {
        self.edwards_public
            .unwrap_or_else(|| EdwardsPoint::mul_base_clamped(self.scalar).compress())
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            scalar: _,
            public,
            edwards_public: _,
        } = self;
        f.debug_struct("PrivateKey")
            .field("public", public)
            .finish_non_exhaustive()
    }
}

impl PartialEq for PrivateKey {
    fn eq(&self, other: &Self) -> bool {
        self.scalar.ct_eq(&other.scalar).into()
    }
}

impl Eq for PrivateKey {}

/// X25519 (RFC 7748): the u-coordinate of `[clamp(scalar)] P` for a point `P` with
/// u-coordinate `public`.
///
/// When `public` is on the curve the multiplication runs on the Edwards form of `P`
/// (one square root to decompress it, dalek's variable-base multiplication, one inversion
/// back): curve25519-dalek's vector backend makes that about 30 % faster than its
/// Montgomery ladder on x86-64 with AVX2 (`docs/PERFORMANCE.md`, "Sealed sender"). Both
/// sign choices of `P` give the same u, and a clamped scalar is a multiple of 8 on both
/// routes, so the output is the ladder's, byte for byte, for every input. Points on the
/// twist (no Edwards form) and u = -1 take the ladder. Which route runs depends only on
/// the public key; both are constant-time in the scalar.
fn x25519(scalar: &[u8; 32], public: &PublicKey) -> [u8; 32] {
    let u = public.montgomery();
    match u.to_edwards(0) {
        Some(point) => {
            let mut product = point.mul_clamped(*scalar);
            let out = product.to_montgomery().to_bytes();
            product.zeroize();
            out
        }
        None => u.mul_clamped(*scalar).to_bytes(),
    }
}

fn clamp(bytes: &mut [u8; 32]) {
    let [first, .., last] = bytes;
    *first &= 0xf8;
    *last &= 0x7f;
    *last |= 0x40;
}

/// A private key with its public key: what a party holds for a prekey or ratchet key.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct KeyPair {
    private_key: PrivateKey,
}

impl KeyPair {
    /// Draws a fresh key pair (32 bytes from `rng`).
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self {
            private_key: PrivateKey::generate(rng),
        }
    }

    /// The public half.
    #[must_use]
    pub const fn public_key(&self) -> PublicKey {
        self.private_key.public_key()
    }

    /// The private half.
    #[must_use]
    pub const fn private_key(&self) -> &PrivateKey {
        &self.private_key
    }
}

impl KeyPair {
    /// Rebuilds a pair from a private key and the public key stored beside it, without
    /// the fixed-base multiplication that recomputing the public key costs (about 17 µs).
    ///
    /// For pairs read back from storage hush wrote (a session record's ratchet key). It
    /// does not check that `public` belongs to `private`: a mismatched pair makes the
    /// peer's agreements fail, it reveals nothing. Use [`KeyPair::from`] a
    /// [`PrivateKey`] for keys from anywhere else.
    #[must_use]
    pub fn from_stored(private: [u8; 32], public: PublicKey) -> Self {
        let mut scalar = Zeroizing::new(private);
        clamp(&mut scalar);
        Self {
            private_key: PrivateKey {
                scalar: *scalar,
                public,
                edwards_public: None,
            },
        }
    }
}

impl From<PrivateKey> for KeyPair {
    fn from(private_key: PrivateKey) -> Self {
        Self { private_key }
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { private_key } = self;
        f.debug_struct("KeyPair")
            .field("public", &private_key.public_key())
            .finish_non_exhaustive()
    }
}

/// The 32-byte output of an X25519 agreement. Wiped on drop, never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SharedSecret([u8; 32]);

impl SharedSecret {
    /// The secret bytes, to feed a KDF.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedSecret").finish_non_exhaustive()
    }
}

impl PartialEq for SharedSecret {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for SharedSecret {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_checks_type_and_length() {
        let key = PrivateKey::from_bytes([7; 32]).public_key();
        let bytes = key.encode();
        assert_eq!(PublicKey::decode(&bytes), Ok(key));
        assert_eq!(
            PublicKey::decode(&[]),
            Err(Error::BadLength {
                what: "public key",
                expected: 33,
                actual: 0
            })
        );
        assert_eq!(
            PublicKey::decode(&bytes[..32]),
            Err(Error::BadLength {
                what: "public key",
                expected: 33,
                actual: 32
            })
        );
        let mut long = bytes.to_vec();
        long.push(0);
        assert!(matches!(
            PublicKey::decode(&long),
            Err(Error::BadLength { actual: 34, .. })
        ));
        let mut wrong = bytes;
        wrong[0] = 0x08;
        assert_eq!(PublicKey::decode(&wrong), Err(Error::UnknownKeyType(0x08)));
    }

    #[test]
    fn public_key_matches_x25519_of_basepoint() {
        // RFC 7748 section 6.1: Alice's private key and public key.
        let private: [u8; 32] =
            hex::decode("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
                .unwrap()
                .try_into()
                .unwrap();
        let public =
            hex::decode("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
                .unwrap();
        assert_eq!(
            PrivateKey::from_bytes(private)
                .public_key()
                .as_montgomery_bytes()
                .as_slice(),
            public.as_slice()
        );
    }

    #[test]
    fn agreement_is_symmetric_and_refuses_small_order() {
        let a = PrivateKey::from_bytes([1; 32]);
        let b = PrivateKey::from_bytes([2; 32]);
        assert_eq!(
            a.agree(&b.public_key()).unwrap(),
            b.agree(&a.public_key()).unwrap()
        );
        let zero = PublicKey::from_montgomery_bytes([0; 32]);
        assert_eq!(a.agree(&zero).unwrap_err(), Error::NonContributory);
    }

    #[test]
    fn stored_pair_agrees_and_signs_like_the_original() {
        let original = KeyPair::from(PrivateKey::from_bytes([9; 32]));
        let stored =
            KeyPair::from_stored(*original.private_key().to_bytes(), original.public_key());
        assert_eq!(stored, original);
        let peer = PrivateKey::from_bytes([8; 32]).public_key();
        assert_eq!(
            stored.private_key().agree(&peer).unwrap(),
            original.private_key().agree(&peer).unwrap()
        );
        let mut rng = hush_test_support::test_rng(1);
        let signature = stored.private_key().sign(b"m", &mut rng);
        assert!(original.public_key().verify(b"m", &signature));
    }

    /// The Edwards route gives the ladder's output for keys on the curve, on the twist,
    /// of small order, and with non-canonical encodings.
    #[test]
    fn agreement_equals_the_montgomery_ladder() {
        let ladder =
            |scalar: &[u8; 32], u: [u8; 32]| MontgomeryPoint(u).mul_clamped(*scalar).to_bytes();
        let mut rng = hush_test_support::test_rng(7);
        let mut inputs: Vec<[u8; 32]> = Vec::new();
        for _ in 0..64 {
            inputs.push(
                *PrivateKey::generate(&mut rng)
                    .public_key()
                    .as_montgomery_bytes(),
            );
            let mut random = [0u8; 32];
            rand_core::Rng::fill_bytes(&mut rng, &mut random);
            inputs.push(random); // on the twist about half the time
        }
        let mut p_minus_one = [0xff; 32];
        p_minus_one[0] = 0xec;
        p_minus_one[31] = 0x7f;
        let mut p = p_minus_one;
        p[0] = 0xed;
        let mut p_plus_one = p_minus_one;
        p_plus_one[0] = 0xee;
        let mut one = [0u8; 32];
        one[0] = 1;
        let mut high_bit = *PrivateKey::from_bytes([3; 32])
            .public_key()
            .as_montgomery_bytes();
        high_bit[31] |= 0x80;
        // Points of order 8 on Curve25519 (u-coordinates from the curve's torsion).
        let order_8 = [
            hex::decode("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")
                .unwrap(),
            hex::decode("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157")
                .unwrap(),
        ];
        inputs.extend([
            [0u8; 32],
            one,
            p_minus_one,
            p,
            p_plus_one,
            [0xff; 32],
            high_bit,
        ]);
        inputs.extend(
            order_8
                .iter()
                .map(|u| <[u8; 32]>::try_from(u.as_slice()).unwrap()),
        );
        let mut twist = 0;
        for u in &inputs {
            if MontgomeryPoint(*u).to_edwards(0).is_none() {
                twist += 1;
            }
            for scalar in [[0x11; 32], *PrivateKey::generate(&mut rng).to_bytes()] {
                let public = PublicKey::from_montgomery_bytes(*u);
                assert_eq!(
                    x25519(&scalar, &public),
                    ladder(&scalar, *u),
                    "u = {}",
                    hex::encode(u)
                );
            }
        }
        assert!(twist > 10, "the twist route was not exercised");
    }

    #[test]
    fn agreement_pair_equals_two_agreements() {
        let mut rng = hush_test_support::test_rng(8);
        for _ in 0..32 {
            let (a, b) = (
                PrivateKey::generate(&mut rng),
                PrivateKey::generate(&mut rng),
            );
            let mut u = [0u8; 32];
            rand_core::Rng::fill_bytes(&mut rng, &mut u);
            for peer in [
                PrivateKey::generate(&mut rng).public_key(),
                PublicKey::from_montgomery_bytes(u),
            ] {
                let (first, second) = a.agree_pair(&b, &peer).unwrap();
                assert_eq!(
                    (first, second),
                    (a.agree(&peer).unwrap(), b.agree(&peer).unwrap())
                );
            }
        }
        let a = PrivateKey::from_bytes([1; 32]);
        let zero = PublicKey::from_montgomery_bytes([0; 32]);
        assert_eq!(a.agree_pair(&a, &zero).unwrap_err(), Error::NonContributory);
    }

    /// RFC 7748 section 5.2, the first test vector.
    #[test]
    fn rfc7748_x25519_vector() {
        let scalar: [u8; 32] =
            hex::decode("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4")
                .unwrap()
                .try_into()
                .unwrap();
        let u: [u8; 32] =
            hex::decode("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c")
                .unwrap()
                .try_into()
                .unwrap();
        assert_eq!(
            hex::encode(x25519(&scalar, &PublicKey::from_montgomery_bytes(u))),
            "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"
        );
    }

    #[test]
    fn canonical_u() {
        let mut p_minus_one = [0xff; 32];
        p_minus_one[0] = 0xec;
        p_minus_one[31] = 0x7f;
        assert!(PublicKey::from_montgomery_bytes(p_minus_one).is_canonical());
        let mut p = p_minus_one;
        p[0] = 0xed;
        assert!(!PublicKey::from_montgomery_bytes(p).is_canonical());
        let mut high = [0u8; 32];
        high[31] = 0x80;
        assert!(!PublicKey::from_montgomery_bytes(high).is_canonical());
    }

    #[test]
    fn debug_never_shows_the_scalar() {
        let key = PrivateKey::from_bytes([0x11; 32]);
        let shown = format!("{key:?} {:?}", KeyPair::from(key.clone()));
        assert!(!shown.contains("1111"), "{shown}");
        assert!(shown.contains("PrivateKey"));
    }
}
