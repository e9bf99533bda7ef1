//! The document lifecycle: every change of `documents.status` is a function here.
//!
//! ```text
//!  upload-url ─► pending ──confirm──► queued ──claim──► processing ──finish──► classified
//!                   │                  ▲  ▲                 │    │                unclassified
//!                   │                  │  └──retry_later────┘    └──fail───────► failed
//!                   │                  └──────requeue (re-classify) ◄── classified / unclassified / failed
//!                   └──remove (refused confirm, stale upload, delete: any status)
//!
//!  processing ──park(ocr_unavailable)──► unclassified + status_reason
//!                                         └──requeue_waiting_for (start with OCR) ──► queued
//!
//!  any confirmed status ──switch_version (new current version)──► queued
//! ```
//!
//! `status_reason` says why a processed document has no text when it is not the file's
//! fault (a scan on a server without OCR): set by [`park`], cleared by every other
//! transition out of processing and by [`requeue`]. `progress_page`/`progress_pages` (the
//! page OCR is reading, written by the pipeline while it holds its claim) are cleared by
//! [`claim`] and by every transition out of processing.
//!
//! A document enters as `pending` (the row `service::create_upload` inserts). The
//! sweeper `redispatch`es lapsed `queued`/`processing` rows and `fail_exhausted`s those
//! out of attempts; a finished document's status follows its topics (`follow_topics`,
//! `unclassify_topicless`).
//!
//! Each transition is one conditional `UPDATE` on the status it expects (and, for a
//! worker's writes, on still holding its claim: `processing` at its attempt number), so
//! concurrent callers and instances race safely: the statement that matched won, and
//! the others learn it from the returned `false`. Functions take a connection, so a
//! caller runs them inside its own transaction (confirm settles the quota in the same
//! one). Handing a document to the queue is [`dispatch`], after the commit.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::documents::quota::{refund_quota, release_reservation};
use crate::entities::documents::{self, DocumentStatus, StatusReason};
use crate::entities::{VersionStatus, document_topics, document_versions};
use crate::queue::{Job, Queue};

/// The statuses a finished document can be in (re-classification starts from them).
pub const FINISHED: [DocumentStatus; 3] = [
    DocumentStatus::Classified,
    DocumentStatus::Unclassified,
    DocumentStatus::Failed,
];

/// Documents waiting for, or in, processing (the sweeper's concern).
const IN_PROCESSING: [DocumentStatus; 2] = [DocumentStatus::Queued, DocumentStatus::Processing];

fn no_time() -> Expr {
    Expr::value(Option::<DateTime<Utc>>::None)
}

fn no_reason() -> Expr {
    Expr::value(Option::<StatusReason>::None)
}

/// `progress_page`/`progress_pages` cleared: a claim starts without progress, and every
/// way out of processing ends it.
fn no_progress() -> Expr {
    Expr::value(Option::<i32>::None)
}

/// Takes the row of a pending upload for this transaction (a write that changes nothing
/// but `updated_at`), so concurrent confirms, and the cleanup's removal of a stale
/// upload, wait for it and then see its outcome. `false` when it is no longer pending.
pub async fn hold_pending(db: &impl ConnectionTrait, id: Uuid) -> Result<bool, DbErr> {
    let n = documents::Entity::update_many()
        .col_expr(
            documents::Column::UpdatedAt,
            Expr::value(crate::time::now()),
        )
        .filter(documents::Column::Id.eq(id))
        .filter(documents::Column::Status.eq(DocumentStatus::Pending))
        .exec(db)
        .await?
        .rows_affected;
    Ok(n == 1)
}

/// `pending → queued`: the upload is confirmed at `size_bytes` (as stored), whose hex
/// SHA-256 is `sha256`. Dispatch lease until `lease_until`: the sweeper dispatches it
/// again only after that.
pub async fn confirm(
    db: &impl ConnectionTrait,
    id: Uuid,
    size_bytes: i64,
    sha256: &str,
    lease_until: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let n = documents::Entity::update_many()
        .col_expr(
            documents::Column::Status,
            Expr::value(DocumentStatus::Queued),
        )
        .col_expr(documents::Column::SizeBytes, Expr::value(size_bytes))
        .col_expr(documents::Column::Sha256, Expr::value(sha256))
        .col_expr(documents::Column::LeaseExpiresAt, Expr::value(lease_until))
        .col_expr(
            documents::Column::UpdatedAt,
            Expr::value(crate::time::now()),
        )
        .filter(documents::Column::Id.eq(id))
        .filter(documents::Column::Status.eq(DocumentStatus::Pending))
        .exec(db)
        .await?
        .rows_affected;
    Ok(n == 1)
}

