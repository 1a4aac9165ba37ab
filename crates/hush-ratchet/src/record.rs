//! The session record: the current session and up to
//! [`MAX_ARCHIVED_SESSIONS`] archived ones, with the operations apps call and hush's own
//! versioned serialisation (`docs/wire/session-record.md`).

use std::collections::VecDeque;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use hush_core::rng::CryptoRng;
use hush_core::{IdentityKey, IdentityKeyPair, KemCiphertext, KeyPair, PublicKey};
use hush_spqr::{ChainParams, Direction, SpqrState};
use hush_x3dh::{
    AgreementMode, IdentityTrust, PeerPreKeys, ResponderPreKeys, SessionSecrets, require_trusted,
};
use zeroize::Zeroizing;

use crate::codec::{Reader, Writer};
use crate::error::{Error, Result};
use crate::keys::{ChainKey, MessageKeySeed, RootKey};
use crate::limits::{
    MAX_ARCHIVED_SESSIONS, MAX_RECEIVER_CHAINS, MAX_RECORD_SIZE, MAX_SKIPPED_MESSAGE_KEYS,
    MAX_UNACKNOWLEDGED_SESSION_AGE,
};
use crate::message::{
    CiphertextMessage, PQXDH_MESSAGE_VERSION, PreKeySignalMessage, SignalMessage,
    X3DH_MESSAGE_VERSION,
};
use crate::policy::SessionOptions;
use crate::state::{JumpBudget, PendingPreKey, ReceiverChain, SessionState, spqr_error};

/// The version byte of hush's session record format: 2 adds each session's SPQR state.
/// Records of format 1 still decode, as sessions without SPQR.
pub const RECORD_FORMAT_VERSION: u8 = 2;

/// The record format before SPQR: read, never written.
const RECORD_FORMAT_V1: u8 = 1;

/// This device's identity and registration id, as a session needs them.
#[derive(Debug, Clone, Copy)]
pub struct LocalIdentity<'a> {
    /// This device's identity key pair.
    pub identity: &'a IdentityKeyPair,
    /// This device's registration id.
    pub registration_id: u32,
}

/// A peer device's prekey bundle, as the initiator needs it.
#[derive(Debug, Clone)]
pub struct RemoteBundle {
    /// The peer's registration id.
    pub registration_id: u32,
    /// The signed prekey's id.
    pub signed_prekey_id: u32,
    /// The one-time prekey's id, when `prekeys.one_time_prekey` is set.
    pub one_time_prekey_id: Option<u32>,
    /// The KEM prekey's id, when `prekeys.kem_prekey` is set.
    pub kem_prekey_id: Option<u32>,
    /// The keys and signatures.
    pub prekeys: PeerPreKeys,
}

impl From<&hush_prekey::PreKeyBundle> for RemoteBundle {
    /// Takes what the initiator needs from a bundle a server handed out (libsignal
    /// requires a KEM prekey since PQXDH became mandatory, and so does
    /// `hush_prekey::PreKeyBundle`). The signatures are checked by
    /// [`SessionRecord::initiate`].
    fn from(bundle: &hush_prekey::PreKeyBundle) -> Self {
        Self {
            registration_id: bundle.registration_id(),
            signed_prekey_id: bundle.signed_prekey_id(),
            one_time_prekey_id: bundle.one_time_prekey().map(hush_prekey::OneTimePreKey::id),
            kem_prekey_id: Some(bundle.kem_prekey_id()),
            prekeys: PeerPreKeys {
                identity_key: *bundle.identity_key(),
                signed_prekey: *bundle.signed_prekey(),
                signed_prekey_signature: *bundle.signed_prekey_signature(),
                one_time_prekey: bundle.one_time_prekey().map(|k| *k.public_key()),
                kem_prekey: Some((bundle.kem_prekey().clone(), *bundle.kem_prekey_signature())),
            },
        }
    }
}

