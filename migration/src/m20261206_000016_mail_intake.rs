//! E-mail intake over IMAP (issue 15).
//!
//! - `cloud_connections` rows of provider `imap` are mail accounts: `credentials_enc`
//!   holds the sealed server and login (host, port, TLS mode, user name, password),
//!   `display_name` the account's name, `status` `enabled` or `disabled`. New columns:
//!   `config` (JSON: mailbox, what to do after import, target folder and topics, whether
//!   to import the body), `last_checked_at` and `last_error` (the last poll's failure,
//!   cleared by the next success).
//! - `mail_intake_items`: one row per part of a message taken from a mailbox (or one for
//!   the message itself when it was refused whole). The unique
//!   `(connection_id, message_id, part_hash)` is the claim: a part is imported by the one
//!   poll whose insert went in, so a message is never imported twice, whichever instance
//!   polls.

use sea_orm_migration::prelude::*;

use crate::builders::{cascade, index};
use sea_orm_migration::schema::{
    string, string_null, text_null, timestamp_with_time_zone, timestamp_with_time_zone_null, uuid,
    uuid_null,
};

/// Adds the mail-account columns of `cloud_connections` and the `mail_intake_items` table.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CloudConnections {
    Table,
    Id,
    Config,
    LastCheckedAt,
    LastError,
}

#[derive(DeriveIden)]
enum Documents {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum MailIntakeItems {
    Table,
    Id,
    ConnectionId,
    MessageId,
    PartHash,
    Subject,
    Filename,
    Status,
    Reason,
    DocumentId,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        for column in [
            text_null(CloudConnections::Config),
            timestamp_with_time_zone_null(CloudConnections::LastCheckedAt),
            text_null(CloudConnections::LastError),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(CloudConnections::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(MailIntakeItems::Table)
                    .if_not_exists()
                    .col(uuid(MailIntakeItems::Id).primary_key())
                    .col(uuid(MailIntakeItems::ConnectionId))
                    .col(string(MailIntakeItems::MessageId))
                    .col(string(MailIntakeItems::PartHash))
                    .col(text_null(MailIntakeItems::Subject))
                    .col(text_null(MailIntakeItems::Filename))
                    .col(string(MailIntakeItems::Status).check(
                        Expr::col(MailIntakeItems::Status).is_in(["imported", "failed", "skipped"]),
                    ))
                    .col(string_null(MailIntakeItems::Reason))
                    .col(uuid_null(MailIntakeItems::DocumentId))
                    .col(timestamp_with_time_zone(MailIntakeItems::CreatedAt))
                    .foreign_key(&mut cascade(
                        "fk_mail_intake_items_connection_id",
                        (MailIntakeItems::Table, MailIntakeItems::ConnectionId),
                        (CloudConnections::Table, CloudConnections::Id),
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_mail_intake_items_document_id")
                            .from(MailIntakeItems::Table, MailIntakeItems::DocumentId)
                            .to(Documents::Table, Documents::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "idx_mail_intake_items_claim",
                    MailIntakeItems::Table,
                    [
                        MailIntakeItems::ConnectionId,
                        MailIntakeItems::MessageId,
                        MailIntakeItems::PartHash,
                    ],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_mail_intake_items_connection_id_created_at",
                MailIntakeItems::Table,
                [MailIntakeItems::ConnectionId, MailIntakeItems::CreatedAt],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_mail_intake_items_document_id",
                MailIntakeItems::Table,
                [MailIntakeItems::DocumentId],
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MailIntakeItems::Table).to_owned())
            .await?;
        for column in [
            CloudConnections::LastError,
            CloudConnections::LastCheckedAt,
            CloudConnections::Config,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(CloudConnections::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
