//! Admin use cases over accounts and the audit log.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    FromQueryResult, JoinType, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, RelationTrait,
};
use uuid::Uuid;

use crate::audit::{AuditEntry, AuditEvent, Outcome};
use crate::auth::extract::AuthSession;
use crate::auth::sessions;
use crate::domain::UserId;
use crate::entities::users::Role;
use crate::entities::{audit_log, documents, quotas, users};
use crate::error::ApiError;
use crate::mail::SecurityAlert;
use crate::state::AppState;

/// An account with its quota, as admins see it.
pub struct AccountRow {
    /// The account.
    pub user: users::Model,
    /// Its quota row.
    pub quota: Option<quotas::Model>,
}

/// Requested changes to an account.
#[derive(Debug, Default)]
pub struct AccountChanges {
    /// Enable or disable sign-in.
    pub is_active: Option<bool>,
    /// Regular account or administrator.
    pub role: Option<Role>,
    /// New quota limit in bytes.
    pub quota_limit_bytes: Option<i64>,
}

fn not_found() -> ApiError {
    ApiError::NotFound("No such account".into())
}

/// One page of accounts, newest first, optionally filtered by handle/e-mail substring.
pub async fn list_accounts(
    db: &impl ConnectionTrait,
    page: u64,
    per_page: u64,
    q: Option<&str>,
) -> Result<(Vec<AccountRow>, u64), ApiError> {
    let mut query = users::Entity::find().order_by_desc(users::Column::CreatedAt);
    if let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) {
        let cleaned: String = q
            .to_lowercase()
            .chars()
            .filter(|c| !c.is_control() && *c != '%' && *c != '_')
            .collect();
        let pattern = format!("%{cleaned}%");
        query = query.filter(
            sea_orm::Condition::any()
                .add(users::Column::Handle.like(pattern.clone()))
                .add(users::Column::Email.like(pattern)),
        );
    }
    let paginator = query.paginate(db, per_page);
    let total = paginator.num_items().await?;
    let users = paginator.fetch_page(page.saturating_sub(1)).await?;
    let ids: Vec<Uuid> = users.iter().map(|u| u.id).collect();
    let quotas = quotas::Entity::find()
        .filter(quotas::Column::UserId.is_in(ids))
        .all(db)
        .await?;
    let rows = users
        .into_iter()
        .map(|user| AccountRow {
            quota: quotas.iter().find(|q| q.user_id == user.id).cloned(),
            user,
        })
        .collect();
    Ok((rows, total))
}

/// One account with its quota.
pub async fn get_account(db: &impl ConnectionTrait, id: UserId) -> Result<AccountRow, ApiError> {
    let user = users::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(not_found)?;
    let quota = quotas::Entity::find_by_id(id).one(db).await?;
    Ok(AccountRow { user, quota })
}

/// The ids of the active administrators, locked until `txn` ends, so that every change
/// that could remove one (demote, disable, delete) checks and changes in one serialised
/// step: on PostgreSQL the rows are locked `FOR UPDATE` (in id order, so concurrent
/// callers queue instead of deadlocking; a row demoted meanwhile is re-read and drops
/// out), on SQLite the write lock `BEGIN IMMEDIATE` took already serialises writers.
async fn lock_active_admins(txn: &DatabaseTransaction) -> Result<Vec<Uuid>, ApiError> {
    Ok(users::Entity::find()
        .select_only()
        .column(users::Column::Id)
        .filter(users::Column::Role.eq(Role::Admin))
        .filter(users::Column::IsActive.eq(true))
        .order_by_asc(users::Column::Id)
        .lock_exclusive()
        .into_tuple()
        .all(txn)
        .await?)
}

/// Refuses a change that would leave no active administrator, then one made by an
/// administrator who lost that role (or was disabled) after the request was authorised.
/// `admins` comes from [`lock_active_admins`] in the same transaction as the change.
fn check_admins_remain(
    admins: &[Uuid],
    actor: Uuid,
    target: &users::Model,
    removes_admin: bool,
) -> Result<(), ApiError> {
    if removes_admin
        && target.role == Role::Admin
        && target.is_active
        && !admins.iter().any(|a| *a != target.id)
    {
        return Err(ApiError::Conflict {
            code: crate::error::ErrorCode::LastAdmin,
            message: "At least one active administrator must remain".into(),
        });
    }
    if !admins.contains(&actor) {
        return Err(ApiError::Forbidden {
            code: crate::error::ErrorCode::AdminRequired,
            message: "This action needs an administrator account".into(),
        });
    }
    Ok(())
}

