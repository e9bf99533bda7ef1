//! The duplicates filter off a table of counts: `document_hash_counts (user_id, sha256,
//! live_count)`, primary key `(user_id, sha256)`, one row per account and SHA-256 that
//! at least one of the account's live documents (confirmed, not in the trash, hash
//! recorded) has, with how many do. Rows whose count falls to zero are removed, so the
//! table never holds more rows than the live documents. The partial index
//! `idx_document_hash_counts_duplicated (user_id, sha256, live_count) WHERE live_count >
//! 1` lists an account's duplicated hashes, and sums their documents (the filter's
//! total), in O(duplicated hashes), index-only.
//!
//! Why: `duplicates=true` (the home page asks it on every visit) was an `EXISTS` probe of
//! `idx_documents_live_sha256` for every live document of the account, in list order, so
//! its cost grew with the vault (10 000 documents: 13–16 ms a query) rather than with
//! the number of duplicates.
//!
//! Triggers on `documents` keep the counts, whatever path changes a row's owner, hash,
//! status or trash state (confirm, the pipeline, version switches, trash and restore,
//! delete, purge, the account cascade, instance import):
//! - PostgreSQL: one `AFTER … FOR EACH STATEMENT` trigger per event with transition
//!   tables (a column-list `UPDATE OF` trigger cannot have them), each running one
//!   set-based upsert of the statement's net change per `(user_id, sha256)` (nothing at
//!   all when the net change is zero, as for a move or a re-filing of 1 000 documents),
//!   in key order, then removing the rows that reached zero (off the partial index
//!   `idx_document_hash_counts_zero`, empty between statements).
//! - SQLite: row triggers whose `WHEN` lets only rows entering or leaving the counted set
//!   through (`UPDATE OF user_id, sha256, status, trashed_at`).
//!
//! Existing documents are counted once by `up`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, string, uuid};

/// Adds `document_hash_counts`, its index, its triggers, and fills it.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DocumentHashCounts {
    Table,
    UserId,
    Sha256,
    LiveCount,
}

/// The condition of a counted document (`row`: `NEW`, `OLD`, a table or an alias). The
/// literals match the partial `documents` indexes and the read path.
fn counted(row: &str) -> String {
    format!("{row}.sha256 IS NOT NULL AND {row}.status <> 'pending' AND {row}.trashed_at IS NULL")
}

const FILL: &str = "INSERT INTO document_hash_counts (user_id, sha256, live_count) \
     SELECT d.user_id, d.sha256, COUNT(*) FROM documents d \
     WHERE d.sha256 IS NOT NULL AND d.status <> 'pending' AND d.trashed_at IS NULL \
     GROUP BY d.user_id, d.sha256";

const PARTIAL_INDEX: &str = "CREATE INDEX idx_document_hash_counts_duplicated \
     ON document_hash_counts (user_id, sha256, live_count) WHERE live_count > 1";

/// The PostgreSQL trigger function for one event: `changes` selects `(user_id, sha256,
/// n)` from the transition tables (`n` = +1 for a row entering the counted set, -1 for
/// one leaving it).
fn pg_function(name: &str, changes: &str) -> String {
    format!(
        "CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN \
           INSERT INTO document_hash_counts AS h (user_id, sha256, live_count) \
           SELECT c.user_id, c.sha256, SUM(c.n) FROM ({changes}) c \
           GROUP BY c.user_id, c.sha256 HAVING SUM(c.n) <> 0 \
           ORDER BY c.user_id, c.sha256 \
           ON CONFLICT (user_id, sha256) \
             DO UPDATE SET live_count = h.live_count + EXCLUDED.live_count; \
           DELETE FROM document_hash_counts WHERE live_count <= 0; \
           RETURN NULL; \
         END $$"
    )
}

fn postgres_up() -> Vec<String> {
    let entering = format!(
        "SELECT n.user_id, n.sha256, 1 AS n FROM new_rows n WHERE {}",
        counted("n")
    );
    let leaving = format!(
        "SELECT o.user_id, o.sha256, -1 AS n FROM old_rows o WHERE {}",
        counted("o")
    );
    vec![
        PARTIAL_INDEX.to_owned(),
        // The rows a statement brought to zero, and only those (every other row is
        // above zero): what each trigger then deletes, off this (almost always empty)
        // index instead of a scan.
        "CREATE INDEX idx_document_hash_counts_zero ON document_hash_counts (live_count) \
         WHERE live_count <= 0"
            .to_owned(),
        pg_function("docuvault_hash_counts_insert", &entering),
        pg_function(
            "docuvault_hash_counts_update",
            &format!("{leaving} UNION ALL {entering}"),
        ),
        pg_function("docuvault_hash_counts_delete", &leaving),
        "CREATE TRIGGER documents_hash_counts_insert AFTER INSERT ON documents \
         REFERENCING NEW TABLE AS new_rows \
         FOR EACH STATEMENT EXECUTE FUNCTION docuvault_hash_counts_insert()"
            .to_owned(),
        "CREATE TRIGGER documents_hash_counts_update AFTER UPDATE ON documents \
         REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows \
         FOR EACH STATEMENT EXECUTE FUNCTION docuvault_hash_counts_update()"
            .to_owned(),
        "CREATE TRIGGER documents_hash_counts_delete AFTER DELETE ON documents \
         REFERENCING OLD TABLE AS old_rows \
         FOR EACH STATEMENT EXECUTE FUNCTION docuvault_hash_counts_delete()"
            .to_owned(),
        FILL.to_owned(),
    ]
}

