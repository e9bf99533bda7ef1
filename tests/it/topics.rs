//! Topics end to end over HTTP: a user's own topics next to the system topics, names
//! unique ignoring case (also against system topics), ownership, roles, document
//! counts, deletion that unfiles documents, and input validation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::body;

use common::{Session, TestApp};
use docuvault::entities::{document_topics, documents, topics};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::{Value, json};
use uuid::Uuid;

async fn list(app: &TestApp, s: &Session) -> Vec<Value> {
    let res = app.get_auth("/api/topics", &s.access).await;
    assert_eq!(res.status(), 200);
    body(res).await["items"].as_array().unwrap().clone()
}

fn names(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

fn by_id<'a>(items: &'a [Value], id: &str) -> &'a Value {
    items
        .iter()
        .find(|t| t["id"] == id)
        .unwrap_or_else(|| panic!("topic {id} not listed"))
}

async fn create_raw(app: &TestApp, s: &Session, path: &str, payload: Value) -> reqwest::Response {
    app.post_json(path, Some(&s.access), &payload).await
}

/// Creates a user topic `name` and returns its id.
async fn create(app: &TestApp, s: &Session, name: &str) -> String {
    let res = create_raw(app, s, "/api/topics", json!({"name": name})).await;
    assert_eq!(res.status(), 201, "create {name}");
    body(res).await["id"].as_str().unwrap().to_owned()
}

/// Creates a system topic `name` as `admin` and returns its id.
async fn create_system(app: &TestApp, admin: &Session, name: &str) -> String {
    let res = create_raw(app, admin, "/api/admin/topics", json!({"name": name})).await;
    assert_eq!(res.status(), 201, "create system {name}");
    body(res).await["id"].as_str().unwrap().to_owned()
}

async fn patch(app: &TestApp, s: &Session, path: &str, payload: Value) -> reqwest::Response {
    app.patch_auth(path, &s.access, &payload).await
}

async fn delete(app: &TestApp, s: &Session, path: &str) -> reqwest::Response {
    app.delete_auth(path, &s.access).await
}

/// Inserts a document row directly (the upload flow is tested elsewhere).
async fn insert_document(app: &TestApp, owner: &Session, status: &str) -> Uuid {
    let mut row = common::document_row(Uuid::parse_str(&owner.user_id).unwrap());
    row.status = Set(status.parse().unwrap());
    row.insert(&app.state.db).await.unwrap().id
}