/// What decrypting a first message tells the caller besides the plaintext.
pub struct PreKeyDecrypted {
    /// The plaintext.
    pub plaintext: Zeroizing<Vec<u8>>,
    /// Whether the message started a new session (false for a retransmitted first
    /// message of a session that already exists).
    pub new_session: bool,
    /// The one-time prekey consumed by a new session: delete it.
    pub used_one_time_prekey: Option<u32>,
    /// The KEM prekey used by a new session: delete it if it was a one-time KEM prekey; if
    /// it was a last-resort key, record it in a [`crate::LastResortReuseGuard`]
    /// (libsignal's reused-base-key rule).
    pub used_kem_prekey: Option<u32>,
    /// The signed prekey the message named.
    pub signed_prekey_id: u32,
    /// The initiator's base key.
    pub base_key: PublicKey,
}

impl fmt::Debug for PreKeyDecrypted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The plaintext is the user's message: never in logs.
        let Self {
            plaintext,
            new_session,
            used_one_time_prekey,
            used_kem_prekey,
            signed_prekey_id,
            base_key,
        } = self;
        f.debug_struct("PreKeyDecrypted")
            .field("plaintext_len", &plaintext.len())
            .field("new_session", new_session)
            .field("used_one_time_prekey", used_one_time_prekey)
            .field("used_kem_prekey", used_kem_prekey)
            .field("signed_prekey_id", signed_prekey_id)
            .field("base_key", base_key)
            .finish()
    }
}

/// All sessions with one peer device.
#[derive(Clone, Default)]
pub struct SessionRecord {
    current: Option<SessionState>,
    /// Most recently archived first.
    previous: VecDeque<SessionState>,
}

fn millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn message_version(mode: AgreementMode) -> u8 {
    match mode {
        AgreementMode::ClassicX3dh => X3DH_MESSAGE_VERSION,
        _ => PQXDH_MESSAGE_VERSION,
    }
}

/// A new session's SPQR state: from PQXDH's auth key, with the policy's versions and
/// libsignal's chain limits (any forward jump for a session with another device of the
/// same account: the same identity key and the same service id). Classic X3DH has no
/// auth key and runs no SPQR.
fn new_spqr(
    secrets: &SessionSecrets,
    direction: Direction,
    options: &SessionOptions,
    same_identity: bool,
) -> Result<SpqrState> {
    let Some(auth_key) = secrets.spqr_auth_key() else {
        return Ok(SpqrState::disabled());
    };
    let (version, min_version) = options.spqr.versions();
    let self_session = same_identity
        && options
            .addresses
            .as_ref()
            .is_some_and(crate::message::SessionAddresses::same_service_id);
    let params = if self_session {
        ChainParams::self_session()
    } else {
        ChainParams::default()
    };
    SpqrState::new(auth_key, direction, version, min_version, params).map_err(spqr_error)
}

/// Whether `options` let `state` be used, for `message` when decrypting: under
/// [`crate::SpqrPolicy::Required`] a PQXDH session must run SPQR and a message on it
/// must carry an SPQR payload (a session that still accepts a peer without SPQR would
/// otherwise turn it off).
fn check_policy(
    state: &SessionState,
    options: &SessionOptions,
    message: Option<&SignalMessage>,
) -> Result<()> {
    if !options.spqr.requires_spqr() || state.version != PQXDH_MESSAGE_VERSION {
        return Ok(());
    }
    if !state.runs_spqr() || message.is_some_and(|m| m.pq_ratchet().is_empty()) {
        return Err(Error::SpqrRequired);
    }
    Ok(())
}

impl SessionRecord {
    /// An empty record.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether there is a current session to encrypt with.
    #[must_use]
    pub const fn has_current_session(&self) -> bool {
        self.current.is_some()
    }

    /// The remote identity of the current session.
    #[must_use]
    pub fn remote_identity(&self) -> Option<IdentityKey> {
        self.current.as_ref().map(|s| s.remote_identity)
    }

    /// The remote registration id of the current session.
    #[must_use]
    pub fn remote_registration_id(&self) -> Option<u32> {
        self.current.as_ref().map(|s| s.remote_registration_id)
    }

