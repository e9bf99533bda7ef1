//! The upload contract end to end (upload-url → PUT → confirm) on whichever storage
//! and database the run uses, with the PUT done by a plain HTTP client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Session, TestApp};
use serde_json::{Value, json};

async fn body(res: reqwest::Response) -> Value {
    res.json().await.unwrap()
}

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
        .delete(app.url(&format!("/api/documents/{id}")))
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
        json!({"used_bytes": 0, "limit_bytes": 100, "rejected_bytes": 101})
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
        json!({"used_bytes": 0, "limit_bytes": 10, "rejected_bytes": 50})
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_confirms_never_overcharge_the_quota() {
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
        // 16 uploads of 10 000 bytes into the 100 000 left: exactly 10 fit.
        let mut ids = Vec::new();
        for i in 0..16 {
            let ticket = app
                .upload_url(&s, &format!("r{round}-{i}.txt"), "text/plain", 10_000)
                .await;
            assert!(
                app.put_bytes(&ticket, vec![b'z'; 10_000])
                    .await
                    .status()
                    .is_success()
            );
            ids.push(ticket["document_id"].as_str().unwrap().to_owned());
        }
        let mut tasks = Vec::new();
        for id in &ids {
            let (client, url, token) = (
                app.client.clone(),
                app.url(&format!("/api/documents/{id}/confirm")),
                s.access.clone(),
            );
            tasks.push(tokio::spawn(async move {
                client
                    .post(url)
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                200 => ok += 1,
                413 => {}
                other => panic!("round {round}: unexpected {other}"),
            }
        }
        assert_eq!(ok, 10, "round {round}");
        assert_eq!(quota(&app, &s).await["used_bytes"], 100_000);
        // Free everything for the next round.
        let list = body(app.get_auth("/api/documents?per_page=100", &s.access).await).await;
        for d in list["items"].as_array().unwrap() {
            let res = app
                .client
                .delete(app.url(&format!("/api/documents/{}", d["id"].as_str().unwrap())))
                .bearer_auth(&s.access)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 204);
        }
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

/// The quota race at full size: 64 concurrent confirms of 10 MiB uploads into a
/// 100 MiB quota, 20 rounds, on whichever database the run uses. Storage is the local
/// directory with sparse staging files (the bytes do not matter, only the sizes
/// storage reports), so the test exercises the database, not the disk.
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
    })
    .await;
    let s = app.register("quinn").await;
    let local = app.state.local_store.clone().unwrap();
    for round in 0..20 {
        let mut ids = Vec::new();
        for i in 0..64 {
            let ticket = app
                .upload_url(
                    &s,
                    &format!("r{round}-{i}.pdf"),
                    "application/pdf",
                    (10 * MIB) as usize,
                )
                .await;
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
        let mut tasks = Vec::new();
        for id in &ids {
            let (client, url, token) = (
                app.client.clone(),
                app.url(&format!("/api/documents/{id}/confirm")),
                s.access.clone(),
            );
            tasks.push(tokio::spawn(async move {
                client
                    .post(url)
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                200 => ok += 1,
                413 => {}
                other => panic!("round {round}: status {other}"),
            }
        }
        assert_eq!(ok, 10, "round {round}");
        assert_eq!(
            quota(&app, &s).await["used_bytes"],
            104_857_600,
            "round {round}"
        );
        let list = body(app.get_auth("/api/documents?per_page=100", &s.access).await).await;
        assert_eq!(list["total"], 10);
        for d in list["items"].as_array().unwrap() {
            let res = app
                .client
                .delete(app.url(&format!("/api/documents/{}", d["id"].as_str().unwrap())))
                .bearer_auth(&s.access)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 204);
        }
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
        app.client
            .post(app.url(path))
            .bearer_auth(&admin.access)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
    };
    for path in [
        "/api/documents/upload-url",
        "/api/folders",
        "/api/documents/not-a-uuid/shares",
    ] {
        let res = bad(path).await.unwrap();
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
