//! Targets for `hush-backup`'s password vault (feature `vault`): every wire message
//! decoder and the decoders of the vault's stored values.
//!
//! The formats are fixed-layout and keep the checked bytes, so whatever decodes must
//! re-encode to exactly the input.

use hush_backup::vault::messages::{
    CredentialFinalization, CredentialRequest, CredentialResponse, RegistrationRequest,
    RegistrationResponse, RegistrationUpload, Release, UpdateRequest,
};
use hush_backup::vault::{VaultEntry, VaultLoginState, VaultServerSetup};

/// Checks one decoder: if `data` decodes, it re-encodes to `data` and decodes again to
/// the same value.
fn check<T: PartialEq + core::fmt::Debug, E>(
    name: &str,
    data: &[u8],
    decode: impl Fn(&[u8]) -> Result<T, E>,
    encode: impl Fn(&T) -> Vec<u8>,
) {
    let Ok(value) = decode(data) else {
        return;
    };
    let encoded = encode(&value);
    assert_eq!(encoded, data, "{name}: does not re-encode to its input");
    let again = decode(&encoded).ok();
    assert_eq!(
        again.as_ref(),
        Some(&value),
        "{name}: re-decodes differently"
    );
}

/// Every vault message decoder, the stored-entry decoder, the server-setup decoder and
/// the login-state decoder on the same bytes (the type byte makes at most one message
/// decoder accept them).
pub fn vault_messages(data: &[u8]) {
    check(
        "registration request",
        data,
        RegistrationRequest::decode,
        RegistrationRequest::encode,
    );
    check(
        "registration response",
        data,
        RegistrationResponse::decode,
        RegistrationResponse::encode,
    );
    check(
        "registration upload",
        data,
        RegistrationUpload::decode,
        RegistrationUpload::encode,
    );
    check(
        "credential request",
        data,
        CredentialRequest::decode,
        CredentialRequest::encode,
    );
    check(
        "credential response",
        data,
        CredentialResponse::decode,
        CredentialResponse::encode,
    );
    check(
        "credential finalization",
        data,
        CredentialFinalization::decode,
        CredentialFinalization::encode,
    );
    check("release", data, Release::decode, Release::encode);
    check(
        "update request",
        data,
        UpdateRequest::decode,
        UpdateRequest::encode,
    );
    if let Ok(entry) = VaultEntry::decode(data) {
        assert_eq!(
            entry.encode().as_slice(),
            data,
            "vault entry: does not re-encode"
        );
    }
    if let Ok(setup) = VaultServerSetup::from_bytes(data) {
        assert_eq!(
            setup.to_bytes().as_slice(),
            data,
            "server setup: does not re-encode"
        );
    }
    if let Ok(state) = VaultLoginState::from_bytes(data) {
        assert_eq!(
            state.to_bytes().as_slice(),
            data,
            "login state: does not re-encode"
        );
    }
}
