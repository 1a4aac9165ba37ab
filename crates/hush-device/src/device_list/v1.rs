//! Format 1 of the signed device list (before membership signatures), read only so
//! that what stores written by earlier versions hold carries over
//! (`docs/wire/device-list.md`, "Format 1").

use hush_core::{IdentityKey, Signature};

use super::{
    DEVICE_LIST_V1_VERSION, DeviceListPolicy, ENTRY_V1_LEN, Entry, PRIMARY_DEVICE_ID,
    decode_signed, signature_valid,
};
use crate::codec::Reader;
use crate::error::{Error, Result};

/// One device of a format-1 list: a [`DeviceEntry`](crate::DeviceEntry) without the membership signature.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DeviceEntryV1 {
    /// The device id.
    pub device_id: u32,
    /// The device's identity key.
    pub identity_key: IdentityKey,
    /// The account key index the device was linked under.
    pub key_index: u32,
    /// When the device was added (ms since the Unix epoch).
    pub added_at_ms: u64,
}

impl DeviceEntryV1 {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Self {
            device_id: r.u32()?,
            identity_key: r.identity_key()?,
            key_index: r.u32()?,
            added_at_ms: r.u64()?,
        })
    }
}

/// A signed device list in format 1 (before membership signatures), as stores written
/// by earlier versions hold it. It is read only so that what it established carries
/// over: its account key and version are remembered ([`KnownDeviceLists::verify_v1`](crate::KnownDeviceLists::verify_v1)),
/// so the first format-2 list of the account must be signed by the same key and be no
/// older, and a primary rebuilds its own list from it ([`DeviceList::from_v1`](crate::DeviceList::from_v1)). It
/// gives no [`VerifiedDeviceList`](crate::VerifiedDeviceList): its entries carry no device's consent, so nothing
/// is sent to them.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DeviceListV1 {
    pub(super) account: IdentityKey,
    pub(super) version: u64,
    pub(super) signed_at_ms: u64,
    pub(super) entries: Vec<DeviceEntryV1>,
    pub(super) bytes: Vec<u8>,
    pub(super) signature: Signature,
}

impl DeviceListV1 {
    /// Decodes a format-1 signed list (`docs/wire/device-list.md`, "Format 1").
    ///
    /// # Errors
    ///
    /// As [`SignedDeviceList::decode`](crate::SignedDeviceList::decode), with 49-byte entries and version byte 1.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let (body, list_bytes, signature) =
            decode_signed(bytes, DEVICE_LIST_V1_VERSION, DeviceEntryV1::read)?;
        Ok(Self {
            account: body.account,
            version: body.version,
            signed_at_ms: body.signed_at_ms,
            entries: body.entries,
            bytes: list_bytes,
            signature,
        })
    }

    /// The wire form: list bytes, then the signature (the bytes it was decoded from).
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        [self.bytes.as_slice(), self.signature.as_bytes()].concat()
    }

    /// The account key the list claims to be signed by.
    #[must_use]
    pub const fn account_identity(&self) -> &IdentityKey {
        &self.account
    }

    /// The list version.
    #[must_use]
    pub const fn version(&self) -> u64 {
        self.version
    }

    /// When the primary signed the list. Not verified.
    #[must_use]
    pub const fn signed_at_ms(&self) -> u64 {
        self.signed_at_ms
    }

    /// The devices, primary first.
    #[must_use]
    pub fn devices(&self) -> &[DeviceEntryV1] {
        &self.entries
    }

    pub(super) fn primary(&self) -> DeviceEntryV1 {
        // Decoding guarantees at least one entry, device 1; the fallback is never used.
        self.entries.first().copied().unwrap_or(DeviceEntryV1 {
            device_id: PRIMARY_DEVICE_ID,
            identity_key: self.account,
            key_index: 0,
            added_at_ms: 0,
        })
    }

    pub(super) fn check(&self, policy: &DeviceListPolicy) -> Result<()> {
        if !signature_valid(&self.account, &self.bytes, &self.signature) {
            return Err(Error::BadSignature);
        }
        let max = policy.companion_limit();
        if self.entries.len().saturating_sub(1) > max {
            return Err(Error::TooManyCompanions { max });
        }
        Ok(())
    }
}

impl Entry for DeviceEntryV1 {
    const LEN: usize = ENTRY_V1_LEN;
    fn device_id(&self) -> u32 {
        self.device_id
    }
    fn identity_key(&self) -> &IdentityKey {
        &self.identity_key
    }
}
