//! Object storage: one trait, a local-directory backend and an S3 backend.
//!
//! Documents' bytes live here; the database holds only their keys.

mod local;
pub mod routes;
mod s3;
pub mod signed;

use std::sync::Arc;

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite};

pub use local::{InflightUpload, LocalStore, TempFile, UploadLimits};
pub use s3::S3Store;

use crate::domain::ObjectKey;
use crate::settings::{Settings, StorageKind};

/// What the store knows about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Authoritative size in bytes.
    pub size_bytes: u64,
}

/// An object as listed by the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    /// Its key.
    pub key: String,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Last modification time.
    pub modified: chrono::DateTime<chrono::Utc>,
}

/// A request the client should send straight to storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presigned {
    /// Absolute URL (S3) or a path on this server (local backend), to be made absolute
    /// by the caller.
    pub url: String,
    /// Headers the client must send exactly (they are part of the signature).
    pub headers: std::collections::BTreeMap<String, String>,
}

/// How a browser is told to present an object fetched through a signed `GET` URL.
///
/// Which stored types may be shown inline is decided in one place,
/// `documents::files::view_of`; the store only carries the choice out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Disposition {
    /// Saved as a file (`Content-Disposition: attachment`): downloads, and every type
    /// that is not shown in the browser.
    #[default]
    Attachment,
    /// Shown in the browser (`Content-Disposition: inline`). The local backend adds
    /// `X-Content-Type-Options: nosniff` and `Content-Security-Policy: sandbox` (the
    /// bytes are served from DocuVault's own origin); S3 serves them from its own
    /// origin and cannot add headers per request.
    Inline,
}

impl Disposition {
    /// Whether this is the default, [`Disposition::Attachment`].
    pub fn is_attachment(&self) -> bool {
        *self == Disposition::Attachment
    }

    /// The `Content-Disposition` value for `filename`: `attachment; filename="…";
    /// filename*=UTF-8''…` (or `inline; …`) with a plain-ASCII fallback: quotes,
    /// backslashes, control and non-ASCII characters never reach the quoted form.
    pub fn header_value(self, filename: &str) -> String {
        let kind = match self {
            Disposition::Attachment => "attachment",
            Disposition::Inline => "inline",
        };
        // The quoted fallback keeps only characters no parser can misread.
        let ascii: String = filename
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || " ._-()[]+".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let encoded = percent_encoding::utf8_percent_encode(filename, ATTR_CHAR_COMPLEMENT);
        format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
    }
}

/// Storage failures, kept coarse: callers map them to 5xx or retry.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The backend could not be reached or answered with an error.
    #[error("object storage unavailable: {0}")]
    Unavailable(String),
    /// A local I/O failure.
    #[error("object storage I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// A place to keep objects by key.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// Short backend name for logs and `/health` (`local`, `s3`).
    fn kind(&self) -> &'static str;
    /// Prepares the store (directory or bucket); safe to call on every start.
    async fn ensure_ready(&self) -> Result<(), StorageError>;
    /// Cheap check that the store is reachable and usable.
    async fn health(&self) -> Result<(), StorageError>;
    /// Stores `bytes` under `key`, replacing any existing object.
    async fn put(
        &self,
        key: &ObjectKey,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), StorageError>;
    /// Size of the object as stored, or `None` when it does not exist.
    async fn stat(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, StorageError>;
    /// The object's bytes, or `None` when it does not exist.
    async fn get(&self, key: &ObjectKey) -> Result<Option<Vec<u8>>, StorageError>;
    /// Streams the object into `sink` without holding it in memory; `false` (nothing
    /// written) when it does not exist.
    async fn read_to(
        &self,
        key: &ObjectKey,
        sink: &mut (dyn AsyncWrite + Unpin + Send),
    ) -> Result<bool, StorageError>;
    /// Stores what `source` yields under `key`, replacing any existing object, without
    /// holding it in memory (S3: a multipart upload); the number of bytes stored.
    async fn write_from(
        &self,
        key: &ObjectKey,
        source: &mut (dyn AsyncRead + Unpin + Send),
        content_type: &str,
    ) -> Result<u64, StorageError>;
    /// Removes the object; removing a missing object succeeds.
    async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError>;
    /// Moves an object to a new key (the old key stops existing).
    async fn rename(&self, from: &ObjectKey, to: &ObjectKey) -> Result<(), StorageError>;
    /// Every object whose key starts with `prefix`.
    async fn list(&self, prefix: &str) -> Result<Vec<ListedObject>, StorageError>;
    /// A URL for one `PUT` of exactly `content_length` bytes of `content_type` to `key`,
    /// valid for `ttl`.
    async fn presign_put(
        &self,
        key: &ObjectKey,
        content_type: &str,
        content_length: u64,
        ttl: std::time::Duration,
    ) -> Result<Presigned, StorageError>;
    /// A URL to download `key` as an attachment named `filename`, valid for `ttl`.
    async fn presign_get(
        &self,
        key: &ObjectKey,
        filename: &str,
        content_type: &str,
        ttl: std::time::Duration,
    ) -> Result<String, StorageError> {
        self.presign_get_as(key, filename, content_type, Disposition::Attachment, ttl)
            .await
    }
    /// A URL serving `key` as `content_type`, named `filename`, presented as
    /// `disposition` (see [`Disposition`] for the headers each backend adds), valid for
    /// `ttl`.
    async fn presign_get_as(
        &self,
        key: &ObjectKey,
        filename: &str,
        content_type: &str,
        disposition: Disposition,
        ttl: std::time::Duration,
    ) -> Result<String, StorageError>;
}

