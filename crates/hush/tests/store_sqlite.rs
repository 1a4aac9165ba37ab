//! What only the SQLite store has: schema migrations, encryption at rest, the files
//! it leaves on disk. The SQLite files are inspected and altered with rusqlite directly.

#![cfg(feature = "sqlite")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod store_common;

use std::path::Path;

use hush::Error;
use hush::store::{
    AtRestKey, DeviceListStore, IdentityStore, PreKeyStore, SCHEMA_VERSION, SenderKeyStore,
    SessionStore, SqliteOptions, SqliteStore, SqliteTransaction, Store, Synchronous, Transaction,
};
use hush_core::IdentityKey;
use hush_ratchet::SessionRecord;
use rusqlite::Connection;
use store_common::{Fixtures, address};

fn key(byte: u8) -> AtRestKey {
    AtRestKey::new([byte; 32])
}

fn raw(path: &Path) -> Connection {
    Connection::open(path).unwrap()
}

fn user_tables(connection: &Connection) -> Vec<String> {
    let mut statement = connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap();
    statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// `user`'s row of `user_sessions`, read as `docs/wire/store.md` describes it: the
/// version byte 1, a count, then per device its id (u32 BE), the stored record's length
/// (u16 BE) and the stored record.
fn inline_sessions(connection: &Connection, user: &str) -> Vec<(u32, Vec<u8>)> {
    let row: Vec<u8> = connection
        .query_row(
            "SELECT sessions FROM user_sessions WHERE name = ?1",
            [user],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(row[0], 1, "format version");
    let mut entries = Vec::new();
    let mut at = 2;
    for _ in 0..row[1] {
        let device_id = u32::from_be_bytes(row[at..at + 4].try_into().unwrap());
        let len = usize::from(u16::from_be_bytes(row[at + 4..at + 6].try_into().unwrap()));
        entries.push((device_id, row[at + 6..at + 6 + len].to_vec()));
        at += 6 + len;
    }
    assert_eq!(at, row.len(), "trailing bytes");
    entries
}

/// Writes `user`'s `user_sessions` row in the documented format.
fn write_inline_sessions(connection: &Connection, user: &str, entries: &[(u32, Vec<u8>)]) {
    let mut row = vec![1, u8::try_from(entries.len()).unwrap()];
    for (device_id, stored) in entries {
        row.extend_from_slice(&device_id.to_be_bytes());
        row.extend_from_slice(&u16::try_from(stored.len()).unwrap().to_be_bytes());
        row.extend_from_slice(stored);
    }
    set_user_sessions_row(connection, user, &row);
}

/// Swaps the records of devices 1 and 2 in `user`'s `user_sessions` row.
fn swap_inline_records(connection: &Connection, user: &str) {
    let mut row = inline_sessions(connection, user);
    let [(1, first), (2, second)] = &mut row[..] else {
        panic!("{user}'s records of devices 1 and 2 expected inline");
    };
    core::mem::swap(first, second);
    write_inline_sessions(connection, user, &row);
}

fn set_user_sessions_row(connection: &Connection, user: &str, row: &[u8]) {
    connection
        .execute(
            "INSERT OR REPLACE INTO user_sessions (name, sessions) VALUES (?1, ?2)",
            rusqlite::params![user, row],
        )
        .unwrap();
}

/// The device ids of `user` that have a row in `sessions`.
fn session_rows(connection: &Connection, user: &str) -> Vec<u32> {
    let mut statement = connection
        .prepare("SELECT device_id FROM sessions WHERE name = ?1 ORDER BY device_id")
        .unwrap();
    statement
        .query_map([user], |row| row.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

#[test]
fn migrates_from_zero_to_current() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    // A version-0 database: it exists, but hush never touched it.
    raw(&path)
        .execute_batch("CREATE TABLE unrelated (x INTEGER)")
        .unwrap();
    let store = SqliteStore::open(&path, None).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    drop(store);

    let connection = raw(&path);
    let version: i64 = connection
        .query_row("SELECT version FROM schema_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, i64::from(SCHEMA_VERSION));
    let rows: i64 = connection
        .query_row("SELECT COUNT(*) FROM schema_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(rows, 1);
    let tables = user_tables(&connection);
    for table in [
        "device_lists",
        "kem_prekeys",
        "last_resort_uses",
        "local_account",
        "meta",
        "one_time_prekeys",
        "own_device_list",
        "prekey_id_allocator",
        "remote_identities",
        "schema_version",
        "seen_offers",
        "sender_key_trackers",
        "sender_keys",
        "sessions",
        "signed_prekeys",
        "unrelated",
        "user_sessions",
    ] {
        assert!(tables.iter().any(|t| t == table), "missing table {table}");
    }
    let mode: String = connection
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    drop(connection);

    // Reopening an up-to-date database changes nothing and keeps the data.
    let store = SqliteStore::open(&path, None).unwrap();
    let mut tx = store.transaction().unwrap();
    tx.set_remote_identity(&address("bob", 1), &Fixtures::new(1).peer_identity)
        .unwrap();
    tx.commit().unwrap();
    drop(store);
    let store = SqliteStore::open(&path, None).unwrap();
    let mut tx = store.transaction().unwrap();
    assert!(tx.remote_identity(&address("bob", 1)).unwrap().is_some());
}

/// A database written at schema version 1 (before `seen_offers`, `user_sessions` and the
/// index of identities by key, every session record a row of `sessions`) is migrated to the current version on
/// open, keeping its data and its at-rest encryption; a session record moves to its
/// user's row when it is next written.
#[test]
fn migrates_from_version_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let f = Fixtures::new(12);
    {
        let store = SqliteStore::open(&path, Some(key(3))).unwrap();
        let mut tx = store.transaction().unwrap();
        tx.put_session(&address("bob", 1), &f.short_session)
            .unwrap();
        tx.commit().unwrap();
    }
    // Back to what a version-1 build left behind: the sealed record (the same bytes:
    // its seal is bound to the `sessions` row key either way) in a `sessions` row.
    let connection = raw(&path);
    let [(1, sealed)] = &inline_sessions(&connection, "bob")[..] else {
        panic!("one inline session expected");
    };
    connection
        .execute(
            "INSERT INTO sessions (name, device_id, record) VALUES ('bob', 1, ?1)",
            [sealed],
        )
        .unwrap();
    connection
        .execute_batch(
            "DROP TABLE user_sessions; DROP TABLE seen_offers;
             DROP INDEX remote_identities_by_key;
             UPDATE schema_version SET version = 1;",
        )
        .unwrap();
    assert!(!user_tables(&connection).iter().any(|t| t == "seen_offers"));
    drop(connection);

    let store = SqliteStore::open(&path, Some(key(3))).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    let mut tx = store.transaction().unwrap();
    let read = tx.session(&address("bob", 1)).unwrap().unwrap();
    assert_eq!(*read.encode(), *f.short_session.encode());
    assert_eq!(tx.session_devices("bob").unwrap(), [1]);
    assert!(tx.seen_offers().unwrap().is_none());
    tx.set_seen_offers(b"seen").unwrap();
    tx.put_session(&address("bob", 1), &f.other_short_session)
        .unwrap();
    tx.commit().unwrap();
    drop(store);

    let connection = raw(&path);
    assert_eq!(session_rows(&connection, "bob"), Vec::<u32>::new());
    assert_eq!(inline_sessions(&connection, "bob").len(), 1);
    drop(connection);
    let store = SqliteStore::open(&path, Some(key(3))).unwrap();
    let mut tx = store.transaction().unwrap();
    let read = tx.session(&address("bob", 1)).unwrap().unwrap();
    assert_eq!(*read.encode(), *f.other_short_session.encode());
}

/// A database at schema version 3 (before the index of remote identities by key) gets the
/// index on open, and the identities it held are found by key.
#[test]
fn migrates_from_version_three() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let f = Fixtures::new(13);
    {
        let store = SqliteStore::open(&path, None).unwrap();
        let mut tx = store.transaction().unwrap();
        tx.set_remote_identity(&address("bob", 1), &f.peer_identity)
            .unwrap();
        tx.set_remote_identity(&address("carol", 2), &f.peer_identity)
            .unwrap();
        tx.commit().unwrap();
    }
    let connection = raw(&path);
    connection
        .execute_batch(
            "DROP INDEX remote_identities_by_key; UPDATE schema_version SET version = 3;",
        )
        .unwrap();
    drop(connection);

    let store = SqliteStore::open(&path, None).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    let indexes: Vec<String> = {
        let connection = raw(&path);
        let mut statement = connection
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'remote_identities' AND sql IS NOT NULL")
            .unwrap();
        statement
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    };
    assert_eq!(indexes, ["remote_identities_by_key"]);
    let mut tx = store.transaction().unwrap();
    assert_eq!(
        tx.addresses_with_identity(&f.peer_identity).unwrap(),
        [address("bob", 1), address("carol", 2)]
    );
}

#[test]
fn a_failed_migration_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    // A table in the way of migration 0 -> 1, created after some of its statements.
    raw(&path)
        .execute_batch("CREATE TABLE sessions (x INTEGER)")
        .unwrap();
    assert_eq!(
        SqliteStore::open(&path, None).map(|_| ()),
        Err(Error::Store("migration"))
    );
    let tables = user_tables(&raw(&path));
    assert_eq!(tables, vec!["sessions".to_owned()]);
}

#[test]
fn refuses_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    drop(SqliteStore::open(&path, Some(key(1))).unwrap());
    raw(&path)
        .execute(
            "UPDATE schema_version SET version = ?1",
            [SCHEMA_VERSION + 1],
        )
        .unwrap();
    assert_eq!(
        SqliteStore::open(&path, Some(key(1))).map(|_| ()),
        Err(Error::StoreVersionTooNew {
            found: SCHEMA_VERSION + 1,
            supported: SCHEMA_VERSION,
        })
    );
    // Left as it was.
    let version: u32 = raw(&path)
        .query_row("SELECT version FROM schema_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION + 1);
}

#[test]
fn key_mismatches_are_typed_errors_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let encrypted = dir.path().join("encrypted.db");
    let plain = dir.path().join("plain.db");
    drop(SqliteStore::open(&encrypted, Some(key(1))).unwrap());
    drop(SqliteStore::open(&plain, None).unwrap());

    assert_eq!(
        SqliteStore::open(&encrypted, Some(key(2))).map(|_| ()),
        Err(Error::WrongAtRestKey)
    );
    assert_eq!(
        SqliteStore::open(&encrypted, None).map(|_| ()),
        Err(Error::AtRestKeyRequired)
    );
    assert_eq!(
        SqliteStore::open(&plain, Some(key(1))).map(|_| ()),
        Err(Error::StoreNotEncrypted)
    );
    SqliteStore::open(&encrypted, Some(key(1))).unwrap();
    SqliteStore::open(&plain, None).unwrap();
}

/// Two rows of `table`: (rowid-like key description, value).
fn swap_values(path: &Path, table: &str, column: &str, a: &str, b: &str) {
    let connection = raw(path);
    let read = |condition: &str| -> Vec<u8> {
        connection
            .query_row(
                &format!("SELECT {column} FROM {table} WHERE {condition}"),
                [],
                |row| row.get(0),
            )
            .unwrap()
    };
    let (va, vb) = (read(a), read(b));
    let write = |condition: &str, value: &[u8]| {
        connection
            .execute(
                &format!("UPDATE {table} SET {column} = ?1 WHERE {condition}"),
                [value],
            )
            .unwrap();
    };
    write(a, &vb);
    write(b, &va);
}

#[test]
fn a_value_moved_to_another_row_or_table_does_not_open() {
    let f = Fixtures::new(2);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let store = SqliteStore::open(&path, Some(key(1))).unwrap();
    let mut tx = store.transaction().unwrap();
    tx.put_session(&address("bob", 1), &f.short_session)
        .unwrap();
    tx.put_session(&address("bob", 2), &f.other_short_session)
        .unwrap();
    tx.put_session(&address("bob", 3), &f.session).unwrap();
    tx.put_session(&address("bob", 4), &f.other_session)
        .unwrap();
    tx.put_session(&address("carol", 1), &f.short_session)
        .unwrap();
    tx.put_one_time_prekey(&f.one_time).unwrap();
    let mut other = f.one_time.clone();
    other = hush_prekey::PreKeyRecord::new(10, other.key_pair().clone()).unwrap();
    tx.put_one_time_prekey(&other).unwrap();
    tx.put_sender_key(&address("alice", 2), f.distribution_id, &f.sender_key)
        .unwrap();
    tx.commit().unwrap();
    drop(store);

    // Same table, another row: two sessions of one user's row swapped.
    let connection = raw(&path);
    swap_inline_records(&connection, "bob");
    drop(connection);
    // Two rows of `sessions` (the long records), swapped.
    swap_values(
        &path,
        "sessions",
        "record",
        "name = 'bob' AND device_id = 3",
        "name = 'bob' AND device_id = 4",
    );
    swap_values(&path, "one_time_prekeys", "record", "id = 9", "id = 10");
    let store = SqliteStore::open(&path, Some(key(1))).unwrap();
    let mut tx = store.transaction().unwrap();
    const BAD: Error = Error::Store("sealed value does not open");
    assert_eq!(tx.session(&address("bob", 1)).map(|_| ()), Err(BAD));
    assert_eq!(tx.session(&address("bob", 2)).map(|_| ()), Err(BAD));
    assert_eq!(tx.session(&address("bob", 3)).map(|_| ()), Err(BAD));
    assert_eq!(tx.session(&address("bob", 4)).map(|_| ()), Err(BAD));
    assert_eq!(tx.one_time_prekey(9).map(|_| ()), Err(BAD));
    assert_eq!(tx.one_time_prekey(10).map(|_| ()), Err(BAD));
    assert!(tx.session(&address("carol", 1)).unwrap().is_some());
    drop(tx);
    drop(store);

    // Another table: a sender-key value copied into a session's place.
    let connection = raw(&path);
    let sender_key: Vec<u8> = connection
        .query_row("SELECT record FROM sender_keys", [], |row| row.get(0))
        .unwrap();
    write_inline_sessions(&connection, "carol", &[(1, sender_key)]);
    drop(connection);
    let store = SqliteStore::open(&path, Some(key(1))).unwrap();
    let mut tx = store.transaction().unwrap();
    assert_eq!(tx.session(&address("carol", 1)).map(|_| ()), Err(BAD));
    assert!(
        tx.sender_key(&address("alice", 2), f.distribution_id)
            .unwrap()
            .is_some()
    );
}

#[test]
fn a_tampered_value_does_not_open() {
    let f = Fixtures::new(3);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let store = SqliteStore::open(&path, Some(key(1))).unwrap();
    let mut tx = store.transaction().unwrap();
    tx.set_local_account(&f.account()).unwrap();
    tx.commit().unwrap();
    drop(store);

    let connection = raw(&path);
    let sealed: Vec<u8> = connection
        .query_row("SELECT account FROM local_account", [], |row| row.get(0))
        .unwrap();
    // nonce || ciphertext || tag: the plaintext plus 28 bytes.
    assert_eq!(sealed.len(), f.account().encode().unwrap().len() + 12 + 16);
    let positions = [0, 11, 12, sealed.len() / 2, sealed.len() - 1];
    for position in positions {
        let mut tampered = sealed.clone();
        tampered[position] ^= 0x01;
        connection
            .execute("UPDATE local_account SET account = ?1", [&tampered])
            .unwrap();
        let store = SqliteStore::open(&path, Some(key(1))).unwrap();
        let mut tx = store.transaction().unwrap();
        assert_eq!(
            tx.local_account().map(|_| ()),
            Err(Error::Store("sealed value does not open")),
            "byte {position}"
        );
    }
    // Truncated below a nonce, and empty.
    for short in [&sealed[..5], &[][..], &sealed[..27]] {
        connection
            .execute("UPDATE local_account SET account = ?1", [short])
            .unwrap();
        let store = SqliteStore::open(&path, Some(key(1))).unwrap();
        let mut tx = store.transaction().unwrap();
        assert!(matches!(tx.local_account(), Err(Error::Store(_))));
    }
    // The original opens again (the loop really restored and altered the row).
    connection
        .execute("UPDATE local_account SET account = ?1", [&sealed])
        .unwrap();
    let store = SqliteStore::open(&path, Some(key(1))).unwrap();
    let mut tx = store.transaction().unwrap();
    assert!(tx.local_account().unwrap().is_some());
}

#[test]
fn a_corrupt_plaintext_value_is_a_store_error() {
    let f = Fixtures::new(4);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let store = SqliteStore::open(&path, None).unwrap();
    let mut tx = store.transaction().unwrap();
    tx.put_session(&address("bob", 1), &f.short_session)
        .unwrap();
    tx.put_session(&address("bob", 2), &f.session).unwrap();
    tx.commit().unwrap();
    drop(store);
    let connection = raw(&path);
    connection
        .execute(
            "UPDATE sessions SET record = x'ff01' WHERE name = 'bob' AND device_id = 2",
            [],
        )
        .unwrap();
    let good = inline_sessions(&connection, "bob");
    write_inline_sessions(&connection, "bob", &[(1, vec![0xff, 0x00])]);
    let store = SqliteStore::open(&path, None).unwrap();
    let mut tx = store.transaction().unwrap();
    for device_id in [1, 2] {
        assert_eq!(
            tx.session(&address("bob", device_id)).map(|_| ()),
            Err(Error::Store("session record"))
        );
    }
    drop(tx);

    // A user's row that is not the one encoding: every read of that user's sessions
    // fails the same way, and other users' sessions still read.
    let (_, stored) = &good[0];
    let entry = |device_id: u32, len: u16| {
        let mut bytes = device_id.to_be_bytes().to_vec();
        bytes.extend_from_slice(&len.to_be_bytes());
        bytes
    };
    let long = u16::try_from(stored.len()).unwrap();
    let row = |count: u8, entries: &[(u32, u16, &[u8])]| -> Vec<u8> {
        let mut row = vec![1, count];
        for (device_id, len, stored) in entries {
            row.extend_from_slice(&entry(*device_id, *len));
            row.extend_from_slice(stored);
        }
        row
    };
    let small: Vec<(u32, u16, &[u8])> = (1..=17).map(|id| (id, 1, &[0u8][..])).collect();
    let sixteen = &small[..16];
    let kilobyte = [0u8; 1025];
    let bad_rows: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("no count", vec![1]),
        ("no entries", vec![1, 0]),
        ("unknown version", vec![2, 1]),
        (
            "trailing byte",
            [row(1, &[(1, long, stored)]), vec![0]].concat(),
        ),
        ("length past the end", row(1, &[(1, long + 1, stored)])),
        ("empty record", row(1, &[(1, 0, &[])])),
        ("record over 1024 bytes", row(1, &[(1, 1025, &kilobyte)])),
        (
            "row over 3584 bytes",
            row(
                4,
                &(1..=4)
                    .map(|id| (id, 1000, &kilobyte[..1000]))
                    .collect::<Vec<_>>(),
            ),
        ),
        (
            "ids out of order",
            row(2, &[(2, long, stored), (1, long, stored)]),
        ),
        (
            "id repeated",
            row(2, &[(1, long, stored), (1, long, stored)]),
        ),
        ("17 records", row(17, &small)),
        ("count short of the entries", row(15, sixteen)),
    ];
    let mut tx = store.transaction().unwrap();
    tx.put_session(&address("carol", 1), &f.short_session)
        .unwrap();
    tx.commit().unwrap();
    for (i, row) in &bad_rows {
        set_user_sessions_row(&connection, "bob", row);
        let mut tx = store.transaction().unwrap();
        let bad = Err(Error::Store("user sessions do not decode"));
        assert_eq!(tx.session(&address("bob", 1)).map(|_| ()), bad, "row {i}");
        assert_eq!(tx.session_devices("bob").map(|_| ()), bad, "row {i}");
        assert_eq!(
            tx.put_session(&address("bob", 1), &f.short_session),
            bad,
            "row {i}"
        );
        assert!(tx.session(&address("carol", 1)).unwrap().is_some());
    }
    // The good row reads again (the loop really replaced it).
    write_inline_sessions(&connection, "bob", &good);
    let mut tx = store.transaction().unwrap();
    assert!(tx.session(&address("bob", 1)).unwrap().is_some());
    drop(tx);

    // A device's record in both places: refused rather than guessed.
    connection
        .execute(
            "INSERT INTO sessions (name, device_id, record) VALUES ('bob', 1, ?1)",
            [stored],
        )
        .unwrap();
    let mut tx = store.transaction().unwrap();
    assert_eq!(
        tx.session_devices("bob").map(|_| ()),
        Err(Error::Store("session stored twice"))
    );
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Writes secrets, then reports whether any of them appears in the database or WAL
/// file (read while the store is still open, so the WAL has not been checkpointed).
fn secrets_on_disk(key: Option<AtRestKey>) -> bool {
    let f = Fixtures::new(5);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let store = SqliteStore::open(&path, key).unwrap();
    let mut tx = store.transaction().unwrap();
    tx.set_local_account(&f.account()).unwrap();
    tx.put_signed_prekey(&f.signed).unwrap();
    tx.put_one_time_prekey(&f.one_time).unwrap();
    tx.put_kem_prekey(&f.kem).unwrap();
    tx.put_session(&address("bob", 1), &f.session).unwrap();
    tx.put_sender_key(&address("alice", 2), f.distribution_id, &f.sender_key)
        .unwrap();
    tx.commit().unwrap();

    let identity_private = f.identity.private_key().to_bytes();
    let signed_private = f.signed.key_pair().private_key().to_bytes();
    let one_time_private = f.one_time.key_pair().private_key().to_bytes();
    let kem_secret = f.kem.key_pair().secret_key().encode();
    let session = f.session.encode();
    let sender_key = f.sender_key.encode();
    let needles: [&[u8]; 6] = [
        identity_private.as_ref(),
        signed_private.as_ref(),
        one_time_private.as_ref(),
        &kem_secret[..64],
        &session[session.len() / 2..session.len() / 2 + 48],
        &sender_key[sender_key.len() - 40..],
    ];
    let mut files = Vec::new();
    for name in ["device.db", "device.db-wal"] {
        if let Ok(bytes) = std::fs::read(dir.path().join(name)) {
            files.push(bytes);
        }
    }
    assert!(!files.is_empty());
    let found = needles
        .iter()
        .any(|needle| files.iter().any(|file| contains(file, needle)));
    drop(store);
    found
}

#[test]
fn no_plaintext_secret_bytes_on_disk_with_a_key() {
    assert!(!secrets_on_disk(Some(key(1))));
    // The scan itself works: without a key the same secrets are there to find.
    assert!(secrets_on_disk(None));
}

#[test]
fn options_and_processes_share_a_file() {
    let f = Fixtures::new(6);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let options = SqliteOptions::new()
        .synchronous(Synchronous::Normal)
        .busy_timeout(std::time::Duration::from_secs(10));
    let a = SqliteStore::open_with(&path, Some(key(3)), options).unwrap();
    let b = SqliteStore::open(&path, Some(key(3))).unwrap();
    // Two connections to one file: increments through both, from two threads, are
    // serialised by BEGIN IMMEDIATE.
    std::thread::scope(|scope| {
        for store in [&a, &b] {
            scope.spawn(move || {
                for _ in 0..25 {
                    let mut tx = store.transaction().unwrap();
                    let n = tx.prekey_id_allocator().unwrap().unwrap_or_default();
                    let mut next = n;
                    next.allocate(hush_prekey::IdSpace::SignedPreKey);
                    tx.set_prekey_id_allocator(&next).unwrap();
                    tx.commit().unwrap();
                }
            });
        }
    });
    let mut tx = b.transaction().unwrap();
    let mut expected = hush_prekey::PreKeyIdAllocator::default();
    for _ in 0..50 {
        expected.allocate(hush_prekey::IdSpace::SignedPreKey);
    }
    assert_eq!(tx.prekey_id_allocator().unwrap(), Some(expected));
    tx.put_session(&address("bob", 1), &f.session).unwrap();
    tx.commit().unwrap();
    let mut tx = a.transaction().unwrap();
    assert!(tx.session(&address("bob", 1)).unwrap().is_some());
}

#[test]
fn debug_shows_no_secret() {
    assert_eq!(format!("{:?}", key(0x41)), "AtRestKey { .. }");
    let store = SqliteStore::open_in_memory(Some(key(1))).unwrap();
    assert_eq!(
        format!("{store:?}"),
        "SqliteStore { encrypted_at_rest: true, .. }"
    );
    let tx = store.transaction().unwrap();
    assert_eq!(format!("{tx:?}"), "SqliteTransaction { open: true, .. }");
}

/// The at-rest format as `docs/wire/store.md` describes it, checked from the file with
/// the primitives alone: derive the keys from the `meta` rows, rebuild the AAD, open.
#[test]
fn sealed_values_follow_the_documented_format() {
    use hush_core::cipher::Aes256GcmKey;
    use hush_core::kdf::hkdf_sha256_array;

    let f = Fixtures::new(7);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let app_key = [0x33u8; 32];
    let store = SqliteStore::open(&path, Some(AtRestKey::new(app_key))).unwrap();
    let mut tx = store.transaction().unwrap();
    tx.put_session(&address("bob", 258), &f.short_session)
        .unwrap();
    tx.put_session(&address("bob", 259), &f.session).unwrap();
    tx.put_kem_prekey(&f.kem).unwrap();
    tx.put_sender_key(&address("al", 2), f.distribution_id, &f.sender_key)
        .unwrap();
    tx.set_local_account(&f.account()).unwrap();
    tx.commit().unwrap();
    drop(store);

    let connection = raw(&path);
    let meta = |name: &str| -> Vec<u8> {
        connection
            .query_row("SELECT value FROM meta WHERE name = ?1", [name], |row| {
                row.get(0)
            })
            .unwrap()
    };
    assert_eq!(meta("at_rest"), [1]);
    let salt = meta("at_rest_salt");
    assert_eq!(salt.len(), 32);
    let check = hkdf_sha256_array::<32>(&salt, &app_key, b"hush store v1 key check").unwrap();
    assert_eq!(meta("at_rest_check"), check.to_vec());
    let column_key = hkdf_sha256_array::<32>(&salt, &app_key, b"hush store v1 column key").unwrap();
    let cipher = Aes256GcmKey::new(&column_key);
    let open = |sealed: &[u8], aad: &[u8]| -> Vec<u8> {
        let nonce: [u8; 12] = sealed[..12].try_into().unwrap();
        cipher.open(&nonce, aad, &sealed[12..]).unwrap().to_vec()
    };
    let sealed =
        |sql: &str| -> Vec<u8> { connection.query_row(sql, [], |row| row.get(0)).unwrap() };

    let mut aad = vec![8u8];
    aad.extend_from_slice(b"sessions");
    aad.extend_from_slice(&[0, 3]);
    aad.extend_from_slice(b"bob");
    aad.extend_from_slice(&[0, 0, 1, 2]);
    let [(258, stored)] = &inline_sessions(&connection, "bob")[..] else {
        panic!("one inline session expected");
    };
    assert_eq!(open(stored, &aad), f.short_session.encode().to_vec());
    // A long record, in a row of its own, under the same kind of row key.
    let last = aad.len() - 1;
    aad[last] = 3; // device 259
    assert_eq!(
        open(&sealed("SELECT record FROM sessions"), &aad),
        f.session.encode().to_vec()
    );

    let mut aad = vec![11u8];
    aad.extend_from_slice(b"kem_prekeys");
    aad.extend_from_slice(&[0, 0, 0, 11]);
    assert_eq!(
        open(&sealed("SELECT record FROM kem_prekeys"), &aad),
        f.kem.encode().to_vec()
    );

    let mut aad = vec![11u8];
    aad.extend_from_slice(b"sender_keys");
    aad.extend_from_slice(&[0, 2]);
    aad.extend_from_slice(b"al");
    aad.extend_from_slice(&[0, 0, 0, 2]);
    aad.extend_from_slice(f.distribution_id.as_bytes());
    assert_eq!(
        open(&sealed("SELECT record FROM sender_keys"), &aad),
        f.sender_key.encode().to_vec()
    );

    let mut aad = vec![13u8];
    aad.extend_from_slice(b"local_account");
    assert_eq!(
        open(&sealed("SELECT account FROM local_account"), &aad),
        f.account().encode().unwrap().to_vec()
    );
}

/// `SqliteOptions::exclusive`: while one store holds the file, a second opener (here a
/// plain connection and another store) is refused instead of interleaving with it; once
/// the first is dropped, the file opens again with everything committed in it.
#[test]
fn an_exclusive_store_keeps_other_openers_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let f = Fixtures::new(11);
    let options = SqliteOptions::new()
        .synchronous(Synchronous::Normal)
        .exclusive(true)
        .busy_timeout(std::time::Duration::from_millis(50));
    let store = SqliteStore::open_with(&path, None, options).unwrap();
    let mut tx = store.transaction().unwrap();
    tx.put_session(&address("bob", 1), &f.session).unwrap();
    tx.commit().unwrap();

    let other = raw(&path);
    other
        .busy_timeout(std::time::Duration::from_millis(50))
        .unwrap();
    assert!(
        other
            .query_row("SELECT count(*) FROM sessions", [], |row| row
                .get::<_, i64>(0))
            .is_err()
    );
    drop(other);
    assert!(matches!(
        SqliteStore::open_with(&path, None, options),
        Err(Error::Store(_))
    ));

    drop(store);
    let reopened = SqliteStore::open_with(&path, None, options).unwrap();
    let mut tx = reopened.transaction().unwrap();
    let read = tx.session(&address("bob", 1)).unwrap().unwrap();
    assert_eq!(*read.encode(), *f.session.encode());
}

