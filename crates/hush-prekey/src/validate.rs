//! Server-side upload validation.

use core::fmt;
use std::collections::BTreeSet;

use hush_core::rng::CryptoRng;
use hush_core::xeddsa::{BatchItem, verify_batch};
use hush_core::{IdentityKey, Signature, VerifyingKey};

use crate::error::{Issue, KeyKind, Problem, UploadError};
use crate::keys::{KemPreKey, OneTimePreKey, SignedPreKey};
use crate::limits::{
    DEFAULT_MAX_CLOCK_SKEW_MS, DEFAULT_MAX_KEM_PREKEYS, DEFAULT_MAX_KEY_AGE_MS,
    DEFAULT_MAX_ONE_TIME_PREKEYS, DEFAULT_MAX_UPLOAD_BYTES,
};
use crate::upload::{Parsed, PreKeyUpload, Slot, open};

/// How [`validate_upload`] checks signatures. Both give the same verdict on every input
/// (tested); batch is faster for full uploads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SignatureCheck {
    /// `hush_core::xeddsa::verify_batch`: one multi-scalar multiplication for all
    /// signatures, falling back to one-by-one checks to name the bad ones if it fails.
    #[default]
    Batch,
    /// Each signature on its own.
    OneByOne,
}

/// What a server accepts in an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadPolicy {
    /// Longest upload, in bytes, checked before anything is decoded.
    pub max_upload_bytes: usize,
    /// Most one-time EC prekeys in one upload.
    pub max_one_time_prekeys: usize,
    /// Most one-time KEM prekeys in one upload (the last-resort key is not counted).
    pub max_kem_prekeys: usize,
    /// How far (ms) a signed key's timestamp may be ahead of the server's clock.
    pub max_clock_skew_ms: u64,
    /// How old (ms) a signed key's timestamp may be.
    pub max_key_age_ms: u64,
    /// Refuse uploads without a signed EC prekey.
    pub require_signed_prekey: bool,
    /// Refuse uploads without a last-resort KEM prekey.
    pub require_last_resort_kem_prekey: bool,
    /// Accept Kyber1024 KEM prekeys (type `0x08`, what libsignal's PQXDH uses).
    pub accept_kyber1024: bool,
    /// Accept ML-KEM-1024 KEM prekeys (type `0x0a`).
    pub accept_ml_kem_1024: bool,
    /// How signatures are checked.
    pub signature_check: SignatureCheck,
}

impl Default for UploadPolicy {
    /// The limits in [`crate::limits`]; signed and last-resort keys optional (so a device
    /// can upload one-time keys alone); both KEMs accepted; batch verification.
    fn default() -> Self {
        Self {
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            max_one_time_prekeys: DEFAULT_MAX_ONE_TIME_PREKEYS,
            max_kem_prekeys: DEFAULT_MAX_KEM_PREKEYS,
            max_clock_skew_ms: DEFAULT_MAX_CLOCK_SKEW_MS,
            max_key_age_ms: DEFAULT_MAX_KEY_AGE_MS,
            require_signed_prekey: false,
            require_last_resort_kem_prekey: false,
            accept_kyber1024: true,
            accept_ml_kem_1024: true,
            signature_check: SignatureCheck::Batch,
        }
    }
}

/// An upload that passed [`validate_upload`]: every key well formed, every id in range
/// and unique in its space, every signature made by the account's identity key, every
/// timestamp plausible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedUpload {
    upload: PreKeyUpload,
}

impl ValidatedUpload {
    /// The upload.
    #[must_use]
    pub const fn upload(&self) -> &PreKeyUpload {
        &self.upload
    }

    /// The upload, by value.
    #[must_use]
    pub fn into_upload(self) -> PreKeyUpload {
        self.upload
    }

    /// The identity key (the account's).
    #[must_use]
    pub const fn identity_key(&self) -> &IdentityKey {
        self.upload.identity_key()
    }

    /// The signed EC prekey, if the upload replaces it.
    #[must_use]
    pub const fn signed_prekey(&self) -> Option<&SignedPreKey> {
        self.upload.signed_prekey()
    }

    /// The one-time EC prekeys.
    #[must_use]
    pub fn one_time_prekeys(&self) -> &[OneTimePreKey] {
        self.upload.one_time_prekeys()
    }

