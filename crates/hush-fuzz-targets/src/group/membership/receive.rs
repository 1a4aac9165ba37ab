//! Reading and posting: identities process the hub's distribution messages and decrypt
//! its messages, post on chains of their own, and the hub reads their posts.

use hush_group::limits::MAX_SENDER_KEY_STATES;
use hush_group::{Error, SenderKeyRecord, SenderKeyTracker};

use super::{
    ADDRESSES, Held, Membership, Post, Script, address, bug, cast, distribution_id, hold, key,
    reload,
};
use crate::group::unexpected;

impl Membership {
    pub(super) fn process_at_identity(&mut self, script: &mut Script<'_>) {
        let (slot, generation) = self.any_identity(script);
        let pick = script.byte();
        let hub = cast().hub;
        let identity = self.identity_mut(slot, generation);
        let len = identity.on_the_way.len();
        let Some(distribution) = (len > 0)
            .then(|| identity.on_the_way.get(usize::from(pick) % len))
            .flatten()
            .cloned()
        else {
            return;
        };
        identity
            .inbox
            .process_distribution_from(&distribution, &hub)
            .unwrap_or_else(|e| unexpected("processing the hub's distribution", &e));
        hold(&mut identity.held, &distribution);
    }

    pub(super) fn decrypt_at_identity(&mut self, script: &mut Script<'_>) {
        let (slot, generation) = self.any_identity(script);
        let Some(index) = script.pick(self.sent.len()) else {
            return;
        };
        let wrong_key = script.byte() & 1 == 1;
        let Some(sent) = self.sent.get(index) else {
            return;
        };
        let presented = if wrong_key {
            key(slot, generation)
        } else {
            cast().hub
        };
        let (chain, iteration) = (sent.message.chain_id(), sent.message.iteration());
        let identity = self
            .identities
            .get_mut(slot)
            .and_then(|g| g.get_mut(generation))
            .unwrap_or_else(|| bug("identity"));
        let first = identity
            .held
            .iter()
            .find(|&&(c, _)| c == chain)
            .map(|&(_, first)| first);
        let already = identity.decrypted.contains(&index);
        let before = identity.inbox.encode();
        match identity.inbox.decrypt_from(&sent.message, &presented) {
            Ok(plaintext) => {
                assert!(
                    sent.readers.contains(&(slot, generation)),
                    "hub message {index} (chain {chain}) read by {} generation {generation}, \
                     which was not a member when it was sent",
                    address(slot)
                );
                assert!(!wrong_key, "decrypted under another distributor's key");
                assert_eq!(*plaintext, sent.plaintext, "decrypted to something else");
                assert!(!already, "decrypted twice");
                assert!(
                    first.is_some_and(|first| first <= iteration),
                    "decrypted without its chain"
                );
                identity.decrypted.insert(index);
            }
            Err(error) => {
                assert!(
                    identity.inbox.encode() == before,
                    "a refused hub message changed the record ({error:?})"
                );
                let fits = match first {
                    None => matches!(error, Error::NoSenderKeyState { .. }),
                    Some(_) if wrong_key => matches!(error, Error::DistributorMismatch { .. }),
                    Some(first) if already || first > iteration => {
                        matches!(error, Error::DuplicateMessage { .. })
                    }
                    Some(_) => false,
                };
                assert!(
                    fits,
                    "hub message {index} at {} generation {generation}: {error:?} \
                     (held from {first:?}, already {already})",
                    address(slot)
                );
            }
        }
    }

    pub(super) fn post(&mut self, script: &mut Script<'_>) {
        let (slot, generation) = self.any_identity(script);
        let plaintext = script.plaintext("post");
        let new_chain = script.byte() & 1 == 1;
        let identity = self.identity_mut(slot, generation);
        let record = identity
            .outbox
            .get_or_insert_with(|| SenderKeyRecord::new(distribution_id()));
        let before = record.sending_chain_id();
        if new_chain {
            record.rotate();
        }
        let distribution = record.create_distribution(&mut identity.rng);
        let message = record
            .encrypt(&plaintext, &mut identity.rng)
            .unwrap_or_else(|e| unexpected("posting", &e));
        if before != Some(distribution.chain_id()) {
            self.to_hub.push((slot, generation, distribution));
        }
        self.posts.push(Post {
            slot,
            generation,
            message,
            plaintext,
        });
    }

