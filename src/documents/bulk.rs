//! Bulk edit: one action over a selection of the caller's documents, each document
//! handled by the use case of its single request (`PATCH /api/documents/{id}`,
//! `classify`, `DELETE`, `restore`, `shares`) in its set-based form (the single request
//! is its one-document case), so a selection follows exactly the rules of one document:
//! another account's document is a 404 like a missing one, a trashed one a 409, and one
//! failure does not stop the rest.
//!
//! Also what "select all N matching" needs (the ids of a listing, in its order) and the
//! zip of a selection: the ids are checked and kept in `bulk_downloads` behind a signed
//! link (a grant of `account_export`, under its own purpose string), and the zip is
//! written while it is sent by the export's streaming writer.

use std::collections::HashSet;
use std::sync::Arc;

use actix_web::http::StatusCode;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::account_export::service::{ExportGrant, LinkGrant, ZipNames};
use crate::account_export::zip_stream::{self, ZipEntry};
use crate::documents::search::{self, ListFilter, PageRequest, SortKey, SortOrder};
use crate::documents::service::TopicChange;
use crate::documents::{access, service, trash};
use crate::domain::{DocumentId, FolderId, ObjectKey, TopicId, UserId};
use crate::entities::{SearchLanguage, bulk_downloads};
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
use crate::storage::ObjectStore;

/// Most documents one bulk request (or one zip) takes, and most ids `GET
/// /api/documents/ids` returns.
pub const MAX_IDS: usize = 1000;

/// What to do to every document of a selection, its parameters parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkAction {
    /// Move to this folder (`None`: the root).
    Move(Option<FolderId>),
    /// File under these topics too (by hand).
    AddTopics(Vec<TopicId>),
    /// Take these topics off.
    RemoveTopics(Vec<TopicId>),
    /// Run extraction and classification again.
    Reclassify,
    /// Move to the trash.
    Trash,
    /// Bring back from the trash (what "Undo" of a bulk trash does).
    Restore,
    /// Share read-only with the account of this handle or e-mail.
    Share(String),
}

/// How one document of a selection fared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The document.
    pub id: Uuid,
    /// The HTTP status its single request would have answered.
    pub status: StatusCode,
    /// The error code and message, for a failure.
    pub error: Option<(ErrorCode, String)>,
}

impl Outcome {
    fn done(id: DocumentId, status: StatusCode) -> Self {
        Self {
            id: id.into(),
            status,
            error: None,
        }
    }

    fn failed(id: DocumentId, status: StatusCode, code: ErrorCode, message: String) -> Self {
        Self {
            id: id.into(),
            status,
            error: Some((code, message)),
        }
    }

    fn of_error(id: DocumentId, e: &ApiError) -> Self {
        use actix_web::ResponseError;
        if let ApiError::Internal(cause) = e {
            tracing::error!(error = ?cause, document = %Uuid::from(id), "bulk: internal error");
        }
        Self::failed(id, e.status_code(), e.code(), e.message())
    }

    /// Whether the document's request succeeded.
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }
}

/// The ids of a request: 1 to [`MAX_IDS`] (422 `validation_failed` when none, 422
/// `too_many_ids` past the limit), repeats dropped (the first one keeps its place).
pub fn selection(ids: &[Uuid]) -> Result<Vec<DocumentId>, ApiError> {
    if ids.is_empty() {
        return Err(ApiError::Unprocessable {
            code: ErrorCode::ValidationFailed,
            message: "ids must name at least one document".into(),
        });
    }
    if ids.len() > MAX_IDS {
        return Err(ApiError::Unprocessable {
            code: ErrorCode::TooManyIds,
            message: format!("At most {MAX_IDS} documents at once ({} given)", ids.len()),
        });
    }
    let mut seen = HashSet::with_capacity(ids.len());
    Ok(ids
        .iter()
        .filter(|id| seen.insert(**id))
        .map(|id| DocumentId::from(*id))
        .collect())
}

