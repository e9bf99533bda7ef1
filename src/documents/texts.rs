//! A document's extracted text (`document_texts`): written when it is extracted,
//! cleared when a new version is made current, read where it is shown or learned from.
//! The search indexes follow it by triggers (`migration/…_000025_document_texts`).

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::entities::document_texts;

/// The text of document `id` and its page provenance, if it has text.
pub async fn get(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<document_texts::Model>, DbErr> {
    document_texts::Entity::find_by_id(id).one(db).await
}

/// Stores the text of document `id` (replacing any earlier one).
pub async fn store(
    db: &impl ConnectionTrait,
    id: Uuid,
    body: String,
    pages: Option<serde_json::Value>,
) -> Result<(), DbErr> {
    document_texts::Entity::insert(document_texts::ActiveModel {
        document_id: sea_orm::Set(id),
        body: sea_orm::Set(body),
        pages: sea_orm::Set(pages),
    })
    .on_conflict(
        OnConflict::column(document_texts::Column::DocumentId)
            .update_columns([document_texts::Column::Body, document_texts::Column::Pages])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Removes the text of document `id` (its bytes changed: the pipeline reads them again).
pub async fn clear(db: &impl ConnectionTrait, id: Uuid) -> Result<(), DbErr> {
    document_texts::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}

/// The first `chars` characters of the text of each of `ids` that has text.
pub async fn prefixes(
    db: &impl ConnectionTrait,
    ids: Vec<Uuid>,
    chars: usize,
) -> Result<HashMap<Uuid, String>, DbErr> {
    let rows: Vec<(Uuid, String)> = document_texts::Entity::find()
        .select_only()
        .column(document_texts::Column::DocumentId)
        .column_as(
            Expr::cust(format!("SUBSTR(document_texts.body, 1, {})", chars.max(1))),
            "body",
        )
        .filter(document_texts::Column::DocumentId.is_in(ids))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().collect())
}
