//! `hmac_sha256_test.json`: HMAC-SHA256 through [`hmac_sha256`],
//! [`verify_hmac_sha256`] and [`HmacSha256Key::mac_parts`].
//!
//! Applicable: tags of 8 to 32 bytes, the lengths hush accepts (Wycheproof's 128- and
//! 256-bit tags); keys of any length. A valid tag must be a prefix of hush's MAC and
//! must verify; an invalid one must not verify.

use std::path::Path;

use hush_core::kdf::{HmacSha256Key, MAC_LENGTH, hmac_sha256, verify_hmac_sha256};
use hush_core::limits::MIN_MAC_TAG_LEN;
use serde::Deserialize;

use super::{Expected, Outcome, Suite, bits, run_suite};
use crate::vectors::{Report, expect, expect_bytes, unhex};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Group {
    tag_size: u64,
}

#[derive(Deserialize)]
struct Test {
    key: String,
    msg: String,
    tag: String,
}

const SUITE: Suite<Group, Test> = Suite {
    algorithm: "HMACSHA256",
    group_type: "MacTest",
    applicable: |group| {
        group.tag_size % 8 == 0
            && (bits(MIN_MAC_TAG_LEN)..=bits(MAC_LENGTH)).contains(&group.tag_size)
    },
    run,
};

/// Checks `hmac_sha256_test.json`.
pub(crate) fn check(path: &Path, report: &mut Report) {
    run_suite(path, report, &SUITE);
}

fn run(group: &Group, test: &Test, _: Expected) -> Result<Outcome, String> {
    let key = unhex("key", &test.key)?;
    let msg = unhex("msg", &test.msg)?;
    let tag = unhex("tag", &test.tag)?;
    expect(bits(tag.len()) == group.tag_size, || {
        format!(
            "tag is {} bytes, the group says {} bits",
            tag.len(),
            group.tag_size
        )
    })?;
    Ok(match verify_hmac_sha256(&key, &msg, &tag) {
        Ok(true) => {
            let full = hmac_sha256(&key, &msg);
            let (front, back) = msg.split_at(msg.len() / 2);
            let parts = HmacSha256Key::new(&key).mac_parts(&[front, back]);
            Outcome::Accepted(
                expect_bytes("tag", full.get(..tag.len()).unwrap_or_default(), &tag).and_then(
                    |()| expect_bytes("MAC over two parts", parts.as_slice(), full.as_slice()),
                ),
            )
        }
        Ok(false) => Outcome::Rejected("tag does not verify".into()),
        Err(e) => Outcome::Rejected(e.to_string()),
    })
}
