//! Attempt counters for the auth endpoints (login, register, refresh, second factor), per
//! client IP and per account.
//!
//! **Algorithm: sliding window counter.** Time is cut into fixed windows of `rule.window`;
//! each key keeps the number of attempts in the current and the previous window. An
//! attempt is allowed when `previous × (share of the previous window still inside the
//! sliding window) + current + 1 ≤ limit`, and only allowed attempts are counted, so a
//! client hammering a closed door does not push its reopening further out. This smooths
//! the burst a plain fixed window allows at window edges (up to 2 × limit) while needing
//! only two counters per key.
//!
//! **Stores.** In-process by default. With Redis the counters are shared by all server
//! instances: one Lua script reads both windows and increments atomically, bounded by a
//! short timeout. When Redis fails or is slow, the call is answered by the in-process
//! store instead (never "unlimited"), a warning is logged at most every
//! [`WARN_EVERY`], and Redis is skipped for [`REDIS_BACKOFF`] so an outage costs no
//! latency per request. Attempts counted in-process during an outage are not carried over
//! to Redis when it returns.
//!
//! **Keys.** The caller's key (an IP, an account id, …) is hashed
//! (SHA-256, first 128 bits, hex), so arbitrary input cannot reach into the Redis key
//! space or grow memory: `{prefix}rl:{rule}:{hash}:{window_index}`. The hash is not a
//! privacy measure (IPs are easy to enumerate).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use deadpool_redis::{Pool, redis};
use sha2::{Digest, Sha256};

/// How many attempts a kind of request may make per key and window.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Stable name, part of the storage key (`login_ip`, `second_factor`, …).
    pub name: &'static str,
    /// Attempts allowed within one sliding window.
    pub limit: u32,
    /// Length of the window (rounded to milliseconds, at least 1 ms).
    pub window: Duration,
}

/// An attempt over the limit; the caller answers 429 with `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Denied {
    /// Seconds until an attempt would be allowed again (at least 1).
    pub retry_after_secs: u64,
}

/// Counts attempts per rule and key; cheap to clone (shared state), `Send + Sync`.
#[derive(Clone)]
pub struct RateLimiter {
    inner: Arc<Inner>,
}

struct Inner {
    memory: MemoryStore,
    redis: Option<RedisStore>,
}

/// Upper bound on one Redis round trip (pool checkout included).
pub const REDIS_TIMEOUT: Duration = Duration::from_millis(250);
/// After a Redis failure, how long calls go straight to the in-process store.
pub const REDIS_BACKOFF: Duration = Duration::from_secs(2);
/// At most one "Redis unavailable" warning per this interval.
pub const WARN_EVERY: Duration = Duration::from_secs(30);
/// Counters the in-process store keeps at most (roughly 10 MB).
pub const MAX_IN_PROCESS_KEYS: usize = 100_000;
/// Calls between sweeps of expired in-process counters.
const SWEEP_EVERY: u32 = 1024;

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("kind", &self.kind())
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// Counters in this process only: right for a single instance.
    pub fn in_process() -> Self {
        Self::with_memory_cap(MAX_IN_PROCESS_KEYS)
    }

    fn with_memory_cap(max_entries: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                memory: MemoryStore::new(max_entries),
                redis: None,
            }),
        }
    }

    /// Counters in Redis, shared by every instance using the same `key_prefix`; falls back
    /// to in-process counting while Redis is unreachable. Does not contact Redis yet.
    pub fn redis(pool: Pool, key_prefix: &str) -> Self {
        Self {
            inner: Arc::new(Inner {
                memory: MemoryStore::new(MAX_IN_PROCESS_KEYS),
                redis: Some(RedisStore {
                    pool,
                    prefix: key_prefix.to_owned(),
                    started: Instant::now(),
                    skip_until_ms: AtomicU64::new(0),
                    last_warn_ms: AtomicU64::new(0),
                    suppressed: AtomicU64::new(0),
                }),
            }),
        }
    }

    /// Backend name for logs and health output (`memory`, `redis`).
    pub fn kind(&self) -> &'static str {
        if self.inner.redis.is_some() {
            "redis"
        } else {
            "memory"
        }
    }

    /// Counts one attempt of `key` against `rule`; `Err` once the attempts within the
    /// sliding window would exceed `rule.limit` (denied attempts are not counted).
    pub async fn hit(&self, rule: &Rule, key: &str) -> Result<(), Denied> {
        self.hit_at(rule, key, unix_millis()).await
    }

    async fn hit_at(&self, rule: &Rule, key: &str, now_ms: u64) -> Result<(), Denied> {
        let hashed = hash_key(key);
        if let Some(redis) = &self.inner.redis
            && redis.available()
        {
            match redis.hit(rule, &hashed, now_ms).await {
                Ok(outcome) => return outcome,
                Err(e) => redis.failed("hit", &e),
            }
        }
        self.inner.memory.hit(rule, &hashed, now_ms)
    }

    /// Forgets the attempts of `key` under `rule` (e.g. account failures after a
    /// successful login). Best effort: both stores are cleared, errors are only logged.
    pub async fn reset(&self, rule: &Rule, key: &str) {
        self.reset_at(rule, key, unix_millis()).await;
    }

    async fn reset_at(&self, rule: &Rule, key: &str, now_ms: u64) {
        let hashed = hash_key(key);
        self.inner.memory.reset(rule, &hashed);
        if let Some(redis) = &self.inner.redis
            && redis.available()
            && let Err(e) = redis.reset(rule, &hashed, now_ms).await
        {
            redis.failed("reset", &e);
        }
    }
}

fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn window_ms(rule: &Rule) -> u64 {
    u64::try_from(rule.window.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// 128 bits of SHA-256, hex: fixed size and charset whatever the caller passes.
fn hash_key(key: &str) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..16])
}

/// The sliding-window decision shared by both stores (the Lua script mirrors the test).
///
/// `elapsed_ms` is the time since the start of the current window. `Ok` if one more
/// attempt fits; otherwise `Err` with the milliseconds until one would, assuming no
/// other attempt is admitted meanwhile.
fn decide(
    limit: u32,
    window_ms: u64,
    elapsed_ms: u64,
    previous: u64,
    current: u64,
) -> Result<(), u64> {
    let w = u128::from(window_ms.max(1));
    let e = u128::from(elapsed_ms).min(w - 1);
    let (prev, cur, limit) = (u128::from(previous), u128::from(current), u128::from(limit));
    // previous × (w − e) / w + current + 1 ≤ limit, multiplied through by w.
    if prev * (w - e) + (cur + 1) * w <= limit * w {
        return Ok(());
    }
    if limit == 0 {
        return Err(window_ms);
    }
    let wait = if cur >= limit {
        // Full already: in the next window `cur` becomes the previous count, and its
        // weight must fall to (limit − 1) / cur.
        let into_next = w - (limit - 1) * w / cur;
        (w - e) + into_next
    } else {
        // Room in this window once the previous window's weight has decayed enough;
        // `prev > 0` here, or the attempt would have fit.
        let needed = w - (limit - 1 - cur) * w / prev.max(1);
        needed.saturating_sub(e).max(1)
    };
    Err(u64::try_from(wait).unwrap_or(u64::MAX))
}

fn denied_after_ms(ms: u64) -> Denied {
    Denied {
        retry_after_secs: ms.div_ceil(1000).max(1),
    }
}

// ---------------------------------------------------------------------------------------
// In-process store

struct MemoryStore {
    state: Mutex<MemoryState>,
    max_entries: usize,
}

#[derive(Default)]
struct MemoryState {
    counters: HashMap<CounterKey, Counter>,
    calls_since_sweep: u32,
    /// Monotonic use stamp for least-recently-used eviction.
    clock: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CounterKey {
    rule: &'static str,
    window_ms: u64,
    key: String,
}

#[derive(Debug, Clone, Copy)]
struct Counter {
    window: u64,
    current: u64,
    previous: u64,
    /// When neither window can matter any more (end of the next window).
    expires_at_ms: u64,
    last_used: u64,
}

impl MemoryStore {
    fn new(max_entries: usize) -> Self {
        Self {
            state: Mutex::new(MemoryState::default()),
            max_entries: max_entries.max(1),
        }
    }

