//! The SQLite store: one table per kind of state (session records: a row per user for
//! the short ones, a row per device for the rest), WAL journaling, `BEGIN IMMEDIATE`
//! transactions, a cache of read rows checked against `PRAGMA data_version`, versioned
//! migrations, and optional encryption at rest of every secret column. The schema and
//! the at-rest format are in `docs/wire/store.md`.

mod at_rest;
mod cache;
mod rows;
mod schema;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{CachedStatement, Connection, Params};
use zeroize::Zeroizing;

use super::{Peer, Store, Transaction, codec};
use crate::Address;
use crate::error::{Error, Result};

pub use at_rest::AtRestKey;
pub use schema::SCHEMA_VERSION;

use at_rest::{Row, Sealer, open, seal};
use cache::{Cached, RowCache, UserSessions};
use schema::{migrate, read_version};

/// How many prepared statements the connection keeps: above the number of distinct
/// statements this store runs (43 when written), so none is evicted and prepared again.
/// rusqlite's default of 16 is passed by a device that sends, receives and takes a first
/// (prekey) message from a new contact, and preparing a statement costs more than
/// running it.
const STATEMENT_CACHE_CAPACITY: usize = 64;

/// After how many WAL pages (4 KiB each) SQLite checkpoints the WAL into the database.
const WAL_AUTOCHECKPOINT_PAGES: u32 = 256;

/// How large the WAL file stays after a checkpoint (`PRAGMA journal_size_limit`).
const JOURNAL_SIZE_LIMIT_BYTES: u32 = 1 << 20;

/// How hard a commit waits for the disk (SQLite's `PRAGMA synchronous`, in WAL mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Synchronous {
    /// `FULL` (the default): a commit returns after the WAL is synced, so a committed
    /// message survives a power cut. Costs one `fsync` per transaction.
    #[default]
    Full,
    /// `NORMAL`: the WAL is synced only at checkpoints. The database stays consistent
    /// after a crash or power cut, but the last transactions before a power cut (not a
    /// process crash) may be lost — and with them ratchet steps the peer has seen, which
    /// then fail to decrypt until the session is re-established. Faster on slow disks.
    Normal,
}

/// Options of [`SqliteStore::open_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteOptions {
    synchronous: Synchronous,
    busy_timeout: Duration,
    exclusive: bool,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            synchronous: Synchronous::Full,
            busy_timeout: Duration::from_secs(5),
            exclusive: false,
        }
    }
}

impl SqliteOptions {
    /// The defaults: [`Synchronous::Full`], a busy timeout of 5 seconds.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the sync mode.
    #[must_use]
    pub const fn synchronous(self, synchronous: Synchronous) -> Self {
        Self {
            synchronous,
            ..self
        }
    }

    /// Sets how long a transaction waits for another process's transaction on the same
    /// file before failing.
    #[must_use]
    pub const fn busy_timeout(self, busy_timeout: Duration) -> Self {
        Self {
            busy_timeout,
            ..self
        }
    }

    /// Holds SQLite's lock on the file from the first transaction until the store is
    /// dropped (`PRAGMA locking_mode = EXCLUSIVE`): no other process can read or write
    /// the database meanwhile (it gets [`Error::Store`] after its busy timeout), and in
    /// exchange each transaction skips the file-lock system calls and the shared-memory
    /// index of WAL mode. For a store only this process opens, which is how a device's
    /// store is meant to be used. Off by default.
    #[must_use]
    pub const fn exclusive(self, exclusive: bool) -> Self {
        Self { exclusive, ..self }
    }
}

/// A device's state in a SQLite database (bundled SQLite, WAL mode).
///
/// One connection behind a mutex: transactions of one `SqliteStore` are serialised by
/// the mutex, and transactions of other processes on the same file by SQLite's lock
/// (`BEGIN IMMEDIATE`, waiting up to the busy timeout).
///
/// The connection remembers the session records, identities and device lists it read
/// or committed, so a repeated send reads nothing; each transaction checks first whether
/// another connection committed (`PRAGMA data_version`) and forgets them if so
/// (`docs/wire/store.md`, "The row cache").
///
/// ```
/// use hush::store::{DeviceListStore, SqliteStore, Store, Transaction};
///
/// let store = SqliteStore::open_in_memory(None)?;
/// let mut tx = store.transaction()?;
/// tx.set_device_list("alice", b"signed list")?;
/// tx.commit()?;
/// let mut tx = store.transaction()?;
/// assert_eq!(tx.device_list("alice")?.as_deref(), Some(&b"signed list"[..]));
/// # Ok::<(), hush::Error>(())
/// ```
pub struct SqliteStore {
    connected: Mutex<Connected>,
    sealer: Option<Sealer>,
}

