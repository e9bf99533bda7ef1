//! Document use cases: create an upload (reserving its declared size against the quota),
//! confirm it (turning the reservation into a charge), list, rename/move, delete
//! (refunding the charge or releasing the reservation), and hand out download and view
//! URLs.
//!
//! Quota bookkeeping: `quotas.used_bytes` is the sum of the sizes of the account's
//! confirmed documents, `quotas.reserved_bytes` the sum of the declared sizes of its
//! pending uploads. Every change of a document row that moves it in or out of those sets
//! changes the quota in the same transaction, decided by the same conditional statement
//! that changed the row (see [`lifecycle::remove`]); `docuvault fsck` checks both sums.
//! The statements themselves are in [`crate::documents::quota`]; status changes are
//! [`crate::documents::lifecycle`]'s.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QuerySelect, Set,
};
use uuid::Uuid;

use crate::documents::files::delete_object_or_retry_later;
use crate::documents::lifecycle::{self, RemoveIf};
use crate::documents::quota::{reserve_quota, settle_reservation};
use crate::documents::search::duplicates;
use crate::documents::{access, files, versions};
use crate::domain::{DocumentId, FolderId, ObjectKey, TopicId, UserId};
use crate::entities::{DocumentStatus, TopicSource, documents, folders, quotas};
use crate::error::ApiError;
use crate::settings::DuplicatesMode;
use crate::state::AppState;
use crate::storage::{self, Disposition};
use crate::webhooks::WebhookEvent;

/// Where an upload's bytes go before confirm (kept here too: the tests name it so).
pub use crate::documents::files::staging_key;

pub use crate::error::QuotaDetail;

/// What `upload-url` hands out.
pub struct UploadTicket {
    /// The new document.
    pub document_id: DocumentId,
    /// Where to `PUT` the bytes (absolute for S3; a path on this server for local).
    pub upload_url: String,
    /// Headers to send with the `PUT`.
    pub headers: std::collections::BTreeMap<String, String>,
    /// When the URL stops working.
    pub expires_at: DateTime<Utc>,
}

/// What `confirm` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    /// Document id.
    pub id: Uuid,
    /// Authoritative size from storage.
    pub size_bytes: i64,
    /// Quota used after charging.
    pub used_bytes: i64,
    /// Document status.
    pub status: DocumentStatus,
}

/// Errors specific to uploads, carrying the 413 body.
pub enum UploadError {
    /// Over quota: `{detail: {used_bytes, reserved_bytes, limit_bytes, rejected_bytes}}`.
    QuotaExceeded(QuotaDetail),
    /// Anything else.
    Api(ApiError),
}

impl<E: Into<ApiError>> From<E> for UploadError {
    fn from(e: E) -> Self {
        UploadError::Api(e.into())
    }
}

/// `n` seconds as a duration (an hour when out of range).
pub fn secs(n: u64) -> chrono::Duration {
    chrono::Duration::seconds(i64::try_from(n).unwrap_or(3600))
}

fn object_key(doc: &documents::Model) -> Result<ObjectKey, ApiError> {
    ObjectKey::parse(&doc.object_key).map_err(|e| ApiError::Internal(e.into()))
}

/// The account's quota row (every account has one).
pub async fn quota_of(db: &impl ConnectionTrait, user: UserId) -> Result<quotas::Model, ApiError> {
    quotas::Entity::find_by_id(user)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("account {user} has no quota row")))
}

/// A validated upload request: the stored filename, the canonical content type and the
/// object key's extension.
pub struct ValidUpload {
    /// Sanitized filename.
    pub filename: String,
    /// Canonical allowlisted content type.
    pub content_type: &'static str,
    /// Extension of the object key (with its dot).
    pub extension: String,
}

/// Checks what an upload declares (name, type, size against `storage.max_object_bytes`):
/// the one validation of a new document's and a new version's upload URL.
pub fn validate_upload(
    settings: &crate::settings::Settings,
    filename: &str,
    content_type: &str,
    size_bytes: i64,
) -> Result<ValidUpload, ApiError> {
    let filename = files::sanitize_filename(filename).ok_or_else(|| ApiError::Unprocessable {
        code: crate::error::ErrorCode::InvalidFilename,
        message: "filename must name a file (not empty, not only dots or a path)".into(),
    })?;
    let (content_type, extension) = files::accepted_type(content_type).ok_or_else(|| {
        ApiError::UnsupportedMediaType(format!(
            "{content_type} is not accepted; upload {}",
            crate::domain::document_type::accepted_labels()
        ))
    })?;
    if size_bytes < 0 {
        return Err(ApiError::Unprocessable {
            code: crate::error::ErrorCode::ValidationFailed,
            message: "size_bytes must be >= 0".into(),
        });
    }
    let max = i64::try_from(settings.storage.max_object_bytes).unwrap_or(i64::MAX);
    if size_bytes > max {
        return Err(ApiError::PayloadTooLarge(format!(
            "Files may be at most {max} bytes on this server"
        )));
    }
    Ok(ValidUpload {
        filename,
        content_type,
        extension,
    })
}

