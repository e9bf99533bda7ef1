//! `/api/documents/*`: upload (URL → PUT → confirm, or one multipart request), list, read, rename/move, trash
//! (delete, restore, delete for good, empty), download, view. Regular accounts only; another user's document is a 404.

use actix_web::{HttpRequest, HttpResponse, ResponseError, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::extract::{RegularUser, regular_scope};
use crate::documents::search::{
    CountMode, CreatedTo, ListFilter, PageRequest, SearchQuery, SortKey, SortOrder,
};
use crate::documents::service::{self, Confirmation, UploadError};
use crate::documents::thumbnails::ThumbnailLinks;
use crate::documents::trash;
use crate::documents::view::DocumentView;
use crate::domain::{DocumentId, FolderId, TopicId};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::http::{ApiJson, page_params};
use crate::state::AppState;

/// The answer to a refused upload: the 413 quota body, or the error's own.
pub fn upload_error(e: UploadError) -> HttpResponse {
    match e {
        UploadError::QuotaExceeded(detail) => HttpResponse::PayloadTooLarge().json(ErrorBody {
            code: ErrorCode::QuotaExceeded,
            message: format!(
                "Not enough space: {} of {} bytes used and {} reserved by unconfirmed \
                     uploads, this file needs {}",
                detail.used_bytes, detail.limit_bytes, detail.reserved_bytes, detail.rejected_bytes
            ),
            detail: Some(detail),
            existing_id: None,
        }),
        UploadError::Api(e) => e.error_response(),
    }
}

/// `POST /api/documents/upload-url` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadUrlRequest {
    /// The file's name as the user knows it (path parts are dropped).
    #[schema(example = "tax-return-2025.pdf", min_length = 1, max_length = 1024)]
    pub filename: String,
    /// MIME type: one of the `document_types` listed by `GET /api/auth/config`.
    #[schema(example = "application/pdf")]
    pub content_type: String,
    /// Exact size in bytes.
    #[serde(deserialize_with = "crate::serde_util::whole_i64")]
    #[schema(minimum = 0)]
    pub size_bytes: i64,
    /// Folder to file it in (root when absent).
    #[serde(default)]
    pub folder_id: Option<Uuid>,
}

/// HTTP method of an upload (`UploadUrlResponse.method`); in the OpenAPI document an
/// enumeration, so generated clients get a type rather than a bare string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub enum UploadMethod {
    /// `PUT` the bytes as the request body.
    #[serde(rename = "PUT")]
    Put,
}

/// Where and how to upload the bytes.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadUrlResponse {
    /// The new document (status `pending` until confirmed).
    pub document_id: Uuid,
    /// URL to `PUT` the bytes to.
    pub upload_url: String,
    /// Always `PUT`.
    #[schema(value_type = UploadMethod)]
    pub method: String,
    /// Headers the `PUT` must carry exactly.
    pub headers: std::collections::BTreeMap<String, String>,
    /// When the URL stops working.
    pub expires_at: DateTime<Utc>,
}

/// Result of a confirm.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfirmResponse {
    /// Document id.
    pub id: Uuid,
    /// Size as stored.
    pub size_bytes: i64,
    /// Quota used after this upload.
    pub used_bytes: i64,
    /// Always `queued`: the upload is accepted and handed to processing (repeated
    /// confirms answer the same). Follow processing with `GET /api/documents/{id}`.
    pub status: DocumentStatus,
}

impl From<Confirmation> for ConfirmResponse {
    fn from(c: Confirmation) -> Self {
        Self {
            id: c.id,
            size_bytes: c.size_bytes,
            used_bytes: c.used_bytes,
            status: c.status,
        }
    }
}

/// A page of documents.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentPage {
    /// Documents on this page.
    pub items: Vec<DocumentView>,
    /// Matching documents in total; a search that matched more documents than it
    /// returns (`documents.search_max_hits`, 1 000 by default) reports that limit here,
    /// with `total_exact` false, unless `count=exact` asked for every match to be
    /// counted.
    pub total: u64,
    /// Whether `total` is exact (always, except for a search that hit its limit without
    /// `count=exact`; then more documents than `total` match).
    pub total_exact: bool,
    /// With `q`: the most documents the search returns (`documents.search_max_hits`);
    /// pages past them are empty, even when an exact `total` is larger. Null without `q`.
    #[schema(required = true)]
    pub max_hits: Option<u64>,
    /// This page (1-based).
    pub page: u64,
    /// Page size.
    pub per_page: u64,
}

/// The lifecycle status, from the entity (named here for the spec's component list).
pub use crate::entities::DocumentStatus;

