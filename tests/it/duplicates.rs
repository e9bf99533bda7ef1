//! Duplicates (issue 14): an upload whose bytes (SHA-256) its owner already has in a
//! live document is flagged (`duplicate_of` = the earliest such document, never shown to
//! share recipients) or, with `documents.duplicates = "reject"`, refused with 409 and
//! the existing document's id, the upload discarded and nothing charged.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{Session, TestApp, body, wait_processed};
use serde_json::{Value, json};

async fn get(app: &TestApp, s: &Session, path: &str) -> Value {
    let res = app.get_auth(path, &s.access).await;
    assert_eq!(res.status(), 200, "GET {path}");
    body(res).await
}

async fn duplicate_of(app: &TestApp, s: &Session, id: &str) -> Value {
    get(app, s, &format!("/api/documents/{id}")).await["duplicate_of"].clone()
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

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn upload(app: &TestApp, s: &Session, name: &str, bytes: &[u8]) -> String {
    app.upload(s, name, "text/plain", bytes.to_vec()).await
}

async fn trash(app: &TestApp, s: &Session, id: &str) {
    let res = app
        .client
        .delete(app.url(&format!("/api/documents/{id}")))
        .bearer_auth(&s.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
}

const SAME: &[u8] = b"the same invoice, uploaded again and again\n";

#[tokio::test]
async fn copies_are_flagged_against_the_earliest_live_original() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let first = upload(&app, &alice, "invoice.txt", SAME).await;
    let second = upload(&app, &alice, "invoice (copy).txt", SAME).await;
    let third = upload(&app, &alice, "invoice-again.txt", SAME).await;
    let unique = upload(&app, &alice, "other.txt", b"something else entirely").await;
    // Another account's identical bytes are nobody's duplicate.
    let bobs = upload(&app, &bob, "invoice.txt", SAME).await;

    assert_eq!(duplicate_of(&app, &alice, &first).await, Value::Null);
    assert_eq!(duplicate_of(&app, &alice, &second).await, first.as_str());
    assert_eq!(duplicate_of(&app, &alice, &third).await, first.as_str());
    assert_eq!(duplicate_of(&app, &alice, &unique).await, Value::Null);
    assert_eq!(duplicate_of(&app, &bob, &bobs).await, Value::Null);
    let doc = get(&app, &alice, &format!("/api/documents/{second}")).await;
    assert_eq!(
        doc["sha256"],
        get(&app, &bob, &format!("/api/documents/{bobs}")).await["sha256"]
    );

    // In lists too, and the filter finds the original and its copies.
    let listed = get(&app, &alice, "/api/documents").await;
    for d in listed["items"].as_array().unwrap() {
        let expected = if d["id"] == second.as_str() || d["id"] == third.as_str() {
            json!(first)
        } else {
            Value::Null
        };
        assert_eq!(d["duplicate_of"], expected, "{}", d["filename"]);
    }
    assert_eq!(
        ids(&get(&app, &alice, "/api/documents?duplicates=true").await),
        sorted(vec![first.clone(), second.clone(), third.clone()])
    );
    assert_eq!(
        get(&app, &bob, "/api/documents?duplicates=true").await["total"],
        0
    );
    // And in search results (the words of the file names and of the text).
    for id in [&first, &second, &third, &unique] {
        wait_processed(&app, &alice, id).await;
    }
    for q in ["invoice", "uploaded"] {
        let found = get(&app, &alice, &format!("/api/documents?q={q}")).await;
        let mut flagged: Vec<(String, Value)> = found["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["id"].as_str().unwrap().to_owned(),
                    d["duplicate_of"].clone(),
                )
            })
            .collect();
        flagged.sort_by(|a, b| a.0.cmp(&b.0));
        let mut expected = vec![
            (first.clone(), Value::Null),
            (second.clone(), json!(first)),
            (third.clone(), json!(first)),
        ];
        expected.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(flagged, expected, "search for {q}");
    }

    // A recipient never learns about the owner's other documents.
    let res = app
        .post_json(
            &format!("/api/documents/{second}/shares"),
            Some(&alice.access),
            &json!({"recipient": "bob"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(duplicate_of(&app, &bob, &second).await, Value::Null);
    let shared = get(&app, &bob, "/api/shared-with-me").await;
    assert_eq!(shared["items"][0]["document"]["id"], second.as_str());
    assert_eq!(shared["items"][0]["document"]["duplicate_of"], Value::Null);

    // A trashed original no longer counts: the next copy becomes the original.
    trash(&app, &alice, &first).await;
    assert_eq!(duplicate_of(&app, &alice, &second).await, Value::Null);
    assert_eq!(duplicate_of(&app, &alice, &third).await, second.as_str());
    assert_eq!(
        ids(&get(&app, &alice, "/api/documents?duplicates=true").await),
        sorted(vec![second.clone(), third.clone()])
    );
    trash(&app, &alice, &third).await;
    assert_eq!(duplicate_of(&app, &alice, &second).await, Value::Null);
    // In the trash, both copies are duplicates of the one live document.
    let trashed = get(&app, &alice, "/api/documents?trashed=true").await;
    let trashed = trashed["items"].as_array().unwrap();
    assert_eq!(trashed.len(), 2);
    for d in trashed {
        assert_eq!(d["duplicate_of"], second.as_str(), "{}", d["filename"]);
    }
    assert_eq!(
        get(&app, &alice, "/api/documents?duplicates=true").await["total"],
        0
    );

    // Restored, the first is the original again.
    let res = app
        .post_json(
            &format!("/api/documents/{first}/restore"),
            Some(&alice.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["duplicate_of"], Value::Null);
    assert_eq!(duplicate_of(&app, &alice, &second).await, first.as_str());
}

#[tokio::test]
async fn reject_mode_refuses_a_copy_discards_it_and_charges_nothing() {
    let app = TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__DOCUMENTS__DUPLICATES".into(), "reject".into());
    })
    .await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let original = upload(&app, &alice, "invoice.txt", SAME).await;
    let size = SAME.len() as i64;
    let quota = || async { get(&app, &alice, "/api/auth/me/quota").await };
    assert_eq!(quota().await["used_bytes"], size);

    let ticket = app
        .upload_url(&alice, "again.txt", "text/plain", SAME.len())
        .await;
    let copy = ticket["document_id"].as_str().unwrap().to_owned();
    assert!(
        app.put_bytes(&ticket, SAME.to_vec())
            .await
            .status()
            .is_success()
    );
    assert_eq!(quota().await["reserved_bytes"], size);
    let res = app.confirm(&alice, &copy).await;
    assert_eq!(res.status(), 409);
    let b = body(res).await;
    assert_eq!(b["code"], "duplicate_document");
    assert_eq!(b["existing_id"], original.as_str());
    assert!(b["message"].as_str().is_some_and(|m| !m.is_empty()));

    // Discarded: no row, no objects, nothing charged or reserved.
    let q = quota().await;
    assert_eq!(q["used_bytes"], size, "{q}");
    assert_eq!(q["reserved_bytes"], 0, "{q}");
    assert_eq!(
        app.get_auth(&format!("/api/documents/{copy}"), &alice.access)
            .await
            .status(),
        404
    );
    let left = app
        .state
        .storage
        .list(&format!("{}/{copy}/", alice.user_id))
        .await
        .unwrap();
    assert!(
        left.is_empty(),
        "objects left (the staged upload too): {left:?}"
    );
    assert_eq!(get(&app, &alice, "/api/documents").await["total"], 1);

    // Other bytes, or another account: accepted.
    upload(&app, &alice, "other.txt", b"different bytes").await;
    upload(&app, &bob, "invoice.txt", SAME).await;

    // A trashed original does not count: the same bytes are accepted again.
    trash(&app, &alice, &original).await;
    let again = upload(&app, &alice, "invoice.txt", SAME).await;
    assert_eq!(duplicate_of(&app, &alice, &again).await, Value::Null);
    let fsck = docuvault::fsck::fsck(&app.state, false).await.unwrap();
    assert!(fsck.quota_mismatches.is_empty(), "{fsck}");
}

// ---------------------------------------------------------------------------------------
// The duplicates filter off `document_hash_counts` (issue 16): it answers as the
// definition does (another live document of the owner with the same SHA-256) through
// every change of liveness, hash or owner, and the table always equals a recount.

/// Runs `sql` (`$n` placeholders, turned into `?n` on SQLite) on the app's database.
async fn query(
    db: &sea_orm::DatabaseConnection,
    sql: &str,
    values: Vec<sea_orm::Value>,
) -> Vec<sea_orm::QueryResult> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => sql.to_owned(),
        _ => sql.replace('$', "?"),
    };
    db.query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await
        .unwrap()
}

