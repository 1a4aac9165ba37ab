//! Targets for `hush-device`: the linking offer (binary and QR text), the linking
//! message and countersignature (decoded, then fed to fixed linking states), serialised
//! linking states and replay sets, and signed device lists with the contact-side
//! verifier and its state.
//!
//! The formats are fixed-layout binary with one encoding per value, so every target
//! checks that what decodes re-encodes to the very same bytes.

use std::sync::OnceLock;

use hush_core::{IdentityKeyPair, PrivateKey};
use hush_device::{
    CompanionAssignment, CompanionLinking, Countersignature, DeviceListPolicy, DeviceListV1,
    KnownDeviceLists, LinkingMessage, LinkingOffer, LinkingState, PrimaryLinking, SeenOffers,
    SignedDeviceList,
};
use hush_test_support::test_rng;

/// The clock of the fixed linking states (ms since the Unix epoch).
pub const DEVICE_NOW_MS: u64 = 1_700_000_000_000;

struct Fixture {
    companion_identity: IdentityKeyPair,
    companion: CompanionLinking,
    primary: PrimaryLinking,
}

fn fixture_failed(what: &str, error: &hush_device::Error) -> ! {
    #[expect(clippy::panic, reason = "a fuzz target reports a bug by panicking")]
    {
        panic!("device fixture {what}: {error:?}")
    }
}

/// A companion state (fixed keys) and a primary state that answered its offer.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut rng = test_rng(0x0de1);
        let account = IdentityKeyPair::from(PrivateKey::from_bytes([0x11; 32]));
        let companion_identity = IdentityKeyPair::from(PrivateKey::from_bytes([0x22; 32]));
        let companion = CompanionLinking::new(
            &mut rng,
            companion_identity.identity_key(),
            b"fuzz-reference",
            DEVICE_NOW_MS,
            60_000,
        )
        .unwrap_or_else(|e| fixture_failed("offer", &e));
        let assignment = CompanionAssignment {
            user_id: b"fuzz".to_vec(),
            device_id: 2,
            key_index: 1,
        };
        let (primary, _) = PrimaryLinking::accept(
            companion.offer(),
            &account,
            &assignment,
            &mut SeenOffers::new(),
            DEVICE_NOW_MS,
            &mut rng,
        )
        .unwrap_or_else(|e| fixture_failed("accept", &e));
        Fixture {
            companion_identity,
            companion,
            primary,
        }
    })
}

/// `LinkingOffer::decode` on the bytes, and `LinkingOffer::from_qr_text` on them as
/// text: a decoded offer re-encodes to the same bytes (and to QR text that decodes to
/// the same offer).
pub fn linking_offer(data: &[u8]) {
    if let Ok(offer) = LinkingOffer::decode(data) {
        assert_eq!(offer.encode().as_slice(), data, "offer does not re-encode");
        let text = offer.to_qr_text();
        assert_eq!(LinkingOffer::from_qr_text(&text).as_ref(), Ok(&offer));
    }
    if let Ok(text) = core::str::from_utf8(data)
        && let Ok(offer) = LinkingOffer::from_qr_text(text)
    {
        let again = LinkingOffer::decode(&offer.encode());
        assert_eq!(again.as_ref(), Ok(&offer), "QR offer does not re-decode");
        let canonical = offer.to_qr_text();
        assert_eq!(LinkingOffer::from_qr_text(&canonical).as_ref(), Ok(&offer));
    }
}

/// `LinkingMessage::decode`: re-encodes to the same bytes; the fixed companion state
/// refuses it without panicking (no fuzzer input carries the fixture's secrets).
pub fn linking_message(data: &[u8]) {
    let Ok(message) = LinkingMessage::decode(data) else {
        return;
    };
    assert_eq!(message.encode(), data, "linking message does not re-encode");
    let f = fixture();
    let result = f.companion.clone().receive(
        &message,
        &f.companion_identity,
        DEVICE_NOW_MS,
        &mut test_rng(1),
    );
    assert!(result.is_err(), "a fuzzed linking message was accepted");
}

/// `Countersignature::decode`: re-encodes to the same bytes; the fixed primary state
/// refuses it without panicking.
pub fn linking_countersignature(data: &[u8]) {
    let Ok(counter) = Countersignature::decode(data) else {
        return;
    };
    assert_eq!(
        counter.encode(),
        data,
        "countersignature does not re-encode"
    );
    let result = fixture().primary.clone().finish(&counter, DEVICE_NOW_MS);
    assert!(result.is_err(), "a fuzzed countersignature was accepted");
}

/// `LinkingState::decode` (either side) and `SeenOffers::decode`: whatever decodes
/// re-encodes to the same bytes.
pub fn linking_state(data: &[u8]) {
    if let Ok(state) = LinkingState::decode(data) {
        assert_eq!(state.encode().as_slice(), data, "state does not re-encode");
    }
    if let Ok(seen) = SeenOffers::decode(data) {
        assert_eq!(seen.encode(), data, "seen offers do not re-encode");
    }
}

/// `SignedDeviceList::decode`, `DeviceListV1::decode` (format 1) and
/// `KnownDeviceLists::decode`: re-encode to the same bytes; verifying the list against
/// an empty and a restored verifier does not panic, and a list accepted once is
/// accepted again.
pub fn device_list(data: &[u8]) {
    let policy = DeviceListPolicy::default();
    if let Ok(list) = SignedDeviceList::decode(data) {
        assert_eq!(list.encode(), data, "device list does not re-encode");
        let mut known = KnownDeviceLists::new(policy);
        if known.verify(b"fuzz", data).is_ok() {
            assert!(known.verify(b"fuzz", data).is_ok(), "same list refused");
            let restored = KnownDeviceLists::decode(&known.encode(), policy);
            assert_eq!(restored.as_ref(), Ok(&known));
        }
    }
    if let Ok(list) = DeviceListV1::decode(data) {
        assert_eq!(list.encode(), data, "format-1 list does not re-encode");
        let mut known = KnownDeviceLists::new(policy);
        if known.verify_v1(b"fuzz", data).is_ok() {
            assert!(known.verify_v1(b"fuzz", data).is_ok(), "same list refused");
        }
    }
    if let Ok(known) = KnownDeviceLists::decode(data, policy) {
        assert_eq!(known.encode(), data, "verifier state does not re-encode");
    }
}
