//! Claimed ticks of scheduled jobs, so that instances sharing a database run a job once
//! per scheduled tick: each instance inserts `(job, tick_at)` when the tick fires, and
//! only the one whose insert went in runs the job.

use sea_orm_migration::prelude::*;

use crate::builders::drop_tables;

/// Adds `job_ticks`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum JobTicks {
    Table,
    Job,
    TickAt,
    ClaimedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(JobTicks::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(JobTicks::Job).string_len(64).not_null())
                    .col(
                        ColumnDef::new(JobTicks::TickAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(JobTicks::ClaimedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .name("pk_job_ticks")
                            .col(JobTicks::Job)
                            .col(JobTicks::TickAt),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, [JobTicks::Table]).await
    }
}
