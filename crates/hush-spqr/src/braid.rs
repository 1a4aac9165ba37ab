//! The ML-KEM braid: the eleven-state machine that runs one ML-KEM-768 exchange per
//! epoch over erasure-coded chunks, alternating which side sends the key.
//!
//! The encapsulation-key ("ek") side samples a key pair, sends the authenticated header,
//! then the encapsulation key once the first ciphertext starts arriving, and
//! decapsulates. The ciphertext ("ct") side waits for the header, encapsulates in two
//! parts (`ct1` from the header alone, `ct2` once the key has arrived and `ct1` has been
//! acknowledged) and MACs the ciphertext. When the ek side has verified that MAC both hold
//! the epoch secret; the ek side becomes the ct side of the next epoch and the other side
//! becomes its ek side on the first message of that epoch.
//!
//! State names are libsignal's (spqr's `v1::chunked::states`). Every step is planned on
//! `&self` into a [`BraidSend`] or [`BraidRecv`] and applied by moving fields, with no
//! check left that could fail.

use core::mem;

use rand_core::CryptoRng;

use crate::erasure::{self, Chunk, Decoder};
use crate::error::{Error, Result};
use crate::kem::{
    CT1_LEN, CT2_LEN, EK_LEN, ENCAPS_RANDOMNESS_LEN, EncapsRandomness, HEADER_LEN, KeySeed,
    SEED_LEN, ek_matches_header,
};
use crate::keys::{Authenticator, MAC_LEN, Secret32, epoch_secret};
use crate::limits::MAX_CODE_CHUNKS;
use crate::payload::PayloadKind;

/// The header and its MAC, as sent.
pub(crate) const HEADER_MESSAGE_LEN: usize = HEADER_LEN + MAC_LEN;
/// `ct2` and the ciphertext MAC, as sent.
pub(crate) const CT2_MESSAGE_LEN: usize = CT2_LEN + MAC_LEN;

/// Chunks of each braid message: 3, 36, 30 and 5.
pub(crate) const HEADER_CHUNKS: u16 = chunks(HEADER_MESSAGE_LEN);
pub(crate) const EK_CHUNKS: u16 = chunks(EK_LEN);
pub(crate) const CT1_CHUNKS: u16 = chunks(CT1_LEN);
pub(crate) const CT2_CHUNKS: u16 = chunks(CT2_MESSAGE_LEN);

#[allow(
    clippy::cast_possible_truncation,
    reason = "compile-time constants; the assertion fails the build if one did not fit"
)]
const fn chunks(len: usize) -> u16 {
    assert!(len.is_multiple_of(erasure::CHUNK_LEN) && len / erasure::CHUNK_LEN <= MAX_CODE_CHUNKS);
    (len / erasure::CHUNK_LEN) as u16
}

/// The name of a braid state, as libsignal names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BraidState {
    /// ek side: no key pair yet; the next send samples one.
    KeysUnsampled,
    /// ek side: sending header chunks.
    KeysSampled,
    /// ek side: sending key chunks, receiving `ct1`.
    HeaderSent,
    /// ek side: `ct1` received; sending key chunks that acknowledge it.
    Ct1Received,
    /// ek side: receiving `ct2`; sending acknowledgements.
    EkSentCt1Received,
    /// ct side: receiving the header.
    NoHeaderReceived,
    /// ct side: header received; the next send encapsulates.
    HeaderReceived,
    /// ct side: sending `ct1`, receiving the key.
    Ct1Sampled,
    /// ct side: key received, sending `ct1` until it is acknowledged.
    EkReceivedCt1Sampled,
    /// ct side: `ct1` acknowledged, still receiving the key.
    Ct1Acknowledged,
    /// ct side: sending `ct2` until the next epoch starts.
    Ct2Sampled,
}

