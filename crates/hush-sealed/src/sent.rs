//! The server's side of v2: parsing a `SentMessage` and splitting it into one
//! `ReceivedMessage` per recipient entry.
//!
//! ```text
//! SentMessage     = version (0x23, or 0x22 with 16-byte ACIs)
//!                   || varint count || entry x count || e.pub (32) || ciphertext
//! entry           = service id (17) || devices || C (32) || AT (16)
//!                 | service id (17) || 0x00                       (an excluded recipient)
//! device          = device id (1, 1..=127)
//!                   || registration id (u16 BE; bit 15 set when another device follows)
//! ReceivedMessage = 0x22 || C || AT || e.pub || ciphertext
//! ```

use core::fmt;
use core::ops::Range;

use hush_core::ServiceId;

use crate::certificate::DeviceId;
use crate::error::{Error, Result};
use crate::limits::{MAX_CONTENT_LEN, MAX_DEVICES, MAX_RECIPIENTS, MAX_REGISTRATION_ID};
use crate::v2::{
    AEAD_TAG_LEN, EPHEMERAL_LEN, KEY_LEN, RECEIVED_VERSION_BYTE, SENT_UUID_VERSION_BYTE,
    SENT_VERSION_BYTE, TAG_LEN,
};

const WHAT: &str = "sealed sender v2 sent message";

/// Length of one entry's key material, `C || AT`.
const KEY_MATERIAL_LEN: usize = KEY_LEN + TAG_LEN;

/// A device a recipient entry lists: where the server delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecipientDevice {
    /// The device id.
    pub device_id: DeviceId,
    /// The registration id the sender holds for it (14 bits), which the server compares
    /// with the device's current one to detect a sender's stale session.
    pub registration_id: u16,
}

#[derive(Debug, Clone)]
struct Entry {
    service_id: ServiceId,
    devices: Range<usize>,
    key_material: Option<Range<usize>>,
}

/// A parsed `SentMessage`: a view of the bytes, checked, that splits them.
///
/// Parsing follows libsignal's `SealedSenderV2SentMessage::parse` and refuses what it
/// refuses (an unknown version byte, a bad service id kind, a device id outside 1..=127,
/// a device list that names device 0 after another device, a service id both excluded
/// and listed, truncation), plus, unlike libsignal: a device listed twice under one
/// service id, a service id excluded twice, trailing room for less than an ephemeral key
/// and an AEAD tag, and more than [`MAX_RECIPIENTS`] entries or [`MAX_DEVICES`] devices.
///
/// **Entries, not merged recipients.** libsignal merges entries that repeat a service id
/// into one recipient and gives all its devices the key material of the *first* entry.
/// hush keeps each entry with its own devices and key material, so each device receives
/// the key material written for it. On every message libsignal writes (one identity key
/// per service id, hence the same key material in every entry of it) both give every
/// device the same bytes; on hush's per-device entries (linked devices with their own
/// identity keys) only hush's split reaches every device. See
/// `docs/wire/sealed-sender.md`.
pub struct SentMessage<'a> {
    bytes: &'a [u8],
    entries: Vec<Entry>,
    devices: Vec<RecipientDevice>,
    shared_offset: usize,
}

/// One recipient entry of a [`SentMessage`].
#[derive(Debug, Clone, Copy)]
pub struct SentRecipient<'m> {
    message: &'m SentMessage<'m>,
    entry: &'m Entry,
}

