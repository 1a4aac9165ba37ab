//! Every numeric limit and default `hush-prekey` uses, in one place.
//!
//! Sizes are checked before anything is decoded: a byte string longer than its limit is
//! refused before the protobuf decoder sees it, so the limit also bounds what decoding can
//! allocate (prost decodes a whole message at once; every byte string it copies and every
//! list entry it creates comes out of the input). Counts of list entries are checked in a
//! scan of the message's top-level fields, before prost decodes it. `docs/wire/prekeys.md`
//! explains how the figures below were chosen.

/// The format version byte in front of every byte string this crate writes (bundles,
/// uploads, private records, record sets). Decoders refuse every other value.
pub const FORMAT_VERSION: u8 = 1;

/// The largest prekey id: ids live in 24 bits.
///
/// libsignal's Java `org.signal.libsignal.protocol.util.Medium.MAX_VALUE` is `0xFFFFFF`
/// (libsignal-protocol-c calls it `PRE_KEY_MEDIUM_MAX_VALUE`). Signal-Android's `PreKeyUtil`
/// advances ids as `(id + 1) % Medium.MAX_VALUE`, so its ids run 0..=0xFFFFFE; Signal-iOS's
/// `PreKeyId.swift` keeps them in `1..<0x1000000` and wraps to 1. Validation therefore
/// accepts every id in `0..=MAX_PREKEY_ID`; [`crate::PreKeyIdAllocator`] hands out
/// `1..=MAX_PREKEY_ID` and wraps to 1, as Signal-iOS does.
pub const MAX_PREKEY_ID: u32 = 0x00FF_FFFF;

/// The first id [`crate::PreKeyIdAllocator`] hands out, and the one it wraps to.
pub const MIN_ALLOCATED_PREKEY_ID: u32 = 1;

/// The largest device id a bundle may name. Signal's server accepts device ids
/// `1..=127` (`DeviceIdUtil`: `Device.PRIMARY_ID` to `Byte.MAX_VALUE`).
pub const MAX_DEVICE_ID: u32 = 127;

/// The largest encoded [`crate::PreKeyBundle`]. A bundle with a one-time prekey and a
/// Kyber1024 prekey is about 1,830 bytes; the limit leaves room without inviting abuse.
pub const MAX_BUNDLE_BYTES: usize = 4096;

/// The largest encoded private prekey record (the KEM record, about 4,830 bytes, is the
/// largest kind).
pub const MAX_RECORD_BYTES: usize = 8192;

/// The most records of one kind (signed, one-time, KEM) a [`crate::PreKeyRecords`] set may
/// hold, and the most keys of one kind [`crate::generate_prekeys`] makes in one call. Far
/// below the 2^24 id space, so one batch never reuses its own ids.
pub const MAX_RECORDS_PER_KIND: usize = 1000;

/// The most one-time EC prekeys a [`crate::DeviceKeys`] stores. An upload that would
/// leave more is refused whole ([`crate::Error::TooMany`], nothing changed). The same as
/// [`MAX_RECORDS_PER_KIND`], the most a client keeps: ten batches of 100. Without a cap a
/// device's uploads could grow a server's memory without bound (issue 16, item 17).
pub const MAX_STORED_ONE_TIME_PREKEYS: usize = MAX_RECORDS_PER_KIND;

/// The most one-time KEM prekeys (not counting the last-resort one) a
/// [`crate::DeviceKeys`] stores, refused as for [`MAX_STORED_ONE_TIME_PREKEYS`]. A
/// Kyber1024 key is 1 569 bytes, so about 1.5 MiB per device at most.
pub const MAX_STORED_KEM_PREKEYS: usize = MAX_RECORDS_PER_KIND;

/// The largest encoded [`crate::PreKeyRecords`] set: [`MAX_RECORDS_PER_KIND`] KEM records
/// of about 4.9 KB each plus the EC records, with headroom.
pub const MAX_RECORD_SET_BYTES: usize = 8 * 1024 * 1024;

/// Default [`crate::UploadPolicy::max_upload_bytes`]: 256 KiB. A full upload (one signed
/// EC prekey, 100 one-time EC prekeys, 100 signed Kyber1024 prekeys and a last-resort
/// one) encodes to about 171 KB, so the default fits it with 50 % headroom.
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 256 * 1024;

/// Default [`crate::UploadPolicy::max_one_time_prekeys`]: Signal clients upload one-time
/// keys in batches of 100 (Signal-Android `PreKeyUtil.BATCH_SIZE`).
pub const DEFAULT_MAX_ONE_TIME_PREKEYS: usize = 100;

/// Default [`crate::UploadPolicy::max_kem_prekeys`] (one-time KEM prekeys, not counting
/// the last-resort one): the same batch of 100.
pub const DEFAULT_MAX_KEM_PREKEYS: usize = 100;

/// Milliseconds in one day.
pub const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// Default [`crate::UploadPolicy::max_clock_skew_ms`]: a key may claim to be made up to
/// one day after the server's clock, for clients whose clocks run fast.
pub const DEFAULT_MAX_CLOCK_SKEW_MS: u64 = DAY_MS;

/// Default [`crate::UploadPolicy::max_key_age_ms`]: a signed key in an upload may be at
/// most 30 days old.
pub const DEFAULT_MAX_KEY_AGE_MS: u64 = 30 * DAY_MS;

/// Default [`crate::RotationPolicy::signed_prekey_max_age_ms`]: replace the signed prekey
/// (and the last-resort KEM prekey) every 2 days.
pub const DEFAULT_SIGNED_PREKEY_ROTATION_MS: u64 = 2 * DAY_MS;

/// Default [`crate::RotationPolicy::grace_period_ms`]: keep a replaced signed prekey for
/// 30 days after its successor appeared, so that first messages still in flight decrypt.
/// Signal-Android archives signed prekeys after the same 30 days (`PreKeyUtil.ARCHIVE_AGE`).
pub const DEFAULT_GRACE_PERIOD_MS: u64 = 30 * DAY_MS;

/// Default [`crate::RotationPolicy::one_time_low_water`]: replenish when the server holds
/// fewer than 10 one-time keys of a kind (Signal-Android `PreKeysSyncJob.PREKEY_MINIMUM`).
pub const DEFAULT_ONE_TIME_LOW_WATER: u32 = 10;

/// Default [`crate::RotationPolicy::one_time_target`]: replenish up to 100 keys.
pub const DEFAULT_ONE_TIME_TARGET: u32 = 100;

/// Length of [`crate::PreKeyIdAllocator::encode`]'s output: version byte and three
/// big-endian `u32`s.
pub const ALLOCATOR_STATE_LENGTH: usize = 13;

// Compile-time checks that the limits agree with each other.
const _: () = {
    assert!(MAX_PREKEY_ID == (1 << 24) - 1);
    assert!(DEFAULT_ONE_TIME_TARGET as usize <= DEFAULT_MAX_ONE_TIME_PREKEYS);
    assert!(DEFAULT_ONE_TIME_LOW_WATER < DEFAULT_ONE_TIME_TARGET);
    assert!(MAX_RECORDS_PER_KIND < MAX_PREKEY_ID as usize);
    assert!(MAX_RECORDS_PER_KIND * MAX_RECORD_BYTES < MAX_RECORD_SET_BYTES);
};