/// Files `doc` under `topic` directly.
async fn link(app: &TestApp, doc: Uuid, topic: &str, source: &str) {
    document_topics::ActiveModel {
        document_id: Set(doc),
        topic_id: Set(Uuid::parse_str(topic).unwrap()),
        source: Set(source.parse().unwrap()),
        confidence: Set((source == "ai").then_some(0.9)),
        created_at: Set(docuvault::time::now()),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
}

async fn links_of(app: &TestApp, topic: &str) -> u64 {
    document_topics::Entity::find()
        .filter(document_topics::Column::TopicId.eq(Uuid::parse_str(topic).unwrap()))
        .count(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn create_list_update_and_delete() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    assert!(list(&app, &alice).await.is_empty());

    let res = create_raw(
        &app,
        &alice,
        "/api/topics",
        json!({"name": "  Work  ", "description": " Job stuff ", "color": "#A0B1C2"}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let work = body(res).await;
    assert_eq!(work["name"], "Work");
    assert_eq!(work["description"], "Job stuff");
    assert_eq!(work["color"], "#a0b1c2");
    assert_eq!(work["system"], false);
    assert_eq!(work["document_count"], 0);
    let work = work["id"].as_str().unwrap().to_owned();
    let tax = create(&app, &alice, "tax").await;
    create(&app, &alice, "Zeta").await;
    let res = create_raw(&app, &alice, "/api/topics", json!({"name": "Bare"})).await;
    let bare = body(res).await;
    assert_eq!(bare["description"], Value::Null);
    assert_eq!(bare["color"], Value::Null);

    // Sorted by name, ignoring case.
    let items = list(&app, &alice).await;
    assert_eq!(names(&items), ["Bare", "tax", "Work", "Zeta"]);
    assert_eq!(by_id(&items, &work)["color"], "#a0b1c2");

    // Absent fields stay; null clears.
    let res = patch(
        &app,
        &alice,
        &format!("/api/topics/{work}"),
        json!({"name": "Job"}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let job = body(res).await;
    assert_eq!(job["name"], "Job");
    assert_eq!(job["description"], "Job stuff");
    assert_eq!(job["color"], "#a0b1c2");
    let res = patch(
        &app,
        &alice,
        &format!("/api/topics/{work}"),
        json!({"description": null, "color": "#00ff00"}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let job = body(res).await;
    assert_eq!(job["name"], "Job");
    assert_eq!(job["description"], Value::Null);
    assert_eq!(job["color"], "#00ff00");
    let res = patch(&app, &alice, &format!("/api/topics/{work}"), json!({})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["name"], "Job");
    let res = patch(
        &app,
        &alice,
        &format!("/api/topics/{work}"),
        json!({"color": null, "description": "  "}),
    )
    .await;
    let job = body(res).await;
    assert_eq!(job["color"], Value::Null);
    assert_eq!(job["description"], Value::Null, "blank description is none");

    // Renaming to a different case of its own name is fine.
    let res = patch(
        &app,
        &alice,
        &format!("/api/topics/{tax}"),
        json!({"name": "TAX"}),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["name"], "TAX");

    let res = delete(&app, &alice, &format!("/api/topics/{tax}")).await;
    assert_eq!(res.status(), 204);
    assert_eq!(names(&list(&app, &alice).await), ["Bare", "Job", "Zeta"]);
    let res = delete(&app, &alice, &format!("/api/topics/{tax}")).await;
    assert_eq!(res.status(), 404);
}

/// One name rule everywhere (issue 12): names that differ only in the spaces around or
/// between words clash, as the classifier already matched them. Before, the topics
/// service let `home  insurance` sit next to `Home Insurance` (two topics that read the
/// same), and classification created its topics with a third rule of its own.
#[tokio::test]
async fn names_differing_only_in_spaces_clash_everywhere() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let admin = app.admin("root").await;

    let home = create(&app, &alice, "Home Insurance").await;
    for clash in [
        "home  insurance",
        "Home\u{00A0}INSURANCE",
        " home insurance",
    ] {
        let res = create_raw(&app, &alice, "/api/topics", json!({"name": clash})).await;
        assert_eq!(res.status(), 409, "{clash:?}");
        assert_eq!(body(res).await["code"], "topic_exists");
    }
    create_system(&app, &admin, "Car  Tax").await;
    let res = create_raw(&app, &alice, "/api/topics", json!({"name": "car tax"})).await;
    assert_eq!(res.status(), 409);
    let res = create_raw(
        &app,
        &admin,
        "/api/admin/topics",
        json!({"name": "CAR TAX"}),
    )
    .await;
    assert_eq!(res.status(), 409);

    // Topics classification proposes go through the same rule: an existing topic of the
    // owner, or a system topic, is reused; only a new name makes a new topic.
    let user: docuvault::domain::UserId = alice.user_id.parse::<Uuid>().unwrap().into();
    let db = &app.state.db;
    let found = |name: &str| {
        let name = docuvault::topics::service::TopicName::parse(name).unwrap();
        async move {
            docuvault::topics::service::find_or_create_for(db, user, &name)
                .await
                .unwrap()
        }
    };
    assert_eq!(found("HOME   insurance").await.to_string(), home);
    let car_tax = found("car tax").await;
    let system = topics::Entity::find_by_id(car_tax)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(system.user_id, None, "the system topic is reused");
    let pets = found("Pets").await;
    assert_eq!(found("pets").await, pets);
    let owned = topics::Entity::find()
        .filter(topics::Column::UserId.eq(user))
        .count(db)
        .await
        .unwrap();
    assert_eq!(owned, 2, "Home Insurance and Pets");
}

#[tokio::test]
async fn names_are_unique_ignoring_case_including_system_topics() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let admin = app.admin("root").await;

    let tax = create(&app, &alice, "Tax").await;
    for clash in ["tax", "TAX", " Tax "] {
        let res = create_raw(&app, &alice, "/api/topics", json!({"name": clash})).await;
        assert_eq!(res.status(), 409, "{clash:?}");
        assert_eq!(body(res).await["code"], "topic_exists");
    }
    let other = create(&app, &alice, "Other").await;
    let res = patch(
        &app,
        &alice,
        &format!("/api/topics/{other}"),
        json!({"name": "tAX"}),
    )
    .await;
    assert_eq!(res.status(), 409);
    assert_eq!(body(res).await["code"], "topic_exists");
    // Non-ASCII case folding counts too.
    create(&app, &alice, "Ärger").await;
    let res = create_raw(&app, &alice, "/api/topics", json!({"name": "äRGER"})).await;
    assert_eq!(res.status(), 409);

    // Another account's namespace is separate.
    create(&app, &bob, "TAX").await;

    // A user's topic may not take a system topic's name, in any case.
    create_system(&app, &admin, "Invoices").await;
    let res = create_raw(&app, &alice, "/api/topics", json!({"name": "invoices"})).await;
    assert_eq!(res.status(), 409);
    assert_eq!(body(res).await["code"], "topic_exists");
    let res = patch(
        &app,
        &alice,
        &format!("/api/topics/{other}"),
        json!({"name": "INVOICES"}),
    )
    .await;
    assert_eq!(res.status(), 409);

    // System names are unique among themselves; users' names do not block them.
    let res = create_raw(
        &app,
        &admin,
        "/api/admin/topics",
        json!({"name": "INVOICES"}),
    )
    .await;
    assert_eq!(res.status(), 409);
    assert_eq!(body(res).await["code"], "topic_exists");
    create_system(&app, &admin, "tax").await;
    let items = list(&app, &alice).await;
    assert_eq!(
        names(&items),
        ["Invoices", "Other", "tax", "Tax", "Ärger"],
        "both stay listed; system first on a tie"
    );
    assert_eq!(by_id(&items, &tax)["system"], false);
    // Alice may still rename her own topic within its case.
    let res = patch(
        &app,
        &alice,
        &format!("/api/topics/{tax}"),
        json!({"name": "Tax", "color": "#123456"}),
    )
    .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn other_accounts_and_system_topics_are_not_yours() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let admin = app.admin("root").await;
    let bobs = create(&app, &bob, "Private").await;
    let system = create_system(&app, &admin, "Shared").await;
    let random = Uuid::new_v4().to_string();

    let missing = body(
        patch(
            &app,
            &alice,
            &format!("/api/topics/{random}"),
            json!({"name": "x"}),
        )
        .await,
    )
    .await;
    assert_eq!(missing["code"], "not_found");
    for id in [&bobs, &system] {
        let res = patch(
            &app,
            &alice,
            &format!("/api/topics/{id}"),
            json!({"name": "x"}),
        )
        .await;
        assert_eq!(res.status(), 404);
        assert_eq!(body(res).await, missing);
        let res = delete(&app, &alice, &format!("/api/topics/{id}")).await;
        assert_eq!(res.status(), 404);
        assert_eq!(body(res).await, missing);
    }
    let res = delete(&app, &alice, &format!("/api/topics/{random}")).await;
    assert_eq!(body(res).await, missing);
    // Bob's topic is untouched and invisible to Alice.
    assert_eq!(names(&list(&app, &bob).await), ["Private", "Shared"]);
    assert_eq!(names(&list(&app, &alice).await), ["Shared"]);

    // Admin routes only reach system topics.
    let res = patch(
        &app,
        &admin,
        &format!("/api/admin/topics/{bobs}"),
        json!({"name": "x"}),
    )
    .await;
    assert_eq!(res.status(), 404);
    let res = delete(&app, &admin, &format!("/api/admin/topics/{bobs}")).await;
    assert_eq!(res.status(), 404);
    assert_eq!(names(&list(&app, &bob).await), ["Private", "Shared"]);
}

#[tokio::test]
async fn roles_are_enforced() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let admin = app.admin("root").await;
    let mine = create(&app, &alice, "Mine").await;
    let system = create_system(&app, &admin, "Sys").await;

    // Admins are refused on the user routes before the body is read.
    let res = app.get_auth("/api/topics", &admin.access).await;
    assert_eq!(res.status(), 403);
    let res = create_raw(&app, &admin, "/api/topics", json!({"name": "x"})).await;
    assert_eq!(res.status(), 403);
    let res = create_raw(&app, &admin, "/api/topics", json!({"bogus": 1})).await;
    assert_eq!(res.status(), 403);
    let res = patch(&app, &admin, &format!("/api/topics/{mine}"), json!({})).await;
    assert_eq!(res.status(), 403);
    let res = delete(&app, &admin, &format!("/api/topics/{mine}")).await;
    assert_eq!(res.status(), 403);

    // Users are refused on the admin routes.
    let res = app.get_auth("/api/admin/topics", &alice.access).await;
    assert_eq!(res.status(), 403);
    let res = create_raw(&app, &alice, "/api/admin/topics", json!({"name": "x"})).await;
    assert_eq!(res.status(), 403);
    let res = patch(
        &app,
        &alice,
        &format!("/api/admin/topics/{system}"),
        json!({"name": "x"}),
    )
    .await;
    assert_eq!(res.status(), 403);
    let res = delete(&app, &alice, &format!("/api/admin/topics/{system}")).await;
    assert_eq!(res.status(), 403);

    // No token at all.
    assert_eq!(app.get("/api/topics").await.status(), 401);
    assert_eq!(app.get("/api/admin/topics").await.status(), 401);
    let res = app
        .post_json("/api/topics", None, &json!({"name": "x"}))
        .await;
    assert_eq!(res.status(), 401);
    assert_eq!(names(&list(&app, &alice).await), ["Mine", "Sys"]);
}

#[tokio::test]
async fn system_topics_are_managed_by_admins_and_visible_to_all() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let admin = app.admin("root").await;

    let res = create_raw(
        &app,
        &admin,
        "/api/admin/topics",
        json!({"name": " Receipts ", "description": "Shops", "color": "#FFAA00"}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let receipts = body(res).await;
    assert_eq!(receipts["name"], "Receipts");
    assert_eq!(receipts["color"], "#ffaa00");
    assert!(receipts["created_at"].is_string());
    let receipts = receipts["id"].as_str().unwrap().to_owned();
    create_system(&app, &admin, "contracts").await;
    create(&app, &alice, "Mine").await;

    let res = app.get_auth("/api/admin/topics", &admin.access).await;
    assert_eq!(res.status(), 200);
    let items = body(res).await["items"].as_array().unwrap().clone();
    assert_eq!(names(&items), ["contracts", "Receipts"], "no user topics");

    for s in [&alice, &bob] {
        let items = list(&app, s).await;
        let r = by_id(&items, &receipts);
        assert_eq!(r["system"], true);
        assert_eq!(r["description"], "Shops");
        assert_eq!(r["document_count"], 0);
    }
    assert_eq!(
        names(&list(&app, &alice).await),
        ["contracts", "Mine", "Receipts"]
    );
    assert_eq!(names(&list(&app, &bob).await), ["contracts", "Receipts"]);

    let res = patch(
        &app,
        &admin,
        &format!("/api/admin/topics/{receipts}"),
        json!({"name": "Bills", "description": null}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let bills = body(res).await;
    assert_eq!(bills["name"], "Bills");
    assert_eq!(bills["description"], Value::Null);
    assert_eq!(bills["color"], "#ffaa00");
    let res = patch(
        &app,
        &admin,
        &format!("/api/admin/topics/{receipts}"),
        json!({"name": "CONTRACTS"}),
    )
    .await;
    assert_eq!(res.status(), 409);
    assert_eq!(names(&list(&app, &bob).await), ["Bills", "contracts"]);

    let res = delete(&app, &admin, &format!("/api/admin/topics/{receipts}")).await;
    assert_eq!(res.status(), 204);
    assert_eq!(names(&list(&app, &bob).await), ["contracts"]);
    let res = delete(&app, &admin, &format!("/api/admin/topics/{receipts}")).await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn counts_are_per_caller_and_deleting_unfiles_documents() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let admin = app.admin("root").await;
    let work = create(&app, &alice, "Work").await;
    let empty = create(&app, &alice, "Empty").await;
    let system = create_system(&app, &admin, "Receipts").await;

    let a1 = insert_document(&app, &alice, "queued").await;
    let a2 = insert_document(&app, &alice, "classified").await;
    let a3 = insert_document(&app, &alice, "classified").await;
    let pending = insert_document(&app, &alice, "pending").await;
    let b1 = insert_document(&app, &bob, "classified").await;
    link(&app, a1, &work, "user").await;
    link(&app, a2, &work, "ai").await;
    link(&app, a2, &system, "ai").await;
    link(&app, a3, &system, "user").await;
    link(&app, pending, &work, "user").await;
    link(&app, b1, &system, "user").await;

    let items = list(&app, &alice).await;
    assert_eq!(
        by_id(&items, &work)["document_count"],
        2,
        "pending not counted"
    );
    assert_eq!(by_id(&items, &system)["document_count"], 2);
    assert_eq!(by_id(&items, &empty)["document_count"], 0);
    let items = list(&app, &bob).await;
    assert_eq!(by_id(&items, &system)["document_count"], 1, "only bob's");
    let res = patch(
        &app,
        &alice,
        &format!("/api/topics/{work}"),
        json!({"color": "#000000"}),
    )
    .await;
    assert_eq!(body(res).await["document_count"], 2);

    // Deleting a topic removes its links; the documents stay.
    assert_eq!(links_of(&app, &work).await, 3);
    let res = delete(&app, &alice, &format!("/api/topics/{work}")).await;
    assert_eq!(res.status(), 204);
    assert_eq!(links_of(&app, &work).await, 0);
    assert_eq!(links_of(&app, &system).await, 3);
    for doc in [a1, a2, pending] {
        assert!(
            documents::Entity::find_by_id(doc)
                .one(&app.state.db)
                .await
                .unwrap()
                .is_some()
        );
    }
    let items = list(&app, &alice).await;
    assert_eq!(by_id(&items, &system)["document_count"], 2);

    // Deleting a system topic unfiles every account's documents.
    let res = delete(&app, &admin, &format!("/api/admin/topics/{system}")).await;
    assert_eq!(res.status(), 204);
    assert_eq!(links_of(&app, &system).await, 0);
    assert_eq!(
        document_topics::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        0
    );
    assert_eq!(names(&list(&app, &alice).await), ["Empty"]);
    assert!(list(&app, &bob).await.is_empty());
    assert_eq!(
        documents::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        5
    );
}

#[tokio::test]
async fn topic_rows_cascade_through_the_foreign_key() {
    // The schema itself removes links when a topic row goes, whatever deletes it.
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let topic = create(&app, &alice, "T").await;
    let doc = insert_document(&app, &alice, "classified").await;
    link(&app, doc, &topic, "user").await;
    topics::Entity::delete_by_id(Uuid::parse_str(&topic).unwrap())
        .exec(&app.state.db)
        .await
        .unwrap();
    assert_eq!(links_of(&app, &topic).await, 0);
}

#[tokio::test]
async fn input_is_validated() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let admin = app.admin("root").await;
    let topic = create(&app, &alice, "Topic").await;

    let long_description = "d".repeat(2001);
    let bad_bodies = [
        json!({"name": ""}),
        json!({"name": "   "}),
        json!({"name": "\u{3000}"}),
        json!({"name": "x".repeat(101)}),
        json!({"name": "tab\there"}),
        json!({"name": "nul\u{0}"}),
        json!({"name": "c1\u{85}"}),
        json!({"name": "x", "color": "red"}),
        json!({"name": "x", "color": "#12345"}),
        json!({"name": "x", "color": "#1234567"}),
        json!({"name": "x", "color": "123456"}),
        json!({"name": "x", "color": "#12345G"}),
        json!({"name": "x", "description": long_description}),
        json!({"name": "x", "description": "nul\u{0}"}),
        json!({"name": "x", "colour": "#123456"}),
        json!({}),
        json!({"name": 5}),
        json!({"name": null}),
        json!(["x"]),
        json!("x"),
    ];
    for payload in &bad_bodies {
        let res = create_raw(&app, &alice, "/api/topics", payload.clone()).await;
        assert_eq!(res.status(), 422, "{payload}");
        assert_eq!(body(res).await["code"], "validation_failed");
        let res = create_raw(&app, &admin, "/api/admin/topics", payload.clone()).await;
        assert_eq!(res.status(), 422, "admin {payload}");
    }
    for payload in [
        json!({"name": ""}),
        json!({"name": " "}),
        json!({"color": "blue"}),
        json!({"description": "\u{7}"}),
        json!({"other": 1}),
    ] {
        let res = patch(
            &app,
            &alice,
            &format!("/api/topics/{topic}"),
            payload.clone(),
        )
        .await;
        assert_eq!(res.status(), 422, "{payload}");
    }
    let res = app
        .post_raw(
            "/api/topics",
            Some(&alice.access),
            "application/json",
            "{nope",
        )
        .await;
    assert_eq!(res.status(), 400);
    let res = app
        .post_raw(
            "/api/topics",
            Some(&alice.access),
            "text/plain",
            r#"{"name": "x"}"#,
        )
        .await;
    assert_eq!(res.status(), 415);
    let res = app.get_auth("/api/topics/not-a-uuid", &alice.access).await;
    assert!(res.status().is_client_error());

    // The limits themselves are fine; so are slashes, dots and line breaks in descriptions.
    let longest = "é".repeat(100);
    for (name, description) in [
        (longest.as_str(), "d".repeat(2000)),
        ("a/b", "line\nbreak\ttab".into()),
        ("..", String::new()),
    ] {
        let res = create_raw(
            &app,
            &alice,
            "/api/topics",
            json!({"name": name, "description": description, "color": "#abcDEF"}),
        )
        .await;
        assert_eq!(res.status(), 201, "{name:?}");
        assert_eq!(body(res).await["name"], name);
    }
    assert_eq!(list(&app, &alice).await.len(), 4);
}

#[tokio::test]
async fn concurrent_creations_cannot_duplicate_a_name() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let admin = app.admin("root").await;
    for round in 0..5 {
        let name = format!("Same{round}");
        for (s, path) in [(&alice, "/api/topics"), (&admin, "/api/admin/topics")] {
            let (upper, lower) = tokio::join!(
                create_raw(&app, s, path, json!({"name": name})),
                create_raw(&app, s, path, json!({"name": name.to_lowercase()})),
            );
            let mut statuses = [upper.status().as_u16(), lower.status().as_u16()];
            statuses.sort_unstable();
            assert_eq!(statuses, [201, 409], "{path} round {round}");
        }
    }
}

#[tokio::test]
async fn admin_changes_to_system_topics_are_audited() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let id = create_system(&app, &admin, "Invoices").await;
    let res = patch(
        &app,
        &admin,
        &format!("/api/admin/topics/{id}"),
        json!({"color": "#112233"}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let res = app
        .client
        .delete(app.url(&format!("/api/admin/topics/{id}")))
        .bearer_auth(&admin.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let log = body(
        app.get_auth("/api/admin/audit-log?per_page=100", &admin.access)
            .await,
    )
    .await;
    let events: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["resource_id"] == json!(id))
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(events.len(), 3, "{events:?}");
    for e in [
        "admin_topic_created",
        "admin_topic_updated",
        "admin_topic_deleted",
    ] {
        assert!(events.contains(&e), "{e} missing from {events:?}");
    }
}
