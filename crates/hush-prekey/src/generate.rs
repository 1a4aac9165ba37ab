//! Making a batch of prekeys for an upload.

use hush_core::rng::CryptoRng;
use hush_core::{IdentityKeyPair, KemKeyType};

use crate::error::{Error, Result};
use crate::ids::{IdSpace, PreKeyIdAllocator};
use crate::limits::MAX_RECORDS_PER_KIND;
use crate::record::{KemPreKeyRecord, PreKeyRecord, PreKeyRecords, SignedPreKeyRecord};
use crate::upload::PreKeyUpload;

/// What [`generate_prekeys`] should make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct GenerateRequest {
    /// Make a new signed EC prekey.
    pub signed_prekey: bool,
    /// How many one-time EC prekeys to make.
    pub one_time_prekeys: usize,
    /// How many signed one-time KEM prekeys to make.
    pub kem_prekeys: usize,
    /// Make a new signed last-resort KEM prekey.
    pub last_resort_kem_prekey: bool,
    /// Which KEM the KEM prekeys use. libsignal's PQXDH uses Kyber1024 today.
    pub kem_key_type: KemKeyType,
}

impl Default for GenerateRequest {
    /// A full batch: a signed prekey, 100 one-time EC prekeys, 100 Kyber1024 prekeys and a
    /// last-resort Kyber1024 prekey.
    fn default() -> Self {
        Self {
            signed_prekey: true,
            one_time_prekeys: 100,
            kem_prekeys: 100,
            last_resort_kem_prekey: true,
            kem_key_type: KemKeyType::Kyber1024,
        }
    }
}

impl GenerateRequest {
    /// Only one-time keys: `one_time_prekeys` EC and `kem_prekeys` Kyber1024 ones, e.g. to
    /// replenish what [`crate::RotationPolicy::replenish_count`] says is missing.
    #[must_use]
    pub const fn one_time_only(one_time_prekeys: usize, kem_prekeys: usize) -> Self {
        Self {
            signed_prekey: false,
            one_time_prekeys,
            kem_prekeys,
            last_resort_kem_prekey: false,
            kem_key_type: KemKeyType::Kyber1024,
        }
    }
}

/// Makes the prekeys `request` asks for, signed by `identity`, with ids from `ids`, all
/// stamped `now_ms` (milliseconds since the Unix epoch).
///
/// Randomness is drawn in this order: the signed prekey (32 bytes, then 64 for its
/// signature), each one-time EC prekey (32 bytes), each KEM prekey (64 `next_u32` draws,
/// then 64 bytes for its signature), the last-resort KEM prekey (the same). Last-resort
/// KEM keys share the KEM id space with one-time KEM keys.
///
/// `ids` is advanced only when the whole batch is made, so on error it is unchanged.
/// Use [`PreKeyRecords::newest_signed_prekey`] and friends, or [`upload_for`], to build
/// the upload.
///
/// # Errors
///
/// [`Error::TooMany`] if more than [`MAX_RECORDS_PER_KIND`] keys of a kind are asked for.
pub fn generate_prekeys<R: CryptoRng + ?Sized>(
    identity: &IdentityKeyPair,
    ids: &mut PreKeyIdAllocator,
    request: &GenerateRequest,
    now_ms: u64,
    rng: &mut R,
) -> Result<PreKeyRecords> {
    for (what, count) in [
        ("one-time prekeys", request.one_time_prekeys),
        ("KEM prekeys", request.kem_prekeys),
    ] {
        if count > MAX_RECORDS_PER_KIND {
            return Err(Error::TooMany {
                what,
                limit: MAX_RECORDS_PER_KIND,
                actual: count,
            });
        }
    }
    let mut next = *ids;
    let mut signed = Vec::new();
    if request.signed_prekey {
        let id = next.allocate(IdSpace::SignedPreKey);
        signed.push(SignedPreKeyRecord::generate(id, identity, now_ms, rng)?);
    }
    let mut one_time = Vec::with_capacity(request.one_time_prekeys);
    for _ in 0..request.one_time_prekeys {
        one_time.push(PreKeyRecord::generate(
            next.allocate(IdSpace::OneTimePreKey),
            rng,
        )?);
    }
    let kem_count = request.kem_prekeys + usize::from(request.last_resort_kem_prekey);
    let mut kem = Vec::with_capacity(kem_count);
    for index in 0..kem_count {
        let last_resort = index >= request.kem_prekeys;
        let id = next.allocate(IdSpace::KemPreKey);
        kem.push(KemPreKeyRecord::generate(
            id,
            request.kem_key_type,
            identity,
            now_ms,
            last_resort,
            rng,
        )?);
    }
    let records = PreKeyRecords::new(signed, one_time, kem)?;
    *ids = next;
    Ok(records)
}

