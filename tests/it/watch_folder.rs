//! The watched folder (`[ingest]`): files dropped under `{watch_dir}/{handle}/…` become
//! documents in the folders their path names, move to `.done/` (or are deleted), and
//! files that cannot be taken go to `.failed/` with a reason; restarts and several
//! instances on one folder import each file once.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use docuvault::entities::ingest_files::{self, IngestFileStatus};
use docuvault::entities::{documents, quotas};
use docuvault::state::AppState;
use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, Set};
use serde_json::Value;
use tempfile::TempDir;
use uuid::Uuid;

use crate::common::{self, Session, TestApp, body, poll_until, samples};

const DEADLINE: Duration = Duration::from_secs(60);

/// A real PDF of the corpus when it is there (`.ci/fetch-corpus.sh`), else the small
/// valid PDF of the samples.
fn pdf() -> Vec<u8> {
    let corpus = std::env::var_os("DOCUVAULT_TEST_CORPUS_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/docuvault-corpus/v1"))
        })
        .map(|d| d.join("pdf/txfontsdoc.pdf"))
        .filter(|p| p.exists());
    match corpus {
        Some(path) => std::fs::read(path).unwrap(),
        None => samples::hello_pdf(),
    }
}

/// A small valid PDF whose bytes differ by `n`.
fn numbered_pdf(n: usize) -> Vec<u8> {
    samples::pdf_with_stream(&format!(
        "BT /F1 12 Tf 72 712 Td (Invoice number {n}) Tj ET"
    ))
}

/// The watched-folder settings: polled every second, stable after one.
fn watching(env: &mut HashMap<String, String>, dir: &Path, after: &str) {
    env.insert(
        "DOCUVAULT__INGEST__WATCH_DIR".into(),
        dir.display().to_string(),
    );
    env.insert("DOCUVAULT__INGEST__POLL_SECS".into(), "1".into());
    env.insert("DOCUVAULT__INGEST__STABLE_SECS".into(), "1".into());
    env.insert("DOCUVAULT__INGEST__AFTER".into(), after.into());
}

async fn spawn_watching(after: &str) -> (TestApp, TempDir) {
    let watch = tempfile::tempdir().unwrap();
    let path = watch.path().to_path_buf();
    let app = TestApp::spawn_with(|env| watching(env, &path, after)).await;
    (app, watch)
}

/// Writes `bytes` to `path` the way a copy tool does: under a partial name first, then
/// renamed into place.
fn drop_file(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let partial = PathBuf::from(format!("{}.part", path.display()));
    std::fs::write(&partial, bytes).unwrap();
    std::fs::rename(&partial, path).unwrap();
}

async fn documents_of(app: &TestApp, s: &Session) -> Vec<Value> {
    let list = body(app.get_auth("/api/documents?per_page=100", &s.access).await).await;
    list["items"].as_array().unwrap().clone()
}

