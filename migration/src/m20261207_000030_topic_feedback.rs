//! Why a topic, and the owner's answer to it (issue 18, "why this topic"):
//! `topic_evidence`, `topic_suggestions` and `topic_rejections`.
//!
//! `topic_evidence (document_id, topic_id, terms)`: the few words that weighed most when
//! the builtin classifier filed a document under a topic (`terms`: a JSON array of
//! `{term, weight}`), stored when it files it so showing them needs no retraining. Its
//! foreign key is the link itself (`document_topics (document_id, topic_id)`, on delete
//! cascade): the words go with the automatic link they explain.
//!
//! `topic_suggestions (document_id, topic_id, confidence, terms, created_at)`: topics the
//! classifier found plausible but doubted (under the builtin's bar, under
//! `ai.suggest_below` for a model), offered to the owner instead of filed; a later
//! classification of the document replaces them.
//!
//! `topic_rejections (document_id, topic_id, user_id, created_at)`: the topics the owner
//! said a document does not belong to; it is never filed under nor offered one of them
//! again, and the builtin classifier learns from them (newest first per account:
//! `idx_topic_rejections_user_created`).
//!
//! Suggestions and rejections go with their document and their topic (cascades; the
//! `topic_id` indexes serve the topic's).

use sea_orm_migration::prelude::*;

use crate::builders::{cascade, drop_tables, index};
use sea_orm_migration::schema::{
    double, json_binary, json_binary_null, timestamp_with_time_zone, uuid,
};

/// Adds `topic_evidence`, `topic_suggestions` and `topic_rejections`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum TopicEvidence {
    Table,
    DocumentId,
    TopicId,
    Terms,
}

#[derive(DeriveIden)]
enum TopicSuggestions {
    Table,
    DocumentId,
    TopicId,
    Confidence,
    Terms,
    CreatedAt,
}

#[derive(DeriveIden)]
enum TopicRejections {
    Table,
    DocumentId,
    TopicId,
    UserId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum DocumentTopics {
    Table,
    DocumentId,
    TopicId,
}

#[derive(DeriveIden)]
enum Documents {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Topics {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TopicEvidence::Table)
                    .if_not_exists()
                    .col(uuid(TopicEvidence::DocumentId))
                    .col(uuid(TopicEvidence::TopicId))
                    .col(json_binary(TopicEvidence::Terms))
                    .primary_key(
                        Index::create()
                            .col(TopicEvidence::DocumentId)
                            .col(TopicEvidence::TopicId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_topic_evidence_link")
                            .from(
                                TopicEvidence::Table,
                                (TopicEvidence::DocumentId, TopicEvidence::TopicId),
                            )
                            .to(
                                DocumentTopics::Table,
                                (DocumentTopics::DocumentId, DocumentTopics::TopicId),
                            )
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(TopicSuggestions::Table)
                    .if_not_exists()
                    .col(uuid(TopicSuggestions::DocumentId))
                    .col(uuid(TopicSuggestions::TopicId))
                    .col(double(TopicSuggestions::Confidence))
                    .col(json_binary_null(TopicSuggestions::Terms))
                    .col(timestamp_with_time_zone(TopicSuggestions::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(TopicSuggestions::DocumentId)
                            .col(TopicSuggestions::TopicId),
                    )
                    .foreign_key(&mut cascade(
                        "fk_topic_suggestions_document_id",
                        (TopicSuggestions::Table, TopicSuggestions::DocumentId),
                        (Documents::Table, Documents::Id),
                    ))
                    .foreign_key(&mut cascade(
                        "fk_topic_suggestions_topic_id",
                        (TopicSuggestions::Table, TopicSuggestions::TopicId),
                        (Topics::Table, Topics::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_topic_suggestions_topic_id",
                TopicSuggestions::Table,
                [TopicSuggestions::TopicId],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(TopicRejections::Table)
                    .if_not_exists()
                    .col(uuid(TopicRejections::DocumentId))
                    .col(uuid(TopicRejections::TopicId))
                    .col(uuid(TopicRejections::UserId))
                    .col(timestamp_with_time_zone(TopicRejections::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(TopicRejections::DocumentId)
                            .col(TopicRejections::TopicId),
                    )
                    .foreign_key(&mut cascade(
                        "fk_topic_rejections_document_id",
                        (TopicRejections::Table, TopicRejections::DocumentId),
                        (Documents::Table, Documents::Id),
                    ))
                    .foreign_key(&mut cascade(
                        "fk_topic_rejections_topic_id",
                        (TopicRejections::Table, TopicRejections::TopicId),
                        (Topics::Table, Topics::Id),
                    ))
                    .foreign_key(&mut cascade(
                        "fk_topic_rejections_user_id",
                        (TopicRejections::Table, TopicRejections::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_topic_rejections_topic_id",
                TopicRejections::Table,
                [TopicRejections::TopicId],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_topic_rejections_user_created",
                TopicRejections::Table,
                [TopicRejections::UserId, TopicRejections::CreatedAt],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            [
                TopicRejections::Table.into_iden(),
                TopicSuggestions::Table.into_iden(),
                TopicEvidence::Table.into_iden(),
            ],
        )
        .await
    }
}