/// Validates the request, creates the `pending` row and signs an upload URL.
pub async fn create_upload(
    state: &AppState,
    user: UserId,
    filename: &str,
    content_type: &str,
    size_bytes: i64,
    folder_id: Option<FolderId>,
) -> Result<UploadTicket, UploadError> {
    let settings = &state.settings;
    let ValidUpload {
        filename,
        content_type,
        extension: ext,
    } = validate_upload(settings, filename, content_type, size_bytes)?;
    if let Some(folder) = folder_id {
        check_folder(&state.db, user, folder).await?;
    }

    // The reservation and the pending row commit together. The conditional UPDATE is the
    // check: concurrent requests serialise on the quota row (PostgreSQL row lock, SQLite's
    // single writer), so reservations never exceed the limit, whatever the instance count.
    let txn = crate::db::begin_write(&state.db).await?;
    if !reserve_quota(&txn, user, size_bytes).await? {
        txn.rollback().await?;
        return Err(UploadError::QuotaExceeded(
            quota_detail(&state.db, user, size_bytes).await?,
        ));
    }
    // Counted after the quota row is locked, so concurrent requests of one account see
    // each other's rows and the limit holds exactly.
    if versions::open_uploads(&txn, user).await? >= settings.documents.max_pending_per_user {
        txn.rollback().await?;
        return Err(ApiError::TooManyRequests {
            retry_after_secs: 60,
        }
        .into());
    }

    let id = DocumentId::new();
    let key = ObjectKey::parse(&format!("{user}/{id}/{}{ext}", Uuid::new_v4()))
        .map_err(|e| ApiError::Internal(e.into()))?;
    let now = crate::time::now();
    documents::ActiveModel {
        id: Set(id.into()),
        user_id: Set(user.into()),
        folder_id: Set(folder_id.map(Uuid::from)),
        filename: Set(filename),
        object_key: Set(key.as_str().to_owned()),
        content_type: Set(content_type.to_owned()),
        size_bytes: Set(size_bytes),
        sha256: Set(None),
        storage_backend: Set(state.storage.kind().to_owned()),
        status: Set(DocumentStatus::Pending),
        attempts: Set(0),
        last_error: Set(None),
        lease_expires_at: Set(None),
        ai_opt_out: Set(false),
        classified_by: Set(None),
        status_reason: Set(None),
        thumbnail_key: Set(None),
        thumbnail_error: Set(None),
        progress_page: Set(None),
        progress_pages: Set(None),
        trashed_at: Set(None),
        document_date: Set(None),
        document_date_source: Set(None),
        page_count: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;

    let ttl = Duration::from_secs(settings.documents.upload_url_ttl_secs);
    let size = u64::try_from(size_bytes).unwrap_or(0);
    let presigned = match state
        .storage
        .presign_put(&staging_key(&key)?, content_type, size, ttl)
        .await
    {
        Ok(p) => p,
        Err(e) => {
            // Nobody can upload to it: give the reservation back now, not at expiry.
            let txn = crate::db::begin_write(&state.db).await?;
            lifecycle::remove(&txn, id.into(), RemoveIf::Pending { user: user.into() }).await?;
            txn.commit().await?;
            return Err(
                ApiError::ServiceUnavailable(format!("Object storage unavailable: {e}")).into(),
            );
        }
    };
    Ok(UploadTicket {
        document_id: id,
        upload_url: presigned.url,
        headers: presigned.headers,
        expires_at: now + secs(settings.documents.upload_url_ttl_secs),
    })
}

/// The numbers of a refused upload of `rejected` bytes, as they are now.
pub async fn quota_detail(
    db: &impl ConnectionTrait,
    user: UserId,
    rejected: i64,
) -> Result<QuotaDetail, ApiError> {
    let quota = quota_of(db, user).await?;
    Ok(QuotaDetail {
        used_bytes: quota.used_bytes,
        reserved_bytes: quota.reserved_bytes,
        limit_bytes: quota.limit_bytes,
        rejected_bytes: rejected,
    })
}

async fn confirmation(state: &AppState, doc: &documents::Model) -> Result<Confirmation, ApiError> {
    let quota = quota_of(&state.db, doc.user_id.into()).await?;
    Ok(Confirmation {
        id: doc.id,
        size_bytes: doc.size_bytes,
        used_bytes: quota.used_bytes,
        // Confirmation answers about the upload, not about processing (which moves on
        // by itself): a repeated confirm gets the same body.
        status: DocumentStatus::Queued,
    })
}

/// Removes a pending upload's objects (staging and final) and then its row, releasing
/// its reservation, after a refused confirm.
async fn discard(state: &AppState, doc: &documents::Model) -> Result<(), ApiError> {
    let key = object_key(doc)?;
    for k in [staging_key(&key)?, key] {
        delete_object_or_retry_later(&state.db, state.storage.as_ref(), &k).await?;
    }
    let txn = crate::db::begin_write(&state.db).await?;
    lifecycle::remove(&txn, doc.id, RemoveIf::Pending { user: doc.user_id }).await?;
    txn.commit().await?;
    Ok(())
}

/// Confirms an upload: size from storage, conditional `pending → queued` and the
/// reservation turned into a charge in one transaction; idempotent. A refused confirm
/// (size differs, limit lowered meanwhile) discards the upload and releases its
/// reservation; a confirm that finds no bytes yet keeps it (the client may still `PUT`
/// until the upload expires).
pub async fn confirm(
    state: &AppState,
    user: UserId,
    id: DocumentId,
) -> Result<Confirmation, UploadError> {
    confirm_hashed(state, user, id, None).await
}

/// [`confirm`] of bytes whose SHA-256 the caller computed while storing them (the
/// one-step upload hashes as it streams), so they are not read back to hash.
pub async fn confirm_hashed(
    state: &AppState,
    user: UserId,
    id: DocumentId,
    known_sha256: Option<String>,
) -> Result<Confirmation, UploadError> {
    let doc = access::owned(&state.db, user, id).await?;
    if doc.status != DocumentStatus::Pending {
        return Ok(confirmation(state, &doc).await?);
    }
    let key = object_key(&doc)?;
    let staging = staging_key(&key)?;
    let storage_err = |e: crate::storage::StorageError| {
        ApiError::ServiceUnavailable(format!("Object storage unavailable: {e}"))
    };

    // Hashed before the transaction (a large file must not hold the write lock); the
    // bytes hashed are the ones renamed below (a previous confirm may have renamed them
    // already). The pipeline hashes the bytes it extracts again.
    let staged_hash = match known_sha256 {
        Some(hash) => Some(hash),
        None => storage::sha256_hex(state.storage.as_ref(), &staging)
            .await
            .map_err(storage_err)?,
    };
    let sha256 = match staged_hash {
        Some(hash) => Some(hash),
        None => storage::sha256_hex(state.storage.as_ref(), &key)
            .await
            .map_err(storage_err)?,
    };

    if let (Some(hash), DuplicatesMode::Reject) = (&sha256, state.settings.documents.duplicates)
        && let Some(existing_id) = duplicates::original_of(&state.db, user, doc.id, hash).await?
    {
        discard(state, &doc).await?;
        return Err(ApiError::Duplicate { existing_id }.into());
    }

    let txn = crate::db::begin_write(&state.db).await?;
    // Hold the row first: a write that serialises concurrent confirms of this upload.
    if !lifecycle::hold_pending(&txn, doc.id).await? {
        txn.rollback().await?;
        let doc = access::owned(&state.db, user, id).await?;
        return Ok(confirmation(state, &doc).await?);
    }
    // A previous confirm may have renamed the object and then failed to commit.
    let (stored, renamed) = match state.storage.stat(&staging).await.map_err(storage_err)? {
        Some(meta) => (meta, false),
        None => match state.storage.stat(&key).await.map_err(storage_err)? {
            Some(meta) => (meta, true),
            None => {
                txn.rollback().await?;
                return Err(ApiError::Unprocessable {
                    code: crate::error::ErrorCode::UploadNotFound,
                    message: "Upload not found — the upload URL may have expired".into(),
                }
                .into());
            }
        },
    };
    let size = i64::try_from(stored.size_bytes).unwrap_or(i64::MAX);
    let Some(sha256) = sha256 else {
        // Vanished between the hash and the stat: a concurrent confirm is finishing it.
        txn.rollback().await?;
        return Err(
            ApiError::ServiceUnavailable("Upload is being confirmed; try again".into()).into(),
        );
    };
    if size != doc.size_bytes {
        txn.rollback().await?;
        discard(state, &doc).await?;
        return Err(ApiError::Unprocessable {
            code: crate::error::ErrorCode::SizeMismatch,
            message: format!(
                "The stored file has {size} bytes but {} were declared; upload again",
                doc.size_bytes
            ),
        }
        .into());
    }
    let Some(used_bytes) = settle_reservation(&txn, user, doc.size_bytes, size).await? else {
        txn.rollback().await?;
        discard(state, &doc).await?;
        return Err(UploadError::QuotaExceeded(
            quota_detail(&state.db, user, size).await?,
        ));
    };
    if !renamed {
        state
            .storage
            .rename(&staging, &key)
            .await
            .map_err(storage_err)?;
    }
    // The dispatch lease: the sweeper dispatches again only after it lapses.
    let lease_until = crate::time::now() + secs(state.settings.jobs.lease_secs);
    if !lifecycle::confirm(&txn, doc.id, size, &sha256, lease_until).await? {
        // Cannot happen while this transaction holds the row; never charge twice.
        txn.rollback().await?;
        return Err(
            ApiError::Internal(anyhow::anyhow!("held upload {id} is no longer pending")).into(),
        );
    }
    versions::record_first(&txn, &doc, size, &sha256).await?;
    txn.commit().await?;
    crate::webhooks::document_event(
        &state.db,
        doc.user_id,
        doc.id,
        WebhookEvent::DocumentCreated,
    )
    .await;
    lifecycle::dispatch(state.queue.as_ref(), doc.id, doc.user_id).await;
    Ok(Confirmation {
        id: doc.id,
        size_bytes: size,
        used_bytes,
        status: DocumentStatus::Queued,
    })
}

/// Runs extraction and classification of the caller's document again: a finished
/// document goes back to `queued` with fresh attempts and is dispatched; one already
/// queued or processing stays as it is (idempotent). An unconfirmed upload is a 409.
/// Returns the document as it is now.
pub async fn reclassify(
    state: &AppState,
    user: UserId,
    id: DocumentId,
) -> Result<documents::Model, ApiError> {
    only_outcome(reclassify_many(state, user, &[id]).await?)?;
    access::owned(&state.db, user, id).await
}

/// The outcome of the only document of a set-based change of one document (the
/// single request's answer).
pub(crate) fn only_outcome<T, E: From<ApiError>>(mut outcomes: Vec<Result<T, E>>) -> Result<T, E> {
    outcomes.pop().unwrap_or_else(|| {
        Err(ApiError::Internal(anyhow::anyhow!("a change of one document answered nothing")).into())
    })
}

/// [`reclassify`] of each of `ids` (one outcome per id, in order): one query reads them,
/// one statement per [`access::IDS_PER_QUERY`] ids requeues the finished ones, which
/// are then dispatched.
pub async fn reclassify_many(
    state: &AppState,
    user: UserId,
    ids: &[DocumentId],
) -> Result<Vec<Result<(), ApiError>>, ApiError> {
    let found = access::owned_many(&state.db, user, ids).await?;
    let outcomes: Vec<Result<&access::Brief, ApiError>> = ids
        .iter()
        .map(|id| {
            let doc = access::check_changeable(found.get(&Uuid::from(*id)))?;
            if doc.status == DocumentStatus::Pending {
                return Err(ApiError::Conflict {
                    code: crate::error::ErrorCode::NotConfirmed,
                    message: "Confirm the upload before classifying it".into(),
                });
            }
            Ok(doc)
        })
        .collect();
    let finished: Vec<Uuid> = outcomes
        .iter()
        .flatten()
        .filter(|doc| lifecycle::FINISHED.contains(&doc.status))
        .map(|doc| doc.id)
        .collect();
    if !finished.is_empty() {
        let lease_until = crate::time::now() + secs(state.settings.jobs.lease_secs);
        for id in lifecycle::requeue_many(&state.db, &finished, lease_until).await? {
            lifecycle::dispatch(state.queue.as_ref(), id, user.into()).await;
        }
    }
    Ok(outcomes.into_iter().map(|o| o.map(|_| ())).collect())
}

/// Deletes a document: row, versions and quota (every stored version's charge refunded,
/// pending versions' reservations released, or an unconfirmed upload's reservation
/// released, as the deleting statements themselves found the rows) in one transaction,
/// then the objects of every version, their staging keys and the thumbnail (retried by
/// cleanup if storage fails).
pub async fn delete(state: &AppState, user: UserId, id: DocumentId) -> Result<(), ApiError> {
    delete_if(state, id, RemoveIf::Owner(user.into())).await
}

/// [`delete`] when `cond` still holds as the row is removed (404 otherwise): emptying
/// the trash and the purge delete only what is still in the trash.
pub async fn delete_if(state: &AppState, id: DocumentId, cond: RemoveIf) -> Result<(), ApiError> {
    let announce = crate::webhooks::before_deletion(&state.db, id.into()).await;
    let txn = crate::db::begin_write(&state.db).await?;
    let Some(removed) = lifecycle::remove(&txn, id.into(), cond).await? else {
        txn.rollback().await?;
        return Err(ApiError::not_found());
    };
    txn.commit().await?;
    crate::webhooks::deleted_for_good(&state.db, announce).await;
    versions::delete_objects(&state.db, state.storage.as_ref(), &removed).await
}

/// Listing and search are the read path of [`crate::documents::search`]: one page of
/// the caller's own documents and the number of matching documents.
pub use crate::documents::search::{
    ListFilter, Listed, PageRequest, SortKey, SortOrder, Total, list,
};

/// Whether `folder` is one of the caller's: where a document may go.
pub async fn folder_exists(
    db: &impl ConnectionTrait,
    user: UserId,
    folder: FolderId,
) -> Result<bool, ApiError> {
    Ok(folders::Entity::find_by_id(folder)
        .filter(folders::Column::UserId.eq(user))
        .one(db)
        .await?
        .is_some())
}

/// The 404 of a folder that is not the caller's.
pub fn no_such_folder() -> ApiError {
    ApiError::NotFound("No such folder".into())
}

/// The caller's folder `folder`, or 404 "No such folder".
pub async fn check_folder(
    db: &impl ConnectionTrait,
    user: UserId,
    folder: FolderId,
) -> Result<(), ApiError> {
    if folder_exists(db, user, folder).await? {
        Ok(())
    } else {
        Err(no_such_folder())
    }
}

/// The rule of filing a document under topics by hand: not before its upload is
/// confirmed (409 `not_confirmed`).
pub fn check_topics_settable(doc: &access::Brief) -> Result<(), ApiError> {
    if doc.status == DocumentStatus::Pending {
        return Err(ApiError::Conflict {
            code: crate::error::ErrorCode::NotConfirmed,
            message: "Confirm the upload before filing it under topics".into(),
        });
    }
    Ok(())
}

/// What a `PATCH` of a document changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct DocumentChanges {
    /// New file name (sanitized here).
    pub filename: Option<String>,
    /// New folder; `Some(None)` = the root.
    pub folder: Option<Option<FolderId>>,
    /// New AI opt-out.
    pub ai_opt_out: Option<bool>,
    /// The complete set of hand-chosen topics.
    pub topics: Option<Vec<TopicId>>,
    /// The document's date set by hand; `Some(None)` = the user says it has none. Either
    /// way its source becomes `user`, which processing never overwrites.
    pub document_date: Option<Option<chrono::NaiveDate>>,
}

