//! Private protobuf structures. Callers never see these: every public type is built from
//! them by a conversion that checks every field. `docs/wire/prekeys.md` documents each
//! message, its field numbers and its limits.
//!
//! Bundles, uploads and record sets are hush's own formats (libsignal has none for them);
//! each is written after a [`crate::limits::FORMAT_VERSION`] byte. The private records
//! are libsignal's `storage.proto` structures (`PreKeyRecordStructure`,
//! `SignedPreKeyRecordStructure`; libsignal stores Kyber prekeys in the latter), with one
//! field of hush's own on KEM records.

use zeroize::Zeroize;

use crate::scan::{FieldSpec, WireType};

/// `PreKeyBundle` v1: what a server hands out for one device.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct PreKeyBundle {
    #[prost(uint32, tag = "1")]
    pub(crate) registration_id: u32,
    #[prost(uint32, tag = "2")]
    pub(crate) device_id: u32,
    /// 33-byte identity key.
    #[prost(bytes = "vec", tag = "3")]
    pub(crate) identity_key: Vec<u8>,
    #[prost(uint32, tag = "4")]
    pub(crate) signed_prekey_id: u32,
    /// 33-byte EC public key.
    #[prost(bytes = "vec", tag = "5")]
    pub(crate) signed_prekey: Vec<u8>,
    /// 64-byte XEdDSA signature over field 5's bytes.
    #[prost(bytes = "vec", tag = "6")]
    pub(crate) signed_prekey_signature: Vec<u8>,
    /// Present exactly when field 8 is.
    #[prost(uint32, optional, tag = "7")]
    pub(crate) one_time_prekey_id: Option<u32>,
    /// 33-byte EC public key, or empty.
    #[prost(bytes = "vec", tag = "8")]
    pub(crate) one_time_prekey: Vec<u8>,
    #[prost(uint32, tag = "9")]
    pub(crate) kem_prekey_id: u32,
    /// 1569-byte typed KEM public key.
    #[prost(bytes = "vec", tag = "10")]
    pub(crate) kem_prekey: Vec<u8>,
    /// 64-byte XEdDSA signature over field 10's bytes.
    #[prost(bytes = "vec", tag = "11")]
    pub(crate) kem_prekey_signature: Vec<u8>,
}

pub(crate) const BUNDLE_FIELDS: [FieldSpec; 11] = [
    FieldSpec::single(1, WireType::Varint),
    FieldSpec::single(2, WireType::Varint),
    FieldSpec::single(3, WireType::LengthDelimited),
    FieldSpec::single(4, WireType::Varint),
    FieldSpec::single(5, WireType::LengthDelimited),
    FieldSpec::single(6, WireType::LengthDelimited),
    FieldSpec::single(7, WireType::Varint),
    FieldSpec::single(8, WireType::LengthDelimited),
    FieldSpec::single(9, WireType::Varint),
    FieldSpec::single(10, WireType::LengthDelimited),
    FieldSpec::single(11, WireType::LengthDelimited),
];

/// A signed prekey entry of an upload (EC or KEM).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SignedKey {
    #[prost(uint32, tag = "1")]
    pub(crate) id: u32,
    /// Typed public key: 33 bytes (EC) or 1569 bytes (KEM).
    #[prost(bytes = "vec", tag = "2")]
    pub(crate) public_key: Vec<u8>,
    /// XEdDSA signature by the identity key over field 2's bytes.
    #[prost(bytes = "vec", tag = "3")]
    pub(crate) signature: Vec<u8>,
    /// Milliseconds since the Unix epoch.
    #[prost(uint64, tag = "4")]
    pub(crate) timestamp_ms: u64,
}

/// A one-time EC prekey entry of an upload.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct OneTimeKey {
    #[prost(uint32, tag = "1")]
    pub(crate) id: u32,
    /// 33-byte EC public key.
    #[prost(bytes = "vec", tag = "2")]
    pub(crate) public_key: Vec<u8>,
}

/// `PreKeyUpload` v1: what a device sends to its server.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct PreKeyUpload {
    #[prost(bytes = "vec", tag = "1")]
    pub(crate) identity_key: Vec<u8>,
    #[prost(message, optional, tag = "2")]
    pub(crate) signed_prekey: Option<SignedKey>,
    #[prost(message, repeated, tag = "3")]
    pub(crate) one_time_prekeys: Vec<OneTimeKey>,
    #[prost(message, repeated, tag = "4")]
    pub(crate) kem_prekeys: Vec<SignedKey>,
    #[prost(message, optional, tag = "5")]
    pub(crate) last_resort_kem_prekey: Option<SignedKey>,
}

