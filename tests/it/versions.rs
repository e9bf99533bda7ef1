//! Document versions (issue 14): uploading a new version through the direct-to-storage
//! flow, listing, downloading, making current, deleting; processing and search follow
//! the current version; every stored version is charged; permanent delete, cleanup of
//! stale version uploads and fsck agree.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::{Session, TestApp, body, poll_until, wait_processed};
use docuvault::documents::service::staging_key;
use docuvault::documents::thumbnails::thumbnail_key;
use docuvault::domain::ObjectKey;
use docuvault::entities::{audit_log, document_versions, documents, quotas};
use docuvault::fsck::fsck;
use docuvault::state::AppState;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use sha2::Digest;
use uuid::Uuid;

/// An app whose cleanup scheduler stays off (tests run cleanup themselves).
async fn spawn() -> TestApp {
    TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__CLEANUP__ENABLED".into(), "false".into());
    })
    .await
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A text file of `words` padded to `len` bytes with dots.
fn text(words: &str, len: usize) -> Vec<u8> {
    let mut bytes = format!("{words}\n").into_bytes();
    assert!(bytes.len() <= len);
    bytes.resize(len, b'.');
    bytes
}

fn versions_path(doc: &str) -> String {
    format!("/api/documents/{doc}/versions")
}

/// `POST …/versions/upload-url`; the raw response.
async fn version_url(
    app: &TestApp,
    s: &Session,
    doc: &str,
    filename: &str,
    content_type: &str,
    size: usize,
) -> reqwest::Response {
    app.post_json(
        &format!("{}/upload-url", versions_path(doc)),
        Some(&s.access),
        &json!({"filename": filename, "content_type": content_type, "size_bytes": size}),
    )
    .await
}

/// `POST …/versions/{v}/confirm`; the raw response.
async fn confirm_version(
    app: &TestApp,
    s: &Session,
    doc: &str,
    version: &str,
) -> reqwest::Response {
    app.post_json(
        &format!("{}/{version}/confirm", versions_path(doc)),
        Some(&s.access),
        &json!({}),
    )
    .await
}

/// Upload URL and PUT of a new text version, no confirm; the ticket.
async fn put_version(app: &TestApp, s: &Session, doc: &str, name: &str, bytes: &[u8]) -> Value {
    let res = version_url(app, s, doc, name, "text/plain", bytes.len()).await;
    assert_eq!(res.status(), 201, "version upload-url {name}");
    let ticket = body(res).await;
    assert_eq!(ticket["document_id"], doc);
    let put = app.put_bytes(&ticket, bytes.to_vec()).await;
    assert!(put.status().is_success(), "PUT {}", put.status());
    ticket
}

/// The whole flow of a new text version; the confirm body.
pub(crate) async fn upload_version(
    app: &TestApp,
    s: &Session,
    doc: &str,
    name: &str,
    bytes: &[u8],
) -> Value {
    let ticket = put_version(app, s, doc, name, bytes).await;
    let res = confirm_version(app, s, doc, ticket["version_id"].as_str().unwrap()).await;
    assert_eq!(res.status(), 200, "confirm version {name}");
    body(res).await
}

async fn list(app: &TestApp, s: &Session, doc: &str) -> Vec<Value> {
    let res = app.get_auth(&versions_path(doc), &s.access).await;
    assert_eq!(res.status(), 200);
    body(res).await["items"].as_array().unwrap().clone()
}

async fn delete(app: &TestApp, s: &Session, path: &str) -> reqwest::Response {
    app.delete_auth(path, &s.access).await
}

async fn quota(app: &TestApp, s: &Session) -> quotas::Model {
    quotas::Entity::find_by_id(Uuid::parse_str(&s.user_id).unwrap())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
}

/// The bytes a version's download link serves, with its `Content-Disposition`.
async fn download(app: &TestApp, s: &Session, doc: &str, version: &str) -> (Vec<u8>, String) {
    let res = app
        .get_auth(
            &format!("{}/{version}/download", versions_path(doc)),
            &s.access,
        )
        .await;
    assert_eq!(res.status(), 200);
    let link = body(res).await;
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
    (file.bytes().await.unwrap().to_vec(), disposition)
}

