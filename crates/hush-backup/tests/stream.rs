//! The backup stream through its public API: round trips at every size boundary, every
//! tampering class, header checks in order, the reader's no-unauthenticated-output rule,
//! progress reporting, and the sans-IO core.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    reason = "tests"
)]

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::sync::LazyLock;

use hush_backup::limits::{DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE};
use hush_backup::stream::{CHUNK_OVERHEAD, HEADER_LENGTH, STREAM_MAGIC};
use hush_backup::{
    BackupKey, ChunkOpener, ChunkSealer, Decryptor, Encryptor, Error, Progress, StreamHeader,
    StreamSummary,
};
use hush_test_support::test_rng;
use proptest::prelude::*;

const CHUNK: u32 = 1024;
const CS: usize = CHUNK as usize;
const RECORD: usize = CS + CHUNK_OVERHEAD;

fn key() -> &'static BackupKey {
    static KEY: LazyLock<BackupKey> = LazyLock::new(|| BackupKey::from_bytes([7; 32]));
    &KEY
}

fn other_key() -> &'static BackupKey {
    static KEY: LazyLock<BackupKey> = LazyLock::new(|| BackupKey::from_bytes([8; 32]));
    &KEY
}

fn plaintext(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 256) as u8).collect()
}

fn encrypt_with(key: &BackupKey, data: &[u8], chunk: u32, context: &[u8], seed: u64) -> Vec<u8> {
    let mut out = Vec::new();
    Encryptor::new(key)
        .chunk_size(chunk)
        .unwrap()
        .context(context)
        .encrypt(&mut test_rng(seed), data, &mut out)
        .unwrap();
    out
}

fn encrypt(data: &[u8]) -> Vec<u8> {
    encrypt_with(key(), data, CHUNK, b"", 1)
}

fn decrypt_with(key: &BackupKey, backup: &[u8], context: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    Decryptor::new(key)
        .context(context)
        .decrypt(backup, &mut out)
        .map(|_| out)
}

fn decrypt(backup: &[u8]) -> Result<Vec<u8>, Error> {
    decrypt_with(key(), backup, b"")
}

/// Everything a reader hands out before its first error, and that error.
fn read_all(backup: &[u8], read_size: usize) -> (Vec<u8>, Option<Error>) {
    let mut reader = match Decryptor::new(key()).reader(backup) {
        Ok(reader) => reader,
        Err(e) => return (Vec::new(), Some(e)),
    };
    let mut out = Vec::new();
    let mut buf = vec![0u8; read_size];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return (out, None),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => {
                let inner = e
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<Error>())
                    .cloned()
                    .expect("every reader error carries a hush_backup::Error");
                // The error sticks.
                let again = reader.read(&mut buf).unwrap_err();
                assert_eq!(again.kind(), e.kind());
                return (out, Some(inner));
            }
        }
    }
}

/// Offsets of chunk `i`'s record in a stream with `CHUNK`-byte chunks.
fn record(i: usize) -> std::ops::Range<usize> {
    HEADER_LENGTH + i * RECORD..HEADER_LENGTH + (i + 1) * RECORD
}

#[test]
fn round_trips_at_every_size_boundary() {
    for len in [0, 1, CS - 1, CS, CS + 1, 2 * CS, 3 * CS + 100, 10 * CS - 1] {
        let data = plaintext(len);
        let backup = encrypt(&data);
        let chunks = len / CS + 1;
        assert_eq!(
            backup.len(),
            HEADER_LENGTH + len + chunks * CHUNK_OVERHEAD,
            "len {len}"
        );
        assert_eq!(decrypt(&backup).unwrap(), data, "len {len}");
        for read_size in [1, 7, CS, 3 * CS] {
            let (out, error) = read_all(&backup, read_size);
            assert_eq!(error, None, "len {len} read size {read_size}");
            assert_eq!(out, data, "len {len} read size {read_size}");
        }
    }
}