/// `compact` hands the pages of deleted rows back: the file shrinks to about what the
/// remaining rows need, the log is emptied, and what remains reads back unchanged.
#[test]
fn compact_gives_deleted_space_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let f = Fixtures::new(21);
    let store = SqliteStore::open(&path, Some(key(4))).unwrap();
    // About 2 KB per record (a session whose first message is unanswered).
    let mut tx = store.transaction().unwrap();
    for device in 1..=300 {
        tx.put_session(&address("bob", device), &f.session).unwrap();
    }
    tx.commit().unwrap();
    let mut tx = store.transaction().unwrap();
    for device in 2..=300 {
        tx.remove_session(&address("bob", device)).unwrap();
    }
    tx.commit().unwrap();
    let file_size = || std::fs::metadata(&path).unwrap().len();
    let wal_size = || {
        let mut wal = path.clone().into_os_string();
        wal.push("-wal");
        std::fs::metadata(wal).map_or(0, |m| m.len())
    };
    let record = f.session.encode().len();
    assert!(record > 1500, "record is {record} bytes");
    let freed = store.compact().unwrap();
    // The 299 removed records, give or take the pages' slack.
    let removed = u64::try_from(299 * record).unwrap();
    assert!(
        freed > removed * 3 / 4 && freed < removed * 2,
        "freed {freed} bytes for {removed} bytes of removed records"
    );
    assert_eq!(freed % 4096, 0);
    assert_eq!(wal_size(), 0);
    let compacted = file_size();
    assert!(compacted < removed / 4, "file is {compacted} bytes");
    assert_eq!(store.compact().unwrap(), 0, "nothing left to free");
    assert_eq!(file_size(), compacted);

    let mut tx = store.transaction().unwrap();
    let read = tx.session(&address("bob", 1)).unwrap().unwrap();
    assert_eq!(*read.encode(), *f.session.encode());
    assert!(tx.session(&address("bob", 2)).unwrap().is_none());
    tx.commit().unwrap();
    drop(store);
    // An in-memory store has no log to truncate; compacting it works too.
    assert_eq!(
        SqliteStore::open_in_memory(None)
            .unwrap()
            .compact()
            .unwrap(),
        0
    );
    // It reopens (same key) with the row intact.
    let store = SqliteStore::open(&path, Some(key(4))).unwrap();
    let mut tx = store.transaction().unwrap();
    assert!(tx.session(&address("bob", 1)).unwrap().is_some());
}

