//! Thumbnails (issue 13): a small JPEG of every document, for the list's grid view.
//!
//! - PDF: the first page, rendered by `pdftoppm` straight at the thumbnail width (never a
//!   full-resolution page): `-scale-to-x 320`, cut off at [`MAX_HEIGHT`], colour PPM on
//!   stdout, one run under its own budget (like the page renders of OCR).
//! - JPEG, PNG, TIFF (first page), WebP: the image itself. Its size comes from the header
//!   and must stay within [`ThumbnailOptions::max_pixels`] before any pixel is decoded,
//!   then it is decoded under allocation limits (the checks of [`super::images`], shared
//!   with OCR), turned upright by its EXIF orientation and scaled to [`WIDTH`] (the top
//!   of a very tall one).
//! - DOCX, ODT, plain text, Markdown, CSV, HTML: a "card": the first lines of the
//!   extracted text on a page-shaped white card with the type's label, set in Noto Sans
//!   Mono from the pre-rasterised glyphs of the `noto-sans-mono-bitmap` crate (the font
//!   data ships in the crate; nothing is rasterised here).
//!
//! The result is a JPEG ([`QUALITY`], image's encoder), [`WIDTH`] px wide, typically
//! 10–60 KB; one over [`MAX_BYTES`] is encoded again at a lower quality.
//! It runs in the extraction child like text extraction
//! ([`super::sandbox::thumbnail_in_child`]), so a hostile file can only take that down.

use std::io::{Cursor, Write};

use image::{DynamicImage, Rgb, RgbImage};
use noto_sans_mono_bitmap::{FontWeight, RasterHeight, get_raster, get_raster_width};
use serde::{Deserialize, Serialize};

use super::{ExtractError, Kind, OcrOptions, child, images};
use crate::domain::document_type::{self, ImageKind};

/// Thumbnail width in pixels.
pub const WIDTH: u32 = 320;
/// Tallest thumbnail: a taller page or image keeps its top.
pub const MAX_HEIGHT: u32 = 640;
/// Height of a text card (an A4 page's proportions at [`WIDTH`]).
pub const CARD_HEIGHT: u32 = 452;
/// JPEG quality.
pub const QUALITY: u8 = 75;
/// Largest thumbnail kept at [`QUALITY`]; a bigger one is encoded again, less finely.
pub const MAX_BYTES: usize = 200 * 1024;
/// Characters of text read for a card (far more than fit).
const CARD_TEXT_CHARS: usize = 4000;

/// Limits of one thumbnail run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ThumbnailOptions {
    /// Largest source image decoded, in pixels (bigger ones get no thumbnail).
    pub max_pixels: u64,
    /// Wall-clock (and CPU) budget of the `pdftoppm` run, in seconds.
    pub render_timeout_secs: u64,
    /// Address-space limit of the `pdftoppm` run, in bytes (clamped to the child's own).
    pub render_memory_bytes: u64,
}

impl Default for ThumbnailOptions {
    fn default() -> Self {
        Self::from_ocr(&OcrOptions::default())
    }
}

impl ThumbnailOptions {
    /// The limits OCR works under: page images are decoded, and pages rendered, within
    /// the same bounds.
    pub fn from_ocr(ocr: &OcrOptions) -> Self {
        Self {
            max_pixels: ocr.max_pixels,
            render_timeout_secs: ocr.page_timeout_secs,
            render_memory_bytes: ocr.page_memory_bytes,
        }
    }
}

/// A finished thumbnail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thumbnail {
    /// Width in pixels ([`WIDTH`]).
    pub width: u32,
    /// Height in pixels (at most [`MAX_HEIGHT`]).
    pub height: u32,
    /// The JPEG (base64 in the sandbox's JSON answer).
    #[serde(with = "base64_bytes")]
    pub jpeg: Vec<u8>,
}

mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

/// Makes the thumbnail of `bytes` declared as `content_type`, in this process. Like
/// [`super::extract_text`], untrusted input belongs in the sandbox child
/// ([`super::sandbox::thumbnail_in_child`]).
pub fn make_thumbnail(
    content_type: &str,
    bytes: &[u8],
    options: &ThumbnailOptions,
) -> Result<Thumbnail, ExtractError> {
    let kind = Kind::from_content_type(content_type)
        .ok_or_else(|| ExtractError::Unsupported(content_type.to_owned()))?;
    let picture = match kind {
        Kind::Pdf => first_pdf_page(bytes, options)?,
        Kind::Image(image) => {
            super::contain_panic(image.label(), || image_thumbnail(bytes, image, options))?
        }
        Kind::Docx | Kind::Odt | Kind::Text | Kind::Html => {
            let text = super::extract_text(content_type, bytes, CARD_TEXT_CHARS)?.text;
            let label = document_type::accepted(content_type).map_or(kind.label(), |t| t.label);
            let markdown = content_type.to_ascii_lowercase().contains("markdown");
            card(&text, label, markdown)
        }
    };
    encode(&picture)
}

