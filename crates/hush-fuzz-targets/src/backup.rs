//! Targets for `hush-backup`'s parsers: the stream header, whole streams (through the
//! `Read` adapter, the `Write`-side decryptor and the sans-IO opener, which must agree),
//! recovery codes, and password-wrapped keys (decoding only: Argon2 never runs on fuzzer
//! parameters).

use std::io::Read as _;

use hush_backup::stream::{CHUNK_OVERHEAD, HEADER_LENGTH};
use hush_backup::{
    BackupKey, ChunkOpener, Decryptor, Encryptor, Error, PasswordWrappedKey, RecoveryCode,
    StreamHeader,
};
use hush_test_support::test_rng;

/// The key of [`backup_stream`]'s decryptions (and of its seed corpus).
pub const FIXED_BACKUP_KEY: [u8; 32] = [0x11; 32];

/// The context of [`backup_stream`]'s decryptions (and of its seed corpus).
pub const FIXED_BACKUP_CONTEXT: &[u8] = b"fuzz";

/// `StreamHeader::decode`: a decoded header re-encodes to the bytes it took, which decode
/// to the same header.
pub fn backup_header(data: &[u8]) {
    let Ok((header, used)) = StreamHeader::decode(data) else {
        return;
    };
    assert_eq!(used, HEADER_LENGTH);
    let encoded = header.encode();
    assert_eq!(
        Some(&encoded[..]),
        data.get(..used),
        "header does not re-encode"
    );
    let again = StreamHeader::decode(&encoded);
    assert!(
        again.is_ok_and(|(h, n)| h == header && n == used),
        "header does not round-trip"
    );
}

/// Decrypts with the sans-IO core: the header, then records of `chunk size + 16`
/// bytes, the last one short. Returns the plaintext or the error, as the adapters must.
fn open_sans_io(key: &BackupKey, data: &[u8]) -> Result<Vec<u8>, Error> {
    let (header, used) = StreamHeader::decode(data)?;
    let mut opener = ChunkOpener::new(key, FIXED_BACKUP_CONTEXT, &header)?;
    let record = usize::try_from(header.chunk_size()).unwrap_or(usize::MAX) + CHUNK_OVERHEAD;
    let mut rest = data.get(used..).unwrap_or_default();
    let mut out = Vec::new();
    let mut buf = Vec::with_capacity(record);
    loop {
        if rest.is_empty() {
            return Err(Error::Truncated {
                chunks_read: opener.chunks_opened(),
            });
        }
        let take = rest.len().min(record);
        let (this, next) = rest.split_at(take);
        let last = take < record;
        buf.clear();
        buf.extend_from_slice(this);
        opener.open_chunk(&mut buf, last)?;
        out.extend_from_slice(&buf);
        rest = next;
        if last {
            return Ok(out);
        }
    }
}

/// Decrypts arbitrary bytes under [`FIXED_BACKUP_KEY`] three ways — `Decryptor::decrypt`,
/// `BackupReader` read in odd-sized pieces, and the sans-IO opener — which must give the
/// same plaintext or the same error; the reader must hand out exactly what `decrypt`
/// wrote before failing. A stream that decrypts is re-encrypted with its chunk size and
/// must decrypt to the same plaintext.
pub fn backup_stream(data: &[u8]) {
    let key = BackupKey::from_bytes(FIXED_BACKUP_KEY);

    let mut written = Vec::new();
    let result = Decryptor::new(&key)
        .context(FIXED_BACKUP_CONTEXT)
        .decrypt(data, &mut written);

    let mut read = Vec::new();
    let read_result = match Decryptor::new(&key)
        .context(FIXED_BACKUP_CONTEXT)
        .reader(data)
    {
        Ok(mut reader) => {
            let mut piece = [0u8; 777];
            loop {
                match reader.read(&mut piece) {
                    Ok(0) => break Ok(reader.summary()),
                    Ok(n) => read.extend_from_slice(piece.get(..n).unwrap_or_default()),
                    Err(e) => {
                        let inner = e.get_ref().and_then(|i| i.downcast_ref::<Error>()).cloned();
                        assert!(inner.is_some(), "reader error without a hush_backup::Error");
                        break Err(inner);
                    }
                }
            }
        }
        Err(e) => Err(Some(e)),
    };
    assert_eq!(
        read, written,
        "reader and decrypt handed out different bytes"
    );

    let sans_io = open_sans_io(&key, data);
    match &result {
        Ok(summary) => {
            assert_eq!(sans_io.as_deref(), Ok(&written[..]), "sans-IO disagrees");
            assert_eq!(read_result, Ok(Some(*summary)), "reader disagrees");
            assert_eq!(summary.plaintext_bytes, written.len() as u64);
            assert_eq!(summary.backup_id, key.id());

            // Round trip with the same chunk size.
            let header = StreamHeader::decode(data);
            assert!(header.is_ok(), "a stream that decrypted has no header");
            let Ok((header, _)) = header else { return };
            let mut again = Vec::new();
            let encrypted = Encryptor::new(&key)
                .context(FIXED_BACKUP_CONTEXT)
                .chunk_size(header.chunk_size())
                .and_then(|e| e.encrypt(&mut test_rng(1), &written[..], &mut again));
            assert!(encrypted.is_ok(), "re-encryption failed");
            let mut restored = Vec::new();
            let decrypted = Decryptor::new(&key)
                .context(FIXED_BACKUP_CONTEXT)
                .decrypt(&again[..], &mut restored);
            assert!(
                decrypted.is_ok() && restored == written,
                "round trip failed"
            );
        }
        Err(error) => {
            assert_eq!(sans_io.err().as_ref(), Some(error), "sans-IO disagrees");
            assert_eq!(read_result, Err(Some(error.clone())), "reader disagrees");
        }
    }
}

/// `RecoveryCode::parse` on any UTF-8: what parses shows as 16 groups of 4 that parse to
/// the same code, as do its lower-case and dashed forms.
pub fn recovery_code(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(code) = RecoveryCode::parse(text) else {
        return;
    };
    let shown = code.to_grouped_string();
    assert_eq!(shown.len(), 79);
    assert!(
        shown.split(' ').all(|g| g.len() == 4
            && g.bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())),
        "bad grouping"
    );
    for form in [
        shown.to_string(),
        shown.to_lowercase(),
        shown.replace(' ', "-"),
    ] {
        assert!(
            RecoveryCode::parse(&form).is_ok_and(|again| again == code),
            "recovery code does not round-trip"
        );
    }
}

/// `PasswordWrappedKey::decode`: what decodes has bounded parameters and re-encodes to
/// the same bytes. Never unwraps (that would run Argon2 with whatever parameters the
/// input holds, within the bounds, which is too slow for fuzzing).
pub fn password_wrapped_key(data: &[u8]) {
    let Ok(wrapped) = PasswordWrappedKey::decode(data) else {
        return;
    };
    assert!(
        wrapped.params().validate().is_ok(),
        "unbounded parameters decoded"
    );
    let encoded = wrapped.encode();
    assert_eq!(encoded, data, "wrapped key does not re-encode");
    assert!(
        PasswordWrappedKey::decode(&encoded).is_ok_and(|again| again == wrapped),
        "wrapped key does not round-trip"
    );
}
