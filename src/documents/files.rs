//! What may be uploaded (the content-type allowlist, safe stored filenames) and where
//! the bytes live: the staging key of an upload, deletions retried by cleanup.

use sea_orm::{ConnectionTrait, EntityTrait, Set};

use crate::domain::{ObjectKey, document_type};
use crate::entities::object_deletions;
use crate::error::ApiError;
use crate::storage::ObjectStore;

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
