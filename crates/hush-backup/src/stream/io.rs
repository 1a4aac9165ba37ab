//! The [`std::io`] adapters: [`Encryptor`] / [`BackupWriter`] and [`Decryptor`] /
//! [`BackupReader`], in constant memory (one chunk buffer each).

use core::fmt;
use std::io::{self, Read, Write};

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::{
    CHUNK_OVERHEAD, ChunkOpener, ChunkSealer, HEADER_LENGTH, StreamHeader, check_chunk_size,
    usize_of,
};
use crate::error::{Error, Result};
use crate::key::{BackupId, BackupKey};
use crate::limits::DEFAULT_CHUNK_SIZE;

/// How far an operation has got, given to the progress callback after each chunk.
///
/// For [`Encryptor`] and [`BackupWriter`] both numbers count plaintext bytes; for
/// [`Decryptor`] and [`BackupReader`] they count backup (ciphertext) bytes, header
/// included, so that `bytes_done` reaches the file length given to
/// [`Decryptor::total_len`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes processed so far.
    pub bytes_done: u64,
    /// The total the caller announced with `total_len`, if it did.
    pub bytes_total: Option<u64>,
}

/// What a finished encryption or decryption processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSummary {
    /// Plaintext bytes encrypted or restored.
    pub plaintext_bytes: u64,
    /// Chunks in the stream, the final (short or empty) chunk included.
    pub chunks: u64,
    /// The id of the key the backup is made with.
    pub backup_id: BackupId,
}

type ProgressFn<'k> = Box<dyn FnMut(Progress) + 'k>;

/// Reads until `buf` is full or the reader reports end of input; returns the count.
fn read_full<R: Read + ?Sized>(reader: &mut R, buf: &mut [u8]) -> Result<usize> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..) {
        if rest.is_empty() {
            break;
        }
        match reader.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n.min(rest.len()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(filled)
}

fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Encrypts a backup stream under a [`BackupKey`] (builder).
///
/// ```
/// # fn main() -> hush_backup::Result<()> {
/// use hush_backup::{BackupKey, Decryptor, Encryptor};
/// let mut rng = hush_core::rng::os_rng();
/// let key = BackupKey::generate(&mut rng);
/// let mut backup = Vec::new();
/// Encryptor::new(&key).encrypt(&mut rng, &b"history"[..], &mut backup)?;
/// let mut restored = Vec::new();
/// Decryptor::new(&key).decrypt(&backup[..], &mut restored)?;
/// assert_eq!(restored, b"history");
/// # Ok(())
/// # }
/// ```
pub struct Encryptor<'k> {
    key: &'k BackupKey,
    context: Vec<u8>,
    chunk_size: u32,
    total: Option<u64>,
    progress: Option<ProgressFn<'k>>,
}

impl<'k> Encryptor<'k> {
    /// An encryptor under `key` with an empty context, 64 KiB chunks and no progress
    /// callback.
    #[must_use]
    pub fn new(key: &'k BackupKey) -> Self {
        Self {
            key,
            context: Vec::new(),
            chunk_size: DEFAULT_CHUNK_SIZE,
            total: None,
            progress: None,
        }
    }

    /// Binds the stream to `context` (for example a device-linking transcript hash):
    /// it goes into the key derivation, so decryption must give the same bytes or fail
    /// with [`Error::HeaderAuthentication`]. Default: empty.
    #[must_use]
    pub fn context(mut self, context: &[u8]) -> Self {
        self.context = context.to_vec();
        self
    }

    /// Plaintext bytes per chunk (every chunk but the last holds exactly this many).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameters`] outside [`crate::limits::MIN_CHUNK_SIZE`] (1 KiB)
    /// ..= [`crate::limits::MAX_CHUNK_SIZE`] (4 MiB).
    pub fn chunk_size(mut self, bytes: u32) -> Result<Self> {
        check_chunk_size(bytes)?;
        self.chunk_size = bytes;
        Ok(self)
    }

    /// The plaintext length, if known; used only for [`Progress::bytes_total`].
    #[must_use]
    pub fn total_len(mut self, bytes: u64) -> Self {
        self.total = Some(bytes);
        self
    }

    /// Calls `callback` after each chunk is written, with the plaintext bytes done.
    #[must_use]
    pub fn progress(mut self, callback: impl FnMut(Progress) + 'k) -> Self {
        self.progress = Some(Box::new(callback));
        self
    }