    /// How many archived sessions the record holds.
    #[must_use]
    pub fn archived_sessions(&self) -> usize {
        self.previous.len()
    }

    /// Moves the current session to the archive (e.g. when the peer's identity changed
    /// and the app starts over).
    pub fn archive_current(&mut self) {
        if let Some(current) = self.current.take() {
            self.previous.push_front(current);
            self.previous.truncate(MAX_ARCHIVED_SESSIONS);
        }
    }

    fn promote(&mut self, state: SessionState) {
        self.archive_current();
        self.current = Some(state);
    }

    /// Starts a session as the initiator from the peer's bundle (libsignal's
    /// `process_prekey_bundle`). The previous current session, if any, is archived.
    ///
    /// A PQXDH session starts SPQR as `options.spqr` says (direction A2B, from PQXDH's
    /// auth key); this draws nothing more. Draws, in libsignal's order: 32 bytes for the
    /// base key, the KEM encapsulation (PQXDH), 32 bytes for the first sending ratchet
    /// key.
    ///
    /// # Errors
    ///
    /// Signature, trust and mode errors from key agreement; nothing changes on error.
    #[allow(clippy::too_many_arguments)] // the initiator needs each of these
    pub fn initiate<R: CryptoRng + ?Sized>(
        &mut self,
        local: LocalIdentity<'_>,
        bundle: &RemoteBundle,
        mode: AgreementMode,
        options: SessionOptions,
        trust: &(impl IdentityTrust + ?Sized),
        now: SystemTime,
        rng: &mut R,
    ) -> Result<()> {
        if bundle.one_time_prekey_id.is_some() != bundle.prekeys.one_time_prekey.is_some() {
            return Err(Error::Malformed(
                "bundle: one-time prekey id and key must come together",
            ));
        }
        let started = hush_x3dh::initiate(local.identity, &bundle.prekeys, mode, trust, rng)?;
        let (secrets, base_key, kem_ciphertext) = started.into_parts();
        let kem = match (bundle.kem_prekey_id, kem_ciphertext) {
            (Some(id), Some(ciphertext)) => Some((id, ciphertext)),
            (None, None) => None,
            _ => return Err(Error::Agreement(hush_x3dh::Error::MissingKemPreKey)),
        };
        let sender_ratchet = KeyPair::generate(rng);
        let their_ratchet = bundle.prekeys.signed_prekey;
        let root = RootKey::new(*secrets.root_key());
        let (root_key, sender_chain) =
            root.create_chain(&their_ratchet, sender_ratchet.private_key())?;
        let spqr = new_spqr(
            &secrets,
            Direction::A2B,
            &options,
            local.identity.identity_key() == bundle.prekeys.identity_key,
        )?;
        let state = SessionState {
            version: message_version(mode),
            local_registration_id: local.registration_id,
            remote_registration_id: bundle.registration_id,
            local_identity: local.identity.identity_key(),
            remote_identity: bundle.prekeys.identity_key,
            base_key,
            root_key,
            previous_counter: 0,
            sender_ratchet,
            sender_chain,
            receiver_chains: vec![ReceiverChain {
                ratchet_key: their_ratchet,
                chain_key: ChainKey::new(*secrets.chain_key(), 0),
                skipped: VecDeque::new(),
            }],
            pending: Some(PendingPreKey {
                pre_key_id: bundle.one_time_prekey_id,
                signed_pre_key_id: bundle.signed_prekey_id,
                kem,
                created_at_ms: millis(now),
            }),
            spqr,
        };
        self.promote(state);
        Ok(())
    }

