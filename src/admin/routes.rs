//! `/api/admin/*`: accounts, audit log, statistics. Admin accounts only.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::admin::service::{self, AccountChanges, AccountRow, AuditFilter};
use crate::audit::{AuditEntry, AuditEvent, Outcome};
use crate::auth::extract::AdminUser;
use crate::auth::service::create_account;
use crate::domain::{Email, Handle, Password, UserId};
use crate::entities::users::Role;
use crate::error::{ApiError, ErrorBody};
use crate::http::{ApiJson, page_params};
use crate::state::AppState;

/// Pagination query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1-based page number.
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<u64>,
    /// Items per page, 1–100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u64>,
    /// Filter accounts by handle or e-mail substring.
    pub q: Option<String>,
}

/// An account as administrators see it (never document content).
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserView {
    /// Account id.
    pub id: Uuid,
    /// Handle.
    pub handle: String,
    /// E-mail.
    pub email: String,
    /// `user` or `admin`.
    pub role: Role,
    /// Whether it may sign in.
    pub is_active: bool,
    /// Whether TOTP is on.
    pub totp_enabled: bool,
    /// Whether a password change is pending.
    pub password_must_change: bool,
    /// Bytes charged.
    pub used_bytes: i64,
    /// Bytes allowed.
    pub limit_bytes: i64,
    /// Created at.
    pub created_at: DateTime<Utc>,
}

impl From<AccountRow> for AdminUserView {
    fn from(r: AccountRow) -> Self {
        Self {
            id: r.user.id,
            handle: r.user.handle,
            email: r.user.email,
            role: r.user.role,
            is_active: r.user.is_active,
            totp_enabled: r.user.totp_enabled,
            password_must_change: r.user.password_must_change,
            used_bytes: r.quota.as_ref().map_or(0, |q| q.used_bytes),
            limit_bytes: r.quota.as_ref().map_or(0, |q| q.limit_bytes),
            created_at: r.user.created_at,
        }
    }
}

/// A page of accounts.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserPage {
    /// Accounts on this page.
    pub items: Vec<AdminUserView>,
    /// Accounts matching in total.
    pub total: u64,
    /// This page (1-based).
    pub page: u64,
    /// Page size.
    pub per_page: u64,
}

/// `POST /api/admin/users` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// E-mail address.
    #[schema(format = "email", max_length = 254)]
    pub email: String,
    /// Handle.
    #[schema(pattern = r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,31}$")]
    pub handle: String,
    /// Initial password; the user must change it at first sign-in.
    #[schema(min_length = 8, max_length = 1024)]
    pub password: String,
    /// `user` (default) or `admin`.
    #[serde(default)]
    #[schema(value_type = Option<Role>)]
    pub role: Option<String>,
    /// Quota limit in bytes (default from settings).
    #[serde(default, deserialize_with = "crate::serde_util::opt_whole_i64")]
    #[schema(minimum = 0)]
    pub quota_limit_bytes: Option<i64>,
}

/// `PATCH /api/admin/users/{id}` body; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    /// Enable or disable sign-in (disabling signs the account out everywhere); absent or
    /// null = unchanged.
    #[serde(default)]
    pub is_active: Option<bool>,
    /// `user` or `admin`; absent or null = unchanged.
    #[serde(default)]
    #[schema(value_type = Option<Role>)]
    pub role: Option<String>,
    /// Quota limit in bytes; absent or null = unchanged.
    #[serde(default, deserialize_with = "crate::serde_util::opt_whole_i64")]
    #[schema(minimum = 0)]
    pub quota_limit_bytes: Option<i64>,
}

/// The role a request names, if any; a 422 for anything but `user` or `admin`.
fn parse_role(requested: Option<&str>) -> Result<Option<Role>, ApiError> {
    requested
        .map(|r| {
            r.parse().map_err(|_| ApiError::Unprocessable {
                code: crate::error::ErrorCode::ValidationFailed,
                message: "role must be \"user\" or \"admin\"".into(),
            })
        })
        .transpose()
}

/// Audit-log query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// 1-based page number.
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<u64>,
    /// Items per page, 1–100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u64>,
    /// Entries about or by this account.
    pub user_id: Option<Uuid>,
    /// Only this event type, e.g. `login_failed`.
    pub event_type: Option<AuditEvent>,
    /// From this time (RFC 3339, inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Until this time (RFC 3339, exclusive).
    pub to: Option<DateTime<Utc>>,
}

