//! Generating `linking.json`: the valid transcripts and the invalid cases.

use std::fmt::Write as _;

use hush_core::PrivateKey;
use hush_core::kdf::hkdf_sha256_array;
use hush_test_support::test_rng;
use serde_json::{Value, json};

use super::{
    ACCOUNT_PREFIX, DEVICE_PREFIX, GRACE_MS, Generated, HISTORY_CHUNK_SIZE, LIFETIME_MS,
    LINKING_MAC_KEY, MessageParts, NOW_MS, Transcript, TranscriptInputs, VERSION, by_name,
    countersign_key, derive, draw, entry_json, expect_bytes, flip, head, history_key,
    history_stream, key_pair, membership_bytes, metadata_bytes, run_linking_case, run_transcript,
    seal_countersignature, seal_message, sub, tail, transcript_hash, unhex, with_byte,
};

// ---------------------------------------------------------------------------------------
// Linking: generation.

struct Plan {
    name: &'static str,
    seed: u64,
    reference: Vec<u8>,
    accept_after_ms: u64,
    receive_after_ms: u64,
    finish_after_ms: u64,
    user_id: Vec<u8>,
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
    let countersign_random: [u8; 128] = draw(&mut rng);
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
        user_id: hex::encode(&plan.user_id),
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
        &seal_countersignature(
            &cs_key,
            &transcript.device_signature,
            &transcript.membership_signature,
        ),
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
        "user_id": i.user_id,
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
        "membership_signature": hex::encode(t.membership_signature),
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

/// An offer laid out from its fields, for malformed offers.
fn offer_bytes(
    eph_c: &[u8],
    secret: &[u8],
    identity: &[u8],
    expiry: u64,
    reference: &[u8],
) -> Vec<u8> {
    [
        &[VERSION][..],
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
            user_id: b"alice".to_vec(),
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
            user_id: (0u8..64).map(|b| b'a' + b % 26).collect(),
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
            user_id: b"z".to_vec(),
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
        "text_of_a_version_1_offer",
        "parse_offer_text",
        json!({ "qr_text": hush_device::base45::encode(&[&[1u8][..], tail(&t.offer, 1)].concat()) }),
    );
    let secret = sub(&t.offer, 33, 65)?;
    let eph_c = sub(&t.offer, 1, 33)?;
    let companion_bytes = companion_key.encode();
    let reference = unhex("server_reference", &base.inputs.server_reference)?;
    let offers: Vec<(&str, Vec<u8>)> = vec![
        ("offer_empty", Vec::new()),
        ("offer_version_1", [&[1u8][..], tail(&t.offer, 1)].concat()),
        ("offer_version_3", [&[3u8][..], tail(&t.offer, 1)].concat()),
        // X25519 ignores the top bit: a replay with it flipped must not be a new offer.
        (
            "offer_ephemeral_key_top_bit_set",
            with_byte(&t.offer, 32, t.offer.get(32).copied().unwrap_or(0) | 0x80),
        ),
        (
            "offer_ephemeral_key_not_below_p",
            offer_bytes(
                &[&[0xed][..], &[0xff; 30], &[0x7f]].concat(),
                secret,
                &companion_bytes,
                expiry,
                &reference,
            ),
        ),
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
    // A hand-made offer valid for longer than a companion may ask (a phishing QR code).
    for (name, expires) in [
        ("accept_lifetime_at_the_limit", NOW_MS + 600_000 + 60_000),
        ("accept_lifetime_too_long", NOW_MS + 600_000 + 60_000 + 1),
        ("accept_never_expires", u64::MAX),
    ] {
        let offer = offer_bytes(eph_c, secret, &companion_bytes, expires, &reference);
        add(
            name,
            "accept",
            accept(NOW_MS, 2, false, &hex::encode(offer)),
        );
    }
    for (name, user) in [
        ("accept_user_id_empty", Vec::new()),
        ("accept_user_id_65_bytes", vec![b'u'; 65]),
    ] {
        let mut case = accept(NOW_MS, 2, false, &offer_hex);
        if let Value::Object(o) = &mut case {
            o.insert("user_id".into(), json!(hex::encode(user)));
        }
        add(name, "accept", case);
    }
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
    let other_reference = metadata_bytes(2, 1, NOW_MS + 5_000, b"relay-ref-0042ac", b"alice");
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
    // The metadata names another user than the account signed (a relabelling).
    let carol = metadata_bytes(2, 1, NOW_MS + 5_000, &reference, b"carol");
    add(
        "receive_metadata_names_another_user",
        "receive",
        receive(
            &sealed(&MessageParts {
                metadata: &carol,
                ..good_parts()
            })?,
            received,
        ),
    );
    let no_user = metadata_bytes(2, 1, NOW_MS + 5_000, &reference, b"");
    let signed_no_user = t.account.sign(
        &[&ACCOUNT_PREFIX[..], &no_user, &companion_bytes].concat(),
        &mut rng,
    );
    add(
        "receive_contents_user_id_length_0",
        "receive",
        receive(
            &sealed(&MessageParts {
                metadata: &no_user,
                signature: signed_no_user.as_bytes(),
                ..good_parts()
            })?,
            received,
        ),
    );
    let primary_id = metadata_bytes(1, 1, NOW_MS + 5_000, &reference, b"alice");
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
    let member = t.membership_signature;
    let mut bad_device = t.device_signature;
    bad_device[3] ^= 0x01;
    add(
        "finish_device_signature_flipped",
        "finish",
        finish(
            &seal_countersignature(&cs_key, &bad_device, &member),
            NOW_MS + 7_000,
        ),
    );
    // The membership signature: flipped, for another user id, for another device id,
    // by the account key instead of the companion's.
    let mut bad_member = member;
    bad_member[3] ^= 0x01;
    let mut membership = |signer: &hush_core::IdentityKeyPair, user: &[u8], device_id: u32| {
        *signer
            .sign(&membership_bytes(&account_key, user, device_id), &mut rng)
            .as_bytes()
    };
    let other_user = membership(&t.companion, b"carol", 2);
    let other_device = membership(&t.companion, b"alice", 3);
    let by_account_key = membership(&t.account, b"alice", 2);
    for (name, sig) in [
        ("finish_membership_signature_flipped", bad_member),
        ("finish_membership_for_another_user", other_user),
        ("finish_membership_for_another_device_id", other_device),
        ("finish_membership_by_the_account_key", by_account_key),
    ] {
        add(
            name,
            "finish",
            finish(
                &seal_countersignature(&cs_key, &t.device_signature, &sig),
                NOW_MS + 7_000,
            ),
        );
    }
    let device_body = [&t.metadata[..], &companion_bytes, &account_key.encode()].concat();
    let wrong_prefix = t
        .companion
        .sign(&[&ACCOUNT_PREFIX[..], &device_body].concat(), &mut rng);
    add(
        "finish_device_signature_wrong_prefix",
        "finish",
        finish(
            &seal_countersignature(&cs_key, wrong_prefix.as_bytes(), &member),
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
            &seal_countersignature(&cs_key, by_account.as_bytes(), &member),
            NOW_MS + 7_000,
        ),
    );

    // Wire forms of the two messages.
    for (name, bytes) in [
        ("message_empty", Vec::new()),
        ("message_version_1", [&[1u8][..], tail(m, 1)].concat()),
        ("message_197_bytes", vec![VERSION; 197]),
        ("message_325_bytes", vec![VERSION; 325]),
        (
            "message_ephemeral_key_top_bit_set",
            with_byte(m, 32, m.get(32).copied().unwrap_or(0) | 0x80),
        ),
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
            "countersignature_version_1",
            [&[1u8][..], tail(cs, 1)].concat(),
        ),
        ("countersignature_144_bytes", head(cs, 144).to_vec()),
        ("countersignature_146_bytes", [&cs[..], &[0u8][..]].concat()),
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
        "format_version": 2,
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
Device linking (`docs/wire/linking.md`, version 2). `valid`: complete linkings (companion offer, \
QR text, linking message whose signed metadata names the account's `user_id`, countersignature \
carrying the device and membership signatures, the resulting device-list entry) with every \
random input hush-device drew (`companion_random` = ephemeral key seed 32 || linking secret 32, \
`primary_random` = ephemeral key seed 32 || signature randomness 64, `countersign_random` = the \
device signature's randomness 64 || the membership signature's randomness 64), the clamped \
ephemeral private keys, the intermediate keys (`offer_public_hash`, `message_key`, `mac_key`, \
`countersignature_key`), the transcript hash, the history key, and a `hush-backup` history \
stream (1 KiB chunks, context = transcript hash) with its plaintext. The identity private keys \
are test keys. `invalid`: one step each (`parse_offer_text`, `parse_offer`, `accept`, \
`receive`, `finish`, `parse_linking_message`, `parse_countersignature`, `history`), mostly \
against the `typical` transcript named in `base` (an `accept` case may name its own \
`user_id`), with the result hush-device gives in Rust `Debug` form (`Expired`, `Tampered`, \
`WrongLinkingSecret`, `BadSignature`, `Malformed(\"...\")`, ...; `ok` for the two inputs at \
a limit that must pass: QR text with surrounding whitespace, an offer expiring exactly at the \
longest lifetime plus the clock-skew allowance).

Made by `hush vectors generate` from seeded RNGs (identical on every run), replaying the drawn \
bytes into hush-device. Forged messages and countersignatures are sealed by the generator's own \
code from hush-core primitives, which must first reproduce hush-device's bytes for every valid \
transcript. `hush vectors check` replays every transcript and compares every byte. \
**Cross-checked independently** by `check_device_vectors.py` (Python 3, standard library, \
written from `docs/wire/linking.md`, `docs/wire/device-list.md` and `docs/wire/backup.md`, using \
`../tools/hushpy.py` for AES-GCM, HKDF, X25519 and Base45 and the XEdDSA verifier of \
`../prekey/check_prekey_vectors.py`): it re-derives every key from the private ephemeral keys, \
decrypts each linking message and countersignature, checks the MACs, signatures (membership \
signature included), transcript hash, history key and the history stream, and computes every \
invalid case's error. `crates/hush-device/tests/vectors.rs` runs the script.";
