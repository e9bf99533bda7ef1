//! OCR around the pipeline: the OCR options of a document (its owner's languages or the
//! server default, the budgets of `ocr.*`) and, at start, processing again the scans that
//! waited for OCR (`ocr_unavailable`) once this instance has it.

use sea_orm::{EntityTrait, QuerySelect};
use uuid::Uuid;

use crate::documents::lifecycle;
use crate::entities::{StatusReason, users};
use crate::extract::OcrOptions;
use crate::state::AppState;

/// The OCR options for a document of `owner`: the owner's `ocr_languages` when set and
/// installed, else the server default.
pub async fn ocr_options(state: &AppState, owner: Uuid) -> Result<OcrOptions, sea_orm::DbErr> {
    let choice: Option<Option<String>> = users::Entity::find_by_id(owner)
        .select_only()
        .column(users::Column::OcrLanguages)
        .into_tuple()
        .one(&state.db)
        .await?;
    Ok(state.ocr.options_for(choice.flatten().as_deref()))
}

/// At start: when OCR is available here, every document parked as `ocr_unavailable`
/// goes back to the queue. Returns how many; failures are logged, never fatal.
pub async fn requeue_waiting_scans(state: &AppState) -> usize {
    if !state.ocr.available() {
        return 0;
    }
    let lease = crate::time::now()
        + chrono::Duration::seconds(
            i64::try_from(state.settings.jobs.lease_secs).unwrap_or(i64::MAX / 1000),
        );
    match lifecycle::requeue_waiting_for(&state.db, StatusReason::OcrUnavailable, lease).await {
        Ok(moved) => {
            for (id, owner) in &moved {
                lifecycle::dispatch(state.queue.as_ref(), *id, *owner).await;
            }
            if !moved.is_empty() {
                tracing::info!(
                    documents = moved.len(),
                    "OCR is available: scans that waited for it are queued again"
                );
            }
            moved.len()
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not queue the scans waiting for OCR");
            0
        }
    }
}
