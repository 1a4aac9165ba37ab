//! The default source of randomness.
//!
//! Every function in hush that needs randomness takes a `&mut impl CryptoRng` so that
//! tests and conformance runs can replay recorded bytes. Applications that have no RNG
//! of their own use [`os_rng`].

pub use rand_core::{CryptoRng, Rng};

/// The operating system's random number generator (`getrandom`), as an infallible
/// [`CryptoRng`].
///
/// # Panics
///
/// Reading panics if the operating system cannot provide random bytes, which on every
/// supported platform means the process cannot run securely at all.
#[must_use]
pub fn os_rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}

/// Reads `N` bytes the way libsignal's `rng.random::<[u8; N]>()` does (rand 0.9): `N`
/// separate 32-bit draws, keeping the low byte of each.
///
/// hush draws KEM seeds this way so that a conversation recorded from libsignal replays
/// byte for byte; with a cryptographic RNG the result is uniform either way. Public so
/// that the protocol crates (e.g. `hush-group`'s chain keys) draw the same way.
pub fn low_bytes_of_u32_draws<const N: usize, R: CryptoRng + ?Sized>(rng: &mut R) -> [u8; N] {
    let mut out = [0u8; N];
    for byte in &mut out {
        *byte = rng.next_u32().to_le_bytes()[0];
    }
    out
}
