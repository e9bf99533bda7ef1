//! DocuVault: a self-hosted multi-user document vault in one binary.
//!
//! The library holds everything; `main.rs` only parses the command line.

pub mod account_export;
pub mod admin;
pub mod assets;
pub mod audit;
pub mod auth;
pub mod classify;
pub mod cli;
pub mod crypto;
pub mod db;
pub mod documents;
pub mod domain;
pub mod entities;
pub mod error;
pub mod extract;
pub mod folders;
pub mod fsck;
pub mod health;
pub mod http;
pub mod ingest;
pub mod intake;
pub mod jobs;
pub mod links;
pub mod mail;
pub mod metrics;
pub mod notifications;
pub mod ocr_status;
pub mod openapi;
pub mod queue;
pub mod refile;
pub mod routes;
pub mod saved_views;
pub mod secret_key;
pub mod security;
pub mod serde_util;
pub mod settings;
pub mod shares;
pub mod startup;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod time;
pub mod topics;
pub mod transfer;
pub mod webhooks;
