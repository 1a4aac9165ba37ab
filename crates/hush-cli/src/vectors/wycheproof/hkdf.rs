//! `hkdf_sha256_test.json`: HKDF-SHA256 through [`hkdf_sha256`]. Every case applies;
//! the invalid ones ask for more output than HKDF can give, which hush must refuse.

use std::path::Path;

use hush_core::kdf::hkdf_sha256;
use serde::Deserialize;

use super::{Expected, Outcome, Suite, run_suite};
use crate::vectors::{Report, expect_bytes, unhex};

/// Largest output the runner allocates. HKDF-SHA256 can give at most 8160 bytes, so a
/// case asking for more than this can only expect refusal; it is reported as not run
/// rather than allocated.
const MAX_RUN_OUTPUT: u64 = 1 << 20;

#[derive(Deserialize)]
struct Group {}

#[derive(Deserialize)]
struct Test {
    ikm: String,
    salt: String,
    info: String,
    size: u64,
    okm: String,
}

const SUITE: Suite<Group, Test> = Suite {
    algorithm: "HKDF-SHA-256",
    group_type: "HkdfTest",
    applicable: |_| true,
    run,
};

/// Checks `hkdf_sha256_test.json`.
pub(crate) fn check(path: &Path, report: &mut Report) {
    run_suite(path, report, &SUITE);
}

fn run(_: &Group, test: &Test, _: Expected) -> Result<Outcome, String> {
    let ikm = unhex("ikm", &test.ikm)?;
    let salt = unhex("salt", &test.salt)?;
    let info = unhex("info", &test.info)?;
    let okm = unhex("okm", &test.okm)?;
    let size = usize::try_from(test.size)
        .ok()
        .filter(|_| test.size <= MAX_RUN_OUTPUT)
        .ok_or_else(|| format!("size {} is more than the runner allocates", test.size))?;
    let mut out = vec![0u8; size];
    Ok(match hkdf_sha256(&salt, &ikm, &info, &mut out) {
        Ok(()) => Outcome::Accepted(expect_bytes("okm", &out, &okm)),
        Err(e) => Outcome::Rejected(e.to_string()),
    })
}
