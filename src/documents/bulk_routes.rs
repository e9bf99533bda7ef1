//! `/api/documents/bulk*` and `/api/documents/ids`: one action over a selection of
//! documents with a result per document, the ids behind "select all N matching", and the
//! zip of a selection (a signed link, as the export's, so a browser downloads it without
//! the bearer header and without holding it in memory).

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::account_export::routes::zip_attachment;
use crate::account_export::service::{grant_for, redeem, sign_grant};
use crate::auth::extract::{RegularUser, regular_scope};
use crate::documents::bulk::{self, BulkAction, SelectionGrant};
use crate::documents::routes::{ListQuery, absolute_url};
use crate::domain::{FolderId, TopicId};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::http::ApiJson;
use crate::state::AppState;

/// What a bulk request does to each document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BulkActionName {
    /// Move to `folder_id` (null: the root), as `PATCH {folder_id}`.
    Move,
    /// File under `topic_ids` too, by hand: `PATCH {topics}` with the document's topics
    /// and these.
    AddTopics,
    /// Take `topic_ids` off: `PATCH {topics}` with the document's topics but these.
    RemoveTopics,
    /// Extract and classify again, as `classifyDocument`.
    Reclassify,
    /// Move to the trash, as `deleteDocument`.
    Trash,
    /// Bring back from the trash, as `restoreDocument` (the undo of `trash`).
    Restore,
    /// Share with `recipient`, as `createShare`.
    Share,
}

/// `POST /api/documents/bulk` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    /// The documents, 1 to 1 000 (repeats count once).
    #[schema(min_items = 1, max_items = 1000)]
    pub ids: Vec<Uuid>,
    /// What to do to each.
    pub action: BulkActionName,
    /// `move` only, and required by it: the folder (one of yours); null = the root.
    #[serde(default, deserialize_with = "crate::serde_util::double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub folder_id: Option<Option<Uuid>>,
    /// `add_topics` and `remove_topics` only, and required by them: 1 to 50 topic ids
    /// (your own or system topics).
    #[serde(default)]
    #[schema(min_items = 1, max_items = 50)]
    pub topic_ids: Option<Vec<Uuid>>,
    /// `share` only, and required by it: handle or e-mail of the account to share with.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 254)]
    pub recipient: Option<String>,
}

/// Most topics one `add_topics` / `remove_topics` names (as a document's topic set).
const MAX_TOPICS: usize = 50;

fn invalid(message: &str) -> ApiError {
    ApiError::Unprocessable {
        code: ErrorCode::ValidationFailed,
        message: message.into(),
    }
}

impl BulkRequest {
    /// The action with its parameters: 422 when the action's parameter is missing or
    /// invalid, or another action's is given.
    fn action(&self) -> Result<BulkAction, ApiError> {
        let (folder, topics, recipient) = (
            self.folder_id.is_some(),
            self.topic_ids.is_some(),
            self.recipient.is_some(),
        );
        let only = |wanted: (bool, bool, bool), name: &str| {
            if (folder, topics, recipient) == wanted {
                Ok(())
            } else {
                Err(invalid(&format!(
                    "action {name} takes {}",
                    match wanted {
                        (true, _, _) => "folder_id (null for the root) and nothing else",
                        (_, true, _) => "topic_ids and nothing else",
                        (_, _, true) => "recipient and nothing else",
                        _ => "no parameter",
                    }
                )))
            }
        };
        let topic_ids = |name: &str| -> Result<Vec<TopicId>, ApiError> {
            only((false, true, false), name)?;
            let ids = self.topic_ids.as_deref().unwrap_or_default();
            if ids.is_empty() || ids.len() > MAX_TOPICS {
                return Err(invalid(&format!(
                    "topic_ids must name 1–{MAX_TOPICS} topics"
                )));
            }
            Ok(ids.iter().copied().map(TopicId::from).collect())
        };
        Ok(match self.action {
            BulkActionName::Move => {
                only((true, false, false), "move")?;
                BulkAction::Move(self.folder_id.flatten().map(FolderId::from))
            }
            BulkActionName::AddTopics => BulkAction::AddTopics(topic_ids("add_topics")?),
            BulkActionName::RemoveTopics => BulkAction::RemoveTopics(topic_ids("remove_topics")?),
            BulkActionName::Reclassify => {
                only((false, false, false), "reclassify")?;
                BulkAction::Reclassify
            }
            BulkActionName::Trash => {
                only((false, false, false), "trash")?;
                BulkAction::Trash
            }
            BulkActionName::Restore => {
                only((false, false, false), "restore")?;
                BulkAction::Restore
            }
            BulkActionName::Share => {
                only((false, false, true), "share")?;
                let recipient = self.recipient.clone().unwrap_or_default();
                crate::shares::routes::check_recipient(&recipient)?;
                BulkAction::Share(recipient)
            }
        })
    }
}

