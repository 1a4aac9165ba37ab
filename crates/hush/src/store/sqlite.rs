//! The SQLite store: one table per kind of state (session records: a row per user for
//! the short ones, a row per device for the rest), WAL journaling, `BEGIN IMMEDIATE`
//! transactions, a cache of read rows checked against `PRAGMA data_version`, versioned
//! migrations, and optional encryption at rest of every secret column. The schema and
//! the at-rest format are in `docs/wire/store.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use hush_core::cipher::Aes256GcmKey;
use hush_core::kdf::{constant_time_eq, hkdf_sha256_array};
use hush_core::rng::{Rng, os_rng};
use hush_core::{IdentityKey, PublicKey};
use hush_group::{DistributionId, SenderKeyRecord, SenderKeyTracker};
use hush_prekey::{KemPreKeyRecord, PreKeyIdAllocator, PreKeyRecord, SignedPreKeyRecord};
use hush_ratchet::SessionRecord;
use rusqlite::{CachedStatement, Connection, OptionalExtension, Params, params};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::limits::{MAX_INLINE_SESSION_LEN, MAX_INLINE_SESSIONS, MAX_USER_SESSIONS_LEN};
use super::{
    DeviceListStore, IdentityStore, LocalAccount, Peer, PreKeyStore, SenderKeyStore, SessionStore,
    Store, Transaction, codec,
};
use crate::Address;
use crate::error::{Error, Result};

/// The schema version this build writes and reads (the number of migrations it knows;
/// see `docs/wire/store.md`).
pub const SCHEMA_VERSION: u32 = 3;

/// How many prepared statements the connection keeps: above the number of distinct
/// statements this file runs (43 when written), so none is evicted and prepared again.
/// rusqlite's default of 16 is passed by a device that sends, receives and takes a first
/// (prekey) message from a new contact, and preparing a statement costs more than
/// running it.
const STATEMENT_CACHE_CAPACITY: usize = 64;

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
];

/// The format version byte of a `user_sessions` row value.
const USER_SESSIONS_FORMAT_VERSION: u8 = 1;

/// HKDF info of the key that seals secret columns.
const COLUMN_KEY_INFO: &[u8] = b"hush store v1 column key";
/// HKDF info of the check value that tells a right at-rest key from a wrong one.
const KEY_CHECK_INFO: &[u8] = b"hush store v1 key check";
/// Length of the per-database HKDF salt.
const SALT_LENGTH: usize = 32;
/// Length of the AES-GCM nonce in front of every sealed value.
const NONCE_LENGTH: usize = 12;
/// `meta.at_rest` of a database without encryption at rest.
const AT_REST_NONE: u8 = 0;
/// `meta.at_rest` of a database whose secret columns are sealed (AES-256-GCM).
const AT_REST_AES256_GCM: u8 = 1;

/// An application-supplied key under which a [`SqliteStore`] encrypts every secret
/// column (identity key pair, prekeys, sessions, sender keys). 32 bytes, wiped on drop.
///
/// Where it comes from is the app's business: the platform keystore, a key derived
/// from a passphrase, a hardware-backed key. Losing it loses the device's state.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct AtRestKey([u8; 32]);

impl AtRestKey {
    /// Wraps 32 key bytes.
    #[must_use]
    pub const fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A fresh random key from `rng`.
    pub fn generate<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Copies the key out, wiped when dropped (to hand it to a keystore).
    #[must_use]
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0)
    }
}

impl core::fmt::Debug for AtRestKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let Self(_) = self;
        f.debug_struct("AtRestKey").finish_non_exhaustive()
    }
}

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

/// How many users' session records, identities and device lists the [`RowCache`] keeps
/// (each kind separately); the one with the first name in order makes room for another.
/// A user's cached records take at most 3584 bytes plus the ids of their own rows.
const MAX_CACHED_USERS: usize = 256;

/// Rows this connection read or committed, kept so that a later transaction does not
/// read them again: a send to a user's devices then runs no `SELECT` when nothing
/// changed. While no other connection has committed (`PRAGMA data_version` unchanged,
/// checked at the start of every transaction), each entry is the row's value in the
/// database, in stored form: session records as SQLite's own page cache holds them
/// (sealed when the store is encrypted at rest). Nothing a transaction wrote enters it
/// before that transaction committed.
#[derive(Default)]
struct RowCache {
    /// `PRAGMA data_version` when the entries were known to match the database.
    data_version: Option<i64>,
    /// Where each user's session records are, and the short ones themselves.
    sessions: BTreeMap<String, UserSessions>,
    /// Each user's `remote_identities` rows: device id and stored key.
    identities: BTreeMap<String, Vec<(u32, Vec<u8>)>>,
    /// Each user's `device_lists` row (`None`: no row).
    device_lists: BTreeMap<String, Option<Vec<u8>>>,
    /// The `own_device_list` row, once read (`Some(None)`: no row).
    own_device_list: Option<Option<Vec<u8>>>,
}

