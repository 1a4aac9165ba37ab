//! The client API: [`Device`], one per device of an account.
//!
//! Every operation begins one store transaction, does all its reads, computations and
//! writes inside it, and commits only when everything succeeded. A failed decrypt, a
//! fan-out that stops half way (a missing bundle, a changed identity) or a refused
//! device list leaves the store exactly as it was.
//!
//! Trust model:
//!
//! - A user's **verified device list** (`hush-device`, signed by the account key, each
//!   device on it consenting to its place) is the only source of recipients and the only
//!   source of the identity key each device must present. Lists are verified with their
//!   history in [`Device::accept_device_list`] (rollback, equivocation and account-key
//!   changes refused) and kept in the store. The store is not trusted with them: every
//!   read checks the stored list's signatures again (and, for this account's own list,
//!   its account key), so a list someone wrote into the store is
//!   [`Error::Store`]`("stored device list does not verify")`, not a list to send to. A
//!   list checked once is kept in memory while its bytes stay the same
//!   ([`MAX_CHECKED_LISTS`](crate::limits::MAX_CHECKED_LISTS) users).
//! - The **identity store** remembers, per device address, the identity key first used
//!   with it. If the device list later names another key for the same address, nothing
//!   is sent to or accepted from that address until the app calls
//!   [`Device::accept_identity`] ([`Error::IdentityChanged`]).
//! - A message from a device of a user whose list this device has never accepted gives
//!   [`Error::NoDeviceList`] (and commits nothing): the app fetches and accepts the list,
//!   then calls [`Device::decrypt`] again with the same bytes. A device that is not on
//!   its user's list gives [`Error::UntrustedDevice`].

pub mod backup;
pub mod content;
mod groups;
mod identity;
mod linking;
mod prekeys;
mod receive;
mod safety;
mod send;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hush_core::rng::CryptoRng;
use hush_core::{IdentityKey, IdentityKeyPair};
use hush_device::{
    CheckedDeviceList, DeviceList, DeviceListPolicy, DeviceListV1, KnownDeviceLists,
    PRIMARY_DEVICE_ID, VerifiedDeviceList,
};
use hush_ratchet::{LocalIdentity, ServiceAddress, SessionAddresses, SessionOptions, SpqrPolicy};
use hush_x3dh::Trust;
use zeroize::Zeroizing;

use crate::Address;
use crate::error::{Error, Result};
use crate::limits::{MAX_CHECKED_LISTS, MAX_USER_LEN};
use crate::store::{DeviceListStore, IdentityStore, LocalAccount, Peer, Store, Transaction};

pub use content::Content;
pub use groups::group_distribution_id;
pub use hush_device::DeviceEntry;
pub use hush_group::DistributionId;
pub use hush_prekey::{GenerateRequest, RotationPolicy};
pub use linking::{CompanionLink, CompanionLinked, LinkHistory, LinkedDevice, PendingCompanion};
pub use safety::{SAFETY_NUMBER_ITERATIONS, SAFETY_NUMBER_VERSION, SafetyNumber};

/// The key index a primary's own entry carries on its device list (the account key's
/// first index; companions carry the index they were linked under).
const PRIMARY_KEY_INDEX: u32 = 1;

/// The largest registration id (libsignal's: 14 bits, 1..=16380).
const MAX_REGISTRATION_ID: u32 = 16_380;

/// One encrypted message for one device, ready for the server.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Envelope {
    /// The device it is for.
    pub to: Address,
    /// libsignal's ciphertext type: 2 (`SignalMessage`) or 3 (`PreKeySignalMessage`).
    pub message_type: u8,
    /// The ciphertext.
    pub body: Vec<u8>,
}

/// What a send needs before it can go out: bundles for the devices without a session,
/// and, on the primary, its device list to upload when it was just refreshed.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
#[non_exhaustive]
pub struct SendPlan {
    /// The devices (of the recipient, or this account's own other devices) with no
    /// usable session: fetch a prekey bundle for each and pass them to the send.
    pub need_bundles: Vec<Address>,
    /// On the primary, when its device list was due for a refresh
    /// ([`Device::refresh_device_list`]): the list signed again, unchanged, at this
    /// send's time. Upload it (`hush::server::DeviceLists::upload`): contacts stop
    /// sending to this account's companions once the list they hold is older than the
    /// companion expiry (14 days). `None` almost always.
    pub device_list: Option<Vec<u8>>,
}

