//! The schema of the SQLite store: its migrations, the schema version, and the at-rest
//! metadata written when a database is created (`docs/wire/store.md`).

use hush_core::cipher::Aes256GcmKey;
use hush_core::kdf::constant_time_eq;
use hush_core::rng::{Rng, os_rng};
use rusqlite::{Connection, OptionalExtension, params};

use super::at_rest::{AT_REST_AES256_GCM, AT_REST_NONE, AtRestKey, SALT_LENGTH, Sealer, derive};
use super::db;
use crate::error::{Error, Result};

/// The schema version this build writes and reads (the number of migrations it knows;
/// see `docs/wire/store.md`).
pub const SCHEMA_VERSION: u32 = 4;

/// Migration `i` takes the schema from version `i` to `i + 1`. A database is migrated
/// from its version to [`SCHEMA_VERSION`] in one transaction when opened. Entries are
/// never edited once released; a change of schema is a new entry.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [
    // 0 -> 1: the first schema.
    "CREATE TABLE schema_version (version INTEGER NOT NULL);
     INSERT INTO schema_version (version) VALUES (0);
     CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
     CREATE TABLE local_account (
         id INTEGER PRIMARY KEY CHECK (id = 0),
         account BLOB NOT NULL);
     CREATE TABLE remote_identities (
         name TEXT NOT NULL, device_id INTEGER NOT NULL, identity_key BLOB NOT NULL,
         PRIMARY KEY (name, device_id)) WITHOUT ROWID;
     CREATE TABLE signed_prekeys (id INTEGER PRIMARY KEY, record BLOB NOT NULL);
     CREATE TABLE one_time_prekeys (id INTEGER PRIMARY KEY, record BLOB NOT NULL);
     CREATE TABLE kem_prekeys (
         id INTEGER PRIMARY KEY, last_resort INTEGER NOT NULL, record BLOB NOT NULL);
     CREATE TABLE prekey_id_allocator (
         id INTEGER PRIMARY KEY CHECK (id = 0), state BLOB NOT NULL);
     CREATE TABLE last_resort_uses (
         kem_prekey_id INTEGER NOT NULL, signed_prekey_id INTEGER NOT NULL,
         base_key BLOB NOT NULL,
         PRIMARY KEY (kem_prekey_id, signed_prekey_id, base_key)) WITHOUT ROWID;
     CREATE TABLE sessions (
         name TEXT NOT NULL, device_id INTEGER NOT NULL, record BLOB NOT NULL,
         PRIMARY KEY (name, device_id));
     CREATE TABLE sender_keys (
         name TEXT NOT NULL, device_id INTEGER NOT NULL, distribution_id BLOB NOT NULL,
         record BLOB NOT NULL,
         PRIMARY KEY (name, device_id, distribution_id));
     CREATE TABLE sender_key_trackers (
         distribution_id BLOB PRIMARY KEY, tracker BLOB NOT NULL);
     CREATE TABLE own_device_list (
         id INTEGER PRIMARY KEY CHECK (id = 0), signed BLOB NOT NULL);
     CREATE TABLE device_lists (user TEXT PRIMARY KEY, signed BLOB NOT NULL);",
    // 1 -> 2: the primary's answered linking offers.
    "CREATE TABLE seen_offers (id INTEGER PRIMARY KEY CHECK (id = 0), seen BLOB NOT NULL);",
    // 2 -> 3: a user's short session records together in one row. Records stored before
    // stay in `sessions`, which still holds the long ones; a short one moves on its next
    // write.
    "CREATE TABLE user_sessions (name TEXT PRIMARY KEY, sessions BLOB NOT NULL);",
    // 3 -> 4: remote identities by key, to find every address one identity key is
    // recorded for (one device key under two users is refused).
    "CREATE INDEX remote_identities_by_key ON remote_identities (identity_key);",
];

/// The schema version recorded in the database (0 for an empty one).
pub(super) fn read_version(connection: &Connection) -> Result<u32> {
    let has_table: bool = connection
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master
                            WHERE type = 'table' AND name = 'schema_version')",
            [],
            |row| row.get(0),
        )
        .map_err(db("read schema version"))?;
    if !has_table {
        return Ok(0);
    }
    let version: Option<i64> = connection
        .query_row("SELECT MAX(version) FROM schema_version", [], |row| {
            row.get(0)
        })
        .map_err(db("read schema version"))?;
    u32::try_from(version.unwrap_or(0)).map_err(|_| Error::Store("schema version out of range"))
}

