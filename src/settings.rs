//! Typed settings: compiled-in defaults (`config/default.toml`), an optional file,
//! the predecessor's environment names and `DOCUVAULT__…` overrides (env always wins).
//!
//! Settings are loaded once in `main` and passed down; nothing reads them globally.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use config::{Config, Environment as EnvSource, File, FileFormat};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

mod values;
pub use values::{CronSchedule, OcrLanguages, TrustedProxies};

/// The defaults file, compiled in so the binary runs with no configuration at all.
pub const DEFAULT_CONFIG: &str = include_str!("../config/default.toml");

/// Prefix of the structured environment overrides (`DOCUVAULT__SERVER__PORT`).
pub const ENV_PREFIX: &str = "DOCUVAULT__";

/// Upper bound of `database.sqlite_mmap_mib` (1 TiB).
const MAX_SQLITE_MMAP_MIB: u64 = 1 << 20;

/// Upper bound of `database.sqlite_write_cache_mib` (16 GiB).
const MAX_SQLITE_WRITE_CACHE_MIB: u64 = 1 << 14;

/// Upper bound of `documents.search_max_hits`.
const MAX_SEARCH_HITS: u64 = 100_000;

/// Shortest `SECRET_KEY` production accepts.
const MIN_PRODUCTION_SECRET_LEN: usize = 32;

/// Environment names inherited from the Python predecessor, and the settings key each sets.
pub const LEGACY_ENV: &[(&str, &str)] = &[
    ("DATABASE_URL", "database.url"),
    ("DATABASE_MIGRATE_URL", "database.migrate_url"),
    ("REDIS_URL", "queue.redis_url"),
    ("SECRET_KEY", "security.secret_key"),
    ("MINIO_ENDPOINT", "storage.s3.endpoint"),
    ("MINIO_PUBLIC_ENDPOINT", "storage.s3.public_endpoint"),
    ("MINIO_ACCESS_KEY", "storage.s3.access_key"),
    ("MINIO_SECRET_KEY", "storage.s3.secret_key"),
    ("MINIO_BUCKET", "storage.s3.bucket"),
    ("CORS_ORIGINS", "server.cors_origins"),
    ("SMTP_HOST", "smtp.host"),
    ("SMTP_PORT", "smtp.port"),
    ("SMTP_USER", "smtp.user"),
    ("SMTP_PASSWORD", "smtp.password"),
    ("SYSTEM_PROMPT", "ai.system_prompt"),
    ("DEFAULT_AI_PROVIDER", "ai.default_provider"),
    ("DEFAULT_AI_MODEL", "ai.default_model"),
];

/// Other environment variables the binary reads directly (outside the settings tree).
pub const OTHER_ENV: &[&str] = &[
    "DOCUVAULT_CONFIG",
    "DOCUVAULT_ADMIN_EMAIL",
    "DOCUVAULT_ADMIN_HANDLE",
    "DOCUVAULT_ADMIN_PASSWORD",
    "DOCUVAULT_NEW_SECRET_KEY",
    "DOCUVAULT_SOURCE_SECRET_KEY",
    "RUST_LOG",
];

/// A configuration problem, reported as one line naming the key.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(String);

impl SettingsError {
    fn key(key: &str, problem: impl std::fmt::Display) -> Self {
        let legacy = LEGACY_ENV
            .iter()
            .find(|(_, k)| *k == key)
            .map(|(env, _)| format!(" ({env})"))
            .unwrap_or_default();
        Self(format!("{key}{legacy}: {problem}"))
    }
}

/// Whether this deployment is a development box or production.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunEnvironment {
    /// Local use; without `SECRET_KEY` a key is generated in the data directory.
    Development,
    /// Real deployment: `SECRET_KEY` and `server.public_url` must be set explicitly.
    Production,
}

/// The whole settings tree.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Development or production.
    pub environment: RunEnvironment,
    /// Where embedded defaults keep state (SQLite file, local objects).
    pub data_dir: PathBuf,
    /// HTTP listener.
    pub server: ServerSettings,
    /// Logging.
    pub log: LogSettings,
    /// Keys.
    pub security: SecuritySettings,
    /// Relational database.
    pub database: DatabaseSettings,
    /// Object storage.
    pub storage: StorageSettings,
    /// Job queue.
    pub queue: QueueSettings,
    /// Outgoing e-mail.
    pub smtp: SmtpSettings,
    /// Classifier defaults.
    pub ai: AiSettings,
    /// Accounts and sessions.
    pub auth: AuthSettings,
    /// Storage quotas.
    pub quota: QuotaSettings,
    /// Attempt limits on authentication endpoints.
    pub rate_limit: RateLimitSettings,
    /// Upload and download rules.
    pub documents: DocumentSettings,
    /// Full-text search.
    pub search: SearchSettings,
    /// The periodic cleanup job.
    pub cleanup: CleanupSettings,
    /// Processing workers and the sweeper.
    pub jobs: JobsSettings,
    /// Text extraction limits.
    pub extract: ExtractSettings,
    /// OCR of scans and PDF pages without text (Tesseract).
    pub ocr: OcrSettings,
    /// Prometheus metrics.
    pub metrics: MetricsSettings,
    /// The watched folder: files dropped under `{watch_dir}/{handle}/` become documents.
    pub ingest: IngestSettings,
    /// Outgoing signed webhooks.
    pub webhooks: WebhookSettings,
    /// E-mail intake over IMAP.
    pub mail_intake: MailIntakeSettings,
    /// Public links to documents.
    pub links: LinkSettings,
    /// First-start admin from `DOCUVAULT_ADMIN_*` (not part of the settings tree).
    #[serde(skip)]
    pub bootstrap_admin: Option<BootstrapAdmin>,
}

/// The admin account created on first start when none exists.
#[derive(Debug, Clone)]
pub struct BootstrapAdmin {
    /// `DOCUVAULT_ADMIN_EMAIL`.
    pub email: String,
    /// `DOCUVAULT_ADMIN_HANDLE` (default `admin`).
    pub handle: String,
    /// `DOCUVAULT_ADMIN_PASSWORD`.
    pub password: SecretString,
}

/// Account and session settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// Self-service sign-up allowed.
    pub registration_enabled: bool,
    /// Access token lifetime.
    pub access_token_ttl_secs: u64,
    /// Idle expiry of a refresh token.
    pub refresh_idle_ttl_secs: u64,
    /// Absolute lifetime of a session (refresh family).
    pub session_max_age_secs: u64,
    /// Window in which an identical refresh retry gets the same successor.
    pub refresh_grace_secs: u64,
    /// Argon2id memory in KiB.
    pub argon2_memory_kib: u32,
    /// Argon2id iterations.
    pub argon2_iterations: u32,
    /// Argon2id lanes.
    pub argon2_parallelism: u32,
    /// Concurrent hashes; 0 = cores minus one (at least one).
    pub hash_concurrency: usize,
    /// Waiting requests allowed per permit before shedding with 503.
    pub hash_queue_per_permit: usize,
    /// Proxies whose `X-Forwarded-For`, `X-Forwarded-Host`/`-Proto` and `Forwarded`
    /// headers are believed.
    pub trusted_proxies: TrustedProxies,
}

/// Quota settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaSettings {
    /// Limit of new accounts in bytes.
    pub default_limit_bytes: i64,
}

/// Upload and download rules.
/// Full-text search.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchSettings {
    /// How the searches of a new account match words (`simple`, `english`, `german`);
    /// each account can change its own.
    pub default_language: crate::entities::SearchLanguage,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentSettings {
    /// Upload URL lifetime.
    pub upload_url_ttl_secs: u64,
    /// Age after which unconfirmed uploads are removed.
    pub pending_ttl_secs: u64,
    /// Open uploads per user.
    pub max_pending_per_user: u64,
    /// Download URL lifetime.
    pub download_url_ttl_secs: u64,
    /// Most documents one search returns (and ranks).
    pub search_max_hits: u64,
    /// Days a trashed document stays in the trash before the cleanup job deletes it for
    /// good (1–3650).
    pub trash_retention_days: u32,
    /// What confirm does with an upload whose bytes the owner already has.
    pub duplicates: DuplicatesMode,
    /// How a numeric date that reads both ways (`03/01/2024`) is taken when a document's
    /// own date is derived and nothing in the document decides.
    pub date_order: crate::extract::dates::DateOrder,
}

