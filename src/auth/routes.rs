//! `/api/auth/*`: registration, login, sessions, profile, password, TOTP, quota.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use sea_orm::EntityTrait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::extract::{AuthSession, AuthUser};
use crate::auth::limits::{self, Limit};
use crate::auth::service::{self, LoginOutcome, ProfileChanges, SecondFactor};
use crate::auth::sessions::{self, ClientInfo, IssuedTokens};
use crate::entities::SearchLanguage;
use crate::entities::users::Role;
use crate::entities::{quotas, users};
use crate::error::{ApiError, ErrorBody};
use crate::http::ApiJson;
use crate::state::AppState;

/// Name of the HttpOnly refresh cookie used by the web UI.
pub const REFRESH_COOKIE: &str = "docuvault_refresh";
/// Path the refresh cookie is scoped to.
const COOKIE_PATH: &str = "/api/auth";
/// A readable marker that lives exactly as long as the refresh cookie (set, rotated and
/// cleared with it) and holds no secret: the web UI tries a silent refresh on page load
/// only when it is present, so a signed-out page load sends no refresh to be refused.
pub const SESSION_MARKER_COOKIE: &str = "docuvault_session";

/// How the client wants to receive the refresh token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SessionDelivery {
    /// In the JSON body (API clients).
    #[default]
    Body,
    /// In an `HttpOnly; Secure; SameSite=Strict` cookie scoped to `/api/auth` (web UI);
    /// the body then carries no refresh token. A readable `docuvault_session=1` cookie
    /// (path `/`, no secret) is set and cleared with it.
    Cookie,
}

/// An account as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// Account id.
    pub id: Uuid,
    /// Public handle.
    pub handle: String,
    /// E-mail address.
    pub email: String,
    /// `user` or `admin`.
    pub role: Role,
    /// Whether the account may sign in.
    pub is_active: bool,
    /// Whether TOTP two-factor authentication is on.
    pub totp_enabled: bool,
    /// Whether the password must be changed before anything else.
    pub password_must_change: bool,
    /// Preferred classifier provider (`builtin`, `ollama`, `openai`, `anthropic`).
    #[schema(required = true)]
    pub ai_provider: Option<String>,
    /// Preferred classifier model.
    #[schema(required = true)]
    pub ai_model: Option<String>,
    /// Whether the account has its own AI provider API key (the key itself is never shown).
    pub ai_api_key_set: bool,
    /// Whether a model-based classifier may propose new topics for this account.
    pub ai_allow_new_topics: bool,
    /// Tesseract languages for this account's scans (`deu+eng`); null = the server default.
    #[schema(required = true, example = "deu+eng")]
    pub ocr_languages: Option<String>,
    /// Whether scan pages Tesseract reads poorly go to this account's own AI provider
    /// (`ai_provider`, never `builtin`; never for `ai_opt_out` documents). Off by default.
    pub ocr_ai_fallback: bool,
    /// How searches match words: `simple` (words as written), `english` or `german`
    /// (also other forms of a word, ranked below the word as written). New accounts get
    /// the server's default (setting `search.default_language`).
    pub search_language: SearchLanguage,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
}

impl From<&users::Model> for UserView {
    fn from(u: &users::Model) -> Self {
        Self {
            id: u.id,
            handle: u.handle.clone(),
            email: u.email.clone(),
            role: u.role,
            is_active: u.is_active,
            totp_enabled: u.totp_enabled,
            password_must_change: u.password_must_change,
            ai_provider: u.ai_provider.clone(),
            ai_model: u.ai_model.clone(),
            ai_api_key_set: u.ai_api_key_enc.is_some(),
            ai_allow_new_topics: u.ai_allow_new_topics,
            ocr_languages: u.ocr_languages.clone(),
            ocr_ai_fallback: u.ocr_ai_fallback,
            search_language: u.search_language,
            created_at: u.created_at,
        }
    }
}