/// Renames, moves, re-dates or changes `ai_opt_out` or the topics of the caller's
/// document.
pub async fn update(
    db: &DatabaseConnection,
    user: UserId,
    id: DocumentId,
    changes: DocumentChanges,
) -> Result<documents::Model, ApiError> {
    let txn = crate::db::begin_write(db).await?;
    if changes.topics.is_some() {
        // The lock order of every change of a document's topics: its row first.
        crate::classify::feedback::hold_documents(&txn, &[id.into()]).await?;
    }
    let doc = access::changeable(&txn, user, id).await?;
    let mut active: documents::ActiveModel = doc.clone().into();
    if let Some(name) = changes.filename {
        let name = files::sanitize_filename(&name).ok_or_else(|| ApiError::Unprocessable {
            code: crate::error::ErrorCode::InvalidFilename,
            message: "filename must name a file".into(),
        })?;
        active.filename = Set(name);
    }
    if let Some(folder) = changes.folder {
        if let Some(f) = folder {
            check_folder(&txn, user, f).await?;
        }
        active.folder_id = Set(folder.map(Uuid::from));
    }
    if let Some(opt_out) = changes.ai_opt_out {
        active.ai_opt_out = Set(opt_out);
    }
    if let Some(date) = changes.document_date {
        active.document_date = Set(date);
        active.document_date_source = Set(Some(crate::entities::DocumentDateSource::User));
    }
    if let Some(wanted) = changes.topics {
        check_topics_settable(&access::Brief::from(&doc))?;
        set_user_topics(&txn, &doc, wanted).await?;
    }
    active.updated_at = Set(crate::time::now());
    let updated = active.update(&txn).await?;
    txn.commit().await?;
    Ok(updated)
}

