//! Database connections and migrations, for SQLite and PostgreSQL alike.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection};

use crate::settings::Settings;

/// The PostgreSQL advisory locks DocuVault takes, one table of their ids (arbitrary
/// constants, kept as they were so instances of different versions still exclude each
/// other). SQLite has one instance per file and needs none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdvisoryLock {
    /// Held while migrating, so instances starting at once migrate one after another.
    Migration,
    /// Held during a cleanup run (`jobs::cleanup`), so instances sharing a database
    /// clean up once per tick instead of all at once.
    Cleanup,
    /// Taken per transaction (`topics::service`) to serialise changes to system topics.
    SystemTopics,
}

impl AdvisoryLock {
    /// The lock's id as `pg_advisory_lock` and friends take it.
    pub const fn id(self) -> i64 {
        match self {
            Self::Migration => 0x646f_6375_7661,
            Self::Cleanup => 0x646f_6375_636c,
            Self::SystemTopics => 0x646f_6374_6f70,
        }
    }
}

/// Opens a pool on `url` with the settings' limits; SQLite gets WAL, a busy timeout,
/// enforced foreign keys and memory-mapped reads.
pub async fn connect(
    url: &str,
    settings: &Settings,
    max_connections: u32,
) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let mut opts = ConnectOptions::new(url.to_owned());
    let busy = Duration::from_millis(settings.database.sqlite_busy_timeout_ms);
    let mmap_bytes = settings.database.sqlite_mmap_mib.saturating_mul(1 << 20);
    opts.max_connections(max_connections)
        .connect_timeout(Duration::from_secs(settings.database.connect_timeout_secs))
        .acquire_timeout(Duration::from_secs(settings.database.acquire_timeout_secs))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(move |o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(busy)
                .foreign_keys(true)
                .create_if_missing(true)
                // Shared page cache for reads (a connection's own cache is 2 MiB).
                .pragma("mmap_size", mmap_bytes.to_string())
        });
    Database::connect(opts).await
}

/// Connects the serving pool.
pub async fn connect_pool(settings: &Settings) -> Result<DatabaseConnection, sea_orm::DbErr> {
    connect(
        &settings.database_url(),
        settings,
        settings.database.max_connections,
    )
    .await
}

/// Applies pending migrations on the migration URL; idempotent, and serialised across
/// instances on PostgreSQL by an advisory lock.
pub async fn migrate(settings: &Settings) -> Result<(), sea_orm::DbErr> {
    let db = connect(&settings.database_migrate_url(), settings, 1).await?;
    let result = migrate_on(&db).await;
    let _ = db.close().await;
    result
}

async fn migrate_on(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    if db.get_database_backend() == DatabaseBackend::Postgres {
        let lock = AdvisoryLock::Migration.id();
        db.execute_unprepared(&format!("SELECT pg_advisory_lock({lock})"))
            .await?;
        let result = Migrator::up(db, None).await;
        db.execute_unprepared(&format!("SELECT pg_advisory_unlock({lock})"))
            .await?;
        result
    } else {
        Migrator::up(db, None).await
    }
}

/// Short engine name for logs and `/health`.
pub fn backend_name(db: &DatabaseConnection) -> &'static str {
    match db.get_database_backend() {
        DatabaseBackend::Postgres => "postgres",
        DatabaseBackend::Sqlite => "sqlite",
        _ => "other",
    }
}

/// Begins a transaction that will write: on SQLite `BEGIN IMMEDIATE`, so it takes the
/// write lock up front (waiting up to the busy timeout) instead of failing with
/// "database is locked" when upgrading a read.
pub async fn begin_write(
    db: &DatabaseConnection,
) -> Result<sea_orm::DatabaseTransaction, sea_orm::DbErr> {
    use sea_orm::TransactionTrait;
    db.begin_with_options(sea_orm::TransactionOptions {
        isolation_level: None,
        access_mode: None,
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
    })
    .await
}
