//! `hush vectors check` and `hush vectors generate`.
//!
//! Each recognised file name maps to one runner (a module of its own). A runner reads
//! the file, runs every case through hush's own code and records results in a
//! [`Report`]. Adding a format means adding a module and one row in [`RUNNERS`].
//!
//! Generators work the same way: one row in [`GENERATORS`] per file of hush's own
//! formats, each returning the file's contents and the part of the directory's README
//! that says how the file was made.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::de::DeserializeOwned;
use serde_json::Value;

mod backup;
mod device;
mod fingerprint;
mod kem;
mod prekey;
mod sender_key;
mod session;
mod wycheproof;
mod xeddsa;

/// Largest vector file read. The biggest known file (libsignal v0.101's `session.json`)
/// is about 2.2 MB, as are Wycheproof's largest; anything far larger is not a vector file.
const MAX_FILE_SIZE: u64 = 64 * 1024 * 1024;

/// Tallies of one `check` run, and the lines to print for failures.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Report {
    /// Cases whose outcome is what the file expects (including "acceptable" cases).
    pub(crate) passed: u64,
    /// Cases that differed, could not be decoded, or could not be run.
    pub(crate) failed: u64,
    /// Cases outside the parameters hush uses (e.g. AES-128 keys); counted, not run.
    pub(crate) not_applicable: u64,
    /// Wycheproof "acceptable" cases hush accepted (with the right output).
    pub(crate) acceptable_accepted: u64,
    /// Wycheproof "acceptable" cases hush rejected.
    pub(crate) acceptable_rejected: u64,
}

impl Report {
    /// Records one case: `Ok(())` passes, `Err(what)` fails and prints
    /// `FAIL <file> <case>: <what>`.
    pub(crate) fn case(&mut self, file: &Path, case: &str, outcome: Result<(), String>) {
        match outcome {
            Ok(()) => self.passed += 1,
            Err(what) => {
                self.failed += 1;
                println!("FAIL {} {case}: {what}", file.display());
            }
        }
    }

    /// Records a file, or a part of one, that could not be read or parsed at all: one
    /// failure.
    pub(crate) fn unreadable(&mut self, file: &Path, what: &str) {
        self.failed += 1;
        println!("FAIL {}: {what}", file.display());
    }

    /// Counts `count` cases that lie outside the parameters hush uses.
    pub(crate) fn not_applicable(&mut self, count: usize) {
        let count = u64::try_from(count).unwrap_or(u64::MAX);
        self.not_applicable = self.not_applicable.saturating_add(count);
    }

    /// The tallies added since `before`, for a per-file summary line.
    fn since(&self, before: &Self) -> Self {
        Self {
            passed: self.passed - before.passed,
            failed: self.failed - before.failed,
            not_applicable: self.not_applicable - before.not_applicable,
            acceptable_accepted: self.acceptable_accepted - before.acceptable_accepted,
            acceptable_rejected: self.acceptable_rejected - before.acceptable_rejected,
        }
    }
}

/// A runner: checks one file, adding to the report.
type Runner = fn(&Path, &mut Report);

/// Recognised file names and their runners.
const RUNNERS: &[(&str, Runner)] = &[
    // libsignal v0.91.0 (`../shared/vectors/libsignal/`, copied to `test-vectors/libsignal/`)
    // and v0.101.0 (`../shared/vectors/libsignal-v0101/`, same schemas with fields added;
    // `session.json` says which with its top-level `spqr`).
    ("xeddsa.json", xeddsa::check),
    ("fingerprint.json", fingerprint::check),
    ("kem_kyber1024.json", kem::check),
    ("kem_mlkem1024.json", kem::check),
    ("session.json", session::check),
    // hush's own formats (`test-vectors/prekey/`, written by `hush vectors generate`).
    ("prekey_bundles.json", prekey::check_bundles),
    ("prekey_uploads.json", prekey::check_uploads),
    ("sender_key.json", sender_key::check),
    // hush's device formats (`test-vectors/device/`, written by `hush vectors generate`).
    ("linking.json", device::check_linking),
    ("device_lists.json", device::check_device_lists),
    ("device_lists_v1.json", device::check_device_lists_v1),
    // (`test-vectors/backup/`, written by `hush vectors generate`).
    ("backup_recovery_codes.json", backup::check_recovery_codes),
    ("backup_streams.json", backup::check_streams),
    ("backup_password_wraps.json", backup::check_password_wraps),
    // Wycheproof (`../shared/vectors/wycheproof/`), read in place.
    ("x25519_test.json", wycheproof::x25519::check),
    ("ed25519_test.json", wycheproof::ed25519::check),
    ("aes_gcm_test.json", wycheproof::aes_gcm::check),
    ("aes_cbc_pkcs5_test.json", wycheproof::aes_cbc::check),
    ("hkdf_sha256_test.json", wycheproof::hkdf::check),
    ("hmac_sha256_test.json", wycheproof::hmac::check),
    ("mlkem_1024_test.json", wycheproof::mlkem::check),
];

