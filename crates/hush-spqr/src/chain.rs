//! SPQR's symmetric chain: per chain epoch, a sending and a receiving KDF chain, started
//! from the auth key (epoch 0) and from each epoch secret the braid produces.
//!
//! Chain epoch `e` serves messages whose payload names SCKA epoch `e + 1`. A state keeps
//! the epoch before its sending epoch (so late messages of the previous epoch still get
//! their keys), the sending epoch, and the one epoch it may already have created ahead
//! of it: at most [`MAX_CHAIN_EPOCHS`] links, as libsignal.
//!
//! Receiving keeps the keys of skipped messages: a key of index `i` stays available while
//! `i + max_ooo_keys >= counter` (the counter of the newest key derived) and until it is
//! used. That is libsignal's rule; libsignal trims its store lazily and hush eagerly, which
//! changes what is stored but not which messages are accepted.
//!
//! Every operation is planned on `&self` (returning a step) and applied on `&mut self`
//! with no check left that could fail.

use std::collections::VecDeque;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::config::{ChainParams, Direction};
use crate::error::{Error, Result};
use crate::keys::{KEY_LEN, MessageKey, Secret32, chain_add_epoch, chain_next, chain_start};
use crate::limits::MAX_CHAIN_EPOCHS;

/// A key kept for a message that has not arrived yet.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct StoredKey {
    pub(crate) index: u32,
    pub(crate) key: [u8; KEY_LEN],
}

/// The sending half of one epoch: the counter of the last key handed out and the seed of
/// the next.
#[derive(Clone)]
pub(crate) struct SendHalf {
    pub(crate) counter: u32,
    pub(crate) seed: Secret32,
}

/// The receiving half of one epoch: counter of the newest key derived, the seed after
/// it, and the keys of skipped indices still kept (increasing index).
#[derive(Clone)]
pub(crate) struct RecvHalf {
    pub(crate) counter: u32,
    pub(crate) seed: Secret32,
    pub(crate) stored: VecDeque<StoredKey>,
}

/// One chain epoch. `send` is `None` once the sending epoch moved past it.
#[derive(Clone)]
pub(crate) struct Link {
    pub(crate) send: Option<SendHalf>,
    pub(crate) recv: RecvHalf,
}

impl Link {
    fn new(direction: Direction, a2b: Secret32, b2a: Secret32) -> Self {
        let (send, recv) = match direction {
            Direction::A2B => (a2b, b2a),
            Direction::B2A => (b2a, a2b),
        };
        Self {
            send: Some(SendHalf {
                counter: 0,
                seed: send,
            }),
            recv: RecvHalf {
                counter: 0,
                seed: recv,
                stored: VecDeque::new(),
            },
        }
    }
}

/// The chain of one state.
#[derive(Clone)]
pub(crate) struct Chain {
    pub(crate) direction: Direction,
    pub(crate) params: ChainParams,
    /// The newest epoch (of the last link).
    pub(crate) current_epoch: u64,
    /// The epoch the last message was sent in.
    pub(crate) send_epoch: u64,
    /// The root the next epoch is derived from.
    pub(crate) next_root: Secret32,
    /// Epochs `current_epoch - len + 1 ..= current_epoch`, oldest first.
    pub(crate) links: VecDeque<Link>,
}

/// A new epoch, derived but not yet added.
pub(crate) struct NewEpoch {
    epoch: u64,
    next_root: Secret32,
    link: Link,
}

/// The change one send makes.
pub(crate) struct SendStep {
    new_epoch: Option<NewEpoch>,
    send_epoch: u64,
    /// Links to drop from the front (after adding the new epoch).
    drop_front: usize,
    /// The sending link, counted after the drop.
    link: usize,
    half: SendHalf,
}

/// The change one receive makes to the chain.
pub(crate) enum RecvStep {
    /// A stored key was used: remove it.
    Take { link: usize, position: usize },
    /// The receiving chain moved forward to `counter`, keeping `skipped`.
    Advance {
        link: usize,
        counter: u32,
        seed: Secret32,
        skipped: Vec<StoredKey>,
    },
}

impl Chain {
    /// Epoch 0, from the auth key.
    pub(crate) fn start(
        auth_key: &[u8; KEY_LEN],
        direction: Direction,
        params: ChainParams,
    ) -> Result<Self> {
        let (next_root, a2b, b2a) = chain_start(auth_key)?;
        let mut links = VecDeque::with_capacity(MAX_CHAIN_EPOCHS);
        links.push_back(Link::new(direction, a2b, b2a));
        Ok(Self {
            direction,
            params,
            current_epoch: 0,
            send_epoch: 0,
            next_root,
            links,
        })
    }

    /// Derives epoch `epoch` (which must be the next one) from its secret.
    pub(crate) fn derive_epoch(&self, epoch: u64, secret: &Secret32) -> Result<NewEpoch> {
        if Some(epoch) != self.current_epoch.checked_add(1) {
            return Err(Error::InvalidState("epoch secret out of order"));
        }
        let (next_root, a2b, b2a) = chain_add_epoch(&self.next_root, secret)?;
        Ok(NewEpoch {
            epoch,
            next_root,
            link: Link::new(self.direction, a2b, b2a),
        })
    }

    /// The index of `epoch` among the links, counting `extra` links after the stored
    /// ones with the newest epoch `current`.
    fn position(&self, epoch: u64, current: u64, extra: usize) -> Result<usize> {
        let count = self.links.len().saturating_add(extra);
        let back = current
            .checked_sub(epoch)
            .and_then(|back| usize::try_from(back).ok())
            .filter(|&back| back < count)
            .ok_or(Error::EpochOutOfRange { epoch })?;
        Ok(count - 1 - back)
    }

