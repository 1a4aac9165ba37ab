//! A stateful target over the `hush` facade: three accounts exchanging pairwise and group
//! messages through a model network that drops, reorders, duplicates and misroutes
//! envelopes, while companions are linked, unlinked and replaced under their device id
//! by new devices, the replaced ones kept by a thief.
//!
//! # The cast
//!
//! A fixture built once (fixed seed) holds eight device slots, each a [`hush::Device`] over
//! a `hush::store::MemoryStore`: alice.1, alice.2, alice.3, bob.1, bob.2,
//! bob.3, carol.1, carol.2. Device 1 of each user is its primary. alice.2 and bob.2 start
//! on their account's device list; alice.3, bob.3 and carol.2 are spare companions
//! (`Device::create_companion`) not on the list, so the cast starts as alice (2 devices),
//! bob (2) and carol (1). Every device has accepted every user's current signed list and
//! uploaded a small batch of prekeys (a signed prekey, one one-time EC prekey, one
//! one-time KEM prekey, a last-resort KEM prekey) to a model server that hands out
//! bundles (`hush_prekey::DeviceKeys`), so later bundles carry only the last-resort keys.
//!
//! Key agreement and signatures dominate the cost of a run, so the fixture does the
//! expensive part once: every two devices on the lists at the start already have one
//! session, used in both directions; and while the spares were briefly linked, every
//! device sent once to every user with nothing to or from a spare delivered. So each
//! spare and each other device have each started a session with the other, neither
//! answered: first messages (`PreKeySignalMessage`s, prekey consumption, the last-resort
//! key) and simultaneous initiation still happen in the runs, the sending side having
//! paid for key agreement once. A run makes a device from the fixture the first time it
//! touches it, by copying the fixture store record by record into a fresh `MemoryStore`
//! (and having it accept the lists it missed), and seeds its RNG from the first four
//! input bytes.
//!
//! A companion can be **replaced** during a run (at most twice per run: each costs a new
//! identity key, a prekey upload and key agreements): its
//! primary removes it from the list and links a new device with the same device id and
//! a fresh identity key (`Device::create_companion`, `add_companion`); the new device
//! accepts every list, records every other identity as it is then, and uploads prekeys
//! that replace the old device's on the server; every other device accepts the new list.
//! The old device object becomes a **thief**: it keeps its store and tries to read, and
//! to post group messages labelled with its old address. The model calls the identities
//! an address has had its generations.
//!
//! # The script
//!
//! The remaining bytes are operations (at most [`MAX_FACADE_OPS`]), an opcode byte then
//! argument bytes, read whether or not the operation can run:
//!
//! - send a 1:1 message from a device to a user (`prepare_send`, bundles fetched for the
//!   devices it names, `encrypt`): one envelope per device of the recipient's list plus
//!   one sent transcript per other device on the sender's own list;
//! - send to one of two groups (`prepare_group_send`, `send_group`) with the group's
//!   current member users: the distribution envelopes and one copy of the group message
//!   per member device go into the devices' queues;
//! - toggle a user's membership of a group (on removal, one device also calls
//!   `remove_group_member`);
//! - link or unlink a companion: the primary calls `add_companion` / `remove_companion`,
//!   and every other device accepts the new signed list (`accept_device_list`) at once;
//! - replace a companion under its device id (above), with every other device accepting
//!   the new identity at once or not; a device accepts a changed identity
//!   (`accept_identity`);
//! - a thief posts to a group (`prepare_group_send`, `send_group` on its stale store), or
//!   tries to read an envelope queued for its old address or any group message sent;
//! - deliver the oldest envelope queued for a device, or the one at an index; drop one;
//!   deliver again one the device already decrypted; deliver a queued envelope to another
//!   device (misrouted); deliver one naming another sender device; deliver any group
//!   message sent so far to any device, member or not (as the server, or anyone who
//!   sees the traffic, can). Envelopes queue, so a device can be removed from a group,
//!   unlinked or replaced between a send and the delivery of its distribution message.
//!
//! After the script, everything still queued is delivered, oldest first.
//!
//! # The oracle
//!
//! Checked on every step (a failed check panics):
//!
//! - **No panic** in the facade, and every send, link, unlink, replacement, list or
//!   identity acceptance and group change succeeds, except as follows.
//! - **Changed identities**: a 1:1 send, `prepare_group_send` and `send_group` fail with
//!   exactly `IdentityChanged` (for one of them, with the key it has now) while a device
//!   they would reach (a group send: any member device, needing the sender key or not)
//!   has an identity the sender has not recorded; a pairwise envelope naming such a
//!   device as its sender fails with exactly that. Accepted, the sends work again, and a
//!   group send then replaces the chain if the replaced device had been given it.
//! - **Fan-out**: a 1:1 send produces exactly one envelope per device of the recipient's
//!   current list and per other device of the sender's own list (the model's lists, which
//!   every device has accepted); each is a direct message or, for the sender's own
//!   devices, a transcript naming the recipient. A group send's distribution envelopes go
//!   to exactly the member devices the sending device has not yet given its current chain
//!   (all member devices after a new chain), and the chain must be new whenever a device
//!   that was given the previous chain is no longer a member device — a device replaced
//!   under its device id is another member device.
//! - **Authenticity**: a pairwise envelope that decrypts was delivered to the device (and
//!   identity) it was made for, naming the device that made it, still listed with the
//!   identity that made it, and yields exactly the content sent (same kind, plaintext,
//!   transcript recipient, or group). A group message that decrypts was named with its
//!   real sender and the receiver was one of its member devices, with the same identity,
//!   when it was sent: a device removed from the group (also between a send and the
//!   delivery of its distribution message), unlinked or replaced never reads a chain used
//!   after it left, and a thief reads only what was made for it before it was replaced.
//!   Nothing a thief sends decrypts anywhere: its group message is refused with
//!   `UntrustedDevice` (the chain was distributed by another identity) while the
//!   receiver holds the thief's chain, with `Group(NoSenderKeyState)` otherwise (the new
//!   device's distribution dropped it), `NotGroupMember` when its user left the group.
//! - **At most once**: each genuine envelope (and each group message) decrypts at most
//!   once per device; a second delivery is refused.
//! - **Delivery**: a genuine pairwise envelope delivered to its device, naming its sender,
//!   while the sender is on its user's current list, must decrypt the first time, in any
//!   order. The only tolerated failure is `Session(DecryptionFailed)` once that receiver
//!   has decrypted at least `hush_ratchet::limits::MAX_RECEIVER_CHAINS` later envelopes
//!   from the same sender (its receiving chain may then have been dropped, as the ratchet
//!   documents). From a sender not on its user's current list, or replaced since, it must
//!   fail with `UntrustedDevice`. A group message must decrypt at a device exactly when the model
//!   says the device holds its chain from that sender: it decrypted a distribution of
//!   that chain, whose iteration (the first one it held) is not after the message's, and
//!   fewer than `hush_group::limits::MAX_SENDER_KEY_STATES` newer chains of the same
//!   sender and group replaced it since, nor a distribution from another identity at the
//!   sender's address; and the sender is on its current list with the identity that sent.
//! - **No state lost on refusal**: every delivery the model allows to fail, when it fails,
//!   leaves the receiving device's store unchanged, compared as encodings: its own list
//!   and every user's list, per address of the cast the recorded identity, the session
//!   and both groups' sender-key records, the session device listings, both group
//!   trackers, the prekey id allocator, and the prekeys by their id listings and the
//!   one-time count. Not compared: the account and the prekey records' contents (a
//!   delivery can only delete prekeys, which the listings show, and decoding each
//!   private key costs a scalar multiplication) and the last-resort-use table (the store
//!   traits cannot list it). A thief's refusals leave its store unchanged too.
//!
//! Not modelled: time (everything happens at one instant, so no expiry), prekey rotation,
//! a primary's or an account key's change (`accept_changed_device_list`; the
//! `group_membership` target covers the tracker's side of it), resend requests (the
//! facade has no call for them; `group_membership` has), the server mailbox (the
//! queues here stand in for it).
//!
//! # Layout
//!
//! `fixture.rs` builds the fixture and snapshots stores; `model.rs` holds the run's
//! devices and what the model knows; `ops.rs` runs the script's operations (with the
//! fan-out checks of sends); `identity.rs` replacements, identity acceptance and the
//! thieves; `oracle.rs` delivers envelopes and checks each outcome.

