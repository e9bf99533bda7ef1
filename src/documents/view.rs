//! `DocumentView`: a document as the API shows it (metadata, who classified it, its
//! topics, a search snippet, a signed thumbnail URL), built from listed rows or whole rows
//! with their topics loaded in one query. Shared by the documents and shares routes.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::ConnectionTrait;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::classify::feedback::{self, EvidenceTerm};
use crate::documents::search::{
    self, DocumentRow, DocumentTopic, Listed, SnippetSegment, duplicates,
};
use crate::documents::thumbnails::ThumbnailLinks;
use crate::domain::UserId;
use crate::entities::{DocumentDateSource, DocumentStatus, TopicSource, documents};
use crate::error::ApiError;

/// Who filed a document under its topics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ClassifiedBy {
    /// Classifier provider (`builtin`, `ollama`, `openai`, `anthropic`).
    pub provider: String,
    /// Model name.
    pub model: String,
    /// Version of the prompt (or of the builtin model), when recorded.
    #[schema(required = true)]
    pub prompt_version: Option<String>,
}

impl ClassifiedBy {
    /// Reads `documents.classified_by`; anything without a provider reads as none.
    fn from_json(v: &serde_json::Value) -> Option<Self> {
        let text = |key: &str| match v.get(key) {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        Some(Self {
            provider: text("provider")?,
            model: text("model").unwrap_or_default(),
            prompt_version: text("prompt_version"),
        })
    }
}

/// A topic a document is filed under.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DocumentTopicView {
    /// Topic id.
    pub id: Uuid,
    /// Topic name.
    pub name: String,
    /// Display color (e.g. `#3b82f6`), if set.
    #[schema(required = true)]
    pub color: Option<String>,
    /// `ai` (the classifier) or `user` (set by hand).
    pub source: TopicSource,
    /// The classifier's confidence, 0–1 (none when set by hand).
    #[schema(required = true, minimum = 0, maximum = 1)]
    pub confidence: Option<f64>,
    /// Why the classifier chose it: the few words of the document that weighed most
    /// (at most 5, heaviest first). Only on `ai` topics the builtin classifier filed, and
    /// only in the answers about one document (`getDocument`, `updateDocument`, …);
    /// absent otherwise (lists, topics set by hand, model providers, which give no words).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<EvidenceTerm>,
}

impl From<DocumentTopic> for DocumentTopicView {
    fn from(t: DocumentTopic) -> Self {
        Self {
            id: t.id,
            name: t.name,
            color: t.color,
            source: t.source,
            confidence: t.confidence,
            evidence: Vec::new(),
        }
    }
}

/// A topic the classifier found plausible for a document but doubted: not filed, waiting
/// for the owner to accept (`acceptDocumentTopic`) or reject (`rejectDocumentTopic`) it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SuggestedTopicView {
    /// Topic id.
    pub topic_id: Uuid,
    /// Topic name.
    pub name: String,
    /// Display color, if set.
    #[schema(required = true)]
    pub color: Option<String>,
    /// The classifier's confidence, 0–1.
    #[schema(minimum = 0, maximum = 1)]
    pub confidence: f64,
    /// The words that weighed most for it (builtin classifier only; empty otherwise).
    pub evidence: Vec<EvidenceTerm>,
}

/// How far processing has read a document page by page (OCR): "page 3 of 12".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct DocumentProgress {
    /// The page being read (1-based).
    #[schema(minimum = 1)]
    pub page: i32,
    /// Pages in the document.
    #[schema(minimum = 1)]
    pub pages: i32,
}

impl DocumentProgress {
    fn of(page: Option<i32>, pages: Option<i32>) -> Option<Self> {
        match (page, pages) {
            (Some(page), Some(pages)) if page >= 1 && page <= pages => Some(Self { page, pages }),
            _ => None,
        }
    }
}

