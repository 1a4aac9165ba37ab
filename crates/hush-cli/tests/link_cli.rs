//! `hush link demo`, and `hush link offer` / `hush link accept` as two real processes
//! wired together through their stdin and stdout, plus their failures on bad input.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] fns: a failed unwrap or panic is a failed test"
)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Output, Stdio};

use hush_core::IdentityKeyPair;
use hush_device::{DeviceListPolicy, KnownDeviceLists, LinkingOffer};

fn hush(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hush"));
    command.args(args);
    command
}

fn spawn(args: &[&str]) -> (Child, BufReader<ChildStdout>) {
    let mut child = hush(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    (child, stdout)
}

fn line(reader: &mut BufReader<ChildStdout>) -> String {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.ends_with('\n'), "no full line: {line:?}");
    line.trim_end_matches('\n').to_owned()
}

fn send(child: &mut Child, line: &str) {
    let stdin = child.stdin.as_mut().unwrap();
    writeln!(stdin, "{line}").unwrap();
    stdin.flush().unwrap();
}

/// Closes stdin, waits, and returns (status ok, rest of stdout, stderr).
fn finish(mut child: Child, mut stdout: BufReader<ChildStdout>) -> (bool, String, String) {
    drop(child.stdin.take());
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    (status.success(), rest, stderr)
}

/// One line on stderr, no panic, a failing status.
fn assert_one_line_failure(status_ok: bool, stderr: &str, what: &str) {
    assert!(!status_ok, "{what}: succeeded");
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.starts_with("hush: "), "{what}: {stderr}");
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("hush-link-cli-{}-{name}", std::process::id()));
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

fn identity_file(dir: &TempDir, name: &str) -> (String, IdentityKeyPair) {
    let identity = IdentityKeyPair::generate(&mut hush_core::rng::os_rng());
    let path = dir.path(name);
    std::fs::write(&path, identity.encode().as_slice()).unwrap();
    (path, identity)
}

#[test]
fn demo_exits_zero_and_every_check_holds() {
    let output: Output = hush(&["link", "demo"]).output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("demo complete: every check held"),
        "{stdout}"
    );
    assert!(!stdout.contains("FAIL"), "{stdout}");
    assert!(stdout.contains("refused as replayed"), "{stdout}");
    assert!(stdout.contains("refused as expired"), "{stdout}");
}

#[test]
fn offer_and_accept_link_as_two_processes() {
    let dir = TempDir::new("link");
    let (desktop_path, desktop) = identity_file(&dir, "desktop.identity");
    let (phone_path, phone) = identity_file(&dir, "phone.identity");
    let png = dir.path("offer.png");
    let svg = dir.path("offer.svg");

    let (mut offer, mut offer_out) = spawn(&[
        "link",
        "offer",
        "--identity",
        &desktop_path,
        "--reference",
        "test-relay-7",
        "--png",
        &png,
        "--svg",
        &svg,
    ]);
    let payload = line(&mut offer_out);
    let scanned = LinkingOffer::from_qr_text(&payload).unwrap();
    assert_eq!(*scanned.companion_identity(), desktop.identity_key());
    assert_eq!(scanned.server_reference(), b"test-relay-7");
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));

    let (mut accept, mut accept_out) = spawn(&[
        "link",
        "accept",
        &payload,
        "--identity",
        &phone_path,
        "--user",
        "alice",
        "--state",
        &dir.path("phone.state"),
    ]);
    let message = line(&mut accept_out);
    send(&mut offer, &message);
    let countersignature = line(&mut offer_out);
    assert_eq!(countersignature.len(), 290, "{countersignature}");
    send(&mut accept, &countersignature);

    let (ok, rest, stderr) = finish(accept, accept_out);
    assert!(ok, "accept failed: {stderr}");
    let lines: Vec<&str> = rest.lines().collect();
    assert_eq!(lines.len(), 2, "{rest}");
    let entry: Vec<&str> = lines[0].split(' ').collect();
    assert_eq!(entry[0], "device-entry");
    assert_eq!(entry[1], "2");
    assert_eq!(entry[2], hex::encode(desktop.identity_key().encode()));
    let list = lines[1].strip_prefix("device-list ").unwrap();
    let verified = KnownDeviceLists::new(DeviceListPolicy::default())
        .verify(b"alice", &hex::decode(list).unwrap())
        .unwrap();
    assert_eq!(*verified.account_identity(), phone.identity_key());
    assert_eq!(verified.devices().len(), 2);
    assert_eq!(verified.devices()[1].identity_key, desktop.identity_key());

    let (ok, rest, stderr) = finish(offer, offer_out);
    assert!(ok, "offer failed: {stderr}");
    assert!(rest.is_empty(), "{rest}");
    assert!(
        stderr.contains("linked as device 2 (key index 1) of user \"alice\""),
        "{stderr}"
    );
}

