//! The job queue: in-process by default, Redis lists when configured.
//!
//! Delivery is at-least-once. Redis moves a reserved job atomically (`BLMOVE`) into
//! the worker's own processing list and removes it on `ack`, so a crashed worker's
//! jobs are still in Redis to be recovered.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use deadpool_redis::redis;
use deadpool_redis::{Pool, Runtime};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::settings::{QueueKind, Settings};

/// A unit of background work. Small on purpose: workers load the rest from the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    /// Extract and classify a confirmed document.
    ProcessDocument {
        /// The document to process.
        document_id: Uuid,
    },
}

/// A job handed to a worker, with what is needed to acknowledge it.
#[derive(Debug, Clone)]
pub struct Reserved {
    /// The job itself.
    pub job: Job,
    payload: String,
}

/// Queue failures.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// Redis is unreachable or answered with an error.
    #[error("queue unavailable: {0}")]
    Unavailable(String),
    /// A stored payload is not a job this version understands.
    #[error("undecodable job payload: {0}")]
    Decode(#[from] serde_json::Error),
}

/// Dispatches jobs to workers.
#[async_trait]
pub trait Queue: Send + Sync {
    /// Short backend name for logs and `/health` (`memory`, `redis`).
    fn kind(&self) -> &'static str;
    /// Cheap reachability check.
    async fn health(&self) -> Result<(), QueueError>;
    /// Adds a job at the tail.
    async fn enqueue(&self, job: &Job) -> Result<(), QueueError>;
    /// Takes the oldest job for `worker`, waiting up to `wait`; `None` when none came.
    async fn reserve(&self, worker: &str, wait: Duration) -> Result<Option<Reserved>, QueueError>;
    /// Marks a reserved job done so it is never delivered again.
    async fn ack(&self, worker: &str, reserved: &Reserved) -> Result<(), QueueError>;
    /// Jobs waiting to be reserved.
    async fn depth(&self) -> Result<u64, QueueError>;
}

/// Builds the queue the settings ask for (does not contact Redis yet).
pub fn from_settings(settings: &Settings) -> Result<Arc<dyn Queue>, QueueError> {
    Ok(match settings.queue_kind() {
        QueueKind::Redis => Arc::new(RedisQueue::with_pool(
            redis_pool(settings)?,
            &settings.queue.key_prefix,
        )),
        QueueKind::Memory | QueueKind::Auto => Arc::new(MemoryQueue::default()),
    })
}

/// In-process FIFO; jobs lost with the process are re-dispatched from the database.
#[derive(Default)]
pub struct MemoryQueue {
    jobs: Mutex<VecDeque<String>>,
    ready: Notify,
}

impl MemoryQueue {
    fn pop(&self) -> Option<String> {
        self.jobs.lock().ok().and_then(|mut q| q.pop_front())
    }
}

#[async_trait]
impl Queue for MemoryQueue {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn health(&self) -> Result<(), QueueError> {
        Ok(())
    }

    async fn enqueue(&self, job: &Job) -> Result<(), QueueError> {
        let payload = serde_json::to_string(job)?;
        self.jobs
            .lock()
            .map_err(|_| QueueError::Unavailable("in-process queue poisoned".into()))?
            .push_back(payload);
        self.ready.notify_one();
        Ok(())
    }

    async fn reserve(&self, _worker: &str, wait: Duration) -> Result<Option<Reserved>, QueueError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.ready.notified();
            if let Some(payload) = self.pop() {
                let job = serde_json::from_str(&payload)?;
                return Ok(Some(Reserved { job, payload }));
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Ok(None);
            }
        }
    }

    async fn ack(&self, _worker: &str, _reserved: &Reserved) -> Result<(), QueueError> {
        Ok(())
    }

    async fn depth(&self) -> Result<u64, QueueError> {
        Ok(self.jobs.lock().map(|q| q.len() as u64).unwrap_or(0))
    }
}

/// Lifetime of a worker's processing list after its last reservation.
const PROCESSING_LIST_TTL_SECS: u64 = 86_400;

/// Redis lists: `{prefix}jobs` plus one `{prefix}processing:{worker}` list per worker.
pub struct RedisQueue {
    pool: Pool,
    prefix: String,
}

fn redis_err(e: impl std::fmt::Display) -> QueueError {
    QueueError::Unavailable(e.to_string())
}

