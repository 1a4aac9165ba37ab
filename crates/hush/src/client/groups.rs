//! Groups: sender-key sends and receives, and who holds this device's sender key.

use std::collections::BTreeMap;

use hush_core::IdentityKey;
use hush_core::rng::CryptoRng;
use hush_group::DistributionId;
use hush_group::{SenderKeyMessage, SenderKeyRecord, SenderKeyTracker};

use crate::Address;
use crate::error::{Error, Result};
use crate::limits::MAX_PLAINTEXT_LEN;
use crate::store::{SenderKeyStore, Store, Transaction};

use super::{
    Device, GroupReceived, GroupSend, SendPlan, check_user, content, read_peer, system_time,
};

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

fn has_usable_session<T: Transaction>(
    tx: &mut T,
    address: &Address,
    key: &IdentityKey,
) -> Result<bool> {
    Ok(tx
        .session(address)?
        .is_some_and(|record| record.remote_identity() == Some(*key)))
}
