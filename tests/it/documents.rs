//! The upload contract end to end (upload-url → PUT → confirm) on whichever storage
//! and database the run uses, with the PUT done by a plain HTTP client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::body;

use common::{Session, TestApp, Tmpfs};
use serde_json::{Value, json};

async fn quota(app: &TestApp, s: &Session) -> Value {
    body(app.get_auth("/api/auth/me/quota", &s.access).await).await
}

#[tokio::test]
async fn upload_confirm_list_download_delete() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bytes = b"%PDF-1.7\nhello vault\n".repeat(100);
    let ticket = app
        .upload_url(
            &alice,
            "../secret/Tax Return \"2025\".pdf",
            "application/pdf",
            bytes.len(),
        )
        .await;
    assert_eq!(ticket["method"], "PUT");
    let id = ticket["document_id"].as_str().unwrap().to_owned();

    // Pending: not listed, not downloadable, no quota charged.
    let pending = body(app.get_auth("/api/documents", &alice.access).await).await;
    assert_eq!(pending["total"], 0);
    assert_eq!(quota(&app, &alice).await["used_bytes"], 0);

    // Confirm before the bytes arrive: 422.
    let early = app.confirm(&alice, &id).await;
    assert_eq!(early.status(), 422);
    assert_eq!(body(early).await["code"], "upload_not_found");

    assert!(
        app.put_bytes(&ticket, bytes.clone())
            .await
            .status()
            .is_success()
    );
    let confirmed = app.confirm(&alice, &id).await;
    assert_eq!(confirmed.status(), 200);
    let confirmed = body(confirmed).await;
    assert_eq!(confirmed["size_bytes"], bytes.len());
    assert_eq!(confirmed["used_bytes"], bytes.len());
    assert_eq!(confirmed["status"], "queued");
    // Idempotent: same body, charged once.
    assert_eq!(body(app.confirm(&alice, &id).await).await, confirmed);
    assert_eq!(quota(&app, &alice).await["used_bytes"], bytes.len());

    // After confirm the upload URL can no longer change the stored bytes (the local
    // store refuses it; on S3 it lands on the staging key, which nothing reads).
    let late = app.put_bytes(&ticket, vec![b'x'; bytes.len()]).await;
    if app.state.local_store.is_some() {
        assert_eq!(late.status(), 409);
    }

    let doc = body(
        app.get_auth(&format!("/api/documents/{id}"), &alice.access)
            .await,
    )
    .await;
    assert_eq!(doc["filename"], "Tax Return \"2025\".pdf");
    assert_ne!(doc["status"], "pending");
    let list = body(app.get_auth("/api/documents", &alice.access).await).await;
    assert_eq!(list["total"], 1);

    let link = body(
        app.get_auth(&format!("/api/documents/{id}/download"), &alice.access)
            .await,
    )
    .await;
    let file = app
        .client
        .get(link["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), 200);
    let disposition = file.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(
        disposition.contains("filename*=UTF-8''Tax%20Return%20%222025%22.pdf"),
        "{disposition}"
    );
    assert_eq!(
        file.bytes().await.unwrap().to_vec(),
        bytes,
        "same bytes as uploaded"
    );

    let del = app
        .client
        .delete(app.url(&format!("/api/documents/{id}?permanent=true")))
        .bearer_auth(&alice.access)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 204);
    assert_eq!(quota(&app, &alice).await["used_bytes"], 0);
    assert_eq!(
        app.get_auth(&format!("/api/documents/{id}"), &alice.access)
            .await
            .status(),
        404
    );
    let left = app
        .state
        .storage
        .list(&format!("{}/{id}/", alice.user_id))
        .await
        .unwrap();
    assert!(left.is_empty(), "objects left after delete: {left:?}");
}

