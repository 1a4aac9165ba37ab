//! `linking.json`: linking transcripts, their generator and runner.

mod generate;

pub(crate) use generate::generate_linking;

use std::collections::BTreeMap;
use std::path::Path;

use hush_backup::{BackupKey, Encryptor};
use hush_core::cipher::Aes256GcmKey;
use hush_core::kdf::{hkdf_sha256_array, hmac_sha256};
use hush_core::rng::os_rng;
use hush_core::{IdentityKey, IdentityKeyPair, PrivateKey, PublicKey};
use hush_device::{
    CompanionAssignment, CompanionLinking, Countersignature, DeviceEntry, HistoryHandOff,
    LinkingMessage, LinkingOffer, PrimaryLinking, SeenOffers,
};
use hush_test_support::ReplayRng;
use serde::Deserialize;
use serde_json::Value;

use super::{
    ACCOUNT_PREFIX, Generated, NOW_MS, Report, arr32, by_name, draw, entry_json, error_name,
    expect, expect_bytes, flip, head, hex_field, key_pair, number, outcome, read_json, sub, tail,
    text, unhex, with_byte,
};

/// The offers' lifetime (hush-device's default).
const LIFETIME_MS: u64 = 60_000;
/// The grace time after expiry (`docs/wire/linking.md`).
const GRACE_MS: u64 = 30_000;
/// Chunk size of the recorded history streams: small, so a few KB make several chunks.
const HISTORY_CHUNK_SIZE: u32 = 1024;
// Labels and prefixes, written out from `docs/wire/linking.md` (not imported).
const OFFER_PUBLIC_HASH: &[u8] = b"hush-device v1 offer public hash";
const LINKING_MESSAGE_KEY: &[u8] = b"hush-device v1 linking message key";
const LINKING_MAC_KEY: &[u8] = b"hush-device v1 linking secret mac key";
const TRANSCRIPT: &[u8] = b"hush-device v1 linking transcript";
const COUNTERSIGNATURE_KEY: &[u8] = b"hush-device v1 countersignature key";
const HISTORY_KEY: &[u8] = b"hush-device v1 history key";
const DEVICE_PREFIX: [u8; 2] = [0x06, 0x01];
const MEMBERSHIP_PREFIX: [u8; 2] = [0x06, 0x03];
/// Version byte of the linking message, the countersignature, the offer and the
/// states (`docs/wire/linking.md`, version 2).
const VERSION: u8 = 2;

// ---------------------------------------------------------------------------------------
// Linking: the generator's own derivations and sealing, from hush-core primitives.

/// Keys of one linking, derived by this module from the offer bytes and the primary's
/// ephemeral private key.
struct Derived {
    shared: [u8; 32],
    offer_public_hash: [u8; 32],
    message_key: [u8; 32],
    mac_key: [u8; 32],
}

fn derive(offer: &[u8], primary_ephemeral: &PrivateKey) -> Result<Derived, String> {
    let eph_c = arr32(sub(offer, 1, 33)?)?;
    let secret = sub(offer, 33, 65)?;
    let shared = primary_ephemeral
        .agree(&PublicKey::from_montgomery_bytes(eph_c))
        .map_err(|e| e.to_string())?;
    let public_part = [sub(offer, 0, 33)?, offer.get(65..).unwrap_or_default()].concat();
    let offer_public_hash = *hmac_sha256(OFFER_PUBLIC_HASH, &public_part);
    let hkdf = |ikm: &[u8], info: &[u8]| {
        hkdf_sha256_array::<32>(&offer_public_hash, ikm, info)
            .map(|k| *k)
            .map_err(|e| e.to_string())
    };
    Ok(Derived {
        shared: *shared.as_bytes(),
        offer_public_hash,
        message_key: hkdf(shared.as_bytes(), LINKING_MESSAGE_KEY)?,
        mac_key: hkdf(secret, LINKING_MAC_KEY)?,
    })
}

/// What goes into a hand-built linking message.
struct MessageParts<'a> {
    account: &'a IdentityKey,
    metadata: &'a [u8],
    signature: &'a [u8; 64],
    /// Another MAC key (a sender without the linking secret).
    mac_key: Option<[u8; 32]>,
    /// Bytes after the MAC inside the ciphertext.
    trailing: &'a [u8],
    /// The account key's encoding with its type byte replaced.
    key_type: Option<u8>,
}