impl<'a> SentMessage<'a> {
    /// Parses and checks a `SentMessage`.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownVersion`] (the whole byte) unless it starts with 0x22 or 0x23;
    /// [`Error::Malformed`] for anything else wrong; [`Error::TooMany`] beyond the
    /// limits.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let (&version, mut rest) = bytes.split_first().ok_or(Error::Malformed(WHAT))?;
        let service_id_len = match version {
            SENT_VERSION_BYTE => 17,
            SENT_UUID_VERSION_BYTE => 16,
            other => return Err(Error::UnknownVersion(other)),
        };
        let count = read_varint(&mut rest)?;
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        if count > MAX_RECIPIENTS {
            return Err(Error::TooMany {
                what: "recipient entries",
                limit: MAX_RECIPIENTS,
            });
        }
        // Each entry takes at least a service id and one byte: bound the allocation by
        // what the input can hold before trusting the count.
        if count > rest.len() / (service_id_len + 1) {
            return Err(Error::Malformed(WHAT));
        }
        let mut entries = Vec::with_capacity(count);
        let mut devices: Vec<RecipientDevice> = Vec::with_capacity(count);
        // Per entry: the service id and a bit per device id it lists (device ids are
        // 1..=127; bit 0 marks an excluded entry), to find repeats without hashing.
        let mut seen: Vec<([u8; 17], u128)> = Vec::with_capacity(count);
        for _ in 0..count {
            let service_id = if service_id_len == 17 {
                let raw = take::<17>(&mut rest)?;
                ServiceId::from_fixed_width_binary(raw).ok_or(Error::Malformed(WHAT))?
            } else {
                ServiceId::aci(*take::<16>(&mut rest)?)
            };
            let first = devices.len();
            let mut mask = 0u128;
            loop {
                let [device] = *take::<1>(&mut rest)?;
                if device == 0 {
                    if devices.len() != first {
                        return Err(Error::Malformed(WHAT));
                    }
                    break;
                }
                let device_id =
                    DeviceId::new(u32::from(device)).map_err(|_| Error::Malformed(WHAT))?;
                let bit = 1u128 << device_id.get();
                if mask & bit != 0 {
                    return Err(Error::Malformed(WHAT));
                }
                mask |= bit;
                let raw = u16::from_be_bytes(*take::<2>(&mut rest)?);
                if devices.len() >= MAX_DEVICES {
                    return Err(Error::TooMany {
                        what: "devices",
                        limit: MAX_DEVICES,
                    });
                }
                devices.push(RecipientDevice {
                    device_id,
                    registration_id: raw & MAX_REGISTRATION_ID,
                });
                if raw & 0x8000 == 0 {
                    break;
                }
            }
            let key_material = if devices.len() == first {
                mask = 1;
                None
            } else {
                let start = offset(bytes, rest);
                take::<KEY_MATERIAL_LEN>(&mut rest)?;
                Some(start..start + KEY_MATERIAL_LEN)
            };
            seen.push((service_id.fixed_width_binary(), mask));
            entries.push(Entry {
                service_id,
                devices: first..devices.len(),
                key_material,
            });
        }
        check_unique(&mut seen)?;
        if rest.len() < EPHEMERAL_LEN + AEAD_TAG_LEN
            || rest.len() > EPHEMERAL_LEN + MAX_CONTENT_LEN + AEAD_TAG_LEN
        {
            return Err(Error::Malformed(WHAT));
        }
        Ok(Self {
            bytes,
            entries,
            devices,
            shared_offset: offset(bytes, rest),
        })
    }

    /// The version byte (0x23, or 0x22 for 16-byte ACIs).
    #[must_use]
    pub fn version(&self) -> u8 {
        self.bytes.first().copied().unwrap_or_default()
    }

    /// The bytes parsed.
    #[must_use]
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The recipient entries in message order, excluded ones included.
    pub fn recipients(&self) -> impl ExactSizeIterator<Item = SentRecipient<'_>> {
        self.entries.iter().map(|entry| SentRecipient {
            message: self,
            entry,
        })
    }

    /// The service ids listed as excluded.
    pub fn excluded(&self) -> impl Iterator<Item = ServiceId> + '_ {
        self.entries
            .iter()
            .filter(|e| e.key_material.is_none())
            .map(|e| e.service_id)
    }

    /// Where the shared part (`e.pub || ciphertext`) starts in the message.
    #[must_use]
    pub const fn shared_bytes_offset(&self) -> usize {
        self.shared_offset
    }

    /// The shared part: `e.pub || ciphertext`.
    #[must_use]
    pub fn shared_bytes(&self) -> &'a [u8] {
        self.bytes.get(self.shared_offset..).unwrap_or_default()
    }

    /// Every delivery: one `ReceivedMessage` per non-excluded entry, with the devices it
    /// goes to. Devices of one entry receive the same bytes.
    #[must_use]
    pub fn split(&self) -> Vec<Delivery<'_>> {
        self.recipients()
            .filter_map(|recipient| {
                recipient.received_message().map(|message| Delivery {
                    service_id: recipient.service_id(),
                    devices: recipient.devices(),
                    message,
                })
            })
            .collect()
    }
}

