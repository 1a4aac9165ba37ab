//! The sender chain: chain keys, message-key seeds and message keys.
//!
//! A chain key at iteration `i` gives the message-key seed of message `i`
//! (HMAC-SHA256(chain key, `0x01`)) and the chain key of iteration `i + 1`
//! (HMAC-SHA256(chain key, `0x02`)). A seed expands with HKDF-SHA256 (no salt, info
//! `WhisperGroup`) into 48 bytes: the AES-CBC IV (16) then the AES-256 key (32). These
//! are libsignal's constants; `tests/libsignal_sender_key.rs` checks them against
//! libsignal's recorded messages.

use core::fmt;

use hush_core::cipher::{AES_256_KEY_LENGTH, CBC_IV_LENGTH};
use hush_core::kdf::{HmacSha256Key, hkdf_sha256_array};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{Error, Result};

/// Length of a chain key and of a message-key seed.
pub(crate) const CHAIN_KEY_LENGTH: usize = 32;

/// HMAC input for the message-key seed.
const MESSAGE_KEY_SEED_LABEL: [u8; 1] = [0x01];
/// HMAC input for the next chain key.
const CHAIN_KEY_LABEL: [u8; 1] = [0x02];
/// HKDF info for message keys.
const MESSAGE_KEY_INFO: &[u8] = b"WhisperGroup";

/// A chain key and the iteration it belongs to.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct ChainKey {
    #[zeroize(skip)]
    iteration: u32,
    key: [u8; CHAIN_KEY_LENGTH],
}

impl ChainKey {
    pub(crate) const fn new(iteration: u32, key: [u8; CHAIN_KEY_LENGTH]) -> Self {
        Self { iteration, key }
    }

    pub(crate) const fn iteration(&self) -> u32 {
        self.iteration
    }

    pub(crate) const fn key(&self) -> &[u8; CHAIN_KEY_LENGTH] {
        &self.key
    }

    /// The seed of this iteration's message key and the next chain key, keying HMAC once.
    ///
    /// Refuses the last iteration (2^32 - 1): its successor cannot be numbered.
    pub(crate) fn step(&self) -> Result<(MessageKeySeed, ChainKey)> {
        let next_iteration = self.iteration.checked_add(1).ok_or(Error::ChainExhausted)?;
        let hmac = HmacSha256Key::new(&self.key);
        let seed = MessageKeySeed {
            iteration: self.iteration,
            seed: *hmac.mac(&MESSAGE_KEY_SEED_LABEL),
        };
        let next = ChainKey {
            iteration: next_iteration,
            key: *hmac.mac(&CHAIN_KEY_LABEL),
        };
        Ok((seed, next))
    }

    /// The next chain key alone, for iterations whose message key would be discarded at
    /// once anyway.
    pub(crate) fn next(&self) -> Result<ChainKey> {
        let next_iteration = self.iteration.checked_add(1).ok_or(Error::ChainExhausted)?;
        let key = *HmacSha256Key::new(&self.key).mac(&CHAIN_KEY_LABEL);
        Ok(ChainKey {
            iteration: next_iteration,
            key,
        })
    }
}

impl fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { iteration, key: _ } = self;
        f.debug_struct("ChainKey")
            .field("iteration", iteration)
            .finish_non_exhaustive()
    }
}

/// The seed of one message's keys, as stored for skipped iterations.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct MessageKeySeed {
    #[zeroize(skip)]
    iteration: u32,
    seed: [u8; CHAIN_KEY_LENGTH],
}

impl MessageKeySeed {
    pub(crate) const fn new(iteration: u32, seed: [u8; CHAIN_KEY_LENGTH]) -> Self {
        Self { iteration, seed }
    }

    pub(crate) const fn iteration(&self) -> u32 {
        self.iteration
    }

    pub(crate) const fn seed(&self) -> &[u8; CHAIN_KEY_LENGTH] {
        &self.seed
    }

    /// Expands the seed into the IV and cipher key.
    pub(crate) fn derive(&self) -> Result<MessageKeys> {
        let okm = hkdf_sha256_array::<{ CBC_IV_LENGTH + AES_256_KEY_LENGTH }>(
            &[],
            &self.seed,
            MESSAGE_KEY_INFO,
        )
        .map_err(|_| Error::DecryptionFailed)?;
        let mut keys = MessageKeys {
            iv: [0; CBC_IV_LENGTH],
            cipher_key: [0; AES_256_KEY_LENGTH],
        };
        let (iv, cipher_key) = okm.split_at(CBC_IV_LENGTH);
        keys.iv.copy_from_slice(iv);
        keys.cipher_key.copy_from_slice(cipher_key);
        Ok(keys)
    }
}

impl fmt::Debug for MessageKeySeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { iteration, seed: _ } = self;
        f.debug_struct("MessageKeySeed")
            .field("iteration", iteration)
            .finish_non_exhaustive()
    }
}

/// The keys of one message: AES-256-CBC IV and key.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct MessageKeys {
    iv: [u8; CBC_IV_LENGTH],
    cipher_key: [u8; AES_256_KEY_LENGTH],
}

impl MessageKeys {
    pub(crate) const fn iv(&self) -> &[u8; CBC_IV_LENGTH] {
        &self.iv
    }

    pub(crate) const fn cipher_key(&self) -> &[u8; AES_256_KEY_LENGTH] {
        &self.cipher_key
    }
}

impl fmt::Debug for MessageKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            iv: _,
            cipher_key: _,
        } = self;
        f.debug_struct("MessageKeys").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hush_core::kdf::hmac_sha256;

    #[test]
    fn step_matches_next_and_the_hmac_labels() {
        let chain = ChainKey::new(7, [0x42; 32]);
        let (seed, next) = chain.step().unwrap();
        assert_eq!(seed.iteration(), 7);
        assert_eq!(next.iteration(), 8);
        assert_eq!(seed.seed(), &*hmac_sha256(&[0x42; 32], &[1]));
        assert_eq!(next.key(), &*hmac_sha256(&[0x42; 32], &[2]));
        assert_eq!(chain.next().unwrap().key(), next.key());
    }

    #[test]
    fn last_iteration_is_refused() {
        let chain = ChainKey::new(u32::MAX, [1; 32]);
        assert!(matches!(chain.step(), Err(Error::ChainExhausted)));
        assert!(matches!(chain.next(), Err(Error::ChainExhausted)));
    }

    #[test]
    fn debug_shows_no_key() {
        let chain = ChainKey::new(3, [0xab; 32]);
        assert_eq!(format!("{chain:?}"), "ChainKey { iteration: 3, .. }");
        let (seed, _) = chain.step().unwrap();
        assert_eq!(format!("{seed:?}"), "MessageKeySeed { iteration: 3, .. }");
        assert_eq!(
            format!("{:?}", seed.derive().unwrap()),
            "MessageKeys { .. }"
        );
    }
}
