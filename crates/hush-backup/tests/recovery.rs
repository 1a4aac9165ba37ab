//! Recovery codes: round trip, grouping, lenient parsing, and the checksum's guarantee
//! that every single wrong character and every swap of neighbours is a typo.
//!
//! The guarantee is proved exhaustively on one code: CRC-64/XZ is affine, so for two
//! 32-byte keys `crc(a ^ e) ^ crc(a) = crc(e) ^ crc(0)` — whether an error pattern `e`
//! (in the key and in the checksum) goes unnoticed depends on `e` alone, not on the key.
//! A test over every pattern of one kind on one code therefore covers every code
//! (docs/wire/backup.md, "Why every typo is caught").

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    reason = "tests"
)]

use hush_backup::{BackupKey, Error, RecoveryCode};
use hush_test_support::test_rng;
use proptest::prelude::*;

/// Crockford's alphabet, written out here independently of the crate.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

fn value(ch: u8) -> u8 {
    ALPHABET.iter().position(|&a| a == ch).unwrap() as u8
}

/// The 64 characters of `key`'s code, without the spaces.
fn chars_of(key: &BackupKey) -> Vec<u8> {
    key.recovery_code()
        .to_grouped_string()
        .bytes()
        .filter(|&b| b != b' ')
        .collect()
}

fn parse_bytes(chars: &[u8]) -> Result<RecoveryCode, Error> {
    RecoveryCode::parse(std::str::from_utf8(chars).unwrap())
}

#[test]
fn round_trip_and_grouping() {
    for seed in 0..20 {
        let key = BackupKey::generate(&mut test_rng(seed));
        let code = key.recovery_code();
        let shown = code.to_grouped_string();
        assert_eq!(shown.len(), 79);
        let groups: Vec<&str> = shown.split(' ').collect();
        assert_eq!(groups.len(), 16);
        for group in &groups {
            assert_eq!(group.len(), 4);
            assert!(group.bytes().all(|b| ALPHABET.contains(&b)), "{group}");
        }
        let parsed = RecoveryCode::parse(&shown).unwrap();
        assert_eq!(parsed, code);
        assert_eq!(BackupKey::from_recovery_code(&parsed), key);
        let via_from_str: RecoveryCode = shown.parse().unwrap();
        assert_eq!(via_from_str, code);
    }
}

#[test]
fn lower_case_dashes_and_spaces_are_accepted() {
    let key = BackupKey::generate(&mut test_rng(5));
    let shown = key.recovery_code().to_grouped_string();
    let compact: String = shown.chars().filter(|c| *c != ' ').collect();
    let variants = [
        compact.clone(),
        compact.to_lowercase(),
        shown.replace(' ', "-"),
        shown.to_lowercase().replace(' ', " - "),
        format!("  {}\n", shown.replace(' ', "\t")),
        compact
            .chars()
            .enumerate()
            .flat_map(|(i, c)| if i % 3 == 0 { vec!['-', c] } else { vec![c] })
            .collect(),
    ];
    for text in variants {
        assert_eq!(
            BackupKey::from_recovery_code(&RecoveryCode::parse(&text).unwrap()),
            key,
            "{text:?}"
        );
    }
}

#[test]
fn i_l_and_o_read_as_one_and_zero() {
    // A key whose code has both a 0 and a 1, so the mapping is exercised.
    let key = (0..)
        .map(|seed| BackupKey::generate(&mut test_rng(seed)))
        .find(|key| {
            let chars = chars_of(key);
            chars.contains(&b'0') && chars.contains(&b'1')
        })
        .unwrap();
    let compact = String::from_utf8(chars_of(&key)).unwrap();
    for (zero, one) in [("O", "I"), ("o", "i"), ("O", "L"), ("o", "l")] {
        let text = compact.replace('0', zero).replace('1', one);
        assert_ne!(text, compact);
        assert_eq!(
            BackupKey::from_recovery_code(&RecoveryCode::parse(&text).unwrap()),
            key,
            "{text}"
        );
    }
}

#[test]
fn bad_characters_are_reported_with_their_position() {
    let key = BackupKey::generate(&mut test_rng(6));
    let shown = key.recovery_code().to_grouped_string().to_string();
    for (position, bad) in [
        (0, 'U'),
        (5, 'u'),
        (78, 'U'),
        (10, '*'),
        (3, 'é'),
        (20, '０'),
    ] {
        let mut chars: Vec<char> = shown.chars().collect();
        chars[position] = bad;
        let text: String = chars.into_iter().collect();
        assert_eq!(
            RecoveryCode::parse(&text),
            Err(Error::RecoveryCodeCharacter { position }),
            "{bad} at {position}"
        );
    }
    // Positions count characters, not bytes: a multi-byte character before the bad one.
    let mut text = String::from("é");
    text.push_str(&shown);
    assert_eq!(
        RecoveryCode::parse(&text),
        Err(Error::RecoveryCodeCharacter { position: 0 })
    );
    let text = format!("  --{}U", &shown[..4]);
    assert_eq!(
        RecoveryCode::parse(&text),
        Err(Error::RecoveryCodeCharacter { position: 8 })
    );
    // A bad character is reported even when the length is also wrong.
    assert_eq!(
        RecoveryCode::parse("12U"),
        Err(Error::RecoveryCodeCharacter { position: 2 })
    );
}

