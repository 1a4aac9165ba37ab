//! `hush-backup`'s password vault: full registration and login round trips (client and
//! vault in one process, in-memory store) with the default Argon2id cost (19 MiB, 2
//! passes, 1 lane), and the vault's own share (no Argon2id: that runs on the client).
//! Results are in `docs/PERFORMANCE.md` ("Vault").
//!
//! ```text
//! cargo bench -p hush-benches --bench vault -- --warm-up-time 1 --measurement-time 5
//! ```

#![allow(
    clippy::unwrap_used,
    reason = "bench set-up: inputs are made valid here, a failure should stop the run"
)]

use criterion::{Criterion, criterion_group, criterion_main};
use hush_backup::BackupKey;
use hush_backup::vault::{MemoryVaultStore, Vault, VaultClient, VaultConfig};
use hush_test_support::test_rng;

const NOW_MS: u64 = 1_700_000_000_000;
const PASSWORD: &[u8] = b"correct horse battery staple";

fn vault(c: &mut Criterion) {
    let mut rng = test_rng(1);
    let config = VaultConfig::new().with_attempt_limit(1000).unwrap();
    let vault = Vault::open(MemoryVaultStore::new(), config, &mut rng).unwrap();
    let client = VaultClient::default();
    let key = BackupKey::generate(&mut rng);
    let mut user = 0u64;

    let mut group = c.benchmark_group("vault");
    group.sample_size(10);
    group.bench_function("registration round trip (default Argon2id)", |b| {
        b.iter(|| {
            user += 1;
            let id = user.to_be_bytes();
            let (registration, request) = client.register(PASSWORD, &mut rng).unwrap();
            let response = vault
                .registration_response(&id, &request, &mut rng)
                .unwrap();
            let upload = registration.finish(&response, &key, &mut rng).unwrap();
            vault.register(&id, &upload).unwrap();
        });
    });

    let id = b"alice";
    let (registration, request) = client.register(PASSWORD, &mut rng).unwrap();
    let response = vault.registration_response(id, &request, &mut rng).unwrap();
    let upload = registration.finish(&response, &key, &mut rng).unwrap();
    vault.register(id, &upload).unwrap();

    group.bench_function("login round trip (default Argon2id)", |b| {
        b.iter(|| {
            let (login, request) = VaultClient::login(PASSWORD, &mut rng).unwrap();
            let (state, response) = vault.login_start(id, &request, &mut rng).unwrap();
            let (finalization, session) = login.finish(&response).unwrap();
            let release = vault
                .login_finish(id, state, &finalization, NOW_MS)
                .unwrap();
            session.open(&release).unwrap()
        });
    });

    // The vault's work alone (Argon2id runs on the client). login_start for a user id
    // with no record does the same OPRF evaluation and key exchange as for a real one
    // (over a fake record) and counts nothing, so it can run any number of times.
    group.sample_size(50);
    let (_login, request) = VaultClient::login(PASSWORD, &mut rng).unwrap();
    group.bench_function("vault login_start", |b| {
        b.iter(|| vault.login_start(b"nobody", &request, &mut rng).unwrap());
    });
    let (_registration, request) = client.register(PASSWORD, &mut rng).unwrap();
    group.bench_function("vault registration_response", |b| {
        b.iter(|| vault.registration_response(id, &request, &mut rng).unwrap());
    });
    group.finish();
}

criterion_group!(benches, vault);
criterion_main!(benches);
