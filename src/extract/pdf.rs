//! PDF via pdf-extract (which can panic on some files: contained here, and the whole
//! extraction runs in a child process anyway).

use super::{ExtractError, contain_panic};

/// Checks the `%PDF-` header and the nesting depth (before any parser sees the file).
pub(crate) fn check(bytes: &[u8]) -> Result<(), ExtractError> {
    // The header must be within the first 1024 bytes (ISO 32000 tolerance); we accept
    // leading whitespace only, which is what real writers produce.
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    if !bytes[start..].starts_with(b"%PDF-") {
        return Err(ExtractError::mismatch(
            "PDF",
            "it does not start with %PDF-",
        ));
    }
    check_nesting(bytes)?;
    Ok(())
}

/// A PDF's text and its number of pages (when the reader could tell).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PdfText {
    pub text: String,
    pub pages: Option<u32>,
}

/// Extracts the text of a PDF after [`check`]ing it. When the built-in parser crashes or
/// refuses the file, poppler's `pdftotext` reads it, where installed (issue 13, item 6: no
/// real PDF fails to read); the parser's reason stands when that fails too.
pub(crate) fn extract(bytes: &[u8]) -> Result<PdfText, ExtractError> {
    extract_or_fall_back(bytes, builtin)
}

fn extract_or_fall_back(
    bytes: &[u8],
    parser: impl FnOnce(&[u8]) -> Result<PdfText, ExtractError>,
) -> Result<PdfText, ExtractError> {
    check(bytes)?;
    match contain_panic("PDF", || parser(bytes)) {
        Ok(text) => Ok(text),
        Err(reason) => match pdftotext_pages(bytes) {
            Some(pages) => {
                tracing::info!(%reason, "the PDF parser failed; read with pdftotext");
                Ok(PdfText {
                    pages: u32::try_from(pages.len()).ok(),
                    text: pages.join("\n\n"),
                })
            }
            None => Err(reason),
        },
    }
}

fn read_err(e: &dyn std::fmt::Display) -> ExtractError {
    ExtractError::Failed(format!("the PDF could not be read: {e}"))
}

/// The pages of a parsed document.
fn page_count(doc: &pdf_extract::Document) -> Option<u32> {
    u32::try_from(doc.get_pages().len()).ok()
}

/// The built-in parser (pdf-extract), with its retry for TeX glyph names. The document is
/// parsed once for its pages and its text.
fn builtin(bytes: &[u8]) -> Result<PdfText, ExtractError> {
    let first = std::panic::catch_unwind(|| -> Result<PdfText, ExtractError> {
        let mut doc = pdf_extract::Document::load_mem(bytes).map_err(|e| read_err(&e))?;
        if doc.is_encrypted() {
            doc.decrypt("").map_err(|e| read_err(&e))?;
        }
        let mut text = String::new();
        pdf_extract::output_doc(&doc, &mut pdf_extract::PlainTextOutput::new(&mut text))
            .map_err(|e| read_err(&e))?;
        Ok(PdfText {
            text,
            pages: page_count(&doc),
        })
    });
    let read = match first {
        Ok(result) => result,
        // pdf-extract 0.12 panics on TeX glyph names that its table maps to lone UTF-16
        // surrogates (`FFsmall`, `compwordmark`, …; 4 of the 11 texlive font-doc PDFs in
        // the real-document corpus), both in embedded CFF fonts and in /Differences
        // encodings: retry once with those names replaced and the embedded Type 1 / CFF
        // font programs dropped (the text then comes from ToUnicode maps and encodings).
        Err(_) => contain_panic("PDF", || with_tex_glyph_names_fixed(bytes)),
    }?;
    Ok(PdfText {
        text: compose_glyphs(&read.text),
        pages: read.pages,
    })
}

