//! Pages Tesseract read poorly, handed back as small JPEGs for an AI fallback (issue 13
//! item 7): the extraction child has no network and no keys, so when the pipeline asks
//! ([`OcrOptions::ai_fallback`](super::OcrOptions::ai_fallback)) it returns the page
//! images of the worst-read OCR'd pages, and the parent sends them to the owner's
//! vision-capable model.
//!
//! Bounds, all enforced here in the sandbox: only pages OCR'd by Tesseract whose mean word
//! confidence is below [`VisionRequest::below_confidence`] and that show some ink (a blank
//! page is never sent); at most [`VisionRequest::max_pages`] per document, the least
//! confident ones; each scaled to at most [`MAX_SIDE`] pixels on its longest side and
//! encoded as greyscale JPEG of at most [`MAX_JPEG_BYTES`].
//!
//! So that the parent can put a model's reading in place of one page's text, the child
//! also returns every page's normalized text ([`VisionCandidates::page_texts`]);
//! [`compose`] joins them exactly as extraction joins pages, so the document's text is
//! the same until a page is replaced.

use serde::{Deserialize, Serialize};

use super::images::GreyPage;
use super::{cap_chars, normalize};

/// Longest side of a page image sent to a model, in pixels.
pub const MAX_SIDE: u32 = 1600;
/// Largest page image sent to a model, in bytes (JPEG).
pub const MAX_JPEG_BYTES: usize = 1024 * 1024;
/// JPEG qualities tried in turn until the image fits [`MAX_JPEG_BYTES`].
const QUALITIES: [u8; 3] = [80, 60, 40];
/// A page with fewer dark pixels than this share (of all pixels) is blank: never sent.
const MIN_INK_SHARE: f64 = 0.0005;

/// What the pipeline asks the extraction child for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisionRequest {
    /// Pages read with a mean word confidence (0–100) below this are candidates.
    pub below_confidence: f32,
    /// Most pages returned for one document (the least confident ones).
    pub max_pages: usize,
}

impl VisionRequest {
    /// Extra stdout the child may need for the answer: the page images (base64) and the
    /// page texts (at most about twice the text cap, JSON-escaped).
    pub fn output_bytes(&self, max_chars: usize) -> usize {
        self.max_pages
            .saturating_mul(MAX_JPEG_BYTES.saturating_mul(4) / 3 + 1024)
            .saturating_add(max_chars.saturating_mul(16))
    }
}

/// One page image for the AI fallback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisionPage {
    /// 1-based page number.
    pub page: u32,
    /// Mean word confidence of Tesseract's reading (0–100).
    pub tesseract_confidence: f32,
    /// Greyscale JPEG, at most [`MAX_SIDE`] pixels on its longest side (base64 on the wire).
    #[serde(with = "base64_bytes")]
    pub jpeg: Vec<u8>,
    /// Width of the JPEG in pixels.
    pub width: u32,
    /// Height of the JPEG in pixels.
    pub height: u32,
}

/// The pages for the AI fallback and what is needed to replace their text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisionCandidates {
    /// The page images, by page number.
    pub pages: Vec<VisionPage>,
    /// Each page's normalized text, in order (one per page of `Extracted::pages`), cut so
    /// that [`compose`] of them gives exactly the document's text.
    pub page_texts: Vec<String>,
}

/// The document text of `pages` (normalized page texts): non-empty pages joined by a
/// blank line, capped at `max_chars` — what extraction produces from the same pages.
pub fn compose(pages: &[String], max_chars: usize) -> (String, bool) {
    let mut text = String::new();
    for page in pages.iter().filter(|p| !p.is_empty()) {
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(page);
    }
    cap_chars(text, max_chars)
}

/// Normalized page texts, cut after `max_chars + 1` characters in total (pages after that
/// are empty): enough for [`compose`] to give the capped text, bounded in size.
pub(crate) fn page_texts(raw: &[String], max_chars: usize) -> Vec<String> {
    // Characters of the composed text so far, separators included.
    let mut used = 0usize;
    raw.iter()
        .map(|page| {
            let separator = if used > 0 { 2 } else { 0 };
            let budget = max_chars
                .saturating_add(1)
                .saturating_sub(used.saturating_add(separator));
            if budget == 0 {
                return String::new();
            }
            let mut text = normalize(page);
            if let Some((cut, _)) = text.char_indices().nth(budget) {
                text.truncate(cut);
            }
            if !text.is_empty() {
                used = used.saturating_add(separator + text.chars().count());
            }
            text
        })
        .collect()
}

