//! The schemas of the vector files libsignal v0.91.0 produced (`test-vectors/libsignal/`,
//! described in that directory's README), as serde types; v0.101.0's files
//! (`test-vectors/libsignal-v0101/`) have the same schemas with fields added, which are
//! optional here. Byte strings stay lowercase hex;
//! each user decodes what it needs. One definition, shared by every crate's conformance
//! test and by `hush vectors check`.

use std::path::PathBuf;

use serde::Deserialize;
use serde::de::DeserializeOwned;

/// The directory of the libsignal vectors in this repository.
#[must_use]
pub fn vectors_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../test-vectors/libsignal"
    ))
}

/// The directory of the libsignal v0.101.0 vectors (SPQR on) in this repository.
#[must_use]
pub fn v0101_vectors_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../test-vectors/libsignal-v0101"
    ))
}

/// Reads and parses `name` from [`vectors_dir`].
///
/// # Errors
///
/// A line naming the file and what went wrong.
pub fn load<T: DeserializeOwned>(name: &str) -> Result<T, String> {
    load_from(&vectors_dir(), name)
}

/// Reads and parses `name` from `dir`.
///
/// # Errors
///
/// A line naming the file and what went wrong.
pub fn load_from<T: DeserializeOwned>(dir: &std::path::Path, name: &str) -> Result<T, String> {
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// A file whose top level is `{"cases": [...]}`.
#[derive(Debug, Deserialize)]
pub struct Cases<T> {
    /// The cases, in file order.
    pub cases: Vec<T>,
}

/// `xeddsa.json`.
pub mod xeddsa {
    use serde::Deserialize;

    /// One signature case. Valid cases (`id` 0..) carry the private key and the 64
    /// random bytes; negative cases (`id` >= 100) do not.
    #[derive(Debug, Deserialize)]
    pub struct Case {
        /// Case id.
        pub id: u32,
        /// The clamped private scalar (valid cases).
        pub private_key: Option<String>,
        /// The bare 32-byte Montgomery u.
        pub public_key: String,
        /// The 33-byte serialised key.
        pub public_key_serialized: String,
        /// The signed message.
        pub message: String,
        /// The 64 random bytes libsignal drew (valid cases).
        pub random: Option<String>,
        /// The signature.
        pub signature: String,
        /// libsignal's verdict.
        pub valid: bool,
    }
}

/// `fingerprint.json`.
pub mod fingerprint {
    use serde::Deserialize;

    /// One safety-number case, seen from the local side.
    #[derive(Debug, Deserialize)]
    pub struct Case {
        /// Scannable format version (1 or 2).
        pub version: u32,
        /// Hash iterations.
        pub iterations: u32,
        /// The local stable identifier (hex).
        pub local_identifier: String,
        /// The local identity key (33 bytes).
        pub local_identity_key: String,
        /// The remote stable identifier (hex).
        pub remote_identifier: String,
        /// The remote identity key (33 bytes).
        pub remote_identity_key: String,
        /// The 60 digits both sides show.
        pub displayable: String,
        /// The local side's scannable protobuf.
        pub scannable_local: String,
        /// The remote side's scannable protobuf.
        pub scannable_remote: String,
        /// libsignal's comparison result.
        pub compare_local_vs_remote: bool,
    }
}

/// `kem_kyber1024.json`.
pub mod kem {
    use serde::Deserialize;

    /// One key generation and encapsulation, with the random bytes drawn for each.
    #[derive(Debug, Deserialize)]
    pub struct Case {
        /// `Kyber1024`.
        pub key_type: String,
        /// 256 bytes: the seed is every 4th byte.
        pub keygen_rng: String,
        /// Typed public key.
        pub public: String,
        /// Typed secret key.
        pub secret: String,
        /// 128 bytes: the message is every 4th byte.
        pub encapsulate_rng: String,
        /// Typed ciphertext.
        pub ciphertext: String,
        /// The 32-byte shared secret.
        pub shared_secret: String,
    }
}

/// `session.json`: whole conversations with every random byte drawn.
pub mod session {
    use serde::Deserialize;

    /// The file.
    #[derive(Debug, Deserialize)]
    pub struct File {
        /// Whether libsignal ran SPQR (v0.101: `true`; absent in v0.91's file).
        #[serde(default)]
        pub spqr: bool,
        /// The recorded conversations.
        pub scenarios: Vec<Scenario>,
    }

    /// One conversation between Alice (initiator) and Bob.
    #[derive(Debug, Deserialize)]
    pub struct Scenario {
        /// Scenario name.
        pub name: String,
        /// Bob, with the prekeys Alice's bundle came from.
        pub bob: Party,
        /// Alice, with the bytes her bundle processing drew.
        pub alice: Party,
        /// Messages in delivery order.
        pub messages: Vec<Message>,
        /// Re-initiations, each replayed before its group.
        #[serde(default)]
        pub reinit: Vec<Reinit>,
    }

    /// One party's keys.
    #[derive(Debug, Deserialize)]
    pub struct Party {
        /// The address name libsignal was given (v0.101; a service id string in
        /// `service_id_addresses`).
        #[serde(default)]
        pub name: Option<String>,
        /// The address device id (v0.101).
        #[serde(default)]
        pub device_id: Option<u32>,
        /// Registration id.
        pub registration_id: u32,
        /// Identity key pair.
        pub identity_key_pair: Pair,
        /// Signed prekey (responders).
        pub signed_prekey: Option<SignedPreKey>,
        /// One-time prekey, if the bundle had one.
        pub one_time_prekey: Option<OneTimePreKey>,
        /// Kyber prekey (responders).
        pub kyber_prekey: Option<KyberPreKey>,
        /// The 192 bytes bundle processing drew (initiators).
        pub process_bundle_rng: Option<String>,
    }

    /// A key pair.
    #[derive(Debug, Deserialize)]
    pub struct Pair {
        /// The 32-byte private key.
        pub private: String,
        /// libsignal's `IdentityKeyPair` protobuf (identity pairs only).
        pub serialized_pair: Option<String>,
    }

    /// A signed prekey.
    #[derive(Debug, Deserialize)]
    pub struct SignedPreKey {
        /// Id.
        pub id: u32,
        /// The pair.
        pub key_pair: Pair,
        /// Identity signature over the 33-byte public key.
        pub signature: String,
    }

    /// A one-time prekey.
    #[derive(Debug, Deserialize)]
    pub struct OneTimePreKey {
        /// Id.
        pub id: u32,
        /// The pair.
        pub key_pair: Pair,
    }

    /// A Kyber prekey.
    #[derive(Debug, Deserialize)]
    pub struct KyberPreKey {
        /// Id.
        pub id: u32,
        /// Typed public key.
        pub public: String,
        /// Typed secret key.
        pub secret: String,
        /// Identity signature over the typed public key.
        pub signature: String,
    }

    /// One message.
    #[derive(Debug, Deserialize)]
    pub struct Message {
        /// Global send order.
        pub send_seq: u32,
        /// Script step.
        pub group: u32,
        /// `alice` or `bob`.
        pub sender: String,
        /// 3 for PreKeySignalMessage, 2 for SignalMessage.
        pub type_id: u8,
        /// Full wire bytes.
        pub ciphertext: String,
        /// The plaintext.
        pub plaintext: String,
        /// What the receiver's decrypt drew (empty or a 32-byte ratchet key); `null` in
        /// v0.101 for a message never delivered.
        #[serde(default)]
        pub receiver_rng: Option<String>,
        /// What the sender's encrypt drew (v0.101: SPQR's draws; absent in v0.91, where
        /// encryption draws nothing).
        #[serde(default)]
        pub sender_rng: Option<String>,
        /// Whether the message was decrypted (v0.101; v0.91 delivers every message).
        #[serde(default = "delivered_by_default")]
        pub delivered: bool,
        /// The SPQR key mixed into the message keys (v0.101).
        #[serde(default)]
        pub spqr_message_key: Option<String>,
        /// The parsed fields (v0.101 adds `pq_ratchet` and `addresses`).
        #[serde(default)]
        pub fields: Option<Fields>,
    }

    const fn delivered_by_default() -> bool {
        true
    }

    /// Fields of a message (for a first message, those of the inner `SignalMessage`
    /// where named so).
    #[derive(Debug, Deserialize)]
    pub struct Fields {
        /// The `pq_ratchet` bytes (v0.101).
        #[serde(default)]
        pub pq_ratchet: Option<String>,
        /// The `addresses` bytes, when the message carries them (v0.101).
        #[serde(default)]
        pub addresses: Option<String>,
    }

    /// A re-initiation by Bob.
    #[derive(Debug, Deserialize)]
    pub struct Reinit {
        /// The group it happens before.
        pub before_group: u32,
        /// `bob`.
        pub initiator: String,
        /// Alice's new prekeys.
        pub responder_prekeys: Party,
        /// The bytes Bob's bundle processing drew.
        pub process_bundle_rng: String,
    }
}

/// `sender_key.json`: group conversations, one per distribution id.
pub mod sender_key {
    use serde::Deserialize;

    /// The file.
    #[derive(Debug, Deserialize)]
    pub struct File {
        /// One entry per distribution id.
        pub sessions: Vec<Session>,
    }

    /// One sender's chain for one distribution id.
    #[derive(Debug, Deserialize)]
    pub struct Session {
        /// The distribution id (UUID).
        pub distribution_id: String,
        /// The distribution message.
        pub skdm: Skdm,
        /// The sender's private signing key.
        pub signing_key_private: String,
        /// Messages in delivery order.
        pub messages_in_delivery_order: Vec<Message>,
        /// The iteration that was never delivered.
        pub never_delivered_iteration: u32,
        /// Whether libsignal refused the duplicate of iteration 3.
        pub duplicate_of_iteration_3_rejected: bool,
    }

    /// The distribution message and what went into it.
    #[derive(Debug, Deserialize)]
    pub struct Skdm {
        /// Wire bytes.
        pub serialized: String,
        /// 3.
        pub message_version: u8,
        /// Chain id.
        pub chain_id: u32,
        /// Iteration.
        pub iteration: u32,
        /// 32-byte chain key seed.
        pub chain_key: String,
        /// 33-byte signing key.
        pub signing_key: String,
        /// The 164 bytes creating it drew.
        pub creation_rng: String,
    }

    /// One group message.
    #[derive(Debug, Deserialize)]
    pub struct Message {
        /// Iteration.
        pub iteration: u32,
        /// Chain id.
        pub chain_id: u32,
        /// 3.
        pub message_version: u8,
        /// Wire bytes (version, protobuf, signature).
        pub serialized: String,
        /// The AES-CBC body.
        pub ciphertext: String,
        /// The plaintext.
        pub plaintext: String,
        /// The 64 bytes the signature drew.
        pub sender_rng: String,
        /// Whether libsignal decrypted it.
        pub decrypts: bool,
    }
}