/// The upload announcing `records`: the newest signed prekey, every one-time EC prekey,
/// every one-time KEM prekey, and the newest last-resort KEM prekey.
#[must_use]
pub fn upload_for(identity: &IdentityKeyPair, records: &PreKeyRecords) -> PreKeyUpload {
    PreKeyUpload::new(
        identity.identity_key(),
        records
            .newest_signed_prekey()
            .map(SignedPreKeyRecord::public),
        records
            .one_time_prekeys()
            .iter()
            .map(PreKeyRecord::public)
            .collect(),
        records
            .kem_prekeys()
            .iter()
            .filter(|r| !r.is_last_resort())
            .map(KemPreKeyRecord::public)
            .collect(),
        records
            .newest_last_resort_kem_prekey()
            .map(KemPreKeyRecord::public),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use hush_test_support::test_rng;

    #[test]
    fn full_batch_uses_fresh_ids_and_advances_the_allocator() {
        let mut rng = test_rng(1);
        let identity = IdentityKeyPair::generate(&mut rng);
        let mut ids = PreKeyIdAllocator::new();
        let request = GenerateRequest {
            one_time_prekeys: 3,
            kem_prekeys: 2,
            ..GenerateRequest::default()
        };
        let records =
            generate_prekeys(&identity, &mut ids, &request, 1_700_000_000_000, &mut rng).unwrap();
        assert_eq!(records.signed_prekeys().len(), 1);
        assert_eq!(
            records
                .one_time_prekeys()
                .iter()
                .map(PreKeyRecord::id)
                .collect::<Vec<_>>(),
            [1, 2, 3]
        );
        let kem: Vec<_> = records
            .kem_prekeys()
            .iter()
            .map(|r| (r.id(), r.is_last_resort()))
            .collect();
        assert_eq!(kem, [(1, false), (2, false), (3, true)]);
        assert_eq!(ids.peek(IdSpace::OneTimePreKey), 4);
        assert_eq!(ids.peek(IdSpace::KemPreKey), 4);
        assert_eq!(ids.peek(IdSpace::SignedPreKey), 2);

        let upload = upload_for(&identity, &records);
        assert_eq!(upload.one_time_prekeys().len(), 3);
        assert_eq!(upload.kem_prekeys().len(), 2);
        assert_eq!(
            upload.last_resort_kem_prekey().map(crate::KemPreKey::id),
            Some(3)
        );
        let signed = upload.signed_prekey().unwrap();
        assert!(signed.verify(&identity.identity_key()));
        assert!(
            upload
                .kem_prekeys()
                .iter()
                .all(|k| k.verify(&identity.identity_key()))
        );
    }

    #[test]
    fn too_many_leaves_the_allocator_alone() {
        let mut rng = test_rng(2);
        let identity = IdentityKeyPair::generate(&mut rng);
        let mut ids = PreKeyIdAllocator::new();
        let request = GenerateRequest::one_time_only(MAX_RECORDS_PER_KIND + 1, 0);
        assert!(matches!(
            generate_prekeys(&identity, &mut ids, &request, 0, &mut rng),
            Err(Error::TooMany { .. })
        ));
        assert_eq!(ids, PreKeyIdAllocator::new());
    }
}
