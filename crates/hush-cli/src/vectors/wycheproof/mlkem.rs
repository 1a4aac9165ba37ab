//! `mlkem_1024_test.json`: ML-KEM-1024 (FIPS 203) through [`KemKeyPair::from_seed`],
//! hush's typed decoders and [`KemSecretKey::decapsulate`].
//!
//! Each case gives a 64-byte seed `d || z`, the encapsulation key `ek` it must
//! produce, a ciphertext `c` and the shared secret `K` decapsulation must return
//! (for the `Strcmp` case, the implicit-rejection secret). hush serialises keys and
//! ciphertexts with the type byte `0x0a` in front of the FIPS 203 bytes, so `ek` and
//! `c` are compared and decoded in that form.
//!
//! The invalid cases have inputs of the wrong length, and each is mapped to the hush
//! API that must refuse it:
//!
//! - "Private key too short/long" (a seed that is not 64 bytes): hush takes a seed
//!   only as `[u8; 64]`, so such bytes cannot reach [`KemKeyPair::from_seed`]; and as
//!   a serialised private key they must be refused by [`KemSecretKey::decode`].
//! - "Ciphertext too short/long": [`KemCiphertext::decode`] must refuse `c`.
//!
//! An invalid case that hush lets through every step fails.

use std::path::Path;

use hush_core::kem::KEM_KEYGEN_SEED_LENGTH;
use hush_core::{KemCiphertext, KemKeyPair, KemKeyType, KemPublicKey, KemSecretKey};
use serde::Deserialize;

use super::{Expected, Outcome, Suite, run_suite};
use crate::vectors::{Report, expect, expect_bytes, unhex};

const KEY_TYPE: KemKeyType = KemKeyType::MlKem1024;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Group {
    parameter_set: String,
}

#[derive(Deserialize)]
struct Test {
    seed: String,
    ek: Option<String>,
    c: String,
    #[serde(rename = "K")]
    k: String,
}

const SUITE: Suite<Group, Test> = Suite {
    algorithm: "ML-KEM",
    group_type: "MLKEMTest",
    applicable: |group| group.parameter_set == "ML-KEM-1024",
    run,
};

/// Checks `mlkem_1024_test.json`.
pub(crate) fn check(path: &Path, report: &mut Report) {
    run_suite(path, report, &SUITE);
}

/// `bytes` with hush's ML-KEM type byte in front.
fn typed(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 1);
    out.push(KEY_TYPE.type_byte());
    out.extend_from_slice(bytes);
    out
}

fn run(_: &Group, test: &Test, expected: Expected) -> Result<Outcome, String> {
    let seed = unhex("seed", &test.seed)?;
    let ciphertext = unhex("c", &test.c)?;
    let shared = unhex("K", &test.k)?;
    let ek = test.ek.as_deref().map(|ek| unhex("ek", ek)).transpose()?;

    let Ok(seed) = <[u8; KEM_KEYGEN_SEED_LENGTH]>::try_from(seed.as_slice()) else {
        return Ok(match KemSecretKey::decode(&typed(&seed)) {
            Err(e) => Outcome::Rejected(format!(
                "a {}-byte seed is no [u8; 64]; KemSecretKey::decode: {e}",
                seed.len()
            )),
            Ok(_) => Outcome::Accepted(Err(format!(
                "KemSecretKey::decode accepted a {}-byte private key",
                seed.len()
            ))),
        });
    };
    let pair = KemKeyPair::from_seed(KEY_TYPE, &seed);

    // The encapsulation key: derived from the seed, and accepted by the decoder.
    match ek {
        Some(ek) => {
            let ek = typed(&ek);
            expect_bytes("encapsulation key", &pair.public_key().encode(), &ek)?;
            let decoded =
                KemPublicKey::decode(&ek).map_err(|e| format!("KemPublicKey::decode: {e}"))?;
            expect(decoded.key_type() == KEY_TYPE, || {
                "ek decoded as another KEM".into()
            })?;
        }
        None => expect(expected != Expected::Valid, || {
            "valid case without ek: key generation cannot be checked".into()
        })?,
    }

    let ciphertext = match KemCiphertext::decode(&typed(&ciphertext)) {
        Ok(ciphertext) => ciphertext,
        Err(e) => return Ok(Outcome::Rejected(format!("KemCiphertext::decode: {e}"))),
    };
    Ok(match pair.secret_key().decapsulate(&ciphertext) {
        Ok(secret) => Outcome::Accepted(expect_bytes("shared secret", secret.as_bytes(), &shared)),
        Err(e) => Outcome::Rejected(format!("decapsulate: {e}")),
    })
}
