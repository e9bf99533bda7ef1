//! The security audit log: one row per event, with actor, subject, IP, time and outcome.
//!
//! Rows never contain passwords, codes, tokens or secrets; callers pass identifiers only.

use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait, Set};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::entities::audit_log;

/// What happened. Stored as its snake_case name in `audit_log.event_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditEvent {
    /// Self-service registration.
    UserRegistered,
    /// Password (and second factor, if on) accepted.
    LoginSucceeded,
    /// Wrong credentials, unknown account or disabled account.
    LoginFailed,
    /// A TOTP code was accepted.
    TotpVerified,
    /// A TOTP code was rejected.
    TotpFailed,
    /// A backup code was consumed.
    BackupCodeUsed,
    /// A backup code was rejected.
    BackupCodeFailed,
    /// A rotated refresh token was presented again; its session was revoked.
    RefreshReuseDetected,
    /// The password was changed.
    PasswordChanged,
    /// Two-factor authentication was turned on.
    TotpEnabled,
    /// Two-factor authentication was turned off.
    TotpDisabled,
    /// Backup codes were regenerated.
    BackupCodesRegenerated,
    /// One session ended (logout).
    LoggedOut,
    /// Every session of the account was revoked.
    SessionsRevoked,
    /// An attempt limit was exceeded.
    RateLimited,
    /// An admin created an account (or it was bootstrapped).
    AdminUserCreated,
    /// An admin changed an account (active, role, quota).
    AdminUserUpdated,
    /// An admin deleted an account.
    AdminUserDeleted,
    /// An admin created a system topic.
    AdminTopicCreated,
    /// An admin changed a system topic.
    AdminTopicUpdated,
    /// An admin deleted a system topic.
    AdminTopicDeleted,
    /// A document was moved to the trash.
    DocumentTrashed,
    /// A document was restored from the trash.
    DocumentRestored,
    /// A document was deleted for good (by its owner, or purged from the trash by the
    /// cleanup job: `metadata.reason`).
    DocumentDeleted,
    /// An account's trash was emptied (`metadata.deleted`: how many documents).
    TrashEmptied,
    /// A new version of a document was uploaded and confirmed (it is current now).
    DocumentVersionUploaded,
    /// An earlier version of a document was made current again.
    DocumentVersionMadeCurrent,
    /// A version of a document was deleted.
    DocumentVersionDeleted,
    /// A user downloaded the export of their own documents (`GET /api/me/export`).
    AccountExported,
    /// A webhook was created (`resource_id`: its id; `metadata.url`).
    WebhookCreated,
    /// A webhook was deleted.
    WebhookDeleted,
    /// A personal API token was created (`resource_id`: the token's id).
    ApiTokenCreated,
    /// A personal API token was revoked by its owner (`resource_id`: the token's id).
    ApiTokenRevoked,
    /// A personal API token was used from an IP it had not been used from before
    /// (`metadata.previous_ip`: the one before, null on first use).
    ApiTokenUsedNewIp,
    /// A mail account for the e-mail intake was added (`metadata.name`, `metadata.host`).
    MailAccountCreated,
    /// A mail account of the e-mail intake was deleted.
    MailAccountDeleted,
    /// A "forgot password" link was asked for: sent for an active account (subject),
    /// or nothing sent (`outcome: failure`, `metadata.reason`: `unknown_account`,
    /// `account_disabled`).
    PasswordResetRequested,
    /// A password was set through a reset link; every session and API token ended.
    PasswordResetCompleted,
    /// An admin (actor) set a temporary password for an account (subject), which must
    /// change it at the next sign-in; every session and API token ended.
    AdminPasswordReset,
    /// An admin (actor) turned off an account's (subject) two-factor authentication.
    AdminTotpDisabled,
    /// A public link to a document was created (`resource_id`: the link's id;
    /// `metadata.document_id`, `expires_at`, `has_password`, `max_downloads`).
    PublicLinkCreated,
    /// A public link was revoked by its owner (`resource_id`: the link's id).
    PublicLinkRevoked,
    /// A public link delivered its document as a download (one entry per counted
    /// download; `ip`: the anonymous client's; `metadata.download_count`).
    PublicLinkUsed,
    /// The owner accepted a topic for a document (`resource_id`: the document;
    /// `metadata.topic_id`; `metadata.was`: `suggestion` or `automatic`): it is filed there
    /// by hand now.
    DocumentTopicAccepted,
    /// The owner rejected a topic for a document (`resource_id`: the document;
    /// `metadata.topic_id`; `metadata.was`: `suggestion` or `automatic`): it is never filed
    /// there automatically nor suggested again.
    DocumentTopicRejected,
    /// The owner started re-filing every document not filed by hand (`resource_id`: the
    /// run's id; `metadata.total`: documents to look at).
    TopicsRefileStarted,
    /// A re-file run ended (`resource_id`: the run's id; `metadata.state`: `done`,
    /// `failed` or `cancelled`, `metadata.done`, `metadata.changed`; `metadata.error` when
    /// it failed). `actor_id` is the owner when they cancelled it, none when it ended by
    /// itself.
    TopicsRefileFinished,
}