/// Applies `changes`; disabling an account or changing its role signs it out everywhere.
/// The last active admin cannot be demoted or disabled: checked and changed in one
/// transaction holding the active admins' rows ([`lock_active_admins`]).
pub async fn update_account(
    db: &DatabaseConnection,
    admin: &AuthSession,
    id: UserId,
    changes: AccountChanges,
) -> Result<AccountRow, ApiError> {
    if changes.quota_limit_bytes.is_some_and(|l| l < 0) {
        return Err(ApiError::Unprocessable {
            code: crate::error::ErrorCode::ValidationFailed,
            message: "quota_limit_bytes must be >= 0".into(),
        });
    }
    let txn = crate::db::begin_write(db).await?;
    let admins = lock_active_admins(&txn).await?;
    let user = users::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(not_found)?;
    let demotes = changes.role.is_some_and(|r| r != Role::Admin);
    let disables = changes.is_active == Some(false);
    if id == admin.id() && (demotes || disables) {
        return Err(ApiError::Conflict {
            code: crate::error::ErrorCode::CannotModifySelf,
            message: "You cannot disable or demote your own account".into(),
        });
    }
    check_admins_remain(&admins, admin.user.id, &user, demotes || disables)?;
    let now = crate::time::now();
    let role_changes = changes.role.is_some_and(|r| r != user.role);
    let mut update = users::Entity::update_many()
        .col_expr(users::Column::UpdatedAt, Expr::value(now))
        .filter(users::Column::Id.eq(id));
    if let Some(active) = changes.is_active {
        update = update.col_expr(users::Column::IsActive, Expr::value(active));
    }
    if let Some(role) = changes.role {
        update = update.col_expr(users::Column::Role, Expr::value(role));
    }
    if disables || role_changes {
        update = update.col_expr(users::Column::TokensValidAfter, Expr::value(now));
        sessions::revoke_all(&txn, id.into(), None).await?;
    }
    update.exec(&txn).await?;
    if let Some(limit) = changes.quota_limit_bytes {
        quotas::Entity::update_many()
            .col_expr(quotas::Column::LimitBytes, Expr::value(limit))
            .filter(quotas::Column::UserId.eq(id))
            .exec(&txn)
            .await?;
    }
    let mut entry = AuditEntry::new(
        AuditEvent::AdminUserUpdated,
        Outcome::Success,
        Some(id.into()),
        Some(&admin.client.ip),
    )
    .actor(Some(admin.user.id));
    if let Some(a) = changes.is_active {
        entry = entry.detail("is_active", a);
    }
    if let Some(r) = changes.role {
        entry = entry.detail("role", r.as_str());
    }
    if let Some(l) = changes.quota_limit_bytes {
        entry = entry.detail("quota_limit_bytes", l);
    }
    entry.record(&txn).await?;
    txn.commit().await?;
    get_account(db, id).await
}

/// Deletes an account with everything it owns (rows cascade; stored objects after the
/// commit). The last active admin cannot be deleted (same serialised check as updates).
pub async fn delete_account(
    state: &AppState,
    admin: &AuthSession,
    id: UserId,
) -> Result<(), ApiError> {
    if id == admin.id() {
        return Err(ApiError::Conflict {
            code: crate::error::ErrorCode::CannotModifySelf,
            message: "You cannot delete your own account".into(),
        });
    }
    let txn = crate::db::begin_write(&state.db).await?;
    let admins = lock_active_admins(&txn).await?;
    let user = users::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(not_found)?;
    check_admins_remain(&admins, admin.user.id, &user, true)?;
    let docs = documents::Entity::find()
        .filter(documents::Column::UserId.eq(id))
        .all(&txn)
        .await?;
    // Every version's object goes too (the current one is the document's).
    let version_keys: Vec<String> = crate::entities::document_versions::Entity::find()
        .select_only()
        .column(crate::entities::document_versions::Column::ObjectKey)
        .filter(crate::entities::document_versions::Column::UserId.eq(id))
        .into_tuple()
        .all(&txn)
        .await?;
    users::Entity::delete_by_id(id).exec(&txn).await?;
    AuditEntry::new(
        AuditEvent::AdminUserDeleted,
        Outcome::Success,
        None,
        Some(&admin.client.ip),
    )
    .actor(Some(admin.user.id))
    .resource(id)
    .detail("handle", user.handle)
    .record(&txn)
    .await?;
    txn.commit().await?;
    // Rows are gone (cascade); now the bytes. Failures are retried by the cleanup job.
    for key in version_keys
        .iter()
        .filter(|k| !docs.iter().any(|d| &d.object_key == *k))
    {
        if let Ok(key) = crate::domain::ObjectKey::parse(key) {
            for k in [crate::documents::files::staging_key(&key)?, key] {
                crate::documents::files::delete_object_or_retry_later(
                    &state.db,
                    state.storage.as_ref(),
                    &k,
                )
                .await?;
            }
        }
    }
    for doc in docs {
        if let Ok(key) = crate::domain::ObjectKey::parse(&doc.object_key) {
            crate::documents::files::delete_object_or_retry_later(
                &state.db,
                state.storage.as_ref(),
                &key,
            )
            .await?;
            let staging = crate::documents::files::staging_key(&key)?;
            crate::documents::files::delete_object_or_retry_later(
                &state.db,
                state.storage.as_ref(),
                &staging,
            )
            .await?;
            if let Ok(thumbnail) = crate::documents::thumbnails::thumbnail_key(&key) {
                crate::documents::files::delete_object_or_retry_later(
                    &state.db,
                    state.storage.as_ref(),
                    &thumbnail,
                )
                .await?;
            }
        }
    }
    Ok(())
}

