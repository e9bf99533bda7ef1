//! Saved views (issue 16): `saved_views`.
//!
//! A saved view is a named list query of one account (`query`: the parameters of
//! `GET /api/documents` as a JSON object). Names are unique per account under the clash
//! rule of topic names (`name_key`: case and spaces folded), enforced by a unique index.
//! Deleted with the account.
//!
//! (The list index for the type filter, `idx_documents_list_type`, once described here,
//! was never created here: `m20261207_000033_list_type_index` creates it.)

use sea_orm_migration::prelude::*;

use crate::builders::{cascade, drop_tables, index};
use sea_orm_migration::schema::{json_binary, string_len, timestamp_with_time_zone, uuid};

/// Adds `saved_views`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SavedViews {
    Table,
    Id,
    UserId,
    Name,
    NameKey,
    Query,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SavedViews::Table)
                    .if_not_exists()
                    .col(uuid(SavedViews::Id).primary_key())
                    .col(uuid(SavedViews::UserId))
                    .col(string_len(SavedViews::Name, 400))
                    .col(string_len(SavedViews::NameKey, 400))
                    .col(json_binary(SavedViews::Query))
                    .col(timestamp_with_time_zone(SavedViews::CreatedAt))
                    .col(timestamp_with_time_zone(SavedViews::UpdatedAt))
                    .foreign_key(&mut cascade(
                        "fk_saved_views_user_id",
                        (SavedViews::Table, SavedViews::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        // Also the index of "the caller's views by name".
        manager
            .create_index(
                index(
                    "idx_saved_views_user_id_name_key",
                    SavedViews::Table,
                    [SavedViews::UserId, SavedViews::NameKey],
                )
                .unique()
                .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, [SavedViews::Table]).await
    }
}