async fn status(app: &TestApp, s: &Session) -> Value {
    let res = app.get_auth("/api/ingest/status", &s.access).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// Polls until `path` exists.
async fn appears(path: &Path) {
    poll_until(
        DEADLINE,
        &format!("{} to appear", path.display()),
        || async { path.exists().then_some(()) },
    )
    .await;
}

async fn ingest_rows(state: &AppState) -> Vec<ingest_files::Model> {
    ingest_files::Entity::find().all(&state.db).await.unwrap()
}

async fn quota_row(state: &AppState, user: &str) -> quotas::Model {
    quotas::Entity::find_by_id(Uuid::parse_str(user).unwrap())
        .one(&state.db)
        .await
        .unwrap()
        .unwrap()
}

/// The id of the folder at `path` (names from the root) in the caller's tree.
async fn folder_at(app: &TestApp, s: &Session, path: &[&str]) -> Option<String> {
    let list = body(app.get_auth("/api/folders", &s.access).await).await;
    let items = list["items"].as_array().unwrap();
    let mut parent = Value::Null;
    for name in path {
        let found = items
            .iter()
            .find(|f| f["name"] == *name && f["parent_id"] == parent)?;
        parent = found["id"].clone();
    }
    parent.as_str().map(str::to_owned)
}

#[tokio::test]
async fn a_dropped_pdf_becomes_a_document_in_its_folder_and_moves_to_done() {
    let (app, watch) = spawn_watching("move").await;
    let alice = app.register("alice").await;
    let bytes = pdf();
    let dropped = watch.path().join("alice/Tax/2026/receipt.pdf");
    drop_file(&dropped, &bytes);

    let done = watch.path().join("alice/.done/Tax/2026/receipt.pdf");
    appears(&done).await;
    assert!(!dropped.exists(), "the imported file left the drop folder");
    assert_eq!(std::fs::read(&done).unwrap(), bytes);
    // The folders stay for the next drop.
    assert!(watch.path().join("alice/Tax/2026").is_dir());

    let docs = documents_of(&app, &alice).await;
    assert_eq!(docs.len(), 1, "{docs:?}");
    let doc = &docs[0];
    assert_eq!(doc["filename"], "receipt.pdf");
    assert_eq!(doc["content_type"], "application/pdf");
    assert_eq!(doc["size_bytes"], bytes.len());
    let tax_2026 = folder_at(&app, &alice, &["Tax", "2026"]).await.unwrap();
    assert_eq!(doc["folder_id"], tax_2026.as_str());
    let id = doc["id"].as_str().unwrap();
    let processed = common::wait_processed(&app, &alice, id).await;
    assert_ne!(processed["status"], "failed", "{processed}");
    assert_eq!(
        quota_row(&app.state, &alice.user_id).await.used_bytes,
        bytes.len() as i64
    );

    let st = status(&app, &alice).await;
    assert_eq!(st["enabled"], true);
    assert_eq!(
        st["folder"],
        watch.path().join("alice").display().to_string()
    );
    assert_eq!(st["recent"].as_array().unwrap().len(), 1);
    assert_eq!(st["recent"][0]["path"], "Tax/2026/receipt.pdf");
    assert_eq!(st["recent"][0]["status"], "imported");
    assert_eq!(st["recent"][0]["document_id"], id);
    assert_eq!(st["recent"][0]["reason"], Value::Null);

    // The same name dropped again (other bytes, a differently cased folder) is a new
    // document in the same folder; `.done/` numbers the name.
    let again = numbered_pdf(2);
    drop_file(&watch.path().join("alice/tax/2026/receipt.pdf"), &again);
    appears(&watch.path().join("alice/.done/tax/2026/receipt.pdf")).await;
    let docs = documents_of(&app, &alice).await;
    assert_eq!(docs.len(), 2);
    assert!(docs.iter().all(|d| d["folder_id"] == tax_2026.as_str()));
    drop_file(
        &watch.path().join("alice/Tax/2026/receipt.pdf"),
        &numbered_pdf(3),
    );
    appears(&watch.path().join("alice/.done/Tax/2026/receipt (2).pdf")).await;
    assert_eq!(documents_of(&app, &alice).await.len(), 3);
    let st = status(&app, &alice).await;
    assert_eq!(st["recent"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn with_after_delete_an_imported_file_is_removed() {
    let (app, watch) = spawn_watching("delete").await;
    let bob = app.register("bob").await;
    let dropped = watch.path().join("bob/letter.pdf");
    let bytes = numbered_pdf(1);
    drop_file(&dropped, &bytes);
    let docs = poll_until(DEADLINE, "the document", || async {
        let docs = documents_of(&app, &bob).await;
        (!docs.is_empty()).then_some(docs)
    })
    .await;
    assert_eq!(docs[0]["filename"], "letter.pdf");
    assert_eq!(docs[0]["folder_id"], Value::Null, "at the root");
    poll_until(DEADLINE, "the file to be deleted", || async {
        (!dropped.exists()).then_some(())
    })
    .await;
    assert!(!watch.path().join("bob/.done").exists());
    poll_until(DEADLINE, "the row to be finished", || async {
        let rows = ingest_rows(&app.state).await;
        (rows.len() == 1 && rows[0].finished_at.is_some()).then_some(())
    })
    .await;
}

/// A writer appending to a file more often than the stable period: the file is not
/// taken while it grows, and once it stops the whole file is imported.
#[tokio::test]
async fn a_file_still_being_written_is_not_taken_early() {
    let watch = tempfile::tempdir().unwrap();
    let path = watch.path().to_path_buf();
    let app = TestApp::spawn_with(|env| {
        watching(env, &path, "move");
        env.insert("DOCUVAULT__INGEST__STABLE_SECS".into(), "2".into());
    })
    .await;
    let carol = app.register("carol").await;
    let bytes = pdf();
    let target = watch.path().join("carol/scan.pdf");
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    // Written in 12 pieces, one every 400 ms (the writer's pace, not a wait): the
    // watcher polls several times meanwhile and always sees it changed.
    let pieces: Vec<&[u8]> = bytes.chunks(bytes.len().div_ceil(12)).collect();
    let mut pace = tokio::time::interval(Duration::from_millis(400));
    for piece in &pieces {
        pace.tick().await;
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&target)
            .unwrap();
        f.write_all(piece).unwrap();
        f.sync_all().unwrap();
        drop(f);
        assert!(
            ingest_rows(&app.state).await.is_empty(),
            "taken while still being written"
        );
        assert!(target.exists());
    }
    let done = watch.path().join("carol/.done/scan.pdf");
    appears(&done).await;
    assert_eq!(std::fs::read(&done).unwrap(), bytes);
    let docs = documents_of(&app, &carol).await;
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0]["size_bytes"], bytes.len());
}

#[tokio::test]
async fn files_that_cannot_be_taken_go_to_failed_with_a_reason_and_nothing_is_charged() {
    let watch = tempfile::tempdir().unwrap();
    let path = watch.path().to_path_buf();
    let big = samples::pdf_with_stream(&"BT /F1 12 Tf 72 712 Td (Too big) Tj ET\n".repeat(100));
    let limit = 2_000;
    assert!(big.len() > limit);
    let app = TestApp::spawn_with(|env| {
        watching(env, &path, "move");
        env.insert(
            "DOCUVAULT__QUOTA__DEFAULT_LIMIT_BYTES".into(),
            limit.to_string(),
        );
        env.insert("DOCUVAULT__DOCUMENTS__DUPLICATES".into(), "reject".into());
    })
    .await;
    let dave = app.register("dave").await;
    app.admin("boss").await;
    let w = watch.path();
    let kept = numbered_pdf(9);
    let original = app
        .upload(&dave, "kept.pdf", "application/pdf", kept.clone())
        .await;
    drop_file(&w.join("dave/copy.pdf"), &kept);
    drop_file(
        &w.join("dave/Notes/setup.exe"),
        b"MZ\x90\x00 not a document",
    );
    drop_file(&w.join("dave/huge.pdf"), &big);
    drop_file(&w.join("ghost/a.pdf"), &numbered_pdf(1));
    drop_file(&w.join("boss/b.pdf"), &numbered_pdf(2));
    drop_file(&w.join("loose.pdf"), &numbered_pdf(3));

    let reason = |p: PathBuf| async move {
        let r = PathBuf::from(format!("{}.reason.txt", p.display()));
        appears(&r).await;
        assert!(p.exists(), "{} moved next to its reason", p.display());
        std::fs::read_to_string(r).unwrap()
    };
    let exe = reason(w.join("dave/.failed/Notes/setup.exe")).await;
    assert!(
        exe.contains("\"setup.exe\" is not a document type"),
        "{exe}"
    );
    let quota = reason(w.join("dave/.failed/huge.pdf")).await;
    assert!(quota.starts_with("Over quota"), "{quota}");
    assert!(quota.contains(&big.len().to_string()), "{quota}");
    let duplicate = reason(w.join("dave/.failed/copy.pdf")).await;
    assert!(duplicate.contains(&original), "{duplicate}");
    let ghost = reason(w.join(".failed/ghost/a.pdf")).await;
    assert!(
        ghost.contains("No account has the handle \"ghost\""),
        "{ghost}"
    );
    let admin = reason(w.join(".failed/boss/b.pdf")).await;
    assert!(admin.contains("administrator"), "{admin}");
    let loose = reason(w.join(".failed/loose.pdf")).await;
    assert!(loose.contains("named after an account"), "{loose}");
    for gone in [
        "dave/Notes/setup.exe",
        "dave/huge.pdf",
        "ghost/a.pdf",
        "boss/b.pdf",
    ] {
        assert!(!w.join(gone).exists(), "{gone}");
    }

    // Only the document uploaded by hand is there, and charged.
    let docs = documents_of(&app, &dave).await;
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0]["id"], original.as_str());
    let q = quota_row(&app.state, &dave.user_id).await;
    assert_eq!((q.used_bytes, q.reserved_bytes), (kept.len() as i64, 0));
    assert_eq!(
        documents::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        1,
        "no pending upload left behind"
    );
    let st = status(&app, &dave).await;
    let recent = st["recent"].as_array().unwrap();
    assert_eq!(recent.len(), 3, "{st}");
    for item in recent {
        assert_eq!(item["status"], "failed");
        assert_eq!(item["document_id"], Value::Null);
        assert!(item["reason"].as_str().unwrap().ends_with('.'));
    }
    let paths: Vec<&str> = recent.iter().map(|i| i["path"].as_str().unwrap()).collect();
    for path in ["Notes/setup.exe", "huge.pdf", "copy.pdf"] {
        assert!(paths.contains(&path), "{paths:?}");
    }
}

