//! The one API error type: a stable snake_case `code`, a safe `message`, the right status.
//!
//! Internal errors log their whole chain under the request's span and answer a bare 500.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

/// Every machine-readable error code the server sends, in the `code` field of [`ErrorBody`].
///
/// Serialized in snake_case; the spec lists it as an enumeration, so clients can switch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// `bad_request`
    BadRequest,
    /// `malformed_json`
    MalformedJson,
    /// `invalid_query`
    InvalidQuery,
    /// `validation_failed`
    ValidationFailed,
    /// `invalid_filename`
    InvalidFilename,
    /// `signature_invalid`
    SignatureInvalid,
    /// `unauthorized`
    Unauthorized,
    /// `invalid_credentials`
    InvalidCredentials,
    /// `invalid_refresh_token`
    InvalidRefreshToken,
    /// `refresh_token_reused`
    RefreshTokenReused,
    /// `invalid_totp_code`
    InvalidTotpCode,
    /// `invalid_second_factor`
    InvalidSecondFactor,
    /// `wrong_password`
    WrongPassword,
    /// `password_unchanged`
    PasswordUnchanged,
    /// `account_disabled`
    AccountDisabled,
    /// `password_change_required`
    PasswordChangeRequired,
    /// `totp_setup_required`
    TotpSetupRequired,
    /// `totp_not_enabled`
    TotpNotEnabled,
    /// `totp_already_enabled`
    TotpAlreadyEnabled,
    /// `admin_required`
    AdminRequired,
    /// `admin_not_allowed`
    AdminNotAllowed,
    /// `registration_disabled`
    RegistrationDisabled,
    /// `cannot_modify_self`
    CannotModifySelf,
    /// `last_admin`
    LastAdmin,
    /// `cannot_share_with_self`
    CannotShareWithSelf,
    /// `cannot_share_with_admin`
    CannotShareWithAdmin,
    /// `not_found`
    NotFound,
    /// `method_not_allowed`
    MethodNotAllowed,
    /// `request_timeout`
    RequestTimeout,
    /// `account_exists`
    AccountExists,
    /// `handle_taken`
    HandleTaken,
    /// `topic_exists`
    TopicExists,
    /// `folder_exists`
    FolderExists,
    /// `folder_cycle`
    FolderCycle,
    /// `unknown_topic`
    UnknownTopic,
    /// `not_confirmed`
    NotConfirmed,
    /// `upload_closed`
    UploadClosed,
    /// `upload_not_found`
    UploadNotFound,
    /// `size_mismatch`
    SizeMismatch,
    /// `payload_too_large`
    PayloadTooLarge,
    /// `quota_exceeded`
    QuotaExceeded,
    /// `unsupported_media_type`
    UnsupportedMediaType,
    /// `rate_limited`
    RateLimited,
    /// `internal_error`
    InternalError,
    /// `service_unavailable`
    ServiceUnavailable,
    /// `insufficient_storage`
    InsufficientStorage,
    /// `document_trashed`
    DocumentTrashed,
    /// `duplicate_document`
    DuplicateDocument,
    /// `only_version`
    OnlyVersion,
    /// `webhook_target_forbidden`
    WebhookTargetForbidden,
    /// `invalid_api_token`
    InvalidApiToken,
    /// `insufficient_scope`
    InsufficientScope,
    /// `token_not_allowed`
    TokenNotAllowed,
    /// `multipart_invalid`
    MultipartInvalid,
    /// `mail_check_failed`
    MailCheckFailed,
    /// `reset_token_invalid`
    ResetTokenInvalid,
    /// `link_password_invalid`
    LinkPasswordInvalid,
    /// `view_name_taken`
    ViewNameTaken,
    /// `too_many_ids`
    TooManyIds,
    /// `refile_running`
    RefileRunning,
    /// `refile_needs_builtin`
    RefileNeedsBuiltin,
}