#[test]
fn summary_counts_bytes_and_chunks() {
    let data = plaintext(3 * CS);
    let mut backup = Vec::new();
    let summary = Encryptor::new(key())
        .chunk_size(CHUNK)
        .unwrap()
        .encrypt(&mut test_rng(1), &data[..], &mut backup)
        .unwrap();
    let expected = StreamSummary {
        plaintext_bytes: 3 * CS as u64,
        chunks: 4, // three full chunks and an empty last one
        backup_id: key().id(),
    };
    assert_eq!(summary, expected);
    let restored = Decryptor::new(key())
        .decrypt(&backup[..], io::sink())
        .unwrap();
    assert_eq!(restored, expected);
}

#[test]
fn default_chunk_size_and_bounds() {
    let data = plaintext(DEFAULT_CHUNK_SIZE as usize + 5);
    let mut backup = Vec::new();
    Encryptor::new(key())
        .encrypt(&mut test_rng(1), &data[..], &mut backup)
        .unwrap();
    let (header, used) = StreamHeader::decode(&backup).unwrap();
    assert_eq!(used, HEADER_LENGTH);
    assert_eq!(header.chunk_size(), DEFAULT_CHUNK_SIZE);
    assert_eq!(decrypt(&backup).unwrap(), data);

    for bad in [0, MIN_CHUNK_SIZE - 1, MAX_CHUNK_SIZE + 1, u32::MAX] {
        assert_eq!(
            Encryptor::new(key()).chunk_size(bad).err(),
            Some(Error::InvalidParameters("chunk size")),
            "{bad}"
        );
    }
    for good in [MIN_CHUNK_SIZE, MAX_CHUNK_SIZE] {
        assert!(Encryptor::new(key()).chunk_size(good).is_ok());
    }
}

#[test]
fn two_encryptions_differ() {
    let data = plaintext(100);
    let a = encrypt_with(key(), &data, CHUNK, b"", 1);
    let b = encrypt_with(key(), &data, CHUNK, b"", 2);
    assert_ne!(a, b);
    // Same key id, different salts.
    assert_eq!(a[8..25], b[8..25]);
    assert_ne!(a[25..57], b[25..57]);
}

// ------------------------------------------------------------------------------------------
// Tampering

/// A stream of three full chunks and a 100-byte last chunk.
fn four_chunks() -> (Vec<u8>, Vec<u8>) {
    let data = plaintext(3 * CS + 100);
    let backup = encrypt(&data);
    assert_eq!(
        backup.len(),
        HEADER_LENGTH + 3 * RECORD + 100 + CHUNK_OVERHEAD
    );
    (data, backup)
}

#[test]
fn truncation_at_a_chunk_boundary() {
    let (_, backup) = four_chunks();
    for chunks in 0..=3 {
        let cut = &backup[..HEADER_LENGTH + chunks * RECORD];
        assert_eq!(
            decrypt(cut),
            Err(Error::Truncated {
                chunks_read: chunks as u64
            }),
            "{chunks}"
        );
    }
}

#[test]
fn dropping_the_last_chunk_is_truncation() {
    // An exact multiple of the chunk size ends with an empty chunk; dropping it leaves
    // a stream of full chunks only.
    let data = plaintext(2 * CS);
    let backup = encrypt(&data);
    assert_eq!(backup.len(), HEADER_LENGTH + 2 * RECORD + CHUNK_OVERHEAD);
    assert_eq!(
        decrypt(&backup[..backup.len() - CHUNK_OVERHEAD]),
        Err(Error::Truncated { chunks_read: 2 })
    );
    let (_, backup) = four_chunks();
    assert_eq!(
        decrypt(&backup[..record(3).start]),
        Err(Error::Truncated { chunks_read: 3 })
    );
}

#[test]
fn truncation_inside_a_chunk_is_that_chunk_corrupted() {
    let (_, backup) = four_chunks();
    for (cut, index) in [
        (record(1).start + 1, 1),
        (record(1).start + 15, 1),
        (record(1).start + 16, 1),
        (record(1).start + 500, 1),
        (record(2).end - 1, 2),
        (backup.len() - 1, 3),
        (backup.len() - 116 + 1, 3),
    ] {
        assert_eq!(
            decrypt(&backup[..cut]),
            Err(Error::CorruptedChunk { index }),
            "cut at {cut}"
        );
    }
}

