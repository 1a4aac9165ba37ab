//! `PreKeyUpload`: what a device sends its server. Encoding for clients; the structural
//! decode and per-key parse that [`crate::validate_upload`] builds on.

use hush_core::{IdentityKey, KemKeyType, KemPublicKey, PublicKey, Signature};

use crate::codec::seal;
use crate::error::{Issue, KeyKind, Problem, UploadError};
use crate::keys::{KemPreKey, OneTimePreKey, SignedPreKey};
use crate::limits::{FORMAT_VERSION, MAX_PREKEY_ID};
use crate::scan::{ScanError, scan};
use crate::validate::UploadPolicy;
use crate::wire;

/// A device's prekey upload: its identity key and any of a signed EC prekey, one-time EC
/// prekeys, signed one-time KEM prekeys and a signed last-resort KEM prekey.
///
/// Clients build one (usually with [`crate::upload_for`]) and [`encode`](Self::encode)
/// it. Servers get one out of untrusted bytes only through [`crate::validate_upload`],
/// which checks every signature; [`PreKeyUpload::decode`] checks the format alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreKeyUpload {
    identity_key: IdentityKey,
    signed_prekey: Option<SignedPreKey>,
    one_time_prekeys: Vec<OneTimePreKey>,
    kem_prekeys: Vec<KemPreKey>,
    last_resort_kem_prekey: Option<KemPreKey>,
}

impl PreKeyUpload {
    /// Assembles an upload. Nothing is checked here: the server's
    /// [`crate::validate_upload`] judges it.
    #[must_use]
    pub const fn new(
        identity_key: IdentityKey,
        signed_prekey: Option<SignedPreKey>,
        one_time_prekeys: Vec<OneTimePreKey>,
        kem_prekeys: Vec<KemPreKey>,
        last_resort_kem_prekey: Option<KemPreKey>,
    ) -> Self {
        Self {
            identity_key,
            signed_prekey,
            one_time_prekeys,
            kem_prekeys,
            last_resort_kem_prekey,
        }
    }

    /// The identity key the upload claims.
    #[must_use]
    pub const fn identity_key(&self) -> &IdentityKey {
        &self.identity_key
    }

    /// The signed EC prekey, if the upload replaces it.
    #[must_use]
    pub const fn signed_prekey(&self) -> Option<&SignedPreKey> {
        self.signed_prekey.as_ref()
    }

    /// The one-time EC prekeys.
    #[must_use]
    pub fn one_time_prekeys(&self) -> &[OneTimePreKey] {
        &self.one_time_prekeys
    }

    /// The signed one-time KEM prekeys.
    #[must_use]
    pub fn kem_prekeys(&self) -> &[KemPreKey] {
        &self.kem_prekeys
    }

    /// The signed last-resort KEM prekey, if the upload replaces it.
    #[must_use]
    pub const fn last_resort_kem_prekey(&self) -> Option<&KemPreKey> {
        self.last_resort_kem_prekey.as_ref()
    }

    /// The wire form: [`FORMAT_VERSION`] then the `PreKeyUpload` protobuf.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let signed =
            |id, timestamp_ms, public_key: Vec<u8>, signature: &Signature| wire::SignedKey {
                id,
                public_key,
                signature: signature.as_bytes().to_vec(),
                timestamp_ms,
            };
        let kem = |k: &KemPreKey| {
            signed(
                k.id(),
                k.timestamp_ms(),
                k.public_key().encode(),
                k.signature(),
            )
        };
        seal(&wire::PreKeyUpload {
            identity_key: self.identity_key.encode().to_vec(),
            signed_prekey: self.signed_prekey.as_ref().map(|k| {
                signed(
                    k.id(),
                    k.timestamp_ms(),
                    k.public_key().encode().to_vec(),
                    k.signature(),
                )
            }),
            one_time_prekeys: self
                .one_time_prekeys
                .iter()
                .map(|k| wire::OneTimeKey {
                    id: k.id(),
                    public_key: k.public_key().encode().to_vec(),
                })
                .collect(),
            kem_prekeys: self.kem_prekeys.iter().map(kem).collect(),
            last_resort_kem_prekey: self.last_resort_kem_prekey.as_ref().map(kem),
        })
    }

    /// Decodes the wire form and checks every key's format (ids, key types and lengths,
    /// KEM key validity, signature lengths, the KEM types `policy` accepts) but **not**
    /// signatures, timestamps, duplicate ids or the identity: use
    /// [`crate::validate_upload`] for untrusted uploads.
    ///
    /// # Errors
    ///
    /// The structural [`UploadError`]s, checked against `policy`'s size and count limits
    /// before decoding; [`UploadError::Rejected`] listing every key whose format is wrong.
    pub fn decode(bytes: &[u8], policy: &UploadPolicy) -> Result<Self, UploadError> {
        let wire = open(bytes, policy)?;
        let mut problems = Vec::new();
        let parsed = Parsed::new(&wire, policy, &mut problems);
        match parsed.into_upload() {
            Some(upload) if problems.is_empty() => Ok(upload),
            _ => Err(UploadError::Rejected { problems }),
        }
    }
}

