//! The client side: registration, login, opening the release, and updates.

use core::fmt;
use core::ops::DerefMut;

use hush_core::cipher::{Aes256GcmKey, GCM_NONCE_LENGTH};
use hush_core::kdf::{hkdf_sha256_array, hmac_sha256};
use opaque_ke::errors::{InternalError, ProtocolError};
use opaque_ke::{ClientLoginFinishParameters, ClientRegistrationFinishParameters, Identifiers};
use rand_core::CryptoRng;
use zeroize::{Zeroize, Zeroizing};

use crate::key::{BackupKey, VAULT_WRAPPING_INFO};
use crate::vault::error::VaultError;
use crate::vault::messages::{
    CredentialFinalization, CredentialRequest, CredentialResponse, NONCE_LEN, NewRegistration,
    RegistrationRequest, RegistrationResponse, RegistrationUpload, Release, UpdateRequest,
    WRAPPED_KEY_LEN,
};
use crate::vault::suite::{KsfParams, RngAdapter, Suite};
use crate::vault::{OPAQUE_CONTEXT, RELEASE_INFO, UPDATE_INFO, WRAPPED_KEY_AAD, session_subkey};

type Secret32 = Zeroizing<[u8; 32]>;

fn map_opaque(error: &ProtocolError) -> VaultError {
    match error {
        ProtocolError::LibraryError(InternalError::KsfError) => VaultError::Internal("argon2"),
        _ => VaultError::InvalidLogin,
    }
}

/// Wraps `key` under the wrapping key derived from an OPAQUE export key.
fn wrap_key(
    export_key: &[u8],
    key: &BackupKey,
    rng: &mut (impl CryptoRng + ?Sized),
) -> Result<[u8; WRAPPED_KEY_LEN], VaultError> {
    let wrapping = wrapping_key(export_key)?;
    let mut nonce = [0u8; GCM_NONCE_LENGTH];
    rng.fill_bytes(&mut nonce);
    let sealed =
        Aes256GcmKey::new(&wrapping).seal(&nonce, WRAPPED_KEY_AAD, key.to_bytes().as_ref());
    let mut out = [0u8; WRAPPED_KEY_LEN];
    let (n, rest) = out.split_at_mut(GCM_NONCE_LENGTH);
    n.copy_from_slice(&nonce);
    if rest.len() != sealed.len() {
        return Err(VaultError::Internal("wrapped key length"));
    }
    rest.copy_from_slice(&sealed);
    Ok(out)
}

fn unwrap_key(export_key: &[u8], wrapped: &[u8]) -> Result<BackupKey, VaultError> {
    let wrapping = wrapping_key(export_key)?;
    let (nonce, sealed) = wrapped
        .split_first_chunk::<GCM_NONCE_LENGTH>()
        .ok_or(VaultError::Decryption)?;
    let plain = Aes256GcmKey::new(&wrapping)
        .open(nonce, WRAPPED_KEY_AAD, sealed)
        .map_err(|_| VaultError::Decryption)?;
    let bytes: [u8; 32] = plain
        .as_slice()
        .try_into()
        .map_err(|_| VaultError::Decryption)?;
    Ok(BackupKey::from_bytes(bytes))
}

fn wrapping_key(export_key: &[u8]) -> Result<Secret32, VaultError> {
    hkdf_sha256_array::<32>(&[], export_key, VAULT_WRAPPING_INFO)
        .map_err(|_| VaultError::Internal("hkdf"))
}

/// Client entry points, carrying the Argon2id parameters to register with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VaultClient {
    ksf: KsfParams,
}

impl VaultClient {
    /// A client that registers with `ksf` (logins use whatever parameters the vault
    /// returns for the record).
    #[must_use]
    pub fn new(ksf: KsfParams) -> Self {
        Self { ksf }
    }