    /// Encrypts everything `reader` yields into `writer`, then flushes `writer`.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if reading or writing fails; [`Error::StreamTooLong`] past 2^32
    /// chunks. `writer` then holds an incomplete stream, which decrypts as an error.
    pub fn encrypt<Rng, R, W>(
        self,
        rng: &mut Rng,
        mut reader: R,
        writer: W,
    ) -> Result<StreamSummary>
    where
        Rng: CryptoRng + ?Sized,
        R: Read,
        W: Write,
    {
        let mut out = self.writer(rng, writer)?;
        let size = usize_of(out.sealer.chunk_size());
        loop {
            let slot = out
                .buf
                .get_mut(..size)
                .ok_or(Error::InvalidParameters("chunk buffer"))?;
            let n = read_full(&mut reader, slot)?;
            out.fill = n;
            if n < size {
                break;
            }
            out.seal_and_write(false)?;
        }
        out.finish().map(|(_, summary)| summary)
    }

    /// A [`Write`] adapter that encrypts what is written to it into `writer`. Writes
    /// the header at once.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if writing the header fails.
    pub fn writer<Rng, W>(self, rng: &mut Rng, mut writer: W) -> Result<BackupWriter<'k, W>>
    where
        Rng: CryptoRng + ?Sized,
        W: Write,
    {
        let (header, sealer) = ChunkSealer::new(self.key, &self.context, self.chunk_size, rng)?;
        writer.write_all(&header.encode())?;
        let buf = Zeroizing::new(vec![0u8; usize_of(self.chunk_size) + CHUNK_OVERHEAD]);
        Ok(BackupWriter {
            inner: writer,
            sealer,
            buf,
            fill: 0,
            plaintext_bytes: 0,
            backup_id: header.backup_id(),
            total: self.total,
            progress: self.progress,
            failed: false,
        })
    }
}

impl fmt::Debug for Encryptor<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            key,
            context,
            chunk_size,
            total,
            progress,
        } = self;
        f.debug_struct("Encryptor")
            .field("key", key)
            .field("context_len", &context.len())
            .field("chunk_size", chunk_size)
            .field("total", total)
            .field("progress", &progress.is_some())
            .finish()
    }
}

/// Encrypts what is written to it (see [`Encryptor::writer`]).
///
/// Plaintext is buffered up to one chunk; each full chunk is sealed and written as soon
/// as it is complete. Call [`BackupWriter::finish`] to write the final chunk: a writer
/// dropped without it leaves a stream that decrypts as [`Error::Truncated`].
///
/// An error of the inner writer comes back from [`Write::write`] with its kind; a
/// stream error ([`Error::StreamTooLong`]) comes as an [`io::Error`] whose
/// [`get_ref`](io::Error::get_ref) downcasts to [`Error`]. After any error the writer
/// refuses further writes, and [`BackupWriter::finish`] fails.
pub struct BackupWriter<'k, W> {
    inner: W,
    sealer: ChunkSealer,
    buf: Zeroizing<Vec<u8>>,
    fill: usize,
    plaintext_bytes: u64,
    backup_id: BackupId,
    total: Option<u64>,
    progress: Option<ProgressFn<'k>>,
    failed: bool,
}

impl<W: Write> BackupWriter<'_, W> {
    /// Seals the buffered `fill` bytes and writes the chunk.
    fn seal_and_write(&mut self, last: bool) -> Result<()> {
        let n = self.fill;
        let result = self.sealer.seal_in(&mut self.buf, n, last).and_then(|len| {
            let record = self
                .buf
                .get(..len)
                .ok_or(Error::InvalidParameters("chunk buffer"))?;
            self.inner.write_all(record).map_err(Error::from)
        });
        if result.is_err() {
            self.failed = true;
            return result;
        }
        self.fill = 0;
        self.plaintext_bytes += to_u64(n);
        if let Some(callback) = self.progress.as_mut() {
            callback(Progress {
                bytes_done: self.plaintext_bytes,
                bytes_total: self.total,
            });
        }
        Ok(())
    }

    /// Writes the final chunk (whatever is buffered, possibly nothing), flushes the
    /// inner writer and returns it with a summary.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if writing or flushing fails, or if an earlier write failed.
    pub fn finish(mut self) -> Result<(W, StreamSummary)> {
        if self.failed {
            return Err(Error::Io(io::ErrorKind::Other));
        }
        self.seal_and_write(true)?;
        self.inner.flush()?;
        let summary = StreamSummary {
            plaintext_bytes: self.plaintext_bytes,
            chunks: self.sealer.chunks_sealed(),
            backup_id: self.backup_id,
        };
        Ok((self.inner, summary))
    }

    /// The id of the key the stream is encrypted under.
    #[must_use]
    pub fn backup_id(&self) -> BackupId {
        self.backup_id
    }
}

