//! Replays the fuzz corpus on stable Rust, and runs every target over a fixed set of edge
//! inputs, so CI covers the targets without a fuzzer.
//!
//! - `fuzz/corpus/<target>/*` and `fuzz/regressions/<target>/*` go through the target of
//!   that name; a directory naming no registered target fails the test.
//! - Every target also gets generic edge inputs (empty, single bytes, zero and `0xff`
//!   buffers of each wire length) and, for every valid seed it has (the built-in seeds
//!   below and its corpus files), the seed itself, bit flips, truncations and extensions.
//! - The built-in seeds for `hush-core`'s targets come from libsignal's vectors in
//!   `test-vectors/libsignal/` where those have the value, and are written to
//!   `fuzz/corpus/` by the ignored test `write_seed_corpus`
//!   (`cargo test -p hush-fuzz-targets --test corpus -- --ignored write_seed_corpus`).

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] fns: a failed unwrap or panic is a failed test"
)]

use std::collections::BTreeMap;
use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use hush_core::kem::{KemCiphertext, KemKeyPair, KemKeyType, KemPublicKey, KemSecretKey};
use hush_core::{IdentityKeyPair, PrivateKey, PublicKey, ScannableFingerprint, Signature};
use hush_fuzz_targets::{TARGETS, Target, core_targets, sealed};
use hush_test_support::test_rng;
use serde::Deserialize;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fuzz_dir() -> PathBuf {
    repo_root().join("fuzz")
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn load<T: for<'de> Deserialize<'de>>(name: &str) -> T {
    load_from("test-vectors/libsignal", name)
}

fn load_from<T: for<'de> Deserialize<'de>>(dir: &str, name: &str) -> T {
    let path = repo_root().join(dir).join(name);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[derive(Deserialize)]
struct Cases<T> {
    cases: Vec<T>,
}

#[derive(Deserialize)]
struct XeddsaCase {
    id: u32,
    private_key: Option<String>,
    public_key: String,
    public_key_serialized: String,
    message: String,
    signature: String,
    valid: bool,
}

#[derive(Deserialize)]
struct FingerprintCase {
    version: u32,
    scannable_local: String,
}

/// The parts of libsignal v0.101's `sealed_sender.json` the sealed-sender seeds use.
#[derive(Deserialize)]
struct SealedVectors {
    server_certificate: Serialized,
    revoked_server_certificate: Serialized,
    sender_certificates: SealedSenderCertificates,
    v2: Vec<SealedV2>,
}

#[derive(Deserialize)]
struct Serialized {
    serialized: String,
}

#[derive(Deserialize)]
struct SealedSenderCertificates {
    alice: Serialized,
    bob: Serialized,
}

#[derive(Deserialize)]
struct SealedV2 {
    sent: String,
}

#[derive(Deserialize)]
struct KemCase {
    public: String,
    secret: String,
    ciphertext: String,
}

/// A built-in seed: target, file name in `fuzz/corpus/<target>/`, bytes, and whether the
/// target's decoder (or verifier) must accept it.
struct Seed {
    target: &'static str,
    name: String,
    bytes: Vec<u8>,
    valid: bool,
}

fn seed(target: &'static str, name: impl Into<String>, bytes: Vec<u8>, valid: bool) -> Seed {
    Seed {
        target,
        name: name.into(),
        bytes,
        valid,
    }
}

fn xeddsa_case(cases: &[XeddsaCase], id: u32) -> &XeddsaCase {
    cases
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("xeddsa.json has no case {id}"))
}

/// One `xeddsa_verify` item: u, signature, message length, message.
fn batch_item(case: &XeddsaCase) -> Vec<u8> {
    let message = unhex(&case.message);
    let mut out = unhex(&case.public_key);
    out.extend(unhex(&case.signature));
    out.push(u8::try_from(message.len()).unwrap());
    out.extend(message);
    out
}

fn builtin_seeds() -> Vec<Seed> {
    let xeddsa: Cases<XeddsaCase> = load("xeddsa.json");
    let xeddsa = &xeddsa.cases;
    let fingerprint: Cases<FingerprintCase> = load("fingerprint.json");
    let kem: Cases<KemCase> = load("kem_kyber1024.json");
    let mut seeds = Vec::new();

    for id in [0, 1, 3] {
        let case = xeddsa_case(xeddsa, id);
        seeds.push(seed(
            "public_key",
            format!("libsignal-{id}"),
            unhex(&case.public_key_serialized),
            true,
        ));
    }
    // Small-order u = 0 (X25519 output all zero) and a non-canonical u = p + 1.
    let mut zero = vec![0x05];
    zero.extend([0u8; 32]);
    seeds.push(seed("public_key", "small-order-zero", zero, true));
    let mut non_canonical = vec![0x05, 0xee];
    non_canonical.extend([0xff; 30]);
    non_canonical.push(0x7f);
    seeds.push(seed("public_key", "non-canonical", non_canonical, true));

    for id in [0, 1] {
        let private = unhex(xeddsa_case(xeddsa, id).private_key.as_ref().unwrap());
        seeds.push(seed(
            "private_key",
            format!("libsignal-{id}"),
            private,
            true,
        ));
    }
    seeds.push(seed("private_key", "all-ff", vec![0xff; 32], true));

    // IdentityKeyPairStructure written out by hand from libsignal's field numbers:
    // 1 = public key (bytes), 2 = private key (bytes).
    let case = xeddsa_case(xeddsa, 0);
    let (public, private) = (
        unhex(&case.public_key_serialized),
        unhex(case.private_key.as_ref().unwrap()),
    );
    let field = |tag: u8, value: &[u8]| {
        let mut out = vec![tag, u8::try_from(value.len()).unwrap()];
        out.extend_from_slice(value);
        out
    };
    let canonical = [field(0x0a, &public), field(0x12, &private)].concat();
    let reversed = [field(0x12, &private), field(0x0a, &public)].concat();
    seeds.push(seed("identity_key_pair", "libsignal-0", canonical, true));
    seeds.push(seed(
        "identity_key_pair",
        "libsignal-0-fields-reversed",
        reversed,
        true,
    ));

    for id in [1, 101] {
        let case = xeddsa_case(xeddsa, id);
        let mut bytes = unhex(&case.signature);
        bytes.extend(unhex(&case.message));
        seeds.push(seed(
            "signature",
            format!("libsignal-{id}"),
            bytes,
            case.valid,
        ));
    }

    let batch = |ids: &[u32]| {
        ids.iter()
            .flat_map(|&id| batch_item(xeddsa_case(xeddsa, id)))
            .collect()
    };
    seeds.push(seed("xeddsa_verify", "single", batch(&[2]), true));
    seeds.push(seed(
        "xeddsa_verify",
        "mixed",
        batch(&[0, 1, 101, 5, 106]),
        false,
    ));
    seeds.push(seed(
        "xeddsa_verify",
        "same-key",
        batch(&[1, 101, 1]),
        false,
    ));

    let kyber = kem.cases.first().unwrap();
    let mlkem = KemKeyPair::from_seed(KemKeyType::MlKem1024, &[7; 64]);
    let (mlkem_ciphertext, _) = mlkem.public_key().encapsulate(&mut test_rng(3));
    let kyber_pair = [unhex(&kyber.public), unhex(&kyber.secret)].concat();
    let mlkem_pair = [
        mlkem.public_key().encode(),
        mlkem.secret_key().encode().to_vec(),
    ]
    .concat();
    seeds.push(seed(
        "kem_public_key",
        "kyber1024-libsignal",
        unhex(&kyber.public),
        true,
    ));
    seeds.push(seed(
        "kem_public_key",
        "mlkem1024",
        mlkem.public_key().encode(),
        true,
    ));
    seeds.push(seed(
        "kem_secret_key",
        "kyber1024-libsignal",
        unhex(&kyber.secret),
        true,
    ));
    seeds.push(seed(
        "kem_secret_key",
        "mlkem1024",
        mlkem.secret_key().encode().to_vec(),
        true,
    ));
    seeds.push(seed(
        "kem_ciphertext",
        "kyber1024-libsignal",
        unhex(&kyber.ciphertext),
        true,
    ));
    seeds.push(seed(
        "kem_ciphertext",
        "mlkem1024",
        mlkem_ciphertext.encode(),
        true,
    ));
    seeds.push(seed(
        "kem_key_pair",
        "kyber1024-libsignal",
        kyber_pair,
        true,
    ));
    seeds.push(seed("kem_key_pair", "mlkem1024", mlkem_pair, true));

    for (index, version) in [(0, 1), (2, 2)] {
        let case = fingerprint.cases.get(index).unwrap();
        assert_eq!(case.version, version);
        let name = format!("libsignal-{index}-v{version}");
        seeds.push(seed(
            "scannable_fingerprint",
            name,
            unhex(&case.scannable_local),
            true,
        ));
    }
    sealed_seeds(&mut seeds);
    seeds
}

/// Seeds for `hush-sealed`'s targets: libsignal's certificates and `SentMessage`s from
/// `test-vectors/libsignal-v0101/sealed_sender.json`, and genuine messages of the
/// targets' fixed parties (which the open targets can decrypt).
fn sealed_seeds(seeds: &mut Vec<Seed>) {
    let vectors: SealedVectors = load_from("test-vectors/libsignal-v0101", "sealed_sender.json");
    seeds.push(seed(
        "sealed_server_certificate",
        "libsignal-v0101",
        unhex(&vectors.server_certificate.serialized),
        true,
    ));
    seeds.push(seed(
        "sealed_server_certificate",
        "libsignal-v0101-revoked",
        unhex(&vectors.revoked_server_certificate.serialized),
        true,
    ));
    let fixture = sealed::fixture();
    seeds.push(seed(
        "sealed_server_certificate",
        "fixture",
        fixture.server_certificate.as_bytes().to_vec(),
        true,
    ));
    let certificates = &vectors.sender_certificates;
    seeds.push(seed(
        "sealed_sender_certificate",
        "libsignal-v0101-alice",
        unhex(&certificates.alice.serialized),
        true,
    ));
    seeds.push(seed(
        "sealed_sender_certificate",
        "libsignal-v0101-bob",
        unhex(&certificates.bob.serialized),
        true,
    ));
    seeds.push(seed(
        "sealed_sender_certificate",
        "fixture-alice",
        fixture.alice_certificate.as_bytes().to_vec(),
        true,
    ));
    for (index, v2) in vectors.v2.iter().enumerate() {
        seeds.push(seed(
            "sealed_sent_message",
            format!("libsignal-v0101-{index}"),
            unhex(&v2.sent),
            true,
        ));
    }
    let messages = sealed::seeds();
    seeds.push(seed(
        "sealed_sent_message",
        "fixture-linked-devices",
        messages.sent,
        true,
    ));
    seeds.push(seed(
        "sealed_v1_open",
        "fixture",
        messages.v1[1..].to_vec(),
        true,
    ));
    seeds.push(seed(
        "sealed_received_open",
        "fixture",
        messages.received[1..].to_vec(),
        true,
    ));
}

/// Whether the decoder (or verifier) behind `target` accepts `bytes`: the built-in seeds
/// marked valid must be, so the targets' round-trip checks actually run.
fn accepted(target: &str, bytes: &[u8]) -> bool {
    match target {
        "public_key" => PublicKey::decode(bytes).is_ok(),
        "private_key" => PrivateKey::decode(bytes).is_ok(),
        "identity_key_pair" => IdentityKeyPair::decode(bytes).is_ok(),
        "signature" => {
            let (signature, message) = bytes.split_at(64);
            let key = PublicKey::from_montgomery_bytes(core_targets::SIGNATURE_TARGET_KEY);
            key.verify(message, &Signature::decode(signature).unwrap())
        }
        "xeddsa_verify" => {
            let mut rest = bytes;
            let mut all = true;
            while !rest.is_empty() {
                let (key, tail) = rest.split_at(32);
                let (signature, tail) = tail.split_at(64);
                let (message, tail) = tail[1..].split_at(usize::from(tail[0]));
                let key = PublicKey::from_montgomery_bytes(key.try_into().unwrap());
                all &= key.verify(message, &Signature::decode(signature).unwrap());
                rest = tail;
            }
            all
        }
        "kem_public_key" => KemPublicKey::decode(bytes).is_ok(),
        "kem_secret_key" => KemSecretKey::decode(bytes).is_ok(),
        "kem_ciphertext" => KemCiphertext::decode(bytes).is_ok(),
        "kem_key_pair" => {
            let (public, secret) = bytes.split_at(1569);
            KemKeyPair::decode(public, secret).is_ok()
        }
        "scannable_fingerprint" => ScannableFingerprint::decode(bytes).is_ok(),
        "sealed_server_certificate" => hush_sealed::ServerCertificate::decode(bytes).is_ok(),
        "sealed_sender_certificate" => hush_sealed::SenderCertificate::decode(bytes).is_ok(),
        "sealed_sent_message" => hush_sealed::SentMessage::parse(bytes).is_ok(),
        "sealed_v1_open" | "sealed_received_open" => {
            let version = if target == "sealed_v1_open" {
                0x11
            } else {
                0x22
            };
            let f = sealed::fixture();
            hush_sealed::open(
                &[&[version], bytes].concat(),
                &f.bob,
                &f.validator,
                sealed::NOW_MS,
            )
            .is_ok()
        }
        other => panic!("no acceptance check for built-in seeds of {other}"),
    }
}

/// Files per target under `fuzz/<kind>/` (`corpus` or `regressions`). Panics on a
/// directory that names no registered target.
fn corpus_files(kind: &str) -> BTreeMap<String, Vec<PathBuf>> {
    let mut out = BTreeMap::new();
    let root = fuzz_dir().join(kind);
    let Ok(entries) = fs::read_dir(&root) else {
        return out;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            path.is_dir(),
            "{}: expected only directories named after targets",
            path.display()
        );
        assert!(
            hush_fuzz_targets::target(&name).is_some(),
            "{}: no registered fuzz target is called {name}",
            path.display()
        );
        let mut files: Vec<PathBuf> = fs::read_dir(&path)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        out.insert(name, files);
    }
    out
}

