//! Whether a document's poorly OCR'd pages may go to its owner's AI model, and to which
//! (the opt-in AI fallback of OCR, issue 13 item 7). The guards live here, next to the
//! classifier's, and are the same ones:
//! - only for an owner who opted in (`users.ocr_ai_fallback`, off by default);
//! - never for an `ai_opt_out` document;
//! - never when the owner's provider (or the server default they use) is `builtin`: no
//!   page leaves the server unless the owner chose a model provider;
//! - the owner's provider, model and key (sealed in the database; else the server's key),
//!   with `ai.request_timeout_secs` and the `ai.retry_*` policy per request, like a
//!   classification.

use crate::crypto::Keys;
use crate::entities::{documents, users};
use crate::settings::AiSettings;

use super::ClassifyError;
use super::providers::vision::PageReader;
use super::providers::{self, anthropic, ollama, openai};

/// The model that may read `doc`'s pages, or `None` when a guard says no. An error means
/// the owner's settings cannot be used (a key that does not decrypt, an unknown
/// provider): the caller keeps Tesseract's reading.
pub fn page_reader(
    ai: &AiSettings,
    keys: &Keys,
    owner: &users::Model,
    doc: &documents::Model,
) -> Result<Option<Box<dyn PageReader>>, ClassifyError> {
    if !owner.ocr_ai_fallback || doc.ai_opt_out || owner.id != doc.user_id {
        return Ok(None);
    }
    let provider = super::chosen_provider(ai, owner);
    if provider == "builtin" {
        return Ok(None);
    }
    let model = super::resolve_model(ai, owner, &provider)?;
    let key = super::user_api_key(keys, owner)?;
    let cfg = super::provider_config(ai, &provider, model, key)?;
    let client = providers::shared_client();
    Ok(Some(match provider.as_str() {
        "ollama" => Box::new(ollama::Ollama::with_client(cfg, client)),
        "openai" => Box::new(openai::OpenAi::with_client(cfg, client)),
        _ => Box::new(anthropic::Anthropic::with_client(cfg, client)),
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn ai(default_provider: &str) -> AiSettings {
        let mut settings = crate::settings::Settings::load(None, &Default::default())
            .unwrap()
            .ai;
        settings.default_provider = default_provider.into();
        settings
    }

    fn owner(opted_in: bool, provider: Option<&str>) -> users::Model {
        let now = crate::time::now();
        users::Model {
            id: uuid::Uuid::from_u128(7),
            handle: "owner".into(),
            email: "owner@example.test".into(),
            password_hash: String::new(),
            totp_secret: None,
            totp_enabled: false,
            totp_last_step: None,
            role: "user".parse().unwrap(),
            is_active: true,
            password_must_change: false,
            tokens_valid_after: now,
            ai_provider: provider.map(str::to_owned),
            ai_model: Some("reader-1".into()),
            ai_api_key_enc: None,
            ai_allow_new_topics: false,
            default_storage_backend: None,
            ocr_languages: None,
            ocr_ai_fallback: opted_in,
            search_language: Default::default(),
            created_at: now,
            updated_at: now,
        }
    }

    fn doc(opt_out: bool) -> documents::Model {
        let now = crate::time::now();
        documents::Model {
            id: uuid::Uuid::from_u128(9),
            user_id: uuid::Uuid::from_u128(7),
            folder_id: None,
            filename: "scan.jpg".into(),
            object_key: "k".into(),
            content_type: "image/jpeg".into(),
            size_bytes: 1,
            sha256: None,
            storage_backend: "local".into(),
            status: "processing".parse().unwrap(),
            attempts: 1,
            last_error: None,
            lease_expires_at: None,
            ai_opt_out: opt_out,
            classified_by: None,
            status_reason: None,
            thumbnail_key: None,
            thumbnail_error: None,
            progress_page: None,
            progress_pages: None,
            trashed_at: None,
            document_date: None,
            document_date_source: None,
            page_count: None,
            created_at: now,
            updated_at: now,
        }
    }

    fn reader(ai: &AiSettings, owner: &users::Model, doc: &documents::Model) -> Option<String> {
        let keys = Keys::derive("docuvault-vision-test-secret");
        page_reader(ai, &keys, owner, doc)
            .unwrap()
            .map(|r| format!("{}/{}", r.provider(), r.model()))
    }

    #[test]
    fn only_opted_in_owners_with_a_model_provider_and_never_opted_out_documents() {
        let builtin = ai("builtin");
        assert_eq!(
            reader(&builtin, &owner(true, Some("openai")), &doc(false)).as_deref(),
            Some("openai/reader-1")
        );
        assert_eq!(
            reader(&builtin, &owner(true, Some("anthropic")), &doc(false)).as_deref(),
            Some("anthropic/reader-1")
        );
        assert_eq!(
            reader(&builtin, &owner(false, Some("openai")), &doc(false)),
            None
        );
        assert_eq!(
            reader(&builtin, &owner(true, Some("openai")), &doc(true)),
            None
        );
        assert_eq!(
            reader(&builtin, &owner(true, Some("builtin")), &doc(false)),
            None
        );
        assert_eq!(reader(&builtin, &owner(true, None), &doc(false)), None);
        // No own choice: the server default provider decides.
        assert_eq!(
            reader(&ai("ollama"), &owner(true, None), &doc(false)).as_deref(),
            Some("ollama/reader-1")
        );
    }
}