/// The text layer of each page (the built-in parser; already [`check`]ed), in one pass
/// over the document: pdf-extract's own page-by-page reading walks the whole page tree
/// for every page, quadratic in the pages (minutes for a PDF of thousands of pages).
pub(crate) fn extract_pages(bytes: &[u8]) -> Result<Vec<String>, ExtractError> {
    use std::{cell::RefCell, rc::Rc};
    contain_panic("PDF", || {
        let mut doc = pdf_extract::Document::load_mem(bytes).map_err(|e| read_err(&e))?;
        if doc.is_encrypted() {
            doc.decrypt("").map_err(|e| read_err(&e))?;
        }
        let pages = Rc::new(RefCell::new(Vec::new()));
        let mut sink = PageSink(Rc::clone(&pages));
        let mut out = PerPage {
            pages: Rc::clone(&pages),
            text: pdf_extract::PlainTextOutput::new(&mut sink as &mut dyn std::io::Write),
        };
        pdf_extract::output_doc(&doc, &mut out).map_err(|e| read_err(&e))?;
        drop(out);
        let pages = pages.take();
        Ok(pages
            .iter()
            .map(|p| compose_glyphs(&String::from_utf8_lossy(p)))
            .collect())
    })
}

/// Where [`PerPage`]'s text goes: appended to the last page.
struct PageSink(std::rc::Rc<std::cell::RefCell<Vec<Vec<u8>>>>);

impl std::io::Write for PageSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(page) = self.0.borrow_mut().last_mut() {
            page.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// pdf-extract's plain-text output, starting a new page of text at each page.
struct PerPage<'a> {
    pages: std::rc::Rc<std::cell::RefCell<Vec<Vec<u8>>>>,
    text: pdf_extract::PlainTextOutput<&'a mut dyn std::io::Write>,
}

impl pdf_extract::OutputDev for PerPage<'_> {
    fn begin_page(
        &mut self,
        page_num: u32,
        media_box: &pdf_extract::MediaBox,
        art_box: Option<(f64, f64, f64, f64)>,
    ) -> Result<(), pdf_extract::OutputError> {
        self.pages.borrow_mut().push(Vec::new());
        self.text.begin_page(page_num, media_box, art_box)
    }
    fn end_page(&mut self) -> Result<(), pdf_extract::OutputError> {
        self.text.end_page()
    }
    fn output_character(
        &mut self,
        trm: &pdf_extract::Transform,
        width: f64,
        spacing: f64,
        font_size: f64,
        char: &str,
    ) -> Result<(), pdf_extract::OutputError> {
        self.text
            .output_character(trm, width, spacing, font_size, char)
    }
    fn begin_word(&mut self) -> Result<(), pdf_extract::OutputError> {
        self.text.begin_word()
    }
    fn end_word(&mut self) -> Result<(), pdf_extract::OutputError> {
        self.text.end_word()
    }
    fn end_line(&mut self) -> Result<(), pdf_extract::OutputError> {
        self.text.end_line()
    }
}

/// The text of each page read by poppler's `pdftotext`, when installed and it succeeds
/// (one child process with a 60 s / 1 GiB budget; pages are separated by form feeds).
pub(crate) fn pdftotext_pages(bytes: &[u8]) -> Option<Vec<String>> {
    let pdftotext = super::child::find_program("pdftotext")?;
    let budget = super::child::Budget {
        wall: std::time::Duration::from_secs(60),
        memory_bytes: 1024 * 1024 * 1024,
        max_output: 64 * 1024 * 1024,
    };
    let args: [&std::ffi::OsStr; 5] = [
        "-q".as_ref(),
        "-enc".as_ref(),
        "UTF-8".as_ref(),
        "-".as_ref(),
        "-".as_ref(),
    ];
    let out = super::child::run(&pdftotext, &args, &[], bytes, budget).ok()?;
    if !out.status.success() || out.stdout_overflowed {
        tracing::debug!(stderr = %out.stderr, "pdftotext failed");
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut pages: Vec<String> = text.split('\u{c}').map(str::to_owned).collect();
    // pdftotext ends every page with a form feed: the last piece is empty.
    if pages.len() > 1 && pages.last().is_some_and(|p| p.trim().is_empty()) {
        pages.pop();
    }
    Some(pages)
}

/// Makes PDF text searchable the way it reads: Latin ligature code points (`ﬁ`, `ﬃ`, …,
/// U+FB00–FB06) become their letters, and a spacing accent followed by a letter, as TeX
/// sets accents (`Universit¨at`), becomes the precomposed letter (`Universität`) when
/// Unicode has one. (ASCII `` ` `` `^` `~` are left alone: in PDFs they are more often
/// literal than accents.)
fn compose_glyphs(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{FB00}' => out.push_str("ff"),
            '\u{FB01}' => out.push_str("fi"),
            '\u{FB02}' => out.push_str("fl"),
            '\u{FB03}' => out.push_str("ffi"),
            '\u{FB04}' => out.push_str("ffl"),
            '\u{FB05}' | '\u{FB06}' => out.push_str("st"),
            _ => {
                let combining = match c {
                    '\u{B4}' => Some('\u{301}'),
                    '\u{2C6}' => Some('\u{302}'),
                    '\u{2DC}' => Some('\u{303}'),
                    '\u{AF}' => Some('\u{304}'),
                    '\u{2D8}' => Some('\u{306}'),
                    '\u{2D9}' => Some('\u{307}'),
                    '\u{A8}' => Some('\u{308}'),
                    '\u{2DA}' => Some('\u{30A}'),
                    '\u{2DD}' => Some('\u{30B}'),
                    '\u{2C7}' => Some('\u{30C}'),
                    '\u{B8}' => Some('\u{327}'),
                    _ => None,
                };
                let composed = combining
                    .zip(chars.peek().copied())
                    .and_then(|(mark, base)| {
                        if !(base.is_ascii_alphabetic() || base == '\u{131}') {
                            return None;
                        }
                        let mut nfc = [base, mark].into_iter().nfc();
                        match (nfc.next(), nfc.next()) {
                            (Some(one), None) => Some(one),
                            _ => None,
                        }
                    });
                match composed {
                    Some(letter) => {
                        out.push(letter);
                        chars.next();
                    }
                    None => out.push(c),
                }
            }
        }
    }
    out
}

