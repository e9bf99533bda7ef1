//! Processing one document: claim → extract (sandboxed child) → classify → store.
//!
//! The row is the truth. A worker *claims* a document with one conditional `UPDATE`
//! (`queued → processing`, `attempts + 1`, a lease); every later write is conditional on
//! still holding that claim (`status = 'processing' AND attempts = <ours>`), so a worker
//! that lost its lease (and was re-dispatched elsewhere) can never overwrite newer work,
//! and running a job twice is harmless. The status changes are the transitions of
//! [`crate::documents::lifecycle`]; this module decides which one to take.
//! Classification results replace the document's `ai` topic links and never touch the
//! links the user set by hand, nor file a topic the owner rejected for the document
//! (`classify::feedback::apply_outcome`).

use std::time::Duration;

use rand::RngExt;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QuerySelect,
};
use uuid::Uuid;

use crate::classify::{ClassifyError, Outcome};
use crate::documents::lifecycle::{self, claim_held};
use crate::domain::ObjectKey;
use crate::entities::{DocumentStatus, StatusReason, document_topics, documents, users};
use crate::extract::sandbox::SandboxLimits;
use crate::state::AppState;

/// What happened to a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobResult {
    /// Another worker holds the document, or it is no longer waiting (deleted, done).
    Skipped,
    /// The document reached `classified` or `unclassified`.
    Done(DocumentStatus),
    /// The document is `failed` with this reason.
    Failed(String),
    /// A transient failure; the document waits in `queued` until the retry time.
    Retrying(String),
}

fn secs(n: u64) -> chrono::Duration {
    chrono::Duration::seconds(i64::try_from(n).unwrap_or(i64::MAX / 1000))
}

/// The sandbox limits the settings describe.
pub fn sandbox_limits(state: &AppState) -> SandboxLimits {
    let x = &state.settings.extract;
    SandboxLimits {
        memory_bytes: x.memory_mb.saturating_mul(1024 * 1024),
        cpu_secs: x.cpu_secs,
        wall: Duration::from_secs(x.timeout_secs),
        max_chars: x.max_chars,
        fault: None,
    }
}

/// Claims `id` for processing ([`lifecycle::claim`] with the lease and attempt limit of
/// the settings). Returns the claimed row (with the new attempt number).
pub async fn claim(state: &AppState, id: Uuid) -> Result<Option<documents::Model>, sea_orm::DbErr> {
    let now = crate::time::now();
    let jobs = &state.settings.jobs;
    let max_attempts = i32::try_from(jobs.max_attempts).unwrap_or(i32::MAX);
    lifecycle::claim(
        &state.db,
        id,
        now,
        now + secs(jobs.lease_secs),
        max_attempts,
    )
    .await
}

/// Pushes the lease of a claimed document forward; false when the claim was lost.
pub async fn renew_lease(state: &AppState, doc: &documents::Model) -> Result<bool, sea_orm::DbErr> {
    let until = crate::time::now() + secs(state.settings.jobs.lease_secs);
    lifecycle::renew_lease(&state.db, doc, until).await
}

/// Marks a claimed document `failed` with `reason` (nothing when the claim was lost).
async fn fail(
    db: &impl ConnectionTrait,
    doc: &documents::Model,
    reason: &str,
) -> Result<(), sea_orm::DbErr> {
    lifecycle::fail(db, doc, reason).await?;
    Ok(())
}

/// Delay before retry number `attempt` (1-based): base × 2^(attempt−1) plus up to 50 %.
pub fn backoff(base_secs: u64, attempt: u32) -> Duration {
    let base =
        Duration::from_secs(base_secs).saturating_mul(1 << Ord::min(attempt.saturating_sub(1), 16));
    let jitter = rand::rng().random_range(0.0..0.5);
    base + base.mul_f64(jitter)
}

/// Puts a claimed document back in `queued`, to be dispatched again after `delay`.
async fn retry_later(
    db: &impl ConnectionTrait,
    doc: &documents::Model,
    reason: &str,
    delay: Duration,
) -> Result<(), sea_orm::DbErr> {
    let at = crate::time::now()
        + chrono::Duration::from_std(delay).unwrap_or_else(|_| chrono::Duration::hours(1));
    lifecycle::retry_later(db, doc, reason, at).await?;
    Ok(())
}

/// Runs extraction in the sandbox child, OCR'ing scans with the owner's languages and
/// recording which page it reads (`jobs::scans::extract_with_progress`).
async fn extract(
    state: &AppState,
    doc: &documents::Model,
    bytes: &[u8],
    ocr: &crate::extract::OcrOptions,
) -> Result<crate::extract::Extracted, crate::extract::ExtractError> {
    use crate::extract::ExtractError;
    let limits = sandbox_limits(state);
    let exe = match state.settings.extract.executable.as_str() {
        "" => std::env::current_exe().map_err(|e| {
            ExtractError::Failed(format!("cannot locate the executable for extraction: {e}"))
        })?,
        exe => std::path::PathBuf::from(exe),
    };
    crate::jobs::scans::extract_with_progress(&state.db, doc, &exe, bytes, &limits, ocr).await
}

