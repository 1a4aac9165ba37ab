//! Device lists and identities: this account's own list, the lists of the users it
//! talks to, and the identity key each device must present.

use hush_core::IdentityKey;
use hush_core::rng::CryptoRng;
use hush_device::{DeviceEntry, PRIMARY_DEVICE_ID};
use hush_device::{DeviceList, KnownDeviceLists, SignedDeviceList, VerifiedDeviceList};

use crate::Address;
use crate::error::{Error, Result};
use crate::limits::DEVICE_LIST_REFRESH_MS;
use crate::store::{DeviceListStore, IdentityStore, Store, Transaction};

use super::{Device, StoredList, addresses, check_user};

impl<S: Store> Device<S> {
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
    /// `hush_device::LinkedCompanion::entry`, or a companion's
    /// [`Device::membership_entry`]) to the account's device list, signs the new version
    /// and stores it. Returns the signed list to upload (and to give the companion).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] on a companion; [`Error::Device`] (too many companions,
    /// a duplicate device id or key, `BadSignature` for an entry whose membership
    /// signature is not its device's for this account, user id and device id);
    /// [`Error::Store`].
    pub fn add_companion<R: CryptoRng + ?Sized>(
        &self,
        entry: DeviceEntry,
        now_ms: u64,
        rng: &mut R,
    ) -> Result<Vec<u8>> {
        let address = Address::new(self.account.user.as_str(), entry.device_id)?;
        let key = entry.identity_key;
        self.change_own_list(
            now_ms,
            rng,
            |list| list.add_companion(entry),
            |tx| {
                // The primary linked this device itself (the entry carries the device's own
                // signature): its key is the one to expect at that address, even where an
                // earlier device had the id (a replaced device is not an identity change to
                // the device that replaced it).
                tx.set_remote_identity(&address, &key)
            },
        )
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
        self.change_own_list(
            now_ms,
            rng,
            |list| list.remove(device_id).map(|_| ()),
            |_| Ok(()),
        )
    }

    /// Whether the primary's own device list is due for a refresh at `now_ms`: signed more
    /// than [`DEVICE_LIST_REFRESH_MS`](crate::limits::DEVICE_LIST_REFRESH_MS) ago (or
    /// stored in format 1 by an earlier version). Always `false` on a companion, which
    /// cannot sign the list.
    ///
    /// # Errors
    ///
    /// [`Error::NoDeviceList`]; [`Error::Store`].
    pub fn device_list_refresh_due(&self, now_ms: u64) -> Result<bool> {
        let mut tx = self.store.transaction()?;
        self.refresh_due(&mut tx, now_ms)
    }

    /// On the primary, if its device list is due for a refresh
    /// ([`Device::device_list_refresh_due`]): signs the unchanged list again at `now_ms`
    /// (a new version, a new signing time), stores it and returns it to upload. `None`
    /// when it is not due, and always on a companion.
    ///
    /// Contacts stop sending to an account's companions once the list they hold was
    /// signed longer ago than the companion expiry (14 days by default: the primary "has
    /// not been seen"), so a primary in use must refresh it. [`Device::prepare_send`]
    /// does it on the primary's sends (and hands the list over in
    /// [`SendPlan::device_list`](super::SendPlan::device_list)); call this too where the
    /// app does its periodic work (with [`Device::rotate_prekeys`]), for a primary that
    /// receives but seldom sends.
    ///
    /// # Errors
    ///
    /// [`Error::NoDeviceList`]; [`Error::Store`]. Nothing is stored on error.
    pub fn refresh_device_list<R: CryptoRng + ?Sized>(
        &self,
        now_ms: u64,
        rng: &mut R,
    ) -> Result<Option<Vec<u8>>> {
        let mut tx = self.store.transaction()?;
        let refreshed = self.refresh_in(&mut tx, now_ms, rng)?;
        if refreshed.is_some() {
            tx.commit()?;
        }
        Ok(refreshed)
    }