/// The candidates of a document read page by page whose capped text is `text`: `None`
/// when no page qualifies (or, defensively, when the page texts do not compose to
/// `text`, so that replacing a page could never change the others).
pub(crate) fn candidates(
    read: super::scan::PagedText,
    text: &str,
    max_chars: usize,
) -> Option<VisionCandidates> {
    let pages = read.vision.into_pages();
    if pages.is_empty() {
        return None;
    }
    let page_texts = page_texts(&read.page_texts, max_chars);
    if compose(&page_texts, max_chars).0 != text {
        return None;
    }
    Some(VisionCandidates { pages, page_texts })
}

/// Chooses the pages to return while pages are read.
#[derive(Debug, Default)]
pub(crate) struct Picker {
    request: Option<VisionRequest>,
    picked: Vec<VisionPage>,
}

impl Picker {
    /// A picker for `request` (`None` picks nothing).
    pub fn new(request: Option<&VisionRequest>) -> Self {
        Self {
            request: request.cloned().filter(|r| r.max_pages > 0),
            picked: Vec::new(),
        }
    }

    /// Whether pages are wanted at all.
    pub fn requested(&self) -> bool {
        self.request.is_some()
    }

    /// Whether a page read with mean word confidence `confidence` may be taken (worth
    /// decoding its image for [`Self::offer`]).
    pub fn wants(&self, confidence: f32) -> bool {
        self.request
            .as_ref()
            .is_some_and(|r| confidence < r.below_confidence)
    }

    /// Offers page `page`, read by Tesseract with mean word confidence `confidence`.
    pub fn offer(&mut self, page: u32, image: &GreyPage, confidence: f32) {
        let Some(request) = &self.request else {
            return;
        };
        if confidence >= request.below_confidence {
            return;
        }
        let full = self.picked.len() >= request.max_pages;
        let worst_kept = self
            .picked
            .iter()
            .map(|p| p.tesseract_confidence)
            .fold(f32::NEG_INFINITY, f32::max);
        if full && confidence >= worst_kept {
            return;
        }
        if !has_ink(image) {
            return;
        }
        let Some((jpeg, width, height)) = page_jpeg(image) else {
            return;
        };
        self.picked.push(VisionPage {
            page,
            tesseract_confidence: (confidence * 10.0).round() / 10.0,
            jpeg,
            width,
            height,
        });
        if self.picked.len() > request.max_pages {
            // Drop the most confident (the latest page among equals).
            if let Some(i) = (0..self.picked.len()).max_by(|&a, &b| {
                let (pa, pb) = (&self.picked[a], &self.picked[b]);
                pa.tesseract_confidence
                    .total_cmp(&pb.tesseract_confidence)
                    .then(pa.page.cmp(&pb.page))
            }) {
                self.picked.remove(i);
            }
        }
    }

    /// The chosen pages, by page number.
    pub fn into_pages(self) -> Vec<VisionPage> {
        let mut pages = self.picked;
        pages.sort_by_key(|p| p.page);
        pages
    }
}

fn luma(image: &GreyPage) -> &[u8] {
    let pixels = usize::try_from(u64::from(image.width) * u64::from(image.height))
        .unwrap_or(usize::MAX)
        .min(image.pgm.len());
    &image.pgm[image.pgm.len() - pixels..]
}

/// Whether the page shows anything: at least [`MIN_INK_SHARE`] of its pixels dark.
fn has_ink(image: &GreyPage) -> bool {
    let pixels = luma(image);
    let dark = pixels.iter().filter(|&&p| p < 128).count();
    !pixels.is_empty() && dark as f64 >= pixels.len() as f64 * MIN_INK_SHARE
}

