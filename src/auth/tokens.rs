//! Personal API tokens (`dvpat_…`): scripts and other programs act for their owner
//! without a session.
//!
//! - A token is `dvpat_` + 256 random bits, shown once; the database holds only its keyed
//!   hash (`Keys::hash_token` under [`HASH_PURPOSE`]), and a request costs one indexed
//!   lookup by that hash (plus the account, as for a session).
//! - Default-deny: [`OPEN_TO_TOKENS`] is the one table of the routes a token may call and
//!   the scope each needs; every other route answers 403 `token_not_allowed`, whatever the
//!   token's scopes or its owner's role. The OpenAPI document lists `api_token` on exactly
//!   these operations (`openapi::declare_api_tokens`).
//! - Revoking deletes the row; so do disabling the account, "sign out everywhere", a
//!   password change and turning off two-factor authentication ([`revoke_all`], called by
//!   `sessions::revoke_all`).

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{AuditEntry, AuditEvent, Outcome};
use crate::auth::sessions::ClientInfo;
use crate::crypto::Keys;
use crate::entities::{api_tokens, users};
use crate::error::{ApiError, ErrorCode};

/// Every personal API token starts with this; the extractor tells them from access
/// tokens (JWTs) by it.
pub const TOKEN_PREFIX: &str = "dvpat_";

/// How many leading characters of a token are kept and shown (`dvpat_ab12cd`).
pub const SHOWN_PREFIX_LEN: usize = 12;

/// Purpose string of the keyed hash, so a token's hash never equals another secret's.
const HASH_PURPOSE: &str = "api-token:";

/// At most this many tokens per account.
pub const MAX_TOKENS_PER_ACCOUNT: u64 = 100;

/// Longest lifetime a token may be given, in days (about ten years).
pub const MAX_EXPIRES_IN_DAYS: i64 = 3650;

/// Longest token name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// `last_used_at` is written at most this often (and whenever the IP changes).
const USE_RECORD_INTERVAL_SECS: i64 = 60;

/// What a token may do. A `:write` scope includes the `:read` scope of its area.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum ApiScope {
    /// Read documents, their versions, text and downloads, folders, shares and saved views.
    #[serde(rename = "documents:read")]
    DocumentsRead,
    /// Upload, change, trash and delete documents and versions; manage folders and shares.
    #[serde(rename = "documents:write")]
    DocumentsWrite,
    /// Read the account's topics.
    #[serde(rename = "topics:read")]
    TopicsRead,
    /// Create, rename and delete the account's topics.
    #[serde(rename = "topics:write")]
    TopicsWrite,
}

impl ApiScope {
    /// Every scope, in the order they are listed.
    pub const ALL: [ApiScope; 4] = [
        Self::DocumentsRead,
        Self::DocumentsWrite,
        Self::TopicsRead,
        Self::TopicsWrite,
    ];

    /// The wire and stored spelling, e.g. `documents:read`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DocumentsRead => "documents:read",
            Self::DocumentsWrite => "documents:write",
            Self::TopicsRead => "topics:read",
            Self::TopicsWrite => "topics:write",
        }
    }

    /// The scope spelled `s`, if any.
    pub fn parse(s: &str) -> Option<ApiScope> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == s)
    }

    /// Whether holding `self` grants `needed` (a write scope includes its area's read).
    fn grants(self, needed: ApiScope) -> bool {
        self == needed
            || matches!(
                (self, needed),
                (Self::DocumentsWrite, Self::DocumentsRead) | (Self::TopicsWrite, Self::TopicsRead)
            )
    }
}

impl std::fmt::Display for ApiScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The stored form of a scope list: space-separated, in [`ApiScope::ALL`] order.
pub fn format_scopes(scopes: &[ApiScope]) -> String {
    ApiScope::ALL
        .iter()
        .filter(|s| scopes.contains(s))
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A stored scope list read back (an unknown word grants nothing).
pub fn parse_scopes(stored: &str) -> Vec<ApiScope> {
    stored
        .split_whitespace()
        .filter_map(ApiScope::parse)
        .collect()
}

/// What a route asks of an API token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenAccess {
    /// Any valid token (the caller's own account and quota).
    AnyToken,
    /// A token holding this scope.
    Scope(ApiScope),
}

impl TokenAccess {
    /// The OpenAPI extension value: the scope's name, or `any`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AnyToken => "any",
            Self::Scope(scope) => scope.as_str(),
        }
    }
}

