//! The vault's wire messages: one version byte, one type byte, then fixed-size fields.
//!
//! Every decoder checks, in this order: the version byte, the type byte, the exact total
//! length, then each field (group elements must decode, parameters must be in bounds).
//! The OPAQUE parts are kept as the bytes that were checked, so encoding a decoded message
//! gives back exactly the input. Layouts are in `docs/wire/vault.md`.

use core::fmt;
use core::ops::Deref;

use opaque_ke::{
    CredentialFinalization as OpaqueFinalization, CredentialRequest as OpaqueCredentialRequest,
    CredentialResponse as OpaqueCredentialResponse, RegistrationRequest as OpaqueRegRequest,
    RegistrationResponse as OpaqueRegResponse, RegistrationUpload as OpaqueRegUpload,
};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::vault::error::VaultError;
use crate::vault::suite::{KSF_PARAMS_LEN, KsfParams, Suite};

/// The one format version: the first byte of every vault message and stored value.
pub const VERSION: u8 = 1;

/// Type byte of [`RegistrationRequest`].
pub const TYPE_REGISTRATION_REQUEST: u8 = 0x01;
/// Type byte of [`RegistrationResponse`].
pub const TYPE_REGISTRATION_RESPONSE: u8 = 0x02;
/// Type byte of [`RegistrationUpload`].
pub const TYPE_REGISTRATION_UPLOAD: u8 = 0x03;
/// Type byte of [`CredentialRequest`].
pub const TYPE_CREDENTIAL_REQUEST: u8 = 0x04;
/// Type byte of [`CredentialResponse`].
pub const TYPE_CREDENTIAL_RESPONSE: u8 = 0x05;
/// Type byte of [`CredentialFinalization`].
pub const TYPE_CREDENTIAL_FINALIZATION: u8 = 0x06;
/// Type byte of [`Release`].
pub const TYPE_RELEASE: u8 = 0x07;
/// Type byte of [`UpdateRequest`].
pub const TYPE_UPDATE_REQUEST: u8 = 0x08;

pub(crate) const HEADER_LEN: usize = 2;
pub(crate) const NONCE_LEN: usize = 32;
pub(crate) const OPRF_ELEMENT_LEN: usize = 32;
pub(crate) const OPAQUE_REG_RESPONSE_LEN: usize = 64;
pub(crate) const OPAQUE_UPLOAD_LEN: usize = 192;
pub(crate) const OPAQUE_CRED_REQUEST_LEN: usize = 96;
pub(crate) const OPAQUE_CRED_RESPONSE_LEN: usize = 320;
pub(crate) const OPAQUE_FINALIZATION_LEN: usize = 64;
/// A wrapped backup key: AES-GCM nonce (12) || ciphertext (32) || tag (16).
pub(crate) const WRAPPED_KEY_LEN: usize = 60;
/// A release: the wrapped key sealed again, ciphertext (60) || tag (16).
pub(crate) const RELEASE_SEALED_LEN: usize = WRAPPED_KEY_LEN + 16;
pub(crate) const MAC_LEN: usize = 32;

/// Total length of an encoded [`RegistrationRequest`].
pub const REGISTRATION_REQUEST_LEN: usize = HEADER_LEN + OPRF_ELEMENT_LEN;
/// Total length of an encoded [`RegistrationResponse`].
pub const REGISTRATION_RESPONSE_LEN: usize = HEADER_LEN + NONCE_LEN + OPAQUE_REG_RESPONSE_LEN;
/// Total length of an encoded [`RegistrationUpload`].
pub const REGISTRATION_UPLOAD_LEN: usize = HEADER_LEN + NEW_REGISTRATION_LEN + WRAPPED_KEY_LEN;
/// Total length of an encoded [`CredentialRequest`].
pub const CREDENTIAL_REQUEST_LEN: usize = HEADER_LEN + OPAQUE_CRED_REQUEST_LEN;
/// Total length of an encoded [`CredentialResponse`].
pub const CREDENTIAL_RESPONSE_LEN: usize = HEADER_LEN + KSF_PARAMS_LEN + OPAQUE_CRED_RESPONSE_LEN;
/// Total length of an encoded [`CredentialFinalization`].
pub const CREDENTIAL_FINALIZATION_LEN: usize = HEADER_LEN + OPAQUE_FINALIZATION_LEN;
/// Total length of an encoded [`Release`].
pub const RELEASE_LEN: usize = HEADER_LEN + RELEASE_SEALED_LEN;
/// Length of an [`UpdateRequest`] that only replaces the wrapped key.
pub const UPDATE_REQUEST_MIN_LEN: usize = HEADER_LEN + 1 + WRAPPED_KEY_LEN + MAC_LEN;
/// Length of an [`UpdateRequest`] that also carries a new registration (password change).
pub const UPDATE_REQUEST_MAX_LEN: usize = UPDATE_REQUEST_MIN_LEN + NEW_REGISTRATION_LEN;

