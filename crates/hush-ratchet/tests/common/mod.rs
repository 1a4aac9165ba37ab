//! Two devices, Alice and Bob, with seeded randomness, for the public-API tests.
//!
//! Alice initiates from Bob's bundle; Bob answers with the prekeys her first message
//! names. Every receive goes through the real decoders (`CiphertextMessage::decode` of
//! the wire bytes), and [`Conversation::rejects`] checks that a failed decryption leaves
//! the receiver's record byte-identical.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "shared test helpers: each test file uses a subset, and a failed unwrap is a failed test"
)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hush_core::{IdentityKeyPair, KemKeyPair, KemKeyType, KeyPair};
use hush_ratchet::SessionOptions;
use hush_ratchet::{
    CiphertextMessage, Error, LocalIdentity, PreKeySignalMessage, RemoteBundle, Result,
    SessionRecord, SignalMessage,
};
use hush_test_support::test_rng;
use hush_x3dh::{AgreementMode, PeerPreKeys, ResponderPreKeys, TrustAll};
use rand_chacha::ChaCha20Rng;
use zeroize::Zeroizing;

/// The signed prekey id every test bundle uses.
pub(crate) const SIGNED_ID: u32 = 7;
/// The one-time prekey id.
pub(crate) const ONE_TIME_ID: u32 = 11;
/// The KEM prekey id.
pub(crate) const KEM_ID: u32 = 13;

/// A fixed "now" (2023-11-14).
pub(crate) fn start_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

pub(crate) const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// One device: identity, registration id and the prekeys it publishes.
pub(crate) struct Device {
    pub(crate) identity: IdentityKeyPair,
    pub(crate) registration_id: u32,
    pub(crate) signed: KeyPair,
    pub(crate) one_time: KeyPair,
    pub(crate) kem: KemKeyPair,
}

impl Device {
    pub(crate) fn generate(
        registration_id: u32,
        kem_type: KemKeyType,
        rng: &mut ChaCha20Rng,
    ) -> Self {
        Self {
            identity: IdentityKeyPair::generate(rng),
            registration_id,
            signed: KeyPair::generate(rng),
            one_time: KeyPair::generate(rng),
            kem: KemKeyPair::generate(kem_type, rng),
        }
    }

    pub(crate) fn local(&self) -> LocalIdentity<'_> {
        LocalIdentity {
            identity: &self.identity,
            registration_id: self.registration_id,
        }
    }

    /// This device's bundle: the KEM prekey only in PQXDH mode, the one-time prekey if
    /// asked for.
    pub(crate) fn bundle(
        &self,
        mode: AgreementMode,
        one_time: bool,
        rng: &mut ChaCha20Rng,
    ) -> RemoteBundle {
        let signed_public = self.signed.public_key();
        let kem = (mode == AgreementMode::Pqxdh).then(|| {
            let public = self.kem.public_key().clone();
            let signature = self.identity.sign(&public.encode(), rng);
            (public, signature)
        });
        RemoteBundle {
            registration_id: self.registration_id,
            signed_prekey_id: SIGNED_ID,
            one_time_prekey_id: one_time.then_some(ONE_TIME_ID),
            kem_prekey_id: kem.is_some().then_some(KEM_ID),
            prekeys: PeerPreKeys {
                identity_key: self.identity.identity_key(),
                signed_prekey: signed_public,
                signed_prekey_signature: self.identity.sign(&signed_public.encode(), rng),
                one_time_prekey: one_time.then(|| self.one_time.public_key()),
                kem_prekey: kem,
            },
        }
    }

    /// The private prekeys a first message names, as an app would look them up by id.
    pub(crate) fn prekeys_for(&self, message: &PreKeySignalMessage) -> ResponderPreKeys<'_> {
        assert_eq!(message.signed_pre_key_id(), SIGNED_ID);
        ResponderPreKeys {
            signed_prekey: &self.signed,
            one_time_prekey: message.pre_key_id().map(|id| {
                assert_eq!(id, ONE_TIME_ID);
                &self.one_time
            }),
            kem_prekey: message.kem_pre_key_id().map(|id| {
                assert_eq!(id, KEM_ID);
                self.kem.secret_key()
            }),
        }
    }
}

