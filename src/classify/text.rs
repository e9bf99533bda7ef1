//! Turning text into terms for the builtin classifier, for German and English side by side.
//!
//! - Unicode-aware: words are runs of letters and digits (`char::is_alphanumeric`), lower
//!   cased; "Straße", "Übersicht", "naïve" stay whole.
//! - Each text's language is guessed from its function words (German or English, the
//!   languages with stop-word lists here); those function words are dropped and every
//!   other word is reduced by the Snowball stemmer of that language (`rust-stemmers`), so
//!   "Rechnung"/"Rechnungen" and "invoice"/"invoices" meet. A text too short to tell
//!   (a topic name) gets both stems.
//! - Numbers of one to four digits stay (years, section numbers), longer ones and tokens
//!   over [`MAX_TOKEN_CHARS`] characters (hashes, base64) are dropped.
//!
//! Deterministic: no hashing with random state, ordered maps only.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use rust_stemmers::{Algorithm, Stemmer};

/// Longest token kept, in characters (longer ones are hashes, base64, URLs…).
pub const MAX_TOKEN_CHARS: usize = 32;
/// A text with at least this many words but (almost) no function words is not prose: it
/// is stemmed as English rather than in both languages.
const LONG_TEXT_WORDS: usize = 50;

/// Common English function words carrying no topic signal.
const STOP_WORDS_EN: &[&str] = &[
    "about",
    "above",
    "according",
    "across",
    "after",
    "again",
    "against",
    "ago",
    "all",
    "already",
    "also",
    "am",
    "among",
    "an",
    "and",
    "another",
    "any",
    "are",
    "around",
    "as",
    "at",
    "away",
    "back",
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
    "come",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "done",
    "down",
    "during",
    "each",
    "even",
    "ever",
    "every",
    "far",
    "few",
    "first",
    "for",
    "from",
    "further",
    "get",
    "given",
    "going",
    "good",
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
    "know",
    "last",
    "less",
    "let",
    "like",
    "look",
    "lot",
    "made",
    "make",
    "making",
    "many",
    "may",
    "me",
    "might",
    "more",
    "most",
    "mr",
    "mrs",
    "ms",
    "much",
    "must",
    "my",
    "myself",
    "need",
    "new",
    "next",
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
    "part",
    "per",
    "put",
    "really",
    "said",
    "same",
    "say",
    "says",
    "see",
    "seen",
    "set",
    "several",
    "she",
    "should",
    "since",
    "so",
    "some",
    "something",
    "still",
    "such",
    "take",
    "tell",
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
    "thing",
    "things",
    "think",
    "this",
    "those",
    "though",
    "three",
    "through",
    "time",
    "to",
    "told",
    "too",
    "took",
    "two",
    "under",
    "until",
    "up",
    "upon",
    "us",
    "use",
    "used",
    "very",
    "via",
    "want",
    "was",
    "way",
    "we",
    "week",
    "well",
    "went",
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
];