/// How a route of [`OPEN_TO_TOKENS`] is opened.
#[derive(Debug, Clone, Copy)]
enum Opening {
    /// Reads only (`GET`, `HEAD`), for any token.
    ReadsForAnyToken,
    /// Reads need the area's read scope, everything else its write scope.
    Area { read: ApiScope, write: ApiScope },
}

const DOCUMENTS: Opening = Opening::Area {
    read: ApiScope::DocumentsRead,
    write: ApiScope::DocumentsWrite,
};
const TOPICS: Opening = Opening::Area {
    read: ApiScope::TopicsRead,
    write: ApiScope::TopicsWrite,
};

/// The routes open to API tokens: route template, whether the routes below it are
/// included, and how it is opened. Everything not listed (password, two-factor, sessions,
/// the tokens themselves, profile changes, administration, the export, webhooks, intake…)
/// is closed to tokens, admins' tokens included.
const OPEN_TO_TOKENS: &[(&str, bool, Opening)] = &[
    ("/api/auth/me", false, Opening::ReadsForAnyToken),
    ("/api/auth/me/quota", false, Opening::ReadsForAnyToken),
    // Documents, their text, downloads, versions and shares (`/documents/{id}/shares`).
    // A zip of documents is a read, though asked for by POST (the ids are a body).
    (
        "/api/documents/bulk/download-url",
        false,
        Opening::Area {
            read: ApiScope::DocumentsRead,
            write: ApiScope::DocumentsRead,
        },
    ),
    ("/api/documents", true, DOCUMENTS),
    ("/api/folders", true, DOCUMENTS),
    ("/api/shares", true, DOCUMENTS),
    // Revoking a public link (`/documents/{id}/links` is under `/api/documents`).
    ("/api/links", true, DOCUMENTS),
    ("/api/shared-with-me", true, DOCUMENTS),
    // Saved views: named list queries, part of the documents area.
    ("/api/views", true, DOCUMENTS),
    ("/api/topics", true, TOPICS),
];

/// What an API token needs to call `method` on the route template `route`
/// (`/api/documents/{id}`); `None`: tokens may not call it.
pub fn access_for(method: &str, route: &str) -> Option<TokenAccess> {
    let reads = matches!(method, "GET" | "HEAD");
    let (_, _, opening) = OPEN_TO_TOKENS.iter().find(|(template, below, _)| {
        route == *template
            || (*below
                && route
                    .strip_prefix(template)
                    .is_some_and(|rest| rest.starts_with('/')))
    })?;
    match *opening {
        Opening::ReadsForAnyToken => reads.then_some(TokenAccess::AnyToken),
        Opening::Area { read, write } => Some(TokenAccess::Scope(if reads { read } else { write })),
    }
}

fn invalid(message: &str) -> ApiError {
    ApiError::Unauthorized {
        code: ErrorCode::InvalidApiToken,
        message: message.into(),
    }
}

/// 403 `token_not_allowed`: this operation needs a signed-in session.
pub fn not_allowed() -> ApiError {
    ApiError::Forbidden {
        code: ErrorCode::TokenNotAllowed,
        message: "API tokens cannot be used for this operation; sign in instead".into(),
    }
}

/// The keyed hash a token is stored and looked up by.
pub fn hash(keys: &Keys, token: &str) -> String {
    keys.hash_token(&format!("{HASH_PURPOSE}{token}"))
}

/// A valid request for a new token.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// Trimmed name, 1 to [`MAX_NAME_CHARS`] characters.
    pub name: String,
    /// At least one scope, no repeats.
    pub scopes: Vec<ApiScope>,
    /// Lifetime; `None`: never expires.
    pub expires_in_days: Option<i64>,
}

fn validation(message: impl Into<String>) -> ApiError {
    ApiError::Unprocessable {
        code: ErrorCode::ValidationFailed,
        message: message.into(),
    }
}

