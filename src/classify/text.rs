//! Turning text into terms for the builtin classifier: Unicode word split, lower case,
//! English stop words out, light suffix stemming. Deterministic and allocation-light.

use std::collections::BTreeMap;

/// Longest token kept, in characters (longer ones are hashes, base64, URLs…).
const MAX_TOKEN_CHARS: usize = 32;

/// Common English function words carrying no topic signal.
const STOP_WORDS: &[&str] = &[
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "down",
    "during",
    "each",
    "even",
    "ever",
    "few",
    "for",
    "from",
    "further",
    "get",
    "got",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "however",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "last",
    "like",
    "made",
    "make",
    "many",
    "may",
    "me",
    "might",
    "more",
    "most",
    "much",
    "must",
    "my",
    "myself",
    "new",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "one",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "said",
    "same",
    "say",
    "says",
    "she",
    "should",
    "since",
    "so",
    "some",
    "still",
    "such",
    "take",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "though",
    "three",
    "through",
    "to",
    "too",
    "two",
    "under",
    "until",
    "up",
    "upon",
    "us",
    "use",
    "used",
    "very",
    "was",
    "way",
    "we",
    "well",
    "were",
    "what",
    "when",
    "where",
    "whether",
    "which",
    "while",
    "who",
    "whom",
    "whose",
    "why",
    "will",
    "with",
    "within",
    "without",
    "would",
    "year",
    "years",
    "yet",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
    "mr",
    "mrs",
    "ms",
    "told",
    "according",
    "around",
    "back",
    "first",
    "going",
    "good",
    "know",
    "see",
    "set",
    "time",
    "want",
    "week",
    "went",
    "another",
    "every",
    "less",
    "need",
    "next",
    "part",
    "put",
    "really",
    "several",
    "something",
    "thing",
    "things",
    "think",
    "across",
    "already",
    "among",
    "away",
    "come",
    "done",
    "far",
    "given",
    "here",
    "let",
    "look",
    "lot",
    "making",
    "per",
    "seen",
    "tell",
    "took",
    "via",
    "ago",
];

/// Whether `word` (lower case) is a stop word.
fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.contains(&word)
}

/// Strips common English inflections (plurals, `-ing`, `-ed`, `-ies`) and a final `e`.
///
/// Deliberately light (no Porter rules): it merges "markets"/"market" and
/// "vote"/"voted"/"voting", and leaves short words and non-ASCII text alone.
pub fn stem(word: &str) -> String {
    let mut s = strip_inflection(word);
    if s.len() > 3 && s.ends_with('e') && word.is_ascii() {
        s.pop();
    }
    s
}

fn strip_inflection(word: &str) -> String {
    let n = word.chars().count();
    if n <= 3 || !word.is_ascii() {
        return word.to_owned();
    }
    let w = word;
    if let Some(base) = w.strip_suffix("ies")
        && n > 4
    {
        return format!("{base}y");
    }
    if let Some(base) = w.strip_suffix("sses") {
        return format!("{base}ss");
    }
    if let Some(base) = w.strip_suffix("ing")
        && n > 5
    {
        return undouble(base);
    }
    if let Some(base) = w.strip_suffix("ed")
        && n > 4
        && !base.ends_with('e')
    {
        return undouble(base);
    }
    if let Some(base) = w.strip_suffix("es")
        && (base.ends_with("sh") || base.ends_with("ch") || base.ends_with('x'))
    {
        return base.to_owned();
    }
    if let Some(base) = w.strip_suffix('s')
        && !base.ends_with('s')
        && !base.ends_with('u')
        && !base.ends_with('i')
    {
        return base.to_owned();
    }
    w.to_owned()
}

/// "stopp" → "stop", "plann" → "plan"; keeps "ll", "ss", "ff", "zz" ("sell", "pass").
fn undouble(base: &str) -> String {
    let bytes = base.as_bytes();
    if bytes.len() >= 3 {
        let (a, b) = (bytes[bytes.len() - 2], bytes[bytes.len() - 1]);
        if a == b && !matches!(b, b'l' | b's' | b'f' | b'z') && !b"aeiou".contains(&b) {
            return base[..base.len() - 1].to_owned();
        }
    }
    base.to_owned()
}

/// The terms of `text`, in order: lower-cased, stop words and numbers dropped, stemmed.
pub fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for raw in text.split(|c: char| !c.is_alphanumeric()) {
        let len = raw.chars().count();
        if !(2..=MAX_TOKEN_CHARS).contains(&len) || !raw.chars().any(char::is_alphabetic) {
            continue;
        }
        let lower = raw.to_lowercase();
        if lower.chars().count() < 3 && lower.is_ascii() {
            continue;
        }
        if is_stop_word(&lower) {
            continue;
        }
        out.push(stem(&lower));
    }
    out
}

/// Term counts of `text`, in term order (deterministic iteration).
pub fn term_counts(text: &str) -> BTreeMap<String, u32> {
    let mut counts = BTreeMap::new();
    for t in terms(text) {
        *counts.entry(t).or_insert(0) += 1;
    }
    counts
}

/// Characters that carry content (letters and digits): what the "near-empty" guard counts.
pub fn meaningful_chars(text: &str) -> usize {
    text.chars().filter(|c| c.is_alphanumeric()).count()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn stems_common_inflections() {
        assert_eq!(stem("markets"), "market");
        assert_eq!(stem("companies"), "company");
        assert_eq!(stem("stopped"), "stop");
        assert_eq!(stem("running"), "run");
        assert_eq!(stem("selling"), "sell");
        assert_eq!(stem("taxes"), "tax");
        assert_eq!(stem("glass"), "glass");
        assert_eq!(stem("bus"), "bus");
        assert_eq!(stem("voted"), stem("vote"));
        assert_eq!(stem("voting"), stem("vote"));
        assert_eq!(stem("families"), stem("family"));
        assert_eq!(stem("music"), "music");
    }

    #[test]
    fn terms_drop_noise() {
        let t = terms("The Bank's profits rose 5% in 2024, said the CEO. Straße Über");
        assert!(t.contains(&"bank".to_owned()));
        assert!(t.contains(&"profit".to_owned()));
        assert!(t.contains(&"straße".to_owned()));
        assert!(t.contains(&"über".to_owned()));
        assert!(!t.iter().any(|w| w == "the" || w == "2024" || w == "said"));
    }

    #[test]
    fn meaningful_chars_ignores_punctuation_and_space() {
        assert_eq!(meaningful_chars("  ... \n\t--- !!"), 0);
        assert_eq!(meaningful_chars("a1 b2"), 4);
    }
}
