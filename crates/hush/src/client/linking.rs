//! Linking a companion device to an account, and the history hand-off that follows
//! (`hush-device`'s protocol, `docs/wire/linking.md`).
//!
//! The flow, with the server only relaying bytes:
//!
//! 1. The companion (no account yet) calls [`CompanionLink::start`]: a fresh identity
//!    key pair and an offer it shows as a QR code ([`CompanionLink::offer_qr_text`]).
//! 2. The primary scans it and calls [`Device::accept_companion`]: a
//!    [`PendingCompanion`] to keep and a linking message to relay to the companion.
//! 3. The companion calls [`CompanionLink::finish`]: it verifies the account's
//!    signature, creates its [`Device`] in its (empty) store with the user id, device id
//!    and account key the account signed (never what the server says), and returns a
//!    countersignature to relay back, with its consent to be that device of that user
//!    (its membership signature, which goes into its device-list entry).
//! 4. The primary calls [`Device::finish_companion`]: it checks the countersignature and
//!    adds the companion to the account's signed device list (new version) in one store
//!    transaction. The new list goes to the server; the companion accepts it with
//!    [`Device::accept_device_list`].
//! 5. History: both sides hold the same [`LinkHistory`]; the primary encrypts the recent
//!    history the app gives it with [`LinkHistory::send`], the companion decrypts it with
//!    [`LinkHistory::receive`]. What the history bytes are is the app's business.
//!
//! Progress and summaries of history streams are [`crate::backup::Progress`] and
//! [`crate::backup::StreamSummary`].
//!
//! Offers already answered are recorded in the primary's store
//! (`hush_device::SeenOffers`, [`crate::store::DeviceListStore::seen_offers`]) until they
//! expire, so an offer is answered once even across a restart; a second
//! [`Device::finish_companion`] for the same companion key is refused by the device list
//! too (a key appears once on it).

use std::fmt;
use std::io::{Read, Write};

use hush_core::IdentityKeyPair;
use hush_core::rng::CryptoRng;
use hush_device::limits::DEFAULT_OFFER_LIFETIME_MS;
use hush_device::{
    CompanionAssignment, CompanionLinking, Countersignature, HistoryHandOff, LinkingMessage,
    LinkingOffer, PRIMARY_DEVICE_ID, PrimaryLinking, SeenOffers,
};
use zeroize::Zeroizing;

use super::{Device, PRIMARY_KEY_INDEX};
use crate::error::{Error, Result};
use crate::store::{DeviceListStore, Store, Transaction};

use hush_backup::{Progress, StreamSummary};

/// The companion's side of a linking in progress: its new identity key pair and the
/// offer it shows. Secrets are wiped on drop and never printed.
pub struct CompanionLink {
    identity: IdentityKeyPair,
    state: CompanionLinking,
}

impl fmt::Debug for CompanionLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompanionLink")
            .field("identity_key", &self.identity.identity_key())
            .finish_non_exhaustive()
    }
}

/// What the companion gets when linking succeeds.
#[derive(Debug)]
#[non_exhaustive]
pub struct CompanionLinked<S: Store> {
    /// The companion's device, created in its store. It has no device list yet: accept
    /// the one the primary uploads ([`Device::accept_device_list`] with its own user).
    pub device: Device<S>,
    /// The countersignature to relay to the primary
    /// (`hush_device::Countersignature` bytes).
    pub countersignature: Vec<u8>,
    /// The key for receiving the primary's history.
    pub history: LinkHistory,
}

/// The primary's side of a linking in progress, between [`Device::accept_companion`]
/// and [`Device::finish_companion`]. Secrets are wiped on drop and never printed.
pub struct PendingCompanion {
    state: PrimaryLinking,
}

impl PendingCompanion {
    /// The device id the companion will have.
    #[must_use]
    pub const fn device_id(&self) -> u32 {
        self.state.companion_device_id()
    }

    /// The serialised state, to keep while waiting for the countersignature: the
    /// protocol's primary state as it is (`docs/wire/linking.md`, "Serialised states").
    /// It holds the history key: wiped when dropped; store it as a secret.
    #[must_use]
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        self.state.encode()
    }

    /// Decodes a state made by [`PendingCompanion::encode`].
    ///
    /// # Errors
    ///
    /// [`Error::Device`]: the errors of `hush_device::PrimaryLinking::decode`.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        Ok(Self {
            state: PrimaryLinking::decode(bytes)?,
        })
    }
}

