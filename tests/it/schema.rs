//! The initial migration against a real database (SQLite by default, PostgreSQL when
//! `DOCUVAULT_TEST_POSTGRES_URL` is set): every table exists, migrating is idempotent and
//! reversible, the entities match the columns, and the constraints the application relies
//! on (foreign keys and their delete actions, uniques, checks, defaults) hold.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::db;

use chrono::{DateTime, SubsecRound, Utc};
use db::TestDb;
use docuvault::entities::{
    audit_log, backup_codes, cloud_connections, document_stems, document_texts, document_topics,
    documents, folders, groups, quotas, refresh_tokens, shares, topics, users,
};
use migration::{Migrator, MigratorTrait, SchemaManager};
use sea_orm::sqlx::error::ErrorKind;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    DbBackend, DbErr, EntityTrait, IntoActiveModel, ModelTrait, PaginatorTrait, QueryFilter,
    RuntimeErr, Statement,
};
use uuid::Uuid;

const TABLES: [&str; 17] = [
    "users",
    "refresh_tokens",
    "backup_codes",
    "quotas",
    "folders",
    "documents",
    "document_texts",
    "document_stems",
    "topics",
    "document_topics",
    "shares",
    "audit_log",
    "cloud_connections",
    "groups",
    "object_deletions",
    "job_ticks",
    "refile_runs",
];

/// A fresh database with the migrations applied.
async fn migrated() -> (TestDb, DatabaseConnection) {
    let test_db = TestDb::fresh().await;
    let conn = test_db.connect().await;
    Migrator::up(&conn, None)
        .await
        .expect("migrations apply to an empty database");
    (test_db, conn)
}

/// Now, at the microsecond precision both backends keep.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// What kind of constraint the database said was violated, if any.
fn violation(err: &DbErr) -> Option<ErrorKind> {
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            e.as_database_error().map(|d| d.kind())
        }
        _ => None,
    }
}

/// Runs `sql` (PostgreSQL's `$n` placeholders; `?n` on SQLite) with `values`: how the
/// checks are reached with values the entities' enumerations cannot express.
async fn execute(
    conn: &DatabaseConnection,
    sql: &str,
    values: Vec<sea_orm::Value>,
) -> Result<sea_orm::ExecResult, DbErr> {
    let backend = conn.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => sql.to_owned(),
        _ => sql.replace('$', "?"),
    };
    conn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await
}

#[track_caller]
fn assert_violation<T: std::fmt::Debug>(result: Result<T, DbErr>, expected: ErrorKind) {
    match result {
        Ok(value) => panic!("expected a {expected:?}, but the write succeeded: {value:?}"),
        Err(err) => assert_eq!(
            violation(&err),
            Some(expected),
            "wrong error for the violated constraint: {err}"
        ),
    }
}

async fn insert_user(db: &DatabaseConnection, handle: &str) -> users::Model {
    let at = now();
    users::ActiveModel {
        id: Set(Uuid::new_v4()),
        handle: Set(handle.to_owned()),
        email: Set(format!("{handle}@example.test")),
        password_hash: Set("$argon2id$stub".to_owned()),
        tokens_valid_after: Set(at),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("insert user")
}

async fn insert_folder(
    db: &DatabaseConnection,
    user_id: Uuid,
    parent_id: Option<Uuid>,
    name: &str,
) -> Result<folders::Model, DbErr> {
    let at = now();
    folders::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(user_id),
        parent_id: Set(parent_id),
        name: Set(name.to_owned()),
        created_at: Set(at),
        updated_at: Set(at),
    }
    .insert(db)
    .await
}

async fn insert_document(
    db: &DatabaseConnection,
    user_id: Uuid,
    folder_id: Option<Uuid>,
    status: &str,
) -> Result<documents::Model, DbErr> {
    let at = now();
    let id = Uuid::new_v4();
    documents::ActiveModel {
        id: Set(id),
        user_id: Set(user_id),
        folder_id: Set(folder_id),
        filename: Set("report.pdf".to_owned()),
        object_key: Set(format!("{user_id}/{id}/{}.pdf", Uuid::new_v4())),
        content_type: Set("application/pdf".to_owned()),
        storage_backend: Set("local".to_owned()),
        status: Set(status.parse().unwrap()),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(db)
    .await
}

async fn insert_topic(
    db: &DatabaseConnection,
    user_id: Option<Uuid>,
    name: &str,
) -> Result<topics::Model, DbErr> {
    topics::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(user_id),
        name: Set(name.to_owned()),
        created_at: Set(now()),
        ..Default::default()
    }
    .insert(db)
    .await
}

async fn insert_quota(
    db: &DatabaseConnection,
    user_id: Uuid,
    used_bytes: Option<i64>,
) -> Result<quotas::Model, DbErr> {
    let mut quota = quotas::ActiveModel {
        user_id: Set(user_id),
        ..Default::default()
    };
    if let Some(used) = used_bytes {
        quota.used_bytes = Set(used);
    }
    quota.insert(db).await
}

