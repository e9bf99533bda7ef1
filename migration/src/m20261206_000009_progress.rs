//! Processing progress (issue 13): which page of how many the OCR of a document in
//! processing has reached, for "reading text (page 3 of 12)". Both nullable: null
//! whenever the document is not being read page by page.

use sea_orm_migration::prelude::*;

/// Adds `documents.progress_page` and `documents.progress_pages`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Documents {
    Table,
    ProgressPage,
    ProgressPages,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for column in [Documents::ProgressPage, Documents::ProgressPages] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Documents::Table)
                        .add_column(ColumnDef::new(column).integer().null())
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Documents::ProgressPages, Documents::ProgressPage] {
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
