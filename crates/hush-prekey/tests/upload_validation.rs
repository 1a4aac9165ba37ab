//! `validate_upload` against every class of bad input: each gets its own error, naming
//! the key and what was wrong.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    reason = "test helpers outside #[test] fns: a failed unwrap or panic is a failed test"
)]

mod common;

use common::{NOW_MS, SignedEntry, UploadSpec, field_bytes, field_varint, fixture, fixture_with};
use hush_core::{IdentityKeyPair, KemKeyType};
use hush_prekey::limits::{DAY_MS, DEFAULT_MAX_KEY_AGE_MS, MAX_PREKEY_ID};
use hush_prekey::{
    Issue, KeyKind, PreKeyUpload, Problem, SignatureCheck, UploadError, UploadPolicy,
    ValidatedUpload, validate_upload,
};
use hush_test_support::test_rng;

fn validate(
    identity: &IdentityKeyPair,
    bytes: &[u8],
    policy: &UploadPolicy,
) -> Result<ValidatedUpload, UploadError> {
    let batch = validate_upload(
        &identity.identity_key(),
        bytes,
        policy,
        NOW_MS,
        &mut test_rng(99),
    );
    let mut single_policy = *policy;
    single_policy.signature_check = SignatureCheck::OneByOne;
    let single = validate_upload(
        &identity.identity_key(),
        bytes,
        &single_policy,
        NOW_MS,
        &mut test_rng(99),
    );
    assert_eq!(batch, single, "batch and one-by-one verification disagree");
    batch
}

fn problems(result: Result<ValidatedUpload, UploadError>) -> Vec<Problem> {
    match result {
        Err(UploadError::Rejected { problems }) => problems,
        other => panic!("expected Rejected, got {other:?}"),
    }
}

fn problem(kind: KeyKind, position: Option<usize>, id: Option<u32>, issue: Issue) -> Problem {
    Problem {
        kind,
        position,
        id,
        issue,
    }
}

#[test]
fn a_valid_upload_passes_and_matches_an_independent_encoder() {
    let f = fixture(1, 5, 4);
    let bytes = f.upload.encode();
    // The test's hand-written protobuf writer produces the same bytes.
    assert_eq!(UploadSpec::from_upload(&f.upload).encode(), bytes);
    let validated = validate(&f.identity, &bytes, &UploadPolicy::default()).unwrap();
    assert_eq!(validated.upload(), &f.upload);
    assert_eq!(
        validated.to_string(),
        "signed prekey id 1, 5 one-time prekeys, 4 KEM prekeys, last-resort KEM prekey id 5"
    );
    assert_eq!(
        PreKeyUpload::decode(&bytes, &UploadPolicy::default()).unwrap(),
        f.upload
    );
}

#[test]
fn ml_kem_uploads_pass_and_the_policy_can_refuse_them() {
    let f = fixture_with(2, 1, 2, KemKeyType::MlKem1024);
    let bytes = f.upload.encode();
    validate(&f.identity, &bytes, &UploadPolicy::default()).unwrap();
    let mut policy = UploadPolicy::default();
    policy.accept_ml_kem_1024 = false;
    let found = problems(validate(&f.identity, &bytes, &policy));
    assert_eq!(found.len(), 3);
    assert!(
        found
            .iter()
            .all(|p| p.issue == Issue::KemTypeNotAllowed { found: 0x0a })
    );
}

#[test]
fn full_upload_fits_the_default_policy() {
    let f = fixture(3, 100, 100);
    let bytes = f.upload.encode();
    assert!(
        bytes.len() > 160_000 && bytes.len() < 180_000,
        "{}",
        bytes.len()
    );
    validate(&f.identity, &bytes, &UploadPolicy::default()).unwrap();
}