/// Moves each of the caller's `ids` to `folder` (`None`: the root), as [`update`] with
/// a folder does for one (one outcome per id, in order): one query reads them, one
/// statement per [`access::IDS_PER_QUERY`] ids moves them, in one transaction.
pub async fn move_many(
    db: &DatabaseConnection,
    user: UserId,
    ids: &[DocumentId],
    folder: Option<FolderId>,
) -> Result<Vec<Result<(), ApiError>>, ApiError> {
    let txn = crate::db::begin_write(db).await?;
    let found = access::owned_many(&txn, user, ids).await?;
    let folder_known = match folder {
        Some(f) => folder_exists(&txn, user, f).await?,
        None => true,
    };
    let outcomes: Vec<Result<(), ApiError>> = ids
        .iter()
        .map(|id| {
            access::check_changeable(found.get(&Uuid::from(*id)))?;
            if folder_known {
                Ok(())
            } else {
                Err(no_such_folder())
            }
        })
        .collect();
    let moving: Vec<Uuid> = ids
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| o.is_ok())
        .map(|(id, _)| Uuid::from(*id))
        .collect();
    let now = crate::time::now();
    for chunk in moving.chunks(access::IDS_PER_QUERY) {
        documents::Entity::update_many()
            .col_expr(
                documents::Column::FolderId,
                Expr::value(folder.map(Uuid::from)),
            )
            .col_expr(documents::Column::UpdatedAt, Expr::value(now))
            .filter(documents::Column::Id.is_in(chunk.to_vec()))
            .filter(documents::Column::UserId.eq(user))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(outcomes)
}

