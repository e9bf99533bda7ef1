//! Sharing a document read-only with another account: sharing by handle or e-mail,
//! what the recipient can (metadata, download) and cannot do, revoking, refusals,
//! admins kept out, and shares disappearing with their document or accounts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::body;

use common::{Session, TestApp, wait_processed};
use reqwest::Method;
use serde_json::{Value, json};

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

/// `POST /api/documents/{doc}/shares {recipient}`.
async fn share(app: &TestApp, owner: &Session, doc: &str, recipient: &str) -> reqwest::Response {
    app.post_json(
        &format!("/api/documents/{doc}/shares"),
        Some(&owner.access),
        &json!({ "recipient": recipient }),
    )
    .await
}

/// Shares and returns the share id (status asserted 201).
async fn share_ok(app: &TestApp, owner: &Session, doc: &str, recipient: &str) -> String {
    let res = share(app, owner, doc, recipient).await;
    assert_eq!(res.status(), 201, "share {doc} with {recipient}");
    body(res).await["id"].as_str().unwrap().to_owned()
}

async fn shared_with_me(app: &TestApp, s: &Session, query: &str) -> Value {
    let res = app
        .get_auth(&format!("/api/shared-with-me{query}"), &s.access)
        .await;
    assert_eq!(res.status(), 200);
    body(res).await
}

async fn share_count(app: &TestApp) -> u64 {
    use sea_orm::{EntityTrait, PaginatorTrait};
    docuvault::entities::shares::Entity::find()
        .count(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn share_by_handle_and_email_then_list_both_sides() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let doc = app
        .upload(
            &alice,
            "report.pdf",
            "application/pdf",
            b"%PDF-1.7 r".to_vec(),
        )
        .await;

    let res = share(&app, &alice, &doc, "bob").await;
    assert_eq!(res.status(), 201);
    let to_bob = body(res).await;
    assert_eq!(to_bob["document_id"], doc.as_str());
    assert_eq!(to_bob["recipient_id"], bob.user_id.as_str());
    assert_eq!(to_bob["recipient_handle"], "bob");
    assert_eq!(to_bob["permission"], "view");
    assert!(to_bob["created_at"].is_string());

    // By e-mail, any case.
    let res = share(&app, &alice, &doc, "  Carol@Example.COM ").await;
    assert_eq!(res.status(), 201);
    let to_carol = body(res).await;
    assert_eq!(to_carol["recipient_id"], carol.user_id.as_str());
    assert_eq!(to_carol["recipient_handle"], "carol");

    // Sharing again (by handle or e-mail) is idempotent: 200 and the same share.
    for again in ["bob", "bob@example.com", "BOB"] {
        let res = share(&app, &alice, &doc, again).await;
        assert_eq!(res.status(), 200, "{again}");
        assert_eq!(body(res).await, to_bob, "{again}");
    }
    assert_eq!(share_count(&app).await, 2);

    let list = send(
        &app,
        Method::GET,
        &format!("/api/documents/{doc}/shares"),
        &alice,
        None,
    )
    .await;
    assert_eq!(list.status(), 200);
    assert_eq!(body(list).await, json!({ "items": [to_bob, to_carol] }));

    let mine = shared_with_me(&app, &bob, "").await;
    assert_eq!(mine["total"], 1);
    assert_eq!(mine["page"], 1);
    assert_eq!(mine["per_page"], 25);
    let item = &mine["items"][0];
    assert_eq!(item["share_id"], to_bob["id"]);
    assert_eq!(item["shared_at"], to_bob["created_at"]);
    assert_eq!(item["owner_handle"], "alice");
    assert_eq!(item["document"]["id"], doc.as_str());
    assert_eq!(item["document"]["owner_id"], alice.user_id.as_str());
    assert_eq!(item["document"]["filename"], "report.pdf");
    assert_ne!(item["document"]["status"], "pending");

    // A share is not ownership: the document is not in the recipient's own list, and
    // the owner has nothing shared with them.
    let own = body(app.get_auth("/api/documents", &bob.access).await).await;
    assert_eq!(own["total"], 0);
    assert_eq!(shared_with_me(&app, &alice, "").await["total"], 0);
}

#[tokio::test]
async fn shared_with_me_is_paginated_newest_first() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let mut docs = Vec::new();
    for i in 0..3 {
        let doc = app
            .upload(&alice, &format!("{i}.txt"), "text/plain", vec![b'a'; i + 1])
            .await;
        share_ok(&app, &alice, &doc, "bob").await;
        docs.push(doc);
    }
    let first = shared_with_me(&app, &bob, "?per_page=2").await;
    assert_eq!(
        (first["total"].as_u64(), first["per_page"].as_u64()),
        (Some(3), Some(2))
    );
    let second = shared_with_me(&app, &bob, "?per_page=2&page=2").await;
    assert_eq!(second["page"], 2);
    let seen: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["items"].as_array().unwrap())
        .map(|i| i["document"]["id"].as_str().unwrap())
        .collect();
    let newest_first: Vec<&str> = docs.iter().rev().map(String::as_str).collect();
    assert_eq!(seen, newest_first);
    let beyond = shared_with_me(&app, &bob, "?page=9").await;
    assert_eq!(
        (
            beyond["total"].as_u64(),
            beyond["items"].as_array().map(Vec::len)
        ),
        (Some(3), Some(0))
    );

    for bad in ["?per_page=0", "?per_page=101", "?page=0", "?page=x"] {
        let res = app
            .get_auth(&format!("/api/shared-with-me{bad}"), &bob.access)
            .await;
        assert_eq!(res.status(), 400, "{bad}");
        assert_eq!(body(res).await["code"], "invalid_query", "{bad}");
    }
}