#[test]
fn truncation_inside_the_header() {
    let (_, backup) = four_chunks();
    for cut in [0, 1, 7, 8, 9, 40, HEADER_LENGTH - 1] {
        assert_eq!(
            decrypt(&backup[..cut]),
            Err(Error::Truncated { chunks_read: 0 }),
            "cut at {cut}"
        );
    }
}

#[test]
fn reordering_chunks() {
    let (_, backup) = four_chunks();
    let mut swapped = backup.clone();
    swapped[record(0)].copy_from_slice(&backup[record(1)]);
    swapped[record(1)].copy_from_slice(&backup[record(0)]);
    assert_eq!(decrypt(&swapped), Err(Error::CorruptedChunk { index: 0 }));

    let mut swapped = backup.clone();
    swapped[record(1)].copy_from_slice(&backup[record(2)]);
    swapped[record(2)].copy_from_slice(&backup[record(1)]);
    assert_eq!(decrypt(&swapped), Err(Error::CorruptedChunk { index: 1 }));
}

#[test]
fn duplicating_a_chunk() {
    let (_, backup) = four_chunks();
    let mut duplicated = backup[..record(1).end].to_vec();
    duplicated.extend_from_slice(&backup[record(1)]);
    duplicated.extend_from_slice(&backup[record(2).start..]);
    assert_eq!(
        decrypt(&duplicated),
        Err(Error::CorruptedChunk { index: 2 })
    );

    // Replacing chunk 2 by a copy of chunk 1 (same length stream).
    let mut replaced = backup.clone();
    replaced[record(2)].copy_from_slice(&backup[record(1)]);
    assert_eq!(decrypt(&replaced), Err(Error::CorruptedChunk { index: 2 }));
}

#[test]
fn a_full_chunk_presented_as_last_fails() {
    // Cutting the stream right after a full chunk and re-presenting that chunk's
    // ciphertext as a short last chunk (dropping one byte) must not verify: the last
    // flag is in the nonce.
    let (_, backup) = four_chunks();
    let mut fake = backup[..record(1).start].to_vec();
    fake.extend_from_slice(&backup[record(1).start..record(1).end - 1]);
    assert_eq!(decrypt(&fake), Err(Error::CorruptedChunk { index: 1 }));
}

#[test]
fn appending_bytes_is_detected() {
    let (_, backup) = four_chunks();
    // The final chunk is found by the end of input, so appended bytes become part of
    // it and it no longer verifies.
    for extra in [1usize, 15, 16, 923, 924, 925, 5000] {
        let mut appended = backup.clone();
        appended.extend(std::iter::repeat_n(0xA5, extra));
        assert_eq!(
            decrypt(&appended),
            Err(Error::CorruptedChunk { index: 3 }),
            "{extra}"
        );
    }
    // Appending to a stream that ends with an empty chunk.
    let exact = encrypt(&plaintext(CS));
    let mut appended = exact.clone();
    appended.push(0);
    assert_eq!(decrypt(&appended), Err(Error::CorruptedChunk { index: 1 }));
}

#[test]
fn appending_a_valid_chunk_from_another_stream() {
    let (_, backup) = four_chunks();
    // Another stream under the same key: its chunks do not verify here (other salt),
    // wherever they are put.
    let other = encrypt_with(key(), &plaintext(5 * CS), CHUNK, b"", 99);
    let mut appended = backup.clone();
    appended.extend_from_slice(&other[record(4)]);
    assert_eq!(decrypt(&appended), Err(Error::CorruptedChunk { index: 3 }));
    // Replacing our final chunk by theirs.
    let mut replaced = backup[..record(3).start].to_vec();
    replaced.extend_from_slice(&other[record(4).start..]);
    assert_eq!(decrypt(&replaced), Err(Error::CorruptedChunk { index: 3 }));
    // Their full chunk after our full chunks, with their last chunk.
    let mut spliced = backup[..record(3).start].to_vec();
    spliced.extend_from_slice(&other[record(3).start..]);
    assert_eq!(decrypt(&spliced), Err(Error::CorruptedChunk { index: 3 }));
}

/// A reader that reports end of input once, then yields more bytes: the decoder must
/// look for the end after the final chunk and refuse what follows.
struct EofThenMore {
    first: io::Cursor<Vec<u8>>,
    eof_sent: bool,
    more: io::Cursor<Vec<u8>>,
}

