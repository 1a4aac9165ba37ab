//! What one decryption may cost (issue 16, item 12), counted in chain steps and key
//! agreements by the test-only counters in `keys.rs`, never timed.

use hush_core::{IdentityKeyPair, KemKeyPair, KemKeyType, KeyPair};
use hush_test_support::ratchet::{signal_message_with, spqr_none_payload};
use hush_test_support::test_rng;
use hush_x3dh::{AgreementMode, PeerPreKeys, TrustAll};

use super::*;
use crate::SessionOptions;
use crate::keys::work;
use crate::limits::MAX_FORWARD_JUMP;

/// Sessions in a full record: the current one and every archived one.
const SESSIONS: u64 = 1 + MAX_ARCHIVED_SESSIONS as u64;

/// Most chain steps one decryption may run: the forward jumps of all sessions tried add
/// up to at most `MAX_FORWARD_JUMP`, and each session tried steps once more to reach its
/// message key.
const MOST_CHAIN_STEPS: u64 = MAX_FORWARD_JUMP as u64 + SESSIONS;

/// Alice's record for Bob with the current session and the most archived ones: she
/// initiated 41 times from bundles with the same signed prekey, so every session has a
/// receiving chain for it. Returns the record and that signed prekey.
fn full_record() -> (SessionRecord, PublicKey) {
    let mut rng = test_rng(12);
    let alice = IdentityKeyPair::generate(&mut rng);
    let bob = IdentityKeyPair::generate(&mut rng);
    let signed = KeyPair::generate(&mut rng);
    let kem = KemKeyPair::generate(KemKeyType::Kyber1024, &mut rng);
    let now = UNIX_EPOCH + core::time::Duration::from_secs(1_700_000_000);
    let mut record = SessionRecord::new();
    for _ in 0..SESSIONS {
        let bundle = RemoteBundle {
            registration_id: 2,
            signed_prekey_id: 1,
            one_time_prekey_id: None,
            kem_prekey_id: Some(1),
            prekeys: PeerPreKeys {
                identity_key: bob.identity_key(),
                signed_prekey: signed.public_key(),
                signed_prekey_signature: bob.sign(&signed.public_key().encode(), &mut rng),
                one_time_prekey: None,
                kem_prekey: Some((
                    kem.public_key().clone(),
                    bob.sign(&kem.public_key().encode(), &mut rng),
                )),
            },
        };
        let local = LocalIdentity {
            identity: &alice,
            registration_id: 1,
        };
        record
            .initiate(
                local,
                &bundle,
                AgreementMode::Pqxdh,
                SessionOptions::default(),
                &TrustAll,
                now,
                &mut rng,
            )
            .unwrap();
    }
    assert_eq!(record.archived_sessions(), MAX_ARCHIVED_SESSIONS);
    (record, signed.public_key())
}

/// A forged message: any ratchet key, any counter, an SPQR payload naming key `counter +
/// 1` of Bob's first chain epoch (so that every session plans a key for it), a MAC made
/// of zeros.
fn forged(ratchet_key: &PublicKey, counter: u32) -> SignalMessage {
    forged_with_spqr_index(ratchet_key, counter, counter.saturating_add(1))
}

/// [`forged`] with SPQR key index `spqr_index`.
fn forged_with_spqr_index(ratchet_key: &PublicKey, counter: u32, spqr_index: u32) -> SignalMessage {
    SignalMessage::decode(&signal_message_with(
        4,
        &ratchet_key.encode(),
        counter,
        0,
        &[0; 16],
        &spqr_none_payload(1, spqr_index),
        None,
        [0; 8],
    ))
    .unwrap()
}

/// Decrypts `message`, which must fail and leave `record` byte-identical; returns the
/// error and the work it cost.
fn reject(record: &mut SessionRecord, message: &SignalMessage) -> (Error, u64, u64) {
    let before = record.encode();
    let _ = work::take();
    let error = record
        .decrypt(
            message,
            SessionOptions::default(),
            &TrustAll,
            &mut test_rng(0),
        )
        .unwrap_err();
    let (steps, agreements) = work::take();
    assert_eq!(
        record.encode(),
        before,
        "a rejected message changed the record"
    );
    (error, steps, agreements)
}

