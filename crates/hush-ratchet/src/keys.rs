//! The Double Ratchet's key schedule: root key, chain keys and message keys, with
//! libsignal's KDF labels.

use core::fmt;

use hush_core::kdf::{HmacSha256Key, hkdf_sha256};
use hush_core::{PrivateKey, PublicKey};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Error, Result};

/// HKDF label of a DH ratchet step.
const RATCHET_INFO: &[u8] = b"WhisperRatchet";
/// HKDF label of message keys.
const MESSAGE_KEYS_INFO: &[u8] = b"WhisperMessageKeys";
/// HMAC input for a message key seed.
const MESSAGE_KEY_SEED: [u8; 1] = [0x01];
/// HMAC input for the next chain key.
const CHAIN_KEY_SEED: [u8; 1] = [0x02];

/// The root key. Wiped on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct RootKey([u8; 32]);

impl RootKey {
    pub(crate) const fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub(crate) const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// One DH ratchet step: `HKDF(salt = root, ikm = DH(ours, theirs), "WhisperRatchet")`
    /// into a new root key and a chain key at index 0.
    pub(crate) fn create_chain(
        &self,
        theirs: &PublicKey,
        ours: &PrivateKey,
    ) -> Result<(Self, ChainKey)> {
        count_key_agreement();
        let shared = ours.agree(theirs)?;
        let mut okm = Zeroizing::new([0u8; 64]);
        hkdf_sha256(&self.0, shared.as_bytes(), RATCHET_INFO, okm.as_mut())?;
        let (root, chain) = okm.split_at(32);
        let mut root_key = [0u8; 32];
        let mut chain_key = [0u8; 32];
        root_key.copy_from_slice(root);
        chain_key.copy_from_slice(chain);
        Ok((Self(root_key), ChainKey::new(chain_key, 0)))
    }
}

impl fmt::Debug for RootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RootKey").finish_non_exhaustive()
    }
}

/// A chain key and its position. Wiped on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct ChainKey {
    key: [u8; 32],
    #[zeroize(skip)]
    index: u32,
}

impl ChainKey {
    pub(crate) const fn new(key: [u8; 32], index: u32) -> Self {
        Self { key, index }
    }

    pub(crate) const fn index(&self) -> u32 {
        self.index
    }

    pub(crate) const fn key_bytes(&self) -> &[u8; 32] {
        &self.key
    }

    /// The message key seed at this index and the next chain key, from one keyed HMAC
    /// state (keying once saves two SHA-256 compressions per step).
    ///
    /// Refuses the last index (2^32 - 1): its successor cannot be numbered, and wrapping
    /// to 0 would make counters repeat.
    pub(crate) fn step(&self) -> Result<(MessageKeySeed, Self)> {
        let next_index = self.index.checked_add(1).ok_or(Error::ChainExhausted)?;
        count_chain_step();
        let mac = HmacSha256Key::new(&self.key);
        let seed = MessageKeySeed {
            seed: *mac.mac(&MESSAGE_KEY_SEED),
            counter: self.index,
        };
        let next = Self {
            key: *mac.mac(&CHAIN_KEY_SEED),
            index: next_index,
        };
        Ok((seed, next))
    }

    /// The next chain key only (for skipping past keys that will not be kept).
    ///
    /// Refuses the last index, as [`ChainKey::step`] does.
    pub(crate) fn next(&self) -> Result<Self> {
        let next_index = self.index.checked_add(1).ok_or(Error::ChainExhausted)?;
        count_chain_step();
        let mac = HmacSha256Key::new(&self.key);
        Ok(Self {
            key: *mac.mac(&CHAIN_KEY_SEED),
            index: next_index,
        })
    }
}

impl fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { key: _, index } = self;
        f.debug_struct("ChainKey")
            .field("index", index)
            .finish_non_exhaustive()
    }
}

/// The 32-byte HMAC output from which one message's keys are derived. Skipped messages
/// are stored as seeds (32 bytes instead of 80). Wiped on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct MessageKeySeed {
    seed: [u8; 32],
    #[zeroize(skip)]
    counter: u32,
}

impl MessageKeySeed {
    pub(crate) const fn new(seed: [u8; 32], counter: u32) -> Self {
        Self { seed, counter }
    }

    pub(crate) const fn counter(&self) -> u32 {
        self.counter
    }

    pub(crate) const fn seed_bytes(&self) -> &[u8; 32] {
        &self.seed
    }

    /// `HKDF(salt = spqr_key or none, ikm = seed, "WhisperMessageKeys")` into cipher key,
    /// MAC key and IV. The salt is the message's SPQR key (libsignal's triple ratchet);
    /// with SPQR off, or for a message SPQR gives no key, there is none.
    pub(crate) fn derive(&self, spqr_key: Option<&[u8; 32]>) -> Result<MessageKeys> {
        let mut okm = Zeroizing::new([0u8; 80]);
        let salt: &[u8] = match spqr_key {
            Some(key) => key,
            None => &[],
        };
        hkdf_sha256(salt, &self.seed, MESSAGE_KEYS_INFO, okm.as_mut())?;
        let mut keys = MessageKeys {
            cipher_key: [0; 32],
            mac_key: [0; 32],
            iv: [0; 16],
        };
        let (cipher, rest) = okm.split_at(32);
        let (mac, iv) = rest.split_at(32);
        keys.cipher_key.copy_from_slice(cipher);
        keys.mac_key.copy_from_slice(mac);
        keys.iv.copy_from_slice(iv);
        Ok(keys)
    }
}

impl fmt::Debug for MessageKeySeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { seed: _, counter } = self;
        f.debug_struct("MessageKeySeed")
            .field("counter", counter)
            .finish_non_exhaustive()
    }
}

/// The keys of one message. Wiped on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct MessageKeys {
    pub(crate) cipher_key: [u8; 32],
    pub(crate) mac_key: [u8; 32],
    pub(crate) iv: [u8; 16],
}

impl fmt::Debug for MessageKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageKeys").finish_non_exhaustive()
    }
}

#[cfg(test)]
fn count_chain_step() {
    work::chain_step();
}

#[cfg(not(test))]
const fn count_chain_step() {}

#[cfg(test)]
fn count_key_agreement() {
    work::key_agreement();
}

#[cfg(not(test))]
const fn count_key_agreement() {}

/// Work counters for the tests that bound what one decryption may cost (issue 16, item
/// 12): how many chain steps and key agreements this thread has run. Test builds only;
/// in other builds the counting functions are empty.
#[cfg(test)]
pub(crate) mod work {
    use std::cell::Cell;

    std::thread_local! {
        static CHAIN_STEPS: Cell<u64> = const { Cell::new(0) };
        static KEY_AGREEMENTS: Cell<u64> = const { Cell::new(0) };
    }

    pub(crate) fn chain_step() {
        CHAIN_STEPS.with(|c| c.set(c.get().saturating_add(1)));
    }

    pub(crate) fn key_agreement() {
        KEY_AGREEMENTS.with(|c| c.set(c.get().saturating_add(1)));
    }

    /// Chain steps and key agreements counted on this thread since the last call, and
    /// resets both.
    pub(crate) fn take() -> (u64, u64) {
        (
            CHAIN_STEPS.with(|c| c.replace(0)),
            KEY_AGREEMENTS.with(|c| c.replace(0)),
        )
    }
}