    /// Encrypts with the current session: a `PreKeySignalMessage` until the peer has
    /// answered (its inner message carries `options.addresses` when given), a
    /// `SignalMessage` after. The message carries the session's SPQR payload and its
    /// keys mix in the SPQR key; the SPQR step is the only randomness drawn (64 bytes
    /// when the braid samples a key pair, 32 when it encapsulates, else none).
    ///
    /// # Errors
    ///
    /// [`Error::NoSession`]; [`Error::SessionExpired`] for a session unanswered for
    /// longer than [`MAX_UNACKNOWLEDGED_SESSION_AGE`]; [`Error::SpqrRequired`] for a
    /// PQXDH session without SPQR under [`crate::SpqrPolicy::Required`] (start a new
    /// session); [`Error::UntrustedIdentity`] / [`Error::IdentityChanged`] from `trust`;
    /// [`Error::ChainExhausted`] when the sending chain stands at index 2^32 - 1 (it
    /// moves on when the peer's next message brings a new ratchet key). Nothing changes
    /// on error.
    pub fn encrypt<R: CryptoRng + ?Sized>(
        &mut self,
        plaintext: &[u8],
        options: SessionOptions,
        trust: &(impl IdentityTrust + ?Sized),
        now: SystemTime,
        rng: &mut R,
    ) -> Result<CiphertextMessage> {
        let state = self.current.as_mut().ok_or(Error::NoSession)?;
        if let Some(pending) = &state.pending {
            let max_age =
                u64::try_from(MAX_UNACKNOWLEDGED_SESSION_AGE.as_millis()).unwrap_or(u64::MAX);
            if millis(now).saturating_sub(pending.created_at_ms) > max_age {
                return Err(Error::SessionExpired);
            }
        }
        check_policy(state, &options, None)?;
        require_trusted(trust, &state.remote_identity)?;
        state.encrypt(plaintext, options.addresses.as_ref(), rng)
    }

    /// Whether the current session runs SPQR (or offers it while negotiating with a peer
    /// that has not answered yet). `None` without a current session.
    #[must_use]
    pub fn current_runs_spqr(&self) -> Option<bool> {
        self.current.as_ref().map(SessionState::runs_spqr)
    }

    /// Decrypts a `SignalMessage`: tries the sessions whose receiving chains know the
    /// message's ratchet key, then the others (each group current session first, then
    /// archived ones, newest first), and promotes the one that works. Any failure leaves
    /// the record unchanged.
    ///
    /// The work is bounded whatever the message says: the forward jumps of all sessions
    /// tried add up to at most [`crate::limits::MAX_TOTAL_FORWARD_JUMP`] chain steps (a session whose
    /// jump no longer fits is skipped before it does anything), each session tried runs
    /// one more step and one MAC check, and only a session that does not know the
    /// ratchet key runs a key agreement: at most 25 041 chain steps and 41 key
    /// agreements per message (see `docs/ARCHITECTURE.md`, "What a forged message
    /// costs"). libsignal tries every session with the full jump; hush refuses the rare
    /// genuine message that needs more than the budget left by the sessions tried
    /// before its own (`TooFarAhead`).
    ///
    /// # Errors
    ///
    /// Each session tried plans its SPQR step on the message's `pq_ratchet` (its chain
    /// jump taken from a second budget of the same size), derives the keys with the SPQR
    /// key, checks the MAC and the `addresses` against `options.addresses`; the one that
    /// decrypts commits both its Double Ratchet and its SPQR change. Under
    /// [`crate::SpqrPolicy::Required`] sessions without SPQR are not tried.
    ///
    /// # Errors
    ///
    /// [`Error::DuplicateMessage`] (reported as soon as a session recognises it),
    /// [`Error::TooFarAhead`], [`Error::ChainExhausted`] (a message numbered 2^32 - 1),
    /// [`Error::SpqrRequired`] (the policy requires SPQR and no session could try the
    /// message: it carries no SPQR payload, or the record's sessions have no SPQR; or a
    /// session that settled on SPQR got a message without a payload), [`Error::NoSession`],
    /// [`Error::DecryptionFailed`], [`Error::UntrustedIdentity`] /
    /// [`Error::IdentityChanged`].
    pub fn decrypt<R: CryptoRng + ?Sized>(
        &mut self,
        message: &SignalMessage,
        options: SessionOptions,
        trust: &(impl IdentityTrust + ?Sized),
        rng: &mut R,
    ) -> Result<Zeroizing<Vec<u8>>> {
        if self.current.is_none() && self.previous.is_empty() {
            return Err(Error::NoSession);
        }
        let mut budget = JumpBudget::new();
        let mut last_error = Error::DecryptionFailed;
        // Whether the policy set a session aside, and whether any session was tried: a
        // message no session could even try because of the policy is `SpqrRequired`;
        // one that sessions tried and refused keeps their error.
        let (mut set_aside, mut tried) = (false, false);
        // Sessions that know the ratchet key first: a genuine message almost always
        // belongs to one of them, and they need no key agreement.
        for knows_key in [true, false] {
            for index in 0..=self.previous.len() {
                let state = if index == 0 {
                    self.current.as_ref()
                } else {
                    self.previous.get(index - 1)
                };
                let Some(state) = state else { continue };
                if state.knows_ratchet_key(message.ratchet_key()) != knows_key {
                    continue;
                }
                if check_policy(state, &options, Some(message)).is_err() {
                    set_aside = true;
                    continue;
                }
                tried = true;
                match state.plan_decrypt(message, options.addresses.as_ref(), &mut budget, rng) {
                    Ok((plaintext, update)) => {
                        require_trusted(trust, &state.remote_identity)?;
                        self.commit(index, update)?;
                        return Ok(plaintext);
                    }
                    Err(error @ Error::DuplicateMessage { .. }) => return Err(error),
                    Err(
                        error @ (Error::TooFarAhead { .. }
                        | Error::ChainExhausted
                        | Error::SpqrRequired),
                    ) => {
                        last_error = error;
                    }
                    Err(_) => {}
                }
            }
        }
        if set_aside && !tried {
            return Err(Error::SpqrRequired);
        }
        Err(last_error)
    }