/// The message: a ratchet key no session knows, counter 25 000. Every session
/// would run a key agreement and 25 001 chain steps before its MAC check (41 x 25 001 =
/// 1 025 041 steps); now the current session does, and no other can afford its jump.
#[test]
fn a_forged_message_with_an_unknown_ratchet_key_costs_one_sessions_worth() {
    let (mut record, _) = full_record();
    let unknown = KeyPair::generate(&mut test_rng(99)).public_key();
    let (error, steps, agreements) = reject(&mut record, &forged(&unknown, MAX_FORWARD_JUMP));
    assert!(
        steps <= MOST_CHAIN_STEPS,
        "{steps} chain steps for one forged message (bound {MOST_CHAIN_STEPS})"
    );
    assert!(agreements <= SESSIONS, "{agreements} key agreements");
    assert_eq!(
        error,
        Error::TooFarAhead {
            jump: MAX_FORWARD_JUMP
        }
    );
}

/// The same with a ratchet key every session knows (Bob's signed prekey, which all 41
/// sessions started from): no key agreement at all, and still one jump's worth of steps.
#[test]
fn a_forged_message_with_a_ratchet_key_every_session_knows_costs_one_sessions_worth() {
    let (mut record, known) = full_record();
    let (_, steps, agreements) = reject(&mut record, &forged(&known, MAX_FORWARD_JUMP));
    assert!(
        steps <= MOST_CHAIN_STEPS,
        "{steps} chain steps for one forged message (bound {MOST_CHAIN_STEPS})"
    );
    assert_eq!(agreements, 0);
}

/// Small counters are cheap everywhere, so every session is still tried: one key
/// agreement each (the bound on key agreements is the number of sessions), a step each.
#[test]
fn a_forged_message_with_a_small_counter_is_tried_in_every_session() {
    let (mut record, _) = full_record();
    let unknown = KeyPair::generate(&mut test_rng(98)).public_key();
    let (error, steps, agreements) = reject(&mut record, &forged(&unknown, 3));
    assert_eq!(error, Error::DecryptionFailed);
    assert_eq!(agreements, SESSIONS);
    assert_eq!(steps, SESSIONS * 4);
}

/// The SPQR chains are bounded the same way: a forged payload naming SPQR key 25 000
/// makes the first session tried derive 25 000 SPQR keys; every other session is refused
/// before deriving any (without the shared budget each of the 41 would derive them all,
/// and the error would be the last session's failed MAC).
#[test]
fn a_forged_spqr_index_costs_one_sessions_worth() {
    let (mut record, known) = full_record();
    let message = forged_with_spqr_index(&known, 1, MAX_FORWARD_JUMP);
    let (error, _, agreements) = reject(&mut record, &message);
    assert_eq!(agreements, 0);
    assert_eq!(
        error,
        Error::TooFarAhead {
            jump: MAX_FORWARD_JUMP
        }
    );
    // One step further is refused by every session at once.
    let message = forged_with_spqr_index(&known, 1, MAX_FORWARD_JUMP + 1);
    let (error, _, _) = reject(&mut record, &message);
    assert_eq!(
        error,
        Error::TooFarAhead {
            jump: MAX_FORWARD_JUMP + 1
        }
    );
}

/// Under the default policy a message without an SPQR payload is refused before any
/// session does any work.
#[test]
fn a_message_without_spqr_costs_nothing_when_spqr_is_required() {
    let (mut record, known) = full_record();
    let message = forged_with_spqr_index(&known, 3, 0);
    let bare = SignalMessage::decode(&hush_test_support::ratchet::signal_message(
        4,
        &known.encode(),
        3,
        0,
        &[0; 16],
        [0; 8],
    ))
    .unwrap();
    assert!(!message.pq_ratchet().is_empty());
    let (error, steps, agreements) = reject(&mut record, &bare);
    assert_eq!((error, steps, agreements), (Error::SpqrRequired, 0, 0));
}
