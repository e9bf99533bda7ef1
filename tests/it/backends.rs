//! Object store and queue backends behave the same on every configuration.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::Duration;

use common::TestApp;
use docuvault::domain::ObjectKey;
use docuvault::queue::{Job, MemoryQueue, Queue};

#[tokio::test]
async fn object_store_round_trip() {
    let app = TestApp::spawn().await;
    let store = &app.state.storage;
    let key = ObjectKey::parse(&format!(
        "{}/{}/{}.pdf",
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4()
    ))
    .unwrap();

    assert_eq!(store.stat(&key).await.unwrap(), None);
    assert_eq!(store.get(&key).await.unwrap(), None);

    let bytes = b"%PDF-1.7 hello".repeat(1000);
    store
        .put(&key, bytes.clone(), "application/pdf")
        .await
        .unwrap();
    assert_eq!(
        store.stat(&key).await.unwrap().unwrap().size_bytes,
        bytes.len() as u64
    );
    assert_eq!(store.get(&key).await.unwrap().unwrap(), bytes);

    store
        .put(&key, b"v2".to_vec(), "application/pdf")
        .await
        .unwrap();
    assert_eq!(store.stat(&key).await.unwrap().unwrap().size_bytes, 2);

    store.delete(&key).await.unwrap();
    assert_eq!(store.stat(&key).await.unwrap(), None);
    store.delete(&key).await.unwrap();
}

