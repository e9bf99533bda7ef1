//! `saved_views`: named list queries of an account.

use sea_orm::entity::prelude::*;

/// One saved view: a name and the list parameters it stands for.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "saved_views")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    /// The name as shown.
    pub name: String,
    /// The name folded by `topics::service::clash_key`; unique per account.
    pub name_key: String,
    /// The parameters of `GET /api/documents` (a JSON object).
    pub query: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// A view belongs to a user (deleted with them).
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