impl Read for EofThenMore {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.first.read(buf)?;
        if n > 0 {
            return Ok(n);
        }
        if !self.eof_sent {
            self.eof_sent = true;
            return Ok(0);
        }
        self.more.read(buf)
    }
}

#[test]
fn data_after_the_end_of_input_is_trailing_data() {
    let (data, backup) = four_chunks();
    let source = || EofThenMore {
        first: io::Cursor::new(backup.clone()),
        eof_sent: false,
        more: io::Cursor::new(vec![1, 2, 3]),
    };
    assert_eq!(
        Decryptor::new(key()).decrypt(source(), &mut Vec::new()),
        Err(Error::TrailingData)
    );
    // The reader hands out the three full chunks but not the final one.
    let mut reader = Decryptor::new(key()).reader(source()).unwrap();
    let mut out = Vec::new();
    let error = reader.read_to_end(&mut out).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    assert_eq!(
        error.get_ref().unwrap().downcast_ref::<Error>(),
        Some(&Error::TrailingData)
    );
    assert_eq!(out, data[..3 * CS]);
}

#[test]
fn flipping_a_bit_in_each_header_field() {
    let (_, backup) = four_chunks();
    // (byte offset, expected error)
    let cases = [
        (0, Error::NotABackup),                           // magic
        (7, Error::NotABackup),                           // magic, last byte
        (8, Error::UnknownVersion(0)),                    // version 1 -> 0
        (9, Error::WrongKey),                             // backup id
        (24, Error::WrongKey),                            // backup id, last byte
        (25, Error::HeaderAuthentication),                // salt
        (56, Error::HeaderAuthentication),                // salt, last byte
        (59, Error::HeaderAuthentication),                // chunk size 1024 -> 1280: in bounds
        (61, Error::HeaderAuthentication),                // tag
        (HEADER_LENGTH - 1, Error::HeaderAuthentication), // tag, last byte
    ];
    for (offset, expected) in cases {
        for bit in [0u8, 7] {
            let mut flipped = backup.clone();
            flipped[offset] ^= 1 << bit;
            let expected = match (&expected, offset, bit) {
                (Error::UnknownVersion(_), _, b) => Error::UnknownVersion(1 ^ (1 << b)),
                _ => expected.clone(),
            };
            assert_eq!(decrypt(&flipped), Err(expected), "byte {offset} bit {bit}");
        }
    }
    // Chunk size out of bounds (top byte set: > 4 MiB; or all zero: < 1 KiB).
    let mut big = backup.clone();
    big[57] ^= 0x80;
    assert_eq!(decrypt(&big), Err(Error::Malformed("chunk size")));
    let mut small = backup.clone();
    small[59] = 0;
    assert_eq!(decrypt(&small), Err(Error::Malformed("chunk size")));
}

#[test]
fn header_checks_run_in_order() {
    let (_, backup) = four_chunks();
    // Bad magic wins over everything.
    let mut all_bad = backup.clone();
    all_bad[0] ^= 1;
    all_bad[8] = 9;
    all_bad[57] = 0xff;
    assert_eq!(decrypt(&all_bad), Err(Error::NotABackup));
    // Then the version.
    all_bad[0] ^= 1;
    assert_eq!(decrypt(&all_bad), Err(Error::UnknownVersion(9)));
    // Then the chunk size, before the key id.
    all_bad[8] = 1;
    all_bad[9] ^= 1;
    assert_eq!(decrypt(&all_bad), Err(Error::Malformed("chunk size")));
    // Then the key id, before the tag.
    all_bad[57] = 0;
    all_bad[61] ^= 1;
    assert_eq!(decrypt(&all_bad), Err(Error::WrongKey));
    // Not-a-backup on short garbage, truncated on a short prefix of the magic.
    assert_eq!(decrypt(b"PK\x03\x04"), Err(Error::NotABackup));
    assert_eq!(
        decrypt(&STREAM_MAGIC[..5]),
        Err(Error::Truncated { chunks_read: 0 })
    );
}

