//! "Forgot password": a single-use link by e-mail, and setting a new password with it.
//!
//! - [`request`] answers the same way, at once, whether an account has the address or
//!   not: after the attempt limits (per client IP and per address) it hands the rest —
//!   the lookup, the token, the e-mail — to a background task, so neither the answer nor
//!   its timing says whether the account exists.
//! - The link carries a 256-bit random token; only its keyed hash is stored
//!   (`Keys::hash_token` under [`HASH_PURPOSE`]). It works for [`TOKEN_TTL`] and once:
//!   [`confirm`] consumes it with one conditional `UPDATE`, so of two concurrent confirms
//!   exactly one succeeds, and a success uses up every other link of the account.
//! - A confirm sets the password (the rules of registration), clears a pending forced
//!   change, ends every session and API token, and mails the "password changed" alert.
//!   Two-factor authentication stays as it was: a reset replaces the password only.
//! - Disabled accounts get no link (and a link sent before the account was disabled no
//!   longer works); administrators reset like anyone else.

use chrono::Duration;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use crate::audit::{AuditEntry, AuditEvent, Outcome};
use crate::auth::limits::{self, Limit};
use crate::auth::sessions::{self, ClientInfo};
use crate::domain::{Email, Password};
use crate::entities::{password_reset_tokens, users};
use crate::error::{ApiError, ErrorCode};
use crate::mail::SecurityAlert;
use crate::state::AppState;

/// How long a reset link works.
pub const TOKEN_TTL: Duration = Duration::minutes(30);

/// Purpose string the reset tokens are hashed under (no other token's hash can match).
const HASH_PURPOSE: &str = "password-reset:";

/// Longest token looked up (a real one is 43 characters).
const MAX_TOKEN_CHARS: usize = 200;

/// The stored form of a reset token.
pub fn token_hash(keys: &crate::crypto::Keys, token: &str) -> String {
    keys.hash_token(&format!("{HASH_PURPOSE}{token}"))
}

fn token_invalid() -> ApiError {
    ApiError::BadRequest {
        code: ErrorCode::ResetTokenInvalid,
        message: "This reset link is invalid, expired or already used; ask for a new one".into(),
    }
}

/// The reset page a link opens, for `token`, under `base_url` (no trailing `/`).
pub fn reset_link(base_url: &str, token: &str) -> String {
    format!("{base_url}/reset-password?token={token}")
}

/// `POST /api/auth/password-reset`: counts the attempt against both limits (429 once
/// either is used up), then sends the link in the background. The same `Ok` whether
/// an account has `email` or not.
pub async fn request(
    state: &AppState,
    email: &str,
    base_url: String,
    client: &ClientInfo,
) -> Result<(), ApiError> {
    let email = Email::parse(email).map_err(|e| ApiError::Unprocessable {
        code: ErrorCode::ValidationFailed,
        message: e.0,
    })?;
    limits::check(state, Limit::PasswordResetPerIp, &client.rate_key, client).await?;
    limits::check(state, Limit::PasswordResetPerEmail, email.as_str(), client).await?;
    let (state, client) = (state.clone(), client.clone());
    tokio::spawn(async move {
        if let Err(error) = send_link(&state, &email, &base_url, &client).await {
            tracing::warn!(%error, "a password reset link could not be prepared");
        }
    });
    Ok(())
}

/// The background half of [`request`]: a token and an e-mail for an active account, an
/// audit row either way.
#[tracing::instrument(skip_all)]
async fn send_link(
    state: &AppState,
    email: &Email,
    base_url: &str,
    client: &ClientInfo,
) -> Result<(), ApiError> {
    let user = users::Entity::find()
        .filter(users::Column::Email.eq(email.as_str()))
        .one(&state.db)
        .await?;
    let refused = |user: Option<Uuid>, reason: &'static str| {
        AuditEntry::new(
            AuditEvent::PasswordResetRequested,
            Outcome::Failure,
            user,
            Some(&client.ip),
        )
        .detail("reason", reason)
    };
    let user = match user {
        Some(user) if user.is_active => user,
        Some(user) => {
            refused(Some(user.id), "account_disabled")
                .record(&state.db)
                .await?;
            return Ok(());
        }
        None => {
            refused(None, "unknown_account").record(&state.db).await?;
            return Ok(());
        }
    };
    let token = crate::crypto::random_token();
    let now = crate::time::now();
    let txn = crate::db::begin_write(&state.db).await?;
    password_reset_tokens::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(user.id),
        token_hash: Set(token_hash(&state.keys, &token)),
        created_at: Set(now),
        expires_at: Set(now + TOKEN_TTL),
        used_at: Set(None),
        request_ip: Set(Some(client.ip.clone())),
    }
    .insert(&txn)
    .await?;
    AuditEntry::new(
        AuditEvent::PasswordResetRequested,
        Outcome::Success,
        Some(user.id),
        Some(&client.ip),
    )
    .record(&txn)
    .await?;
    txn.commit().await?;

    let body = link_email(&user.handle, &reset_link(base_url, &token), &client.ip);
    if let Err(error) = state
        .mailer
        .send(&user.email, "Reset your DocuVault password", &body)
        .await
    {
        tracing::warn!(%error, user = %user.id, "the password reset e-mail was not delivered");
    }
    Ok(())
}

