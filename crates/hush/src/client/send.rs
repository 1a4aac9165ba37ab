//! One-to-one sends: to every device of a user and this account's own other devices.

use std::time::SystemTime;

use hush_core::IdentityKey;
use hush_core::rng::CryptoRng;
use hush_prekey::PreKeyBundle;
use hush_ratchet::{RemoteBundle, SessionRecord};
use hush_x3dh::AgreementMode;

use crate::Address;
use crate::error::{Error, Result};
use crate::limits::MAX_PLAINTEXT_LEN;
use crate::store::{Peer, Store, Transaction};

use super::{
    Device, Envelope, SendPlan, check_known_identity, check_user, content, expect_identity,
    system_time, untrusted, with_peers,
};

impl<S: Store> Device<S> {
    /// The devices a message to `user` would go to that have no usable session (none,
    /// or one with an identity key other than the list's, or one without the post-quantum
    /// ratchet while [`Device::spqr_policy`] requires it): fetch their bundles, then call
    /// [`Device::encrypt`].
    ///
    /// It reads only, with one exception: on the primary, when its own device list is
    /// due for a refresh ([`Device::refresh_device_list`]), it signs the list again and
    /// stores it, and the plan carries it in [`SendPlan::device_list`] for the app to
    /// upload. So an account in use keeps its companions receiving without the app
    /// having to remember a timer.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`]; [`Error::NoDeviceList`] if `user`'s list was never
    /// accepted; [`Error::Store`]. Nothing is stored on error.
    pub fn prepare_send<R: CryptoRng + ?Sized>(
        &self,
        user: &str,
        now_ms: u64,
        rng: &mut R,
    ) -> Result<SendPlan> {
        check_user(user)?;
        let mut tx = self.store.transaction()?;
        let device_list = self.refresh_in(&mut tx, now_ms, rng)?;
        let targets = self.targets(&mut tx, user, now_ms)?;
        let need_bundles = with_peers(&mut tx, targets)?
            .into_iter()
            .filter(|(_, key, _, peer)| {
                peer.session.as_ref().is_none_or(|record| {
                    record.remote_identity() != Some(*key) || !self.usable_under_policy(record)
                })
            })
            .map(|(address, _, _, _)| address)
            .collect();
        if device_list.is_some() {
            tx.commit()?;
        }
        Ok(SendPlan {
            need_bundles,
            device_list,
        })
    }

