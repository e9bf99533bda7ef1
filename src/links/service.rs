//! Public-link use cases: the owner creates, lists and revokes links to a document; an
//! anonymous client opens one (metadata, password check) and fetches the document
//! through short-lived signed URLs that re-check the link on every use.
//!
//! - A link token is 256 random bits (base64url), shown once; the database holds only its
//!   keyed hash ([`hash`], under its own purpose string).
//! - A link is usable while it is not revoked, not expired, has downloads left, its
//!   document is live (not pending, not in the trash) and its owner's account is active.
//!   Anything else — unknown token included — is the same 404 ([`unavailable`]).
//! - Trashing the document suspends its links (they answer 404); restoring resumes those
//!   not expired meanwhile. Deleting the document for good deletes them (cascade).
//! - Downloads are counted by one conditional `UPDATE`, so `max_downloads` holds under
//!   concurrency: of two simultaneous last downloads exactly one is served.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::audit::{AuditEntry, AuditEvent, Outcome};
use crate::auth::limits::{self, Limit};
use crate::auth::sessions::ClientInfo;
use crate::crypto::Keys;
use crate::documents::access;
use crate::domain::{DocumentId, UserId};
use crate::entities::{DocumentStatus, documents, public_links, users};
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// Purpose string of the keyed hash of link tokens.
const HASH_PURPOSE: &str = "public-link:";
/// Purpose string of the signed download and view URLs of a link.
const GRANT_PURPOSE: &str = "public-link-url:";

/// Longest accepted link password, in characters.
pub const MAX_PASSWORD_CHARS: usize = 256;
/// Largest accepted `max_downloads`.
pub const MAX_DOWNLOADS: i32 = 1_000_000;
/// Longest token accepted at all (real ones have 43 characters).
const MAX_TOKEN_CHARS: usize = 128;

/// The keyed hash a link token is stored and looked up by.
pub fn hash(keys: &Keys, token: &str) -> String {
    keys.hash_token(&format!("{HASH_PURPOSE}{token}"))
}

/// The one answer for every link that cannot be used: unknown, expired, exhausted,
/// revoked, or its document trashed — indistinguishable on purpose.
pub fn unavailable() -> ApiError {
    ApiError::not_found()
}

fn validation(message: impl Into<String>) -> ApiError {
    ApiError::Unprocessable {
        code: ErrorCode::ValidationFailed,
        message: message.into(),
    }
}

/// A valid request for a new link.
#[derive(Debug, Clone)]
pub struct NewLink {
    /// Lifetime in hours, 1 to `links.max_expiry_hours`.
    pub expires_in_hours: i64,
    /// Optional password, 1 to [`MAX_PASSWORD_CHARS`] characters.
    pub password: Option<String>,
    /// Optional download limit, 1 to [`MAX_DOWNLOADS`].
    pub max_downloads: Option<i32>,
}

impl NewLink {
    /// Checks the values against the settings' cap (422 `validation_failed`).
    pub fn parse(
        expires_in_hours: i64,
        password: Option<String>,
        max_downloads: Option<i64>,
        max_expiry_hours: u32,
    ) -> Result<Self, ApiError> {
        if !(1..=i64::from(max_expiry_hours)).contains(&expires_in_hours) {
            return Err(validation(format!(
                "expires_in_hours must be between 1 and {max_expiry_hours}"
            )));
        }
        if let Some(p) = &password
            && !(1..=MAX_PASSWORD_CHARS).contains(&p.chars().count())
        {
            return Err(validation(format!(
                "password must be 1–{MAX_PASSWORD_CHARS} characters"
            )));
        }
        let max_downloads = match max_downloads {
            None => None,
            Some(n) => Some(
                i32::try_from(n)
                    .ok()
                    .filter(|n| (1..=MAX_DOWNLOADS).contains(n))
                    .ok_or_else(|| {
                        validation(format!(
                            "max_downloads must be between 1 and {MAX_DOWNLOADS}"
                        ))
                    })?,
            ),
        };
        Ok(Self {
            expires_in_hours,
            password,
            max_downloads,
        })
    }
}

