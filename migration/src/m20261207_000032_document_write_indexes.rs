//! Fewer index entries per changed document: a bulk edit of 1 000 documents (move, topics,
//! trash, restore) writes 1 000 new row versions, and on PostgreSQL each version that is
//! not a HOT update gets an entry in every index of `documents` whose predicate it meets.
//!
//! - `idx_documents_status_updated_at` (the sweeper's and the stale-upload cleanup's
//!   index) named `updated_at`, which every edit changes: no edit could be a HOT update
//!   (which PostgreSQL allows only when no indexed column changes). It becomes
//!   `idx_documents_in_process` on `(status, created_at)`; on PostgreSQL only for the rows
//!   still in processing (`pending`, `queued`, `processing`: a few, and none of them ever
//!   edited in bulk), so a filed document's new versions skip it. The sweeper sorts its
//!   few lapsed rows by `updated_at` itself.
//! - `idx_documents_user_id_trashed_at` holds the trash only (`trashed_at IS NOT NULL`):
//!   the trash list and the purge read it, and a live document's versions skip it.
//! - `idx_documents_user_id_created_at` is dropped: the live lists read
//!   `idx_documents_list_created`, and everything else that starts from an account has
//!   another index led by `user_id`.
//! - `idx_documents_user_id_folder_id` is dropped: folder counts count live documents
//!   (`idx_documents_list_folder`, index-only), a folder's own documents are found by
//!   `idx_documents_folder_id`.
//! - PostgreSQL: `idx_documents_user_status` holds only the statuses a filed document
//!   leaves (`pending`, `queued`, `processing`, `failed`: what "processing or failed"
//!   asks); filed ones are counted and listed off the live indexes.
//! - PostgreSQL keeps 15 % of each page of `documents` free (fillfactor 85), room for an
//!   edit's new version next to the old one (a HOT update needs it on the same page).
//!
//! SQLite updates only the indexes whose columns (or predicate) an `UPDATE` changes, so
//! there the change is in what is written when `status` or `trashed_at` change; the same
//! indexes keep the schemas alike. SQLite cannot prove `status = 'pending'` implies a
//! partial index's `status IN (…)`, so its `idx_documents_in_process` is not partial.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

/// Reshapes the write-heavy indexes of `documents` (see the module doc).
#[derive(DeriveMigrationName)]
pub struct Migration;

fn up_statements(backend: DatabaseBackend) -> Vec<&'static str> {
    let in_process = match backend {
        DatabaseBackend::Postgres => {
            "CREATE INDEX idx_documents_in_process ON documents (status, created_at) \
             WHERE status IN ('pending', 'queued', 'processing')"
        }
        _ => "CREATE INDEX idx_documents_in_process ON documents (status, created_at)",
    };
    let mut statements = vec![
        "DROP INDEX IF EXISTS idx_documents_status_updated_at",
        in_process,
        "DROP INDEX IF EXISTS idx_documents_user_id_trashed_at",
        "CREATE INDEX idx_documents_user_id_trashed_at ON documents (user_id, trashed_at) \
         WHERE trashed_at IS NOT NULL",
        "DROP INDEX IF EXISTS idx_documents_user_id_created_at",
        "DROP INDEX IF EXISTS idx_documents_user_id_folder_id",
    ];
    if backend == DatabaseBackend::Postgres {
        statements.extend([
            "DROP INDEX IF EXISTS idx_documents_user_status",
            "CREATE INDEX idx_documents_user_status ON documents (user_id, status) \
             WHERE status IN ('pending', 'queued', 'processing', 'failed')",
            "ALTER TABLE documents SET (fillfactor = 85)",
        ]);
    }
    statements
}

fn down_statements(backend: DatabaseBackend) -> Vec<&'static str> {
    let mut statements = vec![
        "DROP INDEX IF EXISTS idx_documents_in_process",
        "CREATE INDEX idx_documents_status_updated_at ON documents (status, updated_at)",
        "DROP INDEX IF EXISTS idx_documents_user_id_trashed_at",
        "CREATE INDEX idx_documents_user_id_trashed_at ON documents (user_id, trashed_at)",
        "CREATE INDEX idx_documents_user_id_created_at ON documents (user_id, created_at)",
        "CREATE INDEX idx_documents_user_id_folder_id ON documents (user_id, folder_id)",
    ];
    if backend == DatabaseBackend::Postgres {
        statements.extend([
            "DROP INDEX IF EXISTS idx_documents_user_status",
            "CREATE INDEX idx_documents_user_status ON documents (user_id, status)",
            "ALTER TABLE documents RESET (fillfactor)",
        ]);
    }
    statements
}

async fn run(manager: &SchemaManager<'_>, statements: Vec<&'static str>) -> Result<(), DbErr> {
    // One batch, so every statement runs on one connection of the pool: another SQLite
    // connection may still hold the schema from before a drop.
    manager
        .get_connection()
        .execute_unprepared(&statements.join("; "))
        .await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, up_statements(manager.get_database_backend())).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, down_statements(manager.get_database_backend())).await
    }
}
