//! The documents read path: listing (filters, sorts, cheap paging) and full-text search
//! (the user's query validated and turned into safe backend syntax, ranked hits with
//! highlighted snippets as plain-text segments), and the topics of listed documents.
//!
//! The query language is the one of PostgreSQL's `websearch_to_tsquery`, on both
//! backends: words must all occur (`tax invoice`), `"quoted words"` are a phrase,
//! `or` between two words accepts either, and `-word` excludes a word. Every other
//! character is literal text: operators, quotes, parentheses, `*` or `:` never make a
//! query invalid. Matching is on whole words, case-insensitively (text search
//! configuration `simple` on PostgreSQL, FTS5 `unicode61` on SQLite; no stemming, since
//! vault documents come in any language).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, EntityTrait,
    FromQueryResult, QueryFilter, QueryOrder, QueryResult, Statement, TransactionTrait, Value,
};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::entities::{DocumentStatus, TopicSource, document_topics, documents, topics};
use crate::error::ApiError;

/// Longest accepted query, in characters.
pub const MAX_QUERY_CHARS: usize = 500;

/// Marks the start of a highlighted match in snippets the database produces (a
/// private-use character, stripped from the output).
pub const HIGHLIGHT_START: char = '\u{E000}';
/// Marks the end of a highlighted match.
pub const HIGHLIGHT_END: char = '\u{E001}';

/// One piece of a search snippet; the UI shows `highlight` pieces marked (e.g. `<mark>`).
/// Plain text, never HTML.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SnippetSegment {
    /// Text of this piece, as it appears in the document.
    pub text: String,
    /// Whether this piece matched the query.
    pub highlight: bool,
}

/// A validated search query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// The query as given, trimmed, control characters replaced by spaces (what
    /// PostgreSQL's `websearch_to_tsquery` receives).
    pub text: String,
    /// The same query as an FTS5 expression of quoted strings only; `None` when it holds
    /// no word that could match anything (e.g. only punctuation or emoji).
    pub fts5: Option<String>,
    /// The words looked for (not excluded), lower-cased, to highlight file names.
    pub words: Vec<String>,
}

/// One unit of the query language.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// A word or quoted phrase; `negated` when written with a leading `-`.
    Phrase { text: String, negated: bool },
    /// `or` between two phrases.
    Or,
}

fn has_word(s: &str) -> bool {
    s.chars().any(char::is_alphanumeric)
}

fn tokenize(q: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = q.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut negated = false;
        if c == '-' {
            chars.next();
            match chars.peek() {
                Some(n) if !n.is_whitespace() => negated = true,
                _ => continue,
            }
        }
        let mut text = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            for c in chars.by_ref() {
                if c == '"' {
                    break;
                }
                text.push(c);
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '"' {
                    break;
                }
                text.push(c);
                chars.next();
            }
        }
        if !negated && text.eq_ignore_ascii_case("or") {
            tokens.push(Token::Or);
        } else if has_word(&text) {
            tokens.push(Token::Phrase { text, negated });
        }
    }
    tokens
}

