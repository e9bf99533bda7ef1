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
    contain_panic("PDF", || {
        pdf_extract::extract_text_from_mem(bytes)
            .map_err(|e| ExtractError::Failed(format!("the PDF could not be read: {e}")))
    })
}
