//! One session's Double Ratchet and SPQR state, with compute-then-commit encryption
//! and decryption.

use std::collections::VecDeque;

use hush_core::cipher::{aes256_cbc_decrypt, aes256_cbc_encrypt};
use hush_core::rng::CryptoRng;
use hush_core::{IdentityKey, KemCiphertext, KeyPair, PublicKey};
use hush_spqr::{MessageKey, RecvPlan, SpqrState};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::keys::{ChainKey, MessageKeySeed, RootKey};
use crate::limits::{
    MAX_FORWARD_JUMP, MAX_RECEIVER_CHAINS, MAX_SKIPPED_MESSAGE_KEYS, MAX_TOTAL_FORWARD_JUMP,
};
use crate::message::{CiphertextMessage, PreKeySignalMessage, SessionAddresses, SignalMessage};

/// One receiving chain: the other side's ratchet key, where the chain stands, and the
/// seeds of messages skipped in it (oldest first).
#[derive(Clone, Debug)]
pub(crate) struct ReceiverChain {
    pub(crate) ratchet_key: PublicKey,
    pub(crate) chain_key: ChainKey,
    pub(crate) skipped: VecDeque<MessageKeySeed>,
}

/// What the initiator repeats in every message until the responder answers.
#[derive(Clone, Debug)]
pub(crate) struct PendingPreKey {
    pub(crate) pre_key_id: Option<u32>,
    pub(crate) signed_pre_key_id: u32,
    pub(crate) kem: Option<(u32, KemCiphertext)>,
    /// When the session was created, in milliseconds since the Unix epoch.
    pub(crate) created_at_ms: u64,
}

/// The state of one session.
#[derive(Clone, Debug)]
pub(crate) struct SessionState {
    pub(crate) version: u8,
    pub(crate) local_registration_id: u32,
    pub(crate) remote_registration_id: u32,
    pub(crate) local_identity: IdentityKey,
    pub(crate) remote_identity: IdentityKey,
    /// The initiator's base key: identifies the session a retransmitted first message
    /// belongs to.
    pub(crate) base_key: PublicKey,
    pub(crate) root_key: RootKey,
    pub(crate) previous_counter: u32,
    pub(crate) sender_ratchet: KeyPair,
    pub(crate) sender_chain: ChainKey,
    /// Oldest first.
    pub(crate) receiver_chains: Vec<ReceiverChain>,
    pub(crate) pending: Option<PendingPreKey>,
    /// The session's SPQR state ([`SpqrState::disabled`] when it runs none).
    pub(crate) spqr: SpqrState,
}

/// What is left of one decryption's work: the forward jumps of every session it tries
/// add up to at most [`MAX_TOTAL_FORWARD_JUMP`] (issue 16, item 12), in the Double
/// Ratchet's chains and, separately, in the SPQR chains. A session whose jump does not
/// fit is refused before it runs a key agreement or a chain step.
#[derive(Debug)]
pub(crate) struct JumpBudget {
    left: u32,
    spqr_left: u32,
}

impl JumpBudget {
    /// The budget of one decryption.
    pub(crate) const fn new() -> Self {
        Self {
            left: MAX_TOTAL_FORWARD_JUMP,
            spqr_left: MAX_TOTAL_FORWARD_JUMP,
        }
    }

    /// Takes `jump` chain steps from the budget, or refuses with
    /// [`Error::TooFarAhead`] if the jump is over [`MAX_FORWARD_JUMP`] or over what is
    /// left.
    fn spend(&mut self, jump: u32) -> Result<()> {
        if jump > MAX_FORWARD_JUMP || jump > self.left {
            return Err(Error::TooFarAhead { jump });
        }
        self.left = self.left.saturating_sub(jump);
        Ok(())
    }
}

/// What a successful decryption changes, computed before anything is changed: the
/// Double Ratchet's part and the SPQR state's.
pub(crate) struct Update {
    ratchet: RatchetUpdate,
    spqr: RecvPlan,
}

/// The Double Ratchet's part of an [`Update`].
enum RatchetUpdate {
    /// A skipped key was used: remove it.
    UsedSkipped { chain: usize, counter: u32 },
    /// An existing receiving chain moved forward.
    Advance {
        chain: usize,
        chain_key: ChainKey,
        skipped: Vec<MessageKeySeed>,
    },
    /// The other side took a DH ratchet step: a new receiving chain and a new sending
    /// chain.
    Ratchet {
        ratchet_key: PublicKey,
        chain_key: ChainKey,
        skipped: Vec<MessageKeySeed>,
        root_key: RootKey,
        sender_ratchet: KeyPair,
        sender_chain: ChainKey,
    },
}

/// What SPQR errors mean for a message: a missing payload where SPQR is required is
/// [`Error::SpqrRequired`]; a jump too far ahead and an exhausted chain keep their
/// meaning; everything else refuses the message without saying why, as a bad MAC does.
pub(crate) fn spqr_error(error: hush_spqr::Error) -> Error {
    match error {
        hush_spqr::Error::MinimumVersion | hush_spqr::Error::VersionMismatch => Error::SpqrRequired,
        hush_spqr::Error::TooFarAhead { jump, .. } => Error::TooFarAhead { jump },
        hush_spqr::Error::ChainExhausted => Error::ChainExhausted,
        _ => Error::DecryptionFailed,
    }
}