/// Tokens after sign-in, registration or refresh.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// Bearer access token (JWT, short-lived).
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Opaque refresh token; absent when it was set as a cookie.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub refresh_token: Option<String>,
    /// The signed-in account.
    pub user: UserView,
}

/// Answer to a login: either tokens, or `requires_totp: true` asking for a second factor.
/// Its OpenAPI schema is [`LoginAnswer`], which types the two shapes apart.
#[derive(Debug, Serialize)]
pub struct LoginResponse {
    /// True when the password was right and a TOTP or backup code is needed.
    pub requires_totp: bool,
    /// Bearer access token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// `Bearer`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// Seconds until the access token expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<i64>,
    /// Opaque refresh token (body delivery only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The signed-in account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<UserView>,
}

/// Answer to a login: tokens (`requires_totp: false`) or a request for a second factor
/// (`requires_totp: true`); `requires_totp` tells the two shapes apart.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
#[schema(as = LoginResponse)]
pub enum LoginAnswer {
    /// Signed in.
    SignedIn(Box<LoginTokens>),
    /// The password was right; send it again with `totp_code` or `backup_code`.
    SecondFactorRequired(LoginSecondFactorRequired),
}

/// A login that signed in: the tokens and the account.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginTokens {
    /// Always `false` here.
    #[schema(schema_with = always_false)]
    pub requires_totp: bool,
    /// Bearer access token (JWT, short-lived).
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Opaque refresh token; absent when it was set as a cookie (`session: cookie`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub refresh_token: Option<String>,
    /// The signed-in account.
    pub user: UserView,
}

/// A login whose password was right but that needs a TOTP or backup code; nothing else
/// is sent.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginSecondFactorRequired {
    /// Always `true` here.
    #[schema(schema_with = always_true)]
    pub requires_totp: bool,
}

/// `requires_totp` of a signed-in login: the single value `false`.
fn always_false() -> utoipa::openapi::Object {
    single_boolean(false)
}

/// `requires_totp` of a login waiting for a second factor: the single value `true`.
fn always_true() -> utoipa::openapi::Object {
    single_boolean(true)
}

fn single_boolean(value: bool) -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Boolean)
        .enum_values(Some([value]))
        .build()
}

/// A new access token for the current session.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessTokenResponse {
    /// Bearer access token.
    pub access_token: String,
    /// `Bearer`.
    pub token_type: String,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// The account after the change.
    pub user: UserView,
}

/// `POST /api/auth/register` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// 3–32 characters of a-z, 0-9, `_ . -` (stored lower-case).
    #[schema(example = "alice", pattern = r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,31}$")]
    pub handle: String,
    /// E-mail address.
    #[schema(example = "alice@example.com", format = "email", max_length = 254)]
    pub email: String,
    /// 8–1024 characters.
    #[schema(
        example = "correct horse battery staple",
        min_length = 8,
        max_length = 1024
    )]
    pub password: String,
    /// Where to put the refresh token.
    #[serde(default)]
    pub session: SessionDelivery,
}

/// Classifier providers a user may choose.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AiProvider {
    /// Offline, built in.
    Builtin,
    /// An Ollama server.
    Ollama,
    /// Any OpenAI-compatible endpoint.
    Openai,
    /// Anthropic's Messages API.
    Anthropic,
}

/// `POST /api/auth/login` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// E-mail or handle.
    #[schema(example = "alice@example.com")]
    pub login: String,
    /// Password.
    pub password: String,
    /// Current 6-digit TOTP code, when two-factor authentication is on.
    #[serde(default)]
    pub totp_code: Option<String>,
    /// A single-use backup code instead of the TOTP code.
    #[serde(default)]
    pub backup_code: Option<String>,
    /// Where to put the refresh token.
    #[serde(default)]
    pub session: SessionDelivery,
}

