//! The PQXDH / X3DH computation.

use core::fmt;

use hush_core::kdf::{constant_time_eq, hkdf_sha256_parts};
use hush_core::rng::CryptoRng;
use hush_core::{
    IdentityKey, IdentityKeyPair, KemCiphertext, KemPublicKey, KemSecretKey, KeyPair, PrivateKey,
    PublicKey, Signature,
};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Error, Result};
use crate::trust::{IdentityTrust, require_trusted};

/// KDF label of PQXDH (libsignal's, whichever KEM the prekey uses).
const PQXDH_INFO: &[u8] = b"WhisperText_X25519_SHA-256_CRYSTALS-KYBER-1024";
/// KDF label of classic X3DH.
const X3DH_INFO: &[u8] = b"WhisperText";
/// The 32 bytes of 0xff put in front of the DH outputs (X3DH's curve "discontinuity").
const DISCONTINUITY: [u8; 32] = [0xff; 32];

/// Which agreement to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AgreementMode {
    /// PQXDH, as libsignal runs it: a signed KEM prekey is required on both sides.
    #[default]
    Pqxdh,
    /// Classic X3DH without a KEM. Not accepted by libsignal; only for deployments that
    /// control both ends and choose it explicitly.
    ClassicX3dh,
}

/// What the initiator takes from the responder's prekey bundle.
#[derive(Debug, Clone)]
pub struct PeerPreKeys {
    /// The responder's identity key.
    pub identity_key: IdentityKey,
    /// The responder's signed prekey.
    pub signed_prekey: PublicKey,
    /// The identity key's signature over the signed prekey's 33-byte encoding.
    pub signed_prekey_signature: Signature,
    /// A one-time prekey, when the server had one.
    pub one_time_prekey: Option<PublicKey>,
    /// The KEM prekey and the identity key's signature over its typed encoding.
    pub kem_prekey: Option<(KemPublicKey, Signature)>,
}

/// The responder's private prekeys named by the initiator's first message.
#[derive(Debug, Clone, Copy)]
pub struct ResponderPreKeys<'a> {
    /// The signed prekey the initiator used.
    pub signed_prekey: &'a KeyPair,
    /// The one-time prekey the initiator used, if any.
    pub one_time_prekey: Option<&'a KeyPair>,
    /// The KEM prekey's secret key, if the initiator used one.
    pub kem_prekey: Option<&'a KemSecretKey>,
}

/// The first root key and chain key both sides derive, and in PQXDH the SPQR auth key.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SessionSecrets {
    root_key: [u8; 32],
    chain_key: [u8; 32],
    /// PQXDH's third 32 output bytes; `None` in classic X3DH, which derives only 64.
    spqr_auth_key: Option<[u8; 32]>,
}

impl SessionSecrets {
    /// The first root key.
    #[must_use]
    pub const fn root_key(&self) -> &[u8; 32] {
        &self.root_key
    }

    /// The first chain key: the initiator's first receiving chain and the responder's
    /// first sending chain.
    #[must_use]
    pub const fn chain_key(&self) -> &[u8; 32] {
        &self.chain_key
    }

    /// The auth key the Sparse Post-Quantum Ratchet (`hush-spqr`) starts from: bytes 64..96
    /// of PQXDH's output, as libsignal derives it. `None` for classic X3DH, which has no
    /// post-quantum part.
    #[must_use]
    pub const fn spqr_auth_key(&self) -> Option<&[u8; 32]> {
        self.spqr_auth_key.as_ref()
    }
}

impl PartialEq for SessionSecrets {
    fn eq(&self, other: &Self) -> bool {
        let root = constant_time_eq(&self.root_key, &other.root_key);
        let chain = constant_time_eq(&self.chain_key, &other.chain_key);
        let spqr = match (&self.spqr_auth_key, &other.spqr_auth_key) {
            (Some(a), Some(b)) => constant_time_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        root & chain & spqr
    }
}

impl Eq for SessionSecrets {}

impl fmt::Debug for SessionSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionSecrets").finish_non_exhaustive()
    }
}

