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

/// WAL pages past which a commit checkpoints by itself when a background task does it
/// (`database.sqlite_checkpoint_interval_ms`): a backstop for a task that fell behind
/// and for one-off commands, which run none (about 256 MiB).
const SQLITE_BACKSTOP_CHECKPOINT_PAGES: u64 = 65_536;

/// How big an emptied WAL file stays on disk (SQLite truncates it to this after a
/// checkpoint restarts it).
const SQLITE_WAL_KEEP_BYTES: u64 = 64 << 20;

/// Opens a pool on `url` with the settings' limits; SQLite gets WAL, a busy timeout,
/// enforced foreign keys, memory-mapped reads, room for a transaction's changed pages,
/// and checkpoints left to [`checkpoint_sqlite`] when it runs.
pub async fn connect(
    url: &str,
    settings: &Settings,
    max_connections: u32,
) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let mut opts = ConnectOptions::new(url.to_owned());
    let busy = Duration::from_millis(settings.database.sqlite_busy_timeout_ms);
    let mmap_bytes = settings.database.sqlite_mmap_mib.saturating_mul(1 << 20);
    // In pages of 4 KiB (SQLite's default page size, which DocuVault keeps).
    let spill_pages = settings.database.sqlite_write_cache_mib.saturating_mul(256);
    let autocheckpoint = if settings.database.sqlite_checkpoint_interval_ms > 0 {
        SQLITE_BACKSTOP_CHECKPOINT_PAGES
    } else {
        1000
    };
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
                // A transaction's changed pages stay in memory up to this many (one
                // writer at a time; the cache shrinks back to its 2 MiB after the
                // commit) instead of being written to the WAL ahead of the commit once
                // the small cache is full: a bulk change of 1 000 documents dirties
                // thousands of index pages.
                .pragma("cache_spill", spill_pages.to_string())
                .pragma("wal_autocheckpoint", autocheckpoint.to_string())
                .pragma("journal_size_limit", SQLITE_WAL_KEEP_BYTES.to_string())
        });
    Database::connect(opts).await
}

/// WAL frames (4 KiB each) past which [`checkpoint_sqlite`] waits for the writer to
/// restart the WAL from its beginning (about 64 MiB). A passive checkpoint copies the
/// frames but never restarts it while writes follow each other without a pause, and
/// every page read looks through a longer WAL.
const SQLITE_RESTART_FRAMES: i64 = 16_384;

/// How long a restarting checkpoint waits for the writer and for readers before it gives
/// up until the next tick: new writes wait while it does.
const SQLITE_RESTART_WAIT: Duration = Duration::from_millis(100);

/// Moves committed pages from the WAL into the database file every
/// `database.sqlite_checkpoint_interval_ms` (a passive checkpoint: it waits for no reader
/// or writer; past [`SQLITE_RESTART_FRAMES`] a restarting one, which holds new writes
/// back while it finishes, for at most [`SQLITE_RESTART_WAIT`]), on a connection of its
/// own, until `shutdown`. A commit that takes the WAL past 1 000 pages otherwise copies
/// them itself while its request waits: after a bulk change of 1 000 documents that was
/// 80–140 ms of the request's time. SQLite only; an interval of 0 does nothing.
pub async fn checkpoint_sqlite(
    settings: std::sync::Arc<Settings>,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let interval_ms = settings.database.sqlite_checkpoint_interval_ms;
    let url = settings.database_url();
    if interval_ms == 0 || !url.starts_with("sqlite:") {
        return;
    }
    let mut opts = ConnectOptions::new(url);
    opts.max_connections(1)
        .min_connections(0)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| o.busy_timeout(SQLITE_RESTART_WAIT));
    let db = match Database::connect(opts).await {
        Ok(db) => db,
        Err(error) => {
            tracing::warn!(%error, "no SQLite checkpoints in the background: cannot connect");
            return;
        }
    };
    let mut tick = tokio::time::interval(Duration::from_millis(interval_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        let done = async {
            let frames = wal_checkpoint(&db, "PASSIVE").await?;
            if frames >= SQLITE_RESTART_FRAMES {
                wal_checkpoint(&db, "RESTART").await?;
            }
            Ok::<_, sea_orm::DbErr>(())
        };
        match done.await {
            Ok(()) => failing = false,
            Err(error) if !failing => {
                failing = true;
                tracing::warn!(%error, "SQLite checkpoint failed; retrying");
            }
            Err(_) => {}
        }
    }
    let _ = db.close().await;
}

/// `PRAGMA wal_checkpoint(<mode>)`; returns how many frames the WAL holds.
async fn wal_checkpoint(db: &DatabaseConnection, mode: &str) -> Result<i64, sea_orm::DbErr> {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            DatabaseBackend::Sqlite,
            format!("PRAGMA wal_checkpoint({mode})"),
        ))
        .await?;
    Ok(match row {
        Some(row) => row.try_get_by_index::<i64>(1)?,
        None => 0,
    })
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