/// Creates a link to the caller's live document; returns the token (shown once) and the
/// row. Not the caller's document (a share recipient's included) or still pending →
/// 404; in the trash → 409 `document_trashed`.
#[tracing::instrument(skip_all)]
pub async fn create(
    state: &AppState,
    owner: UserId,
    document: DocumentId,
    new: NewLink,
    client: &ClientInfo,
) -> Result<(String, public_links::Model), ApiError> {
    let doc = access::changeable(&state.db, owner, document).await?;
    if doc.status == DocumentStatus::Pending {
        return Err(ApiError::not_found());
    }
    let password_hash = match &new.password {
        Some(p) => Some(state.hasher.hash(p).await?),
        None => None,
    };
    let token = crate::crypto::random_token();
    let now = crate::time::now();
    let txn = state.db.begin().await?;
    let row = public_links::ActiveModel {
        id: Set(Uuid::new_v4()),
        document_id: Set(doc.id),
        owner_id: Set(owner.into()),
        token_hash: Set(hash(&state.keys, &token)),
        password_hash: Set(password_hash),
        expires_at: Set(now + chrono::Duration::hours(new.expires_in_hours)),
        max_downloads: Set(new.max_downloads),
        download_count: Set(0),
        access_count: Set(0),
        revoked_at: Set(None),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    AuditEntry::new(
        AuditEvent::PublicLinkCreated,
        Outcome::Success,
        Some(owner.into()),
        Some(&client.ip),
    )
    .resource(row.id)
    .detail("document_id", doc.id.to_string())
    .detail("expires_at", row.expires_at.to_rfc3339())
    .detail("has_password", row.password_hash.is_some())
    .detail("max_downloads", row.max_downloads)
    .record(&txn)
    .await?;
    txn.commit().await?;
    Ok((token, row))
}

/// Every link of the caller's document (trashed ones included: their links are only
/// suspended), newest first.
#[tracing::instrument(skip_all)]
pub async fn list(
    db: &impl ConnectionTrait,
    owner: UserId,
    document: DocumentId,
) -> Result<Vec<public_links::Model>, ApiError> {
    let doc = access::owned(db, owner, document).await?;
    Ok(public_links::Entity::find()
        .filter(public_links::Column::DocumentId.eq(doc.id))
        .order_by_desc(public_links::Column::CreatedAt)
        .order_by_desc(public_links::Column::Id)
        .all(db)
        .await?)
}

/// Revokes one of the caller's links, at once: the link and every URL it issued stop
/// working. Revoking again is harmless; anyone else's link is a 404.
#[tracing::instrument(skip_all)]
pub async fn revoke(
    db: &DatabaseConnection,
    owner: UserId,
    id: Uuid,
    client: &ClientInfo,
) -> Result<(), ApiError> {
    let txn = db.begin().await?;
    let revoked = public_links::Entity::update_many()
        .col_expr(
            public_links::Column::RevokedAt,
            Expr::value(crate::time::now()),
        )
        .filter(public_links::Column::Id.eq(id))
        .filter(public_links::Column::OwnerId.eq(owner))
        .filter(public_links::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    if revoked == 0 {
        let exists = public_links::Entity::find_by_id(id)
            .filter(public_links::Column::OwnerId.eq(owner))
            .one(&txn)
            .await?
            .is_some();
        return if exists {
            Ok(())
        } else {
            Err(ApiError::not_found())
        };
    }
    AuditEntry::new(
        AuditEvent::PublicLinkRevoked,
        Outcome::Success,
        Some(owner.into()),
        Some(&client.ip),
    )
    .resource(id)
    .record(&txn)
    .await?;
    txn.commit().await?;
    Ok(())
}

/// A usable link and its document.
#[derive(Debug, Clone)]
pub struct OpenLink {
    /// The link.
    pub link: public_links::Model,
    /// Its document (live).
    pub document: documents::Model,
}

/// Whether `link` may serve `doc` at `now` (everything but the owner's account).
fn usable_at(link: &public_links::Model, doc: &documents::Model, now: DateTime<Utc>) -> bool {
    link.revoked_at.is_none()
        && link.expires_at > now
        && link
            .max_downloads
            .is_none_or(|max| link.download_count < max)
        && doc.trashed_at.is_none()
        && doc.status != DocumentStatus::Pending
}

/// The usable link of `token`, or [`unavailable`].
#[tracing::instrument(skip_all)]
pub async fn find_usable(
    db: &impl ConnectionTrait,
    keys: &Keys,
    token: &str,
) -> Result<OpenLink, ApiError> {
    let plausible = !token.is_empty()
        && token.len() <= MAX_TOKEN_CHARS
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !plausible {
        return Err(unavailable());
    }
    let (link, document) = public_links::Entity::find()
        .filter(public_links::Column::TokenHash.eq(hash(keys, token)))
        .find_also_related(documents::Entity)
        .one(db)
        .await?
        .and_then(|(link, doc)| doc.map(|d| (link, d)))
        .ok_or_else(unavailable)?;
    if !usable_at(&link, &document, crate::time::now()) {
        return Err(unavailable());
    }
    let owner_active = users::Entity::find_by_id(link.owner_id)
        .one(db)
        .await?
        .is_some_and(|u| u.is_active);
    if !owner_active {
        return Err(unavailable());
    }
    Ok(OpenLink { link, document })
}

/// What opening a link gave the anonymous client.
#[derive(Debug, Clone)]
pub enum Opened {
    /// The link has a password and none was given: only that it needs one.
    Locked(public_links::Model),
    /// The link and its document (password accepted, or none needed); counted as an
    /// access.
    Open(Box<OpenLink>),
}

fn password_invalid() -> ApiError {
    ApiError::Unauthorized {
        code: ErrorCode::LinkPasswordInvalid,
        message: "The password of this link is not right".into(),
    }
}

/// Opens the link of `token` with an optional password. A password is checked only
/// when the link has one (Argon2), each check counted against the per-IP and per-link
/// attempt limits (429 past them); wrong → 401 `link_password_invalid`. Counts an
/// access when the link is open.
#[tracing::instrument(skip_all)]
pub async fn open(
    state: &AppState,
    token: &str,
    password: Option<&str>,
    client: &ClientInfo,
) -> Result<Opened, ApiError> {
    let found = find_usable(&state.db, &state.keys, token).await?;
    if let Some(stored) = found.link.password_hash.as_deref() {
        let Some(given) = password else {
            return Ok(Opened::Locked(found.link));
        };
        let link_key = found.link.id.to_string();
        limits::check(state, Limit::LinkPasswordPerIp, &client.rate_key, client).await?;
        limits::check(state, Limit::LinkPasswordPerLink, &link_key, client).await?;
        if !state.hasher.verify(given, Some(stored)).await? {
            return Err(password_invalid());
        }
        limits::reset(state, Limit::LinkPasswordPerIp, &client.rate_key).await;
        limits::reset(state, Limit::LinkPasswordPerLink, &link_key).await;
    }
    public_links::Entity::update_many()
        .col_expr(
            public_links::Column::AccessCount,
            Expr::col(public_links::Column::AccessCount).add(1),
        )
        .filter(public_links::Column::Id.eq(found.link.id))
        .exec(&state.db)
        .await?;
    Ok(Opened::Open(Box::new(found)))
}

/// What a signed URL of a link serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    /// The file as an attachment; counted as a download.
    Download,
    /// The file shown in the browser (links without a download limit only).
    View,
}

/// What a link's signed URL allows: this delivery of this link, until then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkGrant {
    /// The link.
    pub link: Uuid,
    /// What it serves.
    pub delivery: Delivery,
    /// Expiry, Unix seconds.
    pub expires: i64,
}

