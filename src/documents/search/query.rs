//! The search query language: the user's query validated and turned into safe backend
//! syntax (the text PostgreSQL's `websearch_to_tsquery` reads, or with prefixes the
//! parts of a composed `tsquery`; an FTS5 expression of quoted strings for SQLite; and
//! the words to highlight in file names).
//!
//! A bare word ending in `*` (`invoi*`) is a prefix: it matches every word starting
//! with it. It needs at least [`MIN_PREFIX_CHARS`] letters or digits, and a query holds
//! at most [`MAX_PREFIXES`] of them: a short prefix stands for thousands of words, each
//! one more posting list to merge, so `a*` is refused (400) rather than made slow. A
//! `*` after punctuation (`foo:bar*`), inside quotes, or alone stays literal text.

use super::snippet::{HIGHLIGHT_END, HIGHLIGHT_START};
use super::stemming::WordStemmer;
use crate::entities::SearchLanguage;
use crate::error::ApiError;

/// Longest accepted query, in characters.
pub const MAX_QUERY_CHARS: usize = 500;

/// Most words a query may hold (looked for or excluded, phrases' words included; `or`
/// is not a word): each word is one more index lookup on either backend, so the cap
/// keeps a query of many common words (`the the the …`) within the latency of a short one.
pub const MAX_QUERY_WORDS: usize = 32;

/// Fewest letters or digits before the `*` of a prefix (`inv*`).
pub const MIN_PREFIX_CHARS: usize = 3;

/// Most prefixes (`word*`) in one query.
pub const MAX_PREFIXES: usize = 4;

/// A validated search query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// The query as given, trimmed, control characters replaced by spaces (what
    /// PostgreSQL's `websearch_to_tsquery` receives).
    pub text: String,
    /// The same query as an FTS5 expression of quoted strings only; `None` when it holds
    /// no word that could match anything (e.g. only punctuation or emoji).
    pub fts5: Option<String>,
    /// The words looked for (not excluded), lower-cased, to highlight file names; a
    /// prefix keeps its `*` (`invoi*`: any word starting with `invoi`).
    pub words: Vec<String>,
    /// The query's units, for backends that compose their query from them.
    tokens: Vec<Token>,
    /// Whether some word also matches its stem ([`Self::with_language`]): then `fts5`
    /// carries its own column filters.
    stemmed: bool,
}

/// One piece of a PostgreSQL `tsquery` composed from a query with prefixes: the text
/// to bind and how it becomes a `tsquery`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgPiece {
    /// `websearch_to_tsquery('simple', text)`: a word or phrase as written.
    Websearch(String),
    /// `to_tsquery('simple', text)`: a prefix, `'word':*` (letters and digits only, so
    /// the quoted lexeme cannot carry syntax).
    Prefix(String),
    /// `to_tsquery('simple', text)`: a word's tagged stem among the stems only,
    /// `'eninvoic':C` (letters only).
    Stem(String),
}

/// A PostgreSQL query composed of pieces: groups joined by `&&`, the pieces of a
/// group by `||`, then each excluded piece as `&& !!piece`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgComposed {
    /// Groups of alternatives, all required.
    pub groups: Vec<Vec<PgPiece>>,
    /// Excluded pieces.
    pub excluded: Vec<PgPiece>,
}

/// One unit of the query language.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// A word or quoted phrase; `negated` when written with a leading `-`, `quoted` when
    /// written in quotes, `prefix` for a bare word written with a trailing `*` (its
    /// `text` then without the `*`).
    Phrase {
        text: String,
        negated: bool,
        quoted: bool,
        prefix: bool,
        /// The tagged stem of a bare single word, for an account that searches with
        /// stemming ([`SearchQuery::with_language`]).
        stem: Option<String>,
    },
    /// `or` between two phrases.
    Or,
}

fn has_word(s: &str) -> bool {
    s.chars().any(char::is_alphanumeric)
}

