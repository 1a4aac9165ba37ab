//! The password vault over the SQLite store: persistence across reopening, and the
//! attempt limit under concurrent connections.

#![cfg(feature = "vault-sqlite")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use hush_backup::BackupKey;
use hush_backup::vault::{
    KsfParams, SqliteVaultStore, Vault, VaultClient, VaultConfig, VaultEntry, VaultError,
    VaultStore,
};
use hush_core::rng::CryptoRng;
use hush_test_support::test_rng;

const NOW: u64 = 1_700_000_000_000;
const USER: &[u8] = b"alice";
const PASSWORD: &[u8] = b"correct horse battery staple";
const WRONG: &[u8] = b"Tr0ub4dor&3";

fn open(path: &Path, limit: u32, rng: &mut impl CryptoRng) -> Vault<SqliteVaultStore> {
    let config = VaultConfig::new().with_attempt_limit(limit).unwrap();
    Vault::open(SqliteVaultStore::open(path).unwrap(), config, rng).unwrap()
}

fn register(vault: &Vault<SqliteVaultStore>, key: &BackupKey, rng: &mut impl CryptoRng) {
    let client = VaultClient::new(KsfParams::new(8, 1, 1).unwrap());
    let (registration, request) = client.register(PASSWORD, rng).unwrap();
    let response = vault.registration_response(USER, &request, rng).unwrap();
    let upload = registration.finish(&response, key, rng).unwrap();
    vault.register(USER, &upload).unwrap();
}

fn login(
    vault: &Vault<SqliteVaultStore>,
    password: &[u8],
    rng: &mut impl CryptoRng,
) -> Result<BackupKey, VaultError> {
    let (login, request) = VaultClient::login(password, rng)?;
    let (state, response) = vault.login_start(USER, &request, rng)?;
    let (finalization, session) = login.finish(&response)?;
    let release = vault.login_finish(USER, state, &finalization, NOW)?;
    session.open(&release)
}

fn failed_attempts(vault: &Vault<SqliteVaultStore>) -> u32 {
    match vault.store().entry(USER).unwrap() {
        Some(VaultEntry::Active(record)) => record.failed_attempts(),
        other => panic!("expected an active record, found {other:?}"),
    }
}

#[test]
fn reopening_keeps_the_setup_the_record_and_the_counter() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.sqlite");
    let mut rng = test_rng(1);
    let key = BackupKey::generate(&mut rng);
    let setup = {
        let vault = open(&path, 10, &mut rng);
        assert_eq!(vault.store().schema_version().unwrap(), 1);
        register(&vault, &key, &mut rng);
        for _ in 0..3 {
            assert_eq!(
                login(&vault, WRONG, &mut rng).err(),
                Some(VaultError::InvalidLogin)
            );
        }
        vault.store().server_setup().unwrap().unwrap()
    };
    let vault = open(&path, 10, &mut rng);
    assert_eq!(vault.store().server_setup().unwrap().unwrap(), setup);
    assert_eq!(failed_attempts(&vault), 3);
    assert!(login(&vault, PASSWORD, &mut rng).unwrap() == key);
    assert_eq!(failed_attempts(&vault), 0);
}

#[test]
fn destruction_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.sqlite");
    let mut rng = test_rng(2);
    let key = BackupKey::generate(&mut rng);
    {
        let vault = open(&path, 2, &mut rng);
        register(&vault, &key, &mut rng);
        assert!(login(&vault, WRONG, &mut rng).is_err());
    }
    {
        let vault = open(&path, 2, &mut rng);
        assert!(login(&vault, WRONG, &mut rng).is_err());
        assert_eq!(
            login(&vault, PASSWORD, &mut rng).err(),
            Some(VaultError::Destroyed)
        );
    }
    let vault = open(&path, 2, &mut rng);
    assert!(matches!(
        vault.store().entry(USER).unwrap(),
        Some(VaultEntry::Destroyed)
    ));
    assert_eq!(
        login(&vault, PASSWORD, &mut rng).err(),
        Some(VaultError::Destroyed)
    );
}

