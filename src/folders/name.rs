//! Folder names: what may appear as one step of a folder path.

use crate::domain::InvalidInput;

/// The OpenAPI pattern for a folder name; it forbids exactly what [`FolderName::parse`]
/// rejects (`/`, control characters, nothing but spaces, `.` or `..` once trimmed), so
/// a request the schema allows never gets a 422. The space class is Unicode
/// `White_Space` minus control characters, which is what `str::trim` strips here.
pub const PATTERN: &str = r"^(?![\u0020\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*\.{0,2}[\u0020\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$)[^/\u0000-\u001F\u007F-\u009F]+$";

/// A valid folder name: trimmed, 1–255 characters, no `/`, no control characters,
/// not `.` or `..`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderName(String);

impl FolderName {
    /// Longest name, in characters (Unicode scalar values, as JSON Schema counts).
    pub const MAX_CHARS: usize = 255;

    /// Checks the raw name (length, characters) and trims surrounding spaces.
    pub fn parse(input: &str) -> Result<Self, InvalidInput> {
        let n = input.chars().count();
        if !(1..=Self::MAX_CHARS).contains(&n) {
            return Err(InvalidInput(format!(
                "name must be 1–{} characters",
                Self::MAX_CHARS
            )));
        }
        if input.chars().any(|c| c == '/' || c.is_control()) {
            return Err(InvalidInput(
                "name must not contain '/' or control characters".into(),
            ));
        }
        let trimmed = input.trim();
        if trimmed.is_empty() || trimmed == "." || trimmed == ".." {
            return Err(InvalidInput(
                "name must not be blank, \".\" or \"..\"".into(),
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The name as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key sibling names are compared by: names differing only in case clash.
    pub fn clash_key(&self) -> String {
        clash_key(&self.0)
    }
}

/// `name (n)`, with the name shortened (never below one character) so the result still
/// fits in [`FolderName::MAX_CHARS`]; resolves clashes when sub-folders move up.
pub fn numbered(name: &str, n: u32) -> String {
    let suffix = format!(" ({n})");
    let room = FolderName::MAX_CHARS
        .saturating_sub(suffix.chars().count())
        .max(1);
    let base: String = name.chars().take(room).collect();
    let base = base.trim_end();
    let base = if base.is_empty() { "_" } else { base };
    format!("{base}{suffix}")
}

/// The comparison key of a stored name (see [`FolderName::clash_key`]).
pub fn clash_key(name: &str) -> String {
    name.to_lowercase()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn names_are_trimmed_and_checked() {
        assert_eq!(
            FolderName::parse("  Tax 2024 ").unwrap().as_str(),
            "Tax 2024"
        );
        assert_eq!(FolderName::parse("...").unwrap().as_str(), "...");
        assert_eq!(FolderName::parse(".hidden").unwrap().as_str(), ".hidden");
        assert_eq!(FolderName::parse("\u{3000}Ä\u{a0}").unwrap().as_str(), "Ä");
        let longest = "é".repeat(255);
        assert_eq!(FolderName::parse(&longest).unwrap().as_str(), longest);
        for bad in [
            "",
            " ",
            "\u{3000}",
            ".",
            "..",
            " .. ",
            "a/b",
            "/",
            "tab\there",
            "\nname",
            "nul\0",
            "del\u{7f}",
            "c1\u{85}",
            &"x".repeat(256),
        ] {
            assert!(FolderName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn numbered_names_fit_and_keep_their_stem() {
        assert_eq!(numbered("Invoices", 2), "Invoices (2)");
        let long = numbered(&"y".repeat(255), 12);
        assert_eq!(long.chars().count(), 255);
        assert!(long.ends_with("y (12)"));
        assert!(FolderName::parse(&long).is_ok());
        // Cut where a space was: the space goes, the number stays readable.
        let spaced = format!("{} tail", "z".repeat(250));
        assert_eq!(numbered(&spaced, 3), format!("{} (3)", "z".repeat(250)));
    }

    #[test]
    fn clashes_ignore_case() {
        let a = FolderName::parse("Straße").unwrap();
        let b = FolderName::parse("STRASSE").unwrap();
        let c = FolderName::parse("strasse").unwrap();
        assert_ne!(a.clash_key(), b.clash_key());
        assert_eq!(b.clash_key(), c.clash_key());
        assert_eq!(
            FolderName::parse("Ärger").unwrap().clash_key(),
            FolderName::parse("äRGER").unwrap().clash_key()
        );
    }
}
