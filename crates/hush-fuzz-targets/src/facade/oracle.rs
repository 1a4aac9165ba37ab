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
        let sender_listed = self.is_linked(item.from);
        let genuine = claimed == item.from && !already;
        match &item.body {
            Body::Pairwise {
                message_type,
                bytes,
                expect,
            } => {
                let must_decrypt =
                    genuine && at == item.to && sender_listed && !self.may_be_dropped(at, item);
                let before = (!must_decrypt).then(|| self.snapshot(at));
                let result = {
                    let Self { devices, rng, .. } = self;
                    made(devices, at).decrypt(&address(claimed), *message_type, bytes, NOW, rng)
                };
                match result {
                    Ok(received) => {
                        assert!(!already, "#{}: decrypted twice", item.id);
                        assert_eq!(at, item.to, "#{}: a misrouted envelope decrypted", item.id);
                        assert_eq!(
                            claimed, item.from,
                            "#{}: decrypted under another sender",
                            item.id
                        );
                        assert!(
                            sender_listed,
                            "#{}: accepted from an unlisted device",
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
                        if genuine && at == item.to {
                            if sender_listed {
                                assert_eq!(
                                    error,
                                    Error::Session(hush_ratchet::Error::DecryptionFailed),
                                    "#{}: an old envelope failed otherwise",
                                    item.id
                                );
                            } else {
                                assert!(
                                    matches!(error, Error::UntrustedDevice { .. }),
                                    "#{}: unlisted sender refused with {error:?}",
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
                    && sender_listed
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
                            intended.contains(&at),
                            "group #{}: read by a device that was not a member",
                            item.id
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
                let held = self.chains.entry((at, item.from, *group)).or_default();
                let first = match held.iter().position(|&(c, _)| c == *chain) {
                    Some(i) => held.remove(i).1,
                    None => *iteration,
                };
                held.insert(0, (*chain, first));
                held.truncate(MAX_SENDER_KEY_STATES);
            }
            (kind, expect) => bug(&format!("#{}: received {kind:?}, sent {expect:?}", item.id)),
        }
    }
}
