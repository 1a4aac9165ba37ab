//! Who holds our sender key: the sender's side of group membership.
//!
//! A sender must hand its distribution message to every member device before that device
//! can read the group, must not hand it out again needlessly, and must start a new chain
//! when a device that may know the key leaves — including a device whose address now
//! belongs to another identity key. Apps on libsignal keep this bookkeeping by hand;
//! [`SenderKeyTracker`] keeps it in one serialisable value.

use core::fmt;
use std::collections::{BTreeMap, BTreeSet};

use hush_core::IdentityKey;

use prost::Message as _;
use rand_core::CryptoRng;

use crate::distribution_id::DistributionId;
use crate::error::{Error, Result};
use crate::limits::{MAX_DEVICE_NAME_LEN, MAX_TRACKED_DEVICES, MAX_TRACKER_LEN};
use crate::message::SenderKeyDistributionMessage;
use crate::record::SenderKeyRecord;
use crate::wire;

/// The first byte of an encoded tracker: hush's tracker format version. Version 1
/// (members by address only) still decodes; see [`SenderKeyTracker::decode`].
pub const TRACKER_FORMAT_VERSION: u8 = 2;

/// The tracker format that knew members by address only.
const TRACKER_FORMAT_V1: u8 = 1;

/// One device of one member: the address name (in Signal, the member's service id) and
/// the device id, as libsignal's `ProtocolAddress`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceAddress {
    name: String,
    device_id: u32,
}

impl DeviceAddress {
    /// Builds an address.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] if `name` is empty or longer than [`MAX_DEVICE_NAME_LEN`]
    /// bytes.
    pub fn new(name: impl Into<String>, device_id: u32) -> Result<Self> {
        let name = name.into();
        if name.is_empty() || name.len() > MAX_DEVICE_NAME_LEN {
            return Err(Error::Malformed("device name"));
        }
        Ok(Self { name, device_id })
    }

    /// The address name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The device id.
    #[must_use]
    pub const fn device_id(&self) -> u32 {
        self.device_id
    }

    /// The name as a service id, if it is one: an ACI (a hyphenated UUID) or a PNI
    /// (`PNI:` and a hyphenated UUID), as libsignal parses address names
    /// ([`hush_core::ServiceId::parse`]). Sessions between two addresses whose names are
    /// both service ids carry them in their first messages (`hush-ratchet`'s
    /// `SessionAddresses`).
    #[must_use]
    pub fn service_id(&self) -> Option<hush_core::ServiceId> {
        hush_core::ServiceId::parse(&self.name)
    }
}

impl fmt::Display for DeviceAddress {
    /// `name.device_id`, as libsignal prints a `ProtocolAddress`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.name, self.device_id)
    }
}

impl fmt::Debug for DeviceAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceAddress({self})")
    }
}

