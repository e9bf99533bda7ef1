//! Saved views: named list queries (`GET /api/documents` parameters) an account keeps in
//! its sidebar. `routes.rs` serves `/api/views`; `service.rs` holds the queries. A view's
//! `query` is checked by the list's own reading of its query string
//! (`documents::routes::ListQuery::from_saved`).

pub mod routes;
pub mod service;