impl<W: Write> Write for BackupWriter<'_, W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.failed {
            return Err(io::Error::other("backup writer failed earlier"));
        }
        if data.is_empty() {
            return Ok(0);
        }
        let size = usize_of(self.sealer.chunk_size());
        let room = size.saturating_sub(self.fill);
        let take = room.min(data.len());
        let (Some(slot), Some(src)) = (
            self.buf.get_mut(self.fill..self.fill + take),
            data.get(..take),
        ) else {
            return Err(io::Error::other(Error::InvalidParameters("chunk buffer")));
        };
        slot.copy_from_slice(src);
        self.fill += take;
        if self.fill == size {
            self.seal_and_write(false).map_err(|e| match e {
                Error::Io(kind) => io::Error::from(kind),
                other => io::Error::other(other),
            })?;
        }
        Ok(take)
    }

    /// Flushes the inner writer. Does not seal a partial chunk: chunks are fixed-size,
    /// so buffered bytes wait for the chunk to fill or for [`BackupWriter::finish`].
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W> fmt::Debug for BackupWriter<'_, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackupWriter")
            .field("sealer", &self.sealer)
            .field("buffered", &self.fill)
            .field("plaintext_bytes", &self.plaintext_bytes)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

/// Decrypts a backup stream under a [`BackupKey`] (builder).
///
/// Nothing unauthenticated reaches the caller: each chunk is opened in the chunk buffer
/// and handed on only after its tag verified. Chunks that verified before a failure
/// *have* been handed on, though; a caller restoring to a file should write to a
/// temporary file and keep it only if [`Decryptor::decrypt`] returns `Ok`.
pub struct Decryptor<'k> {
    key: &'k BackupKey,
    context: Vec<u8>,
    total: Option<u64>,
    progress: Option<ProgressFn<'k>>,
}

impl<'k> Decryptor<'k> {
    /// A decryptor under `key` with an empty context and no progress callback.
    #[must_use]
    pub fn new(key: &'k BackupKey) -> Self {
        Self {
            key,
            context: Vec::new(),
            total: None,
            progress: None,
        }
    }

    /// The context the stream was encrypted with (see [`Encryptor::context`]).
    #[must_use]
    pub fn context(mut self, context: &[u8]) -> Self {
        self.context = context.to_vec();
        self
    }

    /// The backup's length in bytes (header included), if known; used only for
    /// [`Progress::bytes_total`].
    #[must_use]
    pub fn total_len(mut self, bytes: u64) -> Self {
        self.total = Some(bytes);
        self
    }

    /// Calls `callback` after each chunk is authenticated, with the backup bytes
    /// consumed so far (header included).
    #[must_use]
    pub fn progress(mut self, callback: impl FnMut(Progress) + 'k) -> Self {
        self.progress = Some(Box::new(callback));
        self
    }

    /// Decrypts the whole stream from `reader` into `writer` (which is flushed), and
    /// checks that nothing follows it.
    ///
    /// # Errors
    ///
    /// Everything [`Decryptor::reader`] returns, then [`Error::CorruptedChunk`],
    /// [`Error::Truncated`], [`Error::TrailingData`] or [`Error::Io`] (reading or
    /// writing). On error, `writer` may hold the chunks that authenticated before the
    /// failure: discard them.
    pub fn decrypt<R: Read, W: Write>(self, reader: R, mut writer: W) -> Result<StreamSummary> {
        let mut chunks = self.reader(reader)?;
        while !chunks.opener.is_finished() {
            chunks.next_chunk()?;
            writer.write_all(chunks.plaintext())?;
            chunks.consumed = chunks.plain_len;
        }
        writer.flush()?;
        Ok(chunks.summary_now())
    }

    /// A [`Read`] adapter that yields the plaintext. Reads and checks the header at
    /// once.
    ///
    /// # Errors
    ///
    /// In this order: [`Error::NotABackup`], [`Error::UnknownVersion`],
    /// [`Error::Truncated`] (input ends inside the header), [`Error::Malformed`] (chunk
    /// size out of bounds), [`Error::WrongKey`], [`Error::HeaderAuthentication`];
    /// [`Error::Io`] if reading fails.
    pub fn reader<R: Read>(self, mut reader: R) -> Result<BackupReader<'k, R>> {
        let mut header_bytes = [0u8; HEADER_LENGTH];
        let n = read_full(&mut reader, &mut header_bytes)?;
        let (header, used) = StreamHeader::decode(header_bytes.get(..n).unwrap_or_default())?;
        let opener = ChunkOpener::new(self.key, &self.context, &header)?;
        let buf = Zeroizing::new(vec![0u8; usize_of(header.chunk_size()) + CHUNK_OVERHEAD]);
        Ok(BackupReader {
            inner: reader,
            opener,
            buf,
            plain_len: 0,
            consumed: 0,
            error: None,
            bytes_read: to_u64(used),
            plaintext_bytes: 0,
            backup_id: header.backup_id(),
            total: self.total,
            progress: self.progress,
        })
    }
}

impl fmt::Debug for Decryptor<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            key,
            context,
            total,
            progress,
        } = self;
        f.debug_struct("Decryptor")
            .field("key", key)
            .field("context_len", &context.len())
            .field("total", total)
            .field("progress", &progress.is_some())
            .finish()
    }
}

