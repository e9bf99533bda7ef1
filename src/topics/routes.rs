//! `/api/topics`: the caller's own topics (regular accounts only), listed together with
//! the system topics; `/api/admin/topics`: system topics (administrators only).
//!
//! Another account's topic, and a system topic on the user routes, answer exactly like
//! a missing one (404): users can file documents under system topics but never change
//! them.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{AuditEntry, AuditEvent, Outcome};
use crate::auth::extract::{AdminUser, RegularUser, regular_scope};
use crate::entities::topics;
use crate::error::{ApiError, ErrorBody};
use crate::http::ApiJson;
use crate::state::AppState;
use crate::topics::service::{self, NewTopic, TopicChanges, TopicRow};

/// A topic as a user sees it: one of their own or a system topic.
#[derive(Debug, Serialize, ToSchema)]
pub struct TopicView {
    /// Topic id.
    pub id: Uuid,
    /// Name, unique ignoring case among the caller's topics and the system topics.
    pub name: String,
    /// Description.
    #[schema(required = true)]
    pub description: Option<String>,
    /// Colour as `#rrggbb`.
    #[schema(required = true)]
    pub color: Option<String>,
    /// Whether this is a system topic (managed by administrators, read-only here).
    pub system: bool,
    /// The caller's documents filed under this topic (unconfirmed uploads not counted).
    pub document_count: u64,
}

impl From<TopicRow> for TopicView {
    fn from(r: TopicRow) -> Self {
        Self {
            id: r.topic.id,
            system: r.topic.user_id.is_none(),
            name: r.topic.name,
            description: r.topic.description,
            color: r.topic.color,
            document_count: r.document_count,
        }
    }
}

/// The caller's topics and the system topics.
#[derive(Debug, Serialize, ToSchema)]
pub struct TopicList {
    /// Every topic the caller can use, sorted by name (ignoring case).
    pub items: Vec<TopicView>,
}

/// A system topic as administrators see it (no document counts: admins never see
/// documents).
#[derive(Debug, Serialize, ToSchema)]
pub struct SystemTopicView {
    /// Topic id.
    pub id: Uuid,
    /// Name, unique ignoring case among system topics.
    pub name: String,
    /// Description.
    #[schema(required = true)]
    pub description: Option<String>,
    /// Colour as `#rrggbb`.
    #[schema(required = true)]
    pub color: Option<String>,
    /// Created at.
    pub created_at: DateTime<Utc>,
}

impl From<topics::Model> for SystemTopicView {
    fn from(t: topics::Model) -> Self {
        Self {
            id: t.id,
            name: t.name,
            description: t.description,
            color: t.color,
            created_at: t.created_at,
        }
    }
}

/// Every system topic.
#[derive(Debug, Serialize, ToSchema)]
pub struct SystemTopicList {
    /// System topics, sorted by name (ignoring case).
    pub items: Vec<SystemTopicView>,
}

/// `POST /api/topics` and `POST /api/admin/topics` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTopicRequest {
    /// Name: surrounding spaces are trimmed; 1–100 characters, no control characters,
    /// not blank.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^(?![\u0020\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$)[^\u0000-\u001F\u007F-\u009F]+$"
    )]
    pub name: String,
    /// Description: up to 2000 characters, no control characters but tab and line
    /// breaks; trimmed, blank = none.
    #[serde(default)]
    #[schema(
        max_length = 2000,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub description: Option<String>,
    /// Colour `#RRGGBB` (stored in lower case).
    #[serde(default)]
    #[schema(pattern = r"^#[0-9A-Fa-f]{6}$")]
    pub color: Option<String>,
}

/// `PATCH /api/topics/{id}` and `PATCH /api/admin/topics/{id}` body; absent fields stay
/// as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTopicRequest {
    /// New name (same rules as on creation); absent or null = unchanged.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^(?![\u0020\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$)[^\u0000-\u001F\u007F-\u009F]+$"
    )]
    pub name: Option<String>,
    /// New description (same rules as on creation); null = remove; absent = unchanged.
    #[serde(default, deserialize_with = "crate::serde_util::double_option")]
    #[schema(
        value_type = Option<String>,
        max_length = 2000,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub description: Option<Option<String>>,
    /// New colour `#RRGGBB`; null = remove; absent = unchanged.
    #[serde(default, deserialize_with = "crate::serde_util::double_option")]
    #[schema(value_type = Option<String>, pattern = r"^#[0-9A-Fa-f]{6}$")]
    pub color: Option<Option<String>>,
}

