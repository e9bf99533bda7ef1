//! `/api/intake/mail`: the caller's mail accounts (IMAP) whose attachments become
//! documents, their items, and a check on demand. Regular accounts only; another user's
//! account answers exactly like a missing one; the password is never returned.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{AuditEntry, AuditEvent, Outcome};
use crate::auth::extract::{RegularUser, regular_scope};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::http::ApiJson;
use crate::intake::imap::{Server, TlsMode};
use crate::intake::poll::{self, MailCheckResult};
use crate::intake::service::{self, Account, AccountChanges, AfterImport, MailConfig, NewAccount};
use crate::state::AppState;

fn default_mailbox() -> String {
    "INBOX".to_owned()
}

fn default_after() -> AfterImport {
    AfterImport::Seen
}

fn yes() -> bool {
    true
}

/// `POST /api/intake/mail` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MailAccountInput {
    /// A name for the account (1–100 characters).
    #[schema(min_length = 1, max_length = 100, example = "Invoices")]
    pub name: String,
    /// IMAP server host name or IP address.
    #[schema(min_length = 1, max_length = 253, example = "imap.example.org")]
    pub host: String,
    /// IMAP server port (993 for `tls`, 143 for `starttls`).
    #[serde(deserialize_with = "crate::serde_util::whole_i64")]
    #[schema(minimum = 1, maximum = 65535, example = 993)]
    pub port: i64,
    /// Transport security.
    pub tls: TlsMode,
    /// Login name.
    #[schema(min_length = 1, max_length = 320)]
    pub username: String,
    /// Password (stored encrypted; never returned).
    #[schema(min_length = 1, max_length = 1000, format = Password)]
    pub password: String,
    /// Mailbox polled.
    #[serde(default = "default_mailbox")]
    #[schema(min_length = 1, max_length = 200, default = "INBOX")]
    pub mailbox: String,
    /// After import: mark the message seen (only unseen messages are taken) or move it
    /// to `move_to` (every message in the mailbox is taken).
    #[serde(default = "default_after")]
    #[schema(default = "seen")]
    pub after: AfterImport,
    /// Target mailbox of `after = "move"` (must exist on the server).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200)]
    pub move_to: Option<String>,
    /// Folder new documents are filed in (root when absent).
    #[serde(default)]
    pub folder_id: Option<Uuid>,
    /// Topics new documents get (yours or system topics).
    #[serde(default)]
    pub topic_ids: Option<Vec<Uuid>>,
    /// Import the message body too, as a `.txt` document (or `.html` when the message
    /// has no plain text).
    #[serde(default)]
    #[schema(default = false)]
    pub include_body: bool,
    /// Poll it (every `mail_intake.poll_secs`).
    #[serde(default = "yes")]
    #[schema(default = true)]
    pub enabled: bool,
}

/// `PATCH /api/intake/mail/{id}` body: any subset of the input; absent fields stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MailAccountPatch {
    /// New name.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    /// New host.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 253)]
    pub host: Option<String>,
    /// New port.
    #[serde(default, deserialize_with = "crate::serde_util::opt_whole_i64")]
    #[schema(minimum = 1, maximum = 65535)]
    pub port: Option<i64>,
    /// New transport security.
    #[serde(default)]
    pub tls: Option<TlsMode>,
    /// New login name.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 320)]
    pub username: Option<String>,
    /// New password; absent = keep the stored one.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 1000, format = Password)]
    pub password: Option<String>,
    /// New mailbox.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200)]
    pub mailbox: Option<String>,
    /// New after-import action.
    #[serde(default)]
    pub after: Option<AfterImport>,
    /// New move target; null clears it.
    #[serde(default, deserialize_with = "crate::serde_util::double_option")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 200)]
    pub move_to: Option<Option<String>>,
    /// New folder; null = the root.
    #[serde(default, deserialize_with = "crate::serde_util::double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub folder_id: Option<Option<Uuid>>,
    /// New topics (replaces the list).
    #[serde(default)]
    pub topic_ids: Option<Vec<Uuid>>,
    /// Import the body too.
    #[serde(default)]
    pub include_body: Option<bool>,
    /// Poll it.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// A mail account (never its password).
