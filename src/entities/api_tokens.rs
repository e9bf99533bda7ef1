//! `api_tokens`: personal API tokens (`dvpat_…`), stored as keyed hashes.

use sea_orm::entity::prelude::*;

/// One personal API token of an account. Only its keyed hash is stored; revoking it
/// deletes the row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    /// The owner's label for it.
    pub name: String,
    /// The token's first characters (`dvpat_ab12cd`), for recognising it.
    pub prefix: String,
    #[sea_orm(unique)]
    pub token_hash: String,
    /// Space-separated scopes (`documents:read topics:write`).
    pub scopes: String,
    pub created_at: DateTimeUtc,
    /// Null: never expires.
    pub expires_at: Option<DateTimeUtc>,
    /// Recorded at most once a minute, and on every change of IP.
    pub last_used_at: Option<DateTimeUtc>,
    pub last_used_ip: Option<String>,
}

/// A token belongs to a user (deleted with them).
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
