//! Accounts and authentication: registration, login, sessions, TOTP, personal API tokens,
//! the extractors and the attempt limits of the auth endpoints (the mechanisms live in `security/`).

pub mod extract;
pub mod limits;
pub mod password_reset;
pub mod repo;
pub mod reset_routes;
pub mod routes;
pub mod service;
pub mod sessions;
pub mod token_routes;
pub mod tokens;
pub mod totp;
