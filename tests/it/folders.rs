//! Folders end to end over HTTP: the tree, sibling names, cycles, ownership, deletion
//! that moves contents up, and input validation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::body;

use common::{Session, TestApp};
use docuvault::entities::{documents, folders};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::{Value, json};
use uuid::Uuid;

async fn list(app: &TestApp, s: &Session) -> Vec<Value> {
    let res = app.get_auth("/api/folders", &s.access).await;
    assert_eq!(res.status(), 200);
    body(res).await["items"].as_array().unwrap().clone()
}

/// `POST /api/folders`; returns the response.
async fn create_raw(app: &TestApp, s: &Session, payload: Value) -> reqwest::Response {
    app.post_json("/api/folders", Some(&s.access), &payload)
        .await
}

/// Creates `name` under `parent` and returns its id.
async fn create(app: &TestApp, s: &Session, name: &str, parent: Option<&str>) -> String {
    let res = create_raw(app, s, json!({"name": name, "parent_id": parent})).await;
    assert_eq!(res.status(), 201, "create {name}");
    body(res).await["id"].as_str().unwrap().to_owned()
}

async fn patch(app: &TestApp, s: &Session, id: &str, payload: Value) -> reqwest::Response {
    app.patch_auth(&format!("/api/folders/{id}"), &s.access, &payload)
        .await
}

async fn delete(app: &TestApp, s: &Session, id: &str) -> reqwest::Response {
    app.delete_auth(&format!("/api/folders/{id}"), &s.access)
        .await
}

fn by_id<'a>(items: &'a [Value], id: &str) -> &'a Value {
    items
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("folder {id} not listed"))
}

/// Inserts a document row directly (the upload flow is tested elsewhere).
async fn insert_document(
    app: &TestApp,
    owner: &Session,
    folder: Option<&str>,
    status: &str,
) -> Uuid {
    let mut row = common::document_row(Uuid::parse_str(&owner.user_id).unwrap());
    row.folder_id = Set(folder.map(|f| Uuid::parse_str(f).unwrap()));
    row.status = Set(status.parse().unwrap());
    row.insert(&app.state.db).await.unwrap().id
}

async fn folder_of(app: &TestApp, doc: Uuid) -> Option<String> {
    documents::Entity::find_by_id(doc)
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("document still exists")
        .folder_id
        .map(|f| f.to_string())
}

#[tokio::test]
async fn create_list_rename_move_and_delete() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    assert!(list(&app, &alice).await.is_empty());

    let res = create_raw(&app, &alice, json!({"name": "  Work  "})).await;
    assert_eq!(res.status(), 201);
    let work = body(res).await;
    assert_eq!(work["name"], "Work");
    assert_eq!(work["parent_id"], Value::Null);
    assert_eq!(work["document_count"], 0);
    assert_eq!(work["created_at"], work["updated_at"]);
    let work = work["id"].as_str().unwrap().to_owned();
    let tax = create(&app, &alice, "Tax", Some(&work)).await;
    let archive = create(&app, &alice, "archive", None).await;
    create(&app, &alice, "Zeta", Some(&work)).await;

    // Sorted by name, ignoring case.
    let items = list(&app, &alice).await;
    let names: Vec<&str> = items.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["archive", "Tax", "Work", "Zeta"]);
    assert_eq!(by_id(&items, &tax)["parent_id"], work.as_str());

    // Rename only: the parent stays.
    let res = patch(&app, &alice, &tax, json!({"name": "Taxes"})).await;
    assert_eq!(res.status(), 200);
    let renamed = body(res).await;
    assert_eq!(renamed["name"], "Taxes");
    assert_eq!(renamed["parent_id"], work.as_str());

    // Move only: the name stays; then to the root with an explicit null.
    let res = patch(&app, &alice, &tax, json!({"parent_id": archive})).await;
    assert_eq!(res.status(), 200);
    let moved = body(res).await;
    assert_eq!(
        (moved["name"].as_str(), moved["parent_id"].as_str()),
        (Some("Taxes"), Some(archive.as_str()))
    );
    let res = patch(&app, &alice, &tax, json!({"parent_id": null})).await;
    assert_eq!(body(res).await["parent_id"], Value::Null);

    // Rename and move at once; an empty body changes nothing.
    let res = patch(
        &app,
        &alice,
        &tax,
        json!({"name": "Tax 2024", "parent_id": work}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let before = body(res).await;
    let res = patch(&app, &alice, &tax, json!({})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await, before);
    let res = patch(&app, &alice, &tax, json!({"name": null})).await;
    assert_eq!(body(res).await, before);

    let res = delete(&app, &alice, &tax).await;
    assert_eq!(res.status(), 204);
    assert_eq!(delete(&app, &alice, &tax).await.status(), 404);
    assert_eq!(
        patch(&app, &alice, &tax, json!({"name": "x"}))
            .await
            .status(),
        404
    );
    let names: Vec<String> = list(&app, &alice)
        .await
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["archive", "Work", "Zeta"]);
}

