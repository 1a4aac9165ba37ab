//! Framing shared by hush's own formats: a [`FORMAT_VERSION`] byte, then a protobuf body
//! whose top-level fields are scanned (see [`crate::scan`]) before prost decodes it.

use prost::Message;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::limits::{FORMAT_VERSION, MAX_PREKEY_ID};
use crate::scan::{FieldSpec, ScanError, scan};

/// Checks the length limit and the version byte, then scans the body. Returns the body
/// and how often each field of `specs` occurs.
pub(crate) fn open<'a, const N: usize>(
    bytes: &'a [u8],
    what: &'static str,
    limit: usize,
    specs: &[FieldSpec; N],
) -> Result<(&'a [u8], [usize; N])> {
    if bytes.len() > limit {
        return Err(Error::TooLarge {
            what,
            limit,
            actual: bytes.len(),
        });
    }
    let (&version, body) = bytes.split_first().ok_or(Error::Empty(what))?;
    if version != FORMAT_VERSION {
        return Err(Error::UnsupportedVersion { what, version });
    }
    let counts = scan(body, specs, false).map_err(|e| scan_error(what, e))?;
    Ok((body, counts))
}

pub(crate) const fn scan_error(what: &'static str, error: ScanError) -> Error {
    match error {
        ScanError::Truncated => Error::Truncated(what),
        ScanError::Malformed(reason) => Error::Malformed { what, reason },
    }
}

/// Decodes a body that already passed [`open`] or [`scan`].
pub(crate) fn decode_body<M: Message + Default>(body: &[u8], what: &'static str) -> Result<M> {
    M::decode(body).map_err(|_| Error::Malformed {
        what,
        reason: "not a valid protobuf message",
    })
}

/// The version byte followed by `message`.
pub(crate) fn seal(message: &impl Message) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + message.encoded_len());
    out.push(FORMAT_VERSION);
    message.encode_raw(&mut out);
    out
}

/// As [`seal`], for messages holding secrets: written into a buffer of the exact size
/// (so it never reallocates and leaves copies behind) that is wiped when dropped.
pub(crate) fn seal_secret(message: &impl Message) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(1 + message.encoded_len()));
    out.push(FORMAT_VERSION);
    message.encode_raw(&mut *out);
    out
}

/// As [`seal_secret`], without the version byte (libsignal's record form).
pub(crate) fn encode_secret(message: &impl Message) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(message.encoded_len()));
    message.encode_raw(&mut *out);
    out
}

pub(crate) const fn check_id(what: &'static str, id: u32) -> Result<u32> {
    if id > MAX_PREKEY_ID {
        Err(Error::IdOutOfRange { what, id })
    } else {
        Ok(id)
    }
}

pub(crate) fn invalid(
    what: &'static str,
    field: &'static str,
) -> impl Fn(hush_core::Error) -> Error {
    move |error| Error::InvalidField { what, field, error }
}
