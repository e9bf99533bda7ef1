//! Page images for OCR: JPEG, PNG, WebP (one page) and TIFF (one page per directory),
//! checked and turned into 8-bit greyscale PGM for tesseract.
//!
//! Decompression bombs are refused before any pixel is decoded: the dimensions come from
//! the header alone (PNG `IHDR`, JPEG `SOF`, WebP `VP8*`, each TIFF directory) and must
//! stay within [`ImageLimits::max_pixels`]; the decoders then run with allocation limits
//! as a second guard. A file that ends early (truncated JPEG) fails with a reason rather
//! than being read as a half-grey page.

use std::io::Cursor;

use super::ExtractError;
use crate::domain::document_type::ImageKind;

/// Limits on page images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLimits {
    /// Largest page accepted, in pixels (width × height).
    pub max_pixels: u64,
    /// Most pages read from one file (TIFF directories).
    pub max_pages: usize,
}

/// One decoded page: greyscale, as a binary PGM (`P5`) that tesseract reads (from a scratch file).
#[derive(Debug)]
pub(crate) struct GreyPage {
    pub width: u32,
    pub height: u32,
    pub pgm: Vec<u8>,
}

impl GreyPage {
    fn new(width: u32, height: u32, luma: &[u8]) -> Self {
        let header = format!("P5\n{width} {height}\n255\n");
        let mut pgm = Vec::with_capacity(header.len() + luma.len());
        pgm.extend_from_slice(header.as_bytes());
        pgm.extend_from_slice(luma);
        Self { width, height, pgm }
    }

    /// Takes a binary PGM as a renderer wrote it (`P5`, 8-bit), checking its header.
    pub(crate) fn from_pgm(pgm: Vec<u8>) -> Option<Self> {
        let mut fields = Vec::with_capacity(4);
        let mut pos = 0usize;
        while fields.len() < 4 {
            while pgm.get(pos).is_some_and(u8::is_ascii_whitespace) {
                pos += 1;
            }
            let start = pos;
            while pgm.get(pos).is_some_and(|b| !b.is_ascii_whitespace()) {
                pos += 1;
            }
            fields.push(std::str::from_utf8(pgm.get(start..pos)?).ok()?.to_owned());
        }
        let (width, height): (u32, u32) = (fields[1].parse().ok()?, fields[2].parse().ok()?);
        let pixels = usize::try_from(u64::from(width) * u64::from(height)).ok()?;
        let complete = fields[0] == "P5" && fields[3] == "255" && pgm.len() == pos + 1 + pixels;
        complete.then_some(Self { width, height, pgm })
    }

    /// The pixels, row by row (the PGM without its header).
    pub(crate) fn luma(&self) -> &[u8] {
        let pixels = self.width as usize * self.height as usize;
        &self.pgm[self.pgm.len() - pixels..]
    }

    /// The page turned clockwise by `degrees` (90, 180 or 270; anything else: a copy).
    pub(crate) fn rotated_clockwise(&self, degrees: u32) -> Self {
        let (w, h) = (self.width as usize, self.height as usize);
        let src = self.luma();
        let mut out = vec![0u8; src.len()];
        match degrees % 360 {
            90 => {
                // Source (x, y) goes to (h - 1 - y, x) in a page h wide.
                for (y, row) in src.chunks_exact(w).enumerate() {
                    for (x, &p) in row.iter().enumerate() {
                        out[x * h + (h - 1 - y)] = p;
                    }
                }
                Self::new(self.height, self.width, &out)
            }
            180 => {
                out.copy_from_slice(src);
                out.reverse();
                Self::new(self.width, self.height, &out)
            }
            270 => {
                // Source (x, y) goes to (y, w - 1 - x) in a page h wide.
                for (y, row) in src.chunks_exact(w).enumerate() {
                    for (x, &p) in row.iter().enumerate() {
                        out[(w - 1 - x) * h + y] = p;
                    }
                }
                Self::new(self.height, self.width, &out)
            }
            _ => Self::new(self.width, self.height, src),
        }
    }

    /// The rectangle at (`left`, `top`) of `width` × `height` pixels, clamped to the page.
    pub(crate) fn cropped(&self, left: u32, top: u32, width: u32, height: u32) -> Self {
        let left = left.min(self.width.saturating_sub(1));
        let top = top.min(self.height.saturating_sub(1));
        let width = width.clamp(1, self.width - left);
        let height = height.clamp(1, self.height - top);
        let (l, w, stride) = (left as usize, width as usize, self.width as usize);
        let mut out = Vec::with_capacity(w * height as usize);
        for row in self
            .luma()
            .chunks_exact(stride)
            .skip(top as usize)
            .take(height as usize)
        {
            out.extend_from_slice(&row[l..l + w]);
        }
        Self::new(width, height, &out)
    }
}