#[tokio::test]
async fn migrations_create_every_table_and_rerunning_up_is_a_no_op() {
    let (test_db, conn) = migrated().await;
    assert_eq!(
        conn.get_database_backend() == DbBackend::Postgres,
        test_db.is_postgres(),
        "TestDb::is_postgres disagrees with the connection"
    );
    let manager = SchemaManager::new(&conn);
    for table in TABLES {
        assert!(
            manager.has_table(table).await.unwrap(),
            "table {table} is missing"
        );
    }
    assert!(!manager.has_table("no_such_table").await.unwrap());

    Migrator::up(&conn, None)
        .await
        .expect("a second `up` is a no-op");
    assert_eq!(
        Migrator::get_applied_migrations(&conn).await.unwrap().len(),
        Migrator::migrations().len()
    );
    assert!(
        Migrator::get_pending_migrations(&conn)
            .await
            .unwrap()
            .is_empty()
    );

    for index in [
        ("users", "uq_users_email_lower"),
        ("folders", "uq_folders_root_name"),
        ("topics", "uq_topics_user_name_lower"),
        ("topics", "uq_topics_system_name_lower"),
        ("documents", "idx_documents_in_process"),
        ("documents", "idx_documents_user_id_trashed_at"),
        ("audit_log", "idx_audit_log_created_at"),
        ("documents", "idx_documents_user_id_id"),
        ("documents", "idx_documents_list_type"),
        ("refile_runs", "uq_refile_runs_running"),
        ("refile_runs", "idx_refile_runs_user_id_started_at"),
    ] {
        assert!(
            manager.has_index(index.0, index.1).await.unwrap(),
            "index {index:?} is missing"
        );
    }
    if test_db.is_postgres() {
        // Search vectors live in their own table, in the row (compressed), not in TOAST,
        // and `documents` has no search column left for every edit to recompute.
        let storage = conn
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT attstorage::text AS s FROM pg_attribute \
                 WHERE attrelid = 'document_search'::regclass AND attname = 'search_vector'",
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(storage.try_get::<String>("", "s").unwrap(), "m");
        let left = conn
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT count(*) AS n FROM pg_attribute \
                 WHERE attrelid = 'documents'::regclass AND attname = 'search_vector' \
                 AND NOT attisdropped",
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(left.try_get::<i64>("", "n").unwrap(), 0);
        // An edit that changes no indexed column can be a HOT update (no new index
        // entries): no index of `documents` names `updated_at`, which every edit sets,
        // and its pages keep room for the new row version.
        let on_updated_at = conn
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT count(*) AS n FROM pg_index i JOIN pg_attribute a                    ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)                  WHERE i.indrelid = 'documents'::regclass AND a.attname = 'updated_at'",
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(on_updated_at.try_get::<i64>("", "n").unwrap(), 0);
        let options = conn
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT coalesce(array_to_string(reloptions, ','), '') AS o FROM pg_class                  WHERE oid = 'documents'::regclass",
            ))
            .await
            .unwrap()
            .unwrap();
        assert!(
            options
                .try_get::<String>("", "o")
                .unwrap()
                .contains("fillfactor=85")
        );
    }
}

#[tokio::test]
async fn migrating_down_drops_everything_and_up_rebuilds_it() {
    let (_test_db, conn) = migrated().await;
    insert_user(&conn, "alice").await;

    Migrator::down(&conn, None).await.expect("down succeeds");
    let manager = SchemaManager::new(&conn);
    for table in TABLES {
        assert!(
            !manager.has_table(table).await.unwrap(),
            "table {table} survived `down`"
        );
    }
    assert!(
        Migrator::get_applied_migrations(&conn)
            .await
            .unwrap()
            .is_empty()
    );

    Migrator::up(&conn, None)
        .await
        .expect("up after down succeeds");
    for table in TABLES {
        assert!(
            manager.has_table(table).await.unwrap(),
            "table {table} is missing"
        );
    }
    assert_eq!(users::Entity::find().count(&conn).await.unwrap(), 0);
    // The rebuilt schema still enforces its constraints.
    insert_user(&conn, "alice").await;
    let again = users::ActiveModel {
        id: Set(Uuid::new_v4()),
        handle: Set("alice".to_owned()),
        email: Set("other@example.test".to_owned()),
        password_hash: Set("x".to_owned()),
        tokens_valid_after: Set(now()),
        created_at: Set(now()),
        updated_at: Set(now()),
        ..Default::default()
    }
    .insert(&conn)
    .await;
    assert_violation(again, ErrorKind::UniqueViolation);
}

#[tokio::test]
async fn foreign_keys_are_enforced() {
    let (test_db, conn) = migrated().await;
    if !test_db.is_postgres() {
        let row = conn
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA foreign_keys",
            ))
            .await
            .unwrap()
            .expect("PRAGMA foreign_keys returns a row");
        assert_eq!(
            row.try_get_by_index::<i32>(0).unwrap(),
            1,
            "SQLite foreign keys are off"
        );
    }

    let orphan = insert_document(&conn, Uuid::new_v4(), None, "pending").await;
    assert_violation(orphan, ErrorKind::ForeignKeyViolation);

    let alice = insert_user(&conn, "alice").await;
    let in_missing_folder = insert_document(&conn, alice.id, Some(Uuid::new_v4()), "pending").await;
    assert_violation(in_missing_folder, ErrorKind::ForeignKeyViolation);
}

