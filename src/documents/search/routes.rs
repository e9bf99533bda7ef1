//! `GET /api/documents/suggest` (completions of the word being typed, from the caller's
//! own vocabulary) and `GET /api/documents/{id}/similar` (documents like one the caller
//! can read, among the caller's own and those shared with the caller).

use actix_web::{get, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::extract::RegularUser;
use crate::documents::thumbnails::ThumbnailLinks;
use crate::documents::view::DocumentView;
use crate::domain::DocumentId;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::state::AppState;

use super::vocabulary;

/// Longest `q` a suggestion request takes, in characters.
pub const MAX_SUGGEST_QUERY_CHARS: usize = 200;
/// Fewest letters of the last word before suggestions are looked up.
pub const MIN_SUGGEST_PREFIX_CHARS: usize = 2;
/// Suggestions returned unless `limit` says otherwise.
const DEFAULT_SUGGESTIONS: u64 = 8;
/// Most suggestions one request may ask for.
const MAX_SUGGESTIONS: u64 = 20;
/// Similar documents returned unless `limit` says otherwise.
const DEFAULT_SIMILAR: u64 = 5;
/// Most similar documents one request may ask for.
const MAX_SIMILAR: u64 = 20;

fn invalid(message: String) -> ApiError {
    ApiError::BadRequest {
        code: ErrorCode::InvalidQuery,
        message,
    }
}

/// `GET /api/documents/suggest` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SuggestQuery {
    /// What is typed in the search box so far; the word at its end (letters and digits
    /// up to the end) is completed. At most 200 characters.
    #[param(example = "tax invo")]
    pub q: String,
    /// Most suggestions (1–20, default 8).
    #[param(minimum = 1, maximum = 20)]
    pub limit: Option<u64>,
}

/// One completion of the word being typed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Suggestion {
    /// The completed word, lower-cased.
    #[schema(example = "invoice")]
    pub word: String,
    /// `q` with its last word replaced by `word`: the search to run when chosen.
    #[schema(example = "tax invoice")]
    pub query: String,
    /// In how many of your documents the word occurs (as last counted).
    pub documents: i64,
}

/// Completions of the word being typed.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuggestionList {
    /// The word being completed, lower-cased (empty when `q` does not end in one, or
    /// it has fewer than 2 letters: then there are no suggestions).
    pub prefix: String,
    /// The completions, the words in most of your documents first.
    pub suggestions: Vec<Suggestion>,
}

/// Where the last word of `q` starts (a byte offset), when `q` ends in a letter or
/// digit.
fn last_word_start(q: &str) -> Option<usize> {
    let mut start = None;
    for (i, c) in q.char_indices().rev() {
        if c.is_alphanumeric() {
            start = Some(i);
        } else {
            break;
        }
    }
    start
}

/// Completes the last word of a search being typed from the words of your own
/// documents (never from documents shared with you, nor anyone else's).
///
/// The vocabulary holds the words of each document's name and the first 20 000
/// characters of its text, at most 50 000 words per account; words of documents deleted
/// or moved to the trash leave it within seconds (a background rebuild).
#[utoipa::path(
    operation_id = "suggestSearch",
    tag = "documents",
    security(("bearer" = [])),
    params(SuggestQuery),
    responses(
        (status = 200, description = "Completions of the last word of `q`", body = SuggestionList),
        (status = 400, description = "`q` longer than 200 characters or a bad `limit`", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrators have no documents", body = ErrorBody),
    )
)]
#[get("/suggest")]
pub async fn suggest(
    user: RegularUser,
    state: web::Data<AppState>,
    query: web::Query<SuggestQuery>,
) -> Result<web::Json<SuggestionList>, ApiError> {
    let SuggestQuery { q, limit } = query.into_inner();
    if q.chars().count() > MAX_SUGGEST_QUERY_CHARS {
        return Err(invalid(format!(
            "q must be at most {MAX_SUGGEST_QUERY_CHARS} characters"
        )));
    }
    let limit = limit.unwrap_or(DEFAULT_SUGGESTIONS);
    if !(1..=MAX_SUGGESTIONS).contains(&limit) {
        return Err(invalid(format!(
            "limit must be between 1 and {MAX_SUGGESTIONS}"
        )));
    }
    let Some(start) = last_word_start(&q) else {
        return Ok(web::Json(SuggestionList {
            prefix: String::new(),
            suggestions: Vec::new(),
        }));
    };
    let prefix = q[start..].to_lowercase();
    if prefix.chars().count() < MIN_SUGGEST_PREFIX_CHARS {
        return Ok(web::Json(SuggestionList {
            prefix: String::new(),
            suggestions: Vec::new(),
        }));
    }
    vocabulary::refresh_if_stale(&state.db, user.id()).await;
    let terms = vocabulary::complete(&state.db, user.id(), &prefix, limit).await?;
    let head = &q[..start];
    let suggestions = terms
        .into_iter()
        .map(|t| Suggestion {
            query: format!("{head}{}", t.term),
            word: t.term,
            documents: i64::from(t.documents),
        })
        .collect();
    Ok(web::Json(SuggestionList {
        prefix,
        suggestions,
    }))
}

