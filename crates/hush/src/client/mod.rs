//! The client API: [`Device`], one per device of an account.
//!
//! Every operation begins one store transaction, does all its reads, computations and
//! writes inside it, and commits only when everything succeeded. A failed decrypt, a
//! fan-out that stops half way (a missing bundle, a changed identity) or a refused
//! device list leaves the store exactly as it was.
//!
//! Trust model:
//!
//! - A user's **verified device list** (`hush-device`, signed by the account key) is the
//!   only source of recipients and the only source of the identity key each device must
//!   present. Lists are verified once, in [`Device::accept_device_list`] (rollback,
//!   equivocation and account-key changes refused), and kept in the store; later reads
//!   of the stored list do not check the signature again.
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
mod linking;

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hush_core::rng::CryptoRng;
use hush_core::{IdentityKey, IdentityKeyPair};
use hush_device::{
    DeviceList, DeviceListPolicy, KnownDeviceLists, PRIMARY_DEVICE_ID, SignedDeviceList,
    VerifiedDeviceList,
};
use hush_group::{
    SenderKeyDistributionMessage, SenderKeyMessage, SenderKeyRecord, SenderKeyTracker,
};
use hush_prekey::{PreKeyBundle, PreKeyIdAllocator, upload_for};
use hush_ratchet::{
    CiphertextMessage, LocalIdentity, PreKeySignalMessage, RemoteBundle, SessionRecord,
};
use hush_x3dh::{AgreementMode, ResponderPreKeys, Trust};
use zeroize::Zeroizing;

use crate::Address;
use crate::error::{Error, Result};
use crate::limits::{MAX_PLAINTEXT_LEN, MAX_USER_LEN};
use crate::store::{
    DeviceListStore, IdentityStore, LocalAccount, Peer, PreKeyStore, SenderKeyStore, SessionStore,
    Store, Transaction,
};

pub use content::Content;
pub use hush_device::DeviceEntry;
pub use hush_group::DistributionId;
pub use hush_prekey::{GenerateRequest, RotationPolicy};
pub use linking::{CompanionLink, CompanionLinked, LinkHistory, LinkedDevice, PendingCompanion};

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