/// Version byte of the facade's companion state ([`CompanionLink::encode`]): 2, for the
/// version-2 linking protocol state it wraps.
const FACADE_STATE_VERSION: u8 = 2;

/// Splits the facade's companion state into its length-prefixed head and the protocol
/// state after it.
fn split_state<'a>(bytes: &'a [u8], what: &'static str) -> Result<(&'a [u8], &'a [u8])> {
    let (&version, rest) = bytes
        .split_first()
        .ok_or(hush_device::Error::Malformed(what))?;
    if version != FACADE_STATE_VERSION {
        return Err(hush_device::Error::UnknownVersion(version).into());
    }
    let (&len, rest) = rest
        .split_first()
        .ok_or(hush_device::Error::Malformed(what))?;
    if rest.len() < usize::from(len) {
        return Err(hush_device::Error::Malformed(what).into());
    }
    Ok(rest.split_at(usize::from(len)))
}

impl fmt::Debug for PendingCompanion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingCompanion")
            .field("device_id", &self.device_id())
            .finish_non_exhaustive()
    }
}

/// What the primary gets when linking succeeds.
#[derive(Debug)]
#[non_exhaustive]
pub struct LinkedDevice {
    /// The companion's entry on the device list.
    pub entry: hush_device::DeviceEntry,
    /// The new signed device list: upload it (and the companion accepts it).
    pub device_list: Vec<u8>,
    /// The key for sending history to the companion.
    pub history: LinkHistory,
}

/// The history hand-off key of one linking, the same on both sides
/// (`hush_device::HistoryHandOff`): a `hush-backup` stream bound to that linking's
/// transcript, so a stream made for another linking fails before any plaintext comes
/// out. The key is wiped on drop and never printed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LinkHistory(HistoryHandOff);

impl LinkHistory {
    /// Primary side: encrypts the history `reader` yields into `writer`. `total_len`
    /// (plaintext bytes, if known) is passed to `progress`, called after each chunk.
    ///
    /// # Errors
    ///
    /// [`Error::Device`] with `hush_device::Error::HistoryStream` (I/O, stream too
    /// long).
    pub fn send<Rng: CryptoRng + ?Sized>(
        &self,
        rng: &mut Rng,
        reader: impl Read,
        writer: impl Write,
        total_len: Option<u64>,
        progress: impl FnMut(Progress),
    ) -> Result<StreamSummary> {
        Ok(self.0.send(rng, reader, writer, total_len, progress)?)
    }

    /// Companion side: decrypts a history stream from `reader` into `writer`.
    /// `total_len` (stream bytes, if known) is passed to `progress`.
    ///
    /// # Errors
    ///
    /// [`Error::Device`] with `hush_device::Error::HistoryStream`: `WrongKey` or
    /// `HeaderAuthentication` for a stream of another linking, `CorruptedChunk`,
    /// `Truncated`, `TrailingData`, I/O. On error, discard what `writer` received.
    pub fn receive(
        &self,
        reader: impl Read,
        writer: impl Write,
        total_len: Option<u64>,
        progress: impl FnMut(Progress),
    ) -> Result<StreamSummary> {
        Ok(self.0.receive(reader, writer, total_len, progress)?)
    }

    /// The underlying `hush-device` hand-off.
    #[must_use]
    pub const fn hand_off(&self) -> &HistoryHandOff {
        &self.0
    }
}

impl CompanionLink {
    /// Starts linking on a device that has no account: draws a fresh identity key pair
    /// and an offer valid for [`DEFAULT_OFFER_LIFETIME_MS`] from `now_ms`.
    /// `server_reference` names the relay channel the primary answers on (1 to
    /// `hush_device::limits::MAX_SERVER_REFERENCE_LEN` bytes).
    ///
    /// # Errors
    ///
    /// [`Error::Device`] (`Malformed("server reference")` for an empty or too long
    /// reference, `Malformed("offer lifetime")` if the clock overflows).
    pub fn start<R: CryptoRng + ?Sized>(
        server_reference: &[u8],
        now_ms: u64,
        rng: &mut R,
    ) -> Result<Self> {
        let identity = IdentityKeyPair::generate(rng);
        let state = CompanionLinking::new(
            rng,
            identity.identity_key(),
            server_reference,
            now_ms,
            DEFAULT_OFFER_LIFETIME_MS,
        )?;
        Ok(Self { identity, state })
    }

