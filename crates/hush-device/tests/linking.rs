//! The linking protocol through the public API, every error from a realistic attack,
//! and a re-implementation of `docs/wire/linking.md` from hush-core primitives alone
//! (labels written out here, not imported) that both interoperates with the crate and
//! forges the messages the attacks need.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    reason = "tests"
)]

use hush_core::cipher::Aes256GcmKey;
use hush_core::kdf::{hkdf_sha256, hmac_sha256};
use hush_core::{IdentityKey, IdentityKeyPair, KeyPair, PrivateKey, PublicKey, Signature};
use hush_device::limits::{DEFAULT_OFFER_LIFETIME_MS, LINKING_GRACE_MS, MAX_SEEN_OFFERS};
use hush_device::{
    CompanionAssignment, CompanionLinking, Countersignature, Error, LinkingMessage, LinkingOffer,
    LinkingState, OfferId, PrimaryLinking, SeenOffers,
};
use hush_test_support::test_rng;
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;

const NOW: u64 = 1_700_000_000_000;
const REFERENCE: &[u8] = b"server-ref-0001!";
const USER: &[u8] = b"alice";

fn assign() -> CompanionAssignment {
    CompanionAssignment {
        user_id: USER.to_vec(),
        device_id: 2,
        key_index: 7,
    }
}

struct Setup {
    rng: ChaCha20Rng,
    account: IdentityKeyPair,
    desktop: IdentityKeyPair,
    companion: CompanionLinking,
    seen: SeenOffers,
}

fn setup(seed: u64) -> Setup {
    let mut rng = test_rng(seed);
    let account = IdentityKeyPair::generate(&mut rng);
    let desktop = IdentityKeyPair::generate(&mut rng);
    let companion = CompanionLinking::new(
        &mut rng,
        desktop.identity_key(),
        REFERENCE,
        NOW,
        DEFAULT_OFFER_LIFETIME_MS,
    )
    .unwrap();
    Setup {
        rng,
        account,
        desktop,
        companion,
        seen: SeenOffers::new(),
    }
}

fn accept(s: &mut Setup, now: u64) -> Result<(PrimaryLinking, LinkingMessage), Error> {
    let offer = s.companion.offer().clone();
    PrimaryLinking::accept(&offer, &s.account, &assign(), &mut s.seen, now, &mut s.rng)
}

fn expires() -> u64 {
    NOW + DEFAULT_OFFER_LIFETIME_MS
}

#[test]
fn happy_path_with_states_serialised_between_every_step() {
    let mut s = setup(1);
    // The QR text carries the offer.
    let text = s.companion.offer().to_qr_text();
    assert!(
        text.chars()
            .all(|c| "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:".contains(c))
    );
    let offer = LinkingOffer::from_qr_text(&text).unwrap();
    assert_eq!(&offer, s.companion.offer());

    let companion_bytes = s.companion.encode();
    let (primary, message) = PrimaryLinking::accept(
        &offer,
        &s.account,
        &assign(),
        &mut s.seen,
        NOW + 1,
        &mut s.rng,
    )
    .unwrap();
    let primary_bytes = primary.encode();
    drop(primary);
    let seen_bytes = s.seen.encode();
    assert_eq!(SeenOffers::decode(&seen_bytes).unwrap(), s.seen);

    let companion = CompanionLinking::decode(&companion_bytes).unwrap();
    assert_eq!(companion.encode(), companion_bytes);
    let message = LinkingMessage::decode(&message.encode()).unwrap();
    let (linked, counter) = companion
        .receive(&message, &s.desktop, NOW + 2, &mut s.rng)
        .unwrap();
    assert_eq!(linked.account_identity, s.account.identity_key());
    assert_eq!(linked.metadata.device_id, 2);
    assert_eq!(linked.metadata.key_index, 7);
    assert_eq!(linked.metadata.timestamp_ms, NOW + 1);
    assert_eq!(linked.metadata.server_reference, REFERENCE);
    assert_eq!(linked.metadata.user_id, USER);

    let primary = PrimaryLinking::decode(&primary_bytes).unwrap();
    assert_eq!(primary.encode(), primary_bytes);
    let counter = Countersignature::decode(&counter.encode()).unwrap();
    let added = primary.finish(&counter, NOW + 3).unwrap();
    assert_eq!(added.entry.device_id, 2);
    assert_eq!(added.entry.identity_key, s.desktop.identity_key());
    assert_eq!(added.entry.key_index, 7);
    assert_eq!(added.entry.added_at_ms, NOW + 1);
    assert_eq!(added.device_signature, linked.device_signature);
    assert_eq!(
        added.entry.membership_signature,
        linked.membership_signature
    );
    assert!(
        added
            .entry
            .membership_valid(&s.account.identity_key(), USER)
    );
    assert_eq!(added.history, linked.history);
    assert_ne!(added.history.transcript_hash().as_bytes(), &[0u8; 32]);
}

