//! The reference mailbox: per-device store-and-forward queues with acknowledgements and
//! delivery receipts.

use core::fmt;
use std::collections::hash_map::{Entry, HashMap};
use std::collections::{BTreeSet, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::lock;
use crate::Address;
use crate::error::{Error, Result};
use crate::limits::{
    DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_MAILBOX_DEVICES, DEFAULT_MAX_PENDING_RECEIPTS,
    DEFAULT_MAX_QUEUE_BYTES, DEFAULT_MAX_QUEUE_MESSAGES, MAX_FAN_OUT, MAX_FETCH,
};

/// How many independently locked parts the mailbox's queues are spread over.
const SHARD_COUNT: usize = 16;
const SHARD_COUNT_U64: u64 = 16;

/// A message's id: unique within one [`Mailbox`] (ids are never reused), increasing in
/// the order messages entered each queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(u64);

impl MessageId {
    /// The id with this number (as a client sends it back in an acknowledgement).
    #[must_use]
    pub const fn new(id: u64) -> Self {
        Self(id)
    }

    /// The number.
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A message waiting in a device's queue.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Envelope {
    /// Its id, to acknowledge it with.
    pub id: MessageId,
    /// The sending device, as the server authenticated it.
    pub sender: Address,
    /// The message type the sender gave (for hush sessions: 2 for a `SignalMessage`, 3
    /// for a `PreKeySignalMessage`, libsignal's numbers). The mailbox does not read it.
    pub message_type: u8,
    /// The message, opaque to the mailbox.
    pub body: Vec<u8>,
    /// When the mailbox accepted it (ms since the Unix epoch, as the caller passed it).
    pub received_at_ms: u64,
}

impl fmt::Debug for Envelope {
    /// Everything but the body, of which only the length.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            id,
            sender,
            message_type,
            body,
            received_at_ms,
        } = self;
        f.debug_struct("Envelope")
            .field("id", id)
            .field("sender", sender)
            .field("message_type", message_type)
            .field("body_len", &body.len())
            .field("received_at_ms", received_at_ms)
            .finish()
    }
}

/// A delivery receipt: `recipient` acknowledged the message `message_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Receipt {
    /// The id [`Mailbox::deliver`] returned to the sender.
    pub message_id: MessageId,
    /// The device that acknowledged it.
    pub recipient: Address,
}

/// Bounds of a [`Mailbox`]. `Default` takes them from [`crate::limits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct MailboxLimits {
    /// Longest body ([`DEFAULT_MAX_BODY_BYTES`]).
    pub max_body_bytes: usize,
    /// Most messages in one device's queue ([`DEFAULT_MAX_QUEUE_MESSAGES`]).
    pub max_queue_messages: usize,
    /// Most body bytes in one device's queue ([`DEFAULT_MAX_QUEUE_BYTES`]).
    pub max_queue_bytes: usize,
    /// Most receipts waiting for one sender device; past it the oldest is dropped
    /// ([`DEFAULT_MAX_PENDING_RECEIPTS`]).
    pub max_pending_receipts: usize,
    /// Most devices with a non-empty queue, and apart from them most devices with
    /// waiting receipts ([`DEFAULT_MAX_MAILBOX_DEVICES`]).
    pub max_devices: usize,
}

impl Default for MailboxLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_queue_messages: DEFAULT_MAX_QUEUE_MESSAGES,
            max_queue_bytes: DEFAULT_MAX_QUEUE_BYTES,
            max_pending_receipts: DEFAULT_MAX_PENDING_RECEIPTS,
            max_devices: DEFAULT_MAX_MAILBOX_DEVICES,
        }
    }
}

/// How full one device's queue is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct QueueStats {
    /// Messages waiting (fetched or not, until acknowledged).
    pub messages: usize,
    /// Their body bytes.
    pub bytes: usize,
}

#[derive(Default)]
struct Queue {
    /// In increasing id order (ids are drawn under the shard's lock).
    envelopes: VecDeque<Envelope>,
    bytes: usize,
}

impl Queue {
    fn has_room(&self, messages: usize, bytes: usize, limits: &MailboxLimits) -> bool {
        self.envelopes.len().saturating_add(messages) <= limits.max_queue_messages
            && self.bytes.saturating_add(bytes) <= limits.max_queue_bytes
    }
}

#[derive(Default)]
struct Shard {
    queues: HashMap<Address, Queue>,
    receipts: HashMap<Address, VecDeque<Receipt>>,
}

