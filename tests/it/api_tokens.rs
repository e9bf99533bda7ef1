//! Personal API tokens (`dvpat_…`): create / list / revoke, the scopes and the routes
//! closed to tokens, expiry, the events that end an account's tokens, the use recorded
//! (time, IP, audit event on a new IP), and only a keyed hash at rest.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use chrono::{DateTime, Duration, Utc};
use common::samples::hello_pdf;
use common::{PASSWORD, Session, TestApp};
use docuvault::entities::{api_tokens, audit_log};
use reqwest::Method;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set,
};
use serde_json::{Value, json};
use uuid::Uuid;

/// `method path` with `bearer` (and a JSON body, and `X-Forwarded-For` when given):
/// the status and the JSON body (null when there is none).
async fn call_from(
    app: &TestApp,
    method: Method,
    path: &str,
    bearer: &str,
    body: Option<Value>,
    forwarded_for: Option<&str>,
) -> (u16, Value) {
    let mut req = app
        .client
        .request(method, app.url(path))
        .bearer_auth(bearer);
    if let Some(body) = body {
        req = req.json(&body);
    }
    if let Some(ip) = forwarded_for {
        req = req.header("x-forwarded-for", ip);
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, value)
}

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    bearer: &str,
    body: Option<Value>,
) -> (u16, Value) {
    call_from(app, method, path, bearer, body, None).await
}

/// Creates a token with `scopes` (and `expires_in_days`) for the signed-in `s`.
async fn create_token(
    app: &TestApp,
    s: &Session,
    name: &str,
    scopes: &[&str],
    expires_in_days: Option<i64>,
) -> (String, Value) {
    let mut body = json!({"name": name, "scopes": scopes});
    if let Some(days) = expires_in_days {
        body["expires_in_days"] = json!(days);
    }
    let (status, created) =
        call(app, Method::POST, "/api/auth/tokens", &s.access, Some(body)).await;
    assert_eq!(status, 201, "create token {name}: {created}");
    (
        created["token"].as_str().unwrap().to_owned(),
        created["info"].clone(),
    )
}

async fn list_tokens(app: &TestApp, s: &Session) -> Vec<Value> {
    let (status, list) = call(app, Method::GET, "/api/auth/tokens", &s.access, None).await;
    assert_eq!(status, 200, "{list}");
    list["tokens"].as_array().unwrap().clone()
}

async fn me_with(app: &TestApp, token: &str) -> (u16, Value) {
    call(app, Method::GET, "/api/auth/me", token, None).await
}

/// The audit rows of `event` about `user`, oldest first.
async fn audits(app: &TestApp, event: &str, user: &str) -> Vec<audit_log::Model> {
    audit_log::Entity::find()
        .filter(audit_log::Column::EventType.eq(event))
        .filter(audit_log::Column::UserId.eq(Uuid::parse_str(user).unwrap()))
        .order_by_asc(audit_log::Column::CreatedAt)
        .all(&app.state.db)
        .await
        .unwrap()
}

fn assert_error(got: &(u16, Value), status: u16, code: &str, what: &str) {
    assert_eq!(
        (got.0, got.1["code"].as_str()),
        (status, Some(code)),
        "{what}: {}",
        got.1
    );
}

const ALL_SCOPES: [&str; 4] = [
    "documents:read",
    "documents:write",
    "topics:read",
    "topics:write",
];