/// The initiator's result: the secrets plus what goes into its first message.
pub struct Initiated {
    secrets: SessionSecrets,
    base_key: PublicKey,
    kem_ciphertext: Option<KemCiphertext>,
}

impl Initiated {
    /// The derived secrets.
    #[must_use]
    pub const fn secrets(&self) -> &SessionSecrets {
        &self.secrets
    }

    /// The public base key to send.
    #[must_use]
    pub const fn base_key(&self) -> PublicKey {
        self.base_key
    }

    /// The KEM ciphertext to send (PQXDH only).
    #[must_use]
    pub const fn kem_ciphertext(&self) -> Option<&KemCiphertext> {
        self.kem_ciphertext.as_ref()
    }

    /// Splits into parts.
    #[must_use]
    pub fn into_parts(self) -> (SessionSecrets, PublicKey, Option<KemCiphertext>) {
        (self.secrets, self.base_key, self.kem_ciphertext)
    }
}

impl fmt::Debug for Initiated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Initiated")
            .field("base_key", &self.base_key)
            .field(
                "kem",
                &self.kem_ciphertext.as_ref().map(KemCiphertext::key_type),
            )
            .finish_non_exhaustive()
    }
}

/// Runs the initiator's side against a peer's prekeys.
///
/// Checks the signed prekey signature (and in PQXDH the KEM prekey signature) under the
/// bundle's identity key, asks `trust` about that identity, then draws 32 bytes for the
/// base key and (PQXDH) encapsulates to the KEM prekey: libsignal's order.
///
/// # Errors
///
/// [`Error::UntrustedIdentity`] / [`Error::IdentityChanged`] from `trust`;
/// [`Error::BadSignedPreKeySignature`], [`Error::BadKemPreKeySignature`];
/// [`Error::MissingKemPreKey`] in PQXDH mode without a KEM prekey; [`Error::ModeMismatch`]
/// in classic mode with one; [`Error::Core`] if a peer key has small order.
pub fn initiate<R: CryptoRng + ?Sized>(
    ours: &IdentityKeyPair,
    peer: &PeerPreKeys,
    mode: AgreementMode,
    trust: &(impl IdentityTrust + ?Sized),
    rng: &mut R,
) -> Result<Initiated> {
    require_trusted(trust, &peer.identity_key)?;
    if !peer
        .identity_key
        .verify(&peer.signed_prekey.encode(), &peer.signed_prekey_signature)
    {
        return Err(Error::BadSignedPreKeySignature);
    }
    let kem = match (mode, &peer.kem_prekey) {
        (AgreementMode::Pqxdh, Some((key, signature))) => {
            if !peer.identity_key.verify(&key.encode(), signature) {
                return Err(Error::BadKemPreKeySignature);
            }
            Some(key)
        }
        (AgreementMode::Pqxdh, None) => return Err(Error::MissingKemPreKey),
        (AgreementMode::ClassicX3dh, Some(_)) => return Err(Error::ModeMismatch),
        (AgreementMode::ClassicX3dh, None) => None,
    };

    let base = PrivateKey::generate(rng);
    let mut input = SecretInput::new();
    input.push(&ours.private_key().agree(&peer.signed_prekey)?);
    input.push(&base.agree(peer.identity_key.public_key())?);
    input.push(&base.agree(&peer.signed_prekey)?);
    if let Some(one_time) = &peer.one_time_prekey {
        input.push(&base.agree(one_time)?);
    }
    let kem_ciphertext = match kem {
        Some(key) => {
            let (ciphertext, shared) = key.encapsulate(rng);
            input.extend(shared.as_bytes());
            Some(ciphertext)
        }
        None => None,
    };
    Ok(Initiated {
        secrets: input.derive(mode)?,
        base_key: base.public_key(),
        kem_ciphertext,
    })
}

