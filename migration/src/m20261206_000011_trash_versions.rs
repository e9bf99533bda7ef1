//! Trash, versions and duplicates (issue 14).
//!
//! - `documents.trashed_at`: when the document went to the trash; null while it is live.
//!   A trashed document keeps everything (topics, folder, shares, versions, its charge)
//!   and comes back unchanged on restore; the cleanup job purges it after
//!   `documents.trash_retention_days`.
//! - `document_versions`: every stored revision of a document, the current one included
//!   (the current version is the one whose `object_key` is the document's). A version is
//!   `pending` from its upload URL until confirm (holding a reservation), then `stored`
//!   (charged: every stored version counts against the quota). Existing documents get
//!   their one version here, with the document's own id as the version id.
//! - `(user_id, sha256)` index: the duplicate check at confirm.

use sea_orm_migration::prelude::*;

use crate::builders::{cascade, index};
use sea_orm_migration::schema::{
    big_integer, string, string_null, timestamp_with_time_zone, timestamp_with_time_zone_null, uuid,
};

/// Adds `documents.trashed_at`, the `document_versions` table and the indexes.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Documents {
    Table,
    Id,
    UserId,
    TrashedAt,
    Sha256,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum DocumentVersions {
    Table,
    Id,
    DocumentId,
    UserId,
    ObjectKey,
    Filename,
    ContentType,
    SizeBytes,
    Sha256,
    Status,
    CreatedAt,
    ConfirmedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Documents::Table)
                    .add_column(timestamp_with_time_zone_null(Documents::TrashedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_documents_user_id_trashed_at",
                Documents::Table,
                [Documents::UserId, Documents::TrashedAt],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_documents_user_id_sha256",
                Documents::Table,
                [Documents::UserId, Documents::Sha256],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DocumentVersions::Table)
                    .if_not_exists()
                    .col(uuid(DocumentVersions::Id).primary_key())
                    .col(uuid(DocumentVersions::DocumentId))
                    .col(uuid(DocumentVersions::UserId))
                    .col(string(DocumentVersions::ObjectKey).unique_key())
                    .col(string(DocumentVersions::Filename))
                    .col(string(DocumentVersions::ContentType))
                    .col(
                        big_integer(DocumentVersions::SizeBytes)
                            .default(0i64)
                            .check(Expr::col(DocumentVersions::SizeBytes).gte(0)),
                    )
                    .col(string_null(DocumentVersions::Sha256))
                    .col(
                        string(DocumentVersions::Status).check(
                            Expr::col(DocumentVersions::Status).is_in(["pending", "stored"]),
                        ),
                    )
                    .col(timestamp_with_time_zone(DocumentVersions::CreatedAt))
                    .col(timestamp_with_time_zone_null(DocumentVersions::ConfirmedAt))
                    .foreign_key(&mut cascade(
                        "fk_document_versions_document_id",
                        (DocumentVersions::Table, DocumentVersions::DocumentId),
                        (Documents::Table, Documents::Id),
                    ))
                    .foreign_key(&mut cascade(
                        "fk_document_versions_user_id",
                        (DocumentVersions::Table, DocumentVersions::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_document_versions_document_id_created_at",
                DocumentVersions::Table,
                [DocumentVersions::DocumentId, DocumentVersions::CreatedAt],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_document_versions_user_id_status",
                DocumentVersions::Table,
                [DocumentVersions::UserId, DocumentVersions::Status],
            ))
            .await?;
        // Every confirmed document has its one version: the one it shows now.
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO document_versions (id, document_id, user_id, object_key, filename, \
                 content_type, size_bytes, sha256, status, created_at, confirmed_at) \
                 SELECT id, id, user_id, object_key, filename, content_type, size_bytes, sha256, \
                 'stored', created_at, updated_at FROM documents WHERE status <> 'pending'",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DocumentVersions::Table).to_owned())
            .await?;
        for name in [
            "idx_documents_user_id_sha256",
            "idx_documents_user_id_trashed_at",
        ] {
            manager
                .drop_index(Index::drop().name(name).table(Documents::Table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Documents::Table)
                    .drop_column(Documents::TrashedAt)
                    .to_owned(),
            )
            .await
    }
}
