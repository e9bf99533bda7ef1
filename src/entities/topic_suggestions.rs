//! `topic_suggestions`: topics the classifier found plausible for a document but doubted,
//! offered to the owner instead of filed (issue 18).

use sea_orm::entity::prelude::*;

/// One pending suggestion; replaced by the document's next classification, removed when
/// the owner accepts or rejects it.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "topic_suggestions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub document_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub topic_id: Uuid,
    /// The classifier's confidence, 0–1.
    pub confidence: f64,
    /// `[{term, weight}]` (builtin only), as `topic_evidence.terms`.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub terms: Option<Json>,
    pub created_at: DateTimeUtc,
}

/// Both sides cascade: deleting the document or the topic removes the suggestion.
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

impl Related<super::topics::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Topic.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
