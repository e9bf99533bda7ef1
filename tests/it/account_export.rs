//! A user's own export: `GET /api/me/export` (bearer) and the signed link of
//! `POST /api/me/export-url`, a streamed zip of live originals plus `manifest.json`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use docuvault::entities::documents::{self, DocumentStatus};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use sha2::{Digest, Sha256};

use crate::common::{self, Session, TestApp, body, wait_processed};

/// The zip's entries, by name.
pub(crate) fn unzip(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a valid zip");
    let mut out = BTreeMap::new();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).unwrap();
        let mut data = Vec::new();
        file.read_to_end(&mut data).unwrap();
        assert!(
            out.insert(file.name().unwrap().into_owned(), data)
                .is_none(),
            "one entry per name"
        );
    }
    out
}

async fn create_folder(app: &TestApp, s: &Session, name: &str, parent: Option<&str>) -> String {
    let res = app
        .post_json(
            "/api/folders",
            Some(&s.access),
            &serde_json::json!({"name": name, "parent_id": parent}),
        )
        .await;
    assert_eq!(res.status(), 201, "create folder {name}");
    body(res).await["id"].as_str().unwrap().to_owned()
}

async fn patch(app: &TestApp, s: &Session, id: &str, payload: serde_json::Value) {
    let res = app
        .client
        .patch(app.url(&format!("/api/documents/{id}")))
        .bearer_auth(&s.access)
        .json(&payload)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "PATCH {id}: {payload}");
}

