//! hush's own device vectors (`test-vectors/device/`): `linking.json` and
//! `device_lists.json`, for the formats in `docs/wire/linking.md` and
//! `docs/wire/device-list.md`.
//!
//! The generators draw every key and random input from seeded RNGs and feed them to
//! `hush-device` through a [`ReplayRng`], so the files record the random inputs and
//! regenerate identically. The malformed and forged inputs are built by this module's own
//! code from hush-core primitives (its own labels, its own sealing of linking messages and
//! countersignatures, its own device-list writer); each of those writers must reproduce
//! `hush-device`'s bytes for the valid inputs first. The runners replay every valid
//! transcript through `hush-device` and compare every byte, and run every invalid case
//! through the API step it names, comparing the error. Independent cross-check:
//! `test-vectors/device/check_device_vectors.py` (plain Python), which
//! `crates/hush-device/tests/vectors.rs` runs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use hush_backup::{BackupKey, Encryptor};
use hush_core::cipher::Aes256GcmKey;
use hush_core::kdf::{hkdf_sha256_array, hmac_sha256};
use hush_core::rng::os_rng;
use hush_core::{IdentityKey, IdentityKeyPair, PrivateKey, PublicKey};
use hush_device::{
    CompanionAssignment, CompanionLinking, Countersignature, DeviceEntry, DeviceList,
    DeviceListPolicy, HistoryHandOff, KnownDeviceLists, LinkingMessage, LinkingOffer,
    PrimaryLinking, SeenOffers, SignedDeviceList,
};
use hush_test_support::{ReplayRng, test_rng};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Generated, Report, expect, expect_bytes, read_json, unhex};

/// The clock every vector starts from.
const NOW_MS: u64 = 1_700_000_000_000;
/// The offers' lifetime (hush-device's default).
const LIFETIME_MS: u64 = 60_000;
/// The grace time after expiry (`docs/wire/linking.md`).
const GRACE_MS: u64 = 30_000;
/// Chunk size of the recorded history streams: small, so a few KB make several chunks.
const HISTORY_CHUNK_SIZE: u32 = 1024;
/// Fourteen days, the default companion expiry.
const COMPANION_EXPIRY_MS: u64 = 1_209_600_000;

// Labels and prefixes, written out from `docs/wire/linking.md` (not imported).
const OFFER_PUBLIC_HASH: &[u8] = b"hush-device v1 offer public hash";
const LINKING_MESSAGE_KEY: &[u8] = b"hush-device v1 linking message key";
const LINKING_MAC_KEY: &[u8] = b"hush-device v1 linking secret mac key";
const TRANSCRIPT: &[u8] = b"hush-device v1 linking transcript";
const COUNTERSIGNATURE_KEY: &[u8] = b"hush-device v1 countersignature key";
const HISTORY_KEY: &[u8] = b"hush-device v1 history key";
const ACCOUNT_PREFIX: [u8; 2] = [0x06, 0x00];
const DEVICE_PREFIX: [u8; 2] = [0x06, 0x01];
const LIST_PREFIX: [u8; 2] = [0x06, 0x02];

/// The name a file records for an error: its `Debug` form, e.g. `Malformed("base45")`,
/// `Rollback { seen: 3, received: 2 }`, `HistoryStream(WrongKey)`.
fn error_name(error: &hush_device::Error) -> String {
    format!("{error:?}")
}

fn outcome<T>(result: &Result<T, hush_device::Error>) -> String {
    result.as_ref().map_or_else(error_name, |_| "ok".to_owned())
}

fn key_pair(bytes: [u8; 32]) -> IdentityKeyPair {
    IdentityKeyPair::from(PrivateKey::from_bytes(bytes))
}

fn draw<const N: usize>(rng: &mut impl hush_core::rng::Rng) -> [u8; N] {
    let mut out = [0u8; N];
    rng.fill_bytes(&mut out);
    out
}

fn tail(bytes: &[u8], from: usize) -> &[u8] {
    bytes.get(from..).unwrap_or_default()
}

fn head(bytes: &[u8], to: usize) -> &[u8] {
    bytes.get(..to).unwrap_or_default()
}

fn with_byte(bytes: &[u8], at: usize, value: u8) -> Vec<u8> {
    let mut out = bytes.to_vec();
    if let Some(b) = out.get_mut(at) {
        *b = value;
    }
    out
}

fn flip(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    if let Some(b) = out.get_mut(at) {
        *b ^= 0x01;
    }
    out
}

fn sub(bytes: &[u8], from: usize, to: usize) -> Result<&[u8], String> {
    bytes
        .get(from..to)
        .ok_or_else(|| format!("{} bytes, need {to}", bytes.len()))
}

fn arr32(bytes: &[u8]) -> Result<[u8; 32], String> {
    bytes
        .try_into()
        .map_err(|_| format!("{} bytes, expected 32", bytes.len()))
}

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
        &[1u8][..],
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

fn seal_countersignature(key: &[u8; 32], signature: &[u8; 64]) -> Vec<u8> {
    [
        &[1u8][..],
        &Aes256GcmKey::new(key).seal(&[0; 12], &[1], signature),
    ]
    .concat()
}

