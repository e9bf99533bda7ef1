//! What may be uploaded (the content-type allowlist, safe stored filenames), how stored
//! bytes are served (as a download, or shown in the browser by a view) and where they
//! live: the staging key of an upload, deletions retried by cleanup.

use sea_orm::{ConnectionTrait, EntityTrait, Set};

use crate::domain::document_type::{Format, ImageKind};
use crate::domain::{ObjectKey, document_type};
use crate::entities::object_deletions;
use crate::error::ApiError;
use crate::storage::{Disposition, ObjectStore};

/// The canonical allowlisted type for a declared `Content-Type` (parameters and case
/// ignored), with the object extension; `None` when not accepted. The list is
/// [`crate::domain::DOCUMENT_TYPES`].
pub fn accepted_type(declared: &str) -> Option<(&'static str, String)> {
    document_type::accepted(declared).map(|t| (t.content_type, t.object_extension()))
}

/// The type a download is served as: the stored type when allowlisted, else binary.
pub fn served_type(stored: &str) -> &'static str {
    document_type::accepted(stored).map_or("application/octet-stream", |t| t.content_type)
}

/// How a document is shown by its view URL (`GET /api/documents/{id}/view`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ViewKind {
    /// A PDF, served inline as `application/pdf`.
    Pdf,
    /// A JPEG, PNG or WebP image, served inline as its stored type.
    Image,
    /// Text (plain text, Markdown, CSV, and HTML as its source), served inline as
    /// `text/plain; charset=utf-8`.
    Text,
    /// Not shown by browsers (DOCX, ODT, TIFF): the URL is an ordinary download.
    Download,
}

/// What a view URL serves: how the document is shown, the type the bytes are served as
/// and the disposition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewPlan {
    /// How the document is shown.
    pub kind: ViewKind,
    /// The `Content-Type` the URL serves.
    pub content_type: &'static str,
    /// `inline` for pdf, image and text; `attachment` for downloads.
    pub disposition: Disposition,
}

/// The type text is shown as: never as markup, whatever it was stored as.
pub const VIEW_TEXT_TYPE: &str = "text/plain; charset=utf-8";

/// How a document of stored type `stored` is shown inline — the one place that decides.
///
/// Only types every browser displays passively are inline: PDF, JPEG, PNG and WebP as
/// themselves, and text as `text/plain` — HTML too (shown as its source, never rendered:
/// it could run script), like any markup. TIFF is not displayed by browsers, and DOCX
/// and ODT need an application: those are downloads, exactly like
/// `GET /api/documents/{id}/download`. A type outside the allowlist (SVG, for one, is
/// not accepted) is a download as `application/octet-stream`, never active content.
pub fn view_of(stored: &str) -> ViewPlan {
    let inline = |kind, content_type| ViewPlan {
        kind,
        content_type,
        disposition: Disposition::Inline,
    };
    let Some(row) = document_type::accepted(stored) else {
        return download_plan(stored);
    };
    match row.format {
        Format::Pdf => inline(ViewKind::Pdf, row.content_type),
        Format::Image(ImageKind::Jpeg | ImageKind::Png | ImageKind::Webp) => {
            inline(ViewKind::Image, row.content_type)
        }
        Format::Text | Format::Html => inline(ViewKind::Text, VIEW_TEXT_TYPE),
        Format::Image(ImageKind::Tiff) | Format::Docx | Format::Odt => download_plan(stored),
    }
}

/// A view that is a download: the type and disposition of `GET …/download`.
fn download_plan(stored: &str) -> ViewPlan {
    ViewPlan {
        kind: ViewKind::Download,
        content_type: served_type(stored),
        disposition: Disposition::Attachment,
    }
}

/// Longest stored filename, in characters.
pub const MAX_FILENAME_CHARS: usize = 255;

/// The human filename to store: the last path component, without control or
/// bidirectional-override characters, trimmed, at most 255 characters.
pub fn sanitize_filename(input: &str) -> Option<String> {
    let last = input.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !is_bidi_control(*c))
        .collect();
    let trimmed = cleaned.trim().trim_matches('.').trim();
    if trimmed.is_empty() {
        return None;
    }
    Some(trimmed.chars().take(MAX_FILENAME_CHARS).collect())
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The staging key an upload is `PUT` to; confirm renames it to the final key, so the
/// client can no longer change the stored bytes after confirming.
pub fn staging_key(final_key: &ObjectKey) -> Result<ObjectKey, ApiError> {
    ObjectKey::parse(&format!("{}.upload", final_key.as_str()))
        .map_err(|e| ApiError::Internal(e.into()))
}

