//! `Application::build` wires settings into a bound server plus its background tasks;
//! `run_until_stopped` drives them and shuts down gracefully on SIGTERM/SIGINT.

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use actix_cors::Cors;
use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{Condition, from_fn};
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::crypto::Keys;
use crate::http::{
    RouteTable, json_config, path_error, query_error, request_context, security_headers,
};
use crate::mail::Mailer;
use crate::secret_key::KeySource;
use crate::security::password::PasswordHasher;
use crate::security::rate_limit::RateLimiter;
use crate::security::tokens::TokenIssuer;
use crate::settings::{QueueKind, Settings, StorageKind};
use crate::state::AppState;
use secrecy::ExposeSecret;

/// A bound, not yet running server with its state and background tasks.
pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
    shutdown: CancellationToken,
    tasks: JoinSet<()>,
}

impl Application {
    /// Prepares the data directory, migrates, connects every backend and binds the
    /// listener (`server.port = 0` picks a free port; read it back with [`Self::port`]).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let state = build_state(settings).await?;
        crate::auth::service::bootstrap_admin(&state)
            .await
            .context("creating the first admin")?;
        // Scans that waited for OCR, now that this instance has it.
        crate::jobs::scans::requeue_waiting_scans(&state).await;
        // Partial uploads a crash left behind (the cleanup job sweeps them too).
        if let Some(local) = &state.local_store {
            local.sweep_stale_temp_files().await;
        }
        let settings = state.settings.clone();
        let listener = TcpListener::bind((settings.server.host.as_str(), settings.server.port))
            .with_context(|| {
                format!("binding {}:{}", settings.server.host, settings.server.port)
            })?;
        let port = listener.local_addr()?.port();
        let server = build_server(state.clone(), listener)?;
        let shutdown = CancellationToken::new();
        let mut tasks = JoinSet::new();
        tasks.spawn(return_freed_memory(shutdown.clone()));
        tasks.spawn(crate::db::checkpoint_sqlite(
            settings.clone(),
            shutdown.clone(),
        ));
        if settings.cleanup.enabled {
            tasks.spawn(crate::jobs::scheduler::run_cleanup_schedule(
                state.clone(),
                shutdown.clone(),
            ));
        }
        if settings.server.run_workers {
            crate::jobs::worker::spawn(&state, &shutdown, &mut tasks);
            crate::ingest::service::spawn(&state, &shutdown, &mut tasks);
            crate::webhooks::delivery::spawn(&state, &shutdown, &mut tasks);
            crate::refile::runner::spawn(&state, &shutdown, &mut tasks);
            // Texts without stems in their owner's search language (migrated, imported,
            // or a change of language a stop interrupted).
            tasks.spawn(crate::documents::search::restem::run_at_start(
                state.db.clone(),
                shutdown.clone(),
            ));
        }
        if settings.metrics.enabled && !settings.metrics.listen.is_empty() {
            let metrics_server = build_metrics_server(&state)?;
            let handle = metrics_server.handle();
            let stop = shutdown.clone();
            tasks.spawn(async move {
                tokio::select! {
                    r = metrics_server => if let Err(e) = r {
                        tracing::error!(error = %e, "metrics listener failed");
                    },
                    () = stop.cancelled() => handle.stop(true).await,
                }
            });
        }
        tracing::info!(
            "docuvault {} listening on http://{}:{} ({})",
            env!("CARGO_PKG_VERSION"),
            settings.server.host,
            port,
            state.describe_backends()
        );
        Ok(Self {
            port,
            server,
            state,
            shutdown,
            tasks,
        })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Shared state (tests use it to reach the database or storage directly).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// A handle that stops the HTTP server gracefully, as SIGTERM does.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGTERM/SIGINT (or [`Self::handle`]`.stop`), lets in-flight requests
    /// finish, then stops background tasks.
    pub async fn run_until_stopped(mut self) -> std::io::Result<()> {
        let served = self.server.await;
        tracing::info!("HTTP server stopped; stopping background tasks");
        self.shutdown.cancel();
        while self.tasks.join_next().await.is_some() {}
        tracing::info!("shutdown complete");
        served
    }
}

/// Hands memory freed inside glibc's per-thread arenas back to the system: shortly after
/// start (each HTTP worker builds its app, routes and OpenAPI document, then frees most of
/// it) and every few minutes after bursts of work. glibc keeps such memory resident
/// otherwise; `malloc_trim` releases it from every arena.
async fn return_freed_memory(shutdown: CancellationToken) {
    let mut delay = Duration::from_secs(2);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(delay) => {}
        }
        // SAFETY: malloc_trim only walks glibc's allocator state under its own locks.
        unsafe { libc::malloc_trim(0) };
        delay = Duration::from_secs(300);
    }
}

