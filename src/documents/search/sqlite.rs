//! Full-text search on SQLite: an FTS5 MATCH over the owner's token, file name and
//! text, ranked with `bm25`; snippets are made from the start of the text
//! ([`super::snippet::text_snippet`]).

use sea_orm::{ConnectionTrait, FromQueryResult};

use super::query::SearchQuery;
use super::ranked::{
    Hit, SearchOrder, close_candidate_page, count_candidates, end_candidates, listed,
    open_candidate_page, search_total,
};
use super::snippet::SNIPPET_SOURCE_CHARS;
use super::sql::{Sql, VIEW_COLUMNS, sort_column};
use super::{ListFilter, Listed, PageRequest, Total};
use crate::domain::UserId;
use crate::error::ApiError;

/// The FTS5 MATCH expression: the owner's token AND the user's query over name + text
/// (a stemmed query, [`SearchQuery::is_stemmed`], names its columns itself: the text and
/// name for words, the stems for stems). With `shared`, the owner is the caller or any
/// account that shared with the caller (which of their documents are shared is the
/// filters' business).
fn push_fts5_match(sql: &mut Sql, user: UserId, shared: bool, expr: &str, stemmed: bool) {
    if shared {
        sql.push("documents_fts MATCH ('owner : (u' || hex(")
            .bind(user)
            .push(
                ") || (SELECT coalesce(group_concat(' OR u' || hex(o.owner_id), ''), '') \
                 FROM (SELECT DISTINCT s.owner_id FROM shares s WHERE s.recipient_id = ",
            )
            .bind(user)
            .push(") o) || ')'");
    } else {
        sql.push("documents_fts MATCH ('owner : u' || hex(")
            .bind(user)
            .push(")");
    }
    let columns = if stemmed { "" } else { "{filename body} : " };
    sql.push(&format!(" || ' AND {columns}(' || "))
        .bind(expr.to_owned())
        .push(" || ')')");
}

/// The SQLite candidates subquery body (without `SELECT`): the caller's matching
/// documents in candidate order, at most `max_hits + 1`. CROSS JOIN fixes SQLite's join
/// order: the FTS index drives, never one MATCH per row of the owner's documents (30x
/// slower), and by relevance it yields the newest matches first and stops at the limit.
fn push_sqlite_candidates(
    sql: &mut Sql,
    user: UserId,
    filter: &ListFilter,
    expr: &str,
    stemmed: bool,
    page: PageRequest,
    order: &SearchOrder,
) {
    sql.push(
        " FROM documents_fts CROSS JOIN documents d \
           ON d.search_rowid = documents_fts.rowid WHERE ",
    );
    push_fts5_match(sql, user, filter.shared(), expr, stemmed);
    sql.push(" AND ");
    end_candidates(sql, user, filter, page, order);
}

/// One page of ranked hits on SQLite.
pub(super) async fn search_sqlite(
    db: &impl ConnectionTrait,
    user: UserId,
    filter: &ListFilter,
    q: &SearchQuery,
    page: PageRequest,
) -> Result<(Vec<Listed>, Total), ApiError> {
    let Some(expr) = q.fts5.as_deref() else {
        return Ok((Vec::new(), Total::exact(0)));
    };
    let backend = db.get_database_backend();
    // bm25: lower is better. `search_rowid` grows with every new document.
    let order = SearchOrder::new(page.sort, "ASC", "documents_fts.rowid DESC");
    let stemmed = q.is_stemmed();
    // Columns: owner, file name, text, stems. A stem weighs a quarter of a word in the
    // text, so a document holding the word as written ranks above one holding another
    // form only (it matches the stem too).
    let (sort_key, rank) = match page.sort {
        Some((key, _)) => (sort_column(key), "NULL"),
        None if stemmed => ("NULL", "bm25(documents_fts, 0.0, 10.0, 1.0, 0.25)"),
        None => ("NULL", "bm25(documents_fts, 0.0, 10.0, 1.0)"),
    };
    let mut sql = Sql::new(backend);
    // Inner: the candidates (ranked by relevance), the page of them and their number.
    // Outer: the start of each page row's text, for its snippet.
    sql.push(&format!(
        "SELECT {VIEW_COLUMNS}, substr(t.body, 1, {SNIPPET_SOURCE_CHARS}) AS text_head, \
           p.candidates FROM ("
    ));
    open_candidate_page(&mut sql, &order);
    sql.push(&format!(
        "SELECT d.id, d.search_rowid AS recency, {sort_key} AS sort_key, {rank} AS rank"
    ));
    push_sqlite_candidates(&mut sql, user, filter, expr, stemmed, page, &order);
    close_candidate_page(&mut sql, page, &order);
    sql.push(&format!(
        ") p JOIN documents d ON d.id = p.id \
         LEFT JOIN document_texts t ON t.document_id = d.id ORDER BY {}",
        order.outer
    ));
    let hits = Hit::find_by_statement(sql.statement()).all(db).await?;

    let count_sql = count_candidates(backend, |count_sql| {
        push_sqlite_candidates(count_sql, user, filter, expr, stemmed, page, &order);
    });
    let total = search_total(db, page, &hits, count_sql).await?;
    Ok((listed(hits, q), total))
}
