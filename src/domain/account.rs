//! Account identifiers and secrets, validated at the edge.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

/// A lower-cased e-mail address: one `@`, non-empty local part and domain with a dot,
/// no whitespace or control characters, at most 254 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

/// A lower-cased public handle: 3–32 of `a-z 0-9 _ . -`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handle(String);

/// A new password: 8–1024 characters, any Unicode, never truncated, never printed.
pub struct Password(SecretString);

/// Why an input was rejected; the message is safe to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidInput(pub String);

impl Email {
    /// Parses and normalises an address.
    pub fn parse(input: &str) -> Result<Self, InvalidInput> {
        let s = input.trim().to_lowercase();
        let bad = || InvalidInput("email must be a valid address like name@example.com".into());
        if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = s.split_once('@').ok_or_else(bad)?;
        if local.is_empty()
            || local.len() > 64
            || domain.contains('@')
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || domain.contains("..")
        {
            return Err(bad());
        }
        Ok(Self(s))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Handle {
    /// Parses and normalises a handle.
    pub fn parse(input: &str) -> Result<Self, InvalidInput> {
        let s = input.trim().to_lowercase();
        let ok_len = (3..=32).contains(&s.len());
        let ok_chars = s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
        });
        let ok_start = s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
        if ok_len && ok_chars && ok_start {
            Ok(Self(s))
        } else {
            Err(InvalidInput(
                "handle must be 3–32 characters of a-z, 0-9, '_', '.', '-', starting with a letter or digit".into(),
            ))
        }
    }

    /// The normalised handle.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Password {
    /// Minimum length in characters.
    pub const MIN_CHARS: usize = 8;
    /// Maximum length in characters.
    pub const MAX_CHARS: usize = 1024;

    /// Checks the length rules; the text is kept exactly as given.
    pub fn parse(input: &str) -> Result<Self, InvalidInput> {
        let n = input.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&n) {
            return Err(InvalidInput(format!(
                "password must be {}–{} characters",
                Self::MIN_CHARS,
                Self::MAX_CHARS
            )));
        }
        Ok(Self(SecretString::from(input.to_owned())))
    }

    /// The password text, for hashing only.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse(" Alice@Example.COM ").unwrap().as_str(),
            "alice@example.com"
        );
        for bad in [
            "",
            "alice",
            "@example.com",
            "a@b",
            "a@.com",
            "a b@c.com",
            "a@b..com",
            "a@b@c.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn handles_are_normalised_and_checked() {
        assert_eq!(Handle::parse("Alice_1").unwrap().as_str(), "alice_1");
        for bad in ["ab", "_alice", "al ice", "alïce", &"a".repeat(33), "a/b"] {
            assert!(Handle::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn passwords_count_characters_not_bytes_and_are_never_truncated() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse("ééééééé").is_err());
        assert!(Password::parse("éééééééé").is_ok());
        let long = "x".repeat(1024);
        assert_eq!(Password::parse(&long).unwrap().expose().len(), 1024);
        assert!(Password::parse(&"x".repeat(1025)).is_err());
        assert_eq!(
            format!("{:?}", Password::parse("hunter2hunter2").unwrap()),
            "Password([REDACTED])"
        );
    }
}
