//! HTTP behaviour of the foundation: health, errors, request ids, headers, UI, OpenAPI.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{TestApp, expected_backends};
use serde_json::Value;

async fn json(res: reqwest::Response) -> Value {
    res.json().await.expect("JSON body")
}

#[tokio::test]
async fn health_is_ok_on_the_configured_backends() {
    let app = TestApp::spawn().await;
    let res = app.health().await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body = json(res).await;
    let (db, storage, queue) = expected_backends();
    assert_eq!(body["status"], "ok", "{body}");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["database"]["backend"], db);
    assert_eq!(body["storage"]["backend"], storage);
    assert_eq!(body["queue"]["backend"], queue);
    for c in ["database", "storage", "queue"] {
        assert_eq!(body[c]["status"], "ok", "{c}: {body}");
        assert!(body[c].get("detail").is_none());
    }
}

#[tokio::test]
async fn health_reports_a_closed_database_with_503() {
    let app = TestApp::spawn().await;
    app.state.db.close_by_ref().await.unwrap();
    let started = Instant::now();
    let res = app.health().await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(res.status(), 503);
    let body = json(res).await;
    assert_eq!(body["status"], "error");
    assert_eq!(body["database"]["status"], "error");
    assert!(body["database"]["detail"].is_string());
    assert_eq!(body["storage"]["status"], "ok");
    assert_eq!(body["queue"]["status"], "ok");
}

#[tokio::test]
async fn health_reports_redis_on_a_closed_port_within_two_seconds() {
    let app = TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__QUEUE__BACKEND".into(), "redis".into());
        env.insert(
            "DOCUVAULT__QUEUE__REDIS_URL".into(),
            "redis://127.0.0.1:1/0".into(),
        );
    })
    .await;
    let started = Instant::now();
    let res = app.health().await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(res.status(), 503);
    let body = json(res).await;
    assert_eq!(body["queue"]["backend"], "redis");
    assert_eq!(body["queue"]["status"], "error");
    assert_eq!(body["database"]["status"], "ok");
    assert_eq!(body["storage"]["status"], "ok");
}

#[tokio::test]
async fn health_reports_s3_on_a_closed_port_within_two_seconds() {
    let app = TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__STORAGE__BACKEND".into(), "s3".into());
        env.insert(
            "DOCUVAULT__STORAGE__S3__ENDPOINT".into(),
            "http://127.0.0.1:1".into(),
        );
        env.insert("DOCUVAULT__STORAGE__S3__ACCESS_KEY".into(), "k".into());
        env.insert("DOCUVAULT__STORAGE__S3__SECRET_KEY".into(), "s".into());
    })
    .await;
    let started = Instant::now();
    let res = app.health().await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(res.status(), 503);
    let body = json(res).await;
    assert_eq!(body["storage"]["backend"], "s3");
    assert_eq!(body["storage"]["status"], "error");
    assert_eq!(body["database"]["status"], "ok");
}

#[tokio::test]
async fn health_reports_a_broken_local_object_directory() {
    let app = TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__STORAGE__BACKEND".into(), "local".into());
    })
    .await;
    let objects = app.settings.local_objects_dir();
    std::fs::remove_dir_all(&objects).unwrap();
    std::fs::write(&objects, b"not a directory").unwrap();
    let res = app.health().await;
    assert_eq!(res.status(), 503);
    let body = json(res).await;
    assert_eq!(body["storage"]["backend"], "local");
    assert_eq!(body["storage"]["status"], "error");
}

