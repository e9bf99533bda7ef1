//! AI fallback for poorly read scan pages (issue 13 item 7): each account's opt-in,
//! off by default (existing accounts keep OCR to Tesseract alone).

use sea_orm_migration::prelude::*;

/// Adds `users.ocr_ai_fallback` (NOT NULL, default false).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    OcrAiFallback,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(
                        ColumnDef::new(Users::OcrAiFallback)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::OcrAiFallback)
                    .to_owned(),
            )
            .await
    }
}
