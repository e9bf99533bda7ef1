//! Document versions: every stored revision of a document, the current one included
//! (`entities::document_versions`). The document row carries the current version's name,
//! type, size and hash; the current version is the one whose object key is the
//! document's. Every stored version is charged against the owner's quota.
//!
//! A new version goes through the upload flow of a new document: an upload URL
//! ([`create_upload`]: same validation, reservation of the declared size, same limit of
//! open uploads), a `PUT` to storage, a [`confirm`] that turns the reservation into the
//! charge of the stored size and makes the version current. A change of the current
//! version ([`confirm`], [`make_current`], [`delete`] of the current one) is the lifecycle
//! transition [`lifecycle::switch_version`]: the document is processed again from its new
//! bytes (text, OCR, thumbnail, classification); the previous version's thumbnail object
//! is deleted after the commit.
//!
//! Every use case that changes a document's versions first holds the document row (a
//! write: [`hold_document`]), as [`lifecycle::remove`] does, so concurrent version
//! changes and a delete of the document serialise and every byte is counted once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use crate::audit::{AuditEntry, AuditEvent, Outcome};
use crate::documents::files::{self, delete_object_or_retry_later, staging_key};
use crate::documents::lifecycle::{self, RemovedDocument};
use crate::documents::quota::{
    refund_quota, release_reservation, reserve_quota, settle_reservation,
};
use crate::documents::service::{SignedUrl, UploadError, quota_detail, quota_of, secs};
use crate::documents::{access, thumbnails};
use crate::domain::{DocumentId, ObjectKey, UserId, VersionId};
use crate::entities::{DocumentStatus, VersionStatus, document_versions, documents};
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
use crate::storage::{self, Disposition, ObjectStore};