/// Which side of the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Alice,
    Bob,
}

impl Side {
    pub(crate) fn peer(self) -> Self {
        match self {
            Self::Alice => Self::Bob,
            Self::Bob => Self::Alice,
        }
    }
}

/// Alice, Bob, their records for each other, one seeded RNG and the time.
pub(crate) struct Conversation {
    pub(crate) alice: Device,
    pub(crate) bob: Device,
    pub(crate) alice_record: SessionRecord,
    pub(crate) bob_record: SessionRecord,
    pub(crate) rng: ChaCha20Rng,
    pub(crate) now: SystemTime,
    /// The mode both sides use.
    pub(crate) mode: AgreementMode,
    /// The options both sides pass to every call (SPQR required, no addresses, unless a
    /// test says otherwise).
    pub(crate) options: SessionOptions,
}

impl Conversation {
    /// Alice has initiated a PQXDH (Kyber1024) session with a one-time prekey; Bob has
    /// no session yet.
    pub(crate) fn new(seed: u64) -> Self {
        Self::with(seed, AgreementMode::Pqxdh, KemKeyType::Kyber1024, true)
    }

    /// Alice has initiated in `mode` with a `kem_type` prekey (PQXDH only), with or
    /// without a one-time prekey; Bob has no session yet.
    pub(crate) fn with(
        seed: u64,
        mode: AgreementMode,
        kem_type: KemKeyType,
        one_time: bool,
    ) -> Self {
        Self::configured(seed, mode, kem_type, one_time, SessionOptions::default())
    }

    /// [`Conversation::with`], both sides passing `options`.
    pub(crate) fn configured(
        seed: u64,
        mode: AgreementMode,
        kem_type: KemKeyType,
        one_time: bool,
        options: SessionOptions,
    ) -> Self {
        let mut rng = test_rng(seed);
        let alice = Device::generate(1, kem_type, &mut rng);
        let bob = Device::generate(2, kem_type, &mut rng);
        let mut conversation = Self {
            alice,
            bob,
            alice_record: SessionRecord::new(),
            bob_record: SessionRecord::new(),
            rng,
            now: start_time(),
            mode,
            options,
        };
        conversation.alice_initiates(one_time);
        conversation
    }

    /// Alice initiates a new session from a fresh copy of Bob's bundle.
    pub(crate) fn alice_initiates(&mut self, one_time: bool) {
        let bundle = self.bob.bundle(self.mode, one_time, &mut self.rng);
        self.alice_record
            .initiate(
                self.alice.local(),
                &bundle,
                self.mode,
                self.options,
                &TrustAll,
                self.now,
                &mut self.rng,
            )
            .unwrap();
    }

    /// A session both sides have acknowledged: Alice's first message reached Bob and
    /// Bob's answer reached Alice.
    pub(crate) fn established(seed: u64) -> Self {
        Self::established_with(seed, SessionOptions::default())
    }

    /// [`Conversation::established`], both sides passing `options`.
    pub(crate) fn established_with(seed: u64, options: SessionOptions) -> Self {
        let mut conversation = Self::configured(
            seed,
            AgreementMode::Pqxdh,
            KemKeyType::Kyber1024,
            true,
            options,
        );
        conversation.exchange(Side::Alice, b"first");
        conversation.exchange(Side::Bob, b"answer");
        conversation
    }

    pub(crate) fn record(&self, side: Side) -> &SessionRecord {
        match side {
            Side::Alice => &self.alice_record,
            Side::Bob => &self.bob_record,
        }
    }

