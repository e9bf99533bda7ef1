//! The plain listing: one page of the caller's documents, filtered and sorted, without
//! a search query.

use sea_orm::{ConnectionTrait, FromQueryResult};

use super::sql::{
    Sql, VIEW_COLUMNS, count, limit_offset, order_terms, push_filters, push_shared_source,
};
use super::{DocumentRow, ListFilter, Listed, PageRequest, SortKey, SortOrder, Total};
use crate::domain::UserId;
use crate::error::ApiError;

/// Every column a list sorts by (`sql::sort_column`), for the sources of a list with
/// shared documents, which the page then orders.
const SORT_COLUMNS: &str =
    "d.id, d.created_at, d.filename, d.size_bytes, d.trashed_at, d.document_date";

/// The total, counting only when the page alone cannot tell it.
async fn total_for(
    db: &impl ConnectionTrait,
    page: PageRequest,
    got: usize,
    count_sql: Sql,
) -> Result<u64, ApiError> {
    let got = u64::try_from(got).unwrap_or(0);
    if (got > 0 && got < page.per_page) || (page.page == 1 && got == 0) {
        // A short (or empty first) page is the last one.
        return Ok((page.page - 1) * page.per_page + got);
    }
    count(db, count_sql).await
}

/// One page of the caller's documents, without a search query.
pub(super) async fn list_plain(
    db: &impl ConnectionTrait,
    user: UserId,
    filter: &ListFilter,
    page: PageRequest,
) -> Result<(Vec<Listed>, Total), ApiError> {
    let backend = db.get_database_backend();
    let (sort, order) = page.sort.unwrap_or((SortKey::CreatedAt, SortOrder::Desc));
    let order_by = order_terms(sort, order);
    // Deferred join: the page's ids come off the (covering) list index, so skipping
    // rows for deep pages never touches the table; only the page's rows are read.
    let mut sql = Sql::new(backend);
    sql.push(&format!(
        "SELECT {VIEW_COLUMNS} FROM documents d JOIN (SELECT d.id FROM "
    ));
    if filter.shared() {
        // Each source yields at most the rows up to this page's end, in the page's order.
        let through = i64::try_from(page.page.saturating_mul(page.per_page)).unwrap_or(i64::MAX);
        sql.push("(");
        push_shared_source(&mut sql, user, filter, SORT_COLUMNS, |sql| {
            sql.push(&format!(" ORDER BY {order_by} LIMIT "))
                .bind(through);
        });
        sql.push(") d");
    } else {
        sql.push("documents d WHERE ");
        push_filters(&mut sql, user, filter);
    }
    sql.push(&format!(" ORDER BY {order_by}"));
    limit_offset(&mut sql, page);
    sql.push(&format!(") p ON p.id = d.id ORDER BY {order_by}"));
    let rows = DocumentRow::find_by_statement(sql.statement())
        .all(db)
        .await?;
    let mut count_sql = Sql::new(backend);
    if let Some(sql) = super::duplicates::only_duplicates_total(backend, user, filter) {
        count_sql = sql;
    } else if filter.shared() {
        count_sql.push("SELECT COUNT(*) AS n FROM (");
        push_shared_source(&mut count_sql, user, filter, "d.id", |_| {});
        count_sql.push(") c");
    } else {
        count_sql.push("SELECT COUNT(*) AS n FROM documents d WHERE ");
        push_filters(&mut count_sql, user, filter);
    }
    let total = total_for(db, page, rows.len(), count_sql).await?;
    let items = rows
        .into_iter()
        .map(|doc| Listed { doc, snippet: None })
        .collect();
    Ok((items, Total::exact(total)))
}
