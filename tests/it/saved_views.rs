//! Saved views (`/api/views`) over HTTP, on SQLite and PostgreSQL: create, list by name,
//! rename, replace the query, delete; names unique per account (409); queries checked
//! like the list's own (422, nothing stored); another account's view is a 404; API
//! tokens with the documents scopes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Session, TestApp, body};

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    bearer: &str,
    payload: Option<Value>,
) -> (u16, Value) {
    let res = app.send(method, path, bearer, payload.as_ref()).await;
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn create(app: &TestApp, s: &Session, name: &str, query: Value) -> (u16, Value) {
    call(
        app,
        Method::POST,
        "/api/views",
        &s.access,
        Some(json!({"name": name, "query": query})),
    )
    .await
}

async fn names(app: &TestApp, bearer: &str) -> Vec<String> {
    let (status, list) = call(app, Method::GET, "/api/views", bearer, None).await;
    assert_eq!(status, 200, "{list}");
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn views_are_created_listed_by_name_changed_and_deleted() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    assert!(names(&app, &alice.access).await.is_empty());
    let query = json!({
        "content_type": "application/pdf,image/png",
        "size_min": 1000,
        "sort": "size",
        "order": "desc",
        "include_shared": true,
        "created_from": "2026-01-01",
        "q": "tax \"annual return\"",
    });
    let (status, big) = create(&app, &alice, "  Big scans ", query.clone()).await;
    assert_eq!(status, 201, "{big}");
    assert_eq!(big["name"], "Big scans");
    assert_eq!(big["query"], query);
    let (status, _) = create(&app, &alice, "archive", json!({})).await;
    assert_eq!(status, 201);
    let (status, _) = create(&app, &alice, "Zeta", json!({"duplicates": true})).await;
    assert_eq!(status, 201);
    assert_eq!(
        names(&app, &alice.access).await,
        ["archive", "Big scans", "Zeta"]
    );

    let id = big["id"].as_str().unwrap();
    let path = format!("/api/views/{id}");
    let (status, renamed) = call(
        &app,
        Method::PATCH,
        &path,
        &alice.access,
        Some(json!({"name": "Large"})),
    )
    .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["name"], "Large");
    assert_eq!(renamed["query"], query, "a rename keeps the query");
    let (status, changed) = call(
        &app,
        Method::PATCH,
        &path,
        &alice.access,
        Some(json!({"query": {"status": "failed"}})),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["name"], "Large");
    assert_eq!(changed["query"], json!({"status": "failed"}));
    assert_eq!(
        names(&app, &alice.access).await,
        ["archive", "Large", "Zeta"]
    );

    let (status, _) = call(&app, Method::DELETE, &path, &alice.access, None).await;
    assert_eq!(status, 204);
    assert_eq!(names(&app, &alice.access).await, ["archive", "Zeta"]);
    let (status, err) = call(&app, Method::DELETE, &path, &alice.access, None).await;
    assert_eq!((status, err["code"].clone()), (404, json!("not_found")));
    let (status, _) = call(
        &app,
        Method::PATCH,
        &path,
        &alice.access,
        Some(json!({"name": "again"})),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn names_are_unique_per_account_ignoring_case_and_spaces() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let (status, _) = create(&app, &alice, "Tax  papers", json!({})).await;
    assert_eq!(status, 201);
    let (status, err) = create(&app, &alice, " tax PAPERS", json!({"sort": "name"})).await;
    assert_eq!(
        (status, err["code"].clone()),
        (409, json!("view_name_taken"))
    );
    // Another account may use the name.
    let (status, _) = create(&app, &bob, "Tax papers", json!({})).await;
    assert_eq!(status, 201);
    // Renaming onto a taken name is refused too; renaming to itself is not.
    let (_, other) = create(&app, &alice, "Other", json!({})).await;
    let path = format!("/api/views/{}", other["id"].as_str().unwrap());
    let (status, err) = call(
        &app,
        Method::PATCH,
        &path,
        &alice.access,
        Some(json!({"name": "TAX papers"})),
    )
    .await;
    assert_eq!(
        (status, err["code"].clone()),
        (409, json!("view_name_taken"))
    );
    let (status, _) = call(
        &app,
        Method::PATCH,
        &path,
        &alice.access,
        Some(json!({"name": "other"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(names(&app, &alice.access).await, ["other", "Tax  papers"]);
}

#[tokio::test]
async fn bad_names_and_queries_are_refused_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    for (name, query, what) in [
        ("x", json!({"page": 2}), "paging is not part of a view"),
        ("x", json!({"trashed": true}), "the trash is not a view"),
        ("x", json!({"colour": "red"}), "unknown key"),
        ("x", json!({"sort": "sideways"}), "unknown sort"),
        ("x", json!({"order": 1}), "order is a word"),
        ("x", json!({"status": "pending-ish"}), "unknown status"),
        ("x", json!({"topic": "not-a-uuid"}), "topic is an id"),
        (
            "x",
            json!({"content_type": "application/x-msdownload"}),
            "type not accepted",
        ),
        ("x", json!({"created_from": "soon"}), "not a date"),
        (
            "x",
            json!({"created_from": "2026-02-01", "created_to": "2026-01-01"}),
            "backwards range",
        ),
        ("x", json!({"size_min": -1}), "negative size"),
        (
            "x",
            json!({"size_min": 10, "size_max": 1}),
            "backwards sizes",
        ),
        ("x", json!({"include_shared": "yes"}), "not a boolean"),
        ("x", json!({"q": "   "}), "blank search"),
        ("x", json!({"q": "x".repeat(501)}), "search too long"),
        ("x", json!({"folder_id": {"id": 1}}), "nested value"),
        (
            "x",
            json!({"content_type": ["application/pdf"]}),
            "array value",
        ),
        ("", json!({}), "empty name"),
        ("   ", json!({}), "blank name"),
        (&"n".repeat(81), json!({}), "name too long"),
        ("tab\there", json!({}), "control character"),
    ] {
        let (status, err) = create(&app, &alice, name, query).await;
        assert_eq!(status, 422, "{what}: {err}");
        assert_eq!(err["code"], "validation_failed", "{what}");
    }
    // Not an object at all, or missing fields: the JSON body is refused.
    for payload in [
        json!({"name": "x", "query": "sort=name"}),
        json!({"name": "x"}),
        json!({"name": "x", "query": {}, "extra": 1}),
    ] {
        let (status, err) = call(
            &app,
            Method::POST,
            "/api/views",
            &alice.access,
            Some(payload.clone()),
        )
        .await;
        assert!(matches!(status, 400 | 422), "{payload}: {status} {err}");
    }
    assert!(names(&app, &alice.access).await.is_empty());
    // A bad query in a change leaves the view as it was.
    let (_, view) = create(&app, &alice, "Good", json!({"sort": "name"})).await;
    let path = format!("/api/views/{}", view["id"].as_str().unwrap());
    let (status, _) = call(
        &app,
        Method::PATCH,
        &path,
        &alice.access,
        Some(json!({"name": "Renamed", "query": {"sort": "nope"}})),
    )
    .await;
    assert_eq!(status, 422);
    let (_, list) = call(&app, Method::GET, "/api/views", &alice.access, None).await;
    assert_eq!(list["items"][0]["name"], "Good");
    assert_eq!(list["items"][0]["query"], json!({"sort": "name"}));
    // Every list parameter a view may hold is accepted.
    let (status, err) = create(
        &app,
        &alice,
        "Everything",
        json!({
            "q": "tax", "sort": "created_at", "order": "asc",
            "topic": uuid::Uuid::new_v4(), "folder_id": uuid::Uuid::new_v4(),
            "include_subfolders": true, "status": "classified",
            "content_type": "application/pdf", "created_from": "2026-01-01T00:00:00Z",
            "created_to": "2026-12-31", "size_min": 0, "size_max": 10_000_000,
            "include_shared": false, "duplicates": false,
        }),
    )
    .await;
    assert_eq!(status, 201, "{err}");
}

#[tokio::test]
async fn another_accounts_view_is_a_404_and_admins_have_none() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let (_, view) = create(&app, &alice, "Mine", json!({"sort": "name"})).await;
    let path = format!("/api/views/{}", view["id"].as_str().unwrap());
    assert!(names(&app, &bob.access).await.is_empty());
    let (status, err) = call(
        &app,
        Method::PATCH,
        &path,
        &bob.access,
        Some(json!({"name": "Stolen"})),
    )
    .await;
    assert_eq!((status, err["code"].clone()), (404, json!("not_found")));
    let (status, _) = call(&app, Method::DELETE, &path, &bob.access, None).await;
    assert_eq!(status, 404);
    // Unknown and malformed ids answer the same.
    let (status, _) = call(
        &app,
        Method::DELETE,
        &format!("/api/views/{}", uuid::Uuid::new_v4()),
        &alice.access,
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(names(&app, &alice.access).await, ["Mine"]);
    let admin = app.admin("root").await;
    let (status, _) = call(&app, Method::GET, "/api/views", &admin.access, None).await;
    assert_eq!(status, 403);
    let res = app.get("/api/views").await;
    assert_eq!(res.status(), 401);
    let _ = body(res).await;
}

async fn token(app: &TestApp, s: &Session, scopes: &[&str]) -> String {
    let (status, created) = call(
        app,
        Method::POST,
        "/api/auth/tokens",
        &s.access,
        Some(json!({"name": scopes.join(" "), "scopes": scopes})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    created["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn api_tokens_reach_views_with_the_documents_scopes() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    create(&app, &alice, "Mine", json!({})).await;
    let read = token(&app, &alice, &["documents:read"]).await;
    let write = token(&app, &alice, &["documents:write"]).await;
    let topics = token(&app, &alice, &["topics:write"]).await;
    assert_eq!(names(&app, &read).await, ["Mine"]);
    let payload = json!({"name": "By token", "query": {"sort": "name"}});
    let (status, err) = call(
        &app,
        Method::POST,
        "/api/views",
        &read,
        Some(payload.clone()),
    )
    .await;
    assert_eq!(
        (status, err["code"].clone()),
        (403, json!("insufficient_scope"))
    );
    let (status, err) = call(&app, Method::GET, "/api/views", &topics, None).await;
    assert_eq!(
        (status, err["code"].clone()),
        (403, json!("insufficient_scope"))
    );
    let (status, _) = call(&app, Method::POST, "/api/views", &write, Some(payload)).await;
    assert_eq!(status, 201);
    assert_eq!(names(&app, &alice.access).await, ["By token", "Mine"]);
}