/// Glyph names that pdf-extract 0.12 maps to a lone surrogate, and a name to use instead.
const SURROGATE_GLYPH_NAMES: [(&[u8], &[u8]); 13] = [
    (b"FFIsmall", b"ffi"),
    (b"FFLsmall", b"ffl"),
    (b"FFsmall", b"ff"),
    (b"FIsmall", b"fi"),
    (b"FLsmall", b"fl"),
    (b"Germandblssmall", b"germandbls"),
    (b"SSsmall", b"germandbls"),
    (b"altselector", b".notdef"),
    (b"ascendercompwordmark", b".notdef"),
    (b"capitalcompwordmark", b".notdef"),
    (b"emptyslot", b".notdef"),
    (b"interrobangdown", b".notdef"),
    (b"ringfitted", b".notdef"),
];

/// The fallback extraction: see the call site.
fn with_tex_glyph_names_fixed(bytes: &[u8]) -> Result<PdfText, ExtractError> {
    let mut doc = pdf_extract::Document::load_mem(bytes).map_err(|e| read_err(&e))?;
    for object in doc.objects.values_mut() {
        if let pdf_extract::Object::Dictionary(dict) = object {
            let is_descriptor = dict
                .get(b"Type")
                .and_then(|t| t.as_name())
                .is_ok_and(|name| name == b"FontDescriptor");
            if is_descriptor {
                dict.remove(b"FontFile");
                dict.remove(b"FontFile3");
            }
        }
        rename_glyphs(object);
    }
    let mut text = String::new();
    pdf_extract::output_doc(&doc, &mut pdf_extract::PlainTextOutput::new(&mut text))
        .map_err(|e| read_err(&e))?;
    Ok(PdfText {
        text,
        pages: page_count(&doc),
    })
}

/// Replaces [`SURROGATE_GLYPH_NAMES`] in names nested in `object` (the depth is bounded
/// by [`check_nesting`]).
fn rename_glyphs(object: &mut pdf_extract::Object) {
    use pdf_extract::Object;
    match object {
        Object::Name(name) => {
            if let Some((_, to)) = SURROGATE_GLYPH_NAMES.iter().find(|(from, _)| from == name) {
                *name = to.to_vec();
            }
        }
        Object::Array(items) => items.iter_mut().for_each(rename_glyphs),
        Object::Dictionary(dict) => dict.iter_mut().for_each(|(_, v)| rename_glyphs(v)),
        _ => {}
    }
}

/// Deepest array/dictionary nesting accepted. Real PDFs stay in the low tens.
pub(crate) const MAX_PDF_NESTING: usize = 256;