/// How [`change_topics_many`] changes each document's topic set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicChange {
    /// These topics are added to what it has.
    Add,
    /// These topics are taken off.
    Remove,
}

/// Adds `topics` to (or takes them off) each of the caller's `ids`, as [`update`] with
/// the document's topic set so changed does for one (one outcome per id, in order):
/// every remaining link becomes the user's (`source = user`), adding a topic that is
/// neither the caller's nor a system topic is a 422 `unknown_topic`, and the status
/// follows. Only what changes is written, a few multi-row statements per
/// [`access::IDS_PER_QUERY`] documents in one transaction: one update of each document
/// (its `updated_at`, and its status where it follows: a row written twice costs two
/// new row versions and two entries in every index), the links taken off, the
/// classifier's links made the user's and the missing links inserted. Automatic topics
/// taken off are recorded as rejections, topics added lift theirs
/// (`classify::feedback`).
pub async fn change_topics_many(
    db: &DatabaseConnection,
    user: UserId,
    ids: &[DocumentId],
    topics: &[TopicId],
    change: TopicChange,
) -> Result<Vec<Result<(), ApiError>>, ApiError> {
    use crate::entities::document_topics;
    let txn = crate::db::begin_write(db).await?;
    let found = access::owned_many(&txn, user, ids).await?;
    let mut topics: Vec<Uuid> = topics.iter().map(|&t| Uuid::from(t)).collect();
    topics.sort_unstable();
    topics.dedup();
    let unknown = change == TopicChange::Add && !all_topics_known(&txn, user, &topics).await?;
    let outcomes: Vec<Result<(), ApiError>> = ids
        .iter()
        .map(|id| {
            let doc = access::check_changeable(found.get(&Uuid::from(*id)))?;
            check_topics_settable(doc)?;
            if unknown {
                return Err(unknown_topic());
            }
            Ok(())
        })
        .collect();
    let changing: Vec<Uuid> = ids
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| o.is_ok())
        .map(|(id, _)| Uuid::from(*id))
        .collect();
    let now = crate::time::now();
    let adding = change == TopicChange::Add && !topics.is_empty();
    for chunk in changing.chunks(access::IDS_PER_QUERY) {
        if !adding {
            // The lock order of every change of a document's topics: its row first (an
            // addition writes the rows first anyway).
            crate::classify::feedback::hold_documents(&txn, chunk).await?;
        }
        if adding {
            // Every one of them has a topic now. Written before the links: a row the
            // links' foreign-key checks have locked (`FOR KEY SHARE`) and this
            // transaction then updates needs a MultiXact, several times the cost.
            lifecycle::touch_following_topics(&txn, chunk, true, now).await?;
        }
        if change == TopicChange::Remove && !topics.is_empty() {
            // Automatic topics taken off by hand are rejections: never filed there again.
            let removed =
                crate::classify::feedback::automatic_links(&txn, chunk, Some(&topics)).await?;
            crate::classify::feedback::record_rejections(&txn, user.into(), &removed).await?;
            document_topics::Entity::delete_many()
                .filter(document_topics::Column::DocumentId.is_in(chunk.to_vec()))
                .filter(document_topics::Column::TopicId.is_in(topics.clone()))
                .exec(&txn)
                .await?;
        }
        document_topics::Entity::update_many()
            .col_expr(
                document_topics::Column::Source,
                Expr::value(TopicSource::User),
            )
            .col_expr(
                document_topics::Column::Confidence,
                Expr::value(None::<f64>),
            )
            .filter(document_topics::Column::DocumentId.is_in(chunk.to_vec()))
            .filter(document_topics::Column::Source.ne(TopicSource::User))
            .exec(&txn)
            .await?;
        crate::classify::feedback::forget_evidence(&txn, chunk).await?;
        if adding {
            crate::classify::feedback::record_filed_by_hand(&txn, chunk, &topics).await?;
            let links = chunk.iter().flat_map(|&doc| {
                topics
                    .iter()
                    .map(move |&topic| document_topics::ActiveModel {
                        document_id: Set(doc),
                        topic_id: Set(topic),
                        source: Set(TopicSource::User),
                        confidence: Set(None),
                        created_at: Set(now),
                    })
            });
            let links: Vec<document_topics::ActiveModel> = links.collect();
            for rows in links.chunks(access::IDS_PER_QUERY) {
                document_topics::Entity::insert_many(rows.to_vec())
                    .on_conflict(
                        OnConflict::columns([
                            document_topics::Column::DocumentId,
                            document_topics::Column::TopicId,
                        ])
                        .do_nothing()
                        .to_owned(),
                    )
                    .exec_without_returning(&txn)
                    .await?;
            }
        }
        if adding {
            continue;
        }
        let linked: std::collections::HashSet<Uuid> = document_topics::Entity::find()
            .select_only()
            .column(document_topics::Column::DocumentId)
            .distinct()
            .filter(document_topics::Column::DocumentId.is_in(chunk.to_vec()))
            .into_tuple::<Uuid>()
            .all(&txn)
            .await?
            .into_iter()
            .collect();
        let (with_topics, without): (Vec<Uuid>, Vec<Uuid>) =
            chunk.iter().partition(|id| linked.contains(id));
        lifecycle::touch_following_topics(&txn, &with_topics, true, now).await?;
        lifecycle::touch_following_topics(&txn, &without, false, now).await?;
    }
    txn.commit().await?;
    Ok(outcomes)
}

