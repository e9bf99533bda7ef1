//! Any OpenAI-compatible chat completions server (OpenAI, vLLM, llama.cpp server,
//! LM Studio…): `POST {base}/v1/chat/completions` with a JSON-schema `response_format`
//! and `Authorization: Bearer {key}` when a key is configured.

use async_trait::async_trait;
use serde_json::{Value, json};

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

#[async_trait]
impl Classifier for OpenAi {
    fn provider(&self) -> &'static str {
        "openai"
    }

    fn model(&self) -> &str {
        &self.cfg.model
    }

    async fn classify(&self, input: &Input) -> Result<Vec<Suggestion>, ClassifyError> {
        let headers = self.cfg.bearer_headers();
        let url = self.cfg.endpoint("/v1/chat/completions");
        let body = self.request_body(input);
        let res = post_json(&self.client, &self.cfg, "openai", &url, &headers, &body).await?;
        let message = res
            .pointer("/choices/0/message")
            .ok_or_else(|| ClassifyError::Permanent("openai: response has no choices".into()))?;
        if let Some(refusal) = message.get("refusal").and_then(Value::as_str) {
            return Err(ClassifyError::Permanent(format!(
                "openai: the model refused: {}",
                refusal.chars().take(200).collect::<String>()
            )));
        }
        let content = message
            .get("content")
            .and_then(Value::as_str)
            .ok_or_else(|| ClassifyError::Permanent("openai: response has no content".into()))?;
        suggestions_from("openai", content, input)
    }
}
