//! The trash: deleting a confirmed document moves it to the trash (`trashed_at` set);
//! from there it is restored unchanged (topics, folder, shares, versions), deleted for
//! good by its owner (one document or the whole trash), or purged by the cleanup job
//! once older than `documents.trash_retention_days`. Deleting for good is
//! [`service::delete`] in every case.
//!
//! A trashed document keeps counting against its owner's quota until deleted for good;
//! it is hidden from lists, search and share recipients ([`crate::documents::access`],
//! [`crate::documents::search`]), and every change of it but restore and delete is
//! refused with 409 `document_trashed`.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::audit::{AuditEntry, AuditEvent, Outcome};
use crate::documents::access;
use crate::documents::lifecycle::RemoveIf;
use crate::documents::service::{self, QuotaDetail, UploadError};
use crate::domain::{DocumentId, UserId};
use crate::entities::{DocumentStatus, documents, folders, quotas};
use crate::error::ApiError;
use crate::state::AppState;
use crate::webhooks::WebhookEvent;

/// Documents read per query while purging.
const BATCH: u64 = 500;

/// The audit entry of a trash event of `user`'s `document`, done by `actor` (none: the
/// cleanup job).
fn audit(
    event: AuditEvent,
    user: Uuid,
    actor: Option<Uuid>,
    document: Option<Uuid>,
    ip: Option<&str>,
) -> AuditEntry {
    let entry = AuditEntry::new(event, Outcome::Success, Some(user), ip).actor(actor);
    match document {
        Some(id) => entry.resource(id),
        None => entry,
    }
}

/// Moves the caller's confirmed document to the trash; already trashed is a no-op. An
/// unconfirmed upload has nothing to keep: it is deleted for good (its reservation
/// released), as before the trash existed.
#[tracing::instrument(skip_all)]
pub async fn trash(
    state: &AppState,
    user: UserId,
    id: DocumentId,
    ip: Option<&str>,
) -> Result<(), ApiError> {
    let doc = access::owned(&state.db, user, id).await?;
    if doc.status == DocumentStatus::Pending {
        return service::delete(state, user, id).await;
    }
    if doc.trashed_at.is_some() {
        return Ok(());
    }
    // Conditional: a concurrent trash (or delete) of the same document changes nothing.
    let moved = documents::Entity::update_many()
        .col_expr(
            documents::Column::TrashedAt,
            Expr::value(Some(crate::time::now())),
        )
        .filter(documents::Column::Id.eq(doc.id))
        .filter(documents::Column::UserId.eq(user))
        .filter(documents::Column::TrashedAt.is_null())
        .filter(documents::Column::Status.ne(DocumentStatus::Pending))
        .exec(&state.db)
        .await?
        .rows_affected;
    if moved == 1 {
        audit(
            AuditEvent::DocumentTrashed,
            doc.user_id,
            Some(doc.user_id),
            Some(doc.id),
            ip,
        )
        .record(&state.db)
        .await?;
        crate::webhooks::document_event(
            &state.db,
            doc.user_id,
            doc.id,
            WebhookEvent::DocumentDeleted,
        )
        .await;
    } else {
        // Deleted meanwhile: then it is a 404 like any missing document.
        access::owned(&state.db, user, id).await?;
    }
    Ok(())
}

/// Brings the caller's trashed document back as it was (topics, shares, versions and
/// folder; the root when its folder was deleted meanwhile). Refused with the quota body
/// when the account is over its limit now (an administrator lowered it). A document
/// not in the trash is returned unchanged.
#[tracing::instrument(skip_all)]
pub async fn restore(
    state: &AppState,
    user: UserId,
    id: DocumentId,
    ip: Option<&str>,
) -> Result<documents::Model, UploadError> {
    let doc = access::owned(&state.db, user, id).await?;
    if doc.trashed_at.is_none() {
        return Ok(doc);
    }
    let quota = quotas::Entity::find_by_id(user)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("account {user} has no quota row")))?;
    if quota.used_bytes > quota.limit_bytes {
        return Err(UploadError::QuotaExceeded(QuotaDetail {
            used_bytes: quota.used_bytes,
            reserved_bytes: quota.reserved_bytes,
            limit_bytes: quota.limit_bytes,
            rejected_bytes: doc.size_bytes,
        }));
    }
    let txn = crate::db::begin_write(&state.db).await?;
    // Deleting a folder leaves trashed documents in it to the foreign key (set null);
    // checked here too, so a restore never points at a folder that is gone.
    let folder = match doc.folder_id {
        Some(f) => folders::Entity::find_by_id(f)
            .filter(folders::Column::UserId.eq(user))
            .one(&txn)
            .await?
            .map(|f| f.id),
        None => None,
    };
    let restored = documents::Entity::update_many()
        .col_expr(
            documents::Column::TrashedAt,
            Expr::value(None::<DateTime<Utc>>),
        )
        .col_expr(documents::Column::FolderId, Expr::value(folder))
        .filter(documents::Column::Id.eq(doc.id))
        .filter(documents::Column::UserId.eq(user))
        .filter(documents::Column::TrashedAt.is_not_null())
        .exec(&txn)
        .await?
        .rows_affected;
    if restored == 1 {
        audit(
            AuditEvent::DocumentRestored,
            doc.user_id,
            Some(doc.user_id),
            Some(doc.id),
            ip,
        )
        .record(&txn)
        .await?;
    }
    txn.commit().await?;
    Ok(access::owned(&state.db, user, id).await?)
}

