//! Password hashing with Argon2id, off the async threads and behind a semaphore.
//!
//! Hashing is deliberately expensive; a burst of logins must not starve the server.
//! At most `permits` hashes run at once, at most `permits × queue_per_permit` requests
//! wait, and everything beyond that is shed immediately with 503.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use tokio::sync::Semaphore;

use crate::error::ApiError;
use crate::settings::AuthSettings;

/// How long a queued request waits for a hashing slot before it is shed.
const QUEUE_WAIT: Duration = Duration::from_secs(2);

/// Hashes and verifies passwords with bounded concurrency.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    max_waiting: usize,
    /// A hash of a random password, verified against when the account does not exist
    /// so that unknown users cost the same time as wrong passwords.
    dummy_hash: Arc<String>,
}

fn overloaded() -> ApiError {
    ApiError::ServiceUnavailable("The server is busy; please retry in a moment".into())
}

impl PasswordHasher {
    /// Builds the hasher from settings (computes the timing-equalising dummy hash once).
    pub fn new(settings: &AuthSettings) -> anyhow::Result<Self> {
        let params = Params::new(
            settings.argon2_memory_kib,
            settings.argon2_iterations,
            settings.argon2_parallelism,
            None,
        )
        .map_err(|e| anyhow::anyhow!("invalid argon2 parameters: {e}"))?;
        let permits = match settings.hash_concurrency {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let dummy = crate::crypto::random_token();
        let dummy_hash = argon
            .hash_password(dummy.as_bytes())
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))?
            .to_string();
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(permits)),
            waiting: Arc::new(AtomicUsize::new(0)),
            max_waiting: permits * settings.hash_queue_per_permit,
            dummy_hash: Arc::new(dummy_hash),
        })
    }

    fn argon(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Runs `work` on the blocking pool once a permit is free; sheds with 503 when
    /// too many requests already wait.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(Argon2<'static>) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_waiting {
                    self.waiting.fetch_sub(1, Ordering::SeqCst);
                    return Err(overloaded());
                }
                let acquired =
                    tokio::time::timeout(QUEUE_WAIT, self.permits.clone().acquire_owned()).await;
                self.waiting.fetch_sub(1, Ordering::SeqCst);
                match acquired {
                    Ok(Ok(p)) => p,
                    _ => return Err(overloaded()),
                }
            }
        };
        let argon = self.argon();
        let result = tokio::task::spawn_blocking(move || {
            let out = work(argon);
            drop(permit);
            out
        })
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("password hashing task failed: {e}")))?;
        Ok(result)
    }

    /// A PHC-format Argon2id hash of `password` with a fresh random salt.
    pub async fn hash(&self, password: &str) -> Result<String, ApiError> {
        let password = password.to_owned();
        self.run(move |argon| {
            argon
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| ApiError::Internal(anyhow::anyhow!("argon2 hash: {e}")))
        })
        .await?
    }

    /// Whether `password` matches `hash`; with `None` (unknown account) it verifies
    /// against a dummy hash and returns false, taking the same time.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool, ApiError> {
        let password = password.to_owned();
        let known = hash.is_some();
        let hash = hash.map_or_else(|| self.dummy_hash.as_str().to_owned(), str::to_owned);
        let matched = self
            .run(move |argon| {
                argon
                    .verify_password(password.as_bytes(), hash.as_str())
                    .is_ok()
            })
            .await?;
        Ok(known && matched)
    }
}
