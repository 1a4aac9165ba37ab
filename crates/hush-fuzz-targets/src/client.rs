//! Targets for the `hush` facade's client: the plaintext framing every pairwise message
//! carries (`docs/wire/content.md`) and the facade's linking states
//! (`docs/wire/linking.md`, "Facade states").
//!
//! The framing has one encoding per value, so what decodes must re-encode to the very
//! same bytes.

/// [`hush::Content::decode`]: anything that decodes re-encodes to the input and decodes
/// to the same value; a plaintext never exceeds its bound.
pub fn client_content(data: &[u8]) {
    let Ok(content) = hush::Content::decode(data) else {
        return;
    };
    let encoded = content.encode();
    assert_eq!(
        encoded.as_ref().map(|e| e.as_slice()),
        Ok(data),
        "content does not re-encode"
    );
    assert_eq!(
        hush::Content::decode(data).as_ref(),
        Ok(&content),
        "content decodes differently"
    );
    assert!(
        data.len() <= hush::limits::MAX_CONTENT_LEN,
        "content over its bound"
    );
}

/// [`hush::CompanionLink::decode`] and [`hush::PendingCompanion::decode`]: a state that
/// decodes re-encodes to the input (one encoding per state).
pub fn facade_linking_state(data: &[u8]) {
    if let Ok(link) = hush::CompanionLink::decode(data) {
        assert_eq!(
            link.encode().as_slice(),
            data,
            "companion link does not re-encode"
        );
    }
    if let Ok(pending) = hush::PendingCompanion::decode(data) {
        assert_eq!(
            pending.encode().as_slice(),
            data,
            "pending companion does not re-encode"
        );
    }
}