/// Records the first version of a document confirmed at `size_bytes` with hex SHA-256
/// `sha256`: the document's own id, object key, name and type. Runs in the confirming
/// transaction.
pub async fn record_first(
    db: &impl ConnectionTrait,
    doc: &documents::Model,
    size_bytes: i64,
    sha256: &str,
) -> Result<(), DbErr> {
    let now = crate::time::now();
    document_versions::ActiveModel {
        id: Set(doc.id),
        document_id: Set(doc.id),
        user_id: Set(doc.user_id),
        object_key: Set(doc.object_key.clone()),
        filename: Set(doc.filename.clone()),
        content_type: Set(doc.content_type.clone()),
        size_bytes: Set(size_bytes),
        sha256: Set(Some(sha256.to_owned())),
        status: Set(VersionStatus::Stored),
        created_at: Set(doc.created_at),
        confirmed_at: Set(Some(now)),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The account's open uploads: pending documents and pending versions together, the
/// number `documents.max_pending_per_user` limits. Count it after reserving (the quota
/// row's lock serialises an account's uploads).
pub async fn open_uploads(db: &impl ConnectionTrait, user: UserId) -> Result<u64, DbErr> {
    let documents = documents::Entity::find()
        .filter(documents::Column::UserId.eq(user))
        .filter(documents::Column::Status.eq(DocumentStatus::Pending))
        .count(db)
        .await?;
    let versions = document_versions::Entity::find()
        .filter(document_versions::Column::UserId.eq(user))
        .filter(document_versions::Column::Status.eq(VersionStatus::Pending))
        .count(db)
        .await?;
    Ok(documents + versions)
}

/// Deletes the objects of a removed document: every version's object and staging key
/// and the current one's thumbnail (failures are retried by the cleanup job).
pub async fn delete_objects(
    db: &impl ConnectionTrait,
    storage: &dyn ObjectStore,
    removed: &RemovedDocument,
) -> Result<(), ApiError> {
    let mut keys: Vec<&str> = removed.version_keys.iter().map(String::as_str).collect();
    keys.push(&removed.object_key);
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        let Ok(key) = ObjectKey::parse(key) else {
            tracing::warn!(key, "a removed document had an invalid object key");
            continue;
        };
        delete_version_objects(db, storage, &key).await?;
    }
    let key = ObjectKey::parse(&removed.object_key).map_err(|e| ApiError::Internal(e.into()))?;
    delete_thumbnail_of(db, storage, &key).await
}

/// Deletes a version's object and its staging key: an upload URL stays valid after
/// confirm and may have been used again (on S3 nothing can stop that; the bytes just
/// never count).
async fn delete_version_objects(
    db: &impl ConnectionTrait,
    storage: &dyn ObjectStore,
    key: &ObjectKey,
) -> Result<(), ApiError> {
    delete_object_or_retry_later(db, storage, key).await?;
    delete_object_or_retry_later(db, storage, &staging_key(key)?).await
}

/// Deletes the thumbnail made of the bytes stored under `key`.
async fn delete_thumbnail_of(
    db: &impl ConnectionTrait,
    storage: &dyn ObjectStore,
    key: &ObjectKey,
) -> Result<(), ApiError> {
    let thumbnail = thumbnails::thumbnail_key(key).map_err(|e| ApiError::Internal(e.into()))?;
    delete_object_or_retry_later(db, storage, &thumbnail).await
}

fn parse_key(key: &str) -> Result<ObjectKey, ApiError> {
    ObjectKey::parse(key).map_err(|e| ApiError::Internal(e.into()))
}

fn storage_unavailable(e: crate::storage::StorageError) -> ApiError {
    ApiError::ServiceUnavailable(format!("Object storage unavailable: {e}"))
}

/// Takes the row of the caller's confirmed, live document for this transaction (a write
/// that changes only `updated_at`), so version changes of one document and its removal
/// ([`lifecycle::remove`] holds it too) serialise. Returns the row as it is now; 404 when
/// it is not the caller's, 409 when it is in the trash or not confirmed.
pub async fn hold_document(
    db: &impl ConnectionTrait,
    user: UserId,
    id: DocumentId,
) -> Result<documents::Model, ApiError> {
    let held = documents::Entity::update_many()
        .col_expr(
            documents::Column::UpdatedAt,
            Expr::value(crate::time::now()),
        )
        .filter(documents::Column::Id.eq(id))
        .filter(documents::Column::UserId.eq(user))
        .filter(documents::Column::Status.ne(DocumentStatus::Pending))
        .filter(documents::Column::TrashedAt.is_null())
        .exec(db)
        .await?
        .rows_affected;
    let doc = access::owned(db, user, id).await?;
    if doc.trashed_at.is_some() {
        // A trashed document's versions cannot change.
        return Err(access::trashed());
    }
    if held != 1 || doc.status == DocumentStatus::Pending {
        return Err(ApiError::Conflict {
            code: ErrorCode::NotConfirmed,
            message: "Confirm the document's upload before adding versions".into(),
        });
    }
    Ok(doc)
}

/// Version `version` of the caller's document `id` (any status), or 404.
async fn version_of(
    db: &impl ConnectionTrait,
    user: UserId,
    id: DocumentId,
    version: VersionId,
) -> Result<document_versions::Model, ApiError> {
    document_versions::Entity::find_by_id(version)
        .filter(document_versions::Column::DocumentId.eq(id))
        .filter(document_versions::Column::UserId.eq(user))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::NotFound("No such version".into()))
}

/// A stored version of the caller's document, or 404 (a pending one is not there yet).
async fn stored_version_of(
    db: &impl ConnectionTrait,
    user: UserId,
    id: DocumentId,
    version: VersionId,
) -> Result<document_versions::Model, ApiError> {
    let v = version_of(db, user, id, version).await?;
    if v.status != VersionStatus::Stored {
        return Err(ApiError::NotFound("No such version".into()));
    }
    Ok(v)
}