/// One audit-log entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryView {
    /// Entry id.
    pub id: Uuid,
    /// Subject account.
    #[schema(required = true)]
    pub user_id: Option<Uuid>,
    /// Acting account.
    #[schema(required = true)]
    pub actor_id: Option<Uuid>,
    /// Handle of the subject account (null when there is none or it was deleted).
    #[schema(required = true)]
    pub user_handle: Option<String>,
    /// Handle of the acting account (null when there is none or it was deleted).
    #[schema(required = true)]
    pub actor_handle: Option<String>,
    /// Event type.
    pub event_type: String,
    /// Affected resource.
    #[schema(required = true)]
    pub resource_id: Option<String>,
    /// Client IP.
    #[schema(required = true)]
    pub ip_address: Option<String>,
    /// Outcome and other non-secret details.
    #[schema(required = true)]
    pub metadata: Option<serde_json::Value>,
    /// When (UTC).
    pub created_at: DateTime<Utc>,
}

impl From<service::AuditRow> for AuditEntryView {
    fn from(row: service::AuditRow) -> Self {
        let m = row.entry;
        Self {
            id: m.id,
            user_id: m.user_id,
            actor_id: m.actor_id,
            user_handle: row.user_handle,
            actor_handle: row.actor_handle,
            event_type: m.event_type,
            resource_id: m.resource_id,
            ip_address: m.ip_address,
            metadata: m.metadata,
            created_at: m.created_at,
        }
    }
}

/// A page of audit entries.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Entries, newest first.
    pub items: Vec<AuditEntryView>,
    /// Matching entries in total.
    pub total: u64,
    /// This page.
    pub page: u64,
    /// Page size.
    pub per_page: u64,
}

/// Instance statistics.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsView {
    /// Accounts.
    pub users: u64,
    /// Active accounts.
    pub active_users: u64,
    /// Administrator accounts.
    pub admins: u64,
    /// Documents stored.
    pub documents: u64,
    /// Bytes charged across all quotas.
    pub storage_used_bytes: i64,
}

/// Lists accounts with their quota usage.
#[utoipa::path(
    operation_id = "listUsers",
    tag = "admin",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of accounts", body = AdminUserPage),
        (status = 400, description = "Bad paging parameters", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    )
)]
#[get("/admin/users")]
pub async fn list_users(
    state: web::Data<AppState>,
    _admin: AdminUser,
    query: web::Query<PageQuery>,
) -> Result<web::Json<AdminUserPage>, ApiError> {
    let (page, per_page) = page_params(query.page, query.per_page)?;
    let (rows, total) =
        service::list_accounts(&state.db, page, per_page, query.q.as_deref()).await?;
    Ok(web::Json(AdminUserPage {
        items: rows.into_iter().map(AdminUserView::from).collect(),
        total,
        page,
        per_page,
    }))
}

/// Creates an account that must change its password at first sign-in.
#[utoipa::path(
    operation_id = "createUser",
    tag = "admin",
    security(("bearer" = [])),
    request_body = CreateUserRequest,
    responses(
        (status = 201, description = "Created", body = AdminUserView),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 409, description = "Handle or email taken", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid values", body = ErrorBody),
        (status = 503, description = "Server busy", body = ErrorBody),
    )
)]
#[post("/admin/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    admin: AdminUser,
    body: ApiJson<CreateUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let invalid = |e: crate::domain::InvalidInput| ApiError::Unprocessable {
        code: crate::error::ErrorCode::ValidationFailed,
        message: e.0,
    };
    let email = Email::parse(&body.email).map_err(invalid)?;
    let handle = Handle::parse(&body.handle).map_err(invalid)?;
    let password = Password::parse(&body.password).map_err(invalid)?;
    let account_role = parse_role(body.role.as_deref())?.unwrap_or(Role::User);
    if body.quota_limit_bytes.is_some_and(|l| l < 0) {
        return Err(ApiError::Unprocessable {
            code: crate::error::ErrorCode::ValidationFailed,
            message: "quota_limit_bytes must be >= 0".into(),
        });
    }
    let user = create_account(&state, &handle, &email, &password, account_role, true).await?;
    if let Some(limit) = body.quota_limit_bytes {
        service::update_account(
            &state.db,
            &admin.0,
            user.id.into(),
            AccountChanges {
                quota_limit_bytes: Some(limit),
                ..AccountChanges::default()
            },
        )
        .await?;
    }
    AuditEntry::new(
        AuditEvent::AdminUserCreated,
        Outcome::Success,
        Some(user.id),
        Some(&admin.0.client.ip),
    )
    .actor(Some(admin.id().into()))
    .detail("role", account_role.as_str())
    .record(&state.db)
    .await?;
    let row = service::get_account(&state.db, user.id.into()).await?;
    Ok(HttpResponse::Created().json(AdminUserView::from(row)))
}