/// Public links (`POST /api/documents/{id}/links`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSettings {
    /// Longest lifetime a link may be given, in hours (1–87600).
    pub max_expiry_hours: u32,
}

/// Longest `links.max_expiry_hours` allowed: ten years.
pub const MAX_LINK_EXPIRY_HOURS: u32 = 87_600;

impl LinkSettings {
    fn validate(&self) -> Result<(), SettingsError> {
        if !(1..=MAX_LINK_EXPIRY_HOURS).contains(&self.max_expiry_hours) {
            return Err(SettingsError::key(
                "links.max_expiry_hours",
                format!("must be between 1 and {MAX_LINK_EXPIRY_HOURS}"),
            ));
        }
        Ok(())
    }
}

/// What confirm does with an upload whose SHA-256 matches another live document of the
/// same owner (`documents.duplicates`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DuplicatesMode {
    /// Keep it, flagged (`duplicate_of` in the document view).
    Flag,
    /// Refuse it (409 `duplicate_document`), discarding the upload.
    Reject,
}

/// The periodic cleanup job.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CleanupSettings {
    /// Run it in this instance.
    pub enabled: bool,
    /// Cron expression (with seconds), checked while loading.
    pub schedule: CronSchedule,
}

/// Processing workers and the sweeper.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsSettings {
    /// Documents processed at once by this instance.
    pub concurrency: usize,
    /// How long a worker owns a document without renewing its lease.
    pub lease_secs: u64,
    /// Attempts (crashed ones included) before a document is failed.
    pub max_attempts: u32,
    /// Sweeper period.
    pub sweep_interval_secs: u64,
    /// First delay before retrying after a transient classifier failure.
    pub retry_base_delay_secs: u64,
}

/// Outgoing signed webhooks (`/api/webhooks`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Host names or IP addresses a webhook may target although they are loopback,
    /// private, link-local… (lower-cased; IPv6 without brackets). Empty: none.
    #[serde(deserialize_with = "values::list_or_csv")]
    pub allowed_hosts: Vec<String>,
    /// Attempts per delivery before it is `failed`.
    pub max_attempts: u32,
    /// Time allowed for one attempt (connect, send, answer).
    pub timeout_secs: u64,
    /// Delay before the first retry; each further retry waits 4 times longer (at most
    /// 6 hours). 0 retries at the delivery task's next pass (tests).
    pub retry_base_secs: u64,
}

/// E-mail intake: how often mail accounts are polled and what one message may hold.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailIntakeSettings {
    /// Seconds between two polls of one mail account (instances running workers poll).
    pub poll_secs: u64,
    /// Largest message taken (RFC 822 size); a bigger one becomes a failed item unread.
    pub max_message_bytes: u64,
    /// Most MIME parts in one message; a message with more becomes a failed item.
    pub max_parts: usize,
    /// IMAP host names or IP addresses a mail account may name although they are
    /// loopback, private, link-local… (lower-cased; IPv6 without brackets). Empty: none.
    #[serde(deserialize_with = "values::list_or_csv")]
    pub allowed_hosts: Vec<String>,
}

/// Prometheus metrics (`GET /metrics`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// Serve metrics at all.
    pub enabled: bool,
    /// Separate `host:port` serving `/metrics` without authentication; empty = on the
    /// main listener, for administrators only.
    pub listen: String,
}

/// What the watched folder does with a file once it is a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IngestAfter {
    /// Delete the file.
    Delete,
    /// Move it to `{watch_dir}/{handle}/.done/<same relative path>`.
    Move,
}

/// The watched folder (`[ingest]`): each account's drop folder `{watch_dir}/{handle}/`,
/// polled by the instances that run workers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestSettings {
    /// The directory holding one folder per handle; empty = the watched folder is off.
    pub watch_dir: String,
    /// Seconds between two scans of the directory (1–3600).
    pub poll_secs: u64,
    /// A file is taken once its size and modification time have not changed for this
    /// many seconds (0–86400).
    pub stable_secs: u64,
    /// What happens to an imported file.
    pub after: IngestAfter,
}

impl IngestSettings {
    /// The watched directory, when the watched folder is on.
    pub fn dir(&self) -> Option<PathBuf> {
        let dir = self.watch_dir.trim();
        (!dir.is_empty()).then(|| PathBuf::from(dir))
    }

    fn validate(&self) -> Result<(), SettingsError> {
        if !(1..=3600).contains(&self.poll_secs) {
            return Err(SettingsError::key("ingest.poll_secs", "must be 1–3600"));
        }
        if self.stable_secs > 86_400 {
            return Err(SettingsError::key("ingest.stable_secs", "must be 0–86400"));
        }
        let dir = self.watch_dir.trim();
        if !dir.is_empty() && (!dir.starts_with('/') || dir.chars().any(char::is_control)) {
            return Err(SettingsError::key(
                "ingest.watch_dir",
                "must be an absolute path (or empty to turn the watched folder off)",
            ));
        }
        Ok(())
    }
}

/// Text extraction limits (per document, in a child process).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractSettings {
    /// Stored text cap in characters.
    pub max_chars: usize,
    /// Address-space limit of the child in MiB.
    pub memory_mb: u64,
    /// CPU-time limit of the child in seconds.
    pub cpu_secs: u64,
    /// Wall-clock limit in seconds.
    pub timeout_secs: u64,
    /// Executable re-run as the extraction child; empty = this binary.
    pub executable: String,
}

/// OCR of scans and photos (JPEG, PNG, TIFF, WebP) and of PDF pages without a text
/// layer, with Tesseract run as a child of the extraction child.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OcrSettings {
    /// Server default languages (`eng`, `deu+eng`); an account may choose its own among
    /// the installed ones.
    pub languages: OcrLanguages,
    /// Most pages OCR'd in one document; a document needing more ends `failed`.
    pub max_pages: usize,
    /// Wall-clock (and CPU) budget of one page: each tesseract or pdftoppm run.
    pub page_timeout_secs: u64,
    /// Address-space limit of each tesseract or pdftoppm run, in MiB (also bounded by
    /// `extract.memory_mb`, the limit of the process that starts them).
    pub page_memory_mb: u64,
    /// Largest page image read, in megapixels (bigger ones fail: decompression bombs).
    pub max_megapixels: u64,
    /// Resolution PDF pages without text are rendered at for OCR.
    pub render_dpi: u32,
    /// The tesseract program: a name looked up on `/usr/local/bin:/usr/bin:/bin`, or an
    /// absolute path.
    pub tesseract_command: String,
    /// AI fallback (opt-in per account, `ocr_ai_fallback`): pages Tesseract reads with a
    /// mean word confidence below this (0–100) go to the owner's vision-capable AI model.
    pub ai_fallback_below_confidence: f32,
    /// Most pages of one document sent to the AI fallback (the least confident ones);
    /// 0 turns the fallback off on this server.
    pub ai_fallback_max_pages: usize,
}

/// One attempt limit.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSetting {
    /// Attempts allowed per window.
    pub limit: u32,
    /// Window length in seconds.
    pub window_secs: u64,
}

/// Attempt limits on authentication endpoints.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    /// Master switch.
    pub enabled: bool,
    /// Login attempts per client IP.
    pub login_per_ip: LimitSetting,
    /// Login attempts per account identifier.
    pub login_per_account: LimitSetting,
    /// Registrations per client IP.
    pub register_per_ip: LimitSetting,
    /// Token refreshes per client IP.
    pub refresh_per_ip: LimitSetting,
    /// TOTP and backup-code checks per account.
    pub second_factor_per_account: LimitSetting,
    /// Password re-authentication (change, 2FA changes) per account.
    pub password_per_account: LimitSetting,
    /// "Forgot password" requests per client IP.
    pub password_reset_per_ip: LimitSetting,
    /// "Forgot password" requests per e-mail address (known or not).
    pub password_reset_per_email: LimitSetting,
    /// Public-link password attempts per client IP.
    pub link_password_per_ip: LimitSetting,
    /// Public-link password attempts per link.
    pub link_password_per_link: LimitSetting,
}

