//! DocuVault's database schema migrations.
//!
//! One migrator for both supported backends: the same migrations apply identically on
//! SQLite (embedded default) and PostgreSQL (production). The `docuvault` binary runs
//! [`Migrator::up`] at start; tests run it against a fresh database each.

pub use sea_orm_migration::prelude::*;

mod builders;
mod m20261124_000001_initial;
mod m20261124_000002_object_deletions;
mod m20261124_000003_document_search;
mod m20261124_000004_search_vector_inline;
mod m20261206_000005_upload_reservations;
mod m20261206_000006_job_ticks;
mod m20261206_000007_ocr;
mod m20261206_000008_thumbnails;
mod m20261206_000009_progress;
mod m20261206_000010_ocr_ai_fallback;
mod m20261206_000011_trash_versions;
mod m20261206_000012_trash_list_indexes;
mod m20261206_000013_api_tokens;
mod m20261206_000014_webhooks;
mod m20261206_000015_ingest_files;
mod m20261206_000016_mail_intake;
mod m20261206_000017_live_sha256_index;
mod m20261206_000018_bulk_downloads;
mod m20261206_000019_saved_views;
mod m20261206_000020_public_links;
mod m20261206_000021_account_recovery;
mod m20261207_000022_document_dates;
mod m20261207_000023_search_table;
mod m20261207_000024_live_count_index;
mod m20261207_000025_document_texts;
mod m20261207_000026_search_languages;
mod m20261207_000027_search_terms;
mod m20261207_000029_document_hash_counts;
mod m20261207_000030_topic_feedback;
mod m20261207_000031_refile_runs;
mod m20261207_000032_document_write_indexes;
mod m20261207_000033_list_type_index;

/// Applies DocuVault's migrations in order; pass it to `MigratorTrait::up`/`down`.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_initial::Migration),
            Box::new(m20261124_000002_object_deletions::Migration),
            Box::new(m20261124_000003_document_search::Migration),
            Box::new(m20261124_000004_search_vector_inline::Migration),
            Box::new(m20261206_000005_upload_reservations::Migration),
            Box::new(m20261206_000006_job_ticks::Migration),
            Box::new(m20261206_000007_ocr::Migration),
            Box::new(m20261206_000008_thumbnails::Migration),
            Box::new(m20261206_000009_progress::Migration),
            Box::new(m20261206_000010_ocr_ai_fallback::Migration),
            Box::new(m20261206_000011_trash_versions::Migration),
            Box::new(m20261206_000012_trash_list_indexes::Migration),
            Box::new(m20261206_000013_api_tokens::Migration),
            Box::new(m20261206_000014_webhooks::Migration),
            Box::new(m20261206_000015_ingest_files::Migration),
            Box::new(m20261206_000016_mail_intake::Migration),
            Box::new(m20261206_000017_live_sha256_index::Migration),
            Box::new(m20261206_000018_bulk_downloads::Migration),
            Box::new(m20261206_000019_saved_views::Migration),
            Box::new(m20261206_000020_public_links::Migration),
            Box::new(m20261206_000021_account_recovery::Migration),
            Box::new(m20261207_000022_document_dates::Migration),
            Box::new(m20261207_000023_search_table::Migration),
            Box::new(m20261207_000024_live_count_index::Migration),
            Box::new(m20261207_000025_document_texts::Migration),
            Box::new(m20261207_000026_search_languages::Migration),
            Box::new(m20261207_000027_search_terms::Migration),
            Box::new(m20261207_000029_document_hash_counts::Migration),
            Box::new(m20261207_000030_topic_feedback::Migration),
            Box::new(m20261207_000032_document_write_indexes::Migration),
            Box::new(m20261207_000031_refile_runs::Migration),
            Box::new(m20261207_000033_list_type_index::Migration),
        ]
    }
}
