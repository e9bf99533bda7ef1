//! Document dates and pages (issue 17, item 5).
//!
//! - `documents.document_date`: the document's own date (a letter's, an invoice's), found
//!   in its text or file name at extraction, or set by the user; null when unknown.
//! - `documents.document_date_source`: where it came from, `content`, `filename` or
//!   `user` (a CHECK lists them); null while no date was found. `user` with a null date:
//!   the user said the document has none. Processing re-derives a date whose source is
//!   not `user` and never touches one the user set (or cleared).
//! - `documents.page_count`: pages of a PDF (or of a multi-page image), recorded at
//!   extraction; null for other documents.
//! - `idx_documents_list_date`: the list index of the `document_date` sort, partial and
//!   covering like the other list indexes (`m20261206_000012_trash_list_indexes`), so a
//!   list sorted or filtered by date reads the index alone. Both directions sort undated
//!   documents last: SQLite serves `ASC NULLS LAST` and `DESC NULLS LAST` from this one
//!   index (it reads the non-null entries, then the null ones); PostgreSQL keeps nulls
//!   at the high end of an index, so `DESC NULLS LAST` gets an index of its own in that
//!   order, `idx_documents_list_date_desc`.

use sea_orm_migration::prelude::*;

use sea_orm_migration::schema::{date_null, integer_null, string_len_null};

/// Adds the three columns and the list index(es).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Documents {
    Table,
    DocumentDate,
    DocumentDateSource,
    PageCount,
}

/// The spellings of `document_date_source`.
const SOURCES: [&str; 3] = ["content", "filename", "user"];

const LIST_INDEX: &str = "CREATE INDEX IF NOT EXISTS idx_documents_list_date ON documents \
     (user_id, document_date, id, status, trashed_at) \
     WHERE status <> 'pending' AND trashed_at IS NULL";

const POSTGRES_DESC_INDEX: &str = "CREATE INDEX IF NOT EXISTS idx_documents_list_date_desc \
     ON documents (user_id, document_date DESC NULLS LAST, id DESC, status, trashed_at) \
     WHERE status <> 'pending' AND trashed_at IS NULL";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        let columns = [
            date_null(Documents::DocumentDate),
            string_len_null(Documents::DocumentDateSource, 16)
                .check(Expr::col(Documents::DocumentDateSource).is_in(SOURCES))
                .to_owned(),
            integer_null(Documents::PageCount)
                .check(Expr::col(Documents::PageCount).gte(0))
                .to_owned(),
        ];
        for column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(Documents::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        let conn = manager.get_connection();
        conn.execute_unprepared(LIST_INDEX).await?;
        if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            conn.execute_unprepared(POSTGRES_DESC_INDEX).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        conn.execute_unprepared("DROP INDEX IF EXISTS idx_documents_list_date_desc")
            .await?;
        conn.execute_unprepared("DROP INDEX IF EXISTS idx_documents_list_date")
            .await?;
        for column in [
            Documents::PageCount,
            Documents::DocumentDateSource,
            Documents::DocumentDate,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Documents::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
