//! The public API: every error, the rule that a refused message changes nothing,
//! rotation, and `Debug` output that shows no secret.

// Helpers outside `#[test]` functions build fixed inputs: a failure there is a test failure.
// Hand-built wire bytes truncate small lengths and ids to bytes on purpose.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

use hush_group::{
    DistributionId, Error, SenderKeyDistributionMessage, SenderKeyMessage, SenderKeyRecord,
};
use hush_test_support::{ReplayRng, test_rng};

fn id(byte: u8) -> DistributionId {
    DistributionId::from_bytes([byte; 16])
}

fn sender_and_receiver(
    seed: u64,
) -> (
    SenderKeyRecord,
    SenderKeyRecord,
    SenderKeyDistributionMessage,
) {
    let mut sender = SenderKeyRecord::new(id(1));
    let skdm = sender.create_distribution(&mut test_rng(seed));
    let mut receiver = SenderKeyRecord::new(id(1));
    receiver.process_distribution(&skdm).unwrap();
    (sender, receiver, skdm)
}

// Hand-written protobuf, to build inputs the API would never produce.
fn varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn bytes_field(tag: u8, data: &[u8], out: &mut Vec<u8>) {
    out.push((tag << 3) | 2);
    varint(data.len() as u64, out);
    out.extend_from_slice(data);
}

fn u32_field(tag: u8, value: u32, out: &mut Vec<u8>) {
    out.push(tag << 3);
    varint(u64::from(value), out);
}

#[derive(Clone, Copy)]
enum Field<'a> {
    Bytes(u8, &'a [u8]),
    U32(u8, u32),
}

fn proto(fields: &[Field<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for field in fields {
        match *field {
            Field::Bytes(tag, data) => bytes_field(tag, data, &mut out),
            Field::U32(tag, value) => u32_field(tag, value, &mut out),
        }
    }
    out
}

fn without(fields: &[Field<'static>], skip: usize) -> Vec<Field<'static>> {
    fields
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != skip)
        .map(|(_, f)| *f)
        .collect()
}

const UUID: &[u8] = &[7; 16];
const CIPHERTEXT: &[u8] = &[1; 16];
const CHAIN_KEY: &[u8] = &[2; 32];
const SIGNING_KEY: &[u8] = &[
    5, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9,
    9,
];

fn message_fields() -> Vec<Field<'static>> {
    vec![
        Field::Bytes(1, UUID),
        Field::U32(2, 5),
        Field::U32(3, 0),
        Field::Bytes(4, CIPHERTEXT),
    ]
}

fn distribution_fields() -> Vec<Field<'static>> {
    vec![
        Field::Bytes(1, UUID),
        Field::U32(2, 5),
        Field::U32(3, 0),
        Field::Bytes(4, CHAIN_KEY),
        Field::Bytes(5, SIGNING_KEY),
    ]
}

fn framed_message(version: u8, proto: &[u8]) -> Vec<u8> {
    let mut out = vec![version];
    out.extend_from_slice(proto);
    out.extend_from_slice(&[0; 64]);
    out
}

fn framed_distribution(version: u8, proto: &[u8]) -> Vec<u8> {
    let mut out = vec![version];
    out.extend_from_slice(proto);
    out
}