/// Runs `target` on `input`, recording a failure instead of stopping at the first one.
fn run(failures: &mut Vec<String>, name: &str, target: Target, label: &str, input: &[u8]) {
    if catch_unwind(AssertUnwindSafe(|| target(input))).is_err() {
        failures.push(format!("{name}: {label} ({} bytes)", input.len()));
    }
}

fn assert_no_failures(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} failing inputs:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn corpus_and_regressions_replay() {
    let mut failures = Vec::new();
    let mut replayed = 0;
    for kind in ["corpus", "regressions"] {
        for (name, files) in corpus_files(kind) {
            let target = hush_fuzz_targets::target(&name).unwrap();
            for file in files {
                let bytes = fs::read(&file).unwrap();
                run(
                    &mut failures,
                    &name,
                    target,
                    &file.display().to_string(),
                    &bytes,
                );
                replayed += 1;
            }
        }
    }
    assert_no_failures(&failures);
    assert!(
        replayed > 0,
        "no corpus found under {}",
        fuzz_dir().display()
    );
}

#[test]
fn every_target_has_a_seed_corpus() {
    let corpus = corpus_files("corpus");
    for (name, _) in TARGETS {
        assert!(
            corpus.get(*name).is_some_and(|files| !files.is_empty()),
            "fuzz/corpus/{name}/ is missing or empty"
        );
    }
}

