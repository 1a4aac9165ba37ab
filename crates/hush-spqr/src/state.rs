//! [`SpqrState`]: version negotiation, the braid and the chain of one session, and the
//! plan/apply interface the Double Ratchet drives.

use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};

use rand_core::CryptoRng;

use crate::braid::{Braid, BraidRecv, BraidSend, BraidState};
use crate::chain::{Chain, NewEpoch, RecvStep, SendStep};
use crate::config::{ChainParams, Direction, Version};
use crate::error::{Error, Result};
use crate::keys::{KEY_LEN, MessageKey, Secret32};
use crate::payload::{EncodedPayload, Incoming, Payload};

/// Source of plan stamps: every state, and every state change, takes a fresh value, so a
/// plan can tell whether it still belongs to the state it is applied to.
static GENERATION: AtomicU64 = AtomicU64::new(1);

fn fresh_generation() -> u64 {
    GENERATION.fetch_add(1, Ordering::Relaxed)
}

/// The SPQR state of one session: whether SPQR is on (and whether that is still being
/// negotiated), the ML-KEM braid, and the symmetric chain that turns its epoch secrets
/// into one key per message.
///
/// Per message the Double Ratchet asks it for a payload and a key when sending
/// ([`SpqrState::plan_send`], then [`SpqrState::apply_send`]) and for the key of a
/// received payload ([`SpqrState::plan_recv`], then [`SpqrState::apply_recv`] once the
/// message has authenticated). Planning never changes the state; applying cannot fail
/// for a plan the same state made with nothing applied since. [`SpqrState::send`] and
/// [`SpqrState::recv`] do both at once.
///
/// Stored with [`SpqrState::encode`] / [`SpqrState::decode`] (format in
/// `docs/wire/spqr-state.md`).
#[derive(Clone)]
pub struct SpqrState {
    inner: Inner,
    generation: u64,
}

#[derive(Clone)]
pub(crate) enum Inner {
    /// SPQR off: empty payloads, no keys, every payload ignored.
    V0,
    V1(Box<V1State>),
}

#[derive(Clone)]
pub(crate) struct V1State {
    pub(crate) direction: Direction,
    pub(crate) params: ChainParams,
    /// The minimum version while negotiation is still open (until the first message is
    /// received); `None` once settled.
    pub(crate) negotiating: Option<Version>,
    pub(crate) chain: ChainSlot,
    pub(crate) braid: Braid,
}

/// The chain, or the auth key it will start from: with minimum version 0 and
/// negotiation open, libsignal starts the chain only when the first message arrives
/// (and sends index 0, no key, until then).
#[derive(Clone)]
pub(crate) enum ChainSlot {
    Pending(Secret32),
    Ready(Chain),
}

/// A planned send: the payload to put in the message, the key to mix into its message
/// keys, and the change to the state.
pub struct SendPlan {
    generation: u64,
    payload: EncodedPayload,
    key: Option<MessageKey>,
    step: Option<(BraidSend, Option<SendStep>)>,
}

impl SendPlan {
    /// The `pq_ratchet` bytes for the message (empty when SPQR is off).
    #[must_use]
    pub fn payload(&self) -> &[u8] {
        self.payload.as_bytes()
    }

    /// The message's SPQR key; `None` when SPQR is off (or, with minimum version 0,
    /// before the first message from the peer arrived).
    #[must_use]
    pub const fn message_key(&self) -> Option<&MessageKey> {
        self.key.as_ref()
    }
}

impl fmt::Debug for SendPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            generation: _,
            payload,
            key,
            step: _,
        } = self;
        f.debug_struct("SendPlan")
            .field("payload", payload)
            .field("has_key", &key.is_some())
            .finish_non_exhaustive()
    }
}

/// A planned receive: the key of the received message and the change to the state.
pub struct RecvPlan {
    generation: u64,
    key: Option<MessageKey>,
    chain_steps: u32,
    step: RecvChange,
}

#[allow(
    clippy::large_enum_variant,
    reason = "a plan lives for one message; moving it once is cheaper than a heap allocation"
)]
enum RecvChange {
    Nothing,
    /// The peer speaks no SPQR and negotiation allowed it: SPQR is turned off.
    Downgrade,
    V1 {
        braid: BraidRecv,
        /// The chain started by this message (minimum version 0).
        started: Option<Box<Chain>>,
        new_epoch: Option<NewEpoch>,
        chain: Option<RecvStep>,
    },
}

impl RecvPlan {
    /// The key of the received message; `None` when SPQR is off or ignored the payload
    /// (and for index 0 of the first epoch, which only a minimum-version-0 peer sends).
    #[must_use]
    pub const fn message_key(&self) -> Option<&MessageKey> {
        self.key.as_ref()
    }