#[test]
fn flipping_a_bit_in_each_chunk() {
    let (_, backup) = four_chunks();
    for (index, offset) in [
        (0u64, record(0).start),
        (0, record(0).start + 500),
        (0, record(0).end - 1), // tag
        (1, record(1).start + 1023),
        (2, record(2).start + 7),
        (3, record(3).start),
        (3, backup.len() - 1),
    ] {
        let mut flipped = backup.clone();
        flipped[offset] ^= 0x10;
        assert_eq!(
            decrypt(&flipped),
            Err(Error::CorruptedChunk { index }),
            "offset {offset}"
        );
    }
}

#[test]
fn wrong_key_and_wrong_context() {
    let (_, backup) = four_chunks();
    assert_eq!(
        decrypt_with(other_key(), &backup, b""),
        Err(Error::WrongKey)
    );
    let bound = encrypt_with(key(), &plaintext(10), CHUNK, b"transcript hash", 3);
    assert_eq!(
        decrypt_with(key(), &bound, b"transcript hash").unwrap(),
        plaintext(10)
    );
    for context in [&b""[..], b"transcript has", b"transcript hash\0"] {
        assert_eq!(
            decrypt_with(key(), &bound, context),
            Err(Error::HeaderAuthentication),
            "{context:?}"
        );
    }
    assert_eq!(
        decrypt_with(key(), &backup, b"x"),
        Err(Error::HeaderAuthentication)
    );
}

#[test]
fn reader_never_yields_a_chunk_that_fails() {
    let (data, backup) = four_chunks();
    let mut corrupted = backup.clone();
    corrupted[record(1).start + 10] ^= 1;
    for read_size in [1, 100, CS, 4 * CS] {
        let (out, error) = read_all(&corrupted, read_size);
        assert_eq!(out, data[..CS], "read size {read_size}");
        assert_eq!(error, Some(Error::CorruptedChunk { index: 1 }));
    }
    // Decrypt writes chunk 0 and stops.
    let mut out = Vec::new();
    assert_eq!(
        Decryptor::new(key()).decrypt(&corrupted[..], &mut out),
        Err(Error::CorruptedChunk { index: 1 })
    );
    assert_eq!(out, data[..CS]);

    // A bad final chunk: nothing of it comes out.
    let mut corrupted = backup.clone();
    *corrupted.last_mut().unwrap() ^= 1;
    let (out, error) = read_all(&corrupted, 64);
    assert_eq!(out, data[..3 * CS]);
    assert_eq!(error, Some(Error::CorruptedChunk { index: 3 }));
}

#[test]
fn reader_errors_carry_kinds() {
    let (_, backup) = four_chunks();
    let mut reader = Decryptor::new(key())
        .reader(&backup[..record(2).start])
        .unwrap();
    let error = reader.read_to_end(&mut Vec::new()).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
    assert_eq!(
        error.get_ref().unwrap().downcast_ref::<Error>(),
        Some(&Error::Truncated { chunks_read: 2 })
    );

    // Header errors come from `reader` itself.
    assert_eq!(
        Decryptor::new(other_key()).reader(&backup[..]).err(),
        Some(Error::WrongKey)
    );

    /// A reader that fails after some bytes.
    struct Failing(usize);
    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::new(io::ErrorKind::ConnectionReset, "gone"));
            }
            let n = self.0.min(buf.len());
            buf[..n].fill(0);
            self.0 -= n;
            Ok(n)
        }
    }
    assert_eq!(
        Decryptor::new(key()).decrypt(Failing(3), io::sink()),
        Err(Error::Io(io::ErrorKind::ConnectionReset))
    );
    let chained = (&backup[..record(1).start]).chain(Failing(0));
    let mut reader = Decryptor::new(key()).reader(chained).unwrap();
    let error = reader.read_to_end(&mut Vec::new()).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::ConnectionReset);
    assert_eq!(
        error.get_ref().unwrap().downcast_ref::<Error>(),
        Some(&Error::Io(io::ErrorKind::ConnectionReset))
    );
}

