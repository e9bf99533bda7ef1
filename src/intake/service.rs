//! Mail accounts of the e-mail intake: `cloud_connections` rows of provider `imap`,
//! owner-scoped (another user's account is as missing as an unknown one), with the
//! server and login sealed under their own associated data, and the items a poll left.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait as _, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::crypto::{Keys, mail_credentials_aad};
use crate::domain::{FolderId, TopicId, UserId};
use crate::entities::{cloud_connections, mail_intake_items, topics};
use crate::error::{ApiError, ErrorCode};
use crate::intake::imap::{Server, TlsMode};
use crate::settings::MailIntakeSettings;

/// `cloud_connections.provider` of mail accounts.
pub const PROVIDER: &str = "imap";
/// `cloud_connections.status` of an account that is polled.
pub const ENABLED: &str = "enabled";
/// `cloud_connections.status` of an account that is not polled.
pub const DISABLED: &str = "disabled";
/// Items listed per account.
pub const ITEMS_LISTED: u64 = 100;

/// What happens to a message in the mailbox once it is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AfterImport {
    /// Flag it `\Seen` (only unseen messages are taken).
    Seen,
    /// Move it to `move_to` (every message in the mailbox is taken).
    Move,
}

/// The account's settings besides the login (`cloud_connections.config`, JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailConfig {
    /// Mailbox polled.
    pub mailbox: String,
    /// What happens to a taken message.
    pub after: AfterImport,
    /// Target mailbox of `after = move`.
    pub move_to: Option<String>,
    /// Folder new documents go to (root when absent).
    pub folder_id: Option<Uuid>,
    /// Topics new documents get.
    pub topic_ids: Vec<Uuid>,
    /// Import the text body as a document too.
    pub include_body: bool,
}

/// A mail account as the API shows it (the password stays sealed).
#[derive(Debug, Clone)]
pub struct Account {
    /// The row.
    pub row: cloud_connections::Model,
    /// Server and login (opened).
    pub server: Server,
    /// Settings.
    pub config: MailConfig,
}

impl Account {
    /// Whether it is polled.
    pub fn enabled(&self) -> bool {
        self.row.status == ENABLED
    }
}

/// Every field of an account, validated (creation).
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Name.
    pub name: String,
    /// Server and login.
    pub server: Server,
    /// Settings.
    pub config: MailConfig,
    /// Polled.
    pub enabled: bool,
}

/// A change of an account; `None` = unchanged.
#[derive(Debug, Clone, Default)]
pub struct AccountChanges {
    /// Name.
    pub name: Option<String>,
    /// Host.
    pub host: Option<String>,
    /// Port.
    pub port: Option<u16>,
    /// TLS mode.
    pub tls: Option<TlsMode>,
    /// Login name.
    pub username: Option<String>,
    /// Password (replaced only when given).
    pub password: Option<String>,
    /// Mailbox.
    pub mailbox: Option<String>,
    /// After import.
    pub after: Option<AfterImport>,
    /// Move target (`Some(None)` clears it).
    pub move_to: Option<Option<String>>,
    /// Folder (`Some(None)` = the root).
    pub folder_id: Option<Option<Uuid>>,
    /// Topics.
    pub topic_ids: Option<Vec<Uuid>>,
    /// Include the body.
    pub include_body: Option<bool>,
    /// Polled.
    pub enabled: Option<bool>,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::Unprocessable {
        code: ErrorCode::ValidationFailed,
        message: message.into(),
    }
}

/// A trimmed, non-empty single-line text of at most `max` characters.
///
/// # Errors
///
/// 422 naming `field`.
pub fn text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(invalid(format!(
            "{field} must be 1–{max} characters without control characters"
        )));
    }
    Ok(v.to_owned())
}

