//! `/api/folders`: the caller's folder tree. Regular accounts only; another account's
//! folder answers exactly like a missing one.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::extract::{RegularUser, regular_scope};
use crate::domain::FolderId;
use crate::error::{ApiError, ErrorBody};
use crate::folders::name::FolderName;
use crate::folders::service::{self, FolderChanges, FolderRow};
use crate::http::ApiJson;
use crate::state::AppState;

/// One folder of the caller's tree.
#[derive(Debug, Serialize, ToSchema)]
pub struct FolderView {
    /// Folder id.
    pub id: Uuid,
    /// Parent folder; null for a folder at the root.
    #[schema(required = true)]
    pub parent_id: Option<Uuid>,
    /// Name, unique among its siblings ignoring case.
    pub name: String,
    /// Created at.
    pub created_at: DateTime<Utc>,
    /// Last renamed or moved at.
    pub updated_at: DateTime<Utc>,
    /// Documents directly in this folder (not counting sub-folders or unconfirmed uploads).
    pub document_count: u64,
}

impl From<FolderRow> for FolderView {
    fn from(r: FolderRow) -> Self {
        Self {
            id: r.folder.id,
            parent_id: r.folder.parent_id,
            name: r.folder.name,
            created_at: r.folder.created_at,
            updated_at: r.folder.updated_at,
            document_count: r.document_count,
        }
    }
}

/// The caller's whole folder tree as a flat list; rebuild the tree from `parent_id`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FolderList {
    /// Every folder, sorted by name (ignoring case).
    pub items: Vec<FolderView>,
}

/// `POST /api/folders` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFolderRequest {
    /// Name: surrounding spaces are trimmed; 1–255 characters, no `/`, no control
    /// characters, not `.` or `..`.
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = r"^(?![\u0020\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*\.{0,2}[\u0020\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$)[^/\u0000-\u001F\u007F-\u009F]+$"
    )]
    pub name: String,
    /// Parent folder (one of yours); absent or null = at the root.
    #[serde(default)]
    pub parent_id: Option<Uuid>,
}

/// `PATCH /api/folders/{id}` body; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateFolderRequest {
    /// New name (same rules as on creation); absent or null = unchanged.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = r"^(?![\u0020\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*\.{0,2}[\u0020\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$)[^/\u0000-\u001F\u007F-\u009F]+$"
    )]
    pub name: Option<String>,
    /// New parent folder (one of yours); null = move to the root; absent = unchanged.
    #[serde(default, deserialize_with = "crate::serde_util::double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub parent_id: Option<Option<Uuid>>,
}

fn folder_name(raw: &str) -> Result<FolderName, ApiError> {
    FolderName::parse(raw).map_err(|e| ApiError::Unprocessable {
        code: crate::error::ErrorCode::ValidationFailed,
        message: e.0,
    })
}

/// Lists the caller's folders: the whole tree, flat, with document counts.
#[utoipa::path(
    operation_id = "listFolders",
    tag = "folders",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every folder of the caller, sorted by name", body = FolderList),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrator account, or password change pending", body = ErrorBody),
    )
)]
#[get("")]
pub async fn list_folders(
    state: web::Data<AppState>,
    user: RegularUser,
) -> Result<web::Json<FolderList>, ApiError> {
    let rows = service::list(&state.db, user.id()).await?;
    Ok(web::Json(FolderList {
        items: rows.into_iter().map(FolderView::from).collect(),
    }))
}

/// Creates a folder at the root or under one of the caller's folders.
///
/// Sibling names are unique ignoring case (`409 folder_exists`).
#[utoipa::path(
    operation_id = "createFolder",
    tag = "folders",
    security(("bearer" = [])),
    request_body = CreateFolderRequest,
    responses(
        (status = 201, description = "Created", body = FolderView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrator account, or password change pending", body = ErrorBody),
        (status = 404, description = "No such parent folder", body = ErrorBody),
        (status = 409, description = "A sibling has this name (`folder_exists`)", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid values", body = ErrorBody),
    )
)]
#[post("")]
pub async fn create_folder(
    state: web::Data<AppState>,
    user: RegularUser,
    body: ApiJson<CreateFolderRequest>,
) -> Result<HttpResponse, ApiError> {
    let name = folder_name(&body.name)?;
    let row = service::create(
        &state.db,
        user.id(),
        name,
        body.parent_id.map(FolderId::from),
    )
    .await?;
    Ok(HttpResponse::Created().json(FolderView::from(row)))
}

/// Renames a folder and/or moves it (`parent_id: null` moves it to the root).
///
/// Moving a folder into itself or any folder below it is refused (`409 folder_cycle`);
/// so is a name that a sibling at the destination already has, ignoring case
/// (`409 folder_exists`).
#[utoipa::path(
    operation_id = "updateFolder",
    tag = "folders",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Folder id")),
    request_body = UpdateFolderRequest,
    responses(
        (status = 200, description = "Updated", body = FolderView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrator account, or password change pending", body = ErrorBody),
        (status = 404, description = "No such folder or parent folder", body = ErrorBody),
        (status = 409, description = "Would form a cycle (`folder_cycle`) or a sibling has this name (`folder_exists`)", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid values", body = ErrorBody),
    )
)]
#[patch("/{id}")]
pub async fn update_folder(
    state: web::Data<AppState>,
    user: RegularUser,
    id: web::Path<FolderId>,
    body: ApiJson<UpdateFolderRequest>,
) -> Result<web::Json<FolderView>, ApiError> {
    let body = body.0;
    let changes = FolderChanges {
        name: body.name.as_deref().map(folder_name).transpose()?,
        parent_id: body.parent_id.map(|p| p.map(FolderId::from)),
    };
    let row = service::update(&state.db, user.id(), id.into_inner(), changes).await?;
    Ok(web::Json(FolderView::from(row)))
}

/// Deletes a folder but nothing in it: its contents move up one level.
///
/// In one transaction, the folder's documents move to its parent folder (to no folder
/// when it was at the root), and its sub-folders, with everything below them, move to
/// that parent too. A moved sub-folder whose name a folder there already has (ignoring
/// case) is renamed `name (2)`, `name (3)`, … (the first free number). No document is
/// deleted.
#[utoipa::path(
    operation_id = "deleteFolder",
    tag = "folders",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Folder id")),
    responses(
        (status = 204, description = "Deleted; its documents and sub-folders moved to its parent (or the root)"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrator account, or password change pending", body = ErrorBody),
        (status = 404, description = "No such folder", body = ErrorBody),
    )
)]
#[delete("/{id}")]
pub async fn delete_folder(
    state: web::Data<AppState>,
    user: RegularUser,
    id: web::Path<FolderId>,
) -> Result<HttpResponse, ApiError> {
    service::delete(&state.db, user.id(), id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers the `/folders` routes (inside the `/api` scope).
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(
        regular_scope("/folders")
            .service(list_folders)
            .service(create_folder)
            .service(update_folder)
            .service(delete_folder),
    );
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    #[test]
    fn documented_name_pattern_is_the_one_the_parser_implements() {
        let api = crate::openapi::document();
        let json = serde_json::to_value(&api).unwrap();
        for schema in ["CreateFolderRequest", "UpdateFolderRequest"] {
            let name = &json["components"]["schemas"][schema]["properties"]["name"];
            assert_eq!(name["pattern"], crate::folders::name::PATTERN, "{schema}");
            assert_eq!(
                name["maxLength"],
                crate::folders::name::FolderName::MAX_CHARS
            );
        }
    }
}
