//! Account use cases: register, login (with second factor), password change, TOTP,
//! backup codes, logout. Each opens and commits its own transaction where it needs one.

use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel, Set,
};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::audit::{AuditEntry, AuditEvent, Outcome};
use crate::auth::extract::AuthSession;
use crate::auth::limits::{self, Limit};
use crate::auth::repo::{self, CreateUserError, NewUser};
use crate::auth::sessions::{self, ClientInfo, IssuedTokens};
use crate::auth::totp;
use crate::crypto::Keys;
use crate::domain::{Email, Handle, Password};
use crate::entities::users;
use crate::entities::users::Role;
use crate::error::ApiError;
use crate::mail::SecurityAlert;
use crate::state::AppState;

/// What a login attempt produced.
pub enum LoginOutcome {
    /// Password right, second factor needed: ask for a TOTP or backup code.
    SecondFactorRequired,
    /// Signed in.
    SignedIn(Box<users::Model>, IssuedTokens),
}

/// The second factor offered with a login or a sensitive change.
#[derive(Debug, Default, Clone)]
pub struct SecondFactor {
    /// A 6-digit TOTP code.
    pub totp_code: Option<String>,
    /// A single-use backup code.
    pub backup_code: Option<String>,
}

/// What a TOTP enrolment shows the user once.
pub struct TotpEnrolment {
    /// Base32 secret for manual entry.
    pub secret: String,
    /// `otpauth://` URI.
    pub otpauth_uri: String,
    /// QR code of the URI as SVG.
    pub qr_svg: String,
}

fn invalid_credentials() -> ApiError {
    ApiError::Unauthorized {
        code: crate::error::ErrorCode::InvalidCredentials,
        message: "Wrong email/handle or password".into(),
    }
}

fn wrong_password() -> ApiError {
    ApiError::Forbidden {
        code: crate::error::ErrorCode::WrongPassword,
        message: "The current password is not correct".into(),
    }
}

fn invalid_second_factor() -> ApiError {
    ApiError::Unauthorized {
        code: crate::error::ErrorCode::InvalidSecondFactor,
        message: "The authentication code is wrong, expired or already used".into(),
    }
}

fn validation(e: crate::domain::InvalidInput) -> ApiError {
    ApiError::Unprocessable {
        code: crate::error::ErrorCode::ValidationFailed,
        message: e.0,
    }
}

/// The classifier providers an account may choose.
const PROVIDERS: &[&str] = crate::settings::AiSettings::PROVIDERS;

/// 1..=`max` characters, none of them a control character (the schemas' `pattern`).
fn valid_setting_text(value: &str, max: usize) -> bool {
    let n = value.chars().count();
    (1..=max).contains(&n) && !value.chars().any(|c| c <= '\u{1f}' || c == '\u{7f}')
}

fn unprocessable(message: String) -> ApiError {
    ApiError::Unprocessable {
        code: crate::error::ErrorCode::ValidationFailed,
        message,
    }
}

fn handle_taken() -> ApiError {
    ApiError::Conflict {
        code: crate::error::ErrorCode::HandleTaken,
        message: "That handle is already in use".into(),
    }
}

/// Validated changes to one's own account (`PATCH /api/auth/me`): `None` leaves a field
/// as it is, `Some(None)` clears it.
#[derive(Debug, Default)]
pub struct ProfileChanges {
    /// New handle.
    pub handle: Option<Handle>,
    /// Classifier provider (one of the configured providers).
    pub ai_provider: Option<Option<String>>,
    /// Classifier model, 1–200 characters.
    pub ai_model: Option<Option<String>>,
    /// Own API key, 1–1000 characters (stored sealed).
    pub ai_api_key: Option<Option<SecretString>>,
    /// Whether the classifier may propose new topics.
    pub ai_allow_new_topics: Option<bool>,
    /// Languages scans are read in (null = the server default); checked against the
    /// installed ones by the caller, which knows them.
    pub ocr_languages: Option<Option<crate::settings::OcrLanguages>>,
    /// Whether poorly read scan pages go to the account's own AI provider.
    pub ocr_ai_fallback: Option<bool>,
    /// How searches match words.
    pub search_language: Option<crate::entities::SearchLanguage>,
}