/// The store's connection, and the rows it remembers between transactions.
struct Connected {
    connection: Connection,
    cache: RowCache,
}

impl core::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("encrypted_at_rest", &self.sealer.is_some())
            .finish_non_exhaustive()
    }
}

/// Maps a SQLite failure to [`Error::Store`] naming the operation.
fn db(what: &'static str) -> impl FnOnce(rusqlite::Error) -> Error {
    move |_| Error::Store(what)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` with the default
    /// [`SqliteOptions`], migrating its schema to [`SCHEMA_VERSION`].
    ///
    /// A new database is encrypted at rest if and only if `key` is given; an existing
    /// one must be opened the way it was created.
    ///
    /// # Errors
    ///
    /// [`Error::StoreVersionTooNew`] for a schema from a newer hush;
    /// [`Error::WrongAtRestKey`], [`Error::AtRestKeyRequired`],
    /// [`Error::StoreNotEncrypted`] when `key` does not fit the database;
    /// [`Error::Store`] if the file cannot be opened or migrated.
    pub fn open(path: impl AsRef<Path>, key: Option<AtRestKey>) -> Result<Self> {
        Self::open_with(path, key, SqliteOptions::default())
    }

    /// [`SqliteStore::open`] with options.
    ///
    /// # Errors
    ///
    /// As [`SqliteStore::open`].
    pub fn open_with(
        path: impl AsRef<Path>,
        key: Option<AtRestKey>,
        options: SqliteOptions,
    ) -> Result<Self> {
        let connection = Connection::open(path).map_err(db("open"))?;
        Self::init(connection, key, options)
    }

    /// A database in memory, gone when dropped (for tests).
    ///
    /// # Errors
    ///
    /// [`Error::Store`] if SQLite cannot create it.
    pub fn open_in_memory(key: Option<AtRestKey>) -> Result<Self> {
        let connection = Connection::open_in_memory().map_err(db("open"))?;
        Self::init(connection, key, SqliteOptions::default())
    }

    fn init(
        connection: Connection,
        key: Option<AtRestKey>,
        options: SqliteOptions,
    ) -> Result<Self> {
        connection
            .busy_timeout(options.busy_timeout)
            .map_err(db("busy timeout"))?;
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
        if options.exclusive {
            // Before WAL mode is entered, so the WAL index lives in heap memory.
            connection
                .execute_batch("PRAGMA locking_mode = EXCLUSIVE")
                .map_err(db("locking mode"))?;
        }
        // journal_mode answers with the mode in force ("memory" for in-memory databases).
        let _mode: String = connection
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(db("journal mode"))?;
        let synchronous = match options.synchronous {
            Synchronous::Full => "PRAGMA synchronous = FULL",
            Synchronous::Normal => "PRAGMA synchronous = NORMAL",
        };
        connection
            .execute_batch(synchronous)
            .map_err(db("synchronous"))?;
        // Deleted and overwritten content is zeroed in the database file, so a replaced
        // session or a consumed prekey does not linger in free pages.
        connection
            .execute_batch("PRAGMA secure_delete = ON")
            .map_err(db("secure delete"))?;
        // The WAL: checkpointed every WAL_AUTOCHECKPOINT_PAGES pages (SQLite's default is
        // 1000, a 4 MiB file), and cut back to JOURNAL_SIZE_LIMIT_BYTES after each
        // checkpoint (by default SQLite keeps the file at its largest): a phone's disk
        // sees a WAL of at most about 1 MiB, which also bounds how many superseded
        // versions of records it holds.
        connection
            .execute_batch(&format!(
                "PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}; \
                 PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT_BYTES}"
            ))
            .map_err(db("wal size"))?;
        let sealer = migrate(&connection, key.as_ref())?;
        Ok(Self {
            connected: Mutex::new(Connected {
                connection,
                cache: RowCache::default(),
            }),
            sealer,
        })
    }

    /// Gives the space of deleted rows back to the file system: rewrites the database
    /// without free pages (SQLite's `VACUUM`), then checkpoints and truncates the
    /// write-ahead log. Returns how many bytes the database shrank by (whole pages; the
    /// log is not counted).
    ///
    /// Deleted content is zeroed already (`PRAGMA secure_delete`); this is about size.
    /// Pages freed by consumed prekeys and removed sessions are reused by later writes,
    /// so a device needs this only after removing much more than it will write again.
    /// It takes time proportional to the database, needs room for a second copy while
    /// it runs, and holds the store (and SQLite's lock on the file) until it is done:
    /// call it when the app is idle. A failure loses nothing: `VACUUM` is one
    /// transaction, and if the checkpoint after it cannot finish the space comes back at
    /// a later checkpoint.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] if SQLite cannot vacuum or checkpoint (for example, another
    /// process has the file open in a transaction).
    pub fn compact(&self) -> Result<u64> {
        let mut connected = self.lock();
        connected.cache.clear();
        let connection = &connected.connection;
        if !connection.is_autocommit() {
            connection
                .execute_batch("ROLLBACK")
                .map_err(db("rollback"))?;
        }
        let before = database_bytes(connection)?;
        connection.execute_batch("VACUUM").map_err(db("vacuum"))?;
        // Answers one row: (busy, frames in the log, frames checkpointed).
        let busy: i64 = connection
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))
            .map_err(db("checkpoint"))?;
        if busy != 0 {
            return Err(Error::Store("checkpoint"));
        }
        Ok(before.saturating_sub(database_bytes(connection)?))
    }

    /// The schema version of the open database (always [`SCHEMA_VERSION`] after a
    /// successful open).
    ///
    /// # Errors
    ///
    /// [`Error::Store`] on a storage failure.
    pub fn schema_version(&self) -> Result<u32> {
        read_version(&self.lock().connection)
    }

    fn lock(&self) -> MutexGuard<'_, Connected> {
        // A panic while the lock was held dropped the transaction, which rolled back:
        // the connection is usable (and `transaction` rolls back anything left open).
        self.connected
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The size of the database in bytes: its page count times its page size.
fn database_bytes(connection: &Connection) -> Result<u64> {
    let pragma = |name: &str| -> Result<u64> {
        let value: i64 = connection
            .query_row(&format!("PRAGMA {name}"), [], |row| row.get(0))
            .map_err(db("read database size"))?;
        u64::try_from(value).map_err(|_| Error::Store("database size out of range"))
    };
    Ok(pragma("page_count")?.saturating_mul(pragma("page_size")?))
}

impl Store for SqliteStore {
    type Transaction<'a> = SqliteTransaction<'a>;

    fn transaction(&self) -> Result<SqliteTransaction<'_>> {
        let mut connected = self.lock();
        if !connected.connection.is_autocommit() {
            // A rollback that failed earlier left a transaction open: finish it.
            connected.cache.clear();
            connected
                .connection
                .execute_batch("ROLLBACK")
                .map_err(db("rollback"))?;
        }
        connected
            .connection
            .prepare_cached("BEGIN IMMEDIATE")
            .and_then(|mut begin| begin.execute([]))
            .map_err(db("begin"))?;
        let mut tx = SqliteTransaction {
            connected,
            sealer: self.sealer.as_ref(),
            users: BTreeMap::new(),
            written: BTreeSet::new(),
            open: true,
        };
        // Read inside the transaction, whose write lock keeps other connections from
        // committing until it ends. (Dropping `tx` on an error rolls back.)
        let data_version: i64 = tx
            .connection()
            .prepare_cached("PRAGMA data_version")
            .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
            .map_err(db("begin"))?;
        tx.connected.cache.revalidate(data_version);
        Ok(tx)
    }
}

/// A transaction on a [`SqliteStore`] (`BEGIN IMMEDIATE` ... `COMMIT`; rolled back
/// when dropped uncommitted). Holds the store's connection until then.
pub struct SqliteTransaction<'a> {
    connected: MutexGuard<'a, Connected>,
    sealer: Option<&'a Sealer>,
    /// The session records of every user this transaction touched, taken out of the
    /// cache or read; `user_sessions` rows that changed are written at commit, one
    /// statement per user, and after the commit the entries go (back) into the cache.
    users: BTreeMap<String, UserSessions>,
    /// The cached rows this transaction wrote: taken out of the cache, and read from
    /// the database (never cached) until it ends.
    written: BTreeSet<Cached>,
    open: bool,
}

impl core::fmt::Debug for SqliteTransaction<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SqliteTransaction")
            .field("open", &self.open)
            .finish_non_exhaustive()
    }
}

impl Drop for SqliteTransaction<'_> {
    fn drop(&mut self) {
        if self.open {
            // If this fails the next `transaction` sees the connection still in a
            // transaction and rolls back then.
            let _ = self
                .connection()
                .prepare_cached("ROLLBACK")
                .and_then(|mut rollback| rollback.execute([]));
            // What the transaction only read is still what the database holds.
            let users = core::mem::take(&mut self.users);
            let cache = &mut self.connected.cache;
            for (user, sessions) in users.into_iter().filter(|(_, s)| !s.touched) {
                cache.sessions.insert(user, sessions);
            }
        }
    }
}

impl Transaction for SqliteTransaction<'_> {
    fn commit(mut self) -> Result<()> {
        let committed = self.write_user_sessions().and_then(|()| {
            self.statement("commit", "COMMIT")?
                .execute([])
                .map_err(db("commit"))
        });
        if let Err(error) = committed {
            // Dropping `self` rolls back. The cache holds nothing of this transaction,
            // but after a failure so rare, keeping nothing costs little.
            self.users.clear();
            self.connected.cache.clear();
            return Err(error);
        }
        self.open = false;
        // Committed: what the transaction holds of its users' sessions is now what the
        // database holds.
        let users = core::mem::take(&mut self.users);
        let cache = &mut self.connected.cache;
        for (user, mut sessions) in users {
            sessions.changed = false;
            sessions.touched = false;
            cache.sessions.insert(user, sessions);
        }
        Ok(())
    }

    fn peers(&mut self, user: &str, device_ids: &[u32]) -> Result<Vec<Peer>> {
        let mut peers: Vec<Peer> = device_ids.iter().map(|_| Peer::default()).collect();
        let Some(&first) = device_ids.first() else {
            return Ok(peers);
        };
        // Checks `user` (and the first id) as the per-device calls would.
        Address::new(user, first)?;
        self.with_identities(user, |rows| {
            for (device_id, bytes) in rows {
                for (peer, _) in peers
                    .iter_mut()
                    .zip(device_ids)
                    .filter(|(_, id)| *id == device_id)
                {
                    peer.identity = Some(codec::identity_key(bytes)?);
                }
            }
            Ok(())
        })?;
        let (key, sessions) = self.load_user_sessions(user)?;
        let read = peers
            .iter_mut()
            .zip(device_ids)
            .try_for_each(|(peer, &device_id)| {
                peer.session = self.stored_session(&sessions, &Address::new(user, device_id)?)?;
                Ok(())
            });
        self.keep_user_sessions(key, sessions);
        read.map(|()| peers)
    }
}

impl SqliteTransaction<'_> {
    fn connection(&self) -> &Connection {
        &self.connected.connection
    }

    /// Refuses to go on once SQLite has ended the transaction by itself: after some
    /// failures (a full disk, an I/O error, a trigger's `RAISE(ROLLBACK)`) it rolls the
    /// whole transaction back, and a statement run after that would run on its own and
    /// take effect at once, even if the caller then never commits. Every operation
    /// checks this first, cached reads included, so a dead transaction fails throughout.
    fn live(&self) -> Result<()> {
        if self.connection().is_autocommit() {
            return Err(Error::Store("transaction rolled back"));
        }
        Ok(())
    }

    /// A prepared statement (from the connection's cache) to run in this transaction,
    /// while it is [`live`](Self::live).
    fn statement(&self, what: &'static str, sql: &str) -> Result<CachedStatement<'_>> {
        self.live()?;
        self.connection().prepare_cached(sql).map_err(db(what))
    }

    /// Runs a cached statement that changes rows.
    fn execute(&self, what: &'static str, sql: &str, params: impl Params) -> Result<()> {
        self.statement(what, sql)?
            .execute(params)
            .map_err(db(what))?;
        Ok(())
    }

    /// Runs a cached query for at most one row and hands its first column, a blob, to
    /// `read`.
    fn query_blob<T>(
        &self,
        what: &'static str,
        sql: &str,
        params: impl Params,
        read: impl FnOnce(&[u8]) -> Result<T>,
    ) -> Result<Option<T>> {
        let mut statement = self.statement(what, sql)?;
        let mut rows = statement.query(params).map_err(db(what))?;
        let Some(row) = rows.next().map_err(db(what))? else {
            return Ok(None);
        };
        let value = row
            .get_ref(0)
            .and_then(|value| value.as_blob().map_err(Into::into))
            .map_err(db(what))?;
        read(value).map(Some)
    }

    /// Reads a secret column of `row`, opening it if sealed, and decodes it.
    fn query_secret<T>(
        &self,
        what: &'static str,
        sql: &str,
        params: impl Params,
        row: &Row<'_>,
        decode: impl FnOnce(&[u8]) -> Result<T>,
    ) -> Result<Option<T>> {
        let sealer = self.sealer;
        self.query_blob(what, sql, params, |stored| {
            open(sealer, row, stored, decode)
        })
    }

    /// Runs a cached query whose rows are one value each.
    fn query_list<T: rusqlite::types::FromSql>(
        &self,
        what: &'static str,
        sql: &str,
        params: impl Params,
    ) -> Result<Vec<T>> {
        let mut statement = self.statement(what, sql)?;
        let rows = statement
            .query_map(params, |row| row.get(0))
            .map_err(db(what))?;
        rows.collect::<rusqlite::Result<Vec<T>>>().map_err(db(what))
    }

    fn seal(&self, row: &Row<'_>, plaintext: Zeroizing<Vec<u8>>) -> Zeroizing<Vec<u8>> {
        seal(self.sealer, row, plaintext)
    }
}
