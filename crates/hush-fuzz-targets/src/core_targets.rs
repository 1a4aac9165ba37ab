//! Targets for `hush-core`'s decoders and signature verification.
//!
//! The fixed format ones (public and private keys, signatures, KEM keys and ciphertexts)
//! are canonical: a value decodes from exactly one byte string, so each target checks
//! `encode(decode(x)) == x`. The protobuf ones (identity key pair, scannable fingerprint)
//! are not, since protobuf decoding accepts fields in any order, repeated fields and
//! unknown fields; those targets check `decode(encode(decode(x))) == decode(x)` and that
//! encoding is stable from then on.

use std::sync::OnceLock;

use hush_core::kem::KEM_PUBLIC_KEY_LENGTH;
use hush_core::xeddsa::{BatchItem, verify_batch};
use hush_core::{
    Error, IdentityKey, IdentityKeyPair, KemCiphertext, KemKeyPair, KemKeyType, KemPublicKey,
    KemSecretKey, PrivateKey, PublicKey, ScannableFingerprint, Signature, VerifyingKey,
};
use hush_test_support::test_rng;

/// The key the [`signature`] target verifies against: the public key of case 1 of
/// `test-vectors/libsignal/xeddsa.json` (a key libsignal made), so that the seed corpus can
/// hold signatures libsignal made with it.
pub const SIGNATURE_TARGET_KEY: [u8; 32] = [
    0xc1, 0x1f, 0x55, 0xf8, 0x4d, 0x6f, 0x1f, 0xc6, 0x34, 0x1f, 0x3c, 0x8f, 0xa1, 0xb0, 0xdd, 0xa3,
    0x23, 0x56, 0x01, 0x1d, 0x3d, 0x63, 0x01, 0x4c, 0x27, 0x96, 0x16, 0xa0, 0x45, 0x10, 0xcd, 0x75,
];

/// The most items one [`xeddsa_verify`] input is split into.
pub const MAX_BATCH_ITEMS: usize = 8;

/// How many more weightings [`xeddsa_verify`] tries before it calls a signature that batch
/// verification accepted, but single verification rejected, a bug.
const BATCH_RETRIES: u64 = 32;

/// A fixed private key for the X25519 check in [`public_key`].
const AGREEMENT_KEY: [u8; 32] = [0x42; 32];

/// `PublicKey::decode` (33 bytes, type byte `0x05`) and `IdentityKey::decode`, which must
/// agree; a decoded key re-encodes to the input, prepares for verification, and takes part
/// in X25519 agreement without panicking.
pub fn public_key(data: &[u8]) {
    let decoded = PublicKey::decode(data);
    assert_eq!(
        IdentityKey::decode(data).map(|key| *key.public_key()),
        decoded,
        "IdentityKey::decode and PublicKey::decode disagree"
    );
    let Ok(key) = decoded else { return };
    let encoded = key.encode();
    assert_eq!(
        encoded.as_slice(),
        data,
        "public key re-encodes differently"
    );
    assert_eq!(PublicKey::decode(&encoded), Ok(key));
    assert_eq!(VerifyingKey::new(&key).public_key(), &key);
    match PrivateKey::from_bytes(AGREEMENT_KEY).agree(&key) {
        Ok(_) | Err(Error::NonContributory) => {}
        Err(other) => unexpected("X25519 agreement", &other),
    }
}

/// `PrivateKey::decode`: exactly 32 bytes decode, to the clamped scalar (checked here
/// bit by bit), and the decoded key round-trips through `to_bytes`.
pub fn private_key(data: &[u8]) {
    let Ok(key) = PrivateKey::decode(data) else {
        assert_ne!(data.len(), 32, "32 bytes did not decode as a private key");
        return;
    };
    let Ok(mut clamped) = <[u8; 32]>::try_from(data) else {
        unexpected_len("private key", data.len());
    };
    let [first, .., last] = &mut clamped;
    *first &= 0xf8;
    *last = (*last & 0x7f) | 0x40;
    let bytes = key.to_bytes();
    assert_eq!(*bytes, clamped, "private key is not the clamped input");
    let again = PrivateKey::decode(bytes.as_slice());
    assert!(
        again.as_ref().is_ok_and(|again| *again == key),
        "private key does not round-trip"
    );
    assert_eq!(again.map(|k| k.public_key()), Ok(key.public_key()));
}