impl ProfileChanges {
    /// Validates raw request fields.
    pub fn parse(
        handle: Option<&str>,
        ai_provider: Option<Option<String>>,
        ai_model: Option<Option<String>>,
        ai_api_key: Option<Option<String>>,
        ai_allow_new_topics: Option<bool>,
    ) -> Result<Self, ApiError> {
        let handle = handle.map(Handle::parse).transpose().map_err(validation)?;
        if let Some(Some(p)) = &ai_provider
            && !PROVIDERS.contains(&p.as_str())
        {
            return Err(unprocessable(format!(
                "ai_provider must be one of {}",
                PROVIDERS.join(", ")
            )));
        }
        if let Some(Some(m)) = &ai_model
            && !valid_setting_text(m, 200)
        {
            return Err(unprocessable(
                "ai_model must be 1–200 characters without control characters".into(),
            ));
        }
        if let Some(Some(k)) = &ai_api_key
            && !valid_setting_text(k, 1000)
        {
            return Err(unprocessable(
                "ai_api_key must be 1–1000 characters without control characters".into(),
            ));
        }
        Ok(Self {
            handle,
            ai_provider,
            ai_model,
            ai_api_key: ai_api_key.map(|k| k.map(SecretString::from)),
            ai_allow_new_topics,
            ocr_languages: None,
            ocr_ai_fallback: None,
            search_language: None,
        })
    }

    /// Turning `ocr_ai_fallback` on needs a model provider: refused while the provider
    /// the account ends up with (this change's, else its own, else `default_provider`)
    /// is `builtin`. Turning it off, or leaving it, is always fine.
    pub fn check_ocr_ai_fallback(
        &self,
        current: &users::Model,
        default_provider: &str,
    ) -> Result<(), ApiError> {
        if self.ocr_ai_fallback != Some(true) {
            return Ok(());
        }
        let chosen = match &self.ai_provider {
            Some(choice) => choice.clone(),
            None => current.ai_provider.clone(),
        };
        let provider = chosen
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| default_provider.to_owned());
        if provider == "builtin" {
            return Err(unprocessable(
                "ocr_ai_fallback needs an AI provider other than builtin (set ai_provider)".into(),
            ));
        }
        Ok(())
    }
}

/// Applies `changes` to the account `current`: a new handle must be free (`409
/// handle_taken`, also when a concurrent change takes it first); an API key is sealed
/// with `keys` before it is stored. The updated account.
#[tracing::instrument(skip_all)]
pub async fn update_profile(
    db: &impl ConnectionTrait,
    keys: &Keys,
    current: &users::Model,
    changes: ProfileChanges,
) -> Result<users::Model, ApiError> {
    let mut active = current.clone().into_active_model();
    if let Some(handle) = changes.handle
        && handle.as_str() != current.handle
    {
        if repo::find_by_login(db, handle.as_str()).await?.is_some() {
            return Err(handle_taken());
        }
        active.handle = Set(handle.as_str().to_owned());
    }
    if let Some(provider) = changes.ai_provider {
        active.ai_provider = Set(provider);
    }
    if let Some(model) = changes.ai_model {
        active.ai_model = Set(model);
    }
    if let Some(key) = changes.ai_api_key {
        let aad = crate::crypto::api_key_aad(current.id);
        active.ai_api_key_enc = Set(key.map(|k| keys.encrypt(k.expose_secret().as_bytes(), &aad)));
    }
    if let Some(allow) = changes.ai_allow_new_topics {
        active.ai_allow_new_topics = Set(allow);
    }
    if let Some(languages) = changes.ocr_languages {
        active.ocr_languages = Set(languages.map(|l| l.as_str().to_owned()));
    }
    if let Some(fallback) = changes.ocr_ai_fallback {
        active.ocr_ai_fallback = Set(fallback);
    }
    if let Some(language) = changes.search_language {
        active.search_language = Set(language);
    }
    active.updated_at = Set(crate::time::now());
    active.update(db).await.map_err(|e| match e.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => handle_taken(),
        _ => e.into(),
    })
}

