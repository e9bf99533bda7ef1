//! Share use cases: share a document with another account, list a document's shares,
//! revoke one, and list what was shared with the caller. Read access itself is decided
//! in [`crate::documents::access::readable`], which consults the `shares` table on every
//! request, so a revoked share stops working immediately.

use std::collections::HashMap;

use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QueryOrder,
};
use uuid::Uuid;

use crate::documents::access;
use crate::domain::{DocumentId, Email, Handle, UserId};
use crate::entities::users::Role;
use crate::entities::{DocumentStatus, documents, shares};
use crate::error::ApiError;

/// The only permission a share grants: read metadata and download.
pub const VIEW: &str = "view";

/// A share with the recipient's handle.
#[derive(Debug, Clone)]
pub struct ShareRow {
    /// The share.
    pub share: shares::Model,
    /// The recipient's handle.
    pub recipient_handle: String,
}

/// A document shared with the caller, with the share that grants it.
#[derive(Debug, Clone)]
pub struct SharedDocument {
    /// The share.
    pub share: shares::Model,
    /// The owner's handle.
    pub owner_handle: String,
    /// The document.
    pub document: documents::Model,
}

/// Whom to share with, as the owner named them: a handle or an e-mail address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// A handle, normalised.
    Handle(Handle),
    /// An e-mail address, normalised.
    Email(Email),
}

impl Recipient {
    /// Reads a handle or e-mail address; `None` when it can be neither (so no account
    /// can have it, and the database is not asked).
    pub fn parse(input: &str) -> Option<Self> {
        Email::parse(input)
            .map(Self::Email)
            .or_else(|_| Handle::parse(input).map(Self::Handle))
            .ok()
    }

    fn as_str(&self) -> &str {
        match self {
            Self::Handle(h) => h.as_str(),
            Self::Email(e) => e.as_str(),
        }
    }
}

/// Whether [`share`] created the share or found it already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// A new share.
    New,
    /// The document was already shared with this recipient.
    Existing,
}

fn recipient_not_found() -> ApiError {
    ApiError::NotFound("No such user".into())
}

async fn existing_share(
    db: &impl ConnectionTrait,
    document: Uuid,
    recipient: Uuid,
) -> Result<Option<shares::Model>, DbErr> {
    shares::Entity::find()
        .filter(shares::Column::DocumentId.eq(document))
        .filter(shares::Column::RecipientId.eq(recipient))
        .one(db)
        .await
}

fn handle_of(handles: &HashMap<Uuid, String>, id: Uuid) -> Result<String, ApiError> {
    handles
        .get(&id)
        .cloned()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("share refers to missing account {id}")))
}

/// Shares the caller's confirmed document `document` with the account whose handle or
/// e-mail is `recipient`. Idempotent: sharing again returns the existing share. A new
/// share leaves a notice for the recipient (`notifications`) on `db`, so it commits
/// with the share when `db` is a transaction; the e-mail about it is the caller's
/// (`notifications::service::mail_share_notice`, after the commit).
///
/// Refusals, in this order: not the caller's document, or still pending → 404 (as if
/// missing); in the trash → 409 `document_trashed`; no such account → 404 "No such user"; the caller → 409
/// `cannot_share_with_self`; an administrator → 409 `cannot_share_with_admin`.
#[tracing::instrument(skip_all)]
/// The id of the account `recipient` (a handle or an e-mail address) names, found as
/// [`share`] finds it.
pub async fn recipient_id(
    db: &impl ConnectionTrait,
    recipient: &str,
) -> Result<Option<Uuid>, DbErr> {
    let Some(recipient) = Recipient::parse(recipient) else {
        return Ok(None);
    };
    Ok(crate::auth::repo::find_by_login(db, recipient.as_str())
        .await?
        .map(|u| u.id))
}