#[tokio::test]
async fn tokens_are_created_listed_revoked_and_stored_only_as_keyed_hashes() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;

    let before = Utc::now();
    let (token, info) = create_token(&app, &alice, "backup", &["documents:read"], Some(30)).await;
    assert!(token.starts_with("dvpat_") && token.len() > 40, "{token}");
    assert_eq!(info["prefix"].as_str(), Some(&token[..12]));
    assert_eq!(info["name"], "backup");
    assert_eq!(info["scopes"], json!(["documents:read"]));
    assert_eq!(info["last_used_at"], Value::Null);
    assert_eq!(info["last_used_ip"], Value::Null);
    let expires: DateTime<Utc> = info["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(
        expires > before + Duration::days(30) - Duration::minutes(1)
            && expires < Utc::now() + Duration::days(30) + Duration::minutes(1),
        "{expires}"
    );
    let (second, second_info) = create_token(&app, &alice, "sync", &ALL_SCOPES, None).await;
    assert_eq!(second_info["expires_at"], Value::Null);
    assert_eq!(second_info["scopes"], json!(ALL_SCOPES));

    // Listed newest first, never with the token itself.
    let listed = list_tokens(&app, &alice).await;
    let names: Vec<&str> = listed.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["sync", "backup"]);
    assert!(listed.iter().all(|t| t.get("token").is_none()));
    assert!(!serde_json::to_string(&listed).unwrap().contains(&token));
    assert!(list_tokens(&app, &bob).await.is_empty(), "bob sees none");

    // At rest: the keyed hash under the tokens' own purpose, not the token.
    let rows = api_tokens::Entity::find().all(&app.state.db).await.unwrap();
    assert_eq!(rows.len(), 2);
    let row = rows
        .iter()
        .find(|r| r.id.to_string() == info["id"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        row.token_hash,
        docuvault::auth::tokens::hash(&app.state.keys, &token)
    );
    assert_ne!(row.token_hash, app.state.keys.hash_token(&token));
    for r in &rows {
        let stored = format!("{r:?}");
        assert!(!stored.contains(&token[6..]) && !stored.contains(&second[6..]));
    }

    // The token signs in as its owner.
    let (status, me) = me_with(&app, &token).await;
    assert_eq!((status, me["handle"].as_str()), (200, Some("alice")));

    // Bad requests.
    for (body, what) in [
        (json!({"name": "x", "scopes": []}), "no scope"),
        (json!({"name": "x", "scopes": ["admin"]}), "unknown scope"),
        (
            json!({"name": " ", "scopes": ["topics:read"]}),
            "blank name",
        ),
        (
            json!({"name": "x".repeat(101), "scopes": ["topics:read"]}),
            "long name",
        ),
        (
            json!({"name": "x", "scopes": ["topics:read"], "expires_in_days": 0}),
            "zero days",
        ),
        (
            json!({"name": "x", "scopes": ["topics:read"], "expires_in_days": 3651}),
            "too many days",
        ),
        (
            json!({"name": "x", "scopes": ["topics:read"], "owner": "bob"}),
            "unknown field",
        ),
    ] {
        let got = call(
            &app,
            Method::POST,
            "/api/auth/tokens",
            &alice.access,
            Some(body),
        )
        .await;
        assert_error(&got, 422, "validation_failed", what);
    }

    // Revoking: someone else's token is a 404, one's own stops working at once.
    let id = info["id"].as_str().unwrap();
    let path = format!("/api/auth/tokens/{id}");
    let got = call(&app, Method::DELETE, &path, &bob.access, None).await;
    assert_error(&got, 404, "not_found", "bob revokes alice's token");
    assert_eq!(me_with(&app, &token).await.0, 200);
    let (status, _) = call(&app, Method::DELETE, &path, &alice.access, None).await;
    assert_eq!(status, 204);
    assert_error(
        &me_with(&app, &token).await,
        401,
        "invalid_api_token",
        "revoked token",
    );
    let got = call(&app, Method::DELETE, &path, &alice.access, None).await;
    assert_error(&got, 404, "not_found", "revoked twice");
    assert_eq!(list_tokens(&app, &alice).await.len(), 1);
    assert_eq!(me_with(&app, &second).await.0, 200, "the other token lives");

    // An unknown token of the right shape.
    let forged = format!("dvpat_{}", "A".repeat(43));
    assert_error(
        &me_with(&app, &forged).await,
        401,
        "invalid_api_token",
        "unknown token",
    );

    // Audit rows name the token, never contain it.
    let created = audits(&app, "api_token_created", &alice.user_id).await;
    assert_eq!(created.len(), 2);
    assert_eq!(created[0].resource_id.as_deref(), Some(id));
    let revoked = audits(&app, "api_token_revoked", &alice.user_id).await;
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].resource_id.as_deref(), Some(id));
    assert!(!format!("{created:?}{revoked:?}").contains(&token[6..]));
}

