//! `kem_kyber1024.json` (libsignal v0.91.0): KEM key generation, encapsulation and
//! decapsulation replayed from the random bytes libsignal drew.
//!
//! Key generation and encapsulation run through hush's RNG-taking APIs fed by a
//! [`ReplayRng`], so they also check that hush draws randomness exactly as libsignal
//! does: every recorded byte must be consumed, and no more.

use std::path::Path;

use hush_core::{KemCiphertext, KemKeyPair, KemKeyType, KemPublicKey, KemSecretKey};
use hush_test_support::ReplayRng;
use hush_test_support::libsignal::kem::Case;

use super::{Report, expect, expect_bytes, libsignal_cases, parse_case, unhex};

/// Checks `kem_kyber1024.json`.
pub(crate) fn check(path: &Path, report: &mut Report) {
    let Some(values) = libsignal_cases(path, report) else {
        return;
    };
    for (index, value) in values.iter().enumerate() {
        let outcome = parse_case(value).and_then(|case| run(&case));
        report.case(path, &format!("case {index}"), outcome);
    }
}

fn key_type(name: &str) -> Result<KemKeyType, String> {
    match name {
        "Kyber1024" => Ok(KemKeyType::Kyber1024),
        "MLKEM1024" | "MlKem1024" | "ML-KEM-1024" => Ok(KemKeyType::MlKem1024),
        other => Err(format!("unknown key_type {other:?}")),
    }
}

/// Checks that a replayed draw used every recorded byte and no more.
fn consumed_exactly(what: &str, rng: &ReplayRng) -> Result<(), String> {
    expect(!rng.overrun(), || {
        format!("{what} drew more than the recorded bytes")
    })?;
    expect(rng.remaining() == 0, || {
        format!("{what} left {} recorded bytes unused", rng.remaining())
    })
}

fn run(case: &Case) -> Result<(), String> {
    let key_type = key_type(&case.key_type)?;
    let public = unhex("public", &case.public)?;
    let secret = unhex("secret", &case.secret)?;
    let ciphertext = unhex("ciphertext", &case.ciphertext)?;
    let shared = unhex("shared_secret", &case.shared_secret)?;

    // Key generation from libsignal's draws.
    let mut rng = ReplayRng::new(unhex("keygen_rng", &case.keygen_rng)?);
    let pair = KemKeyPair::generate(key_type, &mut rng);
    consumed_exactly("key generation", &rng)?;
    expect_bytes("generated public key", &pair.public_key().encode(), &public)?;
    expect_bytes(
        "generated secret key",
        pair.secret_key().encode().as_slice(),
        &secret,
    )?;

    // The recorded keys decode, re-encode unchanged and belong together.
    let decoded_public = KemPublicKey::decode(&public).map_err(|e| format!("public: {e}"))?;
    expect(decoded_public.key_type() == key_type, || {
        "public key has the wrong type".into()
    })?;
    expect_bytes("re-encoded public key", &decoded_public.encode(), &public)?;
    let decoded_secret = KemSecretKey::decode(&secret).map_err(|e| format!("secret: {e}"))?;
    KemKeyPair::decode(&public, &secret).map_err(|e| format!("key pair: {e}"))?;

    // Encapsulation from libsignal's draws.
    let mut rng = ReplayRng::new(unhex("encapsulate_rng", &case.encapsulate_rng)?);
    let (made_ciphertext, made_shared) = decoded_public.encapsulate(&mut rng);
    consumed_exactly("encapsulation", &rng)?;
    expect_bytes("ciphertext", &made_ciphertext.encode(), &ciphertext)?;
    expect_bytes(
        "encapsulated shared secret",
        made_shared.as_bytes(),
        &shared,
    )?;

    // Decapsulation of the recorded ciphertext.
    let decoded_ciphertext =
        KemCiphertext::decode(&ciphertext).map_err(|e| format!("ciphertext: {e}"))?;
    let recovered = decoded_secret
        .decapsulate(&decoded_ciphertext)
        .map_err(|e| format!("decapsulation: {e}"))?;
    expect_bytes("decapsulated shared secret", recovered.as_bytes(), &shared)
}
