//! One poll of a mail account: take the messages waiting in its mailbox, import each
//! accepted part as a document, record an item for every part (imported, failed or
//! skipped, with the reason), then mark the message seen or move it.
//!
//! **Each part once, whichever instance polls.** Before a part is stored, its item is
//! inserted (`ON CONFLICT DO NOTHING` on `(connection_id, message_id, part_hash)`); only
//! the poll whose insert went in stores it. The row starts as `failed` ("did not
//! finish") and becomes `imported` with the document once stored, so a crash in between
//! leaves a visible failure, never a second copy. A message whose mark or move failed
//! comes back on the next poll and only gets marked or moved then.
//!
//! A message over `mail_intake.max_message_bytes` is not downloaded, one with more than
//! `mail_intake.max_parts` parts not imported: each becomes one failed item and is
//! marked or moved like any other, so it is not retried forever.

use std::time::Duration;

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait as _, QueryFilter, Set};
use serde::Serialize;
use uuid::Uuid;

use crate::documents::direct::{NewDocument, store_new};
use crate::documents::service::UploadError;
use crate::domain::UserId;
use crate::entities::{cloud_connections, mail_intake_items, users};
use crate::intake::imap::{self, ImapError};
use crate::intake::message::{self, Candidate, Identity, Reading, Verdict};
use crate::intake::service::{self, Account, AfterImport};
use crate::state::AppState;

/// Most messages one poll takes (the rest wait for the next one).
pub const MAX_MESSAGES_PER_CHECK: usize = 50;
/// Longest one poll may take before it is abandoned (what it finished stays recorded).
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(300);

/// What one poll did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MailCheckResult {
    /// Messages taken from the mailbox.
    pub messages: u32,
    /// Parts imported as documents.
    pub imported: u32,
    /// Parts (or whole messages) that failed, with a reason on their item.
    pub failed: u32,
    /// Parts left out (type not accepted, nothing to import), with a reason.
    pub skipped: u32,
}

/// Item status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Imported,
    Failed,
    Skipped,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Imported => "imported",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
        }
    }
}

/// Polls `account` now: the whole check under [`CHECK_TIMEOUT`], its outcome recorded
/// on the account (`last_checked_at`, and `last_error` set or cleared).
///
/// # Errors
///
/// Why the mailbox could not be read (also recorded as `last_error`); database errors.
pub async fn check(state: &AppState, account: &Account) -> anyhow::Result<MailCheckResult> {
    let outcome = tokio::time::timeout(CHECK_TIMEOUT, run(state, account)).await;
    let (result, error) = match outcome {
        Ok(Ok((result, error))) => (Ok(result), error),
        Ok(Err(e)) => {
            let message = e.to_string();
            (Err(anyhow::Error::new(e)), Some(message))
        }
        Err(_) => {
            let message = format!(
                "the check did not finish within {} s",
                CHECK_TIMEOUT.as_secs()
            );
            (Err(anyhow::anyhow!(message.clone())), Some(message))
        }
    };
    service::record_check(&state.db, account.row.id, error).await?;
    result
}

