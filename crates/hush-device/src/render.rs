//! QR rendering of linking offers (feature `render`): Unicode half blocks for
//! terminals, SVG, and PNG.
//!
//! The QR code holds the offer's Base45 text, which the `qrcode` crate encodes in
//! alphanumeric mode, at error-correction level M (15 % of the code may be damaged or
//! covered). A typical offer (16-byte server reference, 123 bytes, 185 characters) gives
//! a version 8 code, 49 modules wide; the longest (64-byte reference) a version 9 code
//! (see `docs/wire/linking.md`).
//!
//! The rendered images show the linking secret to anyone who sees them: display them
//! only on the companion's own screen. The strings and buffers returned are wiped when
//! dropped; the `qrcode` crate's internal module matrix is not.

use core::fmt;

use qrcode::{Color, EcLevel, QrCode};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::offer::LinkingOffer;

/// Width of the quiet zone (light border) around the code, in modules. The QR
/// specification asks for 4.
pub const QUIET_ZONE: usize = 4;

/// Largest PNG scale (pixels per module) [`OfferQr::render_png`] accepts.
pub const MAX_PNG_SCALE: u32 = 32;

/// A linking offer laid out as a QR code.
pub struct OfferQr {
    code: QrCode,
}

impl OfferQr {
    /// Lays out `offer`'s QR text at error-correction level M.
    ///
    /// # Errors
    ///
    /// [`Error::Render`]`("qr code")` if the text does not fit a QR code (it always
    /// does for a valid offer).
    pub fn new(offer: &LinkingOffer) -> Result<Self> {
        let text = offer.to_qr_text();
        let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
            .map_err(|_| Error::Render("qr code"))?;
        Ok(Self { code })
    }

    /// The QR version (1 to 40).
    #[must_use]
    pub fn version(&self) -> i16 {
        match self.code.version() {
            qrcode::Version::Normal(v) | qrcode::Version::Micro(v) => v,
        }
    }

    /// The width of the code in modules, without the quiet zone.
    #[must_use]
    pub fn width(&self) -> usize {
        self.code.width()
    }

    /// Whether the module at (`x`, `y`) is dark, counting the quiet zone (which is light).
    fn dark(&self, x: usize, y: usize) -> bool {
        let w = self.code.width();
        let (Some(x), Some(y)) = (x.checked_sub(QUIET_ZONE), y.checked_sub(QUIET_ZONE)) else {
            return false;
        };
        x < w && y < w && self.code[(x, y)] == Color::Dark
    }

    /// The code as lines of Unicode half blocks, two module rows per text line, dark
    /// modules drawn as blocks, with the quiet zone. Best on a dark-on-light terminal;
    /// each line ends with `\n`.
    #[must_use]
    pub fn render_unicode(&self) -> Zeroizing<String> {
        let full = self.code.width() + 2 * QUIET_ZONE;
        let mut out = Zeroizing::new(String::with_capacity((full + 1) * full.div_ceil(2) * 3));
        for row in (0..full).step_by(2) {
            for x in 0..full {
                out.push(match (self.dark(x, row), self.dark(x, row + 1)) {
                    (true, true) => '\u{2588}',
                    (true, false) => '\u{2580}',
                    (false, true) => '\u{2584}',
                    (false, false) => ' ',
                });
            }
            out.push('\n');
        }
        out
    }

    /// The code as an SVG document, 8 pixels per module, with the quiet zone.
    #[must_use]
    pub fn render_svg(&self) -> Zeroizing<String> {
        Zeroizing::new(
            self.code
                .render::<qrcode::render::svg::Color<'_>>()
                .quiet_zone(true)
                .module_dimensions(8, 8)
                .build(),
        )
    }

    /// The code as an 8-bit greyscale PNG, `scale` pixels per module (1 to
    /// [`MAX_PNG_SCALE`]), with the quiet zone.
    ///
    /// # Errors
    ///
    /// [`Error::Render`]`("png scale")` for a scale outside 1..=32;
    /// [`Error::Render`]`("png")` if the encoder fails.
    pub fn render_png(&self, scale: u32) -> Result<Zeroizing<Vec<u8>>> {
        if !(1..=MAX_PNG_SCALE).contains(&scale) {
            return Err(Error::Render("png scale"));
        }
        let modules = self.code.width() + 2 * QUIET_ZONE;
        let scale_usize = usize::try_from(scale).map_err(|_| Error::Render("png scale"))?;
        let side = modules * scale_usize;
        let side_u32 = u32::try_from(side).map_err(|_| Error::Render("png"))?;
        let mut pixels = Zeroizing::new(Vec::with_capacity(side * side));
        for py in 0..side {
            for px in 0..side {
                let dark = self.dark(px / scale_usize, py / scale_usize);
                pixels.push(if dark { 0u8 } else { 255u8 });
            }
        }
        let mut out = Zeroizing::new(Vec::new());
        {
            let mut encoder = png::Encoder::new(&mut *out, side_u32, side_u32);
            encoder.set_color(png::ColorType::Grayscale);
            encoder.set_depth(png::BitDepth::Eight);
            let mut writer = encoder.write_header().map_err(|_| Error::Render("png"))?;
            writer
                .write_image_data(&pixels)
                .map_err(|_| Error::Render("png"))?;
            writer.finish().map_err(|_| Error::Render("png"))?;
        }
        Ok(out)
    }
}

impl fmt::Debug for OfferQr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OfferQr")
            .field("version", &self.version())
            .field("width", &self.width())
            .finish_non_exhaustive()
    }
}