    fn refresh_due<T: Transaction>(&self, tx: &mut T, now_ms: u64) -> Result<bool> {
        if self.account.device_id != PRIMARY_DEVICE_ID {
            return Ok(false);
        }
        let stored = tx.own_device_list()?.ok_or(Error::NoDeviceList)?;
        Ok(match self.stored_list(&stored, &self.account.user)? {
            StoredList::Current(list) => {
                now_ms.saturating_sub(list.signed_at_ms()) >= DEVICE_LIST_REFRESH_MS
            }
            StoredList::Format1(_) => true,
        })
    }

    /// [`Device::refresh_device_list`] inside `tx` (not committed).
    pub(super) fn refresh_in<T: Transaction, R: CryptoRng + ?Sized>(
        &self,
        tx: &mut T,
        now_ms: u64,
        rng: &mut R,
    ) -> Result<Option<Vec<u8>>> {
        if !self.refresh_due(tx, now_ms)? {
            return Ok(None);
        }
        let mut list = self.own_list_to_change(tx, rng)?;
        let bytes = list.sign(&self.account.identity, now_ms, rng)?.encode();
        tx.set_own_device_list(&bytes)?;
        Ok(Some(bytes))
    }

    fn change_own_list<R: CryptoRng + ?Sized>(
        &self,
        now_ms: u64,
        rng: &mut R,
        change: impl FnOnce(&mut DeviceList) -> hush_device::Result<()>,
        also: impl FnOnce(&mut S::Transaction<'_>) -> Result<()>,
    ) -> Result<Vec<u8>> {
        if self.account.device_id != PRIMARY_DEVICE_ID {
            return Err(Error::InvalidArgument(
                "only the primary changes the device list",
            ));
        }
        let mut tx = self.store.transaction()?;
        let mut list = self.own_list_to_change(&mut tx, rng)?;
        change(&mut list)?;
        let bytes = list.sign(&self.account.identity, now_ms, rng)?.encode();
        tx.set_own_device_list(&bytes)?;
        also(&mut tx)?;
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
    /// `TooManyCompanions`; [`Error::DeviceKeyOfAnotherUser`] when the list names an
    /// identity key recorded for another user's device (or, for another user, this
    /// device's own key or one of this account's); [`Error::Store`]. Nothing is stored on
    /// error.
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
            Some(stored) => remember_stored(&mut known, user, &stored)?,
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
        self.check_keys_unclaimed(&mut tx, user, &verified)?;
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
    /// It accepts only a change: a list signed by the account key already stored for
    /// `user` is refused with [`Error::AccountKeyUnchanged`] (after a `Rollback` or
    /// `Equivocation` from [`Device::accept_device_list`] this call must not be the way
    /// round it).
    ///
    /// # Errors
    ///
    /// As [`Device::accept_device_list`], except that a different account key is what
    /// this call accepts; [`Error::InvalidArgument`] for this account's own user;
    /// [`Error::AccountKeyUnchanged`] if the stored list of `user` is signed by the same
    /// account key. Nothing is stored on error.
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
        self.check_keys_unclaimed(&mut tx, user, &verified)?;
        if let Some(stored) = tx.device_list(user)? {
            let mut known = KnownDeviceLists::new(self.policy);
            remember_stored(&mut known, user, &stored)?;
            // Checked against the stored list, the new one must be an account-key change.
            let changed = matches!(
                known.verify(user.as_bytes(), signed),
                Err(hush_device::Error::IdentityChanged)
            );
            if !changed {
                return Err(Error::AccountKeyUnchanged);
            }
        }
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
    /// [`Error::DeviceKeyOfAnotherUser`] if `key` is recorded for a device of another
    /// user; [`Error::Store`].
    pub fn accept_identity(&self, address: &Address, key: &IdentityKey) -> Result<()> {
        let mut tx = self.store.transaction()?;
        super::check_key_unclaimed(&mut tx, address.name(), key)?;
        tx.set_remote_identity(address, key)?;
        tx.commit()
    }

    /// Refuses a list of `user` that names an identity key of another user's device: one
    /// recorded in the store for another user, or (for another user's list) this device's
    /// own key, the account key, or a key on this account's own list.
    fn check_keys_unclaimed<T: Transaction>(
        &self,
        tx: &mut T,
        user: &str,
        list: &VerifiedDeviceList,
    ) -> Result<()> {
        let own_keys: Vec<(Address, IdentityKey)> = if user == self.account.user {
            Vec::new()
        } else {
            let mut keys = vec![
                (self.address.clone(), self.account.identity.identity_key()),
                (
                    Address::new(self.account.user.as_str(), PRIMARY_DEVICE_ID)?,
                    self.account.account_key,
                ),
            ];
            if let Some(own) = tx.own_device_list()?
                && let StoredList::Current(own) = self.stored_list(&own, &self.account.user)?
            {
                for entry in own.devices() {
                    keys.push((
                        Address::new(self.account.user.as_str(), entry.device_id)?,
                        entry.identity_key,
                    ));
                }
            }
            keys
        };
        for entry in list.devices() {
            if let Some((address, _)) = own_keys.iter().find(|(_, k)| *k == entry.identity_key) {
                return Err(Error::DeviceKeyOfAnotherUser {
                    address: address.clone(),
                });
            }
            super::check_key_unclaimed(tx, user, &entry.identity_key)?;
        }
        Ok(())
    }

    /// The stored list of `user` (this account's own for its own user), to send to
    /// and check senders against. A format-1 list (stored by an earlier version) gives
    /// [`Error::NoDeviceList`]: the app fetches the user's current list.
    pub(super) fn verified_list<T: Transaction>(
        &self,
        tx: &mut T,
        user: &str,
    ) -> Result<VerifiedDeviceList> {
        let stored = if user == self.account.user {
            tx.own_device_list()?
        } else {
            tx.device_list(user)?
        };
        match self.stored_list(&stored.ok_or(Error::NoDeviceList)?, user)? {
            StoredList::Current(list) => Ok(list),
            StoredList::Format1(_) => Err(Error::NoDeviceList),
        }
    }

    /// On the primary: its own list as it last signed it, to change and sign again. A
    /// format-1 list (stored by an earlier version) becomes the primary alone in the
    /// current format, at the same version (`hush_device::DeviceList::from_v1`): its
    /// companions carry no membership signature and link again.
    pub(super) fn own_list_to_change<T: Transaction, R: CryptoRng + ?Sized>(
        &self,
        tx: &mut T,
        rng: &mut R,
    ) -> Result<DeviceList> {
        let stored = tx.own_device_list()?.ok_or(Error::NoDeviceList)?;
        Ok(match self.stored_list(&stored, &self.account.user)? {
            StoredList::Current(list) => DeviceList::from_verified(&list, self.policy),
            StoredList::Format1(v1) => DeviceList::from_v1(
                &v1,
                self.account.user.as_bytes(),
                &self.account.identity,
                self.policy,
                rng,
            )?,
        })
    }

    /// Every device a message to `user` goes to at `now_ms`, with the identity key its
    /// list gives: the recipient's devices, then this account's own other devices.
    pub(super) fn targets<T: Transaction>(
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

    pub(super) fn own_others<T: Transaction>(
        &self,
        tx: &mut T,
        now_ms: u64,
        mut each: impl FnMut(Address, IdentityKey),
    ) -> Result<()> {
        let Some(own) = tx.own_device_list()? else {
            return Ok(());
        };
        let StoredList::Current(own) = self.stored_list(&own, &self.account.user)? else {
            // A format-1 own list names no device to send to.
            return Ok(());
        };
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
}

/// Remembers the stored list of `user` in `known` (as a first list): the account key and
/// version a newer list is checked against. A format-1 list counts too.
fn remember_stored(known: &mut KnownDeviceLists, user: &str, stored: &[u8]) -> Result<()> {
    let remembered = match known.verify(user.as_bytes(), stored) {
        Err(hush_device::Error::UnknownVersion(1)) => {
            known.verify_v1(user.as_bytes(), stored).map(|_| ())
        }
        other => other.map(|_| ()),
    };
    remembered.map_err(|_| Error::Store("stored device list does not verify"))
}
