//! The one place that decides whether a caller may see a document. A document that
//! is not yours is indistinguishable from one that does not exist: both are 404.

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

/// A confirmed document the caller owns or that was shared with them, or 404.
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
