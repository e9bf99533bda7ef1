//! The list indexes without the trash: lists and searches now also filter
//! `trashed_at IS NULL` (the trash is listed only when asked for), which the partial list
//! indexes of `m20261124_000003_document_search` cannot answer on the index alone. They
//! are rebuilt with that predicate and the column, so every sort keeps its index-only
//! scans (deep pages skip rows on the index); the trash itself is listed off
//! `(user_id, trashed_at)` (`m20261206_000011_trash_versions`).

use sea_orm_migration::prelude::*;

/// Rebuilds the four list indexes to leave trashed documents out.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// Name, columns of each list index.
const LIST_INDEXES: &[(&str, &str)] = &[
    (
        "idx_documents_list_created",
        "user_id, created_at, id, status",
    ),
    ("idx_documents_list_name", "user_id, filename, id, status"),
    ("idx_documents_list_size", "user_id, size_bytes, id, status"),
    (
        "idx_documents_list_folder",
        "user_id, folder_id, created_at, id, status",
    ),
];

async fn rebuild(manager: &SchemaManager<'_>, live_only: bool) -> Result<(), DbErr> {
    let conn = manager.get_connection();
    for (name, columns) in LIST_INDEXES {
        // `trashed_at` among the columns too: SQLite counts an index as covering only
        // when it holds every column the query names, predicate columns included.
        let create = if live_only {
            format!(
                "CREATE INDEX {name} ON documents ({columns}, trashed_at) \
                 WHERE status <> 'pending' AND trashed_at IS NULL"
            )
        } else {
            format!("CREATE INDEX {name} ON documents ({columns}) WHERE status <> 'pending'")
        };
        // One batch, so both run on one connection of the pool: another SQLite
        // connection may still hold the schema from before the drop.
        conn.execute_unprepared(&format!("DROP INDEX IF EXISTS {name}; {create}"))
            .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        rebuild(manager, true).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        rebuild(manager, false).await
    }
}