/// The text of the e-mail carrying a reset link.
fn link_email(handle: &str, link: &str, ip: &str) -> String {
    let minutes = TOKEN_TTL.num_minutes();
    format!(
        "Hi {handle},\n\
         \n\
         Someone (from IP {ip}) asked to reset the password of your DocuVault\n\
         account. To choose a new password, open this link within {minutes} minutes:\n\
         \n\
         {link}\n\
         \n\
         The link works once. Setting a new password signs you out everywhere;\n\
         two-factor authentication, if you use it, stays on.\n\
         \n\
         If you didn't ask for this, ignore this e-mail: your password stays as it is.\n\
         \n\
         This message was sent automatically; replies are not read.\n",
        handle = crate::mail::one_line(handle, 64),
        ip = crate::mail::one_line(ip, 64),
    )
}

/// `POST /api/auth/password-reset/confirm`: sets `password` on the account `token` was
/// sent to. 422 for a password the registration rules refuse (the token stays usable),
/// 400 `reset_token_invalid` for an unknown, expired or used token, or one of an account
/// disabled since.
#[tracing::instrument(skip_all)]
pub async fn confirm(
    state: &AppState,
    token: &str,
    password: &str,
    client: &ClientInfo,
) -> Result<(), ApiError> {
    let password = Password::parse(password).map_err(|e| ApiError::Unprocessable {
        code: ErrorCode::ValidationFailed,
        message: e.0,
    })?;
    // A token that was never issued is unknown (404); one that was issued and is used
    // up or expired is refused with 400 `reset_token_invalid`.
    let unknown = || ApiError::NotFound("No such reset link; ask for a new one".into());
    let token = token.trim();
    if token.is_empty() || token.chars().count() > MAX_TOKEN_CHARS {
        return Err(unknown());
    }
    let hash = token_hash(&state.keys, token);
    let now = crate::time::now();
    let row = password_reset_tokens::Entity::find()
        .filter(password_reset_tokens::Column::TokenHash.eq(hash))
        .one(&state.db)
        .await?
        .ok_or_else(unknown)?;
    if row.used_at.is_some() || row.expires_at <= now {
        return Err(token_invalid());
    }
    let user = users::Entity::find_by_id(row.user_id)
        .one(&state.db)
        .await?
        .filter(|u| u.is_active)
        .ok_or_else(token_invalid)?;
    let new_hash = state.hasher.hash(password.expose()).await?;

    let txn = crate::db::begin_write(&state.db).await?;
    let now = crate::time::now();
    // The claim: of two confirms with one token, only one changes this row.
    let claimed = password_reset_tokens::Entity::update_many()
        .col_expr(password_reset_tokens::Column::UsedAt, Expr::value(now))
        .filter(password_reset_tokens::Column::Id.eq(row.id))
        .filter(password_reset_tokens::Column::UsedAt.is_null())
        .filter(password_reset_tokens::Column::ExpiresAt.gt(now))
        .exec(&txn)
        .await?
        .rows_affected;
    if claimed != 1 {
        txn.rollback().await?;
        return Err(token_invalid());
    }
    use_up_links(&txn, user.id).await?;
    users::Entity::update_many()
        .col_expr(users::Column::PasswordHash, Expr::value(new_hash))
        .col_expr(users::Column::PasswordMustChange, Expr::value(false))
        .col_expr(users::Column::TokensValidAfter, Expr::value(now))
        .col_expr(users::Column::UpdatedAt, Expr::value(now))
        .filter(users::Column::Id.eq(user.id))
        .exec(&txn)
        .await?;
    sessions::revoke_all(&txn, user.id, None).await?;
    AuditEntry::new(
        AuditEvent::PasswordResetCompleted,
        Outcome::Success,
        Some(user.id),
        Some(&client.ip),
    )
    .record(&txn)
    .await?;
    txn.commit().await?;
    crate::auth::service::alert(
        state,
        &user,
        SecurityAlert::PasswordChanged {
            ip: client.ip.clone(),
            at: chrono::Utc::now(),
        },
    );
    Ok(())
}

/// Marks every unused reset link of `user` used: after a password was set (by a link or
/// an administrator), older links must not set another.
pub async fn use_up_links(db: &impl sea_orm::ConnectionTrait, user: Uuid) -> Result<(), ApiError> {
    password_reset_tokens::Entity::update_many()
        .col_expr(
            password_reset_tokens::Column::UsedAt,
            Expr::value(crate::time::now()),
        )
        .filter(password_reset_tokens::Column::UserId.eq(user))
        .filter(password_reset_tokens::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn the_link_opens_the_reset_page_with_the_token() {
        assert_eq!(
            reset_link("https://dv.example.com", "abc_-1"),
            "https://dv.example.com/reset-password?token=abc_-1"
        );
    }

    #[test]
    fn reset_tokens_hash_apart_from_other_tokens() {
        let keys = crate::crypto::Keys::derive(&"k".repeat(64));
        assert_ne!(token_hash(&keys, "t"), keys.hash_token("t"));
        assert_eq!(token_hash(&keys, "t"), token_hash(&keys, "t"));
    }

    #[test]
    fn the_e_mail_has_the_link_and_no_forged_lines() {
        let body = link_email(
            "alice\nBcc: x",
            "https://h/reset-password?token=T",
            "1.2.3.4",
        );
        assert!(
            body.contains("\nhttps://h/reset-password?token=T\n"),
            "{body}"
        );
        assert!(body.starts_with("Hi alice?Bcc: x,\n"), "{body}");
        assert!(body.contains("30 minutes"), "{body}");
    }
}