#[test]
fn empty_oversized_unknown_version() {
    let f = fixture(4, 2, 1);
    let policy = UploadPolicy::default();
    assert_eq!(validate(&f.identity, &[], &policy), Err(UploadError::Empty));
    let mut bytes = f.upload.encode();
    let mut small = policy;
    small.max_upload_bytes = bytes.len() - 1;
    assert_eq!(
        validate(&f.identity, &bytes, &small),
        Err(UploadError::TooLarge {
            limit: bytes.len() - 1,
            actual: bytes.len()
        })
    );
    let huge = vec![0u8; policy.max_upload_bytes + 1];
    assert!(matches!(
        validate(&f.identity, &huge, &policy),
        Err(UploadError::TooLarge { .. })
    ));
    bytes[0] = 2;
    assert_eq!(
        validate(&f.identity, &bytes, &policy),
        Err(UploadError::UnsupportedVersion(2))
    );
    bytes[0] = 0;
    assert_eq!(
        validate(&f.identity, &bytes, &policy),
        Err(UploadError::UnsupportedVersion(0))
    );
}

/// The offsets where top-level fields end, found with the test's own reader.
fn field_boundaries(body: &[u8]) -> Vec<usize> {
    let mut ends = vec![0];
    let mut at = 0;
    let read = |at: &mut usize| {
        let mut value = 0u64;
        let mut shift = 0;
        loop {
            let byte = body[*at];
            *at += 1;
            value |= u64::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                return value;
            }
        }
    };
    while at < body.len() {
        let key = read(&mut at);
        assert_eq!(
            key & 7,
            2,
            "every top-level upload field is length-delimited"
        );
        let len = read(&mut at) as usize;
        at += len;
        ends.push(at);
    }
    ends
}

#[test]
fn truncation_inside_a_field_is_reported_as_truncated() {
    let f = fixture(5, 3, 2);
    let bytes = f.upload.encode();
    let boundaries = field_boundaries(&bytes[1..]);
    let policy = UploadPolicy::default();
    for cut in 1..bytes.len() {
        let result = validate(&f.identity, &bytes[..cut], &policy);
        if boundaries.contains(&(cut - 1)) {
            // A cut between fields leaves a shorter, well-formed upload, judged on its contents.
            assert!(
                !matches!(result, Err(UploadError::Truncated)),
                "cut at {cut}"
            );
        } else {
            assert_eq!(result, Err(UploadError::Truncated), "cut at {cut}");
        }
    }
}

#[test]
fn garbage_is_malformed_not_a_panic() {
    let f = fixture(6, 1, 1);
    let policy = UploadPolicy::default();
    let cases: &[(&[u8], &str)] = &[
        (&[1, 0x00], "field number out of range"),
        (&[1, 0x0b], "protobuf groups are not used"),
        (&[1, 0x0f], "invalid wire type"),
        (&[1, 0x08, 0x01], "field has the wrong wire type"),
        (&[1, 0x32, 0x00], "unknown field"),
        (&[1, 0x0a, 0x00, 0x0a, 0x00], "singular field appears twice"),
        (
            &[
                1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            ],
            "varint overflows 64 bits",
        ),
        (
            &[
                1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0x01,
            ],
            "varint longer than 10 bytes",
        ),
    ];
    for (bytes, reason) in cases {
        assert_eq!(
            validate(&f.identity, bytes, &policy),
            Err(UploadError::Malformed(reason)),
            "{bytes:02x?}"
        );
    }
    // Framing fine, but a one-time entry that is not a message.
    let mut bytes = vec![1];
    field_bytes(3, &[0xff, 0xff], &mut bytes);
    assert_eq!(
        validate(&f.identity, &bytes, &policy),
        Err(UploadError::Malformed("not a valid protobuf message"))
    );
    // Pseudo-random garbage after a good version byte never panics and is never accepted.
    let mut rng = test_rng(7);
    for len in 0..300 {
        let mut garbage = vec![0u8; len + 1];
        rand_core::Rng::fill_bytes(&mut rng, &mut garbage);
        garbage[0] = 1;
        assert!(validate(&f.identity, &garbage, &policy).is_err());
    }
}