    /// Encrypts `plaintext` for every device on `user`'s verified list (a direct
    /// message) and for this account's own other devices (a sent transcript naming
    /// `user`), starting sessions from `bundles` where there is none (bundles for
    /// devices that have a usable session are ignored). All in one transaction: on any
    /// error nothing is stored and nothing should be sent.
    ///
    /// Sending to this account's own user sends only the transcripts (a note to self).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (bad user, plaintext longer than
    /// [`MAX_PLAINTEXT_LEN`](crate::limits::MAX_PLAINTEXT_LEN), a bundle whose device id
    /// differs from its address); [`Error::NoDeviceList`]; [`Error::MissingBundle`];
    /// [`Error::PreKey`] for a bundle that does not decode or whose signatures fail;
    /// [`Error::UntrustedDevice`] for a bundle whose identity key is not the one the
    /// device list gives; [`Error::IdentityChanged`] when the list gives a device a key
    /// other than the one recorded; [`Error::Session`]; [`Error::Store`].
    pub fn encrypt<R: CryptoRng + ?Sized>(
        &self,
        user: &str,
        plaintext: &[u8],
        bundles: &[(Address, &[u8])],
        now_ms: u64,
        rng: &mut R,
    ) -> Result<Vec<Envelope>> {
        check_user(user)?;
        if plaintext.len() > MAX_PLAINTEXT_LEN {
            return Err(Error::InvalidArgument(
                "plaintext longer than MAX_PLAINTEXT_LEN",
            ));
        }
        let now = system_time(now_ms)?;
        let direct = content::encode_direct(plaintext)?;
        let transcript = content::encode_sent_transcript(user, plaintext)?;
        let mut tx = self.store.transaction()?;
        let targets = self.targets(&mut tx, user, now_ms)?;
        let targets = with_peers(&mut tx, targets)?;
        let mut envelopes = Vec::with_capacity(targets.len());
        for (address, key, own, peer) in targets {
            let content = if own { &transcript } else { &direct };
            envelopes
                .push(self.encrypt_to(&mut tx, &address, &key, peer, content, bundles, now, rng)?);
        }
        tx.commit()?;
        Ok(envelopes)
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "one pairwise send needs each of these"
    )]
    pub(super) fn encrypt_to<T: Transaction, R: CryptoRng + ?Sized>(
        &self,
        tx: &mut T,
        to: &Address,
        expected: &IdentityKey,
        peer: Peer,
        content: &[u8],
        bundles: &[(Address, &[u8])],
        now: SystemTime,
        rng: &mut R,
    ) -> Result<Envelope> {
        check_known_identity(tx, to, peer.identity, expected)?;
        let trust = expect_identity(*expected);
        let mut record = peer.session.unwrap_or_default();
        if record.remote_identity() != Some(*expected) {
            self.start_session(&mut record, to, expected, bundles, now, rng)?;
        }
        let options = self.session_options(to);
        let message = match record.encrypt(content, options, &trust, now, rng) {
            // An unanswered session too old to use, or one stored before SPQR while the
            // policy requires it: start over if the app gave a bundle.
            Err(hush_ratchet::Error::SessionExpired | hush_ratchet::Error::SpqrRequired)
                if find_bundle(bundles, to).is_some() =>
            {
                self.start_session(&mut record, to, expected, bundles, now, rng)?;
                record.encrypt(content, options, &trust, now, rng)
            }
            other => other,
        }
        .map_err(untrusted(to))?;
        tx.put_session(to, &record)?;
        Ok(Envelope {
            to: to.clone(),
            message_type: message.message_type(),
            body: message.encode().to_vec(),
        })
    }

    pub(super) fn start_session<R: CryptoRng + ?Sized>(
        &self,
        record: &mut SessionRecord,
        to: &Address,
        expected: &IdentityKey,
        bundles: &[(Address, &[u8])],
        now: SystemTime,
        rng: &mut R,
    ) -> Result<()> {
        let bytes = find_bundle(bundles, to).ok_or_else(|| Error::MissingBundle {
            address: to.clone(),
        })?;
        let bundle = PreKeyBundle::decode(bytes)?;
        if bundle.device_id() != to.device_id() {
            return Err(Error::InvalidArgument("bundle is for another device id"));
        }
        if bundle.identity_key() != expected {
            return Err(Error::UntrustedDevice {
                address: to.clone(),
            });
        }
        bundle.verify_signatures()?;
        let trust = expect_identity(*expected);
        record
            .initiate(
                self.local(),
                &RemoteBundle::from(&bundle),
                AgreementMode::Pqxdh,
                self.session_options(to),
                &trust,
                now,
                rng,
            )
            .map_err(untrusted(to))
    }
}

impl<S: Store> Device<S> {
    /// Whether the policy lets `record`'s current session be used: under
    /// [`SpqrPolicy::Required`](hush_ratchet::SpqrPolicy::Required) it must run SPQR.
    fn usable_under_policy(&self, record: &SessionRecord) -> bool {
        self.spqr != hush_ratchet::SpqrPolicy::Required || record.current_runs_spqr() != Some(false)
    }
}

fn find_bundle<'b>(bundles: &[(Address, &'b [u8])], to: &Address) -> Option<&'b [u8]> {
    bundles
        .iter()
        .find(|(address, _)| address == to)
        .map(|(_, bytes)| *bytes)
}
