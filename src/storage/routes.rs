//! `PUT`/`GET /storage/{token}`: the local backend's signed upload and download URLs.
//!
//! Uploads stream to a temp file on the same filesystem (never held in memory whole),
//! must match the signed content type and length exactly, are fsynced and renamed into
//! place. Downloads stream the file as an attachment.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;

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
    // The body goes to a dedicated blocking writer (see `spool`): this task only moves the
    // received chunks over a bounded channel, so memory stays bounded by the channel.
    let file = std::fs::File::create(&tmp).map_err(io)?;
    let (tx, rx) = tokio::sync::mpsc::channel::<web::Bytes>(SPOOL_CHANNEL_CHUNKS);
    let writer = tokio::task::spawn_blocking(move || spool(file, expected, rx));
    let mut received: u64 = 0;
    let streamed: Result<(), ApiError> = async {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|_| ApiError::bad_request("Upload interrupted"))?;
            received += chunk.len() as u64;
            if received > expected {
                return Err(ApiError::PayloadTooLarge(
                    "More bytes than the signed length".into(),
                ));
            }
            if tx.send(chunk).await.is_err() {
                // The writer stopped early; its own error is reported below.
                break;
            }
        }
        Ok(())
    }
    .await;
    drop(tx);
    let written = writer
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("upload writer panicked: {e}")))
        .and_then(|r| r.map_err(io));
    let outcome: Result<(), ApiError> = async {
        streamed?;
        written?;
        if received != expected {
            return Err(ApiError::bad_request("Fewer bytes than the signed length"));
        }
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

/// Received chunks in flight between the request task and the writer (actix hands over
/// chunks of at most a few tens of KiB, so this bounds per-upload buffering to well under
/// a MiB: measured by bench/upload, 8 concurrent uploads must stay under 64 MiB).
const SPOOL_CHANNEL_CHUNKS: usize = 16;
/// The writer issues one vectored write per this many buffered bytes.
const SPOOL_WRITE_BYTES: usize = 256 << 10;
/// Written data is handed to the disk every this many bytes, so the final fsync is short.
const SPOOL_WRITEBACK_BYTES: u64 = 8 << 20;

/// Writes an upload's chunks to `file` on a blocking thread: vectored writes without
/// copying the chunks, early write-back (`sync_file_range`) while the body still arrives,
/// and an fsync at the end. Space for `expected` bytes is reserved up front.
fn spool(
    mut file: std::fs::File,
    expected: u64,
    mut rx: tokio::sync::mpsc::Receiver<web::Bytes>,
) -> std::io::Result<()> {
    use std::io::{IoSlice, Write};
    use std::os::fd::AsRawFd;

    let fd = file.as_raw_fd();
    if let Ok(len) = libc::off_t::try_from(expected)
        && len > 0
    {
        // Best effort: a filesystem without fallocate support still gets the data.
        // SAFETY: `fd` is an open file descriptor owned by `file` for this whole call.
        unsafe { libc::posix_fallocate(fd, 0, len) };
    }
    let mut pending: Vec<web::Bytes> = Vec::with_capacity(64);
    let mut pending_len = 0usize;
    let mut written: u64 = 0;
    let mut handed_over: u64 = 0;
    let mut flush = |pending: &mut Vec<web::Bytes>, file: &mut std::fs::File| {
        let mut slices: Vec<IoSlice<'_>> = pending.iter().map(|b| IoSlice::new(b)).collect();
        let mut rest: &mut [IoSlice<'_>] = &mut slices;
        while !rest.is_empty() {
            let n = file.write_vectored(rest)?;
            if n == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::WriteZero));
            }
            written += n as u64;
            IoSlice::advance_slices(&mut rest, n);
        }
        pending.clear();
        if written - handed_over >= SPOOL_WRITEBACK_BYTES {
            if let (Ok(off), Ok(len)) = (
                libc::off64_t::try_from(handed_over),
                libc::off64_t::try_from(written - handed_over),
            ) {
                // SAFETY: `fd` stays open for the whole call; the range lies within
                // what was written. Failure only loses the early write-back.
                unsafe { libc::sync_file_range(fd, off, len, libc::SYNC_FILE_RANGE_WRITE) };
            }
            handed_over = written;
        }
        Ok::<(), std::io::Error>(())
    };
    while let Some(chunk) = rx.blocking_recv() {
        pending_len += chunk.len();
        pending.push(chunk);
        if pending_len >= SPOOL_WRITE_BYTES || pending.len() >= 512 {
            flush(&mut pending, &mut file)?;
            pending_len = 0;
        }
    }
    flush(&mut pending, &mut file)?;
    // A shorter body than reserved must not leave preallocated zeros behind.
    file.set_len(written)?;
    file.sync_all()
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
