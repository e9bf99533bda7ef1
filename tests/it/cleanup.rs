//! The cleanup job (stale uploads, failed deletions, its race with confirm), the
//! scheduler that runs it, and `fsck` in process and as a command.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{Session, TestApp};
use docuvault::documents::service::staging_key;
use docuvault::domain::ObjectKey;
use docuvault::entities::{documents, object_deletions, quotas};
use docuvault::fsck::{ObjectProblem, fsck};
use docuvault::jobs::cleanup::run_cleanup;
use docuvault::state::AppState;
use futures_util::StreamExt;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

/// An app whose scheduler stays off (tests run cleanup themselves) and that allows
/// many open uploads per user.
async fn spawn() -> TestApp {
    TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__CLEANUP__ENABLED".into(), "false".into());
        env.insert(
            "DOCUVAULT__DOCUMENTS__MAX_PENDING_PER_USER".into(),
            "1000".into(),
        );
    })
    .await
}

/// The app's state with another pending lifetime, e.g. 0 so fsck calls every
/// unreferenced object an orphan without waiting.
fn with_pending_ttl(state: &AppState, secs: u64) -> AppState {
    let mut settings = (*state.settings).clone();
    settings.documents.pending_ttl_secs = secs;
    let mut state = state.clone();
    state.settings = Arc::new(settings);
    state
}

/// Ages uploads past the pending lifetime by moving their creation two hours back.
async fn backdate(app: &TestApp, ids: &[Uuid]) {
    let old = docuvault::time::now() - chrono::Duration::hours(2);
    documents::Entity::update_many()
        .col_expr(documents::Column::CreatedAt, Expr::value(old))
        .filter(documents::Column::Id.is_in(ids.to_vec()))
        .exec(&app.state.db)
        .await
        .unwrap();
}

async fn row(app: &TestApp, id: Uuid) -> Option<documents::Model> {
    documents::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .unwrap()
}

/// Size of the stored object under `key`, if any.
async fn stored(app: &TestApp, key: &str) -> Option<u64> {
    app.state
        .storage
        .stat(&ObjectKey::parse(key).unwrap())
        .await
        .unwrap()
        .map(|m| m.size_bytes)
}

fn staging(key: &str) -> String {
    staging_key(&ObjectKey::parse(key).unwrap())
        .unwrap()
        .as_str()
        .to_owned()
}

async fn object_key(app: &TestApp, id: Uuid) -> String {
    row(app, id).await.unwrap().object_key
}

async fn used_bytes(app: &TestApp, user: &Session) -> i64 {
    quotas::Entity::find_by_id(Uuid::parse_str(&user.user_id).unwrap())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .used_bytes
}

/// upload-url and PUT, no confirm; the document id.
async fn put_only(app: &TestApp, s: &Session, bytes: Vec<u8>) -> Uuid {
    let ticket = app
        .upload_url(s, "note.txt", "text/plain", bytes.len())
        .await;
    let put = app.put_bytes(&ticket, bytes).await;
    assert!(put.status().is_success(), "PUT {}", put.status());
    ticket["document_id"].as_str().unwrap().parse().unwrap()
}

