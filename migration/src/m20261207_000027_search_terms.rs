//! Each account's own search vocabulary (issue 17, suggestions): `search_terms` and
//! `search_vocabularies`.
//!
//! `search_terms (user_id, term, documents)`: the words of an account's documents
//! (lower-cased, as written), each with the number of its documents holding it, keyed
//! `(user_id, term)` so completing a word reads one range of one account's terms. The
//! full-text indexes cannot serve this: SQLite's FTS5 vocabulary is global across
//! accounts, and PostgreSQL's `ts_stat` over an account's vectors reads all of them.
//! On PostgreSQL `term` uses collation `C`, so a prefix is a byte range of the index.
//!
//! `search_vocabularies (user_id, documents, rebuilt_at, claimed_until)`: how many live
//! documents the vocabulary was last checked against, when it was last rebuilt from
//! them, and which instance is rebuilding it now (a lease). Both go with the account.

use sea_orm_migration::prelude::*;

use crate::builders::{cascade, drop_tables};
use sea_orm_migration::schema::{big_integer, integer, text, timestamp_with_time_zone_null, uuid};

/// Adds `search_terms` and `search_vocabularies`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SearchTerms {
    Table,
    UserId,
    Term,
    Documents,
}

#[derive(DeriveIden)]
enum SearchVocabularies {
    Table,
    UserId,
    Documents,
    RebuiltAt,
    ClaimedUntil,
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
                    .table(SearchTerms::Table)
                    .if_not_exists()
                    .col(uuid(SearchTerms::UserId))
                    .col(text(SearchTerms::Term))
                    .col(integer(SearchTerms::Documents))
                    .primary_key(
                        Index::create()
                            .col(SearchTerms::UserId)
                            .col(SearchTerms::Term),
                    )
                    .foreign_key(&mut cascade(
                        "fk_search_terms_user_id",
                        (SearchTerms::Table, SearchTerms::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            // Byte order: `term >= 'inv' AND term < 'inv\u{10FFFF}'` is exactly the
            // words starting with `inv`, one range of the primary key.
            manager
                .get_connection()
                .execute_unprepared(
                    "ALTER TABLE search_terms ALTER COLUMN term TYPE text COLLATE \"C\"",
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(SearchVocabularies::Table)
                    .if_not_exists()
                    .col(uuid(SearchVocabularies::UserId).primary_key())
                    .col(big_integer(SearchVocabularies::Documents))
                    .col(timestamp_with_time_zone_null(SearchVocabularies::RebuiltAt))
                    .col(timestamp_with_time_zone_null(
                        SearchVocabularies::ClaimedUntil,
                    ))
                    .foreign_key(&mut cascade(
                        "fk_search_vocabularies_user_id",
                        (SearchVocabularies::Table, SearchVocabularies::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            [
                SearchVocabularies::Table.into_iden(),
                SearchTerms::Table.into_iden(),
            ],
        )
        .await
    }
}