impl fmt::Debug for SentMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentMessage")
            .field("version", &self.version())
            .field("entries", &self.entries.len())
            .field("devices", &self.devices.len())
            .field("shared_bytes_offset", &self.shared_offset)
            .finish_non_exhaustive()
    }
}

impl<'m> SentRecipient<'m> {
    /// The recipient's service id.
    #[must_use]
    pub fn service_id(&self) -> ServiceId {
        self.entry.service_id
    }

    /// The devices this entry lists (none for an excluded recipient).
    #[must_use]
    pub fn devices(&self) -> &'m [RecipientDevice] {
        self.message
            .devices
            .get(self.entry.devices.clone())
            .unwrap_or_default()
    }

    /// Whether this is an excluded recipient (no devices, no key material).
    #[must_use]
    pub fn is_excluded(&self) -> bool {
        self.entry.key_material.is_none()
    }

    /// Where this entry's `C || AT` lies in the message; `None` when excluded.
    #[must_use]
    pub fn key_material_range(&self) -> Option<Range<usize>> {
        self.entry.key_material.clone()
    }

    /// The `ReceivedMessage` for this entry's devices as three parts to write one after
    /// the other (the version byte, `C || AT`, the shared bytes), without copying them
    /// together; `None` when excluded. A server that stores or sends the parts directly
    /// copies each byte once.
    #[must_use]
    pub fn received_message_parts(&self) -> Option<[&'m [u8]; 3]> {
        const VERSION: &[u8] = &[RECEIVED_VERSION_BYTE];
        let key_material = self.message.bytes.get(self.entry.key_material.clone()?)?;
        Some([VERSION, key_material, self.message.shared_bytes()])
    }

    /// The `ReceivedMessage` for this entry's devices; `None` when excluded.
    #[must_use]
    pub fn received_message(&self) -> Option<Vec<u8>> {
        let [version, key_material, shared] = self.received_message_parts()?;
        let mut out = Vec::with_capacity(version.len() + key_material.len() + shared.len());
        out.extend_from_slice(version);
        out.extend_from_slice(key_material);
        out.extend_from_slice(shared);
        Some(out)
    }
}

/// One `ReceivedMessage` of a split and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery<'m> {
    /// The recipient account.
    pub service_id: ServiceId,
    /// The devices that get [`Delivery::message`], with the registration ids the sender
    /// holds for them.
    pub devices: &'m [RecipientDevice],
    /// The `ReceivedMessage` bytes.
    pub message: Vec<u8>,
}

fn take<'b, const N: usize>(rest: &mut &'b [u8]) -> Result<&'b [u8; N]> {
    let (head, tail) = rest
        .split_first_chunk::<N>()
        .ok_or(Error::Malformed(WHAT))?;
    *rest = tail;
    Ok(head)
}

/// A protobuf varint of at most 10 bytes that fits in 64 bits.
fn read_varint(rest: &mut &[u8]) -> Result<u64> {
    let mut value = 0u64;
    for index in 0..10u32 {
        let [byte] = *take::<1>(rest)?;
        let low = u64::from(byte & 0x7f);
        if index == 9 && byte > 1 {
            return Err(Error::Malformed(WHAT));
        }
        value |= low << (7 * index);
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(Error::Malformed(WHAT))
}

/// Offset of `tail` (a suffix of `all`) in `all`.
fn offset(all: &[u8], tail: &[u8]) -> usize {
    all.len() - tail.len()
}

/// No (service id, device) twice; no excluded service id (bit 0) twice or also listed
/// with devices. Within one entry repeats were refused while parsing; here entries that
/// repeat a service id are brought together by sorting.
fn check_unique(seen: &mut [([u8; 17], u128)]) -> Result<()> {
    seen.sort_unstable_by_key(|&(id, _)| id);
    let mut run: Option<([u8; 17], u128)> = None;
    for &(id, mask) in seen.iter() {
        run = match run {
            Some((run_id, run_mask)) if run_id == id => {
                // An excluded entry shares its service id with nothing.
                if run_mask & mask != 0 || (run_mask | mask) & 1 != 0 {
                    return Err(Error::Malformed(WHAT));
                }
                Some((id, run_mask | mask))
            }
            _ => Some((id, mask)),
        };
    }
    Ok(())
}