/// credential nonce (32) || KSF params (12) || OPAQUE registration upload (192).
const NEW_REGISTRATION_LEN: usize = NONCE_LEN + KSF_PARAMS_LEN + OPAQUE_UPLOAD_LEN;

/// Update flag: only the wrapped key is replaced.
pub(crate) const UPDATE_FLAG_KEY_ONLY: u8 = 0x00;
/// Update flag: a new registration (new password) and wrapped key.
pub(crate) const UPDATE_FLAG_NEW_REGISTRATION: u8 = 0x01;

/// Checks version, type and exact length; returns the body after the two header bytes.
fn body<'a>(
    bytes: &'a [u8],
    message: &'static str,
    ty: u8,
    len: usize,
) -> Result<&'a [u8], VaultError> {
    let (version, rest) = bytes.split_first().ok_or(VaultError::Length {
        message,
        expected: len,
        found: 0,
    })?;
    if *version != VERSION {
        return Err(VaultError::UnknownVersion(*version));
    }
    let (found_ty, rest) = rest.split_first().ok_or(VaultError::Length {
        message,
        expected: len,
        found: bytes.len(),
    })?;
    if *found_ty != ty {
        return Err(VaultError::UnexpectedType {
            expected: ty,
            found: *found_ty,
        });
    }
    if bytes.len() != len {
        return Err(VaultError::Length {
            message,
            expected: len,
            found: bytes.len(),
        });
    }
    Ok(rest)
}

/// A reader over a body whose total length was already checked.
pub(crate) struct Fields<'a>(pub(crate) &'a [u8], pub(crate) &'static str);

impl<'a> Fields<'a> {
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], VaultError> {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or(VaultError::Malformed(self.1))?;
        self.0 = rest;
        Ok(*head)
    }

    pub(crate) fn byte(&mut self) -> Result<u8, VaultError> {
        let [b] = self.array::<1>()?;
        Ok(b)
    }

    pub(crate) fn end(&self) -> Result<(), VaultError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(VaultError::Malformed(self.1))
        }
    }
}

fn with_header(ty: u8, capacity: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(capacity);
    out.push(VERSION);
    out.push(ty);
    out
}

/// Client to vault, registration step 1: the blinded password (an OPRF element).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationRequest {
    request: [u8; OPRF_ELEMENT_LEN],
}

impl RegistrationRequest {
    pub(crate) fn from_opaque(request: &OpaqueRegRequest<Suite>) -> Result<Self, VaultError> {
        let request = request
            .serialize()
            .deref()
            .try_into()
            .map_err(|_| VaultError::Internal("registration request length"))?;
        Ok(Self { request })
    }

    pub(crate) fn to_opaque(&self) -> Result<OpaqueRegRequest<Suite>, VaultError> {
        OpaqueRegRequest::deserialize(&self.request)
            .map_err(|_| VaultError::Malformed("registration request"))
    }

    /// Decodes and checks a registration request.
    ///
    /// # Errors
    ///
    /// [`VaultError::UnknownVersion`], [`VaultError::UnexpectedType`],
    /// [`VaultError::Length`], or [`VaultError::Malformed`] if the element does not decode.
    pub fn decode(bytes: &[u8]) -> Result<Self, VaultError> {
        let mut f = Fields(
            body(
                bytes,
                "registration request",
                TYPE_REGISTRATION_REQUEST,
                REGISTRATION_REQUEST_LEN,
            )?,
            "registration request",
        );
        let msg = Self {
            request: f.array()?,
        };
        f.end()?;
        msg.to_opaque()?;
        Ok(msg)
    }