/// Where session records go (`docs/wire/store.md`): a record of at most 1024 stored
/// bytes in its user's `user_sessions` row while the row stays within 16 records and
/// 3584 bytes, any other in a `sessions` row of its own; a record moves when a write
/// changes which applies, and is never in both.
#[test]
fn long_records_and_many_devices_get_rows_of_their_own() {
    for at_rest in [None, Some(key(4))] {
        let seal = if at_rest.is_some() { 12 + 16 } else { 0 };
        let f = Fixtures::new(13);
        let short = &f.short_session;
        let long = &f.session; // carries its pending PQXDH message
        let short_len = short.encode().len() + seal;
        assert!(short_len <= 1024, "{short_len}");
        assert!(long.encode().len() + seal > 1024);
        // How many short records fit in one row: 2 bytes, then 6 + record each.
        let fit = u32::try_from((3584 - 2) / (6 + short_len)).unwrap();
        assert!((2..16).contains(&fit), "{fit}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("device.db");
        let store = SqliteStore::open(&path, at_rest.clone()).unwrap();
        let bob = |device_id| address("bob", device_id);
        let connection = raw(&path);
        let inline_ids = |user: &str| -> Vec<u32> {
            inline_sessions(&connection, user)
                .into_iter()
                .map(|(device_id, _)| device_id)
                .collect()
        };

        // Device 1 long; 2..=fit+2 short: all but the last fit in the row.
        let last = fit + 2;
        let mut tx = store.transaction().unwrap();
        tx.put_session(&bob(1), long).unwrap();
        for device_id in 2..=last {
            tx.put_session(&bob(device_id), short).unwrap();
        }
        // A user with tiny records: 16 in the row, the 17th in a row of its own.
        let empty = SessionRecord::new();
        for device_id in 1..=17 {
            tx.put_session(&address("carol", device_id), &empty)
                .unwrap();
        }
        tx.commit().unwrap();
        assert_eq!(session_rows(&connection, "bob"), [1, last]);
        assert_eq!(inline_ids("bob"), (2..last).collect::<Vec<_>>());
        assert_eq!(session_rows(&connection, "carol"), [17]);
        assert_eq!(inline_ids("carol"), (1..=16).collect::<Vec<_>>());

        let mut tx = store.transaction().unwrap();
        assert_eq!(
            tx.session_devices("bob").unwrap(),
            (1..=last).collect::<Vec<_>>()
        );
        assert_eq!(
            tx.session_devices("carol").unwrap(),
            (1..=17).collect::<Vec<_>>()
        );
        let ids: Vec<u32> = (1..=last + 1).collect();
        let peers = tx.peers("bob", &ids).unwrap();
        let encoded = |peer: &hush::store::Peer| peer.session.as_ref().unwrap().encode();
        assert_eq!(*encoded(&peers[0]), *long.encode());
        for peer in &peers[1..peers.len() - 1] {
            assert_eq!(*encoded(peer), *short.encode());
        }
        assert!(peers[peers.len() - 1].session.is_none());
        drop(tx);

        // A dropped transaction that moved records both ways leaves both tables as
        // they were, byte for byte.
        let snapshot = || {
            let rows: Vec<(String, u32, Vec<u8>)> = connection
                .prepare("SELECT name, device_id, record FROM sessions ORDER BY name, device_id")
                .unwrap()
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            (rows, inline_sessions(&connection, "bob"))
        };
        let moves = |tx: &mut SqliteTransaction<'_>| {
            tx.remove_session(&bob(2)).unwrap(); // room in the row ...
            tx.put_session(&bob(last), &f.other_short_session) // ... for the last
                .unwrap();
            tx.put_session(&bob(1), short).unwrap(); // shrunk, but no room left
            tx.put_session(&bob(3), long).unwrap(); // grown: out of the row
            assert_eq!(
                tx.session_devices("bob").unwrap(),
                [&[1][..], &(3..=last).collect::<Vec<_>>()].concat()
            );
        };
        let before = snapshot();
        let mut tx = store.transaction().unwrap();
        moves(&mut tx);
        drop(tx);
        assert_eq!(snapshot(), before);

        // The same, committed.
        let mut tx = store.transaction().unwrap();
        moves(&mut tx);
        tx.commit().unwrap();
        assert_eq!(session_rows(&connection, "bob"), [1, 3]);
        let mut expected: Vec<u32> = (4..=last).collect();
        assert_eq!(inline_ids("bob"), expected);
        let mut tx = store.transaction().unwrap();
        assert_eq!(
            *tx.session(&bob(3)).unwrap().unwrap().encode(),
            *long.encode()
        );
        assert_eq!(
            *tx.session(&bob(1)).unwrap().unwrap().encode(),
            *short.encode()
        );
        assert_eq!(
            *tx.session(&bob(last)).unwrap().unwrap().encode(),
            *f.other_short_session.encode()
        );
        assert!(tx.session(&bob(2)).unwrap().is_none());

        // With room again, a shrunk record moves in; removing every record of the row
        // removes the row.
        tx.remove_session(&bob(4)).unwrap();
        tx.put_session(&bob(3), short).unwrap();
        tx.commit().unwrap();
        assert_eq!(session_rows(&connection, "bob"), [1]);
        expected[0] = 3;
        assert_eq!(inline_ids("bob"), expected);
        let mut tx = store.transaction().unwrap();
        for device_id in expected {
            tx.remove_session(&bob(device_id)).unwrap();
        }
        assert_eq!(tx.session_devices("bob").unwrap(), [1]);
        tx.commit().unwrap();
        let rows: i64 = connection
            .query_row(
                "SELECT count(*) FROM user_sessions WHERE name = 'bob'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(rows, 0);
    }
}

// The read cache a `SqliteStore` keeps between transactions (session records, remote
// identities, device lists): whatever another connection commits, and whatever one of
// its own transactions wrote without committing, must never be served from it.

/// The devices of a user that [`UserView`] reads.
const DEVICES: [u32; 4] = [1, 2, 3, 4];

/// What a transaction reads about one user, through every read the store offers, plus
/// the account's own device list.
#[derive(Debug, PartialEq, Eq)]
struct UserView {
    /// Per device of [`DEVICES`]: the recorded identity and the session record's encoding.
    devices: Vec<(Option<IdentityKey>, Option<Vec<u8>>)>,
    session_devices: Vec<u32>,
    device_list: Option<Vec<u8>>,
    own_device_list: Option<Vec<u8>>,
}

impl UserView {
    /// The view of a user with these (device id, identity, session) entries.
    fn of(
        devices: &[(u32, Option<IdentityKey>, Option<&SessionRecord>)],
        device_list: Option<&[u8]>,
        own_device_list: Option<&[u8]>,
    ) -> Self {
        let entry = |id: u32| devices.iter().find(|(device_id, ..)| *device_id == id);
        Self {
            devices: DEVICES
                .iter()
                .map(|&id| {
                    entry(id).map_or((None, None), |(_, identity, session)| {
                        (*identity, session.map(|record| record.encode().to_vec()))
                    })
                })
                .collect(),
            session_devices: devices
                .iter()
                .filter(|(_, _, session)| session.is_some())
                .map(|(id, ..)| *id)
                .collect(),
            device_list: device_list.map(<[u8]>::to_vec),
            own_device_list: own_device_list.map(<[u8]>::to_vec),
        }
    }
}

fn encoding(record: Option<SessionRecord>) -> Option<Vec<u8>> {
    record.map(|record| record.encode().to_vec())
}

/// Reads `user` in `tx`: `peers` and the per-device reads must agree.
fn read_user(tx: &mut impl Transaction, user: &str) -> UserView {
    let peers: Vec<_> = tx
        .peers(user, &DEVICES)
        .unwrap()
        .into_iter()
        .map(|peer| (peer.identity, encoding(peer.session)))
        .collect();
    let devices: Vec<_> = DEVICES
        .iter()
        .map(|&id| {
            let address = address(user, id);
            (
                tx.remote_identity(&address).unwrap(),
                encoding(tx.session(&address).unwrap()),
            )
        })
        .collect();
    assert_eq!(peers, devices, "peers and the per-device reads of {user}");
    UserView {
        devices,
        session_devices: tx.session_devices(user).unwrap(),
        device_list: tx.device_list(user).unwrap(),
        own_device_list: tx.own_device_list().unwrap(),
    }
}

/// Reads `user` in a transaction of its own, committed (so whatever it read may stay
/// cached).
fn view(store: &SqliteStore, user: &str) -> UserView {
    let mut tx = store.transaction().unwrap();
    let seen = read_user(&mut tx, user);
    tx.commit().unwrap();
    seen
}

/// An identity key none of the fixtures has.
fn another_identity(seed: u64) -> IdentityKey {
    hush_core::IdentityKeyPair::generate(&mut hush_test_support::test_rng(seed)).identity_key()
}

/// Writes `devices` (session record, or `None` to remove it; identity if any), the
/// device list of `user` and the own device list, and commits.
fn write_user(
    store: &SqliteStore,
    user: &str,
    devices: &[(u32, Option<IdentityKey>, Option<&SessionRecord>)],
    device_list: &[u8],
    own_device_list: &[u8],
) {
    let mut tx = store.transaction().unwrap();
    write_in(&mut tx, user, devices, device_list, own_device_list);
    tx.commit().unwrap();
}

/// [`write_user`]'s writes, in `tx`, uncommitted.
fn write_in(
    tx: &mut SqliteTransaction<'_>,
    user: &str,
    devices: &[(u32, Option<IdentityKey>, Option<&SessionRecord>)],
    device_list: &[u8],
    own_device_list: &[u8],
) {
    for (device_id, identity, session) in devices {
        let address = address(user, *device_id);
        if let Some(identity) = identity {
            tx.set_remote_identity(&address, identity).unwrap();
        }
        match session {
            Some(record) => tx.put_session(&address, record).unwrap(),
            None => tx.remove_session(&address).unwrap(),
        }
    }
    tx.set_device_list(user, device_list).unwrap();
    tx.set_own_device_list(own_device_list).unwrap();
}

/// A directory for a test's database, removed when dropped, and the database's path in it.
fn database() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    (dir, path)
}