/// `POST /api/auth/refresh` body; may be omitted when the refresh cookie is sent.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token (body delivery).
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// `PATCH /api/auth/me` body; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMeRequest {
    /// New handle; absent or null = unchanged.
    #[serde(default)]
    #[schema(pattern = r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,31}$")]
    pub handle: Option<String>,
    /// Classifier provider: `builtin`, `ollama`, `openai` or `anthropic`; null = use the server default; absent =
    /// unchanged.
    #[serde(default, deserialize_with = "crate::serde_util::double_option")]
    #[schema(value_type = Option<AiProvider>)]
    pub ai_provider: Option<Option<String>>,
    /// Classifier model; null = use the provider default; absent = unchanged.
    #[serde(default, deserialize_with = "crate::serde_util::double_option")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 200, pattern = r"^[^\x00-\x1f\x7f]+$")]
    pub ai_model: Option<Option<String>>,
    /// Your own API key for the chosen provider (overrides the server's); write-only:
    /// stored encrypted, never returned (see `ai_api_key_set`). null = remove it; absent = unchanged.
    #[serde(default, deserialize_with = "crate::serde_util::double_option")]
    #[schema(value_type = Option<String>, write_only, min_length = 1, max_length = 1000, pattern = r"^[^\x00-\x1f\x7f]+$")]
    pub ai_api_key: Option<Option<String>>,
    /// Let a model-based classifier propose a new topic when none of yours fits
    /// (capped per document); off by default. Absent or null = unchanged.
    #[serde(default)]
    pub ai_allow_new_topics: Option<bool>,
    /// Languages your scans are read in, among the installed ones (`GET /api/auth/config`
    /// `ocr_languages`), `+`-joined for mixed documents (`deu+eng`); null = the server
    /// default; absent = unchanged.
    #[serde(default, deserialize_with = "crate::serde_util::double_option")]
    #[schema(value_type = Option<String>, max_length = 200, pattern = r"^[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)*$", example = "deu+eng")]
    pub ocr_languages: Option<Option<String>>,
    /// Let your own AI provider read the scan pages Tesseract reads poorly (below the
    /// server's confidence threshold, a few pages per document, never documents marked
    /// `ai_opt_out`); off by default. Turning it on needs a model provider: refused
    /// (422) while your provider (or the server default you use) is `builtin`; if you
    /// later switch to `builtin` it stays set but does nothing. Absent or null = unchanged.
    #[serde(default)]
    pub ocr_ai_fallback: Option<bool>,
    /// How your searches match words: `simple`, `english` or `german` (another value:
    /// 422 `validation_failed`). Your documents are stemmed again in the background;
    /// until each is, it matches the new language's searches exactly only. Absent or
    /// null = unchanged.
    #[serde(default)]
    #[schema(value_type = Option<SearchLanguage>)]
    pub search_language: Option<String>,
}

/// `POST /api/auth/password` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    /// The current password.
    pub current_password: String,
    /// The new password, 8–1024 characters.
    #[schema(min_length = 8, max_length = 1024)]
    pub new_password: String,
}

/// TOTP enrolment details, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotpSetupResponse {
    /// Base32 secret for manual entry.
    pub secret: String,
    /// `otpauth://` URI for authenticator apps.
    pub otpauth_uri: String,
    /// QR code of the URI, as an SVG document.
    pub qr_svg: String,
}

/// `POST /api/auth/totp/enable` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpEnableRequest {
    /// Current code from the authenticator app.
    #[schema(example = "123456")]
    pub code: String,
}

/// `POST /api/auth/totp/disable` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpDisableRequest {
    /// The account password.
    pub password: String,
    /// A current TOTP code or an unused backup code.
    pub code: String,
}

/// `POST /api/auth/backup-codes` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupCodesRequest {
    /// The account password.
    pub password: String,
}

/// Ten single-use backup codes, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct BackupCodesResponse {
    /// The codes; store them somewhere safe.
    pub backup_codes: Vec<String>,
}

/// Storage use of the account.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaView {
    /// Bytes charged.
    pub used_bytes: i64,
    /// Bytes allowed.
    pub limit_bytes: i64,
    /// Bytes reserved by unconfirmed uploads (their declared sizes); a new upload fits
    /// when `used + reserved + size <= limit`.
    pub reserved_bytes: i64,
}