pub async fn share(
    db: &impl ConnectionTrait,
    owner: UserId,
    document: DocumentId,
    recipient: &str,
) -> Result<(ShareRow, Created), ApiError> {
    let doc = access::owned(db, owner, document).await?;
    if doc.status == DocumentStatus::Pending {
        return Err(ApiError::not_found());
    }
    if doc.trashed_at.is_some() {
        return Err(access::trashed());
    }
    // Neither a handle nor an e-mail address: no account can have it (and text such as
    // a NUL byte never reaches the database).
    let recipient = Recipient::parse(recipient).ok_or_else(recipient_not_found)?;
    let recipient = crate::auth::repo::find_by_login(db, recipient.as_str())
        .await?
        .ok_or_else(recipient_not_found)?;
    if UserId::from(recipient.id) == owner {
        return Err(ApiError::Conflict {
            code: crate::error::ErrorCode::CannotShareWithSelf,
            message: "You cannot share a document with yourself".into(),
        });
    }
    if recipient.role == Role::Admin {
        return Err(ApiError::Conflict {
            code: crate::error::ErrorCode::CannotShareWithAdmin,
            message: "Administrator accounts cannot receive shared documents".into(),
        });
    }
    let row = |share| ShareRow {
        share,
        recipient_handle: recipient.handle.clone(),
    };
    if let Some(existing) = existing_share(db, doc.id, recipient.id).await? {
        return Ok((row(existing), Created::Existing));
    }
    let share = shares::Model {
        id: Uuid::new_v4(),
        document_id: doc.id,
        owner_id: owner.into(),
        recipient_id: recipient.id,
        permission: VIEW.to_owned(),
        created_at: crate::time::now(),
    };
    // `ON CONFLICT DO NOTHING` rather than catching the unique violation: inside a
    // caller's transaction on PostgreSQL a failed statement would abort the transaction.
    let inserted = shares::Entity::insert(share.clone().into_active_model())
        .on_conflict(
            OnConflict::columns([shares::Column::DocumentId, shares::Column::RecipientId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await;
    match inserted {
        Ok(1) => {
            crate::notifications::service::share_received(db, &share).await?;
            crate::webhooks::share_created(db, share.owner_id, share.id, doc.id, &recipient.handle)
                .await;
            Ok((row(share), Created::New))
        }
        // A concurrent request created the same share first: return that one.
        Ok(_) => {
            let existing = existing_share(db, doc.id, recipient.id)
                .await?
                .ok_or_else(ApiError::not_found)?;
            Ok((row(existing), Created::Existing))
        }
        // The document was deleted meanwhile.
        Err(e) => match e.sql_err() {
            Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_)) => Err(ApiError::not_found()),
            _ => Err(e.into()),
        },
    }
}

/// Every share of the caller's document, oldest first.
#[tracing::instrument(skip_all)]
pub async fn list_for_document(
    db: &impl ConnectionTrait,
    owner: UserId,
    document: DocumentId,
) -> Result<Vec<ShareRow>, ApiError> {
    let doc = access::owned(db, owner, document).await?;
    let rows = shares::Entity::find()
        .filter(shares::Column::DocumentId.eq(doc.id))
        .order_by_asc(shares::Column::CreatedAt)
        .order_by_asc(shares::Column::Id)
        .all(db)
        .await?;
    let names = crate::auth::repo::handles(db, rows.iter().map(|s| s.recipient_id)).await?;
    rows.into_iter()
        .map(|share| {
            Ok(ShareRow {
                recipient_handle: handle_of(&names, share.recipient_id)?,
                share,
            })
        })
        .collect()
}

/// Revokes a share of one of the caller's documents; anyone else's share (including
/// one made *to* the caller) is a 404, like a missing one. A share of a trashed document
/// is kept as it is (409 `document_trashed`): restore brings the document back with it.
#[tracing::instrument(skip_all)]
pub async fn revoke(db: &impl ConnectionTrait, owner: UserId, id: Uuid) -> Result<(), ApiError> {
    let trashed = shares::Entity::find_by_id(id)
        .filter(shares::Column::OwnerId.eq(owner))
        .find_also_related(documents::Entity)
        .one(db)
        .await?
        .and_then(|(_, doc)| doc)
        .is_some_and(|doc| doc.trashed_at.is_some());
    if trashed {
        return Err(access::trashed());
    }
    let removed = shares::Entity::delete_many()
        .filter(shares::Column::Id.eq(id))
        .filter(shares::Column::OwnerId.eq(owner))
        .exec(db)
        .await?
        .rows_affected;
    if removed == 0 {
        return Err(ApiError::not_found());
    }
    Ok(())
}

/// One page of the documents shared with `recipient`, most recently shared first
/// (never trashed ones).
#[tracing::instrument(skip_all)]
pub async fn shared_with(
    db: &impl ConnectionTrait,
    recipient: UserId,
    page: u64,
    per_page: u64,
) -> Result<(Vec<SharedDocument>, u64), ApiError> {
    let paginator = shares::Entity::find()
        .find_also_related(documents::Entity)
        .filter(shares::Column::RecipientId.eq(recipient))
        .filter(documents::Column::Status.ne(DocumentStatus::Pending))
        .filter(documents::Column::TrashedAt.is_null())
        .order_by_desc(shares::Column::CreatedAt)
        .order_by_desc(shares::Column::Id)
        .paginate(db, per_page);
    let total = paginator.num_items().await?;
    let rows = paginator.fetch_page(page.saturating_sub(1)).await?;
    let names = crate::auth::repo::handles(db, rows.iter().map(|(s, _)| s.owner_id)).await?;
    let items = rows
        .into_iter()
        .filter_map(|(share, doc)| doc.map(|d| (share, d)))
        .map(|(share, document)| {
            Ok(SharedDocument {
                owner_handle: handle_of(&names, share.owner_id)?,
                share,
                document,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok((items, total))
}
