//! New documents from a byte stream in one step: the multipart upload
//! (`POST /api/documents`), the watched folder and e-mail intake all store through
//! [`store_new`].
//!
//! It is the three-step flow (upload URL, `PUT`, confirm) run by the server: the same
//! validation ([`service::validate_upload`]), the same pending row with its quota
//! reservation and the pending-per-user limit, the bytes streamed into the row's staging
//! object ([`crate::storage::ObjectStore::write_from`]: never held whole in memory; a
//! multipart upload on S3), then [`service::confirm`] itself (duplicates rule, charge,
//! first version, `queued` and dispatch).
//!
//! When the size is not known beforehand, the row reserves a bound (the request's
//! length when given, at most `storage.max_object_bytes`, at most what the quota has
//! left) and is settled to the bytes actually stored before confirming; the row's size
//! always equals its reservation, so `docuvault fsck` holds throughout. The stream is cut
//! off as soon as it passes `storage.max_object_bytes` (413 `payload_too_large`) or,
//! when the quota bounded the reservation, what the quota has left (413
//! `quota_exceeded`). On every failure the row goes first (releasing the reservation),
//! then whatever was stored; nothing stays stored or charged.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QuerySelect, Set,
};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, ReadBuf};
use uuid::Uuid;

use crate::documents::files::{delete_object_or_retry_later, sanitize_filename, staging_key};
use crate::documents::lifecycle::{self, RemoveIf};
use crate::documents::quota::{release_reservation, reserve_quota};
use crate::documents::service::{
    self, UploadError, ValidUpload, quota_detail, quota_of, validate_upload,
};
use crate::documents::{access, versions};
use crate::domain::{DOCUMENT_TYPES, DocumentId, FolderId, ObjectKey, TopicId, UserId};
use crate::entities::{DocumentStatus, documents, folders, topics};
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
use crate::storage::StorageError;

/// A new document to store from a byte stream.
#[derive(Debug, Clone)]
pub struct NewDocument {
    /// The file's name (path parts are dropped, as for every upload).
    pub filename: String,
    /// Declared type; `None` or `application/octet-stream` → from the extension.
    pub content_type: Option<String>,
    /// Exact size when known beforehand (file, attachment).
    pub size: Option<u64>,
    /// Folder to file it in (one of the user's; root when `None`).
    pub folder_id: Option<FolderId>,
    /// Topics to file it under by hand (`source = user`), already resolved and owned by
    /// the user (e.g. by [`resolve_topics`]).
    pub topic_ids: Vec<TopicId>,
}

/// Folder and topics that arrive only after the bytes (a multipart form whose `file`
/// part comes first): applied with those of [`NewDocument`] before confirming.
#[derive(Debug, Default)]
pub struct LateFields {
    /// Folder to file it in (overrides [`NewDocument::folder_id`] when set).
    pub folder_id: Option<FolderId>,
    /// More topics (added to [`NewDocument::topic_ids`]).
    pub topic_ids: Vec<TopicId>,
}

/// What a caller of [`store_new_with`] knows besides the [`NewDocument`].
#[derive(Debug, Default)]
pub struct Intake {
    /// An upper bound of the body's size when the exact size is unknown (a request's
    /// `Content-Length`): the reservation is no larger.
    pub size_hint: Option<u64>,
    /// Fields sent after the bytes; awaited once the body has ended (a dropped sender
    /// means none).
    pub late: Option<tokio::sync::oneshot::Receiver<LateFields>>,
}

/// Stores a new document for `user` from a byte stream in one step (validation, quota,
/// duplicates, charge, queued + dispatched): multipart uploads, the watched folder, mail.
///
/// A body that fails with an [`io::Error`] wrapping an [`ApiError`]
/// (`io::Error::other(api_error)`) makes that error the answer; any other read error is
/// a 400 (the upload was interrupted). Returns the document as stored: `queued`, or
/// further along when a worker took it already.
pub async fn store_new(
    state: &AppState,
    user: UserId,
    new: NewDocument,
    body: impl AsyncRead + Unpin + Send,
) -> Result<documents::Model, UploadError> {
    store_new_with(state, user, new, body, Intake::default()).await
}

