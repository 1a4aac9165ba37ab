//! Private prekey records: what a device keeps to answer the first message of a session
//! built on its prekeys.
//!
//! Each record has two encodings:
//!
//! - `encode` / `decode`: hush's versioned form, the [`FORMAT_VERSION`] byte followed by
//!   the libsignal structure (for KEM records with hush's `last_resort` field 16);
//! - `encode_libsignal` / `decode_libsignal`: libsignal's `storage.proto` structure
//!   alone, byte for byte what libsignal's stores hold.
//!
//! Records never print their private keys, and their encodings come back in buffers that
//! are wiped on drop.

use core::fmt;

use hush_core::rng::CryptoRng;
use hush_core::{
    IdentityKeyPair, KemKeyPair, KemKeyType, KeyPair, PrivateKey, PublicKey, Signature,
};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::codec::{self, check_id, decode_body, encode_secret, invalid, seal_secret};
use crate::error::{Error, Result};
use crate::keys::{KemPreKey, OneTimePreKey, SignedPreKey};
use crate::limits::{FORMAT_VERSION, MAX_RECORD_BYTES, MAX_RECORD_SET_BYTES, MAX_RECORDS_PER_KIND};
use crate::scan::scan;
use crate::wire;

/// A signed EC prekey with its private key, as the device that made it keeps it.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SignedPreKeyRecord {
    #[zeroize(skip)]
    id: u32,
    #[zeroize(skip)]
    timestamp_ms: u64,
    key_pair: KeyPair,
    #[zeroize(skip)]
    signature: Signature,
}

impl SignedPreKeyRecord {
    /// Makes a signed prekey: a fresh key pair (32 bytes from `rng`), signed by `identity`
    /// over its 33-byte serialised public key (64 more bytes), as libsignal does.
    ///
    /// # Errors
    ///
    /// [`Error::IdOutOfRange`] if `id` is above [`crate::limits::MAX_PREKEY_ID`].
    pub fn generate<R: CryptoRng + ?Sized>(
        id: u32,
        identity: &IdentityKeyPair,
        timestamp_ms: u64,
        rng: &mut R,
    ) -> Result<Self> {
        let id = check_id("signed prekey", id)?;
        let key_pair = KeyPair::generate(rng);
        let signature = identity.sign(&key_pair.public_key().encode(), rng);
        Ok(Self {
            id,
            timestamp_ms,
            key_pair,
            signature,
        })
    }

    /// Assembles a record from its parts (e.g. keys made elsewhere).
    ///
    /// # Errors
    ///
    /// [`Error::IdOutOfRange`] if `id` is above [`crate::limits::MAX_PREKEY_ID`].
    pub fn new(
        id: u32,
        timestamp_ms: u64,
        key_pair: KeyPair,
        signature: Signature,
    ) -> Result<Self> {
        let id = check_id("signed prekey", id)?;
        Ok(Self {
            id,
            timestamp_ms,
            key_pair,
            signature,
        })
    }

    /// The prekey id.
    #[must_use]
    pub const fn id(&self) -> u32 {
        self.id
    }

    /// When the key was made, in milliseconds since the Unix epoch.
    #[must_use]
    pub const fn timestamp_ms(&self) -> u64 {
        self.timestamp_ms
    }

    /// The key pair.
    #[must_use]
    pub const fn key_pair(&self) -> &KeyPair {
        &self.key_pair
    }

    /// The identity key's signature over the serialised public key.
    #[must_use]
    pub const fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The public half, for an upload.
    #[must_use]
    pub const fn public(&self) -> SignedPreKey {
        // The id was checked when the record was made.
        SignedPreKey::new_checked(
            self.id,
            self.timestamp_ms,
            self.key_pair.public_key(),
            self.signature,
        )
    }

    fn to_structure(&self) -> wire::SignedPreKeyRecordStructure {
        wire::SignedPreKeyRecordStructure {
            id: self.id,
            public_key: self.key_pair.public_key().encode().to_vec(),
            private_key: self.key_pair.private_key().to_bytes().to_vec(),
            signature: self.signature.as_bytes().to_vec(),
            timestamp: self.timestamp_ms,
        }
    }

