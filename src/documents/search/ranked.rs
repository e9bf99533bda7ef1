//! What both full-text backends share: a search hit as read back and listed with its
//! snippet, the order of candidates and of the page, the candidate page around a
//! backend's candidates subquery, and the total of a search.

use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, FromQueryResult, QueryResult};

use super::query::SearchQuery;
use super::snippet::{best_snippet, highlight_words, text_snippet};
use super::sql::{Sql, count, direction, limit_offset, nulls, order_terms, push_filters};
use super::{CountMode, DocumentRow, ListFilter, Listed, PageRequest, SortKey, SortOrder, Total};
use crate::domain::UserId;
use crate::error::ApiError;

/// A search hit: the row plus the start of its text (at most
/// [`SNIPPET_SOURCE_CHARS`](super::snippet::SNIPPET_SOURCE_CHARS) characters, column
/// `text_head`) and how many candidates the search found (the same on every row).
pub(super) struct Hit {
    pub(super) doc: DocumentRow,
    pub(super) text_head: Option<String>,
    pub(super) candidates: i64,
}

impl FromQueryResult for Hit {
    fn from_query_result(res: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        Ok(Self {
            doc: DocumentRow::from_query_result(res, pre)?,
            text_head: res.try_get(pre, "text_head")?,
            candidates: res.try_get(pre, "candidates")?,
        })
    }
}

/// The hits as listed, each with its snippet: from its text where a query word is
/// written there, else its file name where one is, else the text's start.
pub(super) fn listed(hits: Vec<Hit>, q: &SearchQuery) -> Vec<Listed> {
    hits.into_iter()
        .map(|h| Listed {
            snippet: best_snippet(
                h.text_head.as_deref().map(|t| text_snippet(t, &q.words)),
                Some(highlight_words(&h.doc.filename, &q.words)),
            ),
            doc: h.doc,
        })
        .collect()
}

/// How a search orders its candidates and its page.
pub(super) struct SearchOrder {
    /// Which `max_hits + 1` matches become candidates (alias `d`; SQLite may also name
    /// `documents_fts`).
    pub(super) candidates: String,
    /// The same order over the candidates (alias `c`, columns `id`, `recency`,
    /// `sort_key`), to number them: only the first `max_hits` are returned.
    pub(super) position: String,
    /// The page's order over the numbered candidates (alias `n`, columns `id`,
    /// `sort_key`, `rank`).
    pub(super) page: String,
    /// The final order (aliases `p` for the page and `d`).
    pub(super) outer: String,
}

impl SearchOrder {
    /// `rank_dir`: the direction in which a better hit's rank sorts first; `recency`
    /// (over `d`): the most recently uploaded matches first, which candidates' `recency`
    /// column sorts `DESC` with their id.
    pub(super) fn new(sort: Option<(SortKey, SortOrder)>, rank_dir: &str, recency: &str) -> Self {
        match sort {
            Some((key, order)) => {
                let dir = direction(order);
                let nulls = nulls(key);
                Self {
                    candidates: order_terms(key, order),
                    position: format!("c.sort_key {dir}{nulls}, c.id {dir}"),
                    page: format!("n.sort_key {dir}{nulls}, n.id {dir}"),
                    outer: order_terms(key, order),
                }
            }
            None => Self {
                candidates: recency.to_owned(),
                position: "c.recency DESC, c.id DESC".to_owned(),
                page: format!("n.rank {rank_dir}, n.id ASC"),
                outer: format!("p.rank {rank_dir}, d.id ASC"),
            },
        }
    }
}

/// `max_hits + 1` as a bind value: the candidates a search fetches at most.
fn candidate_limit(page: PageRequest) -> i64 {
    i64::try_from(page.max_hits.saturating_add(1)).unwrap_or(i64::MAX)
}

/// Ends a backend's candidates subquery body (after its own match condition and ` AND `):
/// the owner-scoped filters, the candidate order and the `max_hits + 1` limit. In the
/// count of an exact-count search ([`CountMode::Exact`]), only the filters: every match
/// is counted.
pub(super) fn end_candidates(
    sql: &mut Sql,
    user: UserId,
    filter: &ListFilter,
    page: PageRequest,
    order: &SearchOrder,
) {
    push_filters(sql, user, filter);
    if sql.is_counting() && page.count == CountMode::Exact {
        return;
    }
    sql.push(&format!(" ORDER BY {} LIMIT ", order.candidates))
        .bind(candidate_limit(page));
}

/// The statement counting a search's candidates (at most `max_hits + 1`; every match
/// with [`CountMode::Exact`]); `push_candidates` writes the backend's candidates subquery
/// body (without `SELECT`).
pub(super) fn count_candidates(
    backend: DatabaseBackend,
    push_candidates: impl FnOnce(&mut Sql),
) -> Sql {
    let mut count_sql = Sql::new(backend);
    count_sql.set_counting();
    count_sql.push("SELECT COUNT(*) AS n FROM (SELECT d.id");
    push_candidates(&mut count_sql);
    count_sql.push(") c");
    count_sql
}

/// Opens the page of a search's candidates: `(` then the candidates subquery (at most
/// `max_hits + 1` rows with columns `id`, `recency`, `sort_key` and `rank`), then
/// [`close_candidate_page`]. Each candidate is numbered in candidate order and counted;
/// the page holds `id`, `rank` and `candidates` (their number).
pub(super) fn open_candidate_page(sql: &mut Sql, order: &SearchOrder) {
    sql.push(&format!(
        "SELECT n.id, n.rank, n.candidates \
         FROM (SELECT c.id, c.rank, c.sort_key, count(*) OVER () AS candidates, \
                      row_number() OVER (ORDER BY {}) AS position FROM (",
        order.position
    ));
}

/// Closes what [`open_candidate_page`] opened: only the first `max_hits` candidates,
/// in the page's order, one page of them.
pub(super) fn close_candidate_page(sql: &mut Sql, page: PageRequest, order: &SearchOrder) {
    sql.push(") c) n WHERE n.position <= ")
        .bind(i64::try_from(page.max_hits).unwrap_or(i64::MAX))
        .push(&format!(" ORDER BY {}", order.page));
    limit_offset(sql, page);
}

/// The total of a search: every row of a page carries the number of candidates; an
/// empty page past the first counts them with `count_sql`. With [`CountMode::Exact`], a
/// search that found more candidates than it returns counts every match with
/// `count_sql` (then without the candidates' limit).
pub(super) async fn search_total(
    db: &impl ConnectionTrait,
    page: PageRequest,
    hits: &[Hit],
    count_sql: Sql,
) -> Result<Total, ApiError> {
    let exact = page.count == CountMode::Exact;
    let candidates = match hits.first() {
        Some(h) => u64::try_from(h.candidates).unwrap_or(0),
        None if page.page <= 1 => return Ok(Total::exact(0)),
        None => {
            // A page past the results: count the candidates (every match when exact).
            let n = count(db, count_sql).await?;
            return Ok(if exact {
                Total::exact(n)
            } else {
                Total::of_candidates(n, page.max_hits)
            });
        }
    };
    let bounded = Total::of_candidates(candidates, page.max_hits);
    if exact && !bounded.exact {
        return Ok(Total::exact(count(db, count_sql).await?));
    }
    Ok(bounded)
}
