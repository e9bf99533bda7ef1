//! Scheduled jobs: runs [`run_cleanup`] on `cleanup.schedule` with tokio-cron-scheduler.
//!
//! **Once per tick across instances.** Every instance with `cleanup.enabled` fires on
//! the schedule, names the tick it fires for — the latest scheduled time at or before
//! its clock, from the same cron expression, so instances whose clocks differ by less
//! than the schedule's interval name the same tick — and claims it by inserting
//! `(job, tick_at)` into `job_ticks` (`ON CONFLICT DO NOTHING` on the primary key).
//! Only the instance whose insert went in runs the job; the others skip that tick. An
//! instance still busy with its previous run does not claim, leaving the tick to
//! another one; the cleanup's own lock still keeps two runs from overlapping. The
//! claiming instance prunes claims older than [`TICK_RETENTION_SECS`].
//!
//! A failed run is logged and retried on the next tick; it never stops the server.
//! Each instance decides with `cleanup.enabled` whether it schedules the job at all.
//! What each instance did with each tick is counted in the metric
//! `docuvault_scheduled_ticks_total{job, outcome}`.

use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use croner::Cron;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};
use tokio::sync::Mutex;
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};
use tokio_util::sync::CancellationToken;

use crate::entities::job_ticks;
use crate::jobs::cleanup::run_cleanup;
use crate::settings::CronSchedule;
use crate::state::AppState;

/// The cleanup job's name in `job_ticks` and in the metrics.
pub const CLEANUP_JOB: &str = "cleanup";

/// How long claimed ticks are kept: far longer than any clock skew or late firing, so a
/// tick is never claimed twice, and a day of history for operators.
pub const TICK_RETENTION_SECS: i64 = 24 * 60 * 60;

/// The tick a firing at `now` belongs to: the latest scheduled time at or before `now`
/// (whole seconds). `None` only when the schedule has no such time.
pub fn scheduled_tick(schedule: &Cron, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    schedule
        .find_previous_occurrence(&now.trunc_subsecs(0), true)
        .ok()
}

/// Claims tick `tick_at` of `job` for this instance: true when this insert went in,
/// false when another instance claimed the tick first.
pub async fn claim_tick(
    db: &impl ConnectionTrait,
    job: &str,
    tick_at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let inserted = job_ticks::Entity::insert(job_ticks::ActiveModel {
        job: Set(job.to_owned()),
        tick_at: Set(tick_at),
        claimed_at: Set(crate::time::now()),
    })
    .on_conflict(
        OnConflict::columns([job_ticks::Column::Job, job_ticks::Column::TickAt])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(inserted == 1)
}

/// Forgets the claims of `job` for ticks before `before`; returns how many.
async fn prune_ticks(
    db: &impl ConnectionTrait,
    job: &str,
    before: DateTime<Utc>,
) -> Result<u64, DbErr> {
    Ok(job_ticks::Entity::delete_many()
        .filter(job_ticks::Column::Job.eq(job))
        .filter(job_ticks::Column::TickAt.lt(before))
        .exec(db)
        .await?
        .rows_affected)
}

/// Runs the cleanup job on the configured schedule until `shutdown` is cancelled, then
/// stops the scheduler and waits for a run in progress to stop (it stops between
/// steps, each of which is safe to interrupt). Meant to be spawned at start.
pub async fn run_cleanup_schedule(state: AppState, shutdown: CancellationToken) {
    let schedule = state.settings.cleanup.schedule.clone();
    let running = Arc::new(Mutex::new(()));
    let mut scheduler = match start(&schedule, state, running.clone(), shutdown.clone()).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, schedule = %schedule, "cannot schedule the cleanup job; it will not run in this instance");
            return;
        }
    };
    tracing::info!(schedule = %schedule, "cleanup job scheduled");
    shutdown.cancelled().await;
    if let Err(e) = scheduler.shutdown().await {
        tracing::warn!(error = %e, "stopping the job scheduler failed");
    }
    let _idle = running.lock().await;
    tracing::info!("cleanup job stopped");
}

