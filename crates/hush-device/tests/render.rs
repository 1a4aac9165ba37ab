//! QR rendering (feature `render`).

#![cfg(feature = "render")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    reason = "tests"
)]

use hush_core::IdentityKeyPair;
use hush_device::render::{OfferQr, QUIET_ZONE};
use hush_device::{CompanionLinking, Error};
use hush_test_support::test_rng;

fn qr(reference_len: usize) -> OfferQr {
    let mut rng = test_rng(1);
    let key = IdentityKeyPair::generate(&mut rng).identity_key();
    let linking = CompanionLinking::new(
        &mut rng,
        key,
        &vec![b'r'; reference_len],
        1_700_000_000_000,
        60_000,
    )
    .unwrap();
    OfferQr::new(linking.offer()).unwrap()
}

#[test]
fn typical_and_largest_offer_versions() {
    // 16-byte reference: 123 bytes, 185 Base45 characters, level M: version 7 holds 178
    // alphanumeric characters, version 8 holds 221.
    let typical = qr(16);
    assert_eq!(typical.version(), 8);
    assert_eq!(typical.width(), 49);
    let largest = qr(64);
    // 171 bytes, 257 characters: the level-M alphanumeric capacity of version 8 is 221,
    // of version 9 is 261 (ISO/IEC 18004 capacity table).
    assert_eq!(largest.version(), 9);
    assert_eq!(
        format!("{typical:?}"),
        "OfferQr { version: 8, width: 49, .. }"
    );
}

#[test]
fn unicode_has_quiet_zone_and_half_blocks() {
    let q = qr(16);
    let text = q.render_unicode();
    let full = q.width() + 2 * QUIET_ZONE;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), full.div_ceil(2));
    for line in &lines {
        assert_eq!(line.chars().count(), full);
        assert!(
            line.chars()
                .all(|c| " \u{2580}\u{2584}\u{2588}".contains(c))
        );
    }
    // The first two text lines are quiet zone; the third starts the finder pattern's
    // top edge (module row 4) at column 4.
    assert!(lines[0].chars().all(|c| c == ' '));
    assert!(lines[1].chars().all(|c| c == ' '));
    let row: Vec<char> = lines[2].chars().collect();
    assert_eq!(&row[..4], &[' '; 4]);
    assert_eq!(
        row[4], '\u{2588}',
        "module rows 4 and 5 of the finder are dark"
    );
}

#[test]
fn svg_and_png() {
    let q = qr(16);
    let svg = q.render_svg();
    assert!(svg.starts_with("<?xml"));
    assert!(svg.contains("<svg"));
    let png_bytes = q.render_png(4).unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes.to_vec()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let side = (q.width() + 2 * QUIET_ZONE) as u32 * 4;
    assert_eq!((info.width, info.height), (side, side));
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    let px = |x: u32, y: u32| buf[(y * side + x) as usize];
    assert_eq!(px(0, 0), 255, "quiet zone is light");
    assert_eq!(px(15, 15), 255);
    assert_eq!(px(16, 16), 0, "finder pattern corner is dark");
    assert_eq!(px(16 + 4, 16 + 4), 255, "finder pattern's light ring");
    assert_eq!(q.render_png(0).unwrap_err(), Error::Render("png scale"));
    assert_eq!(q.render_png(33).unwrap_err(), Error::Render("png scale"));
}