#[test]
fn expired_offer_at_exactly_lifetime_plus_one_ms() {
    let mut s = setup(2);
    assert_eq!(accept(&mut s, expires() + 1).unwrap_err(), Error::Expired);
    assert!(s.seen.is_empty(), "a refused offer is not recorded");
    // At exactly the expiry it is still valid.
    let (primary, message) = accept(&mut s, expires()).unwrap();

    // The companion's and the primary's deadlines are the expiry plus the grace time.
    let deadline = expires() + LINKING_GRACE_MS;
    let companion_bytes = s.companion.encode();
    let late = CompanionLinking::decode(&companion_bytes).unwrap();
    assert_eq!(
        late.receive(&message, &s.desktop, deadline + 1, &mut s.rng)
            .unwrap_err(),
        Error::Expired
    );
    let (_, counter) = s
        .companion
        .clone()
        .receive(&message, &s.desktop, deadline, &mut s.rng)
        .unwrap();
    let primary_bytes = primary.encode();
    assert_eq!(
        primary.finish(&counter, deadline + 1).unwrap_err(),
        Error::Expired
    );
    PrimaryLinking::decode(&primary_bytes)
        .unwrap()
        .finish(&counter, deadline)
        .unwrap();
}

#[test]
fn reused_offer_is_replayed_even_after_serialising_the_set() {
    let mut s = setup(3);
    accept(&mut s, NOW).unwrap();
    assert_eq!(accept(&mut s, NOW + 10).unwrap_err(), Error::Replayed);
    s.seen = SeenOffers::decode(&s.seen.encode()).unwrap();
    assert_eq!(accept(&mut s, NOW + 20).unwrap_err(), Error::Replayed);
    // Once the offer expired it is evicted, and refused as expired instead.
    s.seen.evict_expired(expires() + 1);
    assert!(s.seen.is_empty());
    assert_eq!(accept(&mut s, expires() + 1).unwrap_err(), Error::Expired);
}

#[test]
fn seen_offers_is_bounded_and_evicts_expired() {
    let mut seen = SeenOffers::new();
    for i in 0..MAX_SEEN_OFFERS {
        let mut id = [0u8; 32];
        id[..8].copy_from_slice(&(i as u64).to_be_bytes());
        seen.insert(offer_id(id), NOW + 100, NOW).unwrap();
    }
    let mut last = [0xff; 32];
    last[31] = 0x3f; // canonical: below 2^255 - 19
    let extra = offer_id(last);
    assert_eq!(
        seen.insert(extra, NOW + 100, NOW).unwrap_err(),
        Error::SeenOffersFull {
            max: MAX_SEEN_OFFERS
        }
    );
    let bytes = seen.encode();
    assert_eq!(bytes.len(), 3 + MAX_SEEN_OFFERS * 40);
    assert_eq!(SeenOffers::decode(&bytes).unwrap(), seen);
    // After the others expire there is room again.
    seen.insert(extra, NOW + 300, NOW + 101).unwrap();
    assert_eq!(seen.len(), 1);
}

/// An `OfferId` can only be made by the crate; get one for arbitrary bytes through a
/// decoded offer with that ephemeral key.
fn offer_id(eph: [u8; 32]) -> OfferId {
    let mut bytes = valid_offer_bytes();
    bytes[1..33].copy_from_slice(&eph);
    LinkingOffer::decode(&bytes).unwrap().id()
}

fn valid_offer_bytes() -> Vec<u8> {
    setup(99).companion.offer().encode().to_vec()
}

#[test]
fn message_from_a_different_linking_secret_is_wrong_linking_secret() {
    // Someone who photographed the QR code badly (or guessed everything but the secret)
    // answers: the AEAD opens, the secret MAC does not.
    let mut s = setup(4);
    let mut bytes = s.companion.offer().encode().to_vec();
    bytes[40] ^= 0x01; // inside the linking secret (bytes 33..65)
    let wrong = LinkingOffer::decode(&bytes).unwrap();
    let (_, message) =
        PrimaryLinking::accept(&wrong, &s.account, &assign(), &mut s.seen, NOW, &mut s.rng)
            .unwrap();
    assert_eq!(
        s.companion
            .receive(&message, &s.desktop, NOW, &mut s.rng)
            .unwrap_err(),
        Error::WrongLinkingSecret
    );
}

