//! The password vault over the in-memory store: registration, login, the attempt limit,
//! password change and key rotation, concurrency, and hostile input.

#![cfg(feature = "vault")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use hush_backup::BackupKey;
use hush_backup::vault::messages::{
    CREDENTIAL_FINALIZATION_LEN, CREDENTIAL_REQUEST_LEN, CREDENTIAL_RESPONSE_LEN,
    CredentialFinalization, CredentialRequest, CredentialResponse, REGISTRATION_REQUEST_LEN,
    REGISTRATION_RESPONSE_LEN, REGISTRATION_UPLOAD_LEN, RELEASE_LEN, RegistrationRequest,
    RegistrationResponse, RegistrationUpload, Release, UPDATE_REQUEST_MAX_LEN,
    UPDATE_REQUEST_MIN_LEN, UpdateRequest,
};
use hush_backup::vault::{
    KsfParams, MemoryVaultStore, Vault, VaultClient, VaultConfig, VaultEntry, VaultError,
    VaultLoginState, VaultServerSetup, VaultSession, VaultStore,
};
use hush_core::rng::CryptoRng;
use hush_test_support::test_rng;

const NOW: u64 = 1_700_000_000_000;
const USER: &[u8] = b"alice";
const PASSWORD: &[u8] = b"correct horse battery staple";
const WRONG: &[u8] = b"Tr0ub4dor&3";

fn ksf() -> KsfParams {
    // Argon2id's smallest cost: these tests are about the protocol, not the stretching.
    KsfParams::new(8, 1, 1).unwrap()
}

fn vault_with_limit(limit: u32, rng: &mut impl CryptoRng) -> Vault<MemoryVaultStore> {
    let config = VaultConfig::new().with_attempt_limit(limit).unwrap();
    Vault::open(MemoryVaultStore::new(), config, rng).unwrap()
}

fn register<S: VaultStore>(
    vault: &Vault<S>,
    user: &[u8],
    password: &[u8],
    key: &BackupKey,
    rng: &mut impl CryptoRng,
) {
    let (registration, request) = VaultClient::new(ksf()).register(password, rng).unwrap();
    let response = vault.registration_response(user, &request, rng).unwrap();
    let upload = registration.finish(&response, key, rng).unwrap();
    vault.register(user, &upload).unwrap();
}

/// A full login; returns the session and the release on success.
fn login_session<S: VaultStore>(
    vault: &Vault<S>,
    user: &[u8],
    password: &[u8],
    rng: &mut impl CryptoRng,
) -> Result<(VaultSession, Vec<u8>), VaultError> {
    let (login, request) = VaultClient::login(password, rng)?;
    let (state, response) = vault.login_start(user, &request, rng)?;
    // A client with the wrong password fails here and never sends a finalization: the
    // vault has already counted the attempt.
    let (finalization, session) = login.finish(&response)?;
    let release = vault.login_finish(user, state, &finalization, NOW)?;
    Ok((session, release))
}

fn login<S: VaultStore>(
    vault: &Vault<S>,
    user: &[u8],
    password: &[u8],
    rng: &mut impl CryptoRng,
) -> Result<BackupKey, VaultError> {
    let (session, release) = login_session(vault, user, password, rng)?;
    session.open(&release)
}

fn failed_attempts<S: VaultStore>(vault: &Vault<S>, user: &[u8]) -> u32 {
    match vault.store().entry(user).unwrap() {
        Some(VaultEntry::Active(record)) => record.failed_attempts(),
        other => panic!("expected an active record, found {other:?}"),
    }
}

fn is_destroyed<S: VaultStore>(vault: &Vault<S>, user: &[u8]) -> bool {
    matches!(
        vault.store().entry(user).unwrap(),
        Some(VaultEntry::Destroyed)
    )
}

#[test]
fn register_then_login_releases_the_key() {
    let mut rng = test_rng(1);
    let vault = vault_with_limit(10, &mut rng);
    let key = BackupKey::generate(&mut rng);
    register(&vault, USER, PASSWORD, &key, &mut rng);
    assert!(login(&vault, USER, PASSWORD, &mut rng).unwrap() == key);
    assert_eq!(failed_attempts(&vault, USER), 0);
    // Another user with the same password has an unrelated record.
    let other = BackupKey::generate(&mut rng);
    register(&vault, b"bob", PASSWORD, &other, &mut rng);
    assert!(login(&vault, b"bob", PASSWORD, &mut rng).unwrap() == other);
    assert!(login(&vault, USER, PASSWORD, &mut rng).unwrap() == key);
}

#[test]
fn default_ksf_params_work() {
    // One full round with the default (OWASP) Argon2id cost, so the default path is run.
    let mut rng = test_rng(2);
    let vault = vault_with_limit(10, &mut rng);
    let key = BackupKey::generate(&mut rng);
    let (registration, request) = VaultClient::default().register(PASSWORD, &mut rng).unwrap();
    let response = vault
        .registration_response(USER, &request, &mut rng)
        .unwrap();
    let upload = registration.finish(&response, &key, &mut rng).unwrap();
    assert_eq!(
        RegistrationUpload::decode(&upload).unwrap().ksf_params(),
        KsfParams::new(19 * 1024, 2, 1).unwrap()
    );
    vault.register(USER, &upload).unwrap();
    assert!(login(&vault, USER, PASSWORD, &mut rng).unwrap() == key);
}