/// Mutations of a valid input: flipped bits at the start, middle and end, truncations and
/// extensions (including the input twice, which protobuf decoders merge).
fn mutations(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![("as is".to_owned(), bytes.to_vec())];
    if bytes.is_empty() {
        return out;
    }
    let len = bytes.len();
    for (position, bit) in [(0, 0), (0, 7), (len / 2, 3), (len - 1, 0), (len - 1, 7)] {
        let mut flipped = bytes.to_vec();
        flipped[position] ^= 1 << bit;
        out.push((format!("bit {bit} of byte {position} flipped"), flipped));
    }
    out.push(("last byte dropped".to_owned(), bytes[..len - 1].to_vec()));
    out.push(("first half".to_owned(), bytes[..len / 2].to_vec()));
    out.push(("zero appended".to_owned(), [bytes, &[0]].concat()));
    out.push(("doubled".to_owned(), bytes.repeat(2)));
    out
}

fn generic_edges() -> Vec<(String, Vec<u8>)> {
    let mut out = vec![("empty".to_owned(), Vec::new())];
    for byte in [0x00, 0x05, 0x08, 0x0a, 0xff] {
        out.push((format!("the byte {byte:#04x}"), vec![byte]));
    }
    for len in [32, 33, 64, 96, 97, 1569, 3169, 4738] {
        out.push((format!("{len} zero bytes"), vec![0; len]));
        out.push((format!("{len} 0xff bytes"), vec![0xff; len]));
        for type_byte in [0x05, 0x08, 0x0a] {
            let mut typed = vec![0; len];
            typed[0] = type_byte;
            out.push((
                format!("{type_byte:#04x} and {} zero bytes", len - 1),
                typed,
            ));
        }
    }
    out
}

