//! `hush interop-peer`: one party of a conversation, driven by JSON lines on stdin as
//! `../shared/interop/PROTOCOL.md` describes. Replies go to stdout, one JSON object per
//! line; nothing else is printed there. A bad command or bad bytes get `ok: false` and
//! leave the peer's state as it was.
//!
//! `--spqr required|allowed|off` (default `required`, libsignal v0.101's rule) is the
//! SPQR policy of every session the peer starts or accepts: `required` interoperates with
//! libsignal v0.101, `off` with libsignal v0.91 run without SPQR, `allowed` with both
//! (see `hush_ratchet::SpqrPolicy`). When both names are service ids (the driver's
//! sealed-sender part), first messages carry libsignal's `addresses` field; the peer's
//! device is taken to be 1, as the driver's bundles say.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::time::SystemTime;

use hush_core::rng::os_rng;
use hush_core::{
    Fingerprint, IdentityKey, IdentityKeyPair, KemKeyPair, KemKeyType, KemPublicKey, KeyPair,
    PublicKey, Signature,
};
use hush_group::{DistributionId, SenderKeyDistributionMessage, SenderKeyMessage, SenderKeyRecord};
use hush_ratchet::{
    CiphertextMessage, LocalIdentity, PreKeySignalMessage, RemoteBundle, ServiceAddress,
    SessionAddresses, SessionOptions, SessionRecord, SignalMessage, SpqrPolicy,
};
use hush_x3dh::{AgreementMode, PeerPreKeys, ResponderPreKeys, Trust};
use serde_json::{Value, json};

/// The device id the driver gives every peer.
const PEER_DEVICE_ID: u32 = 1;

/// Everything one peer holds.
struct Peer {
    /// Its own address name and device id, from `init`.
    name: String,
    device_id: u32,
    spqr: SpqrPolicy,
    identity: IdentityKeyPair,
    registration_id: u32,
    next_id: u32,
    signed: BTreeMap<u32, KeyPair>,
    one_time: BTreeMap<u32, KeyPair>,
    kem: BTreeMap<u32, KemKeyPair>,
    sessions: BTreeMap<String, SessionRecord>,
    /// Trust on first use: the identity first seen for each peer name.
    known: BTreeMap<String, IdentityKey>,
    /// Sender-key records by (sender name, distribution id); our own under `""`.
    groups: BTreeMap<(String, DistributionId), SenderKeyRecord>,
}

type Reply = Result<Value, String>;

fn field<'a>(request: &'a Value, name: &str) -> Result<&'a Value, String> {
    request
        .get(name)
        .ok_or_else(|| format!("missing field {name}"))
}

fn string<'a>(request: &'a Value, name: &str) -> Result<&'a str, String> {
    field(request, name)?
        .as_str()
        .ok_or_else(|| format!("field {name} is not a string"))
}

fn number(request: &Value, name: &str) -> Result<u32, String> {
    field(request, name)?
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| format!("field {name} is not a u32"))
}

fn optional_number(request: &Value, name: &str) -> Result<Option<u32>, String> {
    match request.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => number(request, name).map(Some),
    }
}

fn bytes(request: &Value, name: &str) -> Result<Vec<u8>, String> {
    hex::decode(string(request, name)?).map_err(|_| format!("field {name} is not hex"))
}

fn show<E: std::fmt::Display>(error: E) -> String {
    error.to_string()
}

impl Peer {
    fn new(name: &str, device_id: u32, registration_id: u32, spqr: SpqrPolicy) -> Self {
        Self {
            name: name.to_owned(),
            device_id,
            spqr,
            identity: IdentityKeyPair::generate(&mut os_rng()),
            registration_id,
            next_id: 1,
            signed: BTreeMap::new(),
            one_time: BTreeMap::new(),
            kem: BTreeMap::new(),
            sessions: BTreeMap::new(),
            known: BTreeMap::new(),
            groups: BTreeMap::new(),
        }
    }

    /// The session options for a session with `peer`: the policy, and both addresses
    /// when both names are service ids.
    fn options(&self, peer: &str) -> SessionOptions {
        let addresses = match (
            ServiceAddress::parse(&self.name, self.device_id),
            ServiceAddress::parse(peer, PEER_DEVICE_ID),
        ) {
            (Some(local), Some(remote)) => Some(SessionAddresses { local, remote }),
            _ => None,
        };
        SessionOptions::new(self.spqr).with_addresses(addresses)
    }