#[derive(Debug, Serialize, ToSchema)]
pub struct MailAccount {
    /// Account id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// IMAP host.
    pub host: String,
    /// IMAP port.
    pub port: u16,
    /// Transport security.
    pub tls: TlsMode,
    /// Login name.
    pub username: String,
    /// Mailbox polled.
    pub mailbox: String,
    /// After import.
    pub after: AfterImport,
    /// Target mailbox of `after = "move"`.
    #[schema(required = true)]
    pub move_to: Option<String>,
    /// Folder new documents are filed in; null = the root.
    #[schema(required = true)]
    pub folder_id: Option<Uuid>,
    /// Topics new documents get.
    pub topic_ids: Vec<Uuid>,
    /// Whether the body is imported too.
    pub include_body: bool,
    /// Whether it is polled.
    pub enabled: bool,
    /// When it was last polled.
    #[schema(required = true)]
    pub last_checked_at: Option<DateTime<Utc>>,
    /// Why the last poll failed (connection, login, mailbox…); null after a good one.
    #[schema(required = true)]
    pub last_error: Option<String>,
    /// Added at.
    pub created_at: DateTime<Utc>,
}

impl From<Account> for MailAccount {
    fn from(a: Account) -> Self {
        let enabled = a.enabled();
        Self {
            id: a.row.id,
            name: a.row.display_name,
            host: a.server.host,
            port: a.server.port,
            tls: a.server.tls,
            username: a.server.username,
            mailbox: a.config.mailbox,
            after: a.config.after,
            move_to: a.config.move_to,
            folder_id: a.config.folder_id,
            topic_ids: a.config.topic_ids,
            include_body: a.config.include_body,
            enabled,
            last_checked_at: a.row.last_checked_at,
            last_error: a.row.last_error,
            created_at: a.row.connected_at,
        }
    }
}

/// The caller's mail accounts.
#[derive(Debug, Serialize, ToSchema)]
pub struct MailAccountList {
    /// Oldest first.
    pub accounts: Vec<MailAccount>,
}

/// Status of a mail item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MailItemStatus {
    /// Stored as a document (`document_id`).
    Imported,
    /// Not stored (`reason`): too large, too many parts, over quota…
    Failed,
    /// Left out on purpose (`reason`): type not accepted, nothing to import.
    Skipped,
}

/// What the intake did with one part of one message.
#[derive(Debug, Serialize, ToSchema)]
pub struct MailItem {
    /// Item id.
    pub id: Uuid,
    /// The message's Message-ID (or `sha256:` of its header when it had none).
    pub message_id: String,
    /// The message's subject.
    #[schema(required = true)]
    pub subject: Option<String>,
    /// The part's file name; null for the message as a whole.
    #[schema(required = true)]
    pub filename: Option<String>,
    /// Outcome.
    pub status: MailItemStatus,
    /// Why it failed or was skipped.
    #[schema(required = true)]
    pub reason: Option<String>,
    /// The document it became (null once that document is deleted for good).
    #[schema(required = true)]
    pub document_id: Option<Uuid>,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
}

impl From<crate::entities::mail_intake_items::Model> for MailItem {
    fn from(m: crate::entities::mail_intake_items::Model) -> Self {
        let status = match m.status.as_str() {
            "imported" => MailItemStatus::Imported,
            "skipped" => MailItemStatus::Skipped,
            _ => MailItemStatus::Failed,
        };
        Self {
            id: m.id,
            message_id: m.message_id,
            subject: m.subject,
            filename: m.filename,
            status,
            reason: m.reason,
            document_id: m.document_id,
            created_at: m.created_at,
        }
    }
}

/// The latest items of a mail account.
#[derive(Debug, Serialize, ToSchema)]
pub struct MailItemList {
    /// Newest first, at most 100.
    pub items: Vec<MailItem>,
}

fn new_account(input: MailAccountInput) -> Result<NewAccount, ApiError> {
    let mailbox = service::mailbox("mailbox", &input.mailbox)?;
    let move_to = input
        .move_to
        .as_deref()
        .map(|m| service::mailbox("move_to", m))
        .transpose()?;
    Ok(NewAccount {
        name: service::text("name", &input.name, 100)?,
        server: Server {
            host: service::host(&input.host)?,
            port: service::port(input.port)?,
            tls: input.tls,
            username: service::text("username", &input.username, 320)?,
            password: service::password(&input.password)?,
        },
        config: MailConfig {
            mailbox,
            after: input.after,
            move_to,
            folder_id: input.folder_id,
            topic_ids: dedup(input.topic_ids.unwrap_or_default()),
            include_body: input.include_body,
        },
        enabled: input.enabled,
    })
}

