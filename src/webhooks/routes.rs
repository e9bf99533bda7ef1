//! `/api/webhooks`: an account's signed webhooks, their deliveries log and a test send.
//! Regular accounts only (not API tokens); a webhook that is not yours is a 404, exactly
//! like a missing one.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{AuditEntry, AuditEvent, Outcome};
use crate::auth::extract::{RegularUser, regular_scope};
use crate::domain::WebhookId;
use crate::entities::webhook_deliveries::{self, DeliveryStatus};
use crate::error::{ApiError, ErrorBody};
use crate::http::ApiJson;
use crate::state::AppState;
use crate::webhooks::service::{self, SubscribableEvent, WebhookEvent, WebhookInput, WebhookRow};

/// `POST /api/webhooks` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// Where to `POST` events: an `http` or `https` URL whose host resolves to public
    /// addresses (or is listed in the server's `webhooks.allowed_hosts`).
    #[schema(example = "https://example.com/hooks/docuvault", max_length = 2048)]
    pub url: String,
    /// Events to send (at least one; not `webhook.test`).
    #[schema(min_items = 1, value_type = Vec<SubscribableEvent>)]
    pub events: Vec<WebhookEvent>,
    /// What it is for (up to 500 characters).
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: Option<String>,
}

/// `PATCH /api/webhooks/{id}` body; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookRequest {
    /// New events (at least one); absent or null = unchanged.
    #[serde(default)]
    #[schema(min_items = 1, value_type = Option<Vec<SubscribableEvent>>)]
    pub events: Option<Vec<WebhookEvent>>,
    /// New URL (checked as on creation); absent or null = unchanged.
    #[serde(default)]
    #[schema(max_length = 2048)]
    pub url: Option<String>,
    /// New description; null = remove it; absent = unchanged.
    #[serde(default, deserialize_with = "crate::serde_util::double_option")]
    #[schema(value_type = Option<String>, max_length = 500)]
    pub description: Option<Option<String>>,
    /// Send events (true) or hold them back (false); absent or null = unchanged.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// A webhook (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct Webhook {
    /// Webhook id.
    pub id: Uuid,
    /// Target URL.
    pub url: String,
    /// Events sent to it.
    pub events: Vec<WebhookEvent>,
    /// What it is for.
    #[schema(required = true)]
    pub description: Option<String>,
    /// Whether events are sent.
    pub enabled: bool,
    /// Created at.
    pub created_at: DateTime<Utc>,
    /// When its newest delivery was last attempted.
    #[schema(required = true)]
    pub last_delivery_at: Option<DateTime<Utc>>,
    /// Where its newest delivery stands: `pending`, `delivered` or `failed`.
    #[schema(required = true)]
    pub last_status: Option<DeliveryStatus>,
}

impl From<WebhookRow> for Webhook {
    fn from(row: WebhookRow) -> Self {
        let (last_delivery_at, last_status) = service::last_state(&row);
        Self {
            id: row.webhook.id,
            url: row.webhook.url,
            events: row.events,
            description: row.webhook.description,
            enabled: row.webhook.enabled,
            created_at: row.webhook.created_at,
            last_delivery_at,
            last_status,
        }
    }
}

/// A new webhook and its signing secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookCreated {
    /// The signing secret, `whsec_` + base64 of the key bytes (Standard Webhooks). Shown
    /// only now: store it where your receiver can read it.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
    /// The webhook.
    pub webhook: Webhook,
}

/// The caller's webhooks.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    /// Webhooks, newest first.
    pub webhooks: Vec<Webhook>,
}