#[tokio::test]
async fn upload_url_validation() {
    let app = TestApp::spawn_with(|env| {
        env.insert(
            "DOCUVAULT__STORAGE__MAX_OBJECT_BYTES".into(),
            "1000000".into(),
        );
        env.insert(
            "DOCUVAULT__DOCUMENTS__MAX_PENDING_PER_USER".into(),
            "3".into(),
        );
    })
    .await;
    let s = app.register("bob").await;
    let post = |payload: Value| {
        let app = &app;
        let token = s.access.clone();
        async move {
            app.post_json("/api/documents/upload-url", Some(&token), &payload)
                .await
        }
    };
    let res = post(
        json!({"filename": "a.exe", "content_type": "application/x-msdownload", "size_bytes": 10}),
    )
    .await;
    assert_eq!(res.status(), 415);
    let res = post(
        json!({"filename": "big.pdf", "content_type": "application/pdf", "size_bytes": 1_000_001}),
    )
    .await;
    assert_eq!(res.status(), 413);
    let res =
        post(json!({"filename": "../..", "content_type": "application/pdf", "size_bytes": 1}))
            .await;
    assert_eq!(res.status(), 422);
    let res =
        post(json!({"filename": "x.pdf", "content_type": "application/pdf", "size_bytes": -1}))
            .await;
    assert_eq!(res.status(), 422);
    let res = post(json!({"filename": "x.pdf", "content_type": "application/pdf", "size_bytes": 1, "folder_id": uuid::Uuid::new_v4()})).await;
    assert_eq!(res.status(), 404);

    // Over the remaining quota: 413 with the numbers.
    let admin = app.admin("root").await;
    let res = app
        .client
        .patch(app.url(&format!("/api/admin/users/{}", s.user_id)))
        .bearer_auth(&admin.access)
        .json(&json!({"quota_limit_bytes": 100}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res =
        post(json!({"filename": "x.pdf", "content_type": "application/pdf", "size_bytes": 101}))
            .await;
    assert_eq!(res.status(), 413);
    assert_eq!(
        body(res).await["detail"],
        json!({"used_bytes": 0, "reserved_bytes": 0, "limit_bytes": 100, "rejected_bytes": 101})
    );

    for _ in 0..3 {
        let res = post(json!({"filename": "x.txt", "content_type": "text/plain; charset=utf-8", "size_bytes": 5})).await;
        assert_eq!(res.status(), 200);
    }
    let res =
        post(json!({"filename": "x.txt", "content_type": "text/plain", "size_bytes": 5})).await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn confirm_rejects_wrong_sizes_and_over_quota_uploads_and_cleans_up() {
    let app = TestApp::spawn().await;
    let s = app.register("carl").await;
    // Declared 10, the signed PUT cannot store anything else: the store refuses it.
    let ticket = app.upload_url(&s, "a.txt", "text/plain", 10).await;
    let res = app.put_bytes(&ticket, b"12345".to_vec()).await;
    assert!(res.status().is_client_error());

    // Over quota at confirm time (quota lowered after upload-url): 413, row and object gone.
    let admin = app.admin("root").await;
    let ticket = app.upload_url(&s, "b.txt", "text/plain", 50).await;
    assert!(
        app.put_bytes(&ticket, vec![b'b'; 50])
            .await
            .status()
            .is_success()
    );
    app.client
        .patch(app.url(&format!("/api/admin/users/{}", s.user_id)))
        .bearer_auth(&admin.access)
        .json(&json!({"quota_limit_bytes": 10}))
        .send()
        .await
        .unwrap();
    let id = ticket["document_id"].as_str().unwrap();
    let res = app.confirm(&s, id).await;
    assert_eq!(res.status(), 413);
    assert_eq!(
        body(res).await["detail"],
        json!({"used_bytes": 0, "reserved_bytes": 10, "limit_bytes": 10, "rejected_bytes": 50})
    );
    assert_eq!(
        app.confirm(&s, id).await.status(),
        404,
        "the pending row was removed"
    );
    let left = app
        .state
        .storage
        .list(&format!("{}/{id}/", s.user_id))
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(quota(&app, &s).await["used_bytes"], 0);
    // The refused confirm released its 50 bytes; the first upload (never completed)
    // still holds its 10 until it expires or is deleted.
    assert_eq!(quota(&app, &s).await["reserved_bytes"], 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_confirms_of_one_upload_charge_once() {
    let app = TestApp::spawn().await;
    let s = app.register("dora").await;
    let ticket = app.upload_url(&s, "a.txt", "text/plain", 1000).await;
    assert!(
        app.put_bytes(&ticket, vec![b'a'; 1000])
            .await
            .status()
            .is_success()
    );
    let id = ticket["document_id"].as_str().unwrap().to_owned();
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (client, url, token) = (
            app.client.clone(),
            app.url(&format!("/api/documents/{id}/confirm")),
            s.access.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let res = client
                .post(url)
                .bearer_auth(token)
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }));
    }
    let mut bodies = Vec::new();
    for t in tasks {
        let (status, b) = t.await.unwrap();
        assert_eq!(status, 200, "{b}");
        bodies.push(b);
    }
    assert!(bodies.iter().all(|b| *b == bodies[0]), "{bodies:?}");
    assert_eq!(quota(&app, &s).await["used_bytes"], 1000);
}

/// `n` concurrent `upload-url` requests of `size` bytes: the tickets granted, and the
/// 413 bodies of the refused ones (any other status fails the test).
async fn race_upload_urls(
    app: &TestApp,
    s: &Session,
    n: usize,
    size: u64,
    prefix: &str,
) -> (Vec<Value>, Vec<Value>) {
    let mut tasks = Vec::new();
    for i in 0..n {
        let (client, url, token) = (
            app.client.clone(),
            app.url("/api/documents/upload-url"),
            s.access.clone(),
        );
        let name = format!("{prefix}-{i}.pdf");
        tasks.push(tokio::spawn(async move {
            let res = client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"filename": name, "content_type": "application/pdf", "size_bytes": size}))
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }));
    }
    let (mut granted, mut refused) = (Vec::new(), Vec::new());
    for t in tasks {
        match t.await.unwrap() {
            (200, b) => granted.push(b),
            (413, b) => refused.push(b),
            (other, b) => panic!("{prefix}: unexpected {other} {b}"),
        }
    }
    (granted, refused)
}

/// Confirms every id `times` times, all at once; every confirm must answer 200.
async fn confirm_all_concurrently(app: &TestApp, s: &Session, ids: &[String], times: usize) {
    let mut tasks = Vec::new();
    for id in ids.iter().cycle().take(ids.len() * times) {
        let (client, url, token) = (
            app.client.clone(),
            app.url(&format!("/api/documents/{id}/confirm")),
            s.access.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let res = client.post(url).bearer_auth(token).send().await.unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }));
    }
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, 200, "{body}");
    }
}