fn new_topic(body: &CreateTopicRequest) -> Result<NewTopic, ApiError> {
    NewTopic::parse(
        &body.name,
        body.description.as_deref(),
        body.color.as_deref(),
    )
}

fn changes(body: &UpdateTopicRequest) -> Result<TopicChanges, ApiError> {
    TopicChanges::parse(
        body.name.as_deref(),
        body.description.as_ref().map(Option::as_deref),
        body.color.as_ref().map(Option::as_deref),
    )
}

/// Lists the caller's own topics and the system topics, with document counts.
#[utoipa::path(
    operation_id = "listTopics",
    tag = "topics",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's topics and the system topics, sorted by name", body = TopicList),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrator account, or password change pending", body = ErrorBody),
    )
)]
#[get("")]
pub async fn list_topics(
    state: web::Data<AppState>,
    user: RegularUser,
) -> Result<web::Json<TopicList>, ApiError> {
    let rows = service::list_for_user(&state.db, user.id()).await?;
    Ok(web::Json(TopicList {
        items: rows.into_iter().map(TopicView::from).collect(),
    }))
}

/// Creates a topic in the caller's namespace.
///
/// Names are unique ignoring case among the caller's topics and must not be the name
/// of a system topic (`409 topic_exists`).
#[utoipa::path(
    operation_id = "createTopic",
    tag = "topics",
    security(("bearer" = [])),
    request_body = CreateTopicRequest,
    responses(
        (status = 201, description = "Created", body = TopicView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrator account, or password change pending", body = ErrorBody),
        (status = 409, description = "One of your topics or a system topic has this name (`topic_exists`)", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid values", body = ErrorBody),
    )
)]
#[post("")]
pub async fn create_topic(
    state: web::Data<AppState>,
    user: RegularUser,
    body: ApiJson<CreateTopicRequest>,
) -> Result<HttpResponse, ApiError> {
    let new = new_topic(&body)?;
    let topic = service::create(&state.db, Some(user.id()), new).await?;
    Ok(HttpResponse::Created().json(TopicView::from(TopicRow {
        topic,
        document_count: 0,
    })))
}

/// Changes the name, description or colour of one of the caller's topics.
///
/// System topics and other accounts' topics answer 404 like missing ones.
#[utoipa::path(
    operation_id = "updateTopic",
    tag = "topics",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Topic id")),
    request_body = UpdateTopicRequest,
    responses(
        (status = 200, description = "Updated", body = TopicView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrator account, or password change pending", body = ErrorBody),
        (status = 404, description = "No such topic of yours (system topics included)", body = ErrorBody),
        (status = 409, description = "One of your topics or a system topic has this name (`topic_exists`)", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid values", body = ErrorBody),
    )
)]
#[patch("/{id}")]
pub async fn update_topic(
    state: web::Data<AppState>,
    user: RegularUser,
    id: web::Path<Uuid>,
    body: ApiJson<UpdateTopicRequest>,
) -> Result<web::Json<TopicView>, ApiError> {
    let changes = changes(&body)?;
    let user = user.id();
    let topic = service::update(&state.db, Some(user), id.into_inner().into(), changes).await?;
    let row = service::row_for_user(&state.db, user, topic).await?;
    Ok(web::Json(TopicView::from(row)))
}

/// Deletes one of the caller's topics and removes it from every document.
///
/// The documents themselves stay.
#[utoipa::path(
    operation_id = "deleteTopic",
    tag = "topics",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Topic id")),
    responses(
        (status = 204, description = "Deleted; no document is filed under it any more"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrator account, or password change pending", body = ErrorBody),
        (status = 404, description = "No such topic of yours (system topics included)", body = ErrorBody),
    )
)]
#[delete("/{id}")]
pub async fn delete_topic(
    state: web::Data<AppState>,
    user: RegularUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    service::delete(&state.db, Some(user.id()), id.into_inner().into()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Lists the system topics.
#[utoipa::path(
    operation_id = "listSystemTopics",
    tag = "topics",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every system topic, sorted by name", body = SystemTopicList),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    )
)]
#[get("/admin/topics")]
pub async fn list_system_topics(
    state: web::Data<AppState>,
    _admin: AdminUser,
) -> Result<web::Json<SystemTopicList>, ApiError> {
    let rows = service::list_system(&state.db).await?;
    Ok(web::Json(SystemTopicList {
        items: rows.into_iter().map(SystemTopicView::from).collect(),
    }))
}