async fn audit(db: &impl ConnectionTrait, entry: AuditEntry) -> Result<(), ApiError> {
    entry.record(db).await?;
    Ok(())
}

/// Sends a security alert in the background; delivery problems never fail the request.
pub fn alert(state: &AppState, user: &users::Model, alert: SecurityAlert) {
    let mailer = state.mailer.clone();
    let (email, handle) = (user.email.clone(), user.handle.clone());
    tokio::spawn(async move { mailer.send_alert(&email, &handle, &alert).await });
}

/// Creates an account (regular user unless `role` says otherwise) with its quota row.
pub async fn create_account(
    state: &AppState,
    handle: &Handle,
    email: &Email,
    password: &Password,
    role: Role,
    password_must_change: bool,
) -> Result<users::Model, ApiError> {
    let password_hash = state.hasher.hash(password.expose()).await?;
    let txn = crate::db::begin_write(&state.db).await?;
    let user = repo::insert_user(
        &txn,
        NewUser {
            handle: handle.as_str(),
            email: email.as_str(),
            password_hash,
            role,
            password_must_change,
            quota_limit_bytes: state.settings.quota.default_limit_bytes,
            search_language: state.settings.search.default_language,
        },
    )
    .await
    .map_err(|e| match e {
        CreateUserError::Taken => ApiError::Conflict {
            code: crate::error::ErrorCode::AccountExists,
            message: "That handle or email is already registered".into(),
        },
        CreateUserError::Db(e) => e.into(),
    })?;
    txn.commit().await?;
    Ok(user)
}

/// Self-service registration; signs the new account in.
pub async fn register(
    state: &AppState,
    handle: &str,
    email: &str,
    password: &str,
    client: &ClientInfo,
) -> Result<(users::Model, IssuedTokens), ApiError> {
    if !state.settings.auth.registration_enabled {
        return Err(ApiError::Forbidden {
            code: crate::error::ErrorCode::RegistrationDisabled,
            message: "Registration is disabled on this server; ask an administrator for an account"
                .into(),
        });
    }
    limits::check(state, Limit::RegisterPerIp, &client.rate_key, client).await?;
    let handle = Handle::parse(handle).map_err(validation)?;
    let email = Email::parse(email).map_err(validation)?;
    let password = Password::parse(password).map_err(validation)?;
    let user = create_account(state, &handle, &email, &password, Role::User, false).await?;
    audit(
        &state.db,
        AuditEntry::new(
            AuditEvent::UserRegistered,
            Outcome::Success,
            Some(user.id),
            Some(&client.ip),
        ),
    )
    .await?;
    let tokens = sessions::start(state, &state.db, user.id, client).await?;
    Ok((user, tokens))
}

