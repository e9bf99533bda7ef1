//! The list index for the type filter (`content_type` of `GET /api/documents`, "type" in
//! the UI's filters and saved views): `idx_documents_list_type`, partial and covering
//! like the other list indexes (`m20261206_000012_trash_list_indexes`), so a page or a
//! count filtered by type reads the index alone instead of every live row of the owner.
//! `m20261206_000019_saved_views` described this index but never created it: on 100 000
//! documents a type-filtered page took seconds on PostgreSQL (`bench/list`).

use sea_orm_migration::prelude::*;

/// Creates `idx_documents_list_type` (see the module doc).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // `status` and `trashed_at` among the columns too: SQLite counts an index as
        // covering only when it holds every column the query names.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS idx_documents_list_type ON documents \
                 (user_id, content_type, created_at, id, status, trashed_at) \
                 WHERE status <> 'pending' AND trashed_at IS NULL",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS idx_documents_list_type")
            .await?;
        Ok(())
    }
}
