//! The bodies of hush's fuzz targets, one plain function per target.
//!
//! Each function takes the fuzzer's bytes, feeds them to one hush parser and checks what
//! comes out: nothing may panic, and whatever decodes must re-encode to bytes that decode
//! to the same value. A function panics (an `assert!` fails) only when it finds a bug.
//!
//! The cargo-fuzz workspace in `fuzz/` wraps each function in a one-line
//! `fuzz_target!`; `tests/corpus.rs` replays `fuzz/corpus/<target>/` and
//! `fuzz/regressions/<target>/` through the same functions on stable Rust, so CI covers
//! every corpus without a fuzzer. [`TARGETS`] is the registry both use: a target that is
//! not listed there has no corpus replay.
//!
//! Not published, and not a dependency of any library crate.
//!
//! ```
//! // Every target accepts every input without panicking, including the empty one.
//! for (name, target) in hush_fuzz_targets::TARGETS {
//!     target(b"");
//!     assert!(hush_fuzz_targets::target(name).is_some());
//! }
//! ```

#![forbid(unsafe_code)]

pub mod backup;
pub mod client;
pub mod core_targets;
pub mod device;
pub mod facade;
pub mod group;
pub mod prekey;
pub mod ratchet;
pub mod sealed;
pub mod spqr;
pub mod store;
pub mod vault;

/// A fuzz target body: takes any bytes, panics only on a bug.
pub type Target = fn(&[u8]);

/// Every fuzz target, by the name of its `fuzz/fuzz_targets/<name>.rs` file and its
/// corpus directory `fuzz/corpus/<name>/`. One row per target; crates add rows at the end.
#[rustfmt::skip] // one row per line, however long, so that adding a target is one line
pub const TARGETS: &[(&str, Target)] = &[
    ("public_key", core_targets::public_key),
    ("private_key", core_targets::private_key),
    ("identity_key_pair", core_targets::identity_key_pair),
    ("signature", core_targets::signature),
    ("xeddsa_verify", core_targets::xeddsa_verify),
    ("kem_public_key", core_targets::kem_public_key),
    ("kem_secret_key", core_targets::kem_secret_key),
    ("kem_ciphertext", core_targets::kem_ciphertext),
    ("kem_key_pair", core_targets::kem_key_pair),
    ("scannable_fingerprint", core_targets::scannable_fingerprint),
    ("sender_key_message", group::sender_key_message),
    ("sender_key_distribution_message", group::sender_key_distribution_message),
    ("sender_key_record", group::sender_key_record),
    ("sender_key_tracker", group::sender_key_tracker),
    ("group_interaction", group::group_interaction),
    ("group_membership", group::group_membership),
    ("distribution_id", group::distribution_id),
    ("prekey_bundle", prekey::prekey_bundle),
    ("prekey_upload", prekey::prekey_upload),
    ("prekey_validate_upload", prekey::prekey_validate_upload),
    ("prekey_records", prekey::prekey_records),
    ("signal_message", ratchet::signal_message),
    ("prekey_signal_message", ratchet::prekey_signal_message),
    ("session_record", ratchet::session_record),
    ("ratchet_interaction", ratchet::ratchet_interaction),
    ("linking_offer", device::linking_offer),
    ("linking_message", device::linking_message),
    ("linking_countersignature", device::linking_countersignature),
    ("linking_state", device::linking_state),
    ("device_list", device::device_list),
    ("vault_messages", vault::vault_messages),
    ("backup_header", backup::backup_header),
    ("backup_stream", backup::backup_stream),
    ("recovery_code", backup::recovery_code),
    ("password_wrapped_key", backup::password_wrapped_key),
    ("client_content", client::client_content),
    ("store_local_account", store::store_local_account),
    ("store_user_sessions", store::store_user_sessions),
    ("facade_interaction", facade::facade_interaction),
    ("facade_linking_state", client::facade_linking_state),
    ("spqr_payload", spqr::spqr_payload),
    ("spqr_state", spqr::spqr_state),
    ("spqr_chunks", spqr::spqr_chunks),
    ("spqr_interaction", spqr::spqr_interaction),
    ("sealed_server_certificate", sealed::sealed_server_certificate),
    ("sealed_sender_certificate", sealed::sealed_sender_certificate),
    ("sealed_v1_open", sealed::sealed_v1_open),
    ("sealed_received_open", sealed::sealed_received_open),
    ("sealed_sent_message", sealed::sealed_sent_message),
];

/// The target registered under `name`, if any.
#[must_use]
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}
