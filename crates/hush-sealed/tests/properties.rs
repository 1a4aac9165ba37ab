//! Round trips over generated inputs: content encoding, and v2 sends to any mix of
//! accounts with shared or per-device identity keys, where every device must open
//! exactly the delivery the split gives it.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap or index is a failed test"
)]

mod common;

use common::{EXPIRY, NOW, aci, destination, identity, service};
use hush_sealed::{ContentHint, ContentType, SentMessage, UnidentifiedSenderMessageContent};
use hush_test_support::test_rng;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn content_round_trips(
        kind in 0usize..4,
        contents in proptest::collection::vec(any::<u8>(), 0..300),
        hint in any::<u32>(),
        group_id in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
    ) {
        let service = service(1);
        let alice = identity(2);
        let certificate = service.certificate(aci(1), 3, &alice, EXPIRY);
        let content_type = [ContentType::PreKey, ContentType::Whisper, ContentType::SenderKey, ContentType::Plaintext][kind];
        let content = UnidentifiedSenderMessageContent::new(
            content_type, certificate, contents.clone(), ContentHint::from(hint), group_id.clone(),
        ).unwrap();
        let decoded = UnidentifiedSenderMessageContent::decode(content.as_bytes()).unwrap();
        prop_assert_eq!(&decoded, &content);
        prop_assert_eq!(decoded.contents(), &contents[..]);
        prop_assert_eq!(decoded.content_hint().to_u32(), hint);
        prop_assert_eq!(decoded.group_id(), group_id.as_deref().filter(|g| !g.is_empty()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn every_device_opens_exactly_its_delivery(
        accounts in proptest::collection::vec((1usize..4, any::<bool>()), 1..5),
        seed in any::<u64>(),
    ) {
        let service = service(3);
        let alice = identity(4);
        let certificate = service.certificate(aci(0xa1), 1, &alice, EXPIRY);
        let content = common::content(certificate, b"payload");
        let mut keys = Vec::new();
        let mut destinations = Vec::new();
        for (account, (devices, own_keys)) in accounts.iter().enumerate() {
            let shared = identity(seed ^ (account as u64 + 100));
            for device in 0..*devices {
                let key = if *own_keys { identity(seed ^ (1000 + 10 * account as u64 + device as u64)) } else { shared.clone() };
                let id = aci(u8::try_from(account).unwrap() + 1);
                destinations.push(destination(id, u32::try_from(device).unwrap() + 1, 7, &key));
                keys.push((id, device + 1, key));
            }
        }
        let sent = hush_sealed::seal_v2(&content, &alice, &destinations, &[], &mut test_rng(seed)).unwrap();
        let parsed = SentMessage::parse(&sent).unwrap();
        let split = parsed.split();
        // Entries: one per account with a shared key, one per device otherwise.
        let expected_entries: usize = accounts.iter().map(|(d, own)| if *own { *d } else { 1 }).sum();
        prop_assert_eq!(split.len(), expected_entries);
        for (id, device, key) in &keys {
            let mine: Vec<_> = split
                .iter()
                .filter(|d| d.service_id == *id && d.devices.iter().any(|x| usize::from(x.device_id.get()) == *device))
                .collect();
            prop_assert_eq!(mine.len(), 1);
            let opened = hush_sealed::open(&mine[0].message, key, &service.validator, NOW).unwrap();
            prop_assert_eq!(opened.content(), &content);
        }
    }
}