/// The signed `access` value of a URL delivering `link`'s document.
pub fn sign_grant(keys: &Keys, grant: &LinkGrant) -> String {
    keys.sign_payload(GRANT_PURPOSE, grant)
}

/// Checks an `access` value for `delivery` at `now` against the link of `token`, which
/// must still be usable: a URL stops working as soon as its link does. Any failure is
/// [`unavailable`].
pub async fn check_grant(
    state: &AppState,
    token: &str,
    access: &str,
    delivery: Delivery,
) -> Result<OpenLink, ApiError> {
    let grant: LinkGrant = state
        .keys
        .verify_payload(GRANT_PURPOSE, access)
        .ok_or_else(unavailable)?;
    if grant.delivery != delivery || grant.expires <= Utc::now().timestamp() {
        return Err(unavailable());
    }
    let found = find_usable(&state.db, &state.keys, token).await?;
    if found.link.id != grant.link {
        return Err(unavailable());
    }
    if delivery == Delivery::View && found.link.max_downloads.is_some() {
        return Err(unavailable());
    }
    Ok(found)
}

/// Counts one download of `link`, atomically within its limit; [`unavailable`] when
/// the link was used up (or revoked, or expired) meanwhile. Records `public_link_used`.
pub async fn count_download(
    db: &DatabaseConnection,
    link: &public_links::Model,
    client: &ClientInfo,
) -> Result<(), ApiError> {
    let txn = db.begin().await?;
    let counted = public_links::Entity::update_many()
        .col_expr(
            public_links::Column::DownloadCount,
            Expr::col(public_links::Column::DownloadCount).add(1),
        )
        .filter(public_links::Column::Id.eq(link.id))
        .filter(public_links::Column::RevokedAt.is_null())
        .filter(public_links::Column::ExpiresAt.gt(crate::time::now()))
        .filter(
            sea_orm::Condition::any()
                .add(public_links::Column::MaxDownloads.is_null())
                .add(
                    Expr::col(public_links::Column::DownloadCount)
                        .lt(Expr::col(public_links::Column::MaxDownloads)),
                ),
        )
        .exec(&txn)
        .await?
        .rows_affected;
    if counted == 0 {
        return Err(unavailable());
    }
    AuditEntry::new(
        AuditEvent::PublicLinkUsed,
        Outcome::Success,
        Some(link.owner_id),
        Some(&client.ip),
    )
    .actor(None)
    .resource(link.id)
    .detail("document_id", link.document_id.to_string())
    .record(&txn)
    .await?;
    txn.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn new_links_are_checked_against_the_cap() {
        assert!(NewLink::parse(1, None, None, 720).is_ok());
        assert!(NewLink::parse(720, Some("x".into()), Some(1), 720).is_ok());
        assert!(NewLink::parse(0, None, None, 720).is_err());
        assert!(NewLink::parse(721, None, None, 720).is_err());
        assert!(NewLink::parse(-5, None, None, 720).is_err());
        assert!(NewLink::parse(1, Some(String::new()), None, 720).is_err());
        assert!(NewLink::parse(1, Some("x".repeat(257)), None, 720).is_err());
        assert!(NewLink::parse(1, None, Some(0), 720).is_err());
        assert!(NewLink::parse(1, None, Some(i64::from(i32::MAX) + 1), 720).is_err());
    }

    #[test]
    fn grants_are_bound_to_their_purpose_and_key() {
        let keys = Keys::derive("k");
        let grant = LinkGrant {
            link: Uuid::nil(),
            delivery: Delivery::Download,
            expires: 10,
        };
        let signed = sign_grant(&keys, &grant);
        assert_eq!(
            keys.verify_payload::<LinkGrant>(GRANT_PURPOSE, &signed),
            Some(grant)
        );
        assert_eq!(
            keys.verify_payload::<LinkGrant>("storage-url:", &signed),
            None
        );
        assert_eq!(
            Keys::derive("other").verify_payload::<LinkGrant>(GRANT_PURPOSE, &signed),
            None
        );
        assert_ne!(hash(&keys, "t"), keys.hash_token("t"));
    }
}