/// A document's metadata.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentView {
    /// Document id.
    pub id: Uuid,
    /// Owner's account id.
    pub owner_id: Uuid,
    /// Owner's handle (yours on your own documents): who shared a document with you.
    pub owner_handle: String,
    /// File name.
    pub filename: String,
    /// MIME type.
    pub content_type: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// SHA-256 of the original bytes (hex), once processed.
    #[schema(required = true)]
    pub sha256: Option<String>,
    /// `pending`, `queued`, `processing`, `classified`, `unclassified` or `failed`.
    pub status: DocumentStatus,
    /// Why processing failed, when it did.
    #[schema(required = true)]
    pub last_error: Option<String>,
    /// Why a processed document has no text yet when that is not the file's fault:
    /// `ocr_unavailable` (a scan on a server without OCR; it is read once OCR is
    /// available). Null otherwise.
    #[schema(required = true)]
    pub status_reason: Option<crate::entities::StatusReason>,
    /// Folder, or none for the root.
    #[schema(required = true)]
    pub folder_id: Option<Uuid>,
    /// Never sent to an external AI provider.
    pub ai_opt_out: bool,
    /// Who classified it, once classified.
    #[schema(required = true)]
    pub classified_by: Option<ClassifiedBy>,
    /// Topics it is filed under, by name.
    pub topics: Vec<DocumentTopicView>,
    /// Search results only: text around the matches as plain-text segments, matches
    /// flagged `highlight` (render them e.g. in `<mark>`); null outside a search.
    #[schema(required = true)]
    pub snippet: Option<Vec<SnippetSegment>>,
    /// A short-lived URL of the document's thumbnail (a JPEG about 320 px wide: the first
    /// page, the image, or a card of the first lines of text), signed like download URLs
    /// and valid as long (`documents.download_url_ttl_secs`); fetch it without a token,
    /// e.g. as an `<img>` source. Null until the thumbnail is made (shortly after upload)
    /// and for documents of which none can be made.
    #[schema(required = true)]
    pub thumbnail_url: Option<String>,
    /// Uploaded at.
    pub created_at: DateTime<Utc>,
    /// Last changed at.
    pub updated_at: DateTime<Utc>,
    /// While `processing` reads a scan page by page (OCR): which page of how many, for
    /// "reading text (page 3 of 12)"; updated at most once a second. Null otherwise
    /// (and cleared when processing ends).
    #[schema(required = true)]
    pub progress: Option<DocumentProgress>,
    /// When it was moved to the trash; null unless it is in the trash.
    #[schema(required = true)]
    pub trashed_at: Option<DateTime<Utc>>,
    /// When the cleanup job will delete it for good (`trashed_at` +
    /// `documents.trash_retention_days`); null unless it is in the trash.
    #[schema(required = true)]
    pub purge_at: Option<DateTime<Utc>>,
    /// The earliest-uploaded other live (confirmed, not trashed) document of the same
    /// owner with the same bytes (SHA-256), of which this one is a duplicate; null for
    /// that original itself, for documents without a copy, and always for documents
    /// shared with you.
    #[schema(required = true)]
    pub duplicate_of: Option<Uuid>,
    /// The document's own date (a letter's, an invoice's; `YYYY-MM-DD`), found in its
    /// text or file name when it was processed, or set by the owner; null when unknown
    /// (or cleared by the owner).
    #[schema(required = true, value_type = Option<String>, format = Date, example = "2024-03-01")]
    pub document_date: Option<NaiveDate>,
    /// Where `document_date` came from: `content` (its text), `filename` or `user` (set,
    /// or cleared, by the owner; processing never replaces it). Null while no date was
    /// found.
    #[schema(required = true)]
    pub document_date_source: Option<DocumentDateSource>,
    /// Pages of a PDF (or of a multi-page image), counted when it was processed; null
    /// for other documents and until then.
    #[schema(required = true, minimum = 0)]
    pub page_count: Option<i32>,
    /// Topics the classifier found plausible but doubted (under its bar, or a model's
    /// confidence under `ai.suggest_below`), most confident first: not filed, waiting for
    /// you to accept or reject them. On your own documents in the answers about one
    /// document (`getDocument`, `updateDocument`, …; `[]` when there are none); absent in
    /// lists and on documents shared with you.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub suggested_topics: Option<Vec<SuggestedTopicView>>,
}

impl DocumentView {
    fn build(
        d: DocumentRow,
        topics: Vec<DocumentTopic>,
        snippet: Option<Vec<SnippetSegment>>,
        thumbnail_url: Option<String>,
        owner_handle: String,
    ) -> Self {
        Self {
            id: d.id,
            owner_id: d.user_id,
            owner_handle,
            filename: d.filename,
            content_type: d.content_type,
            size_bytes: d.size_bytes,
            sha256: d.sha256,
            status: d.status,
            last_error: d.last_error,
            status_reason: d.status_reason,
            folder_id: d.folder_id,
            ai_opt_out: d.ai_opt_out,
            classified_by: d.classified_by.as_ref().and_then(ClassifiedBy::from_json),
            topics: topics.into_iter().map(DocumentTopicView::from).collect(),
            snippet,
            thumbnail_url,
            created_at: d.created_at,
            updated_at: d.updated_at,
            progress: DocumentProgress::of(d.progress_page, d.progress_pages),
            trashed_at: d.trashed_at,
            purge_at: None,
            duplicate_of: d.original_id,
            document_date: d.document_date,
            document_date_source: d.document_date_source,
            page_count: d.page_count,
            suggested_topics: None,
        }
    }