/// `"text"` with embedded quotes doubled: FTS5's literal string syntax.
fn fts5_string(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// Builds the FTS5 expression: positive phrases joined by AND (OR where the user wrote
/// `or` between two of them), then `NOT` each excluded phrase. `None` when no positive
/// phrase remains.
fn fts5_expression(tokens: &[Token]) -> Option<String> {
    let mut groups: Vec<Vec<String>> = Vec::new();
    let mut negatives = Vec::new();
    let mut pending_or = false;
    for t in tokens {
        match t {
            Token::Or => pending_or = !groups.is_empty(),
            Token::Phrase {
                text,
                negated: true,
            } => negatives.push(fts5_string(text)),
            Token::Phrase {
                text,
                negated: false,
            } => {
                let s = fts5_string(text);
                match groups.last_mut() {
                    Some(g) if pending_or => g.push(s),
                    _ => groups.push(vec![s]),
                }
                pending_or = false;
            }
        }
    }
    if groups.is_empty() {
        return None;
    }
    let positive = groups
        .iter()
        .map(|g| format!("({})", g.join(" OR ")))
        .collect::<Vec<_>>()
        .join(" AND ");
    let mut expr = format!("({positive})");
    for n in negatives {
        expr.push_str(" NOT ");
        expr.push_str(&n);
    }
    Some(expr)
}

impl SearchQuery {
    /// Validates `raw`: at most [`MAX_QUERY_CHARS`] characters, not blank (nor only
    /// control characters), and at least one word that is not excluded with `-`. Anything else about the text is taken literally.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let cleaned: String = raw
            .chars()
            .map(|c| {
                if c.is_control() || c == HIGHLIGHT_START || c == HIGHLIGHT_END {
                    ' '
                } else {
                    c
                }
            })
            .collect();
        let text = cleaned.trim().to_owned();
        let n = raw.chars().count();
        if text.is_empty() {
            return Err(ApiError::BadRequest {
                code: crate::error::ErrorCode::InvalidQuery,
                message: "q must not be empty".into(),
            });
        }
        if n > MAX_QUERY_CHARS {
            return Err(ApiError::BadRequest {
                code: crate::error::ErrorCode::InvalidQuery,
                message: format!("q must be at most {MAX_QUERY_CHARS} characters"),
            });
        }
        let tokens = tokenize(&text);
        let only_negative = !tokens.is_empty()
            && tokens.iter().all(|t| match t {
                Token::Phrase { negated, .. } => *negated,
                Token::Or => true,
            })
            && tokens
                .iter()
                .any(|t| matches!(t, Token::Phrase { negated: true, .. }));
        if only_negative {
            return Err(ApiError::BadRequest {
                code: crate::error::ErrorCode::InvalidQuery,
                message:
                    "q must contain at least one word to look for, not only excluded (-) words"
                        .into(),
            });
        }
        let words = tokens
            .iter()
            .filter_map(|t| match t {
                Token::Phrase {
                    text,
                    negated: false,
                } => Some(text),
                _ => None,
            })
            .flat_map(|t| t.split(|c: char| !c.is_alphanumeric()))
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        Ok(Self {
            fts5: fts5_expression(&tokens),
            text,
            words,
        })
    }
}

/// Splits text carrying [`HIGHLIGHT_START`]/[`HIGHLIGHT_END`] markers into segments,
/// merging neighbours of the same kind and dropping empty ones. Unbalanced markers are
/// tolerated.
pub fn segments(marked: &str) -> Vec<SnippetSegment> {
    let mut out: Vec<SnippetSegment> = Vec::new();
    let mut current = String::new();
    let mut highlight = false;
    let flush = |current: &mut String, highlight: bool, out: &mut Vec<SnippetSegment>| {
        if current.is_empty() {
            return;
        }
        match out.last_mut() {
            Some(last) if last.highlight == highlight => last.text.push_str(current),
            _ => out.push(SnippetSegment {
                text: current.clone(),
                highlight,
            }),
        }
        current.clear();
    };
    for c in marked.chars() {
        match c {
            HIGHLIGHT_START => {
                flush(&mut current, highlight, &mut out);
                highlight = true;
            }
            HIGHLIGHT_END => {
                flush(&mut current, highlight, &mut out);
                highlight = false;
            }
            c => current.push(c),
        }
    }
    flush(&mut current, highlight, &mut out);
    out
}

/// `name` as segments, each whole word equal (ignoring case) to one of `words` marked.
pub fn highlight_words(name: &str, words: &[String]) -> Vec<SnippetSegment> {
    let mut marked = String::with_capacity(name.len() + 8);
    let mut word = String::new();
    let flush = |word: &mut String, marked: &mut String| {
        if word.is_empty() {
            return;
        }
        let lower = word.to_lowercase();
        if words.contains(&lower) {
            marked.push(HIGHLIGHT_START);
            marked.push_str(word);
            marked.push(HIGHLIGHT_END);
        } else {
            marked.push_str(word);
        }
        word.clear();
    };
    for c in name.chars() {
        if c.is_alphanumeric() {
            word.push(c);
        } else {
            flush(&mut word, &mut marked);
            marked.push(c);
        }
    }
    flush(&mut word, &mut marked);
    segments(&marked)
}