/// HTTP listener settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Interface to bind.
    pub host: String,
    /// Port to bind; 0 picks a free one (tests).
    pub port: u16,
    /// Base URL users reach this instance at. Empty (development only) = taken from each
    /// request's `Host`, or from a trusted proxy's forwarded headers.
    pub public_url: String,
    /// Origins allowed to call the API cross-origin (a list, or a comma-separated string).
    #[serde(deserialize_with = "values::list_or_csv")]
    pub cors_origins: Vec<String>,
    /// Largest accepted JSON body in bytes.
    pub json_body_limit: usize,
    /// Worker threads; 0 = one per core.
    pub workers: usize,
    /// Grace period for in-flight requests at shutdown.
    pub shutdown_timeout_secs: u64,
    /// Run job consumers inside `serve`.
    pub run_workers: bool,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Logging settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// Text or JSON lines.
    pub format: LogFormat,
    /// tracing filter directive.
    pub level: String,
}

/// Secret keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySettings {
    /// Root key for tokens and encryption at rest; empty = not configured (development
    /// then generates one in `{data_dir}/secret.key`, see `secret_key.rs`).
    pub secret_key: SecretString,
}

/// Database settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// Serving connection URL; empty = SQLite in the data dir.
    pub url: SecretString,
    /// Migration connection URL; empty = `url`.
    pub migrate_url: SecretString,
    /// Apply migrations when serving starts.
    pub auto_migrate: bool,
    /// Pool size.
    pub max_connections: u32,
    /// Seconds to wait when opening a connection.
    pub connect_timeout_secs: u64,
    /// Seconds a request waits for a free pooled connection (then 503).
    pub acquire_timeout_secs: u64,
    /// SQLite lock wait in milliseconds.
    pub sqlite_busy_timeout_ms: u64,
    /// SQLite: how much of the database file is read through a memory map, in MiB.
    pub sqlite_mmap_mib: u64,
    /// SQLite: MiB of pages one transaction may change in memory before it writes them
    /// to the WAL ahead of its commit (`PRAGMA cache_spill`); the cache shrinks back
    /// after the commit.
    pub sqlite_write_cache_mib: u64,
    /// SQLite: how often (milliseconds) a background task moves committed pages from the
    /// WAL into the database file; 0 = SQLite's own way (the commit that takes the WAL
    /// past 1 000 pages does it, while its request waits).
    pub sqlite_checkpoint_interval_ms: u64,
}

/// Which object store to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    /// S3 when an endpoint is configured, else local.
    Auto,
    /// Local directory with docuvault-signed URLs.
    Local,
    /// S3-compatible service with presigned URLs.
    S3,
}

/// Object storage settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSettings {
    /// Backend selection.
    pub backend: StorageKind,
    /// Local objects directory; empty = `{data_dir}/objects`.
    pub local_dir: String,
    /// Largest single object in bytes.
    pub max_object_bytes: u64,
    /// S3 connection.
    pub s3: S3Settings,
    /// Local uploads: a `PUT` body that sends nothing for this many seconds is cut off
    /// (408); also the grace period before `upload_min_bytes_per_sec` applies.
    pub upload_idle_timeout_secs: u64,
    /// Local uploads: after the first `upload_idle_timeout_secs`, a `PUT` must average at
    /// least this many bytes per second since it started, or it is cut off (408);
    /// 0 = no minimum.
    pub upload_min_bytes_per_sec: u64,
    /// Local uploads: the declared sizes of the `PUT`s this server receives at once are
    /// bounded by this; a `PUT` beyond it gets 503 with `Retry-After`. At least
    /// `max_object_bytes`.
    pub max_inflight_upload_bytes: u64,
}

/// S3-compatible storage settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Settings {
    /// Endpoint for server-side calls.
    pub endpoint: String,
    /// Endpoint browsers reach (presigned URLs); empty = endpoint.
    pub public_endpoint: String,
    /// Signing region.
    pub region: String,
    /// Bucket name.
    pub bucket: String,
    /// Access key id.
    pub access_key: SecretString,
    /// Secret access key.
    pub secret_key: SecretString,
    /// Create the bucket at start when missing.
    pub create_bucket: bool,
}

/// Which queue to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueKind {
    /// Redis when a URL is configured, else in-process.
    Auto,
    /// In-process queue.
    Memory,
    /// Redis lists.
    Redis,
}

/// Job queue settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSettings {
    /// Backend selection.
    pub backend: QueueKind,
    /// Redis URL.
    pub redis_url: SecretString,
    /// Prefix for every Redis key.
    pub key_prefix: String,
    /// Redis pool size.
    pub pool_size: usize,
}

/// Outgoing e-mail settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    /// SMTP relay; empty = log e-mails.
    pub host: String,
    /// SMTP port.
    pub port: u16,
    /// SMTP user.
    pub user: String,
    /// SMTP password.
    pub password: SecretString,
    /// Sender address.
    pub from: String,
}

/// Classifier defaults, guards and the server-wide provider connections.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AiSettings {
    /// Provider for users who chose none.
    pub default_provider: String,
    /// Model for that provider.
    pub default_model: String,
    /// System prompt override.
    pub system_prompt: String,
    /// Deadline of one request to a model provider.
    pub request_timeout_secs: u64,
    /// Attempts per classification for transient provider errors (1 = no retry).
    pub retry_attempts: u32,
    /// First retry delay; doubles per retry, with jitter.
    pub retry_base_delay_ms: u64,
    /// Longest single retry delay (also caps a provider's `Retry-After`).
    pub retry_max_delay_ms: u64,
    /// Characters of extracted text sent to a model (after the filename).
    pub max_input_chars: usize,
    /// Texts with fewer letters/digits than this are never classified.
    pub min_text_chars: usize,
    /// New topics a model may propose per document (when the user allows it).
    pub max_new_topics_per_document: usize,
    /// Hand-labelled documents the builtin classifier learns from (newest first).
    pub builtin_max_examples: u64,
    /// Characters of each hand-labelled document it reads.
    pub builtin_example_chars: usize,
    /// A model's topics with a confidence under this are offered to the owner as
    /// suggestions instead of filed (0 = file everything the model names).
    pub suggest_below: f64,
    /// Documents a vault re-file classifies and writes at a time (one read, one model
    /// call on its thread, one write transaction per batch).
    pub refile_batch_size: u64,
    /// Ollama server.
    pub ollama: AiProviderSettings,
    /// OpenAI-compatible server.
    pub openai: AiProviderSettings,
    /// Anthropic API.
    pub anthropic: AiProviderSettings,
}

/// How to reach one model provider, server-wide (a user's own key overrides `api_key`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AiProviderSettings {
    /// Base URL (the API paths are appended).
    pub base_url: String,
    /// Server-wide API key; empty = none.
    pub api_key: SecretString,
    /// Model when neither the user nor `ai.default_model` names one; empty = built-in.
    pub model: String,
}

