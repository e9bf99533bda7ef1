//! Request extractors: who is calling. Handlers never parse headers themselves.
//!
//! - [`AuthSession`]: a valid access token of an active account (even one that must
//!   change its password) — for me / password / logout.
//! - [`AuthUser`]: the same, refused with 403 `password_change_required` while the
//!   password must be changed.
//! - [`RegularUser`] / [`AdminUser`]: an [`AuthUser`] of that role, else 403.
//!
//! Each also takes a personal API token (`Bearer dvpat_…`) on the routes open to tokens
//! (`auth::tokens::access_for`, checked here against the matched route template, so the
//! `regular_scope` guard applies it too); [`AuthSession::credential`] says which it was.

use std::future::{Ready, ready};
use std::net::IpAddr;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use sea_orm::EntityTrait;
use uuid::Uuid;

use crate::auth::sessions::{self, ClientInfo};
use crate::auth::tokens::{self, ApiScope};
use crate::domain::UserId;
use crate::entities::users::{self, Role};
use crate::error::ApiError;
use crate::state::AppState;

fn unauthorized() -> ApiError {
    ApiError::Unauthorized {
        code: crate::error::ErrorCode::Unauthorized,
        message: "A valid access token is required".into(),
    }
}

fn app_state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("AppState not registered")))
}

/// The client's IP (honouring `X-Forwarded-For` only from trusted proxies) and agent.
pub fn client_info(req: &HttpRequest, state: &AppState) -> ClientInfo {
    let peer: Option<IpAddr> = req.peer_addr().map(|a| a.ip());
    let forwarded = crate::security::client_ip::forwarded_for(req.headers());
    let addr = crate::security::client_ip::client_ip(
        peer,
        forwarded.as_deref(),
        &state.settings.auth.trusted_proxies,
    );
    let ip = addr.map_or_else(|| "unknown".into(), |ip| ip.to_string());
    let rate_key = addr.map_or_else(
        || "unknown".into(),
        crate::security::client_ip::rate_limit_bucket,
    );
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(256).collect());
    ClientInfo {
        ip,
        rate_key,
        user_agent,
    }
}

impl FromRequest for ClientInfo {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(app_state(req).map(|state| client_info(req, &state)))
    }
}

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// An access token (JWT) of a signed-in session.
    Session,
    /// A personal API token.
    ApiToken {
        /// The token's id.
        id: Uuid,
        /// Its scopes (the route's scope was checked already).
        scopes: Vec<ApiScope>,
    },
}

/// An authenticated account and its session.
#[derive(Debug, Clone)]
pub struct AuthSession {
    /// The account, freshly loaded.
    pub user: users::Model,
    /// The session (refresh family) of the access token; for an API token, the token's
    /// id (it has no session, and the operations about sessions refuse tokens).
    pub session_id: Uuid,
    /// Where the request came from.
    pub client: ClientInfo,
    /// A session or an API token.
    pub credential: Credential,
}

impl AuthSession {
    /// The signed-in account's id.
    pub fn id(&self) -> UserId {
        self.user.id.into()
    }

    /// 403 `token_not_allowed` unless the caller signed in (not an API token): for the
    /// operations that manage credentials, whatever the route table says.
    pub fn require_session(&self) -> Result<(), ApiError> {
        match self.credential {
            Credential::Session => Ok(()),
            Credential::ApiToken { .. } => Err(crate::auth::tokens::not_allowed()),
        }
    }
}

async fn authenticate(
    state: web::Data<AppState>,
    bearer: Option<String>,
    client: ClientInfo,
) -> Result<AuthSession, ApiError> {
    let token = bearer.ok_or_else(unauthorized)?;
    let claims = state.tokens.verify(&token).ok_or_else(unauthorized)?;
    let user = users::Entity::find_by_id(claims.sub)
        .one(&state.db)
        .await?
        .ok_or_else(unauthorized)?;
    if !user.is_active || claims.iat_us < user.tokens_valid_after.timestamp_micros() {
        return Err(unauthorized());
    }
    if sessions::is_revoked(&state.db, claims.sid).await? {
        return Err(unauthorized());
    }
    Ok(AuthSession {
        user,
        session_id: claims.sid,
        client,
        credential: Credential::Session,
    })
}

/// Authenticates a personal API token for `method` on the matched route template.
async fn authenticate_api_token(
    state: web::Data<AppState>,
    token: &str,
    client: ClientInfo,
    method: &str,
    route: Option<&str>,
) -> Result<AuthSession, ApiError> {
    let caller =
        tokens::authenticate(&state.db, &state.keys, token, &client, method, route).await?;
    Ok(AuthSession {
        user: caller.user,
        session_id: caller.token_id,
        client,
        credential: Credential::ApiToken {
            id: caller.token_id,
            scopes: caller.scopes,
        },
    })
}