/// What the scanner records a file under: its size and modification time.
fn size_and_mtime(path: &Path) -> (i64, i64) {
    let meta = std::fs::metadata(path).unwrap();
    (
        meta.len() as i64,
        meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
    )
}

fn row(user: &str, path: &str, file: &Path, status: IngestFileStatus) -> ingest_files::ActiveModel {
    let (size, mtime) = size_and_mtime(file);
    let now = docuvault::time::now();
    ingest_files::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(Uuid::parse_str(user).unwrap()),
        path: Set(path.into()),
        size_bytes: Set(size),
        mtime_ns: Set(mtime),
        status: Set(status),
        reason: Set(None),
        document_id: Set(None),
        claimed_at: Set(now),
        created_at: Set(now),
        finished_at: Set(None),
    }
}

/// A crash after the document was stored and recorded but before the file moved: the
/// next instance (a restart) finds the row and only moves the file.
#[tokio::test]
async fn after_a_crash_a_recorded_import_is_only_moved_not_imported_again() {
    let watch = tempfile::tempdir().unwrap();
    let w = watch.path().to_path_buf();
    // First run: not watching yet; the document exists, as the crashed import left it.
    let app = TestApp::spawn().await;
    let erin = app.register("erin").await;
    let bytes = numbered_pdf(7);
    let doc = app
        .upload(&erin, "invoice.pdf", "application/pdf", bytes.clone())
        .await;
    let file = w.join("erin/invoice.pdf");
    drop_file(&file, &bytes);
    let mut crashed = row(
        &erin.user_id,
        "erin/invoice.pdf",
        &file,
        IngestFileStatus::Imported,
    );
    crashed.document_id = Set(Some(Uuid::parse_str(&doc).unwrap()));
    crashed.insert(&app.state.db).await.unwrap();

    // Restart with the watched folder on.
    let app = app.restart_with(|env| watching(env, &w, "move")).await;
    appears(&w.join("erin/.done/invoice.pdf")).await;
    poll_until(DEADLINE, "the row to be finished", || async {
        let rows = ingest_rows(&app.state).await;
        (rows.len() == 1 && rows[0].finished_at.is_some()).then_some(())
    })
    .await;
    let docs = documents_of(&app, &erin).await;
    assert_eq!(docs.len(), 1, "imported once");
    assert_eq!(docs[0]["id"], doc.as_str());
    let st = status(&app, &erin).await;
    assert_eq!(st["recent"][0]["document_id"], doc.as_str());
}