impl RowCache {
    /// Forgets every entry: the database may have changed under them.
    fn clear(&mut self) {
        *self = Self::default();
    }

    /// Starts a transaction at `data_version`: the entries stay only if no other
    /// connection committed since they were taken.
    fn revalidate(&mut self, data_version: i64) {
        if self.data_version != Some(data_version) {
            self.clear();
            self.data_version = Some(data_version);
        }
    }
}

/// Inserts into a map of at most [`MAX_CACHED_USERS`] entries.
fn cache_insert<V>(map: &mut BTreeMap<String, V>, key: String, value: V) {
    if map.len() >= MAX_CACHED_USERS && !map.contains_key(&key) {
        map.pop_first();
    }
    map.insert(key, value);
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

/// The schema version recorded in the database (0 for an empty one).
fn read_version(connection: &Connection) -> Result<u32> {
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
fn migrate(connection: &Connection, key: Option<&AtRestKey>) -> Result<Option<Sealer>> {
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

/// A derived 32-byte secret, wiped on drop.
type Derived = Zeroizing<[u8; 32]>;

/// The column key and the key check value of `key` under `salt`.
fn derive(key: &AtRestKey, salt: &[u8]) -> Result<(Derived, Derived)> {
    let column = hkdf_sha256_array::<32>(salt, &key.0, COLUMN_KEY_INFO)?;
    let check = hkdf_sha256_array::<32>(salt, &key.0, KEY_CHECK_INFO)?;
    Ok((column, check))
}

/// Seals and opens secret column values (AES-256-GCM, random nonce, AAD binding the
/// value to its table and row).
struct Sealer {
    cipher: Aes256GcmKey,
}

/// Where a secret value lives: its table and its row key (the AAD of its seal).
struct Row<'k> {
    table: &'static str,
    key: RowKey<'k>,
}

/// A row key, encoded into the AAD as `docs/wire/store.md` says.
enum RowKey<'k> {
    /// The table's single row.
    Single,
    /// A prekey id.
    Id(u32),
    /// A device.
    Device(&'k Address),
    /// A device and a distribution id.
    SenderKey(&'k Address, DistributionId),
}

impl Row<'_> {
    fn aad(&self) -> Vec<u8> {
        let mut aad = Vec::with_capacity(1 + self.table.len() + 2 + 256 + 4 + 16);
        // Table names are short ASCII constants.
        aad.push(u8::try_from(self.table.len()).unwrap_or(u8::MAX));
        aad.extend_from_slice(self.table.as_bytes());
        let mut device = |address: &Address| {
            let name = address.name().as_bytes();
            aad.extend_from_slice(&u16::try_from(name.len()).unwrap_or(u16::MAX).to_be_bytes());
            aad.extend_from_slice(name);
            aad.extend_from_slice(&address.device_id().to_be_bytes());
        };
        match self.key {
            RowKey::Single => {}
            RowKey::Id(id) => aad.extend_from_slice(&id.to_be_bytes()),
            RowKey::Device(address) => device(address),
            RowKey::SenderKey(address, distribution_id) => {
                device(address);
                aad.extend_from_slice(distribution_id.as_bytes());
            }
        }
        aad
    }
}

/// Seals `plaintext` for `row` when the store is encrypted; hands it back as is
/// otherwise (no unwiped copy of a secret encoding is made either way).
fn seal(
    sealer: Option<&Sealer>,
    row: &Row<'_>,
    plaintext: Zeroizing<Vec<u8>>,
) -> Zeroizing<Vec<u8>> {
    let Some(sealer) = sealer else {
        return plaintext;
    };
    let mut nonce = [0u8; NONCE_LENGTH];
    os_rng().fill_bytes(&mut nonce);
    let mut out = Vec::with_capacity(NONCE_LENGTH + plaintext.len() + 16);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&plaintext);
    let (_, body) = out.split_at_mut(NONCE_LENGTH);
    let tag = sealer.cipher.seal_in_place(&nonce, &row.aad(), body);
    out.extend_from_slice(&tag);
    Zeroizing::new(out)
}

/// Opens a stored secret value of `row` and decodes it with `decode`.
fn open<T>(
    sealer: Option<&Sealer>,
    row: &Row<'_>,
    stored: &[u8],
    decode: impl FnOnce(&[u8]) -> Result<T>,
) -> Result<T> {
    let Some(sealer) = sealer else {
        return decode(stored);
    };
    let (nonce, sealed) = stored
        .split_first_chunk::<NONCE_LENGTH>()
        .ok_or(Error::Store("sealed value does not open"))?;
    let plaintext = sealer
        .cipher
        .open(nonce, &row.aad(), sealed)
        .map_err(|_| Error::Store("sealed value does not open"))?;
    decode(&plaintext)
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

/// A row (or a user's rows) that the [`RowCache`] can hold, other than session records.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Cached {
    Identities(String),
    DeviceList(String),
    OwnDeviceList,
}

/// Where one user's session records are: the short ones in the user's `user_sessions`
/// row, the others in rows of `sessions` (`docs/wire/store.md`). Each device's record is
/// in exactly one of the two.
#[derive(Default)]
struct UserSessions {
    /// The records in the user's row, stored form (sealed when encrypted), by device.
    inline: BTreeMap<u32, Zeroizing<Vec<u8>>>,
    /// The devices whose record is a row of `sessions`.
    own_rows: BTreeSet<u32>,
    /// Whether `inline` differs from the user's row.
    changed: bool,
    /// Whether this transaction put or removed one of the user's records: until it
    /// commits, this is not what the database holds.
    touched: bool,
}

impl UserSessions {
    /// Whether a record of `stored_len` bytes for `device_id` goes in the user's row:
    /// it is short, and the row with it stays within its count and length bounds.
    fn keeps_inline(&self, device_id: u32, stored_len: usize) -> bool {
        if !(1..=MAX_INLINE_SESSION_LEN).contains(&stored_len) {
            return false;
        }
        let others = self.inline.iter().filter(|(id, _)| **id != device_id);
        let count = others.clone().count() + 1;
        let row_len =
            others.map(|(_, stored)| 6 + stored.len()).sum::<usize>() + 2 + 6 + stored_len;
        count <= MAX_INLINE_SESSIONS && row_len <= MAX_USER_SESSIONS_LEN
    }
}

/// A `user_sessions` row value: the version byte, a count (1..=16), then per device in
/// ascending id order its id (u32 BE), the stored record's length (u16 BE, 1..=1024)
/// and the stored record; at most 3584 bytes in all.
fn encode_user_sessions(inline: &BTreeMap<u32, Zeroizing<Vec<u8>>>) -> Result<Zeroizing<Vec<u8>>> {
    let too_many = || Error::Store("too many inline sessions");
    let count = u8::try_from(inline.len()).map_err(|_| too_many())?;
    let mut out = Zeroizing::new(Vec::with_capacity(
        2 + inline
            .values()
            .map(|stored| 6 + stored.len())
            .sum::<usize>(),
    ));
    out.push(USER_SESSIONS_FORMAT_VERSION);
    out.push(count);
    for (device_id, stored) in inline {
        let len = u16::try_from(stored.len()).map_err(|_| too_many())?;
        out.extend_from_slice(&device_id.to_be_bytes());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(stored);
    }
    Ok(out)
}

/// Reads a `user_sessions` row value; anything but the one encoding
/// [`encode_user_sessions`] writes is [`Error::Store`].
fn decode_user_sessions(bytes: &[u8]) -> Result<BTreeMap<u32, Zeroizing<Vec<u8>>>> {
    let bad = || Error::Store("user sessions do not decode");
    if bytes.len() > MAX_USER_SESSIONS_LEN {
        return Err(bad());
    }
    let Some(([version, count], mut rest)) = bytes.split_first_chunk::<2>() else {
        return Err(bad());
    };
    if *version != USER_SESSIONS_FORMAT_VERSION
        || *count == 0
        || usize::from(*count) > MAX_INLINE_SESSIONS
    {
        return Err(bad());
    }
    let mut inline = BTreeMap::new();
    let mut previous = None;
    for _ in 0..*count {
        let (device_id, after) = rest.split_first_chunk::<4>().ok_or_else(bad)?;
        let (len, after) = after.split_first_chunk::<2>().ok_or_else(bad)?;
        let device_id = u32::from_be_bytes(*device_id);
        let len = usize::from(u16::from_be_bytes(*len));
        if len == 0
            || len > MAX_INLINE_SESSION_LEN
            || previous.is_some_and(|previous| previous >= device_id)
        {
            return Err(bad());
        }
        let (stored, after) = after.split_at_checked(len).ok_or_else(bad)?;
        inline.insert(device_id, Zeroizing::new(stored.to_vec()));
        previous = Some(device_id);
        rest = after;
    }
    if !rest.is_empty() {
        return Err(bad());
    }
    Ok(inline)
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
                cache_insert(&mut cache.sessions, user, sessions);
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
            cache_insert(&mut cache.sessions, user, sessions);
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

    /// Whether the row `key` names may come from and go into the cache: unless this
    /// transaction wrote it.
    fn caches(&self, key: impl FnOnce() -> Cached) -> bool {
        self.written.is_empty() || !self.written.contains(&key())
    }

    /// Takes the row `key` names out of the cache for the rest of this transaction,
    /// which is about to write it.
    fn forget(&mut self, key: Cached) {
        let cache = &mut self.connected.cache;
        match &key {
            Cached::Identities(user) => {
                cache.identities.remove(user);
            }
            Cached::DeviceList(user) => {
                cache.device_lists.remove(user);
            }
            Cached::OwnDeviceList => cache.own_device_list = None,
        }
        self.written.insert(key);
    }

    /// Hands `user`'s `remote_identities` rows (device id, stored key) to `read`: from
    /// the cache, or read (one query) and then cached.
    fn with_identities<T>(
        &mut self,
        user: &str,
        read: impl FnOnce(&[(u32, Vec<u8>)]) -> Result<T>,
    ) -> Result<T> {
        self.live()?;
        let cacheable = self.caches(|| Cached::Identities(user.to_owned()));
        if cacheable && let Some(rows) = self.connected.cache.identities.get(user) {
            return read(rows);
        }
        let what = "read remote identity";
        let rows = {
            let mut statement = self.statement(
                what,
                "SELECT device_id, identity_key FROM remote_identities WHERE name = ?1",
            )?;
            let rows = statement
                .query_map([user], |row| Ok((row.get(0)?, row.get(1)?)))
                .map_err(db(what))?;
            rows.collect::<rusqlite::Result<Vec<(u32, Vec<u8>)>>>()
                .map_err(db(what))?
        };
        let result = read(&rows);
        if cacheable {
            cache_insert(&mut self.connected.cache.identities, user.to_owned(), rows);
        }
        result
    }

    /// A device list row (`device_lists` for `user`, else `own_device_list`): from the
    /// cache, or read and then cached.
    fn device_list_row(&mut self, user: Option<&str>) -> Result<Option<Vec<u8>>> {
        let key = || {
            user.map_or(Cached::OwnDeviceList, |user| {
                Cached::DeviceList(user.to_owned())
            })
        };
        self.live()?;
        let cacheable = self.caches(key);
        let cache = &self.connected.cache;
        let cached = match user {
            Some(user) => cache.device_lists.get(user),
            None => cache.own_device_list.as_ref(),
        };
        if cacheable && let Some(signed) = cached {
            return Ok(signed.clone());
        }
        let signed = match user {
            Some(user) => self.query_blob(
                "read device list",
                "SELECT signed FROM device_lists WHERE user = ?1",
                [user],
                |bytes| Ok(bytes.to_vec()),
            )?,
            None => self.query_blob(
                "read own device list",
                "SELECT signed FROM own_device_list WHERE id = 0",
                [],
                |bytes| Ok(bytes.to_vec()),
            )?,
        };
        if cacheable {
            let cache = &mut self.connected.cache;
            match user {
                Some(user) => {
                    cache_insert(&mut cache.device_lists, user.to_owned(), signed.clone())
                }
                None => cache.own_device_list = Some(signed.clone()),
            }
        }
        Ok(signed)
    }

    fn seal(&self, row: &Row<'_>, plaintext: Zeroizing<Vec<u8>>) -> Zeroizing<Vec<u8>> {
        seal(self.sealer, row, plaintext)
    }
}

const ACCOUNT_ROW: Row<'static> = Row {
    table: "local_account",
    key: RowKey::Single,
};

