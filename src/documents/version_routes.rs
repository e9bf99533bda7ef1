//! `/api/documents/{id}/versions/*`: upload a new version (URL → PUT → confirm), list
//! the stored versions, download one, make one current again, delete one. The owner's
//! only (another account, share recipients included, gets 404); a trashed document's
//! versions can be listed and downloaded but not changed (409 `document_trashed`).

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::extract::{RegularUser, regular_scope};
use crate::documents::routes::{DownloadResponse, absolute_url, upload_error};
use crate::documents::thumbnails::ThumbnailLinks;
use crate::documents::versions::{self, VersionConfirmation};
use crate::documents::view::DocumentView;
use crate::domain::{DocumentId, VersionId};
use crate::entities::{DocumentStatus, document_versions};
use crate::error::{ApiError, ErrorBody};
use crate::http::ApiJson;
use crate::state::AppState;

/// `POST /api/documents/{id}/versions/upload-url` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionUploadUrlRequest {
    /// The new version's file name (path parts are dropped); the document takes it when
    /// the version becomes current.
    #[schema(example = "tax-return-2025-v2.pdf", min_length = 1, max_length = 1024)]
    pub filename: String,
    /// MIME type: one of the `document_types` listed by `GET /api/auth/config`.
    #[schema(example = "application/pdf")]
    pub content_type: String,
    /// Exact size in bytes.
    #[serde(deserialize_with = "crate::serde_util::whole_i64")]
    #[schema(minimum = 0)]
    pub size_bytes: i64,
}

/// Where and how to upload a new version's bytes (`PUT` with `headers`).
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionUploadUrlResponse {
    /// The document.
    pub document_id: Uuid,
    /// The new version (pending until confirmed).
    pub version_id: Uuid,
    /// URL to `PUT` the bytes to.
    pub upload_url: String,
    /// Headers the `PUT` must carry exactly.
    pub headers: std::collections::BTreeMap<String, String>,
    /// When the URL stops working.
    pub expires_at: DateTime<Utc>,
}

/// Result of a version's confirm.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionConfirmResponse {
    /// The document.
    pub document_id: Uuid,
    /// The version (current now).
    pub version_id: Uuid,
    /// Size as stored.
    pub size_bytes: i64,
    /// Hex SHA-256 of the stored bytes.
    pub sha256: String,
    /// Quota used after this upload (every stored version counts).
    pub used_bytes: i64,
    /// Always `queued`: the document is processed again from the new version (repeated
    /// confirms answer the same). Follow processing with `GET /api/documents/{id}`.
    pub status: DocumentStatus,
}

impl From<VersionConfirmation> for VersionConfirmResponse {
    fn from(c: VersionConfirmation) -> Self {
        Self {
            document_id: c.document_id,
            version_id: c.version_id,
            size_bytes: c.size_bytes,
            sha256: c.sha256,
            used_bytes: c.used_bytes,
            status: DocumentStatus::Queued,
        }
    }
}

/// One stored version of a document.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionView {
    /// Version id (a document's first version has the document's id).
    pub id: Uuid,
    /// The document.
    pub document_id: Uuid,
    /// File name it was uploaded as.
    pub filename: String,
    /// Stored type.
    pub content_type: String,
    /// Size as stored (charged against the quota).
    pub size_bytes: i64,
    /// Hex SHA-256 of its bytes.
    #[schema(required = true)]
    pub sha256: Option<String>,
    /// When it was uploaded.
    pub created_at: DateTime<Utc>,
    /// Whether the document shows this version now.
    pub current: bool,
}

impl VersionView {
    fn of(v: document_versions::Model, current_key: &str) -> Self {
        Self {
            current: v.object_key == current_key,
            id: v.id,
            document_id: v.document_id,
            filename: v.filename,
            content_type: v.content_type,
            size_bytes: v.size_bytes,
            sha256: v.sha256,
            created_at: v.created_at,
        }
    }
}

