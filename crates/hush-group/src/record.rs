//! The sender-key record: every chain one sender has for one distribution id.

use core::fmt;
use std::collections::VecDeque;

use hush_core::cipher::{aes256_cbc_decrypt, aes256_cbc_encrypt};
use hush_core::rng::low_bytes_of_u32_draws;
use hush_core::{IdentityKey, PrivateKey, PublicKey, VerifyingKey};
use prost::Message as _;
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::chain::{CHAIN_KEY_LENGTH, ChainKey, MessageKeySeed};
use crate::distribution_id::DistributionId;
use crate::error::{Error, Result};
use crate::limits::{
    MAX_FORWARD_JUMP, MAX_RECORD_LEN, MAX_SENDER_KEY_STATES, MAX_SKIPPED_MESSAGE_KEYS,
};
use crate::message::{SENDER_KEY_MESSAGE_VERSION, SenderKeyDistributionMessage, SenderKeyMessage};
use crate::wire;

/// The first byte of an encoded record: hush's record format version. Version 1 (chains
/// not bound to the identity key that distributed them) still decodes.
pub const RECORD_FORMAT_VERSION: u8 = 2;

/// The record format whose received chains carried no distributor.
const RECORD_FORMAT_V1: u8 = 1;

/// Every chain of one sender for one distribution id: up to
/// [`MAX_SENDER_KEY_STATES`] states, newest first.
///
/// An app keeps one record per (sender address, [`DistributionId`]), for the senders it
/// receives from and for itself as a sender, and stores it with
/// [`encode`](Self::encode) after every call that changed it. The record does no I/O.
///
/// - As a **sender**: [`create_distribution`](Self::create_distribution) starts a chain
///   (or returns the current one's distribution message), [`encrypt`](Self::encrypt)
///   encrypts, [`rotate`](Self::rotate) retires the chain after a member left. A
///   [`crate::SenderKeyTracker`] decides when to rotate and who needs the distribution
///   message.
/// - As a **receiver**: [`process_distribution_from`](Self::process_distribution_from)
///   adds a sender's chain, bound to the identity key of the pairwise session it came
///   over, and [`decrypt_from`](Self::decrypt_from) decrypts only while the sender still
///   presents that key. ([`process_distribution`](Self::process_distribution) and
///   [`decrypt`](Self::decrypt) skip the binding, as libsignal's record does.)
///
/// Every operation either succeeds or leaves the record exactly as it was.
///
/// The record holds chain keys (and for our own chains the signing private key): it is
/// wiped on drop and its `Debug` output shows only chain ids and counters.
#[derive(Clone)]
pub struct SenderKeyRecord {
    distribution_id: DistributionId,
    states: VecDeque<SenderKeyState>,
}

/// One chain: its id, where it stands, its signing key and the keys of skipped
/// iterations.
#[derive(Clone)]
struct SenderKeyState {
    message_version: u8,
    chain_id: u32,
    chain_key: ChainKey,
    signing_public: PublicKey,
    /// `signing_public` decoded once into Edwards form, so that each message's signature
    /// check skips the Montgomery-to-Edwards conversion. Rebuilt when a record is decoded.
    verifying_key: VerifyingKey,
    /// Present on our own chains only.
    signing_private: Option<PrivateKey>,
    /// Seeds of skipped iterations, ascending, all below `chain_key`'s iteration, at most
    /// [`MAX_SKIPPED_MESSAGE_KEYS`].
    skipped: VecDeque<MessageKeySeed>,
    /// On a received chain: the identity key of the device that distributed it (through
    /// its pairwise session), when the record was told.
    distributor: Option<IdentityKey>,
}

/// What a decrypt will change in a state, computed before anything is changed.
enum Step {
    /// Use and remove the stored key at this position.
    Stored(usize, MessageKeySeed),
    /// Advance the chain: store `skipped` (ascending), use `key`, continue at `next`.
    Advance {
        skipped: Vec<MessageKeySeed>,
        key: MessageKeySeed,
        next: ChainKey,
    },
}

