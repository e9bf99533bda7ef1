//! `/api/auth/tokens`: the caller's personal API tokens (create, list, revoke). Only a
//! signed-in session may call them; an API token gets 403 `token_not_allowed`.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::extract::AuthUser;
use crate::auth::tokens::{self, ApiScope, NewToken};
use crate::entities::api_tokens;
use crate::error::{ApiError, ErrorBody};
use crate::http::ApiJson;
use crate::state::AppState;

/// A new token's name, scopes and lifetime.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiTokenRequest {
    /// A label to recognise it by (1–100 characters).
    #[schema(min_length = 1, max_length = 100, example = "nightly backup script")]
    pub name: String,
    /// What it may do (at least one).
    #[schema(min_items = 1)]
    pub scopes: Vec<ApiScope>,
    /// Days until it expires (1–3650); absent or null: it never expires.
    #[serde(default, deserialize_with = "crate::serde_util::opt_whole_i64")]
    #[schema(minimum = 1, maximum = 3650, nullable = false)]
    pub expires_in_days: Option<i64>,
}

/// A personal API token as its owner sees it (never the token itself).
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiToken {
    /// Token id.
    pub id: Uuid,
    /// Its label.
    pub name: String,
    /// What it may do.
    pub scopes: Vec<ApiScope>,
    /// The token's first 12 characters, to recognise it.
    #[schema(example = "dvpat_ab12cd")]
    pub prefix: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it stops working; null: never.
    #[schema(required = true)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Last use (recorded at most once a minute, and at every new IP); null: never used.
    #[schema(required = true)]
    pub last_used_at: Option<DateTime<Utc>>,
    /// The IP of the last use; null: never used.
    #[schema(required = true)]
    pub last_used_ip: Option<String>,
}

impl From<api_tokens::Model> for ApiToken {
    fn from(t: api_tokens::Model) -> Self {
        Self {
            id: t.id,
            name: t.name,
            scopes: tokens::parse_scopes(&t.scopes),
            prefix: t.prefix,
            created_at: t.created_at,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
            last_used_ip: t.last_used_ip,
        }
    }
}

/// A token just created: the token itself, shown this once, and its details.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiTokenCreated {
    /// The token, `dvpat_…`; send it as `Authorization: Bearer <token>`. Only shown now.
    #[schema(example = "dvpat_ab12cdEF34ghIJ56klMN78opQR90stUV12wxYZ34abc")]
    pub token: String,
    /// Its details, as listed.
    pub info: ApiToken,
}

/// The caller's tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiTokenList {
    /// Newest first.
    pub tokens: Vec<ApiToken>,
}

/// Creates a personal API token; the token is in the answer only, once.
///
/// A token acts for its owner on the operations that list the `api_token` security
/// scheme, within its scopes; it ends when revoked, when it expires, and when the
/// account is disabled, signs out everywhere or changes its password.
#[utoipa::path(
    operation_id = "createApiToken",
    tag = "auth",
    security(("bearer" = [])),
    request_body = CreateApiTokenRequest,
    responses(
        (status = 201, description = "Created; the token is shown only now", body = ApiTokenCreated),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Password change required first, or called with an API token", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid name, scopes or lifetime, or the account holds 100 tokens already", body = ErrorBody),
    )
)]
#[post("/auth/tokens")]
pub async fn create_api_token(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ApiJson<CreateApiTokenRequest>,
) -> Result<HttpResponse, ApiError> {
    user.0.require_session()?;
    let new = NewToken::parse(&body.name, &body.scopes, body.expires_in_days)?;
    let (token, row) =
        tokens::create(&state.db, &state.keys, &user.0.user, &user.0.client, new).await?;
    Ok(HttpResponse::Created().json(ApiTokenCreated {
        token,
        info: ApiToken::from(row),
    }))
}

/// Lists the caller's personal API tokens (never the tokens themselves).
#[utoipa::path(
    operation_id = "listApiTokens",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The tokens, newest first", body = ApiTokenList),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Password change required first, or called with an API token", body = ErrorBody),
    )
)]
#[get("/auth/tokens")]
pub async fn list_api_tokens(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<web::Json<ApiTokenList>, ApiError> {
    user.0.require_session()?;
    let rows = tokens::list(&state.db, user.0.user.id).await?;
    Ok(web::Json(ApiTokenList {
        tokens: rows.into_iter().map(ApiToken::from).collect(),
    }))
}

/// Revokes one of the caller's personal API tokens; it stops working at once.
#[utoipa::path(
    operation_id = "revokeApiToken",
    tag = "auth",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Token id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Password change required first, or called with an API token", body = ErrorBody),
        (status = 404, description = "No such token of yours", body = ErrorBody),
    )
)]
#[delete("/auth/tokens/{id}")]
pub async fn revoke_api_token(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    user.0.require_session()?;
    tokens::revoke(&state.db, user.0.user.id, id.into_inner(), &user.0.client).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers the `/auth/tokens` routes (inside the `/api` scope).
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_api_token)
        .service(list_api_tokens)
        .service(revoke_api_token);
}