/// The reference in-process store-and-forward mailbox: one FIFO queue per recipient
/// device.
///
/// - [`deliver`](Self::deliver) enqueues one message and returns its [`MessageId`];
///   [`deliver_many`](Self::deliver_many) enqueues a fan-out (one message per
///   recipient device) all or nothing.
/// - [`fetch`](Self::fetch) returns the oldest waiting messages **without** deleting
///   them: until acknowledged, every fetch returns them again (a device that crashed
///   after fetching loses nothing).
/// - [`acknowledge`](Self::acknowledge) deletes messages and queues one [`Receipt`]
///   per deleted message for its sender, who collects them with
///   [`take_receipts`](Self::take_receipts). Ids that are not waiting in the
///   recipient's queue (unknown, someone else's, already acknowledged) are ignored, so
///   a retried acknowledgement is harmless; the return value counts what was deleted.
///
/// Bounds ([`MailboxLimits`]): a body longer than `max_body_bytes` is refused with
/// [`Error::BodyTooLarge`]; a queue never holds more than `max_queue_messages` messages
/// or `max_queue_bytes` body bytes, and a delivery that would pass either is refused
/// whole with [`Error::QueueFull`]. Receipts are advisory: past `max_pending_receipts`
/// for one sender the oldest is dropped (counted by
/// [`receipts_dropped`](Self::receipts_dropped)).
///
/// Thread-safe: `Send + Sync`, every method takes `&self`. Queues are spread over 16
/// independently locked shards by a keyed hash of the recipient; a fan-out locks the
/// shards it touches in ascending order. Ids are drawn under the queue's lock, so in
/// every queue ids increase in arrival order, and the messages one sender delivers
/// (one call after another) to one recipient keep their order.
///
/// ```
/// use hush::Address;
/// use hush::server::Mailbox;
///
/// let mailbox = Mailbox::new();
/// let alice = Address::new("alice", 1)?;
/// let bob_phone = Address::new("bob", 1)?;
/// let bob_laptop = Address::new("bob", 2)?;
/// let now_ms = 1_700_000_000_000;
///
/// // Alice fans one message out to Bob's two devices.
/// let ids = mailbox.deliver_many(
///     &alice,
///     vec![(bob_phone.clone(), 3, b"to phone".to_vec()), (bob_laptop.clone(), 3, b"to laptop".to_vec())],
///     now_ms,
/// )?;
///
/// // Bob's phone fetches; the message stays until acknowledged.
/// let waiting = mailbox.fetch(&bob_phone, 100);
/// assert_eq!(waiting.len(), 1);
/// assert_eq!(waiting[0].body, b"to phone");
/// assert_eq!(mailbox.fetch(&bob_phone, 100), waiting);
/// assert_eq!(mailbox.acknowledge(&bob_phone, &[waiting[0].id]), 1);
/// assert!(mailbox.fetch(&bob_phone, 100).is_empty());
///
/// // Alice gets a delivery receipt for the phone's copy only.
/// let receipts = mailbox.take_receipts(&alice, 100);
/// assert_eq!(receipts.len(), 1);
/// assert_eq!((receipts[0].message_id, &receipts[0].recipient), (ids[0], &bob_phone));
/// # Ok::<(), hush::Error>(())
/// ```
pub struct Mailbox {
    limits: MailboxLimits,
    hasher: RandomState,
    shards: Vec<Mutex<Shard>>,
    next_id: AtomicU64,
    queue_count: AtomicUsize,
    receipt_holders: AtomicUsize,
    receipts_dropped: AtomicU64,
}

impl Default for Mailbox {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailbox")
            .field("limits", &self.limits)
            .field("queues", &self.queue_count())
            .field("receipts_dropped", &self.receipts_dropped())
            .finish_non_exhaustive()
    }
}

impl Mailbox {
    /// An empty mailbox with the default [`MailboxLimits`].
    #[must_use]
    pub fn new() -> Self {
        Self::with_limits(MailboxLimits::default())
    }

    /// An empty mailbox with `limits`.
    #[must_use]
    pub fn with_limits(limits: MailboxLimits) -> Self {
        Self {
            limits,
            hasher: RandomState::new(),
            shards: (0..SHARD_COUNT)
                .map(|_| Mutex::new(Shard::default()))
                .collect(),
            next_id: AtomicU64::new(1),
            queue_count: AtomicUsize::new(0),
            receipt_holders: AtomicUsize::new(0),
            receipts_dropped: AtomicU64::new(0),
        }
    }

