//! The one place that decides whether a caller may see a document. A document that
//! is not yours is indistinguishable from one that does not exist: both are 404.
//! A trashed document is its owner's alone: readable by them, changeable by nobody
//! (409 `document_trashed` until restored), and invisible (404) to share recipients.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::domain::{DocumentId, UserId};
use crate::entities::{DocumentStatus, documents, shares};
use crate::error::ApiError;

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
    if doc.trashed_at.is_some() {
        return Err(trashed());
    }
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