impl NewToken {
    /// Checks a create request's fields.
    pub fn parse(
        name: &str,
        scopes: &[ApiScope],
        expires_in_days: Option<i64>,
    ) -> Result<NewToken, ApiError> {
        let name = name.trim();
        let chars = name.chars().count();
        if chars == 0 || chars > MAX_NAME_CHARS || name.chars().any(char::is_control) {
            return Err(validation(format!(
                "name must be 1–{MAX_NAME_CHARS} characters, without control characters"
            )));
        }
        if scopes.is_empty() {
            return Err(validation("scopes must name at least one scope"));
        }
        if expires_in_days.is_some_and(|d| !(1..=MAX_EXPIRES_IN_DAYS).contains(&d)) {
            return Err(validation(format!(
                "expires_in_days must be 1–{MAX_EXPIRES_IN_DAYS} (omit it for a token that does not expire)"
            )));
        }
        let mut unique = Vec::new();
        for scope in scopes {
            if !unique.contains(scope) {
                unique.push(*scope);
            }
        }
        Ok(NewToken {
            name: name.to_owned(),
            scopes: unique,
            expires_in_days,
        })
    }
}

/// Creates a token for `user`; returns the token (shown once) and its row.
pub async fn create(
    db: &DatabaseConnection,
    keys: &Keys,
    user: &users::Model,
    client: &ClientInfo,
    new: NewToken,
) -> Result<(String, api_tokens::Model), ApiError> {
    let txn = crate::db::begin_write(db).await?;
    let held = api_tokens::Entity::find()
        .filter(api_tokens::Column::UserId.eq(user.id))
        .count(&txn)
        .await?;
    if held >= MAX_TOKENS_PER_ACCOUNT {
        return Err(validation(format!(
            "An account may hold at most {MAX_TOKENS_PER_ACCOUNT} API tokens; revoke one first"
        )));
    }
    let token = format!("{TOKEN_PREFIX}{}", crate::crypto::random_token());
    let now = crate::time::now();
    let row = api_tokens::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(user.id),
        name: Set(new.name),
        prefix: Set(token.chars().take(SHOWN_PREFIX_LEN).collect()),
        token_hash: Set(hash(keys, &token)),
        scopes: Set(format_scopes(&new.scopes)),
        created_at: Set(now),
        expires_at: Set(new.expires_in_days.map(|d| now + Duration::days(d))),
        last_used_at: Set(None),
        last_used_ip: Set(None),
    }
    .insert(&txn)
    .await?;
    AuditEntry::new(
        AuditEvent::ApiTokenCreated,
        Outcome::Success,
        Some(user.id),
        Some(&client.ip),
    )
    .resource(row.id)
    .detail("scopes", row.scopes.clone())
    .record(&txn)
    .await?;
    txn.commit().await?;
    Ok((token, row))
}

/// The account's tokens, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    user: Uuid,
) -> Result<Vec<api_tokens::Model>, ApiError> {
    Ok(api_tokens::Entity::find()
        .filter(api_tokens::Column::UserId.eq(user))
        .order_by_desc(api_tokens::Column::CreatedAt)
        .order_by_desc(api_tokens::Column::Id)
        .all(db)
        .await?)
}

/// Revokes (deletes) one of the account's tokens; 404 when it has no such token.
pub async fn revoke(
    db: &DatabaseConnection,
    user: Uuid,
    id: Uuid,
    client: &ClientInfo,
) -> Result<(), ApiError> {
    let txn = crate::db::begin_write(db).await?;
    let deleted = api_tokens::Entity::delete_many()
        .filter(api_tokens::Column::Id.eq(id))
        .filter(api_tokens::Column::UserId.eq(user))
        .exec(&txn)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(ApiError::not_found());
    }
    AuditEntry::new(
        AuditEvent::ApiTokenRevoked,
        Outcome::Success,
        Some(user),
        Some(&client.ip),
    )
    .resource(id)
    .record(&txn)
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Ends every token of `user` (account disabled, signed out everywhere, password
/// changed); returns how many there were.
pub async fn revoke_all(db: &impl ConnectionTrait, user: Uuid) -> Result<u64, ApiError> {
    let deleted = api_tokens::Entity::delete_many()
        .filter(api_tokens::Column::UserId.eq(user))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected)
}

/// A caller authenticated by an API token.
#[derive(Debug, Clone)]
pub struct TokenCaller {
    /// The owner, freshly loaded.
    pub user: users::Model,
    /// The token's id.
    pub token_id: Uuid,
    /// Its scopes.
    pub scopes: Vec<ApiScope>,
}