    /// The limits.
    #[must_use]
    pub const fn limits(&self) -> &MailboxLimits {
        &self.limits
    }

    /// Enqueues `body` from `sender` for `recipient` and returns its id.
    ///
    /// # Errors
    ///
    /// [`Error::BodyTooLarge`]; [`Error::QueueFull`] if `recipient`'s queue has no room
    /// for one more message of this size; [`Error::ServerFull`] if `recipient` has no
    /// queue yet and [`MailboxLimits::max_devices`] queues exist. Nothing is enqueued
    /// on error.
    pub fn deliver(
        &self,
        recipient: &Address,
        sender: &Address,
        message_type: u8,
        body: Vec<u8>,
        now_ms: u64,
    ) -> Result<MessageId> {
        self.check_body(&body)?;
        let len = body.len();
        let mut shard = lock(self.shard(self.shard_index(recipient)));
        match shard.queues.get(recipient) {
            Some(queue) if !queue.has_room(1, len, &self.limits) => {
                return Err(self.queue_full(recipient));
            }
            Some(_) => {}
            None => {
                if !Queue::default().has_room(1, len, &self.limits) {
                    return Err(self.queue_full(recipient));
                }
                self.reserve_queues(1)?;
            }
        }
        let queue = shard.queues.entry(recipient.clone()).or_default();
        Ok(self.push(queue, sender, message_type, body, now_ms))
    }

