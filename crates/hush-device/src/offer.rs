//! The linking offer: what the new (companion) device shows as a QR code.

use core::fmt;

use hush_core::kdf::hmac_sha256;
use hush_core::{IdentityKey, PublicKey};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::codec::{Reader, check_version};
use crate::error::{Error, Result};
use crate::labels;
use crate::limits::{MAX_OFFER_TEXT_LEN, MAX_SERVER_REFERENCE_LEN};

/// Version byte of the binary offer. Version 2 has version 1's layout; it names the
/// linking protocol of `docs/wire/linking.md` version 2 (user id in the metadata,
/// membership signature in the countersignature), so a primary refuses a version-1
/// companion's offer before answering it.
pub const OFFER_VERSION: u8 = 2;

/// Length of the linking secret.
pub const LINKING_SECRET_LENGTH: usize = 32;

/// Bytes of an offer before the server reference: version 1, ephemeral key 32, linking
/// secret 32, companion identity key 33, expiry 8, reference length 1.
const OFFER_FIXED_LEN: usize = 1 + 32 + LINKING_SECRET_LENGTH + 33 + 8 + 1;

/// Shortest binary offer (a 1-byte server reference).
pub const MIN_OFFER_LEN: usize = OFFER_FIXED_LEN + 1;

/// Longest binary offer (a server reference of [`MAX_SERVER_REFERENCE_LEN`] bytes).
pub const MAX_OFFER_LEN: usize = OFFER_FIXED_LEN + MAX_SERVER_REFERENCE_LEN;

/// Identifies an offer in the primary's replay set: the offer's ephemeral public key
/// (bare 32-byte u-coordinate). Not secret.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct OfferId(pub(crate) [u8; 32]);

impl OfferId {
    /// The 32 bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// The 32-byte secret a QR code carries from the companion to the primary. Wiped on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct LinkingSecret(pub(crate) [u8; LINKING_SECRET_LENGTH]);

/// A linking offer: ephemeral X25519 public key, linking secret, the companion's
/// identity key, an expiry time and the server's reference for the linking.
///
/// It holds the linking secret: it is wiped on drop, never printed, and its encodings
/// come back in [`Zeroizing`] wrappers. Layout: `docs/wire/linking.md`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct LinkingOffer {
    #[zeroize(skip)]
    pub(crate) ephemeral: PublicKey,
    pub(crate) secret: LinkingSecret,
    #[zeroize(skip)]
    pub(crate) companion_identity: IdentityKey,
    pub(crate) expires_at_ms: u64,
    pub(crate) server_reference: Vec<u8>,
}

impl LinkingOffer {
    /// The offer's ephemeral public key.
    #[must_use]
    pub const fn ephemeral_key(&self) -> &PublicKey {
        &self.ephemeral
    }

    /// The companion's identity key.
    #[must_use]
    pub const fn companion_identity(&self) -> &IdentityKey {
        &self.companion_identity
    }

    /// When the offer expires (ms since the Unix epoch). It is valid up to and including
    /// this instant.
    #[must_use]
    pub const fn expires_at_ms(&self) -> u64 {
        self.expires_at_ms
    }

    /// The server-issued reference.
    #[must_use]
    pub fn server_reference(&self) -> &[u8] {
        &self.server_reference
    }

    /// The id the primary remembers to refuse a second use.
    #[must_use]
    pub const fn id(&self) -> OfferId {
        OfferId(*self.ephemeral.as_montgomery_bytes())
    }