/// What a send needs before it can go out: bundles for the devices without a session.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
#[non_exhaustive]
pub struct SendPlan {
    /// The devices (of the recipient, or this account's own other devices) with no
    /// usable session: fetch a prekey bundle for each and pass them to the send.
    pub need_bundles: Vec<Address>,
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
/// let plan = alice.prepare_send("bob", now)?;
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

/// [`check_identity`] with the recorded identity already read.
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
        None => tx.set_remote_identity(address, key),
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

fn stored_list(bytes: &[u8], policy: DeviceListPolicy) -> Result<VerifiedDeviceList> {
    SignedDeviceList::decode(bytes)
        .map(|list| list.assume_verified(policy))
        .map_err(|_| Error::Store("stored device list does not decode"))
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
        let mut list = DeviceList::new(key, key, PRIMARY_KEY_INDEX, now_ms, policy);
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
        })
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

    /// The store.
    #[must_use]
    pub const fn store(&self) -> &S {
        &self.store
    }

    fn local(&self) -> LocalIdentity<'_> {
        LocalIdentity {
            identity: &self.account.identity,
            registration_id: self.account.registration_id,
        }
    }

    // ---- prekeys ----

    /// Generates the prekeys `request` asks for, signed by this device's identity key,
    /// stores their private halves and the advanced id allocator, and returns the
    /// `hush_prekey::PreKeyUpload` bytes to send to the server. A first call starts the
    /// id allocator at random ids (as libsignal does).
    ///
    /// # Errors
    ///
    /// [`Error::PreKey`] (too many keys asked for); [`Error::Store`]. Nothing is stored
    /// on error.
    pub fn generate_prekeys<R: CryptoRng + ?Sized>(
        &self,
        request: &GenerateRequest,
        now_ms: u64,
        rng: &mut R,
    ) -> Result<Vec<u8>> {
        let mut tx = self.store.transaction()?;
        let upload = self.generate_in(&mut tx, request, now_ms, rng)?;
        tx.commit()?;
        Ok(upload)
    }

    fn generate_in<T: Transaction, R: CryptoRng + ?Sized>(
        &self,
        tx: &mut T,
        request: &GenerateRequest,
        now_ms: u64,
        rng: &mut R,
    ) -> Result<Vec<u8>> {
        let mut ids = match tx.prekey_id_allocator()? {
            Some(ids) => ids,
            None => PreKeyIdAllocator::with_random_start(rng),
        };
        let records =
            hush_prekey::generate_prekeys(&self.account.identity, &mut ids, request, now_ms, rng)?;
        for record in records.signed_prekeys() {
            tx.put_signed_prekey(record)?;
        }
        for record in records.one_time_prekeys() {
            tx.put_one_time_prekey(record)?;
        }
        for record in records.kem_prekeys() {
            tx.put_kem_prekey(record)?;
        }
        tx.set_prekey_id_allocator(&ids)?;
        Ok(upload_for(&self.account.identity, &records).encode())
    }

    /// Applies `policy` at `now_ms`: makes a new signed prekey and a new last-resort KEM
    /// prekey when the newest is due (or there is none), replenishes one-time EC and KEM
    /// prekeys when the server's counts (`server`) are below the low-water mark, and
    /// deletes signed prekeys and last-resort KEM prekeys past their grace period.
    /// Returns the upload to send, or `None` when nothing new was made.
    ///
    /// # Errors
    ///
    /// [`Error::PreKey`]; [`Error::Store`]. Nothing is stored on error.
    pub fn rotate_prekeys<R: CryptoRng + ?Sized>(
        &self,
        policy: &RotationPolicy,
        server: PreKeyCounts,
        now_ms: u64,
        rng: &mut R,
    ) -> Result<Option<Vec<u8>>> {
        let mut tx = self.store.transaction()?;
        let (signed, last_resort) = signed_key_times(&mut tx)?;
        let newest = |keys: &[(u32, u64)]| keys.iter().copied().max_by_key(|&(_, t)| t);
        let due = |keys: &[(u32, u64)]| {
            newest(keys).is_none_or(|(_, t)| policy.signed_prekey_due(t, now_ms))
        };
        let mut request = GenerateRequest::one_time_only(
            usize::try_from(policy.replenish_count(server.one_time)).unwrap_or(usize::MAX),
            usize::try_from(policy.replenish_count(server.kem)).unwrap_or(usize::MAX),
        );
        request.signed_prekey = due(&signed);
        request.last_resort_kem_prekey = due(&last_resort);
        let anything = request.signed_prekey
            || request.last_resort_kem_prekey
            || request.one_time_prekeys > 0
            || request.kem_prekeys > 0;
        let upload = if anything {
            Some(self.generate_in(&mut tx, &request, now_ms, rng)?)
        } else {
            None
        };
        // Deletion looks at the keys as they are after this rotation.
        let (signed_now, last_resort_now) = signed_key_times(&mut tx)?;
        if let Some((current, _)) = newest(&signed_now) {
            for id in policy.deletable_signed_prekeys(&signed_now, current, now_ms) {
                tx.remove_signed_prekey(id)?;
            }
        }
        if let Some((current, _)) = newest(&last_resort_now) {
            for id in policy.deletable_signed_prekeys(&last_resort_now, current, now_ms) {
                tx.remove_kem_prekey(id)?;
            }
        }
        tx.commit()?;
        Ok(upload)
    }

    // ---- device lists ----

    /// This account's signed device list (`hush_device::SignedDeviceList` bytes), to
    /// upload to the server.
    ///
    /// # Errors
    ///
    /// [`Error::NoDeviceList`] on a companion that has not accepted one yet;
    /// [`Error::Store`].
    pub fn own_device_list(&self) -> Result<Vec<u8>> {
        let mut tx = self.store.transaction()?;
        tx.own_device_list()?.ok_or(Error::NoDeviceList)
    }

    /// On the primary: adds a companion (the entry linking produced,
    /// `hush_device::LinkedCompanion::entry`) to the account's device list, signs the new
    /// version and stores it. Returns the signed list to upload (and to give the
    /// companion).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] on a companion; [`Error::Device`] (too many companions,
    /// a duplicate device id or key); [`Error::Store`].
    pub fn add_companion<R: CryptoRng + ?Sized>(
        &self,
        entry: DeviceEntry,
        now_ms: u64,
        rng: &mut R,
    ) -> Result<Vec<u8>> {
        self.change_own_list(now_ms, rng, |list| list.add_companion(entry))
    }

    /// On the primary: removes a companion from the account's device list, signs the new
    /// version and stores it. Returns the signed list to upload.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] on a companion; [`Error::Device`] (the primary, or an
    /// id not on the list); [`Error::Store`].
    pub fn remove_companion<R: CryptoRng + ?Sized>(
        &self,
        device_id: u32,
        now_ms: u64,
        rng: &mut R,
    ) -> Result<Vec<u8>> {
        self.change_own_list(now_ms, rng, |list| list.remove(device_id).map(|_| ()))
    }

    fn change_own_list<R: CryptoRng + ?Sized>(
        &self,
        now_ms: u64,
        rng: &mut R,
        change: impl FnOnce(&mut DeviceList) -> hush_device::Result<()>,
    ) -> Result<Vec<u8>> {
        if self.account.device_id != PRIMARY_DEVICE_ID {
            return Err(Error::InvalidArgument(
                "only the primary changes the device list",
            ));
        }
        let mut tx = self.store.transaction()?;
        let stored = tx.own_device_list()?.ok_or(Error::NoDeviceList)?;
        let signed = SignedDeviceList::decode(&stored)
            .map_err(|_| Error::Store("stored device list does not decode"))?;
        let mut list = DeviceList::from_signed(&signed, self.policy);
        change(&mut list)?;
        let bytes = list.sign(&self.account.identity, now_ms, rng)?.encode();
        tx.set_own_device_list(&bytes)?;
        tx.commit()?;
        Ok(bytes)
    }

    /// Verifies a signed device list fetched for `user` against the one stored (the
    /// first list of a user is trusted on first use), stores it, and returns the devices
    /// it sends to at `now_ms`. For this account's own user, the list must be signed by
    /// this account's key and becomes [`Device::own_device_list`] (how a companion
    /// learns the list, and how every device learns of new companions).
    ///
    /// Devices no longer on the list stop receiving at once; a group chain they held is
    /// replaced at the next [`Device::send_group`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a bad user name; [`Error::Device`] with
    /// `hush_device::Error::IdentityChanged` when the list is signed by another account
    /// key than the stored one (show it to the person; [`Device::accept_changed_device_list`]
    /// accepts it), `Rollback`, `Equivocation`, `BadSignature`, `Malformed`,
    /// `TooManyCompanions`; [`Error::Store`]. Nothing is stored on error.
    pub fn accept_device_list(
        &self,
        user: &str,
        signed: &[u8],
        now_ms: u64,
    ) -> Result<Vec<Address>> {
        check_user(user)?;
        let mut tx = self.store.transaction()?;
        let own = user == self.account.user;
        let stored = if own {
            tx.own_device_list()?
        } else {
            tx.device_list(user)?
        };
        let mut known = KnownDeviceLists::new(self.policy);
        match stored {
            Some(stored) => {
                known
                    .verify(user.as_bytes(), &stored)
                    .map_err(|_| Error::Store("stored device list does not verify"))?;
            }
            None if own => {
                // A companion's first list: its account key is already known.
                let decoded = SignedDeviceList::decode(signed)?;
                if *decoded.account_identity() != self.account.account_key {
                    return Err(Error::Device(hush_device::Error::IdentityChanged));
                }
            }
            None => {}
        }
        let verified = known.verify(user.as_bytes(), signed)?;
        if own {
            if *verified.account_identity() != self.account.account_key {
                return Err(Error::Device(hush_device::Error::IdentityChanged));
            }
            tx.set_own_device_list(signed)?;
        } else {
            tx.set_device_list(user, signed)?;
        }
        let to = addresses(user, &verified, now_ms)?;
        tx.commit()?;
        Ok(to)
    }

    /// After the person accepted that `user`'s account key changed (the
    /// [`Error::Device`]`(IdentityChanged)` of [`Device::accept_device_list`]): verifies
    /// `signed` as a first list (its own signature only), stores it, and records the
    /// identity key of every device on it as accepted (the account key vouches for them).
    ///
    /// # Errors
    ///
    /// As [`Device::accept_device_list`], except that a different account key is what
    /// this call accepts; [`Error::InvalidArgument`] for this account's own user.
    pub fn accept_changed_device_list(
        &self,
        user: &str,
        signed: &[u8],
        now_ms: u64,
    ) -> Result<Vec<Address>> {
        check_user(user)?;
        if user == self.account.user {
            return Err(Error::InvalidArgument("own account key cannot change here"));
        }
        let mut tx = self.store.transaction()?;
        let verified = KnownDeviceLists::new(self.policy).verify(user.as_bytes(), signed)?;
        tx.set_device_list(user, signed)?;
        for entry in verified.devices() {
            tx.set_remote_identity(&Address::new(user, entry.device_id)?, &entry.identity_key)?;
        }
        let to = addresses(user, &verified, now_ms)?;
        tx.commit()?;
        Ok(to)
    }

    /// Records `key` as the accepted identity of `address`, after the person accepted an
    /// [`Error::IdentityChanged`]. Sends and decrypts with that device then work again
    /// (a send needs a new bundle: the old session was with the old key).
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub fn accept_identity(&self, address: &Address, key: &IdentityKey) -> Result<()> {
        let mut tx = self.store.transaction()?;
        tx.set_remote_identity(address, key)?;
        tx.commit()
    }

    fn verified_list<T: Transaction>(&self, tx: &mut T, user: &str) -> Result<VerifiedDeviceList> {
        let stored = if user == self.account.user {
            tx.own_device_list()?
        } else {
            tx.device_list(user)?
        };
        stored_list(&stored.ok_or(Error::NoDeviceList)?, self.policy)
    }

    /// Every device a message to `user` goes to at `now_ms`, with the identity key its
    /// list gives: the recipient's devices, then this account's own other devices.
    fn targets<T: Transaction>(
        &self,
        tx: &mut T,
        user: &str,
        now_ms: u64,
    ) -> Result<Vec<(Address, IdentityKey, bool)>> {
        let mut out = Vec::new();
        if user != self.account.user {
            let list = self.verified_list(tx, user)?;
            for entry in list.devices_to_send(now_ms) {
                out.push((
                    Address::new(user, entry.device_id)?,
                    entry.identity_key,
                    false,
                ));
            }
        }
        self.own_others(tx, now_ms, |address, key| out.push((address, key, true)))?;
        Ok(out)
    }

    fn own_others<T: Transaction>(
        &self,
        tx: &mut T,
        now_ms: u64,
        mut each: impl FnMut(Address, IdentityKey),
    ) -> Result<()> {
        let Some(own) = tx.own_device_list()? else {
            return Ok(());
        };
        let own = stored_list(&own, self.policy)?;
        for entry in own.devices_to_send(now_ms) {
            if entry.device_id != self.account.device_id {
                each(
                    Address::new(self.account.user.as_str(), entry.device_id)?,
                    entry.identity_key,
                );
            }
        }
        Ok(())
    }

    // ---- one-to-one ----

    /// The devices a message to `user` would go to that have no usable session (none,
    /// or one with an identity key other than the list's): fetch their bundles, then
    /// call [`Device::encrypt`]. Reads only.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`]; [`Error::NoDeviceList`] if `user`'s list was never
    /// accepted; [`Error::Store`].
    pub fn prepare_send(&self, user: &str, now_ms: u64) -> Result<SendPlan> {
        check_user(user)?;
        let mut tx = self.store.transaction()?;
        let targets = self.targets(&mut tx, user, now_ms)?;
        let need_bundles = with_peers(&mut tx, targets)?
            .into_iter()
            .filter(|(_, key, _, peer)| {
                peer.session
                    .as_ref()
                    .is_none_or(|record| record.remote_identity() != Some(*key))
            })
            .map(|(address, _, _, _)| address)
            .collect();
        Ok(SendPlan { need_bundles })
    }

    /// Encrypts `plaintext` for every device on `user`'s verified list (a direct
    /// message) and for this account's own other devices (a sent transcript naming
    /// `user`), starting sessions from `bundles` where there is none (bundles for
    /// devices that have a usable session are ignored). All in one transaction: on any
    /// error nothing is stored and nothing should be sent.
    ///
    /// Sending to this account's own user sends only the transcripts (a note to self).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (bad user, plaintext longer than
    /// [`MAX_PLAINTEXT_LEN`](crate::limits::MAX_PLAINTEXT_LEN), a bundle whose device id
    /// differs from its address); [`Error::NoDeviceList`]; [`Error::MissingBundle`];
    /// [`Error::PreKey`] for a bundle that does not decode or whose signatures fail;
    /// [`Error::UntrustedDevice`] for a bundle whose identity key is not the one the
    /// device list gives; [`Error::IdentityChanged`] when the list gives a device a key
    /// other than the one recorded; [`Error::Session`]; [`Error::Store`].
    pub fn encrypt<R: CryptoRng + ?Sized>(
        &self,
        user: &str,
        plaintext: &[u8],
        bundles: &[(Address, &[u8])],
        now_ms: u64,
        rng: &mut R,
    ) -> Result<Vec<Envelope>> {
        check_user(user)?;
        if plaintext.len() > MAX_PLAINTEXT_LEN {
            return Err(Error::InvalidArgument(
                "plaintext longer than MAX_PLAINTEXT_LEN",
            ));
        }
        let now = system_time(now_ms)?;
        let direct = content::encode_direct(plaintext)?;
        let transcript = content::encode_sent_transcript(user, plaintext)?;
        let mut tx = self.store.transaction()?;
        let targets = self.targets(&mut tx, user, now_ms)?;
        let targets = with_peers(&mut tx, targets)?;
        let mut envelopes = Vec::with_capacity(targets.len());
        for (address, key, own, peer) in targets {
            let content = if own { &transcript } else { &direct };
            envelopes
                .push(self.encrypt_to(&mut tx, &address, &key, peer, content, bundles, now, rng)?);
        }
        tx.commit()?;
        Ok(envelopes)
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "one pairwise send needs each of these"
    )]
    fn encrypt_to<T: Transaction, R: CryptoRng + ?Sized>(
        &self,
        tx: &mut T,
        to: &Address,
        expected: &IdentityKey,
        peer: Peer,
        content: &[u8],
        bundles: &[(Address, &[u8])],
        now: SystemTime,
        rng: &mut R,
    ) -> Result<Envelope> {
        check_known_identity(tx, to, peer.identity, expected)?;
        let trust = expect_identity(*expected);
        let mut record = peer.session.unwrap_or_default();
        if record.remote_identity() != Some(*expected) {
            self.start_session(&mut record, to, expected, bundles, now, rng)?;
        }
        let message = match record.encrypt(content, &trust, now) {
            // An unanswered session too old to use: start over if the app gave a bundle.
            Err(hush_ratchet::Error::SessionExpired) if find_bundle(bundles, to).is_some() => {
                self.start_session(&mut record, to, expected, bundles, now, rng)?;
                record.encrypt(content, &trust, now)
            }
            other => other,
        }
        .map_err(untrusted(to))?;
        tx.put_session(to, &record)?;
        Ok(Envelope {
            to: to.clone(),
            message_type: message.message_type(),
            body: message.encode().to_vec(),
        })
    }

    fn start_session<R: CryptoRng + ?Sized>(
        &self,
        record: &mut SessionRecord,
        to: &Address,
        expected: &IdentityKey,
        bundles: &[(Address, &[u8])],
        now: SystemTime,
        rng: &mut R,
    ) -> Result<()> {
        let bytes = find_bundle(bundles, to).ok_or_else(|| Error::MissingBundle {
            address: to.clone(),
        })?;
        let bundle = PreKeyBundle::decode(bytes)?;
        if bundle.device_id() != to.device_id() {
            return Err(Error::InvalidArgument("bundle is for another device id"));
        }
        if bundle.identity_key() != expected {
            return Err(Error::UntrustedDevice {
                address: to.clone(),
            });
        }
        bundle.verify_signatures()?;
        let trust = expect_identity(*expected);
        record
            .initiate(
                self.local(),
                &RemoteBundle::from(&bundle),
                AgreementMode::Pqxdh,
                &trust,
                now,
                rng,
            )
            .map_err(untrusted(to))
    }

    /// Decrypts a pairwise message from `from` (`message_type` 2 or 3, as the
    /// [`Envelope`] carried). `from` must be on its user's verified device list (this
    /// account's own list for its own other devices) with the identity key the message
    /// or its session carries. A first message (type 3) takes the prekeys it names from
    /// the store and deletes the one-time EC and KEM prekeys it consumed; a last-resort
    /// KEM prekey is kept and the (KEM prekey, signed prekey, base key) triple
    /// remembered, so the same first message is refused the second time. Everything
    /// happens in one transaction, committed only if the message decrypted and its
    /// content was well formed.
    ///
    /// # Errors
    ///
    /// [`Error::NoDeviceList`] if `from`'s user has no accepted list (fetch it and retry);
    /// [`Error::UntrustedDevice`] if `from` is not on it or presents another key;
    /// [`Error::Device`]`(CompanionExpired)` for a companion of a list older than the
    /// policy allows; [`Error::IdentityChanged`]; [`Error::Session`] (malformed message,
    /// `DecryptionFailed`, `DuplicateMessage`, `MissingPreKeys`, `ReusedBaseKey`, ...);
    /// [`Error::MalformedContent`] / [`Error::UnknownContentVersion`];
    /// [`Error::Group`] for a bad distribution message; [`Error::Store`]. The store is
    /// unchanged on every error.
    pub fn decrypt<R: CryptoRng + ?Sized>(
        &self,
        from: &Address,
        message_type: u8,
        body: &[u8],
        now_ms: u64,
        rng: &mut R,
    ) -> Result<Received> {
        let mut tx = self.store.transaction()?;
        let expected = self.sender_identity(&mut tx, from, now_ms)?;
        check_identity(&mut tx, from, &expected)?;
        let trust = expect_identity(expected);
        let message = CiphertextMessage::decode(message_type, body)?;
        let mut record = tx.session(from)?.unwrap_or_default();
        let plaintext = match &message {
            CiphertextMessage::Signal(message) => record
                .decrypt(message, &trust, rng)
                .map_err(untrusted(from))?,
            CiphertextMessage::PreKey(message) => {
                if *message.identity_key() != expected {
                    return Err(Error::UntrustedDevice {
                        address: from.clone(),
                    });
                }
                self.decrypt_prekey(&mut tx, &mut record, message, &trust, from, rng)?
            }
        };
        tx.put_session(from, &record)?;
        let kind = match Content::decode(&plaintext)? {
            Content::Direct { plaintext } => ReceivedKind::Direct { plaintext },
            Content::SentTranscript { to_user, plaintext } => {
                if from.name() != self.account.user {
                    return Err(Error::MalformedContent(
                        "sent transcript from another account",
                    ));
                }
                ReceivedKind::SentTranscript { to_user, plaintext }
            }
            Content::SenderKeyDistribution { message } => {
                let message = SenderKeyDistributionMessage::decode(&message)?;
                let distribution_id = message.distribution_id();
                let mut record = tx
                    .sender_key(from, distribution_id)?
                    .unwrap_or_else(|| SenderKeyRecord::new(distribution_id));
                record.process_distribution(&message)?;
                tx.put_sender_key(from, distribution_id, &record)?;
                ReceivedKind::GroupDistribution { distribution_id }
            }
        };
        tx.commit()?;
        Ok(Received {
            from: from.clone(),
            kind,
        })
    }

    /// The identity key `from`'s verified list gives it, if it may send at `now_ms`.
    fn sender_identity<T: Transaction>(
        &self,
        tx: &mut T,
        from: &Address,
        now_ms: u64,
    ) -> Result<IdentityKey> {
        if *from == self.address {
            return Err(Error::UntrustedDevice {
                address: from.clone(),
            });
        }
        let list = self.verified_list(tx, from.name())?;
        let key = list
            .devices()
            .iter()
            .find(|e| e.device_id == from.device_id())
            .map(|e| e.identity_key)
            .ok_or_else(|| Error::UntrustedDevice {
                address: from.clone(),
            })?;
        list.check_device(from.device_id(), &key, now_ms)?;
        Ok(key)
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "the responder needs each of these"
    )]
    fn decrypt_prekey<T: Transaction, R: CryptoRng + ?Sized>(
        &self,
        tx: &mut T,
        record: &mut SessionRecord,
        message: &PreKeySignalMessage,
        trust: &impl Fn(&IdentityKey) -> Trust,
        from: &Address,
        rng: &mut R,
    ) -> Result<Zeroizing<Vec<u8>>> {
        if record.has_session_for(message) {
            let out = record
                .decrypt_prekey(
                    message,
                    self.local(),
                    None,
                    AgreementMode::Pqxdh,
                    trust,
                    rng,
                )
                .map_err(untrusted(from))?;
            return Ok(out.plaintext);
        }
        let missing = || {
            Error::Session(hush_ratchet::Error::MissingPreKeys {
                signed_prekey_id: message.signed_pre_key_id(),
                one_time_prekey_id: message.pre_key_id(),
                kem_prekey_id: message.kem_pre_key_id(),
            })
        };
        let signed = tx
            .signed_prekey(message.signed_pre_key_id())?
            .ok_or_else(missing)?;
        let one_time = match message.pre_key_id() {
            Some(id) => Some(tx.one_time_prekey(id)?.ok_or_else(missing)?),
            None => None,
        };
        let kem = match message.kem_pre_key_id() {
            Some(id) => Some(tx.kem_prekey(id)?.ok_or_else(missing)?),
            None => None,
        };
        let reused = match kem.as_ref().filter(|k| k.is_last_resort()) {
            Some(kem) => tx.last_resort_used(kem.id(), signed.id(), message.base_key())?,
            None => false,
        };
        if reused {
            return Err(Error::Session(hush_ratchet::Error::ReusedBaseKey));
        }
        let keys = ResponderPreKeys {
            signed_prekey: signed.key_pair(),
            one_time_prekey: one_time.as_ref().map(hush_prekey::PreKeyRecord::key_pair),
            kem_prekey: kem.as_ref().map(|k| k.key_pair().secret_key()),
        };
        let out = record
            .decrypt_prekey(
                message,
                self.local(),
                Some(keys),
                AgreementMode::Pqxdh,
                trust,
                rng,
            )
            .map_err(untrusted(from))?;
        if let Some(id) = out.used_one_time_prekey {
            tx.remove_one_time_prekey(id)?;
        }
        if let (Some(id), Some(kem)) = (out.used_kem_prekey, kem.as_ref()) {
            if kem.is_last_resort() {
                tx.record_last_resort_use(id, out.signed_prekey_id, &out.base_key)?;
            } else {
                tx.remove_kem_prekey(id)?;
            }
        }
        Ok(out.plaintext)
    }

    // ---- groups ----

    /// The member devices of a group: every device on each member's verified list that
    /// receives at `now_ms`, plus this account's own other devices.
    fn group_devices<T: Transaction>(
        &self,
        tx: &mut T,
        members: &[&str],
        now_ms: u64,
    ) -> Result<BTreeMap<Address, IdentityKey>> {
        if members.len() > hush_group::limits::MAX_TRACKED_DEVICES {
            return Err(Error::InvalidArgument(
                "more group members than MAX_TRACKED_DEVICES",
            ));
        }
        let mut devices = BTreeMap::new();
        for &user in members {
            check_user(user)?;
            if user == self.account.user {
                continue;
            }
            let list = self.verified_list(tx, user)?;
            for entry in list.devices_to_send(now_ms) {
                devices.insert(Address::new(user, entry.device_id)?, entry.identity_key);
            }
        }
        self.own_others(tx, now_ms, |address, key| {
            devices.insert(address, key);
        })?;
        Ok(devices)
    }

    /// The devices a [`Device::send_group`] with these members would have to start a
    /// session with (they need this device's sender key and have no usable session):
    /// fetch their bundles first. Reads only.
    ///
    /// # Errors
    ///
    /// As [`Device::send_group`], before any encryption.
    pub fn prepare_group_send(
        &self,
        distribution_id: DistributionId,
        members: &[&str],
        now_ms: u64,
    ) -> Result<SendPlan> {
        let mut tx = self.store.transaction()?;
        let devices = self.group_devices(&mut tx, members, now_ms)?;
        let mut tracker = tx
            .sender_key_tracker(distribution_id)?
            .unwrap_or_else(|| SenderKeyTracker::new(distribution_id));
        let rotation = tracker.set_devices(devices.keys().cloned())?;
        let chain = tx
            .sender_key(&self.address, distribution_id)?
            .and_then(|record| record.sending_chain_id());
        let needing: Vec<Address> = if rotation || chain.is_none() || tracker.chain_id() != chain {
            devices.keys().cloned().collect()
        } else {
            tracker.devices_needing_distribution()
        };
        let mut need_bundles = Vec::new();
        for address in needing {
            let Some(key) = devices.get(&address) else {
                continue;
            };
            if !has_usable_session(&mut tx, &address, key)? {
                need_bundles.push(address);
            }
        }
        Ok(SendPlan { need_bundles })
    }

    /// Sends `plaintext` to a group: `members` (user ids; the authoritative member list —
    /// users left out since the last send are removed) and this account's own other
    /// devices. This device's `hush_group::SenderKeyTracker` decides which member
    /// devices lack the current chain; they get the distribution message through
    /// pairwise sessions (started from `bundles` where needed), then the plaintext is
    /// encrypted once. A member device that held the chain and is no longer in the
    /// group (user removed, device gone from its list) makes the chain rotate first.
    /// One transaction.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (bad user, too many members or devices, plaintext too
    /// long); [`Error::NoDeviceList`] for a member whose list was never accepted; the
    /// pairwise errors of [`Device::encrypt`]; [`Error::Group`]; [`Error::Store`].
    /// Nothing is stored on error.
    #[allow(
        clippy::too_many_arguments,
        reason = "a group send needs each of these"
    )]
    pub fn send_group<R: CryptoRng + ?Sized>(
        &self,
        distribution_id: DistributionId,
        members: &[&str],
        plaintext: &[u8],
        bundles: &[(Address, &[u8])],
        now_ms: u64,
        rng: &mut R,
    ) -> Result<GroupSend> {
        if plaintext.len() > MAX_PLAINTEXT_LEN {
            return Err(Error::InvalidArgument(
                "plaintext longer than MAX_PLAINTEXT_LEN",
            ));
        }
        let now = system_time(now_ms)?;
        let mut tx = self.store.transaction()?;
        let devices = self.group_devices(&mut tx, members, now_ms)?;
        let stored = tx.sender_key_tracker(distribution_id)?;
        let is_new = stored.is_none();
        let mut tracker = stored.unwrap_or_else(|| SenderKeyTracker::new(distribution_id));
        // The tracker is written back only when it changed: with sender keys already
        // distributed and the same members, a send touches only the sender-key record.
        let same_members = tracker.members().eq(devices.keys());
        if !same_members {
            tracker.set_devices(devices.keys().cloned())?;
        }
        let (chain_before, rotation_before) = (tracker.chain_id(), tracker.rotation_pending());
        let mut record = tx
            .sender_key(&self.address, distribution_id)?
            .unwrap_or_else(|| SenderKeyRecord::new(distribution_id));
        let plan = tracker.prepare_send(&mut record, rng)?;
        let chain_id = plan.distribution_message().chain_id();
        let mut distributions = Vec::with_capacity(plan.devices_needing_distribution().len());
        if !plan.devices_needing_distribution().is_empty() {
            let content = content::encode_distribution(plan.distribution_message().as_bytes())?;
            for device in plan.devices_needing_distribution() {
                let key = devices
                    .get(device)
                    .ok_or(Error::Store("tracker member unknown"))?;
                let peer = read_peer(&mut tx, device)?;
                distributions.push(
                    self.encrypt_to(&mut tx, device, key, peer, &content, bundles, now, rng)?,
                );
                tracker.mark_delivered(device, chain_id);
            }
        }
        let message = record.encrypt(plaintext, rng)?;
        tx.put_sender_key(&self.address, distribution_id, &record)?;
        if is_new
            || !same_members
            || rotation_before
            || chain_before != tracker.chain_id()
            || !distributions.is_empty()
        {
            tx.put_sender_key_tracker(distribution_id, &tracker)?;
        }
        tx.commit()?;
        Ok(GroupSend {
            distributions,
            group_message: message.into_bytes(),
        })
    }

    /// Decrypts a group message (`hush_group::SenderKeyMessage` bytes) the server says
    /// came from `from`. `from` must still be on its user's verified list, and this
    /// device must hold its chain (from a distribution message it decrypted).
    ///
    /// # Errors
    ///
    /// [`Error::NoDeviceList`]; [`Error::UntrustedDevice`]; [`Error::Group`]
    /// (`NoSenderKeyState` — ask `from` to resend its distribution message —,
    /// `DecryptionFailed`, `DuplicateMessage`, malformed); [`Error::Store`]. The store is
    /// unchanged on error.
    pub fn decrypt_group(
        &self,
        from: &Address,
        bytes: &[u8],
        now_ms: u64,
    ) -> Result<GroupReceived> {
        let mut tx = self.store.transaction()?;
        self.sender_identity(&mut tx, from, now_ms)?;
        let message = SenderKeyMessage::decode(bytes)?;
        let distribution_id = message.distribution_id();
        let mut record = tx
            .sender_key(from, distribution_id)?
            .unwrap_or_else(|| SenderKeyRecord::new(distribution_id));
        let plaintext = record.decrypt(&message)?;
        tx.put_sender_key(from, distribution_id, &record)?;
        tx.commit()?;
        Ok(GroupReceived {
            from: from.clone(),
            distribution_id,
            plaintext,
        })
    }

    /// Removes every device of `user` from this device's group `distribution_id` now. If
    /// any of them held the current chain, the next [`Device::send_group`] starts a new
    /// chain (and the removed devices cannot read it). Returns whether a rotation is
    /// pending. ([`Device::send_group`]'s member list does the same for users left out.)
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub fn remove_group_member(&self, distribution_id: DistributionId, user: &str) -> Result<bool> {
        let mut tx = self.store.transaction()?;
        let Some(mut tracker) = tx.sender_key_tracker(distribution_id)? else {
            return Ok(false);
        };
        let rotation = tracker.remove_member(user);
        tx.put_sender_key_tracker(distribution_id, &tracker)?;
        tx.commit()?;
        Ok(rotation)
    }
}