/// Deletes every listed document of `s` (204 each).
async fn delete_all(app: &TestApp, s: &Session) {
    let list = body(app.get_auth("/api/documents?per_page=100", &s.access).await).await;
    for d in list["items"].as_array().unwrap() {
        let res = app
            .client
            .delete(app.url(&format!(
                "/api/documents/{}?permanent=true",
                d["id"].as_str().unwrap()
            )))
            .bearer_auth(&s.access)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_upload_urls_and_confirms_never_overcharge_the_quota() {
    let app = TestApp::spawn_with(|env| {
        env.insert(
            "DOCUVAULT__DOCUMENTS__MAX_PENDING_PER_USER".into(),
            "1000".into(),
        );
    })
    .await;
    let s = app.register("eric").await;
    let admin = app.admin("root").await;
    app.client
        .patch(app.url(&format!("/api/admin/users/{}", s.user_id)))
        .bearer_auth(&admin.access)
        .json(&json!({"quota_limit_bytes": 100_000}))
        .send()
        .await
        .unwrap();
    for round in 0..3 {
        // 16 concurrent reservations of 10 000 bytes in the 100 000 left: exactly 10 fit.
        let (granted, refused) = race_upload_urls(&app, &s, 16, 10_000, &format!("r{round}")).await;
        assert_eq!(granted.len(), 10, "round {round}");
        for r in &refused {
            assert_eq!(r["code"], "quota_exceeded");
            assert_eq!(r["detail"]["rejected_bytes"], 10_000);
            assert_eq!(
                r["detail"]["used_bytes"].as_i64().unwrap()
                    + r["detail"]["reserved_bytes"].as_i64().unwrap(),
                100_000,
                "refused only when the quota was taken: {r}"
            );
        }
        let q = quota(&app, &s).await;
        assert_eq!(
            (q["used_bytes"].as_i64(), q["reserved_bytes"].as_i64()),
            (Some(0), Some(100_000))
        );
        let mut ids = Vec::new();
        for ticket in &granted {
            assert!(
                app.put_bytes(ticket, vec![b'z'; 10_000])
                    .await
                    .status()
                    .is_success()
            );
            ids.push(ticket["document_id"].as_str().unwrap().to_owned());
        }
        // Each confirmed twice at once: charged exactly once each.
        confirm_all_concurrently(&app, &s, &ids, 2).await;
        let q = quota(&app, &s).await;
        assert_eq!(
            (q["used_bytes"].as_i64(), q["reserved_bytes"].as_i64()),
            (Some(100_000), Some(0)),
            "round {round}"
        );
        // Free everything for the next round.
        delete_all(&app, &s).await;
        assert_eq!(quota(&app, &s).await["used_bytes"], 0);
    }
}

#[tokio::test]
async fn other_users_documents_are_404_and_admins_get_403() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let mallory = app.register("mallory").await;
    let admin = app.admin("root").await;
    let id = app
        .upload(&alice, "a.txt", "text/plain", b"hello".to_vec())
        .await;
    let random = uuid::Uuid::new_v4().to_string();

    let routes: Vec<(reqwest::Method, String)> = vec![
        (reqwest::Method::GET, "/api/documents/{}".to_string()),
        (reqwest::Method::PATCH, "/api/documents/{}".to_string()),
        (reqwest::Method::DELETE, "/api/documents/{}".to_string()),
        (
            reqwest::Method::GET,
            "/api/documents/{}/download".to_string(),
        ),
        (
            reqwest::Method::POST,
            "/api/documents/{}/confirm".to_string(),
        ),
    ];
    for (method, template) in &routes {
        let send = |doc: &str, token: &str| {
            app.client
                .request(method.clone(), app.url(&template.replace("{}", doc)))
                .bearer_auth(token)
                .json(&json!({}))
                .send()
        };
        let theirs = send(&id, &mallory.access).await.unwrap();
        let missing = send(&random, &mallory.access).await.unwrap();
        assert_eq!(theirs.status(), 404, "{method} {template}");
        assert_eq!(missing.status(), 404);
        assert_eq!(
            theirs.bytes().await.unwrap(),
            missing.bytes().await.unwrap(),
            "{method} {template}"
        );
        let as_admin = send(&id, &admin.access).await.unwrap();
        assert_eq!(as_admin.status(), 403, "{method} {template}");
    }
    let res = app
        .post_json(
            "/api/documents/upload-url",
            Some(&admin.access),
            &json!({"filename": "a.txt", "content_type": "text/plain", "size_bytes": 1}),
        )
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        app.get_auth("/api/documents", &admin.access).await.status(),
        403
    );
    // Still there for its owner.
    assert_eq!(
        app.get_auth(&format!("/api/documents/{id}"), &alice.access)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn rename_move_and_opt_out() {
    let app = TestApp::spawn().await;
    let s = app.register("fay").await;
    let id = app
        .upload(&s, "a.md", "text/markdown", b"# hi".to_vec())
        .await;
    let res = app
        .client
        .patch(app.url(&format!("/api/documents/{id}")))
        .bearer_auth(&s.access)
        .json(&json!({"filename": "notes/b.md", "ai_opt_out": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let doc = body(res).await;
    assert_eq!(doc["filename"], "b.md");
    assert_eq!(doc["ai_opt_out"], true);
    let res = app
        .client
        .patch(app.url(&format!("/api/documents/{id}")))
        .bearer_auth(&s.access)
        .json(&json!({"folder_id": uuid::Uuid::new_v4()}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn deleting_an_account_removes_its_documents_and_objects() {
    let app = TestApp::spawn().await;
    let s = app.register("gus").await;
    let admin = app.admin("root").await;
    let id = app
        .upload(&s, "a.csv", "text/csv", b"a,b\n1,2\n".to_vec())
        .await;
    assert!(
        !app.state
            .storage
            .list(&format!("{}/", s.user_id))
            .await
            .unwrap()
            .is_empty()
    );
    let res = app
        .client
        .delete(app.url(&format!("/api/admin/users/{}", s.user_id)))
        .bearer_auth(&admin.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert!(
        app.state
            .storage
            .list(&format!("{}/", s.user_id))
            .await
            .unwrap()
            .is_empty()
    );
    use sea_orm::EntityTrait;
    let uuid: uuid::Uuid = id.parse().unwrap();
    assert!(
        docuvault::entities::documents::Entity::find_by_id(uuid)
            .one(&app.state.db)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn undeclared_methods_on_literal_routes_are_405() {
    let app = TestApp::spawn().await;
    let s = app.register("hal").await;
    for method in [
        reqwest::Method::GET,
        reqwest::Method::DELETE,
        reqwest::Method::PATCH,
    ] {
        let res = app
            .client
            .request(method.clone(), app.url("/api/documents/upload-url"))
            .bearer_auth(&s.access)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 405, "{method}");
        assert_eq!(res.headers()["allow"], "POST");
    }
}

/// The quota race at full size: 64 concurrent upload-urls of 10 MiB into a 100 MiB
/// quota reserve exactly ten, then 64 concurrent confirms of those ten charge exactly
/// ten, 20 rounds, on whichever database the run uses. Storage is the local directory
/// with sparse staging files (the bytes do not matter, only the sizes storage reports),
/// so the test exercises the database, not the disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_confirms_of_10_mib_into_100_mib_charge_exactly_ten_twenty_times() {
    use sea_orm::EntityTrait;
    const MIB: u64 = 1024 * 1024;
    let app = TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__STORAGE__BACKEND".into(), "local".into());
        env.insert(
            "DOCUVAULT__QUOTA__DEFAULT_LIMIT_BYTES".into(),
            (100 * MIB).to_string(),
        );
        env.insert(
            "DOCUVAULT__DOCUMENTS__MAX_PENDING_PER_USER".into(),
            "1000".into(),
        );
    })
    .await;
    let s = app.register("quinn").await;
    let local = app.state.local_store.clone().unwrap();
    for round in 0..20 {
        let (granted, refused) =
            race_upload_urls(&app, &s, 64, 10 * MIB, &format!("r{round}")).await;
        assert_eq!(granted.len(), 10, "round {round}");
        assert_eq!(refused.len(), 54, "round {round}");
        for r in &refused {
            assert_eq!(
                r["detail"]["reserved_bytes"].as_u64().unwrap()
                    + r["detail"]["used_bytes"].as_u64().unwrap(),
                100 * MIB,
                "round {round}: {r}"
            );
        }
        let mut ids = Vec::new();
        for ticket in &granted {
            let id: uuid::Uuid = ticket["document_id"].as_str().unwrap().parse().unwrap();
            let doc = docuvault::entities::documents::Entity::find_by_id(id)
                .one(&app.state.db)
                .await
                .unwrap()
                .unwrap();
            let key = docuvault::domain::ObjectKey::parse(&doc.object_key).unwrap();
            let staging = docuvault::documents::service::staging_key(&key).unwrap();
            let path = local.path(&staging);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::File::create(&path)
                .unwrap()
                .set_len(10 * MIB)
                .unwrap();
            ids.push(id.to_string());
        }
        // 64 confirms of the ten at once (some of each several times).
        let mut tasks = Vec::new();
        for id in ids.iter().cycle().take(64) {
            let (client, url, token) = (
                app.client.clone(),
                app.url(&format!("/api/documents/{id}/confirm")),
                s.access.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let res = client.post(url).bearer_auth(token).send().await.unwrap();
                (res.status().as_u16(), res.text().await.unwrap())
            }));
        }
        for t in tasks {
            let (status, text) = t.await.unwrap();
            assert_eq!(status, 200, "round {round}: {text}");
        }
        let q = quota(&app, &s).await;
        assert_eq!(q["used_bytes"], 104_857_600, "round {round}");
        assert_eq!(q["reserved_bytes"], 0, "round {round}");
        let list = body(app.get_auth("/api/documents?per_page=100", &s.access).await).await;
        assert_eq!(list["total"], 10);
        delete_all(&app, &s).await;
        assert_eq!(quota(&app, &s).await["used_bytes"], 0);
    }
}

#[tokio::test]
async fn hostile_filenames_get_safe_content_disposition_headers() {
    let app = TestApp::spawn().await;
    let s = app.register("rita").await;
    let long = "文".repeat(300);
    let names = [
        "quote\"d\".txt",
        "line\r\nX-Injected: yes.txt",
        "../../etc/passwd.txt",
        "evil\u{202E}txt.exe",
        long.as_str(),
        "semi;colon, comma = eq.txt",
        "back\\slash.txt",
    ];
    for name in names {
        let id = app.upload(&s, name, "text/plain", b"x".to_vec()).await;
        let doc = body(
            app.get_auth(&format!("/api/documents/{id}"), &s.access)
                .await,
        )
        .await;
        let stored = doc["filename"].as_str().unwrap();
        assert!(
            !stored.contains(['\r', '\n', '/', '\\', '\u{202E}']),
            "{stored:?}"
        );
        assert!(stored.chars().count() <= 255);
        let link = body(
            app.get_auth(&format!("/api/documents/{id}/download"), &s.access)
                .await,
        )
        .await;
        let res = app
            .client
            .get(link["url"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{name:?}");
        assert!(res.headers().get("x-injected").is_none());
        let cd = res.headers()["content-disposition"].to_str().unwrap();
        assert!(cd.starts_with("attachment; filename=\""), "{cd}");
        let quoted = cd.split('"').nth(1).unwrap();
        assert!(quoted.is_ascii() && !quoted.contains(['\\', ';']), "{cd}");
        assert_eq!(cd.matches('"').count(), 2, "{cd}");
        assert!(cd.contains("filename*=UTF-8''"), "{cd}");
    }
}

#[tokio::test]
async fn admins_get_403_even_with_invalid_input() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let bad = |path: &'static str| {
        app.post_raw(path, Some(&admin.access), "application/json", "{not json")
    };
    for path in [
        "/api/documents/upload-url",
        "/api/folders",
        "/api/documents/not-a-uuid/shares",
    ] {
        let res = bad(path).await;
        assert_eq!(res.status(), 403, "{path}");
    }
    let res = app
        .get_auth("/api/shared-with-me?page=0", &admin.access)
        .await;
    assert_eq!(res.status(), 403);
    // Without a token it is 401 before anything else.
    let res = app
        .client
        .post(app.url("/api/documents/upload-url"))
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

/// Moves an upload's creation two hours back (past the pending lifetime).
async fn backdate(app: &TestApp, id: &str) {
    use docuvault::entities::documents;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    documents::Entity::update_many()
        .col_expr(
            documents::Column::CreatedAt,
            Expr::value(docuvault::time::now() - chrono::Duration::hours(2)),
        )
        .filter(documents::Column::Id.eq(id.parse::<uuid::Uuid>().unwrap()))
        .exec(&app.state.db)
        .await
        .unwrap();
}

/// The red-team scenario: a 100 MiB-quota account could store 120 MiB with nothing
/// charged by never confirming. Now `upload-url` reserves the declared size, and every
/// way an unconfirmed upload ends gives the reservation back.
#[tokio::test]
async fn unconfirmed_uploads_reserve_their_size_against_the_quota() {
    const MIB: i64 = 1024 * 1024;
    let app = TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__CLEANUP__ENABLED".into(), "false".into());
        env.insert(
            "DOCUVAULT__DOCUMENTS__MAX_PENDING_PER_USER".into(),
            "100".into(),
        );
    })
    .await;
    let s = app.register("mallory").await;
    let req = |size: i64| {
        let app = &app;
        let token = s.access.clone();
        async move {
            app.post_json(
                "/api/documents/upload-url",
                Some(&token),
                &json!({"filename": "big.pdf", "content_type": "application/pdf", "size_bytes": size}),
            )
            .await
        }
    };
    // Twelve 10 MiB uploads, none confirmed: only ten fit in 100 MiB.
    let mut tickets = Vec::new();
    for i in 0..12 {
        let res = req(10 * MIB).await;
        if i < 10 {
            assert_eq!(res.status(), 200, "upload {i}");
            tickets.push(body(res).await);
        } else {
            assert_eq!(res.status(), 413, "upload {i}");
            let b = body(res).await;
            assert_eq!(b["code"], "quota_exceeded");
            assert_eq!(
                b["detail"],
                json!({"used_bytes": 0, "reserved_bytes": 100 * MIB, "limit_bytes": 100 * MIB, "rejected_bytes": 10 * MIB})
            );
            assert!(b["message"].as_str().unwrap().contains("reserved"), "{b}");
        }
    }
    assert_eq!(
        quota(&app, &s).await,
        json!({"used_bytes": 0, "reserved_bytes": 100 * MIB, "limit_bytes": 100 * MIB})
    );
    let id = |t: &Value| t["document_id"].as_str().unwrap().to_owned();

    // Deleting a pending upload releases its reservation.
    let res = app
        .client
        .delete(app.url(&format!("/api/documents/{}", id(&tickets[0]))))
        .bearer_auth(&s.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(quota(&app, &s).await["reserved_bytes"], 90 * MIB);

    // Expiry (the cleanup job) releases it.
    backdate(&app, &id(&tickets[1])).await;
    let report = docuvault::jobs::cleanup::run_cleanup(&app.state)
        .await
        .unwrap();
    assert_eq!(report.stale_uploads_removed, 1);
    assert_eq!(quota(&app, &s).await["reserved_bytes"], 80 * MIB);

    // A failed confirm (stored size differs from the declared one) releases it.
    let key = {
        use sea_orm::EntityTrait;
        let doc = docuvault::entities::documents::Entity::find_by_id(
            id(&tickets[2]).parse::<uuid::Uuid>().unwrap(),
        )
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
        docuvault::domain::ObjectKey::parse(&doc.object_key).unwrap()
    };
    app.state
        .storage
        .put(
            &docuvault::documents::service::staging_key(&key).unwrap(),
            b"short".to_vec(),
            "application/pdf",
        )
        .await
        .unwrap();
    let res = app.confirm(&s, &id(&tickets[2])).await;
    assert_eq!(res.status(), 422);
    assert_eq!(body(res).await["code"], "size_mismatch");
    assert_eq!(quota(&app, &s).await["reserved_bytes"], 70 * MIB);

    // A confirm with no bytes yet keeps it (the client may still upload).
    assert_eq!(app.confirm(&s, &id(&tickets[3])).await.status(), 422);
    assert_eq!(quota(&app, &s).await["reserved_bytes"], 70 * MIB);

    // Confirm turns the reservation into the charge of the stored size.
    let small = app.upload_url(&s, "small.txt", "text/plain", 1000).await;
    assert_eq!(quota(&app, &s).await["reserved_bytes"], 70 * MIB + 1000);
    assert!(
        app.put_bytes(&small, vec![b's'; 1000])
            .await
            .status()
            .is_success()
    );
    let res = app.confirm(&s, &id(&small)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["used_bytes"], 1000);
    let q = quota(&app, &s).await;
    assert_eq!(
        (q["used_bytes"].as_i64(), q["reserved_bytes"].as_i64()),
        (Some(1000), Some(70 * MIB))
    );
    // used + reserved + size <= limit, to the byte.
    let left = 100 * MIB - 70 * MIB - 1000;
    assert_eq!(req(left + 1).await.status(), 413);
    assert_eq!(req(left).await.status(), 200);
    let fsck = docuvault::fsck::fsck(&app.state, false).await.unwrap();
    assert!(fsck.is_clean(), "{fsck}");
}

/// A confirm racing a delete of the same upload: the refund is decided by the delete
/// itself, so whichever wins, the quota matches the documents that remain.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn confirm_racing_delete_never_leaks_quota() {
    use futures_util::StreamExt;
    const RACES: usize = 200;
    let app = TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__CLEANUP__ENABLED".into(), "false".into());
        env.insert(
            "DOCUVAULT__DOCUMENTS__MAX_PENDING_PER_USER".into(),
            "1000".into(),
        );
    })
    .await;
    let s = app.register("rita").await;
    let tickets: Vec<(String, usize)> = futures_util::stream::iter(0..RACES)
        .map(|i| {
            let app = &app;
            let s = &s;
            async move {
                let size = 100 + i;
                let ticket = app
                    .upload_url(s, &format!("race-{i}.txt"), "text/plain", size)
                    .await;
                assert!(
                    app.put_bytes(&ticket, vec![b'r'; size])
                        .await
                        .status()
                        .is_success()
                );
                (ticket["document_id"].as_str().unwrap().to_owned(), size)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let mut tasks = Vec::new();
    for (i, (id, _)) in tickets.iter().enumerate() {
        let confirm = app
            .client
            .post(app.url(&format!("/api/documents/{id}/confirm")))
            .bearer_auth(&s.access)
            .send();
        let delete = app
            .client
            .delete(app.url(&format!("/api/documents/{id}?permanent=true")))
            .bearer_auth(&s.access)
            .send();
        tasks.push(tokio::spawn(async move {
            // Alternate which request leaves first.
            let (c, d) = if i % 2 == 0 {
                tokio::join!(confirm, delete)
            } else {
                let (d, c) = tokio::join!(delete, confirm);
                (c, d)
            };
            let (c, d) = (c.unwrap().status().as_u16(), d.unwrap().status().as_u16());
            assert!(c == 200 || c == 404, "confirm {c}");
            assert!(d == 204 || d == 404, "delete {d}");
            (c, d)
        }));
    }
    let mut confirmed_first = 0;
    for t in tasks {
        if t.await.unwrap().0 == 200 {
            confirmed_first += 1;
        }
    }
    eprintln!("{confirmed_first} of {RACES} confirms won their race");
    // Whatever remains (a delete answering 404 leaves its document) is charged, nothing
    // else, and nothing stays reserved.
    let list = body(app.get_auth("/api/documents?per_page=100", &s.access).await).await;
    let remaining: i64 = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["size_bytes"].as_i64().unwrap())
        .sum();
    let q = quota(&app, &s).await;
    assert_eq!(q["used_bytes"].as_i64(), Some(remaining), "{q}");
    assert_eq!(q["reserved_bytes"], 0, "{q}");
    let fsck = docuvault::fsck::fsck(&app.state, false).await.unwrap();
    assert!(fsck.quota_mismatches.is_empty(), "{fsck}");
    assert!(fsck.document_problems.is_empty(), "{fsck}");
}

/// An app on the local store with `env` on top.
async fn local_app(extra: &[(&str, &str)]) -> TestApp {
    let extra: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    TestApp::spawn_with(move |env| {
        env.insert("DOCUVAULT__STORAGE__BACKEND".into(), "local".into());
        env.insert("DOCUVAULT__CLEANUP__ENABLED".into(), "false".into());
        env.extend(extra);
    })
    .await
}

/// Starts a `PUT` to a ticket's URL by hand: headers declaring `declared` bytes, then
/// `sent` bytes of body; the connection stays open.
async fn start_put(ticket: &Value, declared: u64, sent: &[u8]) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let url = reqwest::Url::parse(ticket["upload_url"].as_str().unwrap()).unwrap();
    let addr = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    let mut target = url.path().to_owned();
    if let Some(q) = url.query() {
        target = format!("{target}?{q}");
    }
    let mut head =
        format!("PUT {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {declared}\r\n");
    for (k, v) in ticket["headers"].as_object().unwrap() {
        head.push_str(&format!("{k}: {}\r\n", v.as_str().unwrap()));
    }
    head.push_str("\r\n");
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(sent).await.unwrap();
    stream
}

/// The status code of the response arriving on `reader` within `deadline`.
async fn response_status(
    reader: &mut (impl tokio::io::AsyncRead + Unpin),
    deadline: std::time::Duration,
) -> u16 {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let read = async {
        let mut buf = [0u8; 1024];
        while !got.windows(2).any(|w| w == b"\r\n") {
            let n = reader.read(&mut buf).await.unwrap();
            assert!(n > 0, "connection closed without a response");
            got.extend_from_slice(&buf[..n]);
        }
    };
    tokio::time::timeout(deadline, read)
        .await
        .expect("no response in time");
    let line = String::from_utf8_lossy(&got).into_owned();
    line.split(' ').nth(1).unwrap().parse().unwrap()
}

/// Sizes of the in-flight upload files in the local store's `.tmp`.
fn upload_temp_files(app: &TestApp) -> Vec<std::fs::Metadata> {
    let dir = app.state.local_store.as_ref().unwrap().tmp_dir();
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("upload-"))
        .filter_map(|e| e.metadata().ok())
        .collect()
}

/// Waits (up to 5 s) until no partial upload is left in the local store's temp directory.
async fn partial_uploads_removed(app: &TestApp) {
    common::poll_until(
        std::time::Duration::from_secs(5),
        "the partial upload to be removed",
        || async { upload_temp_files(app).is_empty().then_some(()) },
    )
    .await;
}

/// A PUT that declared 50 MB and sent one byte occupies one byte (no preallocation),
/// and is cut off with 408 once idle for `storage.upload_idle_timeout_secs`, leaving
/// nothing behind.
#[tokio::test]
async fn a_stalled_put_occupies_only_what_it_sent_and_is_cut_off_when_idle() {
    use std::os::unix::fs::MetadataExt;
    let app = local_app(&[
        ("DOCUVAULT__STORAGE__UPLOAD_IDLE_TIMEOUT_SECS", "2"),
        ("DOCUVAULT__STORAGE__UPLOAD_MIN_BYTES_PER_SEC", "0"),
    ])
    .await;
    let s = app.register("sloth").await;
    let ticket = app
        .upload_url(&s, "big.pdf", "application/pdf", 50_000_000)
        .await;
    let started = std::time::Instant::now();
    let mut stream = start_put(&ticket, 50_000_000, b"%").await;
    let file = common::poll_until(
        std::time::Duration::from_secs(10),
        "the byte sent to reach the disk",
        || async {
            let files = upload_temp_files(&app);
            assert!(files.len() <= 1);
            for f in &files {
                assert!(f.len() <= 1, "{} bytes on disk for 1 received", f.len());
            }
            files.into_iter().find(|f| f.len() == 1)
        },
    )
    .await;
    assert!(
        file.blocks() * 512 <= 64 * 1024,
        "{} bytes allocated for 1 received",
        file.blocks() * 512
    );
    let status = response_status(&mut stream, std::time::Duration::from_secs(20)).await;
    assert_eq!(status, 408);
    assert!(started.elapsed() >= std::time::Duration::from_secs(2));
    partial_uploads_removed(&app).await;
}

/// A PUT that keeps sending, but below `storage.upload_min_bytes_per_sec`, is cut off
/// after the grace period even though it is never idle.
#[tokio::test]
async fn a_put_trickling_below_the_minimum_rate_is_cut_off() {
    use tokio::io::AsyncWriteExt;
    let app = local_app(&[
        ("DOCUVAULT__STORAGE__UPLOAD_IDLE_TIMEOUT_SECS", "1"),
        ("DOCUVAULT__STORAGE__UPLOAD_MIN_BYTES_PER_SEC", "100000"),
    ])
    .await;
    let s = app.register("trickle").await;
    let ticket = app
        .upload_url(&s, "big.pdf", "application/pdf", 1_000_000)
        .await;
    let started = std::time::Instant::now();
    let stream = start_put(&ticket, 1_000_000, b"%").await;
    let (mut reader, mut writer) = stream.into_split();
    // One byte every 100 ms: never idle for a second, far below 100 000 B/s.
    let trickle = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(100));
        loop {
            tick.tick().await;
            if writer.write_all(b"x").await.is_err() {
                break;
            }
        }
    });
    let status = response_status(&mut reader, std::time::Duration::from_secs(20)).await;
    trickle.abort();
    assert_eq!(status, 408);
    let elapsed = started.elapsed();
    assert!(
        elapsed >= std::time::Duration::from_millis(900),
        "cut off after {elapsed:?}, before the grace period"
    );
    partial_uploads_removed(&app).await;
}

