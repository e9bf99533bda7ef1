//! HTTP behaviour of the foundation: health, errors, request ids, headers, UI, OpenAPI.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::{Duration, Instant};

use common::{TestApp, Tmpfs, body, expected_backends};
use serde_json::Value;

#[tokio::test]
async fn health_is_ok_on_the_configured_backends() {
    let app = TestApp::spawn().await;
    let res = app.health().await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body = body(res).await;
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
    let body = body(res).await;
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
    let body = body(res).await;
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
    let body = body(res).await;
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
    let body = body(res).await;
    assert_eq!(body["storage"]["backend"], "local");
    assert_eq!(body["storage"]["status"], "error");
}

#[tokio::test]
async fn health_reports_a_full_data_directory_while_reads_keep_working() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let _tmpfs = Tmpfs::mount_on(&data, "48m");
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
    turns_healthy(&app).await;

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
    let health = body(res).await;
    assert_eq!(health["status"], "error");
    assert_eq!(health["storage"]["status"], "error", "{health}");
    assert_eq!(health["storage"]["backend"], "local");
    let detail = health["storage"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("full") && detail.contains("free"),
        "{detail}"
    );
    assert_eq!(health["database"]["status"], "ok", "{health}");

    // Reads keep working: sign in, list, fetch the file.
    let again = app.login("diskfull", common::PASSWORD).await;
    let list = app.get_auth("/api/documents", &again.access).await;
    assert_eq!(list.status(), 200);
    let list = body(list).await;
    assert!(list.to_string().contains(&id), "{list}");
    let link = app
        .get_auth(&format!("/api/documents/{id}/download"), &again.access)
        .await;
    assert_eq!(link.status(), 200);
    let url = body(link).await["url"].as_str().unwrap().to_owned();
    let file = app.client.get(&url).send().await.unwrap();
    assert_eq!(file.status(), 200);
    assert_eq!(file.bytes().await.unwrap().as_ref(), bytes.as_slice());

    // Space freed: healthy again.
    drop(filler);
    std::fs::remove_file(data.join("filler")).unwrap();
    turns_healthy(&app).await;
    app.stop().await;
}

/// Asserts that `/health` answers 200 within a deadline: each backend probe has a 1.5 s
/// budget, which a loaded machine can exceed once.
async fn turns_healthy(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let res = app.health().await;
        if res.status() == 200 {
            return;
        }
        let report = body(res).await;
        assert!(Instant::now() < deadline, "still unhealthy: {report}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
        let body = body(res).await;
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
    assert_eq!(body(res).await["code"], "method_not_allowed");
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
                // A shared response (`$ref` to `components.responses`) has its
                // description there.
                let response = match response["$ref"].as_str() {
                    Some(r) => {
                        let name = r
                            .strip_prefix("#/components/responses/")
                            .unwrap_or_else(|| panic!("{method} {path} {status}: odd ref {r}"));
                        &spec["components"]["responses"][name]
                    }
                    None => response,
                };
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
    let responses = spec["components"]["responses"].as_object().unwrap();
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
        let resolves = if let Some(name) = r.strip_prefix("#/components/schemas/") {
            schemas.contains_key(name)
        } else if let Some(name) = r.strip_prefix("#/components/responses/") {
            responses.contains_key(name)
        } else {
            panic!("odd ref {r}")
        };
        assert!(resolves, "dangling $ref {r}");
    }
}

/// `(method, path, operation)` for every operation of a document.
fn operations(spec: &Value) -> Vec<(String, String, Value)> {
    let mut ops = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            ops.push((method.clone(), path.clone(), op.clone()));
        }
    }
    ops
}

