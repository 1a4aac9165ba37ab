//! Private protobuf structures of libsignal's `sealed_sender.proto` (proto2: every field
//! `optional`). Callers never see these: every public type is built from them by a
//! conversion that checks every field.

/// `ServerCertificate`: the signed inner bytes and the trust root's signature.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ServerCertificate {
    /// The serialised [`ServerCertificateInner`], as signed.
    #[prost(bytes = "vec", optional, tag = "1")]
    pub(crate) certificate: Option<Vec<u8>>,
    /// The 64-byte XEdDSA signature by the trust root.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub(crate) signature: Option<Vec<u8>>,
}

/// `ServerCertificate.Certificate`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ServerCertificateInner {
    /// The server key's id.
    #[prost(uint32, optional, tag = "1")]
    pub(crate) id: Option<u32>,
    /// The server's 33-byte public key.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub(crate) key: Option<Vec<u8>>,
}

/// `SenderCertificate`: the signed inner bytes and the server key's signature.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SenderCertificate {
    /// The serialised [`SenderCertificateInner`], as signed.
    #[prost(bytes = "vec", optional, tag = "1")]
    pub(crate) certificate: Option<Vec<u8>>,
    /// The 64-byte XEdDSA signature by the server key.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub(crate) signature: Option<Vec<u8>>,
}

/// `SenderCertificate.Certificate`. prost writes fields in tag order, oneofs at their
/// lowest tag, which is also the order libsignal's prost code writes them.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SenderCertificateInner {
    /// The sender's phone number, if the server put it in.
    #[prost(string, optional, tag = "1")]
    pub(crate) sender_e164: Option<String>,
    /// The sender's device id.
    #[prost(uint32, optional, tag = "2")]
    pub(crate) sender_device: Option<u32>,
    /// Expiry, milliseconds since the Unix epoch.
    #[prost(fixed64, optional, tag = "3")]
    pub(crate) expires: Option<u64>,
    /// The sender's 33-byte identity key.
    #[prost(bytes = "vec", optional, tag = "4")]
    pub(crate) identity_key: Option<Vec<u8>>,
    /// The signing server certificate, embedded or named by id.
    #[prost(oneof = "Signer", tags = "5, 8")]
    pub(crate) signer: Option<Signer>,
    /// The sender's ACI, as text or as 16 bytes.
    #[prost(oneof = "SenderUuid", tags = "6, 7")]
    pub(crate) sender_uuid: Option<SenderUuid>,
}

/// `SenderCertificate.Certificate.signer`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub(crate) enum Signer {
    /// The full serialised `ServerCertificate`.
    #[prost(bytes, tag = "5")]
    Certificate(Vec<u8>),
    /// The id of a server certificate the recipient already knows.
    #[prost(uint32, tag = "8")]
    Id(u32),
}

/// `SenderCertificate.Certificate.senderUuid`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub(crate) enum SenderUuid {
    /// The hyphenated UUID text (what libsignal and hush write).
    #[prost(string, tag = "6")]
    UuidString(String),
    /// The 16 UUID bytes.
    #[prost(bytes, tag = "7")]
    UuidBytes(Vec<u8>),
}

/// `UnidentifiedSenderMessage`: the v1 sealed message after its version byte.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct UnidentifiedSenderMessage {
    /// The sender's 33-byte ephemeral public key.
    #[prost(bytes = "vec", optional, tag = "1")]
    pub(crate) ephemeral_public: Option<Vec<u8>>,
    /// The sender's identity key, AES-256-CTR encrypted, with a 10-byte MAC.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub(crate) encrypted_static: Option<Vec<u8>>,
    /// The message content, AES-256-CTR encrypted, with a 10-byte MAC.
    #[prost(bytes = "vec", optional, tag = "3")]
    pub(crate) encrypted_message: Option<Vec<u8>>,
}

/// `UnidentifiedSenderMessage.Message`: the content both versions seal.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct UnidentifiedSenderMessageContent {
    /// The inner message's type (1 PreKey, 2 Whisper, 7 SenderKey, 8 Plaintext).
    #[prost(int32, optional, tag = "1")]
    pub(crate) r#type: Option<i32>,
    /// The serialised `SenderCertificate`.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub(crate) sender_certificate: Option<Vec<u8>>,
    /// The inner message.
    #[prost(bytes = "vec", optional, tag = "3")]
    pub(crate) content: Option<Vec<u8>>,
    /// The content hint; absent for the default.
    #[prost(int32, optional, tag = "4")]
    pub(crate) content_hint: Option<i32>,
    /// The group id, if any.
    #[prost(bytes = "vec", optional, tag = "5")]
    pub(crate) group_id: Option<Vec<u8>>,
}