impl SenderKeyState {
    fn new(
        message_version: u8,
        chain_id: u32,
        chain_key: ChainKey,
        signing_public: PublicKey,
        signing_private: Option<PrivateKey>,
    ) -> Self {
        Self {
            message_version,
            chain_id,
            chain_key,
            verifying_key: VerifyingKey::new(&signing_public),
            signing_public,
            signing_private,
            skipped: VecDeque::new(),
            distributor: None,
        }
    }

    /// Works out the key for `iteration` without touching the state.
    fn plan(&self, iteration: u32) -> Result<Step> {
        let next_expected = self.chain_key.iteration();
        if iteration < next_expected {
            let position = self
                .skipped
                .binary_search_by_key(&iteration, MessageKeySeed::iteration)
                .map_err(|_| Error::DuplicateMessage {
                    chain_id: self.chain_id,
                    iteration,
                })?;
            let seed = self.skipped.get(position).ok_or(Error::DuplicateMessage {
                chain_id: self.chain_id,
                iteration,
            })?;
            return Ok(Step::Stored(position, seed.clone()));
        }
        let jump = iteration - next_expected;
        if jump > MAX_FORWARD_JUMP {
            return Err(Error::TooFarInFuture {
                chain_id: self.chain_id,
                iteration,
                next_expected,
            });
        }
        // Only the newest MAX_SKIPPED_MESSAGE_KEYS skipped seeds survive the commit, so
        // the older ones are stepped over without computing their seeds.
        let keep = u32::try_from(MAX_SKIPPED_MESSAGE_KEYS).unwrap_or(u32::MAX);
        let keep_from = iteration.saturating_sub(keep);
        let mut chain = self.chain_key.clone();
        let mut skipped = Vec::with_capacity((jump as usize).min(MAX_SKIPPED_MESSAGE_KEYS));
        while chain.iteration() < iteration {
            if chain.iteration() < keep_from {
                chain = chain.next()?;
            } else {
                let (seed, next) = chain.step()?;
                skipped.push(seed);
                chain = next;
            }
        }
        let (key, next) = chain.step()?;
        Ok(Step::Advance { skipped, key, next })
    }

    /// Applies a planned step. Cannot fail.
    fn commit(&mut self, step: Step) {
        match step {
            Step::Stored(position, _) => {
                self.skipped.remove(position);
            }
            Step::Advance {
                skipped,
                key: _,
                next,
            } => {
                self.skipped.extend(skipped);
                while self.skipped.len() > MAX_SKIPPED_MESSAGE_KEYS {
                    self.skipped.pop_front();
                }
                self.chain_key = next;
            }
        }
    }

    fn is_ours(&self) -> bool {
        self.signing_private.is_some()
    }

    fn distribution_message(
        &self,
        distribution_id: DistributionId,
    ) -> SenderKeyDistributionMessage {
        SenderKeyDistributionMessage::new(
            self.message_version,
            distribution_id,
            self.chain_id,
            &self.chain_key,
            self.signing_public,
        )
    }

    fn to_wire(&self) -> wire::StateV1 {
        wire::StateV1 {
            message_version: u32::from(self.message_version),
            chain_id: self.chain_id,
            iteration: self.chain_key.iteration(),
            chain_key: self.chain_key.key().to_vec(),
            signing_public: self.signing_public.encode().to_vec(),
            signing_private: self
                .signing_private
                .as_ref()
                .map(|key| key.to_bytes().to_vec())
                .unwrap_or_default(),
            skipped_keys: self
                .skipped
                .iter()
                .map(|seed| wire::SkippedKeyV1 {
                    iteration: seed.iteration(),
                    seed: seed.seed().to_vec(),
                })
                .collect(),
            distributor: self
                .distributor
                .map(|key| key.encode().to_vec())
                .unwrap_or_default(),
        }
    }

