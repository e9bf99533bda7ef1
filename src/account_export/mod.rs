//! A user's own export: `GET /api/me/export` streams a zip of the caller's live
//! documents' current originals, named by folder path and file name, plus a
//! `manifest.json` of their metadata.
//!
//! The zip is written on a blocking thread into a bounded channel that feeds the response
//! body, and each original is read from the object store as a stream into another
//! bounded channel: memory stays bounded whatever the number and size of the files.

pub mod routes;
pub mod service;
pub mod zip_stream;