/// Longest time a Redis command may take. redis-rs defaults to 500 ms, shorter than a
/// blocking `BLMOVE` waits: the client would give up on a reservation the server then
/// completes, moving a job into a processing list nobody reads (recovered only by the
/// sweeper). Every blocking wait here is at most a few seconds.
const REDIS_RESPONSE_TIMEOUT: Duration = Duration::from_secs(15);

/// A lazily-connecting Redis pool for `url`.
pub fn build_redis_pool(url: &str, pool_size: usize) -> Result<Pool, QueueError> {
    let connection = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(REDIS_RESPONSE_TIMEOUT));
    let manager = deadpool_redis::Manager::new_with_config(url, connection).map_err(redis_err)?;
    Pool::builder(manager)
        .max_size(pool_size)
        .runtime(Runtime::Tokio1)
        .create_timeout(Some(Duration::from_secs(2)))
        .wait_timeout(Some(Duration::from_secs(5)))
        .build()
        .map_err(redis_err)
}

/// The Redis pool the settings describe (queue and rate limits share it).
pub fn redis_pool(settings: &Settings) -> Result<Pool, QueueError> {
    build_redis_pool(
        settings.queue.redis_url.expose_secret(),
        settings.queue.pool_size,
    )
}

impl RedisQueue {
    /// A queue on a new pool for `url`; connections are made lazily.
    pub fn new(url: &str, prefix: &str, pool_size: usize) -> Result<Self, QueueError> {
        Ok(Self::with_pool(build_redis_pool(url, pool_size)?, prefix))
    }

    /// A queue on an existing pool.
    pub fn with_pool(pool: Pool, prefix: &str) -> Self {
        Self {
            pool,
            prefix: prefix.to_owned(),
        }
    }

    fn jobs_key(&self) -> String {
        format!("{}jobs", self.prefix)
    }

    fn processing_key(&self, worker: &str) -> String {
        format!("{}processing:{worker}", self.prefix)
    }

    async fn conn(&self) -> Result<deadpool_redis::Connection, QueueError> {
        self.pool.get().await.map_err(redis_err)
    }
}

#[async_trait]
impl Queue for RedisQueue {
    fn kind(&self) -> &'static str {
        "redis"
    }

    async fn health(&self) -> Result<(), QueueError> {
        let mut conn = self.conn().await?;
        let pong: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(QueueError::Unavailable(format!(
                "unexpected PING reply {pong:?}"
            )))
        }
    }

    async fn enqueue(&self, job: &Job) -> Result<(), QueueError> {
        let payload = serde_json::to_string(job)?;
        let mut conn = self.conn().await?;
        let _: i64 = redis::cmd("LPUSH")
            .arg(self.jobs_key())
            .arg(payload)
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(())
    }

    async fn reserve(&self, worker: &str, wait: Duration) -> Result<Option<Reserved>, QueueError> {
        let mut conn = self.conn().await?;
        let payload: Option<String> = redis::cmd("BLMOVE")
            .arg(self.jobs_key())
            .arg(self.processing_key(worker))
            .arg("RIGHT")
            .arg("LEFT")
            .arg(wait.as_secs_f64())
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        if payload.is_some() {
            // A crashed worker's list would stay forever (its jobs are re-dispatched
            // from the database by the sweeper); let Redis drop it a day later.
            let _: Result<i64, _> = redis::cmd("EXPIRE")
                .arg(self.processing_key(worker))
                .arg(PROCESSING_LIST_TTL_SECS)
                .query_async(&mut conn)
                .await;
        }
        match payload {
            None => Ok(None),
            Some(payload) => match serde_json::from_str(&payload) {
                Ok(job) => Ok(Some(Reserved { job, payload })),
                Err(e) => {
                    // Drop the poison message so it cannot block the worker forever.
                    let _: Result<i64, _> = redis::cmd("LREM")
                        .arg(self.processing_key(worker))
                        .arg(1)
                        .arg(&payload)
                        .query_async(&mut conn)
                        .await;
                    Err(e.into())
                }
            },
        }
    }

    async fn ack(&self, worker: &str, reserved: &Reserved) -> Result<(), QueueError> {
        let mut conn = self.conn().await?;
        let _: i64 = redis::cmd("LREM")
            .arg(self.processing_key(worker))
            .arg(1)
            .arg(&reserved.payload)
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(())
    }

    async fn depth(&self) -> Result<u64, QueueError> {
        let mut conn = self.conn().await?;
        redis::cmd("LLEN")
            .arg(self.jobs_key())
            .query_async(&mut conn)
            .await
            .map_err(redis_err)
    }
}
