//! `document_topics`: which topics a document is filed under, and who decided.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One document–topic link. `source` says who filed it ([`TopicSource`], CHECK in the schema);
/// `confidence` is the classifier's score when `source` is `ai`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "document_topics")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub document_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub topic_id: Uuid,
    pub source: TopicSource,
    pub confidence: Option<f64>,
    pub created_at: DateTimeUtc,
}

/// Both sides cascade: deleting a document or a topic removes the link.
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
        belongs_to = "super::topics::Entity",
        from = "Column::TopicId",
        to = "super::topics::Column::Id",
        on_delete = "Cascade"
    )]
    Topic,
}

impl Related<super::documents::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Document.def()
    }
}

impl Related<super::topics::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Topic.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

/// Who put a document under a topic.
// `document_topics.source`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    ToSchema,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "snake_case"
)]
#[serde(rename_all = "snake_case")]
pub enum TopicSource {
    /// The classifier.
    Ai,
    /// The owner, by hand.
    User,
}

impl TopicSource {
    /// The stored (and JSON) spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ai => "ai",
            Self::User => "user",
        }
    }
}

super::stored_spelling!(TopicSource);
