//! `hush prekeys generate` / `validate` exit codes and output, and `hush vectors generate`
//! reproducing the committed `test-vectors/prekey/` files byte for byte.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] fns: a failed unwrap or panic is a failed test"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn hush(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hush"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("hush-prekeys-cli-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).to_str().unwrap().to_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const NOW: &str = "1700000000000";

#[test]
fn generate_then_validate() {
    let dir = TempDir::new("roundtrip");
    let upload = dir.path("upload.bin");
    let output = hush(&[
        "prekeys",
        "generate",
        "--one-time",
        "3",
        "--kyber",
        "2",
        "-o",
        &upload,
        "--now-ms",
        NOW,
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let out = stdout(&output);
    let key = out
        .lines()
        .find_map(|l| l.strip_prefix("identity key "))
        .unwrap()
        .to_owned();
    assert!(Path::new(&dir.path("upload.bin.identity")).exists());
    assert!(Path::new(&dir.path("upload.bin.private")).exists());

    let output = hush(&[
        "prekeys",
        "validate",
        &upload,
        "--identity-key",
        &key,
        "--now-ms",
        NOW,
    ]);
    assert_eq!(output.status.code(), Some(0));
    let out = stdout(&output);
    assert!(out.starts_with("valid: signed prekey id "), "{out}");
    assert!(
        out.contains(", 3 one-time prekeys, 2 KEM prekeys, last-resort KEM prekey id "),
        "{out}"
    );

    // Same identity again: --identity reads the file written the first time.
    let second = dir.path("second.bin");
    let identity = dir.path("upload.bin.identity");
    let output = hush(&[
        "prekeys",
        "generate",
        "--one-time",
        "1",
        "--kyber",
        "1",
        "--identity",
        &identity,
        "-o",
        &second,
        "--now-ms",
        NOW,
    ]);
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout(&output).contains(&format!("identity key {key}")));
    assert!(!Path::new(&dir.path("second.bin.identity")).exists());

    // A wrong account: one line per problem, exit 1.
    let other = "05".to_owned() + &"11".repeat(32);
    let output = hush(&[
        "prekeys",
        "validate",
        &upload,
        "--identity-key",
        &other,
        "--now-ms",
        NOW,
    ]);
    assert_eq!(output.status.code(), Some(1));
    let out = stdout(&output);
    assert!(
        out.starts_with("identity key: does not match the account's identity key\n"),
        "{out}"
    );
    assert_eq!(
        out.lines().count(),
        1 + 1 + 2 + 1,
        "identity, signed, two KEM, last resort:\n{out}"
    );

    // A truncated upload: one line, exit 1.
    let bytes = std::fs::read(&upload).unwrap();
    let cut = dir.path("cut.bin");
    std::fs::write(&cut, &bytes[..bytes.len() - 5]).unwrap();
    let output = hush(&[
        "prekeys",
        "validate",
        &cut,
        "--identity-key",
        &key,
        "--now-ms",
        NOW,
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stdout(&output), "upload is truncated\n");
}

#[test]
fn unreadable_input_exits_2() {
    let dir = TempDir::new("unreadable");
    let key = "05".to_owned() + &"11".repeat(32);
    let output = hush(&[
        "prekeys",
        "validate",
        &dir.path("missing.bin"),
        "--identity-key",
        &key,
    ]);
    assert_eq!(output.status.code(), Some(2));
    std::fs::write(dir.path("x.bin"), [1]).unwrap();
    let output = hush(&[
        "prekeys",
        "validate",
        &dir.path("x.bin"),
        "--identity-key",
        "0511",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let output = hush(&[
        "prekeys",
        "generate",
        "--identity",
        &dir.path("missing"),
        "-o",
        &dir.path("u.bin"),
    ]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn vectors_generate_reproduces_the_committed_prekey_files() {
    let dir = TempDir::new("vectors");
    let output = hush(&["vectors", "generate", dir.0.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-vectors/prekey");
    for name in ["prekey_bundles.json", "prekey_uploads.json", "README.md"] {
        let fresh = std::fs::read_to_string(dir.0.join("prekey").join(name)).unwrap();
        let old = std::fs::read_to_string(committed.join(name)).unwrap();
        assert!(
            fresh == old,
            "{name} differs from the committed copy: run `hush vectors generate test-vectors`"
        );
    }
    let output = hush(&["vectors", "check", committed.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(stdout(&output).ends_with(" passed, 0 failed\n"));
}

/// The names in `dir`, sorted.
fn names(dir: &TempDir) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn generate(args: &[&str]) -> Output {
    let mut all = vec!["prekeys", "generate", "--one-time", "2", "--kyber", "1"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--now-ms", NOW]);
    hush(&all)
}

/// The upload on disk is the one the private keys and identity on disk make.
fn assert_files_match(upload: &str, private: &str, identity: &str) {
    let identity = hush_core::IdentityKeyPair::decode(&std::fs::read(identity).unwrap()).unwrap();
    let records = hush_prekey::PreKeyRecords::decode(&std::fs::read(private).unwrap()).unwrap();
    assert_eq!(
        hush_prekey::upload_for(&identity, &records).encode(),
        std::fs::read(upload).unwrap(),
        "the upload on disk does not match the private keys on disk"
    );
}

/// Issue 16, item 11: `hush prekeys generate` checks every output before writing any and
/// never replaces a file. Run again with the same `-o` (with the first run's identity, or
/// making a new one), or with an existing `--private-keys` file, it exits 2 and every file
/// of the first run is byte-identical and still matches the others; nothing else is left
/// in the directory.
#[test]
fn generate_twice_with_the_same_output_keeps_the_first_run_intact() {
    let dir = TempDir::new("twice");
    let upload = dir.path("upload.bin");
    let private = dir.path("upload.bin.private");
    let identity = dir.path("upload.bin.identity");
    let first = generate(&["-o", &upload]);
    assert_eq!(first.status.code(), Some(0), "{}", stdout(&first));
    assert_files_match(&upload, &private, &identity);
    let files = [&upload, &private, &identity];
    let before: Vec<Vec<u8>> = files.iter().map(|p| std::fs::read(p).unwrap()).collect();
    let listing = names(&dir);

    let other = dir.path("other.bin");
    std::fs::write(&other, b"someone else's file").unwrap();
    let runs: [&[&str]; 4] = [
        // The case: the same identity, the same output.
        &["--identity", &identity, "-o", &upload],
        // A new identity: its file exists too.
        &["-o", &upload],
        // A new upload name, but the private-key file would replace an existing file.
        &[
            "--identity",
            &identity,
            "-o",
            &dir.path("new.bin"),
            "--private-keys",
            &other,
        ],
        // Two outputs naming the same file.
        &[
            "--identity",
            &identity,
            "-o",
            &dir.path("same.bin"),
            "--private-keys",
            &dir.path("same.bin"),
        ],
    ];
    for args in runs {
        let again = generate(args);
        let after: Vec<Vec<u8>> = files.iter().map(|p| std::fs::read(p).unwrap()).collect();
        assert!(after == before, "{args:?}: a file of the first run changed");
        assert_files_match(&upload, &private, &identity);
        assert_eq!(again.status.code(), Some(2), "{args:?}: {}", stdout(&again));
        assert_eq!(std::fs::read(&other).unwrap(), b"someone else's file");
        let mut expected = listing.clone();
        expected.push("other.bin".to_owned());
        expected.sort();
        assert_eq!(names(&dir), expected, "{args:?}: files appeared");
    }
}
