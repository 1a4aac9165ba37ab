//! `hush backup keygen / encrypt / decrypt`: round trips, one-line errors with the right
//! exit status, and no file left behind by a failed restore.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    reason = "test helpers outside #[test] fns: a failed unwrap or panic is a failed test"
)]

use std::path::Path;
use std::process::{Command, Output};

fn hush(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hush"))
        .args(args)
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn keygen() -> String {
    let output = hush(&["backup", "keygen"]);
    assert!(output.status.success(), "{}", stderr(&output));
    String::from_utf8(output.stdout)
        .unwrap()
        .trim_end()
        .to_owned()
}

fn path(dir: &tempfile::TempDir, name: &str) -> String {
    dir.path().join(name).to_str().unwrap().to_owned()
}

/// The names in `dir`, sorted: a failed command must not leave partial files.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A directory holding `plain.bin` (200 000 bytes: four 64 KiB chunks) and its backup
/// `backup.hbk` under a fresh key.
fn backed_up() -> (tempfile::TempDir, String, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let code = keygen();
    let plain: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(dir.path().join("plain.bin"), &plain).unwrap();
    let output = hush(&[
        "backup",
        "encrypt",
        &path(&dir, "plain.bin"),
        &path(&dir, "backup.hbk"),
        "--key",
        &code,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    (dir, code, plain)
}

fn assert_one_line_failure(output: &Output, status: i32, needle: &str) {
    assert_eq!(output.status.code(), Some(status), "{}", stderr(output));
    let err = stderr(output);
    assert_eq!(err.lines().count(), 1, "one line, got: {err}");
    assert!(err.starts_with("hush: "), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
}

#[test]
fn keygen_prints_sixteen_groups_of_four() {
    let code = keygen();
    let groups: Vec<&str> = code.split(' ').collect();
    assert_eq!(groups.len(), 16, "{code}");
    assert!(groups.iter().all(|g| g.len() == 4), "{code}");
    assert!(
        code.chars()
            .all(|c| c == ' ' || "0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(c)),
        "{code}"
    );
    assert_ne!(code, keygen(), "two keys must differ");
}

#[test]
fn encrypt_then_decrypt_with_a_key_file_in_lower_case() {
    let (dir, code, plain) = backed_up();
    let key_file = path(&dir, "key.txt");
    std::fs::write(
        &key_file,
        format!("{}\n", code.to_lowercase().replace(' ', "-")),
    )
    .unwrap();
    let output = hush(&[
        "backup",
        "decrypt",
        &path(&dir, "backup.hbk"),
        &path(&dir, "restored.bin"),
        "--key-file",
        &key_file,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        std::fs::read(dir.path().join("restored.bin")).unwrap(),
        plain
    );
    let backup_len = std::fs::metadata(dir.path().join("backup.hbk"))
        .unwrap()
        .len();
    // 93-byte header, four chunks with a 16-byte tag each (docs/wire/backup.md).
    assert_eq!(backup_len, 93 + 200_000 + 4 * 16);
}

#[test]
fn a_damaged_backup_restores_nothing() {
    let (dir, code, _) = backed_up();
    let backup = std::fs::read(dir.path().join("backup.hbk")).unwrap();
    let before = names(dir.path());
    let cases: [(&str, Vec<u8>, &str); 3] = [
        (
            "flipped.hbk",
            {
                let mut b = backup.clone();
                b[93 + 65_552 + 10] ^= 1;
                b
            },
            "chunk 1 is corrupted",
        ),
        (
            "cut.hbk",
            backup[..93 + 2 * 65_552].to_vec(),
            "truncated after 2 chunks",
        ),
        (
            "appended.hbk",
            [backup.as_slice(), b"more"].concat(),
            "corrupted",
        ),
    ];
    for (name, bytes, needle) in cases {
        std::fs::write(dir.path().join(name), bytes).unwrap();
        let output = hush(&[
            "backup",
            "decrypt",
            &path(&dir, name),
            &path(&dir, "restored.bin"),
            "--key",
            &code,
        ]);
        assert_one_line_failure(&output, 1, needle);
        std::fs::remove_file(dir.path().join(name)).unwrap();
        // Chunk 0 authenticated before the failure, yet nothing of it is left behind.
        assert_eq!(names(dir.path()), before, "{name}");
    }
}

#[test]
fn wrong_key_typo_and_existing_output_are_one_line_errors() {
    let (dir, code, _) = backed_up();
    let restored = path(&dir, "restored.bin");
    let decrypt = |key: &str, out: &str| {
        hush(&[
            "backup",
            "decrypt",
            &path(&dir, "backup.hbk"),
            out,
            "--key",
            key,
        ])
    };

    assert_one_line_failure(&decrypt(&keygen(), &restored), 1, "different key");

    // Swap two neighbouring characters: a typo, caught before any decryption.
    let mut chars: Vec<char> = code.chars().collect();
    let i = (0..chars.len() - 1)
        .find(|&i| chars[i] != ' ' && chars[i + 1] != ' ' && chars[i] != chars[i + 1])
        .unwrap();
    chars.swap(i, i + 1);
    let swapped: String = chars.into_iter().collect();
    assert_one_line_failure(&decrypt(&swapped, &restored), 2, "typo");

    assert_one_line_failure(&decrypt("ABCD", &restored), 2, "64 characters");
    let with_u = format!("U{}", &code[1..]);
    assert_one_line_failure(&decrypt(&with_u, &restored), 2, "character 1 ");

    std::fs::write(&restored, b"precious").unwrap();
    assert_one_line_failure(&decrypt(&code, &restored), 2, "exists");
    assert_eq!(std::fs::read(&restored).unwrap(), b"precious");
    let forced = hush(&[
        "backup",
        "decrypt",
        &path(&dir, "backup.hbk"),
        &restored,
        "--key",
        &code,
        "--force",
    ]);
    assert!(forced.status.success(), "{}", stderr(&forced));
    assert_eq!(std::fs::read(&restored).unwrap().len(), 200_000);
}