/// The refresh cookie and its readable marker, both living `max_age_secs` (0 clears them).
fn session_cookies(refresh_token: String, max_age_secs: i64) -> [Cookie<'static>; 2] {
    let max_age = CookieDuration::seconds(max_age_secs.max(0));
    let marker = if max_age_secs > 0 { "1" } else { "" };
    [
        Cookie::build(REFRESH_COOKIE, refresh_token)
            .path(COOKIE_PATH)
            .http_only(true)
            .secure(true)
            .same_site(SameSite::Strict)
            .max_age(max_age)
            .finish(),
        Cookie::build(SESSION_MARKER_COOKIE, marker)
            .path("/")
            .secure(true)
            .same_site(SameSite::Strict)
            .max_age(max_age)
            .finish(),
    ]
}

/// Sets (or, with `max_age_secs` 0, clears) the session cookies on a response.
fn set_session_cookies(
    res: &mut actix_web::HttpResponseBuilder,
    refresh_token: String,
    max_age_secs: i64,
) {
    for cookie in session_cookies(refresh_token, max_age_secs) {
        res.cookie(cookie);
    }
}

/// Clears both session cookies.
fn clear_session_cookies(res: &mut actix_web::HttpResponseBuilder) {
    set_session_cookies(res, String::new(), 0);
}

/// Builds the token response, putting the refresh token where the client asked.
fn token_response(
    status: actix_web::http::StatusCode,
    user: &users::Model,
    tokens: IssuedTokens,
    delivery: SessionDelivery,
) -> HttpResponse {
    let mut res = HttpResponse::build(status);
    let refresh_token = match delivery {
        SessionDelivery::Body => Some(tokens.refresh_token),
        SessionDelivery::Cookie => {
            let remaining = (tokens.session_expires_at - Utc::now()).num_seconds();
            set_session_cookies(&mut res, tokens.refresh_token, remaining);
            None
        }
    };
    res.json(TokenResponse {
        access_token: tokens.access_token,
        token_type: "Bearer".into(),
        expires_in: tokens.expires_in,
        refresh_token,
        user: UserView::from(user),
    })
}

/// Creates an account and signs it in.
#[utoipa::path(
    operation_id = "register",
    security(),
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Account created and signed in", body = TokenResponse),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 403, description = "Registration is disabled", body = ErrorBody),
        (status = 409, description = "Handle or email already registered", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid handle, email or password", body = ErrorBody),
        (status = 429, description = "Too many attempts; see Retry-After", body = ErrorBody),
        (status = 503, description = "Server busy", body = ErrorBody),
    )
)]
#[post("/auth/register")]
pub async fn register(
    state: web::Data<AppState>,
    client: ClientInfo,
    body: ApiJson<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let (user, tokens) =
        service::register(&state, &body.handle, &body.email, &body.password, &client).await?;
    Ok(token_response(
        actix_web::http::StatusCode::CREATED,
        &user,
        tokens,
        body.session,
    ))
}

/// Signs in with email/handle and password (plus a TOTP or backup code when 2FA is on).
#[utoipa::path(
    operation_id = "login",
    security(),
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in, or `requires_totp: true` when a second factor is needed", body = LoginAnswer),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Wrong credentials or second factor", body = ErrorBody),
        (status = 403, description = "Account disabled", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid body", body = ErrorBody),
        (status = 429, description = "Too many attempts; see Retry-After", body = ErrorBody),
        (status = 503, description = "Server busy", body = ErrorBody),
    )
)]
#[post("/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    client: ClientInfo,
    body: ApiJson<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let second = SecondFactor {
        totp_code: body.totp_code,
        backup_code: body.backup_code,
    };
    match service::login(&state, &body.login, &body.password, &second, &client).await? {
        LoginOutcome::SecondFactorRequired => Ok(HttpResponse::Ok().json(LoginResponse {
            requires_totp: true,
            access_token: None,
            token_type: None,
            expires_in: None,
            refresh_token: None,
            user: None,
        })),
        LoginOutcome::SignedIn(user, tokens) => {
            let mut res = HttpResponse::Ok();
            let refresh_token = match body.session {
                SessionDelivery::Body => Some(tokens.refresh_token),
                SessionDelivery::Cookie => {
                    let remaining = (tokens.session_expires_at - Utc::now()).num_seconds();
                    set_session_cookies(&mut res, tokens.refresh_token, remaining);
                    None
                }
            };
            Ok(res.json(LoginResponse {
                requires_totp: false,
                access_token: Some(tokens.access_token),
                token_type: Some("Bearer".into()),
                expires_in: Some(tokens.expires_in),
                refresh_token,
                user: Some(UserView::from(user.as_ref())),
            }))
        }
    }
}

