//! `/api/me/export*`: a regular account downloads its own documents as one zip.
//!
//! `GET /api/me/export` takes the bearer token like every API route. A browser cannot
//! send that header on a plain download (and a zip fetched by script would be held in
//! memory whole), so `POST /api/me/export-url` hands out a short-lived signed link that
//! `GET`s the same zip without a header, as the document download links do.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::account_export::service::{self, ExportGrant};
use crate::audit::{AuditEntry, AuditEvent, Outcome};
use crate::auth::extract::RegularUser;
use crate::documents::routes::absolute_url;
use crate::entities::users;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::state::AppState;

/// The export zip (`application/zip`), described for the OpenAPI document.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct ExportArchive(pub Vec<u8>);

/// `POST /api/me/export-url` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportUrlResponse {
    /// Absolute URL answering `GET` with the zip; no header needed. Open it in the
    /// browser (navigate or an `<a href>`); it works for the caller's session only.
    #[schema(example = "https://vault.example.com/api/me/export/eyJ1c2VyX2lkIjoi….3f1c…")]
    pub url: String,
    /// When it stops working (`documents.download_url_ttl_secs` from now).
    pub expires_at: DateTime<Utc>,
}

/// Writes the audit entry, then answers with the streamed zip of `user`'s documents.
async fn respond(
    state: &AppState,
    user: &users::Model,
    ip: &str,
    via: &str,
) -> Result<HttpResponse, ApiError> {
    let plan = service::plan(&state.db, user).await?;
    AuditEntry::new(
        AuditEvent::AccountExported,
        Outcome::Success,
        Some(user.id),
        Some(ip),
    )
    .detail("documents", plan.entries.len())
    .detail("via", via)
    .record(&state.db)
    .await?;
    let filename = service::archive_name(&user.handle, plan.manifest.exported_at);
    Ok(zip_attachment(
        &filename,
        service::stream(state.storage.clone(), plan),
    ))
}

/// A `200 application/zip` download named `filename`, its body streamed from `body`.
pub fn zip_attachment<S>(filename: &str, body: S) -> HttpResponse
where
    S: futures_util::Stream<Item = Result<web::Bytes, std::io::Error>> + 'static,
{
    HttpResponse::Ok()
        .content_type("application/zip")
        .insert_header((
            header::CONTENT_DISPOSITION,
            crate::storage::Disposition::Attachment.header_value(filename),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .streaming(body)
}

/// Downloads the caller's own documents as a zip, streamed while it is written.
///
/// The zip holds the current original of every live document (not trashed, upload
/// confirmed) at `<folder path>/<file name>`; names that clash (ignoring case) are
/// numbered `name (2).pdf`. `manifest.json` at its root lists the documents (zip path,
/// folder path, topics, dates, SHA-256, status, size), the folders and the topics.
/// Browsers cannot send the bearer token on a download: they use
/// `createMyExportUrl` instead.
#[utoipa::path(
    operation_id = "exportMyDocuments",
    tag = "account",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The zip, named `docuvault-export-<handle>-<YYYY-MM-DD>.zip` (`Content-Disposition: attachment`)", content_type = "application/zip", body = ExportArchive),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrator account, or password change pending", body = ErrorBody),
    )
)]
#[get("/me/export")]
pub async fn export_mine(
    state: web::Data<AppState>,
    user: RegularUser,
) -> Result<HttpResponse, ApiError> {
    respond(&state, &user.0.user, &user.0.client.ip, "bearer").await
}

/// A short-lived link that downloads the caller's export (`exportMyDocuments`) without
/// the bearer token: what the web UI opens. It expires like a download link
/// (`documents.download_url_ttl_secs`) and stops working when this session is signed
/// out, or all sessions are.
#[utoipa::path(
    operation_id = "createMyExportUrl",
    tag = "account",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Export link", body = ExportUrlResponse),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrator account, or password change pending", body = ErrorBody),
    )
)]
#[post("/me/export-url")]
pub async fn create_export_url(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: RegularUser,
) -> Result<web::Json<ExportUrlResponse>, ApiError> {
    let grant = service::grant_for(&user.0, state.settings.documents.download_url_ttl_secs);
    let token = service::sign_grant(&state.keys, &grant);
    Ok(web::Json(ExportUrlResponse {
        url: absolute_url(&req, &state, format!("/api/me/export/{token}")),
        expires_at: grant.expires_at(),
    }))
}

fn link_denied() -> ApiError {
    ApiError::Forbidden {
        code: ErrorCode::SignatureInvalid,
        message: "The export link is invalid or has expired".into(),
    }
}

/// The export behind a link from `createMyExportUrl`: the same zip as
/// `exportMyDocuments`, authorised by the link alone.
#[utoipa::path(
    operation_id = "downloadMyExport",
    tag = "account",
    security(),
    params(("token" = String, Path, description = "The signed token of the link")),
    responses(
        (status = 200, description = "The zip, named `docuvault-export-<handle>-<YYYY-MM-DD>.zip` (`Content-Disposition: attachment`)", content_type = "application/zip", body = ExportArchive),
        (status = 403, description = "The link is invalid or expired, or its session was signed out (`signature_invalid`)", body = ErrorBody),
        (status = 404, description = "Not an export link (a token is one path segment)", body = ErrorBody),
    )
)]
#[get("/me/export/{token}")]
pub async fn download_export(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (_, user) = service::redeem::<ExportGrant>(&state.db, &state.keys, &token)
        .await?
        .ok_or_else(link_denied)?;
    let client = crate::auth::extract::client_info(&req, &state);
    respond(&state, &user, &client.ip, "link").await
}

/// Registers the `/me/export*` routes (inside the `/api` scope). They check the caller
/// themselves: a bearer token of a regular account, or the signed link.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(export_mine)
        .service(create_export_url)
        .service(download_export);
}