fn seal_message(
    offer: &[u8],
    primary_ephemeral: &PrivateKey,
    parts: &MessageParts<'_>,
) -> Result<Vec<u8>, String> {
    let keys = derive(offer, primary_ephemeral)?;
    let header = [
        &[VERSION][..],
        primary_ephemeral.public_key().as_montgomery_bytes(),
    ]
    .concat();
    let mut account = parts.account.encode();
    if let (Some(t), Some(first)) = (parts.key_type, account.first_mut()) {
        *first = t;
    }
    let body = [&account[..], parts.metadata, parts.signature].concat();
    let mac = hmac_sha256(
        &parts.mac_key.unwrap_or(keys.mac_key),
        &[offer, &header, &body].concat(),
    );
    let plaintext = [&body[..], &mac[..], parts.trailing].concat();
    let ciphertext = Aes256GcmKey::new(&keys.message_key).seal(&[0; 12], &header, &plaintext);
    Ok([header, ciphertext].concat())
}

fn transcript_hash(offer: &[u8], message: &[u8]) -> [u8; 32] {
    *hmac_sha256(TRANSCRIPT, &[offer, message].concat())
}

fn countersign_key(offer: &[u8], message: &[u8], shared: &[u8]) -> Result<[u8; 32], String> {
    hkdf_sha256_array::<32>(
        &transcript_hash(offer, message),
        shared,
        COUNTERSIGNATURE_KEY,
    )
    .map(|k| *k)
    .map_err(|e| e.to_string())
}

fn history_key(offer: &[u8], message: &[u8], shared: &[u8]) -> Result<[u8; 32], String> {
    let secret = sub(offer, 33, 65)?;
    hkdf_sha256_array::<32>(
        &transcript_hash(offer, message),
        &[shared, secret].concat(),
        HISTORY_KEY,
    )
    .map(|k| *k)
    .map_err(|e| e.to_string())
}

/// The countersignature: version, then the device signature and the membership
/// signature sealed under `key` (AAD = the version byte).
fn seal_countersignature(key: &[u8; 32], device: &[u8; 64], membership: &[u8; 64]) -> Vec<u8> {
    [
        &[VERSION][..],
        &Aes256GcmKey::new(key).seal(&[0; 12], &[VERSION], &[&device[..], membership].concat()),
    ]
    .concat()
}

fn metadata_bytes(
    device_id: u32,
    key_index: u32,
    timestamp: u64,
    reference: &[u8],
    user: &[u8],
) -> Vec<u8> {
    [
        &device_id.to_be_bytes()[..],
        &key_index.to_be_bytes(),
        &timestamp.to_be_bytes(),
        &[u8::try_from(reference.len()).unwrap_or(u8::MAX)],
        reference,
        &[u8::try_from(user.len()).unwrap_or(u8::MAX)],
        user,
    ]
    .concat()
}

/// The bytes a membership signature covers: `06 03 || account key || device id || user id
/// length || user id`.
fn membership_bytes(account: &IdentityKey, user: &[u8], device_id: u32) -> Vec<u8> {
    [
        &MEMBERSHIP_PREFIX[..],
        &account.encode(),
        &device_id.to_be_bytes(),
        &[u8::try_from(user.len()).unwrap_or(u8::MAX)],
        user,
    ]
    .concat()
}

// ---------------------------------------------------------------------------------------
// Linking: one transcript run through hush-device.

/// The inputs of one valid linking, as the file records them.
#[derive(Deserialize, Clone)]
struct TranscriptInputs {
    name: String,
    account_private_key: String,
    companion_private_key: String,
    server_reference: String,
    created_at_ms: u64,
    lifetime_ms: u64,
    accepted_at_ms: u64,
    received_at_ms: u64,
    finished_at_ms: u64,
    /// The account's user id (hex).
    user_id: String,
    device_id: u32,
    key_index: u32,
    companion_random: String,
    primary_random: String,
    countersign_random: String,
    history_plaintext: String,
    history_chunk_size: u32,
}

/// What `hush-device` made of one transcript.
struct Transcript {
    account: IdentityKeyPair,
    companion: IdentityKeyPair,
    companion_ephemeral_private: [u8; 32],
    primary_ephemeral_private: [u8; 32],
    offer: Vec<u8>,
    qr_text: String,
    message: Vec<u8>,
    countersignature: Vec<u8>,
    metadata: Vec<u8>,
    account_signature: [u8; 64],
    device_signature: [u8; 64],
    membership_signature: [u8; 64],
    transcript_hash: [u8; 32],
    history_key: [u8; 32],
    entry: DeviceEntry,
    history: HistoryHandOff,
    companion_state: Vec<u8>,
}

