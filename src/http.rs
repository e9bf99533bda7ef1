//! Cross-cutting HTTP concerns: request ids and tracing spans, security headers,
//! JSON 404/405 for unknown API routes, and extractor failures (JSON body, query string,
//! path parameters) turned into `ApiError`s.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{DefaultHeaders, Next};
use actix_web::{HttpMessage, HttpRequest, web};
use tracing::Instrument;

use crate::error::ApiError;
use crate::settings::Settings;

/// Header carrying the request id in both directions.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id of the current request, available to handlers as a request extension.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Accepts a caller's request id only if it is short and plain, else makes one.
fn request_id_for(req: &ServiceRequest) -> String {
    req.headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Root span per request (method, route template, path, request id), one completion
/// log line, and the id echoed in `x-request-id`. The path is logged with its secrets
/// redacted (the token of a signed `/storage/{token}` URL is a bearer credential) and
/// without its query string.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let request_id = request_id_for(&req);
    // The pattern comes from the resource map, so it is known before routing and every
    // line logged while handling the request carries it.
    let route = req.match_pattern();
    let span = tracing::info_span!(
        "http_request",
        method = %req.method(),
        route = %route.as_deref().unwrap_or("-"),
        path = %crate::telemetry::redact(req.path()),
        request_id = %request_id,
        status = tracing::field::Empty,
    );
    req.extensions_mut().insert(RequestId(request_id.clone()));
    // Handler errors arrive here already rendered as responses; an `Err` would only come
    // from a failing middleware and is passed on untouched.
    let mut res = next.call(req).instrument(span.clone()).await?;
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        res.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), v);
    }
    let status = res.status().as_u16();
    span.record("status", status);
    if let Some(metrics) = res
        .request()
        .app_data::<web::Data<crate::metrics::Metrics>>()
    {
        metrics.observe_request(
            res.request().method().as_str(),
            route.as_deref().unwrap_or("unmatched"),
            status,
            started.elapsed(),
        );
    }
    span.in_scope(|| {
        tracing::info!(
            status,
            latency_ms = started.elapsed().as_millis() as u64,
            "request completed"
        )
    });
    Ok(res)
}

/// Baseline security headers on every response. `connect-src` also admits the
/// public S3 endpoint so browsers can upload straight to storage (and the PDF viewer
/// fetch from it); `img-src` admits it for thumbnails and images shown inline.
pub fn security_headers(settings: &Settings) -> DefaultHeaders {
    let mut connect_src = String::from("'self'");
    let mut img_src = String::from("'self' data: blob:");
    let s3 = &settings.storage.s3;
    let public = if s3.public_endpoint.is_empty() {
        &s3.endpoint
    } else {
        &s3.public_endpoint
    };
    if settings.storage_kind() == crate::settings::StorageKind::S3
        && let Ok(url) = url::Url::parse(public)
    {
        let origin = url.origin().ascii_serialization();
        connect_src.push(' ');
        connect_src.push_str(&origin);
        img_src.push(' ');
        img_src.push_str(&origin);
    }
    let csp = format!(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         img-src {img_src}; font-src 'self' data:; connect-src {connect_src}; \
         object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    );
    DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("Content-Security-Policy", csp))
        .add(("Cross-Origin-Opener-Policy", "same-origin"))
        .add((
            "Permissions-Policy",
            "camera=(), microphone=(), geolocation=()",
        ))
}

/// A JSON request body that must be an object: `web::Json` would also build a struct
/// from an array (`[1, 2]`), which no documented body allows.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T> std::ops::Deref for ApiJson<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: serde::de::DeserializeOwned + 'static> actix_web::FromRequest for ApiJson<T> {
    type Error = actix_web::Error;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let json = web::Json::<serde_json::Value>::from_request(req, payload);
        Box::pin(async move {
            let value = json.await?.into_inner();
            if !value.is_object() {
                return Err(ApiError::Unprocessable {
                    code: crate::error::ErrorCode::ValidationFailed,
                    message: "The request body must be a JSON object".into(),
                }
                .into());
            }
            serde_json::from_value(value).map(ApiJson).map_err(|e| {
                ApiError::Unprocessable {
                    code: crate::error::ErrorCode::ValidationFailed,
                    message: format!("Invalid request body: {e}"),
                }
                .into()
            })
        })
    }
}

/// Largest accepted `per_page`.
pub const MAX_PER_PAGE: u64 = 100;
/// Largest accepted `page`.
pub const MAX_PAGE: u64 = 1_000_000;

/// Checks `page` (1-based, default 1) and `per_page` (default 25, at most 100).
pub fn page_params(page: Option<u64>, per_page: Option<u64>) -> Result<(u64, u64), ApiError> {
    let (page, per_page) = (page.unwrap_or(1), per_page.unwrap_or(25));
    if !(1..=MAX_PAGE).contains(&page) || !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(ApiError::BadRequest {
            code: crate::error::ErrorCode::InvalidQuery,
            message: format!("page must be 1–{MAX_PAGE} and per_page 1–{MAX_PER_PAGE}"),
        });
    }
    Ok((page, per_page))
}