/// Whether every one of `topics` is `owner`'s own or a system topic.
async fn all_topics_known(
    db: &impl ConnectionTrait,
    owner: UserId,
    topics: &[Uuid],
) -> Result<bool, ApiError> {
    use crate::entities::topics as topic;
    let mut known = 0;
    for chunk in topics.chunks(access::IDS_PER_QUERY) {
        known += topic::Entity::find()
            .filter(topic::Column::Id.is_in(chunk.to_vec()))
            .filter(
                sea_orm::Condition::any()
                    .add(topic::Column::UserId.eq(Uuid::from(owner)))
                    .add(topic::Column::UserId.is_null()),
            )
            .count(db)
            .await?;
    }
    Ok(known == topics.len() as u64)
}

/// The 422 of a topic that is neither the caller's nor a system topic.
fn unknown_topic() -> ApiError {
    ApiError::Unprocessable {
        code: crate::error::ErrorCode::UnknownTopic,
        message: "topics must be ids of your own topics or system topics".into(),
    }
}

/// Makes `wanted` the document's complete topic set, every link `source = user` (an
/// automatic topic left out is recorded as rejected), and lets its status follow (a finished document is classified with topics, unclassified
/// without). Returns the number of links. Unknown ids (or another user's topics) are a
/// 422. Also how a one-request upload files its new document under the topics it names.
pub(crate) async fn set_user_topics(
    db: &impl ConnectionTrait,
    doc: &documents::Model,
    wanted: Vec<TopicId>,
) -> Result<usize, ApiError> {
    let linked =
        only_outcome(set_user_topics_many(db, doc.user_id, vec![(doc.id, wanted)]).await?)?;
    lifecycle::follow_topics(db, doc.id, linked > 0).await?;
    Ok(linked)
}

