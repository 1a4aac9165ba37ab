//! # hush-device
//!
//! Linked devices for [hush](https://example.invalid/hush): one account, one primary
//! device and up to a few companion devices, each with its own identity key. The server
//! only relays; it cannot add a device to an account (every device is signed in by the
//! account key and countersigns its own entry) and cannot read anything the devices
//! exchange.
//!
//! What it is:
//!
//! - **Linking** ([`CompanionLinking`], [`PrimaryLinking`]): the companion shows a
//!   [`LinkingOffer`] as a QR code (binary, Base45, see [`base45`]); the primary scans it
//!   and answers with an encrypted [`LinkingMessage`] carrying the account signature; the
//!   companion verifies it and returns a [`Countersignature`]. X25519 + HKDF-SHA256 +
//!   AES-256-GCM, an HMAC under the QR's linking secret, XEdDSA signatures with
//!   domain-separation prefixes `0x06 0x00` / `0x06 0x01` / `0x06 0x02` / `0x06 0x03` (hush's
//!   own values, after the idea WhatsApp describes for its multi-device design). The
//!   account signs the user id and device id it gives the companion; the companion
//!   signs its consent to be that device of that account ([`sign_membership`]). Both
//!   state machines serialise between steps; the primary's [`SeenOffers`] refuses a
//!   second use.
//! - **Signed device lists** ([`DeviceList`], [`SignedDeviceList`],
//!   [`KnownDeviceLists`]): the primary signs the account's devices with a version that
//!   grows on every change, each entry carrying its device's membership signature for the
//!   account's user id; contacts check every signature, refuse rollback, equivocation and
//!   identity changes, and stop sending to companions when the primary has not been seen
//!   for [`DeviceListPolicy::companion_expiry_ms`]. Format-1 lists (before membership
//!   signatures) are read by [`DeviceListV1`] only to carry their account key and version
//!   over.
//! - **History hand-off** ([`HistoryHandOff`]): a key and a transcript hash both sides
//!   derive during linking, for a `hush-backup` encrypted stream bound to this linking.
//!
//! What it is not: a transport, a server, or a message store. Time comes in as
//! milliseconds since the Unix epoch and randomness as a [`rand_core::CryptoRng`].
//!
//! Wire formats, labels, limits and the error each malformation gives:
//! `docs/wire/linking.md` and `docs/wire/device-list.md`.
//!
//! ## Example
//!
//! ```
//! use hush_core::{IdentityKeyPair, rng::os_rng};
//! use hush_device::{
//!     CompanionAssignment, CompanionLinking, Countersignature, DeviceList, DeviceListPolicy,
//!     KnownDeviceLists, LinkingMessage, LinkingOffer, PrimaryLinking, SeenOffers,
//!     limits::DEFAULT_OFFER_LIFETIME_MS,
//! };
//!
//! let mut rng = os_rng();
//! let account = IdentityKeyPair::generate(&mut rng);
//! let desktop = IdentityKeyPair::generate(&mut rng);
//! let now = 1_700_000_000_000;
//!
//! // The companion shows an offer as a QR code...
//! let companion = CompanionLinking::new(
//!     &mut rng, desktop.identity_key(), b"ref-42", now, DEFAULT_OFFER_LIFETIME_MS)?;
//! let qr_text = companion.offer().to_qr_text();
//!
//! // ...the primary scans it and answers through the relay...
//! let policy = DeviceListPolicy::default();
//! let mut list =
//!     DeviceList::new(account.identity_key(), b"alice", &account, 1, now, policy, &mut rng)?;
//! let mut seen = SeenOffers::new();
//! let offer = LinkingOffer::from_qr_text(&qr_text)?;
//! let assignment = CompanionAssignment {
//!     user_id: b"alice".to_vec(),
//!     device_id: list.next_device_id(),
//!     key_index: 1,
//! };
//! let (primary, message) =
//!     PrimaryLinking::accept(&offer, &account, &assignment, &mut seen, now + 5_000, &mut rng)?;
//!
//! // ...the companion checks it and countersigns...
//! let message = LinkingMessage::decode(&message.encode())?;
//! let (linked, countersignature) = companion.receive(&message, &desktop, now + 6_000, &mut rng)?;
//! assert_eq!(linked.account_identity, account.identity_key());
//! assert_eq!(linked.metadata.user_id, b"alice");
//!
//! // ...and the primary adds the companion to the signed device list.
//! let countersignature = Countersignature::decode(&countersignature.encode())?;
//! let added = primary.finish(&countersignature, now + 7_000)?;
//! assert_eq!(added.history.transcript_hash(), linked.history.transcript_hash());
//! list.add_companion(added.entry)?;
//! let signed = list.sign(&account, now + 8_000, &mut rng)?;
//!
//! // A contact verifies the list, as Alice's, before sending.
//! let mut contact = KnownDeviceLists::new(DeviceListPolicy::default());
//! let verified = contact.verify(b"alice", &signed.encode())?;
//! assert_eq!(verified.devices_to_send(now + 9_000).len(), 2);
//! // Under another user id the devices' membership signatures do not verify.
//! assert_eq!(
//!     contact.verify(b"mallory", &signed.encode()).unwrap_err(),
//!     hush_device::Error::BadSignature
//! );
//! # Ok::<(), hush_device::Error>(())
//! ```
//!
//! ## Features
//!
//! - `render`: [`render::OfferQr`], QR rendering of offers as Unicode blocks, SVG and PNG.

#![forbid(unsafe_code)]

pub mod base45;
mod codec;
pub mod device_list;
pub mod error;
pub mod history;
pub mod labels;
pub mod limits;
pub mod linking;
pub mod offer;
#[cfg(feature = "render")]
pub mod render;
pub mod seen;

pub use device_list::{
    CheckedDeviceList, DeviceEntry, DeviceEntryV1, DeviceList, DeviceListPolicy, DeviceListV1,
    KnownDeviceLists, PRIMARY_DEVICE_ID, SignedDeviceList, VerifiedDeviceList, sign_membership,
};
pub use error::{Error, Result};
pub use history::{HistoryHandOff, HistoryKey, TranscriptHash};
pub use linking::{
    CompanionAssignment, CompanionLinking, Countersignature, LinkedAccount, LinkedCompanion,
    LinkingMessage, LinkingMetadata, LinkingState, PrimaryLinking,
};
pub use offer::{LinkingOffer, OfferId};
pub use seen::SeenOffers;