#[test]
fn flipped_bits_in_each_part_of_the_linking_message() {
    let mut s = setup(5);
    let (_, message) = accept(&mut s, NOW).unwrap();
    let wire = message.encode();
    for i in 0..wire.len() {
        let mut bad = wire.clone();
        bad[i] ^= 0x04;
        let result = LinkingMessage::decode(&bad).and_then(|m| {
            s.companion
                .clone()
                .receive(&m, &s.desktop, NOW, &mut s.rng)
                .map(|_| ())
        });
        let expected = if i == 0 {
            Error::UnknownVersion(6)
        } else {
            Error::Tampered
        };
        assert_eq!(result.unwrap_err(), expected, "byte {i}");
    }
    // Truncated and extended messages.
    assert_eq!(
        LinkingMessage::decode(&wire[..wire.len() - 1])
            .and_then(|m| s
                .companion
                .clone()
                .receive(&m, &s.desktop, NOW, &mut s.rng)
                .map(|_| ()))
            .unwrap_err(),
        Error::Tampered
    );
    let mut long = wire.clone();
    long.extend_from_slice(&[0u8; 128]);
    assert!(long.len() > hush_device::linking::MAX_LINKING_MESSAGE_LEN);
    assert_eq!(
        LinkingMessage::decode(&long).unwrap_err(),
        Error::Malformed("linking message")
    );
    assert_eq!(
        LinkingMessage::decode(&[]).unwrap_err(),
        Error::Malformed("linking message")
    );
    assert_eq!(
        LinkingMessage::decode(&wire[..40]).unwrap_err(),
        Error::Malformed("linking message")
    );
}

#[test]
fn flipped_bits_in_the_offer_make_the_answer_fail() {
    // The primary scans a corrupted offer and answers it; the companion, holding the
    // real offer, must refuse the answer.
    let s0 = setup(6);
    let good = s0.companion.offer().encode().to_vec();
    for i in 1..good.len() {
        let mut s = setup(6);
        let mut bytes = good.clone();
        bytes[i] ^= 0x02;
        let Ok(offer) = LinkingOffer::decode(&bytes) else {
            // Only the identity key's type byte and the reference length can make the
            // offer undecodable.
            assert!(i == 65 || i == 106, "byte {i}");
            continue;
        };
        let Ok((_, message)) =
            PrimaryLinking::accept(&offer, &s.account, &assign(), &mut s.seen, NOW, &mut s.rng)
        else {
            // A corrupted expiry may already be past.
            assert!((98..106).contains(&i), "byte {i}");
            continue;
        };
        let err = s
            .companion
            .receive(&message, &s.desktop, NOW, &mut s.rng)
            .unwrap_err();
        let expected = if (33..65).contains(&i) {
            Error::WrongLinkingSecret
        } else {
            Error::Tampered
        };
        assert_eq!(err, expected, "byte {i}");
    }
}

#[test]
fn countersignature_from_another_linking_or_flipped_is_tampered() {
    let mut a = setup(7);
    let mut b = setup(8);
    b.account = a.account.clone();
    let (primary_a, message_a) = accept(&mut a, NOW).unwrap();
    let (_, message_b) = accept(&mut b, NOW).unwrap();
    let (_, counter_a) = a
        .companion
        .clone()
        .receive(&message_a, &a.desktop, NOW, &mut a.rng)
        .unwrap();
    let (_, counter_b) = b
        .companion
        .receive(&message_b, &b.desktop, NOW, &mut b.rng)
        .unwrap();
    let state = primary_a.encode();
    assert_eq!(
        primary_a.finish(&counter_b, NOW).unwrap_err(),
        Error::Tampered
    );
    let wire = counter_a.encode();
    for i in 0..wire.len() {
        let mut bad = wire.clone();
        bad[i] ^= 0x80;
        let result = Countersignature::decode(&bad).and_then(|c| {
            PrimaryLinking::decode(&state)
                .unwrap()
                .finish(&c, NOW)
                .map(|_| ())
        });
        let expected = if i == 0 {
            Error::UnknownVersion(0x82)
        } else {
            Error::Tampered
        };
        assert_eq!(result.unwrap_err(), expected, "byte {i}");
    }
    assert_eq!(wire.len(), 145);
    assert_eq!(
        Countersignature::decode(&wire[..144]).unwrap_err(),
        Error::Malformed("countersignature")
    );
    assert_eq!(
        Countersignature::decode(&[wire.as_slice(), &[0]].concat()).unwrap_err(),
        Error::Malformed("countersignature")
    );
}

#[test]
fn receiving_with_another_identity_is_refused() {
    let mut s = setup(9);
    let (_, message) = accept(&mut s, NOW).unwrap();
    let other = IdentityKeyPair::generate(&mut s.rng);
    assert_eq!(
        s.companion
            .receive(&message, &other, NOW, &mut s.rng)
            .unwrap_err(),
        Error::WrongIdentityKey
    );
}

