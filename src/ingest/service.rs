//! The watched folder's loop: every `ingest.poll_secs` it walks the watched directory
//! ([`scanner::scan`]), and each file whose size and modification time held still for
//! `ingest.stable_secs` is claimed, stored as a document of the account its top folder
//! is named after ([`crate::documents::direct::store_new`], the upload rules and quota
//! included) in the DocuVault folder its sub-folders name, then moved to `.done/` or
//! deleted (`ingest.after`). A file that cannot be taken moves to `.failed/` with a
//! `<name>.reason.txt`.
//!
//! **Once, across restarts and instances.** The claim is the insert of the file's
//! `ingest_files` row (path, size, modification time): a partial unique index lets one
//! insert in while the file is in place, so instances polling one shared folder split
//! the files between them. The row records the outcome (`imported` + `document_id`, or
//! `failed` + `reason`) before the file is moved, and `finished_at` after; a file found
//! again with an outcome recorded (a crash between the two) is only moved. A claim not
//! renewed for [`CLAIM_STALE`] (the importing instance died) is taken over with a
//! conditional update; before importing again, the new owner looks for a document of
//! the account with the file's SHA-256 created since the first claim (the crash may
//! have come after the document was stored), and adopts it instead.
//!
//! Finished rows are pruned after [`KEEP_DAYS`] days; the status endpoint shows the
//! account's latest ones.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::documents::direct::{NewDocument, store_new};
use crate::documents::service::UploadError;
use crate::domain::{FolderId, UserId};
use crate::entities::documents;
use crate::entities::ingest_files::{self, IngestFileStatus};
use crate::entities::users::{self, Role};
use crate::error::{ApiError, ErrorCode};
use crate::folders::name::FolderName;
use crate::ingest::scanner::{self, DONE_DIR, FAILED_DIR, SeenFile, Tracker};
use crate::settings::IngestAfter;
use crate::state::AppState;

/// Files one instance imports at once.
pub const CONCURRENCY: usize = 4;
/// How often an importing instance renews its claim.
pub const CLAIM_RENEW: Duration = Duration::from_secs(60);
/// A claim not renewed for this long belongs to an instance that died; another takes
/// it over.
pub const CLAIM_STALE: Duration = Duration::from_secs(5 * 60);
/// Days a finished row is kept (the status list, and what an operator may look up).
pub const KEEP_DAYS: i64 = 30;
/// How often an instance prunes old rows.
const PRUNE_EVERY: Duration = Duration::from_secs(60 * 60);
/// Longest path (relative to the watched directory, in bytes) taken; longer ones fail.
const MAX_PATH_BYTES: usize = 1024;

/// What one round did (for the log and the tests).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoundReport {
    /// Files seen (not ignored).
    pub seen: usize,
    /// Files that became documents in this round.
    pub imported: usize,
    /// Files moved to `.failed/`.
    pub failed: usize,
    /// Files left for a later round: claimed elsewhere, or a failure that may pass.
    pub deferred: usize,
}

/// Starts the watched folder's loop on `tasks` when `ingest.watch_dir` is set (called
/// where the instance starts its workers).
pub fn spawn(state: &AppState, shutdown: &CancellationToken, tasks: &mut JoinSet<()>) {
    let Some(dir) = state.settings.ingest.dir() else {
        return;
    };
    tracing::info!(dir = %dir.display(), "watching the drop folder");
    tasks.spawn(run(state.clone(), dir, shutdown.clone()));
}