#[tokio::test]
async fn sibling_names_are_unique_ignoring_case() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let invoices = create(&app, &alice, "Invoices", None).await;
    let other = create(&app, &alice, "Other", None).await;

    for name in ["Invoices", "invoices", " INVOICES "] {
        let res = create_raw(&app, &alice, json!({"name": name})).await;
        assert_eq!(res.status(), 409, "{name}");
        assert_eq!(body(res).await["code"], "folder_exists");
    }
    let res = create_raw(&app, &alice, json!({"name": "ärger"})).await;
    assert_eq!(res.status(), 201);
    let res = create_raw(&app, &alice, json!({"name": "ÄRGER"})).await;
    assert_eq!(
        res.status(),
        409,
        "non-ASCII names compare ignoring case too"
    );

    // The same name elsewhere is fine: in another folder, or another user's root.
    let nested = create(&app, &alice, "invoices", Some(&other)).await;
    create(&app, &bob, "Invoices", None).await;

    // Renaming or moving into a clash is refused; a case-only rename of itself is not.
    let res = patch(&app, &alice, &other, json!({"name": "INVOICES"})).await;
    assert_eq!(res.status(), 409);
    assert_eq!(body(res).await["code"], "folder_exists");
    let res = patch(&app, &alice, &nested, json!({"parent_id": null})).await;
    assert_eq!(res.status(), 409);
    assert_eq!(body(res).await["code"], "folder_exists");
    let res = patch(&app, &alice, &invoices, json!({"name": "INVOICES"})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["name"], "INVOICES");
    // Renaming and moving at once is judged at the destination.
    let res = patch(
        &app,
        &alice,
        &nested,
        json!({"name": "Receipts", "parent_id": null}),
    )
    .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn folders_cannot_move_into_themselves_or_their_descendants() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let a = create(&app, &alice, "a", None).await;
    let b = create(&app, &alice, "b", Some(&a)).await;
    let c = create(&app, &alice, "c", Some(&b)).await;

    for target in [&a, &b, &c] {
        let res = patch(&app, &alice, &a, json!({"parent_id": target})).await;
        assert_eq!(res.status(), 409, "a under {target}");
        assert_eq!(body(res).await["code"], "folder_cycle");
    }
    let res = patch(&app, &alice, &b, json!({"parent_id": c})).await;
    assert_eq!(res.status(), 409);
    // Nothing moved.
    let items = list(&app, &alice).await;
    assert_eq!(by_id(&items, &a)["parent_id"], Value::Null);
    assert_eq!(by_id(&items, &b)["parent_id"], a.as_str());
    assert_eq!(by_id(&items, &c)["parent_id"], b.as_str());

    // Moving down the other way round is fine: c to the root, then a under c.
    assert_eq!(
        patch(&app, &alice, &c, json!({"parent_id": null}))
            .await
            .status(),
        200
    );
    let res = patch(&app, &alice, &a, json!({"parent_id": c})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["parent_id"], c.as_str());
    // Re-stating the current parent is not a move.
    assert_eq!(
        patch(&app, &alice, &b, json!({"parent_id": a}))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn another_users_folder_is_indistinguishable_from_a_missing_one() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let bobs = create(&app, &bob, "Private", None).await;
    let alices = create(&app, &alice, "Mine", None).await;
    let random = Uuid::new_v4().to_string();

    async fn status_and_text(res: reqwest::Response) -> (u16, String) {
        (res.status().as_u16(), res.text().await.unwrap())
    }

    let foreign =
        status_and_text(patch(&app, &alice, &bobs, json!({"name": "Hacked"})).await).await;
    let missing =
        status_and_text(patch(&app, &alice, &random, json!({"name": "Hacked"})).await).await;
    assert_eq!(foreign.0, 404);
    assert_eq!(foreign, missing);
    assert!(foreign.1.contains("not_found"));

    let foreign = status_and_text(delete(&app, &alice, &bobs).await).await;
    let missing = status_and_text(delete(&app, &alice, &random).await).await;
    assert_eq!(foreign.0, 404);
    assert_eq!(foreign, missing);

    // Someone else's folder as the parent.
    let foreign =
        status_and_text(create_raw(&app, &alice, json!({"name": "x", "parent_id": bobs})).await)
            .await;
    let missing =
        status_and_text(create_raw(&app, &alice, json!({"name": "x", "parent_id": random})).await)
            .await;
    assert_eq!(foreign.0, 404);
    assert_eq!(foreign, missing);
    let foreign =
        status_and_text(patch(&app, &alice, &alices, json!({"parent_id": bobs})).await).await;
    let missing =
        status_and_text(patch(&app, &alice, &alices, json!({"parent_id": random})).await).await;
    assert_eq!(foreign.0, 404);
    assert_eq!(foreign, missing);

    // A malformed id is a 404 too.
    assert_eq!(delete(&app, &alice, "not-a-uuid").await.status(), 404);

    // Bob's tree is untouched and Alice's list shows only hers.
    let bobs_items = list(&app, &bob).await;
    assert_eq!(bobs_items.len(), 1);
    assert_eq!(bobs_items[0]["name"], "Private");
    let alices_items = list(&app, &alice).await;
    assert_eq!(alices_items.len(), 1);
    assert_eq!(alices_items[0]["parent_id"], Value::Null);
}