impl FromRequest for AuthSession {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Already authenticated by the `regular_only` middleware for this request.
        if let Some(session) = req.extensions().get::<AuthSession>().cloned() {
            return Box::pin(async move { Ok(session) });
        }
        let state = app_state(req);
        let bearer = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(|t| t.trim().to_owned());
        let client = state.as_ref().map(|s| client_info(req, s)).ok();
        if let Some(token) = bearer
            .as_ref()
            .filter(|t| t.starts_with(tokens::TOKEN_PREFIX))
            .cloned()
        {
            // The route the request will reach, from the resource map (known before
            // routing, so the `regular_scope` guard sees it too).
            let route = req.match_pattern();
            let method = req.method().as_str().to_owned();
            return Box::pin(async move {
                authenticate_api_token(
                    state?,
                    &token,
                    client.unwrap_or_default(),
                    &method,
                    route.as_deref(),
                )
                .await
            });
        }
        Box::pin(async move { authenticate(state?, bearer, client.unwrap_or_default()).await })
    }
}

/// An authenticated account that has no pending forced password change.
#[derive(Debug, Clone)]
pub struct AuthUser(pub AuthSession);

impl AuthUser {
    /// The signed-in account's id.
    pub fn id(&self) -> UserId {
        self.0.id()
    }
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let session = AuthSession::from_request(req, payload);
        Box::pin(async move {
            let session = session.await?;
            if session.user.password_must_change {
                return Err(ApiError::Forbidden {
                    code: crate::error::ErrorCode::PasswordChangeRequired,
                    message: "Change your password before continuing (POST /api/auth/password)"
                        .into(),
                });
            }
            Ok(AuthUser(session))
        })
    }
}

fn require_role(user: AuthUser, wanted: Role) -> Result<AuthUser, ApiError> {
    if user.0.user.role == wanted {
        Ok(user)
    } else if wanted == Role::Admin {
        Err(ApiError::Forbidden {
            code: crate::error::ErrorCode::AdminRequired,
            message: "This action needs an administrator account".into(),
        })
    } else {
        Err(ApiError::Forbidden {
            code: crate::error::ErrorCode::AdminNotAllowed,
            message: "Administrator accounts cannot access documents".into(),
        })
    }
}

/// An authenticated regular (non-admin) account: the only kind that owns documents.
#[derive(Debug, Clone)]
pub struct RegularUser(pub AuthSession);

impl RegularUser {
    /// The signed-in account's id.
    pub fn id(&self) -> UserId {
        self.0.id()
    }
}

impl FromRequest for RegularUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let user = AuthUser::from_request(req, payload);
        Box::pin(async move { require_role(user.await?, Role::User).map(|u| RegularUser(u.0)) })
    }
}

/// An authenticated administrator.
#[derive(Debug, Clone)]
pub struct AdminUser(pub AuthSession);

impl AdminUser {
    /// The signed-in account's id.
    pub fn id(&self) -> UserId {
        self.0.id()
    }
}

impl FromRequest for AdminUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let user = AuthUser::from_request(req, payload);
        Box::pin(async move { require_role(user.await?, Role::Admin).map(|u| AdminUser(u.0)) })
    }
}

/// Guards the scope of a feature only regular accounts use (documents, folders, shares,
/// topics): the caller is authenticated before anything else is read, so an admin always
/// gets 403 (never a 4xx about the body) and a caller without a token always 401. The
/// session is left in the request for the handler's extractor, so the account is loaded
/// once. A path no API route matches passes untouched, to the JSON 404.
pub async fn regular_only(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let known = req
        .app_data::<web::Data<crate::http::RouteTable>>()
        .is_some_and(|routes| routes.allowed(req.path()).is_some());
    if !known {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let (http_req, payload) = req.into_parts();
    let checked = RegularUser::from_request(&http_req, &mut Payload::None).await;
    let req = actix_web::dev::ServiceRequest::from_parts(http_req, payload);
    match checked {
        Ok(user) => {
            req.extensions_mut().insert(user.0);
            Ok(next.call(req).await?.map_into_boxed_body())
        }
        Err(e) => Ok(req.error_response(e).map_into_boxed_body()),
    }
}

/// The scope `path` of a feature's regular-account routes: guarded by [`regular_only`],
/// with the API's JSON 404/405 for paths and methods none of its routes take.
pub fn regular_scope(
    path: &str,
) -> utoipa_actix_web::scope::Scope<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    utoipa_actix_web::scope::scope(path)
        .wrap(actix_web::middleware::from_fn(regular_only))
        .default_service(web::to(crate::http::api_fallback))
}