/// Processes one document end to end. Errors are infrastructure failures (database or
/// storage unreachable): the claim is left to lapse and the sweeper dispatches again.
pub async fn process(state: &AppState, id: Uuid) -> anyhow::Result<JobResult> {
    let Some(doc) = claim(state, id).await? else {
        return Ok(JobResult::Skipped);
    };
    let stop = tokio_util::sync::CancellationToken::new();
    let heartbeat = {
        let state = state.clone();
        let doc = doc.clone();
        let stop = stop.clone();
        let every = Duration::from_secs(state.settings.jobs.lease_secs).div_f64(3.0);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tokio::select! {
                    () = stop.cancelled() => break,
                    _ = tick.tick() => {
                        match renew_lease(&state, &doc).await {
                            Ok(true) => {}
                            Ok(false) => break,
                            Err(e) => tracing::warn!(error = %e, document = %doc.id, "lease renewal failed"),
                        }
                    }
                }
            }
        })
    };
    let result = run_claimed(state, &doc).await;
    stop.cancel();
    let _ = heartbeat.await;
    if let Some(event) = webhook_event(&result) {
        crate::webhooks::document_event(&state.db, doc.user_id, doc.id, event).await;
    }
    result
}

/// The webhook event a run ends in: `document.processed` when it reached a finished
/// status (parked scans included), `document.failed` when it failed for good.
fn webhook_event(result: &anyhow::Result<JobResult>) -> Option<crate::webhooks::WebhookEvent> {
    match result {
        Ok(JobResult::Done(_)) => Some(crate::webhooks::WebhookEvent::DocumentProcessed),
        Ok(JobResult::Failed(_)) => Some(crate::webhooks::WebhookEvent::DocumentFailed),
        Ok(JobResult::Retrying(_) | JobResult::Skipped) | Err(_) => None,
    }
}