/// Creates a system topic, visible to every account.
///
/// Names are unique ignoring case among system topics (`409 topic_exists`). Accounts
/// that already have a topic of that name keep it.
#[utoipa::path(
    operation_id = "createSystemTopic",
    tag = "topics",
    security(("bearer" = [])),
    request_body = CreateTopicRequest,
    responses(
        (status = 201, description = "Created", body = SystemTopicView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 409, description = "A system topic has this name (`topic_exists`)", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid values", body = ErrorBody),
    )
)]
#[post("/admin/topics")]
pub async fn create_system_topic(
    state: web::Data<AppState>,
    admin: AdminUser,
    body: ApiJson<CreateTopicRequest>,
) -> Result<HttpResponse, ApiError> {
    let new = new_topic(&body)?;
    let topic = service::create(&state.db, None, new).await?;
    audit_topic(
        &state,
        &admin,
        AuditEvent::AdminTopicCreated,
        topic.id,
        Some(&topic.name),
    )
    .await?;
    Ok(HttpResponse::Created().json(SystemTopicView::from(topic)))
}

/// Changes the name, description or colour of a system topic.
#[utoipa::path(
    operation_id = "updateSystemTopic",
    tag = "topics",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "System topic id")),
    request_body = UpdateTopicRequest,
    responses(
        (status = 200, description = "Updated", body = SystemTopicView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such system topic (users' topics included)", body = ErrorBody),
        (status = 409, description = "A system topic has this name (`topic_exists`)", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid values", body = ErrorBody),
    )
)]
#[patch("/admin/topics/{id}")]
pub async fn update_system_topic(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<Uuid>,
    body: ApiJson<UpdateTopicRequest>,
) -> Result<web::Json<SystemTopicView>, ApiError> {
    let changes = changes(&body)?;
    let topic = service::update(&state.db, None, id.into_inner().into(), changes).await?;
    audit_topic(
        &state,
        &admin,
        AuditEvent::AdminTopicUpdated,
        topic.id,
        Some(&topic.name),
    )
    .await?;
    Ok(web::Json(SystemTopicView::from(topic)))
}

/// Deletes a system topic and removes it from every account's documents.
#[utoipa::path(
    operation_id = "deleteSystemTopic",
    tag = "topics",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "System topic id")),
    responses(
        (status = 204, description = "Deleted; no document is filed under it any more"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such system topic (users' topics included)", body = ErrorBody),
    )
)]
#[delete("/admin/topics/{id}")]
pub async fn delete_system_topic(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    service::delete(&state.db, None, id.into()).await?;
    audit_topic(&state, &admin, AuditEvent::AdminTopicDeleted, id, None).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// One audit row per admin change to a system topic.
async fn audit_topic(
    state: &AppState,
    admin: &AdminUser,
    event: AuditEvent,
    topic: Uuid,
    name: Option<&str>,
) -> Result<(), ApiError> {
    let mut entry = AuditEntry::new(event, Outcome::Success, None, Some(&admin.0.client.ip))
        .actor(Some(admin.id().into()))
        .resource(topic);
    if let Some(name) = name {
        entry = entry.detail("name", name);
    }
    entry.record(&state.db).await?;
    Ok(())
}

/// Registers the `/topics` and `/admin/topics` routes (inside the `/api` scope).
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(
        regular_scope("/topics")
            .service(list_topics)
            .service(create_topic)
            .service(update_topic)
            .service(delete_topic),
    )
    .service(list_system_topics)
    .service(create_system_topic)
    .service(update_system_topic)
    .service(delete_system_topic);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    #[test]
    fn documented_patterns_are_the_ones_the_parsers_implement() {
        use crate::topics::service;
        let api = crate::openapi::document();
        let json = serde_json::to_value(&api).unwrap();
        for schema in ["CreateTopicRequest", "UpdateTopicRequest"] {
            let props = &json["components"]["schemas"][schema]["properties"];
            let name = &props["name"];
            assert_eq!(name["pattern"], service::NAME_PATTERN, "{schema}");
            assert_eq!(name["maxLength"], service::TopicName::MAX_CHARS, "{schema}");
            let description = &props["description"];
            assert_eq!(
                description["pattern"],
                service::DESCRIPTION_PATTERN,
                "{schema}"
            );
            assert_eq!(
                description["maxLength"],
                service::DESCRIPTION_MAX_CHARS,
                "{schema}"
            );
            assert_eq!(
                props["color"]["pattern"],
                service::COLOR_PATTERN,
                "{schema}"
            );
        }
    }
}