#[test]
fn steps_out_of_order_via_serialised_states() {
    let mut s = setup(10);
    let companion_bytes = s.companion.encode();
    let (primary, _) = accept(&mut s, NOW).unwrap();
    let primary_bytes = primary.encode();
    assert_eq!(
        CompanionLinking::decode(&primary_bytes).unwrap_err(),
        Error::UnexpectedState
    );
    assert_eq!(
        PrimaryLinking::decode(&companion_bytes).unwrap_err(),
        Error::UnexpectedState
    );
    assert!(matches!(
        LinkingState::decode(&companion_bytes).unwrap(),
        LinkingState::Companion(_)
    ));
    assert!(matches!(
        LinkingState::decode(&primary_bytes).unwrap(),
        LinkingState::Primary(_)
    ));
    let mut unknown = primary_bytes.to_vec();
    unknown[1] = 0x03;
    assert_eq!(
        LinkingState::decode(&unknown).unwrap_err(),
        Error::UnexpectedState
    );
    for version in [1, 3] {
        let mut other = primary_bytes.to_vec();
        other[0] = version;
        assert_eq!(
            LinkingState::decode(&other).unwrap_err(),
            Error::UnknownVersion(version)
        );
    }
    // Truncated or extended states.
    assert!(PrimaryLinking::decode(&primary_bytes[..primary_bytes.len() - 1]).is_err());
    assert_eq!(
        PrimaryLinking::decode(&[primary_bytes.as_slice(), &[0]].concat()).unwrap_err(),
        Error::Malformed("primary state")
    );
    // A companion state whose private key does not match its offer.
    let mut mismatched = companion_bytes.to_vec();
    mismatched[5] ^= 0x10;
    assert_eq!(
        CompanionLinking::decode(&mismatched).unwrap_err(),
        Error::Malformed("companion state")
    );
    // An unclamped private key (found by the linking_state fuzz target): it would
    // decode to the same state but not re-encode to the same bytes.
    for (at, bit) in [(2, 0x01), (33, 0x80), (33, 0x40)] {
        let mut unclamped = companion_bytes.to_vec();
        unclamped[at] ^= bit;
        assert_eq!(
            CompanionLinking::decode(&unclamped).unwrap_err(),
            Error::Malformed("companion state"),
            "byte {at} bit {bit:#x}"
        );
    }
}

#[test]
fn offer_decoding_errors() {
    let good = valid_offer_bytes();
    assert_eq!(good.len(), 123);
    assert_eq!(
        LinkingOffer::decode(&[]).unwrap_err(),
        Error::Malformed("linking offer")
    );
    for version in [1, 3] {
        let mut other = good.clone();
        other[0] = version;
        assert_eq!(
            LinkingOffer::decode(&other).unwrap_err(),
            Error::UnknownVersion(version)
        );
    }
    assert_eq!(
        LinkingOffer::decode(&good[..good.len() - 1]).unwrap_err(),
        Error::Malformed("linking offer")
    );
    assert_eq!(
        LinkingOffer::decode(&[good.as_slice(), b"x"].concat()).unwrap_err(),
        Error::Malformed("linking offer")
    );
    let mut bad_key = good.clone();
    bad_key[65] = 0x06;
    assert_eq!(
        LinkingOffer::decode(&bad_key).unwrap_err(),
        Error::Malformed("linking offer")
    );
    // Reference length 0, and 65 with 65 bytes present.
    let mut empty_ref = good[..106].to_vec();
    empty_ref.push(0);
    assert_eq!(
        LinkingOffer::decode(&empty_ref).unwrap_err(),
        Error::Malformed("linking offer")
    );
    let mut long_ref = good[..106].to_vec();
    long_ref.push(65);
    long_ref.extend_from_slice(&[b'r'; 65]);
    assert_eq!(
        LinkingOffer::decode(&long_ref).unwrap_err(),
        Error::Malformed("linking offer")
    );
    let mut max_ref = good[..106].to_vec();
    max_ref.push(64);
    max_ref.extend_from_slice(&[b'r'; 64]);
    LinkingOffer::decode(&max_ref).unwrap();
    for text in ["", "a", "GGW", "%%%%"] {
        assert!(LinkingOffer::from_qr_text(text).is_err(), "{text}");
    }
    // Building offers: reference and lifetime bounds.
    let mut rng = test_rng(11);
    let key = IdentityKeyPair::generate(&mut rng).identity_key();
    for (reference, lifetime, what) in [
        (&b""[..], 60_000, "server reference"),
        (&[b'r'; 65][..], 60_000, "server reference"),
        (b"r", 0, "offer lifetime"),
        (b"r", 600_001, "offer lifetime"),
    ] {
        assert_eq!(
            CompanionLinking::new(&mut rng, key, reference, NOW, lifetime).unwrap_err(),
            Error::Malformed(what)
        );
    }
    assert_eq!(
        CompanionLinking::new(&mut rng, key, b"r", u64::MAX - 10, 60_000).unwrap_err(),
        Error::Malformed("offer lifetime")
    );
}

