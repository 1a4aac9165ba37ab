//! Signal's service ids: the account identifiers that name a user's devices in libsignal
//! (`ProtocolAddress` names). An ACI ("account identifier") is written as its UUID in the
//! hyphenated 36-character form; a PNI ("phone number identifier") as `PNI:` followed by
//! the same form. Their fixed-width binary form is one kind byte (0x00 ACI, 0x01 PNI)
//! followed by the UUID's 16 bytes.
//!
//! hush only needs to recognise them: since v0.101 libsignal puts both parties' service
//! ids into the first messages of a session when both address names are service ids
//! (`hush-ratchet`'s `addresses` field), and treats a session between two devices of the
//! same account differently.

use core::fmt;

/// Length of a UUID in its hyphenated form.
const HYPHENATED_LEN: usize = 36;
/// Where the hyphenated form has its hyphens.
const HYPHENS: [usize; 4] = [8, 13, 18, 23];
/// Prefix of a PNI's string form.
const PNI_PREFIX: &str = "PNI:";

/// The two kinds of service id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceIdKind {
    /// An account identifier.
    Aci,
    /// A phone number identifier.
    Pni,
}

/// A service id: a kind and a UUID. Not secret.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceId {
    kind: ServiceIdKind,
    uuid: [u8; 16],
}

impl ServiceId {
    /// A service id of `kind` with the 16 bytes of `uuid`.
    #[must_use]
    pub const fn new(kind: ServiceIdKind, uuid: [u8; 16]) -> Self {
        Self { kind, uuid }
    }

    /// Parses the string form libsignal uses as an address name: a hyphenated UUID (an
    /// ACI) or `PNI:` and a hyphenated UUID (a PNI). Hex digits may be either case, as
    /// libsignal's parser accepts; no other UUID form (braces, no hyphens, `urn:`) and no
    /// other prefix is a service id. `None` for anything else.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let (kind, uuid) = match text.strip_prefix(PNI_PREFIX) {
            Some(rest) => (ServiceIdKind::Pni, rest),
            None => (ServiceIdKind::Aci, text),
        };
        parse_hyphenated(uuid).map(|uuid| Self { kind, uuid })
    }

    /// The kind.
    #[must_use]
    pub const fn kind(&self) -> ServiceIdKind {
        self.kind
    }

    /// The UUID's 16 bytes.
    #[must_use]
    pub const fn uuid(&self) -> &[u8; 16] {
        &self.uuid
    }

    /// The 17-byte fixed-width binary form: kind byte (0x00 ACI, 0x01 PNI) and UUID.
    #[must_use]
    pub fn fixed_width_binary(&self) -> [u8; 17] {
        let mut out = [0u8; 17];
        let (kind, uuid) = out.split_at_mut(1);
        if let Some(byte) = kind.first_mut() {
            *byte = match self.kind {
                ServiceIdKind::Aci => 0x00,
                ServiceIdKind::Pni => 0x01,
            };
        }
        uuid.copy_from_slice(&self.uuid);
        out
    }
}

fn parse_hyphenated(text: &str) -> Option<[u8; 16]> {
    let bytes = text.as_bytes();
    if bytes.len() != HYPHENATED_LEN {
        return None;
    }
    let mut digits = [0u8; 32];
    let mut count = 0usize;
    for (position, &byte) in bytes.iter().enumerate() {
        if HYPHENS.contains(&position) {
            if byte != b'-' {
                return None;
            }
            continue;
        }
        let digit = match byte {
            b'0'..=b'9' => byte - b'0',
            b'a'..=b'f' => byte - b'a' + 10,
            b'A'..=b'F' => byte - b'A' + 10,
            _ => return None,
        };
        *digits.get_mut(count)? = digit;
        count += 1;
    }
    let mut uuid = [0u8; 16];
    for (out, pair) in uuid.iter_mut().zip(digits.chunks_exact(2)) {
        if let [high, low] = pair {
            *out = (high << 4) | low;
        }
    }
    Some(uuid)
}

impl fmt::Display for ServiceId {
    /// The string form: lowercase hyphenated UUID, with `PNI:` before a PNI's.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind == ServiceIdKind::Pni {
            f.write_str(PNI_PREFIX)?;
        }
        for (index, byte) in self.uuid.iter().enumerate() {
            if matches!(index, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ServiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServiceId({self})")
    }
}

/// Constructors and the fixed-width decoder, added for sealed sender v2 (`hush-sealed`),
/// which lists its recipients in the 17-byte form.
impl ServiceId {
    /// The ACI with the 16 bytes of `uuid`.
    #[must_use]
    pub const fn aci(uuid: [u8; 16]) -> Self {
        Self::new(ServiceIdKind::Aci, uuid)
    }