#[tokio::test]
async fn admins_are_refused_and_anonymous_callers_must_sign_in() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let alice = app.register("alice").await;
    let folder = create(&app, &alice, "Mine", None).await;

    let res = app.get_auth("/api/folders", &admin.access).await;
    assert_eq!(res.status(), 403);
    assert_eq!(body(res).await["code"], "admin_not_allowed");
    let res = create_raw(&app, &admin, json!({"name": "x"})).await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        patch(&app, &admin, &folder, json!({"name": "x"}))
            .await
            .status(),
        403
    );
    assert_eq!(delete(&app, &admin, &folder).await.status(), 403);

    assert_eq!(app.get("/api/folders").await.status(), 401);
    let res = app
        .post_json("/api/folders", None, &json!({"name": "x"}))
        .await;
    assert_eq!(res.status(), 401);
    assert_eq!(list(&app, &alice).await.len(), 1);
}

#[tokio::test]
async fn invalid_names_and_bodies_are_rejected() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let folder = create(&app, &alice, "Mine", None).await;

    let long = "n".repeat(256);
    let bad_names = [
        "",
        " ",
        "\u{3000}",
        ".",
        "..",
        " .. ",
        "a/b",
        "tab\there",
        "line\n",
        "nul\0",
        &long,
    ];
    for name in bad_names {
        let res = create_raw(&app, &alice, json!({"name": name})).await;
        assert_eq!(res.status(), 422, "create {name:?}");
        assert_eq!(body(res).await["code"], "validation_failed");
        let res = patch(&app, &alice, &folder, json!({"name": name})).await;
        assert_eq!(res.status(), 422, "rename {name:?}");
    }
    let bad_bodies = [
        json!({}),
        json!({"name": 5}),
        json!({"name": "x", "colour": "red"}),
        json!({"name": "x", "parent_id": "not-a-uuid"}),
        json!(["x"]),
        json!("x"),
    ];
    for payload in bad_bodies {
        let res = create_raw(&app, &alice, payload.clone()).await;
        assert_eq!(res.status(), 422, "{payload}");
    }
    let res = patch(&app, &alice, &folder, json!({"parent": null})).await;
    assert_eq!(res.status(), 422);

    let res = app
        .post_raw(
            "/api/folders",
            Some(&alice.access),
            "application/json",
            "{nope",
        )
        .await;
    assert_eq!(res.status(), 400);
    let res = app
        .post_raw(
            "/api/folders",
            Some(&alice.access),
            "text/plain",
            r#"{"name": "x"}"#,
        )
        .await;
    assert_eq!(res.status(), 415);

    // The limits themselves are fine; dots inside a name too.
    let longest = "é".repeat(255);
    for name in [longest.as_str(), "...", ".hidden", "a.b"] {
        let res = create_raw(&app, &alice, json!({"name": name})).await;
        assert_eq!(res.status(), 201, "{name:?}");
        assert_eq!(body(res).await["name"], name);
    }
    assert_eq!(list(&app, &alice).await.len(), 5);
}

