//! The trash (issue 14): delete moves a document to the trash, where it is hidden from
//! lists, search and share recipients but still counts against the quota; restore brings
//! it back unchanged (the root when its folder went); `?permanent=true`, emptying the
//! trash and the cleanup job after `documents.trash_retention_days` delete for good.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{Session, TestApp, body, create_topic, wait_processed};
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

pub(crate) async fn trash(app: &TestApp, s: &Session, id: &str) {
    let res = send(
        app,
        Method::DELETE,
        &format!("/api/documents/{id}"),
        s,
        None,
    )
    .await;
    assert_eq!(res.status(), 204, "trash {id}");
}

async fn restore(app: &TestApp, s: &Session, id: &str) -> reqwest::Response {
    send(
        app,
        Method::POST,
        &format!("/api/documents/{id}/restore"),
        s,
        None,
    )
    .await
}

async fn get(app: &TestApp, s: &Session, path: &str) -> Value {
    let res = app.get_auth(path, &s.access).await;
    assert_eq!(res.status(), 200, "GET {path}");
    body(res).await
}

fn ids(page: &Value) -> Vec<String> {
    let mut ids: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

async fn used_bytes(app: &TestApp, s: &Session) -> i64 {
    get(app, s, "/api/auth/me/quota").await["used_bytes"]
        .as_i64()
        .unwrap()
}

async fn upload_text(app: &TestApp, s: &Session, name: &str, text: &str) -> String {
    app.upload(s, name, "text/plain", text.as_bytes().to_vec())
        .await
}

async fn create_folder(app: &TestApp, s: &Session, name: &str, parent: Option<&str>) -> String {
    let res = app
        .post_json(
            "/api/folders",
            Some(&s.access),
            &json!({"name": name, "parent_id": parent}),
        )
        .await;
    assert_eq!(res.status(), 201, "create folder {name}");
    body(res).await["id"].as_str().unwrap().to_owned()
}

async fn patch_doc(app: &TestApp, s: &Session, id: &str, payload: Value) -> reqwest::Response {
    send(
        app,
        Method::PATCH,
        &format!("/api/documents/{id}"),
        s,
        Some(payload),
    )
    .await
}

/// Event types in the audit log about `user`, oldest first.
async fn audit_events(app: &TestApp, user: &str) -> Vec<String> {
    use docuvault::entities::audit_log;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    audit_log::Entity::find()
        .filter(audit_log::Column::UserId.eq(user.parse::<uuid::Uuid>().unwrap()))
        .order_by_asc(audit_log::Column::CreatedAt)
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .collect()
}

/// Objects stored under `user/doc/`.
async fn objects_of(app: &TestApp, s: &Session, id: &str) -> Vec<String> {
    app.state
        .storage
        .list(&format!("{}/{id}/", s.user_id))
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect()
}

#[tokio::test]
async fn trash_hides_everywhere_and_restore_brings_it_back_unchanged() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let folder = create_folder(&app, &alice, "Contracts", None).await;
    let topic = create_topic(&app, &alice, "Leases", None).await;
    let id = upload_text(&app, &alice, "lease.txt", "the zeppelin hangar lease").await;
    let other = upload_text(&app, &alice, "other.txt", "nothing to see").await;
    wait_processed(&app, &alice, &id).await;
    let res = patch_doc(
        &app,
        &alice,
        &id,
        json!({"folder_id": folder, "topics": [topic]}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let res = app
        .post_json(
            &format!("/api/documents/{id}/shares"),
            Some(&alice.access),
            &json!({"recipient": "bob"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let share_id = body(res).await["id"].as_str().unwrap().to_owned();
    let before = get(&app, &alice, &format!("/api/documents/{id}")).await;
    assert_eq!(before["trashed_at"], Value::Null);
    assert_eq!(before["purge_at"], Value::Null);
    let used = used_bytes(&app, &alice).await;
    assert!(used > 0);

    trash(&app, &alice, &id).await;
    // Idempotent.
    trash(&app, &alice, &id).await;

    // Hidden from the list, search, the folder and the topic.
    assert_eq!(
        ids(&get(&app, &alice, "/api/documents").await),
        vec![other.clone()]
    );
    assert_eq!(
        get(&app, &alice, "/api/documents?q=zeppelin").await["total"],
        0
    );
    assert_eq!(
        get(&app, &alice, &format!("/api/documents?folder_id={folder}")).await["total"],
        0
    );
    assert_eq!(
        get(&app, &alice, &format!("/api/documents?topic={topic}")).await["total"],
        0
    );
    // Listed in the trash, with when it goes.
    let trashed = get(&app, &alice, "/api/documents?trashed=true").await;
    assert_eq!(ids(&trashed), vec![id.clone()]);
    assert_eq!(trashed["total"], 1);
    let item = &trashed["items"][0];
    let at = chrono::DateTime::parse_from_rfc3339(item["trashed_at"].as_str().unwrap()).unwrap();
    let purge = chrono::DateTime::parse_from_rfc3339(item["purge_at"].as_str().unwrap()).unwrap();
    assert_eq!(purge - at, chrono::Duration::days(30));
    assert!((chrono::Utc::now() - at.to_utc()).num_seconds().abs() < 60);
    assert_eq!(
        get(&app, &alice, "/api/documents?trashed=true&q=zeppelin").await["total"],
        1,
        "the trash can be searched"
    );

    // The owner still reads and downloads it; it still counts.
    let doc = get(&app, &alice, &format!("/api/documents/{id}")).await;
    assert_eq!(doc["trashed_at"], item["trashed_at"]);
    assert_eq!(
        app.get_auth(&format!("/api/documents/{id}/download"), &alice.access)
            .await
            .status(),
        200
    );
    assert_eq!(used_bytes(&app, &alice).await, used);

    // Changes are refused until restored.
    let refused: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::PATCH,
            format!("/api/documents/{id}"),
            Some(json!({"filename": "renamed.txt"})),
        ),
        (Method::POST, format!("/api/documents/{id}/classify"), None),
        (
            Method::POST,
            format!("/api/documents/{id}/shares"),
            Some(json!({"recipient": "carol"})),
        ),
        (Method::DELETE, format!("/api/shares/{share_id}"), None),
    ];
    for (method, path, payload) in refused {
        let res = send(&app, method.clone(), &path, &alice, payload).await;
        assert_eq!(res.status(), 409, "{method} {path}");
        assert_eq!(
            body(res).await["code"],
            "document_trashed",
            "{method} {path}"
        );
    }

    // The owner still sees its shares.
    let shares = get(&app, &alice, &format!("/api/documents/{id}/shares")).await;
    assert_eq!(shares["items"][0]["id"], share_id.as_str(), "{shares}");

    // The recipient sees nothing of it.
    assert_eq!(get(&app, &bob, "/api/shared-with-me").await["total"], 0);
    for path in ["", "/download", "/view", "/text"] {
        let res = app
            .get_auth(&format!("/api/documents/{id}{path}"), &bob.access)
            .await;
        assert_eq!(res.status(), 404, "recipient GET {path}");
    }

    // Restore: everything as it was.
    let res = restore(&app, &alice, &id).await;
    assert_eq!(res.status(), 200);
    let back = body(res).await;
    assert_eq!(back["trashed_at"], Value::Null);
    assert_eq!(back["purge_at"], Value::Null);
    for key in [
        "folder_id",
        "topics",
        "filename",
        "size_bytes",
        "sha256",
        "status",
        "updated_at",
    ] {
        assert_eq!(back[key], before[key], "{key}");
    }
    // Idempotent.
    let again = restore(&app, &alice, &id).await;
    assert_eq!(again.status(), 200);
    assert_eq!(body(again).await["folder_id"], before["folder_id"]);
    assert_eq!(ids(&get(&app, &alice, "/api/documents").await), {
        let mut v = vec![id.clone(), other.clone()];
        v.sort();
        v
    });
    assert_eq!(
        get(&app, &alice, "/api/documents?q=zeppelin").await["total"],
        1
    );
    assert_eq!(
        get(&app, &alice, "/api/documents?trashed=true").await["total"],
        0
    );
    assert_eq!(get(&app, &bob, "/api/shared-with-me").await["total"], 1);
    assert_eq!(
        app.get_auth(&format!("/api/documents/{id}"), &bob.access)
            .await
            .status(),
        200
    );
    let events = audit_events(&app, &alice.user_id).await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e.starts_with("document_"))
            .collect::<Vec<_>>(),
        ["document_trashed", "document_restored"]
    );
}

#[tokio::test]
async fn restore_puts_a_document_whose_folder_was_deleted_at_the_root() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let parent = create_folder(&app, &alice, "Work", None).await;
    let child = create_folder(&app, &alice, "2025", Some(&parent)).await;
    let trashed = upload_text(&app, &alice, "a.txt", "alpha").await;
    let live = upload_text(&app, &alice, "b.txt", "beta").await;
    for id in [&trashed, &live] {
        let res = patch_doc(&app, &alice, id, json!({"folder_id": child})).await;
        assert_eq!(res.status(), 200);
    }
    trash(&app, &alice, &trashed).await;
    let res = send(
        &app,
        Method::DELETE,
        &format!("/api/folders/{child}"),
        &alice,
        None,
    )
    .await;
    assert!(res.status().is_success(), "{}", res.status());

    // The live document moved up to the parent; the trashed one comes back at the root.
    let moved = get(&app, &alice, &format!("/api/documents/{live}")).await;
    assert_eq!(moved["folder_id"], parent.as_str());
    let res = restore(&app, &alice, &trashed).await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["folder_id"], Value::Null);
    assert_eq!(
        get(&app, &alice, &format!("/api/documents/{trashed}")).await["folder_id"],
        Value::Null
    );
}

