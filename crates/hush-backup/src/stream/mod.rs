//! The encrypted backup stream: a header, then chunks sealed with AES-256-GCM in the
//! STREAM construction (Hoang, Reyhanitabar, Rogaway and Vizár, "Online
//! Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance", CRYPTO 2015).
//!
//! Layout, derivations and every failure are specified in `docs/wire/backup.md`. In short:
//!
//! ```text
//! header (93 bytes):
//!   magic "HUSHBAK\0" (8) | version 1 (1) | backup id (16) | salt (32)
//!   | chunk size (u32 BE) | header tag (32)
//! then chunks:  AES-256-GCM(chunk i) || tag (16)
//! ```
//!
//! Every chunk but the last holds exactly `chunk size` plaintext bytes; the last holds
//! fewer (possibly none), which is how a reader knows it is last. The chunk nonce is
//! `prefix (7) || i (u32 BE) || last flag (1)`.
//!
//! Two layers: the sans-IO core ([`StreamHeader`], [`ChunkSealer`], [`ChunkOpener`]) for
//! code that moves bytes itself, and the [`std::io`] adapters ([`Encryptor`],
//! [`Decryptor`], [`BackupWriter`], [`BackupReader`]) built on it.

mod io;

pub use io::{BackupReader, BackupWriter, Decryptor, Encryptor, Progress, StreamSummary};

use hush_core::cipher::{AES_256_KEY_LENGTH, Aes256GcmKey, GCM_NONCE_LENGTH, GCM_TAG_LENGTH};
use hush_core::kdf::{HmacSha256Key, MAC_LENGTH, hkdf_sha256_parts};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::key::{BACKUP_ID_LENGTH, BackupId, BackupKey, ENCRYPTION_INFO};
use crate::limits::{MAX_CHUNK_SIZE, MIN_CHUNK_SIZE};

/// The first eight bytes of every backup stream.
pub const STREAM_MAGIC: [u8; 8] = *b"HUSHBAK\0";

/// The only stream format version.
pub const STREAM_VERSION: u8 = 1;

/// Length of the per-backup random salt in the header.
pub const STREAM_SALT_LENGTH: usize = 32;

/// Length of the header tag (a full HMAC-SHA256).
pub const HEADER_TAG_LENGTH: usize = MAC_LENGTH;

/// Length of the header bytes the header tag covers (everything before the tag).
const HEADER_BODY_LENGTH: usize = 8 + 1 + BACKUP_ID_LENGTH + STREAM_SALT_LENGTH + 4;

/// Length of an encoded [`StreamHeader`]: 93 bytes.
pub const HEADER_LENGTH: usize = HEADER_BODY_LENGTH + HEADER_TAG_LENGTH;

/// Bytes a chunk adds to its plaintext: the AES-GCM tag.
pub const CHUNK_OVERHEAD: usize = GCM_TAG_LENGTH;

/// Length of the per-backup nonce prefix.
const NONCE_PREFIX_LENGTH: usize = 7;

/// Checks a chunk size against [`MIN_CHUNK_SIZE`]..=[`MAX_CHUNK_SIZE`].
fn check_chunk_size(chunk_size: u32) -> Result<()> {
    if (MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&chunk_size) {
        Ok(())
    } else {
        Err(Error::InvalidParameters("chunk size"))
    }
}

/// A chunk size as a `usize` (it is at most 4 MiB, so this never saturates).
fn usize_of(chunk_size: u32) -> usize {
    usize::try_from(chunk_size).unwrap_or(usize::MAX)
}

/// The header of a backup stream. Public data: it holds no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamHeader {
    backup_id: BackupId,
    salt: [u8; STREAM_SALT_LENGTH],
    chunk_size: u32,
    tag: [u8; HEADER_TAG_LENGTH],
}