/// How one document of a bulk request fared.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkItemResult {
    /// The document.
    pub id: Uuid,
    /// Whether its action succeeded.
    pub ok: bool,
    /// The status its single request would have answered: 200 (moved, topics changed,
    /// restored, already shared), 201 (shared), 202 (queued), 204 (trashed); on failure
    /// the error's, e.g. 404 for a document that is not yours or does not exist, 409 for
    /// one in the trash.
    #[schema(example = 200)]
    pub status: u16,
    /// On failure, the error code its single request would have answered; else null.
    #[schema(required = true)]
    pub code: Option<ErrorCode>,
    /// On failure, the error message; else null.
    #[schema(required = true)]
    pub message: Option<String>,
}

/// `POST /api/documents/bulk` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResponse {
    /// One result per document, in the order asked for (repeats once).
    pub results: Vec<BulkItemResult>,
    /// How many succeeded.
    pub succeeded: u64,
    /// How many failed.
    pub failed: u64,
}

/// Does one action to up to 1 000 of your documents, each exactly as its single request
/// would (`updateDocument` for `move`, `add_topics` and `remove_topics`,
/// `classifyDocument`, `deleteDocument`, `restoreDocument`, `createShare`), and answers
/// how each fared. One failure does not stop the rest; a document that is not yours is
/// reported 404 exactly like one that does not exist, one in the trash 409
/// `document_trashed` (except for `trash` and `restore`).
#[utoipa::path(
    operation_id = "bulkEditDocuments",
    tag = "documents",
    security(("bearer" = [])),
    request_body = BulkRequest,
    responses(
        (status = 200, description = "Done; how each document fared", body = BulkResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrators have no documents", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "No ids, more than 1 000 (`too_many_ids`), an unknown action, or the action's parameter missing or invalid", body = ErrorBody),
    )
)]
#[post("")]
pub async fn bulk_edit(
    user: RegularUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<BulkRequest>,
) -> Result<web::Json<BulkResponse>, ApiError> {
    let ids = bulk::selection(&body.ids)?;
    let action = body.action()?;
    let ip = Some(user.0.client.ip.as_str());
    let outcomes = bulk::run(&state, user.id(), ip, &ids, &action).await?;
    if let BulkAction::Share(recipient) = &action {
        // One e-mail about every new share, not one per document.
        let created: Vec<Uuid> = outcomes
            .iter()
            .filter(|o| o.status == actix_web::http::StatusCode::CREATED)
            .map(|o| o.id)
            .collect();
        if !created.is_empty() {
            let base_url = crate::security::client_ip::public_base_url(
                &req,
                &state.settings.server.public_url,
                &state.settings.auth.trusted_proxies,
            );
            let (db, mailer) = (state.db.clone(), state.mailer.clone());
            let (owner, recipient) = (Uuid::from(user.id()), recipient.clone());
            tokio::spawn(async move {
                match crate::shares::service::recipient_id(&db, &recipient).await {
                    Ok(Some(to)) => {
                        crate::notifications::service::mail_shares_digest(
                            &db, &mailer, &base_url, owner, to, created,
                        )
                        .await;
                    }
                    Ok(None) => {}
                    Err(error) => tracing::warn!(%error, "could not find a share's recipient"),
                }
            });
        }
    }
    let succeeded = outcomes.iter().filter(|o| o.ok()).count() as u64;
    let failed = outcomes.len() as u64 - succeeded;
    Ok(web::Json(BulkResponse {
        results: outcomes
            .into_iter()
            .map(|o| {
                let (code, message) = o.error.clone().unzip();
                BulkItemResult {
                    ok: o.ok(),
                    id: o.id,
                    status: o.status.as_u16(),
                    code,
                    message,
                }
            })
            .collect(),
        succeeded,
        failed,
    }))
}

/// `GET /api/documents/ids` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentIds {
    /// The matching documents' ids in list order, at most 1 000.
    pub ids: Vec<Uuid>,
    /// How many documents match (as `listDocuments` reports it).
    pub total: u64,
    /// Whether more documents match than `ids` holds.
    pub truncated: bool,
}

