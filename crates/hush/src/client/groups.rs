//! Groups: sender-key sends and receives, and who holds this device's sender key.

use std::collections::{BTreeMap, BTreeSet};

use hush_core::IdentityKey;
use hush_core::rng::CryptoRng;
use hush_group::DistributionId;
use hush_group::{SenderKeyMessage, SenderKeyRecord, SenderKeyTracker};

use crate::Address;
use crate::error::{Error, Result};
use crate::limits::MAX_PLAINTEXT_LEN;
use crate::store::{SenderKeyStore, Store, Transaction};

use super::{
    Device, GroupReceived, GroupSend, SendPlan, check_identity, check_user, content, read_peer,
    system_time,
};

/// The distribution id a group message (`hush_group::SenderKeyMessage` bytes) names, in
/// the clear: how an app finds the group, and so the member list
/// [`Device::decrypt_group`] needs, before decrypting.
///
/// # Errors
///
/// [`Error::Group`] if the bytes are not a group message.
pub fn group_distribution_id(bytes: &[u8]) -> Result<DistributionId> {
    Ok(SenderKeyMessage::decode(bytes)?.distribution_id())
}

impl<S: Store> Device<S> {
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

    /// Checks every member device's identity key (from its verified list) against the one
    /// recorded for its address, recording it on first use: a group send reports a
    /// changed identity exactly as a pairwise send does, whether or not the device
    /// needs the sender key.
    fn check_member_identities<T: Transaction>(
        tx: &mut T,
        devices: &BTreeMap<Address, IdentityKey>,
    ) -> Result<()> {
        for (address, key) in devices {
            check_identity(tx, address, key)?;
        }
        Ok(())
    }

    /// Deletes the chains `user`'s devices distributed for `distribution_id` (the user
    /// left the group): every device it was tracked with, and every device this device
    /// has a session with (a chain only arrives over a session).
    fn forget_member_chains<T: Transaction>(
        tx: &mut T,
        distribution_id: DistributionId,
        user: &str,
        tracked: impl IntoIterator<Item = u32>,
    ) -> Result<()> {
        let mut device_ids: BTreeSet<u32> = tracked.into_iter().collect();
        device_ids.extend(tx.session_devices(user)?);
        for device_id in device_ids {
            tx.remove_sender_key(&Address::new(user, device_id)?, distribution_id)?;
        }
        Ok(())
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
        Self::check_member_identities(&mut tx, &devices)?;
        let mut tracker = tx
            .sender_key_tracker(distribution_id)?
            .unwrap_or_else(|| SenderKeyTracker::new(distribution_id));
        let rotation = tracker.set_devices(devices.iter().map(|(a, k)| (a.clone(), *k)))?;
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
        Ok(SendPlan {
            need_bundles,
            device_list: None,
        })
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
        Self::check_member_identities(&mut tx, &devices)?;
        let stored = tx.sender_key_tracker(distribution_id)?;
        let is_new = stored.is_none();
        let mut tracker = stored.unwrap_or_else(|| SenderKeyTracker::new(distribution_id));
        // The tracker is written back only when it changed: with sender keys already
        // distributed and the same members, a send touches only the sender-key record.
        let same_members = tracker.members().eq(devices.iter());
        if !same_members {
            // Users no longer in the group: their chains must not decrypt anything more.
            let mut gone: BTreeMap<String, Vec<u32>> = BTreeMap::new();
            for (device, _) in tracker.members() {
                let user = device.name();
                if user != self.account.user && !members.contains(&user) {
                    gone.entry(user.to_owned())
                        .or_default()
                        .push(device.device_id());
                }
            }
            for (user, device_ids) in gone {
                Self::forget_member_chains(&mut tx, distribution_id, &user, device_ids)?;
            }
            tracker.set_devices(devices.iter().map(|(a, k)| (a.clone(), *k)))?;
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
    /// came from `from`, for the group whose members (user ids, as given to
    /// [`Device::send_group`]) are `members`. The app finds the group by the message's
    /// distribution id (`hush_group::SenderKeyMessage::distribution_id`), which every
    /// group message carries in the clear.
    ///
    /// `from`'s user must be a member (or this account's own user), `from` must still be
    /// on its user's verified list, and the message's chain must have been distributed
    /// by the identity key `from` has on that list (a replaced device's thief cannot post
    /// under the address the new device took).
    ///
    /// # Errors
    ///
    /// [`Error::NotGroupMember`] when `from`'s user is not in `members`;
    /// [`Error::NoDeviceList`]; [`Error::UntrustedDevice`] when `from` is not on its
    /// list, or the chain was distributed by another identity key; [`Error::Group`]
    /// (`NoSenderKeyState` — no chain from this device: it never sent its distribution
    /// message, or the chain predates a rotation; a member's device asks `from` to
    /// resend it —, `DecryptionFailed`, `DuplicateMessage`, malformed);
    /// [`Error::Store`]. The store is unchanged on error.
    pub fn decrypt_group(
        &self,
        from: &Address,
        bytes: &[u8],
        members: &[&str],
        now_ms: u64,
    ) -> Result<GroupReceived> {
        let message = SenderKeyMessage::decode(bytes)?;
        let distribution_id = message.distribution_id();
        if from.name() != self.account.user && !members.contains(&from.name()) {
            return Err(Error::NotGroupMember {
                address: from.clone(),
                distribution_id,
            });
        }
        let mut tx = self.store.transaction()?;
        let sender = self.sender_identity(&mut tx, from, now_ms)?;
        let mut record = tx
            .sender_key(from, distribution_id)?
            .unwrap_or_else(|| SenderKeyRecord::new(distribution_id));
        let plaintext = record
            .decrypt_from(&message, &sender)
            .map_err(|error| match error {
                hush_group::Error::DistributorMismatch { .. } => Error::UntrustedDevice {
                    address: from.clone(),
                },
                other => Error::Group(other),
            })?;
        tx.put_sender_key(from, distribution_id, &record)?;
        tx.commit()?;
        Ok(GroupReceived {
            from: from.clone(),
            distribution_id,
            plaintext,
        })
    }

    /// Removes every device of `user` from this device's group `distribution_id` now,
    /// and deletes the chains they distributed for it. If any of them may know this
    /// device's current chain, the next [`Device::send_group`] starts a new chain (and
    /// the removed devices cannot read it). Returns whether a rotation is pending.
    /// ([`Device::send_group`]'s member list does the same for users left out;
    /// [`Device::decrypt_group`] refuses users not in the member list it is given.)
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a bad user name; [`Error::Store`].
    pub fn remove_group_member(&self, distribution_id: DistributionId, user: &str) -> Result<bool> {
        check_user(user)?;
        let mut tx = self.store.transaction()?;
        let tracker = tx.sender_key_tracker(distribution_id)?;
        let tracked: Vec<u32> = tracker
            .iter()
            .flat_map(SenderKeyTracker::members)
            .filter(|(device, _)| device.name() == user)
            .map(|(device, _)| device.device_id())
            .collect();
        Self::forget_member_chains(&mut tx, distribution_id, user, tracked)?;
        let mut rotation = false;
        if let Some(mut tracker) = tracker {
            rotation = tracker.remove_member(user);
            tx.put_sender_key_tracker(distribution_id, &tracker)?;
        }
        tx.commit()?;
        Ok(rotation)
    }
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