/// A lease that ran out (or was never set) at `now`.
pub fn lease_lapsed(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(documents::Column::LeaseExpiresAt.is_null())
        .add(documents::Column::LeaseExpiresAt.lt(now))
}

/// `queued → processing` (or `processing → processing` when the lease of the worker
/// that held it lapsed): claims `id` for a worker with attempt number + 1 and a lease
/// until `lease_until`, if it has attempts left (fewer than `max_attempts`). The claimed
/// row, or `None` when another worker holds it or it is not waiting.
pub async fn claim(
    db: &impl ConnectionTrait,
    id: Uuid,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    max_attempts: i32,
) -> Result<Option<documents::Model>, DbErr> {
    let claimable = Condition::any()
        .add(documents::Column::Status.eq(DocumentStatus::Queued))
        .add(
            Condition::all()
                .add(documents::Column::Status.eq(DocumentStatus::Processing))
                .add(documents::Column::LeaseExpiresAt.lt(now)),
        );
    let claimed = documents::Entity::update_many()
        .col_expr(
            documents::Column::Status,
            Expr::value(DocumentStatus::Processing),
        )
        .col_expr(
            documents::Column::Attempts,
            Expr::col(documents::Column::Attempts).add(1),
        )
        .col_expr(documents::Column::LeaseExpiresAt, Expr::value(lease_until))
        .col_expr(documents::Column::ProgressPage, no_progress())
        .col_expr(documents::Column::ProgressPages, no_progress())
        .col_expr(documents::Column::UpdatedAt, Expr::value(now))
        .filter(documents::Column::Id.eq(id))
        .filter(claimable)
        .filter(documents::Column::Attempts.lt(max_attempts))
        .exec(db)
        .await?
        .rows_affected;
    if claimed == 0 {
        return Ok(None);
    }
    documents::Entity::find_by_id(id).one(db).await
}

/// Matches `doc` only while the claim it was read with stands (`processing` at the same
/// attempt number): every write of a worker carries it, so a worker whose lease lapsed
/// (and whose document was claimed again) can never overwrite newer work.
///
/// The claim also names the version it works on (the document's object key): a new
/// current version ([`switch_version`]) resets the attempts, so the attempt number alone
/// could match a later claim; the key cannot, unless that claim works on the same bytes.
pub fn claim_held(doc: &documents::Model) -> Condition {
    Condition::all()
        .add(documents::Column::Id.eq(doc.id))
        .add(documents::Column::Status.eq(DocumentStatus::Processing))
        .add(documents::Column::Attempts.eq(doc.attempts))
        .add(documents::Column::ObjectKey.eq(doc.object_key.as_str()))
}

/// Pushes the lease of a claimed document to `until`; `false` when the claim was lost.
pub async fn renew_lease(
    db: &impl ConnectionTrait,
    doc: &documents::Model,
    until: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let n = documents::Entity::update_many()
        .col_expr(documents::Column::LeaseExpiresAt, Expr::value(until))
        .filter(claim_held(doc))
        .exec(db)
        .await?
        .rows_affected;
    Ok(n == 1)
}

/// `processing → classified` (when the document has topics) or `unclassified`, recording
/// who classified it; the status reached, or `None` when the claim was lost.
pub async fn finish(
    db: &impl ConnectionTrait,
    doc: &documents::Model,
    has_topics: bool,
    classified_by: serde_json::Value,
) -> Result<Option<DocumentStatus>, DbErr> {
    let status = if has_topics {
        DocumentStatus::Classified
    } else {
        DocumentStatus::Unclassified
    };
    let n = documents::Entity::update_many()
        .col_expr(documents::Column::Status, Expr::value(status))
        .col_expr(documents::Column::ClassifiedBy, Expr::value(classified_by))
        .col_expr(
            documents::Column::LastError,
            Expr::value(Option::<String>::None),
        )
        .col_expr(documents::Column::StatusReason, no_reason())
        .col_expr(documents::Column::LeaseExpiresAt, no_time())
        .col_expr(documents::Column::ProgressPage, no_progress())
        .col_expr(documents::Column::ProgressPages, no_progress())
        .col_expr(
            documents::Column::UpdatedAt,
            Expr::value(crate::time::now()),
        )
        .filter(claim_held(doc))
        .exec(db)
        .await?
        .rows_affected;
    Ok((n == 1).then_some(status))
}