/// Brings the schema to [`SCHEMA_VERSION`] in one transaction, sets up or checks the
/// at-rest encryption, and returns the sealer for secret columns.
pub(super) fn migrate(connection: &Connection, key: Option<&AtRestKey>) -> Result<Option<Sealer>> {
    connection
        .execute_batch("BEGIN IMMEDIATE")
        .map_err(db("begin migration"))?;
    let result = migrate_in_transaction(connection, key);
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    let ended = connection
        .execute_batch(end)
        .map_err(db("commit migration"));
    let sealer = result?;
    ended?;
    Ok(sealer)
}

fn migrate_in_transaction(
    connection: &Connection,
    key: Option<&AtRestKey>,
) -> Result<Option<Sealer>> {
    let found = read_version(connection)?;
    if found > SCHEMA_VERSION {
        return Err(Error::StoreVersionTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    let pending = MIGRATIONS
        .get(usize::try_from(found).unwrap_or(usize::MAX)..)
        .unwrap_or_default();
    for migration in pending {
        connection
            .execute_batch(migration)
            .map_err(db("migration"))?;
    }
    if found == 0 {
        create_at_rest_meta(connection, key)?;
    }
    connection
        .execute("UPDATE schema_version SET version = ?1", [SCHEMA_VERSION])
        .map_err(db("write schema version"))?;
    check_at_rest(connection, key)
}

fn meta(connection: &Connection, name: &str) -> Result<Option<Vec<u8>>> {
    connection
        .query_row("SELECT value FROM meta WHERE name = ?1", [name], |row| {
            row.get(0)
        })
        .optional()
        .map_err(db("read meta"))
}

fn set_meta(connection: &Connection, name: &str, value: &[u8]) -> Result<()> {
    connection
        .execute(
            "INSERT OR REPLACE INTO meta (name, value) VALUES (?1, ?2)",
            params![name, value],
        )
        .map_err(db("write meta"))?;
    Ok(())
}

/// Records, in a new database, whether and how it is encrypted at rest.
fn create_at_rest_meta(connection: &Connection, key: Option<&AtRestKey>) -> Result<()> {
    let Some(key) = key else {
        return set_meta(connection, "at_rest", &[AT_REST_NONE]);
    };
    let mut salt = [0u8; SALT_LENGTH];
    os_rng().fill_bytes(&mut salt);
    let (_, check) = derive(key, &salt)?;
    set_meta(connection, "at_rest", &[AT_REST_AES256_GCM])?;
    set_meta(connection, "at_rest_salt", &salt)?;
    set_meta(connection, "at_rest_check", check.as_ref())
}

/// Checks `key` against the database's at-rest metadata.
fn check_at_rest(connection: &Connection, key: Option<&AtRestKey>) -> Result<Option<Sealer>> {
    let mode = meta(connection, "at_rest")?.ok_or(Error::Store("at-rest metadata missing"))?;
    match (mode.as_slice(), key) {
        ([AT_REST_NONE], None) => Ok(None),
        ([AT_REST_NONE], Some(_)) => Err(Error::StoreNotEncrypted),
        ([AT_REST_AES256_GCM], None) => Err(Error::AtRestKeyRequired),
        ([AT_REST_AES256_GCM], Some(key)) => {
            let salt = meta(connection, "at_rest_salt")?
                .ok_or(Error::Store("at-rest metadata missing"))?;
            let stored = meta(connection, "at_rest_check")?
                .ok_or(Error::Store("at-rest metadata missing"))?;
            let (column_key, check) = derive(key, &salt)?;
            if !constant_time_eq(check.as_ref(), &stored) {
                return Err(Error::WrongAtRestKey);
            }
            Ok(Some(Sealer {
                cipher: Aes256GcmKey::new(&column_key),
            }))
        }
        _ => Err(Error::Store("unknown at-rest mode")),
    }
}
