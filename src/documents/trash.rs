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
use crate::documents::lifecycle::{self, RemoveIf};
use crate::documents::service::{self, QuotaDetail, UploadError};
use crate::domain::{DocumentId, UserId};
use crate::entities::{DocumentStatus, documents, folders};
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
    service::only_outcome(trash_many(state, user, &[id], ip).await?)
}

/// [`trash`] of each of `ids` (one outcome per id, in order): one query reads them, and
/// one transaction trashes the confirmed ones (one statement per
/// [`access::IDS_PER_QUERY`] ids) and records their audit entries (multi-row); their
/// webhook events follow. Unconfirmed uploads are deleted one by one.
#[tracing::instrument(skip_all, fields(documents = ids.len()))]
pub async fn trash_many(
    state: &AppState,
    user: UserId,
    ids: &[DocumentId],
    ip: Option<&str>,
) -> Result<Vec<Result<(), ApiError>>, ApiError> {
    let found = access::owned_many(&state.db, user, ids).await?;
    let mut outcomes: Vec<Result<(), ApiError>> = Vec::with_capacity(ids.len());
    let (mut live, mut pending) = (Vec::new(), Vec::new());
    for (at, &id) in ids.iter().enumerate() {
        outcomes.push(match found.get(&Uuid::from(id)) {
            None => Err(ApiError::not_found()),
            Some(doc) if doc.status == DocumentStatus::Pending => {
                pending.push(at);
                Ok(())
            }
            Some(doc) if doc.trashed_at.is_some() => Ok(()),
            Some(doc) => {
                live.push(doc.id);
                Ok(())
            }
        });
    }
    let txn = crate::db::begin_write(&state.db).await?;
    let now = crate::time::now();
    let mut moved = Vec::with_capacity(live.len());
    for chunk in live.chunks(access::IDS_PER_QUERY) {
        // Conditional: a concurrent trash (or delete) of the same document changes nothing.
        let statement = documents::Entity::update_many()
            .col_expr(documents::Column::TrashedAt, Expr::value(Some(now)))
            .filter(documents::Column::Id.is_in(chunk.to_vec()))
            .filter(documents::Column::UserId.eq(user))
            .filter(documents::Column::TrashedAt.is_null())
            .filter(documents::Column::Status.ne(DocumentStatus::Pending));
        moved.extend(lifecycle::updated_ids(&txn, statement).await?);
    }
    let owner = Uuid::from(user);
    let entries = moved
        .iter()
        .map(|&id| {
            audit(
                AuditEvent::DocumentTrashed,
                owner,
                Some(owner),
                Some(id),
                ip,
            )
        })
        .collect();
    AuditEntry::record_many(entries, &txn).await?;
    txn.commit().await?;
    crate::webhooks::document_events(&state.db, owner, &moved, WebhookEvent::DocumentDeleted).await;
    // Not moved: trashed meanwhile (as asked), or deleted meanwhile: then it is a 404
    // like any missing document.
    let moved: HashSet<Uuid> = moved.into_iter().collect();
    let unmoved: Vec<DocumentId> = live
        .iter()
        .filter(|id| !moved.contains(id))
        .map(|&id| DocumentId::from(id))
        .collect();
    if !unmoved.is_empty() {
        let still = access::owned_many(&state.db, user, &unmoved).await?;
        for (at, id) in ids.iter().enumerate() {
            if unmoved.contains(id) && !still.contains_key(&Uuid::from(*id)) {
                outcomes[at] = Err(ApiError::not_found());
            }
        }
    }
    for at in pending {
        outcomes[at] = service::delete(state, user, ids[at]).await;
    }
    Ok(outcomes)
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
    service::only_outcome(restore_many(state, user, &[id], ip).await?)?;
    Ok(access::owned(&state.db, user, id).await?)
}

