//! AES-256-CBC with PKCS#7 padding (libsignal's message body cipher) and AES-256-GCM.

use core::fmt;

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use aes_gcm::aead::{AeadInOut, KeyInit};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// AES-256 key length.
pub const AES_256_KEY_LENGTH: usize = 32;
/// AES-CBC IV length.
pub const CBC_IV_LENGTH: usize = 16;
/// AES-GCM nonce length (96 bits; the only size hush uses).
pub const GCM_NONCE_LENGTH: usize = 12;
/// AES-GCM tag length.
pub const GCM_TAG_LENGTH: usize = 16;

/// Encrypts with AES-256-CBC and PKCS#7 padding.
#[must_use]
pub fn aes256_cbc_encrypt(
    key: &[u8; AES_256_KEY_LENGTH],
    iv: &[u8; CBC_IV_LENGTH],
    plaintext: &[u8],
) -> Vec<u8> {
    cbc::Encryptor::<aes::Aes256>::new(key.into(), iv.into()).encrypt_padded_vec::<Pkcs7>(plaintext)
}

/// Decrypts AES-256-CBC and removes PKCS#7 padding.
///
/// CBC is not authenticated: callers verify a MAC over the ciphertext first, as every
/// hush protocol does.
///
/// # Errors
///
/// [`Error::DecryptionFailed`] if the length is not a positive multiple of 16 or the
/// padding is malformed.
pub fn aes256_cbc_decrypt(
    key: &[u8; AES_256_KEY_LENGTH],
    iv: &[u8; CBC_IV_LENGTH],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(16) {
        return Err(Error::DecryptionFailed);
    }
    cbc::Decryptor::<aes::Aes256>::new(key.into(), iv.into())
        .decrypt_padded_vec::<Pkcs7>(ciphertext)
        .map(Zeroizing::new)
        .map_err(|_| Error::DecryptionFailed)
}

/// An AES-256-GCM key with its key schedule expanded once, for sealing many messages or
/// chunks. The expanded key (and GHASH key) is wiped when dropped.
#[derive(Clone)]
pub struct Aes256GcmKey {
    cipher: aes_gcm::Aes256Gcm,
}

impl Aes256GcmKey {
    /// Expands `key`.
    #[must_use]
    pub fn new(key: &[u8; AES_256_KEY_LENGTH]) -> Self {
        Self {
            cipher: aes_gcm::Aes256Gcm::new(key.into()),
        }
    }

    /// Encrypts `buffer` in place and returns the tag.
    pub fn seal_in_place(
        &self,
        nonce: &[u8; GCM_NONCE_LENGTH],
        aad: &[u8],
        buffer: &mut [u8],
    ) -> [u8; GCM_TAG_LENGTH] {
        // Encryption fails only for messages over 2^36 bytes, which no slice on a 64-bit
        // machine handed to hush reaches; the tag of an empty result is never used then.
        self.cipher
            .encrypt_inout_detached(nonce.into(), aad, buffer.into())
            .map(Into::into)
            .unwrap_or([0u8; GCM_TAG_LENGTH])
    }

    /// Checks `tag` and, only if it is right, decrypts `buffer` in place.
    ///
    /// # Errors
    ///
    /// [`Error::DecryptionFailed`] if the tag does not match; `buffer` is then left as
    /// it was given.
    pub fn open_in_place(
        &self,
        nonce: &[u8; GCM_NONCE_LENGTH],
        aad: &[u8],
        buffer: &mut [u8],
        tag: &[u8; GCM_TAG_LENGTH],
    ) -> Result<()> {
        self.cipher
            .decrypt_inout_detached(nonce.into(), aad, buffer.into(), tag.into())
            .map_err(|_| Error::DecryptionFailed)
    }

    /// Encrypts `plaintext`, returning ciphertext followed by the 16-byte tag.
    #[must_use]
    pub fn seal(&self, nonce: &[u8; GCM_NONCE_LENGTH], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(plaintext.len() + GCM_TAG_LENGTH);
        out.extend_from_slice(plaintext);
        let tag = self.seal_in_place(nonce, aad, &mut out);
        out.extend_from_slice(&tag);
        out
    }