#[test]
fn message_decoder_checks_length_version_and_fields() {
    let good = framed_message(0x33, &proto(&message_fields()));
    let message = SenderKeyMessage::decode(&good).unwrap();
    assert_eq!(
        (
            message.distribution_id(),
            message.chain_id(),
            message.iteration(),
            message.ciphertext()
        ),
        (DistributionId::from_bytes([7; 16]), 5, 0, CIPHERTEXT)
    );
    assert_eq!(message.as_bytes(), &good[..]);

    for len in 0..65 {
        assert_eq!(
            SenderKeyMessage::decode(&good[..len.min(good.len())]).unwrap_err(),
            Error::Malformed("sender key message"),
            "length {len}"
        );
    }
    for (byte, version) in [(0x23, 2), (0x43, 4), (0x03, 0), (0xf3, 15)] {
        let bad = framed_message(byte, &proto(&message_fields()));
        assert_eq!(
            SenderKeyMessage::decode(&bad).unwrap_err(),
            Error::UnknownVersion(version)
        );
    }
    // libsignal reads only the high nibble; so does hush.
    assert_eq!(
        SenderKeyMessage::decode(&framed_message(0x34, &proto(&message_fields())))
            .unwrap()
            .message_version(),
        3
    );

    for skip in 0..4 {
        let bad = framed_message(0x33, &proto(&without(&message_fields(), skip)));
        assert_eq!(
            SenderKeyMessage::decode(&bad).unwrap_err(),
            Error::Malformed("sender key message"),
            "field {skip}"
        );
    }
    let mut short_uuid = message_fields();
    short_uuid[0] = Field::Bytes(1, &[7; 15]);
    let bad = framed_message(0x33, &proto(&short_uuid));
    assert_eq!(
        SenderKeyMessage::decode(&bad).unwrap_err(),
        Error::Malformed("sender key message")
    );
    let bad = framed_message(0x33, &[0x0a, 0xff, 0xff]);
    assert_eq!(
        SenderKeyMessage::decode(&bad).unwrap_err(),
        Error::Malformed("sender key message")
    );
}

#[test]
fn distribution_decoder_checks_length_version_and_fields() {
    let good = framed_distribution(0x33, &proto(&distribution_fields()));
    let skdm = SenderKeyDistributionMessage::decode(&good).unwrap();
    assert_eq!((skdm.chain_id(), skdm.iteration()), (5, 0));
    assert_eq!(skdm.signing_key().encode().as_slice(), SIGNING_KEY);
    assert_eq!(skdm.as_bytes(), &good[..]);

    let what = Error::Malformed("sender key distribution message");
    for len in 0..65 {
        assert_eq!(
            SenderKeyDistributionMessage::decode(&good[..len]).unwrap_err(),
            what,
            "length {len}"
        );
    }
    for (byte, version) in [(0x23, 2), (0x43, 4)] {
        let bad = framed_distribution(byte, &proto(&distribution_fields()));
        assert_eq!(
            SenderKeyDistributionMessage::decode(&bad).unwrap_err(),
            Error::UnknownVersion(version)
        );
    }
    for skip in 0..5 {
        let mut fields = without(&distribution_fields(), skip);
        // Keep the input long enough that the missing field, not the length, is the fault.
        fields.push(Field::Bytes(15, &[0; 40]));
        let bad = framed_distribution(0x33, &proto(&fields));
        assert_eq!(
            SenderKeyDistributionMessage::decode(&bad).unwrap_err(),
            what,
            "field {skip}"
        );
    }
    let mut wrong_type_key = SIGNING_KEY.to_vec();
    wrong_type_key[0] = 6;
    let wrong_type_key: &'static [u8] = wrong_type_key.leak();
    for (index, field) in [
        (0, Field::Bytes(1, &[7; 17])),
        (3, Field::Bytes(4, &[2; 31])),
        (3, Field::Bytes(4, &[2; 33])),
        (4, Field::Bytes(5, &SIGNING_KEY[..32])),
        (4, Field::Bytes(5, wrong_type_key)),
    ] {
        let mut fields = distribution_fields();
        fields[index] = field;
        let bad = framed_distribution(0x33, &proto(&fields));
        assert_eq!(
            SenderKeyDistributionMessage::decode(&bad).unwrap_err(),
            what
        );
    }
}

