//! `object_deletions`: stored objects whose deletion failed and is retried by cleanup.

use sea_orm::entity::prelude::*;

/// One object still to delete.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "object_deletions")]
pub struct Model {
    /// Key of the object in the store.
    #[sea_orm(primary_key, auto_increment = false)]
    pub object_key: String,
    /// Failed attempts so far.
    pub attempts: i32,
    /// Last failure.
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    /// When the deletion was first requested.
    pub created_at: DateTimeUtc,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