/// Does `action` to every document of `ids`, each as its single request would, and
/// returns one outcome per id, in order. `move`, the topic changes, re-classify, trash
/// and restore are set-based (one query reads the selection, a few statements change
/// it, in one transaction: the single requests are their one-document case); `share`
/// goes one document at a time. A database failure fails the whole request (nothing of
/// a set-based action is changed then).
#[tracing::instrument(skip_all, fields(documents = ids.len()))]
pub async fn run(
    state: &AppState,
    user: UserId,
    ip: Option<&str>,
    ids: &[DocumentId],
    action: &BulkAction,
) -> Result<Vec<Outcome>, ApiError> {
    let done = |status: StatusCode| {
        move |(id, result): (&DocumentId, Result<(), ApiError>)| match result {
            Ok(()) => Outcome::done(*id, status),
            Err(e) => Outcome::of_error(*id, &e),
        }
    };
    let outcomes = match action {
        BulkAction::Move(folder) => service::move_many(&state.db, user, ids, *folder)
            .await?
            .into_iter(),
        BulkAction::AddTopics(topics) => {
            service::change_topics_many(&state.db, user, ids, topics, TopicChange::Add)
                .await?
                .into_iter()
        }
        BulkAction::RemoveTopics(topics) => {
            service::change_topics_many(&state.db, user, ids, topics, TopicChange::Remove)
                .await?
                .into_iter()
        }
        BulkAction::Reclassify => {
            let outcomes = service::reclassify_many(state, user, ids).await?;
            return Ok(ids
                .iter()
                .zip(outcomes)
                .map(done(StatusCode::ACCEPTED))
                .collect());
        }
        BulkAction::Trash => {
            let outcomes = trash::trash_many(state, user, ids, ip).await?;
            return Ok(ids
                .iter()
                .zip(outcomes)
                .map(done(StatusCode::NO_CONTENT))
                .collect());
        }
        BulkAction::Restore => {
            let outcomes = trash::restore_many(state, user, ids, ip).await?;
            return Ok(ids
                .iter()
                .zip(outcomes)
                .map(|(&id, result)| match result {
                    Ok(()) => Outcome::done(id, StatusCode::OK),
                    Err(service::UploadError::Api(e)) => Outcome::of_error(id, &e),
                    Err(service::UploadError::QuotaExceeded(_)) => Outcome::failed(
                        id,
                        StatusCode::PAYLOAD_TOO_LARGE,
                        ErrorCode::QuotaExceeded,
                        "Not enough space to restore it: the account uses more than its quota"
                            .into(),
                    ),
                })
                .collect());
        }
        BulkAction::Share(recipient) => {
            let mut outcomes = Vec::with_capacity(ids.len());
            for &id in ids {
                outcomes.push(
                    match crate::shares::service::share(&state.db, user, id, recipient).await {
                        Ok((_, crate::shares::service::Created::New)) => {
                            Outcome::done(id, StatusCode::CREATED)
                        }
                        Ok((_, crate::shares::service::Created::Existing)) => {
                            Outcome::done(id, StatusCode::OK)
                        }
                        Err(e) => Outcome::of_error(id, &e),
                    },
                );
            }
            return Ok(outcomes);
        }
    };
    Ok(ids.iter().zip(outcomes).map(done(StatusCode::OK)).collect())
}

/// "Select all N matching": the ids of the caller's documents a listing with `filter`
/// and `sort` shows, in its order, at most [`MAX_IDS`], with the listing's total (counted
/// as `count` says).
pub async fn matching_ids(
    db: &sea_orm::DatabaseConnection,
    user: UserId,
    language: SearchLanguage,
    filter: &ListFilter,
    sort: Option<(SortKey, SortOrder)>,
    max_hits: u64,
    count: search::CountMode,
) -> Result<(Vec<Uuid>, search::Total), ApiError> {
    let (items, total) = search::list(
        db,
        user,
        language,
        filter,
        PageRequest {
            page: 1,
            per_page: MAX_IDS as u64,
            sort,
            max_hits,
            count,
        },
    )
    .await?;
    Ok((items.into_iter().map(|l| l.doc.id).collect(), total))
}

/// What a zip download link grants: its account, session and lifetime, and the
/// selection (a `bulk_downloads` row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelectionGrant {
    /// Account, session (or API token), issue time and expiry.
    #[serde(flatten)]
    pub link: ExportGrant,
    /// The `bulk_downloads` row holding the ids.
    pub selection: Uuid,
}

impl LinkGrant for SelectionGrant {
    const PURPOSE: &'static str = "bulk-download-url:";
    fn link(&self) -> &ExportGrant {
        &self.link
    }
}

