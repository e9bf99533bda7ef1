//! The use cases of a re-file run and every write to its row (`refile_runs`): start,
//! progress, cancel, and the runner's claim, lease and end.
//!
//! A run is claimed like a webhook delivery: one conditional `UPDATE` takes a `running`
//! row whose lease (`claimed_until`) lapsed or was never set, naming the instance; every
//! later write of that instance carries the same condition (`running`, claimed by it), so
//! an instance whose lease lapsed (and whose run was taken over) or whose run was
//! cancelled learns it from a write that changed nothing. Progress is written in the
//! transaction that files the batch, so the counters and the keyset position always
//! describe what was committed: a run taken over after a crash carries on after the last
//! committed batch and counts nothing twice.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use crate::audit::{AuditEntry, AuditEvent, Outcome};
use crate::domain::UserId;
use crate::entities::refile_runs::{self, RefileState};
use crate::entities::users;
use crate::error::{ApiError, ErrorCode};
use crate::settings::AiSettings;

/// 409 `refile_running`: the account has a run in progress.
fn already_running() -> ApiError {
    ApiError::Conflict {
        code: ErrorCode::RefileRunning,
        message: "A re-file of your documents is already running".into(),
    }
}

/// Checks that `user`'s documents may be re-filed in bulk: only on the builtin
/// classifier, which runs in-process (422 `refile_needs_builtin` otherwise: sending a
/// whole vault to a model is a cost and privacy decision made document by document,
/// with the bulk "re-classify" action).
pub fn check_classifier(ai: &AiSettings, user: &users::Model) -> Result<(), ApiError> {
    let provider = crate::classify::chosen_provider(ai, user);
    if provider == "builtin" {
        return Ok(());
    }
    Err(ApiError::Unprocessable {
        code: ErrorCode::RefileNeedsBuiltin,
        message: format!(
            "Re-filing everything runs on the builtin classifier, and your account uses \
             {provider}. Switch to the builtin classifier in the AI settings, or select \
             documents and re-classify them."
        ),
    })
}

/// Starts a run over `user`'s vault: removes their finished runs, counts the documents
/// to look at ([`super::batch::count_candidates`]) and inserts the run as `running` with
/// no lease, for any instance's runner to take. 422 when the account's classifier is not
/// the builtin one; 409 `refile_running` when a run is in progress (also when two starts
/// race: the partial unique index lets one in). Records `topics_refile_started`.
pub async fn start(
    db: &DatabaseConnection,
    ai: &AiSettings,
    user: &users::Model,
    ip: Option<&str>,
) -> Result<refile_runs::Model, ApiError> {
    check_classifier(ai, user)?;
    // Counted before the write transaction: on SQLite it holds the write lock, and a
    // large vault's count should not hold up the pipeline's writes.
    let total = super::batch::count_candidates(db, user.id).await?;
    let txn = crate::db::begin_write(db).await?;
    if running(&txn, user.id.into()).await?.is_some() {
        txn.rollback().await?;
        return Err(already_running());
    }
    refile_runs::Entity::delete_many()
        .filter(refile_runs::Column::UserId.eq(user.id))
        .filter(refile_runs::Column::State.ne(RefileState::Running))
        .exec(&txn)
        .await?;
    let run = refile_runs::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(user.id),
        state: Set(RefileState::Running),
        total: Set(i64::try_from(total).unwrap_or(i64::MAX)),
        done: Set(0),
        changed: Set(0),
        after_id: Set(None),
        claimed_by: Set(None),
        claimed_until: Set(None),
        error: Set(None),
        started_at: Set(crate::time::now()),
        finished_at: Set(None),
    };
    let run = match run.insert(&txn).await {
        Ok(run) => run,
        Err(e)
            if matches!(
                e.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            ) =>
        {
            return Err(already_running());
        }
        Err(e) => return Err(e.into()),
    };
    AuditEntry::new(
        AuditEvent::TopicsRefileStarted,
        Outcome::Success,
        Some(user.id),
        ip,
    )
    .resource(run.id)
    .detail("total", run.total)
    .record(&txn)
    .await?;
    txn.commit().await?;
    Ok(run)
}

/// The account's run in progress, if any.
async fn running(
    db: &impl ConnectionTrait,
    user: UserId,
) -> Result<Option<refile_runs::Model>, DbErr> {
    refile_runs::Entity::find()
        .filter(refile_runs::Column::UserId.eq(Uuid::from(user)))
        .filter(refile_runs::Column::State.eq(RefileState::Running))
        .one(db)
        .await
}

