//! Hand-made linking offers as a phishing QR code or a replaying relay would make them
//! (issue 16, items 8 and 14): offers valid for far longer than a companion may ask
//! for, floods of such offers, and a replay whose ephemeral key differs only in the bit
//! X25519 ignores.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    reason = "tests"
)]

use hush_core::{IdentityKeyPair, KeyPair};
use hush_device::limits::{DEFAULT_OFFER_LIFETIME_MS, MAX_OFFER_LIFETIME_MS, MAX_SEEN_OFFERS};
use hush_device::{
    CompanionAssignment, CompanionLinking, Error, LinkingOffer, PrimaryLinking, SeenOffers,
};
use hush_test_support::test_rng;
use rand_chacha::ChaCha20Rng;

const NOW: u64 = 1_700_000_000_000;

fn assignment() -> CompanionAssignment {
    CompanionAssignment {
        user_id: b"alice".to_vec(),
        device_id: 2,
        key_index: 1,
    }
}

/// A genuine offer's bytes, made by the crate.
fn offer_bytes(rng: &mut ChaCha20Rng, now: u64) -> Vec<u8> {
    let desktop = IdentityKeyPair::generate(rng);
    CompanionLinking::new(
        rng,
        desktop.identity_key(),
        b"relay",
        now,
        DEFAULT_OFFER_LIFETIME_MS,
    )
    .unwrap()
    .offer()
    .encode()
    .to_vec()
}

/// An offer as a phisher makes it: a fresh ephemeral key and the expiry it likes.
fn hand_made(rng: &mut ChaCha20Rng, expires_at_ms: u64) -> LinkingOffer {
    let mut bytes = offer_bytes(rng, NOW);
    let ephemeral = KeyPair::generate(rng);
    bytes[1..33].copy_from_slice(ephemeral.public_key().as_montgomery_bytes());
    bytes[98..106].copy_from_slice(&expires_at_ms.to_be_bytes());
    LinkingOffer::decode(&bytes).unwrap()
}

fn answer(
    offer: &LinkingOffer,
    account: &IdentityKeyPair,
    seen: &mut SeenOffers,
    now: u64,
    rng: &mut ChaCha20Rng,
) -> Result<(), Error> {
    PrimaryLinking::accept(offer, account, &assignment(), seen, now, rng).map(|_| ())
}

/// Item 8: a QR code that never expires is a standing invitation; the primary refuses
/// it as the companion would have refused to make it.
#[test]
fn primary_refuses_an_offer_that_never_expires() {
    let mut rng = test_rng(801);
    let account = IdentityKeyPair::generate(&mut rng);
    let mut seen = SeenOffers::new();
    let offer = hand_made(&mut rng, u64::MAX);
    assert_eq!(
        answer(&offer, &account, &mut seen, NOW, &mut rng),
        Err(Error::Malformed("offer lifetime"))
    );
    assert!(seen.is_empty(), "a refused offer is not recorded");
}

/// Item 8: the longest lifetime a companion may ask for, plus the clock-skew allowance,
/// is the most the primary answers; one millisecond more is refused.
#[test]
fn primary_answers_up_to_the_maximum_lifetime_plus_skew() {
    use hush_device::limits::MAX_OFFER_CLOCK_SKEW_MS;
    let mut rng = test_rng(802);
    let account = IdentityKeyPair::generate(&mut rng);
    let mut seen = SeenOffers::new();
    let furthest = NOW + MAX_OFFER_LIFETIME_MS + MAX_OFFER_CLOCK_SKEW_MS;
    let too_far = hand_made(&mut rng, furthest + 1);
    assert_eq!(
        answer(&too_far, &account, &mut seen, NOW, &mut rng),
        Err(Error::Malformed("offer lifetime"))
    );
    let just = hand_made(&mut rng, furthest);
    answer(&just, &account, &mut seen, NOW, &mut rng).unwrap();
    // SeenOffers refuses the same on its own.
    let mut other = SeenOffers::new();
    assert_eq!(
        other.insert(too_far.id(), furthest + 1, NOW),
        Err(Error::Malformed("offer lifetime"))
    );
}