    fn hit(&self, rule: &Rule, hashed: &str, now_ms: u64) -> Result<(), Denied> {
        let w = window_ms(rule);
        let index = now_ms / w;
        // A poisoned lock only means another thread panicked mid-update of plain
        // counters; carrying on beats failing open.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.calls_since_sweep += 1;
        if state.calls_since_sweep >= SWEEP_EVERY {
            state.sweep_expired(now_ms);
        }
        state.clock += 1;
        let stamp = state.clock;
        let counter = state
            .counters
            .entry(CounterKey {
                rule: rule.name,
                window_ms: w,
                key: hashed.to_owned(),
            })
            .or_insert(Counter {
                window: index,
                current: 0,
                previous: 0,
                expires_at_ms: 0,
                last_used: stamp,
            });
        counter.last_used = stamp;
        // Roll forward; a clock that went backwards stays in the newest window seen.
        if index == counter.window + 1 {
            counter.previous = counter.current;
            counter.current = 0;
            counter.window = index;
        } else if index > counter.window + 1 {
            counter.previous = 0;
            counter.current = 0;
            counter.window = index;
        }
        let window_start = counter.window.saturating_mul(w);
        let elapsed = now_ms.saturating_sub(window_start);
        let outcome = match decide(rule.limit, w, elapsed, counter.previous, counter.current) {
            Ok(()) => {
                counter.current = counter.current.saturating_add(1);
                Ok(())
            }
            Err(ms) => Err(denied_after_ms(ms)),
        };
        counter.expires_at_ms = counter.window.saturating_add(2).saturating_mul(w);
        if state.counters.len() > self.max_entries {
            state.shrink(now_ms, self.max_entries);
        }
        outcome
    }

    fn reset(&self, rule: &Rule, hashed: &str) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.counters.remove(&CounterKey {
            rule: rule.name,
            window_ms: window_ms(rule),
            key: hashed.to_owned(),
        });
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .counters
            .len()
    }
}

impl MemoryState {
    fn sweep_expired(&mut self, now_ms: u64) {
        self.calls_since_sweep = 0;
        self.counters.retain(|_, c| c.expires_at_ms > now_ms);
    }

    /// Back under the cap: drop expired counters, then the least recently used down to
    /// 90 % of the cap, so a spray of fresh keys costs one O(n) pass per 10 % of the cap.
    fn shrink(&mut self, now_ms: u64, max_entries: usize) {
        self.sweep_expired(now_ms);
        if self.counters.len() <= max_entries {
            return;
        }
        let target = max_entries - max_entries / 10;
        let excess = self.counters.len() - target;
        let mut stamps: Vec<u64> = self.counters.values().map(|c| c.last_used).collect();
        // Stamps are unique, so exactly `excess` counters are at or below the threshold.
        let (_, threshold, _) = stamps.select_nth_unstable(excess - 1);
        let threshold = *threshold;
        self.counters.retain(|_, c| c.last_used > threshold);
    }
}

// ---------------------------------------------------------------------------------------
// Redis store

/// Reads the previous and current window, admits and counts the attempt if it fits.
/// KEYS: current, previous. ARGV: limit, window ms, elapsed ms, ttl ms.
/// Returns {allowed (0/1), current count, previous count}.
const HIT_SCRIPT: &str = r"
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local prev = tonumber(redis.call('GET', KEYS[2]) or '0')
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local elapsed = tonumber(ARGV[3])
if prev * (window - elapsed) + (cur + 1) * window > limit * window then
  return {0, cur, prev}
end
cur = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
return {1, cur, prev}
";

struct RedisStore {
    pool: Pool,
    prefix: String,
    started: Instant,
    /// Milliseconds since `started` until which Redis is not tried.
    skip_until_ms: AtomicU64,
    /// Milliseconds since `started` of the last warning, plus one (0 = never warned).
    last_warn_ms: AtomicU64,
    suppressed: AtomicU64,
}

