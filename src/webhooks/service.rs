//! Webhook use cases: create (a new signing secret, sealed), list, read, change, delete,
//! the deliveries log and a test send; and [`emit`], which queues one delivery per
//! matching webhook of an account (the delivery task sends them, see
//! [`super::delivery`]). Every query is owner-scoped: a webhook that is not yours is a
//! 404, exactly like a missing one.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::crypto::Keys;
use crate::domain::{UserId, WebhookId};
use crate::entities::webhook_deliveries::{self, DeliveryStatus};
use crate::entities::{document_topics, documents, topics, webhooks};
use crate::error::{ApiError, ErrorCode};
use crate::settings::WebhookSettings;
use crate::webhooks::target::{self, Refusal};

/// Prefix of a signing secret (Standard Webhooks): `whsec_` + base64 of the key bytes.
pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a signing secret.
const SECRET_BYTES: usize = 32;
/// Webhooks one account may have.
pub const MAX_WEBHOOKS: u64 = 25;
/// Longest description, in characters.
pub const DESCRIPTION_MAX_CHARS: usize = 500;
/// Deliveries shown in the log.
pub const LOG_LEN: u64 = 50;

/// What a webhook can be told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum WebhookEvent {
    /// A new document was uploaded and confirmed (queued for processing).
    #[serde(rename = "document.created")]
    DocumentCreated,
    /// Processing finished (classified or unclassified).
    #[serde(rename = "document.processed")]
    DocumentProcessed,
    /// Processing failed for good.
    #[serde(rename = "document.failed")]
    DocumentFailed,
    /// A document went to the trash (`permanent: false`) or was deleted for good
    /// (`permanent: true`).
    #[serde(rename = "document.deleted")]
    DocumentDeleted,
    /// A document was shared with another account.
    #[serde(rename = "share.created")]
    ShareCreated,
    /// Sent by `POST /api/webhooks/{id}/test` only; cannot be subscribed to.
    #[serde(rename = "webhook.test")]
    WebhookTest,
}

impl WebhookEvent {
    /// Every event, in the order the API documents them.
    pub const ALL: [Self; 6] = [
        Self::DocumentCreated,
        Self::DocumentProcessed,
        Self::DocumentFailed,
        Self::DocumentDeleted,
        Self::ShareCreated,
        Self::WebhookTest,
    ];

    /// The wire (and stored) name, e.g. `document.created`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::DocumentCreated => "document.created",
            Self::DocumentProcessed => "document.processed",
            Self::DocumentFailed => "document.failed",
            Self::DocumentDeleted => "document.deleted",
            Self::ShareCreated => "share.created",
            Self::WebhookTest => "webhook.test",
        }
    }
}

/// The events a webhook can subscribe to, as the request bodies document them: every
/// [`WebhookEvent`] but `webhook.test` (a subscription naming it is refused with 422).
/// Schema only: requests deserialize into [`WebhookEvent`], and the schema lists its
/// names (so the two never differ).
pub struct SubscribableEvent;

impl utoipa::PartialSchema for SubscribableEvent {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let names: Vec<&str> = WebhookEvent::ALL
            .iter()
            .filter(|e| **e != WebhookEvent::WebhookTest)
            .map(|e| e.as_str())
            .collect();
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "The events a webhook can subscribe to: every `WebhookEvent` but \
                 `webhook.test` (a subscription naming it is refused with 422).",
            ))
            .enum_values(Some(names))
            .into()
    }
}

impl ToSchema for SubscribableEvent {}

/// The associated data sealing a webhook's secret (its id and purpose).
pub use crate::crypto::webhook_secret_aad as secret_aad;