/// Checks that bob.1 and bob.2 read as `records`, one device at a time.
fn assert_bob_sessions(tx: &mut impl Transaction, records: [&SessionRecord; 2]) {
    for (device_id, record) in (1..).zip(records) {
        assert_eq!(
            encoding(tx.session(&address("bob", device_id)).unwrap()),
            encoding(Some(record.clone())),
            "bob.{device_id}"
        );
    }
}

/// A transaction on `store` that reads bob first (and finds `before`) if given, then
/// writes `devices` and the lists "bob list 2" and "own list 2" and reads them back;
/// returned uncommitted.
fn rewrite_bob<'s>(
    store: &'s SqliteStore,
    before: Option<&UserView>,
    devices: &[(u32, Option<IdentityKey>, Option<&SessionRecord>)],
) -> SqliteTransaction<'s> {
    let mut tx = store.transaction().unwrap();
    if let Some(before) = before {
        assert_eq!(&read_user(&mut tx, "bob"), before);
    }
    write_in(&mut tx, "bob", devices, b"bob list 2", b"own list 2");
    assert_eq!(
        read_user(&mut tx, "bob"),
        UserView::of(devices, Some(b"bob list 2"), Some(b"own list 2"))
    );
    tx
}

/// Two stores on one file, each reading (and so caching) what the other overwrites.
fn two_stores_see_each_others_commits(at_rest: Option<AtRestKey>) {
    let f = Fixtures::new(31);
    let (x, y) = (&f.short_session, &f.other_short_session);
    let (long, other_long) = (&f.session, &f.other_session);
    let (k1, k2, k3) = (f.peer_identity, another_identity(32), another_identity(33));
    let (_dir, path) = database();
    let a = SqliteStore::open(&path, at_rest.clone()).unwrap();
    let b = SqliteStore::open(&path, at_rest.clone()).unwrap();

    // A writes; both read it (A's read fills its cache, as do its reads of carol, of
    // whom there is nothing yet).
    write_user(
        &a,
        "bob",
        &[(1, Some(k1), Some(x)), (3, None, Some(long))],
        b"bob list 1",
        b"own list 1",
    );
    let first = UserView::of(
        &[(1, Some(k1), Some(x)), (3, None, Some(long))],
        Some(b"bob list 1"),
        Some(b"own list 1"),
    );
    assert_eq!(view(&a, "bob"), first);
    let no_carol = UserView::of(&[], None, Some(b"own list 1"));
    assert_eq!(view(&a, "carol"), no_carol);
    assert_eq!(view(&b, "bob"), first);

    // B overwrites every value, inline and in a row of its own; A reads B's.
    write_user(
        &b,
        "bob",
        &[(1, Some(k2), Some(y)), (3, Some(k3), Some(other_long))],
        b"bob list 2",
        b"own list 2",
    );
    let second = UserView::of(
        &[(1, Some(k2), Some(y)), (3, Some(k3), Some(other_long))],
        Some(b"bob list 2"),
        Some(b"own list 2"),
    );
    assert_eq!(view(&b, "bob"), second);
    assert_eq!(view(&a, "bob"), second);

    // B removes bob.1's session (its identity stays) and adds one for bob.2, a device A
    // has never seen, and writes carol, whom A read as absent.
    write_user(
        &b,
        "bob",
        &[(1, None, None), (2, Some(k1), Some(x))],
        b"bob list 3",
        b"own list 3",
    );
    write_user(
        &b,
        "carol",
        &[(4, Some(k3), Some(long))],
        b"carol list",
        b"own list 4",
    );
    let third = UserView::of(
        &[
            (1, Some(k2), None),
            (2, Some(k1), Some(x)),
            (3, Some(k3), Some(other_long)),
        ],
        Some(b"bob list 3"),
        Some(b"own list 4"),
    );
    assert_eq!(view(&a, "bob"), third);
    let mut tx = a.transaction().unwrap();
    assert_eq!(tx.session_devices("bob").unwrap(), [2, 3]);
    assert!(tx.session(&address("bob", 1)).unwrap().is_none());
    drop(tx);
    let carol = UserView::of(
        &[(4, Some(k3), Some(long))],
        Some(b"carol list"),
        Some(b"own list 4"),
    );
    assert_eq!(view(&a, "carol"), carol);

    // A writes without reading first, over a cached view B has since changed: B's
    // change must survive (A's write starts from the committed state, not its cache).
    assert_eq!(view(&a, "bob"), third);
    let mut tx = b.transaction().unwrap();
    tx.put_session(&address("bob", 2), y).unwrap();
    tx.put_session(&address("bob", 4), long).unwrap();
    tx.commit().unwrap();
    let mut tx = a.transaction().unwrap();
    tx.put_session(&address("bob", 1), x).unwrap();
    tx.set_remote_identity(&address("bob", 4), &k1).unwrap();
    tx.commit().unwrap();
    let fourth = UserView::of(
        &[
            (1, Some(k2), Some(x)),
            (2, Some(k1), Some(y)),
            (3, Some(k3), Some(other_long)),
            (4, Some(k1), Some(long)),
        ],
        Some(b"bob list 3"),
        Some(b"own list 4"),
    );
    assert_eq!(view(&a, "bob"), fourth);
    assert_eq!(view(&b, "bob"), fourth);
    let c = SqliteStore::open(&path, at_rest).unwrap();
    assert_eq!(view(&c, "bob"), fourth);
}