#[tokio::test]
async fn recipients_read_metadata_and_download_and_nothing_else() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let bytes = b"# Minutes\n\nshared with bob\n".repeat(40);
    let doc = app
        .upload(&alice, "minutes.md", "text/markdown", bytes.clone())
        .await;
    // Let processing finish so that "nothing changed" below means the recipient.
    wait_processed(&app, &alice, &doc).await;
    let share_id = share_ok(&app, &alice, &doc, "bob").await;

    let meta = app
        .get_auth(&format!("/api/documents/{doc}"), &bob.access)
        .await;
    assert_eq!(meta.status(), 200);
    let meta = body(meta).await;
    assert_eq!(meta["id"], doc.as_str());
    assert_eq!(meta["filename"], "minutes.md");
    assert_eq!(meta["size_bytes"], bytes.len());

    let link = app
        .get_auth(&format!("/api/documents/{doc}/download"), &bob.access)
        .await;
    assert_eq!(link.status(), 200);
    let link = body(link).await;
    let file = app
        .client
        .get(link["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), 200);
    assert_eq!(file.bytes().await.unwrap().to_vec(), bytes, "exact bytes");

    // Everything else answers exactly as for a document that does not exist.
    let random = uuid::Uuid::new_v4().to_string();
    let refused: Vec<(Method, &str, Option<Value>)> = vec![
        (
            Method::PATCH,
            "/api/documents/{}",
            Some(json!({"filename": "mine.md"})),
        ),
        (Method::DELETE, "/api/documents/{}", None),
        (Method::POST, "/api/documents/{}/confirm", Some(json!({}))),
        (Method::GET, "/api/documents/{}/shares", None),
        (
            Method::POST,
            "/api/documents/{}/shares",
            Some(json!({"recipient": "alice"})),
        ),
    ];
    for (method, template, payload) in refused {
        let theirs = send(
            &app,
            method.clone(),
            &template.replace("{}", &doc),
            &bob,
            payload.clone(),
        )
        .await;
        let missing = send(
            &app,
            method.clone(),
            &template.replace("{}", &random),
            &bob,
            payload,
        )
        .await;
        assert_eq!(theirs.status(), 404, "{method} {template}");
        assert_eq!(missing.status(), 404, "{method} {template}");
        assert_eq!(
            theirs.bytes().await.unwrap(),
            missing.bytes().await.unwrap(),
            "{method} {template}"
        );
    }
    // Nor can the recipient revoke (or otherwise touch) the share.
    let theirs = send(
        &app,
        Method::DELETE,
        &format!("/api/shares/{share_id}"),
        &bob,
        None,
    )
    .await;
    let missing = send(
        &app,
        Method::DELETE,
        &format!("/api/shares/{random}"),
        &bob,
        None,
    )
    .await;
    assert_eq!(theirs.status(), 404);
    assert_eq!(missing.status(), 404);
    assert_eq!(
        theirs.bytes().await.unwrap(),
        missing.bytes().await.unwrap()
    );

    // Nothing changed for the owner (each answer signs its own short-lived thumbnail URL).
    let mut owner_view = body(
        app.get_auth(&format!("/api/documents/{doc}"), &alice.access)
            .await,
    )
    .await;
    let mut meta = meta;
    for view in [&mut owner_view, &mut meta] {
        assert!(view["thumbnail_url"].is_string(), "{view}");
        view["thumbnail_url"] = Value::Null;
    }
    // The classifier's pending suggestions are the owner's alone.
    assert!(meta.get("suggested_topics").is_none(), "{meta}");
    assert_eq!(
        owner_view
            .as_object_mut()
            .unwrap()
            .remove("suggested_topics"),
        Some(json!([]))
    );
    assert_eq!(owner_view, meta);
    assert_eq!(shared_with_me(&app, &bob, "").await["total"], 1);
}

#[tokio::test]
async fn revoking_cuts_access_at_once() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let doc = app
        .upload(&alice, "a.txt", "text/plain", b"secret".to_vec())
        .await;
    let share_id = share_ok(&app, &alice, &doc, "bob").await;
    let meta_path = format!("/api/documents/{doc}");
    assert_eq!(app.get_auth(&meta_path, &bob.access).await.status(), 200);

    let revoke = send(
        &app,
        Method::DELETE,
        &format!("/api/shares/{share_id}"),
        &alice,
        None,
    )
    .await;
    assert_eq!(revoke.status(), 204);

    // The very next requests are refused.
    assert_eq!(app.get_auth(&meta_path, &bob.access).await.status(), 404);
    assert_eq!(
        app.get_auth(&format!("{meta_path}/download"), &bob.access)
            .await
            .status(),
        404
    );
    let mine = shared_with_me(&app, &bob, "").await;
    assert_eq!(
        (
            mine["total"].as_u64(),
            mine["items"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0))
    );
    let list = body(
        app.get_auth(&format!("/api/documents/{doc}/shares"), &alice.access)
            .await,
    )
    .await;
    assert_eq!(list, json!({ "items": [] }));

    // Revoking again: gone.
    let again = send(
        &app,
        Method::DELETE,
        &format!("/api/shares/{share_id}"),
        &alice,
        None,
    )
    .await;
    assert_eq!(again.status(), 404);

    // Sharing again makes a new share that works again.
    let new_id = share_ok(&app, &alice, &doc, "bob").await;
    assert_ne!(new_id, share_id);
    assert_eq!(app.get_auth(&meta_path, &bob.access).await.status(), 200);
}

