//! The SQLite store's rows: the per-kind store traits on [`SqliteTransaction`].

use std::collections::BTreeSet;

use hush_core::{IdentityKey, PublicKey};
use hush_group::{DistributionId, SenderKeyRecord, SenderKeyTracker};
use hush_prekey::{KemPreKeyRecord, PreKeyIdAllocator, PreKeyRecord, SignedPreKeyRecord};
use hush_ratchet::SessionRecord;
use rusqlite::params;

use super::at_rest::{ACCOUNT_ROW, Row, RowKey, open, session_row};
use super::cache::{Cached, UserSessions, decode_user_sessions, encode_user_sessions};
use super::{SqliteTransaction, db};
use crate::Address;
use crate::error::{Error, Result};
use crate::store::{
    DeviceListStore, IdentityStore, LocalAccount, PreKeyStore, SenderKeyStore, SessionStore, codec,
};

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

    fn addresses_with_identity(&mut self, key: &IdentityKey) -> Result<Vec<Address>> {
        let what = "read remote identity";
        let mut statement = self.statement(
            what,
            "SELECT name, device_id FROM remote_identities WHERE identity_key = ?1
             ORDER BY name, device_id",
        )?;
        let rows = statement
            .query_map([key.encode()], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, u32>(1)?))
            })
            .map_err(db(what))?;
        rows.map(|row| {
            let (name, device_id) = row.map_err(db(what))?;
            Address::new(name.as_str(), device_id).map_err(|_| Error::Store("remote identity"))
        })
        .collect()
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
    pub(super) fn load_user_sessions(&mut self, user: &str) -> Result<(String, UserSessions)> {
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

    pub(super) fn keep_user_sessions(&mut self, user: String, sessions: UserSessions) {
        self.users.insert(user, sessions);
    }

    /// The session record of `address`, from wherever `sessions` says it is.
    pub(super) fn stored_session(
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
    pub(super) fn write_user_sessions(&mut self) -> Result<()> {
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