impl SessionState {
    /// Whether the session runs SPQR (or still offers it, while negotiating).
    pub(crate) fn runs_spqr(&self) -> bool {
        self.spqr.version() != hush_spqr::Version::V0
    }

    /// Encrypts one message and moves the sending chain and the SPQR state on. The SPQR
    /// send is the only randomness drawn (64 bytes when the braid samples a key pair, 32
    /// when it encapsulates, none otherwise). A first message carries `addresses` when
    /// given. Nothing changes on error.
    pub(crate) fn encrypt<R: CryptoRng + ?Sized>(
        &mut self,
        plaintext: &[u8],
        addresses: Option<&SessionAddresses>,
        rng: &mut R,
    ) -> Result<CiphertextMessage> {
        let (seed, next) = self.sender_chain.step()?;
        let plan = self.spqr.plan_send(rng).map_err(spqr_error)?;
        let keys = seed.derive(plan.message_key().map(MessageKey::as_bytes))?;
        let body = aes256_cbc_encrypt(&keys.cipher_key, &keys.iv, plaintext);
        let addresses = match (&self.pending, addresses) {
            (Some(_), Some(addresses)) => Some(addresses.outgoing()),
            _ => None,
        };
        let message = SignalMessage::new(
            self.version,
            &keys.mac_key,
            self.sender_ratchet.public_key(),
            seed.counter(),
            self.previous_counter,
            body,
            plan.payload(),
            addresses,
            &self.local_identity,
            &self.remote_identity,
        );
        let out = match &self.pending {
            Some(pending) => CiphertextMessage::PreKey(PreKeySignalMessage::new(
                self.version,
                self.local_registration_id,
                pending.pre_key_id,
                pending.signed_pre_key_id,
                pending.kem.clone(),
                self.base_key,
                self.local_identity,
                message,
            )),
            None => CiphertextMessage::Signal(message),
        };
        self.spqr
            .apply_send(plan)
            .map_err(|_| Error::InvalidRecord("SPQR plan does not match the session"))?;
        self.sender_chain = next;
        Ok(out)
    }

    /// Whether one of this session's receiving chains is for `ratchet_key`.
    pub(crate) fn knows_ratchet_key(&self, ratchet_key: &PublicKey) -> bool {
        self.receiver_chains
            .iter()
            .any(|chain| chain.ratchet_key == *ratchet_key)
    }

    /// Decrypts without changing anything; returns the plaintext and the change to
    /// commit. Draws 32 bytes from `rng` only when the message starts a new receiving
    /// chain and has authenticated (libsignal draws the same key in a successful
    /// decryption; SPQR's receive draws nothing). The message's forward jumps, in the
    /// Double Ratchet chain and in the SPQR chain, are taken from `budget` before any key
    /// agreement or chain step. `addresses` are checked against the message's field
    /// after the MAC.
    pub(crate) fn plan_decrypt<R: CryptoRng + ?Sized>(
        &self,
        message: &SignalMessage,
        addresses: Option<&SessionAddresses>,
        budget: &mut JumpBudget,
        rng: &mut R,
    ) -> Result<(Zeroizing<Vec<u8>>, Update)> {
        if message.version() != self.version {
            return Err(Error::DecryptionFailed);
        }
        let counter = message.counter();
        let existing = self
            .receiver_chains
            .iter()
            .position(|chain| chain.ratchet_key == *message.ratchet_key());

        match existing {
            Some(index) => {
                let chain = self.receiver_chains.get(index).ok_or(Error::NoSession)?;
                if counter < chain.chain_key.index() {
                    let seed = chain
                        .skipped
                        .iter()
                        .find(|seed| seed.counter() == counter)
                        .ok_or(Error::DuplicateMessage { counter })?;
                    let (plaintext, spqr) = self.open(message, seed, addresses, budget)?;
                    return Ok((
                        plaintext,
                        Update {
                            ratchet: RatchetUpdate::UsedSkipped {
                                chain: index,
                                counter,
                            },
                            spqr,
                        },
                    ));
                }
                budget.spend(counter.saturating_sub(chain.chain_key.index()))?;
                let (seed, chain_key, skipped) = advance(&chain.chain_key, counter)?;
                let (plaintext, spqr) = self.open(message, &seed, addresses, budget)?;
                Ok((
                    plaintext,
                    Update {
                        ratchet: RatchetUpdate::Advance {
                            chain: index,
                            chain_key,
                            skipped,
                        },
                        spqr,
                    },
                ))
            }
            None => {
                // A new chain starts at 0: its jump is the counter. Checked before the
                // key agreement, so a message no session can afford costs none.
                budget.spend(counter)?;
                let (root_key, receiving) = self
                    .root_key
                    .create_chain(message.ratchet_key(), self.sender_ratchet.private_key())?;
                let (seed, chain_key, skipped) = advance(&receiving, counter)?;
                let (plaintext, spqr) = self.open(message, &seed, addresses, budget)?;
                let sender_ratchet = KeyPair::generate(rng);
                let (root_key, sender_chain) =
                    root_key.create_chain(message.ratchet_key(), sender_ratchet.private_key())?;
                Ok((
                    plaintext,
                    Update {
                        ratchet: RatchetUpdate::Ratchet {
                            ratchet_key: *message.ratchet_key(),
                            chain_key,
                            skipped,
                            root_key,
                            sender_ratchet,
                            sender_chain,
                        },
                        spqr,
                    },
                ))
            }
        }
    }