/// The stored versions of document `id`, newest first.
async fn stored_versions(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Vec<document_versions::Model>, DbErr> {
    document_versions::Entity::find()
        .filter(document_versions::Column::DocumentId.eq(id))
        .filter(document_versions::Column::Status.eq(VersionStatus::Stored))
        .order_by_desc(document_versions::Column::CreatedAt)
        .order_by_desc(document_versions::Column::Id)
        .all(db)
        .await
}

/// What a version's upload URL hands out.
pub struct VersionTicket {
    /// The document.
    pub document_id: DocumentId,
    /// The new (pending) version.
    pub version_id: VersionId,
    /// Where to `PUT` the bytes (absolute for S3; a path on this server for local).
    pub upload_url: String,
    /// Headers to send with the `PUT`.
    pub headers: std::collections::BTreeMap<String, String>,
    /// When the URL stops working.
    pub expires_at: DateTime<Utc>,
}

/// Starts the upload of a new version of the caller's confirmed, live document: the
/// validation of a new document's upload, its declared size reserved against the quota
/// and counted among the open uploads, a `pending` version row and a signed upload URL.
pub async fn create_upload(
    state: &AppState,
    user: UserId,
    id: DocumentId,
    filename: &str,
    content_type: &str,
    size_bytes: i64,
) -> Result<VersionTicket, UploadError> {
    let settings = &state.settings;
    let valid =
        crate::documents::service::validate_upload(settings, filename, content_type, size_bytes)?;
    let txn = crate::db::begin_write(&state.db).await?;
    hold_document(&txn, user, id).await?;
    if !reserve_quota(&txn, user, size_bytes).await? {
        txn.rollback().await?;
        return Err(UploadError::QuotaExceeded(
            quota_detail(&state.db, user, size_bytes).await?,
        ));
    }
    if open_uploads(&txn, user).await? >= settings.documents.max_pending_per_user {
        txn.rollback().await?;
        return Err(ApiError::TooManyRequests {
            retry_after_secs: 60,
        }
        .into());
    }
    let version_id = VersionId::new();
    let key = parse_key(&format!(
        "{user}/{id}/{}{}",
        Uuid::new_v4(),
        valid.extension
    ))?;
    let now = crate::time::now();
    document_versions::ActiveModel {
        id: Set(version_id.into()),
        document_id: Set(id.into()),
        user_id: Set(user.into()),
        object_key: Set(key.as_str().to_owned()),
        filename: Set(valid.filename),
        content_type: Set(valid.content_type.to_owned()),
        size_bytes: Set(size_bytes),
        sha256: Set(None),
        status: Set(VersionStatus::Pending),
        created_at: Set(now),
        confirmed_at: Set(None),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;

    let ttl = Duration::from_secs(settings.documents.upload_url_ttl_secs);
    let size = u64::try_from(size_bytes).unwrap_or(0);
    let presigned = match state
        .storage
        .presign_put(&staging_key(&key)?, valid.content_type, size, ttl)
        .await
    {
        Ok(p) => p,
        Err(e) => {
            // Nobody can upload to it: give the reservation back now, not at expiry.
            let txn = crate::db::begin_write(&state.db).await?;
            remove_pending(&txn, version_id.into(), None).await?;
            txn.commit().await?;
            return Err(storage_unavailable(e).into());
        }
    };
    Ok(VersionTicket {
        document_id: id,
        version_id,
        upload_url: presigned.url,
        headers: presigned.headers,
        expires_at: now + secs(settings.documents.upload_url_ttl_secs),
    })
}

/// What a version's confirm reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionConfirmation {
    /// The document.
    pub document_id: Uuid,
    /// The version.
    pub version_id: Uuid,
    /// Its size as stored.
    pub size_bytes: i64,
    /// Hex SHA-256 of its bytes.
    pub sha256: String,
    /// Quota used after charging it.
    pub used_bytes: i64,
}

async fn confirmation(
    db: &impl ConnectionTrait,
    v: &document_versions::Model,
) -> Result<VersionConfirmation, ApiError> {
    let quota = quota_of(db, v.user_id.into()).await?;
    Ok(VersionConfirmation {
        document_id: v.document_id,
        version_id: v.id,
        size_bytes: v.size_bytes,
        sha256: v.sha256.clone().unwrap_or_default(),
        used_bytes: quota.used_bytes,
    })
}

/// A pending version [`remove_pending`] removed.
#[derive(Debug, Clone)]
pub struct RemovedVersion {
    /// Its owner.
    pub user_id: Uuid,
    /// Its object key.
    pub object_key: String,
}

/// Removes version `id` while it is pending (and, with `created_before`, older than
/// that), releasing its reservation; decided by the `DELETE … RETURNING` itself, so a
/// confirm that took the row first wins and this matches nothing. Run it in a write
/// transaction; `None` when nothing matched.
pub async fn remove_pending(
    db: &impl ConnectionTrait,
    id: Uuid,
    created_before: Option<DateTime<Utc>>,
) -> Result<Option<RemovedVersion>, DbErr> {
    let mut stmt = Query::delete()
        .from_table(document_versions::Entity)
        .and_where(Expr::col(document_versions::Column::Id).eq(id))
        .and_where(Expr::col(document_versions::Column::Status).eq(VersionStatus::Pending.as_str()))
        .returning(Query::returning().columns([
            document_versions::Column::UserId,
            document_versions::Column::SizeBytes,
            document_versions::Column::ObjectKey,
        ]))
        .to_owned();
    if let Some(cutoff) = created_before {
        stmt.and_where(Expr::col(document_versions::Column::CreatedAt).lt(cutoff));
    }
    let Some(row) = db.query_one(&stmt).await? else {
        return Ok(None);
    };
    let user_id: Uuid = row.try_get("", "user_id")?;
    let size: i64 = row.try_get("", "size_bytes")?;
    release_reservation(db, user_id.into(), size).await?;
    Ok(Some(RemovedVersion {
        user_id,
        object_key: row.try_get("", "object_key")?,
    }))
}

/// Pending versions created before `cutoff` (stale: their upload URL expired long ago),
/// oldest first, at most `limit`: `(version id, object key)`.
pub async fn stale_pending(
    db: &impl ConnectionTrait,
    cutoff: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<(Uuid, String)>, DbErr> {
    document_versions::Entity::find()
        .select_only()
        .column(document_versions::Column::Id)
        .column(document_versions::Column::ObjectKey)
        .filter(document_versions::Column::Status.eq(VersionStatus::Pending))
        .filter(document_versions::Column::CreatedAt.lt(cutoff))
        .order_by_asc(document_versions::Column::CreatedAt)
        .order_by_asc(document_versions::Column::Id)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
}

/// Removes a refused upload of a version: its objects, then its row and reservation.
async fn discard(state: &AppState, v: &document_versions::Model) -> Result<(), ApiError> {
    delete_version_objects(
        &state.db,
        state.storage.as_ref(),
        &parse_key(&v.object_key)?,
    )
    .await?;
    let txn = crate::db::begin_write(&state.db).await?;
    remove_pending(&txn, v.id, None).await?;
    txn.commit().await?;
    Ok(())
}

/// `pending → stored` at `size_bytes` with hex SHA-256 `sha256`; `false` when the version
/// is no longer pending.
async fn mark_stored(
    db: &impl ConnectionTrait,
    id: Uuid,
    size_bytes: i64,
    sha256: &str,
) -> Result<bool, DbErr> {
    let n = document_versions::Entity::update_many()
        .col_expr(
            document_versions::Column::Status,
            Expr::value(VersionStatus::Stored),
        )
        .col_expr(
            document_versions::Column::SizeBytes,
            Expr::value(size_bytes),
        )
        .col_expr(document_versions::Column::Sha256, Expr::value(sha256))
        .col_expr(
            document_versions::Column::ConfirmedAt,
            Expr::value(crate::time::now()),
        )
        .filter(document_versions::Column::Id.eq(id))
        .filter(document_versions::Column::Status.eq(VersionStatus::Pending))
        .exec(db)
        .await?
        .rows_affected;
    Ok(n == 1)
}

/// Takes a pending version's row for this transaction (a write that changes nothing), so
/// concurrent confirms and the cleanup's removal wait for it; `false` when it is no
/// longer pending.
async fn hold_pending_version(db: &impl ConnectionTrait, id: Uuid) -> Result<bool, DbErr> {
    let n = document_versions::Entity::update_many()
        .col_expr(
            document_versions::Column::Status,
            Expr::value(VersionStatus::Pending),
        )
        .filter(document_versions::Column::Id.eq(id))
        .filter(document_versions::Column::Status.eq(VersionStatus::Pending))
        .exec(db)
        .await?
        .rows_affected;
    Ok(n == 1)
}

/// After a commit that changed the current version away from `previous_key`: deletes the
/// thumbnail made of it and hands the document to processing.
async fn after_switch(
    state: &AppState,
    doc: &documents::Model,
    previous_key: &str,
) -> Result<(), ApiError> {
    delete_thumbnail_of(&state.db, state.storage.as_ref(), &parse_key(previous_key)?).await?;
    lifecycle::dispatch(state.queue.as_ref(), doc.id, doc.user_id).await;
    Ok(())
}

/// Makes `version` the current version of `doc` (held in this transaction) and writes
/// the audit entry `event`. The caller commits, then calls [`after_switch`].
async fn switch_to(
    state: &AppState,
    db: &impl ConnectionTrait,
    doc: &documents::Model,
    version: &document_versions::Model,
) -> Result<(), ApiError> {
    let lease_until = crate::time::now() + secs(state.settings.jobs.lease_secs);
    if !lifecycle::switch_version(db, doc.id, version, lease_until).await? {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "held document {} could not switch versions",
            doc.id
        )));
    }
    Ok(())
}