#[test]
fn decrypt_errors_name_what_to_do() {
    let (mut sender, mut receiver, skdm) = sender_and_receiver(1);
    let message = sender.encrypt(b"hi", &mut test_rng(2)).unwrap();

    let mut elsewhere = SenderKeyRecord::new(id(2));
    assert_eq!(
        elsewhere.decrypt(&message).unwrap_err(),
        Error::WrongDistribution {
            expected: id(2),
            actual: id(1)
        }
    );
    assert_eq!(
        elsewhere.process_distribution(&skdm).unwrap_err(),
        Error::WrongDistribution {
            expected: id(2),
            actual: id(1)
        }
    );
    assert!(elsewhere.is_empty());

    let mut empty = SenderKeyRecord::new(id(1));
    let no_state = Error::NoSenderKeyState {
        distribution_id: id(1),
        chain_id: skdm.chain_id(),
    };
    assert_eq!(empty.decrypt(&message).unwrap_err(), no_state);
    assert_eq!(
        no_state.to_string(),
        format!(
            "no sender key state for distribution 01010101-0101-0101-0101-010101010101, chain {}",
            skdm.chain_id()
        )
    );

    // A record holding only another chain of the same sender.
    let mut other = SenderKeyRecord::new(id(1));
    other
        .process_distribution(&SenderKeyRecord::new(id(1)).create_distribution(&mut test_rng(3)))
        .unwrap();
    assert_eq!(other.decrypt(&message).unwrap_err(), no_state);

    assert_eq!(&*receiver.decrypt(&message).unwrap(), b"hi");
    assert_eq!(
        receiver.decrypt(&message).unwrap_err(),
        Error::DuplicateMessage {
            chain_id: skdm.chain_id(),
            iteration: 0
        }
    );

    let mut receiving_only = receiver.clone();
    assert_eq!(
        receiving_only.encrypt(b"x", &mut test_rng(0)).unwrap_err(),
        Error::NoSendingChain {
            distribution_id: id(1)
        }
    );
}

#[test]
fn every_bit_flip_and_truncation_is_refused_without_change() {
    let (mut sender, mut receiver, _) = sender_and_receiver(4);
    let first = sender.encrypt(b"first", &mut test_rng(5)).unwrap();
    let second = sender
        .encrypt(b"second message, longer than a block", &mut test_rng(6))
        .unwrap();
    receiver.decrypt(&first).unwrap();
    let before = receiver.encode();
    let bytes = second.as_bytes().to_vec();

    let mut refused = 0;
    for bit in 0..bytes.len() * 8 {
        let mut flipped = bytes.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        let outcome = SenderKeyMessage::decode(&flipped).and_then(|m| receiver.decrypt(&m));
        match outcome {
            Err(Error::DecryptionFailed | Error::Malformed(_) | Error::UnknownVersion(_)) => {}
            // A flip in the chain id or distribution id finds no chain for it.
            Err(Error::NoSenderKeyState { .. } | Error::WrongDistribution { .. }) => {}
            other => panic!("bit {bit}: {other:?}"),
        }
        assert_eq!(receiver.encode(), before, "bit {bit}");
        refused += 1;
    }
    for len in 0..bytes.len() {
        let outcome = SenderKeyMessage::decode(&bytes[..len]).and_then(|m| receiver.decrypt(&m));
        assert!(outcome.is_err(), "length {len}");
        assert_eq!(receiver.encode(), before, "length {len}");
    }
    assert_eq!(refused, bytes.len() * 8);
    assert_eq!(
        &*receiver.decrypt(&second).unwrap(),
        b"second message, longer than a block"
    );
}

#[test]
fn a_bad_signature_hides_whether_the_iteration_was_seen() {
    let (mut sender, mut receiver, _) = sender_and_receiver(7);
    let message = sender.encrypt(b"once", &mut test_rng(8)).unwrap();
    receiver.decrypt(&message).unwrap();
    let mut forged = message.as_bytes().to_vec();
    *forged.last_mut().unwrap() ^= 0x01;
    let forged = SenderKeyMessage::decode(&forged).unwrap();
    // Not DuplicateMessage: the signature is checked before the iteration.
    assert_eq!(
        receiver.decrypt(&forged).unwrap_err(),
        Error::DecryptionFailed
    );
}

#[test]
fn messages_signed_by_another_key_are_refused() {
    let (_, mut receiver, skdm) = sender_and_receiver(9);
    // Another sender that happens to use the same distribution id and chain id.
    let mut impostor = SenderKeyRecord::new(id(1));
    let mut rng = ReplayRng::new(
        [
            (skdm.chain_id() << 1).to_le_bytes().to_vec(),
            vec![0x55; 128 + 32],
        ]
        .concat(),
    );
    let impostor_skdm = impostor.create_distribution(&mut rng);
    assert_eq!(impostor_skdm.chain_id(), skdm.chain_id());
    let forged = impostor.encrypt(b"trust me", &mut test_rng(10)).unwrap();
    let before = receiver.encode();
    assert_eq!(
        receiver.decrypt(&forged).unwrap_err(),
        Error::DecryptionFailed
    );
    assert_eq!(receiver.encode(), before);
}