    /// Adds what the classifier says about the document to the view of one document:
    /// the words behind each automatic topic (for every reader) and, for its owner
    /// `viewer`, the pending suggestions.
    pub async fn add_classifier_reasons(
        db: &impl ConnectionTrait,
        viewer: UserId,
        view: &mut DocumentView,
    ) -> Result<(), ApiError> {
        let mut evidence = feedback::evidence_of(db, view.id).await?;
        for t in view.topics.iter_mut() {
            if t.source == TopicSource::Ai {
                t.evidence = evidence.remove(&t.id).unwrap_or_default();
            }
        }
        if view.owner_id == Uuid::from(viewer) {
            let pending = feedback::suggestions_of(db, view.id).await?;
            view.suggested_topics = Some(
                pending
                    .into_iter()
                    .map(|p| SuggestedTopicView {
                        topic_id: p.topic.id,
                        name: p.topic.name,
                        color: p.topic.color,
                        confidence: p.confidence,
                        evidence: p.evidence,
                    })
                    .collect(),
            );
        }
        Ok(())
    }

    /// Looks up `duplicate_of` (one query) on the views of `viewer`'s own documents that
    /// were built from whole rows (a listed row carries it already).
    pub async fn add_duplicate_of(
        db: &impl ConnectionTrait,
        viewer: UserId,
        views: &mut [DocumentView],
    ) -> Result<(), ApiError> {
        let viewer_id = Uuid::from(viewer);
        let own: Vec<(Uuid, String)> = views
            .iter()
            .filter(|v| v.owner_id == viewer_id && v.status != DocumentStatus::Pending)
            .filter_map(|v| v.sha256.clone().map(|h| (v.id, h)))
            .collect();
        let originals = duplicates::originals(db, viewer, &own).await?;
        for v in views.iter_mut().filter(|v| v.owner_id == viewer_id) {
            v.duplicate_of = originals.get(&v.id).copied();
        }
        Ok(())
    }

    /// Keeps what only the owner sees to the views of `viewer`'s own documents:
    /// `purge_at` (trash retention `retention_days`) is filled in on those, and
    /// `duplicate_of` cleared on views of other owners' documents (shared with `viewer`).
    pub fn keep_owner_facts(viewer: UserId, retention_days: u32, views: &mut [DocumentView]) {
        let viewer_id = Uuid::from(viewer);
        let retention = chrono::Duration::days(i64::from(retention_days));
        for v in views.iter_mut() {
            if v.owner_id == viewer_id {
                v.purge_at = v.trashed_at.and_then(|t| t.checked_add_signed(retention));
            } else {
                v.duplicate_of = None;
                v.purge_at = None;
            }
        }
    }

    /// Views of listed documents, their topics and their owners' handles loaded in one
    /// query each, their thumbnail URLs signed by `links` (locally: no storage request).
    pub async fn many(
        db: &impl ConnectionTrait,
        links: &ThumbnailLinks,
        items: Vec<Listed>,
    ) -> Result<Vec<DocumentView>, ApiError> {
        let ids: Vec<Uuid> = items.iter().map(|i| i.doc.id).collect();
        let mut topics = search::topics_of(db, &ids).await?;
        // Listed rows carry their owner's handle; rows read whole are looked up at once.
        let unnamed = items
            .iter()
            .filter(|i| i.doc.owner_handle.is_none())
            .map(|i| i.doc.user_id);
        let handles = crate::auth::repo::handles(db, unnamed).await?;
        let mut views = Vec::with_capacity(items.len());
        for mut i in items {
            let t = topics.remove(&i.doc.id).unwrap_or_default();
            let thumbnail_url = links.url(i.doc.thumbnail_key.as_deref()).await;
            let owner_handle = i
                .doc
                .owner_handle
                .take()
                .or_else(|| handles.get(&i.doc.user_id).cloned())
                .ok_or_else(|| {
                    ApiError::Internal(anyhow::anyhow!(
                        "document of missing account {}",
                        i.doc.user_id
                    ))
                })?;
            views.push(Self::build(
                i.doc,
                t,
                i.snippet,
                thumbnail_url,
                owner_handle,
            ));
        }
        Ok(views)
    }

    /// Views of whole document rows (e.g. shared documents), topics in one query.
    pub async fn of_models(
        db: &impl ConnectionTrait,
        links: &ThumbnailLinks,
        docs: Vec<documents::Model>,
    ) -> Result<Vec<DocumentView>, ApiError> {
        let items = docs
            .into_iter()
            .map(|d| Listed {
                doc: DocumentRow::from(d),
                snippet: None,
            })
            .collect();
        Self::many(db, links, items).await
    }

    /// The view of one document row, with its topics.
    pub async fn of_model(
        db: &impl ConnectionTrait,
        links: &ThumbnailLinks,
        doc: documents::Model,
    ) -> Result<DocumentView, ApiError> {
        Self::of_models(db, links, vec![doc])
            .await?
            .pop()
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("document view went missing")))
    }
}