/// Common German function words carrying no topic signal.
const STOP_WORDS_DE: &[&str] = &[
    "aber",
    "alle",
    "allem",
    "allen",
    "aller",
    "alles",
    "als",
    "also",
    "am",
    "an",
    "ander",
    "andere",
    "anderem",
    "anderen",
    "anderer",
    "anderes",
    "auch",
    "auf",
    "aus",
    "bei",
    "beim",
    "bin",
    "bis",
    "bist",
    "bzw",
    "da",
    "damit",
    "dann",
    "das",
    "dass",
    "dasselbe",
    "dazu",
    "dein",
    "deine",
    "deinem",
    "deinen",
    "deiner",
    "dem",
    "demselben",
    "den",
    "denn",
    "denselben",
    "der",
    "derer",
    "derselbe",
    "derselben",
    "des",
    "desselben",
    "dessen",
    "dich",
    "die",
    "dies",
    "diese",
    "dieselbe",
    "dieselben",
    "diesem",
    "diesen",
    "dieser",
    "dieses",
    "dir",
    "doch",
    "dort",
    "du",
    "durch",
    "ein",
    "eine",
    "einem",
    "einen",
    "einer",
    "eines",
    "einig",
    "einige",
    "einigem",
    "einigen",
    "einiger",
    "einiges",
    "einmal",
    "er",
    "es",
    "etwas",
    "euch",
    "euer",
    "eure",
    "eurem",
    "euren",
    "eurer",
    "für",
    "gegen",
    "gewesen",
    "hab",
    "habe",
    "haben",
    "hat",
    "hatte",
    "hatten",
    "hier",
    "hin",
    "hinter",
    "ich",
    "ihm",
    "ihn",
    "ihnen",
    "ihr",
    "ihre",
    "ihrem",
    "ihren",
    "ihrer",
    "ihres",
    "im",
    "in",
    "indem",
    "ins",
    "ist",
    "jede",
    "jedem",
    "jeden",
    "jeder",
    "jedes",
    "jene",
    "jenem",
    "jenen",
    "jener",
    "jenes",
    "jetzt",
    "kann",
    "kein",
    "keine",
    "keinem",
    "keinen",
    "keiner",
    "keines",
    "können",
    "könnte",
    "machen",
    "man",
    "manche",
    "manchem",
    "manchen",
    "mancher",
    "manches",
    "mein",
    "meine",
    "meinem",
    "meinen",
    "meiner",
    "mich",
    "mir",
    "mit",
    "muss",
    "musste",
    "nach",
    "nicht",
    "nichts",
    "noch",
    "nun",
    "nur",
    "ob",
    "oder",
    "ohne",
    "sehr",
    "sein",
    "seine",
    "seinem",
    "seinen",
    "seiner",
    "selbst",
    "sich",
    "sie",
    "sind",
    "so",
    "solche",
    "solchem",
    "solchen",
    "solcher",
    "soll",
    "sollte",
    "sondern",
    "sonst",
    "sowie",
    "um",
    "und",
    "uns",
    "unser",
    "unsere",
    "unter",
    "viel",
    "vom",
    "von",
    "vor",
    "war",
    "waren",
    "warst",
    "was",
    "weg",
    "weil",
    "weiter",
    "welche",
    "welchem",
    "welchen",
    "welcher",
    "welches",
    "wenn",
    "werde",
    "werden",
    "wie",
    "wieder",
    "will",
    "wir",
    "wird",
    "wirst",
    "wo",
    "wollen",
    "wollte",
    "würde",
    "würden",
    "zu",
    "zum",
    "zur",
    "zwar",
    "zwischen",
    "über",
];

/// The language a text is stemmed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// English function words dominate.
    English = 0,
    /// German function words dominate.
    German = 1,
    /// Too few function words to tell (short texts such as topic names): both stems.
    Unknown = 2,
}

fn stemmer(lang: Algorithm) -> &'static Stemmer {
    static EN: OnceLock<Stemmer> = OnceLock::new();
    static DE: OnceLock<Stemmer> = OnceLock::new();
    match lang {
        Algorithm::German => DE.get_or_init(|| Stemmer::create(Algorithm::German)),
        _ => EN.get_or_init(|| Stemmer::create(Algorithm::English)),
    }
}

/// Calls `f` with each raw word of `text`: a maximal run of letters and digits
/// (`char::is_alphanumeric`), scanned byte by byte (ASCII fast, other characters decoded).
fn for_each_run<'a>(text: &'a str, mut f: impl FnMut(&'a str)) {
    let bytes = text.as_bytes();
    let mut start: Option<usize> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let (alnum, width) = if b < 0x80 {
            (b.is_ascii_alphanumeric(), 1)
        } else {
            match text[i..].chars().next() {
                Some(c) => (c.is_alphanumeric(), c.len_utf8()),
                None => (false, 1),
            }
        };
        match (alnum, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                f(&text[s..i]);
                start = None;
            }
            _ => {}
        }
        i += width;
    }
    if let Some(s) = start {
        f(&text[s..]);
    }
}