fn replay(hex_text: &str, field: &str) -> Result<ReplayRng, String> {
    Ok(ReplayRng::new(unhex(field, hex_text)?))
}

fn all_used(rng: &ReplayRng, what: &str) -> Result<(), String> {
    expect(!rng.overrun() && rng.remaining() == 0, || {
        format!("{what}: hush-device drew another number of random bytes than recorded")
    })
}

fn err(step: &'static str) -> impl Fn(hush_device::Error) -> String {
    move |e| format!("{step}: {e}")
}

fn run_transcript(inputs: &TranscriptInputs) -> Result<Transcript, String> {
    let account = key_pair(arr32(&unhex(
        "account_private_key",
        &inputs.account_private_key,
    )?)?);
    let companion = key_pair(arr32(&unhex(
        "companion_private_key",
        &inputs.companion_private_key,
    )?)?);
    let reference = unhex("server_reference", &inputs.server_reference)?;
    let user_id = unhex("user_id", &inputs.user_id)?;

    let mut rng = replay(&inputs.companion_random, "companion_random")?;
    let linking = CompanionLinking::new(
        &mut rng,
        companion.identity_key(),
        &reference,
        inputs.created_at_ms,
        inputs.lifetime_ms,
    )
    .map_err(err("CompanionLinking::new"))?;
    all_used(&rng, "CompanionLinking::new")?;
    let companion_state = linking.encode().to_vec();
    let offer = linking.offer().encode().to_vec();
    let qr_text = linking.offer().to_qr_text().to_string();

    let scanned = LinkingOffer::from_qr_text(&qr_text).map_err(err("from_qr_text"))?;
    let mut rng = replay(&inputs.primary_random, "primary_random")?;
    let (primary, message) = PrimaryLinking::accept(
        &scanned,
        &account,
        &CompanionAssignment {
            user_id,
            device_id: inputs.device_id,
            key_index: inputs.key_index,
        },
        &mut SeenOffers::new(),
        inputs.accepted_at_ms,
        &mut rng,
    )
    .map_err(err("PrimaryLinking::accept"))?;
    all_used(&rng, "PrimaryLinking::accept")?;
    let message = message.encode();

    let mut rng = replay(&inputs.countersign_random, "countersign_random")?;
    let decoded = LinkingMessage::decode(&message).map_err(err("LinkingMessage::decode"))?;
    let (linked, countersignature) = linking
        .receive(&decoded, &companion, inputs.received_at_ms, &mut rng)
        .map_err(err("CompanionLinking::receive"))?;
    all_used(&rng, "CompanionLinking::receive")?;
    let countersignature = countersignature.encode();

    let decoded =
        Countersignature::decode(&countersignature).map_err(err("Countersignature::decode"))?;
    let added = primary
        .finish(&decoded, inputs.finished_at_ms)
        .map_err(err("PrimaryLinking::finish"))?;
    expect(added.history == linked.history, || {
        "the primary and the companion derived different history hand-offs".to_owned()
    })?;
    expect(added.device_signature == linked.device_signature, || {
        "the primary saw another device signature".to_owned()
    })?;

    let private = |field: &str, text: &str| -> Result<[u8; 32], String> {
        let raw = arr32(sub(&unhex(field, text)?, 0, 32)?)?;
        Ok(*PrivateKey::from_bytes(raw).to_bytes())
    };
    Ok(Transcript {
        companion_ephemeral_private: private("companion_random", &inputs.companion_random)?,
        primary_ephemeral_private: private("primary_random", &inputs.primary_random)?,
        offer,
        qr_text,
        message,
        countersignature,
        metadata: linked.metadata.encode(),
        account_signature: *linked.account_signature.as_bytes(),
        device_signature: *linked.device_signature.as_bytes(),
        membership_signature: *linked.membership_signature.as_bytes(),
        transcript_hash: *linked.history.transcript_hash().as_bytes(),
        history_key: *linked.history.key().to_bytes(),
        entry: added.entry,
        history: linked.history,
        companion_state,
        account,
        companion,
    })
}

