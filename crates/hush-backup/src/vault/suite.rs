//! The OPAQUE ciphersuite, its key-stretching function and the RNG adapter.
//!
//! opaque-ke 3 is built on the previous RustCrypto generation (rand_core 0.6,
//! generic-array 0.14); everything that touches those types stays in this file.

use core::ops::DerefMut;
#[allow(
    deprecated,
    reason = "opaque-ke 3's Ksf trait is written in generic-array 0.14 types"
)]
use generic_array_v014::{ArrayLength, GenericArray};
use opaque_ke::errors::InternalError;
use zeroize::Zeroize;

use crate::vault::error::VaultError;
use crate::vault::limits::{
    DEFAULT_KSF_ITERATIONS, DEFAULT_KSF_MEMORY_KIB, DEFAULT_KSF_PARALLELISM, MAX_KSF_ITERATIONS,
    MAX_KSF_MEMORY_KIB, MAX_KSF_PARALLELISM, MAX_KSF_WORK, MIN_KSF_ITERATIONS, MIN_KSF_MEMORY_KIB,
    MIN_KSF_PARALLELISM,
};

/// The salt Argon2id runs with inside OPAQUE. A constant is enough: the key-stretching
/// function's input is the OPRF output, which is already unique per user and password
/// (the OPRF key is per credential), so a salt adds nothing; Argon2 needs 8 bytes at least.
pub(crate) const KSF_SALT: &[u8] = b"hush vault v1 argon2id";

/// OPAQUE with OPRF over ristretto255 (SHA-512, the voprf suite), key exchange group
/// ristretto255, 3DH (its hash is the OPRF suite's SHA-512 in opaque-ke 3), and Argon2id.
pub(crate) struct Suite;

impl opaque_ke::CipherSuite for Suite {
    type OprfCs = opaque_ke::Ristretto255;
    type KeGroup = opaque_ke::Ristretto255;
    type KeyExchange = opaque_ke::key_exchange::tripledh::TripleDh;
    type Ksf = Ksf;
}

/// Argon2id cost parameters for the key-stretching step of OPAQUE.
///
/// The client picks them at registration; the vault stores them with the record and
/// hands them back in every credential response, so a client needs only its password to
/// log in. Both directions are bounded by [`crate::vault::limits`], so a hostile vault
/// cannot make a client allocate more than 256 MiB or spend more than 512 MiB x passes
/// per login attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KsfParams {
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
}

/// Encoded length of [`KsfParams`]: three big-endian `u32`s.
pub(crate) const KSF_PARAMS_LEN: usize = 12;

impl KsfParams {
    /// Parameters with the given memory cost (KiB), iteration count and lane count.
    ///
    /// # Errors
    ///
    /// [`VaultError::KsfParams`] if a value is outside the bounds in
    /// [`crate::vault::limits`], memory x iterations is over
    /// [`crate::vault::limits::MAX_KSF_WORK`], or the memory is below Argon2's 8 KiB per
    /// lane.
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<Self, VaultError> {
        if !(MIN_KSF_MEMORY_KIB..=MAX_KSF_MEMORY_KIB).contains(&memory_kib) {
            return Err(VaultError::KsfParams("memory"));
        }
        if !(MIN_KSF_ITERATIONS..=MAX_KSF_ITERATIONS).contains(&iterations) {
            return Err(VaultError::KsfParams("iterations"));
        }
        if !(MIN_KSF_PARALLELISM..=MAX_KSF_PARALLELISM).contains(&parallelism) {
            return Err(VaultError::KsfParams("parallelism"));
        }
        if u64::from(memory_kib) * u64::from(iterations) > MAX_KSF_WORK {
            return Err(VaultError::KsfParams("work (memory x iterations)"));
        }
        if memory_kib < parallelism.saturating_mul(8) {
            return Err(VaultError::KsfParams("memory per lane"));
        }
        Ok(Self {
            memory_kib,
            iterations,
            parallelism,
        })
    }

    /// Memory cost in KiB.
    #[must_use]
    pub fn memory_kib(&self) -> u32 {
        self.memory_kib
    }

    /// Iteration count.
    #[must_use]
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// Lane count.
    #[must_use]
    pub fn parallelism(&self) -> u32 {
        self.parallelism
    }

    pub(crate) fn encode(&self) -> [u8; KSF_PARAMS_LEN] {
        let mut out = [0u8; KSF_PARAMS_LEN];
        let (m, rest) = out.split_at_mut(4);
        let (t, p) = rest.split_at_mut(4);
        m.copy_from_slice(&self.memory_kib.to_be_bytes());
        t.copy_from_slice(&self.iterations.to_be_bytes());
        p.copy_from_slice(&self.parallelism.to_be_bytes());
        out
    }