/// The poll itself: the counts, and the error to record (a failed mark or move after
/// messages were taken) when it otherwise succeeded.
async fn run(
    state: &AppState,
    account: &Account,
) -> Result<(MailCheckResult, Option<String>), ImapError> {
    let limits = &state.settings.mail_intake;
    let config = &account.config;
    let allowed = limits.allows(&account.server.host);
    let mut mailbox = imap::open(&account.server, &config.mailbox, allowed).await?;
    let uids = mailbox
        .candidates(config.after == AfterImport::Seen, MAX_MESSAGES_PER_CHECK)
        .await?;
    let envelopes = mailbox.envelopes(&uids).await?;
    let mut result = MailCheckResult::default();
    let mut after_error = None;
    for envelope in envelopes {
        let identity = message::identity(&envelope.header);
        result.messages += 1;
        if envelope.size > limits.max_message_bytes {
            let reason = format!(
                "the message is too large ({} bytes; at most {})",
                envelope.size, limits.max_message_bytes
            );
            whole_message_failed(state, account, &identity, &reason, &mut result)
                .await
                .map_err(db_error)?;
        } else {
            let raw = mailbox
                .message(envelope.uid, limits.max_message_bytes)
                .await?;
            let max_parts = limits.max_parts;
            let include_body = config.include_body;
            let reading =
                tokio::task::spawn_blocking(move || message::read(&raw, max_parts, include_body))
                    .await
                    .unwrap_or_else(|_| {
                        Reading::Refused("the message could not be read".to_owned())
                    });
            match reading {
                Reading::Refused(reason) => {
                    whole_message_failed(state, account, &identity, &reason, &mut result)
                        .await
                        .map_err(db_error)?;
                }
                Reading::Parts(parts) if parts.is_empty() => {
                    let reason = if config.include_body {
                        "nothing to import: no attachment and an empty body"
                    } else {
                        "nothing to import: no attachment (the body is imported only with \
                         include_body)"
                    };
                    let item = Item {
                        identity: &identity,
                        part_hash: message::BODY_PART,
                        filename: None,
                    };
                    if claim(&state.db, account, &item, Status::Skipped, Some(reason))
                        .await
                        .map_err(db_error)?
                        .is_some()
                    {
                        result.skipped += 1;
                    }
                }
                Reading::Parts(parts) => {
                    for part in parts {
                        import_part(state, account, &identity, part, &mut result)
                            .await
                            .map_err(db_error)?;
                    }
                }
            }
        }
        let done = match (config.after, config.move_to.as_deref()) {
            (AfterImport::Move, Some(target)) => mailbox.move_to(envelope.uid, target).await,
            _ => mailbox.mark_seen(envelope.uid).await,
        };
        if let Err(e) = done {
            // Most likely the same for every message (the target mailbox is missing):
            // stop here; the items are recorded, the next poll only retries this.
            after_error = Some(e.0);
            break;
        }
    }
    mailbox.close().await;
    Ok((result, after_error))
}

fn db_error(e: sea_orm::DbErr) -> ImapError {
    tracing::error!(error = %e, "mail intake: database error");
    ImapError("a database error interrupted the check".to_owned())
}

/// The key of one item.
struct Item<'a> {
    identity: &'a Identity,
    part_hash: &'a str,
    filename: Option<&'a str>,
}