#[test]
fn registering_twice_is_refused() {
    let mut rng = test_rng(3);
    let vault = vault_with_limit(10, &mut rng);
    let key = BackupKey::generate(&mut rng);
    register(&vault, USER, PASSWORD, &key, &mut rng);
    let (registration, request) = VaultClient::new(ksf()).register(WRONG, &mut rng).unwrap();
    let response = vault
        .registration_response(USER, &request, &mut rng)
        .unwrap();
    let upload = registration.finish(&response, &key, &mut rng).unwrap();
    assert_eq!(
        vault.register(USER, &upload),
        Err(VaultError::AlreadyRegistered)
    );
    // The first registration still stands.
    assert!(login(&vault, USER, PASSWORD, &mut rng).unwrap() == key);
    assert_eq!(
        login(&vault, USER, WRONG, &mut rng).err(),
        Some(VaultError::InvalidLogin)
    );
}

#[test]
fn wrong_password_fails_and_is_counted() {
    let mut rng = test_rng(4);
    let vault = vault_with_limit(10, &mut rng);
    let key = BackupKey::generate(&mut rng);
    register(&vault, USER, PASSWORD, &key, &mut rng);
    for expected in 1..=3 {
        assert_eq!(
            login(&vault, USER, WRONG, &mut rng).err(),
            Some(VaultError::InvalidLogin)
        );
        assert_eq!(failed_attempts(&vault, USER), expected);
    }
    // An abandoned login (started, never finished) counts too.
    let (_login, request) = VaultClient::login(PASSWORD, &mut rng).unwrap();
    let _ = vault.login_start(USER, &request, &mut rng).unwrap();
    assert_eq!(failed_attempts(&vault, USER), 4);
    // Success resets the counter.
    assert!(login(&vault, USER, PASSWORD, &mut rng).unwrap() == key);
    assert_eq!(failed_attempts(&vault, USER), 0);
}

#[test]
fn limit_reached_destroys_the_record_for_good() {
    let mut rng = test_rng(5);
    let vault = vault_with_limit(3, &mut rng);
    let key = BackupKey::generate(&mut rng);
    register(&vault, USER, PASSWORD, &key, &mut rng);
    for _ in 0..3 {
        assert_eq!(
            login(&vault, USER, WRONG, &mut rng).err(),
            Some(VaultError::InvalidLogin)
        );
    }
    assert_eq!(failed_attempts(&vault, USER), 3);
    // The next attempt, even with the right password, destroys the record.
    assert_eq!(
        login(&vault, USER, PASSWORD, &mut rng).err(),
        Some(VaultError::Destroyed)
    );
    assert!(is_destroyed(&vault, USER));
    assert_eq!(
        login(&vault, USER, PASSWORD, &mut rng).err(),
        Some(VaultError::Destroyed)
    );
    // The tombstone refuses a new registration ...
    let (registration, request) = VaultClient::new(ksf())
        .register(PASSWORD, &mut rng)
        .unwrap();
    let response = vault
        .registration_response(USER, &request, &mut rng)
        .unwrap();
    let upload = registration.finish(&response, &key, &mut rng).unwrap();
    assert_eq!(vault.register(USER, &upload), Err(VaultError::Destroyed));
    // ... until an operator removes it.
    assert!(vault.forget(USER).unwrap());
    assert!(!vault.forget(USER).unwrap());
    let new_key = BackupKey::generate(&mut rng);
    register(&vault, USER, PASSWORD, &new_key, &mut rng);
    assert!(login(&vault, USER, PASSWORD, &mut rng).unwrap() == new_key);
}

#[test]
fn a_failing_finish_on_the_last_attempt_destroys_the_record() {
    let mut rng = test_rng(6);
    let vault = vault_with_limit(2, &mut rng);
    let key = BackupKey::generate(&mut rng);
    register(&vault, USER, PASSWORD, &key, &mut rng);
    assert_eq!(
        login(&vault, USER, WRONG, &mut rng).err(),
        Some(VaultError::InvalidLogin)
    );
    // The last attempt: the right password, but a tampered finalization.
    let (login_state, request) = VaultClient::login(PASSWORD, &mut rng).unwrap();
    let (state, response) = vault.login_start(USER, &request, &mut rng).unwrap();
    let (mut finalization, _session) = login_state.finish(&response).unwrap();
    finalization[10] ^= 1;
    assert_eq!(
        vault.login_finish(USER, state, &finalization, NOW),
        Err(VaultError::Destroyed)
    );
    assert!(is_destroyed(&vault, USER));
}

#[test]
fn a_failing_finish_before_the_last_attempt_only_counts() {
    let mut rng = test_rng(7);
    let vault = vault_with_limit(3, &mut rng);
    let key = BackupKey::generate(&mut rng);
    register(&vault, USER, PASSWORD, &key, &mut rng);
    let (login_state, request) = VaultClient::login(PASSWORD, &mut rng).unwrap();
    let (state, response) = vault.login_start(USER, &request, &mut rng).unwrap();
    let (mut finalization, _session) = login_state.finish(&response).unwrap();
    finalization[40] ^= 0x80;
    assert_eq!(
        vault.login_finish(USER, state, &finalization, NOW),
        Err(VaultError::InvalidLogin)
    );
    assert_eq!(failed_attempts(&vault, USER), 1);
    // A malformed finalization fails the same way.
    let (login_state, request) = VaultClient::login(PASSWORD, &mut rng).unwrap();
    let (state, response) = vault.login_start(USER, &request, &mut rng).unwrap();
    let _ = login_state.finish(&response).unwrap();
    assert_eq!(
        vault.login_finish(USER, state, b"\x01\x06short", NOW),
        Err(VaultError::InvalidLogin)
    );
    assert_eq!(failed_attempts(&vault, USER), 2);
    assert!(login(&vault, USER, PASSWORD, &mut rng).unwrap() == key);
}

