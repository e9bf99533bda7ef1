//! Unconfirmed uploads reserve their declared size: `quotas.reserved_bytes` holds the
//! sum of the declared sizes of the account's pending uploads, so `upload-url` can
//! refuse what would not fit (`used + reserved + size <= limit`) before any byte is sent.

use sea_orm_migration::prelude::*;

/// Adds `quotas.reserved_bytes` (never negative) and fills it from the pending uploads
/// that already exist.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Quotas {
    Table,
    ReservedBytes,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Quotas::Table)
                    .add_column(
                        ColumnDef::new(Quotas::ReservedBytes)
                            .big_integer()
                            .not_null()
                            .default(0i64)
                            .check((
                                "ck_quotas_reserved_bytes",
                                Expr::col(Quotas::ReservedBytes).gte(0),
                            )),
                    )
                    .to_owned(),
            )
            .await?;
        // Uploads pending at upgrade time reserve what they declared, as new ones will.
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE quotas SET reserved_bytes = COALESCE((SELECT CAST(SUM(d.size_bytes) AS BIGINT) \
                 FROM documents d WHERE d.user_id = quotas.user_id AND d.status = 'pending'), 0)",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Quotas::Table)
                    .drop_column(Quotas::ReservedBytes)
                    .to_owned(),
            )
            .await
    }
}