impl BraidState {
    /// The state's name, e.g. `"KeysUnsampled"`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::KeysUnsampled => "KeysUnsampled",
            Self::KeysSampled => "KeysSampled",
            Self::HeaderSent => "HeaderSent",
            Self::Ct1Received => "Ct1Received",
            Self::EkSentCt1Received => "EkSentCt1Received",
            Self::NoHeaderReceived => "NoHeaderReceived",
            Self::HeaderReceived => "HeaderReceived",
            Self::Ct1Sampled => "Ct1Sampled",
            Self::EkReceivedCt1Sampled => "EkReceivedCt1Sampled",
            Self::Ct1Acknowledged => "Ct1Acknowledged",
            Self::Ct2Sampled => "Ct2Sampled",
        }
    }

    /// Whether this is an encapsulation-key-side state.
    #[must_use]
    pub const fn is_ek_side(self) -> bool {
        matches!(
            self,
            Self::KeysUnsampled
                | Self::KeysSampled
                | Self::HeaderSent
                | Self::Ct1Received
                | Self::EkSentCt1Received
        )
    }
}

impl core::fmt::Display for BraidState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// The epoch and authenticator every state has.
#[derive(Clone)]
pub(crate) struct Common {
    pub(crate) epoch: u64,
    pub(crate) auth: Authenticator,
}

/// A braid state with its data. Large public values are boxed so that moving a state
/// moves pointers.
#[derive(Clone)]
pub(crate) enum Braid {
    KeysUnsampled(Common),
    KeysSampled {
        common: Common,
        seed: KeySeed,
        header: Box<[u8; HEADER_MESSAGE_LEN]>,
        next_chunk: u16,
    },
    HeaderSent {
        common: Common,
        seed: KeySeed,
        ek: Box<[u8; EK_LEN]>,
        next_chunk: u16,
        ct1: Decoder,
    },
    Ct1Received {
        common: Common,
        seed: KeySeed,
        ek: Box<[u8; EK_LEN]>,
        next_chunk: u16,
        ct1: Box<[u8; CT1_LEN]>,
    },
    EkSentCt1Received {
        common: Common,
        seed: KeySeed,
        ct1: Box<[u8; CT1_LEN]>,
        ct2: Decoder,
    },
    NoHeaderReceived {
        common: Common,
        header: Decoder,
    },
    HeaderReceived {
        common: Common,
        header: Box<[u8; HEADER_LEN]>,
    },
    Ct1Sampled {
        common: Common,
        header: Box<[u8; HEADER_LEN]>,
        randomness: EncapsRandomness,
        ct1: Box<[u8; CT1_LEN]>,
        next_chunk: u16,
        ek: Decoder,
    },
    EkReceivedCt1Sampled {
        common: Common,
        ct1: Box<[u8; CT1_LEN]>,
        next_chunk: u16,
        ct2: Box<[u8; CT2_MESSAGE_LEN]>,
    },
    Ct1Acknowledged {
        common: Common,
        header: Box<[u8; HEADER_LEN]>,
        randomness: EncapsRandomness,
        ct1: Box<[u8; CT1_LEN]>,
        ek: Decoder,
    },
    Ct2Sampled {
        common: Common,
        ct2: Box<[u8; CT2_MESSAGE_LEN]>,
        next_chunk: u16,
    },
}

/// The change a send makes to the braid.
pub(crate) enum BraidSend {
    /// Nothing changes (a `None` or `Ct1Ack` message).
    Nothing,
    /// The sending encoder moves to its next chunk.
    NextChunk,
    /// KeysUnsampled -> KeysSampled.
    Sampled {
        seed: KeySeed,
        header: Box<[u8; HEADER_MESSAGE_LEN]>,
    },
    /// HeaderReceived -> Ct1Sampled.
    Encapsulated {
        auth: Authenticator,
        randomness: EncapsRandomness,
        ct1: Box<[u8; CT1_LEN]>,
    },
}