fn session_row(address: &Address) -> Row<'_> {
    Row {
        table: "sessions",
        key: RowKey::Device(address),
    }
}

impl IdentityStore for SqliteTransaction<'_> {
    fn local_account(&mut self) -> Result<Option<LocalAccount>> {
        self.query_secret(
            "read local account",
            "SELECT account FROM local_account WHERE id = 0",
            [],
            &ACCOUNT_ROW,
            codec::account,
        )
    }

    fn set_local_account(&mut self, account: &LocalAccount) -> Result<()> {
        let sealed = self.seal(&ACCOUNT_ROW, account.encode()?);
        self.execute(
            "write local account",
            "INSERT OR REPLACE INTO local_account (id, account) VALUES (0, ?1)",
            [sealed.as_slice()],
        )
    }

    fn remote_identity(&mut self, address: &Address) -> Result<Option<IdentityKey>> {
        // All of the user's rows in one query, as `peers` reads them: the next call
        // (for another of the user's devices, or the next message) is served cached.
        let device_id = address.device_id();
        self.with_identities(address.name(), |rows| {
            rows.iter()
                .find(|(id, _)| *id == device_id)
                .map(|(_, stored)| codec::identity_key(stored))
                .transpose()
        })
    }

    fn set_remote_identity(&mut self, address: &Address, key: &IdentityKey) -> Result<()> {
        self.forget(Cached::Identities(address.name().to_owned()));
        self.execute(
            "write remote identity",
            "INSERT INTO remote_identities (name, device_id, identity_key) VALUES (?1, ?2, ?3)
             ON CONFLICT (name, device_id) DO UPDATE SET identity_key = excluded.identity_key",
            params![address.name(), address.device_id(), key.encode()],
        )
    }
}

