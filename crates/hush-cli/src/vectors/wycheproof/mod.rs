//! Wycheproof files (C2SP/wycheproof `testvectors_v1/`), run through hush's own
//! wrappers so that what hush adds on top of its dependencies (length checks, key
//! decoding, padding checks, the contributory check) is what gets tested.
//!
//! One module per file. Each describes its file as a [`Suite`]: the algorithm and group
//! type it expects, which groups lie inside the parameters hush uses (the rest are
//! counted as not applicable), and how to run one case. The driver here parses the
//! file group by group and case by case, so that one malformed case fails alone, and
//! checks that the file's `numberOfTests` matches the cases it holds.

use std::path::Path;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Report, parse_case, read_json};

pub(super) mod aes_cbc;
pub(super) mod aes_gcm;
pub(super) mod ed25519;
pub(super) mod hkdf;
pub(super) mod hmac;
pub(super) mod mlkem;
pub(super) mod x25519;

/// Wycheproof's verdict for a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum Expected {
    /// Must be accepted, with the recorded output.
    Valid,
    /// Must be rejected.
    Invalid,
    /// Either answer is allowed; if accepted, the output must be right.
    Acceptable,
}

/// What hush did with a case.
#[derive(Debug)]
pub(super) enum Outcome {
    /// hush accepted the input; `Err` says how its output differed from the recorded
    /// one.
    Accepted(Result<(), String>),
    /// hush refused the input, for the reason given.
    Rejected(String),
}

/// How one Wycheproof file is run.
pub(super) struct Suite<G, T> {
    /// The file's `algorithm` field.
    pub(super) algorithm: &'static str,
    /// The `type` every test group must have.
    pub(super) group_type: &'static str,
    /// Whether a group lies inside the parameters hush uses.
    pub(super) applicable: fn(&G) -> bool,
    /// Runs one case. `Err` is a failure whatever the case expects: the case could not
    /// be decoded or run, or hush computed something wrong along the way.
    pub(super) run: fn(&G, &T, Expected) -> Result<Outcome, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct File {
    algorithm: String,
    number_of_tests: Option<u64>,
    test_groups: Vec<GroupShell>,
}

/// A group as JSON: its type, its tests, and everything else left for the suite's
/// group type to parse.
#[derive(Deserialize)]
struct GroupShell {
    #[serde(rename = "type")]
    group_type: String,
    tests: Vec<Value>,
    #[serde(flatten)]
    rest: serde_json::Map<String, Value>,
}

/// The fields every Wycheproof test has.
#[derive(Deserialize)]
struct Head {
    #[serde(rename = "tcId")]
    tc_id: u64,
    result: Expected,
}

/// Runs a Wycheproof file described by `suite`.
pub(super) fn run_suite<G: DeserializeOwned, T: DeserializeOwned>(
    path: &Path,
    report: &mut Report,
    suite: &Suite<G, T>,
) {
    let file: File = match read_json(path) {
        Ok(file) => file,
        Err(what) => return report.unreadable(path, &what),
    };
    if file.algorithm != suite.algorithm {
        return report.unreadable(
            path,
            &format!(
                "algorithm is {:?}, expected {:?}",
                file.algorithm, suite.algorithm
            ),
        );
    }
    let mut seen = 0u64;
    for (group_index, shell) in file.test_groups.into_iter().enumerate() {
        seen = seen.saturating_add(u64::try_from(shell.tests.len()).unwrap_or(u64::MAX));
        let group = if shell.group_type == suite.group_type {
            G::deserialize(Value::Object(shell.rest))
                .map_err(|e| format!("test group {group_index}: malformed: {e}"))
        } else {
            Err(format!(
                "test group {group_index}: type {:?} is not {:?}; its {} tests cannot be checked",
                shell.group_type,
                suite.group_type,
                shell.tests.len()
            ))
        };
        let group = match group {
            Ok(group) => group,
            Err(what) => {
                report.unreadable(path, &what);
                continue;
            }
        };
        if !(suite.applicable)(&group) {
            report.not_applicable(shell.tests.len());
            continue;
        }
        for (index, value) in shell.tests.iter().enumerate() {
            let head = parse_case::<Head>(value);
            let label = match (&head, value.get("tcId").and_then(Value::as_u64)) {
                (Ok(head), _) => format!("tcId {}", head.tc_id),
                (Err(_), Some(tc_id)) => format!("tcId {tc_id}"),
                (Err(_), None) => format!("test #{index} of group {group_index}"),
            };
            let outcome = head.and_then(|head| {
                let test = parse_case::<T>(value)?;
                let outcome = (suite.run)(&group, &test, head.result)?;
                judge(report, head.result, outcome)
            });
            report.case(path, &label, outcome);
        }
    }
    if let Some(declared) = file.number_of_tests
        && declared != seen
    {
        report.unreadable(
            path,
            &format!("numberOfTests says {declared}, the file holds {seen} tests"),
        );
    }
}

/// Compares what hush did with what the case expects; tallies "acceptable" verdicts.
fn judge(report: &mut Report, expected: Expected, outcome: Outcome) -> Result<(), String> {
    match (expected, outcome) {
        (_, Outcome::Accepted(Err(what))) => Err(what),
        (Expected::Valid, Outcome::Accepted(Ok(()))) => Ok(()),
        (Expected::Valid, Outcome::Rejected(why)) => Err(format!("valid case rejected: {why}")),
        (Expected::Invalid, Outcome::Rejected(_)) => Ok(()),
        (Expected::Invalid, Outcome::Accepted(Ok(()))) => Err("invalid case accepted".to_string()),
        (Expected::Acceptable, Outcome::Accepted(Ok(()))) => {
            report.acceptable_accepted += 1;
            Ok(())
        }
        (Expected::Acceptable, Outcome::Rejected(_)) => {
            report.acceptable_rejected += 1;
            Ok(())
        }
    }
}

/// The size of `bytes` bytes in bits, the unit Wycheproof states sizes in.
pub(super) fn bits(bytes: usize) -> u64 {
    u64::try_from(bytes).unwrap_or(u64::MAX).saturating_mul(8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judge_follows_the_verdict_table() {
        let mut report = Report::default();
        let ok = || Outcome::Accepted(Ok(()));
        let wrong = || Outcome::Accepted(Err("output differs".into()));
        let no = || Outcome::Rejected("no".into());
        assert!(judge(&mut report, Expected::Valid, ok()).is_ok());
        assert!(judge(&mut report, Expected::Valid, no()).is_err());
        assert!(judge(&mut report, Expected::Valid, wrong()).is_err());
        assert!(judge(&mut report, Expected::Invalid, no()).is_ok());
        assert!(judge(&mut report, Expected::Invalid, ok()).is_err());
        assert!(judge(&mut report, Expected::Invalid, wrong()).is_err());
        assert!(judge(&mut report, Expected::Acceptable, ok()).is_ok());
        assert!(judge(&mut report, Expected::Acceptable, no()).is_ok());
        assert!(judge(&mut report, Expected::Acceptable, wrong()).is_err());
        assert_eq!(
            (report.acceptable_accepted, report.acceptable_rejected),
            (1, 1)
        );
    }
}