/// The change a receive makes to the braid.
pub(crate) enum BraidRecv {
    /// Nothing changes.
    Nothing,
    /// The state's decoder takes the chunk.
    AddChunk(Chunk),
    /// KeysSampled -> HeaderSent, with the first `ct1` chunk.
    Ct1Started { chunk: Chunk, ek: Box<[u8; EK_LEN]> },
    /// HeaderSent -> Ct1Received.
    Ct1Complete(Box<[u8; CT1_LEN]>),
    /// Ct1Received -> EkSentCt1Received, with the first `ct2` chunk.
    Ct2Started(Chunk),
    /// EkSentCt1Received -> NoHeaderReceived of the next epoch.
    Ct2Complete(Authenticator),
    /// NoHeaderReceived -> HeaderReceived.
    HeaderComplete(Box<[u8; HEADER_LEN]>),
    /// Ct1Sampled -> Ct1Acknowledged, the chunk added.
    Acknowledged(Chunk),
    /// Ct1Sampled -> EkReceivedCt1Sampled (not acknowledged yet) or -> Ct2Sampled, or
    /// Ct1Acknowledged -> Ct2Sampled: the key is complete and `ct2` computed.
    EkComplete {
        ct2: Box<[u8; CT2_MESSAGE_LEN]>,
        acknowledged: bool,
    },
    /// EkReceivedCt1Sampled -> Ct2Sampled.
    AckReceived,
    /// Ct2Sampled -> KeysUnsampled of the next epoch.
    NextEpoch,
}

/// What a braid send produces.
pub(crate) struct Sent {
    pub(crate) epoch: u64,
    pub(crate) kind: PayloadKind,
    /// The epoch secret, when this send completed the ct side's encapsulation.
    pub(crate) secret: Option<(u64, Secret32)>,
    pub(crate) step: BraidSend,
}

/// What a braid receive produces.
pub(crate) struct Received {
    /// The epoch secret, when this message completed the ek side's decapsulation.
    pub(crate) secret: Option<(u64, Secret32)>,
    pub(crate) step: BraidRecv,
}

fn chunk_of<const N: usize>(message: &[u8; N], index: u16) -> Chunk {
    Chunk::new(
        index,
        erasure::chunk_at(message, N / erasure::CHUNK_LEN, index),
    )
}

fn header_message(header: &[u8; HEADER_LEN], mac: &[u8; MAC_LEN]) -> Box<[u8; HEADER_MESSAGE_LEN]> {
    let mut out = Box::new([0u8; HEADER_MESSAGE_LEN]);
    let (h, m) = out.split_at_mut(HEADER_LEN);
    h.copy_from_slice(header);
    m.copy_from_slice(mac);
    out
}

/// Splits a decoded message of `A + B` bytes into its two parts.
fn split<const A: usize, const B: usize>(message: &[u8]) -> Option<([u8; A], [u8; B])> {
    let (a, b) = message.split_at_checked(A)?;
    Some((a.try_into().ok()?, b.try_into().ok()?))
}

impl Braid {
    /// The encapsulation-key side of epoch 1 (the initiator's start).
    pub(crate) fn ek_side(auth_key: &[u8; 32]) -> Result<Self> {
        Ok(Self::KeysUnsampled(Common {
            epoch: 1,
            auth: Authenticator::new(auth_key)?,
        }))
    }

    /// The ciphertext side of epoch 1 (the responder's start).
    pub(crate) fn ct_side(auth_key: &[u8; 32]) -> Result<Self> {
        Ok(Self::NoHeaderReceived {
            common: Common {
                epoch: 1,
                auth: Authenticator::new(auth_key)?,
            },
            header: Decoder::for_chunks(HEADER_CHUNKS),
        })
    }

    pub(crate) const fn common(&self) -> &Common {
        match self {
            Self::KeysUnsampled(common)
            | Self::KeysSampled { common, .. }
            | Self::HeaderSent { common, .. }
            | Self::Ct1Received { common, .. }
            | Self::EkSentCt1Received { common, .. }
            | Self::NoHeaderReceived { common, .. }
            | Self::HeaderReceived { common, .. }
            | Self::Ct1Sampled { common, .. }
            | Self::EkReceivedCt1Sampled { common, .. }
            | Self::Ct1Acknowledged { common, .. }
            | Self::Ct2Sampled { common, .. } => common,
        }
    }