    pub(super) fn process_at_hub(&mut self, script: &mut Script<'_>) {
        let Some(index) = script.pick(self.to_hub.len()) else {
            return;
        };
        let Some((slot, generation, distribution)) = self.to_hub.get(index).cloned() else {
            return;
        };
        let s = self.slot_mut(slot);
        if s.current != generation {
            // The pairwise session it would come over no longer authenticates.
            return;
        }
        s.inbox
            .process_distribution_from(&distribution, &key(slot, generation))
            .unwrap_or_else(|e| unexpected("processing a member's distribution", &e));
        s.held.retain(|held| held.generation == generation);
        let chain = distribution.chain_id();
        let first = match s.held.iter().position(|held| held.chain == chain) {
            Some(position) => s.held.remove(position).first,
            None => distribution.iteration(),
        };
        s.held.insert(
            0,
            Held {
                chain,
                first,
                generation,
            },
        );
        s.held.truncate(MAX_SENDER_KEY_STATES);
    }

    pub(super) fn decrypt_at_hub(&mut self, script: &mut Script<'_>) {
        let Some(index) = script.pick(self.posts.len()) else {
            return;
        };
        let shift = script.byte();
        let Some(post) = self.posts.get(index) else {
            return;
        };
        let claimed = if shift & 1 == 1 {
            (post.slot + 1 + usize::from(shift >> 1) % (ADDRESSES.len() - 1)) % ADDRESSES.len()
        } else {
            post.slot
        };
        let (chain, iteration) = (post.message.chain_id(), post.message.iteration());
        let already = self.hub_decrypted.contains(&index);
        let s = self.slots.get_mut(claimed).unwrap_or_else(|| bug("slot"));
        let presented = key(claimed, s.current);
        let held = s.held.iter().find(|held| held.chain == chain).copied();
        let before = s.inbox.encode();
        match s.inbox.decrypt_from(&post.message, &presented) {
            Ok(plaintext) => {
                assert!(
                    claimed == post.slot && post.generation == s.current,
                    "a post by {} generation {} accepted under {} generation {}",
                    address(post.slot),
                    post.generation,
                    address(claimed),
                    s.current
                );
                assert_eq!(*plaintext, post.plaintext, "decrypted to something else");
                assert!(!already, "a post decrypted twice");
                assert!(
                    held.is_some_and(|h| h.generation == post.generation && h.first <= iteration),
                    "a post decrypted without its chain"
                );
                self.hub_decrypted.insert(index);
            }
            Err(error) => {
                assert!(
                    s.inbox.encode() == before,
                    "a refused post changed the record ({error:?})"
                );
                let fits = match held {
                    None => matches!(error, Error::NoSenderKeyState { .. }),
                    Some(h) if h.generation != s.current => {
                        matches!(error, Error::DistributorMismatch { .. })
                    }
                    Some(h) if already || h.first > iteration => {
                        matches!(error, Error::DuplicateMessage { .. })
                    }
                    Some(_) => false,
                };
                assert!(
                    fits,
                    "post {index} by {} generation {} under {}: {error:?}",
                    address(post.slot),
                    post.generation,
                    address(claimed)
                );
            }
        }
    }

    pub(super) fn reload(&mut self, script: &mut Script<'_>) {
        match script.byte() % 3 {
            0 => match SenderKeyTracker::decode(&self.tracker.encode()) {
                Ok(again) => self.tracker = again,
                Err(error) => unexpected("reloading the tracker", &error),
            },
            1 => {
                let (slot, generation) = self.any_identity(script);
                reload(&mut self.identity_mut(slot, generation).inbox);
            }
            _ => {
                let slot = script.slot();
                reload(&mut self.slot_mut(slot).inbox);
            }
        }
    }
}