const RECOUNT: &str = "SELECT d.user_id, d.sha256, COUNT(*) AS live_count FROM documents d \
     WHERE d.sha256 IS NOT NULL AND d.status <> 'pending' AND d.trashed_at IS NULL \
     GROUP BY d.user_id, d.sha256";

/// Asserts `document_hash_counts` holds exactly a recount of the live documents (no row
/// at zero either); `when` names the step.
async fn assert_counts_match(db: &sea_orm::DatabaseConnection, when: &str) {
    let missing = query(
        db,
        &format!(
            "SELECT COUNT(*) AS n FROM ({RECOUNT} EXCEPT \
             SELECT h.user_id, h.sha256, h.live_count FROM document_hash_counts h) x"
        ),
        vec![],
    )
    .await;
    let extra = query(
        db,
        &format!(
            "SELECT COUNT(*) AS n FROM (SELECT h.user_id, h.sha256, h.live_count \
             FROM document_hash_counts h EXCEPT {RECOUNT}) x"
        ),
        vec![],
    )
    .await;
    let n = |rows: &[sea_orm::QueryResult]| rows[0].try_get::<i64>("", "n").unwrap();
    assert_eq!(
        (n(&missing), n(&extra)),
        (0, 0),
        "{when}: (recounted rows the table lacks or has otherwise, table rows a recount lacks)"
    );
}