/// Exchanges a refresh token (body or cookie) for a new access token and a rotated
/// refresh token, delivered the same way it came.
#[utoipa::path(
    operation_id = "refreshSession",
    security(),
    tag = "auth",
    request_body(content = Option<RefreshRequest>, description = "Omit when using the refresh cookie"),
    responses(
        (status = 200, description = "New tokens", body = TokenResponse),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Invalid, expired or reused refresh token", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid body", body = ErrorBody),
        (status = 429, description = "Too many attempts; see Retry-After", body = ErrorBody),
    )
)]
#[post("/auth/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    client: ClientInfo,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    limits::check(&state, Limit::RefreshPerIp, &client.rate_key, &client).await?;
    let from_body = parse_optional_json::<RefreshRequest>(&req, &body)?
        .and_then(|b| b.refresh_token)
        .filter(|t| !t.is_empty());
    let (presented, delivery) = match from_body {
        Some(token) => (token, SessionDelivery::Body),
        None => match req.cookie(REFRESH_COOKIE).map(|c| c.value().to_owned()) {
            Some(token) if !token.is_empty() => (token, SessionDelivery::Cookie),
            _ => {
                // A marker left without its refresh cookie goes too.
                return Ok(without_session_cookies(&ApiError::Unauthorized {
                    code: crate::error::ErrorCode::InvalidRefreshToken,
                    message: "No refresh token was sent".into(),
                }));
            }
        },
    };
    match sessions::refresh(&state, &presented, &client).await {
        Ok((user, tokens)) => Ok(token_response(
            actix_web::http::StatusCode::OK,
            &user,
            tokens,
            delivery,
        )),
        Err(e) if delivery == SessionDelivery::Cookie => Ok(without_session_cookies(&e)),
        Err(e) => Err(e),
    }
}

/// The error's response, clearing both session cookies.
fn without_session_cookies(e: &ApiError) -> HttpResponse {
    let mut res = actix_web::ResponseError::error_response(e);
    for cookie in session_cookies(String::new(), 0) {
        let _ = res.add_cookie(&cookie);
    }
    res
}

/// Parses an optional JSON body: empty → `None`; otherwise it must be valid JSON.
fn parse_optional_json<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    body: &[u8],
) -> Result<Option<T>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) || body.trim_ascii() == b"null" {
        return Ok(None);
    }
    let json = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if !json {
        return Err(ApiError::UnsupportedMediaType(
            "Expected Content-Type: application/json".into(),
        ));
    }
    serde_json::from_slice(body).map(Some).map_err(|e| {
        if e.is_data() {
            ApiError::Unprocessable {
                code: crate::error::ErrorCode::ValidationFailed,
                message: format!("Invalid request body: {e}"),
            }
        } else {
            ApiError::BadRequest {
                code: crate::error::ErrorCode::MalformedJson,
                message: format!("Malformed JSON: {e}"),
            }
        }
    })
}

/// Ends the current session and clears the refresh cookie.
#[utoipa::path(
    operation_id = "logout",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "Not signed in", body = ErrorBody),
    )
)]
#[post("/auth/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    session: AuthSession,
) -> Result<HttpResponse, ApiError> {
    session.require_session()?;
    service::logout(&state.db, &session).await?;
    let mut res = HttpResponse::NoContent();
    clear_session_cookies(&mut res);
    Ok(res.finish())
}

