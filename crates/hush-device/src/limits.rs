//! Every bound `hush-device` enforces, in one place.
//!
//! Parsers check these before allocating or looping; `docs/wire/linking.md` and
//! `docs/wire/device-list.md` list them beside the layouts they bound.

/// Default lifetime of a linking offer: 60 seconds from creation to expiry.
pub const DEFAULT_OFFER_LIFETIME_MS: u64 = 60_000;

/// Longest lifetime [`crate::CompanionLinking::new`] accepts for an offer (10 minutes):
/// a QR code shown for longer is a standing invitation to whoever photographs it.
pub const MAX_OFFER_LIFETIME_MS: u64 = 600_000;

/// How far the companion's clock may run ahead of the primary's (1 minute): the primary
/// answers an offer only if it expires no later than its own `now` plus
/// [`MAX_OFFER_LIFETIME_MS`] plus this allowance. A hand-made offer valid for longer
/// (a long-lived phishing QR code) is refused, and every offer in a
/// [`crate::SeenOffers`] ages out within that time.
pub const MAX_OFFER_CLOCK_SKEW_MS: u64 = 60_000;

/// How long after the offer's expiry the companion still accepts the linking message
/// and the primary still accepts the countersignature (30 seconds): the relay needs
/// time to carry a message the primary sent just before the offer expired.
pub const LINKING_GRACE_MS: u64 = 30_000;

/// Longest server reference in an offer, in bytes. The reference is at least 1 byte.
pub const MAX_SERVER_REFERENCE_LEN: usize = 64;

/// How many offer ids a [`crate::SeenOffers`] remembers at once (unexpired ones only;
/// expired ones, and ones expiring later than an offer may, are evicted before each
/// insertion).
pub const MAX_SEEN_OFFERS: usize = 256;

/// Most companion devices a signed device list may carry (the primary is extra). The
/// policy limit ([`crate::DeviceListPolicy::max_companions`], default 4) is usually lower.
pub const MAX_COMPANIONS_PARSED: usize = 16;

/// Most entries (primary plus companions) a signed device list may carry.
pub const MAX_DEVICES_PARSED: usize = MAX_COMPANIONS_PARSED + 1;

/// Default for [`crate::DeviceListPolicy::max_companions`].
pub const DEFAULT_MAX_COMPANIONS: usize = 4;

/// Default for [`crate::DeviceListPolicy::companion_expiry_ms`]: 14 days.
pub const DEFAULT_COMPANION_EXPIRY_MS: u64 = 14 * 24 * 60 * 60 * 1000;

/// Longest account address a [`crate::KnownDeviceLists`] stores, in bytes.
pub const MAX_ACCOUNT_ADDRESS_LEN: usize = 64;

/// Most accounts a serialised [`crate::KnownDeviceLists`] may hold.
pub const MAX_KNOWN_ACCOUNTS: usize = 65_536;

/// Longest Base45 text [`crate::LinkingOffer::from_qr_text`] looks at, in characters
/// (the text of the longest valid offer).
pub const MAX_OFFER_TEXT_LEN: usize = crate::offer::MAX_OFFER_LEN.div_ceil(2) * 3;
