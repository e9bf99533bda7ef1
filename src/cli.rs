//! Command line: `serve` (default), `migrate`, `openapi`, `admin`, `fsck`, `rotate-secret`,
//! `export`, `import`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::settings::Settings;
use crate::startup::Application;

/// DocuVault: a self-hosted multi-user document vault in one binary.
///
/// With no configuration it serves on http://127.0.0.1:8080 using SQLite and a local
/// object directory under ./data. Configure with a file (--config) and environment
/// variables DOCUVAULT__SECTION__KEY; see README "Configuration".
#[derive(Debug, Parser)]
#[command(name = "docuvault", version, about, long_about)]
pub struct Cli {
    /// Settings file (TOML or YAML) layered over the built-in defaults.
    #[arg(long, global = true, env = "DOCUVAULT_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (API, UI and background work). The default.
    Serve {
        /// Do not process documents in this instance (run `docuvault worker` elsewhere).
        #[arg(long)]
        no_workers: bool,
    },
    /// Process documents only (extraction and classification workers plus the
    /// sweeper), without the web server. Stops on SIGTERM/SIGINT.
    Worker,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI document (JSON) to stdout and exit: 3.1 (the default, as served
    /// at /api/openapi.json) or, with `--openapi-version 3.0`, the 3.0.3 rendition served
    /// at /api/openapi-3.0.json for tools that read only 3.0.
    Openapi {
        /// OpenAPI version of the printed document.
        #[arg(long, value_enum, default_value = "3.1")]
        openapi_version: crate::openapi::OpenApiVersion,
    },
    /// Manage administrator accounts.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Check that quotas, documents and stored objects agree (dry run by default).
    ///
    /// Reports quotas that differ from the sum of confirmed documents, confirmed
    /// documents whose object is missing or has another size, and stored objects no
    /// document references (older than documents.pending_ttl_secs). Exit codes: 0 clean
    /// or all repaired, 1 problems found or remaining, 2 configuration error, 3 the check
    /// could not complete.
    Fsck {
        /// Set quotas to the computed sums, delete orphan objects and make missing
        /// thumbnails. Documents with a missing or resized object are reported, never
        /// deleted.
        #[arg(long)]
        repair: bool,
    },
    /// Replace the secret key, re-sealing stored secrets under the new one. Stop every
    /// instance first.
    ///
    /// Every stored TOTP secret and AI provider key is re-sealed in one transaction, so
    /// TOTP sign-in and users' AI keys keep working. Every session ends (sign in again)
    /// and backup codes are removed (users generate new ones): both are stored only as
    /// hashes keyed by the old key. Without SECRET_KEY the new key is generated and
    /// replaces data_dir/secret.key; with SECRET_KEY the new key comes from
    /// DOCUVAULT_NEW_SECRET_KEY, and SECRET_KEY must be set to it on every instance
    /// afterwards. An interrupted run is finished by running it again.
    RotateSecret,
    /// Write a consistent snapshot of the whole instance to a new directory (the server
    /// may keep running).
    ///
    /// Every account (password hashes, 2FA state, settings), document with all its
    /// versions and trash state, folder, topic, share and the audit log, as JSON Lines
    /// files read in one transaction, plus every original and thumbnail once by SHA-256
    /// and a versioned manifest.json (docs/EXPORT.md). Uploads still in flight are left out.
    Export {
        /// Directory to write (created; must be empty).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Load an export into a new, empty instance (any database and object storage).
    ///
    /// Checks everything first (manifest version, empty target, sealed secrets, every
    /// original against its SHA-256) and imports all or nothing. Sealed secrets (TOTP, AI
    /// keys) open when this instance uses the source's secret key; otherwise give the
    /// source's key to re-seal them under this instance's key (backup codes are then left
    /// out, users generate new ones). Sessions are not carried: everyone signs in again.
    Import {
        /// Directory written by `docuvault export`.
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
        /// The exporting instance's secret key (its SECRET_KEY or data_dir/secret.key),
        /// to re-seal secrets under this instance's key.
        #[arg(
            long,
            env = "DOCUVAULT_SOURCE_SECRET_KEY",
            value_name = "KEY",
            hide_env_values = true
        )]
        source_secret_key: Option<String>,
    },
    /// Internal: extract text from a document read from stdin (JSON header line + bytes)
    /// and write the JSON result to stdout. Run by the server in a resource-limited child.
    #[command(hide = true)]
    ExtractWorker,
}