#[tokio::test]
async fn deleting_a_user_deletes_their_data_and_keeps_the_audit_trail() {
    let (_test_db, conn) = migrated().await;
    let alice = insert_user(&conn, "alice").await;
    let bob = insert_user(&conn, "bob").await;

    insert_quota(&conn, alice.id, None).await.unwrap();
    insert_quota(&conn, bob.id, None).await.unwrap();
    let folder = insert_folder(&conn, alice.id, None, "Inbox").await.unwrap();
    insert_folder(&conn, alice.id, Some(folder.id), "2025")
        .await
        .unwrap();
    let doc = insert_document(&conn, alice.id, Some(folder.id), "classified")
        .await
        .unwrap();
    let bobs_doc = insert_document(&conn, bob.id, None, "queued")
        .await
        .unwrap();
    let topic = insert_topic(&conn, Some(alice.id), "Taxes").await.unwrap();
    let system_topic = insert_topic(&conn, None, "Invoices").await.unwrap();
    document_topics::ActiveModel {
        document_id: Set(doc.id),
        topic_id: Set(topic.id),
        source: Set("user".parse().unwrap()),
        confidence: Set(None),
        created_at: Set(now()),
    }
    .insert(&conn)
    .await
    .unwrap();
    // Bob shared a document with Alice, Alice shared one with Bob.
    for (document_id, owner_id, recipient_id) in
        [(bobs_doc.id, bob.id, alice.id), (doc.id, alice.id, bob.id)]
    {
        shares::ActiveModel {
            id: Set(Uuid::new_v4()),
            document_id: Set(document_id),
            owner_id: Set(owner_id),
            recipient_id: Set(recipient_id),
            created_at: Set(now()),
            ..Default::default()
        }
        .insert(&conn)
        .await
        .unwrap();
    }
    refresh_tokens::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(alice.id),
        token_hash: Set("hash-1".to_owned()),
        family_id: Set(Uuid::new_v4()),
        expires_at: Set(now()),
        family_expires_at: Set(now()),
        created_at: Set(now()),
        ..Default::default()
    }
    .insert(&conn)
    .await
    .unwrap();
    backup_codes::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(alice.id),
        code_hash: Set("code-hash".to_owned()),
        used_at: Set(None),
        created_at: Set(now()),
    }
    .insert(&conn)
    .await
    .unwrap();
    cloud_connections::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(alice.id),
        provider: Set("webdav".to_owned()),
        display_name: Set("NAS".to_owned()),
        credentials_enc: Set("enc".to_owned()),
        status: Set("active".to_owned()),
        connected_at: Set(now()),
        ..Default::default()
    }
    .insert(&conn)
    .await
    .unwrap();
    let audit = audit_log::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(Some(alice.id)),
        actor_id: Set(Some(alice.id)),
        event_type: Set("login".to_owned()),
        ip_address: Set(Some("203.0.113.7".to_owned())),
        created_at: Set(now()),
        ..Default::default()
    }
    .insert(&conn)
    .await
    .unwrap();

    alice.clone().delete(&conn).await.expect("delete user");

    assert!(
        quotas::Entity::find_by_id(alice.id)
            .one(&conn)
            .await
            .unwrap()
            .is_none()
    );
    for (table, remaining) in [
        (
            "documents",
            documents::Entity::find()
                .filter(documents::Column::UserId.eq(alice.id))
                .count(&conn)
                .await
                .unwrap(),
        ),
        (
            "folders",
            folders::Entity::find()
                .filter(folders::Column::UserId.eq(alice.id))
                .count(&conn)
                .await
                .unwrap(),
        ),
        (
            "topics",
            topics::Entity::find()
                .filter(topics::Column::UserId.eq(alice.id))
                .count(&conn)
                .await
                .unwrap(),
        ),
        (
            "document_topics",
            document_topics::Entity::find().count(&conn).await.unwrap(),
        ),
        ("shares", shares::Entity::find().count(&conn).await.unwrap()),
        (
            "refresh_tokens",
            refresh_tokens::Entity::find().count(&conn).await.unwrap(),
        ),
        (
            "backup_codes",
            backup_codes::Entity::find().count(&conn).await.unwrap(),
        ),
        (
            "cloud_connections",
            cloud_connections::Entity::find()
                .count(&conn)
                .await
                .unwrap(),
        ),
    ] {
        assert_eq!(remaining, 0, "{table} rows of the deleted user remain");
    }

    // Bob and everything of his that did not involve Alice is untouched.
    assert!(
        quotas::Entity::find_by_id(bob.id)
            .one(&conn)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        documents::Entity::find_by_id(bobs_doc.id)
            .one(&conn)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        topics::Entity::find_by_id(system_topic.id)
            .one(&conn)
            .await
            .unwrap()
            .is_some()
    );

    // The audit entry survives, detached from the deleted account.
    let audit = audit_log::Entity::find_by_id(audit.id)
        .one(&conn)
        .await
        .unwrap()
        .expect("audit entry survives its user");
    assert_eq!(audit.user_id, None);
    assert_eq!(audit.actor_id, None);
    assert_eq!(audit.event_type, "login");
}

#[tokio::test]
async fn deleting_a_folder_unfiles_its_documents_and_deletes_subfolders() {
    let (_test_db, conn) = migrated().await;
    let alice = insert_user(&conn, "alice").await;
    let parent = insert_folder(&conn, alice.id, None, "Work").await.unwrap();
    let child = insert_folder(&conn, alice.id, Some(parent.id), "Invoices")
        .await
        .unwrap();
    let in_parent = insert_document(&conn, alice.id, Some(parent.id), "queued")
        .await
        .unwrap();
    let in_child = insert_document(&conn, alice.id, Some(child.id), "queued")
        .await
        .unwrap();

    parent.delete(&conn).await.expect("delete folder");

    assert!(
        folders::Entity::find_by_id(child.id)
            .one(&conn)
            .await
            .unwrap()
            .is_none()
    );
    for doc in [in_parent, in_child] {
        let after = documents::Entity::find_by_id(doc.id)
            .one(&conn)
            .await
            .unwrap()
            .expect("documents outlive their folder");
        assert_eq!(after.folder_id, None);
    }
}