/// One event sent (or to be sent) to one webhook.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDelivery {
    /// Delivery id: the `webhook-id` header, the same on every attempt.
    pub id: Uuid,
    /// Event name, e.g. `document.created`.
    pub event: String,
    /// `pending` (waiting for its next attempt), `delivered` (2xx) or `failed`.
    pub status: DeliveryStatus,
    /// Attempts so far.
    pub attempts: i32,
    /// Last attempt at.
    #[schema(required = true)]
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// Next attempt due at (pending only).
    #[schema(required = true)]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// HTTP status of the last answer.
    #[schema(required = true)]
    pub response_status: Option<i32>,
    /// Time the last attempt took, in milliseconds.
    #[schema(required = true)]
    pub latency_ms: Option<i64>,
    /// Why the last attempt did not deliver.
    #[schema(required = true)]
    pub error: Option<String>,
    /// Queued at.
    pub created_at: DateTime<Utc>,
}

impl From<webhook_deliveries::Model> for WebhookDelivery {
    fn from(d: webhook_deliveries::Model) -> Self {
        Self {
            id: d.id,
            event: d.event,
            status: d.status,
            attempts: d.attempts,
            last_attempt_at: d.last_attempt_at,
            next_attempt_at: d.next_attempt_at,
            response_status: d.response_status,
            latency_ms: d.latency_ms,
            error: d.error,
            created_at: d.created_at,
        }
    }
}

/// The newest deliveries of a webhook.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDeliveryList {
    /// Deliveries, newest first (the last 50).
    pub deliveries: Vec<WebhookDelivery>,
}

/// Creates a webhook: events are `POST`ed to `url` as JSON, signed (Standard Webhooks).
///
/// The answer carries the signing secret, shown only now. Targets whose host is or
/// resolves to a loopback, private, link-local, cloud metadata, CGNAT, multicast or
/// unspecified address are refused with 422 `webhook_target_forbidden` (the message says
/// why), as is any scheme but `http` and `https`; the server's `webhooks.allowed_hosts`
/// lets listed hosts through.
#[utoipa::path(
    operation_id = "createWebhook",
    tag = "webhooks",
    security(("bearer" = [])),
    request_body = CreateWebhookRequest,
    responses(
        (status = 201, description = "Created; the secret is shown only now", body = WebhookCreated),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrator account, or password change pending", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Target refused (`webhook_target_forbidden`) or invalid values (`validation_failed`)", body = ErrorBody),
    )
)]
#[post("")]
pub async fn create_webhook(
    state: web::Data<AppState>,
    user: RegularUser,
    body: ApiJson<CreateWebhookRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let (secret, row) = service::create(
        &state.db,
        &state.keys,
        &state.settings.webhooks,
        user.id(),
        &body.url,
        &body.events,
        body.description,
    )
    .await?;
    AuditEntry::new(
        AuditEvent::WebhookCreated,
        Outcome::Success,
        Some(user.id().into()),
        Some(user.0.client.ip.as_str()),
    )
    .resource(row.webhook.id)
    .detail("url", row.webhook.url.clone())
    .record(&state.db)
    .await?;
    Ok(HttpResponse::Created().json(WebhookCreated {
        secret,
        webhook: row.into(),
    }))
}

/// Every webhook of the caller, newest first.
#[utoipa::path(
    operation_id = "listWebhooks",
    tag = "webhooks",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's webhooks", body = WebhookList),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrator account, or password change pending", body = ErrorBody),
    )
)]
#[get("")]
pub async fn list_webhooks(
    state: web::Data<AppState>,
    user: RegularUser,
) -> Result<web::Json<WebhookList>, ApiError> {
    let rows = service::list(&state.db, user.id()).await?;
    Ok(web::Json(WebhookList {
        webhooks: rows.into_iter().map(Webhook::from).collect(),
    }))
}

/// One webhook of the caller.
#[utoipa::path(
    operation_id = "getWebhook",
    tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Webhook id")),
    responses(
        (status = 200, description = "The webhook", body = Webhook),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrator account, or password change pending", body = ErrorBody),
        (status = 404, description = "No such webhook", body = ErrorBody),
    )
)]
#[get("/{id}")]
pub async fn get_webhook(
    state: web::Data<AppState>,
    user: RegularUser,
    id: web::Path<WebhookId>,
) -> Result<web::Json<Webhook>, ApiError> {
    let row = service::get(&state.db, user.id(), id.into_inner()).await?;
    Ok(web::Json(row.into()))
}

