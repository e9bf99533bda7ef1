//! Saved view use cases: list, create, change and delete the caller's views. Every query
//! is owner-scoped: another account's view is a 404, exactly like a missing one.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set,
};
use uuid::Uuid;

use crate::domain::UserId;
use crate::entities::saved_views;
use crate::error::{ApiError, ErrorCode};

/// Longest view name, in characters.
pub const NAME_MAX_CHARS: usize = 80;

/// A view name: trimmed, 1–[`NAME_MAX_CHARS`] characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewName(String);

impl ViewName {
    /// Reads a name; 422 `validation_failed` when it is not one.
    pub fn parse(input: &str) -> Result<Self, ApiError> {
        let name = input.trim();
        let chars = name.chars().count();
        if chars == 0 || chars > NAME_MAX_CHARS || name.chars().any(char::is_control) {
            return Err(ApiError::Unprocessable {
                code: ErrorCode::ValidationFailed,
                message: format!(
                    "name must be 1–{NAME_MAX_CHARS} characters without control characters"
                ),
            });
        }
        Ok(Self(name.to_owned()))
    }

    /// The key names clash by: the rule of topic names (case, spaces).
    fn clash_key(&self) -> String {
        crate::topics::service::clash_key(&self.0)
    }
}

/// What a change of a view sets; `None` = unchanged.
#[derive(Debug, Clone, Default)]
pub struct ViewChanges {
    /// New name.
    pub name: Option<ViewName>,
    /// New query (already checked).
    pub query: Option<serde_json::Map<String, serde_json::Value>>,
}

fn name_taken(e: &DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

fn taken() -> ApiError {
    ApiError::Conflict {
        code: ErrorCode::ViewNameTaken,
        message: "You already have a view with this name".into(),
    }
}

/// The caller's views, by name (ignoring case).
#[tracing::instrument(skip_all)]
pub async fn list(
    db: &impl ConnectionTrait,
    user: UserId,
) -> Result<Vec<saved_views::Model>, ApiError> {
    Ok(saved_views::Entity::find()
        .filter(saved_views::Column::UserId.eq(user))
        .order_by_asc(saved_views::Column::NameKey)
        .order_by_asc(saved_views::Column::Id)
        .all(db)
        .await?)
}

/// Saves a view; 409 `view_name_taken` when the caller has one of that name.
#[tracing::instrument(skip_all)]
pub async fn create(
    db: &impl ConnectionTrait,
    user: UserId,
    name: ViewName,
    query: serde_json::Map<String, serde_json::Value>,
) -> Result<saved_views::Model, ApiError> {
    let now = crate::time::now();
    saved_views::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(user.into()),
        name_key: Set(name.clash_key()),
        name: Set(name.0),
        query: Set(serde_json::Value::Object(query)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .map_err(|e| if name_taken(&e) { taken() } else { e.into() })
}

async fn owned(
    db: &impl ConnectionTrait,
    user: UserId,
    id: Uuid,
) -> Result<saved_views::Model, ApiError> {
    saved_views::Entity::find_by_id(id)
        .filter(saved_views::Column::UserId.eq(user))
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// Renames a view and/or replaces its query.
#[tracing::instrument(skip_all)]
pub async fn update(
    db: &impl ConnectionTrait,
    user: UserId,
    id: Uuid,
    changes: ViewChanges,
) -> Result<saved_views::Model, ApiError> {
    let view = owned(db, user, id).await?;
    let mut active: saved_views::ActiveModel = view.into();
    if let Some(name) = changes.name {
        active.name_key = Set(name.clash_key());
        active.name = Set(name.0);
    }
    if let Some(query) = changes.query {
        active.query = Set(serde_json::Value::Object(query));
    }
    active.updated_at = Set(crate::time::now());
    active
        .update(db)
        .await
        .map_err(|e| if name_taken(&e) { taken() } else { e.into() })
}

/// Deletes one of the caller's views.
#[tracing::instrument(skip_all)]
pub async fn delete(db: &impl ConnectionTrait, user: UserId, id: Uuid) -> Result<(), ApiError> {
    let removed = saved_views::Entity::delete_many()
        .filter(saved_views::Column::Id.eq(id))
        .filter(saved_views::Column::UserId.eq(user))
        .exec(db)
        .await?
        .rows_affected;
    if removed == 0 {
        return Err(ApiError::not_found());
    }
    Ok(())
}
