//! The auth rate limiter against a real Redis (`DOCUVAULT_TEST_REDIS_URL`, e.g.
//! `redis://127.0.0.1:6379`) and against an unreachable one.
//!
//! Without the variable the Redis-backed tests only check the in-process limiter and
//! return; the fallback tests need no Redis and always run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::{Duration, Instant};

use deadpool_redis::{Pool, Runtime, redis};
use docuvault::security::rate_limit::{RateLimiter, Rule};

const RULE: Rule = Rule {
    name: "login_ip",
    limit: 3,
    // Long enough that a window boundary during the test cannot change the outcome.
    window: Duration::from_secs(3600),
};

fn pool(url: &str) -> Pool {
    deadpool_redis::Config::from_url(url)
        .builder()
        .expect("redis url")
        .max_size(4)
        .runtime(Runtime::Tokio1)
        .create_timeout(Some(Duration::from_secs(2)))
        .wait_timeout(Some(Duration::from_secs(5)))
        .build()
        .expect("redis pool")
}

/// The Redis URL, or `None` after checking the in-process limiter once.
async fn redis_url() -> Option<String> {
    match std::env::var("DOCUVAULT_TEST_REDIS_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            let rl = RateLimiter::in_process();
            for _ in 0..RULE.limit {
                rl.hit(&RULE, "203.0.113.1").await.unwrap();
            }
            assert!(rl.hit(&RULE, "203.0.113.1").await.is_err());
            None
        }
    }
}

fn unique_prefix() -> String {
    format!("dvtest:{}:", uuid::Uuid::new_v4())
}

async fn keys_under(pool: &Pool, prefix: &str) -> Vec<String> {
    let mut conn = pool.get().await.unwrap();
    redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .unwrap()
}

async fn delete_keys(pool: &Pool, prefix: &str) {
    let keys = keys_under(pool, prefix).await;
    if keys.is_empty() {
        return;
    }
    let mut conn = pool.get().await.unwrap();
    let _: i64 = redis::cmd("DEL")
        .arg(keys)
        .query_async(&mut conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn limits_are_shared_between_instances() {
    let Some(url) = redis_url().await else {
        return;
    };
    let prefix = unique_prefix();
    // Two server instances: separate pools, same Redis and prefix.
    let a = RateLimiter::redis(pool(&url), &prefix);
    let b = RateLimiter::redis(pool(&url), &prefix);
    let ip = "198.51.100.7";

    a.hit(&RULE, ip).await.unwrap();
    b.hit(&RULE, ip).await.unwrap();
    a.hit(&RULE, ip).await.unwrap();
    let denied = b.hit(&RULE, ip).await.unwrap_err();
    assert!(denied.retry_after_secs >= 1);
    assert!(denied.retry_after_secs <= 2 * RULE.window.as_secs());
    assert!(a.hit(&RULE, ip).await.is_err());

    // Another key and another rule are untouched.
    a.hit(&RULE, "198.51.100.8").await.unwrap();
    let other = Rule {
        name: "register_ip",
        ..RULE
    };
    b.hit(&other, ip).await.unwrap();

    // A reset on one instance is seen by the other.
    a.reset(&RULE, ip).await;
    for _ in 0..RULE.limit {
        b.hit(&RULE, ip).await.unwrap();
    }
    assert!(a.hit(&RULE, ip).await.is_err());

    // Counters live under the prefix, expire, and never contain the raw key.
    let admin = pool(&url);
    let keys = keys_under(&admin, &prefix).await;
    assert!(!keys.is_empty());
    let mut conn = admin.get().await.unwrap();
    for key in &keys {
        assert!(key.starts_with(&format!("{prefix}rl:")), "{key}");
        assert!(!key.contains(ip), "{key}");
        let ttl: i64 = redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(ttl > 0 && ttl <= 2 * 3_600_000 + 1_000, "{key}: ttl {ttl}");
    }
    drop(conn);
    delete_keys(&admin, &prefix).await;
}

#[tokio::test]
async fn hostile_keys_stay_inside_their_own_counter() {
    let Some(url) = redis_url().await else {
        return;
    };
    let prefix = unique_prefix();
    let rl = RateLimiter::redis(pool(&url), &prefix);
    let hostile = "x:*\r\nFLUSHALL\r\n{tag}:login_ip:";
    for _ in 0..RULE.limit {
        rl.hit(&RULE, hostile).await.unwrap();
    }
    assert!(rl.hit(&RULE, hostile).await.is_err());
    assert!(rl.hit(&RULE, "x").await.is_ok());
    let admin = pool(&url);
    let keys = keys_under(&admin, &prefix).await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys.iter().all(|k| !k.contains("FLUSHALL")));
    delete_keys(&admin, &prefix).await;
}

#[tokio::test]
async fn concurrent_attempts_never_exceed_the_limit() {
    let Some(url) = redis_url().await else {
        return;
    };
    let prefix = unique_prefix();
    let rule = Rule { limit: 10, ..RULE };
    let instances = [
        RateLimiter::redis(pool(&url), &prefix),
        RateLimiter::redis(pool(&url), &prefix),
    ];
    // Open the connections first, so the burst measures Redis, not connection setup.
    for (i, rl) in instances.iter().enumerate() {
        rl.hit(&rule, &format!("warm-up-{i}")).await.unwrap();
    }
    let mut tasks = Vec::new();
    for i in 0..50 {
        let rl = instances[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            rl.hit(&rule, "account@example.com").await
        }));
    }
    let mut allowed = 0;
    for task in tasks {
        if task.await.unwrap().is_ok() {
            allowed += 1;
        }
    }
    assert_eq!(allowed, rule.limit);
    delete_keys(&pool(&url), &prefix).await;
}