async fn put_object(app: &TestApp, key: &str, bytes: &[u8]) {
    app.state
        .storage
        .put(
            &ObjectKey::parse(key).unwrap(),
            bytes.to_vec(),
            "text/plain",
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn stale_uploads_lose_row_and_objects_while_fresh_and_confirmed_ones_stay() {
    let app = spawn().await;
    let alice = app.register("alice").await;

    let stale_put = put_only(&app, &alice, b"stale bytes".to_vec()).await;
    let stale_key = object_key(&app, stale_put).await;
    let never_put = app.upload_url(&alice, "a.txt", "text/plain", 5).await["document_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // A confirm that renamed staging → final and then failed to commit leaves both.
    let half_confirmed = put_only(&app, &alice, b"half".to_vec()).await;
    let half_key = object_key(&app, half_confirmed).await;
    put_object(&app, &half_key, b"half").await;

    let fresh = put_only(&app, &alice, b"fresh".to_vec()).await;
    let fresh_key = object_key(&app, fresh).await;
    let confirmed: Uuid = app
        .upload(&alice, "kept.txt", "text/plain", b"confirmed!".to_vec())
        .await
        .parse()
        .unwrap();
    let confirmed_key = object_key(&app, confirmed).await;

    backdate(&app, &[stale_put, never_put, half_confirmed, confirmed]).await;
    let report = run_cleanup(&app.state).await.unwrap();
    assert!(!report.skipped);
    assert_eq!(report.stale_uploads_removed, 3, "{report:?}");
    assert_eq!(report.stale_uploads_confirmed_meanwhile, 0);
    assert_eq!(report.deletions_still_failing, 0);

    for id in [stale_put, never_put, half_confirmed] {
        assert!(row(&app, id).await.is_none(), "{id} still there");
    }
    for key in [&stale_key, &half_key] {
        assert_eq!(stored(&app, key).await, None, "{key}");
        assert_eq!(stored(&app, &staging(key)).await, None, "{key} staging");
    }
    assert_eq!(row(&app, fresh).await.unwrap().status, "pending");
    assert_eq!(stored(&app, &staging(&fresh_key)).await, Some(5));
    // Confirmed: past `pending`, whatever processing has done with it since.
    assert_ne!(row(&app, confirmed).await.unwrap().status, "pending");
    assert_eq!(stored(&app, &confirmed_key).await, Some(10));
    assert_eq!(used_bytes(&app, &alice).await, 10);

    // Confirming a removed upload is a plain 404; the fresh one still confirms.
    assert_eq!(
        app.confirm(&alice, &stale_put.to_string()).await.status(),
        404
    );
    assert_eq!(app.confirm(&alice, &fresh.to_string()).await.status(), 200);

    let again = run_cleanup(&app.state).await.unwrap();
    assert_eq!(again.stale_uploads_removed, 0, "{again:?}");
    assert_eq!(used_bytes(&app, &alice).await, 15);
    assert!(
        fsck(&with_pending_ttl(&app.state, 0), false)
            .await
            .unwrap()
            .is_clean()
    );
}

#[tokio::test]
async fn failed_object_deletions_are_retried_and_cleared() {
    let app = spawn().await;
    let key = format!(
        "{}/{}/{}.txt",
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4()
    );
    put_object(&app, &key, b"left behind").await;
    object_deletions::ActiveModel {
        object_key: Set(key.clone()),
        attempts: Set(1),
        last_error: Set(Some("object storage unavailable: timeout".into())),
        created_at: Set(docuvault::time::now()),
    }
    .insert(&app.state.db)
    .await
    .unwrap();

    // On the local store a directory where the object should be makes deletion fail.
    let stuck = format!(
        "{}/{}/{}.txt",
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4()
    );
    if let Some(local) = &app.state.local_store {
        std::fs::create_dir_all(local.path(&ObjectKey::parse(&stuck).unwrap())).unwrap();
        object_deletions::ActiveModel {
            object_key: Set(stuck.clone()),
            attempts: Set(1),
            last_error: Set(None),
            created_at: Set(docuvault::time::now()),
        }
        .insert(&app.state.db)
        .await
        .unwrap();
    }

    let report = run_cleanup(&app.state).await.unwrap();
    assert_eq!(report.deletions_completed, 1, "{report:?}");
    assert_eq!(stored(&app, &key).await, None);
    assert!(
        object_deletions::Entity::find_by_id(key.clone())
            .one(&app.state.db)
            .await
            .unwrap()
            .is_none()
    );

    if app.state.local_store.is_some() {
        assert_eq!(report.deletions_still_failing, 1, "{report:?}");
        let kept = object_deletions::Entity::find_by_id(stuck.clone())
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(kept.attempts, 2);
        assert!(kept.last_error.is_some());
        let again = run_cleanup(&app.state).await.unwrap();
        assert_eq!(again.deletions_still_failing, 1);
        let kept = object_deletions::Entity::find_by_id(stuck)
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(kept.attempts, 3);
    }
}

#[tokio::test]
async fn a_run_is_skipped_while_another_instance_holds_the_cleanup_lock() {
    use sea_orm::sqlx;
    let app = spawn().await;
    let alice = app.register("alice").await;
    let stale = put_only(&app, &alice, b"stale".to_vec()).await;
    backdate(&app, &[stale]).await;
    if app.state.db.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
        // SQLite: one instance per database file, no lock to wait for.
        assert!(!run_cleanup(&app.state).await.unwrap().skipped);
        assert!(row(&app, stale).await.is_none());
        return;
    }
    // Another instance's session holds the lock.
    let mut other = app
        .state
        .db
        .get_postgres_connection_pool()
        .acquire()
        .await
        .unwrap();
    let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(docuvault::db::AdvisoryLock::Cleanup.id())
        .fetch_one(&mut *other)
        .await
        .unwrap();
    assert!(taken);
    let skipped = run_cleanup(&app.state).await.unwrap();
    assert!(skipped.skipped, "{skipped:?}");
    assert!(row(&app, stale).await.is_some());

    let released: bool = sqlx::query_scalar("SELECT pg_advisory_unlock($1)")
        .bind(docuvault::db::AdvisoryLock::Cleanup.id())
        .fetch_one(&mut *other)
        .await
        .unwrap();
    assert!(released);
    let ran = run_cleanup(&app.state).await.unwrap();
    assert!(!ran.skipped);
    assert_eq!(ran.stale_uploads_removed, 1);
    // The run released its lock: the other session can take it again.
    let again: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(docuvault::db::AdvisoryLock::Cleanup.id())
        .fetch_one(&mut *other)
        .await
        .unwrap();
    assert!(again);
}

#[tokio::test]
async fn cleanup_racing_confirm_never_loses_a_confirmed_upload() {
    let app = spawn().await;
    let users = [app.register("alice").await, app.register("bob").await];
    const UPLOADS: usize = 200;

    // 200 uploads with their bytes in place, then all aged past the pending lifetime.
    let uploads: Vec<(usize, Uuid, usize)> = futures_util::stream::iter(0..UPLOADS)
        .map(|i| {
            let app = &app;
            let user = &users[i % 2];
            async move {
                let size = 10 + i;
                (i % 2, put_only(app, user, vec![b'a'; size]).await, size)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let ids: Vec<Uuid> = uploads.iter().map(|u| u.1).collect();
    let mut keys = std::collections::HashMap::new();
    for id in &ids {
        keys.insert(*id, object_key(&app, *id).await);
    }
    backdate(&app, &ids).await;

    // Confirms fire while cleanup runs over and over.
    let confirming = AtomicBool::new(true);
    let cleanups = async {
        let mut runs = 0;
        while confirming.load(Ordering::SeqCst) || runs < 3 {
            run_cleanup(&app.state).await.unwrap();
            runs += 1;
        }
        runs
    };
    let confirms = async {
        let outcomes: Vec<(usize, Uuid, usize, u16)> = futures_util::stream::iter(&uploads)
            .map(|&(user, id, size)| {
                let app = &app;
                let session = &users[user];
                async move {
                    let res = app.confirm(session, &id.to_string()).await;
                    let status = res.status().as_u16();
                    let body = res.text().await.unwrap();
                    assert!(
                        status == 200 || status == 404,
                        "confirm {id}: {status} {body}"
                    );
                    (user, id, size, status)
                }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        confirming.store(false, Ordering::SeqCst);
        outcomes
    };
    let (runs, outcomes) = tokio::join!(cleanups, confirms);
    run_cleanup(&app.state).await.unwrap();

    let mut charged = [0i64; 2];
    let (mut kept, mut removed) = (0, 0);
    for (user, id, size, status) in outcomes {
        let key = &keys[&id];
        match row(&app, id).await {
            Some(doc) => {
                assert_eq!(status, 200, "{id} kept but its confirm said {status}");
                assert_ne!(doc.status, "pending");
                assert_eq!(doc.size_bytes, size as i64);
                assert_eq!(
                    stored(&app, key).await,
                    Some(size as u64),
                    "{id} lost its object"
                );
                assert_eq!(stored(&app, &staging(key)).await, None);
                charged[user] += size as i64;
                kept += 1;
            }
            None => {
                assert_eq!(status, 404, "{id} removed but its confirm said {status}");
                assert_eq!(stored(&app, key).await, None, "{id} left its object");
                assert_eq!(stored(&app, &staging(key)).await, None);
                removed += 1;
            }
        }
    }
    eprintln!("{runs} cleanup runs; {kept} uploads confirmed, {removed} removed");
    assert_eq!(kept + removed, UPLOADS);
    for (i, user) in users.iter().enumerate() {
        assert_eq!(used_bytes(&app, user).await, charged[i], "{}", user.user_id);
    }
    let report = fsck(&with_pending_ttl(&app.state, 0), false).await.unwrap();
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.documents_checked, kept as u64);
}

#[tokio::test]
async fn fsck_finds_quota_drift_missing_objects_and_orphans_and_repairs_what_it_can() {
    let app = spawn().await;
    let alice = app.register("alice").await;
    let kept: Uuid = app
        .upload(&alice, "kept.txt", "text/plain", vec![b'k'; 100])
        .await
        .parse()
        .unwrap();
    let lost: Uuid = app
        .upload(&alice, "lost.txt", "text/plain", vec![b'l'; 30])
        .await
        .parse()
        .unwrap();
    let resized: Uuid = app
        .upload(&alice, "resized.txt", "text/plain", vec![b'r'; 7])
        .await
        .parse()
        .unwrap();
    // A pending upload: neither charged nor an orphan.
    let pending = put_only(&app, &alice, b"pending".to_vec()).await;
    let pending_key = object_key(&app, pending).await;

    let now_clean = fsck(&with_pending_ttl(&app.state, 0), false).await.unwrap();
    assert!(now_clean.is_clean(), "{now_clean}");
    assert_eq!(now_clean.exit_code(), 0);
    assert_eq!(now_clean.documents_checked, 3);

    // Damage: drifted quota, a vanished object, a resized one, an orphan, and an
    // object that is not docuvault's.
    quotas::Entity::update_many()
        .col_expr(quotas::Column::UsedBytes, Expr::value(999_999i64))
        .col_expr(quotas::Column::ReservedBytes, Expr::value(1i64))
        .filter(quotas::Column::UserId.eq(Uuid::parse_str(&alice.user_id).unwrap()))
        .exec(&app.state.db)
        .await
        .unwrap();
    let lost_key = object_key(&app, lost).await;
    app.state
        .storage
        .delete(&ObjectKey::parse(&lost_key).unwrap())
        .await
        .unwrap();
    put_object(&app, &object_key(&app, resized).await, b"resized!!").await;
    let orphan = format!(
        "{}/{}/{}.pdf",
        alice.user_id,
        Uuid::new_v4(),
        Uuid::new_v4()
    );
    put_object(&app, &orphan, b"nobody's").await;
    put_object(&app, "notes/readme.txt", b"not ours").await;

    // Young objects are never orphans.
    let young = fsck(&app.state, false).await.unwrap();
    assert!(young.orphans.is_empty(), "{young}");

    let state = with_pending_ttl(&app.state, 0);
    let dry = fsck(&state, false).await.unwrap();
    assert_eq!(dry.quota_mismatches.len(), 1, "{dry}");
    let q = &dry.quota_mismatches[0];
    assert_eq!(q.recorded, Some(999_999));
    assert_eq!(q.computed, 137);
    // The reservation is the pending upload's declared size.
    assert_eq!(q.recorded_reserved, Some(1));
    assert_eq!(q.computed_reserved, 7);
    assert!(!q.repaired);
    assert_eq!(dry.document_problems.len(), 2, "{dry}");
    let problem_of = |id: Uuid| {
        dry.document_problems
            .iter()
            .find(|p| p.document_id == id)
            .unwrap()
            .problem
    };
    assert_eq!(problem_of(lost), ObjectProblem::Missing);
    assert_eq!(
        problem_of(resized),
        ObjectProblem::SizeDiffers { stored_bytes: 9 }
    );
    assert_eq!(dry.orphans.len(), 1, "{dry}");
    assert_eq!(dry.orphans[0].key, orphan);
    assert!(dry.foreign_objects >= 1);
    assert_eq!(dry.exit_code(), 1);
    assert_eq!(
        used_bytes(&app, &alice).await,
        999_999,
        "dry run changes nothing"
    );
    assert_eq!(stored(&app, &orphan).await, Some(8));
    let text = dry.to_string();
    assert!(text.contains("dry run"), "{text}");
    assert!(text.contains("4 problems found"), "{text}");

    let repaired = fsck(&state, true).await.unwrap();
    assert!(repaired.quota_mismatches[0].repaired);
    assert!(repaired.orphans[0].deleted);
    assert_eq!(repaired.problems_remaining(), 2, "{repaired}");
    assert_eq!(repaired.exit_code(), 1);
    assert!(repaired.to_string().contains("reported only"));
    assert_eq!(used_bytes(&app, &alice).await, 137);
    assert_eq!(
        quotas::Entity::find_by_id(Uuid::parse_str(&alice.user_id).unwrap())
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap()
            .reserved_bytes,
        7
    );
    assert_eq!(stored(&app, &orphan).await, None);
    assert_eq!(stored(&app, "notes/readme.txt").await, Some(8));
    assert_eq!(stored(&app, &staging(&pending_key)).await, Some(7));
    assert!(
        row(&app, lost).await.is_some(),
        "documents are never deleted"
    );

    // The owner deletes the broken documents: clean again.
    for id in [lost, resized] {
        let res = app
            .client
            .delete(app.url(&format!("/api/documents/{id}?permanent=true")))
            .bearer_auth(&alice.access)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204, "delete {id}");
    }
    let after = fsck(&state, false).await.unwrap();
    assert!(after.is_clean(), "{after}");
    assert_eq!(after.exit_code(), 0);
    assert!(row(&app, kept).await.is_some());
    assert_eq!(used_bytes(&app, &alice).await, 100);
}

/// Writes `.tmp/{name}` under `objects` with `len` bytes, last modified `age` ago.
fn temp_file(objects: &Path, name: &str, len: usize, age: Duration) -> std::path::PathBuf {
    let dir = objects.join(".tmp");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, vec![b'p'; len]).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - age)
        .unwrap();
    path
}

/// After kill -9, partial uploads stay in `objects/.tmp`: the start sweeps stale ones,
/// fsck reports them and `--repair` removes them, and so does the cleanup job; a file
/// younger than the stale age (a live upload's) is never touched.
#[tokio::test]
async fn stale_temporary_files_are_swept_at_start_by_cleanup_and_by_fsck_repair() {
    let objects_dir = tempfile::tempdir().unwrap();
    let objects = objects_dir.path().join("objects");
    let two_hours = Duration::from_secs(2 * 3600);
    let left_by_crash = temp_file(&objects, "upload-crashed", 53_600, two_hours);
    let app = TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__CLEANUP__ENABLED".into(), "false".into());
        env.insert("DOCUVAULT__STORAGE__BACKEND".into(), "local".into());
        env.insert(
            "DOCUVAULT__STORAGE__LOCAL_DIR".into(),
            objects.display().to_string(),
        );
    })
    .await;
    assert!(
        !left_by_crash.exists(),
        "the start sweeps stale temporary files"
    );
    let local = app.state.local_store.clone().unwrap();
    assert!(local.stale_temp_age() >= Duration::from_secs(3600));

    let stale = temp_file(&objects, "upload-stale", 1000, two_hours);
    let live = temp_file(&objects, "upload-live", 10, Duration::from_secs(60));
    let dry = fsck(&app.state, false).await.unwrap();
    assert_eq!(dry.stale_temp_files.len(), 1, "{dry}");
    assert_eq!(dry.stale_temp_files[0].name, "upload-stale");
    assert_eq!(dry.stale_temp_files[0].size_bytes, 1000);
    assert_eq!(dry.exit_code(), 1);
    let text = dry.to_string();
    assert!(text.contains(".tmp/upload-stale"), "{text}");
    assert!(text.contains("1 problems found"), "{text}");
    assert!(stale.exists(), "a dry run deletes nothing");

    let repaired = fsck(&app.state, true).await.unwrap();
    assert!(repaired.stale_temp_files[0].deleted, "{repaired}");
    assert_eq!(repaired.exit_code(), 0, "{repaired}");
    assert!(!stale.exists());
    assert!(live.exists());
    assert!(fsck(&app.state, false).await.unwrap().is_clean());

    let stale = temp_file(&objects, "put-stale", 5, two_hours);
    let report = run_cleanup(&app.state).await.unwrap();
    assert_eq!(report.stale_temp_files_removed, 1);
    assert!(!stale.exists());
    assert!(live.exists(), "a live upload's file is never swept");
}

#[tokio::test]
async fn the_scheduler_runs_cleanup_on_its_schedule() {
    let app = TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__CLEANUP__ENABLED".into(), "true".into());
        env.insert("DOCUVAULT__CLEANUP__SCHEDULE".into(), "* * * * * *".into());
    })
    .await;
    let alice = app.register("alice").await;
    let stale = put_only(&app, &alice, b"stale".to_vec()).await;
    let key = object_key(&app, stale).await;
    backdate(&app, &[stale]).await;
    common::poll_until(Duration::from_secs(20), "the scheduled cleanup", || async {
        row(&app, stale).await.is_none().then_some(())
    })
    .await;
    common::poll_until(
        Duration::from_secs(10),
        "the staging object to go",
        || async { stored(&app, &staging(&key)).await.is_none().then_some(()) },
    )
    .await;
    app.stop().await;
}