/// Deletes an object; when storage fails, records it so the cleanup job retries.
pub async fn delete_object_or_retry_later(
    db: &impl ConnectionTrait,
    storage: &dyn ObjectStore,
    key: &ObjectKey,
) -> Result<(), ApiError> {
    if let Err(e) = storage.delete(key).await {
        tracing::warn!(error = %e, key = %key, "object deletion failed; cleanup will retry");
        let row = object_deletions::ActiveModel {
            object_key: Set(key.as_str().to_owned()),
            attempts: Set(1),
            last_error: Set(Some(e.to_string())),
            created_at: Set(crate::time::now()),
        };
        object_deletions::Entity::insert(row)
            .on_conflict(
                sea_orm::sea_query::OnConflict::column(object_deletions::Column::ObjectKey)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn content_types_are_allowlisted_and_normalised() {
        assert_eq!(accepted_type("Application/PDF").unwrap().1, ".pdf");
        assert_eq!(
            accepted_type("text/plain; charset=utf-8").unwrap().0,
            "text/plain"
        );
        assert!(accepted_type("application/x-msdownload").is_none());
        assert!(accepted_type("image/svg+xml").is_none());
        assert_eq!(served_type("image/svg+xml"), "application/octet-stream");
    }

    #[test]
    fn views_show_only_passive_types_inline() {
        let plan = |t| {
            let p = view_of(t);
            (p.kind, p.content_type, p.disposition)
        };
        let inline = Disposition::Inline;
        let attachment = Disposition::Attachment;
        assert_eq!(
            plan("application/pdf"),
            (ViewKind::Pdf, "application/pdf", inline)
        );
        for image in ["image/jpeg", "image/png", "image/webp"] {
            assert_eq!(plan(image), (ViewKind::Image, image, inline));
        }
        for text in ["text/plain", "text/markdown", "text/csv", "text/html"] {
            assert_eq!(
                plan(text),
                (ViewKind::Text, VIEW_TEXT_TYPE, inline),
                "{text}"
            );
        }
        assert_eq!(
            plan("image/tiff"),
            (ViewKind::Download, "image/tiff", attachment)
        );
        let docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
        assert_eq!(plan(docx), (ViewKind::Download, docx, attachment));
        assert_eq!(
            plan("application/vnd.oasis.opendocument.text"),
            (
                ViewKind::Download,
                "application/vnd.oasis.opendocument.text",
                attachment
            )
        );
        for active in ["image/svg+xml", "application/xhtml+xml", "text/javascript"] {
            assert_eq!(
                plan(active),
                (ViewKind::Download, "application/octet-stream", attachment),
                "{active}"
            );
        }
        // Every accepted type gets a decision that is inline only for passive types.
        for row in crate::domain::DOCUMENT_TYPES {
            let p = view_of(row.content_type);
            assert_eq!(
                p.disposition == inline,
                p.kind != ViewKind::Download,
                "{}",
                row.content_type
            );
            if p.disposition == inline {
                assert!(!p.content_type.contains("html") && !p.content_type.contains("xml"));
            }
        }
    }

    #[test]
    fn filenames_lose_paths_controls_and_bidi_overrides() {
        assert_eq!(sanitize_filename("../../etc/passwd").unwrap(), "passwd");
        assert_eq!(
            sanitize_filename("C:\\Users\\me\\tax.pdf").unwrap(),
            "tax.pdf"
        );
        assert_eq!(
            sanitize_filename("a\r\nb\u{202E}fdp.exe").unwrap(),
            "abfdp.exe"
        );
        assert_eq!(
            sanitize_filename("  report \"Q3\".pdf ").unwrap(),
            "report \"Q3\".pdf"
        );
        assert!(sanitize_filename("..").is_none());
        assert!(sanitize_filename("dir/").is_none());
        assert!(sanitize_filename("\u{202E}").is_none());
        assert_eq!(
            sanitize_filename(&"é".repeat(300)).unwrap().chars().count(),
            255
        );
    }
}
