//! The list filters of `GET /api/documents` over HTTP, on SQLite and PostgreSQL: upload
//! date range, type, size, a folder with its sub-folders, and documents shared with the
//! caller (`include_shared`, `owner_handle`) — each on the plain list and on a search,
//! with the bad values each one refuses.
//!
//! Documents are inserted directly (as the pipeline leaves them, extracted text
//! included); every read and every share goes over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use docuvault::entities::documents;
use reqwest::Method;
use sea_orm::{EntityTrait, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::{self, Session, TestApp, body};

/// A test document; `Default` gives a classified 1 000-byte PDF at the root whose text
/// has the word "alpha".
#[derive(Clone)]
struct Doc {
    filename: &'static str,
    content_type: &'static str,
    size: i64,
    created_at: DateTime<Utc>,
    folder: Option<Uuid>,
    sha256: Option<&'static str>,
}

impl Default for Doc {
    fn default() -> Self {
        Self {
            filename: "doc.pdf",
            content_type: "application/pdf",
            size: 1000,
            created_at: at("2026-01-10T12:00:00Z"),
            folder: None,
            sha256: None,
        }
    }
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&Utc)
}

async fn insert(app: &TestApp, owner: &Session, doc: Doc) -> String {
    let mut row = common::document_row(Uuid::parse_str(&owner.user_id).unwrap());
    let id = *row.id.as_ref();
    row.filename = Set(doc.filename.into());
    row.content_type = Set(doc.content_type.into());
    row.size_bytes = Set(doc.size);
    row.folder_id = Set(doc.folder);
    row.sha256 = Set(doc.sha256.map(str::to_owned));
    row.status = Set("classified".parse().unwrap());
    row.attempts = Set(1);
    row.created_at = Set(doc.created_at);
    row.updated_at = Set(doc.created_at);
    documents::Entity::insert(row)
        .exec_without_returning(&app.state.db)
        .await
        .unwrap();
    common::set_text(app, id, format!("alpha words of {}", doc.filename)).await;
    id.to_string()
}

/// `GET /api/documents?{query}` as `s`: status and body.
async fn list(app: &TestApp, s: &Session, query: &str) -> (u16, Value) {
    let res = app
        .get_auth(&format!("/api/documents?{query}"), &s.access)
        .await;
    (res.status().as_u16(), body(res).await)
}

/// The ids of a page that must answer 200 (and whose total must match).
async fn ids(app: &TestApp, s: &Session, query: &str) -> BTreeSet<String> {
    let (status, page) = list(app, s, query).await;
    assert_eq!(status, 200, "GET ?{query}: {page}");
    let ids: BTreeSet<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(page["total"], ids.len(), "total of ?{query}");
    ids
}

/// The same filter on the list and on a search for "alpha" (every test document's text
/// has it) gives `expected`.
async fn both(app: &TestApp, s: &Session, filter: &str, expected: &[&String]) {
    let expected: BTreeSet<String> = expected.iter().map(|s| (*s).clone()).collect();
    assert_eq!(ids(app, s, filter).await, expected, "list ?{filter}");
    assert_eq!(
        ids(app, s, &format!("q=alpha&{filter}")).await,
        expected,
        "search ?{filter}"
    );
}

fn set(ids: &[&String]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).clone()).collect()
}