#[test]
fn interrupted_reads_are_retried() {
    struct Interrupting<R>(R, bool);
    impl<R: Read> Read for Interrupting<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.1 = !self.1;
            if self.1 {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(37);
            self.0.read(&mut buf[..n])
        }
    }
    let (data, backup) = four_chunks();
    let mut out = Vec::new();
    Decryptor::new(key())
        .decrypt(Interrupting(&backup[..], false), &mut out)
        .unwrap();
    assert_eq!(out, data);
    let mut again = Vec::new();
    Encryptor::new(key())
        .chunk_size(CHUNK)
        .unwrap()
        .encrypt(&mut test_rng(1), Interrupting(&data[..], false), &mut again)
        .unwrap();
    assert_eq!(again, backup);
}

// ------------------------------------------------------------------------------------------
// Progress

#[test]
fn progress_callbacks() {
    let data = plaintext(2 * CS + 10);
    let seen = RefCell::new(Vec::new());
    let mut backup = Vec::new();
    Encryptor::new(key())
        .chunk_size(CHUNK)
        .unwrap()
        .total_len(data.len() as u64)
        .progress(|p| seen.borrow_mut().push(p))
        .encrypt(&mut test_rng(1), &data[..], &mut backup)
        .unwrap();
    let total = Some(data.len() as u64);
    assert_eq!(
        seen.take(),
        vec![
            Progress {
                bytes_done: CS as u64,
                bytes_total: total
            },
            Progress {
                bytes_done: 2 * CS as u64,
                bytes_total: total
            },
            Progress {
                bytes_done: 2 * CS as u64 + 10,
                bytes_total: total
            },
        ]
    );

    // Decryption counts backup bytes, header included.
    Decryptor::new(key())
        .total_len(backup.len() as u64)
        .progress(|p| seen.borrow_mut().push(p))
        .decrypt(&backup[..], io::sink())
        .unwrap();
    let total = Some(backup.len() as u64);
    let h = HEADER_LENGTH as u64;
    let r = RECORD as u64;
    assert_eq!(
        seen.take(),
        vec![
            Progress {
                bytes_done: h + r,
                bytes_total: total
            },
            Progress {
                bytes_done: h + 2 * r,
                bytes_total: total
            },
            Progress {
                bytes_done: backup.len() as u64,
                bytes_total: total
            },
        ]
    );

    // Without total_len, no total; the writer reports too.
    let mut writer = Encryptor::new(key())
        .chunk_size(CHUNK)
        .unwrap()
        .progress(|p| seen.borrow_mut().push(p))
        .writer(&mut test_rng(1), Vec::new())
        .unwrap();
    writer.write_all(&data[..CS + 1]).unwrap();
    let (_, summary) = writer.finish().unwrap();
    assert_eq!(summary.chunks, 2);
    assert_eq!(
        seen.take(),
        vec![
            Progress {
                bytes_done: CS as u64,
                bytes_total: None
            },
            Progress {
                bytes_done: CS as u64 + 1,
                bytes_total: None
            },
        ]
    );

    // A failed decryption reports only the chunks that verified.
    let mut corrupted = backup.clone();
    corrupted[record(1).start] ^= 1;
    let _ = Decryptor::new(key())
        .progress(|p| seen.borrow_mut().push(p))
        .decrypt(&corrupted[..], io::sink());
    assert_eq!(
        seen.take(),
        vec![Progress {
            bytes_done: h + r,
            bytes_total: None
        }]
    );
}

// ------------------------------------------------------------------------------------------
// BackupWriter

#[test]
fn writer_matches_encrypt_and_unfinished_is_truncated() {
    let data = plaintext(5 * CS + 3);
    let expected = encrypt(&data);
    for piece in [1, 5, CS - 1, CS, CS + 7, 10 * CS] {
        let mut writer = Encryptor::new(key())
            .chunk_size(CHUNK)
            .unwrap()
            .writer(&mut test_rng(1), Vec::new())
            .unwrap();
        for part in data.chunks(piece) {
            writer.write_all(part).unwrap();
        }
        writer.flush().unwrap();
        let (out, summary) = writer.finish().unwrap();
        assert_eq!(out, expected, "piece {piece}");
        assert_eq!(summary.plaintext_bytes, data.len() as u64);
        assert_eq!(summary.chunks, 6);
    }

    // Dropped without finish: decrypts as truncated.
    let mut sink = Vec::new();
    {
        let mut writer = Encryptor::new(key())
            .chunk_size(CHUNK)
            .unwrap()
            .writer(&mut test_rng(1), &mut sink)
            .unwrap();
        writer.write_all(&data[..2 * CS + 50]).unwrap();
    }
    assert_eq!(sink.len(), HEADER_LENGTH + 2 * RECORD);
    assert_eq!(decrypt(&sink), Err(Error::Truncated { chunks_read: 2 }));
}