/// `docuvault admin …`
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an administrator account. The password comes from
    /// DOCUVAULT_ADMIN_PASSWORD or, when unset, an interactive prompt.
    Create {
        /// E-mail address of the new admin.
        #[arg(long)]
        email: String,
        /// Handle of the new admin.
        #[arg(long)]
        handle: String,
    },
}

/// Exit code for configuration errors (distinct from runtime failures).
const EXIT_CONFIG: u8 = 2;

/// Runs the parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    if let Some(Command::ExtractWorker) = cli.command {
        return crate::extract::sandbox::run_worker();
    }
    if let Some(Command::Openapi { openapi_version }) = cli.command {
        // A closed pipe (`docuvault openapi | head`) is the reader's choice, not an error.
        use std::io::Write;
        let json = crate::openapi::rendition_json(openapi_version);
        return match std::io::stdout().lock().write_all(json.as_bytes()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("docuvault: cannot write the OpenAPI document: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let env: HashMap<String, String> = std::env::vars().collect();
    let settings = match Settings::load(cli.config.as_deref(), &env) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("docuvault: configuration error: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    crate::telemetry::init(&settings.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("docuvault: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(Command::Fsck { repair }) = cli.command {
        return ExitCode::from(runtime.block_on(fsck(settings, repair)));
    }
    let outcome = runtime.block_on(async {
        match cli.command {
            Some(Command::Migrate) => migrate(settings).await,
            Some(Command::Admin(AdminCommand::Create { email, handle })) => {
                create_admin(settings, &env, &email, &handle).await
            }
            Some(Command::Worker) => worker(settings).await,
            Some(Command::RotateSecret) => rotate_secret(settings, &env).await,
            Some(Command::Export { out }) => export(settings, &out).await,
            Some(Command::Import {
                from,
                source_secret_key,
            }) => import(settings, &from, source_secret_key).await,
            Some(Command::Serve { no_workers: true }) => {
                let mut settings = settings;
                settings.server.run_workers = false;
                serve(settings).await
            }
            _ => serve(settings).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "fatal");
            eprintln!("docuvault: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings).await?;
    app.run_until_stopped().await?;
    Ok(())
}

async fn worker(settings: Settings) -> anyhow::Result<()> {
    let state = crate::startup::build_state(settings).await?;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    // Scans that waited for OCR, now that this worker has it.
    crate::jobs::scans::requeue_waiting_scans(&state).await;
    crate::jobs::worker::spawn(&state, &shutdown, &mut tasks);
    crate::ingest::service::spawn(&state, &shutdown, &mut tasks);
    crate::webhooks::delivery::spawn(&state, &shutdown, &mut tasks);
    crate::refile::runner::spawn(&state, &shutdown, &mut tasks);
    tracing::info!(
        "docuvault {} worker running {} job(s) at once ({})",
        env!("CARGO_PKG_VERSION"),
        state.settings.jobs.concurrency,
        state.describe_backends()
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => {}
        r = tokio::signal::ctrl_c() => r?,
    }
    tracing::info!("stopping workers (jobs in flight finish first)");
    shutdown.cancel();
    while tasks.join_next().await.is_some() {}
    tracing::info!("shutdown complete");
    Ok(())
}

/// `docuvault rotate-secret`: re-seals under a new key, then puts the new key in place
/// (key file) or says what to set (`SECRET_KEY`). Never prints a key.
async fn rotate_secret(settings: Settings, env: &HashMap<String, String>) -> anyhow::Result<()> {
    use crate::crypto::Keys;
    use crate::secret_key as sk;
    use anyhow::Context;
    let given = env
        .get("DOCUVAULT_NEW_SECRET_KEY")
        .map(|k| k.trim().to_owned())
        .filter(|k| !k.is_empty());
    let db = crate::db::connect_pool(&settings)
        .await
        .context("connecting to the database")?;
    let (report, done) = if let Some(old) = settings.configured_secret_key() {
        let Some(new) = given else {
            anyhow::bail!(
                "SECRET_KEY is set, so the new key comes from you: put a new random value \
                 (e.g. `openssl rand -hex 32`) in DOCUVAULT_NEW_SECRET_KEY and run this again"
            );
        };
        sk::check_new_key(&new)?;
        if new == old {
            anyhow::bail!("DOCUVAULT_NEW_SECRET_KEY is the current SECRET_KEY");
        }
        let report = sk::reseal_all(&db, &Keys::derive(old), &Keys::derive(&new)).await?;
        let done = "Now set SECRET_KEY to the value of DOCUVAULT_NEW_SECRET_KEY on every \
                    instance, then start them."
            .to_owned();
        (report, done)
    } else {
        let path = settings.secret_key_file();
        let old = sk::read_key_file(&path).with_context(|| {
            format!(
                "no SECRET_KEY and no usable key file at {}: nothing to rotate",
                path.display()
            )
        })?;
        let new = sk::prepare_pending_key(&path, given)?;
        if new == old {
            anyhow::bail!("the new key is the current key");
        }
        let report = sk::reseal_all(&db, &Keys::derive(&old), &Keys::derive(&new)).await?;
        sk::commit_pending_key(&path)?;
        let done = format!("The new key is in {}; start the instances.", path.display());
        (report, done)
    };
    println!(
        "secret key rotated: re-sealed {} TOTP secret(s), {} AI provider key(s), {} \
         webhook secret(s) and {} mail account login(s) ({} already under the new key); \
         ended every session ({} refresh token(s) removed); removed the backup codes of {} \
         user(s), who can generate new ones.",
        report.totp_secrets,
        report.ai_keys,
        report.webhook_secrets,
        report.mail_accounts,
        report.already_new,
        report.refresh_tokens,
        report.backup_code_users
    );
    println!("{done}");
    Ok(())
}

/// The database pool, the secret key's keys and the object store of `settings`.
async fn transfer_backends(
    settings: &Settings,
) -> anyhow::Result<(
    sea_orm::DatabaseConnection,
    crate::crypto::Keys,
    std::sync::Arc<dyn crate::storage::ObjectStore>,
)> {
    use anyhow::Context;
    use secrecy::ExposeSecret;
    let db = crate::db::connect_pool(settings)
        .await
        .context("connecting to the database")?;
    let root = crate::secret_key::resolve(settings)?;
    let keys = crate::crypto::Keys::derive(root.secret.expose_secret());
    let (store, _) =
        crate::storage::from_settings(settings, &keys).context("configuring storage")?;
    store
        .ensure_ready()
        .await
        .context("preparing object storage")?;
    Ok((db, keys, store))
}

/// `docuvault export --out DIR`.
async fn export(settings: Settings, out: &std::path::Path) -> anyhow::Result<()> {
    let (db, _, store) = transfer_backends(&settings).await?;
    let manifest = crate::transfer::export(&db, store.as_ref(), out).await?;
    let rows: Vec<String> = manifest
        .tables
        .iter()
        .map(|t| format!("{} {}", t.rows, t.name))
        .collect();
    println!(
        "exported to {}: {}; {} object(s) as {} distinct file(s), {} bytes",
        out.display(),
        rows.join(", "),
        manifest.objects.entries,
        manifest.objects.files,
        manifest.objects.bytes
    );
    Ok(())
}

/// `docuvault import --from DIR [--source-secret-key KEY]`.
async fn import(
    settings: Settings,
    from: &std::path::Path,
    source_secret_key: Option<String>,
) -> anyhow::Result<()> {
    if settings.uses_data_dir() {
        std::fs::create_dir_all(&settings.data_dir)?;
    }
    crate::db::migrate(&settings).await?;
    let (db, keys, store) = transfer_backends(&settings).await?;
    let source = source_secret_key
        .map(|k| k.trim().to_owned())
        .filter(|k| !k.is_empty())
        .map(|k| crate::crypto::Keys::derive(&k));
    let report = crate::transfer::import(&db, store.as_ref(), from, &keys, source.as_ref()).await?;
    let rows: Vec<String> = report
        .tables
        .iter()
        .map(|(name, n)| format!("{n} {name}"))
        .collect();
    println!(
        "imported from {}: {}; {} object(s), {} bytes",
        from.display(),
        rows.join(", "),
        report.objects,
        report.bytes
    );
    if source.is_some() {
        println!(
            "re-sealed {} secret(s) under this instance's key; left out {} backup code(s) \
             (users generate new ones)",
            report.resealed, report.backup_codes_dropped
        );
    }
    Ok(())
}

/// Reads the admin password from the environment or a no-echo prompt.
fn admin_password(env: &HashMap<String, String>) -> anyhow::Result<String> {
    if let Some(p) = env
        .get("DOCUVAULT_ADMIN_PASSWORD")
        .filter(|p| !p.is_empty())
    {
        return Ok(p.clone());
    }
    let first = rpassword::prompt_password("Password for the new admin: ")?;
    let second = rpassword::prompt_password("Repeat the password: ")?;
    if first != second {
        anyhow::bail!("the passwords do not match");
    }
    Ok(first)
}

async fn create_admin(
    settings: Settings,
    env: &HashMap<String, String>,
    email: &str,
    handle: &str,
) -> anyhow::Result<()> {
    use crate::domain::{Email, Handle, Password};
    let email = Email::parse(email).map_err(|e| anyhow::anyhow!("--email: {e}"))?;
    let handle = Handle::parse(handle).map_err(|e| anyhow::anyhow!("--handle: {e}"))?;
    let password = admin_password(env)?;
    let password = Password::parse(&password).map_err(|e| anyhow::anyhow!("password: {e}"))?;
    let state = crate::startup::build_state(settings).await?;
    let user = crate::auth::service::create_account(
        &state,
        &handle,
        &email,
        &password,
        crate::entities::users::Role::Admin,
        false,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    crate::audit::AuditEntry::new(
        crate::audit::AuditEvent::AdminUserCreated,
        crate::audit::Outcome::Success,
        Some(user.id),
        None,
    )
    .actor(None)
    .detail("via", "cli")
    .record(&state.db)
    .await?;
    println!(
        "created admin {} <{}> ({})",
        user.handle, user.email, user.id
    );
    Ok(())
}

/// Runs fsck, prints its report to stdout; the exit code per [`crate::fsck::exit`].
async fn fsck(settings: Settings, repair: bool) -> u8 {
    let outcome = async {
        let state = crate::startup::build_state(settings).await?;
        crate::fsck::fsck(&state, repair).await
    }
    .await;
    match outcome {
        Ok(report) => {
            print!("{report}");
            report.exit_code()
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "fsck failed");
            eprintln!("docuvault: fsck could not complete: {e:#}");
            crate::fsck::exit::FAILED
        }
    }
}

async fn migrate(settings: Settings) -> anyhow::Result<()> {
    use anyhow::Context;
    if settings.uses_data_dir() {
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating data directory {}", settings.data_dir.display()))?;
    }
    crate::db::migrate(&settings)
        .await
        .context("applying database migrations")?;
    tracing::info!("migrations applied");
    Ok(())
}
