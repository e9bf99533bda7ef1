//! The documents read path: indexes for every list filter and sort, and full-text search
//! over filename + extracted text.
//!
//! * Listing: partial indexes `(user_id, <sort key>, id, status) WHERE status <>
//!   'pending'` serve each sort in both directions with index-only scans (`status` is
//!   there only so SQLite sees the index as covering when skipping rows of deep pages); `(user_id,
//!   folder_id, created_at, id)` the folder view; `(user_id, status)` the status filter and
//!   the pending-upload count.
//! * PostgreSQL search: a stored generated `tsvector` column `search_vector` (filename with
//!   weight A, the first 100 000 characters of the extracted text with weight B, text
//!   search configuration `simple`) and a GIN index on it. Adding the column computes it
//!   for existing rows, so old documents are searchable at once.
//! * SQLite search: an FTS5 external-content table `documents_fts(owner, filename, body)`
//!   reading from the view `documents_fts_source`, kept in sync by triggers on
//!   `documents`. Its rowid is `documents.search_rowid`, a stable integer (the implicit
//!   rowid of a table without an INTEGER PRIMARY KEY may change on `VACUUM`). `owner` is
//!   a token naming the owning account so a search intersects that account's documents
//!   inside the index. Existing rows are numbered and indexed by the migration.
//!
//! Why `simple` / `unicode61` and no stemming: a vault holds documents in any language;
//! an English stemmer and stop-word list mangle other languages and drop words people do
//! search for. Both backends thus match whole words, case-insensitively, the same way.

use sea_orm_migration::prelude::*;

/// Adds the list indexes and the full-text search structures.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// Indexes both backends get (plain SQL both accept; partial indexes need the literal
/// predicate in queries, which the list code writes out verbatim).
const LIST_INDEXES: &[(&str, &str)] = &[
    (
        "idx_documents_list_created",
        "CREATE INDEX IF NOT EXISTS idx_documents_list_created ON documents \
         (user_id, created_at, id, status) WHERE status <> 'pending'",
    ),
    (
        "idx_documents_list_name",
        "CREATE INDEX IF NOT EXISTS idx_documents_list_name ON documents \
         (user_id, filename, id, status) WHERE status <> 'pending'",
    ),
    (
        "idx_documents_list_size",
        "CREATE INDEX IF NOT EXISTS idx_documents_list_size ON documents \
         (user_id, size_bytes, id, status) WHERE status <> 'pending'",
    ),
    (
        "idx_documents_list_folder",
        "CREATE INDEX IF NOT EXISTS idx_documents_list_folder ON documents \
         (user_id, folder_id, created_at, id, status) WHERE status <> 'pending'",
    ),
    (
        "idx_documents_user_status",
        "CREATE INDEX IF NOT EXISTS idx_documents_user_status ON documents (user_id, status)",
    ),
];

/// Characters of extracted text that go into the PostgreSQL `tsvector` (which is capped
/// at 1 MiB; this keeps any text well below it).
pub const PG_INDEXED_TEXT_CHARS: u32 = 100_000;

fn postgres_up() -> Vec<String> {
    vec![
        format!(
            "ALTER TABLE documents ADD COLUMN IF NOT EXISTS search_vector tsvector \
             GENERATED ALWAYS AS ( \
               setweight(to_tsvector('simple'::regconfig, coalesce(filename, '')) || \
                         to_tsvector('simple'::regconfig, \
                                     regexp_replace(coalesce(filename, ''), '[[:punct:]]+', ' ', 'g')), \
                         'A') || \
               setweight(to_tsvector('simple'::regconfig, \
                                     left(coalesce(extracted_text, ''), {PG_INDEXED_TEXT_CHARS})), 'B') \
             ) STORED"
        ),
        "CREATE INDEX IF NOT EXISTS idx_documents_search ON documents USING GIN (search_vector)"
            .to_owned(),
    ]
}