    fn from_structure(structure: &wire::SignedPreKeyRecordStructure) -> Result<Self> {
        const WHAT: &str = "signed prekey record";
        let id = check_id("signed prekey", structure.id)?;
        let key_pair = ec_key_pair(WHAT, &structure.public_key, &structure.private_key)?;
        let signature =
            Signature::decode(&structure.signature).map_err(invalid(WHAT, "signature"))?;
        Ok(Self {
            id,
            timestamp_ms: structure.timestamp,
            key_pair,
            signature,
        })
    }

    /// hush's versioned form, wiped when dropped.
    #[must_use]
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut structure = self.to_structure();
        let out = seal_secret(&structure);
        structure.zeroize();
        out
    }

    /// Decodes hush's versioned form.
    ///
    /// # Errors
    ///
    /// [`Error::TooLarge`] beyond [`MAX_RECORD_BYTES`], [`Error::Empty`],
    /// [`Error::UnsupportedVersion`], [`Error::Truncated`], [`Error::Malformed`] (also
    /// when the public key is not the private key's), [`Error::InvalidField`],
    /// [`Error::IdOutOfRange`].
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "signed prekey record";
        let (body, _) = codec::open(
            bytes,
            WHAT,
            MAX_RECORD_BYTES,
            &wire::SIGNED_PREKEY_RECORD_FIELDS,
        )?;
        Self::decode_structure(body, WHAT)
    }

    /// libsignal's `SignedPreKeyRecordStructure`, wiped when dropped.
    #[must_use]
    pub fn encode_libsignal(&self) -> Zeroizing<Vec<u8>> {
        let mut structure = self.to_structure();
        let out = encode_secret(&structure);
        structure.zeroize();
        out
    }

    /// Decodes libsignal's `SignedPreKeyRecordStructure`. Unknown fields are ignored, as
    /// libsignal ignores them.
    ///
    /// # Errors
    ///
    /// As [`SignedPreKeyRecord::decode`], without the version errors.
    pub fn decode_libsignal(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "libsignal signed prekey record";
        open_libsignal(bytes, WHAT, &wire::SIGNED_PREKEY_RECORD_FIELDS)?;
        Self::decode_structure(bytes, WHAT)
    }

    fn decode_structure(body: &[u8], what: &'static str) -> Result<Self> {
        let mut structure: wire::SignedPreKeyRecordStructure = decode_body(body, what)?;
        let result = Self::from_structure(&structure);
        structure.zeroize();
        result
    }
}

impl fmt::Debug for SignedPreKeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            id,
            timestamp_ms,
            key_pair,
            signature: _,
        } = self;
        f.debug_struct("SignedPreKeyRecord")
            .field("id", id)
            .field("timestamp_ms", timestamp_ms)
            .field("public_key", &key_pair.public_key())
            .finish_non_exhaustive()
    }
}

/// A one-time EC prekey with its private key.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct PreKeyRecord {
    #[zeroize(skip)]
    id: u32,
    key_pair: KeyPair,
}

impl PreKeyRecord {
    /// Makes a one-time prekey (32 bytes from `rng`).
    ///
    /// # Errors
    ///
    /// [`Error::IdOutOfRange`] if `id` is above [`crate::limits::MAX_PREKEY_ID`].
    pub fn generate<R: CryptoRng + ?Sized>(id: u32, rng: &mut R) -> Result<Self> {
        let id = check_id("one-time prekey", id)?;
        Ok(Self {
            id,
            key_pair: KeyPair::generate(rng),
        })
    }

    /// Assembles a record from its parts.
    ///
    /// # Errors
    ///
    /// [`Error::IdOutOfRange`] if `id` is above [`crate::limits::MAX_PREKEY_ID`].
    pub fn new(id: u32, key_pair: KeyPair) -> Result<Self> {
        let id = check_id("one-time prekey", id)?;
        Ok(Self { id, key_pair })
    }

    /// The prekey id.
    #[must_use]
    pub const fn id(&self) -> u32 {
        self.id
    }

    /// The key pair.
    #[must_use]
    pub const fn key_pair(&self) -> &KeyPair {
        &self.key_pair
    }

