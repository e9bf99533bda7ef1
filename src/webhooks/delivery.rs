//! The delivery task: sends due deliveries, signed as Standard Webhooks describes, and
//! keeps every bit of retry state in `webhook_deliveries`, so a restart (or another
//! instance) carries on where this one stopped.
//!
//! - Each pass reads due rows (`status = pending`, `next_attempt_at <= now`, index
//!   `(status, next_attempt_at)`) and claims each with one conditional `UPDATE` that
//!   counts the attempt and moves `next_attempt_at` to a lease; the instance whose
//!   statement matched sends it, the others skip it. A sender that dies leaves the row
//!   pending; it is due again when the lease lapses.
//! - Each attempt checks the target again ([`super::target`]) and connects only to the
//!   addresses it checked (a resolver that answers with exactly those), with no proxy, no
//!   redirects and `webhooks.timeout_secs`.
//! - Headers: `webhook-id` (the delivery id, the same on every attempt),
//!   `webhook-timestamp` (Unix seconds), `webhook-signature: v1,<base64 HMAC-SHA256 of
//!   "{id}.{timestamp}.{body}">` keyed by the base64-decoded part of the `whsec_` secret.
//! - 2xx: `delivered`. Anything else: tried again after `retry_base_secs × 4^(n−1)` (at
//!   most 6 hours) until `webhooks.max_attempts`, then `failed`. A refused target fails at
//!   once with the reason.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use sha2::Sha256;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::entities::webhook_deliveries::{self, DeliveryStatus};
use crate::entities::webhooks;
use crate::state::AppState;
use crate::webhooks::service::{WebhookEvent, secret_aad, secret_key_bytes};
use crate::webhooks::target::{self, Refusal};

/// How often the task looks for due deliveries.
const POLL: Duration = Duration::from_secs(1);
/// Deliveries claimed per pass (sent at once).
const BATCH: u64 = 20;
/// Longest wait between two attempts.
const MAX_DELAY_SECS: i64 = 6 * 3600;
/// Longest error text stored.
const ERROR_MAX_CHARS: usize = 500;
/// Finished deliveries are kept this long.
const KEEP_DAYS: i64 = 30;
/// Passes between two prunes of old finished deliveries (about an hour).
const PRUNE_EVERY: u32 = 3600;

/// Spawns the delivery task onto `tasks` (with the job workers: `serve` unless
/// `--no-workers`, and `docuvault worker`).
pub fn spawn(state: &AppState, shutdown: &CancellationToken, tasks: &mut JoinSet<()>) {
    tasks.spawn(run(state.clone(), shutdown.clone()));
}

async fn run(state: AppState, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut passes: u32 = 0;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        // A pass in flight finishes (bounded by the timeout); its claims protect it anyway.
        if let Err(e) = pass(&state).await {
            tracing::warn!(error = %e, "webhook delivery pass failed");
        }
        passes = passes.wrapping_add(1);
        if passes.is_multiple_of(PRUNE_EVERY)
            && let Err(e) = prune(&state).await
        {
            tracing::warn!(error = %e, "pruning webhook deliveries failed");
        }
    }
}

