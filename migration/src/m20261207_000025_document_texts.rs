//! A document's extracted text and page provenance move out of `documents` into their
//! own table, `document_texts (document_id PK → documents ON DELETE CASCADE, body,
//! pages)`, one row per document that has text.
//!
//! Why: the text is by far the largest part of a document's row (hundreds of KiB for a
//! real manual). SQLite rewrites a whole record, overflow pages included, on every
//! `UPDATE` of any of its columns, so moving, trashing or re-filing 1 000 documents
//! rewrote every one of their texts; every read of a document row (access checks,
//! listings by id, the worker's claim) carried it along. Now `documents` holds only
//! what edits change, and the text is written when it is extracted and read where it
//! is shown, searched or learned from.
//!
//! The search indexes follow the text to its table, with the same content as before:
//! - SQLite: the FTS5 external-content view `documents_fts_source` joins the text; the
//!   triggers on `documents` (insert, change of owner or file name, and a `BEFORE
//!   DELETE` that removes the entry while the text row still exists — the cascade
//!   deletes it before `AFTER` triggers run) and on `document_texts` (insert, change,
//!   delete while the document remains) keep `documents_fts` in step. Nothing is
//!   re-indexed: the indexed values are unchanged.
//! - PostgreSQL: `document_search` is refreshed from the document's file name and text
//!   by one function, called by the triggers on both tables.
//!
//! Existing texts are copied; the two columns are then dropped from `documents`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{json_binary_null, text, text_null, uuid};

use crate::builders::cascade;
use crate::m20261207_000023_search_table::{sync_on_documents, vector_of};

/// Moves `documents.extracted_text` and `documents.text_pages` to `document_texts`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DocumentTexts {
    Table,
    DocumentId,
    Body,
    Pages,
}

#[derive(DeriveIden)]
enum Documents {
    Table,
    Id,
    ExtractedText,
    TextPages,
}

const COPY_UP: &str = "INSERT INTO document_texts (document_id, body, pages) \
     SELECT id, extracted_text, text_pages FROM documents WHERE extracted_text IS NOT NULL";

/// The FTS row of document `d` (a `documents` alias) with text `body`: rowid, owner
/// token, file name, body.
fn fts_values(d: &str, body: &str) -> String {
    format!("{d}.search_rowid, 'u' || hex({d}.user_id), {d}.filename, {body}")
}

/// SQL statements that remove (`'delete'`) or add the FTS entry of the documents rows
/// `d` selected by `filter`, with text `body`.
fn fts_delete(d: &str, body: &str, filter: &str) -> String {
    format!(
        "INSERT INTO documents_fts (documents_fts, rowid, owner, filename, body) \
         SELECT 'delete', {} FROM documents {d} WHERE {filter};",
        fts_values(d, body)
    )
}

fn fts_insert(d: &str, body: &str, filter: &str) -> String {
    format!(
        "INSERT INTO documents_fts (rowid, owner, filename, body) \
         SELECT {} FROM documents {d} WHERE {filter};",
        fts_values(d, body)
    )
}

/// The text of the document with id `id`, or NULL.
fn text_of(id: &str) -> String {
    format!("(SELECT t.body FROM document_texts t WHERE t.document_id = {id})")
}

fn sqlite_up() -> Vec<String> {
    [
        "DROP TRIGGER IF EXISTS documents_fts_ai".to_owned(),
        "DROP TRIGGER IF EXISTS documents_fts_au".to_owned(),
        "DROP TRIGGER IF EXISTS documents_fts_ad".to_owned(),
        "DROP VIEW IF EXISTS documents_fts_source".to_owned(),
        COPY_UP.to_owned(),
    ]
    .into_iter()
    .chain(sqlite_index_objects())
    .chain([
        "ALTER TABLE documents DROP COLUMN extracted_text".to_owned(),
        "ALTER TABLE documents DROP COLUMN text_pages".to_owned(),
    ])
    .collect()
}