/// The JPEG of `picture`, at [`QUALITY`] or lower until it fits [`MAX_BYTES`].
fn encode(picture: &RgbImage) -> Result<Thumbnail, ExtractError> {
    let mut jpeg = Vec::new();
    for quality in [QUALITY, 60, 45, 30] {
        jpeg.clear();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, quality)
            .encode_image(picture)
            .map_err(|e| ExtractError::Failed(format!("cannot encode the thumbnail: {e}")))?;
        if jpeg.len() <= MAX_BYTES {
            break;
        }
    }
    Ok(Thumbnail {
        width: picture.width(),
        height: picture.height(),
        jpeg,
    })
}

// --- PDF ------------------------------------------------------------------------------

/// The first page, rendered by `pdftoppm` at [`WIDTH`] px wide (colour, at most
/// [`MAX_HEIGHT`] high).
fn first_pdf_page(bytes: &[u8], options: &ThumbnailOptions) -> Result<RgbImage, ExtractError> {
    super::pdf::check(bytes)?;
    let pdftoppm = child::find_program("pdftoppm").ok_or_else(|| {
        ExtractError::OcrUnavailable(
            "pdftoppm (poppler-utils) is not installed, so PDF pages cannot be rendered".to_owned(),
        )
    })?;
    let file = scratch_pdf(bytes)?;
    let (width, max_height) = (WIDTH.to_string(), MAX_HEIGHT.to_string());
    let args: [&std::ffi::OsStr; 16] = [
        "-f".as_ref(),
        "1".as_ref(),
        "-l".as_ref(),
        "1".as_ref(),
        "-scale-to-x".as_ref(),
        width.as_ref(),
        "-scale-to-y".as_ref(),
        "-1".as_ref(),
        // Crop box in output pixels: a very tall page keeps its top.
        "-W".as_ref(),
        width.as_ref(),
        "-H".as_ref(),
        max_height.as_ref(),
        "-singlefile".as_ref(),
        "-q".as_ref(),
        "--".as_ref(),
        file.path().as_os_str(),
    ];
    let budget = child::Budget {
        wall: std::time::Duration::from_secs(options.render_timeout_secs.max(1)),
        memory_bytes: options.render_memory_bytes,
        max_output: (WIDTH * MAX_HEIGHT * 3) as usize + 64,
    };
    let out = child::run(&pdftoppm, &args, &[], b"", budget).map_err(|e| match e {
        child::RunError::Timeout => ExtractError::Failed(format!(
            "rendering the first page took longer than {} s",
            budget.wall.as_secs()
        )),
        child::RunError::Spawn(e) => {
            ExtractError::Failed(format!("pdftoppm could not be started: {e}"))
        }
    })?;
    if !out.status.success() {
        return Err(ExtractError::Failed(format!(
            "rendering the first page: {}",
            child::describe_exit("pdftoppm", &out)
        )));
    }
    if out.stdout_overflowed {
        return Err(ExtractError::Failed(
            "rendering the first page produced more than a thumbnail".to_owned(),
        ));
    }
    let page = parse_ppm(out.stdout).ok_or_else(|| {
        ExtractError::Failed("rendering the first page produced no image".to_owned())
    })?;
    // pdftoppm rounds; any other size is not what was asked for.
    if page.width() == 0 || page.width() > WIDTH + 1 || page.height() > MAX_HEIGHT + 1 {
        return Err(ExtractError::Failed(format!(
            "rendering the first page produced a {} × {} image",
            page.width(),
            page.height()
        )));
    }
    Ok(page)
}

fn scratch_pdf(bytes: &[u8]) -> Result<tempfile::NamedTempFile, ExtractError> {
    let fail = |e: std::io::Error| {
        ExtractError::Failed(format!("cannot write a scratch copy of the PDF: {e}"))
    };
    let mut file = tempfile::Builder::new()
        .prefix("docuvault-thumb-")
        .suffix(".pdf")
        .tempfile()
        .map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    file.flush().map_err(fail)?;
    Ok(file)
}