/// Deletes the caller's document for good, live or trashed: refund, row and every
/// object ([`service::delete`]).
#[tracing::instrument(skip_all)]
pub async fn delete_permanently(
    state: &AppState,
    user: UserId,
    id: DocumentId,
    ip: Option<&str>,
) -> Result<(), ApiError> {
    service::delete(state, user, id).await?;
    audit(
        AuditEvent::DocumentDeleted,
        user.into(),
        Some(user.into()),
        Some(id.into()),
        ip,
    )
    .detail("reason", "permanent")
    .record(&state.db)
    .await?;
    Ok(())
}

/// Deletes every document in the caller's trash for good; how many were deleted.
#[tracing::instrument(skip_all)]
pub async fn empty(state: &AppState, user: UserId, ip: Option<&str>) -> Result<u64, ApiError> {
    let ids: Vec<Uuid> = documents::Entity::find()
        .select_only()
        .column(documents::Column::Id)
        .filter(documents::Column::UserId.eq(user))
        .filter(documents::Column::TrashedAt.is_not_null())
        .into_tuple()
        .all(&state.db)
        .await?;
    let mut deleted = 0;
    for id in ids {
        let still_trashed = RemoveIf::Trashed {
            user: user.into(),
            before: None,
        };
        match service::delete_if(state, id.into(), still_trashed).await {
            Ok(()) => deleted += 1,
            // Deleted or restored meanwhile by another request.
            Err(ApiError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    audit(
        AuditEvent::TrashEmptied,
        user.into(),
        Some(user.into()),
        None,
        ip,
    )
    .detail("deleted", deleted)
    .record(&state.db)
    .await?;
    Ok(deleted)
}

/// The time before which trashed documents are purged (`None`: none is).
pub fn purge_cutoff(retention_days: u32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    now.checked_sub_signed(chrono::Duration::try_days(i64::from(retention_days))?)
}

/// Deletes for good every document trashed longer than `documents.trash_retention_days`
/// ago (the cleanup job's purge step); how many were deleted.
#[tracing::instrument(skip_all)]
pub async fn purge_expired(state: &AppState) -> Result<u64, ApiError> {
    let Some(cutoff) = purge_cutoff(
        state.settings.documents.trash_retention_days,
        crate::time::now(),
    ) else {
        return Ok(0);
    };
    let mut seen = HashSet::new();
    let mut purged = 0;
    loop {
        let batch: Vec<(Uuid, Uuid)> = documents::Entity::find()
            .select_only()
            .column(documents::Column::Id)
            .column(documents::Column::UserId)
            .filter(documents::Column::TrashedAt.lt(cutoff))
            .order_by_asc(documents::Column::TrashedAt)
            .order_by_asc(documents::Column::Id)
            .limit(BATCH)
            .into_tuple()
            .all(&state.db)
            .await?;
        let fresh: Vec<_> = batch
            .into_iter()
            .filter(|(id, _)| seen.insert(*id))
            .collect();
        if fresh.is_empty() {
            return Ok(purged);
        }
        for (id, owner) in fresh {
            let still_expired = RemoveIf::Trashed {
                user: owner,
                before: Some(cutoff),
            };
            match service::delete_if(state, id.into(), still_expired).await {
                Ok(()) => {
                    purged += 1;
                    audit(AuditEvent::DocumentDeleted, owner, None, Some(id), None)
                        .detail("reason", "purged")
                        .record(&state.db)
                        .await?;
                }
                Err(ApiError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
}