/// [`store_new`] with what the caller knows besides: a bound of the size, fields that
/// arrive after the bytes.
pub async fn store_new_with(
    state: &AppState,
    user: UserId,
    new: NewDocument,
    mut body: impl AsyncRead + Unpin + Send,
    intake: Intake,
) -> Result<documents::Model, UploadError> {
    let settings = &state.settings;
    let declared_type = content_type_of(&new.filename, new.content_type.as_deref())?;
    let declared_size = new.size.map(|s| i64::try_from(s).unwrap_or(i64::MAX));
    let ValidUpload {
        filename,
        content_type,
        extension,
    } = validate_upload(
        settings,
        &new.filename,
        &declared_type,
        declared_size.unwrap_or(0),
    )?;
    if let Some(folder) = new.folder_id {
        check_folder(&state.db, user, folder).await?;
    }

    // What to reserve, and whether the quota (not the size limit) bounds the stream.
    let max = settings.storage.max_object_bytes;
    let (reserved, quota_cap) = match declared_size {
        Some(size) => (size, None),
        None => {
            let bound =
                i64::try_from(intake.size_hint.map_or(max, |h| h.min(max))).unwrap_or(i64::MAX);
            let quota = quota_of(&state.db, user).await?;
            let left = quota
                .limit_bytes
                .saturating_sub(quota.used_bytes)
                .saturating_sub(quota.reserved_bytes)
                .max(0);
            if left < bound {
                (left, Some(u64::try_from(left).unwrap_or(0)))
            } else {
                (bound, None)
            }
        }
    };
    // The local backend bounds the bytes it receives at once, as for signed PUTs.
    let _admitted = match &state.local_store {
        Some(local) => Some(
            local
                .admit_upload(u64::try_from(reserved).unwrap_or(0))
                .ok_or_else(|| {
                    ApiError::ServiceUnavailable(
                        "Too many uploads are being received right now; retry shortly".into(),
                    )
                })?,
        ),
        None => None,
    };

    let doc = create_pending(
        state,
        user,
        &filename,
        content_type,
        &extension,
        reserved,
        &new,
    )
    .await?;
    let key = ObjectKey::parse(&doc.object_key).map_err(|e| ApiError::Internal(e.into()))?;
    let staging = staging_key(&key)?;

    // Cut off before the cleanup job would expire the pending row.
    let ttl = std::time::Duration::from_secs(settings.documents.pending_ttl_secs);
    let mut metered = Metered {
        inner: &mut body,
        read: 0,
        max,
        quota_cap,
        deadline: Box::pin(tokio::time::sleep(ttl.mul_f64(0.9))),
        failure: None,
        hasher: Sha256::new(),
    };
    let written = state
        .storage
        .write_from(&staging, &mut metered, content_type)
        .await;
    let failure = metered.failure.take();
    // The bytes hashed are the bytes the store was handed: confirm need not read them back.
    let sha256 = hex::encode(std::mem::take(&mut metered.hasher).finalize());
    let size = match (written, failure) {
        (_, Some(failure)) => {
            abandon(state, &doc).await;
            return Err(failure.into_error(state, user, max).await);
        }
        (Err(e), None) => {
            abandon(state, &doc).await;
            return Err(storage_error(e).into());
        }
        (Ok(n), None) => n,
    };

    let late = match intake.late {
        Some(rx) => rx.await.unwrap_or_default(),
        None => LateFields::default(),
    };
    let folder = late.folder_id.or(new.folder_id);
    let mut topic_ids = new.topic_ids;
    topic_ids.extend(late.topic_ids);
    if let Err(e) = settle(state, user, &doc, size, folder, topic_ids).await {
        abandon(state, &doc).await;
        return Err(e);
    }
    let id = DocumentId::from(doc.id);
    if let Err(e) = service::confirm_hashed(state, user, id, Some(sha256)).await {
        // A refused confirm discarded it already; anything else leaves it pending.
        abandon(state, &doc).await;
        return Err(e);
    }
    Ok(access::owned(&state.db, user, id).await?)
}

/// The declared type, or the one the file name's extension names when none (or
/// `application/octet-stream`) was declared; 415 when the extension names none.
fn content_type_of(filename: &str, declared: Option<&str>) -> Result<String, ApiError> {
    if let Some(declared) = declared
        .map(str::trim)
        .filter(|ct| !ct.is_empty() && !is_octet_stream(ct))
    {
        return Ok(declared.to_owned());
    }
    type_from_extension(filename)
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiError::UnsupportedMediaType(format!(
                "The type of this file cannot be told from its name; upload {} (or declare its type)",
                crate::domain::document_type::accepted_labels()
            ))
        })
}

fn is_octet_stream(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|e| e.trim().eq_ignore_ascii_case("application/octet-stream"))
}

