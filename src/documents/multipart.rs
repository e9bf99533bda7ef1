//! `POST /api/documents` with `multipart/form-data`: the form read part by part, its
//! `file` part streamed into [`direct::store_new_with`] as it arrives (never buffered
//! whole).
//!
//! The store runs in a task of its own, fed over a bounded channel: a client that goes
//! away mid-upload ends the stream with an error, so the task removes what it stored
//! rather than being dropped halfway. `folder_id` and `topics` may come before or after
//! the file (`curl -F file=@x.pdf -F topics=Tax` sends them after): fields sent later
//! are handed over when the form ends, before the upload is confirmed. Slow bodies are
//! cut off like signed `PUT`s (`storage.upload_idle_timeout_secs`,
//! `storage.upload_min_bytes_per_sec`).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use actix_multipart::{Field, Multipart};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, http::header};
use futures_util::StreamExt;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::{mpsc, oneshot};

use crate::documents::direct::{self, Intake, LateFields, NewDocument};
use crate::documents::service::UploadError;
use crate::domain::{FolderId, UserId};
use crate::entities::documents;
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
use crate::storage::UploadLimits;

/// Chunks (of at most 64 KiB, the parser's buffer) in flight to the store task.
const CHANNEL_CHUNKS: usize = 16;
/// Longest value of a `folder_id` or `topics` part.
const MAX_FIELD_BYTES: usize = 4096;
/// Most `topics` parts.
const MAX_TOPIC_PARTS: usize = 50;

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::BadRequest {
        code: ErrorCode::MultipartInvalid,
        message: message.into(),
    }
}

/// What the store task is fed.
enum Msg {
    Data(Bytes),
    End,
    Fail(ApiError),
}

/// The `file` part as the store task reads it: chunks until `End`; `Fail` (or the
/// handler going away) is an error wrapping the [`ApiError`] to answer with.
struct ChannelBody {
    rx: mpsc::Receiver<Msg>,
    chunk: Bytes,
    ended: bool,
}

impl AsyncRead for ChannelBody {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.chunk.is_empty() {
                let n = this.chunk.len().min(buf.remaining());
                buf.put_slice(&this.chunk.split_to(n));
                return Poll::Ready(Ok(()));
            }
            if this.ended {
                return Poll::Ready(Ok(()));
            }
            match ready!(this.rx.poll_recv(cx)) {
                Some(Msg::Data(bytes)) => this.chunk = bytes,
                Some(Msg::End) => this.ended = true,
                Some(Msg::Fail(e)) => return Poll::Ready(Err(io::Error::other(e))),
                None => {
                    return Poll::Ready(Err(io::Error::other(ApiError::bad_request(
                        "The upload was interrupted; upload again",
                    ))));
                }
            }
        }
    }
}

/// The idle and minimum-rate limits of a request body.
struct Pace {
    limits: UploadLimits,
    start: tokio::time::Instant,
    last: tokio::time::Instant,
    received: u64,
}

impl Pace {
    fn new(limits: UploadLimits) -> Self {
        let now = tokio::time::Instant::now();
        Self {
            limits,
            start: now,
            last: now,
            received: 0,
        }
    }

    /// `next`, unless the body stalls or trickles first (408).
    async fn next<T>(&mut self, next: impl Future<Output = T>) -> Result<T, ApiError> {
        let idle = self.last + self.limits.idle_timeout;
        let deadline = self
            .limits
            .rate_deadline(self.start, self.received)
            .map_or(idle, |rate| rate.min(idle));
        let got = tokio::time::timeout_at(deadline, next).await.map_err(|_| {
            ApiError::RequestTimeout("The upload was too slow; upload again".into())
        })?;
        self.last = tokio::time::Instant::now();
        Ok(got)
    }
}

/// The store task and its feed.
struct Running {
    tx: mpsc::Sender<Msg>,
    late: oneshot::Sender<LateFields>,
    task: tokio::task::JoinHandle<Result<documents::Model, UploadError>>,
}

impl Running {
    /// Ends the stream with `e` (unless the task already ended on its own, whose error
    /// then stands) and waits for the task's answer.
    async fn fail(self, e: ApiError) -> Result<documents::Model, UploadError> {
        let _ = self.tx.send(Msg::Fail(e)).await;
        outcome(self.tx, self.task).await
    }