/// Size, version, framing and counts, then prost.
pub(crate) fn open(bytes: &[u8], policy: &UploadPolicy) -> Result<wire::PreKeyUpload, UploadError> {
    if bytes.len() > policy.max_upload_bytes {
        return Err(UploadError::TooLarge {
            limit: policy.max_upload_bytes,
            actual: bytes.len(),
        });
    }
    let (&version, body) = bytes.split_first().ok_or(UploadError::Empty)?;
    if version != FORMAT_VERSION {
        return Err(UploadError::UnsupportedVersion(version));
    }
    let counts = scan(body, &wire::UPLOAD_FIELDS, false).map_err(|e| match e {
        ScanError::Truncated => UploadError::Truncated,
        ScanError::Malformed(reason) => UploadError::Malformed(reason),
    })?;
    for (index, kind, limit) in [
        (
            wire::UPLOAD_ONE_TIME_INDEX,
            KeyKind::OneTimePreKey,
            policy.max_one_time_prekeys,
        ),
        (
            wire::UPLOAD_KEM_INDEX,
            KeyKind::KemPreKey,
            policy.max_kem_prekeys,
        ),
    ] {
        let actual = counts.get(index).copied().unwrap_or(0);
        if actual > limit {
            return Err(UploadError::TooManyKeys {
                kind,
                limit,
                actual,
            });
        }
    }
    prost::Message::decode(body).map_err(|_| UploadError::Malformed("not a valid protobuf message"))
}

/// One key of an upload after parsing: what decoded, and whether any problem was found.
#[derive(Debug)]
pub(crate) struct Slot<'w, K> {
    pub(crate) kind: KeyKind,
    pub(crate) position: Option<usize>,
    pub(crate) id: u32,
    /// The serialised public key exactly as sent: the signed message.
    pub(crate) public_key_bytes: &'w [u8],
    pub(crate) key: Option<K>,
    /// `None` for one-time EC prekeys (unsigned) and for signatures of the wrong length.
    pub(crate) signature: Option<Signature>,
    pub(crate) timestamp_ms: u64,
    pub(crate) faulty: bool,
}

impl<K> Slot<'_, K> {
    pub(crate) fn flag(&mut self, problems: &mut Vec<Problem>, issue: Issue) {
        self.faulty = true;
        problems.push(Problem {
            kind: self.kind,
            position: self.position,
            id: Some(self.id),
            issue,
        });
    }
}

/// Every key of an upload, parsed, with format problems recorded.
#[derive(Debug)]
pub(crate) struct Parsed<'w> {
    pub(crate) identity_key: Option<IdentityKey>,
    pub(crate) signed_prekey: Option<Slot<'w, PublicKey>>,
    pub(crate) one_time_prekeys: Vec<Slot<'w, PublicKey>>,
    pub(crate) kem_prekeys: Vec<Slot<'w, KemPublicKey>>,
    pub(crate) last_resort_kem_prekey: Option<Slot<'w, KemPublicKey>>,
}

impl<'w> Parsed<'w> {
    pub(crate) fn new(
        wire: &'w wire::PreKeyUpload,
        policy: &UploadPolicy,
        problems: &mut Vec<Problem>,
    ) -> Self {
        let identity_key = if wire.identity_key.is_empty() {
            problems.push(Problem::whole(KeyKind::IdentityKey, Issue::Missing));
            None
        } else {
            IdentityKey::decode(&wire.identity_key)
                .map_err(|e| problems.push(Problem::whole(KeyKind::IdentityKey, key_issue(&e))))
                .ok()
        };
        let signed_prekey = wire.signed_prekey.as_ref().map(|entry| {
            let mut slot = signed_slot(entry, KeyKind::SignedPreKey, None, problems);
            slot.key = PublicKey::decode(&entry.public_key)
                .map_err(|e| slot.flag(problems, key_issue(&e)))
                .ok();
            slot
        });
        let one_time_prekeys = wire
            .one_time_prekeys
            .iter()
            .enumerate()
            .map(|(position, entry)| {
                let mut slot = Slot {
                    kind: KeyKind::OneTimePreKey,
                    position: Some(position),
                    id: entry.id,
                    public_key_bytes: &entry.public_key,
                    key: None,
                    signature: None,
                    timestamp_ms: 0,
                    faulty: false,
                };
                check_id(&mut slot, problems);
                slot.key = PublicKey::decode(&entry.public_key)
                    .map_err(|e| slot.flag(problems, key_issue(&e)))
                    .ok();
                slot
            })
            .collect();
        let kem_prekeys = wire
            .kem_prekeys
            .iter()
            .enumerate()
            .map(|(position, entry)| {
                kem_slot(entry, KeyKind::KemPreKey, Some(position), policy, problems)
            })
            .collect();
        let last_resort_kem_prekey = wire
            .last_resort_kem_prekey
            .as_ref()
            .map(|entry| kem_slot(entry, KeyKind::LastResortKemPreKey, None, policy, problems));
        Self {
            identity_key,
            signed_prekey,
            one_time_prekeys,
            kem_prekeys,
            last_resort_kem_prekey,
        }
    }