impl StreamHeader {
    /// Decodes a header from the start of `bytes` and returns it with the number of
    /// bytes it took ([`HEADER_LENGTH`]); what follows is the first chunk. Checks only
    /// the format: [`ChunkOpener::new`] checks the key id and the tag.
    ///
    /// # Errors
    ///
    /// In this order: [`Error::NotABackup`] if the bytes present do not match the magic;
    /// [`Error::UnknownVersion`] for a version other than 1; [`Error::Truncated`] (with
    /// `chunks_read: 0`) if `bytes` ends inside the header; [`Error::Malformed`] if the
    /// chunk size is outside the bounds of [`crate::limits`].
    pub fn decode(bytes: &[u8]) -> Result<(Self, usize)> {
        let truncated = Error::Truncated { chunks_read: 0 };
        let magic_len = bytes.len().min(STREAM_MAGIC.len());
        if bytes.get(..magic_len) != STREAM_MAGIC.get(..magic_len) {
            return Err(Error::NotABackup);
        }
        let rest = bytes.get(STREAM_MAGIC.len()..).ok_or(truncated.clone())?;
        let (&version, rest) = rest.split_first().ok_or(truncated.clone())?;
        if version != STREAM_VERSION {
            return Err(Error::UnknownVersion(version));
        }
        let (id, rest) = rest
            .split_first_chunk::<BACKUP_ID_LENGTH>()
            .ok_or(truncated.clone())?;
        let (salt, rest) = rest
            .split_first_chunk::<STREAM_SALT_LENGTH>()
            .ok_or(truncated.clone())?;
        let (chunk_size, rest) = rest.split_first_chunk::<4>().ok_or(truncated.clone())?;
        let (tag, _) = rest
            .split_first_chunk::<HEADER_TAG_LENGTH>()
            .ok_or(truncated)?;
        let chunk_size = u32::from_be_bytes(*chunk_size);
        check_chunk_size(chunk_size).map_err(|_| Error::Malformed("chunk size"))?;
        Ok((
            Self {
                backup_id: BackupId::from_bytes(*id),
                salt: *salt,
                chunk_size,
                tag: *tag,
            },
            HEADER_LENGTH,
        ))
    }

    /// The 93-byte encoding.
    #[must_use]
    pub fn encode(&self) -> [u8; HEADER_LENGTH] {
        let mut out = [0u8; HEADER_LENGTH];
        let (body, tag) = out.split_at_mut(HEADER_BODY_LENGTH);
        body.copy_from_slice(&self.body());
        tag.copy_from_slice(&self.tag);
        out
    }

    /// The bytes the header tag covers.
    fn body(&self) -> [u8; HEADER_BODY_LENGTH] {
        let mut out = [0u8; HEADER_BODY_LENGTH];
        let fields: [&[u8]; 5] = [
            &STREAM_MAGIC,
            &[STREAM_VERSION],
            self.backup_id.as_bytes(),
            &self.salt,
            &self.chunk_size.to_be_bytes(),
        ];
        let mut at = 0;
        for field in fields {
            if let Some(slot) = out.get_mut(at..at + field.len()) {
                slot.copy_from_slice(field);
            }
            at += field.len();
        }
        out
    }

    /// The id of the key the backup was made with.
    #[must_use]
    pub fn backup_id(&self) -> BackupId {
        self.backup_id
    }

    /// Plaintext bytes in every chunk but the last.
    #[must_use]
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }
}

/// The keys of one backup: HKDF-SHA256(salt = header salt, ikm = backup key,
/// info = "hush backup v1 encryption" || context), 71 bytes split as AES key (32),
/// nonce prefix (7), header MAC key (32).
struct StreamKeys {
    cipher: Aes256GcmKey,
    nonce_prefix: [u8; NONCE_PREFIX_LENGTH],
    header_mac: HmacSha256Key,
}

impl StreamKeys {
    fn derive(key: &BackupKey, salt: &[u8; STREAM_SALT_LENGTH], context: &[u8]) -> Result<Self> {
        let mut okm = Zeroizing::new([0u8; AES_256_KEY_LENGTH + NONCE_PREFIX_LENGTH + MAC_LENGTH]);
        hkdf_sha256_parts(
            salt,
            key.as_bytes(),
            &[ENCRYPTION_INFO, context],
            okm.as_mut(),
        )
        .map_err(|_| Error::InvalidParameters("key derivation"))?;
        let (aes, rest) = okm
            .split_first_chunk::<AES_256_KEY_LENGTH>()
            .ok_or(Error::InvalidParameters("key derivation"))?;
        let (prefix, mac) = rest
            .split_first_chunk::<NONCE_PREFIX_LENGTH>()
            .ok_or(Error::InvalidParameters("key derivation"))?;
        Ok(Self {
            cipher: Aes256GcmKey::new(aes),
            nonce_prefix: *prefix,
            header_mac: HmacSha256Key::new(mac),
        })
    }

