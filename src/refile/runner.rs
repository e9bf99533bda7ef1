//! The background task that works re-file runs, spawned next to the job workers
//! (`serve` unless `--no-workers`, and `docuvault worker`).
//!
//! Each instance polls for a `running` run nobody holds ([`service::claim_next`]) and
//! works one run at a time:
//!
//! 1. the owner's topics and hand-filed examples are read and the builtin model trained
//!    once; every [`RETRAIN_CHECK`] the topics and the hand-filings are looked at again
//!    ([`Fingerprint`]) and the model retrained before the next batch when they changed;
//! 2. batches of `ai.refile_batch_size` documents in id order ([`batch::next_page`]) are
//!    classified on the instance's one re-file thread ([`CpuLane`], lowest CPU priority)
//!    and filed in one write transaction each ([`batch::apply`]), which also adds the
//!    batch to the run's counters and renews its lease ([`service::record_batch`]);
//! 3. before each batch, the run waits while the job queue has work waiting or a document
//!    is being processed ([`pipeline_busy`]): new uploads go first, the re-file fills the
//!    gaps (a steady stream of uploads slows it down, never the other way round);
//! 4. when a batch finds nothing left the run is `done`; an error that repeats
//!    [`BATCH_ATTEMPTS`] times ends it `failed`; a cancelled run, or one taken over after
//!    this instance's lease lapsed, stops at its next write (that batch is not
//!    committed); at shutdown the run is released for another instance (or the next
//!    start) to carry on after its last committed batch.

use std::time::{Duration, Instant};

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, JoinType, QueryFilter,
    QuerySelect, RelationTrait,
};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::batch::{self, Model};
use super::service::{self, BatchProgress};
use crate::classify;
use crate::entities::{
    DocumentStatus, TopicSource, document_topics, documents, refile_runs, users,
};
use crate::state::AppState;
use crate::webhooks::WebhookEvent;

/// How often an idle runner looks for a run to take.
const POLL: Duration = Duration::from_secs(1);
/// How often a run waiting for the pipeline looks again.
const BUSY_WAIT: Duration = Duration::from_millis(200);
/// How often the owner's topics and hand-filings are checked for changes.
const RETRAIN_CHECK: Duration = Duration::from_secs(2);
/// Attempts of one batch (database errors) before the run fails.
const BATCH_ATTEMPTS: u32 = 3;

/// Wakes this process's runner at once (a run was just started here) instead of at its
/// next poll; runners of other instances find the run at theirs.
static WAKE: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Tells this process's runner that a run is waiting (a hint: it looks at once).
pub fn wake() {
    WAKE.notify_waiters();
}

/// Spawns the re-file runner onto `tasks`.
pub fn spawn(state: &AppState, shutdown: &CancellationToken, tasks: &mut JoinSet<()>) {
    tasks.spawn(run(state.clone(), shutdown.clone()));
}

fn lease(state: &AppState) -> chrono::Duration {
    chrono::Duration::seconds(i64::try_from(state.settings.jobs.lease_secs).unwrap_or(60))
}

fn lease_until(state: &AppState) -> chrono::DateTime<chrono::Utc> {
    crate::time::now() + lease(state)
}

async fn run(state: AppState, shutdown: CancellationToken) {
    let instance = format!("{}-{}", std::process::id(), Uuid::new_v4().simple());
    let lane = match CpuLane::start() {
        Ok(lane) => lane,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the re-file thread; vault re-files will not run on this instance");
            return;
        }
    };
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = tick.tick() => {}
            () = WAKE.notified() => {}
        }
        match service::claim_next(&state.db, &instance, lease_until(&state)).await {
            Ok(Some(run)) => work(&state, &lane, &instance, run, &shutdown).await,
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "looking for re-file runs failed"),
        }
    }
}

/// How a run left this instance.
#[derive(Debug)]
enum Left {
    /// Every document was looked at.
    Done,
    /// Cancelled by its owner, taken over by another instance, or its owner is gone.
    Lost,
    /// This instance is stopping.
    Stopping,
}