#[test]
fn every_target_survives_edge_inputs() {
    let seeds = builtin_seeds();
    let corpus = corpus_files("corpus");
    let mut failures = Vec::new();
    for (name, target) in TARGETS {
        for (label, input) in generic_edges() {
            run(&mut failures, name, *target, &label, &input);
        }
        let builtin = seeds
            .iter()
            .filter(|s| s.target == *name)
            .map(|s| (s.name.clone(), s.bytes.clone()));
        let files = corpus
            .get(*name)
            .into_iter()
            .flatten()
            .map(|path| (path.display().to_string(), fs::read(path).unwrap()));
        for (seed_name, bytes) in builtin.chain(files) {
            for (label, input) in mutations(&bytes) {
                run(
                    &mut failures,
                    name,
                    *target,
                    &format!("{seed_name}, {label}"),
                    &input,
                );
            }
        }
    }
    assert_no_failures(&failures);
}

#[test]
fn builtin_seeds_are_what_they_claim() {
    let seeds = builtin_seeds();
    for (name, _) in TARGETS
        .iter()
        .filter(|(name, _)| seeds.iter().any(|s| s.target == *name))
    {
        assert!(
            seeds.iter().any(|s| s.target == *name && s.valid),
            "{name}: no built-in seed that its decoder accepts"
        );
    }
    for s in &seeds {
        assert!(
            hush_fuzz_targets::target(s.target).is_some(),
            "{}: not registered",
            s.target
        );
        assert_eq!(
            accepted(s.target, &s.bytes),
            s.valid,
            "{}/{}",
            s.target,
            s.name
        );
    }
}