/// The binary with a clean environment, its data under `dir/data`.
fn docuvault(dir: &Path) -> Command {
    let mut cmd = common::docuvault_command(dir);
    cmd.env("DOCUVAULT__DATA_DIR", dir.join("data"));
    cmd
}

/// Runs `docuvault fsck [args]`; exit code and stdout.
fn run_fsck(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = docuvault(dir).arg("fsck").args(args).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let code = out.status.code().unwrap();
    assert!(
        code == 0 || code == 1,
        "fsck {args:?}: {code}\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (code, stdout)
}

async fn sqlite(dir: &Path) -> sea_orm::DatabaseConnection {
    let url = format!(
        "sqlite://{}?mode=rw",
        dir.join("data/docuvault.db").display()
    );
    sea_orm::Database::connect(url).await.unwrap()
}

#[tokio::test]
async fn fsck_command_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let migrated = docuvault(dir).arg("migrate").output().unwrap();
    assert!(migrated.status.success());

    let (code, out) = run_fsck(dir, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("result: clean"), "{out}");

    let created = docuvault(dir)
        .args([
            "admin",
            "create",
            "--email",
            "root@example.com",
            "--handle",
            "root",
        ])
        .env("DOCUVAULT_ADMIN_PASSWORD", "cli admin password")
        .output()
        .unwrap();
    assert!(created.status.success());
    let db = sqlite(dir).await;
    let user = quotas::Entity::find()
        .one(&db)
        .await
        .unwrap()
        .unwrap()
        .user_id;
    quotas::Entity::update_many()
        .col_expr(quotas::Column::UsedBytes, Expr::value(12_345i64))
        .exec(&db)
        .await
        .unwrap();
    // An orphan older than the pending lifetime (an hour).
    let orphan = dir.join(format!(
        "data/objects/{user}/{}/{}.pdf",
        Uuid::new_v4(),
        Uuid::new_v4()
    ));
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::write(&orphan, b"orphan").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&orphan)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - Duration::from_secs(2 * 3600))
        .unwrap();

    let (code, out) = run_fsck(dir, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("12345 bytes recorded"), "{out}");
    assert!(out.contains("2 problems found"), "{out}");
    assert!(orphan.exists(), "a dry run deletes nothing");

    let (code, out) = run_fsck(dir, &["--repair"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2 repaired, 0 remain"), "{out}");
    assert!(!orphan.exists());
    assert_eq!(run_fsck(dir, &[]).0, 0);

    // A confirmed document without its object: reported, never repaired → 1.
    let mut row = common::document_row(user);
    row.filename = Set("gone.txt".into());
    row.content_type = Set("text/plain".into());
    row.status = Set("queued".parse().unwrap());
    let id = row.insert(&db).await.unwrap().id;
    let (code, out) = run_fsck(dir, &["--repair"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("document {id}")), "{out}");
    assert!(out.contains("object missing"), "{out}");

    // The check cannot run: 3. A bad setting: 2, naming the key.
    let out = docuvault(dir)
        .arg("fsck")
        .env(
            "DOCUVAULT__DATABASE__URL",
            "postgres://docuvault@127.0.0.1:1/none",
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("fsck could not complete"));
    let out = docuvault(dir)
        .arg("fsck")
        .env("DOCUVAULT__CLEANUP__SCHEDULE", "every half hour")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cleanup.schedule"));
}

/// One more server on the same settings (database, data directory, queue), as a
/// scale-out deployment runs them; unlike [`TestApp`] it can be stopped completely.
struct Instance {
    state: AppState,
    handle: actix_web::dev::ServerHandle,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Instance {
    async fn start(settings: &docuvault::settings::Settings) -> Instance {
        let app = docuvault::startup::Application::build(settings.clone())
            .await
            .expect("application builds");
        let state = app.state().clone();
        let handle = app.handle();
        let done = tokio::spawn(app.run_until_stopped());
        Instance {
            state,
            handle,
            done,
        }
    }

    /// Stops the server and waits for its background tasks (the scheduler) to end.
    async fn stop(self) {
        self.handle.stop(true).await;
        self.done.await.unwrap().unwrap();
    }
}

/// An instance's `docuvault_scheduled_ticks_total{job="cleanup", outcome}`.
async fn cleanup_ticks(state: &AppState, outcome: &str) -> u64 {
    let text = state.metrics.render(state.queue.as_ref(), &state.db).await;
    let series =
        format!("docuvault_scheduled_ticks_total{{job=\"cleanup\",outcome=\"{outcome}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&series))
        .map_or(0, |n| n.trim().parse().unwrap())
}

/// Cleanup runs (not skipped) across instances.
async fn cleanup_runs(states: &[&AppState]) -> u64 {
    let mut runs = 0;
    for state in states {
        runs += cleanup_ticks(state, "ran").await + cleanup_ticks(state, "failed").await;
    }
    runs
}

/// Two instances on one database with a 2-second schedule run the cleanup once per
/// tick between them, not once per tick each: there are no more runs than ticks of the
/// schedule while they were up, and every run claimed a tick of its own in `job_ticks`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_run_the_cleanup_once_per_tick() {
    use sea_orm::PaginatorTrait as _;
    let db = common::TestDb::fresh().await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = common::backend_env(&dir.path().join("data"), &db.url);
    env.insert("DOCUVAULT__CLEANUP__ENABLED".into(), "true".into());
    env.insert(
        "DOCUVAULT__CLEANUP__SCHEDULE".into(),
        "*/2 * * * * *".into(),
    );
    let settings = docuvault::settings::Settings::load(None, &env).unwrap();

    let started = chrono::Utc::now();
    let a = Instance::start(&settings).await;
    let b = Instance::start(&settings).await;
    let states = [a.state.clone(), b.state.clone()];
    common::poll_until(Duration::from_secs(60), "six cleanup runs", || async {
        (cleanup_runs(&[&states[0], &states[1]]).await >= 6).then_some(())
    })
    .await;
    // Final counts are read once both have stopped ticking.
    a.stop().await;
    b.stop().await;
    let ended = chrono::Utc::now();

    let runs = cleanup_runs(&[&states[0], &states[1]]).await;
    let mut claimed = 0;
    let mut claimed_elsewhere = 0;
    for state in &states {
        for outcome in ["ran", "failed", "locked", "interrupted"] {
            claimed += cleanup_ticks(state, outcome).await;
        }
        claimed_elsewhere += cleanup_ticks(state, "claimed_elsewhere").await;
    }
    // Ticks of "*/2 * * * * *" (even seconds) while the instances were up.
    let ticks = (started.timestamp()..=ended.timestamp())
        .filter(|s| s % 2 == 0 && *s * 1000 >= started.timestamp_millis())
        .count() as u64;
    let rows = docuvault::entities::job_ticks::Entity::find()
        .filter(docuvault::entities::job_ticks::Column::Job.eq("cleanup"))
        .count(&states[0].db)
        .await
        .unwrap();
    assert!(
        runs <= ticks,
        "{runs} cleanup runs in {ticks} ticks of the schedule: instances ran the same tick"
    );
    assert_eq!(claimed, rows, "each run claimed a tick of its own");
    assert!(
        claimed_elsewhere >= 1,
        "both instances fire on the schedule; the one that lost a tick skipped it"
    );
}