    /// Enqueues one message per `(recipient, message_type, body)` from `sender`, all or
    /// nothing: if any queue lacks room, nothing is enqueued. Returns the ids in the
    /// order of `messages`. A recipient may appear more than once (its queue must have
    /// room for all of its messages).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for more than [`MAX_FAN_OUT`] messages;
    /// [`Error::BodyTooLarge`]; [`Error::QueueFull`] naming the first recipient (in the
    /// order of `messages`) whose queue lacks room; [`Error::ServerFull`] if the new
    /// queues would pass [`MailboxLimits::max_devices`].
    pub fn deliver_many(
        &self,
        sender: &Address,
        messages: Vec<(Address, u8, Vec<u8>)>,
        now_ms: u64,
    ) -> Result<Vec<MessageId>> {
        if messages.len() > MAX_FAN_OUT {
            return Err(Error::InvalidArgument(
                "too many recipients in one delivery",
            ));
        }
        for (_, _, body) in &messages {
            self.check_body(body)?;
        }
        let placed: Vec<usize> = messages
            .iter()
            .map(|(recipient, _, _)| self.shard_index(recipient))
            .collect();
        let wanted: BTreeSet<usize> = placed.iter().copied().collect();
        // Ascending shard order: two fan-outs can never wait on each other in a cycle.
        let mut guards: Vec<(usize, MutexGuard<'_, Shard>)> = self
            .shards
            .iter()
            .enumerate()
            .filter(|(index, _)| wanted.contains(index))
            .map(|(index, shard)| (index, lock(shard)))
            .collect();

        // What each recipient needs: (messages, bytes).
        let mut demand: HashMap<&Address, (usize, usize)> = HashMap::new();
        for (recipient, _, body) in &messages {
            let entry = demand.entry(recipient).or_insert((0, 0));
            entry.0 = entry.0.saturating_add(1);
            entry.1 = entry.1.saturating_add(body.len());
        }
        let mut new_queues = 0_usize;
        for ((recipient, _, _), &index) in messages.iter().zip(&placed) {
            let Some(&(count, bytes)) = demand.get(recipient) else {
                continue;
            };
            let shard = shard_guard(&mut guards, index)?;
            let fits = match shard.queues.get(recipient) {
                Some(queue) => queue.has_room(count, bytes, &self.limits),
                None => {
                    new_queues = new_queues.saturating_add(1);
                    Queue::default().has_room(count, bytes, &self.limits)
                }
            };
            if !fits {
                return Err(self.queue_full(recipient));
            }
            // Checked once per recipient.
            demand.remove(recipient);
        }
        self.reserve_queues(new_queues)?;

        // Every check passed; nothing below fails.
        let mut ids = Vec::with_capacity(messages.len());
        for ((recipient, message_type, body), index) in messages.into_iter().zip(placed) {
            let shard = shard_guard(&mut guards, index)?;
            let queue = shard.queues.entry(recipient).or_default();
            ids.push(self.push(queue, sender, message_type, body, now_ms));
        }
        Ok(ids)
    }

    /// The oldest messages waiting for `recipient`, at most `max` (and at most
    /// [`MAX_FETCH`]), oldest first. Nothing is deleted: until acknowledged, the same
    /// messages come back on every fetch.
    #[must_use]
    pub fn fetch(&self, recipient: &Address, max: usize) -> Vec<Envelope> {
        let shard = lock(self.shard(self.shard_index(recipient)));
        shard.queues.get(recipient).map_or_else(Vec::new, |queue| {
            queue
                .envelopes
                .iter()
                .take(max.min(MAX_FETCH))
                .cloned()
                .collect()
        })
    }

    /// Deletes the messages `ids` from `recipient`'s queue and queues a [`Receipt`] for
    /// the sender of each, in the order of `ids` (which decides what the receipt bounds
    /// drop, if anything). Ids not waiting in that queue are ignored. Returns how many
    /// messages were deleted.
    ///
    /// The receipts are queued right after the deletion, under the senders' locks, not
    /// atomically with it: a sender polling at that instant may see its receipt a
    /// moment later, never twice or not at all (unless dropped by the receipt bound).
    pub fn acknowledge(&self, recipient: &Address, ids: &[MessageId]) -> usize {
        let mut receipts: Vec<(usize, Address, Receipt)> = Vec::new();
        {
            let mut shard = lock(self.shard(self.shard_index(recipient)));
            let Some(queue) = shard.queues.get_mut(recipient) else {
                return 0;
            };
            for &id in ids {
                let Ok(at) = queue.envelopes.binary_search_by_key(&id, |e| e.id) else {
                    continue;
                };
                let Some(envelope) = queue.envelopes.remove(at) else {
                    continue;
                };
                queue.bytes = queue.bytes.saturating_sub(envelope.body.len());
                receipts.push((
                    self.shard_index(&envelope.sender),
                    envelope.sender,
                    Receipt {
                        message_id: id,
                        recipient: recipient.clone(),
                    },
                ));
            }
            if queue.envelopes.is_empty() {
                shard.queues.remove(recipient);
                self.queue_count.fetch_sub(1, Ordering::Relaxed);
            }
        }
        let deleted = receipts.len();
        // In deletion order (which decides what the bounds drop), one shard lock at a
        // time, kept across consecutive receipts for the same shard.
        let mut held: Option<(usize, MutexGuard<'_, Shard>)> = None;
        for (index, sender, receipt) in receipts {
            if held.as_ref().map(|(h, _)| *h) != Some(index) {
                // Release the previous shard before taking the next.
                drop(held.take());
                held = Some((index, lock(self.shard(index))));
            }
            if let Some((_, shard)) = held.as_mut() {
                self.push_receipt(shard, sender, receipt);
            }
        }
        deleted
    }

    /// Takes (removes and returns) up to `max` (at most [`MAX_FETCH`]) delivery
    /// receipts waiting for `sender`, oldest first.
    #[must_use]
    pub fn take_receipts(&self, sender: &Address, max: usize) -> Vec<Receipt> {
        let mut shard = lock(self.shard(self.shard_index(sender)));
        let Entry::Occupied(mut slot) = shard.receipts.entry(sender.clone()) else {
            return Vec::new();
        };
        let waiting = slot.get_mut();
        let count = max.min(MAX_FETCH).min(waiting.len());
        let taken: Vec<Receipt> = waiting.drain(..count).collect();
        if waiting.is_empty() {
            slot.remove();
            self.receipt_holders.fetch_sub(1, Ordering::Relaxed);
        }
        taken
    }

    /// Deletes `device`'s queue and the receipts waiting for it, for a device removed
    /// from its user's list (or an account deleted). Returns how many queued messages
    /// were deleted; their senders get no receipt for them.
    ///
    /// The mailbox does not know device lists: a sender that has not seen the new list
    /// yet can still deliver to the device afterwards, which opens a new queue. A
    /// server checks deliveries against the current list before calling
    /// [`deliver_many`](Self::deliver_many), or prunes again.
    pub fn remove_device(&self, device: &Address) -> usize {
        let mut shard = lock(self.shard(self.shard_index(device)));
        let deleted = shard.queues.remove(device).map_or(0, |queue| {
            self.queue_count.fetch_sub(1, Ordering::Relaxed);
            queue.envelopes.len()
        });
        if shard.receipts.remove(device).is_some() {
            self.receipt_holders.fetch_sub(1, Ordering::Relaxed);
        }
        deleted
    }

    /// How full `recipient`'s queue is.
    #[must_use]
    pub fn queue_stats(&self, recipient: &Address) -> QueueStats {
        let shard = lock(self.shard(self.shard_index(recipient)));
        shard
            .queues
            .get(recipient)
            .map_or_else(QueueStats::default, |queue| QueueStats {
                messages: queue.envelopes.len(),
                bytes: queue.bytes,
            })
    }

    /// How many devices have a non-empty queue.
    #[must_use]
    pub fn queue_count(&self) -> usize {
        self.queue_count.load(Ordering::Relaxed)
    }

    /// How many receipts were dropped because a sender had
    /// [`MailboxLimits::max_pending_receipts`] waiting, or because
    /// [`MailboxLimits::max_devices`] senders already had receipts waiting.
    #[must_use]
    pub fn receipts_dropped(&self) -> u64 {
        self.receipts_dropped.load(Ordering::Relaxed)
    }

    fn check_body(&self, body: &[u8]) -> Result<()> {
        if body.len() > self.limits.max_body_bytes {
            return Err(Error::BodyTooLarge {
                len: body.len(),
                max: self.limits.max_body_bytes,
            });
        }
        Ok(())
    }

    fn queue_full(&self, recipient: &Address) -> Error {
        let _ = self;
        Error::QueueFull {
            address: recipient.clone(),
        }
    }

    /// Appends under the shard lock the caller holds, drawing the id there.
    fn push(
        &self,
        queue: &mut Queue,
        sender: &Address,
        message_type: u8,
        body: Vec<u8>,
        now_ms: u64,
    ) -> MessageId {
        // A read-modify-write always sees the latest value of the counter, and the
        // caller's lock orders the draws of one queue: ids increase along each queue.
        let id = MessageId(self.next_id.fetch_add(1, Ordering::Relaxed));
        queue.bytes = queue.bytes.saturating_add(body.len());
        queue.envelopes.push_back(Envelope {
            id,
            sender: sender.clone(),
            message_type,
            body,
            received_at_ms: now_ms,
        });
        id
    }

    fn push_receipt(&self, shard: &mut Shard, sender: Address, receipt: Receipt) {
        if self.limits.max_pending_receipts == 0 {
            self.receipts_dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let waiting = match shard.receipts.entry(sender) {
            Entry::Occupied(slot) => slot.into_mut(),
            Entry::Vacant(slot) => {
                if !reserve(&self.receipt_holders, 1, self.limits.max_devices) {
                    self.receipts_dropped.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                slot.insert(VecDeque::new())
            }
        };
        if waiting.len() >= self.limits.max_pending_receipts {
            waiting.pop_front();
            self.receipts_dropped.fetch_add(1, Ordering::Relaxed);
        }
        waiting.push_back(receipt);
    }

    fn reserve_queues(&self, count: usize) -> Result<()> {
        if reserve(&self.queue_count, count, self.limits.max_devices) {
            Ok(())
        } else {
            Err(Error::ServerFull {
                max: self.limits.max_devices,
            })
        }
    }

    fn shard_index(&self, address: &Address) -> usize {
        usize::try_from(self.hasher.hash_one(address) % SHARD_COUNT_U64).unwrap_or(0)
    }

    #[allow(
        clippy::indexing_slicing,
        reason = "every index comes from shard_index, reduced modulo SHARD_COUNT, the length"
    )]
    fn shard(&self, index: usize) -> &Mutex<Shard> {
        &self.shards[index]
    }
}

/// The held guard of shard `index`.
fn shard_guard<'g, 's>(
    guards: &'g mut [(usize, MutexGuard<'s, Shard>)],
    index: usize,
) -> Result<&'g mut Shard> {
    guards
        .iter_mut()
        .find(|(held, _)| *held == index)
        .map(|(_, guard)| &mut **guard)
        .ok_or(Error::InvalidArgument("mailbox shard not locked"))
}

/// Adds `count` to `counter` unless that would pass `max`.
fn reserve(counter: &AtomicUsize, count: usize, max: usize) -> bool {
    counter
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |current| {
            current.checked_add(count).filter(|&total| total <= max)
        })
        .is_ok()
}
