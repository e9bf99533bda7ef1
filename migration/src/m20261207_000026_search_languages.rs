//! Language-aware search (issue 17): each account's `users.search_language` (`simple`,
//! `english` or `german`; existing accounts `simple`, exactly as they searched before) and
//! `document_stems (document_id PK → documents ON DELETE CASCADE, language, stems)`: the
//! distinct Snowball stems of a document's text in its owner's language, each tagged with
//! the language (`enrun`, `derechnung`), written by the application (stemming is not SQL).
//! A document without a row has no stems: `simple`, or not stemmed yet.
//!
//! The stems are indexed beside the text, so that a stemmed query term matches them and
//! only them:
//! - SQLite: `documents_fts` gains a fourth column, `stems` (an FTS5 table cannot gain a
//!   column: it is made again and rebuilt from its source view once, which reads every
//!   text — minutes for a vault of many long documents). Triggers on `document_stems`
//!   keep it in step like those on `document_texts`.
//! - PostgreSQL: `docuvault_document_search_refresh` adds the stems to the vector with
//!   weight `C` (the file name is `A`, the text `B`), called by triggers on
//!   `document_stems` too. Existing vectors stay as they are: no document has stems yet.
//!
//! Stems are derived data: the application fills them in the background for accounts
//! whose language is not `simple` (`documents::search::stemming`).

use sea_orm::sea_query::Expr;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{text, uuid};

use crate::builders::{cascade, drop_tables};
use crate::m20261207_000023_search_table::vector_of;
use crate::m20261207_000025_document_texts::sqlite_index_objects;

/// Adds `users.search_language` and `document_stems`, and indexes the stems.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DocumentStems {
    Table,
    DocumentId,
    Language,
    Stems,
}

#[derive(DeriveIden)]
enum Documents {
    Table,
    Id,
}

const ADD_LANGUAGE: &str = "ALTER TABLE users ADD COLUMN search_language TEXT NOT NULL \
     DEFAULT 'simple' CHECK (search_language IN ('simple', 'english', 'german'))";

/// The FTS values of the documents row `d`, with text `body` and stems `stems`.
fn fts_values(d: &str, body: &str, stems: &str) -> String {
    format!("{d}.search_rowid, 'u' || hex({d}.user_id), {d}.filename, {body}, {stems}")
}

const FTS_COLUMNS: &str = "rowid, owner, filename, body, stems";

/// Removes the FTS entry of the documents rows `d` selected by `filter`, indexed with
/// `body` and `stems`.
fn fts_delete(d: &str, body: &str, stems: &str, filter: &str) -> String {
    format!(
        "INSERT INTO documents_fts (documents_fts, {FTS_COLUMNS}) \
         SELECT 'delete', {} FROM documents {d} WHERE {filter};",
        fts_values(d, body, stems)
    )
}

/// Adds the FTS entry of the documents rows `d` selected by `filter`.
fn fts_insert(d: &str, body: &str, stems: &str, filter: &str) -> String {
    format!(
        "INSERT INTO documents_fts ({FTS_COLUMNS}) SELECT {} FROM documents {d} WHERE {filter};",
        fts_values(d, body, stems)
    )
}

fn text_of(id: &str) -> String {
    format!("(SELECT t.body FROM document_texts t WHERE t.document_id = {id})")
}

fn stems_of(id: &str) -> String {
    format!("(SELECT s.stems FROM document_stems s WHERE s.document_id = {id})")
}

const SQLITE_DROP: [&str; 11] = [
    "DROP TRIGGER IF EXISTS document_stems_fts_ad",
    "DROP TRIGGER IF EXISTS document_stems_fts_au",
    "DROP TRIGGER IF EXISTS document_stems_fts_ai",
    "DROP TRIGGER IF EXISTS document_texts_fts_ad",
    "DROP TRIGGER IF EXISTS document_texts_fts_au",
    "DROP TRIGGER IF EXISTS document_texts_fts_ai",
    "DROP TRIGGER IF EXISTS documents_fts_bd",
    "DROP TRIGGER IF EXISTS documents_fts_au",
    "DROP TRIGGER IF EXISTS documents_fts_ai",
    "DROP VIEW IF EXISTS documents_fts_source",
    "DROP TABLE IF EXISTS documents_fts",
];

/// The FTS table with `columns`, over the view, tokenized as since `…_000003`.
fn create_fts(columns: &str) -> String {
    format!(
        "CREATE VIRTUAL TABLE documents_fts USING fts5({columns}, \
           content = 'documents_fts_source', content_rowid = 'search_rowid', \
           tokenize = 'unicode61 remove_diacritics 2')"
    )
}

