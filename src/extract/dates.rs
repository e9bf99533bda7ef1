//! The document's own date, found in its text or its file name (issue 17, item 5).
//!
//! [`derive`] looks at the start of the extracted text first (a letter's, invoice's or
//! manual's date sits in its first lines) and then at the file name (`scan_20240301.pdf`,
//! `2024-03-01 invoice.pdf`). The first plausible date wins. Pure and cheap: only the first
//! [`SCAN_WINDOW_BYTES`] of the text are read, in one pass of a small tokenizer.
//!
//! What reads as a date (month names in English and German, full or abbreviated, any
//! case; `Jänner`, `Maerz` and `Mrz` too):
//!
//! | written | read as |
//! |---|---|
//! | `2024-03-01`, `2024/03/01`, `2024.3.1`, `2024-03-01T10:00` | year, month, day |
//! | `01.03.2024`, `1.3.2024`, `01.03.24` | day, month, year (two-digit years only as `DD.MM.YY`) |
//! | `13/01/2024`, `01/13/2024`, `03-01-2024` | the order the numbers allow; when both fit, the order another such date of the same text proves, else [`DateOrder`] (setting `documents.date_order`) |
//! | `1 March 2024`, `1st of March, 2024`, `1. März 2024`, `01-Mar-2024` | day, month, year |
//! | `March 1, 2024`, `Mar. 1st 2024` | month, day, year |
//! | `März 2024`, `March, 2024` | the first of that month (month name capitalised) |
//! | file names only: `20240301` (as in `IMG_20240301_1230.jpg`), `2024_03_01` | year, month, day |
//!
//! Refused: impossible dates (`99.99.9999`, `31.02.2024`), dates before
//! [`EARLIEST_YEAR`] or more than [`MAX_DAYS_AHEAD`] days after today, and numbers that are
//! part of something longer (`1.01.03.2024`, a version `2.01.03.2024.5`, `abc2024-03-01`).
//! Bare years are never dates.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// How much of the text is read: the first pages' worth, so the cost per document stays
/// tiny whatever its length.
pub const SCAN_WINDOW_BYTES: usize = 8 * 1024;

/// Dates before this year are not a document's date (a year in a history, a birth date).
pub const EARLIEST_YEAR: i32 = 1900;

/// Dates more than this many days ahead of today are refused (a contract's end, a due
/// date far away), so an early future date cannot shadow the document's own.
pub const MAX_DAYS_AHEAD: u64 = 366;

/// How a numeric date whose first two numbers could both be the day reads
/// (`03/01/2024`), when nothing in the document itself decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DateOrder {
    /// Day first (`03/01/2024` is 3 January): most of the world.
    #[default]
    Dmy,
    /// Month first (`03/01/2024` is 1 March): the United States.
    Mdy,
}

/// Where a derived date was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoundIn {
    /// In the document's text.
    Content,
    /// In its file name.
    FileName,
}

/// A document's date and where it was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentDate {
    /// The date.
    pub date: NaiveDate,
    /// Text or file name.
    pub found_in: FoundIn,
}

/// The document's date: the first plausible date near the start of `text`, else the first
/// in `filename`; `None` when neither has one. `today` bounds the future.
pub fn derive(
    text: &str,
    filename: &str,
    today: NaiveDate,
    order: DateOrder,
) -> Option<DocumentDate> {
    find_in_text(text, today, order)
        .map(|date| DocumentDate {
            date,
            found_in: FoundIn::Content,
        })
        .or_else(|| {
            find_in_filename(filename, today, order).map(|date| DocumentDate {
                date,
                found_in: FoundIn::FileName,
            })
        })
}

/// The first plausible date in the first [`SCAN_WINDOW_BYTES`] of `text`.
pub fn find_in_text(text: &str, today: NaiveDate, order: DateOrder) -> Option<NaiveDate> {
    first_date(window(text), today, order, Mode::Text)
}

/// The first plausible date in a file name (its extension left out).
pub fn find_in_filename(filename: &str, today: NaiveDate, order: DateOrder) -> Option<NaiveDate> {
    let stem = match filename.rsplit_once('.') {
        Some((stem, ext))
            if !stem.is_empty()
                && (1..=5).contains(&ext.len())
                && ext.chars().all(|c| c.is_ascii_alphanumeric())
                && ext.chars().any(|c| c.is_ascii_alphabetic()) =>
        {
            stem
        }
        _ => filename,
    };
    first_date(window(stem), today, order, Mode::FileName)
}

