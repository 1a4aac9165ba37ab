//! The oracle for deliveries: what must decrypt, what must not, and what a refusal
//! may change.

use hush::{Error, ReceivedKind};
use hush_group::limits::MAX_SENDER_KEY_STATES;

use super::fixture::fixture;
use super::model::{Body, Expect, InFlight, Run, made};
use super::{NOW, address, bug, user_name, user_of};

impl Run {
    /// Delivers `item` to device `at`, claiming it came from `claimed`, and checks the
    /// outcome against the model.
    pub(super) fn deliver(&mut self, item: &InFlight, at: usize, claimed: usize) {
        self.ensure(at);
        let already = self.decrypted.contains(&(at, item.id));
        // The sender is on its list with the identity that made the item (not replaced
        // under its device id since).
        let sender_current = self.is_linked(item.from) && item.from_gen == self.gen_of(item.from);
        let genuine = claimed == item.from && !already;
        match &item.body {
            Body::Pairwise {
                message_type,
                bytes,
                expect,
            } => {
                // Made for this device: its address and the identity it has now.
                let for_me = at == item.to && item.to_gen == self.gen_of(at);
                // `at` recorded the identity the claimed sender's list gives it now.
                let trusted = self.has_accepted(at, claimed);
                let must_decrypt = genuine
                    && for_me
                    && sender_current
                    && trusted
                    && !self.may_be_dropped(at, item);
                let before = (!must_decrypt).then(|| self.snapshot(at));
                let result = {
                    let Self { devices, rng, .. } = self;
                    made(devices, at).decrypt(&address(claimed), *message_type, bytes, NOW, rng)
                };
                match result {
                    Ok(received) => {
                        assert!(!already, "#{}: decrypted twice", item.id);
                        assert_eq!(at, item.to, "#{}: a misrouted envelope decrypted", item.id);
                        assert!(
                            for_me,
                            "#{}: read by the identity that replaced the one it was made for",
                            item.id
                        );
                        assert_eq!(
                            claimed, item.from,
                            "#{}: decrypted under another sender",
                            item.id
                        );
                        assert!(
                            sender_current,
                            "#{}: accepted from an unlisted or replaced device",
                            item.id
                        );
                        assert!(
                            trusted,
                            "#{}: accepted from a changed identity not accepted",
                            item.id
                        );
                        assert_eq!(received.from, address(item.from), "wrong sender reported");
                        self.check_content(at, item, &received.kind, expect);
                        self.decrypted.insert((at, item.id));
                        self.pair_decrypts
                            .entry((at, item.from))
                            .or_default()
                            .push(item.id);
                        if let Some(list) = self.received.get_mut(at) {
                            list.push(item.clone());
                        }
                    }
                    Err(error) => {
                        if must_decrypt {
                            bug(&format!(
                                "#{}: genuine envelope refused: {error:?}",
                                item.id
                            ));
                        }
                        if claimed != at && self.is_linked(claimed) && !trusted {
                            // Checked before anything else is read.
                            assert!(
                                matches!(
                                    &error,
                                    Error::IdentityChanged { address: a, identity_key }
                                        if *a == address(claimed)
                                            && *identity_key == self.key_of(claimed)
                                ),
                                "#{}: from a changed identity not accepted: {error:?}",
                                item.id
                            );
                        } else if genuine && for_me {
                            if sender_current {
                                assert_eq!(
                                    error,
                                    Error::Session(hush_ratchet::Error::DecryptionFailed),
                                    "#{}: an old envelope failed otherwise",
                                    item.id
                                );
                            } else if !self.is_linked(item.from) {
                                assert!(
                                    matches!(error, Error::UntrustedDevice { .. }),
                                    "#{}: unlisted sender refused with {error:?}",
                                    item.id
                                );
                            } else {
                                // Made by the identity the sender's address had before:
                                // refused for that identity, or for want of its session.
                                assert!(
                                    matches!(
                                        error,
                                        Error::UntrustedDevice { .. }
                                            | Error::Session(
                                                hush_ratchet::Error::NoSession
                                                    | hush_ratchet::Error::DecryptionFailed
                                            )
                                    ),
                                    "#{}: a replaced sender refused with {error:?}",
                                    item.id
                                );
                            }
                        }
                        if let Some(before) = before {
                            assert!(
                                before == self.snapshot(at),
                                "#{}: a refused envelope changed the store ({error:?})",
                                item.id
                            );
                        }
                    }
                }
            }
            Body::Group {
                bytes,
                group,
                chain,
                iteration,
                plaintext,
                intended,
            } => {
                let member_users = self.member_users(*group);
                let is_member = |slot: usize| {
                    user_of(slot) == user_of(at) || member_users.contains(&user_of(slot))
                };
                let must_decrypt = genuine
                    && sender_current
                    && is_member(item.from)
                    && self.holds(at, item.from, *group, *chain, *iteration);
                let before = (!must_decrypt).then(|| self.snapshot(at));
                let members: Vec<&str> = member_users.iter().map(|&u| user_name(u)).collect();
                let result = self
                    .dev(at)
                    .decrypt_group(&address(claimed), bytes, &members, NOW);
                match result {
                    Ok(received) => {
                        assert!(!already, "group #{}: decrypted twice", item.id);
                        assert_eq!(claimed, item.from, "group #{}: another sender", item.id);
                        assert!(
                            sender_current,
                            "group #{}: accepted from a device replaced under its device id \
                             (or unlisted) since it sent",
                            item.id
                        );
                        assert!(
                            is_member(claimed),
                            "group #{}: accepted from {}, whose user is not a member",
                            item.id,
                            address(claimed)
                        );
                        assert!(
                            intended.contains(&(at, self.gen_of(at))),
                            "group #{}: read by {} (generation {}), which was not a member \
                             device when it was sent",
                            item.id,
                            address(at),
                            self.gen_of(at)
                        );
                        assert!(
                            must_decrypt,
                            "group #{}: decrypted without the chain",
                            item.id
                        );
                        assert_eq!(received.plaintext.as_slice(), plaintext.as_slice());
                        let fx = fixture();
                        assert_eq!(Some(&received.distribution_id), fx.groups.get(*group));
                        self.decrypted.insert((at, item.id));
                        if let Some(list) = self.received.get_mut(at) {
                            list.push(item.clone());
                        }
                    }
                    Err(error) => {
                        if must_decrypt {
                            bug(&format!("group #{}: refused: {error:?}", item.id));
                        }
                        if !is_member(claimed) {
                            assert!(
                                matches!(error, Error::NotGroupMember { .. }),
                                "group #{}: a non-member refused for another reason ({error:?})",
                                item.id
                            );
                        } else if claimed == item.from
                            && claimed != at
                            && self.is_linked(claimed)
                            && item.from_gen != self.gen_of(claimed)
                        {
                            // A replaced device's message under the address its successor
                            // holds: refused for the chain's distributor while `at` holds
                            // that chain, for want of a chain otherwise.
                            let fits = match self.held_by(at, claimed, *group, *chain) {
                                Some(by) if by != self.gen_of(claimed) => {
                                    matches!(error, Error::UntrustedDevice { .. })
                                }
                                _ => matches!(
                                    error,
                                    Error::Group(hush_group::Error::NoSenderKeyState { .. })
                                ),
                            };
                            assert!(
                                fits,
                                "group #{}: a replaced device's message refused with {error:?}",
                                item.id
                            );
                        }
                        if let Some(before) = before {
                            assert!(
                                before == self.snapshot(at),
                                "group #{}: a refused message changed the store ({error:?})",
                                item.id
                            );
                        }
                    }
                }
            }
        }
    }

