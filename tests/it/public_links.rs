//! Public links (issue 16): the owner creates, lists and revokes links to a document;
//! anyone with a link's URL opens it without an account (metadata, password in a header
//! or body, Argon2-checked and rate-limited), downloads the current version byte for
//! byte and views it inline. Every unusable link (unknown, expired, exhausted, revoked,
//! document trashed) is the same 404; issued URLs stop with their link; `max_downloads`
//! holds under concurrent downloads; only the owner manages links; API token scopes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::common::samples::hello_pdf;
use crate::common::{Session, TestApp, body};

/// Spawns the app with cheap Argon2 parameters (link passwords are hashed), after
/// `customize`.
async fn spawn(customize: impl FnOnce(&mut std::collections::HashMap<String, String>)) -> TestApp {
    TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__AUTH__ARGON2_MEMORY_KIB".into(), "1024".into());
        env.insert("DOCUVAULT__AUTH__ARGON2_ITERATIONS".into(), "1".into());
        customize(env);
    })
    .await
}

/// Uploads a real PDF as `s`; returns its id and bytes.
async fn upload_pdf(app: &TestApp, s: &Session, name: &str) -> (String, Vec<u8>) {
    let bytes = hello_pdf();
    let id = app.upload(s, name, "application/pdf", bytes.clone()).await;
    (id, bytes)
}

/// `POST /api/documents/{doc}/links` as `s` with `payload`.
async fn create(app: &TestApp, s: &Session, doc: &str, payload: Value) -> reqwest::Response {
    app.post_json(
        &format!("/api/documents/{doc}/links"),
        Some(&s.access),
        &payload,
    )
    .await
}

/// Creates a link (asserted 201); returns the answer.
async fn created(app: &TestApp, s: &Session, doc: &str, payload: Value) -> Value {
    let res = create(app, s, doc, payload).await;
    assert_eq!(res.status(), 201, "create link");
    body(res).await
}

/// The token of a created link (the last segment of its URL).
fn token(link: &Value) -> String {
    let url = link["url"].as_str().unwrap();
    let token = url.rsplit('/').next().unwrap().to_owned();
    assert_eq!(link["token"], token.as_str());
    token
}

/// `GET /api/public/links/{token}` without any credentials, optionally with the password
/// header.
async fn open(app: &TestApp, token: &str, password: Option<&str>) -> reqwest::Response {
    let mut req = app
        .client
        .get(app.url(&format!("/api/public/links/{token}")));
    if let Some(p) = password {
        req = req.header("X-Link-Password", p);
    }
    req.send().await.unwrap()
}

/// Opens a link (asserted 200); returns the metadata.
async fn opened(app: &TestApp, token: &str, password: Option<&str>) -> Value {
    let res = open(app, token, password).await;
    assert_eq!(res.status(), 200, "open link");
    body(res).await
}

async fn fetch(app: &TestApp, url: &str) -> reqwest::Response {
    app.client.get(url).send().await.unwrap()
}

async fn list(app: &TestApp, s: &Session, doc: &str) -> Vec<Value> {
    let res = app
        .get_auth(&format!("/api/documents/{doc}/links"), &s.access)
        .await;
    assert_eq!(res.status(), 200);
    body(res).await["items"].as_array().unwrap().clone()
}