/// A raw word as a term candidate: 1–32 characters, with at least one letter (then at
/// least two characters) or at most four digits; lower-cased, borrowed when already lower
/// case.
fn candidate(raw: &str) -> Option<Cow<'_, str>> {
    if raw.len() > 4 * MAX_TOKEN_CHARS {
        return None;
    }
    let ascii = raw.is_ascii();
    let len = if ascii {
        raw.len()
    } else {
        raw.chars().count()
    };
    if len > MAX_TOKEN_CHARS {
        return None;
    }
    let (has_letter, has_upper) = if ascii {
        let mut letter = false;
        let mut upper = false;
        for &b in raw.as_bytes() {
            letter |= b.is_ascii_alphabetic();
            upper |= b.is_ascii_uppercase();
        }
        (letter, upper)
    } else {
        (
            raw.chars().any(char::is_alphabetic),
            raw.chars().any(char::is_uppercase),
        )
    };
    if (!has_letter && len > 4) || (has_letter && len < 2) {
        return None;
    }
    Some(if has_upper {
        Cow::Owned(raw.to_lowercase())
    } else {
        Cow::Borrowed(raw)
    })
}

/// Longest function word in the lists, in bytes (longer words skip the lookup).
const MAX_STOP_WORD_BYTES: usize = 12;

/// The words of `text` that carry content (function words dropped), in order, with the
/// text's language guessed from the function words. A text with fewer than two (a topic
/// name) is [`Language::Unknown`] when short, English when long (lists, tables, code:
/// stemmed once).
pub fn content_words(text: &str) -> (Language, Vec<Cow<'_, str>>) {
    let (mut en, mut de, mut all) = (0usize, 0usize, 0usize);
    let mut out = Vec::new();
    for_each_run(text, |raw| {
        let Some(w) = candidate(raw) else {
            return;
        };
        all += 1;
        let short = w.len() <= MAX_STOP_WORD_BYTES;
        let e = short && STOP_WORDS_EN.binary_search(&w.as_ref()).is_ok();
        let d = short && STOP_WORDS_DE.binary_search(&w.as_ref()).is_ok();
        en += usize::from(e);
        de += usize::from(d);
        if !(e || d) {
            out.push(w);
        }
    });
    let lang = if en + de < 2 {
        if all >= LONG_TEXT_WORDS {
            Language::English
        } else {
            Language::Unknown
        }
    } else if de > en {
        Language::German
    } else {
        Language::English
    };
    (lang, out)
}

/// Guesses whether `text` is German or English from its function words.
pub fn language(text: &str) -> Language {
    content_words(text).0
}

fn word_is_german(word: &str) -> bool {
    word.contains(['ä', 'ö', 'ü', 'ß'])
}

/// The stem of `word` (lower case) in `lang`; for [`Language::Unknown`] the German stem
/// when the word has German letters, else the English one.
pub fn stem(word: &str, lang: Language) -> String {
    let algorithm = match lang {
        Language::German => Algorithm::German,
        Language::English => Algorithm::English,
        Language::Unknown if word_is_german(word) => Algorithm::German,
        Language::Unknown => Algorithm::English,
    };
    stemmer(algorithm).stem(word).into_owned()
}

/// The terms of one word (lower case, not a function word) in `lang`: its stem, or both
/// stems (the word's own language first) when the language is unknown.
pub fn stems_of(word: &str, lang: Language) -> (String, Option<String>) {
    match lang {
        Language::Unknown => {
            let first = stem(word, Language::Unknown);
            let other_lang = if word_is_german(word) {
                Language::English
            } else {
                Language::German
            };
            let other = stem(word, other_lang);
            (first.clone(), (other != first).then_some(other))
        }
        known => (stem(word, known), None),
    }
}

