//! The README's backup and restore commands, run as written (extracted from README.md)
//! against a running server on SQLite (and, in the PostgreSQL pass, PostgreSQL) with
//! local objects, restored into a fresh place, and a new server started there.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::{self, Session, TestApp, body, wait_processed};

/// The shell block that follows `<!-- {marker} -->` in README.md.
fn readme_block(marker: &str) -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let tag = format!("<!-- {marker} -->");
    let after = readme
        .split_once(&tag)
        .unwrap_or_else(|| panic!("README.md has no {tag}"))
        .1;
    let block = after
        .trim_start()
        .strip_prefix("```sh\n")
        .unwrap_or_else(|| panic!("a ```sh block follows {tag}"));
    block
        .split_once("\n```")
        .expect("the block ends")
        .0
        .to_owned()
}

/// Runs `script` with bash (`-euo pipefail`), `DATA` and `BACKUP` set, `docuvault` on the
/// PATH and configured for `DATA`; panics with its output when it fails.
async fn run(script: &str, data: &Path, backup: &Path, extra: &[(&str, &str)]) {
    let bin = Path::new(env!("CARGO_BIN_EXE_docuvault"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = tokio::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .env_clear()
        .env("PATH", path)
        .env("DATA", data)
        .env("BACKUP", backup)
        .env("DOCUVAULT__DATA_DIR", data)
        .env("DOCUVAULT__LOG__LEVEL", "warn")
        .envs(extra.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("run bash");
    assert!(
        out.status.success(),
        "{script}\nfailed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A server on `data` with local objects (`data/objects`), the in-process queue and a
/// generated `data/secret.key`, whatever backends the rest of the test run uses; its
/// database is `database` (a PostgreSQL URL), else SQLite at `data/docuvault.db`.
fn local_in(
    data: &Path,
    database: Option<String>,
) -> impl FnOnce(&mut std::collections::HashMap<String, String>) {
    let data = data.display().to_string();
    move |env| {
        env.retain(|k, _| {
            !k.starts_with("DOCUVAULT__STORAGE__S3__")
                && !k.starts_with("DOCUVAULT__QUEUE__")
                && k != "DOCUVAULT__DATABASE__URL"
        });
        env.insert("DOCUVAULT__DATA_DIR".into(), data);
        if let Some(url) = database {
            env.insert("DOCUVAULT__DATABASE__URL".into(), url);
        }
    }
}

/// The database half of a backup: the README's blocks for it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Database {
    Sqlite,
    Postgres,
}

/// What must survive a restore, per document (signed URLs left out: they differ).
fn listing(items: &serde_json::Value) -> BTreeMap<String, serde_json::Value> {
    items["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let topics: Vec<&serde_json::Value> = d["topics"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| &t["id"])
                .collect();
            (
                d["id"].as_str().unwrap().to_owned(),
                serde_json::json!({
                    "filename": d["filename"],
                    "content_type": d["content_type"],
                    "size_bytes": d["size_bytes"],
                    "status": d["status"],
                    "folder_id": d["folder_id"],
                    "created_at": d["created_at"],
                    "topics": topics,
                }),
            )
        })
        .collect()
}

async fn list(app: &TestApp, s: &Session) -> BTreeMap<String, serde_json::Value> {
    let res = app.get_auth("/api/documents?limit=100", &s.access).await;
    assert_eq!(res.status(), 200);
    listing(&body(res).await)
}

async fn download(app: &TestApp, s: &Session, id: &str) -> Vec<u8> {
    let res = app
        .get_auth(&format!("/api/documents/{id}/download"), &s.access)
        .await;
    assert_eq!(res.status(), 200);
    let url = body(res).await["url"].as_str().unwrap().to_owned();
    let res = app.client.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.bytes().await.unwrap().to_vec()
}

#[tokio::test]
async fn the_documented_sqlite_backup_of_a_running_server_restores() {
    backup_and_restore(Database::Sqlite).await;
}

/// Runs in the PostgreSQL pass of the suite (`DOCUVAULT_TEST_POSTGRES_URL` set), where
/// `pg_dump` and `pg_restore` are there with the server.
#[tokio::test]
async fn the_documented_postgres_backup_of_a_running_server_restores() {
    if common::expected_backends().0 != "postgres" {
        return;
    }
    backup_and_restore(Database::Postgres).await;
}

/// Documents on a running server → the README's backup blocks for `database` and local
/// objects → its restore blocks into a fresh place → a new server there.
async fn backup_and_restore(database: Database) {
    use secrecy::ExposeSecret;
    let work = tempfile::tempdir().unwrap();
    let live = work.path().join("live");
    let backup = work.path().join("backup");
    let restored = work.path().join("restored");
    std::fs::create_dir_all(&backup).unwrap();
    // PostgreSQL: the live server keeps its test database; the restore goes to another.
    let target = match database {
        Database::Postgres => Some(common::TestDb::fresh().await),
        Database::Sqlite => None,
    };
    let target_url = target.as_ref().map(|db| db.url.clone());

    // The live server: its own test database on PostgreSQL, SQLite in `live` otherwise.
    let app = TestApp::spawn_with(|env| {
        let kept = env
            .get("DOCUVAULT__DATABASE__URL")
            .cloned()
            .filter(|_| database == Database::Postgres);
        local_in(&live, kept)(env)
    })
    .await;
    let live_url = app.settings.database.url.expose_secret().to_owned();
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let (totp_secret, _) = common::enable_totp(&app, &bob).await;
    let folder = body(
        app.post_json(
            "/api/folders",
            Some(&alice.access),
            &serde_json::json!({"name": "Tax"}),
        )
        .await,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut originals: Vec<(&Session, String, Vec<u8>)> = Vec::new();
    for (s, name, content_type, bytes) in [
        (
            &alice,
            "notes.txt",
            "text/plain",
            b"kept across a restore\n".to_vec(),
        ),
        (
            &alice,
            "hello.pdf",
            "application/pdf",
            common::samples::hello_pdf(),
        ),
        (
            &bob,
            "bob.md",
            "text/markdown",
            b"# Bob\n\nhis own\n".to_vec(),
        ),
    ] {
        let id = app.upload(s, name, content_type, bytes.clone()).await;
        wait_processed(&app, s, &id).await;
        originals.push((s, id, bytes));
    }
    let moved = &originals[1].1;
    let res = app
        .client
        .patch(app.url(&format!("/api/documents/{moved}")))
        .bearer_auth(&alice.access)
        .json(&serde_json::json!({"folder_id": folder}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let before_alice = list(&app, &alice).await;
    let before_bob = list(&app, &bob).await;
    assert_eq!(before_alice.len(), 2);
    assert_eq!(before_bob.len(), 1);

    // The backup, taken while the server runs (and keeps answering).
    match database {
        Database::Sqlite => run(&readme_block("backup:sqlite"), &live, &backup, &[]).await,
        Database::Postgres => {
            let env = [("DATABASE_URL", live_url.as_str())];
            run(&readme_block("backup:postgres"), &live, &backup, &env).await
        }
    }
    run(&readme_block("backup:local"), &live, &backup, &[]).await;
    assert_eq!(app.health().await.status(), 200);
    let after_backup = app
        .upload(
            &alice,
            "later.txt",
            "text/plain",
            b"after the backup\n".to_vec(),
        )
        .await;

    // The restore into a fresh data directory (it runs `docuvault fsck`, which must pass).
    let mut fsck_env: Vec<(&str, &str)> = Vec::new();
    match (database, target_url.as_deref()) {
        (Database::Postgres, Some(url)) => {
            let env = [("DATABASE_URL", url)];
            run(&readme_block("restore:postgres"), &restored, &backup, &env).await;
            fsck_env.push(("DOCUVAULT__DATABASE__URL", url));
        }
        _ => run(&readme_block("restore:sqlite"), &restored, &backup, &[]).await,
    }
    run(
        &readme_block("restore:local"),
        &restored,
        &backup,
        &fsck_env,
    )
    .await;
    let again = TestApp::spawn_with(local_in(&restored, target_url.clone())).await;
    let health = body(again.health().await).await;
    assert_eq!(health["status"], "ok", "{health}");
    let backend = match database {
        Database::Sqlite => "sqlite",
        Database::Postgres => "postgres",
    };
    assert_eq!(health["database"]["backend"], backend, "{health}");
    assert_eq!(health["storage"]["backend"], "local", "{health}");

    let alice2 = again.login("alice", common::PASSWORD).await;
    // Bob's TOTP secret is sealed under the restored secret key: it still opens.
    let code = docuvault::auth::totp::code_at(&totp_secret, common::now() + 30);
    let res = again
        .post_json(
            "/api/auth/login",
            None,
            &serde_json::json!({"login": "bob", "password": common::PASSWORD, "totp_code": code}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let bob2 = Session::from_body(body(res).await);

    let restored_alice = list(&again, &alice2).await;
    assert_eq!(restored_alice, before_alice);
    assert!(!restored_alice.contains_key(&after_backup));
    assert_eq!(list(&again, &bob2).await, before_bob);
    for (s, id, bytes) in &originals {
        let s2 = if s.user_id == alice.user_id {
            &alice2
        } else {
            &bob2
        };
        assert!(download(&again, s2, id).await == *bytes, "{id} differs");
    }

    // fsck on the restored directory, with the new server running: clean.
    let out = common::docuvault_command(work.path())
        .env("DOCUVAULT__DATA_DIR", &restored)
        .env("DOCUVAULT__LOG__LEVEL", "warn")
        .envs(fsck_env.iter().copied())
        .arg("fsck")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "fsck: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    again.stop().await;
    app.stop().await;
}
