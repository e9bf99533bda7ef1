//! DocuVault's integration tests: one test binary, one module per area, one harness
//! (`common`). One binary links the crate once instead of once per file.
//!
//! Run one area with `cargo test --test it <module>::` (e.g. `cargo test --test it auth::`).
//!
//! Every module runs in the same process, so nothing here may change process-wide state.
//! What the former per-file binaries did that could have mattered, and why it is safe:
//! - settings come from a map handed to `Settings::load`, never from `std::env::set_var`;
//!   child processes (`docuvault serve`, `worker`, the extract sandbox) get their own
//!   environment and working directory through `Command`, never the test process's;
//! - the tmpfs mounts (`api`, `documents`) go on each test's own temporary directory;
//! - servers bind port 0 (or ports the test reserves from the OS), never a fixed port;
//! - no test installs a global tracing subscriber, changes the umask or the current
//!   directory; resource limits are set in the extract child, not in this process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod account_export;
mod alerts;
mod api;
mod api_tokens;
mod architecture;
mod audit_log;
mod auth;
mod auth_security;
mod backends;
mod backup;
mod bulk;
mod classify;
mod cleanup;
mod cli;
mod deployment;
mod direct_upload;
mod document_dates;
mod documents;
mod duplicates;
mod extract;
mod extract_real;
mod folders;
mod list_filters;
mod mail;
mod mail_intake;
mod multipart_upload;
mod notifications;
mod ocr;
mod password_reset;
mod pipeline;
mod public_links;
mod queue_process;
mod rate_limit;
mod refile;
mod saved_views;
mod scans;
mod schema;
mod search;
mod search_limits;
mod search_meaning;
mod search_stemming;
mod shares;
mod thumbnails;
mod topic_feedback;
mod topics;
mod transfer;
mod trash;
mod versions;
mod view;
mod vision;
mod watch_folder;
mod webhooks;