/// Listing query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// 1-based page number.
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<u64>,
    /// Items per page, 1–100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u64>,
    /// Only documents with this topic id.
    pub topic: Option<Uuid>,
    /// Only documents in this folder.
    pub folder_id: Option<Uuid>,
    /// Only documents with this status (pending uploads are hidden otherwise).
    pub status: Option<DocumentStatus>,
    /// Full-text search over file name and extracted text of your own documents (and,
    /// with `include_shared=true`, of those shared with you). Words must all occur;
    /// `"quoted words"` match a phrase, `or` between words accepts either, `-word`
    /// excludes; any other character is literal. Whole words, case-insensitive, no
    /// stemming. Results are ranked by relevance unless `sort` is given, and carry a
    /// `snippet`. At most 500 characters and 32 words (excluded and phrase words
    /// count, `or` does not), not blank, at least one word not excluded; control
    /// characters count as spaces, invisible ones (zero-width space, bidirectional
    /// controls) as nothing.
    #[param(min_length = 1, max_length = 500, pattern = r"\S")]
    pub q: Option<String>,
    /// Sort key (default: relevance when `q` is given, else `created_at`; in the trash,
    /// `trashed_at`).
    pub sort: Option<SortKey>,
    /// Sort direction (default `desc`; with `q` and no `sort`, ignored).
    pub order: Option<SortOrder>,
    /// `true`: only documents in the trash (with `purge_at`); otherwise trashed
    /// documents are never listed nor searched.
    pub trashed: Option<bool>,
    /// `true`: only documents whose bytes (SHA-256) another of your live documents has
    /// too, the original and its copies alike.
    pub duplicates: Option<bool>,
    /// `true` with `folder_id`: the documents of its sub-folders, at any depth, too.
    pub include_subfolders: Option<bool>,
    /// `true`: documents shared with you take part too (in lists and searches; never
    /// trashed ones, and not with `trashed` or `duplicates`). Each item's `owner_handle`
    /// tells whose it is.
    pub include_shared: Option<bool>,
    /// Only documents of these types: one or more comma-separated MIME types of the
    /// accepted document types (`document_types` of `GET /api/auth/config`).
    #[param(example = "application/pdf,image/png")]
    pub content_type: Option<String>,
    /// Only documents uploaded at or after this RFC 3339 date (`2026-01-31`, from its
    /// start in UTC) or date-time.
    #[param(example = "2026-01-01")]
    pub created_from: Option<String>,
    /// Only documents uploaded up to this RFC 3339 date (inclusive: the whole day, UTC) or
    /// date-time (inclusive).
    #[param(example = "2026-12-31")]
    pub created_to: Option<String>,
    /// Only documents of at least this many bytes.
    #[param(minimum = 0)]
    pub size_min: Option<u64>,
    /// Only documents of at most this many bytes.
    #[param(minimum = 0)]
    pub size_max: Option<u64>,
    /// Only documents whose own date (`document_date`) is on or after this day
    /// (`YYYY-MM-DD`); undated documents never match a date range.
    #[param(example = "2024-01-01", format = Date)]
    pub document_date_from: Option<String>,
    /// Only documents whose own date is on or before this day (`YYYY-MM-DD`, inclusive).
    #[param(example = "2024-12-31", format = Date)]
    pub document_date_to: Option<String>,
    /// How a search counts its matches. `bounded` (the default): up to
    /// `documents.search_max_hits`, at no cost beyond the page; a search that matched
    /// more reports that limit with `total_exact` false. `exact`: every match is counted,
    /// by one more statement when the search matched more than it returns, whose cost
    /// grows with the number of matches (for a word in most of a large vault, several
    /// times the search itself). Lists without `q` always count exactly.
    pub count: Option<CountMode>,
}

/// The keys a saved view's `query` may hold: the list parameters that choose and order
/// documents (not the page, nor the trash).
pub const VIEW_QUERY_KEYS: &[&str] = &[
    "q",
    "sort",
    "order",
    "topic",
    "folder_id",
    "include_subfolders",
    "status",
    "content_type",
    "created_from",
    "created_to",
    "size_min",
    "size_max",
    "document_date_from",
    "document_date_to",
    "include_shared",
    "duplicates",
];

fn invalid_query(message: String) -> ApiError {
    ApiError::BadRequest {
        code: ErrorCode::InvalidQuery,
        message,
    }
}

/// Reads an RFC 3339 date (`2026-01-31`, midnight UTC) or date-time (400 when it is
/// neither). The `bool` tells whether it was a date.
fn date_or_time(name: &str, raw: &str) -> Result<(DateTime<Utc>, bool), ApiError> {
    let raw = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok((t.with_timezone(&Utc), false));
    }
    chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| (t.and_utc(), true))
        .ok_or_else(|| {
            invalid_query(format!(
                "{name} must be an RFC 3339 date (2026-01-31) or date-time \
                 (2026-01-31T12:00:00Z)"
            ))
        })
}

/// Reads a calendar date `YYYY-MM-DD` (400 when it is not one).
fn calendar_date(name: &str, raw: &str) -> Result<chrono::NaiveDate, ApiError> {
    crate::domain::document_date::parse(raw.trim())
        .ok_or_else(|| invalid_query(format!("{name} must be a date YYYY-MM-DD (2024-03-01)")))
}