const REBUILD: &str = "INSERT INTO documents_fts (documents_fts) VALUES ('rebuild')";

fn sqlite_up() -> Vec<String> {
    let old_doc = "d.id = OLD.document_id";
    let new_doc = "d.id = NEW.document_id";
    let doc_stems = stems_of("d.id");
    let doc_text = text_of("d.id");
    let mut statements: Vec<String> = SQLITE_DROP.iter().map(|s| (*s).to_owned()).collect();
    statements.extend([
        "CREATE VIEW documents_fts_source AS \
         SELECT d.search_rowid, 'u' || hex(d.user_id) AS owner, d.filename, t.body, s.stems \
         FROM documents d LEFT JOIN document_texts t ON t.document_id = d.id \
         LEFT JOIN document_stems s ON s.document_id = d.id"
            .to_owned(),
        create_fts("owner, filename, body, stems"),
        format!(
            "CREATE TRIGGER documents_fts_ai AFTER INSERT ON documents BEGIN \
               UPDATE documents SET search_rowid = \
                 (SELECT COALESCE(MAX(search_rowid), 0) + 1 FROM documents) \
               WHERE rowid = NEW.rowid; \
               {} \
             END",
            fts_insert("d", &doc_text, &doc_stems, "d.rowid = NEW.rowid")
        ),
        format!(
            "CREATE TRIGGER documents_fts_au AFTER UPDATE OF user_id, filename ON documents \
             BEGIN \
               INSERT INTO documents_fts (documents_fts, {FTS_COLUMNS}) \
                 VALUES ('delete', OLD.search_rowid, 'u' || hex(OLD.user_id), OLD.filename, \
                         {text}, {stems}); \
               INSERT INTO documents_fts ({FTS_COLUMNS}) \
                 VALUES (NEW.search_rowid, 'u' || hex(NEW.user_id), NEW.filename, {text}, \
                         {stems}); \
             END",
            text = text_of("NEW.id"),
            stems = stems_of("NEW.id")
        ),
        // Before: the cascade deletes the text and stems rows before `AFTER` triggers run.
        format!(
            "CREATE TRIGGER documents_fts_bd BEFORE DELETE ON documents BEGIN \
               INSERT INTO documents_fts (documents_fts, {FTS_COLUMNS}) \
                 VALUES ('delete', OLD.search_rowid, 'u' || hex(OLD.user_id), OLD.filename, \
                         {}, {}); \
             END",
            text_of("OLD.id"),
            stems_of("OLD.id")
        ),
        format!(
            "CREATE TRIGGER document_texts_fts_ai AFTER INSERT ON document_texts BEGIN {} {} END",
            fts_delete("d", "NULL", &doc_stems, new_doc),
            fts_insert("d", "NEW.body", &doc_stems, new_doc)
        ),
        format!(
            "CREATE TRIGGER document_texts_fts_au AFTER UPDATE OF body ON document_texts \
             BEGIN {} {} END",
            fts_delete("d", "OLD.body", &doc_stems, old_doc),
            fts_insert("d", "NEW.body", &doc_stems, new_doc)
        ),
        // While the document remains; when it is deleted its row is already gone and
        // these do nothing.
        format!(
            "CREATE TRIGGER document_texts_fts_ad AFTER DELETE ON document_texts BEGIN {} {} END",
            fts_delete("d", "OLD.body", &doc_stems, old_doc),
            fts_insert("d", "NULL", &doc_stems, old_doc)
        ),
        format!(
            "CREATE TRIGGER document_stems_fts_ai AFTER INSERT ON document_stems BEGIN {} {} END",
            fts_delete("d", &doc_text, "NULL", new_doc),
            fts_insert("d", &doc_text, "NEW.stems", new_doc)
        ),
        format!(
            "CREATE TRIGGER document_stems_fts_au AFTER UPDATE OF stems ON document_stems \
             BEGIN {} {} END",
            fts_delete("d", &doc_text, "OLD.stems", old_doc),
            fts_insert("d", &doc_text, "NEW.stems", new_doc)
        ),
        format!(
            "CREATE TRIGGER document_stems_fts_ad AFTER DELETE ON document_stems BEGIN {} {} END",
            fts_delete("d", &doc_text, "OLD.stems", old_doc),
            fts_insert("d", &doc_text, "NULL", old_doc)
        ),
        REBUILD.to_owned(),
    ]);
    statements
}