/// Files hush knows of but does not check yet. They are named in the output, and do
/// not count as recognised: a directory holding only these exits with status 2. A row
/// in [`RUNNERS`] for the same name takes precedence.
const NOT_YET: &[(&str, &str)] = &[(
    "sealed_sender.json",
    "sealed sender is a later issue; its v0.101 sessions are the session.json runner's",
)];

/// Runs every recognised file in each of `dirs`.
///
/// Exit status: 1 if any case failed, else 2 if some directory could not be read or
/// held no recognised file, else 0.
pub(crate) fn check(dirs: &[PathBuf]) -> ExitCode {
    let mut report = Report::default();
    let mut empty_dir = false;
    for dir in dirs {
        let mut recognised = 0usize;
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(dir) {
            Ok(read) => read.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(e) => {
                eprintln!("hush: cannot read {}: {e}", dir.display());
                empty_dir = true;
                continue;
            }
        };
        entries.sort();
        for path in entries {
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if let Some((_, runner)) = RUNNERS.iter().find(|(n, _)| *n == name) {
                recognised += 1;
                let before = report;
                runner(&path, &mut report);
                print_file_summary(&path, &report.since(&before));
            } else if let Some((_, why)) = NOT_YET.iter().find(|(n, _)| *n == name) {
                println!("skipped: {} (not supported yet: {why})", path.display());
            }
        }
        if recognised == 0 {
            eprintln!(
                "hush: {} holds no vector file hush recognises",
                dir.display()
            );
            empty_dir = true;
        }
    }
    if report.not_applicable > 0 {
        println!("not applicable: {}", report.not_applicable);
    }
    if report.acceptable_accepted + report.acceptable_rejected > 0 {
        println!(
            "acceptable: {} (hush accepted {}, rejected {})",
            report.acceptable_accepted + report.acceptable_rejected,
            report.acceptable_accepted,
            report.acceptable_rejected
        );
    }
    println!("{} passed, {} failed", report.passed, report.failed);
    if report.failed > 0 {
        ExitCode::from(1)
    } else if empty_dir {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

fn print_file_summary(path: &Path, tally: &Report) {
    let mut line = format!(
        "checked {}: {} passed, {} failed",
        path.display(),
        tally.passed,
        tally.failed
    );
    if tally.not_applicable > 0 {
        let _ = write!(line, ", {} not applicable", tally.not_applicable);
    }
    if tally.acceptable_accepted + tally.acceptable_rejected > 0 {
        let _ = write!(
            line,
            " (acceptable: {} accepted, {} rejected)",
            tally.acceptable_accepted, tally.acceptable_rejected
        );
    }
    println!("{line}");
}

/// What a generator hands back: the vector file and its section of the README.
#[derive(Debug)]
pub(crate) struct Generated {
    /// The file's contents.
    pub(crate) contents: String,
    /// Markdown for the directory's README: what the file holds, how it was made and
    /// what cross-checks it independently of the code that wrote it.
    pub(crate) readme_section: String,
}

/// A generator: produces one file of hush's own vectors.
type Generator = fn() -> Result<Generated, String>;

/// hush's own vector formats: the subdirectory of `test-vectors/` each file goes to, its
/// name, and its generator. Each subdirectory gets a README assembled from its files'
/// sections.
const GENERATORS: &[(&str, &str, Generator)] = &[
    ("prekey", "prekey_bundles.json", prekey::generate_bundles),
    ("prekey", "prekey_uploads.json", prekey::generate_uploads),
    ("device", "linking.json", device::generate_linking),
    ("device", "device_lists.json", device::generate_device_lists),
    (
        "device",
        "device_lists_v1.json",
        device::generate_device_lists_v1,
    ),
    (
        "backup",
        "backup_recovery_codes.json",
        backup::generate_recovery_codes,
    ),
    ("backup", "backup_streams.json", backup::generate_streams),
    (
        "backup",
        "backup_password_wraps.json",
        backup::generate_password_wraps,
    ),
];

/// Writes every registered generator's file into its subdirectory of `dir` (normally
/// `test-vectors/`), with a `README.md` per subdirectory.
pub(crate) fn generate(dir: &Path) -> ExitCode {
    generate_with(dir, GENERATORS)
}

fn generate_with(dir: &Path, generators: &[(&str, &str, Generator)]) -> ExitCode {
    if generators.is_empty() {
        println!(
            "hush has no vector formats of its own yet: no generator is registered, nothing written"
        );
        return ExitCode::SUCCESS;
    }
    // Generate everything before writing anything, so a failure leaves no half set.
    let mut outputs = Vec::with_capacity(generators.len());
    for (subdir, name, generator) in generators {
        match generator() {
            Ok(generated) => outputs.push((*subdir, *name, generated)),
            Err(what) => {
                eprintln!("hush: generating {subdir}/{name} failed: {what}");
                return ExitCode::from(1);
            }
        }
    }
    let write = |path: PathBuf, contents: &str| -> bool {
        match std::fs::write(&path, contents) {
            Ok(()) => {
                println!("wrote {}", path.display());
                true
            }
            Err(e) => {
                eprintln!("hush: cannot write {}: {e}", path.display());
                false
            }
        }
    };
    let mut subdirs: Vec<&str> = outputs.iter().map(|(subdir, _, _)| *subdir).collect();
    subdirs.sort_unstable();
    subdirs.dedup();
    let mut ok = true;
    for subdir in subdirs {
        let target = dir.join(subdir);
        if let Err(e) = std::fs::create_dir_all(&target) {
            eprintln!("hush: cannot create {}: {e}", target.display());
            return ExitCode::from(1);
        }
        let mut readme = format!(
            "# hush's own vectors: `{subdir}`\n\nWritten by `hush vectors generate test-vectors`; \
             do not edit by hand. `hush vectors check` runs them.\n"
        );
        for (_, name, generated) in outputs.iter().filter(|(s, _, _)| *s == subdir) {
            ok &= write(target.join(name), &generated.contents);
            let _ = write!(
                readme,
                "\n## `{name}`\n\n{}\n",
                generated.readme_section.trim_end()
            );
        }
        ok &= write(target.join("README.md"), &readme);
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Reads and parses a JSON file, refusing files over [`MAX_FILE_SIZE`].
pub(crate) fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, String> {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("cannot read: {e}"))?
        .len();
    if size > MAX_FILE_SIZE {
        return Err(format!("{size} bytes is too large for a vector file"));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("not a valid vector file: {e}"))
}

/// The `cases` array every libsignal vector file has at its top.
#[derive(serde::Deserialize)]
struct CasesFile {
    cases: Vec<Value>,
}

/// Reads a libsignal vector file's cases, each still as JSON so that one malformed case
/// fails alone. `None` (after recording the failure) if the file is unusable.
pub(crate) fn libsignal_cases(path: &Path, report: &mut Report) -> Option<Vec<Value>> {
    match read_json::<CasesFile>(path) {
        Ok(file) if file.cases.is_empty() => {
            report.unreadable(path, "holds no cases");
            None
        }
        Ok(file) => Some(file.cases),
        Err(what) => {
            report.unreadable(path, &what);
            None
        }
    }
}

/// Parses one case from its JSON value.
pub(crate) fn parse_case<T: DeserializeOwned>(value: &Value) -> Result<T, String> {
    T::deserialize(value).map_err(|e| format!("malformed case: {e}"))
}

/// Decodes the hex string in field `field`.
pub(crate) fn unhex(field: &str, text: &str) -> Result<Vec<u8>, String> {
    hex::decode(text).map_err(|e| format!("field {field}: bad hex: {e}"))
}

/// Decodes the hex string in field `field`, which must be exactly `N` bytes.
pub(crate) fn unhex_array<const N: usize>(field: &str, text: &str) -> Result<[u8; N], String> {
    let bytes = unhex(field, text)?;
    <[u8; N]>::try_from(bytes.as_slice())
        .map_err(|_| format!("field {field}: {} bytes, expected {N}", bytes.len()))
}

/// `Ok` if `got == want`, else a line saying what differed.
pub(crate) fn expect_bytes(what: &str, got: &[u8], want: &[u8]) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "{what} differs: hush gave {}, expected {}",
            short_hex(got),
            short_hex(want)
        ))
    }
}

