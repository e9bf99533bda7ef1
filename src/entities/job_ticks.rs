//! `job_ticks`: scheduled ticks of a job claimed by one instance, so instances sharing
//! the database run the job once per tick.

use sea_orm::entity::prelude::*;

/// One claimed tick: the instance whose insert of `(job, tick_at)` went in ran it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "job_ticks")]
pub struct Model {
    /// The job's name (`cleanup`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub job: String,
    /// The scheduled time of the tick, from the job's cron schedule.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tick_at: DateTimeUtc,
    /// When the claiming instance inserted the row.
    pub claimed_at: DateTimeUtc,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