/// Refuses PDFs whose arrays/dictionaries nest deeper than [`MAX_PDF_NESTING`] (recursive
/// parsers overflow their stack on those). Scans the raw bytes, skipping string literals,
/// comments and stream bodies, so it costs one pass and no allocation.
fn check_nesting(bytes: &[u8]) -> Result<(), ExtractError> {
    let mut depth = 0usize;
    let mut i = 0usize;
    while i < bytes.len() {
        match bytes[i] {
            b'[' => depth += 1,
            b'<' if bytes.get(i + 1) == Some(&b'<') => {
                depth += 1;
                i += 1;
            }
            b']' => depth = depth.saturating_sub(1),
            b'>' if bytes.get(i + 1) == Some(&b'>') => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'%' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'(' => {
                // Literal string: balanced parentheses, backslash escapes.
                let mut open = 1usize;
                i += 1;
                while i < bytes.len() && open > 0 {
                    match bytes[i] {
                        b'\\' => i += 1,
                        b'(' => open += 1,
                        b')' => open -= 1,
                        _ => {}
                    }
                    i += 1;
                }
                continue;
            }
            b's' if bytes[i..].starts_with(b"stream") && !bytes[..i].ends_with(b"end") => {
                // Skip the stream body: content streams have their own operators.
                match find(&bytes[i..], b"endstream") {
                    Some(end) => i += end + b"endstream".len(),
                    None => break,
                }
                continue;
            }
            _ => {}
        }
        if depth > MAX_PDF_NESTING {
            return Err(ExtractError::Failed(format!(
                "the PDF nests arrays or dictionaries more than {MAX_PDF_NESTING} levels deep"
            )));
        }
        i += 1;
    }
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// A one-page PDF with "Hello fallback" (offsets need not be exact for poppler).
    fn hello_pdf() -> Vec<u8> {
        let content = "BT /F1 24 Tf 72 700 Td (Hello fallback world) Tj ET";
        format!(
            "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n\
             2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n\
             3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]/Resources<</Font<</F1 4 0 R>>>>/Contents 5 0 R>>endobj\n\
             4 0 obj<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>endobj\n\
             5 0 obj<</Length {}>>stream\n{content}\nendstream endobj\n\
             trailer<</Root 1 0 R>>\n%%EOF\n",
            content.len()
        )
        .into_bytes()
    }

    #[test]
    fn a_crashing_parser_falls_back_to_pdftotext() {
        let pdf = hello_pdf();
        let got = extract_or_fall_back(&pdf, |_| panic!("parser bug"));
        if super::super::child::find_program("pdftotext").is_none() {
            assert_eq!(
                got,
                Err(ExtractError::Failed("the PDF parser crashed".into()))
            );
            eprintln!("NOTICE: pdftotext is not installed; only the no-fallback case was checked");
            return;
        }
        let read = got.unwrap();
        assert!(read.text.contains("Hello fallback world"), "{read:?}");
        assert_eq!(read.pages, Some(1));
        // Not a PDF at all: refused before any parser, no fallback.
        assert!(matches!(
            extract_or_fall_back(b"hello", |_| panic!("not reached")),
            Err(ExtractError::TypeMismatch { .. })
        ));
    }

    #[test]
    fn ligatures_and_tex_accents_become_letters() {
        assert_eq!(
            compose_glyphs("the oﬃcial deﬁnition, Universit¨at, ´etude, ˆX, a ¨ b"),
            "the official definition, Universität, étude, ˆX, a ¨ b"
        );
    }

    #[test]
    fn surrogate_glyph_names_are_renamed_anywhere() {
        use pdf_extract::Object;
        let mut differences = Object::Array(vec![
            Object::Integer(11),
            Object::Name(b"FFsmall".to_vec()),
            Object::Name(b"capitalcompwordmark".to_vec()),
            Object::Name(b"A".to_vec()),
        ]);
        rename_glyphs(&mut differences);
        assert_eq!(
            differences,
            Object::Array(vec![
                Object::Integer(11),
                Object::Name(b"ff".to_vec()),
                Object::Name(b".notdef".to_vec()),
                Object::Name(b"A".to_vec()),
            ])
        );
    }
}
