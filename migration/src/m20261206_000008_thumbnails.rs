//! Thumbnails (issue 13): where a document's thumbnail is stored, once it is, and why
//! none could be made. Both nullable: existing documents start without a thumbnail, and
//! the cleanup job makes theirs a batch at a time.

use sea_orm_migration::prelude::*;

/// Adds `documents.thumbnail_key` and `documents.thumbnail_error`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Documents {
    Table,
    ThumbnailKey,
    ThumbnailError,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Documents::Table)
                    .add_column(
                        ColumnDef::new(Documents::ThumbnailKey)
                            .string_len(600)
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Documents::Table)
                    .add_column(ColumnDef::new(Documents::ThumbnailError).text().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Documents::ThumbnailError, Documents::ThumbnailKey] {
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
