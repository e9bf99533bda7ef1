//! `/api/documents/{id}/shares`, `/api/shares/{id}` and `/api/shared-with-me`: sharing a
//! document read-only with another regular account. Regular accounts only; a document
//! or share that is not yours is a 404, exactly like a missing one.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::extract::{RegularUser, regular_scope};
use crate::documents::thumbnails::ThumbnailLinks;
use crate::documents::view::DocumentView;
use crate::domain::DocumentId;
use crate::error::{ApiError, ErrorBody};
use crate::http::{ApiJson, page_params};
use crate::shares::service::{self, Created, ShareRow, SharedDocument};
use crate::state::AppState;

/// Longest accepted `recipient` (the longest e-mail address), in characters.
const RECIPIENT_MAX_CHARS: usize = 254;

/// 422 unless `recipient` is 1 to [`RECIPIENT_MAX_CHARS`] characters (a handle or an
/// e-mail address could be); the bulk share checks it the same way.
pub fn check_recipient(recipient: &str) -> Result<(), ApiError> {
    let chars = recipient.chars().count();
    if chars == 0 || chars > RECIPIENT_MAX_CHARS {
        return Err(ApiError::Unprocessable {
            code: crate::error::ErrorCode::ValidationFailed,
            message: format!("recipient must be 1–{RECIPIENT_MAX_CHARS} characters"),
        });
    }
    Ok(())
}

/// `POST /api/documents/{id}/shares` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateShareRequest {
    /// Handle or e-mail of the account to share with (case-insensitive).
    #[schema(example = "bob", min_length = 1, max_length = 254)]
    pub recipient: String,
}

/// What a share lets the recipient do.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SharePermission {
    /// Read the metadata and download the file; nothing else.
    View,
}

/// One share of a document.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShareView {
    /// Share id (revoke with `DELETE /api/shares/{id}`).
    pub id: Uuid,
    /// The shared document.
    pub document_id: Uuid,
    /// The account it is shared with.
    pub recipient_id: Uuid,
    /// That account's handle.
    pub recipient_handle: String,
    /// Always `view`.
    pub permission: SharePermission,
    /// Shared at.
    pub created_at: DateTime<Utc>,
}

impl From<ShareRow> for ShareView {
    fn from(r: ShareRow) -> Self {
        Self {
            id: r.share.id,
            document_id: r.share.document_id,
            recipient_id: r.share.recipient_id,
            recipient_handle: r.recipient_handle,
            permission: SharePermission::View,
            created_at: r.share.created_at,
        }
    }
}

/// Every share of one document.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShareList {
    /// Shares, oldest first.
    pub items: Vec<ShareView>,
}

/// A document someone shared with the caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct SharedDocumentView {
    /// The share granting access.
    pub share_id: Uuid,
    /// Shared at.
    pub shared_at: DateTime<Utc>,
    /// The owner's handle.
    pub owner_handle: String,
    /// The document's metadata.
    pub document: DocumentView,
}

impl SharedDocumentView {
    /// Views of shared documents, their topics loaded in one query.
    async fn many(
        db: &impl sea_orm::ConnectionTrait,
        links: &ThumbnailLinks,
        items: Vec<SharedDocument>,
    ) -> Result<Vec<Self>, ApiError> {
        let (meta, docs): (Vec<_>, Vec<_>) = items
            .into_iter()
            .map(|s| ((s.share, s.owner_handle), s.document))
            .unzip();
        let views = DocumentView::of_models(db, links, docs).await?;
        Ok(meta
            .into_iter()
            .zip(views)
            .map(|((share, owner_handle), document)| Self {
                share_id: share.id,
                shared_at: share.created_at,
                owner_handle,
                document,
            })
            .collect())
    }
}

/// A page of documents shared with the caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct SharedDocumentPage {
    /// Shared documents on this page, most recently shared first.
    pub items: Vec<SharedDocumentView>,
    /// Shared documents in total.
    pub total: u64,
    /// This page (1-based).
    pub page: u64,
    /// Page size.
    pub per_page: u64,
}

/// `GET /api/shared-with-me` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SharedWithMeQuery {
    /// 1-based page number.
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<u64>,
    /// Items per page, 1–100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u64>,
}