impl AuditEvent {
    /// The stored name.
    pub fn as_str(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// Whether the attempt succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Allowed / done.
    Success,
    /// Refused.
    Failure,
}

/// One entry to write.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// Event type.
    pub event: AuditEvent,
    /// Outcome.
    pub outcome: Outcome,
    /// Subject account, if known.
    pub user_id: Option<Uuid>,
    /// Who acted (the user themselves, or an admin).
    pub actor_id: Option<Uuid>,
    /// Affected resource (e.g. a session id).
    pub resource_id: Option<String>,
    /// Client IP.
    pub ip: Option<String>,
    /// Extra non-secret facts.
    pub details: serde_json::Map<String, serde_json::Value>,
}

impl AuditEntry {
    /// An entry about `user_id`, acted on by that same user.
    pub fn new(
        event: AuditEvent,
        outcome: Outcome,
        user_id: Option<Uuid>,
        ip: Option<&str>,
    ) -> Self {
        Self {
            event,
            outcome,
            user_id,
            actor_id: user_id,
            resource_id: None,
            ip: ip.map(str::to_owned),
            details: serde_json::Map::new(),
        }
    }

    /// Sets the acting account.
    pub fn actor(mut self, actor: Option<Uuid>) -> Self {
        self.actor_id = actor;
        self
    }

    /// Sets the affected resource.
    pub fn resource(mut self, resource: impl ToString) -> Self {
        self.resource_id = Some(resource.to_string());
        self
    }

    /// Adds a non-secret detail.
    pub fn detail(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    /// Writes the row.
    pub async fn record(self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
        self.into_row().insert(db).await.map(|_| ())
    }

    /// Writes the rows of `entries` with a few multi-row statements (500 rows each):
    /// what a change of many documents at once records.
    pub async fn record_many(
        entries: Vec<AuditEntry>,
        db: &impl ConnectionTrait,
    ) -> Result<(), DbErr> {
        let rows: Vec<audit_log::ActiveModel> =
            entries.into_iter().map(AuditEntry::into_row).collect();
        for chunk in rows.chunks(500) {
            audit_log::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(db)
                .await?;
        }
        Ok(())
    }

    fn into_row(self) -> audit_log::ActiveModel {
        let mut metadata = self.details;
        metadata.insert(
            "outcome".into(),
            serde_json::to_value(self.outcome).unwrap_or_default(),
        );
        audit_log::ActiveModel {
            id: Set(Uuid::new_v4()),
            user_id: Set(self.user_id),
            actor_id: Set(self.actor_id),
            event_type: Set(self.event.as_str()),
            resource_id: Set(self.resource_id),
            ip_address: Set(self.ip),
            metadata: Set(Some(serde_json::Value::Object(metadata))),
            created_at: Set(crate::time::now()),
        }
    }
}