/// Whether any segment is highlighted.
pub fn has_highlight(segs: &[SnippetSegment]) -> bool {
    segs.iter().any(|s| s.highlight)
}

// ---------------------------------------------------------------------------------
// The read path: one page of documents (listing or search) and their topics.
// ---------------------------------------------------------------------------------

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

/// The columns a document view needs (never `extracted_text`).
const VIEW_COLUMNS: &str = "d.id, d.user_id, d.folder_id, d.filename, d.content_type, \
     d.size_bytes, d.sha256, d.status, d.last_error, d.ai_opt_out, d.classified_by, \
     d.created_at, d.updated_at, d.status_reason";

/// SQL text with placeholders in the connection's dialect (`$n` / `?n`).
struct Sql {
    backend: DatabaseBackend,
    text: String,
    values: Vec<Value>,
}

impl Sql {
    fn new(backend: DatabaseBackend) -> Self {
        Self {
            backend,
            text: String::new(),
            values: Vec::new(),
        }
    }

    fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    fn bind(&mut self, v: impl Into<Value>) -> &mut Self {
        self.values.push(v.into());
        let n = self.values.len();
        let placeholder = match self.backend {
            DatabaseBackend::Postgres => format!("${n}"),
            _ => format!("?{n}"),
        };
        self.text.push_str(&placeholder);
        self
    }

    fn statement(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text, self.values)
    }
}

/// A document as listed: every column a view shows, without the extracted text.
#[derive(Debug, Clone, PartialEq, FromQueryResult)]
pub struct DocumentRow {
    /// Document id.
    pub id: Uuid,
    /// Owner.
    pub user_id: Uuid,
    /// Folder, none for the root.
    pub folder_id: Option<Uuid>,
    /// File name.
    pub filename: String,
    /// MIME type.
    pub content_type: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// SHA-256 of the original, once processed.
    pub sha256: Option<String>,
    /// Status.
    pub status: DocumentStatus,
    /// Why processing failed.
    pub last_error: Option<String>,
    /// Kept away from external AI providers.
    pub ai_opt_out: bool,
    /// Provider, model and prompt version of the classification (JSON).
    pub classified_by: Option<serde_json::Value>,
    /// Uploaded at.
    pub created_at: DateTime<Utc>,
    /// Last changed at.
    pub updated_at: DateTime<Utc>,
    /// Why it has no text yet, when not the file's fault (`ocr_unavailable`).
    pub status_reason: Option<crate::entities::StatusReason>,
}

impl From<documents::Model> for DocumentRow {
    fn from(d: documents::Model) -> Self {
        Self {
            id: d.id,
            user_id: d.user_id,
            folder_id: d.folder_id,
            filename: d.filename,
            content_type: d.content_type,
            size_bytes: d.size_bytes,
            sha256: d.sha256,
            status: d.status,
            last_error: d.last_error,
            ai_opt_out: d.ai_opt_out,
            classified_by: d.classified_by,
            status_reason: d.status_reason,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

/// A search hit: the row plus the marked-up snippets of its text and name, and how
/// many candidates the search found (the same on every row).
struct Hit {
    doc: DocumentRow,
    snippet_body: Option<String>,
    snippet_name: Option<String>,
    candidates: i64,
}

impl FromQueryResult for Hit {
    fn from_query_result(res: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        Ok(Self {
            doc: DocumentRow::from_query_result(res, pre)?,
            snippet_body: res.try_get(pre, "snippet_body")?,
            snippet_name: res.try_get(pre, "snippet_name")?,
            candidates: res.try_get(pre, "candidates")?,
        })
    }
}

/// The best snippet of a hit: text around the matches, else the highlighted name,
/// else the start of the text.
fn best_snippet(
    body: Option<Vec<SnippetSegment>>,
    name: Option<Vec<SnippetSegment>>,
) -> Option<Vec<SnippetSegment>> {
    let body = body.filter(|s| !s.is_empty());
    let name = name.filter(|s| !s.is_empty());
    match (body, name) {
        (Some(b), _) if has_highlight(&b) => Some(b),
        (_, Some(n)) if has_highlight(&n) => Some(n),
        (Some(b), _) => Some(b),
        (None, n) => n,
    }
}

/// Sort keys for listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    /// Upload time.
    CreatedAt,
    /// File name.
    Name,
    /// Size.
    Size,
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    /// Smallest / oldest / A first.
    Asc,
    /// Largest / newest / Z first.
    Desc,
}

/// What a page is filtered by.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only documents with this topic.
    pub topic: Option<Uuid>,
    /// Only documents in this folder.
    pub folder_id: Option<Uuid>,
    /// Only documents with this status (pending uploads are hidden otherwise).
    pub status: Option<DocumentStatus>,
    /// Full-text search.
    pub q: Option<SearchQuery>,
}

/// Which page, in which order.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    /// 1-based page.
    pub page: u64,
    /// Page size.
    pub per_page: u64,
    /// Explicit sort; `None` = relevance with `q`, else newest first.
    pub sort: Option<(SortKey, SortOrder)>,
    /// Most documents a search returns (setting `documents.search_max_hits`).
    pub max_hits: u64,
}