/// One pass: claims up to [`BATCH`] due deliveries and sends them concurrently; how
/// many were sent (attempted).
pub async fn pass(state: &AppState) -> Result<usize, DbErr> {
    let now = crate::time::now();
    let due = webhook_deliveries::Entity::find()
        .filter(webhook_deliveries::Column::Status.eq(DeliveryStatus::Pending))
        .filter(webhook_deliveries::Column::NextAttemptAt.lte(now))
        .order_by_asc(webhook_deliveries::Column::NextAttemptAt)
        .limit(BATCH)
        .all(&state.db)
        .await?;
    let settings = &state.settings.webhooks;
    let lease = chrono::Duration::seconds(i64::try_from(settings.timeout_secs).unwrap_or(300) + 30);
    let max = i32::try_from(settings.max_attempts).unwrap_or(i32::MAX);
    let mut sending = JoinSet::new();
    for d in due {
        if d.attempts >= max {
            // Its last attempt was interrupted (the sender stopped).
            let error = d
                .error
                .clone()
                .unwrap_or_else(|| "The last attempt was interrupted".into());
            finish(state, &d, d.attempts, Outcome::failed(error)).await?;
            continue;
        }
        let claimed = webhook_deliveries::Entity::update_many()
            .col_expr(
                webhook_deliveries::Column::NextAttemptAt,
                Expr::value(Some(now + lease)),
            )
            .col_expr(
                webhook_deliveries::Column::Attempts,
                Expr::value(d.attempts + 1),
            )
            .col_expr(
                webhook_deliveries::Column::LastAttemptAt,
                Expr::value(Some(now)),
            )
            .filter(webhook_deliveries::Column::Id.eq(d.id))
            .filter(webhook_deliveries::Column::Status.eq(DeliveryStatus::Pending))
            .filter(webhook_deliveries::Column::Attempts.eq(d.attempts))
            .filter(webhook_deliveries::Column::NextAttemptAt.lte(now))
            .exec(&state.db)
            .await?
            .rows_affected
            == 1;
        if claimed {
            let state = state.clone();
            sending.spawn(async move {
                let attempt = d.attempts + 1;
                let outcome = attempt_delivery(&state, &d).await;
                if let Err(e) = finish(&state, &d, attempt, outcome).await {
                    tracing::warn!(error = %e, delivery = %d.id, "could not record a webhook delivery");
                }
            });
        }
    }
    let mut sent = 0;
    while sending.join_next().await.is_some() {
        sent += 1;
    }
    Ok(sent)
}

/// What one attempt came to.
#[derive(Debug)]
struct Outcome {
    /// Delivered (2xx).
    delivered: bool,
    /// Not worth trying again (refused target, unreadable secret, disabled webhook).
    permanent: bool,
    response_status: Option<i32>,
    latency_ms: Option<i64>,
    error: Option<String>,
}

impl Outcome {
    fn failed(error: impl Into<String>) -> Self {
        Self {
            delivered: false,
            permanent: true,
            response_status: None,
            latency_ms: None,
            error: Some(error.into()),
        }
    }

    fn retry(error: impl Into<String>, latency_ms: Option<i64>) -> Self {
        Self {
            delivered: false,
            permanent: false,
            response_status: None,
            latency_ms,
            error: Some(error.into()),
        }
    }
}

/// The delay before attempt `attempts + 1`, after `attempts` failed ones.
pub fn retry_delay(base_secs: u64, attempts: i32) -> chrono::Duration {
    let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 16)).unwrap_or(16);
    let base = i64::try_from(base_secs).unwrap_or(MAX_DELAY_SECS);
    let secs = base
        .saturating_mul(4_i64.saturating_pow(exp))
        .min(MAX_DELAY_SECS);
    chrono::Duration::seconds(secs)
}

/// Records the outcome of attempt number `attempt`, while the claim still stands.
async fn finish(
    state: &AppState,
    d: &webhook_deliveries::Model,
    attempt: i32,
    outcome: Outcome,
) -> Result<(), DbErr> {
    let settings = &state.settings.webhooks;
    let max = i32::try_from(settings.max_attempts).unwrap_or(i32::MAX);
    let now = crate::time::now();
    let (status, next): (DeliveryStatus, Option<DateTime<Utc>>) = if outcome.delivered {
        (DeliveryStatus::Delivered, None)
    } else if outcome.permanent || attempt >= max {
        (DeliveryStatus::Failed, None)
    } else {
        (
            DeliveryStatus::Pending,
            Some(now + retry_delay(settings.retry_base_secs, attempt)),
        )
    };
    let error = outcome
        .error
        .map(|e| e.chars().take(ERROR_MAX_CHARS).collect::<String>());
    webhook_deliveries::Entity::update_many()
        .col_expr(webhook_deliveries::Column::Status, Expr::value(status))
        .col_expr(webhook_deliveries::Column::NextAttemptAt, Expr::value(next))
        .col_expr(
            webhook_deliveries::Column::ResponseStatus,
            Expr::value(outcome.response_status),
        )
        .col_expr(
            webhook_deliveries::Column::LatencyMs,
            Expr::value(outcome.latency_ms),
        )
        .col_expr(webhook_deliveries::Column::Error, Expr::value(error))
        .filter(webhook_deliveries::Column::Id.eq(d.id))
        .filter(webhook_deliveries::Column::Status.eq(DeliveryStatus::Pending))
        .filter(webhook_deliveries::Column::Attempts.eq(attempt))
        .exec(&state.db)
        .await?;
    Ok(())
}

