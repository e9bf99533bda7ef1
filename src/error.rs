//! The one API error type: a stable snake_case `code`, a safe `message`, the right status.
//!
//! Internal errors log their whole chain under the request's span and answer a bare 500.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

/// Body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `not_found`, `validation_failed`.
    #[schema(example = "not_found")]
    pub code: String,
    /// Human-readable explanation, safe to show to users.
    #[schema(example = "No such resource")]
    pub message: String,
}

/// Errors a handler can return, grouped by HTTP meaning.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed.
    #[error("{message}")]
    BadRequest {
        /// Stable code.
        code: &'static str,
        /// Safe message.
        message: String,
    },
    /// 401: no or invalid credentials.
    #[error("{message}")]
    Unauthorized {
        /// Stable code.
        code: &'static str,
        /// Safe message.
        message: String,
    },
    /// 403: authenticated but not allowed.
    #[error("{message}")]
    Forbidden {
        /// Stable code.
        code: &'static str,
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
        code: &'static str,
        /// Safe message.
        message: String,
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
        code: &'static str,
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
            code: "bad_request",
            message: message.into(),
        }
    }

    /// A 404 with the generic message.
    pub fn not_found() -> Self {
        Self::NotFound("No such resource".into())
    }

    fn code(&self) -> &str {
        match self {
            Self::BadRequest { code, .. }
            | Self::Unauthorized { code, .. }
            | Self::Forbidden { code, .. }
            | Self::Conflict { code, .. }
            | Self::Unprocessable { code, .. } => code,
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::TooManyRequests { .. } => "rate_limited",
            Self::ServiceUnavailable(_) => "service_unavailable",
            Self::RequestTimeout(_) => "request_timeout",
            Self::InsufficientStorage(_) => "insufficient_storage",
            Self::Internal(_) => "internal_error",
        }
    }

    fn message(&self) -> String {
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
        Self::Internal(e.into())
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
            Self::Conflict { .. } => StatusCode::CONFLICT,
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
            code: self.code().to_owned(),
            message: self.message(),
        })
    }
}

/// JSON extractor settings: body limit and 4xx errors in our shape.
pub fn json_config(limit: usize) -> actix_web::web::JsonConfig {
    actix_web::web::JsonConfig::default()
        .limit(limit)
        .error_handler(json_error)
}

/// Maps JSON body extractor failures to clear 4xx errors.
pub fn json_error(err: actix_web::error::JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as E;
    let api = match &err {
        E::OverflowKnownLength { limit, .. } | E::Overflow { limit } => {
            ApiError::PayloadTooLarge(format!("JSON body larger than {limit} bytes"))
        }
        E::ContentType => {
            ApiError::UnsupportedMediaType("Expected Content-Type: application/json".into())
        }
        E::Deserialize(e) if e.is_data() => ApiError::Unprocessable {
            code: "validation_failed",
            message: format!("Invalid request body: {e}"),
        },
        E::Deserialize(e) => ApiError::BadRequest {
            code: "malformed_json",
            message: format!("Malformed JSON: {e}"),
        },
        _ => ApiError::bad_request("Could not read the request body"),
    };
    api.into()
}

/// Maps query-string extractor failures to 400.
pub fn query_error(
    err: actix_web::error::QueryPayloadError,
    _req: &HttpRequest,
) -> actix_web::Error {
    ApiError::BadRequest {
        code: "invalid_query",
        message: format!("Invalid query string: {err}"),
    }
    .into()
}

/// Maps path-parameter extractor failures (e.g. a malformed id) to 404 — or to 405 when
/// the path is really a literal route with other methods (`DELETE /documents/upload-url`
/// reaches `/documents/{id}` with a non-id).
pub fn path_error(_err: actix_web::error::PathError, req: &HttpRequest) -> actix_web::Error {
    let routes = req.app_data::<actix_web::web::Data<crate::http::RouteTable>>();
    match routes.and_then(|r| r.allowed(req.path())) {
        Some(methods) if !methods.iter().any(|m| m == req.method().as_str()) => {
            ApiError::MethodNotAllowed {
                allow: methods.to_vec(),
            }
            .into()
        }
        _ => ApiError::not_found().into(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use actix_web::{App, test, web};
    use serde_json::Value;

    use super::*;

    #[derive(serde::Deserialize)]
    struct Named {
        #[allow(dead_code)]
        name: String,
    }

    async fn call(req: test::TestRequest) -> (u16, Value) {
        let app = test::init_service(
            App::new()
                .app_data(json_config(64))
                .route("/", web::post().to(|_: web::Json<Named>| async { "ok" })),
        )
        .await;
        let res = test::call_service(&app, req.to_request()).await;
        let status = res.status().as_u16();
        let body: Value = test::read_body_json(res).await;
        (status, body)
    }

    #[actix_web::test]
    async fn bad_json_bodies_get_clear_4xx_errors() {
        let post = || test::TestRequest::post().uri("/");
        let (status, body) = call(
            post()
                .insert_header(("content-type", "application/json"))
                .set_payload("{not json"),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("malformed_json"))
        );

        let (status, body) = call(
            post()
                .insert_header(("content-type", "application/json"))
                .set_payload(r#"{"name": 5}"#),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (422, Some("validation_failed"))
        );

        let (status, body) = call(
            post()
                .insert_header(("content-type", "text/plain"))
                .set_payload(r#"{"name": "x"}"#),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (415, Some("unsupported_media_type"))
        );

        let big = format!(r#"{{"name": "{}"}}"#, "x".repeat(100));
        let (status, body) = call(
            post()
                .insert_header(("content-type", "application/json"))
                .set_payload(big),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (413, Some("payload_too_large"))
        );
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
}
