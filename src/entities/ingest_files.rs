//! `ingest_files`: the files the watched folder took, one row per file (path relative to
//! `ingest.watch_dir`, size, modification time). Inserting the row claims the file;
//! see `migration/src/m20261206_000015_ingest_files.rs` for the unique rule.

use sea_orm::entity::prelude::*;

/// One file taken from the watched folder.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ingest_files")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The account whose drop folder it was in.
    pub user_id: Uuid,
    /// Path relative to the watched directory, `/`-separated, starting with the handle.
    #[sea_orm(column_type = "Text")]
    pub path: String,
    /// Size when it was taken.
    pub size_bytes: i64,
    /// Modification time when it was taken, in nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// Claimed (being imported), imported or failed.
    pub status: IngestFileStatus,
    /// Why it failed (a sentence, also written next to the file in `.failed/`).
    #[sea_orm(column_type = "Text", nullable)]
    pub reason: Option<String>,
    /// The document it became.
    pub document_id: Option<Uuid>,
    /// When the current claim was taken (or last renewed while importing).
    pub claimed_at: DateTimeUtc,
    /// When the file was first claimed.
    pub created_at: DateTimeUtc,
    /// When the file left the drop folder (moved or deleted); null while it is there.
    pub finished_at: Option<DateTimeUtc>,
}

/// The owner.
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

/// Where a taken file stands. Stored in `ingest_files.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "snake_case"
)]
pub enum IngestFileStatus {
    /// An instance is importing it (or crashed doing so: a stale claim is taken over).
    Claimed,
    /// It is a document now (`document_id`).
    Imported,
    /// It could not be taken (`reason`).
    Failed,
}

impl IngestFileStatus {
    /// The stored (and JSON) spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Claimed => "claimed",
            Self::Imported => "imported",
            Self::Failed => "failed",
        }
    }
}

super::stored_spelling!(IngestFileStatus);
