//! `cloud_connections`: a user's linked external accounts; provider `imap` rows are the
//! mail accounts of the e-mail intake (`crate::intake`).

use sea_orm::entity::prelude::*;

/// One linked account; `credentials_enc` holds the encrypted credentials.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "cloud_connections")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub provider: String,
    pub display_name: String,
    #[sea_orm(column_type = "Text")]
    pub credentials_enc: String,
    pub status: String,
    pub connected_at: DateTimeUtc,
    /// Provider settings as JSON (for `imap`: `intake::service::MailConfig`); null for
    /// providers without any.
    #[sea_orm(column_type = "Text", nullable)]
    pub config: Option<String>,
    /// When the account was last polled (successfully or not).
    pub last_checked_at: Option<DateTimeUtc>,
    /// Why the last poll failed; null after a successful one.
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
}

/// A connection belongs to a user (deleted with them).
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
