//! Search snippets as plain-text segments: the markers the database puts around
//! matches turned into highlighted pieces, file names highlighted word by word, and the
//! best snippet of a hit chosen.

use serde::Serialize;
use utoipa::ToSchema;

/// Marks the start of a highlighted match in snippets the database produces (a
/// private-use character, stripped from the output).
pub const HIGHLIGHT_START: char = '\u{E000}';
/// Marks the end of a highlighted match.
pub const HIGHLIGHT_END: char = '\u{E001}';

/// One piece of a search snippet; the UI shows `highlight` pieces marked (e.g. `<mark>`).
/// Plain text, never HTML.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SnippetSegment {
    /// Text of this piece, as it appears in the document.
    pub text: String,
    /// Whether this piece matched the query.
    pub highlight: bool,
}

/// Splits text carrying [`HIGHLIGHT_START`]/[`HIGHLIGHT_END`] markers into segments,
/// merging neighbours of the same kind and dropping empty ones. Unbalanced markers are
/// tolerated.
pub fn segments(marked: &str) -> Vec<SnippetSegment> {
    let mut out: Vec<SnippetSegment> = Vec::new();
    let mut current = String::new();
    let mut highlight = false;
    let flush = |current: &mut String, highlight: bool, out: &mut Vec<SnippetSegment>| {
        if current.is_empty() {
            return;
        }
        match out.last_mut() {
            Some(last) if last.highlight == highlight => last.text.push_str(current),
            _ => out.push(SnippetSegment {
                text: current.clone(),
                highlight,
            }),
        }
        current.clear();
    };
    for c in marked.chars() {
        match c {
            HIGHLIGHT_START => {
                flush(&mut current, highlight, &mut out);
                highlight = true;
            }
            HIGHLIGHT_END => {
                flush(&mut current, highlight, &mut out);
                highlight = false;
            }
            c => current.push(c),
        }
    }
    flush(&mut current, highlight, &mut out);
    out
}

/// `name` as segments, each whole word equal (ignoring case) to one of `words` marked,
/// or starting with one written as a prefix (`invoi*`, lower-cased).
pub fn highlight_words(name: &str, words: &[String]) -> Vec<SnippetSegment> {
    let matches = |lower: &str| {
        words.iter().any(|w| match w.strip_suffix('*') {
            Some(prefix) => lower.starts_with(prefix),
            None => w == lower,
        })
    };
    let mut marked = String::with_capacity(name.len() + 8);
    let mut word = String::new();
    let flush = |word: &mut String, marked: &mut String| {
        if word.is_empty() {
            return;
        }
        let lower = word.to_lowercase();
        if matches(&lower) {
            marked.push(HIGHLIGHT_START);
            marked.push_str(word);
            marked.push(HIGHLIGHT_END);
        } else {
            marked.push_str(word);
        }
        word.clear();
    };
    for c in name.chars() {
        if c.is_alphanumeric() {
            word.push(c);
        } else {
            flush(&mut word, &mut marked);
            marked.push(c);
        }
    }
    flush(&mut word, &mut marked);
    segments(&marked)
}

/// Whether any segment is highlighted.
pub fn has_highlight(segs: &[SnippetSegment]) -> bool {
    segs.iter().any(|s| s.highlight)
}

/// The best snippet of a hit: text around the matches, else the highlighted name,
/// else the start of the text.
pub(super) fn best_snippet(
    body: Option<Vec<SnippetSegment>>,
    name: Option<Vec<SnippetSegment>>,
) -> Option<Vec<SnippetSegment>> {
    let body = body.filter(|s| !s.is_empty());
    let name = name.filter(|s| !s.is_empty());
    match (body, name) {
        (Some(b), _) if has_highlight(&b) => Some(b),
        (_, Some(n)) if has_highlight(&n) => Some(n),
        (Some(b), _) => Some(b),
        (None, n) => n,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::documents::search::SearchQuery;

    #[test]
    fn file_names_highlight_whole_words() {
        let q = SearchQuery::parse("Budget \"tax return\" -draft").unwrap();
        assert_eq!(q.words, vec!["budget", "tax", "return"]);
        let s = highlight_words("tax-return_budget2025.PDF budget", &q.words);
        let marked: Vec<&str> = s
            .iter()
            .filter(|s| s.highlight)
            .map(|s| s.text.as_str())
            .collect();
        assert_eq!(marked, vec!["tax", "return", "budget"]);
        assert_eq!(
            s.iter().map(|s| s.text.as_str()).collect::<String>(),
            "tax-return_budget2025.PDF budget"
        );
    }

    #[test]
    fn segments_from_markers() {
        let s = segments("the \u{E000}fox\u{E001} and \u{E000}fox\u{E001}");
        assert_eq!(
            s,
            vec![
                SnippetSegment {
                    text: "the ".into(),
                    highlight: false
                },
                SnippetSegment {
                    text: "fox".into(),
                    highlight: true
                },
                SnippetSegment {
                    text: " and ".into(),
                    highlight: false
                },
                SnippetSegment {
                    text: "fox".into(),
                    highlight: true
                },
            ]
        );
        assert!(segments("").is_empty());
        assert_eq!(segments("\u{E001}x\u{E000}").len(), 1);
        let merged = segments("\u{E000}a\u{E001}\u{E000}b\u{E001}");
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].text, "ab");
    }
}