/// [`set_user_topics`]'s links for many documents of `owner` at once, without the
/// status: a document whose set names a topic that is neither `owner`'s nor a system
/// topic is refused (422 `unknown_topic`) and keeps its links; the others' links are
/// replaced by a few multi-row statements. One outcome (the number of links) per set,
/// in order.
pub(crate) async fn set_user_topics_many(
    db: &impl ConnectionTrait,
    owner: Uuid,
    sets: Vec<(Uuid, Vec<TopicId>)>,
) -> Result<Vec<Result<usize, ApiError>>, ApiError> {
    use crate::entities::{document_topics, topics};
    let sets: Vec<(Uuid, Vec<Uuid>)> = sets
        .into_iter()
        .map(|(doc, wanted)| {
            let mut wanted: Vec<Uuid> = wanted.into_iter().map(Uuid::from).collect();
            wanted.sort_unstable();
            wanted.dedup();
            (doc, wanted)
        })
        .collect();
    let mut named: Vec<Uuid> = sets.iter().flat_map(|(_, w)| w.iter().copied()).collect();
    named.sort_unstable();
    named.dedup();
    let mut known = std::collections::HashSet::with_capacity(named.len());
    for chunk in named.chunks(access::IDS_PER_QUERY) {
        let ids: Vec<Uuid> = topics::Entity::find()
            .select_only()
            .column(topics::Column::Id)
            .filter(topics::Column::Id.is_in(chunk.to_vec()))
            .filter(
                sea_orm::Condition::any()
                    .add(topics::Column::UserId.eq(owner))
                    .add(topics::Column::UserId.is_null()),
            )
            .into_tuple()
            .all(db)
            .await?;
        known.extend(ids);
    }
    let outcomes: Vec<Result<usize, ApiError>> = sets
        .iter()
        .map(|(_, wanted)| {
            if wanted.iter().all(|t| known.contains(t)) {
                Ok(wanted.len())
            } else {
                Err(unknown_topic())
            }
        })
        .collect();
    let accepted: Vec<&(Uuid, Vec<Uuid>)> = sets
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| o.is_ok())
        .map(|(set, _)| set)
        .collect();
    let docs: Vec<Uuid> = accepted.iter().map(|(doc, _)| *doc).collect();
    // Automatic topics left out of a set are rejections (never filed there again); the
    // topics of a set are the owner's, no longer rejected nor suggested.
    let wanted_of: std::collections::HashMap<Uuid, &Vec<Uuid>> = accepted
        .iter()
        .map(|(doc, wanted)| (*doc, wanted))
        .collect();
    let removed: Vec<(Uuid, Uuid)> = crate::classify::feedback::automatic_links(db, &docs, None)
        .await?
        .into_iter()
        .filter(|(doc, topic)| wanted_of.get(doc).is_some_and(|w| !w.contains(topic)))
        .collect();
    crate::classify::feedback::record_rejections(db, owner, &removed).await?;
    for (doc, wanted) in &accepted {
        crate::classify::feedback::record_filed_by_hand(db, &[*doc], wanted).await?;
    }
    for chunk in docs.chunks(access::IDS_PER_QUERY) {
        document_topics::Entity::delete_many()
            .filter(document_topics::Column::DocumentId.is_in(chunk.to_vec()))
            .exec(db)
            .await?;
    }
    let now = crate::time::now();
    let links: Vec<document_topics::ActiveModel> = accepted
        .iter()
        .flat_map(|(doc, wanted)| {
            wanted
                .iter()
                .map(move |topic| document_topics::ActiveModel {
                    document_id: Set(*doc),
                    topic_id: Set(*topic),
                    source: Set(TopicSource::User),
                    confidence: Set(None),
                    created_at: Set(now),
                })
        })
        .collect();
    for chunk in links.chunks(access::IDS_PER_QUERY) {
        document_topics::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    Ok(outcomes)
}

