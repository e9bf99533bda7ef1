//! Small serde helpers for request bodies.

use serde::{Deserialize, Deserializer};

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`), for
/// PATCH bodies where `null` means "clear".
pub fn double_option<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// An optional whole number that may arrive as `12` or `12.0` (JSON does not tell them
/// apart); fractions and out-of-range values are rejected.
pub fn opt_whole_i64<'de, D>(d: D) -> Result<Option<i64>, D::Error>
where
    D: Deserializer<'de>,
{
    use serde::de::Error;
    match Option::<serde_json::Number>::deserialize(d)? {
        None => Ok(None),
        Some(n) => {
            if let Some(i) = n.as_i64() {
                return Ok(Some(i));
            }
            match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 => {
                    Ok(Some(f as i64))
                }
                _ => Err(D::Error::custom(format!(
                    "{n} is not a whole number in range"
                ))),
            }
        }
    }
}

/// A whole number that may arrive as `12` or `12.0`.
pub fn whole_i64<'de, D>(d: D) -> Result<i64, D::Error>
where
    D: Deserializer<'de>,
{
    use serde::de::Error;
    opt_whole_i64(d)?.ok_or_else(|| D::Error::custom("expected a whole number"))
}
