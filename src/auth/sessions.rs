//! Login sessions: a family of rotating refresh tokens behind short-lived access tokens.
//!
//! Refresh tokens are 256-bit random strings stored only as keyed hashes. Each use
//! rotates the token; presenting an already-rotated token revokes the whole family
//! (reuse detection), except an identical retry within the grace window, which gets
//! the same successor — the successor is derived from the presented token with a
//! server key, so it can be handed out again without ever being stored.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use crate::audit::{AuditEntry, AuditEvent, Outcome};
use crate::entities::{refresh_tokens, users};
use crate::error::ApiError;
use crate::state::AppState;

/// Tokens handed to a client after login or refresh.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    /// JWT access token.
    pub access_token: String,
    /// Opaque refresh token (plaintext, shown once).
    pub refresh_token: String,
    /// Session (family) id.
    pub session_id: Uuid,
    /// Access token lifetime in seconds.
    pub expires_in: i64,
    /// When the session ends at the latest.
    pub session_expires_at: DateTime<Utc>,
}

/// Where the request came from, for audit rows and session records.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    /// Client IP as text.
    pub ip: String,
    /// Rate-limit bucket of the client (the IP, or its /64 for IPv6).
    pub rate_key: String,
    /// `User-Agent`, truncated.
    pub user_agent: Option<String>,
}

fn invalid_refresh() -> ApiError {
    ApiError::Unauthorized {
        code: crate::error::ErrorCode::InvalidRefreshToken,
        message: "The refresh token is invalid or expired; please sign in again".into(),
    }
}

fn secs(n: u64) -> Duration {
    Duration::seconds(i64::try_from(n).unwrap_or(i64::MAX / 1000))
}

/// Issues an access token for `user` in session `sid`.
pub fn access_token(state: &AppState, user: Uuid, sid: Uuid) -> Result<(String, i64), ApiError> {
    let token = state.tokens.issue(user, sid, Utc::now())?;
    Ok((token, state.tokens.ttl_secs()))
}

/// Starts a new session (refresh family) for `user`.
pub async fn start(
    state: &AppState,
    db: &impl ConnectionTrait,
    user: Uuid,
    client: &ClientInfo,
) -> Result<IssuedTokens, ApiError> {
    let now = crate::time::now();
    let auth = &state.settings.auth;
    let family = Uuid::new_v4();
    let family_expires_at = now + secs(auth.session_max_age_secs);
    let refresh = crate::crypto::random_token();
    insert_token(
        state,
        db,
        user,
        family,
        &refresh,
        now,
        family_expires_at,
        client,
    )
    .await?;
    let (access_token, expires_in) = access_token(state, user, family)?;
    Ok(IssuedTokens {
        access_token,
        refresh_token: refresh,
        session_id: family,
        expires_in,
        session_expires_at: family_expires_at,
    })
}

#[allow(clippy::too_many_arguments)]
async fn insert_token(
    state: &AppState,
    db: &impl ConnectionTrait,
    user: Uuid,
    family: Uuid,
    token: &str,
    now: DateTime<Utc>,
    family_expires_at: DateTime<Utc>,
    client: &ClientInfo,
) -> Result<Uuid, ApiError> {
    let id = Uuid::new_v4();
    insert_token_with_id(
        state,
        db,
        id,
        user,
        family,
        token,
        now,
        family_expires_at,
        client,
    )
    .await?;
    Ok(id)
}

#[allow(clippy::too_many_arguments)]
async fn insert_token_with_id(
    state: &AppState,
    db: &impl ConnectionTrait,
    id: Uuid,
    user: Uuid,
    family: Uuid,
    token: &str,
    now: DateTime<Utc>,
    family_expires_at: DateTime<Utc>,
    client: &ClientInfo,
) -> Result<(), ApiError> {
    let idle = now + secs(state.settings.auth.refresh_idle_ttl_secs);
    refresh_tokens::ActiveModel {
        id: Set(id),
        user_id: Set(user),
        token_hash: Set(state.keys.hash_token(token)),
        family_id: Set(family),
        expires_at: Set(idle.min(family_expires_at)),
        family_expires_at: Set(family_expires_at),
        revoked: Set(false),
        replaced_by: Set(None),
        rotated_at: Set(None),
        user_agent: Set(client.user_agent.clone()),
        ip_address: Set(Some(client.ip.clone())),
        created_at: Set(now),
    }
    .insert(db)
    .await
    .map_err(anyhow::Error::from)?;
    Ok(())
}

/// The successor of `token`: deterministic under the server key, never stored.
fn successor_of(state: &AppState, token: &str) -> String {
    state.keys.hash_token(&format!("refresh-successor:{token}"))
}