/// The canonical accepted types named by a comma-separated `content_type` (400 for a type
/// that is not accepted).
fn content_types(raw: &str) -> Result<Vec<&'static str>, ApiError> {
    let mut types = Vec::new();
    for part in raw.split(',').map(str::trim) {
        let Some((canonical, _)) = crate::documents::files::accepted_type(part) else {
            return Err(invalid_query(format!(
                "content_type: {part:?} is not an accepted document type \
                 (GET /api/auth/config lists them)"
            )));
        };
        if !types.contains(&canonical) {
            types.push(canonical);
        }
    }
    Ok(types)
}

impl ListQuery {
    /// What to list: the query's filters, `q` parsed (400 when it is not a query).
    /// Every bad value answers 400 `invalid_query`: an unknown type, a date that is not
    /// RFC 3339 (a document date that is not `YYYY-MM-DD`), a size over 2^63, a range
    /// whose end comes before its start.
    pub(crate) fn filter(&self) -> Result<ListFilter, ApiError> {
        let created_from = self
            .created_from
            .as_deref()
            .map(|raw| date_or_time("created_from", raw).map(|(t, _)| t))
            .transpose()?;
        let created_to = self
            .created_to
            .as_deref()
            .map(|raw| {
                date_or_time("created_to", raw).map(|(t, date)| {
                    if date {
                        CreatedTo::Before(t + chrono::Duration::days(1))
                    } else {
                        CreatedTo::Through(t)
                    }
                })
            })
            .transpose()?;
        let backwards = match (created_from, created_to) {
            (Some(from), Some(CreatedTo::Through(to))) => to < from,
            (Some(from), Some(CreatedTo::Before(to))) => to <= from,
            _ => false,
        };
        if backwards {
            return Err(invalid_query(
                "created_to must not come before created_from".into(),
            ));
        }
        let size = |name: &str, v: Option<u64>| {
            v.map(|n| i64::try_from(n).map_err(|_| invalid_query(format!("{name} is too large"))))
                .transpose()
        };
        let (size_min, size_max) = (
            size("size_min", self.size_min)?,
            size("size_max", self.size_max)?,
        );
        if let (Some(min), Some(max)) = (size_min, size_max)
            && max < min
        {
            return Err(invalid_query("size_max must not be below size_min".into()));
        }
        let document_date = |name: &str, raw: &Option<String>| {
            raw.as_deref()
                .map(|raw| calendar_date(name, raw))
                .transpose()
        };
        let document_date_from = document_date("document_date_from", &self.document_date_from)?;
        let document_date_to = document_date("document_date_to", &self.document_date_to)?;
        if let (Some(from), Some(to)) = (document_date_from, document_date_to)
            && to < from
        {
            return Err(invalid_query(
                "document_date_to must not come before document_date_from".into(),
            ));
        }
        Ok(ListFilter {
            topic: self.topic.map(TopicId::from),
            folder_id: self.folder_id.map(FolderId::from),
            status: self.status,
            q: self.q.as_deref().map(SearchQuery::parse).transpose()?,
            trashed: self.trashed.unwrap_or(false),
            duplicates: self.duplicates.unwrap_or(false),
            include_subfolders: self.include_subfolders.unwrap_or(false),
            include_shared: self.include_shared.unwrap_or(false),
            content_types: self
                .content_type
                .as_deref()
                .map(content_types)
                .transpose()?
                .unwrap_or_default(),
            created_from,
            created_to,
            size_min,
            size_max,
            document_date_from,
            document_date_to,
        })
    }

    /// Reads a saved view's `query` exactly as the list reads its query string (same
    /// deserialisation, same [`ListQuery::filter`] checks); only [`VIEW_QUERY_KEYS`] are
    /// allowed and values must be strings, numbers or booleans. The error says why.
    pub(crate) fn from_saved(
        query: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, String> {
        let mut pairs = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in query {
            if !VIEW_QUERY_KEYS.contains(&key.as_str()) {
                return Err(format!("query: unknown key {key:?}"));
            }
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => return Err(format!("query: {key} must be a string, number or boolean")),
            };
            pairs.append_pair(key, &text);
        }
        let parsed = web::Query::<ListQuery>::from_query(&pairs.finish())
            .map_err(|e| format!("query: {e}"))?
            .into_inner();
        parsed.filter().map_err(|e| format!("query: {e}"))?;
        Ok(parsed)
    }

    /// In which order: the explicit sort; else relevance for a search; else the trash by
    /// when it was trashed, everything else newest upload first.
    pub(crate) fn sort(&self, searching: bool) -> Option<(SortKey, SortOrder)> {
        let order = self.order.unwrap_or(SortOrder::Desc);
        match (self.sort, searching) {
            (Some(key), _) => Some((key, order)),
            (None, true) => None,
            (None, false) if self.trashed.unwrap_or(false) => Some((SortKey::TrashedAt, order)),
            (None, false) => Some((SortKey::CreatedAt, order)),
        }
    }
}