/// Ends every session of the account; all access tokens stop working at once.
#[utoipa::path(
    operation_id = "logoutAll",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "All sessions signed out"),
        (status = 401, description = "Not signed in", body = ErrorBody),
    )
)]
#[post("/auth/logout-all")]
pub async fn logout_all(
    state: web::Data<AppState>,
    session: AuthSession,
) -> Result<HttpResponse, ApiError> {
    session.require_session()?;
    service::logout_all(&state.db, &session).await?;
    let mut res = HttpResponse::NoContent();
    clear_session_cookies(&mut res);
    Ok(res.finish())
}

/// The signed-in account.
#[utoipa::path(
    operation_id = "getMe",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account", body = UserView),
        (status = 401, description = "Not signed in", body = ErrorBody),
    )
)]
#[get("/auth/me")]
pub async fn me(session: AuthSession) -> web::Json<UserView> {
    web::Json(UserView::from(&session.user))
}

/// Updates the handle, classifier, OCR and search preferences.
///
/// Classifier preferences: provider, model, an own API key (write-only, stored
/// encrypted) and whether new topics may be proposed. A new `search_language` stems the
/// account's documents again in the background.
#[utoipa::path(
    operation_id = "updateMe",
    tag = "auth",
    security(("bearer" = [])),
    request_body = UpdateMeRequest,
    responses(
        (status = 200, description = "Updated account", body = UserView),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Password change required first", body = ErrorBody),
        (status = 409, description = "Handle taken", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid values", body = ErrorBody),
    )
)]
#[patch("/auth/me")]
pub async fn update_me(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ApiJson<UpdateMeRequest>,
) -> Result<web::Json<UserView>, ApiError> {
    user.0.require_session()?;
    let body = body.0;
    let changes = ProfileChanges::parse(
        body.handle.as_deref(),
        body.ai_provider,
        body.ai_model,
        body.ai_api_key,
        body.ai_allow_new_topics,
    )?;
    let changes = service::ProfileChanges {
        ocr_languages: body
            .ocr_languages
            .map(|languages| {
                languages
                    .map(|l| {
                        crate::settings::OcrLanguages::parse(&l)
                            .and_then(|l| state.ocr.check_choice(&l).map(|()| l))
                            .map_err(|e| ApiError::Unprocessable {
                                code: crate::error::ErrorCode::ValidationFailed,
                                message: format!("ocr_languages: {e}"),
                            })
                    })
                    .transpose()
            })
            .transpose()?,
        ocr_ai_fallback: body.ocr_ai_fallback,
        search_language: body
            .search_language
            .as_deref()
            .map(parse_search_language)
            .transpose()?,
        ..changes
    };
    changes.check_ocr_ai_fallback(&user.0.user, &state.settings.ai.default_provider)?;
    let updated = service::update_profile(&state.db, &state.keys, &user.0.user, changes).await?;
    if updated.search_language != user.0.user.search_language {
        crate::documents::search::restem::spawn_account(state.db.clone(), user.id());
    }
    Ok(web::Json(UserView::from(&updated)))
}

/// A search language as written in a request (422 for anything else).
fn parse_search_language(raw: &str) -> Result<SearchLanguage, ApiError> {
    raw.parse().map_err(|_| ApiError::Unprocessable {
        code: crate::error::ErrorCode::ValidationFailed,
        message: format!(
            "search_language must be one of {} (got {raw:?})",
            <SearchLanguage as sea_orm::Iterable>::iter()
                .map(SearchLanguage::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })
}

/// Changes the password; other sessions and older access tokens stop working, and
/// this session gets a new access token.
#[utoipa::path(
    operation_id = "changePassword",
    tag = "auth",
    security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 200, description = "Password changed", body = AccessTokenResponse),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Current password wrong", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "New password invalid", body = ErrorBody),
        (status = 429, description = "Too many attempts; see Retry-After", body = ErrorBody),
        (status = 503, description = "Server busy", body = ErrorBody),
    )
)]
#[post("/auth/password")]
pub async fn change_password(
    state: web::Data<AppState>,
    session: AuthSession,
    body: ApiJson<ChangePasswordRequest>,
) -> Result<web::Json<AccessTokenResponse>, ApiError> {
    session.require_session()?;
    let (user, access_token, expires_in) =
        service::change_password(&state, &session, &body.current_password, &body.new_password)
            .await?;
    Ok(web::Json(AccessTokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in,
        user: UserView::from(&user),
    }))
}