/// One audit entry about a version of a document.
fn audit(
    event: AuditEvent,
    user: UserId,
    ip: &str,
    doc: &documents::Model,
    v: &document_versions::Model,
) -> AuditEntry {
    AuditEntry::new(event, Outcome::Success, Some(user.into()), Some(ip))
        .resource(doc.id)
        .detail("version_id", v.id.to_string())
        .detail("size_bytes", v.size_bytes)
}

/// Confirms a version's upload: size and hash from storage, the reservation turned into
/// a charge, the version stored and made current (processing runs again on it), all in
/// one transaction; idempotent. A refused confirm (size differs, limit lowered
/// meanwhile) discards the upload and releases its reservation; one that finds no bytes
/// yet keeps it (the client may still `PUT` until the upload expires).
pub async fn confirm(
    state: &AppState,
    user: UserId,
    id: DocumentId,
    version: VersionId,
    ip: &str,
) -> Result<VersionConfirmation, UploadError> {
    access::owned(&state.db, user, id).await?;
    let v = version_of(&state.db, user, id, version).await?;
    if v.status == VersionStatus::Stored {
        return Ok(confirmation(&state.db, &v).await?);
    }
    let key = parse_key(&v.object_key)?;
    let staging = staging_key(&key)?;
    // Hashed before the transaction (a large file must not hold the write lock).
    let sha256 = match storage::sha256_hex(state.storage.as_ref(), &staging)
        .await
        .map_err(storage_unavailable)?
    {
        Some(hash) => Some(hash),
        None => storage::sha256_hex(state.storage.as_ref(), &key)
            .await
            .map_err(storage_unavailable)?,
    };

    let txn = crate::db::begin_write(&state.db).await?;
    let doc = hold_document(&txn, user, id).await?;
    if !hold_pending_version(&txn, v.id).await? {
        txn.rollback().await?;
        let v = stored_version_of(&state.db, user, id, version).await?;
        return Ok(confirmation(&state.db, &v).await?);
    }
    // A previous confirm may have renamed the object and then failed to commit.
    let (stored, renamed) = match state
        .storage
        .stat(&staging)
        .await
        .map_err(storage_unavailable)?
    {
        Some(meta) => (meta, false),
        None => match state
            .storage
            .stat(&key)
            .await
            .map_err(storage_unavailable)?
        {
            Some(meta) => (meta, true),
            None => {
                txn.rollback().await?;
                return Err(ApiError::Unprocessable {
                    code: ErrorCode::UploadNotFound,
                    message: "Upload not found — the upload URL may have expired".into(),
                }
                .into());
            }
        },
    };
    let size = i64::try_from(stored.size_bytes).unwrap_or(i64::MAX);
    let Some(sha256) = sha256 else {
        txn.rollback().await?;
        return Err(
            ApiError::ServiceUnavailable("Upload is being confirmed; try again".into()).into(),
        );
    };
    if size != v.size_bytes {
        txn.rollback().await?;
        discard(state, &v).await?;
        return Err(ApiError::Unprocessable {
            code: ErrorCode::SizeMismatch,
            message: format!(
                "The stored file has {size} bytes but {} were declared; upload again",
                v.size_bytes
            ),
        }
        .into());
    }
    let Some(used_bytes) = settle_reservation(&txn, user, v.size_bytes, size).await? else {
        txn.rollback().await?;
        discard(state, &v).await?;
        return Err(UploadError::QuotaExceeded(
            quota_detail(&state.db, user, size).await?,
        ));
    };
    if !renamed {
        state
            .storage
            .rename(&staging, &key)
            .await
            .map_err(storage_unavailable)?;
    }
    if !mark_stored(&txn, v.id, size, &sha256).await? {
        txn.rollback().await?;
        return Err(
            ApiError::Internal(anyhow::anyhow!("held version {} is not pending", v.id)).into(),
        );
    }
    let stored = document_versions::Model {
        size_bytes: size,
        sha256: Some(sha256.clone()),
        status: VersionStatus::Stored,
        ..v
    };
    switch_to(state, &txn, &doc, &stored).await?;
    audit(AuditEvent::DocumentVersionUploaded, user, ip, &doc, &stored)
        .record(&txn)
        .await?;
    txn.commit().await?;
    after_switch(state, &doc, &doc.object_key).await?;
    Ok(VersionConfirmation {
        document_id: doc.id,
        version_id: stored.id,
        size_bytes: size,
        sha256,
        used_bytes,
    })
}

