//! The SQLite store's row cache: rows read or committed, kept between transactions
//! while no other connection commits (`docs/wire/store.md`, "The row cache"), and the
//! in-memory form of a user's session records.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use zeroize::Zeroizing;

use super::{SqliteTransaction, db};
use crate::error::{Error, Result};
use crate::store::limits::{MAX_INLINE_SESSION_LEN, MAX_INLINE_SESSIONS, MAX_USER_SESSIONS_LEN};

/// The format version byte of a `user_sessions` row value.
const USER_SESSIONS_FORMAT_VERSION: u8 = 1;

/// How many users' session records, identities and device lists the [`RowCache`] keeps
/// (each kind separately); the least recently used user makes room for another. A
/// user's cached records take at most 3584 bytes plus the ids of their own rows.
pub(super) const MAX_CACHED_USERS: usize = 256;

/// Rows this connection read or committed, kept so that a later transaction does not
/// read them again: a send to a user's devices then runs no `SELECT` when nothing
/// changed. While no other connection has committed (`PRAGMA data_version` unchanged,
/// checked at the start of every transaction), each entry is the row's value in the
/// database, in stored form: session records as SQLite's own page cache holds them
/// (sealed when the store is encrypted at rest). Nothing a transaction wrote enters it
/// before that transaction committed.
#[derive(Default)]
pub(super) struct RowCache {
    /// `PRAGMA data_version` when the entries were known to match the database.
    pub(super) data_version: Option<i64>,
    /// Where each user's session records are, and the short ones themselves.
    pub(super) sessions: LruMap<UserSessions>,
    /// Each user's `remote_identities` rows: device id and stored key.
    pub(super) identities: LruMap<Vec<(u32, Vec<u8>)>>,
    /// Each user's `device_lists` row (`None`: no row).
    pub(super) device_lists: LruMap<Option<Vec<u8>>>,
    /// The `own_device_list` row, once read (`Some(None)`: no row).
    pub(super) own_device_list: Option<Option<Vec<u8>>>,
}

impl RowCache {
    /// Forgets every entry: the database may have changed under them.
    pub(super) fn clear(&mut self) {
        *self = Self::default();
    }

    /// Starts a transaction at `data_version`: the entries stay only if no other
    /// connection committed since they were taken.
    pub(super) fn revalidate(&mut self, data_version: i64) {
        if self.data_version != Some(data_version) {
            self.clear();
            self.data_version = Some(data_version);
        }
    }
}

/// A map by user of at most [`MAX_CACHED_USERS`] entries that evicts the least recently
/// used one: a lookup or an insert makes an entry the most recent, so the contacts an
/// app talks to stay cached however their names sort and however large a group it
/// touched last.
pub(super) struct LruMap<V> {
    entries: HashMap<String, (u64, V)>,
    /// Each entry's last use, oldest first.
    order: BTreeMap<u64, String>,
    clock: u64,
}

impl<V> Default for LruMap<V> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            order: BTreeMap::new(),
            clock: 0,
        }
    }
}

impl<V> LruMap<V> {
    fn tick(&mut self) -> u64 {
        self.clock = self.clock.wrapping_add(1);
        self.clock
    }

    /// The entry for `user`, now the most recently used.
    pub(super) fn get(&mut self, user: &str) -> Option<&V> {
        let now = self.tick();
        let (used, value) = self.entries.get_mut(user)?;
        let before = core::mem::replace(used, now);
        if let Some(name) = self.order.remove(&before) {
            self.order.insert(now, name);
        }
        Some(value)
    }

    /// Inserts (or replaces) the entry for `user` as the most recently used, evicting
    /// the least recently used one when the map is full.
    pub(super) fn insert(&mut self, user: String, value: V) {
        if self.remove(&user).is_none()
            && self.entries.len() >= MAX_CACHED_USERS
            && let Some((_, oldest)) = self.order.pop_first()
        {
            self.entries.remove(&oldest);
        }
        let now = self.tick();
        self.order.insert(now, user.clone());
        self.entries.insert(user, (now, value));
    }

    /// Takes the entry for `user` out.
    pub(super) fn remove(&mut self, user: &str) -> Option<V> {
        self.remove_entry(user).map(|(_, value)| value)
    }