/// Path templates of the API and their methods, read off the OpenAPI document, so an
/// unknown method on a known path answers 405 and an unknown path 404.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    routes: Vec<(Vec<String>, Vec<String>)>,
}

impl RouteTable {
    /// Builds the table from the generated OpenAPI document.
    pub fn from_openapi(api: &utoipa::openapi::OpenApi) -> Self {
        let routes = api
            .paths
            .paths
            .iter()
            .map(|(template, item)| {
                let segments = template
                    .trim_start_matches('/')
                    .split('/')
                    .map(str::to_owned)
                    .collect();
                let mut methods: Vec<String> = [
                    (item.get.is_some(), "GET"),
                    (item.post.is_some(), "POST"),
                    (item.put.is_some(), "PUT"),
                    (item.patch.is_some(), "PATCH"),
                    (item.delete.is_some(), "DELETE"),
                ]
                .iter()
                .filter(|(present, _)| *present)
                .map(|(_, m)| (*m).to_owned())
                .collect();
                if item.get.is_some() {
                    methods.push("HEAD".into());
                }
                (segments, methods)
            })
            .collect::<Vec<(Vec<String>, Vec<String>)>>();
        // Literal paths win over templates: `/documents/upload-url` before `/documents/{id}`.
        let mut routes = routes;
        routes.sort_by_key(|(segments, _)| segments.iter().filter(|s| s.starts_with('{')).count());
        Self { routes }
    }

    /// Methods allowed on `path`, if it matches a known template.
    pub fn allowed(&self, path: &str) -> Option<&[String]> {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        self.routes.iter().find_map(|(segments, methods)| {
            let matches = segments.len() == parts.len()
                && segments.iter().zip(&parts).all(|(s, p)| {
                    (s.starts_with('{') && s.ends_with('}') && !p.is_empty()) || s == p
                });
            matches.then_some(methods.as_slice())
        })
    }
}

/// Fallback for `/api/*`: JSON 405 (with `Allow`) for a known path, else JSON 404.
pub async fn api_fallback(
    req: HttpRequest,
    routes: web::Data<RouteTable>,
) -> Result<actix_web::HttpResponse, ApiError> {
    Err(match routes.allowed(req.path()) {
        Some(methods) if !methods.iter().any(|m| m == req.method().as_str()) => {
            ApiError::MethodNotAllowed {
                allow: methods.to_vec(),
            }
        }
        _ if req.method() == Method::OPTIONS => ApiError::not_found(),
        _ => ApiError::NotFound(format!("No API route {} {}", req.method(), req.path())),
    })
}

/// JSON extractor settings: body limit and 4xx errors in our shape.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
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
            code: crate::error::ErrorCode::ValidationFailed,
            message: format!("Invalid request body: {e}"),
        },
        E::Deserialize(e) => ApiError::BadRequest {
            code: crate::error::ErrorCode::MalformedJson,
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
        code: crate::error::ErrorCode::InvalidQuery,
        message: format!("Invalid query string: {err}"),
    }
    .into()
}

/// Maps path-parameter extractor failures (e.g. a malformed id) to 404 — or to 405 when
/// the path is really a literal route with other methods (`DELETE /documents/upload-url`
/// reaches `/documents/{id}` with a non-id).
pub fn path_error(_err: actix_web::error::PathError, req: &HttpRequest) -> actix_web::Error {
    let routes = req.app_data::<web::Data<RouteTable>>();
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
    use super::*;
    use actix_web::App;
    use actix_web::test as actix_test;
    use serde_json::Value;

    #[derive(serde::Deserialize)]
    struct Named {
        #[allow(dead_code)]
        name: String,
    }

    async fn call(req: actix_test::TestRequest) -> (u16, Value) {
        let app = actix_test::init_service(
            App::new()
                .app_data(json_config(64))
                .route("/", web::post().to(|_: web::Json<Named>| async { "ok" })),
        )
        .await;
        let res = actix_test::call_service(&app, req.to_request()).await;
        let status = res.status().as_u16();
        let body: Value = actix_test::read_body_json(res).await;
        (status, body)
    }

    #[actix_web::test]
    async fn bad_json_bodies_get_clear_4xx_errors() {
        let post = || actix_test::TestRequest::post().uri("/");
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

    #[test]
    fn route_table_matches_templates_and_lists_methods() {
        use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem, PathsBuilder};
        let mut api = utoipa::openapi::OpenApiBuilder::new().build();
        let mut item = PathItem::new(HttpMethod::Get, OperationBuilder::new().build());
        item.delete = Some(OperationBuilder::new().build());
        api.paths = PathsBuilder::new()
            .path("/api/documents/{id}", item)
            .path(
                "/api/documents",
                PathItem::new(HttpMethod::Post, OperationBuilder::new().build()),
            )
            .build();
        let table = RouteTable::from_openapi(&api);
        assert_eq!(
            table.allowed("/api/documents/abc").unwrap(),
            ["GET", "DELETE", "HEAD"]
        );
        assert_eq!(table.allowed("/api/documents").unwrap(), ["POST"]);
        assert!(table.allowed("/api/documents/abc/extra").is_none());
        assert!(table.allowed("/api/documents//").is_none());
        assert!(table.allowed("/api/folders/abc").is_none());
    }
}