#[test]
fn writer_stops_after_an_inner_error() {
    struct FailAfter(usize);
    impl Write for FailAfter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::ErrorKind::StorageFull.into());
            }
            let n = buf.len().min(self.0);
            self.0 -= n;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    assert_eq!(
        Encryptor::new(key())
            .writer(&mut test_rng(1), FailAfter(10))
            .err(),
        Some(Error::Io(io::ErrorKind::StorageFull))
    );
    let mut writer = Encryptor::new(key())
        .chunk_size(CHUNK)
        .unwrap()
        .writer(&mut test_rng(1), FailAfter(HEADER_LENGTH + 10))
        .unwrap();
    let error = writer.write_all(&plaintext(CS)).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::StorageFull);
    assert!(writer.write(b"x").is_err());
    assert_eq!(writer.finish().err(), Some(Error::Io(io::ErrorKind::Other)));
    assert_eq!(
        Encryptor::new(key())
            .encrypt(
                &mut test_rng(1),
                &plaintext(10)[..],
                FailAfter(HEADER_LENGTH + 5)
            )
            .err(),
        Some(Error::Io(io::ErrorKind::StorageFull))
    );
}

// ------------------------------------------------------------------------------------------
// Sans-IO core

#[test]
fn sans_io_round_trip_matches_the_adapters() {
    let data = plaintext(2 * CS + 77);
    let expected = encrypt(&data);
    let (header, mut sealer) = ChunkSealer::new(key(), b"", CHUNK, &mut test_rng(1)).unwrap();
    let mut out = header.encode().to_vec();
    let mut buf = Vec::with_capacity(RECORD);
    let pieces: Vec<&[u8]> = data.chunks(CS).collect();
    for (i, piece) in pieces.iter().enumerate() {
        buf.clear();
        buf.extend_from_slice(piece);
        let last = i == pieces.len() - 1;
        sealer.seal_chunk(&mut buf, last).unwrap();
        assert!(buf.capacity() == RECORD, "no reallocation");
        out.extend_from_slice(&buf);
    }
    assert!(sealer.is_finished());
    assert_eq!(sealer.chunks_sealed(), 3);
    assert_eq!(out, expected);

    let (decoded, used) = StreamHeader::decode(&out).unwrap();
    assert_eq!(decoded, header);
    assert_eq!(decoded.backup_id(), key().id());
    assert_eq!(decoded.encode().to_vec(), out[..used]);
    let mut opener = ChunkOpener::new(key(), b"", &decoded).unwrap();
    let mut restored = Vec::new();
    let records: Vec<&[u8]> = out[used..].chunks(RECORD).collect();
    for (i, record) in records.iter().enumerate() {
        buf.clear();
        buf.extend_from_slice(record);
        opener.open_chunk(&mut buf, i == records.len() - 1).unwrap();
        restored.extend_from_slice(&buf);
    }
    assert!(opener.is_finished());
    assert_eq!(restored, data);
    // Anything after the last chunk.
    buf.clear();
    buf.extend_from_slice(records[0]);
    assert_eq!(opener.open_chunk(&mut buf, true), Err(Error::TrailingData));
}