#[test]
fn success_resets_the_counter_so_the_limit_is_per_run_of_failures() {
    let mut rng = test_rng(8);
    let vault = vault_with_limit(3, &mut rng);
    let key = BackupKey::generate(&mut rng);
    register(&vault, USER, PASSWORD, &key, &mut rng);
    for _ in 0..4 {
        for _ in 0..2 {
            assert!(login(&vault, USER, WRONG, &mut rng).is_err());
        }
        assert_eq!(failed_attempts(&vault, USER), 2);
        assert!(login(&vault, USER, PASSWORD, &mut rng).unwrap() == key);
        assert_eq!(failed_attempts(&vault, USER), 0);
    }
}

#[test]
fn unknown_user_gets_a_fake_response_and_nothing_is_stored() {
    let mut rng = test_rng(9);
    let vault = vault_with_limit(3, &mut rng);
    let key = BackupKey::generate(&mut rng);
    register(&vault, USER, PASSWORD, &key, &mut rng);
    let (login_state, request) = VaultClient::login(PASSWORD, &mut rng).unwrap();
    let (state, response) = vault.login_start(b"mallory", &request, &mut rng).unwrap();
    // Same shape as a real response, with the default Argon2id parameters.
    assert_eq!(response.len(), CREDENTIAL_RESPONSE_LEN);
    assert_eq!(
        CredentialResponse::decode(&response).unwrap().ksf_params(),
        KsfParams::default()
    );
    assert_eq!(
        login_state.finish(&response).err(),
        Some(VaultError::InvalidLogin)
    );
    assert_eq!(
        vault.login_finish(b"mallory", state, &[1, 6, 0], NOW),
        Err(VaultError::InvalidLogin)
    );
    assert!(vault.store().entry(b"mallory").unwrap().is_none());
    // The fake record is stable: the OPRF evaluation of the same blinded element is the
    // same each time (a real record's is too), so repeating a query does not tell them
    // apart. Byte 14.. is the evaluated element.
    let (_l, request) = VaultClient::login(PASSWORD, &mut rng).unwrap();
    let (_s, a) = vault.login_start(b"mallory", &request, &mut rng).unwrap();
    let (_s, b) = vault.login_start(b"mallory", &request, &mut rng).unwrap();
    assert_eq!(a[14..46], b[14..46]);
}

#[test]
fn change_password() {
    let mut rng = test_rng(10);
    let vault = vault_with_limit(10, &mut rng);
    let key = BackupKey::generate(&mut rng);
    register(&vault, USER, PASSWORD, &key, &mut rng);
    let (session, release) = login_session(&vault, USER, PASSWORD, &mut rng).unwrap();
    assert!(session.open(&release).unwrap() == key);
    let (change, request) = session
        .change_password(b"new password", ksf(), &mut rng)
        .unwrap();
    let response = vault
        .registration_response(USER, &request, &mut rng)
        .unwrap();
    let update = change.finish(&response, &key, &mut rng).unwrap();
    assert_eq!(update.len(), UPDATE_REQUEST_MAX_LEN);
    assert!(UpdateRequest::decode(&update).unwrap().changes_password());
    vault.update(USER, &update, NOW + 1000).unwrap();
    assert_eq!(
        login(&vault, USER, PASSWORD, &mut rng).err(),
        Some(VaultError::InvalidLogin)
    );
    assert!(login(&vault, USER, b"new password", &mut rng).unwrap() == key);
}

#[test]
fn change_password_and_key_at_once() {
    let mut rng = test_rng(11);
    let vault = vault_with_limit(10, &mut rng);
    let key = BackupKey::generate(&mut rng);
    register(&vault, USER, PASSWORD, &key, &mut rng);
    let (session, _) = login_session(&vault, USER, PASSWORD, &mut rng).unwrap();
    let new_key = BackupKey::generate(&mut rng);
    let (change, request) = session
        .change_password(b"new password", ksf(), &mut rng)
        .unwrap();
    let response = vault
        .registration_response(USER, &request, &mut rng)
        .unwrap();
    let update = change.finish(&response, &new_key, &mut rng).unwrap();
    vault.update(USER, &update, NOW).unwrap();
    assert!(login(&vault, USER, b"new password", &mut rng).unwrap() == new_key);
}

#[test]
fn rotate_key() {
    let mut rng = test_rng(12);
    let vault = vault_with_limit(10, &mut rng);
    let key = BackupKey::generate(&mut rng);
    register(&vault, USER, PASSWORD, &key, &mut rng);
    let (session, _) = login_session(&vault, USER, PASSWORD, &mut rng).unwrap();
    let new_key = BackupKey::generate(&mut rng);
    assert!(new_key != key);
    let update = session.rotate_key(&new_key, &mut rng).unwrap();
    assert_eq!(update.len(), UPDATE_REQUEST_MIN_LEN);
    assert!(!UpdateRequest::decode(&update).unwrap().changes_password());
    vault.update(USER, &update, NOW).unwrap();
    assert!(login(&vault, USER, PASSWORD, &mut rng).unwrap() == new_key);
}

