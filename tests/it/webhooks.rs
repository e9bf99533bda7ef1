//! Signed webhooks end to end, against a real HTTP receiver on 127.0.0.1 (let through by
//! `webhooks.allowed_hosts`): the secret, document and share events with signatures
//! checked here independently (HMAC-SHA256 over `{id}.{timestamp}.{body}`), retries
//! counted in the deliveries log, deliveries surviving a restart, targets refused at
//! creation and again at delivery, and who may see a webhook.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::common::fake_http::{FakeHttp, Recorded, Reply};
use crate::common::{self, Session, TestApp, body, poll_until, samples};

const WAIT: Duration = Duration::from_secs(60);

/// Lets the test receiver (and `localhost`) through; retries come at the next pass.
fn allow_local(env: &mut HashMap<String, String>) {
    env.insert(
        "DOCUVAULT__WEBHOOKS__ALLOWED_HOSTS".into(),
        "127.0.0.1".into(),
    );
    env.insert("DOCUVAULT__WEBHOOKS__RETRY_BASE_SECS".into(), "0".into());
}

fn no_workers(env: &mut HashMap<String, String>) {
    env.insert("DOCUVAULT__SERVER__RUN_WORKERS".into(), "false".into());
}

/// `method path` as `s`, with an optional JSON body.
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    s: &Session,
    payload: Option<Value>,
) -> reqwest::Response {
    app.send(method, path, &s.access, payload.as_ref()).await
}

async fn create(app: &TestApp, s: &Session, url: &str, events: &[&str]) -> reqwest::Response {
    send(
        app,
        Method::POST,
        "/api/webhooks",
        s,
        Some(json!({ "url": url, "events": events, "description": "test receiver" })),
    )
    .await
}

/// Creates a webhook that must be accepted; returns `(id, secret)`.
async fn created(app: &TestApp, s: &Session, url: &str, events: &[&str]) -> (String, String) {
    let res = create(app, s, url, events).await;
    assert_eq!(res.status(), 201);
    let b = body(res).await;
    (
        b["webhook"]["id"].as_str().unwrap().to_owned(),
        b["secret"].as_str().unwrap().to_owned(),
    )
}

async fn deliveries(app: &TestApp, s: &Session, id: &str) -> Vec<Value> {
    let res = send(
        app,
        Method::GET,
        &format!("/api/webhooks/{id}/deliveries"),
        s,
        None,
    )
    .await;
    assert_eq!(res.status(), 200);
    body(res).await["deliveries"].as_array().unwrap().clone()
}

/// Waits until delivery `delivery` of webhook `id` is no longer pending; returns it.
async fn settled(app: &TestApp, s: &Session, id: &str, delivery: &str) -> Value {
    poll_until(WAIT, &format!("delivery {delivery} to settle"), || async {
        deliveries(app, s, id)
            .await
            .into_iter()
            .find(|d| d["id"] == delivery && d["status"] != "pending")
    })
    .await
}

/// Checks a received request the way a receiver should, independently of the server's
/// code: `v1,` + base64 HMAC-SHA256 keyed by the decoded `whsec_` secret over
/// `{webhook-id}.{webhook-timestamp}.{raw body}`.
fn assert_signed(req: &Recorded, secret: &str) {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let id = &req.headers["webhook-id"];
    let ts = &req.headers["webhook-timestamp"];
    let ts_num: i64 = ts.parse().unwrap();
    assert!(
        (chrono::Utc::now().timestamp() - ts_num).abs() < 300,
        "timestamp {ts}"
    );
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(&req.raw);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    assert_eq!(
        req.headers["webhook-signature"], expected,
        "signature of {id}"
    );
    assert_eq!(req.method, "POST");
    assert!(req.headers["content-type"].starts_with("application/json"));
}

/// The first request the receiver got for `event` (and matching `extra`).
async fn received(receiver: &FakeHttp, event: &str, extra: impl Fn(&Value) -> bool) -> Recorded {
    poll_until(WAIT, &format!("{event} to arrive"), || async {
        receiver
            .requests()
            .into_iter()
            .find(|r| r.body["type"] == event && extra(&r.body))
    })
    .await
}

