//! `audit_log`: security events, kept after the user is gone.

use sea_orm::entity::prelude::*;

/// One security event. `user_id` is whom it concerns, `actor_id` who did it (an admin,
/// say); both become NULL when that user is deleted so the entry survives.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub event_type: String,
    pub resource_id: Option<String>,
    pub ip_address: Option<String>,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub metadata: Option<Json>,
    pub created_at: DateTimeUtc,
}

/// The subject and the actor (both users, both set null on delete).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::UserId",
        to = "super::users::Column::Id",
        on_delete = "SetNull"
    )]
    User,
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::ActorId",
        to = "super::users::Column::Id",
        on_delete = "SetNull"
    )]
    Actor,
}

impl ActiveModelBehavior for ActiveModel {}
