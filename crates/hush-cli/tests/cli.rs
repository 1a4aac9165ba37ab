//! The built `hush` binary: `vectors check` over good, tampered, unrelated and broken
//! vector directories, `vectors generate`, and `demo`.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] fns: a panic is how a test reports failure"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

fn hush(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hush"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn libsignal_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-vectors/libsignal")
}

/// A fresh, empty directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("hush-cli-test-{}-{name}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    fn write(&self, name: &str, contents: &str) {
        std::fs::write(self.0.join(name), contents).unwrap();
    }

    fn arg(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The `N passed, N failed` line, which must be the last line.
fn tally(out: &str) -> (u64, u64) {
    let last = out.lines().last().unwrap();
    let (passed, failed) = last.split_once(" passed, ").unwrap();
    let failed = failed.strip_suffix(" failed").unwrap();
    (passed.parse().unwrap(), failed.parse().unwrap())
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn case_count(file: &str) -> u64 {
    read_json(&libsignal_dir().join(file))["cases"]
        .as_array()
        .unwrap()
        .len() as u64
}

#[test]
fn libsignal_vectors_all_pass_and_all_count() {
    let output = hush(&["vectors", "check", libsignal_dir().to_str().unwrap()]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert!(out.contains("0 failed"), "{out}");
    assert!(!out.contains("FAIL"), "{out}");
    let expected = case_count("xeddsa.json")
        + case_count("fingerprint.json")
        + case_count("kem_kyber1024.json");
    assert!(expected >= 43, "the libsignal set has 24 + 16 + 3 cases");
    let (passed, failed) = tally(&out);
    assert_eq!(failed, 0);
    assert!(
        passed >= expected,
        "counted {passed} of {expected} cases:\n{out}"
    );
    for file in ["xeddsa.json", "fingerprint.json", "kem_kyber1024.json"] {
        let n = case_count(file);
        assert!(
            out.contains(&format!("{file}: {n} passed, 0 failed")),
            "{file}:\n{out}"
        );
    }
    // session.json: one case per bundle processing (1 + reinits) and two per message.
    let sessions = read_json(&libsignal_dir().join("session.json"));
    let session_cases: usize = sessions["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let reinits = s
                .get("reinit")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            1 + reinits + 2 * s["messages"].as_array().unwrap().len()
        })
        .sum();
    assert!(
        out.contains(&format!("session.json: {session_cases} passed, 0 failed")),
        "{out}"
    );
}

#[test]
fn flipped_xeddsa_signature_fails_naming_the_case() {
    let mut file = read_json(&libsignal_dir().join("xeddsa.json"));
    let case = &mut file["cases"][3];
    let id = case["id"].as_u64().unwrap();
    assert_eq!(case["valid"], Value::Bool(true));
    let mut signature = hex::decode(case["signature"].as_str().unwrap()).unwrap();
    signature[10] ^= 0x01;
    case["signature"] = Value::String(hex::encode(signature));

    let dir = TempDir::new("xeddsa-flipped");
    dir.write("xeddsa.json", &file.to_string());
    let output = hush(&["vectors", "check", dir.arg()]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    let fail_lines: Vec<&str> = out.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(fail_lines.len(), 1, "{out}");
    assert!(
        fail_lines[0].contains(&format!("xeddsa.json id {id}:")),
        "{out}"
    );
    let cases = file["cases"].as_array().unwrap().len() as u64;
    assert_eq!(tally(&out), (cases - 1, 1), "{out}");
}

#[test]
fn one_malformed_case_fails_alone() {
    let mut file = read_json(&libsignal_dir().join("xeddsa.json"));
    file["cases"][0]["message"] = Value::String("not hex".into());
    file["cases"][1]
        .as_object_mut()
        .unwrap()
        .remove("signature");
    let dir = TempDir::new("xeddsa-malformed");
    dir.write("xeddsa.json", &file.to_string());
    let output = hush(&["vectors", "check", dir.arg()]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(
        out.contains("xeddsa.json id 0: field message: bad hex"),
        "{out}"
    );
    assert!(
        out.contains("xeddsa.json id 1: malformed case: missing field `signature`"),
        "{out}"
    );
    let cases = file["cases"].as_array().unwrap().len() as u64;
    assert_eq!(tally(&out), (cases - 2, 2), "{out}");
}

#[test]
fn directory_without_recognised_files_exits_2() {
    let dir = TempDir::new("unrelated");
    dir.write("notes.txt", "nothing to see");
    dir.write("session.jsonl", "{}");
    let output = hush(&["vectors", "check", dir.arg()]);
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    assert!(stdout(&output).ends_with("0 passed, 0 failed\n"));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("holds no vector file hush recognises"),
        "{stderr}"
    );

    let missing = hush(&["vectors", "check", "/nonexistent/hush/vectors"]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn garbage_and_truncated_files_fail_without_panicking() {
    let text = std::fs::read_to_string(libsignal_dir().join("kem_kyber1024.json")).unwrap();
    let dir = TempDir::new("garbage");
    dir.write("kem_kyber1024.json", &text[..text.len() / 2]);
    dir.write("xeddsa.json", "\u{0}\u{1}garbage{[");
    dir.write("fingerprint.json", r#"{"cases": []}"#);
    dir.write(
        "x25519_test.json",
        r#"{"algorithm": "XDH", "testGroups": 7}"#,
    );
    dir.write(
        "ed25519_test.json",
        r#"{"algorithm": "AES-GCM", "testGroups": []}"#,
    );
    let output = hush(&["vectors", "check", dir.arg()]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    for file in [
        "kem_kyber1024.json",
        "xeddsa.json",
        "fingerprint.json",
        "x25519_test.json",
        "ed25519_test.json",
    ] {
        assert!(
            out.contains(&format!("FAIL {}: ", dir.0.join(file).display())),
            "{file}:\n{out}"
        );
    }
    assert_eq!(tally(&out), (0, 5), "{out}");
}

/// A small Wycheproof-shaped X25519 file: RFC 7748's first vector (valid), a
/// low-order public key (acceptable; hush must refuse it), Wycheproof's first twist
/// point (acceptable; hush accepts it with the right secret), then the RFC vector and
/// the twist point again with one bit of the recorded secret flipped.
const X25519_FILE: &str = r#"{
  "algorithm": "XDH", "numberOfTests": 5,
  "testGroups": [{"type": "XdhComp", "curve": "curve25519", "tests": [
    {"tcId": 1, "flags": ["Ktv"], "result": "valid",
     "private": "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
     "public": "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
     "shared": "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"},
    {"tcId": 2, "flags": ["LowOrderPublic", "ZeroSharedSecret"], "result": "acceptable",
     "private": "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
     "public": "0000000000000000000000000000000000000000000000000000000000000000",
     "shared": "0000000000000000000000000000000000000000000000000000000000000000"},
    {"tcId": 3, "flags": ["Twist"], "result": "acceptable",
     "private": "d85d8c061a50804ac488ad774ac716c3f5ba714b2712e048491379a500211958",
     "public": "63aa40c6e38346c5caf23a6df0a5e6c80889a08647e551b3563449befcfc9733",
     "shared": "279df67a7c4611db4708a0e8282b195e5ac0ed6f4b2f292c6fbd0acac30d1332"},
    {"tcId": 4, "flags": ["Ktv"], "result": "valid",
     "private": "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
     "public": "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
     "shared": "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28553"},
    {"tcId": 5, "flags": ["Twist"], "result": "acceptable",
     "private": "d85d8c061a50804ac488ad774ac716c3f5ba714b2712e048491379a500211958",
     "public": "63aa40c6e38346c5caf23a6df0a5e6c80889a08647e551b3563449befcfc9733",
     "shared": "279df67a7c4611db4708a0e8282b195e5ac0ed6f4b2f292c6fbd0acac30d1333"}
  ]}]
}"#;

#[test]
fn wycheproof_verdicts_are_judged() {
    let dir = TempDir::new("x25519");
    dir.write("x25519_test.json", X25519_FILE);
    let output = hush(&["vectors", "check", dir.arg()]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    let fail_lines: Vec<&str> = out.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(fail_lines.len(), 2, "{out}");
    assert!(
        fail_lines[0].contains("x25519_test.json tcId 4: shared secret differs"),
        "{out}"
    );
    // An "acceptable" case hush accepts must still have the right output.
    assert!(
        fail_lines[1].contains("x25519_test.json tcId 5: shared secret differs"),
        "{out}"
    );
    assert!(
        out.contains("acceptable: 2 (hush accepted 1, rejected 1)"),
        "{out}"
    );
    assert_eq!(tally(&out), (3, 2), "{out}");
}

#[test]
fn wycheproof_out_of_scope_groups_are_not_applicable_and_counts_are_checked() {
    let file = r#"{
      "algorithm": "AES-GCM", "numberOfTests": 3,
      "testGroups": [
        {"type": "AeadTest", "keySize": 128, "ivSize": 96, "tagSize": 128, "tests": [{}, {}]},
        {"type": "AeadTest", "keySize": 256, "ivSize": 96, "tagSize": 128, "tests": [
          {"tcId": 9, "result": "valid", "key": "00", "iv": "", "aad": "", "msg": "", "ct": "", "tag": ""}
        ]}
      ]
    }"#;
    let dir = TempDir::new("gcm");
    dir.write("aes_gcm_test.json", file);
    dir.write(
        "hkdf_sha256_test.json",
        r#"{"algorithm": "HKDF-SHA-256", "numberOfTests": 1, "testGroups": []}"#,
    );
    let output = hush(&["vectors", "check", dir.arg()]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(out.contains("not applicable: 2"), "{out}");
    assert!(
        out.contains("aes_gcm_test.json tcId 9: field key: 1 bytes, expected 32"),
        "{out}"
    );
    assert!(
        out.contains("numberOfTests says 1, the file holds 0 tests"),
        "{out}"
    );
    assert_eq!(tally(&out), (0, 2), "{out}");
}

/// The Wycheproof files are read in place from the shared checkout next to the
/// project (`../shared/vectors/wycheproof`), as CI does; they are not copied into the
/// repository. Without that checkout this test has nothing to run and says so.
#[test]
fn shared_vectors_all_pass_when_present() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors");
    let wycheproof = shared.join("wycheproof");
    if !wycheproof.is_dir() {
        eprintln!("skipping: {} not found", wycheproof.display());
        return;
    }
    let output = hush(&[
        "vectors",
        "check",
        shared.join("libsignal").to_str().unwrap(),
        wycheproof.to_str().unwrap(),
    ]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    let (passed, failed) = tally(&out);
    assert_eq!(failed, 0, "{out}");
    assert!(passed > 1000, "{out}");
    assert!(out.contains("not applicable: "), "{out}");
}

#[test]
fn generate_reproduces_every_committed_vector_file_and_they_check() {
    let dir = TempDir::new("generate");
    let target = dir.0.join("out");
    let output = hush(&["vectors", "generate", target.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-vectors");
    let mut files = 0;
    for subdir in ["prekey", "backup", "device"] {
        let generated = target.join(subdir);
        for entry in std::fs::read_dir(&generated).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_owned();
            assert_eq!(
                std::fs::read(&path).unwrap(),
                std::fs::read(committed.join(subdir).join(&name)).unwrap(),
                "test-vectors/{subdir}/{} differs from what `hush vectors generate` writes",
                name.to_string_lossy()
            );
            files += 1;
        }
        let check = hush(&["vectors", "check", generated.to_str().unwrap()]);
        assert_eq!(check.status.code(), Some(0), "{}", stdout(&check));
    }
    // Two data files and a README per format at least.
    assert!(files >= 9, "only {files} files generated");
}

#[test]
fn demo_checks_itself_and_succeeds() {
    let output = hush(&["demo"]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert!(!out.contains("FAIL"), "{out}");
    let last = out.lines().last().unwrap();
    assert!(
        last.starts_with("All ") && last.ends_with(" checks held."),
        "{out}"
    );
    // The linking QR code is drawn with block characters.
    assert!(
        out.lines().filter(|l| l.contains('\u{2588}')).count() > 10,
        "{out}"
    );
    // What the server saw is sizes only: no line about it quotes a message.
    let server_lines: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("the server sees"))
        .collect();
    assert!(server_lines.len() > 10, "{out}");
    for line in server_lines {
        assert!(!line.contains('"') && !line.contains("Bob!"), "{line}");
    }
    // The safety number is shown as 12 blocks of 5 digits, the same on both screens.
    let screens: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_once("screen:").map(|(_, digits)| digits.trim()))
        .collect();
    assert_eq!(screens.len(), 2, "{out}");
    assert_eq!(screens[0], screens[1]);
    let blocks: Vec<&str> = screens[0].split(' ').collect();
    assert_eq!(blocks.len(), 12);
    assert!(
        blocks
            .iter()
            .all(|b| b.len() == 5 && b.bytes().all(|c| c.is_ascii_digit()))
    );
}