/// `DELETE /api/documents/{id}` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// `true`: delete for good (live or trashed) instead of moving to the trash.
    pub permanent: Option<bool>,
}

/// `DELETE /api/documents/trash` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmptyTrashResponse {
    /// Documents deleted for good.
    pub deleted: u64,
}

/// `PATCH /api/documents/{id}` body; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDocumentRequest {
    /// New file name; absent or null = unchanged.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 1024)]
    pub filename: Option<String>,
    /// Folder to move to (one of yours); null = move to the root; absent = unchanged.
    #[serde(default, deserialize_with = "crate::serde_util::double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub folder_id: Option<Option<Uuid>>,
    /// Keep the document away from external AI providers; absent or null = unchanged.
    #[serde(default)]
    pub ai_opt_out: Option<bool>,
    /// The document's complete topic set, chosen by hand (ids of your own or system
    /// topics). Every listed topic becomes a `user` link (confirming an AI suggestion
    /// turns it into one); topics not listed are removed. Hand-assigned topics teach
    /// the builtin classifier. `[]` removes every topic; absent or null = unchanged.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub topics: Option<Vec<Uuid>>,
    /// The document's own date, `YYYY-MM-DD`, set by hand; null = it has none. Either
    /// way `document_date_source` becomes `user` and processing (re-classify, a new
    /// version) never replaces it; absent = unchanged. Not a real day: 422
    /// `validation_failed`.
    #[serde(default, deserialize_with = "crate::serde_util::double_option")]
    #[schema(value_type = Option<String>, format = Date, example = "2024-03-01")]
    pub document_date: Option<Option<String>>,
}

/// `POST /api/documents/{id}/classify` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClassifyResponse {
    /// Document id.
    pub id: Uuid,
    /// `queued` (or `processing` when a run was already under way).
    pub status: DocumentStatus,
}

/// `GET /api/documents/{id}/text` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentText {
    /// Document id.
    pub id: Uuid,
    /// The extracted, normalized text; null until extraction has run (or when it failed).
    #[schema(required = true)]
    pub text: Option<String>,
    /// Whether the text was cut at the server's limit (`extract.max_chars`).
    pub truncated: bool,
    /// Where each page's text came from, for documents read page by page (scans,
    /// images and PDFs): the text layer or OCR, with engine, version, languages and mean
    /// confidence. Empty for other documents.
    pub pages: Vec<crate::documents::provenance::PageProvenance>,
}

/// A short-lived download link.
#[derive(Debug, Serialize, ToSchema)]
pub struct DownloadResponse {
    /// URL serving the original bytes as an attachment.
    pub url: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// How a view URL shows the document (named here for the spec's component list).
pub use crate::documents::files::ViewKind;

/// A short-lived link showing the document in the browser.
#[derive(Debug, Serialize, ToSchema)]
pub struct ViewResponse {
    /// URL serving the original bytes: inline for `pdf`, `image` and `text`, as an
    /// attachment for `download`.
    pub url: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// The `Content-Type` the URL serves: `application/pdf`; the image's own type;
    /// `text/plain; charset=utf-8` for every text (HTML included); the stored type for
    /// downloads.
    #[schema(example = "application/pdf")]
    pub content_type: String,
    /// How to show it.
    pub kind: ViewKind,
}

/// Makes a server-relative URL (local backend) absolute for the caller.
pub fn absolute_url(req: &HttpRequest, state: &AppState, url: String) -> String {
    if !url.starts_with('/') {
        return url;
    }
    // Forwarded headers count only from auth.trusted_proxies (never any client's).
    let base = crate::security::client_ip::public_base_url(
        req,
        &state.settings.server.public_url,
        &state.settings.auth.trusted_proxies,
    );
    format!("{base}{url}")
}

/// Keeps the owner-only facts (`duplicate_of`, `purge_at`) to the caller's own views.
fn owner_facts(state: &AppState, viewer: crate::domain::UserId, views: &mut [DocumentView]) {
    DocumentView::keep_owner_facts(viewer, state.settings.documents.trash_retention_days, views);
}

/// The view of one document as `user` sees it.
pub(crate) async fn one_view(
    state: &AppState,
    links: &ThumbnailLinks,
    user: &RegularUser,
    doc: crate::entities::documents::Model,
) -> Result<web::Json<DocumentView>, ApiError> {
    let mut one = DocumentView::of_model(&state.db, links, doc).await?;
    DocumentView::add_classifier_reasons(&state.db, user.id(), &mut one).await?;
    let one_slice = std::slice::from_mut(&mut one);
    DocumentView::add_duplicate_of(&state.db, user.id(), one_slice).await?;
    owner_facts(state, user.id(), one_slice);
    Ok(web::Json(one))
}

/// Starts an upload: validates name, type and size, reserves the size against the
/// quota (`used + reserved + size <= limit`) and returns a URL to `PUT` the bytes to
/// directly (valid 15 minutes). Confirm turns the reservation into the charge; delete,
/// a refused confirm and expiry release it.
#[utoipa::path(
    operation_id = "createUploadUrl",
    tag = "documents",
    security(("bearer" = [])),
    request_body = UploadUrlRequest,
    responses(
        (status = 200, description = "Upload URL for a new pending document", body = UploadUrlResponse),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrators have no documents", body = ErrorBody),
        (status = 404, description = "No such folder", body = ErrorBody),
        (status = 413, description = "Larger than the server allows, or than the quota left after charged and reserved bytes", body = ErrorBody),
        (status = 415, description = "Content type not accepted", body = ErrorBody),
        (status = 422, description = "Invalid file name or size", body = ErrorBody),
        (status = 429, description = "Too many unconfirmed uploads", body = ErrorBody),
        (status = 503, description = "Object storage unavailable", body = ErrorBody),
    )
)]
#[post("/upload-url")]
pub async fn upload_url(
    user: RegularUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<UploadUrlRequest>,
) -> HttpResponse {
    match service::create_upload(
        &state,
        user.id(),
        &body.filename,
        &body.content_type,
        body.size_bytes,
        body.folder_id.map(FolderId::from),
    )
    .await
    {
        Ok(t) => HttpResponse::Ok().json(UploadUrlResponse {
            document_id: t.document_id.into(),
            upload_url: absolute_url(&req, &state, t.upload_url),
            method: "PUT".into(),
            headers: t.headers,
            expires_at: t.expires_at,
        }),
        Err(e) => upload_error(e),
    }
}

