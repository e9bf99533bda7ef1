//! A document's own date on its row: derived from its text and file name each time
//! processing reads it ([`crate::extract::dates`]), unless the owner set it (source
//! `user`, `PATCH /api/documents/{id}`), which processing never replaces.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use crate::documents::lifecycle::claim_held;
use crate::entities::{DocumentDateSource, documents};
use crate::extract::dates::{self, DateOrder, FoundIn};

/// The date and source [`dates::derive`] finds for `text` and `filename` (both null
/// when it finds none).
pub fn derived(
    text: &str,
    filename: &str,
    order: DateOrder,
) -> (Option<chrono::NaiveDate>, Option<DocumentDateSource>) {
    let today = crate::time::now().date_naive();
    match dates::derive(text, filename, today, order) {
        Some(found) => (
            Some(found.date),
            Some(match found.found_in {
                FoundIn::Content => DocumentDateSource::Content,
                FoundIn::FileName => DocumentDateSource::Filename,
            }),
        ),
        None => (None, None),
    }
}

/// Writes the date derived from `text` and the document's name to the claimed `doc`,
/// unless its owner set (or cleared) the date: then nothing changes. A date found before
/// and not now is cleared. Nothing is written once the claim is lost.
pub async fn record_derived(
    db: &impl ConnectionTrait,
    doc: &documents::Model,
    text: &str,
    order: DateOrder,
) -> Result<(), DbErr> {
    let (date, source) = derived(text, &doc.filename, order);
    documents::Entity::update_many()
        .col_expr(documents::Column::DocumentDate, Expr::value(date))
        .col_expr(
            documents::Column::DocumentDateSource,
            Expr::value(source.map(DocumentDateSource::as_str)),
        )
        .filter(claim_held(doc))
        .filter(
            Condition::any()
                .add(documents::Column::DocumentDateSource.is_null())
                .add(documents::Column::DocumentDateSource.ne(DocumentDateSource::User)),
        )
        .exec(db)
        .await?;
    Ok(())
}
