//! SeaORM entities, one module per table of SPEC §2; they mirror the initial migration
//! (`migration/src/m20261124_000001_initial.rs`) column for column. Data only, no behaviour.

pub mod audit_log;
pub mod backup_codes;
pub mod cloud_connections;
pub mod document_topics;
pub mod documents;
pub mod folders;
pub mod groups;
pub mod job_ticks;
pub mod object_deletions;
pub mod quotas;
pub mod refresh_tokens;
pub mod shares;
pub mod topics;
pub mod users;

/// Every entity under its table-flavoured name, for `use crate::entities::prelude::*`.
pub mod prelude {
    pub use super::audit_log::Entity as AuditLog;
    pub use super::backup_codes::Entity as BackupCodes;
    pub use super::cloud_connections::Entity as CloudConnections;
    pub use super::document_topics::Entity as DocumentTopics;
    pub use super::documents::Entity as Documents;
    pub use super::folders::Entity as Folders;
    pub use super::groups::Entity as Groups;
    pub use super::job_ticks::Entity as JobTicks;
    pub use super::quotas::Entity as Quotas;
    pub use super::refresh_tokens::Entity as RefreshTokens;
    pub use super::shares::Entity as Shares;
    pub use super::topics::Entity as Topics;
    pub use super::users::Entity as Users;
}