/// `(id, timestamp)` of every stored signed prekey, and of every last-resort KEM prekey.
type KeyTimes = Vec<(u32, u64)>;

fn signed_key_times<T: Transaction>(tx: &mut T) -> Result<(KeyTimes, KeyTimes)> {
    let mut signed = Vec::new();
    for id in tx.signed_prekey_ids()? {
        if let Some(record) = tx.signed_prekey(id)? {
            signed.push((record.id(), record.timestamp_ms()));
        }
    }
    let mut last_resort = Vec::new();
    for (id, _) in tx.kem_prekey_ids()?.into_iter().filter(|&(_, lr)| lr) {
        if let Some(record) = tx.kem_prekey(id)? {
            last_resort.push((record.id(), record.timestamp_ms()));
        }
    }
    Ok((signed, last_resort))
}

fn find_bundle<'b>(bundles: &[(Address, &'b [u8])], to: &Address) -> Option<&'b [u8]> {
    bundles
        .iter()
        .find(|(address, _)| address == to)
        .map(|(_, bytes)| *bytes)
}

fn has_usable_session<T: Transaction>(
    tx: &mut T,
    address: &Address,
    key: &IdentityKey,
) -> Result<bool> {
    Ok(tx
        .session(address)?
        .is_some_and(|record| record.remote_identity() == Some(*key)))
}

#[cfg(test)]
mod tests {
    use hush_prekey::{DeviceKeys, UploadPolicy, validate_upload};
    use hush_test_support::test_rng;

    use super::*;
    use crate::store::MemoryStore;

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
