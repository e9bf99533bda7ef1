//! DocuVault: a self-hosted multi-user document vault in one binary.
//!
//! The library holds everything; `main.rs` only parses the command line.

pub mod assets;
pub mod cli;
pub mod db;
pub mod domain;
pub mod entities;
pub mod error;
pub mod health;
pub mod http;
pub mod jobs;
pub mod openapi;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod state;
pub mod storage;
pub mod telemetry;
