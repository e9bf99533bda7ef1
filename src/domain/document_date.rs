//! A calendar date as the API spells it (`YYYY-MM-DD`): the document date a user sets
//! and the bounds of a date range filter.

use chrono::NaiveDate;

/// Reads exactly `YYYY-MM-DD` (four-digit year, two-digit month and day) naming a real
/// day; anything else (`2024-3-1`, `2024-02-30`, `+12024-01-01`, a time) is `None`.
pub fn parse(raw: &str) -> Option<NaiveDate> {
    let b = raw.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    if !(digits(0..4) && digits(5..7) && digits(8..10)) {
        return None;
    }
    let year = raw[0..4].parse().ok()?;
    let month = raw[5..7].parse().ok()?;
    let day = raw[8..10].parse().ok()?;
    NaiveDate::from_ymd_opt(year, month, day).filter(|_| year >= 1)
}

#[cfg(test)]
mod tests {
    use super::parse;
    use chrono::NaiveDate;

    #[test]
    fn only_real_days_spelled_yyyy_mm_dd() {
        assert_eq!(parse("2024-03-01"), NaiveDate::from_ymd_opt(2024, 3, 1));
        assert_eq!(parse("2024-02-29"), NaiveDate::from_ymd_opt(2024, 2, 29));
        for bad in [
            "",
            "2024-3-1",
            "2024-02-30",
            "2023-02-29",
            "9999-99-99",
            "99.99.9999",
            "0000-01-01",
            "+2024-01-01",
            "2024-01-01T00:00:00Z",
            " 2024-01-01",
            "２０２４-01-01",
            "2024/01/01",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