impl PreKeyStore for SqliteTransaction<'_> {
    fn signed_prekey(&mut self, id: u32) -> Result<Option<SignedPreKeyRecord>> {
        self.query_secret(
            "read signed prekey",
            "SELECT record FROM signed_prekeys WHERE id = ?1",
            [id],
            &Row {
                table: "signed_prekeys",
                key: RowKey::Id(id),
            },
            codec::signed_prekey,
        )
    }

    fn put_signed_prekey(&mut self, record: &SignedPreKeyRecord) -> Result<()> {
        let row = Row {
            table: "signed_prekeys",
            key: RowKey::Id(record.id()),
        };
        let sealed = self.seal(&row, record.encode());
        self.execute(
            "write signed prekey",
            "INSERT OR REPLACE INTO signed_prekeys (id, record) VALUES (?1, ?2)",
            params![record.id(), sealed.as_slice()],
        )
    }

    fn remove_signed_prekey(&mut self, id: u32) -> Result<()> {
        self.execute(
            "remove signed prekey",
            "DELETE FROM signed_prekeys WHERE id = ?1",
            [id],
        )
    }

    fn signed_prekey_ids(&mut self) -> Result<Vec<u32>> {
        self.query_list(
            "list signed prekeys",
            "SELECT id FROM signed_prekeys ORDER BY id",
            [],
        )
    }

    fn one_time_prekey(&mut self, id: u32) -> Result<Option<PreKeyRecord>> {
        self.query_secret(
            "read one-time prekey",
            "SELECT record FROM one_time_prekeys WHERE id = ?1",
            [id],
            &Row {
                table: "one_time_prekeys",
                key: RowKey::Id(id),
            },
            codec::one_time_prekey,
        )
    }

    fn put_one_time_prekey(&mut self, record: &PreKeyRecord) -> Result<()> {
        let row = Row {
            table: "one_time_prekeys",
            key: RowKey::Id(record.id()),
        };
        let sealed = self.seal(&row, record.encode());
        self.execute(
            "write one-time prekey",
            "INSERT OR REPLACE INTO one_time_prekeys (id, record) VALUES (?1, ?2)",
            params![record.id(), sealed.as_slice()],
        )
    }

    fn remove_one_time_prekey(&mut self, id: u32) -> Result<()> {
        self.execute(
            "remove one-time prekey",
            "DELETE FROM one_time_prekeys WHERE id = ?1",
            [id],
        )
    }

    fn one_time_prekey_count(&mut self) -> Result<usize> {
        let counts: Vec<i64> = self.query_list(
            "count one-time prekeys",
            "SELECT COUNT(*) FROM one_time_prekeys",
            [],
        )?;
        let count = counts.first().copied().unwrap_or(0);
        usize::try_from(count).map_err(|_| Error::Store("count one-time prekeys"))
    }

    fn kem_prekey(&mut self, id: u32) -> Result<Option<KemPreKeyRecord>> {
        self.query_secret(
            "read KEM prekey",
            "SELECT record FROM kem_prekeys WHERE id = ?1",
            [id],
            &Row {
                table: "kem_prekeys",
                key: RowKey::Id(id),
            },
            codec::kem_prekey,
        )
    }

    fn put_kem_prekey(&mut self, record: &KemPreKeyRecord) -> Result<()> {
        let row = Row {
            table: "kem_prekeys",
            key: RowKey::Id(record.id()),
        };
        let sealed = self.seal(&row, record.encode());
        self.execute(
            "write KEM prekey",
            "INSERT OR REPLACE INTO kem_prekeys (id, last_resort, record) VALUES (?1, ?2, ?3)",
            params![record.id(), record.is_last_resort(), sealed.as_slice()],
        )
    }

    fn remove_kem_prekey(&mut self, id: u32) -> Result<()> {
        self.execute(
            "remove KEM prekey",
            "DELETE FROM kem_prekeys WHERE id = ?1",
            [id],
        )
    }

    fn kem_prekey_ids(&mut self) -> Result<Vec<(u32, bool)>> {
        const WHAT: &str = "list KEM prekeys";
        let mut statement =
            self.statement(WHAT, "SELECT id, last_resort FROM kem_prekeys ORDER BY id")?;
        let rows = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(db(WHAT))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db(WHAT))
    }

    fn prekey_id_allocator(&mut self) -> Result<Option<PreKeyIdAllocator>> {
        self.query_blob(
            "read prekey id allocator",
            "SELECT state FROM prekey_id_allocator WHERE id = 0",
            [],
            codec::allocator,
        )
    }

    fn set_prekey_id_allocator(&mut self, allocator: &PreKeyIdAllocator) -> Result<()> {
        self.execute(
            "write prekey id allocator",
            "INSERT OR REPLACE INTO prekey_id_allocator (id, state) VALUES (0, ?1)",
            [allocator.encode()],
        )
    }

    fn last_resort_used(
        &mut self,
        kem_prekey_id: u32,
        signed_prekey_id: u32,
        base_key: &PublicKey,
    ) -> Result<bool> {
        let found = self.query_list::<i64>(
            "read last-resort use",
            "SELECT 1 FROM last_resort_uses
             WHERE kem_prekey_id = ?1 AND signed_prekey_id = ?2 AND base_key = ?3",
            params![kem_prekey_id, signed_prekey_id, codec::public_key(base_key)],
        )?;
        Ok(!found.is_empty())
    }

    fn record_last_resort_use(
        &mut self,
        kem_prekey_id: u32,
        signed_prekey_id: u32,
        base_key: &PublicKey,
    ) -> Result<()> {
        self.execute(
            "write last-resort use",
            "INSERT OR IGNORE INTO last_resort_uses (kem_prekey_id, signed_prekey_id, base_key)
             VALUES (?1, ?2, ?3)",
            params![kem_prekey_id, signed_prekey_id, codec::public_key(base_key)],
        )
    }
}