    /// The public half, for an upload.
    #[must_use]
    pub const fn public(&self) -> OneTimePreKey {
        OneTimePreKey::new_checked(self.id, self.key_pair.public_key())
    }

    fn to_structure(&self) -> wire::PreKeyRecordStructure {
        wire::PreKeyRecordStructure {
            id: self.id,
            public_key: self.key_pair.public_key().encode().to_vec(),
            private_key: self.key_pair.private_key().to_bytes().to_vec(),
        }
    }

    fn from_structure(structure: &wire::PreKeyRecordStructure) -> Result<Self> {
        let id = check_id("one-time prekey", structure.id)?;
        let key_pair = ec_key_pair(
            "prekey record",
            &structure.public_key,
            &structure.private_key,
        )?;
        Ok(Self { id, key_pair })
    }

    /// hush's versioned form, wiped when dropped.
    #[must_use]
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut structure = self.to_structure();
        let out = seal_secret(&structure);
        structure.zeroize();
        out
    }

    /// Decodes hush's versioned form.
    ///
    /// # Errors
    ///
    /// As [`SignedPreKeyRecord::decode`].
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "prekey record";
        let (body, _) = codec::open(bytes, WHAT, MAX_RECORD_BYTES, &wire::PREKEY_RECORD_FIELDS)?;
        Self::decode_structure(body, WHAT)
    }

    /// libsignal's `PreKeyRecordStructure`, wiped when dropped.
    #[must_use]
    pub fn encode_libsignal(&self) -> Zeroizing<Vec<u8>> {
        let mut structure = self.to_structure();
        let out = encode_secret(&structure);
        structure.zeroize();
        out
    }

    /// Decodes libsignal's `PreKeyRecordStructure` (unknown fields ignored).
    ///
    /// # Errors
    ///
    /// As [`PreKeyRecord::decode`], without the version errors.
    pub fn decode_libsignal(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "libsignal prekey record";
        open_libsignal(bytes, WHAT, &wire::PREKEY_RECORD_FIELDS)?;
        Self::decode_structure(bytes, WHAT)
    }

    fn decode_structure(body: &[u8], what: &'static str) -> Result<Self> {
        let mut structure: wire::PreKeyRecordStructure = decode_body(body, what)?;
        let result = Self::from_structure(&structure);
        structure.zeroize();
        result
    }
}

impl fmt::Debug for PreKeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { id, key_pair } = self;
        f.debug_struct("PreKeyRecord")
            .field("id", id)
            .field("public_key", &key_pair.public_key())
            .finish_non_exhaustive()
    }
}

/// A signed KEM prekey with its secret key: one-time, or the last-resort key a server
/// hands out when the one-time keys have run out.
///
/// The secret key is wiped on drop by [`hush_core::KemSecretKey`] itself.
#[derive(Clone)]
pub struct KemPreKeyRecord {
    id: u32,
    timestamp_ms: u64,
    key_pair: KemKeyPair,
    signature: Signature,
    last_resort: bool,
}

impl KemPreKeyRecord {
    /// Makes a KEM prekey: a fresh key pair (libsignal's 64 `next_u32` draws), signed by
    /// `identity` over the typed serialised public key (64 more bytes from `rng`).
    ///
    /// # Errors
    ///
    /// [`Error::IdOutOfRange`] if `id` is above [`crate::limits::MAX_PREKEY_ID`].
    pub fn generate<R: CryptoRng + ?Sized>(
        id: u32,
        key_type: KemKeyType,
        identity: &IdentityKeyPair,
        timestamp_ms: u64,
        last_resort: bool,
        rng: &mut R,
    ) -> Result<Self> {
        let id = check_id("KEM prekey", id)?;
        let key_pair = KemKeyPair::generate(key_type, rng);
        let signature = identity.sign(&key_pair.public_key().encode(), rng);
        Ok(Self {
            id,
            timestamp_ms,
            key_pair,
            signature,
            last_resort,
        })
    }

