//! A document's extracted text (`document_texts`): written when it is extracted,
//! cleared when a new version is made current, read where it is shown or learned from;
//! and its stems (`document_stems`), written with it in the owner's search language.
//! The search indexes follow both by triggers (`migration/…_000025_document_texts`,
//! `…_000026_search_languages`).

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::documents::search::stemming::{STEMMED_TEXT_CHARS, stems_of_text};
use crate::entities::{SearchLanguage, document_stems, document_texts, documents, users};

/// The text of document `id` and its page provenance, if it has text.
pub async fn get(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<document_texts::Model>, DbErr> {
    document_texts::Entity::find_by_id(id).one(db).await
}

/// Stores the text of document `id` (replacing any earlier one) and its stems in the
/// owner's search language.
pub async fn store(
    db: &impl ConnectionTrait,
    id: Uuid,
    body: String,
    pages: Option<serde_json::Value>,
) -> Result<(), DbErr> {
    let language = owner_language(db, id).await?;
    let stems = stems_off_thread(language, bounded(&body)).await;
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
    write_stems(db, id, language, stems).await
}

/// The first [`STEMMED_TEXT_CHARS`] characters of `body`.
pub fn bounded(body: &str) -> String {
    match body.char_indices().nth(STEMMED_TEXT_CHARS) {
        Some((end, _)) => body[..end].to_owned(),
        None => body.to_owned(),
    }
}

/// The stems of `text` in `language`, computed on a blocking thread (a long text takes
/// milliseconds); `None` for `simple`.
pub async fn stems_off_thread(language: SearchLanguage, text: String) -> Option<String> {
    if language == SearchLanguage::Simple {
        return None;
    }
    tokio::task::spawn_blocking(move || stems_of_text(language, &text))
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "stemming a text failed");
            None
        })
}

/// The search language of the owner of document `id` (`simple` if it has none).
async fn owner_language(db: &impl ConnectionTrait, id: Uuid) -> Result<SearchLanguage, DbErr> {
    let language: Option<SearchLanguage> = documents::Entity::find_by_id(id)
        .select_only()
        .column(users::Column::SearchLanguage)
        .inner_join(users::Entity)
        .into_tuple()
        .one(db)
        .await?;
    Ok(language.unwrap_or_default())
}

/// Writes the stems of document `id` made in `language`, or removes them (`None`: the
/// document has no stems, as for `simple`).
pub async fn write_stems(
    db: &impl ConnectionTrait,
    id: Uuid,
    language: SearchLanguage,
    stems: Option<String>,
) -> Result<(), DbErr> {
    let Some(stems) = stems else {
        document_stems::Entity::delete_by_id(id).exec(db).await?;
        return Ok(());
    };
    document_stems::Entity::insert(document_stems::ActiveModel {
        document_id: sea_orm::Set(id),
        language: sea_orm::Set(language),
        stems: sea_orm::Set(stems),
    })
    .on_conflict(
        OnConflict::column(document_stems::Column::DocumentId)
            .update_columns([
                document_stems::Column::Language,
                document_stems::Column::Stems,
            ])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Removes the text of document `id` and its stems (its bytes changed: the pipeline
/// reads them again).
pub async fn clear(db: &impl ConnectionTrait, id: Uuid) -> Result<(), DbErr> {
    document_stems::Entity::delete_by_id(id).exec(db).await?;
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