/// Deletes finished deliveries older than [`KEEP_DAYS`].
async fn prune(state: &AppState) -> Result<u64, DbErr> {
    let cutoff = crate::time::now() - chrono::Duration::days(KEEP_DAYS);
    Ok(webhook_deliveries::Entity::delete_many()
        .filter(webhook_deliveries::Column::Status.ne(DeliveryStatus::Pending))
        .filter(webhook_deliveries::Column::CreatedAt.lt(cutoff))
        .exec(&state.db)
        .await?
        .rows_affected)
}

/// `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.
pub fn signature(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// A resolver that answers every name with the addresses already checked.
struct Pinned(Vec<SocketAddr>);

impl reqwest::dns::Resolve for Pinned {
    fn resolve(&self, _name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let addrs = self.0.clone();
        Box::pin(async move { Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs) })
    }
}

/// An error and its causes on one line.
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

/// Sends delivery `d` once.
async fn attempt_delivery(state: &AppState, d: &webhook_deliveries::Model) -> Outcome {
    let webhook = match webhooks::Entity::find_by_id(d.webhook_id)
        .one(&state.db)
        .await
    {
        Ok(Some(w)) => w,
        Ok(None) => return Outcome::failed("The webhook was deleted"),
        Err(e) => return Outcome::retry(format!("Database unavailable: {e}"), None),
    };
    if !webhook.enabled && d.event != WebhookEvent::WebhookTest.as_str() {
        return Outcome::failed("The webhook is disabled");
    }
    let Some(key) = state
        .keys
        .decrypt(&webhook.secret, &secret_aad(webhook.id))
        .ok()
        .and_then(|s| String::from_utf8(s).ok())
        .and_then(|s| secret_key_bytes(&s))
    else {
        return Outcome::failed(
            "The signing secret cannot be opened with this server's key; create the webhook again",
        );
    };
    let settings = &state.settings.webhooks;
    let target = match target::check_url(&webhook.url, settings) {
        Ok(t) => t,
        Err(r) => return Outcome::failed(format!("Target refused: {r}")),
    };
    let addrs = match target::resolve(&target).await {
        Ok(a) => a,
        Err(r @ Refusal::Unresolved { .. }) => return Outcome::retry(r.to_string(), None),
        Err(r) => return Outcome::failed(format!("Target refused: {r}")),
    };
    let client = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(settings.timeout_secs))
        .user_agent(concat!("DocuVault-Webhooks/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(Arc::new(Pinned(addrs)))
        .build()
    {
        Ok(c) => c,
        Err(e) => return Outcome::retry(format!("HTTP client: {e}"), None),
    };
    let timestamp = Utc::now().timestamp();
    let started = Instant::now();
    let sent = client
        .post(target.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("webhook-id", d.id.to_string())
        .header("webhook-timestamp", timestamp.to_string())
        .header(
            "webhook-signature",
            signature(&key, &d.id.to_string(), timestamp, &d.payload),
        )
        .body(d.payload.clone())
        .send()
        .await;
    let latency = i64::try_from(started.elapsed().as_millis()).ok();
    match sent {
        Ok(res) => {
            let status = res.status();
            // The body is not needed; dropping the response closes the connection.
            drop(res);
            if status.is_success() {
                Outcome {
                    delivered: true,
                    permanent: false,
                    response_status: Some(i32::from(status.as_u16())),
                    latency_ms: latency,
                    error: None,
                }
            } else {
                Outcome {
                    response_status: Some(i32::from(status.as_u16())),
                    ..Outcome::retry(format!("The endpoint answered {status}"), latency)
                }
            }
        }
        Err(e) if e.is_timeout() => Outcome::retry(
            format!("No answer within {} s", settings.timeout_secs),
            latency,
        ),
        Err(e) => Outcome::retry(describe(&e), latency),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn retries_wait_four_times_longer_each_time_up_to_six_hours() {
        let secs = |n| retry_delay(5, n).num_seconds();
        assert_eq!([secs(1), secs(2), secs(3), secs(4)], [5, 20, 80, 320]);
        assert_eq!(secs(12), 6 * 3600);
        assert_eq!(secs(i32::MAX), 6 * 3600);
        assert_eq!(retry_delay(0, 3).num_seconds(), 0);
    }

    #[test]
    fn signature_follows_standard_webhooks() {
        // The example of the Standard Webhooks specification.
        let key = secret_key_bytes("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = signature(
            &key,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}
