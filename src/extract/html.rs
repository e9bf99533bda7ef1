//! HTML → visible text with a small, linear, allocation-bounded scanner (real-world HTML
//! is not XML, so no XML parser here).

/// Elements whose content is never visible.
const HIDDEN: &[&str] = &[
    "script", "style", "template", "noscript", "head", "svg", "math", "iframe", "object",
];

/// Elements that start a new line.
const BLOCK: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "dd",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "tr",
    "ul",
    "title",
    "body",
    "html",
    "caption",
    "tbody",
    "thead",
    "tfoot",
];

/// Paragraph-like elements get a blank line after them.
const PARAGRAPH: &[&str] = &[
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "table",
    "ul",
    "ol",
    "title",
];

/// Returns the visible text of an HTML document.
///
/// Linear in the input: every byte is examined a bounded number of times (see
/// [`Scan::examined`] and the tests below), whatever the markup. In particular a tag that
/// is never closed (`<a<a<a…`, `<div ` without `>`) runs to the end of the input and is
/// dropped, as browsers do (HTML's "eof-in-tag"), instead of being searched for again
/// from every later `<`.
pub(crate) fn visible_text(html: &str) -> String {
    let mut scan = Scan::default();
    scan.run(html);
    scan.out.buf
}

/// One pass over a document: the text built so far and a count of the input bytes
/// examined (what the linearity tests measure).
#[derive(Default)]
struct Scan {
    out: Text,
    /// Input bytes looked at, summed over every search; stays within a small multiple of
    /// the input length.
    examined: usize,
}

impl Scan {
    fn run(&mut self, html: &str) {
        // `<title>` is inside `<head>` but worth keeping.
        if let Some(title) = self.element_text(html, "title") {
            decode_entities(title, &mut self.out);
            self.out.push_str("\n\n");
        }
        let mut rest = html;
        while let Some(lt) = self.find(rest, "<") {
            decode_entities(&rest[..lt], &mut self.out);
            rest = &rest[lt..];
            if let Some(after) = rest.strip_prefix("<!--") {
                rest = self.find(after, "-->").map_or("", |end| &after[end + 3..]);
                continue;
            }
            if rest.starts_with("<!") || rest.starts_with("<?") {
                rest = self.find(rest, ">").map_or("", |end| &rest[end + 1..]);
                continue;
            }
            let gt = match self.tag_end(rest) {
                TagEnd::NotATag => {
                    // A lone '<' in text.
                    self.out.push('<');
                    rest = &rest[1..];
                    continue;
                }
                // The tag swallows the rest of the input.
                TagEnd::Unterminated => return,
                TagEnd::At(gt) => gt,
            };
            let tag = &rest[1..gt];
            rest = &rest[gt + 1..];
            let closing = tag.starts_with('/');
            let name = tag.trim_start_matches('/');
            let name_len = name.bytes().take_while(u8::is_ascii_alphanumeric).count();
            if name_len == 0 {
                decode_entities(&format!("<{tag}>"), &mut self.out);
                continue;
            }
            match Element::of(&name[..name_len]) {
                Element::Hidden(name) if !closing && !tag.ends_with('/') => {
                    rest = self.skip_past_close(rest, name);
                }
                Element::Block { paragraph } => {
                    self.out
                        .ensure_newlines(if closing && paragraph { 2 } else { 1 });
                }
                Element::Cell => self.out.push('\t'),
                Element::Hidden(_) | Element::Other => {}
            }
        }
        decode_entities(rest, &mut self.out);
    }

    /// `haystack.find(needle)`, counting the bytes the search passes over.
    fn find(&mut self, haystack: &str, needle: &str) -> Option<usize> {
        // A one-byte needle takes the `char` search, which runs on memchr.
        let found = match needle.as_bytes() {
            [b] => haystack.find(char::from(*b)),
            _ => haystack.find(needle),
        };
        self.examined += found.map_or(haystack.len(), |at| at + needle.len());
        found
    }