#[tokio::test]
async fn refusals_and_strangers() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let mallory = app.register("mallory").await;
    app.admin("root").await;
    let doc = app
        .upload(&alice, "a.txt", "text/plain", b"hello".to_vec())
        .await;

    for me in ["alice", "alice@example.com", "ALICE"] {
        let res = share(&app, &alice, &doc, me).await;
        assert_eq!(res.status(), 409, "{me}");
        assert_eq!(body(res).await["code"], "cannot_share_with_self");
    }
    for admin in ["root", "root@example.com"] {
        let res = share(&app, &alice, &doc, admin).await;
        assert_eq!(res.status(), 409, "{admin}");
        assert_eq!(body(res).await["code"], "cannot_share_with_admin");
    }
    for unknown in [
        "nobody",
        "nobody@example.com",
        " ",
        "bob@example.org",
        "bob\u{0}",
        "b\u{0}b@example.com",
        "@",
        "bob bob",
    ] {
        let res = share(&app, &alice, &doc, unknown).await;
        assert_eq!(res.status(), 404, "{unknown:?}");
        assert_eq!(
            body(res).await,
            json!({"code": "not_found", "message": "No such user"})
        );
    }
    let too_long = "b".repeat(255);
    for bad in [
        json!({"recipient": ""}),
        json!({"recipient": too_long}),
        json!({"recipient": 5}),
        json!({}),
        json!({"recipient": "bob", "permission": "edit"}),
    ] {
        let res = app
            .post_json(
                &format!("/api/documents/{doc}/shares"),
                Some(&alice.access),
                &bad,
            )
            .await;
        assert_eq!(res.status(), 422, "{bad}");
        assert_eq!(body(res).await["code"], "validation_failed", "{bad}");
    }
    // A pending upload cannot be shared: 404, as if it did not exist.
    let ticket = app.upload_url(&alice, "p.txt", "text/plain", 3).await;
    let pending = ticket["document_id"].as_str().unwrap();
    let res = share(&app, &alice, pending, "bob").await;
    assert_eq!(res.status(), 404);
    assert_eq!(body(res).await["message"], "No such resource");
    assert_eq!(share_count(&app).await, 0);

    // Strangers: someone else's document (even naming an unknown recipient) and
    // someone else's share look exactly like missing ones.
    let share_id = share_ok(&app, &alice, &doc, "bob").await;
    let random = uuid::Uuid::new_v4().to_string();
    for recipient in ["bob", "nobody", "mallory"] {
        let theirs = share(&app, &mallory, &doc, recipient).await;
        let missing = share(&app, &mallory, &random, recipient).await;
        assert_eq!(theirs.status(), 404, "{recipient}");
        assert_eq!(
            theirs.bytes().await.unwrap(),
            missing.bytes().await.unwrap(),
            "{recipient}"
        );
    }
    let stranger_routes: Vec<(Method, String, String)> = vec![
        (
            Method::GET,
            format!("/api/documents/{doc}/shares"),
            format!("/api/documents/{random}/shares"),
        ),
        (
            Method::GET,
            format!("/api/documents/{doc}"),
            format!("/api/documents/{random}"),
        ),
        (
            Method::GET,
            format!("/api/documents/{doc}/download"),
            format!("/api/documents/{random}/download"),
        ),
        (
            Method::DELETE,
            format!("/api/shares/{share_id}"),
            format!("/api/shares/{random}"),
        ),
    ];
    for (method, theirs, missing) in stranger_routes {
        let a = send(&app, method.clone(), &theirs, &mallory, None).await;
        let b = send(&app, method.clone(), &missing, &mallory, None).await;
        assert_eq!(a.status(), 404, "{method} {theirs}");
        assert_eq!(a.bytes().await.unwrap(), b.bytes().await.unwrap());
    }
    // A malformed share id is a plain 404 too.
    let res = send(&app, Method::DELETE, "/api/shares/not-a-uuid", &alice, None).await;
    assert_eq!(res.status(), 404);
    assert_eq!(shared_with_me(&app, &mallory, "").await["total"], 0);
    // The share survived all of that.
    assert_eq!(shared_with_me(&app, &bob, "").await["total"], 1);
}