/// The view and the triggers this migration makes (what `…_000026_search_languages`
/// goes back to).
pub(crate) fn sqlite_index_objects() -> Vec<String> {
    let old_doc = "d.id = OLD.document_id";
    let new_doc = "d.id = NEW.document_id";
    vec![
        "CREATE VIEW documents_fts_source AS \
         SELECT d.search_rowid, 'u' || hex(d.user_id) AS owner, d.filename, t.body \
         FROM documents d LEFT JOIN document_texts t ON t.document_id = d.id"
            .to_owned(),
        format!(
            "CREATE TRIGGER documents_fts_ai AFTER INSERT ON documents BEGIN \
               UPDATE documents SET search_rowid = \
                 (SELECT COALESCE(MAX(search_rowid), 0) + 1 FROM documents) \
               WHERE rowid = NEW.rowid; \
               {} \
             END",
            fts_insert("d", &text_of("d.id"), "d.rowid = NEW.rowid")
        ),
        format!(
            "CREATE TRIGGER documents_fts_au AFTER UPDATE OF user_id, filename ON documents \
             BEGIN \
               INSERT INTO documents_fts (documents_fts, rowid, owner, filename, body) \
                 VALUES ('delete', OLD.search_rowid, 'u' || hex(OLD.user_id), OLD.filename, \
                         {text}); \
               INSERT INTO documents_fts (rowid, owner, filename, body) \
                 VALUES (NEW.search_rowid, 'u' || hex(NEW.user_id), NEW.filename, {text}); \
             END",
            text = text_of("NEW.id")
        ),
        format!(
            "CREATE TRIGGER documents_fts_bd BEFORE DELETE ON documents BEGIN \
               INSERT INTO documents_fts (documents_fts, rowid, owner, filename, body) \
                 VALUES ('delete', OLD.search_rowid, 'u' || hex(OLD.user_id), OLD.filename, \
                         {}); \
             END",
            text_of("OLD.id")
        ),
        format!(
            "CREATE TRIGGER document_texts_fts_ai AFTER INSERT ON document_texts BEGIN {} {} END",
            fts_delete("d", "NULL", new_doc),
            fts_insert("d", "NEW.body", new_doc)
        ),
        format!(
            "CREATE TRIGGER document_texts_fts_au AFTER UPDATE OF body ON document_texts \
             BEGIN {} {} END",
            fts_delete("d", "OLD.body", old_doc),
            fts_insert("d", "NEW.body", new_doc)
        ),
        // While the document remains (its text cleared for a new version); when the
        // document itself is deleted, its row is already gone and this does nothing.
        format!(
            "CREATE TRIGGER document_texts_fts_ad AFTER DELETE ON document_texts BEGIN {} {} END",
            fts_delete("d", "OLD.body", old_doc),
            fts_insert("d", "NULL", old_doc)
        ),
    ]
}

/// Back to the columns, the view and the triggers of `…_000003_document_search`.
fn sqlite_down() -> Vec<String> {
    vec![
        "DROP TRIGGER IF EXISTS document_texts_fts_ad".to_owned(),
        "DROP TRIGGER IF EXISTS document_texts_fts_au".to_owned(),
        "DROP TRIGGER IF EXISTS document_texts_fts_ai".to_owned(),
        "DROP TRIGGER IF EXISTS documents_fts_bd".to_owned(),
        "DROP TRIGGER IF EXISTS documents_fts_au".to_owned(),
        "DROP TRIGGER IF EXISTS documents_fts_ai".to_owned(),
        "DROP VIEW IF EXISTS documents_fts_source".to_owned(),
        COPY_DOWN.to_owned(),
        "CREATE VIEW documents_fts_source AS \
         SELECT search_rowid, 'u' || hex(user_id) AS owner, filename, extracted_text AS body \
         FROM documents"
            .to_owned(),
        "CREATE TRIGGER documents_fts_ai AFTER INSERT ON documents BEGIN \
           UPDATE documents SET search_rowid = \
             (SELECT COALESCE(MAX(search_rowid), 0) + 1 FROM documents) \
           WHERE rowid = NEW.rowid; \
           INSERT INTO documents_fts (rowid, owner, filename, body) \
             SELECT search_rowid, 'u' || hex(user_id), filename, extracted_text \
             FROM documents WHERE rowid = NEW.rowid; \
         END"
        .to_owned(),
        "CREATE TRIGGER documents_fts_au \
         AFTER UPDATE OF user_id, filename, extracted_text ON documents BEGIN \
           INSERT INTO documents_fts (documents_fts, rowid, owner, filename, body) \
             VALUES ('delete', OLD.search_rowid, 'u' || hex(OLD.user_id), OLD.filename, \
                     OLD.extracted_text); \
           INSERT INTO documents_fts (rowid, owner, filename, body) \
             VALUES (NEW.search_rowid, 'u' || hex(NEW.user_id), NEW.filename, NEW.extracted_text); \
         END"
        .to_owned(),
        "CREATE TRIGGER documents_fts_ad AFTER DELETE ON documents BEGIN \
           INSERT INTO documents_fts (documents_fts, rowid, owner, filename, body) \
             VALUES ('delete', OLD.search_rowid, 'u' || hex(OLD.user_id), OLD.filename, \
                     OLD.extracted_text); \
         END"
        .to_owned(),
    ]
}

const COPY_DOWN: &str = "UPDATE documents SET \
     extracted_text = (SELECT t.body FROM document_texts t WHERE t.document_id = documents.id), \
     text_pages = (SELECT t.pages FROM document_texts t WHERE t.document_id = documents.id)";