    /// Applies `update` to session `index` (0 = current, i = archived i - 1) and makes it
    /// current. Nothing changes on error.
    fn commit(&mut self, index: usize, update: crate::state::Update) -> Result<()> {
        if index == 0 {
            self.current
                .as_mut()
                .ok_or(Error::NoSession)?
                .apply(update)?;
        } else {
            self.previous
                .get_mut(index - 1)
                .ok_or(Error::NoSession)?
                .apply(update)?;
            if let Some(state) = self.previous.remove(index - 1) {
                self.promote(state);
            }
        }
        Ok(())
    }

    /// Whether a first message belongs to a session this record already has (a
    /// retransmission): then no prekeys are needed to decrypt it.
    #[must_use]
    pub fn has_session_for(&self, message: &PreKeySignalMessage) -> bool {
        self.find_base_key(message).is_some()
    }

    fn find_base_key(&self, message: &PreKeySignalMessage) -> Option<usize> {
        // The identity key is part of the match: nothing in a retransmission authenticates
        // it (the MAC uses the session's stored identity), so a message naming a different
        // identity must not be taken for this session, nor its identity shown to `trust`.
        let matches = |s: &SessionState| {
            s.base_key == *message.base_key()
                && s.version == message.version()
                && s.remote_identity == *message.identity_key()
        };
        if self.current.as_ref().is_some_and(matches) {
            return Some(0);
        }
        self.previous.iter().position(matches).map(|i| i + 1)
    }

