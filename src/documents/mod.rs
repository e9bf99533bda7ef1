//! Documents: direct-to-storage uploads, atomic quota charging, listing and full-text
//! search, download, thumbnails, versions, the trash.

pub mod access;
pub mod bulk;
pub mod bulk_routes;
pub mod dates;
pub mod direct;
pub mod files;
pub mod lifecycle;
pub mod multipart;
pub mod provenance;
pub mod quota;
pub mod routes;
pub mod search;
pub mod service;
pub mod texts;
pub mod thumbnails;
pub mod trash;
pub mod version_routes;
pub mod versions;
pub mod view;