/// `IdentityKeyPair::decode` (libsignal's protobuf): a decoded pair re-encodes to bytes
/// that decode to the same pair, encoding is stable from then on, and the pair signs
/// what its identity key verifies.
pub fn identity_key_pair(data: &[u8]) {
    let Ok(pair) = IdentityKeyPair::decode(data) else {
        return;
    };
    let encoded = pair.encode();
    let again = IdentityKeyPair::decode(&encoded);
    assert!(
        again.as_ref().is_ok_and(|again| *again == pair),
        "identity key pair does not round-trip"
    );
    if let Ok(again) = again {
        assert_eq!(
            *again.encode(),
            *encoded,
            "identity key pair encoding is not stable"
        );
    }
    assert_eq!(
        pair.identity_key().public_key(),
        &pair.private_key().public_key()
    );
    let signature = pair.sign(data, &mut test_rng(0));
    assert!(
        pair.identity_key().verify(data, &signature),
        "own signature does not verify"
    );
}

/// `Signature::decode`, then verification of the first 64 bytes as a signature over the
/// rest, by [`SIGNATURE_TARGET_KEY`]: `PublicKey::verify`, `VerifyingKey::verify` and
/// `IdentityKey::verify` must give the same verdict.
pub fn signature(data: &[u8]) {
    match Signature::decode(data) {
        Ok(signature) => {
            assert_eq!(
                signature.as_bytes().as_slice(),
                data,
                "signature re-encodes differently"
            );
            assert_eq!(Signature::from_bytes(signature.to_bytes()), signature);
        }
        Err(_) => assert_ne!(data.len(), 64, "64 bytes did not decode as a signature"),
    }
    let Some((signature, message)) = data.split_first_chunk::<64>() else {
        return;
    };
    let signature = Signature::from_bytes(*signature);
    let key = PublicKey::from_montgomery_bytes(SIGNATURE_TARGET_KEY);
    let by_public_key = key.verify(message, &signature);
    assert_eq!(
        signature_target_verifying_key().verify(message, &signature),
        by_public_key,
        "VerifyingKey::verify and PublicKey::verify disagree"
    );
    assert_eq!(
        IdentityKey::new(key).verify(message, &signature),
        by_public_key
    );
}

fn signature_target_verifying_key() -> &'static VerifyingKey {
    static KEY: OnceLock<VerifyingKey> = OnceLock::new();
    KEY.get_or_init(|| VerifyingKey::new(&PublicKey::from_montgomery_bytes(SIGNATURE_TARGET_KEY)))
}

/// Single and batch XEdDSA verification must agree.
///
/// The input is up to [`MAX_BATCH_ITEMS`] items, each a 32-byte Montgomery `u`, a 64-byte
/// signature, a length byte and that many message bytes (fewer if the input ends). Every
/// item is checked with `PublicKey::verify` and `VerifyingKey::verify` (which must agree),
/// then the items are checked with `verify_batch`, once as given and once listed twice (so
/// every key appears twice and is folded). Batch verification must reject exactly what
/// single verification rejects, in input order. The one documented exception (a signer who
/// crafts `R` with a small-order component may slip through one weighting with probability
/// up to 1/2) is allowed for: a signature the batch accepted but single verification
/// rejects must be caught by one of 32 further weightings.
pub fn xeddsa_verify(data: &[u8]) {
    let items = split_batch_items(data);
    let keys: Vec<VerifyingKey> = items
        .iter()
        .map(|item| VerifyingKey::new(&item.key))
        .collect();
    let mut expected = Vec::new();
    for (index, (item, key)) in items.iter().zip(&keys).enumerate() {
        let valid = item.key.verify(item.message, &item.signature);
        assert_eq!(
            key.verify(item.message, &item.signature),
            valid,
            "item {index}: VerifyingKey::verify and PublicKey::verify disagree"
        );
        if !valid {
            expected.push(index);
        }
    }
    let batch: Vec<BatchItem<'_>> = items
        .iter()
        .zip(&keys)
        .map(|(item, key)| BatchItem {
            key,
            message: item.message,
            signature: &item.signature,
        })
        .collect();
    check_batch(&batch, &expected);

    let doubled: Vec<BatchItem<'_>> = batch.iter().chain(&batch).copied().collect();
    let expected_doubled: Vec<usize> = expected
        .iter()
        .copied()
        .chain(expected.iter().map(|i| i + batch.len()))
        .collect();
    check_batch(&doubled, &expected_doubled);
}

struct RawItem<'a> {
    key: PublicKey,
    signature: Signature,
    message: &'a [u8],
}

fn split_batch_items(data: &[u8]) -> Vec<RawItem<'_>> {
    let mut items = Vec::new();
    let mut rest = data;
    while items.len() < MAX_BATCH_ITEMS {
        let Some((u, tail)) = rest.split_first_chunk::<32>() else {
            break;
        };
        let Some((signature, tail)) = tail.split_first_chunk::<64>() else {
            break;
        };
        let Some((&len, tail)) = tail.split_first() else {
            break;
        };
        let (message, tail) = tail
            .split_at_checked(usize::from(len))
            .unwrap_or((tail, &[]));
        items.push(RawItem {
            key: PublicKey::from_montgomery_bytes(*u),
            signature: Signature::from_bytes(*signature),
            message,
        });
        rest = tail;
    }
    items
}