/// A host name or IP address: letters, digits, `.`, `-`, `:` (IPv6), `[]`.
///
/// # Errors
///
/// 422.
pub fn host(value: &str) -> Result<String, ApiError> {
    let v = value.trim();
    let ok = !v.is_empty()
        && v.len() <= 253
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_'));
    if !ok {
        return Err(invalid(
            "host must be a host name or IP address (letters, digits, '.', '-', ':')",
        ));
    }
    Ok(v.to_ascii_lowercase())
}

/// The IMAP server may be reached: its host is not, and does not now resolve to, a
/// loopback, private, link-local… address unless listed in `mail_intake.allowed_hosts`
/// (every connection checks again, see `imap::open`).
///
/// # Errors
///
/// 422 naming the address.
pub async fn check_reachable(server: &Server, limits: &MailIntakeSettings) -> Result<(), ApiError> {
    crate::webhooks::target::check_host_now(&server.host, server.port, limits.allows(&server.host))
        .await
        .map_err(|e| invalid(format!("host: {e}")))
}

/// A TCP port (1–65535).
///
/// # Errors
///
/// 422.
pub fn port(value: i64) -> Result<u16, ApiError> {
    u16::try_from(value)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| invalid("port must be 1–65535"))
}

/// A password: 1–1000 characters, no line breaks (IMAP sends it on one line).
///
/// # Errors
///
/// 422.
pub fn password(value: &str) -> Result<String, ApiError> {
    if value.is_empty() || value.chars().count() > 1000 || value.contains(['\r', '\n', '\0']) {
        return Err(invalid(
            "password must be 1–1000 characters without line breaks",
        ));
    }
    Ok(value.to_owned())
}

/// A mailbox name (1–200 characters, no control characters).
///
/// # Errors
///
/// 422 naming `field`.
pub fn mailbox(field: &str, value: &str) -> Result<String, ApiError> {
    text(field, value, 200)
}

fn check_after(config: &MailConfig) -> Result<(), ApiError> {
    match (config.after, &config.move_to) {
        (AfterImport::Move, None) => Err(invalid("after = \"move\" needs move_to")),
        (AfterImport::Move, Some(target)) if *target == config.mailbox => Err(invalid(
            "move_to must be another mailbox than the one polled",
        )),
        _ => Ok(()),
    }
}

/// Checks that the folder and topics exist and are usable by `user` (own folder; own or
/// system topics).
async fn check_targets(
    db: &impl ConnectionTrait,
    user: UserId,
    config: &MailConfig,
) -> Result<(), ApiError> {
    if let Some(folder) = config.folder_id
        && crate::folders::repo::find_owned(db, user, folder)
            .await?
            .is_none()
    {
        return Err(ApiError::NotFound("No such folder".to_owned()));
    }
    let usable = usable_topics(db, user, &config.topic_ids).await?;
    if let Some(missing) = config.topic_ids.iter().find(|t| !usable.contains(t)) {
        return Err(ApiError::Unprocessable {
            code: ErrorCode::UnknownTopic,
            message: format!("No such topic: {missing}"),
        });
    }
    Ok(())
}

/// Those of `ids` that are `user`'s own topics or system topics.
pub async fn usable_topics(
    db: &impl ConnectionTrait,
    user: UserId,
    ids: &[Uuid],
) -> Result<Vec<Uuid>, sea_orm::DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    topics::Entity::find()
        .select_only()
        .column(topics::Column::Id)
        .filter(topics::Column::Id.is_in(ids.to_vec()))
        .filter(
            topics::Column::UserId
                .eq(user)
                .or(topics::Column::UserId.is_null()),
        )
        .into_tuple::<Uuid>()
        .all(db)
        .await
}

fn seal(keys: &Keys, id: Uuid, server: &Server) -> Result<String, ApiError> {
    let json = serde_json::to_vec(server).map_err(|e| ApiError::Internal(e.into()))?;
    Ok(keys.encrypt(&json, &mail_credentials_aad(id)))
}