fn dedup(mut ids: Vec<Uuid>) -> Vec<Uuid> {
    let mut seen = std::collections::HashSet::new();
    ids.retain(|id| seen.insert(*id));
    ids
}

fn changes(p: MailAccountPatch) -> Result<AccountChanges, ApiError> {
    Ok(AccountChanges {
        name: p
            .name
            .as_deref()
            .map(|n| service::text("name", n, 100))
            .transpose()?,
        host: p.host.as_deref().map(service::host).transpose()?,
        port: p.port.map(service::port).transpose()?,
        tls: p.tls,
        username: p
            .username
            .as_deref()
            .map(|u| service::text("username", u, 320))
            .transpose()?,
        password: p.password.as_deref().map(service::password).transpose()?,
        mailbox: p
            .mailbox
            .as_deref()
            .map(|m| service::mailbox("mailbox", m))
            .transpose()?,
        after: p.after,
        move_to: p
            .move_to
            .map(|m| {
                m.as_deref()
                    .map(|m| service::mailbox("move_to", m))
                    .transpose()
            })
            .transpose()?,
        folder_id: p.folder_id,
        topic_ids: p.topic_ids.map(dedup),
        include_body: p.include_body,
        enabled: p.enabled,
    })
}

/// Lists the caller's mail accounts.
#[utoipa::path(
    operation_id = "listMailAccounts",
    tag = "intake",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's mail accounts, oldest first", body = MailAccountList),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrator account, or password change pending", body = ErrorBody),
    )
)]
#[get("")]
pub async fn list_mail_accounts(
    state: web::Data<AppState>,
    user: RegularUser,
) -> Result<web::Json<MailAccountList>, ApiError> {
    let accounts = service::list(&state.db, &state.keys, user.id()).await?;
    Ok(web::Json(MailAccountList {
        accounts: accounts.into_iter().map(MailAccount::from).collect(),
    }))
}

/// Adds a mail account whose attachments become documents.
///
/// The server is polled every `mail_intake.poll_secs` (or now, with
/// `POST /api/intake/mail/{id}/check`). The password is stored encrypted and never
/// returned.
#[utoipa::path(
    operation_id = "createMailAccount",
    tag = "intake",
    security(("bearer" = [])),
    request_body = MailAccountInput,
    responses(
        (status = 201, description = "Added", body = MailAccount),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrator account, or password change pending", body = ErrorBody),
        (status = 404, description = "No such folder", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid values (`validation_failed`) or unknown topic (`unknown_topic`)", body = ErrorBody),
    )
)]
#[post("")]
pub async fn create_mail_account(
    state: web::Data<AppState>,
    user: RegularUser,
    body: ApiJson<MailAccountInput>,
) -> Result<HttpResponse, ApiError> {
    let new = new_account(body.0)?;
    let account = service::create(
        &state.db,
        &state.keys,
        &state.settings.mail_intake,
        user.id(),
        new,
    )
    .await?;
    AuditEntry::new(
        AuditEvent::MailAccountCreated,
        Outcome::Success,
        Some(user.id().into()),
        Some(&user.0.client.ip),
    )
    .resource(account.row.id)
    .detail("name", account.row.display_name.clone())
    .detail("host", account.server.host.clone())
    .record(&state.db)
    .await?;
    Ok(HttpResponse::Created().json(MailAccount::from(account)))
}

/// One of the caller's mail accounts.
#[utoipa::path(
    operation_id = "getMailAccount",
    tag = "intake",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Mail account id")),
    responses(
        (status = 200, description = "The account (with the last poll's error, if any)", body = MailAccount),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrator account, or password change pending", body = ErrorBody),
        (status = 404, description = "No such mail account", body = ErrorBody),
    )
)]
#[get("/{id}")]
pub async fn get_mail_account(
    state: web::Data<AppState>,
    user: RegularUser,
    id: web::Path<Uuid>,
) -> Result<web::Json<MailAccount>, ApiError> {
    let account = service::get(&state.db, &state.keys, user.id(), id.into_inner()).await?;
    Ok(web::Json(account.into()))
}

