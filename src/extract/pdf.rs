//! PDF via pdf-extract (which can panic on some files: contained here, and the whole
//! extraction runs in a child process anyway).

use super::{ExtractError, contain_panic};

/// Extracts the text of a PDF after checking its `%PDF-` header.
pub(crate) fn extract(bytes: &[u8]) -> Result<String, ExtractError> {
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
    contain_panic("PDF", || {
        pdf_extract::extract_text_from_mem(bytes)
            .map_err(|e| ExtractError::Failed(format!("the PDF could not be read: {e}")))
    })
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
