//! The watched folder's record of the files it takes (issue 15).
//!
//! `ingest_files`: one row per file taken from `{watch_dir}/{handle}/…`, keyed by its
//! path relative to the watched directory, its size and its modification time. An
//! instance claims a file by inserting its row: the partial unique index on
//! `(path, size_bytes, mtime_ns)` among rows whose file is still in place
//! (`finished_at IS NULL`) lets exactly one insert in, so instances sharing the folder
//! and the database import it once, and a restart finds what a crash left half done.
//! Once the file has been moved or deleted (`finished_at` set) the row no longer blocks
//! the same name being dropped again; it stays for the status list until pruned.

use sea_orm_migration::prelude::*;

use crate::builders::{cascade, drop_tables, index};
use sea_orm_migration::schema::{
    big_integer, string, text, text_null, timestamp_with_time_zone, timestamp_with_time_zone_null,
    uuid, uuid_null,
};

/// Adds `ingest_files`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum IngestFiles {
    Table,
    Id,
    UserId,
    Path,
    SizeBytes,
    MtimeNs,
    Status,
    Reason,
    DocumentId,
    ClaimedAt,
    CreatedAt,
    FinishedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(IngestFiles::Table)
                    .if_not_exists()
                    .col(uuid(IngestFiles::Id).primary_key())
                    .col(uuid(IngestFiles::UserId))
                    .col(text(IngestFiles::Path))
                    .col(
                        big_integer(IngestFiles::SizeBytes)
                            .check(Expr::col(IngestFiles::SizeBytes).gte(0)),
                    )
                    .col(big_integer(IngestFiles::MtimeNs))
                    .col(string(IngestFiles::Status).check(
                        Expr::col(IngestFiles::Status).is_in(["claimed", "imported", "failed"]),
                    ))
                    .col(text_null(IngestFiles::Reason))
                    .col(uuid_null(IngestFiles::DocumentId))
                    .col(timestamp_with_time_zone(IngestFiles::ClaimedAt))
                    .col(timestamp_with_time_zone(IngestFiles::CreatedAt))
                    .col(timestamp_with_time_zone_null(IngestFiles::FinishedAt))
                    .foreign_key(&mut cascade(
                        "fk_ingest_files_user_id",
                        (IngestFiles::Table, IngestFiles::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        // Partial: the same on SQLite and PostgreSQL.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX IF NOT EXISTS uq_ingest_files_open \
                 ON ingest_files (path, size_bytes, mtime_ns) WHERE finished_at IS NULL",
            )
            .await?;
        manager
            .create_index(index(
                "idx_ingest_files_user_id_created_at",
                IngestFiles::Table,
                [IngestFiles::UserId, IngestFiles::CreatedAt],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_ingest_files_finished_at",
                IngestFiles::Table,
                [IngestFiles::FinishedAt],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, [IngestFiles::Table]).await
    }
}