    /// The nonce of chunk `index`: prefix || index (u32 BE) || last flag.
    fn nonce(&self, index: u64, last: bool) -> Result<[u8; GCM_NONCE_LENGTH]> {
        let counter = u32::try_from(index).map_err(|_| Error::StreamTooLong)?;
        let mut nonce = [0u8; GCM_NONCE_LENGTH];
        let (prefix, rest) = nonce.split_at_mut(NONCE_PREFIX_LENGTH);
        prefix.copy_from_slice(&self.nonce_prefix);
        let (count, flag) = rest.split_at_mut(4);
        count.copy_from_slice(&counter.to_be_bytes());
        flag.copy_from_slice(&[u8::from(last)]);
        Ok(nonce)
    }
}

/// Seals the chunks of one backup, in order (sans-IO).
///
/// Made with [`ChunkSealer::new`], which also returns the header to write first.
pub struct ChunkSealer {
    keys: StreamKeys,
    chunk_size: u32,
    next_index: u64,
    finished: bool,
}

impl ChunkSealer {
    /// Starts a backup under `key`: draws a fresh 32-byte salt and returns the header
    /// to write before the chunks, and the sealer. `context` is bound into every key
    /// (and so into the header tag); decryption must give the same bytes.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameters`] if `chunk_size` is outside
    /// [`MIN_CHUNK_SIZE`]..=[`MAX_CHUNK_SIZE`].
    pub fn new<R: CryptoRng + ?Sized>(
        key: &BackupKey,
        context: &[u8],
        chunk_size: u32,
        rng: &mut R,
    ) -> Result<(StreamHeader, Self)> {
        check_chunk_size(chunk_size)?;
        let mut salt = [0u8; STREAM_SALT_LENGTH];
        rng.fill_bytes(&mut salt);
        let keys = StreamKeys::derive(key, &salt, context)?;
        let mut header = StreamHeader {
            backup_id: key.id(),
            salt,
            chunk_size,
            tag: [0u8; HEADER_TAG_LENGTH],
        };
        header.tag = *keys.header_mac.mac(&header.body());
        let sealer = Self {
            keys,
            chunk_size,
            next_index: 0,
            finished: false,
        };
        Ok((header, sealer))
    }

    /// Seals the plaintext in `buf` in place and appends its 16-byte tag. A chunk that
    /// is not `last` must hold exactly the chunk size; the last must hold fewer bytes
    /// (possibly none). Reserve `chunk size + 16` bytes of capacity to avoid any
    /// allocation.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameters`] for a wrong plaintext length or a chunk after the
    /// last; [`Error::StreamTooLong`] after 2^32 chunks. `buf` is unchanged then.
    pub fn seal_chunk(&mut self, buf: &mut Vec<u8>, last: bool) -> Result<()> {
        let len = buf.len();
        self.check(len, last)?;
        buf.resize(len + CHUNK_OVERHEAD, 0);
        let sealed = self.seal_in(buf, len, last);
        if sealed.is_err() {
            buf.truncate(len);
        }
        sealed.map(|_| ())
    }

    fn check(&self, len: usize, last: bool) -> Result<()> {
        if self.finished {
            return Err(Error::InvalidParameters("chunk after the last one"));
        }
        let size = usize_of(self.chunk_size);
        if (last && len >= size) || (!last && len != size) {
            return Err(Error::InvalidParameters("chunk length"));
        }
        Ok(())
    }

    /// Seals `record[..len]` and writes its tag at `record[len..len + 16]`; returns
    /// `len + 16`.
    fn seal_in(&mut self, record: &mut [u8], len: usize, last: bool) -> Result<usize> {
        self.check(len, last)?;
        let nonce = self.keys.nonce(self.next_index, last)?;
        let (plaintext, rest) = record
            .split_at_mut_checked(len)
            .ok_or(Error::InvalidParameters("chunk buffer"))?;
        let tag_slot = rest
            .get_mut(..CHUNK_OVERHEAD)
            .ok_or(Error::InvalidParameters("chunk buffer"))?;
        let tag = self.keys.cipher.seal_in_place(&nonce, &[], plaintext);
        tag_slot.copy_from_slice(&tag);
        self.next_index += 1;
        self.finished = last;
        Ok(len + CHUNK_OVERHEAD)
    }

    /// How many chunks have been sealed.
    #[must_use]
    pub fn chunks_sealed(&self) -> u64 {
        self.next_index
    }

