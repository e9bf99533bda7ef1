//! The duplicate lookup off one index: every listed page names, per document, the
//! earliest live (confirmed, not trashed) document of the owner with the same SHA-256
//! (`duplicate_of`). A partial index over live documents ordered by
//! `(user_id, sha256, created_at, id)` answers that per row from its first entry,
//! index-only (`status` and `trashed_at` are among the columns because SQLite counts an
//! index as covering only when it holds every column the query names).

use sea_orm_migration::prelude::*;

/// Adds `idx_documents_live_sha256`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX idx_documents_live_sha256 ON documents \
                 (user_id, sha256, created_at, id, status, trashed_at) \
                 WHERE status <> 'pending' AND trashed_at IS NULL",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS idx_documents_live_sha256")
            .await?;
        Ok(())
    }
}