/// Item 8: a flood of offers cannot stop the primary from linking for good. Offers that
/// never expire are refused (they used to fill the replay set for ever); offers of the
/// longest allowed lifetime fill it only until they expire.
#[test]
fn a_flood_of_offers_does_not_block_linking_for_good() {
    let mut rng = test_rng(803);
    let account = IdentityKeyPair::generate(&mut rng);
    let mut seen = SeenOffers::new();
    for _ in 0..=MAX_SEEN_OFFERS {
        let offer = hand_made(&mut rng, u64::MAX);
        assert!(answer(&offer, &account, &mut seen, NOW, &mut rng).is_err());
    }
    let genuine = hand_made(&mut rng, NOW + 1_000 + DEFAULT_OFFER_LIFETIME_MS);
    answer(&genuine, &account, &mut seen, NOW + 1_000, &mut rng).unwrap();

    // The longest allowed offers fill the set, then age out.
    let mut seen = SeenOffers::new();
    let expiry = NOW + MAX_OFFER_LIFETIME_MS;
    for _ in 0..MAX_SEEN_OFFERS {
        let offer = hand_made(&mut rng, expiry);
        answer(&offer, &account, &mut seen, NOW, &mut rng).unwrap();
    }
    let next = hand_made(&mut rng, expiry);
    assert_eq!(
        answer(&next, &account, &mut seen, NOW, &mut rng),
        Err(Error::SeenOffersFull {
            max: MAX_SEEN_OFFERS
        })
    );
    let later = expiry + 1;
    let fresh = hand_made(&mut rng, later + DEFAULT_OFFER_LIFETIME_MS);
    answer(&fresh, &account, &mut seen, later, &mut rng).unwrap();
    assert_eq!(seen.len(), 1);
}

/// Item 8: a replay set stored before the fix, full of offers that never expire, ages
/// out: entries expiring beyond what the primary answers now are dropped.
#[test]
fn a_stored_set_full_of_endless_offers_ages_out() {
    let mut rng = test_rng(804);
    let account = IdentityKeyPair::generate(&mut rng);
    // The encoding of `docs/wire/linking.md`: 0x01 || count u16 || (id 32 || expiry u64)*.
    let mut bytes = vec![0x01];
    bytes.extend_from_slice(&(MAX_SEEN_OFFERS as u16).to_be_bytes());
    for i in 0..MAX_SEEN_OFFERS {
        let mut id = [0u8; 32];
        id[..8].copy_from_slice(&(i as u64).to_be_bytes());
        bytes.extend_from_slice(&id);
        bytes.extend_from_slice(&u64::MAX.to_be_bytes());
    }
    let mut seen = SeenOffers::decode(&bytes).unwrap();
    assert_eq!(seen.len(), MAX_SEEN_OFFERS);
    let genuine = hand_made(&mut rng, NOW + DEFAULT_OFFER_LIFETIME_MS);
    answer(&genuine, &account, &mut seen, NOW, &mut rng).unwrap();
    assert_eq!(seen.len(), 1);
}

/// Item 14: X25519 ignores the top bit of a public key, so an offer replayed with that
/// bit flipped is the same offer; it must not look new to the replay set.
#[test]
fn replayed_offer_with_the_ignored_top_bit_flipped_is_refused() {
    let mut rng = test_rng(1401);
    let account = IdentityKeyPair::generate(&mut rng);
    let mut seen = SeenOffers::new();
    let bytes = offer_bytes(&mut rng, NOW);
    assert_eq!(bytes[32] & 0x80, 0, "a genuine offer has the top bit clear");
    let offer = LinkingOffer::decode(&bytes).unwrap();
    answer(&offer, &account, &mut seen, NOW, &mut rng).unwrap();

    let mut flipped = bytes.clone();
    flipped[32] |= 0x80;
    let replay = LinkingOffer::decode(&flipped)
        .and_then(|offer| answer(&offer, &account, &mut seen, NOW + 1, &mut rng));
    assert_eq!(replay, Err(Error::Malformed("linking offer")));
    assert_eq!(seen.len(), 1);
}
