//! Backup and restore of an account's message history (`hush-backup`'s encrypted stream,
//! `docs/wire/backup.md`).
//!
//! What a backup holds: the application's data only — the message history bytes the app
//! gives it, in whatever format the app keeps them. It does **not** hold the identity
//! key, the account key, prekeys, sessions or sender keys. This is the choice WhatsApp
//! and Signal make for their chat backups: ratchet state cannot be restored safely (a
//! restored session would reuse message keys its peer already moved past), and keeping
//! long-term private keys out of the backup means a stolen backup and recovery code
//! cannot impersonate the user.
//!
//! So a restore on a fresh device ([`Device::restore_account`]) re-creates the account
//! under the same user id with a **new** identity key (which is also the new account
//! key), a new registration id and a new device list holding only the new primary;
//! companions linked before must be linked again. Contacts see the account key change
//! (`hush_device::Error::IdentityChanged` from [`Device::accept_device_list`]) and accept
//! it with [`Device::accept_changed_device_list`] once the person agrees, exactly as
//! after a reinstall; the server replaces the old registration.
//!
//! Every stream is bound to the account's user id: its `hush-backup` context is the
//! ASCII label [`BACKUP_CONTEXT_LABEL`], one zero byte, then the user id's UTF-8 bytes.
//! A backup of another user id fails to restore with `HeaderAuthentication` before any
//! plaintext comes out.
//!
//! The key is a [`BackupKey`]; the user keeps it as its [`RecoveryCode`] (64 characters)
//! or wrapped under a password (`hush_backup::PasswordWrappedKey`).

use std::io::{Read, Write};

use hush_backup::{Decryptor, Encryptor};
use hush_core::rng::CryptoRng;

use super::{Device, check_user};
use crate::error::{Error, Result};
use crate::store::{IdentityStore, Store};

pub use hush_backup::{BackupId, BackupKey, Progress, RecoveryCode, StreamSummary};

/// The label that starts every facade backup's stream context (then a zero byte and the
/// user id).
pub const BACKUP_CONTEXT_LABEL: &[u8] = b"hush facade history backup v1";

fn context(user: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(BACKUP_CONTEXT_LABEL.len() + 1 + user.len());
    out.extend_from_slice(BACKUP_CONTEXT_LABEL);
    out.push(0);
    out.extend_from_slice(user.as_bytes());
    out
}

/// Encrypts the history `reader` yields into `writer` under `key`, bound to `user`.
/// `progress` is called after each chunk.
///
/// # Errors
///
/// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for a bad user id;
/// [`Error::Backup`](crate::Error::Backup) (I/O, stream too long).
pub fn back_up<R: CryptoRng + ?Sized>(
    user: &str,
    key: &BackupKey,
    reader: impl Read,
    writer: impl Write,
    rng: &mut R,
    progress: impl FnMut(Progress),
) -> Result<StreamSummary> {
    check_user(user)?;
    let context = context(user);
    Ok(Encryptor::new(key)
        .context(&context)
        .progress(progress)
        .encrypt(rng, reader, writer)?)
}

/// Decrypts a backup of `user`'s history from `reader` into `writer` with `key`. Only
/// authenticated plaintext is written.
///
/// # Errors
///
/// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for a bad user id;
/// [`Error::Backup`](crate::Error::Backup): `WrongKey` (another backup key),
/// `HeaderAuthentication` (a backup of another user id, or a changed header),
/// `CorruptedChunk`, `Truncated`, `TrailingData`, `NotABackup`, I/O. On error, discard
/// what `writer` received.
pub fn restore(
    user: &str,
    key: &BackupKey,
    reader: impl Read,
    writer: impl Write,
    progress: impl FnMut(Progress),
) -> Result<StreamSummary> {
    check_user(user)?;
    let context = context(user);
    Ok(Decryptor::new(key)
        .context(&context)
        .progress(progress)
        .decrypt(reader, writer)?)
}

impl<S: Store> Device<S> {
    /// Backs up the history `reader` yields (the app's data) for this device's account:
    /// [`back_up`] with this account's user id.
    ///
    /// # Errors
    ///
    /// As [`back_up`].
    pub fn back_up_history<R: CryptoRng + ?Sized>(
        &self,
        key: &BackupKey,
        reader: impl Read,
        writer: impl Write,
        rng: &mut R,
        progress: impl FnMut(Progress),
    ) -> Result<StreamSummary> {
        back_up(&self.account.user, key, reader, writer, rng, progress)
    }

    /// Restores `user`'s account on a fresh device: first decrypts the whole backup from
    /// `reader` into `writer` (for the app to load), and only if it authenticated,
    /// creates a new account for `user` on the empty `store` as
    /// [`Device::create_account`] does — a new identity and account key, a device list
    /// holding only this device (see the module docs for why keys are not restored).
    /// Register, upload prekeys and the device list afterwards, as for a new account.
    ///
    /// # Errors
    ///
    /// [`Error::AccountExists`] if `store` holds an account (checked before anything is
    /// decrypted); the errors of [`restore`] (nothing is created then); those of
    /// [`Device::create_account`].
    #[allow(clippy::too_many_arguments, reason = "a restore needs each of these")]
    pub fn restore_account<R: CryptoRng + ?Sized>(
        store: S,
        user: &str,
        key: &BackupKey,
        reader: impl Read,
        writer: impl Write,
        now_ms: u64,
        rng: &mut R,
        progress: impl FnMut(Progress),
    ) -> Result<(Self, StreamSummary)> {
        check_user(user)?;
        {
            let mut tx = store.transaction()?;
            if tx.local_account()?.is_some() {
                return Err(Error::AccountExists);
            }
        }
        let summary = restore(user, key, reader, writer, progress)?;
        let device = Self::create_account(store, user, now_ms, rng)?;
        Ok((device, summary))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_layout() {
        let mut expected = b"hush facade history backup v1".to_vec();
        expected.push(0);
        expected.extend_from_slice(b"alice");
        assert_eq!(context("alice"), expected);
    }
}
