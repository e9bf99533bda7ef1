//! Text extraction for the processing pipeline (README "Processing pipeline").
//!
//! [`extract_text`] is the pure, in-process extractor: it checks that the bytes match the
//! declared type (magic bytes), runs the format's parser, normalizes the text and caps it.
//! The server never calls it directly on untrusted files: it goes through
//! [`sandbox::extract_in_child`], which re-executes this binary (`docuvault extract-worker`,
//! a hidden subcommand) under memory, CPU and wall-clock limits, so a parser that panics,
//! aborts, overflows its stack or loops ends as [`ExtractError::Failed`] with a reason.
//!
//! Supported types (listed once in [`crate::domain::document_type::DOCUMENT_TYPES`];
//! parameters such as `; charset=…` are ignored, case-insensitive):
//! - `application/pdf` — must start with `%PDF-` (after optional leading whitespace).
//! - DOCX (`application/vnd.openxmlformats-officedocument.wordprocessingml.document`) —
//!   a zip (`PK\x03\x04`) whose `[Content_Types].xml` declares a WordprocessingML main
//!   document; text from the `<w:t>` runs of `word/document.xml`.
//! - ODT (`application/vnd.oasis.opendocument.text`) — a zip whose `mimetype` entry is
//!   exactly that type; text from `text:p`/`text:h` of `content.xml`.
//! - `text/plain`, `text/markdown`, `text/x-markdown`, `text/csv`: **strict UTF-8** (a
//!   UTF-8 BOM is skipped). Invalid UTF-8 or a NUL byte is a type mismatch: such a file is
//!   binary or in another encoding, and guessing would store garbage that then gets
//!   indexed and sent to classifiers.
//! - `text/html`, `application/xhtml+xml`: strict UTF-8 as above; visible text only
//!   (`script`, `style`, `template`, `noscript`, `head` content and comments are dropped),
//!   block elements become line breaks, character references are decoded.
//!
//! Zip containers are read with guards ([`ZipLimits`]): entry count, per-entry and total
//! decompressed size (counted while reading; header sizes are never trusted) and the
//! decompression ratio. XML is parsed with quick-xml, which never expands custom (DTD)
//! entities, so a "billion laughs" document cannot blow up; element depth is capped.
//!
//! Scans and photos (issue 13): with [`ExtractOptions::ocr`] set, image types (JPEG, PNG,
//! TIFF, WebP; known to the table but not yet accepted for upload) are OCR'd page by page
//! ([`ocr`], tesseract as a child process) and PDFs are read page by page, OCR'ing pages
//! without a text layer ([`scan`]); [`Extracted::pages`] then says where each page's text
//! came from. Without it (today's pipeline) images are unsupported and PDFs read as before,
//! except that a PDF the built-in parser crashes on is read by poppler's `pdftotext` when
//! installed.
//!
//! Thumbnails ([`thumbnail`], issue 13): a small JPEG of the first page, the image, or a
//! card of the first lines of text, made by the same sandboxed worker in a run of its own
//! ([`sandbox::thumbnail_in_child`]).

mod child;
pub mod dates;
mod html;
pub mod images;
mod normalize;
pub mod ocr;
mod office;
mod pdf;
pub mod sandbox;
mod scan;
mod text;
pub mod thumbnail;
pub mod vision;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use normalize::normalize;
pub use ocr::{OcrOptions, PageSource, PageText};
pub use office::ZipLimits;

/// Default cap on stored text, in characters.
pub const DEFAULT_MAX_CHARS: usize = 1_000_000;

/// Maximum XML element nesting accepted in DOCX/ODT parts.
pub const MAX_XML_DEPTH: usize = 512;

/// The result of a successful extraction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Extracted {
    /// Normalized text, at most `max_chars` characters.
    pub text: String,
    /// Lower-case hex SHA-256 of the original bytes.
    pub sha256_hex: String,
    /// Whether the text was cut at `max_chars`.
    pub truncated: bool,
    /// Where each page's text came from, for documents read page by page (OCR enabled);
    /// empty otherwise. Stored as JSON next to the text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pages: Vec<PageSource>,
    /// Pages of the document: a PDF's (or a multi-page image's); `None` for formats
    /// without pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_count: Option<u32>,
    /// Poorly read pages as images for the owner's AI provider, only when asked for
    /// ([`OcrOptions::ai_fallback`]) and some page qualifies; never stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vision: Option<vision::VisionCandidates>,
}

/// How to extract: zip guards, and whether (and how) to OCR.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExtractOptions {
    /// Guards for DOCX/ODT containers.
    #[serde(skip)]
    pub zip_limits: ZipLimits,
    /// OCR scans and pages without text; `None` leaves images unsupported.
    pub ocr: Option<OcrOptions>,
}

