//! Bulk edit (issue 16): `POST /api/documents/bulk` with a result per document,
//! `GET /api/documents/ids` for "select all N matching", and the zip of a selection
//! (`POST /api/documents/bulk/download-url`, then the link without a bearer).

use std::collections::BTreeMap;
use std::io::Read;

use docuvault::entities::documents::DocumentStatus;
use reqwest::Method;
use sea_orm::{ActiveModelTrait, Set};
use serde_json::{Value, json};

use crate::common::{self, Session, TestApp, body};

/// An app whose documents stay as they are put (no workers), so every state a bulk
/// action leaves is observable.
async fn app_without_workers() -> TestApp {
    TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__SERVER__RUN_WORKERS".into(), "false".into());
    })
    .await
}

/// A finished (`unclassified`) document of `s` stored directly, with its original.
async fn stored(app: &TestApp, s: &Session, filename: &str, bytes: &[u8]) -> String {
    let owner = uuid::Uuid::parse_str(&s.user_id).unwrap();
    let mut row = common::document_row(owner);
    row.filename = Set(filename.into());
    row.size_bytes = Set(bytes.len() as i64);
    row.status = Set(DocumentStatus::Unclassified);
    let key = docuvault::domain::ObjectKey::parse(row.object_key.as_ref()).unwrap();
    app.state
        .storage
        .put(&key, bytes.to_vec(), "application/pdf")
        .await
        .unwrap();
    let row = row.insert(&app.state.db).await.unwrap();
    row.id.to_string()
}

async fn bulk(app: &TestApp, s: &Session, request: Value) -> (u16, Value) {
    let res = app
        .post_json("/api/documents/bulk", Some(&s.access), &request)
        .await;
    (res.status().as_u16(), body(res).await)
}

/// The results of a bulk request that was accepted, by id.
async fn bulk_ok(app: &TestApp, s: &Session, request: Value) -> BTreeMap<String, Value> {
    let (status, answer) = bulk(app, s, request.clone()).await;
    assert_eq!(status, 200, "{request}: {answer}");
    let results = answer["results"].as_array().unwrap();
    let ok = results.iter().filter(|r| r["ok"] == true).count();
    assert_eq!(answer["succeeded"], ok, "{answer}");
    assert_eq!(answer["failed"], results.len() - ok, "{answer}");
    results
        .iter()
        .map(|r| (r["id"].as_str().unwrap().to_owned(), r.clone()))
        .collect()
}

fn assert_done(results: &BTreeMap<String, Value>, id: &str, status: u16) {
    let r = &results[id];
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["status"], status, "{r}");
    assert_eq!(r["code"], Value::Null, "{r}");
}

fn assert_failed(results: &BTreeMap<String, Value>, id: &str, status: u16, code: &str) {
    let r = &results[id];
    assert_eq!(r["ok"], false, "{r}");
    assert_eq!(r["status"], status, "{r}");
    assert_eq!(r["code"], code, "{r}");
    assert!(r["message"].as_str().is_some_and(|m| !m.is_empty()), "{r}");
}

async fn folder(app: &TestApp, s: &Session, name: &str) -> String {
    let res = app
        .post_json("/api/folders", Some(&s.access), &json!({"name": name}))
        .await;
    assert_eq!(res.status(), 201);
    body(res).await["id"].as_str().unwrap().to_owned()
}

