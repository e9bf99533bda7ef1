//! Time-based one-time passwords (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps) and the
//! single-use backup codes that stand in for a lost authenticator.
//!
//! Everything here is pure: the caller supplies the time, stores the secret sealed with
//! [`crate::crypto::Keys::encrypt`], enforces single use of a TOTP step with an atomic
//! `totp_last_step` update, and stores backup codes only as
//! [`crate::crypto::Keys::hash_token`] of [`normalize_backup_code`].

use qrcode::QrCode;
use qrcode::render::svg;
use totp_rs::{Algorithm, Builder};

use crate::crypto::{constant_time_eq, random_bytes};

/// Seconds per TOTP step (RFC 6238 default; what every authenticator app assumes).
const STEP_SECS: u64 = 30;
/// Digits per code.
const DIGITS: u8 = 6;
/// Steps accepted either side of the current one, for clock drift and typing time.
const SKEW_STEPS: u64 = 1;

/// How many backup codes a user gets at a time.
pub const BACKUP_CODE_COUNT: usize = 10;
/// Characters per half of a backup code (`xxxxx-xxxxx`).
const BACKUP_GROUP_LEN: usize = 5;
/// Crockford's base32 alphabet, lower case: no `i`, `l`, `o` or `u`, so nothing reads as
/// another character. 32 symbols, 5 bits each.
const BACKUP_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A new TOTP shared secret: 20 bytes (160 bits, RFC 4226's recommendation) from the OS
/// CSPRNG.
#[must_use]
pub fn generate_secret() -> Vec<u8> {
    random_bytes::<20>().to_vec()
}

/// The secret as RFC 4648 base32 without padding, for typing into an authenticator app.
#[must_use]
pub fn secret_base32(secret: &[u8]) -> String {
    totp_rs::Secret::from(secret).to_base32()
}

/// The `otpauth://totp/…` enrolment URI (Google's key-URI format) that the QR code carries,
/// written by `totp-rs` (`Totp::to_url`), with the algorithm, digits and period always
/// spelled out (`totp-rs` leaves defaults out; some authenticator apps assume otherwise).
///
/// `issuer` and `account` are percent-encoded (RFC 3986 unreserved characters kept), so
/// spaces, `@`, `+` or a colon in them cannot break the label or the query. The key-URI
/// format forbids a colon in either (and `totp-rs` refuses one), while an e-mail address
/// may hold one: a colon is written as `%3A`, as before `totp-rs` wrote these URIs.
#[must_use]
pub fn otpauth_uri(secret: &[u8], account: &str, issuer: &str) -> String {
    let totp = Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_step_duration(STEP_SECS)
        .with_secret(secret)
        .with_account_name(account.replace(':', COLON_STAND_IN))
        .with_issuer(Some(issuer.replace(':', COLON_STAND_IN)))
        .build_noncompliant();
    match totp.to_url() {
        Ok(url) => format!(
            "{url}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
            url = url.replace(COLON_STAND_IN_ENCODED, "%3A")
        ),
        // Only an empty account name is refused now; callers pass a validated address.
        Err(e) => {
            tracing::error!(error = %e, "otpauth URI could not be written");
            String::new()
        }
    }
}

/// What a colon in the label is written as before `totp-rs` sees it: a control character,
/// which neither an [`crate::domain::Email`] nor the issuer can hold.
const COLON_STAND_IN: &str = "\u{1}";
/// [`COLON_STAND_IN`] percent-encoded, as it comes out of `Totp::to_url`.
const COLON_STAND_IN_ENCODED: &str = "%01";

/// A standalone SVG document (with XML declaration) of `data` as a QR code, quiet zone
/// included, at least 200×200 px.
///
/// If `data` is too long for any QR code (about 2.9 KB, far beyond an otpauth URI), the
/// result is a small SVG saying so; the user can still type the base32 secret.
#[must_use]
pub fn qr_svg(data: &str) -> String {
    match QrCode::new(data.as_bytes()) {
        Ok(code) => code
            .render::<svg::Color<'_>>()
            .quiet_zone(true)
            .min_dimensions(200, 200)
            .dark_color(svg::Color("#000000"))
            .light_color(svg::Color("#ffffff"))
            .build(),
        Err(e) => {
            tracing::warn!(error = %e, len = data.len(), "QR code could not be generated");
            concat!(
                r#"<?xml version="1.0" standalone="yes"?>"#,
                r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="200" height="200" viewBox="0 0 200 200">"#,
                r##"<rect width="200" height="200" fill="#ffffff"/>"##,
                r#"<text x="100" y="100" text-anchor="middle" font-size="12">QR code unavailable</text>"#,
                "</svg>"
            )
            .to_owned()
        }
    }
}

/// The 6-digit code for the step containing `unix_time`.
#[must_use]
pub fn code_at(secret: &[u8], unix_time: u64) -> String {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_step_duration(STEP_SECS)
        .with_skew(0)
        .with_secret(secret)
        .build_noncompliant()
        .generate(unix_time)
        .to_string()
}

/// Checks `code` against the steps around `unix_time` (current ±1) and returns the matched
/// step number (`unix_time / 30`), newest first if several match.
///
/// The caller must still claim that step atomically
/// (`… WHERE totp_last_step IS NULL OR totp_last_step < :step`) so a code works only once.
/// Whitespace anywhere in `code` is ignored ("123 456"); anything else that is not exactly
/// six ASCII digits is rejected. Comparison is constant-time and checks every candidate.
#[must_use]
pub fn verify(secret: &[u8], code: &str, unix_time: u64) -> Option<i64> {
    let code = normalize_code(code)?;
    let current = unix_time / STEP_SECS;
    let mut matched = None;
    for step in current.saturating_sub(SKEW_STEPS)..=current.saturating_add(SKEW_STEPS) {
        let Some(step_start) = step.checked_mul(STEP_SECS) else {
            continue;
        };
        let expected = code_at(secret, step_start);
        // Ascending order, so the last match is the newest step.
        if constant_time_eq(expected.as_bytes(), code.as_bytes()) {
            matched = Some(step);
        }
    }
    matched.and_then(|step| i64::try_from(step).ok())
}

/// Strips whitespace; `None` unless exactly six ASCII digits remain.
fn normalize_code(code: &str) -> Option<String> {
    if code.len() > 64 {
        return None;
    }
    let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    (digits.len() == usize::from(DIGITS) && digits.bytes().all(|b| b.is_ascii_digit()))
        .then_some(digits)
}

/// A fresh set of [`BACKUP_CODE_COUNT`] backup codes from the OS CSPRNG, formatted for
/// people as `xxxxx-xxxxx` in lower-case Crockford base32 (50 bits each), e.g.
/// `k7m2p-x9qtr`. Shown once; store only `hash_token(normalize_backup_code(code))`.
#[must_use]
pub fn generate_backup_codes() -> Vec<String> {
    let mut codes: Vec<String> = Vec::with_capacity(BACKUP_CODE_COUNT);
    while codes.len() < BACKUP_CODE_COUNT {
        let code = random_backup_code();
        // A repeat within one set has probability ~2^-44; skip it rather than hand out a
        // code that would be used up by its twin.
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    codes
}

fn random_backup_code() -> String {
    random_code_groups(2)
}

/// `groups` groups of five symbols from the OS CSPRNG (5 bits each, lower-case
/// Crockford base32, no look-alikes), joined by dashes: `k7m2p-x9qtr-…`. Backup codes
/// are two groups; an administrator's temporary password four (100 bits).
#[must_use]
pub fn random_code_groups(groups: usize) -> String {
    let mut code = String::with_capacity(groups * (BACKUP_GROUP_LEN + 1));
    for g in 0..groups {
        if g > 0 {
            code.push('-');
        }
        let bytes: [u8; BACKUP_GROUP_LEN] = random_bytes();
        for b in bytes {
            // 256 is a multiple of 32, so the low five bits are uniform.
            code.push(char::from(BACKUP_ALPHABET[usize::from(b & 0x1f)]));
        }
    }
    code
}

/// The canonical form of a typed backup code, the one that gets hashed: lower case,
/// spaces and dashes dropped, Crockford look-alikes folded (`o`→`0`, `i`/`l`→`1`), then
/// re-grouped as `xxxxx-xxxxx`. `None` if it cannot be a backup code.
///
/// So `K7M2P X9QTR`, `k7m2px9qtr` and `k7m2p-x9qtr` all give `k7m2p-x9qtr`, and a
/// generated code normalizes to itself.
#[must_use]
pub fn normalize_backup_code(input: &str) -> Option<String> {
    if input.len() > 64 {
        return None;
    }
    let mut symbols = String::with_capacity(2 * BACKUP_GROUP_LEN + 1);
    for c in input.chars() {
        if c.is_whitespace() || c == '-' {
            continue;
        }
        let c = match c.to_ascii_lowercase() {
            'o' => '0',
            'i' | 'l' => '1',
            c => c,
        };
        if !c.is_ascii() || !BACKUP_ALPHABET.contains(&(c as u8)) {
            return None;
        }
        if symbols.len() == BACKUP_GROUP_LEN {
            symbols.push('-');
        }
        symbols.push(c);
        if symbols.len() > 2 * BACKUP_GROUP_LEN + 1 {
            return None;
        }
    }
    (symbols.len() == 2 * BACKUP_GROUP_LEN + 1).then_some(symbols)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::collections::{HashMap, HashSet};

    use super::*;

    /// RFC 6238 appendix B's SHA-1 seed.
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc6238_sha1_vectors() {
        // Last six digits of the RFC's eight-digit values.
        for (t, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            assert_eq!(code_at(RFC_SECRET, t), code, "T={t}");
            assert_eq!(
                verify(RFC_SECRET, code, t),
                Some(i64::try_from(t / 30).unwrap())
            );
        }
    }

    #[test]
    fn code_is_constant_within_a_step() {
        let s = generate_secret();
        assert_eq!(code_at(&s, 1_000_000_020), code_at(&s, 1_000_000_049));
        assert_eq!(code_at(&s, 0).len(), 6);
    }

    #[test]
    fn adjacent_steps_accepted_further_rejected() {
        let s = RFC_SECRET;
        let now = 1_700_000_015; // inside step 56_666_667
        let step = i64::try_from(now / 30).unwrap();
        // Codes from the previous, current and next step: accepted, and the step returned
        // is the code's own step, not the current one.
        for delta in [-1i64, 0, 1] {
            let t = u64::try_from(i64::try_from(now).unwrap() + delta * 30).unwrap();
            assert_eq!(
                verify(s, &code_at(s, t), now),
                Some(step + delta),
                "delta {delta}"
            );
        }
        for delta in [-3i64, -2, 2, 3] {
            let t = u64::try_from(i64::try_from(now).unwrap() + delta * 30).unwrap();
            let code = code_at(s, t);
            // Guard against an accidental collision with an accepted step's code.
            let accepted: Vec<String> = (-1..=1)
                .map(|d| {
                    code_at(
                        s,
                        u64::try_from(i64::try_from(now).unwrap() + d * 30).unwrap(),
                    )
                })
                .collect();
            if !accepted.contains(&code) {
                assert_eq!(verify(s, &code, now), None, "delta {delta}");
            }
        }
    }

    #[test]
    fn step_boundaries() {
        let s = RFC_SECRET;
        // Last second of step 9 and first of step 10.
        assert_eq!(verify(s, &code_at(s, 299), 299), Some(9));
        assert_eq!(verify(s, &code_at(s, 300), 300), Some(10));
        assert_eq!(verify(s, &code_at(s, 300), 299), Some(10));
        assert_eq!(verify(s, &code_at(s, 299), 300), Some(9));
    }

    #[test]
    fn time_zero_and_far_future_do_not_panic() {
        let s = RFC_SECRET;
        assert_eq!(verify(s, &code_at(s, 0), 0), Some(0));
        assert_eq!(verify(s, &code_at(s, 0), 29), Some(0));
        let _ = verify(s, "123456", u64::MAX);
        let _ = verify(s, "123456", u64::MAX - 29);
        let _ = code_at(s, u64::MAX);
    }

    #[test]
    fn newest_step_wins_when_several_match() {
        // For the RFC seed, steps 153_567 and 153_569 share the code 468457 (found offline
        // by scanning; such repeats occur about once per million steps).
        let s = RFC_SECRET;
        assert_eq!(code_at(s, 153_567 * 30), "468457");
        assert_eq!(code_at(s, 153_569 * 30), "468457");
        assert_ne!(code_at(s, 153_568 * 30), "468457");
        // Window 153_567..=153_569 contains both: the newer one is returned.
        assert_eq!(verify(s, "468457", 153_568 * 30), Some(153_569));
        // Windows containing only one of them return that one.
        assert_eq!(verify(s, "468457", 153_566 * 30), Some(153_567));
        assert_eq!(verify(s, "468457", 153_570 * 30), Some(153_569));
    }

    #[test]
    fn whitespace_is_tolerated() {
        let s = RFC_SECRET;
        let t = 1_111_111_109;
        for input in [
            "081804",
            " 081804",
            "081804 ",
            "\t081804\n",
            "081 804",
            " 081 804 ",
        ] {
            assert_eq!(verify(s, input, t), Some(37_037_036), "{input:?}");
        }
    }

    #[test]
    fn malformed_codes_are_rejected() {
        let s = RFC_SECRET;
        let t = 1_111_111_109;
        for input in [
            "",
            " ",
            "08180",
            "0818044",
            "081-804",
            "+81804",
            "-81804",
            "08180a",
            "O81804",
            "０８１８０４",
            "081804\0",
            "81804",
            "0081804",
            "08.1804",
        ] {
            assert_eq!(verify(s, input, t), None, "{input:?}");
        }
        assert_eq!(verify(s, &"0".repeat(10_000), t), None);
    }

    #[test]
    fn wrong_secret_is_rejected() {
        let t = 1_111_111_109;
        let other = generate_secret();
        let code = code_at(&other, t);
        if code != code_at(RFC_SECRET, t) {
            assert_eq!(verify(RFC_SECRET, &code, t), None);
        }
    }

    #[test]
    fn secrets_are_random_and_long_enough() {
        let secrets: HashSet<Vec<u8>> = (0..100).map(|_| generate_secret()).collect();
        assert_eq!(secrets.len(), 100);
        assert!(secrets.iter().all(|s| s.len() == 20));
    }

    #[test]
    fn base32_is_rfc4648_without_padding() {
        assert_eq!(
            secret_base32(RFC_SECRET),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
        assert_eq!(secret_base32(b"f"), "MY");
        assert_eq!(secret_base32(b"foobar"), "MZXW6YTBOI");
        let b32 = secret_base32(&generate_secret());
        assert_eq!(b32.len(), 32);
        assert!(
            b32.bytes()
                .all(|c| c.is_ascii_uppercase() || (b'2'..=b'7').contains(&c))
        );
    }

    #[test]
    fn otpauth_uri_parses_with_the_right_parameters() {
        let secret = generate_secret();
        let uri = otpauth_uri(&secret, "alice+2fa@example.com", "Docu Vault & Co");
        let url = url::Url::parse(&uri).unwrap();
        assert_eq!(url.scheme(), "otpauth");
        assert_eq!(url.host_str(), Some("totp"));
        assert_eq!(
            url.path(),
            "/Docu%20Vault%20%26%20Co:alice%2B2fa%40example.com"
        );
        let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(q.len(), 5);
        assert_eq!(q["secret"], secret_base32(&secret));
        assert_eq!(q["issuer"], "Docu Vault & Co");
        assert_eq!(q["algorithm"], "SHA1");
        assert_eq!(q["digits"], "6");
        assert_eq!(q["period"], "30");
    }

    #[test]
    fn otpauth_uri_is_understood_by_totp_rs() {
        // An independent parser agrees on label, parameters and the codes produced.
        let secret = generate_secret();
        let uri = otpauth_uri(&secret, "bob@example.com", "DocuVault");
        assert_eq!(
            uri,
            format!(
                "otpauth://totp/DocuVault:bob%40example.com?secret={}&issuer=DocuVault\
                 &algorithm=SHA1&digits=6&period=30",
                secret_base32(&secret)
            )
        );
        let parsed = totp_rs::Totp::from_url(&uri).unwrap();
        assert_eq!(parsed.account_name(), "bob@example.com");
        assert_eq!(parsed.issuer(), Some("DocuVault"));
        assert_eq!(parsed.digits(), 6);
        assert_eq!(parsed.step(), 30);
        assert_eq!(
            parsed.generate(1_234_567_890).to_string(),
            code_at(&secret, 1_234_567_890)
        );
    }

    #[test]
    fn otpauth_uri_writes_colons_and_other_reserved_characters_percent_encoded() {
        // Byte for byte what the hand-written URI was before totp-rs wrote it.
        let secret = RFC_SECRET;
        assert_eq!(
            otpauth_uri(secret, "a:b+c@example.com", "Docu Vault: & Co/é"),
            "otpauth://totp/Docu%20Vault%3A%20%26%20Co%2F%C3%A9:a%3Ab%2Bc%40example.com\
             ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Docu%20Vault%3A%20%26%20Co%2F%C3%A9\
             &algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(
            otpauth_uri(secret, "aZ09-._~@x.org", "DocuVault"),
            "otpauth://totp/DocuVault:aZ09-._~%40x.org?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=DocuVault&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn qr_svg_is_a_standalone_svg() {
        let uri = otpauth_uri(&generate_secret(), "alice@example.com", "DocuVault");
        let svg = qr_svg(&uri);
        assert!(svg.starts_with("<?xml") || svg.starts_with("<svg"));
        assert!(svg.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("<path"));
        // At least 200 px wide.
        let width: u32 = svg
            .split("width=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap()
            .parse()
            .unwrap();
        assert!(width >= 200, "width {width}");
    }

    #[test]
    fn qr_svg_of_oversized_data_degrades_gracefully() {
        let svg = qr_svg(&"x".repeat(10_000));
        assert!(svg.starts_with("<?xml"));
        assert!(svg.ends_with("</svg>"));
        assert!(svg.contains("QR code unavailable"));
    }

    #[test]
    fn backup_codes_shape_and_uniqueness() {
        let codes = generate_backup_codes();
        assert_eq!(codes.len(), BACKUP_CODE_COUNT);
        assert_eq!(
            codes.iter().collect::<HashSet<_>>().len(),
            BACKUP_CODE_COUNT
        );
        for code in &codes {
            assert_eq!(code.len(), 11, "{code}");
            let (a, b) = code.split_once('-').unwrap();
            assert_eq!((a.len(), b.len()), (5, 5));
            assert!(
                a.bytes()
                    .chain(b.bytes())
                    .all(|c| BACKUP_ALPHABET.contains(&c)),
                "{code}"
            );
        }
        // Two sets do not overlap.
        let again: HashSet<String> = generate_backup_codes().into_iter().collect();
        assert!(codes.iter().all(|c| !again.contains(c)));
    }

    #[test]
    fn backup_code_entropy_is_at_least_40_bits() {
        let symbols = 2 * BACKUP_GROUP_LEN;
        let distinct: HashSet<&u8> = BACKUP_ALPHABET.iter().collect();
        assert_eq!(distinct.len(), 32);
        // 32 = 2^5 equiprobable symbols carry exactly 5 bits each.
        assert!(distinct.len().is_power_of_two());
        let bits = symbols * distinct.len().trailing_zeros() as usize;
        assert_eq!(bits, 50);
        assert!(bits >= 40);
        // No ambiguous letters, all lower case.
        for c in [b'i', b'l', b'o', b'u'] {
            assert!(!BACKUP_ALPHABET.contains(&c));
        }
        assert!(BACKUP_ALPHABET.iter().all(|c| !c.is_ascii_uppercase()));
    }

    #[test]
    fn backup_code_symbols_are_roughly_uniform() {
        let mut counts = [0usize; 32];
        for _ in 0..200 {
            for code in generate_backup_codes() {
                for c in code.bytes().filter(|&c| c != b'-') {
                    let i = BACKUP_ALPHABET.iter().position(|&a| a == c).unwrap();
                    counts[i] += 1;
                }
            }
        }
        // 20_000 symbols, 625 expected per symbol; a broken mapping would leave some at 0.
        assert!(counts.iter().all(|&n| n > 400 && n < 850), "{counts:?}");
    }

    #[test]
    fn normalize_backup_code_round_trip() {
        for code in generate_backup_codes() {
            assert_eq!(normalize_backup_code(&code).as_deref(), Some(code.as_str()));
            assert_eq!(
                normalize_backup_code(&code.to_uppercase()).as_deref(),
                Some(code.as_str())
            );
            assert_eq!(
                normalize_backup_code(&code.replace('-', "")).as_deref(),
                Some(code.as_str())
            );
        }
        let canonical = Some("k7m2p-x9qtr".to_owned());
        for input in [
            "k7m2p-x9qtr",
            "K7M2P X9QTR",
            "k7m2px9qtr",
            "  k7m2p - x9qtr\n",
            "k7m-2px-9qtr",
            "K 7 M 2 P X 9 Q T R",
        ] {
            assert_eq!(normalize_backup_code(input), canonical, "{input:?}");
        }
        // Look-alikes fold onto the digits they resemble.
        assert_eq!(
            normalize_backup_code("OIL00-11111").as_deref(),
            Some("01100-11111")
        );
    }

    #[test]
    fn normalize_backup_code_rejects_non_codes() {
        for input in [
            "",
            "-----",
            "k7m2p",
            "k7m2p-x9qt",
            "k7m2p-x9qtrr",
            "k7m2p-x9qtu", // u is not in the alphabet
            "k7m2p_x9qtr",
            "k7m2p.x9qtr",
            "k7m2p-x9qt!",
            "k7m2p-x9qtř",
            "123456",
        ] {
            assert_eq!(normalize_backup_code(input), None, "{input:?}");
        }
        assert_eq!(normalize_backup_code(&"a".repeat(10_000)), None);
    }
}
