//! Private protobuf structures of libsignal's `wire.proto` (proto2: every field optional,
//! zero values are written when set). Field numbers are libsignal's.

/// libsignal's `SignalMessage`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SignalMessage {
    #[prost(bytes = "vec", optional, tag = "1")]
    pub(crate) ratchet_key: Option<Vec<u8>>,
    #[prost(uint32, optional, tag = "2")]
    pub(crate) counter: Option<u32>,
    #[prost(uint32, optional, tag = "3")]
    pub(crate) previous_counter: Option<u32>,
    #[prost(bytes = "vec", optional, tag = "4")]
    pub(crate) ciphertext: Option<Vec<u8>>,
    /// SPQR's message part; absent when empty (SPQR off).
    #[prost(bytes = "vec", optional, tag = "5")]
    pub(crate) pq_ratchet: Option<Vec<u8>>,
    /// Sender and recipient service ids and device ids (36 bytes), only inside a first
    /// message and only when both names are service ids.
    #[prost(bytes = "vec", optional, tag = "6")]
    pub(crate) addresses: Option<Vec<u8>>,
}

/// libsignal's `PreKeySignalMessage`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct PreKeySignalMessage {
    #[prost(uint32, optional, tag = "1")]
    pub(crate) pre_key_id: Option<u32>,
    #[prost(bytes = "vec", optional, tag = "2")]
    pub(crate) base_key: Option<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "3")]
    pub(crate) identity_key: Option<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "4")]
    pub(crate) message: Option<Vec<u8>>,
    #[prost(uint32, optional, tag = "5")]
    pub(crate) registration_id: Option<u32>,
    #[prost(uint32, optional, tag = "6")]
    pub(crate) signed_pre_key_id: Option<u32>,
    #[prost(uint32, optional, tag = "7")]
    pub(crate) kyber_pre_key_id: Option<u32>,
    #[prost(bytes = "vec", optional, tag = "8")]
    pub(crate) kyber_ciphertext: Option<Vec<u8>>,
}
