//! Every numeric limit `hush-core` enforces, in one place.

/// Largest iteration count accepted for a safety-number fingerprint. libsignal apps use
/// 5200; the bound keeps a hostile caller from asking for hours of hashing.
pub const MAX_FINGERPRINT_ITERATIONS: u32 = 1_000_000;

/// Shortest truncated HMAC-SHA256 tag accepted by [`crate::kdf::verify_hmac_sha256`]:
/// libsignal's message MAC is 8 bytes.
pub const MIN_MAC_TAG_LEN: usize = 8;

/// Largest HKDF-SHA256 output (RFC 5869: 255 blocks of 32 bytes).
pub const MAX_HKDF_OUTPUT_LEN: usize = 255 * 32;
