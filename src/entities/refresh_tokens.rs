//! `refresh_tokens`: rotating refresh tokens, stored hashed, grouped in families for
//! reuse detection.

use sea_orm::entity::prelude::*;

/// One issued refresh token. Only its hash is stored; a reused (already rotated) token
/// revokes its whole `family_id`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    #[sea_orm(unique)]
    pub token_hash: String,
    pub family_id: Uuid,
    pub expires_at: DateTimeUtc,
    /// Absolute end of the family: rotation never extends a session past this.
    pub family_expires_at: DateTimeUtc,
    pub revoked: bool,
    /// The token this one was rotated into.
    pub replaced_by: Option<Uuid>,
    pub rotated_at: Option<DateTimeUtc>,
    pub user_agent: Option<String>,
    pub ip_address: Option<String>,
    pub created_at: DateTimeUtc,
}

/// A refresh token belongs to a user (deleted with them).
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
