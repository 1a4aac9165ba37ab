//! The server side: validating prekey uploads, handing out bundles, and keeping device
//! lists.
//!
//! - A good upload is stored; a tampered one (two signatures swapped for others) is
//!   refused with every problem listed, and nothing of it is stored.
//! - Bundles are handed out one at a time, each consuming one one-time prekey of each
//!   kind, falling back to the last-resort KEM prekey when the one-time ones run out.
//! - A client tops its one-time prekeys up when the server's counts run low.
//! - Device-list uploads are accepted only when signed by the registered account key
//!   and not older than the stored list: a rollback is refused.
//! - A companion the account removes is pruned from the prekey directory and the
//!   mailbox once the new list is accepted.
//!
//! Run it with `cargo run -p hush --example server_uploads`.

use hush::server::{DeviceLists, Mailbox, PreKeyDirectory, Registration};
use hush::store::MemoryStore;
use hush::{Device, DeviceEntry, Error, GenerateRequest, RotationPolicy};
use hush_core::IdentityKeyPair;
use hush_prekey::{KemPreKey, PreKeyBundle, PreKeyUpload, SignedPreKey, UploadError, UploadPolicy};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const NOW: u64 = 1_700_000_000_000;

fn main() -> Result<()> {
    let mut rng = hush_core::rng::os_rng();
    let directory = PreKeyDirectory::new();
    let device_lists = DeviceLists::new();

    // Bob's phone registers (the server's authentication layer vouches for the key).
    let bob = Device::create_account(MemoryStore::new(), "bob", NOW, &mut rng)?;
    let registered =
        directory.register_device(bob.address(), bob.registration_id(), bob.identity_key())?;
    assert_eq!(registered, Registration::New);

    // ---- prekey uploads ----

    let mut request = GenerateRequest::default();
    request.one_time_prekeys = 2;
    request.kem_prekeys = 2;
    let good = bob.generate_prekeys(&request, NOW, &mut rng)?;

    // A tampered copy: the signed prekey carries a KEM prekey's signature, and the
    // second KEM prekey the first one's.
    let decoded = PreKeyUpload::decode(&good, &UploadPolicy::default())?;
    let signed = decoded.signed_prekey().ok_or("no signed prekey")?;
    let [kem0, kem1] = decoded.kem_prekeys() else {
        return Err("expected two KEM prekeys".into());
    };
    let tampered = PreKeyUpload::new(
        *decoded.identity_key(),
        Some(SignedPreKey::new(
            signed.id(),
            signed.timestamp_ms(),
            *signed.public_key(),
            *kem1.signature(),
        )?),
        decoded.one_time_prekeys().to_vec(),
        vec![
            kem0.clone(),
            KemPreKey::new(
                kem1.id(),
                kem1.timestamp_ms(),
                kem1.public_key().clone(),
                *kem0.signature(),
            )?,
        ],
        decoded.last_resort_kem_prekey().cloned(),
    )
    .encode();

    let refused = directory.upload(bob.address(), &bob.identity_key(), &tampered, NOW, &mut rng);
    let Err(Error::Upload(UploadError::Rejected { problems })) = refused else {
        return Err(format!("the tampered upload was not rejected: {refused:?}").into());
    };
    println!("tampered upload refused, {} problems:", problems.len());
    for problem in &problems {
        // `Problem` displays for people; `kind.code()` / `issue.code()` are stable
        // strings for the error a server returns to the client.
        println!(
            "  {problem}  [{} / {}]",
            problem.kind.code(),
            problem.issue.code()
        );
    }
    assert_eq!(problems.len(), 2);
    assert_eq!(directory.counts(bob.address())?.one_time_prekeys, 0);

    let summary = directory.upload(bob.address(), &bob.identity_key(), &good, NOW, &mut rng)?;
    assert_eq!(summary.counts.one_time_prekeys, 2);
    assert_eq!(summary.counts.kem_prekeys, 2);
    println!(
        "good upload stored: {} one-time EC and {} one-time KEM prekeys",
        summary.counts.one_time_prekeys, summary.counts.kem_prekeys
    );

    // ---- bundles ----

    for round in 1..=3 {
        let handout = directory.take_bundle(bob.address())?;
        // Clients verify every bundle themselves; the server checked it on upload.
        let bundle = PreKeyBundle::decode(&handout.bundle)?;
        bundle.verify_signatures()?;
        println!(
            "bundle {round}: one-time prekey {}, last-resort KEM prekey {}; {} one-time left",
            handout.used_one_time_prekey, handout.used_last_resort, handout.counts.one_time_prekeys
        );
        assert_eq!(handout.used_one_time_prekey, round <= 2);
        assert_eq!(handout.used_last_resort, round > 2);
    }

    // ---- topping up ----

    // Bob's app asks the server how many one-time prekeys are left and lets the rotation
    // policy decide: below the low-water mark, it makes a new batch (and a new signed
    // prekey when the current one is old).
    let left = directory.counts(bob.address())?;
    let server_counts = hush::PreKeyCounts {
        one_time: u32::try_from(left.one_time_prekeys)?,
        kem: u32::try_from(left.kem_prekeys)?,
    };
    let policy = RotationPolicy::default();
    let upload = bob
        .rotate_prekeys(&policy, server_counts, NOW, &mut rng)?
        .ok_or("nothing to upload")?;
    let summary = directory.upload(bob.address(), &bob.identity_key(), &upload, NOW, &mut rng)?;
    assert_eq!(summary.signed_prekey_id, None); // the signed prekey is not due yet
    assert_eq!(
        summary.counts.one_time_prekeys,
        usize::try_from(policy.one_time_target)?
    );
    println!(
        "top-up: {} one-time EC and {} one-time KEM prekeys",
        summary.counts.one_time_prekeys, summary.counts.kem_prekeys
    );
    let nothing = bob.rotate_prekeys(
        &policy,
        hush::PreKeyCounts {
            one_time: u32::try_from(summary.counts.one_time_prekeys)?,
            kem: u32::try_from(summary.counts.kem_prekeys)?,
        },
        NOW,
        &mut rng,
    )?;
    assert!(nothing.is_none());

    // ---- device lists ----

    device_lists.register_account("bob", *bob.account_key())?;
    let v1 = bob.own_device_list()?;
    assert_eq!(device_lists.upload("bob", &v1)?.version(), 1);

    // Bob links a tablet: the primary signs version 2, which replaces version 1.
    // (Linking gives the primary this entry; here the tablet's key is at hand: it
    // consents to be bob.2 with its membership signature.)
    let tablet = IdentityKeyPair::generate(&mut rng);
    let entry = DeviceEntry {
        device_id: 2,
        identity_key: tablet.identity_key(),
        key_index: 1,
        added_at_ms: NOW,
        membership_signature: hush_device::sign_membership(
            &tablet,
            bob.account_key(),
            b"bob",
            2,
            &mut rng,
        )?,
    };
    let v2 = bob.add_companion(entry, NOW, &mut rng)?;
    let verified = device_lists.upload("bob", &v2)?;
    assert_eq!(verified.version(), 2);
    println!(
        "device list version 2 stored ({} devices)",
        verified.devices_to_send(NOW).len()
    );

    // A stale replica (or an attacker) tries to put version 1 back.
    let rollback = device_lists.upload("bob", &v1);
    let Err(Error::Device(hush_device::Error::Rollback { seen, received })) = rollback else {
        return Err(format!("the rollback was not refused: {rollback:?}").into());
    };
    assert_eq!((seen, received), (2, 1));
    assert_eq!(device_lists.fetch("bob").as_deref(), Some(v2.as_slice()));
    println!("rollback to version {received} refused (version {seen} seen)");

    // A list signed by another key than the registered account key is refused too.
    let mallory = Device::create_account(MemoryStore::new(), "bob", NOW, &mut rng)?;
    let forged = device_lists.upload("bob", &mallory.own_device_list()?);
    assert!(matches!(
        forged,
        Err(Error::Device(hush_device::Error::IdentityChanged))
    ));
    println!("a list signed by another account key refused");

    // A day later Bob's phone, the primary, signs its unchanged list again ("last seen"),
    // as its periodic work does: contacts stop writing to companions of a list older than
    // 14 days. The server takes the new version.
    let later = NOW + hush::limits::DEVICE_LIST_REFRESH_MS;
    assert!(bob.refresh_device_list(NOW + 1, &mut rng)?.is_none());
    if let Some(list) = bob.refresh_device_list(later, &mut rng)? {
        let version = device_lists.upload("bob", &list)?.version();
        println!("device list refreshed a day later: version {version}");
        assert_eq!(version, 3);
    }

    // ---- a companion leaves ----

    // The tablet had registered and has a message waiting.
    let mailbox = Mailbox::new();
    let tablet_address = hush::Address::new("bob", 2)?;
    directory.register_device(&tablet_address, 7, tablet.identity_key())?;
    mailbox.deliver(&tablet_address, bob.address(), 2, b"...".to_vec(), NOW)?;
    // Bob's phone removes it: version 4. Once the server accepts the list, it drops
    // what it keeps for devices no longer on it.
    let v4 = bob.remove_companion(2, later, &mut rng)?;
    let verified = device_lists.upload("bob", &v4)?;
    let on_list: Vec<u32> = verified.devices().iter().map(|d| d.device_id).collect();
    for gone in directory.retain_devices("bob", &on_list)? {
        let dropped = mailbox.remove_device(&gone);
        println!(
            "device {gone} is off the list: registration and {dropped} queued message(s) dropped"
        );
    }
    assert_eq!(directory.devices("bob")?, vec![bob.address().clone()]);
    Ok(())
}