/// Why extraction did not produce text. The `Display` text is a human reason fit for the
/// document's `failed` status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum ExtractError {
    /// No extractor for this content type.
    #[error("text extraction is not supported for {0}")]
    Unsupported(String),
    /// The bytes do not look like the declared type.
    #[error("the file is not a valid {declared}: {detail}")]
    TypeMismatch {
        /// Short name of the declared type ("PDF", "DOCX", …).
        declared: String,
        /// What was wrong.
        detail: String,
    },
    /// Extraction failed (malformed or hostile file, limit reached, crashed parser).
    #[error("{0}")]
    Failed(String),
    /// The document needs OCR (or a PDF page renderer) and this machine has none: not the
    /// file's fault, so it can be read again once OCR is installed (`ocr_unavailable`).
    #[error("OCR is not available: {0}")]
    OcrUnavailable(String),
}

impl ExtractError {
    pub(crate) fn mismatch(declared: &str, detail: impl Into<String>) -> Self {
        Self::TypeMismatch {
            declared: declared.to_owned(),
            detail: detail.into(),
        }
    }
}

/// The formats we extract, resolved from a content type through the one table of
/// document types ([`crate::domain::document_type`]).
pub use crate::domain::document_type::Format as Kind;

/// Whether [`extract_text`] knows this content type.
pub fn is_supported(content_type: &str) -> bool {
    Kind::from_content_type(content_type).is_some()
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Extracts, normalizes and caps the text of `bytes` declared as `content_type`, in this
/// process. Parsers run under `catch_unwind`, but an abort or stack overflow still takes
/// the process down: untrusted input belongs in [`sandbox::extract_in_child`].
pub fn extract_text(
    content_type: &str,
    bytes: &[u8],
    max_chars: usize,
) -> Result<Extracted, ExtractError> {
    extract_text_with(content_type, bytes, max_chars, &ZipLimits::default())
}

/// [`extract_text`] with explicit zip guards.
pub fn extract_text_with(
    content_type: &str,
    bytes: &[u8],
    max_chars: usize,
    zip_limits: &ZipLimits,
) -> Result<Extracted, ExtractError> {
    let options = ExtractOptions {
        zip_limits: *zip_limits,
        ocr: None,
    };
    extract_document(content_type, bytes, max_chars, &options)
}

/// [`extract_text`] with explicit options, OCR included.
pub fn extract_document(
    content_type: &str,
    bytes: &[u8],
    max_chars: usize,
    options: &ExtractOptions,
) -> Result<Extracted, ExtractError> {
    let kind = Kind::from_content_type(content_type)
        .ok_or_else(|| ExtractError::Unsupported(content_type.to_owned()))?;
    let zip_limits = &options.zip_limits;
    let mut pages = Vec::new();
    let mut paged = None;
    let mut page_count = None;
    let raw = match (kind, &options.ocr) {
        (Kind::Image(_), None) => return Err(ExtractError::Unsupported(content_type.to_owned())),
        (Kind::Image(image), Some(ocr)) => {
            let mut read = scan::read_image(bytes, image, ocr)?;
            pages = std::mem::take(&mut read.pages);
            page_count = u32::try_from(pages.len()).ok();
            let text = std::mem::take(&mut read.text);
            paged = Some(read);
            text
        }
        (Kind::Pdf, Some(ocr)) => {
            let mut read = scan::read_pdf(bytes, ocr)?;
            pages = std::mem::take(&mut read.pages);
            page_count = u32::try_from(pages.len()).ok();
            let text = std::mem::take(&mut read.text);
            paged = Some(read);
            text
        }
        (Kind::Pdf, None) => {
            let read = pdf::extract(bytes)?;
            page_count = read.pages;
            read.text
        }
        (Kind::Docx, _) => office::extract_docx(bytes, zip_limits)?,
        (Kind::Odt, _) => office::extract_odt(bytes, zip_limits)?,
        (Kind::Text, _) => text::decode(bytes, kind.label())?.to_owned(),
        (Kind::Html, _) => html::visible_text(text::decode(bytes, kind.label())?),
    };
    let normalized = normalize(&raw);
    let (text, truncated) = cap_chars(normalized, max_chars);
    let vision = paged.and_then(|read| vision::candidates(read, &text, max_chars));
    Ok(Extracted {
        text,
        sha256_hex: sha256_hex(bytes),
        truncated,
        pages,
        page_count,
        vision,
    })
}

/// Cuts `text` to at most `max_chars` characters (on a char boundary).
pub fn cap_chars(mut text: String, max_chars: usize) -> (String, bool) {
    match text.char_indices().nth(max_chars) {
        Some((idx, _)) => {
            text.truncate(idx);
            let trimmed = text.trim_end().len();
            text.truncate(trimmed);
            (text, true)
        }
        None => (text, false),
    }
}

/// Runs `f`, turning a panic into [`ExtractError::Failed`] naming `what`.
pub(crate) fn contain_panic<T>(
    what: &str,
    f: impl FnOnce() -> Result<T, ExtractError>,
) -> Result<T, ExtractError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => Err(ExtractError::Failed(format!("the {what} parser crashed"))),
    }
}