/// The number of pages of `bytes` (declared as `kind`), from the headers alone: for a
/// TIFF the page cap and every page's size are checked before any pixel is decoded (its
/// directories are walked without reading their images).
pub(crate) fn count_pages(
    bytes: &[u8],
    kind: ImageKind,
    limits: &ImageLimits,
) -> Result<usize, ExtractError> {
    check_kind(bytes, kind)?;
    if kind != ImageKind::Tiff {
        // One page, whose size is checked from its header before it is decoded.
        return Ok(1);
    }
    let unreadable =
        |e: tiff::TiffError| ExtractError::Failed(format!("the TIFF image cannot be read: {e}"));
    let mut decoder = tiff::decoder::Decoder::new(Cursor::new(bytes)).map_err(unreadable)?;
    let mut number = 0usize;
    loop {
        number += 1;
        if number > limits.max_pages {
            return Err(too_many_pages(limits));
        }
        let (width, height) = decoder.dimensions().map_err(unreadable)?;
        check_size(
            &format!("page {number} of the TIFF image"),
            width,
            height,
            limits,
        )?;
        if !decoder.more_images() {
            return Ok(number);
        }
        decoder.next_image().map_err(unreadable)?;
    }
}

/// Checks a JPEG without decoding it, for handing it to tesseract as it is: its type, its
/// size from the header (within the limits) and that it is complete (see [`single`],
/// which does the same before decoding). Returns its width and height.
pub(crate) fn check_jpeg(bytes: &[u8], limits: &ImageLimits) -> Result<(u32, u32), ExtractError> {
    check_kind(bytes, ImageKind::Jpeg)?;
    let what = "JPEG image";
    let (width, height) =
        image::ImageReader::with_format(Cursor::new(bytes), image::ImageFormat::Jpeg)
            .into_dimensions()
            .map_err(|e| ExtractError::Failed(format!("the {what} cannot be read: {e}")))?;
    check_size(what, width, height, limits)?;
    if !jpeg_is_complete(bytes) {
        return Err(ExtractError::Failed(format!(
            "the {what} is truncated (it has no end-of-image marker)"
        )));
    }
    Ok((width, height))
}

fn too_many_pages(limits: &ImageLimits) -> ExtractError {
    ExtractError::Failed(format!(
        "the TIFF image has more than {} pages, the most read from one document",
        limits.max_pages
    ))
}

/// Calls `page` with each page of `bytes` (declared as `kind`), in order, decoding one at
/// a time so that memory stays bounded by one page.
pub(crate) fn for_each_page(
    bytes: &[u8],
    kind: ImageKind,
    limits: &ImageLimits,
    mut page: impl FnMut(usize, GreyPage) -> Result<(), ExtractError>,
) -> Result<(), ExtractError> {
    check_kind(bytes, kind)?;
    match kind {
        ImageKind::Tiff => tiff_pages(bytes, limits, page),
        _ => page(1, single(bytes, kind, limits)?),
    }
}

/// The magic bytes must be those of the declared kind.
fn check_kind(bytes: &[u8], kind: ImageKind) -> Result<(), ExtractError> {
    match ImageKind::sniff(bytes) {
        Some(found) if found == kind => Ok(()),
        Some(found) => Err(ExtractError::mismatch(
            kind.label(),
            format!("it is a {} image", found.label()),
        )),
        None => Err(ExtractError::mismatch(
            kind.label(),
            format!("it does not start like a {} image", kind.label()),
        )),
    }
}

/// The first page of `bytes` (declared as `kind`) in colour and upright (EXIF
/// orientation applied), for thumbnails: the same checks and decode limits as the pages
/// read for OCR. A TIFF page whose layout the colour decoder does not read (a bilevel fax
/// page, …) comes through the OCR page reader, in grey.
pub(crate) fn first_page(
    bytes: &[u8],
    kind: ImageKind,
    limits: &ImageLimits,
) -> Result<image::DynamicImage, ExtractError> {
    check_kind(bytes, kind)?;
    match decode_checked(bytes, kind, limits) {
        Ok((mut decoded, orientation)) => {
            decoded.apply_orientation(orientation);
            Ok(decoded)
        }
        Err(colour) if kind == ImageKind::Tiff => {
            let mut first = None;
            let read = tiff_pages(bytes, limits, |_, page| {
                first = Some(page);
                // Stop after the first page.
                Err(ExtractError::Failed(String::new()))
            });
            let Some(page) = first else {
                return Err(read.err().unwrap_or(colour));
            };
            let header = page
                .pgm
                .len()
                .saturating_sub(page.width as usize * page.height as usize);
            image::GrayImage::from_raw(page.width, page.height, page.pgm[header..].to_vec())
                .map(image::DynamicImage::ImageLuma8)
                .ok_or(colour)
        }
        Err(e) => Err(e),
    }
}