#[tokio::test]
async fn document_counts_cover_each_folder() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let a = create(&app, &alice, "a", None).await;
    let b = create(&app, &alice, "b", Some(&a)).await;
    let empty = create(&app, &alice, "empty", None).await;
    for _ in 0..3 {
        insert_document(&app, &alice, Some(&a), "queued").await;
    }
    insert_document(&app, &alice, Some(&b), "classified").await;
    insert_document(&app, &alice, Some(&b), "pending").await; // upload not confirmed
    insert_document(&app, &alice, None, "queued").await;
    insert_document(&app, &bob, None, "queued").await;
    // A trashed document is not in its folder's listing, so not in its count either.
    let trashed = insert_document(&app, &alice, Some(&empty), "classified").await;
    let res = app
        .delete_auth(&format!("/api/documents/{trashed}"), &alice.access)
        .await;
    assert!(res.status().is_success(), "trash answered {}", res.status());

    let items = list(&app, &alice).await;
    assert_eq!(by_id(&items, &a)["document_count"], 3);
    assert_eq!(by_id(&items, &b)["document_count"], 1);
    assert_eq!(by_id(&items, &empty)["document_count"], 0);
    let res = patch(&app, &alice, &a, json!({"name": "A"})).await;
    assert_eq!(body(res).await["document_count"], 3);
    let res = patch(&app, &alice, &empty, json!({"name": "Still empty"})).await;
    assert_eq!(body(res).await["document_count"], 0);
}