/// [`restore`] of each of `ids` (one outcome per id, in order): one query reads them,
/// the quota is read once, and one transaction restores the trashed ones (a statement
/// per [`access::IDS_PER_QUERY`] ids: those whose folder is still there, and those put
/// back at the root) and records their audit entries (multi-row).
#[tracing::instrument(skip_all, fields(documents = ids.len()))]
pub async fn restore_many(
    state: &AppState,
    user: UserId,
    ids: &[DocumentId],
    ip: Option<&str>,
) -> Result<Vec<Result<(), UploadError>>, ApiError> {
    let found = access::owned_many(&state.db, user, ids).await?;
    let trashed: Vec<&access::Brief> = ids
        .iter()
        .filter_map(|id| found.get(&Uuid::from(*id)))
        .filter(|doc| doc.trashed_at.is_some())
        .collect();
    let mut refused = None;
    if !trashed.is_empty() {
        let quota = service::quota_of(&state.db, user).await?;
        if quota.used_bytes > quota.limit_bytes {
            refused = Some(quota);
        }
    }
    let mut outcomes: Vec<Result<(), UploadError>> = ids
        .iter()
        .map(|id| match (found.get(&Uuid::from(*id)), &refused) {
            (None, _) => Err(ApiError::not_found().into()),
            (Some(doc), Some(quota)) if doc.trashed_at.is_some() => {
                Err(UploadError::QuotaExceeded(QuotaDetail {
                    used_bytes: quota.used_bytes,
                    reserved_bytes: quota.reserved_bytes,
                    limit_bytes: quota.limit_bytes,
                    rejected_bytes: doc.size_bytes,
                }))
            }
            (Some(_), _) => Ok(()),
        })
        .collect();
    if refused.is_some() || trashed.is_empty() {
        return Ok(outcomes);
    }
    let txn = crate::db::begin_write(&state.db).await?;
    // Deleting a folder leaves trashed documents in it to the foreign key (set null);
    // checked here too, so a restore never points at a folder that is gone.
    let mut named: Vec<Uuid> = trashed.iter().filter_map(|doc| doc.folder_id).collect();
    named.sort_unstable();
    named.dedup();
    let mut folders_left = HashSet::with_capacity(named.len());
    for chunk in named.chunks(access::IDS_PER_QUERY) {
        let ids: Vec<Uuid> = folders::Entity::find()
            .select_only()
            .column(folders::Column::Id)
            .filter(folders::Column::Id.is_in(chunk.to_vec()))
            .filter(folders::Column::UserId.eq(user))
            .into_tuple()
            .all(&txn)
            .await?;
        folders_left.extend(ids);
    }
    let (in_place, to_root): (Vec<&access::Brief>, Vec<&access::Brief>) = trashed
        .iter()
        .partition(|doc| doc.folder_id.is_none_or(|f| folders_left.contains(&f)));
    let mut restored = Vec::with_capacity(trashed.len());
    for (group, root) in [(in_place, false), (to_root, true)] {
        let group: Vec<Uuid> = group.iter().map(|doc| doc.id).collect();
        for chunk in group.chunks(access::IDS_PER_QUERY) {
            let mut statement = documents::Entity::update_many()
                .col_expr(
                    documents::Column::TrashedAt,
                    Expr::value(None::<DateTime<Utc>>),
                )
                .filter(documents::Column::Id.is_in(chunk.to_vec()))
                .filter(documents::Column::UserId.eq(user))
                .filter(documents::Column::TrashedAt.is_not_null());
            if root {
                statement =
                    statement.col_expr(documents::Column::FolderId, Expr::value(None::<Uuid>));
            }
            restored.extend(lifecycle::updated_ids(&txn, statement).await?);
        }
    }
    let owner = Uuid::from(user);
    let entries = restored
        .iter()
        .map(|&id| {
            audit(
                AuditEvent::DocumentRestored,
                owner,
                Some(owner),
                Some(id),
                ip,
            )
        })
        .collect();
    AuditEntry::record_many(entries, &txn).await?;
    txn.commit().await?;
    // Not restored here: restored meanwhile (as asked), or deleted meanwhile (404).
    let restored: HashSet<Uuid> = restored.into_iter().collect();
    let unrestored: Vec<DocumentId> = trashed
        .iter()
        .filter(|doc| !restored.contains(&doc.id))
        .map(|doc| DocumentId::from(doc.id))
        .collect();
    if !unrestored.is_empty() {
        let still = access::owned_many(&state.db, user, &unrestored).await?;
        for (at, id) in ids.iter().enumerate() {
            if unrestored.contains(id) && !still.contains_key(&Uuid::from(*id)) {
                outcomes[at] = Err(ApiError::not_found().into());
            }
        }
    }
    Ok(outcomes)
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