impl SqliteTransaction<'_> {
    /// Where `user`'s session records are: the user's `user_sessions` row and the device
    /// ids of their `sessions` rows, read once per transaction unless the cache has
    /// them. Returns the entry taken out of `self.users` or the cache (its key too, so
    /// putting it back allocates nothing); [`Self::keep_user_sessions`] puts it back.
    fn load_user_sessions(&mut self, user: &str) -> Result<(String, UserSessions)> {
        self.live()?;
        if let Some(entry) = self.users.remove_entry(user) {
            return Ok(entry);
        }
        if let Some(entry) = self.connected.cache.sessions.remove_entry(user) {
            return Ok(entry);
        }
        let inline = self
            .query_blob(
                "read sessions",
                "SELECT sessions FROM user_sessions WHERE name = ?1",
                [user],
                decode_user_sessions,
            )?
            .unwrap_or_default();
        let own_rows: BTreeSet<u32> = self
            .query_list(
                "read sessions",
                "SELECT device_id FROM sessions WHERE name = ?1",
                [user],
            )?
            .into_iter()
            .collect();
        if own_rows
            .iter()
            .any(|device_id| inline.contains_key(device_id))
        {
            return Err(Error::Store("session stored twice"));
        }
        Ok((
            user.to_owned(),
            UserSessions {
                inline,
                own_rows,
                changed: false,
                touched: false,
            },
        ))
    }

    fn keep_user_sessions(&mut self, user: String, sessions: UserSessions) {
        self.users.insert(user, sessions);
    }

    /// The session record of `address`, from wherever `sessions` says it is.
    fn stored_session(
        &self,
        sessions: &UserSessions,
        address: &Address,
    ) -> Result<Option<SessionRecord>> {
        let device_id = address.device_id();
        if let Some(stored) = sessions.inline.get(&device_id) {
            return open(self.sealer, &session_row(address), stored, codec::session).map(Some);
        }
        if !sessions.own_rows.contains(&device_id) {
            return Ok(None);
        }
        self.query_secret(
            "read session",
            "SELECT record FROM sessions WHERE name = ?1 AND device_id = ?2",
            params![address.name(), device_id],
            &session_row(address),
            codec::session,
        )
    }

    /// Writes (or replaces) the `sessions` row of `address`.
    fn write_session_row(&self, address: &Address, stored: &[u8]) -> Result<()> {
        self.replace_row(
            "write session",
            &SESSION_ROWS,
            params![address.name(), address.device_id()],
            params![address.name(), address.device_id(), stored],
        )
    }

    fn delete_session_row(&self, address: &Address) -> Result<()> {
        self.execute(
            "remove session",
            SESSION_ROWS.delete,
            params![address.name(), address.device_id()],
        )
    }

    /// Writes the `user_sessions` row of every user whose short records changed: one
    /// statement per user (three when the row shrank a lot, as for `sessions` rows).
    fn write_user_sessions(&mut self) -> Result<()> {
        let what = "write sessions";
        for (user, sessions) in self.users.iter().filter(|(_, s)| s.changed) {
            if sessions.inline.is_empty() {
                self.execute(what, USER_SESSION_ROWS.delete, [user])?;
            } else {
                let encoded = encode_user_sessions(&sessions.inline)?;
                self.replace_row(
                    what,
                    &USER_SESSION_ROWS,
                    params![user],
                    params![user, encoded.as_slice()],
                )?;
            }
        }
        Ok(())
    }

    /// Writes a row of long values by `statements`: rewritten in place when the new
    /// value is about as long as the stored one (the common case); otherwise (a new
    /// row, or one more than 512 bytes shorter) deleted and inserted again, because
    /// SQLite rebalances pages on deletes, not on in-place shrinks, and a commit writes
    /// one WAL frame per page it touched. `key` binds the key columns, `row` the key
    /// columns and then the value.
    fn replace_row(
        &self,
        what: &'static str,
        statements: &RowStatements,
        key: &[&dyn rusqlite::ToSql],
        row: &[&dyn rusqlite::ToSql],
    ) -> Result<()> {
        let updated = self
            .statement(what, statements.update)?
            .execute(row)
            .map_err(db(what))?;
        if updated == 0 {
            self.execute(what, statements.delete, key)?;
            self.execute(what, statements.insert, row)?;
        }
        Ok(())
    }
}