    /// The wire bytes.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = with_header(TYPE_REGISTRATION_REQUEST, REGISTRATION_REQUEST_LEN);
        out.extend_from_slice(&self.request);
        out
    }
}

/// Vault to client, registration step 2: a fresh credential nonce and the OPAQUE
/// registration response (OPRF evaluation and the vault's public key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationResponse {
    pub(crate) credential_nonce: [u8; NONCE_LEN],
    response: [u8; OPAQUE_REG_RESPONSE_LEN],
}

impl RegistrationResponse {
    pub(crate) fn from_opaque(
        credential_nonce: [u8; NONCE_LEN],
        response: &OpaqueRegResponse<Suite>,
    ) -> Result<Self, VaultError> {
        let response = response
            .serialize()
            .deref()
            .try_into()
            .map_err(|_| VaultError::Internal("registration response length"))?;
        Ok(Self {
            credential_nonce,
            response,
        })
    }

    pub(crate) fn to_opaque(&self) -> Result<OpaqueRegResponse<Suite>, VaultError> {
        OpaqueRegResponse::deserialize(&self.response)
            .map_err(|_| VaultError::Malformed("registration response"))
    }

    /// Decodes and checks a registration response.
    ///
    /// # Errors
    ///
    /// [`VaultError::UnknownVersion`], [`VaultError::UnexpectedType`],
    /// [`VaultError::Length`], or [`VaultError::Malformed`] if an element does not decode.
    pub fn decode(bytes: &[u8]) -> Result<Self, VaultError> {
        let name = "registration response";
        let mut f = Fields(
            body(
                bytes,
                name,
                TYPE_REGISTRATION_RESPONSE,
                REGISTRATION_RESPONSE_LEN,
            )?,
            name,
        );
        let msg = Self {
            credential_nonce: f.array()?,
            response: f.array()?,
        };
        f.end()?;
        msg.to_opaque()?;
        Ok(msg)
    }

    /// The wire bytes.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = with_header(TYPE_REGISTRATION_RESPONSE, REGISTRATION_RESPONSE_LEN);
        out.extend_from_slice(&self.credential_nonce);
        out.extend_from_slice(&self.response);
        out
    }
}

/// A new OPAQUE registration: the credential nonce the vault handed out, the client's
/// Argon2id parameters, and the OPAQUE registration upload (client public key, masking
/// key, envelope). As sensitive as a password hash.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct NewRegistration {
    pub(crate) credential_nonce: [u8; NONCE_LEN],
    #[zeroize(skip)]
    pub(crate) ksf: KsfParams,
    pub(crate) upload: [u8; OPAQUE_UPLOAD_LEN],
}

impl NewRegistration {
    pub(crate) fn from_opaque(
        credential_nonce: [u8; NONCE_LEN],
        ksf: KsfParams,
        upload: &OpaqueRegUpload<Suite>,
    ) -> Result<Self, VaultError> {
        let upload = upload
            .serialize()
            .deref()
            .try_into()
            .map_err(|_| VaultError::Internal("registration upload length"))?;
        Ok(Self {
            credential_nonce,
            ksf,
            upload,
        })
    }

    pub(crate) fn read(f: &mut Fields<'_>) -> Result<Self, VaultError> {
        let credential_nonce = f.array()?;
        let ksf = KsfParams::decode(&f.array()?)?;
        let upload: [u8; OPAQUE_UPLOAD_LEN] = f.array()?;
        OpaqueRegUpload::<Suite>::deserialize(&upload).map_err(|_| VaultError::Malformed(f.1))?;
        Ok(Self {
            credential_nonce,
            ksf,
            upload,
        })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.credential_nonce);
        out.extend_from_slice(&self.ksf.encode());
        out.extend_from_slice(&self.upload);
    }

    fn ct_eq(&self, other: &Self) -> bool {
        let mut a = Vec::with_capacity(NEW_REGISTRATION_LEN);
        let mut b = Vec::with_capacity(NEW_REGISTRATION_LEN);
        self.write(&mut a);
        other.write(&mut b);
        let eq = hush_core::kdf::constant_time_eq(&a, &b);
        a.zeroize();
        b.zeroize();
        eq
    }
}

