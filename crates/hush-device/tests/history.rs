//! The history hand-off: a `hush-backup` stream under the key and transcript hash of
//! one linking.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    reason = "tests"
)]

use hush_core::IdentityKeyPair;
use hush_device::history::Progress;
use hush_device::{
    CompanionAssignment, CompanionLinking, Error, LinkedAccount, LinkedCompanion, PrimaryLinking,
    SeenOffers,
};
use hush_test_support::test_rng;

const NOW: u64 = 1_700_000_000_000;

fn link(seed: u64, account: &IdentityKeyPair) -> (LinkedCompanion, LinkedAccount) {
    let mut rng = test_rng(seed);
    let desktop = IdentityKeyPair::generate(&mut rng);
    let companion =
        CompanionLinking::new(&mut rng, desktop.identity_key(), b"ref", NOW, 60_000).unwrap();
    let mut seen = SeenOffers::new();
    let assignment = CompanionAssignment {
        user_id: b"alice".to_vec(),
        device_id: 2,
        key_index: 1,
    };
    let offer = companion.offer().clone();
    let (primary, message) =
        PrimaryLinking::accept(&offer, account, &assignment, &mut seen, NOW, &mut rng).unwrap();
    let (linked, counter) = companion
        .receive(&message, &desktop, NOW, &mut rng)
        .unwrap();
    (primary.finish(&counter, NOW).unwrap(), linked)
}

fn history() -> Vec<u8> {
    (0..200_000u32).map(|i| (i % 251) as u8).collect()
}

#[test]
fn round_trip_with_progress() {
    let mut rng = test_rng(1);
    let account = IdentityKeyPair::generate(&mut rng);
    let (primary, companion) = link(2, &account);
    let plain = history();
    let mut sent = Vec::new();
    let mut send_progress: Vec<Progress> = Vec::new();
    let summary = primary
        .history
        .send(
            &mut rng,
            plain.as_slice(),
            &mut sent,
            Some(plain.len() as u64),
            |p| send_progress.push(p),
        )
        .unwrap();
    assert_eq!(summary.plaintext_bytes, plain.len() as u64);
    assert!(send_progress.len() >= 2, "progress after each chunk");
    assert!(
        send_progress
            .windows(2)
            .all(|w| w[0].bytes_done <= w[1].bytes_done)
    );
    let last = send_progress.last().unwrap();
    assert_eq!(last.bytes_done, plain.len() as u64);
    assert_eq!(last.bytes_total, Some(plain.len() as u64));

    let mut received = Vec::new();
    let mut receive_progress: Vec<Progress> = Vec::new();
    companion
        .history
        .receive(
            sent.as_slice(),
            &mut received,
            Some(sent.len() as u64),
            |p| receive_progress.push(p),
        )
        .unwrap();
    assert_eq!(received, plain);
    assert_eq!(
        receive_progress.last().unwrap().bytes_done,
        sent.len() as u64
    );
}

#[test]
fn stream_from_another_linking_is_refused() {
    let mut rng = test_rng(3);
    let account = IdentityKeyPair::generate(&mut rng);
    let (primary_a, _) = link(4, &account);
    let (_, companion_b) = link(5, &account);
    let mut sent = Vec::new();
    primary_a
        .history
        .send(&mut rng, &b"recent messages"[..], &mut sent, None, |_| {})
        .unwrap();
    let mut out = Vec::new();
    let err = companion_b
        .history
        .receive(sent.as_slice(), &mut out, None, |_| {})
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::HistoryStream(
                hush_backup::Error::WrongKey | hush_backup::Error::HeaderAuthentication
            )
        ),
        "{err:?}"
    );
    assert!(out.is_empty());
}

#[test]
fn corrupted_or_truncated_streams_are_refused() {
    let mut rng = test_rng(6);
    let account = IdentityKeyPair::generate(&mut rng);
    let (primary, companion) = link(7, &account);
    let mut sent = Vec::new();
    primary
        .history
        .send(&mut rng, history().as_slice(), &mut sent, None, |_| {})
        .unwrap();
    let mut flipped = sent.clone();
    let at = flipped.len() - 10;
    flipped[at] ^= 1;
    let err = companion
        .history
        .receive(flipped.as_slice(), &mut Vec::new(), None, |_| {})
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::HistoryStream(hush_backup::Error::CorruptedChunk { .. })
        ),
        "{err:?}"
    );
    let err = companion
        .history
        .receive(&sent[..sent.len() - 100], &mut Vec::new(), None, |_| {})
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::HistoryStream(
                hush_backup::Error::Truncated { .. } | hush_backup::Error::CorruptedChunk { .. }
            )
        ),
        "{err:?}"
    );
}