fn metadata_bytes(device_id: u32, key_index: u32, timestamp: u64, reference: &[u8]) -> Vec<u8> {
    [
        &device_id.to_be_bytes()[..],
        &key_index.to_be_bytes(),
        &timestamp.to_be_bytes(),
        &[u8::try_from(reference.len()).unwrap_or(u8::MAX)],
        reference,
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
        CompanionAssignment {
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
// Linking: generation.

struct Plan {
    name: &'static str,
    seed: u64,
    reference: Vec<u8>,
    accept_after_ms: u64,
    receive_after_ms: u64,
    finish_after_ms: u64,
    device_id: u32,
    key_index: u32,
    history_len: usize,
}

fn history_text(len: usize) -> Vec<u8> {
    let mut text = String::new();
    let mut i = 0u32;
    while text.len() < len {
        let _ = writeln!(
            text,
            "{i:04} alice: see you at the station at {}:15",
            8 + i % 12
        );
        i += 1;
    }
    let mut bytes = text.into_bytes();
    bytes.truncate(len);
    bytes
}

/// A valid transcript's record: inputs, outputs, and the stream salt.
struct Made {
    inputs: TranscriptInputs,
    transcript: Transcript,
    stream: Vec<u8>,
    plaintext: Vec<u8>,
}

fn make(plan: &Plan) -> Result<Made, String> {
    let mut rng = test_rng(plan.seed);
    let account_private: [u8; 32] = draw(&mut rng);
    let companion_private: [u8; 32] = draw(&mut rng);
    let companion_random: [u8; 64] = draw(&mut rng);
    let primary_random: [u8; 96] = draw(&mut rng);
    let countersign_random: [u8; 64] = draw(&mut rng);
    let salt: [u8; 32] = draw(&mut rng);
    let plaintext = history_text(plan.history_len);
    let inputs = TranscriptInputs {
        name: plan.name.to_owned(),
        account_private_key: hex::encode(account_private),
        companion_private_key: hex::encode(companion_private),
        server_reference: hex::encode(&plan.reference),
        created_at_ms: NOW_MS,
        lifetime_ms: LIFETIME_MS,
        accepted_at_ms: NOW_MS + plan.accept_after_ms,
        received_at_ms: NOW_MS + plan.receive_after_ms,
        finished_at_ms: NOW_MS + plan.finish_after_ms,
        device_id: plan.device_id,
        key_index: plan.key_index,
        companion_random: hex::encode(companion_random),
        primary_random: hex::encode(primary_random),
        countersign_random: hex::encode(countersign_random),
        history_plaintext: hex::encode(&plaintext),
        history_chunk_size: HISTORY_CHUNK_SIZE,
    };
    let transcript = run_transcript(&inputs)?;
    let stream = history_stream(
        &transcript.history_key,
        &transcript.transcript_hash,
        HISTORY_CHUNK_SIZE,
        salt,
        &plaintext,
    )?;
    // This module's own derivations and sealing agree with hush-device on valid input.
    let eph_p = PrivateKey::from_bytes(transcript.primary_ephemeral_private);
    let derived = derive(&transcript.offer, &eph_p)?;
    let resealed = seal_message(
        &transcript.offer,
        &eph_p,
        &MessageParts {
            account: &transcript.account.identity_key(),
            metadata: &transcript.metadata,
            signature: &transcript.account_signature,
            mac_key: None,
            trailing: &[],
            key_type: None,
        },
    )?;
    expect_bytes("re-sealed linking message", &resealed, &transcript.message)?;
    let cs_key = countersign_key(&transcript.offer, &transcript.message, &derived.shared)?;
    expect_bytes(
        "re-sealed countersignature",
        &seal_countersignature(&cs_key, &transcript.device_signature),
        &transcript.countersignature,
    )?;
    expect_bytes(
        "history key",
        &history_key(&transcript.offer, &transcript.message, &derived.shared)?,
        &transcript.history_key,
    )?;
    expect_bytes(
        "transcript hash",
        &transcript_hash(&transcript.offer, &transcript.message),
        &transcript.transcript_hash,
    )?;
    Ok(Made {
        inputs,
        transcript,
        stream,
        plaintext,
    })
}

fn valid_record(made: &Made) -> Result<Value, String> {
    let t = &made.transcript;
    let i = &made.inputs;
    let eph_p = PrivateKey::from_bytes(t.primary_ephemeral_private);
    let derived = derive(&t.offer, &eph_p)?;
    Ok(json!({
        "name": i.name,
        "account_private_key": i.account_private_key,
        "account_identity_key": hex::encode(t.account.identity_key().encode()),
        "companion_private_key": i.companion_private_key,
        "companion_identity_key": hex::encode(t.companion.identity_key().encode()),
        "server_reference": i.server_reference,
        "created_at_ms": i.created_at_ms,
        "lifetime_ms": i.lifetime_ms,
        "accepted_at_ms": i.accepted_at_ms,
        "received_at_ms": i.received_at_ms,
        "finished_at_ms": i.finished_at_ms,
        "device_id": i.device_id,
        "key_index": i.key_index,
        "companion_random": i.companion_random,
        "primary_random": i.primary_random,
        "countersign_random": i.countersign_random,
        "companion_ephemeral_private": hex::encode(t.companion_ephemeral_private),
        "primary_ephemeral_private": hex::encode(t.primary_ephemeral_private),
        "offer": hex::encode(&t.offer),
        "qr_text": t.qr_text,
        "offer_public_hash": hex::encode(derived.offer_public_hash),
        "message_key": hex::encode(derived.message_key),
        "mac_key": hex::encode(derived.mac_key),
        "linking_message": hex::encode(&t.message),
        "metadata": hex::encode(&t.metadata),
        "account_signature": hex::encode(t.account_signature),
        "device_signature": hex::encode(t.device_signature),
        "countersignature_key": hex::encode(countersign_key(&t.offer, &t.message, &derived.shared)?),
        "countersignature": hex::encode(&t.countersignature),
        "transcript_hash": hex::encode(t.transcript_hash),
        "history_key": hex::encode(t.history_key),
        "companion_state": hex::encode(&t.companion_state),
        "device_entry": entry_json(&t.entry),
        "history_chunk_size": i.history_chunk_size,
        "history_plaintext": i.history_plaintext,
        "history_stream": hex::encode(&made.stream),
    }))
}

fn entry_json(entry: &DeviceEntry) -> Value {
    json!({
        "device_id": entry.device_id,
        "identity_key": hex::encode(entry.identity_key.encode()),
        "key_index": entry.key_index,
        "added_at_ms": entry.added_at_ms,
    })
}

/// An offer laid out from its fields, for malformed offers.
fn offer_bytes(
    eph_c: &[u8],
    secret: &[u8],
    identity: &[u8],
    expiry: u64,
    reference: &[u8],
) -> Vec<u8> {
    [
        &[1u8][..],
        eph_c,
        secret,
        identity,
        &expiry.to_be_bytes(),
        &[u8::try_from(reference.len()).unwrap_or(u8::MAX)],
        reference,
    ]
    .concat()
}

/// `linking.json`.
pub(crate) fn generate_linking() -> Result<Generated, String> {
    let plans = [
        Plan {
            name: "typical",
            seed: 401,
            reference: b"relay-ref-0042ab".to_vec(),
            accept_after_ms: 5_000,
            receive_after_ms: 6_000,
            finish_after_ms: 7_000,
            device_id: 2,
            key_index: 1,
            history_len: 2_600,
        },
        Plan {
            name: "longest_reference_at_the_deadlines",
            seed: 402,
            reference: (0u8..64).map(|b| b.wrapping_mul(37)).collect(),
            accept_after_ms: LIFETIME_MS,
            receive_after_ms: LIFETIME_MS + GRACE_MS,
            finish_after_ms: LIFETIME_MS + GRACE_MS,
            device_id: 3,
            key_index: 7,
            history_len: 0,
        },
        Plan {
            name: "one_byte_reference",
            seed: 403,
            reference: vec![0x00],
            accept_after_ms: 1,
            receive_after_ms: 2,
            finish_after_ms: 3,
            device_id: u32::MAX,
            key_index: u32::MAX,
            history_len: 1024,
        },
    ];
    let made: Vec<Made> = plans.iter().map(make).collect::<Result<_, _>>()?;
    let valid: Vec<Value> = made.iter().map(valid_record).collect::<Result<_, _>>()?;
    let [base, other, ..] = made.as_slice() else {
        return Err("needs two transcripts".into());
    };
    let t = &base.transcript;
    let expiry = NOW_MS + LIFETIME_MS;
    let eph_p = PrivateKey::from_bytes(t.primary_ephemeral_private);
    let derived = derive(&t.offer, &eph_p)?;
    let account_key = t.account.identity_key();
    let companion_key = t.companion.identity_key();
    let mut rng = test_rng(499);
    let stranger = key_pair(draw(&mut rng));

    let mut invalid: Vec<Value> = Vec::new();
    let mut add = |name: &str, step: &str, fields: Value| {
        let mut case = json!({ "name": name, "step": step });
        if let (Value::Object(case), Value::Object(fields)) = (&mut case, fields) {
            case.extend(fields);
        }
        invalid.push(case);
    };

    // The QR text and the binary offer.
    let text = t.qr_text.as_str();
    let with_text = |edit: &dyn Fn(&mut String)| {
        let mut s = text.to_owned();
        edit(&mut s);
        s
    };
    add("text_empty", "parse_offer_text", json!({ "qr_text": "" }));
    add(
        "text_surrounding_whitespace",
        "parse_offer_text",
        json!({ "qr_text": format!("\n\t{text}\r\n") }),
    );
    add(
        "text_lower_case",
        "parse_offer_text",
        json!({ "qr_text": text.to_ascii_lowercase() }),
    );
    add(
        "text_length_1_mod_3",
        "parse_offer_text",
        json!({ "qr_text": with_text(&|s| s.push_str("00")) }),
    );
    add(
        "text_triple_above_65535",
        "parse_offer_text",
        json!({ "qr_text": with_text(&|s| s.replace_range(0..3, ":::")) }),
    );
    add(
        "text_final_pair_above_255",
        "parse_offer_text",
        json!({ "qr_text": with_text(&|s| {
            let n = s.len();
            s.replace_range(n - 2.., "::");
        }) }),
    );
    add(
        "text_too_long",
        "parse_offer_text",
        json!({ "qr_text": "0".repeat(261) }),
    );
    add(
        "text_of_a_version_2_offer",
        "parse_offer_text",
        json!({ "qr_text": hush_device::base45::encode(&[&[2u8][..], tail(&t.offer, 1)].concat()) }),
    );
    let secret = sub(&t.offer, 33, 65)?;
    let eph_c = sub(&t.offer, 1, 33)?;
    let companion_bytes = companion_key.encode();
    let reference = unhex("server_reference", &base.inputs.server_reference)?;
    let offers: Vec<(&str, Vec<u8>)> = vec![
        ("offer_empty", Vec::new()),
        ("offer_version_2", [&[2u8][..], tail(&t.offer, 1)].concat()),
        ("offer_107_bytes", head(&t.offer, 107).to_vec()),
        (
            "offer_172_bytes",
            offer_bytes(eph_c, secret, &companion_bytes, expiry, &[7; 65]),
        ),
        (
            "offer_reference_length_0",
            with_byte(
                &offer_bytes(eph_c, secret, &companion_bytes, expiry, &[7]),
                106,
                0,
            ),
        ),
        (
            "offer_reference_length_too_large",
            with_byte(
                &offer_bytes(eph_c, secret, &companion_bytes, expiry, &reference),
                106,
                17,
            ),
        ),
        ("offer_trailing_byte", [&t.offer[..], &[0u8][..]].concat()),
        ("offer_identity_key_type_6", with_byte(&t.offer, 65, 6)),
    ];
    for (name, bytes) in offers {
        add(name, "parse_offer", json!({ "offer": hex::encode(bytes) }));
    }

    // The primary accepting an offer.
    let offer_hex = hex::encode(&t.offer);
    let accept = |now: u64, device_id: u32, seen: bool, offer: &str| {
        json!({
            "base": "typical",
            "offer": offer,
            "now_ms": now,
            "device_id": device_id,
            "seen_offer_ids": if seen { vec![hex::encode(eph_c)] } else { Vec::new() },
        })
    };
    add(
        "accept_expired",
        "accept",
        accept(expiry + 1, 2, false, &offer_hex),
    );
    add(
        "accept_replayed",
        "accept",
        accept(expiry, 2, true, &offer_hex),
    );
    add(
        "accept_expired_and_replayed",
        "accept",
        accept(expiry + 1, 2, true, &offer_hex),
    );
    add(
        "accept_device_id_0",
        "accept",
        accept(NOW_MS, 0, false, &offer_hex),
    );
    add(
        "accept_device_id_1",
        "accept",
        accept(NOW_MS, 1, false, &offer_hex),
    );
    for (name, u) in [
        ("accept_ephemeral_key_zero", 0u8),
        ("accept_ephemeral_key_one", 1u8),
    ] {
        let mut small = [0u8; 32];
        small[0] = u;
        let offer = offer_bytes(&small, secret, &companion_bytes, expiry, &reference);
        add(
            name,
            "accept",
            accept(NOW_MS, 2, false, &hex::encode(offer)),
        );
    }

    // The companion receiving a linking message.
    let received = NOW_MS + 6_000;
    let receive = |message: &[u8], now: u64| json!({ "base": "typical", "linking_message": hex::encode(message), "now_ms": now });
    let m = &t.message;
    let good_parts = || MessageParts {
        account: &account_key,
        metadata: &t.metadata,
        signature: &t.account_signature,
        mac_key: None,
        trailing: &[],
        key_type: None,
    };
    add(
        "receive_expired",
        "receive",
        receive(m, expiry + GRACE_MS + 1),
    );
    let mut wrong_identity = receive(m, received);
    if let Value::Object(o) = &mut wrong_identity {
        o.insert(
            "identity_private_key".into(),
            json!(hex::encode(stranger.private_key().to_bytes().as_slice())),
        );
    }
    add("receive_wrong_identity_key", "receive", wrong_identity);
    add(
        "receive_flipped_ephemeral_key",
        "receive",
        receive(&flip(m, 5), received),
    );
    add(
        "receive_flipped_ciphertext",
        "receive",
        receive(&flip(m, 60), received),
    );
    add(
        "receive_flipped_tag",
        "receive",
        receive(&flip(m, m.len() - 1), received),
    );
    add(
        "receive_message_for_another_offer",
        "receive",
        receive(&other.transcript.message, received),
    );
    let other_secret_key =
        hkdf_sha256_array::<32>(&derived.offer_public_hash, &[0x5a; 32], LINKING_MAC_KEY)
            .map_err(|e| e.to_string())?;
    let sealed = |parts: &MessageParts<'_>| seal_message(&t.offer, &eph_p, parts);
    add(
        "receive_without_the_linking_secret",
        "receive",
        receive(
            &sealed(&MessageParts {
                mac_key: Some(*other_secret_key),
                ..good_parts()
            })?,
            received,
        ),
    );
    let other_reference = metadata_bytes(2, 1, NOW_MS + 5_000, b"relay-ref-0042ac");
    let signed_other_reference = t.account.sign(
        &[&ACCOUNT_PREFIX[..], &other_reference, &companion_bytes].concat(),
        &mut rng,
    );
    add(
        "receive_other_server_reference",
        "receive",
        receive(
            &sealed(&MessageParts {
                metadata: &other_reference,
                signature: signed_other_reference.as_bytes(),
                ..good_parts()
            })?,
            received,
        ),
    );
    let mut bad_signature = t.account_signature;
    bad_signature[10] ^= 0x01;
    add(
        "receive_account_signature_flipped",
        "receive",
        receive(
            &sealed(&MessageParts {
                signature: &bad_signature,
                ..good_parts()
            })?,
            received,
        ),
    );
    let device_prefixed = t.account.sign(
        &[&DEVICE_PREFIX[..], &t.metadata, &companion_bytes].concat(),
        &mut rng,
    );
    add(
        "receive_account_signature_wrong_prefix",
        "receive",
        receive(
            &sealed(&MessageParts {
                signature: device_prefixed.as_bytes(),
                ..good_parts()
            })?,
            received,
        ),
    );
    let by_stranger = stranger.sign(
        &[&ACCOUNT_PREFIX[..], &t.metadata, &companion_bytes].concat(),
        &mut rng,
    );
    add(
        "receive_account_signature_by_another_key",
        "receive",
        receive(
            &sealed(&MessageParts {
                signature: by_stranger.as_bytes(),
                ..good_parts()
            })?,
            received,
        ),
    );
    add(
        "receive_contents_trailing_byte",
        "receive",
        receive(
            &sealed(&MessageParts {
                trailing: &[0],
                ..good_parts()
            })?,
            received,
        ),
    );
    add(
        "receive_contents_account_key_type_6",
        "receive",
        receive(
            &sealed(&MessageParts {
                key_type: Some(6),
                ..good_parts()
            })?,
            received,
        ),
    );
    let primary_id = metadata_bytes(1, 1, NOW_MS + 5_000, &reference);
    let signed_primary_id = t.account.sign(
        &[&ACCOUNT_PREFIX[..], &primary_id, &companion_bytes].concat(),
        &mut rng,
    );
    add(
        "receive_contents_device_id_1",
        "receive",
        receive(
            &sealed(&MessageParts {
                metadata: &primary_id,
                signature: signed_primary_id.as_bytes(),
                ..good_parts()
            })?,
            received,
        ),
    );

    // The primary finishing with a countersignature.
    let finish = |cs: &[u8], now: u64| json!({ "base": "typical", "countersignature": hex::encode(cs), "now_ms": now });
    let cs = &t.countersignature;
    let cs_key = countersign_key(&t.offer, m, &derived.shared)?;
    add(
        "finish_expired",
        "finish",
        finish(cs, expiry + GRACE_MS + 1),
    );
    add(
        "finish_flipped",
        "finish",
        finish(&flip(cs, 20), NOW_MS + 7_000),
    );
    add(
        "finish_countersignature_of_another_linking",
        "finish",
        finish(&other.transcript.countersignature, NOW_MS + 7_000),
    );
    let mut bad_device = t.device_signature;
    bad_device[3] ^= 0x01;
    add(
        "finish_device_signature_flipped",
        "finish",
        finish(&seal_countersignature(&cs_key, &bad_device), NOW_MS + 7_000),
    );
    let device_body = [&t.metadata[..], &companion_bytes, &account_key.encode()].concat();
    let wrong_prefix = t
        .companion
        .sign(&[&ACCOUNT_PREFIX[..], &device_body].concat(), &mut rng);
    add(
        "finish_device_signature_wrong_prefix",
        "finish",
        finish(
            &seal_countersignature(&cs_key, wrong_prefix.as_bytes()),
            NOW_MS + 7_000,
        ),
    );
    let by_account = t
        .account
        .sign(&[&DEVICE_PREFIX[..], &device_body].concat(), &mut rng);
    add(
        "finish_device_signature_by_the_account_key",
        "finish",
        finish(
            &seal_countersignature(&cs_key, by_account.as_bytes()),
            NOW_MS + 7_000,
        ),
    );

    // Wire forms of the two messages.
    for (name, bytes) in [
        ("message_empty", Vec::new()),
        ("message_version_0", [&[0u8][..], tail(m, 1)].concat()),
        ("message_195_bytes", vec![1; 195]),
        ("message_260_bytes", vec![1; 260]),
    ] {
        add(
            name,
            "parse_linking_message",
            json!({ "linking_message": hex::encode(bytes) }),
        );
    }
    for (name, bytes) in [
        ("countersignature_empty", Vec::new()),
        (
            "countersignature_version_2",
            [&[2u8][..], tail(cs, 1)].concat(),
        ),
        ("countersignature_80_bytes", head(cs, 80).to_vec()),
        ("countersignature_82_bytes", [&cs[..], &[0u8][..]].concat()),
    ] {
        add(
            name,
            "parse_countersignature",
            json!({ "countersignature": hex::encode(bytes) }),
        );
    }

    // History streams that are not this linking's.
    let salt: [u8; 32] = draw(&mut rng);
    let plaintext = &base.plaintext;
    let history =
        |stream: &[u8]| json!({ "base": "typical", "history_stream": hex::encode(stream) });
    let stranger_key: [u8; 32] = draw(&mut rng);
    add(
        "history_another_key",
        "history",
        history(&history_stream(
            &stranger_key,
            &t.transcript_hash,
            HISTORY_CHUNK_SIZE,
            salt,
            plaintext,
        )?),
    );
    add(
        "history_another_linkings_transcript",
        "history",
        history(&history_stream(
            &t.history_key,
            &other.transcript.transcript_hash,
            HISTORY_CHUNK_SIZE,
            salt,
            plaintext,
        )?),
    );
    add(
        "history_no_context",
        "history",
        history(&history_stream(
            &t.history_key,
            &[],
            HISTORY_CHUNK_SIZE,
            salt,
            plaintext,
        )?),
    );
    let chunk = usize::try_from(HISTORY_CHUNK_SIZE).map_err(|e| e.to_string())? + 16;
    add(
        "history_flipped_chunk_1",
        "history",
        history(&flip(&base.stream, 93 + chunk + 100)),
    );
    add(
        "history_cut_after_chunk_0",
        "history",
        history(head(&base.stream, 93 + chunk)),
    );

    // Every invalid case gets the error hush-device gives now.
    let valid_by_name = by_name(&valid);
    for case in &mut invalid {
        let got = run_linking_case(case, &valid_by_name)?;
        if let Value::Object(o) = case {
            o.insert("error".into(), json!(got));
        }
    }
    let file = json!({
        "description": "hush device linking vectors (docs/wire/linking.md): valid transcripts with every random input, intermediate key and output, plus a history hand-off stream (docs/wire/backup.md); invalid inputs to one step each with the error hush-device gives (Rust Debug form)",
        "format_version": 1,
        "valid": valid,
        "invalid": invalid,
    });
    let contents = serde_json::to_string_pretty(&file).map_err(|e| e.to_string())? + "\n";
    Ok(Generated {
        contents,
        readme_section: LINKING_README.to_owned(),
    })
}

const LINKING_README: &str = "\
Device linking (`docs/wire/linking.md`). `valid`: complete linkings (companion offer, QR text, \
linking message, countersignature, the resulting device-list entry) with every random input \
hush-device drew (`companion_random` = ephemeral key seed 32 || linking secret 32, \
`primary_random` = ephemeral key seed 32 || signature randomness 64, `countersign_random` = the \
device signature's randomness 64), the clamped ephemeral private keys, the intermediate keys \
(`offer_public_hash`, `message_key`, `mac_key`, `countersignature_key`), the transcript hash, \
the history key, and a `hush-backup` history stream (1 KiB chunks, context = transcript hash) \
with its plaintext. The identity private keys are test keys. `invalid`: one step each \
(`parse_offer_text`, `parse_offer`, `accept`, `receive`, `finish`, `parse_linking_message`, \
`parse_countersignature`, `history`), mostly against the `typical` transcript named in `base`, \
with the result hush-device gives in Rust `Debug` form (`Expired`, `Tampered`, \
`WrongLinkingSecret`, `BadSignature`, `Malformed(\"...\")`, ...; `ok` for the one parse that \
must succeed).

Made by `hush vectors generate` from seeded RNGs (identical on every run), replaying the drawn \
bytes into hush-device. Forged messages and countersignatures are sealed by the generator's own \
code from hush-core primitives, which must first reproduce hush-device's bytes for every valid \
transcript. `hush vectors check` replays every transcript and compares every byte. \
**Cross-checked independently** by `check_device_vectors.py` (Python 3, standard library, \
written from `docs/wire/linking.md`, `docs/wire/device-list.md` and `docs/wire/backup.md`, using \
`../tools/hushpy.py` for AES-GCM, HKDF, X25519 and Base45 and the XEdDSA verifier of \
`../prekey/check_prekey_vectors.py`): it re-derives every key from the private ephemeral keys, \
decrypts each linking message and countersignature, checks the MACs, signatures, transcript hash, \
history key and the history stream, and computes every invalid case's error. \
`crates/hush-device/tests/vectors.rs` runs the script.";

fn by_name(cases: &[Value]) -> BTreeMap<String, Value> {
    cases
        .iter()
        .filter_map(|c| {
            c.get("name")
                .and_then(Value::as_str)
                .map(|n| (n.to_owned(), c.clone()))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Linking: the runner.

fn text<'a>(case: &'a Value, field: &str) -> Result<&'a str, String> {
    case.get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("no field {field}"))
}

fn number(case: &Value, field: &str) -> Result<u64, String> {
    case.get(field)
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("no field {field}"))
}

fn hex_field(case: &Value, field: &str) -> Result<Vec<u8>, String> {
    unhex(field, text(case, field)?)
}

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
            outcome(&PrimaryLinking::accept(
                &offer,
                &account,
                CompanionAssignment {
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
                &[1u8, 1][..],
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
                CompanionAssignment {
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

// ---------------------------------------------------------------------------------------
// Device lists.

/// One entry, for this module's own list writer.
#[derive(Clone)]
struct Entry {
    device_id: u32,
    identity_key: Vec<u8>,
    key_index: u32,
    added_at_ms: u64,
}

impl From<&DeviceEntry> for Entry {
    fn from(e: &DeviceEntry) -> Self {
        Self {
            device_id: e.device_id,
            identity_key: e.identity_key.encode().to_vec(),
            key_index: e.key_index,
            added_at_ms: e.added_at_ms,
        }
    }
}

/// List bytes laid out by this module (`docs/wire/device-list.md`), with the count taken
/// from `entries` unless `count` says otherwise.
fn write_list(
    account: &[u8],
    version: u64,
    signed_at_ms: u64,
    entries: &[Entry],
    count: Option<u8>,
) -> Vec<u8> {
    let mut out = vec![1];
    out.extend_from_slice(account);
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&signed_at_ms.to_be_bytes());
    out.push(count.unwrap_or_else(|| u8::try_from(entries.len()).unwrap_or(u8::MAX)));
    for e in entries {
        out.extend_from_slice(&e.device_id.to_be_bytes());
        out.extend_from_slice(&e.identity_key);
        out.extend_from_slice(&e.key_index.to_be_bytes());
        out.extend_from_slice(&e.added_at_ms.to_be_bytes());
    }
    out
}

fn sign_list(
    signer: &IdentityKeyPair,
    prefix: &[u8],
    list: &[u8],
    rng: &mut impl hush_core::rng::CryptoRng,
) -> Vec<u8> {
    let signature = signer.sign(&[prefix, list].concat(), rng);
    [list, signature.as_bytes()].concat()
}

fn list_json(name: &str, signed: &SignedDeviceList, checks: &[u64]) -> Result<Value, String> {
    let bytes = signed.encode();
    let mut verifier = KnownDeviceLists::new(DeviceListPolicy::default());
    let verified = verifier
        .verify(b"vectors", &bytes)
        .map_err(|e| format!("{name}: {e}"))?;
    Ok(json!({
        "name": name,
        "signed_list": hex::encode(&bytes),
        "account_identity_key": hex::encode(signed.account_identity().encode()),
        "version": signed.version(),
        "signed_at_ms": verified.signed_at_ms(),
        "devices": signed.devices().iter().map(entry_json).collect::<Vec<_>>(),
        "send_checks": checks.iter().map(|&now| json!({
            "now_ms": now,
            "device_ids": verified.devices_to_send(now).iter().map(|e| e.device_id).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    }))
}

fn companion(rng: &mut impl hush_core::rng::CryptoRng, device_id: u32, at: u64) -> DeviceEntry {
    DeviceEntry {
        device_id,
        identity_key: IdentityKeyPair::generate(rng).identity_key(),
        key_index: 1,
        added_at_ms: at,
    }
}

/// Lists one contact verifies in order: (account address, signed list).
type Steps = Vec<(String, Vec<u8>)>;

/// `device_lists.json`.
pub(crate) fn generate_device_lists() -> Result<Generated, String> {
    let mut rng = test_rng(501);
    let alice = key_pair(draw(&mut rng));
    let alice_phone = key_pair(draw(&mut rng));
    let bob = key_pair(draw(&mut rng));
    let mallory = key_pair(draw(&mut rng));
    let policy = DeviceListPolicy::default();
    let roomy = DeviceListPolicy {
        max_companions: 16,
        ..policy
    };
    let err = |e: hush_device::Error| e.to_string();

    // Alice's lists as her primary changes them.
    let mut list = DeviceList::new(
        alice.identity_key(),
        alice_phone.identity_key(),
        1,
        NOW_MS,
        policy,
    );
    let v1 = list.sign(&alice, NOW_MS, &mut rng).map_err(err)?;
    let desktop = companion(&mut rng, list.next_device_id(), NOW_MS + 1_000);
    let before_desktop = list.clone();
    list.add_companion(desktop).map_err(err)?;
    let v2 = list.sign(&alice, NOW_MS + 2_000, &mut rng).map_err(err)?;
    let v2_resigned = SignedDeviceList::decode(&sign_list(
        &alice,
        &LIST_PREFIX,
        head(&v2.encode(), v2.encode().len() - 64),
        &mut rng,
    ))
    .map_err(err)?;
    let mut fork = before_desktop;
    fork.add_companion(companion(&mut rng, 2, NOW_MS + 1_500))
        .map_err(err)?;
    let v2_fork = fork.sign(&alice, NOW_MS + 2_500, &mut rng).map_err(err)?;
    let tablet = companion(&mut rng, list.next_device_id(), NOW_MS + 3_000);
    list.add_companion(tablet).map_err(err)?;
    let v3 = list.sign(&alice, NOW_MS + 4_000, &mut rng).map_err(err)?;
    list.remove(2).map_err(err)?;
    let v4 = list.sign(&alice, NOW_MS + 5_000, &mut rng).map_err(err)?;
    // Bob's account key is also his primary's key.
    let mut bobs = DeviceList::new(bob.identity_key(), bob.identity_key(), 3, NOW_MS, policy);
    let bob_v1 = bobs.sign(&bob, NOW_MS, &mut rng).map_err(err)?;
    // Mallory's list claiming Alice's address.
    let mut mallorys = DeviceList::new(
        mallory.identity_key(),
        mallory.identity_key(),
        1,
        NOW_MS,
        policy,
    );
    for _ in 0..5 {
        mallorys.sign(&mallory, NOW_MS, &mut rng).map_err(err)?;
    }
    let mallory_v6 = mallorys
        .sign(&mallory, NOW_MS + 6_000, &mut rng)
        .map_err(err)?;
    // Five companions: within the parser's limit, beyond the default policy.
    let mut crowded = DeviceList::new(
        alice.identity_key(),
        alice_phone.identity_key(),
        1,
        NOW_MS,
        roomy,
    );
    for _ in 0..5 {
        let entry = companion(&mut rng, crowded.next_device_id(), NOW_MS + 10);
        crowded.add_companion(entry).map_err(err)?;
    }
    let crowded_signed = crowded.sign(&alice, NOW_MS + 20, &mut rng).map_err(err)?;
    let mut full = DeviceList::new(
        alice.identity_key(),
        alice_phone.identity_key(),
        1,
        NOW_MS,
        roomy,
    );
    for _ in 0..4 {
        let entry = companion(&mut rng, full.next_device_id(), NOW_MS + 10);
        full.add_companion(entry).map_err(err)?;
    }
    let four = full.sign(&alice, NOW_MS + 30, &mut rng).map_err(err)?;

    // This module's writer agrees with hush-device on every valid list.
    for signed in [&v1, &v2, &v3, &v4, &bob_v1, &crowded_signed, &four] {
        let bytes = signed.encode();
        let entries: Vec<Entry> = signed.devices().iter().map(Entry::from).collect();
        let signed_at = u64::from_be_bytes(
            bytes
                .get(42..50)
                .and_then(|b| b.try_into().ok())
                .ok_or("short list")?,
        );
        let ours = write_list(
            &signed.account_identity().encode(),
            signed.version(),
            signed_at,
            &entries,
            None,
        );
        expect_bytes("list bytes", &ours, head(&bytes, bytes.len() - 64))?;
    }

    let day = 86_400_000;
    let valid = vec![
        list_json("primary_only", &v1, &[NOW_MS, NOW_MS + 30 * day])?,
        list_json(
            "one_companion",
            &v2,
            &[
                NOW_MS + 2_000,
                NOW_MS + 2_000 + COMPANION_EXPIRY_MS,
                NOW_MS + 2_001 + COMPANION_EXPIRY_MS,
            ],
        )?,
        list_json("two_companions", &v3, &[NOW_MS + 5_000, NOW_MS + 15 * day])?,
        list_json("companion_removed", &v4, &[NOW_MS + 5_000])?,
        list_json("account_key_is_the_primary_key", &bob_v1, &[NOW_MS])?,
        list_json("four_companions", &four, &[NOW_MS + 30])?,
    ];

    // Malformed and forged lists, each verified by a fresh contact.
    let good = v3.encode();
    let good_list = head(&good, good.len() - 64);
    let alice_key = alice.identity_key().encode();
    let entries: Vec<Entry> = v3.devices().iter().map(Entry::from).collect();
    let signed_at = NOW_MS + 4_000;
    let mut invalid_lists: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("version_2", [&[2u8][..], tail(&good, 1)].concat()),
        ("header_only", head(&good, 51).to_vec()),
        ("truncated", head(&good, good.len() - 1).to_vec()),
        ("trailing_byte", [&good[..], &[0u8][..]].concat()),
        ("account_key_type_6", with_byte(&good, 1, 6)),
        ("signature_flipped", flip(&good, good.len() - 10)),
        ("list_bytes_changed", flip(&good, 51 + 49 + 45)),
        (
            "signed_without_prefix",
            sign_list(&alice, &[], good_list, &mut rng),
        ),
        (
            "signed_with_the_account_signature_prefix",
            sign_list(&alice, &ACCOUNT_PREFIX, good_list, &mut rng),
        ),
        (
            "signed_by_another_key",
            sign_list(&mallory, &LIST_PREFIX, good_list, &mut rng),
        ),
        ("five_companions", crowded_signed.encode()),
    ];
    let mut with_entries = |name: &'static str, entries: Vec<Entry>, count: Option<u8>| {
        let list = write_list(&alice_key, 9, signed_at, &entries, count);
        invalid_lists.push((name, sign_list(&alice, &LIST_PREFIX, &list, &mut rng)));
    };
    with_entries("count_0", Vec::new(), None);
    with_entries("count_says_2_holds_3", entries.clone(), Some(2));
    let mut eighteen = entries.clone();
    for id in 4..=18u32 {
        eighteen.push(Entry {
            device_id: id,
            identity_key: key_pair([u8::try_from(id).unwrap_or(0); 32])
                .identity_key()
                .encode()
                .to_vec(),
            key_index: 1,
            added_at_ms: NOW_MS,
        });
    }
    with_entries("eighteen_devices", eighteen, None);
    let mut no_primary = entries.clone();
    no_primary.remove(0);
    with_entries("first_entry_not_device_1", no_primary, None);
    let mut swapped = entries.clone();
    swapped.swap(1, 2);
    with_entries("device_ids_not_increasing", swapped, None);
    let mut same_id = entries.clone();
    if let Some(e) = same_id.get_mut(2) {
        e.device_id = 2;
    }
    with_entries("device_id_twice", same_id, None);
    let mut same_key = entries.clone();
    if let (Some(key), Some(e)) = (
        entries.get(1).map(|e| e.identity_key.clone()),
        same_key.get_mut(2),
    ) {
        e.identity_key = key;
    }
    with_entries("identity_key_twice", same_key, None);
    let mut bad_type = entries.clone();
    if let Some(b) = bad_type.get_mut(1).and_then(|e| e.identity_key.first_mut()) {
        *b = 6;
    }
    with_entries("entry_key_type_6", bad_type, None);

    let mut invalid = Vec::new();
    for (name, bytes) in invalid_lists {
        let got = outcome(&KnownDeviceLists::new(policy).verify(b"alice", &bytes));
        if got == "ok" {
            return Err(format!("device list case {name} verified"));
        }
        invalid.push(json!({ "name": name, "signed_list": hex::encode(&bytes), "error": got }));
    }

    // Sequences one contact sees.
    let a = |l: &SignedDeviceList| ("alice".to_owned(), l.encode());
    let to = |address: &str, bytes: Vec<u8>| (address.to_owned(), bytes);
    let sequences_plan: Vec<(&str, Steps)> = vec![
        (
            "versions_grow",
            vec![a(&v1), a(&v2), a(&v2), a(&v2_resigned), a(&v3), a(&v4)],
        ),
        ("versions_may_be_skipped", vec![a(&v1), a(&v4)]),
        ("rollback", vec![a(&v3), a(&v2), a(&v1), a(&v3), a(&v4)]),
        ("equivocation", vec![a(&v2), a(&v2_fork), a(&v2), a(&v3)]),
        (
            "identity_change",
            vec![a(&v2), to("alice", mallory_v6.encode()), a(&v3)],
        ),
        (
            "addresses_are_separate",
            vec![
                a(&v3),
                to("bob", bob_v1.encode()),
                to("mallory", mallory_v6.encode()),
                to("bob", v1.encode()),
                a(&v4),
            ],
        ),
        (
            "errors_leave_no_trace",
            vec![
                to("alice", flip(&v3.encode(), 200)),
                a(&v1),
                to("alice", crowded_signed.encode()),
                a(&v2),
            ],
        ),
        (
            "account_address_bounds",
            vec![
                to("", v1.encode()),
                to(&"a".repeat(64), v1.encode()),
                to(&"a".repeat(65), v1.encode()),
            ],
        ),
    ];
    let mut sequences = Vec::new();
    for (name, steps) in sequences_plan {
        let mut verifier = KnownDeviceLists::new(policy);
        let steps: Vec<Value> = steps
            .iter()
            .map(|(address, bytes)| {
                json!({
                    "address": address,
                    "signed_list": hex::encode(bytes),
                    "result": outcome(&verifier.verify(address.as_bytes(), bytes)),
                })
            })
            .collect();
        sequences.push(json!({ "name": name, "steps": steps }));
    }

    let file = json!({
        "description": "hush signed device list vectors (docs/wire/device-list.md): valid signed lists with their fields and the devices a contact may send to at given times; invalid lists with the error a fresh KnownDeviceLists gives; sequences of lists one contact verifies in order, with each result (Rust Debug form of the error, or ok)",
        "format_version": 1,
        "policy": { "max_companions": policy.max_companions, "companion_expiry_ms": policy.companion_expiry_ms },
        "valid": valid,
        "invalid": invalid,
        "sequences": sequences,
    });
    let contents = serde_json::to_string_pretty(&file).map_err(|e| e.to_string())? + "\n";
    Ok(Generated {
        contents,
        readme_section: LISTS_README.to_owned(),
    })
}

const LISTS_README: &str = "\
Signed device lists (`docs/wire/device-list.md`), all verified under the default policy listed \
in `policy` (4 companions, 14-day companion expiry). `valid`: signed lists with the account key, \
version, signing time and entries spelled out, and `send_checks` (the device ids a contact may \
send to at a given time: companions drop out once the list is older than the expiry). \
`invalid`: lists a fresh contact must refuse, with the error (`Malformed(\"device list\")`, \
`UnknownVersion(2)`, `BadSignature` for changed bytes, a wrong or missing `06 02` prefix or \
another signer, `TooManyCompanions { max: 4 }`). `sequences`: lists one contact verifies in \
order for account addresses, with each result: `Rollback { seen, received }`, \
`Equivocation { version }`, `IdentityChanged`, `Malformed(\"account address\")`, or `ok`; a \
refused list leaves nothing behind.

Made by `hush vectors generate` from seeded RNGs with hush-device's `DeviceList`; malformed and \
forged lists are laid out and signed by the generator's own writer (hush-core XEdDSA), which \
must first reproduce hush-device's bytes for every valid list. `hush vectors check` decodes and \
verifies every list with hush-device. **Cross-checked independently** by \
`check_device_vectors.py`, which parses each list by the documented offsets, verifies the \
XEdDSA signatures and keeps its own per-address memory (version and HMAC digest) to compute \
every verdict. `crates/hush-device/tests/vectors.rs` runs the script.";

fn check_valid_list(case: &Value, policy: DeviceListPolicy) -> Result<(), String> {
    let bytes = hex_field(case, "signed_list")?;
    let signed = SignedDeviceList::decode(&bytes).map_err(|e| format!("hush refused it: {e}"))?;
    expect(signed.encode() == bytes, || {
        "re-encoding differs".to_owned()
    })?;
    let verified = KnownDeviceLists::new(policy)
        .verify(b"vectors", &bytes)
        .map_err(|e| format!("hush refused it: {e}"))?;
    expect_bytes(
        "account_identity_key",
        &verified.account_identity().encode(),
        &hex_field(case, "account_identity_key")?,
    )?;
    expect(verified.version() == number(case, "version")?, || {
        format!("version: hush gave {}", verified.version())
    })?;
    expect(
        verified.signed_at_ms() == number(case, "signed_at_ms")?,
        || format!("signed_at_ms: hush gave {}", verified.signed_at_ms()),
    )?;
    let devices: Vec<Value> = verified.devices().iter().map(entry_json).collect();
    expect(case.get("devices") == Some(&json!(devices)), || {
        "devices differ".to_owned()
    })?;
    for check in case
        .get("send_checks")
        .and_then(Value::as_array)
        .ok_or("no field send_checks")?
    {
        let now = number(check, "now_ms")?;
        let ids: Vec<u32> = verified
            .devices_to_send(now)
            .iter()
            .map(|e| e.device_id)
            .collect();
        expect(check.get("device_ids") == Some(&json!(ids)), || {
            format!("devices_to_send({now}): hush gave {ids:?}")
        })?;
    }
    Ok(())
}

fn check_sequence(case: &Value, policy: DeviceListPolicy) -> Result<(), String> {
    let mut verifier = KnownDeviceLists::new(policy);
    let steps = case
        .get("steps")
        .and_then(Value::as_array)
        .ok_or("no field steps")?;
    for (index, step) in steps.iter().enumerate() {
        let got = outcome(&verifier.verify(
            text(step, "address")?.as_bytes(),
            &hex_field(step, "signed_list")?,
        ));
        let want = text(step, "result")?;
        expect(got == want, || {
            format!("step {index}: hush gave {got}, expected {want}")
        })?;
    }
    Ok(())
}

/// Checks `device_lists.json`.
pub(crate) fn check_device_lists(path: &Path, report: &mut Report) {
    #[derive(Deserialize)]
    struct PolicyFields {
        max_companions: usize,
        companion_expiry_ms: u64,
    }
    #[derive(Deserialize)]
    struct File {
        policy: PolicyFields,
        valid: Vec<Value>,
        invalid: Vec<Value>,
        sequences: Vec<Value>,
    }
    let file: File = match read_json(path) {
        Ok(file) => file,
        Err(what) => return report.unreadable(path, &what),
    };
    if file.valid.is_empty() || file.invalid.is_empty() || file.sequences.is_empty() {
        return report.unreadable(path, "needs valid, invalid and sequence cases");
    }
    let policy = DeviceListPolicy {
        max_companions: file.policy.max_companions,
        companion_expiry_ms: file.policy.companion_expiry_ms,
    };
    let name_of = |case: &Value| {
        case.get("name")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned()
    };
    for (index, case) in file.valid.iter().enumerate() {
        report.case(
            path,
            &format!("valid {index} ({})", name_of(case)),
            check_valid_list(case, policy),
        );
    }
    for (index, case) in file.invalid.iter().enumerate() {
        let result = hex_field(case, "signed_list").and_then(|bytes| {
            let got = outcome(&KnownDeviceLists::new(policy).verify(b"alice", &bytes));
            let want = text(case, "error")?;
            expect(got == want, || format!("hush gave {got}, expected {want}"))
        });
        report.case(
            path,
            &format!("invalid {index} ({})", name_of(case)),
            result,
        );
    }
    for (index, case) in file.sequences.iter().enumerate() {
        report.case(
            path,
            &format!("sequence {index} ({})", name_of(case)),
            check_sequence(case, policy),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_self_consistent() {
        let linking = generate_linking().unwrap();
        assert_eq!(linking.contents, generate_linking().unwrap().contents);
        let lists = generate_device_lists().unwrap();
        assert_eq!(lists.contents, generate_device_lists().unwrap().contents);

        let dir = std::env::temp_dir().join(format!("hush-device-vectors-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let linking_path = dir.join("linking.json");
        let lists_path = dir.join("device_lists.json");
        std::fs::write(&linking_path, &linking.contents).unwrap();
        std::fs::write(&lists_path, &lists.contents).unwrap();
        let mut report = Report::default();
        check_linking(&linking_path, &mut report);
        check_device_lists(&lists_path, &mut report);
        assert_eq!(report.failed, 0);
        assert!(report.passed >= 80, "{}", report.passed);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_changed_byte_fails_the_runner() {
        let linking = generate_linking().unwrap();
        let mut file: Value = serde_json::from_str(&linking.contents).unwrap();
        let hash = file["valid"][0]["transcript_hash"]
            .as_str()
            .unwrap()
            .to_owned();
        let last = if hash.ends_with('0') { "1" } else { "0" };
        file["valid"][0]["transcript_hash"] = json!(format!("{}{last}", &hash[..63]));
        file["invalid"][0]["error"] = json!("Expired");
        let dir =
            std::env::temp_dir().join(format!("hush-device-vectors-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("linking.json");
        std::fs::write(&path, file.to_string()).unwrap();
        let mut report = Report::default();
        check_linking(&path, &mut report);
        assert_eq!(report.failed, 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