/// The result of [`Device::send_group`].
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct GroupSend {
    /// Pairwise envelopes carrying this device's sender-key distribution message, one
    /// per member device that did not hold the current chain. Deliver them before (or
    /// with) the group message.
    pub distributions: Vec<Envelope>,
    /// The one group ciphertext (`hush_group::SenderKeyMessage`) for every member
    /// device: the server fans it out.
    pub group_message: Vec<u8>,
}

/// The server's counts of this device's one-time prekeys, as input to
/// [`Device::rotate_prekeys`].
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct PreKeyCounts {
    /// One-time EC prekeys the server still holds.
    pub one_time: u32,
    /// One-time KEM prekeys the server still holds.
    pub kem: u32,
}

impl From<&crate::server::PreKeyCounts> for PreKeyCounts {
    /// What the server's [`crate::server::PreKeyDirectory::counts`] reports, in the form
    /// [`Device::rotate_prekeys`] takes. Counts above `u32::MAX` saturate (no server holds
    /// that many).
    fn from(server: &crate::server::PreKeyCounts) -> Self {
        Self {
            one_time: u32::try_from(server.one_time_prekeys).unwrap_or(u32::MAX),
            kem: u32::try_from(server.kem_prekeys).unwrap_or(u32::MAX),
        }
    }
}

/// A decrypted pairwise message.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct Received {
    /// The device it came from (on its user's verified device list).
    pub from: Address,
    /// What it was.
    pub kind: ReceivedKind,
}

/// What a pairwise message carried.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReceivedKind {
    /// A message to this account.
    Direct {
        /// The application's message.
        plaintext: Zeroizing<Vec<u8>>,
    },
    /// A copy of a message another device of this account sent to `to_user`.
    SentTranscript {
        /// Whom it was sent to.
        to_user: String,
        /// The application's message.
        plaintext: Zeroizing<Vec<u8>>,
    },
    /// The sender's sender key for a group: stored; its group messages now decrypt.
    GroupDistribution {
        /// The group's distribution id.
        distribution_id: DistributionId,
    },
}

impl fmt::Debug for ReceivedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Plaintexts are the user's messages: never in logs.
        match self {
            Self::Direct { plaintext } => f
                .debug_struct("Direct")
                .field("plaintext_len", &plaintext.len())
                .finish_non_exhaustive(),
            Self::SentTranscript { to_user, plaintext } => f
                .debug_struct("SentTranscript")
                .field("to_user", to_user)
                .field("plaintext_len", &plaintext.len())
                .finish_non_exhaustive(),
            Self::GroupDistribution { distribution_id } => f
                .debug_struct("GroupDistribution")
                .field("distribution_id", distribution_id)
                .finish(),
        }
    }
}

/// A decrypted group message.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupReceived {
    /// The sending device.
    pub from: Address,
    /// The group's distribution id.
    pub distribution_id: DistributionId,
    /// The application's message.
    pub plaintext: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for GroupReceived {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            from,
            distribution_id,
            plaintext,
        } = self;
        f.debug_struct("GroupReceived")
            .field("from", from)
            .field("distribution_id", distribution_id)
            .field("plaintext_len", &plaintext.len())
            .finish_non_exhaustive()
    }
}

