//! `/api/views`: the caller's saved views (named list queries). Regular accounts only;
//! another account's view answers exactly like a missing one.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::extract::{RegularUser, regular_scope};
use crate::documents::routes::ListQuery;
use crate::entities::saved_views;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::http::ApiJson;
use crate::saved_views::service::{self, ViewChanges, ViewName};
use crate::state::AppState;

/// A view's list parameters: the query parameters of `GET /api/documents` that choose
/// and order documents, as a JSON object of strings, numbers and booleans.
type ViewQuery = serde_json::Map<String, serde_json::Value>;

/// One saved view.
#[derive(Debug, Serialize, ToSchema)]
pub struct SavedView {
    /// View id.
    pub id: Uuid,
    /// Name, unique among the caller's views (ignoring case and spaces).
    pub name: String,
    /// The list parameters (`q`, `sort`, `order`, `topic`, `folder_id`,
    /// `include_subfolders`, `status`, `content_type`, `created_from`, `created_to`,
    /// `size_min`, `size_max`, `include_shared`, `duplicates`), as saved.
    #[schema(value_type = Object, example = json!({"content_type": "application/pdf", "sort": "size"}))]
    pub query: ViewQuery,
    /// Created at.
    pub created_at: DateTime<Utc>,
    /// Last changed at.
    pub updated_at: DateTime<Utc>,
}

impl From<saved_views::Model> for SavedView {
    fn from(m: saved_views::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            query: match m.query {
                serde_json::Value::Object(map) => map,
                _ => ViewQuery::new(),
            },
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// The caller's saved views.
#[derive(Debug, Serialize, ToSchema)]
pub struct SavedViewList {
    /// Every view, by name (ignoring case).
    pub items: Vec<SavedView>,
}

/// `POST /api/views` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateViewRequest {
    /// Name: trimmed, 1–80 characters.
    #[schema(min_length = 1, max_length = 80, example = "PDFs over 1 MB")]
    pub name: String,
    /// The list parameters; checked exactly like the query of `GET /api/documents`
    /// (an unknown key or a bad value is 422).
    #[schema(value_type = Object)]
    pub query: ViewQuery,
}

/// `PATCH /api/views/{id}` body; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateViewRequest {
    /// New name (same rules as on creation).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 80)]
    pub name: Option<String>,
    /// New list parameters (same rules as on creation).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub query: Option<ViewQuery>,
}

/// A view's query, read as the list reads its own; 422 `validation_failed` when it is not
/// one.
fn checked(query: ViewQuery) -> Result<ViewQuery, ApiError> {
    ListQuery::from_saved(&query).map_err(|message| ApiError::Unprocessable {
        code: ErrorCode::ValidationFailed,
        message,
    })?;
    Ok(query)
}

/// Lists the caller's saved views by name.
#[utoipa::path(
    operation_id = "listViews",
    tag = "views",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's views, by name", body = SavedViewList),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrator account, or password change pending", body = ErrorBody),
    )
)]
#[get("")]
pub async fn list_views(
    state: web::Data<AppState>,
    user: RegularUser,
) -> Result<web::Json<SavedViewList>, ApiError> {
    let rows = service::list(&state.db, user.id()).await?;
    Ok(web::Json(SavedViewList {
        items: rows.into_iter().map(SavedView::from).collect(),
    }))
}

/// Saves the current list parameters as a named view.
#[utoipa::path(
    operation_id = "createView",
    tag = "views",
    security(("bearer" = [])),
    request_body = CreateViewRequest,
    responses(
        (status = 201, description = "Saved", body = SavedView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrator account, or password change pending", body = ErrorBody),
        (status = 409, description = "A view of yours has this name (`view_name_taken`)", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Bad name, or a query the list would refuse", body = ErrorBody),
    )
)]
#[post("")]
pub async fn create_view(
    state: web::Data<AppState>,
    user: RegularUser,
    body: ApiJson<CreateViewRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let name = ViewName::parse(&body.name)?;
    let query = checked(body.query)?;
    let row = service::create(&state.db, user.id(), name, query).await?;
    Ok(HttpResponse::Created().json(SavedView::from(row)))
}

/// Renames a view and/or replaces its query.
#[utoipa::path(
    operation_id = "updateView",
    tag = "views",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "View id")),
    request_body = UpdateViewRequest,
    responses(
        (status = 200, description = "Updated", body = SavedView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrator account, or password change pending", body = ErrorBody),
        (status = 404, description = "No such view", body = ErrorBody),
        (status = 409, description = "Another view of yours has this name (`view_name_taken`)", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Bad name, or a query the list would refuse", body = ErrorBody),
    )
)]
#[patch("/{id}")]
pub async fn update_view(
    state: web::Data<AppState>,
    user: RegularUser,
    id: web::Path<Uuid>,
    body: ApiJson<UpdateViewRequest>,
) -> Result<web::Json<SavedView>, ApiError> {
    let body = body.0;
    let changes = ViewChanges {
        name: body.name.as_deref().map(ViewName::parse).transpose()?,
        query: body.query.map(checked).transpose()?,
    };
    let row = service::update(&state.db, user.id(), id.into_inner(), changes).await?;
    Ok(web::Json(SavedView::from(row)))
}

/// Deletes a view (never any document).
#[utoipa::path(
    operation_id = "deleteView",
    tag = "views",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "View id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrator account, or password change pending", body = ErrorBody),
        (status = 404, description = "No such view", body = ErrorBody),
    )
)]
#[delete("/{id}")]
pub async fn delete_view(
    state: web::Data<AppState>,
    user: RegularUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    service::delete(&state.db, user.id(), id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers the `/views` routes (inside the `/api` scope).
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(
        regular_scope("/views")
            .service(list_views)
            .service(create_view)
            .service(update_view)
            .service(delete_view),
    );
}