#[tokio::test]
async fn tokens_work_on_the_document_and_topic_routes_within_their_scopes() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let doc = app
        .upload(&alice, "hello.pdf", "application/pdf", hello_pdf())
        .await;
    let (read, _) = create_token(&app, &alice, "read", &["documents:read"], None).await;
    let (write, _) = create_token(&app, &alice, "write", &["documents:write"], None).await;
    let (topics, _) = create_token(&app, &alice, "topics", &["topics:write"], None).await;

    // documents:read: lists, reads, downloads.
    let (status, list) = call(&app, Method::GET, "/api/documents", &read, None).await;
    assert_eq!(status, 200, "{list}");
    assert!(list.to_string().contains(&doc));
    let (status, one) = call(
        &app,
        Method::GET,
        &format!("/api/documents/{doc}"),
        &read,
        None,
    )
    .await;
    assert_eq!((status, one["id"].as_str()), (200, Some(doc.as_str())));
    let (status, _) = call(
        &app,
        Method::GET,
        &format!("/api/documents/{doc}/versions"),
        &read,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(&app, Method::GET, "/api/folders", &read, None).await;
    assert_eq!(status, 200);
    let (status, _) = call(&app, Method::GET, "/api/shared-with-me", &read, None).await;
    assert_eq!(status, 200);
    // …but changes nothing, and reads no topics.
    let got = call(
        &app,
        Method::POST,
        "/api/folders",
        &read,
        Some(json!({"name": "Taxes"})),
    )
    .await;
    assert_error(
        &got,
        403,
        "insufficient_scope",
        "read token creates a folder",
    );
    assert!(
        got.1["message"]
            .as_str()
            .unwrap()
            .contains("documents:write")
    );
    let got = call(
        &app,
        Method::PATCH,
        &format!("/api/documents/{doc}"),
        &read,
        Some(json!({"filename": "renamed.pdf"})),
    )
    .await;
    assert_error(&got, 403, "insufficient_scope", "read token renames");
    let got = call(
        &app,
        Method::DELETE,
        &format!("/api/documents/{doc}"),
        &read,
        None,
    )
    .await;
    assert_error(&got, 403, "insufficient_scope", "read token trashes");
    let got = call(&app, Method::GET, "/api/topics", &read, None).await;
    assert_error(&got, 403, "insufficient_scope", "read token lists topics");
    assert!(got.1["message"].as_str().unwrap().contains("topics:read"));

    // documents:write: the whole upload flow and folders (and reads, which it includes).
    let (status, ticket) = call(
        &app,
        Method::POST,
        "/api/documents/upload-url",
        &write,
        Some(json!({"filename": "second.pdf", "content_type": "application/pdf", "size_bytes": hello_pdf().len()})),
    )
    .await;
    assert_eq!(status, 200, "{ticket}");
    assert!(
        app.put_bytes(&ticket, hello_pdf())
            .await
            .status()
            .is_success()
    );
    let second = ticket["document_id"].as_str().unwrap();
    let (status, confirmed) = call(
        &app,
        Method::POST,
        &format!("/api/documents/{second}/confirm"),
        &write,
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200, "{confirmed}");
    let (status, folder) = call(
        &app,
        Method::POST,
        "/api/folders",
        &write,
        Some(json!({"name": "Taxes"})),
    )
    .await;
    assert_eq!(status, 201, "{folder}");
    let (status, list) = call(&app, Method::GET, "/api/documents", &write, None).await;
    assert_eq!(status, 200);
    assert!(list.to_string().contains(second));
    let got = call(
        &app,
        Method::POST,
        "/api/topics",
        &write,
        Some(json!({"name": "Insurance"})),
    )
    .await;
    assert_error(
        &got,
        403,
        "insufficient_scope",
        "documents token creates a topic",
    );

    // topics:write: topics only.
    let (status, topic) = call(
        &app,
        Method::POST,
        "/api/topics",
        &topics,
        Some(json!({"name": "Insurance"})),
    )
    .await;
    assert_eq!(status, 201, "{topic}");
    let (status, list) = call(&app, Method::GET, "/api/topics", &topics, None).await;
    assert_eq!(status, 200);
    assert!(list.to_string().contains("Insurance"));
    let got = call(&app, Method::GET, "/api/documents", &topics, None).await;
    assert_error(
        &got,
        403,
        "insufficient_scope",
        "topics token lists documents",
    );

    // The account and its quota: any token.
    for token in [&read, &write, &topics] {
        let (status, quota) = call(&app, Method::GET, "/api/auth/me/quota", token, None).await;
        assert_eq!(status, 200, "{quota}");
        assert!(quota["used_bytes"].as_i64().unwrap() > 0);
    }
}