    /// How many receiving-chain steps planning this message took (its forward jump; 0
    /// for a stored key or no key). A caller that bounds the work of one decryption
    /// across several sessions subtracts this from what it has left (see
    /// [`SpqrState::plan_recv_bounded`]).
    #[must_use]
    pub const fn chain_steps(&self) -> u32 {
        self.chain_steps
    }
}

impl fmt::Debug for RecvPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            generation: _,
            key,
            chain_steps,
            step: _,
        } = self;
        f.debug_struct("RecvPlan")
            .field("has_key", &key.is_some())
            .field("chain_steps", chain_steps)
            .finish_non_exhaustive()
    }
}

/// What [`SpqrState::send`] returns: the payload and the message's key.
#[derive(Debug)]
pub struct Sent {
    payload: EncodedPayload,
    key: Option<MessageKey>,
}

impl Sent {
    /// The `pq_ratchet` bytes.
    #[must_use]
    pub fn payload(&self) -> &[u8] {
        self.payload.as_bytes()
    }

    /// The message's SPQR key.
    #[must_use]
    pub const fn message_key(&self) -> Option<&MessageKey> {
        self.key.as_ref()
    }

    /// The payload and the key.
    #[must_use]
    pub fn into_parts(self) -> (EncodedPayload, Option<MessageKey>) {
        (self.payload, self.key)
    }
}

impl SpqrState {
    /// A new state for a session whose key agreement produced `auth_key` (PQXDH's third
    /// 32 bytes). `direction` is [`Direction::A2B`] for the initiator,
    /// [`Direction::B2A`] for the responder.
    ///
    /// `version` is the highest version this side speaks; [`Version::V0`] gives a state
    /// with SPQR off. `min_version` is what the peer must speak: libsignal v0.101 uses
    /// [`Version::V1`] for both, refusing peers without SPQR; with [`Version::V0`] a peer
    /// that sends no SPQR payload turns SPQR off for the session.
    ///
    /// # Errors
    ///
    /// [`Error::Core`] only if a KDF failed, which fixed-length outputs never do.
    pub fn new(
        auth_key: &[u8; KEY_LEN],
        direction: Direction,
        version: Version,
        min_version: Version,
        params: ChainParams,
    ) -> Result<Self> {
        if version == Version::V0 {
            return Ok(Self::disabled());
        }
        let braid = match direction {
            Direction::A2B => Braid::ek_side(auth_key)?,
            Direction::B2A => Braid::ct_side(auth_key)?,
        };
        let chain = if min_version >= Version::V1 {
            ChainSlot::Ready(Chain::start(auth_key, direction, params)?)
        } else {
            ChainSlot::Pending(Secret32::from_bytes(*auth_key))
        };
        Ok(Self::from_inner(Inner::V1(Box::new(V1State {
            direction,
            params,
            negotiating: Some(min_version),
            chain,
            braid,
        }))))
    }

    /// A state with SPQR off (version 0): empty payloads, no keys.
    #[must_use]
    pub fn disabled() -> Self {
        Self::from_inner(Inner::V0)
    }

    pub(crate) fn from_inner(inner: Inner) -> Self {
        Self {
            inner,
            generation: fresh_generation(),
        }
    }

    pub(crate) const fn inner(&self) -> &Inner {
        &self.inner
    }

    /// The version in use (or offered, while negotiating).
    #[must_use]
    pub const fn version(&self) -> Version {
        match self.inner {
            Inner::V0 => Version::V0,
            Inner::V1(_) => Version::V1,
        }
    }

    /// The minimum version, while version negotiation is still open (nothing received
    /// yet); `None` once settled.
    #[must_use]
    pub fn negotiating(&self) -> Option<Version> {
        match &self.inner {
            Inner::V0 => None,
            Inner::V1(v1) => v1.negotiating,
        }
    }

    /// The braid's state; `None` when SPQR is off.
    #[must_use]
    pub fn braid_state(&self) -> Option<BraidState> {
        match &self.inner {
            Inner::V0 => None,
            Inner::V1(v1) => Some(v1.braid.state()),
        }
    }

    /// The braid's (SCKA) epoch: the epoch named in the payloads this state sends.
    #[must_use]
    pub fn braid_epoch(&self) -> Option<u64> {
        match &self.inner {
            Inner::V0 => None,
            Inner::V1(v1) => Some(v1.braid.epoch()),
        }
    }

    /// The newest chain epoch: how many epoch secrets this side holds. 0 when SPQR is off
    /// or has no secret yet.
    #[must_use]
    pub fn chain_epoch(&self) -> u64 {
        match &self.inner {
            Inner::V1(v1) => match &v1.chain {
                ChainSlot::Ready(chain) => chain.current_epoch,
                ChainSlot::Pending(_) => 0,
            },
            Inner::V0 => 0,
        }
    }