    fn trust_for<'a>(&'a self, peer: &'a str) -> impl Fn(&IdentityKey) -> Trust + 'a {
        move |identity: &IdentityKey| match self.known.get(peer) {
            Some(known) if known != identity => Trust::Changed,
            _ => Trust::Trusted,
        }
    }

    fn allocate_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        id
    }

    fn bundle(&mut self, with_one_time: bool) -> Reply {
        let mut rng = os_rng();
        let signed_id = self.allocate_id();
        let signed = KeyPair::generate(&mut rng);
        let signed_signature = self.identity.sign(&signed.public_key().encode(), &mut rng);
        let one_time = if with_one_time {
            let id = self.allocate_id();
            let key = KeyPair::generate(&mut rng);
            let public = key.public_key();
            self.one_time.insert(id, key);
            Some((id, public))
        } else {
            None
        };
        let kem_id = self.allocate_id();
        let kem = KemKeyPair::generate(KemKeyType::Kyber1024, &mut rng);
        let kem_public = kem.public_key().encode();
        let kem_signature = self.identity.sign(&kem_public, &mut rng);
        let bundle = json!({
            "registration_id": self.registration_id,
            "device_id": 1,
            "identity_key": hex::encode(self.identity.identity_key().encode()),
            "signed_prekey_id": signed_id,
            "signed_prekey": hex::encode(signed.public_key().encode()),
            "signed_prekey_signature": hex::encode(signed_signature.to_bytes()),
            "one_time_prekey_id": one_time.map(|(id, _)| id),
            "one_time_prekey": one_time.map(|(_, key)| hex::encode(key.encode())),
            "kyber_prekey_id": kem_id,
            "kyber_prekey": hex::encode(&kem_public),
            "kyber_prekey_signature": hex::encode(kem_signature.to_bytes()),
        });
        self.signed.insert(signed_id, signed);
        self.kem.insert(kem_id, kem);
        Ok(json!({ "bundle": bundle }))
    }

    fn process_bundle(&mut self, request: &Value) -> Reply {
        let peer = string(request, "peer")?.to_owned();
        let b = field(request, "bundle")?;
        let key = |name: &str| -> Result<PublicKey, String> {
            PublicKey::decode(&bytes(b, name)?).map_err(show)
        };
        let signature = |name: &str| -> Result<Signature, String> {
            Signature::decode(&bytes(b, name)?).map_err(show)
        };
        let one_time_prekey_id = optional_number(b, "one_time_prekey_id")?;
        let one_time_prekey = match b.get("one_time_prekey") {
            None | Some(Value::Null) => None,
            Some(_) => Some(key("one_time_prekey")?),
        };
        if one_time_prekey_id.is_some() != one_time_prekey.is_some() {
            return Err("one-time prekey id and key must come together".into());
        }
        let bundle = RemoteBundle {
            registration_id: number(b, "registration_id")?,
            signed_prekey_id: number(b, "signed_prekey_id")?,
            one_time_prekey_id,
            kem_prekey_id: Some(number(b, "kyber_prekey_id")?),
            prekeys: PeerPreKeys {
                identity_key: IdentityKey::new(key("identity_key")?),
                signed_prekey: key("signed_prekey")?,
                signed_prekey_signature: signature("signed_prekey_signature")?,
                one_time_prekey,
                kem_prekey: Some((
                    KemPublicKey::decode(&bytes(b, "kyber_prekey")?).map_err(show)?,
                    signature("kyber_prekey_signature")?,
                )),
            },
        };
        let mut record = self.sessions.get(&peer).cloned().unwrap_or_default();
        let local = LocalIdentity {
            identity: &self.identity,
            registration_id: self.registration_id,
        };
        record
            .initiate(
                local,
                &bundle,
                AgreementMode::Pqxdh,
                self.options(&peer),
                &self.trust_for(&peer),
                SystemTime::now(),
                &mut os_rng(),
            )
            .map_err(show)?;
        self.known
            .entry(peer.clone())
            .or_insert(bundle.prekeys.identity_key);
        self.sessions.insert(peer, record);
        Ok(json!({}))
    }

    fn encrypt(&mut self, request: &Value) -> Reply {
        let peer = string(request, "peer")?;
        let plaintext = bytes(request, "plaintext")?;
        let mut record = self
            .sessions
            .get(peer)
            .cloned()
            .ok_or("no session with that peer")?;
        let message = record
            .encrypt(
                &plaintext,
                self.options(peer),
                &self.trust_for(peer),
                SystemTime::now(),
                &mut os_rng(),
            )
            .map_err(show)?;
        self.sessions.insert(peer.to_owned(), record);
        Ok(json!({ "type": message.message_type(), "ciphertext": hex::encode(message.encode()) }))
    }

    fn decrypt(&mut self, request: &Value) -> Reply {
        let peer = string(request, "peer")?.to_owned();
        let message_type = u8::try_from(number(request, "type")?).map_err(show)?;
        let ciphertext = bytes(request, "ciphertext")?;
        let mut record = self.sessions.get(&peer).cloned().unwrap_or_default();
        let plaintext = match CiphertextMessage::decode(message_type, &ciphertext).map_err(show)? {
            CiphertextMessage::Signal(message) => {
                self.decrypt_signal(&mut record, &peer, &message)?
            }
            CiphertextMessage::PreKey(message) => {
                self.decrypt_prekey(&mut record, &peer, &message)?
            }
        };
        if let Some(identity) = record.remote_identity() {
            self.known.entry(peer.clone()).or_insert(identity);
        }
        self.sessions.insert(peer, record);
        Ok(json!({ "plaintext": hex::encode(plaintext) }))
    }

    fn decrypt_signal(
        &self,
        record: &mut SessionRecord,
        peer: &str,
        message: &SignalMessage,
    ) -> Result<Vec<u8>, String> {
        let plaintext = record
            .decrypt(
                message,
                self.options(peer),
                &self.trust_for(peer),
                &mut os_rng(),
            )
            .map_err(show)?;
        Ok(plaintext.to_vec())
    }

    fn decrypt_prekey(
        &mut self,
        record: &mut SessionRecord,
        peer: &str,
        message: &PreKeySignalMessage,
    ) -> Result<Vec<u8>, String> {
        let local = LocalIdentity {
            identity: &self.identity,
            registration_id: self.registration_id,
        };
        let trust = self.trust_for(peer);
        let options = self.options(peer);
        let outcome = if record.has_session_for(message) {
            record.decrypt_prekey(
                message,
                local,
                None,
                AgreementMode::Pqxdh,
                options,
                &trust,
                &mut os_rng(),
            )
        } else {
            let signed = self
                .signed
                .get(&message.signed_pre_key_id())
                .ok_or("unknown signed prekey")?;
            let one_time = match message.pre_key_id() {
                Some(id) => Some(self.one_time.get(&id).ok_or("unknown one-time prekey")?),
                None => None,
            };
            let kem = match message.kem_pre_key_id() {
                Some(id) => Some(self.kem.get(&id).ok_or("unknown KEM prekey")?.secret_key()),
                None => None,
            };
            let keys = ResponderPreKeys {
                signed_prekey: signed,
                one_time_prekey: one_time,
                kem_prekey: kem,
            };
            record.decrypt_prekey(
                message,
                local,
                Some(keys),
                AgreementMode::Pqxdh,
                options,
                &trust,
                &mut os_rng(),
            )
        }
        .map_err(show)?;
        drop(trust);
        // One-time keys are used once; a retransmission finds its session by base key.
        if let Some(id) = outcome.used_one_time_prekey {
            self.one_time.remove(&id);
        }
        if let Some(id) = outcome.used_kem_prekey {
            self.kem.remove(&id);
        }
        Ok(outcome.plaintext.to_vec())
    }

    fn fingerprint(&self, request: &Value) -> Reply {
        let peer = string(request, "peer")?;
        let remote = self
            .sessions
            .get(peer)
            .and_then(SessionRecord::remote_identity)
            .or_else(|| self.known.get(peer).copied())
            .ok_or("no identity known for that peer")?;
        let fingerprint = Fingerprint::new(
            number(request, "version")?,
            number(request, "iterations")?,
            string(request, "local_id")?.as_bytes(),
            &self.identity.identity_key(),
            string(request, "remote_id")?.as_bytes(),
            &remote,
        )
        .map_err(show)?;
        Ok(json!({
            "displayable": fingerprint.displayable().to_string(),
            "scannable": hex::encode(fingerprint.scannable().encode()),
        }))
    }
}

