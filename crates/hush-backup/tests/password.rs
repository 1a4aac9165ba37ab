//! Password-wrapped keys: round trip, wrong password, tampering, the version byte, and
//! hostile parameters refused before any hashing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    reason = "tests"
)]

use hush_backup::limits::{
    MAX_ARGON2_ITERATIONS, MAX_ARGON2_MEMORY_KIB, MAX_ARGON2_PARALLELISM, MAX_ARGON2_WORK,
    MIN_ARGON2_MEMORY_KIB,
};
use hush_backup::password::PASSWORD_WRAPPED_KEY_LENGTH;
use hush_backup::{Argon2Params, BackupKey, Error, PasswordWrappedKey};
use hush_test_support::{ReplayRng, test_rng};

/// OWASP's cheapest row, the smallest the bounds allow: 7 MiB, 5 passes.
const SMALL: Argon2Params = Argon2Params {
    memory_kib: 7 * 1024,
    iterations: 5,
    parallelism: 1,
};

fn key() -> BackupKey {
    BackupKey::from_bytes([0x42; 32])
}

#[test]
fn default_params_are_owasp() {
    assert_eq!(
        Argon2Params::default(),
        Argon2Params {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1
        }
    );
}

#[test]
fn round_trip_with_default_params() {
    let wrapped = PasswordWrappedKey::wrap(
        &key(),
        b"correct horse",
        Argon2Params::default(),
        &mut test_rng(1),
    )
    .unwrap();
    assert_eq!(wrapped.params(), Argon2Params::default());
    assert_eq!(wrapped.unwrap(b"correct horse").unwrap(), key());
    let encoded = wrapped.encode();
    assert_eq!(encoded.len(), PASSWORD_WRAPPED_KEY_LENGTH);
    assert_eq!(encoded.len(), 77);
    let decoded = PasswordWrappedKey::decode(&encoded).unwrap();
    assert_eq!(decoded, wrapped);
    assert_eq!(decoded.encode(), encoded);
    assert_eq!(decoded.unwrap(b"correct horse").unwrap(), key());
}

#[test]
fn wrong_password() {
    let wrapped = PasswordWrappedKey::wrap(&key(), b"pw", SMALL, &mut test_rng(2)).unwrap();
    assert_eq!(wrapped.unwrap(b"pw").unwrap(), key());
    for wrong in [&b""[..], b"pW", b"pw\0", b"p"] {
        assert_eq!(
            wrapped.unwrap(wrong),
            Err(Error::WrongPassword),
            "{wrong:?}"
        );
    }
}

#[test]
fn layout_and_tampering() {
    let wrapped = PasswordWrappedKey::wrap(&key(), b"pw", SMALL, &mut test_rng(3)).unwrap();
    let encoded = wrapped.encode();
    assert_eq!(encoded[0], 1);
    assert_eq!(encoded[1..5], 7168u32.to_be_bytes());
    assert_eq!(encoded[5..9], 5u32.to_be_bytes());
    assert_eq!(encoded[9..13], 1u32.to_be_bytes());

    // Raising a parameter (still in bounds): the header is authenticated data.
    let mut more_iterations = encoded.clone();
    more_iterations[8] = 6;
    let decoded = PasswordWrappedKey::decode(&more_iterations).unwrap();
    assert_eq!(decoded.params().iterations, 6);
    assert_eq!(decoded.unwrap(b"pw"), Err(Error::WrongPassword));

    // Salt, ciphertext and tag bytes.
    for at in [13, 28, 29, 45, 60, 61, 76] {
        let mut tampered = encoded.clone();
        tampered[at] ^= 1;
        let decoded = PasswordWrappedKey::decode(&tampered).unwrap();
        assert_eq!(
            decoded.unwrap(b"pw"),
            Err(Error::WrongPassword),
            "byte {at}"
        );
    }
}

#[test]
fn version_and_length_are_checked() {
    let encoded = PasswordWrappedKey::wrap(&key(), b"pw", SMALL, &mut test_rng(4))
        .unwrap()
        .encode();
    assert_eq!(
        PasswordWrappedKey::decode(&[]),
        Err(Error::Malformed("password-wrapped key"))
    );
    for version in [0u8, 2, 0xff] {
        let mut other = encoded.clone();
        other[0] = version;
        assert_eq!(
            PasswordWrappedKey::decode(&other),
            Err(Error::UnknownVersion(version))
        );
        // The version is checked before the length.
        assert_eq!(
            PasswordWrappedKey::decode(&[version]),
            Err(Error::UnknownVersion(version))
        );
    }
    for len in [1, 13, 29, 76] {
        assert_eq!(
            PasswordWrappedKey::decode(&encoded[..len]),
            Err(Error::Malformed("password-wrapped key length"))
        );
    }
    let mut long = encoded.clone();
    long.push(0);
    assert_eq!(
        PasswordWrappedKey::decode(&long),
        Err(Error::Malformed("password-wrapped key length"))
    );
}

fn with_params(memory: u32, iterations: u32, parallelism: u32) -> Vec<u8> {
    let mut bytes = vec![1u8];
    bytes.extend_from_slice(&memory.to_be_bytes());
    bytes.extend_from_slice(&iterations.to_be_bytes());
    bytes.extend_from_slice(&parallelism.to_be_bytes());
    bytes.resize(PASSWORD_WRAPPED_KEY_LENGTH, 0);
    bytes
}