/// One device of an account: its identity, prekeys, sessions, sender keys and the
/// verified device lists of the users it talks to, all in the store `S`.
///
/// Methods take `&self`; each runs in one transaction of `S` (transactions of one store
/// are serialised by the store). Randomness and the current time (milliseconds since
/// the Unix epoch) are passed in. The plaintext framing inside every pairwise message is
/// described in `docs/wire/content.md`.
///
/// ```
/// use hush::store::MemoryStore;
/// use hush::{Device, GenerateRequest, ReceivedKind};
/// use hush_prekey::{DeviceKeys, UploadPolicy, validate_upload};
///
/// let mut rng = hush_core::rng::os_rng();
/// let now = 1_700_000_000_000;
/// let alice = Device::create_account(MemoryStore::new(), "alice", now, &mut rng)?;
/// let bob = Device::create_account(MemoryStore::new(), "bob", now, &mut rng)?;
///
/// // Bob publishes prekeys and his signed device list; the server hands out a bundle.
/// let mut request = GenerateRequest::default();
/// request.one_time_prekeys = 2;
/// request.kem_prekeys = 2;
/// let upload = bob.generate_prekeys(&request, now, &mut rng)?;
/// let validated = validate_upload(&bob.identity_key(), &upload, &UploadPolicy::default(), now, &mut rng)?;
/// let mut server_keys = DeviceKeys::new(bob.registration_id(), 1, bob.identity_key())?;
/// server_keys.apply_upload(&validated)?;
/// let bundle = server_keys.take_bundle()?.bundle().encode();
///
/// // Each side accepts the other's verified device list (the only source of recipients).
/// alice.accept_device_list("bob", &bob.own_device_list()?, now)?;
/// bob.accept_device_list("alice", &alice.own_device_list()?, now)?;
///
/// // Alice asks which devices need a bundle, then encrypts to every device of Bob.
/// let plan = alice.prepare_send("bob", now, &mut rng)?;
/// assert_eq!(plan.need_bundles, [bob.address().clone()]);
/// let envelopes = alice.encrypt("bob", b"hi Bob", &[(bob.address().clone(), &bundle)], now, &mut rng)?;
///
/// let received = bob.decrypt(alice.address(), envelopes[0].message_type, &envelopes[0].body, now, &mut rng)?;
/// let ReceivedKind::Direct { plaintext } = received.kind else { panic!() };
/// assert_eq!(plaintext.as_slice(), b"hi Bob");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Device<S: Store> {
    store: S,
    account: LocalAccount,
    address: Address,
    policy: DeviceListPolicy,
    checked: CheckedLists,
    spqr: SpqrPolicy,
}

impl<S: Store> fmt::Debug for Device<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Device")
            .field("address", &self.address)
            .field("identity_key", &self.account.identity.identity_key())
            .field("account_key", &self.account.account_key)
            .finish_non_exhaustive()
    }
}

fn check_user(user: &str) -> Result<()> {
    if user.is_empty() || user.len() > MAX_USER_LEN {
        return Err(Error::InvalidArgument(
            "user name empty or longer than MAX_USER_LEN",
        ));
    }
    Ok(())
}

fn system_time(now_ms: u64) -> Result<SystemTime> {
    UNIX_EPOCH
        .checked_add(Duration::from_millis(now_ms))
        .ok_or(Error::InvalidArgument("now_ms out of range"))
}

fn registration_id<R: CryptoRng + ?Sized>(rng: &mut R) -> u32 {
    loop {
        let candidate = rng.next_u32() & 0x3fff;
        if (1..=MAX_REGISTRATION_ID).contains(&candidate) {
            return candidate;
        }
    }
}

/// A trust decision that accepts exactly the identity key the device list gives.
fn expect_identity(expected: IdentityKey) -> impl Fn(&IdentityKey) -> Trust {
    move |key: &IdentityKey| {
        if *key == expected {
            Trust::Trusted
        } else {
            Trust::Untrusted
        }
    }
}

/// Compares `key` with the identity recorded for `address`, recording it on first use.
fn check_identity<T: Transaction>(tx: &mut T, address: &Address, key: &IdentityKey) -> Result<()> {
    let known = tx.remote_identity(address)?;
    check_known_identity(tx, address, known, key)
}

/// [`check_identity`] with the recorded identity already read. On first use the key is
/// recorded only if no other user's device has it ([`Error::DeviceKeyOfAnotherUser`]).
fn check_known_identity<T: Transaction>(
    tx: &mut T,
    address: &Address,
    known: Option<IdentityKey>,
    key: &IdentityKey,
) -> Result<()> {
    match known {
        Some(known) if known == *key => Ok(()),
        Some(_) => Err(Error::IdentityChanged {
            address: address.clone(),
            identity_key: *key,
        }),
        None => {
            check_key_unclaimed(tx, address.name(), key)?;
            tx.set_remote_identity(address, key)
        }
    }
}

/// Fails with [`Error::DeviceKeyOfAnotherUser`] if `key` is recorded for a device of a
/// user other than `user`.
fn check_key_unclaimed<T: Transaction>(tx: &mut T, user: &str, key: &IdentityKey) -> Result<()> {
    match tx
        .addresses_with_identity(key)?
        .into_iter()
        .find(|other| other.name() != user)
    {
        Some(address) => Err(Error::DeviceKeyOfAnotherUser { address }),
        None => Ok(()),
    }
}