    /// Assembles a record from its parts.
    ///
    /// # Errors
    ///
    /// [`Error::IdOutOfRange`] if `id` is above [`crate::limits::MAX_PREKEY_ID`].
    pub fn new(
        id: u32,
        timestamp_ms: u64,
        key_pair: KemKeyPair,
        signature: Signature,
        last_resort: bool,
    ) -> Result<Self> {
        let id = check_id("KEM prekey", id)?;
        Ok(Self {
            id,
            timestamp_ms,
            key_pair,
            signature,
            last_resort,
        })
    }

    /// The prekey id.
    #[must_use]
    pub const fn id(&self) -> u32 {
        self.id
    }

    /// When the key was made, in milliseconds since the Unix epoch.
    #[must_use]
    pub const fn timestamp_ms(&self) -> u64 {
        self.timestamp_ms
    }

    /// The KEM key pair.
    #[must_use]
    pub const fn key_pair(&self) -> &KemKeyPair {
        &self.key_pair
    }

    /// The identity key's signature over the typed serialised public key.
    #[must_use]
    pub const fn signature(&self) -> &Signature {
        &self.signature
    }

    /// Whether this is a last-resort key (kept after use) rather than a one-time key.
    #[must_use]
    pub const fn is_last_resort(&self) -> bool {
        self.last_resort
    }

    /// The public half, for an upload.
    #[must_use]
    pub fn public(&self) -> KemPreKey {
        KemPreKey::new_checked(
            self.id,
            self.timestamp_ms,
            self.key_pair.public_key().clone(),
            self.signature,
        )
    }

    fn to_structure(&self, with_flag: bool) -> wire::KemPreKeyRecordStructure {
        wire::KemPreKeyRecordStructure {
            id: self.id,
            public_key: self.key_pair.public_key().encode(),
            secret_key: self.key_pair.secret_key().encode().to_vec(),
            signature: self.signature.as_bytes().to_vec(),
            timestamp: self.timestamp_ms,
            last_resort: (with_flag && self.last_resort).then_some(true),
        }
    }

    fn from_structure(
        structure: &wire::KemPreKeyRecordStructure,
        last_resort: bool,
    ) -> Result<Self> {
        const WHAT: &str = "KEM prekey record";
        let id = check_id("KEM prekey", structure.id)?;
        let key_pair = KemKeyPair::decode(&structure.public_key, &structure.secret_key)
            .map_err(invalid(WHAT, "key pair"))?;
        let signature =
            Signature::decode(&structure.signature).map_err(invalid(WHAT, "signature"))?;
        Ok(Self {
            id,
            timestamp_ms: structure.timestamp,
            key_pair,
            signature,
            last_resort,
        })
    }

    /// hush's versioned form (with the last-resort flag), wiped when dropped.
    #[must_use]
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut structure = self.to_structure(true);
        let out = seal_secret(&structure);
        structure.zeroize();
        out
    }

    /// Decodes hush's versioned form.
    ///
    /// # Errors
    ///
    /// As [`SignedPreKeyRecord::decode`]; [`Error::Malformed`] also if field 16 is
    /// present but `false` (the encoder omits it then, so there is one encoding per record).
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "KEM prekey record";
        let (body, _) = codec::open(
            bytes,
            WHAT,
            MAX_RECORD_BYTES,
            &wire::KEM_PREKEY_RECORD_FIELDS,
        )?;
        let mut structure: wire::KemPreKeyRecordStructure = decode_body(body, WHAT)?;
        let result = match structure.last_resort {
            Some(false) => Err(Error::Malformed {
                what: WHAT,
                reason: "last_resort present but false",
            }),
            flag => Self::from_structure(&structure, flag == Some(true)),
        };
        structure.zeroize();
        result
    }

    /// libsignal's form: a `SignedPreKeyRecordStructure` holding typed KEM keys, wiped
    /// when dropped. libsignal keeps the last-resort flag outside the record, so it is
    /// not written.
    #[must_use]
    pub fn encode_libsignal(&self) -> Zeroizing<Vec<u8>> {
        let mut structure = self.to_structure(false);
        let out = encode_secret(&structure);
        structure.zeroize();
        out
    }

    /// Decodes libsignal's form; `last_resort` says which libsignal store it came from.
    ///
    /// # Errors
    ///
    /// As [`KemPreKeyRecord::decode`], without the version errors; [`Error::Malformed`]
    /// if hush's field 16 is present.
    pub fn decode_libsignal(bytes: &[u8], last_resort: bool) -> Result<Self> {
        const WHAT: &str = "libsignal KEM prekey record";
        open_libsignal(bytes, WHAT, &wire::KEM_PREKEY_RECORD_FIELDS)?;
        let mut structure: wire::KemPreKeyRecordStructure = decode_body(bytes, WHAT)?;
        let result = if structure.last_resort.is_some() {
            Err(Error::Malformed {
                what: WHAT,
                reason: "hush's last_resort field in a libsignal record",
            })
        } else {
            Self::from_structure(&structure, last_resort)
        };
        structure.zeroize();
        result
    }
}