/// Confirms an upload: the size is read from storage, the upload's reservation turned
/// into a charge atomically, and the document queued for processing. Repeating it is
/// harmless.
#[utoipa::path(
    operation_id = "confirmUpload",
    tag = "documents",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Document id")),
    responses(
        (status = 200, description = "Confirmed (or already confirmed)", body = ConfirmResponse),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrators have no documents", body = ErrorBody),
        (status = 404, description = "No such document", body = ErrorBody),
        (status = 409, description = "`duplicate_document`: you already have a live document with these bytes and `documents.duplicates` is `reject`; `existing_id` names it; the upload was discarded", body = ErrorBody),
        (status = 413, description = "Over quota; the upload was discarded", body = ErrorBody),
        (status = 422, description = "Upload missing or of another size than declared", body = ErrorBody),
        (status = 503, description = "Object storage unavailable", body = ErrorBody),
    )
)]
#[post("/{id}/confirm")]
pub async fn confirm(
    user: RegularUser,
    state: web::Data<AppState>,
    id: web::Path<DocumentId>,
) -> HttpResponse {
    match service::confirm(&state, user.id(), id.into_inner()).await {
        Ok(c) => HttpResponse::Ok().json(ConfirmResponse::from(c)),
        Err(e) => upload_error(e),
    }
}

/// `POST /api/documents` form (`multipart/form-data`).
#[derive(Debug, ToSchema)]
pub struct UploadForm {
    /// The file, exactly one part, with its filename (path parts are dropped). Its
    /// `Content-Type` is used; absent or `application/octet-stream`, the type follows the
    /// filename's extension. At most `storage.max_object_bytes`.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    /// Folder to file it in (one of yours; root when absent).
    pub folder_id: Option<Uuid>,
    /// Topics to file it under by hand (as `updateDocument` does): each part a topic id
    /// or the name of one of your own or a system topic; may repeat, and a part may list
    /// several separated by commas.
    pub topics: Option<Vec<String>>,
}