/// Shares your document read-only with another account, named by handle or e-mail.
///
/// The recipient may then read the document's metadata and download it, nothing else.
/// Only confirmed uploads can be shared. Sharing again with the same account is
/// harmless: it answers 200 with the existing share. An unknown account is a 404
/// ("No such user"); yourself is a 409 `cannot_share_with_self`; an administrator
/// (who never sees documents) is a 409 `cannot_share_with_admin`. A new share leaves
/// the recipient a notice (`GET /api/notifications`) and, when SMTP is configured, an
/// e-mail with a link to the document.
#[utoipa::path(
    operation_id = "createShare",
    tag = "shares",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Document id")),
    request_body = CreateShareRequest,
    responses(
        (status = 200, description = "Already shared with this account; the existing share", body = ShareView),
        (status = 201, description = "Shared", body = ShareView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrators have no documents (or a password change is pending)", body = ErrorBody),
        (status = 404, description = "No such document, or no such user", body = ErrorBody),
        (status = 409, description = "Recipient is yourself (`cannot_share_with_self`) or an administrator (`cannot_share_with_admin`), or the document is in the trash (`document_trashed`)", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid values", body = ErrorBody),
    )
)]
#[post("")]
pub async fn create_share(
    user: RegularUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<DocumentId>,
    body: ApiJson<CreateShareRequest>,
) -> Result<HttpResponse, ApiError> {
    check_recipient(&body.recipient)?;
    let txn = crate::db::begin_write(&state.db).await?;
    let (row, created) = service::share(&txn, user.id(), id.into_inner(), &body.recipient).await?;
    txn.commit().await?;
    if created == Created::New {
        let base_url = crate::security::client_ip::public_base_url(
            &req,
            &state.settings.server.public_url,
            &state.settings.auth.trusted_proxies,
        );
        let (db, mailer, share_id) = (state.db.clone(), state.mailer.clone(), row.share.id);
        tokio::spawn(async move {
            crate::notifications::service::mail_share_notice(&db, &mailer, &base_url, share_id)
                .await;
        });
    }
    let view = ShareView::from(row);
    Ok(match created {
        Created::New => HttpResponse::Created().json(view),
        Created::Existing => HttpResponse::Ok().json(view),
    })
}

/// Everyone your document is shared with.
#[utoipa::path(
    operation_id = "listShares",
    tag = "shares",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Document id")),
    responses(
        (status = 200, description = "The document's shares, oldest first", body = ShareList),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrators have no documents (or a password change is pending)", body = ErrorBody),
        (status = 404, description = "No such document", body = ErrorBody),
    )
)]
#[get("")]
pub async fn list_shares(
    user: RegularUser,
    state: web::Data<AppState>,
    id: web::Path<DocumentId>,
) -> Result<web::Json<ShareList>, ApiError> {
    let rows = service::list_for_document(&state.db, user.id(), id.into_inner()).await?;
    Ok(web::Json(ShareList {
        items: rows.into_iter().map(ShareView::from).collect(),
    }))
}

/// Revokes a share of your document; the recipient loses access at once.
///
/// Only the document's owner can revoke. Anyone else, the recipient included, gets the
/// same 404 as for a share that does not exist.
#[utoipa::path(
    operation_id = "revokeShare",
    tag = "shares",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Share id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrators have no documents (or a password change is pending)", body = ErrorBody),
        (status = 404, description = "No such share", body = ErrorBody),
        (status = 409, description = "The shared document is in the trash (`document_trashed`)", body = ErrorBody),
    )
)]
#[delete("/{id}")]
pub async fn revoke_share(
    user: RegularUser,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    service::revoke(&state.db, user.id(), id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Documents other accounts shared with you, most recently shared first.
#[utoipa::path(
    operation_id = "listSharedWithMe",
    tag = "shares",
    security(("bearer" = [])),
    params(SharedWithMeQuery),
    responses(
        (status = 200, description = "A page of shared documents", body = SharedDocumentPage),
        (status = 400, description = "Bad query parameters", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrators have no documents (or a password change is pending)", body = ErrorBody),
    )
)]
#[get("")]
pub async fn shared_with_me(
    user: RegularUser,
    state: web::Data<AppState>,
    links: ThumbnailLinks,
    query: web::Query<SharedWithMeQuery>,
) -> Result<web::Json<SharedDocumentPage>, ApiError> {
    let (page, per_page) = page_params(query.page, query.per_page)?;
    let (items, total) = service::shared_with(&state.db, user.id(), page, per_page).await?;
    Ok(web::Json(SharedDocumentPage {
        items: SharedDocumentView::many(&state.db, &links, items).await?,
        total,
        page,
        per_page,
    }))
}

/// Registers the share routes (inside the `/api` scope).
/// Registered before the documents feature: `/documents/{id}/shares` lies inside the
/// `/documents` scope's prefix, and the first scope whose prefix matches takes a request.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(
        regular_scope("/documents/{id}/shares")
            .service(create_share)
            .service(list_shares),
    )
    .service(regular_scope("/shares").service(revoke_share))
    .service(regular_scope("/shared-with-me").service(shared_with_me));
}
