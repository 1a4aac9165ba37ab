//! Using hush from a tokio application, with SQLite stores, without blocking the
//! runtime.
//!
//! # Why the stores (and so `Device`) are synchronous
//!
//! Every message changes a device's state: a ratchet step, a consumed prekey, a sender
//! key advanced. hush reads that state, computes, and writes it back in **one** store
//! transaction, so that a crash or a failed decrypt never leaves half an update. The
//! protocol code is pure computation (microseconds), and SQLite — what most apps store
//! in — is a synchronous library. An `async` store trait would hold that transaction
//! open across `.await` points, which gains nothing (the work is not I/O-bound on a
//! network) and makes the one-transaction rule harder to keep. So the facade is
//! synchronous, and an async app calls it the way it calls any blocking library: off
//! the runtime's worker threads. `docs/ARCHITECTURE.md` has the longer argument.
//!
//! # Two ways shown here
//!
//! - **A device thread** (Alice): one `std::thread` owns the [`Device`] and runs jobs it
//!   receives over a tokio `mpsc` channel, answering each over a `oneshot`. Jobs of one
//!   device run in order, and the async side only ever awaits.
//! - **`spawn_blocking`** (Bob): the `Device` is `Send + Sync`, so an `Arc<Device<_>>`
//!   can be moved into `tokio::task::spawn_blocking` for each call. The store
//!   serialises transactions, so concurrent calls are safe.
//!
//! The server types ([`Mailbox`], [`PreKeyDirectory`], [`DeviceLists`]) are in-memory
//! and lock only briefly, so this example calls them straight from async code.
//!
//! Run it with `cargo run -p hush --example async_tokio`.

use std::path::PathBuf;
use std::sync::Arc;

use hush::server::{DeviceLists, Mailbox, PreKeyDirectory};
use hush::store::SqliteStore;
use hush::{Address, Device, GenerateRequest, ReceivedKind};
use tokio::sync::{mpsc, oneshot};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The clock; a real app passes the current time in milliseconds since the Unix epoch.
const NOW: u64 = 1_700_000_000_000;

/// A job for the device thread: runs with the device, answers over its own channel.
type Job = Box<dyn FnOnce(&Device<SqliteStore>) + Send>;

/// The async side's handle to a device that lives on its own thread.
#[derive(Clone)]
struct DeviceHandle {
    jobs: mpsc::Sender<Job>,
}

impl DeviceHandle {
    /// Opens the account in the SQLite file at `path` (creating it for `user` if the
    /// store has none) on a new thread, which then serves jobs until every handle is
    /// dropped.
    async fn spawn(
        path: PathBuf,
        user: &'static str,
    ) -> Result<(Self, std::thread::JoinHandle<()>)> {
        let (jobs, mut queue) = mpsc::channel::<Job>(64);
        let (ready, started) = oneshot::channel::<hush::Result<()>>();
        let thread = std::thread::spawn(move || {
            let opened =
                SqliteStore::open(&path, None).and_then(|store| match Device::open(store) {
                    Err(hush::Error::NoAccount) => {
                        // `open` consumed the (empty) store: open the file again.
                        let store = SqliteStore::open(&path, None)?;
                        Device::create_account(store, user, NOW, &mut hush_core::rng::os_rng())
                    }
                    other => other,
                });
            let device = match opened {
                Ok(device) => {
                    let _ = ready.send(Ok(()));
                    device
                }
                Err(error) => {
                    let _ = ready.send(Err(error));
                    return;
                }
            };
            // `blocking_recv` is for exactly this: a plain thread waiting on a tokio
            // channel. The loop ends when the last handle is dropped.
            while let Some(job) = queue.blocking_recv() {
                job(&device);
            }
        });
        started.await??;
        Ok((Self { jobs }, thread))
    }

    /// Runs `job` on the device thread and awaits its result.
    async fn call<T: Send + 'static>(
        &self,
        job: impl FnOnce(&Device<SqliteStore>) -> hush::Result<T> + Send + 'static,
    ) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |device| {
            let _ = reply.send(job(device));
        });
        self.jobs
            .send(job)
            .await
            .map_err(|_| "device thread stopped")?;
        Ok(answer.await??)
    }
}

/// The server, shared by every task.
struct Server {
    directory: PreKeyDirectory,
    device_lists: DeviceLists,
    mailbox: Mailbox,
}

/// What the server needs to register a device, read from it on its thread.
struct Registration {
    address: Address,
    registration_id: u32,
    identity_key: hush_core::IdentityKey,
    account_key: hush_core::IdentityKey,
    device_list: Vec<u8>,
    prekeys: Vec<u8>,
}

fn registration(device: &Device<SqliteStore>) -> hush::Result<Registration> {
    let mut request = GenerateRequest::default();
    request.one_time_prekeys = 5;
    request.kem_prekeys = 5;
    Ok(Registration {
        address: device.address().clone(),
        registration_id: device.registration_id(),
        identity_key: device.identity_key(),
        account_key: *device.account_key(),
        device_list: device.own_device_list()?,
        prekeys: device.generate_prekeys(&request, NOW, &mut hush_core::rng::os_rng())?,
    })
}