/// Runs the responder's side for a first message carrying `their_base_key` and, in
/// PQXDH, `kem_ciphertext`.
///
/// # Errors
///
/// [`Error::UntrustedIdentity`] / [`Error::IdentityChanged`] from `trust`;
/// [`Error::MissingKemPreKey`] in PQXDH mode without a ciphertext or KEM prekey;
/// [`Error::ModeMismatch`] in classic mode with a ciphertext; [`Error::Core`] for a
/// small-order key or a ciphertext of the wrong KEM.
pub fn respond(
    ours: &IdentityKeyPair,
    prekeys: &ResponderPreKeys<'_>,
    their_identity: &IdentityKey,
    their_base_key: &PublicKey,
    kem_ciphertext: Option<&KemCiphertext>,
    mode: AgreementMode,
    trust: &(impl IdentityTrust + ?Sized),
) -> Result<SessionSecrets> {
    require_trusted(trust, their_identity)?;
    let kem = match (mode, kem_ciphertext, prekeys.kem_prekey) {
        (AgreementMode::Pqxdh, Some(ciphertext), Some(secret)) => Some((ciphertext, secret)),
        (AgreementMode::Pqxdh, _, _) => return Err(Error::MissingKemPreKey),
        (AgreementMode::ClassicX3dh, None, _) => None,
        (AgreementMode::ClassicX3dh, Some(_), _) => return Err(Error::ModeMismatch),
    };
    let signed = prekeys.signed_prekey.private_key();
    let mut input = SecretInput::new();
    input.push(&signed.agree(their_identity.public_key())?);
    input.push(&ours.private_key().agree(their_base_key)?);
    input.push(&signed.agree(their_base_key)?);
    if let Some(one_time) = prekeys.one_time_prekey {
        input.push(&one_time.private_key().agree(their_base_key)?);
    }
    if let Some((ciphertext, secret)) = kem {
        input.extend(secret.decapsulate(ciphertext)?.as_bytes());
    }
    input.derive(mode)
}

/// The concatenated secret input: 0xff * 32, DH1 = DH(IK_A, SPK_B), DH2 = DH(EK_A, IK_B),
/// DH3 = DH(EK_A, SPK_B), [DH4 = DH(EK_A, OPK_B)], [KEM shared secret].
struct SecretInput(Zeroizing<Vec<u8>>);

impl SecretInput {
    fn new() -> Self {
        let mut bytes = Zeroizing::new(Vec::with_capacity(32 * 6));
        bytes.extend_from_slice(&DISCONTINUITY);
        Self(bytes)
    }

    fn extend(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    fn push(&mut self, shared: &hush_core::SharedSecret) {
        self.extend(shared.as_bytes());
    }

    fn derive(&self, mode: AgreementMode) -> Result<SessionSecrets> {
        // PQXDH derives a third 32-byte key, SPQR's auth key; classic X3DH derives two.
        let mut okm = Zeroizing::new([0u8; 96]);
        let (info, len) = match mode {
            AgreementMode::Pqxdh => (PQXDH_INFO, 96),
            AgreementMode::ClassicX3dh => (X3DH_INFO, 64),
        };
        let out = okm.get_mut(..len).ok_or(Error::ModeMismatch)?;
        hkdf_sha256_parts(&[], &self.0, &[info], out).map_err(Error::Core)?;
        let mut secrets = SessionSecrets {
            root_key: [0; 32],
            chain_key: [0; 32],
            spqr_auth_key: None,
        };
        secrets
            .root_key
            .copy_from_slice(okm.get(..32).unwrap_or(&[0; 32]));
        secrets
            .chain_key
            .copy_from_slice(okm.get(32..64).unwrap_or(&[0; 32]));
        if mode == AgreementMode::Pqxdh {
            let auth_key = secrets.spqr_auth_key.insert([0; 32]);
            auth_key.copy_from_slice(okm.get(64..96).unwrap_or(&[0; 32]));
        }
        Ok(secrets)
    }
}
