//! libsignal's rule against replayed first messages on a last-resort KEM prekey.
//!
//! One-time prekeys are deleted after use, so a replayed first message finds nothing to
//! decrypt with. A last-resort KEM prekey stays, so libsignal's stores remember each
//! `(KEM prekey id, signed prekey id, base key)` it was used with and refuse the same
//! triple again (`ReusedBaseKey`). [`LastResortReuseGuard`] is that memory, sans-IO: the
//! app keeps it with its prekeys.
//!
//! Order of calls for a first message that starts a new session (that is, when
//! [`crate::SessionRecord::has_session_for`] is false and the message names a last-resort
//! KEM prekey): [`LastResortReuseGuard::check`], then
//! [`crate::SessionRecord::decrypt_prekey`], then, only if that succeeded,
//! [`LastResortReuseGuard::record`]. A retransmission of a first message whose session
//! exists is decrypted by that session and never reaches the guard.

use std::collections::BTreeSet;

use hush_core::PublicKey;

use crate::error::{Error, Result};

/// The triples a last-resort KEM prekey has been used with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LastResortReuseGuard {
    used: BTreeSet<(u32, u32, [u8; 33])>,
}

impl LastResortReuseGuard {
    /// An empty guard.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Refuses a triple seen before.
    ///
    /// # Errors
    ///
    /// [`Error::ReusedBaseKey`] if this base key already started a session with this
    /// last-resort KEM prekey and signed prekey.
    pub fn check(
        &self,
        kem_prekey_id: u32,
        signed_prekey_id: u32,
        base_key: &PublicKey,
    ) -> Result<()> {
        if self
            .used
            .contains(&(kem_prekey_id, signed_prekey_id, base_key.encode()))
        {
            return Err(Error::ReusedBaseKey);
        }
        Ok(())
    }

    /// Remembers a triple after its session was accepted.
    pub fn record(&mut self, kem_prekey_id: u32, signed_prekey_id: u32, base_key: &PublicKey) {
        self.used
            .insert((kem_prekey_id, signed_prekey_id, base_key.encode()));
    }

    /// Forgets every triple of a signed prekey that was deleted: first messages naming it
    /// can no longer be decrypted anyway.
    pub fn forget_signed_prekey(&mut self, signed_prekey_id: u32) {
        self.used
            .retain(|(_, signed, _)| *signed != signed_prekey_id);
    }

    /// How many triples are remembered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.used.len()
    }

    /// Whether nothing is remembered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.used.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use hush_core::PrivateKey;

    use super::*;

    #[test]
    fn refuses_a_triple_seen_before_and_forgets_with_the_signed_prekey() {
        let base = PrivateKey::from_bytes([3; 32]).public_key();
        let other = PrivateKey::from_bytes([4; 32]).public_key();
        let mut guard = LastResortReuseGuard::new();
        guard.check(1, 2, &base).unwrap();
        guard.record(1, 2, &base);
        assert_eq!(guard.check(1, 2, &base), Err(Error::ReusedBaseKey));
        guard.check(1, 2, &other).unwrap();
        guard.check(1, 3, &base).unwrap();
        guard.check(9, 2, &base).unwrap();
        guard.forget_signed_prekey(2);
        assert!(guard.is_empty());
        guard.check(1, 2, &base).unwrap();
    }
}