async fn run_claimed(state: &AppState, doc: &documents::Model) -> anyhow::Result<JobResult> {
    // The owner's settings (OCR languages, AI provider and key) decide the whole run.
    let Some(owner) = users::Entity::find_by_id(doc.user_id)
        .one(&state.db)
        .await?
    else {
        let reason = "The document's owner no longer exists".to_owned();
        fail(&state.db, doc, &reason).await?;
        return Ok(JobResult::Failed(reason));
    };
    let date_order = state.settings.documents.date_order;
    // Text from an earlier run of the same bytes is reused (re-classification).
    let stored = match &doc.sha256 {
        Some(_) => crate::documents::texts::get(&state.db, doc.id).await?,
        None => None,
    };
    let text = match stored {
        Some(stored) => {
            // The thumbnail is made again when it is missing.
            crate::jobs::thumbnails::ensure(state, doc).await;
            stored.body
        }
        _ => {
            let key = ObjectKey::parse(&doc.object_key)
                .map_err(|e| anyhow::anyhow!("stored object key is invalid: {e}"))?;
            let Some(bytes) = state.storage.get(&key).await? else {
                let reason = "The stored file is missing".to_owned();
                fail(&state.db, doc, &reason).await?;
                return Ok(JobResult::Failed(reason));
            };
            // The thumbnail first, in a sandbox run of its own: it shows within a second,
            // whatever reading the text takes, and neither can cost the other.
            crate::jobs::thumbnails::make(state, &doc.into(), &bytes).await;
            let mut ocr = crate::jobs::scans::ocr_options(state, &owner);
            // Opt-in: pages Tesseract reads poorly go to the owner's AI model.
            let fallback = crate::jobs::vision::prepare(state, &owner, doc, &mut ocr);
            match extract(state, doc, &bytes, &ocr).await {
                Ok(extracted) => {
                    drop(bytes);
                    let max_chars = state.settings.extract.max_chars;
                    let extracted =
                        crate::jobs::vision::apply(fallback, doc, max_chars, extracted).await;
                    // Where each page's text came from (OCR provenance); null otherwise.
                    let pages = (!extracted.pages.is_empty())
                        .then(|| serde_json::to_value(&extracted.pages).ok())
                        .flatten();
                    // One transaction: a new version made current meanwhile takes the
                    // claim and clears the text, and this run's text never lands on it.
                    let txn = crate::db::begin_write(&state.db).await?;
                    let held = documents::Entity::update_many()
                        .col_expr(
                            documents::Column::PageCount,
                            Expr::value(extracted.page_count.and_then(|n| i32::try_from(n).ok())),
                        )
                        .col_expr(documents::Column::Sha256, Expr::value(extracted.sha256_hex))
                        .col_expr(
                            documents::Column::UpdatedAt,
                            Expr::value(crate::time::now()),
                        )
                        .filter(claim_held(doc))
                        .exec(&txn)
                        .await?
                        .rows_affected
                        == 1;
                    if held {
                        crate::documents::texts::store(&txn, doc.id, extracted.text.clone(), pages)
                            .await?;
                    }
                    txn.commit().await?;
                    if held {
                        // The owner's search vocabulary (suggestions) learns the new words.
                        if let Err(e) = crate::documents::search::vocabulary::record(
                            &state.db,
                            doc.user_id.into(),
                            &doc.filename,
                            &extracted.text,
                        )
                        .await
                        {
                            tracing::warn!(error = %e, document = %doc.id, "search vocabulary not updated");
                        }
                    }
                    extracted.text
                }
                Err(e @ crate::extract::ExtractError::OcrUnavailable(_)) => {
                    // Not the file's fault: it waits, unclassified, until OCR is available
                    // (dated by its file name meanwhile, if that has a date).
                    crate::documents::dates::record_derived(&state.db, doc, "", date_order).await?;
                    let reason = e.to_string();
                    let parked =
                        lifecycle::park(&state.db, doc, StatusReason::OcrUnavailable, &reason)
                            .await?;
                    return Ok(if parked {
                        JobResult::Done(DocumentStatus::Unclassified)
                    } else {
                        JobResult::Skipped
                    });
                }
                Err(e) => {
                    let reason = format!("Text extraction failed: {e}");
                    fail(&state.db, doc, &reason).await?;
                    return Ok(JobResult::Failed(reason));
                }
            }
        }
    };
    // The document's own date, from the text and the file name (unless the user set it):
    // on the first run and on every re-classify.
    crate::documents::dates::record_derived(&state.db, doc, &text, date_order).await?;
    match crate::classify::classify_document(state, &owner, doc, &text).await {
        Ok(outcome) => match store_outcome(&state.db, doc, &outcome).await? {
            Some(status) => Ok(JobResult::Done(status)),
            // The claim was lost meanwhile: the newer run decides.
            None => Ok(JobResult::Skipped),
        },
        Err(ClassifyError::Permanent(e)) => {
            let reason = format!("Classification failed: {e}");
            fail(&state.db, doc, &reason).await?;
            Ok(JobResult::Failed(reason))
        }
        Err(ClassifyError::Transient(e)) => {
            let attempts = u32::try_from(doc.attempts).unwrap_or(u32::MAX);
            if attempts >= state.settings.jobs.max_attempts {
                let reason = format!("Classification failed after {attempts} attempts: {e}");
                fail(&state.db, doc, &reason).await?;
                Ok(JobResult::Failed(reason))
            } else {
                let reason = format!("Classification will be retried: {e}");
                let delay = backoff(state.settings.jobs.retry_base_delay_secs, attempts);
                retry_later(&state.db, doc, &reason, delay).await?;
                Ok(JobResult::Retrying(reason))
            }
        }
    }
}

/// Writes a classification result in one transaction, conditional on the claim: the
/// status reached, or `None` when the claim was lost. The steps: check the claim, apply
/// the outcome's topics (`classify::feedback::apply_outcome`: automatic links replaced,
/// never a topic the owner rejected, the doubtful ones as suggestions), finish.
async fn store_outcome(
    db: &DatabaseConnection,
    doc: &documents::Model,
    outcome: &Outcome,
) -> Result<Option<DocumentStatus>, sea_orm::DbErr> {
    let txn = crate::db::begin_write(db).await?;
    if !claim_still_held(&txn, doc).await? {
        txn.rollback().await?;
        return Ok(None);
    }
    crate::classify::feedback::apply_outcome(&txn, doc.id, doc.user_id, outcome).await?;
    let has_topics = has_any_topic(&txn, doc.id).await?;
    let Some(status) = lifecycle::finish(&txn, doc, has_topics, outcome.classified_by()).await?
    else {
        txn.rollback().await?;
        return Ok(None);
    };
    txn.commit().await?;
    Ok(Some(status))
}

/// Whether the claim `doc` was read with still stands (read inside the transaction).
async fn claim_still_held(
    db: &impl ConnectionTrait,
    doc: &documents::Model,
) -> Result<bool, sea_orm::DbErr> {
    let held = documents::Entity::find()
        .select_only()
        .column(documents::Column::Id)
        .filter(claim_held(doc))
        .into_tuple::<Uuid>()
        .one(db)
        .await?;
    Ok(held.is_some())
}

/// Whether the document is filed under any topic (by the classifier or by hand).
async fn has_any_topic(db: &impl ConnectionTrait, document: Uuid) -> Result<bool, sea_orm::DbErr> {
    let linked = document_topics::Entity::find()
        .filter(document_topics::Column::DocumentId.eq(document))
        .count(db)
        .await?;
    Ok(linked > 0)
}