/// The start of `text`, at most [`SCAN_WINDOW_BYTES`], cut at whitespace so that no date
/// is cut in two (`01.03.2024` read as `01.03.20`).
fn window(text: &str) -> &str {
    if text.len() <= SCAN_WINDOW_BYTES {
        return text;
    }
    let mut end = SCAN_WINDOW_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let head = &text[..end];
    match head.rfind(char::is_whitespace) {
        Some(cut) => &head[..cut],
        None => head,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Text,
    FileName,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A run of ASCII digits.
    Num,
    /// A run of letters.
    Word,
    /// Any other character but whitespace.
    Punct(char),
}

#[derive(Debug, Clone, Copy)]
struct Tok<'a> {
    kind: Kind,
    text: &'a str,
    start: usize,
    end: usize,
}

impl Tok<'_> {
    /// The value of a number of at most `max_digits` digits.
    fn num(&self, max_digits: usize) -> Option<u32> {
        (self.kind == Kind::Num && self.text.len() <= max_digits)
            .then(|| self.text.parse().ok())
            .flatten()
    }

    fn is(&self, c: char) -> bool {
        self.kind == Kind::Punct(c)
    }
}

fn tokenize(text: &str) -> Vec<Tok<'_>> {
    let mut toks = Vec::with_capacity(text.len() / 4);
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        let kind = if c.is_ascii_digit() {
            Kind::Num
        } else if c.is_alphabetic() {
            Kind::Word
        } else {
            Kind::Punct(c)
        };
        let mut end = start + c.len_utf8();
        if kind != Kind::Punct(c) {
            while let Some(&(i, next)) = chars.peek() {
                let same = match kind {
                    Kind::Num => next.is_ascii_digit(),
                    _ => next.is_alphabetic(),
                };
                if !same {
                    break;
                }
                end = i + next.len_utf8();
                chars.next();
            }
        }
        toks.push(Tok {
            kind,
            text: &text[start..end],
            start,
            end,
        });
    }
    toks
}

/// Month names and abbreviations, English and German, lower-case.
const MONTHS: &[(&str, u32)] = &[
    ("january", 1),
    ("jan", 1),
    ("januar", 1),
    ("jänner", 1),
    ("jaenner", 1),
    ("jän", 1),
    ("february", 2),
    ("feb", 2),
    ("febr", 2),
    ("februar", 2),
    ("march", 3),
    ("mar", 3),
    ("märz", 3),
    ("maerz", 3),
    ("mär", 3),
    ("mrz", 3),
    ("april", 4),
    ("apr", 4),
    ("may", 5),
    ("mai", 5),
    ("june", 6),
    ("jun", 6),
    ("juni", 6),
    ("july", 7),
    ("jul", 7),
    ("juli", 7),
    ("august", 8),
    ("aug", 8),
    ("september", 9),
    ("sep", 9),
    ("sept", 9),
    ("october", 10),
    ("oct", 10),
    ("oktober", 10),
    ("okt", 10),
    ("november", 11),
    ("nov", 11),
    ("december", 12),
    ("dec", 12),
    ("dezember", 12),
    ("dez", 12),
];

/// The month a word names (any case), if it names one. Most words are turned away by
/// their length or first letter before any comparison.
fn month_of(word: &str) -> Option<u32> {
    let mut lower = ['\0'; 9];
    let mut n = 0;
    for c in word.chars() {
        let mut folded = c.to_lowercase();
        let (Some(l), None) = (folded.next(), folded.next()) else {
            return None;
        };
        if n == lower.len() || (n == 0 && !"jfmasond".contains(l)) {
            return None;
        }
        lower[n] = l;
        n += 1;
    }
    if n < 3 {
        return None;
    }
    let lower = &lower[..n];
    MONTHS
        .iter()
        .find(|(name, _)| name.chars().eq(lower.iter().copied()))
        .map(|(_, month)| *month)
}