fn history_stream(
    key: &[u8; 32],
    context: &[u8],
    chunk_size: u32,
    salt: [u8; 32],
    plaintext: &[u8],
) -> Result<Vec<u8>, String> {
    let key = BackupKey::from_bytes(*key);
    let mut out = Vec::new();
    let mut rng = ReplayRng::new(salt.to_vec());
    Encryptor::new(&key)
        .context(context)
        .chunk_size(chunk_size)
        .map_err(|e| e.to_string())?
        .encrypt(&mut rng, plaintext, &mut out)
        .map_err(|e| e.to_string())?;
    all_used(&rng, "history stream")?;
    Ok(out)
}

fn receive_history(history: &HistoryHandOff, stream: &[u8]) -> Result<Vec<u8>, hush_device::Error> {
    let mut out = Vec::new();
    history.receive(stream, &mut out, None, |_| {})?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Linking: the runner.

fn base_of<'a>(case: &Value, valid: &'a BTreeMap<String, Value>) -> Result<&'a Value, String> {
    let name = text(case, "base")?;
    valid
        .get(name)
        .ok_or_else(|| format!("no valid case named {name}"))
}

fn base_transcript(base: &Value) -> Result<Transcript, String> {
    let inputs: TranscriptInputs =
        serde_json::from_value(base.clone()).map_err(|e| format!("base case: {e}"))?;
    run_transcript(&inputs)
}

/// Runs one invalid case through the step it names; the outcome in the file's words.
fn run_linking_case(case: &Value, valid: &BTreeMap<String, Value>) -> Result<String, String> {
    let step = text(case, "step")?;
    Ok(match step {
        "parse_offer_text" => outcome(&LinkingOffer::from_qr_text(text(case, "qr_text")?)),
        "parse_offer" => outcome(&LinkingOffer::decode(&hex_field(case, "offer")?)),
        "parse_linking_message" => outcome(&LinkingMessage::decode(&hex_field(
            case,
            "linking_message",
        )?)),
        "parse_countersignature" => outcome(&Countersignature::decode(&hex_field(
            case,
            "countersignature",
        )?)),
        "accept" => {
            let base = base_of(case, valid)?;
            let account = key_pair(arr32(&hex_field(base, "account_private_key")?)?);
            let now = number(case, "now_ms")?;
            let offer = match LinkingOffer::decode(&hex_field(case, "offer")?) {
                Ok(offer) => offer,
                Err(e) => return Ok(error_name(&e)),
            };
            let mut seen = SeenOffers::new();
            if case
                .get("seen_offer_ids")
                .and_then(Value::as_array)
                .is_some_and(|ids| !ids.is_empty())
            {
                seen.insert(
                    offer.id(),
                    offer.expires_at_ms(),
                    now.min(offer.expires_at_ms()),
                )
                .map_err(|e| format!("seen offers: {e}"))?;
            }
            let device_id = u32::try_from(number(case, "device_id")?).map_err(|e| e.to_string())?;
            let user_id = if case.get("user_id").is_some() {
                hex_field(case, "user_id")?
            } else {
                hex_field(base, "user_id")?
            };
            outcome(&PrimaryLinking::accept(
                &offer,
                &account,
                &CompanionAssignment {
                    user_id,
                    device_id,
                    key_index: 1,
                },
                &mut seen,
                now,
                &mut os_rng(),
            ))
        }
        "receive" => {
            let base = base_of(case, valid)?;
            let state = [
                &[VERSION, 1][..],
                &hex_field(base, "companion_ephemeral_private")?,
                &hex_field(base, "offer")?,
            ]
            .concat();
            let linking = CompanionLinking::decode(&state).map_err(|e| format!("state: {e}"))?;
            let identity_field = if case.get("identity_private_key").is_some() {
                hex_field(case, "identity_private_key")?
            } else {
                hex_field(base, "companion_private_key")?
            };
            let identity = key_pair(arr32(&identity_field)?);
            let message = match LinkingMessage::decode(&hex_field(case, "linking_message")?) {
                Ok(m) => m,
                Err(e) => return Ok(error_name(&e)),
            };
            outcome(&linking.receive(&message, &identity, number(case, "now_ms")?, &mut os_rng()))
        }
        "finish" => {
            let base = base_of(case, valid)?;
            let inputs: TranscriptInputs =
                serde_json::from_value(base.clone()).map_err(|e| format!("base case: {e}"))?;
            let account = key_pair(arr32(&unhex(
                "account_private_key",
                &inputs.account_private_key,
            )?)?);
            let offer = LinkingOffer::decode(&hex_field(base, "offer")?)
                .map_err(|e| format!("base offer: {e}"))?;
            let mut rng = replay(&inputs.primary_random, "primary_random")?;
            let (primary, _) = PrimaryLinking::accept(
                &offer,
                &account,
                &CompanionAssignment {
                    user_id: unhex("user_id", &inputs.user_id)?,
                    device_id: inputs.device_id,
                    key_index: inputs.key_index,
                },
                &mut SeenOffers::new(),
                inputs.accepted_at_ms,
                &mut rng,
            )
            .map_err(|e| format!("base accept: {e}"))?;
            let cs = match Countersignature::decode(&hex_field(case, "countersignature")?) {
                Ok(cs) => cs,
                Err(e) => return Ok(error_name(&e)),
            };
            outcome(&primary.finish(&cs, number(case, "now_ms")?))
        }
        "history" => {
            let t = base_transcript(base_of(case, valid)?)?;
            outcome(&receive_history(
                &t.history,
                &hex_field(case, "history_stream")?,
            ))
        }
        other => return Err(format!("unknown step {other}")),
    })
}

