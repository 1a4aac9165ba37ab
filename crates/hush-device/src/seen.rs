//! The primary's replay set: offers it has answered, until they expire.

use std::collections::BTreeMap;

use crate::codec::{Reader, check_version};
use crate::error::{Error, Result};
use crate::limits::{MAX_OFFER_CLOCK_SKEW_MS, MAX_OFFER_LIFETIME_MS, MAX_SEEN_OFFERS};
use crate::offer::OfferId;

/// Version byte of a serialised [`SeenOffers`].
pub const SEEN_OFFERS_VERSION: u8 = 1;

/// The latest expiry an offer answered at `now_ms` may have: `now_ms` plus
/// [`MAX_OFFER_LIFETIME_MS`] plus [`MAX_OFFER_CLOCK_SKEW_MS`] (saturating).
pub(crate) const fn latest_expiry(now_ms: u64) -> u64 {
    now_ms
        .saturating_add(MAX_OFFER_LIFETIME_MS)
        .saturating_add(MAX_OFFER_CLOCK_SKEW_MS)
}

/// The offers a primary has answered, each kept until its expiry (after which the offer
/// is refused as [`Error::Expired`] anyway). Bounded by [`MAX_SEEN_OFFERS`]; since no
/// offer expiring later than [`MAX_OFFER_LIFETIME_MS`] plus [`MAX_OFFER_CLOCK_SKEW_MS`]
/// from now is answered or recorded, every entry ages out within that time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeenOffers {
    offers: BTreeMap<OfferId, u64>,
}

impl SeenOffers {
    /// An empty set.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `id` is in the set.
    #[must_use]
    pub fn contains(&self, id: &OfferId) -> bool {
        self.offers.contains_key(id)
    }

    /// How many offers are remembered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.offers.len()
    }

    /// Whether the set is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.offers.is_empty()
    }

    /// Drops every offer whose expiry is before `now_ms`, and every offer expiring later
    /// than an offer answered at `now_ms` may ([`MAX_OFFER_LIFETIME_MS`] plus
    /// [`MAX_OFFER_CLOCK_SKEW_MS`]): such an offer is refused by
    /// [`crate::PrimaryLinking::accept`] before the set is consulted, so remembering it
    /// protects nothing (a set saved by an earlier version may hold some).
    pub fn evict_expired(&mut self, now_ms: u64) {
        let latest = latest_expiry(now_ms);
        self.offers
            .retain(|_, expiry| *expiry >= now_ms && *expiry <= latest);
    }

    /// Evicts expired offers, then records `id` (expiring at `expires_at_ms`).
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`]`("offer lifetime")` if `expires_at_ms` is later than
    /// `now_ms` plus [`MAX_OFFER_LIFETIME_MS`] plus [`MAX_OFFER_CLOCK_SKEW_MS`];
    /// [`Error::Replayed`] if `id` is already present; [`Error::SeenOffersFull`] if
    /// [`MAX_SEEN_OFFERS`] unexpired offers are present. The set is unchanged on error
    /// apart from the eviction.
    pub fn insert(&mut self, id: OfferId, expires_at_ms: u64, now_ms: u64) -> Result<()> {
        self.evict_expired(now_ms);
        if expires_at_ms > latest_expiry(now_ms) {
            return Err(Error::Malformed("offer lifetime"));
        }
        if self.offers.contains_key(&id) {
            return Err(Error::Replayed);
        }
        if self.offers.len() >= MAX_SEEN_OFFERS {
            return Err(Error::SeenOffersFull {
                max: MAX_SEEN_OFFERS,
            });
        }
        self.offers.insert(id, expires_at_ms);
        Ok(())
    }

    /// The serialised form: version, count u16 BE, then per offer (in increasing id
    /// order) id 32 bytes and expiry u64 BE.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(3 + self.offers.len() * 40);
        out.push(SEEN_OFFERS_VERSION);
        out.extend_from_slice(
            &u16::try_from(self.offers.len())
                .unwrap_or(u16::MAX)
                .to_be_bytes(),
        );
        for (id, expiry) in &self.offers {
            out.extend_from_slice(&id.0);
            out.extend_from_slice(&expiry.to_be_bytes());
        }
        out
    }

    /// Decodes [`SeenOffers::encode`]'s form.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownVersion`]; [`Error::Malformed`]`("seen offers")` for a count above
    /// [`MAX_SEEN_OFFERS`], a length that does not match the count, ids not strictly
    /// increasing.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "seen offers";
        check_version(bytes, SEEN_OFFERS_VERSION, WHAT)?;
        let mut r = Reader::new(bytes, WHAT);
        r.u8()?;
        let count = usize::from(r.u16()?);
        if count > MAX_SEEN_OFFERS || r.remaining() != count * 40 {
            return Err(Error::Malformed(WHAT));
        }
        let mut offers = BTreeMap::new();
        let mut last: Option<OfferId> = None;
        for _ in 0..count {
            let id = OfferId(r.array()?);
            let expiry = r.u64()?;
            if last.is_some_and(|l| l >= id) {
                return Err(Error::Malformed(WHAT));
            }
            last = Some(id);
            offers.insert(id, expiry);
        }
        r.finish()?;
        Ok(Self { offers })
    }
}