/// A binary PPM (`P6`, 8-bit) as pdftoppm writes it.
fn parse_ppm(ppm: Vec<u8>) -> Option<RgbImage> {
    let mut fields = Vec::with_capacity(4);
    let mut pos = 0usize;
    while fields.len() < 4 {
        while ppm.get(pos).is_some_and(u8::is_ascii_whitespace) {
            pos += 1;
        }
        let start = pos;
        while ppm.get(pos).is_some_and(|b| !b.is_ascii_whitespace()) {
            pos += 1;
        }
        fields.push(std::str::from_utf8(ppm.get(start..pos)?).ok()?.to_owned());
    }
    let (width, height): (u32, u32) = (fields[1].parse().ok()?, fields[2].parse().ok()?);
    let len = usize::try_from(u64::from(width) * u64::from(height) * 3).ok()?;
    if fields[0] != "P6" || fields[3] != "255" || ppm.len() != pos + 1 + len {
        return None;
    }
    RgbImage::from_raw(width, height, ppm[pos + 1..].to_vec())
}

// --- images ---------------------------------------------------------------------------

fn image_thumbnail(
    bytes: &[u8],
    kind: ImageKind,
    options: &ThumbnailOptions,
) -> Result<RgbImage, ExtractError> {
    let limits = images::ImageLimits {
        max_pixels: options.max_pixels,
        max_pages: 1,
    };
    let decoded = images::first_page(bytes, kind, &limits)?;
    Ok(scale_to_width(decoded))
}

/// `image` at [`WIDTH`] px wide, its top [`MAX_HEIGHT`] px when taller, on white where it
/// is transparent.
fn scale_to_width(image: DynamicImage) -> RgbImage {
    let (w, h) = (image.width().max(1), image.height().max(1));
    // The source rows that end up in the thumbnail.
    let keep = u32::try_from(u64::from(w) * u64::from(MAX_HEIGHT) / u64::from(WIDTH))
        .unwrap_or(u32::MAX)
        .clamp(1, h);
    let cropped = if keep < h {
        image.crop_imm(0, 0, w, keep)
    } else {
        image
    };
    let height = u32::try_from(u64::from(keep) * u64::from(WIDTH) / u64::from(w))
        .unwrap_or(MAX_HEIGHT)
        .clamp(1, MAX_HEIGHT);
    let scaled = if w >= WIDTH {
        cropped.thumbnail_exact(WIDTH, height)
    } else {
        cropped.resize_exact(WIDTH, height, image::imageops::FilterType::Triangle)
    };
    if !scaled.color().has_alpha() {
        return scaled.into_rgb8();
    }
    let rgba = scaled.into_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let over_white = |c: u8| {
            let (c, a) = (u32::from(c), u32::from(a));
            ((c * a + 255 * (255 - a) + 127) / 255) as u8
        };
        Rgb([over_white(r), over_white(g), over_white(b)])
    })
}

// --- text cards -----------------------------------------------------------------------

const PAPER: [u8; 3] = [255, 255, 255];
const EDGE: [u8; 3] = [209, 213, 219];
const INK: [u8; 3] = [55, 65, 81];
const TITLE_INK: [u8; 3] = [17, 24, 39];
const LABEL_INK: [u8; 3] = [107, 114, 128];
const MARGIN: u32 = 18;
const BODY: (FontWeight, RasterHeight) = (FontWeight::Regular, RasterHeight::Size16);
const TITLE: (FontWeight, RasterHeight) = (FontWeight::Bold, RasterHeight::Size20);
const LABEL: (FontWeight, RasterHeight) = (FontWeight::Bold, RasterHeight::Size16);
const LINE_GAP: u32 = 4;

/// Typographic punctuation the font lacks, as the ASCII it stands for.
fn fold_punctuation(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{2032}' => out.push('\''),
            '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{2033}' => out.push('"'),
            '\u{2010}'..='\u{2015}' | '\u{2212}' => out.push('-'),
            '\u{2026}' => out.push_str("..."),
            '\u{2022}' | '\u{25CF}' | '\u{25AA}' => out.push('*'),
            '\u{2192}' => out.push_str("->"),
            '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A card showing the first lines of `text`: the first non-empty line as a bold title