    /// The PNI with the 16 bytes of `uuid`.
    #[must_use]
    pub const fn pni(uuid: [u8; 16]) -> Self {
        Self::new(ServiceIdKind::Pni, uuid)
    }

    /// Reads the 17-byte fixed-width binary form. `None` unless the kind byte is 0x00
    /// (ACI) or 0x01 (PNI), as libsignal's parser decides; every UUID is accepted.
    #[must_use]
    pub fn from_fixed_width_binary(bytes: &[u8; 17]) -> Option<Self> {
        let (&kind, uuid) = bytes.split_first()?;
        let kind = match kind {
            0x00 => ServiceIdKind::Aci,
            0x01 => ServiceIdKind::Pni,
            _ => return None,
        };
        let uuid: [u8; 16] = uuid.try_into().ok()?;
        Some(Self { kind, uuid })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected bytes written out by hand from the UUID text, not computed by the parser.
    const UUID: &str = "e6c1a6f1-8d7b-4d35-9a48-6a4b5f1f0a01";
    const BYTES: [u8; 16] = [
        0xe6, 0xc1, 0xa6, 0xf1, 0x8d, 0x7b, 0x4d, 0x35, 0x9a, 0x48, 0x6a, 0x4b, 0x5f, 0x1f, 0x0a,
        0x01,
    ];

    #[test]
    fn parses_aci_and_pni_strings() {
        let aci = ServiceId::parse(UUID).unwrap();
        assert_eq!(aci, ServiceId::new(ServiceIdKind::Aci, BYTES));
        assert_eq!(aci.fixed_width_binary()[0], 0x00);
        assert_eq!(&aci.fixed_width_binary()[1..], &BYTES);
        let pni = ServiceId::parse(&format!("PNI:{UUID}")).unwrap();
        assert_eq!(pni.kind(), ServiceIdKind::Pni);
        assert_eq!(pni.fixed_width_binary()[0], 0x01);
        assert_eq!(pni.to_string(), format!("PNI:{UUID}"));
        assert_eq!(aci.to_string(), UUID);
        // Upper case is accepted (libsignal's UUID parser takes either case).
        assert_eq!(ServiceId::parse(&UUID.to_uppercase()), Some(aci));
    }

    #[test]
    fn refuses_everything_else() {
        for text in [
            "",
            "alice",
            "e6c1a6f18d7b4d359a486a4b5f1f0a01",
            "{e6c1a6f1-8d7b-4d35-9a48-6a4b5f1f0a01}",
            "urn:uuid:e6c1a6f1-8d7b-4d35-9a48-6a4b5f1f0a01",
            "ACI:e6c1a6f1-8d7b-4d35-9a48-6a4b5f1f0a01",
            "pni:e6c1a6f1-8d7b-4d35-9a48-6a4b5f1f0a01",
            "PNI:",
            "e6c1a6f1-8d7b-4d35-9a48-6a4b5f1f0a0g",
            "e6c1a6f1-8d7b-4d35-9a48_6a4b5f1f0a01",
            "e6c1a6f18-d7b-4d35-9a48-6a4b5f1f0a01",
            "é6c1a6f1-8d7b-4d35-9a48-6a4b5f1f0a0",
        ] {
            assert_eq!(ServiceId::parse(text), None, "{text}");
        }
    }
}

#[cfg(test)]
mod fixed_width_tests {
    use super::*;

    #[test]
    fn fixed_width_binary_round_trips_and_refuses_unknown_kinds() {
        // From libsignal v0.101's sealed_sender.json: a recipient's
        // `service_id_fixed_width_binary` beside its `service_id` string.
        let aci = ServiceId::parse("796abedb-ca4e-4f18-8803-1fde5b921f9f").unwrap();
        let mut bytes = [0u8; 17];
        bytes[1..].copy_from_slice(&[
            0x79, 0x6a, 0xbe, 0xdb, 0xca, 0x4e, 0x4f, 0x18, 0x88, 0x03, 0x1f, 0xde, 0x5b, 0x92,
            0x1f, 0x9f,
        ]);
        assert_eq!(ServiceId::from_fixed_width_binary(&bytes), Some(aci));
        assert_eq!(aci.fixed_width_binary(), bytes);
        bytes[0] = 0x01;
        let pni = ServiceId::from_fixed_width_binary(&bytes).unwrap();
        assert_eq!(pni, ServiceId::pni(*aci.uuid()));
        assert_eq!(pni.to_string(), "PNI:796abedb-ca4e-4f18-8803-1fde5b921f9f");
        for kind in [0x02, 0x80, 0xff] {
            bytes[0] = kind;
            assert_eq!(ServiceId::from_fixed_width_binary(&bytes), None);
        }
        assert_eq!(ServiceId::aci(*aci.uuid()), aci);
    }
}
