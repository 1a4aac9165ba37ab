//! Fixtures shared by the store tests: one of every kind of value a store holds, made
//! by the protocol crates themselves (a real PQXDH session, real prekeys, a sender-key
//! chain), so the stores are tested on realistic encodings.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "shared test helpers: each test file uses a subset, and a failed unwrap is a failed test"
)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hush::Address;
use hush::store::LocalAccount;
use hush_core::{IdentityKey, IdentityKeyPair, KemKeyType, KeyPair};
use hush_group::{DistributionId, SenderKeyRecord, SenderKeyTracker};
use hush_prekey::{IdSpace, KemPreKeyRecord, PreKeyIdAllocator, PreKeyRecord, SignedPreKeyRecord};
use hush_ratchet::{LocalIdentity, RemoteBundle, SessionOptions, SessionRecord};
use hush_test_support::test_rng;
use hush_x3dh::{AgreementMode, PeerPreKeys, TrustAll};

/// A fixed "now" (2023-11-14).
pub(crate) fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

pub(crate) fn address(name: &str, device_id: u32) -> Address {
    Address::new(name, device_id).unwrap()
}

/// One of every value, from a seeded RNG.
pub(crate) struct Fixtures {
    pub(crate) identity: IdentityKeyPair,
    pub(crate) peer_identity: IdentityKey,
    pub(crate) signed: SignedPreKeyRecord,
    pub(crate) one_time: PreKeyRecord,
    pub(crate) kem: KemPreKeyRecord,
    pub(crate) kem_last_resort: KemPreKeyRecord,
    pub(crate) allocator: PreKeyIdAllocator,
    pub(crate) session: SessionRecord,
    pub(crate) other_session: SessionRecord,
    /// Two records of a few hundred bytes ([`initiated`] with classic X3DH): `session` and
    /// `other_session` carry a pending PQXDH first message (about 1.9 KB).
    pub(crate) short_session: SessionRecord,
    pub(crate) other_short_session: SessionRecord,
    pub(crate) distribution_id: DistributionId,
    pub(crate) sender_key: SenderKeyRecord,
    pub(crate) tracker: SenderKeyTracker,
    pub(crate) base_key: hush_core::PublicKey,
}

impl Fixtures {
    pub(crate) fn new(seed: u64) -> Self {
        let mut rng = test_rng(seed);
        let identity = IdentityKeyPair::generate(&mut rng);
        let peer = IdentityKeyPair::generate(&mut rng);
        let t = 1_700_000_000_000;
        let signed = SignedPreKeyRecord::generate(5, &identity, t, &mut rng).unwrap();
        let one_time = PreKeyRecord::generate(9, &mut rng).unwrap();
        let kem =
            KemPreKeyRecord::generate(11, KemKeyType::Kyber1024, &identity, t, false, &mut rng)
                .unwrap();
        let kem_last_resort =
            KemPreKeyRecord::generate(12, KemKeyType::Kyber1024, &identity, t, true, &mut rng)
                .unwrap();
        let mut allocator = PreKeyIdAllocator::default();
        allocator.allocate(IdSpace::OneTimePreKey);
        let session = session_to(&identity, &peer, 3, &mut rng);
        let other_session = session_to(&identity, &peer, 1, &mut rng);
        let distribution_id = DistributionId::generate(&mut rng);
        let mut sender_key = SenderKeyRecord::new(distribution_id);
        let _ = sender_key.create_distribution(&mut rng);
        let mut tracker = SenderKeyTracker::new(distribution_id);
        tracker
            .add_device(address("bob", 1), peer.identity_key())
            .unwrap();
        tracker
            .add_device(address("bob", 2), peer.identity_key())
            .unwrap();
        let base_key = KeyPair::generate(&mut rng).public_key();
        let short = initiated(&identity, &peer, AgreementMode::ClassicX3dh, 2, &mut rng);
        let other_short = initiated(&identity, &peer, AgreementMode::ClassicX3dh, 1, &mut rng);
        Self {
            identity,
            peer_identity: peer.identity_key(),
            signed,
            one_time,
            kem,
            kem_last_resort,
            allocator,
            session,
            other_session,
            short_session: short,
            other_short_session: other_short,
            distribution_id,
            sender_key,
            tracker,
            base_key,
        }
    }

    pub(crate) fn account(&self) -> LocalAccount {
        LocalAccount {
            user: "alice".to_owned(),
            device_id: 2,
            registration_id: 4321,
            identity: self.identity.clone(),
            account_key: self.peer_identity,
        }
    }
}

/// A session `identity` initiated (PQXDH, Kyber1024, with a one-time prekey) to a fresh
/// device of `peer`, then used to encrypt `messages` messages: the record a device
/// holds after sending to a new contact.
pub(crate) fn session_to(
    identity: &IdentityKeyPair,
    peer: &IdentityKeyPair,
    messages: usize,
    rng: &mut impl rand_core::CryptoRng,
) -> SessionRecord {
    initiated(identity, peer, AgreementMode::Pqxdh, messages, rng)
}

/// [`session_to`] with the agreement `mode`. With `AgreementMode::ClassicX3dh` the
/// pending first message carries no KEM ciphertext, so the record is a few hundred
/// bytes, the size of an answered session.
pub(crate) fn initiated(
    identity: &IdentityKeyPair,
    peer: &IdentityKeyPair,
    mode: AgreementMode,
    messages: usize,
    rng: &mut impl rand_core::CryptoRng,
) -> SessionRecord {
    let signed = KeyPair::generate(rng);
    let one_time = KeyPair::generate(rng);
    let kem_prekey = (mode == AgreementMode::Pqxdh).then(|| {
        let kem = hush_core::KemKeyPair::generate(KemKeyType::Kyber1024, rng);
        let kem_public = kem.public_key().clone();
        let kem_signature = peer.sign(&kem_public.encode(), rng);
        (kem_public, kem_signature)
    });
    let bundle = RemoteBundle {
        registration_id: 77,
        signed_prekey_id: 1,
        one_time_prekey_id: Some(2),
        kem_prekey_id: kem_prekey.as_ref().map(|_| 3),
        prekeys: PeerPreKeys {
            identity_key: peer.identity_key(),
            signed_prekey: signed.public_key(),
            signed_prekey_signature: peer.sign(&signed.public_key().encode(), rng),
            one_time_prekey: Some(one_time.public_key()),
            kem_prekey,
        },
    };
    let mut record = SessionRecord::new();
    record
        .initiate(
            LocalIdentity {
                identity,
                registration_id: 4321,
            },
            &bundle,
            mode,
            SessionOptions::default(),
            &TrustAll,
            now(),
            rng,
        )
        .unwrap();
    for i in 0..messages {
        record
            .encrypt(
                format!("message {i}").as_bytes(),
                SessionOptions::default(),
                &TrustAll,
                now(),
                rng,
            )
            .unwrap();
    }
    record
}