/// The page as a greyscale JPEG within [`MAX_SIDE`] and [`MAX_JPEG_BYTES`], with its
/// size; `None` when it cannot be made to fit.
pub(crate) fn page_jpeg(image: &GreyPage) -> Option<(Vec<u8>, u32, u32)> {
    let grey = image::GrayImage::from_raw(image.width, image.height, luma(image).to_vec())?;
    let mut side = MAX_SIDE;
    loop {
        let longest = image.width.max(image.height);
        let scaled = if longest > side {
            let scale = f64::from(side) / f64::from(longest);
            let w = ((f64::from(image.width) * scale).round() as u32).max(1);
            let h = ((f64::from(image.height) * scale).round() as u32).max(1);
            image::imageops::resize(&grey, w, h, image::imageops::FilterType::Triangle)
        } else {
            grey.clone()
        };
        for quality in QUALITIES {
            let mut out = Vec::new();
            let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality);
            if scaled.write_with_encoder(encoder).is_err() {
                return None;
            }
            if out.len() <= MAX_JPEG_BYTES {
                return Some((out, scaled.width(), scaled.height()));
            }
        }
        // Noise that does not compress: smaller still, down to a legible minimum.
        side = side * 3 / 4;
        if side < 800 {
            return None;
        }
    }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn page(width: u32, height: u32, mut pixel: impl FnMut(u32, u32) -> u8) -> GreyPage {
        let mut pgm = format!("P5\n{width} {height}\n255\n").into_bytes();
        for y in 0..height {
            for x in 0..width {
                pgm.push(pixel(x, y));
            }
        }
        GreyPage::from_pgm(pgm).unwrap()
    }

    /// Text-like: dark strokes on white.
    fn inked(width: u32, height: u32) -> GreyPage {
        page(width, height, |x, y| {
            if (y / 20) % 3 == 0 && (x / 7) % 2 == 0 {
                20
            } else {
                250
            }
        })
    }

    fn request(below: f32, max_pages: usize) -> VisionRequest {
        VisionRequest {
            below_confidence: below,
            max_pages,
        }
    }

    #[test]
    fn compose_matches_extraction_of_the_joined_pages() {
        let raw: Vec<String> = vec![
            "  Title  line\r\nexam-\nple text  ".into(),
            "".into(),
            "\n\n  second page ends with hyph-\n".into(),
            "lower start\ttab".into(),
            "   ".into(),
            "last\u{AD}page".into(),
        ];
        // What scan.rs does: pages pushed with a blank line between, then normalized.
        let mut joined = String::new();
        for p in &raw {
            if !joined.is_empty() {
                joined.push_str("\n\n");
            }
            joined.push_str(p);
        }
        for max in [1_000_000, 30, 17, 5, 0] {
            let want = cap_chars(normalize(&joined), max);
            assert_eq!(compose(&page_texts(&raw, max), max), want, "max {max}");
        }
    }

    #[test]
    fn page_texts_are_bounded_by_the_cap() {
        let raw: Vec<String> = (0..50).map(|i| format!("page {i} ").repeat(100)).collect();
        let texts = page_texts(&raw, 1000);
        let total: usize = texts.iter().map(|t| t.chars().count()).sum();
        assert!(total <= 1001 + 2, "{total}");
        assert!(texts[49].is_empty());
        assert_eq!(texts.len(), 50);
    }

    #[test]
    fn the_least_confident_inked_pages_are_picked_up_to_the_cap() {
        let mut picker = Picker::new(Some(&request(60.0, 2)));
        let ink = inked(400, 300);
        picker.offer(1, &ink, 50.0);
        picker.offer(2, &ink, 95.0); // read well: never
        picker.offer(3, &ink, 20.0);
        picker.offer(4, &page(400, 300, |_, _| 255), 0.0); // blank: never
        picker.offer(5, &ink, 35.5);
        picker.offer(6, &ink, 59.9); // worse-read pages already fill the cap
        let got = picker.into_pages();
        let pages: Vec<(u32, f32)> = got
            .iter()
            .map(|p| (p.page, p.tesseract_confidence))
            .collect();
        assert_eq!(pages, vec![(3, 20.0), (5, 35.5)]);
        assert!(got[0].jpeg.starts_with(&[0xFF, 0xD8]));

        let mut off = Picker::new(None);
        off.offer(1, &ink, 1.0);
        assert!(off.into_pages().is_empty());
        let mut zero = Picker::new(Some(&request(60.0, 0)));
        zero.offer(1, &ink, 1.0);
        assert!(zero.into_pages().is_empty());
    }

    #[test]
    fn page_images_are_scaled_and_bounded() {
        let (jpeg, w, h) = page_jpeg(&inked(2480, 3508)).unwrap();
        assert_eq!((w, h), (1131, 1600));
        assert!(jpeg.len() <= MAX_JPEG_BYTES);
        let decoded = image::load_from_memory(&jpeg).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (1131, 1600));
        assert_eq!(decoded.color(), image::ColorType::L8);
        let (_, w, h) = page_jpeg(&inked(600, 200)).unwrap();
        assert_eq!((w, h), (600, 200), "small pages keep their size");
        // Pure noise compresses badly: still within the byte bound, or not sent.
        let mut seed = 0x2545_F491_u32;
        let noise = page(3000, 3000, |_, _| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            (seed & 0xFF) as u8
        });
        if let Some((jpeg, w, h)) = page_jpeg(&noise) {
            assert!(jpeg.len() <= MAX_JPEG_BYTES && w.max(h) <= MAX_SIDE);
        }
    }

    #[test]
    fn pages_travel_as_base64() {
        let page = VisionPage {
            page: 2,
            tesseract_confidence: 41.5,
            jpeg: vec![0xFF, 0xD8, 0xFF],
            width: 1,
            height: 1,
        };
        let json = serde_json::to_value(&page).unwrap();
        assert_eq!(json["jpeg"], "/9j/");
        assert_eq!(serde_json::from_value::<VisionPage>(json).unwrap(), page);
    }
}