/// `Ok` if `got` is true, else `Err(what)`.
pub(crate) fn expect(got: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if got { Ok(()) } else { Err(what()) }
}

/// Hex for a failure line: values over 64 bytes (longer than a signature) show their
/// length, start and end.
fn short_hex(bytes: &[u8]) -> String {
    const SHOWN: usize = 16;
    match (
        bytes.get(..SHOWN),
        bytes.len().checked_sub(SHOWN).and_then(|s| bytes.get(s..)),
    ) {
        (Some(head), Some(tail)) if bytes.len() > 64 => {
            format!(
                "{} bytes {}..{}",
                bytes.len(),
                hex::encode(head),
                hex::encode(tail)
            )
        }
        _ => hex::encode(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_hex_shortens_only_long_values() {
        assert_eq!(short_hex(&[0xab; 3]), "ababab");
        assert_eq!(short_hex(&[0x01; 64]), "01".repeat(64));
        let long: Vec<u8> = (0..100).collect();
        assert_eq!(
            short_hex(&long),
            "100 bytes 000102030405060708090a0b0c0d0e0f..5455565758595a5b5c5d5e5f60616263"
        );
    }

    #[test]
    fn unhex_array_reports_length() {
        assert_eq!(unhex_array::<2>("k", "0102"), Ok([1, 2]));
        assert_eq!(
            unhex_array::<2>("k", "010203"),
            Err("field k: 3 bytes, expected 2".into())
        );
        assert!(
            unhex("k", "zz")
                .unwrap_err()
                .starts_with("field k: bad hex")
        );
    }

    #[test]
    fn generate_with_nothing_registered_writes_nothing() {
        let dir = std::env::temp_dir().join(format!("hush-generate-none-{}", std::process::id()));
        assert_eq!(generate_with(&dir, &[]), ExitCode::SUCCESS);
        assert!(!dir.exists());
    }

    #[test]
    fn generate_writes_files_and_readme() {
        fn one() -> Result<Generated, String> {
            Ok(Generated {
                contents: "{}\n".into(),
                readme_section: "Made by a test.".into(),
            })
        }
        fn broken() -> Result<Generated, String> {
            Err("no".into())
        }
        let dir = std::env::temp_dir().join(format!("hush-generate-one-{}", std::process::id()));
        assert_eq!(
            generate_with(&dir, &[("sub", "one.json", one)]),
            ExitCode::SUCCESS
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("sub/one.json")).unwrap(),
            "{}\n"
        );
        let readme = std::fs::read_to_string(dir.join("sub/README.md")).unwrap();
        assert!(
            readme.contains("## `one.json`\n\nMade by a test.\n"),
            "{readme}"
        );
        std::fs::remove_dir_all(&dir).unwrap();

        assert_eq!(
            generate_with(&dir, &[("sub", "one.json", one), ("sub", "b.json", broken)]),
            ExitCode::from(1)
        );
        assert!(!dir.exists(), "nothing is written when a generator fails");
    }
}