    /// Where the tag starting `s` (at a `<`) ends, following the HTML tokenizer: a tag is
    /// `<` + letter or `</`; quotes delimit only attribute values (a quote right after
    /// `=`), so `<p don't>` ends at its `>`. One forward pass, never repeated.
    fn tag_end(&mut self, s: &str) -> TagEnd {
        let b = s.as_bytes();
        match b.get(1) {
            Some(c) if c.is_ascii_alphabetic() || *c == b'/' => {}
            _ => return TagEnd::NotATag,
        }
        let mut quote: Option<u8> = None;
        let mut after_equals = false;
        for (i, &c) in b.iter().enumerate().skip(1) {
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None => match c {
                    b'>' => {
                        self.examined += i + 1;
                        return TagEnd::At(i);
                    }
                    b'"' | b'\'' if after_equals => {
                        quote = Some(c);
                        after_equals = false;
                    }
                    b'=' => after_equals = true,
                    c if c.is_ascii_whitespace() => {}
                    _ => after_equals = false,
                },
            }
        }
        self.examined += b.len();
        TagEnd::Unterminated
    }

    /// Skips to just after `</name…>` (ASCII case-insensitive), or to the end.
    fn skip_past_close<'a>(&mut self, s: &'a str, name: &str) -> &'a str {
        let mut from = 0;
        while let Some(pos) = self.find(&s[from..], "</") {
            let at = from + pos;
            let candidate = &s.as_bytes()[at + 2..];
            if candidate.len() >= name.len()
                && candidate[..name.len()].eq_ignore_ascii_case(name.as_bytes())
            {
                let after = &s[at..];
                return self.find(after, ">").map_or("", |gt| &after[gt + 1..]);
            }
            from = at + 2;
        }
        ""
    }

    /// Content of the first `<name …>…</name>`, if any.
    fn element_text<'a>(&mut self, html: &'a str, name: &str) -> Option<&'a str> {
        let lower = html.to_ascii_lowercase();
        self.examined += html.len();
        let open = self.find(&lower, &format!("<{name}"))?;
        let start = open + self.find(&lower[open..], ">")? + 1;
        let end = start + self.find(&lower[start..], &format!("</{name}"))?;
        Some(&html[start..end])
    }
}

/// What a tag name means for the visible text.
enum Element {
    /// Content never visible (the lower-case name, to find its end tag).
    Hidden(&'static str),
    /// Starts a new line; a closing paragraph-like element leaves a blank line.
    Block {
        paragraph: bool,
    },
    /// A table cell: a tab.
    Cell,
    Other,
}

impl Element {
    /// Classifies a tag name (ASCII, any case) without allocating.
    fn of(name: &str) -> Self {
        let mut lower = [0u8; 12];
        if name.len() > lower.len() {
            return Self::Other;
        }
        for (l, b) in lower.iter_mut().zip(name.bytes()) {
            *l = b.to_ascii_lowercase();
        }
        let lower = std::str::from_utf8(&lower[..name.len()]).unwrap_or_default();
        if let Some(hidden) = HIDDEN.iter().find(|h| **h == lower) {
            return Self::Hidden(hidden);
        }
        if BLOCK.contains(&lower) {
            return Self::Block {
                paragraph: PARAGRAPH.contains(&lower),
            };
        }
        if lower == "td" || lower == "th" {
            return Self::Cell;
        }
        Self::Other
    }
}

/// How a `<` in the input ends.
enum TagEnd {
    /// Not followed by a letter or `/`: literal text.
    NotATag,
    /// A tag closed by the `>` at this index.
    At(usize),
    /// A tag that never closes (it runs to the end of the input).
    Unterminated,
}

/// The visible text being built, remembering how many line breaks its trailing white
/// space holds, so that asking for a line break never re-reads the output.
#[derive(Default)]
struct Text {
    buf: String,
    /// Line breaks in the white space at the end of `buf`.
    trailing_newlines: usize,
    /// Bytes written or re-read, for the linearity tests.
    work: usize,
}

impl Text {
    fn push_str(&mut self, s: &str) {
        let tail = match s.rfind(|c: char| !c.is_whitespace()) {
            Some(last) => {
                self.trailing_newlines = 0;
                &s[last..]
            }
            None => s,
        };
        self.trailing_newlines += tail.bytes().filter(|b| *b == b'\n').count();
        self.work += s.len();
        self.buf.push_str(s);
    }

    fn push(&mut self, c: char) {
        if c == '\n' {
            self.trailing_newlines += 1;
        } else if !c.is_whitespace() {
            self.trailing_newlines = 0;
        }
        self.work += 1;
        self.buf.push(c);
    }