/// Changes whether an account is active, its role or its quota.
#[utoipa::path(
    operation_id = "updateUser",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Account id")),
    request_body = UpdateUserRequest,
    responses(
        (status = 200, description = "Updated", body = AdminUserView),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "Would lock out the last admin or yourself", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid values", body = ErrorBody),
    )
)]
#[patch("/admin/users/{id}")]
pub async fn update_user(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<UserId>,
    body: ApiJson<UpdateUserRequest>,
) -> Result<web::Json<AdminUserView>, ApiError> {
    let body = body.0;
    let role = parse_role(body.role.as_deref())?;
    let row = service::update_account(
        &state.db,
        &admin.0,
        id.into_inner(),
        AccountChanges {
            is_active: body.is_active,
            role,
            quota_limit_bytes: body.quota_limit_bytes,
        },
    )
    .await?;
    Ok(web::Json(AdminUserView::from(row)))
}

/// Deletes an account and everything it owns.
#[utoipa::path(
    operation_id = "deleteUser",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Account id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "Would delete yourself or the last admin", body = ErrorBody),
    )
)]
#[delete("/admin/users/{id}")]
pub async fn delete_user(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    service::delete_account(&state, &admin.0, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A temporary password set by an administrator, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemporaryPasswordView {
    /// Give it to the user; they must replace it at their next sign-in.
    #[schema(example = "k7m2p-x9qtr-4hd2a-0wbzc")]
    pub temporary_password: String,
}

/// Sets a temporary password for an account that lost its own.
///
/// The answer shows the generated password once. The account must change it at its
/// next sign-in; every session and API token ends, and the user is told by e-mail.
/// Two-factor authentication stays on if it is (turn it off separately). Not on your own
/// account (409 `cannot_modify_self`): change your password in your account settings.
#[utoipa::path(
    operation_id = "resetUserPassword",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Account id")),
    responses(
        (status = 200, description = "Temporary password set", body = TemporaryPasswordView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "Your own account (`cannot_modify_self`)", body = ErrorBody),
        (status = 503, description = "Server busy", body = ErrorBody),
    )
)]
#[post("/admin/users/{id}/reset-password")]
pub async fn reset_user_password(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<UserId>,
) -> Result<web::Json<TemporaryPasswordView>, ApiError> {
    let temporary_password = service::reset_password(&state, &admin.0, id.into_inner()).await?;
    Ok(web::Json(TemporaryPasswordView { temporary_password }))
}

/// Turns off two-factor authentication of an account that lost its authenticator and
/// backup codes.
///
/// The user then signs in with the password alone and is told by e-mail. Not on your
/// own account (409 `cannot_modify_self`): use your account settings.
#[utoipa::path(
    operation_id = "disableUserTotp",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Account id")),
    responses(
        (status = 204, description = "Two-factor authentication is off"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "Your own account (`cannot_modify_self`), or 2FA is not on (`totp_not_enabled`)", body = ErrorBody),
    )
)]
#[post("/admin/users/{id}/disable-totp")]
pub async fn disable_user_totp(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    service::disable_totp(&state, &admin.0, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The security audit log, newest first.
#[utoipa::path(
    operation_id = "listAuditLog",
    tag = "admin",
    security(("bearer" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of entries", body = AuditPage),
        (status = 400, description = "Bad query parameters", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    )
)]
#[get("/admin/audit-log")]
pub async fn list_audit_log(
    state: web::Data<AppState>,
    _admin: AdminUser,
    query: web::Query<AuditQuery>,
) -> Result<web::Json<AuditPage>, ApiError> {
    let query = query.into_inner();
    let (page, per_page) = page_params(query.page, query.per_page)?;
    let (items, total) = service::audit_log(
        &state.db,
        page,
        per_page,
        AuditFilter {
            user_id: query.user_id,
            event_type: query.event_type.map(AuditEvent::as_str),
            from: query.from,
            to: query.to,
        },
    )
    .await?;
    Ok(web::Json(AuditPage {
        items: items.into_iter().map(AuditEntryView::from).collect(),
        total,
        page,
        per_page,
    }))
}

/// Counts of accounts, documents and stored bytes.
#[utoipa::path(
    operation_id = "getStats",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Statistics", body = StatsView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    )
)]
#[get("/admin/stats")]
pub async fn stats(
    state: web::Data<AppState>,
    _admin: AdminUser,
) -> Result<web::Json<StatsView>, ApiError> {
    let s = service::stats(&state.db).await?;
    Ok(web::Json(StatsView {
        users: s.users,
        active_users: s.active_users,
        admins: s.admins,
        documents: s.documents,
        storage_used_bytes: s.storage_used_bytes,
    }))
}

/// Registers the `/admin` routes (inside the `/api` scope).
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_users)
        .service(create_user)
        .service(update_user)
        .service(delete_user)
        .service(reset_user_password)
        .service(disable_user_totp)
        .service(list_audit_log)
        .service(stats);
}