#[test]
fn too_many_keys_are_counted_before_decoding() {
    let f = fixture(8, 1, 1);
    let policy = UploadPolicy::default();
    // 10,000 empty one-time entries: refused by count, never decoded.
    let mut bytes = vec![1];
    for _ in 0..10_000 {
        field_bytes(3, &[], &mut bytes);
    }
    assert_eq!(
        validate(&f.identity, &bytes, &policy),
        Err(UploadError::TooManyKeys {
            kind: KeyKind::OneTimePreKey,
            limit: 100,
            actual: 10_000
        })
    );
    let mut spec = UploadSpec::from_upload(&f.upload);
    spec.kem_prekeys = vec![spec.kem_prekeys[0].clone(); 3];
    let mut small = policy;
    small.max_kem_prekeys = 2;
    assert_eq!(
        validate(&f.identity, &spec.encode(), &small),
        Err(UploadError::TooManyKeys {
            kind: KeyKind::KemPreKey,
            limit: 2,
            actual: 3
        })
    );
}

#[test]
fn duplicate_ids_name_the_later_key() {
    let f = fixture(9, 3, 3);
    let mut spec = UploadSpec::from_upload(&f.upload);
    spec.one_time_prekeys[2].0 = spec.one_time_prekeys[0].0;
    // The last-resort key shares the KEM id space.
    spec.last_resort_kem_prekey.as_mut().unwrap().id = spec.kem_prekeys[1].id;
    let found = problems(validate(
        &f.identity,
        &spec.encode(),
        &UploadPolicy::default(),
    ));
    assert_eq!(
        found,
        [
            problem(KeyKind::OneTimePreKey, Some(2), Some(1), Issue::DuplicateId),
            problem(
                KeyKind::LastResortKemPreKey,
                None,
                Some(2),
                Issue::DuplicateId
            ),
        ]
    );
    // The same number in different spaces is fine: the fixture's one-time EC and KEM
    // keys are both numbered 1, 2, 3.
    let spec = UploadSpec::from_upload(&f.upload);
    assert_eq!(spec.kem_prekeys[1].id, spec.one_time_prekeys[1].0);
    validate(&f.identity, &spec.encode(), &UploadPolicy::default()).unwrap();
}

#[test]
fn ids_above_24_bits_are_out_of_range() {
    let f = fixture(10, 2, 1);
    let mut spec = UploadSpec::from_upload(&f.upload);
    spec.one_time_prekeys[1].0 = MAX_PREKEY_ID + 1;
    spec.one_time_prekeys[0].0 = MAX_PREKEY_ID;
    let found = problems(validate(
        &f.identity,
        &spec.encode(),
        &UploadPolicy::default(),
    ));
    assert_eq!(
        found,
        [problem(
            KeyKind::OneTimePreKey,
            Some(1),
            Some(MAX_PREKEY_ID + 1),
            Issue::IdOutOfRange
        )]
    );
}

#[test]
fn wrong_type_bytes_and_lengths() {
    let f = fixture(11, 2, 2);
    let mut spec = UploadSpec::from_upload(&f.upload);
    spec.one_time_prekeys[0].1[0] = 0x08;
    spec.one_time_prekeys[1].1.pop();
    spec.kem_prekeys[0].public_key[0] = 0x05;
    spec.kem_prekeys[1].public_key.push(0);
    spec.signed_prekey.as_mut().unwrap().signature.pop();
    spec.last_resort_kem_prekey
        .as_mut()
        .unwrap()
        .public_key
        .clear();
    let found = problems(validate(
        &f.identity,
        &spec.encode(),
        &UploadPolicy::default(),
    ));
    assert_eq!(
        found,
        [
            problem(
                KeyKind::SignedPreKey,
                None,
                Some(1),
                Issue::WrongSignatureLength { actual: 63 }
            ),
            problem(
                KeyKind::OneTimePreKey,
                Some(0),
                Some(1),
                Issue::WrongKeyType { found: 0x08 }
            ),
            problem(
                KeyKind::OneTimePreKey,
                Some(1),
                Some(2),
                Issue::WrongKeyLength {
                    expected: 33,
                    actual: 32
                }
            ),
            problem(
                KeyKind::KemPreKey,
                Some(0),
                Some(1),
                Issue::WrongKeyType { found: 0x05 }
            ),
            problem(
                KeyKind::KemPreKey,
                Some(1),
                Some(2),
                Issue::WrongKeyLength {
                    expected: 1569,
                    actual: 1570
                }
            ),
            problem(
                KeyKind::LastResortKemPreKey,
                None,
                Some(3),
                Issue::WrongKeyLength {
                    expected: 1569,
                    actual: 0
                }
            ),
        ]
    );
}