/// A crash after the document was stored but before it was recorded: the claim is
/// stale, and the instance taking it over adopts the stored document (same bytes,
/// created since the claim) instead of storing a second one.
#[tokio::test]
async fn a_stale_claim_adopts_the_document_a_crashed_import_stored() {
    let watch = tempfile::tempdir().unwrap();
    let w = watch.path().to_path_buf();
    let app = TestApp::spawn().await;
    let fred = app.register("fred").await;
    let bytes = numbered_pdf(8);
    let file = w.join("fred/Bank/statement.pdf");
    drop_file(&file, &bytes);
    let mut claim = row(
        &fred.user_id,
        "fred/Bank/statement.pdf",
        &file,
        IngestFileStatus::Claimed,
    );
    let long_ago = docuvault::time::now() - chrono::Duration::minutes(10);
    claim.claimed_at = Set(long_ago);
    claim.created_at = Set(long_ago);
    let claim = claim.insert(&app.state.db).await.unwrap();
    let doc = app
        .upload(&fred, "statement.pdf", "application/pdf", bytes.clone())
        .await;

    let app = app.restart_with(|env| watching(env, &w, "move")).await;
    appears(&w.join("fred/.done/Bank/statement.pdf")).await;
    let rows = poll_until(DEADLINE, "the row to be finished", || async {
        let rows = ingest_rows(&app.state).await;
        (rows.len() == 1 && rows[0].finished_at.is_some()).then_some(rows)
    })
    .await;
    assert_eq!(rows[0].id, claim.id);
    assert_eq!(rows[0].status, IngestFileStatus::Imported);
    assert_eq!(rows[0].document_id, Some(Uuid::parse_str(&doc).unwrap()));
    assert_eq!(documents_of(&app, &fred).await.len(), 1, "imported once");
}