/// The ids the filter's definition gives for `user`: documents in the trash (`trashed`),
/// pending ones (`pending`) or live ones, whose SHA-256 another live document of the
/// owner has — the query the filter ran before the table existed.
async fn by_definition(app: &TestApp, s: &Session, trashed: bool, pending: bool) -> Vec<String> {
    let state = if trashed {
        "d.status <> 'pending' AND d.trashed_at IS NOT NULL"
    } else if pending {
        "d.status = 'pending' AND d.trashed_at IS NULL"
    } else {
        "d.status <> 'pending' AND d.trashed_at IS NULL"
    };
    let user = uuid::Uuid::parse_str(&s.user_id).unwrap();
    let rows = query(
        &app.state.db,
        &format!(
            "SELECT d.id FROM documents d WHERE d.user_id = $1 AND {state} \
             AND d.sha256 IS NOT NULL AND EXISTS (SELECT 1 FROM documents o \
             WHERE o.user_id = d.user_id AND o.sha256 = d.sha256 AND o.id <> d.id \
             AND o.status <> 'pending' AND o.trashed_at IS NULL)"
        ),
        vec![user.into()],
    )
    .await;
    sorted(
        rows.iter()
            .map(|r| r.try_get::<uuid::Uuid>("", "id").unwrap().to_string())
            .collect(),
    )
}

/// Every duplicates list of `s` (live, trash, pending; page and total) answers as the
/// definition does, and the counts equal a recount.
async fn check(app: &TestApp, s: &Session, when: &str) {
    for (query_string, trashed, pending) in [
        ("duplicates=true", false, false),
        ("duplicates=true&trashed=true", true, false),
        ("duplicates=true&status=pending", false, true),
    ] {
        let page = get(
            app,
            s,
            &format!("/api/documents?{query_string}&per_page=100"),
        )
        .await;
        let expected = by_definition(app, s, trashed, pending).await;
        assert_eq!(ids(&page), expected, "{when}: {query_string}");
        assert_eq!(page["total"], expected.len(), "{when}: {query_string}");
        // A short page: the total counted, not derived from the page.
        if expected.len() > 1 {
            let first = get(app, s, &format!("/api/documents?{query_string}&per_page=1")).await;
            assert_eq!(first["total"], expected.len(), "{when}: {query_string}");
        }
    }
    assert_counts_match(&app.state.db, when).await;
}

