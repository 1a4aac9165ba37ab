//! Backing up message history and restoring it on a new phone.
//!
//! Alice's app keeps its message history in its own format; hush encrypts those bytes
//! into a `hush-backup` stream under a [`BackupKey`] that the person keeps as a
//! 64-character recovery code. On a new phone she types the code, the backup is
//! decrypted and authenticated in full, and only then is her account re-created.
//!
//! A backup holds history only, never keys: the restored account has a **new** identity
//! (and account) key, so her contacts see a key change and accept it, as after a
//! reinstall. `hush::backup`'s module docs explain why.
//!
//! Run it with `cargo run -p hush --example backup_restore`.

use hush::backup::{BackupKey, RecoveryCode};
use hush::store::MemoryStore;
use hush::{Device, Error};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const NOW: u64 = 1_700_000_000_000;
const LATER: u64 = NOW + 30 * 24 * 60 * 60 * 1000;

fn main() -> Result<()> {
    let mut rng = hush_core::rng::os_rng();
    let alice = Device::create_account(MemoryStore::new(), "alice", NOW, &mut rng)?;
    let bob = Device::create_account(MemoryStore::new(), "bob", NOW, &mut rng)?;
    bob.accept_device_list("alice", &alice.own_device_list()?, NOW)?;

    // The app's history: any bytes (here about 120 KB of text lines: two chunks).
    let history: Vec<u8> = (0..3_000)
        .flat_map(|i| format!("{i:05} alice -> bob: message number {i}\n").into_bytes())
        .collect();

    // Backup key, made once; the person writes down its recovery code. The code is a
    // secret: show it on screen, never log it.
    let key = BackupKey::generate(&mut rng);
    let code = key.recovery_code();
    let written_down: String = code.to_grouped_string().to_string();

    let mut backup = Vec::new();
    let mut updates = 0;
    let summary = alice.back_up_history(&key, history.as_slice(), &mut backup, &mut rng, |_| {
        updates += 1;
    })?;
    assert_eq!(summary.plaintext_bytes, u64::try_from(history.len())?);
    println!(
        "backed up {} bytes in {} chunks ({} bytes encrypted, {updates} progress updates), backup id {}",
        summary.plaintext_bytes,
        summary.chunks,
        backup.len(),
        summary.backup_id
    );

    // ---- a month later, on a new phone ----

    // The person types the code (grouping and case do not matter to the parser).
    let typed = RecoveryCode::parse(&written_down)?;
    let key_again = BackupKey::from_recovery_code(&typed);
    assert_eq!(key_again.id(), summary.backup_id);

    // A wrong code is refused before any plaintext comes out.
    let mut out = Vec::new();
    let wrong = hush::backup::restore(
        "alice",
        &BackupKey::generate(&mut rng),
        backup.as_slice(),
        &mut out,
        |_| {},
    );
    assert!(matches!(
        wrong,
        Err(Error::Backup(hush_backup::Error::WrongKey))
    ));
    // A backup is bound to its user id: it does not restore as another account's.
    let other = hush::backup::restore("mallory", &key_again, backup.as_slice(), &mut out, |_| {});
    assert!(matches!(
        other,
        Err(Error::Backup(hush_backup::Error::HeaderAuthentication))
    ));
    assert!(out.is_empty());
    println!("a wrong key and a wrong user id are both refused, nothing written");

    let mut restored = Vec::new();
    let (new_phone, summary) = Device::restore_account(
        MemoryStore::new(),
        "alice",
        &key_again,
        backup.as_slice(),
        &mut restored,
        LATER,
        &mut rng,
        |_| {},
    )?;
    assert_eq!(restored, history);
    assert_eq!(summary.plaintext_bytes, u64::try_from(history.len())?);
    assert_ne!(new_phone.identity_key(), alice.identity_key());
    println!(
        "restored {} bytes of history on {}, with a new identity key",
        restored.len(),
        new_phone.address()
    );

    // Bob's app sees Alice's account key change and asks Bob; once he agrees:
    let new_list = new_phone.own_device_list()?;
    let changed = bob.accept_device_list("alice", &new_list, LATER);
    assert!(matches!(
        changed,
        Err(Error::Device(hush_device::Error::IdentityChanged))
    ));
    let devices = bob.accept_changed_device_list("alice", &new_list, LATER)?;
    assert_eq!(devices, [new_phone.address().clone()]);
    println!("bob accepted alice's new account key after being told it changed");
    Ok(())
}