/// Works the claimed `run` until it ends or leaves this instance.
async fn work(
    state: &AppState,
    lane: &CpuLane,
    instance: &str,
    run: refile_runs::Model,
    shutdown: &CancellationToken,
) {
    let started = Instant::now();
    tracing::info!(run = %run.id, user = %run.user_id, done = run.done, total = run.total, "re-file run taken");
    let ended = match drive(state, lane, instance, &run, shutdown).await {
        Ok(Left::Done) => service::end(&state.db, run.id, instance, None).await,
        Ok(Left::Lost) => Ok(None),
        Ok(Left::Stopping) => service::release(&state.db, run.id, instance)
            .await
            .map(|()| None),
        Err(error) => {
            tracing::warn!(run = %run.id, %error, "re-file run failed");
            service::end(&state.db, run.id, instance, Some(&error)).await
        }
    };
    match ended {
        Ok(Some(run)) => tracing::info!(
            run = %run.id,
            state = %run.state,
            done = run.done,
            changed = run.changed,
            secs = started.elapsed().as_secs_f64(),
            "re-file run ended"
        ),
        Ok(None) => tracing::info!(run = %run.id, "re-file run left this instance"),
        Err(e) => {
            tracing::warn!(run = %run.id, error = %e, "could not record the end of a re-file run; its lease will lapse")
        }
    }
}

/// The batches of one run. `Err` is the reason the run failed, as the owner reads it.
async fn drive(
    state: &AppState,
    lane: &CpuLane,
    instance: &str,
    run: &refile_runs::Model,
    shutdown: &CancellationToken,
) -> Result<Left, String> {
    let db = &state.db;
    let failed = |e: DbErr| {
        tracing::warn!(run = %run.id, error = %e, "re-file: database error");
        "The database could not be read or written; start the re-file again".to_owned()
    };
    let Some(owner) = load_owner(state, run.user_id).await.map_err(failed)? else {
        return Ok(Left::Lost);
    };
    check_builtin(state, &owner)?;
    let mut trained = train(state, lane, owner.id).await?;
    let mut checked = Instant::now();
    let mut after = run.after_id;
    let mut attempts = 0;
    loop {
        if shutdown.is_cancelled() {
            return Ok(Left::Stopping);
        }
        let next = async {
            if let Some(left) = yield_to_pipeline(state, run.id, instance, shutdown).await? {
                return Ok(Err(left));
            }
            if checked.elapsed() >= RETRAIN_CHECK {
                checked = Instant::now();
                let Some(owner) = load_owner(state, run.user_id).await? else {
                    return Ok(Err(Left::Lost));
                };
                check_builtin(state, &owner).map_err(StepError::Classifier)?;
                let now = Fingerprint::read(db, owner.id).await?;
                if now != trained.1 {
                    tracing::debug!(run = %run.id, "topics or hand-filings changed: retraining");
                    trained = train(state, lane, owner.id)
                        .await
                        .map_err(StepError::Classifier)?;
                }
            }
            step(state, lane, instance, run, &trained.0, after)
                .await
                .map(Ok)
        };
        match next.await {
            Ok(Err(left)) => return Ok(left),
            Ok(Ok(Step::Filed(last))) => {
                attempts = 0;
                after = Some(last);
                // Let everything else waiting on this runtime go first.
                tokio::task::yield_now().await;
            }
            Ok(Ok(Step::Finished)) => return Ok(Left::Done),
            Ok(Ok(Step::Lost)) => return Ok(Left::Lost),
            Err(StepError::Classifier(e)) => return Err(e),
            Err(StepError::Database(e)) => {
                attempts += 1;
                if attempts >= BATCH_ATTEMPTS {
                    return Err(failed(e));
                }
                tracing::warn!(run = %run.id, error = %e, attempt = attempts, "re-file batch failed; trying again");
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(Left::Stopping),
                    () = tokio::time::sleep(Duration::from_secs(u64::from(attempts))) => {}
                }
            }
        }
    }
}

/// What one batch came to.
enum Step {
    /// Filed and committed; the last document id of the batch.
    Filed(Uuid),
    /// Nothing left to look at.
    Finished,
    /// The run is no longer this instance's (cancelled or taken over): nothing committed.
    Lost,
}

enum StepError {
    Database(DbErr),
    Classifier(String),
}

impl From<DbErr> for StepError {
    fn from(e: DbErr) -> Self {
        Self::Database(e)
    }
}