    fn check_content(&mut self, at: usize, item: &InFlight, kind: &ReceivedKind, expect: &Expect) {
        match (kind, expect) {
            (ReceivedKind::Direct { plaintext }, Expect::Direct(sent)) => {
                assert_eq!(
                    plaintext.as_slice(),
                    sent.as_slice(),
                    "#{}: wrong text",
                    item.id
                );
            }
            (
                ReceivedKind::SentTranscript { to_user, plaintext },
                Expect::Transcript {
                    to_user: sent_to,
                    plaintext: sent,
                },
            ) => {
                assert_eq!(
                    to_user,
                    user_name(*sent_to),
                    "#{}: wrong transcript",
                    item.id
                );
                assert_eq!(
                    plaintext.as_slice(),
                    sent.as_slice(),
                    "#{}: wrong text",
                    item.id
                );
            }
            (
                ReceivedKind::GroupDistribution { distribution_id },
                Expect::Distribution {
                    group,
                    chain,
                    iteration,
                },
            ) => {
                let fx = fixture();
                assert_eq!(Some(distribution_id), fx.groups.get(*group));
                // Bound to the identity that sent it: chains of another identity at
                // that address are dropped.
                let by = item.from_gen;
                let held = self.chains.entry((at, item.from, *group)).or_default();
                held.retain(|&(_, _, other)| other == by);
                let first = match held.iter().position(|&(c, _, _)| c == *chain) {
                    Some(i) => held.remove(i).1,
                    None => *iteration,
                };
                held.insert(0, (*chain, first, by));
                held.truncate(MAX_SENDER_KEY_STATES);
            }
            (kind, expect) => bug(&format!("#{}: received {kind:?}, sent {expect:?}", item.id)),
        }
    }
}