fn check_size(
    what: &str,
    width: u32,
    height: u32,
    limits: &ImageLimits,
) -> Result<(), ExtractError> {
    let pixels = u64::from(width) * u64::from(height);
    if width == 0 || height == 0 {
        return Err(ExtractError::Failed(format!("the {what} has no pixels")));
    }
    if pixels > limits.max_pixels {
        return Err(ExtractError::Failed(format!(
            "the {what} is too large to read: {width} × {height} pixels, at most {} megapixels are read",
            limits.max_pixels / 1_000_000
        )));
    }
    Ok(())
}

fn format_of(kind: ImageKind) -> image::ImageFormat {
    match kind {
        ImageKind::Jpeg => image::ImageFormat::Jpeg,
        ImageKind::Png => image::ImageFormat::Png,
        ImageKind::Tiff => image::ImageFormat::Tiff,
        ImageKind::Webp => image::ImageFormat::WebP,
    }
}

fn single(bytes: &[u8], kind: ImageKind, limits: &ImageLimits) -> Result<GreyPage, ExtractError> {
    let (decoded, _) = decode_checked(bytes, kind, limits)?;
    let luma = decoded.into_luma8();
    Ok(GreyPage::new(luma.width(), luma.height(), luma.as_raw()))
}

/// Decodes a one-page image (the first page of a TIFF) after checking its size from the
/// header, under allocation limits; with its EXIF orientation.
fn decode_checked(
    bytes: &[u8],
    kind: ImageKind,
    limits: &ImageLimits,
) -> Result<(image::DynamicImage, image::metadata::Orientation), ExtractError> {
    use image::ImageDecoder as _;
    let what = format!("{} image", kind.label());
    let unreadable =
        |e: image::ImageError| ExtractError::Failed(format!("the {what} cannot be read: {e}"));
    // Header only: no pixel buffer exists before the size is known to be acceptable.
    let (width, height) = image::ImageReader::with_format(Cursor::new(bytes), format_of(kind))
        .into_dimensions()
        .map_err(unreadable)?;
    check_size(&what, width, height, limits)?;
    if kind == ImageKind::Jpeg && !jpeg_is_complete(bytes) {
        return Err(ExtractError::Failed(format!(
            "the {what} is truncated (it has no end-of-image marker)"
        )));
    }
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format_of(kind));
    let mut decode_limits = image::Limits::default();
    decode_limits.max_image_width = Some(width);
    decode_limits.max_image_height = Some(height);
    // The largest native buffer: 4 channels of 16 bits.
    decode_limits.max_alloc = Some(u64::from(width) * u64::from(height) * 8 + (1 << 20));
    reader.limits(decode_limits.clone());
    let mut decoder = reader.into_decoder().map_err(unreadable)?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    decode_limits
        .reserve(decoder.total_bytes())
        .map_err(unreadable)?;
    let decoded = image::DynamicImage::from_decoder(decoder).map_err(unreadable)?;
    Ok((decoded, orientation))
}

/// Whether a JPEG has its end-of-image marker (`FF D9`) after the last start-of-scan
/// (`FF DA`). Inside entropy-coded data every `FF` is followed by `00` or a restart marker,
/// so `FF D9` there can only be the real end; a file cut short lacks it. Trailing bytes
/// after the marker (camera trailers, padding) are allowed.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let Some(sos) = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]) else {
        return false;
    };
    bytes[sos..].windows(2).any(|w| w == [0xFF, 0xD9])
}