async fn bulk(app: &TestApp, s: &Session, action: &str, ids: &[&str], extra: Value) {
    let mut request = json!({"action": action, "ids": ids});
    for (k, v) in extra.as_object().unwrap() {
        request[k] = v.clone();
    }
    let res = app
        .post_json("/api/documents/bulk", Some(&s.access), &request)
        .await;
    assert_eq!(res.status(), 200, "{request}");
    let answer = body(res).await;
    assert_eq!(answer["failed"], 0, "{answer}");
}

#[tokio::test]
async fn the_filter_and_the_counts_follow_every_change_of_liveness_hash_or_owner() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    check(&app, &alice, "empty").await;

    let a1 = upload(&app, &alice, "a1.txt", SAME).await;
    let a2 = upload(&app, &alice, "a2.txt", SAME).await;
    let a3 = upload(&app, &alice, "a3.txt", SAME).await;
    let other = b"other bytes, twice\n";
    let o1 = upload(&app, &alice, "o1.txt", other).await;
    let unique = upload(&app, &alice, "unique.txt", b"only once").await;
    // Another account's identical bytes never count, nor do pending uploads.
    let b1 = upload(&app, &bob, "b1.txt", SAME).await;
    let ticket = app
        .upload_url(&alice, "pending.txt", "text/plain", other.len())
        .await;
    assert!(
        app.put_bytes(&ticket, other.to_vec())
            .await
            .status()
            .is_success()
    );
    let pending = ticket["document_id"].as_str().unwrap().to_owned();
    check(&app, &alice, "uploaded").await;
    assert_eq!(
        ids(&get(&app, &alice, "/api/documents?duplicates=true").await),
        sorted(vec![a1.clone(), a2.clone(), a3.clone()])
    );
    assert_eq!(
        get(&app, &bob, "/api/documents?duplicates=true").await["total"],
        0
    );

    // The pending upload confirmed: `other` is now a duplicated hash.
    assert_eq!(app.confirm(&alice, &pending).await.status(), 200);
    check(&app, &alice, "confirmed").await;
    assert_eq!(
        ids(&get(&app, &alice, "/api/documents?duplicates=true").await),
        sorted(vec![
            a1.clone(),
            a2.clone(),
            a3.clone(),
            o1.clone(),
            pending.clone()
        ])
    );

    // Trash and restore, one at a time and in bulk; a move changes nothing.
    trash(&app, &alice, &a1).await;
    check(&app, &alice, "a1 trashed").await;
    trash(&app, &alice, &a2).await;
    check(&app, &alice, "a1, a2 trashed").await;
    assert_eq!(
        ids(&get(&app, &alice, "/api/documents?duplicates=true&trashed=true").await),
        sorted(vec![a1.clone(), a2.clone()])
    );
    let all = [
        a1.as_str(),
        a2.as_str(),
        a3.as_str(),
        o1.as_str(),
        unique.as_str(),
        pending.as_str(),
    ];
    bulk(&app, &alice, "restore", &all[..2], json!({})).await;
    check(&app, &alice, "bulk restore").await;
    bulk(&app, &alice, "trash", &all, json!({})).await;
    check(&app, &alice, "bulk trash").await;
    assert_eq!(
        get(&app, &alice, "/api/documents?duplicates=true").await["total"],
        0
    );
    bulk(&app, &alice, "restore", &all, json!({})).await;
    check(&app, &alice, "bulk restore of all").await;
    let folder = body(
        app.post_json(
            "/api/folders",
            Some(&alice.access),
            &json!({"name": "Moved"}),
        )
        .await,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    bulk(&app, &alice, "move", &all, json!({"folder_id": folder})).await;
    check(&app, &alice, "bulk move").await;

    // A new version with other bytes takes a2 out of SAME's copies and makes it a copy
    // of `unique`; back to its first version, it is SAME's again.
    crate::versions::upload_version(&app, &alice, &a2, "a2-v2.txt", b"only once").await;
    check(&app, &alice, "a2 new version").await;
    assert_eq!(
        ids(&get(&app, &alice, "/api/documents?duplicates=true").await),
        sorted(vec![
            a1.clone(),
            a2.clone(),
            a3.clone(),
            o1.clone(),
            unique.clone(),
            pending.clone()
        ])
    );
    let versions = body(
        app.get_auth(&format!("/api/documents/{a2}/versions"), &alice.access)
            .await,
    )
    .await;
    let first_version = versions["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["current"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app
        .post_json(
            &format!("/api/documents/{a2}/versions/{first_version}/make-current"),
            Some(&alice.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    check(&app, &alice, "a2 back to its first version").await;

    // Delete for good (live and trashed), empty the trash.
    let res = app
        .delete_auth(
            &format!("/api/documents/{a3}?permanent=true"),
            &alice.access,
        )
        .await;
    assert_eq!(res.status(), 204);
    check(&app, &alice, "a3 deleted").await;
    trash(&app, &alice, &o1).await;
    check(&app, &alice, "o1 trashed").await;
    let res = app.delete_auth("/api/documents/trash", &alice.access).await;
    assert_eq!(res.status(), 200);
    check(&app, &alice, "trash emptied").await;
    assert_eq!(
        ids(&get(&app, &alice, "/api/documents?duplicates=true").await),
        sorted(vec![a1.clone(), a2.clone()])
    );

    // An account deleted: its rows go with its documents; the others' stay.
    upload(&app, &bob, "b2.txt", SAME).await;
    check(&app, &bob, "bob's copy").await;
    assert_eq!(
        ids(&get(&app, &bob, "/api/documents?duplicates=true").await).len(),
        2
    );
    assert!(!ids(&get(&app, &bob, "/api/documents?duplicates=true").await).contains(&a1));
    let res = app
        .delete_auth(&format!("/api/admin/users/{}", bob.user_id), &admin.access)
        .await;
    assert_eq!(res.status(), 204);
    assert_counts_match(&app.state.db, "bob deleted").await;
    let bobs_rows = query(
        &app.state.db,
        "SELECT COUNT(*) AS n FROM document_hash_counts WHERE user_id = $1",
        vec![uuid::Uuid::parse_str(&bob.user_id).unwrap().into()],
    )
    .await;
    assert_eq!(bobs_rows[0].try_get::<i64>("", "n").unwrap(), 0);
    check(&app, &alice, "after bob").await;
    let _ = b1;
}

/// The trash's retention purge (`trash::purge_expired`, the cleanup job's) keeps the
/// counts too.
#[tokio::test]
async fn purging_expired_trash_keeps_the_counts() {
    let app = TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__CLEANUP__ENABLED".into(), "false".into());
    })
    .await;
    let alice = app.register("alice").await;
    let kept = upload(&app, &alice, "kept.txt", SAME).await;
    let old = upload(&app, &alice, "old.txt", SAME).await;
    upload(&app, &alice, "also.txt", SAME).await;
    trash(&app, &alice, &old).await;
    // Trashed long ago.
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    docuvault::entities::documents::Entity::update_many()
        .col_expr(
            docuvault::entities::documents::Column::TrashedAt,
            Expr::value(docuvault::time::now() - chrono::Duration::days(400)),
        )
        .filter(docuvault::entities::documents::Column::Id.eq(uuid::Uuid::parse_str(&old).unwrap()))
        .exec(&app.state.db)
        .await
        .unwrap();
    check(&app, &alice, "before the purge").await;
    let purged = docuvault::documents::trash::purge_expired(&app.state)
        .await
        .unwrap();
    assert_eq!(purged, 1);
    check(&app, &alice, "purged").await;
    trash(&app, &alice, &kept).await;
    check(&app, &alice, "one copy left live").await;
    assert_eq!(
        get(&app, &alice, "/api/documents?duplicates=true").await["total"],
        0
    );
}

/// `docuvault import` writes the documents' rows; the target's counts follow.
#[tokio::test]
async fn an_imported_vault_has_its_counts() {
    let source = TestApp::spawn().await;
    let alice = source.register("alice").await;
    let first = upload(&source, &alice, "a.txt", SAME).await;
    let copy = upload(&source, &alice, "b.txt", SAME).await;
    let trashed = upload(&source, &alice, "c.txt", SAME).await;
    upload(&source, &alice, "d.txt", b"alone").await;
    trash(&source, &alice, &trashed).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("export");
    let run = |app: &TestApp, args: &[&str]| {
        let (ok, _, stderr) = common::run_cli(app, args);
        assert!(ok, "{args:?}: {stderr}");
    };
    run(&source, &["export", "--out", out.to_str().unwrap()]);
    let target = TestApp::spawn().await;
    run(&target, &["import", "--from", out.to_str().unwrap()]);
    assert_counts_match(&target.state.db, "imported").await;
    let alice = target.login("alice", common::PASSWORD).await;
    assert_eq!(
        ids(&get(&target, &alice, "/api/documents?duplicates=true").await),
        sorted(vec![first, copy])
    );
    check(&target, &alice, "imported").await;
}

/// `up` counts the documents already there; `down` drops the table and its triggers.
#[tokio::test]
async fn the_migration_counts_existing_documents() {
    use migration::{Migrator, MigratorTrait};
    use sea_orm::{ActiveModelTrait, Set};
    let test_db = common::db::TestDb::fresh().await;
    let db = test_db.connect().await;
    Migrator::up(&db, None).await.unwrap();
    let user = uuid::Uuid::new_v4();
    query(
        &db,
        "INSERT INTO users (id, handle, email, password_hash, tokens_valid_after, created_at, \
         updated_at) VALUES ($1, 'alice', 'alice@example.test', 'x', $2, $2, $2)",
        vec![user.into(), docuvault::time::now().into()],
    )
    .await;
    // Down to before the table (the migrations after it too), then documents written
    // without it.
    let since_counts = u32::try_from(
        Migrator::migrations()
            .iter()
            .rev()
            .position(|m| m.name() == "m20261207_000029_document_hash_counts")
            .expect("the hash counts migration")
            + 1,
    )
    .unwrap();
    Migrator::down(&db, Some(since_counts)).await.unwrap();
    use docuvault::entities::DocumentStatus::{Classified, Failed, Pending, Unclassified};
    for (sha, status, trashed) in [
        ("aa", Classified, false),
        ("aa", Unclassified, false),
        ("aa", Classified, true),
        ("aa", Pending, false),
        ("bb", Failed, false),
        ("cc", Classified, true),
    ] {
        let mut row = common::document_row(user);
        row.sha256 = Set(Some(sha.to_owned()));
        row.status = Set(status);
        if trashed {
            row.trashed_at = Set(Some(docuvault::time::now()));
        }
        row.insert(&db).await.unwrap();
    }
    Migrator::up(&db, None).await.unwrap();
    assert_counts_match(&db, "migrated up").await;
    let rows = query(
        &db,
        "SELECT sha256, live_count FROM document_hash_counts ORDER BY sha256",
        vec![],
    )
    .await;
    let counts: Vec<(String, i64)> = rows
        .iter()
        .map(|r| {
            (
                r.try_get("", "sha256").unwrap(),
                r.try_get("", "live_count").unwrap(),
            )
        })
        .collect();
    assert_eq!(counts, vec![("aa".into(), 2), ("bb".into(), 1)]);
    Migrator::down(&db, Some(since_counts)).await.unwrap();
    assert!(
        !migration::SchemaManager::new(&db)
            .has_table("document_hash_counts")
            .await
            .unwrap()
    );
    // The documents' triggers went with it: writes still work.
    let mut row = common::document_row(user);
    row.sha256 = Set(Some("aa".to_owned()));
    row.status = Set(docuvault::entities::DocumentStatus::Classified);
    row.insert(&db).await.unwrap();
}