    /// Plans the SPQR receive (its chain jump taken from `budget`), derives the message
    /// keys with the SPQR key as salt, checks the MAC, then the `addresses`, then
    /// decrypts.
    fn open(
        &self,
        message: &SignalMessage,
        seed: &MessageKeySeed,
        addresses: Option<&SessionAddresses>,
        budget: &mut JumpBudget,
    ) -> Result<(Zeroizing<Vec<u8>>, RecvPlan)> {
        let spqr = self
            .spqr
            .plan_recv_bounded(message.pq_ratchet(), budget.spqr_left)
            .map_err(spqr_error)?;
        budget.spqr_left = budget.spqr_left.saturating_sub(spqr.chain_steps());
        let keys = seed.derive(spqr.message_key().map(MessageKey::as_bytes))?;
        if !message.verify_mac(&keys.mac_key, &self.remote_identity, &self.local_identity)
            || !message.addresses_match(addresses)
        {
            return Err(Error::DecryptionFailed);
        }
        let plaintext = aes256_cbc_decrypt(&keys.cipher_key, &keys.iv, message.body())
            .map_err(|_| Error::DecryptionFailed)?;
        Ok((plaintext, spqr))
    }

    /// Commits a planned change: the SPQR state's first (the only part that can refuse,
    /// and only a plan this state did not make), then the Double Ratchet's. Any message
    /// from the other side acknowledges the session, so the pending first-message data
    /// is dropped. Nothing changes on error.
    pub(crate) fn apply(&mut self, update: Update) -> Result<()> {
        let Update { ratchet, spqr } = update;
        self.spqr
            .apply_recv(spqr)
            .map_err(|_| Error::InvalidRecord("SPQR plan does not match the session"))?;
        match ratchet {
            RatchetUpdate::UsedSkipped { chain, counter } => {
                if let Some(chain) = self.receiver_chains.get_mut(chain) {
                    chain.skipped.retain(|seed| seed.counter() != counter);
                }
            }
            RatchetUpdate::Advance {
                chain,
                chain_key,
                skipped,
            } => {
                if let Some(chain) = self.receiver_chains.get_mut(chain) {
                    chain.chain_key = chain_key;
                    store_skipped(&mut chain.skipped, skipped);
                }
            }
            RatchetUpdate::Ratchet {
                ratchet_key,
                chain_key,
                skipped,
                root_key,
                sender_ratchet,
                sender_chain,
            } => {
                let mut stored = VecDeque::new();
                store_skipped(&mut stored, skipped);
                self.receiver_chains.push(ReceiverChain {
                    ratchet_key,
                    chain_key,
                    skipped: stored,
                });
                if self.receiver_chains.len() > MAX_RECEIVER_CHAINS {
                    self.receiver_chains.remove(0);
                }
                self.previous_counter = self.sender_chain.index().saturating_sub(1);
                self.root_key = root_key;
                self.sender_ratchet = sender_ratchet;
                self.sender_chain = sender_chain;
            }
        }
        self.pending = None;
        Ok(())
    }
}

/// Moves `chain` to `counter`: the seed for `counter`, the chain key after it, and the
/// seeds skipped on the way (only the newest [`MAX_SKIPPED_MESSAGE_KEYS`] are derived,
/// since older ones would be dropped anyway). The caller has checked the jump against its
/// [`JumpBudget`].
fn advance(
    chain: &ChainKey,
    counter: u32,
) -> Result<(MessageKeySeed, ChainKey, Vec<MessageKeySeed>)> {
    let jump = counter
        .checked_sub(chain.index())
        .ok_or(Error::DecryptionFailed)?;
    if jump > MAX_FORWARD_JUMP {
        return Err(Error::TooFarAhead { jump });
    }
    let keep_from =
        counter.saturating_sub(u32::try_from(MAX_SKIPPED_MESSAGE_KEYS).unwrap_or(u32::MAX));
    let mut skipped = Vec::new();
    let mut current = chain.clone();
    while current.index() < counter {
        if current.index() >= keep_from {
            let (seed, next) = current.step()?;
            skipped.push(seed);
            current = next;
        } else {
            current = current.next()?;
        }
    }
    let (seed, next) = current.step()?;
    Ok((seed, next, skipped))
}

fn store_skipped(stored: &mut VecDeque<MessageKeySeed>, new: Vec<MessageKeySeed>) {
    stored.extend(new);
    while stored.len() > MAX_SKIPPED_MESSAGE_KEYS {
        stored.pop_front();
    }
}
