//! `/api/auth/password-reset*`: "forgot password" by e-mail (public operations).

use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::password_reset;
use crate::auth::sessions::ClientInfo;
use crate::error::{ApiError, ErrorBody};
use crate::http::ApiJson;
use crate::state::AppState;

/// `POST /api/auth/password-reset` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    /// The e-mail address of the account.
    #[schema(example = "alice@example.com", format = "email", max_length = 254)]
    pub email: String,
}

/// `POST /api/auth/password-reset/confirm` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetConfirm {
    /// The token from the e-mailed link (`/reset-password?token=…`).
    #[schema(min_length = 1, max_length = 200)]
    pub token: String,
    /// The new password, 8–1024 characters.
    #[schema(min_length = 8, max_length = 1024)]
    pub password: String,
}

/// Asks for a password reset link by e-mail.
///
/// Always 202 once the attempt limits allow it, whether an account has the address or
/// not (no account enumeration): an active account with this address gets an e-mail
/// with a link to `{public_url}/reset-password?token=…`, valid for 30 minutes and
/// usable once. Disabled accounts get nothing.
#[utoipa::path(
    operation_id = "requestPasswordReset",
    security(),
    tag = "auth",
    request_body = PasswordResetRequest,
    responses(
        (status = 202, description = "If an account has this address, a link is on its way"),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Not an e-mail address", body = ErrorBody),
        (status = 429, description = "Too many requests from this client or for this address; see Retry-After", body = ErrorBody),
    )
)]
#[post("/auth/password-reset")]
pub async fn request_password_reset(
    state: web::Data<AppState>,
    client: ClientInfo,
    req: HttpRequest,
    body: ApiJson<PasswordResetRequest>,
) -> Result<HttpResponse, ApiError> {
    let base_url = crate::security::client_ip::public_base_url(
        &req,
        &state.settings.server.public_url,
        &state.settings.auth.trusted_proxies,
    );
    password_reset::request(&state, &body.email, base_url, &client).await?;
    Ok(HttpResponse::Accepted().finish())
}

/// Sets a new password with the token of a reset link.
///
/// Every session and API token of the account ends; two-factor authentication stays on
/// if it was (the next sign-in asks for the code). The link stops working, and so does
/// any other link sent before.
#[utoipa::path(
    operation_id = "confirmPasswordReset",
    security(),
    tag = "auth",
    request_body = PasswordResetConfirm,
    responses(
        (status = 204, description = "Password set; sign in with it"),
        (status = 400, description = "The link was issued but is expired or already used (`reset_token_invalid`), or the request is malformed", body = ErrorBody),
        (status = 404, description = "No reset link was ever issued with this token", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "The password breaks the rules (8–1024 characters)", body = ErrorBody),
        (status = 503, description = "Server busy", body = ErrorBody),
    )
)]
#[post("/auth/password-reset/confirm")]
pub async fn confirm_password_reset(
    state: web::Data<AppState>,
    client: ClientInfo,
    body: ApiJson<PasswordResetConfirm>,
) -> Result<HttpResponse, ApiError> {
    password_reset::confirm(&state, &body.token, &body.password, &client).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers the password reset routes (inside the `/api` scope).
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(request_password_reset)
        .service(confirm_password_reset);
}