impl ErrorCode {
    /// Every variant, for tests and documentation.
    pub const ALL: &'static [ErrorCode] = &[
        Self::BadRequest,
        Self::MalformedJson,
        Self::InvalidQuery,
        Self::ValidationFailed,
        Self::InvalidFilename,
        Self::SignatureInvalid,
        Self::Unauthorized,
        Self::InvalidCredentials,
        Self::InvalidRefreshToken,
        Self::RefreshTokenReused,
        Self::InvalidTotpCode,
        Self::InvalidSecondFactor,
        Self::WrongPassword,
        Self::PasswordUnchanged,
        Self::AccountDisabled,
        Self::PasswordChangeRequired,
        Self::TotpSetupRequired,
        Self::TotpNotEnabled,
        Self::TotpAlreadyEnabled,
        Self::AdminRequired,
        Self::AdminNotAllowed,
        Self::RegistrationDisabled,
        Self::CannotModifySelf,
        Self::LastAdmin,
        Self::CannotShareWithSelf,
        Self::CannotShareWithAdmin,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::RequestTimeout,
        Self::AccountExists,
        Self::HandleTaken,
        Self::TopicExists,
        Self::FolderExists,
        Self::FolderCycle,
        Self::UnknownTopic,
        Self::NotConfirmed,
        Self::UploadClosed,
        Self::UploadNotFound,
        Self::SizeMismatch,
        Self::PayloadTooLarge,
        Self::QuotaExceeded,
        Self::UnsupportedMediaType,
        Self::RateLimited,
        Self::InternalError,
        Self::ServiceUnavailable,
        Self::InsufficientStorage,
        Self::DocumentTrashed,
        Self::DuplicateDocument,
        Self::OnlyVersion,
        Self::WebhookTargetForbidden,
        Self::InvalidApiToken,
        Self::InsufficientScope,
        Self::TokenNotAllowed,
        Self::MultipartInvalid,
        Self::MailCheckFailed,
        Self::ResetTokenInvalid,
        Self::LinkPasswordInvalid,
        Self::ViewNameTaken,
        Self::TooManyIds,
        Self::RefileRunning,
        Self::RefileNeedsBuiltin,
    ];

    /// The wire form, e.g. `"not_found"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::MalformedJson => "malformed_json",
            Self::InvalidQuery => "invalid_query",
            Self::ValidationFailed => "validation_failed",
            Self::InvalidFilename => "invalid_filename",
            Self::SignatureInvalid => "signature_invalid",
            Self::Unauthorized => "unauthorized",
            Self::InvalidCredentials => "invalid_credentials",
            Self::InvalidRefreshToken => "invalid_refresh_token",
            Self::RefreshTokenReused => "refresh_token_reused",
            Self::InvalidTotpCode => "invalid_totp_code",
            Self::InvalidSecondFactor => "invalid_second_factor",
            Self::WrongPassword => "wrong_password",
            Self::PasswordUnchanged => "password_unchanged",
            Self::AccountDisabled => "account_disabled",
            Self::PasswordChangeRequired => "password_change_required",
            Self::TotpSetupRequired => "totp_setup_required",
            Self::TotpNotEnabled => "totp_not_enabled",
            Self::TotpAlreadyEnabled => "totp_already_enabled",
            Self::AdminRequired => "admin_required",
            Self::AdminNotAllowed => "admin_not_allowed",
            Self::RegistrationDisabled => "registration_disabled",
            Self::CannotModifySelf => "cannot_modify_self",
            Self::LastAdmin => "last_admin",
            Self::CannotShareWithSelf => "cannot_share_with_self",
            Self::CannotShareWithAdmin => "cannot_share_with_admin",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::RequestTimeout => "request_timeout",
            Self::AccountExists => "account_exists",
            Self::HandleTaken => "handle_taken",
            Self::TopicExists => "topic_exists",
            Self::FolderExists => "folder_exists",
            Self::FolderCycle => "folder_cycle",
            Self::UnknownTopic => "unknown_topic",
            Self::NotConfirmed => "not_confirmed",
            Self::UploadClosed => "upload_closed",
            Self::UploadNotFound => "upload_not_found",
            Self::SizeMismatch => "size_mismatch",
            Self::PayloadTooLarge => "payload_too_large",
            Self::QuotaExceeded => "quota_exceeded",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::RateLimited => "rate_limited",
            Self::InternalError => "internal_error",
            Self::ServiceUnavailable => "service_unavailable",
            Self::InsufficientStorage => "insufficient_storage",
            Self::DocumentTrashed => "document_trashed",
            Self::DuplicateDocument => "duplicate_document",
            Self::OnlyVersion => "only_version",
            Self::WebhookTargetForbidden => "webhook_target_forbidden",
            Self::InvalidApiToken => "invalid_api_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::TokenNotAllowed => "token_not_allowed",
            Self::MultipartInvalid => "multipart_invalid",
            Self::MailCheckFailed => "mail_check_failed",
            Self::ResetTokenInvalid => "reset_token_invalid",
            Self::LinkPasswordInvalid => "link_password_invalid",
            Self::ViewNameTaken => "view_name_taken",
            Self::TooManyIds => "too_many_ids",
            Self::RefileRunning => "refile_running",
            Self::RefileNeedsBuiltin => "refile_needs_builtin",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Quota numbers for a refused upload: the `detail` of a `quota_exceeded` 413.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QuotaDetail {
    /// Bytes charged now.
    pub used_bytes: i64,
    /// Bytes reserved by unconfirmed uploads (their declared sizes).
    pub reserved_bytes: i64,
    /// Bytes allowed.
    pub limit_bytes: i64,
    /// Size of the refused upload.
    pub rejected_bytes: i64,
}

