//! `PUT`/`GET /storage/{token}`: the local backend's signed upload and download URLs.
//!
//! Uploads stream to a temp file on the same filesystem (never held in memory whole),
//! must match the signed content type and length exactly, are fsynced and renamed into
//! place. A body that stalls or trickles is cut off (`storage.upload_idle_timeout_secs`,
//! `storage.upload_min_bytes_per_sec`), the declared bytes being received at once are
//! bounded (`storage.max_inflight_upload_bytes`, else 503), and a full disk is a 507
//! that leaves nothing behind. Downloads stream the file as an attachment; a view URL's
//! grant asks for `inline` instead, served with `X-Content-Type-Options: nosniff` and
//! `Content-Security-Policy: sandbox` (no script, plugin or form of the bytes ever runs
//! with DocuVault's origin).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;

use crate::domain::ObjectKey;
use crate::error::ApiError;
use crate::storage::{Disposition, LocalStore};

fn denied() -> ApiError {
    ApiError::Forbidden {
        code: crate::error::ErrorCode::SignatureInvalid,
        message: "The URL is invalid or has expired".into(),
    }
}

/// The local store these URLs belong to; with S3 there is none and every URL is a 404.
pub type SignedUrlStore = web::Data<Option<LocalStore>>;

fn store(local: &SignedUrlStore) -> Result<&LocalStore, ApiError> {
    local.as_ref().as_ref().ok_or_else(ApiError::not_found)
}

/// Receives an upload for a signed `PUT` URL.
pub async fn put_object(
    local: SignedUrlStore,
    req: HttpRequest,
    token: web::Path<String>,
    mut body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let store = store(&local)?;
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
            code: crate::error::ErrorCode::UploadClosed,
            message: "This upload was already confirmed".into(),
        });
    }

    // The bytes being received server-wide are bounded (by declared size, so the bound
    // holds for the disk too): past it, the client retries shortly.
    let _admitted = store.admit_upload(expected).ok_or_else(|| {
        ApiError::ServiceUnavailable(
            "Too many uploads are being received right now; retry shortly".into(),
        )
    })?;

    let tmp = store
        .tmp_dir()
        .join(format!("upload-{}", uuid::Uuid::new_v4().simple()));
    // The body goes to a dedicated blocking writer (see `spool`): this task only moves the
    // received chunks over a bounded channel, so memory stays bounded by the channel.
    let file = std::fs::File::create(&tmp).map_err(write_error)?;
    let (tx, rx) = tokio::sync::mpsc::channel::<web::Bytes>(SPOOL_CHANNEL_CHUNKS);
    let writer = tokio::task::spawn_blocking(move || spool(file, rx));
    let limits = *store.upload_limits();
    let mut received: u64 = 0;
    let streamed: Result<(), ApiError> = async {
        let start = tokio::time::Instant::now();
        let mut last = start;
        let mut writer_gone = false;
        loop {
            // Cut off a body that stalls, or trickles below the minimum rate.
            let idle = last + limits.idle_timeout;
            let deadline = limits
                .rate_deadline(start, received)
                .map_or(idle, |rate| rate.min(idle));
            let chunk = match tokio::time::timeout_at(deadline, body.next()).await {
                Err(_) => {
                    return Err(ApiError::RequestTimeout(
                        "The upload was too slow; upload again".into(),
                    ));
                }
                Ok(None) => break,
                Ok(Some(chunk)) => {
                    chunk.map_err(|_| ApiError::bad_request("Upload interrupted"))?
                }
            };
            received += chunk.len() as u64;
            if received > expected {
                return Err(ApiError::PayloadTooLarge(
                    "More bytes than the signed length".into(),
                ));
            }
            // When the writer stopped early (its error is reported below, e.g. a full
            // disk), the rest of the body is read and dropped, so the client gets the
            // answer instead of a reset connection.
            if !writer_gone && tx.send(chunk).await.is_err() {
                writer_gone = true;
            }
            last = tokio::time::Instant::now();
        }
        Ok(())
    }
    .await;
    drop(tx);
    let written = writer
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("upload writer panicked: {e}")))
        .and_then(|r| r.map_err(write_error));
    let outcome: Result<(), ApiError> = async {
        // A full disk explains an early stop of the stream: report it first.
        written?;
        streamed?;
        if received != expected {
            return Err(ApiError::bad_request("Fewer bytes than the signed length"));
        }
        let dest = store.path(&key);
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(write_error)?;
        }
        tokio::fs::rename(&tmp, &dest).await.map_err(write_error)?;
        Ok(())
    }
    .await;
    if outcome.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    outcome?;
    Ok(HttpResponse::Ok().finish())
}

/// An I/O failure while storing an upload: a full disk or exhausted disk quota is the
/// client-visible 507 `insufficient_storage` (nothing is kept; reads keep working),
/// anything else a 500.
fn write_error(e: std::io::Error) -> ApiError {
    match e.raw_os_error() {
        Some(code) if code == libc::ENOSPC || code == libc::EDQUOT => {
            tracing::error!(error = %e, "upload refused: no space left for objects");
            ApiError::InsufficientStorage(
                "The server has no space left to store this upload; try again later".into(),
            )
        }
        _ => ApiError::Internal(e.into()),
    }
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
/// and an fsync at the end. Only received bytes are written (no preallocation: a client
/// that declares much and sends little occupies only what it sent), and whatever has
/// arrived is written as soon as no more is waiting, so a live upload's file is modified
/// at least once per idle timeout (what makes a stale temporary file recognisable).
pub(super) fn spool(
    mut file: std::fs::File,
    mut rx: tokio::sync::mpsc::Receiver<web::Bytes>,
) -> std::io::Result<()> {
    use std::io::{IoSlice, Write};
    use std::os::fd::AsRawFd;

    let fd = file.as_raw_fd();
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
        if pending_len >= SPOOL_WRITE_BYTES || pending.len() >= 512 || rx.is_empty() {
            flush(&mut pending, &mut file)?;
            pending_len = 0;
        }
    }
    flush(&mut pending, &mut file)?;
    file.sync_all()
}

/// Serves a download for a signed `GET` URL.
pub async fn get_object(
    local: SignedUrlStore,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let store = store(&local)?;
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
    let mut res = HttpResponse::Ok();
    res.insert_header((header::CONTENT_TYPE, grant.content_type))
        .insert_header((
            header::CONTENT_DISPOSITION,
            grant.disposition.header_value(&filename),
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-store"));
    if grant.disposition == Disposition::Inline {
        // Set here, not left to the app-wide defaults: shown in the browser, the bytes
        // must never be sniffed into another type nor run with this origin. (The
        // sandbox replaces the app's CSP for this response; `X-Frame-Options: DENY`
        // still comes from the defaults.)
        res.insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .insert_header((header::CONTENT_SECURITY_POLICY, "sandbox"));
    }
    Ok(res.no_chunking(len).streaming(stream))
}

/// Registers the signed-URL routes (not part of the API document: they are storage),
/// served from `local` (the assembly hands over the store from the application state).
pub fn configure(cfg: &mut web::ServiceConfig, local: SignedUrlStore) {
    cfg.service(
        web::resource("/storage/{token}")
            .app_data(local)
            .route(web::put().to(put_object))
            .route(web::get().to(get_object)),
    );
}