/// Authenticates `presented` for `method` on the route template `route` (`None`: no
/// route matched): 401 `invalid_api_token` for an unknown, revoked or expired token or a
/// disabled owner; 403 `token_not_allowed` for a route closed to tokens; 403
/// `insufficient_scope` without the scope it needs. Records the use.
pub async fn authenticate(
    db: &DatabaseConnection,
    keys: &Keys,
    presented: &str,
    client: &ClientInfo,
    method: &str,
    route: Option<&str>,
) -> Result<TokenCaller, ApiError> {
    let unknown = "The API token is invalid or has been revoked";
    let token = api_tokens::Entity::find()
        .filter(api_tokens::Column::TokenHash.eq(hash(keys, presented)))
        .one(db)
        .await?
        .ok_or_else(|| invalid(unknown))?;
    let now = crate::time::now();
    if token.expires_at.is_some_and(|at| at <= now) {
        return Err(invalid("The API token has expired"));
    }
    let user = users::Entity::find_by_id(token.user_id)
        .one(db)
        .await?
        .filter(|u| u.is_active && token.created_at >= u.tokens_valid_after)
        .ok_or_else(|| invalid(unknown))?;
    let scopes = parse_scopes(&token.scopes);
    match route.and_then(|r| access_for(method, r)) {
        None => return Err(not_allowed()),
        Some(TokenAccess::AnyToken) => {}
        Some(TokenAccess::Scope(needed)) => {
            if !scopes.iter().any(|held| held.grants(needed)) {
                return Err(ApiError::Forbidden {
                    code: ErrorCode::InsufficientScope,
                    message: format!("This request needs an API token with the {needed} scope"),
                });
            }
        }
    }
    record_use(db, &token, client, now).await?;
    Ok(TokenCaller {
        user,
        token_id: token.id,
        scopes,
    })
}

