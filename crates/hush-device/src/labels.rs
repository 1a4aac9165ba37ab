//! Every label and signature prefix `hush-device` uses (`docs/wire/linking.md`,
//! `docs/wire/device-list.md`). Each is used for exactly one purpose.

/// Prefix of the account signature over (metadata, companion identity key).
pub const ACCOUNT_SIGNATURE_PREFIX: [u8; 2] = [0x06, 0x00];
/// Prefix of the device (companion) signature over (metadata, companion identity key,
/// account identity key).
pub const DEVICE_SIGNATURE_PREFIX: [u8; 2] = [0x06, 0x01];
/// Prefix of the device-list signature over the list bytes.
pub const DEVICE_LIST_SIGNATURE_PREFIX: [u8; 2] = [0x06, 0x02];
/// Prefix of a device's membership signature over (account identity key, device id,
/// user id): its consent to be that device of that account
/// ([`crate::device_list::sign_membership`]).
pub const MEMBERSHIP_SIGNATURE_PREFIX: [u8; 2] = [0x06, 0x03];

/// HMAC key of the offer's public hash (the offer without its linking secret).
pub const OFFER_PUBLIC_HASH: &[u8] = b"hush-device v1 offer public hash";
/// HKDF info of the AES-256-GCM key of the linking message.
pub const LINKING_MESSAGE_KEY: &[u8] = b"hush-device v1 linking message key";
/// HKDF info of the HMAC key derived from the linking secret.
pub const LINKING_MAC_KEY: &[u8] = b"hush-device v1 linking secret mac key";
/// HMAC key of the linking transcript hash.
pub const TRANSCRIPT_HASH: &[u8] = b"hush-device v1 linking transcript";
/// HKDF info of the AES-256-GCM key of the countersignature.
pub const COUNTERSIGNATURE_KEY: &[u8] = b"hush-device v1 countersignature key";
/// HKDF info of the history hand-off key.
pub const HISTORY_KEY: &[u8] = b"hush-device v1 history key";
/// HMAC key of a device list's digest (equivocation detection).
pub const DEVICE_LIST_DIGEST: &[u8] = b"hush-device v1 device list digest";
