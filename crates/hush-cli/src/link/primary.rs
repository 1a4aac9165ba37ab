//! `hush link accept`: the primary's side, and its `--state` file.

use std::path::{Path, PathBuf};

use hush_core::IdentityKeyPair;
use hush_core::rng::os_rng;
use hush_device::{
    CheckedDeviceList, CompanionAssignment, Countersignature, DeviceEntry, DeviceList,
    DeviceListPolicy, DeviceListV1, LinkingOffer, PrimaryLinking, SeenOffers, SignedDeviceList,
};

use super::{
    Failure, fingerprint, flush_stdout, load_identity, now_ms, read_bounded, read_hex_line, step,
    write_private,
};

/// Largest state file read: a full replay set (10 243 bytes) and the largest device
/// list (51 + 17 x 113 + 64 = 2 036 bytes) fit with room to spare.
const MAX_STATE_FILE: u64 = 16 * 1024;
/// Version byte of the `--state` file.
const STATE_VERSION: u8 = 1;

/// What the primary keeps between runs: the answered offers and the last signed list
/// (its own bytes, in the current format or in format 1 from an earlier version).
struct PrimaryState {
    seen: SeenOffers,
    list: Option<Vec<u8>>,
}

impl PrimaryState {
    fn encode(&self) -> Vec<u8> {
        let seen = self.seen.encode();
        let mut out = vec![STATE_VERSION];
        out.extend_from_slice(&u16::try_from(seen.len()).unwrap_or(u16::MAX).to_be_bytes());
        out.extend_from_slice(&seen);
        if let Some(list) = &self.list {
            out.extend_from_slice(list);
        }
        out
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        let (&version, rest) = bytes.split_first()?;
        if version != STATE_VERSION {
            return None;
        }
        let (len, rest) = rest.split_at_checked(2)?;
        let len = usize::from(u16::from_be_bytes(len.try_into().ok()?));
        let (seen, list) = rest.split_at_checked(len)?;
        Some(Self {
            seen: SeenOffers::decode(seen).ok()?,
            list: if list.is_empty() {
                None
            } else if SignedDeviceList::decode(list).is_ok() || DeviceListV1::decode(list).is_ok() {
                Some(list.to_vec())
            } else {
                return None;
            },
        })
    }

