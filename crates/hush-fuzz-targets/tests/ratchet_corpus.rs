//! The ratchet targets' seed corpus: real messages and records made from the targets'
//! fixture (`hush_fuzz_targets::ratchet::seed_corpus`), committed under
//! `fuzz/corpus/<target>/`. The fixture is deterministic, so the committed files must be
//! exactly what it makes today; if a change to hush moves a byte, rewrite them with
//! `cargo test -p hush-fuzz-targets --test ratchet_corpus -- --ignored write_ratchet_seed_corpus`.
//! (`tests/corpus.rs` replays every committed file through its target.)

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers outside #[test] fns: a failed unwrap is a failed test"
)]

use std::fs;
use std::path::{Path, PathBuf};

use hush_fuzz_targets::ratchet::seed_corpus;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus")
}

#[test]
fn ratchet_seeds_are_in_the_committed_corpus() {
    let seeds = seed_corpus();
    for target in [
        "signal_message",
        "prekey_signal_message",
        "session_record",
        "ratchet_interaction",
    ] {
        assert!(
            seeds.iter().any(|(t, _, _)| *t == target),
            "no seed for {target}"
        );
        assert!(
            hush_fuzz_targets::target(target).is_some(),
            "{target} is not registered"
        );
    }
    for (target, name, bytes) in seeds {
        let path = corpus_dir().join(target).join(&name);
        let committed = fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run the ignored test write_ratchet_seed_corpus",
                path.display()
            )
        });
        assert!(
            committed == bytes,
            "{} differs from the fixture's seed",
            path.display()
        );
    }
}

#[test]
#[ignore = "writes fuzz/corpus/; run by hand after a change that moves the fixture's bytes"]
fn write_ratchet_seed_corpus() {
    for (target, name, bytes) in seed_corpus() {
        let dir = corpus_dir().join(target);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(name), bytes).unwrap();
    }
}