impl fmt::Debug for KemPreKeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            id,
            timestamp_ms,
            key_pair,
            signature: _,
            last_resort,
        } = self;
        f.debug_struct("KemPreKeyRecord")
            .field("id", id)
            .field("timestamp_ms", timestamp_ms)
            .field("key_type", &key_pair.public_key().key_type())
            .field("last_resort", last_resort)
            .finish_non_exhaustive()
    }
}

/// A device's private prekeys, in one versioned byte string: what
/// [`crate::generate_prekeys`] returns and `hush prekeys generate` writes next to an
/// upload.
#[derive(Clone, Default)]
pub struct PreKeyRecords {
    signed_prekeys: Vec<SignedPreKeyRecord>,
    one_time_prekeys: Vec<PreKeyRecord>,
    kem_prekeys: Vec<KemPreKeyRecord>,
}

impl PreKeyRecords {
    /// Collects records. KEM records include last-resort ones.
    ///
    /// # Errors
    ///
    /// [`Error::TooMany`] if a kind has more than [`MAX_RECORDS_PER_KIND`] records.
    pub fn new(
        signed_prekeys: Vec<SignedPreKeyRecord>,
        one_time_prekeys: Vec<PreKeyRecord>,
        kem_prekeys: Vec<KemPreKeyRecord>,
    ) -> Result<Self> {
        check_count("signed prekey records", signed_prekeys.len())?;
        check_count("one-time prekey records", one_time_prekeys.len())?;
        check_count("KEM prekey records", kem_prekeys.len())?;
        Ok(Self {
            signed_prekeys,
            one_time_prekeys,
            kem_prekeys,
        })
    }

    /// The signed EC prekeys, in the order given.
    #[must_use]
    pub fn signed_prekeys(&self) -> &[SignedPreKeyRecord] {
        &self.signed_prekeys
    }

    /// The one-time EC prekeys.
    #[must_use]
    pub fn one_time_prekeys(&self) -> &[PreKeyRecord] {
        &self.one_time_prekeys
    }

    /// The KEM prekeys, one-time and last-resort.
    #[must_use]
    pub fn kem_prekeys(&self) -> &[KemPreKeyRecord] {
        &self.kem_prekeys
    }

    /// The newest signed prekey (largest timestamp; the later one on a tie).
    #[must_use]
    pub fn newest_signed_prekey(&self) -> Option<&SignedPreKeyRecord> {
        self.signed_prekeys
            .iter()
            .rev()
            .max_by_key(|r| r.timestamp_ms)
    }

    /// The newest last-resort KEM prekey (largest timestamp; the later one on a tie).
    #[must_use]
    pub fn newest_last_resort_kem_prekey(&self) -> Option<&KemPreKeyRecord> {
        self.kem_prekeys
            .iter()
            .rev()
            .filter(|r| r.last_resort)
            .max_by_key(|r| r.timestamp_ms)
    }

    /// Splits into the three lists.
    #[must_use]
    pub fn into_parts(
        self,
    ) -> (
        Vec<SignedPreKeyRecord>,
        Vec<PreKeyRecord>,
        Vec<KemPreKeyRecord>,
    ) {
        (self.signed_prekeys, self.one_time_prekeys, self.kem_prekeys)
    }