    /// Decrypts a first message as the responder. If the record already has the session
    /// it belongs to, that session decrypts it; otherwise key agreement runs with
    /// `prekeys` (the keys named by the message's ids), a new SPQR state starts as
    /// `options.spqr` says (direction B2A), and, if the inner message decrypts, the new
    /// session becomes current. The inner message's `addresses`, if it carries them, must
    /// match `options.addresses`. Nothing changes on error.
    ///
    /// # Errors
    ///
    /// [`Error::MissingPreKeys`] when a new session is needed and `prekeys` is `None`;
    /// [`Error::LegacyVersion`] for a classic message in PQXDH mode
    /// ([`Error::UnknownVersion`] for a PQXDH message in classic mode);
    /// [`Error::SpqrRequired`] for a first message without an SPQR payload under
    /// [`crate::SpqrPolicy::Required`] (a peer that runs no SPQR, as libsignal v0.101
    /// refuses it); the errors of key agreement and of [`SessionRecord::decrypt`].
    #[allow(clippy::too_many_arguments)] // the responder needs each of these
    pub fn decrypt_prekey<R: CryptoRng + ?Sized>(
        &mut self,
        message: &PreKeySignalMessage,
        local: LocalIdentity<'_>,
        prekeys: Option<ResponderPreKeys<'_>>,
        mode: AgreementMode,
        options: SessionOptions,
        trust: &(impl IdentityTrust + ?Sized),
        rng: &mut R,
    ) -> Result<PreKeyDecrypted> {
        let outcome = |plaintext, new_session| PreKeyDecrypted {
            plaintext,
            new_session,
            used_one_time_prekey: if new_session {
                message.pre_key_id()
            } else {
                None
            },
            used_kem_prekey: if new_session {
                message.kem_pre_key_id()
            } else {
                None
            },
            signed_prekey_id: message.signed_pre_key_id(),
            base_key: *message.base_key(),
        };
        if let Some(index) = self.find_base_key(message) {
            let state = if index == 0 {
                self.current.as_ref()
            } else {
                self.previous.get(index - 1)
            };
            let state = state.ok_or(Error::NoSession)?;
            require_trusted(trust, message.identity_key())?;
            check_policy(state, &options, Some(message.message()))?;
            let (plaintext, update) = state.plan_decrypt(
                message.message(),
                options.addresses.as_ref(),
                &mut JumpBudget::new(),
                rng,
            )?;
            self.commit(index, update)?;
            return Ok(outcome(plaintext, false));
        }

        let expected = message_version(mode);
        if message.version() != expected {
            return Err(if message.version() < expected {
                Error::LegacyVersion(message.version())
            } else {
                Error::UnknownVersion(message.version())
            });
        }
        let prekeys = prekeys.ok_or(Error::MissingPreKeys {
            signed_prekey_id: message.signed_pre_key_id(),
            one_time_prekey_id: message.pre_key_id(),
            kem_prekey_id: message.kem_pre_key_id(),
        })?;
        if message.pre_key_id().is_some() != prekeys.one_time_prekey.is_some()
            || message.kem_pre_key_id().is_some() != prekeys.kem_prekey.is_some()
        {
            return Err(Error::MissingPreKeys {
                signed_prekey_id: message.signed_pre_key_id(),
                one_time_prekey_id: message.pre_key_id(),
                kem_prekey_id: message.kem_pre_key_id(),
            });
        }
        let secrets = hush_x3dh::respond(
            local.identity,
            &prekeys,
            message.identity_key(),
            message.base_key(),
            message.kem_ciphertext(),
            mode,
            trust,
        )?;
        let spqr = new_spqr(
            &secrets,
            Direction::B2A,
            &options,
            local.identity.identity_key() == *message.identity_key(),
        )?;
        let state = SessionState {
            version: message.version(),
            local_registration_id: local.registration_id,
            remote_registration_id: message.registration_id(),
            local_identity: local.identity.identity_key(),
            remote_identity: *message.identity_key(),
            base_key: *message.base_key(),
            root_key: RootKey::new(*secrets.root_key()),
            previous_counter: 0,
            sender_ratchet: prekeys.signed_prekey.clone(),
            sender_chain: ChainKey::new(*secrets.chain_key(), 0),
            receiver_chains: Vec::new(),
            pending: None,
            spqr,
        };
        check_policy(&state, &options, Some(message.message()))?;
        let (plaintext, update) = state.plan_decrypt(
            message.message(),
            options.addresses.as_ref(),
            &mut JumpBudget::new(),
            rng,
        )?;
        let mut state = state;
        state.apply(update)?;
        self.promote(state);
        Ok(outcome(plaintext, true))
    }

