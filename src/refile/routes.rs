//! `/api/topics/refile`: start, follow and cancel the re-filing of the caller's whole
//! vault (regular accounts only).

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::extract::{RegularUser, regular_scope};
use crate::entities::refile_runs::{self, RefileState};
use crate::error::{ApiError, ErrorBody};
use crate::refile::service;
use crate::state::AppState;

/// A re-file run of the caller's vault and how far it got.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefileRun {
    /// The run's id.
    pub id: Uuid,
    /// `running` (also while it waits for new uploads to be processed first), `done`,
    /// `failed` (see `error`) or `cancelled`.
    pub state: RefileState,
    /// Documents to look at: every live, processed document with a text and without a
    /// topic set by hand, counted when the run started (once it is `done`: the number
    /// looked at).
    #[schema(minimum = 0)]
    pub total: i64,
    /// Documents looked at so far.
    #[schema(minimum = 0)]
    pub done: i64,
    /// Documents whose topics the run changed so far.
    #[schema(minimum = 0)]
    pub changed: i64,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended; null while running.
    #[schema(required = true)]
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it failed; null otherwise.
    #[schema(required = true)]
    pub error: Option<String>,
}

impl From<refile_runs::Model> for RefileRun {
    fn from(r: refile_runs::Model) -> Self {
        Self {
            id: r.id,
            state: r.state,
            total: r.total,
            done: r.done,
            changed: r.changed,
            started_at: r.started_at,
            finished_at: r.finished_at,
            error: r.error,
        }
    }
}

fn never_run() -> ApiError {
    ApiError::NotFound("No re-file has run for your documents yet".into())
}

/// Re-files every document not filed by hand.
///
/// Starts a background run over the caller's live, processed documents that carry no
/// topic set by hand: the builtin classifier, trained once on the caller's topics and
/// hand-filed documents, files each one again (`ai` topics replaced, status
/// `classified` or `unclassified`); documents filed by hand, in the trash or being
/// processed are left alone. New uploads are processed first. Follow it with
/// `GET /api/topics/refile`. Only for accounts on the builtin classifier.
#[utoipa::path(
    operation_id = "startRefile",
    tag = "topics",
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Started; the run as it begins", body = RefileRun),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrator account, or password change pending", body = ErrorBody),
        (status = 409, description = "A re-file of the caller's documents is already running (`refile_running`)", body = ErrorBody),
        (status = 422, description = "The account uses a model provider, not the builtin classifier (`refile_needs_builtin`): select documents and re-classify them instead", body = ErrorBody),
    )
)]
#[post("")]
pub async fn start_refile(
    state: web::Data<AppState>,
    user: RegularUser,
) -> Result<HttpResponse, ApiError> {
    let run = service::start(
        &state.db,
        &state.settings.ai,
        &user.0.user,
        Some(user.0.client.ip.as_str()),
    )
    .await?;
    crate::refile::runner::wake();
    Ok(HttpResponse::Accepted().json(RefileRun::from(run)))
}

/// The caller's latest re-file run: its progress while running, its result after.
#[utoipa::path(
    operation_id = "getRefile",
    tag = "topics",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The latest run (running, or the last one that ended)", body = RefileRun),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrator account, or password change pending", body = ErrorBody),
        (status = 404, description = "The caller never re-filed their documents", body = ErrorBody),
    )
)]
#[get("")]
pub async fn get_refile(
    state: web::Data<AppState>,
    user: RegularUser,
) -> Result<web::Json<RefileRun>, ApiError> {
    let run = service::latest(&state.db, user.id())
        .await?
        .ok_or_else(never_run)?;
    Ok(web::Json(run.into()))
}

/// Cancels the caller's running re-file.
///
/// Documents already re-filed keep their new topics; the batch in progress is not
/// written.
#[utoipa::path(
    operation_id = "cancelRefile",
    tag = "topics",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Cancelled; the run as it stopped", body = RefileRun),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrator account, or password change pending", body = ErrorBody),
        (status = 404, description = "No re-file of the caller's documents is running", body = ErrorBody),
    )
)]
#[delete("")]
pub async fn cancel_refile(
    state: web::Data<AppState>,
    user: RegularUser,
) -> Result<web::Json<RefileRun>, ApiError> {
    let run = service::cancel(&state.db, user.id(), Some(user.0.client.ip.as_str()))
        .await?
        .ok_or_else(|| ApiError::NotFound("No re-file of your documents is running".into()))?;
    Ok(web::Json(run.into()))
}

/// Registers `/topics/refile` (inside the `/api` scope, before the topics scope, whose
/// `/{id}` routes would take the path).
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(
        regular_scope("/topics/refile")
            .service(start_refile)
            .service(get_refile)
            .service(cancel_refile),
    );
}
