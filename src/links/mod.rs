//! Public links: an owner lets anyone holding a URL see and download one document
//! without an account, until the link expires, is revoked or runs out of downloads.

pub mod routes;
pub mod service;
