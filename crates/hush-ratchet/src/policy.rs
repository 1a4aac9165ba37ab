//! Whether sessions run SPQR, and what a call needs to know about the two ends.

use hush_spqr::Version;

use crate::message::SessionAddresses;

/// Whether sessions run the Sparse Post-Quantum Ratchet (SPQR), following libsignal's
/// version negotiation: each new session has a version it speaks and a minimum version
/// it requires of its peer.
///
/// The policy applies to PQXDH sessions (message version 4). Classic X3DH sessions
/// (hush-to-hush, opt-in) have no SPQR auth key and never run SPQR, whatever the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SpqrPolicy {
    /// What libsignal v0.101 does, and the default: new sessions speak SPQR version 1
    /// and require it of the peer (minimum version 1). A first message without an SPQR
    /// payload is refused, as is any message without one on a session that runs SPQR.
    /// A stored session that has no SPQR (a format-1 record, or a session that settled
    /// on no SPQR under [`SpqrPolicy::Allowed`]) is not used: encrypting on it fails with
    /// [`crate::Error::SpqrRequired`] (start a new session from a fresh bundle), and it
    /// is not tried for decryption.
    #[default]
    Required,
    /// New sessions speak SPQR version 1 but accept a peer that runs none (minimum
    /// version 0): if the peer's first message carries no SPQR payload, the session turns
    /// SPQR off for good. This talks to libsignal releases that run SPQR optionally (v0.91
    /// with SPQR off). Stored sessions without SPQR keep working.
    Allowed,
    /// New sessions run no SPQR (version 0): messages carry no SPQR payload and payloads
    /// received are ignored. Only peers that accept sessions without SPQR talk to such a
    /// session (libsignal v0.91, hush under [`SpqrPolicy::Allowed`] or `Off`). Stored
    /// sessions that run SPQR keep running it: their peer requires it.
    Off,
}

impl SpqrPolicy {
    /// The (version, minimum version) a new PQXDH session starts with.
    pub(crate) const fn versions(self) -> (Version, Version) {
        match self {
            Self::Required => (Version::V1, Version::V1),
            Self::Allowed => (Version::V1, Version::V0),
            Self::Off => (Version::V0, Version::V0),
        }
    }

    /// Whether a PQXDH session must run SPQR to be used.
    pub(crate) const fn requires_spqr(self) -> bool {
        matches!(self, Self::Required)
    }
}

/// What the session calls need besides keys: the SPQR policy and, when both ends are
/// named by service ids, their addresses (libsignal's `ProtocolAddress`es).
///
/// `SessionOptions::default()` is SPQR required and no addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SessionOptions {
    /// Whether sessions run SPQR.
    pub spqr: SpqrPolicy,
    /// This device's and the peer device's addresses when both names are service ids
    /// (see [`SessionAddresses`]), else `None`. First messages then carry them in
    /// their `addresses` field, and a received message that carries the field must
    /// match them; with `None` a message carrying the field is refused. Also decides
    /// whether a new session is one with another device of the same account (same
    /// service id and identity key), whose SPQR chain accepts any forward jump, as in
    /// libsignal.
    pub addresses: Option<SessionAddresses>,
}

impl SessionOptions {
    /// Options with `spqr` and no addresses.
    #[must_use]
    pub const fn new(spqr: SpqrPolicy) -> Self {
        Self {
            spqr,
            addresses: None,
        }
    }

    /// The same options with `addresses`.
    #[must_use]
    pub const fn with_addresses(self, addresses: Option<SessionAddresses>) -> Self {
        Self {
            spqr: self.spqr,
            addresses,
        }
    }
}
