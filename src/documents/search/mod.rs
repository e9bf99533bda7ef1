//! The documents read path: listing (filters, sorts, cheap paging) and full-text search
//! (the user's query validated and turned into safe backend syntax, ranked hits with
//! highlighted snippets as plain-text segments), and the topics of listed documents.
//!
//! The query language is the one of PostgreSQL's `websearch_to_tsquery`, on both
//! backends: words must all occur (`tax invoice`), `"quoted words"` are a phrase,
//! `or` between two words accepts either, and `-word` excludes a word. Every other
//! character is literal text: operators, quotes, parentheses or `:` never make a
//! query invalid. A bare word ending in `*` is a prefix (`invoi*`; at least 3 letters,
//! at most 4 per query, [`query`]). Matching is on whole words, case-insensitively (text search
//! configuration `simple` on PostgreSQL, FTS5 `unicode61` on SQLite), and for an account
//! whose `search_language` is `english` or `german` also on other forms of a bare word
//! ([`stemming`]: "invoice" finds "invoices"), ranked below the word as written.
//!
//! One module per job: [`query`] (the query language), [`snippet`] (highlighted
//! segments), [`sql`] (the statement builder and shared clauses), [`listing`] (plain
//! listing), [`ranked`] (what both search backends share), [`postgres`] and [`sqlite`]
//! (one per backend), [`topics`] (the topics of listed documents), [`duplicates`]
//! (documents with the same bytes), [`vocabulary`] (each account's own words, for
//! suggestions), [`similar`] (documents like another), [`routes`] (the suggestion and
//! similar-documents endpoints), [`stemming`] (words to stems) and [`restem`] (each
//! account's documents stemmed in its language, in the background).
//!
//! Trashed documents are never listed nor searched unless asked for
//! ([`ListFilter::trashed`]: then only they are).

pub mod duplicates;
mod listing;
mod postgres;
mod query;
mod ranked;
pub mod restem;
pub mod routes;
pub mod similar;
mod snippet;
mod sql;
mod sqlite;
pub mod stemming;
mod topics;
pub mod vocabulary;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, FromQueryResult, TransactionTrait,
};
use utoipa::ToSchema;
use uuid::Uuid;

pub use query::{MAX_PREFIXES, MAX_QUERY_CHARS, MAX_QUERY_WORDS, MIN_PREFIX_CHARS, SearchQuery};
pub use snippet::{
    HIGHLIGHT_END, HIGHLIGHT_START, SnippetSegment, has_highlight, highlight_words, segments,
};
pub use topics::{DocumentTopic, topics_of};

use crate::domain::{FolderId, TopicId, UserId};
use crate::entities::{DocumentStatus, SearchLanguage, documents};
use crate::error::ApiError;

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
    /// Where its thumbnail is stored, once it is.
    pub thumbnail_key: Option<String>,
    /// While in processing: the page the OCR is reading.
    pub progress_page: Option<i32>,
    /// While in processing: of how many pages.
    pub progress_pages: Option<i32>,
    /// When it was moved to the trash; none while live.
    pub trashed_at: Option<DateTime<Utc>>,
    /// The document's own date, when known.
    pub document_date: Option<NaiveDate>,
    /// Where that date came from.
    pub document_date_source: Option<crate::entities::DocumentDateSource>,
    /// Pages, when known.
    pub page_count: Option<i32>,
    /// How many live documents of the owner have the same SHA-256, when listed (none
    /// when none has, or when the row was read whole).
    pub hash_live_count: Option<i64>,
    /// The owner's earlier live document with the same SHA-256, which this one
    /// duplicates: set on the caller's listed rows by [`duplicates::mark_originals`],
    /// none otherwise (see `DocumentView::add_duplicate_of`).
    #[sea_orm(skip)]
    pub original_id: Option<Uuid>,
    /// The owner's handle, when known before the view is built
    /// ([`Listed::name_owner`]); the view looks up the others.
    #[sea_orm(skip)]
    pub owner_handle: Option<String>,
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
            created_at: d.created_at,
            updated_at: d.updated_at,
            status_reason: d.status_reason,
            thumbnail_key: d.thumbnail_key,
            progress_page: d.progress_page,
            progress_pages: d.progress_pages,
            trashed_at: d.trashed_at,
            document_date: d.document_date,
            document_date_source: d.document_date_source,
            page_count: d.page_count,
            hash_live_count: None,
            original_id: None,
            owner_handle: None,
        }
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
    /// When the document went to the trash (the trash list's default order).
    TrashedAt,
    /// The document's own date (`document_date`); documents without one come last in
    /// both directions.
    DocumentDate,
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
    pub topic: Option<TopicId>,
    /// Only documents in this folder.
    pub folder_id: Option<FolderId>,
    /// Only documents with this status (pending uploads are hidden otherwise).
    pub status: Option<DocumentStatus>,
    /// Full-text search.
    pub q: Option<SearchQuery>,
    /// Only trashed documents (else only documents not in the trash).
    pub trashed: bool,
    /// Only documents sharing their SHA-256 with another live document of the owner.
    pub duplicates: bool,
    /// With `folder_id`: the documents of the folder's sub-folders (at any depth) too.
    pub include_subfolders: bool,
    /// Documents shared with the caller too (never trashed ones; not with `trashed` or
    /// `duplicates`, which are facts of the caller's own vault).
    pub include_shared: bool,
    /// Only documents of these (canonical, allowlisted) types; empty = any type.
    pub content_types: Vec<&'static str>,
    /// Only documents uploaded at or after this time.
    pub created_from: Option<DateTime<Utc>>,
    /// Only documents uploaded up to this bound.
    pub created_to: Option<CreatedTo>,
    /// Only documents of at least this many bytes.
    pub size_min: Option<i64>,
    /// Only documents of at most this many bytes.
    pub size_max: Option<i64>,
    /// Only documents dated on or after this day (`document_date`; undated ones never
    /// match a date range).
    pub document_date_from: Option<NaiveDate>,
    /// Only documents dated on or before this day.
    pub document_date_to: Option<NaiveDate>,
}

