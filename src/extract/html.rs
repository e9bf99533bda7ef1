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
pub(crate) fn visible_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    // `<title>` is inside `<head>` but worth keeping.
    if let Some(title) = element_text(html, "title") {
        out.push_str(&decode_entities(title));
        out.push_str("\n\n");
    }
    while let Some(lt) = rest.find('<') {
        out.push_str(&decode_entities(&rest[..lt]));
        rest = &rest[lt..];
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |end| &after[end + 3..]);
            continue;
        }
        if rest.starts_with("<!") || rest.starts_with("<?") {
            rest = rest.find('>').map_or("", |end| &rest[end + 1..]);
            continue;
        }
        let Some(gt) = tag_end(rest) else {
            // A lone '<' in text.
            out.push('<');
            rest = &rest[1..];
            continue;
        };
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if name.is_empty() {
            out.push_str(&decode_entities(&format!("<{tag}>")));
            continue;
        }
        if !closing && HIDDEN.contains(&name.as_str()) && !tag.ends_with('/') {
            rest = skip_past_close(rest, &name);
            continue;
        }
        if BLOCK.contains(&name.as_str()) {
            let wanted = if closing && PARAGRAPH.contains(&name.as_str()) {
                2
            } else {
                1
            };
            ensure_newlines(&mut out, wanted);
        } else if name == "td" || name == "th" {
            out.push('\t');
        }
    }
    out.push_str(&decode_entities(rest));
    out
}

/// Makes `out` end with at least `n` line breaks (spaces between them ignored).
fn ensure_newlines(out: &mut String, n: usize) {
    let have = out
        .chars()
        .rev()
        .take_while(|c| c.is_whitespace())
        .filter(|c| *c == '\n')
        .count();
    for _ in have..n {
        out.push('\n');
    }
}

/// Index of the `>` closing the tag that starts `s` (quotes respected).
fn tag_end(s: &str) -> Option<usize> {
    let second = s[1..].chars().next()?;
    if !(second.is_ascii_alphabetic() || second == '/') {
        return None;
    }
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices().skip(1) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

/// Skips to just after `</name…>` (ASCII case-insensitive), or to the end.
fn skip_past_close<'a>(s: &'a str, name: &str) -> &'a str {
    let mut from = 0;
    while let Some(pos) = s[from..].find("</") {
        let at = from + pos;
        let candidate = &s.as_bytes()[at + 2..];
        if candidate.len() >= name.len()
            && candidate[..name.len()].eq_ignore_ascii_case(name.as_bytes())
        {
            let after = &s[at..];
            return after.find('>').map_or("", |gt| &after[gt + 1..]);
        }
        from = at + 2;
    }
    ""
}

/// Content of the first `<name …>…</name>`, if any.
fn element_text<'a>(html: &'a str, name: &str) -> Option<&'a str> {
    let lower = html.to_ascii_lowercase();
    let open = lower.find(&format!("<{name}"))?;
    let start = open + lower[open..].find('>')? + 1;
    let end = start + lower[start..].find(&format!("</{name}"))?;
    Some(&html[start..end])
}

/// Decodes the common named and all numeric character references.
fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
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
    out
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
