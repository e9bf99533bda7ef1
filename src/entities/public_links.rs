//! `public_links`: anonymous, expiring links to one document.

use sea_orm::entity::prelude::*;

/// One public link of a document. Only the keyed hash of its token is stored, and the
/// password (if any) as an Argon2id PHC string; revoking sets `revoked_at`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "public_links")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub document_id: Uuid,
    pub owner_id: Uuid,
    #[sea_orm(unique)]
    pub token_hash: String,
    /// Argon2id PHC string; null: no password.
    pub password_hash: Option<String>,
    pub expires_at: DateTimeUtc,
    /// Null: unlimited.
    pub max_downloads: Option<i32>,
    /// Downloads served (each delivery of the file through a download URL).
    pub download_count: i32,
    /// Times the link was opened (metadata answered, password accepted when it has one).
    pub access_count: i32,
    pub revoked_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

/// The linked document and its owner; both cascade.
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
        from = "Column::OwnerId",
        to = "super::users::Column::Id",
        on_delete = "Cascade"
    )]
    Owner,
}

impl Related<super::documents::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Document.def()
    }
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Owner.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
