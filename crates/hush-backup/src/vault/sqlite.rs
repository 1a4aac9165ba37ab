//! A [`VaultStore`] in a SQLite file (feature `vault-sqlite`).

use core::fmt;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use zeroize::Zeroizing;

use crate::vault::error::VaultError;
use crate::vault::store::{EntryChange, VaultEntry, VaultStore};

/// The schema version this code writes and reads.
pub(crate) const SCHEMA_VERSION: i64 = 1;

/// How long a connection waits for another connection's write transaction before it
/// gives up with [`VaultError::Store`].
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Schema version 1: the server setup (one row) and one row per user id.
const MIGRATION_0_TO_1: &str = "
    CREATE TABLE vault_setup (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        setup BLOB NOT NULL
    );
    CREATE TABLE vault_entries (
        user_id BLOB PRIMARY KEY NOT NULL,
        entry BLOB NOT NULL
    );
    DELETE FROM schema_version;
    INSERT INTO schema_version (version) VALUES (1);
";

fn db(_: rusqlite::Error) -> VaultError {
    VaultError::Store("sqlite")
}

/// A [`VaultStore`] in a SQLite database file, one connection per store.
///
/// Open one store per thread or process on the same path: every [`VaultStore::transact`]
/// runs in a `BEGIN IMMEDIATE` transaction, which takes SQLite's write lock before it
/// reads, so two connections never interleave a check and an increment of the attempt
/// counter; a connection that finds the lock taken waits (busy timeout, 30 s) instead
/// of failing. The database is in WAL mode with `synchronous = FULL`, so a counted
/// attempt survives a crash once `login_start` has returned.
///
/// The file holds the vault's server setup: anyone who copies it can test password
/// guesses offline against its records. Keep it on encrypted storage with tight
/// permissions; a production vault keeps the setup in an HSM instead.
pub struct SqliteVaultStore {
    conn: Mutex<Connection>,
}

impl fmt::Debug for SqliteVaultStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteVaultStore").finish_non_exhaustive()
    }
}

impl SqliteVaultStore {
    /// Opens (creating if needed) the database at `path` and migrates its schema to the
    /// current version.
    ///
    /// # Errors
    ///
    /// [`VaultError::Store`] if SQLite cannot open or migrate the file, or the file's
    /// schema is newer than this code.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, VaultError> {
        let conn = Connection::open(path).map_err(db)?;
        Self::init(conn)
    }

    fn init(mut conn: Connection) -> Result<Self, VaultError> {
        conn.busy_timeout(BUSY_TIMEOUT).map_err(db)?;
        let _mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(db)?;
        // secure_delete: SQLite overwrites the bytes of a replaced or deleted row instead of
        // leaving them in a free page, so a destroyed record is gone from the file, not
        // merely unlinked.
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA secure_delete = ON;")
            .map_err(db)?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);")
            .map_err(db)?;
        let version: i64 = tx
            .query_row("SELECT MAX(version) FROM schema_version", [], |row| {
                row.get::<_, Option<i64>>(0)
            })
            .map_err(db)?
            .unwrap_or(0);
        match version {
            0 => tx.execute_batch(MIGRATION_0_TO_1).map_err(db)?,
            SCHEMA_VERSION => {}
            _ => return Err(VaultError::Store("unknown sqlite schema version")),
        }
        tx.commit().map_err(db)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>, VaultError> {
        self.conn
            .lock()
            .map_err(|_| VaultError::Store("sqlite store lock poisoned"))
    }

    /// The schema version of the open database.
    ///
    /// # Errors
    ///
    /// [`VaultError::Store`] if SQLite fails.
    pub fn schema_version(&self) -> Result<i64, VaultError> {
        self.lock()?
            .query_row("SELECT MAX(version) FROM schema_version", [], |row| {
                row.get::<_, Option<i64>>(0)
            })
            .map_err(db)
            .map(|v| v.unwrap_or(0))
    }
}

impl VaultStore for SqliteVaultStore {
    fn server_setup(&self) -> Result<Option<Zeroizing<Vec<u8>>>, VaultError> {
        self.lock()?
            .query_row("SELECT setup FROM vault_setup WHERE id = 1", [], |row| {
                row.get::<_, Vec<u8>>(0)
            })
            .optional()
            .map_err(db)
            .map(|v| v.map(Zeroizing::new))
    }

