//! `aes_cbc_pkcs5_test.json`: AES-CBC with PKCS#7 padding through
//! [`aes256_cbc_encrypt`] and [`aes256_cbc_decrypt`], libsignal's message-body cipher.
//!
//! Applicable: 256-bit keys with 128-bit IVs. A valid case must decrypt to the message
//! and the message must encrypt to the ciphertext; an invalid one (bad or missing
//! padding) must be refused by decryption.

use std::path::Path;

use hush_core::cipher::{
    AES_256_KEY_LENGTH, CBC_IV_LENGTH, aes256_cbc_decrypt, aes256_cbc_encrypt,
};
use serde::Deserialize;

use super::{Expected, Outcome, Suite, bits, run_suite};
use crate::vectors::{Report, expect_bytes, unhex, unhex_array};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Group {
    key_size: u64,
    iv_size: u64,
}

#[derive(Deserialize)]
struct Test {
    key: String,
    iv: String,
    msg: String,
    ct: String,
}

const SUITE: Suite<Group, Test> = Suite {
    algorithm: "AES-CBC-PKCS5",
    group_type: "IndCpaTest",
    applicable: |group| {
        group.key_size == bits(AES_256_KEY_LENGTH) && group.iv_size == bits(CBC_IV_LENGTH)
    },
    run,
};

/// Checks `aes_cbc_pkcs5_test.json`.
pub(crate) fn check(path: &Path, report: &mut Report) {
    run_suite(path, report, &SUITE);
}

fn run(_: &Group, test: &Test, _: Expected) -> Result<Outcome, String> {
    let key = unhex_array::<AES_256_KEY_LENGTH>("key", &test.key)?;
    let iv = unhex_array::<CBC_IV_LENGTH>("iv", &test.iv)?;
    let msg = unhex("msg", &test.msg)?;
    let ct = unhex("ct", &test.ct)?;
    Ok(match aes256_cbc_decrypt(&key, &iv, &ct) {
        Ok(plaintext) => {
            Outcome::Accepted(expect_bytes("decryption", &plaintext, &msg).and_then(|()| {
                expect_bytes("encryption", &aes256_cbc_encrypt(&key, &iv, &msg), &ct)
            }))
        }
        Err(e) => Outcome::Rejected(e.to_string()),
    })
}