#[tokio::test]
async fn tokens_never_reach_credentials_sessions_admin_or_export() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let admin = app.admin("root").await;
    let (token, info) = create_token(&app, &alice, "all", &ALL_SCOPES, None).await;
    let id = info["id"].as_str().unwrap();

    let closed: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::POST,
            "/api/auth/password".into(),
            Some(json!({"current_password": PASSWORD, "new_password": "another long passphrase"})),
        ),
        (Method::POST, "/api/auth/totp/setup".into(), None),
        (
            Method::POST,
            "/api/auth/totp/disable".into(),
            Some(json!({"password": PASSWORD, "code": "123456"})),
        ),
        (
            Method::POST,
            "/api/auth/backup-codes".into(),
            Some(json!({"password": PASSWORD})),
        ),
        (Method::POST, "/api/auth/logout".into(), Some(json!({}))),
        (Method::POST, "/api/auth/logout-all".into(), Some(json!({}))),
        (
            Method::PATCH,
            "/api/auth/me".into(),
            Some(json!({"handle": "mallory"})),
        ),
        (Method::GET, "/api/auth/tokens".into(), None),
        (
            Method::POST,
            "/api/auth/tokens".into(),
            Some(json!({"name": "child", "scopes": ["documents:read"]})),
        ),
        (Method::DELETE, format!("/api/auth/tokens/{id}"), None),
        (Method::GET, "/api/me/export".into(), None),
        (Method::POST, "/api/me/export-url".into(), Some(json!({}))),
        (Method::GET, "/api/admin/users".into(), None),
        (Method::GET, "/api/admin/audit-log".into(), None),
    ];
    for (method, path, body) in &closed {
        let got = call(&app, method.clone(), path, &token, body.clone()).await;
        assert_error(&got, 403, "token_not_allowed", &format!("{method} {path}"));
    }
    // Nothing happened: the token, the session and the handle are as they were.
    let (status, me) = me_with(&app, &token).await;
    assert_eq!((status, me["handle"].as_str()), (200, Some("alice")));
    assert_eq!(me["totp_enabled"], false);
    assert_eq!(list_tokens(&app, &alice).await.len(), 1);
    app.login("alice", PASSWORD).await;

    // An administrator's token is no administrator.
    let (admin_token, _) = create_token(&app, &admin, "admin", &ALL_SCOPES, None).await;
    let (status, me) = me_with(&app, &admin_token).await;
    assert_eq!((status, me["role"].as_str()), (200, Some("admin")));
    for (method, path, body) in [
        (Method::GET, "/api/admin/users".to_owned(), None),
        (Method::GET, "/api/admin/stats".to_owned(), None),
        (Method::GET, "/api/admin/topics".to_owned(), None),
        (
            Method::PATCH,
            format!("/api/admin/users/{}", alice.user_id),
            Some(json!({"is_active": false})),
        ),
        (
            Method::DELETE,
            format!("/api/admin/users/{}", alice.user_id),
            None,
        ),
    ] {
        let got = call(&app, method.clone(), &path, &admin_token, body).await;
        assert_error(
            &got,
            403,
            "token_not_allowed",
            &format!("admin token: {method} {path}"),
        );
    }
    assert_eq!(me_with(&app, &token).await.0, 200, "alice still active");
    // On the document routes it is still an administrator's (who has no documents).
    let got = call(&app, Method::GET, "/api/documents", &admin_token, None).await;
    assert_error(&got, 403, "admin_not_allowed", "admin token on documents");

    // An invalid token is 401 even on a closed route.
    let got = call(
        &app,
        Method::GET,
        "/api/admin/users",
        &format!("dvpat_{}", "B".repeat(43)),
        None,
    )
    .await;
    assert_error(
        &got,
        401,
        "invalid_api_token",
        "unknown token on admin route",
    );
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let (token, info) = create_token(&app, &alice, "short", &["documents:read"], Some(1)).await;
    assert_eq!(
        call(&app, Method::GET, "/api/documents", &token, None)
            .await
            .0,
        200
    );
    // A day later, in the database's eyes.
    let id = Uuid::parse_str(info["id"].as_str().unwrap()).unwrap();
    let row = api_tokens::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let mut row = row.into_active_model();
    row.expires_at = Set(Some(docuvault::time::now() - Duration::seconds(1)));
    row.update(&app.state.db).await.unwrap();

    for path in ["/api/documents", "/api/auth/me"] {
        let got = call(&app, Method::GET, path, &token, None).await;
        assert_error(&got, 401, "invalid_api_token", path);
        assert!(
            got.1["message"].as_str().unwrap().contains("expired"),
            "{}",
            got.1
        );
    }
    // Still listed, with its expiry, for its owner to see and revoke.
    let listed = list_tokens(&app, &alice).await;
    assert_eq!(listed.len(), 1);
    let expires: DateTime<Utc> = listed[0]["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(expires < Utc::now());
}

