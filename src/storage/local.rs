//! Local-directory object store: the embedded default. Writes go to a temp file,
//! are fsynced and renamed into place, so a crash never leaves a torn object.

use std::io::ErrorKind;
use std::path::PathBuf;

use async_trait::async_trait;
use tokio::io::AsyncWriteExt;

use super::signed::{Grant, UrlSigner};
use super::{ListedObject, ObjectMeta, ObjectStore, Presigned, StorageError};
use crate::domain::ObjectKey;

/// Objects as files under one root directory; keys map to relative paths.
#[derive(Clone)]
pub struct LocalStore {
    root: PathBuf,
    signer: UrlSigner,
}

impl LocalStore {
    /// A store rooted at `root` (created by [`ObjectStore::ensure_ready`]) whose URLs
    /// are signed by `signer`.
    pub fn new(root: PathBuf, signer: UrlSigner) -> Self {
        Self { root, signer }
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
        tokio::fs::write(&probe, b"ok").await?;
        tokio::fs::remove_file(&probe).await?;
        Ok(())
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
            expires: expiry(ttl),
        });
        let headers = [("Content-Type".to_owned(), content_type.to_owned())].into();
        Ok(Presigned { url, headers })
    }

    async fn presign_get(
        &self,
        key: &ObjectKey,
        filename: &str,
        content_type: &str,
        ttl: std::time::Duration,
    ) -> Result<String, StorageError> {
        Ok(self.signer.sign(&Grant {
            key: key.as_str().to_owned(),
            method: "GET".into(),
            content_type: content_type.to_owned(),
            length: None,
            filename: Some(filename.to_owned()),
            expires: expiry(ttl),
        }))
    }
}