    pub(crate) fn decode(bytes: &[u8; KSF_PARAMS_LEN]) -> Result<Self, VaultError> {
        let [m0, m1, m2, m3, t0, t1, t2, t3, p0, p1, p2, p3] = *bytes;
        Self::new(
            u32::from_be_bytes([m0, m1, m2, m3]),
            u32::from_be_bytes([t0, t1, t2, t3]),
            u32::from_be_bytes([p0, p1, p2, p3]),
        )
    }

    pub(crate) fn ksf(&self) -> Result<Ksf, VaultError> {
        argon2::Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map(|params| Ksf { params })
            .map_err(|_| VaultError::KsfParams("rejected by argon2"))
    }
}

impl Default for KsfParams {
    /// OWASP's recommendation: 19 MiB, 2 iterations, 1 lane.
    fn default() -> Self {
        Self {
            memory_kib: DEFAULT_KSF_MEMORY_KIB,
            iterations: DEFAULT_KSF_ITERATIONS,
            parallelism: DEFAULT_KSF_PARALLELISM,
        }
    }
}

/// opaque-ke's key-stretching hook, backed by our argon2 0.6 (Argon2id, v1.3) with
/// run-time parameters.
pub(crate) struct Ksf {
    params: argon2::Params,
}

impl Default for Ksf {
    fn default() -> Self {
        Self {
            params: argon2::Params::DEFAULT,
        }
    }
}

#[allow(
    deprecated,
    reason = "opaque-ke 3's Ksf trait is written in generic-array 0.14 types"
)]
impl opaque_ke::ksf::Ksf for Ksf {
    fn hash<L: ArrayLength<u8>>(
        &self,
        mut input: GenericArray<u8, L>,
    ) -> Result<GenericArray<u8, L>, InternalError> {
        let argon2 = argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            self.params.clone(),
        );
        let mut output = GenericArray::<u8, L>::default();
        let result = argon2.hash_password_into(&input, KSF_SALT, &mut output);
        input.deref_mut().zeroize();
        result.map_err(|_| InternalError::KsfError)?;
        Ok(output)
    }
}

/// Presents our rand_core 0.10 `CryptoRng` as the rand_core 0.6 `RngCore + CryptoRng`
/// that opaque-ke asks for.
pub(crate) struct RngAdapter<'a, R: rand_core::CryptoRng + ?Sized>(pub(crate) &'a mut R);

impl<R: rand_core::CryptoRng + ?Sized> rand_core_v06::RngCore for RngAdapter<'_, R> {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest);
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core_v06::Error> {
        self.0.fill_bytes(dest);
        Ok(())
    }
}

impl<R: rand_core::CryptoRng + ?Sized> rand_core_v06::CryptoRng for RngAdapter<'_, R> {}

#[cfg(test)]
mod tests {
    use super::*;
    use hush_test_support::test_rng;
    use rand_core_v06::RngCore as _;

    #[test]
    fn ksf_params_bounds() {
        assert!(KsfParams::new(8, 1, 1).is_ok());
        assert_eq!(
            KsfParams::new(7, 1, 1),
            Err(VaultError::KsfParams("memory"))
        );
        assert_eq!(
            KsfParams::new(8, 0, 1),
            Err(VaultError::KsfParams("iterations"))
        );
        assert_eq!(
            KsfParams::new(8, 1, 0),
            Err(VaultError::KsfParams("parallelism"))
        );
        assert_eq!(
            KsfParams::new(16, 1, 4),
            Err(VaultError::KsfParams("memory per lane"))
        );
        assert_eq!(
            KsfParams::new(MAX_KSF_MEMORY_KIB + 1, 1, 1),
            Err(VaultError::KsfParams("memory"))
        );
        let p = KsfParams::new(64, 3, 2).unwrap();
        assert_eq!(
            p.encode(),
            [0, 0, 0, 64, 0, 0, 0, 3, 0, 0, 0, 2],
            "big-endian m, t, p"
        );
        assert_eq!(KsfParams::decode(&p.encode()), Ok(p));
        assert_eq!(KsfParams::default(), KsfParams::new(19456, 2, 1).unwrap());
    }

    #[test]
    fn adapter_passes_bytes_through() {
        let mut a = test_rng(7);
        let mut b = test_rng(7);
        let mut via = [0u8; 40];
        RngAdapter(&mut a).fill_bytes(&mut via);
        let mut direct = [0u8; 40];
        rand_core::Rng::fill_bytes(&mut b, &mut direct);
        assert_eq!(via, direct);
    }
}