/// A date found before the plausibility check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Candidate {
    /// A date that reads one way only; `order` when it is a numeric date whose numbers
    /// prove which comes first (`13/01/2024`).
    Date {
        date: NaiveDate,
        order: Option<DateOrder>,
    },
    /// `a/b/year` where `a` and `b` could both be the day.
    Ambiguous { a: u32, b: u32, year: i32 },
}

struct Scanner<'a> {
    toks: Vec<Tok<'a>>,
    at: usize,
    mode: Mode,
    today: NaiveDate,
}

impl Scanner<'_> {
    fn adjacent(&self, i: usize, j: usize) -> bool {
        match (self.toks.get(i), self.toks.get(j)) {
            (Some(a), Some(b)) => a.end == b.start,
            _ => false,
        }
    }

    fn tok(&self, i: usize) -> Option<&Tok<'_>> {
        self.toks.get(i)
    }

    /// Whether the match starting at `i` is glued to what comes before: a letter or
    /// digit, or `sep` after a number (a longer numeric chain).
    fn glued_before(&self, i: usize, sep: Option<char>) -> bool {
        let Some(prev) = i.checked_sub(1) else {
            return false;
        };
        if !self.adjacent(prev, i) {
            return false;
        }
        match self.toks[prev].kind {
            Kind::Num | Kind::Word => true,
            Kind::Punct(c) => {
                Some(c) == sep
                    && prev
                        .checked_sub(1)
                        .is_some_and(|p| self.toks[p].kind == Kind::Num && self.adjacent(p, prev))
            }
        }
    }

    /// Whether the match ending at `j` runs on into what follows: a letter or digit
    /// (except an ISO time, `T10:00`), or `sep` then a number.
    fn glued_after(&self, j: usize, sep: Option<char>, iso: bool) -> bool {
        let next = j + 1;
        if !self.adjacent(j, next) {
            return false;
        }
        match self.toks[next].kind {
            Kind::Word => {
                let time = iso
                    && self.toks[next].text == "T"
                    && self.tok(next + 1).is_some_and(|t| t.kind == Kind::Num)
                    && self.adjacent(next, next + 1);
                !time
            }
            Kind::Num => true,
            Kind::Punct(c) => {
                Some(c) == sep
                    && self.tok(next + 1).is_some_and(|t| t.kind == Kind::Num)
                    && self.adjacent(next, next + 1)
            }
        }
    }

    /// `n1 sep n2 sep n3` with one separator, all adjacent, starting at `i`.
    fn numeric(&self, i: usize) -> Option<(char, [&Tok<'_>; 3])> {
        let t = self.toks.get(i..i + 5)?;
        if !(i..i + 4).all(|k| self.adjacent(k, k + 1)) {
            return None;
        }
        let Kind::Punct(sep) = t[1].kind else {
            return None;
        };
        let numbers = [&t[0], &t[2], &t[4]];
        if !t[3].is(sep) || numbers.iter().any(|n| n.kind != Kind::Num) {
            return None;
        }
        Some((sep, numbers))
    }

    /// A numeric date starting at `i`.
    fn numeric_date(&self, i: usize) -> Option<Candidate> {
        let (sep, [a, b, c]) = self.numeric(i)?;
        let seps: &[char] = match self.mode {
            Mode::Text => &['-', '/', '.'],
            Mode::FileName => &['-', '/', '.', '_'],
        };
        if !seps.contains(&sep)
            || self.glued_before(i, Some(sep))
            || self.glued_after(i + 4, Some(sep), a.text.len() == 4)
        {
            return None;
        }
        if a.text.len() == 4 {
            // Year first: always year, month, day.
            let (month, day) = (b.num(2)?, c.num(2)?);
            let date = NaiveDate::from_ymd_opt(i32::try_from(a.num(4)?).ok()?, month, day)?;
            return Some(Candidate::Date { date, order: None });
        }
        let (first, second) = (a.num(2)?, b.num(2)?);
        if sep == '.' {
            // Dotted: day first, everywhere it is written so.
            let year = match c.text.len() {
                4 => i32::try_from(c.num(4)?).ok()?,
                2 if a.text.len() == 2 && b.text.len() == 2 => self.century(c.num(2)?),
                _ => return None,
            };
            let date = NaiveDate::from_ymd_opt(year, second, first)?;
            return Some(Candidate::Date { date, order: None });
        }
        if sep == '_' || c.text.len() != 4 {
            return None;
        }
        let year = i32::try_from(c.num(4)?).ok()?;
        match (first > 12, second > 12) {
            (true, true) => None,
            (true, false) => Some(Candidate::Date {
                date: NaiveDate::from_ymd_opt(year, second, first)?,
                order: Some(DateOrder::Dmy),
            }),
            (false, true) => Some(Candidate::Date {
                date: NaiveDate::from_ymd_opt(year, first, second)?,
                order: Some(DateOrder::Mdy),
            }),
            (false, false) if first == second => Some(Candidate::Date {
                date: NaiveDate::from_ymd_opt(year, first, first)?,
                order: None,
            }),
            (false, false) => Some(Candidate::Ambiguous {
                a: first,
                b: second,
                year,
            }),
        }
    }

    /// A two-digit year: this century unless that is after next year.
    fn century(&self, yy: u32) -> i32 {
        let yy = i32::try_from(yy).unwrap_or(0);
        if 2000 + yy <= self.today.year() + 1 {
            2000 + yy
        } else {
            1900 + yy
        }
    }

    /// `20240301` in a file name.
    fn compact_date(&self, i: usize) -> Option<Candidate> {
        let t = self.tok(i)?;
        if self.mode != Mode::FileName || t.kind != Kind::Num || t.text.len() != 8 {
            return None;
        }
        if self.glued_before(i, None) || self.glued_after(i, None, true) {
            return None;
        }
        let (y, m, d) = (&t.text[..4], &t.text[4..6], &t.text[6..]);
        let date = NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)?;
        Some(Candidate::Date { date, order: None })
    }

    /// Skips an ordinal suffix (`1st`) glued to the number at `i`; the next index.
    fn after_ordinal(&self, i: usize) -> usize {
        match self.tok(i + 1) {
            Some(t)
                if self.adjacent(i, i + 1)
                    && t.kind == Kind::Word
                    && ["st", "nd", "rd", "th"]
                        .iter()
                        .any(|s| t.text.eq_ignore_ascii_case(s)) =>
            {
                i + 2
            }
            _ => i + 1,
        }
    }

    /// A month name at `k` (with its abbreviation dot); the month and the next index.
    fn month_at(&self, k: usize) -> Option<(u32, usize)> {
        let t = self.tok(k)?;
        if t.kind != Kind::Word {
            return None;
        }
        let month = month_of(t.text)?;
        let next = match self.tok(k + 1) {
            Some(dot) if dot.is('.') && self.adjacent(k, k + 1) => k + 2,
            _ => k + 1,
        };
        Some((month, next))
    }

    /// A four-digit year at `k` (after an optional comma); the year and its index.
    fn year_at(&self, k: usize) -> Option<(i32, usize)> {
        let k = match self.tok(k) {
            Some(t) if t.is(',') => k + 1,
            _ => k,
        };
        let t = self.tok(k)?;
        if t.text.len() != 4 {
            return None;
        }
        Some((i32::try_from(t.num(4)?).ok()?, k))
    }

    /// `1 March 2024`, `1st of March, 2024`, `1. März 2024`, `01-Mar-2024`.
    fn day_month_year(&self, i: usize) -> Option<Candidate> {
        let day = self.tok(i)?.num(2)?;
        if self.glued_before(i, Some('.')) {
            return None;
        }
        let mut k = self.after_ordinal(i);
        let dashed = self.tok(k).is_some_and(|t| t.is('-')) && self.adjacent(k - 1, k);
        let dotted = self.tok(k).is_some_and(|t| t.is('.')) && self.adjacent(k - 1, k);
        if dashed || dotted {
            k += 1;
        }
        if !dashed
            && self
                .tok(k)
                .is_some_and(|t| t.text.eq_ignore_ascii_case("of"))
        {
            k += 1;
        }
        let (month, after_month) = self.month_at(k)?;
        if dashed && !self.adjacent(k - 1, k) {
            return None;
        }
        let mut y = after_month;
        if dashed {
            if !self.tok(y).is_some_and(|t| t.is('-')) {
                return None;
            }
            y += 1;
        }
        let (year, end) = self.year_at(y)?;
        if self.glued_after(end, None, false) {
            return None;
        }
        let date = NaiveDate::from_ymd_opt(year, month, day)?;
        Some(Candidate::Date { date, order: None })
    }

    /// `March 1, 2024`, `Mar. 1st 2024`; else `März 2024` (capitalised, no day before).
    fn month_first(&self, i: usize) -> Option<Candidate> {
        let t = self.tok(i)?;
        let (month, k) = self.month_at(i)?;
        if self.glued_before(i, None) {
            return None;
        }
        if let Some(day) = self.tok(k).and_then(|d| d.num(2))
            && let Some((year, end)) = self.year_at(self.after_ordinal(k))
            && !self.glued_after(end, None, false)
        {
            let date = NaiveDate::from_ymd_opt(year, month, day)?;
            return Some(Candidate::Date { date, order: None });
        }
        let capitalised = t.text.chars().next().is_some_and(char::is_uppercase);
        if !capitalised || self.day_before(i) {
            return None;
        }
        let (year, end) = self.year_at(k)?;
        if self.glued_after(end, None, false) {
            return None;
        }
        let date = NaiveDate::from_ymd_opt(year, month, 1)?;
        Some(Candidate::Date { date, order: None })
    }

    /// Whether a day number stands before the month name at `i` (`32 March 2024` is no
    /// date, not March 2024).
    fn day_before(&self, i: usize) -> bool {
        let mut k = i;
        while let Some(p) = k.checked_sub(1) {
            let t = &self.toks[p];
            match t.kind {
                Kind::Num => return t.text.len() <= 2,
                Kind::Punct('.' | '-') => k = p,
                Kind::Word
                    if ["st", "nd", "rd", "th", "of"]
                        .iter()
                        .any(|s| t.text.eq_ignore_ascii_case(s)) =>
                {
                    k = p;
                }
                _ => return false,
            }
        }
        false
    }
}