impl Peer {
    fn distribution_id(request: &Value) -> Result<DistributionId, String> {
        string(request, "distribution_id")?
            .parse::<DistributionId>()
            .map_err(show)
    }

    fn group_create(&mut self, request: &Value) -> Reply {
        let id = Self::distribution_id(request)?;
        let record = self
            .groups
            .entry((String::new(), id))
            .or_insert_with(|| SenderKeyRecord::new(id));
        let distribution = record.create_distribution(&mut os_rng());
        Ok(json!({ "skdm": hex::encode(distribution.as_bytes()) }))
    }

    fn group_process(&mut self, request: &Value) -> Reply {
        let sender = string(request, "peer")?.to_owned();
        let message =
            SenderKeyDistributionMessage::decode(&bytes(request, "skdm")?).map_err(show)?;
        let key = (sender, message.distribution_id());
        let mut record = self
            .groups
            .get(&key)
            .cloned()
            .unwrap_or_else(|| SenderKeyRecord::new(key.1));
        record.process_distribution(&message).map_err(show)?;
        self.groups.insert(key, record);
        Ok(json!({}))
    }

    fn group_encrypt(&mut self, request: &Value) -> Reply {
        let id = Self::distribution_id(request)?;
        let plaintext = bytes(request, "plaintext")?;
        let record = self
            .groups
            .get_mut(&(String::new(), id))
            .ok_or("no such group")?;
        let message = record.encrypt(&plaintext, &mut os_rng()).map_err(show)?;
        Ok(json!({ "ciphertext": hex::encode(message.as_bytes()) }))
    }

