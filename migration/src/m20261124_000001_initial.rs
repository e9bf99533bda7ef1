//! The initial DocuVault schema: every table (see `src/entities/` and docs/ARCHITECTURE.md).
//!
//! Tables are built with SeaQuery schema builders so each column type maps to the right
//! native type per backend (uuid / timestamptz / jsonb on PostgreSQL; SQLite stores them
//! as blob / RFC 3339 text / json text). Expression and partial unique indexes are raw
//! SQL written in the dialect both backends accept. Migrations never import entities.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, boolean, double_null, integer, json_binary_null, string, string_null, text,
    text_null, timestamp_with_time_zone, timestamp_with_time_zone_null, uuid, uuid_null,
};

use crate::builders::drop_tables;

/// Creates (and on `down`, drops) every table of the data model.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// Default storage quota per user: 100 MiB.
const DEFAULT_QUOTA_BYTES: i64 = 104_857_600;

/// Unique / partial indexes SeaQuery cannot express portably (it cannot render expression
/// index columns for SQLite). Plain SQL that PostgreSQL and SQLite both accept.
const RAW_INDEXES: &[(&str, &str)] = &[
    (
        "uq_users_email_lower",
        "CREATE UNIQUE INDEX IF NOT EXISTS uq_users_email_lower ON users (lower(email))",
    ),
    (
        "uq_users_handle_lower",
        "CREATE UNIQUE INDEX IF NOT EXISTS uq_users_handle_lower ON users (lower(handle))",
    ),
    // NULL parent_id values are distinct in the (user_id, parent_id, name) unique index,
    // so root folders need their own index.
    (
        "uq_folders_root_name",
        "CREATE UNIQUE INDEX IF NOT EXISTS uq_folders_root_name ON folders (user_id, name) \
         WHERE parent_id IS NULL",
    ),
    (
        "uq_topics_user_name_lower",
        "CREATE UNIQUE INDEX IF NOT EXISTS uq_topics_user_name_lower ON topics \
         (user_id, lower(name))",
    ),
    // System topics (user_id NULL) are unique among themselves, case-insensitively.
    (
        "uq_topics_system_name_lower",
        "CREATE UNIQUE INDEX IF NOT EXISTS uq_topics_system_name_lower ON topics \
         (lower(name)) WHERE user_id IS NULL",
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_users(manager).await?;
        create_refresh_tokens(manager).await?;
        create_backup_codes(manager).await?;
        create_quotas(manager).await?;
        create_folders(manager).await?;
        create_documents(manager).await?;
        create_topics(manager).await?;
        create_document_topics(manager).await?;
        create_shares(manager).await?;
        create_audit_log(manager).await?;
        create_cloud_connections(manager).await?;
        create_groups(manager).await?;

        let conn = manager.get_connection();
        for (_, sql) in RAW_INDEXES {
            conn.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        for (name, _) in RAW_INDEXES.iter().rev() {
            conn.execute_unprepared(&format!("DROP INDEX IF EXISTS {name}"))
                .await?;
        }
        // Children before parents so no foreign key ever points at a missing table.
        let tables: [DynIden; 12] = [
            Groups::Table.into_iden(),
            CloudConnections::Table.into_iden(),
            AuditLog::Table.into_iden(),
            Shares::Table.into_iden(),
            DocumentTopics::Table.into_iden(),
            Topics::Table.into_iden(),
            Documents::Table.into_iden(),
            Folders::Table.into_iden(),
            Quotas::Table.into_iden(),
            BackupCodes::Table.into_iden(),
            RefreshTokens::Table.into_iden(),
            Users::Table.into_iden(),
        ];
        drop_tables(manager, tables).await
    }
}

/// A foreign key `from_table.from_col → to_table.id` with the given delete action.
fn fk(
    name: &str,
    from_table: impl IntoIden,
    from_col: impl IntoIden,
    to_table: impl IntoIden,
    to_col: impl IntoIden,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from_table, from_col)
        .to(to_table, to_col)
        .on_delete(on_delete)
        .to_owned()
}

