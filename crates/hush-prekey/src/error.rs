//! The errors of `hush-prekey`: [`Error`] for everything but upload validation, and
//! [`UploadError`] with its [`Problem`] list for [`crate::validate_upload`].
//!
//! No error carries key material: problems name the kind of key, its id and position,
//! and what was wrong, never the bytes.

use core::fmt;

/// Everything that can go wrong in `hush-prekey` outside upload validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input was empty: not even a version byte.
    #[error("{0} is empty")]
    Empty(&'static str),
    /// The format version byte is not one this crate reads.
    #[error("unsupported {what} format version {version}")]
    UnsupportedVersion {
        /// What was being decoded.
        what: &'static str,
        /// The version byte found.
        version: u8,
    },
    /// The input is longer than its limit; nothing was decoded.
    #[error("{what} is {actual} bytes, more than the limit of {limit}")]
    TooLarge {
        /// What was being decoded.
        what: &'static str,
        /// The limit.
        limit: usize,
        /// The input's length.
        actual: usize,
    },
    /// The input ends in the middle of a field.
    #[error("{0} is truncated")]
    Truncated(&'static str),
    /// The input is not a well-formed message of this kind (bad protobuf framing, an
    /// unknown or repeated field, inconsistent fields).
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// What was being decoded.
        what: &'static str,
        /// What is wrong, in a few words.
        reason: &'static str,
    },
    /// A key or signature field failed to decode.
    #[error("{what}: bad {field}: {error}")]
    InvalidField {
        /// What was being decoded.
        what: &'static str,
        /// Which field.
        field: &'static str,
        /// Why `hush-core` refused it.
        error: hush_core::Error,
    },
    /// A prekey id above [`crate::limits::MAX_PREKEY_ID`].
    #[error("{what} id {id} is above {max}", max = crate::limits::MAX_PREKEY_ID)]
    IdOutOfRange {
        /// Which kind of key.
        what: &'static str,
        /// The id found.
        id: u32,
    },
    /// A device id outside `1..=`[`crate::limits::MAX_DEVICE_ID`].
    #[error("device id {0} is outside 1..={max}", max = crate::limits::MAX_DEVICE_ID)]
    DeviceIdOutOfRange(u32),
    /// More entries of one kind than the limit allows.
    #[error("{actual} {what}, more than the limit of {limit}")]
    TooMany {
        /// Which kind of entry.
        what: &'static str,
        /// The limit.
        limit: usize,
        /// How many there were.
        actual: usize,
    },
    /// A signature by the identity key does not verify.
    #[error("the {0} signature does not verify")]
    BadSignature(&'static str),
    /// A bundle was asked for a device that has no signed prekey stored.
    #[error("no signed prekey is stored for this device")]
    NoSignedPreKey,
    /// A bundle was asked for a device that has neither a one-time KEM prekey nor a
    /// last-resort one.
    #[error("no KEM prekey is stored for this device, not even a last-resort one")]
    NoKemPreKey,
    /// An upload would leave the device unable to hand out a bundle: a first upload (no
    /// signed prekey stored yet) without a signed prekey, or with neither a last-resort
    /// nor a one-time KEM prekey. Every sender would then fail; the upload is refused
    /// instead, so the uploading device learns it at once.
    #[error("upload leaves no {0}: a first upload carries a signed prekey and a KEM prekey")]
    IncompleteFirstUpload(&'static str),
    /// An upload was applied to stored keys of a different identity.
    #[error("the upload's identity key is not the device's")]
    IdentityMismatch,
}

/// Result with [`Error`].
pub type Result<T> = core::result::Result<T, Error>;

/// Why [`crate::validate_upload`] (or [`crate::PreKeyUpload::decode`]) refused an upload.
///
/// Structural failures (empty, too large, unknown version, truncated, not a prekey upload
/// at all, too many keys) stop validation at once. Otherwise every key is checked and
/// [`UploadError::Rejected`] lists every problem found, in upload order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    /// The upload is empty.
    #[error("upload is empty")]
    Empty,
    /// The upload is longer than the policy allows; nothing was decoded.
    #[error("upload is {actual} bytes, more than the limit of {limit}")]
    TooLarge {
        /// [`crate::UploadPolicy::max_upload_bytes`].
        limit: usize,
        /// The upload's length.
        actual: usize,
    },
    /// The first byte is not a format version this crate reads.
    #[error("unsupported upload format version {0}")]
    UnsupportedVersion(u8),
    /// The upload ends in the middle of a field.
    #[error("upload is truncated")]
    Truncated,
    /// The upload is not a well-formed prekey upload (bad protobuf framing, an unknown or
    /// repeated field).
    #[error("upload is malformed: {0}")]
    Malformed(&'static str),
    /// More keys of one kind than the policy allows; counted before decoding.
    #[error("upload holds {actual} {kind}s, more than the limit of {limit}")]
    TooManyKeys {
        /// Which kind of key.
        kind: KeyKind,
        /// The policy's limit.
        limit: usize,
        /// How many the upload holds.
        actual: usize,
    },
    /// The upload decoded but some keys are wrong. Lists every problem found.
    #[error("upload rejected: {} problem(s)", problems.len())]
    Rejected {
        /// Every problem, in upload order.
        problems: Vec<Problem>,
    },
}

/// Which key of an upload a [`Problem`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum KeyKind {
    /// The upload as a whole (e.g. it holds no key at all).
    Upload,
    /// The identity key the upload names.
    IdentityKey,
    /// The signed EC prekey.
    SignedPreKey,
    /// A one-time EC prekey.
    OneTimePreKey,
    /// A signed one-time KEM prekey.
    KemPreKey,
    /// The signed last-resort KEM prekey.
    LastResortKemPreKey,
}

impl KeyKind {
    /// A short English name, e.g. `"KEM prekey"`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Upload => "upload",
            Self::IdentityKey => "identity key",
            Self::SignedPreKey => "signed prekey",
            Self::OneTimePreKey => "one-time prekey",
            Self::KemPreKey => "KEM prekey",
            Self::LastResortKemPreKey => "last-resort KEM prekey",
        }
    }

    /// A stable machine-readable code, e.g. `"kem_prekey"`: what a server puts in the
    /// error it returns to a client, and what `test-vectors/prekey/` records.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::Upload => "upload",
            Self::IdentityKey => "identity_key",
            Self::SignedPreKey => "signed_prekey",
            Self::OneTimePreKey => "one_time_prekey",
            Self::KemPreKey => "kem_prekey",
            Self::LastResortKemPreKey => "last_resort_kem_prekey",
        }
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What was wrong with one key of an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Issue {
    /// The key (or the identity key) is absent but required.
    Missing,
    /// The upload holds no key at all.
    NoKeys,
    /// The id is above [`crate::limits::MAX_PREKEY_ID`].
    IdOutOfRange,
    /// An earlier key of the same id space in this upload has the same id.
    DuplicateId,
    /// The public key starts with a type byte this kind of key does not use.
    WrongKeyType {
        /// The type byte found.
        found: u8,
    },
    /// The public key has the wrong length (type byte included).
    WrongKeyLength {
        /// The length required.
        expected: usize,
        /// The length found.
        actual: usize,
    },
    /// The KEM public key fails FIPS 203's check (a coefficient is not reduced).
    InvalidKey,
    /// The KEM type is one the policy does not accept.
    KemTypeNotAllowed {
        /// The type byte found.
        found: u8,
    },
    /// The signature is not 64 bytes long.
    WrongSignatureLength {
        /// The length found.
        actual: usize,
    },
    /// The signature does not verify under the account's identity key.
    BadSignature,
    /// The timestamp is further ahead of the server's clock than the policy's skew allows.
    TimestampInFuture {
        /// How far ahead of the server's clock, in milliseconds.
        ahead_ms: u64,
    },
    /// The timestamp is older than the policy's maximum age.
    TimestampTooOld {
        /// How old, in milliseconds.
        age_ms: u64,
    },
    /// The upload's identity key is not the account's.
    IdentityMismatch,
}

