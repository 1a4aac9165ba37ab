//! `xeddsa.json` (libsignal v0.91.0): XEdDSA signatures over Curve25519 keys.
//!
//! Every case is verified three ways, each of which must give the file's verdict: by
//! [`PublicKey::verify`], by a [`VerifyingKey`] built once, and inside one
//! [`verify_batch`] over all cases. Valid cases are then re-signed from the recorded
//! private key and the 64 random bytes libsignal drew, and the signature must match
//! byte for byte, with every recorded byte consumed.

use std::path::Path;

use hush_core::xeddsa::{BatchItem, verify_batch};
use hush_core::{PrivateKey, PublicKey, Signature, VerifyingKey};
use hush_test_support::ReplayRng;
use hush_test_support::libsignal::xeddsa::Case;
use serde_json::Value;

use super::{Report, expect, expect_bytes, libsignal_cases, parse_case, unhex};

/// A case with its byte fields decoded. The key and signature are `Err` when hush's
/// decoders refuse them, which is itself a verdict of "invalid".
struct Decoded {
    case: Case,
    key: Result<PublicKey, String>,
    verifying_key: Option<VerifyingKey>,
    signature: Result<Signature, String>,
    message: Vec<u8>,
}

/// Checks `xeddsa.json`.
pub(crate) fn check(path: &Path, report: &mut Report) {
    let Some(values) = libsignal_cases(path, report) else {
        return;
    };
    let labels = values
        .iter()
        .enumerate()
        .map(|(index, value)| label(index, value));
    let cases: Vec<Result<Decoded, String>> = values
        .iter()
        .map(|value| parse_case(value).and_then(decode))
        .collect();

    // One batch over every case whose key and signature decode.
    let mut batch_positions = Vec::new();
    let mut items = Vec::new();
    for (position, case) in cases.iter().enumerate() {
        if let Ok(Decoded {
            verifying_key: Some(key),
            signature: Ok(signature),
            message,
            ..
        }) = case
        {
            batch_positions.push(position);
            items.push(BatchItem {
                key,
                message,
                signature,
            });
        }
    }
    let verdict = verify_batch(&items, &mut hush_core::rng::os_rng());
    let batch_rejected: Vec<usize> = verdict
        .invalid()
        .iter()
        .filter_map(|&item| batch_positions.get(item).copied())
        .collect();

    for ((position, case), label) in cases.iter().enumerate().zip(labels) {
        let outcome = case.as_ref().map_err(Clone::clone).and_then(|decoded| {
            let in_batch = batch_positions.contains(&position);
            run(decoded, in_batch && !batch_rejected.contains(&position))
        });
        report.case(path, &label, outcome);
    }
}

fn label(index: usize, value: &Value) -> String {
    match value.get("id").and_then(Value::as_u64) {
        Some(id) => format!("id {id}"),
        None => format!("case #{index}"),
    }
}

fn decode(case: Case) -> Result<Decoded, String> {
    let serialized = unhex("public_key_serialized", &case.public_key_serialized)?;
    let montgomery = unhex("public_key", &case.public_key)?;
    let key = PublicKey::decode(&serialized).map_err(|e| format!("public key refused: {e}"));
    if let Ok(key) = &key {
        expect_bytes(
            "public_key vs public_key_serialized",
            key.as_montgomery_bytes(),
            &montgomery,
        )?;
    }
    let signature = Signature::decode(&unhex("signature", &case.signature)?)
        .map_err(|e| format!("signature refused: {e}"));
    let message = unhex("message", &case.message)?;
    let verifying_key = key.as_ref().ok().map(VerifyingKey::new);
    Ok(Decoded {
        case,
        key,
        verifying_key,
        signature,
        message,
    })
}

fn run(decoded: &Decoded, batch_accepted: bool) -> Result<(), String> {
    let case = &decoded.case;
    let verdict_word = |accepted: bool| if accepted { "accepted" } else { "rejected" };
    let single = match (&decoded.key, &decoded.signature) {
        (Ok(key), Ok(signature)) => key.verify(&decoded.message, signature),
        (Err(why), _) | (_, Err(why)) => {
            return expect(!case.valid, || format!("valid case, but {why}"));
        }
    };
    expect(single == case.valid, || {
        format!(
            "PublicKey::verify {} it, expected valid: {}",
            verdict_word(single),
            case.valid
        )
    })?;
    let prepared = match (&decoded.verifying_key, &decoded.signature) {
        (Some(key), Ok(signature)) => key.verify(&decoded.message, signature),
        _ => false,
    };
    expect(prepared == case.valid, || {
        format!(
            "VerifyingKey::verify {} it, expected valid: {}",
            verdict_word(prepared),
            case.valid
        )
    })?;
    expect(batch_accepted == case.valid, || {
        format!(
            "verify_batch {} it, expected valid: {}",
            verdict_word(batch_accepted),
            case.valid
        )
    })?;
    if case.valid { resign(decoded) } else { Ok(()) }
}

/// Re-signs a valid case with the recorded private key and random bytes.
fn resign(decoded: &Decoded) -> Result<(), String> {
    let case = &decoded.case;
    let (Some(private), Some(random)) = (&case.private_key, &case.random) else {
        return Err("valid case without private_key and random: cannot re-sign".into());
    };
    let private_bytes = unhex("private_key", private)?;
    let private = PrivateKey::decode(&private_bytes).map_err(|e| format!("private key: {e}"))?;
    expect_bytes(
        "stored private scalar",
        private.to_bytes().as_slice(),
        &private_bytes,
    )?;
    if let Ok(key) = &decoded.key {
        expect_bytes(
            "public key of private_key",
            &private.public_key().encode(),
            &key.encode(),
        )?;
    }
    let mut rng = ReplayRng::new(unhex("random", random)?);
    let signature = private.sign(&decoded.message, &mut rng);
    expect(!rng.overrun(), || {
        "signing drew more than the recorded random bytes".into()
    })?;
    expect(rng.remaining() == 0, || {
        format!(
            "signing left {} of the recorded random bytes unused",
            rng.remaining()
        )
    })?;
    match &decoded.signature {
        Ok(recorded) => expect_bytes("re-signature", signature.as_bytes(), recorded.as_bytes()),
        Err(why) => Err(why.clone()),
    }
}