/// `IdentityKeyPair::encode` writes the field layout the hand-built seed uses, which is
/// libsignal's (checked against the vector's keys, not against hush's own output).
#[test]
fn identity_key_pair_seed_is_the_canonical_encoding() {
    let seeds = builtin_seeds();
    let canonical = seeds
        .iter()
        .find(|s| s.name == "libsignal-0" && s.target == "identity_key_pair")
        .unwrap();
    let pair = IdentityKeyPair::decode(&canonical.bytes).unwrap();
    assert_eq!(*pair.encode(), canonical.bytes);
}

#[test]
fn builtin_seeds_are_in_the_committed_corpus() {
    for s in builtin_seeds() {
        let path = fuzz_dir().join("corpus").join(s.target).join(&s.name);
        let committed = fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run the ignored test write_seed_corpus",
                path.display()
            )
        });
        assert_eq!(
            committed,
            s.bytes,
            "{} differs from the built-in seed",
            path.display()
        );
    }
}

#[test]
fn fuzz_workspace_has_a_binary_per_target() {
    let manifest = fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    let targets_dir = fuzz_dir().join("fuzz_targets");
    for (name, _) in TARGETS {
        let source = targets_dir.join(format!("{name}.rs"));
        let text =
            fs::read_to_string(&source).unwrap_or_else(|e| panic!("{}: {e}", source.display()));
        assert!(
            text.contains("fuzz_target!"),
            "{}: no fuzz_target!",
            source.display()
        );
        assert!(
            text.contains(&format!("{name}(")),
            "{}: does not call {name}",
            source.display()
        );
        assert!(
            manifest.contains(&format!(
                "name = \"{name}\"\npath = \"fuzz_targets/{name}.rs\""
            )),
            "fuzz/Cargo.toml has no [[bin]] for {name}"
        );
    }
    for entry in fs::read_dir(&targets_dir).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        assert!(
            hush_fuzz_targets::target(&stem).is_some(),
            "{}: not in TARGETS",
            path.display()
        );
    }
}

#[test]
#[ignore = "writes fuzz/corpus/; run by hand after changing the built-in seeds"]
fn write_seed_corpus() {
    for s in builtin_seeds() {
        let dir = fuzz_dir().join("corpus").join(s.target);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(&s.name), &s.bytes).unwrap();
    }
}