/// Uploads a document in one request (`multipart/form-data`, e.g.
/// `curl -F file=@scan.pdf -F topics=Tax`): the same validation, quota reservation,
/// pending limit, duplicates rule and charge as `createUploadUrl` + `PUT` +
/// `confirmUpload`, the file streamed to storage as it arrives. `folder_id` and `topics`
/// may come before or after the file. Answers with the document, queued for processing.
#[utoipa::path(
    operation_id = "uploadDocument",
    tag = "documents",
    security(("bearer" = [])),
    request_body(content = UploadForm, content_type = "multipart/form-data", description = "The file and where to file it"),
    responses(
        (status = 201, description = "Stored and queued for processing", body = DocumentView,
            headers(("Location" = String, description = "The document: `/api/documents/{id}`"))),
        (status = 400, description = "`multipart_invalid`: no `file` part, two of them, an unknown field, a malformed form or value; or the upload was interrupted", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrators have no documents", body = ErrorBody),
        (status = 404, description = "No such folder", body = ErrorBody),
        (status = 408, description = "The body was sent too slowly", body = ErrorBody),
        (status = 409, description = "`duplicate_document`: you already have a live document with these bytes and `documents.duplicates` is `reject`; `existing_id` names it; nothing was kept", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: larger than `storage.max_object_bytes`; or `quota_exceeded` with the quota in `detail`; nothing was kept", body = ErrorBody),
        (status = 415, description = "Not multipart/form-data, or a file type not accepted", body = ErrorBody),
        (status = 422, description = "`unknown_topic`: a topic that is not yours nor a system topic; or an invalid file name", body = ErrorBody),
        (status = 429, description = "Too many unconfirmed uploads", body = ErrorBody),
        (status = 503, description = "Object storage unavailable", body = ErrorBody),
        (status = 507, description = "No space left on the server", body = ErrorBody),
    )
)]
#[post("")]
pub async fn upload(
    user: RegularUser,
    state: web::Data<AppState>,
    links: ThumbnailLinks,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let doc = match crate::documents::multipart::receive(&state, user.id(), &req, payload).await {
        Ok(doc) => doc,
        Err(e) => return upload_error(e),
    };
    let location = format!("/api/documents/{}", doc.id);
    match one_view(&state, &links, &user, doc).await {
        Ok(one) => HttpResponse::Created()
            .insert_header((actix_web::http::header::LOCATION, location))
            .json(one.into_inner()),
        Err(e) => e.error_response(),
    }
}

/// The caller's documents, newest first by default; with `q`, a full-text search of the
/// caller's own documents, by relevance. With `include_shared=true`, documents shared with
/// the caller take part too (each item's `owner_handle` names its owner); other accounts'
/// documents never do.
///
/// A search returns at most `documents.search_max_hits` documents (1 000 by default): by
/// relevance the most recently uploaded matches, ranked; with a `sort`, the first ones in
/// that order; `total_exact` is false when more matched, and `count=exact` counts every
/// match (at a cost that grows with them).
#[utoipa::path(
    operation_id = "listDocuments",
    tag = "documents",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of documents (with `q`: ranked hits with snippets)", body = DocumentPage),
        (status = 400, description = "Bad query parameters (e.g. empty or over-long `q`)", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrators have no documents", body = ErrorBody),
    )
)]
#[get("")]
pub async fn list(
    user: RegularUser,
    state: web::Data<AppState>,
    links: ThumbnailLinks,
    query: web::Query<ListQuery>,
) -> Result<web::Json<DocumentPage>, ApiError> {
    let q = query.into_inner();
    let (page, per_page) = page_params(q.page, q.per_page)?;
    let filter = q.filter()?;
    let sort = q.sort(filter.q.is_some());
    let (mut items, total) = service::list(
        &state.db,
        user.id(),
        user.0.user.search_language,
        &filter,
        PageRequest {
            page,
            per_page,
            sort,
            max_hits: state.settings.documents.search_max_hits,
            count: q.count.unwrap_or_default(),
        },
    )
    .await?;
    crate::documents::search::Listed::name_owner(&mut items, user.id(), &user.0.user.handle);
    let mut items = DocumentView::many(&state.db, &links, items).await?;
    owner_facts(&state, user.id(), &mut items);
    Ok(web::Json(DocumentPage {
        items,
        total: total.count,
        total_exact: total.exact,
        max_hits: filter
            .q
            .is_some()
            .then_some(state.settings.documents.search_max_hits),
        page,
        per_page,
    }))
}

/// One document's metadata (yours, or shared with you).
#[utoipa::path(
    operation_id = "getDocument",
    tag = "documents",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Document id")),
    responses(
        (status = 200, description = "The document", body = DocumentView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrators have no documents", body = ErrorBody),
        (status = 404, description = "No such document", body = ErrorBody),
    )
)]
#[get("/{id}")]
pub async fn get_one(
    user: RegularUser,
    state: web::Data<AppState>,
    links: ThumbnailLinks,
    id: web::Path<DocumentId>,
) -> Result<web::Json<DocumentView>, ApiError> {
    let doc = crate::documents::access::readable(&state.db, user.id(), id.into_inner()).await?;
    one_view(&state, &links, &user, doc).await
}