/// Two stores on one file see each other's commits of every cached kind.
#[test]
fn two_stores_on_one_file_see_each_others_commits() {
    two_stores_see_each_others_commits(None);
}

/// The same, encrypted at rest.
#[test]
fn two_encrypted_stores_on_one_file_see_each_others_commits() {
    two_stores_see_each_others_commits(Some(key(3)));
}

/// A plain SQLite connection's changes to the cached tables are seen by the store's
/// next transaction.
#[test]
fn a_raw_connections_changes_are_seen() {
    let f = Fixtures::new(34);
    let (x, y, long) = (&f.short_session, &f.other_short_session, &f.session);
    let (k1, k2) = (f.peer_identity, another_identity(35));
    let (_dir, path) = database();
    let a = SqliteStore::open(&path, None).unwrap();
    let committed = [
        (1, Some(k1), Some(x)),
        (2, Some(k2), Some(y)),
        (3, None, Some(long)),
    ];
    write_user(&a, "bob", &committed, b"bob list", b"own list");
    assert_eq!(
        view(&a, "bob"),
        UserView::of(&committed, Some(b"bob list"), Some(b"own list"))
    );

    // Swapped: bob.1 and bob.2's inline records and their identities; bob.3's own row
    // moved to bob.4; both device lists rewritten.
    let connection = raw(&path);
    swap_inline_records(&connection, "bob");
    swap_values(
        &path,
        "remote_identities",
        "identity_key",
        "name = 'bob' AND device_id = 1",
        "name = 'bob' AND device_id = 2",
    );
    connection
        .execute_batch(
            "UPDATE sessions SET device_id = 4 WHERE name = 'bob' AND device_id = 3;
             UPDATE device_lists SET signed = x'6e6577' WHERE user = 'bob';
             UPDATE own_device_list SET signed = x'6f776e2032';",
        )
        .unwrap();
    assert_eq!(
        view(&a, "bob"),
        UserView::of(
            &[
                (1, Some(k2), Some(y)),
                (2, Some(k1), Some(x)),
                (4, None, Some(long)),
            ],
            Some(b"new"),
            Some(b"own 2"),
        )
    );

    // Deleted: bob's row of inline records, bob.1's identity, both device lists.
    connection
        .execute_batch(
            "DELETE FROM user_sessions WHERE name = 'bob';
             DELETE FROM remote_identities WHERE name = 'bob' AND device_id = 1;
             DELETE FROM device_lists; DELETE FROM own_device_list;",
        )
        .unwrap();
    assert_eq!(
        view(&a, "bob"),
        UserView::of(&[(2, Some(k1), None), (4, None, Some(long))], None, None)
    );
    let mut tx = a.transaction().unwrap();
    assert!(tx.session(&address("bob", 1)).unwrap().is_none());
    assert_eq!(tx.session_devices("bob").unwrap(), [4]);
    drop(tx);

    // Inserted: a row for a device the store has not seen inline (the stored form of
    // an unencrypted record is its encoding).
    write_inline_sessions(&connection, "bob", &[(3, x.encode().to_vec())]);
    assert_eq!(
        view(&a, "bob"),
        UserView::of(
            &[
                (2, Some(k1), None),
                (3, None, Some(x)),
                (4, None, Some(long))
            ],
            None,
            None,
        )
    );
}

