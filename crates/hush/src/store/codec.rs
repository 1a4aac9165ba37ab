//! Byte encodings the stores share: the [`LocalAccount`] encoding (the one value with no
//! encoding of its own in a protocol crate) and the decode helpers that turn a stored
//! value back into its type, mapping any failure to [`Error::Store`].

use hush_core::curve::PUBLIC_KEY_LENGTH;
use hush_core::{IdentityKey, IdentityKeyPair, PublicKey};
use hush_group::{DistributionId, SenderKeyRecord, SenderKeyTracker};
use hush_prekey::{KemPreKeyRecord, PreKeyIdAllocator, PreKeyRecord, SignedPreKeyRecord};
use hush_ratchet::SessionRecord;
use zeroize::Zeroizing;

use super::LocalAccount;
use super::limits::{MAX_ACCOUNT_USER_LEN, MAX_IDENTITY_KEY_PAIR_LEN, MAX_LOCAL_ACCOUNT_LEN};
use crate::Address;
use crate::error::{Error, Result};

/// The format version byte of the [`LocalAccount`] encoding.
pub const LOCAL_ACCOUNT_FORMAT_VERSION: u8 = 1;

impl LocalAccount {
    /// The store's encoding of the account (`docs/wire/store.md`): the version byte
    /// [`LOCAL_ACCOUNT_FORMAT_VERSION`], the user id (u16 length, UTF-8 bytes), the
    /// device id and registration id (u32 each), the identity key pair (u16 length,
    /// `IdentityKeyPair::encode`), the 33-byte account key; all integers big-endian.
    /// It holds the identity private key and is wiped when dropped.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if the user id is empty or longer than
    /// [`MAX_ACCOUNT_USER_LEN`] bytes.
    pub fn encode(&self) -> Result<Zeroizing<Vec<u8>>> {
        let Self {
            user,
            device_id,
            registration_id,
            identity,
            account_key,
        } = self;
        let user_len = u16::try_from(user.len())
            .ok()
            .filter(|&len| len != 0 && usize::from(len) <= MAX_ACCOUNT_USER_LEN)
            .ok_or(Error::InvalidArgument("account user id length"))?;
        let pair = identity.encode();
        let pair_len = u16::try_from(pair.len())
            .ok()
            .filter(|&len| usize::from(len) <= MAX_IDENTITY_KEY_PAIR_LEN)
            .ok_or(Error::InvalidArgument("identity key pair"))?;
        let mut out = Zeroizing::new(Vec::with_capacity(
            1 + 2 + user.len() + 8 + 2 + pair.len() + PUBLIC_KEY_LENGTH,
        ));
        out.push(LOCAL_ACCOUNT_FORMAT_VERSION);
        out.extend_from_slice(&user_len.to_be_bytes());
        out.extend_from_slice(user.as_bytes());
        out.extend_from_slice(&device_id.to_be_bytes());
        out.extend_from_slice(&registration_id.to_be_bytes());
        out.extend_from_slice(&pair_len.to_be_bytes());
        out.extend_from_slice(&pair);
        out.extend_from_slice(&account_key.encode());
        Ok(out)
    }

