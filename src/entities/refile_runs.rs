//! `refile_runs`: re-filing an account's whole vault in the background, one row per run
//! (`migration/src/m20261207_000031_refile_runs.rs`; the use cases are `crate::refile`).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One run of "re-file everything not filed by hand" for `user_id`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refile_runs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The account whose vault is re-filed.
    pub user_id: Uuid,
    /// Where the run stands.
    pub state: RefileState,
    /// Documents to look at, counted when the run started.
    pub total: i64,
    /// Documents looked at so far (re-filed, or skipped because they changed meanwhile).
    pub done: i64,
    /// Documents whose topics the run changed.
    pub changed: i64,
    /// The last document id handled (documents are taken in id order).
    pub after_id: Option<Uuid>,
    /// The instance working on it now (or last).
    #[sea_orm(column_type = "Text", nullable)]
    pub claimed_by: Option<String>,
    /// Its lease: after this another instance takes the run over.
    pub claimed_until: Option<DateTimeUtc>,
    /// Why it failed.
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    pub started_at: DateTimeUtc,
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

/// Where a re-file run stands. Stored in `refile_runs.state`.
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
pub enum RefileState {
    /// Being worked on (or waiting for an instance to take it).
    Running,
    /// Every document was looked at.
    Done,
    /// Stopped by an error (`error`).
    Failed,
    /// Stopped by its owner.
    Cancelled,
}

impl RefileState {
    /// The stored (and JSON) spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

super::stored_spelling!(RefileState);
