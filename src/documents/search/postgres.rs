//! Full-text search on PostgreSQL: `websearch_to_tsquery('simple', …)` (composed with
//! `to_tsquery` prefixes when the query has some, [`push_tsquery`]) against the
//! GIN-indexed `document_search.search_vector` (one row per document, written by a
//! trigger when the owner, file name or text changes), ranked with `ts_rank`, snippets
//! from `ts_headline`.

use sea_orm::{ConnectionTrait, FromQueryResult};

use super::query::{PgPiece, SearchQuery};
use super::ranked::{
    Hit, SearchOrder, close_candidate_page, count_candidates, end_candidates, open_candidate_page,
    search_total,
};
use super::snippet::{HIGHLIGHT_END, HIGHLIGHT_START, best_snippet, highlight_words, segments};
use super::sql::{Sql, VIEW_COLUMNS, sort_column};
use super::{ListFilter, Listed, PageRequest, Total};
use crate::domain::UserId;
use crate::error::ApiError;

/// Characters of extracted text PostgreSQL's `ts_headline` reads to build a snippet
/// (it parses its whole input; the rank and match use the indexed vector).
const PG_HEADLINE_CHARS: u32 = 20_000;

/// `ts_headline` options for text: short fragments around the best matches.
fn pg_headline_options() -> String {
    format!(
        "StartSel=\"{HIGHLIGHT_START}\", StopSel=\"{HIGHLIGHT_END}\", MaxWords=30, MinWords=12, \
         ShortWord=1, MaxFragments=2, FragmentDelimiter=\" … \""
    )
}

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
    let (sort_key, rank) = match page.sort {
        Some((key, _)) => (sort_column(key), "NULL::real".to_owned()),
        None => (
            "NULL::int",
            "ts_rank(s.search_vector, q.query, 1)".to_owned(),
        ),
    };
    let mut sql = Sql::new(backend);
    sql.push(&format!(
        "SELECT {VIEW_COLUMNS}, \
           ts_headline('simple'::regconfig, left(coalesce(t.body, ''), \
                       {PG_HEADLINE_CHARS}), p.query, "
    ))
    .bind(pg_headline_options())
    .push(") AS snippet_body, NULL::text AS snippet_name, p.candidates FROM (");
    open_candidate_page(&mut sql, &order, "query");
    sql.push(&format!(
        "SELECT d.id, q.query, d.created_at AS recency, {sort_key} AS sort_key, {rank} AS rank"
    ));
    push_pg_candidates(&mut sql, user, filter, q, page, &order);
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
    // File names are highlighted here: PostgreSQL's parser reads `a-b.pdf` as one token.
    let items = hits
        .into_iter()
        .map(|h| Listed {
            snippet: best_snippet(
                h.snippet_body.as_deref().map(segments),
                Some(highlight_words(&h.doc.filename, &q.words)),
            ),
            doc: h.doc,
        })
        .collect();
    Ok((items, total))
}
