//! Account queries. Functions over `&impl ConnectionTrait` so they run on the pool or
//! inside a transaction.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    QuerySelect, Set,
};
use uuid::Uuid;

use crate::entities::users::Role;
use crate::entities::{audit_log, backup_codes, quotas, users};

/// Fields of a new account.
#[derive(Debug)]
pub struct NewUser<'a> {
    /// Normalised handle.
    pub handle: &'a str,
    /// Normalised e-mail.
    pub email: &'a str,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Regular account or administrator.
    pub role: Role,
    /// Force a password change at first login.
    pub password_must_change: bool,
    /// Quota limit in bytes.
    pub quota_limit_bytes: i64,
    /// How the account's searches match words (the server's `search.default_language`).
    pub search_language: crate::entities::SearchLanguage,
}

/// Why an account could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    /// The handle or e-mail is taken.
    #[error("handle or email already in use")]
    Taken,
    /// Anything else.
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Inserts the account and its quota row; run inside a transaction.
pub async fn insert_user(
    db: &impl ConnectionTrait,
    new: NewUser<'_>,
) -> Result<users::Model, CreateUserError> {
    let taken = users::Entity::find()
        .filter(
            Condition::any()
                .add(users::Column::Email.eq(new.email))
                .add(users::Column::Handle.eq(new.handle)),
        )
        .one(db)
        .await?;
    if taken.is_some() {
        return Err(CreateUserError::Taken);
    }
    let now = crate::time::now();
    let user = users::ActiveModel {
        id: Set(Uuid::new_v4()),
        handle: Set(new.handle.to_owned()),
        email: Set(new.email.to_owned()),
        password_hash: Set(new.password_hash),
        totp_secret: Set(None),
        totp_enabled: Set(false),
        totp_last_step: Set(None),
        role: Set(new.role),
        is_active: Set(true),
        password_must_change: Set(new.password_must_change),
        tokens_valid_after: Set(now),
        ai_provider: Set(None),
        ai_model: Set(None),
        ai_api_key_enc: Set(None),
        ai_allow_new_topics: Set(false),
        default_storage_backend: Set(None),
        ocr_languages: Set(None),
        ocr_ai_fallback: Set(false),
        search_language: Set(new.search_language),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .map_err(|e| match e.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => CreateUserError::Taken,
        _ => CreateUserError::Db(e),
    })?;
    quotas::ActiveModel {
        user_id: Set(user.id),
        limit_bytes: Set(new.quota_limit_bytes),
        used_bytes: Set(0),
        reserved_bytes: Set(0),
    }
    .insert(db)
    .await?;
    Ok(user)
}

/// Handles of the given accounts, by id (one query; none for no ids). Missing accounts
/// are simply absent.
pub async fn handles(
    db: &impl ConnectionTrait,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<std::collections::HashMap<Uuid, String>, DbErr> {
    let mut ids: Vec<Uuid> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(std::collections::HashMap::new());
    }
    Ok(users::Entity::find()
        .select_only()
        .column(users::Column::Id)
        .column(users::Column::Handle)
        .filter(users::Column::Id.is_in(ids))
        .into_tuple::<(Uuid, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

/// The account whose e-mail or handle is `login` (case-insensitive).
pub async fn find_by_login(
    db: &impl ConnectionTrait,
    login: &str,
) -> Result<Option<users::Model>, DbErr> {
    let login = login.trim().to_lowercase();
    // No handle or e-mail contains control characters (and PostgreSQL rejects NUL).
    if login.is_empty() || login.chars().any(char::is_control) {
        return Ok(None);
    }
    users::Entity::find()
        .filter(
            Condition::any()
                .add(users::Column::Email.eq(login.clone()))
                .add(users::Column::Handle.eq(login)),
        )
        .one(db)
        .await
}

/// Records TOTP step `step` as used, atomically; false when it (or a later one) was
/// already used — the code is then a replay.
pub async fn claim_totp_step(
    db: &impl ConnectionTrait,
    user: Uuid,
    step: i64,
) -> Result<bool, DbErr> {
    let res = users::Entity::update_many()
        .col_expr(users::Column::TotpLastStep, Expr::value(step))
        .filter(users::Column::Id.eq(user))
        .filter(
            Condition::any()
                .add(users::Column::TotpLastStep.is_null())
                .add(users::Column::TotpLastStep.lt(step)),
        )
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Consumes the backup code with `code_hash`, atomically; false when unknown or used.
pub async fn consume_backup_code(
    db: &impl ConnectionTrait,
    user: Uuid,
    code_hash: &str,
) -> Result<bool, DbErr> {
    let res = backup_codes::Entity::update_many()
        .col_expr(
            backup_codes::Column::UsedAt,
            Expr::value(crate::time::now()),
        )
        .filter(backup_codes::Column::UserId.eq(user))
        .filter(backup_codes::Column::CodeHash.eq(code_hash))
        .filter(backup_codes::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Replaces every backup code of `user` with `hashes`.
pub async fn replace_backup_codes(
    db: &impl ConnectionTrait,
    user: Uuid,
    hashes: Vec<String>,
) -> Result<(), DbErr> {
    backup_codes::Entity::delete_many()
        .filter(backup_codes::Column::UserId.eq(user))
        .exec(db)
        .await?;
    let now = crate::time::now();
    for hash in hashes {
        backup_codes::ActiveModel {
            id: Set(Uuid::new_v4()),
            user_id: Set(user),
            code_hash: Set(hash),
            used_at: Set(None),
            created_at: Set(now),
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

/// Whether `user` has logged in successfully from `ip` before.
pub async fn has_logged_in_from(
    db: &impl ConnectionTrait,
    user: Uuid,
    ip: &str,
) -> Result<bool, DbErr> {
    Ok(audit_log::Entity::find()
        .filter(audit_log::Column::UserId.eq(user))
        .filter(audit_log::Column::EventType.eq(crate::audit::AuditEvent::LoginSucceeded.as_str()))
        .filter(audit_log::Column::IpAddress.eq(ip))
        .one(db)
        .await?
        .is_some())
}
