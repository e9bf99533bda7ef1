//! Whitespace and hyphenation normalization of extracted text.

/// Normalizes extracted text:
/// - line endings become `\n`; soft hyphens (U+00AD) and control characters are removed;
/// - runs of spaces/tabs/other horizontal whitespace become one space; lines are trimmed;
/// - a word hyphenated at a line end is joined when clear: the hyphen follows a letter and
///   the next line starts with a lower-case letter (`exam-\nple` → `example`);
/// - at most one blank line in a row (max 2 consecutive `\n`); leading/trailing blank
///   space is removed.
pub fn normalize(input: &str) -> String {
    // Pass 1: per-line whitespace collapse.
    let unified = input.replace("\r\n", "\n").replace('\r', "\n");
    let mut lines: Vec<String> = Vec::new();
    for line in unified.split('\n') {
        let mut out = String::with_capacity(line.len());
        let mut pending_space = false;
        for c in line.chars() {
            if c == '\u{AD}' {
                continue;
            }
            if c.is_whitespace() || c == '\u{FEFF}' {
                pending_space = true;
                continue;
            }
            if c.is_control() {
                continue;
            }
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(c);
        }
        lines.push(out);
    }

    // Pass 2: join hyphenated words, then emit with at most one blank line in a row.
    let mut result = String::with_capacity(unified.len());
    let mut blank_run = 0usize;
    let mut i = 0;
    while i < lines.len() {
        let mut line = std::mem::take(&mut lines[i]);
        // Join while this line ends with "letter-" and the next starts with a lower-case letter.
        while i + 1 < lines.len() && ends_with_letter_hyphen(&line) {
            let next = &lines[i + 1];
            if next.chars().next().is_some_and(char::is_lowercase) {
                line.pop(); // the hyphen
                // The next line's first word continues this one; the rest stays on the line.
                line.push_str(next);
                lines[i + 1] = String::new();
                i += 1;
            } else {
                break;
            }
        }
        if line.is_empty() {
            blank_run += 1;
        } else {
            if !result.is_empty() {
                result.push_str(if blank_run > 0 { "\n\n" } else { "\n" });
            }
            blank_run = 0;
            result.push_str(&line);
        }
        i += 1;
    }
    result
}

fn ends_with_letter_hyphen(line: &str) -> bool {
    let mut rev = line.chars().rev();
    rev.next() == Some('-') && rev.next().is_some_and(char::is_alphabetic)
}