/// Polls `dir` until `shutdown`; a round in progress finishes its current files first.
pub async fn run(state: AppState, dir: PathBuf, shutdown: CancellationToken) {
    let poll = Duration::from_secs(state.settings.ingest.poll_secs);
    let mut tracker = Tracker::default();
    let mut last_prune: Option<Instant> = None;
    loop {
        if last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
            match prune(&state.db, crate::time::now()).await {
                Ok(n) if n > 0 => tracing::info!(rows = n, "pruned old watched-folder records"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not prune watched-folder records"),
            }
            last_prune = Some(Instant::now());
        }
        // Not raced against shutdown: files in flight finish (no new ones start).
        let report = round(&state, &dir, &mut tracker, &shutdown).await;
        if report.imported + report.failed > 0 {
            tracing::info!(
                seen = report.seen,
                imported = report.imported,
                failed = report.failed,
                deferred = report.deferred,
                "watched folder round"
            );
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(poll) => {}
        }
    }
    tracing::info!("watched folder stopped");
}

/// Who a top-level folder of the watched directory belongs to.
#[derive(Debug, Clone)]
enum Owner {
    /// A regular, active account.
    Account(UserId),
    /// Nobody who may import: the sentence saying why.
    Refused(String),
}

/// What became of one file.
enum Outcome {
    Imported,
    Failed,
    Deferred,
}