/// Rotates `presented`, returning the account and the new tokens.
pub async fn refresh(
    state: &AppState,
    presented: &str,
    client: &ClientInfo,
) -> Result<(users::Model, IssuedTokens), ApiError> {
    let db = &state.db;
    let hash = state.keys.hash_token(presented);
    let find = || async {
        refresh_tokens::Entity::find()
            .filter(refresh_tokens::Column::TokenHash.eq(hash.clone()))
            .one(db)
            .await
            .map_err(anyhow::Error::from)
    };
    let Some(mut row) = find().await? else {
        return Err(invalid_refresh());
    };
    let now = crate::time::now();
    if row.revoked || row.family_expires_at <= now {
        return Err(invalid_refresh());
    }
    let user = users::Entity::find_by_id(row.user_id)
        .one(db)
        .await
        .map_err(anyhow::Error::from)?
        .filter(|u| u.is_active)
        .ok_or_else(invalid_refresh)?;
    let successor = successor_of(state, presented);

    if row.rotated_at.is_none() {
        if row.expires_at <= now {
            return Err(invalid_refresh());
        }
        let txn = crate::db::begin_write(db)
            .await
            .map_err(anyhow::Error::from)?;
        let new_id = Uuid::new_v4();
        let claimed = refresh_tokens::Entity::update_many()
            .col_expr(refresh_tokens::Column::RotatedAt, Expr::value(now))
            .col_expr(refresh_tokens::Column::ReplacedBy, Expr::value(new_id))
            .filter(refresh_tokens::Column::Id.eq(row.id))
            .filter(refresh_tokens::Column::RotatedAt.is_null())
            .filter(refresh_tokens::Column::Revoked.eq(false))
            .exec(&txn)
            .await
            .map_err(anyhow::Error::from)?
            .rows_affected;
        if claimed == 1 {
            insert_token_with_id(
                state,
                &txn,
                new_id,
                row.user_id,
                row.family_id,
                &successor,
                now,
                row.family_expires_at,
                client,
            )
            .await?;
            txn.commit().await.map_err(anyhow::Error::from)?;
            let (access_token, expires_in) = access_token(state, user.id, row.family_id)?;
            return Ok((
                user,
                IssuedTokens {
                    access_token,
                    refresh_token: successor,
                    session_id: row.family_id,
                    expires_in,
                    session_expires_at: row.family_expires_at,
                },
            ));
        }
        txn.rollback().await.map_err(anyhow::Error::from)?;
        // Someone else rotated it first: continue as a retry of that rotation.
        row = find().await?.ok_or_else(invalid_refresh)?;
    }

    let grace = secs(state.settings.auth.refresh_grace_secs);
    let within_grace = row.rotated_at.is_some_and(|at| now - at <= grace);
    if within_grace && !row.revoked {
        let successor_row = refresh_tokens::Entity::find()
            .filter(refresh_tokens::Column::TokenHash.eq(state.keys.hash_token(&successor)))
            .one(db)
            .await
            .map_err(anyhow::Error::from)?;
        match successor_row {
            // A lost response retried: hand out the same, still unused successor.
            Some(s) if !s.revoked && s.rotated_at.is_none() => {
                let (access_token, expires_in) = access_token(state, user.id, row.family_id)?;
                return Ok((
                    user,
                    IssuedTokens {
                        access_token,
                        refresh_token: successor,
                        session_id: row.family_id,
                        expires_in,
                        session_expires_at: row.family_expires_at,
                    },
                ));
            }
            // The successor was already used, so the client got it: this is a replay.
            Some(s) if !s.revoked => {}
            _ => return Err(invalid_refresh()),
        }
    }
    reuse_detected(db, &row, client).await
}

/// A rotated token came back: it leaked somewhere. End the whole session.
async fn reuse_detected(
    db: &impl ConnectionTrait,
    row: &refresh_tokens::Model,
    client: &ClientInfo,
) -> Result<(users::Model, IssuedTokens), ApiError> {
    revoke_family(db, row.family_id).await?;
    AuditEntry::new(
        AuditEvent::RefreshReuseDetected,
        Outcome::Failure,
        Some(row.user_id),
        Some(&client.ip),
    )
    .resource(row.family_id)
    .record(db)
    .await
    .map_err(anyhow::Error::from)?;
    Err(ApiError::Unauthorized {
        code: crate::error::ErrorCode::RefreshTokenReused,
        message: "This refresh token was already used; the session has been signed out for safety"
            .into(),
    })
}

/// Revokes every token of one session.
pub async fn revoke_family(db: &impl ConnectionTrait, family: Uuid) -> Result<(), ApiError> {
    refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::Revoked, Expr::value(true))
        .filter(refresh_tokens::Column::FamilyId.eq(family))
        .exec(db)
        .await
        .map_err(anyhow::Error::from)?;
    Ok(())
}

/// Revokes every session of `user`, except `keep` when given, and ends every personal
/// API token of the account (callers: account disabled or role changed, sign out
/// everywhere, password change, two-factor authentication turned off).
pub async fn revoke_all(
    db: &impl ConnectionTrait,
    user: Uuid,
    keep: Option<Uuid>,
) -> Result<(), ApiError> {
    crate::auth::tokens::revoke_all(db, user).await?;
    let mut update = refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::Revoked, Expr::value(true))
        .filter(refresh_tokens::Column::UserId.eq(user));
    if let Some(keep) = keep {
        update = update.filter(refresh_tokens::Column::FamilyId.ne(keep));
    }
    update.exec(db).await.map_err(anyhow::Error::from)?;
    Ok(())
}

/// Whether session `sid` has been revoked (logout, reuse detection, password change).
pub async fn is_revoked(db: &impl ConnectionTrait, sid: Uuid) -> Result<bool, ApiError> {
    let revoked = refresh_tokens::Entity::find()
        .filter(refresh_tokens::Column::FamilyId.eq(sid))
        .filter(refresh_tokens::Column::Revoked.eq(true))
        .one(db)
        .await
        .map_err(anyhow::Error::from)?;
    Ok(revoked.is_some())
}
