//! Notice use cases: record one (inside the share's transaction), list an account's,
//! mark them read, and e-mail a share notice (one per share, or one digest for the new
//! shares of a bulk share).
//!
//! A notice stores ids only. The file name and the sender's handle are read when it is
//! listed or mailed, and only while the share exists (a revoked share's notices cascade
//! away) and the document is out of the trash — so a notice never shows the name of a
//! document the recipient can no longer open.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use crate::domain::UserId;
use crate::entities::{documents, notifications, shares, users};
use crate::error::ApiError;
use crate::mail::Mailer;

/// `notifications.kind` of a share notice.
pub const SHARE_RECEIVED: &str = "share_received";

/// Most notices one list returns (the newest).
pub const LIST_LIMIT: u64 = 50;

/// Longest file name quoted in an e-mail, in characters.
const MAX_MAILED_NAME_CHARS: usize = 120;

/// Most documents one digest e-mail names (the rest are counted).
pub const DIGEST_NAMES: usize = 20;

/// One notice as its recipient sees it.
#[derive(Debug, Clone)]
pub struct Notice {
    /// Notice id.
    pub id: Uuid,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was marked read.
    pub read_at: Option<DateTime<Utc>>,
    /// The shared document.
    pub document_id: Uuid,
    /// Its file name now.
    pub filename: String,
    /// The sharer's handle now.
    pub from_handle: String,
}