    pub(crate) const fn epoch(&self) -> u64 {
        self.common().epoch
    }

    pub(crate) const fn state(&self) -> BraidState {
        match self {
            Self::KeysUnsampled(_) => BraidState::KeysUnsampled,
            Self::KeysSampled { .. } => BraidState::KeysSampled,
            Self::HeaderSent { .. } => BraidState::HeaderSent,
            Self::Ct1Received { .. } => BraidState::Ct1Received,
            Self::EkSentCt1Received { .. } => BraidState::EkSentCt1Received,
            Self::NoHeaderReceived { .. } => BraidState::NoHeaderReceived,
            Self::HeaderReceived { .. } => BraidState::HeaderReceived,
            Self::Ct1Sampled { .. } => BraidState::Ct1Sampled,
            Self::EkReceivedCt1Sampled { .. } => BraidState::EkReceivedCt1Sampled,
            Self::Ct1Acknowledged { .. } => BraidState::Ct1Acknowledged,
            Self::Ct2Sampled { .. } => BraidState::Ct2Sampled,
        }
    }

    /// Plans the braid part of one send. Draws 64 bytes in KeysUnsampled (the key pair's
    /// seed) and 32 in HeaderReceived (the encapsulation randomness); nothing otherwise.
    pub(crate) fn plan_send<R: CryptoRng + ?Sized>(&self, rng: &mut R) -> Result<Sent> {
        let epoch = self.epoch();
        let (kind, secret, step) = match self {
            Self::KeysUnsampled(common) => {
                let mut bytes = [0u8; SEED_LEN];
                rng.fill_bytes(&mut bytes);
                let seed = KeySeed::from_bytes(bytes);
                zeroize::Zeroize::zeroize(&mut bytes);
                let header = seed.key_pair().header();
                let mac = common.auth.header_mac(epoch, &header);
                let header = header_message(&header, &mac);
                let kind = PayloadKind::Hdr(chunk_of(&header, 0));
                (kind, None, BraidSend::Sampled { seed, header })
            }
            Self::KeysSampled {
                header, next_chunk, ..
            } => (
                PayloadKind::Hdr(chunk_of(header, *next_chunk)),
                None,
                BraidSend::NextChunk,
            ),
            Self::HeaderSent { ek, next_chunk, .. } => (
                PayloadKind::Ek(chunk_of(ek, *next_chunk)),
                None,
                BraidSend::NextChunk,
            ),
            Self::Ct1Received { ek, next_chunk, .. } => (
                PayloadKind::EkCt1Ack(chunk_of(ek, *next_chunk)),
                None,
                BraidSend::NextChunk,
            ),
            Self::EkSentCt1Received { .. } => (PayloadKind::Ct1Ack, None, BraidSend::Nothing),
            Self::NoHeaderReceived { .. } | Self::Ct1Acknowledged { .. } => {
                (PayloadKind::None, None, BraidSend::Nothing)
            }
            Self::HeaderReceived { common, header } => {
                let mut bytes = [0u8; ENCAPS_RANDOMNESS_LEN];
                rng.fill_bytes(&mut bytes);
                let randomness = EncapsRandomness::from_bytes(bytes);
                zeroize::Zeroize::zeroize(&mut bytes);
                let encapsulation = randomness.encapsulate1(header)?;
                let secret = epoch_secret(&encapsulation.shared, epoch)?;
                let auth = common.auth.updated(epoch, secret.as_bytes())?;
                let kind = PayloadKind::Ct1(chunk_of(&encapsulation.ct1, 0));
                let step = BraidSend::Encapsulated {
                    auth,
                    randomness,
                    ct1: encapsulation.ct1,
                };
                (kind, Some((epoch, secret)), step)
            }
            Self::Ct1Sampled {
                ct1, next_chunk, ..
            }
            | Self::EkReceivedCt1Sampled {
                ct1, next_chunk, ..
            } => (
                PayloadKind::Ct1(chunk_of(ct1, *next_chunk)),
                None,
                BraidSend::NextChunk,
            ),
            Self::Ct2Sampled {
                ct2, next_chunk, ..
            } => (
                PayloadKind::Ct2(chunk_of(ct2, *next_chunk)),
                None,
                BraidSend::NextChunk,
            ),
        };
        Ok(Sent {
            epoch,
            kind,
            secret,
            step,
        })
    }

