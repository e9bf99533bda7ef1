//! Thumbnails of documents (issue 13): where they are stored, what the row says about
//! them, and the short-lived `thumbnail_url` every document view carries.
//!
//! - **Key**: `{object key}.thumbnail.jpg`, next to the original and derived from its key
//!   ([`thumbnail_key`]), so a document's thumbnail is found from its key alone: deleting
//!   a document deletes it, and fsck counts it as the document's (an orphan once the
//!   document is gone).
//! - **Not charged**: the quota counts documents' sizes; a thumbnail is not a document.
//! - **Row**: `thumbnail_key` once the thumbnail is stored ([`record_made`]),
//!   `thumbnail_error` when none can be made ([`record_failed`]); both null until it was
//!   tried (`jobs::thumbnails` makes them).
//! - **URL**: signed like download URLs (`ObjectStore::presign_get`, `image/jpeg`, valid
//!   `documents.download_url_ttl_secs`), computed locally (HMAC for the local store,
//!   SigV4 presigning for S3): a page of documents costs no storage request.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{FromRequest, HttpRequest, web};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::domain::{InvalidObjectKey, ObjectKey};
use crate::entities::documents;
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::ObjectStore;

/// What a thumbnail key adds to its document's key.
pub const SUFFIX: &str = ".thumbnail.jpg";

/// Thumbnails are JPEGs.
pub const CONTENT_TYPE: &str = "image/jpeg";

/// The file name a thumbnail is served under.
const FILENAME: &str = "thumbnail.jpg";

/// The thumbnail key of the document stored under `object_key`.
pub fn thumbnail_key(object_key: &ObjectKey) -> Result<ObjectKey, InvalidObjectKey> {
    ObjectKey::parse(&format!("{}{SUFFIX}", object_key.as_str()))
}

/// Records that document `id`'s thumbnail is stored under `key` (and that nothing went
/// wrong). `false` when the document no longer exists, or no longer shows the version
/// the thumbnail was made of (its object key is not the one `key` derives from).
pub async fn record_made(
    db: &impl ConnectionTrait,
    id: Uuid,
    key: &ObjectKey,
) -> Result<bool, DbErr> {
    let original = key.as_str().strip_suffix(SUFFIX).unwrap_or_default();
    let n = documents::Entity::update_many()
        .col_expr(
            documents::Column::ThumbnailKey,
            Expr::value(key.as_str().to_owned()),
        )
        .col_expr(
            documents::Column::ThumbnailError,
            Expr::value(Option::<String>::None),
        )
        .filter(documents::Column::Id.eq(id))
        .filter(documents::Column::ObjectKey.eq(original))
        .exec(db)
        .await?
        .rows_affected;
    Ok(n == 1)
}

/// Records that no thumbnail can be made of document `id` stored under `object_key`, and
/// why (it is not tried again automatically). `false` when the document no longer exists
/// or shows another version now.
pub async fn record_failed(
    db: &impl ConnectionTrait,
    id: Uuid,
    object_key: &str,
    reason: &str,
) -> Result<bool, DbErr> {
    let reason: String = reason.chars().take(1000).collect();
    let n = documents::Entity::update_many()
        .col_expr(
            documents::Column::ThumbnailKey,
            Expr::value(Option::<String>::None),
        )
        .col_expr(documents::Column::ThumbnailError, Expr::value(reason))
        .filter(documents::Column::Id.eq(id))
        .filter(documents::Column::ObjectKey.eq(object_key))
        .exec(db)
        .await?
        .rows_affected;
    Ok(n == 1)
}

/// Signs the `thumbnail_url`s of one response: the store, how long a URL lives, and the
/// origin that server-relative URLs (local store) are made absolute with. An extractor,
/// so a handler that answers documents takes it as an argument.
#[derive(Clone)]
pub struct ThumbnailLinks {
    storage: Arc<dyn ObjectStore>,
    ttl: Duration,
    base: String,
}

impl ThumbnailLinks {
    /// Links signed by `storage`, valid `ttl`, relative ones made absolute with `base`
    /// (`scheme://host[:port]`).
    pub fn new(storage: Arc<dyn ObjectStore>, ttl: Duration, base: String) -> Self {
        Self {
            storage,
            ttl,
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    /// The links of a response to `req`: the download URL lifetime, and the request's
    /// origin unless `server.public_url` is set (as for download URLs).
    pub fn for_request(req: &HttpRequest, state: &AppState) -> Self {
        let settings = &state.settings;
        // Forwarded headers count only from auth.trusted_proxies.
        let base = crate::security::client_ip::public_base_url(
            req,
            &settings.server.public_url,
            &settings.auth.trusted_proxies,
        );
        Self::new(
            state.storage.clone(),
            Duration::from_secs(settings.documents.download_url_ttl_secs),
            base,
        )
    }

    /// A short-lived URL of the thumbnail stored under `key`; `None` when there is none
    /// (or it cannot be signed: logged, the document is still listed).
    pub async fn url(&self, key: Option<&str>) -> Option<String> {
        let key = ObjectKey::parse(key?).ok()?;
        match self
            .storage
            .presign_get(&key, FILENAME, CONTENT_TYPE, self.ttl)
            .await
        {
            Ok(url) if url.starts_with('/') => Some(format!("{}{url}", self.base)),
            Ok(url) => Some(url),
            Err(e) => {
                tracing::warn!(error = %e, key = %key, "cannot sign a thumbnail URL");
                None
            }
        }
    }
}

impl FromRequest for ThumbnailLinks {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(
            req.app_data::<web::Data<AppState>>()
                .map(|state| Self::for_request(req, state))
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("AppState not registered"))),
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn the_thumbnail_lies_next_to_the_original() {
        let key = ObjectKey::parse(
            "0b9f5c1e-8a7d-4c2b-9e3f-1a2b3c4d5e6f/9d8c7b6a-1111-2222-3333-444455556666/5f4e3d2c.pdf",
        )
        .unwrap();
        assert_eq!(
            thumbnail_key(&key).unwrap().as_str(),
            "0b9f5c1e-8a7d-4c2b-9e3f-1a2b3c4d5e6f/9d8c7b6a-1111-2222-3333-444455556666/5f4e3d2c.pdf.thumbnail.jpg"
        );
    }
}