/// Opens an account row: its sealed server and login, and its settings.
///
/// # Errors
///
/// The credentials do not open under `keys` (another secret key) or a column is not
/// what this version writes.
pub fn open(keys: &Keys, row: cloud_connections::Model) -> anyhow::Result<Account> {
    let plain = keys
        .decrypt(&row.credentials_enc, &mail_credentials_aad(row.id))
        .map_err(|e| anyhow::anyhow!("the account's login could not be opened: {e}"))?;
    let server: Server = serde_json::from_slice(&plain)?;
    let config: MailConfig = serde_json::from_str(row.config.as_deref().unwrap_or("null"))?;
    Ok(Account {
        row,
        server,
        config,
    })
}

fn open_api(keys: &Keys, row: cloud_connections::Model) -> Result<Account, ApiError> {
    open(keys, row).map_err(ApiError::Internal)
}

fn config_json(config: &MailConfig) -> Result<String, ApiError> {
    serde_json::to_string(config).map_err(|e| ApiError::Internal(e.into()))
}

/// Creates a mail account for `user`.
///
/// # Errors
///
/// 404 unknown folder, 422 invalid settings or unknown topic.
#[tracing::instrument(skip_all)]
pub async fn create(
    db: &impl ConnectionTrait,
    keys: &Keys,
    limits: &MailIntakeSettings,
    user: UserId,
    new: NewAccount,
) -> Result<Account, ApiError> {
    check_after(&new.config)?;
    check_reachable(&new.server, limits).await?;
    check_targets(db, user, &new.config).await?;
    let id = Uuid::new_v4();
    let row = cloud_connections::ActiveModel {
        id: Set(id),
        user_id: Set(user.into()),
        provider: Set(PROVIDER.to_owned()),
        display_name: Set(new.name),
        credentials_enc: Set(seal(keys, id, &new.server)?),
        status: Set(if new.enabled { ENABLED } else { DISABLED }.to_owned()),
        connected_at: Set(crate::time::now()),
        config: Set(Some(config_json(&new.config)?)),
        last_checked_at: Set(None),
        last_error: Set(None),
    }
    .insert(db)
    .await?;
    Ok(Account {
        row,
        server: new.server,
        config: new.config,
    })
}

/// The row of `user`'s mail account `id`.
///
/// # Errors
///
/// 404 when missing or not `user`'s.
pub async fn find_row(
    db: &impl ConnectionTrait,
    user: UserId,
    id: Uuid,
) -> Result<cloud_connections::Model, ApiError> {
    cloud_connections::Entity::find_by_id(id)
        .filter(cloud_connections::Column::UserId.eq(user))
        .filter(cloud_connections::Column::Provider.eq(PROVIDER))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::NotFound("No such mail account".to_owned()))
}

/// `user`'s mail account `id`.
///
/// # Errors
///
/// 404 when missing or not `user`'s.
pub async fn get(
    db: &impl ConnectionTrait,
    keys: &Keys,
    user: UserId,
    id: Uuid,
) -> Result<Account, ApiError> {
    open_api(keys, find_row(db, user, id).await?)
}

/// Every mail account of `user`, oldest first.
///
/// # Errors
///
/// Database errors.
pub async fn list(
    db: &impl ConnectionTrait,
    keys: &Keys,
    user: UserId,
) -> Result<Vec<Account>, ApiError> {
    cloud_connections::Entity::find()
        .filter(cloud_connections::Column::UserId.eq(user))
        .filter(cloud_connections::Column::Provider.eq(PROVIDER))
        .order_by_asc(cloud_connections::Column::ConnectedAt)
        .order_by_asc(cloud_connections::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|row| open_api(keys, row))
        .collect()
}

