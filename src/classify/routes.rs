//! The owner's answers to the classifier: `POST /api/documents/{id}/topics/{topic_id}/accept`
//! and `…/reject` (registered in the documents scope; regular accounts only).

use actix_web::{post, web};

use crate::auth::extract::RegularUser;
use crate::classify::feedback;
use crate::documents::thumbnails::ThumbnailLinks;
use crate::documents::view::DocumentView;
use crate::domain::{DocumentId, TopicId};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// Accepts a topic for your document: a suggestion (`suggested_topics`) or an automatic
/// topic becomes yours (`source: user`), which teaches the builtin classifier from the
/// next document on. A topic you set already: unchanged. Returns the document.
#[utoipa::path(
    operation_id = "acceptDocumentTopic",
    tag = "documents",
    security(("bearer" = [])),
    params(
        ("id" = Uuid, Path, description = "Document id"),
        ("topic_id" = Uuid, Path, description = "Topic id (a suggestion or a topic of the document)"),
    ),
    responses(
        (status = 200, description = "Filed under the topic by hand", body = DocumentView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrators have no documents", body = ErrorBody),
        (status = 404, description = "No such document, or the topic is neither suggested for it nor one of its topics", body = ErrorBody),
        (status = 409, description = "The document is in the trash (`document_trashed`)", body = ErrorBody),
    )
)]
#[post("/{id}/topics/{topic_id}/accept")]
pub async fn accept_topic(
    user: RegularUser,
    state: web::Data<AppState>,
    links: ThumbnailLinks,
    path: web::Path<(DocumentId, TopicId)>,
) -> Result<web::Json<DocumentView>, ApiError> {
    let (id, topic) = path.into_inner();
    let ip = Some(user.0.client.ip.as_str());
    let doc = feedback::accept(&state.db, user.id(), id, topic, ip).await?;
    crate::documents::routes::one_view(&state, &links, &user, doc).await
}

/// Rejects a topic for your document: the suggestion or the automatic topic is removed,
/// and the document is never filed under that topic automatically nor offered it again
/// (re-classifying included); the builtin classifier learns from it. Rejecting again:
/// unchanged. A topic you set by hand is taken off with `updateDocument`. Returns the
/// document.
#[utoipa::path(
    operation_id = "rejectDocumentTopic",
    tag = "documents",
    security(("bearer" = [])),
    params(
        ("id" = Uuid, Path, description = "Document id"),
        ("topic_id" = Uuid, Path, description = "Topic id (a suggestion or an automatic topic of the document)"),
    ),
    responses(
        (status = 200, description = "Removed and remembered as rejected", body = DocumentView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrators have no documents", body = ErrorBody),
        (status = 404, description = "No such document, or the topic is neither suggested for it nor one of its automatic topics", body = ErrorBody),
        (status = 409, description = "The document is in the trash (`document_trashed`)", body = ErrorBody),
    )
)]
#[post("/{id}/topics/{topic_id}/reject")]
pub async fn reject_topic(
    user: RegularUser,
    state: web::Data<AppState>,
    links: ThumbnailLinks,
    path: web::Path<(DocumentId, TopicId)>,
) -> Result<web::Json<DocumentView>, ApiError> {
    let (id, topic) = path.into_inner();
    let ip = Some(user.0.client.ip.as_str());
    let doc = feedback::reject(&state.db, user.id(), id, topic, ip).await?;
    crate::documents::routes::one_view(&state, &links, &user, doc).await
}