/// A fresh signing secret: `whsec_` + standard base64 of 32 random bytes.
fn new_secret() -> String {
    let bytes: [u8; SECRET_BYTES] = crate::crypto::random_bytes();
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

/// The HMAC key of a signing secret: the base64-decoded part after `whsec_`.
pub fn secret_key_bytes(secret: &str) -> Option<Vec<u8>> {
    STANDARD.decode(secret.strip_prefix(SECRET_PREFIX)?).ok()
}

/// A webhook with the state of its latest delivery.
#[derive(Debug, Clone)]
pub struct WebhookRow {
    /// The row.
    pub webhook: webhooks::Model,
    /// Its subscribed events.
    pub events: Vec<WebhookEvent>,
    /// The newest delivery, if any.
    pub last: Option<webhook_deliveries::Model>,
}

/// What a new or changed webhook says.
#[derive(Debug, Clone, Default)]
pub struct WebhookInput {
    /// Target URL.
    pub url: Option<String>,
    /// Events.
    pub events: Option<Vec<WebhookEvent>>,
    /// Description (`Some(None)`: cleared).
    pub description: Option<Option<String>>,
    /// Enabled.
    pub enabled: Option<bool>,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::Unprocessable {
        code: ErrorCode::ValidationFailed,
        message: message.into(),
    }
}

/// The refusal of a target as the API answers it.
pub fn refused(r: Refusal) -> ApiError {
    match r {
        Refusal::Invalid(message) => ApiError::Unprocessable {
            code: ErrorCode::WebhookTargetForbidden,
            message,
        },
        other => ApiError::Unprocessable {
            code: ErrorCode::WebhookTargetForbidden,
            message: format!("Webhook target refused: {other}"),
        },
    }
}

fn checked_events(events: &[WebhookEvent]) -> Result<Vec<WebhookEvent>, ApiError> {
    if events.is_empty() {
        return Err(invalid("events must name at least one event"));
    }
    let mut out = Vec::new();
    for e in events {
        if *e == WebhookEvent::WebhookTest {
            return Err(invalid(
                "webhook.test is sent by the test endpoint only and cannot be subscribed to",
            ));
        }
        if !out.contains(e) {
            out.push(*e);
        }
    }
    Ok(out)
}

fn checked_description(d: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(d) = d else { return Ok(None) };
    let d = d.trim().to_owned();
    if d.chars().count() > DESCRIPTION_MAX_CHARS {
        return Err(invalid(format!(
            "description must be at most {DESCRIPTION_MAX_CHARS} characters"
        )));
    }
    if d.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(invalid("description must not contain control characters"));
    }
    Ok((!d.is_empty()).then_some(d))
}

fn events_of(model: &webhooks::Model) -> Vec<WebhookEvent> {
    serde_json::from_value::<Vec<Value>>(model.events.clone())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|v| serde_json::from_value(v).ok())
        .collect()
}

fn events_json(events: &[WebhookEvent]) -> Value {
    Value::Array(events.iter().map(|e| json!(e.as_str())).collect())
}

async fn with_last(
    db: &impl ConnectionTrait,
    webhook: webhooks::Model,
) -> Result<WebhookRow, DbErr> {
    let last = webhook_deliveries::Entity::find()
        .filter(webhook_deliveries::Column::WebhookId.eq(webhook.id))
        .order_by_desc(webhook_deliveries::Column::CreatedAt)
        .order_by_desc(webhook_deliveries::Column::Id)
        .one(db)
        .await?;
    Ok(WebhookRow {
        events: events_of(&webhook),
        webhook,
        last,
    })
}

/// The caller's webhook `id` (404 when missing or not theirs).
async fn owned(
    db: &impl ConnectionTrait,
    user: UserId,
    id: WebhookId,
) -> Result<webhooks::Model, ApiError> {
    webhooks::Entity::find_by_id(id)
        .filter(webhooks::Column::UserId.eq(user))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::NotFound("No such webhook".into()))
}

/// Creates a webhook for `user`; returns it with its signing secret (shown only now).
#[tracing::instrument(skip_all)]
pub async fn create(
    db: &impl ConnectionTrait,
    keys: &Keys,
    settings: &WebhookSettings,
    user: UserId,
    url: &str,
    events: &[WebhookEvent],
    description: Option<String>,
) -> Result<(String, WebhookRow), ApiError> {
    let events = checked_events(events)?;
    let description = checked_description(description)?;
    let target = target::check_now(url, settings).await.map_err(refused)?;
    let count = webhooks::Entity::find()
        .filter(webhooks::Column::UserId.eq(user))
        .count(db)
        .await?;
    if count >= MAX_WEBHOOKS {
        return Err(invalid(format!(
            "An account may have at most {MAX_WEBHOOKS} webhooks"
        )));
    }
    let id = Uuid::new_v4();
    let secret = new_secret();
    let model = webhooks::ActiveModel {
        id: Set(id),
        user_id: Set(user.into()),
        url: Set(target.url.to_string()),
        events: Set(events_json(&events)),
        description: Set(description),
        secret: Set(keys.encrypt(secret.as_bytes(), &secret_aad(id))),
        enabled: Set(true),
        created_at: Set(crate::time::now()),
    }
    .insert(db)
    .await?;
    Ok((secret, with_last(db, model).await?))
}