#[tokio::test]
async fn admins_get_403_on_every_share_route() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let admin = app.admin("root").await;
    let doc = app
        .upload(&alice, "a.txt", "text/plain", b"hello".to_vec())
        .await;
    let share_id = {
        app.register("bob").await;
        share_ok(&app, &alice, &doc, "bob").await
    };
    let routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/api/shared-with-me".into(), None),
        (Method::GET, "/api/shared-with-me?per_page=500".into(), None),
        (Method::GET, format!("/api/documents/{doc}/shares"), None),
        (
            Method::POST,
            format!("/api/documents/{doc}/shares"),
            Some(json!({"recipient": "bob"})),
        ),
        (Method::DELETE, format!("/api/shares/{share_id}"), None),
    ];
    for (method, path, payload) in routes {
        let res = send(&app, method.clone(), &path, &admin, payload).await;
        assert_eq!(res.status(), 403, "{method} {path}");
        assert_eq!(
            body(res).await["code"],
            "admin_not_allowed",
            "{method} {path}"
        );
    }
    // Unauthenticated: 401.
    let res = app.get("/api/shared-with-me").await;
    assert_eq!(res.status(), 401);
    // The share is untouched.
    assert_eq!(share_count(&app).await, 1);
}

#[tokio::test]
async fn shares_go_with_their_document_and_accounts() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let admin = app.admin("root").await;
    let first = app
        .upload(&alice, "1.txt", "text/plain", b"one".to_vec())
        .await;
    let second = app
        .upload(&alice, "2.txt", "text/plain", b"two".to_vec())
        .await;
    let from_carol = app
        .upload(&carol, "3.txt", "text/plain", b"three".to_vec())
        .await;
    share_ok(&app, &alice, &first, "bob").await;
    share_ok(&app, &alice, &second, "bob").await;
    share_ok(&app, &alice, &second, "carol").await;
    share_ok(&app, &carol, &from_carol, "bob").await;
    assert_eq!(share_count(&app).await, 4);

    // Deleting a document removes its shares.
    let res = send(
        &app,
        Method::DELETE,
        &format!("/api/documents/{first}?permanent=true"),
        &alice,
        None,
    )
    .await;
    assert_eq!(res.status(), 204);
    assert_eq!(share_count(&app).await, 3);
    assert_eq!(shared_with_me(&app, &bob, "").await["total"], 2);

    // Deleting the recipient's account removes the shares made to it.
    let res = send(
        &app,
        Method::DELETE,
        &format!("/api/admin/users/{}", carol.user_id),
        &admin,
        None,
    )
    .await;
    assert_eq!(res.status(), 204);
    assert_eq!(
        share_count(&app).await,
        1,
        "carol's shares, both ways, gone"
    );
    let shares_of_second = body(
        app.get_auth(&format!("/api/documents/{second}/shares"), &alice.access)
            .await,
    )
    .await;
    let handles: Vec<&str> = shares_of_second["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["recipient_handle"].as_str().unwrap())
        .collect();
    assert_eq!(handles, ["bob"]);

    // Deleting the owner's account removes the shares of their documents.
    let res = send(
        &app,
        Method::DELETE,
        &format!("/api/admin/users/{}", alice.user_id),
        &admin,
        None,
    )
    .await;
    assert_eq!(res.status(), 204);
    assert_eq!(share_count(&app).await, 0);
    assert_eq!(shared_with_me(&app, &bob, "").await["total"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_identical_shares_make_one_share() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    app.register("bob").await;
    let doc = app
        .upload(&alice, "a.txt", "text/plain", b"hello".to_vec())
        .await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let (client, url, token) = (
            app.client.clone(),
            app.url(&format!("/api/documents/{doc}/shares")),
            alice.access.clone(),
        );
        let recipient = if i % 2 == 0 { "bob" } else { "bob@example.com" };
        tasks.push(tokio::spawn(async move {
            let res = client
                .post(url)
                .bearer_auth(token)
                .json(&json!({ "recipient": recipient }))
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }));
    }
    let mut created = 0;
    let mut ids = Vec::new();
    for t in tasks {
        let (status, b) = t.await.unwrap();
        match status {
            201 => created += 1,
            200 => {}
            other => panic!("unexpected {other}: {b}"),
        }
        ids.push(b["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(created, 1);
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(share_count(&app).await, 1);
}