/// `GET /api/documents/{id}/versions` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionList {
    /// Stored versions, newest first.
    pub items: Vec<VersionView>,
}

/// The caller's IP as the audit log records it.
fn ip(user: &RegularUser) -> &str {
    &user.0.client.ip
}

/// Starts the upload of a new version of your document: the same validation, quota
/// reservation and limit of open uploads as a new document's upload URL. `PUT` the bytes
/// to `upload_url` with `headers`, then confirm.
#[utoipa::path(
    operation_id = "createVersionUploadUrl",
    tag = "documents",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Document id")),
    request_body = VersionUploadUrlRequest,
    responses(
        (status = 201, description = "Upload URL for a new pending version", body = VersionUploadUrlResponse),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrators have no documents", body = ErrorBody),
        (status = 404, description = "No such document", body = ErrorBody),
        (status = 409, description = "The document is in the trash (`document_trashed`) or not confirmed (`not_confirmed`)", body = ErrorBody),
        (status = 413, description = "Larger than the server allows, or than the quota left after charged and reserved bytes", body = ErrorBody),
        (status = 415, description = "Content type not accepted", body = ErrorBody),
        (status = 422, description = "Invalid file name or size", body = ErrorBody),
        (status = 429, description = "Too many unconfirmed uploads", body = ErrorBody),
        (status = 503, description = "Object storage unavailable", body = ErrorBody),
    )
)]
#[post("/upload-url")]
pub async fn version_upload_url(
    user: RegularUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<DocumentId>,
    body: ApiJson<VersionUploadUrlRequest>,
) -> HttpResponse {
    match versions::create_upload(
        &state,
        user.id(),
        id.into_inner(),
        &body.filename,
        &body.content_type,
        body.size_bytes,
    )
    .await
    {
        Ok(t) => HttpResponse::Created().json(VersionUploadUrlResponse {
            document_id: t.document_id.into(),
            version_id: t.version_id.into(),
            upload_url: absolute_url(&req, &state, t.upload_url),
            headers: t.headers,
            expires_at: t.expires_at,
        }),
        Err(e) => upload_error(e),
    }
}

/// Confirms a version's upload: its size and SHA-256 are read from storage, its
/// reservation turned into a charge, and it becomes the current version (the document
/// takes its name, type, size and hash and is processed again: text, OCR, thumbnail,
/// classification). Repeating it is harmless.
#[utoipa::path(
    operation_id = "confirmVersion",
    tag = "documents",
    security(("bearer" = [])),
    params(
        ("id" = Uuid, Path, description = "Document id"),
        ("version_id" = Uuid, Path, description = "Version id"),
    ),
    responses(
        (status = 200, description = "Confirmed (or already confirmed)", body = VersionConfirmResponse),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrators have no documents", body = ErrorBody),
        (status = 404, description = "No such document or version", body = ErrorBody),
        (status = 409, description = "The document is in the trash (`document_trashed`)", body = ErrorBody),
        (status = 413, description = "Over quota; the upload was discarded", body = ErrorBody),
        (status = 422, description = "Upload missing or of another size than declared", body = ErrorBody),
        (status = 503, description = "Object storage unavailable", body = ErrorBody),
    )
)]
#[post("/{version_id}/confirm")]
pub async fn confirm_version(
    user: RegularUser,
    state: web::Data<AppState>,
    path: web::Path<(DocumentId, VersionId)>,
) -> HttpResponse {
    let (id, version) = path.into_inner();
    match versions::confirm(&state, user.id(), id, version, ip(&user)).await {
        Ok(c) => HttpResponse::Ok().json(VersionConfirmResponse::from(c)),
        Err(e) => upload_error(e),
    }
}

