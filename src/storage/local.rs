//! Local-directory object store: the embedded default. Writes go to a temp file,
//! are fsynced and renamed into place, so a crash never leaves a torn object; a crash
//! can leave the temp file, which is swept once it is stale (see
//! [`LocalStore::stale_temp_age`]).

use std::io::ErrorKind;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::web::{Bytes, BytesMut};
use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::signed::{Grant, UrlSigner};
use super::{Disposition, ListedObject, ObjectMeta, ObjectStore, Presigned, StorageError};
use crate::domain::ObjectKey;

/// How this server receives `PUT`s to its signed upload URLs (`storage.upload_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadLimits {
    /// A body that sends nothing for this long is cut off.
    pub idle_timeout: Duration,
    /// After the first `idle_timeout`, the body must average at least this many bytes
    /// per second since it started (0: no minimum).
    pub min_bytes_per_sec: u64,
    /// Declared bytes of all uploads being received at once; more are refused (503).
    pub max_inflight_bytes: u64,
}

impl UploadLimits {
    /// The limits the settings ask for.
    pub fn from_settings(s: &crate::settings::StorageSettings) -> Self {
        Self {
            idle_timeout: Duration::from_secs(s.upload_idle_timeout_secs),
            min_bytes_per_sec: s.upload_min_bytes_per_sec,
            max_inflight_bytes: s.max_inflight_upload_bytes,
        }
    }

    /// When an upload that started at `start` and has `received` bytes so far falls
    /// below the minimum rate (`None`: no minimum).
    pub fn rate_deadline(
        &self,
        start: tokio::time::Instant,
        received: u64,
    ) -> Option<tokio::time::Instant> {
        if self.min_bytes_per_sec == 0 {
            return None;
        }
        let earned = Duration::from_secs_f64(received as f64 / self.min_bytes_per_sec as f64);
        start.checked_add(self.idle_timeout.saturating_add(earned))
    }
}

/// A temporary file in the store's `.tmp` directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TempFile {
    /// File name inside `.tmp`.
    pub name: String,
    /// Size on disk (apparent size).
    pub size_bytes: u64,
    /// Last modification.
    pub modified: chrono::DateTime<chrono::Utc>,
}

/// An admitted upload's share of [`UploadLimits::max_inflight_bytes`], given back on drop.
pub struct InflightUpload {
    counter: Arc<AtomicU64>,
    bytes: u64,
}

impl Drop for InflightUpload {
    fn drop(&mut self) {
        self.counter.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// Temporary files are never stale younger than this (also covers the final fsync of
/// a large upload on a slow disk).
const STALE_TEMP_MIN_AGE: Duration = Duration::from_secs(3600);

/// Objects as files under one root directory; keys map to relative paths.
#[derive(Clone)]
pub struct LocalStore {
    root: PathBuf,
    signer: UrlSigner,
    limits: UploadLimits,
    inflight: Arc<AtomicU64>,
}

impl LocalStore {
    /// A store rooted at `root` (created by [`ObjectStore::ensure_ready`]) whose URLs
    /// are signed by `signer` and whose uploads are received within `limits`.
    pub fn new(root: PathBuf, signer: UrlSigner, limits: UploadLimits) -> Self {
        Self {
            root,
            signer,
            limits,
            inflight: Arc::new(AtomicU64::new(0)),
        }
    }

    /// How uploads are received.
    pub fn upload_limits(&self) -> &UploadLimits {
        &self.limits
    }

    /// Admits an upload of `bytes` declared bytes if the uploads being received stay
    /// within [`UploadLimits::max_inflight_bytes`]; `None` when they would not.
    pub fn admit_upload(&self, bytes: u64) -> Option<InflightUpload> {
        let max = self.limits.max_inflight_bytes;
        self.inflight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
                now.checked_add(bytes).filter(|total| *total <= max)
            })
            .ok()?;
        Some(InflightUpload {
            counter: self.inflight.clone(),
            bytes,
        })
    }

    /// Declared bytes of the uploads being received now.
    pub fn inflight_upload_bytes(&self) -> u64 {
        self.inflight.load(Ordering::Acquire)
    }

    /// Age after which a temporary file belongs to no live write: an upload writes what
    /// it receives at least every `upload_idle_timeout_secs` (or is cut off), so its file
    /// never goes unmodified that long. Four idle periods, and at least an hour.
    pub fn stale_temp_age(&self) -> Duration {
        self.limits
            .idle_timeout
            .saturating_mul(4)
            .max(STALE_TEMP_MIN_AGE)
    }

