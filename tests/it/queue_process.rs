//! The processing queue against real, separately spawned `docuvault` processes that get
//! killed with SIGKILL mid-run: no document may be lost, every one must end `classified`,
//! `unclassified` or `failed` (with a reason), and no document may run more than
//! `jobs.max_attempts` times.
//!
//! - In-process queue (always runs): `serve --no-workers` takes the uploads and is killed
//!   (its in-memory queue dies with it), then `serve` with one worker is killed while it
//!   works through the backlog, then a fresh `serve` on the same data dir and database
//!   finishes everything through the sweeper.
//! - Redis (with `DOCUVAULT_TEST_REDIS_URL`): `serve --no-workers` plus a `docuvault worker`
//!   process; the worker is killed mid-run, then this test's own queue keys (the lanes
//!   and every processing list under its unique `queue.key_prefix`) are deleted — a
//!   FLUSHALL limited to this test, since other tests share the Redis server — and a new
//!   worker must finish every document through the sweeper.
//!
//! "Mid-run" is made deterministic without sleeps: one job at a time, and the kill
//! happens once the document list shows some documents finished, one `processing` and
//! many still waiting.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use common::{PASSWORD, Session, TERMINAL, TestDb, backend_env};
use docuvault::entities::documents;

const DOCS: usize = 50;
const MAX_ATTEMPTS: i32 = 3;

/// A running `docuvault` child; its stderr is collected for diagnostics.
struct Proc {
    name: &'static str,
    child: Child,
    lines: mpsc::Receiver<String>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    fn start(name: &'static str, args: &[&str], env: &HashMap<String, String>, cwd: &Path) -> Proc {
        let mut child = common::docuvault_command(cwd)
            .args(args)
            .envs(env)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        let keep = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                keep.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        Proc {
            name,
            child,
            lines,
            log,
        }
    }

    fn tail(&self) -> String {
        let log = self.log.lock().unwrap();
        let from = log.len().saturating_sub(40);
        log[from..].join("\n")
    }

    /// Waits for a log line containing `needle`.
    fn wait_for_line(&mut self, needle: &str) -> String {
        let end = Instant::now() + Duration::from_secs(60);
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!(
            "{}: no log line with {needle:?}:\n{}",
            self.name,
            self.tail()
        );
    }

    fn port(&mut self) -> u16 {
        let line = self.wait_for_line("listening on http://");
        let after = line.split("listening on http://").nth(1).unwrap();
        let addr = after.split_whitespace().next().unwrap();
        addr.trim_end_matches(|c: char| !c.is_ascii_digit())
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }

    /// SIGKILL: no shutdown code runs.
    fn kill9(&mut self) {
        self.child.kill().unwrap();
        let status = self.child.wait().unwrap();
        assert!(!status.success(), "{}: {status:?}", self.name);
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Settings for every process of one test: the test backends plus small leases.
fn test_env(data_dir: &Path, db: &TestDb) -> HashMap<String, String> {
    let mut env = backend_env(data_dir, &db.url);
    env.insert("DOCUVAULT__LOG__LEVEL".into(), "info".into());
    env.insert("DOCUVAULT__JOBS__LEASE_SECS".into(), "3".into());
    env.insert("DOCUVAULT__JOBS__SWEEP_INTERVAL_SECS".into(), "1".into());
    env.insert("DOCUVAULT__JOBS__CONCURRENCY".into(), "1".into());
    env.insert(
        "DOCUVAULT__JOBS__MAX_ATTEMPTS".into(),
        MAX_ATTEMPTS.to_string(),
    );
    env.insert("DOCUVAULT__RATE_LIMIT__ENABLED".into(), "false".into());
    env
}

/// An HTTP client for one spawned server.
struct Api {
    base: String,
    client: reqwest::Client,
}

impl Api {
    fn new(port: u16) -> Api {
        Api {
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
        }
    }

    async fn register(&self, handle: &str) -> Session {
        let res = self
            .client
            .post(format!("{}/api/auth/register", self.base))
            .json(&serde_json::json!({
                "handle": handle,
                "email": format!("{handle}@example.com"),
                "password": PASSWORD,
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        Session::from_body(res.json().await.unwrap())
    }

    async fn login(&self, handle: &str) -> Session {
        let res = self
            .client
            .post(format!("{}/api/auth/login", self.base))
            .json(&serde_json::json!({"login": handle, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        Session::from_body(res.json().await.unwrap())
    }

    /// upload-url, PUT, confirm; returns the document id.
    async fn upload_text(&self, s: &Session, filename: &str, body: String) -> String {
        let res = self
            .client
            .post(format!("{}/api/documents/upload-url", self.base))
            .bearer_auth(&s.access)
            .json(&serde_json::json!({
                "filename": filename,
                "content_type": "text/plain",
                "size_bytes": body.len(),
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "upload-url {filename}");
        let ticket: serde_json::Value = res.json().await.unwrap();
        let mut put = self.client.put(ticket["upload_url"].as_str().unwrap());
        for (k, v) in ticket["headers"].as_object().unwrap() {
            put = put.header(k.as_str(), v.as_str().unwrap());
        }
        let res = put.body(body).send().await.unwrap();
        assert!(
            res.status().is_success(),
            "PUT {filename}: {}",
            res.status()
        );
        let id = ticket["document_id"].as_str().unwrap().to_owned();
        let res = self
            .client
            .post(format!("{}/api/documents/{id}/confirm", self.base))
            .bearer_auth(&s.access)
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "confirm {filename}");
        id
    }

    /// Status of each of the user's documents, by id.
    async fn statuses(&self, s: &Session) -> BTreeMap<String, String> {
        let res = self
            .client
            .get(format!("{}/api/documents?per_page=100", self.base))
            .bearer_auth(&s.access)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let page: serde_json::Value = res.json().await.unwrap();
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["id"].as_str().unwrap().to_owned(),
                    d["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    async fn health(&self) -> u16 {
        self.client
            .get(format!("{}/health", self.base))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

/// A text document with a marker only this document contains.
fn document_text(n: usize) -> String {
    let mut text = format!("Quarterly invoice record {n}. Marker docmarker{n:03}.\n");
    for line in 0..400 {
        text.push_str(&format!(
            "Line {line} of document {n}: the supplier delivered goods, the invoice lists \
             amounts, taxes and the payment terms agreed for this order.\n"
        ));
    }
    text
}

async fn upload_all(api: &Api, s: &Session) -> Vec<String> {
    let mut ids = Vec::with_capacity(DOCS);
    for n in 0..DOCS {
        ids.push(
            api.upload_text(s, &format!("invoice-{n:03}.txt"), document_text(n))
                .await,
        );
    }
    ids
}

fn count(statuses: &BTreeMap<String, String>, pred: impl Fn(&str) -> bool) -> usize {
    statuses.values().filter(|s| pred(s)).count()
}

fn is_terminal(status: &str) -> bool {
    TERMINAL.contains(&status)
}

/// Polls until the worker is mid-run: some documents finished, one `processing`, at
/// least ten still waiting. Fails (never passes silently) if the run ends first.
async fn wait_mid_run(api: &Api, s: &Session, worker: &Proc) {
    let end = Instant::now() + Duration::from_secs(90);
    loop {
        let st = api.statuses(s).await;
        let done = count(&st, is_terminal);
        let processing = count(&st, |x| x == "processing");
        if done >= 3 && processing >= 1 && DOCS - done >= 10 {
            eprintln!("killing mid-run: {done} done, {processing} processing");
            return;
        }
        assert!(
            DOCS - done >= 10,
            "the run got too far ({done} of {DOCS} done) before it could be interrupted"
        );
        assert!(
            Instant::now() < end,
            "no progress to interrupt: {st:?}\n{}",
            worker.tail()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until every uploaded document is terminal.
async fn wait_all_terminal(api: &Api, s: &Session, ids: &[String], worker: &Proc) {
    let end = Instant::now() + Duration::from_secs(120);
    loop {
        let st = api.statuses(s).await;
        if ids
            .iter()
            .all(|id| st.get(id).is_some_and(|x| is_terminal(x)))
        {
            return;
        }
        assert!(
            Instant::now() < end,
            "documents did not all finish: {:?}\n{}",
            st.values().filter(|x| !is_terminal(x)).collect::<Vec<_>>(),
            worker.tail()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The database is the truth: all documents there, terminal, failed ones with a reason,
/// at most `MAX_ATTEMPTS` runs, and the finished ones hold their own text.
async fn check_database(db: &TestDb, ids: &[String]) {
    let conn = db.connect().await;
    let rows = documents::Entity::find()
        .filter(documents::Column::Status.ne("pending"))
        .all(&conn)
        .await
        .unwrap();
    assert_eq!(rows.len(), ids.len(), "documents in the database");
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    let mut reclaimed = 0;
    for row in &rows {
        let id = row.id.to_string();
        let n = ids
            .iter()
            .position(|x| *x == id)
            .unwrap_or_else(|| panic!("unknown document {id}"));
        *by_status.entry(row.status.to_string()).or_default() += 1;
        assert!(is_terminal(row.status.as_str()), "{id}: {}", row.status);
        assert!(
            (1..=MAX_ATTEMPTS).contains(&row.attempts),
            "{id}: {} attempts",
            row.attempts
        );
        if row.attempts > 1 {
            reclaimed += 1;
        }
        if row.status == "failed" {
            let reason = row.last_error.as_deref().unwrap_or_default();
            assert!(!reason.trim().is_empty(), "{id} failed without a reason");
        } else {
            let text = docuvault::documents::texts::get(&conn, row.id)
                .await
                .unwrap()
                .map(|t| t.body)
                .unwrap_or_default();
            assert!(
                text.contains(&format!("docmarker{n:03}")),
                "{id}: wrong or missing text"
            );
        }
    }
    eprintln!(
        "{} documents: {by_status:?}; {reclaimed} ran more than once",
        rows.len()
    );
    conn.close().await.unwrap();
}

#[tokio::test]
async fn in_process_queue_server_killed_twice_mid_run_loses_no_document() {
    let db = TestDb::fresh().await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = test_env(&dir.path().join("data"), &db);
    // The in-process queue, even when the run has Redis.
    env.remove("DOCUVAULT__QUEUE__REDIS_URL");
    env.remove("DOCUVAULT__QUEUE__KEY_PREFIX");
    env.insert("DOCUVAULT__QUEUE__BACKEND".into(), "memory".into());

    // 1. Uploads into a server without workers; killing it loses its in-memory queue.
    let mut intake = Proc::start(
        "serve --no-workers",
        &["serve", "--no-workers"],
        &env,
        dir.path(),
    );
    let api = Api::new(intake.port());
    let s = api.register("killer").await;
    let ids = upload_all(&api, &s).await;
    assert_eq!(count(&api.statuses(&s).await, |x| x == "queued"), DOCS);
    intake.kill9();

    // 2. A server with one worker; killed while it works through the backlog.
    let mut first = Proc::start("serve (1st)", &["serve"], &env, dir.path());
    let api = Api::new(first.port());
    let s = api.login("killer").await;
    wait_mid_run(&api, &s, &first).await;
    first.kill9();

    // 3. Restarted on the same data dir and database: the sweeper re-dispatches.
    let mut second = Proc::start("serve (2nd)", &["serve"], &env, dir.path());
    let api = Api::new(second.port());
    let s = api.login("killer").await;
    wait_all_terminal(&api, &s, &ids, &second).await;
    assert_eq!(api.health().await, 200);
    drop(second);
    check_database(&db, &ids).await;
}

#[tokio::test]
async fn redis_worker_killed_and_queue_flushed_mid_run_loses_no_document() {
    use deadpool_redis::redis::AsyncCommands;
    let Ok(redis_url) = std::env::var("DOCUVAULT_TEST_REDIS_URL") else {
        // Without Redis the in-process test above covers the process kills.
        return;
    };
    let db = TestDb::fresh().await;
    let dir = tempfile::tempdir().unwrap();
    let env = test_env(&dir.path().join("data"), &db);
    let prefix = env["DOCUVAULT__QUEUE__KEY_PREFIX"].clone();
    let redis = deadpool_redis::redis::Client::open(redis_url.as_str()).unwrap();
    let mut conn = redis.get_multiplexed_async_connection().await.unwrap();
    // The uploads wait in the account's lane of the fair queue (src/jobs/queue.rs).
    let lanes = format!("{prefix}lane:");

    let server = Proc::start(
        "serve --no-workers",
        &["serve", "--no-workers"],
        &env,
        dir.path(),
    );
    let mut server = server;
    let api = Api::new(server.port());
    let s = api.register("killer").await;
    let ids = upload_all(&api, &s).await;
    let lane_keys: Vec<String> = conn.keys(format!("{lanes}*")).await.unwrap();
    assert_eq!(lane_keys.len(), 1, "one account, one lane: {lane_keys:?}");
    let queued: usize = conn.llen(&lane_keys[0]).await.unwrap();
    assert_eq!(
        queued, DOCS,
        "every confirmed upload is a job in {}",
        lane_keys[0]
    );

    let mut first = Proc::start("worker (1st)", &["worker"], &env, dir.path());
    first.wait_for_line("worker running");
    wait_mid_run(&api, &s, &first).await;
    first.kill9();

    // FLUSHALL, limited to this test's keys: the lanes and every processing list.
    let keys: Vec<String> = conn.keys(format!("{prefix}*")).await.unwrap();
    assert!(keys.contains(&lane_keys[0]), "{keys:?}");
    let processing = keys.iter().filter(|k| k.contains(":processing:")).count();
    let removed: usize = conn.del(&keys).await.unwrap();
    eprintln!("deleted {removed} keys ({processing} processing lists) under {prefix}");
    let left: Vec<String> = conn.keys(format!("{prefix}*")).await.unwrap();
    assert!(left.is_empty(), "{left:?}");

    let second = Proc::start("worker (2nd)", &["worker"], &env, dir.path());
    wait_all_terminal(&api, &s, &ids, &second).await;
    assert_eq!(api.health().await, 200);
    drop(second);
    check_database(&db, &ids).await;
    drop(server);
    let keys: Vec<String> = conn.keys(format!("{prefix}*")).await.unwrap();
    if !keys.is_empty() {
        let _: usize = conn.del(&keys).await.unwrap();
    }
}