    /// The one-time KEM prekeys.
    #[must_use]
    pub fn kem_prekeys(&self) -> &[KemPreKey] {
        self.upload.kem_prekeys()
    }

    /// The last-resort KEM prekey, if the upload replaces it.
    #[must_use]
    pub const fn last_resort_kem_prekey(&self) -> Option<&KemPreKey> {
        self.upload.last_resort_kem_prekey()
    }
}

/// One line: what the upload holds, e.g. `signed prekey id 1, 100 one-time prekeys, 100
/// KEM prekeys, last-resort KEM prekey id 101`.
impl fmt::Display for ValidatedUpload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.signed_prekey() {
            Some(key) => write!(f, "signed prekey id {}", key.id())?,
            None => f.write_str("no signed prekey")?,
        }
        write!(
            f,
            ", {} one-time prekeys, {} KEM prekeys",
            self.one_time_prekeys().len(),
            self.kem_prekeys().len()
        )?;
        match self.last_resort_kem_prekey() {
            Some(key) => write!(f, ", last-resort KEM prekey id {}", key.id()),
            None => f.write_str(", no last-resort KEM prekey"),
        }
    }
}

/// Validates an upload received for the account whose identity key is `identity_key`,
/// as a server must before storing any of it.
///
/// In order: the length against [`UploadPolicy::max_upload_bytes`] (before decoding),
/// the version byte, the protobuf framing (truncation told apart from garbage; unknown
/// and repeated fields refused), the number of one-time EC and KEM prekeys against the
/// policy (counted before decoding). Any failure so far stops validation. Then every key
/// is checked and every problem reported: identity key present and equal to
/// `identity_key`; ids at most [`crate::limits::MAX_PREKEY_ID`] and unique in their
/// space (one-time EC; one-time and last-resort KEM together); key type bytes, lengths
/// and KEM key validity; KEM types the policy accepts; signature lengths; timestamps
/// within [`UploadPolicy::max_clock_skew_ms`] ahead of `now_ms` and
/// [`UploadPolicy::max_key_age_ms`] behind it; the signed and last-resort keys if the
/// policy requires them; at least one key; and every signature, checked against
/// `identity_key` (never the upload's own claim). `rng` draws the batch verifier's
/// weights (16 bytes per signature).
///
/// # Errors
///
/// The structural [`UploadError`] variants, or [`UploadError::Rejected`] with every
/// [`Problem`] in upload order. No error holds key bytes.
pub fn validate_upload<R: CryptoRng + ?Sized>(
    identity_key: &IdentityKey,
    bytes: &[u8],
    policy: &UploadPolicy,
    now_ms: u64,
    rng: &mut R,
) -> Result<ValidatedUpload, UploadError> {
    let wire = open(bytes, policy)?;
    let mut problems = Vec::new();
    let mut parsed = Parsed::new(&wire, policy, &mut problems);

    if parsed
        .identity_key
        .is_some_and(|claimed| claimed != *identity_key)
    {
        problems.push(Problem::whole(
            KeyKind::IdentityKey,
            Issue::IdentityMismatch,
        ));
    }
    if policy.require_signed_prekey && parsed.signed_prekey.is_none() {
        problems.push(Problem::whole(KeyKind::SignedPreKey, Issue::Missing));
    }
    if policy.require_last_resort_kem_prekey && parsed.last_resort_kem_prekey.is_none() {
        problems.push(Problem::whole(KeyKind::LastResortKemPreKey, Issue::Missing));
    }
    if parsed.signed_prekey.is_none()
        && parsed.one_time_prekeys.is_empty()
        && parsed.kem_prekeys.is_empty()
        && parsed.last_resort_kem_prekey.is_none()
    {
        problems.push(Problem::whole(KeyKind::Upload, Issue::NoKeys));
    }

    flag_duplicates(parsed.one_time_prekeys.iter_mut(), &mut problems);
    flag_duplicates(
        parsed
            .kem_prekeys
            .iter_mut()
            .chain(parsed.last_resort_kem_prekey.as_mut()),
        &mut problems,
    );

    for slot in parsed.signed_prekey.iter_mut() {
        check_timestamp(slot, policy, now_ms, &mut problems);
    }
    for slot in parsed
        .kem_prekeys
        .iter_mut()
        .chain(parsed.last_resort_kem_prekey.as_mut())
    {
        check_timestamp(slot, policy, now_ms, &mut problems);
    }

    check_signatures(
        &mut parsed,
        identity_key,
        policy.signature_check,
        &mut problems,
        rng,
    );

    // Upload order: by kind, then position; a key's problems in the order found.
    problems.sort_by_key(|p| (p.kind, p.position));
    match parsed.into_upload() {
        Some(upload) if problems.is_empty() => Ok(ValidatedUpload { upload }),
        _ => Err(UploadError::Rejected { problems }),
    }
}

