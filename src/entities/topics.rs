//! `topics`: the labels documents are filed under; per user, or system-wide.

use sea_orm::entity::prelude::*;

/// One topic. `user_id` NULL marks a system topic. Names are unique case-insensitively
/// within a user's namespace and among system topics.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "topics")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Option<Uuid>,
    pub name: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    pub color: Option<String>,
    pub created_at: DateTimeUtc,
}

/// Owner (cascade; none for system topics) and the document links.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::UserId",
        to = "super::users::Column::Id",
        on_delete = "Cascade"
    )]
    User,
    #[sea_orm(has_many = "super::document_topics::Entity")]
    DocumentTopics,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl Related<super::document_topics::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::DocumentTopics.def()
    }
}

/// Topics reach their documents through `document_topics`.
impl Related<super::documents::Entity> for Entity {
    fn to() -> RelationDef {
        super::document_topics::Relation::Document.def()
    }

    fn via() -> Option<RelationDef> {
        Some(super::document_topics::Relation::Topic.def().rev())
    }
}

impl ActiveModelBehavior for ActiveModel {}