impl ListFilter {
    /// Whether shared documents take part: asked for, and not a question about the
    /// caller's own vault (the trash, duplicates).
    pub fn shared(&self) -> bool {
        self.include_shared && !self.trashed && !self.duplicates
    }
}

/// The upper bound of an upload-time range, inclusive as the caller wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreatedTo {
    /// Up to and including this instant (a date-time was given).
    Through(DateTime<Utc>),
    /// Before this instant (a date was given: the start of the next day, UTC).
    Before(DateTime<Utc>),
}

/// How a search counts its matches (the `count` parameter of the list).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CountMode {
    /// Up to `documents.search_max_hits`: a search that matched more reports that limit
    /// with `total_exact` false, at no cost beyond the page (the default).
    #[default]
    Bounded,
    /// Every match counted: a search that matched more than `documents.search_max_hits`
    /// runs one more statement counting all its matches (cost grows with them).
    Exact,
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
    /// Whether a search that matched more than `max_hits` counts all its matches (a
    /// plain list always counts exactly).
    pub count: CountMode,
}

/// One listed document and, in search results, its snippet.
#[derive(Debug, Clone)]
pub struct Listed {
    /// The document.
    pub doc: DocumentRow,
    /// Highlighted snippet (search only).
    pub snippet: Option<Vec<SnippetSegment>>,
}

impl Listed {
    /// Names `handle` as the owner of the rows owned by `owner` (the caller, whose
    /// handle is at hand), so that building their views looks up only other owners.
    pub fn name_owner(items: &mut [Listed], owner: UserId, handle: &str) {
        let owner = Uuid::from(owner);
        for i in items.iter_mut().filter(|i| i.doc.user_id == owner) {
            i.doc.owner_handle = Some(handle.to_owned());
        }
    }
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

/// One page of the caller's own documents, filtered, sorted, or searched (ranked by
/// relevance unless a sort is given), and how many documents match.
///
/// A search returns at most [`PageRequest::max_hits`] documents, so that a query
/// matching most of a vault (a very common word) costs about what a narrow one does:
/// with an explicit sort, the first `max_hits` matches in that order; by relevance, the
/// `max_hits` most recently uploaded matches, ranked. The total then reads `max_hits`
/// and is flagged inexact, unless [`PageRequest::count`] asks for the exact count
/// (then one more statement counts every match). `language` is the account's
/// `search_language` (read with the account when the request was authenticated), the
/// stemming a search's words get.
#[tracing::instrument(skip_all)]
pub async fn list(
    db: &DatabaseConnection,
    user: UserId,
    language: SearchLanguage,
    filter: &ListFilter,
    page: PageRequest,
) -> Result<(Vec<Listed>, Total), ApiError> {
    let (mut items, total) = match &filter.q {
        None => listing::list_plain(db, user, filter, page).await?,
        Some(q) => {
            if q.fts5.is_none() {
                // Nothing in the query could match a word.
                return Ok((Vec::new(), Total::exact(0)));
            }
            let q = &q.with_language(language);
            match db.get_database_backend() {
                DatabaseBackend::Postgres => {
                    // A statement prepared on a connection gets a generic plan after five
                    // runs, one blind to how common the words are: for a common word it
                    // reads every match instead of stopping at the limit (10 -> 70 ms).
                    // Each search is planned for its own words, in its own snapshot.
                    // Without parallel workers: a parallel plan takes two or three
                    // processes for one search, no faster alone (10 000 long documents,
                    // `the`: 41-48 vs 48-52 ms) and slower for everyone under concurrent
                    // searches on a few cores. Without sequential scans: the planner
                    // costs `@@` as one operator call, not as reading the document's
                    // whole vector, and read every vector of the table for a prefix
                    // matching half the account's documents (`refer*`, 10 000 long
                    // documents: 220-270 ms) instead of the GIN index (62-65 ms).
                    let txn = db.begin().await?;
                    txn.execute_unprepared(
                        "SET LOCAL plan_cache_mode = force_custom_plan; \
                         SET LOCAL max_parallel_workers_per_gather = 0; \
                         SET LOCAL enable_seqscan = off",
                    )
                    .await?;
                    let found = postgres::search_postgres(&txn, user, filter, q, page).await?;
                    txn.commit().await?;
                    found
                }
                _ => sqlite::search_sqlite(db, user, filter, q, page).await?,
            }
        }
    };
    duplicates::mark_originals(db, user, &mut items).await?;
    Ok((items, total))
}
