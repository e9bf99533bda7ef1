//! `docuvault export` and `docuvault import`: a whole instance as a directory, to move it
//! between backends (SQLite + local objects → PostgreSQL + S3, or any other pair) or to
//! keep a consistent snapshot.
//!
//! An export directory holds `manifest.json` ([`manifest::Manifest`], written last: a
//! directory without it is an unfinished export), one JSON Lines file per table (rows as
//! stored, sealed columns as stored), `objects.jsonl` (which object key holds which
//! original or thumbnail) and `objects/<sha256[0..2]>/<sha256>`, every distinct content
//! once. Both directions stream: rows page by page, objects through
//! `ObjectStore::read_to`/`write_from`, so memory stays bounded whatever the vault's size.
//! The format is documented in `docs/EXPORT.md`.

pub mod export;
pub mod import;
pub mod manifest;

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

pub use export::export;
pub use import::{ImportReport, import};
pub use manifest::Manifest;

/// Where the content with hex SHA-256 `sha256` lives in the export directory `dir`.
pub fn object_path(dir: &Path, sha256: &str) -> PathBuf {
    let prefix = sha256.get(..2).unwrap_or("xx");
    dir.join("objects").join(prefix).join(sha256)
}

/// Whether `s` looks like a lower-case hex SHA-256 (safe as a file name).
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A reader or writer that hashes (SHA-256) and counts the bytes passing through it.
pub struct Hashing<T> {
    inner: T,
    hasher: Sha256,
    bytes: u64,
}

impl<T> Hashing<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// The wrapped value.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Hex SHA-256 and count of the bytes that passed.
    pub fn finish(self) -> (String, u64) {
        (hex::encode(self.hasher.finalize()), self.bytes)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Hashing<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &poll {
            this.hasher.update(&buf[..*n]);
            this.bytes += *n as u64;
        }
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Hashing<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &poll {
            let new = &buf.filled()[before..];
            this.hasher.update(new);
            this.bytes += new.len() as u64;
        }
        poll
    }
}