/// A small tmpfs mounted over a directory for one test, unmounted (lazily) on drop.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    /// Mounts `size` (e.g. `48m`) of tmpfs on `dir`. Needs root (CI runs tests as root):
    /// without it the test fails here, naming what is missing, instead of skipping.
    fn mount(dir: &std::path::Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "this test mounts a {size} tmpfs as a full data directory and needs root \
             (mount -t tmpfs): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(dir.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[tokio::test]
async fn health_reports_a_full_data_directory_while_reads_keep_working() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let _tmpfs = Tmpfs::mount(&data, "48m");
    // The local store keeps its objects in the data directory on the tmpfs; the database
    // is the test's own (SQLite elsewhere, or PostgreSQL).
    let dir = data.display().to_string();
    let app = TestApp::spawn_with(move |env| {
        env.insert("DOCUVAULT__DATA_DIR".into(), dir);
        env.insert("DOCUVAULT__STORAGE__BACKEND".into(), "local".into());
    })
    .await;
    assert!(app.settings.local_objects_dir().starts_with(&data));
    let s = app.register("diskfull").await;
    let bytes = b"readable on a full disk".to_vec();
    let id = app
        .upload(&s, "kept.txt", "text/plain", bytes.clone())
        .await;
    assert_eq!(app.health().await.status(), 200);

    // Fill the filesystem until it refuses more.
    let mut filler = std::fs::File::create(data.join("filler")).unwrap();
    let chunk = vec![0u8; 1 << 20];
    let refused = (0..64).find_map(|_| {
        std::io::Write::write_all(&mut filler, &chunk)
            .and_then(|()| filler.sync_all())
            .err()
    });
    let refused = refused.expect("the 48 MiB tmpfs never filled up");
    assert_eq!(refused.raw_os_error(), Some(28), "{refused}");

    let res = app.health().await;
    assert_eq!(res.status(), 503);
    let body = json(res).await;
    assert_eq!(body["status"], "error");
    assert_eq!(body["storage"]["status"], "error", "{body}");
    assert_eq!(body["storage"]["backend"], "local");
    let detail = body["storage"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("full") && detail.contains("free"),
        "{detail}"
    );
    assert_eq!(body["database"]["status"], "ok", "{body}");

    // Reads keep working: sign in, list, fetch the file.
    let again = app.login("diskfull", common::PASSWORD).await;
    let list = app.get_auth("/api/documents", &again.access).await;
    assert_eq!(list.status(), 200);
    let list = json(list).await;
    assert!(list.to_string().contains(&id), "{list}");
    let link = app
        .get_auth(&format!("/api/documents/{id}/download"), &again.access)
        .await;
    assert_eq!(link.status(), 200);
    let url = json(link).await["url"].as_str().unwrap().to_owned();
    let file = app.client.get(&url).send().await.unwrap();
    assert_eq!(file.status(), 200);
    assert_eq!(file.bytes().await.unwrap().as_ref(), bytes.as_slice());

    // Space freed: healthy again.
    drop(filler);
    std::fs::remove_file(data.join("filler")).unwrap();
    assert_eq!(app.health().await.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn unknown_api_routes_get_a_json_404() {
    let app = TestApp::spawn().await;
    for path in ["/api/nope", "/api/documents/123/whatever", "/api/"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 404, "{path}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        let body = json(res).await;
        assert_eq!(body["code"], "not_found");
        assert!(body["message"].as_str().unwrap().contains(path));
    }
    let res = app
        .client
        .delete(app.url("/api/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn wrong_method_on_a_page_is_a_json_405() {
    let app = TestApp::spawn().await;
    let res = app.client.post(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "GET, HEAD");
    assert_eq!(json(res).await["code"], "method_not_allowed");
}

#[tokio::test]
async fn request_ids_are_generated_or_echoed() {
    let app = TestApp::spawn().await;
    let generated = app.health().await.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(uuid::Uuid::parse_str(&generated).is_ok(), "{generated}");
    let other = app.health().await.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(generated, other);

    let res = app
        .client
        .get(app.url("/api/nope"))
        .header("x-request-id", "client-abc_123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "client-abc_123");

    let hostile = "x".repeat(65);
    for bad in ["has space", "<script>", hostile.as_str()] {
        let res = app
            .client
            .get(app.url("/health"))
            .header("x-request-id", bad)
            .send()
            .await
            .unwrap();
        let id = res.headers()["x-request-id"].to_str().unwrap();
        assert_ne!(id, bad);
        assert!(uuid::Uuid::parse_str(id).is_ok());
    }
}

/// The hashed stylesheet `static/index.html` links (its name changes with every UI build).
async fn stylesheet_path(app: &TestApp) -> String {
    let html = app.get("/").await.text().await.unwrap();
    let end = html.find(".css\"").expect("index.html links a stylesheet") + 4;
    let start = html[..end].rfind("/assets/").expect("under /assets/");
    html[start..end].to_owned()
}

#[tokio::test]
async fn security_headers_are_on_every_response() {
    let app = TestApp::spawn().await;
    let css = stylesheet_path(&app).await;
    for path in ["/", "/health", "/api/nope", &css, "/api/openapi.json"] {
        let res = app.get(path).await;
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
    }
}

#[tokio::test]
async fn the_ui_is_served_with_spa_fallback_and_cache_rules() {
    let app = TestApp::spawn().await;

    let index = app.get("/").await;
    assert_eq!(index.status(), 200);
    assert_eq!(index.headers()["cache-control"], "no-cache");
    assert!(
        index.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let etag = index.headers()["etag"].to_str().unwrap().to_owned();
    let html = index.text().await.unwrap();
    assert!(html.contains("<title>DocuVault</title>"));

    let route = app.get("/documents/some/client/route").await;
    assert_eq!(route.status(), 200);
    assert_eq!(route.headers()["cache-control"], "no-cache");
    assert_eq!(route.text().await.unwrap(), html);

    let asset = app.get(&stylesheet_path(&app).await).await;
    assert_eq!(asset.status(), 200);
    assert_eq!(
        asset.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(
        asset.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );

    assert_eq!(app.get("/assets/missing-123.js").await.status(), 404);
    assert_eq!(app.get("/nothing-here.png").await.status(), 404);

    let revalidated = app
        .client
        .get(app.url("/"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), 304);
}

#[tokio::test]
async fn openapi_is_served_and_matches_the_committed_file() {
    let app = TestApp::spawn().await;
    let res = app.get("/api/openapi.json").await;
    assert_eq!(res.status(), 200);
    let served: Value = res.json().await.unwrap();
    let generated: Value = serde_json::from_str(&docuvault::openapi::document_json()).unwrap();
    assert_eq!(served, generated);
    assert!(served["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(served["paths"]["/health"]["get"].is_object());

    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json"))
        .expect("openapi.json is committed at the repository root");
    let committed: Value = serde_json::from_str(&committed).unwrap();
    assert_eq!(
        committed, generated,
        "openapi.json is stale: run `cargo run -- openapi > openapi.json`"
    );

    let docs = app.get("/api/docs").await;
    assert_eq!(docs.status(), 308);
    let page = app.get("/api/docs/").await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("swagger"));
}

#[tokio::test]
async fn every_documented_response_has_a_description() {
    let spec: Value = serde_json::from_str(&docuvault::openapi::document_json()).unwrap();
    let mut count = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, response) in op["responses"].as_object().unwrap() {
                let d = response["description"].as_str().unwrap_or("");
                assert!(
                    !d.is_empty(),
                    "{method} {path} {status} lacks a description"
                );
                count += 1;
            }
        }
    }
    assert!(count >= 2);
}

#[tokio::test]
async fn every_schema_reference_resolves() {
    // Client generators reject documents with dangling `$ref`s (e.g. an enum used only
    // as a query parameter and never registered as a component).
    let spec: Value = serde_json::from_str(&docuvault::openapi::document_json()).unwrap();
    let schemas = spec["components"]["schemas"].as_object().unwrap();
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|x| walk(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut refs = Vec::new();
    walk(&spec, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("odd ref {r}"));
        assert!(schemas.contains_key(name), "dangling $ref {r}");
    }
}

#[tokio::test]
async fn statuses_roles_and_topic_sources_are_enumerations_in_the_spec() {
    use docuvault::entities::{DocumentStatus, Role, TopicSource};
    use sea_orm::Iterable;
    let spec: Value = serde_json::from_str(&docuvault::openapi::document_json()).unwrap();
    let schemas = &spec["components"]["schemas"];
    let values = |name: &str| -> Vec<String> {
        let schema = &schemas[name];
        assert_eq!(schema["type"], "string", "{name}: {schema}");
        schema["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} is not an enumeration: {schema}"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    // The spec lists exactly the stored spellings, in lifecycle order.
    assert_eq!(
        values("DocumentStatus"),
        [
            "pending",
            "queued",
            "processing",
            "classified",
            "unclassified",
            "failed"
        ]
    );
    assert_eq!(values("Role"), ["user", "admin"]);
    assert_eq!(values("TopicSource"), ["ai", "user"]);
    let stored = |all: Vec<&str>| all.into_iter().map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(
        values("DocumentStatus"),
        stored(DocumentStatus::iter().map(DocumentStatus::as_str).collect())
    );
    assert_eq!(
        values("Role"),
        stored(Role::iter().map(Role::as_str).collect())
    );
    assert_eq!(
        values("TopicSource"),
        stored(TopicSource::iter().map(TopicSource::as_str).collect())
    );
    // Every response field holding one refers to the enumeration.
    for (schema, field, enumeration) in [
        ("DocumentView", "status", "DocumentStatus"),
        ("ConfirmResponse", "status", "DocumentStatus"),
        ("ClassifyResponse", "status", "DocumentStatus"),
        ("DocumentTopicView", "source", "TopicSource"),
        ("UserView", "role", "Role"),
        ("AdminUserView", "role", "Role"),
    ] {
        let property = &schemas[schema]["properties"][field];
        assert_eq!(
            property["$ref"],
            format!("#/components/schemas/{enumeration}"),
            "{schema}.{field}: {property}"
        );
    }
}