    /// Serialises the record (format version [`RECORD_FORMAT_VERSION`], see
    /// `docs/wire/session-record.md`). The buffer holds secrets and is wiped on drop.
    #[must_use]
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let sessions = usize::from(self.current.is_some()) + self.previous.len();
        let mut w = Writer::with_capacity(16 + sessions * 400);
        w.u8(RECORD_FORMAT_VERSION);
        match &self.current {
            Some(state) => {
                w.u8(1);
                encode_state(&mut w, state);
            }
            None => w.u8(0),
        }
        w.u8(u8::try_from(self.previous.len()).unwrap_or(u8::MAX));
        for state in self.previous.iter().take(MAX_ARCHIVED_SESSIONS) {
            encode_state(&mut w, state);
        }
        Zeroizing::new(w.bytes)
    }

    /// Reads a record written by [`SessionRecord::encode`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRecord`] for an unknown format version, a count over a limit, a
    /// bad key, truncation or trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_RECORD_SIZE {
            return Err(Error::InvalidRecord("too large"));
        }
        let mut r = Reader::new(bytes);
        let format = r.u8()?;
        if format != RECORD_FORMAT_VERSION && format != RECORD_FORMAT_V1 {
            return Err(Error::InvalidRecord("unknown format version"));
        }
        let current = match r.u8()? {
            0 => None,
            1 => Some(decode_state(&mut r, format)?),
            _ => return Err(Error::InvalidRecord("bad flag")),
        };
        let count = usize::from(r.u8()?);
        if count > MAX_ARCHIVED_SESSIONS {
            return Err(Error::InvalidRecord("too many archived sessions"));
        }
        let mut previous = VecDeque::with_capacity(count);
        for _ in 0..count {
            previous.push_back(decode_state(&mut r, format)?);
        }
        r.finish()?;
        Ok(Self { current, previous })
    }
}

impl fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { current, previous } = self;
        f.debug_struct("SessionRecord")
            .field(
                "remote_identity",
                &current.as_ref().map(|s| s.remote_identity),
            )
            .field("archived", &previous.len())
            .finish_non_exhaustive()
    }
}

const FLAG_ONE_TIME: u8 = 0b01;
const FLAG_KEM: u8 = 0b10;

fn encode_state(w: &mut Writer, s: &SessionState) {
    w.u8(s.version);
    w.u32(s.local_registration_id);
    w.u32(s.remote_registration_id);
    w.bytes(&s.local_identity.encode());
    w.bytes(&s.remote_identity.encode());
    w.bytes(&s.base_key.encode());
    w.bytes(s.root_key.as_bytes());
    w.u32(s.previous_counter);
    w.bytes(s.sender_ratchet.private_key().to_bytes().as_slice());
    w.bytes(&s.sender_ratchet.public_key().encode());
    w.bytes(s.sender_chain.key_bytes());
    w.u32(s.sender_chain.index());
    w.u8(u8::try_from(s.receiver_chains.len()).unwrap_or(u8::MAX));
    for chain in &s.receiver_chains {
        w.bytes(&chain.ratchet_key.encode());
        w.bytes(chain.chain_key.key_bytes());
        w.u32(chain.chain_key.index());
        w.u16(u16::try_from(chain.skipped.len()).unwrap_or(u16::MAX));
        for seed in &chain.skipped {
            w.u32(seed.counter());
            w.bytes(seed.seed_bytes());
        }
    }
    match &s.pending {
        None => w.u8(0),
        Some(p) => {
            w.u8(1);
            let flags = if p.pre_key_id.is_some() {
                FLAG_ONE_TIME
            } else {
                0
            } | if p.kem.is_some() { FLAG_KEM } else { 0 };
            w.u8(flags);
            if let Some(id) = p.pre_key_id {
                w.u32(id);
            }
            w.u32(p.signed_pre_key_id);
            if let Some((id, ciphertext)) = &p.kem {
                w.u32(*id);
                w.bytes(&ciphertext.encode());
            }
            w.u64(p.created_at_ms);
        }
    }
    let spqr = s.spqr.encode();
    w.u32(u32::try_from(spqr.len()).unwrap_or(u32::MAX));
    w.bytes(&spqr);
}

fn public_key(r: &mut Reader<'_>) -> Result<PublicKey> {
    PublicKey::decode(r.take(33)?).map_err(|_| Error::InvalidRecord("bad public key"))
}

