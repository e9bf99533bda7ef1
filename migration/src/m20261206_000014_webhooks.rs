//! Signed webhooks (issue 15).
//!
//! - `webhooks`: an account's endpoints; `events` is a JSON array of event names,
//!   `secret` the signing secret sealed with the instance key (associated data: the
//!   webhook's id and purpose), never stored in plain text.
//! - `webhook_deliveries`: one row per event and endpoint, the whole retry state
//!   (`pending` until delivered or out of attempts), so deliveries survive restarts.
//!   The delivery task picks due rows through `(status, next_attempt_at)`.

use sea_orm_migration::prelude::*;

use crate::builders::{cascade, drop_tables, index};
use sea_orm_migration::schema::{
    big_integer_null, boolean, integer, integer_null, json_binary, string, text, text_null,
    timestamp_with_time_zone, timestamp_with_time_zone_null, uuid,
};

/// Adds `webhooks` and `webhook_deliveries`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Webhooks {
    Table,
    Id,
    UserId,
    Url,
    Events,
    Description,
    Secret,
    Enabled,
    CreatedAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    WebhookId,
    Event,
    Payload,
    Status,
    Attempts,
    NextAttemptAt,
    LastAttemptAt,
    ResponseStatus,
    LatencyMs,
    Error,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Webhooks::Table)
                    .if_not_exists()
                    .col(uuid(Webhooks::Id).primary_key())
                    .col(uuid(Webhooks::UserId))
                    .col(text(Webhooks::Url))
                    .col(json_binary(Webhooks::Events))
                    .col(text_null(Webhooks::Description))
                    .col(text(Webhooks::Secret))
                    .col(boolean(Webhooks::Enabled).default(true))
                    .col(timestamp_with_time_zone(Webhooks::CreatedAt))
                    .foreign_key(&mut cascade(
                        "fk_webhooks_user_id",
                        (Webhooks::Table, Webhooks::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_webhooks_user_id",
                Webhooks::Table,
                [Webhooks::UserId],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .if_not_exists()
                    .col(uuid(WebhookDeliveries::Id).primary_key())
                    .col(uuid(WebhookDeliveries::WebhookId))
                    .col(string(WebhookDeliveries::Event))
                    .col(text(WebhookDeliveries::Payload))
                    .col(string(WebhookDeliveries::Status).check(
                        Expr::col(WebhookDeliveries::Status).is_in([
                            "pending",
                            "delivered",
                            "failed",
                        ]),
                    ))
                    .col(integer(WebhookDeliveries::Attempts).default(0))
                    .col(timestamp_with_time_zone_null(
                        WebhookDeliveries::NextAttemptAt,
                    ))
                    .col(timestamp_with_time_zone_null(
                        WebhookDeliveries::LastAttemptAt,
                    ))
                    .col(integer_null(WebhookDeliveries::ResponseStatus))
                    .col(big_integer_null(WebhookDeliveries::LatencyMs))
                    .col(text_null(WebhookDeliveries::Error))
                    .col(timestamp_with_time_zone(WebhookDeliveries::CreatedAt))
                    .foreign_key(&mut cascade(
                        "fk_webhook_deliveries_webhook_id",
                        (WebhookDeliveries::Table, WebhookDeliveries::WebhookId),
                        (Webhooks::Table, Webhooks::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_webhook_deliveries_status_next_attempt_at",
                WebhookDeliveries::Table,
                [WebhookDeliveries::Status, WebhookDeliveries::NextAttemptAt],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_webhook_deliveries_webhook_id_created_at",
                WebhookDeliveries::Table,
                [WebhookDeliveries::WebhookId, WebhookDeliveries::CreatedAt],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            [
                WebhookDeliveries::Table.into_iden(),
                Webhooks::Table.into_iden(),
            ],
        )
        .await
    }
}
