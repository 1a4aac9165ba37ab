//! Safety numbers: the 60-digit displayable fingerprint and the scannable (QR) form,
//! byte-identical with libsignal, versions 1 and 2, any iteration count up to
//! [`MAX_FINGERPRINT_ITERATIONS`].
//!
//! Each side's fingerprint is an iterated SHA-512 over a two-byte format version (zero),
//! the serialised identity key and a stable identifier (a phone number or an ACI);
//! every further iteration hashes the previous digest with the key again.

use core::fmt;

use prost::Message;
use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};
use crate::identity::IdentityKey;
use crate::limits::MAX_FINGERPRINT_ITERATIONS;
use crate::wire;

/// Bytes of each side's hash used in the scannable form.
const SCANNABLE_LENGTH: usize = 32;
/// Bytes of each side's hash used for its 30 digits (six 5-byte chunks).
const DISPLAYABLE_BYTES: usize = 30;

/// Both forms of a safety number between a local and a remote identity.
#[derive(Clone, PartialEq, Eq)]
pub struct Fingerprint {
    displayable: DisplayableFingerprint,
    scannable: ScannableFingerprint,
}

impl Fingerprint {
    /// Computes the safety number of a conversation.
    ///
    /// # Errors
    ///
    /// [`Error::FingerprintParameter`] unless `version` is 1 or 2 and `iterations` is
    /// between 1 and [`MAX_FINGERPRINT_ITERATIONS`].
    pub fn new(
        version: u32,
        iterations: u32,
        local_id: &[u8],
        local_key: &IdentityKey,
        remote_id: &[u8],
        remote_key: &IdentityKey,
    ) -> Result<Self> {
        if !(1..=2).contains(&version) {
            return Err(Error::FingerprintParameter("version must be 1 or 2"));
        }
        if !(1..=MAX_FINGERPRINT_ITERATIONS).contains(&iterations) {
            return Err(Error::FingerprintParameter("iteration count out of range"));
        }
        let local = side_hash(iterations, local_id, local_key);
        let remote = side_hash(iterations, remote_id, remote_key);
        Ok(Self {
            displayable: DisplayableFingerprint {
                local: digits(&local),
                remote: digits(&remote),
            },
            scannable: ScannableFingerprint {
                version,
                local: prefix(&local),
                remote: prefix(&remote),
            },
        })
    }

    /// The 60-digit form people read aloud.
    #[must_use]
    pub const fn displayable(&self) -> &DisplayableFingerprint {
        &self.displayable
    }

    /// The form put in a QR code.
    #[must_use]
    pub const fn scannable(&self) -> &ScannableFingerprint {
        &self.scannable
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fingerprint")
            .field("displayable", &self.displayable.to_string())
            .field("version", &self.scannable.version)
            .finish()
    }
}

fn side_hash(iterations: u32, id: &[u8], key: &IdentityKey) -> [u8; 64] {
    let key_bytes = key.encode();
    let mut digest: [u8; 64] = Sha512::new()
        .chain_update([0u8, 0u8])
        .chain_update(key_bytes)
        .chain_update(id)
        .chain_update(key_bytes)
        .finalize()
        .into();
    for _ in 1..iterations {
        digest = Sha512::new()
            .chain_update(digest)
            .chain_update(key_bytes)
            .finalize()
            .into();
    }
    digest
}

fn prefix(hash: &[u8; 64]) -> [u8; SCANNABLE_LENGTH] {
    let mut out = [0u8; SCANNABLE_LENGTH];
    out.copy_from_slice(
        hash.get(..SCANNABLE_LENGTH)
            .unwrap_or(&[0u8; SCANNABLE_LENGTH]),
    );
    out
}

fn digits(hash: &[u8; 64]) -> String {
    let mut out = String::with_capacity(30);
    for chunk in hash
        .get(..DISPLAYABLE_BYTES)
        .unwrap_or_default()
        .chunks_exact(5)
    {
        let value = chunk.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        out.push_str(&format!("{:05}", value % 100_000));
    }
    out
}

/// The displayable safety number: 30 digits per side, the lower string first, so both
/// sides show the same 60 digits.
#[derive(Clone, PartialEq, Eq)]
pub struct DisplayableFingerprint {
    local: String,
    remote: String,
}

impl DisplayableFingerprint {
    /// The local side's 30 digits.
    #[must_use]
    pub fn local_digits(&self) -> &str {
        &self.local
    }

    /// The remote side's 30 digits.
    #[must_use]
    pub fn remote_digits(&self) -> &str {
        &self.remote
    }
}

impl fmt::Display for DisplayableFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.local < self.remote {
            write!(f, "{}{}", self.local, self.remote)
        } else {
            write!(f, "{}{}", self.remote, self.local)
        }
    }
}

impl fmt::Debug for DisplayableFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DisplayableFingerprint({self})")
    }
}