    pub(crate) fn apply_send(&mut self, step: BraidSend) {
        match step {
            BraidSend::Nothing => {}
            BraidSend::NextChunk => match self {
                Self::KeysSampled { next_chunk, .. }
                | Self::HeaderSent { next_chunk, .. }
                | Self::Ct1Received { next_chunk, .. }
                | Self::Ct1Sampled { next_chunk, .. }
                | Self::EkReceivedCt1Sampled { next_chunk, .. }
                | Self::Ct2Sampled { next_chunk, .. } => {
                    // libsignal's encoder counts in u32 and sends the low 16 bits.
                    *next_chunk = next_chunk.wrapping_add(1);
                }
                _ => {}
            },
            BraidSend::Sampled { seed, header } => {
                if let Self::KeysUnsampled(common) = self {
                    let common = common.clone();
                    *self = Self::KeysSampled {
                        common,
                        seed,
                        header,
                        next_chunk: 1,
                    };
                }
            }
            BraidSend::Encapsulated {
                auth,
                randomness,
                ct1,
            } => {
                if let Self::HeaderReceived { common, header } = self {
                    let epoch = common.epoch;
                    let header = mem::replace(header, Box::new([0; HEADER_LEN]));
                    *self = Self::Ct1Sampled {
                        common: Common { epoch, auth },
                        header,
                        randomness,
                        ct1,
                        next_chunk: 1,
                        ek: Decoder::for_chunks(EK_CHUNKS),
                    };
                }
            }
        }
    }

    /// Plans the braid part of receiving a payload of SCKA epoch `epoch` carrying `kind`.
    pub(crate) fn plan_recv(&self, epoch: u64, kind: &PayloadKind) -> Result<Received> {
        let own = self.epoch();
        if epoch > own {
            if matches!(self, Self::Ct2Sampled { .. }) && Some(epoch) == own.checked_add(1) {
                return Ok(Received {
                    secret: None,
                    step: BraidRecv::NextEpoch,
                });
            }
            return Err(Error::EpochOutOfRange { epoch });
        }
        let nothing = Received {
            secret: None,
            step: BraidRecv::Nothing,
        };
        if epoch < own {
            return Ok(nothing);
        }
        let step = match (self, kind) {
            (Self::KeysSampled { seed, .. }, PayloadKind::Ct1(chunk)) => BraidRecv::Ct1Started {
                chunk: *chunk,
                ek: seed.key_pair().encapsulation_key(),
            },
            (Self::HeaderSent { ct1, .. }, PayloadKind::Ct1(chunk)) => match ct1.decode_with(chunk)
            {
                Some(message) => BraidRecv::Ct1Complete(Box::new(
                    message
                        .try_into()
                        .map_err(|_| Error::InvalidState("ct1 length"))?,
                )),
                None => BraidRecv::AddChunk(*chunk),
            },
            (Self::Ct1Received { .. }, PayloadKind::Ct2(chunk)) => BraidRecv::Ct2Started(*chunk),
            (
                Self::EkSentCt1Received {
                    common,
                    seed,
                    ct1,
                    ct2,
                    ..
                },
                PayloadKind::Ct2(chunk),
            ) => match ct2.decode_with(chunk) {
                Some(message) => return finish_decapsulation(common, seed, ct1, &message),
                None => BraidRecv::AddChunk(*chunk),
            },
            (Self::NoHeaderReceived { common, header }, PayloadKind::Hdr(chunk)) => {
                match header.decode_with(chunk) {
                    Some(message) => {
                        let (header, mac) = split::<HEADER_LEN, MAC_LEN>(&message)
                            .ok_or(Error::InvalidState("header length"))?;
                        common.auth.verify_header(epoch, &header, &mac)?;
                        BraidRecv::HeaderComplete(Box::new(header))
                    }
                    None => BraidRecv::AddChunk(*chunk),
                }
            }
            (
                Self::Ct1Sampled {
                    common,
                    header,
                    randomness,
                    ct1,
                    ek,
                    ..
                },
                PayloadKind::Ek(chunk) | PayloadKind::EkCt1Ack(chunk),
            ) => {
                let acknowledged = matches!(kind, PayloadKind::EkCt1Ack(_));
                match ek.decode_with(chunk) {
                    Some(key) => BraidRecv::EkComplete {
                        ct2: second_ciphertext(common, header, randomness, ct1, &key)?,
                        acknowledged,
                    },
                    None if acknowledged => BraidRecv::Acknowledged(*chunk),
                    None => BraidRecv::AddChunk(*chunk),
                }
            }
            (Self::EkReceivedCt1Sampled { .. }, PayloadKind::Ct1Ack | PayloadKind::EkCt1Ack(_)) => {
                BraidRecv::AckReceived
            }
            (
                Self::Ct1Acknowledged {
                    common,
                    header,
                    randomness,
                    ct1,
                    ek,
                },
                PayloadKind::Ek(chunk) | PayloadKind::EkCt1Ack(chunk),
            ) => match ek.decode_with(chunk) {
                Some(key) => BraidRecv::EkComplete {
                    ct2: second_ciphertext(common, header, randomness, ct1, &key)?,
                    acknowledged: true,
                },
                None => BraidRecv::AddChunk(*chunk),
            },
            _ => BraidRecv::Nothing,
        };
        Ok(Received { secret: None, step })
    }

