//! Any OpenAI-compatible chat completions server (OpenAI, vLLM, llama.cpp server,
//! LM Studio…): `POST {base}/v1/chat/completions` with a JSON-schema `response_format`
//! and `Authorization: Bearer {key}` when a key is configured.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::vision::{self, PageImage, PageReader};
use super::{ProviderConfig, post_json, suggestions_from};
use crate::classify::prompt;
use crate::classify::{Classifier, ClassifyError, Input, Suggestion};

/// Model used when neither the user nor the settings name one.
pub const DEFAULT_MODEL: &str = "gpt-4o-mini";

/// An OpenAI-compatible endpoint.
pub struct OpenAi {
    cfg: ProviderConfig,
    client: reqwest::Client,
}

impl OpenAi {
    /// A client for `cfg` with its own connection pool.
    pub fn new(cfg: ProviderConfig) -> Self {
        Self::with_client(cfg, super::new_client())
    }

    /// A client for `cfg` sharing `client`'s connection pool.
    pub fn with_client(cfg: ProviderConfig, client: reqwest::Client) -> Self {
        Self { cfg, client }
    }

    /// The request body for `input`.
    pub fn request_body(&self, input: &Input) -> Value {
        json!({
            "model": self.cfg.model,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": input.system_prompt},
                {"role": "user", "content": prompt::user_message(input)},
            ],
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": "topic_choice",
                    "strict": true,
                    "schema": prompt::reply_schema(input),
                }
            }
        })
    }
}

impl OpenAi {
    /// The request body that asks the model to read one page image (AI fallback of OCR):
    /// the image as an `image_url` part with a `data:` URI.
    pub fn vision_body(&self, page: &PageImage<'_>) -> Value {
        json!({
            "model": self.cfg.model,
            "temperature": 0,
            "max_tokens": vision::MAX_OUTPUT_TOKENS,
            "messages": [
                {"role": "system", "content": vision::SYSTEM_PROMPT},
                {"role": "user", "content": [
                    {"type": "text", "text": page.instruction()},
                    {"type": "image_url", "image_url": {"url": page.data_uri(), "detail": "high"}},
                ]},
            ],
        })
    }

    async fn chat(&self, body: &Value) -> Result<String, ClassifyError> {
        let headers = self.cfg.bearer_headers();
        let url = self.cfg.endpoint("/v1/chat/completions");
        let res = post_json(&self.client, &self.cfg, "openai", &url, &headers, body).await?;
        let message = res
            .pointer("/choices/0/message")
            .ok_or_else(|| ClassifyError::Permanent("openai: response has no choices".into()))?;
        if let Some(refusal) = message.get("refusal").and_then(Value::as_str) {
            return Err(ClassifyError::Permanent(format!(
                "openai: the model refused: {}",
                refusal.chars().take(200).collect::<String>()
            )));
        }
        message
            .get("content")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| ClassifyError::Permanent("openai: response has no content".into()))
    }
}

#[async_trait]
impl PageReader for OpenAi {
    fn provider(&self) -> &'static str {
        "openai"
    }

    fn model(&self) -> &str {
        &self.cfg.model
    }

    async fn read_page(&self, page: &PageImage<'_>) -> Result<String, ClassifyError> {
        let content = self.chat(&self.vision_body(page)).await?;
        Ok(vision::clean_transcript(&content))
    }
}

#[async_trait]
impl Classifier for OpenAi {
    fn provider(&self) -> &'static str {
        "openai"
    }

    fn model(&self) -> &str {
        &self.cfg.model
    }

    async fn classify(&self, input: &Input) -> Result<Vec<Suggestion>, ClassifyError> {
        let content = self.chat(&self.request_body(input)).await?;
        suggestions_from("openai", &content, input)
    }
}