#[test]
fn primary_refuses_device_ids_zero_and_one_and_small_order_keys() {
    let mut s = setup(12);
    let offer = s.companion.offer().clone();
    for device_id in [0, 1] {
        let assignment = CompanionAssignment {
            user_id: USER.to_vec(),
            device_id,
            key_index: 0,
        };
        assert_eq!(
            PrimaryLinking::accept(
                &offer,
                &s.account,
                &assignment,
                &mut s.seen,
                NOW,
                &mut s.rng
            )
            .unwrap_err(),
            Error::Malformed("companion device id")
        );
    }
    let mut bytes = offer.encode().to_vec();
    bytes[1..33].copy_from_slice(&[0u8; 32]);
    let small = LinkingOffer::decode(&bytes).unwrap();
    assert_eq!(
        PrimaryLinking::accept(&small, &s.account, &assign(), &mut s.seen, NOW, &mut s.rng)
            .unwrap_err(),
        Error::Malformed("offer ephemeral key")
    );
    assert!(s.seen.is_empty());
}

// ---------------------------------------------------------------------------------------
// docs/wire/linking.md, re-implemented from hush-core primitives.

fn hkdf32(salt: &[u8], ikm: &[u8], info: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    hkdf_sha256(salt, ikm, info, &mut out).unwrap();
    out
}

struct DocOffer {
    bytes: Vec<u8>,
    eph: [u8; 32],
    secret: [u8; 32],
    companion: [u8; 33],
    reference: Vec<u8>,
}

fn parse_offer(bytes: &[u8]) -> DocOffer {
    assert_eq!(bytes[0], 2);
    let rlen = bytes[106] as usize;
    assert_eq!(bytes.len(), 107 + rlen);
    DocOffer {
        bytes: bytes.to_vec(),
        eph: bytes[1..33].try_into().unwrap(),
        secret: bytes[33..65].try_into().unwrap(),
        companion: bytes[65..98].try_into().unwrap(),
        reference: bytes[107..].to_vec(),
    }
}

fn offer_public_hash(o: &DocOffer) -> [u8; 32] {
    let without_secret = [&o.bytes[..33], &o.bytes[65..]].concat();
    *hmac_sha256(b"hush-device v1 offer public hash", &without_secret)
}

fn metadata(device_id: u32, key_index: u32, ts: u64, reference: &[u8], user: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&device_id.to_be_bytes());
    m.extend_from_slice(&key_index.to_be_bytes());
    m.extend_from_slice(&ts.to_be_bytes());
    m.push(reference.len() as u8);
    m.extend_from_slice(reference);
    m.push(user.len() as u8);
    m.extend_from_slice(user);
    m
}

/// The membership-signed bytes: 06 03 || account key || device id || user id length ||
/// user id.
fn membership(account: &IdentityKey, device_id: u32, user: &[u8]) -> Vec<u8> {
    [
        &[0x06, 0x03][..],
        &account.encode(),
        &device_id.to_be_bytes(),
        &[user.len() as u8],
        user,
    ]
    .concat()
}

struct Forged {
    message: Vec<u8>,
    shared: [u8; 32],
    metadata: Vec<u8>,
}

/// Builds a linking message the way the doc describes, claiming `claimed_account`,
/// signing with `signer`, MACing with `secret`.
fn forge_message(
    o: &DocOffer,
    claimed_account: &IdentityKey,
    signer: &IdentityKeyPair,
    secret: &[u8; 32],
    rng: &mut ChaCha20Rng,
) -> Forged {
    forge_message_for(o, claimed_account, signer, secret, (USER, USER), rng)
}

/// [`forge_message`] whose metadata names `users.0` while the account signature covers
/// metadata naming `users.1`.
fn forge_message_for(
    o: &DocOffer,
    claimed_account: &IdentityKey,
    signer: &IdentityKeyPair,
    secret: &[u8; 32],
    users: (&[u8], &[u8]),
    rng: &mut ChaCha20Rng,
) -> Forged {
    let eph = KeyPair::generate(rng);
    let shared = *eph
        .private_key()
        .agree(&PublicKey::from_montgomery_bytes(o.eph))
        .unwrap()
        .as_bytes();
    let oph = offer_public_hash(o);
    let message_key = hkdf32(&oph, &shared, b"hush-device v1 linking message key");
    let mac_key = hkdf32(&oph, secret, b"hush-device v1 linking secret mac key");
    let md = metadata(3, 9, NOW, &o.reference, users.0);
    let signed_md = metadata(3, 9, NOW, &o.reference, users.1);
    let sig = signer.sign(&[&[0x06, 0x00][..], &signed_md, &o.companion].concat(), rng);
    let mut header = vec![2u8];
    header.extend_from_slice(eph.public_key().as_montgomery_bytes());
    let body = [&claimed_account.encode()[..], &md, sig.as_bytes()].concat();
    let mac = hmac_sha256(&mac_key, &[&o.bytes[..], &header, &body].concat());
    let plaintext = [body.as_slice(), mac.as_slice()].concat();
    let ct = Aes256GcmKey::new(&message_key).seal(&[0u8; 12], &header, &plaintext);
    Forged {
        message: [header, ct].concat(),
        shared,
        metadata: md,
    }
}