/// The statements that rewrite a row of one of the tables of long values
/// ([`SqliteTransaction::replace_row`]). The update matches only a stored value at most
/// 512 bytes longer than the new one.
struct RowStatements {
    update: &'static str,
    delete: &'static str,
    insert: &'static str,
}

const SESSION_ROWS: RowStatements = RowStatements {
    update: "UPDATE sessions SET record = ?3 WHERE name = ?1 AND device_id = ?2
             AND length(record) <= length(?3) + 512",
    delete: "DELETE FROM sessions WHERE name = ?1 AND device_id = ?2",
    insert: "INSERT INTO sessions (name, device_id, record) VALUES (?1, ?2, ?3)",
};

const USER_SESSION_ROWS: RowStatements = RowStatements {
    update: "UPDATE user_sessions SET sessions = ?2 WHERE name = ?1
             AND length(sessions) <= length(?2) + 512",
    delete: "DELETE FROM user_sessions WHERE name = ?1",
    insert: "INSERT INTO user_sessions (name, sessions) VALUES (?1, ?2)",
};

impl SessionStore for SqliteTransaction<'_> {
    fn session(&mut self, address: &Address) -> Result<Option<SessionRecord>> {
        let (key, sessions) = self.load_user_sessions(address.name())?;
        let record = self.stored_session(&sessions, address);
        self.keep_user_sessions(key, sessions);
        record
    }

    fn put_session(&mut self, address: &Address, record: &SessionRecord) -> Result<()> {
        let stored = self.seal(&session_row(address), record.encode());
        let device_id = address.device_id();
        let (key, mut sessions) = self.load_user_sessions(address.name())?;
        sessions.touched = true;
        // The statements run first: on an error, `sessions` still says where the
        // records are.
        let written = if sessions.keeps_inline(device_id, stored.len()) {
            let moved = if sessions.own_rows.contains(&device_id) {
                self.delete_session_row(address)
            } else {
                Ok(())
            };
            moved.map(|()| {
                sessions.own_rows.remove(&device_id);
                sessions.inline.insert(device_id, stored);
                sessions.changed = true;
            })
        } else {
            self.write_session_row(address, &stored).map(|()| {
                sessions.own_rows.insert(device_id);
                if sessions.inline.remove(&device_id).is_some() {
                    sessions.changed = true;
                }
            })
        };
        self.keep_user_sessions(key, sessions);
        written
    }

    fn remove_session(&mut self, address: &Address) -> Result<()> {
        let device_id = address.device_id();
        let (key, mut sessions) = self.load_user_sessions(address.name())?;
        sessions.touched = true;
        let removed = if sessions.own_rows.contains(&device_id) {
            self.delete_session_row(address)
        } else {
            Ok(())
        };
        if removed.is_ok() {
            sessions.own_rows.remove(&device_id);
            sessions.changed |= sessions.inline.remove(&device_id).is_some();
        }
        self.keep_user_sessions(key, sessions);
        removed
    }

    fn session_devices(&mut self, user: &str) -> Result<Vec<u32>> {
        let (key, sessions) = self.load_user_sessions(user)?;
        let devices = sessions
            .inline
            .keys()
            .chain(&sessions.own_rows)
            .copied()
            .collect::<BTreeSet<u32>>()
            .into_iter()
            .collect();
        self.keep_user_sessions(key, sessions);
        Ok(devices)
    }
}