/// Inserts the item unless it exists; returns its id when this call inserted it.
async fn claim(
    db: &impl ConnectionTrait,
    account: &Account,
    item: &Item<'_>,
    status: Status,
    reason: Option<&str>,
) -> Result<Option<Uuid>, sea_orm::DbErr> {
    let id = Uuid::new_v4();
    let inserted = mail_intake_items::Entity::insert(mail_intake_items::ActiveModel {
        id: Set(id),
        connection_id: Set(account.row.id),
        message_id: Set(item.identity.message_id.clone()),
        part_hash: Set(item.part_hash.to_owned()),
        subject: Set(item.identity.subject.clone()),
        filename: Set(item.filename.map(str::to_owned)),
        status: Set(status.as_str().to_owned()),
        reason: Set(reason.map(reason_text)),
        document_id: Set(None),
        created_at: Set(crate::time::now()),
    })
    .on_conflict(
        OnConflict::columns([
            mail_intake_items::Column::ConnectionId,
            mail_intake_items::Column::MessageId,
            mail_intake_items::Column::PartHash,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok((inserted == 1).then_some(id))
}

/// A reason as stored (at most 1000 characters).
fn reason_text(reason: &str) -> String {
    reason.chars().take(1000).collect()
}

async fn whole_message_failed(
    state: &AppState,
    account: &Account,
    identity: &Identity,
    reason: &str,
    result: &mut MailCheckResult,
) -> Result<(), sea_orm::DbErr> {
    let item = Item {
        identity,
        part_hash: message::MESSAGE_PART,
        filename: None,
    };
    if claim(&state.db, account, &item, Status::Failed, Some(reason))
        .await?
        .is_some()
    {
        result.failed += 1;
    }
    Ok(())
}

async fn import_part(
    state: &AppState,
    account: &Account,
    identity: &Identity,
    part: Candidate,
    result: &mut MailCheckResult,
) -> Result<(), sea_orm::DbErr> {
    let item = Item {
        identity,
        part_hash: &part.part_hash,
        filename: Some(&part.filename),
    };
    let content_type = match &part.verdict {
        Verdict::Skip(reason) => {
            if claim(&state.db, account, &item, Status::Skipped, Some(reason))
                .await?
                .is_some()
            {
                result.skipped += 1;
            }
            return Ok(());
        }
        Verdict::Import(t) => t.content_type,
    };
    let Some(item_id) = claim(
        &state.db,
        account,
        &item,
        Status::Failed,
        Some("the import did not finish"),
    )
    .await?
    else {
        return Ok(());
    };
    let user = UserId::from(account.row.user_id);
    let topic_ids = service::topics_of(&state.db, user, &account.config).await?;
    let new = NewDocument {
        filename: part.filename.clone(),
        content_type: Some(content_type.to_owned()),
        size: Some(part.bytes.len() as u64),
        folder_id: service::folder_of(&account.config),
        topic_ids,
    };
    let stored = store_new(state, user, new, std::io::Cursor::new(part.bytes)).await;
    let update =
        mail_intake_items::Entity::update_many().filter(mail_intake_items::Column::Id.eq(item_id));
    match stored {
        Ok(doc) => {
            update
                .col_expr(
                    mail_intake_items::Column::Status,
                    Expr::value(Status::Imported.as_str()),
                )
                .col_expr(
                    mail_intake_items::Column::Reason,
                    Expr::value(None::<String>),
                )
                .col_expr(mail_intake_items::Column::DocumentId, Expr::value(doc.id))
                .exec(&state.db)
                .await?;
            result.imported += 1;
        }
        Err(e) => {
            update
                .col_expr(
                    mail_intake_items::Column::Reason,
                    Expr::value(reason_text(&upload_failure(&e))),
                )
                .exec(&state.db)
                .await?;
            result.failed += 1;
        }
    }
    Ok(())
}

/// Why storing a part failed, as the owner reads it.
fn upload_failure(e: &UploadError) -> String {
    match e {
        UploadError::QuotaExceeded(d) => format!(
            "not enough space: {} of {} bytes used, this file needs {}",
            d.used_bytes, d.limit_bytes, d.rejected_bytes
        ),
        UploadError::Api(crate::error::ApiError::Internal(err)) => {
            tracing::error!(error = ?err, "mail intake: storing a part failed");
            "the document could not be stored (server error)".to_owned()
        }
        UploadError::Api(api) => api.to_string(),
    }
}

/// The mail accounts due for a poll, each claimed for this instance by moving its
/// `last_checked_at` to now (a conditional update: of several instances, one wins).
/// Only enabled accounts of active users.
///
/// # Errors
///
/// Database errors.
pub async fn claim_due(
    state: &AppState,
    limit: usize,
) -> Result<Vec<cloud_connections::Model>, sea_orm::DbErr> {
    let now = crate::time::now();
    let poll = chrono::Duration::seconds(
        i64::try_from(state.settings.mail_intake.poll_secs).unwrap_or(i64::MAX / 2),
    );
    let due_before = now - poll;
    let active_users = sea_orm::sea_query::Query::select()
        .column(users::Column::Id)
        .from(users::Entity)
        .and_where(users::Column::IsActive.eq(true))
        .to_owned();
    let rows = cloud_connections::Entity::find()
        .filter(cloud_connections::Column::Provider.eq(service::PROVIDER))
        .filter(cloud_connections::Column::Status.eq(service::ENABLED))
        .filter(
            cloud_connections::Column::LastCheckedAt
                .is_null()
                .or(cloud_connections::Column::LastCheckedAt.lte(due_before)),
        )
        .filter(cloud_connections::Column::UserId.in_subquery(active_users))
        .all(&state.db)
        .await?;
    let mut claimed = Vec::new();
    for row in rows {
        if claimed.len() >= limit {
            break;
        }
        let query = cloud_connections::Entity::update_many()
            .col_expr(cloud_connections::Column::LastCheckedAt, Expr::value(now))
            .filter(cloud_connections::Column::Id.eq(row.id))
            .filter(
                cloud_connections::Column::LastCheckedAt
                    .is_null()
                    .or(cloud_connections::Column::LastCheckedAt.lte(due_before)),
            );
        if query.exec(&state.db).await?.rows_affected == 1 {
            claimed.push(row);
        }
    }
    Ok(claimed)
}

/// Polls every due account once (see [`claim_due`]); failures are recorded on the
/// accounts and logged, never returned.
pub async fn poll_due(state: &AppState) {
    let due = match claim_due(state, 100).await {
        Ok(due) => due,
        Err(e) => {
            tracing::warn!(error = %e, "mail intake: listing due accounts failed");
            return;
        }
    };
    for row in due {
        let id = row.id;
        let account = match service::open(&state.keys, row) {
            Ok(a) => a,
            Err(e) => {
                let _ = service::record_check(&state.db, id, Some(e.to_string())).await;
                continue;
            }
        };
        match check(state, &account).await {
            Ok(r) => tracing::debug!(account = %id, ?r, "mail intake: polled"),
            Err(e) => tracing::info!(account = %id, error = %e, "mail intake: poll failed"),
        }
    }
}
