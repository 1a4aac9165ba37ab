//! The whole path a real deployment takes: a device generates prekeys with `hush-prekey`,
//! the server validates the upload and hands out a bundle over the wire, another device
//! starts a session from that bundle, and the first device answers it with the private
//! records it kept.

use std::time::{Duration, UNIX_EPOCH};

use hush_core::{IdentityKeyPair, KemKeyType};
use hush_prekey::{
    DeviceKeys, GenerateRequest, PreKeyBundle, PreKeyIdAllocator, UploadPolicy, generate_prekeys,
    upload_for, validate_upload,
};
use hush_ratchet::SessionOptions;
use hush_ratchet::{
    CiphertextMessage, Error, LastResortReuseGuard, LocalIdentity, RemoteBundle, SessionRecord,
};
use hush_test_support::test_rng;
use hush_x3dh::{AgreementMode, ResponderPreKeys, TrustAll};

#[test]
fn session_from_a_server_bundle() {
    let mut rng = test_rng(42);
    let now = UNIX_EPOCH + Duration::from_secs(1_750_000_000);
    let now_ms = 1_750_000_000_000;
    let bob = IdentityKeyPair::generate(&mut rng);
    let alice = IdentityKeyPair::generate(&mut rng);

    // Bob's device makes prekeys and uploads them.
    let mut ids = PreKeyIdAllocator::default();
    let mut request = GenerateRequest::default();
    request.one_time_prekeys = 3;
    request.kem_prekeys = 2;
    assert_eq!(request.kem_key_type, KemKeyType::Kyber1024);
    let records = generate_prekeys(&bob, &mut ids, &request, now_ms, &mut rng).unwrap();
    let upload = upload_for(&bob, &records).encode();

    // The server checks the upload and hands a bundle to Alice, over the wire.
    let validated = validate_upload(
        &bob.identity_key(),
        &upload,
        &UploadPolicy::default(),
        now_ms,
        &mut rng,
    )
    .unwrap();
    let mut device = DeviceKeys::new(7, 1, bob.identity_key()).unwrap();
    device.apply_upload(&validated).unwrap();
    let mut guard = LastResortReuseGuard::new();
    for round in 0..4 {
        let choice = device.take_bundle().unwrap();
        let bundle = PreKeyBundle::decode(&choice.bundle().encode()).unwrap();

        // Alice starts a session from it.
        let mut alice_record = SessionRecord::new();
        let alice_local = LocalIdentity {
            identity: &alice,
            registration_id: 9,
        };
        alice_record
            .initiate(
                alice_local,
                &RemoteBundle::from(&bundle),
                AgreementMode::Pqxdh,
                SessionOptions::default(),
                &TrustAll,
                now,
                &mut rng,
            )
            .unwrap();
        let text = format!("hello {round}");
        let CiphertextMessage::PreKey(first) = alice_record
            .encrypt(
                text.as_bytes(),
                SessionOptions::default(),
                &TrustAll,
                now,
                &mut rng,
            )
            .unwrap()
        else {
            panic!("the first message carries the key agreement");
        };

        // Bob finds the private keys the message names among his records.
        let signed = records
            .signed_prekeys()
            .iter()
            .find(|r| r.id() == first.signed_pre_key_id())
            .unwrap();
        let one_time = first.pre_key_id().map(|id| {
            records
                .one_time_prekeys()
                .iter()
                .find(|r| r.id() == id)
                .unwrap()
                .key_pair()
        });
        let kem = records
            .kem_prekeys()
            .iter()
            .find(|r| Some(r.id()) == first.kem_pre_key_id())
            .unwrap();
        // Three one-time EC keys; after them bundles carry none. Two one-time KEM keys; then
        // the last-resort key.
        assert_eq!(one_time.is_some(), round < 3, "round {round}");
        assert_eq!(kem.is_last_resort(), round >= 2, "round {round}");
        let keys = ResponderPreKeys {
            signed_prekey: signed.key_pair(),
            one_time_prekey: one_time,
            kem_prekey: Some(kem.key_pair().secret_key()),
        };
        let mut bob_record = SessionRecord::new();
        let bob_local = LocalIdentity {
            identity: &bob,
            registration_id: 7,
        };
        let kem_id = first.kem_pre_key_id().unwrap();
        if kem.is_last_resort() {
            guard
                .check(kem_id, first.signed_pre_key_id(), first.base_key())
                .unwrap();
        }
        let got = bob_record
            .decrypt_prekey(
                &first,
                bob_local,
                Some(keys),
                AgreementMode::Pqxdh,
                SessionOptions::default(),
                &TrustAll,
                &mut rng,
            )
            .unwrap();
        assert_eq!(got.plaintext.as_slice(), text.as_bytes());
        let shown = format!("{got:?}");
        assert!(
            !shown.contains(&format!("{:?}", text.as_bytes())) && !shown.contains(&text),
            "{shown}"
        );
        assert!(shown.contains("plaintext_len"), "{shown}");
        if kem.is_last_resort() {
            guard.record(kem_id, got.signed_prekey_id, &got.base_key);
            // The same first message replayed to a device that lost the session is refused.
            assert_eq!(
                guard.check(kem_id, first.signed_pre_key_id(), first.base_key()),
                Err(Error::ReusedBaseKey)
            );
        }
        assert_eq!(got.used_one_time_prekey, first.pre_key_id());
        assert_eq!(got.used_kem_prekey, first.kem_pre_key_id());
    }
}