impl Issue {
    /// A stable machine-readable code, e.g. `"bad_signature"`: what a server puts in the
    /// error it returns to a client, and what `test-vectors/prekey/` records.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::NoKeys => "no_keys",
            Self::IdOutOfRange => "id_out_of_range",
            Self::DuplicateId => "duplicate_id",
            Self::WrongKeyType { .. } => "wrong_key_type",
            Self::WrongKeyLength { .. } => "wrong_key_length",
            Self::InvalidKey => "invalid_key",
            Self::KemTypeNotAllowed { .. } => "kem_type_not_allowed",
            Self::WrongSignatureLength { .. } => "wrong_signature_length",
            Self::BadSignature => "bad_signature",
            Self::TimestampInFuture { .. } => "timestamp_in_future",
            Self::TimestampTooOld { .. } => "timestamp_too_old",
            Self::IdentityMismatch => "identity_mismatch",
        }
    }
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Missing => f.write_str("missing"),
            Self::NoKeys => f.write_str("holds no key"),
            Self::IdOutOfRange => {
                write!(
                    f,
                    "id is above the 24-bit maximum {}",
                    crate::limits::MAX_PREKEY_ID
                )
            }
            Self::DuplicateId => f.write_str("id already used by an earlier key in this upload"),
            Self::WrongKeyType { found } => write!(f, "wrong key type byte {found:#04x}"),
            Self::WrongKeyLength { expected, actual } => {
                write!(f, "public key is {actual} bytes, expected {expected}")
            }
            Self::InvalidKey => f.write_str("KEM public key fails the FIPS 203 modulus check"),
            Self::KemTypeNotAllowed { found } => {
                write!(f, "KEM type {found:#04x} is not accepted by this server")
            }
            Self::WrongSignatureLength { actual } => {
                write!(f, "signature is {actual} bytes, expected 64")
            }
            Self::BadSignature => f.write_str("signature does not verify under the identity key"),
            Self::TimestampInFuture { ahead_ms } => {
                write!(f, "timestamp is {ahead_ms} ms ahead of the server's clock")
            }
            Self::TimestampTooOld { age_ms } => write!(f, "timestamp is {age_ms} ms old, too old"),
            Self::IdentityMismatch => f.write_str("does not match the account's identity key"),
        }
    }
}

