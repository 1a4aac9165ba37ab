//! ML-KEM-768 in libcrux's incremental form: the public key travels as a 64-byte header
//! (`rho ‖ H(ek)`) and a 1152-byte encapsulation key (`t`); the ciphertext as `ct1` (960
//! bytes, computable from the header alone) and `ct2` (128 bytes, needing the key).
//!
//! Both secrets here are kept as the randomness they come from rather than as their
//! expansion: the key pair as its 64-byte generation seed (`d ‖ z`) instead of the
//! 2400-byte decapsulation key, and the encapsulation as its 32-byte message `m` instead
//! of libcrux's 2080-byte encapsulation state. Key generation and `encapsulate1` are
//! deterministic functions of those, so the expansion is recomputed the one time per
//! epoch it is needed (to decapsulate, and to compute `ct2`). That keeps SPQR states
//! small; the wire bytes are the same.

use core::fmt;

use libcrux_ml_kem::mlkem768::incremental;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Error, Result};

/// Header length: `rho ‖ H(ek)`.
pub(crate) const HEADER_LEN: usize = incremental::pk1_len();
/// Encapsulation key length (`t`).
pub(crate) const EK_LEN: usize = incremental::pk2_len();
/// First ciphertext length.
pub(crate) const CT1_LEN: usize = 960;
/// Second ciphertext length.
pub(crate) const CT2_LEN: usize = 128;
/// Key generation seed length (`d ‖ z`).
pub(crate) const SEED_LEN: usize = libcrux_ml_kem::KEY_GENERATION_SEED_SIZE;
/// Encapsulation randomness length (`m`).
pub(crate) const ENCAPS_RANDOMNESS_LEN: usize = libcrux_ml_kem::SHARED_SECRET_SIZE;

const KEY_PAIR_LEN: usize = incremental::key_pair_compressed_len();
const ENCAPS_STATE_LEN: usize = incremental::encaps_state_len();
/// Where the encapsulation key sits in libcrux's compressed key pair
/// (`dk_pke ‖ t ‖ rho ‖ H(ek) ‖ z`).
const EK_OFFSET: usize = 1152;
const HEADER_OFFSET: usize = EK_OFFSET + EK_LEN;

const _: () = assert!(HEADER_LEN == 64 && EK_LEN == 1152 && KEY_PAIR_LEN == 2400);
const _: () = assert!(ENCAPS_STATE_LEN == 2080 && HEADER_OFFSET + HEADER_LEN <= KEY_PAIR_LEN);

/// The seed an ML-KEM-768 key pair is generated from.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub(crate) struct KeySeed([u8; SEED_LEN]);

/// The randomness `m` of one encapsulation.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub(crate) struct EncapsRandomness([u8; ENCAPS_RANDOMNESS_LEN]);

/// An expanded key pair, wiped on drop; lives only for the call that needs it.
pub(crate) struct KeyPair(Zeroizing<[u8; KEY_PAIR_LEN]>);

impl KeySeed {
    pub(crate) const fn from_bytes(bytes: [u8; SEED_LEN]) -> Self {
        Self(bytes)
    }

    pub(crate) const fn as_bytes(&self) -> &[u8; SEED_LEN] {
        &self.0
    }

    /// Expands the seed into the key pair (ML-KEM `KeyGen_internal(d, z)`).
    pub(crate) fn key_pair(&self) -> KeyPair {
        let mut pair = Zeroizing::new([0u8; KEY_PAIR_LEN]);
        incremental::generate_key_pair_compressed(self.0, &mut pair);
        KeyPair(pair)
    }
}

impl KeyPair {
    pub(crate) fn header(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        if let Some(header) = self.0.get(HEADER_OFFSET..HEADER_OFFSET + HEADER_LEN) {
            out.copy_from_slice(header);
        }
        out
    }