fn check_batch(items: &[BatchItem<'_>], expected_invalid: &[usize]) {
    let verdict = verify_batch(items, &mut test_rng(0));
    let invalid = verdict.invalid();
    assert_eq!(verdict.all_valid(), invalid.is_empty());
    assert!(
        invalid
            .windows(2)
            .all(|pair| matches!(pair, [a, b] if a < b)),
        "batch verdict not in input order: {invalid:?}"
    );
    assert!(
        invalid.iter().all(|index| expected_invalid.contains(index)),
        "batch rejected a signature that verifies on its own: {invalid:?} vs {expected_invalid:?}"
    );
    for missed in expected_invalid
        .iter()
        .filter(|index| !invalid.contains(index))
    {
        let caught = (1..=BATCH_RETRIES).any(|seed| {
            verify_batch(items, &mut test_rng(seed))
                .invalid()
                .contains(missed)
        });
        assert!(
            caught,
            "batch verification keeps accepting item {missed}, which fails on its own"
        );
    }
}

/// `KemPublicKey::decode` (type byte and 1568 bytes, plus the FIPS 203 modulus check): a
/// decoded key re-encodes to the input and can be encapsulated to.
pub fn kem_public_key(data: &[u8]) {
    let Ok(key) = KemPublicKey::decode(data) else {
        return;
    };
    let encoded = key.encode();
    assert_eq!(encoded, data, "KEM public key re-encodes differently");
    assert_eq!(KemPublicKey::decode(&encoded).as_ref(), Ok(&key));
    assert_eq!(data.first(), Some(&key.key_type().type_byte()));
    let (ciphertext, _) = key.encapsulate(&mut test_rng(0));
    assert_eq!(ciphertext.key_type(), key.key_type());
}

/// `KemSecretKey::decode` (type byte and 3168 bytes): a decoded key re-encodes to the
/// input, and decapsulates a ciphertext of its own type (any secret key bytes must give
/// some shared secret, never a panic) and refuses one of the other type.
pub fn kem_secret_key(data: &[u8]) {
    let Ok(key) = KemSecretKey::decode(data) else {
        return;
    };
    let encoded = key.encode();
    assert_eq!(
        encoded.as_slice(),
        data,
        "KEM secret key re-encodes differently"
    );
    let again = KemSecretKey::decode(&encoded);
    assert!(
        again.is_ok_and(|again| *again.encode() == *encoded),
        "KEM secret key does not round-trip"
    );
    let (_, ciphertext) = kem_fixture(key.key_type());
    assert!(
        key.decapsulate(ciphertext).is_ok(),
        "decapsulation failed for a matching type"
    );
    let (_, other) = kem_fixture(other_kem_type(key.key_type()));
    assert_eq!(key.decapsulate(other).err(), Some(Error::KemTypeMismatch));
}

/// `KemCiphertext::decode` (type byte and 1568 bytes): a decoded ciphertext re-encodes
/// to the input, and decapsulates under a fixed key of its type (never a panic) and is
/// refused by a key of the other type.
pub fn kem_ciphertext(data: &[u8]) {
    let Ok(ciphertext) = KemCiphertext::decode(data) else {
        return;
    };
    let encoded = ciphertext.encode();
    assert_eq!(encoded, data, "KEM ciphertext re-encodes differently");
    assert_eq!(KemCiphertext::decode(&encoded).as_ref(), Ok(&ciphertext));
    let (pair, fixed) = kem_fixture(ciphertext.key_type());
    let shared = pair.secret_key().decapsulate(&ciphertext);
    assert!(shared.is_ok(), "decapsulation failed for a matching type");
    if ciphertext == *fixed {
        let (_, expected) = pair.public_key().encapsulate(&mut test_rng(1));
        assert_eq!(
            shared.ok(),
            Some(expected),
            "decapsulation lost the shared secret"
        );
    }
    let (other, _) = kem_fixture(other_kem_type(ciphertext.key_type()));
    assert_eq!(
        other.secret_key().decapsulate(&ciphertext).err(),
        Some(Error::KemTypeMismatch)
    );
}

/// `KemKeyPair::decode`: the first 1569 bytes are the public key, the rest the secret key.
/// A pair that decodes has halves that decode on their own and re-encode to the input.
pub fn kem_key_pair(data: &[u8]) {
    let Some((public, secret)) = data.split_at_checked(KEM_PUBLIC_KEY_LENGTH + 1) else {
        return;
    };
    let Ok(pair) = KemKeyPair::decode(public, secret) else {
        return;
    };
    assert_eq!(
        pair.public_key().encode(),
        public,
        "public half re-encodes differently"
    );
    assert_eq!(
        pair.secret_key().encode().as_slice(),
        secret,
        "secret half re-encodes differently"
    );
    assert_eq!(KemPublicKey::decode(public).as_ref(), Ok(pair.public_key()));
    assert_eq!(pair.public_key().key_type(), pair.secret_key().key_type());
    let (ciphertext, _) = pair.public_key().encapsulate(&mut test_rng(0));
    assert!(pair.secret_key().decapsulate(&ciphertext).is_ok());
}

/// A fixed key pair of `key_type` and a ciphertext encapsulated to it with `test_rng(1)`.
fn kem_fixture(key_type: KemKeyType) -> &'static (KemKeyPair, KemCiphertext) {
    static FIXTURES: OnceLock<[(KemKeyPair, KemCiphertext); 2]> = OnceLock::new();
    let fixtures = FIXTURES.get_or_init(|| {
        [KemKeyType::Kyber1024, KemKeyType::MlKem1024].map(|key_type| {
            let pair = KemKeyPair::from_seed(key_type, &[key_type.type_byte(); 64]);
            let (ciphertext, _) = pair.public_key().encapsulate(&mut test_rng(1));
            (pair, ciphertext)
        })
    });
    let [kyber, mlkem] = fixtures;
    if key_type == KemKeyType::MlKem1024 {
        mlkem
    } else {
        assert_eq!(
            key_type,
            KemKeyType::Kyber1024,
            "a KEM type the fuzz targets do not know"
        );
        kyber
    }
}