    /// Reads what [`LocalAccount::encode`] wrote.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] (`"local account"`) for an empty or oversized input, an unknown
    /// version, a bad length, a user id that is empty, too long or not UTF-8, an
    /// identity key pair that does not decode or is not in the form
    /// `IdentityKeyPair::encode` writes, an account key that does not decode, or
    /// trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        const BAD: Error = Error::Store("local account");
        if bytes.len() > MAX_LOCAL_ACCOUNT_LEN {
            return Err(BAD);
        }
        let mut r = Reader(bytes);
        if r.u8().ok_or(BAD)? != LOCAL_ACCOUNT_FORMAT_VERSION {
            return Err(BAD);
        }
        let user_len = usize::from(r.u16().ok_or(BAD)?);
        if user_len == 0 || user_len > MAX_ACCOUNT_USER_LEN {
            return Err(BAD);
        }
        let user = core::str::from_utf8(r.take(user_len).ok_or(BAD)?).map_err(|_| BAD)?;
        let device_id = r.u32().ok_or(BAD)?;
        let registration_id = r.u32().ok_or(BAD)?;
        let pair_len = usize::from(r.u16().ok_or(BAD)?);
        if pair_len > MAX_IDENTITY_KEY_PAIR_LEN {
            return Err(BAD);
        }
        let pair = r.take(pair_len).ok_or(BAD)?;
        let identity = IdentityKeyPair::decode(pair).map_err(|_| BAD)?;
        // One encoding per account: a key pair in any form but the one `encode` writes
        // (e.g. an unclamped private scalar, or protobuf variations) is refused.
        if *identity.encode() != *pair {
            return Err(BAD);
        }
        let account_key =
            IdentityKey::decode(r.take(PUBLIC_KEY_LENGTH).ok_or(BAD)?).map_err(|_| BAD)?;
        if !r.0.is_empty() {
            return Err(BAD);
        }
        Ok(Self {
            user: user.to_owned(),
            device_id,
            registration_id,
            identity,
            account_key,
        })
    }
}

/// A cursor over a byte slice whose reads return `None` past the end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn u8(&mut self) -> Option<u8> {
        self.array::<1>().map(|[b]| b)
    }

    fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_be_bytes)
    }

    fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_be_bytes)
    }
}

/// Decodes a stored local account.
pub(crate) fn account(bytes: &[u8]) -> Result<LocalAccount> {
    LocalAccount::decode(bytes)
}

/// Decodes a stored identity key.
pub(crate) fn identity_key(bytes: &[u8]) -> Result<IdentityKey> {
    IdentityKey::decode(bytes).map_err(|_| Error::Store("remote identity"))
}

/// Decodes a stored signed prekey record.
pub(crate) fn signed_prekey(bytes: &[u8]) -> Result<SignedPreKeyRecord> {
    SignedPreKeyRecord::decode(bytes).map_err(|_| Error::Store("signed prekey record"))
}

/// Decodes a stored one-time prekey record.
pub(crate) fn one_time_prekey(bytes: &[u8]) -> Result<PreKeyRecord> {
    PreKeyRecord::decode(bytes).map_err(|_| Error::Store("one-time prekey record"))
}

/// Decodes a stored KEM prekey record.
pub(crate) fn kem_prekey(bytes: &[u8]) -> Result<KemPreKeyRecord> {
    KemPreKeyRecord::decode(bytes).map_err(|_| Error::Store("KEM prekey record"))
}

/// Decodes a stored prekey id allocator.
pub(crate) fn allocator(bytes: &[u8]) -> Result<PreKeyIdAllocator> {
    PreKeyIdAllocator::decode(bytes).map_err(|_| Error::Store("prekey id allocator"))
}

/// Decodes a stored session record.
pub(crate) fn session(bytes: &[u8]) -> Result<SessionRecord> {
    SessionRecord::decode(bytes).map_err(|_| Error::Store("session record"))
}

/// Decodes a stored sender-key record.
pub(crate) fn sender_key(bytes: &[u8]) -> Result<SenderKeyRecord> {
    SenderKeyRecord::decode(bytes).map_err(|_| Error::Store("sender-key record"))
}

/// Decodes a stored sender-key tracker.
pub(crate) fn tracker(bytes: &[u8]) -> Result<SenderKeyTracker> {
    SenderKeyTracker::decode(bytes).map_err(|_| Error::Store("sender-key tracker"))
}

/// A public key's 33-byte encoding, as a key column.
pub(crate) fn public_key(key: &PublicKey) -> [u8; PUBLIC_KEY_LENGTH] {
    key.encode()
}

/// A distribution id's 16 bytes, as a key column.
pub(crate) const fn distribution_id(id: DistributionId) -> [u8; 16] {
    *id.as_bytes()
}

/// The owned (name, device id) key of an address.
pub(crate) fn device_key(address: &Address) -> (String, u32) {
    (address.name().to_owned(), address.device_id())
}