#[test]
fn unreduced_kem_keys_are_invalid() {
    let f = fixture(12, 0, 1);
    let mut spec = UploadSpec::from_upload(&f.upload);
    // The first 12-bit coefficient set to 4095 (>= q = 3329).
    spec.kem_prekeys[0].public_key[1] = 0xff;
    spec.kem_prekeys[0].public_key[2] |= 0x0f;
    let found = problems(validate(
        &f.identity,
        &spec.encode(),
        &UploadPolicy::default(),
    ));
    assert_eq!(
        found,
        [problem(
            KeyKind::KemPreKey,
            Some(0),
            Some(1),
            Issue::InvalidKey
        )]
    );
}

#[test]
fn bad_signatures_name_the_key() {
    let f = fixture(13, 1, 4);
    let mut spec = UploadSpec::from_upload(&f.upload);
    // Swap two KEM signatures: each is valid, but not for its key.
    let (a, b) = (
        spec.kem_prekeys[1].signature.clone(),
        spec.kem_prekeys[3].signature.clone(),
    );
    spec.kem_prekeys[1].signature = b;
    spec.kem_prekeys[3].signature = a;
    spec.signed_prekey.as_mut().unwrap().signature[5] ^= 1;
    let found = problems(validate(
        &f.identity,
        &spec.encode(),
        &UploadPolicy::default(),
    ));
    assert_eq!(
        found,
        [
            problem(KeyKind::SignedPreKey, None, Some(1), Issue::BadSignature),
            problem(KeyKind::KemPreKey, Some(1), Some(2), Issue::BadSignature),
            problem(KeyKind::KemPreKey, Some(3), Some(4), Issue::BadSignature),
        ]
    );
}

#[test]
fn identity_mismatch_and_signatures_by_another_identity() {
    let f = fixture(14, 1, 1);
    let bytes = f.upload.encode();
    let other = IdentityKeyPair::generate(&mut test_rng(15));
    let found = problems(validate(&other, &bytes, &UploadPolicy::default()));
    // The upload claims the wrong identity, and its signatures are not the account's.
    assert_eq!(
        found[0],
        Problem {
            kind: KeyKind::IdentityKey,
            position: None,
            id: None,
            issue: Issue::IdentityMismatch
        }
    );
    assert_eq!(
        found
            .iter()
            .filter(|p| p.issue == Issue::BadSignature)
            .count(),
        3
    );

    // Claiming the account's identity does not help keys signed by another.
    let mut spec = UploadSpec::from_upload(&f.upload);
    spec.identity_key = other.identity_key().encode().to_vec();
    let found = problems(validate(&other, &spec.encode(), &UploadPolicy::default()));
    assert_eq!(found.len(), 3);
    assert!(found.iter().all(|p| p.issue == Issue::BadSignature));

    // No identity key at all, or a broken one.
    spec.identity_key.clear();
    let found = problems(validate(
        &f.identity,
        &spec.encode(),
        &UploadPolicy::default(),
    ));
    assert_eq!(
        found,
        [problem(KeyKind::IdentityKey, None, None, Issue::Missing)]
    );
    spec.identity_key = vec![0x05; 32];
    let found = problems(validate(
        &f.identity,
        &spec.encode(),
        &UploadPolicy::default(),
    ));
    assert_eq!(
        found,
        [problem(
            KeyKind::IdentityKey,
            None,
            None,
            Issue::WrongKeyLength {
                expected: 33,
                actual: 32
            }
        )]
    );
}