/// Applies `changes` to `user`'s account `id`.
///
/// # Errors
///
/// 404 missing, 422 invalid result.
#[tracing::instrument(skip_all)]
pub async fn update(
    db: &impl ConnectionTrait,
    keys: &Keys,
    limits: &MailIntakeSettings,
    user: UserId,
    id: Uuid,
    changes: AccountChanges,
) -> Result<Account, ApiError> {
    let Account {
        row,
        mut server,
        mut config,
    } = get(db, keys, user, id).await?;
    let mut model: cloud_connections::ActiveModel = row.clone().into();
    if let Some(name) = changes.name {
        model.display_name = Set(name);
    }
    let login_changed = changes.host.is_some()
        || changes.port.is_some()
        || changes.tls.is_some()
        || changes.username.is_some()
        || changes.password.is_some();
    if let Some(h) = changes.host {
        server.host = h;
    }
    if let Some(p) = changes.port {
        server.port = p;
    }
    if let Some(t) = changes.tls {
        server.tls = t;
    }
    if let Some(u) = changes.username {
        server.username = u;
    }
    if let Some(p) = changes.password {
        server.password = p;
    }
    if login_changed {
        check_reachable(&server, limits).await?;
        model.credentials_enc = Set(seal(keys, row.id, &server)?);
        // The last error was about the old login.
        model.last_error = Set(None);
    }
    if let Some(m) = changes.mailbox {
        config.mailbox = m;
    }
    if let Some(a) = changes.after {
        config.after = a;
    }
    if let Some(m) = changes.move_to {
        config.move_to = m;
    }
    if let Some(f) = changes.folder_id {
        config.folder_id = f;
    }
    if let Some(t) = changes.topic_ids {
        config.topic_ids = t;
    }
    if let Some(b) = changes.include_body {
        config.include_body = b;
    }
    if let Some(e) = changes.enabled {
        model.status = Set(if e { ENABLED } else { DISABLED }.to_owned());
    }
    check_after(&config)?;
    check_targets(db, user, &config).await?;
    model.config = Set(Some(config_json(&config)?));
    let row = model.update(db).await?;
    Ok(Account {
        row,
        server,
        config,
    })
}

/// Deletes `user`'s account `id` and its items (the documents stay).
///
/// # Errors
///
/// 404 missing.
pub async fn delete(db: &impl ConnectionTrait, user: UserId, id: Uuid) -> Result<(), ApiError> {
    let row = find_row(db, user, id).await?;
    cloud_connections::Entity::delete_by_id(row.id)
        .exec(db)
        .await?;
    Ok(())
}

/// The latest items of `user`'s account `id`, newest first.
///
/// # Errors
///
/// 404 missing.
pub async fn items(
    db: &impl ConnectionTrait,
    user: UserId,
    id: Uuid,
) -> Result<Vec<mail_intake_items::Model>, ApiError> {
    let row = find_row(db, user, id).await?;
    Ok(mail_intake_items::Entity::find()
        .filter(mail_intake_items::Column::ConnectionId.eq(row.id))
        .order_by_desc(mail_intake_items::Column::CreatedAt)
        .order_by_desc(mail_intake_items::Column::Id)
        .limit(ITEMS_LISTED)
        .all(db)
        .await?)
}

/// Records the outcome of a poll: when it ran and its error (`None` clears it).
///
/// # Errors
///
/// Database errors.
pub async fn record_check(
    db: &impl ConnectionTrait,
    id: Uuid,
    error: Option<String>,
) -> Result<(), sea_orm::DbErr> {
    cloud_connections::Entity::update_many()
        .col_expr(
            cloud_connections::Column::LastCheckedAt,
            Expr::value(crate::time::now()),
        )
        .col_expr(cloud_connections::Column::LastError, Expr::value(error))
        .filter(cloud_connections::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// The folder of new documents, as the domain id.
pub fn folder_of(config: &MailConfig) -> Option<FolderId> {
    config.folder_id.map(FolderId::from)
}

/// The topics of new documents that still exist and are usable by `user`.
///
/// # Errors
///
/// Database errors.
pub async fn topics_of(
    db: &impl ConnectionTrait,
    user: UserId,
    config: &MailConfig,
) -> Result<Vec<TopicId>, sea_orm::DbErr> {
    Ok(usable_topics(db, user, &config.topic_ids)
        .await?
        .into_iter()
        .map(TopicId::from)
        .collect())
}
