//! Re-filing a whole vault in the background (issue 18, "many documents at once"):
//! `refile_runs`.
//!
//! One row per run of "re-file everything not filed by hand" for an account: its state
//! (`running`, `done`, `failed`, `cancelled`), its counters (`total` documents to look at,
//! `done` so far, `changed`: those whose topics changed), the keyset position it reached
//! (`after_id`: the last document id handled, so a run taken over after a crash carries
//! on there) and its lease: the instance working on it (`claimed_by`) until
//! `claimed_until`. The partial unique index lets at most one run per account be
//! `running` (a second start loses the insert: 409), and serves the runner's look for
//! runs to claim. Starting a run removes the account's finished ones, so the table holds
//! about one row per account that ever re-filed. Rows go with the account.
//!
//! `idx_documents_user_id_id (user_id, id)`: a run reads an account's documents in id
//! order after a keyset position, one batch at a time; without it each batch read and
//! sorted all of the account's documents again (quadratic in the vault's size). The
//! search languages' re-stemming walks documents the same way.

use sea_orm_migration::prelude::*;

use crate::builders::{cascade, drop_tables, index};
use sea_orm_migration::schema::{
    big_integer, string, text_null, timestamp_with_time_zone, timestamp_with_time_zone_null, uuid,
    uuid_null,
};

/// Adds `refile_runs` and `idx_documents_user_id_id`.
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
    UserId,
}

#[derive(DeriveIden)]
enum RefileRuns {
    Table,
    Id,
    UserId,
    State,
    Total,
    Done,
    Changed,
    AfterId,
    ClaimedBy,
    ClaimedUntil,
    Error,
    StartedAt,
    FinishedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RefileRuns::Table)
                    .if_not_exists()
                    .col(uuid(RefileRuns::Id).primary_key())
                    .col(uuid(RefileRuns::UserId))
                    .col(
                        string(RefileRuns::State).check(Expr::col(RefileRuns::State).is_in([
                            "running",
                            "done",
                            "failed",
                            "cancelled",
                        ])),
                    )
                    .col(big_integer(RefileRuns::Total).check(Expr::col(RefileRuns::Total).gte(0)))
                    .col(big_integer(RefileRuns::Done).check(Expr::col(RefileRuns::Done).gte(0)))
                    .col(
                        big_integer(RefileRuns::Changed)
                            .check(Expr::col(RefileRuns::Changed).gte(0)),
                    )
                    .col(uuid_null(RefileRuns::AfterId))
                    .col(text_null(RefileRuns::ClaimedBy))
                    .col(timestamp_with_time_zone_null(RefileRuns::ClaimedUntil))
                    .col(text_null(RefileRuns::Error))
                    .col(timestamp_with_time_zone(RefileRuns::StartedAt))
                    .col(timestamp_with_time_zone_null(RefileRuns::FinishedAt))
                    .foreign_key(&mut cascade(
                        "fk_refile_runs_user_id",
                        (RefileRuns::Table, RefileRuns::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        // Partial: the same on SQLite and PostgreSQL. At most one running run per
        // account; the runner reads the running ones off it.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX IF NOT EXISTS uq_refile_runs_running \
                 ON refile_runs (user_id) WHERE state = 'running'",
            )
            .await?;
        manager
            .create_index(index(
                "idx_refile_runs_user_id_started_at",
                RefileRuns::Table,
                [RefileRuns::UserId, RefileRuns::StartedAt],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_documents_user_id_id",
                Documents::Table,
                [Documents::UserId, Documents::Id],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_documents_user_id_id")
                    .table(Documents::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        drop_tables(manager, [RefileRuns::Table]).await
    }
}
