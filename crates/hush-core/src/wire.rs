//! Private protobuf structures for the libsignal formats `hush-core` reads and writes.
//! Callers never see these; every public type is built from them by a checked
//! conversion. Field numbers follow libsignal's `storage.proto` and `fingerprint.proto`.

use zeroize::Zeroize;

/// libsignal's `IdentityKeyPairStructure`.
#[derive(Clone, PartialEq, prost::Message, Zeroize)]
pub(crate) struct IdentityKeyPairStructure {
    /// The 33-byte serialised public key.
    #[prost(bytes = "vec", tag = "1")]
    pub(crate) public_key: Vec<u8>,
    /// The 32-byte private key.
    #[prost(bytes = "vec", tag = "2")]
    pub(crate) private_key: Vec<u8>,
}

/// libsignal's `LogicalFingerprint`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct LogicalFingerprint {
    /// The first 32 bytes of one side's fingerprint hash.
    #[prost(bytes = "vec", tag = "1")]
    pub(crate) content: Vec<u8>,
}

/// libsignal's `CombinedFingerprints`: what a QR code of a safety number holds.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct CombinedFingerprints {
    /// The scannable fingerprint version (1 or 2).
    #[prost(uint32, tag = "1")]
    pub(crate) version: u32,
    /// The side that made the code.
    #[prost(message, optional, tag = "2")]
    pub(crate) local_fingerprint: Option<LogicalFingerprint>,
    /// The other side.
    #[prost(message, optional, tag = "3")]
    pub(crate) remote_fingerprint: Option<LogicalFingerprint>,
}
