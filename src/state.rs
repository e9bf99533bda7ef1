//! The application state shared by every handler and background task.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::crypto::Keys;
use crate::mail::Mailer;
use crate::queue::Queue;
use crate::security::password::PasswordHasher;
use crate::security::rate_limit::RateLimiter;
use crate::security::tokens::TokenIssuer;
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
    /// The local backend, when in use (its signed URLs are served by this process).
    pub local_store: Option<crate::storage::LocalStore>,
    /// Job queue backend.
    pub queue: Arc<dyn Queue>,
    /// Keys derived from `SECRET_KEY`.
    pub keys: Arc<Keys>,
    /// Access-token signer.
    pub tokens: TokenIssuer,
    /// Argon2id with bounded concurrency.
    pub hasher: PasswordHasher,
    /// Attempt limits (Redis-backed when configured).
    pub limiter: Arc<RateLimiter>,
    /// Outgoing e-mail.
    pub mailer: Arc<Mailer>,
    /// Prometheus metrics.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// What OCR can do here (probed once at start).
    pub ocr: Arc<crate::ocr_status::OcrStatus>,
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