    /// Ends the stream (with the fields sent after the file) and waits for the answer.
    async fn end(self, late: LateFields) -> Result<documents::Model, UploadError> {
        let _ = self.late.send(late);
        let _ = self.tx.send(Msg::End).await;
        outcome(self.tx, self.task).await
    }
}

/// The store task's answer, once the feed is closed.
async fn outcome(
    tx: mpsc::Sender<Msg>,
    task: tokio::task::JoinHandle<Result<documents::Model, UploadError>>,
) -> Result<documents::Model, UploadError> {
    drop(tx);
    task.await.map_err(|e| {
        UploadError::Api(ApiError::Internal(anyhow::anyhow!(
            "the upload task failed: {e}"
        )))
    })?
}

/// Fields other than the file, as sent so far.
#[derive(Default)]
struct Metadata {
    folder_id: Option<FolderId>,
    topics: Vec<String>,
}

/// Reads a one-request upload and stores it: see the module documentation.
pub async fn receive(
    state: &AppState,
    user: UserId,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<documents::Model, UploadError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("multipart/form-data") {
        return Err(ApiError::UnsupportedMediaType(
            "Send the file as multipart/form-data (a `file` part), or start an upload with \
             POST /api/documents/upload-url"
                .into(),
        )
        .into());
    }
    let size_hint = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut form = Multipart::new(req.headers(), payload);
    let mut pace = Pace::new(UploadLimits::from_settings(&state.settings.storage));
    let mut meta = Metadata::default();
    let mut running: Option<Running> = None;

    let (read, part) = read_form(
        state,
        user,
        &mut form,
        &mut pace,
        &mut meta,
        &mut running,
        size_hint,
    )
    .await;
    let outcome = match (read, running) {
        (Err(e), None) => Err(e.into()),
        (Err(e), Some(run)) => run.fail(e).await,
        (Ok(()), None) => Err(invalid("The form has no `file` part").into()),
        (Ok(()), Some(run)) => match late_fields(state, user, meta).await {
            Ok(late) => run.end(late).await,
            Err(e) => run.fail(e).await,
        },
    };
    if outcome.is_err() {
        // Read (and drop) what the client still sends, up to a bound, so it gets the
        // answer rather than a reset connection.
        let mut budget = state.settings.storage.max_object_bytes;
        if let Some(mut part) = part {
            part.drain(&mut pace, &mut budget).await;
        }
        while budget > 0
            && let Ok(Some(Ok(field))) = pace.next(form.next()).await
        {
            Part::new(field).drain(&mut pace, &mut budget).await;
        }
    }
    outcome
}

/// One part of the form, never polled past its end.
struct Part {
    field: Field,
    done: bool,
}

impl Part {
    fn new(field: Field) -> Self {
        Self { field, done: false }
    }

    /// The next chunk, `None` at the end.
    async fn chunk(&mut self, pace: &mut Pace) -> Result<Option<Bytes>, ApiError> {
        if self.done {
            return Ok(None);
        }
        match pace.next(self.field.next()).await {
            Ok(Some(Ok(chunk))) => {
                pace.received += chunk.len() as u64;
                Ok(Some(chunk))
            }
            Ok(None) => {
                self.done = true;
                Ok(None)
            }
            Ok(Some(Err(e))) => {
                self.done = true;
                Err(invalid(format!("Malformed multipart form: {e}")))
            }
            Err(e) => {
                self.done = true;
                Err(e)
            }
        }
    }

    /// Reads and drops the rest, at most `budget` bytes (used up by what it reads).
    async fn drain(&mut self, pace: &mut Pace, budget: &mut u64) {
        while *budget > 0
            && let Ok(Some(chunk)) = self.chunk(pace).await
        {
            *budget = budget.saturating_sub(chunk.len() as u64);
        }
    }

    /// The value of a small text part.
    async fn text(&mut self, pace: &mut Pace) -> Result<String, ApiError> {
        let name = self.field.name().unwrap_or_default().to_owned();
        let mut value = Vec::new();
        while let Some(chunk) = self.chunk(pace).await? {
            if value.len() + chunk.len() > MAX_FIELD_BYTES {
                return Err(invalid(format!(
                    "`{name}` may be at most {MAX_FIELD_BYTES} bytes"
                )));
            }
            value.extend_from_slice(&chunk);
        }
        String::from_utf8(value).map_err(|_| invalid(format!("`{name}` must be UTF-8 text")))
    }