    /// The serialised state, to keep while waiting for the linking message (across a
    /// restart, say): `docs/wire/linking.md` ("Facade states"). It holds the new
    /// identity's private key and the linking secret: wiped when dropped; store it
    /// as a secret.
    #[must_use]
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let identity = self.identity.encode();
        let state = self.state.encode();
        let mut out = Zeroizing::new(Vec::with_capacity(2 + identity.len() + state.len()));
        out.push(FACADE_STATE_VERSION);
        // An identity key pair's protobuf form is 69 bytes, well under 256.
        out.push(u8::try_from(identity.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(&identity);
        out.extend_from_slice(&state);
        out
    }

    /// Decodes a state made by [`CompanionLink::encode`].
    ///
    /// # Errors
    ///
    /// [`Error::Device`]: `UnknownVersion`; `Malformed("companion link")` for a
    /// truncated state, a bad or non-canonical identity key pair or one that is not the
    /// offer's; the errors of `hush_device::CompanionLinking::decode`.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let (identity, state) = split_state(bytes, "companion link")?;
        let head = identity;
        let identity = IdentityKeyPair::decode(head)
            .map_err(|_| hush_device::Error::Malformed("companion link"))?;
        let state = CompanionLinking::decode(state)?;
        // One encoding per state: the key pair must be in its canonical protobuf form.
        // (Compared in constant time: both sides hold the private key.)
        if !hush_core::kdf::constant_time_eq(&identity.encode(), head)
            || *state.offer().companion_identity() != identity.identity_key()
        {
            return Err(hush_device::Error::Malformed("companion link").into());
        }
        Ok(Self { identity, state })
    }

    /// The offer, e.g. to render as a QR code.
    #[must_use]
    pub const fn offer(&self) -> &LinkingOffer {
        self.state.offer()
    }

    /// The offer as QR text (Base45): show it as a QR code. It holds the linking secret:
    /// show it only on this device's screen.
    #[must_use]
    pub fn offer_qr_text(&self) -> Zeroizing<String> {
        self.state.offer().to_qr_text()
    }

    /// Checks the primary's linking message (`message`, relayed by the server), then
    /// creates this companion's [`Device`] in `store` (which must be empty) with the
    /// user id, device id and account key the primary signed: the companion learns
    /// which user it joined from the account's signature, never from the server.
    /// Returns the device, the countersignature to relay back, and the history key.
    /// Consumes the linking either way.
    ///
    /// # Errors
    ///
    /// [`Error::Device`] (`Expired`, `Tampered`, `Malformed`, `WrongLinkingSecret`,
    /// `BadSignature`, or `Malformed("companion device id")` for a device id below 2);
    /// [`Error::InvalidArgument`] for a signed user id that is not UTF-8;
    /// [`Error::AccountExists`]; [`Error::Store`]. No countersignature is returned when
    /// anything failed.
    pub fn finish<S: Store, R: CryptoRng + ?Sized>(
        self,
        store: S,
        message: &[u8],
        now_ms: u64,
        rng: &mut R,
    ) -> Result<CompanionLinked<S>> {
        let message = LinkingMessage::decode(message)?;
        let Self { identity, state } = self;
        let (linked, countersignature) = state.receive(&message, &identity, now_ms, rng)?;
        let device_id = linked.metadata.device_id;
        if device_id <= PRIMARY_DEVICE_ID {
            return Err(Error::Device(hush_device::Error::Malformed(
                "companion device id",
            )));
        }
        let user = core::str::from_utf8(&linked.metadata.user_id)
            .map_err(|_| Error::InvalidArgument("signed user id is not UTF-8"))?;
        let device = Device::create_companion(
            store,
            user,
            device_id,
            identity,
            linked.account_identity,
            rng,
        )?;
        Ok(CompanionLinked {
            device,
            countersignature: countersignature.encode(),
            history: LinkHistory(linked.history),
        })
    }
}