    /// Makes the text end with at least `n` line breaks (spaces between them ignored).
    fn ensure_newlines(&mut self, n: usize) {
        for _ in self.trailing_newlines..n {
            self.push('\n');
        }
    }
}

/// Decodes the common named and all numeric character references of `s` into `out`.
fn decode_entities(s: &str, out: &mut Text) {
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let semi = rest.bytes().take(12).position(|b| b == b';');
        let decoded = semi.and_then(|semi| decode_one(&rest[1..semi]).map(|c| (c, semi)));
        match decoded {
            Some((c, semi)) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
}

fn decode_one(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code).filter(|c| *c != '\0');
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "ndash" => '–',
        "mdash" => '—',
        "hellip" => '…',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "laquo" => '«',
        "raquo" => '»',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "euro" => '€',
        "shy" => '\u{AD}',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Work done on `html`: input bytes examined plus output bytes written.
    fn work(html: &str) -> usize {
        let mut scan = Scan::default();
        scan.run(html);
        scan.examined + scan.out.work
    }

    /// Hostile shapes, each built from `n` repetitions.
    fn shapes(n: usize) -> Vec<(&'static str, String)> {
        vec![
            ("unterminated tags", "<a".repeat(n)),
            ("unterminated divs", "<div ".repeat(n)),
            ("tags in text", format!("x{}", "<a<b c".repeat(n))),
            ("lone angle brackets", "a < b <3 <".repeat(n)),
            (
                "unterminated quoted attribute",
                format!("<a title=\"{}", "<b>x".repeat(n)),
            ),
            (
                "quotes everywhere",
                format!("{}>", "<a x=\"'<b y='\"".repeat(n)),
            ),
            (
                "huge attribute value",
                format!("<a href=\"{}\">link</a>", "x".repeat(n * 8)),
            ),
            (
                "deeply nested",
                "<div><p>".repeat(n) + "text" + &"</p></div>".repeat(n),
            ),
            ("line breaks and spaces", "</p>   <br> ".repeat(n)),
            (
                "unclosed script",
                format!("<script>{}", "</scrip".repeat(n)),
            ),
            ("many scripts", "<script>x</script>".repeat(n)),
            ("unclosed comment", format!("<!--{}", "--".repeat(n))),
            ("unclosed declarations", "<!x<?y".repeat(n)),
            ("titles", "<title".repeat(n)),
            ("ampersands", "&&#&#x&amp".repeat(n)),
        ]
    }

    #[test]
    fn work_is_linear_in_the_input_for_hostile_shapes() {
        for ((name, small), (_, large)) in shapes(2_000).into_iter().zip(shapes(16_000)) {
            let (w_small, w_large) = (work(&small), work(&large));
            // A bounded number of passes over every byte…
            assert!(
                w_large <= 8 * large.len() + 64,
                "{name}: {w_large} steps for {} bytes",
                large.len()
            );
            // …so 8× the input costs about 8× the work, not 64×.
            assert!(
                w_large <= 10 * w_small.max(small.len()),
                "{name}: {w_small} steps at {} bytes, {w_large} at {}",
                small.len(),
                large.len()
            );
        }
    }

    /// Visible text, normalized as the extractor stores it.
    fn text(html: &str) -> String {
        crate::extract::normalize(&visible_text(html))
    }

    #[test]
    fn an_unterminated_tag_swallows_the_rest_like_a_browser() {
        assert_eq!(text("before <a<a<a<a"), "before");
        assert_eq!(text("before <div class=\"x\" "), "before");
        assert_eq!(text("a < b and c <3 d"), "a < b and c <3 d");
    }

    #[test]
    fn quotes_delimit_only_attribute_values() {
        // An apostrophe in an attribute name does not hide the rest of the page.
        assert_eq!(text("<p don't>shown</p>"), "shown");
        assert_eq!(text("<a title='x > y'>link</a> after"), "link after");
        assert_eq!(text("<a title = \"a>b\" >x</a>"), "x");
    }

    #[test]
    fn line_breaks_ignore_spaces_between_blocks() {
        assert_eq!(text("<p>a</p>   <p>b</p>  <br> c"), "a\n\nb\n\nc");
    }
}