/// The distinct terms of `text` with the word each came from (its first form, in word
/// order): lower-cased, function words dropped, stemmed in the text's language (both stems
/// when the language cannot be told).
pub fn terms_with_words(text: &str) -> Vec<(String, String)> {
    let (lang, words) = content_words(text);
    let mut seen: BTreeMap<String, ()> = BTreeMap::new();
    let mut out = Vec::new();
    for w in words {
        let (first, other) = stems_of(&w, lang);
        for term in std::iter::once(first).chain(other) {
            if seen.insert(term.clone(), ()).is_none() {
                out.push((term, w.to_string()));
            }
        }
    }
    out
}

/// The terms of `text` (see [`term_counts`]), each once, in term order.
pub fn terms(text: &str) -> Vec<String> {
    term_counts(text).into_keys().collect()
}

/// Term counts of `text`, in term order (deterministic iteration): lower-cased words,
/// function words dropped, stemmed in the text's language. Each distinct word is stemmed
/// once.
pub fn term_counts(text: &str) -> BTreeMap<String, u32> {
    let (lang, words) = content_words(text);
    let mut raw: BTreeMap<Cow<'_, str>, u32> = BTreeMap::new();
    for w in words {
        *raw.entry(w).or_insert(0) += 1;
    }
    let mut out: BTreeMap<String, u32> = BTreeMap::new();
    for (w, n) in raw {
        let (first, other) = stems_of(&w, lang);
        *out.entry(first).or_insert(0) += n;
        if let Some(other) = other {
            *out.entry(other).or_insert(0) += n;
        }
    }
    out
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
    fn stop_word_lists_are_sorted_for_binary_search() {
        for list in [STOP_WORDS_EN, STOP_WORDS_DE] {
            assert!(list.windows(2).all(|w| w[0] < w[1]));
            assert!(list.iter().all(|w| w.len() <= MAX_STOP_WORD_BYTES));
        }
    }

    #[test]
    fn words_are_unicode_runs() {
        let (_, w) = content_words("Größe: 12,5 cm; naïve café-Übersicht x MÜLLER");
        let w: Vec<&str> = w.iter().map(|w| w.as_ref()).collect();
        assert_eq!(
            w,
            [
                "größe",
                "12",
                "5",
                "cm",
                "naïve",
                "café",
                "übersicht",
                "müller"
            ]
        );
    }

    #[test]
    fn german_and_english_inflections_meet() {
        let de = "Die Rechnung ist bezahlt. Bitte prüfen Sie die Rechnungen und die Mahnung.";
        let en = "The invoice is paid. Please check the invoices and the reminders.";
        assert_eq!(language(de), Language::German);
        assert_eq!(language(en), Language::English);
        let t = term_counts(de);
        assert_eq!(t.get("rechnung"), Some(&2), "{t:?}");
        let t = term_counts(en);
        assert_eq!(t.get("invoic"), Some(&2), "{t:?}");
        // A bare topic name meets both.
        assert!(terms("Rechnungen").contains(&"rechnung".to_owned()));
        assert!(terms("Invoices").contains(&"invoic".to_owned()));
    }

    #[test]
    fn terms_drop_noise() {
        let t = terms("The Bank's profits rose 5% in 2024, said the CEO. Straße Über 123456789");
        assert!(t.contains(&"bank".to_owned()), "{t:?}");
        assert!(t.contains(&"profit".to_owned()));
        assert!(t.contains(&"2024".to_owned()));
        assert!(t.iter().any(|w| w.starts_with("straß")), "{t:?}");
        assert!(
            !t.iter()
                .any(|w| w == "the" || w == "123456789" || w == "said")
        );
        let long = "x".repeat(MAX_TOKEN_CHARS + 1);
        assert!(terms(&format!("invoice {long}")).iter().all(|w| w != &long));
    }

    #[test]
    fn meaningful_chars_ignores_punctuation_and_space() {
        assert_eq!(meaningful_chars("  ... \n\t--- !!"), 0);
        assert_eq!(meaningful_chars("a1 b2"), 4);
    }
}