/// A file put back to an earlier committed state by another connection (old rows,
/// which still open under the at-rest key) is read as it now is: the store serves the
/// older records, not the newer ones it read before.
#[test]
fn rows_put_back_by_another_connection_are_seen() {
    for at_rest in [None, Some(key(5))] {
        let f = Fixtures::new(36);
        let (x, y) = (&f.short_session, &f.other_short_session);
        let (long, other_long) = (&f.session, &f.other_session);
        let (_dir, path) = database();
        let a = SqliteStore::open(&path, at_rest.clone()).unwrap();
        let mut tx = a.transaction().unwrap();
        tx.put_session(&address("bob", 1), x).unwrap();
        tx.put_session(&address("bob", 2), long).unwrap();
        tx.commit().unwrap();
        let connection = raw(&path);
        let old_row: Vec<u8> = connection
            .query_row(
                "SELECT sessions FROM user_sessions WHERE name = 'bob'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        let old_record: Vec<u8> = connection
            .query_row(
                "SELECT record FROM sessions WHERE name = 'bob' AND device_id = 2",
                [],
                |row| row.get(0),
            )
            .unwrap();

        let mut tx = a.transaction().unwrap();
        tx.put_session(&address("bob", 1), y).unwrap();
        tx.put_session(&address("bob", 2), other_long).unwrap();
        tx.commit().unwrap();
        let mut tx = a.transaction().unwrap();
        assert_bob_sessions(&mut tx, [y, other_long]);
        tx.commit().unwrap();

        set_user_sessions_row(&connection, "bob", &old_row);
        connection
            .execute(
                "UPDATE sessions SET record = ?1 WHERE name = 'bob' AND device_id = 2",
                [&old_record],
            )
            .unwrap();
        let mut tx = a.transaction().unwrap();
        let peers = tx.peers("bob", &[1, 2]).unwrap();
        assert_eq!(
            peers
                .into_iter()
                .map(|peer| encoding(peer.session))
                .collect::<Vec<_>>(),
            [encoding(Some(x.clone())), encoding(Some(long.clone()))]
        );
        assert_bob_sessions(&mut tx, [x, long]);
    }
}

/// A transaction dropped without commit leaves nothing behind: not what it wrote, nor
/// what it read back of its own writes, whether or not it read before writing.
#[test]
fn a_dropped_transaction_leaves_nothing_cached() {
    for at_rest in [None, Some(key(6))] {
        for read_first in [false, true] {
            let f = Fixtures::new(37);
            let (x, y) = (&f.short_session, &f.other_short_session);
            let (long, other_long) = (&f.session, &f.other_session);
            let (k1, k2, k3) = (f.peer_identity, another_identity(38), another_identity(39));
            let (_dir, path) = database();
            let a = SqliteStore::open(&path, at_rest.clone()).unwrap();
            let committed = [(1, Some(k1), Some(x)), (3, None, Some(long))];
            write_user(&a, "bob", &committed, b"bob list 1", b"own list 1");
            let before = UserView::of(&committed, Some(b"bob list 1"), Some(b"own list 1"));
            assert_eq!(view(&a, "bob"), before);

            // bob.1 rewritten, bob.2 new in a row of its own, bob.3 shrunk into the
            // inline row, bob.4 new inline; new identities and device lists.
            let dropped = [
                (1, Some(k2), Some(y)),
                (2, Some(k3), Some(other_long)),
                (3, Some(k2), Some(x)),
                (4, None, Some(y)),
            ];
            let tx = rewrite_bob(&a, read_first.then_some(&before), &dropped);
            drop(tx);
            assert_eq!(view(&a, "bob"), before, "read first: {read_first}");

            // Dropped after removing every record of the user (so no inline row).
            let mut tx = a.transaction().unwrap();
            if read_first {
                assert_eq!(read_user(&mut tx, "bob"), before);
            }
            tx.remove_session(&address("bob", 1)).unwrap();
            tx.remove_session(&address("bob", 3)).unwrap();
            assert_eq!(tx.session_devices("bob").unwrap(), Vec::<u32>::new());
            drop(tx);
            assert_eq!(view(&a, "bob"), before, "read first: {read_first}");

            // A later write-only transaction builds on the committed state, not on the
            // dropped one.
            let mut tx = a.transaction().unwrap();
            write_in(&mut tx, "bob", &dropped, b"bob list 2", b"own list 2");
            drop(tx);
            let mut tx = a.transaction().unwrap();
            tx.put_session(&address("bob", 4), y).unwrap();
            tx.commit().unwrap();
            let after = UserView::of(
                &[
                    (1, Some(k1), Some(x)),
                    (3, None, Some(long)),
                    (4, None, Some(y)),
                ],
                Some(b"bob list 1"),
                Some(b"own list 1"),
            );
            assert_eq!(view(&a, "bob"), after);
            let b = SqliteStore::open(&path, at_rest.clone()).unwrap();
            assert_eq!(view(&b, "bob"), after);
        }
    }
}

/// A commit that fails (here a trigger refuses the `user_sessions` write) leaves
/// nothing behind; once the trigger is gone the same commit succeeds and is seen by
/// both stores.
#[test]
fn a_failed_commit_leaves_nothing_cached() {
    for at_rest in [None, Some(key(7))] {
        let f = Fixtures::new(40);
        let (x, y) = (&f.short_session, &f.other_short_session);
        let (long, other_long) = (&f.session, &f.other_session);
        let (k1, k2) = (f.peer_identity, another_identity(41));
        let (_dir, path) = database();
        let a = SqliteStore::open(&path, at_rest.clone()).unwrap();
        let committed = [(1, Some(k1), Some(x)), (3, None, Some(long))];
        write_user(&a, "bob", &committed, b"bob list 1", b"own list 1");
        let before = UserView::of(&committed, Some(b"bob list 1"), Some(b"own list 1"));

        let connection = raw(&path);
        connection
            .execute_batch(
                "CREATE TRIGGER refuse_update BEFORE UPDATE ON user_sessions
                     BEGIN SELECT RAISE(ABORT, 'refused'); END;
                 CREATE TRIGGER refuse_insert BEFORE INSERT ON user_sessions
                     BEGIN SELECT RAISE(ABORT, 'refused'); END;
                 CREATE TRIGGER refuse_delete BEFORE DELETE ON user_sessions
                     BEGIN SELECT RAISE(ABORT, 'refused'); END;",
            )
            .unwrap();
        // Read again after the raw connection's change, so A's cache is filled.
        assert_eq!(view(&a, "bob"), before);

        let failing = [
            (1, Some(k2), Some(y)),
            (2, Some(k2), Some(other_long)),
            (3, None, Some(x)),
        ];
        for read_first in [false, true] {
            let tx = rewrite_bob(&a, read_first.then_some(&before), &failing);
            assert!(
                matches!(tx.commit(), Err(Error::Store(_))),
                "read first: {read_first}"
            );
            assert_eq!(view(&a, "bob"), before, "read first: {read_first}");
        }
        let b = SqliteStore::open(&path, at_rest.clone()).unwrap();
        assert_eq!(view(&b, "bob"), before);
        assert_eq!(view(&a, "bob"), before);

        connection
            .execute_batch(
                "DROP TRIGGER refuse_update; DROP TRIGGER refuse_insert;
                 DROP TRIGGER refuse_delete;",
            )
            .unwrap();
        let mut tx = a.transaction().unwrap();
        tx.put_session(&address("bob", 1), y).unwrap();
        tx.commit().unwrap();
        let after = UserView::of(
            &[(1, Some(k1), Some(y)), (3, None, Some(long))],
            Some(b"bob list 1"),
            Some(b"own list 1"),
        );
        assert_eq!(view(&a, "bob"), after);
        assert_eq!(view(&b, "bob"), after);
    }
}

/// When SQLite itself rolls a whole transaction back (here a trigger's `RAISE(ROLLBACK)`;
/// a full disk or an I/O error does the same), the transaction refuses every further
/// statement and its commit fails: a write that ran before stays undone, and none runs
/// on its own outside the transaction.
#[test]
fn a_transaction_sqlite_rolled_back_writes_nothing_more() {
    let f = Fixtures::new(43);
    let (x, y) = (&f.short_session, &f.other_short_session);
    let (long, other_long) = (&f.session, &f.other_session);
    let (_dir, path) = database();
    let store = SqliteStore::open(&path, None).unwrap();
    let committed = [(1, Some(f.peer_identity), Some(x)), (2, None, Some(long))];
    write_user(&store, "bob", &committed, b"bob list 1", b"own list 1");
    let before = UserView::of(&committed, Some(b"bob list 1"), Some(b"own list 1"));
    raw(&path)
        .execute_batch(
            "CREATE TRIGGER end_it BEFORE UPDATE ON device_lists
                 BEGIN SELECT RAISE(ROLLBACK, 'rolled back'); END;",
        )
        .unwrap();

    let rolled_back = Err(Error::Store("transaction rolled back"));
    let mut tx = store.transaction().unwrap();
    // A long record's row is written at once; the device list write ends the transaction.
    tx.put_session(&address("bob", 2), other_long).unwrap();
    assert!(tx.set_device_list("bob", b"bob list 2").is_err());
    assert_eq!(tx.put_session(&address("bob", 1), y), rolled_back);
    assert_eq!(tx.put_session(&address("bob", 3), other_long), rolled_back);
    assert_eq!(
        tx.set_remote_identity(&address("bob", 1), &another_identity(44)),
        rolled_back
    );
    assert_eq!(tx.set_own_device_list(b"own list 2"), rolled_back);
    assert_eq!(tx.device_list("carol").map(|_| ()), rolled_back);
    assert!(tx.commit().is_err());
    assert_eq!(view(&store, "bob"), before);
    let other = SqliteStore::open(&path, None).unwrap();
    assert_eq!(view(&other, "bob"), before);
}

/// Two stores on one file, from two threads, each round reading and advancing counters
/// kept in every cached kind (a device list, the own device list, a user's session
/// devices and identities, and one session record's content): a stale read would
/// lose an increment or see counters disagree.
#[test]
fn interleaved_read_modify_writes_lose_nothing() {
    const ROUNDS: u32 = 25;
    let f = Fixtures::new(42);
    let identity = f.peer_identity;
    let options = SqliteOptions::new().busy_timeout(std::time::Duration::from_secs(10));
    let parse = |bytes: Option<Vec<u8>>| -> u32 {
        bytes.map_or(0, |bytes| {
            String::from_utf8(bytes).unwrap().parse().unwrap()
        })
    };
    let counter = |device_id| address("counter", device_id);
    let ids: Vec<u32> = (1..=2 * ROUNDS + 1).collect();
    // Reads every counter in `tx`: they must agree.
    let read = |tx: &mut SqliteTransaction<'_>| -> u32 {
        let n = parse(tx.device_list("counter").unwrap());
        assert_eq!(parse(tx.own_device_list().unwrap()), n);
        assert_eq!(
            tx.session_devices("counter").unwrap(),
            (1..=n).collect::<Vec<_>>()
        );
        let peers = tx.peers("counter", &ids).unwrap();
        let known = |peer: &&hush::store::Peer| peer.identity.is_some() && peer.session.is_some();
        assert_eq!(
            peers.iter().filter(known).count(),
            usize::try_from(n).unwrap()
        );
        // Device 1's record alternates with each round.
        let expected = match n {
            0 => None,
            n if n % 2 == 1 => Some(&f.short_session),
            _ => Some(&f.other_short_session),
        };
        assert_eq!(
            encoding(tx.session(&counter(1)).unwrap()),
            expected.map(|record| record.encode().to_vec())
        );
        n
    };
    for at_rest in [None, Some(key(8))] {
        let (_dir, path) = database();
        let a = SqliteStore::open_with(&path, at_rest.clone(), options).unwrap();
        let b = SqliteStore::open_with(&path, at_rest.clone(), options).unwrap();
        std::thread::scope(|scope| {
            for store in [&a, &b] {
                scope.spawn(|| {
                    for _ in 0..ROUNDS {
                        // A read-only transaction first, so that every counter is
                        // cached when the other thread advances them (the pause
                        // lets it take the lock in between).
                        let mut tx = store.transaction().unwrap();
                        read(&mut tx);
                        tx.commit().unwrap();
                        std::thread::sleep(std::time::Duration::from_millis(1));
                        let mut tx = store.transaction().unwrap();
                        let n = read(&mut tx);
                        let next = n + 1;
                        let text = next.to_string();
                        tx.set_device_list("counter", text.as_bytes()).unwrap();
                        tx.set_own_device_list(text.as_bytes()).unwrap();
                        tx.set_remote_identity(&counter(next), &identity).unwrap();
                        // Every third device's record in a row of its own.
                        let record = if next % 3 == 0 {
                            &f.session
                        } else {
                            &f.short_session
                        };
                        tx.put_session(&counter(next), record).unwrap();
                        let first = if next % 2 == 1 {
                            &f.short_session
                        } else {
                            &f.other_short_session
                        };
                        tx.put_session(&counter(1), first).unwrap();
                        tx.commit().unwrap();
                    }
                });
            }
        });
        for store in [&a, &b] {
            let mut tx = store.transaction().unwrap();
            assert_eq!(read(&mut tx), 2 * ROUNDS);
        }
    }
}