#[test]
fn sans_io_misuse_is_refused() {
    let (_, mut sealer) = ChunkSealer::new(key(), b"", CHUNK, &mut test_rng(1)).unwrap();
    let mut short = vec![0u8; CS - 1];
    assert_eq!(
        sealer.seal_chunk(&mut short, false),
        Err(Error::InvalidParameters("chunk length"))
    );
    assert_eq!(short.len(), CS - 1, "unchanged on error");
    let mut full = vec![0u8; CS];
    assert_eq!(
        sealer.seal_chunk(&mut full, true),
        Err(Error::InvalidParameters("chunk length"))
    );
    sealer.seal_chunk(&mut Vec::new(), true).unwrap();
    assert_eq!(
        sealer.seal_chunk(&mut Vec::new(), true),
        Err(Error::InvalidParameters("chunk after the last one"))
    );
    assert_eq!(
        ChunkSealer::new(key(), b"", 10, &mut test_rng(1)).err(),
        Some(Error::InvalidParameters("chunk size"))
    );

    // The opener: a failed chunk leaves the buffer and the opener as they were.
    let (data, backup) = four_chunks();
    let (header, used) = StreamHeader::decode(&backup).unwrap();
    let mut opener = ChunkOpener::new(key(), b"", &header).unwrap();
    let mut buf = backup[used..used + RECORD].to_vec();
    let before = buf.clone();
    assert_eq!(
        opener.open_chunk(&mut buf, true),
        Err(Error::CorruptedChunk { index: 0 })
    );
    buf.pop();
    assert_eq!(
        opener.open_chunk(&mut buf, false),
        Err(Error::CorruptedChunk { index: 0 })
    );
    buf.push(before[RECORD - 1] ^ 1);
    assert_eq!(
        opener.open_chunk(&mut buf, false),
        Err(Error::CorruptedChunk { index: 0 })
    );
    let mut tiny = vec![0u8; 15];
    assert_eq!(
        opener.open_chunk(&mut tiny, true),
        Err(Error::CorruptedChunk { index: 0 })
    );
    let mut buf = before.clone();
    opener.open_chunk(&mut buf, false).unwrap();
    assert_eq!(buf, data[..CS]);
    assert_eq!(opener.chunks_opened(), 1);
}

// ------------------------------------------------------------------------------------------
// Debug output holds no secrets

#[test]
fn debug_output_is_pinned() {
    let key = key();
    let id = key.id();
    assert_eq!(
        format!("{:?}", key),
        format!("BackupKey {{ id: BackupId({id}), .. }}")
    );
    assert_eq!(format!("{id:?}"), format!("BackupId({id})"));
    assert_eq!(id.to_string().len(), 32);
    let encryptor = Encryptor::new(key).context(b"abc");
    assert_eq!(
        format!("{encryptor:?}"),
        format!(
            "Encryptor {{ key: BackupKey {{ id: BackupId({id}), .. }}, context_len: 3, chunk_size: 65536, total: None, progress: false }}"
        )
    );
    let (header, sealer) = ChunkSealer::new(key, b"", CHUNK, &mut test_rng(1)).unwrap();
    assert_eq!(
        format!("{sealer:?}"),
        "ChunkSealer { chunk_size: 1024, next_index: 0, finished: false, .. }"
    );
    let opener = ChunkOpener::new(key, b"", &header).unwrap();
    assert_eq!(
        format!("{opener:?}"),
        "ChunkOpener { chunk_size: 1024, next_index: 0, finished: false, .. }"
    );
}

// ------------------------------------------------------------------------------------------
// Properties

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn round_trip_any_size(len in 0usize..9000, chunk in 1024u32..3000, seed: u64) {
        let data = plaintext(len);
        let backup = encrypt_with(key(), &data, chunk, b"ctx", seed);
        let cs = chunk as usize;
        prop_assert_eq!(backup.len(), HEADER_LENGTH + len + (len / cs + 1) * CHUNK_OVERHEAD);
        prop_assert_eq!(decrypt_with(key(), &backup, b"ctx").unwrap(), data);
    }

    #[test]
    fn every_truncation_fails(len in 0usize..4000, cut_seed: usize) {
        let data = plaintext(len);
        let backup = encrypt(&data);
        let cut = cut_seed % backup.len();
        prop_assert!(decrypt(&backup[..cut]).is_err());
    }

    #[test]
    fn every_bit_flip_fails(len in 0usize..4000, at: usize, bit in 0u8..8) {
        let data = plaintext(len);
        let mut backup = encrypt(&data);
        let at = at % backup.len();
        backup[at] ^= 1 << bit;
        prop_assert!(decrypt(&backup).is_err());
    }
}
