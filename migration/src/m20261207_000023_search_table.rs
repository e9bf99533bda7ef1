//! PostgreSQL keeps each document's search vector in its own table, `document_search`,
//! instead of a stored generated column of `documents`.
//!
//! A stored generated column is computed again on every `UPDATE` of its row, whatever
//! the statement changes, and every update that moves a row to a new tuple (any change
//! of an indexed column: folder, trash, status) inserts each of its words into the GIN
//! index again. Moving or trashing 1 000 documents thus parsed 1 000 texts and wrote
//! every one of their words to the index. Now the vector is written by a trigger only
//! when what it is made of (owner, file name, extracted text) changes, and edits of a
//! document's other fields never touch it or its index.
//!
//! `document_search (document_id PK → documents ON DELETE CASCADE, user_id,
//! search_vector)`, the vector made exactly as before (file name with weight A, the
//! first 100 000 characters of the text with weight B, configuration `simple`), stored
//! `MAIN` (inline, compressed: see `…_000004`), GIN-indexed; `user_id` (indexed) lets a
//! search of one account intersect that account's rows inside the index scan. Existing
//! vectors are copied, not computed again. SQLite: nothing (its FTS triggers already
//! fire only on changes of owner, file name or text).

use sea_orm_migration::prelude::*;

use crate::m20261124_000003_document_search::PG_INDEXED_TEXT_CHARS;

/// Moves the PostgreSQL search vector into `document_search`.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// The search vector of a document from SQL expressions for its file name and its text
/// (`NEW.filename` in a trigger, plain column names in a generated column).
pub(crate) fn vector_of(filename: &str, text: &str) -> String {
    format!(
        "setweight(to_tsvector('simple'::regconfig, coalesce({filename}, '')) || \
                   to_tsvector('simple'::regconfig, \
                               regexp_replace(coalesce({filename}, ''), '[[:punct:]]+', ' ', 'g')), \
                   'A') || \
         setweight(to_tsvector('simple'::regconfig, \
                               left(coalesce({text}, ''), {PG_INDEXED_TEXT_CHARS})), 'B')"
    )
}

fn postgres_up() -> Vec<String> {
    vec![
        "CREATE TABLE document_search ( \
           document_id uuid PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE, \
           user_id uuid NOT NULL, \
           search_vector tsvector NOT NULL)"
            .to_owned(),
        "ALTER TABLE document_search ALTER COLUMN search_vector SET STORAGE MAIN".to_owned(),
        format!(
            "CREATE FUNCTION docuvault_document_search_sync() RETURNS trigger \
             LANGUAGE plpgsql AS $$ BEGIN \
               INSERT INTO document_search (document_id, user_id, search_vector) \
               VALUES (NEW.id, NEW.user_id, {}) \
               ON CONFLICT (document_id) DO UPDATE \
                 SET user_id = EXCLUDED.user_id, search_vector = EXCLUDED.search_vector; \
               RETURN NULL; \
             END $$",
            vector_of("NEW.filename", "NEW.extracted_text")
        ),
        "CREATE TRIGGER documents_search_insert AFTER INSERT ON documents \
         FOR EACH ROW EXECUTE FUNCTION docuvault_document_search_sync()"
            .to_owned(),
        "CREATE TRIGGER documents_search_update \
         AFTER UPDATE OF user_id, filename, extracted_text ON documents FOR EACH ROW \
         WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id \
               OR OLD.filename IS DISTINCT FROM NEW.filename \
               OR OLD.extracted_text IS DISTINCT FROM NEW.extracted_text) \
         EXECUTE FUNCTION docuvault_document_search_sync()"
            .to_owned(),
        "INSERT INTO document_search (document_id, user_id, search_vector) \
         SELECT id, user_id, search_vector FROM documents"
            .to_owned(),
        "DROP INDEX IF EXISTS idx_documents_search".to_owned(),
        "ALTER TABLE documents DROP COLUMN IF EXISTS search_vector".to_owned(),
        "CREATE INDEX idx_document_search_vector ON document_search USING GIN (search_vector)"
            .to_owned(),
        "CREATE INDEX idx_document_search_user ON document_search (user_id)".to_owned(),
    ]
}

/// Back to the generated column (computed again for every row) and its index.
fn postgres_down() -> Vec<String> {
    vec![
        "DROP TRIGGER IF EXISTS documents_search_update ON documents".to_owned(),
        "DROP TRIGGER IF EXISTS documents_search_insert ON documents".to_owned(),
        "DROP FUNCTION IF EXISTS docuvault_document_search_sync()".to_owned(),
        "DROP TABLE IF EXISTS document_search".to_owned(),
        format!(
            "ALTER TABLE documents ADD COLUMN search_vector tsvector \
             GENERATED ALWAYS AS ({}) STORED",
            vector_of("filename", "extracted_text")
        ),
        "ALTER TABLE documents ALTER COLUMN search_vector SET STORAGE MAIN".to_owned(),
        "CREATE INDEX IF NOT EXISTS idx_documents_search ON documents USING GIN (search_vector)"
            .to_owned(),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            let conn = manager.get_connection();
            for sql in postgres_up() {
                conn.execute_unprepared(&sql).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            let conn = manager.get_connection();
            for sql in postgres_down() {
                conn.execute_unprepared(&sql).await?;
            }
        }
        Ok(())
    }
}
