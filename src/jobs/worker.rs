//! Workers consume the queue and process documents; the sweeper re-dispatches documents
//! whose dispatch was lost (crash between commit and enqueue, Redis losing its data) or
//! whose worker died (lease lapsed), and fails documents that ran out of attempts.
//!
//! Both run inside `docuvault serve` (unless `--no-workers`) and in `docuvault worker`.

use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::documents::lifecycle;
use crate::entities::{DocumentStatus, documents};
use crate::jobs::pipeline::{self, JobResult};
use crate::queue::Job;
use crate::state::AppState;
use crate::webhooks::WebhookEvent;

/// How long one `reserve` call waits for a job before checking for shutdown.
const RESERVE_WAIT: Duration = Duration::from_secs(2);
/// Rows the sweeper handles per pass and kind.
const SWEEP_BATCH: u64 = 500;

/// Spawns `jobs.concurrency` workers and the sweeper onto `tasks`.
pub fn spawn(state: &AppState, shutdown: &CancellationToken, tasks: &mut JoinSet<()>) {
    let instance = format!(
        "{}-{}-{}",
        std::process::id(),
        Uuid::new_v4().simple(),
        chrono::Utc::now().timestamp()
    );
    for n in 0..state.settings.jobs.concurrency {
        tasks.spawn(run_worker(
            state.clone(),
            format!("{instance}-{n}"),
            shutdown.clone(),
        ));
    }
    tasks.spawn(run_sweeper(state.clone(), shutdown.clone()));
    tasks.spawn(crate::jobs::mail_intake::run(
        state.clone(),
        shutdown.clone(),
    ));
}

async fn run_worker(state: AppState, name: String, shutdown: CancellationToken) {
    tracing::debug!(worker = %name, "worker started");
    let mut backoff = Duration::from_millis(250);
    loop {
        let reserved = tokio::select! {
            () = shutdown.cancelled() => break,
            r = state.queue.reserve(&name, RESERVE_WAIT) => r,
        };
        let reserved = match reserved {
            Ok(Some(r)) => {
                backoff = Duration::from_millis(250);
                r
            }
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(worker = %name, error = %e, "queue unavailable; retrying");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
        };
        match &reserved.job {
            Job::ProcessDocument { document_id } => {
                // A job in flight finishes before shutdown; its claim protects it anyway.
                match pipeline::process(&state, *document_id).await {
                    Ok(JobResult::Skipped) => state.metrics.job("skipped"),
                    Ok(result) => {
                        state.metrics.job(match &result {
                            JobResult::Done(status) => status.as_str(),
                            JobResult::Failed(_) => DocumentStatus::Failed.as_str(),
                            JobResult::Retrying(_) => "retried",
                            JobResult::Skipped => "skipped",
                        });
                        tracing::info!(document = %document_id, ?result, "document processed")
                    }
                    Err(e) => tracing::warn!(
                        document = %document_id,
                        error = %e,
                        "processing interrupted; the sweeper will dispatch it again"
                    ),
                }
            }
        }
        if let Err(e) = state.queue.ack(&name, &reserved).await {
            tracing::warn!(worker = %name, error = %e, "could not acknowledge a job");
        }
    }
    tracing::debug!(worker = %name, "worker stopped");
}

async fn run_sweeper(state: AppState, shutdown: CancellationToken) {
    let every = Duration::from_secs(state.settings.jobs.sweep_interval_secs);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        match sweep(&state).await {
            Ok(r) if r.redispatched + r.failed > 0 => {
                tracing::info!(
                    redispatched = r.redispatched,
                    failed = r.failed,
                    "sweeper pass"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sweeper pass failed"),
        }
    }
}

/// What one sweeper pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    /// Documents handed to the queue again.
    pub redispatched: usize,
    /// Documents that ran out of attempts and were marked `failed`.
    pub failed: usize,
}

/// One sweeper pass (safe to run from several instances at once: every change is a
/// conditional update, and only the instance whose update won dispatches).
pub async fn sweep(state: &AppState) -> Result<SweepReport, sea_orm::DbErr> {
    let now = crate::time::now();
    let jobs = &state.settings.jobs;
    let max = i32::try_from(jobs.max_attempts).unwrap_or(i32::MAX);
    let lapsed = lifecycle::lease_lapsed(now);
    let mut report = SweepReport::default();

    // Out of attempts: a worker died (or timed out) on the last one.
    let reason = format!(
        "Processing was interrupted {max} times (the worker stopped or timed out); giving up"
    );
    let exhausted = lifecycle::fail_exhausted(&state.db, now, max, &reason).await?;
    report.failed = exhausted.len();
    for (id, owner) in exhausted {
        crate::webhooks::document_event(&state.db, owner, id, WebhookEvent::DocumentFailed).await;
    }

    // Lapsed leases: the worker died. Lost dispatches: a queued row with no job in the
    // queue. Jobs are not tied to rows, so when the queue holds fewer jobs than there are
    // queued rows, the oldest lapsed queued rows are dispatched again (at most the
    // shortfall); with a healthy backlog nothing is duplicated.
    let mut stuck: Vec<(Uuid, Uuid)> = documents::Entity::find()
        .select_only()
        .column(documents::Column::Id)
        .column(documents::Column::UserId)
        .filter(documents::Column::Status.eq(DocumentStatus::Processing))
        .filter(lapsed.clone())
        .order_by_asc(documents::Column::UpdatedAt)
        .limit(SWEEP_BATCH)
        .into_tuple()
        .all(&state.db)
        .await?;
    let queued = documents::Entity::find()
        .filter(documents::Column::Status.eq(DocumentStatus::Queued))
        .count(&state.db)
        .await?;
    let shortfall = match state.queue.depth().await {
        Ok(depth) => queued.saturating_sub(depth),
        Err(e) => {
            tracing::warn!(error = %e, "sweeper: queue unavailable");
            0
        }
    };
    if shortfall > 0 {
        let lost: Vec<(Uuid, Uuid)> = documents::Entity::find()
            .select_only()
            .column(documents::Column::Id)
            .column(documents::Column::UserId)
            .filter(documents::Column::Status.eq(DocumentStatus::Queued))
            .filter(lapsed)
            .order_by_asc(documents::Column::UpdatedAt)
            .limit(shortfall.min(SWEEP_BATCH))
            .into_tuple()
            .all(&state.db)
            .await?;
        stuck.extend(lost);
    }
    let until = now + chrono::Duration::seconds(i64::try_from(jobs.lease_secs).unwrap_or(60));
    for (id, owner) in stuck {
        if lifecycle::redispatch(&state.db, id, now, until).await? {
            lifecycle::dispatch(state.queue.as_ref(), id, owner).await;
            report.redispatched += 1;
        }
    }
    Ok(report)
}
