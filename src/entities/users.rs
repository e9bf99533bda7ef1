//! `users`: accounts, their credentials, 2FA state and per-user AI settings.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One account. `role` is a [`Role`] (CHECK in the schema); secrets are stored
/// hashed (`password_hash`) or encrypted (`totp_secret`, `ai_api_key_enc`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub handle: String,
    #[sea_orm(unique)]
    pub email: String,
    pub password_hash: String,
    /// Encrypted TOTP secret.
    #[sea_orm(column_type = "Text", nullable)]
    pub totp_secret: Option<String>,
    pub totp_enabled: bool,
    /// Last accepted TOTP time step, so a code cannot be replayed.
    pub totp_last_step: Option<i64>,
    pub role: Role,
    pub is_active: bool,
    pub password_must_change: bool,
    /// Tokens issued before this instant are rejected.
    pub tokens_valid_after: DateTimeUtc,
    pub ai_provider: Option<String>,
    pub ai_model: Option<String>,
    /// Encrypted API key for the user's own AI provider.
    #[sea_orm(column_type = "Text", nullable)]
    pub ai_api_key_enc: Option<String>,
    pub ai_allow_new_topics: bool,
    pub default_storage_backend: Option<String>,
    /// Tesseract languages for this account's scans (`deu+eng`); null = server default.
    pub ocr_languages: Option<String>,
    /// Opt-in: pages Tesseract reads poorly go to this account's own AI provider.
    pub ocr_ai_fallback: bool,
    /// How searches match words (stemming); the server's `search.default_language` when
    /// the account was made. Absent in exports older than it: `simple`, as searched then.
    #[serde(default)]
    pub search_language: SearchLanguage,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// Tables that point at a user (shares and audit log entries point twice, so they are
/// reached from their own side: `shares::Relation::Owner`, `audit_log::Relation::Actor`…).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::refresh_tokens::Entity")]
    RefreshTokens,
    #[sea_orm(has_many = "super::backup_codes::Entity")]
    BackupCodes,
    #[sea_orm(has_one = "super::quotas::Entity")]
    Quota,
    #[sea_orm(has_many = "super::folders::Entity")]
    Folders,
    #[sea_orm(has_many = "super::documents::Entity")]
    Documents,
    #[sea_orm(has_many = "super::topics::Entity")]
    Topics,
    #[sea_orm(has_many = "super::cloud_connections::Entity")]
    CloudConnections,
}

impl Related<super::refresh_tokens::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::RefreshTokens.def()
    }
}

impl Related<super::backup_codes::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::BackupCodes.def()
    }
}

impl Related<super::quotas::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Quota.def()
    }
}

impl Related<super::folders::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Folders.def()
    }
}

impl Related<super::documents::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Documents.def()
    }
}

impl Related<super::topics::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Topics.def()
    }
}

impl Related<super::cloud_connections::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::CloudConnections.def()
    }
}

#[async_trait::async_trait]
impl ActiveModelBehavior for ActiveModel {
    /// An insert that leaves `ocr_ai_fallback` out sends its default (off) itself. The
    /// column has the same default, but it was added by `ALTER TABLE`, and SQLite reports
    /// such a default as NULL in `INSERT … RETURNING` on a connection that loaded the
    /// schema before the `ALTER` (once per connection; the row itself is right), which
    /// would fail reading the inserted model back.
    async fn before_save<C>(mut self, _db: &C, insert: bool) -> Result<Self, DbErr>
    where
        C: ConnectionTrait,
    {
        if insert && self.ocr_ai_fallback.is_not_set() {
            self.ocr_ai_fallback = sea_orm::ActiveValue::Set(false);
        }
        Ok(self)
    }
}

/// Account roles.
// `users.role`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    ToSchema,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "snake_case"
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A regular account that owns documents.
    User,
    /// An administrator: manages accounts, never sees documents.
    Admin,
}

impl Role {
    /// The stored (and JSON) spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Admin => "admin",
        }
    }
}

super::stored_spelling!(Role);

/// How an account's searches match words (`users.search_language`, CHECK in the schema).
/// `english` and `german` also find other forms of a word (Snowball stems: "invoice"
/// finds "invoices", "Rechnung" finds "Rechnungen"), ranked below exact matches;
/// `simple` matches whole words as written (case- and accent-insensitively) only.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    ToSchema,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "snake_case"
)]
#[serde(rename_all = "snake_case")]
pub enum SearchLanguage {
    /// Whole words as written, no stemming.
    #[default]
    Simple,
    /// English stemming.
    English,
    /// German stemming.
    German,
}

impl SearchLanguage {
    /// The stored (and JSON) spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Simple => "simple",
            Self::English => "english",
            Self::German => "german",
        }
    }
}

super::stored_spelling!(SearchLanguage);
