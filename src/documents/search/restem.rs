//! Each account's documents stemmed in its search language, in the background.
//!
//! A text is stemmed when it is stored (`documents::texts::store`), in its owner's
//! language. When an account changes language (`PATCH /api/auth/me`), its documents are
//! stemmed again by [`spawn_account`]; at every start, [`run_at_start`] does the same
//! for every account (texts migrated or imported without stems, a change a stop
//! interrupted). Both walk the account's documents in id order, [`BATCH`] at a time,
//! each batch stemmed on a blocking thread and written in one short transaction, so
//! neither a request nor the database waits on a large vault.
//!
//! On SQLite a pass that rewrote documents ends by merging the full-text index's
//! segments in bounded steps ([`merge_sqlite_index`]).
//!
//! Which stems a document holds is recorded (`document_stems.language`), and every stem
//! is tagged with its language ([`super::stemming`]): until its turn comes, a document
//! stemmed in the old language matches the new language's queries exactly only.

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, FromQueryResult, QuerySelect,
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::sql::Sql;
use super::stemming::STEMMED_TEXT_CHARS;
use crate::documents::texts;
use crate::domain::UserId;
use crate::entities::{SearchLanguage, users};

/// Documents stemmed per batch (and per write transaction).
pub const BATCH: u64 = 20;

/// The search language of account `user` (`simple` if there is no such account).
pub async fn language_of(db: &impl ConnectionTrait, user: UserId) -> Result<SearchLanguage, DbErr> {
    let language: Option<SearchLanguage> = users::Entity::find_by_id(Uuid::from(user))
        .select_only()
        .column(users::Column::SearchLanguage)
        .into_tuple()
        .one(db)
        .await?;
    Ok(language.unwrap_or_default())
}

#[derive(Debug, FromQueryResult)]
struct Pending {
    id: Uuid,
    body: Option<String>,
}

/// Up to [`BATCH`] documents of `user` after `after` (id order) whose stems are not those
/// of `language`: with a text and no stems or another language's, or (for `simple`)
/// with stems at all. Their text (bounded) comes along unless the language is `simple`.
async fn pending(
    db: &impl ConnectionTrait,
    user: UserId,
    language: SearchLanguage,
    after: Option<Uuid>,
) -> Result<Vec<Pending>, DbErr> {
    let mut sql = Sql::new(db.get_database_backend());
    let body = if language == SearchLanguage::Simple {
        "NULL".to_owned()
    } else {
        format!("SUBSTR(t.body, 1, {STEMMED_TEXT_CHARS})")
    };
    sql.push(&format!(
        "SELECT d.id, {body} AS body FROM documents d \
         JOIN document_texts t ON t.document_id = d.id \
         LEFT JOIN document_stems s ON s.document_id = d.id WHERE d.user_id = "
    ))
    .bind(user);
    if let Some(after) = after {
        sql.push(" AND d.id > ").bind(after);
    }
    if language == SearchLanguage::Simple {
        sql.push(" AND s.document_id IS NOT NULL");
    } else {
        sql.push(" AND (s.document_id IS NULL OR s.language <> ")
            .bind(language.as_str())
            .push(")");
    }
    sql.push(" ORDER BY d.id LIMIT ")
        .bind(i64::try_from(BATCH).unwrap_or(20));
    Pending::find_by_statement(sql.statement()).all(db).await
}

/// Stems every document of `user` in the account's current language; returns how many
/// were written. Passes repeat until one finds nothing to do, so a text stored with the
/// old language while a pass ran is caught too.
pub async fn restem_account(db: &DatabaseConnection, user: UserId) -> Result<u64, DbErr> {
    let mut written = 0;
    loop {
        let mut in_pass = 0;
        let mut after = None;
        loop {
            // Read each batch: a change of language while this runs takes effect at once.
            let language = language_of(db, user).await?;
            let batch = pending(db, user, language, after).await?;
            let Some(last) = batch.last() else { break };
            after = Some(last.id);
            let full = batch.len() as u64 == BATCH;
            let stems = tokio::task::spawn_blocking(move || {
                batch
                    .into_iter()
                    .map(|p| {
                        let stems = p
                            .body
                            .and_then(|b| super::stemming::stems_of_text(language, &b));
                        (p.id, stems)
                    })
                    .collect::<Vec<_>>()
            })
            .await
            .map_err(|e| DbErr::Custom(format!("stemming failed: {e}")))?;
            let txn = crate::db::begin_write(db).await?;
            for (id, s) in &stems {
                texts::write_stems(&txn, *id, language, s.clone()).await?;
            }
            txn.commit().await?;
            in_pass += stems.len() as u64;
            if !full {
                break;
            }
        }
        written += in_pass;
        if in_pass == 0 {
            if written > 0 {
                merge_sqlite_index(db).await?;
            }
            return Ok(written);
        }
    }
}

/// Pages of the SQLite full-text index one merge step writes (about 2 MiB).
const MERGE_PAGES: i64 = 500;

/// On SQLite, merges the full-text index's segments after a pass rewrote many entries:
/// each rewritten document left its old entry behind as a deletion in a new small
/// segment, and until they are merged every query reads through all of them (measured:
/// 1.3–1.8× slower searches after stemming a vault again). Bounded steps, each its own
/// short statement, until a step finds nothing left to merge; other writes go between.
async fn merge_sqlite_index(db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() != sea_orm::DatabaseBackend::Sqlite {
        return Ok(());
    }
    let changes = |row: Option<sea_orm::QueryResult>| -> Result<i64, DbErr> {
        row.map_or(Ok(0), |r| r.try_get::<i64>("", "n"))
    };
    loop {
        // One connection for the step and its count: `total_changes()` is per connection.
        let txn = crate::db::begin_write(db).await?;
        let before = changes(txn.query_one_raw(total_changes()).await?)?;
        txn.execute_unprepared(&format!(
            "INSERT INTO documents_fts (documents_fts, rank) VALUES ('merge', -{MERGE_PAGES})"
        ))
        .await?;
        let after = changes(txn.query_one_raw(total_changes()).await?)?;
        txn.commit().await?;
        // The FTS5 documentation's test: fewer than 2 changes = nothing was merged.
        if after - before < 2 {
            return Ok(());
        }
    }
}

fn total_changes() -> sea_orm::Statement {
    sea_orm::Statement::from_string(
        sea_orm::DatabaseBackend::Sqlite,
        "SELECT total_changes() AS n",
    )
}

/// Stems the documents of `user` again in the background (after a change of language).
pub fn spawn_account(db: DatabaseConnection, user: UserId) {
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        match restem_account(&db, user).await {
            Ok(n) => tracing::info!(
                documents = n,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "search stems rewritten in the account's language"
            ),
            Err(e) => tracing::error!(error = %e, "stemming an account's documents failed"),
        }
    });
}

/// At start: every account's documents whose stems are missing or of another language
/// are stemmed (until done, or the server stops).
pub async fn run_at_start(db: DatabaseConnection, shutdown: CancellationToken) {
    let accounts: Result<Vec<Uuid>, DbErr> = users::Entity::find()
        .select_only()
        .column(users::Column::Id)
        .into_tuple()
        .all(&db)
        .await;
    let accounts = match accounts {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "listing accounts to stem failed");
            return;
        }
    };
    for user in accounts {
        let done = tokio::select! {
            r = restem_account(&db, UserId::from(user)) => r,
            () = shutdown.cancelled() => return,
        };
        match done {
            Ok(0) => {}
            Ok(n) => tracing::info!(documents = n, "search stems written at start"),
            Err(e) => tracing::error!(error = %e, "stemming an account's documents failed"),
        }
    }
}