/// `processing → failed` with `reason`; `false` when the claim was lost.
pub async fn fail(
    db: &impl ConnectionTrait,
    doc: &documents::Model,
    reason: &str,
) -> Result<bool, DbErr> {
    leave_processing(db, doc, DocumentStatus::Failed, reason, no_time()).await
}

/// `processing → unclassified` with `status_reason` = `reason` (and the human `message`
/// in `last_error`): the document could not be read for a reason that is not the file's
/// (no OCR on this server), so it is not `failed`; [`requeue_waiting_for`] or a
/// re-classify processes it again. No text is stored. `false` when the claim was lost.
pub async fn park(
    db: &impl ConnectionTrait,
    doc: &documents::Model,
    reason: StatusReason,
    message: &str,
) -> Result<bool, DbErr> {
    let n = documents::Entity::update_many()
        .col_expr(
            documents::Column::Status,
            Expr::value(DocumentStatus::Unclassified),
        )
        .col_expr(documents::Column::StatusReason, Expr::value(reason))
        .col_expr(documents::Column::LastError, Expr::value(message))
        .col_expr(documents::Column::LeaseExpiresAt, no_time())
        .col_expr(documents::Column::ProgressPage, no_progress())
        .col_expr(documents::Column::ProgressPages, no_progress())
        .col_expr(
            documents::Column::UpdatedAt,
            Expr::value(crate::time::now()),
        )
        .filter(claim_held(doc))
        .exec(db)
        .await?
        .rows_affected;
    Ok(n == 1)
}

/// The `UPDATE` that puts documents back in the queue with fresh attempts, no error or
/// reason, and a dispatch lease until `lease_until`; the caller adds which rows.
fn to_queued(lease_until: DateTime<Utc>) -> sea_orm::UpdateMany<documents::Entity> {
    documents::Entity::update_many()
        .col_expr(
            documents::Column::Status,
            Expr::value(DocumentStatus::Queued),
        )
        .col_expr(documents::Column::Attempts, Expr::value(0))
        .col_expr(
            documents::Column::LastError,
            Expr::value(Option::<String>::None),
        )
        .col_expr(documents::Column::StatusReason, no_reason())
        .col_expr(documents::Column::LeaseExpiresAt, Expr::value(lease_until))
        .col_expr(
            documents::Column::UpdatedAt,
            Expr::value(crate::time::now()),
        )
}

/// `unclassified → queued` for every document parked with `reason` (e.g. at a start that
/// finds OCR): fresh attempts, reason cleared, a dispatch lease until `lease_until`.
/// Returns `(document, owner)` of those this call moved (another instance starting at the
/// same time moves each at most once), for [`dispatch`] after the caller's commit.
pub async fn requeue_waiting_for(
    db: &impl ConnectionTrait,
    reason: StatusReason,
    lease_until: DateTime<Utc>,
) -> Result<Vec<(Uuid, Uuid)>, DbErr> {
    use sea_orm::QuerySelect;
    let waiting: Vec<(Uuid, Uuid)> = documents::Entity::find()
        .select_only()
        .column(documents::Column::Id)
        .column(documents::Column::UserId)
        .filter(documents::Column::Status.eq(DocumentStatus::Unclassified))
        .filter(documents::Column::StatusReason.eq(reason))
        .into_tuple()
        .all(db)
        .await?;
    let mut moved = Vec::with_capacity(waiting.len());
    for (id, owner) in waiting {
        let n = to_queued(lease_until)
            .filter(documents::Column::Id.eq(id))
            .filter(documents::Column::Status.eq(DocumentStatus::Unclassified))
            .filter(documents::Column::StatusReason.eq(reason))
            .exec(db)
            .await?
            .rows_affected;
        if n == 1 {
            moved.push((id, owner));
        }
    }
    Ok(moved)
}