    /// Registration step 1: blinds `password`. Returns the state to keep and the
    /// registration request to send.
    ///
    /// # Errors
    ///
    /// [`VaultError::Internal`] if OPAQUE cannot blind the password (it hashes any input).
    pub fn register(
        &self,
        password: &[u8],
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<(ClientRegistration, Vec<u8>), VaultError> {
        let start = opaque_ke::ClientRegistration::<Suite>::start(&mut RngAdapter(rng), password)
            .map_err(|_| VaultError::Internal("blind"))?;
        let request = RegistrationRequest::from_opaque(&start.message)?.encode();
        Ok((
            ClientRegistration {
                state: start.state,
                password: Zeroizing::new(password.to_vec()),
                ksf: self.ksf,
            },
            request,
        ))
    }

    /// Login step 1: blinds `password` and makes the key-exchange share. Returns the state
    /// to keep and the credential request to send.
    ///
    /// # Errors
    ///
    /// [`VaultError::Internal`] if OPAQUE cannot blind the password.
    pub fn login(
        password: &[u8],
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<(ClientLogin, Vec<u8>), VaultError> {
        let start = opaque_ke::ClientLogin::<Suite>::start(&mut RngAdapter(rng), password)
            .map_err(|_| VaultError::Internal("blind"))?;
        let request = CredentialRequest::from_opaque(&start.message)?.encode();
        Ok((
            ClientLogin {
                state: start.state,
                password: Zeroizing::new(password.to_vec()),
            },
            request,
        ))
    }
}

/// A registration in progress (holds the password until `finish`; wiped on drop).
pub struct ClientRegistration {
    state: opaque_ke::ClientRegistration<Suite>,
    password: Zeroizing<Vec<u8>>,
    ksf: KsfParams,
}

impl fmt::Debug for ClientRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientRegistration")
            .field("ksf", &self.ksf)
            .finish_non_exhaustive()
    }
}

impl ClientRegistration {
    /// Runs OPAQUE's registration finish (including Argon2id) and wraps `key` under the
    /// export key. Returns the new registration and the wrapped key.
    fn finish_parts(
        self,
        response: &[u8],
        key: &BackupKey,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<(NewRegistration, [u8; WRAPPED_KEY_LEN]), VaultError> {
        let response = RegistrationResponse::decode(response)?;
        let ksf = self.ksf.ksf()?;
        let credential_nonce: [u8; NONCE_LEN] = response.credential_nonce;
        let Self {
            state,
            password,
            ksf: params,
        } = self;
        let mut result = state
            .finish(
                &mut RngAdapter(rng),
                &password,
                response.to_opaque()?,
                ClientRegistrationFinishParameters::new(Identifiers::default(), Some(&ksf)),
            )
            .map_err(|e| match map_opaque(&e) {
                VaultError::InvalidLogin => VaultError::Malformed("registration response"),
                other => other,
            })?;
        let wrapped = wrap_key(&result.export_key, key, rng);
        result.export_key.deref_mut().zeroize();
        let registration = NewRegistration::from_opaque(credential_nonce, params, &result.message)?;
        Ok((registration, wrapped?))
    }

    /// Registration step 3: finishes OPAQUE with the vault's response and returns the
    /// registration upload, which carries the OPAQUE record and `key` wrapped with
    /// AES-256-GCM under HKDF-SHA256(export key). The vault never sees `key`.
    ///
    /// # Errors
    ///
    /// A decoding error for `response`; [`VaultError::Malformed`] if the vault reflected
    /// the blinded element; [`VaultError::Internal`] if Argon2id fails (out of memory).
    pub fn finish(
        self,
        response: &[u8],
        key: &BackupKey,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Vec<u8>, VaultError> {
        let (registration, wrapped_key) = self.finish_parts(response, key, rng)?;
        Ok(RegistrationUpload {
            registration,
            wrapped_key,
        }
        .encode())
    }
}

/// A login in progress (holds the password until `finish`; wiped on drop).
pub struct ClientLogin {
    state: opaque_ke::ClientLogin<Suite>,
    password: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for ClientLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientLogin").finish_non_exhaustive()
    }
}

impl ClientLogin {
    /// Login step 3: runs Argon2id with the parameters in the response, opens the OPAQUE
    /// envelope and authenticates the vault. Returns the finalization to send and the
    /// logged-in session that opens the release.
    ///
    /// # Errors
    ///
    /// [`VaultError::InvalidLogin`] for a wrong password or a response that does not
    /// authenticate (also for an unknown user id: the vault answered with a fake record),
    /// a decoding error for `response`, or [`VaultError::Internal`] if Argon2id fails.
    pub fn finish(self, response: &[u8]) -> Result<(Vec<u8>, VaultSession), VaultError> {
        let response = CredentialResponse::decode(response)?;
        let ksf = response.ksf.ksf()?;
        let Self { state, password } = self;
        let mut result = state
            .finish(
                &password,
                response.to_opaque()?,
                ClientLoginFinishParameters::new(
                    Some(OPAQUE_CONTEXT),
                    Identifiers::default(),
                    Some(&ksf),
                ),
            )
            .map_err(|e| map_opaque(&e))?;
        let export_key = Zeroizing::new(result.export_key.to_vec());
        let release_key = session_subkey(&result.session_key, RELEASE_INFO);
        let update_key = session_subkey(&result.session_key, UPDATE_INFO);
        result.export_key.deref_mut().zeroize();
        result.session_key.deref_mut().zeroize();
        let session = VaultSession {
            export_key,
            release_key: release_key?,
            update_key: update_key?,
        };
        let finalization = CredentialFinalization::from_opaque(&result.message)?.encode();
        Ok((finalization, session))
    }
}

/// A client that completed a login: opens the vault's release, and may change the
/// password or rotate the backup key once (the vault accepts one update per login).
pub struct VaultSession {
    export_key: Zeroizing<Vec<u8>>,
    release_key: Secret32,
    update_key: Secret32,
}

impl VaultSession {
    /// Login step 5: decrypts the release with the session key, then unwraps the backup
    /// key with the export key.
    ///
    /// # Errors
    ///
    /// A decoding error for `release`, or [`VaultError::Decryption`] if either layer does
    /// not authenticate.
    pub fn open(&self, release: &[u8]) -> Result<BackupKey, VaultError> {
        let release = Release::decode(release)?;
        let wrapped = Aes256GcmKey::new(&self.release_key)
            .open(&[0u8; GCM_NONCE_LENGTH], &Release::AAD, &release.sealed)
            .map_err(|_| VaultError::Decryption)?;
        unwrap_key(&self.export_key, &wrapped)
    }

