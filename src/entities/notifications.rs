//! `notifications`: in-app notices for an account (a document shared with it).

use sea_orm::entity::prelude::*;

/// One notice for `user_id`. It names the share, document and sender but no file name:
/// that is read when the notice is listed, so a revoked share (its notices cascade away)
/// or a trashed document shows nothing of it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notifications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The account the notice is for.
    pub user_id: Uuid,
    /// `share_received` (CHECK in the schema).
    pub kind: String,
    pub share_id: Uuid,
    pub document_id: Uuid,
    /// Who caused it (the sharer).
    pub actor_id: Uuid,
    pub created_at: DateTimeUtc,
    pub read_at: Option<DateTimeUtc>,
}

/// The recipient, the share and its document; all cascade.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::UserId",
        to = "super::users::Column::Id",
        on_delete = "Cascade"
    )]
    User,
    #[sea_orm(
        belongs_to = "super::shares::Entity",
        from = "Column::ShareId",
        to = "super::shares::Column::Id",
        on_delete = "Cascade"
    )]
    Share,
    #[sea_orm(
        belongs_to = "super::documents::Entity",
        from = "Column::DocumentId",
        to = "super::documents::Column::Id",
        on_delete = "Cascade"
    )]
    Document,
}

impl Related<super::documents::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Document.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