use std::collections::VecDeque;

mod fixture;
mod identity;
mod model;
mod ops;
mod oracle;

use hush::store::MemoryStore;
use hush::{Address, Device, Error};

use model::Run;
use ops::Script;

/// The one instant everything happens at (milliseconds since the Unix epoch).
const NOW: u64 = 1_700_000_000_000;
/// The most operations [`facade_interaction`] runs for one input.
pub const MAX_FACADE_OPS: usize = 96;
/// The users.
const USERS: [&str; 3] = ["alice", "bob", "carol"];
/// Every device slot: (user index, device id, on its account's list at the start).
const SLOTS: [(usize, u32, bool); 8] = [
    (0, 1, true),
    (0, 2, true),
    (0, 3, false),
    (1, 1, true),
    (1, 2, true),
    (1, 3, false),
    (2, 1, true),
    (2, 2, false),
];
/// The fixture's sends, (sender slot, recipient user), each delivered at once: after
/// them every two devices on the lists at the start have one session, used both ways.
const ESTABLISHING: [(usize, usize); 10] = [
    (0, 1),
    (3, 0),
    (1, 1),
    (4, 0),
    (6, 0),
    (6, 1),
    (0, 2),
    (1, 2),
    (3, 2),
    (4, 2),
];
/// How many groups there are.
const GROUP_COUNT: usize = 2;