/// Starts TOTP enrolment: secret, otpauth URI and QR code (SVG), shown once.
#[utoipa::path(
    operation_id = "setupTotp",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Enrolment details", body = TotpSetupResponse),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Password change required first", body = ErrorBody),
        (status = 409, description = "Already enabled", body = ErrorBody),
    )
)]
#[post("/auth/totp/setup")]
pub async fn totp_setup(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<web::Json<TotpSetupResponse>, ApiError> {
    user.0.require_session()?;
    let e = service::totp_setup(&state, &user.0).await?;
    Ok(web::Json(TotpSetupResponse {
        secret: e.secret,
        otpauth_uri: e.otpauth_uri,
        qr_svg: e.qr_svg,
    }))
}

/// Turns TOTP on with a current code; returns 10 single-use backup codes, once.
#[utoipa::path(
    operation_id = "enableTotp",
    tag = "auth",
    security(("bearer" = [])),
    request_body = TotpEnableRequest,
    responses(
        (status = 200, description = "Enabled; backup codes shown once", body = BackupCodesResponse),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Password change required first", body = ErrorBody),
        (status = 409, description = "Already enabled or not set up", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Wrong code", body = ErrorBody),
        (status = 429, description = "Too many attempts; see Retry-After", body = ErrorBody),
    )
)]
#[post("/auth/totp/enable")]
pub async fn totp_enable(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ApiJson<TotpEnableRequest>,
) -> Result<web::Json<BackupCodesResponse>, ApiError> {
    user.0.require_session()?;
    let backup_codes = service::totp_enable(&state, &user.0, &body.code).await?;
    Ok(web::Json(BackupCodesResponse { backup_codes }))
}

/// Turns TOTP off (password plus a TOTP or backup code); other sessions are signed out
/// and this one gets a new access token.
#[utoipa::path(
    operation_id = "disableTotp",
    tag = "auth",
    security(("bearer" = [])),
    request_body = TotpDisableRequest,
    responses(
        (status = 200, description = "Disabled", body = AccessTokenResponse),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Not signed in, or wrong code", body = ErrorBody),
        (status = 403, description = "Wrong password or password change required", body = ErrorBody),
        (status = 409, description = "Not enabled", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid body", body = ErrorBody),
        (status = 429, description = "Too many attempts; see Retry-After", body = ErrorBody),
        (status = 503, description = "Server busy", body = ErrorBody),
    )
)]
#[post("/auth/totp/disable")]
pub async fn totp_disable(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ApiJson<TotpDisableRequest>,
) -> Result<web::Json<AccessTokenResponse>, ApiError> {
    user.0.require_session()?;
    let code = body.code.trim();
    let second = if code.len() == 6 || code.replace(' ', "").len() == 6 {
        SecondFactor {
            totp_code: Some(code.to_owned()),
            backup_code: None,
        }
    } else {
        SecondFactor {
            totp_code: None,
            backup_code: Some(code.to_owned()),
        }
    };
    let (access_token, expires_in) =
        service::totp_disable(&state, &user.0, &body.password, &second).await?;
    let fresh = users::Entity::find_by_id(user.id())
        .one(&state.db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(web::Json(AccessTokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in,
        user: UserView::from(&fresh),
    }))
}