/// Client to vault, registration step 3: the OPAQUE record to store and the backup key
/// wrapped under the client's export key.
#[derive(Clone)]
pub struct RegistrationUpload {
    pub(crate) registration: NewRegistration,
    pub(crate) wrapped_key: [u8; WRAPPED_KEY_LEN],
}

impl RegistrationUpload {
    /// Decodes and checks a registration upload.
    ///
    /// # Errors
    ///
    /// [`VaultError::UnknownVersion`], [`VaultError::UnexpectedType`],
    /// [`VaultError::Length`], [`VaultError::KsfParams`] for out-of-bounds Argon2id
    /// parameters, or [`VaultError::Malformed`] if the OPAQUE upload does not decode.
    pub fn decode(bytes: &[u8]) -> Result<Self, VaultError> {
        let name = "registration upload";
        let mut f = Fields(
            body(
                bytes,
                name,
                TYPE_REGISTRATION_UPLOAD,
                REGISTRATION_UPLOAD_LEN,
            )?,
            name,
        );
        let registration = NewRegistration::read(&mut f)?;
        let wrapped_key = f.array()?;
        f.end()?;
        Ok(Self {
            registration,
            wrapped_key,
        })
    }

    /// The wire bytes.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = with_header(TYPE_REGISTRATION_UPLOAD, REGISTRATION_UPLOAD_LEN);
        self.registration.write(&mut out);
        out.extend_from_slice(&self.wrapped_key);
        out
    }

    /// The Argon2id parameters the client registered with.
    #[must_use]
    pub fn ksf_params(&self) -> KsfParams {
        self.registration.ksf
    }
}

impl PartialEq for RegistrationUpload {
    fn eq(&self, other: &Self) -> bool {
        self.registration.ct_eq(&other.registration)
            & hush_core::kdf::constant_time_eq(&self.wrapped_key, &other.wrapped_key)
    }
}

impl Eq for RegistrationUpload {}

impl fmt::Debug for RegistrationUpload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            registration,
            wrapped_key: _,
        } = self;
        f.debug_struct("RegistrationUpload")
            .field("ksf", &registration.ksf)
            .finish_non_exhaustive()
    }
}

/// Client to vault, login step 1: the blinded password and the client's key-exchange
/// share (OPAQUE KE1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialRequest {
    request: [u8; OPAQUE_CRED_REQUEST_LEN],
}

impl CredentialRequest {
    pub(crate) fn from_opaque(
        request: &OpaqueCredentialRequest<Suite>,
    ) -> Result<Self, VaultError> {
        let request = request
            .serialize()
            .deref()
            .try_into()
            .map_err(|_| VaultError::Internal("credential request length"))?;
        Ok(Self { request })
    }

    pub(crate) fn to_opaque(&self) -> Result<OpaqueCredentialRequest<Suite>, VaultError> {
        OpaqueCredentialRequest::deserialize(&self.request)
            .map_err(|_| VaultError::Malformed("credential request"))
    }

    /// Decodes and checks a credential request.
    ///
    /// # Errors
    ///
    /// [`VaultError::UnknownVersion`], [`VaultError::UnexpectedType`],
    /// [`VaultError::Length`], or [`VaultError::Malformed`] if an element does not decode.
    pub fn decode(bytes: &[u8]) -> Result<Self, VaultError> {
        let name = "credential request";
        let mut f = Fields(
            body(bytes, name, TYPE_CREDENTIAL_REQUEST, CREDENTIAL_REQUEST_LEN)?,
            name,
        );
        let msg = Self {
            request: f.array()?,
        };
        f.end()?;
        msg.to_opaque()?;
        Ok(msg)
    }

    /// The wire bytes.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = with_header(TYPE_CREDENTIAL_REQUEST, CREDENTIAL_REQUEST_LEN);
        out.extend_from_slice(&self.request);
        out
    }
}

