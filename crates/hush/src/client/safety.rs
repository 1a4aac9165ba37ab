//! Safety numbers: what two people compare to know they talk to each other's accounts.

use std::fmt;

use hush_core::Fingerprint;

use crate::error::{Error, Result};
use crate::store::Store;

use super::{Device, check_user};

/// The safety-number format version: libsignal's version 2, whose identifiers are opaque
/// bytes (here the user ids) rather than phone numbers.
pub const SAFETY_NUMBER_VERSION: u32 = 2;

/// How many SHA-512 iterations each side's half of a safety number takes: Signal's
/// figure for its apps, so the cost of grinding a colliding key is the same as there.
pub const SAFETY_NUMBER_ITERATIONS: u32 = 5200;

/// The safety number between this account and another user's: 60 digits to read aloud
/// and a payload to show as a QR code and scan. It covers the two **account keys** (the
/// keys that sign each account's device list) and the two user ids, so it is the same
/// on every device of both accounts and does not change when either links or removes a
/// device; it changes when either account key changes (a restore under a new key, which
/// [`Device::accept_device_list`] reports as `IdentityChanged`).
///
/// Both sides compute the same digits (the lower half first), so people compare them
/// directly; a scanned payload is checked with [`SafetyNumber::matches_scanned`].
#[derive(Clone, PartialEq, Eq)]
pub struct SafetyNumber {
    fingerprint: Fingerprint,
}

impl SafetyNumber {
    /// The 60 digits, the same on both sides.
    #[must_use]
    pub fn digits(&self) -> String {
        self.fingerprint.displayable().to_string()
    }

    /// The 60 digits in twelve groups of five, as apps show them.
    #[must_use]
    pub fn grouped_digits(&self) -> String {
        let digits = self.digits();
        let mut out = String::with_capacity(digits.len() + digits.len() / 5);
        for (index, digit) in digits.chars().enumerate() {
            if index > 0 && index % 5 == 0 {
                out.push(' ');
            }
            out.push(digit);
        }
        out
    }

    /// The bytes to show as a QR code for the other person to scan.
    #[must_use]
    pub fn scannable(&self) -> Vec<u8> {
        self.fingerprint.scannable().encode()
    }

    /// Whether `scanned` (the other side's [`scannable`](Self::scannable), read from its
    /// screen) shows the same two accounts, compared in constant time.
    ///
    /// # Errors
    ///
    /// [`Error::Core`] if `scanned` does not decode, or was made with another format
    /// version (the apps disagree on the format, which is not a mismatch).
    pub fn matches_scanned(&self, scanned: &[u8]) -> Result<bool> {
        let scanned = hush_core::ScannableFingerprint::decode(scanned)?;
        Ok(self.fingerprint.scannable().compare(&scanned)?)
    }
}

impl fmt::Debug for SafetyNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SafetyNumber")
            .field("digits", &self.digits())
            .finish()
    }
}

impl<S: Store> Device<S> {
    /// The safety number between this account and `user`'s, from the account key of
    /// `user`'s verified device list (see [`SafetyNumber`]).
    ///
    /// ```
    /// use hush::Device;
    /// use hush::store::MemoryStore;
    ///
    /// let mut rng = hush::os_rng();
    /// let now = 1_700_000_000_000;
    /// let alice = Device::create_account(MemoryStore::new(), "alice", now, &mut rng)?;
    /// let bob = Device::create_account(MemoryStore::new(), "bob", now, &mut rng)?;
    /// alice.accept_device_list("bob", &bob.own_device_list()?, now)?;
    /// bob.accept_device_list("alice", &alice.own_device_list()?, now)?;
    ///
    /// let at_alice = alice.safety_number("bob")?;
    /// let at_bob = bob.safety_number("alice")?;
    /// assert_eq!(at_alice.digits(), at_bob.digits());
    /// assert!(at_alice.matches_scanned(&at_bob.scannable())?);
    /// # Ok::<(), hush::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a bad user name or this account's own user;
    /// [`Error::NoDeviceList`] if `user`'s list was never accepted; [`Error::Store`].
    pub fn safety_number(&self, user: &str) -> Result<SafetyNumber> {
        check_user(user)?;
        if user == self.account.user {
            return Err(Error::InvalidArgument(
                "a safety number is between two accounts",
            ));
        }
        let mut tx = self.store.transaction()?;
        let list = self.verified_list(&mut tx, user)?;
        drop(tx);
        let fingerprint = Fingerprint::new(
            SAFETY_NUMBER_VERSION,
            SAFETY_NUMBER_ITERATIONS,
            self.account.user.as_bytes(),
            &self.account.account_key,
            user.as_bytes(),
            list.account_identity(),
        )?;
        Ok(SafetyNumber { fingerprint })
    }
}
