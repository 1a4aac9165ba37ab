//! Secrets, SPQR's KDF labels, and the braid's authenticator. All HKDF is HKDF-SHA256
//! and all MACs HMAC-SHA256, through `hush-core`'s one implementation of each.

use core::fmt;

use hush_core::kdf::{
    HmacSha256Key, constant_time_eq, hkdf_sha256_parts, hkdf_sha256_zero_salt_parts,
};
use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Error, Result};

/// HKDF info of the chain's start (two spaces before "Start", as in libsignal).
const CHAIN_START: &[u8] = b"Signal PQ Ratchet V1 Chain  Start";
/// HKDF info suffix of one chain step (after the counter).
const CHAIN_NEXT: &[u8] = b"Signal PQ Ratchet V1 Chain Next";
/// HKDF info of a new chain epoch.
const CHAIN_ADD_EPOCH: &[u8] = b"Signal PQ Ratchet V1 Chain Add Epoch";
/// HKDF info prefix of an epoch secret (before the epoch).
const SCKA_KEY: &[u8] = b"Signal_PQCKA_V1_MLKEM768:SCKA Key";
/// HKDF info prefix of an authenticator update (before the epoch).
const AUTHENTICATOR_UPDATE: &[u8] = b"Signal_PQCKA_V1_MLKEM768:Authenticator Update";
/// MAC prefix of the ML-KEM header.
const HEADER_MAC: &[u8] = b"Signal_PQCKA_V1_MLKEM768:ekheader";
/// MAC prefix of the ciphertext.
const CIPHERTEXT_MAC: &[u8] = b"Signal_PQCKA_V1_MLKEM768:ciphertext";

/// Length of every key here.
pub(crate) const KEY_LEN: usize = 32;

/// A 32-byte secret (chain seeds, roots, epoch secrets), wiped on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct Secret32([u8; KEY_LEN]);

impl Secret32 {
    pub(crate) const fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    pub(crate) const fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    fn from_slice(bytes: &[u8]) -> Self {
        let mut out = [0u8; KEY_LEN];
        if let Some(src) = bytes.get(..KEY_LEN) {
            out.copy_from_slice(src);
        }
        Self(out)
    }
}

impl PartialEq for Secret32 {
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(&self.0, &other.0)
    }
}

impl Eq for Secret32 {}

impl fmt::Debug for Secret32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self(_) = self;
        f.debug_struct("Secret32").finish_non_exhaustive()
    }
}

/// A per-message SPQR key: the 32 bytes libsignal mixes into the Double Ratchet's
/// message keys (as the HKDF salt of `WhisperMessageKeys`). Wiped on drop; compared in
/// constant time; never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MessageKey([u8; KEY_LEN]);

impl MessageKey {
    pub(crate) fn from_slice(bytes: &[u8]) -> Self {
        let Secret32(inner) = Secret32::from_slice(bytes);
        Self(inner)
    }

    /// The key bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl ConstantTimeEq for MessageKey {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.0.ct_eq(&other.0)
    }
}

impl PartialEq for MessageKey {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for MessageKey {}

impl fmt::Debug for MessageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self(_) = self;
        f.debug_struct("MessageKey").finish_non_exhaustive()
    }
}

/// The chain's first keys from the auth key: (next root, A2B seed, B2A seed).
pub(crate) fn chain_start(auth_key: &[u8; KEY_LEN]) -> Result<(Secret32, Secret32, Secret32)> {
    let mut okm = Zeroizing::new([0u8; 3 * KEY_LEN]);
    hkdf_sha256_zero_salt_parts(auth_key, &[CHAIN_START], &mut okm[..])?;
    Ok(split3(&okm))
}

/// A new chain epoch from the previous root and the epoch secret: (next root, A2B seed,
/// B2A seed).
pub(crate) fn chain_add_epoch(
    next_root: &Secret32,
    epoch_secret: &Secret32,
) -> Result<(Secret32, Secret32, Secret32)> {
    let mut okm = Zeroizing::new([0u8; 3 * KEY_LEN]);
    hkdf_sha256_parts(
        &next_root.0,
        &epoch_secret.0,
        &[CHAIN_ADD_EPOCH],
        &mut okm[..],
    )?;
    Ok(split3(&okm))
}

/// One chain step: the seed for `counter` (the new counter value) gives the next seed and
/// the key of `counter`.
pub(crate) fn chain_next(seed: &Secret32, counter: u32) -> Result<(Secret32, MessageKey)> {
    let mut okm = Zeroizing::new([0u8; 2 * KEY_LEN]);
    hkdf_sha256_zero_salt_parts(&seed.0, &[&counter.to_be_bytes(), CHAIN_NEXT], &mut okm[..])?;
    let (next, key) = okm.split_at(KEY_LEN);
    Ok((Secret32::from_slice(next), MessageKey::from_slice(key)))
}