/// A live claim (another instance importing right now) is left alone.
#[tokio::test]
async fn a_live_claim_elsewhere_is_left_alone() {
    let (app, watch) = spawn_watching("move").await;
    let gina = app.register("gina").await;
    let w = watch.path();
    // Claimed by "another instance" before the file is even stable here.
    let file = w.join("gina/held.pdf");
    drop_file(&file, &numbered_pdf(1));
    row(
        &gina.user_id,
        "gina/held.pdf",
        &file,
        IngestFileStatus::Claimed,
    )
    .insert(&app.state.db)
    .await
    .unwrap();
    // A later file is imported: rounds run, and the held one stays.
    drop_file(&w.join("gina/later.pdf"), &numbered_pdf(2));
    appears(&w.join("gina/.done/later.pdf")).await;
    assert!(file.exists());
    let docs = documents_of(&app, &gina).await;
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0]["filename"], "later.pdf");
}

/// One more server on the same settings (database, data directory, watched folder).
struct Instance {
    handle: actix_web::dev::ServerHandle,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Instance {
    async fn start(settings: &docuvault::settings::Settings) -> Instance {
        let app = docuvault::startup::Application::build(settings.clone())
            .await
            .expect("application builds");
        let handle = app.handle();
        let done = tokio::spawn(app.run_until_stopped());
        Instance { handle, done }
    }

    async fn stop(self) {
        self.handle.stop(true).await;
        self.done.await.unwrap().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_folder_import_each_file_once() {
    let (app, watch) = spawn_watching("move").await;
    let other = Instance::start(&app.settings).await;
    let hana = app.register("hana").await;
    let w = watch.path();
    const FILES: usize = 24;
    for n in 0..FILES {
        drop_file(
            &w.join(format!("hana/batch {}/doc-{n}.pdf", n % 3)),
            &numbered_pdf(n),
        );
    }
    poll_until(DEADLINE, "every file to be imported", || async {
        let moved = (0..FILES)
            .filter(|n| {
                w.join(format!("hana/.done/batch {}/doc-{n}.pdf", n % 3))
                    .exists()
            })
            .count();
        (moved == FILES).then_some(())
    })
    .await;
    other.stop().await;
    let docs = documents_of(&app, &hana).await;
    assert_eq!(docs.len(), FILES, "each file imported once");
    let mut names: Vec<&str> = docs
        .iter()
        .map(|d| d["filename"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), FILES);
    let rows = ingest_rows(&app.state).await;
    assert_eq!(rows.len(), FILES);
    assert!(rows.iter().all(|r| r.status == IngestFileStatus::Imported));
    // Three folders, each made once although both instances filed into them.
    let folders = body(app.get_auth("/api/folders", &hana.access).await).await;
    assert_eq!(folders["items"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn the_status_of_a_server_without_a_watched_folder() {
    let app = TestApp::spawn().await;
    let ivan = app.register("ivan").await;
    let st = status(&app, &ivan).await;
    assert_eq!(
        st,
        serde_json::json!({"enabled": false, "folder": null, "recent": []})
    );
    let admin = app.admin("chief").await;
    assert_eq!(
        app.get_auth("/api/ingest/status", &admin.access)
            .await
            .status(),
        403
    );
    assert_eq!(app.get("/api/ingest/status").await.status(), 401);
}

#[test]
fn ingest_settings_are_checked_while_loading() {
    use docuvault::settings::Settings;
    for (key, value, complaint) in [
        ("DOCUVAULT__INGEST__POLL_SECS", "0", "ingest.poll_secs"),
        (
            "DOCUVAULT__INGEST__STABLE_SECS",
            "100000",
            "ingest.stable_secs",
        ),
        (
            "DOCUVAULT__INGEST__WATCH_DIR",
            "relative/dir",
            "ingest.watch_dir",
        ),
        ("DOCUVAULT__INGEST__AFTER", "archive", "ingest"),
    ] {
        let env = HashMap::from([(key.to_owned(), value.to_owned())]);
        let err = Settings::load(None, &env).unwrap_err().to_string();
        assert!(err.contains(complaint), "{key}={value}: {err}");
    }
    let defaults = Settings::load(None, &HashMap::new()).unwrap();
    assert_eq!(defaults.ingest.dir(), None);
    assert_eq!(defaults.ingest.poll_secs, 5);
    assert_eq!(defaults.ingest.stable_secs, 5);
    assert_eq!(
        defaults.ingest.after,
        docuvault::settings::IngestAfter::Move
    );
}