fn register(server: &Server, r: &Registration) -> hush::Result<()> {
    let user = r.address.name();
    server
        .directory
        .register_device(&r.address, r.registration_id, r.identity_key)?;
    server.directory.upload(
        &r.address,
        &r.identity_key,
        &r.prekeys,
        NOW,
        &mut hush_core::rng::os_rng(),
    )?;
    server.device_lists.register_account(user, r.account_key)?;
    server.device_lists.upload(user, &r.device_list)?;
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let server = Arc::new(Server {
        directory: PreKeyDirectory::new(),
        device_lists: DeviceLists::new(),
        mailbox: Mailbox::new(),
    });

    // Alice: a device thread.
    let alice_db = dir.path().join("alice.sqlite");
    let (alice, alice_thread) = DeviceHandle::spawn(alice_db.clone(), "alice").await?;
    register(&server, &alice.call(registration).await?)?;

    // Bob: an `Arc<Device>` and `spawn_blocking` per call (opening a database is
    // blocking too).
    let bob_db = dir.path().join("bob.sqlite");
    let bob = tokio::task::spawn_blocking(move || -> hush::Result<_> {
        let device = Device::create_account(
            SqliteStore::open(&bob_db, None)?,
            "bob",
            NOW,
            &mut hush_core::rng::os_rng(),
        )?;
        Ok(Arc::new(device))
    })
    .await??;
    let bob_registration = {
        let bob = Arc::clone(&bob);
        tokio::task::spawn_blocking(move || registration(&bob)).await??
    };
    register(&server, &bob_registration)?;
    let bob_address = bob_registration.address;
    println!("alice (device thread) and {bob_address} (spawn_blocking) are registered");

    // Each accepts the other's device list.
    let bob_list = server.device_lists.fetch("bob").ok_or("no list")?;
    alice
        .call(move |d| d.accept_device_list("bob", &bob_list, NOW))
        .await?;
    let alice_list = server.device_lists.fetch("alice").ok_or("no list")?;
    {
        let bob = Arc::clone(&bob);
        tokio::task::spawn_blocking(move || bob.accept_device_list("alice", &alice_list, NOW))
            .await??;
    }

    // Alice sends three messages: the plan and the bundles, then one encrypt per text.
    // Fetching bundles (network I/O in a real app) happens on the async side.
    let texts = ["one", "two", "three"];
    let alice_address = alice.call(|d| Ok(d.address().clone())).await?;
    for text in texts {
        let plan = alice
            .call(|d| d.prepare_send("bob", NOW, &mut hush_core::rng::os_rng()))
            .await?;
        let mut bundles = Vec::new();
        for address in plan.need_bundles {
            let bundle = server.directory.bundle(&address)?;
            bundles.push((address, bundle));
        }
        let envelopes = alice
            .call(move |d| {
                let refs: Vec<(Address, &[u8])> = bundles
                    .iter()
                    .map(|(a, b)| (a.clone(), b.as_slice()))
                    .collect();
                d.encrypt(
                    "bob",
                    text.as_bytes(),
                    &refs,
                    NOW,
                    &mut hush_core::rng::os_rng(),
                )
            })
            .await?;
        let messages = envelopes
            .into_iter()
            .map(|e| (e.to, e.message_type, e.body))
            .collect();
        server.mailbox.deliver_many(&alice_address, messages, NOW)?;
    }

    // Bob decrypts each message in a blocking task, then acknowledges it.
    let mut read = Vec::new();
    for envelope in server.mailbox.fetch(&bob_address, 100) {
        let bob = Arc::clone(&bob);
        let (sender, message_type, body) = (
            envelope.sender.clone(),
            envelope.message_type,
            envelope.body.clone(),
        );
        let received = tokio::task::spawn_blocking(move || {
            bob.decrypt(
                &sender,
                message_type,
                &body,
                NOW,
                &mut hush_core::rng::os_rng(),
            )
        })
        .await??;
        server.mailbox.acknowledge(&bob_address, &[envelope.id]);
        let ReceivedKind::Direct { plaintext } = received.kind else {
            return Err("expected a direct message".into());
        };
        read.push(String::from_utf8(plaintext.to_vec())?);
    }
    assert_eq!(read, texts);
    println!("bob read {read:?}");

    // Alice's state is in her SQLite file: stop her thread, reopen, and send again —
    // the session is still there, so no bundle is needed.
    drop(alice);
    alice_thread.join().map_err(|_| "alice's thread panicked")?;
    let (alice, alice_thread) = DeviceHandle::spawn(alice_db, "alice").await?;
    let plan = alice
        .call(|d| d.prepare_send("bob", NOW, &mut hush_core::rng::os_rng()))
        .await?;
    assert!(plan.need_bundles.is_empty());
    let envelopes = alice
        .call(|d| d.encrypt("bob", b"four", &[], NOW, &mut hush_core::rng::os_rng()))
        .await?;
    let envelope = envelopes.into_iter().next().ok_or("no envelope")?;
    let received = {
        let bob = Arc::clone(&bob);
        let from = alice_address.clone();
        tokio::task::spawn_blocking(move || {
            bob.decrypt(
                &from,
                envelope.message_type,
                &envelope.body,
                NOW,
                &mut hush_core::rng::os_rng(),
            )
        })
        .await??
    };
    let ReceivedKind::Direct { plaintext } = received.kind else {
        return Err("expected a direct message".into());
    };
    assert_eq!(plaintext.as_slice(), b"four");
    println!("after reopening alice's database, her session with bob carried on");

    drop(alice);
    alice_thread.join().map_err(|_| "alice's thread panicked")?;
    Ok(())
}
