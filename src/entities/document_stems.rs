//! `document_stems`: the distinct word stems of a document's text in its owner's search
//! language, indexed beside the text so that another form of a word matches (derived
//! data: recomputed, never exported; see `migration/…_000026_search_languages`).

use sea_orm::entity::prelude::*;

use super::users::SearchLanguage;

/// The stems of one document's text.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "document_stems")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub document_id: Uuid,
    /// The language the stems were made with (never `simple`: a document without stems
    /// has no row).
    pub language: SearchLanguage,
    /// The stems, space-separated, each tagged with its language
    /// (`documents::search::stemming`).
    #[sea_orm(column_type = "Text")]
    pub stems: String,
}

/// The stems belong to their document (deleted with it).
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
