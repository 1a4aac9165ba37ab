//! The vault side: a sans-IO state machine over a [`VaultStore`].

use core::fmt;
use core::ops::{Deref, DerefMut};

use hush_core::cipher::{Aes256GcmKey, GCM_NONCE_LENGTH};
use hush_core::kdf::{HmacSha256Key, hkdf_sha256_array};
use opaque_ke::{ServerLogin, ServerLoginStartParameters, ServerRegistration, ServerSetup};
use rand_core::CryptoRng;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::vault::error::VaultError;
use crate::vault::limits::{
    DEFAULT_ATTEMPT_LIMIT, DEFAULT_UPDATE_LIFETIME_MS, MAX_ATTEMPT_LIMIT, MAX_UPDATE_LIFETIME_MS,
    MAX_USER_ID_LEN, MIN_USER_ID_LEN,
};
use crate::vault::messages::{
    CredentialFinalization, CredentialRequest, CredentialResponse, Fields, HEADER_LEN, NONCE_LEN,
    RegistrationRequest, RegistrationResponse, RegistrationUpload, Release, UpdateRequest, VERSION,
};
use crate::vault::store::{EntryChange, UpdateAuth, VaultEntry, VaultRecord, VaultStore};
use crate::vault::suite::{KsfParams, RngAdapter, Suite};
use crate::vault::{
    DUMMY_NONCE_INFO, OPAQUE_CONTEXT, RELEASE_INFO, UPDATE_INFO, credential_identifier,
    session_subkey,
};

/// Type byte of a stored server setup.
const TYPE_SERVER_SETUP: u8 = 0x40;
/// Type byte of an encoded login state.
const TYPE_LOGIN_STATE: u8 = 0x30;
/// OPRF seed (64) || server private key (32) || fake-record private key (32).
const OPAQUE_SETUP_LEN: usize = 128;
/// Encoded length of a [`VaultServerSetup`].
pub const SERVER_SETUP_LEN: usize = HEADER_LEN + OPAQUE_SETUP_LEN;
/// Three hash outputs of SHA-512 (opaque-ke's 3DH server state).
const KE2_STATE_LEN: usize = 192;
/// Encoded length of a [`VaultLoginState`].
pub const LOGIN_STATE_LEN: usize = HEADER_LEN + 1 + NONCE_LEN + KE2_STATE_LEN;

pub(crate) fn check_user_id(user_id: &[u8]) -> Result<(), VaultError> {
    if (MIN_USER_ID_LEN..=MAX_USER_ID_LEN).contains(&user_id.len()) {
        Ok(())
    } else {
        Err(VaultError::UserIdLength(user_id.len()))
    }
}

/// The vault's long-term OPAQUE secrets: the OPRF seed (per-user OPRF keys derive from
/// it), the vault's key-exchange private key, and the key pair behind fake records for
/// unknown users.
///
/// Generated once by [`Vault::open`] and persisted through the store. Whoever holds it
/// together with the records can test password guesses offline: in production it belongs
/// in hardware (an HSM); the stores in this crate keep it in memory or in the SQLite file
/// and say so.
pub struct VaultServerSetup {
    setup: ServerSetup<Suite>,
    encoded: Zeroizing<Vec<u8>>,
}

impl VaultServerSetup {
    /// Fresh secrets from `rng`.
    ///
    /// # Errors
    ///
    /// [`VaultError::Internal`] if opaque-ke's encoding has an unexpected length.
    pub fn generate(rng: &mut (impl CryptoRng + ?Sized)) -> Result<Self, VaultError> {
        let setup = ServerSetup::<Suite>::new(&mut RngAdapter(rng));
        let mut encoded = Zeroizing::new(Vec::with_capacity(SERVER_SETUP_LEN));
        encoded.push(VERSION);
        encoded.push(TYPE_SERVER_SETUP);
        let mut raw = setup.serialize();
        encoded.extend_from_slice(&raw);
        raw.deref_mut().zeroize();
        if encoded.len() != SERVER_SETUP_LEN {
            return Err(VaultError::Internal("server setup length"));
        }
        Ok(Self { setup, encoded })
    }

