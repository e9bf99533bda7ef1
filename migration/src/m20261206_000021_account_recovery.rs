//! Account recovery and share notices (issue 16).
//!
//! - `password_reset_tokens`: one row per "forgot password" e-mail. Only the keyed hash
//!   of the token is stored (`token_hash`, unique: the one indexed lookup of a confirm);
//!   `used_at` is set by the one conditional `UPDATE` that consumes it, so a token works
//!   once. Rows go with their account.
//! - `notifications`: in-app notices for an account (`kind` = `share_received`). A
//!   notice names its share, document and sender but stores no file name: the name is
//!   read at request time, so a notice of a share that was revoked (its row cascades
//!   away) or of a document in the trash shows nothing of it. Listed per account newest
//!   first through `(user_id, created_at)`.

use sea_orm_migration::prelude::*;

use crate::builders::{cascade, drop_tables, index};
use sea_orm_migration::schema::{
    string, string_len, string_null, timestamp_with_time_zone, timestamp_with_time_zone_null, uuid,
};

/// Adds `password_reset_tokens` and `notifications`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Documents {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Shares {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum PasswordResetTokens {
    Table,
    Id,
    UserId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    UsedAt,
    RequestIp,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    UserId,
    Kind,
    ShareId,
    DocumentId,
    ActorId,
    CreatedAt,
    ReadAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PasswordResetTokens::Table)
                    .if_not_exists()
                    .col(uuid(PasswordResetTokens::Id).primary_key())
                    .col(uuid(PasswordResetTokens::UserId))
                    .col(string(PasswordResetTokens::TokenHash).unique_key())
                    .col(timestamp_with_time_zone(PasswordResetTokens::CreatedAt))
                    .col(timestamp_with_time_zone(PasswordResetTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(PasswordResetTokens::UsedAt))
                    .col(string_null(PasswordResetTokens::RequestIp))
                    .foreign_key(&mut cascade(
                        "fk_password_reset_tokens_user_id",
                        (PasswordResetTokens::Table, PasswordResetTokens::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_password_reset_tokens_user_id",
                PasswordResetTokens::Table,
                [PasswordResetTokens::UserId],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Notifications::Table)
                    .if_not_exists()
                    .col(uuid(Notifications::Id).primary_key())
                    .col(uuid(Notifications::UserId))
                    .col(string_len(Notifications::Kind, 32))
                    .col(uuid(Notifications::ShareId))
                    .col(uuid(Notifications::DocumentId))
                    .col(uuid(Notifications::ActorId))
                    .col(timestamp_with_time_zone(Notifications::CreatedAt))
                    .col(timestamp_with_time_zone_null(Notifications::ReadAt))
                    .check((
                        "ck_notifications_kind",
                        Expr::col(Notifications::Kind).is_in(["share_received"]),
                    ))
                    .foreign_key(&mut cascade(
                        "fk_notifications_user_id",
                        (Notifications::Table, Notifications::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .foreign_key(&mut cascade(
                        "fk_notifications_share_id",
                        (Notifications::Table, Notifications::ShareId),
                        (Shares::Table, Shares::Id),
                    ))
                    .foreign_key(&mut cascade(
                        "fk_notifications_document_id",
                        (Notifications::Table, Notifications::DocumentId),
                        (Documents::Table, Documents::Id),
                    ))
                    .foreign_key(&mut cascade(
                        "fk_notifications_actor_id",
                        (Notifications::Table, Notifications::ActorId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_notifications_user_id_created_at",
                Notifications::Table,
                [Notifications::UserId, Notifications::CreatedAt],
            ))
            .await?;
        // The share's foreign key is checked on every share delete (revoke, document
        // delete): an index keeps that from scanning the table.
        manager
            .create_index(index(
                "idx_notifications_share_id",
                Notifications::Table,
                [Notifications::ShareId],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            [
                Notifications::Table.into_iden(),
                PasswordResetTokens::Table.into_iden(),
            ],
        )
        .await
    }
}
