//! `topic_evidence`: the words that weighed most when the builtin classifier filed a
//! document under a topic (issue 18, "why this topic").

use sea_orm::entity::prelude::*;

/// The evidence of one automatic link (`document_topics` row with `source = ai`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "topic_evidence")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub document_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub topic_id: Uuid,
    /// `[{term, weight}]`, heaviest first (`classify::feedback::EvidenceTerm`).
    #[sea_orm(column_type = "JsonBinary")]
    pub terms: Json,
}

/// The link it explains: removing the link removes it (composite foreign key, cascade).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
