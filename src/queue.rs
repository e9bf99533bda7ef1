//! The job queue: in-process by default, Redis lists when configured.
//!
//! Delivery is at-least-once. Redis moves a reserved job atomically (one Lua script) into
//! the worker's own processing list and removes it on `ack`, so a crashed worker's
//! jobs are still in Redis to be recovered.
//!
//! **Fair between users.** Jobs wait in one FIFO *lane* per owner (the document's user),
//! and lanes are served in rounds: each lane with work gets one job per round, in turn; a
//! lane that gets work during a round it has not been served in joins that round. So a
//! user's backlog delays another user's next document by at most one job (plus the jobs
//! already running, one per worker), however long the backlog is. Both backends keep the
//! same structure ([`Lanes`] in memory; lists, a set and Lua scripts in Redis).

use std::collections::{HashMap, HashSet, VecDeque};
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
    /// Adds a job at the tail of the shared lane (jobs whose owner is unknown).
    async fn enqueue(&self, job: &Job) -> Result<(), QueueError> {
        self.enqueue_for(SHARED_LANE, job).await
    }
    /// Adds a job at the tail of `owner`'s lane (see the module doc: lanes are served
    /// round-robin, so one owner's backlog cannot hold up the others).
    async fn enqueue_for(&self, owner: &str, job: &Job) -> Result<(), QueueError>;
    /// Takes the next job for `worker` (the oldest of the lane whose turn it is), waiting
    /// up to `wait`; `None` when none came.
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

/// The lane of jobs enqueued without an owner.
pub const SHARED_LANE: &str = "-";

/// Per-owner FIFO lanes served in rounds (the in-process form of the fair queue; the
/// Redis queue keeps the same structure in Redis).
#[derive(Debug, Default)]
pub struct Lanes {
    /// Waiting jobs per lane, oldest first; a lane is present only while it has jobs.
    waiting: HashMap<String, VecDeque<String>>,
    /// Lanes with jobs not yet served in this round, in turn.
    current: VecDeque<String>,
    /// Lanes with jobs already served in this round: their turn comes in the next one.
    next: VecDeque<String>,
    /// Lanes served in this round (whether or not they have jobs left).
    served: HashSet<String>,
    len: usize,
}

impl Lanes {
    /// Adds `payload` at the tail of `lane`.
    pub fn push(&mut self, lane: &str, payload: String) {
        let queue = self.waiting.entry(lane.to_owned()).or_default();
        queue.push_back(payload);
        self.len += 1;
        if queue.len() == 1 {
            // The lane just got work: it joins this round unless it was served in it.
            if self.served.contains(lane) {
                self.next.push_back(lane.to_owned());
            } else {
                self.current.push_back(lane.to_owned());
            }
        }
    }

    /// Takes the oldest job of the lane whose turn it is.
    pub fn pop(&mut self) -> Option<String> {
        loop {
            if self.current.is_empty() {
                if self.next.is_empty() {
                    return None;
                }
                // Every lane with work had its turn: a new round.
                std::mem::swap(&mut self.current, &mut self.next);
                self.served.clear();
            }
            let lane = self.current.pop_front()?;
            let Some(queue) = self.waiting.get_mut(&lane) else {
                continue;
            };
            let payload = queue.pop_front();
            if queue.is_empty() {
                self.waiting.remove(&lane);
            } else {
                self.next.push_back(lane.clone());
            }
            self.served.insert(lane);
            if let Some(payload) = payload {
                self.len -= 1;
                return Some(payload);
            }
        }
    }