    /// hush's versioned `PreKeyRecordSet`, wiped when dropped.
    #[must_use]
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut set = wire::PreKeyRecordSet {
            signed_prekeys: self
                .signed_prekeys
                .iter()
                .map(SignedPreKeyRecord::to_structure)
                .collect(),
            one_time_prekeys: self
                .one_time_prekeys
                .iter()
                .map(PreKeyRecord::to_structure)
                .collect(),
            kem_prekeys: self
                .kem_prekeys
                .iter()
                .map(|r| r.to_structure(true))
                .collect(),
        };
        let out = seal_secret(&set);
        set.zeroize();
        out
    }

    /// Decodes hush's versioned `PreKeyRecordSet`.
    ///
    /// # Errors
    ///
    /// [`Error::TooLarge`] beyond [`MAX_RECORD_SET_BYTES`], [`Error::TooMany`] beyond
    /// [`MAX_RECORDS_PER_KIND`] records of a kind (counted before decoding), and the
    /// errors of each record's decoder.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "prekey record set";
        let (body, counts) =
            codec::open(bytes, WHAT, MAX_RECORD_SET_BYTES, &wire::RECORD_SET_FIELDS)?;
        let [signed, one_time, kem] = counts;
        check_count("signed prekey records", signed)?;
        check_count("one-time prekey records", one_time)?;
        check_count("KEM prekey records", kem)?;
        let mut set: wire::PreKeyRecordSet = decode_body(body, WHAT)?;
        let result = Self::from_set(&set);
        set.zeroize();
        result
    }

    fn from_set(set: &wire::PreKeyRecordSet) -> Result<Self> {
        let signed_prekeys = set
            .signed_prekeys
            .iter()
            .map(SignedPreKeyRecord::from_structure)
            .collect::<Result<_>>()?;
        let one_time_prekeys = set
            .one_time_prekeys
            .iter()
            .map(PreKeyRecord::from_structure)
            .collect::<Result<_>>()?;
        let kem_prekeys = set
            .kem_prekeys
            .iter()
            .map(|s| match s.last_resort {
                Some(false) => Err(Error::Malformed {
                    what: "KEM prekey record",
                    reason: "last_resort present but false",
                }),
                flag => KemPreKeyRecord::from_structure(s, flag == Some(true)),
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            signed_prekeys,
            one_time_prekeys,
            kem_prekeys,
        })
    }
}

impl fmt::Debug for PreKeyRecords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            signed_prekeys,
            one_time_prekeys,
            kem_prekeys,
        } = self;
        f.debug_struct("PreKeyRecords")
            .field("signed_prekeys", signed_prekeys)
            .field("one_time_prekeys", &one_time_prekeys.len())
            .field("kem_prekeys", &kem_prekeys.len())
            .finish_non_exhaustive()
    }
}

const fn check_count(what: &'static str, actual: usize) -> Result<()> {
    if actual > MAX_RECORDS_PER_KIND {
        Err(Error::TooMany {
            what,
            limit: MAX_RECORDS_PER_KIND,
            actual,
        })
    } else {
        Ok(())
    }
}

/// libsignal records carry no version byte: only the size limit and the scan apply.
fn open_libsignal<const N: usize>(
    bytes: &[u8],
    what: &'static str,
    specs: &[crate::scan::FieldSpec; N],
) -> Result<()> {
    if bytes.len() > MAX_RECORD_BYTES {
        return Err(Error::TooLarge {
            what,
            limit: MAX_RECORD_BYTES,
            actual: bytes.len(),
        });
    }
    if bytes.is_empty() {
        return Err(Error::Empty(what));
    }
    // A hush-form record starts with the version byte 0x01, which as a protobuf key would
    // be field 0: the scan refuses it, so the two forms cannot be mistaken for each other.
    const _: () = assert!(FORMAT_VERSION >> 3 == 0);
    scan(bytes, specs, true)
        .map(|_| ())
        .map_err(|e| codec::scan_error(what, e))
}

fn ec_key_pair(what: &'static str, public: &[u8], private: &[u8]) -> Result<KeyPair> {
    let public_key = PublicKey::decode(public).map_err(invalid(what, "public key"))?;
    let private_key = PrivateKey::decode(private).map_err(invalid(what, "private key"))?;
    if private_key.public_key() != public_key {
        return Err(Error::Malformed {
            what,
            reason: "public key is not the private key's",
        });
    }
    Ok(KeyPair::from(private_key))
}