/// Changes a mail account; the password is replaced only when given.
#[utoipa::path(
    operation_id = "updateMailAccount",
    tag = "intake",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Mail account id")),
    request_body = MailAccountPatch,
    responses(
        (status = 200, description = "Updated", body = MailAccount),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrator account, or password change pending", body = ErrorBody),
        (status = 404, description = "No such mail account or folder", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid values (`validation_failed`) or unknown topic (`unknown_topic`)", body = ErrorBody),
    )
)]
#[patch("/{id}")]
pub async fn update_mail_account(
    state: web::Data<AppState>,
    user: RegularUser,
    id: web::Path<Uuid>,
    body: ApiJson<MailAccountPatch>,
) -> Result<web::Json<MailAccount>, ApiError> {
    let changes = changes(body.0)?;
    let account = service::update(
        &state.db,
        &state.keys,
        &state.settings.mail_intake,
        user.id(),
        id.into_inner(),
        changes,
    )
    .await?;
    Ok(web::Json(account.into()))
}

/// Deletes a mail account and its items; the documents it imported stay.
#[utoipa::path(
    operation_id = "deleteMailAccount",
    tag = "intake",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Mail account id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrator account, or password change pending", body = ErrorBody),
        (status = 404, description = "No such mail account", body = ErrorBody),
    )
)]
#[delete("/{id}")]
pub async fn delete_mail_account(
    state: web::Data<AppState>,
    user: RegularUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    service::delete(&state.db, user.id(), id).await?;
    AuditEntry::new(
        AuditEvent::MailAccountDeleted,
        Outcome::Success,
        Some(user.id().into()),
        Some(&user.0.client.ip),
    )
    .resource(id)
    .record(&state.db)
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Polls a mail account now and waits for the result (at most 50 messages, 5 minutes).
///
/// A disabled account is checked too. When the mailbox cannot be read (connection,
/// TLS, login, mailbox), the answer is `422 mail_check_failed` with the reason, which is
/// also kept as the account's `last_error`.
#[utoipa::path(
    operation_id = "checkMailAccount",
    tag = "intake",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Mail account id")),
    responses(
        (status = 200, description = "Checked: what was taken", body = MailCheckResult),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrator account, or password change pending", body = ErrorBody),
        (status = 404, description = "No such mail account", body = ErrorBody),
        (status = 422, description = "The mailbox could not be read (`mail_check_failed`; the message says why)", body = ErrorBody),
    )
)]
#[post("/{id}/check")]
pub async fn check_mail_account(
    state: web::Data<AppState>,
    user: RegularUser,
    id: web::Path<Uuid>,
) -> Result<web::Json<MailCheckResult>, ApiError> {
    let account = service::get(&state.db, &state.keys, user.id(), id.into_inner()).await?;
    let result = poll::check(&state, &account)
        .await
        .map_err(|e| ApiError::Unprocessable {
            code: ErrorCode::MailCheckFailed,
            message: e.to_string(),
        })?;
    Ok(web::Json(result))
}

/// The latest items of a mail account: what happened to each part of each message.
#[utoipa::path(
    operation_id = "listMailItems",
    tag = "intake",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Mail account id")),
    responses(
        (status = 200, description = "Newest first, at most 100", body = MailItemList),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrator account, or password change pending", body = ErrorBody),
        (status = 404, description = "No such mail account", body = ErrorBody),
    )
)]
#[get("/{id}/items")]
pub async fn list_mail_items(
    state: web::Data<AppState>,
    user: RegularUser,
    id: web::Path<Uuid>,
) -> Result<web::Json<MailItemList>, ApiError> {
    let items = service::items(&state.db, user.id(), id.into_inner()).await?;
    Ok(web::Json(MailItemList {
        items: items.into_iter().map(MailItem::from).collect(),
    }))
}

/// Registers the `/intake/mail` routes (inside the `/api` scope).
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(
        regular_scope("/intake/mail")
            .service(list_mail_accounts)
            .service(create_mail_account)
            .service(get_mail_account)
            .service(update_mail_account)
            .service(delete_mail_account)
            .service(check_mail_account)
            .service(list_mail_items),
    );
}
