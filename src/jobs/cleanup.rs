//! The periodic cleanup job: removes unconfirmed uploads, of documents and of new
//! versions, older than `documents.pending_ttl_secs` (releasing their quota
//! reservations), deletes for good the documents trashed longer than
//! `documents.trash_retention_days` ago (refunding them,
//! [`crate::documents::trash::purge_expired`]), retries object
//! deletions that failed earlier, sweeps stale temporary files of the local store
//! (partial uploads left by a crash), and makes the thumbnails of up to
//! [`thumbnails::BACKFILL_PER_RUN`] processed documents that have none yet (newest first:
//! documents from before thumbnails, or whose thumbnail could not be stored).
//!
//! A plain async function: the scheduler calls it on `cleanup.schedule`, tests and
//! tools call it directly. Stale uploads are removed row first, with the same
//! `status = 'pending'` condition confirm claims the row with, and their objects only
//! when that delete won; so a confirmed upload can never lose its object.

use std::collections::HashSet;

use anyhow::Context;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::sqlx::pool::PoolConnection;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::db::AdvisoryLock;
use crate::documents::files::{delete_object_or_retry_later, staging_key};
use crate::documents::lifecycle::{self, RemoveIf};
use crate::documents::versions;
use crate::domain::ObjectKey;
use crate::entities::{DocumentStatus, documents, object_deletions};
use crate::jobs::thumbnails;
use crate::settings::Settings;
use crate::state::AppState;
use crate::storage::{LocalStore, ObjectStore};

/// Rows read per query, so a large backlog never loads at once.
const BATCH: u64 = 500;

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanupReport {
    /// Another instance held the cleanup lock; this run did nothing.
    pub skipped: bool,
    /// Stale pending uploads whose row (and then objects) were removed.
    pub stale_uploads_removed: u64,
    /// Stale pending uploads whose conditional delete matched nothing: a concurrent
    /// confirm claimed them first (or another run removed them); left alone.
    pub stale_uploads_confirmed_meanwhile: u64,
    /// Stale pending versions (upload URL handed out, never confirmed) whose row,
    /// reservation and objects were removed.
    pub stale_versions_removed: u64,
    /// Earlier failed object deletions that succeeded now.
    pub deletions_completed: u64,
    /// Object deletions that failed again (kept for the next run).
    pub deletions_still_failing: u64,
    /// Stale temporary files (partial uploads of a crashed process) removed from the
    /// local store.
    pub stale_temp_files_removed: u64,
    /// Thumbnails made for processed documents that had none.
    pub thumbnails_made: u64,
    /// Processed documents of which no thumbnail can be made (the reason is recorded).
    pub thumbnails_impossible: u64,
    /// Trashed documents past `documents.trash_retention_days` deleted for good.
    pub trashed_purged: u64,
}

/// The creation time before which a pending upload is stale (`None`: nothing is, the
/// lifetime reaching back before the calendar's start).
pub fn pending_cutoff(settings: &Settings, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let ttl = i64::try_from(settings.documents.pending_ttl_secs)
        .ok()
        .and_then(chrono::Duration::try_seconds)?;
    now.checked_sub_signed(ttl)
}

/// One cleanup run: stale uploads, then the object-deletion backlog. Logs a summary at
/// info. On PostgreSQL, a run whose lock another instance holds is skipped.
pub async fn run_cleanup(state: &AppState) -> anyhow::Result<CleanupReport> {
    let Some(lock) = RunLock::acquire(&state.db).await? else {
        tracing::info!("cleanup skipped: another instance is running it");
        return Ok(CleanupReport {
            skipped: true,
            ..CleanupReport::default()
        });
    };
    let mut report = CleanupReport::default();
    let outcome = async {
        remove_stale_uploads(state, &mut report).await?;
        report.trashed_purged = crate::documents::trash::purge_expired(state)
            .await
            .map_err(anyhow::Error::from)
            .context("purging the trash")?;
        remove_stale_versions(state, &mut report).await?;
        retry_object_deletions(&state.db, state.storage.as_ref(), &mut report).await?;
        sweep_temp_files(state.local_store.as_ref(), &mut report).await?;
        let made = thumbnails::backfill(state, thumbnails::BACKFILL_PER_RUN)
            .await
            .context("making missing thumbnails")?;
        report.thumbnails_made = made.made;
        report.thumbnails_impossible = made.impossible;
        Ok::<(), anyhow::Error>(())
    }
    .await;
    lock.release().await;
    outcome?;
    tracing::info!(
        stale_uploads_removed = report.stale_uploads_removed,
        stale_uploads_confirmed_meanwhile = report.stale_uploads_confirmed_meanwhile,
        stale_versions_removed = report.stale_versions_removed,
        deletions_completed = report.deletions_completed,
        deletions_still_failing = report.deletions_still_failing,
        stale_temp_files_removed = report.stale_temp_files_removed,
        thumbnails_made = report.thumbnails_made,
        thumbnails_impossible = report.thumbnails_impossible,
        trashed_purged = report.trashed_purged,
        "cleanup finished: {} stale uploads removed, {} object deletions completed, {} still failing",
        report.stale_uploads_removed,
        report.deletions_completed,
        report.deletions_still_failing,
    );
    Ok(report)
}