/// `GET /api/documents/{id}/similar` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SimilarQuery {
    /// Most documents (1–20, default 5).
    #[param(minimum = 1, maximum = 20)]
    pub limit: Option<u64>,
}

/// Documents like one you can read.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimilarDocuments {
    /// The most similar first (each with a snippet of what matched).
    pub items: Vec<DocumentView>,
    /// The document's distinctive words they were found by (empty when it has none:
    /// no text yet, or no word it shares with the rest of your documents).
    pub terms: Vec<String>,
}

/// Documents similar to this one (yours, or shared with you), from your own documents
/// and those shared with you only: the document's most distinctive words (frequent in
/// it, rare in your vault) run as one ranked `or` search.
#[utoipa::path(
    operation_id = "similarDocuments",
    tag = "documents",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Document id"), SimilarQuery),
    responses(
        (status = 200, description = "Similar documents, the most similar first", body = SimilarDocuments),
        (status = 400, description = "A bad `limit`", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrators have no documents", body = ErrorBody),
        (status = 404, description = "No such document", body = ErrorBody),
    )
)]
#[get("/{id}/similar")]
pub async fn similar(
    user: RegularUser,
    state: web::Data<AppState>,
    links: ThumbnailLinks,
    id: web::Path<DocumentId>,
    query: web::Query<SimilarQuery>,
) -> Result<web::Json<SimilarDocuments>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_SIMILAR);
    if !(1..=MAX_SIMILAR).contains(&limit) {
        return Err(invalid(format!(
            "limit must be between 1 and {MAX_SIMILAR}"
        )));
    }
    let doc = crate::documents::access::readable(&state.db, user.id(), id.into_inner()).await?;
    let (mut items, terms) = super::similar::similar(
        &state.db,
        user.id(),
        user.0.user.search_language,
        &doc,
        limit,
        state.settings.documents.search_max_hits,
    )
    .await?;
    super::Listed::name_owner(&mut items, user.id(), &user.0.user.handle);
    let mut items = DocumentView::many(&state.db, &links, items).await?;
    DocumentView::keep_owner_facts(
        user.id(),
        state.settings.documents.trash_retention_days,
        &mut items,
    );
    Ok(web::Json(SimilarDocuments { items, terms }))
}

#[cfg(test)]
mod tests {
    use super::last_word_start;

    #[test]
    fn the_last_word_is_the_run_of_letters_at_the_end() {
        assert_eq!(last_word_start("tax invo"), Some(4));
        assert_eq!(last_word_start("invo"), Some(0));
        assert_eq!(last_word_start("tax "), None);
        assert_eq!(last_word_start(""), None);
        assert_eq!(last_word_start("-mül"), Some(1));
        assert_eq!(last_word_start("\"tax retu"), Some(5));
    }
}
