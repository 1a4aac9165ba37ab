//! The caller's decision about a remote identity.

use hush_core::IdentityKey;

use crate::error::{Error, Result};

/// What the application knows about a remote identity key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Trust {
    /// Known and trusted (or first use, when the app trusts on first use).
    Trusted,
    /// The app refuses this identity.
    Untrusted,
    /// The app knew a different identity for this peer: a safety-number change to show
    /// the user.
    Changed,
}

/// Decides whether a remote identity key is trusted. The application's identity store
/// implements this for the peer at hand; any `Fn(&IdentityKey) -> Trust` closure does too.
pub trait IdentityTrust {
    /// The decision for `identity`.
    fn trust(&self, identity: &IdentityKey) -> Trust;
}

impl<F: Fn(&IdentityKey) -> Trust> IdentityTrust for F {
    fn trust(&self, identity: &IdentityKey) -> Trust {
        self(identity)
    }
}

/// Trusts every identity. For tests and for apps that check safety numbers out of band.
#[derive(Debug, Clone, Copy, Default)]
pub struct TrustAll;

impl IdentityTrust for TrustAll {
    fn trust(&self, _identity: &IdentityKey) -> Trust {
        Trust::Trusted
    }
}

/// Turns a decision into a result.
///
/// # Errors
///
/// [`Error::UntrustedIdentity`] or [`Error::IdentityChanged`].
pub fn require_trusted(
    trust: &(impl IdentityTrust + ?Sized),
    identity: &IdentityKey,
) -> Result<()> {
    match trust.trust(identity) {
        Trust::Trusted => Ok(()),
        Trust::Untrusted => Err(Error::UntrustedIdentity),
        Trust::Changed => Err(Error::IdentityChanged),
    }
}
