//! `/api/ingest`: what the watched folder did with the caller's files. Regular accounts
//! only.

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::extract::{RegularUser, regular_scope};
use crate::entities::ingest_files::{self, IngestFileStatus};
use crate::error::{ApiError, ErrorBody};
use crate::ingest::service;
use crate::state::AppState;

/// The outcome of one file taken from the drop folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IngestItemStatus {
    /// It became a document (`document_id`).
    Imported,
    /// It was moved to `.failed/` (`reason`).
    Failed,
}

/// One file the watched folder took.
#[derive(Debug, Serialize, ToSchema)]
pub struct IngestItem {
    /// Its path inside the caller's drop folder (`Tax/2026/receipt.pdf`).
    pub path: String,
    /// Imported or failed.
    pub status: IngestItemStatus,
    /// Why it failed (also in `.failed/<name>.reason.txt`); null when imported.
    #[schema(required = true)]
    pub reason: Option<String>,
    /// The document it became; null when it failed.
    #[schema(required = true)]
    pub document_id: Option<Uuid>,
    /// When it was taken.
    pub at: DateTime<Utc>,
}

/// The caller's watched folder.
#[derive(Debug, Serialize, ToSchema)]
pub struct IngestStatus {
    /// Whether this server watches a folder (`ingest.watch_dir`).
    pub enabled: bool,
    /// The caller's own drop folder, `{watch_dir}/{handle}`, on the server; null when
    /// the watched folder is off.
    #[schema(required = true)]
    pub folder: Option<String>,
    /// The latest files taken from it (at most 50), newest first.
    pub recent: Vec<IngestItem>,
}

impl IngestItem {
    fn from_row(row: ingest_files::Model) -> Option<Self> {
        let status = match row.status {
            IngestFileStatus::Imported => IngestItemStatus::Imported,
            IngestFileStatus::Failed => IngestItemStatus::Failed,
            IngestFileStatus::Claimed => return None,
        };
        // Recorded relative to the watched directory: drop the handle's folder.
        let path = row
            .path
            .split_once('/')
            .map_or(row.path.as_str(), |(_, rest)| rest)
            .to_owned();
        Some(Self {
            path,
            status,
            reason: row.reason,
            document_id: row.document_id,
            at: row.finished_at.unwrap_or(row.claimed_at),
        })
    }
}

/// Where the caller's files go to become documents, and what happened to the latest.
///
/// With the watched folder on, every file put anywhere under the caller's drop folder
/// (`folder`) becomes one of their documents once it has stopped changing; its
/// sub-folders become folders of the same names. Imported files move to `.done/` (or
/// are deleted, as the server is configured); files that cannot be taken move to
/// `.failed/` with `<name>.reason.txt`.
#[utoipa::path(
    operation_id = "getIngestStatus",
    tag = "ingest",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's drop folder and its latest files", body = IngestStatus),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrator account, or password change pending", body = ErrorBody),
    )
)]
#[get("/status")]
pub async fn ingest_status(
    state: web::Data<AppState>,
    user: RegularUser,
) -> Result<web::Json<IngestStatus>, ApiError> {
    let dir = state.settings.ingest.dir();
    let rows = service::recent(&state.db, user.id()).await?;
    Ok(web::Json(IngestStatus {
        enabled: dir.is_some(),
        folder: dir.map(|d| d.join(&user.0.user.handle).display().to_string()),
        recent: rows.into_iter().filter_map(IngestItem::from_row).collect(),
    }))
}

/// Registers `/ingest` (regular accounts only).
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(regular_scope("/ingest").service(ingest_status));
}
