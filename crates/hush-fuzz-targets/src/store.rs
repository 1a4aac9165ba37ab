//! Targets for the `hush` facade's stores: the encodings the stores define themselves
//! (`docs/wire/store.md`), the local account and the SQLite store's `user_sessions` row.
//!
//! Each encoding has one form per value, so what decodes must re-encode to the very same
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

/// A `user_sessions` row value (`docs/wire/store.md`) as `SqliteStore` reads it back
/// from its file: `data` is put in as user `bob`'s row of an in-memory database, then
/// the store lists, reads, writes and removes bob's sessions. Nothing panics; a row the
/// store accepts is within its bound and, rewritten with the same records, comes back
/// byte for byte (the encoding has one form); a refused row fails every read alike and
/// is left as it was.
pub fn store_user_sessions(data: &[u8]) {
    use std::sync::atomic::{AtomicU64, Ordering};

    use hush::Address;
    use hush::store::{SessionStore, SqliteStore, Store, Transaction};

    static DATABASES: AtomicU64 = AtomicU64::new(0);
    let uri = format!(
        "file:hush-fuzz-user-sessions-{}-{}?mode=memory&cache=shared",
        std::process::id(),
        DATABASES.fetch_add(1, Ordering::Relaxed)
    );
    // The raw connection keeps the shared in-memory database alive and plays the file.
    let raw = must("open raw connection", rusqlite::Connection::open(&uri));
    let store = must("open store", SqliteStore::open(&uri, None));
    let write_row = |row: &[u8]| {
        must(
            "write row",
            raw.execute(
                "INSERT OR REPLACE INTO user_sessions (name, sessions) VALUES ('bob', ?1)",
                [row],
            ),
        );
    };
    let read_row = || -> Vec<u8> {
        must(
            "read row",
            raw.query_row(
                "SELECT sessions FROM user_sessions WHERE name = 'bob'",
                [],
                |row| row.get(0),
            ),
        )
    };
    let bob = |device_id| must("address", Address::new("bob", device_id));
    write_row(data);

    let mut tx = must("transaction", store.transaction());
    let devices = match tx.session_devices("bob") {
        Ok(devices) => devices,
        Err(error) => {
            assert_eq!(error, hush::Error::Store("user sessions do not decode"));
            assert_eq!(tx.session(&bob(1)).map(|_| ()), Err(error.clone()));
            assert_eq!(tx.peers("bob", &[1, 2]).map(|_| ()), Err(error.clone()));
            drop(tx);
            assert_eq!(read_row(), data, "a refused row was changed");
            return;
        }
    };
    assert!(
        data.len() <= hush::store::limits::MAX_USER_SESSIONS_LEN,
        "user sessions over their bound"
    );
    assert!(!devices.is_empty(), "an accepted row lists no device");
    // Each stored record is arbitrary bytes here: it decodes or it is a store error.
    let first = devices.first().copied().unwrap_or_default();
    for result in [
        tx.peers("bob", &devices).map(drop),
        tx.session(&bob(first)).map(drop),
    ] {
        assert!(
            matches!(result, Ok(()) | Err(hush::Error::Store(_))),
            "{result:?}"
        );
    }
    // A write and a removal of a device bob's row does not hold. When the new record
    // fits in the row, the row is rewritten from the records read at commit and must be
    // the input again; when it does not (a full row), it goes to a row of its own and
    // bob's row must be left as it was. Either way the bytes come back.
    let absent = (0..=u32::MAX)
        .find(|id| !devices.contains(id))
        .unwrap_or_default();
    must(
        "put session",
        tx.put_session(&bob(absent), &hush_ratchet::SessionRecord::new()),
    );
    let mut listed = devices.clone();
    listed.push(absent);
    listed.sort_unstable();
    assert_eq!(tx.session_devices("bob").as_deref(), Ok(&listed[..]));
    must("remove session", tx.remove_session(&bob(absent)));
    must("commit", tx.commit());
    assert_eq!(read_row(), data, "user sessions do not re-encode");
    let mut tx = must("transaction", store.transaction());
    assert_eq!(tx.session_devices("bob"), Ok(devices));
}

/// The value of `result`, or a panic naming `what` (a fuzz target reports a bug by
/// panicking).
#[track_caller]
fn must<T, E: core::fmt::Debug>(what: &str, result: Result<T, E>) -> T {
    match result {
        Ok(value) => value,
        #[expect(clippy::panic, reason = "a fuzz target reports a bug by panicking")]
        Err(error) => panic!("{what}: unexpected error {error:?}"),
    }
}
