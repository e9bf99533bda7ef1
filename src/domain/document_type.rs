//! The one table of document types DocuVault accepts: the upload allowlist, the `415`
//! message, the extension stored objects get, the extractor that reads each type and the
//! list the UI's file picker is built from (`GET /api/auth/config`) all read
//! [`DOCUMENT_TYPES`]. Add a row here (and its extractor) to accept a new type.

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
}

impl Format {
    /// The extractor for a content type (parameters ignored, case-insensitive), also
    /// recognising the extraction-only aliases of a row; `None` when not supported.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let essence = essence(content_type)?;
        DOCUMENT_TYPES
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
}

impl DocumentType {
    /// The extension (with the dot) the stored object gets.
    pub fn object_extension(&self) -> String {
        format!(".{}", self.extensions.first().copied().unwrap_or("bin"))
    }
}

/// Every document type that may be uploaded, in the order the UI and messages list them.
pub static DOCUMENT_TYPES: &[DocumentType] = &[
    DocumentType {
        content_type: "application/pdf",
        extensions: &["pdf"],
        label: "PDF",
        aliases: &[],
        format: Format::Pdf,
    },
    DocumentType {
        content_type: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        extensions: &["docx"],
        label: "DOCX",
        aliases: &[],
        format: Format::Docx,
    },
    DocumentType {
        content_type: "application/vnd.oasis.opendocument.text",
        extensions: &["odt"],
        label: "ODT",
        aliases: &[],
        format: Format::Odt,
    },
    DocumentType {
        content_type: "text/plain",
        extensions: &["txt", "text"],
        label: "plain text",
        aliases: &[],
        format: Format::Text,
    },
    DocumentType {
        content_type: "text/markdown",
        extensions: &["md", "markdown"],
        label: "Markdown",
        aliases: &["text/x-markdown"],
        format: Format::Text,
    },
    DocumentType {
        content_type: "text/csv",
        extensions: &["csv"],
        label: "CSV",
        aliases: &[],
        format: Format::Text,
    },
    DocumentType {
        content_type: "text/html",
        extensions: &["html", "htm"],
        label: "HTML",
        aliases: &["application/xhtml+xml"],
        format: Format::Html,
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
            "PDF, DOCX, ODT, plain text, Markdown, CSV or HTML"
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
        assert!(Format::from_content_type("image/png").is_none());
    }

    #[test]
    fn every_row_has_an_extension_and_a_unique_type() {
        for (i, t) in DOCUMENT_TYPES.iter().enumerate() {
            assert!(!t.extensions.is_empty(), "{}", t.content_type);
            assert!(
                DOCUMENT_TYPES[..i]
                    .iter()
                    .all(|o| o.content_type != t.content_type)
            );
        }
    }
}