    pub(crate) fn encapsulation_key(&self) -> Box<[u8; EK_LEN]> {
        let mut out = Box::new([0u8; EK_LEN]);
        if let Some(ek) = self.0.get(EK_OFFSET..EK_OFFSET + EK_LEN) {
            out.copy_from_slice(ek);
        }
        out
    }

    /// The shared secret of (`ct1`, `ct2`). ML-KEM's implicit rejection makes this a
    /// pseudo-random value for a ciphertext not made for this key; the ciphertext MAC
    /// catches that.
    pub(crate) fn decapsulate(
        &self,
        ct1: &[u8; CT1_LEN],
        ct2: &[u8; CT2_LEN],
    ) -> Zeroizing<[u8; 32]> {
        let ct1 = incremental::Ciphertext1 { value: *ct1 };
        let ct2 = incremental::Ciphertext2 { value: *ct2 };
        Zeroizing::new(incremental::decapsulate_compressed_key(&self.0, &ct1, &ct2))
    }
}

impl EncapsRandomness {
    pub(crate) const fn from_bytes(bytes: [u8; ENCAPS_RANDOMNESS_LEN]) -> Self {
        Self(bytes)
    }

    pub(crate) const fn as_bytes(&self) -> &[u8; ENCAPS_RANDOMNESS_LEN] {
        &self.0
    }

    /// `encapsulate1` to `header`: the first ciphertext, the encapsulation state and the
    /// shared secret.
    pub(crate) fn encapsulate1(&self, header: &[u8; HEADER_LEN]) -> Result<Encapsulation> {
        let mut state = Zeroizing::new([0u8; ENCAPS_STATE_LEN]);
        let mut shared = Zeroizing::new([0u8; 32]);
        let ct1 = incremental::encapsulate1(header, self.0, &mut state[..], &mut shared[..])
            .map_err(|_| Error::InvalidState("ML-KEM header"))?;
        Ok(Encapsulation {
            ct1: Box::new(ct1.value),
            state,
            shared,
        })
    }
}

/// The result of `encapsulate1`.
pub(crate) struct Encapsulation {
    pub(crate) ct1: Box<[u8; CT1_LEN]>,
    state: Zeroizing<[u8; ENCAPS_STATE_LEN]>,
    pub(crate) shared: Zeroizing<[u8; 32]>,
}

impl Encapsulation {
    /// `encapsulate2` with the peer's encapsulation key.
    pub(crate) fn encapsulate2(&self, ek: &[u8; EK_LEN]) -> [u8; CT2_LEN] {
        incremental::encapsulate2(&self.state, ek).value
    }
}

/// Whether `ek` is the encapsulation key `header` commits to (its hash matches and it is
/// a well-formed key).
pub(crate) fn ek_matches_header(ek: &[u8; EK_LEN], header: &[u8; HEADER_LEN]) -> bool {
    incremental::validate_pk_bytes(header, ek).is_ok()
}

impl fmt::Debug for KeySeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self(_) = self;
        f.debug_struct("KeySeed").finish_non_exhaustive()
    }
}

impl fmt::Debug for EncapsRandomness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self(_) = self;
        f.debug_struct("EncapsRandomness").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_header_check() {
        let seed = KeySeed::from_bytes([7; SEED_LEN]);
        let pair = seed.key_pair();
        let header = pair.header();
        let ek = pair.encapsulation_key();
        assert!(ek_matches_header(&ek, &header));
        let mut other = *ek;
        other[0] ^= 1;
        assert!(!ek_matches_header(&other, &header));

        let m = EncapsRandomness::from_bytes([9; 32]);
        let encapsulation = m.encapsulate1(&header).unwrap();
        let ct2 = encapsulation.encapsulate2(&ek);
        let shared = pair.decapsulate(&encapsulation.ct1, &ct2);
        assert_eq!(*shared, *encapsulation.shared);
        // Deterministic in its randomness.
        let again = m.encapsulate1(&header).unwrap();
        assert_eq!(again.ct1, encapsulation.ct1);
        assert_eq!(again.encapsulate2(&ek), ct2);
    }
}