    /// The stored form (secret; wiped on drop).
    #[must_use]
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        self.encoded.clone()
    }

    /// Decodes the stored form.
    ///
    /// # Errors
    ///
    /// [`VaultError::UnknownVersion`], [`VaultError::UnexpectedType`],
    /// [`VaultError::Length`], or [`VaultError::Malformed`] if a key does not decode.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, VaultError> {
        let name = "server setup";
        let (version, rest) = bytes.split_first().ok_or(VaultError::Length {
            message: name,
            expected: SERVER_SETUP_LEN,
            found: 0,
        })?;
        if *version != VERSION {
            return Err(VaultError::UnknownVersion(*version));
        }
        match rest.first() {
            Some(&TYPE_SERVER_SETUP) => {}
            Some(&found) => {
                return Err(VaultError::UnexpectedType {
                    expected: TYPE_SERVER_SETUP,
                    found,
                });
            }
            None => {}
        }
        if bytes.len() != SERVER_SETUP_LEN {
            return Err(VaultError::Length {
                message: name,
                expected: SERVER_SETUP_LEN,
                found: bytes.len(),
            });
        }
        let raw = bytes.get(HEADER_LEN..).ok_or(VaultError::Malformed(name))?;
        let setup =
            ServerSetup::<Suite>::deserialize(raw).map_err(|_| VaultError::Malformed(name))?;
        Ok(Self {
            setup,
            encoded: Zeroizing::new(bytes.to_vec()),
        })
    }
}

impl fmt::Debug for VaultServerSetup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultServerSetup").finish_non_exhaustive()
    }
}

/// The vault's policy: the attempt limit and how long an update authorization lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VaultConfig {
    attempt_limit: u32,
    update_lifetime_ms: u64,
}

impl Default for VaultConfig {
    fn default() -> Self {
        Self {
            attempt_limit: DEFAULT_ATTEMPT_LIMIT,
            update_lifetime_ms: DEFAULT_UPDATE_LIFETIME_MS,
        }
    }
}

impl VaultConfig {
    /// The defaults: 10 attempts, 10 minutes.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets how many logins may be started without a success before the record is
    /// destroyed.
    ///
    /// # Errors
    ///
    /// [`VaultError::Config`] unless `1 <= limit <= MAX_ATTEMPT_LIMIT`.
    pub fn with_attempt_limit(mut self, limit: u32) -> Result<Self, VaultError> {
        if !(1..=MAX_ATTEMPT_LIMIT).contains(&limit) {
            return Err(VaultError::Config("attempt limit"));
        }
        self.attempt_limit = limit;
        Ok(self)
    }

    /// Sets how long (ms) after a successful login its update authorization may be used.
    ///
    /// # Errors
    ///
    /// [`VaultError::Config`] unless `1 <= ms <= MAX_UPDATE_LIFETIME_MS`.
    pub fn with_update_lifetime_ms(mut self, ms: u64) -> Result<Self, VaultError> {
        if !(1..=MAX_UPDATE_LIFETIME_MS).contains(&ms) {
            return Err(VaultError::Config("update lifetime"));
        }
        self.update_lifetime_ms = ms;
        Ok(self)
    }

    /// The attempt limit.
    #[must_use]
    pub fn attempt_limit(&self) -> u32 {
        self.attempt_limit
    }

    /// The update-authorization lifetime in milliseconds.
    #[must_use]
    pub fn update_lifetime_ms(&self) -> u64 {
        self.update_lifetime_ms
    }
}

/// What the vault keeps between [`Vault::login_start`] and [`Vault::login_finish`]: the
/// OPAQUE server state (it holds the would-be session key: secret, wiped on drop) and which
/// record it was made for.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct VaultLoginState {
    known: bool,
    credential_nonce: [u8; NONCE_LEN],
    ke2: [u8; KE2_STATE_LEN],
}

impl VaultLoginState {
    /// The stored form, for a vault that keeps it outside memory between the two calls.
    #[must_use]
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(LOGIN_STATE_LEN));
        out.extend_from_slice(&[VERSION, TYPE_LOGIN_STATE, u8::from(self.known)]);
        out.extend_from_slice(&self.credential_nonce);
        out.extend_from_slice(&self.ke2);
        out
    }

    /// Decodes the stored form.
    ///
    /// # Errors
    ///
    /// [`VaultError::UnknownVersion`], [`VaultError::Length`] or
    /// [`VaultError::Malformed`] (including a wrong type byte).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, VaultError> {
        let name = "login state";
        let mut f = Fields(bytes, name);
        let version = f.byte().map_err(|_| VaultError::Length {
            message: name,
            expected: LOGIN_STATE_LEN,
            found: 0,
        })?;
        if version != VERSION {
            return Err(VaultError::UnknownVersion(version));
        }
        if bytes.len() != LOGIN_STATE_LEN {
            return Err(VaultError::Length {
                message: name,
                expected: LOGIN_STATE_LEN,
                found: bytes.len(),
            });
        }
        if f.byte()? != TYPE_LOGIN_STATE {
            return Err(VaultError::Malformed(name));
        }
        let known = match f.byte()? {
            0 => false,
            1 => true,
            _ => return Err(VaultError::Malformed(name)),
        };
        let state = Self {
            known,
            credential_nonce: f.array()?,
            ke2: f.array()?,
        };
        f.end()?;
        Ok(state)
    }
}

