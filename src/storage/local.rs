//! Local-directory object store: the embedded default. Writes go to a temp file,
//! are fsynced and renamed into place, so a crash never leaves a torn object.

use std::io::ErrorKind;
use std::path::PathBuf;

use async_trait::async_trait;
use tokio::io::AsyncWriteExt;

use super::{ObjectMeta, ObjectStore, StorageError};
use crate::domain::ObjectKey;

/// Objects as files under one root directory; keys map to relative paths.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// A store rooted at `root` (created by [`ObjectStore::ensure_ready`]).
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    fn path(&self, key: &ObjectKey) -> PathBuf {
        self.root.join(key.as_str())
    }

    fn tmp_dir(&self) -> PathBuf {
        self.root.join(".tmp")
    }
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
}
