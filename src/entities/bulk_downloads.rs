//! `bulk_downloads`: the selection behind a zip download link (the checked document
//! ids, a JSON array), kept until the link expires; see
//! `migration/src/m20261206_000018_bulk_downloads.rs`.

use sea_orm::entity::prelude::*;

/// One selection to download as a zip.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bulk_downloads")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The account that asked for the link.
    pub user_id: Uuid,
    /// The documents, a JSON array of ids in the order asked for.
    #[sea_orm(column_type = "Text")]
    pub document_ids: String,
    /// When the link was asked for.
    pub created_at: DateTimeUtc,
    /// When the link stops working (the row may go from then on).
    pub expires_at: DateTimeUtc,
}

/// The owner.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::UserId",
        to = "super::users::Column::Id",
        on_delete = "Cascade"
    )]
    User,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