/// The words of a phrase: its runs of letters and digits (how both backends' tokenizers
/// split text, give or take).
fn words_of(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// Characters that are invisible and never part of a word a user means: zero-width
/// space, word joiner, byte-order mark, soft hyphen and the bidirectional controls.
/// A query loses them (`in\u{200B}voice` looks for `invoice`).
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{200B}' | '\u{2060}' | '\u{FEFF}' | '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
    )
}

fn invalid(message: String) -> ApiError {
    ApiError::BadRequest {
        code: crate::error::ErrorCode::InvalidQuery,
        message,
    }
}

fn tokenize(q: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = q.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut negated = false;
        if c == '-' {
            chars.next();
            match chars.peek() {
                Some(n) if !n.is_whitespace() => negated = true,
                _ => continue,
            }
        }
        let mut text = String::new();
        let quoted = chars.peek() == Some(&'"');
        if quoted {
            chars.next();
            for c in chars.by_ref() {
                if c == '"' {
                    break;
                }
                text.push(c);
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '"' {
                    break;
                }
                text.push(c);
                chars.next();
            }
        }
        if !negated && !quoted && text.eq_ignore_ascii_case("or") {
            tokens.push(Token::Or);
        } else if has_word(&text) {
            let stem = text.trim_end_matches('*');
            let stem_len = stem.len();
            let prefix =
                !quoted && stem_len < text.len() && stem.chars().all(char::is_alphanumeric);
            if prefix {
                text.truncate(stem_len);
            }
            tokens.push(Token::Phrase {
                text,
                negated,
                quoted,
                prefix,
                stem: None,
            });
        }
    }
    tokens
}

/// Drops a prefix written again (`budg* budg*`, the same text and sign, neither
/// neighbour an `or`): requiring it twice means requiring it once, and each copy would
/// be one more expansion of the prefix over the index. What [`MAX_PREFIXES`] counts is
/// then the distinct prefixes.
fn without_repeated_prefixes(tokens: Vec<Token>) -> Vec<Token> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(tokens.len());
    for (i, t) in tokens.iter().enumerate() {
        if let Token::Phrase {
            text,
            negated,
            prefix: true,
            ..
        } = t
        {
            let by_or = matches!(tokens.get(i + 1), Some(Token::Or))
                || (i > 0 && matches!(tokens.get(i - 1), Some(Token::Or)));
            if !by_or && !seen.insert((text.to_lowercase(), *negated)) {
                continue;
            }
        }
        out.push(t.clone());
    }
    out
}

/// `"text"` with embedded quotes doubled: FTS5's literal string syntax; a prefix adds
/// FTS5's ` *`.
fn fts5_string(text: &str, prefix: bool) -> String {
    let quoted = format!("\"{}\"", text.replace('"', "\"\""));
    if prefix {
        format!("{quoted} *")
    } else {
        quoted
    }
}

/// A phrase as pieces of a composed PostgreSQL query: itself, and its stem if it has one.
fn pg_pieces(text: &str, quoted: bool, prefix: bool, stem: Option<&str>) -> Vec<PgPiece> {
    let piece = if prefix {
        PgPiece::Prefix(format!("'{}':*", text.to_lowercase()))
    } else if quoted {
        PgPiece::Websearch(format!("\"{text}\""))
    } else {
        PgPiece::Websearch(text.to_owned())
    };
    let mut pieces = vec![piece];
    if let Some(stem) = stem {
        pieces.push(PgPiece::Stem(format!("'{stem}':C")));
    }
    pieces
}