/// The account's latest run (the one in progress, or the last finished one).
pub async fn latest(
    db: &impl ConnectionTrait,
    user: UserId,
) -> Result<Option<refile_runs::Model>, DbErr> {
    refile_runs::Entity::find()
        .filter(refile_runs::Column::UserId.eq(Uuid::from(user)))
        .order_by_desc(refile_runs::Column::StartedAt)
        .order_by_desc(refile_runs::Column::Id)
        .one(db)
        .await
}

/// Cancels the account's run in progress: `cancelled` at once (the runner notices at its
/// next write, which then changes nothing: the batch it was filing is not committed).
/// The cancelled run, or `None` when none was running. Records `topics_refile_finished`.
pub async fn cancel(
    db: &DatabaseConnection,
    user: UserId,
    ip: Option<&str>,
) -> Result<Option<refile_runs::Model>, DbErr> {
    let now = crate::time::now();
    let txn = crate::db::begin_write(db).await?;
    let Some(run) = running(&txn, user).await? else {
        txn.rollback().await?;
        return Ok(None);
    };
    let n = refile_runs::Entity::update_many()
        .col_expr(
            refile_runs::Column::State,
            Expr::value(RefileState::Cancelled),
        )
        .col_expr(refile_runs::Column::FinishedAt, Expr::value(now))
        .col_expr(refile_runs::Column::ClaimedUntil, no_time())
        .filter(refile_runs::Column::Id.eq(run.id))
        .filter(refile_runs::Column::State.eq(RefileState::Running))
        .exec(&txn)
        .await?
        .rows_affected;
    if n != 1 {
        txn.rollback().await?;
        return Ok(None);
    }
    let Some(run) = refile_runs::Entity::find_by_id(run.id).one(&txn).await? else {
        txn.rollback().await?;
        return Ok(None);
    };
    ended_entry(&run, Some(run.user_id), ip)
        .record(&txn)
        .await?;
    txn.commit().await?;
    Ok(Some(run))
}

/// The `topics_refile_finished` entry of an ended run, acted on by `actor`.
fn ended_entry(run: &refile_runs::Model, actor: Option<Uuid>, ip: Option<&str>) -> AuditEntry {
    let mut entry = AuditEntry::new(
        AuditEvent::TopicsRefileFinished,
        if run.state == RefileState::Failed {
            Outcome::Failure
        } else {
            Outcome::Success
        },
        Some(run.user_id),
        ip,
    )
    .actor(actor)
    .resource(run.id)
    .detail("state", run.state.as_str())
    .detail("done", run.done)
    .detail("changed", run.changed);
    if let Some(error) = &run.error {
        entry = entry.detail("error", error.clone());
    }
    entry
}

fn no_time() -> Expr {
    Expr::value(Option::<DateTime<Utc>>::None)
}

/// A lease that lapsed (or was never taken) at `now`.
fn lease_lapsed(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(refile_runs::Column::ClaimedUntil.is_null())
        .add(refile_runs::Column::ClaimedUntil.lt(now))
}

/// Still `running` and claimed by `instance`: the condition of every write of a runner.
fn held_by(run: Uuid, instance: &str) -> Condition {
    Condition::all()
        .add(refile_runs::Column::Id.eq(run))
        .add(refile_runs::Column::State.eq(RefileState::Running))
        .add(refile_runs::Column::ClaimedBy.eq(instance))
}

/// Claims a running run nobody holds (never claimed, or its lease lapsed: the instance
/// that had it stopped or crashed) for `instance` until `lease_until`, the oldest first.
/// The claimed row, or `None` when there is none (or other instances won them).
pub async fn claim_next(
    db: &impl ConnectionTrait,
    instance: &str,
    lease_until: DateTime<Utc>,
) -> Result<Option<refile_runs::Model>, DbErr> {
    let now = crate::time::now();
    let free: Vec<Uuid> = refile_runs::Entity::find()
        .select_only()
        .column(refile_runs::Column::Id)
        .filter(refile_runs::Column::State.eq(RefileState::Running))
        .filter(lease_lapsed(now))
        .order_by_asc(refile_runs::Column::StartedAt)
        .limit(10)
        .into_tuple()
        .all(db)
        .await?;
    for id in free {
        let claimed = refile_runs::Entity::update_many()
            .col_expr(refile_runs::Column::ClaimedBy, Expr::value(instance))
            .col_expr(refile_runs::Column::ClaimedUntil, Expr::value(lease_until))
            .filter(refile_runs::Column::Id.eq(id))
            .filter(refile_runs::Column::State.eq(RefileState::Running))
            .filter(lease_lapsed(now))
            .exec(db)
            .await?
            .rows_affected
            == 1;
        if claimed {
            return refile_runs::Entity::find_by_id(id).one(db).await;
        }
    }
    Ok(None)
}

