//! Test helpers shared by hush's crates, the CLI's conformance runner, benches and fuzz
//! targets. Not published, and not a dependency of any library crate.
//!
//! - [`ReplayRng`] hands out recorded bytes, so that a conversation libsignal recorded
//!   (see `test-vectors/libsignal/README.md`) replays byte for byte through hush's real
//!   APIs.
//! - [`test_rng`] is a seeded ChaCha20 generator for reproducible tests.
//! - [`libsignal`] holds the schemas of libsignal's vector files, shared by the crates'
//!   conformance tests and `hush vectors check`.
//! - [`ratchet`] writes `SignalMessage`s by hand (as a forger would) and moves a session
//!   record's chains to a chosen index, for `hush-ratchet`'s tests and benches.
//!
//! ```
//! use hush_test_support::ReplayRng;
//! use rand_core::Rng;
//!
//! let mut rng = ReplayRng::new(vec![1, 2, 3, 4, 5]);
//! assert_eq!(rng.next_u32(), u32::from_le_bytes([1, 2, 3, 4]));
//! assert_eq!(rng.remaining(), 1);
//! ```

#![forbid(unsafe_code)]

pub mod libsignal;
pub mod ratchet;

use core::convert::Infallible;

use rand_core::{SeedableRng, TryCryptoRng, TryRng};

/// A seeded ChaCha20 RNG for reproducible tests.
#[must_use]
pub fn test_rng(seed: u64) -> rand_chacha::ChaCha20Rng {
    rand_chacha::ChaCha20Rng::seed_from_u64(seed)
}

/// An RNG that returns recorded bytes in order: `fill_bytes(n)` takes the next `n`
/// bytes, `next_u32` the next 4 (little-endian), `next_u64` the next 8.
///
/// Running past the end does not panic: the missing bytes read as zero and
/// [`ReplayRng::overrun`] reports it, so a conformance runner can report a failure
/// instead of crashing.
#[derive(Debug, Clone)]
pub struct ReplayRng {
    bytes: Vec<u8>,
    position: usize,
    overrun: bool,
}

impl ReplayRng {
    /// Replays `bytes`.
    #[must_use]
    pub fn new(bytes: Vec<u8>) -> Self {
        Self {
            bytes,
            position: 0,
            overrun: false,
        }
    }

    /// How many recorded bytes are left.
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.position)
    }

    /// Whether a draw asked for more bytes than were recorded.
    #[must_use]
    pub fn overrun(&self) -> bool {
        self.overrun
    }

    fn take(&mut self, dst: &mut [u8]) {
        let end = self.position.saturating_add(dst.len());
        match self.bytes.get(self.position..end) {
            Some(src) => dst.copy_from_slice(src),
            None => {
                self.overrun = true;
                dst.fill(0);
            }
        }
        self.position = end.min(self.bytes.len());
    }
}

impl TryRng for ReplayRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut buf = [0u8; 4];
        self.take(&mut buf);
        Ok(u32::from_le_bytes(buf))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut buf = [0u8; 8];
        self.take(&mut buf);
        Ok(u64::from_le_bytes(buf))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.take(dst);
        Ok(())
    }
}

/// Marked cryptographic so hush's APIs accept it; it is only as unpredictable as the
/// recording, which is the point of a replay.
impl TryCryptoRng for ReplayRng {}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::Rng;

    #[test]
    fn overrun_is_reported_not_panicked() {
        let mut rng = ReplayRng::new(vec![9; 3]);
        let mut buf = [1u8; 4];
        rng.fill_bytes(&mut buf);
        assert_eq!(buf, [0; 4]);
        assert!(rng.overrun());
    }

    #[test]
    fn seeded_rng_is_reproducible() {
        assert_eq!(test_rng(7).next_u64(), test_rng(7).next_u64());
    }
}