    pub(crate) fn apply_recv(&mut self, step: BraidRecv) {
        // The common steps change the state in place.
        let step = match step {
            BraidRecv::Nothing => return,
            BraidRecv::AddChunk(chunk) => {
                match self {
                    Self::HeaderSent { ct1: decoder, .. }
                    | Self::EkSentCt1Received { ct2: decoder, .. }
                    | Self::NoHeaderReceived {
                        header: decoder, ..
                    }
                    | Self::Ct1Sampled { ek: decoder, .. }
                    | Self::Ct1Acknowledged { ek: decoder, .. } => {
                        decoder.add(&chunk);
                    }
                    _ => {}
                }
                return;
            }
            transition => transition,
        };
        // A transition moves the old state's fields into the new one.
        let placeholder = Self::KeysUnsampled(Common {
            epoch: 0,
            auth: Authenticator::from_parts(
                Secret32::from_bytes([0; 32]),
                Secret32::from_bytes([0; 32]),
            ),
        });
        let old = mem::replace(self, placeholder);
        *self = match (old, step) {
            (Self::KeysSampled { common, seed, .. }, BraidRecv::Ct1Started { chunk, ek }) => {
                let mut ct1 = Decoder::for_chunks(CT1_CHUNKS);
                ct1.add(&chunk);
                Self::HeaderSent {
                    common,
                    seed,
                    ek,
                    next_chunk: 0,
                    ct1,
                }
            }
            (
                Self::HeaderSent {
                    common,
                    seed,
                    ek,
                    next_chunk,
                    ..
                },
                BraidRecv::Ct1Complete(ct1),
            ) => Self::Ct1Received {
                common,
                seed,
                ek,
                next_chunk,
                ct1,
            },
            (
                Self::Ct1Received {
                    common, seed, ct1, ..
                },
                BraidRecv::Ct2Started(chunk),
            ) => {
                let mut ct2 = Decoder::for_chunks(CT2_CHUNKS);
                ct2.add(&chunk);
                Self::EkSentCt1Received {
                    common,
                    seed,
                    ct1,
                    ct2,
                }
            }
            (Self::EkSentCt1Received { common, .. }, BraidRecv::Ct2Complete(auth)) => {
                Self::NoHeaderReceived {
                    common: Common {
                        epoch: common.epoch.saturating_add(1),
                        auth,
                    },
                    header: Decoder::for_chunks(HEADER_CHUNKS),
                }
            }
            (Self::NoHeaderReceived { common, .. }, BraidRecv::HeaderComplete(header)) => {
                Self::HeaderReceived { common, header }
            }
            (
                Self::Ct1Sampled {
                    common,
                    header,
                    randomness,
                    ct1,
                    mut ek,
                    ..
                },
                BraidRecv::Acknowledged(chunk),
            ) => {
                ek.add(&chunk);
                Self::Ct1Acknowledged {
                    common,
                    header,
                    randomness,
                    ct1,
                    ek,
                }
            }
            (
                Self::Ct1Sampled {
                    common,
                    ct1,
                    next_chunk,
                    ..
                },
                BraidRecv::EkComplete {
                    ct2,
                    acknowledged: false,
                },
            ) => Self::EkReceivedCt1Sampled {
                common,
                ct1,
                next_chunk,
                ct2,
            },
            (
                Self::Ct1Sampled { common, .. } | Self::Ct1Acknowledged { common, .. },
                BraidRecv::EkComplete { ct2, .. },
            )
            | (Self::EkReceivedCt1Sampled { common, ct2, .. }, BraidRecv::AckReceived) => {
                Self::Ct2Sampled {
                    common,
                    ct2,
                    next_chunk: 0,
                }
            }
            (Self::Ct2Sampled { common, .. }, BraidRecv::NextEpoch) => {
                Self::KeysUnsampled(Common {
                    epoch: common.epoch.saturating_add(1),
                    auth: common.auth,
                })
            }
            // A step planned for another state; the state machine planned it from this
            // one, so this does not happen. Keep the state as it was.
            (old, _) => old,
        };
    }
}