/// Prepares the data directory, migrates, and connects every backend: everything a
/// server or a one-off command needs, without binding a port.
pub async fn build_state(settings: Settings) -> anyhow::Result<AppState> {
    let settings = Arc::new(settings);
    if settings.uses_data_dir() {
        prepare_data_dir(&settings.data_dir)?;
    }
    if settings.database.auto_migrate {
        crate::db::migrate(&settings)
            .await
            .context("applying database migrations")?;
    }
    let db = crate::db::connect_pool(&settings)
        .await
        .context("connecting to the database")?;

    let keys = Arc::new(root_keys(&settings, &db).await?);
    let (storage, local_store) =
        crate::storage::from_settings(&settings, &keys).context("configuring storage")?;
    if let Err(e) = storage.ensure_ready().await {
        if settings.storage_kind() == StorageKind::Local {
            return Err(e).with_context(|| {
                format!(
                    "preparing the object directory {}",
                    settings.local_objects_dir().display()
                )
            });
        }
        tracing::warn!(error = %e, "object storage not ready yet; /health reports it");
    }
    let queue = crate::queue::from_settings(&settings).context("configuring the queue")?;

    let limiter = Arc::new(match settings.queue_kind() {
        QueueKind::Redis => RateLimiter::redis(
            crate::queue::redis_pool(&settings).context("configuring Redis")?,
            &settings.queue.key_prefix,
        ),
        _ => RateLimiter::in_process(),
    });
    let ocr = {
        let ocr_settings = settings.ocr.clone();
        let child_memory = settings.extract.memory_mb.saturating_mul(1024 * 1024);
        tokio::task::spawn_blocking(move || {
            crate::ocr_status::OcrStatus::detect(&ocr_settings, child_memory)
        })
        .await
        .context("probing OCR")?
    };
    Ok(AppState {
        ocr: Arc::new(ocr),
        tokens: TokenIssuer::new(keys.jwt_secret(), settings.auth.access_token_ttl_secs)?,
        hasher: PasswordHasher::new(&settings.auth)?,
        mailer: Arc::new(Mailer::from_settings(&settings.smtp).context("configuring e-mail")?),
        keys,
        limiter,
        metrics: Arc::new(crate::metrics::Metrics::new()),
        settings: settings.clone(),
        db,
        storage,
        local_store,
        queue,
    })
}

/// The keys derived from the root secret (`SECRET_KEY`, else the data directory's key
/// file, generated on the first start), after re-sealing anything an old installation
/// sealed with the published development key. Logs where the key is, never the key.
async fn root_keys(settings: &Settings, db: &sea_orm::DatabaseConnection) -> anyhow::Result<Keys> {
    let root = crate::secret_key::resolve(settings)?;
    match &root.source {
        KeySource::Configured => tracing::info!("secret key from SECRET_KEY (security.secret_key)"),
        KeySource::KeyFile { path, created } => {
            if *created {
                tracing::warn!(
                    "no SECRET_KEY configured: generated a new random secret key in {} (mode \
                     0600); keep it with the database backups, losing it ends every session and \
                     makes TOTP secrets and stored AI keys unreadable",
                    path.display()
                );
            } else {
                tracing::info!("secret key from {}", path.display());
            }
            if settings.database_kind() == crate::settings::DatabaseKind::Postgres {
                tracing::warn!(
                    "the secret key is in this instance's data directory ({}); every instance \
                     sharing this database needs the same key: set SECRET_KEY on all of them, \
                     or share the data directory",
                    path.display()
                );
            }
        }
    }
    let keys = Keys::derive(root.secret.expose_secret());
    let check = crate::secret_key::reseal_published(db, &keys)
        .await
        .context("re-sealing secrets sealed with the published development key")?;
    if check.resealed > 0 {
        tracing::warn!(
            resealed = check.resealed,
            backup_codes_removed_for = check.backup_codes_removed_for,
            "re-sealed secrets an earlier version sealed with the published development key; \
             those users' backup codes were removed (they can generate new ones)"
        );
    }
    if check.unreadable > 0 {
        tracing::error!(
            unreadable = check.unreadable,
            "stored TOTP secrets or AI keys do not open with this secret key: was SECRET_KEY \
             changed, or does another instance use a different key? Those users cannot sign \
             in with TOTP until the right key is back"
        );
    }
    Ok(keys)
}