/// Password (and second factor when enabled) login.
pub async fn login(
    state: &AppState,
    login: &str,
    password: &str,
    second: &SecondFactor,
    client: &ClientInfo,
) -> Result<LoginOutcome, ApiError> {
    limits::check(state, Limit::LoginPerIp, &client.rate_key, client).await?;

    // Shed before touching the database: an overloaded server answers 503 at once.
    let slot = state.hasher.reserve().await?;
    let user = repo::find_by_login(&state.db, login).await?;
    // Known and unknown accounts take the same steps here (one lookup, one counter), so
    // the answers cannot tell them apart.
    let account_key = login_limit_key(user.as_ref(), login);
    limits::check(state, Limit::LoginPerAccount, &account_key, client).await?;
    let matched = state
        .hasher
        .verify_in(
            slot,
            password,
            user.as_ref().map(|u| u.password_hash.as_str()),
        )
        .await?;
    let user = match (user, matched) {
        (Some(user), true) => user,
        (user, _) => {
            let entry = AuditEntry::new(
                AuditEvent::LoginFailed,
                Outcome::Failure,
                user.as_ref().map(|u| u.id),
                Some(&client.ip),
            )
            .detail(
                "reason",
                if user.is_some() {
                    "wrong_password"
                } else {
                    "unknown_account"
                },
            );
            audit(&state.db, entry).await?;
            return Err(invalid_credentials());
        }
    };
    if !user.is_active {
        audit(
            &state.db,
            AuditEntry::new(
                AuditEvent::LoginFailed,
                Outcome::Failure,
                Some(user.id),
                Some(&client.ip),
            )
            .detail("reason", "account_disabled"),
        )
        .await?;
        return Err(ApiError::Forbidden {
            code: crate::error::ErrorCode::AccountDisabled,
            message: "This account is disabled; contact an administrator".into(),
        });
    }
    let mut second_factor = "none";
    if user.totp_enabled {
        if second.totp_code.is_none() && second.backup_code.is_none() {
            return Ok(LoginOutcome::SecondFactorRequired);
        }
        second_factor = check_second_factor(state, &user, second, client).await?;
    }

    let known_ip = repo::has_logged_in_from(&state.db, user.id, &client.ip).await?;
    let ever_logged_in = has_any_login(&state.db, user.id).await?;
    let tokens = sessions::start(state, &state.db, user.id, client).await?;
    audit(
        &state.db,
        AuditEntry::new(
            AuditEvent::LoginSucceeded,
            Outcome::Success,
            Some(user.id),
            Some(&client.ip),
        )
        .resource(tokens.session_id)
        .detail("second_factor", second_factor),
    )
    .await?;
    limits::reset(state, Limit::LoginPerAccount, &account_key).await;
    if ever_logged_in && !known_ip {
        alert(
            state,
            &user,
            SecurityAlert::NewLogin {
                ip: client.ip.clone(),
                user_agent: client.user_agent.clone(),
                at: chrono::Utc::now(),
            },
        );
    }
    Ok(LoginOutcome::SignedIn(Box::new(user), tokens))
}

/// The key of the per-account login limit: the account a login string names, so its
/// handle and e-mail (in any case) share one budget; an unknown string counts on its own.
fn login_limit_key(user: Option<&users::Model>, login: &str) -> String {
    match user {
        Some(user) => format!("account:{}", user.id),
        None => format!("login:{}", login.trim().to_lowercase()),
    }
}

async fn has_any_login(db: &impl ConnectionTrait, user: Uuid) -> Result<bool, ApiError> {
    use sea_orm::{ColumnTrait, QueryFilter};
    Ok(crate::entities::audit_log::Entity::find()
        .filter(crate::entities::audit_log::Column::UserId.eq(user))
        .filter(
            crate::entities::audit_log::Column::EventType.eq(AuditEvent::LoginSucceeded.as_str()),
        )
        .one(db)
        .await?
        .is_some())
}

fn totp_secret(state: &AppState, user: &users::Model) -> Result<Vec<u8>, ApiError> {
    let sealed = user
        .totp_secret
        .as_deref()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("TOTP enabled without a secret")))?;
    state
        .keys
        .decrypt(sealed, user.id.as_bytes())
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("TOTP secret undecryptable: {e}")))
}

/// Verifies a TOTP or backup code for `user`, each usable once; returns which was used.
async fn check_second_factor(
    state: &AppState,
    user: &users::Model,
    second: &SecondFactor,
    client: &ClientInfo,
) -> Result<&'static str, ApiError> {
    limits::check(
        state,
        Limit::SecondFactorPerAccount,
        &user.id.to_string(),
        client,
    )
    .await?;
    let (accepted, used, ok_event, failed_event) = if let Some(code) = &second.totp_code {
        let secret = totp_secret(state, user)?;
        let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
        let accepted = match totp::verify(&secret, code, now) {
            Some(step) => repo::claim_totp_step(&state.db, user.id, step).await?,
            None => false,
        };
        (
            accepted,
            "totp",
            AuditEvent::TotpVerified,
            AuditEvent::TotpFailed,
        )
    } else if let Some(code) = &second.backup_code {
        let accepted = match totp::normalize_backup_code(code) {
            Some(code) => {
                repo::consume_backup_code(&state.db, user.id, &state.keys.hash_token(&code)).await?
            }
            None => false,
        };
        let events = (AuditEvent::BackupCodeUsed, AuditEvent::BackupCodeFailed);
        (accepted, "backup_code", events.0, events.1)
    } else {
        return Err(invalid_second_factor());
    };
    let (event, outcome) = if accepted {
        (ok_event, Outcome::Success)
    } else {
        (failed_event, Outcome::Failure)
    };
    audit(
        &state.db,
        AuditEntry::new(event, outcome, Some(user.id), Some(&client.ip)),
    )
    .await?;
    if accepted {
        Ok(used)
    } else {
        Err(invalid_second_factor())
    }
}