/// Reads, classifies and files the batch after `after`.
async fn step(
    state: &AppState,
    lane: &CpuLane,
    instance: &str,
    run: &refile_runs::Model,
    model: &std::sync::Arc<Model>,
    after: Option<Uuid>,
) -> Result<Step, StepError> {
    let db = &state.db;
    let owner = run.user_id;
    let chars = classify::builtin_text_chars(&state.settings.ai);
    let page =
        batch::next_page(db, owner, after, state.settings.ai.refile_batch_size, chars).await?;
    let Some(last) = page.last().map(|c| c.id) else {
        return Ok(Step::Finished);
    };
    let looked_at = page.len() as u64;
    let ids: Vec<Uuid> = page.iter().map(|c| c.id).collect();
    let decisions = {
        let model = model.clone();
        lane.run(move || batch::decide(&model, &page))
            .await
            .map_err(StepError::Classifier)?
    };
    let exclude = batch::rejected_pairs(db, owner, &ids).await?;
    let txn = crate::db::begin_write(db).await?;
    let applied = batch::apply(&txn, owner, &decisions, &exclude).await?;
    let progress = BatchProgress {
        looked_at,
        changed: applied.changed.len() as u64,
        last,
    };
    if !service::record_batch(&txn, run.id, instance, progress, lease_until(state)).await? {
        txn.rollback().await?;
        return Ok(Step::Lost);
    }
    txn.commit().await?;
    if !applied.changed.is_empty() {
        crate::webhooks::document_events(
            db,
            owner,
            &applied.changed,
            WebhookEvent::DocumentProcessed,
        )
        .await;
    }
    Ok(Step::Filed(last))
}

async fn load_owner(state: &AppState, user: Uuid) -> Result<Option<users::Model>, DbErr> {
    users::Entity::find_by_id(user).one(&state.db).await
}

/// The run's reason to stop when the account no longer uses the builtin classifier.
fn check_builtin(state: &AppState, owner: &users::Model) -> Result<(), String> {
    service::check_classifier(&state.settings.ai, owner).map_err(|_| {
        "Your account no longer uses the builtin classifier; the re-file stopped".to_owned()
    })
}

/// What the model was trained on, cheaply compared: the topics (id, name, description)
/// and the number and newest time of the owner's hand-filings.
#[derive(Debug, Clone, PartialEq)]
struct Fingerprint {
    topics: Vec<(Uuid, String, Option<String>)>,
    hand_filed: i64,
    newest: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, FromQueryResult)]
struct HandFiled {
    n: i64,
    newest: Option<chrono::DateTime<chrono::Utc>>,
}

impl Fingerprint {
    async fn read(db: &impl ConnectionTrait, owner: Uuid) -> Result<Self, DbErr> {
        let topics = classify::load_topics(db, owner)
            .await
            .map_err(|e| DbErr::Custom(e.to_string()))?
            .into_iter()
            .map(|t| (t.id, t.name, t.description))
            .collect();
        let filed = document_topics::Entity::find()
            .select_only()
            .column_as(Expr::cust("COUNT(*)"), "n")
            .column_as(document_topics::Column::CreatedAt.max(), "newest")
            .join(
                JoinType::InnerJoin,
                document_topics::Relation::Document.def(),
            )
            .filter(documents::Column::UserId.eq(owner))
            .filter(document_topics::Column::Source.eq(TopicSource::User))
            .into_model::<HandFiled>()
            .one(db)
            .await?;
        Ok(Self {
            topics,
            hand_filed: filed.as_ref().map_or(0, |f| f.n),
            newest: filed.and_then(|f| f.newest),
        })
    }
}

/// Reads the owner's topics and hand-filed examples and trains the model on the re-file
/// thread; the model and what it was trained on.
async fn train(
    state: &AppState,
    lane: &CpuLane,
    owner: Uuid,
) -> Result<(std::sync::Arc<Model>, Fingerprint), String> {
    let db = &state.db;
    let ai = &state.settings.ai;
    let read = async {
        let fingerprint = Fingerprint::read(db, owner).await?;
        let topics = classify::load_topics(db, owner)
            .await
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        // The documents re-filed never have a hand-filed topic, so none is left out.
        let examples = classify::load_examples(db, ai, owner, Uuid::nil(), &topics)
            .await
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        Ok::<_, DbErr>((fingerprint, topics, examples))
    };
    let (fingerprint, topics, examples) = read.await.map_err(|e| {
        tracing::warn!(error = %e, "re-file: reading the training data failed");
        "The database could not be read; start the re-file again".to_owned()
    })?;
    let settings = state.settings.clone();
    let model = lane
        .run(move || Model::train(&settings.ai, &topics, &examples))
        .await?;
    Ok((std::sync::Arc::new(model), fingerprint))
}