/// One step of [`sqlite_stores_on_one_file_match_the_memory_store`]: users and devices
/// are small indexes into fixed choices.
#[derive(Debug, Clone)]
enum Step {
    Put {
        user: usize,
        device: u32,
        record: usize,
    },
    Remove {
        user: usize,
        device: u32,
    },
    Identity {
        user: usize,
        device: u32,
        key: usize,
    },
    DeviceList {
        user: usize,
        version: u8,
    },
    OwnDeviceList {
        version: u8,
    },
    Read {
        user: usize,
    },
}

fn step() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    let user = 0..2usize;
    let device = 1..=4u32;
    prop_oneof![
        (user.clone(), device.clone(), 0..4usize).prop_map(|(user, device, record)| Step::Put {
            user,
            device,
            record
        }),
        (user.clone(), device.clone()).prop_map(|(user, device)| Step::Remove { user, device }),
        (user.clone(), device, 0..2usize).prop_map(|(user, device, key)| Step::Identity {
            user,
            device,
            key
        }),
        (user.clone(), any::<u8>()).prop_map(|(user, version)| Step::DeviceList { user, version }),
        any::<u8>().prop_map(|version| Step::OwnDeviceList { version }),
        user.prop_map(|user| Step::Read { user }),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// Transactions of random writes and reads, each on one of two `SqliteStore`s on one
    /// file (so each one's cache is stale whenever the other committed), committed or
    /// dropped at random, and the same on a `MemoryStore`: every read agrees, inside the
    /// transactions and after them, through both stores.
    #[test]
    fn sqlite_stores_on_one_file_match_the_memory_store(
        transactions in proptest::collection::vec(
            (0..2usize, proptest::collection::vec(step(), 0..8), proptest::bool::ANY),
            1..16,
        ),
    ) {
        const USERS: [&str; 2] = ["bob", "carol"];
        let f = Fixtures::new(50);
        let records = [&f.short_session, &f.other_short_session, &f.session, &f.other_session];
        let keys = [f.peer_identity, another_identity(51)];
        let (_dir, path) = database();
        let sqlite = [
            SqliteStore::open(&path, None).unwrap(),
            SqliteStore::open(&path, None).unwrap(),
        ];
        let memory = hush::store::MemoryStore::new();
        for (on, steps, commit) in &transactions {
            let mut tx = sqlite[*on].transaction().unwrap();
            let mut model = memory.transaction().unwrap();
            for step in steps {
                match *step {
                    Step::Put { user, device, record } => {
                        let address = address(USERS[user], device);
                        tx.put_session(&address, records[record]).unwrap();
                        model.put_session(&address, records[record]).unwrap();
                    }
                    Step::Remove { user, device } => {
                        let address = address(USERS[user], device);
                        tx.remove_session(&address).unwrap();
                        model.remove_session(&address).unwrap();
                    }
                    Step::Identity { user, device, key } => {
                        let address = address(USERS[user], device);
                        tx.set_remote_identity(&address, &keys[key]).unwrap();
                        model.set_remote_identity(&address, &keys[key]).unwrap();
                    }
                    Step::DeviceList { user, version } => {
                        tx.set_device_list(USERS[user], &[version]).unwrap();
                        model.set_device_list(USERS[user], &[version]).unwrap();
                    }
                    Step::OwnDeviceList { version } => {
                        tx.set_own_device_list(&[version]).unwrap();
                        model.set_own_device_list(&[version]).unwrap();
                    }
                    Step::Read { user } => {
                        proptest::prop_assert_eq!(
                            read_user(&mut tx, USERS[user]),
                            read_user(&mut model, USERS[user])
                        );
                    }
                }
            }
            if *commit {
                tx.commit().unwrap();
                model.commit().unwrap();
            }
        }
        for store in &sqlite {
            let mut tx = store.transaction().unwrap();
            let mut model = memory.transaction().unwrap();
            for user in USERS {
                proptest::prop_assert_eq!(read_user(&mut tx, user), read_user(&mut model, user));
            }
        }
    }
}

/// The WAL stays small while a store is open: checkpointed every 256 pages and cut back
/// to 1 MiB after each checkpoint (SQLite's defaults keep a 4 MiB file for good). Many
/// transactions each rewriting a record of a different user (one WAL frame and more per
/// commit) must not grow it past the limit plus one checkpoint interval.
#[test]
fn the_wal_stays_near_one_mebibyte() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let wal = dir.path().join("device.db-wal");
    let store = SqliteStore::open(&path, None).unwrap();
    let f = Fixtures::new(40);
    let mut largest = 0;
    for round in 0..3_000u32 {
        let mut tx = store.transaction().unwrap();
        let user = format!("contact-{}", round % 500);
        tx.put_session(&address(&user, 1), &f.session).unwrap();
        tx.commit().unwrap();
        largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
    }
    let limit = (1 << 20) + 256 * 4096 + 64 * 1024;
    assert!(largest > 0, "no WAL seen");
    assert!(largest <= limit, "the WAL reached {largest} bytes");
}