#[test]
fn timestamps_in_the_future_or_too_old() {
    let f = fixture(16, 0, 2);
    let policy = UploadPolicy::default();
    let identity_key = f.identity.identity_key();
    let bytes = f.upload.encode();
    // Keys made at NOW_MS, validated by a server whose clock is far behind or far ahead.
    let behind = validate_upload(
        &identity_key,
        &bytes,
        &policy,
        NOW_MS - 2 * DAY_MS,
        &mut test_rng(1),
    );
    let found = problems(behind);
    assert_eq!(found.len(), 4);
    assert!(found.iter().all(|p| p.issue
        == Issue::TimestampInFuture {
            ahead_ms: 2 * DAY_MS
        }));
    let ahead = validate_upload(
        &identity_key,
        &bytes,
        &policy,
        NOW_MS + DEFAULT_MAX_KEY_AGE_MS + 1,
        &mut test_rng(1),
    );
    let found = problems(ahead);
    assert_eq!(
        found[0],
        problem(
            KeyKind::SignedPreKey,
            None,
            Some(1),
            Issue::TimestampTooOld {
                age_ms: DEFAULT_MAX_KEY_AGE_MS + 1
            }
        )
    );
    assert_eq!(found.len(), 4);
    // Within the skew and the age: fine.
    validate_upload(
        &identity_key,
        &bytes,
        &policy,
        NOW_MS - DAY_MS,
        &mut test_rng(1),
    )
    .unwrap();
    validate_upload(
        &identity_key,
        &bytes,
        &policy,
        NOW_MS + DEFAULT_MAX_KEY_AGE_MS,
        &mut test_rng(1),
    )
    .unwrap();
}

#[test]
fn required_keys_and_empty_uploads() {
    let f = fixture(17, 2, 0);
    let mut spec = UploadSpec::from_upload(&f.upload);
    spec.signed_prekey = None;
    spec.last_resort_kem_prekey = None;
    let bytes = spec.encode();
    validate(&f.identity, &bytes, &UploadPolicy::default()).unwrap();
    let mut strict = UploadPolicy::default();
    strict.require_signed_prekey = true;
    strict.require_last_resort_kem_prekey = true;
    assert_eq!(
        problems(validate(&f.identity, &bytes, &strict)),
        [
            problem(KeyKind::SignedPreKey, None, None, Issue::Missing),
            problem(KeyKind::LastResortKemPreKey, None, None, Issue::Missing),
        ]
    );
    spec.one_time_prekeys.clear();
    assert_eq!(
        problems(validate(
            &f.identity,
            &spec.encode(),
            &UploadPolicy::default()
        )),
        [problem(KeyKind::Upload, None, None, Issue::NoKeys)]
    );
}

#[test]
fn every_problem_is_reported_not_only_the_first() {
    let f = fixture(18, 3, 3);
    let mut spec = UploadSpec::from_upload(&f.upload);
    spec.one_time_prekeys[0].1[0] = 0x07;
    spec.one_time_prekeys[1].0 = spec.one_time_prekeys[2].0;
    spec.kem_prekeys[0].signature[0] ^= 0x80;
    spec.kem_prekeys[2].timestamp_ms = NOW_MS + 10 * DAY_MS;
    let found = problems(validate(
        &f.identity,
        &spec.encode(),
        &UploadPolicy::default(),
    ));
    let lines: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "one-time prekey #0 (id 1): wrong key type byte 0x07",
            "one-time prekey #2 (id 3): id already used by an earlier key in this upload",
            "KEM prekey #0 (id 1): signature does not verify under the identity key",
            // Timestamps are not signed (as in libsignal): the signature still verifies.
            "KEM prekey #2 (id 3): timestamp is 864000000 ms ahead of the server's clock",
        ]
    );
}

#[test]
fn entries_with_unknown_inner_fields_still_decode() {
    // Unknown fields inside an entry are skipped (protobuf rules); only the top level is strict.
    let f = fixture(19, 1, 0);
    let mut spec = UploadSpec::from_upload(&f.upload);
    spec.signed_prekey = None;
    spec.last_resort_kem_prekey = None;
    let mut bytes = vec![1];
    field_bytes(1, &spec.identity_key, &mut bytes);
    let mut entry = Vec::new();
    field_varint(1, 1, &mut entry);
    field_bytes(2, &spec.one_time_prekeys[0].1, &mut entry);
    field_varint(9, 7, &mut entry);
    field_bytes(3, &entry, &mut bytes);
    let validated = validate(&f.identity, &bytes, &UploadPolicy::default()).unwrap();
    assert_eq!(validated.one_time_prekeys().len(), 1);
    let _ = SignedEntry {
        id: 0,
        public_key: vec![],
        signature: vec![],
        timestamp_ms: 0,
    };
}