/// One scan of `dir` and the files ready in it.
pub async fn round(
    state: &AppState,
    dir: &Path,
    tracker: &mut Tracker,
    shutdown: &CancellationToken,
) -> RoundReport {
    // Paths are built on the canonical directory, so a symbolic link swapped into one
    // later is noticed (`scanner::move_aside`).
    let dir = &match tokio::fs::canonicalize(dir).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot read the watched folder");
            return RoundReport::default();
        }
    };
    let scan_dir = dir.to_path_buf();
    let files = match tokio::task::spawn_blocking(move || scanner::scan(&scan_dir)).await {
        Ok(Ok(files)) => files,
        Ok(Err(e)) => {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot read the watched folder");
            return RoundReport::default();
        }
        Err(e) => {
            tracing::warn!(error = %e, "watched folder scan failed");
            return RoundReport::default();
        }
    };
    let mut report = RoundReport {
        seen: files.len(),
        ..RoundReport::default()
    };
    let stable = Duration::from_secs(state.settings.ingest.stable_secs);
    let ready = tracker.observe(files, Instant::now(), stable);
    if ready.is_empty() {
        return report;
    }
    let mut owners: HashMap<Option<String>, Owner> = HashMap::new();
    for file in &ready {
        if !owners.contains_key(&file.handle_dir) {
            let owner = match owner_of(&state.db, file.handle_dir.as_deref()).await {
                Ok(o) => o,
                Err(e) => {
                    tracing::warn!(error = %e, "watched folder: cannot look up accounts");
                    report.deferred += ready.len();
                    return report;
                }
            };
            owners.insert(file.handle_dir.clone(), owner);
        }
    }
    let outcomes: Vec<(SeenFile, Outcome)> = futures_util::stream::iter(ready)
        .map(|file| {
            let owner = owners.get(&file.handle_dir).cloned();
            async move {
                if shutdown.is_cancelled() {
                    return (file, Outcome::Deferred);
                }
                let outcome = match owner {
                    Some(Owner::Account(user)) => take(state, dir, user, &file).await,
                    Some(Owner::Refused(reason)) => refuse(dir, &file, &reason).await,
                    None => Outcome::Deferred,
                };
                (file, outcome)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for (file, outcome) in outcomes {
        match outcome {
            Outcome::Imported => report.imported += 1,
            Outcome::Failed => report.failed += 1,
            Outcome::Deferred => {
                tracker.forget(&file);
                report.deferred += 1;
            }
        }
    }
    report
}

/// The account a top-level folder is named after, if it may import.
async fn owner_of(db: &DatabaseConnection, handle_dir: Option<&str>) -> Result<Owner, DbErr> {
    let Some(dir) = handle_dir else {
        return Ok(Owner::Refused(
            "Files must be inside a folder named after an account's handle, not directly in \
             the watched folder."
                .into(),
        ));
    };
    let Ok(handle) = crate::domain::Handle::parse(dir) else {
        return Ok(Owner::Refused(format!(
            "No account has the handle \"{dir}\"; the folder must be named after one."
        )));
    };
    let user = users::Entity::find()
        .filter(users::Column::Handle.eq(handle.as_str()))
        .one(db)
        .await?;
    Ok(match user {
        None => Owner::Refused(format!(
            "No account has the handle \"{dir}\"; the folder must be named after one."
        )),
        Some(u) if u.role == Role::Admin => Owner::Refused(format!(
            "\"{dir}\" is an administrator account, which has no documents."
        )),
        Some(u) if !u.is_active => Owner::Refused(format!(
            "The account \"{dir}\" is disabled; it cannot receive documents."
        )),
        Some(u) => Owner::Account(u.id.into()),
    })
}

/// Moves a file of no (eligible) account to `{watch_dir}/.failed/<its path>` with the
/// reason. No row: nothing was imported, and moving it again is harmless.
async fn refuse(dir: &Path, file: &SeenFile, reason: &str) -> Outcome {
    let from = file.path(dir);
    let base = dir.join(FAILED_DIR);
    let mut rel = Vec::with_capacity(file.rel.len() + 1);
    rel.extend(file.handle_dir.clone());
    rel.extend(file.rel.iter().cloned());
    let reason = reason.to_owned();
    let seen = file.clone();
    let moved = tokio::task::spawn_blocking(move || {
        scanner::fail_aside(&from, &base, &rel, Some(&seen), &reason)
    })
    .await;
    match moved {
        Ok(Ok(to)) => {
            tracing::info!(file = %file.key(), to = %to.display(), "watched folder: file of no account set aside");
            Outcome::Failed
        }
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => Outcome::Deferred,
        Ok(Err(e)) => {
            tracing::warn!(file = %file.key(), error = %e, "watched folder: cannot move a file to .failed");
            Outcome::Deferred
        }
        Err(e) => {
            tracing::warn!(error = %e, "watched folder: move task failed");
            Outcome::Deferred
        }
    }
}

/// What to do with a file of `user`: its row decides.
async fn take(state: &AppState, dir: &Path, user: UserId, file: &SeenFile) -> Outcome {
    match take_inner(state, dir, user, file).await {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!(file = %file.key(), error = %format!("{e:#}"), "watched folder: will try the file again");
            Outcome::Deferred
        }
    }
}

async fn take_inner(
    state: &AppState,
    dir: &Path,
    user: UserId,
    file: &SeenFile,
) -> anyhow::Result<Outcome> {
    let db = &state.db;
    let key = file.key();
    let size = i64::try_from(file.size).unwrap_or(i64::MAX);
    let now = crate::time::now();
    let row = match open_row(db, &key, size, file.mtime_ns).await? {
        None => match claim(db, user, &key, size, file.mtime_ns, now).await? {
            Some(row) => row,
            None => return Ok(Outcome::Deferred),
        },
        Some(row) => match row.status {
            // Decided before a crash (or a failed move): only the move is left.
            IngestFileStatus::Imported | IngestFileStatus::Failed => {
                return finish(state, dir, file, &row).await;
            }
            IngestFileStatus::Claimed => {
                let Some(row) = take_over(db, &row, now).await? else {
                    return Ok(Outcome::Deferred);
                };
                if let Some(doc) = stored_before_crash(db, dir, user, file, &row).await? {
                    tracing::info!(file = %key, document = %doc, "watched folder: adopting the document a crashed import stored");
                    let row = record(db, &row, IngestFileStatus::Imported, Some(doc), None).await?;
                    return finish(state, dir, file, &row).await;
                }
                row
            }
        },
    };
    let decided = match import(state, dir, user, file, &row).await {
        Ok(document) => record(db, &row, IngestFileStatus::Imported, Some(document), None).await?,
        Err(Refusal::Fail(reason)) => {
            record(db, &row, IngestFileStatus::Failed, None, Some(reason)).await?
        }
        Err(Refusal::Later(why)) => {
            release(db, &row).await?;
            tracing::warn!(file = %key, reason = %why, "watched folder: not imported now; trying again later");
            return Ok(Outcome::Deferred);
        }
    };
    finish(state, dir, file, &decided).await
}

/// Why a file was not imported.
enum Refusal {
    /// The file's fault (type, size, quota, duplicate, name): set it aside with this.
    Fail(String),
    /// Something that may pass (storage down, file changing): try again later.
    Later(String),
}

/// Stores the file as a document of `user` in the folder its path names, renewing the
/// claim while it runs.
async fn import(
    state: &AppState,
    dir: &Path,
    user: UserId,
    file: &SeenFile,
    row: &ingest_files::Model,
) -> Result<Uuid, Refusal> {
    if file.size == 0 {
        return Err(Refusal::Fail(
            "The file is empty (0 bytes); there is nothing to import.".into(),
        ));
    }
    if file.key().len() > MAX_PATH_BYTES {
        return Err(Refusal::Fail(format!(
            "The path is longer than {MAX_PATH_BYTES} bytes."
        )));
    }
    if crate::documents::direct::type_from_extension(file.name()).is_none() {
        return Err(Refusal::Fail(format!(
            "\"{}\" is not a document type DocuVault accepts ({}).",
            file.name(),
            crate::domain::document_type::accepted_labels()
        )));
    }
    let mut names = Vec::with_capacity(file.folders().len());
    for step in file.folders() {
        let name = FolderName::parse(step).map_err(|e| {
            Refusal::Fail(format!(
                "The folder name \"{step}\" cannot be used: {}.",
                e.0
            ))
        })?;
        names.push(name);
    }
    let folder_id: Option<FolderId> = crate::folders::service::ensure_path(&state.db, user, &names)
        .await
        .map_err(|e| match e {
            ApiError::Conflict { message, .. } => Refusal::Fail(format!(
                "The folder \"{}\" cannot be created: {message}.",
                file.folders().join("/")
            )),
            other => Refusal::Later(other.to_string()),
        })?;
    let body = tokio::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(file.path(dir))
        .await
        .map_err(|e| Refusal::Later(format!("cannot open the file: {e}")))?;
    // The very file found stable (not one swapped in since, through a link).
    match body.metadata().await {
        Ok(meta) if file.is(&meta) => {}
        Ok(_) => return Err(Refusal::Later("the file changed since it was found".into())),
        Err(e) => return Err(Refusal::Later(format!("cannot read the file: {e}"))),
    }
    let body = FileBody {
        inner: body,
        expected: file.size,
        read: 0,
    };
    let new = NewDocument {
        filename: file.name().to_owned(),
        content_type: None,
        size: Some(file.size),
        folder_id,
        topic_ids: Vec::new(),
    };
    let stored = store_new(state, user, new, body);
    tokio::pin!(stored);
    let mut renew =
        tokio::time::interval_at(tokio::time::Instant::now() + CLAIM_RENEW, CLAIM_RENEW);
    let result = loop {
        tokio::select! {
            r = &mut stored => break r,
            _ = renew.tick() => {
                if let Err(e) = renew_claim(&state.db, row.id).await {
                    tracing::warn!(error = %e, "watched folder: cannot renew a claim");
                }
            }
        }
    };
    result.map(|doc| doc.id).map_err(refusal)
}

/// A dropped file as an upload body: exactly the size it had when it was found stable.
/// More or fewer bytes mean it is still being written (`size_mismatch`: tried again
/// later), and a read error is the server's problem, not the file's (503: later too);
/// the store reports an `ApiError` wrapped in the read error as it is.
struct FileBody {
    inner: tokio::fs::File,
    expected: u64,
    read: u64,
}

impl FileBody {
    fn changed() -> std::io::Error {
        std::io::Error::other(ApiError::Unprocessable {
            code: ErrorCode::SizeMismatch,
            message: "The file changed while it was being read".into(),
        })
    }
}

impl tokio::io::AsyncRead for FileBody {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::task::Poll;
        let before = buf.filled().len();
        match std::pin::Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let n = (buf.filled().len() - before) as u64;
                self.read += n;
                if self.read > self.expected || (n == 0 && self.read < self.expected) {
                    return Poll::Ready(Err(Self::changed()));
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(std::io::Error::other(
                ApiError::ServiceUnavailable(format!("Reading the dropped file failed: {e}")),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Sorts a refused upload into the file's fault (a sentence for `.reason.txt`) and what
/// may pass.
fn refusal(e: UploadError) -> Refusal {
    match e {
        UploadError::QuotaExceeded(d) => {
            let free = d
                .limit_bytes
                .saturating_sub(d.used_bytes)
                .saturating_sub(d.reserved_bytes)
                .max(0);
            Refusal::Fail(format!(
                "Over quota: the file has {} bytes, but only {free} of the account's {} bytes are free.",
                d.rejected_bytes, d.limit_bytes
            ))
        }
        UploadError::Api(e) => match e {
            ApiError::Duplicate { existing_id } => Refusal::Fail(format!(
                "You already have this document (document {existing_id}), and this server refuses duplicates."
            )),
            ApiError::UnsupportedMediaType(m) | ApiError::PayloadTooLarge(m) => {
                Refusal::Fail(sentence(&m))
            }
            // The file changed while it was read: it is still being written.
            ApiError::Unprocessable {
                code: ErrorCode::SizeMismatch,
                message,
            } => Refusal::Later(message),
            ApiError::Unprocessable { message, .. } | ApiError::BadRequest { message, .. } => {
                Refusal::Fail(sentence(&message))
            }
            other => Refusal::Later(format!("{other:#}")),
        },
    }
}

/// `message` as a sentence: capitalised and ending with a full stop.
fn sentence(message: &str) -> String {
    let message = message.trim();
    let mut chars = message.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// Moves (or deletes) the file as its recorded outcome says, then marks the row
/// finished. A file already gone counts as moved.
async fn finish(
    state: &AppState,
    dir: &Path,
    file: &SeenFile,
    row: &ingest_files::Model,
) -> anyhow::Result<Outcome> {
    let from = file.path(dir);
    let handle_root = dir.join(file.handle_dir.as_deref().unwrap_or_default());
    let rel = file.rel.clone();
    let failed_reason = (row.status == IngestFileStatus::Failed).then(|| {
        row.reason
            .clone()
            .unwrap_or_else(|| "The file could not be imported.".into())
    });
    let after = state.settings.ingest.after;
    let seen = file.clone();
    let moved = tokio::task::spawn_blocking(move || match (&failed_reason, after) {
        (Some(reason), _) => scanner::fail_aside(
            &from,
            &handle_root.join(FAILED_DIR),
            &rel,
            Some(&seen),
            reason,
        )
        .map(Some),
        (None, IngestAfter::Move) => {
            scanner::move_aside(&from, &handle_root.join(DONE_DIR), &rel, Some(&seen)).map(Some)
        }
        (None, IngestAfter::Delete) => scanner::remove_seen(&from, &seen).map(|()| None),
    })
    .await?;
    match moved {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(anyhow::Error::from(e).context("moving the file out of the drop folder"));
        }
    }
    ingest_files::Entity::update_many()
        .col_expr(
            ingest_files::Column::FinishedAt,
            Expr::value(crate::time::now()),
        )
        .filter(ingest_files::Column::Id.eq(row.id))
        .exec(&state.db)
        .await?;
    Ok(match row.status {
        IngestFileStatus::Failed => {
            tracing::info!(file = %row.path, reason = row.reason.as_deref().unwrap_or_default(), "watched folder: file set aside");
            Outcome::Failed
        }
        _ => {
            tracing::info!(file = %row.path, document = ?row.document_id, "watched folder: file imported");
            Outcome::Imported
        }
    })
}

/// The row of this very file (path, size, time) while it is in place.
async fn open_row(
    db: &impl ConnectionTrait,
    path: &str,
    size: i64,
    mtime_ns: i64,
) -> Result<Option<ingest_files::Model>, DbErr> {
    ingest_files::Entity::find()
        .filter(ingest_files::Column::Path.eq(path))
        .filter(ingest_files::Column::SizeBytes.eq(size))
        .filter(ingest_files::Column::MtimeNs.eq(mtime_ns))
        .filter(ingest_files::Column::FinishedAt.is_null())
        .one(db)
        .await
}

/// Claims the file by inserting its row; `None` when another instance's insert won.
async fn claim(
    db: &impl ConnectionTrait,
    user: UserId,
    path: &str,
    size: i64,
    mtime_ns: i64,
    now: DateTime<Utc>,
) -> Result<Option<ingest_files::Model>, DbErr> {
    let row = ingest_files::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(user.into()),
        path: Set(path.to_owned()),
        size_bytes: Set(size),
        mtime_ns: Set(mtime_ns),
        status: Set(IngestFileStatus::Claimed),
        reason: Set(None),
        document_id: Set(None),
        claimed_at: Set(now),
        created_at: Set(now),
        finished_at: Set(None),
    };
    match row.insert(db).await {
        Ok(row) => Ok(Some(row)),
        Err(e)
            if matches!(
                e.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Takes over a claim not renewed for [`CLAIM_STALE`]: the conditional update that
/// still sees the old claim time wins. `None` while the claim is live or another
/// instance took it over first.
async fn take_over(
    db: &impl ConnectionTrait,
    row: &ingest_files::Model,
    now: DateTime<Utc>,
) -> Result<Option<ingest_files::Model>, DbErr> {
    let stale = chrono::Duration::from_std(CLAIM_STALE).unwrap_or(chrono::Duration::MAX);
    if row.claimed_at + stale > now {
        return Ok(None);
    }
    let taken = ingest_files::Entity::update_many()
        .col_expr(ingest_files::Column::ClaimedAt, Expr::value(now))
        .filter(ingest_files::Column::Id.eq(row.id))
        .filter(ingest_files::Column::Status.eq(IngestFileStatus::Claimed))
        .filter(ingest_files::Column::ClaimedAt.eq(row.claimed_at))
        .exec(db)
        .await?
        .rows_affected;
    Ok((taken == 1).then(|| ingest_files::Model {
        claimed_at: now,
        ..row.clone()
    }))
}

/// A document of `user` with the file's bytes created since the row was first claimed:
/// what a crash after `store_new` and before recording it left behind.
async fn stored_before_crash(
    db: &impl ConnectionTrait,
    dir: &Path,
    user: UserId,
    file: &SeenFile,
    row: &ingest_files::Model,
) -> anyhow::Result<Option<Uuid>> {
    let sha256 = file_sha256(&file.path(dir)).await?;
    Ok(documents::Entity::find()
        .select_only()
        .column(documents::Column::Id)
        .filter(documents::Column::UserId.eq(Uuid::from(user)))
        .filter(documents::Column::Sha256.eq(sha256))
        .filter(documents::Column::CreatedAt.gte(row.created_at))
        .order_by_asc(documents::Column::CreatedAt)
        .into_tuple::<Uuid>()
        .one(db)
        .await?)
}

/// Lower-case hex SHA-256 of a file, read in 1 MiB steps.
async fn file_sha256(path: &Path) -> std::io::Result<String> {
    let mut file = tokio::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .await?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Records the outcome of a claim this instance holds.
async fn record(
    db: &impl ConnectionTrait,
    row: &ingest_files::Model,
    status: IngestFileStatus,
    document_id: Option<Uuid>,
    reason: Option<String>,
) -> Result<ingest_files::Model, DbErr> {
    ingest_files::Entity::update_many()
        .col_expr(ingest_files::Column::Status, Expr::value(status.as_str()))
        .col_expr(ingest_files::Column::DocumentId, Expr::value(document_id))
        .col_expr(ingest_files::Column::Reason, Expr::value(reason.clone()))
        .filter(ingest_files::Column::Id.eq(row.id))
        .exec(db)
        .await?;
    Ok(ingest_files::Model {
        status,
        document_id,
        reason,
        ..row.clone()
    })
}

/// Gives a claim up (the import may work later), so the next round claims it afresh.
async fn release(db: &impl ConnectionTrait, row: &ingest_files::Model) -> Result<(), DbErr> {
    ingest_files::Entity::delete_many()
        .filter(ingest_files::Column::Id.eq(row.id))
        .filter(ingest_files::Column::Status.eq(IngestFileStatus::Claimed))
        .exec(db)
        .await?;
    Ok(())
}

/// Renews a claim still being worked on.
async fn renew_claim(db: &impl ConnectionTrait, id: Uuid) -> Result<(), DbErr> {
    ingest_files::Entity::update_many()
        .col_expr(
            ingest_files::Column::ClaimedAt,
            Expr::value(crate::time::now()),
        )
        .filter(ingest_files::Column::Id.eq(id))
        .filter(ingest_files::Column::Status.eq(IngestFileStatus::Claimed))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes rows finished more than [`KEEP_DAYS`] days before `now`, and claims that
/// old (their file vanished mid-import; had it stayed, the claim would have been taken
/// over long ago). Returns how many.
pub async fn prune(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<u64, DbErr> {
    let cutoff = now - chrono::Duration::days(KEEP_DAYS);
    let finished = ingest_files::Entity::delete_many()
        .filter(ingest_files::Column::FinishedAt.lt(cutoff))
        .exec(db)
        .await?
        .rows_affected;
    let abandoned = ingest_files::Entity::delete_many()
        .filter(ingest_files::Column::FinishedAt.is_null())
        .filter(ingest_files::Column::Status.eq(IngestFileStatus::Claimed))
        .filter(ingest_files::Column::ClaimedAt.lt(cutoff))
        .exec(db)
        .await?
        .rows_affected;
    Ok(finished + abandoned)
}

/// How many rows the status list shows.
pub const RECENT: u64 = 50;

/// The account's latest imported or failed files, newest first.
pub async fn recent(
    db: &impl ConnectionTrait,
    user: UserId,
) -> Result<Vec<ingest_files::Model>, DbErr> {
    ingest_files::Entity::find()
        .filter(ingest_files::Column::UserId.eq(Uuid::from(user)))
        .filter(
            ingest_files::Column::Status
                .is_in([IngestFileStatus::Imported, IngestFileStatus::Failed]),
        )
        .order_by_desc(ingest_files::Column::CreatedAt)
        .order_by_desc(ingest_files::Column::Id)
        .limit(RECENT)
        .all(db)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_become_sentences() {
        assert_eq!(
            sentence("files may be at most 5 bytes"),
            "Files may be at most 5 bytes."
        );
        assert_eq!(sentence("Done."), "Done.");
        assert_eq!(sentence(""), ".");
    }

    #[test]
    fn refusals_name_the_reason() {
        let quota = refusal(UploadError::QuotaExceeded(crate::error::QuotaDetail {
            used_bytes: 60,
            reserved_bytes: 10,
            limit_bytes: 100,
            rejected_bytes: 50,
        }));
        assert!(
            matches!(&quota, Refusal::Fail(m) if m == "Over quota: the file has 50 bytes, but only 30 of the account's 100 bytes are free."),
        );
        assert!(matches!(
            refusal(UploadError::Api(ApiError::ServiceUnavailable(
                "down".into()
            ))),
            Refusal::Later(_)
        ));
        assert!(matches!(
            refusal(UploadError::Api(ApiError::UnsupportedMediaType("x is not accepted".into()))),
            Refusal::Fail(m) if m == "X is not accepted."
        ));
        assert!(matches!(
            refusal(UploadError::Api(ApiError::Unprocessable {
                code: ErrorCode::SizeMismatch,
                message: "changed".into()
            })),
            Refusal::Later(_)
        ));
    }
}
