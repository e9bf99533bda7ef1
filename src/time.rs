//! One clock for stored timestamps.

use chrono::{DateTime, SubsecRound, Utc};

/// Now, truncated to microseconds: what PostgreSQL keeps, so values compare equal
/// after a round trip on either database.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}