    /// Temporary files not modified for [`Self::stale_temp_age`]: partial uploads and
    /// writes of a process that crashed.
    pub async fn stale_temp_files(&self) -> Result<Vec<TempFile>, StorageError> {
        let dir = self.tmp_dir();
        let age = self.stale_temp_age();
        tokio::task::spawn_blocking(move || {
            let cutoff = std::time::SystemTime::now()
                .checked_sub(age)
                .unwrap_or(std::time::UNIX_EPOCH);
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(StorageError::Io(e)),
            };
            let mut out = Vec::new();
            for entry in entries {
                let entry = entry?;
                let meta = match entry.metadata() {
                    Ok(m) => m,
                    // Renamed into place (or removed) since the listing.
                    Err(e) if e.kind() == ErrorKind::NotFound => continue,
                    Err(e) => return Err(StorageError::Io(e)),
                };
                let modified = meta.modified()?;
                if !meta.is_file() || modified > cutoff {
                    continue;
                }
                out.push(TempFile {
                    name: entry.file_name().to_string_lossy().into_owned(),
                    size_bytes: meta.len(),
                    modified: modified.into(),
                });
            }
            out.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(out)
        })
        .await
        .map_err(|e| StorageError::Unavailable(e.to_string()))?
    }

    /// Removes the temporary file `name` (a plain name inside `.tmp`); a missing file
    /// is fine.
    pub async fn remove_temp_file(&self, name: &str) -> Result<(), StorageError> {
        if name.is_empty() || name.contains(['/', '\\']) || name == "." || name == ".." {
            return Err(StorageError::Io(std::io::Error::new(
                ErrorKind::InvalidInput,
                "not a temporary file name",
            )));
        }
        match tokio::fs::remove_file(self.tmp_dir().join(name)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes every stale temporary file (at start and from the cleanup job); the
    /// number removed. Failures are logged, never fatal.
    pub async fn sweep_stale_temp_files(&self) -> u64 {
        let stale = match self.stale_temp_files().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "could not list temporary files");
                return 0;
            }
        };
        let mut removed = 0;
        for file in stale {
            match self.remove_temp_file(&file.name).await {
                Ok(()) => removed += 1,
                Err(e) => {
                    tracing::warn!(file = file.name, error = %e, "could not remove a stale temporary file");
                }
            }
        }
        if removed > 0 {
            tracing::info!(removed, "removed stale temporary files (partial uploads)");
        }
        removed
    }

    /// Where `key` lives on disk.
    pub fn path(&self, key: &ObjectKey) -> PathBuf {
        self.root.join(key.as_str())
    }

    /// Directory for in-flight writes (same filesystem, so renames are atomic).
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join(".tmp")
    }

    /// The signer of this store's URLs.
    pub fn signer(&self) -> &UrlSigner {
        &self.signer
    }
}

/// The chunk in which objects are streamed to and from files (`read_to`, `write_from`).
const STREAM_CHUNK: usize = 1 << 20;
/// `write_from` reads its source in chunks of at most this size...
const WRITE_FROM_READ: usize = 64 << 10;
/// ...and keeps at most this many of them on their way to the writer (4 MiB).
const WRITE_FROM_CHUNKS: usize = 64;

fn expiry(ttl: std::time::Duration) -> i64 {
    chrono::Utc::now().timestamp() + i64::try_from(ttl.as_secs()).unwrap_or(900)
}

