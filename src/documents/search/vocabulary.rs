//! Each account's own search vocabulary, for completing the word being typed
//! (`GET /api/documents/suggest`).
//!
//! `search_terms` holds the words of an account's documents with the number of its
//! documents holding each. The full-text indexes cannot answer "the words of this
//! account starting with `inv`": SQLite's FTS5 vocabulary is one for all accounts, and
//! PostgreSQL's `ts_stat` reads every vector of the account (seconds at 10 000
//! documents). Only the account's own documents count, never the ones shared with it:
//! a suggestion would otherwise show the caller words of another account's documents
//! (its own words are the safe choice, and those it searches most).
//!
//! * Extraction adds a document's words ([`record`], from the processing pipeline): the
//!   file name and the first [`VOCABULARY_CHARS`] characters of the text, lower-cased
//!   words of [`MIN_TERM_CHARS`] to [`MAX_TERM_CHARS`] letters and digits with at least
//!   one letter, each counted once per document.
//! * Bounded: an account keeps at most [`MAX_TERMS_PER_ACCOUNT`] words; past it, the
//!   words found in a single document go first (the most frequent stay).
//! * Deleting or trashing does not subtract: a suggestion request notices (at most every
//!   [`CHECK_EVERY`] per account and process) that the account has fewer live documents
//!   than when it last looked and rebuilds the vocabulary in the background from the
//!   [`REBUILD_DOCUMENTS`] most recent live documents ([`refresh_if_stale`]); an account
//!   without a vocabulary yet (documents from before this feature, an import) is built
//!   the same way. Instances share the work through a lease in `search_vocabularies`.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, FromQueryResult, Statement, Value,
};

use crate::domain::UserId;

/// Characters of a document's text whose words enter the vocabulary.
pub const VOCABULARY_CHARS: usize = 20_000;
/// Shortest word kept (a completion of fewer letters saves no typing).
pub const MIN_TERM_CHARS: usize = 3;
/// Longest word kept (longer runs are codes and hashes, not words people type).
pub const MAX_TERM_CHARS: usize = 40;
/// Most words one account's vocabulary keeps.
pub const MAX_TERMS_PER_ACCOUNT: i64 = 50_000;
/// Most documents a rebuild reads (the most recently uploaded).
pub const REBUILD_DOCUMENTS: i64 = 10_000;
/// How often a process checks whether an account's vocabulary is stale.
pub const CHECK_EVERY: Duration = Duration::from_secs(5);
/// How long a rebuild's claim holds before another instance may take it over.
const REBUILD_LEASE_SECS: i64 = 600;
/// Rows per multi-row insert.
const INSERT_CHUNK: usize = 300;
/// Documents read per query by a rebuild.
const REBUILD_PAGE: i64 = 200;

/// The distinct vocabulary words of a document: its file name and the first
/// [`VOCABULARY_CHARS`] characters of its text.
pub fn terms_of(filename: &str, text: &str) -> BTreeSet<String> {
    let head = match text.char_indices().nth(VOCABULARY_CHARS) {
        Some((end, _)) => &text[..end],
        None => text,
    };
    let mut out = BTreeSet::new();
    for source in [filename, head] {
        for word in source.split(|c: char| !c.is_alphanumeric()) {
            let n = word.chars().count();
            if (MIN_TERM_CHARS..=MAX_TERM_CHARS).contains(&n)
                && word.chars().any(char::is_alphabetic)
            {
                out.insert(word.to_lowercase());
            }
        }
    }
    out
}

fn statement(db: &impl ConnectionTrait, sql: &str, values: Vec<Value>) -> Statement {
    let backend = db.get_database_backend();
    let sql = match backend {
        DatabaseBackend::Postgres => sql.to_owned(),
        _ => sql.replace('$', "?"),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// Adds `counts` (word, documents) to the account's words, chunked multi-row upserts.
async fn add_counts(
    db: &impl ConnectionTrait,
    user: UserId,
    counts: &[(String, i64)],
) -> Result<(), DbErr> {
    for chunk in counts.chunks(INSERT_CHUNK) {
        let mut sql = String::from("INSERT INTO search_terms (user_id, term, documents) VALUES ");
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 3);
        for (i, (term, n)) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            let k = values.len();
            sql.push_str(&format!("(${}, ${}, ${})", k + 1, k + 2, k + 3));
            values.push(user.into());
            values.push(term.clone().into());
            values.push((*n).into());
        }
        sql.push_str(
            " ON CONFLICT (user_id, term) DO UPDATE \
             SET documents = search_terms.documents + excluded.documents",
        );
        db.execute_raw(statement(db, &sql, values)).await?;
    }
    Ok(())
}