/// Re-checks the password of a signed-in user before a sensitive change.
async fn reauthenticate(
    state: &AppState,
    session: &AuthSession,
    password: &str,
) -> Result<(), ApiError> {
    limits::check(
        state,
        Limit::PasswordPerAccount,
        &session.user.id.to_string(),
        &session.client,
    )
    .await?;
    if state
        .hasher
        .verify(password, Some(&session.user.password_hash))
        .await?
    {
        Ok(())
    } else {
        Err(wrong_password())
    }
}

/// Cuts off every other session and every older access token, and gives the current
/// session a fresh access token.
async fn reset_other_sessions(
    db: &impl ConnectionTrait,
    user: &users::Model,
    keep: Uuid,
) -> Result<users::Model, ApiError> {
    sessions::revoke_all(db, user.id, Some(keep)).await?;
    let mut active = user.clone().into_active_model();
    let now = crate::time::now();
    active.tokens_valid_after = Set(now);
    active.updated_at = Set(now);
    Ok(active.update(db).await?)
}

/// Changes the password; other sessions and older access tokens stop working.
pub async fn change_password(
    state: &AppState,
    session: &AuthSession,
    current: &str,
    new: &str,
) -> Result<(users::Model, String, i64), ApiError> {
    reauthenticate(state, session, current).await?;
    let new = Password::parse(new).map_err(validation)?;
    if new.expose() == current {
        return Err(ApiError::Unprocessable {
            code: crate::error::ErrorCode::PasswordUnchanged,
            message: "The new password must differ from the current one".into(),
        });
    }
    let hash = state.hasher.hash(new.expose()).await?;
    let txn = crate::db::begin_write(&state.db).await?;
    let mut active = session.user.clone().into_active_model();
    active.password_hash = Set(hash);
    active.password_must_change = Set(false);
    let user = active.update(&txn).await?;
    let alert_kind = SecurityAlert::PasswordChanged {
        ip: session.client.ip.clone(),
        at: chrono::Utc::now(),
    };
    let (user, token, expires_in) = finish_security_change(
        state,
        txn,
        session,
        user,
        AuditEvent::PasswordChanged,
        alert_kind,
    )
    .await?;
    Ok((user, token, expires_in))
}

/// Starts TOTP enrolment: a new secret, stored encrypted, shown once.
pub async fn totp_setup(
    state: &AppState,
    session: &AuthSession,
) -> Result<TotpEnrolment, ApiError> {
    if session.user.totp_enabled {
        return Err(ApiError::Conflict {
            code: crate::error::ErrorCode::TotpAlreadyEnabled,
            message: "Two-factor authentication is already on; disable it first to re-enrol".into(),
        });
    }
    let secret = totp::generate_secret();
    let sealed = state.keys.encrypt(&secret, session.user.id.as_bytes());
    let mut active = session.user.clone().into_active_model();
    active.totp_secret = Set(Some(sealed));
    active.updated_at = Set(crate::time::now());
    active.update(&state.db).await?;
    let uri = totp::otpauth_uri(&secret, &session.user.email, "DocuVault");
    Ok(TotpEnrolment {
        secret: totp::secret_base32(&secret),
        qr_svg: totp::qr_svg(&uri),
        otpauth_uri: uri,
    })
}

