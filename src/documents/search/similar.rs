//! Documents similar to one the caller can read (`GET /api/documents/{id}/similar`):
//! the document's most distinctive words, run as one `or` query through the ranked
//! search over the caller's own documents and those shared with the caller, so the
//! same owner conditions decide what may appear ([`super::sql::push_filters`]): never
//! another account's documents that were not shared with the caller.
//!
//! Distinctive: frequent in the document (its first [`vocabulary::VOCABULARY_CHARS`]
//! characters and its name), rare in the caller's vault by the caller's own vocabulary
//! (tf × idf over `search_terms`). A word of the caller's vocabulary found in at most one
//! document finds nothing but the document itself and is skipped for the caller's own
//! documents; a word in more than half of a vault of 20 or more documents says nothing
//! about it (the stop words of any language) and is skipped too.

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, FromQueryResult, Statement, Value};

use super::vocabulary::{MAX_TERM_CHARS, MIN_TERM_CHARS, VOCABULARY_CHARS};
use super::{CountMode, ListFilter, Listed, PageRequest, SearchQuery};
use crate::domain::UserId;
use crate::entities::{SearchLanguage, documents};
use crate::error::ApiError;

/// Words of a document that make up its similarity query.
pub const SIMILAR_TERMS: usize = 12;
/// Most frequent words of a document looked up in the vocabulary.
const CANDIDATE_TERMS: usize = 200;

/// How often each word occurs in the document's name and the head of its text.
fn term_frequencies(filename: &str, text: &str) -> HashMap<String, u32> {
    let mut tf: HashMap<String, u32> = HashMap::new();
    let head = text.chars().take(VOCABULARY_CHARS).collect::<String>();
    for (source, weight) in [(filename, 3), (head.as_str(), 1)] {
        for word in source.split(|c: char| !c.is_alphanumeric()) {
            let n = word.chars().count();
            if (MIN_TERM_CHARS.max(4)..=MAX_TERM_CHARS).contains(&n)
                && word.chars().any(char::is_alphabetic)
            {
                *tf.entry(word.to_lowercase()).or_insert(0) += weight;
            }
        }
    }
    tf
}

#[derive(Debug, FromQueryResult)]
struct Df {
    term: String,
    documents: i32,
}

/// The document frequencies of `terms` in the caller's vocabulary.
async fn frequencies(
    db: &impl ConnectionTrait,
    user: UserId,
    terms: &[String],
) -> Result<HashMap<String, i64>, DbErr> {
    if terms.is_empty() {
        return Ok(HashMap::new());
    }
    let backend = db.get_database_backend();
    let placeholder = |n: usize| match backend {
        sea_orm::DatabaseBackend::Postgres => format!("${n}"),
        _ => format!("?{n}"),
    };
    let mut values: Vec<Value> = vec![user.into()];
    let mut list = Vec::with_capacity(terms.len());
    for t in terms {
        values.push(t.clone().into());
        list.push(placeholder(values.len()));
    }
    let sql = format!(
        "SELECT term, documents FROM search_terms WHERE user_id = {} AND term IN ({})",
        placeholder(1),
        list.join(", ")
    );
    let rows = Df::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.term, i64::from(r.documents)))
        .collect())
}

/// The caller's live documents (the `N` of idf).
async fn vault_size(db: &impl ConnectionTrait, user: UserId) -> Result<i64, DbErr> {
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DatabaseBackend::Postgres => {
            "SELECT COUNT(*) AS n FROM documents d \
             WHERE d.user_id = $1 AND d.status <> 'pending' AND d.trashed_at IS NULL"
        }
        _ => {
            "SELECT COUNT(*) AS n FROM documents d \
             WHERE d.user_id = ?1 AND d.status <> 'pending' AND d.trashed_at IS NULL"
        }
    };
    Ok(db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql,
            vec![user.into()],
        ))
        .await?
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0))
}

/// Chooses the document's most distinctive words for `user` (see the module
/// documentation); `own`: whether the document is the caller's (then it is one of the
/// documents each word's count includes).
fn distinctive(
    tf: &HashMap<String, u32>,
    df: &HashMap<String, i64>,
    vault: i64,
    own: bool,
) -> Vec<String> {
    let min_df = if own { 2 } else { 1 };
    let max_df = if vault >= 20 { vault / 2 } else { vault.max(1) };
    let n = (vault.max(1) + 1) as f64;
    let mut scored: Vec<(f64, &String)> = tf
        .iter()
        .filter_map(|(term, &f)| {
            let d = *df.get(term)?;
            (min_df..=max_df)
                .contains(&d)
                .then(|| (f64::from(f) * (n / d as f64).ln(), term))
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored
        .into_iter()
        .take(SIMILAR_TERMS)
        .map(|(_, t)| t.clone())
        .collect()
}

/// Up to `limit` documents like `doc` (which the caller may read), best first, and the
/// words they were found by (stemmed in the reader's `language`, as their searches are);
/// the document itself is never among them.
#[tracing::instrument(skip_all)]
pub async fn similar(
    db: &DatabaseConnection,
    user: UserId,
    language: SearchLanguage,
    doc: &documents::Model,
    limit: u64,
    max_hits: u64,
) -> Result<(Vec<Listed>, Vec<String>), ApiError> {
    let head = crate::documents::texts::prefixes(db, vec![doc.id], VOCABULARY_CHARS)
        .await?
        .remove(&doc.id)
        .unwrap_or_default();
    let filename = doc.filename.clone();
    let tf = tokio::task::spawn_blocking(move || term_frequencies(&filename, &head))
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("similar task: {e}")))?;
    let mut frequent: Vec<(&String, &u32)> = tf.iter().collect();
    frequent.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let lookup: Vec<String> = frequent
        .iter()
        .take(CANDIDATE_TERMS)
        .map(|(t, _)| (*t).clone())
        .collect();
    let df = frequencies(db, user, &lookup).await?;
    let vault = vault_size(db, user).await?;
    let own = UserId::from(doc.user_id) == user;
    let terms = distinctive(&tf, &df, vault, own);
    if terms.is_empty() {
        return Ok((Vec::new(), terms));
    }
    let q = SearchQuery::parse(&terms.join(" or "))?;
    let filter = ListFilter {
        q: Some(q),
        include_shared: true,
        ..ListFilter::default()
    };
    let page = PageRequest {
        page: 1,
        per_page: limit + 1,
        sort: None,
        max_hits,
        count: CountMode::Bounded,
    };
    let (items, _) = super::list(db, user, language, &filter, page).await?;
    let items = items
        .into_iter()
        .filter(|l| l.doc.id != doc.id)
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .collect();
    Ok((items, terms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinctive_words_are_frequent_here_and_rare_elsewhere() {
        let tf = term_frequencies(
            "Rechnung.pdf",
            "the invoice the invoice the invoice the garden zebra zebra",
        );
        let df: HashMap<String, i64> = [
            ("the", 40),
            ("invoice", 5),
            ("garden", 12),
            ("zebra", 1),
            ("rechnung", 3),
        ]
        .into_iter()
        .map(|(t, n)| (t.to_owned(), n))
        .collect();
        let own = distinctive(&tf, &df, 50, true);
        assert_eq!(own, ["rechnung", "invoice", "garden"], "{own:?}");
        // A shared document: a word in one of the caller's documents is a lead.
        let shared = distinctive(&tf, &df, 50, false);
        assert!(shared.contains(&"zebra".to_owned()), "{shared:?}");
        assert!(!shared.contains(&"the".to_owned()));
    }
}