fn decode_state(r: &mut Reader<'_>, format: u8) -> Result<SessionState> {
    let version = r.u8()?;
    if version != PQXDH_MESSAGE_VERSION && version != X3DH_MESSAGE_VERSION {
        return Err(Error::InvalidRecord("bad session version"));
    }
    let local_registration_id = r.u32()?;
    let remote_registration_id = r.u32()?;
    let local_identity = IdentityKey::new(public_key(r)?);
    let remote_identity = IdentityKey::new(public_key(r)?);
    let base_key = public_key(r)?;
    let root_key = RootKey::new(r.array()?);
    let previous_counter = r.u32()?;
    let sender_private = Zeroizing::new(r.array::<32>()?);
    // Stored beside the private key: recomputing it would cost a scalar multiplication
    // per session on every load.
    let sender_ratchet = KeyPair::from_stored(*sender_private, public_key(r)?);
    let sender_chain_key = Zeroizing::new(r.array::<32>()?);
    let sender_chain = ChainKey::new(*sender_chain_key, r.u32()?);
    let chains = usize::from(r.u8()?);
    if chains > MAX_RECEIVER_CHAINS {
        return Err(Error::InvalidRecord("too many receiver chains"));
    }
    let mut receiver_chains = Vec::with_capacity(chains);
    for _ in 0..chains {
        let ratchet_key = public_key(r)?;
        let key = Zeroizing::new(r.array::<32>()?);
        let chain_key = ChainKey::new(*key, r.u32()?);
        let count = usize::from(r.u16()?);
        if count > MAX_SKIPPED_MESSAGE_KEYS || count.saturating_mul(36) > r.remaining() {
            return Err(Error::InvalidRecord("too many skipped keys"));
        }
        let mut skipped = VecDeque::with_capacity(count);
        for _ in 0..count {
            let counter = r.u32()?;
            let seed = Zeroizing::new(r.array::<32>()?);
            skipped.push_back(MessageKeySeed::new(*seed, counter));
        }
        receiver_chains.push(ReceiverChain {
            ratchet_key,
            chain_key,
            skipped,
        });
    }
    let pending = match r.u8()? {
        0 => None,
        1 => {
            let flags = r.u8()?;
            if flags & !(FLAG_ONE_TIME | FLAG_KEM) != 0 {
                return Err(Error::InvalidRecord("bad flags"));
            }
            let pre_key_id = if flags & FLAG_ONE_TIME != 0 {
                Some(r.u32()?)
            } else {
                None
            };
            let signed_pre_key_id = r.u32()?;
            let kem = if flags & FLAG_KEM != 0 {
                let id = r.u32()?;
                let ciphertext = KemCiphertext::decode(r.take(1569)?)
                    .map_err(|_| Error::InvalidRecord("bad KEM ciphertext"))?;
                Some((id, ciphertext))
            } else {
                None
            };
            Some(PendingPreKey {
                pre_key_id,
                signed_pre_key_id,
                kem,
                created_at_ms: r.u64()?,
            })
        }
        _ => return Err(Error::InvalidRecord("bad flag")),
    };
    let spqr = if format == RECORD_FORMAT_V1 {
        SpqrState::disabled()
    } else {
        let len = usize::try_from(r.u32()?).unwrap_or(usize::MAX);
        if len > hush_spqr::limits::MAX_STATE_LEN {
            return Err(Error::InvalidRecord("SPQR state too large"));
        }
        SpqrState::decode(r.take(len)?).map_err(|_| Error::InvalidRecord("bad SPQR state"))?
    };
    if version == X3DH_MESSAGE_VERSION && spqr.version() != hush_spqr::Version::V0 {
        return Err(Error::InvalidRecord("SPQR state in a classic X3DH session"));
    }
    Ok(SessionState {
        version,
        local_registration_id,
        remote_registration_id,
        local_identity,
        remote_identity,
        base_key,
        root_key,
        previous_counter,
        sender_ratchet,
        sender_chain,
        receiver_chains,
        pending,
        spqr,
    })
}

#[cfg(test)]
mod tests;