/// The caller's document and its stored versions, newest first (owner only: a share
/// recipient gets 404). Readable in the trash too.
pub async fn list(
    db: &impl ConnectionTrait,
    user: UserId,
    id: DocumentId,
) -> Result<(documents::Model, Vec<document_versions::Model>), ApiError> {
    let doc = access::owned(db, user, id).await?;
    let versions = stored_versions(db, doc.id).await?;
    Ok((doc, versions))
}

/// A short-lived download URL (an attachment named as the version) of a stored version
/// of the caller's document.
pub async fn download_url(
    state: &AppState,
    user: UserId,
    id: DocumentId,
    version: VersionId,
) -> Result<SignedUrl, ApiError> {
    access::owned(&state.db, user, id).await?;
    let v = stored_version_of(&state.db, user, id, version).await?;
    let ttl = state.settings.documents.download_url_ttl_secs;
    let url = state
        .storage
        .presign_get_as(
            &parse_key(&v.object_key)?,
            &v.filename,
            files::served_type(&v.content_type),
            Disposition::Attachment,
            Duration::from_secs(ttl),
        )
        .await
        .map_err(storage_unavailable)?;
    Ok(SignedUrl {
        url,
        expires_at: crate::time::now() + secs(ttl),
    })
}

/// Makes a stored version current again: the document takes its name, type, size and
/// hash and is processed again. The current version stays as it is (idempotent).
/// Returns the document as it is now.
pub async fn make_current(
    state: &AppState,
    user: UserId,
    id: DocumentId,
    version: VersionId,
    ip: &str,
) -> Result<documents::Model, ApiError> {
    let txn = crate::db::begin_write(&state.db).await?;
    let doc = hold_document(&txn, user, id).await?;
    let v = stored_version_of(&txn, user, id, version).await?;
    if v.object_key == doc.object_key {
        txn.commit().await?;
        return access::owned(&state.db, user, id).await;
    }
    switch_to(state, &txn, &doc, &v).await?;
    audit(AuditEvent::DocumentVersionMadeCurrent, user, ip, &doc, &v)
        .record(&txn)
        .await?;
    txn.commit().await?;
    after_switch(state, &doc, &doc.object_key).await?;
    access::owned(&state.db, user, id).await
}