/// Ids of the caller's documents matching `q`.
async fn search(app: &TestApp, s: &Session, q: &str) -> Vec<String> {
    let res = app
        .get_auth(&format!("/api/documents?q={q}"), &s.access)
        .await;
    assert_eq!(res.status(), 200);
    body(res).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn doc_text(app: &TestApp, s: &Session, doc: &str) -> String {
    let res = app
        .get_auth(&format!("/api/documents/{doc}/text"), &s.access)
        .await;
    body(res).await["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Keys stored under the document's prefix.
async fn stored_keys(app: &TestApp, s: &Session, doc: &str) -> Vec<String> {
    let prefix = format!("{}/{doc}/", s.user_id);
    let mut keys: Vec<String> = app
        .state
        .storage
        .list("")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .filter(|k| k.starts_with(&prefix))
        .collect();
    keys.sort();
    keys
}

async fn object_exists(app: &TestApp, key: &str) -> bool {
    app.state
        .storage
        .stat(&ObjectKey::parse(key).unwrap())
        .await
        .unwrap()
        .is_some()
}

async fn version_row(app: &TestApp, id: &str) -> Option<document_versions::Model> {
    document_versions::Entity::find_by_id(Uuid::parse_str(id).unwrap())
        .one(&app.state.db)
        .await
        .unwrap()
}

async fn doc_row(app: &TestApp, id: &str) -> documents::Model {
    documents::Entity::find_by_id(Uuid::parse_str(id).unwrap())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
}

/// Audit event types recorded about `doc`, oldest first.
async fn audit_events(app: &TestApp, doc: &str) -> Vec<String> {
    let mut rows = audit_log::Entity::find()
        .filter(audit_log::Column::ResourceId.eq(doc))
        .all(&app.state.db)
        .await
        .unwrap();
    rows.sort_by_key(|r| r.created_at);
    rows.into_iter().map(|r| r.event_type).collect()
}

/// The app's state with a pending lifetime of 0, so fsck calls every unreferenced object
/// an orphan without waiting.
fn strict(state: &AppState) -> AppState {
    let mut settings = (*state.settings).clone();
    settings.documents.pending_ttl_secs = 0;
    let mut state = state.clone();
    state.settings = Arc::new(settings);
    state
}

async fn assert_fsck_clean(app: &TestApp) {
    let report = fsck(&strict(&app.state), false).await.unwrap();
    assert!(report.is_clean(), "{report}");
}

/// Waits until a search for `word` finds `doc` (`found`) or no longer does.
async fn wait_search(app: &TestApp, s: &Session, word: &str, doc: &str, found: bool) {
    poll_until(
        Duration::from_secs(60),
        &format!("search {word} (found: {found})"),
        || async { (search(app, s, word).await.contains(&doc.to_owned()) == found).then_some(()) },
    )
    .await;
}

#[tokio::test]
async fn a_new_version_becomes_current_and_processing_and_search_follow_it() {
    let app = spawn().await;
    let alice = app.register("alice").await;
    let v1 = text("apple banana orchard", 300);
    let v2 = text("cherry durian grove", 500);
    let doc = app
        .upload(&alice, "notes-one.txt", "text/plain", v1.clone())
        .await;
    wait_processed(&app, &alice, &doc).await;
    wait_search(&app, &alice, "orchard", &doc, true).await;
    let v1_key = doc_row(&app, &doc).await.object_key;

    let confirmed = upload_version(&app, &alice, &doc, "notes-two.txt", &v2).await;
    let v2_id = confirmed["version_id"].as_str().unwrap().to_owned();
    assert_eq!(confirmed["document_id"], doc.as_str());
    assert_eq!(confirmed["size_bytes"], 500);
    assert_eq!(confirmed["sha256"], sha256(&v2));
    assert_eq!(confirmed["used_bytes"], 800, "every version counts");
    assert_eq!(confirmed["status"], "queued");
    // Idempotent: the same body, charged once.
    let again = confirm_version(&app, &alice, &doc, &v2_id).await;
    assert_eq!(again.status(), 200);
    assert_eq!(body(again).await, confirmed);
    assert_eq!(quota(&app, &alice).await.used_bytes, 800);
    assert_eq!(quota(&app, &alice).await.reserved_bytes, 0);

    let versions = list(&app, &alice, &doc).await;
    assert_eq!(versions.len(), 2, "{versions:?}");
    assert_eq!(versions[0]["id"], v2_id.as_str());
    assert_eq!(versions[0]["current"], true);
    assert_eq!(versions[0]["size_bytes"], 500);
    assert_eq!(versions[0]["sha256"], sha256(&v2));
    assert_eq!(versions[0]["filename"], "notes-two.txt");
    assert_eq!(versions[0]["document_id"], doc.as_str());
    assert_eq!(
        versions[1]["id"],
        doc.as_str(),
        "the first version is the document's id"
    );
    assert_eq!(versions[1]["current"], false);
    assert_eq!(versions[1]["size_bytes"], 300);
    assert_eq!(versions[1]["sha256"], sha256(&v1));
    assert!(
        versions[1]["created_at"].as_str().unwrap() < versions[0]["created_at"].as_str().unwrap()
    );

    // The document shows the new version and is processed again from it.
    let view = wait_processed(&app, &alice, &doc).await;
    assert_eq!(view["filename"], "notes-two.txt");
    assert_eq!(view["size_bytes"], 500);
    assert!(doc_text(&app, &alice, &doc).await.contains("cherry durian"));
    wait_search(&app, &alice, "grove", &doc, true).await;
    assert!(
        search(&app, &alice, "orchard").await.is_empty(),
        "the old text is not searched"
    );
    let row = doc_row(&app, &doc).await;
    let v2_key = row.object_key.clone();
    assert_ne!(v2_key, v1_key);
    assert_eq!(row.sha256.as_deref(), Some(sha256(&v2).as_str()));
    let v2_thumb = thumbnail_key(&ObjectKey::parse(&v2_key).unwrap()).unwrap();
    assert_eq!(row.thumbnail_key.as_deref(), Some(v2_thumb.as_str()));
    let v1_thumb = thumbnail_key(&ObjectKey::parse(&v1_key).unwrap()).unwrap();
    assert!(
        !object_exists(&app, v1_thumb.as_str()).await,
        "the old thumbnail went"
    );

    // Each version downloads byte for byte, under its own name.
    let (bytes, disposition) = download(&app, &alice, &doc, &doc).await;
    assert_eq!(bytes, v1);
    assert!(
        disposition.starts_with("attachment;") && disposition.contains("notes-one.txt"),
        "{disposition}"
    );
    let (bytes, disposition) = download(&app, &alice, &doc, &v2_id).await;
    assert_eq!(bytes, v2);
    assert!(disposition.contains("notes-two.txt"), "{disposition}");

    // Back to the first version: processed again from it.
    let res = app
        .post_json(
            &format!("{}/{doc}/make-current", versions_path(&doc)),
            Some(&alice.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let view = body(res).await;
    assert_eq!(view["id"], doc.as_str());
    assert_eq!(view["filename"], "notes-one.txt");
    assert_eq!(view["size_bytes"], 300);
    let versions = list(&app, &alice, &doc).await;
    assert_eq!(versions[0]["current"], false);
    assert_eq!(versions[1]["current"], true);
    wait_processed(&app, &alice, &doc).await;
    assert!(doc_text(&app, &alice, &doc).await.contains("apple banana"));
    wait_search(&app, &alice, "orchard", &doc, true).await;
    assert!(search(&app, &alice, "grove").await.is_empty());
    assert!(!object_exists(&app, v2_thumb.as_str()).await);
    assert_eq!(
        quota(&app, &alice).await.used_bytes,
        800,
        "making current charges nothing"
    );

    // Making the current version current changes nothing.
    let updated_before = doc_row(&app, &doc).await.status;
    let res = app
        .post_json(
            &format!("{}/{doc}/make-current", versions_path(&doc)),
            Some(&alice.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(doc_row(&app, &doc).await.status, updated_before);

    let events = audit_events(&app, &doc).await;
    assert!(
        events.contains(&"document_version_uploaded".to_owned()),
        "{events:?}"
    );
    assert!(
        events.contains(&"document_version_made_current".to_owned()),
        "{events:?}"
    );
    wait_processed(&app, &alice, &doc).await;
    assert_fsck_clean(&app).await;
}

#[tokio::test]
async fn deleting_versions_refunds_them_and_permanent_delete_removes_every_object() {
    let app = spawn().await;
    let alice = app.register("alice").await;
    let doc = app
        .upload(&alice, "a.txt", "text/plain", text("first", 100))
        .await;
    let v2 = upload_version(&app, &alice, &doc, "b.txt", &text("second", 200)).await;
    let v2 = v2["version_id"].as_str().unwrap().to_owned();
    let v3 = upload_version(&app, &alice, &doc, "c.txt", &text("third", 300)).await;
    let v3 = v3["version_id"].as_str().unwrap().to_owned();
    assert_eq!(quota(&app, &alice).await.used_bytes, 600);
    let v2_key = version_row(&app, &v2).await.unwrap().object_key;

    // A version that is not current: refunded, its object gone.
    let res = delete(&app, &alice, &format!("{}/{v2}", versions_path(&doc))).await;
    assert_eq!(res.status(), 204);
    assert_eq!(quota(&app, &alice).await.used_bytes, 400);
    assert!(!object_exists(&app, &v2_key).await);
    let ids: Vec<Value> = list(&app, &alice, &doc)
        .await
        .iter()
        .map(|v| v["id"].clone())
        .collect();
    assert_eq!(ids, vec![json!(v3), json!(doc)]);
    let res = delete(&app, &alice, &format!("{}/{v2}", versions_path(&doc))).await;
    assert_eq!(res.status(), 404, "already gone");

    // The current version: the newest remaining one becomes current.
    wait_processed(&app, &alice, &doc).await;
    let res = delete(&app, &alice, &format!("{}/{v3}", versions_path(&doc))).await;
    assert_eq!(res.status(), 204);
    assert_eq!(quota(&app, &alice).await.used_bytes, 100);
    let versions = list(&app, &alice, &doc).await;
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0]["current"], true);
    let view = wait_processed(&app, &alice, &doc).await;
    assert_eq!(view["filename"], "a.txt");
    assert_eq!(view["size_bytes"], 100);
    assert!(doc_text(&app, &alice, &doc).await.contains("first"));

    // The only version stays.
    let res = delete(&app, &alice, &format!("{}/{doc}", versions_path(&doc))).await;
    assert_eq!(res.status(), 409);
    assert_eq!(body(res).await["code"], "only_version");
    assert_eq!(quota(&app, &alice).await.used_bytes, 100);
    assert!(
        audit_events(&app, &doc)
            .await
            .contains(&"document_version_deleted".to_owned())
    );
    assert_fsck_clean(&app).await;

    // Three stored versions and a pending one, then the document goes for good.
    upload_version(&app, &alice, &doc, "b.txt", &text("second", 200)).await;
    upload_version(&app, &alice, &doc, "c.txt", &text("third", 300)).await;
    put_version(&app, &alice, &doc, "d.txt", &text("fourth", 50)).await;
    assert_eq!(quota(&app, &alice).await.used_bytes, 600);
    assert_eq!(quota(&app, &alice).await.reserved_bytes, 50);
    wait_processed(&app, &alice, &doc).await;
    assert!(
        stored_keys(&app, &alice, &doc).await.len() >= 5,
        "3 versions, a staged upload, a thumbnail"
    );
    let res = delete(
        &app,
        &alice,
        &format!("/api/documents/{doc}?permanent=true"),
    )
    .await;
    assert_eq!(res.status(), 204);
    let q = quota(&app, &alice).await;
    assert_eq!((q.used_bytes, q.reserved_bytes), (0, 0));
    assert_eq!(stored_keys(&app, &alice, &doc).await, Vec::<String>::new());
    let rows = document_versions::Entity::find()
        .filter(document_versions::Column::DocumentId.eq(Uuid::parse_str(&doc).unwrap()))
        .all(&app.state.db)
        .await
        .unwrap();
    assert!(rows.is_empty());
    assert_fsck_clean(&app).await;
}

#[tokio::test]
async fn version_uploads_are_validated_reserved_and_owner_only() {
    let app = spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let doc = app
        .upload(&alice, "a.txt", "text/plain", text("first", 100))
        .await;

    // Validation as for documents.
    let res = version_url(&app, &alice, &doc, "x.exe", "application/x-msdownload", 10).await;
    assert_eq!(res.status(), 415);
    let res = version_url(&app, &alice, &doc, "..", "text/plain", 10).await;
    assert_eq!(res.status(), 422);
    assert_eq!(body(res).await["code"], "invalid_filename");

    // Over the limit: 413 with the quota numbers, nothing reserved.
    quotas::Entity::update_many()
        .col_expr(quotas::Column::LimitBytes, Expr::value(150_i64))
        .filter(quotas::Column::UserId.eq(Uuid::parse_str(&alice.user_id).unwrap()))
        .exec(&app.state.db)
        .await
        .unwrap();
    let res = version_url(&app, &alice, &doc, "b.txt", "text/plain", 100).await;
    assert_eq!(res.status(), 413);
    let err = body(res).await;
    assert_eq!(err["code"], "quota_exceeded");
    assert_eq!(
        err["detail"],
        json!({"used_bytes": 100, "reserved_bytes": 0, "limit_bytes": 150, "rejected_bytes": 100})
    );
    assert_eq!(quota(&app, &alice).await.reserved_bytes, 0);

    // Within the limit it is reserved until confirmed; the limit lowered meanwhile
    // refuses the confirm and releases the reservation.
    let ticket = put_version(&app, &alice, &doc, "b.txt", &text("second", 40)).await;
    let version = ticket["version_id"].as_str().unwrap().to_owned();
    assert_eq!(quota(&app, &alice).await.reserved_bytes, 40);
    quotas::Entity::update_many()
        .col_expr(quotas::Column::LimitBytes, Expr::value(120_i64))
        .filter(quotas::Column::UserId.eq(Uuid::parse_str(&alice.user_id).unwrap()))
        .exec(&app.state.db)
        .await
        .unwrap();
    let res = confirm_version(&app, &alice, &doc, &version).await;
    assert_eq!(res.status(), 413);
    assert_eq!(body(res).await["code"], "quota_exceeded");
    let q = quota(&app, &alice).await;
    assert_eq!((q.used_bytes, q.reserved_bytes), (100, 0));
    assert!(version_row(&app, &version).await.is_none());
    quotas::Entity::update_many()
        .col_expr(quotas::Column::LimitBytes, Expr::value(10_000_i64))
        .filter(quotas::Column::UserId.eq(Uuid::parse_str(&alice.user_id).unwrap()))
        .exec(&app.state.db)
        .await
        .unwrap();

    // No bytes yet: 422, the reservation stays for a later PUT.
    let res = version_url(&app, &alice, &doc, "c.txt", "text/plain", 30).await;
    let ticket = body(res).await;
    let version = ticket["version_id"].as_str().unwrap().to_owned();
    let res = confirm_version(&app, &alice, &doc, &version).await;
    assert_eq!(res.status(), 422);
    assert_eq!(body(res).await["code"], "upload_not_found");
    assert_eq!(quota(&app, &alice).await.reserved_bytes, 30);

    // Other bytes than declared: 422, the upload discarded and its reservation released.
    let key = ObjectKey::parse(&version_row(&app, &version).await.unwrap().object_key).unwrap();
    app.state
        .storage
        .put(&staging_key(&key).unwrap(), b"short".to_vec(), "text/plain")
        .await
        .unwrap();
    let res = confirm_version(&app, &alice, &doc, &version).await;
    assert_eq!(res.status(), 422);
    assert_eq!(body(res).await["code"], "size_mismatch");
    let q = quota(&app, &alice).await;
    assert_eq!((q.used_bytes, q.reserved_bytes), (100, 0));
    assert!(!object_exists(&app, staging_key(&key).unwrap().as_str()).await);
    let res = confirm_version(&app, &alice, &doc, &version).await;
    assert_eq!(res.status(), 404);
    assert_eq!(list(&app, &alice, &doc).await.len(), 1);

    // Another account (a share recipient too) sees nothing of them.
    let res = app
        .post_json(
            &format!("/api/documents/{doc}/shares"),
            Some(&alice.access),
            &json!({"recipient": "bob"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let path = versions_path(&doc);
    assert_eq!(app.get_auth(&path, &bob.access).await.status(), 404);
    assert_eq!(
        app.get_auth(&format!("{path}/{doc}/download"), &bob.access)
            .await
            .status(),
        404
    );
    assert_eq!(
        version_url(&app, &bob, &doc, "b.txt", "text/plain", 5)
            .await
            .status(),
        404
    );
    let res = app
        .post_json(
            &format!("{path}/{doc}/make-current"),
            Some(&bob.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        delete(&app, &bob, &format!("{path}/{doc}")).await.status(),
        404
    );
    assert_eq!(confirm_version(&app, &bob, &doc, &doc).await.status(), 404);
    assert_eq!(quota(&app, &bob).await.reserved_bytes, 0);

    // An unconfirmed document has no versions to add to.
    let pending = app.upload_url(&alice, "p.txt", "text/plain", 5).await;
    let pending = pending["document_id"].as_str().unwrap();
    let res = version_url(&app, &alice, pending, "b.txt", "text/plain", 5).await;
    assert_eq!(res.status(), 409);
    assert_eq!(body(res).await["code"], "not_confirmed");

    // In the trash: readable, not changeable.
    documents::Entity::update_many()
        .col_expr(
            documents::Column::TrashedAt,
            Expr::value(docuvault::time::now()),
        )
        .filter(documents::Column::Id.eq(Uuid::parse_str(&doc).unwrap()))
        .exec(&app.state.db)
        .await
        .unwrap();
    assert_eq!(list(&app, &alice, &doc).await.len(), 1);
    let res = version_url(&app, &alice, &doc, "b.txt", "text/plain", 5).await;
    assert_eq!(res.status(), 409);
    assert_eq!(body(res).await["code"], "document_trashed");
    let res = app
        .post_json(
            &format!("{path}/{doc}/make-current"),
            Some(&alice.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(body(res).await["code"], "document_trashed");
    let res = delete(&app, &alice, &format!("{path}/{doc}")).await;
    assert_eq!(body(res).await["code"], "document_trashed");
}

#[tokio::test]
async fn stale_version_uploads_are_removed_by_cleanup() {
    let app = spawn().await;
    let alice = app.register("alice").await;
    let doc = app
        .upload(&alice, "a.txt", "text/plain", text("first", 100))
        .await;
    let stale = put_version(&app, &alice, &doc, "b.txt", &text("second", 60)).await;
    let stale = stale["version_id"].as_str().unwrap().to_owned();
    let fresh = put_version(&app, &alice, &doc, "c.txt", &text("third", 70)).await;
    let fresh = fresh["version_id"].as_str().unwrap().to_owned();
    assert_eq!(quota(&app, &alice).await.reserved_bytes, 130);
    let stale_key = ObjectKey::parse(&version_row(&app, &stale).await.unwrap().object_key).unwrap();
    assert!(object_exists(&app, staging_key(&stale_key).unwrap().as_str()).await);

    document_versions::Entity::update_many()
        .col_expr(
            document_versions::Column::CreatedAt,
            Expr::value(docuvault::time::now() - chrono::Duration::hours(2)),
        )
        .filter(document_versions::Column::Id.eq(Uuid::parse_str(&stale).unwrap()))
        .exec(&app.state.db)
        .await
        .unwrap();
    let report = docuvault::jobs::cleanup::run_cleanup(&app.state)
        .await
        .unwrap();
    assert_eq!(report.stale_versions_removed, 1, "{report:?}");
    assert!(version_row(&app, &stale).await.is_none());
    assert!(
        version_row(&app, &fresh).await.is_some(),
        "a fresh upload stays"
    );
    assert_eq!(quota(&app, &alice).await.reserved_bytes, 70);
    assert!(!object_exists(&app, staging_key(&stale_key).unwrap().as_str()).await);

    // The fresh one still confirms; fsck agrees with everything.
    let res = confirm_version(&app, &alice, &doc, &fresh).await;
    assert_eq!(res.status(), 200);
    let q = quota(&app, &alice).await;
    assert_eq!((q.used_bytes, q.reserved_bytes), (170, 0));
    wait_processed(&app, &alice, &doc).await;
    assert_fsck_clean(&app).await;

    // fsck reports a missing earlier version's object (never repaired).
    let v1_key = version_row(&app, &doc).await.unwrap().object_key;
    app.state
        .storage
        .delete(&ObjectKey::parse(&v1_key).unwrap())
        .await
        .unwrap();
    let report = fsck(&strict(&app.state), true).await.unwrap();
    assert_eq!(report.document_problems.len(), 1, "{report}");
    assert_eq!(
        report.document_problems[0].version_id,
        Some(Uuid::parse_str(&doc).unwrap())
    );
    assert_eq!(report.exit_code(), 1);
}

#[tokio::test]
async fn a_new_current_version_takes_the_claim_away_from_a_worker_on_the_old_one() {
    use docuvault::documents::lifecycle;
    let app = spawn().await;
    let alice = app.register("alice").await;
    let doc = app
        .upload(&alice, "a.txt", "text/plain", text("first", 100))
        .await;
    wait_processed(&app, &alice, &doc).await;
    let id = Uuid::parse_str(&doc).unwrap();
    // A worker holds the old version (leases far ahead: the sweeper leaves it alone).
    let now = docuvault::time::now();
    let later = now + chrono::Duration::hours(1);
    assert!(lifecycle::requeue(&app.state.db, id, later).await.unwrap());
    let old_claim = lifecycle::claim(&app.state.db, id, now, later, 5)
        .await
        .unwrap()
        .expect("claimed");
    assert_eq!(old_claim.attempts, 1);

    // Another version becomes current while it runs, and another worker claims it, at
    // the same attempt number (attempts start afresh).
    let mut other = version_row(&app, &doc).await.unwrap();
    other.object_key = format!("{}/{doc}/{}.txt", alice.user_id, Uuid::new_v4());
    other.filename = "b.txt".into();
    assert!(
        lifecycle::switch_version(&app.state.db, id, &other, later)
            .await
            .unwrap()
    );
    let row = doc_row(&app, &doc).await;
    assert_eq!(row.status, docuvault::entities::DocumentStatus::Queued);
    assert_eq!(row.attempts, 0);
    let text = docuvault::documents::texts::get(&app.state.db, id)
        .await
        .unwrap();
    assert_eq!(text, None, "the old version's text is cleared");
    assert_eq!(row.thumbnail_key, None);
    let new_claim = lifecycle::claim(&app.state.db, id, now, later, 5)
        .await
        .unwrap()
        .expect("claimed again");
    assert_eq!(new_claim.attempts, old_claim.attempts);

    // The old worker's results no longer match; the new one's do.
    let finished = lifecycle::finish(&app.state.db, &old_claim, false, json!({"by": "old"}))
        .await
        .unwrap();
    assert_eq!(finished, None);
    assert!(
        !lifecycle::fail(&app.state.db, &old_claim, "old")
            .await
            .unwrap()
    );
    let finished = lifecycle::finish(&app.state.db, &new_claim, false, json!({"by": "new"}))
        .await
        .unwrap();
    assert!(finished.is_some());
}

#[tokio::test]
async fn deleting_an_account_deletes_every_version_object() {
    let app = spawn().await;
    let admin = app.admin("root").await;
    let alice = app.register("alice").await;
    let doc = app
        .upload(&alice, "a.txt", "text/plain", text("first", 100))
        .await;
    upload_version(&app, &alice, &doc, "b.txt", &text("second", 200)).await;
    put_version(&app, &alice, &doc, "c.txt", &text("third", 30)).await;
    wait_processed(&app, &alice, &doc).await;
    assert!(stored_keys(&app, &alice, &doc).await.len() >= 3);
    let res = delete(&app, &admin, &format!("/api/admin/users/{}", alice.user_id)).await;
    assert_eq!(res.status(), 204);
    assert_eq!(stored_keys(&app, &alice, &doc).await, Vec::<String>::new());
    assert_fsck_clean(&app).await;
}
