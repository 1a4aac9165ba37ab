//! **Hazardous low-level entry points. Protocol code must not use these.**
//!
//! They exist so that conformance runners can drive hush's own primitive code paths with
//! external test vectors (Wycheproof, libsignal): Ed25519 verification through the very
//! equation XEdDSA uses, and KEM operations from explicit seeds. Enabled by the `hazmat`
//! feature.

use curve25519_dalek::edwards::CompressedEdwardsY;

use crate::kem::{KEM_ENCAPSULATION_SEED_LENGTH, KemCiphertext, KemPublicKey, KemSharedSecret};

/// Verifies a plain Ed25519 signature (RFC 8032, cofactorless, strict) with the same
/// code that checks XEdDSA signatures once the key is in Edwards form. The public key
/// must be the canonical encoding of a curve point and `s` must be canonical.
#[must_use]
pub fn verify_ed25519(public_key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    let compressed = CompressedEdwardsY(*public_key);
    let Some(point) = compressed
        .decompress()
        .filter(|p| p.compress() == compressed)
    else {
        return false;
    };
    let mut r = [0u8; 32];
    let mut s = [0u8; 32];
    let (r_part, s_part) = signature.split_at(32);
    r.copy_from_slice(r_part);
    s.copy_from_slice(s_part);
    crate::xeddsa::verify_edwards(&point, &compressed, &r, &s, message)
}

/// Encapsulates to `public_key` with an explicit 32-byte message `m` instead of drawing
/// it from an RNG.
#[must_use]
pub fn encapsulate_with_seed(
    public_key: &KemPublicKey,
    seed: &[u8; KEM_ENCAPSULATION_SEED_LENGTH],
) -> (KemCiphertext, KemSharedSecret) {
    public_key.encapsulate_with_seed(seed)
}