/// (at most two lines), then the text wrapped at word boundaries, and `label` (the
/// document type) at the foot.
fn card(text: &str, label: &str, markdown: bool) -> RgbImage {
    let text = fold_punctuation(text);
    let mut img = RgbImage::from_pixel(WIDTH, CARD_HEIGHT, Rgb(PAPER));
    for x in 0..WIDTH {
        img.put_pixel(x, 0, Rgb(EDGE));
        img.put_pixel(x, CARD_HEIGHT - 1, Rgb(EDGE));
    }
    for y in 0..CARD_HEIGHT {
        img.put_pixel(0, y, Rgb(EDGE));
        img.put_pixel(WIDTH - 1, y, Rgb(EDGE));
    }
    let inner = WIDTH - 2 * MARGIN;
    let label_top = CARD_HEIGHT - MARGIN - LABEL.1.val() as u32;
    let rule = label_top - 8;
    for x in MARGIN..WIDTH - MARGIN {
        img.put_pixel(x, rule, Rgb(EDGE));
    }
    draw_line(&mut img, MARGIN, label_top, label, LABEL, LABEL_INK);
    let bottom = rule - 8;

    let mut lines = text.lines().map(str::trim_end);
    let mut y = MARGIN;
    let title = lines.by_ref().map(str::trim).find(|l| !l.is_empty());
    if let Some(title) = title {
        let title = if markdown {
            title.trim_start_matches('#').trim_start()
        } else {
            title
        };
        for line in wrap(title, columns(inner, TITLE)).into_iter().take(2) {
            draw_line(&mut img, MARGIN, y, &line, TITLE, TITLE_INK);
            y += TITLE.1.val() as u32 + LINE_GAP;
        }
        y += 6;
    }
    let step = BODY.1.val() as u32 + LINE_GAP;
    let mut blank = false;
    'lines: for line in lines {
        if line.trim().is_empty() {
            // Paragraphs: one blank line, never more.
            if !blank {
                y += step / 2;
            }
            blank = true;
            continue;
        }
        blank = false;
        for part in wrap(line, columns(inner, BODY)) {
            if y + BODY.1.val() as u32 > bottom {
                break 'lines;
            }
            draw_line(&mut img, MARGIN, y, &part, BODY, INK);
            y += step;
        }
    }
    img
}

/// Characters of `font` that fit in `width` pixels.
fn columns(width: u32, font: (FontWeight, RasterHeight)) -> usize {
    (width as usize / get_raster_width(font.0, font.1)).max(1)
}

/// `line` cut into pieces of at most `columns` characters, at spaces where possible.
fn wrap(line: &str, columns: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut len = 0usize;
    for word in line.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        if len > 0 && len + 1 + word.len() > columns {
            out.push(std::mem::take(&mut current));
            len = 0;
        }
        while word.len() > columns {
            let rest = word.split_off(columns);
            if len > 0 {
                out.push(std::mem::take(&mut current));
                len = 0;
            }
            out.push(word.into_iter().collect());
            word = rest;
        }
        if len > 0 {
            current.push(' ');
            len += 1;
        }
        len += word.len();
        current.extend(word);
    }
    if len > 0 {
        out.push(current);
    }
    out
}

/// Draws `text` with its top-left corner at (`x`, `y`), glyph coverage blended onto the
/// paper; characters the font lacks show as `�`, then `?`.
fn draw_line(
    img: &mut RgbImage,
    x: u32,
    y: u32,
    text: &str,
    (weight, height): (FontWeight, RasterHeight),
    ink: [u8; 3],
) {
    let advance = get_raster_width(weight, height) as u32;
    let mut left = x;
    for c in text.chars() {
        if left + advance > img.width() {
            break;
        }
        let c = if c.is_control() { ' ' } else { c };
        let glyph = get_raster(c, weight, height)
            .or_else(|| get_raster('\u{FFFD}', weight, height))
            .or_else(|| get_raster('?', weight, height));
        if let Some(glyph) = glyph {
            for (dy, row) in glyph.rows().enumerate() {
                for (dx, &coverage) in row.iter().enumerate() {
                    if coverage == 0 {
                        continue;
                    }
                    let (px, py) = (left + dx as u32, y + dy as u32);
                    if px >= img.width() || py >= img.height() {
                        continue;
                    }
                    let pixel = img.get_pixel_mut(px, py);
                    for (channel, fg) in pixel.0.iter_mut().zip(ink) {
                        let (bg, fg, a) = (u32::from(*channel), u32::from(fg), u32::from(coverage));
                        *channel = ((fg * a + bg * (255 - a) + 127) / 255) as u8;
                    }
                }
            }
        }
        left += advance;
    }
}