#[tokio::test]
async fn type_date_and_size_filters_narrow_lists_and_searches() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let pdf = insert(&app, &alice, Doc::default()).await;
    let png = insert(
        &app,
        &alice,
        Doc {
            filename: "scan.png",
            content_type: "image/png",
            size: 50_000,
            created_at: at("2026-02-15T08:00:00Z"),
            ..Doc::default()
        },
    )
    .await;
    let txt = insert(
        &app,
        &alice,
        Doc {
            filename: "note.txt",
            content_type: "text/plain",
            size: 5_000,
            created_at: at("2026-03-20T00:00:00Z"),
            ..Doc::default()
        },
    )
    .await;
    let late = insert(
        &app,
        &alice,
        Doc {
            filename: "contract.pdf",
            size: 200_000,
            created_at: at("2026-03-31T23:30:00Z"),
            ..Doc::default()
        },
    )
    .await;
    // Bob's documents match every filter and never appear.
    insert(&app, &bob, Doc::default()).await;

    both(&app, &alice, "", &[&pdf, &png, &txt, &late]).await;
    both(&app, &alice, "content_type=application/pdf", &[&pdf, &late]).await;
    both(
        &app,
        &alice,
        "content_type=image/png,text/plain",
        &[&png, &txt],
    )
    .await;
    // Types are read like upload types (case, parameters); repeats are harmless.
    both(
        &app,
        &alice,
        "content_type=IMAGE/PNG,image/png%3B%20x%3Dy",
        &[&png],
    )
    .await;
    both(
        &app,
        &alice,
        "created_from=2026-02-15",
        &[&png, &txt, &late],
    )
    .await;
    both(
        &app,
        &alice,
        "created_from=2026-02-15T08:00:01Z",
        &[&txt, &late],
    )
    .await;
    // A date as the end takes the whole day (UTC).
    both(
        &app,
        &alice,
        "created_to=2026-03-31",
        &[&pdf, &png, &txt, &late],
    )
    .await;
    both(&app, &alice, "created_to=2026-03-30", &[&pdf, &png, &txt]).await;
    both(
        &app,
        &alice,
        "created_to=2026-03-20T00:00:00Z",
        &[&pdf, &png, &txt],
    )
    .await;
    both(
        &app,
        &alice,
        "created_from=2026-02-01&created_to=2026-03-20",
        &[&png, &txt],
    )
    .await;
    both(&app, &alice, "size_min=5000", &[&png, &txt, &late]).await;
    both(&app, &alice, "size_max=5000", &[&pdf, &txt]).await;
    both(&app, &alice, "size_min=2000&size_max=100000", &[&png, &txt]).await;
    both(
        &app,
        &alice,
        "content_type=application/pdf&size_min=2000&created_from=2026-03-01",
        &[&late],
    )
    .await;
    // Sorted and paged with a filter: pages partition the matches.
    let (_, page1) = list(&app, &alice, "size_min=2000&sort=size&order=asc&per_page=2").await;
    assert_eq!(page1["items"][0]["id"], json!(txt));
    assert_eq!(page1["items"][1]["id"], json!(png));
    assert_eq!(page1["total"], 3);
    let (_, page2) = list(
        &app,
        &alice,
        "size_min=2000&sort=size&order=asc&per_page=2&page=2",
    )
    .await;
    assert_eq!(page2["items"][0]["id"], json!(late));
    assert_eq!(page2["total"], 3);
}

#[tokio::test]
async fn bad_filter_values_are_refused_with_invalid_query() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    insert(&app, &alice, Doc::default()).await;
    for query in [
        "content_type=application/x-msdownload",
        "content_type=application/pdf,",
        "content_type=image/svg%2Bxml",
        "created_from=yesterday",
        "created_from=2026-13-01",
        "created_to=2026-02-30",
        "created_from=2026-03-01&created_to=2026-02-28",
        "created_from=2026-03-01T10:00:00Z&created_to=2026-03-01T09:59:59Z",
        "size_min=-1",
        "size_min=ten",
        "size_max=18446744073709551615",
        "size_min=10&size_max=9",
        "include_shared=maybe",
        "include_subfolders=2",
    ] {
        for search in ["", "q=alpha&"] {
            let (status, err) = list(&app, &alice, &format!("{search}{query}")).await;
            assert_eq!(status, 400, "?{search}{query}: {err}");
            assert_eq!(err["code"], "invalid_query", "?{search}{query}");
        }
    }
    // The edges of a range are allowed.
    assert_eq!(
        ids(&app, &alice, "size_min=1000&size_max=1000").await.len(),
        1
    );
    assert_eq!(
        ids(
            &app,
            &alice,
            "created_from=2026-01-10&created_to=2026-01-10"
        )
        .await
        .len(),
        1
    );
}

