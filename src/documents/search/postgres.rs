//! Full-text search on PostgreSQL: `websearch_to_tsquery('simple', …)` (composed with
//! `to_tsquery` prefixes when the query has some, [`push_tsquery`]) against the
//! GIN-indexed `document_search.search_vector` (one row per document, written by a
//! trigger when the owner, file name or text changes), ranked with `ts_rank` over the
//! candidates only; snippets are made from the start of the text
//! ([`super::snippet::text_snippet`]).

use sea_orm::{ConnectionTrait, FromQueryResult};

use super::query::{PgPiece, SearchQuery};
use super::ranked::{
    Hit, SearchOrder, close_candidate_page, count_candidates, end_candidates, listed,
    open_candidate_page, search_total,
};
use super::snippet::SNIPPET_SOURCE_CHARS;
use super::sql::{Sql, VIEW_COLUMNS, sort_column};
use super::{ListFilter, Listed, PageRequest, Total};
use crate::domain::UserId;
use crate::error::ApiError;

/// The query as a `tsquery` expression: `websearch_to_tsquery` of the text as typed,
/// or, with prefixes (`invoi*`, which it cannot express), the same query composed of
/// one `websearch_to_tsquery` per word or phrase and one `to_tsquery('word':*)` per
/// prefix, grouped as the query language reads them.
pub(super) fn push_tsquery(sql: &mut Sql, q: &SearchQuery) {
    let composed = composes(q).then(|| q.pg_composed()).flatten();
    let Some(composed) = composed else {
        sql.push("websearch_to_tsquery('simple'::regconfig, ")
            .bind(q.text.clone())
            .push(")");
        return;
    };
    let piece = |sql: &mut Sql, p: &PgPiece| {
        match p {
            PgPiece::Websearch(t) => sql
                .push("websearch_to_tsquery('simple'::regconfig, ")
                .bind(t.clone()),
            PgPiece::Prefix(t) | PgPiece::Stem(t) => {
                sql.push("to_tsquery('simple'::regconfig, ").bind(t.clone())
            }
        };
        sql.push(")");
    };
    sql.push("(");
    for (i, group) in composed.groups.iter().enumerate() {
        if i > 0 {
            sql.push(" && ");
        }
        sql.push("(");
        for (j, p) in group.iter().enumerate() {
            if j > 0 {
                sql.push(" || ");
            }
            piece(sql, p);
        }
        sql.push(")");
    }
    for p in &composed.excluded {
        sql.push(" && !!");
        piece(sql, p);
    }
    sql.push(")");
}

/// Whether the query is composed of pieces ([`SearchQuery::pg_composed`]): with a
/// prefix or a stem, which `websearch_to_tsquery` cannot write.
fn composes(q: &SearchQuery) -> bool {
    q.has_prefix() || q.is_stemmed()
}

/// The PostgreSQL candidates subquery body (without `SELECT`): the caller's matching
/// documents in candidate order, at most `max_hits + 1`.
fn push_pg_candidates(
    sql: &mut Sql,
    user: UserId,
    filter: &ListFilter,
    q: &SearchQuery,
    page: PageRequest,
    order: &SearchOrder,
) {
    sql.push(
        " FROM documents d JOIN document_search s ON s.document_id = d.id \
         CROSS JOIN ",
    );
    if composes(q) {
        // A composed expression is no function call: a FROM item needs it as a subquery.
        sql.push("(SELECT ");
        push_tsquery(sql, q);
        sql.push(")");
    } else {
        push_tsquery(sql, q);
    }
    sql.push(" AS q(query) WHERE s.search_vector @@ q.query AND ");
    if !filter.shared() {
        // The owner inside the index scan too: one account's matches, not everyone's.
        sql.push("s.user_id = ").bind(user).push(" AND ");
    }
    end_candidates(sql, user, filter, page, order);
}

/// One page of ranked hits on PostgreSQL (run inside the caller's transaction).
pub(super) async fn search_postgres(
    db: &impl ConnectionTrait,
    user: UserId,
    filter: &ListFilter,
    q: &SearchQuery,
    page: PageRequest,
) -> Result<(Vec<Listed>, Total), ApiError> {
    let backend = db.get_database_backend();
    let order = SearchOrder::new(page.sort, "DESC", "d.created_at DESC, d.id DESC");
    // Candidates: the newest matches come off the list index (a common word matches
    // within a few rows), rare words off the GIN index; only candidates are ranked.
    // The rank is computed over the candidates only, after their limit: computed with
    // the match, a plan that sorts every match (a hash join, a bitmap scan) would rank
    // each one, reading each document's whole vector again.
    let (sort_key, rank, rank_join) = match page.sort {
        Some((key, _)) => (sort_column(key), "NULL::real", ""),
        None => (
            "NULL::int",
            "ts_rank(r.search_vector, c0.query, 1)",
            " JOIN document_search r ON r.document_id = c0.id",
        ),
    };
    let mut sql = Sql::new(backend);
    sql.push(&format!(
        "SELECT {VIEW_COLUMNS}, substr(coalesce(t.body, ''), 1, {SNIPPET_SOURCE_CHARS}) \
         AS text_head, p.candidates FROM ("
    ));
    open_candidate_page(&mut sql, &order);
    sql.push(&format!(
        "SELECT c0.id, c0.recency, c0.sort_key, {rank} AS rank FROM (\
         SELECT d.id, q.query, d.created_at AS recency, {sort_key} AS sort_key"
    ));
    push_pg_candidates(&mut sql, user, filter, q, page, &order);
    sql.push(&format!(") c0{rank_join}"));
    close_candidate_page(&mut sql, page, &order);
    sql.push(&format!(
        ") p JOIN documents d ON d.id = p.id \
         LEFT JOIN document_texts t ON t.document_id = d.id ORDER BY {}",
        order.outer
    ));
    let hits = Hit::find_by_statement(sql.statement()).all(db).await?;

    let count_sql = count_candidates(backend, |count_sql| {
        push_pg_candidates(count_sql, user, filter, q, page, &order);
    });
    let total = search_total(db, page, &hits, count_sql).await?;
    Ok((listed(hits, q), total))
}