#[tokio::test]
async fn handles_and_emails_are_unique_case_insensitively() {
    let (_test_db, conn) = migrated().await;
    insert_user(&conn, "alice").await;

    let new_user = |handle: &str, email: &str| users::ActiveModel {
        id: Set(Uuid::new_v4()),
        handle: Set(handle.to_owned()),
        email: Set(email.to_owned()),
        password_hash: Set("x".to_owned()),
        tokens_valid_after: Set(now()),
        created_at: Set(now()),
        updated_at: Set(now()),
        ..Default::default()
    };
    assert_violation(
        new_user("alice", "fresh@example.test").insert(&conn).await,
        ErrorKind::UniqueViolation,
    );
    assert_violation(
        new_user("fresh", "alice@example.test").insert(&conn).await,
        ErrorKind::UniqueViolation,
    );
    assert_violation(
        new_user("ALICE", "fresh@example.test").insert(&conn).await,
        ErrorKind::UniqueViolation,
    );
    assert_violation(
        new_user("fresh", "Alice@Example.TEST").insert(&conn).await,
        ErrorKind::UniqueViolation,
    );
    new_user("bob", "bob@example.test")
        .insert(&conn)
        .await
        .expect("distinct handle and email are fine");
}

#[tokio::test]
async fn topic_names_are_unique_case_insensitively_per_namespace() {
    let (_test_db, conn) = migrated().await;
    let alice = insert_user(&conn, "alice").await;
    let bob = insert_user(&conn, "bob").await;

    insert_topic(&conn, Some(alice.id), "Taxes").await.unwrap();
    assert_violation(
        insert_topic(&conn, Some(alice.id), "taxes").await,
        ErrorKind::UniqueViolation,
    );
    assert_violation(
        insert_topic(&conn, Some(alice.id), "Taxes").await,
        ErrorKind::UniqueViolation,
    );
    insert_topic(&conn, Some(bob.id), "Taxes")
        .await
        .expect("another user may have the same topic name");

    insert_topic(&conn, None, "Taxes")
        .await
        .expect("a system topic may share a user's topic name");
    assert_violation(
        insert_topic(&conn, None, "TAXES").await,
        ErrorKind::UniqueViolation,
    );
    insert_topic(&conn, None, "Receipts")
        .await
        .expect("distinct system topic names are fine");
}

#[tokio::test]
async fn sibling_folder_names_are_unique_including_at_the_root() {
    let (_test_db, conn) = migrated().await;
    let alice = insert_user(&conn, "alice").await;
    let bob = insert_user(&conn, "bob").await;

    let root = insert_folder(&conn, alice.id, None, "Inbox").await.unwrap();
    assert_violation(
        insert_folder(&conn, alice.id, None, "Inbox").await,
        ErrorKind::UniqueViolation,
    );
    insert_folder(&conn, bob.id, None, "Inbox")
        .await
        .expect("another user's root folder may have the same name");
    insert_folder(&conn, alice.id, Some(root.id), "Inbox")
        .await
        .expect("a subfolder may repeat its parent's name");
    assert_violation(
        insert_folder(&conn, alice.id, Some(root.id), "Inbox").await,
        ErrorKind::UniqueViolation,
    );
}

#[tokio::test]
async fn check_constraints_reject_invalid_values() {
    let (_test_db, conn) = migrated().await;
    let alice = insert_user(&conn, "alice").await;
    let bob = insert_user(&conn, "bob").await;

    let bogus = insert_document(&conn, alice.id, None, "pending")
        .await
        .unwrap();
    assert_violation(
        execute(
            &conn,
            "UPDATE documents SET status = $1 WHERE id = $2",
            vec!["bogus".into(), bogus.id.into()],
        )
        .await,
        ErrorKind::CheckViolation,
    );
    for (column, bad) in [
        ("document_date_source", sea_orm::Value::from("guessed")),
        ("page_count", sea_orm::Value::from(-1i32)),
    ] {
        assert_violation(
            execute(
                &conn,
                &format!("UPDATE documents SET {column} = $1 WHERE id = $2"),
                vec![bad, bogus.id.into()],
            )
            .await,
            ErrorKind::CheckViolation,
        );
    }
    for status in [
        "pending",
        "queued",
        "processing",
        "classified",
        "unclassified",
        "failed",
    ] {
        insert_document(&conn, alice.id, None, status)
            .await
            .unwrap_or_else(|err| panic!("status {status} is valid: {err}"));
    }

    assert_violation(
        insert_quota(&conn, alice.id, Some(-1)).await,
        ErrorKind::CheckViolation,
    );
    insert_quota(&conn, alice.id, Some(10)).await.unwrap();
    // An over-eager decrement must fail rather than go negative.
    let decrement = conn
        .execute_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            match conn.get_database_backend() {
                DbBackend::Postgres => {
                    "UPDATE quotas SET used_bytes = used_bytes - $1 WHERE user_id = $2"
                }
                _ => "UPDATE quotas SET used_bytes = used_bytes - ? WHERE user_id = ?",
            },
            [11i64.into(), alice.id.into()],
        ))
        .await;
    assert_violation(decrement, ErrorKind::CheckViolation);
    let quota = quotas::Entity::find_by_id(alice.id)
        .one(&conn)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(quota.used_bytes, 10);
    // The same for reservations.
    let release = conn
        .execute_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            match conn.get_database_backend() {
                DbBackend::Postgres => {
                    "UPDATE quotas SET reserved_bytes = reserved_bytes - $1 WHERE user_id = $2"
                }
                _ => "UPDATE quotas SET reserved_bytes = reserved_bytes - ? WHERE user_id = ?",
            },
            [1i64.into(), alice.id.into()],
        ))
        .await;
    assert_violation(release, ErrorKind::CheckViolation);

    assert_violation(
        execute(
            &conn,
            "UPDATE users SET role = $1 WHERE id = $2",
            vec!["superuser".into(), alice.id.into()],
        )
        .await,
        ErrorKind::CheckViolation,
    );
    let mut admin = alice.clone().into_active_model();
    admin.role = Set("admin".parse().unwrap());
    assert_eq!(admin.update(&conn).await.unwrap().role, "admin");

    let doc = insert_document(&conn, alice.id, None, "classified")
        .await
        .unwrap();
    let topic = insert_topic(&conn, Some(alice.id), "Taxes").await.unwrap();
    let link = |source: &str| document_topics::ActiveModel {
        document_id: Set(doc.id),
        topic_id: Set(topic.id),
        source: Set(source.parse().unwrap()),
        confidence: Set(Some(0.9)),
        created_at: Set(now()),
    };
    assert_violation(
        execute(
            &conn,
            "INSERT INTO document_topics (document_id, topic_id, source, confidence, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
            vec![
                doc.id.into(),
                topic.id.into(),
                "robot".into(),
                0.9f64.into(),
                now().into(),
            ],
        )
        .await,
        ErrorKind::CheckViolation,
    );
    link("ai").insert(&conn).await.unwrap();
    assert_violation(link("user").insert(&conn).await, ErrorKind::UniqueViolation);

    let share = |recipient_id: Uuid, permission: &str| shares::ActiveModel {
        id: Set(Uuid::new_v4()),
        document_id: Set(doc.id),
        owner_id: Set(alice.id),
        recipient_id: Set(recipient_id),
        permission: Set(permission.to_owned()),
        created_at: Set(now()),
    };
    assert_violation(
        share(bob.id, "edit").insert(&conn).await,
        ErrorKind::CheckViolation,
    );
    assert_violation(
        share(alice.id, "view").insert(&conn).await,
        ErrorKind::CheckViolation,
    );
    share(bob.id, "view").insert(&conn).await.unwrap();
    assert_violation(
        share(bob.id, "view").insert(&conn).await,
        ErrorKind::UniqueViolation,
    );
}