/// The ek side's last step: decapsulate, derive the epoch secret, update the
/// authenticator and check the ciphertext MAC with it.
fn finish_decapsulation(
    common: &Common,
    seed: &KeySeed,
    ct1: &[u8; CT1_LEN],
    message: &[u8],
) -> Result<Received> {
    let (ct2, mac) = split::<CT2_LEN, MAC_LEN>(message).ok_or(Error::InvalidState("ct2 length"))?;
    let shared = seed.key_pair().decapsulate(ct1, &ct2);
    let secret = epoch_secret(&shared, common.epoch)?;
    let auth = common.auth.updated(common.epoch, secret.as_bytes())?;
    auth.verify_ciphertext(common.epoch, ct1, &ct2, &mac)?;
    Ok(Received {
        secret: Some((common.epoch, secret)),
        step: BraidRecv::Ct2Complete(auth),
    })
}

/// The ct side's `ct2 ‖ MAC` once the encapsulation key is complete: the key must match
/// the header; `encapsulate1` is rerun from its randomness to get the state `ct2` needs.
fn second_ciphertext(
    common: &Common,
    header: &[u8; HEADER_LEN],
    randomness: &EncapsRandomness,
    ct1: &[u8; CT1_LEN],
    key: &[u8],
) -> Result<Box<[u8; CT2_MESSAGE_LEN]>> {
    let ek: &[u8; EK_LEN] = key
        .try_into()
        .map_err(|_| Error::InvalidState("key length"))?;
    if !ek_matches_header(ek, header) {
        return Err(Error::ErroneousData);
    }
    let encapsulation = randomness.encapsulate1(header)?;
    if *encapsulation.ct1 != *ct1 {
        return Err(Error::InvalidState("ct1 does not match its randomness"));
    }
    let ct2 = encapsulation.encapsulate2(ek);
    let mac = common.auth.ciphertext_mac(common.epoch, ct1, &ct2);
    let mut out = Box::new([0u8; CT2_MESSAGE_LEN]);
    let (c, m) = out.split_at_mut(CT2_LEN);
    c.copy_from_slice(&ct2);
    m.copy_from_slice(&mac);
    Ok(out)
}
