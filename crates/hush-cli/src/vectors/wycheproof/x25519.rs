//! `x25519_test.json`: X25519 through [`PrivateKey::agree`].
//!
//! The private key goes through [`PrivateKey::decode`] and the public u-coordinate,
//! with libsignal's type byte in front, through [`PublicKey::decode`], as a key from
//! the wire would. Wycheproof marks small-order, twist and non-canonical public keys
//! "acceptable"; hush accepts every one whose shared secret is not all zero and must
//! then produce exactly the recorded secret, and it must refuse every one whose shared
//! secret is all zero (it does not accept non-contributory agreements).

use std::path::Path;

use hush_core::curve::DJB_KEY_TYPE;
use hush_core::{PrivateKey, PublicKey};
use serde::Deserialize;

use super::{Expected, Outcome, Suite, run_suite};
use crate::vectors::{Report, expect_bytes, unhex};

#[derive(Deserialize)]
struct Group {
    curve: String,
}

#[derive(Deserialize)]
struct Test {
    public: String,
    private: String,
    shared: String,
}

const SUITE: Suite<Group, Test> = Suite {
    algorithm: "XDH",
    group_type: "XdhComp",
    applicable: |group| group.curve == "curve25519",
    run,
};

/// Checks `x25519_test.json`.
pub(crate) fn check(path: &Path, report: &mut Report) {
    run_suite(path, report, &SUITE);
}

fn run(_: &Group, test: &Test, _: Expected) -> Result<Outcome, String> {
    let shared = unhex("shared", &test.shared)?;
    let private = match PrivateKey::decode(&unhex("private", &test.private)?) {
        Ok(key) => key,
        Err(e) => return Ok(Outcome::Rejected(format!("private key: {e}"))),
    };
    let mut public = vec![DJB_KEY_TYPE];
    public.extend(unhex("public", &test.public)?);
    let public = match PublicKey::decode(&public) {
        Ok(key) => key,
        Err(e) => return Ok(Outcome::Rejected(format!("public key: {e}"))),
    };
    Ok(match private.agree(&public) {
        Ok(_) if shared.iter().all(|&b| b == 0) => {
            Outcome::Accepted(Err("hush accepted an all-zero shared secret".into()))
        }
        Ok(secret) => Outcome::Accepted(expect_bytes("shared secret", secret.as_bytes(), &shared)),
        Err(e) => Outcome::Rejected(e.to_string()),
    })
}