impl AiSettings {
    /// The classifier providers `ai.default_provider` and users may choose.
    pub const PROVIDERS: &'static [&'static str] = &["builtin", "ollama", "openai", "anthropic"];

    fn validate(&self) -> Result<(), SettingsError> {
        if !Self::PROVIDERS.contains(&self.default_provider.as_str()) {
            return Err(SettingsError::key(
                "ai.default_provider",
                format!(
                    "{:?} is not one of {}",
                    self.default_provider,
                    Self::PROVIDERS.join(", ")
                ),
            ));
        }
        for (key, value) in [
            ("ai.request_timeout_secs", self.request_timeout_secs),
            ("ai.retry_attempts", u64::from(self.retry_attempts)),
            ("ai.max_input_chars", self.max_input_chars as u64),
        ] {
            if value == 0 {
                return Err(SettingsError::key(key, "must be > 0"));
            }
        }
        if !(1..=2000).contains(&self.refile_batch_size) {
            return Err(SettingsError::key(
                "ai.refile_batch_size",
                "must be between 1 and 2000",
            ));
        }
        if self.retry_attempts > 10 {
            return Err(SettingsError::key(
                "ai.retry_attempts",
                "must be at most 10",
            ));
        }
        if !(0.0..=1.0).contains(&self.suggest_below) {
            return Err(SettingsError::key(
                "ai.suggest_below",
                "must be between 0 and 1",
            ));
        }
        for (key, p) in [
            ("ai.ollama.base_url", &self.ollama),
            ("ai.openai.base_url", &self.openai),
            ("ai.anthropic.base_url", &self.anthropic),
        ] {
            check_http_url(key, &p.base_url)?;
        }
        Ok(())
    }
}

/// The database engine a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    /// SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

// Each section checks what its types alone cannot, naming the key; `Settings::validate`
// adds the checks that span sections (production safety) and fixes the order.

impl ServerSettings {
    fn validate(&self) -> Result<(), SettingsError> {
        if self.json_body_limit == 0 {
            return Err(SettingsError::key("server.json_body_limit", "must be > 0"));
        }
        if !self.public_url.is_empty() {
            check_http_url("server.public_url", &self.public_url)?;
        }
        for origin in &self.cors_origins {
            if origin == "*" {
                return Err(SettingsError::key(
                    "server.cors_origins",
                    "a wildcard is not allowed (credentials are sent); list the origins",
                ));
            }
            check_http_url("server.cors_origins", origin)?;
        }
        Ok(())
    }
}

impl StorageSettings {
    /// The effective backend after `auto` is resolved.
    pub fn kind(&self) -> StorageKind {
        match self.backend {
            StorageKind::Auto if self.s3.endpoint.is_empty() => StorageKind::Local,
            StorageKind::Auto => StorageKind::S3,
            other => other,
        }
    }

    fn validate(&self) -> Result<(), SettingsError> {
        if self.max_object_bytes == 0 {
            return Err(SettingsError::key(
                "storage.max_object_bytes",
                "must be > 0",
            ));
        }
        if self.upload_idle_timeout_secs == 0 {
            return Err(SettingsError::key(
                "storage.upload_idle_timeout_secs",
                "must be > 0",
            ));
        }
        if self.max_inflight_upload_bytes < self.max_object_bytes {
            return Err(SettingsError::key(
                "storage.max_inflight_upload_bytes",
                "must be at least storage.max_object_bytes",
            ));
        }
        if self.kind() == StorageKind::S3 {
            self.s3.validate()?;
        }
        Ok(())
    }
}

impl S3Settings {
    fn validate(&self) -> Result<(), SettingsError> {
        if self.endpoint.is_empty() {
            return Err(SettingsError::key(
                "storage.s3.endpoint",
                "required when storage.backend = \"s3\"",
            ));
        }
        check_http_url("storage.s3.endpoint", &self.endpoint)?;
        if !self.public_endpoint.is_empty() {
            check_http_url("storage.s3.public_endpoint", &self.public_endpoint)?;
        }
        for (key, value) in [
            ("storage.s3.bucket", self.bucket.as_str()),
            ("storage.s3.region", self.region.as_str()),
            ("storage.s3.access_key", self.access_key.expose_secret()),
            ("storage.s3.secret_key", self.secret_key.expose_secret()),
        ] {
            if value.is_empty() {
                return Err(SettingsError::key(key, "required for S3 storage"));
            }
        }
        Ok(())
    }
}

impl DatabaseSettings {
    fn validate(&self) -> Result<(), SettingsError> {
        if self.sqlite_mmap_mib > MAX_SQLITE_MMAP_MIB {
            return Err(SettingsError::key(
                "database.sqlite_mmap_mib",
                format!("must be at most {MAX_SQLITE_MMAP_MIB}"),
            ));
        }
        if self.sqlite_write_cache_mib > MAX_SQLITE_WRITE_CACHE_MIB {
            return Err(SettingsError::key(
                "database.sqlite_write_cache_mib",
                format!("must be at most {MAX_SQLITE_WRITE_CACHE_MIB}"),
            ));
        }
        if self.max_connections == 0 {
            return Err(SettingsError::key(
                "database.max_connections",
                "must be > 0",
            ));
        }
        for (key, url) in [
            ("database.url", self.url.expose_secret()),
            ("database.migrate_url", self.migrate_url.expose_secret()),
        ] {
            if !url.is_empty() && database_kind(url).is_none() {
                return Err(SettingsError::key(
                    key,
                    "must start with postgres://, postgresql:// or sqlite:",
                ));
            }
        }
        if !self.migrate_url.expose_secret().is_empty() && self.url.expose_secret().is_empty() {
            return Err(SettingsError::key(
                "database.url",
                "required when database.migrate_url is set",
            ));
        }
        Ok(())
    }
}

impl QueueSettings {
    /// The effective backend after `auto` is resolved.
    pub fn kind(&self) -> QueueKind {
        match self.backend {
            QueueKind::Auto if self.redis_url.expose_secret().is_empty() => QueueKind::Memory,
            QueueKind::Auto => QueueKind::Redis,
            other => other,
        }
    }

    fn validate(&self) -> Result<(), SettingsError> {
        if self.pool_size == 0 {
            return Err(SettingsError::key("queue.pool_size", "must be > 0"));
        }
        if self.kind() == QueueKind::Redis {
            let url = self.redis_url.expose_secret();
            if url.is_empty() {
                return Err(SettingsError::key(
                    "queue.redis_url",
                    "required when queue.backend = \"redis\"",
                ));
            }
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                return Err(SettingsError::key(
                    "queue.redis_url",
                    "must start with redis:// or rediss://",
                ));
            }
        }
        Ok(())
    }
}

impl AuthSettings {
    fn validate(&self) -> Result<(), SettingsError> {
        for (key, value) in [
            ("auth.access_token_ttl_secs", self.access_token_ttl_secs),
            ("auth.refresh_idle_ttl_secs", self.refresh_idle_ttl_secs),
            ("auth.session_max_age_secs", self.session_max_age_secs),
            ("auth.argon2_iterations", u64::from(self.argon2_iterations)),
            (
                "auth.argon2_parallelism",
                u64::from(self.argon2_parallelism),
            ),
        ] {
            if value == 0 {
                return Err(SettingsError::key(key, "must be > 0"));
            }
        }
        if self.argon2_memory_kib < 8 * self.argon2_parallelism {
            return Err(SettingsError::key(
                "auth.argon2_memory_kib",
                "must be at least 8 × argon2_parallelism",
            ));
        }
        Ok(())
    }
}

impl DocumentSettings {
    fn validate(&self) -> Result<(), SettingsError> {
        if self.upload_url_ttl_secs == 0 || self.upload_url_ttl_secs >= self.pending_ttl_secs {
            return Err(SettingsError::key(
                "documents.upload_url_ttl_secs",
                "must be > 0 and shorter than documents.pending_ttl_secs",
            ));
        }
        if self.download_url_ttl_secs == 0 {
            return Err(SettingsError::key(
                "documents.download_url_ttl_secs",
                "must be > 0",
            ));
        }
        if !(1..=MAX_SEARCH_HITS).contains(&self.search_max_hits) {
            return Err(SettingsError::key(
                "documents.search_max_hits",
                format!("must be between 1 and {MAX_SEARCH_HITS}"),
            ));
        }
        if !(1..=3650).contains(&self.trash_retention_days) {
            return Err(SettingsError::key(
                "documents.trash_retention_days",
                "must be between 1 and 3650",
            ));
        }
        Ok(())
    }
}