    /// Streams the part to the store task; when the task has ended (refusing the
    /// upload), stops with an error that its answer replaces.
    async fn pump(&mut self, pace: &mut Pace, tx: &mpsc::Sender<Msg>) -> Result<(), ApiError> {
        while let Some(chunk) = self.chunk(pace).await? {
            if tx.send(Msg::Data(chunk)).await.is_err() {
                return Err(ApiError::bad_request("The upload was refused"));
            }
        }
        Ok(())
    }
}

/// Reads the form: metadata into `meta`, the file streamed to a store task started in
/// `running`. On an error, also the part being read (to drain it).
async fn read_form(
    state: &AppState,
    user: UserId,
    form: &mut Multipart,
    pace: &mut Pace,
    meta: &mut Metadata,
    running: &mut Option<Running>,
    size_hint: Option<u64>,
) -> (Result<(), ApiError>, Option<Part>) {
    loop {
        let field = match pace.next(form.next()).await {
            Ok(None) => return (Ok(()), None),
            Ok(Some(Ok(field))) => field,
            Ok(Some(Err(e))) => {
                return (Err(invalid(format!("Malformed multipart form: {e}"))), None);
            }
            Err(e) => return (Err(e), None),
        };
        let mut part = Part::new(field);
        if let Err(e) = read_part(state, user, &mut part, pace, meta, running, size_hint).await {
            return (Err(e), Some(part));
        }
    }
}

async fn read_part(
    state: &AppState,
    user: UserId,
    part: &mut Part,
    pace: &mut Pace,
    meta: &mut Metadata,
    running: &mut Option<Running>,
    size_hint: Option<u64>,
) -> Result<(), ApiError> {
    let name = part.field.name().unwrap_or_default().to_owned();
    match name.as_str() {
        "file" => {
            if running.is_some() {
                return Err(invalid("Send exactly one `file` part"));
            }
            let run = start(state, user, &part.field, meta, size_hint).await?;
            let run = running.insert(run);
            part.pump(pace, &run.tx).await
        }
        "folder_id" => {
            let value = part.text(pace).await?;
            let value = value.trim();
            meta.folder_id = if value.is_empty() {
                None
            } else {
                Some(FolderId::from(uuid::Uuid::parse_str(value).map_err(
                    |_| invalid("`folder_id` must be a folder's id (a UUID)"),
                )?))
            };
            Ok(())
        }
        "topics" => {
            if meta.topics.len() >= MAX_TOPIC_PARTS {
                return Err(invalid(format!("At most {MAX_TOPIC_PARTS} `topics` parts")));
            }
            let value = part.text(pace).await?;
            meta.topics.push(value);
            Ok(())
        }
        other => {
            let shown: String = other.chars().take(100).collect();
            Err(invalid(format!(
                "Unknown form field `{shown}` (send `file`, and optionally `folder_id` and `topics`)"
            )))
        }
    }
}

/// Starts the store task for the `file` part with the metadata sent before it (which
/// is then used up; what comes later is handed over at the end).
async fn start(
    state: &AppState,
    user: UserId,
    field: &Field,
    meta: &mut Metadata,
    size_hint: Option<u64>,
) -> Result<Running, ApiError> {
    let filename = field
        .content_disposition()
        .and_then(|cd| cd.get_filename())
        .map(str::to_owned)
        .ok_or_else(|| invalid("The `file` part needs a filename"))?;
    let content_type = field.content_type().map(|m| m.essence_str().to_owned());
    let topic_ids =
        direct::resolve_topics(&state.db, user, &std::mem::take(&mut meta.topics)).await?;
    let new = NewDocument {
        filename,
        content_type,
        size: None,
        folder_id: meta.folder_id.take(),
        topic_ids,
    };
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let (late_tx, late_rx) = oneshot::channel();
    let body = ChannelBody {
        rx,
        chunk: Bytes::new(),
        ended: false,
    };
    let intake = Intake {
        size_hint,
        late: Some(late_rx),
    };
    let state = state.clone();
    let task =
        tokio::spawn(async move { direct::store_new_with(&state, user, new, body, intake).await });
    Ok(Running {
        tx,
        late: late_tx,
        task,
    })
}

/// The folder and topics sent after the file, checked (topics resolved; the folder is
/// checked when applied).
async fn late_fields(
    state: &AppState,
    user: UserId,
    meta: Metadata,
) -> Result<LateFields, ApiError> {
    Ok(LateFields {
        folder_id: meta.folder_id,
        topic_ids: direct::resolve_topics(&state.db, user, &meta.topics).await?,
    })
}