    pub(crate) fn record_bytes(&self, side: Side) -> Zeroizing<Vec<u8>> {
        self.record(side).encode()
    }

    /// `from` encrypts `plaintext` now.
    pub(crate) fn send(&mut self, from: Side, plaintext: &[u8]) -> CiphertextMessage {
        let record = match from {
            Side::Alice => &mut self.alice_record,
            Side::Bob => &mut self.bob_record,
        };
        record
            .encrypt(plaintext, self.options, &TrustAll, self.now, &mut self.rng)
            .unwrap()
    }

    /// `to` receives `message`, through its wire bytes.
    pub(crate) fn receive(
        &mut self,
        to: Side,
        message: &CiphertextMessage,
    ) -> Result<Zeroizing<Vec<u8>>> {
        self.receive_bytes(to, message.message_type(), message.encode())
    }

    /// `to` decodes `bytes` as a message of `message_type` and decrypts it.
    pub(crate) fn receive_bytes(
        &mut self,
        to: Side,
        message_type: u8,
        bytes: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let message = CiphertextMessage::decode(message_type, bytes)?;
        let (device, record) = match to {
            Side::Alice => (&self.alice, &mut self.alice_record),
            Side::Bob => (&self.bob, &mut self.bob_record),
        };
        match message {
            CiphertextMessage::Signal(message) => {
                record.decrypt(&message, self.options, &TrustAll, &mut self.rng)
            }
            CiphertextMessage::PreKey(message) => record
                .decrypt_prekey(
                    &message,
                    device.local(),
                    Some(device.prekeys_for(&message)),
                    self.mode,
                    self.options,
                    &TrustAll,
                    &mut self.rng,
                )
                .map(|done| done.plaintext),
        }
    }

    /// `from` sends `plaintext` and the peer decrypts it at once.
    pub(crate) fn exchange(&mut self, from: Side, plaintext: &[u8]) {
        let message = self.send(from, plaintext);
        let got = self.receive(from.peer(), &message).unwrap();
        assert_eq!(got.as_slice(), plaintext);
    }

    /// `to` must reject `bytes` (in decoding or decryption), and its record must be
    /// byte-identical afterwards. Returns the error.
    pub(crate) fn rejects_bytes(&mut self, to: Side, message_type: u8, bytes: &[u8]) -> Error {
        let before = self.record_bytes(to);
        let result = self.receive_bytes(to, message_type, bytes);
        let after = self.record_bytes(to);
        assert_eq!(before, after, "a rejected message changed the record");
        match result {
            Ok(plaintext) => panic!(
                "accepted a message it must reject: {} bytes out",
                plaintext.len()
            ),
            Err(error) => error,
        }
    }

    /// [`Conversation::rejects_bytes`] for a whole message.
    pub(crate) fn rejects(&mut self, to: Side, message: &CiphertextMessage) -> Error {
        self.rejects_bytes(to, message.message_type(), message.encode())
    }
}

/// The `SignalMessage` a ciphertext carries (the inner one of a first message).
pub(crate) fn signal_of(message: &CiphertextMessage) -> &SignalMessage {
    match message {
        CiphertextMessage::Signal(message) => message,
        CiphertextMessage::PreKey(message) => message.message(),
    }
}

/// Unwraps a `SignalMessage`.
pub(crate) fn expect_signal(message: &CiphertextMessage) -> &SignalMessage {
    match message {
        CiphertextMessage::Signal(message) => message,
        CiphertextMessage::PreKey(_) => {
            panic!("expected a SignalMessage, got a PreKeySignalMessage")
        }
    }
}

/// Unwraps a `PreKeySignalMessage`.
pub(crate) fn expect_prekey(message: &CiphertextMessage) -> &PreKeySignalMessage {
    match message {
        CiphertextMessage::PreKey(message) => message,
        CiphertextMessage::Signal(_) => {
            panic!("expected a PreKeySignalMessage, got a SignalMessage")
        }
    }
}
