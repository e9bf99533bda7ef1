//! The one table of document types DocuVault accepts: the upload allowlist, the `415`
//! message, the extension stored objects get, the extractor that reads each type and the
//! list the UI's file picker is built from (`GET /api/auth/config`) all read
//! [`DOCUMENT_TYPES`]. Add a row here (and its extractor) to accept a new type.
//!
//! [`KNOWN_DOCUMENT_TYPES`] is the whole table: the accepted rows first, then rows the
//! extractor reads that uploads do not accept (`accepted_for_upload: false`; none today).
//! [`DOCUMENT_TYPES`] is the accepted prefix. Scans and photos (JPEG, PNG, TIFF, WebP)
//! are read with OCR (issue 13).

/// Which extractor reads a document type's bytes (and checks its magic bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// PDF: must start with `%PDF-`.
    Pdf,
    /// Word 2007+ document: a zip declaring a WordprocessingML main document.
    Docx,
    /// OpenDocument text: a zip whose `mimetype` entry is the ODT type.
    Odt,
    /// Strict UTF-8 text (plain text, Markdown, CSV).
    Text,
    /// Strict UTF-8 HTML or XHTML; visible text only.
    Html,
    /// A scan or photo: text through OCR only (magic bytes of the kind checked).
    Image(ImageKind),
}

/// The raster formats read as page images (OCR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageKind {
    /// JPEG (`FF D8 FF`).
    Jpeg,
    /// PNG (`89 PNG \r\n 1A \n`).
    Png,
    /// TIFF, little or big endian, possibly many pages (one page per directory).
    Tiff,
    /// WebP (`RIFF` … `WEBP`).
    Webp,
}

impl ImageKind {
    /// The kind whose magic bytes `bytes` start with, if any.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if bytes.starts_with(b"II*\0")
            || bytes.starts_with(b"MM\0*")
            || bytes.starts_with(b"II+\0")
            || bytes.starts_with(b"MM\0+")
        {
            Some(Self::Tiff)
        } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
            Some(Self::Webp)
        } else {
            None
        }
    }

    /// Short human name used in reasons ("JPEG", "PNG", …).
    pub fn label(self) -> &'static str {
        match self {
            Self::Jpeg => "JPEG",
            Self::Png => "PNG",
            Self::Tiff => "TIFF",
            Self::Webp => "WebP",
        }
    }
}

impl Format {
    /// Whether reading this format may run OCR (scanned PDF pages, images): only then
    /// do the OCR options and the AI fallback of OCR matter.
    pub fn may_ocr(self) -> bool {
        matches!(self, Self::Pdf | Self::Image(_))
    }

    /// The extractor for a content type (parameters ignored, case-insensitive), also
    /// recognising the extraction-only aliases of a row; `None` when not supported.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let essence = essence(content_type)?;
        KNOWN_DOCUMENT_TYPES
            .iter()
            .find(|t| t.content_type == essence || t.aliases.contains(&essence.as_str()))
            .map(|t| t.format)
    }

    /// Short human name ("PDF", "DOCX", …) used in extraction failure reasons.
    pub fn label(self) -> &'static str {
        match self {
            Self::Pdf => "PDF",
            Self::Docx => "DOCX",
            Self::Odt => "ODT",
            Self::Text => "text file",
            Self::Html => "HTML file",
            Self::Image(kind) => kind.label(),
        }
    }
}

/// One accepted document type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentType {
    /// The canonical content type uploads declare and documents store.
    pub content_type: &'static str,
    /// File extensions (without the dot) the UI maps to this type; the first one is
    /// the extension the stored object gets.
    pub extensions: &'static [&'static str],
    /// Human name, as listed in the `415` message and shown in the UI.
    pub label: &'static str,
    /// Other content types the extractor reads as this type (never accepted on upload).
    pub aliases: &'static [&'static str],
    /// The extractor.
    pub format: Format,
    /// Whether uploads accept it (listed in [`DOCUMENT_TYPES`]); `false` for rows the
    /// extractor reads but the pipeline does not yet run (OCR, issue 13).
    pub accepted_for_upload: bool,
}

impl DocumentType {
    /// The extension (with the dot) the stored object gets.
    pub fn object_extension(&self) -> String {
        format!(".{}", self.extensions.first().copied().unwrap_or("bin"))
    }
}

/// Every document type that may be uploaded, in the order the UI and messages list them:
/// the rows of [`KNOWN_DOCUMENT_TYPES`] accepted for upload.
pub static DOCUMENT_TYPES: &[DocumentType] = KNOWN_DOCUMENT_TYPES.split_at(UPLOADABLE).0;

/// How many rows of [`KNOWN_DOCUMENT_TYPES`] (the first ones) are accepted for upload.
const UPLOADABLE: usize = 11;

// The accepted rows are exactly the first UPLOADABLE ones.
const _: () = {
    let mut i = 0;
    while i < KNOWN_DOCUMENT_TYPES.len() {
        assert!(KNOWN_DOCUMENT_TYPES[i].accepted_for_upload == (i < UPLOADABLE));
        i += 1;
    }
};