/// What the store holds about one device (one [`Transaction::peers`] entry).
fn read_peer<T: Transaction>(tx: &mut T, address: &Address) -> Result<Peer> {
    Ok(Peer::new(
        tx.remote_identity(address)?,
        tx.session(address)?,
    ))
}

/// `targets` (as [`Device::targets`] gives them) with what the store holds about each,
/// read with one [`Transaction::peers`] call per user.
fn with_peers<T: Transaction>(
    tx: &mut T,
    targets: Vec<(Address, IdentityKey, bool)>,
) -> Result<Vec<(Address, IdentityKey, bool, Peer)>> {
    let mut out = Vec::with_capacity(targets.len());
    let mut rest = targets.as_slice();
    while let Some((first, _, _)) = rest.first() {
        let run = rest
            .iter()
            .take_while(|(address, _, _)| address.name() == first.name())
            .count();
        let (same_user, tail) = rest.split_at(run);
        let ids: Vec<u32> = same_user.iter().map(|(a, _, _)| a.device_id()).collect();
        let peers = tx.peers(first.name(), &ids)?;
        if peers.len() != same_user.len() {
            return Err(Error::Store("store answered peers for other devices"));
        }
        for ((address, key, own), peer) in same_user.iter().zip(peers) {
            out.push((address.clone(), *key, *own, peer));
        }
        rest = tail;
    }
    Ok(out)
}

/// Maps the ratchet's refusal of an identity to the device-level error.
fn untrusted(address: &Address) -> impl FnOnce(hush_ratchet::Error) -> Error + '_ {
    move |error| match error {
        hush_ratchet::Error::UntrustedIdentity | hush_ratchet::Error::IdentityChanged => {
            Error::UntrustedDevice {
                address: address.clone(),
            }
        }
        other => Error::Session(other),
    }
}

/// A device list as the store holds it: in the current format, or in format 1 (written
/// by an earlier version, before membership signatures), which is never sent to.
enum StoredList {
    /// A list of the current format.
    Current(VerifiedDeviceList),
    /// A format-1 list: only its account key and version carry over.
    Format1(DeviceListV1),
}

/// The lists this device has checked since it was opened, by user: the stored bytes and
/// what they verified to. A stored list is used only once its signatures are checked
/// (`docs/wire/store.md`, "Device lists are checked when read"); this makes the check once
/// per list rather than once per send.
#[derive(Default)]
struct CheckedLists {
    lists: Mutex<BTreeMap<String, (Vec<u8>, VerifiedDeviceList)>>,
}

impl CheckedLists {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, (Vec<u8>, VerifiedDeviceList)>> {
        // Nothing panics while the lock is held; a poisoned lock still guards whole entries.
        self.lists.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The verified list for `user` if `bytes` are the bytes checked last for it.
    fn get(&self, user: &str, bytes: &[u8]) -> Option<VerifiedDeviceList> {
        self.lock()
            .get(user)
            .filter(|(checked, _)| checked.as_slice() == bytes)
            .map(|(_, list)| list.clone())
    }

    fn insert(&self, user: &str, bytes: &[u8], list: VerifiedDeviceList) {
        let mut lists = self.lock();
        if lists.len() >= MAX_CHECKED_LISTS && !lists.contains_key(user) {
            lists.pop_first();
        }
        lists.insert(user.to_owned(), (bytes.to_vec(), list));
    }
}

/// The addresses a verified list sends to at `now_ms`.
fn addresses(user: &str, list: &VerifiedDeviceList, now_ms: u64) -> Result<Vec<Address>> {
    list.devices_to_send(now_ms)
        .iter()
        .map(|e| Address::new(user, e.device_id).map_err(Error::from))
        .collect()
}

impl<S: Store> Device<S> {
    /// Creates a new account on an empty store: this device is its primary (device id
    /// 1), with a fresh identity key (which is also the account key) and registration
    /// id, and an own device list holding only itself, signed by the account key (see
    /// [`Device::own_device_list`]).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for an empty user or one longer than
    /// [`MAX_USER_LEN`](crate::limits::MAX_USER_LEN); [`Error::AccountExists`] if the
    /// store holds an account; [`Error::Store`].
    pub fn create_account<R: CryptoRng + ?Sized>(
        store: S,
        user: &str,
        now_ms: u64,
        rng: &mut R,
    ) -> Result<Self> {
        check_user(user)?;
        let identity = IdentityKeyPair::generate(rng);
        let key = identity.identity_key();
        let policy = DeviceListPolicy::default();
        let mut list = DeviceList::new(
            key,
            user.as_bytes(),
            &identity,
            PRIMARY_KEY_INDEX,
            now_ms,
            policy,
            rng,
        )?;
        let signed = list.sign(&identity, now_ms, rng)?.encode();
        let account = LocalAccount {
            user: user.to_owned(),
            device_id: PRIMARY_DEVICE_ID,
            registration_id: registration_id(rng),
            identity,
            account_key: key,
        };
        {
            let mut tx = store.transaction()?;
            if tx.local_account()?.is_some() {
                return Err(Error::AccountExists);
            }
            tx.set_local_account(&account)?;
            tx.set_own_device_list(&signed)?;
            tx.commit()?;
        }
        Self::with_account(store, account)
    }