fn transcript(offer: &[u8], message: &[u8]) -> [u8; 32] {
    *hmac_sha256(
        b"hush-device v1 linking transcript",
        &[offer, message].concat(),
    )
}

#[test]
fn doc_primary_interoperates_with_the_crate_companion() {
    let mut s = setup(13);
    let o = parse_offer(&s.companion.offer().encode());
    let forged = forge_message(
        &o,
        &s.account.identity_key(),
        &s.account,
        &o.secret,
        &mut s.rng,
    );
    let message = LinkingMessage::decode(&forged.message).unwrap();
    assert_eq!(message.encode(), forged.message);
    let (linked, counter) = s
        .companion
        .receive(&message, &s.desktop, NOW, &mut s.rng)
        .unwrap();
    assert_eq!(linked.metadata.device_id, 3);
    assert_eq!(linked.metadata.key_index, 9);

    // Transcript hash, countersignature key, history key as documented.
    let th = transcript(&o.bytes, &forged.message);
    assert_eq!(linked.history.transcript_hash().as_bytes(), &th);
    let ck = hkdf32(&th, &forged.shared, b"hush-device v1 countersignature key");
    let hk = hkdf32(
        &th,
        &[forged.shared, o.secret].concat(),
        b"hush-device v1 history key",
    );
    assert_eq!(*linked.history.key().to_bytes(), hk);
    let wire = counter.encode();
    assert_eq!(wire.len(), 145);
    assert_eq!(wire[0], 2);
    let sigs = Aes256GcmKey::new(&ck)
        .open(&[0u8; 12], &[2], &wire[1..])
        .unwrap();
    assert_eq!(sigs.len(), 128);
    let sig = Signature::decode(&sigs[..64]).unwrap();
    let signed = [
        &[0x06, 0x01][..],
        &forged.metadata,
        &o.companion,
        &s.account.identity_key().encode(),
    ]
    .concat();
    assert!(s.desktop.identity_key().verify(&signed, &sig));
    // The membership signature: the companion consents to be alice.3 of this account.
    let member = Signature::decode(&sigs[64..]).unwrap();
    assert_eq!(member, linked.membership_signature);
    let account = s.account.identity_key();
    assert!(
        s.desktop
            .identity_key()
            .verify(&membership(&account, 3, USER), &member)
    );
}

#[test]
fn doc_companion_interoperates_with_the_crate_primary() {
    let mut s = setup(14);
    let state = s.companion.encode();
    // Companion state: version 2, tag 1, ephemeral private key, offer.
    assert_eq!(&state[..2], &[2, 1]);
    let eph_private = PrivateKey::from_bytes(state[2..34].try_into().unwrap());
    let o = parse_offer(&state[34..]);
    let (primary, message) = accept(&mut s, NOW + 5).unwrap();
    let wire = message.encode();
    assert_eq!(wire[0], 2);
    let shared = *eph_private
        .agree(&PublicKey::from_montgomery_bytes(
            wire[1..33].try_into().unwrap(),
        ))
        .unwrap()
        .as_bytes();
    let oph = offer_public_hash(&o);
    let plaintext = Aes256GcmKey::new(&hkdf32(
        &oph,
        &shared,
        b"hush-device v1 linking message key",
    ))
    .open(&[0u8; 12], &wire[..33], &wire[33..])
    .unwrap();
    let account = IdentityKey::decode(&plaintext[..33]).unwrap();
    assert_eq!(account, s.account.identity_key());
    let md = metadata(2, 7, NOW + 5, REFERENCE, USER);
    assert_eq!(&plaintext[33..33 + md.len()], md.as_slice());
    let sig_end = 33 + md.len() + 64;
    let sig = Signature::decode(&plaintext[33 + md.len()..sig_end]).unwrap();
    assert!(account.verify(&[&[0x06, 0x00][..], &md, &o.companion].concat(), &sig));
    let mac_key = hkdf32(&oph, &o.secret, b"hush-device v1 linking secret mac key");
    let mac = hmac_sha256(
        &mac_key,
        &[&o.bytes[..], &wire[..33], &plaintext[..sig_end]].concat(),
    );
    assert_eq!(&plaintext[sig_end..], mac.as_slice());

    // Answer with a countersignature built from the doc.
    let th = transcript(&o.bytes, &wire);
    let ck = hkdf32(&th, &shared, b"hush-device v1 countersignature key");
    let signed = [&[0x06, 0x01][..], &md, &o.companion, &account.encode()].concat();
    let seal = |signer: &IdentityKeyPair, member: &[u8], rng: &mut ChaCha20Rng| {
        let sig = signer.sign(&signed, rng);
        let consent = signer.sign(member, rng);
        let sigs = [&sig.as_bytes()[..], &consent.as_bytes()[..]].concat();
        let ct = Aes256GcmKey::new(&ck).seal(&[0u8; 12], &[2], &sigs);
        Countersignature::decode(&[&[2u8][..], &ct].concat()).unwrap()
    };
    let state = primary.encode();
    // Primary state: version 2, tag 2, countersignature key, history key, transcript
    // hash.
    assert_eq!(&state[..2], &[2, 2]);
    assert_eq!(&state[2..34], &ck);
    assert_eq!(&state[66..98], &th);

    // Signed by another device's key: refused.
    let member = membership(&account, 2, USER);
    let intruder = IdentityKeyPair::generate(&mut s.rng);
    let forged = seal(&intruder, &member, &mut s.rng);
    assert_eq!(
        primary.finish(&forged, NOW + 6).unwrap_err(),
        Error::BadSignature
    );
    // Consent to another user id, or to another device id: refused.
    for other in [
        membership(&account, 2, b"carol"),
        membership(&account, 3, USER),
    ] {
        let wrong = seal(&s.desktop, &other, &mut s.rng);
        assert_eq!(
            PrimaryLinking::decode(&state)
                .unwrap()
                .finish(&wrong, NOW + 6)
                .unwrap_err(),
            Error::BadSignature
        );
    }
    let good = seal(&s.desktop, &member, &mut s.rng);
    let added = PrimaryLinking::decode(&state)
        .unwrap()
        .finish(&good, NOW + 6)
        .unwrap();
    let hk = hkdf32(
        &th,
        &[shared, o.secret].concat(),
        b"hush-device v1 history key",
    );
    assert_eq!(*added.history.key().to_bytes(), hk);
}

