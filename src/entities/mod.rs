//! SeaORM entities, one module per table; they mirror the migrations
//! (`migration/src/m20261124_000001_initial.rs`) column for column. Data only, no behaviour; the enumerations of text columns
//! (`DocumentStatus`, `TopicSource`, `Role`) keep the stored strings.

/// `Display`, `FromStr` (error [`UnknownValue`]) and `PartialEq<&str>` for an enumeration
/// of a text column, all through its `as_str` (the stored and JSON spelling).
macro_rules! stored_spelling {
    ($name:ident) => {
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::entities::UnknownValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <Self as sea_orm::Iterable>::iter()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| $crate::entities::UnknownValue(s.to_owned()))
            }
        }

        /// Compares with the stored spelling.
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}
pub(crate) use stored_spelling;

pub mod api_tokens;
pub mod audit_log;
pub mod backup_codes;
pub mod bulk_downloads;
pub mod cloud_connections;
pub mod document_stems;
pub mod document_texts;
pub mod document_topics;
pub mod document_versions;
pub mod documents;
pub mod folders;
pub mod groups;
pub mod ingest_files;
pub mod job_ticks;
pub mod mail_intake_items;
pub mod notifications;
pub mod object_deletions;
pub mod password_reset_tokens;
pub mod public_links;
pub mod quotas;
pub mod refile_runs;
pub mod refresh_tokens;
pub mod saved_views;
pub mod shares;
pub mod topic_evidence;
pub mod topic_rejections;
pub mod topic_suggestions;
pub mod topics;
pub mod users;
pub mod webhook_deliveries;
pub mod webhooks;

pub use document_topics::TopicSource;
pub use document_versions::VersionStatus;
pub use documents::{DocumentDateSource, DocumentStatus, StatusReason};
pub use users::{Role, SearchLanguage};

/// A stored string that names none of an enumeration's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown value {0:?}")]
pub struct UnknownValue(pub String);

/// Every entity under its table-flavoured name, for `use crate::entities::prelude::*`.
pub mod prelude {
    pub use super::api_tokens::Entity as ApiTokens;
    pub use super::audit_log::Entity as AuditLog;
    pub use super::backup_codes::Entity as BackupCodes;
    pub use super::cloud_connections::Entity as CloudConnections;
    pub use super::document_stems::Entity as DocumentStems;
    pub use super::document_texts::Entity as DocumentTexts;
    pub use super::document_topics::Entity as DocumentTopics;
    pub use super::document_versions::Entity as DocumentVersions;
    pub use super::documents::Entity as Documents;
    pub use super::folders::Entity as Folders;
    pub use super::groups::Entity as Groups;
    pub use super::ingest_files::Entity as IngestFiles;
    pub use super::job_ticks::Entity as JobTicks;
    pub use super::mail_intake_items::Entity as MailIntakeItems;
    pub use super::notifications::Entity as Notifications;
    pub use super::password_reset_tokens::Entity as PasswordResetTokens;
    pub use super::public_links::Entity as PublicLinks;
    pub use super::quotas::Entity as Quotas;
    pub use super::refile_runs::Entity as RefileRuns;
    pub use super::refresh_tokens::Entity as RefreshTokens;
    pub use super::shares::Entity as Shares;
    pub use super::topic_evidence::Entity as TopicEvidence;
    pub use super::topic_rejections::Entity as TopicRejections;
    pub use super::topic_suggestions::Entity as TopicSuggestions;
    pub use super::topics::Entity as Topics;
    pub use super::users::Entity as Users;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use sea_orm::{ActiveEnum, Iterable};

    use super::*;

    /// The stored string, the JSON string and `as_str` are one spelling, and parsing it
    /// gives the value back; anything else is refused.
    fn spelled_once<T>(as_str: fn(T) -> &'static str)
    where
        T: ActiveEnum<Value = String>
            + Iterable
            + Copy
            + PartialEq
            + std::fmt::Debug
            + std::fmt::Display
            + serde::Serialize
            + serde::de::DeserializeOwned
            + std::str::FromStr<Err = UnknownValue>,
    {
        for v in T::iter() {
            let s = as_str(v);
            assert_eq!(v.to_value(), s);
            assert_eq!(serde_json::to_string(&v).unwrap(), format!("\"{s}\""));
            assert_eq!(serde_json::from_str::<T>(&format!("\"{s}\"")).unwrap(), v);
            assert_eq!(v.to_string(), s);
            assert_eq!(s.parse::<T>().unwrap(), v);
            assert_eq!(T::try_from_value(&s.to_owned()).unwrap(), v);
        }
        assert_eq!("bogus".parse::<T>(), Err(UnknownValue("bogus".into())));
        assert!(T::try_from_value(&"bogus".to_owned()).is_err());
    }

    #[test]
    fn enumerations_keep_the_stored_strings() {
        spelled_once(DocumentStatus::as_str);
        spelled_once(Role::as_str);
        spelled_once(SearchLanguage::as_str);
        spelled_once(TopicSource::as_str);
        spelled_once(DocumentDateSource::as_str);
        spelled_once(refile_runs::RefileState::as_str);
        assert_eq!(
            DocumentDateSource::iter()
                .map(DocumentDateSource::as_str)
                .collect::<Vec<_>>(),
            ["content", "filename", "user"]
        );
        assert_eq!(
            DocumentStatus::iter()
                .map(DocumentStatus::as_str)
                .collect::<Vec<_>>(),
            [
                "pending",
                "queued",
                "processing",
                "classified",
                "unclassified",
                "failed"
            ]
        );
        assert_eq!(
            Role::iter().map(Role::as_str).collect::<Vec<_>>(),
            ["user", "admin"]
        );
        assert_eq!(
            TopicSource::iter()
                .map(TopicSource::as_str)
                .collect::<Vec<_>>(),
            ["ai", "user"]
        );
    }
}
