//! The watched folder: files dropped under `{ingest.watch_dir}/{handle}/…` become
//! documents of that account, its sub-folders DocuVault folders. A polling loop
//! (`service`) over a walk of the directory (`scanner`), started by the instances that
//! run workers; `routes` serves `GET /api/ingest/status`.

pub mod routes;
pub mod scanner;
pub mod service;
