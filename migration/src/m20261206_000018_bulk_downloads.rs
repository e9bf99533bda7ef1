//! The selections behind zip download links (issue 16, bulk edit).
//!
//! `bulk_downloads`: one row per `POST /api/documents/bulk/download-url`, holding the
//! checked document ids (up to 1 000, too many for a URL) until the link expires; the
//! signed link names the row. Rows of an account are pruned when it asks for the next
//! link, and by the account's deletion (cascade).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{text, timestamp_with_time_zone, uuid};

use crate::builders::drop_tables;

/// Adds `bulk_downloads`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum BulkDownloads {
    Table,
    Id,
    UserId,
    DocumentIds,
    CreatedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(BulkDownloads::Table)
                    .if_not_exists()
                    .col(uuid(BulkDownloads::Id).primary_key())
                    .col(uuid(BulkDownloads::UserId))
                    .col(text(BulkDownloads::DocumentIds))
                    .col(timestamp_with_time_zone(BulkDownloads::CreatedAt))
                    .col(timestamp_with_time_zone(BulkDownloads::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_bulk_downloads_user_id")
                            .from(BulkDownloads::Table, BulkDownloads::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_bulk_downloads_user_id_expires_at")
                    .table(BulkDownloads::Table)
                    .col(BulkDownloads::UserId)
                    .col(BulkDownloads::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, [BulkDownloads::Table]).await
    }
}