/// Deletes each stale pending row with a conditional delete, then its staging and final
/// objects — only when this delete removed the row. A confirm that claimed the row
/// first (its `UPDATE … WHERE status = 'pending'`) makes the delete wait for its
/// transaction (PostgreSQL row lock; SQLite's single writer) and then match nothing.
async fn remove_stale_uploads(state: &AppState, report: &mut CleanupReport) -> anyhow::Result<()> {
    let Some(cutoff) = pending_cutoff(&state.settings, crate::time::now()) else {
        return Ok(());
    };
    let mut seen = HashSet::new();
    loop {
        let batch: Vec<(Uuid, String)> = documents::Entity::find()
            .select_only()
            .column(documents::Column::Id)
            .column(documents::Column::ObjectKey)
            .filter(documents::Column::Status.eq(DocumentStatus::Pending))
            .filter(documents::Column::CreatedAt.lt(cutoff))
            .order_by_asc(documents::Column::CreatedAt)
            .order_by_asc(documents::Column::Id)
            .limit(BATCH)
            .into_tuple()
            .all(&state.db)
            .await
            .context("listing stale uploads")?;
        let full = batch.len() as u64 == BATCH;
        // Every row handled is gone or no longer pending; `seen` only guards the loop.
        let fresh: Vec<_> = batch
            .into_iter()
            .filter(|(id, _)| seen.insert(*id))
            .collect();
        if fresh.is_empty() {
            break;
        }
        for (id, key) in fresh {
            // Row and reservation go together, decided by the conditional delete.
            let removed = async {
                let txn = crate::db::begin_write(&state.db).await?;
                let removed = lifecycle::remove(&txn, id, RemoveIf::StalePending(cutoff)).await?;
                txn.commit().await?;
                Ok::<_, crate::error::ApiError>(removed)
            }
            .await
            .map_err(anyhow::Error::from)
            .with_context(|| format!("removing stale upload {id}"))?;
            if removed.is_none() {
                report.stale_uploads_confirmed_meanwhile += 1;
                continue;
            }
            report.stale_uploads_removed += 1;
            let Ok(key) = ObjectKey::parse(&key) else {
                tracing::warn!(document = %id, key, "stale upload had an invalid object key");
                continue;
            };
            for k in [staging_key(&key)?, key] {
                delete_object_or_retry_later(&state.db, state.storage.as_ref(), &k)
                    .await
                    .with_context(|| format!("recording the deletion of {k}"))?;
            }
        }
        if !full {
            break;
        }
    }
    Ok(())
}

/// Removes each pending version older than the pending lifetime: row and reservation
/// by the conditional delete ([`versions::remove_pending`]; a confirm that held the row
/// first wins), then its staging and final objects, only when that delete won.
async fn remove_stale_versions(state: &AppState, report: &mut CleanupReport) -> anyhow::Result<()> {
    let Some(cutoff) = pending_cutoff(&state.settings, crate::time::now()) else {
        return Ok(());
    };
    let mut seen = HashSet::new();
    loop {
        let batch = versions::stale_pending(&state.db, cutoff, BATCH)
            .await
            .context("listing stale version uploads")?;
        let full = batch.len() as u64 == BATCH;
        let fresh: Vec<_> = batch
            .into_iter()
            .filter(|(id, _)| seen.insert(*id))
            .collect();
        if fresh.is_empty() {
            break;
        }
        for (id, key) in fresh {
            let removed = async {
                let txn = crate::db::begin_write(&state.db).await?;
                let removed = versions::remove_pending(&txn, id, Some(cutoff)).await?;
                txn.commit().await?;
                Ok::<_, sea_orm::DbErr>(removed)
            }
            .await
            .with_context(|| format!("removing stale version upload {id}"))?;
            if removed.is_none() {
                continue;
            }
            report.stale_versions_removed += 1;
            let Ok(key) = ObjectKey::parse(&key) else {
                tracing::warn!(version = %id, key, "stale version had an invalid object key");
                continue;
            };
            for k in [staging_key(&key)?, key] {
                delete_object_or_retry_later(&state.db, state.storage.as_ref(), &k)
                    .await
                    .with_context(|| format!("recording the deletion of {k}"))?;
            }
        }
        if !full {
            break;
        }
    }
    Ok(())
}

