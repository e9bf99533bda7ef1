//! `mail_intake_items`: what the e-mail intake did with each part of each message.

use sea_orm::entity::prelude::*;

/// One part of one message of a mail account (or the message itself when it was refused
/// whole). `(connection_id, message_id, part_hash)` is unique: inserting the row claims
/// the part, so it is imported once whichever poll or instance sees it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "mail_intake_items")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The mail account (`cloud_connections` row).
    pub connection_id: Uuid,
    /// The message's `Message-ID`, or `sha256:<hex>` of its header when it has none.
    pub message_id: String,
    /// SHA-256 (hex) of the part's bytes; `body` for the text body, `message` for the
    /// message refused whole.
    pub part_hash: String,
    /// The message's subject.
    #[sea_orm(column_type = "Text", nullable)]
    pub subject: Option<String>,
    /// The part's decoded file name.
    #[sea_orm(column_type = "Text", nullable)]
    pub filename: Option<String>,
    /// `imported`, `failed` or `skipped`.
    pub status: String,
    /// Why it failed or was skipped.
    pub reason: Option<String>,
    /// The document it became.
    pub document_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
}

/// An item belongs to a mail account (deleted with it).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::cloud_connections::Entity",
        from = "Column::ConnectionId",
        to = "super::cloud_connections::Column::Id",
        on_delete = "Cascade"
    )]
    Connection,
}

impl Related<super::cloud_connections::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Connection.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