fn other_kem_type(key_type: KemKeyType) -> KemKeyType {
    if key_type == KemKeyType::Kyber1024 {
        KemKeyType::MlKem1024
    } else {
        KemKeyType::Kyber1024
    }
}

/// `ScannableFingerprint::decode` (libsignal's `CombinedFingerprints` protobuf): a decoded
/// fingerprint re-encodes to bytes that decode to the same value, encoding is stable from
/// then on, and it compares equal to its own mirror image.
pub fn scannable_fingerprint(data: &[u8]) {
    let Ok(fingerprint) = ScannableFingerprint::decode(data) else {
        return;
    };
    assert!((1..=2).contains(&fingerprint.version()));
    let encoded = fingerprint.encode();
    let again = ScannableFingerprint::decode(&encoded);
    assert_eq!(
        again.as_ref(),
        Ok(&fingerprint),
        "scannable fingerprint does not round-trip"
    );
    assert_eq!(again.map(|again| again.encode()).as_ref(), Ok(&encoded));
    // `compare` wants the other side's code: local and remote swapped. Swapping the two
    // length-delimited fields of our canonical encoding makes it.
    let mirrored = ScannableFingerprint::decode(&mirror_scannable(&encoded));
    assert_eq!(
        mirrored.and_then(|m| fingerprint.compare(&m)),
        Ok(true),
        "mirror does not compare"
    );
}

/// Swaps the local (field 2) and remote (field 3) fingerprints of a canonical encoding:
/// tag 1 varint, then `0x12 0x22 0x0a 0x20 <32>`, then `0x1a 0x22 0x0a 0x20 <32>`.
fn mirror_scannable(encoded: &[u8]) -> Vec<u8> {
    const SIDE: usize = 36;
    let Some((version, sides)) = encoded.split_at_checked(encoded.len().saturating_sub(2 * SIDE))
    else {
        return Vec::new();
    };
    let Some((local, remote)) = sides.split_at_checked(SIDE) else {
        return Vec::new();
    };
    let (Some((_, local_body)), Some((_, remote_body))) =
        (local.split_first(), remote.split_first())
    else {
        return Vec::new();
    };
    let mut out = version.to_vec();
    out.push(0x12);
    out.extend_from_slice(remote_body);
    out.push(0x1a);
    out.extend_from_slice(local_body);
    out
}

#[track_caller]
fn unexpected(what: &str, error: &Error) -> ! {
    #[expect(clippy::panic, reason = "a fuzz target reports a bug by panicking")]
    {
        panic!("{what}: unexpected error {error:?}")
    }
}

#[track_caller]
fn unexpected_len(what: &str, len: usize) -> ! {
    #[expect(clippy::panic, reason = "a fuzz target reports a bug by panicking")]
    {
        panic!("{what}: decoded from {len} bytes")
    }
}
