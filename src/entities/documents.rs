//! `documents`: one uploaded document, its object key, extraction and classification state.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One document. `status` is its place in the lifecycle ([`DocumentStatus`], CHECK in
/// the schema); `classified_by` records provider, model and prompt version as JSON.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "documents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub folder_id: Option<Uuid>,
    pub filename: String,
    #[sea_orm(unique)]
    pub object_key: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: Option<String>,
    pub storage_backend: String,
    pub status: DocumentStatus,
    pub attempts: i32,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    /// A worker owns the row until then; the sweeper re-dispatches it afterwards.
    pub lease_expires_at: Option<DateTimeUtc>,
    pub ai_opt_out: bool,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub classified_by: Option<Json>,
    /// Why a processed document has no text yet ([`StatusReason`]); null otherwise.
    pub status_reason: Option<StatusReason>,
    /// Where the thumbnail is stored (`documents::thumbnails`), once it is; null until
    /// then, and when none could be made.
    pub thumbnail_key: Option<String>,
    /// Why no thumbnail could be made (a file too large to decode, …); not tried again
    /// automatically (re-classify tries again).
    #[sea_orm(column_type = "Text", nullable)]
    pub thumbnail_error: Option<String>,
    /// While in processing: the page the OCR is reading, of `progress_pages`; null otherwise.
    pub progress_page: Option<i32>,
    /// While in processing: the pages of the document being read page by page.
    pub progress_pages: Option<i32>,
    /// When the document went to the trash; null while it is live. A trashed document
    /// keeps its topics, folder, shares, versions and charge, and is purged after
    /// `documents.trash_retention_days`.
    pub trashed_at: Option<DateTimeUtc>,
    /// The document's own date (a letter's, an invoice's), found in its text or file name
    /// at extraction or set by the user; null when unknown.
    pub document_date: Option<Date>,
    /// Where `document_date` came from; null exactly when it is.
    pub document_date_source: Option<DocumentDateSource>,
    /// Pages of a PDF (or multi-page image), recorded at extraction; null otherwise.
    pub page_count: Option<i32>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// Owner (cascade), folder (set null on delete), topic links and shares.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::UserId",
        to = "super::users::Column::Id",
        on_delete = "Cascade"
    )]
    User,
    #[sea_orm(
        belongs_to = "super::folders::Entity",
        from = "Column::FolderId",
        to = "super::folders::Column::Id",
        on_delete = "SetNull"
    )]
    Folder,
    #[sea_orm(has_many = "super::document_topics::Entity")]
    DocumentTopics,
    #[sea_orm(has_many = "super::shares::Entity")]
    Shares,
    #[sea_orm(has_many = "super::document_versions::Entity")]
    DocumentVersions,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl Related<super::folders::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Folder.def()
    }
}

impl Related<super::document_topics::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::DocumentTopics.def()
    }
}

impl Related<super::shares::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Shares.def()
    }
}

/// Documents reach their topics through `document_topics`.
impl Related<super::topics::Entity> for Entity {
    fn to() -> RelationDef {
        super::document_topics::Relation::Topic.def()
    }

    fn via() -> Option<RelationDef> {
        Some(super::document_topics::Relation::Document.def().rev())
    }
}

impl ActiveModelBehavior for ActiveModel {}

/// Where a document is in its lifecycle: `pending` (upload not confirmed) → `queued` →
/// `processing` → `classified`, `unclassified` or `failed`.
//
// Stored in `documents.status` as these strings (a text column with a CHECK listing
// them), so the JSON spelling is the stored one. Only the lifecycle module
// (`src/documents/lifecycle.rs`) moves a document from one status to another. A new state (the coming trash and
// version states) is a variant here, its string in the CHECK (a migration) and its
// transitions in the lifecycle module.
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
pub enum DocumentStatus {
    /// Upload URL handed out, bytes not confirmed yet.
    Pending,
    /// Confirmed, waiting for processing.
    Queued,
    /// A worker is extracting and classifying it.
    Processing,
    /// Filed under at least one topic.
    Classified,
    /// Processed; no topic fits (or there was no text to classify).
    Unclassified,
    /// Processing gave up; `last_error` says why.
    Failed,
}

impl DocumentStatus {
    /// The stored (and JSON) spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Queued => "queued",
            Self::Processing => "processing",
            Self::Classified => "classified",
            Self::Unclassified => "unclassified",
            Self::Failed => "failed",
        }
    }
}

super::stored_spelling!(DocumentStatus);

/// Why a processed document is in its status without text, when that is not the file's
/// fault: shown in the document view, and what the server looks for to process it again.
//
// Stored in `documents.status_reason` as these strings.
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
    db_type = "String(StringLen::N(64))",
    rename_all = "snake_case"
)]
#[serde(rename_all = "snake_case")]
pub enum StatusReason {
    /// A scan (image, or PDF page without text) waits for OCR, which this server lacks
    /// (no tesseract, its languages or pdftoppm): `unclassified` until OCR is available,
    /// then processed again automatically (at start) or by re-classify.
    OcrUnavailable,
}

impl StatusReason {
    /// The stored (and JSON) spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OcrUnavailable => "ocr_unavailable",
        }
    }
}

super::stored_spelling!(StatusReason);

/// Where a document's date came from (`documents.document_date_source`). Processing
/// re-derives a date from `content` or `filename` each time it reads the document, and
/// never replaces one the `user` set.
//
// Stored as these strings (a CHECK lists them).
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
    db_type = "String(StringLen::N(16))",
    rename_all = "snake_case"
)]
#[serde(rename_all = "snake_case")]
pub enum DocumentDateSource {
    /// Found in the document's text.
    Content,
    /// Found in its file name.
    Filename,
    /// Set by the user.
    User,
}

impl DocumentDateSource {
    /// The stored (and JSON) spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Content => "content",
            Self::Filename => "filename",
            Self::User => "user",
        }
    }
}

super::stored_spelling!(DocumentDateSource);
