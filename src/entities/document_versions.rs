//! `document_versions`: every stored revision of a document, the current one included.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One revision of a document. The current version is the one whose `object_key` is the
/// document's (`documents.object_key`); the document row carries the current version's
/// name, type, size and hash. A version is `pending` (upload URL handed out, its declared
/// size reserved) until confirm makes it `stored` (its size charged). A document's first
/// version has the document's id.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "document_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub document_id: Uuid,
    /// The owner (whose quota the version counts against).
    pub user_id: Uuid,
    #[sea_orm(unique)]
    pub object_key: String,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    /// Hex SHA-256 of the stored bytes (computed at confirm).
    pub sha256: Option<String>,
    pub status: VersionStatus,
    pub created_at: DateTimeUtc,
    pub confirmed_at: Option<DateTimeUtc>,
}

/// Document (cascade) and owner (cascade).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::documents::Entity",
        from = "Column::DocumentId",
        to = "super::documents::Column::Id",
        on_delete = "Cascade"
    )]
    Document,
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::UserId",
        to = "super::users::Column::Id",
        on_delete = "Cascade"
    )]
    User,
}

impl Related<super::documents::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Document.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

/// Whether a version's bytes are confirmed. Stored in `document_versions.status`.
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
pub enum VersionStatus {
    /// Upload URL handed out; its declared size is reserved.
    Pending,
    /// Confirmed; its size is charged.
    Stored,
}

impl VersionStatus {
    /// The stored (and JSON) spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Stored => "stored",
        }
    }
}

super::stored_spelling!(VersionStatus);
