//! Prekey id allocation: sequential ids in libsignal's 24-bit space, one counter per kind.

use hush_core::rng::CryptoRng;

use crate::error::{Error, Result};
use crate::limits::{
    ALLOCATOR_STATE_LENGTH, FORMAT_VERSION, MAX_PREKEY_ID, MIN_ALLOCATED_PREKEY_ID,
};

/// Which id space an id belongs to. Signed EC prekeys, one-time EC prekeys and KEM
/// prekeys (one-time and last-resort together, as Signal-Android numbers them) each have
/// their own, so the same number may name one key of each kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IdSpace {
    /// Signed EC prekeys.
    SignedPreKey,
    /// One-time EC prekeys.
    OneTimePreKey,
    /// KEM prekeys, one-time and last-resort.
    KemPreKey,
}

/// Hands out prekey ids without reuse: each space counts up from its next id through
/// [`MAX_PREKEY_ID`] (`0xFFFFFF`), then wraps to [`MIN_ALLOCATED_PREKEY_ID`] (1). An id comes
/// back only after 2^24 - 1 allocations in its space, long after the key it named was
/// used or deleted.
///
/// The state is three counters; [`PreKeyIdAllocator::encode`] writes it in 13 bytes so a
/// client can store it beside its keys. The allocator is only changed by the calls that
/// allocate, so a caller that saves it after saving the keys it allocated for never
/// reuses an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PreKeyIdAllocator {
    next_signed: u32,
    next_one_time: u32,
    next_kem: u32,
}

impl Default for PreKeyIdAllocator {
    fn default() -> Self {
        Self::new()
    }
}

impl PreKeyIdAllocator {
    /// Every space starts at 1.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            next_signed: MIN_ALLOCATED_PREKEY_ID,
            next_one_time: MIN_ALLOCATED_PREKEY_ID,
            next_kem: MIN_ALLOCATED_PREKEY_ID,
        }
    }

    /// Every space starts at a random id (three `next_u32` draws), as Signal-iOS starts a
    /// fresh install, so that a reinstalled device does not reuse the ids its old
    /// install handed out.
    pub fn with_random_start<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut draw = || rng.next_u32() % MAX_PREKEY_ID + MIN_ALLOCATED_PREKEY_ID;
        Self {
            next_signed: draw(),
            next_one_time: draw(),
            next_kem: draw(),
        }
    }

    /// The id the next allocation in `space` will return.
    #[must_use]
    pub const fn peek(&self, space: IdSpace) -> u32 {
        match space {
            IdSpace::SignedPreKey => self.next_signed,
            IdSpace::OneTimePreKey => self.next_one_time,
            IdSpace::KemPreKey => self.next_kem,
        }
    }

    /// Allocates the next id in `space`.
    pub const fn allocate(&mut self, space: IdSpace) -> u32 {
        let slot = match space {
            IdSpace::SignedPreKey => &mut self.next_signed,
            IdSpace::OneTimePreKey => &mut self.next_one_time,
            IdSpace::KemPreKey => &mut self.next_kem,
        };
        let id = *slot;
        *slot = following(id);
        id
    }

    /// The 13-byte state: [`FORMAT_VERSION`], then the next signed, one-time and KEM ids
    /// as big-endian `u32`s.
    #[must_use]
    pub fn encode(&self) -> [u8; ALLOCATOR_STATE_LENGTH] {
        let mut out = [0u8; ALLOCATOR_STATE_LENGTH];
        let (version, rest) = out.split_at_mut(1);
        version.copy_from_slice(&[FORMAT_VERSION]);
        for (chunk, value) in
            rest.chunks_exact_mut(4)
                .zip([self.next_signed, self.next_one_time, self.next_kem])
        {
            chunk.copy_from_slice(&value.to_be_bytes());
        }
        out
    }

    /// Reads the state [`PreKeyIdAllocator::encode`] wrote.
    ///
    /// # Errors
    ///
    /// [`Error::Empty`], [`Error::UnsupportedVersion`], [`Error::Malformed`] unless the
    /// input is exactly 13 bytes, [`Error::IdOutOfRange`] unless every counter is in
    /// `1..=MAX_PREKEY_ID`.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "prekey id allocator";
        let (&version, rest) = bytes.split_first().ok_or(Error::Empty(WHAT))?;
        if version != FORMAT_VERSION {
            return Err(Error::UnsupportedVersion {
                what: WHAT,
                version,
            });
        }
        let rest: &[u8; 12] = rest.try_into().map_err(|_| Error::Malformed {
            what: WHAT,
            reason: "state must be 13 bytes",
        })?;
        let mut values = [0u32; 3];
        for (value, chunk) in values.iter_mut().zip(rest.chunks_exact(4)) {
            let mut word = [0u8; 4];
            word.copy_from_slice(chunk);
            let id = u32::from_be_bytes(word);
            if !(MIN_ALLOCATED_PREKEY_ID..=MAX_PREKEY_ID).contains(&id) {
                return Err(Error::IdOutOfRange { what: WHAT, id });
            }
            *value = id;
        }
        let [next_signed, next_one_time, next_kem] = values;
        Ok(Self {
            next_signed,
            next_one_time,
            next_kem,
        })
    }
}