#[tokio::test]
async fn column_defaults_apply_when_the_application_leaves_them_out() {
    let (_test_db, conn) = migrated().await;
    let alice = insert_user(&conn, "alice").await;
    assert_eq!(alice.role, "user");
    assert!(alice.is_active);
    assert!(!alice.totp_enabled);
    assert!(!alice.password_must_change);
    assert!(!alice.ai_allow_new_topics);
    assert!(!alice.ocr_ai_fallback);

    let quota = insert_quota(&conn, alice.id, None).await.unwrap();
    assert_eq!(quota.limit_bytes, 104_857_600);
    assert_eq!(quota.used_bytes, 0);

    let doc = documents::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(alice.id),
        filename: Set("a.txt".to_owned()),
        object_key: Set("k".to_owned()),
        content_type: Set("text/plain".to_owned()),
        storage_backend: Set("local".to_owned()),
        created_at: Set(now()),
        updated_at: Set(now()),
        ..Default::default()
    }
    .insert(&conn)
    .await
    .unwrap();
    assert_eq!(doc.status, "pending");
    assert_eq!(doc.size_bytes, 0);
    assert_eq!(doc.attempts, 0);
    assert!(!doc.ai_opt_out);

    let bob = insert_user(&conn, "bob").await;
    let share = shares::ActiveModel {
        id: Set(Uuid::new_v4()),
        document_id: Set(doc.id),
        owner_id: Set(alice.id),
        recipient_id: Set(bob.id),
        created_at: Set(now()),
        ..Default::default()
    }
    .insert(&conn)
    .await
    .unwrap();
    assert_eq!(share.permission, "view");

    let revoked = refresh_tokens::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(alice.id),
        token_hash: Set("h".to_owned()),
        family_id: Set(Uuid::new_v4()),
        expires_at: Set(now()),
        family_expires_at: Set(now()),
        created_at: Set(now()),
        ..Default::default()
    }
    .insert(&conn)
    .await
    .unwrap()
    .revoked;
    assert!(!revoked);
}

