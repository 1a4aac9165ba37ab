//! Debug output of everything holding a private key shows ids, times and public keys,
//! never private key bytes. Pinned with insta snapshots.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    reason = "test helpers outside #[test] fns: a failed unwrap or panic is a failed test"
)]

use hush_core::{IdentityKeyPair, KemKeyType, PrivateKey};
use hush_prekey::{
    GenerateRequest, KemPreKeyRecord, PreKeyIdAllocator, PreKeyRecord, SignedPreKeyRecord,
    generate_prekeys,
};
use hush_test_support::test_rng;

#[test]
fn records_never_print_private_keys() {
    let mut rng = test_rng(70);
    let identity = IdentityKeyPair::from(PrivateKey::from_bytes([0x11; 32]));
    let signed = SignedPreKeyRecord::generate(7, &identity, 1_700_000_000_000, &mut rng).unwrap();
    let one_time = PreKeyRecord::generate(8, &mut rng).unwrap();
    let kem = KemPreKeyRecord::generate(
        9,
        KemKeyType::Kyber1024,
        &identity,
        1_700_000_000_001,
        true,
        &mut rng,
    )
    .unwrap();
    let mut request = GenerateRequest::default();
    request.one_time_prekeys = 2;
    request.kem_prekeys = 1;
    let set = generate_prekeys(
        &identity,
        &mut PreKeyIdAllocator::new(),
        &request,
        5,
        &mut rng,
    )
    .unwrap();

    let shown = format!("{signed:?}\n{one_time:?}\n{kem:?}\n{set:?}");
    for secret in [
        hex::encode(signed.key_pair().private_key().to_bytes()),
        hex::encode(one_time.key_pair().private_key().to_bytes()),
        hex::encode(&kem.key_pair().secret_key().encode()[1..33]),
    ] {
        assert!(!shown.contains(&secret[..16]), "{shown}");
    }
    insta::assert_snapshot!(shown);
}