/// Waits while the pipeline has work (see [`pipeline_busy`]), keeping the run's lease.
/// `Some` when the run left this instance meanwhile (lost, or stopping).
async fn yield_to_pipeline(
    state: &AppState,
    run: Uuid,
    instance: &str,
    shutdown: &CancellationToken,
) -> Result<Option<Left>, DbErr> {
    let renew_every = lease(state)
        .to_std()
        .unwrap_or(Duration::from_secs(60))
        .div_f64(3.0);
    let mut renewed = Instant::now();
    while pipeline_busy(state).await? {
        if renewed.elapsed() >= renew_every {
            if !service::renew(&state.db, run, instance, lease_until(state)).await? {
                return Ok(Some(Left::Lost));
            }
            renewed = Instant::now();
        }
        tokio::select! {
            () = shutdown.cancelled() => return Ok(Some(Left::Stopping)),
            () = tokio::time::sleep(BUSY_WAIT) => {}
        }
    }
    Ok(None)
}

/// Whether the processing pipeline has work now, for any account: jobs waiting in the
/// queue, or a document being processed under a live lease (index
/// `idx_documents_status_updated_at`). A queue that cannot be reached counts as idle
/// (its workers cannot work either).
async fn pipeline_busy(state: &AppState) -> Result<bool, DbErr> {
    if state.queue.depth().await.unwrap_or(0) > 0 {
        return Ok(true);
    }
    let processing: Option<Uuid> = documents::Entity::find()
        .select_only()
        .column(documents::Column::Id)
        .filter(documents::Column::Status.eq(DocumentStatus::Processing))
        .filter(documents::Column::LeaseExpiresAt.gt(crate::time::now()))
        .limit(1)
        .into_tuple()
        .one(&state.db)
        .await?;
    Ok(processing.is_some())
}

type LaneJob = Box<dyn FnOnce() + Send>;

/// The instance's one thread for re-file CPU work (training, classifying batches), at a
/// low scheduling priority on Linux ([`NICE`]): the HTTP workers, the async runtime and
/// the extraction children go first, and a re-file never takes more than one core.
struct CpuLane {
    jobs: std::sync::mpsc::Sender<LaneJob>,
}

impl CpuLane {
    fn start() -> std::io::Result<Self> {
        let (jobs, rx) = std::sync::mpsc::channel::<LaneJob>();
        std::thread::Builder::new()
            .name("docuvault-refile".into())
            .spawn(move || {
                lower_priority();
                // Ends when the runner (the only sender) is dropped.
                while let Ok(job) = rx.recv() {
                    job();
                }
            })?;
        Ok(Self { jobs })
    }

    /// Runs `f` on the lane; `Err` when it panicked (the reason the run fails).
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, String> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: LaneJob = Box::new(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(result);
        });
        let lost = || "The builtin classifier stopped unexpectedly".to_owned();
        self.jobs.send(job).map_err(|_| lost())?;
        match rx.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) => Err("The builtin classifier failed on one of the documents".into()),
            Err(_) => Err(lost()),
        }
    }
}

/// The re-file thread's nice value: against a task at the default priority it gets about
/// a tenth of a contended core (the kernel's weights 110 to 1024), so processing and
/// requests go first, yet unlike nice 19 (1.5 %) other background work on the host cannot
/// starve it.
#[cfg(target_os = "linux")]
const NICE: libc::c_int = 10;

/// Gives the calling thread a low CPU priority ([`NICE`], or the process's own when that
/// is lower already: a thread never gets a higher priority than its process; Linux
/// threads have their own nice values). Elsewhere it keeps the process's.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid has no arguments and cannot fail; getpriority and setpriority only
        // read their integer arguments, and setpriority changes this thread's nice value.
        let result = unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            // -1 is also a valid nice value; either way never below the process's.
            let current = libc::getpriority(libc::PRIO_PROCESS, tid);
            libc::setpriority(libc::PRIO_PROCESS, tid, NICE.max(current))
        };
        if result != 0 {
            tracing::debug!("could not lower the re-file thread's priority");
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[tokio::test]
    async fn the_lane_runs_work_on_one_low_priority_thread_and_survives_a_panic() {
        let lane = CpuLane::start().unwrap();
        let me = std::thread::current().id();
        let (a, nice) = lane
            .run(|| {
                // SAFETY: as in `lower_priority`.
                let nice = unsafe {
                    libc::getpriority(
                        libc::PRIO_PROCESS,
                        libc::syscall(libc::SYS_gettid) as libc::id_t,
                    )
                };
                (std::thread::current().id(), nice)
            })
            .await
            .unwrap();
        assert_ne!(a, me);
        assert!(nice >= NICE, "nice {nice}");
        let failed = lane.run(|| -> u8 { panic!("boom") }).await;
        assert!(failed.is_err());
        // The same thread goes on.
        let b = lane.run(|| std::thread::current().id()).await.unwrap();
        assert_eq!(a, b);
    }
}