/// A Redis that is down must mean in-process limits, promptly, never no limits.
#[tokio::test]
async fn an_unreachable_redis_still_limits_promptly() {
    let rl = RateLimiter::redis(pool("redis://127.0.0.1:1"), &unique_prefix());
    let ip = "192.0.2.10";
    for _ in 0..RULE.limit {
        let started = Instant::now();
        rl.hit(&RULE, ip).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(1));
    }
    for _ in 0..5 {
        let started = Instant::now();
        assert!(rl.hit(&RULE, ip).await.is_err(), "unlimited without Redis");
        assert!(started.elapsed() < Duration::from_secs(1));
    }
    let started = Instant::now();
    rl.reset(&RULE, ip).await;
    assert!(started.elapsed() < Duration::from_secs(1));
    rl.hit(&RULE, ip).await.unwrap();
}

/// A Redis that accepts connections but never answers is cut off by the timeout.
#[tokio::test]
async fn a_hanging_redis_still_limits_promptly() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let rl = RateLimiter::redis(pool(&format!("redis://{addr}")), &unique_prefix());
    let ip = "192.0.2.11";
    for _ in 0..RULE.limit {
        let started = Instant::now();
        rl.hit(&RULE, ip).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(1));
    }
    let started = Instant::now();
    assert!(rl.hit(&RULE, ip).await.is_err(), "unlimited without Redis");
    assert!(started.elapsed() < Duration::from_secs(1));
    silent.abort();
}

/// `POST /api/auth/login`; returns `(status, error code)`.
async fn login_attempt(app: &common::TestApp, login: &str, password: &str) -> (u16, String) {
    let res = app
        .post_json(
            "/api/auth/login",
            None,
            &serde_json::json!({"login": login, "password": password}),
        )
        .await;
    let status = res.status().as_u16();
    let body: serde_json::Value = res.json().await.unwrap_or_default();
    (status, body["code"].as_str().unwrap_or("-").to_owned())
}

/// The per-account login limit counts the account a login string names: its handle and
/// e-mail, in any case, share one budget (each had its own, doubling the guesses). An
/// unknown login string has a budget of its own, and answers exactly as a known one.
#[tokio::test]
async fn handle_and_email_share_one_login_budget_per_account() {
    const LIMIT: usize = 4;
    let app = common::TestApp::spawn_with(|env| {
        env.insert(
            "DOCUVAULT__RATE_LIMIT__LOGIN_PER_ACCOUNT__LIMIT".into(),
            LIMIT.to_string(),
        );
        env.insert(
            "DOCUVAULT__RATE_LIMIT__LOGIN_PER_IP__LIMIT".into(),
            "1000".into(),
        );
        env.insert("DOCUVAULT__AUTH__ARGON2_MEMORY_KIB".into(), "1024".into());
        env.insert("DOCUVAULT__AUTH__ARGON2_ITERATIONS".into(), "1".into());
    })
    .await;
    app.register("carol").await;
    app.register("dave").await;

    let variants = ["carol", "carol@example.com", " CAROL ", "Carol@Example.COM"];
    let ghosts = [
        "ghost@example.com",
        "GHOST@example.com ",
        "Ghost@Example.com",
        "ghost@example.COM",
    ];
    for i in 0..LIMIT {
        assert_eq!(
            login_attempt(&app, variants[i % variants.len()], "wrong password").await,
            (401, "invalid_credentials".to_owned()),
            "attempt {i} on carol"
        );
        // An unknown login string (in varying case) answers exactly the same.
        assert_eq!(
            login_attempt(&app, ghosts[i % ghosts.len()], "wrong password").await,
            (401, "invalid_credentials".to_owned()),
            "attempt {i} on an unknown account"
        );
    }
    // The budget is spent, whichever name the account is addressed by, even with the
    // right password.
    for login in variants {
        assert_eq!(
            login_attempt(&app, login, common::PASSWORD).await,
            (429, "rate_limited".to_owned()),
            "{login}"
        );
    }
    for login in ghosts {
        assert_eq!(
            login_attempt(&app, login, "wrong password").await,
            (429, "rate_limited".to_owned()),
            "{login}"
        );
    }
    // Other accounts and other unknown strings keep their own budgets.
    assert_eq!(
        login_attempt(&app, "dave@example.com", common::PASSWORD)
            .await
            .0,
        200
    );
    assert_eq!(
        login_attempt(&app, "nobody@example.com", "wrong password").await,
        (401, "invalid_credentials".to_owned())
    );
}