#[tokio::test]
async fn every_operation_has_a_unique_camel_case_id_and_declares_security() {
    // Generators name client methods after operationIds and rename colliding ones
    // (`list`, `update`, `confirm`… used to repeat); an operation without `security`
    // inherits none, so a client cannot tell public operations from bearer ones.
    let spec: Value = serde_json::from_str(&docuvault::openapi::document_json()).unwrap();
    assert_eq!(spec["servers"][0]["url"], "/");
    let mut seen = std::collections::HashSet::new();
    let mut public = Vec::new();
    for (method, path, op) in operations(&spec) {
        let id = op["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
        let mut chars = id.chars();
        assert!(
            chars.next().is_some_and(|c| c.is_ascii_lowercase())
                && chars.all(|c| c.is_ascii_alphanumeric()),
            "{method} {path}: operationId {id} is not camelCase"
        );
        assert!(seen.insert(id.to_owned()), "operationId {id} repeats");
        let security = op["security"]
            .as_array()
            .unwrap_or_else(|| panic!("{method} {path} ({id}) declares no security"));
        match security.as_slice() {
            [] => public.push(id.to_owned()),
            [only] => {
                assert_eq!(only, &serde_json::json!({"bearer": []}), "{id}");
                assert!(
                    docuvault::auth::tokens::access_for(&method.to_uppercase(), &path).is_none(),
                    "{id} is open to API tokens but does not list api_token"
                );
            }
            // Open to personal API tokens: exactly the operations the token table opens,
            // each naming the scope it needs.
            [bearer, token] => {
                assert_eq!(bearer, &serde_json::json!({"bearer": []}), "{id}");
                assert_eq!(token, &serde_json::json!({"api_token": []}), "{id}");
                let access = docuvault::auth::tokens::access_for(&method.to_uppercase(), &path)
                    .unwrap_or_else(|| panic!("{id} lists api_token but tokens may not call it"));
                assert_eq!(op["x-api-token-scope"], access.as_str(), "{id}");
            }
            other => panic!("{id}: unexpected security {other:?}"),
        }
    }
    public.sort();
    assert_eq!(
        public,
        [
            "confirmPasswordReset",
            "downloadDocumentsZip",
            "downloadMyExport",
            "downloadPublicLink",
            "getAuthConfig",
            "getHealth",
            "login",
            "openPublicLink",
            "refreshSession",
            "register",
            "requestPasswordReset",
            "unlockPublicLink",
            "viewPublicLink",
        ]
    );
    for (id, path) in [
        ("listDocuments", "/api/documents"),
        ("confirmUpload", "/api/documents/{id}/confirm"),
        ("getMyQuota", "/api/auth/me/quota"),
        ("createUploadUrl", "/api/documents/upload-url"),
        ("downloadDocument", "/api/documents/{id}/download"),
        ("getMe", "/api/auth/me"),
    ] {
        let method = if id.starts_with("create") || id.starts_with("confirm") {
            "post"
        } else {
            "get"
        };
        assert_eq!(spec["paths"][path][method]["operationId"], id);
    }
}

/// Keys only OpenAPI 3.1 (JSON Schema 2020-12) has; none may remain in the 3.0 rendition.
const ONLY_IN_3_1: &[&str] = &[
    "const",
    "contentMediaType",
    "contentEncoding",
    "propertyNames",
    "prefixItems",
    "unevaluatedProperties",
    "dependentRequired",
    "$schema",
    "$defs",
    "jsonSchemaDialect",
    "webhooks",
    "identifier",
];

/// Every 3.1-only construct in `v`, as `path: what` lines.
fn constructs_only_in_3_1(v: &Value, path: &str, parent_key: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            // Under `properties` the keys are property names, not keywords.
            let names = parent_key == "properties";
            for (k, child) in m {
                if !names {
                    if ONLY_IN_3_1.contains(&k.as_str()) {
                        out.push(format!("{path}: {k}"));
                    }
                    if k == "type" && !child.is_string() {
                        out.push(format!("{path}: type {child}"));
                    }
                    if k == "type" && child == "null" {
                        out.push(format!("{path}: type null"));
                    }
                    if k == "examples" && child.is_array() {
                        out.push(format!("{path}: examples list"));
                    }
                    if (k == "exclusiveMinimum" || k == "exclusiveMaximum") && !child.is_boolean() {
                        out.push(format!("{path}: numeric {k}"));
                    }
                    if k == "nullable" && m.contains_key("$ref") {
                        out.push(format!("{path}: nullable next to $ref (ignored in 3.0)"));
                    }
                }
                constructs_only_in_3_1(child, &format!("{path}/{k}"), k, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                constructs_only_in_3_1(x, &format!("{path}/{i}"), "", out);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn openapi_3_0_rendition_is_served_and_has_no_3_1_constructs() {
    let app = TestApp::spawn().await;
    let res = app.get("/api/openapi-3.0.json").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let served: Value = res.json().await.unwrap();
    // The CLI prints this same function's output (tests/it/cli.rs checks that side).
    let rendered: Value = serde_json::from_str(&docuvault::openapi::document_json_3_0()).unwrap();
    assert_eq!(served, rendered);
    assert_eq!(served["openapi"], "3.0.3");

    let mut found = Vec::new();
    constructs_only_in_3_1(&served, "#", "", &mut found);
    assert!(found.is_empty(), "3.1-only constructs left: {found:#?}");

    // Same operations, same schemas as the 3.1 source, nullability kept as `nullable`.
    let source: Value = serde_json::from_str(&docuvault::openapi::document_json()).unwrap();
    let ids = |spec: &Value| {
        let mut ids: Vec<String> = operations(spec)
            .into_iter()
            .map(|(_, _, op)| op["operationId"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&served), ids(&source));
    let schemas = |spec: &Value| {
        let mut names: Vec<String> = spec["components"]["schemas"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    };
    assert_eq!(schemas(&served), schemas(&source));
    let doc = &served["components"]["schemas"]["DocumentView"]["properties"];
    assert_eq!(doc["sha256"]["type"], "string");
    assert_eq!(doc["sha256"]["nullable"], true);
    assert_eq!(doc["classified_by"]["nullable"], true);
    assert_eq!(
        doc["classified_by"]["allOf"][0]["$ref"],
        "#/components/schemas/ClassifiedBy"
    );
    let tokens = &served["components"]["schemas"]["LoginTokens"]["properties"];
    assert_eq!(tokens["requires_totp"]["enum"], serde_json::json!([false]));
}

/// Response fields the server leaves out (rather than sending null) when they have no
/// value: optional in the spec. `evidence` (the words behind an automatic topic) and
/// `suggested_topics` come only in the answers about one document.
const SENT_ONLY_WHEN_SET: &[&str] = &[
    "refresh_token",
    "detail",
    "jobs",
    "evidence",
    "suggested_topics",
];

/// Checks `value` against `schema` (resolving `$ref`s in `spec`): types, enumerations,
/// required properties, no undeclared properties, nullability. Returns what differs.
fn conforms(spec: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.trim_start_matches("#/components/schemas/");
        return conforms(spec, &spec["components"]["schemas"][name], value, at);
    }
    if let Some(branches) = schema["oneOf"].as_array() {
        let matching: Vec<_> = branches
            .iter()
            .filter(|b| conforms(spec, b, value, at).is_ok())
            .collect();
        return match matching.len() {
            1 => Ok(()),
            n => Err(format!("{at}: {value} matches {n} branches of oneOf")),
        };
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let type_ok = types.is_empty()
        || types.contains(&kind)
        || (kind == "integer" && types.contains(&"number"));
    if !type_ok {
        return Err(format!("{at}: {value} is {kind}, the spec says {types:?}"));
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        return Err(format!("{at}: {value} not in {allowed:?}"));
    }
    match value {
        Value::Object(fields) => {
            for key in schema["required"].as_array().into_iter().flatten() {
                let key = key.as_str().unwrap();
                if !fields.contains_key(key) {
                    return Err(format!("{at}: required `{key}` missing"));
                }
            }
            let required = schema["required"].as_array().cloned().unwrap_or_default();
            for (key, v) in fields.iter().filter(|_| schema["properties"].is_object()) {
                // Only fields the server leaves out when empty may be optional; everything
                // else it sends (null included) every time, so the spec must require it.
                if !required.contains(&Value::from(key.as_str()))
                    && (v.is_null() || !SENT_ONLY_WHEN_SET.contains(&key.as_str()))
                {
                    return Err(format!("{at}: `{key}` is sent but not required"));
                }
            }
            if let Some(properties) = schema["properties"].as_object() {
                for (key, v) in fields {
                    let Some(p) = properties.get(key) else {
                        if schema["additionalProperties"].is_null() {
                            return Err(format!("{at}: `{key}` is not in the spec"));
                        }
                        continue;
                    };
                    conforms(spec, p, v, &format!("{at}.{key}"))?;
                }
            }
            if let Some(extra) = schema["additionalProperties"].as_object() {
                let extra = Value::Object(extra.clone());
                for (key, v) in fields {
                    if schema["properties"].get(key).is_none() {
                        conforms(spec, &extra, v, &format!("{at}.{key}"))?;
                    }
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                conforms(spec, &schema["items"], item, &format!("{at}[{i}]"))?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Checks a response against the spec's schema for its operation and status.
async fn check_response(spec: &Value, method: &str, path: &str, res: reqwest::Response) -> Value {
    let status = res.status().as_u16().to_string();
    let body: Value = res.json().await.unwrap();
    let schema =
        &spec["paths"][path][method]["responses"][&status]["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "{method} {path} {status} is not documented"
    );
    if let Err(e) = conforms(spec, schema, &body, &format!("{method} {path} {status}")) {
        panic!("{e}\nbody: {body:#}");
    }
    body
}

#[tokio::test]
async fn core_flow_responses_match_the_spec_required_fields_included() {
    // Fields the server always sends are `required` (nullable where null is possible),
    // and nothing it sends is missing from the spec: generated clients parse every
    // answer of the core flow without casting.
    let spec: Value = serde_json::from_str(&docuvault::openapi::document_json()).unwrap();
    let app = TestApp::spawn().await;
    let body = serde_json::json!({
        "handle": "carol", "email": "carol@example.com", "password": common::PASSWORD,
    });
    let res = app.post_json("/api/auth/register", None, &body).await;
    check_response(&spec, "post", "/api/auth/register", res).await;
    let login = serde_json::json!({"login": "carol", "password": common::PASSWORD});
    let res = app.post_json("/api/auth/login", None, &login).await;
    let signed_in = check_response(&spec, "post", "/api/auth/login", res).await;
    assert_eq!(signed_in["requires_totp"], false);
    let s = common::Session::from_body(signed_in);

    for (path, public) in [
        ("/health", true),
        ("/api/auth/config", true),
        ("/api/auth/me", false),
        ("/api/auth/me/quota", false),
        ("/api/topics", false),
        ("/api/folders", false),
    ] {
        let res = if public {
            app.get(path).await
        } else {
            app.get_auth(path, &s.access).await
        };
        check_response(&spec, "get", path, res).await;
    }

    let bytes = b"Invoice 42: the quarterly electricity bill.".to_vec();
    let res = app
        .post_json(
            "/api/documents/upload-url",
            Some(&s.access),
            &serde_json::json!({"filename": "bill.txt", "content_type": "text/plain", "size_bytes": bytes.len()}),
        )
        .await;
    let ticket = check_response(&spec, "post", "/api/documents/upload-url", res).await;
    assert_eq!(ticket["method"], "PUT");
    assert!(app.put_bytes(&ticket, bytes).await.status().is_success());
    let id = ticket["document_id"].as_str().unwrap().to_owned();
    let res = app.confirm(&s, &id).await;
    check_response(&spec, "post", "/api/documents/{id}/confirm", res).await;
    common::wait_processed(&app, &s, &id).await;
    for (path, template) in [
        (format!("/api/documents/{id}"), "/api/documents/{id}"),
        (
            format!("/api/documents/{id}/text"),
            "/api/documents/{id}/text",
        ),
        (
            format!("/api/documents/{id}/download"),
            "/api/documents/{id}/download",
        ),
        ("/api/documents".to_owned(), "/api/documents"),
        ("/api/documents?q=electricity".to_owned(), "/api/documents"),
    ] {
        let res = app.get_auth(&path, &s.access).await;
        check_response(&spec, "get", template, res).await;
    }

    // With TOTP on, the login answer is the other branch of the oneOf.
    common::enable_totp(&app, &s).await;
    let res = app.post_json("/api/auth/login", None, &login).await;
    let pending = check_response(&spec, "post", "/api/auth/login", res).await;
    assert_eq!(pending, serde_json::json!({"requires_totp": true}));
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