/// Changes a webhook's URL, events, description or whether it is enabled.
///
/// A new URL is checked as on creation. Events that happen while a webhook is disabled
/// are not sent to it, and its pending deliveries fail.
#[utoipa::path(
    operation_id = "updateWebhook",
    tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Webhook id")),
    request_body = UpdateWebhookRequest,
    responses(
        (status = 200, description = "Updated", body = Webhook),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrator account, or password change pending", body = ErrorBody),
        (status = 404, description = "No such webhook", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Target refused (`webhook_target_forbidden`) or invalid values (`validation_failed`)", body = ErrorBody),
    )
)]
#[patch("/{id}")]
pub async fn update_webhook(
    state: web::Data<AppState>,
    user: RegularUser,
    id: web::Path<WebhookId>,
    body: ApiJson<UpdateWebhookRequest>,
) -> Result<web::Json<Webhook>, ApiError> {
    let body = body.0;
    let changes = WebhookInput {
        url: body.url,
        events: body.events,
        description: body.description,
        enabled: body.enabled,
    };
    let row = service::update(
        &state.db,
        &state.settings.webhooks,
        user.id(),
        id.into_inner(),
        changes,
    )
    .await?;
    Ok(web::Json(row.into()))
}

/// Deletes a webhook; its pending deliveries are never sent.
#[utoipa::path(
    operation_id = "deleteWebhook",
    tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Webhook id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrator account, or password change pending", body = ErrorBody),
        (status = 404, description = "No such webhook", body = ErrorBody),
    )
)]
#[delete("/{id}")]
pub async fn delete_webhook(
    state: web::Data<AppState>,
    user: RegularUser,
    id: web::Path<WebhookId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    service::delete(&state.db, user.id(), id).await?;
    AuditEntry::new(
        AuditEvent::WebhookDeleted,
        Outcome::Success,
        Some(user.id().into()),
        Some(user.0.client.ip.as_str()),
    )
    .resource(id)
    .record(&state.db)
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The newest 50 deliveries of a webhook: status, attempts, the last answer.
#[utoipa::path(
    operation_id = "listWebhookDeliveries",
    tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Webhook id")),
    responses(
        (status = 200, description = "Deliveries, newest first", body = WebhookDeliveryList),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrator account, or password change pending", body = ErrorBody),
        (status = 404, description = "No such webhook", body = ErrorBody),
    )
)]
#[get("/{id}/deliveries")]
pub async fn list_deliveries(
    state: web::Data<AppState>,
    user: RegularUser,
    id: web::Path<WebhookId>,
) -> Result<web::Json<WebhookDeliveryList>, ApiError> {
    let rows = service::deliveries(&state.db, user.id(), id.into_inner()).await?;
    Ok(web::Json(WebhookDeliveryList {
        deliveries: rows.into_iter().map(WebhookDelivery::from).collect(),
    }))
}

/// Queues a `webhook.test` event for a webhook now (also when it is disabled).
///
/// Follow it in the deliveries log.
#[utoipa::path(
    operation_id = "testWebhook",
    tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Webhook id")),
    responses(
        (status = 202, description = "Queued; sent within a few seconds", body = WebhookDelivery),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrator account, or password change pending", body = ErrorBody),
        (status = 404, description = "No such webhook", body = ErrorBody),
    )
)]
#[post("/{id}/test")]
pub async fn test_webhook(
    state: web::Data<AppState>,
    user: RegularUser,
    id: web::Path<WebhookId>,
) -> Result<HttpResponse, ApiError> {
    let delivery = service::send_test(&state.db, user.id(), id.into_inner()).await?;
    Ok(HttpResponse::Accepted().json(WebhookDelivery::from(delivery)))
}

/// Registers the `/webhooks` routes (inside the `/api` scope).
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(
        regular_scope("/webhooks")
            .service(list_webhooks)
            .service(create_webhook)
            .service(get_webhook)
            .service(update_webhook)
            .service(delete_webhook)
            .service(list_deliveries)
            .service(test_webhook),
    );
}