    /// Plans one send: the payload, the key, and the change. Draws 64 bytes from `rng`
    /// when the braid samples a key pair (state KeysUnsampled), 32 when it encapsulates
    /// (HeaderReceived), nothing otherwise — libsignal's draws.
    ///
    /// # Errors
    ///
    /// [`Error::ChainExhausted`] after 2^32 - 1 messages in one epoch; [`Error::Core`]
    /// if a KDF failed (never with fixed-length outputs). The state is unchanged.
    pub fn plan_send<R: CryptoRng + ?Sized>(&self, rng: &mut R) -> Result<SendPlan> {
        let Inner::V1(v1) = &self.inner else {
            return Ok(SendPlan {
                generation: self.generation,
                payload: EncodedPayload::empty(),
                key: None,
                step: None,
            });
        };
        let sent = v1.braid.plan_send(rng)?;
        let (index, key, chain_step) = match &v1.chain {
            ChainSlot::Ready(chain) => {
                let new_epoch = match &sent.secret {
                    Some((epoch, secret)) => Some(chain.derive_epoch(*epoch, secret)?),
                    None => None,
                };
                let key_epoch = sent
                    .epoch
                    .checked_sub(1)
                    .ok_or(Error::InvalidState("braid epoch 0"))?;
                let (step, index, key) = chain.plan_send(new_epoch, key_epoch)?;
                (index, Some(key), Some(step))
            }
            ChainSlot::Pending(_) => {
                if sent.secret.is_some() {
                    return Err(Error::InvalidState("epoch secret before the chain started"));
                }
                (0, None, None)
            }
        };
        let payload = Payload::new(sent.epoch, index, sent.kind)?.encode();
        Ok(SendPlan {
            generation: self.generation,
            payload,
            key,
            step: Some((sent.step, chain_step)),
        })
    }

    /// Applies a send planned by this state.
    ///
    /// A plan belongs to the state that made it as it was then: applying any plan moves
    /// the state on, and every other plan made before becomes stale. (A clone counts as
    /// the same state until one of the two changes.)
    ///
    /// # Errors
    ///
    /// [`Error::StalePlan`] if `plan` was made by another state or before another plan
    /// was applied to this one; the state is then unchanged.
    pub fn apply_send(&mut self, plan: SendPlan) -> Result<()> {
        if plan.generation != self.generation {
            return Err(Error::StalePlan);
        }
        if let (Inner::V1(v1), Some((braid, chain_step))) = (&mut self.inner, plan.step) {
            v1.braid.apply_send(braid);
            if let (ChainSlot::Ready(chain), Some(step)) = (&mut v1.chain, chain_step) {
                chain.apply_send(step);
            }
        }
        self.generation = fresh_generation();
        Ok(())
    }

    /// Plans and applies one send.
    ///
    /// # Errors
    ///
    /// As [`SpqrState::plan_send`].
    pub fn send<R: CryptoRng + ?Sized>(&mut self, rng: &mut R) -> Result<Sent> {
        let mut plan = self.plan_send(rng)?;
        let sent = Sent {
            payload: plan.payload,
            key: plan.key.take(),
        };
        self.apply_send(plan)?;
        Ok(sent)
    }

    /// Plans receiving the `pq_ratchet` bytes of a message: its key and the change.
    /// Draws no randomness and changes nothing.
    ///
    /// What is accepted follows libsignal: with SPQR off every payload is ignored; a
    /// payload whose version byte is above 1 is ignored; an empty payload (or version
    /// byte 0) is [`Error::MinimumVersion`] or turns SPQR off while negotiating, and is
    /// [`Error::VersionMismatch`] after.
    ///
    /// # Errors
    ///
    /// [`Error::MalformedPayload`], [`Error::EpochOutOfRange`],
    /// [`Error::AuthenticationFailed`], [`Error::ErroneousData`],
    /// [`Error::MinimumVersion`], [`Error::VersionMismatch`],
    /// [`Error::DuplicateMessage`], [`Error::MessageKeyTrimmed`],
    /// [`Error::TooFarAhead`]. Every error means the message is refused.
    pub fn plan_recv(&self, payload: &[u8]) -> Result<RecvPlan> {
        self.plan_recv_bounded(payload, u32::MAX)
    }