type Dev = Device<MemoryStore>;

#[track_caller]
fn bug(what: &str) -> ! {
    #[expect(clippy::panic, reason = "a fuzz target reports a bug by panicking")]
    {
        panic!("{what}")
    }
}

#[track_caller]
fn must<T>(what: &str, result: Result<T, Error>) -> T {
    match result {
        Ok(value) => value,
        Err(error) => bug(&format!("{what}: unexpected error {error:?}")),
    }
}

fn user_of(slot: usize) -> usize {
    SLOTS.get(slot).map_or(0, |s| s.0)
}

fn user_name(user: usize) -> &'static str {
    USERS.get(user).copied().unwrap_or("alice")
}

fn address(slot: usize) -> Address {
    let (user, id, _) = SLOTS.get(slot).copied().unwrap_or((0, 1, true));
    must(
        "address",
        Address::new(user_name(user), id).map_err(Error::from),
    )
}

fn slot_of(address: &Address) -> usize {
    (0..SLOTS.len())
        .find(|&slot| self::address(slot) == *address)
        .unwrap_or_else(|| bug("an address outside the cast"))
}

fn is_primary(slot: usize) -> bool {
    SLOTS.get(slot).is_some_and(|s| s.1 == 1)
}

fn primary_of(user: usize) -> usize {
    (0..SLOTS.len())
        .find(|&slot| user_of(slot) == user && is_primary(slot))
        .unwrap_or(0)
}

fn start_linked(slot: usize) -> bool {
    SLOTS.get(slot).is_some_and(|s| s.2)
}

/// Three accounts over the `hush` facade, scripted by the fuzzer's bytes (see the
/// module documentation for the cast, the script and the oracle).
pub fn facade_interaction(data: &[u8]) {
    let _ = interact(data);
}

