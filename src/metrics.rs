//! Prometheus metrics: request latency by route, processing outcomes, queue depth,
//! documents by status and log lines dropped.
//!
//! The registry only; `GET /metrics` is served by `health.rs` (on the main listener for
//! administrators only, or, when `metrics.listen` is set, without authentication on that
//! separate address only).

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::entities::{DocumentStatus, documents};
use crate::queue::Queue;

/// Labels of one HTTP latency series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    /// The matched route pattern (`/api/documents/{id}`), never the raw path.
    route: String,
    /// Status class: `2xx`, `4xx`, …
    status: String,
}

/// Labels of a processing outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    outcome: String,
}

/// Labels of the documents-by-status gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

/// Labels of a scheduled job's tick.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TickLabels {
    job: String,
    outcome: String,
}

fn latency_histogram() -> Histogram {
    // 1 ms … ~16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// The process's metrics.
pub struct Metrics {
    registry: Registry,
    http: Family<HttpLabels, Histogram, fn() -> Histogram>,
    jobs: Family<JobLabels, Counter>,
    queue_depth: Gauge<i64, std::sync::atomic::AtomicI64>,
    documents: Family<StatusLabels, Gauge<i64, std::sync::atomic::AtomicI64>>,
    scrape_errors: Counter<u64, AtomicU64>,
    scheduled_ticks: Family<TickLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// An empty registry with every metric registered.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("docuvault");
        let http = Family::<HttpLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by method, route pattern and status class",
            http.clone(),
        );
        let jobs = Family::<JobLabels, Counter>::default();
        registry.register(
            "jobs",
            "Document processing runs by outcome (classified, unclassified, failed, retried, skipped)",
            jobs.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register(
            "queue_depth",
            "Jobs waiting in the queue",
            queue_depth.clone(),
        );
        let documents = Family::<StatusLabels, Gauge<i64, std::sync::atomic::AtomicI64>>::default();
        registry.register(
            "documents",
            "Documents by status (all users)",
            documents.clone(),
        );
        let scrape_errors = Counter::default();
        registry.register(
            "scrape_errors",
            "Scrapes that could not read the queue or the database",
            scrape_errors.clone(),
        );
        registry.register(
            "log_lines_dropped",
            "Log lines lost because the log sink was slow, blocked or refused the write (disk full)",
            crate::telemetry::dropped_lines_counter(),
        );
        let scheduled_ticks = Family::<TickLabels, Counter>::default();
        registry.register(
            "scheduled_ticks",
            "Scheduled job ticks seen by this instance, by job and outcome (ran, failed, interrupted, locked, claimed_elsewhere, overlapping, claim_failed)",
            scheduled_ticks.clone(),
        );
        Self {
            registry,
            http,
            jobs,
            queue_depth,
            documents,
            scrape_errors,
            scheduled_ticks,
        }
    }

    /// Records one finished HTTP request.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.http
            .get_or_create(&HttpLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status: format!("{}xx", status / 100),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Counts one processing run with its outcome.
    pub fn job(&self, outcome: &str) {
        self.jobs
            .get_or_create(&JobLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// Counts one tick of scheduled job `job` with what this instance did on it.
    pub fn scheduled_tick(&self, job: &str, outcome: &str) {
        self.scheduled_ticks
            .get_or_create(&TickLabels {
                job: job.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// Refreshes the gauges from `queue` and `db` and renders everything in the
    /// Prometheus text format.
    pub async fn render(&self, queue: &dyn Queue, db: &impl ConnectionTrait) -> String {
        match queue.depth().await {
            Ok(depth) => {
                self.queue_depth
                    .set(i64::try_from(depth).unwrap_or(i64::MAX));
            }
            Err(_) => {
                self.scrape_errors.inc();
            }
        }
        match status_counts(db, None).await {
            Ok(counts) => {
                self.documents.clear();
                for (status, n) in counts {
                    self.documents
                        .get_or_create(&StatusLabels {
                            status: status.as_str().to_owned(),
                        })
                        .set(n);
                }
            }
            Err(_) => {
                self.scrape_errors.inc();
            }
        }
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// Documents per status, from the database (the source of truth): every status, or only
/// `only` (read off the status index alone, so its cost follows those documents, not
/// the size of the vault).
pub async fn status_counts(
    db: &impl ConnectionTrait,
    only: Option<&[DocumentStatus]>,
) -> Result<Vec<(DocumentStatus, i64)>, sea_orm::DbErr> {
    let mut find = documents::Entity::find();
    if let Some(statuses) = only {
        find = find.filter(documents::Column::Status.is_in(statuses.iter().copied()));
    }
    find.select_only()
        .column(documents::Column::Status)
        .column_as(Expr::col(documents::Column::Id).count(), "n")
        .group_by(documents::Column::Status)
        .into_tuple::<(DocumentStatus, i64)>()
        .all(db)
        .await
}