#[test]
fn updates_need_a_fresh_login() {
    let mut rng = test_rng(13);
    let config = VaultConfig::new().with_update_lifetime_ms(60_000).unwrap();
    let vault = Vault::open(MemoryVaultStore::new(), config, &mut rng).unwrap();
    let key = BackupKey::generate(&mut rng);
    register(&vault, USER, PASSWORD, &key, &mut rng);
    let new_key = BackupKey::generate(&mut rng);

    // No login at all: a session from a login the vault never finished.
    let (login_state, request) = VaultClient::login(PASSWORD, &mut rng).unwrap();
    let (_state, response) = vault.login_start(USER, &request, &mut rng).unwrap();
    let (_finalization, unfinished) = login_state.finish(&response).unwrap();
    let update = unfinished.rotate_key(&new_key, &mut rng).unwrap();
    assert_eq!(
        vault.update(USER, &update, NOW),
        Err(VaultError::Unauthorized)
    );

    // An authorization is good once.
    let (session, _) = login_session(&vault, USER, PASSWORD, &mut rng).unwrap();
    let update = session.rotate_key(&new_key, &mut rng).unwrap();
    vault.update(USER, &update, NOW).unwrap();
    assert_eq!(
        vault.update(USER, &update, NOW),
        Err(VaultError::Unauthorized)
    );

    // It expires.
    let (session, _) = login_session(&vault, USER, PASSWORD, &mut rng).unwrap();
    let update = session.rotate_key(&key, &mut rng).unwrap();
    assert_eq!(
        vault.update(USER, &update, NOW + 60_001),
        Err(VaultError::Unauthorized)
    );

    // A tampered request is refused and uses the authorization up.
    let (session, _) = login_session(&vault, USER, PASSWORD, &mut rng).unwrap();
    let update = session.rotate_key(&key, &mut rng).unwrap();
    let mut tampered = update.clone();
    tampered[20] ^= 1;
    assert_eq!(
        vault.update(USER, &tampered, NOW),
        Err(VaultError::Unauthorized)
    );
    assert_eq!(
        vault.update(USER, &update, NOW),
        Err(VaultError::Unauthorized)
    );

    // An authorization from one user's login does not work for another user.
    let bob_key = BackupKey::generate(&mut rng);
    register(&vault, b"bob", PASSWORD, &bob_key, &mut rng);
    let (session, _) = login_session(&vault, USER, PASSWORD, &mut rng).unwrap();
    let update = session.rotate_key(&key, &mut rng).unwrap();
    assert_eq!(
        vault.update(b"bob", &update, NOW),
        Err(VaultError::Unauthorized)
    );
    assert_eq!(
        vault.update(b"nobody", &update, NOW),
        Err(VaultError::Unauthorized)
    );

    // Through all this the key stayed the rotated one.
    assert!(login(&vault, USER, PASSWORD, &mut rng).unwrap() == new_key);
    assert!(login(&vault, b"bob", PASSWORD, &mut rng).unwrap() == bob_key);
}

#[test]
fn concurrent_guesses_never_exceed_the_limit() {
    const THREADS: usize = 32;
    const GUESSES_PER_THREAD: usize = 4;
    const LIMIT: u32 = 10;
    let mut rng = test_rng(14);
    let vault = vault_with_limit(LIMIT, &mut rng);
    let key = BackupKey::generate(&mut rng);
    register(&vault, USER, PASSWORD, &key, &mut rng);
    let issued = AtomicU32::new(0);
    let destroyed = AtomicU32::new(0);
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let (vault, issued, destroyed) = (&vault, &issued, &destroyed);
            scope.spawn(move || {
                let mut rng = test_rng(1000 + t as u64);
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
                            destroyed.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(other) => panic!("unexpected {other:?}"),
                    }
                }
            });
        }
    });
    // 128 guesses: exactly LIMIT responses went out, every other guess was refused.
    assert_eq!(issued.load(Ordering::SeqCst), LIMIT);
    assert_eq!(
        destroyed.load(Ordering::SeqCst) as usize,
        THREADS * GUESSES_PER_THREAD - LIMIT as usize
    );
    assert!(is_destroyed(&vault, USER));
    assert_eq!(
        login(&vault, USER, PASSWORD, &mut rng).err(),
        Some(VaultError::Destroyed)
    );
}

#[test]
fn vaults_sharing_a_store_share_the_setup_and_the_counter() {
    let mut rng = test_rng(15);
    let store = Arc::new(MemoryVaultStore::new());
    let config = VaultConfig::new().with_attempt_limit(5).unwrap();
    let first = Vault::open(Arc::clone(&store), config, &mut rng).unwrap();
    let key = BackupKey::generate(&mut rng);
    register(&first, USER, PASSWORD, &key, &mut rng);
    assert!(login(&first, USER, WRONG, &mut rng).is_err());
    let second = Vault::open(Arc::clone(&store), config, &mut rng).unwrap();
    assert_eq!(failed_attempts(&second, USER), 1);
    assert!(login(&second, USER, PASSWORD, &mut rng).unwrap() == key);
}

