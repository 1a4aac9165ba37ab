//! `sender_key.json` (libsignal v0.91.0): group messages under sender keys, replayed from
//! the random bytes libsignal drew.
//!
//! For each session (one distribution id), hush rebuilds the sender from the recorded
//! creation bytes through its real API: the distribution message must equal libsignal's
//! byte for byte, with exactly the recorded bytes drawn. The sender then encrypts every
//! message in iteration order from its recorded signature bytes, and each must equal
//! libsignal's. A receiver processes libsignal's distribution message and decrypts
//! libsignal's messages in the recorded delivery order (reloading its record after each
//! one): every message marked `decrypts` must give its plaintext, any other must be
//! refused without changing the record. Finally the duplicate of iteration 3 must be
//! refused as a duplicate, changing nothing.
//!
//! Cases: one per distribution message, one per encryption, one per decryption, one per
//! duplicate check.

use std::path::Path;

use hush_group::{
    DistributionId, Error, SenderKeyDistributionMessage, SenderKeyMessage, SenderKeyRecord,
};
use hush_test_support::ReplayRng;
use hush_test_support::libsignal::sender_key::{File, Message, Session};

use super::{Report, expect, expect_bytes, read_json, unhex};

/// Checks `sender_key.json`.
pub(crate) fn check(path: &Path, report: &mut Report) {
    let file: File = match read_json(path) {
        Ok(file) => file,
        Err(what) => return report.unreadable(path, &what),
    };
    if file.sessions.is_empty() {
        return report.unreadable(path, "holds no sessions");
    }
    for session in &file.sessions {
        let name = format!("session {}", session.distribution_id);
        let id = match session.distribution_id.parse::<DistributionId>() {
            Ok(id) => id,
            Err(e) => {
                report.case(path, &name, Err(format!("distribution id: {e}")));
                continue;
            }
        };
        check_sender(path, report, &name, id, session);
        check_receiver(path, report, &name, session);
    }
}

/// Replays the sender: creation, then every message in iteration order.
fn check_sender(
    path: &Path,
    report: &mut Report,
    name: &str,
    id: DistributionId,
    session: &Session,
) {
    let mut record = SenderKeyRecord::new(id);
    let outcome = (|| {
        let mut rng = ReplayRng::new(unhex("creation_rng", &session.skdm.creation_rng)?);
        let skdm = record.create_distribution(&mut rng);
        expect(!rng.overrun() && rng.remaining() == 0, || {
            format!(
                "creation drew other than the recorded bytes ({} left)",
                rng.remaining()
            )
        })?;
        expect_bytes(
            "distribution message",
            skdm.as_bytes(),
            &unhex("skdm.serialized", &session.skdm.serialized)?,
        )
    })();
    let created = outcome.is_ok();
    report.case(path, &format!("{name} distribution message"), outcome);
    if !created {
        return;
    }

    let mut by_iteration: Vec<&Message> = session.messages_in_delivery_order.iter().collect();
    by_iteration.sort_by_key(|message| message.iteration);
    for message in by_iteration {
        let outcome = (|| {
            let mut rng = ReplayRng::new(unhex("sender_rng", &message.sender_rng)?);
            let encrypted = record
                .encrypt(&unhex("plaintext", &message.plaintext)?, &mut rng)
                .map_err(|e| format!("encrypt failed: {e}"))?;
            expect(!rng.overrun() && rng.remaining() == 0, || {
                format!(
                    "encryption drew other than the recorded bytes ({} left)",
                    rng.remaining()
                )
            })?;
            expect(encrypted.iteration() == message.iteration, || {
                format!("encrypted at iteration {}", encrypted.iteration())
            })?;
            expect_bytes(
                "message",
                encrypted.as_bytes(),
                &unhex("serialized", &message.serialized)?,
            )
        })();
        report.case(
            path,
            &format!("{name} encrypt iteration {}", message.iteration),
            outcome,
        );
    }
}

/// Replays the receiver in delivery order, then the duplicate.
fn check_receiver(path: &Path, report: &mut Report, name: &str, session: &Session) {
    let skdm = match unhex("skdm.serialized", &session.skdm.serialized).and_then(|bytes| {
        SenderKeyDistributionMessage::decode(&bytes)
            .map_err(|e| format!("distribution message: {e}"))
    }) {
        Ok(skdm) => skdm,
        Err(what) => return report.case(path, &format!("{name} receiver"), Err(what)),
    };
    let mut record = SenderKeyRecord::new(skdm.distribution_id());
    let fields = expect(
        skdm.chain_id() == session.skdm.chain_id && skdm.iteration() == session.skdm.iteration,
        || {
            format!(
                "distribution message decodes to chain {} iteration {}",
                skdm.chain_id(),
                skdm.iteration()
            )
        },
    );
    if let Err(what) = fields.and_then(|()| {
        record
            .process_distribution(&skdm)
            .map_err(|e| format!("processing failed: {e}"))
    }) {
        return report.case(path, &format!("{name} receiver"), Err(what));
    }

    for (position, message) in session.messages_in_delivery_order.iter().enumerate() {
        let outcome = (|| {
            let parsed = SenderKeyMessage::decode(&unhex("serialized", &message.serialized)?)
                .map_err(|e| format!("message does not decode: {e}"))?;
            expect(
                parsed.chain_id() == message.chain_id && parsed.iteration() == message.iteration,
                || {
                    format!(
                        "decodes to chain {} iteration {}",
                        parsed.chain_id(),
                        parsed.iteration()
                    )
                },
            )?;
            let before = record.encode();
            match (record.decrypt(&parsed), message.decrypts) {
                (Ok(plaintext), true) => {
                    expect_bytes(
                        "plaintext",
                        &plaintext,
                        &unhex("plaintext", &message.plaintext)?,
                    )?;
                }
                (Ok(_), false) => return Err("decrypted a message libsignal refused".to_owned()),
                (Err(e), true) => return Err(format!("decrypt failed: {e}")),
                (Err(_), false) => {
                    expect(record.encode() == before, || {
                        "a refusal changed the record".to_owned()
                    })?;
                }
            }
            // Store and reload, as an app does between messages.
            record = SenderKeyRecord::decode(&record.encode())
                .map_err(|e| format!("record does not reload: {e}"))?;
            Ok(())
        })();
        report.case(
            path,
            &format!(
                "{name} decrypt #{position} (iteration {})",
                message.iteration
            ),
            outcome,
        );
    }

    let outcome = (|| {
        let third = session
            .messages_in_delivery_order
            .iter()
            .find(|message| message.iteration == 3)
            .ok_or("no message at iteration 3")?;
        let parsed = SenderKeyMessage::decode(&unhex("serialized", &third.serialized)?)
            .map_err(|e| format!("message does not decode: {e}"))?;
        let before = record.encode();
        match record.decrypt(&parsed) {
            Err(Error::DuplicateMessage { iteration: 3, .. }) => {
                expect(session.duplicate_of_iteration_3_rejected, || {
                    "refused a duplicate libsignal accepted".to_owned()
                })?;
                expect(record.encode() == before, || {
                    "the refusal changed the record".to_owned()
                })
            }
            Err(e) => Err(format!("expected a duplicate, got: {e}")),
            Ok(_) => Err("decrypted the duplicate of iteration 3".to_owned()),
        }
    })();
    report.case(path, &format!("{name} duplicate of iteration 3"), outcome);
}