const POSTGRES_DOWN: [&str; 6] = [
    "DROP TRIGGER IF EXISTS documents_hash_counts_insert ON documents",
    "DROP TRIGGER IF EXISTS documents_hash_counts_update ON documents",
    "DROP TRIGGER IF EXISTS documents_hash_counts_delete ON documents",
    "DROP FUNCTION IF EXISTS docuvault_hash_counts_insert()",
    "DROP FUNCTION IF EXISTS docuvault_hash_counts_update()",
    "DROP FUNCTION IF EXISTS docuvault_hash_counts_delete()",
];

/// SQLite: `row` (`NEW`) counted once more.
fn sqlite_enter(row: &str) -> String {
    format!(
        "INSERT INTO document_hash_counts (user_id, sha256, live_count) \
         VALUES ({row}.user_id, {row}.sha256, 1) \
         ON CONFLICT (user_id, sha256) DO UPDATE SET live_count = live_count + 1;"
    )
}

/// SQLite: `row` (`OLD`) counted once less, its row gone at zero.
fn sqlite_leave(row: &str) -> String {
    format!(
        "UPDATE document_hash_counts SET live_count = live_count - 1 \
         WHERE user_id = {row}.user_id AND sha256 = {row}.sha256; \
         DELETE FROM document_hash_counts \
         WHERE user_id = {row}.user_id AND sha256 = {row}.sha256 AND live_count <= 0;"
    )
}

fn sqlite_up() -> Vec<String> {
    // Counted before and after, under the same key: nothing to do.
    let unchanged = format!(
        "({} AND {} AND NEW.user_id = OLD.user_id AND NEW.sha256 = OLD.sha256)",
        counted("OLD"),
        counted("NEW")
    );
    let columns = "user_id, sha256, status, trashed_at";
    vec![
        PARTIAL_INDEX.to_owned(),
        format!(
            "CREATE TRIGGER documents_hash_counts_insert AFTER INSERT ON documents \
             WHEN {} BEGIN {} END",
            counted("NEW"),
            sqlite_enter("NEW")
        ),
        format!(
            "CREATE TRIGGER documents_hash_counts_delete AFTER DELETE ON documents \
             WHEN {} BEGIN {} END",
            counted("OLD"),
            sqlite_leave("OLD")
        ),
        format!(
            "CREATE TRIGGER documents_hash_counts_leave AFTER UPDATE OF {columns} ON documents \
             WHEN {} AND NOT {unchanged} BEGIN {} END",
            counted("OLD"),
            sqlite_leave("OLD")
        ),
        format!(
            "CREATE TRIGGER documents_hash_counts_enter AFTER UPDATE OF {columns} ON documents \
             WHEN {} AND NOT {unchanged} BEGIN {} END",
            counted("NEW"),
            sqlite_enter("NEW")
        ),
        FILL.to_owned(),
    ]
}

const SQLITE_DOWN: [&str; 4] = [
    "DROP TRIGGER IF EXISTS documents_hash_counts_insert",
    "DROP TRIGGER IF EXISTS documents_hash_counts_delete",
    "DROP TRIGGER IF EXISTS documents_hash_counts_leave",
    "DROP TRIGGER IF EXISTS documents_hash_counts_enter",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DocumentHashCounts::Table)
                    .if_not_exists()
                    .col(uuid(DocumentHashCounts::UserId))
                    .col(string(DocumentHashCounts::Sha256))
                    .col(big_integer(DocumentHashCounts::LiveCount))
                    .primary_key(
                        Index::create()
                            .col(DocumentHashCounts::UserId)
                            .col(DocumentHashCounts::Sha256),
                    )
                    .to_owned(),
            )
            .await?;
        let statements = if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            postgres_up()
        } else {
            sqlite_up()
        };
        let conn = manager.get_connection();
        for sql in statements {
            conn.execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements: &[&str] =
            if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
                &POSTGRES_DOWN
            } else {
                &SQLITE_DOWN
            };
        let conn = manager.get_connection();
        for sql in statements {
            conn.execute_unprepared(sql).await?;
        }
        manager
            .drop_table(
                Table::drop()
                    .table(DocumentHashCounts::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