impl JobsSettings {
    fn validate(&self) -> Result<(), SettingsError> {
        if self.concurrency == 0 || self.concurrency > 256 {
            return Err(SettingsError::key("jobs.concurrency", "must be 1–256"));
        }
        if self.lease_secs < 3 {
            return Err(SettingsError::key("jobs.lease_secs", "must be at least 3"));
        }
        if self.max_attempts == 0 || self.max_attempts > 100 {
            return Err(SettingsError::key("jobs.max_attempts", "must be 1–100"));
        }
        if self.sweep_interval_secs == 0 {
            return Err(SettingsError::key(
                "jobs.sweep_interval_secs",
                "must be > 0",
            ));
        }
        Ok(())
    }
}

/// Whether `host` (a name, an IPv4 address or an IPv6 address with or without brackets)
/// is in the operator's list `allowed`.
fn host_listed(allowed: &[String], host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    allowed.iter().any(|h| h.eq_ignore_ascii_case(host))
}

/// Every entry of an `allowed_hosts` list (setting `key`) is a bare host name or IP
/// address: no scheme, port or path.
fn validate_hosts(key: &'static str, allowed: &[String]) -> Result<(), SettingsError> {
    for host in allowed {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if bare.is_empty()
            || bare.contains(['/', ':']) && bare.parse::<std::net::Ipv6Addr>().is_err()
        {
            return Err(SettingsError::key(
                key,
                format!("{host:?} is not a host name or IP address (no scheme, port or path)"),
            ));
        }
    }
    Ok(())
}

impl WebhookSettings {
    /// Whether `host` (a URL's host: a name, an IPv4 address or an IPv6 address without
    /// brackets) is listed in `allowed_hosts`.
    pub fn allows(&self, host: &str) -> bool {
        host_listed(&self.allowed_hosts, host)
    }

    fn validate(&self) -> Result<(), SettingsError> {
        if self.max_attempts == 0 || self.max_attempts > 100 {
            return Err(SettingsError::key("webhooks.max_attempts", "must be 1–100"));
        }
        if self.timeout_secs == 0 || self.timeout_secs > 300 {
            return Err(SettingsError::key("webhooks.timeout_secs", "must be 1–300"));
        }
        if self.retry_base_secs > 3600 {
            return Err(SettingsError::key(
                "webhooks.retry_base_secs",
                "must be 0–3600",
            ));
        }
        validate_hosts("webhooks.allowed_hosts", &self.allowed_hosts)
    }
}

impl MailIntakeSettings {
    /// Whether the IMAP `host` is listed in `allowed_hosts`.
    pub fn allows(&self, host: &str) -> bool {
        host_listed(&self.allowed_hosts, host)
    }

    fn validate(&self) -> Result<(), SettingsError> {
        validate_hosts("mail_intake.allowed_hosts", &self.allowed_hosts)?;
        if self.poll_secs == 0 {
            return Err(SettingsError::key("mail_intake.poll_secs", "must be > 0"));
        }
        if self.max_message_bytes == 0 || self.max_message_bytes > 1 << 30 {
            return Err(SettingsError::key(
                "mail_intake.max_message_bytes",
                "must be 1 byte to 1 GiB",
            ));
        }
        if self.max_parts == 0 || self.max_parts > 100_000 {
            return Err(SettingsError::key(
                "mail_intake.max_parts",
                "must be 1–100000",
            ));
        }
        Ok(())
    }
}

impl MetricsSettings {
    fn validate(&self) -> Result<(), SettingsError> {
        if !self.listen.is_empty() && self.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(SettingsError::key(
                "metrics.listen",
                "must be host:port with a numeric address, e.g. 127.0.0.1:9090",
            ));
        }
        Ok(())
    }
}

impl ExtractSettings {
    fn validate(&self) -> Result<(), SettingsError> {
        if self.max_chars == 0 {
            return Err(SettingsError::key("extract.max_chars", "must be > 0"));
        }
        if self.memory_mb < 64 {
            return Err(SettingsError::key(
                "extract.memory_mb",
                "must be at least 64",
            ));
        }
        if self.cpu_secs == 0 || self.timeout_secs == 0 {
            return Err(SettingsError::key(
                "extract.timeout_secs",
                "extract.cpu_secs and extract.timeout_secs must be > 0",
            ));
        }
        Ok(())
    }
}

/// Most pages of one document `ocr.ai_fallback_max_pages` may allow.
const MAX_AI_FALLBACK_PAGES: usize = 50;

impl OcrSettings {
    fn validate(&self) -> Result<(), SettingsError> {
        if !(1..=10_000).contains(&self.max_pages) {
            return Err(SettingsError::key("ocr.max_pages", "must be 1–10000"));
        }
        if !(1..=3600).contains(&self.page_timeout_secs) {
            return Err(SettingsError::key(
                "ocr.page_timeout_secs",
                "must be 1–3600",
            ));
        }
        if self.page_memory_mb < 128 {
            return Err(SettingsError::key(
                "ocr.page_memory_mb",
                "must be at least 128 (tesseract needs about 250 MB of address space)",
            ));
        }
        if !(1..=1000).contains(&self.max_megapixels) {
            return Err(SettingsError::key("ocr.max_megapixels", "must be 1–1000"));
        }
        if !(72..=600).contains(&self.render_dpi) {
            return Err(SettingsError::key("ocr.render_dpi", "must be 72–600"));
        }
        let command = self.tesseract_command.trim();
        if command.is_empty() || command.chars().any(char::is_control) {
            return Err(SettingsError::key(
                "ocr.tesseract_command",
                "must be a program name or an absolute path",
            ));
        }
        if command.contains('/') && !command.starts_with('/') {
            return Err(SettingsError::key(
                "ocr.tesseract_command",
                "a path must be absolute (the extraction child runs with an empty environment)",
            ));
        }
        if !(0.0..=100.0).contains(&self.ai_fallback_below_confidence) {
            return Err(SettingsError::key(
                "ocr.ai_fallback_below_confidence",
                "must be 0–100 (a mean word confidence)",
            ));
        }
        if self.ai_fallback_max_pages > MAX_AI_FALLBACK_PAGES {
            return Err(SettingsError::key(
                "ocr.ai_fallback_max_pages",
                "must be 0–50",
            ));
        }
        Ok(())
    }
}

impl QuotaSettings {
    fn validate(&self) -> Result<(), SettingsError> {
        if self.default_limit_bytes < 0 {
            return Err(SettingsError::key(
                "quota.default_limit_bytes",
                "must be >= 0",
            ));
        }
        Ok(())
    }
}

