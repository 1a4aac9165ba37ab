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

/// The largest output file an open descriptor of process `pid` points at (through
/// `/proc/PID/fd`, which reaches unnamed and deleted files too), if any.
#[cfg(target_os = "linux")]
fn largest_open_file(pid: u32) -> u64 {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return 0;
    };
    fds.flatten()
        .filter_map(|fd| std::fs::metadata(fd.path()).ok())
        .filter(std::fs::Metadata::is_file)
        .map(|m| m.len())
        .max()
        .unwrap_or(0)
}

/// Issue 16, item 10: a restore killed with SIGKILL after it has written plaintext leaves
/// nothing in OUT's directory. The backup (2 MiB, 32 chunks) reaches `hush backup decrypt`
/// through a FIFO the test writes: half of it, then the test waits until the process holds
/// an output file of at least 512 KiB (authenticated plaintext, looked up through
/// /proc/PID/fd), kills it, and checks that OUT's directory is empty.
#[cfg(target_os = "linux")]
#[test]
fn a_killed_restore_leaves_no_plaintext_behind() {
    use std::io::Write as _;
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    let input = tempfile::tempdir().unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let code = keygen();
    let plain: Vec<u8> = (0..2 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(input.path().join("plain.bin"), &plain).unwrap();
    let output = hush(&[
        "backup",
        "encrypt",
        &path(&input, "plain.bin"),
        &path(&input, "backup.hbk"),
        "--key",
        &code,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let backup = std::fs::read(input.path().join("backup.hbk")).unwrap();

    let fifo = input.path().join("slow.hbk");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let mut child = Command::new(env!("CARGO_BIN_EXE_hush"))
        .args(["backup", "decrypt"])
        .arg(&fifo)
        .arg(out_dir.path().join("restored.bin"))
        .args(["--key", &code])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(input.path().join("stderr.txt")).unwrap())
        .spawn()
        .unwrap();
    // Opening the FIFO for writing waits for the restore to open it for reading.
    let mut writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    writer.write_all(&backup[..backup.len() / 2]).unwrap();
    writer.flush().unwrap();

    let deadline = Instant::now() + Duration::from_secs(60);
    while largest_open_file(child.id()) < 512 * 1024 {
        assert!(
            Instant::now() < deadline,
            "the restore wrote no output within 60 s"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the restore ended early"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    drop(writer);

    let warned = std::fs::read_to_string(input.path().join("stderr.txt")).unwrap();
    if warned.contains("has no unnamed files") {
        // The fallback (no O_TMPFILE on this filesystem), as documented: only a partial
        // file is left, and the next run in that directory removes it.
        eprintln!("note: no O_TMPFILE under {}", out_dir.path().display());
        let left = names(out_dir.path());
        assert!(
            left.iter().all(|n| n.starts_with(".hush-partial-")),
            "{left:?}"
        );
        let output = hush(&[
            "backup",
            "decrypt",
            &path(&input, "backup.hbk"),
            out_dir.path().join("restored.bin").to_str().unwrap(),
            "--key",
            &code,
        ]);
        assert!(output.status.success(), "{}", stderr(&output));
        assert_eq!(names(out_dir.path()), ["restored.bin"]);
        return;
    }
    assert_eq!(
        names(out_dir.path()),
        Vec::<String>::new(),
        "a killed restore left files in OUT's directory"
    );
}

/// Partial files a killed run of an older version (or of the named fallback) left in OUT's
/// directory are removed by the next `hush backup` run there, which says so; other files
/// stay.
#[test]
fn stale_partial_files_are_removed_by_the_next_run() {
    let (dir, code, plain) = backed_up();
    let out_dir = tempfile::tempdir().unwrap();
    std::fs::write(out_dir.path().join(".hush-partial-a1b2c3"), &plain[..1000]).unwrap();
    std::fs::write(out_dir.path().join("unrelated.txt"), b"mine").unwrap();
    let output = hush(&[
        "backup",
        "decrypt",
        &path(&dir, "backup.hbk"),
        out_dir.path().join("restored.bin").to_str().unwrap(),
        "--key",
        &code,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(".hush-partial-a1b2c3"),
        "{}",
        stderr(&output)
    );
    assert_eq!(names(out_dir.path()), ["restored.bin", "unrelated.txt"]);
    assert_eq!(
        std::fs::read(out_dir.path().join("restored.bin")).unwrap(),
        plain
    );
}