    /// Sets up a companion device on an empty store, from what linking gave it
    /// (`hush_device::LinkedAccount`): the account's user id, its device id, its own
    /// identity key pair (the one it showed in its linking offer) and the account key.
    /// A fresh registration id is drawn. The companion has no device list until it
    /// accepts one for its own user with [`Device::accept_device_list`].
    ///
    /// [`CompanionLink::finish`] calls it with the user id and device id the account
    /// signed; an app that links by other means gives the primary this device's
    /// [`Device::membership_entry`] to add.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a bad user or a device id below 2;
    /// [`Error::AccountExists`]; [`Error::Store`].
    pub fn create_companion<R: CryptoRng + ?Sized>(
        store: S,
        user: &str,
        device_id: u32,
        identity: IdentityKeyPair,
        account_key: IdentityKey,
        rng: &mut R,
    ) -> Result<Self> {
        check_user(user)?;
        if device_id <= PRIMARY_DEVICE_ID {
            return Err(Error::InvalidArgument(
                "a companion's device id is 2 or more",
            ));
        }
        let account = LocalAccount {
            user: user.to_owned(),
            device_id,
            registration_id: registration_id(rng),
            identity,
            account_key,
        };
        {
            let mut tx = store.transaction()?;
            if tx.local_account()?.is_some() {
                return Err(Error::AccountExists);
            }
            tx.set_local_account(&account)?;
            tx.commit()?;
        }
        Self::with_account(store, account)
    }

    /// Whether `store` holds an account: [`Device::open`] it if so, otherwise create or
    /// restore one ([`Device::create_account`], [`Device::create_companion`],
    /// [`Device::restore_account`]). Asking first keeps the store, which `open` would
    /// consume on [`Error::NoAccount`].
    ///
    /// ```
    /// use hush::Device;
    /// use hush::store::MemoryStore;
    ///
    /// let store = MemoryStore::new();
    /// let mut rng = hush_core::rng::os_rng();
    /// let device = if Device::has_account(&store)? {
    ///     Device::open(store)?
    /// } else {
    ///     Device::create_account(store, "alice", 1_700_000_000_000, &mut rng)?
    /// };
    /// assert!(Device::has_account(device.store())?);
    /// # Ok::<(), hush::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub fn has_account(store: &S) -> Result<bool> {
        let mut tx = store.transaction()?;
        Ok(tx.local_account()?.is_some())
    }

    /// Opens the device whose account the store holds.
    ///
    /// # Errors
    ///
    /// [`Error::NoAccount`] if the store holds none (the store is dropped then: ask
    /// [`Device::has_account`] first to keep it); [`Error::Store`].
    pub fn open(store: S) -> Result<Self> {
        let account = {
            let mut tx = store.transaction()?;
            tx.local_account()?.ok_or(Error::NoAccount)?
        };
        Self::with_account(store, account)
    }

    fn with_account(store: S, account: LocalAccount) -> Result<Self> {
        let address = Address::new(account.user.as_str(), account.device_id)?;
        Ok(Self {
            store,
            account,
            address,
            policy: DeviceListPolicy::default(),
            checked: CheckedLists::default(),
            spqr: SpqrPolicy::default(),
        })
    }