/// Every entity writes and reads back every column unchanged: the entities and the
/// migration agree on names, types and nullability (timestamps, uuids, json, bigints).
#[tokio::test]
async fn every_entity_round_trips_through_its_table() {
    let (_test_db, conn) = migrated().await;
    let at = now();
    let later = at + chrono::Duration::microseconds(1_234_567);
    let id = Uuid::new_v4;

    let user = users::Model {
        id: id(),
        handle: "alice".to_owned(),
        email: "alice@example.test".to_owned(),
        password_hash: "$argon2id$v=19$stub".to_owned(),
        totp_secret: Some("enc:totp".to_owned()),
        totp_enabled: true,
        totp_last_step: Some(59_000_000_123),
        role: "admin".parse().unwrap(),
        is_active: false,
        password_must_change: true,
        tokens_valid_after: later,
        ai_provider: Some("ollama".to_owned()),
        ai_model: Some("llama3".to_owned()),
        ai_api_key_enc: Some("enc:key".to_owned()),
        ai_allow_new_topics: true,
        default_storage_backend: Some("s3".to_owned()),
        ocr_languages: None,
        ocr_ai_fallback: true,
        search_language: docuvault::entities::SearchLanguage::German,
        created_at: at,
        updated_at: later,
    };
    let bob = insert_user(&conn, "bob").await;
    let inserted = user
        .clone()
        .into_active_model()
        .reset_all()
        .insert(&conn)
        .await
        .unwrap();
    assert_eq!(inserted, user);
    assert_eq!(
        users::Entity::find_by_id(user.id).one(&conn).await.unwrap(),
        Some(user.clone())
    );

    macro_rules! round_trip {
        ($entity:ident, $model:expr, $key:expr) => {{
            let model = $model;
            let inserted = model
                .clone()
                .into_active_model()
                .reset_all()
                .insert(&conn)
                .await
                .unwrap();
            assert_eq!(
                inserted,
                model,
                "insert returned a different {}",
                stringify!($entity)
            );
            let found = $entity::Entity::find_by_id($key).one(&conn).await.unwrap();
            assert_eq!(
                found,
                Some(model.clone()),
                "{} did not read back unchanged",
                stringify!($entity)
            );
            model
        }};
    }

    let token_id = id();
    round_trip!(
        refresh_tokens,
        refresh_tokens::Model {
            id: token_id,
            user_id: user.id,
            token_hash: "sha256:abc".to_owned(),
            family_id: id(),
            expires_at: later,
            family_expires_at: later,
            revoked: true,
            replaced_by: Some(id()),
            rotated_at: Some(at),
            user_agent: Some("curl/8".to_owned()),
            ip_address: Some("2001:db8::1".to_owned()),
            created_at: at,
        },
        token_id
    );
    let code_id = id();
    round_trip!(
        backup_codes,
        backup_codes::Model {
            id: code_id,
            user_id: user.id,
            code_hash: "hash".to_owned(),
            used_at: Some(later),
            created_at: at,
        },
        code_id
    );
    round_trip!(
        quotas,
        quotas::Model {
            user_id: user.id,
            limit_bytes: 5 * 1024 * 1024 * 1024,
            used_bytes: 3_000_000_000,
            reserved_bytes: 2_000_000_000,
        },
        user.id
    );
    let folder_id = id();
    let folder = round_trip!(
        folders,
        folders::Model {
            id: folder_id,
            user_id: user.id,
            parent_id: None,
            name: "Inbox".to_owned(),
            created_at: at,
            updated_at: later,
        },
        folder_id
    );
    let sub_id = id();
    round_trip!(
        folders,
        folders::Model {
            id: sub_id,
            user_id: user.id,
            parent_id: Some(folder.id),
            name: "2025".to_owned(),
            created_at: at,
            updated_at: at,
        },
        sub_id
    );
    let doc_id = id();
    let doc = round_trip!(
        documents,
        documents::Model {
            id: doc_id,
            user_id: user.id,
            folder_id: Some(folder.id),
            filename: "Steuer 2025 – Bescheid.pdf".to_owned(),
            object_key: format!("{}/{doc_id}/{}.pdf", user.id, id()),
            content_type: "application/pdf".to_owned(),
            size_bytes: 4_294_967_296,
            sha256: Some(
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".to_owned()
            ),
            storage_backend: "s3".to_owned(),
            status: "classified".parse().unwrap(),
            attempts: 2,
            last_error: Some("timeout".to_owned()),
            lease_expires_at: Some(later),
            ai_opt_out: true,
            classified_by: Some(serde_json::json!({
                "provider": "ollama",
                "model": "llama3",
                "prompt_version": 3
            })),
            status_reason: None,
            thumbnail_key: Some(format!("{}/{doc_id}/x.pdf.thumbnail.jpg", user.id)),
            thumbnail_error: None,
            progress_page: None,
            progress_pages: None,
            trashed_at: None,
            document_date: chrono::NaiveDate::from_ymd_opt(2025, 3, 1),
            document_date_source: Some(documents::DocumentDateSource::Filename),
            page_count: Some(12),
            created_at: at,
            updated_at: later,
        },
        doc_id
    );
    round_trip!(
        document_texts,
        document_texts::Model {
            document_id: doc.id,
            body: "Einkommensteuerbescheid\n…".to_owned(),
            pages: Some(serde_json::json!([{"page": 1, "source": "ocr"}])),
        },
        doc.id
    );
    round_trip!(
        document_stems,
        document_stems::Model {
            document_id: doc.id,
            language: docuvault::entities::SearchLanguage::English,
            stems: "eninvoic entabl".to_owned(),
        },
        doc.id
    );
    let topic_id = id();
    let topic = round_trip!(
        topics,
        topics::Model {
            id: topic_id,
            user_id: Some(user.id),
            name: "Taxes".to_owned(),
            description: Some("Everything the tax office sends".to_owned()),
            color: Some("#aa3300".to_owned()),
            created_at: at,
        },
        topic_id
    );
    round_trip!(
        document_topics,
        document_topics::Model {
            document_id: doc.id,
            topic_id: topic.id,
            source: "ai".parse().unwrap(),
            confidence: Some(0.875),
            created_at: at,
        },
        (doc.id, topic.id)
    );
    let share_id = id();
    round_trip!(
        shares,
        shares::Model {
            id: share_id,
            document_id: doc.id,
            owner_id: user.id,
            recipient_id: bob.id,
            permission: "view".to_owned(),
            created_at: at,
        },
        share_id
    );
    let audit_id = id();
    round_trip!(
        audit_log,
        audit_log::Model {
            id: audit_id,
            user_id: Some(bob.id),
            actor_id: Some(user.id),
            event_type: "admin.user_updated".to_owned(),
            resource_id: Some(bob.id.to_string()),
            ip_address: Some("198.51.100.4".to_owned()),
            metadata: Some(serde_json::json!({"changed": ["quota"], "limit_bytes": 1})),
            created_at: later,
        },
        audit_id
    );
    let connection_id = id();
    round_trip!(
        cloud_connections,
        cloud_connections::Model {
            id: connection_id,
            user_id: user.id,
            provider: "webdav".to_owned(),
            display_name: "NAS".to_owned(),
            credentials_enc: "enc:creds".to_owned(),
            status: "connected".to_owned(),
            connected_at: at,
            config: Some(r#"{"mailbox":"INBOX"}"#.to_owned()),
            last_checked_at: Some(later),
            last_error: Some("login refused".to_owned()),
        },
        connection_id
    );
    let group_id = id();
    round_trip!(
        groups,
        groups::Model {
            id: group_id,
            name: "family".to_owned(),
            created_at: at,
        },
        group_id
    );

    // Timestamps compare by instant on both backends.
    let newer = documents::Entity::find()
        .filter(documents::Column::UpdatedAt.gt(at))
        .count(&conn)
        .await
        .unwrap();
    assert_eq!(newer, 1);
}

/// Migration 5 adds `quotas.reserved_bytes` and fills it with the declared sizes of the
/// uploads pending at upgrade time (what `upload-url` reserves from then on).
#[tokio::test]
async fn upgrading_reserves_the_uploads_pending_at_upgrade_time() {
    let test_db = TestDb::fresh().await;
    let conn = test_db.connect().await;
    Migrator::up(&conn, Some(4)).await.unwrap();
    let backend = conn.get_database_backend();
    let sql = |pg: &str| -> String {
        if backend == DbBackend::Postgres {
            pg.to_owned()
        } else {
            pg.replace('$', "?")
        }
    };
    // Users as the schema of migration 4 has them (the entity has later columns).
    let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
    for (user, handle) in [(alice, "alice"), (bob, "bob")] {
        let at = now();
        conn.execute_raw(Statement::from_sql_and_values(
            backend,
            sql(
                "INSERT INTO users (id, handle, email, password_hash, role, is_active, \
                 password_must_change, tokens_valid_after, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, 'user', $5, $6, $7, $7, $7)",
            ),
            [
                user.into(),
                handle.into(),
                format!("{handle}@example.test").into(),
                "$argon2id$stub".into(),
                true.into(),
                false.into(),
                at.into(),
            ],
        ))
        .await
        .unwrap();
    }
    for user in [alice, bob] {
        conn.execute_raw(Statement::from_sql_and_values(
            backend,
            sql("INSERT INTO quotas (user_id, limit_bytes, used_bytes) VALUES ($1, 1000000, 0)"),
            [user.into()],
        ))
        .await
        .unwrap();
    }
    for (status, size) in [("pending", 100i64), ("pending", 20), ("queued", 5000)] {
        let (id, at) = (Uuid::new_v4(), now());
        conn.execute_raw(Statement::from_sql_and_values(
            backend,
            sql(
                "INSERT INTO documents (id, user_id, filename, object_key, content_type, \
                 size_bytes, storage_backend, status, created_at, updated_at) \
                 VALUES ($1, $2, 'a.txt', $3, 'text/plain', $4, 'local', $5, $6, $6)",
            ),
            [
                id.into(),
                alice.into(),
                format!("{alice}/{id}/x.txt").into(),
                size.into(),
                status.into(),
                at.into(),
            ],
        ))
        .await
        .unwrap();
    }
    Migrator::up(&conn, None).await.unwrap();
    let reserved = |user: Uuid| {
        let conn = &conn;
        async move {
            quotas::Entity::find_by_id(user)
                .one(conn)
                .await
                .unwrap()
                .unwrap()
                .reserved_bytes
        }
    };
    assert_eq!(reserved(alice).await, 120);
    assert_eq!(reserved(bob).await, 0);
}

/// `job_ticks` holds one claim per job and scheduled tick: a second insert of the same
/// tick is a unique violation (the scheduler's `ON CONFLICT DO NOTHING` relies on it),
/// while another tick or another job goes in, and a row round-trips.
#[tokio::test]
async fn a_job_tick_can_be_claimed_once() {
    use docuvault::entities::job_ticks;
    let (_test_db, conn) = migrated().await;
    let tick = Utc::now().trunc_subsecs(0);
    let claim = |job: &str, tick_at: DateTime<Utc>| job_ticks::ActiveModel {
        job: Set(job.to_owned()),
        tick_at: Set(tick_at),
        claimed_at: Set(now()),
    };
    let first = claim("cleanup", tick).insert(&conn).await.unwrap();
    assert_violation(
        claim("cleanup", tick).insert(&conn).await,
        ErrorKind::UniqueViolation,
    );
    claim("cleanup", tick + chrono::Duration::seconds(2))
        .insert(&conn)
        .await
        .unwrap();
    claim("other", tick).insert(&conn).await.unwrap();
    let read = job_ticks::Entity::find_by_id(("cleanup".to_owned(), tick))
        .one(&conn)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, first);
    // The scheduler's claim: only the first insert of a tick counts.
    let at = tick + chrono::Duration::seconds(4);
    assert!(
        docuvault::jobs::scheduler::claim_tick(&conn, "cleanup", at)
            .await
            .unwrap()
    );
    assert!(
        !docuvault::jobs::scheduler::claim_tick(&conn, "cleanup", at)
            .await
            .unwrap()
    );
    assert_eq!(job_ticks::Entity::find().count(&conn).await.unwrap(), 4);
}

