//! Folders: each regular account's own tree. Sibling names are unique ignoring case,
//! a folder never moves under itself, and deleting one hands its documents and
//! sub-folders to its parent (or the root) instead of deleting them.

pub mod name;
pub mod repo;
pub mod routes;
pub mod service;
