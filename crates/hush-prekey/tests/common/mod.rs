//! Shared by the integration tests: a hand-written protobuf writer (independent of the
//! crate's prost structures, so tests can build wrong uploads and cross-check field
//! numbers), and fixtures.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    reason = "test helpers outside #[test] fns: a failed unwrap or panic is a failed test"
)]
#![allow(
    dead_code,
    reason = "each test binary uses a different part of this module"
)]

use hush_core::{IdentityKeyPair, KemKeyType};
use hush_prekey::{GenerateRequest, PreKeyIdAllocator, PreKeyRecords, generate_prekeys};
use hush_test_support::test_rng;

pub(crate) const NOW_MS: u64 = 1_700_000_000_000;

pub(crate) fn varint(mut value: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

pub(crate) fn field_varint(number: u64, value: u64, out: &mut Vec<u8>) {
    varint(number << 3, out);
    varint(value, out);
}

pub(crate) fn field_bytes(number: u64, value: &[u8], out: &mut Vec<u8>) {
    varint((number << 3) | 2, out);
    varint(value.len() as u64, out);
    out.extend_from_slice(value);
}

/// A signed entry (EC or KEM) as the test writes it.
#[derive(Clone, Debug)]
pub(crate) struct SignedEntry {
    pub(crate) id: u32,
    pub(crate) public_key: Vec<u8>,
    pub(crate) signature: Vec<u8>,
    pub(crate) timestamp_ms: u64,
}

impl SignedEntry {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.id != 0 {
            field_varint(1, u64::from(self.id), &mut out);
        }
        if !self.public_key.is_empty() {
            field_bytes(2, &self.public_key, &mut out);
        }
        if !self.signature.is_empty() {
            field_bytes(3, &self.signature, &mut out);
        }
        if self.timestamp_ms != 0 {
            field_varint(4, self.timestamp_ms, &mut out);
        }
        out
    }
}

/// An upload as the test writes it, field by field (docs/wire/prekeys.md).
#[derive(Clone, Debug, Default)]
pub(crate) struct UploadSpec {
    pub(crate) identity_key: Vec<u8>,
    pub(crate) signed_prekey: Option<SignedEntry>,
    pub(crate) one_time_prekeys: Vec<(u32, Vec<u8>)>,
    pub(crate) kem_prekeys: Vec<SignedEntry>,
    pub(crate) last_resort_kem_prekey: Option<SignedEntry>,
}

impl UploadSpec {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = vec![1u8];
        if !self.identity_key.is_empty() {
            field_bytes(1, &self.identity_key, &mut out);
        }
        if let Some(entry) = &self.signed_prekey {
            field_bytes(2, &entry.encode(), &mut out);
        }
        for (id, key) in &self.one_time_prekeys {
            let mut entry = Vec::new();
            if *id != 0 {
                field_varint(1, u64::from(*id), &mut entry);
            }
            if !key.is_empty() {
                field_bytes(2, key, &mut entry);
            }
            field_bytes(3, &entry, &mut out);
        }
        for entry in &self.kem_prekeys {
            field_bytes(4, &entry.encode(), &mut out);
        }
        if let Some(entry) = &self.last_resort_kem_prekey {
            field_bytes(5, &entry.encode(), &mut out);
        }
        out
    }

    /// The spec of a library-made upload.
    pub(crate) fn from_upload(upload: &hush_prekey::PreKeyUpload) -> Self {
        let kem = |k: &hush_prekey::KemPreKey| SignedEntry {
            id: k.id(),
            public_key: k.public_key().encode(),
            signature: k.signature().to_bytes().to_vec(),
            timestamp_ms: k.timestamp_ms(),
        };
        Self {
            identity_key: upload.identity_key().encode().to_vec(),
            signed_prekey: upload.signed_prekey().map(|k| SignedEntry {
                id: k.id(),
                public_key: k.public_key().encode().to_vec(),
                signature: k.signature().to_bytes().to_vec(),
                timestamp_ms: k.timestamp_ms(),
            }),
            one_time_prekeys: upload
                .one_time_prekeys()
                .iter()
                .map(|k| (k.id(), k.public_key().encode().to_vec()))
                .collect(),
            kem_prekeys: upload.kem_prekeys().iter().map(kem).collect(),
            last_resort_kem_prekey: upload.last_resort_kem_prekey().map(kem),
        }
    }
}

pub(crate) struct Fixture {
    pub(crate) identity: IdentityKeyPair,
    pub(crate) records: PreKeyRecords,
    pub(crate) upload: hush_prekey::PreKeyUpload,
}

/// A device with `one_time` EC and `kem` Kyber1024 one-time keys, a signed prekey and a
/// last-resort key, made from `seed`.
pub(crate) fn fixture(seed: u64, one_time: usize, kem: usize) -> Fixture {
    fixture_with(seed, one_time, kem, KemKeyType::Kyber1024)
}

pub(crate) fn fixture_with(
    seed: u64,
    one_time: usize,
    kem: usize,
    kem_key_type: KemKeyType,
) -> Fixture {
    let mut rng = test_rng(seed);
    let identity = IdentityKeyPair::generate(&mut rng);
    let mut request = GenerateRequest::default();
    request.one_time_prekeys = one_time;
    request.kem_prekeys = kem;
    request.kem_key_type = kem_key_type;
    let records = generate_prekeys(
        &identity,
        &mut PreKeyIdAllocator::new(),
        &request,
        NOW_MS,
        &mut rng,
    )
    .unwrap();
    let upload = hush_prekey::upload_for(&identity, &records);
    Fixture {
        identity,
        records,
        upload,
    }
}