/// The declared bytes of the PUTs being received at once are bounded
/// (`storage.max_inflight_upload_bytes`): one more gets 503 with Retry-After, and
/// succeeds once the others are gone.
#[tokio::test]
async fn puts_beyond_the_server_wide_bound_get_503_with_retry_after() {
    let app = local_app(&[
        ("DOCUVAULT__STORAGE__MAX_OBJECT_BYTES", "1000000"),
        ("DOCUVAULT__STORAGE__MAX_INFLIGHT_UPLOAD_BYTES", "1500000"),
    ])
    .await;
    let local = app.state.local_store.clone().unwrap();
    let s = app.register("flood").await;
    let mut tickets = Vec::new();
    for i in 0..3 {
        tickets.push(
            app.upload_url(&s, &format!("f{i}.pdf"), "application/pdf", 600_000)
                .await,
        );
    }
    let first = start_put(&tickets[0], 600_000, b"%").await;
    common::poll_until(
        std::time::Duration::from_secs(10),
        "first PUT admitted",
        || async { (local.inflight_upload_bytes() == 600_000).then_some(()) },
    )
    .await;
    let second = start_put(&tickets[1], 600_000, b"%").await;
    common::poll_until(
        std::time::Duration::from_secs(10),
        "second PUT admitted",
        || async { (local.inflight_upload_bytes() == 1_200_000).then_some(()) },
    )
    .await;
    let refused = app.put_bytes(&tickets[2], vec![b'x'; 600_000]).await;
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(body(refused).await["code"], "service_unavailable");

    // The first client goes away: its share is given back and the third fits.
    drop(first);
    common::poll_until(
        std::time::Duration::from_secs(10),
        "first PUT released",
        || async { (local.inflight_upload_bytes() == 600_000).then_some(()) },
    )
    .await;
    let res = app.put_bytes(&tickets[2], vec![b'x'; 600_000]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.confirm(&s, tickets[2]["document_id"].as_str().unwrap())
            .await
            .status(),
        200
    );
    drop(second);
    common::poll_until(
        std::time::Duration::from_secs(10),
        "all released",
        || async { (local.inflight_upload_bytes() == 0).then_some(()) },
    )
    .await;
}