#[derive(Debug, thiserror::Error)]
enum RedisFailure {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("no connection: {0}")]
    Pool(#[from] deadpool_redis::PoolError),
    #[error("{0}")]
    Redis(#[from] redis::RedisError),
}

impl RedisStore {
    fn key(&self, rule: &Rule, hashed: &str, window_index: u64) -> String {
        format!("{}rl:{}:{hashed}:{window_index}", self.prefix, rule.name)
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn available(&self) -> bool {
        self.elapsed_ms() >= self.skip_until_ms.load(Ordering::Relaxed)
    }

    async fn hit(
        &self,
        rule: &Rule,
        hashed: &str,
        now_ms: u64,
    ) -> Result<Result<(), Denied>, RedisFailure> {
        let w = window_ms(rule);
        let index = now_ms / w;
        let elapsed = now_ms % w;
        // Alive until the end of the next window, plus slack for clock skew between
        // instances.
        let ttl = (w - elapsed).saturating_add(w).saturating_add(1000);
        let current_key = self.key(rule, hashed, index);
        let previous_key = self.key(rule, hashed, index.wrapping_sub(1));
        let call = async {
            let mut conn = self.pool.get().await?;
            let reply: (i64, i64, i64) = redis::cmd("EVAL")
                .arg(HIT_SCRIPT)
                .arg(2)
                .arg(&current_key)
                .arg(&previous_key)
                .arg(rule.limit)
                .arg(w)
                .arg(elapsed)
                .arg(ttl)
                .query_async(&mut conn)
                .await?;
            Ok::<_, RedisFailure>(reply)
        };
        let (allowed, current, previous) = tokio::time::timeout(REDIS_TIMEOUT, call)
            .await
            .map_err(|_| RedisFailure::Timeout(REDIS_TIMEOUT))??;
        if allowed == 1 {
            return Ok(Ok(()));
        }
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        let wait = decide(rule.limit, w, elapsed, count(previous), count(current))
            .err()
            .unwrap_or(1000);
        Ok(Err(denied_after_ms(wait)))
    }

    async fn reset(&self, rule: &Rule, hashed: &str, now_ms: u64) -> Result<(), RedisFailure> {
        let index = now_ms / window_ms(rule);
        let call = async {
            let mut conn = self.pool.get().await?;
            let _: i64 = redis::cmd("DEL")
                .arg(self.key(rule, hashed, index))
                .arg(self.key(rule, hashed, index.wrapping_sub(1)))
                .query_async(&mut conn)
                .await?;
            Ok::<_, RedisFailure>(())
        };
        tokio::time::timeout(REDIS_TIMEOUT, call)
            .await
            .map_err(|_| RedisFailure::Timeout(REDIS_TIMEOUT))?
    }

    /// Backs off from Redis for a while and warns, at most once per [`WARN_EVERY`].
    fn failed(&self, operation: &'static str, error: &RedisFailure) {
        let now = self.elapsed_ms();
        self.skip_until_ms
            .store(now.saturating_add(millis(REDIS_BACKOFF)), Ordering::Relaxed);
        let last = self.last_warn_ms.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_add(1).saturating_sub(last) >= millis(WARN_EVERY);
        if due
            && self
                .last_warn_ms
                .compare_exchange(
                    last,
                    now.saturating_add(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            let suppressed = self.suppressed.swap(0, Ordering::Relaxed);
            tracing::warn!(
                operation,
                error = %error,
                suppressed_since_last_warning = suppressed,
                backoff_ms = millis(REDIS_BACKOFF),
                "rate limiter: Redis unavailable, counting in-process instead"
            );
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const MINUTE: Rule = Rule {
        name: "test_minute",
        limit: 5,
        window: Duration::from_secs(60),
    };

    /// A time at the very start of a window of `rule`.
    fn window_start(rule: &Rule, index: u64) -> u64 {
        index * window_ms(rule)
    }

    #[tokio::test]
    async fn allows_exactly_limit_then_denies_with_a_retry_after() {
        let rl = RateLimiter::in_process();
        let t0 = window_start(&MINUTE, 1000);
        for i in 0..5 {
            assert_eq!(
                rl.hit_at(&MINUTE, "1.2.3.4", t0 + i).await,
                Ok(()),
                "hit {i}"
            );
        }
        let denied = rl.hit_at(&MINUTE, "1.2.3.4", t0 + 10).await.unwrap_err();
        // Full in a fresh window: free again once this window's weight has decayed to
        // 4/5 in the next, i.e. after the rest of this window plus 12 s.
        assert_eq!(denied.retry_after_secs, 60 + 12);
        // Denials are not counted: the answer stays the same.
        let again = rl.hit_at(&MINUTE, "1.2.3.4", t0 + 10).await.unwrap_err();
        assert_eq!(again, denied);
    }

    #[tokio::test]
    async fn keys_and_rules_are_independent() {
        let rl = RateLimiter::in_process();
        let other = Rule {
            name: "test_other",
            ..MINUTE
        };
        let t = window_start(&MINUTE, 7);
        for _ in 0..5 {
            rl.hit_at(&MINUTE, "a", t).await.unwrap();
        }
        assert!(rl.hit_at(&MINUTE, "a", t).await.is_err());
        assert!(rl.hit_at(&MINUTE, "b", t).await.is_ok());
        assert!(rl.hit_at(&other, "a", t).await.is_ok());
    }

    #[tokio::test]
    async fn the_previous_window_decays_smoothly() {
        let rl = RateLimiter::in_process();
        let t0 = window_start(&MINUTE, 50);
        for _ in 0..5 {
            rl.hit_at(&MINUTE, "k", t0).await.unwrap();
        }
        // Next window, 6 s in: 5 × 54/60 = 4.5 → one more would make 5.5 > 5.
        let early = rl.hit_at(&MINUTE, "k", t0 + 66_000).await.unwrap_err();
        assert_eq!(early.retry_after_secs, 6);
        // 12 s in: 5 × 48/60 = 4 → exactly one fits, then it is full again.
        rl.hit_at(&MINUTE, "k", t0 + 72_000).await.unwrap();
        assert!(rl.hit_at(&MINUTE, "k", t0 + 72_000).await.is_err());
        // Two windows later nothing is left.
        for _ in 0..5 {
            rl.hit_at(&MINUTE, "k", t0 + 180_000).await.unwrap();
        }
    }

    #[tokio::test]
    async fn retry_after_is_honest() {
        // Wherever a denial happens, waiting exactly `retry_after` admits the next
        // attempt and waiting one second less does not (for whole-second windows).
        for offset in [0, 1, 999, 30_000, 59_999] {
            for limit in [1, 2, 5] {
                let rule = Rule { limit, ..MINUTE };
                let rl = RateLimiter::in_process();
                let t0 = window_start(&rule, 100);
                for _ in 0..limit {
                    rl.hit_at(&rule, "k", t0).await.unwrap();
                }
                let at = t0 + offset;
                let denied = rl.hit_at(&rule, "k", at).await.unwrap_err();
                let after = denied.retry_after_secs * 1000;
                assert!(rl.hit_at(&rule, "k", at + after - 1000).await.is_err());
                assert!(
                    rl.hit_at(&rule, "k", at + after).await.is_ok(),
                    "limit {limit}, offset {offset}, retry {after}"
                );
            }
        }
    }

    #[test]
    fn decide_matches_the_formula() {
        assert_eq!(decide(3, 1000, 0, 0, 2), Ok(()));
        assert_eq!(decide(3, 1000, 0, 0, 3), Err(1000 + 334));
        // 4 × 600/1000 + 1 > 3 until 500 ms into the window, where 4 × 0.5 + 1 = 3.
        assert_eq!(decide(3, 1000, 400, 4, 0), Err(100));
        assert_eq!(decide(3, 1000, 500, 4, 0), Ok(()));
        assert_eq!(decide(3, 1000, 999, 4, 0), Ok(()));
        assert_eq!(decide(0, 1000, 0, 0, 0), Err(1000));
        assert_eq!(decide(1, 1000, 10, 0, 1), Err(990 + 1000));
        assert_eq!(
            denied_after_ms(1),
            Denied {
                retry_after_secs: 1
            }
        );
        assert_eq!(
            denied_after_ms(0),
            Denied {
                retry_after_secs: 1
            }
        );
        assert_eq!(
            denied_after_ms(1001),
            Denied {
                retry_after_secs: 2
            }
        );
    }

    #[tokio::test]
    async fn a_zero_limit_denies_everything() {
        let rl = RateLimiter::in_process();
        let rule = Rule { limit: 0, ..MINUTE };
        let denied = rl.hit_at(&rule, "k", 0).await.unwrap_err();
        assert!(denied.retry_after_secs >= 1);
    }

    #[tokio::test]
    async fn windows_expire_in_real_time() {
        let rule = Rule {
            name: "test_tiny",
            limit: 2,
            window: Duration::from_millis(100),
        };
        let rl = RateLimiter::in_process();
        // Start right after a window boundary so both hits land in the same window.
        while unix_millis() % 100 > 20 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        rl.hit(&rule, "k").await.unwrap();
        rl.hit(&rule, "k").await.unwrap();
        assert!(rl.hit(&rule, "k").await.is_err());
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            if rl.hit(&rule, "k").await.is_ok() {
                break;
            }
            assert!(Instant::now() < deadline, "never allowed again");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn reset_forgets_the_attempts() {
        let rl = RateLimiter::in_process();
        let t = window_start(&MINUTE, 3);
        for _ in 0..5 {
            rl.hit_at(&MINUTE, "user@example.com", t).await.unwrap();
        }
        assert!(rl.hit_at(&MINUTE, "user@example.com", t).await.is_err());
        rl.reset_at(&MINUTE, "user@example.com", t).await;
        for _ in 0..5 {
            rl.hit_at(&MINUTE, "user@example.com", t).await.unwrap();
        }
        // Resetting a key that was never seen is harmless.
        rl.reset_at(&MINUTE, "nobody", t).await;
    }

    #[tokio::test]
    async fn memory_stays_bounded_under_a_key_spray() {
        let cap = 10_000;
        let rl = RateLimiter::with_memory_cap(cap);
        let t = window_start(&MINUTE, 9);
        // A victim's counter that keeps being used survives the spray.
        for _ in 0..5 {
            rl.hit_at(&MINUTE, "victim", t).await.unwrap();
        }
        for i in 0..100_000u64 {
            rl.hit_at(&MINUTE, &format!("spray-{i}"), t).await.unwrap();
            assert!(rl.inner.memory.len() <= cap);
            if i % 1000 == 0 {
                assert!(rl.hit_at(&MINUTE, "victim", t).await.is_err());
            }
        }
        assert!(rl.inner.memory.len() <= cap);
    }

    #[tokio::test]
    async fn the_default_cap_holds_too() {
        let rl = RateLimiter::in_process();
        let t = window_start(&MINUTE, 11);
        for i in 0..(MAX_IN_PROCESS_KEYS as u64 + 5_000) {
            let _ = rl.hit_at(&MINUTE, &i.to_string(), t).await;
        }
        assert!(rl.inner.memory.len() <= MAX_IN_PROCESS_KEYS);
    }

    #[tokio::test]
    async fn expired_counters_are_swept() {
        let rl = RateLimiter::in_process();
        let t = window_start(&MINUTE, 20);
        for i in 0..500 {
            rl.hit_at(&MINUTE, &format!("old-{i}"), t).await.unwrap();
        }
        let later = t + 3 * 60_000;
        for _ in 0..SWEEP_EVERY {
            rl.hit_at(&MINUTE, "new", later).await.ok();
        }
        assert_eq!(rl.inner.memory.len(), 1);
    }

    #[test]
    fn keys_are_hashed_to_a_fixed_safe_shape() {
        for raw in ["1.2.3.4", "", "a:b:c*{x}\r\n", &"x".repeat(10_000), "ÄÖÜ"] {
            let h = hash_key(raw);
            assert_eq!(h.len(), 32);
            assert!(h.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        assert_ne!(hash_key("a"), hash_key("b"));
    }

    #[tokio::test]
    async fn an_unreachable_redis_falls_back_and_still_limits() {
        let pool = deadpool_redis::Config::from_url("redis://127.0.0.1:1")
            .builder()
            .unwrap()
            .max_size(2)
            .runtime(deadpool_redis::Runtime::Tokio1)
            .create_timeout(Some(Duration::from_millis(500)))
            .wait_timeout(Some(Duration::from_millis(500)))
            .build()
            .unwrap();
        let rl = RateLimiter::redis(pool, "unit:");
        assert_eq!(rl.kind(), "redis");
        let rule = Rule { limit: 3, ..MINUTE };
        let t = window_start(&rule, 5);
        for _ in 0..3 {
            rl.hit_at(&rule, "k", t).await.unwrap();
        }
        assert!(rl.hit_at(&rule, "k", t).await.is_err());
        rl.reset_at(&rule, "k", t).await;
        assert!(rl.hit_at(&rule, "k", t).await.is_ok());
    }

    #[test]
    fn limiters_can_be_shared_between_threads() {
        fn assert_send_sync<T: Send + Sync + Clone>() {}
        assert_send_sync::<RateLimiter>();
    }
}