/// One listed document and, in search results, its snippet.
#[derive(Debug, Clone)]
pub struct Listed {
    /// The document.
    pub doc: DocumentRow,
    /// Highlighted snippet (search only).
    pub snippet: Option<Vec<SnippetSegment>>,
}

/// The owner-scoped WHERE clause over alias `d`. The `status <> 'pending'` literal (in
/// the SQL text, not a bound value) lets the partial list indexes serve the query.
fn push_filters(sql: &mut Sql, user: Uuid, filter: &ListFilter) {
    let pending = DocumentStatus::Pending.as_str();
    sql.push("d.user_id = ").bind(user);
    match filter.status {
        Some(DocumentStatus::Pending) => {
            sql.push(&format!(" AND d.status = '{pending}'"));
        }
        Some(s) => {
            sql.push(&format!(" AND d.status <> '{pending}' AND d.status = "))
                .bind(s);
        }
        None => {
            sql.push(&format!(" AND d.status <> '{pending}'"));
        }
    }
    if let Some(folder) = filter.folder_id {
        sql.push(" AND d.folder_id = ").bind(folder);
    }
    if let Some(topic) = filter.topic {
        sql.push(
            " AND EXISTS (SELECT 1 FROM document_topics dt \
             WHERE dt.document_id = d.id AND dt.topic_id = ",
        )
        .bind(topic)
        .push(")");
    }
}

/// The column a sort key orders by (alias `d`).
fn sort_column(sort: SortKey) -> &'static str {
    match sort {
        SortKey::CreatedAt => "d.created_at",
        SortKey::Name => "d.filename",
        SortKey::Size => "d.size_bytes",
    }
}

fn direction(order: SortOrder) -> &'static str {
    match order {
        SortOrder::Asc => "ASC",
        SortOrder::Desc => "DESC",
    }
}

/// `ORDER BY` terms over alias `d` (ties broken by id, so pages never overlap).
fn order_terms(sort: SortKey, order: SortOrder) -> String {
    let dir = direction(order);
    format!("{} {dir}, d.id {dir}", sort_column(sort))
}

fn limit_offset(sql: &mut Sql, page: PageRequest) {
    let limit = i64::try_from(page.per_page).unwrap_or(100);
    let offset = i64::try_from(page.page.saturating_sub(1).saturating_mul(page.per_page))
        .unwrap_or(i64::MAX);
    sql.push(" LIMIT ")
        .bind(limit)
        .push(" OFFSET ")
        .bind(offset);
}

async fn count(db: &impl ConnectionTrait, sql: Sql) -> Result<u64, ApiError> {
    let row = db.query_one_raw(sql.statement()).await?;
    let n: i64 = match row {
        Some(r) => r.try_get("", "n")?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}

/// How many documents a list or search matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Total {
    /// Matching documents; for a search that found more than it may return, that
    /// limit ([`PageRequest::max_hits`]).
    pub count: u64,
    /// False when more documents matched than `count`.
    pub exact: bool,
}