fn topic_ids(doc: &Value) -> Vec<String> {
    let mut ids: Vec<String> = doc["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn every_action_is_applied_per_document_as_its_single_request() {
    let app = app_without_workers().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let a1 = app
        .upload(&alice, "one.txt", "text/plain", b"one\n".to_vec())
        .await;
    let a2 = app
        .upload(&alice, "two.txt", "text/plain", b"two\n".to_vec())
        .await;
    let finished = stored(&app, &alice, "done.pdf", b"%PDF-1.4 done").await;
    let bobs = app
        .upload(&bob, "bob.txt", "text/plain", b"bob's\n".to_vec())
        .await;
    let unknown = uuid::Uuid::new_v4().to_string();
    let tax = folder(&app, &alice, "Tax").await;

    // Move: alice's documents move; bob's and an unknown id are the same 404 as a
    // single PATCH of bob's document answers.
    let single = app
        .patch_auth(
            &format!("/api/documents/{bobs}"),
            &alice.access,
            &json!({"folder_id": tax}),
        )
        .await;
    assert_eq!(single.status(), 404);
    let single = body(single).await;
    let results = bulk_ok(
        &app,
        &alice,
        json!({"ids": [a1, bobs, a2, unknown, a1], "action": "move", "folder_id": tax}),
    )
    .await;
    assert_eq!(results.len(), 4, "repeats count once");
    assert_done(&results, &a1, 200);
    assert_done(&results, &a2, 200);
    assert_failed(&results, &bobs, 404, single["code"].as_str().unwrap());
    assert_eq!(results[&bobs]["message"], single["message"]);
    assert_eq!(
        (&results[&bobs]["code"], &results[&bobs]["message"]),
        (&results[&unknown]["code"], &results[&unknown]["message"]),
        "not yours reads exactly as missing"
    );
    for id in [&a1, &a2] {
        assert_eq!(
            common::document(&app, &alice, id).await["folder_id"],
            tax.as_str()
        );
    }
    assert_eq!(
        common::document(&app, &bob, &bobs).await["folder_id"],
        Value::Null
    );
    // To the root with null; an unknown folder fails each document as PATCH does.
    let results = bulk_ok(
        &app,
        &alice,
        json!({"ids": [a1], "action": "move", "folder_id": null}),
    )
    .await;
    assert_done(&results, &a1, 200);
    assert_eq!(
        common::document(&app, &alice, &a1).await["folder_id"],
        Value::Null
    );
    let results = bulk_ok(
        &app,
        &alice,
        json!({"ids": [a1], "action": "move", "folder_id": uuid::Uuid::new_v4()}),
    )
    .await;
    assert_failed(&results, &a1, 404, "not_found");

    // Topics: added to what each document has, then taken off.
    let t1 = common::create_topic(&app, &alice, "Receipts", None)
        .await
        .to_string();
    let t2 = common::create_topic(&app, &alice, "Bank", None)
        .await
        .to_string();
    let bobs_topic = common::create_topic(&app, &bob, "Bob's", None)
        .await
        .to_string();
    let res = app
        .patch_auth(
            &format!("/api/documents/{a2}"),
            &alice.access,
            &json!({"topics": [t2]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let results = bulk_ok(
        &app,
        &alice,
        json!({"ids": [a1, a2, bobs], "action": "add_topics", "topic_ids": [t1, t2]}),
    )
    .await;
    assert_done(&results, &a1, 200);
    assert_done(&results, &a2, 200);
    assert_failed(&results, &bobs, 404, "not_found");
    let mut both = vec![t1.clone(), t2.clone()];
    both.sort();
    for id in [&a1, &a2] {
        assert_eq!(topic_ids(&common::document(&app, &alice, id).await), both);
    }
    assert!(topic_ids(&common::document(&app, &bob, &bobs).await).is_empty());
    let results = bulk_ok(
        &app,
        &alice,
        json!({"ids": [a1, a2], "action": "remove_topics", "topic_ids": [t1]}),
    )
    .await;
    assert_done(&results, &a1, 200);
    for id in [&a1, &a2] {
        assert_eq!(
            topic_ids(&common::document(&app, &alice, id).await),
            [t2.as_str()]
        );
    }
    // Another account's topic: refused per document as PATCH refuses it.
    let results = bulk_ok(
        &app,
        &alice,
        json!({"ids": [a1], "action": "add_topics", "topic_ids": [bobs_topic]}),
    )
    .await;
    assert_failed(&results, &a1, 422, "unknown_topic");
    assert_eq!(
        topic_ids(&common::document(&app, &alice, &a1).await),
        [t2.as_str()]
    );

    // Re-classify: the finished document goes back to the queue; the queued ones stay.
    let results = bulk_ok(
        &app,
        &alice,
        json!({"ids": [finished, a1, bobs], "action": "reclassify"}),
    )
    .await;
    assert_done(&results, &finished, 202);
    assert_done(&results, &a1, 202);
    assert_failed(&results, &bobs, 404, "not_found");
    assert_eq!(
        common::document(&app, &alice, &finished).await["status"],
        "queued"
    );

    // Share: new (201), again (200); bob can read it; an unknown account fails each.
    let results = bulk_ok(
        &app,
        &alice,
        json!({"ids": [a1, bobs], "action": "share", "recipient": "carol"}),
    )
    .await;
    assert_done(&results, &a1, 201);
    assert_failed(&results, &bobs, 404, "not_found");
    let results = bulk_ok(
        &app,
        &alice,
        json!({"ids": [a1, a2], "action": "share", "recipient": "CAROL@example.com"}),
    )
    .await;
    assert_done(&results, &a1, 200);
    assert_done(&results, &a2, 201);
    for id in [&a1, &a2] {
        let res = app
            .get_auth(&format!("/api/documents/{id}"), &carol.access)
            .await;
        assert_eq!(res.status(), 200);
    }
    let res = app
        .get_auth(&format!("/api/documents/{bobs}"), &carol.access)
        .await;
    assert_eq!(res.status(), 404);
    let results = bulk_ok(
        &app,
        &alice,
        json!({"ids": [a1], "action": "share", "recipient": "nobody"}),
    )
    .await;
    assert_failed(&results, &a1, 404, "not_found");
    let results = bulk_ok(
        &app,
        &alice,
        json!({"ids": [a1], "action": "share", "recipient": "alice"}),
    )
    .await;
    assert_failed(&results, &a1, 409, "cannot_share_with_self");

    // Trash: gone from the list, refused for other actions (409), restored by `restore`.
    let results = bulk_ok(
        &app,
        &alice,
        json!({"ids": [a1, a2, bobs], "action": "trash"}),
    )
    .await;
    assert_done(&results, &a1, 204);
    assert_done(&results, &a2, 204);
    assert_failed(&results, &bobs, 404, "not_found");
    assert!(
        common::document(&app, &alice, &a1).await["trashed_at"].is_string(),
        "trashed"
    );
    assert_eq!(
        common::document(&app, &bob, &bobs).await["trashed_at"],
        Value::Null
    );
    let list = body(app.get_auth("/api/documents", &alice.access).await).await;
    assert_eq!(list["total"], 1, "{list}");
    for request in [
        json!({"ids": [a1, finished], "action": "move", "folder_id": tax}),
        json!({"ids": [a1, finished], "action": "add_topics", "topic_ids": [t1]}),
        json!({"ids": [a1, finished], "action": "reclassify"}),
        json!({"ids": [a1, finished], "action": "share", "recipient": "bob"}),
    ] {
        let results = bulk_ok(&app, &alice, request.clone()).await;
        assert_failed(&results, &a1, 409, "document_trashed");
        assert!(results[&finished]["ok"] == true, "{request}: {results:?}");
    }
    // Trashing again changes nothing (as DELETE); restore brings both back.
    let results = bulk_ok(&app, &alice, json!({"ids": [a1], "action": "trash"})).await;
    assert_done(&results, &a1, 204);
    let results = bulk_ok(
        &app,
        &alice,
        json!({"ids": [a1, a2, bobs], "action": "restore"}),
    )
    .await;
    assert_done(&results, &a1, 200);
    assert_done(&results, &a2, 200);
    assert_failed(&results, &bobs, 404, "not_found");
    for id in [&a1, &a2] {
        let doc = common::document(&app, &alice, id).await;
        assert_eq!(doc["trashed_at"], Value::Null);
        assert_eq!(topic_ids(&doc), [t2.as_str()], "restored as it was");
    }
}

#[tokio::test]
async fn bad_requests_are_refused_whole_and_change_nothing() {
    let app = app_without_workers().await;
    let alice = app.register("alice").await;
    let doc = app
        .upload(&alice, "one.txt", "text/plain", b"one\n".to_vec())
        .await;
    let tax = folder(&app, &alice, "Tax").await;
    let many: Vec<String> = (0..1001)
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    let mut thousand = many[..999].to_vec();
    thousand.push(doc.clone());
    let cases = [
        (json!({"ids": [], "action": "trash"}), "validation_failed"),
        (json!({"ids": many, "action": "trash"}), "too_many_ids"),
        (json!({"ids": [doc], "action": "move"}), "validation_failed"),
        (
            json!({"ids": [doc], "action": "add_topics"}),
            "validation_failed",
        ),
        (
            json!({"ids": [doc], "action": "add_topics", "topic_ids": []}),
            "validation_failed",
        ),
        (
            json!({"ids": [doc], "action": "remove_topics"}),
            "validation_failed",
        ),
        (
            json!({"ids": [doc], "action": "share"}),
            "validation_failed",
        ),
        (
            json!({"ids": [doc], "action": "share", "recipient": ""}),
            "validation_failed",
        ),
        (
            json!({"ids": [doc], "action": "trash", "folder_id": tax}),
            "validation_failed",
        ),
        (
            json!({"ids": [doc], "action": "shred"}),
            "validation_failed",
        ),
        (json!({"ids": [doc]}), "validation_failed"),
        (
            json!({"ids": ["not-a-uuid"], "action": "trash"}),
            "validation_failed",
        ),
    ];
    for (request, code) in cases {
        let (status, answer) = bulk(&app, &alice, request.clone()).await;
        assert_eq!(status, 422, "{request}: {answer}");
        assert_eq!(answer["code"], code, "{request}: {answer}");
    }
    let live = common::document(&app, &alice, &doc).await;
    assert_eq!(live["trashed_at"], Value::Null);
    assert_eq!(live["folder_id"], Value::Null);

    // Exactly 1 000 is accepted (999 unknown, one trashed).
    let results = bulk_ok(&app, &alice, json!({"ids": thousand, "action": "trash"})).await;
    assert_eq!(results.len(), 1000);
    assert_done(&results, &doc, 204);
    assert_eq!(results.values().filter(|r| r["status"] == 404).count(), 999);

    // Without a token: 401; an administrator: 403.
    let res = app
        .post_json(
            "/api/documents/bulk",
            None,
            &json!({"ids": [doc], "action": "trash"}),
        )
        .await;
    assert_eq!(res.status(), 401);
    let admin = app.admin("root").await;
    let (status, _) = bulk(&app, &admin, json!({"ids": [doc], "action": "restore"})).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_read_only_api_token_cannot_edit_in_bulk() {
    let app = app_without_workers().await;
    let alice = app.register("alice").await;
    let doc = app
        .upload(&alice, "one.txt", "text/plain", b"one\n".to_vec())
        .await;
    let token_for = |scopes: Value| {
        let app = &app;
        let alice = &alice;
        async move {
            let res = app
                .post_json(
                    "/api/auth/tokens",
                    Some(&alice.access),
                    &json!({"name": format!("t{scopes}"), "scopes": scopes}),
                )
                .await;
            assert_eq!(res.status(), 201);
            body(res).await["token"].as_str().unwrap().to_owned()
        }
    };
    let read = token_for(json!(["documents:read"])).await;
    let res = app
        .send(
            Method::POST,
            "/api/documents/bulk",
            &read,
            Some(&json!({"ids": [doc], "action": "trash"})),
        )
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(body(res).await["code"], "insufficient_scope");
    assert_eq!(
        common::document(&app, &alice, &doc).await["trashed_at"],
        Value::Null
    );
    // Reads stay open to it: the ids and a zip link.
    let res = app.get_auth("/api/documents/ids", &read).await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["ids"], json!([doc]));
    let res = app
        .send(
            Method::POST,
            "/api/documents/bulk/download-url",
            &read,
            Some(&json!({"ids": [doc]})),
        )
        .await;
    assert_eq!(res.status(), 200);
    // A write token edits.
    let write = token_for(json!(["documents:write"])).await;
    let res = app
        .send(
            Method::POST,
            "/api/documents/bulk",
            &write,
            Some(&json!({"ids": [doc], "action": "trash"})),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(common::document(&app, &alice, &doc).await["trashed_at"].is_string());
}

#[tokio::test]
async fn ids_follow_the_list_filters_and_order_up_to_a_thousand() {
    let app = app_without_workers().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let owner = uuid::Uuid::parse_str(&alice.user_id).unwrap();
    let tax = folder(&app, &alice, "Tax").await;
    let start = docuvault::time::now() - chrono::Duration::hours(2);
    let mut in_tax = Vec::new();
    for i in 0..1005i64 {
        let mut row = common::document_row(owner);
        row.filename = Set(format!("doc-{i:04}.pdf"));
        row.status = Set(if i % 2 == 0 {
            DocumentStatus::Unclassified
        } else {
            DocumentStatus::Failed
        });
        row.created_at = Set(start + chrono::Duration::seconds(i));
        if i % 100 == 0 {
            row.folder_id = Set(Some(tax.parse().unwrap()));
        }
        let row = row.insert(&app.state.db).await.unwrap();
        if i % 100 == 0 {
            in_tax.push(row.id.to_string());
        }
    }
    app.upload(&bob, "bob.txt", "text/plain", b"bob\n".to_vec())
        .await;

    let all = body(app.get_auth("/api/documents/ids", &alice.access).await).await;
    assert_eq!(all["total"], 1005);
    assert_eq!(all["truncated"], true);
    let ids: Vec<&str> = all["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 1000);
    // In list order (newest first by default), page by page.
    for page in [1, 10] {
        let listed = body(
            app.get_auth(
                &format!("/api/documents?per_page=100&page={page}"),
                &alice.access,
            )
            .await,
        )
        .await;
        let listed: Vec<&str> = listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap())
            .collect();
        assert_eq!(listed, ids[(page - 1) * 100..page * 100]);
    }

    let tax_ids = body(
        app.get_auth(
            &format!("/api/documents/ids?folder_id={tax}&sort=name&order=asc"),
            &alice.access,
        )
        .await,
    )
    .await;
    assert_eq!(tax_ids["total"], in_tax.len());
    assert_eq!(tax_ids["truncated"], false);
    assert_eq!(tax_ids["ids"], json!(in_tax));

    let failed = body(
        app.get_auth("/api/documents/ids?status=failed", &alice.access)
            .await,
    )
    .await;
    assert_eq!(failed["total"], 502);
    assert_eq!(failed["ids"].as_array().unwrap().len(), 502);
    assert_eq!(failed["truncated"], false);

    // Bad parameters as the list refuses them; bob sees only his.
    let res = app.get_auth("/api/documents/ids?q=", &alice.access).await;
    assert_eq!(res.status(), 400);
    let bobs = body(app.get_auth("/api/documents/ids", &bob.access).await).await;
    assert_eq!(bobs["total"], 1);
}

fn unzip(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a valid zip");
    let mut out = BTreeMap::new();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).unwrap();
        let mut data = Vec::new();
        file.read_to_end(&mut data).unwrap();
        out.insert(file.name().unwrap().into_owned(), data);
    }
    out
}

async fn zip_url(app: &TestApp, s: &Session, ids: &[&str]) -> (u16, Value) {
    let res = app
        .post_json(
            "/api/documents/bulk/download-url",
            Some(&s.access),
            &json!({ "ids": ids }),
        )
        .await;
    (res.status().as_u16(), body(res).await)
}

#[tokio::test]
async fn the_zip_holds_the_originals_of_own_and_shared_documents() {
    let app = app_without_workers().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let pdf = common::samples::hello_pdf();
    let note = b"a note\n".to_vec();
    let other_note = b"another note, same name but for case\n".to_vec();
    let a1 = app
        .upload(&alice, "report.pdf", "application/pdf", pdf.clone())
        .await;
    let a2 = app
        .upload(&alice, "note.txt", "text/plain", note.clone())
        .await;
    let shared_bytes = b"bob shares this\n".to_vec();
    let shared = app
        .upload(&bob, "NOTE.txt", "text/plain", shared_bytes.clone())
        .await;
    let private = app
        .upload(&bob, "private.txt", "text/plain", other_note.clone())
        .await;
    let res = app
        .post_json(
            &format!("/api/documents/{shared}/shares"),
            Some(&bob.access),
            &json!({"recipient": "alice"}),
        )
        .await;
    assert_eq!(res.status(), 201);

    // Any id alice may not download: 404 for the whole link, like a missing one.
    for foreign in [private.clone(), uuid::Uuid::new_v4().to_string()] {
        let (status, answer) = zip_url(&app, &alice, &[&a1, &foreign]).await;
        assert_eq!(status, 404, "{answer}");
        assert_eq!(answer["code"], "not_found");
    }
    let many: Vec<String> = (0..1001)
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let (status, answer) = zip_url(&app, &alice, &many).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (422, Some("too_many_ids"))
    );
    let (status, _) = zip_url(&app, &alice, &[]).await;
    assert_eq!(status, 422);

    let (status, link) = zip_url(&app, &alice, &[&a1, &a2, &shared]).await;
    assert_eq!(status, 200, "{link}");
    assert!(link["expires_at"].is_string());
    let url = link["url"].as_str().unwrap();
    // No bearer needed.
    let res = reqwest::get(url).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/zip");
    let disposition = res.headers()["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"docuvault-documents-"),
        "{disposition}"
    );
    let files = unzip(&res.bytes().await.unwrap());
    assert_eq!(
        files.keys().map(String::as_str).collect::<Vec<_>>(),
        ["NOTE (2).txt", "note.txt", "report.pdf"]
    );
    assert!(files["report.pdf"] == pdf, "byte-identical original");
    assert_eq!(files["note.txt"], note);
    assert_eq!(files["NOTE (2).txt"], shared_bytes);

    // Unshared since: left out. A tampered token: 403. Signed out: 403.
    let shares = body(
        app.get_auth(&format!("/api/documents/{shared}/shares"), &bob.access)
            .await,
    )
    .await;
    let share_id = shares["items"][0]["id"].as_str().unwrap();
    let res = app
        .delete_auth(&format!("/api/shares/{share_id}"), &bob.access)
        .await;
    assert_eq!(res.status(), 204);
    let files = unzip(&reqwest::get(url).await.unwrap().bytes().await.unwrap());
    assert_eq!(
        files.keys().map(String::as_str).collect::<Vec<_>>(),
        ["note.txt", "report.pdf"]
    );
    let tampered = format!("{}x", url);
    assert_eq!(reqwest::get(&tampered).await.unwrap().status(), 403);
    let export_link = body(
        app.post_json("/api/me/export-url", Some(&alice.access), &json!({}))
            .await,
    )
    .await;
    let export_token = export_link["url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap();
    let res = app
        .get(&format!("/api/documents/bulk/download/{export_token}"))
        .await;
    assert_eq!(res.status(), 403, "an export link is not a zip link");
    let res = app
        .post_json("/api/auth/logout", Some(&alice.access), &json!({}))
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(reqwest::get(url).await.unwrap().status(), 403);
}

#[tokio::test]
async fn the_zip_is_written_while_it_is_sent() {
    let app = app_without_workers().await;
    let alice = app.register("alice").await;
    let owner = uuid::Uuid::parse_str(&alice.user_id).unwrap();
    // 24 originals of 2 MiB (random bytes: stored, not compressed).
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut docs = Vec::new();
    for i in 0..24 {
        let size = 2 * 1024 * 1024;
        let mut bytes = Vec::with_capacity(size);
        while bytes.len() < size {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            bytes.extend_from_slice(&seed.to_le_bytes());
        }
        let mut row = common::document_row(owner);
        row.filename = Set(format!("scan-{i:02}.pdf"));
        row.size_bytes = Set(size as i64);
        row.status = Set(DocumentStatus::Unclassified);
        row.created_at = Set(docuvault::time::now() + chrono::Duration::seconds(i));
        let key = docuvault::domain::ObjectKey::parse(row.object_key.as_ref()).unwrap();
        app.state
            .storage
            .put(&key, bytes.clone(), "application/pdf")
            .await
            .unwrap();
        let row = row.insert(&app.state.db).await.unwrap();
        docs.push((row.id.to_string(), key, bytes));
    }
    let ids: Vec<&str> = docs.iter().map(|(id, _, _)| id.as_str()).collect();
    let (status, link) = zip_url(&app, &alice, &ids).await;
    assert_eq!(status, 200);
    let mut res = reqwest::get(link["url"].as_str().unwrap()).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.content_length().is_none(),
        "streamed, no length up front"
    );
    let first = res.chunk().await.unwrap().expect("a first chunk");
    // The first bytes are out while the later half (24 MiB) is still in storage
    // unread: removing it now leaves it out of the zip. A server that built the zip
    // before sending it would have read them all already.
    for (_, key, _) in &docs[12..] {
        app.state.storage.delete(key).await.unwrap();
    }
    let mut zip_bytes = first.to_vec();
    while let Some(chunk) = res.chunk().await.unwrap() {
        zip_bytes.extend_from_slice(&chunk);
    }
    let files = unzip(&zip_bytes);
    assert!(
        files.len() < 24,
        "{} entries: the zip was complete before it was sent",
        files.len()
    );
    assert!(files.len() >= 2, "{} entries", files.len());
    for (i, (_, _, bytes)) in docs.iter().enumerate() {
        if let Some(data) = files.get(&format!("scan-{i:02}.pdf")) {
            assert!(data == bytes, "entry {i} is complete");
        }
    }
}

/// Event types and resources of the audit entries about `user`.
async fn audit_entries(app: &TestApp, user: &str, event: &str) -> Vec<String> {
    use docuvault::entities::audit_log;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let mut resources: Vec<String> = audit_log::Entity::find()
        .filter(audit_log::Column::UserId.eq(user.parse::<uuid::Uuid>().unwrap()))
        .filter(audit_log::Column::EventType.eq(event))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.resource_id.unwrap_or_default())
        .collect();
    resources.sort();
    resources
}

fn sorted(ids: &[&String]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    ids.sort();
    ids
}

async fn set_quota_limit(app: &TestApp, admin: &Session, user: &Session, limit: u64) {
    let res = app
        .patch_auth(
            &format!("/api/admin/users/{}", user.user_id),
            &admin.access,
            &json!({"quota_limit_bytes": limit}),
        )
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn set_based_actions_keep_the_side_effects_and_refusals_of_single_requests() {
    let app = TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__SERVER__RUN_WORKERS".into(), "false".into());
        env.insert(
            "DOCUVAULT__WEBHOOKS__ALLOWED_HOSTS".into(),
            "127.0.0.1".into(),
        );
    })
    .await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let admin = app.admin("root").await;
    let res = app
        .post_json(
            "/api/webhooks",
            Some(&alice.access),
            &json!({"url": "http://127.0.0.1:9/hook", "events": ["document.deleted"]}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", body(res).await);
    let q1 = app
        .upload(&alice, "q1.txt", "text/plain", vec![b'a'; 100])
        .await;
    let q2 = app
        .upload(&alice, "q2.txt", "text/plain", vec![b'b'; 100])
        .await;
    let live = app
        .upload(&alice, "live.txt", "text/plain", vec![b'c'; 10])
        .await;
    let finished = stored(&app, &alice, "done.pdf", b"%PDF-1.4 done").await;
    let pending = app
        .upload_url(&alice, "pending.txt", "text/plain", 40)
        .await["document_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let quota = |s: &Session| {
        let app = &app;
        let token = s.access.clone();
        async move { body(app.get_auth("/api/auth/me/quota", &token).await).await }
    };
    assert_eq!(quota(&alice).await["reserved_bytes"], 40);
    let t1 = common::create_topic(&app, &alice, "Receipts", None)
        .await
        .to_string();
    let bobs_topic = common::create_topic(&app, &bob, "Bob's", None)
        .await
        .to_string();

    // Topics: a finished document's status follows them; a queued one stays queued; an
    // unconfirmed upload is refused exactly as a single PATCH refuses it.
    let single = app
        .patch_auth(
            &format!("/api/documents/{pending}"),
            &alice.access,
            &json!({"topics": [t1]}),
        )
        .await;
    assert_eq!(single.status(), 409);
    let single = body(single).await;
    let results = bulk_ok(
        &app,
        &alice,
        json!({"ids": [finished, q1, pending], "action": "add_topics", "topic_ids": [t1]}),
    )
    .await;
    assert_done(&results, &finished, 200);
    assert_done(&results, &q1, 200);
    assert_failed(&results, &pending, 409, single["code"].as_str().unwrap());
    assert_eq!(results[&pending]["message"], single["message"]);
    let doc = common::document(&app, &alice, &finished).await;
    assert_eq!(doc["status"], "classified");
    assert_eq!(topic_ids(&doc), [t1.as_str()]);
    assert_eq!(doc["topics"][0]["source"], "user", "{doc}");
    assert_eq!(
        common::document(&app, &alice, &q1).await["status"],
        "queued"
    );
    // Taking off a topic that is not yours is what PATCH with the rest does: fine.
    let results = bulk_ok(
        &app,
        &alice,
        json!({"ids": [finished, q1], "action": "remove_topics", "topic_ids": [t1, bobs_topic]}),
    )
    .await;
    assert_done(&results, &finished, 200);
    assert_done(&results, &q1, 200);
    let doc = common::document(&app, &alice, &finished).await;
    assert_eq!(doc["status"], "unclassified");
    assert!(topic_ids(&doc).is_empty());

    // Re-classify an unconfirmed upload: the single request's 409.
    let single = app
        .post_json(
            &format!("/api/documents/{pending}/classify"),
            Some(&alice.access),
            &json!({}),
        )
        .await;
    assert_eq!(single.status(), 409);
    let single = body(single).await;
    let results = bulk_ok(
        &app,
        &alice,
        json!({"ids": [pending], "action": "reclassify"}),
    )
    .await;
    assert_failed(&results, &pending, 409, single["code"].as_str().unwrap());
    assert_eq!(results[&pending]["message"], single["message"]);

    // Trash: an audit entry and a `document.deleted` delivery per trashed document; the
    // unconfirmed upload is deleted for good, its reservation released.
    let tax = folder(&app, &alice, "Tax").await;
    let results = bulk_ok(
        &app,
        &alice,
        json!({"ids": [q1], "action": "move", "folder_id": tax}),
    )
    .await;
    assert_done(&results, &q1, 200);
    let results = bulk_ok(
        &app,
        &alice,
        json!({"ids": [q1, q2, finished, pending], "action": "trash"}),
    )
    .await;
    for id in [&q1, &q2, &finished, &pending] {
        assert_done(&results, id, 204);
    }
    assert_eq!(
        app.get_auth(&format!("/api/documents/{pending}"), &alice.access)
            .await
            .status(),
        404
    );
    assert_eq!(quota(&alice).await["reserved_bytes"], 0);
    assert_eq!(
        audit_entries(&app, &alice.user_id, "document_trashed").await,
        sorted(&[&q1, &q2, &finished])
    );
    {
        use docuvault::entities::webhook_deliveries;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let mut announced: Vec<String> = webhook_deliveries::Entity::find()
            .filter(webhook_deliveries::Column::Event.eq("document.deleted"))
            .all(&app.state.db)
            .await
            .unwrap()
            .into_iter()
            .map(|d| {
                let payload: Value = serde_json::from_str(&d.payload).unwrap();
                assert_eq!(payload["data"]["permanent"], false, "{payload}");
                payload["data"]["document"]["id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        announced.sort();
        assert_eq!(announced, sorted(&[&q1, &q2, &finished]));
    }

    // Restore over quota: the single request's 413 for each trashed document; one not
    // in the trash is returned as it is (200), an unknown id is 404.
    set_quota_limit(&app, &admin, &alice, 50).await;
    let single = app
        .post_json(
            &format!("/api/documents/{q1}/restore"),
            Some(&alice.access),
            &json!({}),
        )
        .await;
    assert_eq!(single.status(), 413);
    let single = body(single).await;
    let unknown = uuid::Uuid::new_v4().to_string();
    let results = bulk_ok(
        &app,
        &alice,
        json!({"ids": [q1, finished, live, unknown], "action": "restore"}),
    )
    .await;
    assert_failed(&results, &q1, 413, single["code"].as_str().unwrap());
    assert_failed(&results, &finished, 413, "quota_exceeded");
    assert_done(&results, &live, 200);
    assert_failed(&results, &unknown, 404, "not_found");
    assert!(
        audit_entries(&app, &alice.user_id, "document_restored")
            .await
            .is_empty()
    );

    // Back under the limit: restored, the one whose folder was deleted at the root.
    set_quota_limit(&app, &admin, &alice, 1 << 30).await;
    let res = app
        .delete_auth(&format!("/api/folders/{tax}"), &alice.access)
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    let results = bulk_ok(
        &app,
        &alice,
        json!({"ids": [q1, q2, finished], "action": "restore"}),
    )
    .await;
    for id in [&q1, &q2, &finished] {
        assert_done(&results, id, 200);
        let doc = common::document(&app, &alice, id).await;
        assert_eq!(doc["trashed_at"], Value::Null);
        assert_eq!(doc["folder_id"], Value::Null);
    }
    assert_eq!(
        audit_entries(&app, &alice.user_id, "document_restored").await,
        sorted(&[&q1, &q2, &finished])
    );
}

#[tokio::test]
async fn a_thousand_documents_are_changed_in_one_request() {
    use sea_orm::EntityTrait;
    let app = app_without_workers().await;
    let alice = app.register("alice").await;
    let owner = uuid::Uuid::parse_str(&alice.user_id).unwrap();
    let rows: Vec<_> = (0..1000)
        .map(|_| {
            let mut row = common::document_row(owner);
            row.status = Set(DocumentStatus::Unclassified);
            row
        })
        .collect();
    let ids: Vec<String> = rows
        .iter()
        .map(|r| r.id.clone().unwrap().to_string())
        .collect();
    for chunk in rows.chunks(250) {
        docuvault::entities::documents::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&app.state.db)
            .await
            .unwrap();
    }
    let total = |query: String| {
        let app = &app;
        let token = alice.access.clone();
        async move {
            let list = body(
                app.get_auth(&format!("/api/documents{query}"), &token)
                    .await,
            )
            .await;
            list["total"].as_u64().unwrap()
        }
    };
    let all_done = |results: BTreeMap<String, Value>, status: u16| {
        assert_eq!(results.len(), 1000);
        for id in &ids {
            assert_done(&results, id, status);
        }
    };
    let tax = folder(&app, &alice, "Tax").await;
    let t1 = common::create_topic(&app, &alice, "Receipts", None)
        .await
        .to_string();

    all_done(
        bulk_ok(
            &app,
            &alice,
            json!({"ids": ids, "action": "move", "folder_id": tax}),
        )
        .await,
        200,
    );
    assert_eq!(total(format!("?folder_id={tax}")).await, 1000);
    all_done(
        bulk_ok(
            &app,
            &alice,
            json!({"ids": ids, "action": "add_topics", "topic_ids": [t1]}),
        )
        .await,
        200,
    );
    assert_eq!(total(format!("?topic={t1}")).await, 1000);
    let doc = common::document(&app, &alice, &ids[999]).await;
    assert_eq!(doc["status"], "classified");
    all_done(
        bulk_ok(&app, &alice, json!({"ids": ids, "action": "trash"})).await,
        204,
    );
    assert_eq!(total(String::new()).await, 0);
    assert_eq!(
        audit_entries(&app, &alice.user_id, "document_trashed")
            .await
            .len(),
        1000
    );
    all_done(
        bulk_ok(&app, &alice, json!({"ids": ids, "action": "restore"})).await,
        200,
    );
    assert_eq!(total(format!("?folder_id={tax}")).await, 1000);
    all_done(
        bulk_ok(
            &app,
            &alice,
            json!({"ids": ids, "action": "remove_topics", "topic_ids": [t1]}),
        )
        .await,
        200,
    );
    assert_eq!(total(format!("?topic={t1}")).await, 0);
    assert_eq!(
        common::document(&app, &alice, &ids[0]).await["status"],
        "unclassified"
    );
}
