//! `docuvault export` / `docuvault import`: the README's path from the embedded defaults
//! (SQLite + local objects) to the configured backends (PostgreSQL + S3 when
//! `DOCUVAULT_TEST_POSTGRES_URL` and `DOCUVAULT_TEST_S3_*` are set, as in CI; another
//! SQLite + local instance otherwise), and the refusals of bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;

use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::json;
use uuid::Uuid;

use crate::common::{self, PASSWORD, Session, TestApp, body, now};
use docuvault::domain::ObjectKey;
use docuvault::entities::{
    document_topics, document_versions, documents, folders, saved_views, shares, topic_rejections,
    topics, users,
};

/// An app on SQLite + local objects whatever the test backends are (the source of a move).
async fn embedded_app() -> TestApp {
    TestApp::spawn_with(|env| {
        env.retain(|k, _| !k.starts_with("DOCUVAULT__STORAGE__S3__"));
        let data = env["DOCUVAULT__DATA_DIR"].clone();
        std::fs::create_dir_all(&data).unwrap();
        env.insert(
            "DOCUVAULT__DATABASE__URL".into(),
            format!("sqlite://{data}/source.db?mode=rwc"),
        );
    })
    .await
}

/// An app on the test backends with its own `SECRET_KEY`.
async fn target_app(secret_key: &str) -> TestApp {
    let key = secret_key.to_owned();
    TestApp::spawn_with(move |env| {
        env.insert("DOCUVAULT__SECURITY__SECRET_KEY".into(), key);
    })
    .await
}

fn key_file(app: &TestApp) -> String {
    let path = Path::new(&app.env()["DOCUVAULT__DATA_DIR"]).join("secret.key");
    std::fs::read_to_string(path).unwrap().trim().to_owned()
}

async fn patch(app: &TestApp, s: &Session, path: &str, body: serde_json::Value) {
    let res = app
        .client
        .patch(app.url(path))
        .bearer_auth(&s.access)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "PATCH {path}");
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

/// id, owner, folder, object key, status, SHA-256, trashed.
type DocumentRow = (
    Uuid,
    Uuid,
    Option<Uuid>,
    String,
    String,
    Option<String>,
    bool,
);

/// What a vault holds, as comparable sets (timestamps left out: backends differ in
/// precision).
#[derive(Debug, PartialEq)]
struct Contents {
    users: BTreeSet<(Uuid, String, String, bool, bool)>,
    folders: BTreeSet<(Uuid, Uuid, Option<Uuid>, String)>,
    topics: BTreeSet<(Uuid, Option<Uuid>, String)>,
    documents: BTreeSet<DocumentRow>,
    versions: BTreeSet<(Uuid, Uuid, String, Option<String>, i64)>,
    links: BTreeSet<(Uuid, Uuid, String)>,
    shares: BTreeSet<(Uuid, Uuid, Uuid)>,
    views: BTreeSet<(Uuid, Uuid, String, String)>,
    rejections: BTreeSet<(Uuid, Uuid, Uuid)>,
}

async fn contents(app: &TestApp) -> Contents {
    let db = &app.state.db;
    Contents {
        users: users::Entity::find()
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|u| {
                (
                    u.id,
                    u.handle,
                    u.password_hash,
                    u.totp_enabled,
                    u.totp_secret.is_some(),
                )
            })
            .collect(),
        folders: folders::Entity::find()
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|f| (f.id, f.user_id, f.parent_id, f.name))
            .collect(),
        topics: topics::Entity::find()
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|t| (t.id, t.user_id, t.name))
            .collect(),
        documents: documents::Entity::find()
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|d| {
                (
                    d.id,
                    d.user_id,
                    d.folder_id,
                    d.object_key,
                    d.status.to_string(),
                    d.sha256,
                    d.trashed_at.is_some(),
                )
            })
            .collect(),
        versions: document_versions::Entity::find()
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|v| (v.id, v.document_id, v.object_key, v.sha256, v.size_bytes))
            .collect(),
        links: document_topics::Entity::find()
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|l| (l.document_id, l.topic_id, l.source.to_string()))
            .collect(),
        shares: shares::Entity::find()
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|s| (s.document_id, s.owner_id, s.recipient_id))
            .collect(),
        views: saved_views::Entity::find()
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|v| (v.id, v.user_id, v.name, v.query.to_string()))
            .collect(),
        rejections: topic_rejections::Entity::find()
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.document_id, r.topic_id, r.user_id))
            .collect(),
    }
}

/// Uploads a text document and waits until it is processed (thumbnail made).
async fn text_document(app: &TestApp, s: &Session, name: &str, text: &str) -> String {
    let id = app
        .upload(s, name, "text/plain", text.as_bytes().to_vec())
        .await;
    common::wait_processed(app, s, &id).await;
    id
}