/// Groups the tokens the way both backends read them: positive phrases joined by AND
/// (OR where the user wrote `or` between two of them), and the excluded phrases. `each`
/// renders a phrase (text, quoted, prefix, stem) as one or more alternatives.
fn grouped<T>(
    tokens: &[Token],
    mut each: impl FnMut(&str, bool, bool, Option<&str>) -> Vec<T>,
) -> (Vec<Vec<T>>, Vec<T>) {
    let mut groups: Vec<Vec<T>> = Vec::new();
    let mut negatives = Vec::new();
    let mut pending_or = false;
    for t in tokens {
        match t {
            Token::Or => pending_or = !groups.is_empty(),
            Token::Phrase {
                text,
                negated: true,
                quoted,
                prefix,
                stem,
            } => negatives.extend(each(text, *quoted, *prefix, stem.as_deref())),
            Token::Phrase {
                text,
                negated: false,
                quoted,
                prefix,
                stem,
            } => {
                let s = each(text, *quoted, *prefix, stem.as_deref());
                match groups.last_mut() {
                    Some(g) if pending_or => g.extend(s),
                    _ => groups.push(s),
                }
                pending_or = false;
            }
        }
    }
    (groups, negatives)
}

/// Builds the FTS5 expression: positive phrases joined by AND (OR where the user wrote
/// `or` between two of them), then `NOT` each excluded phrase. `None` when no positive
/// phrase remains.
fn fts5_expression(tokens: &[Token]) -> Option<String> {
    fts5_expression_of(tokens, |text, prefix, _| fts5_string(text, prefix))
}

/// The FTS5 expression of a stemmed query: each phrase restricted to the file name and
/// text, a stemmed word also matching its stem among the stems only.
fn fts5_stemmed_expression(tokens: &[Token]) -> Option<String> {
    fts5_expression_of(tokens, |text, prefix, stem| {
        let exact = format!("{{filename body}} : {}", fts5_string(text, prefix));
        match stem {
            Some(stem) => format!("({exact} OR stems : {})", fts5_string(stem, false)),
            None => exact,
        }
    })
}

fn fts5_expression_of(
    tokens: &[Token],
    phrase: impl Fn(&str, bool, Option<&str>) -> String,
) -> Option<String> {
    let (groups, negatives) = grouped(tokens, |text, _, prefix, stem| {
        vec![phrase(text, prefix, stem)]
    });
    if groups.is_empty() {
        return None;
    }
    let positive = groups
        .iter()
        .map(|g| format!("({})", g.join(" OR ")))
        .collect::<Vec<_>>()
        .join(" AND ");
    let mut expr = format!("({positive})");
    for n in negatives {
        expr.push_str(" NOT ");
        expr.push_str(&n);
    }
    Some(expr)
}