#[test]
fn dumped_records_hold_neither_the_password_nor_the_key() {
    // A cheap sanity check only. The real argument is OPAQUE's: testing a guess against
    // a record needs the OPRF key, which derives from the server setup, not the record
    // (docs/wire/vault.md, "Security notes").
    let mut rng = test_rng(16);
    let vault = vault_with_limit(10, &mut rng);
    let key = BackupKey::generate(&mut rng);
    register(&vault, USER, PASSWORD, &key, &mut rng);
    let (session, release) = login_session(&vault, USER, PASSWORD, &mut rng).unwrap();
    assert!(session.open(&release).unwrap() == key);
    let key_bytes = key.to_bytes();
    let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    let dump = vault.store().dump().unwrap();
    assert_eq!(dump.len(), 1);
    for entry in &dump {
        assert!(!contains(entry, PASSWORD));
        assert!(!contains(entry, &key_bytes[..]));
        assert!(!contains(entry, &key_bytes[..8]));
    }
    assert!(!contains(&release, &key_bytes[..8]));
    // The setup does not hold them either, of course.
    let setup = vault.store().server_setup().unwrap().unwrap();
    assert!(!contains(&setup, &key_bytes[..8]));
    // A stolen record with a different vault setup (the attacker's guess at the secret)
    // does not even answer the right password.
    let thief = Vault::open(MemoryVaultStore::new(), VaultConfig::default(), &mut rng).unwrap();
    let stolen = vault.store().entry(USER).unwrap().unwrap();
    thief
        .store()
        .transact(USER, |_| (hush_backup::vault::EntryChange::Put(stolen), ()))
        .unwrap();
    assert_eq!(
        login(&thief, USER, PASSWORD, &mut rng).err(),
        Some(VaultError::InvalidLogin)
    );
}

#[test]
fn message_lengths_match_the_opaque_sizes() {
    // Sizes from draft-irtf-cfrg-opaque for ristretto255 / SHA-512: Noe = Npk = Nsk = 32,
    // Nh = Nm = 64, Nn = 32; envelope = Nn + Nm; masked response = Npk + Nn + Nm;
    // KE1 = Nn + Npk; KE2 = Nn + Npk + Nm; KE3 = Nm. Our header is 2 bytes, the credential
    // nonce 32, Argon2id parameters 12, the wrapped key 12 + 32 + 16.
    let (noe, npk, nh, nn, nm) = (32, 32, 64, 32, 64);
    let envelope = nn + nm;
    let upload = npk + nh + envelope;
    let wrapped = 12 + 32 + 16;
    assert_eq!(REGISTRATION_REQUEST_LEN, 2 + noe);
    assert_eq!(REGISTRATION_RESPONSE_LEN, 2 + 32 + noe + npk);
    assert_eq!(REGISTRATION_UPLOAD_LEN, 2 + 32 + 12 + upload + wrapped);
    assert_eq!(CREDENTIAL_REQUEST_LEN, 2 + noe + nn + npk);
    assert_eq!(
        CREDENTIAL_RESPONSE_LEN,
        2 + 12 + noe + nn + (npk + nn + nm) + (nn + npk + nm)
    );
    assert_eq!(CREDENTIAL_FINALIZATION_LEN, 2 + nm);
    assert_eq!(RELEASE_LEN, 2 + wrapped + 16);
    assert_eq!(UPDATE_REQUEST_MIN_LEN, 2 + 1 + wrapped + 32);
    assert_eq!(
        UPDATE_REQUEST_MAX_LEN,
        2 + 1 + 32 + 12 + upload + wrapped + 32
    );

    // And the messages really have those lengths.
    let mut rng = test_rng(17);
    let vault = vault_with_limit(10, &mut rng);
    let key = BackupKey::generate(&mut rng);
    let (registration, request) = VaultClient::new(ksf())
        .register(PASSWORD, &mut rng)
        .unwrap();
    assert_eq!(request.len(), REGISTRATION_REQUEST_LEN);
    let response = vault
        .registration_response(USER, &request, &mut rng)
        .unwrap();
    assert_eq!(response.len(), REGISTRATION_RESPONSE_LEN);
    let upload = registration.finish(&response, &key, &mut rng).unwrap();
    assert_eq!(upload.len(), REGISTRATION_UPLOAD_LEN);
    vault.register(USER, &upload).unwrap();
    let (login_state, request) = VaultClient::login(PASSWORD, &mut rng).unwrap();
    assert_eq!(request.len(), CREDENTIAL_REQUEST_LEN);
    let (state, response) = vault.login_start(USER, &request, &mut rng).unwrap();
    assert_eq!(response.len(), CREDENTIAL_RESPONSE_LEN);
    let (finalization, _session) = login_state.finish(&response).unwrap();
    assert_eq!(finalization.len(), CREDENTIAL_FINALIZATION_LEN);
    let release = vault.login_finish(USER, state, &finalization, NOW).unwrap();
    assert_eq!(release.len(), RELEASE_LEN);
    // Header bytes: version 1 then the type, 1 to 8 in protocol order.
    for (i, message) in [&request, &response, &finalization, &release]
        .iter()
        .enumerate()
    {
        assert_eq!(message[0], 1);
        assert_eq!(message[1], [4u8, 5, 6, 7][i]);
    }
}