/// A short-lived signed URL and when it stops working.
pub struct SignedUrl {
    /// Absolute for S3; a path on this server for the local backend.
    pub url: String,
    /// Expiry (`documents.download_url_ttl_secs` from now).
    pub expires_at: DateTime<Utc>,
}

/// The URL of a document's bytes served as `content_type` under `disposition`: download
/// and view URLs live equally long (`documents.download_url_ttl_secs`).
async fn read_url(
    state: &AppState,
    doc: &documents::Model,
    content_type: &str,
    disposition: Disposition,
) -> Result<SignedUrl, ApiError> {
    let ttl = state.settings.documents.download_url_ttl_secs;
    let url = state
        .storage
        .presign_get_as(
            &object_key(doc)?,
            &doc.filename,
            content_type,
            disposition,
            Duration::from_secs(ttl),
        )
        .await
        .map_err(|e| ApiError::ServiceUnavailable(format!("Object storage unavailable: {e}")))?;
    Ok(SignedUrl {
        url,
        expires_at: crate::time::now() + secs(ttl),
    })
}

/// A short-lived download URL (an attachment) for a document the caller may read.
pub async fn download_url(
    state: &AppState,
    user: UserId,
    id: DocumentId,
) -> Result<SignedUrl, ApiError> {
    let doc = access::readable(&state.db, user, id).await?;
    read_url(
        state,
        &doc,
        files::served_type(&doc.content_type),
        Disposition::Attachment,
    )
    .await
}

/// A view URL and how it shows the document.
pub struct ViewUrl {
    /// The signed URL.
    pub url: SignedUrl,
    /// What it serves and how ([`files::view_of`] of the stored type).
    pub plan: files::ViewPlan,
}

/// A short-lived URL showing a document the caller may read in the browser (inline for
/// PDF, images and text; a download for the rest), as [`files::view_of`] decides.
pub async fn view_url(state: &AppState, user: UserId, id: DocumentId) -> Result<ViewUrl, ApiError> {
    let doc = access::readable(&state.db, user, id).await?;
    let plan = files::view_of(&doc.content_type);
    let url = read_url(state, &doc, plan.content_type, plan.disposition).await?;
    Ok(ViewUrl { url, plan })
}