#[async_trait]
impl ObjectStore for LocalStore {
    fn kind(&self) -> &'static str {
        "local"
    }

    async fn ensure_ready(&self) -> Result<(), StorageError> {
        tokio::fs::create_dir_all(self.tmp_dir()).await?;
        Ok(())
    }

    async fn health(&self) -> Result<(), StorageError> {
        let probe = self
            .tmp_dir()
            .join(format!("health-{}", uuid::Uuid::new_v4().simple()));
        // A failed write (a full disk) can leave the file created but empty: remove it
        // either way, so probes every few seconds never pile up files.
        let written = tokio::fs::write(&probe, b"ok").await;
        let removed = tokio::fs::remove_file(&probe).await;
        written?;
        Ok(removed?)
    }

    async fn put(
        &self,
        key: &ObjectKey,
        bytes: Vec<u8>,
        _content_type: &str,
    ) -> Result<(), StorageError> {
        let dest = self.path(key);
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        let tmp = self
            .tmp_dir()
            .join(format!("put-{}", uuid::Uuid::new_v4().simple()));
        let mut file = tokio::fs::File::create(&tmp).await?;
        let written = async {
            file.write_all(&bytes).await?;
            file.sync_all().await?;
            tokio::fs::rename(&tmp, &dest).await
        }
        .await;
        if written.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        Ok(written?)
    }

    async fn stat(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, StorageError> {
        match tokio::fs::metadata(self.path(key)).await {
            Ok(m) if m.is_file() => Ok(Some(ObjectMeta {
                size_bytes: m.len(),
            })),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn get(&self, key: &ObjectKey) -> Result<Option<Vec<u8>>, StorageError> {
        match tokio::fs::read(self.path(key)).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn read_to(
        &self,
        key: &ObjectKey,
        sink: &mut (dyn AsyncWrite + Unpin + Send),
    ) -> Result<bool, StorageError> {
        let file = match tokio::fs::File::open(self.path(key)).await {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        // Large reads: each read of a tokio file is a blocking task of its own.
        let mut reader = tokio::io::BufReader::with_capacity(STREAM_CHUNK, file);
        tokio::io::copy_buf(&mut reader, sink).await?;
        sink.flush().await?;
        Ok(true)
    }

    async fn write_from(
        &self,
        key: &ObjectKey,
        source: &mut (dyn AsyncRead + Unpin + Send),
        _content_type: &str,
    ) -> Result<u64, StorageError> {
        let dest = self.path(key);
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        let tmp = self
            .tmp_dir()
            .join(format!("put-{}", uuid::Uuid::new_v4().simple()));
        // As a signed PUT is received: this task reads, a blocking thread writes
        // (`routes::spool`: vectored writes, early write-back, fsync), so reading the
        // source and writing the disk overlap; the channel bounds what is in flight.
        let file = std::fs::File::create(&tmp)?;
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(WRITE_FROM_CHUNKS);
        let writer = tokio::task::spawn_blocking(move || super::routes::spool(file, rx));
        let read = async {
            let mut n: u64 = 0;
            loop {
                let mut chunk = BytesMut::with_capacity(WRITE_FROM_READ);
                if source.read_buf(&mut chunk).await? == 0 {
                    return Ok::<u64, std::io::Error>(n);
                }
                n += chunk.len() as u64;
                if tx.send(chunk.freeze()).await.is_err() {
                    // The writer stopped: its error is the one reported.
                    return Ok(n);
                }
            }
        }
        .await;
        drop(tx);
        let spooled = writer.await.map_err(std::io::Error::other);
        let written = async {
            spooled??;
            let n = read?;
            tokio::fs::rename(&tmp, &dest).await?;
            Ok::<u64, std::io::Error>(n)
        }
        .await;
        if written.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        Ok(written?)
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError> {
        match tokio::fs::remove_file(self.path(key)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn rename(&self, from: &ObjectKey, to: &ObjectKey) -> Result<(), StorageError> {
        let dest = self.path(to);
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        tokio::fs::rename(self.path(from), dest).await?;
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ListedObject>, StorageError> {
        let root = self.root.clone();
        let prefix = prefix.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            let mut stack = vec![root.clone()];
            while let Some(dir) = stack.pop() {
                let entries = match std::fs::read_dir(&dir) {
                    Ok(e) => e,
                    Err(e) if e.kind() == ErrorKind::NotFound => continue,
                    Err(e) => return Err(StorageError::Io(e)),
                };
                for entry in entries {
                    let entry = entry?;
                    let path = entry.path();
                    let meta = entry.metadata()?;
                    let Ok(rel) = path.strip_prefix(&root) else {
                        continue;
                    };
                    let key = rel.to_string_lossy().replace('\\', "/");
                    if key.starts_with(".tmp") {
                        continue;
                    }
                    if meta.is_dir() {
                        stack.push(path);
                    } else if key.starts_with(&prefix) {
                        out.push(ListedObject {
                            key,
                            size_bytes: meta.len(),
                            modified: meta
                                .modified()
                                .map(chrono::DateTime::<chrono::Utc>::from)
                                .unwrap_or_else(|_| chrono::Utc::now()),
                        });
                    }
                }
            }
            Ok(out)
        })
        .await
        .map_err(|e| StorageError::Unavailable(e.to_string()))?
    }

    async fn presign_put(
        &self,
        key: &ObjectKey,
        content_type: &str,
        content_length: u64,
        ttl: std::time::Duration,
    ) -> Result<Presigned, StorageError> {
        let url = self.signer.sign(&Grant {
            key: key.as_str().to_owned(),
            method: "PUT".into(),
            content_type: content_type.to_owned(),
            length: Some(content_length),
            filename: None,
            disposition: Disposition::Attachment,
            expires: expiry(ttl),
        });
        let headers = [("Content-Type".to_owned(), content_type.to_owned())].into();
        Ok(Presigned { url, headers })
    }

    async fn presign_get_as(
        &self,
        key: &ObjectKey,
        filename: &str,
        content_type: &str,
        disposition: Disposition,
        ttl: std::time::Duration,
    ) -> Result<String, StorageError> {
        Ok(self.signer.sign(&Grant {
            key: key.as_str().to_owned(),
            method: "GET".into(),
            content_type: content_type.to_owned(),
            length: None,
            filename: Some(filename.to_owned()),
            disposition,
            expires: expiry(ttl),
        }))
    }
}