/// Yields the plaintext of a backup stream (see [`Decryptor::reader`]).
///
/// Only authenticated chunks are returned: a chunk is read whole into the buffer,
/// opened there, and served only if its tag verified. After the final chunk the inner
/// reader must be at end of input; the final chunk is not served otherwise.
///
/// Every error, I/O errors of the inner reader included, is an [`io::Error`] whose
/// [`get_ref`](io::Error::get_ref) downcasts to [`Error`]
/// (`e.get_ref().and_then(|e| e.downcast_ref::<hush_backup::Error>())`); its kind is
/// that of the inner I/O error, [`io::ErrorKind::UnexpectedEof`] for
/// [`Error::Truncated`] and [`io::ErrorKind::InvalidData`] otherwise. After an error
/// every further read returns the same error.
pub struct BackupReader<'k, R> {
    inner: R,
    opener: ChunkOpener,
    buf: Zeroizing<Vec<u8>>,
    /// Plaintext bytes of the current chunk at the start of `buf`.
    plain_len: usize,
    /// How many of them were handed out.
    consumed: usize,
    error: Option<Error>,
    bytes_read: u64,
    plaintext_bytes: u64,
    backup_id: BackupId,
    total: Option<u64>,
    progress: Option<ProgressFn<'k>>,
}

impl<R: Read> BackupReader<'_, R> {
    /// Reads, authenticates and decrypts the next chunk into the buffer. On success,
    /// `plaintext()` is the chunk and `consumed` is 0.
    fn next_chunk(&mut self) -> Result<()> {
        let result = self.next_chunk_inner();
        if let Err(error) = &result {
            self.error = Some(error.clone());
            self.plain_len = 0;
            self.consumed = 0;
        }
        result
    }

    fn next_chunk_inner(&mut self) -> Result<()> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        let full = self.buf.len();
        let n = read_full(&mut self.inner, &mut self.buf)?;
        if n == 0 {
            return Err(Error::Truncated {
                chunks_read: self.opener.chunks_opened(),
            });
        }
        let last = n < full;
        let record = self
            .buf
            .get_mut(..n)
            .ok_or(Error::InvalidParameters("chunk buffer"))?;
        let len = self.opener.open_in(record, last)?;
        if last {
            let mut probe = [0u8; 1];
            if read_full(&mut self.inner, &mut probe)? != 0 {
                return Err(Error::TrailingData);
            }
        }
        self.plain_len = len;
        self.consumed = 0;
        self.bytes_read = self.bytes_read.saturating_add(to_u64(n));
        self.plaintext_bytes = self.plaintext_bytes.saturating_add(to_u64(len));
        if let Some(callback) = self.progress.as_mut() {
            callback(Progress {
                bytes_done: self.bytes_read,
                bytes_total: self.total,
            });
        }
        Ok(())
    }

    /// The current chunk's plaintext not yet handed out.
    fn plaintext(&self) -> &[u8] {
        self.buf
            .get(self.consumed..self.plain_len)
            .unwrap_or_default()
    }

    fn summary_now(&self) -> StreamSummary {
        StreamSummary {
            plaintext_bytes: self.plaintext_bytes,
            chunks: self.opener.chunks_opened(),
            backup_id: self.backup_id,
        }
    }

    /// The summary of the stream once its final chunk has been authenticated (and the
    /// input found to end there); `None` before.
    #[must_use]
    pub fn summary(&self) -> Option<StreamSummary> {
        (self.opener.is_finished() && self.error.is_none()).then(|| self.summary_now())
    }

    /// The id of the key the stream was made with.
    #[must_use]
    pub fn backup_id(&self) -> BackupId {
        self.backup_id
    }
}

fn to_io_error(error: Error) -> io::Error {
    let kind = match error {
        Error::Io(kind) => kind,
        Error::Truncated { .. } => io::ErrorKind::UnexpectedEof,
        _ => io::ErrorKind::InvalidData,
    };
    io::Error::new(kind, error)
}

impl<R: Read> Read for BackupReader<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if let Some(error) = &self.error {
                return Err(to_io_error(error.clone()));
            }
            let available = self.plaintext();
            if !available.is_empty() {
                let n = available.len().min(out.len());
                if let (Some(dst), Some(src)) = (out.get_mut(..n), available.get(..n)) {
                    dst.copy_from_slice(src);
                }
                self.consumed += n;
                return Ok(n);
            }
            if self.opener.is_finished() {
                return Ok(0);
            }
            self.next_chunk().map_err(to_io_error)?;
        }
    }
}

impl<R> fmt::Debug for BackupReader<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackupReader")
            .field("opener", &self.opener)
            .field("bytes_read", &self.bytes_read)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}
