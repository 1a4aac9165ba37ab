//! `fingerprint.json` (libsignal v0.91.0): safety numbers.
//!
//! For every case hush computes the fingerprint from both sides. Both displayable
//! strings must equal the recorded 60 digits; each side's scannable encoding must equal
//! the one libsignal produced on that side; each side, scanning the other's recorded
//! encoding, must reach the recorded comparison result.

use std::path::Path;

use hush_core::{Fingerprint, IdentityKey, ScannableFingerprint};
use hush_test_support::libsignal::fingerprint::Case;

use super::{Report, expect, expect_bytes, libsignal_cases, parse_case, unhex};

/// Checks `fingerprint.json`.
pub(crate) fn check(path: &Path, report: &mut Report) {
    let Some(values) = libsignal_cases(path, report) else {
        return;
    };
    for (index, value) in values.iter().enumerate() {
        let outcome = parse_case(value).and_then(|case| run(&case));
        report.case(path, &format!("case {index}"), outcome);
    }
}

fn run(case: &Case) -> Result<(), String> {
    let local_key = IdentityKey::decode(&unhex("local_identity_key", &case.local_identity_key)?)
        .map_err(|e| format!("local identity key: {e}"))?;
    let remote_key = IdentityKey::decode(&unhex("remote_identity_key", &case.remote_identity_key)?)
        .map_err(|e| format!("remote identity key: {e}"))?;
    let local_id = unhex("local_identifier", &case.local_identifier)?;
    let remote_id = unhex("remote_identifier", &case.remote_identifier)?;

    let (version, iterations) = (case.version, case.iterations);
    let local = Fingerprint::new(
        version,
        iterations,
        &local_id,
        &local_key,
        &remote_id,
        &remote_key,
    )
    .map_err(|e| format!("local side: {e}"))?;
    let remote = Fingerprint::new(
        version,
        iterations,
        &remote_id,
        &remote_key,
        &local_id,
        &local_key,
    )
    .map_err(|e| format!("remote side: {e}"))?;

    for (side, fingerprint) in [("local", &local), ("remote", &remote)] {
        let shown = fingerprint.displayable().to_string();
        expect(shown == case.displayable, || {
            format!(
                "{side} side displays {shown}, expected {}",
                case.displayable
            )
        })?;
    }

    let recorded_local = unhex("scannable_local", &case.scannable_local)?;
    let recorded_remote = unhex("scannable_remote", &case.scannable_remote)?;
    expect_bytes(
        "local scannable encoding",
        &local.scannable().encode(),
        &recorded_local,
    )?;
    expect_bytes(
        "remote scannable encoding",
        &remote.scannable().encode(),
        &recorded_remote,
    )?;

    // Each side scans the code the other side's libsignal displayed.
    for (side, ours, theirs) in [
        ("local", &local, &recorded_remote),
        ("remote", &remote, &recorded_local),
    ] {
        let scanned = ScannableFingerprint::decode(theirs)
            .map_err(|e| format!("{side} side cannot decode the other's scannable: {e}"))?;
        let same = ours
            .scannable()
            .compare(&scanned)
            .map_err(|e| format!("{side} side compare: {e}"))?;
        expect(same == case.compare_local_vs_remote, || {
            format!(
                "{side} side compare gave {same}, expected {}",
                case.compare_local_vs_remote
            )
        })?;
    }
    Ok(())
}