impl Total {
    fn exact(count: u64) -> Self {
        Self { count, exact: true }
    }

    /// From the number of search candidates, of which at most `max_hits + 1` are ever
    /// fetched (the one over the limit only tells that more exist).
    fn of_candidates(candidates: u64, max_hits: u64) -> Self {
        Self {
            count: candidates.min(max_hits),
            exact: candidates <= max_hits,
        }
    }
}

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

/// One page of the caller's own documents, filtered, sorted, or searched (ranked by
/// relevance unless a sort is given), and how many documents match.
///
/// A search returns at most [`PageRequest::max_hits`] documents, so that a query
/// matching most of a vault (a very common word) costs about what a narrow one does:
/// with an explicit sort, the first `max_hits` matches in that order; by relevance, the
/// `max_hits` most recently uploaded matches, ranked. The total then reads `max_hits`
/// and is flagged inexact.
#[tracing::instrument(skip_all)]
pub async fn list(
    db: &DatabaseConnection,
    user: Uuid,
    filter: &ListFilter,
    page: PageRequest,
) -> Result<(Vec<Listed>, Total), ApiError> {
    match &filter.q {
        None => list_plain(db, user, filter, page).await,
        Some(q) => {
            if q.fts5.is_none() {
                // Nothing in the query could match a word.
                return Ok((Vec::new(), Total::exact(0)));
            }
            match db.get_database_backend() {
                DatabaseBackend::Postgres => {
                    // A statement prepared on a connection gets a generic plan after five
                    // runs, one blind to how common the words are: for a common word it
                    // reads every match instead of stopping at the limit (10 -> 70 ms).
                    // Each search is planned for its own words, in its own snapshot.
                    let txn = db.begin().await?;
                    txn.execute_unprepared("SET LOCAL plan_cache_mode = force_custom_plan")
                        .await?;
                    let found = search_postgres(&txn, user, filter, q, page).await?;
                    txn.commit().await?;
                    Ok(found)
                }
                _ => search_sqlite(db, user, filter, q, page).await,
            }
        }
    }
}

async fn list_plain(
    db: &impl ConnectionTrait,
    user: Uuid,
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
        "SELECT {VIEW_COLUMNS} FROM documents d JOIN (SELECT d.id FROM documents d WHERE "
    ));
    push_filters(&mut sql, user, filter);
    sql.push(&format!(" ORDER BY {order_by}"));
    limit_offset(&mut sql, page);
    sql.push(&format!(") p ON p.id = d.id ORDER BY {order_by}"));
    let rows = DocumentRow::find_by_statement(sql.statement())
        .all(db)
        .await?;
    let mut count_sql = Sql::new(backend);
    count_sql.push("SELECT COUNT(*) AS n FROM documents d WHERE ");
    push_filters(&mut count_sql, user, filter);
    let total = total_for(db, page, rows.len(), count_sql).await?;
    let items = rows
        .into_iter()
        .map(|doc| Listed { doc, snippet: None })
        .collect();
    Ok((items, Total::exact(total)))
}

/// How a search orders its candidates and its page.
struct SearchOrder {
    /// Which `max_hits + 1` matches become candidates (alias `d`; SQLite may also name
    /// `documents_fts`).
    candidates: String,
    /// The same order over the candidates (alias `c`, columns `id`, `recency`,
    /// `sort_key`), to number them: only the first `max_hits` are returned.
    position: String,
    /// The page's order over the numbered candidates (alias `n`, columns `id`,
    /// `sort_key`, `rank`).
    page: String,
    /// The final order (aliases `p` for the page and `d`).
    outer: String,
}

