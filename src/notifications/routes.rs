//! `/api/notifications`: the caller's notices (documents shared with them). Regular
//! accounts only: administrators never receive shares.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::extract::{RegularUser, regular_scope};
use crate::error::{ApiError, ErrorBody};
use crate::http::ApiJson;
use crate::notifications::service::{self, Notice};
use crate::state::AppState;

/// Most ids one `POST /api/notifications/read` takes.
const MAX_READ_IDS: usize = 1000;

/// What a notice is about.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// Someone shared a document with you.
    ShareReceived,
}

/// One notice.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    /// Notice id.
    pub id: Uuid,
    /// Always `share_received` for now.
    pub kind: NotificationKind,
    /// When it happened.
    pub created_at: DateTime<Utc>,
    /// When you marked it read; null: unread.
    #[schema(required = true)]
    pub read_at: Option<DateTime<Utc>>,
    /// The shared document (open it at `/documents/{id}`).
    pub document_id: Uuid,
    /// Its file name.
    pub filename: String,
    /// Handle of the account that shared it.
    pub from_handle: String,
}

impl From<Notice> for NotificationView {
    fn from(n: Notice) -> Self {
        Self {
            id: n.id,
            kind: NotificationKind::ShareReceived,
            created_at: n.created_at,
            read_at: n.read_at,
            document_id: n.document_id,
            filename: n.filename,
            from_handle: n.from_handle,
        }
    }
}

/// The caller's notices.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationList {
    /// The newest 50, newest first.
    pub items: Vec<NotificationView>,
    /// Unread notices in all.
    pub unread: u64,
}

/// `POST /api/notifications/read` body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkReadRequest {
    /// The notices to mark read (up to 1000); absent or null: all of yours.
    #[serde(default)]
    #[schema(max_items = 1000, nullable = false)]
    pub ids: Option<Vec<Uuid>>,
}

/// Your notices, newest first: documents other accounts shared with you.
///
/// A notice disappears when its share is revoked, and is hidden while its document is
/// in the trash.
#[utoipa::path(
    operation_id = "listNotifications",
    tag = "notifications",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Your notices and how many are unread", body = NotificationList),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrators have no documents (or a password change is pending)", body = ErrorBody),
    )
)]
#[get("")]
pub async fn list_notifications(
    user: RegularUser,
    state: web::Data<AppState>,
) -> Result<web::Json<NotificationList>, ApiError> {
    let (items, unread) = service::list(&state.db, user.id()).await?;
    Ok(web::Json(NotificationList {
        items: items.into_iter().map(NotificationView::from).collect(),
        unread,
    }))
}

/// Marks notices read: the ones named, or all of yours without `ids`.
///
/// Ids that are not your notices are ignored.
#[utoipa::path(
    operation_id = "markNotificationsRead",
    tag = "notifications",
    security(("bearer" = [])),
    request_body = MarkReadRequest,
    responses(
        (status = 204, description = "Marked read"),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrators have no documents (or a password change is pending)", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid values (more than 1000 ids)", body = ErrorBody),
    )
)]
#[post("/read")]
pub async fn mark_notifications_read(
    user: RegularUser,
    state: web::Data<AppState>,
    body: ApiJson<MarkReadRequest>,
) -> Result<HttpResponse, ApiError> {
    let ids = body.0.ids;
    if ids.as_ref().is_some_and(|ids| ids.len() > MAX_READ_IDS) {
        return Err(ApiError::Unprocessable {
            code: crate::error::ErrorCode::ValidationFailed,
            message: format!("ids takes at most {MAX_READ_IDS} notices"),
        });
    }
    service::mark_read(&state.db, user.id(), ids.as_deref()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers the notification routes (inside the `/api` scope).
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(
        regular_scope("/notifications")
            .service(list_notifications)
            .service(mark_notifications_read),
    );
}