/// Keeps the account within [`MAX_TERMS_PER_ACCOUNT`]: when over it, drops its words
/// found in the fewest documents (all those at the count where the excess ends).
async fn prune(db: &impl ConnectionTrait, user: UserId) -> Result<(), DbErr> {
    let count = db
        .query_one_raw(statement(
            db,
            "SELECT COUNT(*) AS n FROM search_terms WHERE user_id = $1",
            vec![user.into()],
        ))
        .await?
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0);
    let excess = count - MAX_TERMS_PER_ACCOUNT;
    if excess <= 0 {
        return Ok(());
    }
    let threshold = db
        .query_one_raw(statement(
            db,
            "SELECT documents FROM search_terms WHERE user_id = $1 \
             ORDER BY documents ASC LIMIT 1 OFFSET $2",
            vec![user.into(), (excess - 1).into()],
        ))
        .await?
        .map(|r| r.try_get::<i32>("", "documents"))
        .transpose()?;
    if let Some(threshold) = threshold {
        db.execute_raw(statement(
            db,
            "DELETE FROM search_terms WHERE user_id = $1 AND documents <= $2",
            vec![user.into(), threshold.into()],
        ))
        .await?;
    }
    Ok(())
}

/// Adds a newly extracted document's words to its owner's vocabulary (one write
/// transaction). Called by the processing pipeline after it stored the text.
#[tracing::instrument(skip_all)]
pub async fn record(
    db: &DatabaseConnection,
    user: UserId,
    filename: &str,
    text: &str,
) -> Result<(), DbErr> {
    let filename = filename.to_owned();
    let head: String = text.chars().take(VOCABULARY_CHARS).collect();
    let terms = tokio::task::spawn_blocking(move || terms_of(&filename, &head))
        .await
        .map_err(|e| DbErr::Custom(format!("vocabulary task: {e}")))?;
    if terms.is_empty() {
        return Ok(());
    }
    let counts: Vec<(String, i64)> = terms.into_iter().map(|t| (t, 1)).collect();
    let txn = crate::db::begin_write(db).await?;
    add_counts(&txn, user, &counts).await?;
    prune(&txn, user).await?;
    txn.commit().await
}

/// One completion of the word being typed.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct Term {
    /// The whole word, lower-cased.
    pub term: String,
    /// In how many of the account's documents it occurs (as last counted).
    pub documents: i32,
}

/// Up to `limit` of the account's words starting with `prefix` (lower-cased), those in
/// the most documents first: one range of the primary key `(user_id, term)`.
pub async fn complete(
    db: &impl ConnectionTrait,
    user: UserId,
    prefix: &str,
    limit: u64,
) -> Result<Vec<Term>, DbErr> {
    let upper = format!("{prefix}\u{10FFFF}");
    let limit = i64::try_from(limit).unwrap_or(10);
    Term::find_by_statement(statement(
        db,
        "SELECT term, documents FROM search_terms \
         WHERE user_id = $1 AND term >= $2 AND term < $3 \
         ORDER BY documents DESC, term ASC LIMIT $4",
        vec![
            user.into(),
            prefix.to_owned().into(),
            upper.into(),
            limit.into(),
        ],
    ))
    .all(db)
    .await
}

/// The account's live documents (processed or not, not in the trash): one count over
/// the partial list index.
async fn live_documents(db: &impl ConnectionTrait, user: UserId) -> Result<i64, DbErr> {
    Ok(db
        .query_one_raw(statement(
            db,
            "SELECT COUNT(*) AS n FROM documents d \
             WHERE d.user_id = $1 AND d.status <> 'pending' AND d.trashed_at IS NULL",
            vec![user.into()],
        ))
        .await?
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0))
}

#[derive(Debug, FromQueryResult)]
struct VocabularyState {
    documents: i64,
    rebuilt_at: Option<DateTime<Utc>>,
}

/// When each account was last checked by this process.
fn last_checks() -> &'static Mutex<HashMap<UserId, Instant>> {
    static CHECKS: OnceLock<Mutex<HashMap<UserId, Instant>>> = OnceLock::new();
    CHECKS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Whether this process should check the account now (at most every [`CHECK_EVERY`]).
fn due_for_check(user: UserId) -> bool {
    let Ok(mut checks) = last_checks().lock() else {
        return true;
    };
    let now = Instant::now();
    if checks.len() > 100_000 {
        checks.retain(|_, at| now.duration_since(*at) < CHECK_EVERY);
    }
    match checks.get(&user) {
        Some(at) if now.duration_since(*at) < CHECK_EVERY => false,
        _ => {
            checks.insert(user, now);
            true
        }
    }
}

/// Checks (at most every [`CHECK_EVERY`] per account and process) whether the
/// account's vocabulary is missing or has lost documents since it was last looked at,
/// and if so starts a rebuild in the background (one instance at a time). Errors are
/// logged: suggestions go on from the vocabulary as it is.
pub async fn refresh_if_stale(db: &DatabaseConnection, user: UserId) {
    if !due_for_check(user) {
        return;
    }
    if let Err(e) = check(db, user).await {
        tracing::warn!(error = %e, user = %user, "search vocabulary check failed");
    }
}