impl SenderKeyStore for SqliteTransaction<'_> {
    fn sender_key(
        &mut self,
        sender: &Address,
        distribution_id: DistributionId,
    ) -> Result<Option<SenderKeyRecord>> {
        self.query_secret(
            "read sender key",
            "SELECT record FROM sender_keys
             WHERE name = ?1 AND device_id = ?2 AND distribution_id = ?3",
            params![
                sender.name(),
                sender.device_id(),
                codec::distribution_id(distribution_id)
            ],
            &Row {
                table: "sender_keys",
                key: RowKey::SenderKey(sender, distribution_id),
            },
            codec::sender_key,
        )
    }

    fn put_sender_key(
        &mut self,
        sender: &Address,
        distribution_id: DistributionId,
        record: &SenderKeyRecord,
    ) -> Result<()> {
        let row = Row {
            table: "sender_keys",
            key: RowKey::SenderKey(sender, distribution_id),
        };
        let sealed = self.seal(&row, record.encode());
        self.execute(
            "write sender key",
            "INSERT INTO sender_keys (name, device_id, distribution_id, record)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name, device_id, distribution_id) DO UPDATE SET record = excluded.record",
            params![
                sender.name(),
                sender.device_id(),
                codec::distribution_id(distribution_id),
                sealed.as_slice()
            ],
        )
    }

    fn remove_sender_key(
        &mut self,
        sender: &Address,
        distribution_id: DistributionId,
    ) -> Result<()> {
        self.execute(
            "remove sender key",
            "DELETE FROM sender_keys WHERE name = ?1 AND device_id = ?2 AND distribution_id = ?3",
            params![
                sender.name(),
                sender.device_id(),
                codec::distribution_id(distribution_id)
            ],
        )
    }

    fn sender_key_tracker(
        &mut self,
        distribution_id: DistributionId,
    ) -> Result<Option<SenderKeyTracker>> {
        self.query_blob(
            "read sender-key tracker",
            "SELECT tracker FROM sender_key_trackers WHERE distribution_id = ?1",
            [codec::distribution_id(distribution_id)],
            codec::tracker,
        )
    }

    fn put_sender_key_tracker(
        &mut self,
        distribution_id: DistributionId,
        tracker: &SenderKeyTracker,
    ) -> Result<()> {
        self.execute(
            "write sender-key tracker",
            "INSERT INTO sender_key_trackers (distribution_id, tracker) VALUES (?1, ?2)
             ON CONFLICT (distribution_id) DO UPDATE SET tracker = excluded.tracker",
            params![codec::distribution_id(distribution_id), tracker.encode()],
        )
    }
}