    /// [`SpqrState::plan_recv`] with a tighter bound on the forward jump: a message more
    /// than `max_jump` keys ahead of its receiving chain is refused with
    /// [`Error::TooFarAhead`] before any key is derived, even if the chain's
    /// [`ChainParams`] would allow it. A Double Ratchet that tries one message on several
    /// sessions passes what is left of its per-message budget, so that a forged message
    /// cannot make each session it tries walk its chain as far as the limits allow;
    /// [`RecvPlan::chain_steps`] says how much was used.
    ///
    /// # Errors
    ///
    /// As [`SpqrState::plan_recv`].
    pub fn plan_recv_bounded(&self, payload: &[u8], max_jump: u32) -> Result<RecvPlan> {
        let nothing = || RecvPlan {
            generation: self.generation,
            key: None,
            chain_steps: 0,
            step: RecvChange::Nothing,
        };
        let Inner::V1(v1) = &self.inner else {
            return Ok(nothing());
        };
        match Incoming::of(payload) {
            Incoming::Newer => return Ok(nothing()),
            Incoming::V0 => {
                return match v1.negotiating {
                    None => Err(Error::VersionMismatch),
                    Some(min) if min > Version::V0 => Err(Error::MinimumVersion),
                    Some(_) => Ok(RecvPlan {
                        generation: self.generation,
                        key: None,
                        chain_steps: 0,
                        step: RecvChange::Downgrade,
                    }),
                };
            }
            Incoming::V1 => {}
        }
        let payload = Payload::decode(payload)?;
        let received = v1.braid.plan_recv(payload.epoch(), payload.kind())?;
        let started = match &v1.chain {
            ChainSlot::Ready(_) => None,
            ChainSlot::Pending(auth_key) => Some(Box::new(Chain::start(
                auth_key.as_bytes(),
                v1.direction,
                v1.params,
            )?)),
        };
        let chain = match (&started, &v1.chain) {
            (Some(started), _) => started,
            (None, ChainSlot::Ready(chain)) => chain,
            (None, ChainSlot::Pending(_)) => {
                return Err(Error::InvalidState("chain neither started nor pending"));
            }
        };
        let new_epoch = match &received.secret {
            Some((epoch, secret)) => Some(chain.derive_epoch(*epoch, secret)?),
            None => None,
        };
        let key_epoch = payload.epoch().saturating_sub(1);
        let (chain_step, key, chain_steps) = if key_epoch == 0 && payload.index() == 0 {
            (None, None, 0)
        } else {
            let (step, key, steps) =
                chain.plan_recv(new_epoch.as_ref(), key_epoch, payload.index(), max_jump)?;
            (Some(step), Some(key), steps)
        };
        Ok(RecvPlan {
            generation: self.generation,
            key,
            chain_steps,
            step: RecvChange::V1 {
                braid: received.step,
                started,
                new_epoch,
                chain: chain_step,
            },
        })
    }

    /// Applies a receive planned by this state (after the message authenticated). Plans
    /// belong to states as described at [`SpqrState::apply_send`].
    ///
    /// # Errors
    ///
    /// [`Error::StalePlan`] if `plan` was made by another state or before another plan
    /// was applied to this one; the state is then unchanged.
    pub fn apply_recv(&mut self, plan: RecvPlan) -> Result<()> {
        if plan.generation != self.generation {
            return Err(Error::StalePlan);
        }
        match plan.step {
            RecvChange::Nothing => {}
            RecvChange::Downgrade => self.inner = Inner::V0,
            RecvChange::V1 {
                braid,
                started,
                new_epoch,
                chain,
            } => {
                if let Inner::V1(v1) = &mut self.inner {
                    v1.negotiating = None;
                    if let Some(started) = started {
                        v1.chain = ChainSlot::Ready(*started);
                    }
                    v1.braid.apply_recv(braid);
                    if let ChainSlot::Ready(target) = &mut v1.chain {
                        target.apply_recv(new_epoch, chain);
                    }
                }
            }
        }
        self.generation = fresh_generation();
        Ok(())
    }

    /// Plans and applies receiving `payload`; returns the message's key.
    ///
    /// # Errors
    ///
    /// As [`SpqrState::plan_recv`]; the state is unchanged on error.
    pub fn recv(&mut self, payload: &[u8]) -> Result<Option<MessageKey>> {
        let mut plan = self.plan_recv(payload)?;
        let key = plan.key.take();
        self.apply_recv(plan)?;
        Ok(key)
    }
}

impl fmt::Debug for SpqrState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            inner,
            generation: _,
        } = self;
        let mut out = f.debug_struct("SpqrState");
        out.field("version", &self.version());
        if let Inner::V1(v1) = inner {
            out.field("direction", &v1.direction)
                .field("negotiating", &v1.negotiating)
                .field("braid_state", &v1.braid.state())
                .field("braid_epoch", &v1.braid.epoch())
                .field("chain_epoch", &self.chain_epoch());
        }
        out.finish_non_exhaustive()
    }
}