/// The sender's bookkeeping for one of its own distribution ids: the group's member
/// devices (each an address and the identity key it has there), which of them may know
/// the current chain, which were handed its distribution message, and whether the chain
/// must be replaced before the next send.
///
/// The rules it keeps:
///
/// - A member is an address *and* an identity key. The same address with another key
///   (a replaced device given its old id again, an account restored under a new key) is
///   another member: the old one is removed and the new one added.
/// - A device added to the group needs the distribution message; one that was handed
///   the current chain does not get it again, unless it asks
///   ([`resend_requested`](Self::resend_requested)).
/// - A device **may know** the current chain from the moment a send plan lists it (its
///   distribution message may be on its way) until the chain is replaced. Removing a
///   device that may know the chain — by [`remove_device`](Self::remove_device),
///   [`remove_member`](Self::remove_member), [`set_devices`](Self::set_devices) or a
///   change of its identity key — forces a rotation: the next
///   [`prepare_send`](Self::prepare_send) retires the chain and every remaining device
///   needs the new distribution message. A resend request does not make a device forget
///   what it was given. Removing a device that never was listed forces nothing.
/// - Knowledge is per chain: whenever the record's chain differs from the one the
///   tracker knows (after a rotation, or a record lost and recreated), nobody knows it.
///
/// Typical send:
///
/// ```
/// use hush_core::IdentityKeyPair;
/// use hush_group::{DeviceAddress, DistributionId, SenderKeyRecord, SenderKeyTracker};
///
/// let mut rng = hush_core::rng::os_rng();
/// let id = DistributionId::generate(&mut rng);
/// let mut record = SenderKeyRecord::new(id);
/// let mut tracker = SenderKeyTracker::new(id);
/// let bob = DeviceAddress::new("bob", 1)?;
/// let bob_key = IdentityKeyPair::generate(&mut rng).identity_key();
/// tracker.add_device(bob.clone(), bob_key)?;
///
/// let plan = tracker.prepare_send(&mut record, &mut rng)?;
/// for device in plan.devices_needing_distribution() {
///     // Send plan.distribution_message().as_bytes() over the pairwise session with
///     // `device`, then, once it is handed to the transport:
///     tracker.mark_delivered(device, plan.distribution_message().chain_id());
/// }
/// let message = record.encrypt(b"hello group", &mut rng)?;
/// // ... fan `message.as_bytes()` out through the server.
///
/// // Nobody needs it again until something changes.
/// assert!(tracker.prepare_send(&mut record, &mut rng)?.devices_needing_distribution().is_empty());
///
/// // Bob's device is replaced by a new one under the same address: it is another
/// // member, and the chain is replaced before the next send.
/// let old_chain = record.sending_chain_id();
/// let new_key = IdentityKeyPair::generate(&mut rng).identity_key();
/// assert!(tracker.add_device(bob.clone(), new_key)?);
/// assert!(tracker.rotation_pending());
/// tracker.prepare_send(&mut record, &mut rng)?;
/// assert_ne!(record.sending_chain_id(), old_chain);
/// # Ok::<(), hush_group::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SenderKeyTracker {
    distribution_id: DistributionId,
    members: BTreeMap<DeviceAddress, IdentityKey>,
    /// The chain `exposed` and `delivered` refer to.
    chain_id: Option<u32>,
    /// Members that may know chain `chain_id`: listed in a send plan for it, or reported
    /// delivered. Empty while a rotation is pending.
    exposed: BTreeSet<DeviceAddress>,
    /// Members handed chain `chain_id` that have not asked for it again; a subset of
    /// `exposed`.
    delivered: BTreeSet<DeviceAddress>,
    rotation_pending: bool,
}

/// What to do before sending a group message: the distribution message of the chain the
/// message will use, and the member devices that must receive it first (over their
/// pairwise sessions).
#[derive(Debug, Clone)]
pub struct SendPlan {
    distribution_message: SenderKeyDistributionMessage,
    devices_needing_distribution: Vec<DeviceAddress>,
}

impl SendPlan {
    /// The distribution message of the current chain.
    #[must_use]
    pub const fn distribution_message(&self) -> &SenderKeyDistributionMessage {
        &self.distribution_message
    }

    /// The devices that were not handed the current chain yet (or asked for it again),
    /// in address order.
    #[must_use]
    pub fn devices_needing_distribution(&self) -> &[DeviceAddress] {
        &self.devices_needing_distribution
    }
}

impl SenderKeyTracker {
    /// A tracker with no members, for our own chain of `distribution_id`.
    #[must_use]
    pub const fn new(distribution_id: DistributionId) -> Self {
        Self {
            distribution_id,
            members: BTreeMap::new(),
            chain_id: None,
            exposed: BTreeSet::new(),
            delivered: BTreeSet::new(),
            rotation_pending: false,
        }
    }

    /// The distribution id tracked.
    #[must_use]
    pub const fn distribution_id(&self) -> DistributionId {
        self.distribution_id
    }

