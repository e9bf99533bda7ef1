//! Documents: direct-to-storage uploads, atomic quota charging, listing, download.

pub mod access;
pub mod files;
pub mod routes;
pub mod service;
