//! The application state shared by every handler and background task.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::jobs::Queue;
use crate::settings::Settings;
use crate::storage::ObjectStore;

/// Everything a request needs: settings, database pool, object store, queue.
#[derive(Clone)]
pub struct AppState {
    /// Loaded settings.
    pub settings: Arc<Settings>,
    /// Database pool.
    pub db: DatabaseConnection,
    /// Object storage backend.
    pub storage: Arc<dyn ObjectStore>,
    /// Job queue backend.
    pub queue: Arc<dyn Queue>,
}

impl AppState {
    /// One line naming the backends in use, for the startup log.
    pub fn describe_backends(&self) -> String {
        format!(
            "database: {}, storage: {}, queue: {}",
            crate::db::backend_name(&self.db),
            self.storage.kind(),
            self.queue.kind()
        )
    }
}