/// A (possibly unique) index over plain columns, created only when missing.
fn index<T, C, I>(name: &str, table: T, cols: I, unique: bool) -> IndexCreateStatement
where
    T: IntoIden,
    C: IntoIden,
    I: IntoIterator<Item = C>,
{
    let mut stmt = Index::create();
    stmt.if_not_exists().name(name).table(table);
    for col in cols {
        stmt.col(col);
    }
    if unique {
        stmt.unique();
    }
    stmt.to_owned()
}

async fn create_users(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Users::Table)
                .if_not_exists()
                .col(uuid(Users::Id).primary_key())
                .col(string(Users::Handle).unique_key())
                .col(string(Users::Email).unique_key())
                .col(string(Users::PasswordHash))
                .col(text_null(Users::TotpSecret))
                .col(boolean(Users::TotpEnabled).default(false))
                .col(big_integer(Users::TotpLastStep).null())
                .col(string(Users::Role).default("user").check((
                    "ck_users_role",
                    Expr::col(Users::Role).is_in(["user", "admin"]),
                )))
                .col(boolean(Users::IsActive).default(true))
                .col(boolean(Users::PasswordMustChange).default(false))
                .col(timestamp_with_time_zone(Users::TokensValidAfter))
                .col(string_null(Users::AiProvider))
                .col(string_null(Users::AiModel))
                .col(text_null(Users::AiApiKeyEnc))
                .col(boolean(Users::AiAllowNewTopics).default(false))
                .col(string_null(Users::DefaultStorageBackend))
                .col(timestamp_with_time_zone(Users::CreatedAt))
                .col(timestamp_with_time_zone(Users::UpdatedAt))
                .to_owned(),
        )
        .await
}