/// The id after `id`: `id + 1`, or 1 after [`MAX_PREKEY_ID`].
const fn following(id: u32) -> u32 {
    if id >= MAX_PREKEY_ID {
        MIN_ALLOCATED_PREKEY_ID
    } else {
        id + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_up_and_wraps_to_one() {
        let mut ids = PreKeyIdAllocator::new();
        assert_eq!(ids.allocate(IdSpace::OneTimePreKey), 1);
        assert_eq!(ids.allocate(IdSpace::OneTimePreKey), 2);
        assert_eq!(
            ids.allocate(IdSpace::SignedPreKey),
            1,
            "spaces are separate"
        );
        assert_eq!(ids.peek(IdSpace::KemPreKey), 1);

        let mut state = ids.encode();
        state[9..13].copy_from_slice(&0x00FF_FFFEu32.to_be_bytes());
        let mut ids = PreKeyIdAllocator::decode(&state).unwrap();
        assert_eq!(ids.allocate(IdSpace::KemPreKey), 0xFF_FFFE);
        assert_eq!(ids.allocate(IdSpace::KemPreKey), 0xFF_FFFF);
        assert_eq!(ids.allocate(IdSpace::KemPreKey), 1, "wraps to 1, never 0");
        assert_eq!(ids.peek(IdSpace::OneTimePreKey), 3);
    }

    #[test]
    fn state_round_trips_and_is_checked() {
        let mut ids = PreKeyIdAllocator::with_random_start(&mut hush_test_support::test_rng(3));
        ids.allocate(IdSpace::SignedPreKey);
        let state = ids.encode();
        assert_eq!(state[0], FORMAT_VERSION);
        assert_eq!(PreKeyIdAllocator::decode(&state).unwrap(), ids);
        for space in [
            IdSpace::SignedPreKey,
            IdSpace::OneTimePreKey,
            IdSpace::KemPreKey,
        ] {
            assert!((1..=MAX_PREKEY_ID).contains(&ids.peek(space)));
        }

        assert_eq!(
            PreKeyIdAllocator::decode(&[]),
            Err(Error::Empty("prekey id allocator"))
        );
        let mut bad = state;
        bad[0] = 2;
        assert!(matches!(
            PreKeyIdAllocator::decode(&bad),
            Err(Error::UnsupportedVersion { version: 2, .. })
        ));
        assert!(matches!(
            PreKeyIdAllocator::decode(&state[..12]),
            Err(Error::Malformed { .. })
        ));
        let mut zero = state;
        zero[1..5].copy_from_slice(&[0; 4]);
        assert!(matches!(
            PreKeyIdAllocator::decode(&zero),
            Err(Error::IdOutOfRange { id: 0, .. })
        ));
        let mut big = state;
        big[5..9].copy_from_slice(&0x0100_0000u32.to_be_bytes());
        assert!(matches!(
            PreKeyIdAllocator::decode(&big),
            Err(Error::IdOutOfRange {
                id: 0x0100_0000,
                ..
            })
        ));
    }
}