/// Reads back a thumbnail's size (for tests and callers that only hold the JPEG).
pub fn jpeg_dimensions(jpeg: &[u8]) -> Option<(u32, u32)> {
    image::ImageReader::with_format(Cursor::new(jpeg), image::ImageFormat::Jpeg)
        .into_dimensions()
        .ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn png(width: u32, height: u32, alpha: bool) -> Vec<u8> {
        let img = if alpha {
            DynamicImage::ImageRgba8(image::RgbaImage::from_fn(width, height, |x, _| {
                image::Rgba([0, 0, 0, if x % 2 == 0 { 0 } else { 255 }])
            }))
        } else {
            DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
                Rgb([(x % 256) as u8, (y % 256) as u8, 128])
            }))
        };
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn an_image_becomes_320_wide_and_a_tall_one_keeps_its_top() {
        let t = make_thumbnail(
            "image/png",
            &png(1000, 500, false),
            &ThumbnailOptions::default(),
        )
        .unwrap();
        assert_eq!((t.width, t.height), (320, 160));
        assert_eq!(jpeg_dimensions(&t.jpeg), Some((320, 160)));
        let tall = make_thumbnail(
            "image/png",
            &png(200, 5000, false),
            &ThumbnailOptions::default(),
        )
        .unwrap();
        assert_eq!((tall.width, tall.height), (320, MAX_HEIGHT));
        // A small one is scaled up, so the grid stays even.
        let small = make_thumbnail(
            "image/png",
            &png(40, 30, false),
            &ThumbnailOptions::default(),
        )
        .unwrap();
        assert_eq!((small.width, small.height), (320, 240));
    }

    #[test]
    fn transparency_lands_on_white() {
        let picture = scale_to_width(image::load_from_memory(&png(640, 20, true)).unwrap());
        // Every second source column is transparent: averaged with black, mid grey.
        let p = picture.get_pixel(100, 5).0;
        assert!((100..=160).contains(&p[0]), "{p:?}");
    }

    #[test]
    fn a_bomb_is_refused_before_decoding() {
        let options = ThumbnailOptions {
            max_pixels: 1000,
            ..ThumbnailOptions::default()
        };
        let err = make_thumbnail("image/png", &png(100, 100, false), &options).unwrap_err();
        assert!(err.to_string().contains("too large"), "{err}");
        let err = make_thumbnail(
            "image/jpeg",
            &png(10, 10, false),
            &ThumbnailOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(err, ExtractError::TypeMismatch { .. }), "{err}");
    }

    #[test]
    fn a_text_card_shows_the_first_lines() {
        let text = "# Quarterly report\n\nRevenue grew by 12 % in the third quarter, \
                    mostly from the new subscription plans.\nGrüße aus Köln — naïve café\n";
        let t = make_thumbnail(
            "text/markdown",
            text.as_bytes(),
            &ThumbnailOptions::default(),
        )
        .unwrap();
        assert_eq!((t.width, t.height), (WIDTH, CARD_HEIGHT));
        assert!(t.jpeg.len() < 60 * 1024, "{}", t.jpeg.len());
        let card = card(text, "Markdown", true);
        // Ink where the title is, paper further down the empty card.
        let dark = |x0: u32, y0: u32, w: u32, h: u32| {
            (y0..y0 + h)
                .flat_map(|y| (x0..x0 + w).map(move |x| (x, y)))
                .filter(|&(x, y)| card.get_pixel(x, y).0[0] < 128)
                .count()
        };
        assert!(dark(MARGIN, MARGIN, 200, 20) > 100);
        assert_eq!(dark(MARGIN, 250, 280, 100), 0);
    }

    #[test]
    fn typographic_punctuation_folds_to_ascii() {
        assert_eq!(
            fold_punctuation("\u{201C}a\u{201D} \u{2014} b\u{2026}\tc\u{2019}s \u{2022} é"),
            "\"a\" - b... c's * é"
        );
    }

    #[test]
    fn wrapping_breaks_at_spaces_and_cuts_long_words() {
        assert_eq!(wrap("aa bb cc", 5), vec!["aa bb", "cc"]);
        assert_eq!(wrap("abcdefgh xy", 3), vec!["abc", "def", "gh", "xy"]);
        assert!(wrap("   ", 3).is_empty());
    }

    #[test]
    fn ppm_is_checked() {
        let mut ppm = b"P6\n2 1\n255\n".to_vec();
        ppm.extend_from_slice(&[1, 2, 3, 4, 5, 6]);
        let img = parse_ppm(ppm.clone()).unwrap();
        assert_eq!(img.get_pixel(1, 0).0, [4, 5, 6]);
        ppm.pop();
        assert!(parse_ppm(ppm).is_none());
    }

    #[test]
    fn the_answer_carries_the_jpeg_as_base64() {
        let t = Thumbnail {
            width: 1,
            height: 2,
            jpeg: vec![0xFF, 0xD8, 0xFF],
        };
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, r#"{"width":1,"height":2,"jpeg":"/9j/"}"#);
        assert_eq!(serde_json::from_str::<Thumbnail>(&json).unwrap(), t);
    }
}