    /// Whether this device's sessions run the post-quantum ratchet (SPQR). The default,
    /// [`SpqrPolicy::Required`], is libsignal v0.101's: sessions run it and peers without
    /// it are refused. [`SpqrPolicy::Allowed`] also talks to peers that run none (older
    /// libsignal, hush before SPQR); with it, sessions stored before SPQR keep working.
    /// Under `Required` such a stored session is replaced: [`Device::prepare_send`] asks
    /// for the device's bundle and [`Device::encrypt`] starts a new session from it. Not
    /// stored: set it each time the device is opened.
    pub const fn set_spqr_policy(&mut self, policy: SpqrPolicy) {
        self.spqr = policy;
    }

    /// The SPQR policy in force (see [`Device::set_spqr_policy`]).
    #[must_use]
    pub const fn spqr_policy(&self) -> SpqrPolicy {
        self.spqr
    }

    /// The session options for a session with `peer`: the SPQR policy, and both
    /// addresses when both names are service ids (libsignal's `addresses` field).
    fn session_options(&self, peer: &Address) -> SessionOptions {
        let addresses = match (
            ServiceAddress::parse(self.address.name(), self.address.device_id()),
            ServiceAddress::parse(peer.name(), peer.device_id()),
        ) {
            (Some(local), Some(remote)) => Some(SessionAddresses { local, remote }),
            _ => None,
        };
        SessionOptions::new(self.spqr).with_addresses(addresses)
    }

    /// This device's address (user id and device id).
    #[must_use]
    pub const fn address(&self) -> &Address {
        &self.address
    }

    /// This device's identity key (its sessions and prekeys are under it).
    #[must_use]
    pub fn identity_key(&self) -> IdentityKey {
        self.account.identity.identity_key()
    }

    /// The account key, which signs the account's device list.
    #[must_use]
    pub const fn account_key(&self) -> &IdentityKey {
        &self.account.account_key
    }

    /// This device's registration id.
    #[must_use]
    pub const fn registration_id(&self) -> u32 {
        self.account.registration_id
    }

    /// This device's entry for its account's device list, added at `now_ms` under key
    /// index 1, with its membership signature: its consent, by its identity key, to be
    /// this device id of this user under this account key
    /// (`hush_device::sign_membership`). Linking gives the primary the same entry;
    /// this is for an app that sets companions up by other means
    /// ([`Device::create_companion`], then [`Device::add_companion`] on the primary).
    /// Draws 64 bytes from `rng`.
    ///
    /// # Errors
    ///
    /// [`Error::Device`] if the user id is not a valid account address (cannot happen
    /// for an account this library created).
    pub fn membership_entry<R: CryptoRng + ?Sized>(
        &self,
        now_ms: u64,
        rng: &mut R,
    ) -> Result<DeviceEntry> {
        let membership_signature = hush_device::sign_membership(
            &self.account.identity,
            &self.account.account_key,
            self.account.user.as_bytes(),
            self.account.device_id,
            rng,
        )?;
        Ok(DeviceEntry {
            device_id: self.account.device_id,
            identity_key: self.account.identity.identity_key(),
            key_index: PRIMARY_KEY_INDEX,
            added_at_ms: now_ms,
            membership_signature,
        })
    }

    /// The store.
    #[must_use]
    pub const fn store(&self) -> &S {
        &self.store
    }

    /// Reads the stored device list of `user` (this account's own for its own user),
    /// checking it again: its signatures, by the account key and each device's membership
    /// for `user` (`hush_device::CheckedDeviceList`), and for this account's own list the
    /// account key. Whoever can write the store could have put any bytes there; a list
    /// that does not check is [`Error::Store`]`("stored device list does not verify")`,
    /// not a list to send to. A list checked once is served from `self.checked` while its
    /// bytes stay the same. A format-1 list is returned as such (its account signature
    /// checked).
    fn stored_list(&self, bytes: &[u8], user: &str) -> Result<StoredList> {
        const BAD: Error = Error::Store("stored device list does not verify");
        let own = user == self.account.user;
        if let Some(list) = self.checked.get(user, bytes) {
            return Ok(StoredList::Current(list));
        }
        let list = match CheckedDeviceList::new(bytes, user.as_bytes(), &self.policy) {
            Ok(checked) => checked.assume_history_checked(self.policy),
            Err(hush_device::Error::UnknownVersion(1)) => {
                let v1 = KnownDeviceLists::new(self.policy)
                    .verify_v1(user.as_bytes(), bytes)
                    .map_err(|_| BAD)?;
                if own && *v1.account_identity() != self.account.account_key {
                    return Err(BAD);
                }
                return Ok(StoredList::Format1(v1));
            }
            Err(_) => return Err(BAD),
        };
        if own && *list.account_identity() != self.account.account_key {
            return Err(BAD);
        }
        self.checked.insert(user, bytes, list.clone());
        Ok(StoredList::Current(list))
    }

