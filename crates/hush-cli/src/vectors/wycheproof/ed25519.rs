//! `ed25519_test.json`: Ed25519 through [`hush_core::hazmat::verify_ed25519`], the same
//! verification equation (and `s` canonicity check) XEdDSA uses once its key is in
//! Edwards form. Signatures go through hush's 64-byte [`Signature::decode`] first, which
//! is what refuses the wrong-length ones.

use std::path::Path;

use hush_core::Signature;
use hush_core::hazmat::verify_ed25519;
use serde::Deserialize;

use super::{Expected, Outcome, Suite, run_suite};
use crate::vectors::{Report, unhex};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Group {
    public_key: GroupKey,
}

#[derive(Deserialize)]
struct GroupKey {
    curve: String,
    pk: String,
}

#[derive(Deserialize)]
struct Test {
    msg: String,
    sig: String,
}

const SUITE: Suite<Group, Test> = Suite {
    algorithm: "EDDSA",
    group_type: "EddsaVerify",
    applicable: |group| group.public_key.curve == "edwards25519",
    run,
};

/// Checks `ed25519_test.json`.
pub(crate) fn check(path: &Path, report: &mut Report) {
    run_suite(path, report, &SUITE);
}

fn run(group: &Group, test: &Test, _: Expected) -> Result<Outcome, String> {
    let key = unhex("publicKey.pk", &group.public_key.pk)?;
    let key = <[u8; 32]>::try_from(key.as_slice())
        .map_err(|_| format!("group public key is {} bytes, not 32", key.len()))?;
    let message = unhex("msg", &test.msg)?;
    let signature = match Signature::decode(&unhex("sig", &test.sig)?) {
        Ok(signature) => signature,
        Err(e) => return Ok(Outcome::Rejected(format!("signature: {e}"))),
    };
    Ok(if verify_ed25519(&key, &message, signature.as_bytes()) {
        Outcome::Accepted(Ok(()))
    } else {
        Outcome::Rejected("signature does not verify".into())
    })
}
