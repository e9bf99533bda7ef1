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

/// Characters at the start of a document's text that its search snippet is chosen
/// from (both backends read no more of it per hit).
pub const SNIPPET_SOURCE_CHARS: u32 = 20_000;

/// Words a text snippet shows at most.
const SNIPPET_WORDS: usize = 30;

/// Words a text snippet shows before the first match it is placed at.
const SNIPPET_LEAD_WORDS: usize = 6;

/// Which of `words` (lower-cased; `invoi*` a prefix) the lower-cased word `lower` is.
fn term_of(lower: &str, words: &[String]) -> Option<usize> {
    words.iter().position(|w| match w.strip_suffix('*') {
        Some(prefix) => lower.starts_with(prefix),
        None => w == lower,
    })
}

/// The words of `text` (runs of letters and digits) as byte ranges, with the query word
/// each one is.
fn words_with_terms(text: &str, words: &[String]) -> Vec<(usize, usize, Option<usize>)> {
    let mut out = Vec::new();
    let mut start = None;
    let push = |from: usize, to: usize, out: &mut Vec<(usize, usize, Option<usize>)>| {
        let term = term_of(&text[from..to].to_lowercase(), words);
        out.push((from, to, term));
    };
    for (i, c) in text.char_indices() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(from)) => {
                push(from, i, &mut out);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(from) = start {
        push(from, text.len(), &mut out);
    }
    out
}

/// A search snippet from the start of a document's text (at most
/// [`SNIPPET_SOURCE_CHARS`] characters, as the database hands it over): the
/// [`SNIPPET_WORDS`] words holding the most different query words, the earliest such
/// stretch, starting a few words before its first match; every query word in it
/// highlighted, runs of white space shown as one space, `…` where the text goes on. The
/// text's first words, unmarked, when no query word is written in it (a match further
/// on, or through a stem). Costs one pass over the text: the database's own snippet
/// functions read each hit's whole text (FTS5's `snippet` took seconds for a very
/// common word in long documents).
pub(super) fn text_snippet(text: &str, words: &[String]) -> Vec<SnippetSegment> {
    let spans = words_with_terms(text, words);
    let matches: Vec<usize> = spans
        .iter()
        .enumerate()
        .filter(|(_, s)| s.2.is_some())
        .map(|(i, _)| i)
        .collect();
    // The window (by its first match) holding the most different terms, then the most
    // matches; the earliest of equals.
    let mut best: Option<(usize, usize, usize)> = None;
    for (k, &first) in matches.iter().enumerate() {
        let mut seen: Vec<usize> = Vec::new();
        let mut count = 0;
        for &m in matches[k..]
            .iter()
            .take_while(|&&m| m < first + SNIPPET_WORDS - SNIPPET_LEAD_WORDS)
        {
            count += 1;
            if let Some(term) = spans[m].2
                && !seen.contains(&term)
            {
                seen.push(term);
            }
        }
        if best.is_none_or(|(_, terms, n)| (seen.len(), count) > (terms, n)) {
            best = Some((first, seen.len(), count));
        }
    }
    let start = best.map_or(0, |(first, _, _)| first.saturating_sub(SNIPPET_LEAD_WORDS));
    let end = spans.len().min(start + SNIPPET_WORDS);
    if start >= end {
        return Vec::new();
    }
    // Built as segments directly, not through the markers: a text may hold the
    // private-use characters they are.
    let mut out = Vec::new();
    let mut plain = String::new();
    if start > 0 {
        plain.push_str("… ");
    }
    let mut pos = spans[start].0;
    for &(from, to, term) in &spans[start..end] {
        push_spaced(&mut plain, &text[pos..from]);
        if term.is_some() {
            push_segment(&mut out, std::mem::take(&mut plain), false);
            push_segment(&mut out, text[from..to].to_owned(), true);
        } else {
            plain.push_str(&text[from..to]);
        }
        pos = to;
    }
    if end < spans.len() {
        plain.push_str(" …");
    } else {
        push_spaced(&mut plain, text[pos..].trim_end());
    }
    push_segment(&mut out, plain, false);
    out
}

/// Appends a segment, merged into the last one when both are of the same kind; nothing
/// for empty text.
fn push_segment(out: &mut Vec<SnippetSegment>, text: String, highlight: bool) {
    if text.is_empty() {
        return;
    }
    match out.last_mut() {
        Some(last) if last.highlight == highlight => last.text.push_str(&text),
        _ => out.push(SnippetSegment { text, highlight }),
    }
}

/// Appends `between` (what lies between two words) with each run of white space as one
/// space.
fn push_spaced(out: &mut String, between: &str) {
    let mut space = false;
    for c in between.chars() {
        if c.is_whitespace() {
            space = true;
        } else {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    if space {
        out.push(' ');
    }
}

/// `name` as segments, each whole word equal (ignoring case) to one of `words` marked,
/// or starting with one written as a prefix (`invoi*`, lower-cased).
pub fn highlight_words(name: &str, words: &[String]) -> Vec<SnippetSegment> {
    let matches = |lower: &str| term_of(lower, words).is_some();
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

    fn marked(segs: &[SnippetSegment]) -> Vec<&str> {
        segs.iter()
            .filter(|s| s.highlight)
            .map(|s| s.text.as_str())
            .collect()
    }

    fn shown(segs: &[SnippetSegment]) -> String {
        segs.iter().map(|s| s.text.as_str()).collect()
    }

    #[test]
    fn text_snippets_sit_where_the_most_query_words_are() {
        let filler = |n: usize| vec!["lorem"; n].join(" ");
        let text = format!(
            "{} Tax  appears\nalone here. {} The Tax Return for 2024, a tax-return form. {}",
            filler(50),
            filler(80),
            filler(60)
        );
        let q = SearchQuery::parse("tax return").unwrap();
        let s = text_snippet(&text, &q.words);
        // Both words, not the lone "Tax" met first; a few words before the match.
        assert_eq!(marked(&s), ["Tax", "Return", "tax", "return"]);
        let t = shown(&s);
        assert!(t.starts_with("… lorem"), "{t}");
        assert!(
            t.contains("lorem The Tax Return for 2024, a tax-return form."),
            "{t}"
        );
        assert!(t.ends_with(" …"), "{t}");
        let words = t
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty());
        assert_eq!(words.count(), SNIPPET_WORDS);

        // One word: its first place, white space runs shown as one space.
        let q = SearchQuery::parse("appears").unwrap();
        let t = shown(&text_snippet(&text, &q.words));
        assert!(t.contains("lorem Tax appears alone here."), "{t}");

        // Prefixes match word starts, case aside; the text's end has no ellipsis.
        let q = SearchQuery::parse("FORM*").unwrap();
        let s = text_snippet("A short text with one Formular in it.", &q.words);
        assert_eq!(marked(&s), ["Formular"]);
        assert_eq!(shown(&s), "A short text with one Formular in it.");

        // No query word written in the text: its start, nothing marked.
        let q = SearchQuery::parse("absent").unwrap();
        let s = text_snippet(&text, &q.words);
        assert!(marked(&s).is_empty());
        assert!(shown(&s).starts_with("lorem lorem"));
        assert!(text_snippet("", &q.words).is_empty());
        assert!(text_snippet(" \n ", &q.words).is_empty());

        // Private-use characters in the text are text, not markers.
        let q = SearchQuery::parse("fox").unwrap();
        let s = text_snippet("a \u{E000}fox\u{E001} b", &q.words);
        assert_eq!(marked(&s), ["fox"]);
        assert_eq!(shown(&s), "a \u{E000}fox\u{E001} b");
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