fn postgres_up() -> Vec<String> {
    vec![
        COPY_UP.to_owned(),
        "DROP TRIGGER IF EXISTS documents_search_update ON documents".to_owned(),
        "DROP TRIGGER IF EXISTS documents_search_insert ON documents".to_owned(),
        "DROP FUNCTION IF EXISTS docuvault_document_search_sync()".to_owned(),
        // One place makes a document's vector, from its row and its text row; a document
        // that no longer exists (a cascade from its deletion) has nothing to refresh.
        format!(
            "CREATE FUNCTION docuvault_document_search_refresh(doc uuid) RETURNS void \
             LANGUAGE sql AS $$ \
               INSERT INTO document_search (document_id, user_id, search_vector) \
               SELECT d.id, d.user_id, {} \
               FROM documents d LEFT JOIN document_texts t ON t.document_id = d.id \
               WHERE d.id = doc \
               ON CONFLICT (document_id) DO UPDATE \
                 SET user_id = EXCLUDED.user_id, search_vector = EXCLUDED.search_vector \
             $$",
            vector_of("d.filename", "t.body")
        ),
        "CREATE FUNCTION docuvault_documents_search_sync() RETURNS trigger \
         LANGUAGE plpgsql AS $$ BEGIN \
           PERFORM docuvault_document_search_refresh(NEW.id); RETURN NULL; \
         END $$"
            .to_owned(),
        "CREATE FUNCTION docuvault_document_texts_search_sync() RETURNS trigger \
         LANGUAGE plpgsql AS $$ BEGIN \
           IF TG_OP = 'DELETE' THEN \
             PERFORM docuvault_document_search_refresh(OLD.document_id); \
           ELSE \
             PERFORM docuvault_document_search_refresh(NEW.document_id); \
           END IF; \
           RETURN NULL; \
         END $$"
            .to_owned(),
        "CREATE TRIGGER documents_search_insert AFTER INSERT ON documents \
         FOR EACH ROW EXECUTE FUNCTION docuvault_documents_search_sync()"
            .to_owned(),
        "CREATE TRIGGER documents_search_update \
         AFTER UPDATE OF user_id, filename ON documents FOR EACH ROW \
         WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id \
               OR OLD.filename IS DISTINCT FROM NEW.filename) \
         EXECUTE FUNCTION docuvault_documents_search_sync()"
            .to_owned(),
        "CREATE TRIGGER document_texts_search_insert_delete \
         AFTER INSERT OR DELETE ON document_texts \
         FOR EACH ROW EXECUTE FUNCTION docuvault_document_texts_search_sync()"
            .to_owned(),
        "CREATE TRIGGER document_texts_search_update AFTER UPDATE OF body ON document_texts \
         FOR EACH ROW WHEN (OLD.body IS DISTINCT FROM NEW.body) \
         EXECUTE FUNCTION docuvault_document_texts_search_sync()"
            .to_owned(),
        "ALTER TABLE documents DROP COLUMN extracted_text".to_owned(),
        "ALTER TABLE documents DROP COLUMN text_pages".to_owned(),
    ]
}

/// Back to the columns and the triggers of `…_000023_search_table`.
fn postgres_down() -> Vec<String> {
    vec![
        "DROP TRIGGER IF EXISTS document_texts_search_update ON document_texts".to_owned(),
        "DROP TRIGGER IF EXISTS document_texts_search_insert_delete ON document_texts".to_owned(),
        "DROP TRIGGER IF EXISTS documents_search_update ON documents".to_owned(),
        "DROP TRIGGER IF EXISTS documents_search_insert ON documents".to_owned(),
        "DROP FUNCTION IF EXISTS docuvault_document_texts_search_sync()".to_owned(),
        "DROP FUNCTION IF EXISTS docuvault_documents_search_sync()".to_owned(),
        "DROP FUNCTION IF EXISTS docuvault_document_search_refresh(uuid)".to_owned(),
        COPY_DOWN.to_owned(),
    ]
    .into_iter()
    .chain(sync_on_documents())
    .collect()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DocumentTexts::Table)
                    .if_not_exists()
                    .col(uuid(DocumentTexts::DocumentId).primary_key())
                    .col(text(DocumentTexts::Body))
                    .col(json_binary_null(DocumentTexts::Pages))
                    .foreign_key(&mut cascade(
                        "fk_document_texts_document_id",
                        (DocumentTexts::Table, DocumentTexts::DocumentId),
                        (Documents::Table, Documents::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        let statements = if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            postgres_up()
        } else {
            sqlite_up()
        };
        // One batch: on SQLite, another connection of the pool could otherwise still hold
        // the schema from before the view and triggers were replaced.
        manager
            .get_connection()
            .execute_unprepared(&statements.join(";\n"))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The columns as `…_000001_initial` and `…_000007_ocr` made them.
        for column in [
            text_null(Documents::ExtractedText),
            json_binary_null(Documents::TextPages),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Documents::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        let statements = if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            postgres_down()
        } else {
            sqlite_down()
        };
        manager
            .get_connection()
            .execute_unprepared(&statements.join(";\n"))
            .await?;
        crate::builders::drop_tables(manager, [DocumentTexts::Table]).await
    }
}