impl DeviceListStore for SqliteTransaction<'_> {
    fn own_device_list(&mut self) -> Result<Option<Vec<u8>>> {
        self.device_list_row(None)
    }

    fn set_own_device_list(&mut self, signed: &[u8]) -> Result<()> {
        self.forget(Cached::OwnDeviceList);
        self.execute(
            "write own device list",
            "INSERT OR REPLACE INTO own_device_list (id, signed) VALUES (0, ?1)",
            [signed],
        )
    }

    fn device_list(&mut self, user: &str) -> Result<Option<Vec<u8>>> {
        self.device_list_row(Some(user))
    }

    fn set_device_list(&mut self, user: &str, signed: &[u8]) -> Result<()> {
        self.forget(Cached::DeviceList(user.to_owned()));
        self.execute(
            "write device list",
            "INSERT INTO device_lists (user, signed) VALUES (?1, ?2)
             ON CONFLICT (user) DO UPDATE SET signed = excluded.signed",
            params![user, signed],
        )
    }

    fn seen_offers(&mut self) -> Result<Option<Vec<u8>>> {
        self.query_blob(
            "read seen offers",
            "SELECT seen FROM seen_offers WHERE id = 0",
            [],
            |bytes| Ok(bytes.to_vec()),
        )
    }

    fn set_seen_offers(&mut self, seen: &[u8]) -> Result<()> {
        self.execute(
            "write seen offers",
            "INSERT OR REPLACE INTO seen_offers (id, seen) VALUES (0, ?1)",
            [seen],
        )
    }
}
