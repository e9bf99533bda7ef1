//! The compiled web UI (`static/`), embedded in the binary.
//!
//! Hashed files under `assets/` are cached for a year; `index.html` is never cached;
//! unknown non-API paths without a file extension fall back to `index.html` (SPA routes).

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use rust_embed::RustEmbed;

use crate::error::ApiError;

/// The files of `static/`.
#[derive(RustEmbed)]
#[folder = "static/"]
struct Static;

const INDEX: &str = "index.html";

fn file_response(req: &HttpRequest, path: &str, file: rust_embed::EmbeddedFile) -> HttpResponse {
    let etag = format!("\"{}\"", hex::encode(file.metadata.sha256_hash()));
    let cache = if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut res = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::ETAG, etag));
    if fresh {
        return res.finish();
    }
    let mime = file.metadata.mimetype();
    if let Ok(v) = HeaderValue::from_str(mime) {
        res.insert_header((header::CONTENT_TYPE, v));
    }
    if req.method() == Method::HEAD {
        res.finish()
    } else {
        res.body(file.data.into_owned())
    }
}

/// Serves an embedded file, the SPA shell for client-side routes, or 404.
pub async fn serve(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Err(ApiError::MethodNotAllowed {
            allow: vec!["GET".into(), "HEAD".into()],
        });
    }
    let path = req.path().trim_start_matches('/');
    let path = if path.is_empty() { INDEX } else { path };
    if let Some(file) = Static::get(path) {
        return Ok(file_response(&req, path, file));
    }
    let last = path.rsplit('/').next().unwrap_or_default();
    if path.starts_with("assets/") || last.contains('.') {
        return Err(ApiError::not_found());
    }
    match Static::get(INDEX) {
        Some(file) => Ok(file_response(&req, INDEX, file)),
        None => Ok(HttpResponse::build(StatusCode::NOT_FOUND).finish()),
    }
}
