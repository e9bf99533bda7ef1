//! The SQL builder the read path shares: statement text with placeholders in the
//! connection's dialect, the owner-scoped filters, sort terms, paging and counting.

use sea_orm::{ConnectionTrait, DatabaseBackend, Statement, Value};

use super::{CreatedTo, ListFilter, PageRequest, SortKey, SortOrder};
use crate::domain::UserId;
use crate::entities::DocumentStatus;
use crate::error::ApiError;

/// The columns a document view needs, and `hash_live_count`: how many live documents
/// of the owner have the same bytes (a primary-key lookup in `document_hash_counts`; none
/// when no live document has them), which tells the few rows whose original
/// (`duplicate_of`) is worth looking up ([`super::duplicates::mark_originals`]). Only
/// ever in the outer query of a page, so it is read for the page's rows alone. (The
/// original itself and the owner's handle used to be correlated subqueries here: each
/// made every list and search plan slower to build, found or not.)
pub(super) const VIEW_COLUMNS: &str = "d.id, d.user_id, d.folder_id, d.filename, d.content_type, \
     d.size_bytes, d.sha256, d.status, d.last_error, d.ai_opt_out, d.classified_by, \
     d.created_at, d.updated_at, d.status_reason, d.thumbnail_key, d.progress_page, \
     d.progress_pages, d.trashed_at, d.document_date, d.document_date_source, d.page_count, \
     (SELECT h.live_count FROM document_hash_counts h \
      WHERE h.user_id = d.user_id AND h.sha256 = d.sha256) AS hash_live_count";

/// SQL text with placeholders in the connection's dialect (`$n` / `?n`).
pub(super) struct Sql {
    backend: DatabaseBackend,
    text: String,
    values: Vec<Value>,
    /// A statement counting a search's candidates (`ranked::count_candidates`): with an
    /// exact count asked for, its candidates have neither order nor limit.
    counting: bool,
}

impl Sql {
    pub(super) fn new(backend: DatabaseBackend) -> Self {
        Self {
            backend,
            text: String::new(),
            values: Vec::new(),
            counting: false,
        }
    }

    /// Marks this statement as the count of a search's candidates.
    pub(super) fn set_counting(&mut self) {
        self.counting = true;
    }

    /// Whether this statement counts a search's candidates.
    pub(super) fn is_counting(&self) -> bool {
        self.counting
    }

    pub(super) fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    pub(super) fn bind(&mut self, v: impl Into<Value>) -> &mut Self {
        self.values.push(v.into());
        let n = self.values.len();
        let placeholder = match self.backend {
            DatabaseBackend::Postgres => format!("${n}"),
            _ => format!("?{n}"),
        };
        self.text.push_str(&placeholder);
        self
    }

    pub(super) fn statement(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text, self.values)
    }
}

/// The owner-scoped WHERE clause over alias `d`. The `status <> 'pending'` literal (in
/// the SQL text, not a bound value) lets the partial list indexes serve the query.
///
/// Every filter only adds its clause when it is set, so the default list's statement (and
/// its index-only scan) stays as it is. With shared documents (searches; the plain list
/// uses [`push_shared_source`] instead) the owner is the caller or one of the accounts
/// that shared with the caller, and a document of another owner must be shared with the
/// caller.
pub(super) fn push_filters(sql: &mut Sql, user: UserId, filter: &ListFilter) {
    if filter.shared() {
        sql.push("d.user_id IN (SELECT ")
            .bind(user)
            .push(" UNION SELECT s.owner_id FROM shares s WHERE s.recipient_id = ")
            .bind(user)
            .push(") AND (d.user_id = ")
            .bind(user)
            .push(" OR d.id IN (SELECT s.document_id FROM shares s WHERE s.recipient_id = ")
            .bind(user)
            .push("))");
    } else {
        sql.push("d.user_id = ").bind(user);
    }
    sql.push(" AND ");
    push_conditions(sql, user, filter);
}

/// The two sources of a list with shared documents, each `SELECT`ing `columns` over alias
/// `d` with the filters' conditions and then `tail` (an `ORDER BY … LIMIT`, or nothing),
/// joined by `UNION ALL`: the caller's own documents (off the list indexes) and those
/// shared with the caller (off `shares`). Each ordered and limited on its own, PostgreSQL
/// merges them (Merge Append) instead of reading every document of the caller.
pub(super) fn push_shared_source(
    sql: &mut Sql,
    user: UserId,
    filter: &ListFilter,
    columns: &str,
    tail: impl Fn(&mut Sql),
) {
    sql.push(&format!(
        "SELECT * FROM (SELECT {columns} FROM documents d WHERE d.user_id = "
    ))
    .bind(user)
    .push(" AND ");
    push_conditions(sql, user, filter);
    tail(sql);
    sql.push(&format!(
        ") own UNION ALL SELECT * FROM (SELECT {columns} FROM shares s \
         JOIN documents d ON d.id = s.document_id WHERE s.recipient_id = "
    ))
    .bind(user)
    .push(" AND ");
    push_conditions(sql, user, filter);
    tail(sql);
    sql.push(") shared");
}