#[tokio::test]
async fn deleting_a_folder_moves_its_documents_and_subfolders_up() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    // projects/{old, Alpha, Alpha (2), beta}; old/{alpha/deep, Beta, old, Gamma}.
    let projects = create(&app, &alice, "projects", None).await;
    let old = create(&app, &alice, "old", Some(&projects)).await;
    let alpha_top = create(&app, &alice, "Alpha", Some(&projects)).await;
    create(&app, &alice, "Alpha (2)", Some(&projects)).await;
    create(&app, &alice, "beta", Some(&projects)).await;
    let alpha = create(&app, &alice, "alpha", Some(&old)).await;
    let deep = create(&app, &alice, "deep", Some(&alpha)).await;
    let beta = create(&app, &alice, "Beta", Some(&old)).await;
    let old_old = create(&app, &alice, "old", Some(&old)).await;
    let gamma = create(&app, &alice, "Gamma", Some(&old)).await;
    let in_old = [
        insert_document(&app, &alice, Some(&old), "queued").await,
        insert_document(&app, &alice, Some(&old), "pending").await,
    ];
    let in_deep = insert_document(&app, &alice, Some(&deep), "queued").await;
    let in_projects = insert_document(&app, &alice, Some(&projects), "queued").await;

    let res = delete(&app, &alice, &old).await;
    assert_eq!(res.status(), 204);

    for doc in in_old {
        assert_eq!(
            folder_of(&app, doc).await.as_deref(),
            Some(projects.as_str())
        );
    }
    assert_eq!(
        folder_of(&app, in_deep).await.as_deref(),
        Some(deep.as_str())
    );
    assert_eq!(
        folder_of(&app, in_projects).await.as_deref(),
        Some(projects.as_str())
    );

    let items = list(&app, &alice).await;
    assert!(items.iter().all(|f| f["id"] != old.as_str()));
    assert_eq!(
        by_id(&items, &projects)["document_count"],
        2,
        "pending uploads not counted"
    );
    let placed = |id: &str| {
        let f = by_id(&items, id);
        (
            f["name"].as_str().unwrap().to_owned(),
            f["parent_id"].as_str().unwrap().to_owned(),
        )
    };
    // Clashes get the first free number; free names (even the deleted folder's) are kept.
    assert_eq!(placed(&alpha), ("alpha (3)".into(), projects.clone()));
    assert_eq!(placed(&beta), ("Beta (2)".into(), projects.clone()));
    assert_eq!(placed(&old_old), ("old".into(), projects.clone()));
    assert_eq!(placed(&gamma), ("Gamma".into(), projects.clone()));
    assert_eq!(placed(&alpha_top), ("Alpha".into(), projects.clone()));
    assert_eq!(placed(&deep), ("deep".into(), alpha.clone()));
    assert_eq!(by_id(&items, &deep)["document_count"], 1);
    assert_eq!(items.len(), 9);

    // Deleting a root folder moves its documents out of any folder and its
    // sub-folders to the root.
    let res = delete(&app, &alice, &projects).await;
    assert_eq!(res.status(), 204);
    for doc in [in_old[0], in_old[1], in_projects] {
        assert_eq!(folder_of(&app, doc).await, None);
    }
    let items = list(&app, &alice).await;
    assert_eq!(items.len(), 8);
    assert!(
        items
            .iter()
            .all(|f| f["parent_id"].is_null() || f["id"] == deep.as_str())
    );
    let names: Vec<&str> = items.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "Alpha",
            "Alpha (2)",
            "alpha (3)",
            "beta",
            "Beta (2)",
            "deep",
            "Gamma",
            "old"
        ]
    );
    // Every row is still the caller's, with names unique per parent.
    let rows = folders::Entity::find().all(&app.state.db).await.unwrap();
    assert_eq!(rows.len(), 8);
}

#[tokio::test]
async fn concurrent_changes_cannot_form_a_cycle_or_a_duplicate() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    for round in 0..5 {
        let a = create(&app, &alice, &format!("a{round}"), None).await;
        let b = create(&app, &alice, &format!("b{round}"), None).await;
        let (ab, ba) = tokio::join!(
            patch(&app, &alice, &a, json!({"parent_id": b})),
            patch(&app, &alice, &b, json!({"parent_id": a})),
        );
        let mut statuses = [ab.status().as_u16(), ba.status().as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 409], "round {round}");

        let name = format!("Same{round}");
        let (upper, lower) = tokio::join!(
            create_raw(&app, &alice, json!({"name": name})),
            create_raw(&app, &alice, json!({"name": name.to_lowercase()})),
        );
        let mut statuses = [upper.status().as_u16(), lower.status().as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [201, 409], "round {round}");
    }
}
