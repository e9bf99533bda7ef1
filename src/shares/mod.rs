//! Shares: an owner lets another regular account read one of their documents
//! (metadata and download, nothing else); revoking cuts that access at once.

pub mod routes;
pub mod service;
