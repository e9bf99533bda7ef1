//! OCR (issue 13): each account's OCR languages, where a document's text came from page
//! by page (provenance, JSON), and why a processed document has no text yet
//! (`status_reason`, e.g. `ocr_unavailable`). All nullable: existing rows need nothing.

use sea_orm_migration::prelude::*;

/// Adds `users.ocr_languages`, `documents.text_pages` and `documents.status_reason`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    OcrLanguages,
}

#[derive(DeriveIden)]
enum Documents {
    Table,
    TextPages,
    StatusReason,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(ColumnDef::new(Users::OcrLanguages).string_len(200).null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Documents::Table)
                    .add_column(ColumnDef::new(Documents::TextPages).json_binary().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Documents::Table)
                    .add_column(
                        ColumnDef::new(Documents::StatusReason)
                            .string_len(64)
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in [
            (
                Documents::Table.into_iden(),
                Documents::StatusReason.into_iden(),
            ),
            (
                Documents::Table.into_iden(),
                Documents::TextPages.into_iden(),
            ),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::OcrLanguages)
                    .to_owned(),
            )
            .await
    }
}