    /// Takes the entry for `user` out, with its key.
    pub(super) fn remove_entry(&mut self, user: &str) -> Option<(String, V)> {
        let (user, (used, value)) = self.entries.remove_entry(user)?;
        self.order.remove(&used);
        Some((user, value))
    }

    /// How many users the map holds.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// A row (or a user's rows) that the [`RowCache`] can hold, other than session records.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Cached {
    Identities(String),
    DeviceList(String),
    OwnDeviceList,
}

/// Where one user's session records are: the short ones in the user's `user_sessions`
/// row, the others in rows of `sessions` (`docs/wire/store.md`). Each device's record is
/// in exactly one of the two.
#[derive(Default)]
pub(super) struct UserSessions {
    /// The records in the user's row, stored form (sealed when encrypted), by device.
    pub(super) inline: BTreeMap<u32, Zeroizing<Vec<u8>>>,
    /// The devices whose record is a row of `sessions`.
    pub(super) own_rows: BTreeSet<u32>,
    /// Whether `inline` differs from the user's row.
    pub(super) changed: bool,
    /// Whether this transaction put or removed one of the user's records: until it
    /// commits, this is not what the database holds.
    pub(super) touched: bool,
}

impl UserSessions {
    /// Whether a record of `stored_len` bytes for `device_id` goes in the user's row:
    /// it is short, and the row with it stays within its count and length bounds.
    pub(super) fn keeps_inline(&self, device_id: u32, stored_len: usize) -> bool {
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
pub(super) fn encode_user_sessions(
    inline: &BTreeMap<u32, Zeroizing<Vec<u8>>>,
) -> Result<Zeroizing<Vec<u8>>> {
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
pub(super) fn decode_user_sessions(bytes: &[u8]) -> Result<BTreeMap<u32, Zeroizing<Vec<u8>>>> {
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

impl SqliteTransaction<'_> {
    /// Whether the row `key` names may come from and go into the cache: unless this
    /// transaction wrote it.
    pub(super) fn caches(&self, key: impl FnOnce() -> Cached) -> bool {
        self.written.is_empty() || !self.written.contains(&key())
    }

    /// Takes the row `key` names out of the cache for the rest of this transaction,
    /// which is about to write it.
    pub(super) fn forget(&mut self, key: Cached) {
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
    pub(super) fn with_identities<T>(
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
            self.connected
                .cache
                .identities
                .insert(user.to_owned(), rows);
        }
        result
    }

    /// A device list row (`device_lists` for `user`, else `own_device_list`): from the
    /// cache, or read and then cached.
    pub(super) fn device_list_row(&mut self, user: Option<&str>) -> Result<Option<Vec<u8>>> {
        let key = || {
            user.map_or(Cached::OwnDeviceList, |user| {
                Cached::DeviceList(user.to_owned())
            })
        };
        self.live()?;
        let cacheable = self.caches(key);
        if cacheable {
            let cache = &mut self.connected.cache;
            let cached = match user {
                Some(user) => cache.device_lists.get(user),
                None => cache.own_device_list.as_ref(),
            };
            if let Some(signed) = cached {
                return Ok(signed.clone());
            }
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
                Some(user) => cache.device_lists.insert(user.to_owned(), signed.clone()),
                None => cache.own_device_list = Some(signed.clone()),
            }
        }
        Ok(signed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_user_makes_room() {
        let mut map = LruMap::default();
        let cap = u32::try_from(MAX_CACHED_USERS).unwrap_or(u32::MAX);
        for i in 0..cap {
            map.insert(format!("user-{i:04}"), i);
        }
        // "user-0000" sorts first but was used last: it stays; "user-0001" goes.
        assert_eq!(map.get("user-0000"), Some(&0));
        map.insert("zzz".to_owned(), cap);
        assert_eq!(map.len(), MAX_CACHED_USERS);
        assert_eq!(map.get("user-0000"), Some(&0));
        assert_eq!(map.get("user-0001"), None);
        assert_eq!(map.get("zzz"), Some(&cap));
        // Replacing an entry neither grows the map nor evicts anyone.
        map.insert("zzz".to_owned(), 7);
        assert_eq!(map.len(), MAX_CACHED_USERS);
        assert_eq!(map.get("user-0002"), Some(&2));
        assert_eq!(map.remove_entry("zzz"), Some(("zzz".to_owned(), 7)));
        assert_eq!(map.len(), MAX_CACHED_USERS - 1);
    }
}