/// Creates the data directory and proves it is writable, so a read-only or full disk
/// fails at start with a clear message instead of on the first upload.
fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating data directory {}", dir.display()))?;
    let probe = dir.join(".write-test");
    let written = std::fs::File::create(&probe).and_then(|mut f| {
        use std::io::Write;
        f.write_all(&[0u8; 4096])?;
        f.sync_all()
    });
    let _ = std::fs::remove_file(&probe);
    written.with_context(|| format!("data directory {} is not writable", dir.display()))
}

/// The dedicated `/metrics` listener (`metrics.listen`).
fn build_metrics_server(state: &AppState) -> anyhow::Result<Server> {
    let addr = state.settings.metrics.listen.clone();
    let data = web::Data::new(state.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/metrics", web::get().to(crate::health::open_metrics))
    })
    .bind(&addr)
    .with_context(|| format!("binding metrics.listen {addr}"))?
    .workers(1)
    .disable_signals()
    .run();
    tracing::info!("metrics on http://{addr}/metrics");
    Ok(server)
}

fn build_server(state: AppState, listener: TcpListener) -> anyhow::Result<Server> {
    let settings = state.settings.clone();
    let spec = crate::openapi::document();
    let routes = web::Data::new(RouteTable::from_openapi(&spec));
    let spec_json = web::Bytes::from(crate::openapi::document_json());
    let spec_json_3_0 = web::Bytes::from(crate::openapi::render_3_0(&spec));
    drop(spec);
    // The request middleware records latencies here (it knows nothing of `AppState`).
    let metrics = web::Data::from(state.metrics.clone());
    let signed_url_store: crate::storage::routes::SignedUrlStore =
        web::Data::new(state.local_store.clone());
    let state = web::Data::new(state);
    let json_config = json_config(settings.server.json_body_limit);
    let workers = match settings.server.workers {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let server_settings = settings.clone();
    let server = HttpServer::new(move || {
        let settings = &server_settings;
        let cors = settings
            .server
            .cors_origins
            .iter()
            .fold(Cors::default(), |cors, origin| cors.allowed_origin(origin))
            .allow_any_method()
            .allow_any_header()
            .expose_headers(["x-request-id"])
            .supports_credentials()
            .max_age(3600);
        App::new()
            .app_data(state.clone())
            .app_data(metrics.clone())
            .app_data(routes.clone())
            .app_data(json_config.clone())
            .app_data(web::QueryConfig::default().error_handler(query_error))
            .app_data(web::PathConfig::default().error_handler(path_error))
            .wrap(Condition::new(
                !settings.server.cors_origins.is_empty(),
                cors,
            ))
            .wrap(security_headers(settings))
            .wrap(from_fn(request_context))
            // The UI loads the spec by URL; the spec itself is one shared, pre-rendered
            // buffer rather than a copy of the document in every HTTP worker.
            .service(
                SwaggerUi::new("/api/docs/{_:.*}")
                    .config(utoipa_swagger_ui::Config::new(["/api/openapi.json"])),
            )
            .route(
                "/api/openapi.json",
                web::get().to({
                    let spec_json = spec_json.clone();
                    move || {
                        let body = spec_json.clone();
                        async move {
                            HttpResponse::Ok()
                                .content_type("application/json")
                                .body(body)
                        }
                    }
                }),
            )
            .route(
                "/api/openapi-3.0.json",
                web::get().to({
                    let spec_json = spec_json_3_0.clone();
                    move || {
                        let body = spec_json.clone();
                        async move {
                            HttpResponse::Ok()
                                .content_type("application/json")
                                .body(body)
                        }
                    }
                }),
            )
            .route(
                "/api/docs",
                web::get().to(|| async {
                    HttpResponse::PermanentRedirect()
                        .insert_header(("Location", "/api/docs/"))
                        .finish()
                }),
            )
            .configure(|cfg| crate::storage::routes::configure(cfg, signed_url_store.clone()))
            .route("/metrics", web::get().to(crate::health::admin_metrics))
            .into_utoipa_app()
            .configure(crate::routes::configure)
            .into_app()
            .default_service(web::to(crate::assets::serve))
    })
    .listen(listener)?
    .workers(workers)
    .shutdown_timeout(settings.server.shutdown_timeout_secs)
    .client_request_timeout(Duration::from_secs(30))
    .run();
    Ok(server)
}