/// Records that `share` was made: a notice for its recipient. Call with the share's
/// transaction.
pub async fn share_received(db: &impl ConnectionTrait, share: &shares::Model) -> Result<(), DbErr> {
    notifications::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(share.recipient_id),
        kind: Set(SHARE_RECEIVED.to_owned()),
        share_id: Set(share.id),
        document_id: Set(share.document_id),
        actor_id: Set(share.owner_id),
        created_at: Set(share.created_at),
        read_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The notices of `user` that may be shown: their document is out of the trash (the
/// share exists, or the notice would have cascaded away with it).
fn visible(user: UserId) -> sea_orm::Select<notifications::Entity> {
    notifications::Entity::find()
        .inner_join(documents::Entity)
        .filter(notifications::Column::UserId.eq(user))
        .filter(documents::Column::TrashedAt.is_null())
}

/// The newest [`LIST_LIMIT`] visible notices of `user`, newest first, and how many
/// visible ones are unread.
#[tracing::instrument(skip_all)]
pub async fn list(db: &impl ConnectionTrait, user: UserId) -> Result<(Vec<Notice>, u64), ApiError> {
    let rows: Vec<(notifications::Model, Option<documents::Model>)> = notifications::Entity::find()
        .find_also_related(documents::Entity)
        .filter(notifications::Column::UserId.eq(user))
        .filter(documents::Column::TrashedAt.is_null())
        .order_by_desc(notifications::Column::CreatedAt)
        .order_by_desc(notifications::Column::Id)
        .limit(LIST_LIMIT)
        .all(db)
        .await?;
    let unread = visible(user)
        .filter(notifications::Column::ReadAt.is_null())
        .count(db)
        .await?;
    let handles = crate::auth::repo::handles(db, rows.iter().map(|(n, _)| n.actor_id)).await?;
    let items = rows
        .into_iter()
        .filter_map(|(n, doc)| {
            let doc = doc?;
            Some(Notice {
                id: n.id,
                created_at: n.created_at,
                read_at: n.read_at,
                document_id: doc.id,
                filename: doc.filename,
                from_handle: handles.get(&n.actor_id)?.clone(),
            })
        })
        .collect();
    Ok((items, unread))
}

/// Marks notices of `user` read: those in `ids` (others' ids are ignored), or all when
/// `None`. Already read ones keep their time.
#[tracing::instrument(skip_all)]
pub async fn mark_read(
    db: &impl ConnectionTrait,
    user: UserId,
    ids: Option<&[Uuid]>,
) -> Result<(), ApiError> {
    let mut update = notifications::Entity::update_many()
        .col_expr(
            notifications::Column::ReadAt,
            Expr::value(crate::time::now()),
        )
        .filter(notifications::Column::UserId.eq(user))
        .filter(notifications::Column::ReadAt.is_null());
    if let Some(ids) = ids {
        if ids.is_empty() {
            return Ok(());
        }
        update = update.filter(notifications::Column::Id.is_in(ids.iter().copied()));
    }
    update.exec(db).await?;
    Ok(())
}

/// E-mails the recipient of share `share_id` about it, when an SMTP relay is configured
/// (nothing otherwise): the sharer's handle, the file name and a link to
/// `{base_url}/documents/{id}`. Meant for a spawned task after the share committed;
/// failures are logged, never returned. Nothing is sent when the share is gone or its
/// document was trashed meanwhile.
pub async fn mail_share_notice(
    db: &impl ConnectionTrait,
    mailer: &Mailer,
    base_url: &str,
    share_id: Uuid,
) {
    if !mailer.delivers() {
        return;
    }
    match share_notice(db, base_url, share_id).await {
        Ok(Some((to, subject, body))) => {
            if let Err(error) = mailer.send(&to, &subject, &body).await {
                tracing::warn!(%error, %share_id, "the share notice e-mail was not delivered");
            }
        }
        Ok(None) => {}
        Err(error) => tracing::warn!(%error, %share_id, "could not prepare a share notice e-mail"),
    }
}

/// Recipient address, subject and body of the e-mail about `share_id`, if it still
/// stands.
async fn share_notice(
    db: &impl ConnectionTrait,
    base_url: &str,
    share_id: Uuid,
) -> Result<Option<(String, String, String)>, DbErr> {
    let Some((share, Some(doc))) = shares::Entity::find_by_id(share_id)
        .find_also_related(documents::Entity)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if doc.trashed_at.is_some() {
        return Ok(None);
    }
    let people = users::Entity::find()
        .filter(users::Column::Id.is_in([share.owner_id, share.recipient_id]))
        .all(db)
        .await?;
    let person = |id: Uuid| people.iter().find(|u| u.id == id);
    let (Some(owner), Some(recipient)) = (person(share.owner_id), person(share.recipient_id))
    else {
        return Ok(None);
    };
    let from = crate::mail::one_line(&owner.handle, 64);
    let name = crate::mail::one_line_text(&doc.filename, MAX_MAILED_NAME_CHARS);
    let subject = format!("{from} shared a document with you on DocuVault");
    let body = format!(
        "Hi {to},\n\
         \n\
         {from} shared \"{name}\" with you. You can read and download it:\n\
         \n\
         {base_url}/documents/{id}\n\
         \n\
         It is listed under \"Shared with me\" too.\n\
         \n\
         This message was sent automatically; replies are not read.\n",
        to = crate::mail::one_line(&recipient.handle, 64),
        id = doc.id,
    );
    Ok(Some((recipient.email.clone(), subject, body)))
}

/// E-mails the recipient of many new shares one message about all of them (a bulk
/// share), when an SMTP relay is configured: the shares of `documents` from `owner` to
/// `recipient` that still stand on documents out of the trash, up to [`DIGEST_NAMES`]
/// named with their links, the rest counted. One share left: the single notice. Meant
/// for a spawned task after the shares committed; failures are logged.
pub async fn mail_shares_digest(
    db: &impl ConnectionTrait,
    mailer: &Mailer,
    base_url: &str,
    owner: Uuid,
    recipient: Uuid,
    documents: Vec<Uuid>,
) {
    if !mailer.delivers() {
        return;
    }
    match shares_digest(db, base_url, owner, recipient, documents).await {
        Ok(Digest::One(share_id)) => mail_share_notice(db, mailer, base_url, share_id).await,
        Ok(Digest::Many(to, subject, body)) => {
            if let Err(error) = mailer.send(&to, &subject, &body).await {
                tracing::warn!(%error, "the shares digest e-mail was not delivered");
            }
        }
        Ok(Digest::Nothing) => {}
        Err(error) => tracing::warn!(%error, "could not prepare a shares digest e-mail"),
    }
}

/// What a digest comes to.
enum Digest {
    Nothing,
    /// One share stands: its own notice.
    One(Uuid),
    /// Address, subject, body.
    Many(String, String, String),
}

async fn shares_digest(
    db: &impl ConnectionTrait,
    base_url: &str,
    owner: Uuid,
    recipient: Uuid,
    documents: Vec<Uuid>,
) -> Result<Digest, DbErr> {
    let mut standing = Vec::new();
    for chunk in documents.chunks(500) {
        let rows = shares::Entity::find()
            .filter(shares::Column::OwnerId.eq(owner))
            .filter(shares::Column::RecipientId.eq(recipient))
            .filter(shares::Column::DocumentId.is_in(chunk.to_vec()))
            .find_also_related(documents::Entity)
            .all(db)
            .await?;
        standing.extend(
            rows.into_iter()
                .filter_map(|(share, doc)| Some((share, doc?)))
                .filter(|(_, doc)| doc.trashed_at.is_none()),
        );
    }
    match standing.len() {
        0 => return Ok(Digest::Nothing),
        1 => return Ok(Digest::One(standing[0].0.id)),
        _ => {}
    }
    standing.sort_by(|a, b| a.1.filename.cmp(&b.1.filename));
    let people = users::Entity::find()
        .filter(users::Column::Id.is_in([owner, recipient]))
        .all(db)
        .await?;
    let person = |id: Uuid| people.iter().find(|u| u.id == id);
    let (Some(from), Some(to)) = (person(owner), person(recipient)) else {
        return Ok(Digest::Nothing);
    };
    let from = crate::mail::one_line(&from.handle, 64);
    let n = standing.len();
    let mut list = String::new();
    for (_, doc) in standing.iter().take(DIGEST_NAMES) {
        let name = crate::mail::one_line_text(&doc.filename, MAX_MAILED_NAME_CHARS);
        list.push_str(&format!("- {name}\n  {base_url}/documents/{}\n", doc.id));
    }
    if n > DIGEST_NAMES {
        list.push_str(&format!("- and {} more\n", n - DIGEST_NAMES));
    }
    let subject = format!("{from} shared {n} documents with you on DocuVault");
    let body = format!(
        "Hi {to},\n\
         \n\
         {from} shared {n} documents with you. You can read and download them:\n\
         \n\
         {list}\
         \n\
         All of them are listed under \"Shared with me\": {base_url}/shared\n\
         \n\
         This message was sent automatically; replies are not read.\n",
        to = crate::mail::one_line(&to.handle, 64),
    );
    Ok(Digest::Many(to.email.clone(), subject, body))
}