/// `processing → queued` after a transient failure (`reason`): the dispatch lease runs
/// until `retry_at`, when the sweeper dispatches it again. `false` when the claim was lost.
pub async fn retry_later(
    db: &impl ConnectionTrait,
    doc: &documents::Model,
    reason: &str,
    retry_at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    leave_processing(
        db,
        doc,
        DocumentStatus::Queued,
        reason,
        Expr::value(retry_at),
    )
    .await
}

/// The one statement of [`fail`] and [`retry_later`]: a claimed document leaves
/// `processing` for `status` with `reason` and the lease `lease` (none, or the retry
/// time), while the claim stands.
async fn leave_processing(
    db: &impl ConnectionTrait,
    doc: &documents::Model,
    status: DocumentStatus,
    reason: &str,
    lease: Expr,
) -> Result<bool, DbErr> {
    let n = documents::Entity::update_many()
        .col_expr(documents::Column::Status, Expr::value(status))
        .col_expr(documents::Column::LastError, Expr::value(reason))
        .col_expr(documents::Column::StatusReason, no_reason())
        .col_expr(documents::Column::LeaseExpiresAt, lease)
        .col_expr(documents::Column::ProgressPage, no_progress())
        .col_expr(documents::Column::ProgressPages, no_progress())
        .col_expr(
            documents::Column::UpdatedAt,
            Expr::value(crate::time::now()),
        )
        .filter(claim_held(doc))
        .exec(db)
        .await?
        .rows_affected;
    Ok(n == 1)
}

/// `classified`/`unclassified`/`failed → queued` (re-classification) with fresh attempts
/// and a dispatch lease until `lease_until`; `false` when the document is not finished.
pub async fn requeue(
    db: &impl ConnectionTrait,
    id: Uuid,
    lease_until: DateTime<Utc>,
) -> Result<bool, DbErr> {
    Ok(!requeue_many(db, &[id], lease_until).await?.is_empty())
}

/// [`requeue`] of those of `ids` that are finished (one
/// statement per 500 ids); returns their ids (the others are left as they are).
pub async fn requeue_many(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
    lease_until: DateTime<Utc>,
) -> Result<Vec<Uuid>, DbErr> {
    let mut requeued = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let statement = to_queued(lease_until)
            .filter(documents::Column::Id.is_in(chunk.to_vec()))
            .filter(documents::Column::Status.is_in(FINISHED));
        requeued.extend(updated_ids(db, statement).await?);
    }
    Ok(requeued)
}

/// Runs an `UPDATE` of documents and returns the ids of the rows it changed (`RETURNING
/// id`: only the id, not the whole row with its text).
pub async fn updated_ids(
    db: &impl ConnectionTrait,
    statement: sea_orm::UpdateMany<documents::Entity>,
) -> Result<Vec<Uuid>, DbErr> {
    use sea_orm::QueryTrait;
    let mut statement = statement.into_query();
    statement.returning_col(documents::Column::Id);
    db.query_all(&statement)
        .await?
        .iter()
        .map(|row| row.try_get::<Uuid>("", "id"))
        .collect()
}

/// Any confirmed status `→ queued` for a new current version (an uploaded version
/// confirmed, another made current, the current one deleted): the document takes
/// `version`'s object key, name, type, size and hash; what was derived from the previous
/// version's bytes (its `document_texts` row, page count, thumbnail state) is cleared so the
/// pipeline makes it again (a document date not set by the user is derived again too); fresh attempts and a dispatch lease until `lease_until`. A worker
/// processing the previous version loses its claim ([`claim_held`] names the object key),
/// so its results are never written. `false` when the document is pending or gone.
pub async fn switch_version(
    db: &impl ConnectionTrait,
    id: Uuid,
    version: &document_versions::Model,
    lease_until: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let n = to_queued(lease_until)
        .col_expr(
            documents::Column::ObjectKey,
            Expr::value(version.object_key.clone()),
        )
        .col_expr(
            documents::Column::Filename,
            Expr::value(version.filename.clone()),
        )
        .col_expr(
            documents::Column::ContentType,
            Expr::value(version.content_type.clone()),
        )
        .col_expr(
            documents::Column::SizeBytes,
            Expr::value(version.size_bytes),
        )
        .col_expr(
            documents::Column::Sha256,
            Expr::value(version.sha256.clone()),
        )
        .col_expr(documents::Column::ProgressPage, no_progress())
        .col_expr(documents::Column::ProgressPages, no_progress())
        .col_expr(
            documents::Column::PageCount,
            Expr::value(Option::<i32>::None),
        )
        .col_expr(
            documents::Column::ThumbnailKey,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            documents::Column::ThumbnailError,
            Expr::value(Option::<String>::None),
        )
        .filter(documents::Column::Id.eq(id))
        .filter(documents::Column::Status.ne(DocumentStatus::Pending))
        .exec(db)
        .await?
        .rows_affected;
    if n == 1 {
        crate::documents::texts::clear(db, id).await?;
    }
    Ok(n == 1)
}

