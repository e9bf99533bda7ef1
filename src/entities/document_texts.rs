//! `document_texts`: a document's extracted text and where each page's text came from,
//! one row per document that has text (kept apart from `documents`, whose row every
//! edit rewrites; see `migration/…_000025_document_texts`).

use sea_orm::entity::prelude::*;

/// The text of one document.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "document_texts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub document_id: Uuid,
    /// The extracted text (at most `extract.max_chars` characters).
    #[sea_orm(column_type = "Text")]
    pub body: String,
    /// Where each page's text came from (`extract::PageSource` list), for documents read
    /// page by page; null otherwise.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub pages: Option<Json>,
}

/// The text belongs to its document (deleted with it).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::documents::Entity",
        from = "Column::DocumentId",
        to = "super::documents::Column::Id",
        on_delete = "Cascade"
    )]
    Document,
}

impl Related<super::documents::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Document.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