/// Checks that the caller may read every document of `ids` (their own, or shared with
/// them: the rule of a single download, 404 for the first one they may not) and keeps
/// the selection until `link` expires. Returns the grant to sign. The account's expired
/// selections are pruned on the way.
pub async fn keep_selection(
    db: &sea_orm::DatabaseConnection,
    user: UserId,
    ids: &[DocumentId],
    link: ExportGrant,
) -> Result<SelectionGrant, ApiError> {
    for &id in ids {
        access::readable(db, user, id).await?;
    }
    let now = crate::time::now();
    bulk_downloads::Entity::delete_many()
        .filter(bulk_downloads::Column::UserId.eq(user))
        .filter(bulk_downloads::Column::ExpiresAt.lt(now))
        .exec(db)
        .await?;
    let ids: Vec<Uuid> = ids.iter().map(|&id| id.into()).collect();
    let row = bulk_downloads::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(user.into()),
        document_ids: Set(serde_json::to_string(&ids).map_err(anyhow::Error::from)?),
        created_at: Set(now),
        expires_at: Set(link.expires_at()),
    }
    .insert(db)
    .await?;
    Ok(SelectionGrant {
        link,
        selection: row.id,
    })
}

/// The zip of a kept selection: every document the account may still read (one trashed
/// or unshared since is left out), named by file name (clashes numbered), in the order
/// asked for. `None`: the selection is gone.
pub async fn selection_entries(
    db: &impl ConnectionTrait,
    grant: &SelectionGrant,
) -> Result<Option<Vec<ZipEntry>>, ApiError> {
    let Some(row) = bulk_downloads::Entity::find_by_id(grant.selection)
        .filter(bulk_downloads::Column::UserId.eq(grant.link.user_id))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let ids: Vec<Uuid> = serde_json::from_str(&row.document_ids).map_err(anyhow::Error::from)?;
    let user = UserId::from(grant.link.user_id);
    let mut names = ZipNames::default();
    let mut entries = Vec::with_capacity(ids.len());
    for id in ids {
        let doc = match access::readable(db, user, id.into()).await {
            Ok(doc) => doc,
            Err(ApiError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        entries.push(ZipEntry {
            path: names.claim(None, &doc.filename),
            object_key: ObjectKey::parse(&doc.object_key)
                .map_err(|e| ApiError::Internal(e.into()))?,
            content_type: doc.content_type,
            size_bytes: u64::try_from(doc.size_bytes).unwrap_or_default(),
            modified: doc.created_at,
        });
    }
    Ok(Some(entries))
}

/// `docuvault-documents-<YYYY-MM-DD>.zip`.
pub fn archive_name(at: DateTime<Utc>) -> String {
    format!("docuvault-documents-{}.zip", at.format("%Y-%m-%d"))
}

/// The zip of `entries`, written while it is sent.
pub fn stream(
    storage: Arc<dyn ObjectStore>,
    entries: Vec<ZipEntry>,
) -> impl futures_util::Stream<Item = Result<actix_web::web::Bytes, std::io::Error>> + 'static {
    zip_stream::stream(storage, entries, None)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn a_selection_has_one_to_a_thousand_ids_without_repeats() {
        assert!(matches!(
            selection(&[]),
            Err(ApiError::Unprocessable {
                code: ErrorCode::ValidationFailed,
                ..
            })
        ));
        let many: Vec<Uuid> = (0..=MAX_IDS).map(|_| Uuid::new_v4()).collect();
        assert!(matches!(
            selection(&many),
            Err(ApiError::Unprocessable {
                code: ErrorCode::TooManyIds,
                ..
            })
        ));
        assert_eq!(selection(&many[..MAX_IDS]).unwrap().len(), MAX_IDS);
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let picked: Vec<Uuid> = selection(&[a, b, a])
            .unwrap()
            .into_iter()
            .map(Uuid::from)
            .collect();
        assert_eq!(picked, [a, b]);
    }

    #[test]
    fn selection_grants_are_not_export_grants() {
        let keys = crate::crypto::Keys::derive("k");
        let link = ExportGrant {
            user_id: Uuid::new_v4(),
            session_id: Uuid::new_v4(),
            issued_us: 1,
            expires: 2_000,
            api_token: false,
        };
        let grant = SelectionGrant {
            link: link.clone(),
            selection: Uuid::new_v4(),
        };
        let token = crate::account_export::service::sign_grant(&keys, &grant);
        assert_eq!(
            crate::account_export::service::verify_grant::<SelectionGrant>(&keys, &token, 1),
            Some(grant)
        );
        assert_eq!(
            crate::account_export::service::verify_grant::<ExportGrant>(&keys, &token, 1),
            None
        );
        let export = crate::account_export::service::sign_grant(&keys, &link);
        assert_eq!(
            crate::account_export::service::verify_grant::<SelectionGrant>(&keys, &export, 1),
            None
        );
    }
}
