//! Public links (issue 16): `public_links`.
//!
//! A link lets anyone holding its URL read one document without an account, until it
//! expires, is revoked or its downloads are used up. The token is shown once; only its
//! keyed hash is stored (`token_hash`, unique: one indexed lookup per request). An
//! optional password is stored as an Argon2id PHC string. Revoking keeps the row
//! (`revoked_at`) so the owner's list still shows it; deleting the document for good
//! deletes its links (cascade).

use sea_orm_migration::prelude::*;

use crate::builders::{cascade, drop_tables, index};
use sea_orm_migration::schema::{
    integer, integer_null, string, string_null, timestamp_with_time_zone,
    timestamp_with_time_zone_null, uuid,
};

/// Adds `public_links`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PublicLinks {
    Table,
    Id,
    DocumentId,
    OwnerId,
    TokenHash,
    PasswordHash,
    ExpiresAt,
    MaxDownloads,
    DownloadCount,
    AccessCount,
    RevokedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Documents {
    Table,
    Id,
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
                    .table(PublicLinks::Table)
                    .if_not_exists()
                    .col(uuid(PublicLinks::Id).primary_key())
                    .col(uuid(PublicLinks::DocumentId))
                    .col(uuid(PublicLinks::OwnerId))
                    .col(string(PublicLinks::TokenHash).unique_key())
                    .col(string_null(PublicLinks::PasswordHash))
                    .col(timestamp_with_time_zone(PublicLinks::ExpiresAt))
                    .col(integer_null(PublicLinks::MaxDownloads))
                    .col(integer(PublicLinks::DownloadCount).default(0))
                    .col(integer(PublicLinks::AccessCount).default(0))
                    .col(timestamp_with_time_zone_null(PublicLinks::RevokedAt))
                    .col(timestamp_with_time_zone(PublicLinks::CreatedAt))
                    .foreign_key(&mut cascade(
                        "fk_public_links_document_id",
                        (PublicLinks::Table, PublicLinks::DocumentId),
                        (Documents::Table, Documents::Id),
                    ))
                    .foreign_key(&mut cascade(
                        "fk_public_links_owner_id",
                        (PublicLinks::Table, PublicLinks::OwnerId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_public_links_document_id_created_at",
                PublicLinks::Table,
                [PublicLinks::DocumentId, PublicLinks::CreatedAt],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_public_links_owner_id",
                PublicLinks::Table,
                [PublicLinks::OwnerId],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, [PublicLinks::Table]).await
    }
}