async fn folder(app: &TestApp, s: &Session, name: &str, parent: Option<&str>) -> String {
    let res = app
        .post_json(
            "/api/folders",
            Some(&s.access),
            &json!({"name": name, "parent_id": parent}),
        )
        .await;
    assert_eq!(res.status(), 201);
    body(res).await["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_folder_with_its_sub_folders_at_any_depth() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let a = folder(&app, &alice, "A", None).await;
    let b = folder(&app, &alice, "B", Some(&a)).await;
    let c = folder(&app, &alice, "C", Some(&b)).await;
    let x = folder(&app, &alice, "X", None).await;
    let in_folder = |f: &String| Doc {
        folder: Some(Uuid::parse_str(f).unwrap()),
        ..Doc::default()
    };
    let da = insert(&app, &alice, in_folder(&a)).await;
    let db = insert(&app, &alice, in_folder(&b)).await;
    let dc = insert(&app, &alice, in_folder(&c)).await;
    let dx = insert(&app, &alice, in_folder(&x)).await;
    let root = insert(&app, &alice, Doc::default()).await;

    both(&app, &alice, &format!("folder_id={a}"), &[&da]).await;
    both(
        &app,
        &alice,
        &format!("folder_id={a}&include_subfolders=true"),
        &[&da, &db, &dc],
    )
    .await;
    both(
        &app,
        &alice,
        &format!("folder_id={b}&include_subfolders=true"),
        &[&db, &dc],
    )
    .await;
    both(
        &app,
        &alice,
        &format!("folder_id={c}&include_subfolders=true"),
        &[&dc],
    )
    .await;
    both(
        &app,
        &alice,
        &format!("folder_id={a}&include_subfolders=false"),
        &[&da],
    )
    .await;
    // Without a folder, sub-folders change nothing: everything is listed.
    both(
        &app,
        &alice,
        "include_subfolders=true",
        &[&da, &db, &dc, &dx, &root],
    )
    .await;
    // An empty sub-tree, and someone else's folder, list nothing.
    let empty = folder(&app, &alice, "Empty", None).await;
    both(
        &app,
        &alice,
        &format!("folder_id={empty}&include_subfolders=true"),
        &[],
    )
    .await;
    both(
        &app,
        &bob,
        &format!("folder_id={a}&include_subfolders=true"),
        &[],
    )
    .await;
    // After a move the tree is read afresh.
    let res = app
        .patch_auth(
            &format!("/api/folders/{c}"),
            &alice.access,
            &json!({"parent_id": x}),
        )
        .await;
    assert_eq!(res.status(), 200);
    both(
        &app,
        &alice,
        &format!("folder_id={x}&include_subfolders=true"),
        &[&dx, &dc],
    )
    .await;
}

async fn share(app: &TestApp, owner: &Session, doc: &str, recipient: &str) -> String {
    let res = app
        .post_json(
            &format!("/api/documents/{doc}/shares"),
            Some(&owner.access),
            &json!({ "recipient": recipient }),
        )
        .await;
    assert_eq!(res.status(), 201, "share {doc} with {recipient}");
    body(res).await["id"].as_str().unwrap().to_owned()
}

/// The owner handle of each listed document, by id.
async fn owners(app: &TestApp, s: &Session, query: &str) -> Vec<(String, String)> {
    let (status, page) = list(app, s, query).await;
    assert_eq!(status, 200, "?{query}: {page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["id"].as_str().unwrap().to_owned(),
                d["owner_handle"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn shared_documents_join_lists_and_searches_when_asked_for() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let sha = "ab".repeat(32);
    let sha: &'static str = Box::leak(sha.into_boxed_str());
    let shared = insert(
        &app,
        &alice,
        Doc {
            filename: "shared.pdf",
            sha256: Some(sha),
            created_at: at("2026-01-11T00:00:00Z"),
            ..Doc::default()
        },
    )
    .await;
    // Alice's copy of the same bytes: the shared one is a duplicate in her vault.
    let copy = insert(
        &app,
        &alice,
        Doc {
            filename: "copy.pdf",
            sha256: Some(sha),
            created_at: at("2026-01-01T00:00:00Z"),
            ..Doc::default()
        },
    )
    .await;
    let private = insert(&app, &alice, Doc::default()).await;
    let trashed = insert(&app, &alice, Doc::default()).await;
    let revoked = insert(&app, &alice, Doc::default()).await;
    let carols = insert(&app, &carol, Doc::default()).await;
    let bobs = insert(
        &app,
        &bob,
        Doc {
            filename: "mine.png",
            content_type: "image/png",
            size: 9_000,
            ..Doc::default()
        },
    )
    .await;
    share(&app, &alice, &shared, "bob").await;
    share(&app, &alice, &trashed, "bob").await;
    let revoke = share(&app, &alice, &revoked, "bob").await;
    share(&app, &carol, &carols, "alice").await;
    let res = app
        .delete_auth(&format!("/api/documents/{trashed}"), &alice.access)
        .await;
    assert_eq!(res.status(), 204);

    // Without asking: only his own, with his own handle.
    assert_eq!(
        owners(&app, &bob, "").await,
        vec![(bobs.clone(), "bob".into())]
    );
    assert_eq!(ids(&app, &bob, "q=alpha").await, set(&[&bobs]));
    // Asking: what alice shared with him (not the trashed one, not carol's), on lists and
    // searches, each with its owner's handle.
    both(
        &app,
        &bob,
        "include_shared=true",
        &[&bobs, &shared, &revoked],
    )
    .await;
    let mut got = owners(&app, &bob, "include_shared=true&q=alpha").await;
    got.sort();
    let mut want = vec![
        (bobs.clone(), "bob".to_owned()),
        (shared.clone(), "alice".to_owned()),
        (revoked.clone(), "alice".to_owned()),
    ];
    want.sort();
    assert_eq!(got, want);
    // Owner-only facts stay the owner's: the shared copy's duplicate_of is alice's alone.
    let (_, page) = list(&app, &bob, "include_shared=true&q=shared").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["items"][0]["id"], json!(shared));
    assert_eq!(page["items"][0]["duplicate_of"], Value::Null);
    assert_eq!(page["items"][0]["owner_id"], json!(alice.user_id));
    let alices = document(&app, &alice, &shared).await;
    assert_eq!(alices["duplicate_of"], json!(copy));
    assert_eq!(alices["owner_handle"], "alice");
    // Filters apply to shared documents too.
    both(
        &app,
        &bob,
        "include_shared=true&content_type=image/png",
        &[&bobs],
    )
    .await;
    both(
        &app,
        &bob,
        "include_shared=true&created_from=2026-01-11&created_to=2026-01-11",
        &[&shared],
    )
    .await;
    // Duplicates and the trash are about one's own vault: shared documents stay out.
    both(&app, &bob, "include_shared=true&duplicates=true", &[]).await;
    both(&app, &bob, "include_shared=true&trashed=true", &[]).await;
    // Alice sees her own and carol's share; never bob's document, nor carol's others.
    both(
        &app,
        &alice,
        "include_shared=true",
        &[&shared, &copy, &private, &revoked, &carols],
    )
    .await;
    // A revoked share disappears at once.
    let res = app
        .send(
            Method::DELETE,
            &format!("/api/shares/{revoke}"),
            &alice.access,
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    both(&app, &bob, "include_shared=true", &[&bobs, &shared]).await;
    // Restoring the trashed document brings its share back.
    let res = app
        .post_json(
            &format!("/api/documents/{trashed}/restore"),
            Some(&alice.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    both(
        &app,
        &bob,
        "include_shared=true",
        &[&bobs, &shared, &trashed],
    )
    .await;
    // Carol never sees alice's documents.
    both(&app, &carol, "include_shared=true", &[&carols]).await;
}

async fn document(app: &TestApp, s: &Session, id: &str) -> Value {
    common::document(app, s, id).await
}

#[tokio::test]
async fn every_listed_document_names_its_owner() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let id = insert(&app, &alice, Doc::default()).await;
    assert_eq!(document(&app, &alice, &id).await["owner_handle"], "alice");
    assert_eq!(
        owners(&app, &alice, "").await,
        vec![(id.clone(), "alice".to_owned())]
    );
}
