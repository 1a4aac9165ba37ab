//! Properties: decode(encode(x)) == x for every format, and batch verification names
//! exactly the keys one-by-one verification names, on random mixes of good and bad keys.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    reason = "test helpers outside #[test] fns: a failed unwrap or panic is a failed test"
)]

mod common;

use std::sync::OnceLock;

use common::{NOW_MS, UploadSpec, fixture};
use hush_core::{IdentityKeyPair, KemKeyType, KeyPair, PrivateKey, Signature};
use hush_prekey::{
    Issue, KemPreKey, KemPreKeyRecord, OneTimePreKey, PreKeyBundle, PreKeyBundleParts,
    PreKeyIdAllocator, PreKeyRecord, PreKeyRecords, PreKeyUpload, SignatureCheck, SignedPreKey,
    SignedPreKeyRecord, UploadError, UploadPolicy, validate_upload,
};
use hush_test_support::test_rng;
use proptest::prelude::*;

/// A few KEM records made once (key generation is the slow part), reused by every case.
fn kem_records() -> &'static [KemPreKeyRecord] {
    static RECORDS: OnceLock<Vec<KemPreKeyRecord>> = OnceLock::new();
    RECORDS.get_or_init(|| {
        let mut rng = test_rng(60);
        let identity = IdentityKeyPair::generate(&mut rng);
        (0..4)
            .map(|i| {
                let key_type = if i % 2 == 0 {
                    KemKeyType::Kyber1024
                } else {
                    KemKeyType::MlKem1024
                };
                KemPreKeyRecord::generate(i, key_type, &identity, NOW_MS, i == 3, &mut rng).unwrap()
            })
            .collect()
    })
}

fn key_pair(seed: [u8; 32]) -> KeyPair {
    KeyPair::from(PrivateKey::from_bytes(seed))
}

fn kem_key(index: usize, id: u32, timestamp_ms: u64, signature: [u8; 64]) -> KemPreKey {
    let record = &kem_records()[index % 4];
    KemPreKey::new(
        id,
        timestamp_ms,
        record.key_pair().public_key().clone(),
        Signature::from_bytes(signature),
    )
    .unwrap()
}

prop_compose! {
    fn id()(id in prop_oneof![0..=0xFF_FFFFu32, Just(0), Just(0xFF_FFFF)]) -> u32 { id }
}

prop_compose! {
    fn signature()(head in any::<[u8; 32]>(), tail in any::<[u8; 32]>()) -> [u8; 64] {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(&head);
        out[32..].copy_from_slice(&tail);
        out
    }
}

prop_compose! {
    fn upload()(
        identity in any::<[u8; 32]>(),
        signed in proptest::option::of((id(), any::<u64>(), any::<[u8; 32]>(), signature())),
        one_time in proptest::collection::vec((id(), any::<[u8; 32]>()), 0..8),
        kem in proptest::collection::vec((0usize..4, id(), any::<u64>(), signature()), 0..4),
        last_resort in proptest::option::of((0usize..4, id(), any::<u64>(), signature())),
    ) -> PreKeyUpload {
        PreKeyUpload::new(
            key_pair(identity).public_key().into(),
            signed.map(|(id, t, k, s)| SignedPreKey::new(id, t, key_pair(k).public_key(), Signature::from_bytes(s)).unwrap()),
            one_time.into_iter().map(|(id, k)| OneTimePreKey::new(id, key_pair(k).public_key()).unwrap()).collect(),
            kem.into_iter().map(|(i, id, t, s)| kem_key(i, id, t, s)).collect(),
            last_resort.map(|(i, id, t, s)| kem_key(i, id, t, s)),
        )
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn upload_round_trips(upload in upload()) {
        let bytes = upload.encode();
        let decoded = PreKeyUpload::decode(&bytes, &UploadPolicy::default()).unwrap();
        prop_assert_eq!(&decoded, &upload);
        prop_assert_eq!(decoded.encode(), bytes);
    }

    #[test]
    fn bundle_round_trips(
        registration_id in any::<u32>(),
        device_id in 1..=127u32,
        seeds in any::<[[u8; 32]; 3]>(),
        ids in (id(), id(), id()),
        with_one_time in any::<bool>(),
        kem in 0usize..4,
        signatures in (signature(), signature()),
    ) {
        let bundle = PreKeyBundle::new(PreKeyBundleParts {
            registration_id,
            device_id,
            identity_key: key_pair(seeds[0]).public_key().into(),
            signed_prekey_id: ids.0,
            signed_prekey: key_pair(seeds[1]).public_key(),
            signed_prekey_signature: Signature::from_bytes(signatures.0),
            one_time_prekey: with_one_time.then(|| OneTimePreKey::new(ids.1, key_pair(seeds[2]).public_key()).unwrap()),
            kem_prekey_id: ids.2,
            kem_prekey: kem_records()[kem].key_pair().public_key().clone(),
            kem_prekey_signature: Signature::from_bytes(signatures.1),
        }).unwrap();
        let bytes = bundle.encode();
        let decoded = PreKeyBundle::decode(&bytes).unwrap();
        prop_assert_eq!(&decoded, &bundle);
        prop_assert_eq!(decoded.encode(), bytes);
    }

    #[test]
    fn records_round_trip(
        seeds in proptest::collection::vec(any::<[u8; 32]>(), 1..4),
        id in id(),
        timestamp_ms in any::<u64>(),
        signature in signature(),
        kem in 0usize..4,
        last_resort in any::<bool>(),
    ) {
        let signed: Vec<_> = seeds.iter()
            .map(|s| SignedPreKeyRecord::new(id, timestamp_ms, key_pair(*s), Signature::from_bytes(signature)).unwrap())
            .collect();
        let one_time: Vec<_> = seeds.iter().map(|s| PreKeyRecord::new(id, key_pair(*s)).unwrap()).collect();
        let source = &kem_records()[kem];
        let kem_record = KemPreKeyRecord::new(id, timestamp_ms, source.key_pair().clone(), Signature::from_bytes(signature), last_resort).unwrap();

        for record in &signed {
            prop_assert_eq!(&SignedPreKeyRecord::decode(&record.encode()).unwrap(), record);
            prop_assert_eq!(&SignedPreKeyRecord::decode_libsignal(&record.encode_libsignal()).unwrap(), record);
        }
        for record in &one_time {
            prop_assert_eq!(&PreKeyRecord::decode(&record.encode()).unwrap(), record);
            prop_assert_eq!(&PreKeyRecord::decode_libsignal(&record.encode_libsignal()).unwrap(), record);
        }
        let decoded = KemPreKeyRecord::decode(&kem_record.encode()).unwrap();
        prop_assert_eq!(decoded.encode(), kem_record.encode());
        prop_assert_eq!(decoded.is_last_resort(), last_resort);
        let decoded = KemPreKeyRecord::decode_libsignal(&kem_record.encode_libsignal(), last_resort).unwrap();
        prop_assert_eq!(decoded.encode(), kem_record.encode());

        let set = PreKeyRecords::new(signed.clone(), one_time.clone(), vec![kem_record.clone()]).unwrap();
        let decoded = PreKeyRecords::decode(&set.encode()).unwrap();
        prop_assert_eq!(decoded.signed_prekeys(), signed.as_slice());
        prop_assert_eq!(decoded.one_time_prekeys(), one_time.as_slice());
        prop_assert_eq!(decoded.encode(), set.encode());
    }

    #[test]
    fn allocator_state_round_trips(seed in any::<u64>(), steps in 0usize..5) {
        let mut ids = PreKeyIdAllocator::with_random_start(&mut test_rng(seed));
        for _ in 0..steps {
            ids.allocate(hush_prekey::IdSpace::KemPreKey);
        }
        prop_assert_eq!(PreKeyIdAllocator::decode(&ids.encode()).unwrap(), ids);
    }
}

/// One upload, made once: a signed prekey, 20 KEM prekeys and a last-resort key.
fn signed_fixture() -> &'static (IdentityKeyPair, UploadSpec) {
    static FIXTURE: OnceLock<(IdentityKeyPair, UploadSpec)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let f = fixture(61, 0, 20);
        (f.identity, UploadSpec::from_upload(&f.upload))
    })
}

