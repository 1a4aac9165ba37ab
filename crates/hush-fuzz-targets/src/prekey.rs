//! Targets for `hush-prekey`: the bundle and upload decoders, server-side
//! `validate_upload`, and the private record decoders.
//!
//! The formats are protobuf-based, so a value may decode from more than one byte string
//! (an explicit zero field, say); the targets check that whatever decodes re-encodes to
//! bytes that decode to the same value, and that encoding is stable from then on.

use std::sync::OnceLock;

use hush_core::{IdentityKey, IdentityKeyPair, PrivateKey};
use hush_prekey::{
    KemPreKeyRecord, PreKeyBundle, PreKeyIdAllocator, PreKeyRecord, PreKeyRecords, PreKeyUpload,
    SignatureCheck, SignedPreKeyRecord, UploadError, UploadPolicy, validate_upload,
};
use hush_test_support::test_rng;

/// The private key of the account [`prekey_validate_upload`] validates uploads for; the
/// seed corpus holds uploads signed with it.
pub const UPLOAD_ACCOUNT_KEY: [u8; 32] = [0x5a; 32];

/// The server clock [`prekey_validate_upload`] uses (ms since the Unix epoch); the seed
/// corpus's keys are stamped with it.
pub const UPLOAD_NOW_MS: u64 = 1_700_000_000_000;

/// How many more batch weightings [`prekey_validate_upload`] tries before it calls a
/// disagreement between batch and one-by-one verification a bug (a key holder can build
/// signatures the batch check accepts with probability up to 1/2; see `docs/xeddsa.md`).
const BATCH_RETRIES: u64 = 32;

fn account() -> &'static IdentityKey {
    static KEY: OnceLock<IdentityKey> = OnceLock::new();
    KEY.get_or_init(|| {
        IdentityKeyPair::from(PrivateKey::from_bytes(UPLOAD_ACCOUNT_KEY)).identity_key()
    })
}

/// `PreKeyBundle::decode`: a decoded bundle re-encodes to bytes that decode to the same
/// bundle, and checking its signatures does not panic.
pub fn prekey_bundle(data: &[u8]) {
    let Ok(bundle) = PreKeyBundle::decode(data) else {
        return;
    };
    let encoded = bundle.encode();
    let again = PreKeyBundle::decode(&encoded);
    assert_eq!(
        again.as_ref(),
        Ok(&bundle),
        "bundle does not survive re-encoding"
    );
    assert_eq!(bundle.encode(), encoded, "bundle encoding is not stable");
    let _ = bundle.verify_signatures();
}

/// `PreKeyUpload::decode` with the default policy: a decoded upload re-encodes to bytes
/// that decode to the same upload.
pub fn prekey_upload(data: &[u8]) {
    let policy = UploadPolicy::default();
    let Ok(upload) = PreKeyUpload::decode(data, &policy) else {
        return;
    };
    let encoded = upload.encode();
    let again = PreKeyUpload::decode(&encoded, &policy);
    assert_eq!(
        again.as_ref(),
        Ok(&upload),
        "upload does not survive re-encoding"
    );
}

/// `validate_upload` for the fixed account at the fixed clock: never panics; batch and
/// one-by-one verification agree; an accepted upload is one `PreKeyUpload::decode`
/// accepts too, and re-validates after re-encoding.
pub fn prekey_validate_upload(data: &[u8]) {
    let key = account();
    let batch = UploadPolicy::default();
    let mut single = UploadPolicy::default();
    single.signature_check = SignatureCheck::OneByOne;
    let one_by_one = validate_upload(key, data, &single, UPLOAD_NOW_MS, &mut test_rng(0));
    let agrees =
        |seed| validate_upload(key, data, &batch, UPLOAD_NOW_MS, &mut test_rng(seed)) == one_by_one;
    assert!(
        (0..=BATCH_RETRIES).any(agrees),
        "batch and one-by-one verification disagree: {one_by_one:?}"
    );
    match one_by_one {
        Ok(validated) => {
            assert_eq!(
                PreKeyUpload::decode(data, &batch).as_ref(),
                Ok(validated.upload())
            );
            let encoded = validated.upload().encode();
            let again = validate_upload(key, &encoded, &single, UPLOAD_NOW_MS, &mut test_rng(0));
            assert_eq!(again, Ok(validated), "a valid upload does not re-validate");
        }
        Err(UploadError::Rejected { problems }) => {
            assert!(!problems.is_empty(), "rejected without a problem")
        }
        Err(_) => {}
    }
}

/// The private record decoders; the first byte chooses which: 0 signed, 1 one-time,
/// 2 KEM (hush's forms), 3 signed, 4 one-time, 5 KEM (libsignal's forms), 6 record set,
/// 7 id allocator state. Whatever decodes re-encodes to bytes that decode to the same.
pub fn prekey_records(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 8 {
        0 => {
            if let Ok(r) = SignedPreKeyRecord::decode(rest) {
                assert_eq!(SignedPreKeyRecord::decode(&r.encode()).as_ref(), Ok(&r));
            }
        }
        1 => {
            if let Ok(r) = PreKeyRecord::decode(rest) {
                assert_eq!(PreKeyRecord::decode(&r.encode()).as_ref(), Ok(&r));
            }
        }
        2 => {
            if let Ok(r) = KemPreKeyRecord::decode(rest) {
                let encoded = r.encode();
                let again = KemPreKeyRecord::decode(&encoded).map(|a| a.encode());
                assert_eq!(again.as_ref().map(|e| e.as_slice()), Ok(encoded.as_slice()));
            }
        }
        3 => {
            if let Ok(r) = SignedPreKeyRecord::decode_libsignal(rest) {
                assert_eq!(
                    SignedPreKeyRecord::decode_libsignal(&r.encode_libsignal()).as_ref(),
                    Ok(&r)
                );
            }
        }
        4 => {
            if let Ok(r) = PreKeyRecord::decode_libsignal(rest) {
                assert_eq!(
                    PreKeyRecord::decode_libsignal(&r.encode_libsignal()).as_ref(),
                    Ok(&r)
                );
            }
        }
        5 => {
            if let Ok(r) = KemPreKeyRecord::decode_libsignal(rest, false) {
                let encoded = r.encode_libsignal();
                let again = KemPreKeyRecord::decode_libsignal(&encoded, false)
                    .map(|a| a.encode_libsignal());
                assert_eq!(again.as_ref().map(|e| e.as_slice()), Ok(encoded.as_slice()));
            }
        }
        6 => {
            if let Ok(set) = PreKeyRecords::decode(rest) {
                let encoded = set.encode();
                let again = PreKeyRecords::decode(&encoded).map(|a| a.encode());
                assert_eq!(again.as_ref().map(|e| e.as_slice()), Ok(encoded.as_slice()));
            }
        }
        _ => {
            if let Ok(ids) = PreKeyIdAllocator::decode(rest) {
                assert_eq!(
                    ids.encode().as_slice(),
                    rest,
                    "allocator state is not canonical"
                );
            }
        }
    }
}