/// Every document type the extractor knows: the accepted ones first, then any the
/// extractor reads but uploads do not accept (none today).
pub const KNOWN_DOCUMENT_TYPES: &[DocumentType] = &[
    DocumentType {
        content_type: "application/pdf",
        extensions: &["pdf"],
        label: "PDF",
        aliases: &[],
        format: Format::Pdf,
        accepted_for_upload: true,
    },
    DocumentType {
        content_type: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        extensions: &["docx"],
        label: "DOCX",
        aliases: &[],
        format: Format::Docx,
        accepted_for_upload: true,
    },
    DocumentType {
        content_type: "application/vnd.oasis.opendocument.text",
        extensions: &["odt"],
        label: "ODT",
        aliases: &[],
        format: Format::Odt,
        accepted_for_upload: true,
    },
    DocumentType {
        content_type: "text/plain",
        extensions: &["txt", "text"],
        label: "plain text",
        aliases: &[],
        format: Format::Text,
        accepted_for_upload: true,
    },
    DocumentType {
        content_type: "text/markdown",
        extensions: &["md", "markdown"],
        label: "Markdown",
        aliases: &["text/x-markdown"],
        format: Format::Text,
        accepted_for_upload: true,
    },
    DocumentType {
        content_type: "text/csv",
        extensions: &["csv"],
        label: "CSV",
        aliases: &[],
        format: Format::Text,
        accepted_for_upload: true,
    },
    DocumentType {
        content_type: "text/html",
        extensions: &["html", "htm"],
        label: "HTML",
        aliases: &["application/xhtml+xml"],
        format: Format::Html,
        accepted_for_upload: true,
    },
    DocumentType {
        content_type: "image/jpeg",
        extensions: &["jpg", "jpeg"],
        label: "JPEG",
        aliases: &["image/pjpeg"],
        format: Format::Image(ImageKind::Jpeg),
        accepted_for_upload: true,
    },
    DocumentType {
        content_type: "image/png",
        extensions: &["png"],
        label: "PNG",
        aliases: &[],
        format: Format::Image(ImageKind::Png),
        accepted_for_upload: true,
    },
    DocumentType {
        content_type: "image/tiff",
        extensions: &["tif", "tiff"],
        label: "TIFF",
        aliases: &[],
        format: Format::Image(ImageKind::Tiff),
        accepted_for_upload: true,
    },
    DocumentType {
        content_type: "image/webp",
        extensions: &["webp"],
        label: "WebP",
        aliases: &[],
        format: Format::Image(ImageKind::Webp),
        accepted_for_upload: true,
    },
];

/// The accepted type for a declared `Content-Type` (parameters and case ignored);
/// `None` when not accepted for upload (aliases are not).
pub fn accepted(declared: &str) -> Option<&'static DocumentType> {
    let essence = essence(declared)?;
    DOCUMENT_TYPES.iter().find(|t| t.content_type == essence)
}

/// "PDF, DOCX, …, CSV or HTML": the accepted types for messages.
pub fn accepted_labels() -> String {
    let labels: Vec<&str> = DOCUMENT_TYPES.iter().map(|t| t.label).collect();
    match labels.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

fn essence(content_type: &str) -> Option<String> {
    Some(content_type.split(';').next()?.trim().to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn message_lists_every_type_in_order() {
        assert_eq!(
            accepted_labels(),
            "PDF, DOCX, ODT, plain text, Markdown, CSV, HTML, JPEG, PNG, TIFF or WebP"
        );
    }

    #[test]
    fn aliases_extract_but_are_not_accepted() {
        assert_eq!(
            Format::from_content_type("Text/X-Markdown; charset=utf-8"),
            Some(Format::Text)
        );
        assert_eq!(
            Format::from_content_type("application/xhtml+xml"),
            Some(Format::Html)
        );
        assert!(accepted("text/x-markdown").is_none());
        assert!(accepted("application/xhtml+xml").is_none());
        assert_eq!(accepted("TEXT/HTML").unwrap().object_extension(), ".html");
        assert!(Format::from_content_type("image/svg+xml").is_none());
    }

    #[test]
    fn image_rows_are_accepted_and_read_with_ocr() {
        for ct in ["image/jpeg", "image/png", "image/tiff", "image/webp"] {
            assert!(
                matches!(Format::from_content_type(ct), Some(Format::Image(_))),
                "{ct}"
            );
            assert!(accepted(ct).is_some(), "{ct}");
        }
        assert_eq!(
            Format::from_content_type("image/pjpeg"),
            Some(Format::Image(ImageKind::Jpeg))
        );
        // Aliases extract but are not accepted on upload.
        assert!(accepted("image/pjpeg").is_none());
        assert_eq!(accepted("image/tiff").unwrap().object_extension(), ".tif");
        assert_eq!(DOCUMENT_TYPES.len(), 11);
        assert!(DOCUMENT_TYPES.iter().all(|t| t.accepted_for_upload));
    }

    #[test]
    fn image_magic_bytes() {
        assert_eq!(ImageKind::sniff(b"\xFF\xD8\xFF\xE0"), Some(ImageKind::Jpeg));
        assert_eq!(
            ImageKind::sniff(b"\x89PNG\r\n\x1a\n\0\0"),
            Some(ImageKind::Png)
        );
        assert_eq!(ImageKind::sniff(b"II*\0\x08\0"), Some(ImageKind::Tiff));
        assert_eq!(ImageKind::sniff(b"MM\0*\0\0"), Some(ImageKind::Tiff));
        assert_eq!(
            ImageKind::sniff(b"RIFF\x10\0\0\0WEBPVP8 "),
            Some(ImageKind::Webp)
        );
        assert_eq!(ImageKind::sniff(b"RIFF\x10\0\0\0WAVEfmt "), None);
        assert_eq!(ImageKind::sniff(b"%PDF-1.7"), None);
        assert_eq!(ImageKind::sniff(b""), None);
    }

    #[test]
    fn every_row_has_an_extension_and_a_unique_type() {
        for (i, t) in KNOWN_DOCUMENT_TYPES.iter().enumerate() {
            assert!(!t.extensions.is_empty(), "{}", t.content_type);
            assert!(
                KNOWN_DOCUMENT_TYPES[..i]
                    .iter()
                    .all(|o| o.content_type != t.content_type)
            );
        }
    }
}