/// Writes `last_used_at` / `last_used_ip` when the IP changed (then also the audit event
/// `api_token_used_new_ip`, once: the conditional update decides among racing requests)
/// or the last record is older than [`USE_RECORD_INTERVAL_SECS`]; otherwise nothing.
async fn record_use(
    db: &DatabaseConnection,
    token: &api_tokens::Model,
    client: &ClientInfo,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let ip = client.ip.as_str();
    if token.last_used_ip.as_deref() != Some(ip) {
        let txn = crate::db::begin_write(db).await?;
        let moved = api_tokens::Entity::update_many()
            .col_expr(api_tokens::Column::LastUsedAt, Expr::value(now))
            .col_expr(api_tokens::Column::LastUsedIp, Expr::value(ip))
            .filter(api_tokens::Column::Id.eq(token.id))
            .filter(
                Condition::any()
                    .add(api_tokens::Column::LastUsedIp.is_null())
                    .add(api_tokens::Column::LastUsedIp.ne(ip)),
            )
            .exec(&txn)
            .await?;
        if moved.rows_affected == 1 {
            AuditEntry::new(
                AuditEvent::ApiTokenUsedNewIp,
                Outcome::Success,
                Some(token.user_id),
                Some(ip),
            )
            .resource(token.id)
            .detail(
                "previous_ip",
                token
                    .last_used_ip
                    .clone()
                    .map_or(serde_json::Value::Null, serde_json::Value::from),
            )
            .record(&txn)
            .await?;
        }
        txn.commit().await?;
        return Ok(());
    }
    let stale_before = now - Duration::seconds(USE_RECORD_INTERVAL_SECS);
    if token.last_used_at.is_none_or(|at| at <= stale_before) {
        api_tokens::Entity::update_many()
            .col_expr(api_tokens::Column::LastUsedAt, Expr::value(now))
            .filter(api_tokens::Column::Id.eq(token.id))
            .filter(
                Condition::any()
                    .add(api_tokens::Column::LastUsedAt.is_null())
                    .add(api_tokens::Column::LastUsedAt.lte(stale_before)),
            )
            .exec(db)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_open_to_tokens_and_their_scopes() {
        use ApiScope::*;
        use TokenAccess::*;
        let cases: &[(&str, &str, Option<TokenAccess>)] = &[
            ("GET", "/api/auth/me", Some(AnyToken)),
            ("HEAD", "/api/auth/me", Some(AnyToken)),
            ("PATCH", "/api/auth/me", None),
            ("GET", "/api/auth/me/quota", Some(AnyToken)),
            ("GET", "/api/documents", Some(Scope(DocumentsRead))),
            ("POST", "/api/documents", Some(Scope(DocumentsWrite))),
            (
                "GET",
                "/api/documents/{id}/download",
                Some(Scope(DocumentsRead)),
            ),
            (
                "POST",
                "/api/documents/upload-url",
                Some(Scope(DocumentsWrite)),
            ),
            (
                "DELETE",
                "/api/documents/trash",
                Some(Scope(DocumentsWrite)),
            ),
            (
                "POST",
                "/api/documents/{id}/versions/{version_id}/make-current",
                Some(Scope(DocumentsWrite)),
            ),
            (
                "GET",
                "/api/documents/{id}/shares",
                Some(Scope(DocumentsRead)),
            ),
            ("DELETE", "/api/shares/{id}", Some(Scope(DocumentsWrite))),
            ("GET", "/api/shared-with-me", Some(Scope(DocumentsRead))),
            ("PATCH", "/api/folders/{id}", Some(Scope(DocumentsWrite))),
            ("GET", "/api/topics", Some(Scope(TopicsRead))),
            ("POST", "/api/topics", Some(Scope(TopicsWrite))),
            // Closed: sessions, secrets, the tokens themselves, admin, export, others.
            ("POST", "/api/auth/password", None),
            ("POST", "/api/auth/logout", None),
            ("POST", "/api/auth/logout-all", None),
            ("POST", "/api/auth/totp/setup", None),
            ("POST", "/api/auth/backup-codes", None),
            ("GET", "/api/auth/tokens", None),
            ("POST", "/api/auth/tokens", None),
            ("DELETE", "/api/auth/tokens/{id}", None),
            ("GET", "/api/admin/users", None),
            ("GET", "/api/admin/topics", None),
            ("GET", "/api/me/export", None),
            ("POST", "/api/me/export-url", None),
            ("GET", "/api/webhooks", None),
            ("GET", "/api/intake/mail", None),
            ("GET", "/api/ingest/status", None),
            // Prefixes end at a segment boundary.
            ("GET", "/api/documentsx", None),
            ("GET", "/api/topics-export", None),
        ];
        for (method, route, expected) in cases {
            assert_eq!(access_for(method, route), *expected, "{method} {route}");
        }
    }

    #[test]
    fn write_scopes_include_their_areas_read() {
        assert!(ApiScope::DocumentsWrite.grants(ApiScope::DocumentsRead));
        assert!(ApiScope::TopicsWrite.grants(ApiScope::TopicsRead));
        assert!(!ApiScope::DocumentsRead.grants(ApiScope::DocumentsWrite));
        assert!(!ApiScope::DocumentsWrite.grants(ApiScope::TopicsRead));
        assert!(!ApiScope::TopicsWrite.grants(ApiScope::DocumentsRead));
    }

    #[test]
    fn scopes_round_trip_through_storage_and_json() {
        let scopes = [ApiScope::TopicsWrite, ApiScope::DocumentsRead];
        assert_eq!(format_scopes(&scopes), "documents:read topics:write");
        assert_eq!(
            parse_scopes("documents:read topics:write bogus"),
            [ApiScope::DocumentsRead, ApiScope::TopicsWrite]
        );
        for scope in ApiScope::ALL {
            assert_eq!(
                serde_json::to_value(scope).ok(),
                Some(serde_json::Value::from(scope.as_str()))
            );
        }
    }

    #[test]
    fn create_requests_are_checked() {
        let ok = NewToken::parse(
            "  ci  ",
            &[ApiScope::DocumentsRead, ApiScope::DocumentsRead],
            Some(30),
        );
        let ok = ok.ok();
        assert_eq!(ok.as_ref().map(|n| n.name.as_str()), Some("ci"));
        assert_eq!(ok.map(|n| n.scopes), Some(vec![ApiScope::DocumentsRead]));
        assert!(NewToken::parse(" ", &[ApiScope::DocumentsRead], None).is_err());
        assert!(NewToken::parse(&"x".repeat(101), &[ApiScope::DocumentsRead], None).is_err());
        assert!(NewToken::parse("a\nb", &[ApiScope::DocumentsRead], None).is_err());
        assert!(NewToken::parse("ci", &[], None).is_err());
        assert!(NewToken::parse("ci", &[ApiScope::TopicsRead], Some(0)).is_err());
        assert!(NewToken::parse("ci", &[ApiScope::TopicsRead], Some(3651)).is_err());
        assert!(NewToken::parse("ci", &[ApiScope::TopicsRead], Some(3650)).is_ok());
    }
}
