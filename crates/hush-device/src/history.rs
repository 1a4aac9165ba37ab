//! The history hand-off: the primary sends recent history to a new companion as a
//! `hush-backup` encrypted stream, under a key agreed during linking and bound to that
//! linking's transcript.

use core::fmt;
use std::io::{Read, Write};

use hush_backup::{BackupKey, Decryptor, Encryptor};
use hush_core::rng::CryptoRng;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Error, Result};

pub use hush_backup::{Progress, StreamSummary};

/// The 32-byte key of the history hand-off, derived during linking. Wiped on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct HistoryKey(pub(crate) [u8; 32]);

impl HistoryKey {
    /// The key bytes, wiped when dropped.
    #[must_use]
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0)
    }
}

impl PartialEq for HistoryKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for HistoryKey {}

impl fmt::Debug for HistoryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HistoryKey").finish_non_exhaustive()
    }
}

/// A 32-byte hash of one linking's transcript (offer and linking message). Both sides
/// compute the same value; the history stream is bound to it. Not secret.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct TranscriptHash(pub(crate) [u8; 32]);

impl TranscriptHash {
    /// The 32 bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Everything one side needs for the history hand-off of one linking.
#[derive(Clone, PartialEq, Eq)]
pub struct HistoryHandOff {
    key: HistoryKey,
    transcript: TranscriptHash,
}

impl HistoryHandOff {
    pub(crate) const fn new(key: HistoryKey, transcript: TranscriptHash) -> Self {
        Self { key, transcript }
    }

    /// The hand-off key.
    #[must_use]
    pub const fn key(&self) -> &HistoryKey {
        &self.key
    }

    /// The linking transcript hash the stream is bound to.
    #[must_use]
    pub const fn transcript_hash(&self) -> &TranscriptHash {
        &self.transcript
    }

    fn backup_key(&self) -> BackupKey {
        BackupKey::from_bytes(*self.key.to_bytes())
    }

    /// Primary side: encrypts the history `reader` yields into `writer` as a
    /// `hush-backup` stream under the hand-off key, with the transcript hash as the
    /// stream context. `total_len` (plaintext bytes, if known) is passed on to
    /// `progress`, which is called after each chunk.
    ///
    /// # Errors
    ///
    /// [`Error::HistoryStream`] with the stream's error (I/O, stream too long).
    pub fn send<Rng, R, W>(
        &self,
        rng: &mut Rng,
        reader: R,
        writer: W,
        total_len: Option<u64>,
        progress: impl FnMut(Progress),
    ) -> Result<StreamSummary>
    where
        Rng: CryptoRng + ?Sized,
        R: Read,
        W: Write,
    {
        let key = self.backup_key();
        let mut encryptor = Encryptor::new(&key)
            .context(&self.transcript.0)
            .progress(progress);
        if let Some(total) = total_len {
            encryptor = encryptor.total_len(total);
        }
        encryptor
            .encrypt(rng, reader, writer)
            .map_err(Error::HistoryStream)
    }

    /// Companion side: decrypts a history stream from `reader` into `writer`. A stream
    /// made for another linking (another key or transcript) fails before any
    /// plaintext is written. `total_len` (stream bytes, if known) is passed on to
    /// `progress`, which is called after each chunk.
    ///
    /// # Errors
    ///
    /// [`Error::HistoryStream`] with the stream's error: `WrongKey` or
    /// `HeaderAuthentication` for a stream from another linking, `CorruptedChunk`,
    /// `Truncated`, `TrailingData`, I/O errors. On error `writer` may hold chunks that
    /// authenticated before the failure: discard them.
    pub fn receive<R, W>(
        &self,
        reader: R,
        writer: W,
        total_len: Option<u64>,
        progress: impl FnMut(Progress),
    ) -> Result<StreamSummary>
    where
        R: Read,
        W: Write,
    {
        let key = self.backup_key();
        let mut decryptor = Decryptor::new(&key)
            .context(&self.transcript.0)
            .progress(progress);
        if let Some(total) = total_len {
            decryptor = decryptor.total_len(total);
        }
        decryptor
            .decrypt(reader, writer)
            .map_err(Error::HistoryStream)
    }
}

impl fmt::Debug for HistoryHandOff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { key: _, transcript } = self;
        f.debug_struct("HistoryHandOff")
            .field("transcript", transcript)
            .finish_non_exhaustive()
    }
}