/// Pushes the lease of a run `instance` holds to `lease_until`; `false` when it no
/// longer holds it (cancelled, or taken over after its lease lapsed).
pub async fn renew(
    db: &impl ConnectionTrait,
    run: Uuid,
    instance: &str,
    lease_until: DateTime<Utc>,
) -> Result<bool, DbErr> {
    Ok(refile_runs::Entity::update_many()
        .col_expr(refile_runs::Column::ClaimedUntil, Expr::value(lease_until))
        .filter(held_by(run, instance))
        .exec(db)
        .await?
        .rows_affected
        == 1)
}

/// What one committed batch adds to its run.
#[derive(Debug, Clone, Copy)]
pub struct BatchProgress {
    /// Documents looked at.
    pub looked_at: u64,
    /// Documents whose topics changed.
    pub changed: u64,
    /// The last document id of the batch (the next batch starts after it).
    pub last: Uuid,
}

/// Adds a batch to the run's counters and keyset position and renews the lease, inside
/// the batch's own transaction; `false` when `instance` no longer holds the run: the
/// caller rolls the batch back.
pub async fn record_batch(
    db: &impl ConnectionTrait,
    run: Uuid,
    instance: &str,
    progress: BatchProgress,
    lease_until: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let add = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    Ok(refile_runs::Entity::update_many()
        .col_expr(
            refile_runs::Column::Done,
            Expr::col(refile_runs::Column::Done).add(add(progress.looked_at)),
        )
        .col_expr(
            refile_runs::Column::Changed,
            Expr::col(refile_runs::Column::Changed).add(add(progress.changed)),
        )
        .col_expr(refile_runs::Column::AfterId, Expr::value(progress.last))
        .col_expr(refile_runs::Column::ClaimedUntil, Expr::value(lease_until))
        .filter(held_by(run, instance))
        .exec(db)
        .await?
        .rows_affected
        == 1)
}

/// Ends a run `instance` holds as `done` (its total becomes the number looked at:
/// documents deleted, trashed or filed by hand meanwhile drop out, those that became
/// candidates meanwhile count in) or `failed` with `error`, and records
/// `topics_refile_finished`. The ended run, or `None` when `instance` no longer held it.
pub async fn end(
    db: &DatabaseConnection,
    run: Uuid,
    instance: &str,
    failed: Option<&str>,
) -> Result<Option<refile_runs::Model>, DbErr> {
    let txn = crate::db::begin_write(db).await?;
    let mut update = refile_runs::Entity::update_many()
        .col_expr(
            refile_runs::Column::FinishedAt,
            Expr::value(crate::time::now()),
        )
        .col_expr(refile_runs::Column::ClaimedUntil, no_time());
    update = match failed {
        None => update
            .col_expr(refile_runs::Column::State, Expr::value(RefileState::Done))
            .col_expr(
                refile_runs::Column::Total,
                Expr::col(refile_runs::Column::Done),
            ),
        Some(error) => update
            .col_expr(refile_runs::Column::State, Expr::value(RefileState::Failed))
            .col_expr(refile_runs::Column::Error, Expr::value(error)),
    };
    let n = update
        .filter(held_by(run, instance))
        .exec(&txn)
        .await?
        .rows_affected;
    if n != 1 {
        txn.rollback().await?;
        return Ok(None);
    }
    let Some(ended) = refile_runs::Entity::find_by_id(run).one(&txn).await? else {
        txn.rollback().await?;
        return Ok(None);
    };
    ended_entry(&ended, None, None).record(&txn).await?;
    txn.commit().await?;
    Ok(Some(ended))
}

/// Gives a run back without ending it (this instance stops): its lease is cleared, so
/// the next runner to look (another instance, or this one after a restart) takes it
/// over at once and carries on after its last committed batch.
pub async fn release(db: &impl ConnectionTrait, run: Uuid, instance: &str) -> Result<(), DbErr> {
    refile_runs::Entity::update_many()
        .col_expr(refile_runs::Column::ClaimedUntil, no_time())
        .filter(held_by(run, instance))
        .exec(db)
        .await?;
    Ok(())
}