/// Lower-case hex SHA-256 of the object's bytes, read as a stream (bounded memory
/// whatever its size); `None` when it does not exist.
pub async fn sha256_hex(
    store: &dyn ObjectStore,
    key: &ObjectKey,
) -> Result<Option<String>, StorageError> {
    let mut sink = HashingSink(Sha256::new());
    if !store.read_to(key, &mut sink).await? {
        return Ok(None);
    }
    Ok(Some(hex::encode(sink.0.finalize())))
}

/// Bytes of one object in flight between [`stream_object`]'s reader and the response.
const STREAM_BUFFER: usize = 64 * 1024;

/// The object's bytes as a response body, read with [`ObjectStore::read_to`] while they
/// are sent (bounded memory, whatever its size). A missing object or a storage failure
/// ends the stream with an error, so the client sees a cut transfer, never a short file
/// that looks complete.
pub fn stream_object(
    store: Arc<dyn ObjectStore>,
    key: ObjectKey,
) -> impl futures_util::Stream<Item = Result<actix_web::web::Bytes, std::io::Error>> + 'static {
    use futures_util::StreamExt as _;
    let (mut writer, reader) = tokio::io::duplex(STREAM_BUFFER);
    // The writer half is dropped when the read ends: the reader then sees the end.
    let read = tokio::spawn(async move { store.read_to(&key, &mut writer).await });
    let outcome = futures_util::stream::once(read).filter_map(|joined| async move {
        match joined {
            Ok(Ok(true)) => None,
            Ok(Ok(false)) => Some(Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the object does not exist",
            ))),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "streaming an object failed");
                Some(Err(std::io::Error::other(e.to_string())))
            }
            Err(e) => Some(Err(std::io::Error::other(e.to_string()))),
        }
    });
    tokio_util::io::ReaderStream::with_capacity(reader, STREAM_BUFFER).chain(outcome)
}

/// An `AsyncWrite` that only hashes what it is given.
struct HashingSink(Sha256);

impl AsyncWrite for HashingSink {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.0.update(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// Everything but RFC 5987's `attr-char` (letters, digits and ``!#$&+-.^_`|~``) is
/// percent-encoded in `filename*`.
const ATTR_CHAR_COMPLEMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `attachment; filename="…"; filename*=UTF-8''…`: [`Disposition::header_value`] of a
/// download.
pub fn content_disposition(filename: &str) -> String {
    Disposition::Attachment.header_value(filename)
}

/// Builds the store the settings ask for (does not contact it yet).
/// Also returns the local store itself when that is the backend, for its URL routes.
pub fn from_settings(
    settings: &Settings,
    keys: &crate::crypto::Keys,
) -> Result<(Arc<dyn ObjectStore>, Option<LocalStore>), StorageError> {
    Ok(match settings.storage_kind() {
        StorageKind::S3 => (Arc::new(S3Store::new(&settings.storage.s3)?), None),
        StorageKind::Local | StorageKind::Auto => {
            let local = LocalStore::new(
                settings.local_objects_dir(),
                signed::UrlSigner::new(keys),
                UploadLimits::from_settings(&settings.storage),
            );
            (Arc::new(local.clone()), Some(local))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{Disposition, content_disposition};

    #[test]
    fn content_disposition_keeps_attr_chars_and_encodes_the_rest_in_upper_case() {
        assert_eq!(
            content_disposition("aZ9!#$&+-.^_`|~ \"%/é.pdf"),
            "attachment; filename=\"aZ9____+-._____ ____.pdf\"; \
             filename*=UTF-8''aZ9!#$&+-.^_`|~%20%22%25%2F%C3%A9.pdf"
        );
    }

    #[test]
    fn inline_disposition_encodes_the_name_like_attachment() {
        assert_eq!(
            Disposition::Inline.header_value("Q3 \"report\"\r\nü.pdf"),
            "inline; filename=\"Q3 _report____.pdf\"; \
             filename*=UTF-8''Q3%20%22report%22%0D%0A%C3%BC.pdf"
        );
        assert_eq!(
            Disposition::Attachment.header_value("a.pdf"),
            content_disposition("a.pdf")
        );
    }
}