/// The accepted content type a file name's extension stands for (`scan.PDF` →
/// `application/pdf`), if any.
pub fn type_from_extension(filename: &str) -> Option<&'static str> {
    let name = sanitize_filename(filename)?;
    let (_, ext) = name.rsplit_once('.')?;
    let ext = ext.to_ascii_lowercase();
    DOCUMENT_TYPES
        .iter()
        .find(|t| t.extensions.contains(&ext.as_str()))
        .map(|t| t.content_type)
}

async fn check_folder(
    db: &impl ConnectionTrait,
    user: UserId,
    folder: FolderId,
) -> Result<(), ApiError> {
    folders::Entity::find_by_id(folder)
        .filter(folders::Column::UserId.eq(user))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::NotFound("No such folder".into()))?;
    Ok(())
}

/// The pending row with its reservation of `reserved` bytes (its size until settled),
/// under the pending-per-user limit, as `create_upload` makes it.
async fn create_pending(
    state: &AppState,
    user: UserId,
    filename: &str,
    content_type: &str,
    extension: &str,
    reserved: i64,
    new: &NewDocument,
) -> Result<documents::Model, UploadError> {
    let txn = crate::db::begin_write(&state.db).await?;
    if !reserve_quota(&txn, user, reserved).await? {
        txn.rollback().await?;
        return Err(UploadError::QuotaExceeded(
            quota_detail(&state.db, user, reserved).await?,
        ));
    }
    if versions::open_uploads(&txn, user).await? >= state.settings.documents.max_pending_per_user {
        txn.rollback().await?;
        return Err(ApiError::TooManyRequests {
            retry_after_secs: 60,
        }
        .into());
    }
    let id = DocumentId::new();
    let key = ObjectKey::parse(&format!("{user}/{id}/{}{extension}", Uuid::new_v4()))
        .map_err(|e| ApiError::Internal(e.into()))?;
    let now = crate::time::now();
    let doc = documents::ActiveModel {
        id: Set(id.into()),
        user_id: Set(user.into()),
        folder_id: Set(new.folder_id.map(Uuid::from)),
        filename: Set(filename.to_owned()),
        object_key: Set(key.as_str().to_owned()),
        content_type: Set(content_type.to_owned()),
        size_bytes: Set(reserved),
        sha256: Set(None),
        storage_backend: Set(state.storage.kind().to_owned()),
        status: Set(DocumentStatus::Pending),
        attempts: Set(0),
        last_error: Set(None),
        lease_expires_at: Set(None),
        ai_opt_out: Set(false),
        classified_by: Set(None),
        status_reason: Set(None),
        thumbnail_key: Set(None),
        thumbnail_error: Set(None),
        progress_page: Set(None),
        progress_pages: Set(None),
        trashed_at: Set(None),
        document_date: Set(None),
        document_date_source: Set(None),
        page_count: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(doc)
}

/// Settles the pending row to the `size` bytes stored (its reservation with it), files
/// it in `folder` and under `topic_ids` (by hand), in one transaction, so confirm finds
/// the upload as if its size had been declared.
async fn settle(
    state: &AppState,
    user: UserId,
    doc: &documents::Model,
    size: u64,
    folder: Option<FolderId>,
    topic_ids: Vec<TopicId>,
) -> Result<(), UploadError> {
    let size = i64::try_from(size).unwrap_or(i64::MAX);
    let txn = crate::db::begin_write(&state.db).await?;
    if let Some(folder) = folder {
        check_folder(&txn, user, folder).await?;
    }
    if !lifecycle::hold_pending(&txn, doc.id).await? {
        txn.rollback().await?;
        return Err(ApiError::Unprocessable {
            code: ErrorCode::UploadNotFound,
            message: "The upload expired before it was stored; upload again".into(),
        }
        .into());
    }
    let reserved = doc.size_bytes;
    if size > reserved {
        if !reserve_quota(&txn, user, size - reserved).await? {
            txn.rollback().await?;
            return Err(UploadError::QuotaExceeded(
                quota_detail(&state.db, user, size).await?,
            ));
        }
    } else if size < reserved {
        release_reservation(&txn, user, reserved - size).await?;
    }
    let mut update = documents::Entity::update_many()
        .col_expr(documents::Column::SizeBytes, Expr::value(size))
        .filter(documents::Column::Id.eq(doc.id))
        .filter(documents::Column::Status.eq(DocumentStatus::Pending));
    if let Some(folder) = folder {
        update = update.col_expr(
            documents::Column::FolderId,
            Expr::value(Some(Uuid::from(folder))),
        );
    }
    update.exec(&txn).await?;
    if !topic_ids.is_empty() {
        service::set_user_topics(&txn, doc, topic_ids).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Gives up a pending upload: the row first (releasing its reservation), and only when
/// this removed it, its staging and final objects (deletions cleanup retries when
/// storage fails). Never fails: what it cannot do now, cleanup does later.
async fn abandon(state: &AppState, doc: &documents::Model) {
    let removed = async {
        let txn = crate::db::begin_write(&state.db).await?;
        let removed =
            lifecycle::remove(&txn, doc.id, RemoveIf::Pending { user: doc.user_id }).await?;
        txn.commit().await?;
        Ok::<_, ApiError>(removed)
    }
    .await;
    match removed {
        Ok(Some(_)) => {}
        // Confirmed meanwhile (cannot happen when confirm failed) or already removed by
        // a refused confirm or the cleanup job, which deleted its objects then; a stale
        // staging object left by this stream is removed below all the same.
        Ok(None) => {}
        Err(e) => {
            // The row stays pending: the cleanup job expires it, objects included.
            tracing::warn!(document = %doc.id, error = %e, "could not remove a failed upload's row");
            return;
        }
    }
    let Ok(key) = ObjectKey::parse(&doc.object_key) else {
        return;
    };
    let confirmed = documents::Entity::find_by_id(doc.id)
        .filter(documents::Column::Status.ne(DocumentStatus::Pending))
        .one(&state.db)
        .await;
    if !matches!(confirmed, Ok(None)) {
        // Someone else's confirmed document now (never expected): keep its bytes.
        return;
    }
    let keys = match staging_key(&key) {
        Ok(staging) => vec![staging, key],
        Err(_) => vec![key],
    };
    for k in keys {
        if let Err(e) = delete_object_or_retry_later(&state.db, state.storage.as_ref(), &k).await {
            tracing::warn!(document = %doc.id, key = %k, error = %e, "could not remove a failed upload's object");
        }
    }
}

fn storage_error(e: StorageError) -> ApiError {
    match e {
        StorageError::Io(io) if io.kind() == io::ErrorKind::StorageFull => {
            ApiError::InsufficientStorage("The server has no space left for this file".into())
        }
        e => ApiError::ServiceUnavailable(format!("Object storage unavailable: {e}")),
    }
}

/// Why [`Metered`] stopped a stream.
enum Failure {
    /// Past `storage.max_object_bytes`.
    TooLarge,
    /// Past what the quota had left, after this many bytes.
    OverQuota(u64),
    /// Longer than the pending upload lives.
    Expired,
    /// The body itself failed.
    Body(ApiError),
}

impl Failure {
    async fn into_error(self, state: &AppState, user: UserId, max: u64) -> UploadError {
        match self {
            Failure::TooLarge => ApiError::PayloadTooLarge(format!(
                "Files may be at most {max} bytes on this server"
            ))
            .into(),
            Failure::OverQuota(read) => {
                let rejected = i64::try_from(read).unwrap_or(i64::MAX);
                match quota_detail(&state.db, user, rejected).await {
                    Ok(detail) => UploadError::QuotaExceeded(detail),
                    Err(e) => e.into(),
                }
            }
            Failure::Expired => ApiError::RequestTimeout(
                "The upload took longer than an upload may stay unconfirmed; upload again".into(),
            )
            .into(),
            Failure::Body(e) => e.into(),
        }
    }
}

/// The error a failed body read stands for: the [`ApiError`] it wraps, else a 400.
fn body_error(e: io::Error) -> ApiError {
    if e.get_ref().is_some_and(|inner| inner.is::<ApiError>())
        && let Some(inner) = e.into_inner()
        && let Ok(api) = inner.downcast::<ApiError>()
    {
        return *api;
    }
    ApiError::bad_request("The upload was interrupted; upload again")
}

/// Counts what the store reads and stops the stream (with an error the store sees, and
/// the reason kept in `failure`) past the size limit, past the quota's bound, past the
/// deadline, or when the body fails.
struct Metered<R> {
    inner: R,
    read: u64,
    max: u64,
    quota_cap: Option<u64>,
    deadline: Pin<Box<tokio::time::Sleep>>,
    failure: Option<Failure>,
    /// SHA-256 of every byte handed on.
    hasher: Sha256,
}

impl<R> Metered<R> {
    fn stop(&mut self, failure: Failure) -> Poll<io::Result<()>> {
        self.failure = Some(failure);
        Poll::Ready(Err(io::Error::other("upload stopped")))
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Metered<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.failure.is_some() {
            return Poll::Ready(Err(io::Error::other("upload stopped")));
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            return this.stop(Failure::Expired);
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => this.stop(Failure::Body(body_error(e))),
            Poll::Ready(Ok(())) => {
                let fresh = &buf.filled()[before..];
                this.hasher.update(fresh);
                this.read += fresh.len() as u64;
                if this.read > this.max {
                    return this.stop(Failure::TooLarge);
                }
                if this.quota_cap.is_some_and(|cap| this.read > cap) {
                    return this.stop(Failure::OverQuota(this.read));
                }
                Poll::Ready(Ok(()))
            }
        }
    }
}

/// Resolves topics named by the user (each an id or the name of one of their own or a
/// system topic, names compared as the topics service compares them; an entry no topic
/// matches as a whole may list several, comma-separated) to their ids, each once, in
/// order. An unknown one is a 422 `unknown_topic` naming it.
pub async fn resolve_topics(
    db: &impl ConnectionTrait,
    user: UserId,
    names_or_ids: &[String],
) -> Result<Vec<TopicId>, ApiError> {
    let wanted: Vec<&str> = names_or_ids
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let usable: Vec<(Uuid, String)> = topics::Entity::find()
        .select_only()
        .column(topics::Column::Id)
        .column(topics::Column::Name)
        .filter(
            Condition::any()
                .add(topics::Column::UserId.eq(user))
                .add(topics::Column::UserId.is_null()),
        )
        .into_tuple()
        .all(db)
        .await?;
    let find = |entry: &str| -> Option<Uuid> {
        if let Ok(id) = Uuid::parse_str(entry)
            && usable.iter().any(|(t, _)| *t == id)
        {
            return Some(id);
        }
        let key = crate::topics::service::clash_key(entry);
        usable
            .iter()
            .find(|(_, name)| crate::topics::service::clash_key(name) == key)
            .map(|(id, _)| *id)
    };
    let mut out: Vec<TopicId> = Vec::new();
    for entry in wanted {
        let ids = match find(entry) {
            Some(id) => vec![id],
            None => entry
                .split(',')
                .map(str::trim)
                .filter(|part| !part.is_empty())
                .map(|part| find(part).ok_or_else(|| unknown_topic(part)))
                .collect::<Result<Vec<_>, _>>()?,
        };
        for id in ids {
            let id = TopicId::from(id);
            if !out.contains(&id) {
                out.push(id);
            }
        }
    }
    if out.len() > MAX_TOPICS {
        return Err(ApiError::Unprocessable {
            code: ErrorCode::ValidationFailed,
            message: format!("At most {MAX_TOPICS} topics per document"),
        });
    }
    Ok(out)
}

/// Most topics one upload may name (as `PATCH /api/documents/{id}` allows).
pub const MAX_TOPICS: usize = 50;

fn unknown_topic(entry: &str) -> ApiError {
    let shown: String = entry.chars().take(100).collect();
    ApiError::Unprocessable {
        code: ErrorCode::UnknownTopic,
        message: format!(
            "No topic \"{shown}\": name one of your own topics or a system topic, or give its id"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::{content_type_of, is_octet_stream, type_from_extension};

    #[test]
    fn the_extension_names_the_type_when_none_or_octet_stream_is_declared() {
        assert_eq!(type_from_extension("scan.PDF"), Some("application/pdf"));
        assert_eq!(type_from_extension("dir/notes.md"), Some("text/markdown"));
        assert_eq!(type_from_extension("photo.jpeg"), Some("image/jpeg"));
        assert_eq!(type_from_extension("archive.zip"), None);
        assert_eq!(type_from_extension("README"), None);
        assert!(is_octet_stream("Application/Octet-Stream; charset=binary"));
        assert_eq!(
            content_type_of("a.pdf", Some("application/octet-stream")).ok(),
            Some("application/pdf".to_owned())
        );
        assert_eq!(
            content_type_of("a.pdf", Some("text/plain")).ok(),
            Some("text/plain".to_owned())
        );
        assert_eq!(
            content_type_of("a.txt", None).ok(),
            Some("text/plain".to_owned())
        );
        assert!(content_type_of("a.exe", None).is_err());
    }
}