impl SearchOrder {
    /// `rank_dir`: the direction in which a better hit's rank sorts first; `recency`
    /// (over `d`): the most recently uploaded matches first, which candidates' `recency`
    /// column sorts `DESC` with their id.
    fn new(sort: Option<(SortKey, SortOrder)>, rank_dir: &str, recency: &str) -> Self {
        match sort {
            Some((key, order)) => {
                let dir = direction(order);
                Self {
                    candidates: order_terms(key, order),
                    position: format!("c.sort_key {dir}, c.id {dir}"),
                    page: format!("n.sort_key {dir}, n.id {dir}"),
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

/// Opens the page of a search's candidates: `(` then the candidates subquery (at most
/// `max_hits + 1` rows with columns `id`, `recency`, `sort_key`, `rank` and `carry`),
/// then [`close_candidate_page`]. Each candidate is numbered in candidate order and
/// counted; the page holds `id`, `rank`, `carry` and `candidates` (their number).
fn open_candidate_page(sql: &mut Sql, order: &SearchOrder, carry: &str) {
    sql.push(&format!(
        "SELECT n.id, n.rank, n.{carry}, n.candidates \
         FROM (SELECT c.id, c.rank, c.sort_key, c.{carry}, count(*) OVER () AS candidates, \
                      row_number() OVER (ORDER BY {}) AS position FROM (",
        order.position
    ));
}

/// Closes what [`open_candidate_page`] opened: only the first `max_hits` candidates,
/// in the page's order, one page of them.
fn close_candidate_page(sql: &mut Sql, page: PageRequest, order: &SearchOrder) {
    sql.push(") c) n WHERE n.position <= ")
        .bind(i64::try_from(page.max_hits).unwrap_or(i64::MAX))
        .push(&format!(" ORDER BY {}", order.page));
    limit_offset(sql, page);
}

/// The total of a search: every row of a page carries the number of candidates; an
/// empty page past the first counts them with `count_sql`.
async fn search_total(
    db: &impl ConnectionTrait,
    page: PageRequest,
    hits: &[Hit],
    count_sql: Sql,
) -> Result<Total, ApiError> {
    let candidates = match hits.first() {
        Some(h) => u64::try_from(h.candidates).unwrap_or(0),
        None if page.page <= 1 => 0,
        None => count(db, count_sql).await?,
    };
    Ok(Total::of_candidates(candidates, page.max_hits))
}

/// The PostgreSQL candidates subquery body (without `SELECT`): the caller's matching
/// documents in candidate order, at most `max_hits + 1`.
fn push_pg_candidates(
    sql: &mut Sql,
    user: Uuid,
    filter: &ListFilter,
    q: &SearchQuery,
    page: PageRequest,
    order: &SearchOrder,
) {
    sql.push(" FROM documents d CROSS JOIN websearch_to_tsquery('simple'::regconfig, ")
        .bind(q.text.clone())
        .push(") AS q(query) WHERE d.search_vector @@ q.query AND ");
    push_filters(sql, user, filter);
    sql.push(&format!(" ORDER BY {} LIMIT ", order.candidates))
        .bind(candidate_limit(page));
}

async fn search_postgres(
    db: &impl ConnectionTrait,
    user: Uuid,
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
            "ts_rank(d.search_vector, q.query, 1)".to_owned(),
        ),
    };
    let mut sql = Sql::new(backend);
    sql.push(&format!(
        "SELECT {VIEW_COLUMNS}, \
           ts_headline('simple'::regconfig, left(coalesce(d.extracted_text, ''), \
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
        ") p JOIN documents d ON d.id = p.id ORDER BY {}",
        order.outer
    ));
    let hits = Hit::find_by_statement(sql.statement()).all(db).await?;

    let mut count_sql = Sql::new(backend);
    count_sql.push("SELECT COUNT(*) AS n FROM (SELECT d.id");
    push_pg_candidates(&mut count_sql, user, filter, q, page, &order);
    count_sql.push(") c");
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

/// The FTS5 MATCH expression: the owner's token AND the user's query over name + text.
fn push_fts5_match(sql: &mut Sql, user: Uuid, expr: &str) {
    sql.push("documents_fts MATCH ('owner : u' || hex(")
        .bind(user)
        .push(") || ' AND {filename body} : (' || ")
        .bind(expr.to_owned())
        .push(" || ')')");
}

/// The SQLite candidates subquery body (without `SELECT`): the caller's matching
/// documents in candidate order, at most `max_hits + 1`. CROSS JOIN fixes SQLite's join
/// order: the FTS index drives, never one MATCH per row of the owner's documents (30x
/// slower), and by relevance it yields the newest matches first and stops at the limit.
fn push_sqlite_candidates(
    sql: &mut Sql,
    user: Uuid,
    filter: &ListFilter,
    expr: &str,
    page: PageRequest,
    order: &SearchOrder,
) {
    sql.push(
        " FROM documents_fts CROSS JOIN documents d \
           ON d.search_rowid = documents_fts.rowid WHERE ",
    );
    push_fts5_match(sql, user, expr);
    sql.push(" AND ");
    push_filters(sql, user, filter);
    sql.push(&format!(" ORDER BY {} LIMIT ", order.candidates))
        .bind(candidate_limit(page));
}

async fn search_sqlite(
    db: &impl ConnectionTrait,
    user: Uuid,
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
    let (sort_key, rank) = match page.sort {
        Some((key, _)) => (sort_column(key), "NULL"),
        None => ("NULL", "bm25(documents_fts, 0.0, 10.0, 1.0)"),
    };
    let start = u32::from(HIGHLIGHT_START);
    let end = u32::from(HIGHLIGHT_END);
    let mut sql = Sql::new(backend);
    // Inner: the candidates (ranked by relevance), the page of them and their number.
    // Outer: snippets for the page's rows only (FTS5 seeks them by rowid within the
    // same MATCH).
    sql.push(&format!(
        "SELECT {VIEW_COLUMNS}, \
           snippet(documents_fts, 2, char({start}), char({end}), '…', 24) AS snippet_body, \
           highlight(documents_fts, 1, char({start}), char({end})) AS snippet_name, \
           p.candidates FROM ("
    ));
    open_candidate_page(&mut sql, &order, "rid");
    sql.push(&format!(
        "SELECT d.id, d.search_rowid AS rid, d.search_rowid AS recency, \
                {sort_key} AS sort_key, {rank} AS rank"
    ));
    push_sqlite_candidates(&mut sql, user, filter, expr, page, &order);
    close_candidate_page(&mut sql, page, &order);
    sql.push(
        ") p CROSS JOIN documents_fts ON documents_fts.rowid = p.rid \
         JOIN documents d ON d.id = p.id WHERE ",
    );
    push_fts5_match(&mut sql, user, expr);
    sql.push(&format!(" ORDER BY {}", order.outer));
    let hits = Hit::find_by_statement(sql.statement()).all(db).await?;

    let mut count_sql = Sql::new(backend);
    count_sql.push("SELECT COUNT(*) AS n FROM (SELECT d.id");
    push_sqlite_candidates(&mut count_sql, user, filter, expr, page, &order);
    count_sql.push(") c");
    let total = search_total(db, page, &hits, count_sql).await?;
    Ok((listed(hits), total))
}

fn listed(hits: Vec<Hit>) -> Vec<Listed> {
    hits.into_iter()
        .map(|h| Listed {
            snippet: best_snippet(
                h.snippet_body.as_deref().map(segments),
                h.snippet_name.as_deref().map(segments),
            ),
            doc: h.doc,
        })
        .collect()
}

/// A topic a document is filed under.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentTopic {
    /// Topic id.
    pub id: Uuid,
    /// Topic name.
    pub name: String,
    /// Display color.
    pub color: Option<String>,
    /// The classifier or the owner.
    pub source: TopicSource,
    /// Classifier confidence (AI only).
    pub confidence: Option<f64>,
}

/// The topics of every given document, in one query, each list sorted by name.
#[tracing::instrument(skip_all)]
pub async fn topics_of(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<DocumentTopic>>, ApiError> {
    let mut map: HashMap<Uuid, Vec<DocumentTopic>> = HashMap::new();
    if ids.is_empty() {
        return Ok(map);
    }
    let rows = document_topics::Entity::find()
        .filter(document_topics::Column::DocumentId.is_in(ids.iter().copied()))
        .find_also_related(topics::Entity)
        .order_by_asc(topics::Column::Name)
        .order_by_asc(topics::Column::Id)
        .all(db)
        .await?;
    for (link, topic) in rows {
        if let Some(t) = topic {
            map.entry(link.document_id)
                .or_default()
                .push(DocumentTopic {
                    id: t.id,
                    name: t.name,
                    color: t.color,
                    source: link.source,
                    confidence: link.confidence,
                });
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn fts(q: &str) -> Option<String> {
        SearchQuery::parse(q).unwrap().fts5
    }

    #[test]
    fn words_phrases_or_and_not() {
        assert_eq!(fts("tax invoice").unwrap(), r#"(("tax") AND ("invoice"))"#);
        assert_eq!(
            fts(r#""tax return" 2025"#).unwrap(),
            r#"(("tax return") AND ("2025"))"#
        );
        assert_eq!(fts("a or b c").unwrap(), r#"(("a" OR "b") AND ("c"))"#);
        assert_eq!(fts("a -b").unwrap(), r#"(("a")) NOT "b""#);
        assert_eq!(fts("or a").unwrap(), r#"(("a"))"#);
    }

    #[test]
    fn operators_and_specials_are_literal() {
        assert_eq!(
            fts("AND OR NOT").unwrap(),
            r#"(("AND" OR "NOT"))"#,
            "FTS5 keywords end up quoted"
        );
        assert_eq!(fts("foo:bar*").unwrap(), r#"(("foo:bar*"))"#);
        assert_eq!(fts(r#"say "hi"#).unwrap(), r#"(("say") AND ("hi"))"#);
        assert_eq!(fts(r#"a""b"#).unwrap(), r#"(("a") AND ("b"))"#);
        assert_eq!(fts("(x) NEAR(y)").unwrap(), r#"(("(x)") AND ("NEAR(y)"))"#);
        assert_eq!(fts("*** ::: 😀"), None);
        assert_eq!(fts("café 😀").unwrap(), r#"(("café"))"#);
    }

    #[test]
    fn invalid_queries_are_4xx() {
        assert!(SearchQuery::parse("   ").is_err());
        assert!(SearchQuery::parse("\0\0").is_err());
        assert!(SearchQuery::parse(&"a".repeat(501)).is_err());
        assert!(SearchQuery::parse(&"a".repeat(500)).is_ok());
        assert!(SearchQuery::parse("-foo").is_err());
        assert!(SearchQuery::parse("foo\0bar").is_ok());
        assert_eq!(SearchQuery::parse(" a\0b ").unwrap().text, "a b");
    }

    #[test]
    fn file_names_highlight_whole_words() {
        let q = SearchQuery::parse("Budget \"tax return\" -draft").unwrap();
        assert_eq!(q.words, vec!["budget", "tax", "return"]);
        let s = highlight_words("tax-return_budget2025.PDF budget", &q.words);
        let marked: Vec<&str> = s
            .iter()
            .filter(|s| s.highlight)
            .map(|s| s.text.as_str())
            .collect();
        assert_eq!(marked, vec!["tax", "return", "budget"]);
        assert_eq!(
            s.iter().map(|s| s.text.as_str()).collect::<String>(),
            "tax-return_budget2025.PDF budget"
        );
    }

    #[test]
    fn segments_from_markers() {
        let s = segments("the \u{E000}fox\u{E001} and \u{E000}fox\u{E001}");
        assert_eq!(
            s,
            vec![
                SnippetSegment {
                    text: "the ".into(),
                    highlight: false
                },
                SnippetSegment {
                    text: "fox".into(),
                    highlight: true
                },
                SnippetSegment {
                    text: " and ".into(),
                    highlight: false
                },
                SnippetSegment {
                    text: "fox".into(),
                    highlight: true
                },
            ]
        );
        assert!(segments("").is_empty());
        assert_eq!(segments("\u{E001}x\u{E000}").len(), 1);
        let merged = segments("\u{E000}a\u{E001}\u{E000}b\u{E001}");
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].text, "ab");
    }
}