    /// The binary form (see `docs/wire/linking.md`).
    #[must_use]
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(
            OFFER_FIXED_LEN + self.server_reference.len(),
        ));
        out.push(OFFER_VERSION);
        out.extend_from_slice(self.ephemeral.as_montgomery_bytes());
        out.extend_from_slice(&self.secret.0);
        self.push_public_tail(&mut out);
        out
    }

    fn push_public_tail(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.companion_identity.encode());
        out.extend_from_slice(&self.expires_at_ms.to_be_bytes());
        // The length is at most MAX_SERVER_REFERENCE_LEN (checked on every path that
        // builds an offer), so it fits a byte.
        out.push(u8::try_from(self.server_reference.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(&self.server_reference);
    }

    /// The text put in the QR code: Base45 of [`LinkingOffer::encode`].
    #[must_use]
    pub fn to_qr_text(&self) -> Zeroizing<String> {
        Zeroizing::new(crate::base45::encode(&self.encode()))
    }

    /// Decodes the binary form.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`]`("linking offer")` for an empty input, a wrong length, an
    /// ephemeral key that is not canonical (top bit set, or not below 2^255 - 19), a bad
    /// identity key, an empty or over-long server reference or trailing bytes;
    /// [`Error::UnknownVersion`] for a version byte other than [`OFFER_VERSION`].
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "linking offer";
        check_version(bytes, OFFER_VERSION, WHAT)?;
        if !(MIN_OFFER_LEN..=MAX_OFFER_LEN).contains(&bytes.len()) {
            return Err(Error::Malformed(WHAT));
        }
        let mut r = Reader::new(bytes, WHAT);
        r.u8()?;
        let ephemeral = PublicKey::from_montgomery_bytes(r.array()?);
        // One encoding per key: X25519 ignores the top bit (and reduces modulo p), so a
        // replay with that bit flipped would be the same offer under another id.
        if !ephemeral.is_canonical() {
            return Err(Error::Malformed(WHAT));
        }
        let secret = LinkingSecret(r.array()?);
        let companion_identity = r.identity_key()?;
        let expires_at_ms = r.u64()?;
        let len = usize::from(r.u8()?);
        if len == 0 || len > MAX_SERVER_REFERENCE_LEN {
            return Err(Error::Malformed(WHAT));
        }
        let server_reference = r.take(len)?.to_vec();
        r.finish()?;
        Ok(Self {
            ephemeral,
            secret,
            companion_identity,
            expires_at_ms,
            server_reference,
        })
    }

    /// Decodes the QR text (Base45). Surrounding ASCII whitespace is ignored except the
    /// space character, which is part of the Base45 alphabet.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`]`("base45")` for text that is not Base45 or longer than
    /// [`MAX_OFFER_TEXT_LEN`], then the errors of [`LinkingOffer::decode`].
    pub fn from_qr_text(text: &str) -> Result<Self> {
        let text = text.trim_matches(|c: char| c.is_ascii_whitespace() && c != ' ');
        if text.len() > MAX_OFFER_TEXT_LEN {
            return Err(Error::Malformed("base45"));
        }
        let bytes = Zeroizing::new(crate::base45::decode(text)?);
        Self::decode(&bytes)
    }

    /// HMAC-SHA256 keyed with [`labels::OFFER_PUBLIC_HASH`] over the offer without its
    /// linking secret: the HKDF salt of the linking-message key.
    pub(crate) fn public_hash(&self) -> [u8; 32] {
        let mut data = Vec::with_capacity(MAX_OFFER_LEN);
        data.push(OFFER_VERSION);
        data.extend_from_slice(self.ephemeral.as_montgomery_bytes());
        self.push_public_tail(&mut data);
        *hmac_sha256(labels::OFFER_PUBLIC_HASH, &data)
    }
}

impl PartialEq for LinkingOffer {
    fn eq(&self, other: &Self) -> bool {
        self.encode()
            .as_slice()
            .ct_eq(other.encode().as_slice())
            .into()
    }
}

impl Eq for LinkingOffer {}

impl fmt::Debug for LinkingOffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            ephemeral,
            secret: _,
            companion_identity,
            expires_at_ms,
            server_reference,
        } = self;
        f.debug_struct("LinkingOffer")
            .field("ephemeral", ephemeral)
            .field("companion_identity", companion_identity)
            .field("expires_at_ms", expires_at_ms)
            .field("server_reference_len", &server_reference.len())
            .finish_non_exhaustive()
    }
}