/// Issue 16, item 6: the companion's user id is part of what the account signs. A
/// linking message whose metadata names another user than the account signed is
/// refused; the user the account signed is the one the companion learns.
#[test]
fn the_user_id_is_signed_by_the_account() {
    let mut s = setup(16);
    let o = parse_offer(&s.companion.offer().encode());
    let account = s.account.identity_key();
    let swapped = forge_message_for(
        &o,
        &account,
        &s.account,
        &o.secret,
        (b"carol", USER),
        &mut s.rng,
    );
    let message = LinkingMessage::decode(&swapped.message).unwrap();
    assert_eq!(
        s.companion
            .clone()
            .receive(&message, &s.desktop, NOW, &mut s.rng)
            .unwrap_err(),
        Error::BadSignature
    );
    let signed = forge_message_for(
        &o,
        &account,
        &s.account,
        &o.secret,
        (b"carol", b"carol"),
        &mut s.rng,
    );
    let message = LinkingMessage::decode(&signed.message).unwrap();
    let (linked, _) = s
        .companion
        .receive(&message, &s.desktop, NOW, &mut s.rng)
        .unwrap();
    assert_eq!(linked.metadata.user_id, b"carol");
    // An empty or over-long user id does not parse; the primary refuses to make one.
    let mut s = setup(17);
    let offer = s.companion.offer().clone();
    for user_id in [Vec::new(), vec![b'u'; 65]] {
        let assignment = CompanionAssignment {
            user_id,
            device_id: 2,
            key_index: 1,
        };
        assert_eq!(
            PrimaryLinking::accept(
                &offer,
                &s.account,
                &assignment,
                &mut s.seen,
                NOW,
                &mut s.rng
            )
            .unwrap_err(),
            Error::Malformed("account address")
        );
    }
}

#[test]
fn account_signature_by_a_wrong_key_is_bad_signature() {
    let mut s = setup(15);
    let o = parse_offer(&s.companion.offer().encode());
    let intruder = IdentityKeyPair::generate(&mut s.rng);
    let forged = forge_message(
        &o,
        &s.account.identity_key(),
        &intruder,
        &o.secret,
        &mut s.rng,
    );
    let message = LinkingMessage::decode(&forged.message).unwrap();
    assert_eq!(
        s.companion
            .receive(&message, &s.desktop, NOW, &mut s.rng)
            .unwrap_err(),
        Error::BadSignature
    );
}

#[test]
fn server_cannot_forge_a_linking_message_without_the_secret() {
    // The server sees the relay traffic and may even learn the offer's public parts;
    // without the QR's linking secret its own account key gets it nowhere.
    let mut s = setup(16);
    let o = parse_offer(&s.companion.offer().encode());
    let server = IdentityKeyPair::generate(&mut s.rng);
    let guessed = [0x42u8; 32];
    let forged = forge_message(&o, &server.identity_key(), &server, &guessed, &mut s.rng);
    let message = LinkingMessage::decode(&forged.message).unwrap();
    assert_eq!(
        s.companion
            .receive(&message, &s.desktop, NOW, &mut s.rng)
            .unwrap_err(),
        Error::WrongLinkingSecret
    );
}

