//! PostgreSQL keeps each document's search vector in its table row (compressed) instead
//! of the TOAST table, where the extracted text lives: ranking a search's candidates then
//! reads one heap page per document instead of a TOAST index probe and two or three
//! chunks mixed in with text, about half the time for a common word. A vector too large
//! for the row still moves out, as before. Rows are stored this way as they are next
//! written (each processed or edited document); nothing is rewritten here. SQLite: no-op.

use sea_orm_migration::prelude::*;

/// Sets `documents.search_vector` storage to `MAIN` on PostgreSQL.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// Sets the storage of `documents.search_vector` on PostgreSQL; nothing on SQLite.
async fn set_storage(manager: &SchemaManager<'_>, storage: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "ALTER TABLE documents ALTER COLUMN search_vector SET STORAGE {storage}"
            ))
            .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_storage(manager, "MAIN").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_storage(manager, "EXTENDED").await
    }
}