/// `topic_evidence`, `topic_suggestions`, `topic_rejections` (migration 000030): the
/// words of an automatic link go with that link (composite foreign key), suggestions and
/// rejections with their document, their topic and (rejections) the account.
#[tokio::test]
async fn topic_feedback_rows_go_with_their_link_document_topic_and_account() {
    use docuvault::entities::{topic_evidence, topic_rejections, topic_suggestions};
    let (_test_db, conn) = migrated().await;
    let manager = SchemaManager::new(&conn);
    for (table, index) in [
        ("topic_suggestions", "idx_topic_suggestions_topic_id"),
        ("topic_rejections", "idx_topic_rejections_topic_id"),
        ("topic_rejections", "idx_topic_rejections_user_created"),
    ] {
        assert!(
            manager.has_index(table, index).await.unwrap(),
            "index {index} is missing"
        );
    }
    let alice = insert_user(&conn, "alice").await;
    let doc = insert_document(&conn, alice.id, None, "classified")
        .await
        .unwrap();
    let taxes = insert_topic(&conn, Some(alice.id), "Taxes").await.unwrap();
    let car = insert_topic(&conn, Some(alice.id), "Car").await.unwrap();
    let health = insert_topic(&conn, Some(alice.id), "Health").await.unwrap();
    let evidence = |topic: Uuid| topic_evidence::ActiveModel {
        document_id: Set(doc.id),
        topic_id: Set(topic),
        terms: Set(serde_json::json!([{"term": "tax", "weight": 0.5}])),
    };
    // Words without the link they explain are refused.
    assert_violation(
        evidence(taxes.id).insert(&conn).await,
        ErrorKind::ForeignKeyViolation,
    );
    document_topics::ActiveModel {
        document_id: Set(doc.id),
        topic_id: Set(taxes.id),
        source: Set("ai".parse().unwrap()),
        confidence: Set(Some(0.8)),
        created_at: Set(now()),
    }
    .insert(&conn)
    .await
    .unwrap();
    evidence(taxes.id).insert(&conn).await.unwrap();
    let suggestion = |topic: Uuid, document: Uuid| topic_suggestions::ActiveModel {
        document_id: Set(document),
        topic_id: Set(topic),
        confidence: Set(0.3),
        terms: Set(None),
        created_at: Set(now()),
    };
    let rejection = |topic: Uuid, document: Uuid| topic_rejections::ActiveModel {
        document_id: Set(document),
        topic_id: Set(topic),
        user_id: Set(alice.id),
        created_at: Set(now()),
    };
    suggestion(car.id, doc.id).insert(&conn).await.unwrap();
    suggestion(health.id, doc.id).insert(&conn).await.unwrap();
    rejection(car.id, doc.id).insert(&conn).await.unwrap();
    rejection(health.id, doc.id).insert(&conn).await.unwrap();
    assert_violation(
        rejection(car.id, doc.id).insert(&conn).await,
        ErrorKind::UniqueViolation,
    );
    assert_violation(
        suggestion(car.id, Uuid::new_v4()).insert(&conn).await,
        ErrorKind::ForeignKeyViolation,
    );

    // The link goes: its words go with it.
    document_topics::Entity::delete_by_id((doc.id, taxes.id))
        .exec(&conn)
        .await
        .unwrap();
    assert_eq!(
        topic_evidence::Entity::find().count(&conn).await.unwrap(),
        0
    );
    // A topic goes: its suggestions and rejections go with it.
    car.delete(&conn).await.unwrap();
    assert_eq!(
        topic_suggestions::Entity::find()
            .count(&conn)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        topic_rejections::Entity::find().count(&conn).await.unwrap(),
        1
    );
    // The document goes: the rest goes with it.
    doc.clone().delete(&conn).await.unwrap();
    assert_eq!(
        topic_suggestions::Entity::find()
            .count(&conn)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        topic_rejections::Entity::find().count(&conn).await.unwrap(),
        0
    );
    // And with the account.
    let doc = insert_document(&conn, alice.id, None, "classified")
        .await
        .unwrap();
    rejection(health.id, doc.id).insert(&conn).await.unwrap();
    alice.delete(&conn).await.unwrap();
    assert_eq!(
        topic_rejections::Entity::find().count(&conn).await.unwrap(),
        0
    );
}