const POSTGRES_DOWN: &[&str] = &[
    "DROP INDEX IF EXISTS idx_documents_search",
    "ALTER TABLE documents DROP COLUMN IF EXISTS search_vector",
];

/// The owner token of a documents row (`u` + hex of the stored id), as the FTS index
/// and the search query both spell it.
const SQLITE_UP: &[&str] = &[
    "ALTER TABLE documents ADD COLUMN search_rowid INTEGER",
    "UPDATE documents SET search_rowid = rowid",
    "CREATE UNIQUE INDEX IF NOT EXISTS uq_documents_search_rowid ON documents (search_rowid)",
    "CREATE VIEW IF NOT EXISTS documents_fts_source AS \
     SELECT search_rowid, 'u' || hex(user_id) AS owner, filename, extracted_text AS body \
     FROM documents",
    "CREATE VIRTUAL TABLE IF NOT EXISTS documents_fts USING fts5( \
       owner, filename, body, \
       content = 'documents_fts_source', content_rowid = 'search_rowid', \
       tokenize = 'unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS documents_fts_ai AFTER INSERT ON documents BEGIN \
       UPDATE documents SET search_rowid = \
         (SELECT COALESCE(MAX(search_rowid), 0) + 1 FROM documents) \
       WHERE rowid = NEW.rowid; \
       INSERT INTO documents_fts (rowid, owner, filename, body) \
         SELECT search_rowid, 'u' || hex(user_id), filename, extracted_text \
         FROM documents WHERE rowid = NEW.rowid; \
     END",
    "CREATE TRIGGER IF NOT EXISTS documents_fts_au \
     AFTER UPDATE OF user_id, filename, extracted_text ON documents BEGIN \
       INSERT INTO documents_fts (documents_fts, rowid, owner, filename, body) \
         VALUES ('delete', OLD.search_rowid, 'u' || hex(OLD.user_id), OLD.filename, \
                 OLD.extracted_text); \
       INSERT INTO documents_fts (rowid, owner, filename, body) \
         VALUES (NEW.search_rowid, 'u' || hex(NEW.user_id), NEW.filename, NEW.extracted_text); \
     END",
    "CREATE TRIGGER IF NOT EXISTS documents_fts_ad AFTER DELETE ON documents BEGIN \
       INSERT INTO documents_fts (documents_fts, rowid, owner, filename, body) \
         VALUES ('delete', OLD.search_rowid, 'u' || hex(OLD.user_id), OLD.filename, \
                 OLD.extracted_text); \
     END",
    // Index the rows that existed before this migration.
    "INSERT INTO documents_fts (documents_fts) VALUES ('rebuild')",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS documents_fts_ad",
    "DROP TRIGGER IF EXISTS documents_fts_au",
    "DROP TRIGGER IF EXISTS documents_fts_ai",
    "DROP TABLE IF EXISTS documents_fts",
    "DROP VIEW IF EXISTS documents_fts_source",
    "DROP INDEX IF EXISTS uq_documents_search_rowid",
    "ALTER TABLE documents DROP COLUMN search_rowid",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        for (_, sql) in LIST_INDEXES {
            conn.execute_unprepared(sql).await?;
        }
        match manager.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => {
                for sql in postgres_up() {
                    conn.execute_unprepared(&sql).await?;
                }
            }
            sea_orm::DatabaseBackend::Sqlite => {
                for sql in SQLITE_UP {
                    conn.execute_unprepared(sql).await?;
                }
            }
            other => {
                return Err(DbErr::Migration(format!(
                    "unsupported database backend {other:?}"
                )));
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        let statements: &[&str] = match manager.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => POSTGRES_DOWN,
            _ => SQLITE_DOWN,
        };
        for sql in statements {
            conn.execute_unprepared(sql).await?;
        }
        for (name, _) in LIST_INDEXES.iter().rev() {
            conn.execute_unprepared(&format!("DROP INDEX IF EXISTS {name}"))
                .await?;
        }
        Ok(())
    }
}