/// Body of every error response (every 4xx and 5xx).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code.
    #[schema(example = "not_found")]
    pub code: ErrorCode,
    /// Human-readable explanation, safe to show to users.
    #[schema(example = "No such resource")]
    pub message: String,
    /// Structured detail for codes that carry numbers: the quota for `quota_exceeded`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub detail: Option<QuotaDetail>,
    /// For `duplicate_document`: the id of the caller's document with the same content.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub existing_id: Option<uuid::Uuid>,
}

/// Errors a handler can return, grouped by HTTP meaning.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed.
    #[error("{message}")]
    BadRequest {
        /// Stable code.
        code: ErrorCode,
        /// Safe message.
        message: String,
    },
    /// 401: no or invalid credentials.
    #[error("{message}")]
    Unauthorized {
        /// Stable code.
        code: ErrorCode,
        /// Safe message.
        message: String,
    },
    /// 403: authenticated but not allowed.
    #[error("{message}")]
    Forbidden {
        /// Stable code.
        code: ErrorCode,
        /// Safe message.
        message: String,
    },
    /// 404: missing or not yours (indistinguishable on purpose).
    #[error("{0}")]
    NotFound(String),
    /// 405: the path exists, the method does not.
    #[error("method not allowed")]
    MethodNotAllowed {
        /// Methods the path accepts, for the `Allow` header.
        allow: Vec<String>,
    },
    /// 409: conflicts with existing state.
    #[error("{message}")]
    Conflict {
        /// Stable code.
        code: ErrorCode,
        /// Safe message.
        message: String,
    },
    /// 409 `duplicate_document`: the caller already has a document with these bytes
    /// (setting `documents.duplicates = "reject"`).
    #[error("You already have this document")]
    Duplicate {
        /// The existing document.
        existing_id: uuid::Uuid,
    },
    /// 413: body or declared size too large.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415: content type not accepted.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: well-formed but semantically invalid.
    #[error("{message}")]
    Unprocessable {
        /// Stable code.
        code: ErrorCode,
        /// Safe message.
        message: String,
    },
    /// 429: rate limited; retry after the given seconds.
    #[error("too many requests")]
    TooManyRequests {
        /// Seconds until a retry may succeed.
        retry_after_secs: u64,
    },
    /// 503: a dependency is down or the server sheds load.
    #[error("{0}")]
    ServiceUnavailable(String),
    /// 408: the client sent its request body too slowly (idle or under the minimum rate).
    #[error("{0}")]
    RequestTimeout(String),
    /// 507: the server has no space left to store the request's data.
    #[error("{0}")]
    InsufficientStorage(String),
    /// 500: a server fault; details go to the log only.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// A 400 with code `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest {
            code: ErrorCode::BadRequest,
            message: message.into(),
        }
    }

    /// A 404 with the generic message.
    pub fn not_found() -> Self {
        Self::NotFound("No such resource".into())
    }

    /// The stable code the error answers with.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::BadRequest { code, .. }
            | Self::Unauthorized { code, .. }
            | Self::Forbidden { code, .. }
            | Self::Conflict { code, .. }
            | Self::Unprocessable { code, .. } => *code,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Duplicate { .. } => ErrorCode::DuplicateDocument,
            Self::MethodNotAllowed { .. } => ErrorCode::MethodNotAllowed,
            Self::PayloadTooLarge(_) => ErrorCode::PayloadTooLarge,
            Self::UnsupportedMediaType(_) => ErrorCode::UnsupportedMediaType,
            Self::TooManyRequests { .. } => ErrorCode::RateLimited,
            Self::ServiceUnavailable(_) => ErrorCode::ServiceUnavailable,
            Self::RequestTimeout(_) => ErrorCode::RequestTimeout,
            Self::InsufficientStorage(_) => ErrorCode::InsufficientStorage,
            Self::Internal(_) => ErrorCode::InternalError,
        }
    }

    /// The safe message the error answers with (never an internal error's cause).
    pub fn message(&self) -> String {
        match self {
            Self::Internal(_) => "Internal server error".into(),
            Self::TooManyRequests { retry_after_secs } => {
                format!("Too many requests; retry in {retry_after_secs} s")
            }
            other => other.to_string(),
        }
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        match e {
            // Every pooled connection stayed busy for `database.acquire_timeout_secs`: a
            // burst, not a fault; the client may retry.
            sea_orm::DbErr::ConnectionAcquire(_) => {
                Self::ServiceUnavailable("The database is busy; try again".into())
            }
            e => Self::Internal(e.into()),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } | Self::Duplicate { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Internal(e) = self {
            tracing::error!(error = ?e, "internal error");
        }
        let mut res = HttpResponse::build(self.status_code());
        match self {
            Self::TooManyRequests { retry_after_secs } => {
                res.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            Self::Unauthorized { .. } => {
                res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            Self::ServiceUnavailable(_) => {
                res.insert_header((header::RETRY_AFTER, "1"));
            }
            Self::MethodNotAllowed { allow } => {
                if let Ok(v) = HeaderValue::from_str(&allow.join(", ")) {
                    res.insert_header((header::ALLOW, v));
                }
            }
            _ => {}
        }
        res.json(ErrorBody {
            code: self.code(),
            message: self.message(),
            detail: None,
            existing_id: match self {
                Self::Duplicate { existing_id } => Some(*existing_id),
                _ => None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use serde_json::Value;

    use super::*;

    #[test]
    fn a_pool_without_a_free_connection_is_a_503_to_retry() {
        let err = ApiError::from(sea_orm::DbErr::ConnectionAcquire(
            sea_orm::error::ConnAcquireErr::Timeout,
        ));
        let res = err.error_response();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers().get(header::RETRY_AFTER).unwrap(), "1");
        let other = ApiError::from(sea_orm::DbErr::Custom("x".into()));
        assert_eq!(other.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[actix_web::test]
    async fn internal_errors_hide_their_cause() {
        let err = ApiError::Internal(anyhow::anyhow!("password=hunter2 at db:5432"));
        let res = err.error_response();
        assert_eq!(res.status(), 500);
        let body = actix_web::body::to_bytes(res.into_body()).await.unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(!text.contains("hunter2"));
        assert!(text.contains("internal_error"));
    }

    #[actix_web::test]
    async fn rate_limits_say_when_to_retry() {
        let res = ApiError::TooManyRequests {
            retry_after_secs: 7,
        }
        .error_response();
        assert_eq!(res.status(), 429);
        assert_eq!(res.headers().get("retry-after").unwrap(), "7");
    }

    #[::core::prelude::v1::test]
    fn every_error_code_round_trips_and_the_spec_lists_exactly_them() {
        let mut wire = Vec::new();
        for code in ErrorCode::ALL {
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, Value::String(code.as_str().to_owned()));
            let back: ErrorCode = serde_json::from_value(json).unwrap();
            assert_eq!(back, *code);
            wire.push(code.as_str().to_owned());
        }
        let unique: std::collections::BTreeSet<_> = wire.iter().cloned().collect();
        assert_eq!(unique.len(), wire.len(), "duplicate wire codes");

        let spec: Value = serde_json::from_str(&crate::openapi::document_json()).unwrap();
        let listed: std::collections::BTreeSet<String> = spec["components"]["schemas"]["ErrorCode"]
            ["enum"]
            .as_array()
            .expect("ErrorCode is an enumeration in the spec")
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(listed, unique);
        assert_eq!(
            spec["components"]["schemas"]["ErrorBody"]["properties"]["code"]["$ref"],
            "#/components/schemas/ErrorCode"
        );
    }
}