/// Status and body of a response.
async fn answer(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

#[tokio::test]
async fn owner_creates_lists_and_revokes_links_within_the_expiry_cap() {
    let app = spawn(|env| {
        env.insert("DOCUVAULT__LINKS__MAX_EXPIRY_HOURS".into(), "48".into());
    })
    .await;
    let alice = app.register("alice").await;
    let (doc, _) = upload_pdf(&app, &alice, "report.pdf").await;

    // Over the setting, zero, negative, missing expiry, bad limits: refused, nothing made.
    for payload in [
        json!({"expires_in_hours": 49}),
        json!({"expires_in_hours": 720}),
        json!({"expires_in_hours": 0}),
        json!({"expires_in_hours": -1}),
        json!({"expires_in_hours": 1, "max_downloads": 0}),
        json!({"expires_in_hours": 1, "password": ""}),
    ] {
        let res = create(&app, &alice, &doc, payload.clone()).await;
        assert_eq!(res.status(), 422, "{payload}");
        assert_eq!(body(res).await["code"], "validation_failed", "{payload}");
    }
    let res = create(&app, &alice, &doc, json!({})).await;
    assert!(
        [400, 422].contains(&res.status().as_u16()),
        "missing expiry: {}",
        res.status()
    );
    assert!(list(&app, &alice, &doc).await.is_empty());

    let before = chrono::Utc::now();
    let first = created(
        &app,
        &alice,
        &doc,
        json!({"expires_in_hours": 48, "password": "open sesame", "max_downloads": 3}),
    )
    .await;
    let url = first["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/l/", app.address)), "{url}");
    let t = token(&first);
    assert!(t.len() >= 22, "at least 128 bits: {t}");
    let expires: chrono::DateTime<chrono::Utc> =
        first["expires_at"].as_str().unwrap().parse().unwrap();
    let hours = (expires - before).num_minutes();
    assert!((47 * 60..=48 * 60).contains(&hours), "{hours} min");
    assert_eq!(first["has_password"], true);
    assert_eq!(first["max_downloads"], 3);
    assert_eq!(first["download_count"], 0);
    assert_eq!(first["access_count"], 0);
    assert_eq!(first["revoked"], false);
    assert_eq!(first["active"], true);
    let second = created(&app, &alice, &doc, json!({"expires_in_hours": 1})).await;
    assert_eq!(second["has_password"], false);
    assert_eq!(second["max_downloads"], Value::Null);
    assert_ne!(token(&second), t);

    // Only a keyed hash of the token is stored, never the token or the password.
    let rows = docuvault::entities::public_links::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert_ne!(row.token_hash, t);
        assert!(!row.token_hash.contains(&t));
    }
    let hashed = rows.iter().find(|r| r.password_hash.is_some()).unwrap();
    assert!(
        hashed
            .password_hash
            .as_deref()
            .unwrap()
            .starts_with("$argon2id$"),
        "{:?}",
        hashed.password_hash
    );

    // Newest first; the URL is not listed again.
    let items = list(&app, &alice, &doc).await;
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["id"], second["id"]);
    assert_eq!(items[1]["id"], first["id"]);
    assert!(
        items
            .iter()
            .all(|i| i.get("url").is_none() && i.get("token").is_none())
    );

    let path = format!("/api/links/{}", first["id"].as_str().unwrap());
    let res = app.delete_auth(&path, &alice.access).await;
    assert_eq!(res.status(), 204);
    // Revoking again is harmless.
    assert_eq!(app.delete_auth(&path, &alice.access).await.status(), 204);
    let items = list(&app, &alice, &doc).await;
    let revoked = items.iter().find(|i| i["id"] == first["id"]).unwrap();
    assert_eq!(revoked["revoked"], true);
    assert_eq!(revoked["active"], false);
    assert!(revoked["revoked_at"].is_string());
    assert_eq!(open(&app, &t, None).await.status(), 404);
    // An unknown link id.
    let res = app
        .delete_auth(
            &format!("/api/links/{}", uuid::Uuid::new_v4()),
            &alice.access,
        )
        .await;
    assert_eq!(res.status(), 404);

    // Audited: created twice, revoked once.
    let admin = app.admin("root").await;
    let events = |kind: &'static str| {
        let app = &app;
        let admin = &admin;
        async move {
            let res = app
                .get_auth(
                    &format!("/api/admin/audit-log?per_page=100&event_type={kind}"),
                    &admin.access,
                )
                .await;
            assert_eq!(res.status(), 200);
            body(res).await["items"].as_array().unwrap().clone()
        }
    };
    assert_eq!(events("public_link_created").await.len(), 2);
    let revocations = events("public_link_revoked").await;
    assert_eq!(revocations.len(), 1);
    assert_eq!(revocations[0]["resource_id"], first["id"]);
}