#[tokio::test]
async fn restore_over_quota_is_refused_with_the_quota_body() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let id = upload_text(&app, &alice, "big.txt", &"x".repeat(100)).await;
    trash(&app, &alice, &id).await;
    assert_eq!(
        used_bytes(&app, &alice).await,
        100,
        "a trashed document still counts"
    );

    let admin = app.admin("root").await;
    let res = app
        .client
        .patch(app.url(&format!("/api/admin/users/{}", alice.user_id)))
        .bearer_auth(&admin.access)
        .json(&json!({"quota_limit_bytes": 50}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let res = restore(&app, &alice, &id).await;
    assert_eq!(res.status(), 413);
    let b = body(res).await;
    assert_eq!(b["code"], "quota_exceeded");
    assert_eq!(
        b["detail"],
        json!({"used_bytes": 100, "reserved_bytes": 0, "limit_bytes": 50, "rejected_bytes": 100})
    );
    assert_eq!(
        get(&app, &alice, "/api/documents?trashed=true").await["total"],
        1
    );
    assert_eq!(get(&app, &alice, "/api/documents").await["total"], 0);

    // Back under the limit: restored.
    let res = app
        .client
        .patch(app.url(&format!("/api/admin/users/{}", alice.user_id)))
        .bearer_auth(&admin.access)
        .json(&json!({"quota_limit_bytes": 100}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = restore(&app, &alice, &id).await;
    assert_eq!(res.status(), 200);
    assert_eq!(get(&app, &alice, "/api/documents").await["total"], 1);
}

#[tokio::test]
async fn permanent_delete_and_emptying_the_trash_refund_and_remove_objects() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let live = upload_text(&app, &alice, "live.txt", "0123456789").await; // 10 bytes
    let t1 = upload_text(&app, &alice, "t1.txt", "abcdefghijklmnopqrst").await; // 20
    let t2 = upload_text(&app, &alice, "t2.txt", &"y".repeat(30)).await; // 30
    let keep = upload_text(&app, &alice, "keep.txt", &"k".repeat(40)).await; // 40
    let bobs = upload_text(&app, &bob, "bob.txt", "bob's own").await;
    trash(&app, &bob, &bobs).await;
    for id in [&live, &t1, &t2, &keep] {
        wait_processed(&app, &alice, id).await;
    }
    assert_eq!(used_bytes(&app, &alice).await, 100);
    trash(&app, &alice, &t1).await;
    trash(&app, &alice, &t2).await;
    assert_eq!(used_bytes(&app, &alice).await, 100);

    // Permanent delete of a live document.
    let res = send(
        &app,
        Method::DELETE,
        &format!("/api/documents/{live}?permanent=true"),
        &alice,
        None,
    )
    .await;
    assert_eq!(res.status(), 204);
    assert_eq!(used_bytes(&app, &alice).await, 90);
    assert!(objects_of(&app, &alice, &live).await.is_empty());
    assert_eq!(
        app.get_auth(&format!("/api/documents/{live}"), &alice.access)
            .await
            .status(),
        404
    );

    // Emptying the trash deletes both trashed documents for good, nothing else.
    assert!(!objects_of(&app, &alice, &t1).await.is_empty());
    let res = send(&app, Method::DELETE, "/api/documents/trash", &alice, None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await, json!({"deleted": 2}));
    assert_eq!(used_bytes(&app, &alice).await, 40);
    for id in [&t1, &t2] {
        assert!(
            objects_of(&app, &alice, id).await.is_empty(),
            "objects of {id}"
        );
        assert_eq!(
            app.get_auth(&format!("/api/documents/{id}"), &alice.access)
                .await
                .status(),
            404
        );
    }
    assert_eq!(
        get(&app, &alice, "/api/documents?trashed=true").await["total"],
        0
    );
    assert_eq!(
        ids(&get(&app, &alice, "/api/documents").await),
        vec![keep.clone()]
    );
    // Another account's trash is untouched.
    assert_eq!(
        get(&app, &bob, "/api/documents?trashed=true").await["total"],
        1
    );
    let res = send(&app, Method::DELETE, "/api/documents/trash", &alice, None).await;
    assert_eq!(body(res).await, json!({"deleted": 0}));

    // A trashed document can be deleted for good on its own too.
    trash(&app, &alice, &keep).await;
    let res = send(
        &app,
        Method::DELETE,
        &format!("/api/documents/{keep}?permanent=true"),
        &alice,
        None,
    )
    .await;
    assert_eq!(res.status(), 204);
    assert_eq!(used_bytes(&app, &alice).await, 0);
    let fsck = docuvault::fsck::fsck(&app.state, false).await.unwrap();
    assert!(fsck.quota_mismatches.is_empty(), "{fsck}");

    let events = audit_events(&app, &alice.user_id).await;
    for expected in ["document_trashed", "document_deleted", "trash_emptied"] {
        assert!(
            events.iter().any(|e| e == expected),
            "{expected} in {events:?}"
        );
    }
    assert_eq!(
        events.iter().filter(|e| *e == "document_deleted").count(),
        2,
        "one per permanent delete: {events:?}"
    );
}

#[tokio::test]
async fn cleanup_purges_documents_trashed_longer_than_the_retention() {
    let app = TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__CLEANUP__ENABLED".into(), "false".into());
        env.insert(
            "DOCUVAULT__DOCUMENTS__TRASH_RETENTION_DAYS".into(),
            "7".into(),
        );
    })
    .await;
    let alice = app.register("alice").await;
    let old = upload_text(&app, &alice, "old.txt", &"o".repeat(60)).await;
    let recent = upload_text(&app, &alice, "recent.txt", &"r".repeat(25)).await;
    let live = upload_text(&app, &alice, "live.txt", &"l".repeat(15)).await;
    for id in [&old, &recent, &live] {
        wait_processed(&app, &alice, id).await;
    }
    trash(&app, &alice, &old).await;
    trash(&app, &alice, &recent).await;
    let page = get(&app, &alice, "/api/documents?trashed=true").await;
    for d in page["items"].as_array().unwrap() {
        let at = chrono::DateTime::parse_from_rfc3339(d["trashed_at"].as_str().unwrap()).unwrap();
        let purge = chrono::DateTime::parse_from_rfc3339(d["purge_at"].as_str().unwrap()).unwrap();
        assert_eq!(purge - at, chrono::Duration::days(7));
    }

    // Within the retention nothing goes.
    let report = docuvault::jobs::cleanup::run_cleanup(&app.state)
        .await
        .unwrap();
    assert_eq!(report.trashed_purged, 0);

    // Trashed eight days ago: purged, refunded, objects gone.
    {
        use docuvault::entities::documents;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        documents::Entity::update_many()
            .col_expr(
                documents::Column::TrashedAt,
                Expr::value(Some(docuvault::time::now() - chrono::Duration::days(8))),
            )
            .filter(documents::Column::Id.eq(old.parse::<uuid::Uuid>().unwrap()))
            .exec(&app.state.db)
            .await
            .unwrap();
    }
    let report = docuvault::jobs::cleanup::run_cleanup(&app.state)
        .await
        .unwrap();
    assert_eq!(report.trashed_purged, 1);
    assert_eq!(
        app.get_auth(&format!("/api/documents/{old}"), &alice.access)
            .await
            .status(),
        404
    );
    assert!(objects_of(&app, &alice, &old).await.is_empty());
    assert_eq!(used_bytes(&app, &alice).await, 40);
    assert_eq!(
        ids(&get(&app, &alice, "/api/documents?trashed=true").await),
        vec![recent]
    );
    assert_eq!(ids(&get(&app, &alice, "/api/documents").await), vec![live]);
    let events = audit_events(&app, &alice.user_id).await;
    assert!(events.iter().any(|e| e == "document_deleted"), "{events:?}");

    let again = docuvault::jobs::cleanup::run_cleanup(&app.state)
        .await
        .unwrap();
    assert_eq!(again.trashed_purged, 0);
    let fsck = docuvault::fsck::fsck(&app.state, false).await.unwrap();
    assert!(fsck.quota_mismatches.is_empty(), "{fsck}");
}