async fn new_backup_codes(
    state: &AppState,
    db: &impl ConnectionTrait,
    user: Uuid,
) -> Result<Vec<String>, ApiError> {
    let codes = totp::generate_backup_codes();
    let hashes = codes
        .iter()
        .filter_map(|c| totp::normalize_backup_code(c))
        .map(|c| state.keys.hash_token(&c))
        .collect();
    repo::replace_backup_codes(db, user, hashes).await?;
    Ok(codes)
}

/// Finishes enrolment with a code from the app; returns the 10 backup codes (shown once).
pub async fn totp_enable(
    state: &AppState,
    session: &AuthSession,
    code: &str,
) -> Result<Vec<String>, ApiError> {
    let user = &session.user;
    if user.totp_enabled {
        return Err(ApiError::Conflict {
            code: crate::error::ErrorCode::TotpAlreadyEnabled,
            message: "Two-factor authentication is already on".into(),
        });
    }
    if user.totp_secret.is_none() {
        return Err(ApiError::Conflict {
            code: crate::error::ErrorCode::TotpSetupRequired,
            message: "Start with POST /api/auth/totp/setup".into(),
        });
    }
    limits::check(
        state,
        Limit::SecondFactorPerAccount,
        &user.id.to_string(),
        &session.client,
    )
    .await?;
    let secret = totp_secret(state, user)?;
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
    let Some(step) = totp::verify(&secret, code, now) else {
        audit(
            &state.db,
            AuditEntry::new(
                AuditEvent::TotpFailed,
                Outcome::Failure,
                Some(user.id),
                Some(&session.client.ip),
            ),
        )
        .await?;
        return Err(ApiError::Forbidden {
            code: crate::error::ErrorCode::InvalidTotpCode,
            message:
                "That code does not match; check the time on your device and try the current code"
                    .into(),
        });
    };
    let txn = crate::db::begin_write(&state.db).await?;
    let mut active = user.clone().into_active_model();
    active.totp_enabled = Set(true);
    active.totp_last_step = Set(Some(step));
    active.updated_at = Set(crate::time::now());
    active.update(&txn).await?;
    let codes = new_backup_codes(state, &txn, user.id).await?;
    AuditEntry::new(
        AuditEvent::TotpEnabled,
        Outcome::Success,
        Some(user.id),
        Some(&session.client.ip),
    )
    .record(&txn)
    .await?;
    txn.commit().await?;
    Ok(codes)
}

/// Turns TOTP off (password + a TOTP or backup code); other sessions are signed out.
pub async fn totp_disable(
    state: &AppState,
    session: &AuthSession,
    password: &str,
    second: &SecondFactor,
) -> Result<(String, i64), ApiError> {
    if !session.user.totp_enabled {
        return Err(ApiError::Conflict {
            code: crate::error::ErrorCode::TotpNotEnabled,
            message: "Two-factor authentication is not on".into(),
        });
    }
    reauthenticate(state, session, password).await?;
    check_second_factor(state, &session.user, second, &session.client).await?;
    let txn = crate::db::begin_write(&state.db).await?;
    let mut active = session.user.clone().into_active_model();
    active.totp_enabled = Set(false);
    active.totp_secret = Set(None);
    active.totp_last_step = Set(None);
    let user = active.update(&txn).await?;
    repo::replace_backup_codes(&txn, user.id, Vec::new()).await?;
    let alert_kind = SecurityAlert::TotpDisabled {
        ip: session.client.ip.clone(),
        at: chrono::Utc::now(),
    };
    let (_, token, expires_in) = finish_security_change(
        state,
        txn,
        session,
        user,
        AuditEvent::TotpDisabled,
        alert_kind,
    )
    .await?;
    Ok((token, expires_in))
}

/// The common end of a password change or 2FA switch-off: other sessions and older
/// tokens cut off, one audit row, commit, a security e-mail, and a fresh access token
/// for the current session.
async fn finish_security_change(
    state: &AppState,
    txn: sea_orm::DatabaseTransaction,
    session: &AuthSession,
    user: users::Model,
    event: AuditEvent,
    security_alert: SecurityAlert,
) -> Result<(users::Model, String, i64), ApiError> {
    let user = reset_other_sessions(&txn, &user, session.session_id).await?;
    AuditEntry::new(
        event,
        Outcome::Success,
        Some(user.id),
        Some(&session.client.ip),
    )
    .record(&txn)
    .await?;
    txn.commit().await?;
    alert(state, &user, security_alert);
    let (token, expires_in) = sessions::access_token(state, user.id, session.session_id)?;
    Ok((user, token, expires_in))
}

