//! Topics: the labels documents are filed under. Each regular account has its own
//! namespace (names unique ignoring case, never the name of a system topic); system
//! topics (no owner) are managed by administrators and visible to everyone. Deleting a
//! topic removes it from documents but deletes no document.

pub mod routes;
pub mod service;