    fn local(&self) -> LocalIdentity<'_> {
        LocalIdentity {
            identity: &self.account.identity,
            registration_id: self.account.registration_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use hush_prekey::{DeviceKeys, UploadPolicy, validate_upload};
    use hush_test_support::test_rng;

    use super::*;
    use crate::store::{MemoryStore, PreKeyStore, SessionStore};

    const NOW: u64 = 1_700_000_000_000;

    fn bundle_of(device: &Device<MemoryStore>, rng: &mut rand_chacha::ChaCha20Rng) -> Vec<u8> {
        let mut request = GenerateRequest::default();
        request.one_time_prekeys = 1;
        request.kem_prekeys = 1;
        let upload = device.generate_prekeys(&request, NOW, rng).unwrap();
        let validated = validate_upload(
            &device.identity_key(),
            &upload,
            &UploadPolicy::default(),
            NOW,
            rng,
        )
        .unwrap();
        let mut keys = DeviceKeys::new(
            device.registration_id(),
            device.address().device_id(),
            device.identity_key(),
        )
        .unwrap();
        keys.apply_upload(&validated).unwrap();
        keys.take_bundle().unwrap().bundle().encode()
    }

    /// The public API never sends a transcript to another account, so build one by hand.
    #[test]
    fn a_sent_transcript_from_another_account_is_refused() {
        let mut rng = test_rng(21);
        let alice = Device::create_account(MemoryStore::new(), "alice", NOW, &mut rng).unwrap();
        let bob = Device::create_account(MemoryStore::new(), "bob", NOW, &mut rng).unwrap();
        alice
            .accept_device_list("bob", &bob.own_device_list().unwrap(), NOW)
            .unwrap();
        bob.accept_device_list("alice", &alice.own_device_list().unwrap(), NOW)
            .unwrap();
        let bundle = bundle_of(&bob, &mut rng);
        let to = bob.address().clone();
        let content = content::encode_sent_transcript("carol", b"forged").unwrap();
        let envelope = {
            let mut tx = alice.store().transaction().unwrap();
            let envelope = alice
                .encrypt_to(
                    &mut tx,
                    &to,
                    &bob.identity_key(),
                    Peer::default(),
                    &content,
                    &[(to.clone(), bundle.as_slice())],
                    system_time(NOW).unwrap(),
                    &mut rng,
                )
                .unwrap();
            tx.commit().unwrap();
            envelope
        };
        let before = {
            let mut tx = bob.store().transaction().unwrap();
            (
                tx.one_time_prekey_count().unwrap(),
                tx.session(alice.address()).unwrap().is_some(),
            )
        };
        assert_eq!(
            bob.decrypt(
                alice.address(),
                envelope.message_type,
                &envelope.body,
                NOW,
                &mut rng
            ),
            Err(Error::MalformedContent(
                "sent transcript from another account"
            ))
        );
        let mut tx = bob.store().transaction().unwrap();
        assert_eq!(before, (1, false));
        assert_eq!(tx.one_time_prekey_count().unwrap(), 1);
        assert!(tx.session(alice.address()).unwrap().is_none());
    }

    #[test]
    fn registration_ids_are_in_range() {
        let mut rng = test_rng(22);
        for _ in 0..2_000 {
            assert!((1..=MAX_REGISTRATION_ID).contains(&registration_id(&mut rng)));
        }
        // All-zero and all-one draws are skipped, not returned.
        let mut bytes = vec![0; 4];
        bytes.extend_from_slice(&[0xff; 4]);
        bytes.extend_from_slice(&7u32.to_le_bytes());
        let mut replay = hush_test_support::ReplayRng::new(bytes);
        assert_eq!(registration_id(&mut replay), 7);
    }
}