async fn exercise_queue(queue: &dyn Queue) {
    let worker = format!("w-{}", uuid::Uuid::new_v4().simple());
    assert!(
        queue
            .reserve(&worker, Duration::from_millis(200))
            .await
            .unwrap()
            .is_none()
    );
    let a = Job::ProcessDocument {
        document_id: uuid::Uuid::new_v4(),
    };
    let b = Job::ProcessDocument {
        document_id: uuid::Uuid::new_v4(),
    };
    queue.enqueue(&a).await.unwrap();
    queue.enqueue(&b).await.unwrap();
    let first = queue
        .reserve(&worker, Duration::from_secs(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.job, a, "FIFO order");
    queue.ack(&worker, &first).await.unwrap();
    let second = queue
        .reserve(&worker, Duration::from_secs(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.job, b);
    queue.ack(&worker, &second).await.unwrap();
    assert!(
        queue
            .reserve(&worker, Duration::from_millis(100))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn configured_queue_delivers_in_order_and_acks() {
    // No workers: they would take the jobs this test reserves itself.
    let app = TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__SERVER__RUN_WORKERS".into(), "false".into());
    })
    .await;
    exercise_queue(app.state.queue.as_ref()).await;
}

#[tokio::test]
async fn memory_queue_wakes_a_waiting_worker() {
    let queue = std::sync::Arc::new(MemoryQueue::default());
    let waiter = {
        let queue = queue.clone();
        tokio::spawn(async move { queue.reserve("w", Duration::from_secs(10)).await })
    };
    let job = Job::ProcessDocument {
        document_id: uuid::Uuid::new_v4(),
    };
    queue.enqueue(&job).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("woken")
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(got.job, job);
    exercise_queue(queue.as_ref()).await;
}

#[tokio::test]
async fn redis_keeps_unacked_jobs_in_the_workers_processing_list() {
    let Ok(url) = std::env::var("DOCUVAULT_TEST_REDIS_URL") else {
        // Without Redis the in-process queue is covered above.
        return;
    };
    let prefix = format!("dvtest:{}:", uuid::Uuid::new_v4().simple());
    let queue = docuvault::queue::RedisQueue::new(&url, &prefix, 2).unwrap();
    queue.health().await.unwrap();
    let job = Job::ProcessDocument {
        document_id: uuid::Uuid::new_v4(),
    };
    queue.enqueue(&job).await.unwrap();
    let reserved = queue
        .reserve("crashy", Duration::from_secs(1))
        .await
        .unwrap()
        .unwrap();
    // Not acked: still recorded under the worker, gone from the main list.
    let client = deadpool_redis::redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let processing: Vec<String> = deadpool_redis::redis::cmd("LRANGE")
        .arg(format!("{prefix}processing:crashy"))
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(processing.len(), 1);
    let pending: i64 = deadpool_redis::redis::cmd("LLEN")
        .arg(format!("{prefix}jobs"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(pending, 0);
    queue.ack("crashy", &reserved).await.unwrap();
    let left: i64 = deadpool_redis::redis::cmd("LLEN")
        .arg(format!("{prefix}processing:crashy"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

fn absolute(app: &TestApp, url: &str) -> String {
    if url.starts_with('/') {
        app.url(url)
    } else {
        url.to_owned()
    }
}

fn tamper(url: &str) -> String {
    // Flip one character of the signature / signed payload.
    let idx = url.len() - 3;
    let mut bytes = url.as_bytes().to_vec();
    bytes[idx] = if bytes[idx] == b'a' { b'b' } else { b'a' };
    String::from_utf8(bytes).unwrap()
}

#[tokio::test]
async fn presigned_put_and_get_work_like_a_browser_would_use_them() {
    let app = TestApp::spawn().await;
    let store = &app.state.storage;
    let id = uuid::Uuid::new_v4();
    let staging = ObjectKey::parse(&format!("{id}/{id}/staging.pdf")).unwrap();
    let final_key = ObjectKey::parse(&format!("{id}/{id}/final.pdf")).unwrap();
    let bytes = b"%PDF-1.7 presigned".to_vec();
    let ttl = Duration::from_secs(60);

    let put = store
        .presign_put(&staging, "application/pdf", bytes.len() as u64, ttl)
        .await
        .unwrap();
    assert_eq!(put.headers["Content-Type"], "application/pdf");
    let url = absolute(&app, &put.url);

    // Tampered URL, wrong content type, wrong length: refused by the store.
    let res = app
        .client
        .put(tamper(&url))
        .header("content-type", "application/pdf")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "tampered URL");
    let res = app
        .client
        .put(&url)
        .header("content-type", "text/html")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "other content type");
    let res = app
        .client
        .put(&url)
        .header("content-type", "application/pdf")
        .body(b"short".to_vec())
        .send()
        .await
        .unwrap();
    assert!(
        res.status().is_client_error(),
        "other length: {}",
        res.status()
    );
    assert_eq!(
        store.stat(&staging).await.unwrap(),
        None,
        "nothing stored by refused uploads"
    );

    let res = app
        .client
        .put(&url)
        .header("content-type", "application/pdf")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(
        store.stat(&staging).await.unwrap().unwrap().size_bytes,
        bytes.len() as u64
    );

    store.rename(&staging, &final_key).await.unwrap();
    assert_eq!(store.stat(&staging).await.unwrap(), None);
    let listed = store.list(&format!("{id}/")).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].key, final_key.as_str());
    assert_eq!(listed[0].size_bytes, bytes.len() as u64);

    let name = "Q3 \"report\"\r\n../ü.pdf";
    let get = store
        .presign_get(&final_key, name, "application/pdf", ttl)
        .await
        .unwrap();
    let res = app.client.get(absolute(&app, &get)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let disposition = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.starts_with("attachment; filename=\""),
        "{disposition}"
    );
    assert!(
        disposition.contains("filename*=UTF-8''Q3%20%22report%22%0D%0A..%2F%C3%BC.pdf"),
        "{disposition}"
    );
    assert!(!disposition.contains('\r') && !disposition.contains('\n'));
    assert_eq!(res.bytes().await.unwrap().to_vec(), bytes);
    let res = app
        .client
        .get(tamper(&absolute(&app, &get)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    store.delete(&final_key).await.unwrap();
}

#[tokio::test]
async fn an_expired_upload_url_is_refused_by_the_store() {
    let app = TestApp::spawn().await;
    let store = &app.state.storage;
    let id = uuid::Uuid::new_v4();
    let key = ObjectKey::parse(&format!("{id}/{id}/late.txt.upload")).unwrap();
    let put = store
        .presign_put(&key, "text/plain", 4, Duration::from_secs(1))
        .await
        .unwrap();
    let url = absolute(&app, &put.url);
    // Poll until the URL has expired: then the store must refuse it.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        // Probe with a wrong length, which never stores anything, until it expires…
        let res = app
            .client
            .put(&url)
            .header("content-type", "text/plain")
            .body(b"xxxxx".to_vec())
            .send()
            .await
            .unwrap();
        assert!(res.status().is_client_error());
        if std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
            > put_expiry_secs(&put.url, &app) + 1.0
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "URL never expired");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // …then the exact, correct upload is refused too.
    let res = app
        .client
        .put(&url)
        .header("content-type", "text/plain")
        .body(b"abcd".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "expired URL accepted");
    assert_eq!(store.stat(&key).await.unwrap(), None);
}

/// When a presigned URL stops being valid, in Unix seconds (local grant or S3 query).
fn put_expiry_secs(url: &str, _app: &TestApp) -> f64 {
    use base64::Engine;
    if let Some(token) = url.split("/storage/").nth(1) {
        let payload = token.split('.').next().unwrap();
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap();
        let grant: serde_json::Value = serde_json::from_slice(&json).unwrap();
        return grant["expires"].as_f64().unwrap();
    }
    let parsed = url::Url::parse(url).unwrap();
    let q: std::collections::HashMap<_, _> = parsed.query_pairs().into_owned().collect();
    let date = chrono::NaiveDateTime::parse_from_str(&q["X-Amz-Date"], "%Y%m%dT%H%M%SZ").unwrap();
    let expires: f64 = q["X-Amz-Expires"].parse().unwrap();
    date.and_utc().timestamp() as f64 + expires
}

/// Sends a raw `PUT` whose body is `sent` bytes while `Content-Length` says `declared`,
/// then closes the write side; returns the status line (empty when the server hung up).
async fn raw_put(url: &str, content_type: &str, declared: usize, sent: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = url::Url::parse(url).unwrap();
    let addr = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}\r\nContent-Length: {declared}\r\nConnection: close\r\n\r\n",
        url.host_str().unwrap()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let _ = stream.write_all(&vec![b'x'; sent]).await;
    let _ = stream.shutdown().await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        stream.read_to_end(&mut answer),
    )
    .await;
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn local_uploads_with_a_short_or_long_body_store_nothing() {
    // docuvault's own store (an S3 server enforces lengths itself).
    let app = TestApp::spawn_with(|env| {
        env.retain(|k, _| !k.starts_with("DOCUVAULT__STORAGE__S3__"));
    })
    .await;
    let s = app.register("shortbody").await;
    let size = 3 * 1024 * 1024;
    let tmp = app.state.settings.local_objects_dir().join(".tmp");
    for (sent, what) in [(size / 2, "short"), (size + 4096, "long")] {
        let ticket = app.upload_url(&s, "f.txt", "text/plain", size).await;
        let status = raw_put(
            ticket["upload_url"].as_str().unwrap(),
            "text/plain",
            size,
            sent,
        )
        .await;
        // A short body is cut off by the client: 400 or a dropped connection. Extra bytes
        // beyond Content-Length are never read into the object.
        assert!(
            !status.contains(" 200 ") || what == "long",
            "{what}: {status}"
        );
        let id = ticket["document_id"].as_str().unwrap();
        let res = app.confirm(&s, id).await;
        if what == "short" {
            assert_eq!(res.status(), 422, "{what}: nothing may be stored");
            let body: serde_json::Value = res.json().await.unwrap();
            assert_eq!(body["code"], "upload_not_found", "{body}");
        } else {
            // The object holds exactly the declared bytes.
            assert_eq!(res.status(), 200, "{what}");
            let body: serde_json::Value = res.json().await.unwrap();
            assert_eq!(body["size_bytes"], size);
        }
        // No temp file is left behind.
        common::poll_until(
            std::time::Duration::from_secs(10),
            "temp files removed",
            || async {
                let left = std::fs::read_dir(&tmp).map(|d| d.count()).unwrap_or(0);
                (left == 0).then_some(())
            },
        )
        .await;
    }
}

/// The integer `sql` answers, read from the SQLite file at `path` alone, WAL ignored
/// (`immutable`): what checkpoints have copied into it. `None` when the read fails (a
/// checkpoint may be writing the pages read).
async fn count_in_database_file(path: &std::path::Path, sql: &str) -> Option<i64> {
    use sea_orm::{ConnectionTrait, Database, Statement};
    let db = Database::connect(format!("sqlite://{}?immutable=true", path.display()))
        .await
        .ok()?;
    let row = db
        .query_one_raw(Statement::from_string(
            sea_orm::DatabaseBackend::Sqlite,
            sql.to_owned(),
        ))
        .await;
    let _ = db.close().await;
    row.ok()??.try_get_by_index::<i64>(0).ok()
}

/// On SQLite a background task copies committed pages from the WAL into the database
/// file (`database.sqlite_checkpoint_interval_ms`), so no request waits for it; a commit
/// checkpoints by itself only past a far larger WAL (the backstop). Runs on its own
/// SQLite file on every backend set.
#[tokio::test]
async fn sqlite_commits_reach_the_database_file_through_the_background_checkpoint() {
    use sea_orm::{ConnectionTrait, Statement};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpointed.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let app = TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__DATABASE__URL".into(), url.clone());
        env.insert(
            "DOCUVAULT__DATABASE__SQLITE_CHECKPOINT_INTERVAL_MS".into(),
            "50".into(),
        );
    })
    .await;
    let backstop = app
        .state
        .db
        .query_one_raw(Statement::from_string(
            sea_orm::DatabaseBackend::Sqlite,
            "PRAGMA wal_autocheckpoint".to_owned(),
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap();
    assert_eq!(backstop, 65_536, "commits leave checkpoints to the task");

    let s = app.register("checkpointed").await;
    let name = format!("Checkpointed {}", uuid::Uuid::new_v4().simple());
    let res = app
        .post_json(
            "/api/folders",
            Some(&s.access),
            &serde_json::json!({ "name": name }),
        )
        .await;
    assert_eq!(res.status(), 201);
    // A few small commits stay far below SQLite's own 1 000-page checkpoint: only the
    // background task puts the folder into the database file.
    let sql = format!("SELECT COUNT(*) FROM folders WHERE name = '{name}'");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if count_in_database_file(&path, &sql).await == Some(1) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the folder never reached the database file"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