/// Vault to client, login step 2: the record's Argon2id parameters and the OPAQUE
/// credential response (OPRF evaluation, masked envelope, KE2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialResponse {
    pub(crate) ksf: KsfParams,
    response: [u8; OPAQUE_CRED_RESPONSE_LEN],
}

impl CredentialResponse {
    pub(crate) fn from_opaque(
        ksf: KsfParams,
        response: &OpaqueCredentialResponse<Suite>,
    ) -> Result<Self, VaultError> {
        let response = response
            .serialize()
            .deref()
            .try_into()
            .map_err(|_| VaultError::Internal("credential response length"))?;
        Ok(Self { ksf, response })
    }

    pub(crate) fn to_opaque(&self) -> Result<OpaqueCredentialResponse<Suite>, VaultError> {
        OpaqueCredentialResponse::deserialize(&self.response)
            .map_err(|_| VaultError::Malformed("credential response"))
    }

    /// Decodes and checks a credential response.
    ///
    /// # Errors
    ///
    /// [`VaultError::UnknownVersion`], [`VaultError::UnexpectedType`],
    /// [`VaultError::Length`], [`VaultError::KsfParams`] for out-of-bounds Argon2id
    /// parameters, or [`VaultError::Malformed`] if an element does not decode.
    pub fn decode(bytes: &[u8]) -> Result<Self, VaultError> {
        let name = "credential response";
        let mut f = Fields(
            body(
                bytes,
                name,
                TYPE_CREDENTIAL_RESPONSE,
                CREDENTIAL_RESPONSE_LEN,
            )?,
            name,
        );
        let ksf = KsfParams::decode(&f.array()?)?;
        let msg = Self {
            ksf,
            response: f.array()?,
        };
        f.end()?;
        msg.to_opaque()?;
        Ok(msg)
    }

    /// The wire bytes.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = with_header(TYPE_CREDENTIAL_RESPONSE, CREDENTIAL_RESPONSE_LEN);
        out.extend_from_slice(&self.ksf.encode());
        out.extend_from_slice(&self.response);
        out
    }

    /// The Argon2id parameters the client will run with.
    #[must_use]
    pub fn ksf_params(&self) -> KsfParams {
        self.ksf
    }
}

/// Client to vault, login step 3: the client's key-confirmation MAC (OPAQUE KE3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialFinalization {
    finalization: [u8; OPAQUE_FINALIZATION_LEN],
}

impl CredentialFinalization {
    pub(crate) fn from_opaque(
        finalization: &OpaqueFinalization<Suite>,
    ) -> Result<Self, VaultError> {
        let finalization = finalization
            .serialize()
            .deref()
            .try_into()
            .map_err(|_| VaultError::Internal("credential finalization length"))?;
        Ok(Self { finalization })
    }

    pub(crate) fn to_opaque(&self) -> Result<OpaqueFinalization<Suite>, VaultError> {
        OpaqueFinalization::deserialize(&self.finalization)
            .map_err(|_| VaultError::Malformed("credential finalization"))
    }

    /// Decodes a credential finalization.
    ///
    /// # Errors
    ///
    /// [`VaultError::UnknownVersion`], [`VaultError::UnexpectedType`] or
    /// [`VaultError::Length`].
    pub fn decode(bytes: &[u8]) -> Result<Self, VaultError> {
        let name = "credential finalization";
        let mut f = Fields(
            body(
                bytes,
                name,
                TYPE_CREDENTIAL_FINALIZATION,
                CREDENTIAL_FINALIZATION_LEN,
            )?,
            name,
        );
        let msg = Self {
            finalization: f.array()?,
        };
        f.end()?;
        msg.to_opaque()?;
        Ok(msg)
    }

    /// The wire bytes.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = with_header(TYPE_CREDENTIAL_FINALIZATION, CREDENTIAL_FINALIZATION_LEN);
        out.extend_from_slice(&self.finalization);
        out
    }
}

/// Vault to client, login step 4: the wrapped backup key, sealed under a key derived from
/// the OPAQUE session key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub(crate) sealed: [u8; RELEASE_SEALED_LEN],
}