    fn from_wire(state: &wire::StateV1, format: u8) -> Result<Self> {
        const WHAT: &str = "sender key record state";
        if state.message_version != u32::from(SENDER_KEY_MESSAGE_VERSION) {
            return Err(Error::Malformed(WHAT));
        }
        let chain_key: [u8; CHAIN_KEY_LENGTH] = state
            .chain_key
            .as_slice()
            .try_into()
            .map_err(|_| Error::Malformed(WHAT))?;
        let signing_public =
            PublicKey::decode(&state.signing_public).map_err(|_| Error::Malformed(WHAT))?;
        let signing_private = if state.signing_private.is_empty() {
            None
        } else {
            let private =
                PrivateKey::decode(&state.signing_private).map_err(|_| Error::Malformed(WHAT))?;
            if private.public_key() != signing_public {
                return Err(Error::Malformed(WHAT));
            }
            Some(private)
        };
        if state.skipped_keys.len() > MAX_SKIPPED_MESSAGE_KEYS {
            return Err(Error::Malformed(WHAT));
        }
        let mut skipped = VecDeque::with_capacity(state.skipped_keys.len());
        let mut previous: Option<u32> = None;
        for key in &state.skipped_keys {
            let ascending = previous.is_none_or(|p| p < key.iteration);
            if !ascending || key.iteration >= state.iteration {
                return Err(Error::Malformed(WHAT));
            }
            previous = Some(key.iteration);
            let seed: [u8; CHAIN_KEY_LENGTH] = key
                .seed
                .as_slice()
                .try_into()
                .map_err(|_| Error::Malformed(WHAT))?;
            skipped.push_back(MessageKeySeed::new(key.iteration, seed));
        }
        let mut decoded = Self::new(
            SENDER_KEY_MESSAGE_VERSION,
            state.chain_id,
            ChainKey::new(state.iteration, chain_key),
            signing_public,
            signing_private,
        );
        decoded.skipped = skipped;
        if !state.distributor.is_empty() {
            // Version 1 had no such field; our own chains are distributed by us.
            if format == RECORD_FORMAT_V1 || decoded.is_ours() {
                return Err(Error::Malformed(WHAT));
            }
            decoded.distributor =
                Some(IdentityKey::decode(&state.distributor).map_err(|_| Error::Malformed(WHAT))?);
        }
        Ok(decoded)
    }
}

impl SenderKeyRecord {
    /// An empty record for `distribution_id`: no chain yet.
    #[must_use]
    pub const fn new(distribution_id: DistributionId) -> Self {
        Self {
            distribution_id,
            states: VecDeque::new(),
        }
    }

    /// The distribution id this record belongs to.
    #[must_use]
    pub const fn distribution_id(&self) -> DistributionId {
        self.distribution_id
    }

