//! One-to-one receives: pairwise messages, first messages, and what they carry.

use hush_core::IdentityKey;
use hush_core::rng::CryptoRng;
use hush_group::{SenderKeyDistributionMessage, SenderKeyRecord};
use hush_ratchet::{CiphertextMessage, PreKeySignalMessage, SessionOptions, SessionRecord};
use hush_x3dh::{AgreementMode, ResponderPreKeys, Trust};
use zeroize::Zeroizing;

use crate::Address;
use crate::error::{Error, Result};
use crate::store::{SenderKeyStore, SessionStore, Store, Transaction};

use super::{Content, Device, Received, ReceivedKind, check_identity, expect_identity, untrusted};

impl<S: Store> Device<S> {
    /// Decrypts a pairwise message from `from` (`message_type` 2 or 3, as the
    /// [`Envelope`](super::Envelope) carried). `from` must be on its user's verified device
    /// list (this account's own list for its own other devices) with the identity key the
    /// message or its session carries. A first message (type 3) takes the prekeys it names
    /// from the store and deletes the one-time EC and KEM prekeys it consumed; a
    /// last-resort KEM prekey is kept and the (KEM prekey, signed prekey, base key) triple
    /// remembered, so the same first message is refused the second time. Everything happens
    /// in one transaction, committed only if the message decrypted and its content was well
    /// formed.
    ///
    /// # Errors
    ///
    /// [`Error::NoDeviceList`] if `from`'s user has no accepted list (fetch it and retry);
    /// [`Error::UntrustedDevice`] if `from` is not on it or presents another key;
    /// [`Error::Device`]`(CompanionExpired)` for a companion of a list older than the
    /// policy allows; [`Error::IdentityChanged`]; [`Error::Session`] (malformed message,
    /// `DecryptionFailed`, `DuplicateMessage`, `MissingPreKeys`, `ReusedBaseKey`, ...);
    /// [`Error::MalformedContent`] / [`Error::UnknownContentVersion`];
    /// [`Error::Group`] for a bad distribution message; [`Error::Store`]. The store is
    /// unchanged on every error.
    pub fn decrypt<R: CryptoRng + ?Sized>(
        &self,
        from: &Address,
        message_type: u8,
        body: &[u8],
        now_ms: u64,
        rng: &mut R,
    ) -> Result<Received> {
        let mut tx = self.store.transaction()?;
        let expected = self.sender_identity(&mut tx, from, now_ms)?;
        check_identity(&mut tx, from, &expected)?;
        let trust = expect_identity(expected);
        let message = CiphertextMessage::decode(message_type, body)?;
        let mut record = tx.session(from)?.unwrap_or_default();
        let options = self.session_options(from);
        let plaintext = match &message {
            CiphertextMessage::Signal(message) => record
                .decrypt(message, options, &trust, rng)
                .map_err(untrusted(from))?,
            CiphertextMessage::PreKey(message) => {
                if *message.identity_key() != expected {
                    return Err(Error::UntrustedDevice {
                        address: from.clone(),
                    });
                }
                self.decrypt_prekey(&mut tx, &mut record, message, &trust, from, options, rng)?
            }
        };
        tx.put_session(from, &record)?;
        let kind = match Content::decode(&plaintext)? {
            Content::Direct { plaintext } => ReceivedKind::Direct { plaintext },
            Content::SentTranscript { to_user, plaintext } => {
                if from.name() != self.account.user {
                    return Err(Error::MalformedContent(
                        "sent transcript from another account",
                    ));
                }
                ReceivedKind::SentTranscript { to_user, plaintext }
            }
            Content::SenderKeyDistribution { message } => {
                let message = SenderKeyDistributionMessage::decode(&message)?;
                let distribution_id = message.distribution_id();
                let mut record = tx
                    .sender_key(from, distribution_id)?
                    .unwrap_or_else(|| SenderKeyRecord::new(distribution_id));
                record.process_distribution_from(&message, &expected)?;
                tx.put_sender_key(from, distribution_id, &record)?;
                ReceivedKind::GroupDistribution { distribution_id }
            }
        };
        tx.commit()?;
        Ok(Received {
            from: from.clone(),
            kind,
        })
    }

    /// The identity key `from`'s verified list gives it, if it may send at `now_ms`.
    pub(super) fn sender_identity<T: Transaction>(
        &self,
        tx: &mut T,
        from: &Address,
        now_ms: u64,
    ) -> Result<IdentityKey> {
        if *from == self.address {
            return Err(Error::UntrustedDevice {
                address: from.clone(),
            });
        }
        let list = self.verified_list(tx, from.name())?;
        let key = list
            .devices()
            .iter()
            .find(|e| e.device_id == from.device_id())
            .map(|e| e.identity_key)
            .ok_or_else(|| Error::UntrustedDevice {
                address: from.clone(),
            })?;
        list.check_device(from.device_id(), &key, now_ms)?;
        Ok(key)
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "the responder needs each of these"
    )]
    fn decrypt_prekey<T: Transaction, R: CryptoRng + ?Sized>(
        &self,
        tx: &mut T,
        record: &mut SessionRecord,
        message: &PreKeySignalMessage,
        trust: &impl Fn(&IdentityKey) -> Trust,
        from: &Address,
        options: SessionOptions,
        rng: &mut R,
    ) -> Result<Zeroizing<Vec<u8>>> {
        if record.has_session_for(message) {
            let out = record
                .decrypt_prekey(
                    message,
                    self.local(),
                    None,
                    AgreementMode::Pqxdh,
                    options,
                    trust,
                    rng,
                )
                .map_err(untrusted(from))?;
            return Ok(out.plaintext);
        }
        let missing = || {
            Error::Session(hush_ratchet::Error::MissingPreKeys {
                signed_prekey_id: message.signed_pre_key_id(),
                one_time_prekey_id: message.pre_key_id(),
                kem_prekey_id: message.kem_pre_key_id(),
            })
        };
        let signed = tx
            .signed_prekey(message.signed_pre_key_id())?
            .ok_or_else(missing)?;
        let one_time = match message.pre_key_id() {
            Some(id) => Some(tx.one_time_prekey(id)?.ok_or_else(missing)?),
            None => None,
        };
        let kem = match message.kem_pre_key_id() {
            Some(id) => Some(tx.kem_prekey(id)?.ok_or_else(missing)?),
            None => None,
        };
        let reused = match kem.as_ref().filter(|k| k.is_last_resort()) {
            Some(kem) => tx.last_resort_used(kem.id(), signed.id(), message.base_key())?,
            None => false,
        };
        if reused {
            return Err(Error::Session(hush_ratchet::Error::ReusedBaseKey));
        }
        let keys = ResponderPreKeys {
            signed_prekey: signed.key_pair(),
            one_time_prekey: one_time.as_ref().map(hush_prekey::PreKeyRecord::key_pair),
            kem_prekey: kem.as_ref().map(|k| k.key_pair().secret_key()),
        };
        let out = record
            .decrypt_prekey(
                message,
                self.local(),
                Some(keys),
                AgreementMode::Pqxdh,
                options,
                trust,
                rng,
            )
            .map_err(untrusted(from))?;
        if let Some(id) = out.used_one_time_prekey {
            tx.remove_one_time_prekey(id)?;
        }
        if let (Some(id), Some(kem)) = (out.used_kem_prekey, kem.as_ref()) {
            if kem.is_last_resort() {
                tx.record_last_resort_use(id, out.signed_prekey_id, &out.base_key)?;
            } else {
                tx.remove_kem_prekey(id)?;
            }
        }
        Ok(out.plaintext)
    }
}
