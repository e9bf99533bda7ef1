//! `quotas`: per-user storage allowance, usage (charged atomically on confirm) and the
//! bytes reserved by unconfirmed uploads (reserved atomically by `upload-url`).

use sea_orm::entity::prelude::*;

/// A user's quota (keyed by the user). The schema enforces `used_bytes >= 0` and
/// `reserved_bytes >= 0` and defaults `limit_bytes` to 100 MiB. `reserved_bytes` is the
/// sum of the declared sizes of the account's pending uploads.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "quotas")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    pub limit_bytes: i64,
    pub used_bytes: i64,
    pub reserved_bytes: i64,
}

/// A quota belongs to exactly one user (deleted with them).
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