/// The caller's webhooks, newest first.
pub async fn list(db: &impl ConnectionTrait, user: UserId) -> Result<Vec<WebhookRow>, ApiError> {
    let rows = webhooks::Entity::find()
        .filter(webhooks::Column::UserId.eq(user))
        .order_by_desc(webhooks::Column::CreatedAt)
        .order_by_desc(webhooks::Column::Id)
        .all(db)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(with_last(db, row).await?);
    }
    Ok(out)
}

/// One of the caller's webhooks.
pub async fn get(
    db: &impl ConnectionTrait,
    user: UserId,
    id: WebhookId,
) -> Result<WebhookRow, ApiError> {
    let row = owned(db, user, id).await?;
    Ok(with_last(db, row).await?)
}

/// Changes what `changes` names of the caller's webhook.
#[tracing::instrument(skip_all)]
pub async fn update(
    db: &impl ConnectionTrait,
    settings: &WebhookSettings,
    user: UserId,
    id: WebhookId,
    changes: WebhookInput,
) -> Result<WebhookRow, ApiError> {
    let row = owned(db, user, id).await?;
    let mut active: webhooks::ActiveModel = row.into();
    if let Some(events) = changes.events {
        active.events = Set(events_json(&checked_events(&events)?));
    }
    if let Some(description) = changes.description {
        active.description = Set(checked_description(description)?);
    }
    if let Some(url) = changes.url {
        let target = target::check_now(&url, settings).await.map_err(refused)?;
        active.url = Set(target.url.to_string());
    }
    if let Some(enabled) = changes.enabled {
        active.enabled = Set(enabled);
    }
    let model = active.update(db).await?;
    Ok(with_last(db, model).await?)
}

/// Deletes the caller's webhook and its deliveries (pending ones are never sent).
pub async fn delete(
    db: &impl ConnectionTrait,
    user: UserId,
    id: WebhookId,
) -> Result<(), ApiError> {
    let row = owned(db, user, id).await?;
    let gone = webhooks::Entity::delete_many()
        .filter(webhooks::Column::Id.eq(row.id))
        .filter(webhooks::Column::UserId.eq(user))
        .exec(db)
        .await?
        .rows_affected;
    if gone == 0 {
        return Err(ApiError::NotFound("No such webhook".into()));
    }
    Ok(())
}

/// The newest [`LOG_LEN`] deliveries of the caller's webhook.
pub async fn deliveries(
    db: &impl ConnectionTrait,
    user: UserId,
    id: WebhookId,
) -> Result<Vec<webhook_deliveries::Model>, ApiError> {
    let row = owned(db, user, id).await?;
    Ok(webhook_deliveries::Entity::find()
        .filter(webhook_deliveries::Column::WebhookId.eq(row.id))
        .order_by_desc(webhook_deliveries::Column::CreatedAt)
        .order_by_desc(webhook_deliveries::Column::Id)
        .limit(LOG_LEN)
        .all(db)
        .await?)
}

/// Queues a `webhook.test` delivery of the caller's webhook, due now (also when the
/// webhook is disabled: testing it is the point).
pub async fn send_test(
    db: &impl ConnectionTrait,
    user: UserId,
    id: WebhookId,
) -> Result<webhook_deliveries::Model, ApiError> {
    let row = owned(db, user, id).await?;
    let body = payload(
        WebhookEvent::WebhookTest,
        json!({ "webhook_id": row.id, "message": "A test delivery from DocuVault" }),
    );
    Ok(insert_delivery(db, row.id, WebhookEvent::WebhookTest, &body).await?)
}

/// The body of an event: `{"type", "timestamp", "data"}`.
fn payload(event: WebhookEvent, data: Value) -> String {
    json!({
        "type": event.as_str(),
        "timestamp": crate::time::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": data,
    })
    .to_string()
}

async fn insert_delivery(
    db: &impl ConnectionTrait,
    webhook: Uuid,
    event: WebhookEvent,
    body: &str,
) -> Result<webhook_deliveries::Model, DbErr> {
    delivery_row(webhook, event, body).insert(db).await
}

/// A new pending delivery of `event` with `body` to `webhook`.
fn delivery_row(webhook: Uuid, event: WebhookEvent, body: &str) -> webhook_deliveries::ActiveModel {
    let now = crate::time::now();
    webhook_deliveries::ActiveModel {
        id: Set(Uuid::new_v4()),
        webhook_id: Set(webhook),
        event: Set(event.as_str().to_owned()),
        payload: Set(body.to_owned()),
        status: Set(DeliveryStatus::Pending),
        attempts: Set(0),
        next_attempt_at: Set(Some(now)),
        last_attempt_at: Set(None),
        response_status: Set(None),
        latency_ms: Set(None),
        error: Set(None),
        created_at: Set(now),
    }
}

