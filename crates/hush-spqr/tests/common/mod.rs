//! Two SPQR parties with seeded randomness, for the public-API tests.
//!
//! [`Party::receive`] checks the compute-then-commit rule on every call: planning never
//! changes the stored bytes, and a refused payload leaves them byte-identical.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "shared test helpers: each test file uses a subset, and a failed unwrap is a failed test"
)]

use hush_spqr::{
    BraidState, ChainParams, Direction, Error, Payload, PayloadKind, SpqrState, Version,
    erasure::Chunk,
};
use hush_test_support::test_rng;
use rand_chacha::ChaCha20Rng;

/// One sent message: its payload and key.
#[derive(Clone, Debug)]
pub(crate) struct Message {
    pub(crate) payload: Vec<u8>,
    pub(crate) key: Option<[u8; 32]>,
}

pub(crate) struct Party {
    pub(crate) state: SpqrState,
    pub(crate) rng: ChaCha20Rng,
}

impl Party {
    pub(crate) fn new(
        direction: Direction,
        version: Version,
        min_version: Version,
        params: ChainParams,
        seed: u64,
    ) -> Self {
        Self {
            state: SpqrState::new(&[0x42; 32], direction, version, min_version, params).unwrap(),
            rng: test_rng(seed),
        }
    }

    pub(crate) fn send(&mut self) -> Message {
        let sent = self.state.send(&mut self.rng).unwrap();
        Message {
            payload: sent.payload().to_vec(),
            key: sent.message_key().map(|k| *k.as_bytes()),
        }
    }

    /// Receives `payload`; on refusal checks that nothing changed.
    pub(crate) fn receive(&mut self, payload: &[u8]) -> Result<Option<[u8; 32]>, Error> {
        let before = self.state.encode();
        let plan = self.state.plan_recv(payload);
        assert_eq!(*self.state.encode(), *before, "planning changed the state");
        match plan {
            Ok(plan) => {
                let key = plan.message_key().map(|k| *k.as_bytes());
                self.state.apply_recv(plan).unwrap();
                Ok(key)
            }
            Err(error) => Err(error),
        }
    }

    /// Receives a payload that must be refused with `expected`, leaving the state as it
    /// was.
    pub(crate) fn refuses(&mut self, payload: &[u8], expected: &Error) {
        let before = self.state.encode();
        assert_eq!(self.receive(payload).as_ref(), Err(expected));
        assert_eq!(*self.state.encode(), *before);
    }

    /// Stores and reloads the state (every test also exercises the format this way).
    pub(crate) fn reload(&mut self) {
        let bytes = self.state.encode();
        self.state = SpqrState::decode(&bytes).unwrap();
        assert_eq!(*self.state.encode(), *bytes);
    }

    pub(crate) fn braid(&self) -> BraidState {
        self.state.braid_state().unwrap()
    }
}

/// Alice (A2B) and Bob (B2A), SPQR required on both sides, default limits.
pub(crate) fn pair(seed: u64) -> (Party, Party) {
    pair_with(seed, ChainParams::default())
}

pub(crate) fn pair_with(seed: u64, params: ChainParams) -> (Party, Party) {
    (
        Party::new(Direction::A2B, Version::V1, Version::V1, params, seed),
        Party::new(
            Direction::B2A,
            Version::V1,
            Version::V1,
            params,
            seed.wrapping_add(1),
        ),
    )
}

/// One message each way, delivered at once; the keys must agree.
pub(crate) fn exchange(alice: &mut Party, bob: &mut Party) {
    let m = alice.send();
    assert_eq!(bob.receive(&m.payload).unwrap(), m.key);
    let m = bob.send();
    assert_eq!(alice.receive(&m.payload).unwrap(), m.key);
}

/// A copy of `payload` with one bit of its chunk data flipped.
pub(crate) fn tamper_chunk(payload: &[u8]) -> Option<Vec<u8>> {
    let parsed = Payload::decode(payload).ok()?;
    let chunk = parsed.kind().chunk()?;
    let mut data = *chunk.data();
    data[5] ^= 0x10;
    let chunk = Chunk::new(chunk.index(), data);
    let kind = match parsed.kind() {
        PayloadKind::Hdr(_) => PayloadKind::Hdr(chunk),
        PayloadKind::Ek(_) => PayloadKind::Ek(chunk),
        PayloadKind::EkCt1Ack(_) => PayloadKind::EkCt1Ack(chunk),
        PayloadKind::Ct1(_) => PayloadKind::Ct1(chunk),
        PayloadKind::Ct2(_) => PayloadKind::Ct2(chunk),
        PayloadKind::None | PayloadKind::Ct1Ack => return None,
    };
    Some(
        Payload::new(parsed.epoch(), parsed.index(), kind)
            .unwrap()
            .encode()
            .as_bytes()
            .to_vec(),
    )
}

/// The payload's type, for filtering.
pub(crate) fn kind(payload: &[u8]) -> PayloadKind {
    *Payload::decode(payload).unwrap().kind()
}