pub(crate) async fn export(app: &TestApp, s: &Session) -> Vec<u8> {
    let res = app.get_auth("/api/me/export", &s.access).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/zip");
    res.bytes().await.unwrap().to_vec()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[tokio::test]
async fn the_export_holds_live_originals_by_folder_path_and_a_manifest() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;

    let tax = create_folder(&app, &alice, "Tax", None).await;
    let year = create_folder(&app, &alice, "2024", Some(&tax)).await;
    let _empty = create_folder(&app, &alice, "Empty", None).await;
    let topic = common::create_topic(&app, &alice, "Receipts", None)
        .await
        .to_string();
    let view_query =
        serde_json::json!({"folder_id": tax, "include_subfolders": true, "sort": "name"});
    let saved = app
        .post_json(
            "/api/views",
            Some(&alice.access),
            &serde_json::json!({"name": "Tax papers", "query": view_query}),
        )
        .await;
    assert_eq!(saved.status(), 201);
    // Bob's view is not in alice's export.
    let bobs_view = app
        .post_json(
            "/api/views",
            Some(&bob.access),
            &serde_json::json!({"name": "Bob's", "query": {}}),
        )
        .await;
    assert_eq!(bobs_view.status(), 201);

    let first = b"first note\n".to_vec();
    let second = b"second note, same name but for case\n".to_vec();
    let third = b"third note, same name again\n".to_vec();
    let pdf = common::samples::hello_pdf();
    let manifest_named = b"a file called manifest.json\n".to_vec();
    let folder_named = b"a file named like a folder\n".to_vec();

    let a1 = app
        .upload(&alice, "note.txt", "text/plain", first.clone())
        .await;
    let a2 = app
        .upload(&alice, "NOTE.txt", "text/plain", second.clone())
        .await;
    let a3 = app
        .upload(&alice, "note.txt", "text/plain", third.clone())
        .await;
    let report = app
        .upload(&alice, "report.pdf", "application/pdf", pdf.clone())
        .await;
    let manifest_doc = app
        .upload(
            &alice,
            "manifest.json",
            "text/plain",
            manifest_named.clone(),
        )
        .await;
    let like_folder = app
        .upload(&alice, "tax", "text/plain", folder_named.clone())
        .await;
    let trashed = app
        .upload(
            &alice,
            "trashed.txt",
            "text/plain",
            b"in the trash\n".to_vec(),
        )
        .await;
    // A pending upload (never confirmed) and bob's document are never exported.
    let pending = app.upload_url(&alice, "pending.txt", "text/plain", 5).await;
    app.put_bytes(&pending, b"hello".to_vec()).await;
    let bobs = app
        .upload(&bob, "bob.txt", "text/plain", b"bob's own\n".to_vec())
        .await;
    for id in [
        &a1,
        &a2,
        &a3,
        &report,
        &manifest_doc,
        &like_folder,
        &trashed,
    ] {
        wait_processed(&app, &alice, id).await;
    }
    patch(
        &app,
        &alice,
        &report,
        serde_json::json!({"folder_id": year, "topics": [topic]}),
    )
    .await;
    documents::Entity::update_many()
        .col_expr(
            documents::Column::TrashedAt,
            Expr::value(docuvault::time::now()),
        )
        .filter(documents::Column::Id.eq(uuid::Uuid::parse_str(&trashed).unwrap()))
        .exec(&app.state.db)
        .await
        .unwrap();

    let res = app.get_auth("/api/me/export", &alice.access).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/zip");
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let disposition = res.headers()["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with(&format!(
            "attachment; filename=\"docuvault-export-alice-{today}.zip\""
        )),
        "{disposition}"
    );
    let files = unzip(&res.bytes().await.unwrap());

    let names: BTreeSet<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "note.txt",
            "NOTE (2).txt",
            "note (3).txt",
            "Tax/2024/report.pdf",
            "manifest (2).json",
            "tax (2)",
            "manifest.json",
        ])
    );
    assert_eq!(files["note.txt"], first);
    assert_eq!(files["NOTE (2).txt"], second);
    assert_eq!(files["note (3).txt"], third);
    assert_eq!(files["Tax/2024/report.pdf"], pdf);
    assert_eq!(files["manifest (2).json"], manifest_named);
    assert_eq!(files["tax (2)"], folder_named);

    let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    assert_eq!(manifest["format"], "docuvault-user-export");
    assert_eq!(manifest["version"], 1);
    assert_eq!(manifest["account"]["handle"], "alice");
    assert_eq!(manifest["account"]["id"], alice.user_id.as_str());
    let docs = manifest["documents"].as_array().unwrap();
    let ids: BTreeSet<&str> = docs.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        BTreeSet::from([
            a1.as_str(),
            a2.as_str(),
            a3.as_str(),
            report.as_str(),
            manifest_doc.as_str(),
            like_folder.as_str()
        ])
    );
    assert!(!ids.contains(trashed.as_str()) && !ids.contains(bobs.as_str()));
    let report_entry = docs.iter().find(|d| d["id"] == report.as_str()).unwrap();
    assert_eq!(report_entry["path"], "Tax/2024/report.pdf");
    assert_eq!(report_entry["included"], true);
    assert_eq!(report_entry["filename"], "report.pdf");
    assert_eq!(report_entry["folder_id"], year.as_str());
    assert_eq!(report_entry["folder_path"], "Tax/2024");
    assert_eq!(report_entry["content_type"], "application/pdf");
    assert_eq!(report_entry["size_bytes"], pdf.len());
    assert_eq!(report_entry["sha256"], sha256_hex(&pdf).as_str());
    assert!(
        report_entry["topics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == topic.as_str() && t["name"] == "Receipts"),
        "{report_entry}"
    );
    assert!(report_entry["created_at"].is_string() && report_entry["updated_at"].is_string());
    assert!(common::TERMINAL.contains(&report_entry["status"].as_str().unwrap()));
    let clash = docs.iter().find(|d| d["id"] == a2.as_str()).unwrap();
    assert_eq!(clash["path"], "NOTE (2).txt");
    assert_eq!(clash["filename"], "NOTE.txt");
    assert_eq!(clash["folder_path"], serde_json::Value::Null);
    // Every document's SHA-256 matches its bytes in the zip.
    for doc in docs {
        let path = doc["path"].as_str().unwrap();
        assert_eq!(doc["sha256"], sha256_hex(&files[path]).as_str(), "{path}");
    }
    let folder_paths: BTreeSet<&str> = manifest["folders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(folder_paths, BTreeSet::from(["Empty", "Tax", "Tax/2024"]));
    assert!(
        manifest["topics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == topic.as_str() && t["system"] == false)
    );
    // Her saved views, with their queries (not bob's).
    let views = manifest["views"].as_array().unwrap();
    assert_eq!(views.len(), 1, "{views:?}");
    assert_eq!(views[0]["name"], "Tax papers");
    assert_eq!(views[0]["query"], view_query);

    // Bob's export holds his document only.
    let bobs_files = unzip(&export(&app, &bob).await);
    assert_eq!(
        bobs_files.keys().map(String::as_str).collect::<Vec<_>>(),
        ["bob.txt", "manifest.json"]
    );

    // The export is audited.
    let events = docuvault::entities::audit_log::Entity::find()
        .filter(docuvault::entities::audit_log::Column::EventType.eq("account_exported"))
        .filter(
            docuvault::entities::audit_log::Column::UserId
                .eq(uuid::Uuid::parse_str(&alice.user_id).unwrap()),
        )
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
}

#[tokio::test]
async fn the_export_needs_a_regular_account() {
    let app = TestApp::spawn().await;
    let res = app.get("/api/me/export").await;
    assert_eq!(res.status(), 401);
    assert_eq!(body(res).await["code"], "unauthorized");
    let res = app
        .post_json("/api/me/export-url", None, &serde_json::json!({}))
        .await;
    assert_eq!(res.status(), 401);
    let res = app.get_auth("/api/me/export", "not-a-token").await;
    assert_eq!(res.status(), 401);
    let admin = app.admin("root").await;
    let res = app.get_auth("/api/me/export", &admin.access).await;
    assert_eq!(res.status(), 403);
    let res = app.get("/api/me/export/eyJ1c2VyX2lkIjoiMDAwIn0.0000").await;
    assert_eq!(res.status(), 403);
    assert_eq!(body(res).await["code"], "signature_invalid");
}

#[tokio::test]
async fn the_export_link_downloads_without_a_header_until_the_session_ends() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bytes = b"linked\n".to_vec();
    app.upload(&alice, "linked.txt", "text/plain", bytes.clone())
        .await;

    let res = app
        .post_json(
            "/api/me/export-url",
            Some(&alice.access),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let link = body(res).await;
    let url = link["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&app.address), "{url}");
    assert!(link["expires_at"].is_string());

    // A plain GET, as a browser navigating to it: no Authorization header.
    let res = reqwest::get(&url).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"docuvault-export-alice-")
    );
    let files = unzip(&res.bytes().await.unwrap());
    assert_eq!(files["linked.txt"], bytes);

    // A tampered link is refused.
    let mut tampered = url.clone();
    tampered.pop();
    tampered.push(if url.ends_with('0') { '1' } else { '0' });
    assert_eq!(reqwest::get(&tampered).await.unwrap().status(), 403);

    // Signing out ends the link.
    let res = app
        .post_json(
            "/api/auth/logout",
            Some(&alice.access),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(res.status(), 204);
    let res = reqwest::get(&url).await.unwrap();
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn a_large_export_streams_and_is_complete() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let owner = uuid::Uuid::parse_str(&alice.user_id).unwrap();
    // 30 originals of 256 KiB to ~3 MiB (about 48 MiB), stored directly (no processing
    // needed to export them).
    let mut expected = BTreeMap::new();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..30u64 {
        let size = 256 * 1024 + (i as usize) * 100 * 1024 + i as usize;
        let mut bytes = Vec::with_capacity(size);
        while bytes.len() < size {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            bytes.extend_from_slice(&seed.to_le_bytes());
        }
        bytes.truncate(size);
        let mut row = common::document_row(owner);
        row.filename = Set(format!("scan-{i:02}.pdf"));
        row.size_bytes = Set(size as i64);
        row.sha256 = Set(Some(sha256_hex(&bytes)));
        row.status = Set(DocumentStatus::Unclassified);
        let key = docuvault::domain::ObjectKey::parse(row.object_key.as_ref()).unwrap();
        app.state
            .storage
            .put(&key, bytes.clone(), "application/pdf")
            .await
            .unwrap();
        row.insert(&app.state.db).await.unwrap();
        expected.insert(format!("scan-{i:02}.pdf"), bytes);
    }
    let total: usize = expected.values().map(Vec::len).sum();

    let mut res = app.get_auth("/api/me/export", &alice.access).await;
    assert_eq!(res.status(), 200);
    // Streamed: no length known up front, the body arrives in many chunks.
    assert!(
        res.content_length().is_none(),
        "a streamed body has no Content-Length"
    );
    let mut zip_bytes = Vec::with_capacity(total + 1024 * 1024);
    let mut chunks = 0;
    while let Some(chunk) = res.chunk().await.unwrap() {
        zip_bytes.extend_from_slice(&chunk);
        chunks += 1;
    }
    assert!(chunks > 30, "{chunks} chunks");
    assert!(zip_bytes.len() > total);
    let files = unzip(&zip_bytes);
    assert_eq!(files.len(), 31);
    for (name, bytes) in &expected {
        assert!(files[name] == *bytes, "{name} differs");
    }
    let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    assert_eq!(manifest["documents"].as_array().unwrap().len(), 30);
}

#[tokio::test]
async fn an_original_missing_from_storage_is_marked_in_the_manifest() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let kept = app
        .upload(&alice, "kept.txt", "text/plain", b"kept\n".to_vec())
        .await;
    let lost = app
        .upload(&alice, "lost.txt", "text/plain", b"lost\n".to_vec())
        .await;
    wait_processed(&app, &alice, &kept).await;
    wait_processed(&app, &alice, &lost).await;
    let row = documents::Entity::find_by_id(uuid::Uuid::parse_str(&lost).unwrap())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let key = docuvault::domain::ObjectKey::parse(&row.object_key).unwrap();
    app.state.storage.delete(&key).await.unwrap();

    let files = unzip(&export(&app, &alice).await);
    assert_eq!(
        files.keys().map(String::as_str).collect::<Vec<_>>(),
        ["kept.txt", "manifest.json"]
    );
    let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let entry = manifest["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == lost.as_str())
        .unwrap()
        .clone();
    assert_eq!(entry["included"], false);
    assert_eq!(entry["path"], serde_json::Value::Null);
}