    /// Decrypts ciphertext-then-tag as made by [`Aes256GcmKey::seal`].
    ///
    /// # Errors
    ///
    /// [`Error::DecryptionFailed`] if the input is shorter than a tag or does not
    /// authenticate.
    pub fn open(
        &self,
        nonce: &[u8; GCM_NONCE_LENGTH],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let split = sealed
            .len()
            .checked_sub(GCM_TAG_LENGTH)
            .ok_or(Error::DecryptionFailed)?;
        let (ciphertext, tag) = sealed.split_at(split);
        let tag: &[u8; GCM_TAG_LENGTH] = tag.try_into().map_err(|_| Error::DecryptionFailed)?;
        let mut buffer = Zeroizing::new(ciphertext.to_vec());
        self.open_in_place(nonce, aad, &mut buffer, tag)?;
        Ok(buffer)
    }
}

impl fmt::Debug for Aes256GcmKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Aes256GcmKey").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compiles only if the expanded keys wipe themselves: the `zeroize` features of
    /// `aes` and `aes-gcm` must stay on (root `Cargo.toml`).
    #[test]
    fn expanded_keys_are_wiped_on_drop() {
        fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        wiped_on_drop::<aes_gcm::Aes256Gcm>();
        wiped_on_drop::<aes::Aes256>();
    }

    #[test]
    fn cbc_round_trip_and_bad_padding() {
        let key = [3u8; 32];
        let iv = [4u8; 16];
        for len in [0usize, 1, 15, 16, 17, 100] {
            let pt = vec![0x5a; len];
            let ct = aes256_cbc_encrypt(&key, &iv, &pt);
            assert_eq!(ct.len(), (len / 16 + 1) * 16);
            assert_eq!(
                aes256_cbc_decrypt(&key, &iv, &ct).unwrap().as_slice(),
                pt.as_slice()
            );
        }
        assert_eq!(
            aes256_cbc_decrypt(&key, &iv, &[]),
            Err(Error::DecryptionFailed)
        );
        assert_eq!(
            aes256_cbc_decrypt(&key, &iv, &[0; 15]),
            Err(Error::DecryptionFailed)
        );
        // A block that decrypts to garbage padding (with overwhelming probability).
        assert_eq!(
            aes256_cbc_decrypt(&key, &iv, &[0; 16]),
            Err(Error::DecryptionFailed)
        );
    }

    #[test]
    fn gcm_round_trip_and_tamper() {
        let key = Aes256GcmKey::new(&[1u8; 32]);
        let nonce = [2u8; 12];
        let sealed = key.seal(&nonce, b"aad", b"hello");
        assert_eq!(
            key.open(&nonce, b"aad", &sealed).unwrap().as_slice(),
            b"hello"
        );
        assert_eq!(
            key.open(&nonce, b"aaD", &sealed),
            Err(Error::DecryptionFailed)
        );
        let mut flipped = sealed.clone();
        flipped[0] ^= 1;
        assert_eq!(
            key.open(&nonce, b"aad", &flipped),
            Err(Error::DecryptionFailed)
        );
        assert_eq!(
            key.open(&nonce, b"aad", &sealed[..15]),
            Err(Error::DecryptionFailed)
        );
    }

    #[test]
    fn gcm_open_in_place_leaves_buffer_on_failure() {
        let key = Aes256GcmKey::new(&[1u8; 32]);
        let nonce = [2u8; 12];
        let mut buffer = *b"some text";
        let tag = key.seal_in_place(&nonce, b"", &mut buffer);
        let sealed = buffer;
        let mut bad_tag = tag;
        bad_tag[0] ^= 1;
        assert!(
            key.open_in_place(&nonce, b"", &mut buffer, &bad_tag)
                .is_err()
        );
        assert_eq!(buffer, sealed);
        key.open_in_place(&nonce, b"", &mut buffer, &tag).unwrap();
        assert_eq!(&buffer, b"some text");
    }
}
