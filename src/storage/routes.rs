//! `PUT`/`GET /storage/{token}`: the local backend's signed upload and download URLs.
//!
//! Uploads stream to a temp file on the same filesystem (never held in memory whole),
//! must match the signed content type and length exactly, are fsynced and renamed into
//! place. Downloads stream the file as an attachment.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::domain::ObjectKey;
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::LocalStore;

fn denied() -> ApiError {
    ApiError::Forbidden {
        code: "signature_invalid",
        message: "The URL is invalid or has expired".into(),
    }
}

fn store(state: &AppState) -> Result<&LocalStore, ApiError> {
    state.local_store.as_ref().ok_or_else(ApiError::not_found)
}

/// Receives an upload for a signed `PUT` URL.
pub async fn put_object(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    mut body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let store = store(&state)?;
    let grant = store
        .signer()
        .verify(&token, chrono::Utc::now().timestamp())
        .filter(|g| g.method == "PUT")
        .ok_or_else(denied)?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type != grant.content_type {
        return Err(denied());
    }
    let expected = grant.length.ok_or_else(denied)?;
    let declared: Option<u64> = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    if declared != Some(expected) {
        return Err(denied());
    }
    let key = ObjectKey::parse(&grant.key).map_err(|_| denied())?;
    // An upload whose document was already confirmed (its final object exists) is over.
    if let Some(final_key) = grant.key.strip_suffix(".upload")
        && let Ok(final_key) = ObjectKey::parse(final_key)
        && tokio::fs::try_exists(store.path(&final_key))
            .await
            .unwrap_or(false)
    {
        return Err(ApiError::Conflict {
            code: "upload_closed",
            message: "This upload was already confirmed".into(),
        });
    }

    let tmp = store
        .tmp_dir()
        .join(format!("upload-{}", uuid::Uuid::new_v4().simple()));
    let io = |e: std::io::Error| ApiError::Internal(e.into());
    // tokio::fs hands every write to the blocking pool; batch chunks into 1 MiB writes.
    let mut file = tokio::io::BufWriter::with_capacity(
        1 << 20,
        tokio::fs::File::create(&tmp).await.map_err(io)?,
    );
    let mut received: u64 = 0;
    let outcome: Result<(), ApiError> = async {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|_| ApiError::bad_request("Upload interrupted"))?;
            received += chunk.len() as u64;
            if received > expected {
                return Err(ApiError::PayloadTooLarge(
                    "More bytes than the signed length".into(),
                ));
            }
            file.write_all(&chunk).await.map_err(io)?;
        }
        if received != expected {
            return Err(ApiError::bad_request("Fewer bytes than the signed length"));
        }
        file.flush().await.map_err(io)?;
        file.get_ref().sync_all().await.map_err(io)?;
        let dest = store.path(&key);
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(io)?;
        }
        tokio::fs::rename(&tmp, &dest).await.map_err(io)?;
        Ok(())
    }
    .await;
    if outcome.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    outcome?;
    Ok(HttpResponse::Ok().finish())
}

/// Serves a download for a signed `GET` URL.
pub async fn get_object(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let store = store(&state)?;
    let grant = store
        .signer()
        .verify(&token, chrono::Utc::now().timestamp())
        .filter(|g| g.method == "GET")
        .ok_or_else(denied)?;
    let key = ObjectKey::parse(&grant.key).map_err(|_| denied())?;
    let file = match tokio::fs::File::open(store.path(&key)).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ApiError::not_found()),
        Err(e) => return Err(ApiError::Internal(e.into())),
    };
    let len = file
        .metadata()
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
        .len();
    let stream = tokio_util::io::ReaderStream::new(file);
    let filename = grant.filename.unwrap_or_else(|| "download".into());
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, grant.content_type))
        .insert_header((
            header::CONTENT_DISPOSITION,
            crate::storage::content_disposition(&filename),
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .no_chunking(len)
        .streaming(stream))
}

/// Registers the signed-URL routes (not part of the API document: they are storage).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/storage/{token}")
            .route(web::put().to(put_object))
            .route(web::get().to(get_object)),
    );
}
