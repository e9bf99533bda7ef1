//! In-app notices for an account: a document was shared with it. The share use case
//! records them in its transaction; `GET /api/notifications` lists them with the file
//! name read at that moment, and an e-mail goes out when SMTP is configured.

pub mod routes;
pub mod service;
