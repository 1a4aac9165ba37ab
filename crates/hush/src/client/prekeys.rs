//! Prekeys: generating them, and rotating them on a policy.

use hush_core::rng::CryptoRng;
use hush_prekey::{GenerateRequest, RotationPolicy};
use hush_prekey::{PreKeyIdAllocator, upload_for};

use crate::error::Result;
use crate::store::{PreKeyStore, Store, Transaction};

use super::{Device, PreKeyCounts};

impl<S: Store> Device<S> {
    /// Generates the prekeys `request` asks for, signed by this device's identity key,
    /// stores their private halves and the advanced id allocator, and returns the
    /// `hush_prekey::PreKeyUpload` bytes to send to the server. A first call starts the
    /// id allocator at random ids (as libsignal does).
    ///
    /// # Errors
    ///
    /// [`Error::PreKey`](crate::Error::PreKey) (too many keys asked for); [`Error::Store`](crate::Error::Store). Nothing is stored
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
    /// [`Error::PreKey`](crate::Error::PreKey); [`Error::Store`](crate::Error::Store). Nothing is stored on error.
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