/// Renames, moves, re-files or re-dates your document, or changes its AI opt-out.
///
/// A `document_date` set here (or cleared with null) is yours: its source reads `user`
/// and processing (re-classify, a new version) never replaces it.
#[utoipa::path(
    operation_id = "updateDocument",
    tag = "documents",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Document id")),
    request_body = UpdateDocumentRequest,
    responses(
        (status = 200, description = "Updated", body = DocumentView),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrators have no documents", body = ErrorBody),
        (status = 404, description = "No such document or folder", body = ErrorBody),
        (status = 409, description = "The document is in the trash (`document_trashed`), or topics set on an unconfirmed upload", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid values", body = ErrorBody),
    )
)]
#[patch("/{id}")]
pub async fn update(
    user: RegularUser,
    state: web::Data<AppState>,
    links: ThumbnailLinks,
    id: web::Path<DocumentId>,
    body: ApiJson<UpdateDocumentRequest>,
) -> Result<web::Json<DocumentView>, ApiError> {
    let body = body.0;
    let document_date = body
        .document_date
        .map(|date| {
            date.map(|raw| {
                crate::domain::document_date::parse(&raw).ok_or_else(|| ApiError::Unprocessable {
                    code: ErrorCode::ValidationFailed,
                    message: "document_date must be a date YYYY-MM-DD (2024-03-01) or null".into(),
                })
            })
            .transpose()
        })
        .transpose()?;
    let changes = service::DocumentChanges {
        filename: body.filename,
        folder: body.folder_id.map(|f| f.map(FolderId::from)),
        ai_opt_out: body.ai_opt_out,
        topics: body
            .topics
            .map(|t| t.into_iter().map(TopicId::from).collect()),
        document_date,
    };
    let doc = service::update(&state.db, user.id(), id.into_inner(), changes).await?;
    one_view(&state, &links, &user, doc).await
}

/// Moves your document to the trash (it keeps counting against your quota; restore it
/// with `restoreDocument`; the cleanup job deletes it for good after
/// `documents.trash_retention_days`). Already trashed: nothing changes. With
/// `permanent=true` (or for an unconfirmed upload) deletes it for good, live or trashed:
/// its bytes (every version and the thumbnail), its row, and its size from your quota
/// (the reservation, for an unconfirmed upload).
#[utoipa::path(
    operation_id = "deleteDocument",
    tag = "documents",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Document id"), DeleteQuery),
    responses(
        (status = 204, description = "Trashed (or deleted for good)"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrators have no documents", body = ErrorBody),
        (status = 404, description = "No such document", body = ErrorBody),
    )
)]
#[delete("/{id}")]
pub async fn delete_one(
    user: RegularUser,
    state: web::Data<AppState>,
    id: web::Path<DocumentId>,
    query: web::Query<DeleteQuery>,
) -> Result<HttpResponse, ApiError> {
    let ip = Some(user.0.client.ip.as_str());
    if query.permanent.unwrap_or(false) {
        trash::delete_permanently(&state, user.id(), id.into_inner(), ip).await?;
    } else {
        trash::trash(&state, user.id(), id.into_inner(), ip).await?;
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Restores your document from the trash, unchanged (topics, folder, shares, versions);
/// at the root when its folder was deleted meanwhile. Not in the trash: returned as it
/// is. Refused with `quota_exceeded` (413, the quota body) while your account uses more
/// than its limit (e.g. after an administrator lowered it).
#[utoipa::path(
    operation_id = "restoreDocument",
    tag = "documents",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Document id")),
    responses(
        (status = 200, description = "Restored (or was not trashed)", body = DocumentView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrators have no documents", body = ErrorBody),
        (status = 404, description = "No such document", body = ErrorBody),
        (status = 413, description = "Over quota; the document stays in the trash", body = ErrorBody),
    )
)]
#[post("/{id}/restore")]
pub async fn restore(
    user: RegularUser,
    state: web::Data<AppState>,
    links: ThumbnailLinks,
    id: web::Path<DocumentId>,
) -> HttpResponse {
    let ip = Some(user.0.client.ip.as_str());
    let doc = match trash::restore(&state, user.id(), id.into_inner(), ip).await {
        Ok(doc) => doc,
        Err(e) => return upload_error(e),
    };
    match one_view(&state, &links, &user, doc).await {
        Ok(one) => HttpResponse::Ok().json(one.into_inner()),
        Err(e) => e.error_response(),
    }
}

/// Empties your trash: every trashed document deleted for good (bytes, rows, quota
/// refunded).
#[utoipa::path(
    operation_id = "emptyTrash",
    tag = "documents",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Trash emptied", body = EmptyTrashResponse),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrators have no documents", body = ErrorBody),
    )
)]
#[delete("/trash")]
pub async fn empty_trash(
    user: RegularUser,
    state: web::Data<AppState>,
) -> Result<web::Json<EmptyTrashResponse>, ApiError> {
    let ip = Some(user.0.client.ip.as_str());
    let deleted = trash::empty(&state, user.id(), ip).await?;
    Ok(web::Json(EmptyTrashResponse { deleted }))
}

/// A short-lived URL serving the original bytes as an attachment.
#[utoipa::path(
    operation_id = "downloadDocument",
    tag = "documents",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Document id")),
    responses(
        (status = 200, description = "Download link", body = DownloadResponse),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrators have no documents", body = ErrorBody),
        (status = 404, description = "No such document", body = ErrorBody),
        (status = 503, description = "Object storage unavailable", body = ErrorBody),
    )
)]
#[get("/{id}/download")]
pub async fn download(
    user: RegularUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<DocumentId>,
) -> Result<web::Json<DownloadResponse>, ApiError> {
    let link = service::download_url(&state, user.id(), id.into_inner()).await?;
    Ok(web::Json(DownloadResponse {
        url: absolute_url(&req, &state, link.url),
        expires_at: link.expires_at,
    }))
}