    /// Whether the last chunk has been sealed.
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Plaintext bytes in every chunk but the last.
    #[must_use]
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }
}

impl core::fmt::Debug for ChunkSealer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let Self {
            keys: _,
            chunk_size,
            next_index,
            finished,
        } = self;
        f.debug_struct("ChunkSealer")
            .field("chunk_size", chunk_size)
            .field("next_index", next_index)
            .field("finished", finished)
            .finish_non_exhaustive()
    }
}

/// Opens the chunks of one backup, in order (sans-IO).
///
/// Made with [`ChunkOpener::new`] from a decoded [`StreamHeader`], which it
/// authenticates first.
pub struct ChunkOpener {
    keys: StreamKeys,
    chunk_size: u32,
    next_index: u64,
    finished: bool,
}

impl ChunkOpener {
    /// Checks that `header` belongs to `key` and authenticates it under `context`.
    ///
    /// # Errors
    ///
    /// [`Error::WrongKey`] if the header's backup id is not `key`'s id;
    /// [`Error::HeaderAuthentication`] if the header tag does not verify (a tampered
    /// header, or a `context` other than the one used to encrypt).
    pub fn new(key: &BackupKey, context: &[u8], header: &StreamHeader) -> Result<Self> {
        if key.id() != header.backup_id {
            return Err(Error::WrongKey);
        }
        let keys = StreamKeys::derive(key, &header.salt, context)?;
        let verified = keys
            .header_mac
            .verify_parts(&[&header.body()], &header.tag)
            .unwrap_or(false);
        if !verified {
            return Err(Error::HeaderAuthentication);
        }
        Ok(Self {
            keys,
            chunk_size: header.chunk_size,
            next_index: 0,
            finished: false,
        })
    }

    /// Authenticates and decrypts the chunk in `buf` (ciphertext then tag) in place and
    /// removes the tag, leaving the plaintext. `last` says whether the caller found the
    /// stream to end with this chunk: a chunk that is not last must be exactly
    /// `chunk size + 16` bytes, the last one 16 to `chunk size + 15` bytes.
    ///
    /// # Errors
    ///
    /// [`Error::CorruptedChunk`] with this chunk's index if the length is wrong for
    /// `last` or the tag does not verify (`buf` is then unchanged and the opener still
    /// expects this chunk); [`Error::TrailingData`] after the last chunk;
    /// [`Error::StreamTooLong`] past 2^32 chunks.
    pub fn open_chunk(&mut self, buf: &mut Vec<u8>, last: bool) -> Result<()> {
        let len = self.open_in(buf, last)?;
        buf.truncate(len);
        Ok(())
    }

    /// Opens `record` in place; returns the plaintext length (at the start of `record`).
    fn open_in(&mut self, record: &mut [u8], last: bool) -> Result<usize> {
        if self.finished {
            return Err(Error::TrailingData);
        }
        let corrupted = Error::CorruptedChunk {
            index: self.next_index,
        };
        let full = usize_of(self.chunk_size) + CHUNK_OVERHEAD;
        let len_ok = if last {
            (CHUNK_OVERHEAD..full).contains(&record.len())
        } else {
            record.len() == full
        };
        if !len_ok {
            return Err(corrupted);
        }
        let nonce = self.keys.nonce(self.next_index, last)?;
        let split = record.len() - CHUNK_OVERHEAD;
        let (ciphertext, tag) = record.split_at_mut(split);
        let tag: &[u8; GCM_TAG_LENGTH] = (&*tag).try_into().map_err(|_| corrupted.clone())?;
        self.keys
            .cipher
            .open_in_place(&nonce, &[], ciphertext, tag)
            .map_err(|_| corrupted)?;
        self.next_index += 1;
        self.finished = last;
        Ok(split)
    }

    /// How many chunks have been opened.
    #[must_use]
    pub fn chunks_opened(&self) -> u64 {
        self.next_index
    }

    /// Whether the last chunk has been opened.
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Plaintext bytes in every chunk but the last.
    #[must_use]
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }
}

impl core::fmt::Debug for ChunkOpener {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let Self {
            keys: _,
            chunk_size,
            next_index,
            finished,
        } = self;
        f.debug_struct("ChunkOpener")
            .field("chunk_size", chunk_size)
            .field("next_index", next_index)
            .field("finished", finished)
            .finish_non_exhaustive()
    }
}