#[test]
fn rotation_starts_a_new_chain_and_old_messages_still_decrypt() {
    let (mut sender, mut receiver, first) = sender_and_receiver(11);
    let old_message = sender
        .encrypt(b"before rotation", &mut test_rng(12))
        .unwrap();

    sender.rotate();
    assert_eq!(sender.sending_chain_id(), None);
    assert_eq!(
        sender.encrypt(b"x", &mut test_rng(0)).unwrap_err(),
        Error::NoSendingChain {
            distribution_id: id(1)
        }
    );
    let second = sender.create_distribution(&mut test_rng(13));
    assert_ne!(second.chain_id(), first.chain_id());
    assert_ne!(second.signing_key(), first.signing_key());
    assert_eq!(second.iteration(), 0);
    assert_eq!(sender.chain_ids().collect::<Vec<_>>(), [second.chain_id()]);

    let new_message = sender
        .encrypt(b"after rotation", &mut test_rng(14))
        .unwrap();
    assert_eq!(
        receiver.decrypt(&new_message).unwrap_err(),
        Error::NoSenderKeyState {
            distribution_id: id(1),
            chain_id: second.chain_id()
        }
    );
    receiver.process_distribution(&second).unwrap();
    assert_eq!(&*receiver.decrypt(&new_message).unwrap(), b"after rotation");
    assert_eq!(
        &*receiver.decrypt(&old_message).unwrap(),
        b"before rotation"
    );
}

#[test]
fn processing_the_same_distribution_twice_changes_nothing() {
    let (mut sender, mut receiver, skdm) = sender_and_receiver(15);
    receiver
        .decrypt(&sender.encrypt(b"1", &mut test_rng(1)).unwrap())
        .unwrap();
    let before = receiver.encode();
    receiver.process_distribution(&skdm).unwrap();
    assert_eq!(receiver.encode(), before);
    // A distribution message at a later iteration does not move the chain either.
    let later = sender.create_distribution(&mut test_rng(0));
    assert_eq!(later.iteration(), 1);
    receiver.process_distribution(&later).unwrap();
    assert_eq!(receiver.encode(), before);
}

#[test]
fn a_member_added_later_reads_only_later_messages() {
    let (mut sender, mut early, _) = sender_and_receiver(16);
    let m0 = sender.encrypt(b"m0", &mut test_rng(1)).unwrap();
    let late_skdm = sender.create_distribution(&mut test_rng(0));
    let mut late = SenderKeyRecord::new(id(1));
    late.process_distribution(&late_skdm).unwrap();
    let m1 = sender.encrypt(b"m1", &mut test_rng(2)).unwrap();
    assert_eq!(&*early.decrypt(&m0).unwrap(), b"m0");
    assert_eq!(&*early.decrypt(&m1).unwrap(), b"m1");
    assert!(matches!(
        late.decrypt(&m0),
        Err(Error::DuplicateMessage { iteration: 0, .. })
    ));
    assert_eq!(&*late.decrypt(&m1).unwrap(), b"m1");
}

#[test]
fn encoded_records_round_trip_and_keep_working() {
    let (mut sender, mut receiver, _) = sender_and_receiver(17);
    let messages: Vec<_> = (0..6u64)
        .map(|i| sender.encrypt(&[i as u8; 20], &mut test_rng(i)).unwrap())
        .collect();
    receiver.decrypt(&messages[4]).unwrap();

    let sender_bytes = sender.encode();
    let mut sender_again = SenderKeyRecord::decode(&sender_bytes).unwrap();
    assert_eq!(sender_again.encode(), sender_bytes);
    let receiver_bytes = receiver.encode();
    let mut receiver_again = SenderKeyRecord::decode(&receiver_bytes).unwrap();
    assert_eq!(receiver_again.encode(), receiver_bytes);

    // Both copies behave the same from here on.
    for index in [1, 0, 5, 3, 2] {
        let a = receiver.decrypt(&messages[index]).unwrap();
        let b = receiver_again.decrypt(&messages[index]).unwrap();
        assert_eq!(a, b);
    }
    let next_a = sender.encrypt(b"next", &mut test_rng(99)).unwrap();
    let next_b = sender_again.encrypt(b"next", &mut test_rng(99)).unwrap();
    assert_eq!(next_a, next_b);
}