fn tiff_pages(
    bytes: &[u8],
    limits: &ImageLimits,
    mut page: impl FnMut(usize, GreyPage) -> Result<(), ExtractError>,
) -> Result<(), ExtractError> {
    use tiff::decoder::{Decoder, DecodingResult};
    let unreadable =
        |e: tiff::TiffError| ExtractError::Failed(format!("the TIFF image cannot be read: {e}"));
    let mut tiff_limits = tiff::decoder::Limits::default();
    // One page of up to max_pixels at 16 bits × 4 channels.
    tiff_limits.decoding_buffer_size =
        usize::try_from(limits.max_pixels.saturating_mul(8)).unwrap_or(usize::MAX);
    let mut decoder = Decoder::new(Cursor::new(bytes))
        .map_err(unreadable)?
        .with_limits(tiff_limits);
    let mut number = 0usize;
    loop {
        number += 1;
        if number > limits.max_pages {
            return Err(too_many_pages(limits));
        }
        let what = format!("page {number} of the TIFF image");
        let (width, height) = decoder.dimensions().map_err(unreadable)?;
        check_size(&what, width, height, limits)?;
        let colour = decoder.colortype().map_err(unreadable)?;
        let data = decoder.read_image().map_err(unreadable)?;
        let pixels = usize::try_from(u64::from(width) * u64::from(height)).unwrap_or(usize::MAX);
        let luma = match (colour, data) {
            (tiff::ColorType::Gray(1), DecodingResult::U8(packed)) => {
                unpack_bilevel(&packed, width as usize, height as usize)
            }
            (tiff::ColorType::Gray(8), DecodingResult::U8(v)) => v,
            (tiff::ColorType::Gray(16), DecodingResult::U16(v)) => {
                v.iter().map(|p| (p >> 8) as u8).collect()
            }
            (tiff::ColorType::GrayA(8), DecodingResult::U8(v)) => {
                v.chunks_exact(2).map(|c| c[0]).collect()
            }
            (tiff::ColorType::RGB(8), DecodingResult::U8(v)) => v
                .chunks_exact(3)
                .map(|c| luma_of(c[0], c[1], c[2]))
                .collect(),
            (tiff::ColorType::RGBA(8), DecodingResult::U8(v)) => v
                .chunks_exact(4)
                .map(|c| luma_of(c[0], c[1], c[2]))
                .collect(),
            (tiff::ColorType::RGB(16), DecodingResult::U16(v)) => v
                .chunks_exact(3)
                .map(|c| luma_of((c[0] >> 8) as u8, (c[1] >> 8) as u8, (c[2] >> 8) as u8))
                .collect(),
            (other, _) => {
                return Err(ExtractError::Failed(format!(
                    "{what} uses a colour layout that is not read ({other:?})"
                )));
            }
        };
        if luma.len() != pixels {
            return Err(ExtractError::Failed(format!(
                "{what} is truncated or malformed"
            )));
        }
        page(number, GreyPage::new(width, height, &luma))?;
        if !decoder.more_images() {
            return Ok(());
        }
        decoder.next_image().map_err(unreadable)?;
    }
}

/// Rec. 601 luma, as `image` computes it.
fn luma_of(r: u8, g: u8, b: u8) -> u8 {
    ((u32::from(r) * 299 + u32::from(g) * 587 + u32::from(b) * 114) / 1000) as u8
}