/// With the objects directory's disk full, a PUT fails with a clear 507
/// `insufficient_storage` and leaves no partial file; downloads keep working, and
/// uploads that fit work again.
#[tokio::test]
async fn a_put_to_a_full_disk_gets_507_and_leaves_nothing_while_reads_keep_working() {
    let disk = Tmpfs::mount("512k");
    let objects = disk.path().join("objects");
    let app = local_app(&[("DOCUVAULT__STORAGE__LOCAL_DIR", objects.to_str().unwrap())]).await;
    let s = app.register("fuller").await;
    let kept = app
        .upload(&s, "kept.txt", "text/plain", b"still readable".to_vec())
        .await;

    let ticket = app
        .upload_url(&s, "huge.pdf", "application/pdf", 1_000_000)
        .await;
    let res = app.put_bytes(&ticket, vec![b'x'; 1_000_000]).await;
    assert_eq!(res.status(), 507);
    let b = body(res).await;
    assert_eq!(b["code"], "insufficient_storage", "{b}");
    assert!(
        upload_temp_files(&app).is_empty(),
        "a partial file was left"
    );
    let listed = app.state.storage.list("").await.unwrap();
    assert!(
        listed.iter().all(|o| !o.key.ends_with(".upload")),
        "{listed:?}"
    );

    // Reads keep working.
    let link = body(
        app.get_auth(&format!("/api/documents/{kept}/download"), &s.access)
            .await,
    )
    .await;
    let got = app
        .client
        .get(link["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.unwrap().as_ref(), b"still readable");
    // Nothing leaked: an upload that fits still works.
    app.upload(&s, "small.txt", "text/plain", b"fits".to_vec())
        .await;
    app.stop().await;
}

/// `GET /api/auth/config` lists exactly the document types upload-url accepts: every
/// listed type (under each of its extensions) gets an upload ticket, and types that are
/// not listed — including the extraction-only aliases — are refused with `415`, naming
/// every listed type.
#[tokio::test]
async fn config_lists_exactly_the_accepted_document_types() {
    let app = TestApp::spawn_with(|env| {
        env.insert(
            "DOCUVAULT__DOCUMENTS__MAX_PENDING_PER_USER".into(),
            "100".into(),
        );
    })
    .await;
    let config = body(app.get("/api/auth/config").await).await;
    let types = config["document_types"].as_array().unwrap();
    let listed: Vec<&str> = types
        .iter()
        .map(|t| t["content_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        [
            "application/pdf",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.oasis.opendocument.text",
            "text/plain",
            "text/markdown",
            "text/csv",
            "text/html",
            "image/jpeg",
            "image/png",
            "image/tiff",
            "image/webp",
        ],
        "the accepted types: documents, then scans and photos (OCR)"
    );

    let s = app.register("typer").await;
    for t in types {
        let content_type = t["content_type"].as_str().unwrap();
        assert!(!t["label"].as_str().unwrap().is_empty());
        let extensions = t["extensions"].as_array().unwrap();
        assert!(!extensions.is_empty(), "{content_type} has no extension");
        for ext in extensions {
            let name = format!("file.{}", ext.as_str().unwrap());
            app.upload_url(&s, &name, content_type, 10).await;
        }
        // Parameters and case do not matter.
        let upper = format!("{}; charset=utf-8", content_type.to_uppercase());
        app.upload_url(&s, "file.bin", &upper, 10).await;
    }

    for unlisted in [
        "application/x-msdownload",
        "application/octet-stream",
        "image/svg+xml",
        "text/x-markdown",
        "application/xhtml+xml",
        "image/pjpeg",
        "image/gif",
        "application/json",
    ] {
        let res = app
            .post_json(
                "/api/documents/upload-url",
                Some(&s.access),
                &json!({"filename": "x.bin", "content_type": unlisted, "size_bytes": 10}),
            )
            .await;
        assert_eq!(res.status(), 415, "{unlisted}");
        let err = body(res).await;
        assert_eq!(err["code"], "unsupported_media_type");
        let message = err["message"].as_str().unwrap();
        for t in types {
            let label = t["label"].as_str().unwrap();
            assert!(message.contains(label), "{message} lacks {label}");
        }
    }
}