impl<S: Store> Device<S> {
    /// On the primary: answers a companion's offer (`offer_qr_text`, as scanned). Picks
    /// the next free device id, signs the linking with the account key and returns the
    /// state to keep until [`Device::finish_companion`] and the linking message to
    /// relay to the companion. The offer is recorded in the store
    /// ([`DeviceListStore::set_seen_offers`], with expired ones dropped) in the same
    /// transaction that reads the device list, so it is answered once, even across a
    /// restart; nothing else is stored.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] on a companion; [`Error::NoDeviceList`];
    /// [`Error::Device`] (`Malformed`/`UnknownVersion` for a bad offer, `Expired`,
    /// `Replayed`, `TooManyCompanions`, `SeenOffersFull`); [`Error::Store`].
    pub fn accept_companion<R: CryptoRng + ?Sized>(
        &self,
        offer_qr_text: &str,
        now_ms: u64,
        rng: &mut R,
    ) -> Result<(PendingCompanion, Vec<u8>)> {
        if self.account.device_id != PRIMARY_DEVICE_ID {
            return Err(Error::InvalidArgument("only the primary links companions"));
        }
        let offer = LinkingOffer::from_qr_text(offer_qr_text)?;
        let mut tx = self.store.transaction()?;
        let list = self.own_list_to_change(&mut tx, rng)?;
        list.check_room()?;
        let assignment = CompanionAssignment {
            user_id: self.account.user.as_bytes().to_vec(),
            device_id: list.next_device_id(),
            key_index: PRIMARY_KEY_INDEX,
        };
        let mut seen = match tx.seen_offers()? {
            Some(bytes) => SeenOffers::decode(&bytes)
                .map_err(|_| Error::Store("stored seen offers do not decode"))?,
            None => SeenOffers::new(),
        };
        seen.evict_expired(now_ms);
        let (state, message) = PrimaryLinking::accept(
            &offer,
            &self.account.identity,
            &assignment,
            &mut seen,
            now_ms,
            rng,
        )?;
        tx.set_seen_offers(&seen.encode())?;
        tx.commit()?;
        Ok((PendingCompanion { state }, message.encode()))
    }

    /// On the primary: checks the companion's countersignature (relayed by the server)
    /// and, in one store transaction, adds the companion to the account's device list,
    /// signed with a new version. Returns the entry, the new signed list to upload, and
    /// the history key.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] on a companion; [`Error::Device`] (`Malformed` for bad
    /// bytes, `Expired`, `Tampered`, `BadSignature`, `TooManyCompanions`, a device id or
    /// key already on the list); [`Error::NoDeviceList`]; [`Error::Store`]. Nothing is
    /// stored on error.
    pub fn finish_companion<R: CryptoRng + ?Sized>(
        &self,
        pending: PendingCompanion,
        countersignature: &[u8],
        now_ms: u64,
        rng: &mut R,
    ) -> Result<LinkedDevice> {
        if self.account.device_id != PRIMARY_DEVICE_ID {
            return Err(Error::InvalidArgument("only the primary links companions"));
        }
        let countersignature = Countersignature::decode(countersignature)?;
        let linked = pending.state.finish(&countersignature, now_ms)?;
        let entry = linked.entry;
        let device_list = self.add_companion(entry, now_ms, rng)?;
        Ok(LinkedDevice {
            entry,
            device_list,
            history: LinkHistory(linked.history),
        })
    }
}

#[cfg(test)]
mod tests {
    use hush_test_support::test_rng;

    use super::*;
    use crate::store::MemoryStore;

    const NOW: u64 = 1_700_000_000_000;

    #[test]
    fn debug_output_shows_no_secret() {
        let mut rng = test_rng(96);
        let primary = Device::create_account(MemoryStore::new(), "alice", NOW, &mut rng).unwrap();
        let link = CompanionLink::start(b"relay", NOW, &mut rng).unwrap();
        let shown = format!("{link:?}");
        let key = format!("{:?}", link.identity.identity_key());
        assert_eq!(
            shown,
            format!("CompanionLink {{ identity_key: {key}, .. }}")
        );

        let (pending, message) = primary
            .accept_companion(&link.offer_qr_text(), NOW, &mut rng)
            .unwrap();
        assert_eq!(
            format!("{pending:?}"),
            "PendingCompanion { device_id: 2, .. }"
        );
        let linked = link
            .finish(MemoryStore::new(), &message, NOW, &mut rng)
            .unwrap();
        let history = format!("{:?}", linked.history);
        assert!(history.starts_with("LinkHistory(HistoryHandOff { transcript: "));
        assert!(history.ends_with(", .. })"));
        let secret = hex::encode(*linked.history.hand_off().key().to_bytes());
        assert!(!history.to_lowercase().contains(&secret));
        let bytes = format!("{:?}", *linked.history.hand_off().key().to_bytes());
        assert!(!history.contains(&bytes));
    }
}