#[tokio::test]
async fn a_webhook_is_created_with_a_secret_shown_once_and_can_be_changed() {
    let app = TestApp::spawn_with(allow_local).await;
    let s = app.register("hooker").await;
    let receiver = FakeHttp::start(|_| Reply::new(200, json!({}))).await;
    let url = format!("{}/hook", receiver.base);
    let res = create(&app, &s, &url, &["document.created", "share.created"]).await;
    assert_eq!(res.status(), 201);
    let b = body(res).await;
    let secret = b["secret"].as_str().unwrap();
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
        .unwrap();
    assert!(key.len() >= 24, "{} key bytes", key.len());
    let hook = &b["webhook"];
    assert_eq!(hook["url"], url);
    assert_eq!(hook["events"], json!(["document.created", "share.created"]));
    assert_eq!(hook["description"], "test receiver");
    assert_eq!(hook["enabled"], true);
    assert_eq!(hook["last_delivery_at"], Value::Null);
    assert_eq!(hook["last_status"], Value::Null);
    let id = hook["id"].as_str().unwrap();

    // A second webhook gets a different secret.
    let (_, other_secret) = created(&app, &s, &url, &["document.deleted"]).await;
    assert_ne!(other_secret, secret);

    let list = body(send(&app, Method::GET, "/api/webhooks", &s, None).await).await;
    let hooks = list["webhooks"].as_array().unwrap();
    assert_eq!(hooks.len(), 2);
    assert!(!list.to_string().contains(secret), "secret listed");
    assert!(hooks.iter().all(|h| h.get("secret").is_none()));

    let res = send(
        &app,
        Method::PATCH,
        &format!("/api/webhooks/{id}"),
        &s,
        Some(json!({ "events": ["document.processed"], "enabled": false, "description": null })),
    )
    .await;
    assert_eq!(res.status(), 200);
    let changed = body(res).await;
    assert_eq!(changed["events"], json!(["document.processed"]));
    assert_eq!(changed["enabled"], false);
    assert_eq!(changed["description"], Value::Null);
    let got = body(send(&app, Method::GET, &format!("/api/webhooks/{id}"), &s, None).await).await;
    assert_eq!(got, changed);

    // Bad values.
    for bad in [
        json!({ "url": url, "events": [] }),
        json!({ "url": url, "events": ["webhook.test"] }),
        json!({ "url": url, "events": ["document.exploded"] }),
        json!({ "url": url, "events": ["document.created"], "description": "x".repeat(501) }),
    ] {
        let res = send(&app, Method::POST, "/api/webhooks", &s, Some(bad.clone())).await;
        assert!(
            res.status() == 422 || res.status() == 400,
            "{bad}: {}",
            res.status()
        );
    }

    let res = send(
        &app,
        Method::DELETE,
        &format!("/api/webhooks/{id}"),
        &s,
        None,
    )
    .await;
    assert_eq!(res.status(), 204);
    let res = send(&app, Method::GET, &format!("/api/webhooks/{id}"), &s, None).await;
    assert_eq!(res.status(), 404);
    let list = body(send(&app, Method::GET, "/api/webhooks", &s, None).await).await;
    assert_eq!(list["webhooks"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn document_and_share_events_arrive_signed() {
    let app = TestApp::spawn_with(allow_local).await;
    let s = app.register("owner").await;
    let bob = app.register("bobby").await;
    let receiver = FakeHttp::start(|_| Reply::new(204, Value::Null)).await;
    let (hook, secret) = created(
        &app,
        &s,
        &format!("{}/hook", receiver.base),
        &[
            "document.created",
            "document.processed",
            "document.failed",
            "document.deleted",
            "share.created",
        ],
    )
    .await;
    // Another account's webhook never hears about this account's documents.
    let other_receiver = FakeHttp::start(|_| Reply::new(200, json!({}))).await;
    created(
        &app,
        &bob,
        &format!("{}/bob", other_receiver.base),
        &["document.created"],
    )
    .await;

    let doc = app
        .upload(&s, "hello.pdf", "application/pdf", samples::hello_pdf())
        .await;
    let is_doc = |b: &Value| b["data"]["document"]["id"] == doc.as_str();
    let created_req = received(&receiver, "document.created", is_doc).await;
    assert_signed(&created_req, &secret);
    let d = &created_req.body["data"]["document"];
    assert_eq!(d["filename"], "hello.pdf");
    assert_eq!(d["content_type"], "application/pdf");
    assert_eq!(d["size_bytes"], samples::hello_pdf().len());
    assert_eq!(d["status"], "queued");
    assert!(d["topics"].is_array());
    assert!(
        chrono::DateTime::parse_from_rfc3339(created_req.body["timestamp"].as_str().unwrap())
            .is_ok()
    );

    let processed = received(&receiver, "document.processed", is_doc).await;
    assert_signed(&processed, &secret);
    let status = processed.body["data"]["document"]["status"]
        .as_str()
        .unwrap();
    assert!(["classified", "unclassified"].contains(&status), "{status}");
    let view = common::wait_processed(&app, &s, &doc).await;
    assert_eq!(view["status"], status);

    let res = send(
        &app,
        Method::POST,
        &format!("/api/documents/{doc}/shares"),
        &s,
        Some(json!({ "recipient": "bobby" })),
    )
    .await;
    assert_eq!(res.status(), 201);
    let share_id = body(res).await["id"].as_str().unwrap().to_owned();
    let shared = received(&receiver, "share.created", |_| true).await;
    assert_signed(&shared, &secret);
    assert_eq!(
        shared.body["data"],
        json!({ "share_id": share_id, "document_id": doc, "recipient": "bobby" })
    );

    let res = send(
        &app,
        Method::DELETE,
        &format!("/api/documents/{doc}"),
        &s,
        None,
    )
    .await;
    assert_eq!(res.status(), 204);
    let trashed = received(&receiver, "document.deleted", |b| {
        b["data"]["permanent"] == false
    })
    .await;
    assert_signed(&trashed, &secret);
    assert_eq!(trashed.body["data"]["document"]["id"], doc.as_str());

    let res = send(
        &app,
        Method::DELETE,
        &format!("/api/documents/{doc}?permanent=true"),
        &s,
        None,
    )
    .await;
    assert_eq!(res.status(), 204);
    let gone = received(&receiver, "document.deleted", |b| {
        b["data"]["permanent"] == true
    })
    .await;
    assert_signed(&gone, &secret);
    assert_eq!(gone.body["data"]["document"]["filename"], "hello.pdf");

    // Every delivery is logged as delivered at the first attempt, ids are unique.
    let log = poll_until(WAIT, "every delivery to be delivered", || async {
        let log = deliveries(&app, &s, &hook).await;
        (log.len() == 5 && log.iter().all(|d| d["status"] == "delivered")).then_some(log)
    })
    .await;
    for d in &log {
        assert_eq!(d["attempts"], 1);
        assert_eq!(d["response_status"], 204);
        assert!(d["latency_ms"].as_i64().unwrap() >= 0);
        assert_eq!(d["error"], Value::Null);
    }
    let mut ids: Vec<_> = receiver
        .requests()
        .iter()
        .map(|r| r.headers["webhook-id"].clone())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5);
    let newest_first: Vec<_> = log.iter().map(|d| d["event"].as_str().unwrap()).collect();
    assert_eq!(newest_first[0], "document.deleted");
    assert_eq!(newest_first[4], "document.created");
    let got = body(
        send(
            &app,
            Method::GET,
            &format!("/api/webhooks/{hook}"),
            &s,
            None,
        )
        .await,
    )
    .await;
    assert_eq!(got["last_status"], "delivered");
    assert!(got["last_delivery_at"].is_string());
    // Bob's webhook heard nothing of it.
    assert_eq!(other_receiver.count(), 0);
}

#[tokio::test]
async fn failed_attempts_are_retried_then_delivered_or_given_up() {
    let app = TestApp::spawn_with(|env| {
        allow_local(env);
        env.insert("DOCUVAULT__WEBHOOKS__MAX_ATTEMPTS".into(), "3".into());
    })
    .await;
    let s = app.register("retrier").await;
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let flaky = FakeHttp::start(move |_| {
        if seen.fetch_add(1, Ordering::SeqCst) < 2 {
            Reply::new(500, json!({ "error": "busy" }))
        } else {
            Reply::new(200, json!({}))
        }
    })
    .await;
    let (hook, secret) = created(&app, &s, &flaky.base, &["document.created"]).await;
    let res = send(
        &app,
        Method::POST,
        &format!("/api/webhooks/{hook}/test"),
        &s,
        None,
    )
    .await;
    assert_eq!(res.status(), 202);
    let queued = body(res).await;
    assert_eq!(queued["event"], "webhook.test");
    assert_eq!(queued["status"], "pending");
    assert_eq!(queued["attempts"], 0);
    let id = queued["id"].as_str().unwrap();

    let done = settled(&app, &s, &hook, id).await;
    assert_eq!(done["status"], "delivered");
    assert_eq!(done["attempts"], 3);
    assert_eq!(done["response_status"], 200);
    let requests = flaky.requests();
    assert_eq!(requests.len(), 3);
    for r in &requests {
        // The same message every time: same id, same body, each signed afresh.
        assert_eq!(r.headers["webhook-id"], id);
        assert_eq!(r.raw, requests[0].raw);
        assert_signed(r, &secret);
        assert_eq!(r.body["type"], "webhook.test");
    }

    // A receiver that always fails: given up after max_attempts, with the reason.
    let broken = FakeHttp::start(|_| Reply::new(503, json!({}))).await;
    let (hook, _) = created(&app, &s, &broken.base, &["document.created"]).await;
    let res = send(
        &app,
        Method::POST,
        &format!("/api/webhooks/{hook}/test"),
        &s,
        None,
    )
    .await;
    let id = body(res).await["id"].as_str().unwrap().to_owned();
    let failed = settled(&app, &s, &hook, &id).await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["attempts"], 3);
    assert_eq!(failed["response_status"], 503);
    assert!(
        failed["error"].as_str().unwrap().contains("503"),
        "{failed}"
    );
    assert_eq!(broken.count(), 3);
    let got = body(
        send(
            &app,
            Method::GET,
            &format!("/api/webhooks/{hook}"),
            &s,
            None,
        )
        .await,
    )
    .await;
    assert_eq!(got["last_status"], "failed");
}

#[tokio::test]
async fn pending_deliveries_survive_a_restart() {
    let app = TestApp::spawn_with(|env| {
        allow_local(env);
        no_workers(env);
    })
    .await;
    let s = app.register("restarter").await;
    let receiver = FakeHttp::start(|_| Reply::new(200, json!({}))).await;
    let (hook, secret) = created(&app, &s, &receiver.base, &["share.created"]).await;
    let res = send(
        &app,
        Method::POST,
        &format!("/api/webhooks/{hook}/test"),
        &s,
        None,
    )
    .await;
    assert_eq!(res.status(), 202);
    let id = body(res).await["id"].as_str().unwrap().to_owned();
    // Without workers nothing sends it.
    let log = deliveries(&app, &s, &hook).await;
    assert_eq!(log[0]["status"], "pending");
    assert_eq!(receiver.count(), 0);

    let app = app
        .restart_with(|env| {
            env.remove("DOCUVAULT__SERVER__RUN_WORKERS");
        })
        .await;
    let done = settled(&app, &s, &hook, &id).await;
    assert_eq!(done["status"], "delivered");
    assert_eq!(done["attempts"], 1);
    assert_eq!(receiver.count(), 1);
    assert_signed(&receiver.requests()[0], &secret);
}

#[tokio::test]
async fn inner_targets_are_refused_at_creation() {
    let app = TestApp::spawn().await;
    let s = app.register("prober").await;
    for (url, why) in [
        ("http://127.0.0.1:8080/hook", "loopback"),
        ("http://localhost:8080/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("http://2130706433/hook", "loopback"),
        ("http://10.0.0.1/hook", "private"),
        ("http://192.168.1.20/hook", "private"),
        ("http://[fd00::5]/hook", "private"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://[fd00:ec2::254]/", "metadata"),
        ("http://169.254.10.10/", "link-local"),
        ("http://100.64.1.1/", "CGNAT"),
        ("http://0.0.0.0/", "unspecified"),
        ("ftp://example.com/hook", "http"),
        ("file:///etc/passwd", "http"),
        ("not a url", "URL"),
    ] {
        let res = create(&app, &s, url, &["document.created"]).await;
        assert_eq!(res.status(), 422, "{url}");
        let b = body(res).await;
        assert_eq!(b["code"], "webhook_target_forbidden", "{url}");
        let message = b["message"].as_str().unwrap();
        assert!(message.contains(why), "{url}: {message}");
    }
    // The same check on a change of URL.
    let (hook, _) = created(
        &app,
        &s,
        "https://93.184.215.14/hook",
        &["document.created"],
    )
    .await;
    let res = send(
        &app,
        Method::PATCH,
        &format!("/api/webhooks/{hook}"),
        &s,
        Some(json!({ "url": "http://10.1.2.3/" })),
    )
    .await;
    assert_eq!(res.status(), 422);
    assert_eq!(body(res).await["code"], "webhook_target_forbidden");
    let got = body(
        send(
            &app,
            Method::GET,
            &format!("/api/webhooks/{hook}"),
            &s,
            None,
        )
        .await,
    )
    .await;
    assert_eq!(got["url"], "https://93.184.215.14/hook");
}

#[tokio::test]
async fn targets_are_checked_again_at_delivery() {
    // Allowed while the webhook is created; no longer when it is delivered.
    let app = TestApp::spawn_with(|env| {
        allow_local(env);
        no_workers(env);
    })
    .await;
    let s = app.register("rebinder").await;
    let receiver = FakeHttp::start(|_| Reply::new(200, json!({}))).await;
    let (hook, _) = created(&app, &s, &receiver.base, &["document.created"]).await;
    let res = send(
        &app,
        Method::POST,
        &format!("/api/webhooks/{hook}/test"),
        &s,
        None,
    )
    .await;
    let id = body(res).await["id"].as_str().unwrap().to_owned();

    let app = app
        .restart_with(|env| {
            env.remove("DOCUVAULT__SERVER__RUN_WORKERS");
            env.remove("DOCUVAULT__WEBHOOKS__ALLOWED_HOSTS");
        })
        .await;
    let done = settled(&app, &s, &hook, &id).await;
    assert_eq!(done["status"], "failed");
    assert_eq!(done["attempts"], 1);
    let error = done["error"].as_str().unwrap();
    assert!(error.contains("loopback"), "{error}");
    assert_eq!(receiver.count(), 0, "the refused target was contacted");
}

#[tokio::test]
async fn webhooks_are_private_to_their_regular_account() {
    let app = TestApp::spawn_with(allow_local).await;
    let s = app.register("keeper").await;
    let eve = app.register("snooper").await;
    let admin = app.admin("boss").await;
    let receiver = FakeHttp::start(|_| Reply::new(200, json!({}))).await;
    let (hook, _) = created(&app, &s, &receiver.base, &["document.created"]).await;

    for (method, path, payload) in [
        (Method::GET, format!("/api/webhooks/{hook}"), None),
        (
            Method::PATCH,
            format!("/api/webhooks/{hook}"),
            Some(json!({ "enabled": false })),
        ),
        (
            Method::GET,
            format!("/api/webhooks/{hook}/deliveries"),
            None,
        ),
        (Method::POST, format!("/api/webhooks/{hook}/test"), None),
        (Method::DELETE, format!("/api/webhooks/{hook}"), None),
    ] {
        let res = send(&app, method.clone(), &path, &eve, payload.clone()).await;
        assert_eq!(res.status(), 404, "{method} {path}");
        let res = send(&app, method.clone(), &path, &admin, payload.clone()).await;
        assert_eq!(res.status(), 403, "admin {method} {path}");
    }
    let list = body(send(&app, Method::GET, "/api/webhooks", &eve, None).await).await;
    assert_eq!(list["webhooks"], json!([]));
    let res = send(&app, Method::GET, "/api/webhooks", &admin, None).await;
    assert_eq!(res.status(), 403);
    let res = app.get("/api/webhooks").await;
    assert_eq!(res.status(), 401);
    // Still there, unchanged, and nothing was sent.
    let got = body(
        send(
            &app,
            Method::GET,
            &format!("/api/webhooks/{hook}"),
            &s,
            None,
        )
        .await,
    )
    .await;
    assert_eq!(got["enabled"], true);
    assert!(deliveries(&app, &s, &hook).await.is_empty());
    assert_eq!(receiver.count(), 0);
}

#[tokio::test]
async fn rotating_the_secret_key_reseals_webhook_secrets() {
    let app = TestApp::spawn_with(allow_local).await;
    let s = app.register("rotator").await;
    let (hook, secret) = created(&app, &s, "https://93.184.215.14/hook", &["share.created"]).await;
    let db = &app.state.db;
    let id: uuid::Uuid = hook.parse().unwrap();
    let aad = docuvault::crypto::webhook_secret_aad(id);
    let row = || async {
        use sea_orm::EntityTrait;
        docuvault::entities::webhooks::Entity::find_by_id(id)
            .one(db)
            .await
            .unwrap()
            .unwrap()
    };
    let sealed = row().await.secret;
    assert!(!sealed.contains(&secret[6..]), "secret stored in the clear");
    let old = app.state.keys.as_ref();
    assert_eq!(old.decrypt(&sealed, &aad).unwrap(), secret.as_bytes());
    // Sealed to its own row: another webhook's associated data does not open it.
    let elsewhere = docuvault::crypto::webhook_secret_aad(uuid::Uuid::new_v4());
    assert!(old.decrypt(&sealed, &elsewhere).is_err());

    let new = docuvault::crypto::Keys::derive(&docuvault::crypto::generate_secret_key());
    let report = docuvault::secret_key::reseal_all(db, old, &new)
        .await
        .unwrap();
    assert_eq!(report.webhook_secrets, 1);
    let resealed = row().await.secret;
    assert_eq!(new.decrypt(&resealed, &aad).unwrap(), secret.as_bytes());
    assert!(old.decrypt(&resealed, &aad).is_err());
    let again = docuvault::secret_key::reseal_all(db, old, &new)
        .await
        .unwrap();
    assert_eq!((again.webhook_secrets, again.already_new), (0, 1));
}