#[test]
fn concurrent_connections_never_exceed_the_limit() {
    const THREADS: usize = 32;
    const GUESSES_PER_THREAD: usize = 3;
    const LIMIT: u32 = 10;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.sqlite");
    let mut rng = test_rng(3);
    let key = BackupKey::generate(&mut rng);
    register(&open(&path, LIMIT, &mut rng), &key, &mut rng);
    let issued = AtomicU32::new(0);
    let refused = AtomicU32::new(0);
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let (path, issued, refused) = (&path, &issued, &refused);
            scope.spawn(move || {
                let mut rng = test_rng(100 + t as u64);
                // One connection (and one vault) per thread, as separate processes would.
                let vault = open(path, LIMIT, &mut rng);
                for _ in 0..GUESSES_PER_THREAD {
                    let (login, request) = VaultClient::login(WRONG, &mut rng).unwrap();
                    match vault.login_start(USER, &request, &mut rng) {
                        Ok((_state, response)) => {
                            issued.fetch_add(1, Ordering::SeqCst);
                            assert_eq!(
                                login.finish(&response).err(),
                                Some(VaultError::InvalidLogin)
                            );
                        }
                        Err(VaultError::Destroyed) => {
                            refused.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(other) => panic!("unexpected {other:?}"),
                    }
                }
            });
        }
    });
    assert_eq!(issued.load(Ordering::SeqCst), LIMIT);
    assert_eq!(
        refused.load(Ordering::SeqCst) as usize,
        THREADS * GUESSES_PER_THREAD - LIMIT as usize
    );
    let vault = open(&path, LIMIT, &mut rng);
    assert!(matches!(
        vault.store().entry(USER).unwrap(),
        Some(VaultEntry::Destroyed)
    ));
    assert_eq!(
        login(&vault, PASSWORD, &mut rng).err(),
        Some(VaultError::Destroyed)
    );
}

#[test]
fn the_file_holds_neither_the_password_nor_the_key() {
    // A cheap sanity check; the real argument is OPAQUE's (docs/wire/vault.md).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.sqlite");
    let mut rng = test_rng(4);
    let key = BackupKey::generate(&mut rng);
    {
        let vault = open(&path, 10, &mut rng);
        register(&vault, &key, &mut rng);
        assert!(login(&vault, PASSWORD, &mut rng).unwrap() == key);
    }
    let key_bytes = key.to_bytes();
    let mut files = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        files += 1;
        assert!(!bytes.windows(PASSWORD.len()).any(|w| w == PASSWORD));
        assert!(!bytes.windows(8).any(|w| w == &key_bytes[..8]));
    }
    assert!(files >= 1);
}

#[test]
fn a_destroyed_record_leaves_no_bytes_in_the_files() {
    // "Destroyed for good" must hold on disk, not just in the table: SQLite keeps deleted
    // row bytes in free pages and old page images in the write-ahead log unless told
    // otherwise.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.sqlite");
    let mut rng = test_rng(5);
    let key = BackupKey::generate(&mut rng);
    let vault = open(&path, 1, &mut rng);
    register(&vault, &key, &mut rng);
    let Some(active @ VaultEntry::Active(_)) = vault.store().entry(USER).unwrap() else {
        panic!("expected an active record");
    };
    let encoded = active.encode();
    // The record's last 48 bytes: the wrapped backup key, random-looking, unique to it.
    let tail = &encoded[encoded.len() - 48..];
    let found_in_files = || {
        std::fs::read_dir(dir.path()).unwrap().any(|entry| {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            bytes.windows(tail.len()).any(|w| w == tail)
        })
    };
    assert!(found_in_files(), "the live record should be on disk");
    assert!(login(&vault, WRONG, &mut rng).is_err());
    assert_eq!(
        login(&vault, PASSWORD, &mut rng).err(),
        Some(VaultError::Destroyed)
    );
    assert!(
        !found_in_files(),
        "the destroyed record is still readable on disk"
    );
}