    fn authorize(
        &self,
        registration: Option<NewRegistration>,
        wrapped_key: [u8; WRAPPED_KEY_LEN],
    ) -> Result<Vec<u8>, VaultError> {
        let mut request = UpdateRequest {
            registration,
            wrapped_key,
            mac: [0u8; 32],
        };
        let mac = hmac_sha256(self.update_key.as_ref(), &request.signed_part());
        request.mac = *mac;
        Ok(request.encode())
    }

    /// Key rotation: an update request that replaces the wrapped key with `new_key`
    /// wrapped under this login's export key (the password stays).
    ///
    /// # Errors
    ///
    /// [`VaultError::Internal`] if a key derivation fails (it cannot for these sizes).
    pub fn rotate_key(
        self,
        new_key: &BackupKey,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Vec<u8>, VaultError> {
        let wrapped = wrap_key(&self.export_key, new_key, rng)?;
        self.authorize(None, wrapped)
    }

    /// Password change, step 1: blinds `new_password` (to send to
    /// [`crate::vault::Vault::registration_response`]) and keeps this session's update
    /// authorization for [`PasswordChange::finish`].
    ///
    /// # Errors
    ///
    /// As [`VaultClient::register`].
    pub fn change_password(
        self,
        new_password: &[u8],
        ksf: KsfParams,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<(PasswordChange, Vec<u8>), VaultError> {
        let (registration, request) = VaultClient::new(ksf).register(new_password, rng)?;
        Ok((
            PasswordChange {
                registration,
                session: self,
            },
            request,
        ))
    }
}

impl fmt::Debug for VaultSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultSession").finish_non_exhaustive()
    }
}

/// A password change in progress.
pub struct PasswordChange {
    registration: ClientRegistration,
    session: VaultSession,
}

impl fmt::Debug for PasswordChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordChange").finish_non_exhaustive()
    }
}

impl PasswordChange {
    /// Password change, step 2: finishes the new registration with the vault's response
    /// and returns the update request (new OPAQUE record, `key` wrapped under the new
    /// export key, MAC under the login's update key). Pass the same key to keep it, or a
    /// new one to rotate it at the same time.
    ///
    /// # Errors
    ///
    /// As [`ClientRegistration::finish`].
    pub fn finish(
        self,
        response: &[u8],
        key: &BackupKey,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Vec<u8>, VaultError> {
        let Self {
            registration,
            session,
        } = self;
        let (registration, wrapped) = registration.finish_parts(response, key, rng)?;
        session.authorize(Some(registration), wrapped)
    }
}
