//! `Debug` output of every secret-holding public type prints no secret (the payload a
//! send plan shows is public wire data): pinned here.

#![allow(
    clippy::unwrap_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use hush_spqr::{ChainParams, Direction, SpqrState, Version};
use hush_test_support::test_rng;

#[test]
fn debug_output_is_pinned() {
    let mut alice = SpqrState::new(
        &[1; 32],
        Direction::A2B,
        Version::V1,
        Version::V1,
        ChainParams::default(),
    )
    .unwrap();
    let mut bob = SpqrState::new(
        &[1; 32],
        Direction::B2A,
        Version::V1,
        Version::V1,
        ChainParams::default(),
    )
    .unwrap();
    insta::assert_snapshot!(
        format!("{alice:?}"),
        @"SpqrState { version: V1, direction: A2B, negotiating: Some(V1), braid_state: KeysUnsampled, braid_epoch: 1, chain_epoch: 0, .. }"
    );
    let plan = alice.plan_send(&mut test_rng(1)).unwrap();
    insta::assert_snapshot!(
        format!("{plan:?}"),
        @"SendPlan { payload: EncodedPayload(01010101008c7bc6da22a99b32ac49b5816f3d78e9df1feb085e549b8f731e9198ef3b2dad), has_key: true, .. }"
    );
    insta::assert_snapshot!(format!("{:?}", plan.message_key().unwrap()), @"MessageKey { .. }");
    let received = bob.plan_recv(plan.payload()).unwrap();
    insta::assert_snapshot!(format!("{received:?}"), @"RecvPlan { has_key: true, chain_steps: 1, .. }");
    alice.apply_send(plan).unwrap();
    bob.apply_recv(received).unwrap();
    insta::assert_snapshot!(
        format!("{bob:?}"),
        @"SpqrState { version: V1, direction: B2A, negotiating: None, braid_state: NoHeaderReceived, braid_epoch: 1, chain_epoch: 0, .. }"
    );
    insta::assert_snapshot!(format!("{:?}", SpqrState::disabled()), @"SpqrState { version: V0, .. }");
}
