//! Security infrastructure the features build on: who a request comes from (client IP
//! behind trusted proxies), attempt limits, access-token signing and password hashing.
//!
//! Nothing here knows about accounts or routes; `auth/` decides what to limit, whom to
//! issue a token to and whose password to check.

pub mod client_ip;
pub mod password;
pub mod rate_limit;
pub mod tokens;