/// The conditions after the owner (alias `d`): status, trash, duplicates, folder, topic,
/// type, upload time, size and document date.
fn push_conditions(sql: &mut Sql, user: UserId, filter: &ListFilter) {
    let pending = DocumentStatus::Pending.as_str();
    match filter.status {
        Some(DocumentStatus::Pending) => {
            sql.push(&format!("d.status = '{pending}'"));
        }
        Some(s) => {
            sql.push(&format!("d.status <> '{pending}' AND d.status = "))
                .bind(s);
        }
        None => {
            sql.push(&format!("d.status <> '{pending}'"));
        }
    }
    if filter.trashed {
        sql.push(" AND d.trashed_at IS NOT NULL");
    } else {
        sql.push(" AND d.trashed_at IS NULL");
    }
    if filter.duplicates {
        if filter.trashed || filter.status == Some(DocumentStatus::Pending) {
            // `d` is not live: another live document of the owner with its bytes, probed
            // per row of the (small) trash or pending set.
            sql.push(&format!(
                " AND d.sha256 IS NOT NULL AND EXISTS (SELECT 1 FROM documents o \
                 WHERE o.user_id = d.user_id AND o.sha256 = d.sha256 AND o.id <> d.id \
                 AND o.status <> '{pending}' AND o.trashed_at IS NULL)"
            ));
        } else {
            // `d` is live (never a shared document: `ListFilter::shared`): its hash has
            // another live document when the owner's count of it is above one. The
            // owner's duplicated hashes come off `idx_document_hash_counts_duplicated`
            // (kept by triggers on `documents`), so this costs O(duplicates), not a probe
            // per live document.
            sql.push(
                " AND d.sha256 IN (SELECT h.sha256 FROM document_hash_counts h \
                 WHERE h.user_id = ",
            )
            .bind(user)
            .push(" AND h.live_count > 1)");
        }
    }
    match filter.folder_id {
        Some(folder) if filter.include_subfolders => {
            // The folder (the caller's) and every folder below it.
            sql.push(
                " AND d.folder_id IN (WITH RECURSIVE sub(id) AS (SELECT f.id FROM folders f \
                 WHERE f.id = ",
            )
            .bind(folder)
            .push(" AND f.user_id = ")
            .bind(user)
            .push(
                " UNION ALL SELECT f.id FROM folders f JOIN sub ON f.parent_id = sub.id) \
                 SELECT id FROM sub)",
            );
        }
        Some(folder) => {
            sql.push(" AND d.folder_id = ").bind(folder);
        }
        None => {}
    }
    if !filter.content_types.is_empty() {
        sql.push(" AND d.content_type IN (");
        for (i, t) in filter.content_types.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind(*t);
        }
        sql.push(")");
    }
    if let Some(from) = filter.created_from {
        sql.push(" AND d.created_at >= ").bind(from);
    }
    match filter.created_to {
        Some(CreatedTo::Through(to)) => {
            sql.push(" AND d.created_at <= ").bind(to);
        }
        Some(CreatedTo::Before(to)) => {
            sql.push(" AND d.created_at < ").bind(to);
        }
        None => {}
    }
    if let Some(min) = filter.size_min {
        sql.push(" AND d.size_bytes >= ").bind(min);
    }
    if let Some(max) = filter.size_max {
        sql.push(" AND d.size_bytes <= ").bind(max);
    }
    if let Some(from) = filter.document_date_from {
        sql.push(" AND d.document_date >= ").bind(from);
    }
    if let Some(to) = filter.document_date_to {
        sql.push(" AND d.document_date <= ").bind(to);
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
pub(super) fn sort_column(sort: SortKey) -> &'static str {
    match sort {
        SortKey::CreatedAt => "d.created_at",
        SortKey::Name => "d.filename",
        SortKey::Size => "d.size_bytes",
        SortKey::TrashedAt => "d.trashed_at",
        SortKey::DocumentDate => "d.document_date",
    }
}

/// What a sort key adds to its direction: `NULLS LAST` for the document date, so undated
/// documents come last both ways (on PostgreSQL `ASC` already does; `DESC` is served by
/// `idx_documents_list_date_desc`; SQLite serves both from `idx_documents_list_date`).
/// Nothing for the other keys, whose statements stay as they were.
pub(super) fn nulls(sort: SortKey) -> &'static str {
    match sort {
        SortKey::DocumentDate => " NULLS LAST",
        SortKey::CreatedAt | SortKey::Name | SortKey::Size | SortKey::TrashedAt => "",
    }
}

pub(super) fn direction(order: SortOrder) -> &'static str {
    match order {
        SortOrder::Asc => "ASC",
        SortOrder::Desc => "DESC",
    }
}

/// `ORDER BY` terms over alias `d` (ties broken by id, so pages never overlap).
pub(super) fn order_terms(sort: SortKey, order: SortOrder) -> String {
    let dir = direction(order);
    format!("{} {dir}{}, d.id {dir}", sort_column(sort), nulls(sort))
}

pub(super) fn limit_offset(sql: &mut Sql, page: PageRequest) {
    let limit = i64::try_from(page.per_page).unwrap_or(100);
    let offset = i64::try_from(page.page.saturating_sub(1).saturating_mul(page.per_page))
        .unwrap_or(i64::MAX);
    sql.push(" LIMIT ")
        .bind(limit)
        .push(" OFFSET ")
        .bind(offset);
}

pub(super) async fn count(db: &impl ConnectionTrait, sql: Sql) -> Result<u64, ApiError> {
    let row = db.query_one_raw(sql.statement()).await?;
    let n: i64 = match row {
        Some(r) => r.try_get("", "n")?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}