/// Removes the local store's temporary files older than
/// [`crate::storage::LocalStore::stale_temp_age`] (nothing for S3).
async fn sweep_temp_files(
    local_store: Option<&LocalStore>,
    report: &mut CleanupReport,
) -> anyhow::Result<()> {
    if let Some(local) = local_store {
        report.stale_temp_files_removed = local.sweep_stale_temp_files().await;
    }
    Ok(())
}

/// Retries every recorded failed deletion once: success removes the record, failure
/// counts the attempt and keeps the error.
async fn retry_object_deletions(
    db: &impl ConnectionTrait,
    storage: &dyn ObjectStore,
    report: &mut CleanupReport,
) -> anyhow::Result<()> {
    let mut after: Option<String> = None;
    loop {
        let mut query = object_deletions::Entity::find()
            .order_by_asc(object_deletions::Column::ObjectKey)
            .limit(BATCH);
        if let Some(last) = after.take() {
            query = query.filter(object_deletions::Column::ObjectKey.gt(last));
        }
        let rows = query
            .all(db)
            .await
            .context("listing failed object deletions")?;
        let full = rows.len() as u64 == BATCH;
        after = rows.last().map(|r| r.object_key.clone());
        for row in rows {
            let outcome = match ObjectKey::parse(&row.object_key) {
                Ok(key) => storage.delete(&key).await.map_err(|e| e.to_string()),
                Err(_) => {
                    // Not a key this server could have written: nothing to delete.
                    tracing::warn!(key = row.object_key, "dropping an invalid object key");
                    Ok(())
                }
            };
            let forget = object_deletions::Entity::delete_many()
                .filter(object_deletions::Column::ObjectKey.eq(row.object_key.as_str()));
            match outcome {
                Ok(()) => {
                    forget.exec(db).await?;
                    report.deletions_completed += 1;
                }
                Err(e) => {
                    tracing::warn!(key = row.object_key, attempts = row.attempts + 1, error = %e,
                        "object deletion failed again");
                    object_deletions::Entity::update_many()
                        .col_expr(
                            object_deletions::Column::Attempts,
                            Expr::col(object_deletions::Column::Attempts).add(1),
                        )
                        .col_expr(object_deletions::Column::LastError, Expr::value(Some(e)))
                        .filter(object_deletions::Column::ObjectKey.eq(row.object_key.as_str()))
                        .exec(db)
                        .await?;
                    report.deletions_still_failing += 1;
                }
            }
        }
        if !full {
            break;
        }
    }
    Ok(())
}

/// The cross-instance run lock: a PostgreSQL session advisory lock on a connection
/// taken out of the pool for the run; nothing on SQLite (one instance per file).
struct RunLock {
    conn: Option<PoolConnection<sea_orm::sqlx::Postgres>>,
}

impl RunLock {
    /// Takes the lock, or `None` when another session holds it.
    async fn acquire(db: &DatabaseConnection) -> anyhow::Result<Option<Self>> {
        if db.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(Some(Self { conn: None }));
        }
        let mut conn = db
            .get_postgres_connection_pool()
            .acquire()
            .await
            .context("taking a connection for the cleanup lock")?;
        // The connection never goes back to the pool: closing it ends the session, so
        // the lock cannot outlive the run, whatever interrupts it.
        conn.close_on_drop();
        let locked: bool = sea_orm::sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(AdvisoryLock::Cleanup.id())
            .fetch_one(&mut *conn)
            .await
            .context("taking the cleanup lock")?;
        Ok(locked.then_some(Self { conn: Some(conn) }))
    }

    /// Unlocks (closing the connection would too; this is just prompt and explicit).
    async fn release(mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        let unlocked = sea_orm::sqlx::query_scalar::<_, bool>("SELECT pg_advisory_unlock($1)")
            .bind(AdvisoryLock::Cleanup.id())
            .fetch_one(&mut *conn)
            .await;
        if !matches!(unlocked, Ok(true)) {
            tracing::warn!(
                ?unlocked,
                "could not release the cleanup lock; closing its connection"
            );
        }
    }
}