/// Deletes a version: its charge refunded (a pending one's reservation released), its
/// objects removed. The only stored version cannot go (409 `only_version`: delete the
/// document instead); deleting the current one makes the newest remaining current.
pub async fn delete(
    state: &AppState,
    user: UserId,
    id: DocumentId,
    version: VersionId,
    ip: &str,
) -> Result<(), ApiError> {
    let txn = crate::db::begin_write(&state.db).await?;
    let doc = hold_document(&txn, user, id).await?;
    let v = version_of(&txn, user, id, version).await?;
    let key = parse_key(&v.object_key)?;
    let was_current = v.object_key == doc.object_key;
    match v.status {
        VersionStatus::Pending => {
            if remove_pending(&txn, v.id, None).await?.is_none() {
                txn.rollback().await?;
                return Err(ApiError::NotFound("No such version".into()));
            }
        }
        VersionStatus::Stored => {
            let others: Vec<_> = stored_versions(&txn, doc.id)
                .await?
                .into_iter()
                .filter(|o| o.id != v.id)
                .collect();
            let Some(newest) = others.first() else {
                txn.rollback().await?;
                return Err(ApiError::Conflict {
                    code: ErrorCode::OnlyVersion,
                    message: "This is the document's only version; delete the document instead"
                        .into(),
                });
            };
            document_versions::Entity::delete_by_id(v.id)
                .exec(&txn)
                .await?;
            refund_quota(&txn, user, v.size_bytes).await?;
            if was_current {
                switch_to(state, &txn, &doc, newest).await?;
            }
        }
    }
    audit(AuditEvent::DocumentVersionDeleted, user, ip, &doc, &v)
        .record(&txn)
        .await?;
    txn.commit().await?;
    delete_version_objects(&state.db, state.storage.as_ref(), &key).await?;
    if was_current && v.status == VersionStatus::Stored {
        after_switch(state, &doc, &doc.object_key).await?;
    }
    Ok(())
}