#[tokio::test]
async fn anyone_with_the_link_downloads_the_current_version_byte_for_byte() {
    let app = spawn(|_| {}).await;
    let alice = app.register("alice").await;
    let (doc, bytes) = upload_pdf(&app, &alice, "Invoice März.pdf").await;
    let link = created(&app, &alice, &doc, json!({"expires_in_hours": 24})).await;
    let t = token(&link);

    let info = opened(&app, &t, None).await;
    assert_eq!(info["needs_password"], false);
    assert_eq!(info["filename"], "Invoice März.pdf");
    assert_eq!(info["content_type"], "application/pdf");
    assert_eq!(info["size_bytes"], bytes.len() as u64);
    assert_eq!(info["expires_at"], link["expires_at"]);
    assert_eq!(info["downloads_left"], Value::Null);
    assert_eq!(info["view_kind"], "pdf");
    let download = info["download_url"].as_str().unwrap();
    let view = info["view_url"].as_str().unwrap();
    assert!(download.starts_with(&app.address), "{download}");
    assert!(download.contains(&format!("/api/public/links/{t}/download?access=")));

    // The download: the original bytes, as an attachment.
    let res = fetch(&app, download).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let disposition = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(disposition.starts_with("attachment"), "{disposition}");
    assert!(
        disposition.contains("filename*=UTF-8''Invoice%20M%C3%A4rz.pdf"),
        "{disposition}"
    );
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.bytes().await.unwrap().as_ref(), bytes.as_slice());

    // The view: inline, sandboxed, not counted as a download.
    let res = fetch(&app, view).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let disposition = res.headers()["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("inline"), "{disposition}");
    assert_eq!(res.headers()["content-security-policy"], "sandbox");
    assert_eq!(res.bytes().await.unwrap().as_ref(), bytes.as_slice());

    // A view URL does not download, nor the reverse.
    let swapped = view.replace("/view?", "/download?");
    assert_eq!(fetch(&app, &swapped).await.status(), 404);
    // A tampered signature is refused.
    let last = if download.ends_with('0') { "1" } else { "0" };
    let tampered = format!("{}{last}", &download[..download.len() - 1]);
    assert_eq!(fetch(&app, &tampered).await.status(), 404);

    // A new version: the same link serves it (its name, type and bytes).
    let v2 = b"The second version, now plain text.\n".to_vec();
    crate::versions::upload_version(&app, &alice, &doc, "notes.txt", &v2).await;
    let info = opened(&app, &t, None).await;
    assert_eq!(info["size_bytes"], v2.len() as u64);
    assert_eq!(info["view_kind"], "text");
    let res = fetch(&app, info["download_url"].as_str().unwrap()).await;
    assert_eq!(res.bytes().await.unwrap().as_ref(), v2.as_slice());
    let res = fetch(&app, info["view_url"].as_str().unwrap()).await;
    assert_eq!(res.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(res.bytes().await.unwrap().as_ref(), v2.as_slice());

    // The owner sees the opens and the downloads.
    let items = list(&app, &alice, &doc).await;
    assert!(items[0]["access_count"].as_i64().unwrap() >= 1);
    assert!(items[0]["download_count"].as_i64().unwrap() >= 1);
    let downloads = items[0]["download_count"].as_i64().unwrap();

    // Each download is audited, for the owner, with the anonymous client's IP.
    let admin = app.admin("root").await;
    let res = app
        .get_auth(
            "/api/admin/audit-log?per_page=100&event_type=public_link_used",
            &admin.access,
        )
        .await;
    let used = body(res).await["items"].as_array().unwrap().clone();
    assert_eq!(used.len() as i64, downloads);
    assert_eq!(used[0]["user_id"], alice.user_id.as_str());
    assert_eq!(used[0]["resource_id"], link["id"]);
    assert_eq!(used[0]["ip_address"], "127.0.0.1");
}

#[tokio::test]
async fn passwords_come_in_a_header_or_body_and_wrong_ones_are_limited() {
    let app = spawn(|env| {
        env.insert(
            "DOCUVAULT__RATE_LIMIT__LINK_PASSWORD_PER_LINK__LIMIT".into(),
            "3".into(),
        );
    })
    .await;
    let alice = app.register("alice").await;
    let (doc, bytes) = upload_pdf(&app, &alice, "secret.pdf").await;
    let link = created(
        &app,
        &alice,
        &doc,
        json!({"expires_in_hours": 2, "password": "Grüne Tür 7"}),
    )
    .await;
    let t = token(&link);

    // Without the password: only that one is needed, nothing about the document.
    let locked = opened(&app, &t, None).await;
    assert_eq!(locked["needs_password"], true);
    assert_eq!(locked["expires_at"], link["expires_at"]);
    for field in [
        "filename",
        "content_type",
        "size_bytes",
        "download_url",
        "view_url",
    ] {
        assert_eq!(locked[field], Value::Null, "{field}");
    }

    // In the body (any characters).
    let res = app
        .post_json(
            &format!("/api/public/links/{t}"),
            None,
            &json!({"password": "Grüne Tür 7"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let info = body(res).await;
    assert_eq!(info["filename"], "secret.pdf");
    let got = fetch(&app, info["download_url"].as_str().unwrap()).await;
    assert_eq!(got.bytes().await.unwrap().as_ref(), bytes.as_slice());

    // In the header (ASCII password on a second link).
    let ascii = created(
        &app,
        &alice,
        &doc,
        json!({"expires_in_hours": 2, "password": "hunter2-ok"}),
    )
    .await;
    let ta = token(&ascii);
    let info = opened(&app, &ta, Some("hunter2-ok")).await;
    assert_eq!(info["filename"], "secret.pdf");
    assert!(info["download_url"].is_string());

    // Wrong: 401 link_password_invalid, until the limit; then 429 even when right.
    for attempt in 0..3 {
        let res = open(&app, &t, Some("wrong")).await;
        assert_eq!(res.status(), 401, "attempt {attempt}");
        assert_eq!(body(res).await["code"], "link_password_invalid");
    }
    let res = app
        .post_json(
            &format!("/api/public/links/{t}"),
            None,
            &json!({"password": "Grüne Tür 7"}),
        )
        .await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(body(res).await["code"], "rate_limited");
    // Another link keeps its own budget.
    assert_eq!(open(&app, &ta, Some("hunter2-ok")).await.status(), 200);
    // A wrong password never reaches a link that cannot be used: 404 first.
    assert_eq!(open(&app, "no-such-token", Some("x")).await.status(), 404);
}

#[tokio::test]
async fn unusable_links_are_one_404_and_trash_suspends_them() {
    let app = spawn(|_| {}).await;
    let alice = app.register("alice").await;
    let (doc, bytes) = upload_pdf(&app, &alice, "a.pdf").await;

    let unknown = open(&app, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", None).await;
    let (status, reference) = answer(unknown).await;
    assert_eq!(status, 404);
    assert_eq!(
        serde_json::from_str::<Value>(&reference).unwrap()["code"],
        "not_found"
    );

    // Expired.
    let expired = created(&app, &alice, &doc, json!({"expires_in_hours": 1})).await;
    let id: uuid::Uuid = expired["id"].as_str().unwrap().parse().unwrap();
    docuvault::entities::public_links::Entity::update_many()
        .col_expr(
            docuvault::entities::public_links::Column::ExpiresAt,
            sea_orm::sea_query::Expr::value(chrono::Utc::now() - chrono::Duration::seconds(1)),
        )
        .filter(docuvault::entities::public_links::Column::Id.eq(id))
        .exec(&app.state.db)
        .await
        .unwrap();
    assert_eq!(
        answer(open(&app, &token(&expired), None).await).await,
        (404, reference.clone())
    );
    // Exhausted.
    let once = created(
        &app,
        &alice,
        &doc,
        json!({"expires_in_hours": 1, "max_downloads": 1}),
    )
    .await;
    let info = opened(&app, &token(&once), None).await;
    assert_eq!(info["downloads_left"], 1);
    // A limited link offers no view URL (every fetch of its file counts).
    assert_eq!(info["view_url"], Value::Null);
    let res = fetch(&app, info["download_url"].as_str().unwrap()).await;
    assert_eq!(res.bytes().await.unwrap().as_ref(), bytes.as_slice());
    assert_eq!(
        answer(open(&app, &token(&once), None).await).await,
        (404, reference.clone())
    );
    assert_eq!(
        answer(fetch(&app, info["download_url"].as_str().unwrap()).await).await,
        (404, reference.clone())
    );
    // Revoked.
    let revoked = created(&app, &alice, &doc, json!({"expires_in_hours": 1})).await;
    app.delete_auth(
        &format!("/api/links/{}", revoked["id"].as_str().unwrap()),
        &alice.access,
    )
    .await;
    assert_eq!(
        answer(open(&app, &token(&revoked), None).await).await,
        (404, reference.clone())
    );
    // A password does not change any of it.
    assert_eq!(
        answer(open(&app, &token(&revoked), Some("x")).await).await,
        (404, reference.clone())
    );

    // Trashed: suspended (the links stay listed), restored: back.
    let live = created(&app, &alice, &doc, json!({"expires_in_hours": 1})).await;
    let lt = token(&live);
    let info = opened(&app, &lt, None).await;
    crate::trash::trash(&app, &alice, &doc).await;
    assert_eq!(
        answer(open(&app, &lt, None).await).await,
        (404, reference.clone())
    );
    assert_eq!(
        answer(fetch(&app, info["download_url"].as_str().unwrap()).await).await,
        (404, reference.clone())
    );
    assert_eq!(list(&app, &alice, &doc).await.len(), 4);
    // No new links on a trashed document.
    let res = create(&app, &alice, &doc, json!({"expires_in_hours": 1})).await;
    assert_eq!(res.status(), 409);
    let res = app
        .post_json(
            &format!("/api/documents/{doc}/restore"),
            Some(&alice.access),
            &json!({}),
        )
        .await;
    assert!(res.status().is_success(), "restore {}", res.status());
    let info = opened(&app, &lt, None).await;
    let res = fetch(&app, info["download_url"].as_str().unwrap()).await;
    assert_eq!(res.status(), 200);
    // The expired one stays expired.
    assert_eq!(open(&app, &token(&expired), None).await.status(), 404);

    // Deleted for good: its links go with it.
    let res = app
        .delete_auth(
            &format!("/api/documents/{doc}?permanent=true"),
            &alice.access,
        )
        .await;
    assert_eq!(res.status(), 204);
    let left = docuvault::entities::public_links::Entity::find()
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(left, 0);
    assert_eq!(answer(open(&app, &lt, None).await).await, (404, reference));
}

#[tokio::test]
async fn issued_urls_stop_when_the_link_is_revoked() {
    let app = spawn(|_| {}).await;
    let alice = app.register("alice").await;
    let (doc, _) = upload_pdf(&app, &alice, "a.pdf").await;
    let link = created(&app, &alice, &doc, json!({"expires_in_hours": 1})).await;
    let info = opened(&app, &token(&link), None).await;
    let download = info["download_url"].as_str().unwrap();
    let view = info["view_url"].as_str().unwrap();
    assert_eq!(fetch(&app, download).await.status(), 200);
    assert_eq!(fetch(&app, view).await.status(), 200);

    let res = app
        .delete_auth(
            &format!("/api/links/{}", link["id"].as_str().unwrap()),
            &alice.access,
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(fetch(&app, download).await.status(), 404);
    assert_eq!(fetch(&app, view).await.status(), 404);
}

#[tokio::test]
async fn max_downloads_holds_under_concurrent_downloads() {
    let app = spawn(|_| {}).await;
    let alice = app.register("alice").await;
    let (doc, bytes) = upload_pdf(&app, &alice, "a.pdf").await;

    for (max, racers) in [(1_usize, 2_usize), (2, 6)] {
        let link = created(
            &app,
            &alice,
            &doc,
            json!({"expires_in_hours": 1, "max_downloads": max}),
        )
        .await;
        let info = opened(&app, &token(&link), None).await;
        let url = info["download_url"].as_str().unwrap().to_owned();
        let downloads = (0..racers).map(|_| {
            let client = app.client.clone();
            let url = url.clone();
            tokio::spawn(async move {
                let res = client.get(&url).send().await.unwrap();
                let status = res.status().as_u16();
                (status, res.bytes().await.unwrap().to_vec())
            })
        });
        let results: Vec<(u16, Vec<u8>)> = futures_util::future::join_all(downloads)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let served: Vec<_> = results.iter().filter(|(s, _)| *s == 200).collect();
        assert_eq!(
            served.len(),
            max,
            "{max} of {racers}: {:?}",
            results.iter().map(|r| r.0).collect::<Vec<_>>()
        );
        assert!(served.iter().all(|(_, b)| b == &bytes));
        assert!(results.iter().all(|(s, _)| [200, 404].contains(s)));
        let items = list(&app, &alice, &doc).await;
        let row = items.iter().find(|i| i["id"] == link["id"]).unwrap();
        assert_eq!(row["download_count"], max);
        assert_eq!(row["active"], false);
    }
}

/// `s` can neither create nor list links of `doc` (nor of an unknown document), nor
/// revoke the link at `revoke_path`: 404 each, as if they did not exist.
async fn cannot_manage(app: &TestApp, s: &Session, doc: &str, revoke_path: &str) {
    for d in [doc.to_owned(), uuid::Uuid::new_v4().to_string()] {
        let res = create(app, s, &d, json!({"expires_in_hours": 1})).await;
        assert_eq!(res.status(), 404);
        let res = app
            .get_auth(&format!("/api/documents/{d}/links"), &s.access)
            .await;
        assert_eq!(res.status(), 404);
    }
    assert_eq!(app.delete_auth(revoke_path, &s.access).await.status(), 404);
}

#[tokio::test]
async fn only_the_owner_manages_links() {
    let app = spawn(|_| {}).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let (doc, _) = upload_pdf(&app, &alice, "a.pdf").await;
    let link = created(&app, &alice, &doc, json!({"expires_in_hours": 1})).await;
    let revoke_path = format!("/api/links/{}", link["id"].as_str().unwrap());

    // Another account: as if the document did not exist.
    cannot_manage(&app, &bob, &doc, &revoke_path).await;
    // A share recipient cannot publish what was shared with them either (404).
    let res = app
        .post_json(
            &format!("/api/documents/{doc}/shares"),
            Some(&alice.access),
            &json!({"recipient": "bob"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    cannot_manage(&app, &bob, &doc, &revoke_path).await;
    // The link was not touched.
    assert_eq!(open(&app, &token(&link), None).await.status(), 200);

    // Administrators have no documents.
    let admin = app.admin("root").await;
    let res = create(&app, &admin, &doc, json!({"expires_in_hours": 1})).await;
    assert_eq!(res.status(), 403);
    // Anonymous callers cannot manage links.
    let res = app
        .post_json(
            &format!("/api/documents/{doc}/links"),
            None,
            &json!({"expires_in_hours": 1}),
        )
        .await;
    assert_eq!(res.status(), 401);
    let res = app
        .client
        .delete(app.url(&revoke_path))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn api_tokens_need_the_documents_scopes() {
    let app = spawn(|_| {}).await;
    let alice = app.register("alice").await;
    let (doc, _) = upload_pdf(&app, &alice, "a.pdf").await;
    let token_with = |scopes: &'static [&'static str]| {
        let app = &app;
        let alice = alice.clone();
        async move {
            let res = app
                .post_json(
                    "/api/auth/tokens",
                    Some(&alice.access),
                    &json!({"name": scopes.join(","), "scopes": scopes}),
                )
                .await;
            assert_eq!(res.status(), 201);
            body(res).await["token"].as_str().unwrap().to_owned()
        }
    };
    let read = token_with(&["documents:read"]).await;
    let write = token_with(&["documents:write"]).await;
    let topics = token_with(&["topics:write"]).await;
    let links_path = format!("/api/documents/{doc}/links");
    let payload = json!({"expires_in_hours": 1});

    // Write creates and revokes; read lists only; another area's token nothing.
    let res = app
        .send(Method::POST, &links_path, &write, Some(&payload))
        .await;
    assert_eq!(res.status(), 201);
    let link = body(res).await;
    let res = app
        .send(Method::POST, &links_path, &read, Some(&payload))
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(body(res).await["code"], "insufficient_scope");
    let res = app
        .send(Method::POST, &links_path, &topics, Some(&payload))
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(app.get_auth(&links_path, &read).await.status(), 200);
    assert_eq!(app.get_auth(&links_path, &topics).await.status(), 403);
    let revoke = format!("/api/links/{}", link["id"].as_str().unwrap());
    let res = app.delete_auth(&revoke, &read).await;
    assert_eq!(res.status(), 403);
    assert_eq!(body(res).await["code"], "insufficient_scope");
    assert_eq!(open(&app, &token(&link), None).await.status(), 200);
    assert_eq!(app.delete_auth(&revoke, &write).await.status(), 204);
    assert_eq!(open(&app, &token(&link), None).await.status(), 404);
}