/// The scannable safety number: libsignal's `CombinedFingerprints` protobuf.
#[derive(Clone, PartialEq, Eq)]
pub struct ScannableFingerprint {
    version: u32,
    local: [u8; SCANNABLE_LENGTH],
    remote: [u8; SCANNABLE_LENGTH],
}

impl ScannableFingerprint {
    /// The version (1 or 2).
    #[must_use]
    pub const fn version(&self) -> u32 {
        self.version
    }

    /// The protobuf bytes to put in a QR code.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        wire::CombinedFingerprints {
            version: self.version,
            local_fingerprint: Some(wire::LogicalFingerprint {
                content: self.local.to_vec(),
            }),
            remote_fingerprint: Some(wire::LogicalFingerprint {
                content: self.remote.to_vec(),
            }),
        }
        .encode_to_vec()
    }

    /// Decodes scanned protobuf bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] if the bytes are not a `CombinedFingerprints` with two
    /// 32-byte contents and a version of 1 or 2.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let combined = wire::CombinedFingerprints::decode(bytes)
            .map_err(|_| Error::Malformed("scannable fingerprint"))?;
        let content = |side: Option<wire::LogicalFingerprint>| -> Result<[u8; SCANNABLE_LENGTH]> {
            side.and_then(|s| s.content.as_slice().try_into().ok())
                .ok_or(Error::Malformed("scannable fingerprint"))
        };
        if !(1..=2).contains(&combined.version) {
            return Err(Error::Malformed("scannable fingerprint"));
        }
        Ok(Self {
            version: combined.version,
            local: content(combined.local_fingerprint)?,
            remote: content(combined.remote_fingerprint)?,
        })
    }

    /// Compares with the code scanned from the other device: it must show our remote
    /// side as its local one and the other way round. Constant time.
    ///
    /// # Errors
    ///
    /// [`Error::FingerprintVersionMismatch`] if the versions differ (the two apps
    /// disagree on the format, which is not the same as a wrong safety number).
    pub fn compare(&self, scanned: &Self) -> Result<bool> {
        if self.version != scanned.version {
            return Err(Error::FingerprintVersionMismatch {
                ours: self.version,
                theirs: scanned.version,
            });
        }
        let same = self.local.ct_eq(&scanned.remote) & self.remote.ct_eq(&scanned.local);
        Ok(same.into())
    }
}

impl fmt::Debug for ScannableFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScannableFingerprint")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::curve::PrivateKey;

    fn key(seed: u8) -> IdentityKey {
        IdentityKey::new(PrivateKey::from_bytes([seed; 32]).public_key())
    }

    #[test]
    fn both_sides_agree_and_compare() {
        let ours = Fingerprint::new(2, 1024, b"alice", &key(1), b"bob", &key(2)).unwrap();
        let theirs = Fingerprint::new(2, 1024, b"bob", &key(2), b"alice", &key(1)).unwrap();
        assert_eq!(
            ours.displayable().to_string(),
            theirs.displayable().to_string()
        );
        assert_eq!(ours.displayable().to_string().len(), 60);
        let scanned = ScannableFingerprint::decode(&theirs.scannable().encode()).unwrap();
        assert!(ours.scannable().compare(&scanned).unwrap());
        let stranger = Fingerprint::new(2, 1024, b"bob", &key(3), b"alice", &key(1)).unwrap();
        assert!(!ours.scannable().compare(stranger.scannable()).unwrap());
        let old = Fingerprint::new(1, 1024, b"bob", &key(2), b"alice", &key(1)).unwrap();
        assert_eq!(
            ours.scannable().compare(old.scannable()),
            Err(Error::FingerprintVersionMismatch { ours: 2, theirs: 1 })
        );
    }

    #[test]
    fn parameters_are_bounded() {
        for (version, iterations) in [
            (0, 5200),
            (3, 5200),
            (1, 0),
            (1, MAX_FINGERPRINT_ITERATIONS + 1),
        ] {
            assert!(matches!(
                Fingerprint::new(version, iterations, b"a", &key(1), b"b", &key(2)),
                Err(Error::FingerprintParameter(_))
            ));
        }
    }

    #[test]
    fn scannable_decode_rejects_short_content() {
        let bad = wire::CombinedFingerprints {
            version: 1,
            local_fingerprint: Some(wire::LogicalFingerprint {
                content: vec![0; 31],
            }),
            remote_fingerprint: Some(wire::LogicalFingerprint {
                content: vec![0; 32],
            }),
        }
        .encode_to_vec();
        assert_eq!(
            ScannableFingerprint::decode(&bad),
            Err(Error::Malformed("scannable fingerprint"))
        );
        assert_eq!(
            ScannableFingerprint::decode(&[]),
            Err(Error::Malformed("scannable fingerprint"))
        );
    }
}