/// Every message decoder, fed every truncation, an extension, a wrong version, a wrong
/// type and every single-byte flip of a valid message: only typed errors, and whatever
/// decodes re-encodes to the same bytes.
#[test]
fn decoders_give_typed_errors_on_hostile_input() {
    let mut rng = test_rng(18);
    let vault = vault_with_limit(1000, &mut rng);
    let key = BackupKey::generate(&mut rng);
    let (registration, reg_request) = VaultClient::new(ksf())
        .register(PASSWORD, &mut rng)
        .unwrap();
    let reg_response = vault
        .registration_response(USER, &reg_request, &mut rng)
        .unwrap();
    let upload = registration.finish(&reg_response, &key, &mut rng).unwrap();
    vault.register(USER, &upload).unwrap();
    let (login_state, cred_request) = VaultClient::login(PASSWORD, &mut rng).unwrap();
    let (state, cred_response) = vault.login_start(USER, &cred_request, &mut rng).unwrap();
    let (finalization, session) = login_state.finish(&cred_response).unwrap();
    let release = vault.login_finish(USER, state, &finalization, NOW).unwrap();
    let update = session.rotate_key(&key, &mut rng).unwrap();

    type Decode = fn(&[u8]) -> Result<Vec<u8>, VaultError>;
    let cases: [(&str, &[u8], Decode); 8] = [
        ("registration request", &reg_request, |b| {
            RegistrationRequest::decode(b).map(|m| m.encode())
        }),
        ("registration response", &reg_response, |b| {
            RegistrationResponse::decode(b).map(|m| m.encode())
        }),
        ("registration upload", &upload, |b| {
            RegistrationUpload::decode(b).map(|m| m.encode())
        }),
        ("credential request", &cred_request, |b| {
            CredentialRequest::decode(b).map(|m| m.encode())
        }),
        ("credential response", &cred_response, |b| {
            CredentialResponse::decode(b).map(|m| m.encode())
        }),
        ("credential finalization", &finalization, |b| {
            CredentialFinalization::decode(b).map(|m| m.encode())
        }),
        ("release", &release, |b| {
            Release::decode(b).map(|m| m.encode())
        }),
        ("update request", &update, |b| {
            UpdateRequest::decode(b).map(|m| m.encode())
        }),
    ];
    for (name, valid, decode) in cases {
        assert_eq!(decode(valid).unwrap(), valid, "{name} round trip");
        let len = valid.len();
        for cut in 0..len {
            let err = decode(&valid[..cut]).unwrap_err();
            if cut == 0 || cut >= 2 {
                assert!(
                    matches!(err, VaultError::Length { found, .. } if found == cut),
                    "{name} cut at {cut}: {err:?}"
                );
            }
        }
        let mut longer = valid.to_vec();
        longer.push(0);
        assert!(
            matches!(decode(&longer), Err(VaultError::Length { .. })),
            "{name} + 1 byte"
        );
        let mut bad_version = valid.to_vec();
        bad_version[0] = 2;
        assert_eq!(
            decode(&bad_version),
            Err(VaultError::UnknownVersion(2)),
            "{name}"
        );
        let mut bad_type = valid.to_vec();
        bad_type[1] = 0x7f;
        assert_eq!(
            decode(&bad_type),
            Err(VaultError::UnexpectedType {
                expected: valid[1],
                found: 0x7f
            }),
            "{name}"
        );
        for i in 2..len {
            for bit in [0x01u8, 0x80] {
                let mut flipped = valid.to_vec();
                flipped[i] ^= bit;
                if let Ok(again) = decode(&flipped) {
                    assert_eq!(
                        again, flipped,
                        "{name} byte {i}: decodes but does not re-encode"
                    );
                }
            }
        }
    }
    // Sending one message to the wrong decoder is a type error.
    assert_eq!(
        CredentialRequest::decode(&reg_request).unwrap_err(),
        VaultError::UnexpectedType {
            expected: 4,
            found: 1
        }
    );
}

#[test]
fn tampered_messages_fail_at_the_protocol_level() {
    let mut rng = test_rng(19);
    let vault = vault_with_limit(1000, &mut rng);
    let key = BackupKey::generate(&mut rng);
    register(&vault, USER, PASSWORD, &key, &mut rng);

    // A credential response with any byte of its OPAQUE part flipped: the client refuses
    // (InvalidLogin, or Malformed when the flip breaks a group element).
    for i in [14usize, 40, 50, 100, 200, 300, 333] {
        // Each attempt needs its own client state (finish consumes it).
        let (login_state, request) = VaultClient::login(PASSWORD, &mut rng).unwrap();
        let (_state, mut response) = vault.login_start(USER, &request, &mut rng).unwrap();
        response[i] ^= 0x04;
        let err = login_state.finish(&response).unwrap_err();
        assert!(
            matches!(err, VaultError::InvalidLogin | VaultError::Malformed(_)),
            "byte {i}: {err:?}"
        );
    }

    // A release with a flipped byte does not open; neither does another login's release.
    let (session, release) = login_session(&vault, USER, PASSWORD, &mut rng).unwrap();
    for i in 2..release.len() {
        let mut bad = release.clone();
        bad[i] ^= 1;
        assert_eq!(
            session.open(&bad).err(),
            Some(VaultError::Decryption),
            "byte {i}"
        );
    }
    let (other_session, other_release) = login_session(&vault, USER, PASSWORD, &mut rng).unwrap();
    assert_eq!(
        session.open(&other_release).err(),
        Some(VaultError::Decryption)
    );
    assert!(other_session.open(&other_release).unwrap() == key);

    // A registration response with a flipped OPAQUE byte: the client either refuses it
    // or produces a record that never logs in; the vault never panics.
    let (registration, request) = VaultClient::new(ksf())
        .register(PASSWORD, &mut rng)
        .unwrap();
    let mut response = vault
        .registration_response(b"carol", &request, &mut rng)
        .unwrap();
    response[40] ^= 1;
    match registration.finish(&response, &key, &mut rng) {
        Err(e) => assert!(matches!(e, VaultError::Malformed(_)), "{e:?}"),
        Ok(upload) => {
            vault.register(b"carol", &upload).unwrap();
            assert!(login(&vault, b"carol", PASSWORD, &mut rng).is_err());
        }
    }

    // User ids are bounded.
    assert_eq!(
        vault.login_start(&[], &request, &mut rng).err(),
        Some(VaultError::UserIdLength(0))
    );
    assert_eq!(
        vault
            .registration_response(&[7u8; 257], &request, &mut rng)
            .err(),
        Some(VaultError::UserIdLength(257))
    );
    assert!(
        vault
            .registration_response(&[7u8; 256], &request, &mut rng)
            .is_ok()
    );
}