/// 1-bit rows (padded to whole bytes, 1 = white as the decoder hands them out for
/// BlackIsZero) to 8-bit grey.
fn unpack_bilevel(packed: &[u8], width: usize, height: usize) -> Vec<u8> {
    let row_bytes = width.div_ceil(8);
    let mut out = Vec::with_capacity(width * height);
    for row in packed.chunks(row_bytes).take(height) {
        for x in 0..width {
            let bit = row.get(x / 8).is_some_and(|b| b & (0x80 >> (x % 8)) != 0);
            out.push(if bit { 255 } else { 0 });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const LIMITS: ImageLimits = ImageLimits {
        max_pixels: 100_000_000,
        max_pages: 5,
    };

    fn png(width: u32, height: u32) -> Vec<u8> {
        let img =
            image::GrayImage::from_fn(width, height, |x, y| image::Luma([((x + y) % 256) as u8]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    fn pages_of(
        bytes: &[u8],
        kind: ImageKind,
        limits: &ImageLimits,
    ) -> Result<Vec<(usize, u32, u32)>, ExtractError> {
        let mut seen = Vec::new();
        for_each_page(bytes, kind, limits, |n, p| {
            seen.push((n, p.width, p.height));
            Ok(())
        })?;
        Ok(seen)
    }

    #[test]
    fn a_png_is_one_grey_page() {
        let got = pages_of(&png(30, 20), ImageKind::Png, &LIMITS).unwrap();
        assert_eq!(got, vec![(1, 30, 20)]);
        let mut pgm = Vec::new();
        for_each_page(&png(3, 2), ImageKind::Png, &LIMITS, |_, p| {
            pgm = p.pgm;
            Ok(())
        })
        .unwrap();
        assert_eq!(pgm, b"P5\n3 2\n255\n\x00\x01\x02\x01\x02\x03");
    }

    #[test]
    fn a_lying_type_is_a_mismatch() {
        let err = pages_of(&png(4, 4), ImageKind::Jpeg, &LIMITS).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the file is not a valid JPEG: it is a PNG image"
        );
        let err = pages_of(b"%PDF-1.4 hello", ImageKind::Png, &LIMITS).unwrap_err();
        assert!(matches!(err, ExtractError::TypeMismatch { .. }), "{err}");
    }

    #[test]
    fn tiff_pages_are_capped() {
        let mut bytes = Cursor::new(Vec::new());
        {
            let mut enc = tiff::encoder::TiffEncoder::new(&mut bytes).unwrap();
            for i in 0..7u8 {
                let data = vec![i * 30; 8 * 6];
                enc.write_image::<tiff::encoder::colortype::Gray8>(8, 6, &data)
                    .unwrap();
            }
        }
        let bytes = bytes.into_inner();
        let all = pages_of(
            &bytes,
            ImageKind::Tiff,
            &ImageLimits {
                max_pages: 7,
                ..LIMITS
            },
        )
        .unwrap();
        assert_eq!(all.len(), 7);
        assert_eq!(all[6], (7, 8, 6));
        let err = pages_of(&bytes, ImageKind::Tiff, &LIMITS).unwrap_err();
        assert!(err.to_string().contains("more than 5 pages"), "{err}");
        // Counted from the directories alone, with the same cap.
        let seven = ImageLimits {
            max_pages: 7,
            ..LIMITS
        };
        assert_eq!(count_pages(&bytes, ImageKind::Tiff, &seven).unwrap(), 7);
        let err = count_pages(&bytes, ImageKind::Tiff, &LIMITS).unwrap_err();
        assert!(err.to_string().contains("more than 5 pages"), "{err}");
    }

    fn grey(width: u32, height: u32, luma: &[u8]) -> GreyPage {
        GreyPage::new(width, height, luma)
    }

    #[test]
    fn pages_turn_clockwise_and_crop() {
        // 3 × 2:  1 2 3
        //         4 5 6
        let page = grey(3, 2, &[1, 2, 3, 4, 5, 6]);
        let quarter = page.rotated_clockwise(90);
        assert_eq!((quarter.width, quarter.height), (2, 3));
        assert_eq!(quarter.luma(), [4, 1, 5, 2, 6, 3]);
        let half = page.rotated_clockwise(180);
        assert_eq!((half.width, half.height), (3, 2));
        assert_eq!(half.luma(), [6, 5, 4, 3, 2, 1]);
        let three = page.rotated_clockwise(270);
        assert_eq!((three.width, three.height), (2, 3));
        assert_eq!(three.luma(), [3, 6, 2, 5, 1, 4]);
        assert_eq!(three.rotated_clockwise(90).luma(), page.luma());
        assert!(three.pgm.starts_with(b"P5\n2 3\n255\n"));
        let crop = page.cropped(1, 0, 2, 2);
        assert_eq!((crop.width, crop.height), (2, 2));
        assert_eq!(crop.luma(), [2, 3, 5, 6]);
        // Clamped to the page.
        let edge = page.cropped(2, 1, 10, 10);
        assert_eq!(edge.luma(), [6]);
    }

    #[test]
    fn a_jpeg_is_checked_without_decoding() {
        let mut out = Cursor::new(Vec::new());
        image::GrayImage::from_fn(40, 30, |x, y| image::Luma([(x * y % 256) as u8]))
            .write_to(&mut out, image::ImageFormat::Jpeg)
            .unwrap();
        let jpeg = out.into_inner();
        assert_eq!(check_jpeg(&jpeg, &LIMITS).unwrap(), (40, 30));
        let cut = check_jpeg(&jpeg[..jpeg.len() - 10], &LIMITS).unwrap_err();
        assert!(cut.to_string().contains("truncated"), "{cut}");
        let small = ImageLimits {
            max_pixels: 100,
            ..LIMITS
        };
        let big = check_jpeg(&jpeg, &small).unwrap_err();
        assert!(big.to_string().contains("too large"), "{big}");
        let png = check_jpeg(&png(4, 4), &LIMITS).unwrap_err();
        assert!(matches!(png, ExtractError::TypeMismatch { .. }), "{png}");
    }

    #[test]
    fn pages_are_counted_from_the_headers() {
        assert_eq!(
            count_pages(&png(30, 20), ImageKind::Png, &LIMITS).unwrap(),
            1
        );
        let err = count_pages(&png(30, 20), ImageKind::Jpeg, &LIMITS).unwrap_err();
        assert!(matches!(err, ExtractError::TypeMismatch { .. }), "{err}");
    }

    #[test]
    fn bilevel_rows_unpack() {
        assert_eq!(
            unpack_bilevel(&[0b1010_0000, 0b0100_0000], 3, 2),
            vec![255, 0, 255, 0, 255, 0]
        );
    }
}
