//! Accounts and authentication: passwords, tokens, TOTP, extractors, rate limits.

pub mod client_ip;
pub mod extract;
pub mod limits;
pub mod password;
pub mod rate_limit;
pub mod repo;
pub mod routes;
pub mod service;
pub mod sessions;
pub mod tokens;
pub mod totp;