    /// The member devices with their identity keys, in address order.
    pub fn members(&self) -> impl ExactSizeIterator<Item = (&DeviceAddress, &IdentityKey)> + '_ {
        self.members.iter()
    }

    /// The identity key a member device has in the group, if it is a member.
    #[must_use]
    pub fn identity_key(&self, device: &DeviceAddress) -> Option<&IdentityKey> {
        self.members.get(device)
    }

    /// The member devices that may know the current chain (listed in a send plan for it
    /// or reported delivered), in address order.
    pub fn exposed(&self) -> impl ExactSizeIterator<Item = &DeviceAddress> + '_ {
        self.exposed.iter()
    }

    /// The member devices handed the current chain that have not asked for it again, in
    /// address order.
    pub fn delivered(&self) -> impl ExactSizeIterator<Item = &DeviceAddress> + '_ {
        self.delivered.iter()
    }

    /// The chain the tracker follows, once a distribution message was prepared.
    #[must_use]
    pub const fn chain_id(&self) -> Option<u32> {
        self.chain_id
    }

    /// Whether the next [`prepare_send`](Self::prepare_send) starts a new chain.
    #[must_use]
    pub const fn rotation_pending(&self) -> bool {
        self.rotation_pending
    }

    /// Adds a member device with the identity key it has (a new member, or a new device
    /// of a member). It needs the distribution message before the next send. Returns
    /// whether anything changed: `false` when the device is already a member with this
    /// key.
    ///
    /// A device already a member under **another** identity key is replaced: the old
    /// one is removed (a rotation becomes pending if it may know the chain) and the new
    /// one added.
    ///
    /// # Errors
    ///
    /// [`Error::TooManyDevices`] if the tracker already follows
    /// [`MAX_TRACKED_DEVICES`] devices; the tracker is then unchanged.
    pub fn add_device(&mut self, device: DeviceAddress, identity_key: IdentityKey) -> Result<bool> {
        match self.members.get(&device) {
            Some(known) if *known == identity_key => return Ok(false),
            Some(_) => {
                self.remove_device(&device);
            }
            None if self.members.len() >= MAX_TRACKED_DEVICES => {
                return Err(Error::TooManyDevices);
            }
            None => {}
        }
        self.members.insert(device, identity_key);
        Ok(true)
    }

    /// Removes a member device. If it may know the current chain a rotation becomes
    /// pending. Returns whether a rotation is pending afterwards.
    pub fn remove_device(&mut self, device: &DeviceAddress) -> bool {
        self.members.remove(device);
        if self.exposed.contains(device) {
            self.require_rotation();
        }
        self.rotation_pending
    }

    /// Removes every device of the member `name` (the member left the group). If any of
    /// them may know the current chain a rotation becomes pending. Returns whether a
    /// rotation is pending afterwards.
    pub fn remove_member(&mut self, name: &str) -> bool {
        self.members.retain(|device, _| device.name != name);
        if self.exposed.iter().any(|device| device.name == name) {
            self.require_rotation();
        }
        self.rotation_pending
    }

    /// Replaces the member devices with `devices` (the group's authoritative list with
    /// each device's identity key, e.g. from the members' verified device lists), as if
    /// each missing device were removed and each new one added. A device whose key
    /// differs from the one tracked is a removal plus an addition. Returns whether a
    /// rotation is pending afterwards.
    ///
    /// # Errors
    ///
    /// [`Error::TooManyDevices`] if `devices` holds more than [`MAX_TRACKED_DEVICES`]
    /// distinct devices; [`Error::Malformed`] if it names one address with two keys. The
    /// tracker is then unchanged.
    pub fn set_devices(
        &mut self,
        devices: impl IntoIterator<Item = (DeviceAddress, IdentityKey)>,
    ) -> Result<bool> {
        let mut members = BTreeMap::new();
        for (device, key) in devices {
            match members.get(&device) {
                Some(known) if *known != key => {
                    return Err(Error::Malformed(
                        "one device address with two identity keys",
                    ));
                }
                Some(_) => continue,
                None if members.len() >= MAX_TRACKED_DEVICES => {
                    return Err(Error::TooManyDevices);
                }
                None => {}
            }
            members.insert(device, key);
        }
        let exposed_left = self
            .exposed
            .iter()
            .any(|device| members.get(device) != self.members.get(device));
        self.members = members;
        if exposed_left {
            self.require_rotation();
        }
        Ok(self.rotation_pending)
    }

    /// Records that `device` was handed the distribution message of chain `chain_id`.
    /// Call it as soon as the message may have reached the device (when it is handed to
    /// the transport, not when it is acknowledged).
    ///
    /// Ignored, returning `false`, when the device is no longer a member, the chain is
    /// not the current one (a late delivery of a retired chain), or a rotation is pending
    /// (the device was removed after the plan listed it, which made the chain rotate).
    pub fn mark_delivered(&mut self, device: &DeviceAddress, chain_id: u32) -> bool {
        if self.rotation_pending
            || self.chain_id != Some(chain_id)
            || !self.members.contains_key(device)
        {
            return false;
        }
        self.exposed.insert(device.clone());
        self.delivered.insert(device.clone());
        true
    }

    /// The device asked for the distribution message again (it reported
    /// [`crate::Error::NoSenderKeyState`], e.g. after losing its state): the next send
    /// includes it. No rotation follows, since the device is still a member; but it still
    /// counts as knowing the chain, so removing it later rotates.
    pub fn resend_requested(&mut self, device: &DeviceAddress) {
        self.delivered.remove(device);
    }

    /// The member devices that need the distribution message before the next send: all
    /// of them while a rotation is pending or before the first distribution message,
    /// otherwise those not handed the current chain (or that asked for it again).
    #[must_use]
    pub fn devices_needing_distribution(&self) -> Vec<DeviceAddress> {
        self.members
            .keys()
            .filter(|device| !self.delivered.contains(*device))
            .cloned()
            .collect()
    }

    /// Readies `record` (our own record for this distribution id) for a send: rotates it
    /// if a rotation is pending, gets the current chain's distribution message (starting
    /// a chain if needed, drawing from `rng` as
    /// [`SenderKeyRecord::create_distribution`] does), and lists the devices that must
    /// receive it first. From now on those devices may know the chain. If the record's
    /// chain is not the one the tracker knew, nobody counts as knowing it before.
    ///
    /// # Errors
    ///
    /// [`Error::WrongDistribution`] if `record` is for another distribution id; nothing
    /// is changed.
    pub fn prepare_send<R: CryptoRng + ?Sized>(
        &mut self,
        record: &mut SenderKeyRecord,
        rng: &mut R,
    ) -> Result<SendPlan> {
        if record.distribution_id() != self.distribution_id {
            return Err(Error::WrongDistribution {
                expected: self.distribution_id,
                actual: record.distribution_id(),
            });
        }
        if self.rotation_pending {
            record.rotate();
        }
        let distribution_message = record.create_distribution(rng);
        if self.chain_id != Some(distribution_message.chain_id()) {
            self.chain_id = Some(distribution_message.chain_id());
            self.exposed.clear();
            self.delivered.clear();
        }
        self.rotation_pending = false;
        let devices_needing_distribution = self.devices_needing_distribution();
        self.exposed
            .extend(devices_needing_distribution.iter().cloned());
        Ok(SendPlan {
            distribution_message,
            devices_needing_distribution,
        })
    }

    fn require_rotation(&mut self) {
        self.rotation_pending = true;
        self.exposed.clear();
        self.delivered.clear();
    }

    /// The tracker in hush's own storage format (`docs/wire/sender-key-record.md`): the
    /// format byte [`TRACKER_FORMAT_VERSION`], then a protobuf. It holds no secret.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let to_wire = |device: &DeviceAddress| wire::DeviceV1 {
            name: device.name.clone(),
            device_id: device.device_id,
        };
        let tracker = wire::TrackerV2 {
            distribution_id: self.distribution_id.as_bytes().to_vec(),
            members: self
                .members
                .iter()
                .map(|(device, key)| wire::MemberV2 {
                    name: device.name.clone(),
                    device_id: device.device_id,
                    identity_key: key.encode().to_vec(),
                })
                .collect(),
            chain_id: self.chain_id,
            delivered: self.delivered.iter().map(to_wire).collect(),
            rotation_pending: self.rotation_pending,
            undelivered_exposed: self
                .exposed
                .difference(&self.delivered)
                .map(to_wire)
                .collect(),
        };
        let encoded = tracker.encode_to_vec();
        let mut out = Vec::with_capacity(1 + encoded.len());
        out.push(TRACKER_FORMAT_VERSION);
        out.extend_from_slice(&encoded);
        out
    }

    /// Reads a tracker written by [`encode`](Self::encode), checking its invariants.
    ///
    /// A version-1 tracker (written before members carried identity keys) decodes as a
    /// tracker with no members and, if it had distributed a chain, a rotation pending:
    /// the next send with the group's members replaces the chain and hands the new one
    /// to every member, so no device the old tracker could not tell apart keeps reading.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownVersion`] for another format byte; [`Error::Malformed`] if the
    /// bytes are longer than [`MAX_TRACKER_LEN`], do not decode, or break an invariant:
    /// more than [`MAX_TRACKED_DEVICES`] members, devices not strictly ascending, a bad
    /// identity key, a delivered or exposed device that is not a member, a device both
    /// delivered and listed as undelivered, either list without a chain or while a
    /// rotation is pending, a bad device name.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_TRACKER_LEN {
            return Err(Error::Malformed(TRACKER));
        }
        let (&format, rest) = bytes.split_first().ok_or(Error::Malformed(TRACKER))?;
        match format {
            TRACKER_FORMAT_VERSION => Self::decode_v2(rest),
            TRACKER_FORMAT_V1 => Self::decode_v1(rest),
            other => Err(Error::UnknownVersion(other)),
        }
    }

    fn decode_v2(bytes: &[u8]) -> Result<Self> {
        let tracker = wire::TrackerV2::decode(bytes).map_err(|_| Error::Malformed(TRACKER))?;
        let distribution_id = DistributionId::decode(&tracker.distribution_id)
            .map_err(|_| Error::Malformed(TRACKER))?;
        if tracker.members.len() > MAX_TRACKED_DEVICES {
            return Err(Error::Malformed(TRACKER));
        }
        let mut members = BTreeMap::new();
        for member in tracker.members {
            let device = DeviceAddress::new(member.name, member.device_id)?;
            let key =
                IdentityKey::decode(&member.identity_key).map_err(|_| Error::Malformed(TRACKER))?;
            if members
                .last_key_value()
                .is_some_and(|(last, _)| *last >= device)
            {
                return Err(Error::Malformed(TRACKER));
            }
            members.insert(device, key);
        }
        let delivered = ascending_set(tracker.delivered)?;
        let undelivered = ascending_set(tracker.undelivered_exposed)?;
        let lists_allowed = tracker.chain_id.is_some() && !tracker.rotation_pending;
        let all_members = delivered
            .iter()
            .chain(&undelivered)
            .all(|device| members.contains_key(device));
        if !all_members
            || !delivered.is_disjoint(&undelivered)
            || !(lists_allowed || delivered.is_empty() && undelivered.is_empty())
        {
            return Err(Error::Malformed(TRACKER));
        }
        let mut exposed = undelivered;
        exposed.extend(delivered.iter().cloned());
        Ok(Self {
            distribution_id,
            members,
            chain_id: tracker.chain_id,
            exposed,
            delivered,
            rotation_pending: tracker.rotation_pending,
        })
    }

    fn decode_v1(bytes: &[u8]) -> Result<Self> {
        let tracker = wire::TrackerV1::decode(bytes).map_err(|_| Error::Malformed(TRACKER))?;
        let distribution_id = DistributionId::decode(&tracker.distribution_id)
            .map_err(|_| Error::Malformed(TRACKER))?;
        if tracker.members.len() > MAX_TRACKED_DEVICES {
            return Err(Error::Malformed(TRACKER));
        }
        // Checked as strictly as before, then the members are dropped: without their
        // identity keys the tracker cannot tell a member from a device that reused its
        // address, so a chain the old tracker handed out is replaced.
        let members = ascending_set(tracker.members)?;
        let holders = ascending_set(tracker.holders)?;
        let holders_allowed = tracker.chain_id.is_some() && !tracker.rotation_pending;
        if !holders.is_subset(&members) || (!holders.is_empty() && !holders_allowed) {
            return Err(Error::Malformed(TRACKER));
        }
        Ok(Self {
            distribution_id,
            members: BTreeMap::new(),
            chain_id: tracker.chain_id,
            exposed: BTreeSet::new(),
            delivered: BTreeSet::new(),
            rotation_pending: tracker.rotation_pending || tracker.chain_id.is_some(),
        })
    }
}

/// What a malformed tracker is reported as.
const TRACKER: &str = "sender key tracker";

/// Builds a set from devices that must be strictly ascending (the encoding is canonical).
fn ascending_set(devices: Vec<wire::DeviceV1>) -> Result<BTreeSet<DeviceAddress>> {
    let mut set = BTreeSet::new();
    for device in devices {
        let device = DeviceAddress::new(device.name, device.device_id)?;
        if set.last().is_some_and(|last| *last >= device) {
            return Err(Error::Malformed(TRACKER));
        }
        set.insert(device);
    }
    Ok(set)
}

impl fmt::Debug for SenderKeyTracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            distribution_id,
            members,
            chain_id,
            exposed,
            delivered,
            rotation_pending,
        } = self;
        f.debug_struct("SenderKeyTracker")
            .field("distribution_id", distribution_id)
            .field("members", members)
            .field("chain_id", chain_id)
            .field("exposed", exposed)
            .field("delivered", delivered)
            .field("rotation_pending", rotation_pending)
            .finish()
    }
}