impl Iterator for Scanner<'_> {
    type Item = Candidate;

    fn next(&mut self) -> Option<Candidate> {
        while self.at < self.toks.len() {
            let i = self.at;
            self.at += 1;
            let found = match self.toks[i].kind {
                Kind::Num => self
                    .numeric_date(i)
                    .or_else(|| self.compact_date(i))
                    .or_else(|| self.day_month_year(i)),
                Kind::Word => self.month_first(i),
                Kind::Punct(_) => None,
            };
            if found.is_some() {
                return found;
            }
        }
        None
    }
}

fn plausible(date: NaiveDate, today: NaiveDate) -> bool {
    let latest = today
        .checked_add_days(chrono::Days::new(MAX_DAYS_AHEAD))
        .unwrap_or(NaiveDate::MAX);
    date.year() >= EARLIEST_YEAR && date <= latest
}

fn first_date(text: &str, today: NaiveDate, order: DateOrder, mode: Mode) -> Option<NaiveDate> {
    let mut scanner = Scanner {
        toks: tokenize(text),
        at: 0,
        mode,
        today,
    };
    // Decided when first needed: the order a later numeric date of the text proves.
    let mut proven: Option<Option<DateOrder>> = None;
    while let Some(found) = scanner.next() {
        let date = match found {
            Candidate::Date { date, .. } => date,
            Candidate::Ambiguous { a, b, year } => {
                let from = scanner.at;
                let proven = *proven.get_or_insert_with(|| {
                    let rest = Scanner {
                        toks: scanner.toks.clone(),
                        at: from,
                        mode,
                        today,
                    };
                    rest.into_iter().find_map(|c| match c {
                        Candidate::Date { order, .. } => order,
                        Candidate::Ambiguous { .. } => None,
                    })
                });
                let (month, day) = match proven.unwrap_or(order) {
                    DateOrder::Dmy => (b, a),
                    DateOrder::Mdy => (a, b),
                };
                match NaiveDate::from_ymd_opt(year, month, day) {
                    Some(date) => date,
                    None => continue,
                }
            }
        };
        if plausible(date, today) {
            return Some(date);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 7).unwrap()
    }

    fn ymd(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// Text → the date it must give (`None`: no date).
    const TEXT: &[(&str, Option<&str>)] = &[
        // ISO and year first.
        ("Invoice 2024-03-01", Some("2024-03-01")),
        (
            "Created: 2024-03-01T10:15:00Z by the scanner",
            Some("2024-03-01"),
        ),
        ("version v2.4 – 2020/01/19", Some("2020-01-19")),
        ("Stand 2024.3.1", Some("2024-03-01")),
        // Dotted: day first.
        ("Berlin, den 01.03.2024", Some("2024-03-01")),
        ("Datum: 1.3.2024", Some("2024-03-01")),
        ("Kassenbon 01.03.24 12:31", Some("2024-03-01")),
        ("Rechnung vom 31.12.99", Some("1999-12-31")),
        // Slash and dash, day or month first as the numbers allow.
        ("Date: 13/01/2024", Some("2024-01-13")),
        ("Date: 01/13/2024", Some("2024-01-13")),
        ("Date: 03/01/2024", Some("2024-01-03")),
        ("Date: 03/01/2024, paid 03/25/2024", Some("2024-03-01")),
        ("Date: 03/01/2024, paid 25/03/2024", Some("2024-01-03")),
        ("Datum 03-01-2024", Some("2024-01-03")),
        ("on 05/05/2024", Some("2024-05-05")),
        // English month names.
        (
            "The euro package\nMelchior FRANZ\nMarch 7, 2005\nAbstract",
            Some("2005-03-07"),
        ),
        ("Friday, 1 March 2024", Some("2024-03-01")),
        ("the 1st of March, 2024", Some("2024-03-01")),
        ("Mar. 1st 2024", Some("2024-03-01")),
        (
            "Version 1.003, 17 May 2002 by Diego Puga",
            Some("2002-05-17"),
        ),
        ("DUE 01-MAR-2024", Some("2024-03-01")),
        ("sept 9 2021", Some("2021-09-09")),
        ("Version 2.5 – January 2020", Some("2020-01-01")),
        ("Published December, 1999.", Some("1999-12-01")),
        // German month names.
        ("München, 1. März 2024", Some("2024-03-01")),
        ("am 1.März 2024", Some("2024-03-01")),
        ("Stand: März 2024", Some("2024-03-01")),
        ("MÄRZ 2024", Some("2024-03-01")),
        ("Wien, am 3. Jänner 2023", Some("2023-01-03")),
        ("24. Dez. 2023", Some("2023-12-24")),
        ("3 Mrz 2021", Some("2021-03-03")),
        ("15. Oktober 2022", Some("2022-10-15")),
        ("Maerz 2019", Some("2019-03-01")),
        // The first date wins.
        (
            "Angebot 02.01.2023, gültig bis 31.01.2023",
            Some("2023-01-02"),
        ),
        ("May 2020 then 01.02.2021", Some("2020-05-01")),
        // Impossible or implausible ones are skipped.
        ("99.99.9999", None),
        ("ref 99.99.9999 then 01.03.2024", Some("2024-03-01")),
        ("31.02.2024", None),
        ("32 March 2024", None),
        ("born 12.05.1850", None),
        ("valid until 01.01.2099", None),
        ("00.00.0000 and 2024-00-10 and 2024-13-01", None),
        // Not dates at all.
        ("In 2024 we grew.", None),
        ("version 1.01.03.2024", None),
        ("IP 10.10.2024.1", None),
        ("abc2024-03-01", None),
        ("call 2024-03-01-17", None),
        ("order 20240301 shipped", None),
        ("we may 2024 consider", None),
        ("march 2024", None),
        ("12/31", None),
        ("", None),
    ];

    #[test]
    fn real_world_formats_in_text() {
        for (text, want) in TEXT {
            let got = find_in_text(text, today(), DateOrder::Dmy);
            assert_eq!(got, want.map(ymd), "{text:?}");
        }
    }

    #[test]
    fn ambiguous_numeric_dates_follow_the_setting() {
        let got = find_in_text("Date: 03/01/2024", today(), DateOrder::Mdy);
        assert_eq!(got, Some(ymd("2024-03-01")));
        // Unless the text proves the other order.
        let got = find_in_text("03/01/2024 and 25/03/2024", today(), DateOrder::Mdy);
        assert_eq!(got, Some(ymd("2024-01-03")));
    }

    /// File name → date.
    const NAMES: &[(&str, Option<&str>)] = &[
        ("scan_20240301.pdf", Some("2024-03-01")),
        ("IMG_20240301_123456.jpg", Some("2024-03-01")),
        ("2024-03-01 invoice.pdf", Some("2024-03-01")),
        ("2024_03_01_invoice.pdf", Some("2024-03-01")),
        ("Rechnung 01.03.2024.pdf", Some("2024-03-01")),
        ("Rechnung 01.03.2024", Some("2024-03-01")),
        ("letter 1 March 2024.docx", Some("2024-03-01")),
        ("Kontoauszug März 2024.pdf", Some("2024-03-01")),
        ("scan_20241399.pdf", None),
        ("invoice-4711.pdf", None),
        ("scan_12345678.pdf", None),
        ("report2024.pdf", None),
        ("photo_202403011.jpg", None),
    ];

    #[test]
    fn real_world_formats_in_file_names() {
        for (name, want) in NAMES {
            let got = find_in_filename(name, today(), DateOrder::Dmy);
            assert_eq!(got, want.map(ymd), "{name:?}");
        }
    }

    #[test]
    fn text_comes_before_the_file_name() {
        let both = derive(
            "Berlin, 01.03.2024",
            "2023-05-06 x.pdf",
            today(),
            DateOrder::Dmy,
        );
        assert_eq!(
            both,
            Some(DocumentDate {
                date: ymd("2024-03-01"),
                found_in: FoundIn::Content
            })
        );
        let name_only = derive("no date here", "2023-05-06 x.pdf", today(), DateOrder::Dmy);
        assert_eq!(
            name_only,
            Some(DocumentDate {
                date: ymd("2023-05-06"),
                found_in: FoundIn::FileName
            })
        );
        assert_eq!(
            derive("nothing", "nothing.pdf", today(), DateOrder::Dmy),
            None
        );
    }

    #[test]
    fn only_the_start_of_the_text_is_read() {
        let far = format!("{} 01.03.2024", "word ".repeat(SCAN_WINDOW_BYTES / 5 + 10));
        assert_eq!(find_in_text(&far, today(), DateOrder::Dmy), None);
        let near = format!("{} 01.03.2024", "word ".repeat(SCAN_WINDOW_BYTES / 5 - 10));
        assert_eq!(
            find_in_text(&near, today(), DateOrder::Dmy),
            Some(ymd("2024-03-01"))
        );
        // A date across the window's edge is never read cut short (01.03.20…).
        let pad = "x".repeat(SCAN_WINDOW_BYTES - 8);
        let edge = format!("{pad} 01.03.2024");
        assert_eq!(find_in_text(&edge, today(), DateOrder::Dmy), None);
        // Multi-byte characters at the edge do not panic.
        let wide = "ä".repeat(SCAN_WINDOW_BYTES);
        assert_eq!(find_in_text(&wide, today(), DateOrder::Dmy), None);
    }

    #[test]
    fn the_future_is_bounded_by_today() {
        // Today + 366 days is 2027-12-08.
        let soon = find_in_text("08.12.2027", today(), DateOrder::Dmy);
        assert_eq!(soon, Some(ymd("2027-12-08")));
        assert_eq!(find_in_text("09.12.2027", today(), DateOrder::Dmy), None);
        assert_eq!(
            find_in_text("01.01.1900", today(), DateOrder::Dmy),
            Some(ymd("1900-01-01"))
        );
        assert_eq!(find_in_text("31.12.1899", today(), DateOrder::Dmy), None);
    }

    /// Every day/month/year combination of a dotted date reads as itself when it is a
    /// real, plausible date and as nothing otherwise (the `99.99.9999` family).
    #[test]
    fn every_dotted_combination_is_a_real_date_or_none() {
        for year in [1899, 1900, 1999, 2024, 2027, 2028, 9999] {
            for month in 0..=13 {
                for day in 0..=32 {
                    let text = format!("{day:02}.{month:02}.{year}");
                    let want = NaiveDate::from_ymd_opt(year, month, day)
                        .filter(|d| plausible(*d, today()));
                    assert_eq!(find_in_text(&text, today(), DateOrder::Dmy), want, "{text}");
                }
            }
        }
    }

    #[test]
    fn month_names_are_recognised_in_any_case() {
        for (name, month) in MONTHS {
            assert_eq!(month_of(name), Some(*month), "{name}");
            assert_eq!(month_of(&name.to_uppercase()), Some(*month), "{name}");
        }
        assert_eq!(month_of("Mayday"), None);
        assert_eq!(month_of("ma"), None);
    }
}