#[test]
fn stored_values_round_trip_and_reject_garbage() {
    let mut rng = test_rng(20);
    let vault = vault_with_limit(10, &mut rng);
    let key = BackupKey::generate(&mut rng);
    register(&vault, USER, PASSWORD, &key, &mut rng);
    let _ = login_session(&vault, USER, PASSWORD, &mut rng).unwrap();
    let entry = vault.store().entry(USER).unwrap().unwrap();
    let bytes = entry.encode();
    let again = VaultEntry::decode(&bytes).unwrap();
    assert_eq!(again.encode(), bytes);
    assert_eq!(
        VaultEntry::decode(&[1, 0x21]).unwrap().encode().as_slice(),
        &[1, 0x21]
    );
    assert_eq!(
        VaultEntry::decode(&[2, 0x21]).unwrap_err(),
        VaultError::UnknownVersion(2)
    );
    assert!(VaultEntry::decode(&[]).is_err());
    assert!(VaultEntry::decode(&[1, 0x22]).is_err());
    assert!(VaultEntry::decode(&bytes[..bytes.len() - 1]).is_err());

    let setup = vault.store().server_setup().unwrap().unwrap();
    let decoded = VaultServerSetup::from_bytes(&setup).unwrap();
    assert_eq!(decoded.to_bytes(), setup);
    assert!(VaultServerSetup::from_bytes(&setup[..100]).is_err());
    assert_eq!(
        VaultServerSetup::from_bytes(&[9]).unwrap_err(),
        VaultError::UnknownVersion(9)
    );

    let (_l, request) = VaultClient::login(PASSWORD, &mut rng).unwrap();
    let (state, _) = vault.login_start(USER, &request, &mut rng).unwrap();
    let state_bytes = state.to_bytes();
    assert_eq!(
        VaultLoginState::from_bytes(&state_bytes)
            .unwrap()
            .to_bytes(),
        state_bytes
    );
    assert!(VaultLoginState::from_bytes(&state_bytes[..50]).is_err());
}

#[test]
fn debug_output_shows_no_secrets() {
    let mut rng = test_rng(21);
    let vault = vault_with_limit(10, &mut rng);
    let key = BackupKey::generate(&mut rng);
    let (registration, request) = VaultClient::new(ksf())
        .register(PASSWORD, &mut rng)
        .unwrap();
    assert_eq!(
        format!("{registration:?}"),
        "ClientRegistration { ksf: KsfParams { memory_kib: 8, iterations: 1, parallelism: 1 }, .. }"
    );
    let response = vault
        .registration_response(USER, &request, &mut rng)
        .unwrap();
    let upload = registration.finish(&response, &key, &mut rng).unwrap();
    assert_eq!(
        format!("{:?}", RegistrationUpload::decode(&upload).unwrap()),
        "RegistrationUpload { ksf: KsfParams { memory_kib: 8, iterations: 1, parallelism: 1 }, .. }"
    );
    vault.register(USER, &upload).unwrap();
    let (login_state, request) = VaultClient::login(PASSWORD, &mut rng).unwrap();
    assert_eq!(format!("{login_state:?}"), "ClientLogin { .. }");
    let (state, response) = vault.login_start(USER, &request, &mut rng).unwrap();
    assert_eq!(format!("{state:?}"), "VaultLoginState { .. }");
    let (finalization, session) = login_state.finish(&response).unwrap();
    assert_eq!(format!("{session:?}"), "VaultSession { .. }");
    let release = vault.login_finish(USER, state, &finalization, NOW).unwrap();
    let _ = session.open(&release).unwrap();
    let setup =
        VaultServerSetup::from_bytes(&vault.store().server_setup().unwrap().unwrap()).unwrap();
    assert_eq!(format!("{setup:?}"), "VaultServerSetup { .. }");
    let entry = vault.store().entry(USER).unwrap().unwrap();
    assert_eq!(
        format!("{entry:?}"),
        "Active(VaultRecord { ksf: KsfParams { memory_kib: 8, iterations: 1, parallelism: 1 }, \
         failed_attempts: 0, has_update_authorization: true, .. })"
    );
    let update = session.rotate_key(&key, &mut rng).unwrap();
    assert_eq!(
        format!("{:?}", UpdateRequest::decode(&update).unwrap()),
        "UpdateRequest { changes_password: false, .. }"
    );
    assert_eq!(format!("{:?}", VaultError::Destroyed), "Destroyed");
    assert_eq!(
        hush_backup::Error::from(VaultError::InvalidLogin).to_string(),
        "vault: login failed"
    );
}