async fn create_refresh_tokens(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(RefreshTokens::Table)
                .if_not_exists()
                .col(uuid(RefreshTokens::Id).primary_key())
                .col(uuid(RefreshTokens::UserId))
                .col(string(RefreshTokens::TokenHash).unique_key())
                .col(uuid(RefreshTokens::FamilyId))
                .col(timestamp_with_time_zone(RefreshTokens::ExpiresAt))
                .col(timestamp_with_time_zone(RefreshTokens::FamilyExpiresAt))
                .col(boolean(RefreshTokens::Revoked).default(false))
                .col(uuid_null(RefreshTokens::ReplacedBy))
                .col(timestamp_with_time_zone_null(RefreshTokens::RotatedAt))
                .col(string_null(RefreshTokens::UserAgent))
                .col(string_null(RefreshTokens::IpAddress))
                .col(timestamp_with_time_zone(RefreshTokens::CreatedAt))
                .foreign_key(&mut fk(
                    "fk_refresh_tokens_user_id",
                    RefreshTokens::Table,
                    RefreshTokens::UserId,
                    Users::Table,
                    Users::Id,
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(index(
            "idx_refresh_tokens_user_id",
            RefreshTokens::Table,
            [RefreshTokens::UserId],
            false,
        ))
        .await?;
    manager
        .create_index(index(
            "idx_refresh_tokens_family_id",
            RefreshTokens::Table,
            [RefreshTokens::FamilyId],
            false,
        ))
        .await
}

async fn create_backup_codes(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(BackupCodes::Table)
                .if_not_exists()
                .col(uuid(BackupCodes::Id).primary_key())
                .col(uuid(BackupCodes::UserId))
                .col(string(BackupCodes::CodeHash))
                .col(timestamp_with_time_zone_null(BackupCodes::UsedAt))
                .col(timestamp_with_time_zone(BackupCodes::CreatedAt))
                .foreign_key(&mut fk(
                    "fk_backup_codes_user_id",
                    BackupCodes::Table,
                    BackupCodes::UserId,
                    Users::Table,
                    Users::Id,
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(index(
            "idx_backup_codes_user_id",
            BackupCodes::Table,
            [BackupCodes::UserId],
            false,
        ))
        .await
}

async fn create_quotas(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Quotas::Table)
                .if_not_exists()
                .col(uuid(Quotas::UserId).primary_key())
                .col(
                    big_integer(Quotas::LimitBytes)
                        .default(DEFAULT_QUOTA_BYTES)
                        .check((
                            "ck_quotas_limit_bytes",
                            Expr::col(Quotas::LimitBytes).gte(0),
                        )),
                )
                .col(
                    big_integer(Quotas::UsedBytes)
                        .default(0i64)
                        .check(("ck_quotas_used_bytes", Expr::col(Quotas::UsedBytes).gte(0))),
                )
                .foreign_key(&mut fk(
                    "fk_quotas_user_id",
                    Quotas::Table,
                    Quotas::UserId,
                    Users::Table,
                    Users::Id,
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await
}

async fn create_folders(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Folders::Table)
                .if_not_exists()
                .col(uuid(Folders::Id).primary_key())
                .col(uuid(Folders::UserId))
                .col(uuid_null(Folders::ParentId))
                .col(string(Folders::Name))
                .col(timestamp_with_time_zone(Folders::CreatedAt))
                .col(timestamp_with_time_zone(Folders::UpdatedAt))
                .foreign_key(&mut fk(
                    "fk_folders_user_id",
                    Folders::Table,
                    Folders::UserId,
                    Users::Table,
                    Users::Id,
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_folders_parent_id",
                    Folders::Table,
                    Folders::ParentId,
                    Folders::Table,
                    Folders::Id,
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(index(
            "uq_folders_user_parent_name",
            Folders::Table,
            [Folders::UserId, Folders::ParentId, Folders::Name],
            true,
        ))
        .await?;
    manager
        .create_index(index(
            "idx_folders_parent_id",
            Folders::Table,
            [Folders::ParentId],
            false,
        ))
        .await
}

async fn create_documents(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Documents::Table)
                .if_not_exists()
                .col(uuid(Documents::Id).primary_key())
                .col(uuid(Documents::UserId))
                .col(uuid_null(Documents::FolderId))
                .col(string(Documents::Filename))
                .col(string(Documents::ObjectKey).unique_key())
                .col(string(Documents::ContentType))
                .col(big_integer(Documents::SizeBytes).default(0i64).check((
                    "ck_documents_size_bytes",
                    Expr::col(Documents::SizeBytes).gte(0),
                )))
                .col(string_null(Documents::Sha256))
                .col(string(Documents::StorageBackend))
                .col(text_null(Documents::ExtractedText))
                .col(string(Documents::Status).default("pending").check((
                    "ck_documents_status",
                    Expr::col(Documents::Status).is_in([
                        "pending",
                        "queued",
                        "processing",
                        "classified",
                        "unclassified",
                        "failed",
                    ]),
                )))
                .col(integer(Documents::Attempts).default(0))
                .col(text_null(Documents::LastError))
                .col(timestamp_with_time_zone_null(Documents::LeaseExpiresAt))
                .col(boolean(Documents::AiOptOut).default(false))
                .col(json_binary_null(Documents::ClassifiedBy))
                .col(timestamp_with_time_zone(Documents::CreatedAt))
                .col(timestamp_with_time_zone(Documents::UpdatedAt))
                .foreign_key(&mut fk(
                    "fk_documents_user_id",
                    Documents::Table,
                    Documents::UserId,
                    Users::Table,
                    Users::Id,
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_documents_folder_id",
                    Documents::Table,
                    Documents::FolderId,
                    Folders::Table,
                    Folders::Id,
                    ForeignKeyAction::SetNull,
                ))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(index(
            "idx_documents_user_id_created_at",
            Documents::Table,
            [Documents::UserId, Documents::CreatedAt],
            false,
        ))
        .await?;
    manager
        .create_index(index(
            "idx_documents_status_updated_at",
            Documents::Table,
            [Documents::Status, Documents::UpdatedAt],
            false,
        ))
        .await?;
    manager
        .create_index(index(
            "idx_documents_user_id_folder_id",
            Documents::Table,
            [Documents::UserId, Documents::FolderId],
            false,
        ))
        .await?;
    // Serves the ON DELETE SET NULL lookup when a folder goes away.
    manager
        .create_index(index(
            "idx_documents_folder_id",
            Documents::Table,
            [Documents::FolderId],
            false,
        ))
        .await
}

async fn create_topics(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Topics::Table)
                .if_not_exists()
                .col(uuid(Topics::Id).primary_key())
                .col(uuid_null(Topics::UserId))
                .col(string(Topics::Name))
                .col(text_null(Topics::Description))
                .col(string_null(Topics::Color))
                .col(timestamp_with_time_zone(Topics::CreatedAt))
                .foreign_key(&mut fk(
                    "fk_topics_user_id",
                    Topics::Table,
                    Topics::UserId,
                    Users::Table,
                    Users::Id,
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await
}

async fn create_document_topics(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(DocumentTopics::Table)
                .if_not_exists()
                .col(uuid(DocumentTopics::DocumentId))
                .col(uuid(DocumentTopics::TopicId))
                .col(string(DocumentTopics::Source).check((
                    "ck_document_topics_source",
                    Expr::col(DocumentTopics::Source).is_in(["ai", "user"]),
                )))
                .col(double_null(DocumentTopics::Confidence))
                .col(timestamp_with_time_zone(DocumentTopics::CreatedAt))
                .primary_key(
                    Index::create()
                        .name("pk_document_topics")
                        .col(DocumentTopics::DocumentId)
                        .col(DocumentTopics::TopicId),
                )
                .foreign_key(&mut fk(
                    "fk_document_topics_document_id",
                    DocumentTopics::Table,
                    DocumentTopics::DocumentId,
                    Documents::Table,
                    Documents::Id,
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_document_topics_topic_id",
                    DocumentTopics::Table,
                    DocumentTopics::TopicId,
                    Topics::Table,
                    Topics::Id,
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(index(
            "idx_document_topics_topic_id",
            DocumentTopics::Table,
            [DocumentTopics::TopicId],
            false,
        ))
        .await
}

async fn create_shares(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Shares::Table)
                .if_not_exists()
                .col(uuid(Shares::Id).primary_key())
                .col(uuid(Shares::DocumentId))
                .col(uuid(Shares::OwnerId))
                .col(uuid(Shares::RecipientId))
                .col(string(Shares::Permission).default("view").check((
                    "ck_shares_permission",
                    Expr::col(Shares::Permission).eq("view"),
                )))
                .col(timestamp_with_time_zone(Shares::CreatedAt))
                .check((
                    "ck_shares_not_self",
                    Expr::col(Shares::OwnerId).ne(Expr::col(Shares::RecipientId)),
                ))
                .foreign_key(&mut fk(
                    "fk_shares_document_id",
                    Shares::Table,
                    Shares::DocumentId,
                    Documents::Table,
                    Documents::Id,
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_shares_owner_id",
                    Shares::Table,
                    Shares::OwnerId,
                    Users::Table,
                    Users::Id,
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_shares_recipient_id",
                    Shares::Table,
                    Shares::RecipientId,
                    Users::Table,
                    Users::Id,
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(index(
            "uq_shares_document_recipient",
            Shares::Table,
            [Shares::DocumentId, Shares::RecipientId],
            true,
        ))
        .await?;
    manager
        .create_index(index(
            "idx_shares_recipient_id",
            Shares::Table,
            [Shares::RecipientId],
            false,
        ))
        .await?;
    manager
        .create_index(index(
            "idx_shares_owner_id",
            Shares::Table,
            [Shares::OwnerId],
            false,
        ))
        .await
}

async fn create_audit_log(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(AuditLog::Table)
                .if_not_exists()
                .col(uuid(AuditLog::Id).primary_key())
                .col(uuid_null(AuditLog::UserId))
                .col(uuid_null(AuditLog::ActorId))
                .col(string(AuditLog::EventType))
                .col(string_null(AuditLog::ResourceId))
                .col(string_null(AuditLog::IpAddress))
                .col(json_binary_null(AuditLog::Metadata))
                .col(timestamp_with_time_zone(AuditLog::CreatedAt))
                .foreign_key(&mut fk(
                    "fk_audit_log_user_id",
                    AuditLog::Table,
                    AuditLog::UserId,
                    Users::Table,
                    Users::Id,
                    ForeignKeyAction::SetNull,
                ))
                .foreign_key(&mut fk(
                    "fk_audit_log_actor_id",
                    AuditLog::Table,
                    AuditLog::ActorId,
                    Users::Table,
                    Users::Id,
                    ForeignKeyAction::SetNull,
                ))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(index(
            "idx_audit_log_user_id_created_at",
            AuditLog::Table,
            [AuditLog::UserId, AuditLog::CreatedAt],
            false,
        ))
        .await?;
    manager
        .create_index(index(
            "idx_audit_log_event_type_created_at",
            AuditLog::Table,
            [AuditLog::EventType, AuditLog::CreatedAt],
            false,
        ))
        .await?;
    manager
        .create_index(index(
            "idx_audit_log_created_at",
            AuditLog::Table,
            [AuditLog::CreatedAt],
            false,
        ))
        .await?;
    manager
        .create_index(index(
            "idx_audit_log_actor_id",
            AuditLog::Table,
            [AuditLog::ActorId],
            false,
        ))
        .await
}

async fn create_cloud_connections(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(CloudConnections::Table)
                .if_not_exists()
                .col(uuid(CloudConnections::Id).primary_key())
                .col(uuid(CloudConnections::UserId))
                .col(string(CloudConnections::Provider))
                .col(string(CloudConnections::DisplayName))
                .col(text(CloudConnections::CredentialsEnc))
                .col(string(CloudConnections::Status))
                .col(timestamp_with_time_zone(CloudConnections::ConnectedAt))
                .foreign_key(&mut fk(
                    "fk_cloud_connections_user_id",
                    CloudConnections::Table,
                    CloudConnections::UserId,
                    Users::Table,
                    Users::Id,
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(index(
            "idx_cloud_connections_user_id",
            CloudConnections::Table,
            [CloudConnections::UserId],
            false,
        ))
        .await
}

async fn create_groups(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Groups::Table)
                .if_not_exists()
                .col(uuid(Groups::Id).primary_key())
                .col(string(Groups::Name).unique_key())
                .col(timestamp_with_time_zone(Groups::CreatedAt))
                .to_owned(),
        )
        .await
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Handle,
    Email,
    PasswordHash,
    TotpSecret,
    TotpEnabled,
    TotpLastStep,
    Role,
    IsActive,
    PasswordMustChange,
    TokensValidAfter,
    AiProvider,
    AiModel,
    AiApiKeyEnc,
    AiAllowNewTopics,
    DefaultStorageBackend,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    UserId,
    TokenHash,
    FamilyId,
    ExpiresAt,
    FamilyExpiresAt,
    Revoked,
    ReplacedBy,
    RotatedAt,
    UserAgent,
    IpAddress,
    CreatedAt,
}

#[derive(DeriveIden)]
enum BackupCodes {
    Table,
    Id,
    UserId,
    CodeHash,
    UsedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Quotas {
    Table,
    UserId,
    LimitBytes,
    UsedBytes,
}

#[derive(DeriveIden)]
enum Folders {
    Table,
    Id,
    UserId,
    ParentId,
    Name,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Documents {
    Table,
    Id,
    UserId,
    FolderId,
    Filename,
    ObjectKey,
    ContentType,
    SizeBytes,
    Sha256,
    StorageBackend,
    ExtractedText,
    Status,
    Attempts,
    LastError,
    LeaseExpiresAt,
    AiOptOut,
    ClassifiedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Topics {
    Table,
    Id,
    UserId,
    Name,
    Description,
    Color,
    CreatedAt,
}

#[derive(DeriveIden)]
enum DocumentTopics {
    Table,
    DocumentId,
    TopicId,
    Source,
    Confidence,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Shares {
    Table,
    Id,
    DocumentId,
    OwnerId,
    RecipientId,
    Permission,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    UserId,
    ActorId,
    EventType,
    ResourceId,
    IpAddress,
    Metadata,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CloudConnections {
    Table,
    Id,
    UserId,
    Provider,
    DisplayName,
    CredentialsEnc,
    Status,
    ConnectedAt,
}

#[derive(DeriveIden)]
enum Groups {
    Table,
    Id,
    Name,
    CreatedAt,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Prints the generated DDL for both backends (`cargo test -p migration -- --nocapture`).
    #[test]
    fn ddl_renders_for_both_backends() {
        let stmt = Table::create()
            .table(Documents::Table)
            .col(string(Documents::Status).default("pending").check((
                "ck_documents_status",
                Expr::col(Documents::Status).is_in(["pending", "queued"]),
            )))
            .to_owned();
        let pg = stmt.to_string(PostgresQueryBuilder);
        let lite = stmt.to_string(SqliteQueryBuilder);
        assert!(
            pg.contains(r#"CHECK ("status" IN ('pending', 'queued'))"#),
            "{pg}"
        );
        assert!(
            lite.contains(r#"CHECK ("status" IN ('pending', 'queued'))"#),
            "{lite}"
        );
    }
}