#[test]
fn the_state_file_refuses_a_replayed_offer_across_runs() {
    let dir = TempDir::new("replay");
    let (phone_path, _) = identity_file(&dir, "phone.identity");
    let state = dir.path("phone.state");
    let (offer, mut offer_out) = spawn(&["link", "offer"]);
    let payload = line(&mut offer_out);

    // First run: answers the offer, then gets no countersignature.
    let (accept, mut accept_out) = spawn(&[
        "link",
        "accept",
        &payload,
        "--identity",
        &phone_path,
        "--state",
        &state,
    ]);
    let message = line(&mut accept_out);
    assert!(hex::decode(&message).is_ok());
    let (ok, _, stderr) = finish(accept, accept_out);
    assert_one_line_failure(ok, &stderr, "no countersignature");

    // Second run with the same payload: refused before anything is printed.
    let output = hush(&[
        "link",
        "accept",
        &payload,
        "--identity",
        &phone_path,
        "--state",
        &state,
    ])
    .stdin(Stdio::null())
    .output()
    .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(output.stdout.is_empty());
    assert!(stderr.contains("already used"), "{stderr}");
    let (ok, _, stderr) = finish(offer, offer_out);
    assert_one_line_failure(ok, &stderr, "offer without a message");
}

#[test]
fn a_garbage_payload_is_one_line_and_a_failure() {
    for payload in ["GARBAGE", "", "not base45 at all!", "0000"] {
        let output = hush(&["link", "accept", payload])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_one_line_failure(output.status.success(), &stderr, payload);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(output.stdout.is_empty());
    }
    let output = hush(&["link", "offer", "--lifetime-ms", "0"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn a_garbage_linking_message_is_one_line_and_a_failure() {
    let cases = [
        "zz",
        "",
        "0102",
        // Well-formed length and version, but not made for this offer.
        &format!("01{}", "ab".repeat(210)),
    ];
    for message in cases {
        let (mut offer, mut offer_out) = spawn(&["link", "offer"]);
        let _payload = line(&mut offer_out);
        send(&mut offer, message);
        let (ok, rest, stderr) = finish(offer, offer_out);
        assert_one_line_failure(ok, &stderr, message);
        assert!(rest.is_empty(), "{message}: {rest}");
    }
}

#[test]
fn vectors_generate_reproduces_the_committed_device_files_and_check_passes() {
    let dir = TempDir::new("vectors");
    let output = hush(&["vectors", "generate", &dir.path("out")])
        .output()
        .unwrap();
    assert!(output.status.success());
    let committed =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-vectors/device");
    for name in ["linking.json", "device_lists.json", "README.md"] {
        let fresh = std::fs::read(dir.0.join("out/device").join(name)).unwrap();
        assert!(
            fresh == std::fs::read(committed.join(name)).unwrap(),
            "{name} differs from the committed copy: run `hush vectors generate test-vectors`"
        );
    }
    let output = hush(&["vectors", "check", committed.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{stdout}");
    let last = stdout.lines().last().unwrap();
    assert!(
        last.ends_with(" passed, 0 failed") && !last.starts_with("0 "),
        "{stdout}"
    );
}

#[test]
fn a_payload_starting_with_a_hyphen_is_a_payload_not_an_option() {
    // Base45 has `-` in its alphabet, so about one offer in 40 starts with it. It must
    // reach the payload parser (a malformed payload here: exit 1), not clap (exit 2).
    let output = hush(&["link", "accept", "-X%7 8"]).output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_one_line_failure(false, &stderr, "hyphen payload");
    assert!(!stderr.contains("unexpected argument"), "{stderr}");
}