#[test]
fn hostile_params_are_rejected_before_hashing() {
    let cases = [
        (u32::MAX, 2, 1, "argon2 memory"),
        (MAX_ARGON2_MEMORY_KIB + 1, 2, 1, "argon2 memory"),
        (MIN_ARGON2_MEMORY_KIB - 1, 10, 1, "argon2 memory"),
        (0, 2, 1, "argon2 memory"),
        (19_456, u32::MAX, 1, "argon2 iterations"),
        (19_456, MAX_ARGON2_ITERATIONS + 1, 1, "argon2 iterations"),
        (19_456, 0, 1, "argon2 iterations"),
        (19_456, 2, 0, "argon2 parallelism"),
        (19_456, 2, MAX_ARGON2_PARALLELISM + 1, "argon2 parallelism"),
        (19_456, 2, u32::MAX, "argon2 parallelism"),
        (7 * 1024, 1, 1, "argon2 work (memory x iterations)"),
        (12 * 1024, 2, 1, "argon2 work (memory x iterations)"),
    ];
    for (memory, iterations, parallelism, what) in cases {
        // Decoding bounds them (and runs no Argon2 at all).
        assert_eq!(
            PasswordWrappedKey::decode(&with_params(memory, iterations, parallelism)),
            Err(Error::InvalidParameters(what)),
            "{memory} {iterations} {parallelism}"
        );
        // Wrapping refuses them before drawing a salt, hence before hashing.
        let params = Argon2Params {
            memory_kib: memory,
            iterations,
            parallelism,
        };
        let mut rng = ReplayRng::new(Vec::new());
        assert_eq!(
            PasswordWrappedKey::wrap(&key(), b"pw", params, &mut rng),
            Err(Error::InvalidParameters(what))
        );
        assert!(!rng.overrun(), "no randomness drawn");
        assert_eq!(params.validate(), Err(Error::InvalidParameters(what)));
    }
    // Every row of OWASP's table is accepted.
    for (memory, iterations) in [
        (47_104, 1),
        (19_456, 2),
        (12_288, 3),
        (9_216, 4),
        (7_168, 5),
    ] {
        assert_eq!(
            Argon2Params {
                memory_kib: memory,
                iterations,
                parallelism: 1
            }
            .validate(),
            Ok(())
        );
        assert!(PasswordWrappedKey::decode(&with_params(memory, iterations, 1)).is_ok());
    }
    // The extremes the bounds allow: the most memory at the most work, the most lanes.
    let most_passes = u32::try_from(MAX_ARGON2_WORK / u64::from(MAX_ARGON2_MEMORY_KIB)).unwrap();
    assert!(
        PasswordWrappedKey::decode(&with_params(MAX_ARGON2_MEMORY_KIB, most_passes, 16)).is_ok()
    );
}

/// Issue 16, item 16: what a wrapped-key file may ask of the device that unwraps it is
/// capped at what a phone can afford per attempt, 256 MiB and 512 MiB x passes, and
/// refused at decoding, before any Argon2 work. The file (1 GiB, 100 passes, 16
/// lanes) and ones within each old per-field bound but far over the work cap are refused;
/// RFC 9106's memory-constrained recommendation and the cap itself are not.
#[test]
fn params_over_what_a_phone_can_afford_are_refused_before_hashing() {
    assert_eq!(MAX_ARGON2_MEMORY_KIB, 256 * 1024);
    assert_eq!(MAX_ARGON2_WORK, 512 * 1024);
    let work = "argon2 work (memory x iterations)";
    let cases = [
        (1024 * 1024, 100, 16, "argon2 memory"),
        (256 * 1024 + 1, 1, 1, "argon2 memory"),
        (256 * 1024, 100, 1, work),
        (256 * 1024, 3, 4, work),
        (7 * 1024, 100, 1, work),
        (64 * 1024, 9, 1, work),
    ];
    for (memory, iterations, parallelism, what) in cases {
        assert_eq!(
            PasswordWrappedKey::decode(&with_params(memory, iterations, parallelism)),
            Err(Error::InvalidParameters(what)),
            "{memory} KiB x {iterations} x {parallelism} lanes"
        );
        let params = Argon2Params {
            memory_kib: memory,
            iterations,
            parallelism,
        };
        let mut rng = ReplayRng::new(Vec::new());
        assert_eq!(
            PasswordWrappedKey::wrap(&key(), b"pw", params, &mut rng),
            Err(Error::InvalidParameters(what))
        );
        assert!(!rng.overrun(), "no randomness drawn");
    }
    for (memory, iterations, parallelism) in [
        (256 * 1024, 2, 4),
        (512 * 1024 / 7, 7, 1),
        (64 * 1024, 3, 4),
        (19 * 1024, 2, 1),
    ] {
        assert!(
            PasswordWrappedKey::decode(&with_params(memory, iterations, parallelism)).is_ok(),
            "{memory} KiB x {iterations} x {parallelism} lanes"
        );
    }
}

#[test]
fn debug_shows_only_params() {
    let wrapped = PasswordWrappedKey::wrap(&key(), b"pw", SMALL, &mut test_rng(5)).unwrap();
    assert_eq!(
        format!("{wrapped:?}"),
        "PasswordWrappedKey { params: Argon2Params { memory_kib: 7168, iterations: 5, parallelism: 1 }, .. }"
    );
}