#[tokio::test]
async fn an_account_has_at_most_one_running_refile_and_states_are_checked() {
    let (_test_db, conn) = migrated().await;
    let alice = insert_user(&conn, "alice").await;
    let bob = insert_user(&conn, "bob").await;
    let insert =
        |user: Uuid, state: &'static str| {
            let conn = conn.clone();
            async move {
                execute(
                &conn,
                "INSERT INTO refile_runs (id, user_id, state, total, done, changed, started_at) \
                 VALUES ($1, $2, $3, 0, 0, 0, $4)",
                vec![Uuid::new_v4().into(), user.into(), state.into(), now().into()],
            )
            .await
            }
        };
    insert(alice.id, "running").await.unwrap();
    assert_violation(
        insert(alice.id, "running").await,
        ErrorKind::UniqueViolation,
    );
    insert(bob.id, "running").await.unwrap();
    for ended in ["done", "failed", "cancelled", "done"] {
        insert(alice.id, ended).await.unwrap();
    }
    assert_violation(insert(alice.id, "paused").await, ErrorKind::CheckViolation);
    // They go with the account.
    users::Entity::delete_by_id(alice.id)
        .exec(&conn)
        .await
        .unwrap();
    let left = docuvault::entities::refile_runs::Entity::find()
        .count(&conn)
        .await
        .unwrap();
    assert_eq!(left, 1);
}