    /// Whether the record holds no chain.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// The chain ids held, newest first (for logs and for deciding whether a
    /// [`crate::Error::NoSenderKeyState`] was resolved).
    pub fn chain_ids(&self) -> impl ExactSizeIterator<Item = u32> + '_ {
        self.states.iter().map(|state| state.chain_id)
    }

    /// The id of our own current chain, if the record has one (the newest state, when it
    /// carries a signing private key).
    #[must_use]
    pub fn sending_chain_id(&self) -> Option<u32> {
        self.states
            .front()
            .filter(|state| state.is_ours())
            .map(|state| state.chain_id)
    }

    /// Returns the distribution message of our own current chain, starting a chain first
    /// if the record has none.
    ///
    /// Starting a chain draws from `rng` exactly as libsignal does: one `next_u32`
    /// (the chain id is the value shifted right by one, a 31-bit id as libsignal-java
    /// expects), 32 more `next_u32` whose low bytes are the chain key, then 32 bytes for
    /// the signing private key. When the chain exists nothing is drawn and the message
    /// carries the chain's current iteration and key, so a member added now cannot read
    /// earlier messages.
    pub fn create_distribution<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
    ) -> SenderKeyDistributionMessage {
        if let Some(state) = self.states.front().filter(|state| state.is_ours()) {
            return state.distribution_message(self.distribution_id);
        }
        let chain_id = rng.next_u32() >> 1;
        let chain_key = Zeroizing::new(low_bytes_of_u32_draws::<CHAIN_KEY_LENGTH, R>(rng));
        let signing_private = PrivateKey::generate(rng);
        let state = SenderKeyState::new(
            SENDER_KEY_MESSAGE_VERSION,
            chain_id,
            ChainKey::new(0, *chain_key),
            signing_private.public_key(),
            Some(signing_private),
        );
        let message = state.distribution_message(self.distribution_id);
        // A new chain id that collides with a held one replaces it, as in libsignal.
        self.states.retain(|held| held.chain_id != chain_id);
        self.push_front(state);
        message
    }

    /// Retires our own chains: the next [`create_distribution`](Self::create_distribution)
    /// starts a new chain with a new chain id, chain key and signing key, and the old
    /// chain's private key is dropped (wiped). Call it when a member or device leaves
    /// ([`crate::SenderKeyTracker`] tells when), then send the new distribution message
    /// to every remaining member device.
    ///
    /// Chains received from others are kept.
    pub fn rotate(&mut self) {
        self.states.retain(|state| !state.is_ours());
    }

    /// Encrypts `plaintext` on our own current chain and signs the message, drawing 64
    /// bytes from `rng` for the XEdDSA signature (libsignal's one draw).
    ///
    /// # Errors
    ///
    /// [`Error::NoSendingChain`] if the record has no chain of our own (call
    /// [`create_distribution`](Self::create_distribution) first);
    /// [`Error::ChainExhausted`] after 2^32 - 1 messages on one chain (rotate). On error
    /// the record is unchanged and nothing is drawn.
    pub fn encrypt<R: CryptoRng + ?Sized>(
        &mut self,
        plaintext: &[u8],
        rng: &mut R,
    ) -> Result<SenderKeyMessage> {
        let distribution_id = self.distribution_id;
        let state = self
            .states
            .front_mut()
            .filter(|state| state.is_ours())
            .ok_or(Error::NoSendingChain { distribution_id })?;
        let signing_key = state
            .signing_private
            .as_ref()
            .ok_or(Error::NoSendingChain { distribution_id })?;
        let (seed, next) = state.chain_key.step()?;
        let keys = seed.derive()?;
        let ciphertext = aes256_cbc_encrypt(keys.cipher_key(), keys.iv(), plaintext);
        let message = SenderKeyMessage::new_signed(
            state.message_version,
            distribution_id,
            state.chain_id,
            seed.iteration(),
            ciphertext,
            signing_key,
            rng,
        );
        state.chain_key = next;
        Ok(message)
    }

    /// Adds the sender's chain from a distribution message that came over a pairwise
    /// session with the device whose identity key is `distributor`, and binds the chain
    /// to that key: [`decrypt_from`](Self::decrypt_from) accepts its messages only from
    /// a sender presenting the same key. Chains bound to another key (the device at this
    /// address was replaced, or its account restored under a new key) are dropped.
    ///
    /// Otherwise as [`process_distribution`](Self::process_distribution).
    ///
    /// # Errors
    ///
    /// [`Error::WrongDistribution`] if the message is for another distribution id; the
    /// record is then unchanged.
    pub fn process_distribution_from(
        &mut self,
        message: &SenderKeyDistributionMessage,
        distributor: &IdentityKey,
    ) -> Result<()> {
        self.add_distribution(message, Some(*distributor))
    }

    /// Adds the sender's chain from a distribution message (received over a pairwise
    /// session from the sender whose address keys this record), without binding it to
    /// the sender's identity key, as libsignal does. Apps use
    /// [`process_distribution_from`](Self::process_distribution_from).
    ///
    /// As in libsignal: a chain already held with the same id and signing key is kept
    /// as it stands (processing the same message twice changes nothing, and a resent
    /// message does not rewind the chain) and moves to the front; a chain with the same
    /// id but another signing key is replaced; when the record is full the oldest chain
    /// is evicted.
    ///
    /// # Errors
    ///
    /// [`Error::WrongDistribution`] if the message is for another distribution id; the
    /// record is then unchanged.
    pub fn process_distribution(&mut self, message: &SenderKeyDistributionMessage) -> Result<()> {
        self.add_distribution(message, None)
    }

    fn add_distribution(
        &mut self,
        message: &SenderKeyDistributionMessage,
        distributor: Option<IdentityKey>,
    ) -> Result<()> {
        if message.distribution_id() != self.distribution_id {
            return Err(Error::WrongDistribution {
                expected: self.distribution_id,
                actual: message.distribution_id(),
            });
        }
        if distributor.is_some() {
            self.states
                .retain(|state| state.is_ours() || state.distributor == distributor);
        }
        let chain_id = message.chain_id();
        let existing = self
            .states
            .iter()
            .position(|s| {
                s.chain_id == chain_id
                    && s.signing_public == *message.signing_key()
                    && s.distributor == distributor
            })
            .and_then(|position| self.states.remove(position));
        self.states.retain(|state| state.chain_id != chain_id);
        let state = match existing {
            Some(state) => state,
            None => {
                let mut state = SenderKeyState::new(
                    message.message_version(),
                    chain_id,
                    message.chain_key(),
                    *message.signing_key(),
                    None,
                );
                state.distributor = distributor;
                state
            }
        };
        self.push_front(state);
        Ok(())
    }

    /// Verifies and decrypts a group message from this record's sender.
    ///
    /// The signature is checked first, with the chain's signing key kept in decoded form.
    /// Then the message key is found: the next iteration's, a stored skipped one, or
    /// (for a message ahead of the chain) by stepping forward and storing the keys of the
    /// iterations in between. Only when the ciphertext has decrypted is the record
    /// updated; on any error it is exactly as before.
    ///
    /// # Errors
    ///
    /// - [`Error::WrongDistribution`]: the message is for another distribution id.
    /// - [`Error::NoSenderKeyState`]: no chain with the message's chain id (see its docs
    ///   for recovery).
    /// - [`Error::UnknownVersion`]: the message's version differs from the chain's.
    /// - [`Error::DecryptionFailed`]: bad signature or ciphertext.
    /// - [`Error::DuplicateMessage`]: the iteration was already decrypted (or its key
    ///   discarded).
    /// - [`Error::TooFarInFuture`]: more than [`MAX_FORWARD_JUMP`] iterations ahead.
    /// - [`Error::ChainExhausted`]: the message is at iteration 2^32 - 1.
    pub fn decrypt(&mut self, message: &SenderKeyMessage) -> Result<Zeroizing<Vec<u8>>> {
        self.decrypt_checked(message, None)
    }

    /// Verifies and decrypts a group message from this record's sender, which presents
    /// the identity key `sender` now (the key its address has on its verified device
    /// list): the message's chain must have been distributed by that key
    /// ([`process_distribution_from`](Self::process_distribution_from)). A thief holding
    /// a replaced device's chain cannot post under the address the new device took.
    ///
    /// # Errors
    ///
    /// As [`decrypt`](Self::decrypt), and [`Error::DistributorMismatch`] when the chain
    /// was distributed by another identity key. A chain stored without a distributor
    /// (added by [`process_distribution`](Self::process_distribution), or in a record
    /// written by format version 1) gives [`Error::NoSenderKeyState`]: the sender is
    /// asked for its distribution message again, which binds the chain. The record is
    /// unchanged on every error.
    pub fn decrypt_from(
        &mut self,
        message: &SenderKeyMessage,
        sender: &IdentityKey,
    ) -> Result<Zeroizing<Vec<u8>>> {
        self.decrypt_checked(message, Some(sender))
    }

    fn decrypt_checked(
        &mut self,
        message: &SenderKeyMessage,
        sender: Option<&IdentityKey>,
    ) -> Result<Zeroizing<Vec<u8>>> {
        if message.distribution_id() != self.distribution_id {
            return Err(Error::WrongDistribution {
                expected: self.distribution_id,
                actual: message.distribution_id(),
            });
        }
        let chain_id = message.chain_id();
        let state = self
            .states
            .iter_mut()
            .find(|state| state.chain_id == chain_id)
            .ok_or(Error::NoSenderKeyState {
                distribution_id: self.distribution_id,
                chain_id,
            })?;
        if let Some(sender) = sender {
            match &state.distributor {
                Some(distributor) if distributor == sender => {}
                Some(_) => {
                    return Err(Error::DistributorMismatch {
                        distribution_id: self.distribution_id,
                        chain_id,
                    });
                }
                None => {
                    return Err(Error::NoSenderKeyState {
                        distribution_id: self.distribution_id,
                        chain_id,
                    });
                }
            }
        }
        if message.message_version() != state.message_version {
            return Err(Error::UnknownVersion(message.message_version()));
        }
        let (signed, signature) = message.signed_part_and_signature()?;
        if !state.verifying_key.verify(signed, &signature) {
            return Err(Error::DecryptionFailed);
        }
        let step = state.plan(message.iteration())?;
        let seed = match &step {
            Step::Stored(_, seed) | Step::Advance { key: seed, .. } => seed,
        };
        let keys = seed.derive()?;
        let plaintext = aes256_cbc_decrypt(keys.cipher_key(), keys.iv(), message.ciphertext())
            .map_err(|_| Error::DecryptionFailed)?;
        state.commit(step);
        Ok(plaintext)
    }

    /// Puts `state` first, evicting the oldest states beyond the limit.
    fn push_front(&mut self, state: SenderKeyState) {
        while self.states.len() >= MAX_SENDER_KEY_STATES {
            self.states.pop_back();
        }
        self.states.push_front(state);
    }

    /// The record in hush's own storage format (`docs/wire/sender-key-record.md`): the
    /// format byte [`RECORD_FORMAT_VERSION`], then a protobuf. It holds secrets, so it
    /// comes in a wrapper that wipes it when dropped.
    #[must_use]
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let record = wire::RecordV1 {
            distribution_id: self.distribution_id.as_bytes().to_vec(),
            states: self.states.iter().map(SenderKeyState::to_wire).collect(),
        };
        let encoded = Zeroizing::new(record.encode_to_vec());
        let mut out = Zeroizing::new(Vec::with_capacity(1 + encoded.len()));
        out.push(RECORD_FORMAT_VERSION);
        out.extend_from_slice(&encoded);
        out
    }

    /// Reads a record written by [`encode`](Self::encode), checking every invariant the
    /// record keeps, and decodes each chain's signing key for verification again.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownVersion`] for another format byte; [`Error::Malformed`] if the
    /// bytes are longer than [`MAX_RECORD_LEN`], do not decode, or break an invariant:
    /// more than [`MAX_SENDER_KEY_STATES`] states or two with one chain id; a key of the
    /// wrong length or type; a private key that does not match its public key; more
    /// than [`MAX_SKIPPED_MESSAGE_KEYS`] skipped keys, or skipped keys not strictly
    /// ascending and below the chain's iteration.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "sender key record";
        if bytes.len() > MAX_RECORD_LEN {
            return Err(Error::Malformed(WHAT));
        }
        let (&format, rest) = bytes.split_first().ok_or(Error::Malformed(WHAT))?;
        if format != RECORD_FORMAT_VERSION && format != RECORD_FORMAT_V1 {
            return Err(Error::UnknownVersion(format));
        }
        let record = wire::RecordV1::decode(rest).map_err(|_| Error::Malformed(WHAT))?;
        let distribution_id =
            DistributionId::decode(&record.distribution_id).map_err(|_| Error::Malformed(WHAT))?;
        if record.states.len() > MAX_SENDER_KEY_STATES {
            return Err(Error::Malformed(WHAT));
        }
        let mut states = VecDeque::with_capacity(record.states.len());
        for state in &record.states {
            let state = SenderKeyState::from_wire(state, format)?;
            if states
                .iter()
                .any(|s: &SenderKeyState| s.chain_id == state.chain_id)
            {
                return Err(Error::Malformed(WHAT));
            }
            states.push_back(state);
        }
        Ok(Self {
            distribution_id,
            states,
        })
    }
}

impl fmt::Debug for SenderKeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            distribution_id,
            states,
        } = self;
        f.debug_struct("SenderKeyRecord")
            .field("distribution_id", distribution_id)
            .field("states", states)
            .finish()
    }
}

impl fmt::Debug for SenderKeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            message_version,
            chain_id,
            chain_key,
            signing_public,
            verifying_key: _,
            signing_private,
            skipped,
            distributor,
        } = self;
        f.debug_struct("SenderKeyState")
            .field("message_version", message_version)
            .field("chain_id", chain_id)
            .field("iteration", &chain_key.iteration())
            .field("signing_key", signing_public)
            .field("ours", &signing_private.is_some())
            .field("skipped_keys", &skipped.len())
            .field("distributor", distributor)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
