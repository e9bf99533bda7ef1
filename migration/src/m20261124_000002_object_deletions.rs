//! Object deletions that failed and must be retried by the cleanup job, so a storage
//! outage during a document delete never leaks an object.

use sea_orm_migration::prelude::*;

use crate::builders::drop_tables;

/// Adds `object_deletions`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ObjectDeletions {
    Table,
    ObjectKey,
    Attempts,
    LastError,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ObjectDeletions::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(ObjectDeletions::ObjectKey)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ObjectDeletions::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(ColumnDef::new(ObjectDeletions::LastError).text().null())
                    .col(
                        ColumnDef::new(ObjectDeletions::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, [ObjectDeletions::Table]).await
    }
}