    fn group_decrypt(&mut self, request: &Value) -> Reply {
        let sender = string(request, "peer")?.to_owned();
        let message = SenderKeyMessage::decode(&bytes(request, "ciphertext")?).map_err(show)?;
        let record = self
            .groups
            .get_mut(&(sender, message.distribution_id()))
            .ok_or("no sender key from that peer for that group")?;
        let plaintext = record.decrypt(&message).map_err(show)?;
        Ok(json!({ "plaintext": hex::encode(plaintext.as_slice()) }))
    }
}

fn handle(peer: &mut Option<Peer>, spqr: SpqrPolicy, request: &Value) -> Reply {
    let op = string(request, "op")?;
    if op == "init" {
        let name = string(request, "name")?;
        let device_id = number(request, "device_id")?;
        let created = Peer::new(name, device_id, number(request, "registration_id")?, spqr);
        let identity = hex::encode(created.identity.identity_key().encode());
        *peer = Some(created);
        return Ok(json!({ "identity_key": identity }));
    }
    let peer = peer.as_mut().ok_or("send init first")?;
    match op {
        "bundle" => peer.bundle(true),
        "bundle_no_one_time" => peer.bundle(false),
        "process_bundle" => peer.process_bundle(request),
        "encrypt" => peer.encrypt(request),
        "decrypt" => peer.decrypt(request),
        "fingerprint" => peer.fingerprint(request),
        "group_create" => peer.group_create(request),
        "group_process" => peer.group_process(request),
        "group_encrypt" => peer.group_encrypt(request),
        "group_decrypt" => peer.group_decrypt(request),
        other => Err(format!("unknown op {other}")),
    }
}

/// Runs the peer until `quit` or end of input, its sessions under `spqr`.
pub(crate) fn run(spqr: SpqrPolicy) -> ExitCode {
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout();
    let mut peer: Option<Peer> = None;
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let (reply, quit) = match serde_json::from_str::<Value>(&line) {
            Ok(request) => {
                let quit = request.get("op").and_then(Value::as_str) == Some("quit");
                let reply = if quit {
                    Ok(json!({}))
                } else {
                    handle(&mut peer, spqr, &request)
                };
                (reply, quit)
            }
            Err(error) => (Err(format!("bad JSON: {error}")), false),
        };
        let object = match reply {
            Ok(Value::Object(mut fields)) => {
                fields.insert("ok".into(), Value::Bool(true));
                Value::Object(fields)
            }
            Ok(_) => json!({ "ok": true }),
            Err(error) => {
                eprintln!("interop-peer: {error}");
                json!({ "ok": false, "error": error })
            }
        };
        if writeln!(stdout, "{object}")
            .and_then(|()| stdout.flush())
            .is_err()
        {
            return ExitCode::from(1);
        }
        if quit {
            break;
        }
    }
    ExitCode::SUCCESS
}
