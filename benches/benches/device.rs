//! `hush-device`: linking end to end (offer, scan/accept, receive + countersign,
//! finish; QR rendering excluded) and a contact verifying a signed list of 5 devices
//! (the account signature and 5 membership signatures). Targets: linking under 1 ms of
//! CPU, verification under 400 µs (`docs/PERFORMANCE.md`).
//!
//! ```text
//! cargo bench -p hush-benches --bench device -- --quick
//! ```

#![allow(
    clippy::unwrap_used,
    reason = "bench set-up: inputs are made valid here, a failure should stop the run"
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hush_core::IdentityKeyPair;
use hush_device::{
    CompanionAssignment, CompanionLinking, DeviceEntry, DeviceList, DeviceListPolicy,
    KnownDeviceLists, LinkingOffer, PrimaryLinking, SeenOffers, sign_membership,
};
use hush_test_support::test_rng;

const NOW_MS: u64 = 1_700_000_000_000;

fn linking(c: &mut Criterion) {
    let mut rng = test_rng(1);
    let account = IdentityKeyPair::generate(&mut rng);
    let desktop = IdentityKeyPair::generate(&mut rng);
    let assignment = CompanionAssignment {
        user_id: b"alice".to_vec(),
        device_id: 2,
        key_index: 1,
    };
    c.bench_function("device/linking end to end", |b| {
        b.iter(|| {
            let companion = CompanionLinking::new(
                &mut rng,
                desktop.identity_key(),
                b"server-ref-0001!",
                NOW_MS,
                60_000,
            )
            .unwrap();
            let offer = LinkingOffer::from_qr_text(&companion.offer().to_qr_text()).unwrap();
            let mut seen = SeenOffers::new();
            let (primary, message) =
                PrimaryLinking::accept(&offer, &account, &assignment, &mut seen, NOW_MS, &mut rng)
                    .unwrap();
            let (linked, counter) = companion
                .receive(&message, &desktop, NOW_MS, &mut rng)
                .unwrap();
            let added = primary.finish(&counter, NOW_MS).unwrap();
            black_box((linked, added))
        });
    });
}

fn device_list(c: &mut Criterion) {
    let mut rng = test_rng(2);
    let account = IdentityKeyPair::generate(&mut rng);
    let key = account.identity_key();
    let policy = DeviceListPolicy::default();
    let mut list = DeviceList::new(key, b"alice", &account, 1, NOW_MS, policy, &mut rng).unwrap();
    for device_id in 2..=5 {
        let device = IdentityKeyPair::generate(&mut rng);
        list.add_companion(DeviceEntry {
            device_id,
            identity_key: device.identity_key(),
            key_index: 1,
            added_at_ms: NOW_MS,
            membership_signature: sign_membership(&device, &key, b"alice", device_id, &mut rng)
                .unwrap(),
        })
        .unwrap();
    }
    let bytes = list.sign(&account, NOW_MS, &mut rng).unwrap().encode();
    let known = KnownDeviceLists::new(DeviceListPolicy::default());
    c.bench_function("device/verify signed list of 5 devices", |b| {
        b.iter(|| {
            let mut contact = known.clone();
            black_box(contact.verify(b"alice", black_box(&bytes)).unwrap())
        });
    });
}

criterion_group!(benches, linking, device_list);
criterion_main!(benches);
