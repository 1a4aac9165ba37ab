//! `aes_gcm_test.json`: AES-GCM through [`Aes256GcmKey`].
//!
//! Applicable: 256-bit keys, 96-bit nonces, 128-bit tags, the only parameters hush
//! uses. Every case runs through both forms hush offers, ciphertext-then-tag
//! ([`Aes256GcmKey::open`], [`Aes256GcmKey::seal`]) and detached tag
//! ([`Aes256GcmKey::open_in_place`], [`Aes256GcmKey::seal_in_place`]); the two must
//! agree, and a refused in-place open must leave the buffer as it was.

use std::path::Path;

use hush_core::cipher::{AES_256_KEY_LENGTH, Aes256GcmKey, GCM_NONCE_LENGTH, GCM_TAG_LENGTH};
use serde::Deserialize;

use super::{Expected, Outcome, Suite, bits, run_suite};
use crate::vectors::{Report, expect, expect_bytes, unhex, unhex_array};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Group {
    key_size: u64,
    iv_size: u64,
    tag_size: u64,
}

#[derive(Deserialize)]
struct Test {
    key: String,
    iv: String,
    aad: String,
    msg: String,
    ct: String,
    tag: String,
}

const SUITE: Suite<Group, Test> = Suite {
    algorithm: "AES-GCM",
    group_type: "AeadTest",
    applicable: |group| {
        group.key_size == bits(AES_256_KEY_LENGTH)
            && group.iv_size == bits(GCM_NONCE_LENGTH)
            && group.tag_size == bits(GCM_TAG_LENGTH)
    },
    run,
};

/// Checks `aes_gcm_test.json`.
pub(crate) fn check(path: &Path, report: &mut Report) {
    run_suite(path, report, &SUITE);
}

fn run(_: &Group, test: &Test, _: Expected) -> Result<Outcome, String> {
    let key = Aes256GcmKey::new(&unhex_array::<AES_256_KEY_LENGTH>("key", &test.key)?);
    let nonce = unhex_array::<GCM_NONCE_LENGTH>("iv", &test.iv)?;
    let tag = unhex_array::<GCM_TAG_LENGTH>("tag", &test.tag)?;
    let aad = unhex("aad", &test.aad)?;
    let msg = unhex("msg", &test.msg)?;
    let ct = unhex("ct", &test.ct)?;
    let mut sealed = ct.clone();
    sealed.extend_from_slice(&tag);

    let joined = key.open(&nonce, &aad, &sealed);
    let mut buffer = ct.clone();
    let detached = key.open_in_place(&nonce, &aad, &mut buffer, &tag);
    match (joined, detached) {
        (Ok(plaintext), Ok(())) => Ok(Outcome::Accepted(
            expect_bytes("open", &plaintext, &msg)
                .and_then(|()| expect_bytes("open_in_place", &buffer, &msg))
                .and_then(|()| expect_bytes("seal", &key.seal(&nonce, &aad, &msg), &sealed))
                .and_then(|()| {
                    let mut buffer = msg.clone();
                    let made_tag = key.seal_in_place(&nonce, &aad, &mut buffer);
                    expect_bytes("seal_in_place ciphertext", &buffer, &ct)?;
                    expect_bytes("seal_in_place tag", &made_tag, &tag)
                }),
        )),
        (Err(e), Err(_)) => {
            expect(buffer == ct, || {
                "a refused open_in_place changed the buffer".into()
            })?;
            Ok(Outcome::Rejected(e.to_string()))
        }
        (joined, detached) => Err(format!(
            "open and open_in_place disagree: open {}, open_in_place {}",
            if joined.is_ok() {
                "accepted"
            } else {
                "rejected"
            },
            if detached.is_ok() {
                "accepted"
            } else {
                "rejected"
            },
        )),
    }
}