/// The ids of every document `listDocuments` would list with the same parameters (in
/// its order; `page` and `per_page` are ignored), at most 1 000: what "select all N
/// matching" selects.
#[utoipa::path(
    operation_id = "listDocumentIds",
    tag = "documents",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "The matching ids", body = DocumentIds),
        (status = 400, description = "Bad query parameters (as for `listDocuments`)", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrators have no documents", body = ErrorBody),
    )
)]
#[get("")]
pub async fn list_ids(
    user: RegularUser,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<web::Json<DocumentIds>, ApiError> {
    let filter = query.filter()?;
    let sort = query.sort(filter.q.is_some());
    let (ids, total) = bulk::matching_ids(
        &state.db,
        user.id(),
        user.0.user.search_language,
        &filter,
        sort,
        state.settings.documents.search_max_hits,
        query.count.unwrap_or_default(),
    )
    .await?;
    Ok(web::Json(DocumentIds {
        truncated: !total.exact || total.count > ids.len() as u64,
        ids,
        total: total.count,
    }))
}

/// `POST /api/documents/bulk/download-url` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkDownloadRequest {
    /// The documents (yours, or shared with you), 1 to 1 000 (repeats count once).
    #[schema(min_items = 1, max_items = 1000)]
    pub ids: Vec<Uuid>,
}

/// `POST /api/documents/bulk/download-url` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkDownloadUrl {
    /// Absolute URL answering `GET` with the zip; no header needed (open it in the
    /// browser).
    pub url: String,
    /// When it stops working (`documents.download_url_ttl_secs` from now).
    pub expires_at: DateTime<Utc>,
}

/// A short-lived link that downloads the originals of the given documents as one zip
/// (`downloadDocumentsZip`). Every id must be a document you may download (yours, or
/// shared with you): the first that is not is a 404, exactly like a missing one. The
/// link stops working when it expires or this session is signed out.
#[utoipa::path(
    operation_id = "createDocumentsZipUrl",
    tag = "documents",
    security(("bearer" = [])),
    request_body = BulkDownloadRequest,
    responses(
        (status = 200, description = "Download link", body = BulkDownloadUrl),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrators have no documents", body = ErrorBody),
        (status = 404, description = "A document you may not download, or that does not exist", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "No ids, or more than 1 000 (`too_many_ids`)", body = ErrorBody),
    )
)]
#[post("/download-url")]
pub async fn create_zip_url(
    user: RegularUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<BulkDownloadRequest>,
) -> Result<web::Json<BulkDownloadUrl>, ApiError> {
    let ids = bulk::selection(&body.ids)?;
    let link = grant_for(&user.0, state.settings.documents.download_url_ttl_secs);
    let expires_at = link.expires_at();
    let grant = bulk::keep_selection(&state.db, user.id(), &ids, link).await?;
    let token = sign_grant(&state.keys, &grant);
    Ok(web::Json(BulkDownloadUrl {
        url: absolute_url(
            &req,
            &state,
            format!("/api/documents/bulk/download/{token}"),
        ),
        expires_at,
    }))
}

/// The zip (`application/zip`), described for the OpenAPI document.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct DocumentsZip(pub Vec<u8>);

fn link_denied() -> ApiError {
    ApiError::Forbidden {
        code: ErrorCode::SignatureInvalid,
        message: "The download link is invalid or has expired".into(),
    }
}

/// The zip behind a link from `createDocumentsZipUrl`, streamed while it is written:
/// the current original of each document, named by its file name (names that clash,
/// ignoring case, are numbered `name (2).pdf`), in the order asked for. A document
/// trashed, deleted or unshared since the link was made is left out.
#[utoipa::path(
    operation_id = "downloadDocumentsZip",
    tag = "documents",
    security(),
    params(("token" = String, Path, description = "The signed token of the link")),
    responses(
        (status = 200, description = "The zip, named `docuvault-documents-<YYYY-MM-DD>.zip` (`Content-Disposition: attachment`)", content_type = "application/zip", body = DocumentsZip),
        (status = 403, description = "The link is invalid or expired, or its session was signed out (`signature_invalid`)", body = ErrorBody),
        (status = 404, description = "Not a download link (a token is one path segment)", body = ErrorBody),
    )
)]
#[get("/{token}")]
pub async fn download_zip(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (grant, _) = redeem::<SelectionGrant>(&state.db, &state.keys, &token)
        .await?
        .ok_or_else(link_denied)?;
    let entries = bulk::selection_entries(&state.db, &grant)
        .await?
        .ok_or_else(link_denied)?;
    Ok(zip_attachment(
        &bulk::archive_name(crate::time::now()),
        bulk::stream(state.storage.clone(), entries),
    ))
}

/// Registers the bulk routes (inside the `/api` scope). Before the documents scope,
/// whose prefix they lie in: the zip link takes no bearer, and `ids` would be taken for
/// a document id.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    // Its own scope (before `/documents/bulk`, whose prefix it lies in): no bearer, and
    // an unknown method gets 405 with `Allow` rather than the bulk scope's 401.
    cfg.service(
        utoipa_actix_web::scope::scope("/documents/bulk/download")
            .default_service(web::to(crate::http::api_fallback))
            .service(download_zip),
    )
    .service(
        regular_scope("/documents/bulk")
            .service(bulk_edit)
            .service(create_zip_url),
    )
    .service(regular_scope("/documents/ids").service(list_ids));
}