#[test]
fn replayed_creation_draws_exactly_libsignals_bytes() {
    // 4 (chain id) + 128 (32 u32 draws) + 32 (signing key): anything short overruns.
    let mut short = ReplayRng::new(vec![3; 163]);
    SenderKeyRecord::new(id(1)).create_distribution(&mut short);
    assert!(short.overrun());
    let mut exact = ReplayRng::new(vec![3; 164]);
    let skdm = SenderKeyRecord::new(id(1)).create_distribution(&mut exact);
    assert_eq!((exact.remaining(), exact.overrun()), (0, false));
    // u32 0x03030303 >> 1.
    assert_eq!(skdm.chain_id(), 0x0303_0303 >> 1);
}

#[test]
fn debug_output_shows_no_secret() {
    // Session 0 of libsignal's sender_key.json: every value below comes from that file.
    let creation_rng = hex::decode(concat!(
        "fa422e4b92882fdd13c615f7bcfff882f74eb2b38eb676536e56b9398f1a2048193713ce5f451b6499f4",
        "871572ef6eeaaee5baae607d13abc0ca36a76fac2118400e4bec9c44e632c7c1f432d839148a22ff33d4",
        "f382144c2e990220a6c8c6c25ff668136e7a14b215d6172b15883d5c554323ce7c4b04c13c57edd54ba7",
        "09f58e47b2514b1d0ca21d587d529a84d1fd67b917e5a6a1a409e9b8b11fdb6bcb1bd41e3543"
    ))
    .unwrap();
    let id: DistributionId = "d1a6c4e5-0b8f-4c5e-9f3a-2b7d8e9f0a11".parse().unwrap();
    let mut record = SenderKeyRecord::new(id);
    let skdm = record.create_distribution(&mut ReplayRng::new(creation_rng));
    insta::assert_snapshot!(format!("{skdm:?}"), @"SenderKeyDistributionMessage { message_version: 3, distribution_id: DistributionId(d1a6c4e5-0b8f-4c5e-9f3a-2b7d8e9f0a11), chain_id: 630661501, iteration: 0, signing_key: PublicKey(050acaaf026c9ddec694620fae859bcd3cefb5257fa7f457e130e796f7db9da72c), .. }");
    insta::assert_snapshot!(format!("{record:?}"), @"SenderKeyRecord { distribution_id: DistributionId(d1a6c4e5-0b8f-4c5e-9f3a-2b7d8e9f0a11), states: [SenderKeyState { message_version: 3, chain_id: 630661501, iteration: 0, signing_key: PublicKey(050acaaf026c9ddec694620fae859bcd3cefb5257fa7f457e130e796f7db9da72c), ours: true, skipped_keys: 0, distributor: None, .. }] }");
    let message = record.encrypt(&[0; 57], &mut test_rng(0)).unwrap();
    insta::assert_snapshot!(format!("{message:?}"), @"SenderKeyMessage { message_version: 3, distribution_id: DistributionId(d1a6c4e5-0b8f-4c5e-9f3a-2b7d8e9f0a11), chain_id: 630661501, iteration: 0, ciphertext_len: 64, .. }");

    let chain_key = "9213bcf78e6e8f195f9972ae60c06f409cc7d822f32ea65f6e1515557c3c4b8e";
    let private = "481d0ca21d587d529a84d1fd67b917e5a6a1a409e9b8b11fdb6bcb1bd41e3543";
    for shown in [
        format!("{skdm:?}"),
        format!("{record:?}"),
        format!("{record:#?}"),
    ] {
        assert!(!shown.contains(chain_key) && !shown.contains(private));
        assert!(!shown.contains(&chain_key[..16]) && !shown.contains(&private[..16]));
    }
}