#[tokio::test]
async fn deleting_an_unconfirmed_upload_removes_it_for_good() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let ticket = app.upload_url(&alice, "p.txt", "text/plain", 10).await;
    let id = ticket["document_id"].as_str().unwrap();
    assert_eq!(
        get(&app, &alice, "/api/auth/me/quota").await["reserved_bytes"],
        10
    );
    trash(&app, &alice, id).await;
    assert_eq!(
        get(&app, &alice, "/api/auth/me/quota").await["reserved_bytes"],
        0
    );
    assert_eq!(
        get(&app, &alice, "/api/documents?trashed=true").await["total"],
        0
    );
    assert_eq!(restore(&app, &alice, id).await.status(), 404);
}

/// The ids of a page in the order listed.
fn in_order(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_trash_lists_what_was_trashed_last_first() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let a = upload_text(&app, &alice, "a.txt", "first upload").await;
    let b = upload_text(&app, &alice, "b.txt", "second upload").await;
    let c = upload_text(&app, &alice, "c.txt", "third upload").await;
    for id in [&b, &a, &c] {
        trash(&app, &alice, id).await;
    }
    // Not the upload order (c, b, a): the order they went to the trash, latest first.
    assert_eq!(
        in_order(&get(&app, &alice, "/api/documents?trashed=true").await),
        vec![c.clone(), a.clone(), b.clone()]
    );
    assert_eq!(
        in_order(&get(&app, &alice, "/api/documents?trashed=true&order=asc").await),
        vec![b.clone(), a.clone(), c.clone()]
    );
    // An explicit sort still wins.
    assert_eq!(
        in_order(&get(&app, &alice, "/api/documents?trashed=true&sort=created_at").await),
        vec![c, b, a]
    );
}