/// A short-lived URL that shows the document in the browser (yours, or shared with you;
/// it lives as long as a download URL, `documents.download_url_ttl_secs`).
///
/// Only passive content is shown inline (`Content-Disposition: inline`,
/// `X-Content-Type-Options: nosniff`): `pdf` as `application/pdf`; `image` (JPEG, PNG,
/// WebP) as its own type; `text` (plain text, Markdown, CSV, and HTML, shown as its
/// source) as `text/plain; charset=utf-8`, so no markup is ever rendered or script run.
/// Everything else is `download`: the URL is an ordinary attachment, like
/// `downloadDocument` — DOCX and ODT, and TIFF, which browsers do not display.
///
/// On the local backend the URL is on this server (`/storage/…`) and also carries
/// `Content-Security-Policy: sandbox`. On S3 it is a presigned URL on the storage
/// endpoint's origin (separate from DocuVault's), whose type and disposition are set by
/// signed `response-content-type` / `response-content-disposition` overrides (S3 cannot
/// add the other headers).
#[utoipa::path(
    operation_id = "viewDocument",
    tag = "documents",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Document id")),
    responses(
        (status = 200, description = "View link", body = ViewResponse),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrators have no documents", body = ErrorBody),
        (status = 404, description = "No such document", body = ErrorBody),
        (status = 503, description = "Object storage unavailable", body = ErrorBody),
    )
)]
#[get("/{id}/view")]
pub async fn view(
    user: RegularUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<DocumentId>,
) -> Result<web::Json<ViewResponse>, ApiError> {
    let view = service::view_url(&state, user.id(), id.into_inner()).await?;
    Ok(web::Json(ViewResponse {
        url: absolute_url(&req, &state, view.url.url),
        expires_at: view.url.expires_at,
        content_type: view.plan.content_type.to_owned(),
        kind: view.plan.kind,
    }))
}

/// Runs extraction and classification again (e.g. after changing topics or provider).
/// Idempotent while the document is already queued or processing.
#[utoipa::path(
    operation_id = "classifyDocument",
    tag = "documents",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Document id")),
    responses(
        (status = 202, description = "Queued for processing", body = ClassifyResponse),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrators have no documents", body = ErrorBody),
        (status = 404, description = "No such document", body = ErrorBody),
        (status = 409, description = "The upload is not confirmed yet, or the document is in the trash (`document_trashed`)", body = ErrorBody),
    )
)]
#[post("/{id}/classify")]
pub async fn classify(
    user: RegularUser,
    state: web::Data<AppState>,
    id: web::Path<DocumentId>,
) -> Result<HttpResponse, ApiError> {
    let doc = service::reclassify(&state, user.id(), id.into_inner()).await?;
    Ok(HttpResponse::Accepted().json(ClassifyResponse {
        id: doc.id,
        status: doc.status,
    }))
}

/// The text extracted from a document you own or that is shared with you.
#[utoipa::path(
    operation_id = "getDocumentText",
    tag = "documents",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Document id")),
    responses(
        (status = 200, description = "Extracted text", body = DocumentText),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrators have no documents", body = ErrorBody),
        (status = 404, description = "No such document", body = ErrorBody),
    )
)]
#[get("/{id}/text")]
pub async fn document_text(
    user: RegularUser,
    state: web::Data<AppState>,
    id: web::Path<DocumentId>,
) -> Result<web::Json<DocumentText>, ApiError> {
    let doc = crate::documents::access::readable(&state.db, user.id(), id.into_inner()).await?;
    let stored = crate::documents::texts::get(&state.db, doc.id).await?;
    let max = state.settings.extract.max_chars;
    let truncated = stored
        .as_ref()
        .is_some_and(|t| t.body.chars().nth(max.saturating_sub(1)).is_some());
    let (text, pages) = stored.map_or((None, None), |t| (Some(t.body), t.pages));
    Ok(web::Json(DocumentText {
        id: doc.id,
        pages: crate::documents::provenance::pages(pages.as_ref()),
        text,
        truncated,
    }))
}

/// Registers the `/documents` routes (inside the `/api` scope).
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(
        regular_scope("/documents")
            .service(upload_url)
            .service(confirm)
            .service(list)
            .service(upload)
            // Before `/{id}`, which would take "suggest" for an id.
            .service(crate::documents::search::routes::suggest)
            .service(get_one)
            .service(update)
            // Before `/{id}`, which would take "trash" for an id.
            .service(empty_trash)
            .service(delete_one)
            .service(restore)
            .service(download)
            .service(view)
            .service(classify)
            .service(crate::classify::routes::accept_topic)
            .service(crate::classify::routes::reject_topic)
            .service(document_text)
            .service(crate::documents::search::routes::similar),
    );
}
