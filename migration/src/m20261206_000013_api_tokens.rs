//! Personal API tokens (issue 15): `api_tokens`.
//!
//! A token is `dvpat_<random>`, shown once; only its keyed hash is stored (`token_hash`,
//! unique: the one indexed lookup per request). `scopes` is the space-separated list of
//! scopes (`documents:read topics:write`); `prefix` the first characters, for recognising
//! a token in a list. Revoking a token deletes its row; so do a disabled account, "sign
//! out everywhere" and a password change (every token of the account).

use sea_orm_migration::prelude::*;

use crate::builders::{cascade, drop_tables, index};
use sea_orm_migration::schema::{
    string, string_len, string_null, timestamp_with_time_zone, timestamp_with_time_zone_null, uuid,
};

/// Adds `api_tokens`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    UserId,
    Name,
    Prefix,
    TokenHash,
    Scopes,
    CreatedAt,
    ExpiresAt,
    LastUsedAt,
    LastUsedIp,
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
                    .table(ApiTokens::Table)
                    .if_not_exists()
                    .col(uuid(ApiTokens::Id).primary_key())
                    .col(uuid(ApiTokens::UserId))
                    .col(string_len(ApiTokens::Name, 400))
                    .col(string_len(ApiTokens::Prefix, 32))
                    .col(string(ApiTokens::TokenHash).unique_key())
                    .col(string(ApiTokens::Scopes))
                    .col(timestamp_with_time_zone(ApiTokens::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ApiTokens::LastUsedAt))
                    .col(string_null(ApiTokens::LastUsedIp))
                    .foreign_key(&mut cascade(
                        "fk_api_tokens_user_id",
                        (ApiTokens::Table, ApiTokens::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_api_tokens_user_id_created_at",
                ApiTokens::Table,
                [ApiTokens::UserId, ApiTokens::CreatedAt],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, [ApiTokens::Table]).await
    }
}