/// Back to the table, view and triggers of `…_000025_document_texts`.
fn sqlite_down() -> Vec<String> {
    let mut statements: Vec<String> = SQLITE_DROP.iter().map(|s| (*s).to_owned()).collect();
    statements.push(create_fts("owner, filename, body"));
    statements.extend(sqlite_index_objects());
    statements.push(REBUILD.to_owned());
    statements
}

/// The refresh function of `…_000025_document_texts`, making the vector `vector` with
/// `joins` after `documents d`.
fn pg_refresh(vector: &str, joins: &str) -> String {
    format!(
        "CREATE OR REPLACE FUNCTION docuvault_document_search_refresh(doc uuid) RETURNS void \
         LANGUAGE sql AS $$ \
           INSERT INTO document_search (document_id, user_id, search_vector) \
           SELECT d.id, d.user_id, {vector} \
           FROM documents d {joins} \
           WHERE d.id = doc \
           ON CONFLICT (document_id) DO UPDATE \
             SET user_id = EXCLUDED.user_id, search_vector = EXCLUDED.search_vector \
         $$"
    )
}

const PG_TEXT_JOIN: &str = "LEFT JOIN document_texts t ON t.document_id = d.id";

fn postgres_up() -> Vec<String> {
    vec![
        pg_refresh(
            &format!(
                "{} || setweight(to_tsvector('simple'::regconfig, coalesce(st.stems, '')), 'C')",
                vector_of("d.filename", "t.body")
            ),
            &format!("{PG_TEXT_JOIN} LEFT JOIN document_stems st ON st.document_id = d.id"),
        ),
        "CREATE FUNCTION docuvault_document_stems_search_sync() RETURNS trigger \
         LANGUAGE plpgsql AS $$ BEGIN \
           IF TG_OP = 'DELETE' THEN \
             PERFORM docuvault_document_search_refresh(OLD.document_id); \
           ELSE \
             PERFORM docuvault_document_search_refresh(NEW.document_id); \
           END IF; \
           RETURN NULL; \
         END $$"
            .to_owned(),
        "CREATE TRIGGER document_stems_search_insert_delete \
         AFTER INSERT OR DELETE ON document_stems \
         FOR EACH ROW EXECUTE FUNCTION docuvault_document_stems_search_sync()"
            .to_owned(),
        "CREATE TRIGGER document_stems_search_update AFTER UPDATE OF stems ON document_stems \
         FOR EACH ROW WHEN (OLD.stems IS DISTINCT FROM NEW.stems) \
         EXECUTE FUNCTION docuvault_document_stems_search_sync()"
            .to_owned(),
    ]
}

fn postgres_down() -> Vec<String> {
    vec![
        "DROP TRIGGER IF EXISTS document_stems_search_update ON document_stems".to_owned(),
        "DROP TRIGGER IF EXISTS document_stems_search_insert_delete ON document_stems".to_owned(),
        "DROP FUNCTION IF EXISTS docuvault_document_stems_search_sync()".to_owned(),
        pg_refresh(&vector_of("d.filename", "t.body"), PG_TEXT_JOIN),
        // Vectors without the stems again (before the table goes).
        "SELECT docuvault_document_search_refresh(document_id) FROM document_stems".to_owned(),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(ADD_LANGUAGE).await?;
        manager
            .create_table(
                Table::create()
                    .table(DocumentStems::Table)
                    .if_not_exists()
                    .col(uuid(DocumentStems::DocumentId).primary_key())
                    .col(
                        text(DocumentStems::Language)
                            .check(Expr::col(DocumentStems::Language).is_in(["english", "german"])),
                    )
                    .col(text(DocumentStems::Stems))
                    .foreign_key(&mut cascade(
                        "fk_document_stems_document_id",
                        (DocumentStems::Table, DocumentStems::DocumentId),
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
        // One batch, as in `…_000025`: no pooled connection sees half the new schema.
        db.execute_unprepared(&statements.join(";\n")).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let statements = if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            postgres_down()
        } else {
            // The view reads `document_stems`: replaced before the table goes.
            sqlite_down()
        };
        db.execute_unprepared(&statements.join(";\n")).await?;
        drop_tables(manager, [DocumentStems::Table]).await?;
        db.execute_unprepared("ALTER TABLE users DROP COLUMN search_language")
            .await?;
        Ok(())
    }
}