/// 409 `cannot_modify_self`: the recovery actions are for other accounts; an
/// administrator changes their own password or 2FA through the account's own flows.
fn not_on_yourself(what: &str) -> ApiError {
    ApiError::Conflict {
        code: crate::error::ErrorCode::CannotModifySelf,
        message: format!("You cannot {what} on your own account; use your account settings"),
    }
}

/// Sets a generated temporary password for the account `id` (not the caller's own:
/// 409 `cannot_modify_self`) and returns it, shown once: the account must change it at
/// its next sign-in, every session and API token and every reset link of the account
/// ends, and the user is told by e-mail. Two-factor authentication stays as it is.
#[tracing::instrument(skip_all)]
pub async fn reset_password(
    state: &AppState,
    admin: &AuthSession,
    id: UserId,
) -> Result<String, ApiError> {
    if id == admin.id() {
        return Err(not_on_yourself("reset the password"));
    }
    let temporary = crate::auth::totp::random_code_groups(4);
    let hash = state.hasher.hash(&temporary).await?;
    let txn = crate::db::begin_write(&state.db).await?;
    let user = users::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(not_found)?;
    let now = crate::time::now();
    users::Entity::update_many()
        .col_expr(users::Column::PasswordHash, Expr::value(hash))
        .col_expr(users::Column::PasswordMustChange, Expr::value(true))
        .col_expr(users::Column::TokensValidAfter, Expr::value(now))
        .col_expr(users::Column::UpdatedAt, Expr::value(now))
        .filter(users::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    sessions::revoke_all(&txn, id.into(), None).await?;
    crate::auth::password_reset::use_up_links(&txn, id.into()).await?;
    AuditEntry::new(
        AuditEvent::AdminPasswordReset,
        Outcome::Success,
        Some(id.into()),
        Some(&admin.client.ip),
    )
    .actor(Some(admin.user.id))
    .record(&txn)
    .await?;
    txn.commit().await?;
    crate::auth::service::alert(
        state,
        &user,
        SecurityAlert::PasswordResetByAdmin {
            at: chrono::Utc::now(),
        },
    );
    Ok(temporary)
}

/// Turns off two-factor authentication of the account `id` (not the caller's own: 409
/// `cannot_modify_self`; 409 `totp_not_enabled` when it is off) for someone who lost
/// their authenticator and backup codes: the secret and backup codes are deleted, the
/// user is told by e-mail and signs in with the password alone. Sessions stay.
#[tracing::instrument(skip_all)]
pub async fn disable_totp(
    state: &AppState,
    admin: &AuthSession,
    id: UserId,
) -> Result<(), ApiError> {
    if id == admin.id() {
        return Err(not_on_yourself("turn off two-factor authentication"));
    }
    let txn = crate::db::begin_write(&state.db).await?;
    let user = users::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(not_found)?;
    let turned_off = users::Entity::update_many()
        .col_expr(users::Column::TotpEnabled, Expr::value(false))
        .col_expr(
            users::Column::TotpSecret,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            users::Column::TotpLastStep,
            Expr::value(Option::<i64>::None),
        )
        .col_expr(users::Column::UpdatedAt, Expr::value(crate::time::now()))
        .filter(users::Column::Id.eq(id))
        .filter(users::Column::TotpEnabled.eq(true))
        .exec(&txn)
        .await?
        .rows_affected;
    if turned_off == 0 {
        return Err(ApiError::Conflict {
            code: crate::error::ErrorCode::TotpNotEnabled,
            message: "Two-factor authentication is not on for this account".into(),
        });
    }
    crate::auth::repo::replace_backup_codes(&txn, id.into(), Vec::new()).await?;
    AuditEntry::new(
        AuditEvent::AdminTotpDisabled,
        Outcome::Success,
        Some(id.into()),
        Some(&admin.client.ip),
    )
    .actor(Some(admin.user.id))
    .record(&txn)
    .await?;
    txn.commit().await?;
    crate::auth::service::alert(
        state,
        &user,
        SecurityAlert::TotpDisabledByAdmin {
            at: chrono::Utc::now(),
        },
    );
    Ok(())
}

/// Filters for the audit log.
#[derive(Debug, Default)]
pub struct AuditFilter {
    /// Subject or actor.
    pub user_id: Option<Uuid>,
    /// Event type name.
    pub event_type: Option<String>,
    /// From this time (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Until this time (exclusive).
    pub to: Option<DateTime<Utc>>,
}

/// One page of audit entries, newest first.
pub async fn audit_log(
    db: &impl ConnectionTrait,
    page: u64,
    per_page: u64,
    filter: AuditFilter,
) -> Result<(Vec<AuditRow>, u64), ApiError> {
    // The handles come from the same query: two left joins on `users` under aliases
    // (an entry outlives its accounts: their ids and handles read as null then).
    let (actor, subject) = ("actor", "subject");
    let mut query = audit_log::Entity::find()
        .join_as(JoinType::LeftJoin, audit_log::Relation::Actor.def(), actor)
        .join_as(JoinType::LeftJoin, audit_log::Relation::User.def(), subject)
        .column_as(Expr::col((actor, users::Column::Handle)), "actor_handle")
        .column_as(Expr::col((subject, users::Column::Handle)), "user_handle")
        .order_by_desc(audit_log::Column::CreatedAt);
    if let Some(user) = filter.user_id {
        query = query.filter(
            sea_orm::Condition::any()
                .add(audit_log::Column::UserId.eq(user))
                .add(audit_log::Column::ActorId.eq(user)),
        );
    }
    if let Some(event) = filter.event_type {
        query = query.filter(audit_log::Column::EventType.eq(event));
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_log::Column::CreatedAt.gte(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(audit_log::Column::CreatedAt.lt(to));
    }
    let paginator = query.into_model::<AuditRow>().paginate(db, per_page);
    let total = paginator.num_items().await?;
    let items = paginator.fetch_page(page.saturating_sub(1)).await?;
    Ok((items, total))
}

/// One audit entry with the handles of its accounts (null once an account is deleted).
#[derive(Debug, FromQueryResult)]
pub struct AuditRow {
    /// The stored entry.
    #[sea_orm(nested)]
    pub entry: audit_log::Model,
    /// Handle of `entry.actor_id`.
    pub actor_handle: Option<String>,
    /// Handle of `entry.user_id`.
    pub user_handle: Option<String>,
}

/// Instance-wide counts.
pub struct Stats {
    /// Accounts.
    pub users: u64,
    /// Active accounts.
    pub active_users: u64,
    /// Admin accounts.
    pub admins: u64,
    /// Documents stored.
    pub documents: u64,
    /// Bytes charged across all quotas.
    pub storage_used_bytes: i64,
}

/// Counts accounts, documents and stored bytes.
pub async fn stats(db: &impl ConnectionTrait) -> Result<Stats, ApiError> {
    let users = users::Entity::find().count(db).await?;
    let active_users = users::Entity::find()
        .filter(users::Column::IsActive.eq(true))
        .count(db)
        .await?;
    let admins = users::Entity::find()
        .filter(users::Column::Role.eq(Role::Admin))
        .count(db)
        .await?;
    let documents = documents::Entity::find().count(db).await?;
    let used: Option<Option<i64>> = quotas::Entity::find()
        .select_only()
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(used_bytes), 0) AS BIGINT)"),
            "total",
        )
        .into_tuple()
        .one(db)
        .await?;
    Ok(Stats {
        users,
        active_users,
        admins,
        documents,
        storage_used_bytes: used.flatten().unwrap_or(0),
    })
}
