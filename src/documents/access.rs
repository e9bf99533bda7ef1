//! The one place that decides whether a caller may see a document. A document that
//! is not yours is indistinguishable from one that does not exist: both are 404.
//! A trashed document is its owner's alone: readable by them, changeable by nobody
//! (409 `document_trashed` until restored), and invisible (404) to share recipients.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QuerySelect,
};
use uuid::Uuid;

use crate::domain::{DocumentId, UserId};
use crate::entities::{DocumentStatus, documents, shares};
use crate::error::ApiError;

/// Ids per `IN (…)` list: far below SQLite's and PostgreSQL's bound-parameter limits.
pub const IDS_PER_QUERY: usize = 500;

/// A live document (confirmed, not in the trash) as SQL over an unaliased `documents`:
/// the predicate of the live list indexes, written with literals so that SQLite, which
/// uses a partial index only for a query that repeats its terms, can use them.
pub const LIVE_PREDICATE: &str = "status <> 'pending' AND trashed_at IS NULL";

/// What the rules of a change need to know of a document (no text, no JSON): the row
/// a set-based change of many documents reads for each.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct Brief {
    /// The document.
    pub id: Uuid,
    /// Its owner.
    pub user_id: Uuid,
    /// Its status.
    pub status: DocumentStatus,
    /// Its folder.
    pub folder_id: Option<Uuid>,
    /// Its size.
    pub size_bytes: i64,
    /// When it was trashed.
    pub trashed_at: Option<DateTime<Utc>>,
}

impl From<&documents::Model> for Brief {
    fn from(doc: &documents::Model) -> Self {
        Self {
            id: doc.id,
            user_id: doc.user_id,
            status: doc.status,
            folder_id: doc.folder_id,
            size_bytes: doc.size_bytes,
            trashed_at: doc.trashed_at,
        }
    }
}

/// The caller's own documents among `ids`, by id (one query per [`IDS_PER_QUERY`]
/// ids); an id missing from the map is a 404 ([`owned`]'s rule for each).
pub async fn owned_many(
    db: &impl ConnectionTrait,
    user: UserId,
    ids: &[DocumentId],
) -> Result<HashMap<Uuid, Brief>, ApiError> {
    let mut found = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(IDS_PER_QUERY) {
        let rows = documents::Entity::find()
            .select_only()
            .columns([
                documents::Column::Id,
                documents::Column::UserId,
                documents::Column::Status,
                documents::Column::FolderId,
                documents::Column::SizeBytes,
                documents::Column::TrashedAt,
            ])
            .filter(documents::Column::Id.is_in(chunk.iter().map(|&id| Uuid::from(id))))
            .filter(documents::Column::UserId.eq(user))
            .into_model::<Brief>()
            .all(db)
            .await?;
        found.extend(rows.into_iter().map(|b| (b.id, b)));
    }
    Ok(found)
}

/// The rule of [`changeable`] for a document read already: 404 when it is not the
/// caller's (`None`), 409 `document_trashed` when trashed.
pub fn check_changeable(doc: Option<&Brief>) -> Result<&Brief, ApiError> {
    let doc = doc.ok_or_else(ApiError::not_found)?;
    if doc.trashed_at.is_some() {
        return Err(trashed());
    }
    Ok(doc)
}

/// The caller's own document, or 404.
pub async fn owned(
    db: &impl ConnectionTrait,
    user: UserId,
    id: DocumentId,
) -> Result<documents::Model, ApiError> {
    documents::Entity::find_by_id(id)
        .filter(documents::Column::UserId.eq(user))
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// The caller's own document when it is not in the trash: 404 when missing or not
/// theirs, 409 `document_trashed` when trashed (restore it first). For every change of
/// a document but delete and restore.
pub async fn changeable(
    db: &impl ConnectionTrait,
    user: UserId,
    id: DocumentId,
) -> Result<documents::Model, ApiError> {
    let doc = owned(db, user, id).await?;
    check_changeable(Some(&Brief::from(&doc)))?;
    Ok(doc)
}

/// The 409 refusing a change of a trashed document.
pub fn trashed() -> ApiError {
    ApiError::Conflict {
        code: crate::error::ErrorCode::DocumentTrashed,
        message: "The document is in the trash; restore it first".into(),
    }
}

/// A confirmed document the caller owns or that was shared with them (and is not in
/// the trash), or 404.
pub async fn readable(
    db: &impl ConnectionTrait,
    user: UserId,
    id: DocumentId,
) -> Result<documents::Model, ApiError> {
    let doc = documents::Entity::find_by_id(id)
        .filter(documents::Column::Status.ne(DocumentStatus::Pending))
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if UserId::from(doc.user_id) == user {
        return Ok(doc);
    }
    if doc.trashed_at.is_some() {
        return Err(ApiError::not_found());
    }
    let shared = shares::Entity::find()
        .filter(shares::Column::DocumentId.eq(id))
        .filter(shares::Column::RecipientId.eq(user))
        .one(db)
        .await?
        .is_some();
    if shared {
        Ok(doc)
    } else {
        Err(ApiError::not_found())
    }
}