/// `queued`/`processing → queued` for the sweeper: a document whose lease lapsed at
/// `now` (its worker died, or its dispatch was lost) gets a new dispatch lease until
/// `lease_until`; `false` when it moved on meanwhile (or another instance won).
pub async fn redispatch(
    db: &impl ConnectionTrait,
    id: Uuid,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let n = documents::Entity::update_many()
        .col_expr(
            documents::Column::Status,
            Expr::value(DocumentStatus::Queued),
        )
        .col_expr(documents::Column::LeaseExpiresAt, Expr::value(lease_until))
        .col_expr(documents::Column::ProgressPage, no_progress())
        .col_expr(documents::Column::ProgressPages, no_progress())
        .col_expr(documents::Column::UpdatedAt, Expr::value(now))
        .filter(documents::Column::Id.eq(id))
        .filter(documents::Column::Status.is_in(IN_PROCESSING))
        .filter(lease_lapsed(now))
        .exec(db)
        .await?
        .rows_affected;
    Ok(n == 1)
}

/// `queued`/`processing → failed` for the sweeper: every document whose lease lapsed at
/// `now` with no attempts left (`max_attempts` used: its worker died on the last one).
/// Returns the `(id, owner)` of each.
pub async fn fail_exhausted(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    max_attempts: i32,
    reason: &str,
) -> Result<Vec<(Uuid, Uuid)>, DbErr> {
    let failed = documents::Entity::update_many()
        .col_expr(
            documents::Column::Status,
            Expr::value(DocumentStatus::Failed),
        )
        .col_expr(documents::Column::LastError, Expr::value(reason))
        .col_expr(documents::Column::LeaseExpiresAt, no_time())
        .col_expr(documents::Column::ProgressPage, no_progress())
        .col_expr(documents::Column::ProgressPages, no_progress())
        .col_expr(documents::Column::UpdatedAt, Expr::value(now))
        .filter(documents::Column::Status.is_in(IN_PROCESSING))
        .filter(lease_lapsed(now))
        .filter(documents::Column::Attempts.gte(max_attempts))
        .exec_with_returning(db)
        .await?;
    Ok(failed.into_iter().map(|d| (d.id, d.user_id)).collect())
}

/// `classified ⇄ unclassified`: a finished, classified or unclassified document's
/// status follows its topics after they were set by hand. `false` when it did not change:
/// already right, or in another status (pending, in processing, failed), which stays.
pub async fn follow_topics(
    db: &impl ConnectionTrait,
    id: Uuid,
    has_topics: bool,
) -> Result<bool, DbErr> {
    Ok(follow_topics_many(db, &[id], has_topics).await? == 1)
}

/// [`follow_topics`] of those of `ids`: the status of those that are finished,
/// classified or unclassified, follows their topics after they were set by hand
/// (`has_topics` for all of them); in another status (pending, in processing, failed) a
/// document stays as it is. One statement per 500 ids; how many changed (those already
/// in the right status are not written).
pub async fn follow_topics_many(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
    has_topics: bool,
) -> Result<u64, DbErr> {
    let (from, to) = if has_topics {
        (DocumentStatus::Unclassified, DocumentStatus::Classified)
    } else {
        (DocumentStatus::Classified, DocumentStatus::Unclassified)
    };
    let mut changed = 0;
    for chunk in ids.chunks(500) {
        // Only rows whose status changes: rewriting an unchanged row still costs a new
        // row version and an entry in every index.
        changed += documents::Entity::update_many()
            .col_expr(documents::Column::Status, Expr::value(to))
            .filter(documents::Column::Id.is_in(chunk.to_vec()))
            .filter(documents::Column::Status.eq(from))
            .exec(db)
            .await?
            .rows_affected;
    }
    Ok(changed)
}