    /// The upload, if every key parsed.
    pub(crate) fn into_upload(self) -> Option<PreKeyUpload> {
        fn signed<K>(slot: Slot<'_, K>) -> Option<(u32, u64, K, Signature)> {
            if slot.faulty {
                return None;
            }
            Some((slot.id, slot.timestamp_ms, slot.key?, slot.signature?))
        }
        let kem =
            |slot| signed(slot).map(|(id, t, key, sig)| KemPreKey::new_checked(id, t, key, sig));
        let signed_prekey = match self.signed_prekey {
            Some(slot) => Some(
                signed(slot).map(|(id, t, key, sig)| SignedPreKey::new_checked(id, t, key, sig))?,
            ),
            None => None,
        };
        let one_time_prekeys = self
            .one_time_prekeys
            .into_iter()
            .map(|slot| {
                if slot.faulty {
                    None
                } else {
                    Some(OneTimePreKey::new_checked(slot.id, slot.key?))
                }
            })
            .collect::<Option<Vec<_>>>()?;
        let kem_prekeys = self
            .kem_prekeys
            .into_iter()
            .map(kem)
            .collect::<Option<Vec<_>>>()?;
        let last_resort_kem_prekey = match self.last_resort_kem_prekey {
            Some(slot) => Some(kem(slot)?),
            None => None,
        };
        Some(PreKeyUpload {
            identity_key: self.identity_key?,
            signed_prekey,
            one_time_prekeys,
            kem_prekeys,
            last_resort_kem_prekey,
        })
    }
}

fn check_id<K>(slot: &mut Slot<'_, K>, problems: &mut Vec<Problem>) {
    if slot.id > MAX_PREKEY_ID {
        slot.flag(problems, Issue::IdOutOfRange);
    }
}

/// The fields signed EC and KEM entries share: id, signature, timestamp.
fn signed_slot<'w, K>(
    entry: &'w wire::SignedKey,
    kind: KeyKind,
    position: Option<usize>,
    problems: &mut Vec<Problem>,
) -> Slot<'w, K> {
    let mut slot = Slot {
        kind,
        position,
        id: entry.id,
        public_key_bytes: &entry.public_key,
        key: None,
        signature: None,
        timestamp_ms: entry.timestamp_ms,
        faulty: false,
    };
    check_id(&mut slot, problems);
    slot.signature = Signature::decode(&entry.signature)
        .map_err(|_| {
            slot.flag(
                problems,
                Issue::WrongSignatureLength {
                    actual: entry.signature.len(),
                },
            )
        })
        .ok();
    slot
}

fn kem_slot<'w>(
    entry: &'w wire::SignedKey,
    kind: KeyKind,
    position: Option<usize>,
    policy: &UploadPolicy,
    problems: &mut Vec<Problem>,
) -> Slot<'w, KemPublicKey> {
    let mut slot = signed_slot(entry, kind, position, problems);
    match KemPublicKey::decode(&entry.public_key) {
        Ok(key) if policy.accepts(key.key_type()) => slot.key = Some(key),
        Ok(key) => slot.flag(
            problems,
            Issue::KemTypeNotAllowed {
                found: key.key_type().type_byte(),
            },
        ),
        Err(e) => slot.flag(problems, key_issue(&e)),
    }
    slot
}

/// What a `hush-core` key decoding error means for the client.
fn key_issue(error: &hush_core::Error) -> Issue {
    match *error {
        hush_core::Error::UnknownKeyType(found) => Issue::WrongKeyType { found },
        hush_core::Error::BadLength {
            expected, actual, ..
        } => Issue::WrongKeyLength { expected, actual },
        _ => Issue::InvalidKey,
    }
}

impl UploadPolicy {
    pub(crate) const fn accepts(&self, key_type: KemKeyType) -> bool {
        match key_type {
            KemKeyType::Kyber1024 => self.accept_kyber1024,
            KemKeyType::MlKem1024 => self.accept_ml_kem_1024,
            _ => false,
        }
    }
}