async fn check(db: &DatabaseConnection, user: UserId) -> Result<(), DbErr> {
    let live = live_documents(db, user).await?;
    let state = VocabularyState::find_by_statement(statement(
        db,
        "SELECT documents, rebuilt_at FROM search_vocabularies WHERE user_id = $1",
        vec![user.into()],
    ))
    .one(db)
    .await?;
    let stale = match &state {
        None => live > 0,
        Some(s) if s.rebuilt_at.is_none() => live > 0,
        Some(s) => live < s.documents,
    };
    if !stale {
        if state.as_ref().is_some_and(|s| s.documents != live) {
            // Documents were added (their words with them): only remember how many.
            db.execute_raw(statement(
                db,
                "UPDATE search_vocabularies SET documents = $1 WHERE user_id = $2",
                vec![live.into(), user.into()],
            ))
            .await?;
        }
        return Ok(());
    }
    if !claim(db, user).await? {
        return Ok(());
    }
    let db = db.clone();
    tokio::spawn(async move {
        if let Err(e) = rebuild(&db, user).await {
            tracing::warn!(error = %e, user = %user, "search vocabulary rebuild failed");
            let _ = db
                .execute_raw(statement(
                    &db,
                    "UPDATE search_vocabularies SET claimed_until = NULL WHERE user_id = $1",
                    vec![user.into()],
                ))
                .await;
        }
    });
    Ok(())
}

/// Takes the rebuild lease of the account's vocabulary; false when another holds it.
async fn claim(db: &DatabaseConnection, user: UserId) -> Result<bool, DbErr> {
    let now = crate::time::now();
    db.execute_raw(statement(
        db,
        "INSERT INTO search_vocabularies (user_id, documents, rebuilt_at, claimed_until) \
         VALUES ($1, 0, NULL, NULL) ON CONFLICT (user_id) DO NOTHING",
        vec![user.into()],
    ))
    .await?;
    let until = now + chrono::Duration::seconds(REBUILD_LEASE_SECS);
    let claimed = db
        .execute_raw(statement(
            db,
            "UPDATE search_vocabularies SET claimed_until = $1 \
             WHERE user_id = $2 AND (claimed_until IS NULL OR claimed_until < $3)",
            vec![until.into(), user.into(), now.into()],
        ))
        .await?;
    Ok(claimed.rows_affected() == 1)
}

#[derive(Debug, FromQueryResult)]
struct TextHead {
    filename: String,
    body: Option<String>,
}

/// Counts the words of the account's [`REBUILD_DOCUMENTS`] most recent live documents
/// and replaces its vocabulary with them (the [`MAX_TERMS_PER_ACCOUNT`] most frequent),
/// recording how many live documents it now stands for.
#[tracing::instrument(skip_all)]
pub async fn rebuild(db: &DatabaseConnection, user: UserId) -> Result<(), DbErr> {
    let live = live_documents(db, user).await?;
    let mut counts: HashMap<String, i64> = HashMap::new();
    let mut offset = 0;
    while offset < REBUILD_DOCUMENTS {
        let page = TextHead::find_by_statement(statement(
            db,
            &format!(
                "SELECT d.filename, substr(t.body, 1, {VOCABULARY_CHARS}) AS body \
                 FROM documents d LEFT JOIN document_texts t ON t.document_id = d.id \
                 WHERE d.user_id = $1 AND d.status <> 'pending' AND d.trashed_at IS NULL \
                 ORDER BY d.created_at DESC, d.id DESC LIMIT $2 OFFSET $3"
            ),
            vec![user.into(), REBUILD_PAGE.into(), offset.into()],
        ))
        .all(db)
        .await?;
        let read = i64::try_from(page.len()).unwrap_or(0);
        counts = tokio::task::spawn_blocking(move || {
            for doc in page {
                for term in terms_of(&doc.filename, doc.body.as_deref().unwrap_or("")) {
                    *counts.entry(term).or_insert(0) += 1;
                }
            }
            counts
        })
        .await
        .map_err(|e| DbErr::Custom(format!("vocabulary task: {e}")))?;
        if read < REBUILD_PAGE {
            break;
        }
        offset += read;
    }
    let mut ranked: Vec<(String, i64)> = counts.into_iter().collect();
    ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked.truncate(usize::try_from(MAX_TERMS_PER_ACCOUNT).unwrap_or(usize::MAX));
    let txn = crate::db::begin_write(db).await?;
    txn.execute_raw(statement(
        &txn,
        "DELETE FROM search_terms WHERE user_id = $1",
        vec![user.into()],
    ))
    .await?;
    add_counts(&txn, user, &ranked).await?;
    txn.execute_raw(statement(
        &txn,
        "UPDATE search_vocabularies SET documents = $1, rebuilt_at = $2, claimed_until = NULL \
         WHERE user_id = $3",
        vec![live.into(), crate::time::now().into(), user.into()],
    ))
    .await?;
    txn.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_lowercased_words_with_a_letter() {
        let t = terms_of(
            "Rechnung_2024-03.pdf",
            "Invoice INVOICES a an 12345 x86 Müller straße",
        );
        let got: Vec<&str> = t.iter().map(String::as_str).collect();
        assert_eq!(
            got,
            [
                "invoice", "invoices", "müller", "pdf", "rechnung", "straße", "x86"
            ]
        );
        let long = "a".repeat(MAX_TERM_CHARS + 1);
        assert!(terms_of("", &long).is_empty());
        let text = format!("{} tailword", "word ".repeat(VOCABULARY_CHARS));
        assert!(!terms_of("", &text).contains("tailword"));
    }
}