#[derive(Debug, Clone, Copy)]
enum Damage {
    None,
    FlipBit(usize),
    NonCanonicalS,
    SwapWithNext,
    ZeroR,
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        6 => Just(Damage::None),
        1 => (0usize..512).prop_map(Damage::FlipBit),
        1 => Just(Damage::NonCanonicalS),
        1 => Just(Damage::SwapWithNext),
        1 => Just(Damage::ZeroR),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn batch_names_exactly_the_keys_single_verification_names(
        damages in proptest::collection::vec(damage(), 22),
        seed in any::<u64>(),
    ) {
        let (identity, spec) = signed_fixture();
        let mut spec = spec.clone();
        let originals: Vec<Vec<u8>> = std::iter::once(&spec.signed_prekey.as_ref().unwrap().signature)
            .chain(spec.kem_prekeys.iter().map(|k| &k.signature))
            .chain(std::iter::once(&spec.last_resort_kem_prekey.as_ref().unwrap().signature))
            .cloned()
            .collect();
        let mut signatures = originals.clone();
        for (i, d) in damages.iter().enumerate() {
            let s = &mut signatures[i];
            match *d {
                Damage::None => {}
                Damage::FlipBit(bit) => s[bit / 8] ^= 1 << (bit % 8),
                Damage::NonCanonicalS => s[63] = (s[63] & 0x80) | 0x7f,
                Damage::SwapWithNext => *s = originals[(i + 1) % originals.len()].clone(),
                Damage::ZeroR => s[..32].fill(0),
            }
        }
        spec.signed_prekey.as_mut().unwrap().signature = signatures[0].clone();
        for (k, s) in spec.kem_prekeys.iter_mut().zip(&signatures[1..21]) {
            k.signature = s.clone();
        }
        spec.last_resort_kem_prekey.as_mut().unwrap().signature = signatures[21].clone();
        let bytes = spec.encode();

        let key = identity.identity_key();
        let mut batch = UploadPolicy::default();
        batch.signature_check = SignatureCheck::Batch;
        let mut single = UploadPolicy::default();
        single.signature_check = SignatureCheck::OneByOne;
        let batch_result = validate_upload(&key, &bytes, &batch, NOW_MS, &mut test_rng(seed));
        let single_result = validate_upload(&key, &bytes, &single, NOW_MS, &mut test_rng(seed));
        prop_assert_eq!(&batch_result, &single_result);

        // And the keys named are exactly those whose signature changed.
        let changed: Vec<usize> = (0..22).filter(|&i| signatures[i] != originals[i]).collect();
        let named: Vec<usize> = match batch_result {
            Ok(_) => vec![],
            Err(UploadError::Rejected { problems }) => problems
                .iter()
                .map(|p| {
                    prop_assert_eq!(p.issue, Issue::BadSignature);
                    Ok(match (p.kind, p.position) {
                        (hush_prekey::KeyKind::SignedPreKey, _) => 0,
                        (hush_prekey::KeyKind::KemPreKey, Some(i)) => i + 1,
                        _ => 21,
                    })
                })
                .collect::<Result<_, TestCaseError>>()?,
            Err(other) => return Err(TestCaseError::fail(format!("{other:?}"))),
        };
        prop_assert_eq!(named, changed);
    }
}
