//! A bounds-checked byte reader for the decoders (every read returns `Result`).

use hush_core::{IdentityKey, Signature};

use crate::error::{Error, Result};

/// Reads fixed-size fields from a byte slice, failing with `Malformed(what)` on
/// truncation.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) const fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Self { bytes, what }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.bytes.len() < n {
            return Err(Error::Malformed(self.what));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        self.take(N)?
            .try_into()
            .map_err(|_| Error::Malformed(self.what))
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        let [b] = self.array::<1>()?;
        Ok(b)
    }

    pub(crate) fn u16(&mut self) -> Result<u16> {
        self.array().map(u16::from_be_bytes)
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        self.array().map(u32::from_be_bytes)
    }

    pub(crate) fn u64(&mut self) -> Result<u64> {
        self.array().map(u64::from_be_bytes)
    }

    pub(crate) fn identity_key(&mut self) -> Result<IdentityKey> {
        let what = self.what;
        IdentityKey::decode(self.take(hush_core::curve::PUBLIC_KEY_LENGTH)?)
            .map_err(|_| Error::Malformed(what))
    }

    pub(crate) fn signature(&mut self) -> Result<Signature> {
        self.array().map(Signature::from_bytes)
    }

    pub(crate) const fn remaining(&self) -> usize {
        self.bytes.len()
    }

    pub(crate) const fn rest(&self) -> &'a [u8] {
        self.bytes
    }

    /// Fails unless every byte has been read.
    pub(crate) fn finish(self) -> Result<()> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(Error::Malformed(self.what))
        }
    }
}

/// Reads the version byte of `bytes`: `Malformed(what)` if empty, `UnknownVersion` if
/// not `expected`.
pub(crate) fn check_version(bytes: &[u8], expected: u8, what: &'static str) -> Result<()> {
    match bytes.first() {
        None => Err(Error::Malformed(what)),
        Some(&v) if v == expected => Ok(()),
        Some(&v) => Err(Error::UnknownVersion(v)),
    }
}