    fn init_server_setup(&self, setup: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let mut conn = self.lock()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        tx.execute(
            "INSERT OR IGNORE INTO vault_setup (id, setup) VALUES (1, ?1)",
            [setup],
        )
        .map_err(db)?;
        let stored: Vec<u8> = tx
            .query_row("SELECT setup FROM vault_setup WHERE id = 1", [], |row| {
                row.get(0)
            })
            .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(Zeroizing::new(stored))
    }

    fn transact<R>(
        &self,
        user_id: &[u8],
        f: impl FnOnce(Option<VaultEntry>) -> (EntryChange, R),
    ) -> Result<R, VaultError> {
        let mut conn = self.lock()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let stored: Option<Zeroizing<Vec<u8>>> = tx
            .query_row(
                "SELECT entry FROM vault_entries WHERE user_id = ?1",
                [user_id],
                |row| row.get::<_, Vec<u8>>(0),
            )
            .optional()
            .map_err(db)?
            .map(Zeroizing::new);
        let entry = match stored {
            Some(bytes) => Some(
                VaultEntry::decode(&bytes).map_err(|_| VaultError::Store("corrupt vault entry"))?,
            ),
            None => None,
        };
        let (change, result) = f(entry);
        let destroys = matches!(
            change,
            EntryChange::Put(VaultEntry::Destroyed) | EntryChange::Delete
        );
        match change {
            EntryChange::Keep => {}
            EntryChange::Put(entry) => {
                let bytes = entry.encode();
                tx.execute(
                    "INSERT INTO vault_entries (user_id, entry) VALUES (?1, ?2)
                     ON CONFLICT (user_id) DO UPDATE SET entry = excluded.entry",
                    rusqlite::params![user_id, bytes.as_slice()],
                )
                .map_err(db)?;
            }
            EntryChange::Delete => {
                tx.execute("DELETE FROM vault_entries WHERE user_id = ?1", [user_id])
                    .map_err(db)?;
            }
        }
        tx.commit().map_err(db)?;
        if destroys {
            // The old page images of a destroyed record still sit in the write-ahead log
            // until a checkpoint copies the log into the database and truncates it. Do that
            // now rather than whenever SQLite gets round to it. A busy checkpoint (another
            // connection reading) is retried at the next destruction or by SQLite itself;
            // the record is already gone from every reader's view.
            let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_from_zero_and_refuses_newer_schemas() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.sqlite");
        // A file some earlier tool created without our tables: version 0.
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE unrelated (x INTEGER);")
            .unwrap();
        let store = SqliteVaultStore::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), 1);
        assert!(store.server_setup().unwrap().is_none());
        let stored = store.init_server_setup(b"first").unwrap();
        assert_eq!(stored.as_slice(), b"first");
        // A second init keeps the first setup.
        assert_eq!(
            store.init_server_setup(b"second").unwrap().as_slice(),
            b"first"
        );
        drop(store);
        // Reopening at version 1 migrates nothing.
        let store = SqliteVaultStore::open(&path).unwrap();
        assert_eq!(store.server_setup().unwrap().unwrap().as_slice(), b"first");
        drop(store);
        Connection::open(&path)
            .unwrap()
            .execute_batch("UPDATE schema_version SET version = 2;")
            .unwrap();
        assert_eq!(
            SqliteVaultStore::open(&path).err(),
            Some(VaultError::Store("unknown sqlite schema version"))
        );
    }

    #[test]
    fn corrupt_entries_are_a_store_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.sqlite");
        let store = SqliteVaultStore::open(&path).unwrap();
        store
            .lock()
            .unwrap()
            .execute(
                "INSERT INTO vault_entries (user_id, entry) VALUES (?1, ?2)",
                rusqlite::params![b"u".as_slice(), [1u8, 0x20, 0].as_slice()],
            )
            .unwrap();
        assert_eq!(
            store.entry(b"u").err(),
            Some(VaultError::Store("corrupt vault entry"))
        );
        assert!(store.entry(b"v").unwrap().is_none());
    }
}
