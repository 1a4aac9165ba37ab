//! Targets for the `hush` facade's stores: the one encoding the stores define
//! themselves, the local account (`docs/wire/store.md`).
//!
//! The encoding has one form per value, so what decodes must re-encode to the very same
//! bytes.

/// [`hush::store::LocalAccount::decode`]: anything that decodes re-encodes to the input
/// and decodes to the same account; an accepted input never exceeds its bound.
pub fn store_local_account(data: &[u8]) {
    let Ok(account) = hush::store::LocalAccount::decode(data) else {
        return;
    };
    assert!(
        data.len() <= hush::store::limits::MAX_LOCAL_ACCOUNT_LEN,
        "local account over its bound"
    );
    let encoded = account.encode();
    assert_eq!(
        encoded.as_ref().map(|e| e.as_slice()),
        Ok(data),
        "local account does not re-encode"
    );
    let again = hush::store::LocalAccount::decode(data);
    let again = again.as_ref().map(|a| {
        (
            a.user.as_str(),
            a.device_id,
            a.registration_id,
            a.identity.identity_key(),
            a.account_key,
        )
    });
    assert_eq!(
        again,
        Ok((
            account.user.as_str(),
            account.device_id,
            account.registration_id,
            account.identity.identity_key(),
            account.account_key,
        )),
        "local account decodes differently"
    );
}