/// Positions in [`UPLOAD_FIELDS`] of the two lists.
pub(crate) const UPLOAD_ONE_TIME_INDEX: usize = 2;
pub(crate) const UPLOAD_KEM_INDEX: usize = 3;

pub(crate) const UPLOAD_FIELDS: [FieldSpec; 5] = [
    FieldSpec::single(1, WireType::LengthDelimited),
    FieldSpec::single(2, WireType::LengthDelimited),
    FieldSpec::repeated(3, WireType::LengthDelimited),
    FieldSpec::repeated(4, WireType::LengthDelimited),
    FieldSpec::single(5, WireType::LengthDelimited),
];

/// libsignal's `PreKeyRecordStructure`.
#[derive(Clone, PartialEq, prost::Message, Zeroize)]
pub(crate) struct PreKeyRecordStructure {
    #[prost(uint32, tag = "1")]
    pub(crate) id: u32,
    #[prost(bytes = "vec", tag = "2")]
    pub(crate) public_key: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    pub(crate) private_key: Vec<u8>,
}

pub(crate) const PREKEY_RECORD_FIELDS: [FieldSpec; 3] = [
    FieldSpec::single(1, WireType::Varint),
    FieldSpec::single(2, WireType::LengthDelimited),
    FieldSpec::single(3, WireType::LengthDelimited),
];

/// libsignal's `SignedPreKeyRecordStructure`, used for signed EC prekeys.
#[derive(Clone, PartialEq, prost::Message, Zeroize)]
pub(crate) struct SignedPreKeyRecordStructure {
    #[prost(uint32, tag = "1")]
    pub(crate) id: u32,
    #[prost(bytes = "vec", tag = "2")]
    pub(crate) public_key: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    pub(crate) private_key: Vec<u8>,
    #[prost(bytes = "vec", tag = "4")]
    pub(crate) signature: Vec<u8>,
    #[prost(fixed64, tag = "5")]
    pub(crate) timestamp: u64,
}

pub(crate) const SIGNED_PREKEY_RECORD_FIELDS: [FieldSpec; 5] = [
    FieldSpec::single(1, WireType::Varint),
    FieldSpec::single(2, WireType::LengthDelimited),
    FieldSpec::single(3, WireType::LengthDelimited),
    FieldSpec::single(4, WireType::LengthDelimited),
    FieldSpec::single(5, WireType::Fixed64),
];

/// libsignal's `SignedPreKeyRecordStructure` as it stores Kyber prekeys (typed KEM keys
/// in fields 2 and 3), plus hush's field 16, `last_resort`, which libsignal does not
/// have (it keeps last-resort keys apart) and ignores as an unknown field.
#[derive(Clone, PartialEq, prost::Message, Zeroize)]
pub(crate) struct KemPreKeyRecordStructure {
    #[prost(uint32, tag = "1")]
    pub(crate) id: u32,
    #[prost(bytes = "vec", tag = "2")]
    pub(crate) public_key: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    pub(crate) secret_key: Vec<u8>,
    #[prost(bytes = "vec", tag = "4")]
    pub(crate) signature: Vec<u8>,
    #[prost(fixed64, tag = "5")]
    pub(crate) timestamp: u64,
    #[prost(bool, optional, tag = "16")]
    pub(crate) last_resort: Option<bool>,
}

pub(crate) const KEM_PREKEY_RECORD_FIELDS: [FieldSpec; 6] = [
    FieldSpec::single(1, WireType::Varint),
    FieldSpec::single(2, WireType::LengthDelimited),
    FieldSpec::single(3, WireType::LengthDelimited),
    FieldSpec::single(4, WireType::LengthDelimited),
    FieldSpec::single(5, WireType::Fixed64),
    FieldSpec::single(16, WireType::Varint),
];

/// hush's `PreKeyRecordSet` v1: a device's private prekeys, e.g. the file
/// `hush prekeys generate` writes next to an upload.
#[derive(Clone, PartialEq, prost::Message, Zeroize)]
pub(crate) struct PreKeyRecordSet {
    #[prost(message, repeated, tag = "1")]
    pub(crate) signed_prekeys: Vec<SignedPreKeyRecordStructure>,
    #[prost(message, repeated, tag = "2")]
    pub(crate) one_time_prekeys: Vec<PreKeyRecordStructure>,
    #[prost(message, repeated, tag = "3")]
    pub(crate) kem_prekeys: Vec<KemPreKeyRecordStructure>,
}

pub(crate) const RECORD_SET_FIELDS: [FieldSpec; 3] = [
    FieldSpec::repeated(1, WireType::LengthDelimited),
    FieldSpec::repeated(2, WireType::LengthDelimited),
    FieldSpec::repeated(3, WireType::LengthDelimited),
];