/// Runs [`facade_interaction`]'s script; returns how many deliveries decrypted.
fn interact(data: &[u8]) -> usize {
    let (seed, rest) = data.split_at(data.len().min(4));
    let mut seed_bytes = [0; 4];
    for (to, from) in seed_bytes.iter_mut().zip(seed) {
        *to = *from;
    }
    let mut run = Run::new(u64::from(u32::from_le_bytes(seed_bytes)));
    let mut script = Script { rest };
    let mut ops = 0;
    while !script.rest.is_empty() && ops < MAX_FACADE_OPS {
        run.step(&mut script);
        ops += 1;
    }
    for at in 0..SLOTS.len() {
        while let Some(item) = run.queues.get_mut(at).and_then(VecDeque::pop_front) {
            run.deliver(&item, at, item.from);
        }
    }
    run.decrypted.len()
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::PathBuf;

    use super::*;

    /// Seeds for the identity-change operations, each with how many deliveries it
    /// decrypts; written to `fuzz/corpus/facade_interaction/` by the ignored test
    /// `write_facade_seed_corpus` (the older seeds there were written by hand). Slots:
    /// 0 alice.1, 1 alice.2, 2 alice.3, 3 bob.1, 4 bob.2, 5 bob.3, 6 carol.1, 7 carol.2.
    fn identity_seeds() -> Vec<(&'static str, Vec<u8>, usize)> {
        vec![
            (
                // bob.2 holds alice.1's group chain and is replaced under its device id:
                // alice.1's group send reports IdentityChanged until she accepts the new
                // key, then rotates; the thief reads nothing sent after, the new bob.2
                // reads it.
                "replaced-companion-rotates-the-group",
                vec![
                    0, 0, 0, 0, // seed
                    2, 0, 0, 0, // alice.1 → group 0
                    5, 4, 5, 4, // bob.2 takes the distribution and the message
                    12, 2, 0, // bob.2 replaced, nobody accepts yet
                    2, 0, 0, 0, // alice.1 → group 0: IdentityChanged
                    13, 0, 0, // alice.1 accepts the new bob.2
                    2, 0, 0, 1, // alice.1 → group 0, a new chain
                    15, 0, 1, 1, // the thief tries the new message
                    15, 0, 1, 0, // and the old one again
                    5, 4, 5, 4, // the new bob.2 takes its distribution and the message
                ],
                16,
            ),
            (
                // bob.2 posts to the group; it is replaced and everyone accepts the new
                // key; the thief posts on the old chain (refused for the distributor),
                // the new bob.2 posts (its distribution drops the old chain), the thief
                // again (refused: no chain).
                "thief-posts-under-a-reused-address",
                vec![
                    1, 0, 0, 0, // seed
                    2, 4, 0, 0, // bob.2 → group 0
                    5, 0, 5, 0, // alice.1 takes its distribution and message
                    12, 2, 1, // bob.2 replaced, everyone accepts
                    14, 0, 0, 0, // the thief posts to group 0
                    5, 0, // alice.1 refuses it
                    2, 4, 0, 0, // the new bob.2 → group 0
                    5, 0, 5, 0, // alice.1 takes its distribution and message
                    14, 0, 0, 1, // the thief posts again
                    5, 0, // refused
                    16, 3, 0, // bob.1 given the old bob.2's first message again
                ],
                10,
            ),
            (
                // carol is removed from group 0 after alice.1's distribution to carol.1
                // was sent and before it is delivered: alice.1 rotates; carol.1 reads
                // what was sent before her removal, nothing after, and cannot post.
                "removed-before-the-distribution-arrived",
                vec![
                    2, 0, 0, 0, // seed
                    2, 0, 0, 0, // alice.1 → group 0 (distributions queued)
                    3, 0, 2, 0, // carol removed from group 0 (alice.1 records it)
                    2, 0, 0, 0, // alice.1 → group 0: a new chain
                    5, 6, 5, 6, // carol.1 takes the old distribution and first message
                    16, 6, 1, // carol.1 given the message sent after her removal
                    2, 6, 0, 0, // carol.1 posts to group 0
                    5, 0, 5, 0, 5, 0, // alice.1 refuses it
                ],
                18,
            ),
            (
                // alice.2 replaced, nobody accepts: bob.1's send to alice reports
                // IdentityChanged until bob.1 accepts; the new alice.2 reads bob.1's
                // next message, the thief cannot; bob.2, which did not accept, refuses
                // the new alice.2's message with IdentityChanged and reads the next one
                // once it accepted; alice.1, the primary that linked the new alice.2,
                // reads both of its transcripts at once.
                "accept-a-changed-identity",
                vec![
                    3, 0, 0, 0, // seed
                    12, 0, 0, // alice.2 replaced, nobody accepts
                    0, 3, 0, 0, // bob.1 → alice: IdentityChanged
                    13, 3, 0, // bob.1 accepts the new alice.2
                    0, 3, 0, 0, // bob.1 → alice
                    15, 0, 0, 0, // the thief tries the envelope for its old address
                    5, 1, // the new alice.2 reads it
                    5, 4, // bob.2 reads bob.1's transcript
                    1, 1, 1, 0, // the new alice.2 → bob
                    5, 4, // bob.2 refuses it: IdentityChanged
                    13, 4, 0, // bob.2 accepts the new alice.2
                    1, 1, 1, 1, // the new alice.2 → bob again
                    5, 4, // bob.2 reads it
                ],
                8,
            ),
        ]
    }

    fn corpus() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/facade_interaction")
    }

    #[test]
    fn identity_seeds_decrypt_what_they_claim() {
        for (name, bytes, decrypts) in identity_seeds() {
            assert_eq!(interact(&bytes), decrypts, "{name}");
        }
    }

    #[test]
    #[ignore = "writes fuzz/corpus/facade_interaction/; run by hand after changing the seeds"]
    fn write_facade_seed_corpus() {
        for (name, bytes, _) in identity_seeds() {
            fs::write(corpus().join(name), bytes).unwrap();
        }
    }

    #[test]
    fn committed_facade_seeds_are_current() {
        for (name, bytes, _) in identity_seeds() {
            let path = corpus().join(name);
            let committed = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(
                committed,
                bytes,
                "{} is stale: run write_facade_seed_corpus",
                path.display()
            );
        }
    }

    /// The model's premise for identity changes: every fixture device has recorded the
    /// identity key of every other address of the cast (sessions both ways with the
    /// devices on the lists at the start, first messages with the spares).
    #[test]
    fn every_fixture_device_recorded_every_identity() {
        use hush::store::{IdentityStore, Store};
        let fx = fixture::fixture();
        for (slot, device) in fx.devices.iter().enumerate() {
            let mut tx = device.store().transaction().unwrap();
            for peer in (0..SLOTS.len()).filter(|&peer| peer != slot) {
                let recorded = tx.remote_identity(&address(peer)).unwrap();
                let key = fx.devices[peer].identity_key();
                assert_eq!(
                    recorded,
                    Some(key),
                    "{} about {}",
                    address(slot),
                    address(peer)
                );
            }
        }
    }

    #[test]
    fn a_conversation_runs() {
        // seed, then: alice.1 → bob, bob.2 → alice, group send, link alice.3,
        // deliver everything at the end.
        // 3 + 3 envelopes, then 4 distributions and 4 copies of the group message.
        assert_eq!(
            interact(&[1, 0, 0, 0, 0, 0, 1, 0, 1, 4, 0, 0, 2, 0, 0, 0, 4, 2]),
            14
        );
    }

    #[test]
    fn a_linked_spare_takes_first_messages_once() {
        // Link alice.3; bob.1 sends to alice (alice.1, alice.2, alice.3, bob.2); alice.3
        // takes its first message, refuses it again, alice.2 refuses alice.1's copy.
        assert_eq!(
            interact(&[0, 0, 0, 0, 4, 2, 0, 3, 0, 0, 5, 2, 9, 2, 0, 10, 0, 0, 0]),
            4
        );
    }

    #[test]
    fn an_unlinked_device_is_refused_everywhere() {
        // Unlink alice.2, which then sends to bob: bob.1, bob.2 and alice.1 refuse it.
        assert_eq!(interact(&[0, 0, 0, 0, 4, 1, 0, 1, 1, 0]), 0);
    }
}