async fn start(
    schedule: &CronSchedule,
    state: AppState,
    running: Arc<Mutex<()>>,
    shutdown: CancellationToken,
) -> Result<JobScheduler, JobSchedulerError> {
    // Parsed once while the settings loaded, with the options this scheduler fires by.
    let cron = Arc::new(schedule.cron().clone());
    let job = Job::new_async(schedule.as_str(), move |_id, _scheduler| {
        let (state, cron, running, shutdown) = (
            state.clone(),
            cron.clone(),
            running.clone(),
            shutdown.clone(),
        );
        Box::pin(async move { tick(&state, &cron, &running, &shutdown).await })
    })?;
    let scheduler = JobScheduler::new().await?;
    scheduler.add(job).await?;
    scheduler.start().await?;
    Ok(scheduler)
}

/// One scheduled firing: skipped after shutdown or while this instance's previous run
/// still runs; otherwise the tick is claimed and run here only if no other instance
/// claimed it. Failures are logged and counted, never propagated.
async fn tick(
    state: &AppState,
    schedule: &Cron,
    running: &Mutex<()>,
    shutdown: &CancellationToken,
) {
    let count = |outcome: &str| state.metrics.scheduled_tick(CLEANUP_JOB, outcome);
    if shutdown.is_cancelled() {
        return;
    }
    let Ok(_running) = running.try_lock() else {
        tracing::warn!(
            "previous cleanup run still in progress; leaving this tick to other instances"
        );
        count("overlapping");
        return;
    };
    // Shutdown waits for `running`: checking again while holding it means no tick is
    // claimed once the scheduler has stopped.
    if shutdown.is_cancelled() {
        return;
    }
    let Some(tick_at) = scheduled_tick(schedule, crate::time::now()) else {
        tracing::warn!("the cleanup schedule names no tick before now; skipping");
        return;
    };
    match claim_tick(&state.db, CLEANUP_JOB, tick_at).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::debug!(%tick_at, "cleanup tick claimed by another instance");
            count("claimed_elsewhere");
            return;
        }
        Err(e) => {
            tracing::warn!(error = %e, %tick_at, "could not claim the cleanup tick; skipping it");
            count("claim_failed");
            return;
        }
    }
    let outcome = tokio::select! {
        biased;
        () = shutdown.cancelled() => {
            tracing::info!("cleanup run interrupted by shutdown");
            "interrupted"
        }
        outcome = run_cleanup(state) => match outcome {
            Ok(report) if report.skipped => "locked",
            Ok(_) => "ran",
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "cleanup run failed; retrying on the next tick");
                "failed"
            }
        }
    };
    count(outcome);
    if let Some(before) = chrono::Duration::try_seconds(TICK_RETENTION_SECS)
        .and_then(|keep| tick_at.checked_sub_signed(keep))
        && let Err(e) = prune_ticks(&state.db, CLEANUP_JOB, before).await
    {
        tracing::warn!(error = %e, "could not prune old cleanup ticks");
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use chrono::TimeZone;

    use super::*;

    fn at(h: u32, m: u32, s: u32, ms: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 6, h, m, s).unwrap()
            + chrono::Duration::milliseconds(i64::from(ms))
    }

    #[test]
    fn a_firing_belongs_to_the_latest_scheduled_time_at_or_before_it() {
        let every_2s = CronSchedule::parse("*/2 * * * * *").unwrap().cron().clone();
        for (now, tick) in [
            (at(4, 0, 2, 0), at(4, 0, 2, 0)),
            (at(4, 0, 2, 300), at(4, 0, 2, 0)),
            (at(4, 0, 3, 999), at(4, 0, 2, 0)),
            (at(4, 0, 0, 1), at(4, 0, 0, 0)),
        ] {
            assert_eq!(scheduled_tick(&every_2s, now), Some(tick), "{now}");
        }
        let half_hourly = CronSchedule::parse("0 */30 * * * *")
            .unwrap()
            .cron()
            .clone();
        // An instance firing late, or with its clock a little ahead, names the same tick.
        assert_eq!(
            scheduled_tick(&half_hourly, at(4, 31, 7, 250)),
            Some(at(4, 30, 0, 0))
        );
        assert_eq!(
            scheduled_tick(&half_hourly, at(5, 0, 0, 0)),
            Some(at(5, 0, 0, 0))
        );
    }
}