    fn load(path: Option<&Path>) -> Result<Self, Failure> {
        let empty = Self {
            seen: SeenOffers::new(),
            list: None,
        };
        let Some(path) = path else {
            return Ok(empty);
        };
        match read_bounded(path, MAX_STATE_FILE) {
            Ok(bytes) => Self::decode(&bytes).ok_or_else(|| {
                Failure::Usage(format!("{} is not a hush link state file", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(empty),
            Err(e) => Err(Failure::Usage(format!(
                "cannot read {}: {e}",
                path.display()
            ))),
        }
    }

    fn save(&self, path: Option<&Path>) -> Result<(), Failure> {
        let Some(path) = path else {
            return Ok(());
        };
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(".tmp");
        let temporary = PathBuf::from(temporary);
        write_private(&temporary, &self.encode())
            .and_then(|()| std::fs::rename(&temporary, path))
            .map_err(|e| Failure::Step(format!("cannot write {}: {e}", path.display())))
    }
}

pub(super) fn accept(
    payload: &str,
    identity: Option<&Path>,
    user: &str,
    device_id: Option<u32>,
    state_path: Option<&Path>,
) -> Result<(), Failure> {
    let offer = LinkingOffer::from_qr_text(payload).map_err(step("payload"))?;
    let mut rng = os_rng();
    let account = load_identity(identity)?;
    let mut state = PrimaryState::load(state_path)?;
    let policy = DeviceListPolicy::default();
    let mut list = match &state.list {
        Some(signed) => stored_list(signed, &account, user, policy)?,
        None => DeviceList::new(
            account.identity_key(),
            user.as_bytes(),
            &account,
            1,
            now_ms(),
            policy,
            &mut rng,
        )
        .map_err(|e| Failure::Usage(format!("--user: {e}")))?,
    };
    list.check_room().map_err(step("device list"))?;
    let assignment = CompanionAssignment {
        user_id: user.as_bytes().to_vec(),
        device_id: device_id.unwrap_or_else(|| list.next_device_id()),
        key_index: 1,
    };
    let (primary, message) = PrimaryLinking::accept(
        &offer,
        &account,
        &assignment,
        &mut state.seen,
        now_ms(),
        &mut rng,
    )
    .map_err(step("offer"))?;
    // Remember the offer before anything else can fail, so it is never answered twice.
    state.save(state_path)?;
    println!("{}", hex::encode(message.encode()));
    flush_stdout();
    eprintln!(
        "Waiting for the companion's countersignature (one line of hex) on stdin... (account key fingerprint {})",
        fingerprint(&account.identity_key())
    );

    let bytes = read_hex_line("countersignature")?;
    let countersignature = Countersignature::decode(&bytes).map_err(step("countersignature"))?;
    let linked = primary
        .finish(&countersignature, now_ms())
        .map_err(step("countersignature"))?;
    list.add_companion(linked.entry)
        .map_err(step("device list"))?;
    let signed = list
        .sign(&account, now_ms(), &mut rng)
        .map_err(step("device list"))?;
    state.list = Some(signed.encode());
    state.save(state_path)?;
    let DeviceEntry {
        device_id,
        identity_key,
        key_index,
        added_at_ms,
        membership_signature: _,
    } = linked.entry;
    println!(
        "device-entry {device_id} {} {key_index} {added_at_ms}",
        hex::encode(identity_key.encode())
    );
    println!("device-list {}", hex::encode(signed.encode()));
    flush_stdout();
    eprintln!(
        "linked device {device_id}; the signed device list is now version {} with {} devices",
        signed.version(),
        signed.devices().len()
    );
    Ok(())
}

/// The primary's list from the state file, its signatures checked again (the file may
/// have been written by someone else): a format-1 list (from an earlier version) becomes
/// the primary alone in the current format.
fn stored_list(
    bytes: &[u8],
    account: &IdentityKeyPair,
    user: &str,
    policy: DeviceListPolicy,
) -> Result<DeviceList, Failure> {
    let list = match CheckedDeviceList::new(bytes, user.as_bytes(), &policy) {
        Ok(checked) => DeviceList::from_verified(&checked.assume_history_checked(policy), policy),
        Err(hush_device::Error::UnknownVersion(1)) => {
            let v1 = DeviceListV1::decode(bytes)
                .map_err(|e| Failure::Usage(format!("the state file's device list: {e}")))?;
            eprintln!(
                "the state file holds a format-1 device list: its companions are dropped and link again"
            );
            DeviceList::from_v1(&v1, user.as_bytes(), account, policy, &mut os_rng())
                .map_err(|e| Failure::Usage(format!("the state file's device list: {e}")))?
        }
        Err(e) => {
            return Err(Failure::Usage(format!(
                "the state file's device list is not this user's: {e}"
            )));
        }
    };
    if list.devices().first().map(|d| d.identity_key) != Some(account.identity_key()) {
        return Err(Failure::Usage(
            "the state file belongs to another account key".to_owned(),
        ));
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use hush_device::CompanionLinking;

    use super::*;

    #[test]
    fn state_file_round_trips_and_refuses_garbage() {
        let mut seen = SeenOffers::new();
        let mut rng = os_rng();
        let account = IdentityKeyPair::generate(&mut rng);
        let desktop = IdentityKeyPair::generate(&mut rng).identity_key();
        let companion = CompanionLinking::new(&mut rng, desktop, b"r", 1_000, 1_000).unwrap();
        seen.insert(companion.offer().id(), 2_000, 1_000).unwrap();
        let mut list = DeviceList::new(
            account.identity_key(),
            b"alice",
            &account,
            1,
            1_000,
            DeviceListPolicy::default(),
            &mut rng,
        )
        .unwrap();
        let signed = list.sign(&account, 1_000, &mut rng).unwrap();
        let state = PrimaryState {
            seen,
            list: Some(signed.encode()),
        };
        let bytes = state.encode();
        let back = PrimaryState::decode(&bytes).unwrap();
        assert_eq!(back.encode(), bytes);
        assert!(back.seen.contains(&companion.offer().id()));
        let empty = PrimaryState {
            seen: SeenOffers::new(),
            list: None,
        };
        assert_eq!(
            PrimaryState::decode(&empty.encode()).unwrap().encode(),
            empty.encode()
        );
        assert!(PrimaryState::decode(&[]).is_none());
        assert!(PrimaryState::decode(&[2, 0, 3, 1, 0, 0]).is_none());
        assert!(PrimaryState::decode(&bytes[..bytes.len() - 1]).is_none());
        assert!(PrimaryState::decode(&[1, 0, 9, 1, 0, 0]).is_none());
    }
}