    /// Jobs waiting in all lanes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no job waits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// In-process fair queue; jobs lost with the process are re-dispatched from the database.
#[derive(Default)]
pub struct MemoryQueue {
    jobs: Mutex<Lanes>,
    ready: Notify,
}

impl MemoryQueue {
    fn pop(&self) -> Option<String> {
        self.jobs.lock().ok().and_then(|mut q| q.pop())
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

    async fn enqueue_for(&self, owner: &str, job: &Job) -> Result<(), QueueError> {
        let payload = serde_json::to_string(job)?;
        self.jobs
            .lock()
            .map_err(|_| QueueError::Unavailable("in-process queue poisoned".into()))?
            .push(owner, payload);
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

/// Redis: one list per lane (`{prefix}lane:{owner}`), the lanes whose turn is in this
/// round (`{prefix}lanes:current`) and in the next (`{prefix}lanes:next`), the set of lanes
/// served in this round (`{prefix}lanes:served`), a wake-up list workers block on
/// (`{prefix}wake`), and one `{prefix}processing:{worker}` list per worker. Jobs left in
/// the single list of earlier versions (`{prefix}jobs`) are served first.
///
/// Every change is one Lua script, so lanes, rounds and processing lists move together.
/// (The scripts build lane keys from the prefix: a single Redis server, not a cluster.)
pub struct RedisQueue {
    pool: Pool,
    prefix: String,
}

/// KEYS: lane, current, next, served, wake. ARGV: lane name, payload.
const ENQUEUE_LUA: &str = r"
local n = redis.call('LPUSH', KEYS[1], ARGV[2])
if n == 1 then
  if redis.call('SISMEMBER', KEYS[4], ARGV[1]) == 1 then
    redis.call('RPUSH', KEYS[3], ARGV[1])
  else
    redis.call('RPUSH', KEYS[2], ARGV[1])
  end
end
redis.call('LPUSH', KEYS[5], '1')
redis.call('LTRIM', KEYS[5], 0, 63)
return n
";

/// KEYS: current, next, served, processing, legacy jobs list, wake.
/// ARGV: lane key prefix, processing list TTL.
const RESERVE_LUA: &str = r"
local payload = redis.call('RPOP', KEYS[5])
local tries = redis.call('LLEN', KEYS[1]) + redis.call('LLEN', KEYS[2]) + 1
while not payload and tries > 0 do
  tries = tries - 1
  local lane = redis.call('LPOP', KEYS[1])
  if not lane then
    if redis.call('EXISTS', KEYS[2]) == 0 then
      redis.call('DEL', KEYS[6])
      return false
    end
    redis.call('RENAME', KEYS[2], KEYS[1])
    redis.call('DEL', KEYS[3])
    lane = redis.call('LPOP', KEYS[1])
  end
  local lane_key = ARGV[1] .. lane
  payload = redis.call('RPOP', lane_key)
  if redis.call('LLEN', lane_key) > 0 then
    redis.call('RPUSH', KEYS[2], lane)
  end
  redis.call('SADD', KEYS[3], lane)
end
if not payload then
  return false
end
redis.call('LPUSH', KEYS[4], payload)
redis.call('EXPIRE', KEYS[4], ARGV[2])
return payload
";

/// KEYS: current, next, legacy jobs list. ARGV: lane key prefix.
const DEPTH_LUA: &str = r"
local total = redis.call('LLEN', KEYS[3])
for _, ring in ipairs({KEYS[1], KEYS[2]}) do
  for _, lane in ipairs(redis.call('LRANGE', ring, 0, -1)) do
    total = total + redis.call('LLEN', ARGV[1] .. lane)
  end
end
return total
";

fn redis_err(e: impl std::fmt::Display) -> QueueError {
    QueueError::Unavailable(e.to_string())
}

/// Longest time a Redis command may take. redis-rs defaults to 500 ms, shorter than a
/// reservation blocks on the wake-up list (`BLPOP`): the client would give up on waits
/// the server still serves. Every blocking wait here is at most a few seconds.
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

    /// The single job list of earlier versions, drained first.
    fn legacy_jobs_key(&self) -> String {
        format!("{}jobs", self.prefix)
    }

    fn lane_prefix(&self) -> String {
        format!("{}lane:", self.prefix)
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
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

    async fn enqueue_for(&self, owner: &str, job: &Job) -> Result<(), QueueError> {
        let payload = serde_json::to_string(job)?;
        let mut conn = self.conn().await?;
        let _: i64 = redis::cmd("EVAL")
            .arg(ENQUEUE_LUA)
            .arg(5)
            .arg(format!("{}{owner}", self.lane_prefix()))
            .arg(self.key("lanes:current"))
            .arg(self.key("lanes:next"))
            .arg(self.key("lanes:served"))
            .arg(self.key("wake"))
            .arg(owner)
            .arg(payload)
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(())
    }

    async fn reserve(&self, worker: &str, wait: Duration) -> Result<Option<Reserved>, QueueError> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut conn = self.conn().await?;
        let payload = loop {
            let taken: Option<String> = redis::cmd("EVAL")
                .arg(RESERVE_LUA)
                .arg(6)
                .arg(self.key("lanes:current"))
                .arg(self.key("lanes:next"))
                .arg(self.key("lanes:served"))
                // A crashed worker's list would stay forever (its jobs are re-dispatched
                // from the database by the sweeper); Redis drops it a day later.
                .arg(self.processing_key(worker))
                .arg(self.legacy_jobs_key())
                .arg(self.key("wake"))
                .arg(self.lane_prefix())
                .arg(PROCESSING_LIST_TTL_SECS)
                .query_async(&mut conn)
                .await
                .map_err(redis_err)?;
            if taken.is_some() {
                break taken;
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left < Duration::from_millis(10) {
                break None;
            }
            // Every enqueue pushes a wake-up token; wait for one, then look again.
            let _: Option<(String, String)> = redis::cmd("BLPOP")
                .arg(self.key("wake"))
                .arg(left.as_secs_f64())
                .query_async(&mut conn)
                .await
                .map_err(redis_err)?;
        };
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
        redis::cmd("EVAL")
            .arg(DEPTH_LUA)
            .arg(3)
            .arg(self.key("lanes:current"))
            .arg(self.key("lanes:next"))
            .arg(self.legacy_jobs_key())
            .arg(self.lane_prefix())
            .query_async(&mut conn)
            .await
            .map_err(redis_err)
    }
}