/// The ids of `user`'s enabled webhooks subscribed to `event` (one indexed query).
async fn subscribed(
    db: &impl ConnectionTrait,
    user: Uuid,
    event: WebhookEvent,
) -> Result<Vec<Uuid>, DbErr> {
    Ok(webhooks::Entity::find()
        .filter(webhooks::Column::UserId.eq(user))
        .filter(webhooks::Column::Enabled.eq(true))
        .all(db)
        .await?
        .into_iter()
        .filter(|w| events_of(w).contains(&event))
        .map(|w| w.id)
        .collect())
}

/// Queues one delivery of `event` with `data` for every enabled webhook of `user`
/// subscribed to it; how many. One indexed query when the account has no webhook.
pub async fn emit(
    db: &impl ConnectionTrait,
    user: Uuid,
    event: WebhookEvent,
    data: Value,
) -> Result<usize, DbErr> {
    let targets = subscribed(db, user, event).await?;
    if targets.is_empty() {
        return Ok(0);
    }
    let body = payload(event, data);
    for webhook in &targets {
        insert_delivery(db, *webhook, event, &body).await?;
    }
    Ok(targets.len())
}

/// The `data.document` of document events: a minimal view of document `id` (`None`
/// when it is gone).
async fn document_data(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<Value>, DbErr> {
    Ok(documents_data(db, &[id]).await?.remove(&id))
}

/// [`document_data`] of each of `ids` that still exists, by id: two queries per 500 ids.
async fn documents_data(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, Value>, DbErr> {
    let mut data = std::collections::HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let docs = documents::Entity::find()
            .select_only()
            .columns([
                documents::Column::Id,
                documents::Column::Filename,
                documents::Column::ContentType,
                documents::Column::SizeBytes,
                documents::Column::Status,
                documents::Column::FolderId,
            ])
            .filter(documents::Column::Id.is_in(chunk.to_vec()))
            .into_tuple::<(Uuid, String, String, i64, String, Option<Uuid>)>()
            .all(db)
            .await?;
        let mut names: std::collections::HashMap<Uuid, Vec<String>> =
            std::collections::HashMap::new();
        for (link, topic) in document_topics::Entity::find()
            .filter(document_topics::Column::DocumentId.is_in(chunk.to_vec()))
            .find_also_related(topics::Entity)
            .all(db)
            .await?
        {
            if let Some(topic) = topic {
                names.entry(link.document_id).or_default().push(topic.name);
            }
        }
        for (id, filename, content_type, size_bytes, status, folder_id) in docs {
            let mut names = names.remove(&id).unwrap_or_default();
            names.sort_by_key(|n| n.to_lowercase());
            data.insert(
                id,
                json!({
                    "id": id,
                    "filename": filename,
                    "content_type": content_type,
                    "size_bytes": size_bytes,
                    "status": status,
                    "folder_id": folder_id,
                    "topics": names,
                }),
            );
        }
    }
    Ok(data)
}

/// The data of a document event, read now; `None` when nobody listens or the document
/// is gone.
async fn document_event_data(
    db: &impl ConnectionTrait,
    user: Uuid,
    document: Uuid,
    event: WebhookEvent,
) -> Result<Option<Value>, DbErr> {
    if subscribed(db, user, event).await?.is_empty() {
        return Ok(None);
    }
    Ok(document_data(db, document)
        .await?
        .map(|doc| document_event_body(event, doc)))
}

/// The data of a document event about `doc` (its [`document_data`]).
fn document_event_body(event: WebhookEvent, doc: Value) -> Value {
    let mut data = json!({ "document": doc });
    if event == WebhookEvent::DocumentDeleted {
        data["permanent"] = json!(false);
    }
    data
}

/// Tells `user`'s webhooks about `event` of their document `document`, as the
/// document is now. Never fails: a problem is logged, the caller's work stands.
pub async fn document_event(
    db: &impl ConnectionTrait,
    user: Uuid,
    document: Uuid,
    event: WebhookEvent,
) {
    document_events(db, user, &[document], event).await;
}

/// [`document_event`] for each of `user`'s `documents` (a change of many at once): one
/// query when nobody listens; else the documents read by two queries per 500 and the
/// deliveries written by a few multi-row statements. Never fails (logged).
pub async fn document_events(
    db: &impl ConnectionTrait,
    user: Uuid,
    documents: &[Uuid],
    event: WebhookEvent,
) {
    let result = async {
        let targets = subscribed(db, user, event).await?;
        if targets.is_empty() {
            return Ok(());
        }
        let mut data = documents_data(db, documents).await?;
        let mut rows = Vec::with_capacity(documents.len() * targets.len());
        for document in documents {
            let Some(doc) = data.remove(document) else {
                continue;
            };
            let body = payload(event, document_event_body(event, doc));
            rows.extend(targets.iter().map(|&w| delivery_row(w, event, &body)));
        }
        for chunk in rows.chunks(500) {
            webhook_deliveries::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(db)
                .await?;
        }
        Ok(())
    };
    log_failure(
        result.await,
        event,
        documents.first().copied().unwrap_or(user),
    );
}

fn log_failure(result: Result<(), DbErr>, event: WebhookEvent, subject: Uuid) {
    if let Err(e) = result {
        tracing::warn!(error = %e, event = event.as_str(), %subject, "could not queue webhook deliveries");
    }
}

/// A `document.deleted` (`permanent: true`) event read before the document is deleted
/// for good, to be sent by [`deleted_for_good`] once it is.
#[derive(Debug)]
pub struct PendingDeletion {
    user: Uuid,
    document: Uuid,
    data: Value,
}

/// Reads what a `document.deleted` event of document `id` will say, before it is
/// deleted for good; `None` when nobody listens, it is an unconfirmed upload (never
/// announced) or it is gone. Never fails (logged).
pub async fn before_deletion(db: &impl ConnectionTrait, id: Uuid) -> Option<PendingDeletion> {
    let event = WebhookEvent::DocumentDeleted;
    let found = async {
        let Some((user, status)) = documents::Entity::find_by_id(id)
            .select_only()
            .columns([documents::Column::UserId, documents::Column::Status])
            .into_tuple::<(Uuid, String)>()
            .one(db)
            .await?
        else {
            return Ok(None);
        };
        if status == crate::entities::DocumentStatus::Pending.as_str() {
            return Ok(None);
        }
        Ok::<_, DbErr>(
            document_event_data(db, user, id, event)
                .await?
                .map(|mut data| {
                    data["permanent"] = json!(true);
                    PendingDeletion {
                        user,
                        document: id,
                        data,
                    }
                }),
        )
    };
    match found.await {
        Ok(p) => p,
        Err(e) => {
            log_failure(Err(e), event, id);
            None
        }
    }
}

/// Sends the event [`before_deletion`] read, now that the document is deleted for good.
pub async fn deleted_for_good(db: &impl ConnectionTrait, pending: Option<PendingDeletion>) {
    if let Some(p) = pending {
        let result = emit(db, p.user, WebhookEvent::DocumentDeleted, p.data)
            .await
            .map(|_| ());
        log_failure(result, WebhookEvent::DocumentDeleted, p.document);
    }
}

/// Tells the owner's webhooks that `share` of `document` was created for `recipient`
/// (a handle). Never fails (logged).
pub async fn share_created(
    db: &impl ConnectionTrait,
    owner: Uuid,
    share: Uuid,
    document: Uuid,
    recipient: &str,
) {
    let data = json!({ "share_id": share, "document_id": document, "recipient": recipient });
    let result = emit(db, owner, WebhookEvent::ShareCreated, data)
        .await
        .map(|_| ());
    log_failure(result, WebhookEvent::ShareCreated, share);
}

/// When a webhook's newest delivery was last attempted, and where it stands.
pub fn last_state(row: &WebhookRow) -> (Option<DateTime<Utc>>, Option<DeliveryStatus>) {
    match &row.last {
        Some(d) => (d.last_attempt_at, Some(d.status)),
        None => (None, None),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::WebhookEvent;

    #[test]
    fn all_lists_every_event_once_under_its_wire_name() {
        // The match fails to compile when an event is added, until it is placed in ALL.
        let position = |e: WebhookEvent| match e {
            WebhookEvent::DocumentCreated => 0,
            WebhookEvent::DocumentProcessed => 1,
            WebhookEvent::DocumentFailed => 2,
            WebhookEvent::DocumentDeleted => 3,
            WebhookEvent::ShareCreated => 4,
            WebhookEvent::WebhookTest => 5,
        };
        for (i, e) in WebhookEvent::ALL.into_iter().enumerate() {
            assert_eq!(position(e), i);
            let wire = serde_json::to_value(e).unwrap();
            assert_eq!(wire, e.as_str());
        }
    }
}
