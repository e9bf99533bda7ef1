//! A fresh, empty database per test, on SQLite or PostgreSQL.
//!
//! Without configuration every [`TestDb`] is a new SQLite file in its own temporary
//! directory. With `DOCUVAULT_TEST_POSTGRES_URL` set (e.g.
//! `postgres://postgres@127.0.0.1:5432/postgres`) every [`TestDb`] is a new database
//! `dv_test_<uuid>` on that server, dropped again when the `TestDb` is dropped. An
//! unreachable server is a test failure, never a silent fallback to SQLite.
//!
//! A module of the test harness (`tests/it/common/mod.rs`).
#![allow(dead_code)]

use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};

/// Environment variable naming the PostgreSQL server to create test databases on.
/// Its database (usually `postgres`) is only used to `CREATE`/`DROP` the test databases.
pub const POSTGRES_URL_ENV: &str = "DOCUVAULT_TEST_POSTGRES_URL";

/// One test's private database; it lives as long as this value.
pub struct TestDb {
    /// Connection URL of the fresh database (`sqlite://…?mode=rwc` or `postgres://…/dv_test_…`).
    pub url: String,
    backend: Backend,
}

enum Backend {
    /// The directory holds the database file and is removed on drop.
    Sqlite { _dir: tempfile::TempDir },
    /// `admin_url` points at the server's maintenance database, `name` is ours.
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    /// Creates a new empty database (PostgreSQL when [`POSTGRES_URL_ENV`] is set and
    /// non-empty, SQLite otherwise). Panics with a clear message if that fails.
    pub async fn fresh() -> TestDb {
        match std::env::var(POSTGRES_URL_ENV) {
            Ok(admin_url) if !admin_url.trim().is_empty() => Self::fresh_postgres(admin_url).await,
            _ => Self::fresh_sqlite(),
        }
    }

    /// True when this database lives on PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self.backend, Backend::Postgres { .. })
    }

    /// Opens a small connection pool to this database (no migrations applied).
    pub async fn connect(&self) -> DatabaseConnection {
        let mut opts = ConnectOptions::new(self.url.clone());
        opts.max_connections(5)
            .connect_timeout(Duration::from_secs(10))
            .sqlx_logging(false);
        match Database::connect(opts).await {
            Ok(db) => db,
            Err(err) => panic!("cannot connect to test database {}: {err}", self.url),
        }
    }

    fn fresh_sqlite() -> TestDb {
        let dir = match tempfile::TempDir::new() {
            Ok(dir) => dir,
            Err(err) => {
                panic!("cannot create a temporary directory for the SQLite test database: {err}")
            }
        };
        let path = dir.path().join("docuvault.db");
        TestDb {
            url: format!("sqlite://{}?mode=rwc", path.display()),
            backend: Backend::Sqlite { _dir: dir },
        }
    }

    async fn fresh_postgres(admin_url: String) -> TestDb {
        let name = format!("dv_test_{}", uuid::Uuid::new_v4().simple());
        let mut url = match url::Url::parse(&admin_url) {
            Ok(url) => url,
            Err(err) => panic!("{POSTGRES_URL_ENV}={admin_url:?} is not a valid URL: {err}"),
        };
        url.set_path(&format!("/{name}"));

        let admin = match admin_connect(&admin_url).await {
            Ok(admin) => admin,
            Err(err) => panic!(
                "{POSTGRES_URL_ENV} is set to {admin_url:?} but that PostgreSQL server is \
                 unreachable ({err}). Start it, or unset {POSTGRES_URL_ENV} to test on SQLite."
            ),
        };
        if let Err(err) = admin
            .execute_unprepared(&format!(r#"CREATE DATABASE "{name}""#))
            .await
        {
            panic!("cannot create test database {name} on {admin_url:?}: {err}");
        }
        // Closing failures only leak one idle connection for the rest of the test.
        let _ = admin.close().await;

        TestDb {
            url: url.to_string(),
            backend: Backend::Postgres { admin_url, name },
        }
    }
}

impl Drop for TestDb {
    /// Drops the PostgreSQL database (SQLite files go with their `TempDir`). `Drop` is
    /// synchronous and may run inside a runtime, so the async work gets its own thread
    /// and runtime. Failures are reported, never panicked on.
    fn drop(&mut self) {
        let Backend::Postgres { admin_url, name } = &self.backend else {
            return;
        };
        let (admin_url, name) = (admin_url.clone(), name.clone());
        let outcome = std::thread::spawn(move || -> Result<(), String> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|err| err.to_string())?;
            runtime.block_on(async {
                let admin = admin_connect(&admin_url)
                    .await
                    .map_err(|err| err.to_string())?;
                let dropped = admin
                    .execute_unprepared(&format!(
                        r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#
                    ))
                    .await
                    .map_err(|err| err.to_string());
                let _ = admin.close().await;
                dropped.map(|_| ())
            })
        })
        .join();
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(err)) => eprintln!("warning: could not drop test database {}: {err}", self.url),
            Err(_) => eprintln!("warning: dropping test database {} panicked", self.url),
        }
    }
}

/// One connection to the server's maintenance database, failing fast when it is down.
async fn admin_connect(admin_url: &str) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let mut opts = ConnectOptions::new(admin_url.to_owned());
    opts.max_connections(1)
        .min_connections(0)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    Database::connect(opts).await
}