#[test]
fn config_bounds() {
    assert_eq!(VaultConfig::default().attempt_limit(), 10);
    assert_eq!(
        VaultConfig::new().with_attempt_limit(0),
        Err(VaultError::Config("attempt limit"))
    );
    assert_eq!(
        VaultConfig::new().with_attempt_limit(1001),
        Err(VaultError::Config("attempt limit"))
    );
    assert_eq!(
        VaultConfig::new().with_update_lifetime_ms(0),
        Err(VaultError::Config("update lifetime"))
    );
}

/// Writes one valid instance of every vault message and stored value to
/// `fuzz/corpus/vault_messages/` as seeds:
/// `cargo test -p hush-backup --features vault --test vault -- --ignored write_fuzz_seeds`.
#[test]
#[ignore = "writes the fuzz seed corpus"]
fn write_fuzz_seeds() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/vault_messages");
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = test_rng(99);
    let vault = vault_with_limit(10, &mut rng);
    let key = BackupKey::generate(&mut rng);
    let (registration, reg_request) = VaultClient::new(ksf())
        .register(PASSWORD, &mut rng)
        .unwrap();
    let reg_response = vault
        .registration_response(USER, &reg_request, &mut rng)
        .unwrap();
    let upload = registration.finish(&reg_response, &key, &mut rng).unwrap();
    vault.register(USER, &upload).unwrap();
    let (login_state, cred_request) = VaultClient::login(PASSWORD, &mut rng).unwrap();
    let (state, cred_response) = vault.login_start(USER, &cred_request, &mut rng).unwrap();
    let state_bytes = state.to_bytes();
    let (finalization, session) = login_state.finish(&cred_response).unwrap();
    let release = vault.login_finish(USER, state, &finalization, NOW).unwrap();
    let entry = vault.store().entry(USER).unwrap().unwrap().encode();
    let (change, request) = session.change_password(WRONG, ksf(), &mut rng).unwrap();
    let response = vault
        .registration_response(USER, &request, &mut rng)
        .unwrap();
    let update = change.finish(&response, &key, &mut rng).unwrap();
    let (session, _) = login_session(&vault, USER, PASSWORD, &mut rng).unwrap();
    let rotate = session.rotate_key(&key, &mut rng).unwrap();
    let setup = vault.store().server_setup().unwrap().unwrap();
    let seeds: [(&str, &[u8]); 13] = [
        ("registration_request", &reg_request),
        ("registration_response", &reg_response),
        ("registration_upload", &upload),
        ("credential_request", &cred_request),
        ("credential_response", &cred_response),
        ("credential_finalization", &finalization),
        ("release", &release),
        ("update_password", &update),
        ("update_key", &rotate),
        ("entry_active", &entry),
        ("entry_destroyed", &[1, 0x21]),
        ("server_setup", &setup),
        ("login_state", &state_bytes),
    ];
    for (name, bytes) in seeds {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

/// Issue 16, item 16: a hostile (or compromised) vault chooses the Argon2id parameters a
/// client runs at login. Parameters over what a phone can afford per attempt (256 MiB of
/// memory, 512 MiB x passes of work) are refused when the credential response is decoded
/// and by `finish`, before the client does any Argon2 work; the 1 GiB x 100
/// passes x 16 lanes among them.
#[test]
fn a_vault_cannot_make_the_client_stretch_beyond_what_a_phone_can_afford() {
    let mut rng = test_rng(16);
    // Each login_start counts as an attempt until finished; leave room for the cases.
    let vault = vault_with_limit(10, &mut rng);
    let key = BackupKey::generate(&mut rng);
    register(&vault, USER, PASSWORD, &key, &mut rng);
    let cases = [
        (1024 * 1024, 100, 16, "memory"),
        (256 * 1024, 100, 1, "work (memory x iterations)"),
        (64 * 1024, 9, 1, "work (memory x iterations)"),
        (8, 101, 1, "iterations"),
    ];
    for (memory, iterations, parallelism, what) in cases {
        let (login, request) = VaultClient::login(PASSWORD, &mut rng).unwrap();
        let (_state, response) = vault.login_start(USER, &request, &mut rng).unwrap();
        // Bytes 2..14 are the record's Argon2id parameters (three u32 BE).
        let mut hostile = response.clone();
        hostile[2..6].copy_from_slice(&u32::to_be_bytes(memory));
        hostile[6..10].copy_from_slice(&u32::to_be_bytes(iterations));
        hostile[10..14].copy_from_slice(&u32::to_be_bytes(parallelism));
        assert_eq!(
            CredentialResponse::decode(&hostile).err(),
            Some(VaultError::KsfParams(what)),
            "{memory} KiB x {iterations} x {parallelism} lanes"
        );
        assert_eq!(
            login.finish(&hostile).err(),
            Some(VaultError::KsfParams(what))
        );
    }
    // The cap itself is accepted, as are RFC 9106's memory-constrained recommendation
    // and the default.
    for params in [
        KsfParams::new(256 * 1024, 2, 4),
        KsfParams::new(64 * 1024, 3, 4),
    ] {
        assert!(params.is_ok());
    }
    assert!(KsfParams::new(256 * 1024 + 1, 1, 1).is_err());
    assert_eq!(
        KsfParams::new(256 * 1024, 3, 1),
        Err(VaultError::KsfParams("work (memory x iterations)"))
    );
}