/// The stored versions of your document, newest first, with which one is current.
#[utoipa::path(
    operation_id = "listVersions",
    tag = "documents",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Document id")),
    responses(
        (status = 200, description = "The stored versions", body = VersionList),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrators have no documents", body = ErrorBody),
        (status = 404, description = "No such document", body = ErrorBody),
    )
)]
#[get("")]
pub async fn list_versions(
    user: RegularUser,
    state: web::Data<AppState>,
    id: web::Path<DocumentId>,
) -> Result<web::Json<VersionList>, ApiError> {
    let (doc, items) = versions::list(&state.db, user.id(), id.into_inner()).await?;
    Ok(web::Json(VersionList {
        items: items
            .into_iter()
            .map(|v| VersionView::of(v, &doc.object_key))
            .collect(),
    }))
}

/// A short-lived URL serving one stored version's bytes as an attachment.
#[utoipa::path(
    operation_id = "downloadVersion",
    tag = "documents",
    security(("bearer" = [])),
    params(
        ("id" = Uuid, Path, description = "Document id"),
        ("version_id" = Uuid, Path, description = "Version id"),
    ),
    responses(
        (status = 200, description = "Download link", body = DownloadResponse),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrators have no documents", body = ErrorBody),
        (status = 404, description = "No such document or version", body = ErrorBody),
        (status = 503, description = "Object storage unavailable", body = ErrorBody),
    )
)]
#[get("/{version_id}/download")]
pub async fn download_version(
    user: RegularUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(DocumentId, VersionId)>,
) -> Result<web::Json<DownloadResponse>, ApiError> {
    let (id, version) = path.into_inner();
    let link = versions::download_url(&state, user.id(), id, version).await?;
    Ok(web::Json(DownloadResponse {
        url: absolute_url(&req, &state, link.url),
        expires_at: link.expires_at,
    }))
}

/// Makes a stored version current again: the document takes its name, type, size and
/// hash and is processed again. Making the current version current changes nothing.
#[utoipa::path(
    operation_id = "makeVersionCurrent",
    tag = "documents",
    security(("bearer" = [])),
    params(
        ("id" = Uuid, Path, description = "Document id"),
        ("version_id" = Uuid, Path, description = "Version id"),
    ),
    responses(
        (status = 200, description = "The document, showing that version", body = DocumentView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrators have no documents", body = ErrorBody),
        (status = 404, description = "No such document or version", body = ErrorBody),
        (status = 409, description = "The document is in the trash (`document_trashed`)", body = ErrorBody),
    )
)]
#[post("/{version_id}/make-current")]
pub async fn make_version_current(
    user: RegularUser,
    state: web::Data<AppState>,
    links: ThumbnailLinks,
    path: web::Path<(DocumentId, VersionId)>,
) -> Result<web::Json<DocumentView>, ApiError> {
    let (id, version) = path.into_inner();
    let doc = versions::make_current(&state, user.id(), id, version, ip(&user)).await?;
    crate::documents::routes::one_view(&state, &links, &user, doc).await
}

/// Deletes a version: its bytes, and its size from your quota. The current version's
/// place goes to the newest remaining one (processed again); the only version cannot be
/// deleted (delete the document instead).
#[utoipa::path(
    operation_id = "deleteVersion",
    tag = "documents",
    security(("bearer" = [])),
    params(
        ("id" = Uuid, Path, description = "Document id"),
        ("version_id" = Uuid, Path, description = "Version id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrators have no documents", body = ErrorBody),
        (status = 404, description = "No such document or version", body = ErrorBody),
        (status = 409, description = "The only version (`only_version`), or the document is in the trash (`document_trashed`)", body = ErrorBody),
    )
)]
#[delete("/{version_id}")]
pub async fn delete_version(
    user: RegularUser,
    state: web::Data<AppState>,
    path: web::Path<(DocumentId, VersionId)>,
) -> Result<HttpResponse, ApiError> {
    let (id, version) = path.into_inner();
    versions::delete(&state, user.id(), id, version, ip(&user)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers the `/documents/{id}/versions` routes (inside the `/api` scope).
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(
        regular_scope("/documents/{id}/versions")
            .service(version_upload_url)
            .service(confirm_version)
            .service(list_versions)
            .service(download_version)
            .service(make_version_current)
            .service(delete_version),
    );
}