/// One problem found in an upload: which key, and what was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Problem {
    /// Which kind of key.
    pub kind: KeyKind,
    /// The key's position in its list (one-time and KEM prekeys), counting from 0.
    pub position: Option<usize>,
    /// The key's id, when the key has one.
    pub id: Option<u32>,
    /// What was wrong.
    pub issue: Issue,
}

impl Problem {
    pub(crate) const fn whole(kind: KeyKind, issue: Issue) -> Self {
        Self {
            kind,
            position: None,
            id: None,
            issue,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(position) = self.position {
            write!(f, " #{position}")?;
        }
        if let Some(id) = self.id {
            write!(f, " (id {id})")?;
        }
        write!(f, ": {}", self.issue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_read_as_one_line() {
        let problem = Problem {
            kind: KeyKind::KemPreKey,
            position: Some(3),
            id: Some(42),
            issue: Issue::BadSignature,
        };
        assert_eq!(
            problem.to_string(),
            "KEM prekey #3 (id 42): signature does not verify under the identity key"
        );
        let whole = Problem::whole(KeyKind::IdentityKey, Issue::IdentityMismatch);
        assert_eq!(
            whole.to_string(),
            "identity key: does not match the account's identity key"
        );
        assert_eq!(
            UploadError::TooManyKeys {
                kind: KeyKind::OneTimePreKey,
                limit: 100,
                actual: 101
            }
            .to_string(),
            "upload holds 101 one-time prekeys, more than the limit of 100"
        );
    }
}