/// A source vault: two users, 2FA on alice, nested folders, a topic, a share, a trashed
/// document with two versions (both through the API), a duplicate and a rejected topic. Returns alice's
/// TOTP secret.
async fn populate(app: &TestApp) -> Vec<u8> {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let (secret, _codes) = common::enable_totp(app, &alice).await;

    let parent = create_folder(app, &alice, "Taxes", None).await;
    let child = create_folder(app, &alice, "2026", Some(&parent)).await;
    // The same name at the root of another account and under another parent.
    create_folder(app, &bob, "Taxes", None).await;
    create_folder(app, &alice, "2026", None).await;
    let topic = common::create_topic(app, &alice, "Receipts", None).await;

    let notes = text_document(app, &alice, "notes.txt", "first notes, version one").await;
    let copy = text_document(app, &alice, "notes copy.txt", "first notes, version one").await;
    let trashed = text_document(app, &alice, "old.txt", "to the trash").await;
    let bobs = text_document(app, &bob, "bob.txt", "bob's own").await;
    patch(
        app,
        &alice,
        &format!("/api/documents/{notes}"),
        json!({"folder_id": child, "topics": [topic]}),
    )
    .await;
    let share = app
        .post_json(
            &format!("/api/documents/{notes}/shares"),
            Some(&alice.access),
            &json!({"recipient": "bob"}),
        )
        .await;
    assert_eq!(share.status(), 201);
    // A saved view.
    let view = app
        .post_json(
            "/api/views",
            Some(&alice.access),
            &json!({"name": "Receipts in 2026", "query": {"topic": topic, "folder_id": parent, "include_subfolders": true}}),
        )
        .await;
    assert_eq!(view.status(), 201);
    // Two versions of the document that then goes to the trash.
    crate::versions::upload_version(
        app,
        &alice,
        &trashed,
        "old-v2.txt",
        b"to the trash, version two (longer)",
    )
    .await;
    common::wait_processed(app, &alice, &trashed).await;
    crate::trash::trash(app, &alice, &trashed).await;
    // A topic the owner rejected for a document (the classifier never files it there).
    topic_rejections::ActiveModel {
        document_id: Set(copy.parse().unwrap()),
        topic_id: Set(topic),
        user_id: Set(alice.user_id.parse().unwrap()),
        created_at: Set(docuvault::time::now()),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    let _ = bobs;
    secret
}

#[tokio::test]
async fn a_vault_moves_from_the_embedded_defaults_to_the_configured_backends() {
    let source = embedded_app().await;
    let secret = populate(&source).await;
    let before = contents(&source).await;
    assert_eq!(before.users.len(), 2);
    assert_eq!(before.views.len(), 1);
    assert_eq!(before.versions.len(), 5, "{:?}", before.versions);
    assert_eq!(before.rejections.len(), 1, "{:?}", before.rejections);
    assert_eq!(before.documents.iter().filter(|d| d.6).count(), 1);
    assert!(
        docuvault::fsck::fsck(&source.state, false)
            .await
            .unwrap()
            .is_clean()
    );

    // Export while the source server keeps running.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("export");
    let (ok, stdout, stderr) =
        common::run_cli(&source, &["export", "--out", out.to_str().unwrap()]);
    assert!(ok, "export failed: {stderr}");
    assert!(stdout.contains("2 users"), "{stdout}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["format"], "docuvault-export");
    assert_eq!(manifest["version"], 4);
    assert_eq!(manifest["source"]["database"], "sqlite");
    assert_eq!(manifest["source"]["storage"], "local");
    // notes and its copy share one original: 5 versions, 4 distinct contents, plus one
    // thumbnail per document (the two identical text cards are one file as well).
    assert_eq!(manifest["objects"]["entries"], 5 + 4);
    let originals = std::fs::read_dir(out.join("objects"))
        .unwrap()
        .map(|d| std::fs::read_dir(d.unwrap().path()).unwrap().count())
        .sum::<usize>();
    assert_eq!(
        originals as u64,
        manifest["objects"]["files"].as_u64().unwrap()
    );
    assert_eq!(originals, 4 + 3, "duplicates stored once");

    // Import into the configured backends under another secret key.
    let target = target_app(&docuvault::crypto::generate_secret_key()).await;
    let (db, store, _) = common::expected_backends();
    let health = body(target.health().await).await;
    assert_eq!(health["database"]["backend"], db, "{health}");
    assert_eq!(health["storage"]["backend"], store, "{health}");
    let source_key = key_file(&source);
    let (ok, stdout, stderr) = common::run_cli(
        &target,
        &[
            "import",
            "--from",
            out.to_str().unwrap(),
            "--source-secret-key",
            &source_key,
        ],
    );
    assert!(ok, "import failed: {stderr}");
    assert!(stdout.contains("re-sealed 1 secret(s)"), "{stdout}");

    // Rows: the same accounts, folders, topics, documents (trash state, duplicates),
    // versions, topic links and shares.
    let after = contents(&target).await;
    assert_eq!(after, before);
    let shas: Vec<_> = after.documents.iter().filter_map(|d| d.5.clone()).collect();
    let distinct: BTreeSet<_> = shas.iter().collect();
    assert_eq!(shas.len(), distinct.len() + 1, "the duplicate is still one");

    // Every version downloads byte-identical.
    for v in &before.versions {
        let key = ObjectKey::parse(&v.2).unwrap();
        let original = source.state.storage.get(&key).await.unwrap().unwrap();
        let moved = target.state.storage.get(&key).await.unwrap();
        assert_eq!(moved.as_deref(), Some(&original[..]), "version {}", v.0);
    }

    // Every account signs in with its password; alice with her TOTP too (re-sealed).
    let bob = target.login("bob", PASSWORD).await;
    let first = body(
        target
            .post_json(
                "/api/auth/login",
                None,
                &json!({"login": "alice", "password": PASSWORD}),
            )
            .await,
    )
    .await;
    assert_eq!(first["requires_totp"], true);
    let code = docuvault::auth::totp::code_at(&secret, now() + 30);
    let signed_in = target
        .post_json(
            "/api/auth/login",
            None,
            &json!({"login": "alice", "password": PASSWORD, "totp_code": code}),
        )
        .await;
    assert_eq!(signed_in.status(), 200);
    let alice = Session::from_body(body(signed_in).await);

    // The API serves the moved documents: the shared one to bob, a download to alice.
    let shared = body(target.get_auth("/api/shared-with-me", &bob.access).await).await;
    assert!(shared.to_string().contains("notes.txt"), "{shared}");
    let notes = before
        .documents
        .iter()
        .find(|d| d.2.is_some())
        .map(|d| d.0)
        .unwrap();
    let link = body(
        target
            .get_auth(&format!("/api/documents/{notes}/download"), &alice.access)
            .await,
    )
    .await;
    let url = link["url"].as_str().unwrap();
    let url = if url.starts_with('/') {
        target.url(url)
    } else {
        url.to_owned()
    };
    let bytes = target
        .client
        .get(url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&bytes[..], b"first notes, version one");

    let report = docuvault::fsck::fsck(&target.state, false).await.unwrap();
    assert!(report.is_clean(), "{report}");
}

#[tokio::test]
async fn bad_exports_and_non_empty_targets_are_refused_and_nothing_is_imported() {
    let source = embedded_app().await;
    let alice = source.register("alice").await;
    common::enable_totp(&source, &alice).await;
    let doc = text_document(&source, &alice, "a.txt", "some text to move").await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("export");
    let (ok, _, stderr) = common::run_cli(&source, &["export", "--out", out.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    // An export never overwrites.
    let (ok, _, stderr) = common::run_cli(&source, &["export", "--out", out.to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.contains("is not empty"), "{stderr}");

    // The target uses the source's key: secrets are carried as they are.
    let target = target_app(&key_file(&source)).await;
    let empty = |app: &TestApp| {
        let db = app.state.db.clone();
        let store = app.state.storage.clone();
        async move {
            assert_eq!(users::Entity::find().all(&db).await.unwrap().len(), 0);
            assert_eq!(documents::Entity::find().all(&db).await.unwrap().len(), 0);
            let objects = store.list("").await.unwrap();
            assert!(objects.is_empty(), "objects left behind: {objects:?}");
        }
    };
    let import =
        |from: &Path| common::run_cli(&target, &["import", "--from", from.to_str().unwrap()]);

    // A manifest of an unknown version.
    let bumped = dir.path().join("bumped");
    copy_dir(&out, &bumped);
    let manifest_path = bumped.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();
    manifest["version"] = json!(99);
    std::fs::write(&manifest_path, manifest.to_string()).unwrap();
    let (ok, _, stderr) = import(&bumped);
    assert!(!ok);
    assert!(
        stderr.contains("manifest version 99 is not supported"),
        "{stderr}"
    );
    empty(&target).await;

    // A corrupt original: named, and nothing imported (the objects written are removed).
    let corrupt = dir.path().join("corrupt");
    copy_dir(&out, &corrupt);
    let original = std::fs::read_to_string(corrupt.join("objects.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["kind"] == "version")
        .unwrap();
    let sha = original["sha256"].as_str().unwrap();
    let file = corrupt.join("objects").join(&sha[..2]).join(sha);
    std::fs::write(&file, b"some text to mov3").unwrap();
    let (ok, _, stderr) = import(&corrupt);
    assert!(!ok);
    assert!(stderr.contains(&format!("of document {doc}")), "{stderr}");
    assert!(stderr.contains("corrupt"), "{stderr}");
    empty(&target).await;

    // A missing original.
    std::fs::remove_file(&file).unwrap();
    let (ok, _, stderr) = import(&corrupt);
    assert!(!ok);
    assert!(stderr.contains(&format!("of document {doc}")), "{stderr}");
    assert!(stderr.contains("missing from the export"), "{stderr}");
    empty(&target).await;

    // The good export imports; a second import finds the target no longer empty.
    let (ok, _, stderr) = import(&out);
    assert!(ok, "{stderr}");
    let users_before = users::Entity::find().all(&target.state.db).await.unwrap();
    assert_eq!(users_before.len(), 1);
    let (ok, _, stderr) = import(&out);
    assert!(!ok);
    assert!(stderr.contains("not empty"), "{stderr}");
    assert_eq!(
        users::Entity::find().all(&target.state.db).await.unwrap(),
        users_before
    );
    // Same key: the TOTP secret is carried as stored and still opens.
    let secret_before = users::Entity::find()
        .all(&source.state.db)
        .await
        .unwrap()
        .remove(0)
        .totp_secret;
    assert_eq!(users_before[0].totp_secret, secret_before);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

#[tokio::test]
async fn an_export_of_format_version_1_still_imports() {
    let source = embedded_app().await;
    let alice = source.register("alice").await;
    let doc = text_document(&source, &alice, "old.txt", "written by an older DocuVault").await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("export");
    let (ok, _, stderr) = common::run_cli(&source, &["export", "--out", out.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    // What a version-1 build wrote: no saved_views table.
    let manifest_path = out.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();
    manifest["version"] = json!(1);
    let tables = manifest["tables"].as_array_mut().unwrap();
    let views = tables
        .iter()
        .position(|t| t["name"] == "saved_views")
        .unwrap();
    let file = tables.remove(views)["file"].as_str().unwrap().to_owned();
    std::fs::remove_file(out.join(file)).unwrap();
    // ...and texts in the documents' rows (`extracted_text`, `text_pages`), not in a file
    // of their own.
    let texts_at = tables
        .iter()
        .position(|t| t["name"] == "document_texts")
        .unwrap();
    let texts_file = out.join(tables.remove(texts_at)["file"].as_str().unwrap());
    let texts: std::collections::HashMap<String, serde_json::Value> =
        std::fs::read_to_string(&texts_file)
            .unwrap()
            .lines()
            .map(|l| {
                let t: serde_json::Value = serde_json::from_str(l).unwrap();
                (t["document_id"].as_str().unwrap().to_owned(), t)
            })
            .collect();
    assert!(texts.contains_key(&doc), "the export holds the text");
    std::fs::remove_file(texts_file).unwrap();
    let docs_file = out.join("documents.jsonl");
    let rows: Vec<String> = std::fs::read_to_string(&docs_file)
        .unwrap()
        .lines()
        .map(|l| {
            let mut row: serde_json::Value = serde_json::from_str(l).unwrap();
            let text = &texts[row["id"].as_str().unwrap()];
            row["extracted_text"] = text["body"].clone();
            row["text_pages"] = text["pages"].clone();
            row.to_string()
        })
        .collect();
    std::fs::write(&docs_file, rows.join("\n") + "\n").unwrap();
    std::fs::write(&manifest_path, manifest.to_string()).unwrap();

    let target = target_app(&key_file(&source)).await;
    // A version-1 export still needs every table version 1 had.
    let broken = dir.path().join("broken");
    copy_dir(&out, &broken);
    let mut without_shares = manifest.clone();
    without_shares["tables"]
        .as_array_mut()
        .unwrap()
        .retain(|t| t["name"] != "shares");
    std::fs::write(broken.join("manifest.json"), without_shares.to_string()).unwrap();
    let (ok, _, stderr) = common::run_cli(&target, &["import", "--from", broken.to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.contains("table shares is missing"), "{stderr}");

    let (ok, _, stderr) = common::run_cli(&target, &["import", "--from", out.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let s = target.login("alice", PASSWORD).await;
    let res = target
        .get_auth(&format!("/api/documents/{doc}"), &s.access)
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["filename"], "old.txt");
    // Its text moved to its own table: shown and found.
    let res = target
        .get_auth(&format!("/api/documents/{doc}/text"), &s.access)
        .await;
    assert_eq!(body(res).await["text"], "written by an older DocuVault");
    let res = target.get_auth("/api/documents?q=older", &s.access).await;
    assert_eq!(body(res).await["items"][0]["id"], doc.as_str());
    assert_eq!(
        saved_views::Entity::find()
            .all(&target.state.db)
            .await
            .unwrap()
            .len(),
        0
    );
}
