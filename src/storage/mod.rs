//! Object storage: one trait, a local-directory backend and an S3 backend.
//!
//! Documents' bytes live here; the database holds only their keys.

mod local;
mod s3;

use std::sync::Arc;

use async_trait::async_trait;

pub use local::LocalStore;
pub use s3::S3Store;

use crate::domain::ObjectKey;
use crate::settings::{Settings, StorageKind};

/// What the store knows about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Authoritative size in bytes.
    pub size_bytes: u64,
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
    /// Removes the object; removing a missing object succeeds.
    async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError>;
}

/// Builds the store the settings ask for (does not contact it yet).
pub fn from_settings(settings: &Settings) -> Result<Arc<dyn ObjectStore>, StorageError> {
    Ok(match settings.storage_kind() {
        StorageKind::S3 => Arc::new(S3Store::new(&settings.storage.s3)?),
        StorageKind::Local | StorageKind::Auto => {
            Arc::new(LocalStore::new(settings.local_objects_dir()))
        }
    })
}
