//! Every numeric limit `hush-sealed` enforces, in one place.
//!
//! libsignal bounds none of these (it caps only the capacity it preallocates for a
//! `SentMessage`'s recipients, at 6 000). hush checks each before allocating or looping,
//! so no input makes it allocate or work beyond what the limits below allow.

/// Largest serialised `UnidentifiedSenderMessageContent` (the sealed plaintext) hush
/// seals or accepts: the certificate (about 300 bytes), a session message and room to
/// spare. The facade's message bodies are at most 256 KiB.
pub const MAX_CONTENT_LEN: usize = 512 * 1024;

/// Largest sealed message (v1, or a v2 `ReceivedMessage`) accepted: the content plus
/// the envelope (v1: 33-byte ephemeral key, 43-byte encrypted static key, two MACs and
/// protobuf framing; v2: 81 bytes of key material plus the 16-byte AES-GCM-SIV tag).
pub const MAX_SEALED_MESSAGE_LEN: usize = MAX_CONTENT_LEN + 256;

/// Largest serialised sender certificate accepted. libsignal's are about 300 bytes with
/// an embedded server certificate; the bound leaves room for long phone numbers and
/// future fields.
pub const MAX_CERTIFICATE_LEN: usize = 4 * 1024;

/// Most trust roots one [`crate::CertificateValidator`] holds. Each root costs one
/// signature check per validation of an unknown server certificate (all roots are tried,
/// so the time does not say which one matched).
pub const MAX_TRUST_ROOTS: usize = 8;

/// Most server certificates one [`crate::CertificateValidator`] remembers.
pub const MAX_KNOWN_SERVER_CERTIFICATES: usize = 64;

/// Most recipient entries (service ids, excluded ones included) in one v2
/// `SentMessage`, on both sides. A Signal group has at most 1 000 members; a hush
/// recipient with linked devices takes one entry per device identity key, and hush's
/// facade fans out to at most 10 000 devices.
pub const MAX_RECIPIENTS: usize = 10_000;

/// Most devices, over all entries, in one v2 `SentMessage`.
pub const MAX_DEVICES: usize = 10_000;

/// Largest device id, libsignal's `DeviceId` range being 1..=127. Also the most devices
/// one recipient entry can list, since no device may appear twice.
pub const MAX_DEVICE_ID: u8 = 127;

/// Largest registration id: v2 writes it in 14 bits.
pub const MAX_REGISTRATION_ID: u16 = 0x3fff;
