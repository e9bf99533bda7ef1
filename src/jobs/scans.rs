//! OCR around the pipeline: the OCR options of a document (its owner's languages or the
//! server default, the budgets of `ocr.*`), the document's progress while its pages are
//! read ("page 3 of 12", `documents.progress_page`/`progress_pages`) and, at start,
//! processing again the scans that waited for OCR (`ocr_unavailable`) once this instance
//! has it.

use std::time::Duration;

use sea_orm::sea_query::Expr;
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::documents::lifecycle::{self, claim_held};
use crate::entities::{StatusReason, documents, users};
use crate::extract::sandbox::{PageProgress, SandboxLimits, extract_in_child_reporting};
use crate::extract::{ExtractError, Extracted, OcrOptions};
use crate::state::AppState;

/// The least time between two progress writes of one document.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// The OCR options for a document of `owner`: the owner's `ocr_languages` when set and
/// installed, else the server default.
pub fn ocr_options(state: &AppState, owner: &users::Model) -> OcrOptions {
    state.ocr.options_for(owner.ocr_languages.as_deref())
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

/// Extracts `bytes` of the claimed `doc` in the sandbox child (OCR with `ocr`), recording
/// on the document which page the child is reading while it runs ([`record_progress`]).
pub async fn extract_with_progress(
    db: &sea_orm::DatabaseConnection,
    doc: &documents::Model,
    exe: &std::path::Path,
    bytes: &[u8],
    limits: &SandboxLimits,
    ocr: &OcrOptions,
) -> Result<Extracted, ExtractError> {
    let (pages, seen) = watch::channel(None);
    let stop = tokio_util::sync::CancellationToken::new();
    let recorder = record_progress(db, doc, seen, stop.clone());
    let extraction = async {
        let result = extract_in_child_reporting(
            exe,
            &doc.content_type,
            bytes,
            limits,
            Some(ocr),
            Some(&pages),
        )
        .await;
        stop.cancel();
        result
    };
    let ((), result) = tokio::join!(recorder, extraction);
    result
}

/// Writes the pages `seen` to the claimed `doc` (`progress_page`, `progress_pages`) until
/// `stop`: at most one write per page and per [`PROGRESS_EVERY`] (a page read faster is
/// skipped, the latest one is written), each conditional on the claim. A failed write is
/// logged: progress is a courtesy, never a reason to stop processing.
async fn record_progress(
    db: &impl ConnectionTrait,
    doc: &documents::Model,
    mut seen: watch::Receiver<Option<PageProgress>>,
    stop: tokio_util::sync::CancellationToken,
) {
    let mut throttle = ProgressThrottle::default();
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            changed = seen.changed() => if changed.is_err() { return },
        }
        if let Some(wait) = throttle.wait_until() {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep_until(wait) => {}
            }
        }
        let Some(page) = *seen.borrow_and_update() else {
            continue;
        };
        if !throttle.due(page, Instant::now()) {
            continue;
        }
        let to_i32 = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
        let written = documents::Entity::update_many()
            .col_expr(
                documents::Column::ProgressPage,
                Expr::value(to_i32(page.page)),
            )
            .col_expr(
                documents::Column::ProgressPages,
                Expr::value(to_i32(page.pages)),
            )
            .filter(claim_held(doc))
            .exec(db)
            .await;
        if let Err(e) = written {
            tracing::warn!(error = %e, document = %doc.id, "could not record the reading progress");
        }
    }
}

/// When progress may be written: not the same page twice, and not twice within
/// [`PROGRESS_EVERY`].
#[derive(Debug, Default)]
pub(crate) struct ProgressThrottle {
    last: Option<(PageProgress, Instant)>,
}

impl ProgressThrottle {
    /// Until when a write must wait, if one was made recently.
    pub(crate) fn wait_until(&self) -> Option<Instant> {
        self.last.map(|(_, at)| at + PROGRESS_EVERY)
    }

    /// Whether `page` is to be written `now` (and if so, remembers it).
    pub(crate) fn due(&mut self, page: PageProgress, now: Instant) -> bool {
        let due = match self.last {
            None => true,
            Some((last, at)) => last != page && now >= at + PROGRESS_EVERY,
        };
        if due {
            self.last = Some((page, now));
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(page: u32) -> PageProgress {
        PageProgress { page, pages: 12 }
    }

    #[test]
    fn progress_is_written_once_per_page_and_at_most_once_a_second() {
        let start = Instant::now();
        let mut throttle = ProgressThrottle::default();
        assert_eq!(throttle.wait_until(), None);
        assert!(throttle.due(page(1), start), "the first page at once");
        assert_eq!(throttle.wait_until(), Some(start + PROGRESS_EVERY));
        assert!(
            !throttle.due(page(2), start + Duration::from_millis(300)),
            "too soon"
        );
        assert!(
            !throttle.due(page(1), start + Duration::from_secs(5)),
            "same page"
        );
        assert!(throttle.due(page(3), start + PROGRESS_EVERY));
        assert!(!throttle.due(page(3), start + Duration::from_secs(9)));
        assert!(throttle.due(page(4), start + Duration::from_secs(9)));
    }
}
