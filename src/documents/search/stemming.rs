//! Language-aware matching: a document's text reduced to the distinct Snowball stems of
//! its words in its owner's search language (stored in `document_stems`, indexed beside
//! the text), and the words of a query stemmed the same way, so that "invoice" finds
//! "invoices" and "Rechnung" finds "Rechnungen".
//!
//! Every stem is tagged with its language (`en` + `invoic`, `de` + `rechnung`), so a
//! query only matches stems made in its own language: while an account's documents are
//! stemmed again after it changed language ([`restem`](super::restem)), a document still
//! holding the old language's stems matches exactly only, never by a wrong stem.
//!
//! Only words of letters are stemmed, and never the language's most common words (stop
//! words, [`is_stop_word`]): a search for "the" stays one posting list, exact. A text is
//! stemmed up to [`STEMMED_TEXT_CHARS`] characters, the part PostgreSQL indexes.

use std::collections::BTreeSet;

use rust_stemmers::{Algorithm, Stemmer};

use crate::entities::SearchLanguage;

/// Characters of a text that are stemmed: the bound of PostgreSQL's indexed text
/// (`migration::…_000003` `PG_INDEXED_TEXT_CHARS`), on both backends.
pub const STEMMED_TEXT_CHARS: usize = 100_000;

/// Longest word that is stemmed (longer runs are not words people search for).
const MAX_WORD_CHARS: usize = 40;

/// The language's stemmer and tag; `None` for `simple`.
fn stemmer(language: SearchLanguage) -> Option<(Stemmer, &'static str)> {
    match language {
        SearchLanguage::Simple => None,
        SearchLanguage::English => Some((Stemmer::create(Algorithm::English), "en")),
        SearchLanguage::German => Some((Stemmer::create(Algorithm::German), "de")),
    }
}

/// The most common words of each language: not stemmed (they stay exact matches).
fn is_stop_word(language: SearchLanguage, word: &str) -> bool {
    const ENGLISH: &[&str] = &[
        "a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "for", "from", "had",
        "has", "have", "he", "her", "his", "i", "if", "in", "into", "is", "it", "its", "not", "of",
        "on", "or", "our", "she", "so", "that", "the", "their", "them", "then", "there", "these",
        "they", "this", "to", "was", "we", "were", "which", "will", "with", "you", "your",
    ];
    const GERMAN: &[&str] = &[
        "aber", "als", "am", "an", "auch", "auf", "aus", "bei", "bis", "das", "dass", "dem", "den",
        "der", "des", "die", "ein", "eine", "einem", "einen", "einer", "eines", "er", "es", "für",
        "hat", "ich", "ihr", "im", "in", "ist", "mit", "nach", "nicht", "noch", "oder", "sich",
        "sie", "sind", "so", "und", "von", "vor", "war", "wie", "wir", "wird", "zu", "zum", "zur",
    ];
    match language {
        SearchLanguage::Simple => false,
        SearchLanguage::English => ENGLISH.contains(&word),
        SearchLanguage::German => GERMAN.contains(&word),
    }
}

/// A word as stemmed: its letters only, lower-cased, not a stop word.
fn stemmable(language: SearchLanguage, word: &str) -> Option<String> {
    let count = word.chars().count();
    if !(2..=MAX_WORD_CHARS).contains(&count) || !word.chars().all(char::is_alphabetic) {
        return None;
    }
    let lower = word.to_lowercase();
    (!is_stop_word(language, &lower)).then_some(lower)
}

/// Stems words of one language.
pub struct WordStemmer {
    language: SearchLanguage,
    stemmer: Stemmer,
    tag: &'static str,
}

impl WordStemmer {
    /// A stemmer for `language`; `None` for `simple`, which does not stem.
    pub fn new(language: SearchLanguage) -> Option<Self> {
        stemmer(language).map(|(stemmer, tag)| Self {
            language,
            stemmer,
            tag,
        })
    }

    /// The tagged stem of `word` as indexed (`invoices` → `eninvoic`); `None` for a word
    /// that is not stemmed (digits or punctuation in it, a stop word, too long).
    pub fn stem(&self, word: &str) -> Option<String> {
        let lower = stemmable(self.language, word)?;
        let stem = self.stemmer.stem(&lower);
        Some(format!("{}{stem}", self.tag))
    }
}

/// The distinct tagged stems of the words of `text` (its first [`STEMMED_TEXT_CHARS`]
/// characters), space-separated in a stable order; `None` for `simple`.
pub fn stems_of_text(language: SearchLanguage, text: &str) -> Option<String> {
    let stemmer = WordStemmer::new(language)?;
    let bounded = match text.char_indices().nth(STEMMED_TEXT_CHARS) {
        Some((end, _)) => &text[..end],
        None => text,
    };
    let mut seen = BTreeSet::new();
    for word in bounded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if let Some(s) = stemmer.stem(word) {
            seen.insert(s);
        }
    }
    Some(seen.into_iter().collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn english_and_german_words_meet_their_other_forms() {
        let en = WordStemmer::new(SearchLanguage::English).unwrap();
        assert_eq!(en.stem("invoices"), en.stem("Invoice"));
        assert_eq!(en.stem("invoices").unwrap(), "eninvoic");
        assert_eq!(en.stem("tables"), en.stem("table"));
        let de = WordStemmer::new(SearchLanguage::German).unwrap();
        assert_eq!(de.stem("Rechnungen"), de.stem("Rechnung"));
        assert_eq!(de.stem("Häuser"), de.stem("Haus"));
        assert_eq!(de.stem("Kündigungen"), de.stem("Kündigung"));
        assert!(WordStemmer::new(SearchLanguage::Simple).is_none());
    }

    #[test]
    fn stop_words_numbers_and_long_runs_are_not_stemmed() {
        let en = WordStemmer::new(SearchLanguage::English).unwrap();
        assert_eq!(en.stem("The"), None);
        assert_eq!(en.stem("2024"), None);
        assert_eq!(en.stem("a4"), None);
        assert_eq!(en.stem(&"x".repeat(41)), None);
        assert_eq!(
            stems_of_text(
                SearchLanguage::English,
                "The invoices, an invoice; 2024 tables"
            )
            .unwrap(),
            "eninvoic entabl"
        );
        assert_eq!(stems_of_text(SearchLanguage::Simple, "invoices"), None);
    }

    #[test]
    fn only_the_bounded_text_is_stemmed() {
        let text = format!("{} zebras", "é".repeat(STEMMED_TEXT_CHARS));
        assert_eq!(stems_of_text(SearchLanguage::English, &text).unwrap(), "");
        let text = format!("{} zebras", "é".repeat(STEMMED_TEXT_CHARS - 7));
        assert_eq!(
            stems_of_text(SearchLanguage::English, &text).unwrap(),
            "enzebra"
        );
    }
}