/// Replaces the backup codes (password required); old ones stop working.
pub async fn regenerate_backup_codes(
    state: &AppState,
    session: &AuthSession,
    password: &str,
) -> Result<Vec<String>, ApiError> {
    if !session.user.totp_enabled {
        return Err(ApiError::Conflict {
            code: crate::error::ErrorCode::TotpNotEnabled,
            message: "Backup codes exist only while two-factor authentication is on".into(),
        });
    }
    reauthenticate(state, session, password).await?;
    let txn = crate::db::begin_write(&state.db).await?;
    let codes = new_backup_codes(state, &txn, session.user.id).await?;
    AuditEntry::new(
        AuditEvent::BackupCodesRegenerated,
        Outcome::Success,
        Some(session.user.id),
        Some(&session.client.ip),
    )
    .record(&txn)
    .await?;
    txn.commit().await?;
    Ok(codes)
}

/// Ends the current session.
pub async fn logout(db: &impl ConnectionTrait, session: &AuthSession) -> Result<(), ApiError> {
    sessions::revoke_family(db, session.session_id).await?;
    audit(
        db,
        AuditEntry::new(
            AuditEvent::LoggedOut,
            Outcome::Success,
            Some(session.user.id),
            Some(&session.client.ip),
        )
        .resource(session.session_id),
    )
    .await
}

/// Ends every session and invalidates every access token of the account.
pub async fn logout_all(db: &DatabaseConnection, session: &AuthSession) -> Result<(), ApiError> {
    let txn = crate::db::begin_write(db).await?;
    sessions::revoke_all(&txn, session.user.id, None).await?;
    let mut active = session.user.clone().into_active_model();
    active.tokens_valid_after = Set(crate::time::now());
    active.update(&txn).await?;
    AuditEntry::new(
        AuditEvent::SessionsRevoked,
        Outcome::Success,
        Some(session.user.id),
        Some(&session.client.ip),
    )
    .record(&txn)
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Creates the admin from `DOCUVAULT_ADMIN_*` on first start, when no admin exists.
pub async fn bootstrap_admin(state: &AppState) -> anyhow::Result<()> {
    use sea_orm::{ColumnTrait, QueryFilter};
    let Some(admin) = &state.settings.bootstrap_admin else {
        return Ok(());
    };
    let exists = users::Entity::find()
        .filter(users::Column::Role.eq(Role::Admin))
        .one(&state.db)
        .await?
        .is_some();
    if exists {
        return Ok(());
    }
    let email =
        Email::parse(&admin.email).map_err(|e| anyhow::anyhow!("DOCUVAULT_ADMIN_EMAIL: {e}"))?;
    let handle =
        Handle::parse(&admin.handle).map_err(|e| anyhow::anyhow!("DOCUVAULT_ADMIN_HANDLE: {e}"))?;
    let password = Password::parse(secrecy::ExposeSecret::expose_secret(&admin.password))
        .map_err(|e| anyhow::anyhow!("DOCUVAULT_ADMIN_PASSWORD: {e}"))?;
    match create_account(state, &handle, &email, &password, Role::Admin, false).await {
        Ok(user) => {
            AuditEntry::new(
                AuditEvent::AdminUserCreated,
                Outcome::Success,
                Some(user.id),
                None,
            )
            .actor(None)
            .detail("via", "bootstrap")
            .record(&state.db)
            .await?;
            tracing::info!(handle = %user.handle, "created the first admin account");
            Ok(())
        }
        // Another instance created it at the same moment.
        Err(ApiError::Conflict { .. }) => Ok(()),
        Err(e) => Err(anyhow::anyhow!("creating the first admin: {e}")),
    }
}