impl SearchQuery {
    /// Validates `raw`: at most [`MAX_QUERY_CHARS`] characters and [`MAX_QUERY_WORDS`]
    /// words, not blank (nor only control characters), and at least one word that is not
    /// excluded with `-`. Control characters count as spaces, invisible ones
    /// ([`is_invisible`]) as nothing. Anything else about the text is taken literally.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        // Checked before any other work: the rest is linear in what passed.
        if raw.chars().count() > MAX_QUERY_CHARS {
            return Err(invalid(format!(
                "q must be at most {MAX_QUERY_CHARS} characters"
            )));
        }
        let cleaned: String = raw
            .chars()
            .filter(|&c| !is_invisible(c))
            .map(|c| {
                if c.is_control() || c == HIGHLIGHT_START || c == HIGHLIGHT_END {
                    ' '
                } else {
                    c
                }
            })
            .collect();
        let text = cleaned.trim().to_owned();
        if text.is_empty() {
            return Err(invalid("q must not be empty".into()));
        }
        let tokens = without_repeated_prefixes(tokenize(&text));
        let word_count: usize = tokens
            .iter()
            .map(|t| match t {
                Token::Phrase { text, .. } => words_of(text).count(),
                Token::Or => 0,
            })
            .sum();
        if word_count > MAX_QUERY_WORDS {
            return Err(invalid(format!(
                "q must contain at most {MAX_QUERY_WORDS} words (it has {word_count})"
            )));
        }
        let only_negative = !tokens.is_empty()
            && tokens.iter().all(|t| match t {
                Token::Phrase { negated, .. } => *negated,
                Token::Or => true,
            })
            && tokens
                .iter()
                .any(|t| matches!(t, Token::Phrase { negated: true, .. }));
        if only_negative {
            return Err(invalid(
                "q must contain at least one word to look for, not only excluded (-) words".into(),
            ));
        }
        let prefixes: Vec<&str> = tokens
            .iter()
            .filter_map(|t| match t {
                Token::Phrase {
                    text, prefix: true, ..
                } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        if let Some(short) = prefixes
            .iter()
            .find(|p| p.chars().count() < MIN_PREFIX_CHARS)
        {
            return Err(invalid(format!(
                "a prefix search needs at least {MIN_PREFIX_CHARS} letters or digits before \
                 the * (\"{short}*\" has fewer)"
            )));
        }
        if prefixes.len() > MAX_PREFIXES {
            return Err(invalid(format!(
                "q may contain at most {MAX_PREFIXES} prefixes (word*), it has {}",
                prefixes.len()
            )));
        }
        let words = tokens
            .iter()
            .filter_map(|t| match t {
                Token::Phrase {
                    text,
                    negated: false,
                    prefix,
                    ..
                } => Some((text, *prefix)),
                _ => None,
            })
            .flat_map(|(t, prefix)| {
                words_of(t).map(move |w| {
                    let w = w.to_lowercase();
                    if prefix { format!("{w}*") } else { w }
                })
            })
            .collect();
        Ok(Self {
            fts5: fts5_expression(&tokens),
            text,
            words,
            tokens,
            stemmed: false,
        })
    }

    /// The query as searched by an account with `language`: each bare single word looked
    /// for (not quoted, not a prefix, not a stop word) also matches its stem. An excluded
    /// word (`-invoices`) excludes that word as written only: stems widen what is looked
    /// for, never what is excluded. `simple`, or a query
    /// without such a word, stays the query as parsed (the same statements as without
    /// stemming).
    pub fn with_language(&self, language: SearchLanguage) -> Self {
        let Some(stemmer) = WordStemmer::new(language) else {
            return self.clone();
        };
        let mut tokens = self.tokens.clone();
        let mut stemmed = false;
        for t in &mut tokens {
            if let Token::Phrase {
                text,
                negated: false,
                quoted: false,
                prefix: false,
                stem,
            } = t
            {
                let mut words = words_of(text);
                if let (Some(word), None) = (words.next(), words.next()) {
                    *stem = stemmer
                        .stem(word)
                        .filter(|s| s.chars().all(char::is_alphanumeric));
                    stemmed |= stem.is_some();
                }
            }
        }
        if !stemmed {
            return self.clone();
        }
        Self {
            fts5: fts5_stemmed_expression(&tokens),
            text: self.text.clone(),
            words: self.words.clone(),
            tokens,
            stemmed: true,
        }
    }

    /// Whether some word also matches its stem ([`Self::with_language`]).
    pub fn is_stemmed(&self) -> bool {
        self.stemmed
    }

    /// Whether the query holds a prefix (`word*`).
    pub fn has_prefix(&self) -> bool {
        self.tokens
            .iter()
            .any(|t| matches!(t, Token::Phrase { prefix: true, .. }))
    }

    /// The query as pieces of a composed PostgreSQL `tsquery` (which
    /// `websearch_to_tsquery` cannot write for a prefix); `None` without a positive
    /// phrase.
    pub fn pg_composed(&self) -> Option<PgComposed> {
        let (groups, excluded) = grouped(&self.tokens, pg_pieces);
        (!groups.is_empty()).then_some(PgComposed { groups, excluded })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn fts(q: &str) -> Option<String> {
        SearchQuery::parse(q).unwrap().fts5
    }

    #[test]
    fn words_phrases_or_and_not() {
        assert_eq!(fts("tax invoice").unwrap(), r#"(("tax") AND ("invoice"))"#);
        assert_eq!(
            fts(r#""tax return" 2025"#).unwrap(),
            r#"(("tax return") AND ("2025"))"#
        );
        assert_eq!(fts("a or b c").unwrap(), r#"(("a" OR "b") AND ("c"))"#);
        assert_eq!(fts("a -b").unwrap(), r#"(("a")) NOT "b""#);
        assert_eq!(fts("or a").unwrap(), r#"(("a"))"#);
    }

    #[test]
    fn operators_and_specials_are_literal() {
        assert_eq!(
            fts("AND OR NOT").unwrap(),
            r#"(("AND" OR "NOT"))"#,
            "FTS5 keywords end up quoted"
        );
        assert_eq!(fts("foo:bar*").unwrap(), r#"(("foo:bar*"))"#);
        assert_eq!(fts(r#"say "hi"#).unwrap(), r#"(("say") AND ("hi"))"#);
        assert_eq!(fts(r#"a""b"#).unwrap(), r#"(("a") AND ("b"))"#);
        assert_eq!(fts("(x) NEAR(y)").unwrap(), r#"(("(x)") AND ("NEAR(y)"))"#);
        assert_eq!(fts("*** ::: 😀"), None);
        assert_eq!(fts("café 😀").unwrap(), r#"(("café"))"#);
    }

    #[test]
    fn prefixes_are_bare_words_ending_in_a_star() {
        assert_eq!(fts("invoi*").unwrap(), r#"(("invoi" *))"#);
        assert_eq!(
            fts("tax invoi** -draf*").unwrap(),
            r#"(("tax") AND ("invoi" *)) NOT "draf" *"#
        );
        assert_eq!(
            fts("garden or invoi*").unwrap(),
            r#"(("garden" OR "invoi" *))"#
        );
        // Quoted, after punctuation or alone: literal, as before.
        assert_eq!(fts("\"invoi*\"").unwrap(), r#"(("invoi*"))"#);
        assert_eq!(fts("foo:bar*").unwrap(), r#"(("foo:bar*"))"#);
        assert_eq!(fts("* **"), None);

        let q = SearchQuery::parse("Invoi* tax").unwrap();
        assert!(q.has_prefix());
        assert_eq!(q.words, ["invoi*", "tax"]);
        assert_eq!(
            q.pg_composed().unwrap(),
            PgComposed {
                groups: vec![
                    vec![PgPiece::Prefix("'invoi':*".into())],
                    vec![PgPiece::Websearch("tax".into())],
                ],
                excluded: vec![],
            }
        );
        let q = SearchQuery::parse("\"tax return\" or rech* -draft").unwrap();
        assert_eq!(
            q.pg_composed().unwrap(),
            PgComposed {
                groups: vec![vec![
                    PgPiece::Websearch("\"tax return\"".into()),
                    PgPiece::Prefix("'rech':*".into()),
                ]],
                excluded: vec![PgPiece::Websearch("draft".into())],
            }
        );
        assert!(!SearchQuery::parse("tax").unwrap().has_prefix());
    }

    #[test]
    fn short_and_many_prefixes_are_refused() {
        assert!(SearchQuery::parse("a*").is_err());
        assert!(SearchQuery::parse("in*").is_err());
        assert!(SearchQuery::parse("tax x*").is_err());
        assert!(SearchQuery::parse("inv*").is_ok());
        assert!(SearchQuery::parse("abc* abd* abe* abf*").is_ok());
        assert!(SearchQuery::parse("abc* abd* abe* abf* abg*").is_err());
        // The same prefix again is the same condition.
        let q = SearchQuery::parse(&vec!["budg*"; 32].join(" ")).unwrap();
        assert_eq!(q.fts5.unwrap(), r#"(("budg" *))"#);
        assert_eq!(
            fts("budg* or x budg*").unwrap(),
            r#"(("budg" * OR "x") AND ("budg" *))"#
        );
    }

    #[test]
    fn invalid_queries_are_4xx() {
        assert!(SearchQuery::parse("   ").is_err());
        assert!(SearchQuery::parse("\0\0").is_err());
        assert!(SearchQuery::parse(&"a".repeat(501)).is_err());
        assert!(SearchQuery::parse(&"a".repeat(500)).is_ok());
        assert!(SearchQuery::parse("-foo").is_err());
        assert!(SearchQuery::parse("foo\0bar").is_ok());
        assert_eq!(SearchQuery::parse(" a\0b ").unwrap().text, "a b");
    }

    #[test]
    fn words_are_capped_and_invisible_characters_dropped() {
        let words = |n: usize| vec!["the"; n].join(" ");
        assert!(SearchQuery::parse(&words(MAX_QUERY_WORDS)).is_ok());
        assert!(SearchQuery::parse(&words(MAX_QUERY_WORDS + 1)).is_err());
        // Phrase words and excluded words count; `or` does not.
        let phrase = format!("\"{}\"", words(MAX_QUERY_WORDS + 1));
        assert!(SearchQuery::parse(&phrase).is_err());
        let excluded = format!("a {}", vec!["-b"; MAX_QUERY_WORDS].join(" "));
        assert!(SearchQuery::parse(&excluded).is_err());
        let ors = format!("a{}", " or a".repeat(MAX_QUERY_WORDS - 1));
        assert!(SearchQuery::parse(&ors).is_ok());
        // A word split by punctuation is several words.
        assert!(SearchQuery::parse(&"a-".repeat(MAX_QUERY_WORDS + 1)).is_err());
        assert!(SearchQuery::parse(&"*".repeat(MAX_QUERY_CHARS)).is_ok());
        assert_eq!(fts(&"*".repeat(MAX_QUERY_CHARS)), None);
        assert!(SearchQuery::parse(&"*".repeat(10_000)).is_err());

        let q = SearchQuery::parse("in\u{200B}voice \u{202E}tax\u{FEFF}").unwrap();
        assert_eq!(q.text, "invoice tax");
        assert_eq!(q.words, ["invoice", "tax"]);
        assert!(
            SearchQuery::parse("\u{200B}\u{202E}").is_err(),
            "nothing visible"
        );
        // Control characters separate words.
        assert_eq!(
            SearchQuery::parse("tax\u{7}return").unwrap().words,
            ["tax", "return"]
        );
    }

    #[test]
    fn a_stemmed_query_adds_stems_of_bare_words_looked_for() {
        let q = SearchQuery::parse("Invoices \"tax return\" invoi* the -drafts 2024")
            .unwrap()
            .with_language(SearchLanguage::English);
        assert!(q.is_stemmed());
        assert_eq!(
            q.fts5.as_deref().unwrap(),
            "((({filename body} : \"Invoices\" OR stems : \"eninvoic\")) AND \
             ({filename body} : \"tax return\") AND ({filename body} : \"invoi\" *) AND \
             ({filename body} : \"the\") AND ({filename body} : \"2024\")) \
             NOT {filename body} : \"drafts\""
        );
        assert_eq!(
            q.pg_composed().unwrap().groups[0],
            [
                PgPiece::Websearch("Invoices".into()),
                PgPiece::Stem("'eninvoic':C".into())
            ]
        );
        assert_eq!(
            q.words,
            ["invoices", "tax", "return", "invoi*", "the", "2024"]
        );
        // `simple`, or nothing to stem: the query as parsed.
        let plain = SearchQuery::parse("invoices").unwrap();
        assert_eq!(plain.with_language(SearchLanguage::Simple), plain);
        let unstemmable = SearchQuery::parse("the \"invoices\" 2024").unwrap();
        assert_eq!(
            unstemmable.with_language(SearchLanguage::English),
            unstemmable
        );
    }
}