#[tokio::test]
async fn disabling_signing_out_everywhere_and_changing_the_password_end_tokens() {
    const NEW_PASSWORD: &str = "a completely different passphrase";
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let admin = app.admin("root").await;
    let (bobs, _) = create_token(&app, &bob, "bob", &["documents:read"], None).await;

    // Sign out everywhere.
    let (t1, _) = create_token(&app, &alice, "one", &["documents:read"], None).await;
    assert_eq!(me_with(&app, &t1).await.0, 200);
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/auth/logout-all",
        &alice.access,
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 204);
    assert_error(
        &me_with(&app, &t1).await,
        401,
        "invalid_api_token",
        "after logout-all",
    );

    // Password change.
    let s = app.login("alice", PASSWORD).await;
    assert!(
        list_tokens(&app, &s).await.is_empty(),
        "logout-all deleted it"
    );
    let (t2, _) = create_token(&app, &s, "two", &["documents:read"], None).await;
    assert_eq!(me_with(&app, &t2).await.0, 200);
    let (status, changed) = call(
        &app,
        Method::POST,
        "/api/auth/password",
        &s.access,
        Some(json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD})),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_error(
        &me_with(&app, &t2).await,
        401,
        "invalid_api_token",
        "after password change",
    );
    let s = app.login("alice", NEW_PASSWORD).await;
    assert!(
        list_tokens(&app, &s).await.is_empty(),
        "the change deleted it"
    );

    // Account disabled by an administrator, then enabled again: the token stays dead.
    let (t3, _) = create_token(&app, &s, "three", &["documents:read"], None).await;
    assert_eq!(me_with(&app, &t3).await.0, 200);
    let user_path = format!("/api/admin/users/{}", alice.user_id);
    for active in [false, true] {
        let (status, _) = call(
            &app,
            Method::PATCH,
            &user_path,
            &admin.access,
            Some(json!({"is_active": active})),
        )
        .await;
        assert_eq!(status, 200);
        assert_error(
            &me_with(&app, &t3).await,
            401,
            "invalid_api_token",
            &format!("after is_active = {active}"),
        );
    }
    let alice_id = Uuid::parse_str(&alice.user_id).unwrap();
    let left = api_tokens::Entity::find()
        .filter(api_tokens::Column::UserId.eq(alice_id))
        .all(&app.state.db)
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");

    // Bob's token never noticed.
    assert_eq!(me_with(&app, &bobs).await.0, 200);
}

#[tokio::test]
async fn use_is_recorded_and_each_new_ip_is_audited() {
    let app = TestApp::spawn_with(|env| {
        env.insert(
            "DOCUVAULT__AUTH__TRUSTED_PROXIES".into(),
            "127.0.0.1/32".into(),
        );
    })
    .await;
    let alice = app.register("alice").await;
    let (token, info) = create_token(&app, &alice, "script", &["documents:read"], None).await;
    let id = info["id"].as_str().unwrap();
    let events = || async { audits(&app, "api_token_used_new_ip", &alice.user_id).await };
    let listed = || async { list_tokens(&app, &alice).await[0].clone() };

    let first = "203.0.113.7";
    let (status, _) = call_from(
        &app,
        Method::GET,
        "/api/documents",
        &token,
        None,
        Some(first),
    )
    .await;
    assert_eq!(status, 200);
    let seen = listed().await;
    assert_eq!(seen["last_used_ip"], first);
    let used_at: DateTime<Utc> = seen["last_used_at"].as_str().unwrap().parse().unwrap();
    assert!(used_at > Utc::now() - Duration::minutes(1));
    let logged = events().await;
    assert_eq!(logged.len(), 1, "first use: a new IP");
    assert_eq!(logged[0].resource_id.as_deref(), Some(id));
    assert_eq!(logged[0].ip_address.as_deref(), Some(first));

    // Again from there: no new event, and the time is not rewritten within the minute.
    let (status, _) = call_from(&app, Method::GET, "/api/auth/me", &token, None, Some(first)).await;
    assert_eq!(status, 200);
    assert_eq!(events().await.len(), 1);
    assert_eq!(listed().await["last_used_at"], seen["last_used_at"]);

    // A request the token may not make is no use of it.
    let second = "198.51.100.9";
    let got = call_from(
        &app,
        Method::GET,
        "/api/auth/tokens",
        &token,
        None,
        Some(second),
    )
    .await;
    assert_error(
        &got,
        403,
        "token_not_allowed",
        "listing tokens with a token",
    );
    assert_eq!(listed().await["last_used_ip"], first);

    // From another IP: recorded at once, audited with the one before.
    let (status, _) = call_from(
        &app,
        Method::GET,
        "/api/documents",
        &token,
        None,
        Some(second),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(listed().await["last_used_ip"], second);
    let logged = events().await;
    assert_eq!(logged.len(), 2);
    assert_eq!(logged[1].ip_address.as_deref(), Some(second));
    assert_eq!(
        logged[1].metadata.as_ref().unwrap()["previous_ip"].as_str(),
        Some(first)
    );
    // And back: the first IP is "new" again only relative to the last one.
    let (status, _) = call_from(
        &app,
        Method::GET,
        "/api/documents",
        &token,
        None,
        Some(first),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(events().await.len(), 3);
}