#[test]
fn wrong_lengths() {
    let key = BackupKey::generate(&mut test_rng(7));
    let chars = chars_of(&key);
    assert_eq!(
        RecoveryCode::parse(""),
        Err(Error::RecoveryCodeLength { found: 0 })
    );
    assert_eq!(
        RecoveryCode::parse(" - "),
        Err(Error::RecoveryCodeLength { found: 0 })
    );
    assert_eq!(
        parse_bytes(&chars[..63]),
        Err(Error::RecoveryCodeLength { found: 63 })
    );
    let mut long = chars.clone();
    long.push(b'0');
    assert_eq!(
        parse_bytes(&long),
        Err(Error::RecoveryCodeLength { found: 65 })
    );
    let huge = "0".repeat(100_000);
    assert_eq!(
        RecoveryCode::parse(&huge),
        Err(Error::RecoveryCodeLength { found: 100_000 })
    );
}

/// A fixed code: the key 00 01 02 .. 1f.
fn fixed_chars() -> Vec<u8> {
    let bytes: [u8; 32] = core::array::from_fn(|i| i as u8);
    chars_of(&BackupKey::from_bytes(bytes))
}

#[test]
fn every_single_substitution_is_a_typo() {
    let chars = fixed_chars();
    assert!(parse_bytes(&chars).is_ok());
    let mut checked = 0;
    for position in 0..64 {
        for d in 1..32u8 {
            let mut typo = chars.clone();
            typo[position] = ALPHABET[usize::from(value(typo[position]) ^ d)];
            assert_eq!(
                parse_bytes(&typo),
                Err(Error::RecoveryCodeTypo),
                "position {position} difference {d}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 64 * 31);
}

#[test]
fn every_adjacent_swap_pattern_is_a_typo() {
    // Swapping neighbours a, b changes both by d = a ^ b; every nonzero d at every pair
    // of neighbours covers every swap on every code.
    let chars = fixed_chars();
    let mut checked = 0;
    for position in 0..63 {
        for d in 1..32u8 {
            let mut typo = chars.clone();
            for p in [position, position + 1] {
                typo[p] = ALPHABET[usize::from(value(typo[p]) ^ d)];
            }
            assert_eq!(
                parse_bytes(&typo),
                Err(Error::RecoveryCodeTypo),
                "position {position} difference {d}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 63 * 31);
}

#[test]
fn a_code_that_parses_but_is_not_the_key_is_wrong_key_at_restore() {
    let key = BackupKey::generate(&mut test_rng(8));
    let other = BackupKey::generate(&mut test_rng(9));
    let mut backup = Vec::new();
    hush_backup::Encryptor::new(&key)
        .encrypt(&mut test_rng(1), &b"x"[..], &mut backup)
        .unwrap();
    let code = RecoveryCode::parse(&other.recovery_code().to_grouped_string()).unwrap();
    assert_eq!(
        hush_backup::Decryptor::new(&BackupKey::from_recovery_code(&code))
            .decrypt(&backup[..], &mut Vec::new()),
        Err(Error::WrongKey)
    );
}

#[test]
fn debug_shows_nothing() {
    let key = BackupKey::generate(&mut test_rng(10));
    assert_eq!(format!("{:?}", key.recovery_code()), "RecoveryCode { .. }");
}

proptest! {
    #[test]
    fn random_keys_round_trip_and_catch_typos(
        bytes: [u8; 32],
        position in 0usize..64,
        d in 1u8..32,
        swap_at in 0usize..63,
    ) {
        let key = BackupKey::from_bytes(bytes);
        let chars = chars_of(&key);
        prop_assert_eq!(
            BackupKey::from_recovery_code(&parse_bytes(&chars).unwrap()),
            key
        );
        let mut typo = chars.clone();
        typo[position] = ALPHABET[usize::from(value(typo[position]) ^ d)];
        prop_assert_eq!(parse_bytes(&typo).err(), Some(Error::RecoveryCodeTypo));

        let mut swapped = chars.clone();
        swapped.swap(swap_at, swap_at + 1);
        let result = parse_bytes(&swapped);
        if chars[swap_at] == chars[swap_at + 1] {
            prop_assert!(result.is_ok());
        } else {
            prop_assert_eq!(result.err(), Some(Error::RecoveryCodeTypo));
        }
    }

    #[test]
    fn parse_never_panics(text in ".{0,100}") {
        let _ = RecoveryCode::parse(&text);
    }
}