impl SecuritySettings {
    /// `SECRET_KEY`: the published development key is refused in every mode; production
    /// needs an explicit key of at least 32 characters; development may leave it empty
    /// (a key is then generated in the data directory).
    fn validate(&self, environment: RunEnvironment) -> Result<(), SettingsError> {
        let key = self.secret_key.expose_secret().trim();
        if key == crate::crypto::PUBLISHED_DEVELOPMENT_KEY {
            return Err(SettingsError::key(
                "security.secret_key",
                "this is the development key published in DocuVault's repository, so anyone can \
                 forge tokens with it; unset it (development generates a key in the data \
                 directory) or set a random value, e.g. `openssl rand -hex 32`. Secrets sealed \
                 with it are re-sealed under the new key at the next start",
            ));
        }
        if environment == RunEnvironment::Production {
            if key.is_empty() {
                return Err(SettingsError::key(
                    "security.secret_key",
                    "required in production (every instance must share it): set a random value \
                     of at least 32 characters, e.g. `openssl rand -hex 32`",
                ));
            }
            if key.len() < MIN_PRODUCTION_SECRET_LEN {
                return Err(SettingsError::key(
                    "security.secret_key",
                    format!(
                        "must be at least {MIN_PRODUCTION_SECRET_LEN} characters in production"
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl LogSettings {
    fn validate(&self) -> Result<(), SettingsError> {
        tracing_subscriber::EnvFilter::try_new(&self.level)
            .map(|_| ())
            .map_err(|e| SettingsError::key("log.level", e))
    }
}

impl Settings {
    /// Loads settings from the compiled-in defaults, an optional file and `env`
    /// (pass `std::env::vars().collect()` in production; tests pass their own map).
    pub fn load(
        config_file: Option<&Path>,
        env: &HashMap<String, String>,
    ) -> Result<Settings, SettingsError> {
        let mut builder =
            Config::builder().add_source(File::from_str(DEFAULT_CONFIG, FileFormat::Toml));
        if let Some(path) = config_file {
            if !path.is_file() {
                return Err(SettingsError(format!(
                    "--config: file {} not found",
                    path.display()
                )));
            }
            builder = builder.add_source(File::from(path).required(true));
        }

        let legacy: config::Map<String, String> = LEGACY_ENV
            .iter()
            .filter_map(|(name, key)| {
                env.get(*name)
                    .map(|v| (key.replace('.', "__").to_uppercase(), v.clone()))
            })
            .collect();
        let structured: config::Map<String, String> = env
            .iter()
            .filter(|(k, _)| k.starts_with(ENV_PREFIX))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();

        builder = builder
            .add_source(
                EnvSource::default()
                    .separator("__")
                    .ignore_empty(true)
                    .source(Some(legacy)),
            )
            .add_source(
                EnvSource::with_prefix("DOCUVAULT")
                    .prefix_separator("__")
                    .separator("__")
                    .ignore_empty(true)
                    .source(Some(structured)),
            );

        let mut settings: Settings = builder
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(describe_config_error)?;
        settings.bootstrap_admin = bootstrap_admin(env)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks what types alone cannot, section by section (each names its key), then
    /// what spans sections: production needs the public URL.
    fn validate(&self) -> Result<(), SettingsError> {
        self.server.validate()?;
        self.storage.validate()?;
        self.database.validate()?;
        self.queue.validate()?;
        self.auth.validate()?;
        self.documents.validate()?;
        self.jobs.validate()?;
        self.metrics.validate()?;
        self.webhooks.validate()?;
        self.extract.validate()?;
        self.ocr.validate()?;
        self.quota.validate()?;
        self.ingest.validate()?;
        self.mail_intake.validate()?;
        self.links.validate()?;
        self.security.validate(self.environment)?;
        if self.environment == RunEnvironment::Production && self.server.public_url.is_empty() {
            return Err(SettingsError::key(
                "server.public_url",
                "required in production: the https:// address people reach this instance at \
                 (upload, download and e-mail links are built on it, never on request headers)",
            ));
        }
        self.ai.validate()?;
        self.log.validate()
    }

    /// The configured `SECRET_KEY`, or `None` when it is empty (not configured).
    pub fn configured_secret_key(&self) -> Option<&str> {
        let key = self.security.secret_key.expose_secret().trim();
        (!key.is_empty()).then_some(key)
    }

    /// Where the generated root secret lives when `SECRET_KEY` is not configured.
    pub fn secret_key_file(&self) -> PathBuf {
        self.data_dir.join("secret.key")
    }

    /// The effective storage backend after `auto` is resolved.
    pub fn storage_kind(&self) -> StorageKind {
        self.storage.kind()
    }

    /// The effective queue backend after `auto` is resolved.
    pub fn queue_kind(&self) -> QueueKind {
        self.queue.kind()
    }

    /// The URL the server pool connects to.
    pub fn database_url(&self) -> String {
        let url = self.database.url.expose_secret();
        if url.is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("docuvault.db").display()
            )
        } else {
            url.to_owned()
        }
    }

    /// The URL migrations run on.
    pub fn database_migrate_url(&self) -> String {
        let url = self.database.migrate_url.expose_secret();
        if url.is_empty() {
            self.database_url()
        } else {
            url.to_owned()
        }
    }

    /// The engine behind [`Self::database_url`].
    pub fn database_kind(&self) -> DatabaseKind {
        database_kind(&self.database_url()).unwrap_or(DatabaseKind::Sqlite)
    }

    /// Directory of the local object store.
    pub fn local_objects_dir(&self) -> PathBuf {
        if self.storage.local_dir.is_empty() {
            self.data_dir.join("objects")
        } else {
            PathBuf::from(&self.storage.local_dir)
        }
    }

    /// Whether anything is kept under `data_dir` (SQLite or local objects).
    pub fn uses_data_dir(&self) -> bool {
        self.database.url.expose_secret().is_empty()
            || self.database_kind() == DatabaseKind::Sqlite
            || (self.storage_kind() == StorageKind::Local && self.storage.local_dir.is_empty())
    }

    /// Whether `name` is an environment variable this binary reads.
    pub fn is_known_env_var(name: &str) -> bool {
        if LEGACY_ENV.iter().any(|(n, _)| *n == name) || OTHER_ENV.contains(&name) {
            return true;
        }
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
            return false;
        };
        let key = rest.to_lowercase().replace("__", ".");
        setting_keys().contains(&key)
    }
}

/// Every settings key (dotted), read off the compiled-in defaults, which list them all.
pub fn setting_keys() -> Vec<String> {
    fn walk(prefix: &str, table: config::Map<String, config::Value>, out: &mut Vec<String>) {
        for (k, v) in table {
            let key = if prefix.is_empty() {
                k
            } else {
                format!("{prefix}.{k}")
            };
            match v.clone().into_table() {
                Ok(inner) => walk(&key, inner, out),
                Err(_) => out.push(key),
            }
        }
    }
    let mut out = Vec::new();
    if let Ok(table) = Config::builder()
        .add_source(File::from_str(DEFAULT_CONFIG, FileFormat::Toml))
        .build()
        .and_then(|c| c.try_deserialize::<config::Map<String, config::Value>>())
    {
        walk("", table, &mut out);
    }
    out.sort();
    out
}

/// Reads `DOCUVAULT_ADMIN_EMAIL` / `_HANDLE` / `_PASSWORD` for the first-start admin; an
/// e-mail needs a password (a password alone is for `docuvault admin create`).
fn bootstrap_admin(env: &HashMap<String, String>) -> Result<Option<BootstrapAdmin>, SettingsError> {
    let get = |k: &str| env.get(k).filter(|v| !v.is_empty()).cloned();
    match (
        get("DOCUVAULT_ADMIN_EMAIL"),
        get("DOCUVAULT_ADMIN_PASSWORD"),
    ) {
        (None, None) => Ok(None),
        (Some(email), Some(password)) => Ok(Some(BootstrapAdmin {
            email,
            handle: get("DOCUVAULT_ADMIN_HANDLE").unwrap_or_else(|| "admin".into()),
            password: SecretString::from(password),
        })),
        (Some(_), None) => Err(SettingsError(
            "DOCUVAULT_ADMIN_PASSWORD: required when DOCUVAULT_ADMIN_EMAIL is set".into(),
        )),
        // The password alone is what `docuvault admin create` reads: no bootstrap.
        (None, Some(_)) => Ok(None),
    }
}

fn database_kind(url: &str) -> Option<DatabaseKind> {
    if url.starts_with("sqlite:") {
        Some(DatabaseKind::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Some(DatabaseKind::Postgres)
    } else {
        None
    }
}

fn check_http_url(key: &str, value: &str) -> Result<(), SettingsError> {
    match url::Url::parse(value) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host().is_some() => Ok(()),
        _ => Err(SettingsError::key(
            key,
            format!("{value:?} is not an http(s) URL"),
        )),
    }
}

/// Keys whose values check themselves while deserialising (see [`values`]): their
/// problems read like every other check, `key (PREDECESSOR_NAME): problem`.
const SELF_CHECKED_KEYS: &[&str] = &["auth.trusted_proxies", "cleanup.schedule"];

/// Turns config-rs errors into one line that names the key.
fn describe_config_error(e: config::ConfigError) -> SettingsError {
    if let config::ConfigError::At {
        error,
        key: Some(key),
        ..
    } = &e
        && let config::ConfigError::Message(problem) = error.as_ref()
        && SELF_CHECKED_KEYS.contains(&key.as_str())
    {
        return SettingsError::key(key, problem);
    }
    // config-rs says "... for key `server.port` in the environment"; keep it, it names the key.
    SettingsError(e.to_string().replace('\n', " "))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn err(pairs: &[(&str, &str)]) -> String {
        Settings::load(None, &env(pairs)).unwrap_err().to_string()
    }

    #[test]
    fn no_configuration_means_embedded_defaults() {
        let s = Settings::load(None, &HashMap::new()).unwrap();
        assert_eq!(s.server.host, "127.0.0.1");
        assert_eq!(s.server.port, 8080);
        assert_eq!(s.database_kind(), DatabaseKind::Sqlite);
        assert_eq!(s.database_url(), "sqlite://./data/docuvault.db?mode=rwc");
        assert_eq!(s.storage_kind(), StorageKind::Local);
        assert_eq!(s.local_objects_dir(), PathBuf::from("./data/objects"));
        assert_eq!(s.queue_kind(), QueueKind::Memory);
        assert!(s.uses_data_dir());
    }

    #[test]
    fn predecessor_names_are_accepted_and_select_backends() {
        let s = Settings::load(
            None,
            &env(&[
                ("DATABASE_URL", "postgres://u:p@db/docuvault"),
                ("DATABASE_MIGRATE_URL", "postgres://owner:pw@db/docuvault"),
                ("REDIS_URL", "redis://redis:6379/0"),
                ("MINIO_ENDPOINT", "http://minio:9000"),
                ("MINIO_PUBLIC_ENDPOINT", "http://localhost:9000"),
                ("MINIO_ACCESS_KEY", "12345"),
                ("MINIO_SECRET_KEY", "secret"),
                ("MINIO_BUCKET", "docs"),
                (
                    "CORS_ORIGINS",
                    "http://localhost:5173,https://vault.example.com",
                ),
                ("SMTP_PORT", "2525"),
                ("DEFAULT_AI_PROVIDER", "ollama"),
            ]),
        )
        .unwrap();
        assert_eq!(s.database_kind(), DatabaseKind::Postgres);
        assert_eq!(s.database_migrate_url(), "postgres://owner:pw@db/docuvault");
        assert_eq!(s.queue_kind(), QueueKind::Redis);
        assert_eq!(s.storage_kind(), StorageKind::S3);
        assert_eq!(s.storage.s3.bucket, "docs");
        assert_eq!(s.storage.s3.access_key.expose_secret(), "12345");
        assert_eq!(
            s.server.cors_origins,
            vec!["http://localhost:5173", "https://vault.example.com"]
        );
        assert_eq!(s.smtp.port, 2525);
        assert_eq!(s.ai.default_provider, "ollama");
        assert!(!s.uses_data_dir());
    }

    #[test]
    fn structured_env_wins_over_predecessor_names() {
        let s = Settings::load(
            None,
            &env(&[
                ("MINIO_BUCKET", "legacy"),
                ("MINIO_ENDPOINT", "http://minio:9000"),
                ("MINIO_ACCESS_KEY", "a"),
                ("MINIO_SECRET_KEY", "b"),
                ("DOCUVAULT__STORAGE__S3__BUCKET", "modern"),
                ("DOCUVAULT__SERVER__PORT", "9090"),
            ]),
        )
        .unwrap();
        assert_eq!(s.storage.s3.bucket, "modern");
        assert_eq!(s.server.port, 9090);
    }

    #[test]
    fn trash_retention_and_duplicates_mode_are_checked() {
        let s = Settings::load(None, &HashMap::new()).unwrap();
        assert_eq!(s.documents.trash_retention_days, 30);
        assert_eq!(s.documents.duplicates, DuplicatesMode::Flag);
        let s = Settings::load(
            None,
            &env(&[
                ("DOCUVAULT__DOCUMENTS__TRASH_RETENTION_DAYS", "3650"),
                ("DOCUVAULT__DOCUMENTS__DUPLICATES", "reject"),
            ]),
        )
        .unwrap();
        assert_eq!(s.documents.trash_retention_days, 3650);
        assert_eq!(s.documents.duplicates, DuplicatesMode::Reject);
        for days in ["0", "3651"] {
            let e = err(&[("DOCUVAULT__DOCUMENTS__TRASH_RETENTION_DAYS", days)]);
            assert!(e.contains("documents.trash_retention_days"), "{days}: {e}");
        }
        let e = err(&[("DOCUVAULT__DOCUMENTS__DUPLICATES", "ignore")]);
        assert!(e.contains("duplicates"), "{e}");
    }

    #[test]
    fn the_date_order_is_day_first_unless_set() {
        use crate::extract::dates::DateOrder;
        let s = Settings::load(None, &HashMap::new()).unwrap();
        assert_eq!(s.documents.date_order, DateOrder::Dmy);
        let s = Settings::load(None, &env(&[("DOCUVAULT__DOCUMENTS__DATE_ORDER", "mdy")])).unwrap();
        assert_eq!(s.documents.date_order, DateOrder::Mdy);
        let e = err(&[("DOCUVAULT__DOCUMENTS__DATE_ORDER", "ymd")]);
        assert!(e.contains("date_order"), "{e}");
    }

    #[test]
    fn empty_variables_count_as_unset() {
        let s = Settings::load(None, &env(&[("DATABASE_URL", ""), ("REDIS_URL", "")])).unwrap();
        assert_eq!(s.database_kind(), DatabaseKind::Sqlite);
        assert_eq!(s.queue_kind(), QueueKind::Memory);
    }

    #[test]
    fn a_file_overrides_defaults_and_env_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("docuvault.toml");
        std::fs::write(&file, "[server]\nport = 7000\nhost = \"0.0.0.0\"\n").unwrap();
        let s = Settings::load(Some(&file), &env(&[("DOCUVAULT__SERVER__PORT", "7001")])).unwrap();
        assert_eq!(s.server.host, "0.0.0.0");
        assert_eq!(s.server.port, 7001);

        let yaml = dir.path().join("docuvault.yaml");
        std::fs::write(&yaml, "server:\n  port: 7002\n").unwrap();
        assert_eq!(
            Settings::load(Some(&yaml), &HashMap::new())
                .unwrap()
                .server
                .port,
            7002
        );

        let missing = dir.path().join("missing.toml");
        assert!(
            Settings::load(Some(&missing), &HashMap::new())
                .unwrap_err()
                .to_string()
                .contains("missing.toml")
        );
    }

    #[test]
    fn errors_name_the_key() {
        assert!(err(&[("DOCUVAULT__SERVER__PORT", "abc")]).contains("server.port"));
        assert!(err(&[("DOCUVAULT__SERVER__PORT", "70000")]).contains("server.port"));
        assert!(err(&[("DOCUVAULT__SERVER__PROT", "1")]).contains("prot"));
        assert!(err(&[("DOCUVAULT__STORAGE__BACKEND", "s3")]).contains("storage.s3.endpoint"));
        assert!(err(&[("DOCUVAULT__STORAGE__BACKEND", "ftp")]).contains("backend"));
        assert!(err(&[("DATABASE_URL", "mysql://x")]).contains("database.url (DATABASE_URL)"));
        assert!(err(&[("REDIS_URL", "localhost:6379")]).contains("queue.redis_url (REDIS_URL)"));
        assert!(err(&[("MINIO_ENDPOINT", "http://minio:9000")]).contains("storage.s3.access_key"));
        assert!(err(&[("CORS_ORIGINS", "not a url")]).contains("server.cors_origins"));
        assert!(err(&[("DOCUVAULT__LOG__FORMAT", "xml")]).contains("format"));
        for e in [
            err(&[("DOCUVAULT__SERVER__PORT", "abc")]),
            err(&[("DOCUVAULT__STORAGE__BACKEND", "s3")]),
        ] {
            assert!(!e.contains('\n'), "one line: {e}");
        }
    }

    #[test]
    fn the_cleanup_schedule_must_be_a_cron_expression_with_seconds() {
        for bad in ["every half hour", "*/30 * * * *", "0 61 * * * *"] {
            let e = err(&[("DOCUVAULT__CLEANUP__SCHEDULE", bad)]);
            assert!(e.contains("cleanup.schedule"), "{bad}: {e}");
        }
        let s = Settings::load(
            None,
            &env(&[("DOCUVAULT__CLEANUP__SCHEDULE", "*/5 * * * * *")]),
        )
        .unwrap();
        assert_eq!(s.cleanup.schedule.as_str(), "*/5 * * * * *");
        assert_eq!(
            err(&[("DOCUVAULT__CLEANUP__SCHEDULE", "every half hour")]),
            "cleanup.schedule: \"every half hour\" is not a valid cron expression; use six \
             fields with seconds: sec min hour day month weekday (e.g. \"0 */30 * * * *\")"
        );
    }

    #[test]
    fn trusted_proxies_are_parsed_once_while_loading() {
        let s = Settings::load(
            None,
            &env(&[("DOCUVAULT__AUTH__TRUSTED_PROXIES", "10.0.0.0/8, ::1")]),
        )
        .unwrap();
        let shown: Vec<String> = s
            .auth
            .trusted_proxies
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(shown, ["10.0.0.0/8", "::1/128"]);
        assert!(
            Settings::load(None, &HashMap::new())
                .unwrap()
                .auth
                .trusted_proxies
                .is_empty()
        );
        assert_eq!(
            err(&[("DOCUVAULT__AUTH__TRUSTED_PROXIES", "10.0.0.0/8, garbage")]),
            "auth.trusted_proxies: \"garbage\" is neither an IP address nor a CIDR range \
             (like 10.0.0.0/8 or fd00::/8)"
        );
    }

    const PRODUCTION_KEY: &str = "0123456789abcdef0123456789abcdef-long-enough";

    #[test]
    fn production_needs_an_explicit_long_key() {
        let public = ("DOCUVAULT__SERVER__PUBLIC_URL", "https://vault.example.com");
        let e = err(&[("DOCUVAULT__ENVIRONMENT", "production"), public]);
        assert!(e.contains("security.secret_key (SECRET_KEY)"), "{e}");
        assert!(e.contains("required in production"), "{e}");
        let e = err(&[
            ("DOCUVAULT__ENVIRONMENT", "production"),
            ("SECRET_KEY", "short"),
            public,
        ]);
        assert!(e.contains("32"), "{e}");
        Settings::load(
            None,
            &env(&[
                ("DOCUVAULT__ENVIRONMENT", "production"),
                ("SECRET_KEY", PRODUCTION_KEY),
                public,
            ]),
        )
        .unwrap();
    }

    #[test]
    fn the_published_development_key_is_refused_in_every_mode() {
        for mode in ["development", "production"] {
            for key in [
                crate::crypto::PUBLISHED_DEVELOPMENT_KEY.to_owned(),
                format!(" {}\n", crate::crypto::PUBLISHED_DEVELOPMENT_KEY),
            ] {
                let e = err(&[
                    ("DOCUVAULT__ENVIRONMENT", mode),
                    ("DOCUVAULT__SERVER__PUBLIC_URL", "https://vault.example.com"),
                    ("SECRET_KEY", &key),
                ]);
                assert!(e.contains("security.secret_key (SECRET_KEY)"), "{e}");
                assert!(e.contains("published"), "{e}");
                assert!(!e.contains(crate::crypto::PUBLISHED_DEVELOPMENT_KEY), "{e}");
            }
        }
    }

    #[test]
    fn no_key_is_shipped_and_empty_means_not_configured() {
        assert!(!DEFAULT_CONFIG.contains(crate::crypto::PUBLISHED_DEVELOPMENT_KEY));
        let s = Settings::load(None, &HashMap::new()).unwrap();
        assert_eq!(s.configured_secret_key(), None);
        assert_eq!(s.secret_key_file(), PathBuf::from("./data/secret.key"));
        let s = Settings::load(None, &env(&[("DOCUVAULT__SECURITY__SECRET_KEY", "  ")])).unwrap();
        assert_eq!(s.configured_secret_key(), None);
        let s = Settings::load(None, &env(&[("SECRET_KEY", "dev-key")])).unwrap();
        assert_eq!(s.configured_secret_key(), Some("dev-key"));
    }

    #[test]
    fn production_requires_the_public_url() {
        let e = err(&[
            ("DOCUVAULT__ENVIRONMENT", "production"),
            ("SECRET_KEY", PRODUCTION_KEY),
        ]);
        assert!(e.contains("server.public_url"), "{e}");
        assert!(e.contains("required in production"), "{e}");
        // Development derives it from requests.
        Settings::load(None, &env(&[("SECRET_KEY", PRODUCTION_KEY)])).unwrap();
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let s = Settings::load(
            None,
            &env(&[
                ("SECRET_KEY", "topsecret-key-value"),
                ("DATABASE_URL", "postgres://u:hunter2@db/x"),
                ("MINIO_ENDPOINT", "http://minio:9000"),
                ("MINIO_ACCESS_KEY", "AKIAEXAMPLE"),
                ("MINIO_SECRET_KEY", "s3-secret-value"),
                ("SMTP_PASSWORD", "smtp-pass-value"),
                ("REDIS_URL", "redis://:redispass@redis:6379"),
            ]),
        )
        .unwrap();
        let debug = format!("{s:?}");
        for secret in [
            "topsecret-key-value",
            "hunter2",
            "AKIAEXAMPLE",
            "s3-secret-value",
            "smtp-pass-value",
            "redispass",
        ] {
            assert!(!debug.contains(secret), "{secret} leaked in {debug}");
        }
    }

    #[test]
    fn known_env_vars_cover_every_setting_and_nothing_else() {
        let keys = setting_keys();
        assert!(keys.contains(&"server.port".to_owned()));
        assert!(keys.contains(&"storage.s3.public_endpoint".to_owned()));
        assert!(Settings::is_known_env_var("DOCUVAULT__SERVER__PORT"));
        assert!(Settings::is_known_env_var(
            "DOCUVAULT__STORAGE__S3__PUBLIC_ENDPOINT"
        ));
        assert!(Settings::is_known_env_var("MINIO_PUBLIC_ENDPOINT"));
        assert!(!Settings::is_known_env_var("DOCUVAULT__SERVER__PROT"));
        assert!(!Settings::is_known_env_var("MINIO_REGION"));
        // Every key the defaults list is settable through the environment.
        for key in keys {
            let name = format!("{ENV_PREFIX}{}", key.replace('.', "__").to_uppercase());
            assert!(Settings::is_known_env_var(&name), "{name}");
        }
    }

    #[test]
    fn the_ocr_ai_fallback_is_bounded() {
        let s = Settings::load(None, &HashMap::new()).unwrap();
        assert_eq!(s.ocr.ai_fallback_below_confidence, 60.0);
        assert_eq!(s.ocr.ai_fallback_max_pages, 3);
        let s = Settings::load(
            None,
            &env(&[
                ("DOCUVAULT__OCR__AI_FALLBACK_BELOW_CONFIDENCE", "72.5"),
                ("DOCUVAULT__OCR__AI_FALLBACK_MAX_PAGES", "0"),
            ]),
        )
        .unwrap();
        assert_eq!(s.ocr.ai_fallback_below_confidence, 72.5);
        assert_eq!(s.ocr.ai_fallback_max_pages, 0);
        for (key, value) in [
            ("DOCUVAULT__OCR__AI_FALLBACK_BELOW_CONFIDENCE", "101"),
            ("DOCUVAULT__OCR__AI_FALLBACK_BELOW_CONFIDENCE", "-1"),
            ("DOCUVAULT__OCR__AI_FALLBACK_BELOW_CONFIDENCE", "NaN"),
            ("DOCUVAULT__OCR__AI_FALLBACK_MAX_PAGES", "51"),
        ] {
            let e = err(&[(key, value)]);
            assert!(e.contains("ocr.ai_fallback"), "{key}={value}: {e}");
        }
    }
}
