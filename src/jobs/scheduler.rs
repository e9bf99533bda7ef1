//! Scheduled jobs: runs [`run_cleanup`] on `cleanup.schedule` with tokio-cron-scheduler.
//!
//! A failed run is logged and retried on the next tick; it never stops the server.
//! Each instance decides with `cleanup.enabled` whether it schedules the job at all.

use std::sync::Arc;

use tokio::sync::Mutex;
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};
use tokio_util::sync::CancellationToken;

use crate::jobs::cleanup::run_cleanup;
use crate::state::AppState;

/// What a valid schedule looks like, for error messages.
const SCHEDULE_SYNTAX: &str = "not a valid cron expression; use six fields with seconds: sec min hour day month weekday \
     (e.g. \"0 */30 * * * *\")";

/// Checks that `expr` parses exactly as the scheduler will parse it.
pub fn check_schedule(expr: &str) -> Result<(), &'static str> {
    Job::new_async(expr, |_, _| Box::pin(async {}))
        .map(|_| ())
        .map_err(|_| SCHEDULE_SYNTAX)
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
            tracing::error!(error = %e, schedule, "cannot schedule the cleanup job; it will not run in this instance");
            return;
        }
    };
    tracing::info!(schedule, "cleanup job scheduled");
    shutdown.cancelled().await;
    if let Err(e) = scheduler.shutdown().await {
        tracing::warn!(error = %e, "stopping the job scheduler failed");
    }
    let _idle = running.lock().await;
    tracing::info!("cleanup job stopped");
}

async fn start(
    schedule: &str,
    state: AppState,
    running: Arc<Mutex<()>>,
    shutdown: CancellationToken,
) -> Result<JobScheduler, JobSchedulerError> {
    let job = Job::new_async(schedule, move |_id, _scheduler| {
        let (state, running, shutdown) = (state.clone(), running.clone(), shutdown.clone());
        Box::pin(async move { tick(&state, &running, &shutdown).await })
    })?;
    let scheduler = JobScheduler::new().await?;
    scheduler.add(job).await?;
    scheduler.start().await?;
    Ok(scheduler)
}

/// One scheduled run: skipped while the previous one still runs or after shutdown;
/// failures are logged, never propagated.
async fn tick(state: &AppState, running: &Mutex<()>, shutdown: &CancellationToken) {
    if shutdown.is_cancelled() {
        return;
    }
    let Ok(_running) = running.try_lock() else {
        tracing::warn!("previous cleanup run still in progress; skipping this tick");
        return;
    };
    tokio::select! {
        biased;
        () = shutdown.cancelled() => tracing::info!("cleanup run interrupted by shutdown"),
        outcome = run_cleanup(state) => {
            if let Err(e) = outcome {
                tracing::warn!(error = %format!("{e:#}"), "cleanup run failed; retrying on the next tick");
            }
        }
    }
}