#[test]
fn debug_output_shows_no_secrets() {
    let mut s = setup(17);
    let offer = s.companion.offer().clone();
    let secret_hex = hex::encode(&offer.encode()[33..65]);
    let companion_state = s.companion.encode();
    let eph_private_hex = hex::encode(&companion_state[2..34]);
    let (primary, message) = accept(&mut s, NOW).unwrap();
    let primary_state = primary.encode();
    let (linked, _) = s
        .companion
        .clone()
        .receive(&message, &s.desktop, NOW, &mut s.rng)
        .unwrap();

    let offer_debug = format!("{offer:?}");
    assert_eq!(
        offer_debug,
        format!(
            "LinkingOffer {{ ephemeral: PublicKey(05{}), companion_identity: IdentityKey(PublicKey({})), \
             expires_at_ms: 1700000060000, server_reference_len: 16, .. }}",
            hex::encode(offer.ephemeral_key().as_montgomery_bytes()),
            hex::encode(s.desktop.identity_key().encode()),
        )
    );
    assert_eq!(
        format!("{:?}", s.companion),
        format!("CompanionLinking {{ offer: {offer_debug}, .. }}")
    );
    assert_eq!(format!("{:?}", linked.history.key()), "HistoryKey { .. }");
    assert_eq!(
        format!("{:?}", linked.history),
        format!(
            "HistoryHandOff {{ transcript: TranscriptHash({:?}), .. }}",
            linked.history.transcript_hash().as_bytes()
        )
    );
    let primary_debug = format!("{primary:?}");
    assert!(primary_debug.starts_with("PrimaryLinking { deadline_ms: 1700000090000, companion: "));
    assert!(primary_debug.ends_with(", .. }"));
    for text in [&offer_debug, &primary_debug, &format!("{linked:?}")] {
        assert!(!text.contains(&secret_hex));
        assert!(!text.contains(&eph_private_hex));
        for key in [&primary_state[2..34], &primary_state[34..66]] {
            assert!(!text.contains(&hex::encode(key)));
            assert!(!text.contains(&format!("{:?}", key)));
        }
    }
}

proptest! {
    #[test]
    fn offers_round_trip(
        eph in any::<[u8; 32]>(),
        secret in any::<[u8; 32]>(),
        key in any::<[u8; 32]>(),
        expiry in any::<u64>(),
        reference in proptest::collection::vec(any::<u8>(), 1..=64),
    ) {
        // A canonical ephemeral key: below 2^254, so below 2^255 - 19.
        let mut eph = eph;
        eph[31] &= 0x3f;
        let mut bytes = vec![2u8];
        bytes.extend_from_slice(&eph);
        bytes.extend_from_slice(&secret);
        bytes.push(5);
        bytes.extend_from_slice(&key);
        bytes.extend_from_slice(&expiry.to_be_bytes());
        bytes.push(reference.len() as u8);
        bytes.extend_from_slice(&reference);
        let offer = LinkingOffer::decode(&bytes).unwrap();
        let encoded = offer.encode();
        prop_assert_eq!(encoded.as_slice(), bytes.as_slice());
        prop_assert_eq!(offer.expires_at_ms(), expiry);
        prop_assert_eq!(offer.server_reference(), reference.as_slice());
        let text = offer.to_qr_text();
        prop_assert_eq!(LinkingOffer::from_qr_text(&text).unwrap(), offer);
    }

    #[test]
    fn linking_messages_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(m) = LinkingMessage::decode(&bytes) {
            prop_assert_eq!(&m.encode(), &bytes);
        }
        let mut versioned = bytes.clone();
        if let Some(first) = versioned.first_mut() { *first = 2; }
        if let Ok(m) = LinkingMessage::decode(&versioned) {
            prop_assert_eq!(&m.encode(), &versioned);
        }
    }

    #[test]
    fn seen_offers_round_trip(ids in proptest::collection::btree_map(any::<[u8; 32]>(), any::<u64>(), 0..20)) {
        let mut bytes = vec![1u8];
        bytes.extend_from_slice(&(ids.len() as u16).to_be_bytes());
        for (id, expiry) in &ids {
            bytes.extend_from_slice(id);
            bytes.extend_from_slice(&expiry.to_be_bytes());
        }
        let seen = SeenOffers::decode(&bytes).unwrap();
        prop_assert_eq!(seen.len(), ids.len());
        prop_assert_eq!(seen.encode(), bytes);
    }
}