    /// The key for the next message in `epoch`, after adding `new_epoch` if given.
    pub(crate) fn plan_send(
        &self,
        new_epoch: Option<NewEpoch>,
        epoch: u64,
    ) -> Result<(SendStep, u32, MessageKey)> {
        if epoch < self.send_epoch {
            return Err(Error::InvalidState("send epoch went back"));
        }
        let (current, extra) = match &new_epoch {
            Some(new) => (new.epoch, 1),
            None => (self.current_epoch, 0),
        };
        let position = self.position(epoch, current, extra)?;
        let half = match self.links.get(position) {
            Some(link) => link.send.as_ref(),
            None => new_epoch.as_ref().and_then(|new| new.link.send.as_ref()),
        }
        .ok_or(Error::InvalidState("sending chain already cleared"))?;
        let counter = half.counter.checked_add(1).ok_or(Error::ChainExhausted)?;
        let (seed, key) = chain_next(&half.seed, counter)?;
        // Moving to a new sending epoch keeps only the epoch before it.
        let drop_front = if epoch == self.send_epoch {
            0
        } else {
            position.saturating_sub(1)
        };
        Ok((
            SendStep {
                new_epoch,
                send_epoch: epoch,
                drop_front,
                link: position - drop_front,
                half: SendHalf { counter, seed },
            },
            counter,
            key,
        ))
    }

    pub(crate) fn apply_send(&mut self, step: SendStep) {
        let SendStep {
            new_epoch,
            send_epoch,
            drop_front,
            link,
            half,
        } = step;
        if let Some(new) = new_epoch {
            self.add(new);
        }
        for _ in 0..drop_front {
            self.links.pop_front();
        }
        for older in self.links.iter_mut().take(link) {
            older.send = None;
        }
        if let Some(target) = self.links.get_mut(link) {
            target.send = Some(half);
        }
        self.send_epoch = send_epoch;
    }

    fn add(&mut self, new: NewEpoch) {
        let NewEpoch {
            epoch,
            next_root,
            link,
        } = new;
        self.current_epoch = epoch;
        self.next_root = next_root;
        self.links.push_back(link);
    }

    /// The key of message `index` in `epoch`, after adding `new_epoch` if given, and how
    /// many chain steps planning it took. A forward jump over `max_jump` (or over the
    /// chain's own limit) is refused before any step.
    pub(crate) fn plan_recv(
        &self,
        new_epoch: Option<&NewEpoch>,
        epoch: u64,
        index: u32,
        max_jump: u32,
    ) -> Result<(RecvStep, MessageKey, u32)> {
        let (current, extra) = match new_epoch {
            Some(new) => (new.epoch, 1),
            None => (self.current_epoch, 0),
        };
        let link = self.position(epoch, current, extra)?;
        let half = match self.links.get(link) {
            Some(stored) => &stored.recv,
            None => match new_epoch {
                Some(new) => &new.link.recv,
                None => return Err(Error::EpochOutOfRange { epoch }),
            },
        };
        let max_ooo = u64::from(self.params.max_ooo_keys());
        if index > half.counter {
            let jump = index - half.counter;
            if jump > self.params.max_jump().min(max_jump) {
                return Err(Error::TooFarAhead { index, jump });
            }
            // Keys of skipped indices below this one would be discarded at once.
            let keep_from = u64::from(index).saturating_sub(max_ooo);
            let mut skipped = Vec::new();
            let mut seed = half.seed.clone();
            let mut counter = half.counter;
            while counter < index - 1 {
                counter += 1;
                let (next, key) = chain_next(&seed, counter)?;
                seed = next;
                if u64::from(counter) >= keep_from {
                    skipped.push(StoredKey {
                        index: counter,
                        key: *key.as_bytes(),
                    });
                }
            }
            let (seed, key) = chain_next(&seed, index)?;
            return Ok((
                RecvStep::Advance {
                    link,
                    counter: index,
                    seed,
                    skipped,
                },
                key,
                jump,
            ));
        }
        if index == half.counter {
            return Err(Error::DuplicateMessage { epoch, index });
        }
        if u64::from(index) + max_ooo < u64::from(half.counter) {
            return Err(Error::MessageKeyTrimmed { epoch, index });
        }
        let position = half
            .stored
            .binary_search_by_key(&index, |stored| stored.index)
            .map_err(|_| Error::DuplicateMessage { epoch, index })?;
        let key = half
            .stored
            .get(position)
            .map(|stored| MessageKey::from_slice(&stored.key))
            .ok_or(Error::DuplicateMessage { epoch, index })?;
        Ok((RecvStep::Take { link, position }, key, 0))
    }

    /// Applies a receive step, after adding `new_epoch` if given.
    pub(crate) fn apply_recv(&mut self, new_epoch: Option<NewEpoch>, step: Option<RecvStep>) {
        if let Some(new) = new_epoch {
            self.add(new);
        }
        let max_ooo = self.params.max_ooo_keys();
        let Some(step) = step else { return };
        match step {
            RecvStep::Take { link, position } => {
                if let Some(link) = self.links.get_mut(link) {
                    link.recv.stored.remove(position);
                }
            }
            RecvStep::Advance {
                link,
                counter,
                seed,
                skipped,
            } => {
                if let Some(link) = self.links.get_mut(link) {
                    let half = &mut link.recv;
                    half.counter = counter;
                    half.seed = seed;
                    half.stored.extend(skipped);
                    let horizon = counter.saturating_sub(max_ooo);
                    while half.stored.front().is_some_and(|key| key.index < horizon) {
                        half.stored.pop_front();
                    }
                }
            }
        }
    }
}