/// Replaces the backup codes (password required); the old ones stop working.
#[utoipa::path(
    operation_id = "regenerateBackupCodes",
    tag = "auth",
    security(("bearer" = [])),
    request_body = BackupCodesRequest,
    responses(
        (status = 200, description = "New codes, shown once", body = BackupCodesResponse),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Wrong password or password change required", body = ErrorBody),
        (status = 409, description = "Two-factor authentication is off", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid body", body = ErrorBody),
        (status = 429, description = "Too many attempts; see Retry-After", body = ErrorBody),
        (status = 503, description = "Server busy", body = ErrorBody),
    )
)]
#[post("/auth/backup-codes")]
pub async fn regenerate_backup_codes(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ApiJson<BackupCodesRequest>,
) -> Result<web::Json<BackupCodesResponse>, ApiError> {
    user.0.require_session()?;
    let backup_codes = service::regenerate_backup_codes(&state, &user.0, &body.password).await?;
    Ok(web::Json(BackupCodesResponse { backup_codes }))
}

/// What a sign-in page needs to know before anyone signs in.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthConfig {
    /// Whether `POST /api/auth/register` accepts new accounts.
    pub registration_enabled: bool,
    /// Server version.
    pub version: String,
    /// The document types `POST /api/documents/upload-url` accepts; any other
    /// `content_type` is refused with `415`.
    pub document_types: Vec<DocumentTypeView>,
    /// The OCR languages installed on this server, for an account's choice
    /// (`PATCH /api/auth/me` `ocr_languages`); empty when OCR is unavailable.
    #[schema(example = json!(["deu", "eng"]))]
    pub ocr_languages: Vec<String>,
    /// The languages scans are read in unless an account chose others (`ocr.languages`).
    #[schema(example = "eng")]
    pub ocr_default_languages: String,
}

/// One accepted document type.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentTypeView {
    /// The content type to declare on upload.
    #[schema(example = "application/pdf")]
    pub content_type: String,
    /// File extensions (without the dot) of this type.
    #[schema(example = json!(["pdf"]))]
    pub extensions: Vec<String>,
    /// Human name.
    #[schema(example = "PDF")]
    pub label: String,
}

/// Public sign-in settings (no authentication).
#[utoipa::path(
    operation_id = "getAuthConfig",
    security(),
    tag = "auth",
    responses(
        (status = 200, description = "Sign-in settings", body = AuthConfig),
    )
)]
#[get("/auth/config")]
pub async fn auth_config(state: web::Data<AppState>) -> web::Json<AuthConfig> {
    web::Json(AuthConfig {
        registration_enabled: state.settings.auth.registration_enabled,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        document_types: crate::domain::DOCUMENT_TYPES
            .iter()
            .map(|t| DocumentTypeView {
                content_type: t.content_type.to_owned(),
                extensions: t.extensions.iter().map(|e| (*e).to_owned()).collect(),
                label: t.label.to_owned(),
            })
            .collect(),
        ocr_languages: state.ocr.languages().to_vec(),
        ocr_default_languages: state.settings.ocr.languages.as_str().to_owned(),
    })
}

/// Storage used and allowed.
#[utoipa::path(
    operation_id = "getMyQuota",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Quota", body = QuotaView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Password change required first", body = ErrorBody),
    )
)]
#[get("/auth/me/quota")]
pub async fn my_quota(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<web::Json<QuotaView>, ApiError> {
    let quota = quotas::Entity::find_by_id(user.id())
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("account without quota row")))?;
    Ok(web::Json(QuotaView {
        used_bytes: quota.used_bytes,
        limit_bytes: quota.limit_bytes,
        reserved_bytes: quota.reserved_bytes,
    }))
}

/// Registers the `/auth` routes (inside the `/api` scope).
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(register)
        .service(auth_config)
        .service(login)
        .service(refresh)
        .service(logout)
        .service(logout_all)
        .service(me)
        .service(update_me)
        .service(change_password)
        .service(totp_setup)
        .service(totp_enable)
        .service(totp_disable)
        .service(regenerate_backup_codes)
        .service(my_quota);
}
