//! Plain text (TXT, Markdown, CSV): strict UTF-8.

use super::ExtractError;

/// Decodes `bytes` as strict UTF-8 (a leading BOM is skipped). A NUL byte or invalid UTF-8
/// means the file is binary or in another encoding: a type mismatch for `label`.
pub(crate) fn decode<'a>(bytes: &'a [u8], label: &str) -> Result<&'a str, ExtractError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.contains(&0) {
        return Err(ExtractError::mismatch(
            label,
            "it contains NUL bytes (binary content)",
        ));
    }
    std::str::from_utf8(bytes).map_err(|e| {
        ExtractError::mismatch(
            label,
            format!(
                "it is not UTF-8 text (invalid byte at offset {})",
                e.valid_up_to()
            ),
        )
    })
}