fn flag_duplicates<'a, 'w: 'a, K: 'a>(
    slots: impl Iterator<Item = &'a mut Slot<'w, K>>,
    problems: &mut Vec<Problem>,
) {
    let mut seen = BTreeSet::new();
    for slot in slots {
        if !seen.insert(slot.id) {
            slot.flag(problems, Issue::DuplicateId);
        }
    }
}

fn check_timestamp<K>(
    slot: &mut Slot<'_, K>,
    policy: &UploadPolicy,
    now_ms: u64,
    problems: &mut Vec<Problem>,
) {
    let timestamp = slot.timestamp_ms;
    if let Some(ahead_ms) = timestamp.checked_sub(now_ms) {
        if ahead_ms > policy.max_clock_skew_ms {
            slot.flag(problems, Issue::TimestampInFuture { ahead_ms });
        }
    } else {
        let age_ms = now_ms - timestamp;
        if age_ms > policy.max_key_age_ms {
            slot.flag(problems, Issue::TimestampTooOld { age_ms });
        }
    }
}

/// Which slot a signature to check belongs to.
#[derive(Clone, Copy)]
enum Owner {
    Signed,
    Kem(usize),
    LastResort,
}

fn check_signatures<R: CryptoRng + ?Sized>(
    parsed: &mut Parsed<'_>,
    identity_key: &IdentityKey,
    mode: SignatureCheck,
    problems: &mut Vec<Problem>,
    rng: &mut R,
) {
    fn candidate<'s, K>(slot: &Slot<'s, K>) -> Option<(&'s [u8], Signature)> {
        slot.key.as_ref()?;
        Some((slot.public_key_bytes, slot.signature?))
    }

    let verifying_key = VerifyingKey::new(identity_key.public_key());
    let mut owners = Vec::new();
    let mut to_check: Vec<(&[u8], Signature)> = Vec::new();
    let signed = parsed
        .signed_prekey
        .as_ref()
        .and_then(candidate)
        .map(|c| (Owner::Signed, c));
    let kem = parsed
        .kem_prekeys
        .iter()
        .enumerate()
        .filter_map(|(i, s)| candidate(s).map(|c| (Owner::Kem(i), c)));
    let last = parsed
        .last_resort_kem_prekey
        .as_ref()
        .and_then(candidate)
        .map(|c| (Owner::LastResort, c));
    for (owner, item) in signed.into_iter().chain(kem).chain(last) {
        owners.push(owner);
        to_check.push(item);
    }

    let invalid: Vec<usize> = match mode {
        SignatureCheck::Batch => {
            let items: Vec<BatchItem<'_>> = to_check
                .iter()
                .map(|(message, signature)| BatchItem {
                    key: &verifying_key,
                    message,
                    signature,
                })
                .collect();
            verify_batch(&items, rng).invalid().to_vec()
        }
        SignatureCheck::OneByOne => to_check
            .iter()
            .enumerate()
            .filter(|(_, (message, signature))| !verifying_key.verify(message, signature))
            .map(|(index, _)| index)
            .collect(),
    };
    for owner in invalid.iter().filter_map(|&index| owners.get(index)) {
        match *owner {
            Owner::Signed => {
                if let Some(slot) = parsed.signed_prekey.as_mut() {
                    slot.flag(problems, Issue::BadSignature);
                }
            }
            Owner::Kem(i) => {
                if let Some(slot) = parsed.kem_prekeys.get_mut(i) {
                    slot.flag(problems, Issue::BadSignature);
                }
            }
            Owner::LastResort => {
                if let Some(slot) = parsed.last_resort_kem_prekey.as_mut() {
                    slot.flag(problems, Issue::BadSignature);
                }
            }
        }
    }
}