impl fmt::Debug for VaultLoginState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultLoginState").finish_non_exhaustive()
    }
}

/// The password vault: OPAQUE registration and login with an attempt limit, over a store.
///
/// Sans-IO: every method takes the request bytes and returns the response bytes; moving
/// them is the caller's job. Every store access is one [`VaultStore::transact`], so a
/// `Vault` can be shared between threads (`&self` methods), and several `Vault`s (in
/// several processes) can share one SQLite file.
///
/// See `docs/wire/vault.md` for the flows and the attempt-counter rules.
pub struct Vault<S> {
    store: S,
    setup: VaultServerSetup,
    dummy_key: HmacSha256Key,
    config: VaultConfig,
}

impl<S> fmt::Debug for Vault<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The outcome of counting a login attempt.
enum Attempt {
    Unknown,
    Granted(Box<VaultRecord>),
}

impl<S: VaultStore> Vault<S> {
    /// Opens a vault over `store`, loading its server setup or, for a fresh store,
    /// generating one from `rng` and persisting it.
    ///
    /// # Errors
    ///
    /// [`VaultError::Store`] if the store fails, or a decoding error if the stored setup
    /// is corrupt.
    pub fn open(
        store: S,
        config: VaultConfig,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Self, VaultError> {
        let encoded = match store.server_setup()? {
            Some(encoded) => encoded,
            None => {
                let fresh = VaultServerSetup::generate(rng)?;
                store.init_server_setup(&fresh.to_bytes())?
            }
        };
        let setup = VaultServerSetup::from_bytes(&encoded)?;
        let dummy_key = hkdf_sha256_array::<32>(&[], &setup.encoded, DUMMY_NONCE_INFO)
            .map_err(|_| VaultError::Internal("hkdf"))?;
        Ok(Self {
            store,
            setup,
            dummy_key: HmacSha256Key::new(dummy_key.as_ref()),
            config,
        })
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The policy.
    pub fn config(&self) -> VaultConfig {
        self.config
    }

    /// Registration step 2 (and password change step 2): evaluates the client's blinded
    /// password under the OPRF key of `user_id` and a fresh random credential nonce.
    ///
    /// Stateless and answered for every user id, registered or not: the nonce is new each
    /// time, so the evaluation is under a key no stored record uses and tells nothing
    /// about existing records (see `docs/wire/vault.md`, "Why a credential nonce").
    ///
    /// # Errors
    ///
    /// [`VaultError::UserIdLength`], or a decoding error for `request`.
    pub fn registration_response(
        &self,
        user_id: &[u8],
        request: &[u8],
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Vec<u8>, VaultError> {
        check_user_id(user_id)?;
        let request = RegistrationRequest::decode(request)?.to_opaque()?;
        let mut credential_nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut credential_nonce);
        let result = ServerRegistration::<Suite>::start(
            &self.setup.setup,
            request,
            &credential_identifier(user_id, &credential_nonce),
        )
        .map_err(|_| VaultError::Malformed("registration request"))?;
        Ok(RegistrationResponse::from_opaque(credential_nonce, &result.message)?.encode())
    }

    /// Registration step 4: stores the record of a new user.
    ///
    /// # Errors
    ///
    /// [`VaultError::UserIdLength`], a decoding error for `upload`,
    /// [`VaultError::AlreadyRegistered`] if `user_id` has a record,
    /// [`VaultError::Destroyed`] if it has a tombstone, or [`VaultError::Store`].
    pub fn register(&self, user_id: &[u8], upload: &[u8]) -> Result<(), VaultError> {
        check_user_id(user_id)?;
        let upload = RegistrationUpload::decode(upload)?;
        let record = VaultRecord {
            registration: upload.registration.clone(),
            wrapped_key: upload.wrapped_key,
            failed_attempts: 0,
            update_auth: None,
        };
        self.store.transact(user_id, |entry| match entry {
            None => (
                EntryChange::Put(VaultEntry::Active(Box::new(record))),
                Ok(()),
            ),
            Some(VaultEntry::Active(_)) => (EntryChange::Keep, Err(VaultError::AlreadyRegistered)),
            Some(VaultEntry::Destroyed) => (EntryChange::Keep, Err(VaultError::Destroyed)),
        })?
    }

    /// Login step 2: counts the attempt, then answers with the OPAQUE credential response.
    ///
    /// In one store transaction: a tombstone is refused; a record whose counter already
    /// reached the limit is destroyed and refused; otherwise the counter goes up by one
    /// (the attempt counts as failed until [`Vault::login_finish`] succeeds). Only then is
    /// the response computed, so at most `attempt_limit` responses are ever issued between
    /// two successful logins, however many requests arrive at once.
    ///
    /// An unknown user id gets a response built from a fake record (OPAQUE's defence
    /// against user enumeration) that no password opens; nothing is stored for it.
    ///
    /// # Errors
    ///
    /// [`VaultError::UserIdLength`], a decoding error for `request` (which is not
    /// counted), [`VaultError::Destroyed`], or [`VaultError::Store`].
    pub fn login_start(
        &self,
        user_id: &[u8],
        request: &[u8],
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<(VaultLoginState, Vec<u8>), VaultError> {
        check_user_id(user_id)?;
        let request = CredentialRequest::decode(request)?.to_opaque()?;
        let limit = self.config.attempt_limit;
        let attempt = self.store.transact(user_id, |entry| match entry {
            None => (EntryChange::Keep, Ok(Attempt::Unknown)),
            Some(VaultEntry::Destroyed) => (EntryChange::Keep, Err(VaultError::Destroyed)),
            Some(VaultEntry::Active(record)) if record.failed_attempts >= limit => (
                EntryChange::Put(VaultEntry::Destroyed),
                Err(VaultError::Destroyed),
            ),
            Some(VaultEntry::Active(mut record)) => {
                record.failed_attempts = record.failed_attempts.saturating_add(1);
                let granted = record.clone();
                (
                    EntryChange::Put(VaultEntry::Active(record)),
                    Ok(Attempt::Granted(granted)),
                )
            }
        })??;
        let (known, credential_nonce, ksf, password_file) = match attempt {
            Attempt::Unknown => {
                let tag = self.dummy_key.mac(user_id);
                (false, *tag, KsfParams::default(), None)
            }
            Attempt::Granted(record) => {
                let file = ServerRegistration::<Suite>::deserialize(&record.registration.upload)
                    .map_err(|_| VaultError::Store("corrupt record"))?;
                (
                    true,
                    record.registration.credential_nonce,
                    record.registration.ksf,
                    Some(file),
                )
            }
        };
        let result = ServerLogin::start(
            &mut RngAdapter(rng),
            &self.setup.setup,
            password_file,
            request,
            &credential_identifier(user_id, &credential_nonce),
            ServerLoginStartParameters {
                context: Some(OPAQUE_CONTEXT),
                identifiers: opaque_ke::Identifiers::default(),
            },
        )
        .map_err(|_| VaultError::Malformed("credential request"))?;
        let mut raw = result.state.serialize();
        let ke2 = raw
            .deref()
            .try_into()
            .map_err(|_| VaultError::Internal("login state length"));
        raw.deref_mut().zeroize();
        let state = VaultLoginState {
            known,
            credential_nonce,
            ke2: ke2?,
        };
        let response = CredentialResponse::from_opaque(ksf, &result.message)?.encode();
        Ok((state, response))
    }

    /// Login step 4: checks the client's key confirmation and, if it holds, resets the
    /// counter, stores a one-time update authorization and returns the release (the
    /// wrapped backup key sealed under a key derived from the session key).
    ///
    /// A failure leaves the attempt counted; if that attempt was the last one the limit
    /// allows, the record is destroyed now and the error is [`VaultError::Destroyed`].
    ///
    /// # Errors
    ///
    /// [`VaultError::InvalidLogin`] (wrong password, unknown user, tampered or malformed
    /// finalization, record replaced since `login_start`), [`VaultError::Destroyed`],
    /// [`VaultError::UserIdLength`] or [`VaultError::Store`].
    pub fn login_finish(
        &self,
        user_id: &[u8],
        state: VaultLoginState,
        finalization: &[u8],
        now_ms: u64,
    ) -> Result<Vec<u8>, VaultError> {
        check_user_id(user_id)?;
        let session_key = Self::confirm(&state, finalization);
        let limit = self.config.attempt_limit;
        let nonce = state.credential_nonce;
        let Some(session_key) = session_key.filter(|_| state.known) else {
            if !state.known {
                return Err(VaultError::InvalidLogin);
            }
            return self.store.transact(user_id, |entry| match entry {
                Some(VaultEntry::Active(record))
                    if record.registration.credential_nonce == nonce
                        && record.failed_attempts >= limit =>
                {
                    (
                        EntryChange::Put(VaultEntry::Destroyed),
                        Err(VaultError::Destroyed),
                    )
                }
                Some(VaultEntry::Destroyed) => (EntryChange::Keep, Err(VaultError::Destroyed)),
                _ => (EntryChange::Keep, Err(VaultError::InvalidLogin)),
            })?;
        };
        let release_key = session_subkey(&session_key, RELEASE_INFO)?;
        let update_key = session_subkey(&session_key, UPDATE_INFO)?;
        let wrapped = self.store.transact(user_id, |entry| match entry {
            Some(VaultEntry::Active(mut record))
                if record.registration.credential_nonce == nonce =>
            {
                record.failed_attempts = 0;
                record.update_auth = Some(UpdateAuth {
                    key: *update_key,
                    issued_at_ms: now_ms,
                });
                let wrapped = Zeroizing::new(record.wrapped_key);
                (EntryChange::Put(VaultEntry::Active(record)), Ok(wrapped))
            }
            Some(VaultEntry::Destroyed) => (EntryChange::Keep, Err(VaultError::Destroyed)),
            _ => (EntryChange::Keep, Err(VaultError::InvalidLogin)),
        })??;
        let sealed = Aes256GcmKey::new(&release_key).seal(
            &[0u8; GCM_NONCE_LENGTH],
            &Release::AAD,
            wrapped.as_ref(),
        );
        let sealed = sealed
            .as_slice()
            .try_into()
            .map_err(|_| VaultError::Internal("release length"))?;
        Ok(Release { sealed }.encode())
    }

    /// Runs OPAQUE's server finish; `None` for any failure.
    fn confirm(state: &VaultLoginState, finalization: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let finalization = CredentialFinalization::decode(finalization)
            .and_then(|f| f.to_opaque())
            .ok()?;
        let server = ServerLogin::<Suite>::deserialize(&state.ke2).ok()?;
        let mut result = server.finish(finalization).ok()?;
        let key = Zeroizing::new(result.session_key.to_vec());
        result.session_key.deref_mut().zeroize();
        Some(key)
    }

    /// Applies a password change or key rotation authorized by the update authorization
    /// of the last successful login. The authorization is used up by this call whether or
    /// not the request verifies.
    ///
    /// # Errors
    ///
    /// [`VaultError::Unauthorized`] (no login since the last update, authorization
    /// expired, bad MAC, unknown user), [`VaultError::Destroyed`], a decoding error for
    /// `request`, [`VaultError::UserIdLength`] or [`VaultError::Store`].
    pub fn update(&self, user_id: &[u8], request: &[u8], now_ms: u64) -> Result<(), VaultError> {
        check_user_id(user_id)?;
        let request = UpdateRequest::decode(request)?;
        let signed = request.signed_part();
        let lifetime = self.config.update_lifetime_ms;
        self.store.transact(user_id, |entry| match entry {
            Some(VaultEntry::Active(mut record)) => {
                let Some(auth) = record.update_auth.take() else {
                    return (EntryChange::Keep, Err(VaultError::Unauthorized));
                };
                let fresh = now_ms.saturating_sub(auth.issued_at_ms) <= lifetime;
                let valid = HmacSha256Key::new(&auth.key)
                    .verify_parts(&[&signed], &request.mac)
                    .unwrap_or(false);
                if !(fresh && valid) {
                    return (
                        EntryChange::Put(VaultEntry::Active(record)),
                        Err(VaultError::Unauthorized),
                    );
                }
                if let Some(registration) = &request.registration {
                    record.registration = registration.clone();
                }
                record.wrapped_key = request.wrapped_key;
                record.failed_attempts = 0;
                (EntryChange::Put(VaultEntry::Active(record)), Ok(()))
            }
            Some(VaultEntry::Destroyed) => (EntryChange::Keep, Err(VaultError::Destroyed)),
            None => (EntryChange::Keep, Err(VaultError::Unauthorized)),
        })?
    }

    /// Removes `user_id`'s record or tombstone (an operator action, for instance after
    /// the user proved who they are out of band and accepts losing the old backup).
    /// Returns whether there was anything to remove.
    ///
    /// # Errors
    ///
    /// [`VaultError::UserIdLength`] or [`VaultError::Store`].
    pub fn forget(&self, user_id: &[u8]) -> Result<bool, VaultError> {
        check_user_id(user_id)?;
        self.store.transact(user_id, |entry| match entry {
            Some(_) => (EntryChange::Delete, true),
            None => (EntryChange::Keep, false),
        })
    }
}