impl Release {
    /// Decodes a release (its contents are checked when the client opens it).
    ///
    /// # Errors
    ///
    /// [`VaultError::UnknownVersion`], [`VaultError::UnexpectedType`] or
    /// [`VaultError::Length`].
    pub fn decode(bytes: &[u8]) -> Result<Self, VaultError> {
        let name = "release";
        let mut f = Fields(body(bytes, name, TYPE_RELEASE, RELEASE_LEN)?, name);
        let msg = Self { sealed: f.array()? };
        f.end()?;
        Ok(msg)
    }

    /// The wire bytes.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = with_header(TYPE_RELEASE, RELEASE_LEN);
        out.extend_from_slice(&self.sealed);
        out
    }

    /// The two header bytes, the AAD the release is sealed with.
    pub(crate) const AAD: [u8; HEADER_LEN] = [VERSION, TYPE_RELEASE];
}

/// Client to vault after a login: replace the wrapped key, and optionally the OPAQUE
/// registration too (password change), authorized by an HMAC under the login's update key.
#[derive(Clone)]
pub struct UpdateRequest {
    pub(crate) registration: Option<NewRegistration>,
    pub(crate) wrapped_key: [u8; WRAPPED_KEY_LEN],
    pub(crate) mac: [u8; MAC_LEN],
}

impl UpdateRequest {
    /// Decodes and checks an update request (the MAC is checked by the vault).
    ///
    /// # Errors
    ///
    /// [`VaultError::UnknownVersion`], [`VaultError::UnexpectedType`],
    /// [`VaultError::Length`] (the length must match the flag byte),
    /// [`VaultError::Malformed`] for an unknown flag or an OPAQUE upload that does not
    /// decode, or [`VaultError::KsfParams`].
    pub fn decode(bytes: &[u8]) -> Result<Self, VaultError> {
        let name = "update request";
        // The length depends on the flag byte; check the header against the shorter form
        // first, then the exact length for the flag.
        let flag = bytes.get(HEADER_LEN).copied();
        let len = match flag {
            Some(UPDATE_FLAG_NEW_REGISTRATION) => UPDATE_REQUEST_MAX_LEN,
            _ => UPDATE_REQUEST_MIN_LEN,
        };
        let mut f = Fields(body(bytes, name, TYPE_UPDATE_REQUEST, len)?, name);
        let registration = match f.byte()? {
            UPDATE_FLAG_KEY_ONLY => None,
            UPDATE_FLAG_NEW_REGISTRATION => Some(NewRegistration::read(&mut f)?),
            _ => return Err(VaultError::Malformed("update request flag")),
        };
        let wrapped_key = f.array()?;
        let mac = f.array()?;
        f.end()?;
        Ok(Self {
            registration,
            wrapped_key,
            mac,
        })
    }

    /// The bytes the MAC covers: everything before the MAC.
    pub(crate) fn signed_part(&self) -> Vec<u8> {
        let mut out = with_header(TYPE_UPDATE_REQUEST, UPDATE_REQUEST_MAX_LEN);
        match &self.registration {
            None => out.push(UPDATE_FLAG_KEY_ONLY),
            Some(registration) => {
                out.push(UPDATE_FLAG_NEW_REGISTRATION);
                registration.write(&mut out);
            }
        }
        out.extend_from_slice(&self.wrapped_key);
        out
    }

    /// The wire bytes.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.signed_part();
        out.extend_from_slice(&self.mac);
        out
    }

    /// Whether the request changes the password (carries a new registration).
    #[must_use]
    pub fn changes_password(&self) -> bool {
        self.registration.is_some()
    }
}

impl PartialEq for UpdateRequest {
    fn eq(&self, other: &Self) -> bool {
        hush_core::kdf::constant_time_eq(&self.encode(), &other.encode())
    }
}

impl Eq for UpdateRequest {}

impl fmt::Debug for UpdateRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            registration,
            wrapped_key: _,
            mac: _,
        } = self;
        f.debug_struct("UpdateRequest")
            .field("changes_password", &registration.is_some())
            .finish_non_exhaustive()
    }
}