/// [`follow_topics_many`] and a new `updated_at`: each of `ids` is written once (what a
/// topic edit of many documents does). Two statements per chunk, so only the rows whose
/// status changes name `status`: SQLite rewrites the entries of every index holding a
/// column an UPDATE sets, whether or not its value changes (most `documents` indexes hold
/// `status`, none holds `updated_at`).
pub async fn touch_following_topics(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
    has_topics: bool,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let (from, to) = if has_topics {
        (DocumentStatus::Unclassified, DocumentStatus::Classified)
    } else {
        (DocumentStatus::Classified, DocumentStatus::Unclassified)
    };
    for chunk in ids.chunks(500) {
        documents::Entity::update_many()
            .col_expr(documents::Column::UpdatedAt, Expr::value(now))
            .filter(documents::Column::Id.is_in(chunk.to_vec()))
            .filter(documents::Column::Status.ne(from))
            .exec(db)
            .await?;
        documents::Entity::update_many()
            .col_expr(documents::Column::Status, Expr::value(to))
            .col_expr(documents::Column::UpdatedAt, Expr::value(now))
            .filter(documents::Column::Id.is_in(chunk.to_vec()))
            .filter(documents::Column::Status.eq(from))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// `classified → unclassified` for those of `ids` left without any topic (their topic
/// was deleted). Returns how many.
pub async fn unclassify_topicless(db: &impl ConnectionTrait, ids: &[Uuid]) -> Result<u64, DbErr> {
    let mut moved = 0;
    for chunk in ids.chunks(500) {
        moved += documents::Entity::update_many()
            .col_expr(
                documents::Column::Status,
                Expr::value(DocumentStatus::Unclassified),
            )
            .filter(documents::Column::Id.is_in(chunk.to_vec()))
            .filter(documents::Column::Status.eq(DocumentStatus::Classified))
            .filter(
                documents::Column::Id.not_in_subquery(
                    Query::select()
                        .column(document_topics::Column::DocumentId)
                        .from(document_topics::Entity)
                        .and_where(
                            Expr::col(document_topics::Column::DocumentId)
                                .is_in(chunk.iter().copied()),
                        )
                        .to_owned(),
                ),
            )
            .exec(db)
            .await?
            .rows_affected;
    }
    Ok(moved)
}

/// Hands `owner`'s queued document to the queue, in the owner's lane: the queue serves
/// owners in turn, so one user's backlog cannot hold up everyone else's documents. A
/// failure is logged (the sweeper dispatches again once the dispatch lease lapses).
pub async fn dispatch(queue: &dyn Queue, id: Uuid, owner: Uuid) {
    if let Err(e) = queue
        .enqueue_for(
            &owner.simple().to_string(),
            &Job::ProcessDocument { document_id: id },
        )
        .await
    {
        tracing::warn!(error = %e, document = %id, "could not enqueue processing; the sweeper will retry");
    }
}

/// Which document row [`remove`] may remove.
#[derive(Debug, Clone, Copy)]
pub enum RemoveIf {
    /// Any status, owned by this account (a user's delete).
    Owner(Uuid),
    /// Still pending, owned by this account (a refused confirm).
    Pending {
        /// The owner.
        user: Uuid,
    },
    /// Still pending and created before this time (expiry by the cleanup job).
    StalePending(DateTime<Utc>),
    /// Still in this account's trash, and, with `before`, trashed before that time
    /// (emptying the trash, the purge): a restore that won the race keeps the document.
    Trashed {
        /// The owner.
        user: Uuid,
        /// Only when trashed before this time.
        before: Option<DateTime<Utc>>,
    },
}

/// A document row [`remove`] removed.
#[derive(Debug, Clone)]
pub struct RemovedDocument {
    /// Its owner.
    pub user_id: Uuid,
    /// Its status when it was removed.
    pub status: DocumentStatus,
    /// Its size (declared while pending, stored once confirmed).
    pub size_bytes: i64,
    /// Its object key.
    pub object_key: String,
    /// The object keys of every version removed with it (stored and pending), the
    /// current one included.
    pub version_keys: Vec<String>,
}

/// Removes document `id` if `cond` holds and gives its bytes back: the charge of every
/// stored version of a confirmed document (a confirmed row without any version record
/// gives back its own size), the reservations of its pending versions, the reservation
/// of a pending upload. The row is held first (a write matching `cond`), so version
/// uploads and confirms, which hold it too, either finished before (and are counted) or
/// find it gone; what to give back comes from the `DELETE … RETURNING`s that removed the
/// rows, never from an earlier read, so a confirm racing this removal is counted exactly
/// once: it either held the row first ([`hold_pending`]; this statement waits for it and
/// sees the confirmed row) or finds it gone. Call it inside a write transaction; `None`
/// when no row matched.
pub async fn remove(
    db: &impl ConnectionTrait,
    id: Uuid,
    cond: RemoveIf,
) -> Result<Option<RemovedDocument>, DbErr> {
    let which = match cond {
        RemoveIf::Owner(user) => Condition::all()
            .add(documents::Column::Id.eq(id))
            .add(documents::Column::UserId.eq(user)),
        RemoveIf::Pending { user } => Condition::all()
            .add(documents::Column::Id.eq(id))
            .add(documents::Column::UserId.eq(user))
            .add(documents::Column::Status.eq(DocumentStatus::Pending)),
        RemoveIf::StalePending(cutoff) => Condition::all()
            .add(documents::Column::Id.eq(id))
            .add(documents::Column::Status.eq(DocumentStatus::Pending))
            .add(documents::Column::CreatedAt.lt(cutoff)),
        RemoveIf::Trashed { user, before } => Condition::all()
            .add(documents::Column::Id.eq(id))
            .add(documents::Column::UserId.eq(user))
            .add(match before {
                Some(cutoff) => documents::Column::TrashedAt.lt(cutoff),
                None => documents::Column::TrashedAt.is_not_null(),
            }),
    };
    let held = documents::Entity::update_many()
        .col_expr(
            documents::Column::UpdatedAt,
            Expr::value(crate::time::now()),
        )
        .filter(which.clone())
        .exec(db)
        .await?
        .rows_affected;
    if held != 1 {
        return Ok(None);
    }
    let versions = Query::delete()
        .from_table(document_versions::Entity)
        .and_where(Expr::col(document_versions::Column::DocumentId).eq(id))
        .returning(Query::returning().columns([
            document_versions::Column::Status,
            document_versions::Column::SizeBytes,
            document_versions::Column::ObjectKey,
        ]))
        .to_owned();
    let mut stored_bytes = 0_i64;
    let mut stored_any = false;
    let mut pending_bytes = 0_i64;
    let mut version_keys = Vec::new();
    for row in db.query_all(&versions).await? {
        let status: VersionStatus = row.try_get("", "status")?;
        let size: i64 = row.try_get("", "size_bytes")?;
        match status {
            VersionStatus::Stored => {
                stored_any = true;
                stored_bytes += size;
            }
            VersionStatus::Pending => pending_bytes += size,
        }
        version_keys.push(row.try_get("", "object_key")?);
    }
    let stmt = Query::delete()
        .from_table(documents::Entity)
        .cond_where(which)
        .returning(Query::returning().columns([
            documents::Column::UserId,
            documents::Column::Status,
            documents::Column::SizeBytes,
            documents::Column::ObjectKey,
        ]))
        .to_owned();
    let Some(row) = db.query_one(&stmt).await? else {
        return Ok(None);
    };
    let removed = RemovedDocument {
        user_id: row.try_get("", "user_id")?,
        status: row.try_get("", "status")?,
        size_bytes: row.try_get("", "size_bytes")?,
        object_key: row.try_get("", "object_key")?,
        version_keys,
    };
    let owner = removed.user_id.into();
    if removed.status == DocumentStatus::Pending {
        release_reservation(db, owner, removed.size_bytes + pending_bytes).await?;
    } else {
        let charged = if stored_any {
            stored_bytes
        } else {
            removed.size_bytes
        };
        refund_quota(db, owner, charged).await?;
        if pending_bytes > 0 {
            release_reservation(db, owner, pending_bytes).await?;
        }
    }
    Ok(Some(removed))
}