fn check_transcript(case: &Value) -> Result<(), String> {
    let inputs: TranscriptInputs =
        serde_json::from_value(case.clone()).map_err(|e| format!("malformed case: {e}"))?;
    let t = run_transcript(&inputs)?;
    let bytes = |field: &str, got: &[u8]| -> Result<(), String> {
        expect_bytes(field, got, &hex_field(case, field)?)
    };
    bytes("account_identity_key", &t.account.identity_key().encode())?;
    bytes(
        "companion_identity_key",
        &t.companion.identity_key().encode(),
    )?;
    bytes(
        "companion_ephemeral_private",
        &t.companion_ephemeral_private,
    )?;
    bytes("primary_ephemeral_private", &t.primary_ephemeral_private)?;
    bytes("offer", &t.offer)?;
    expect(t.qr_text == text(case, "qr_text")?, || {
        format!("qr_text differs: hush gave {}", t.qr_text)
    })?;
    bytes("linking_message", &t.message)?;
    bytes("metadata", &t.metadata)?;
    bytes("account_signature", &t.account_signature)?;
    bytes("device_signature", &t.device_signature)?;
    bytes("membership_signature", &t.membership_signature)?;
    bytes("countersignature", &t.countersignature)?;
    bytes("transcript_hash", &t.transcript_hash)?;
    bytes("history_key", &t.history_key)?;
    bytes("companion_state", &t.companion_state)?;
    expect(
        case.get("device_entry") == Some(&entry_json(&t.entry)),
        || "device_entry differs".to_owned(),
    )?;
    let stream = hex_field(case, "history_stream")?;
    let plaintext = hex_field(case, "history_plaintext")?;
    let restored =
        receive_history(&t.history, &stream).map_err(|e| format!("history stream: {e}"))?;
    expect_bytes("history plaintext", &restored, &plaintext)?;
    let salt = arr32(sub(&stream, 25, 57)?)?;
    let again = history_stream(
        &t.history_key,
        &t.transcript_hash,
        inputs.history_chunk_size,
        salt,
        &plaintext,
    )?;
    expect_bytes("re-encrypted history stream", &again, &stream)
}

/// Checks `linking.json`.
pub(crate) fn check_linking(path: &Path, report: &mut Report) {
    #[derive(Deserialize)]
    struct File {
        valid: Vec<Value>,
        invalid: Vec<Value>,
    }
    let file: File = match read_json(path) {
        Ok(file) => file,
        Err(what) => return report.unreadable(path, &what),
    };
    if file.valid.is_empty() || file.invalid.is_empty() {
        return report.unreadable(path, "needs valid and invalid cases");
    }
    for (index, case) in file.valid.iter().enumerate() {
        let name = case.get("name").and_then(Value::as_str).unwrap_or("?");
        report.case(
            path,
            &format!("valid {index} ({name})"),
            check_transcript(case),
        );
    }
    let valid = by_name(&file.valid);
    for (index, case) in file.invalid.iter().enumerate() {
        let name = case.get("name").and_then(Value::as_str).unwrap_or("?");
        let result = run_linking_case(case, &valid).and_then(|got| {
            let want = text(case, "error")?;
            expect(got == want, || format!("hush gave {got}, expected {want}"))
        });
        report.case(path, &format!("invalid {index} ({name})"), result);
    }
}