/// The epoch secret of `epoch` from the ML-KEM shared secret.
pub(crate) fn epoch_secret(shared: &[u8; KEY_LEN], epoch: u64) -> Result<Secret32> {
    let mut okm = Zeroizing::new([0u8; KEY_LEN]);
    hkdf_sha256_zero_salt_parts(shared, &[SCKA_KEY, &epoch.to_be_bytes()], &mut okm[..])?;
    Ok(Secret32(*okm))
}

fn split3(okm: &[u8; 3 * KEY_LEN]) -> (Secret32, Secret32, Secret32) {
    let (first, rest) = okm.split_at(KEY_LEN);
    let (second, third) = rest.split_at(KEY_LEN);
    (
        Secret32::from_slice(first),
        Secret32::from_slice(second),
        Secret32::from_slice(third),
    )
}

/// The braid's authenticator: a root key and a MAC key, updated with the auth key for
/// epoch 1 and with each epoch secret.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub(crate) struct Authenticator {
    root: Secret32,
    mac: Secret32,
}

/// Length of the authenticator's MACs.
pub(crate) const MAC_LEN: usize = 32;

impl Authenticator {
    /// Starts from zero keys and updates with `auth_key` for epoch 1.
    pub(crate) fn new(auth_key: &[u8; KEY_LEN]) -> Result<Self> {
        let zero = Self {
            root: Secret32([0; KEY_LEN]),
            mac: Secret32([0; KEY_LEN]),
        };
        zero.updated(1, auth_key)
    }

    pub(crate) const fn from_parts(root: Secret32, mac: Secret32) -> Self {
        Self { root, mac }
    }

    pub(crate) const fn root(&self) -> &Secret32 {
        &self.root
    }

    pub(crate) const fn mac_key(&self) -> &Secret32 {
        &self.mac
    }

    /// The authenticator after an update with `key` for `epoch`.
    pub(crate) fn updated(&self, epoch: u64, key: &[u8; KEY_LEN]) -> Result<Self> {
        let mut ikm = Zeroizing::new([0u8; 2 * KEY_LEN]);
        let (root, rest) = ikm.split_at_mut(KEY_LEN);
        root.copy_from_slice(&self.root.0);
        rest.copy_from_slice(key);
        let mut okm = Zeroizing::new([0u8; 2 * KEY_LEN]);
        hkdf_sha256_zero_salt_parts(
            &ikm[..],
            &[AUTHENTICATOR_UPDATE, &epoch.to_be_bytes()],
            &mut okm[..],
        )?;
        let (root, mac) = okm.split_at(KEY_LEN);
        Ok(Self {
            root: Secret32::from_slice(root),
            mac: Secret32::from_slice(mac),
        })
    }

    /// The MAC of an ML-KEM header for `epoch`.
    pub(crate) fn header_mac(&self, epoch: u64, header: &[u8]) -> [u8; MAC_LEN] {
        *HmacSha256Key::new(&self.mac.0).mac_parts(&[HEADER_MAC, &epoch.to_be_bytes(), header])
    }

    /// The MAC of a ciphertext (`ct1 ‖ ct2`) for `epoch`.
    pub(crate) fn ciphertext_mac(&self, epoch: u64, ct1: &[u8], ct2: &[u8]) -> [u8; MAC_LEN] {
        *HmacSha256Key::new(&self.mac.0).mac_parts(&[
            CIPHERTEXT_MAC,
            &epoch.to_be_bytes(),
            ct1,
            ct2,
        ])
    }

    /// Checks a header MAC in constant time.
    pub(crate) fn verify_header(&self, epoch: u64, header: &[u8], mac: &[u8]) -> Result<()> {
        check(constant_time_eq(&self.header_mac(epoch, header), mac))
    }

    /// Checks a ciphertext MAC in constant time.
    pub(crate) fn verify_ciphertext(
        &self,
        epoch: u64,
        ct1: &[u8],
        ct2: &[u8],
        mac: &[u8],
    ) -> Result<()> {
        check(constant_time_eq(&self.ciphertext_mac(epoch, ct1, ct2), mac))
    }
}

fn check(ok: bool) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::AuthenticationFailed)
    }
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { root: _, mac: _ } = self;
        f.debug_struct("Authenticator").finish_non_exhaustive()
    }
}
