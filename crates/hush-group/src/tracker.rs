//! Who holds our sender key: the sender's side of group membership.
//!
//! A sender must hand its distribution message to every member device before that device
//! can read the group, must not hand it out again needlessly, and must start a new chain
//! when a device that held the key leaves. Apps on libsignal keep this bookkeeping by
//! hand; [`SenderKeyTracker`] keeps it in one serialisable value.

use core::fmt;
use std::collections::BTreeSet;

use prost::Message as _;
use rand_core::CryptoRng;

use crate::distribution_id::DistributionId;
use crate::error::{Error, Result};
use crate::limits::{MAX_DEVICE_NAME_LEN, MAX_TRACKED_DEVICES, MAX_TRACKER_LEN};
use crate::message::SenderKeyDistributionMessage;
use crate::record::SenderKeyRecord;
use crate::wire;

/// The first byte of an encoded tracker: hush's tracker format version.
pub const TRACKER_FORMAT_VERSION: u8 = 1;

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
/// devices, which of them hold the current chain's distribution message, and whether the
/// chain must be replaced before the next send.
///
/// The rules it keeps:
///
/// - A device added to the group needs the distribution message; one that holds the
///   current chain does not get it again.
/// - Removing a device (or a member) that holds the current chain forces a rotation: the
///   next [`prepare_send`](Self::prepare_send) retires the chain and every remaining
///   device needs the new distribution message. Removing a device that never held it
///   forces nothing.
/// - Holding is per chain: whenever the record's chain differs from the one the tracker
///   knows (after a rotation, or a record lost and recreated), nobody holds it.
///
/// Typical send:
///
/// ```
/// use hush_group::{DeviceAddress, DistributionId, SenderKeyRecord, SenderKeyTracker};
///
/// let mut rng = hush_core::rng::os_rng();
/// let id = DistributionId::generate(&mut rng);
/// let mut record = SenderKeyRecord::new(id);
/// let mut tracker = SenderKeyTracker::new(id);
/// let bob = DeviceAddress::new("bob", 1)?;
/// tracker.add_device(bob.clone())?;
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
/// // Bob's device leaves: the chain is replaced before the next send.
/// let old_chain = record.sending_chain_id();
/// assert!(tracker.remove_device(&bob));
/// tracker.prepare_send(&mut record, &mut rng)?;
/// assert_ne!(record.sending_chain_id(), old_chain);
/// # Ok::<(), hush_group::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SenderKeyTracker {
    distribution_id: DistributionId,
    members: BTreeSet<DeviceAddress>,
    /// The chain `holders` refers to.
    chain_id: Option<u32>,
    /// Member devices holding chain `chain_id`; empty while a rotation is pending.
    holders: BTreeSet<DeviceAddress>,
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

    /// The devices that do not hold the current chain yet, in address order.
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
            members: BTreeSet::new(),
            chain_id: None,
            holders: BTreeSet::new(),
            rotation_pending: false,
        }
    }

    /// The distribution id tracked.
    #[must_use]
    pub const fn distribution_id(&self) -> DistributionId {
        self.distribution_id
    }

    /// The member devices, in address order.
    pub fn members(&self) -> impl ExactSizeIterator<Item = &DeviceAddress> + '_ {
        self.members.iter()
    }

    /// The member devices known to hold the current chain, in address order.
    pub fn holders(&self) -> impl ExactSizeIterator<Item = &DeviceAddress> + '_ {
        self.holders.iter()
    }

    /// The chain the holders hold, once a distribution message was prepared.
    #[must_use]
    pub const fn chain_id(&self) -> Option<u32> {
        self.chain_id
    }

    /// Whether the next [`prepare_send`](Self::prepare_send) starts a new chain.
    #[must_use]
    pub const fn rotation_pending(&self) -> bool {
        self.rotation_pending
    }

    /// Adds a member device (a new member, or a new device of a member). It needs the
    /// distribution message before the next send. Returns whether it was new.
    ///
    /// # Errors
    ///
    /// [`Error::TooManyDevices`] if the tracker already follows
    /// [`MAX_TRACKED_DEVICES`] devices; the tracker is then unchanged.
    pub fn add_device(&mut self, device: DeviceAddress) -> Result<bool> {
        if self.members.contains(&device) {
            return Ok(false);
        }
        if self.members.len() >= MAX_TRACKED_DEVICES {
            return Err(Error::TooManyDevices);
        }
        Ok(self.members.insert(device))
    }

    /// Removes a member device. If it held the current chain a rotation becomes pending.
    /// Returns whether a rotation is pending afterwards.
    pub fn remove_device(&mut self, device: &DeviceAddress) -> bool {
        self.members.remove(device);
        if self.holders.contains(device) {
            self.require_rotation();
        }
        self.rotation_pending
    }

    /// Removes every device of the member `name` (the member left the group). If any of
    /// them held the current chain a rotation becomes pending. Returns whether a
    /// rotation is pending afterwards.
    pub fn remove_member(&mut self, name: &str) -> bool {
        self.members.retain(|device| device.name != name);
        if self.holders.iter().any(|device| device.name == name) {
            self.require_rotation();
        }
        self.rotation_pending
    }

    /// Replaces the member devices with `devices` (the group's authoritative list, e.g.
    /// after a sync), as if each missing device were removed and each new one added.
    /// Returns whether a rotation is pending afterwards.
    ///
    /// # Errors
    ///
    /// [`Error::TooManyDevices`] if `devices` holds more than [`MAX_TRACKED_DEVICES`]
    /// distinct devices; the tracker is then unchanged.
    pub fn set_devices(
        &mut self,
        devices: impl IntoIterator<Item = DeviceAddress>,
    ) -> Result<bool> {
        let mut members = BTreeSet::new();
        for device in devices {
            if members.len() >= MAX_TRACKED_DEVICES && !members.contains(&device) {
                return Err(Error::TooManyDevices);
            }
            members.insert(device);
        }
        let removed_holder = self.holders.iter().any(|device| !members.contains(device));
        self.members = members;
        if removed_holder {
            self.require_rotation();
        }
        Ok(self.rotation_pending)
    }

    /// Records that `device` was handed the distribution message of chain `chain_id`.
    /// Call it as soon as the message may have reached the device (when it is handed to
    /// the transport, not when it is acknowledged): a device wrongly counted as holding
    /// the key will ask for it again ([`crate::Error::NoSenderKeyState`] on its side), while
    /// a device wrongly counted as not holding it would survive its own removal without
    /// a rotation.
    ///
    /// Ignored, returning `false`, when the device is no longer a member, the chain is
    /// not the current one (a late delivery of a retired chain), or a rotation is pending.
    pub fn mark_delivered(&mut self, device: &DeviceAddress, chain_id: u32) -> bool {
        if self.rotation_pending
            || self.chain_id != Some(chain_id)
            || !self.members.contains(device)
        {
            return false;
        }
        self.holders.insert(device.clone());
        true
    }

    /// The device asked for the distribution message again (it reported
    /// [`crate::Error::NoSenderKeyState`], e.g. after losing its state): it no longer
    /// counts as holding the chain, so the next send includes it. No rotation follows:
    /// the device is still a member.
    pub fn resend_requested(&mut self, device: &DeviceAddress) {
        self.holders.remove(device);
    }

    /// The member devices that need the distribution message before the next send: all
    /// of them while a rotation is pending or before the first distribution message,
    /// otherwise those not holding the current chain.
    #[must_use]
    pub fn devices_needing_distribution(&self) -> Vec<DeviceAddress> {
        self.members.difference(&self.holders).cloned().collect()
    }

    /// Readies `record` (our own record for this distribution id) for a send: rotates it
    /// if a rotation is pending, gets the current chain's distribution message (starting
    /// a chain if needed, drawing from `rng` as
    /// [`SenderKeyRecord::create_distribution`] does), and lists the devices that must
    /// receive it first. If the record's chain is not the one the tracker knew, nobody
    /// counts as holding it.
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
            self.holders.clear();
        }
        self.rotation_pending = false;
        Ok(SendPlan {
            distribution_message,
            devices_needing_distribution: self.devices_needing_distribution(),
        })
    }

    fn require_rotation(&mut self) {
        self.rotation_pending = true;
        self.holders.clear();
    }

    /// The tracker in hush's own storage format (`docs/wire/sender-key-record.md`): the
    /// format byte [`TRACKER_FORMAT_VERSION`], then a protobuf. It holds no secret.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let to_wire = |device: &DeviceAddress| wire::DeviceV1 {
            name: device.name.clone(),
            device_id: device.device_id,
        };
        let tracker = wire::TrackerV1 {
            distribution_id: self.distribution_id.as_bytes().to_vec(),
            members: self.members.iter().map(to_wire).collect(),
            chain_id: self.chain_id,
            holders: self.holders.iter().map(to_wire).collect(),
            rotation_pending: self.rotation_pending,
        };
        let encoded = tracker.encode_to_vec();
        let mut out = Vec::with_capacity(1 + encoded.len());
        out.push(TRACKER_FORMAT_VERSION);
        out.extend_from_slice(&encoded);
        out
    }

    /// Reads a tracker written by [`encode`](Self::encode), checking its invariants.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownVersion`] for another format byte; [`Error::Malformed`] if the
    /// bytes are longer than [`MAX_TRACKER_LEN`], do not decode, or break an invariant:
    /// more than [`MAX_TRACKED_DEVICES`] members, members or holders not strictly
    /// ascending, a holder that is not a member, holders without a chain or while a
    /// rotation is pending, a bad device name.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "sender key tracker";
        if bytes.len() > MAX_TRACKER_LEN {
            return Err(Error::Malformed(WHAT));
        }
        let (&format, rest) = bytes.split_first().ok_or(Error::Malformed(WHAT))?;
        if format != TRACKER_FORMAT_VERSION {
            return Err(Error::UnknownVersion(format));
        }
        let tracker = wire::TrackerV1::decode(rest).map_err(|_| Error::Malformed(WHAT))?;
        let distribution_id =
            DistributionId::decode(&tracker.distribution_id).map_err(|_| Error::Malformed(WHAT))?;
        if tracker.members.len() > MAX_TRACKED_DEVICES {
            return Err(Error::Malformed(WHAT));
        }
        let members = ascending_set(tracker.members)?;
        let holders = ascending_set(tracker.holders)?;
        let holders_allowed = tracker.chain_id.is_some() && !tracker.rotation_pending;
        if !holders.is_subset(&members) || (!holders.is_empty() && !holders_allowed) {
            return Err(Error::Malformed(WHAT));
        }
        Ok(Self {
            distribution_id,
            members,
            chain_id: tracker.chain_id,
            holders,
            rotation_pending: tracker.rotation_pending,
        })
    }
}

/// Builds a set from devices that must be strictly ascending (the encoding is canonical).
fn ascending_set(devices: Vec<wire::DeviceV1>) -> Result<BTreeSet<DeviceAddress>> {
    let mut set = BTreeSet::new();
    for device in devices {
        let device = DeviceAddress::new(device.name, device.device_id)?;
        if set.last().is_some_and(|last| *last >= device) {
            return Err(Error::Malformed("sender key tracker"));
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
            holders,
            rotation_pending,
        } = self;
        f.debug_struct("SenderKeyTracker")
            .field("distribution_id", distribution_id)
            .field("members", members)
            .field("chain_id", chain_id)
            .field("holders", holders)
            .field("rotation_pending", rotation_pending)
            .finish()
    }
}
