//! Administration: accounts, quotas, the audit log and instance statistics.
//! Admins manage accounts but never see document content.

pub mod routes;
pub mod service;
